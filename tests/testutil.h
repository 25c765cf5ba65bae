/*
 * testutil: what the multi-process tests share — temp dirs, starting and
 * stopping real frepd processes by PID, and bounded readiness polling.
 * No test sleeps to wait for a server: tu_wait_healthy polls.
 */
#ifndef FREP_TESTS_TESTUTIL_H
#define FREP_TESTS_TESTUTIL_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct tu_proc {
	pid_t pid;
	char  log_path[512];
} tu_proc;

/* A fresh directory under $TMPDIR or /tmp; malloc'd path. Aborts the test
 * on failure. */
char *tu_tmpdir(void);

/* Removes a directory tree. */
void tu_rmtree(const char *path);

/* Starts $FREPD with args (NULL-terminated), stderr to dir/<name>.log;
 * without --db in args it gets --db dir/<name>.db (no test frepd ever
 * touches a default store). Returns 0, or -1 if it cannot be started. */
int tu_frepd_start(tu_proc *p, const char *dir, const char *name, const char *const args[]);

/* A listener on port 0 (tcp://127.0.0.1:0, tls+tcp://localhost:0, ...)
 * gets a port from the system and frepd logs "listening on <bound URL>".
 * Polls p's log, from byte offset from (the log's size before this start:
 * logs are appended across restarts), for the first such line whose URL
 * starts with scheme ("tcp://", ...) up to timeout_ms; copies the URL to
 * out. 0 if found. */
int tu_frepd_bound_url(
    const tu_proc *p, const char *scheme, long from, char *out, size_t n, unsigned timeout_ms);

/* The size of the file at path, or 0. */
long tu_file_size(const char *path);

/* The port of a tcp-like URL ("tcp://127.0.0.1:5555/x" -> 5555), or -1. */
int tu_url_port(const char *url);

/* True if url's port is 0 (the system picks one). */
bool tu_url_port_is_zero(const char *url);

/* Polls Health/Check on url until SERVING, up to timeout_ms. 0 if ready. */
int tu_wait_healthy(const char *url, unsigned timeout_ms);

/* One Health/Check through c, waiting for its connection (wait_for_ready)
 * up to timeout_ms: 0 once c is connected and the server SERVING. A test
 * client that is closed while its first connection is still in the SP
 * handshake trips nng 1.5.2's ipc listener leak (nanomsg/nng#1518 family:
 * the server's half-made pipe is never freed, and a sanitizer frepd stopped
 * then reports it), so fixtures make each client ready first. */
struct frep_client;
int tu_client_ready(struct frep_client *c, unsigned timeout_ms);

/* Sends sig to the process and waits up to timeout_ms for it to exit;
 * returns the wait status (as waitpid) or -1 on timeout (then it is
 * SIGKILLed and reaped). */
int tu_proc_stop(tu_proc *p, int sig, unsigned timeout_ms);

/* Prints the tail of the process's log to stderr (for failing tests). */
void tu_proc_dump_log(const tu_proc *p);

/* "suppressions=<FREP_SOURCE_DIR>/tests/nng_1518.supp": LSAN_OPTIONS for
 * a process a test drives into libnng's own leaks (the file says which
 * and what it lets through). A static buffer. */
const char *tu_nng_leak_suppressions(void);

/* Runs a shell command; returns its exit status (or -1). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Skips (docs/TESTS.md, "Skips"). A test that cannot run its real check
 * calls tu_skip_note(tag, why) and then cmocka's skip(): the note prints
 * "FREP-SKIP(<tag>): <why>" (tests/skip_guard.sh reads the tag; make test
 * fails on a skip unless FREP_ALLOW_SKIP lists its tag) and main returns
 * tu_exit_code(rc), which is 77 — ctest's SKIP_RETURN_CODE — when nothing
 * failed but something was skipped. Tags: root, mountns, netns, kea, ... */
void tu_skip_note(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  tu_exit_code(int cmocka_rc);

/* Monotonic milliseconds. */
long long tu_now_ms(void);

#endif /* FREP_TESTS_TESTUTIL_H */
