/* frepd as a real process: started in a temp dir, called through the
 * shipped client and generated stubs, stopped by PID. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "testutil.h"

typedef struct fixture {
	char   *dir;
	char    url[600];
	tu_proc proc;
	tu_proc other; /* a second frepd a test starts (stopped by teardown) */
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	snprintf(f->url, sizeof(f->url), "ipc://%s/frepd.sock", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	if (f->proc.pid > 0) {
		tu_proc_stop(&f->proc, SIGKILL, 5000);
	}
	if (f->other.pid > 0) {
		tu_proc_stop(&f->other, SIGKILL, 5000);
	}
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
start_frepd(fixture *f)
{
	char db[600];
	snprintf(db, sizeof(db), "%s/frep.db", f->dir);
	const char *args[] = {"--listen", f->url, "--db", db, "--threads", "2", NULL};
	assert_int_equal(tu_frepd_start(&f->proc, f->dir, "frepd", args), 0);
	if (tu_wait_healthy(f->url, 10000) != 0) {
		tu_proc_dump_log(&f->proc);
		fail_msg("frepd did not become healthy on %s", f->url);
	}
}

static void
stop_frepd_cleanly(fixture *f, int sig)
{
	int status = tu_proc_stop(&f->proc, sig, 15000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		tu_proc_dump_log(&f->proc);
		fail_msg("frepd did not exit 0 on signal %d (wait status %d)", sig, status);
	}
}

static void
health_done(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	*(int *) data = msg != NULL ? (int) msg->status : -1;
}

static void
info_done(const Frep__Rpc__V1__ServerInfo *msg, void *data)
{
	char *out = data;
	out[0]    = '\0';
	if (msg != NULL) {
		int n = snprintf(out, 256, "%s|%llu|", msg->version,
		    (unsigned long long) msg->max_message_bytes);
		for (size_t i = 0; i < msg->n_services && n > 0 && n < 256; i++) {
			n += snprintf(out + n, (size_t) (256 - n), "%s,", msg->services[i]);
		}
	}
}

static void
test_frepd_serves_generated_stubs_and_exits_0_on_sigterm(void **state)
{
	fixture     *f = *state;
	frep_client *c = NULL;
	frep_status  st;
	start_frepd(f);
	assert_int_equal(frep_client_open(f->url, NULL, &c, &st), FREP_OK);

	int                          status = -1;
	Frep__V1__HealthCheckRequest req    = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	frep__v1__health__check(
	    frep_client_service(c, &frep__v1__health__descriptor), &req, health_done, &status);
	assert_int_equal(status, FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);

	char                                info[256];
	Frep__Rpc__V1__GetServerInfoRequest ireq = FREP__RPC__V1__GET_SERVER_INFO_REQUEST__INIT;
	frep__rpc__v1__introspection__get_server_info(
	    frep_client_service(c, &frep__rpc__v1__introspection__descriptor), &ireq, info_done,
	    info);
	assert_non_null(strstr(info, "frepd " FREP_VERSION "|16777216|"));
	const char *served[] = {"frep.rpc.v1.Introspection,", "frep.v1.Health,",
	    "frep.v1.DhcpServer,", "frep.v1.FailoverReplication,", "frep.v1.Partner,"};
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
		assert_non_null(strstr(info, served[i]));
	}

	frep_client_close(c);
	stop_frepd_cleanly(f, SIGTERM);
}

static void
test_frepd_exits_0_on_sigint(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	stop_frepd_cleanly(f, SIGINT);
}

static void
test_frepd_client_survives_restart(void **state)
{
	fixture     *f = *state;
	frep_client *c = NULL;
	frep_status  st;
	start_frepd(f);
	frep_client_options o = {.timeout_ms = 10000};
	assert_int_equal(frep_client_open(f->url, &o, &c, &st), FREP_OK);
	ProtobufCService *h = frep_client_service(c, &frep__v1__health__descriptor);
	for (int round = 0; round < 3; round++) {
		int                          status = -1;
		Frep__V1__HealthCheckRequest req    = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
		frep__v1__health__check(h, &req, health_done, &status);
		if (status != FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			frep_client_last_status(c, &st);
			fail_msg("round %d: %s: %s", round, frep_code_name(st.code), st.message);
		}
		stop_frepd_cleanly(f, SIGTERM);
		start_frepd(f);
	}
	frep_client_close(c);
	stop_frepd_cleanly(f, SIGTERM);
}

static void
test_frepd_refuses_open_listener_without_tls_or_token(void **state)
{
	fixture    *f      = *state;
	const char *args[] = {"--listen", "tcp://0.0.0.0:0", NULL};
	assert_int_equal(tu_frepd_start(&f->proc, f->dir, "open", args), 0);
	int status = tu_proc_stop(&f->proc, 0, 10000);
	/* Signal 0 sends nothing: this only waits for it to exit by itself. */
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_int_equal(tu_system("grep -q 'FAILED_PRECONDITION: --listen tcp://0.0.0.0:0' %s",
			     f->proc.log_path),
	    0);
}

