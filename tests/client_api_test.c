/*
 * client_api_test: the C client as gRPC users expect it — the typed call
 * path (frep_client_invoke + FREP_METHOD_INDEX) returning a status, per-call
 * options (deadline, metadata, wait-for-ready, the reply's info), and a
 * shared library that exports the API and the generated code but not its
 * internals (checked with dlopen on the built libfrep-client.so, argv[1]);
 * a read-only call is sent again after a lost connection unless it is
 * signed for one use (x-frep-mac).
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
/* libasan's (sanitizer/allocator_interface.h, which Debian does not
 * always install). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "testutil.h"

static const char *library_path;

static void
test_client_api_typed_invoke_and_reply_info(void **state)
{
	(void) state;
	char   *dir = tu_tmpdir();
	char    url[600], db[600];
	tu_proc p = {0};
	snprintf(url, sizeof(url), "ipc://%s/api.sock", dir);
	snprintf(db, sizeof(db), "%s/api.db", dir);
	const char *args[] = {"--listen", url, "--db", db, NULL};
	assert_int_equal(tu_frepd_start(&p, dir, "api", args), 0);
	assert_int_equal(tu_wait_healthy(url, 15000), 0);

	frep_client *c = NULL;
	frep_status  st;
	assert_int_equal(frep_client_open(url, NULL, &c, &st), FREP_OK);

	/* A typed call: the output is a Frep__V1__Scope, the status returned. */
	Frep__V1__ScopeKey key   = FREP__V1__SCOPE_KEY__INIT;
	Frep__V1__Scope   *scope = NULL;
	frep_metadata      md[]  = {{"x-request-id", "api-test-1"}};
	frep_reply_info    info  = {0};
	frep_call_options  o     = {.timeout_ms = 10000,
		 .metadata                      = md,
		 .n_metadata                    = 1,
		 .wait_for_ready                = true,
		 .reply                         = &info};
	key.scope_id             = "10.42.0.0";
	frep_code code           = frep_client_invoke(c, &frep__v1__dhcp_server__descriptor,
		      FREP_METHOD_INDEX(Frep__V1__DhcpServer_Service, get_scope), &key.base,
		      (ProtobufCMessage **) &scope, &o, &st);
	assert_int_equal(code, FREP_NOT_FOUND);
	assert_null(scope);
	assert_non_null(strstr(st.message, "10.42.0.0"));
	assert_true(info.call_id != 0); /* the reply's info is filled on failure too */
	assert_int_equal(info.n_details, 0);
	frep_reply_info_fini(&info);

	Frep__V1__HealthCheckRequest   hreq = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	Frep__V1__HealthCheckResponse *hres = NULL;
	code                                = frep_client_invoke(c, &frep__v1__health__descriptor,
					   FREP_METHOD_INDEX(Frep__V1__Health_Service, check), &hreq.base,
					   (ProtobufCMessage **) &hres, &o, &st);
	assert_int_equal(code, FREP_OK);
	assert_int_equal(hres->status, FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	assert_true(info.call_id != 0);
	protobuf_c_message_free_unpacked(&hres->base, NULL);
	frep_reply_info_fini(&info);

	/* Misuse is a status, not a crash. */
	assert_int_equal(frep_client_invoke(c, &frep__v1__health__descriptor, 7, &hreq.base,
			     (ProtobufCMessage **) &hres, NULL, &st),
	    FREP_INVALID_ARGUMENT);
	assert_int_equal(frep_client_invoke(c, &frep__v1__health__descriptor, 0, &key.base,
			     (ProtobufCMessage **) &hres, NULL, &st),
	    FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "takes a frep.v1.HealthCheckRequest"));

	frep_client_close(c);
	assert_int_equal(tu_proc_stop(&p, 15, 10000), 0);
	tu_rmtree(dir);
	free(dir);
}

static void
test_client_api_library_exports_only_the_api(void **state)
{
	(void) state;
	void *lib = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		printf("dlopen %s: %s\n", library_path, dlerror());
	}
	assert_non_null(lib);
	static const char *const exported[] = {"frep_client_open", "frep_client_invoke",
	    "frep_client_call", "frep_reply_info_fini", "frep_code_name", "frep_status_set",
	    "frep__v1__health__check", "frep__v1__dhcp_server__descriptor", NULL};
	static const char *const hidden[]   = {"frep_envelope_request_pack",
	      "frep_envelope_response_view", "frep_envelope_request_size", NULL};
	for (size_t i = 0; exported[i] != NULL; i++) {
		if (dlsym(lib, exported[i]) == NULL) {
			printf("not exported: %s\n", exported[i]);
			fail();
		}
	}
	for (size_t i = 0; hidden[i] != NULL; i++) {
		if (dlsym(lib, hidden[i]) != NULL) {
			printf("exported but internal: %s\n", hidden[i]);
			fail();
		}
	}
	dlclose(lib);
}

