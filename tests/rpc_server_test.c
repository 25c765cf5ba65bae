/*
 * The RPC runtime (rpc/rpc_server) and the C client (clients/frep_client),
 * in one process, with the test-only frep.test.v1.Echo service: dispatch,
 * statuses, deadlines, limits, auth, transports, concurrency, repeats.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <dirent.h>
#include <unistd.h>

#include "echo_service.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "frep_envelope.h"
#include "frep_test.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "health.h"
#include "idle_trim.h"
#include "payload_check.h"
#include "metrics.h"
#include "rpc_server.h"
#include "testutil.h"

typedef struct fixture {
	char             *dir;
	char              url[600];
	rpc_server       *server;
	echo_service     *echo;
	ProtobufCService *health;
	frep_client      *client;
} fixture;

typedef struct server_config {
	unsigned               workers;
	size_t                 max_message_bytes;
	const char            *token;
	const char            *url; /* NULL: ipc:// in the temp dir */
	const rpc_tls_options *tls;
	unsigned               reply_timeout_ms; /* 0: the server's default */
	unsigned               contexts;         /* 0: the server's default */
} server_config;

static void
check_ok(frep_code code, const frep_status *st)
{
	if (code != FREP_OK) {
		fail_msg("%s: %s", frep_code_name(st->code), st->message);
	}
}

static void
server_up(fixture *f, const server_config *cfg)
{
	frep_status        st;
	rpc_server_options o = {
	    .worker_threads    = cfg->workers,
	    .max_message_bytes = cfg->max_message_bytes,
	    .admin_token       = cfg->token,
	    .reply_timeout_ms  = cfg->reply_timeout_ms,
	    .contexts          = cfg->contexts,
	};
	if (cfg->url != NULL) {
		snprintf(f->url, sizeof(f->url), "%s", cfg->url);
	} else {
		snprintf(f->url, sizeof(f->url), "ipc://%s/rpc.sock", f->dir);
	}
	check_ok(rpc_server_new(&o, &f->server, &st), &st);
	f->echo = echo_service_new();
	check_ok(rpc_server_register(f->server, echo_service_base(f->echo), 0, &st), &st);
	check_ok(rpc_health_new(f->server, &f->health, &st), &st);
	check_ok(rpc_server_register(
		     f->server, f->health, RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH, &st),
	    &st);
	check_ok(rpc_server_listen(f->server, f->url, cfg->tls, &st), &st);
	check_ok(rpc_server_start(f->server, &st), &st);
	snprintf(f->url, sizeof(f->url), "%s", rpc_server_bound_url(f->server, 0));
}

static void
server_down(fixture *f, unsigned drain_ms)
{
	if (f->server != NULL) {
		rpc_server_shutdown(f->server, drain_ms);
		rpc_server_free(f->server);
		f->server = NULL;
	}
	rpc_health_free(f->health);
	f->health = NULL;
	echo_service_free(f->echo);
	f->echo = NULL;
}

static void
client_up(fixture *f, const frep_client_options *o)
{
	frep_status st;
	check_ok(frep_client_open(f->url, o, &f->client, &st), &st);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	*state     = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	frep_client_close(f->client);
	server_down(f, 1000);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Echo through the generated stub. */
typedef struct echo_result {
	bool     got;
	uint64_t tag;
	size_t   len;
	uint8_t  first;
} echo_result;

static void
echo_done(const Frep__Test__V1__EchoResponse *msg, void *data)
{
	echo_result *r = data;
	r->got         = msg != NULL;
	if (msg != NULL) {
		r->tag   = msg->tag;
		r->len   = msg->data.len;
		r->first = msg->data.len > 0 ? msg->data.data[0] : 0;
	}
}

static frep_code
stub_echo(frep_client *c, uint64_t tag, size_t len, echo_result *r, frep_status *st)
{
	ProtobufCService           *svc = frep_client_service(c, &frep__test__v1__echo__descriptor);
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	uint8_t                    *buf = calloc(1, len + 1);
	memset(buf, (int) (tag & 0xff), len);
	req.data.data = buf;
	req.data.len  = len;
	req.tag       = tag;
	memset(r, 0, sizeof(*r));
	frep__test__v1__echo__echo(svc, &req, echo_done, r);
	free(buf);
	return frep_client_last_status(c, st);
}

/* Sends raw envelope bytes on a raw req socket; returns the decoded reply
 * (caller frees) or NULL if none came within wait_ms. */
static Frep__Rpc__V1__Response *
raw_call(const char *url, const uint8_t *data, size_t len, unsigned wait_ms)
{
	nng_socket s;
	nng_msg   *m = NULL;
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration) wait_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration) wait_ms);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&m, len), 0);
	memcpy(nng_msg_body(m), data, len);
	Frep__Rpc__V1__Response *r = NULL;
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
	} else if (nng_recvmsg(s, &m, 0) == 0) {
		r = frep__rpc__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
	}
	nng_close(s);
	return r;
}

/* Packs a Request with arbitrary payload bytes. */
static size_t
pack_raw_request(const char *method, const uint8_t *payload, size_t pl, uint32_t timeout_ms,
    uint64_t call_id, uint8_t **out)
{
	Frep__Rpc__V1__Request r = FREP__RPC__V1__REQUEST__INIT;
	r.method                 = (char *) method;
	r.payload.data           = (uint8_t *) payload;
	r.payload.len            = pl;
	r.timeout_ms             = timeout_ms;
	r.call_id                = call_id;
	size_t n                 = frep__rpc__v1__request__get_packed_size(&r);
	*out                     = malloc(n);
	frep__rpc__v1__request__pack(&r, *out);
	return n;
}

/* --- tests ----------------------------------------------------------------- */

