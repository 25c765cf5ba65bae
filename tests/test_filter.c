/*
 * test_filter: linked into every cmocka test program (frep_add_test).
 * FREP_TEST_FILTER=PATTERN runs only the tests whose names match
 * (cmocka_set_test_filter: '*' and '?' wildcards), to loop one test of a
 * group, e.g. FREP_TEST_FILTER='*slow_partner*'. Runs before main.
 */
#include <setjmp.h> /* cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

__attribute__((constructor)) static void
test_filter_from_env(void)
{
	const char *pattern = getenv("FREP_TEST_FILTER");
	if (pattern != NULL && pattern[0] != '\0') {
		cmocka_set_test_filter(pattern);
	}
}
