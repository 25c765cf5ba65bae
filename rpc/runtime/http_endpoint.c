/*
 * http_endpoint: Connect unary calls over nng's HTTP server, each one turned
 * into a frep.rpc.v1 envelope and sent to the rpc_server through an
 * inproc:// listener (see http_endpoint.h for why).
 */
#include "http_endpoint.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "frep_envelope.h"
#include "frep_json.h"
#include "half_open.h"
#include "log.h"
#include "metrics.h"
#include "payload_check.h"
#include "server_internal.h"

#define MAX_GET_ROUTES 8

/* nng's HTTP server reads a request with no deadline and keeps every
 * connection a client leaves open: without a bound, idle or trickling
 * connections exhaust frepd's descriptors and stop the nng listeners too.
 * Beyond this many open connections on the HTTP port some are shut down
 * (half_open.c's scan, once a second): idle ones first (never sent a
 * byte, then answered and waiting), the oldest first among them; one with
 * a request in progress (a call in flight) only if that is all there is. */
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_GUARD_PERIOD_MS 1000
/* Memory a JSON body may take to become a message (jansson's tree and the
 * message built from it, together): this many times the body's size, and
 * at least HTTP_JSON_BUDGET_MIN. jansson's tree costs far more than its
 * text (`"a",` is 4 bytes of text and about 90 of tree, `{},` 3 and about
 * 245): the largest legitimate body, ReplicateByScopeId of 65,536 ids,
 * needs 6.8 times for the tree and about 3 more for the message; denser
 * text is refused RESOURCE_EXHAUSTED as soon as the budget runs out. */
/* The largest body a method that needs no token (Health, Introspection)
 * takes over HTTP; their requests are a service name at most. */
#define HTTP_NO_AUTH_BODY_MAX   (64u * 1024u)
#define HTTP_JSON_BUDGET_FACTOR 12
#define HTTP_JSON_BUDGET_MIN    (1u << 20)
/* Time the endpoint waits for the server beyond a call's own deadline
 * before it gives up on the answer (the server normally answers
 * DEADLINE_EXCEEDED itself). */
#define DEADLINE_GRACE_MS 2000

typedef struct get_route {
	char             *path;
	rpc_http_get_fn   fn;
	void             *arg;
	nng_http_handler *handler;
} get_route;

struct rpc_http {
	rpc_server       *server;
	char             *url;
	char             *bound_url;
	char              inproc[64];
	nng_url          *nurl;
	nng_http_server  *hs;
	nng_tls_config   *tls;
	nng_http_handler *rpc_handler;
	nng_socket        sock;
	bool              sock_open;
	bool              started;
	get_route         gets[MAX_GET_ROUTES];
	size_t            n_gets;

	pthread_mutex_t mtx;
	pthread_cond_t  idle_cv;
	size_t          in_flight; /* calls between the handler and their answer */

	/* Answered calls whose aio and context the guard thread frees (see
	 * call_done). */
	struct http_call *done;

	/* The connection bound (HTTP_MAX_CONNECTIONS) on port. */
	rpc_half_open *guard;
	int            port;
	pthread_t      guard_thread;
	bool           guard_running, guard_stop;
	pthread_cond_t guard_cv;
};

typedef enum call_state {
	CALL_SEND,
	CALL_RECV,
} call_state;

/* One HTTP call in flight: the HTTP server's aio to finish, our own aio and
 * context on the req socket. */
typedef struct http_call {
	rpc_http                        *h;
	nng_aio                         *http_aio;
	nng_aio                         *aio;
	nng_ctx                          ctx;
	call_state                       state;
	const ProtobufCMethodDescriptor *method;
	bool                             proto; /* application/proto, not JSON */
	uint32_t                         timeout_ms;
	char                             request_id[RPC_REQUEST_ID_MAX + 1];
	struct http_call                *next_done; /* on rpc_http.done */
} http_call;

/* --- jansson's memory, per call ------------------------------------------- */

/* jansson allocates through one pair of functions for the whole process
 * (json_set_alloc_funcs). The endpoint installs a malloc that counts
 * against the budget of the calling thread while it parses a request body
 * (json_budget_current, set only around that parse), and is plain malloc
 * on every other thread and at every other time; the free is free, so
 * memory is freed the same way whoever allocated it, before the functions
 * were installed or after. The message built from the tree is allocated
 * against the same budget (its protobuf-c allocator). Counted: each
 * block's usable size and glibc's chunk header, never given back (the tree
 * is freed only after the message is built). */
typedef rpc_http_json_budget json_budget;

static __thread json_budget *json_budget_current;
static pthread_once_t        json_budget_once = PTHREAD_ONCE_INIT;

static void *
json_budget_take(json_budget *b, size_t n)
{
	if (b->exceeded || b->used >= b->limit || n > b->limit - b->used) {
		b->exceeded = true;
		return NULL;
	}
	void *p = malloc(n);
	if (p != NULL) {
		b->used += malloc_usable_size(p) + sizeof(size_t);
	}
	return p;
}