static void
test_rpc_dispatch_through_generated_stub(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	frep_status   st;
	echo_result   r;
	server_up(f, &cfg);
	client_up(f, NULL);
	check_ok(stub_echo(f->client, 42, 100, &r, &st), &st);
	assert_true(r.got);
	assert_int_equal(r.tag, 42);
	assert_int_equal(r.len, 100);
	assert_int_equal(r.first, 42);
	assert_int_equal(echo_service_echo_calls(f->echo), 1);

	/* Health of the whole server and of a registered service. */
	Frep__V1__HealthCheckRequest hreq = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage            *out  = NULL;
	hreq.service                      = "frep.test.v1.Echo";
	check_ok(frep_client_call(f->client, "/frep.v1.Health/Check", &hreq.base,
		     &frep__v1__health_check_response__descriptor, &out, NULL, &st),
	    &st);
	assert_int_equal(((Frep__V1__HealthCheckResponse *) out)->status,
	    FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	protobuf_c_message_free_unpacked(out, NULL);
	hreq.service = "frep.v1.Nope";
	assert_int_equal(frep_client_call(f->client, "/frep.v1.Health/Check", &hreq.base,
			     &frep__v1__health_check_response__descriptor, &out, NULL, &st),
	    FREP_NOT_FOUND);
	assert_non_null(strstr(st.message, "frep.v1.Nope"));
}

static void
test_rpc_unknown_method_is_unimplemented(void **state)
{
	fixture                    *f   = *state;
	server_config               cfg = {0};
	frep_status                 st;
	ProtobufCMessage           *out = NULL;
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	server_up(f, &cfg);
	client_up(f, NULL);
	assert_int_equal(frep_client_call(f->client, "/frep.test.v1.Echo/Nope", &req.base,
			     &frep__test__v1__echo_response__descriptor, &out, NULL, &st),
	    FREP_UNIMPLEMENTED);
	assert_non_null(strstr(st.message, "/frep.test.v1.Echo/Nope"));
	assert_int_equal(frep_client_call(f->client, "/frep.v9.Ghost/Echo", &req.base,
			     &frep__test__v1__echo_response__descriptor, &out, NULL, &st),
	    FREP_UNIMPLEMENTED);
	assert_int_equal(frep_client_call(f->client, "no-slash", &req.base,
			     &frep__test__v1__echo_response__descriptor, &out, NULL, &st),
	    FREP_UNIMPLEMENTED);
	/* The last status is per thread and readable after the call. */
	frep_status last;
	assert_int_equal(frep_client_last_status(f->client, &last), FREP_UNIMPLEMENTED);
	assert_int_equal(echo_service_echo_calls(f->echo), 0);
}

static void
test_rpc_undecodable_payload_is_invalid_argument(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	server_up(f, &cfg);
	const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* length past the end */
	uint8_t      *env       = NULL;
	size_t        n =
	    pack_raw_request("/frep.test.v1.Echo/Echo", garbage, sizeof(garbage), 0, 0, &env);
	Frep__Rpc__V1__Response *r = raw_call(f->url, env, n, 5000);
	assert_non_null(r);
	assert_int_equal(r->code, FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(r->message, "frep.test.v1.EchoRequest"));
	frep__rpc__v1__response__free_unpacked(r, NULL);
	free(env);

	/* An envelope that is not one at all. */
	r = raw_call(f->url, garbage, sizeof(garbage), 5000);
	assert_non_null(r);
	assert_int_equal(r->code, FREP_INVALID_ARGUMENT);
	frep__rpc__v1__response__free_unpacked(r, NULL);
	assert_int_equal(echo_service_echo_calls(f->echo), 0);
}

static void
test_rpc_handler_status_reaches_client(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	frep_status   st;
	server_up(f, &cfg);
	client_up(f, NULL);
	ProtobufCMessage           *out = NULL;
	Frep__Test__V1__FailRequest req = FREP__TEST__V1__FAIL_REQUEST__INIT;
	req.code                        = FREP_FAILED_PRECONDITION;
	req.message                     = "scope 10.0.0.0 is in no relationship";
	assert_int_equal(frep_client_call(f->client, "/frep.test.v1.Echo/Fail", &req.base,
			     &frep__test__v1__fail_response__descriptor, &out, NULL, &st),
	    FREP_FAILED_PRECONDITION);
	assert_string_equal(st.message, "scope 10.0.0.0 is in no relationship");
	assert_null(out);
}

static void
test_rpc_closure_after_handler_returns(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	frep_status   st;
	server_up(f, &cfg);
	client_up(f, NULL);
	Frep__Test__V1__EchoRequest req     = FREP__TEST__V1__ECHO_REQUEST__INIT;
	uint8_t                     data[3] = {1, 2, 3};
	req.data.data                       = data;
	req.data.len                        = 3;
	req.tag                             = 99;
	ProtobufCMessage *out               = NULL;
	check_ok(frep_client_call(f->client, "/frep.test.v1.Echo/EchoLater", &req.base,
		     &frep__test__v1__echo_response__descriptor, &out, NULL, &st),
	    &st);
	Frep__Test__V1__EchoResponse *resp = (Frep__Test__V1__EchoResponse *) out;
	assert_int_equal(resp->tag, 99);
	assert_int_equal(resp->data.len, 3);
	assert_memory_equal(resp->data.data, data, 3);
	protobuf_c_message_free_unpacked(out, NULL);
}

/* One echo through frep_client_call: every byte, the length and the tag
 * come back as sent (method: Echo or EchoLater). */
static void
echo_exact(frep_client *c, const char *method, size_t len, uint64_t tag)
{
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	uint8_t                    *buf = malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		buf[i] = (uint8_t) (i * 7 + tag);
	}
	req.data.data         = buf;
	req.data.len          = len;
	req.tag               = tag;
	ProtobufCMessage *out = NULL;
	frep_status       st;
	check_ok(frep_client_call(c, method, &req.base, &frep__test__v1__echo_response__descriptor,
		     &out, NULL, &st),
	    &st);
	Frep__Test__V1__EchoResponse *resp = (Frep__Test__V1__EchoResponse *) out;
	assert_int_equal(resp->tag, tag);
	assert_int_equal(resp->data.len, len);
	if (len > 0) {
		assert_memory_equal(resp->data.data, buf, len);
	}
	protobuf_c_message_free_unpacked(out, NULL);
	free(buf);
}

/* Proves: a reply packed into its request's own message is right whatever
 * the two sizes (smaller, equal, larger than the request: nng grows the
 * buffer), on one worker whose decode arena grows, keeps and overflows
 * (above RPC_DECODE_ARENA_KEEP) from one call to the next, for a reply
 * sent from the handler's thread and one sent later from another. */
static void
test_rpc_reply_in_request_buffer_any_size(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.workers = 1};
	server_up(f, &cfg);
	client_up(f, NULL);
	static const size_t sizes[] = {0, 1, 65536, 10, 300000, 100, 70000, 3, 4096, 65536};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		echo_exact(f->client, "/frep.test.v1.Echo/Echo", sizes[i], 1 + i);
		echo_exact(f->client, "/frep.test.v1.Echo/EchoLater", sizes[i], 100 + i);
	}
	assert_int_equal(echo_service_echo_calls(f->echo), 20);

	/* A reply larger than its request: a one-letter method is refused
	 * with a message that quotes it. */
	uint8_t                 *req = NULL;
	size_t                   n   = pack_raw_request("x", NULL, 0, 0, 0, &req);
	Frep__Rpc__V1__Response *r   = raw_call(f->url, req, n, 5000);
	assert_non_null(r);
	assert_int_equal(r->code, FREP_UNIMPLEMENTED);
	assert_true(strlen(r->message) > n);
	assert_non_null(strstr(r->message, "\"x\""));
	frep__rpc__v1__response__free_unpacked(r, NULL);
	free(req);
}

/* This process's resident set, KiB (VmRSS in /proc/self/status). */
static long
self_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char  line[256];
	long  kib = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return kib;
}

/* Waits up to 5 s for rpc_idle_trim_count to pass n; returns it. */
static uint64_t
trims_after(uint64_t n)
{
	for (int i = 0; i < 500 && rpc_idle_trim_count() <= n; i++) {
		nng_msleep(10);
	}
	return rpc_idle_trim_count();
}

/* Proves: the idle trim gives memory back once calls stop, and only then.
 * With glibc's own trimming pushed out of the way (as frepd does), 48 MiB
 * freed in 1 KiB pieces stays resident; calls on a server inside work
 * that has not ended trim nothing; one trim comes after it ends, and the
 * 48 MiB are given back (RSS down by at least 32 MiB); nothing more is
 * trimmed while nothing happens; a call on its own is followed by one
 * trim; work that outlasts the idle time is not trimmed until it ends;
 * after stop, calls trim nothing. No assertion rests on how fast the
 * machine is. Under ASan (its own malloc) the RSS part is not checked. */
static void
test_rpc_idle_trim_gives_memory_back_when_idle(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.workers = 1};
#if !defined(__SANITIZE_ADDRESS__)
	mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