static void
test_frepd_bad_flags_are_clear_errors(void **state)
{
	fixture *f = *state;
	struct {
		const char *args[4];
		const char *expect;
	} cases[] = {
	    {{"--threads", "0", NULL}, "INVALID_ARGUMENT: --threads 0 is outside 1..256"},
	    {{"--max-message-bytes", "10", NULL}, "INVALID_ARGUMENT: --max-message-bytes 10"},
	    {{"--log-level", "loud", NULL}, "INVALID_ARGUMENT: --log-level \"loud\""},
	    {{"--reply-timeout-ms", "3600001", NULL},
		"INVALID_ARGUMENT: --reply-timeout-ms 3600001 is outside 1..3600000"},
	    {{"--bogus", NULL}, "INVALID_ARGUMENT: unknown or incomplete option \"--bogus\""},
	    {{"--tls-cert", "/nonexistent", "--listen", NULL}, "INVALID_ARGUMENT"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "bad%zu", i);
		assert_int_equal(tu_frepd_start(&f->proc, f->dir, name, cases[i].args), 0);
		int status = tu_proc_stop(&f->proc, 0, 10000);
		assert_true(status != -1 && WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
		assert_int_equal(
		    tu_system("grep -qF -- '%s' %s", cases[i].expect, f->proc.log_path), 0);
	}
}

static void
test_frepctl_health_and_describe(void **state)
{
	fixture    *f       = *state;
	const char *frepctl = getenv("FREPCTL");
	start_frepd(f);
	assert_int_equal(
	    tu_system("%s --server %s health > %s/out.txt && grep -qx SERVING %s/out.txt", frepctl,
		f->url, f->dir, f->dir),
	    0);
	assert_int_equal(
	    tu_system("%s --server %s --json health | grep -q '\"status\": \"SERVING\"'", frepctl,
		f->url),
	    0);
	assert_int_equal(tu_system("%s --server %s health frep.v1.Nope 2>&1 | grep -q 'NOT_FOUND'",
			     frepctl, f->url),
	    0);
	/* NOT_FOUND exits 3 (FREPCTL.md, exit codes). */
	assert_int_equal(tu_system("%s --server %s health frep.v1.Nope", frepctl, f->url), 3);
	assert_int_equal(
	    tu_system(
		"%s --server %s describe | grep -q '/frep.v1.FailoverReplication/ReplicateByName'",
		frepctl, f->url),
	    0);
	stop_frepd_cleanly(f, SIGTERM);
	/* Nobody listening: UNAVAILABLE within the deadline, exit 4. */
	assert_int_equal(
	    tu_system("%s --server %s --timeout 300 health 2>&1 | grep -q '^frepctl: UNAVAILABLE'",
		frepctl, f->url),
	    0);
	assert_int_equal(
	    tu_system("%s --server %s --timeout 300 health 2>/dev/null", frepctl, f->url), 4);
	assert_int_equal(tu_system("%s nonsense 2>/dev/null", frepctl), 2);
}

/* Regression for nng 1.5.2's ipc bug (nanomsg/nng#1518): peers that
 * disconnect during the SP handshake can leave an ipc:// listener deaf.
 * frepd's watchdog re-creates it; a read-only call is retried by the
 * client within its deadline. */
static void
test_frepd_ipc_listener_survives_broken_handshakes(void **state)
{
	fixture *f = *state;
	/* nng leaks the connections its bug strands (inside libnng): this one
	 * frepd runs with a LeakSanitizer suppression for libnng only. */
	setenv("LSAN_OPTIONS", tu_nng_leak_suppressions(), 1);
	start_frepd(f);
	unsetenv("LSAN_OPTIONS");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/frepd.sock", f->dir);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 10; i++) {
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);
			assert_true(fd >= 0);
			if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0 && i % 2 == 1) {
				ssize_t n = write(fd, "\0SP", 3); /* a partial SP header */
				(void) n;
			}
			close(fd);
		}
		frep_client *c = NULL;
		frep_status  st;
		/* Waits for a connection: the listener is closed and re-created
		 * under it (fail-fast would answer the refusal in between). */
		frep_client_options o = {.timeout_ms = 20000, .wait_for_ready = true};
		assert_int_equal(frep_client_open(f->url, &o, &c, &st), FREP_OK);
		int                          status = -1;
		Frep__V1__HealthCheckRequest req    = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
		frep__v1__health__check(frep_client_service(c, &frep__v1__health__descriptor), &req,
		    health_done, &status);
		if (status != FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			frep_client_last_status(c, &st);
			tu_proc_dump_log(&f->proc);
			fail_msg("round %d: %s: %s", round, frep_code_name(st.code), st.message);
		}
		frep_client_close(c);
	}
	stop_frepd_cleanly(f, SIGTERM);
}

/* Starts a second frepd on db (a name for its log and socket) and expects
 * it to refuse: exit 2, naming db, holder_pid and the lock file lock. */