static void *
json_budget_malloc(size_t n)
{
	json_budget *b = json_budget_current;
	return b != NULL ? json_budget_take(b, n) : malloc(n);
}

static void *
json_budget_alloc(void *data, size_t n)
{
	return json_budget_take(data, n);
}

static void
json_budget_free(void *data, void *p)
{
	(void) data;
	free(p);
}

static void
json_budget_install(void)
{
	json_set_alloc_funcs(json_budget_malloc, free);
}

frep_code
rpc_http_json_decode(const ProtobufCMessageDescriptor *d, const char *body, size_t len,
    rpc_http_json_budget *jb, ProtobufCMessage **out, frep_status *st)
{
	pthread_once(&json_budget_once, json_budget_install);
	/* jansson's tree and the message: one budget, a multiple of the
	 * body's size. */
	*jb = (json_budget){
	    .base  = {.alloc = json_budget_alloc, .free = json_budget_free},
	    .limit = len > HTTP_JSON_BUDGET_MIN / HTTP_JSON_BUDGET_FACTOR
			 ? len * HTTP_JSON_BUDGET_FACTOR
			 : HTTP_JSON_BUDGET_MIN,
	};
	jb->base.allocator_data = jb;
	json_budget_current     = jb;
	frep_code code          = frep_json_parse_message_with(d, body, len, &jb->base, out, st);
	json_budget_current     = NULL;
	if (code != FREP_OK && jb->exceeded) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
		    "JSON body of %zu bytes needs more than %zu bytes of memory to parse "
		    "(the bound: %d times its size, at least %u); refused",
		    len, jb->limit, HTTP_JSON_BUDGET_FACTOR, HTTP_JSON_BUDGET_MIN);
	}
	if (code != FREP_OK) {
		char why[FREP_STATUS_MESSAGE_MAX];
		snprintf(why, sizeof(why), "%s", st->message);
		return frep_status_set(st, code, "%s: %s", d->name, why);
	}
	return FREP_OK;
}

/* --- Connect's codes ----------------------------------------------------- */

/* connectrpc.com/docs/protocol#error-codes */
static const struct {
	const char *name;
	int         http;
} connect_codes[FREP_CODE_MAX + 1] = {
    [FREP_OK]                  = {"ok", 200},
    [FREP_CANCELLED]           = {"canceled", 499},
    [FREP_UNKNOWN]             = {"unknown", 500},
    [FREP_INVALID_ARGUMENT]    = {"invalid_argument", 400},
    [FREP_DEADLINE_EXCEEDED]   = {"deadline_exceeded", 504},
    [FREP_NOT_FOUND]           = {"not_found", 404},
    [FREP_ALREADY_EXISTS]      = {"already_exists", 409},
    [FREP_PERMISSION_DENIED]   = {"permission_denied", 403},
    [FREP_RESOURCE_EXHAUSTED]  = {"resource_exhausted", 429},
    [FREP_FAILED_PRECONDITION] = {"failed_precondition", 400},
    [FREP_ABORTED]             = {"aborted", 409},
    [FREP_OUT_OF_RANGE]        = {"out_of_range", 400},
    [FREP_UNIMPLEMENTED]       = {"unimplemented", 501},
    [FREP_INTERNAL]            = {"internal", 500},
    [FREP_UNAVAILABLE]         = {"unavailable", 503},
    [FREP_DATA_LOSS]           = {"data_loss", 500},
    [FREP_UNAUTHENTICATED]     = {"unauthenticated", 401},
};

int
rpc_http_status_for_code(frep_code code)
{
	return (int) code >= 0 && code <= FREP_CODE_MAX ? connect_codes[code].http : 500;
}

const char *
rpc_http_connect_code_name(frep_code code)
{
	return (int) code >= 0 && code <= FREP_CODE_MAX ? connect_codes[code].name : "unknown";
}

/* --- answering ----------------------------------------------------------- */

/* Finishes the HTTP server's aio with a response; copies body. The
 * request id (if any) is echoed in X-Request-Id; extra_header (NULL: none)
 * is one more header. */
