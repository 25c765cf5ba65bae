/* The test-only apply hook (docs/TESTS.md, "The apply hook"). Compiled in,
 * inert unless the environment names a file: FREP_TEST_HOOK_APPLY=<path>.
 * Unset (production), the hook is one cached getenv and a branch. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine_internal.h"
#include "ipv4.h"

static pthread_once_t hook_once = PTHREAD_ONCE_INIT;
static const char    *hook_path; /* NULL: the hook is off */

static void
hook_init(void)
{
	const char *p = getenv("FREP_TEST_HOOK_APPLY");
	hook_path     = (p != NULL && p[0] != '\0') ? p : NULL;
}

void
engine__test_hook_apply(uint32_t scope_id)
{
	char  want[64] = "", id[ENGINE_IPV4_STRLEN], paused[4200];
	FILE *f;

	pthread_once(&hook_once, hook_init);
	if (hook_path == NULL || (f = fopen(hook_path, "r")) == NULL) {
		return; /* off, or not armed */
	}
	if (fgets(want, sizeof(want), f) == NULL) {
		want[0] = '\0';
	}
	fclose(f);
	want[strcspn(want, "\r\n")] = '\0';
	engine_ipv4_format(scope_id, id);
	if (want[0] != '\0' && strcmp(want, id) != 0) {
		return; /* armed for another scope */
	}
	/* Disarm (one pause per arming), then say where we are and wait until
	 * the test removes <path>.paused — or kills this process. */
	unlink(hook_path);
	snprintf(paused, sizeof(paused), "%s.paused", hook_path);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", paused);
	if ((f = fopen(tmp, "w")) == NULL) {
		return;
	}
	fprintf(f, "pid %ld scope %s\n", (long) getpid(), id);
	fclose(f);
	rename(tmp, paused);
	fprintf(stderr, "frepd: test hook: apply of scope %s paused inside its write transaction\n",
	    id);
	struct stat sb;
	while (stat(paused, &sb) == 0) {
		struct timespec ts = {.tv_nsec = 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "frepd: test hook: apply of scope %s resumed\n", id);
}