/* A server that takes each request and drops its connection without an
 * answer, counting the requests. */
typedef struct dropper {
	nng_socket sock;
	int        received;
} dropper;

static void *
dropper_main(void *arg)
{
	dropper *d = arg;
	nng_msg *m;
	while (nng_recvmsg(d->sock, &m, 0) == 0) {
		__atomic_add_fetch(&d->received, 1, __ATOMIC_SEQ_CST);
		nng_pipe_close(nng_msg_get_pipe(m));
		nng_msg_free(m);
	}
	return NULL;
}

static int
dropped_call(const char *url, bool signed_call, frep_code *code)
{
	dropper   d = {0};
	pthread_t t;
	assert_int_equal(nng_rep0_open(&d.sock), 0);
	assert_int_equal(nng_listen(d.sock, url, NULL, 0), 0);
	pthread_create(&t, NULL, dropper_main, &d);
	frep_client        *c = NULL;
	frep_status         st;
	frep_client_options o = {.timeout_ms = 3000};
	assert_int_equal(frep_client_open(url, &o, &c, &st), FREP_OK);
	frep_metadata                  md[] = {{"x-frep-mac", "00"}};
	frep_call_options              co   = {.metadata = md, .n_metadata = signed_call ? 1 : 0};
	Frep__V1__HealthCheckRequest   req  = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	Frep__V1__HealthCheckResponse *out  = NULL;
	*code = frep_client_call(c, "/frep.v1.Health/Check", &req.base,
	    &frep__v1__health_check_response__descriptor, (ProtobufCMessage **) &out, &co, &st);
	frep_client_close(c);
	nng_close(d.sock);
	pthread_join(t, NULL);
	return __atomic_load_n(&d.received, __ATOMIC_SEQ_CST);
}

/* A read-only call (Check) whose connection drops is sent again; one
 * signed for one use (x-frep-mac, a partner call) is not: the receiver
 * would refuse the same MAC as a replay. */
static void
test_client_api_signed_calls_are_not_resent(void **state)
{
	(void) state;
	char     *dir = tu_tmpdir();
	char      url[600];
	frep_code code;
	snprintf(url, sizeof(url), "ipc://%s/resend.sock", dir);
	int plain = dropped_call(url, false, &code);
	assert_true(plain >= 2);
	assert_int_not_equal(code, FREP_OK);
	snprintf(url, sizeof(url), "ipc://%s/signed.sock", dir);
	int once = dropped_call(url, true, &code);
	assert_int_equal(once, 1);
	assert_int_equal(code, FREP_UNAVAILABLE);
	tu_rmtree(dir);
	free(dir);
}

/* Bytes the heap holds for the program now (ASan's own allocator when
 * the test is built with it). */
static size_t
heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

static void *
set_timeout_once(void *arg)
{
	frep_client_set_call_timeout(arg, 1234); /* makes the thread's state */
	return NULL;
}

/* Proves: a thread's own state in a client (last status, call timeout) is
 * freed when the thread exits, not kept until frep_client_close: 2,000
 * short-lived threads that each touched the client leave the heap as it
 * was (within 128 KiB). Before, every thread left its ~560 bytes behind
 * for the client's life (frepd's replication makes a thread per fan-out
 * partner and per pipelined batch: a long-running server grew). */
static void
test_client_api_thread_state_freed_at_thread_exit(void **state)
{
	(void) state;
	frep_client *c = NULL;
	frep_status  st;
	assert_int_equal(frep_client_open("ipc:///nonexistent/frep.sock", NULL, &c, &st), FREP_OK);
	pthread_t t;
	for (int i = 0; i < 20; i++) { /* glibc's thread caches warm */
		pthread_create(&t, NULL, set_timeout_once, c);
		pthread_join(t, NULL);
	}
	size_t before = heap_in_use();
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(pthread_create(&t, NULL, set_timeout_once, c), 0);
		pthread_join(t, NULL);
	}
	size_t after = heap_in_use();
	print_message("heap after 2,000 threads: %zu -> %zu bytes\n", before, after);
	assert_true(after < before + 128 * 1024);
	frep_client_close(c);
}

int
main(int argc, char **argv)
{
	library_path                    = argc > 1 ? argv[1] : "libfrep-client.so";
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_api_typed_invoke_and_reply_info),
	    cmocka_unit_test(test_client_api_library_exports_only_the_api),
	    cmocka_unit_test(test_client_api_signed_calls_are_not_resent),
	    cmocka_unit_test(test_client_api_thread_state_freed_at_thread_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
