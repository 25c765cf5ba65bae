/*
 * client_failfast_test: the C client fails fast when nothing listens
 * (UNAVAILABLE naming the refusal, well within the deadline) unless the call
 * asks to wait for the server (wait_for_ready), which then succeeds once a
 * frepd comes up. Time bounds are generous (seconds against a 30 s deadline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "testutil.h"

static frep_code
check_health(frep_client *c, bool wait, frep_status *st)
{
	Frep__V1__HealthCheckRequest req  = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage            *out  = NULL;
	frep_call_options            co   = {.timeout_ms = 30000, .wait_for_ready = wait};
	frep_code                    code = frep_client_call(c, "/frep.v1.Health/Check", &req.base,
			       &frep__v1__health_check_response__descriptor, &out, &co, st);
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

static void
test_client_failfast_refused_ipc_and_tcp(void **state)
{
	(void) state;
	char *dir = tu_tmpdir();
	char  ipc[600];
	snprintf(ipc, sizeof(ipc), "ipc://%s/none.sock", dir);
	const char *urls[] = {ipc, "tcp://127.0.0.1:1", NULL};
	for (size_t i = 0; urls[i] != NULL; i++) {
		frep_client *c = NULL;
		frep_status  st;
		assert_int_equal(frep_client_open(urls[i], NULL, &c, &st), FREP_OK);
		long long t0   = tu_now_ms();
		frep_code code = check_health(c, false, &st);
		long long took = tu_now_ms() - t0;
		printf("%s: %s: %s (%lld ms)\n", urls[i], frep_code_name(code), st.message, took);
		assert_int_equal(code, FREP_UNAVAILABLE);
		assert_non_null(strstr(st.message, "connection refused"));
		assert_non_null(strstr(st.message, urls[i]));
		assert_true(took < 5000); /* the deadline is 30 s */
		frep_client_close(c);
	}
	tu_rmtree(dir);
	free(dir);
}

static void
test_client_failfast_wait_for_ready_waits_for_the_server(void **state)
{
	(void) state;
	char   *dir = tu_tmpdir();
	char    url[600], db[600];
	tu_proc p = {0};
	snprintf(url, sizeof(url), "ipc://%s/late.sock", dir);
	snprintf(db, sizeof(db), "%s/late.db", dir);
	frep_client *c = NULL;
	frep_status  st;
	assert_int_equal(frep_client_open(url, NULL, &c, &st), FREP_OK);
	/* Not there yet: fails fast. */
	assert_int_equal(check_health(c, false, &st), FREP_UNAVAILABLE);
	/* The server starts after the call began waiting (the call is made
	 * first, from this thread, with the server started just before: the
	 * call cannot have found it listening at once, as the fast failure
	 * above shows). */
	const char *args[] = {"--listen", url, "--db", db, NULL};
	assert_int_equal(tu_frepd_start(&p, dir, "late", args), 0);
	frep_code code = check_health(c, true, &st);
	if (code != FREP_OK) {
		printf("wait_for_ready: %s: %s\n", frep_code_name(code), st.message);
		tu_proc_dump_log(&p);
	}
	assert_int_equal(code, FREP_OK);
	frep_client_close(c);
	/* A client-wide wait_for_ready does the same. */
	frep_client_options o = {.wait_for_ready = true};
	assert_int_equal(frep_client_open(url, &o, &c, &st), FREP_OK);
	assert_int_equal(check_health(c, false, &st), FREP_OK);
	frep_client_close(c);
	assert_int_equal(tu_proc_stop(&p, 15, 10000), 0);
	tu_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_failfast_refused_ipc_and_tcp),
	    cmocka_unit_test(test_client_failfast_wait_for_ready_waits_for_the_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