#endif
	assert_true(rpc_idle_trim_start(300, 0));
	assert_false(rpc_idle_trim_start(300, 0)); /* one at a time */
	server_up(f, &cfg);
	client_up(f, NULL);

	/* Work begins before anything is measured: a trim that the setup's
	 * calls left due cannot land inside the burst below. */
	rpc_idle_trim_enter();
	nng_msleep(50); /* one already under way ends */
	enum { PIECES = 48 * 1024 };
	char **p = calloc(PIECES, sizeof(*p));
	for (size_t i = 0; i < PIECES; i++) {
		p[i] = malloc(1000);
		memset(p[i], 1, 1000);
	}
	long high = self_rss_kib();
	for (size_t i = PIECES; i-- > 0;) {
		free(p[i]);
	}
	free(p);
	uint64_t before = rpc_idle_trim_count();
	/* A burst of calls inside that work (so that no gap between two
	 * calls, however long on a loaded machine, is idle): nothing is
	 * trimmed while it lasts, then exactly one trim. */
	for (int i = 0; i < 20; i++) {
		echo_exact(f->client, "/frep.test.v1.Echo/Echo", 100, 1 + (uint64_t) i);
		nng_msleep(20);
		assert_int_equal(rpc_idle_trim_count(), before); /* still busy */
	}
	rpc_idle_trim_leave();
	uint64_t after = trims_after(before);
	assert_int_equal(after, before + 1);
	long low = self_rss_kib();
	print_message("RSS %ld KiB with 48 MiB freed, %ld KiB after the idle trim\n", high, low);
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(high - low >= 32 * 1024);
#endif
	/* Nothing happens: nothing more is trimmed. */
	nng_msleep(900);
	assert_int_equal(rpc_idle_trim_count(), after);
	/* A worker call on its own counts as work. */
	echo_exact(f->client, "/frep.test.v1.Echo/Echo", 100, 40);
	assert_int_equal(trims_after(after), after + 1);
	after++;
	nng_msleep(600);
	assert_int_equal(rpc_idle_trim_count(), after);
	/* Work that lasts longer than the idle time is not trimmed under its
	 * feet; its end counts. */
	rpc_idle_trim_enter();
	echo_exact(f->client, "/frep.test.v1.Echo/Echo", 100, 50);
	nng_msleep(900);
	assert_int_equal(rpc_idle_trim_count(), after);
	rpc_idle_trim_leave();
	assert_int_equal(trims_after(after), after + 1);
	after++;
	/* Stopped: a call arms nothing. */
	rpc_idle_trim_stop();
	echo_exact(f->client, "/frep.test.v1.Echo/Echo", 100, 99);
	nng_msleep(600);
	assert_int_equal(rpc_idle_trim_count(), after);
	rpc_idle_trim_stop(); /* twice: nothing */
#if !defined(__SANITIZE_ADDRESS__)
	/* With keep_bytes (16 MiB over what this process holds now), a
	 * process within it keeps its free heap (warm for the next burst);
	 * one over it gives it back. (Not under ASan, whose shadow memory
	 * puts the resident size far over any such bound.) */
	size_t keep = (size_t) self_rss_kib() * 1024u + 16u * 1024u * 1024u;
	assert_true(rpc_idle_trim_start(300, keep));
	after = rpc_idle_trim_count();
	for (int round = 0; round < 2; round++) {
		size_t mib = round == 0 ? 8 : 48;
		rpc_idle_trim_enter();
		char **q = calloc(mib * 1024, sizeof(*q));
		for (size_t i = 0; i < mib * 1024; i++) {
			q[i] = malloc(1000);
			memset(q[i], 1, 1000);
		}
		for (size_t i = mib * 1024; i-- > 0;) {
			free(q[i]);
		}
		free(q);
		long held = self_rss_kib();
		rpc_idle_trim_leave();
		if (round == 0) {
			nng_msleep(900); /* idle periods: nothing given back */
			assert_int_equal(rpc_idle_trim_count(), after);
			long still = self_rss_kib();
			print_message("keep %zu KiB: RSS %ld KiB with 8 MiB freed, %ld KiB idle\n",
			    keep / 1024, held, still);
			assert_true(held - still < 4 * 1024);
		} else {
			assert_int_equal(trims_after(after), after + 1);
			long given = self_rss_kib();
			print_message(
			    "keep %zu KiB: RSS %ld KiB with 48 MiB freed, %ld KiB after\n",
			    keep / 1024, held, given);
			assert_true(held - given >= 32 * 1024);
		}
	}
	rpc_idle_trim_stop();
	mallopt(M_TRIM_THRESHOLD, 128 * 1024); /* glibc's defaults back */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* Writes all of len bytes to fd before the monotonic time until_ms;
 * false if a write fails or the time is up. */
static bool
write_all(int fd, const uint8_t *p, size_t len, long long until_ms)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t) n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			return false;
		}
		if (tu_now_ms() >= until_ms) {
			return false;
		}
		nng_msleep(5);
	}
	return true;
}

/* A peer on tcp:// that sends up to 256 Echo calls of 64 KiB and reads
 * none of the replies (its receive buffer 4 KiB): the replies fill the
 * connection, the next ones wait behind them, and once every context of
 * the server (4 here) holds one, nothing else is served. Each such reply
 * waits reply_timeout_ms (2 s here) at most: then that peer's connection
 * is closed, every context waiting on it is free, and another client's
 * call is answered (within its 30 s deadline). Before: that call waited out its deadline, and the
 * server stayed so as long as the peer kept its connection open (found
 * while looking into a python_tls_test failure in CI: a TLS frepd
 * answered nothing after clients closed with calls in flight). */
static void
test_rpc_peer_reading_no_replies_is_disconnected(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {
	    .workers = 1, .url = "tcp://127.0.0.1:0", .reply_timeout_ms = 2000, .contexts = 4};
	server_up(f, &cfg);
	client_up(f, NULL);
	echo_exact(f->client, "/frep.test.v1.Echo/Echo", 10, 1); /* served */

	int port = 0;
	assert_int_equal(sscanf(f->url, "tcp://127.0.0.1:%d", &port), 1);
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);
	int                rcv = 4096;
	struct sockaddr_in sa  = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	sa.sin_addr.s_addr     = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	struct timeval rcvto = {.tv_sec = 10}; /* the handshake's read */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcvto, sizeof(rcvto));
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	/* The SP handshake of a req0 peer (protocol 48), and the server's. */
	static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
	uint8_t              theirs[8];
	assert_int_equal(write(fd, hello, sizeof(hello)), (ssize_t) sizeof(hello));
	assert_int_equal(read(fd, theirs, sizeof(theirs)), (ssize_t) sizeof(theirs));

	Frep__Test__V1__EchoRequest req  = FREP__TEST__V1__ECHO_REQUEST__INIT;
	size_t                      dlen = 64 * 1024;
	uint8_t                    *data = calloc(1, dlen);
	req.data.data                    = data;
	req.data.len                     = dlen;
	size_t   pl                      = frep__test__v1__echo_request__get_packed_size(&req);
	uint8_t *payload                 = malloc(pl);
	frep__test__v1__echo_request__pack(&req, payload);
	uint32_t  sent  = 0;
	long long until = tu_now_ms() + 3000; /* a server that reads no more ends the flood */
	for (uint32_t i = 0; i < 256; i++) {
		uint8_t *env = NULL;
		size_t n = pack_raw_request("/frep.test.v1.Echo/Echo", payload, pl, 60000, 0, &env);
		uint8_t  head[12];
		uint64_t frame = (uint64_t) n + 4;
		for (int k = 0; k < 8; k++) {
			head[k] = (uint8_t) (frame >> (56 - 8 * k));
		}
		uint32_t id = 0x80000000u | (i + 1);
		for (int k = 0; k < 4; k++) {
			head[8 + k] = (uint8_t) (id >> (24 - 8 * k));
		}
		bool ok = write_all(fd, head, sizeof(head), until) && write_all(fd, env, n, until);
		free(env);
		if (!ok) {
			break; /* the server reads no more of this peer's requests */
		}
		sent++;
	}
	print_message("%u calls of 64 KiB sent whole, no reply read\n", sent);
	assert_true(sent >= 6); /* more than the server's 4 contexts */
	free(payload);
	free(data);

	/* Another client is answered, within its deadline. */
	echo_exact(f->client, "/frep.test.v1.Echo/Echo", 10, 2);
	close(fd);
}