static void
respond(nng_aio *aio, uint16_t status, const char *content_type, const void *body, size_t len,
    const char *request_id, const char *extra_header, const char *extra_value)
{
	nng_http_res *res = NULL;
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if (nng_http_res_set_status(res, status) != 0 ||
	    nng_http_res_set_header(res, "Content-Type", content_type) != 0 ||
	    (request_id != NULL && request_id[0] != '\0' &&
		nng_http_res_set_header(res, "X-Request-Id", request_id) != 0) ||
	    (extra_header != NULL &&
		nng_http_res_set_header(res, extra_header, extra_value) != 0) ||
	    nng_http_res_copy_data(res, body, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Connect's error: the code's HTTP status and {"code":..., "message":...}.
 * http_status 0: the code's own. */
static void
respond_error(nng_aio *aio, int http_status, frep_code code, const char *message,
    const char *request_id, const char *extra_header, const char *extra_value)
{
	if (http_status == 0) {
		http_status = rpc_http_status_for_code(code);
	}
	/* Messages quote what the caller sent, cut to a length (a JSON field
	 * name at 100 bytes, which may end inside a character): only valid
	 * UTF-8 goes back, the rest escaped — jansson would refuse it, and the
	 * caller would get no answer at all. */
	char clean[FREP_STATUS_MESSAGE_MAX * 4];
	frep_utf8_sanitize(message != NULL ? message : "", clean, sizeof(clean));
	json_t *j =
	    json_pack("{s:s, s:s}", "code", rpc_http_connect_code_name(code), "message", clean);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	respond(aio, (uint16_t) http_status, "application/json", s, strlen(s), request_id,
	    extra_header, extra_value);
	free(s);
}

static void respond_errorf(nng_aio *aio, frep_code code, const char *request_id, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
respond_errorf(nng_aio *aio, frep_code code, const char *request_id, const char *fmt, ...)
{
	char    message[FREP_STATUS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	respond_error(aio, 0, code, message, request_id, NULL, NULL);
}

/* A request the endpoint answers itself, before it reaches the server: it
 * is counted as a call (frep_rpc_calls_total{method,code} and the latency
 * histogram) under the status its caller gets, as the server counts the
 * calls it answers. method: the path of a served method, or NULL. */
typedef struct http_refusal {
	nng_aio    *aio;
	rpc_http   *h;
	const char *request_id;
	const char *method;
	uint64_t    t0_us;
} http_refusal;

static void
refuse(const http_refusal *r, int http_status, frep_code code, const char *message,
    const char *extra_header, const char *extra_value)
{
	rpc_metrics_call_done(
	    rpc_server_metrics(r->h->server), r->method, code, rpc_metrics_now_us() - r->t0_us);
	respond_error(r->aio, http_status, code, message, r->request_id, extra_header, extra_value);
}

static void refusef(const http_refusal *r, frep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refusef(const http_refusal *r, frep_code code, const char *fmt, ...)
{
	char    message[FREP_STATUS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	refuse(r, 0, code, message, NULL, NULL);
}

/* Answers the HTTP call from the server's reply envelope in msg. */
static void
respond_from_reply(http_call *c, nng_msg *msg)
{
	frep_response_view v;
	frep_status        st;
	if (frep_envelope_response_view(nng_msg_body(msg), nng_msg_len(msg), &v, &st) != FREP_OK) {
		respond_errorf(c->http_aio, FREP_INTERNAL, c->request_id,
		    "the server's reply does not decode: %s", st.message);
		return;
	}
	if (v.code != FREP_OK) {
		char message[FREP_STATUS_MESSAGE_MAX];
		snprintf(message, sizeof(message), "%.*s", (int) v.message_len, v.message);
		frep_code code =
		    v.code >= 0 && v.code <= FREP_CODE_MAX ? (frep_code) v.code : FREP_UNKNOWN;
		respond_error(c->http_aio, 0, code, message, c->request_id, NULL, NULL);
		return;
	}
	if (c->proto) {
		respond(c->http_aio, 200, "application/proto", v.payload, v.payload_len,
		    c->request_id, NULL, NULL);
		return;
	}
	ProtobufCMessage *out =
	    protobuf_c_message_unpack(c->method->output, NULL, v.payload_len, v.payload);
	if (out == NULL) {
		respond_errorf(c->http_aio, FREP_INTERNAL, c->request_id,
		    "the server's %s of %zu bytes does not decode", c->method->output->name,
		    v.payload_len);
		return;
	}
	json_t *j = frep_json_from_message(out, NULL);
	char   *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	protobuf_c_message_free_unpacked(out, NULL);
	if (s == NULL) {
		respond_errorf(c->http_aio, FREP_RESOURCE_EXHAUSTED, c->request_id,
		    "out of memory writing the %s as JSON", c->method->output->name);
		return;
	}
	respond(c->http_aio, 200, "application/json", s, strlen(s), c->request_id, NULL, NULL);
	free(s);
}

/* Frees the answered calls' aios, then their contexts. Never from a call's
 * own callback: nng_aio_free waits for it, and for nng 1.5.2's timeout
 * thread, which can hold an aio whose receive has just completed and run
 * the req context's cancel on it late: the context must still exist then
 * (closed first, the cancel locked freed memory; see frep_client_close). */
static void
bury_done(rpc_http *h)
{
	pthread_mutex_lock(&h->mtx);
	http_call *c = h->done;
	h->done      = NULL;
	pthread_mutex_unlock(&h->mtx);
	while (c != NULL) {
		http_call *next = c->next_done;
		nng_aio_free(c->aio);
		nng_ctx_close(c->ctx);
		free(c);
		c = next;
	}
}

static void
call_done(http_call *c)
{
	rpc_http *h = c->h;
	pthread_mutex_lock(&h->mtx);
	bool buried = h->guard_running;
	if (buried) {
		c->next_done = h->done;
		h->done      = c;
	}
	if (--h->in_flight == 0) {
		pthread_cond_broadcast(&h->idle_cv);
	}
	pthread_mutex_unlock(&h->mtx);
	if (!buried) {
		/* No thread to bury it (not started): nng's reaper frees it. */
		nng_ctx_close(c->ctx);
		nng_aio_reap(c->aio);
		free(c);
	}
}

static void
call_cb(void *arg)
{
	http_call *c  = arg;
	int        rv = nng_aio_result(c->aio);
	if (c->state == CALL_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			respond_errorf(c->http_aio, FREP_UNAVAILABLE, c->request_id,
			    "%s was not sent to the server: %s", c->method->name, nng_strerror(rv));
			call_done(c);
			return;
		}
		c->state = CALL_RECV;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv != 0) {
		if (rv == NNG_ETIMEDOUT) {
			respond_errorf(c->http_aio, FREP_DEADLINE_EXCEEDED, c->request_id,
			    "no answer to %s within its deadline of %u ms", c->method->name,
			    c->timeout_ms);
		} else {
			respond_errorf(c->http_aio, FREP_UNAVAILABLE, c->request_id,
			    "no answer to %s: %s", c->method->name, nng_strerror(rv));
		}
		call_done(c);
		return;
	}
	nng_msg *msg = nng_aio_get_msg(c->aio);
	nng_aio_set_msg(c->aio, NULL);
	respond_from_reply(c, msg);
	nng_msg_free(msg);
	call_done(c);
}

/* --- the POST handler ---------------------------------------------------- */

/* The media type of a Content-Type value, without parameters, lower-case. */
static void
media_type(const char *value, char *buf, size_t size)
{
	size_t n = 0;
	while (*value == ' ') {
		value++;
	}
	for (; value[n] != '\0' && value[n] != ';' && value[n] != ' ' && n + 1 < size; n++) {
		buf[n] = (char) (value[n] >= 'A' && value[n] <= 'Z' ? value[n] + 32 : value[n]);
	}
	buf[n] = '\0';
}

/* Connect-Timeout-Ms: at most 10 digits (the spec's limit). */
static bool
parse_timeout(const char *text, uint32_t *out)
{
	size_t   n = strlen(text);
	uint64_t v = 0;
	if (n == 0 || n > 10) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9') {
			return false;
		}
		v = v * 10 + (uint64_t) (text[i] - '0');
	}
	if (v == 0) {
		return false;
	}
	*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
	return true;
}

static void
rpc_handler_cb(nng_aio *aio)
{
	nng_http_req     *req = nng_aio_get_input(aio, 0);
	nng_http_handler *hh  = nng_aio_get_input(aio, 1);
	rpc_http         *h   = nng_http_handler_get_data(hh);
	const char       *rid = nng_http_req_get_header(req, "X-Request-Id");
	char              made_rid[RPC_REQUEST_ID_MAX + 1];
	http_refusal      rq = {.aio = aio, .h = h, .t0_us = rpc_metrics_now_us()};
	if (rid == NULL) {
		/* Made here so the caller sees it (X-Request-Id) and the server
		 * logs the same. */
		rpc_request_id_make(made_rid, sizeof(made_rid));
		rid = made_rid;
	}
	char     path[256];
	char     ctype[64];
	uint32_t timeout_ms = 0;

	if (strlen(rid) > RPC_REQUEST_ID_MAX) {
		refusef(&rq, FREP_INVALID_ARGUMENT,
		    "X-Request-Id of %zu characters is longer than %d", strlen(rid),
		    RPC_REQUEST_ID_MAX);
		return;
	}
	rq.request_id    = rid;
	const char *uri  = nng_http_req_get_uri(req);
	size_t      plen = strcspn(uri, "?");
	if (plen >= sizeof(path)) {
		refusef(&rq, FREP_UNIMPLEMENTED, "no method at a path of %zu characters", plen);
		return;
	}
	memcpy(path, uri, plen);
	path[plen]                              = '\0';
	unsigned                         flags  = 0;
	const ProtobufCMethodDescriptor *method = rpc_server_find_method(h->server, path, &flags);
	rq.method                               = method != NULL ? path : NULL;
	if (method == NULL) {
		/* An unknown route is HTTP's 404, as Connect servers answer it. */
		char message[FREP_STATUS_MESSAGE_MAX];
		snprintf(message, sizeof(message),
		    "no method %.200s: paths are /<package>.<Service>/<Method>", path);
		refuse(&rq, 404, FREP_UNIMPLEMENTED, message, NULL, NULL);
		return;
	}
	if ((flags & RPC_SERVICE_OWN_AUTH) != 0) {
		/* Such a service authenticates each call from metadata of its
		 * own (the partner MAC's keys), which HTTP headers do not carry
		 * here: refused by name rather than always UNAUTHENTICATED. */
		refusef(&rq, FREP_UNIMPLEMENTED,
		    "%s is not served over HTTP: its service authenticates calls with its "
		    "own signed metadata, carried on the nng listeners only",
		    path);
		return;
	}
	/* The token before anything of the body is looked at: a caller
	 * without it costs the body nng has read (at most twice the message
	 * limit), never its parse. The server checks the envelope again. */
	const char *auth = nng_http_req_get_header(req, "Authorization");
	if ((flags & RPC_SERVICE_NO_AUTH) == 0 && !rpc_server_bearer_ok(h->server, auth)) {
		refusef(&rq, FREP_UNAUTHENTICATED,
		    "method %s needs \"authorization: Bearer <token>\" with the admin token", path);
		return;
	}
	const char *ct = nng_http_req_get_header(req, "Content-Type");
	media_type(ct != NULL ? ct : "", ctype, sizeof(ctype));
	bool proto = strcmp(ctype, "application/proto") == 0;
	if (!proto && strcmp(ctype, "application/json") != 0) {
		char message[FREP_STATUS_MESSAGE_MAX];
		snprintf(message, sizeof(message),
		    "Content-Type \"%.100s\" is not application/json or application/proto",
		    ct != NULL ? ct : "");
		/* As Connect servers answer it: 415 and Accept-Post, no Connect
		 * error body (a Connect client reads the status as `unknown`);
		 * the reason as plain text, for people with curl. */
		char clean[FREP_STATUS_MESSAGE_MAX * 4];
		frep_utf8_sanitize(message, clean, sizeof(clean) - 1);
		size_t n = strlen(clean);
		snprintf(clean + n, sizeof(clean) - n, "\n");
		rpc_metrics_call_done(rpc_server_metrics(h->server), rq.method, FREP_UNKNOWN,
		    rpc_metrics_now_us() - rq.t0_us);
		respond(aio, 415, "text/plain; charset=utf-8", clean, strlen(clean), rid,
		    "Accept-Post", "application/json, application/proto");
		return;
	}
	const char *version = nng_http_req_get_header(req, "Connect-Protocol-Version");
	if (version != NULL && strcmp(version, "1") != 0) {
		refusef(&rq, FREP_INVALID_ARGUMENT, "Connect-Protocol-Version \"%.40s\" is not 1",
		    version);
		return;
	}
	const char *encoding = nng_http_req_get_header(req, "Content-Encoding");
	if (encoding != NULL && strcasecmp(encoding, "identity") != 0) {
		refuse(&rq, 0, FREP_UNIMPLEMENTED, "Content-Encoding: only identity",
		    "Accept-Encoding", "identity");
		return;
	}
	const char *timeout = nng_http_req_get_header(req, "Connect-Timeout-Ms");
	if (timeout != NULL && !parse_timeout(timeout, &timeout_ms)) {
		refusef(&rq, FREP_INVALID_ARGUMENT,
		    "Connect-Timeout-Ms \"%.40s\" is not a positive number of at most 10 digits",
		    timeout);
		return;
	}

	/* The body as the method's input message. */
	void             *body = NULL;
	size_t            len  = 0;
	ProtobufCMessage *in   = NULL;
	frep_status       st;
	nng_http_req_get_data(req, &body, &len);
	if ((flags & RPC_SERVICE_NO_AUTH) != 0 && len > HTTP_NO_AUTH_BODY_MAX) {
		/* Anyone may call these (Health, Introspection): their requests
		 * are a few bytes, and a large body would be parsed at up to
		 * 12 times its size for whoever sends it. */
		refusef(&rq, FREP_RESOURCE_EXHAUSTED,
		    "a %s body of %zu bytes is over the %u bytes a method that needs no token "
		    "takes; refused unread",
		    path, len, HTTP_NO_AUTH_BODY_MAX);
		return;
	}
	/* A binary body gets the nng path's checks before it is decoded:
	 * strings are text (NUL, UTF-8: protobuf-c would cut a string at a
	 * NUL and the repacked message would carry the cut value), and
	 * decoding is bounded by the same multiple of the body's size. */
	rpc_budget_allocator budget;
	json_budget          jb;
	ProtobufCAllocator  *ia = NULL; /* what decoded in, for its free */
	if (proto) {
		if (rpc_payload_check_text(method->input, body, len, &st) != FREP_OK) {
			refusef(&rq, st.code, "%s", st.message);
			return;
		}
		rpc_budget_allocator_init(&budget, len);
		ia = &budget.base;
		in = protobuf_c_message_unpack(method->input, ia, len, body);
		if (in == NULL && budget.exceeded) {
			refusef(&rq, FREP_RESOURCE_EXHAUSTED,
			    "body of %zu bytes needs more than %zu bytes of memory to decode as "
			    "%s; "
			    "refused",
			    len, budget.limit, method->input->name);
			return;
		}
		if (in == NULL) {
			refusef(&rq, FREP_INVALID_ARGUMENT,
			    "body of %zu bytes does not decode as %s", len, method->input->name);
			return;
		}
	} else {
		ia = &jb.base;
		if (rpc_http_json_decode(method->input, body, len, &jb, &in, &st) != FREP_OK) {
			refusef(&rq, st.code, "%s", st.message);
			return;
		}
	}

	frep_metadata md[2];
	size_t        n_md = 0;
	if (auth != NULL) {
		md[n_md++] = (frep_metadata){.key = "authorization", .value = auth};
	}
	md[n_md++]            = (frep_metadata){.key = "x-request-id", .value = rid};
	frep_request_fields f = {
	    .method     = path,
	    .payload    = in,
	    .timeout_ms = timeout_ms,
	    .metadata   = md,
	    .n_metadata = n_md,
	};
	/* The server's listeners drop an envelope over the limit without an
	 * answer; over HTTP the caller gets a status instead. */
	size_t size = frep_envelope_request_size(&f);
	size_t max  = rpc_server_max_message_bytes(h->server);
	if (size > max) {
		protobuf_c_message_free_unpacked(in, ia);
		refusef(&rq, FREP_RESOURCE_EXHAUSTED,
		    "the %s request is %zu bytes, over the server's limit of %zu", method->name,
		    size, max);
		return;
	}
	http_call *c   = calloc(1, sizeof(*c));
	nng_msg   *msg = NULL;
	int        rv;
	if (c == NULL || nng_msg_alloc(&msg, size) != 0) {
		free(c);
		protobuf_c_message_free_unpacked(in, ia);
		refusef(&rq, FREP_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	frep_envelope_request_pack(&f, nng_msg_body(msg));
	protobuf_c_message_free_unpacked(in, ia);
	*c = (http_call){
	    .h          = h,
	    .http_aio   = aio,
	    .method     = method,
	    .proto      = proto,
	    .timeout_ms = timeout_ms,
	    .state      = CALL_SEND,
	};
	snprintf(c->request_id, sizeof(c->request_id), "%s", rid);
	if ((rv = nng_aio_alloc(&c->aio, call_cb, c)) != 0) {
		nng_msg_free(msg);
		free(c);
		refusef(&rq, FREP_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	if ((rv = nng_ctx_open(&c->ctx, h->sock)) != 0) {
		nng_msg_free(msg);
		nng_aio_free(c->aio);
		free(c);
		refusef(&rq, FREP_UNAVAILABLE, "server shutting down: %s", nng_strerror(rv));
		return;
	}
	nng_aio_set_timeout(c->aio,
	    timeout_ms > 0 ? (nng_duration) ((uint64_t) timeout_ms + DEADLINE_GRACE_MS > INT32_MAX
						 ? INT32_MAX
						 : timeout_ms + DEADLINE_GRACE_MS)
			   : NNG_DURATION_INFINITE);
	pthread_mutex_lock(&h->mtx);
	h->in_flight++;
	pthread_mutex_unlock(&h->mtx);
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

/* --- GET routes ---------------------------------------------------------- */

static void
get_cb(nng_aio *aio)
{
	nng_http_handler *hh    = nng_aio_get_input(aio, 1);
	get_route        *route = nng_http_handler_get_data(hh);
	char             *body  = NULL;
	size_t            len   = 0;
	const char       *ctype = "text/plain; charset=utf-8";
	int               code  = route->fn(route->arg, &body, &len, &ctype);
	respond(aio, (uint16_t) code, ctype, body != NULL ? body : "", body != NULL ? len : 0, NULL,
	    NULL, NULL);
	free(body);
}

frep_code
rpc_http_add_get(rpc_http *h, const char *path, rpc_http_get_fn fn, void *arg, frep_status *st)
{
	if (h->started) {
		return frep_status_set(
		    st, FREP_FAILED_PRECONDITION, "HTTP route %s: add it before starting", path);
	}
	if (h->n_gets == MAX_GET_ROUTES) {
		return frep_status_set(
		    st, FREP_RESOURCE_EXHAUSTED, "HTTP route %s: at most %d", path, MAX_GET_ROUTES);
	}
	get_route *r = &h->gets[h->n_gets];
	*r           = (get_route){.fn = fn, .arg = arg};
	int rv;
	if ((r->path = strdup(path)) == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	if ((rv = nng_http_handler_alloc(&r->handler, path, get_cb)) != 0 ||
	    (rv = nng_http_handler_set_method(r->handler, "GET")) != 0 ||
	    (rv = nng_http_handler_set_data(r->handler, r, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(h->hs, r->handler)) != 0) {
		if (r->handler != NULL) {
			nng_http_handler_free(r->handler);
		}
		free(r->path);
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "HTTP route %s: %s (nng error %d)", path, nng_strerror(rv), rv);
	}
	h->n_gets++;
	return FREP_OK;
}

/* --- the built-in routes -------------------------------------------------- */

/* GET /healthz: the whole server's health, as frep.v1.Health answers for
 * "" (SERVING while it serves, NOT_SERVING once it drains). */
static int
healthz(void *arg, char **body, size_t *len, const char **content_type)
{
	rpc_http *h       = arg;
	bool      serving = rpc_server_serving(h->server);
	*body             = strdup(serving ? "SERVING\n" : "NOT_SERVING\n");
	*len              = *body != NULL ? strlen(*body) : 0;
	*content_type     = "text/plain; charset=utf-8";
	return serving ? 200 : 503;
}

/* GET /metrics: the server's registry in Prometheus' text format. */
static int
metrics(void *arg, char **body, size_t *len, const char **content_type)
{
	rpc_http *h   = arg;
	*content_type = "text/plain; version=0.0.4; charset=utf-8";
	*body         = rpc_metrics_render(rpc_server_metrics(h->server), len);
	return *body != NULL ? 200 : 500;
}

/* --- lifecycle ----------------------------------------------------------- */

frep_code
rpc_http_new(rpc_server *s, const rpc_http_options *opts, rpc_http **out, frep_status *st)
{
	frep_code code;
	int       rv;
	pthread_once(&json_budget_once, json_budget_install);
	rpc_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	h->server = s;
	pthread_mutex_init(&h->mtx, NULL);
	pthread_cond_init(&h->idle_cv, NULL);
	pthread_cond_init(&h->guard_cv, NULL);
	const char *url = opts->url;
	/* tcp:// is accepted as http:// (frepd's other listeners are tcp://). */
	char buf[512];
	if (strncmp(url, "tcp://", 6) == 0) {
		snprintf(buf, sizeof(buf), "http://%s", url + 6);
		url = buf;
	}
	bool https = strncmp(url, "https://", 8) == 0;
	if (!https && strncmp(url, "http://", 7) != 0) {
		code = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "HTTP listener %s: the URL must start with http:// or https://", opts->url);
		goto fail;
	}
	if ((h->url = strdup(url)) == NULL) {
		code = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if ((rv = nng_url_parse(&h->nurl, url)) != 0) {
		code = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "HTTP listener %s: %s (nng error %d)", url, nng_strerror(rv), rv);
		goto fail;
	}
	if ((rv = nng_http_server_hold(&h->hs, h->nurl)) != 0) {
		code = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "HTTP listener %s: %s (nng error %d)", url, nng_strerror(rv), rv);
		goto fail;
	}
	if (https) {
		if ((code = rpc_server__tls_config(opts->tls, &h->tls, st)) != FREP_OK) {
			goto fail;
		}
		if ((rv = nng_http_server_set_tls(h->hs, h->tls)) != 0) {
			code = frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "HTTP listener %s: TLS: %s (nng error %d)", url, nng_strerror(rv), rv);
			goto fail;
		}
	}
	/* Every POST path: methods are looked up per call. */
	if ((rv = nng_http_handler_alloc(&h->rpc_handler, "/", rpc_handler_cb)) != 0 ||
	    (rv = nng_http_handler_set_method(h->rpc_handler, "POST")) != 0 ||
	    (rv = nng_http_handler_set_tree(h->rpc_handler)) != 0 ||
	    /* JSON may be larger than the message it holds: twice the limit
	     * is read, the envelope itself is checked per call. */
	    (rv = nng_http_handler_collect_body(
		 h->rpc_handler, true, 2 * rpc_server_max_message_bytes(s))) != 0 ||
	    (rv = nng_http_handler_set_data(h->rpc_handler, h, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(h->hs, h->rpc_handler)) != 0) {
		if (h->rpc_handler != NULL) {
			nng_http_handler_free(h->rpc_handler);
			h->rpc_handler = NULL;
		}
		code = frep_status_set(
		    st, FREP_INTERNAL, "HTTP handler: %s (nng error %d)", nng_strerror(rv), rv);
		goto fail;
	}
	if ((code = rpc_http_add_get(h, "/healthz", healthz, h, st)) != FREP_OK ||
	    (code = rpc_http_add_get(h, "/metrics", metrics, h, st)) != FREP_OK) {
		goto fail;
	}
	snprintf(h->inproc, sizeof(h->inproc), "inproc://frep-http-%p", (void *) h);
	if ((code = rpc_server_listen(s, h->inproc, NULL, st)) != FREP_OK) {
		goto fail;
	}
	*out = h;
	return FREP_OK;

fail:
	rpc_http_free(h);
	return code;
}

static void *
guard_main(void *arg)
{
	rpc_http *h = arg;
	pthread_mutex_lock(&h->mtx);
	while (!h->guard_stop) {
		rpc_server__tick_wait(&h->guard_cv, &h->mtx, HTTP_GUARD_PERIOD_MS);
		if (h->guard_stop) {
			break;
		}
		pthread_mutex_unlock(&h->mtx);
		bury_done(h);
		size_t dropped = rpc_half_open_scan(h->guard, &h->port, 1, nng_clock());
		if (dropped > 0) {
			rpc_metrics_count(rpc_server_metrics(h->server),
			    "frep_http_connections_closed_total",
			    "HTTP connections shut down because the endpoint had more open than "
			    "its bound (idle ones first, then the oldest).",
			    NULL, NULL, dropped);
			rpc_log(RPC_LOG_WARN,
			    "HTTP %s: closed %zu connections (idle ones first): over %d open",
			    h->url, dropped, HTTP_MAX_CONNECTIONS);
		}
		pthread_mutex_lock(&h->mtx);
	}
	pthread_mutex_unlock(&h->mtx);
	return NULL;
}

frep_code
rpc_http_start(rpc_http *h, frep_status *st)
{
	int rv;
	if ((rv = nng_req0_open(&h->sock)) != 0) {
		return frep_status_set(
		    st, FREP_INTERNAL, "HTTP: req socket: %s (nng error %d)", nng_strerror(rv), rv);
	}
	h->sock_open = true;
	/* One envelope, one answer: never resend a call that takes long. */
	nng_socket_set_ms(h->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(h->sock, NNG_OPT_RECVMAXSZ, 0);
	if ((rv = nng_dial(h->sock, h->inproc, NULL, 0)) != 0) {
		return frep_status_set(st, FREP_INTERNAL, "HTTP: dial %s: %s (nng error %d)",
		    h->inproc, nng_strerror(rv), rv);
	}
	if ((rv = nng_http_server_start(h->hs)) != 0) {
		return frep_status_set(st, FREP_UNAVAILABLE, "HTTP listener %s: %s (nng error %d)",
		    h->url, nng_strerror(rv), rv);
	}
	h->started = true;
	nng_sockaddr sa;
	if (nng_http_server_get_addr(h->hs, &sa) == 0 &&
	    (sa.s_family == NNG_AF_INET || sa.s_family == NNG_AF_INET6)) {
		uint16_t port =
		    ntohs(sa.s_family == NNG_AF_INET ? sa.s_in.sa_port : sa.s_in6.sa_port);
		char b[512];
		bool v6 = strchr(h->nurl->u_hostname, ':') != NULL;
		snprintf(b, sizeof(b), "%s://%s%s%s:%u", h->nurl->u_scheme, v6 ? "[" : "",
		    h->nurl->u_hostname, v6 ? "]" : "", (unsigned) port);
		h->bound_url = strdup(b);
		/* No deadline (a call may rightly take long; nothing outside
		 * tells a slow request from a slow answer): the bound only. */
		h->port  = port;
		h->guard = rpc_half_open_new(UINT64_MAX, HTTP_MAX_CONNECTIONS);
		if (h->guard == NULL) {
			return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		}
		rpc_half_open_idle_first(h->guard);
		if (pthread_create(&h->guard_thread, NULL, guard_main, h) != 0) {
			return frep_status_set(
			    st, FREP_INTERNAL, "HTTP listener %s: no thread for its guard", h->url);
		}
		pthread_mutex_lock(&h->mtx);
		h->guard_running = true;
		pthread_mutex_unlock(&h->mtx);
	}
	return FREP_OK;
}

const char *
rpc_http_bound_url(const rpc_http *h)
{
	return h->bound_url != NULL ? h->bound_url : h->url;
}

void
rpc_http_free(rpc_http *h)
{
	if (h == NULL) {
		return;
	}
	if (h->guard_running) {
		pthread_mutex_lock(&h->mtx);
		h->guard_stop = true;
		pthread_cond_broadcast(&h->guard_cv);
		pthread_mutex_unlock(&h->mtx);
		pthread_join(h->guard_thread, NULL);
	}
	rpc_half_open_free(h->guard);
	/* Calls still waiting fail at once (their callbacks answer 503), then
	 * the HTTP server stops with no handler left to finish. */
	if (h->sock_open) {
		nng_close(h->sock);
		h->sock_open = false;
	}
	pthread_mutex_lock(&h->mtx);
	while (h->in_flight > 0) {
		pthread_cond_wait(&h->idle_cv, &h->mtx);
	}
	pthread_mutex_unlock(&h->mtx);
	bury_done(h);
	if (h->hs != NULL) {
		if (h->started) {
			nng_http_server_stop(h->hs);
		}
		/* The server frees the handlers it holds. */
		nng_http_server_release(h->hs);
	}
	for (size_t i = 0; i < h->n_gets; i++) {
		free(h->gets[i].path);
	}
	if (h->tls != NULL) {
		nng_tls_config_free(h->tls);
	}
	if (h->nurl != NULL) {
		nng_url_free(h->nurl);
	}
	free(h->url);
	free(h->bound_url);
	pthread_cond_destroy(&h->idle_cv);
	pthread_cond_destroy(&h->guard_cv);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}
