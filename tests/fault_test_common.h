/*
 * fault_test_common: what the fault, load and security tests share — real
 * frepd nodes started with any extra flags (TLS, tokens), a bounded
 * health poll that can speak TLS, DhcpServer calls that fail the test on
 * an unexpected status, scope digests, and the check that no secret ever
 * reached a frepd log. Single-threaded helpers unless said otherwise.
 */
#ifndef FREP_TESTS_FAULT_TEST_COMMON_H
#define FREP_TESTS_FAULT_TEST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frep_client.h"
#include "testutil.h"

#define RT_MAX_EXTRA 16

/* One frepd process: its URL, store, extra flags and an admin client. */
typedef struct rt_node {
	char                name[16];
	char                listen[600]; /* --listen; port 0: the system picks */
	char                url[600];    /* where it listens (the bound URL) */
	char                db[600];
	const char         *extra[RT_MAX_EXTRA]; /* NULL-terminated extra frepd flags */
	unsigned            partner_timeout_ms;  /* 0: 3000 */
	frep_client_options copts;               /* how the admin client connects */
	tu_proc             proc;
	frep_client        *c;
	/* The test sends this frepd what nng itself drops (oversized messages,
	 * refused or broken handshakes, connection floods): nng 1.5.2 can leak
	 * inside libnng then, so under LeakSanitizer it runs with
	 * tu_nng_leak_suppressions() (tests/nng_1518.supp says what that
	 * lets through). */
	bool nng_abused;
} rt_node;

/* Fills n: name, url (also the --listen URL), db (dir/<name>.db); no
 * extra flags. A URL with port 0 (tcp://127.0.0.1:0) makes the system
 * pick a free port at each start; n->url is then the bound URL frepd
 * logs (the node advertises itself only if --advertise-url is given in
 * extra: port 0 is not a reachable address). */
void rt_node_init(rt_node *n, const char *dir, const char *name, const char *url);

/* Starts n's frepd (log dir/<name>.log) and waits up to 15 s for Health to
 * answer SERVING through a client opened with n->copts; opens n->c the
 * first time. Fails the test otherwise. */
void rt_node_start(rt_node *n, const char *dir);

/* SIGTERM, then requires exit status 0 (under LSan: no leak). Closes no
 * client. Fails the test (with the log) otherwise. */
void rt_node_stop_clean(rt_node *n);

/* For a fixture's teardown: stops n if it still runs (SIGTERM; SIGKILL
 * after 30 s) and closes n->c. Returns 0 if n was not running or exited 0
 * on SIGTERM, else -1 after printing the status and the log's tail: the
 * teardown returns it, so a crash or (under LSan) a leak at the normal stop
 * fails the test. A frepd the test already stopped or SIGKILLed on purpose
 * (tu_proc_stop reaped it) is not looked at again. */
int rt_node_fini(rt_node *n);

/* After a call through c failed with code: prints the log of the node
 * most lately started whose admin client is c and, for DEADLINE_EXCEEDED
 * or UNAVAILABLE with gdb installed and that frepd alive, the backtraces of
 * its threads and of the test's (diagnostics only; attaching needs root or
 * CAP_SYS_PTRACE, frepd not being dumpable). */
void rt_explain_failure(frep_client *c, frep_code code);

/* Polls Health/Check on url with opts until SERVING, up to timeout_ms. */
int rt_wait_healthy(const char *url, const frep_client_options *opts, unsigned timeout_ms);

/* Calls /frep.v1.<service>/<method>; fails the test unless the status is
 * expect. Returns the reply (caller frees) or NULL; *st_out gets the
 * status when not NULL. Thread-safe. */
ProtobufCMessage *rt_call(frep_client *c, const char *service, const char *method,
    const ProtobufCMessage *in, frep_code expect, frep_status *st_out);

/* AddFailoverScope or RemoveFailoverScope (method) of scope ids[0..n) in
 * relationship name, with force; fails the test unless the status is
 * expect (*st_out gets it when not NULL). */
void rt_failover_scope(frep_client *c, const char *method, const char *name, char **ids, size_t n,
    bool force, frep_code expect, frep_status *st_out);

/* rt_call expecting OK, reply freed. */
void rt_call_ok(
    frep_client *c, const char *service, const char *method, const ProtobufCMessage *in);

/* Adds scope id/24 (or /16 when wide) with range start..end. */
void rt_add_scope(frep_client *c, const char *id, const char *start, const char *end, bool wide);

/* Adds a reservation; returns its status (no test failure). Thread-safe. */
frep_code rt_add_reservation(frep_client *c, const char *scope, const char *ip, const char *mac,
    const char *name, frep_status *st);

/* Imports scope 10.<octet2>.<third>.0/24 with n_res reservations named
 * name (whole replacement). */
void rt_import_scope(frep_client *c, int octet2, int third, int n_res, const char *name);

/* AddFailover from -> partner_url with the given secret and scopes. */
void rt_add_failover(frep_client *c, const char *name, const char *partner_url, const char *secret,
    char **scopes, size_t n_scopes, frep_code expect);

/* The scope's digest, or "" when it does not exist. */
void rt_digest(frep_client *c, const char *scope_id, char out[65]);

/* Fails the test if any of the NULL-terminated needles occurs in the file. */
void rt_assert_file_lacks(const char *path, const char *const needles[]);

/* True if the file contains needle. */
bool rt_file_contains(const char *path, const char *needle);

/* True if one line of the file contains each of the NULL-terminated parts
 * (a frepd log line with its event, status and request id, say). */
bool rt_file_has_line(const char *path, const char *const parts[]);

/* VmRSS of pid in KiB, or -1. */
long rt_rss_kib(pid_t pid);

/* A TCP port on 127.0.0.1 that stays the test's until it closes *fd: a
 * socket bound to it with SO_REUSEADDR and not listening, so a connection
 * there is refused and no other bind (port 0, or a plain bind) gets the
 * number — a port picked by binding and closing could be reused at once.
 * A frepd told to --listen there still can (nng sets SO_REUSEADDR too, and
 * the held socket does not listen); once that frepd is gone, nothing
 * listens there again, and listen(*fd) makes it a black hole that accepts
 * TCP and never speaks. Servers otherwise get their ports from :0. */
int rt_hold_port(int *fd);

/* Integer from the environment, or def. */
long rt_env_long(const char *name, long def);

/* Waits (bounded by timeout_ms) for the test apply hook's "<hook>.paused"
 * file (docs/TESTS.md, the apply hook); true if it came and names pid. */
bool rt_wait_hook_paused(const char *paused, pid_t pid, unsigned timeout_ms);

#endif /* FREP_TESTS_FAULT_TEST_COMMON_H */