/* A chain of depth PathProbe messages, each the first child of the one
 * above; the deepest gets name and tags. Free with path_chain_free. */
static Frep__Test__V1__PathProbe *
path_chain(unsigned depth, const char *name, const char *const *tags, size_t n_tags)
{
	Frep__Test__V1__PathProbe *m = calloc(1, sizeof(*m));
	frep__test__v1__path_probe__init(m);
	if (depth > 1) {
		m->n_children  = 1;
		m->children    = calloc(1, sizeof(*m->children));
		m->children[0] = path_chain(depth - 1, name, tags, n_tags);
	} else {
		m->name   = (char *) name;
		m->n_tags = n_tags;
		m->tags   = (char **) tags;
	}
	return m;
}

static void
path_chain_free(Frep__Test__V1__PathProbe *m)
{
	if (m->n_children > 0) {
		path_chain_free(m->children[0]);
		free(m->children);
	}
	free(m);
}

/* Checks the packed m: code and, if want is not NULL, a message that
 * contains it. */
static void
expect_text_check(const Frep__Test__V1__PathProbe *m, frep_code code, const char *want)
{
	size_t   n = frep__test__v1__path_probe__get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);
	frep__test__v1__path_probe__pack(m, b);
	frep_status st = {0};
	frep_code   rc = rpc_payload_check_text(&frep__test__v1__path_probe__descriptor, b, n, &st);
	if (rc != code || (want != NULL && strstr(st.message, want) == NULL)) {
		fail_msg("want %s \"%s\", got %s \"%s\"", frep_code_name(code), want ? want : "",
		    frep_code_name(rc), st.message);
	}
	free(b);
}

/* Proves: rpc_payload_check_text names the field by its whole path —
 * message fields by name, repeated ones with the occurrence's index
 * ("children[0].children[1].tags[2]"), the byte and the payload offset —
 * for a NUL and for bytes that are not UTF-8 at any depth; refuses
 * nesting deeper than 64 levels naming the path (cut at 255 bytes); and
 * passes text that is valid, however deep up to 64. The path is built
 * only for the error (it was formatted for every field walked). */
static void
test_rpc_payload_check_names_the_path(void **state)
{
	(void) state;
	static const char *const ok_tags[]  = {"x", "é", "z"};
	static const char *const bad_tags[] = {"x", "y", "a\xff"};

	Frep__Test__V1__PathProbe *m = path_chain(1,
	    "a\xc0\xaf"
	    "b",
	    NULL, 0);
	expect_text_check(m, FREP_INVALID_ARGUMENT, "name: byte 1 of 4 (0xc0, payload offset 3)");
	path_chain_free(m);

	m = path_chain(3, "ok", bad_tags, 3);
	expect_text_check(m, FREP_INVALID_ARGUMENT, "children[0].children[0].tags[2]: byte 1 of 2");
	path_chain_free(m);

	/* The second child of the first: its index counts occurrences. */
	m                                 = path_chain(2, "ok", ok_tags, 3);
	Frep__Test__V1__PathProbe *second = path_chain(1, "ok", ok_tags, 3);
	second->name                      = "\xed\xa0\x80"; /* a surrogate */
	Frep__Test__V1__PathProbe **kids  = calloc(2, sizeof(*kids));
	kids[0]                           = m->children[0];
	kids[1]                           = second;
	free(m->children);
	m->children   = kids;
	m->n_children = 2;
	expect_text_check(m, FREP_INVALID_ARGUMENT, "children[1].name: byte 0 of 3 (0xed");
	m->n_children = 1;
	path_chain_free(second);
	path_chain_free(m);

	/* A NUL (protobuf-c packs C strings, so the bytes by hand). */
	static const uint8_t nul[] = {0x12, 0x05, 0x0a, 0x03, 'n', 0x00, 'l'};
	frep_status          st    = {0};
	assert_int_equal(
	    rpc_payload_check_text(&frep__test__v1__path_probe__descriptor, nul, sizeof(nul), &st),
	    FREP_INVALID_ARGUMENT);
	assert_non_null(
	    strstr(st.message, "children[0].name: byte 1 of 3 is a NUL (payload offset 5)"));

	m = path_chain(65, "ok", ok_tags, 3); /* 64 levels below the top */
	expect_text_check(m, FREP_OK, NULL);
	path_chain_free(m);

	m = path_chain(66, "ok", ok_tags, 3);
	expect_text_check(m, FREP_INVALID_ARGUMENT, "messages nested deeper than 64 levels");
	/* 65 × "children[0]." cut at 255 bytes: 21 whole levels, then "chi". */
	char want[300] = "";
	for (int i = 0; i < 21; i++) {
		strcat(want, i ? ".children[0]" : "children[0]");
	}
	strcat(want, ".chi: messages nested");
	expect_text_check(m, FREP_INVALID_ARGUMENT, want);
	path_chain_free(m);
}

/* n names of len letters (at most 127) as a ReplicateByNameRequest
 * payload (len + 2 bytes each). */
static uint8_t *
names_payload_of(size_t n, size_t len)
{
	uint8_t *p = malloc((len + 2) * n + 1);
	for (size_t i = 0; i < n; i++) {
		p[(len + 2) * i]     = 0x0a;
		p[(len + 2) * i + 1] = (uint8_t) len;
		memset(p + (len + 2) * i + 2, 'a', len);
	}
	return p;
}

/* n one-letter names (3 bytes each). */
static uint8_t *
names_payload(size_t n)
{
	return names_payload_of(n, 1);
}

/* Decodes payload with the plain budget and with the arena's; both must
 * agree (refused or not, the same bytes counted). Returns the arena's. */
static bool
decode_both(rpc_decode_arena *arena, const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, size_t *used, size_t *blocks)
{
	rpc_budget_allocator plain, ar;
	rpc_budget_allocator_init(&plain, len);
	ProtobufCMessage *m1 = protobuf_c_message_unpack(d, &plain.base, len, p);
	rpc_budget_allocator_init_arena(&ar, len, arena);
	assert_true(arena->in_use);
	ProtobufCMessage *m2 = protobuf_c_message_unpack(d, &ar.base, len, p);
	assert_int_equal(m1 == NULL, m2 == NULL);
	assert_int_equal(plain.exceeded, ar.exceeded);
	if (m1 != NULL) {
		/* The arena counts each allocation as malloc's chunk for it
		 * (under ASan: the size asked for, as ASan's malloc does);
		 * glibc hands out a little more now and then (a split chunk's
		 * remainder too small to keep, pages for mmapped ones). The
		 * decoder's scratch, freed when it ends, is counted by both. */
		assert_true(ar.used <= plain.peak);
		assert_true(plain.peak - ar.used <= plain.peak / 100 + 4096);
		uint8_t *b1 = malloc(protobuf_c_message_get_packed_size(m1));
		uint8_t *b2 = malloc(protobuf_c_message_get_packed_size(m2));
		size_t   n1 = protobuf_c_message_pack(m1, b1);
		assert_int_equal(protobuf_c_message_pack(m2, b2), n1);
		assert_memory_equal(b1, b2, n1);
		free(b1);
		free(b2);
		protobuf_c_message_free_unpacked(m1, &plain.base);
	}
	*used   = ar.used;
	*blocks = rpc_decode_arena_blocks(arena);
	rpc_decode_arena_reset(arena);
	assert_null(arena->big);
	assert_false(arena->in_use);
	return m2 != NULL;
}