static void
expect_store_refused(
    fixture *f, const char *name, const char *db, long holder_pid, const char *lock)
{
	char url[600], expect[1600];
	snprintf(url, sizeof(url), "ipc://%s/%s.sock", f->dir, name);
	const char *args[] = {"--listen", url, "--db", db, NULL};
	tu_proc     second = {0};
	assert_int_equal(tu_frepd_start(&second, f->dir, name, args), 0);
	int status = tu_proc_stop(&second, 0, 10000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 2) {
		tu_proc_dump_log(&second);
		fail_msg(
		    "a second frepd on %s did not refuse to start (wait status %d)", db, status);
	}
	snprintf(expect, sizeof(expect),
	    "FAILED_PRECONDITION: --db %s is in use by another frepd (PID %ld holds %s)", db,
	    holder_pid, lock);
	if (tu_system("grep -qF -- '%s' %s", expect, second.log_path) != 0) {
		tu_proc_dump_log(&second);
		fail_msg("the refusal does not say: %s", expect);
	}
}

/* The lock file frepd takes for the store named name in f->dir: next to
 * it by its real path (f->dir's symlinks, if any, resolved). */
static void
lock_file_of(const fixture *f, const char *name, char *out, size_t size)
{
	char real_dir[PATH_MAX];
	assert_non_null(realpath(f->dir, real_dir));
	assert_true(snprintf(out, size, "%s/%s.lock", real_dir, name) < (int) size);
}

/* One store, one daemon (issue 11): both used to run on one --db. A second
 * frepd on a store in use exits 2 naming the store, its lock file and the
 * first one's PID, and leaves the first serving; once the first has
 * stopped, the store is free again. */
static void
test_frepd_refuses_a_store_in_use(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	char db[600], lock[PATH_MAX + 16];
	snprintf(db, sizeof(db), "%s/frep.db", f->dir);
	lock_file_of(f, "frep.db", lock, sizeof(lock));
	expect_store_refused(f, "second", db, (long) f->proc.pid, lock);
	assert_int_equal(tu_system("grep -qx '%ld' %s", (long) f->proc.pid, lock), 0);
	assert_int_equal(tu_wait_healthy(f->url, 10000), 0);
	stop_frepd_cleanly(f, SIGTERM);
	/* Released with the first: the store opens again. */
	start_frepd(f);
	stop_frepd_cleanly(f, SIGTERM);
}

/* The lock goes by the store's real path (issue 11): a second frepd given
 * a symlink to the store in use, or a path through a symlinked directory,
 * used to start (it locked <link>.lock) and now is refused as the store's
 * own path is. A store that does not exist yet, named through a dangling
 * symlink, is locked by the file the link names. */
static void
test_frepd_refuses_a_store_in_use_through_a_symlink(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	char path[600], lock[PATH_MAX + 16];
	lock_file_of(f, "frep.db", lock, sizeof(lock));

	snprintf(path, sizeof(path), "%s/alias.db", f->dir);
	assert_int_equal(symlink("frep.db", path), 0);
	expect_store_refused(f, "by-alias", path, (long) f->proc.pid, lock);
	assert_int_equal(tu_system("test ! -e %s/alias.db.lock", f->dir), 0);

	snprintf(path, sizeof(path), "%s/linked-dir", f->dir);
	assert_int_equal(symlink(f->dir, path), 0);
	snprintf(path, sizeof(path), "%s/linked-dir/frep.db", f->dir);
	expect_store_refused(f, "by-dir", path, (long) f->proc.pid, lock);
	assert_int_equal(tu_wait_healthy(f->url, 10000), 0);

	/* A dangling symlink: the new store, and its lock, are the target's. */
	char     url[600], fresh_db[600];
	tu_proc *by_link = &f->other;
	snprintf(path, sizeof(path), "%s/later.db", f->dir);
	assert_int_equal(symlink("fresh.db", path), 0);
	snprintf(url, sizeof(url), "ipc://%s/by-link.sock", f->dir);
	const char *args[] = {"--listen", url, "--db", path, NULL};
	assert_int_equal(tu_frepd_start(by_link, f->dir, "by-link", args), 0);
	if (tu_wait_healthy(url, 10000) != 0) {
		tu_proc_dump_log(by_link);
		fail_msg("frepd on a dangling symlink %s did not become healthy", path);
	}
	snprintf(fresh_db, sizeof(fresh_db), "%s/fresh.db", f->dir);
	lock_file_of(f, "fresh.db", lock, sizeof(lock));
	expect_store_refused(f, "by-target", fresh_db, (long) by_link->pid, lock);
	int status = tu_proc_stop(by_link, SIGTERM, 15000);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stop_frepd_cleanly(f, SIGTERM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_frepd_serves_generated_stubs_and_exits_0_on_sigterm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frepd_exits_0_on_sigint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frepd_client_survives_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_frepd_refuses_open_listener_without_tls_or_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frepd_bad_flags_are_clear_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frepctl_health_and_describe, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_frepd_ipc_listener_survives_broken_handshakes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frepd_refuses_a_store_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_frepd_refuses_a_store_in_use_through_a_symlink, setup, teardown),
	};
	return cmocka_run_group_tests_name("frepd", tests, NULL, NULL);
}
