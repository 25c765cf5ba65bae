/*
 * fuzz_check: the harnesses' invariant check. A broken invariant prints
 * what broke and aborts, which libFuzzer reports as a crash and saves.
 * Independent of NDEBUG.
 */
#ifndef FREP_TESTS_FUZZ_FUZZ_CHECK_H
#define FREP_TESTS_FUZZ_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(                                                                   \
			    stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif /* FREP_TESTS_FUZZ_FUZZ_CHECK_H */