/* Proves: decoding into a worker's arena refuses exactly what the malloc
 * budget refuses (8x the payload, glibc chunks counted), decodes the same
 * message, grows to the demand it saw up to RPC_DECODE_ARENA_KEEP (never
 * beyond: bigger calls use malloc'd chunks freed at the reset, a few for
 * thousands of fields, not one per field; an array too big for a chunk
 * gets its own block) and shrinks back after RPC_DECODE_ARENA_WINDOW
 * small calls. ASan: nothing leaks. */
static void
test_rpc_decode_arena_same_budget_bounded(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor *d      = &frep__v1__replicate_by_name_request__descriptor;
	rpc_decode_arena                  arena  = {0};
	size_t                            used   = 0;
	size_t                            blocks = 0;

	uint8_t *p = names_payload(10);
	assert_true(decode_both(&arena, d, p, 30, &used, &blocks));
	free(p);
	/* 2,000 names: ~32 KiB of strings and pointers, kept. */
	p = names_payload(2000);
	assert_true(decode_both(&arena, d, p, 6000, &used, &blocks));
	assert_true(arena.cap >= used / 2 && arena.cap <= RPC_DECODE_ARENA_KEEP);
	size_t kept = arena.cap;
	assert_true(decode_both(&arena, d, p, 6000, &used, &blocks));
	assert_int_equal(arena.cap, kept); /* fits: no new buffer */
	free(p);
	/* 400,000 names (1.2 MB): refused by the budget, both ways. */
	p = names_payload(400000);
	assert_false(decode_both(&arena, d, p, 1200000, &used, &blocks));
	assert_true(arena.cap <= RPC_DECODE_ARENA_KEEP);
	free(p);
	/* 8,000 names (24 KB): ~0.5 MB decoded (under the 1 MiB minimum
	 * budget), over the keep limit: not kept. */
	p = names_payload(8000);
	assert_true(decode_both(&arena, d, p, 24000, &used, &blocks));
	assert_true(used > RPC_DECODE_ARENA_KEEP);
	assert_true(arena.cap <= RPC_DECODE_ARENA_KEEP);
	assert_true(blocks >= 1 && blocks <= 4); /* 64 + 128 + 256 KiB chunks */
	free(p);
	/* 20,000 names of 20 letters (440 KB): a 160 KB pointer array (a
	 * block of its own) and 20,000 strings in chunks. */
	p = names_payload_of(20000, 20);
	assert_true(decode_both(&arena, d, p, 440000, &used, &blocks));
	assert_true(used > 20000 * 32);
	assert_true(blocks >= 2 && blocks <= 6);
	free(p);
	/* A whole window of small calls (the current one saw the big ones):
	 * the buffer shrinks. */
	p = names_payload(1);
	for (unsigned i = 0; i < 2 * RPC_DECODE_ARENA_WINDOW; i++) {
		assert_true(decode_both(&arena, d, p, 3, &used, &blocks));
	}
	assert_true(arena.cap < kept);
	free(p);
	rpc_decode_arena_fini(&arena);
	assert_null(arena.buf);
}

typedef struct sleeper {
	frep_client *c;
	unsigned     ms;
	frep_code    code;
	frep_status  st;
} sleeper;

static void *
sleeper_main(void *arg)
{
	sleeper                     *sl  = arg;
	Frep__Test__V1__SleepRequest req = FREP__TEST__V1__SLEEP_REQUEST__INIT;
	ProtobufCMessage            *out = NULL;
	req.ms                           = sl->ms;
	sl->code = frep_client_call(sl->c, "/frep.test.v1.Echo/Sleep", &req.base,
	    &frep__test__v1__sleep_response__descriptor, &out, NULL, &sl->st);
	protobuf_c_message_free_unpacked(out, NULL);
	return NULL;
}

/* Waits (bounded) until the server has started n Sleep handlers. */
static void
wait_sleep_calls(echo_service *e, uint64_t n)
{
	long long until = tu_now_ms() + 5000;
	while (echo_service_sleep_calls(e) < n && tu_now_ms() < until) {
		nng_msleep(2);
	}
	assert_true(echo_service_sleep_calls(e) >= n);
}

/* One worker busy sleeping; a request queued behind it with a 100 ms
 * deadline is answered DEADLINE_EXCEEDED by the server without running. */
static void
test_rpc_expired_deadline_skips_handler(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.workers = 1};
	server_up(f, &cfg);
	client_up(f, NULL);

	pthread_t t;
	sleeper   sl = {.c = f->client, .ms = 600};
	pthread_create(&t, NULL, sleeper_main, &sl);
	wait_sleep_calls(f->echo, 1);

	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	uint8_t                     payload[64];
	size_t                      pl  = frep__test__v1__echo_request__pack(&req, payload);
	uint8_t                    *env = NULL;
	size_t n = pack_raw_request("/frep.test.v1.Echo/Echo", payload, pl, 100, 0, &env);
	/* The raw socket waits longer than the deadline: the reply is the server's. */
	Frep__Rpc__V1__Response *r = raw_call(f->url, env, n, 5000);
	assert_non_null(r);
	assert_int_equal(r->code, FREP_DEADLINE_EXCEEDED);
	assert_non_null(strstr(r->message, "before /frep.test.v1.Echo/Echo started"));
	frep__rpc__v1__response__free_unpacked(r, NULL);
	free(env);
	pthread_join(t, NULL);
	check_ok(sl.code, &sl.st);
	assert_int_equal(echo_service_echo_calls(f->echo), 0);

	/* The client side: a call that cannot finish in time fails with
	 * DEADLINE_EXCEEDED at its own deadline. */
	/* The server would answer after 3 s; the client's 100 ms deadline
	 * must end the call first (the bound is that event, not a tight time). */
	sleeper slow = {.c = f->client, .ms = 3000};
	frep_client_set_call_timeout(f->client, 100);
	long long t0 = tu_now_ms();
	sleeper_main(&slow);
	frep_client_set_call_timeout(f->client, 0);
	assert_int_equal(slow.code, FREP_DEADLINE_EXCEEDED);
	assert_true(tu_now_ms() - t0 < 3000);
}

static void
test_rpc_oversized_request_refused(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.max_message_bytes = 64 * 1024};
	frep_status   st;
	echo_result   r;
	server_up(f, &cfg);
	client_up(f, NULL);

	/* The client learns the limit and refuses before sending. */
	assert_int_equal(stub_echo(f->client, 1, 100 * 1024, &r, &st), FREP_RESOURCE_EXHAUSTED);
	assert_false(r.got);
	assert_non_null(strstr(st.message, "65536"));
	assert_int_equal(frep_client_server_max_message_bytes(f->client, &st), 64 * 1024);
	assert_int_equal(echo_service_echo_calls(f->echo), 0);

	/* A raw client that sends it anyway: nng drops it unread and no
	 * handler runs; the server keeps serving. */
	size_t   big     = 200 * 1024;
	uint8_t *payload = calloc(1, big);
	uint8_t *env     = NULL;
	size_t   n       = pack_raw_request("/frep.test.v1.Echo/Echo", payload, big, 0, 0, &env);
	assert_null(raw_call(f->url, env, n, 300));
	free(env);
	free(payload);
	check_ok(stub_echo(f->client, 2, 1000, &r, &st), &st);
	assert_int_equal(echo_service_echo_calls(f->echo), 1);

	/* Just under the limit still goes through. */
	check_ok(stub_echo(f->client, 3, 60 * 1024, &r, &st), &st);
	assert_int_equal(r.len, 60 * 1024);
}

static void
test_rpc_metadata_reaches_handler(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	frep_status   st;
	server_up(f, &cfg);
	client_up(f, NULL);
	frep_metadata               md[] = {{"x-request-id", "req-7"}};
	frep_call_options           co   = {.metadata = md, .n_metadata = 1};
	Frep__Test__V1__EchoRequest e    = FREP__TEST__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage           *out  = NULL;
	check_ok(frep_client_call(f->client, "/frep.test.v1.Echo/Echo", &e.base,
		     &frep__test__v1__echo_response__descriptor, &out, &co, &st),
	    &st);
	protobuf_c_message_free_unpacked(out, NULL);
	Frep__Test__V1__CountsRequest cr = FREP__TEST__V1__COUNTS_REQUEST__INIT;
	check_ok(frep_client_call(f->client, "/frep.test.v1.Echo/GetCounts", &cr.base,
		     &frep__test__v1__counts_response__descriptor, &out, NULL, &st),
	    &st);
	assert_string_equal(((Frep__Test__V1__CountsResponse *) out)->last_request_id, "req-7");
	protobuf_c_message_free_unpacked(out, NULL);
}

static void
test_rpc_bearer_token_required(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.token = "s3cret-token"};
	frep_status   st;
	echo_result   r;
	server_up(f, &cfg);

	client_up(f, NULL);
	assert_int_equal(stub_echo(f->client, 1, 10, &r, &st), FREP_UNAUTHENTICATED);
	assert_null(strstr(st.message, "s3cret-token"));
	frep_client_close(f->client);

	frep_client_options wrong = {.token = "s3cret-tokeX"};
	client_up(f, &wrong);
	assert_int_equal(stub_echo(f->client, 1, 10, &r, &st), FREP_UNAUTHENTICATED);
	/* Health needs no token. */
	ProtobufCMessage            *out = NULL;
	Frep__V1__HealthCheckRequest h   = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	check_ok(frep_client_call(f->client, "/frep.v1.Health/Check", &h.base,
		     &frep__v1__health_check_response__descriptor, &out, NULL, &st),
	    &st);
	protobuf_c_message_free_unpacked(out, NULL);
	frep_client_close(f->client);

	frep_client_options right = {.token = "s3cret-token"};
	client_up(f, &right);
	check_ok(stub_echo(f->client, 1, 10, &r, &st), &st);
	assert_int_equal(echo_service_echo_calls(f->echo), 1);
}

#define N_THREADS 16
#define N_CALLS   1000

typedef struct hammer {
	frep_client *c;
	unsigned     id;
	unsigned     mismatches;
	unsigned     failures;
	frep_status  last;
} hammer;

static void *
hammer_main(void *arg)
{
	hammer *h = arg;
	for (unsigned i = 0; i < N_CALLS; i++) {
		uint64_t    tag = ((uint64_t) h->id << 32) | i;
		echo_result r;
		frep_status st;
		size_t      len = 1 + (i % 97);
		if (stub_echo(h->c, tag, len, &r, &st) != FREP_OK) {
			h->failures++;
			h->last = st;
			continue;
		}
		if (!r.got || r.tag != tag || r.len != len || r.first != (uint8_t) (tag & 0xff)) {
			h->mismatches++;
		}
	}
	return NULL;
}

static void
test_rpc_16_threads_share_one_client(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	server_up(f, &cfg);
	client_up(f, NULL);
	pthread_t t[N_THREADS];
	hammer    h[N_THREADS];
	for (unsigned i = 0; i < N_THREADS; i++) {
		h[i] = (hammer){.c = f->client, .id = i};
		pthread_create(&t[i], NULL, hammer_main, &h[i]);
	}
	unsigned failures = 0, mismatches = 0;
	for (unsigned i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		failures += h[i].failures;
		mismatches += h[i].mismatches;
		if (h[i].failures > 0) {
			print_error("thread %u: %s: %s\n", i, frep_code_name(h[i].last.code),
			    h[i].last.message);
		}
	}
	assert_int_equal(failures, 0);
	assert_int_equal(mismatches, 0);
	assert_int_equal(echo_service_echo_calls(f->echo), N_THREADS * N_CALLS);
}

/* A call that changes state must not run twice when its connection drops:
 * the client fails it with UNAVAILABLE instead of letting nng resend it to
 * the server that comes back. */
static void
test_rpc_dropped_connection_does_not_rerun_call(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {.workers = 2};
	server_up(f, &cfg);
	client_up(f, NULL);

	pthread_t t;
	sleeper   sl = {.c = f->client, .ms = 400};
	pthread_create(&t, NULL, sleeper_main, &sl);
	wait_sleep_calls(f->echo, 1);
	/* Drop the server without draining: the connection closes mid-call. */
	server_down(f, 0);
	server_up(f, &cfg); /* same ipc path, fresh counters */
	pthread_join(t, NULL);
	if (sl.code != FREP_UNAVAILABLE ||
	    strstr(sl.st.message, "may or may not have run") == NULL) {
		fail_msg("got %s: %s", frep_code_name(sl.code), sl.st.message);
	}
	/* The client redials and works; the new server never saw the Sleep. */
	assert_int_equal(tu_wait_healthy(f->url, 5000), 0);
	echo_result r;
	frep_status st;
	check_ok(stub_echo(f->client, 5, 5, &r, &st), &st);
	assert_int_equal(echo_service_sleep_calls(f->echo), 0);
}

/* --- keepalive ----------------------------------------------------------- */

/* A fake server on an ipc:// path that completes the SP handshake as a rep0
 * peer and then never answers (what nng 1.5.2's ipc listener does to a
 * connection it strands, #1518's family). */
typedef struct stranding {
	int             lfd; /* listening */
	int             cfd; /* the accepted connection, -1 before */
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             frames; /* request frames read */
	bool            eof;    /* the client closed the connection */
} stranding;

static bool
read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *) buf + got, n - got);
		if (r <= 0) {
			return false;
		}
		got += (size_t) r;
	}
	return true;
}

static void *
stranding_main(void *arg)
{
	stranding *sd = arg;
	int        fd = accept(sd->lfd, NULL, NULL);
	uint8_t    head[8];
	pthread_mutex_lock(&sd->mtx);
	sd->cfd = fd;
	pthread_mutex_unlock(&sd->mtx);
	/* nng's ipc handshake: 0 'S' 'P' 0, the protocol (rep0: 0x31), 0 0. */
	const uint8_t rep0[8] = {0, 'S', 'P', 0, 0x00, 0x31, 0, 0};
	if (fd >= 0 && read_full(fd, head, sizeof(head)) &&
	    write(fd, rep0, sizeof(rep0)) == (ssize_t) sizeof(rep0)) {
		/* Each message: type 1, a 64-bit big-endian length, the body. */
		uint8_t frame[9];
		while (read_full(fd, frame, sizeof(frame))) {
			uint64_t len = 0;
			for (int i = 1; i < 9; i++) {
				len = len << 8 | frame[i];
			}
			char   skip[4096];
			size_t left = (size_t) len;
			bool   ok   = true;
			while (ok && left > 0) {
				size_t k = left < sizeof(skip) ? left : sizeof(skip);
				ok       = read_full(fd, skip, k);
				left -= k;
			}
			if (!ok) {
				break;
			}
			pthread_mutex_lock(&sd->mtx);
			sd->frames++;
			pthread_cond_broadcast(&sd->cv);
			pthread_mutex_unlock(&sd->mtx);
		}
	}
	pthread_mutex_lock(&sd->mtx);
	sd->eof = true;
	pthread_cond_broadcast(&sd->cv);
	pthread_mutex_unlock(&sd->mtx);
	return NULL;
}

/* One call of method with an empty request (zero bytes: any request type),
 * its reply decoded as out. */
typedef struct caller {
	frep_client                      *c;
	const char                       *method;
	const ProtobufCMessageDescriptor *out;
	frep_code                         code;
	frep_status                       st;
} caller;

static void *
caller_main(void *arg)
{
	caller                     *k   = arg;
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage           *out = NULL;
	frep_call_options           co  = {.timeout_ms = 60000, .wait_for_ready = true};
	k->code = frep_client_call(k->c, k->method, &req.base, k->out, &out, &co, &k->st);
	protobuf_c_message_free_unpacked(out, NULL);
	return NULL;
}

/* A connection the server side never reads: before, both calls waited for
 * their whole 60 s deadline (DEADLINE_EXCEEDED) and the client kept the
 * connection. Now the client pings it after 5 s without a reply, closes it
 * when the ping goes unanswered too, and the read-only call is answered by
 * the real server that now listens there; the other call fails UNAVAILABLE
 * ("may or may not have run") and never reached a server. */
static void
test_rpc_client_keepalive_closes_a_stranded_connection(void **state)
{
	fixture           *f = *state;
	stranding          sd;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memset(&sd, 0, sizeof(sd));
	sd.cfd = -1;
	pthread_mutex_init(&sd.mtx, NULL);
	pthread_cond_init(&sd.cv, NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/rpc.sock", f->dir);
	snprintf(f->url, sizeof(f->url), "ipc://%s", sa.sun_path);
	sd.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sd.lfd >= 0);
	assert_int_equal(bind(sd.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(sd.lfd, 4), 0);
	pthread_t fake;
	pthread_create(&fake, NULL, stranding_main, &sd);
	client_up(f, NULL);

	caller    reader = {.c = f->client,
	       .method         = "/frep.test.v1.Echo/GetCounts",
	       .out            = &frep__test__v1__counts_response__descriptor};
	caller    writer = {.c = f->client,
	       .method         = "/frep.test.v1.Echo/Echo",
	       .out            = &frep__test__v1__echo_response__descriptor};
	pthread_t tr, tw;
	pthread_create(&tr, NULL, caller_main, &reader);
	pthread_create(&tw, NULL, caller_main, &writer);
	/* Both requests are on the stranded connection; then the fake stops
	 * listening and the real server takes the path. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&sd.mtx);
	while (sd.frames < 2 && !sd.eof && pthread_cond_timedwait(&sd.cv, &sd.mtx, &until) == 0) {
	}
	int sent = sd.frames;
	pthread_mutex_unlock(&sd.mtx);
	if (sent < 2) {
		fail_msg("the two calls never reached the fake server (%d frames)", sent);
	}
	close(sd.lfd);
	unlink(sa.sun_path);
	char url[600];
	snprintf(url, sizeof(url), "%s", f->url);
	server_config cfg = {.workers = 2, .url = url};
	server_up(f, &cfg);

	pthread_join(tr, NULL);
	pthread_join(tw, NULL);
	/* The client closes the connection (the fake reads its end) soon
	 * after the ping went unanswered; the wait is bounded. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&sd.mtx);
	while (!sd.eof && pthread_cond_timedwait(&sd.cv, &sd.mtx, &until) == 0) {
	}
	bool closed = sd.eof;
	pthread_mutex_unlock(&sd.mtx);
	shutdown(sd.cfd, SHUT_RDWR); /* ends the fake in any case */
	pthread_join(fake, NULL);
	close(sd.cfd);
	print_message("read-only call: %s: %s\nother call: %s: %s\nframes on the stranded "
		      "connection: %d; closed by the client: %s\n",
	    frep_code_name(reader.code), reader.st.message, frep_code_name(writer.code),
	    writer.st.message, sd.frames, closed ? "yes" : "no");
	assert_int_equal(reader.code, FREP_OK);
	assert_int_equal(writer.code, FREP_UNAVAILABLE);
	assert_non_null(strstr(writer.st.message, "may or may not have run"));
	assert_true(closed);
	assert_true(sd.frames >= 3); /* the two calls and a ping */
	assert_int_equal(echo_service_echo_calls(f->echo), 0);
	/* The client works on: the other call, sent again by its caller. */
	caller again = writer;
	caller_main(&again);
	assert_int_equal(again.code, FREP_OK);
	assert_int_equal(echo_service_echo_calls(f->echo), 1);
	pthread_mutex_destroy(&sd.mtx);
	pthread_cond_destroy(&sd.cv);
}

/* How many keepalive pings (Introspection/GetServerInfo) the fixture's
 * server answered OK, from its metrics (0 if none). */
static long
pings_answered(fixture *f)
{
	size_t      len  = 0;
	char       *text = rpc_metrics_render(rpc_server_metrics(f->server), &len);
	const char *key  = "frep_rpc_calls_total{method=\"/frep.rpc.v1.Introspection/"
			   "GetServerInfo\",code=\"OK\"} ";
	assert_non_null(text);
	const char *at    = strstr(text, key);
	long        pings = at != NULL ? strtol(at + strlen(key), NULL, 10) : 0;
	free(text);
	print_message("pings answered: %ld\n", pings);
	return pings;
}

/* A call longer than the keepalive time and its timeout together (5 s +
 * 10 s) on a live server is not cut: the server answers the pings (from
 * its I/O thread, its one worker busy) and the call, which is not
 * read-only, completes once. A keepalive that closed the connection
 * without waiting for the ping's answer fails it UNAVAILABLE. */
static void
test_rpc_client_keepalive_spares_a_slow_server(void **state)
{
	fixture *f = *state;
	/* tcp://: an ipc:// listener's watchdog would call GetServerInfo too. */
	server_config cfg = {.workers = 1, .url = "tcp://127.0.0.1:0"};
	server_up(f, &cfg);
	client_up(f, NULL);
	sleeper sl = {.c = f->client, .ms = 16500};
	sleeper_main(&sl);
	if (sl.code != FREP_OK) {
		fail_msg("Sleep: %s: %s", frep_code_name(sl.code), sl.st.message);
	}
	assert_int_equal(echo_service_sleep_calls(f->echo), 1);
	/* Pings reached the server and were answered: at about 5 s and 10 s
	 * (one at a time, a whole keepalive time apart), maybe at 15 s. */
	long pings = pings_answered(f);
	assert_true(pings >= 2 && pings <= 3);
}

/* Threads of this process named "frep-keepalive" (the C client's
 * keepalive threads). */
static int
keepalive_threads(void)
{
	DIR           *d = opendir("/proc/self/task");
	struct dirent *de;
	int            n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char  path[300], comm[64] = "";
		FILE *fp;
		if (de->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		if ((fp = fopen(path, "r")) == NULL) {
			continue; /* ended meanwhile */
		}
		if (fgets(comm, sizeof(comm), fp) != NULL &&
		    strncmp(comm, "frep-keepalive", 14) == 0) {
			n++;
		}
		fclose(fp);
	}
	closedir(d);
	return n;
}

/* A client's keepalive thread ends once no call has waited for 10 s, and
 * the next call starts it again, with its pings: 8 clients, one call each,
 * hold 8 keepalive threads, then none; a 6.5 s call on one of them (longer
 * than the 5 s keepalive time) is pinged by a new thread. Before, every
 * client kept its thread until closed: a process holding thousands of
 * clients held thousands of idle threads. */
static void
test_rpc_client_keepalive_thread_ends_when_idle(void **state)
{
	fixture *f = *state;
	/* tcp://: an ipc:// listener's watchdog would call GetServerInfo too. */
	server_config cfg = {.workers = 2, .url = "tcp://127.0.0.1:0"};
	server_up(f, &cfg);
	enum { N = 8 };
	frep_client *more[N - 1];
	frep_status  st;
	client_up(f, NULL);
	for (int i = 0; i < N - 1; i++) {
		check_ok(frep_client_open(f->url, NULL, &more[i], &st), &st);
	}
	int before = keepalive_threads();
	for (int i = 0; i < N; i++) {
		sleeper sl = {.c = i == 0 ? f->client : more[i - 1], .ms = 1};
		sleeper_main(&sl);
		assert_int_equal(sl.code, FREP_OK);
	}
	int busy = keepalive_threads();
	print_message("keepalive threads: %d before the calls, %d after\n", before, busy);
	assert_int_equal(before, 0);
	assert_int_equal(busy, N);
	long long until = tu_now_ms() + 30000;
	while (keepalive_threads() > 0) {
		if (tu_now_ms() > until) {
			fail_msg("%d keepalive threads still there 30 s after the calls",
			    keepalive_threads());
		}
		nng_msleep(100);
	}
	sleeper sl = {.c = f->client, .ms = 6500};
	sleeper_main(&sl);
	if (sl.code != FREP_OK) {
		fail_msg("Sleep: %s: %s", frep_code_name(sl.code), sl.st.message);
	}
	assert_int_equal(keepalive_threads(), 1);
	assert_true(pings_answered(f) >= 1);
	for (int i = 0; i < N - 1; i++) {
		frep_client_close(more[i]);
	}
}

/* The same call id twice runs once; the repeat gets the first reply. */
static void
test_rpc_repeated_call_id_answered_from_cache(void **state)
{
	fixture      *f   = *state;
	server_config cfg = {0};
	server_up(f, &cfg);
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	req.tag                         = 777;
	uint8_t  payload[64];
	size_t   pl  = frep__test__v1__echo_request__pack(&req, payload);
	uint8_t *env = NULL;
	size_t   n   = pack_raw_request("/frep.test.v1.Echo/Echo", payload, pl, 0, 0xfeedULL, &env);
	for (int i = 0; i < 2; i++) {
		Frep__Rpc__V1__Response *r = raw_call(f->url, env, n, 5000);
		assert_non_null(r);
		assert_int_equal(r->code, FREP_OK);
		assert_int_equal(r->call_id, 0xfeedULL);
		Frep__Test__V1__EchoResponse *e =
		    frep__test__v1__echo_response__unpack(NULL, r->payload.len, r->payload.data);
		assert_int_equal(e->tag, 777);
		frep__test__v1__echo_response__free_unpacked(e, NULL);
		frep__rpc__v1__response__free_unpacked(r, NULL);
	}
	free(env);
	assert_int_equal(echo_service_echo_calls(f->echo), 1);
}

static void
run_transport(
    fixture *f, const char *url, const rpc_tls_options *tls, const frep_client_options *co)
{
	server_config cfg = {.url = url, .tls = tls};
	frep_status   st;
	echo_result   r;
	server_up(f, &cfg);
	client_up(f, co);
	check_ok(stub_echo(f->client, 11, 4096, &r, &st), &st);
	assert_int_equal(r.len, 4096);
	frep_client_close(f->client);
	f->client = NULL;
	server_down(f, 1000);
}

static void
test_rpc_transports_tcp_ws_tls(void **state)
{
	fixture *f = *state;
	run_transport(f, "tcp://127.0.0.1:0", NULL, NULL);
	run_transport(f, "ws://127.0.0.1:0/frep", NULL, NULL);

	/* A CA and a server certificate for 127.0.0.1, made now. */
	assert_int_equal(
	    tu_system("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		      "-nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=frep-test-ca "
		      ">/dev/null 2>&1 && "
		      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
		      "printf 'subjectAltName=DNS:localhost' > ext.cnf && "
		      "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		      "-out srv.crt -days 2 -extfile ext.cnf >/dev/null 2>&1",
		f->dir),
	    0);
	char cert[700], key[700], ca[700];
	snprintf(cert, sizeof(cert), "%s/srv.crt", f->dir);
	snprintf(key, sizeof(key), "%s/srv.key", f->dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", f->dir);
	rpc_tls_options     tls = {.cert_file = cert, .key_file = key};
	frep_client_options co  = {.tls_ca_file = ca, .tls_server_name = "localhost"};
	run_transport(f, "tls+tcp://127.0.0.1:0", &tls, &co);

	/* A client that does not trust the CA never gets an answer. */
	server_config cfg = {.url = "tls+tcp://127.0.0.1:0", .tls = &tls};
	frep_status   st;
	echo_result   r;
	server_up(f, &cfg);
	frep_client_options untrusting = {.tls_ca_file = cert, .timeout_ms = 500};
	client_up(f, &untrusting);
	assert_int_not_equal(stub_echo(f->client, 1, 1, &r, &st), FREP_OK);
	assert_int_equal(echo_service_echo_calls(f->echo), 0);
}

static void
test_rpc_bad_options_are_clear_errors(void **state)
{
	(void) state;
	rpc_server        *s = NULL;
	frep_status        st;
	rpc_server_options small = {.max_message_bytes = 1000};
	assert_int_equal(rpc_server_new(&small, &s, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "max_message_bytes 1000"));
	assert_int_equal(rpc_server_new(NULL, &s, &st), FREP_OK);
	rpc_tls_options none = {0};
	assert_int_equal(
	    rpc_server_listen(s, "tls+tcp://127.0.0.1:0", &none, &st), FREP_INVALID_ARGUMENT);
	rpc_tls_options missing = {.cert_file = "/nonexistent.crt", .key_file = "/nonexistent.key"};
	assert_int_equal(
	    rpc_server_listen(s, "tls+tcp://127.0.0.1:0", &missing, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "/nonexistent.crt"));
	assert_int_equal(
	    rpc_server_listen(s, "bogus://x", NULL, &st), FREP_OK); /* checked at start */
	assert_int_equal(rpc_server_start(s, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "bogus://x"));
	rpc_server_free(s);

	frep_client *c = NULL;
	assert_int_equal(frep_client_open("bogus://x", NULL, &c, &st), FREP_INVALID_ARGUMENT);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_rpc_dispatch_through_generated_stub, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_unknown_method_is_unimplemented, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_undecodable_payload_is_invalid_argument, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_handler_status_reaches_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_closure_after_handler_returns, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_expired_deadline_skips_handler, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_oversized_request_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_metadata_reaches_handler, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_bearer_token_required, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_16_threads_share_one_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_dropped_connection_does_not_rerun_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_repeated_call_id_answered_from_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_transports_tcp_ws_tls, setup, teardown),
	    cmocka_unit_test(test_rpc_bad_options_are_clear_errors),
	    cmocka_unit_test_setup_teardown(
		test_rpc_reply_in_request_buffer_any_size, setup, teardown),
	    cmocka_unit_test(test_rpc_decode_arena_same_budget_bounded),
	    cmocka_unit_test(test_rpc_payload_check_names_the_path),
	    cmocka_unit_test_setup_teardown(
		test_rpc_idle_trim_gives_memory_back_when_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_peer_reading_no_replies_is_disconnected, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_client_keepalive_closes_a_stranded_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_client_keepalive_spares_a_slow_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rpc_client_keepalive_thread_ends_when_idle, setup, teardown),
	};
	int rc = cmocka_run_group_tests_name("rpc_server", tests, NULL, NULL);
	nng_fini();
	return rc;
}
