#include "rpc_server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <openssl/evp.h>

#include "call_cache.h"
#include "frep_envelope.h"
#include "conn_limit.h"
#include "half_open.h"
#include "idle_trim.h"
#include "introspection.h"
#include "log.h"
#include "payload_check.h"
#include "metrics.h"
#include "server_internal.h"

#define MAX_SERVICES  16
#define MAX_LISTENERS 16

typedef struct service_entry {
	ProtobufCService *service;
	unsigned          flags;
	size_t            name_len;
	rpc_authorize_fn  authorize; /* NULL: none */
	void             *authorize_arg;
} service_entry;

typedef enum ctx_state {
	CTX_IDLE, /* not armed (before start, after drain) */
	CTX_RECV, /* waiting for a request */
	CTX_WORK, /* a call is being handled */
	CTX_SEND, /* the reply is being sent */
} ctx_state;

struct rpc_call {
	rpc_server                      *server;
	struct rpc_ctx                  *owner;
	frep_request_view                req; /* valid while has_req */
	bool                             has_req;
	nng_msg                         *reqmsg; /* holds the payload the view points into */
	const service_entry             *svc;
	const ProtobufCMethodDescriptor *method;
	unsigned                         method_index;
	nng_time                         deadline; /* 0: none */
	frep_status                      status;
	atomic_bool                      answered;
	bool                             cache_owner;    /* records its reply by call id */
	char                             principal[256]; /* "" : none (rpc_call_set_principal) */
	bool             cached_only; /* answered from the call-id cache or not at all */
	uint64_t         started_us;  /* arrival, for the metrics */
	char             request_id[RPC_REQUEST_ID_MAX + 1];
	char             peer[80]; /* "tcp://10.0.0.2:50312", "ipc", "inproc" */
	struct rpc_call *next_queued;
};

typedef struct rpc_ctx {
	rpc_server *server;
	nng_ctx     ctx;
	nng_aio    *aio;
	ctx_state   state;
	rpc_call    call;
	nng_pipe    pipe; /* the connection of the request being served */
} rpc_ctx;

typedef struct listener_entry {
	char           *url;
	char           *bound_url;
	nng_listener    listener;
	nng_tls_config *tls;
	bool            created;
	int             port; /* bound TCP port of a ws:// or wss:// listener, else 0 */
} listener_entry;

struct rpc_server {
	rpc_server_options opts;
	/* Replies timed out since the last warning, and when it was (under
	 * mtx; reply_timed_out). */
	uint64_t   replies_timed_out;
	nng_time   reply_warned_ms;
	char      *admin_token;
	char      *version;
	nng_socket sock;
	bool       sock_open;

	service_entry services[MAX_SERVICES];
	size_t        n_services;

	listener_entry listeners[MAX_LISTENERS];
	size_t         n_listeners;

	rpc_ctx *ctxs;
	size_t   n_ctxs;

	/* Work queue for the worker threads. */
	pthread_mutex_t mtx;
	pthread_cond_t  work_cv;
	pthread_cond_t  idle_cv;
	rpc_call       *queue_head;
	rpc_call       *queue_tail;
	pthread_t      *workers;
	size_t          n_workers;
	bool            stopping_workers;
	size_t          in_flight; /* calls between receipt and reply sent */
	size_t          answering; /* threads inside nng_ctx_send for a reply */
	bool            started;
	bool            draining;
	bool            shut_down;

	rpc_call_cache   *cache;
	ProtobufCService *introspection;
	rpc_metrics      *metrics;

	/* The ipc:// listener watchdog (see watchdog_main). */
	pthread_t      watchdog;
	bool           watchdog_running;
	bool           watchdog_stop;
	pthread_cond_t watchdog_cv;
	unsigned       watchdog_restarts;

	/* ws:// and wss:// connections that never finish the upgrade. */
	rpc_half_open *half_open;
	/* Finished connections, at most opts.max_connections per listener. */
	rpc_conn_limit *conn_limit;
};

static void ctx_cb(void *arg);
static void call_closure(const ProtobufCMessage *msg, void *closure_data);
static void call_release(rpc_call *call);

/* --- small helpers ------------------------------------------------------ */

static frep_code
nng_fail(frep_status *st, frep_code code, int rv, const char *what)
{
	return frep_status_set(st, code, "%s: %s (nng error %d)", what, nng_strerror(rv), rv);
}

static char *
dup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static bool
token_equal(const char *a, const char *b)
{
	/* Constant time in the length of the expected token. */
	size_t        la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char) (la != lb);
	for (size_t i = 0; i < la; i++) {
		diff |= (unsigned char) (a[i] ^ b[i < lb ? i : 0]);
	}
	return diff == 0;
}

/* --- construction ------------------------------------------------------- */

/* What the introspection service reports (its rpc_introspection_source). */
static void
introspection_server_info(void *arg, rpc_introspection_info *out)
{
	const rpc_server *s    = arg;
	out->version           = s->version;
	out->max_message_bytes = rpc_server_max_message_bytes(s);
	out->n_services        = 0;
	for (size_t i = 0; i < s->n_services && out->n_services < RPC_INTROSPECTION_MAX_SERVICES;
	     i++) {
		out->services[out->n_services++] = s->services[i].service->descriptor->name;
	}
	out->worker_threads        = s->opts.worker_threads;
	out->max_metadata_pairs    = RPC_MAX_METADATA_PAIRS;
	out->call_id_cache_seconds = s->opts.call_id_cache_seconds;
}

static void
introspection_call_fail(void *call, frep_code code, const char *message)
{
	rpc_call_fail(call, code, "%s", message);
}

frep_code
rpc_server_new(const rpc_server_options *opts, rpc_server **out, frep_status *st)
{
	rpc_server_options o = {0};
	if (opts != NULL) {
		o = *opts;
	}
	if (o.worker_threads == 0) {
		o.worker_threads = 4;
	}
	if (o.worker_threads > 256) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "worker_threads %u is above the limit of 256", o.worker_threads);
	}
	if (o.contexts == 0) {
		o.contexts = o.worker_threads * 8 < 32 ? 32 : o.worker_threads * 8;
	}
	if (o.reply_timeout_ms == 0) {
		o.reply_timeout_ms = RPC_REPLY_TIMEOUT_MS_DEFAULT;
	}
	if (o.reply_timeout_ms > RPC_REPLY_TIMEOUT_MS_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "reply_timeout_ms %u is above the limit of %u", o.reply_timeout_ms,
		    RPC_REPLY_TIMEOUT_MS_MAX);
	}
	if (o.contexts > 4096) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "contexts %u is above the limit of 4096", o.contexts);
	}
	if (o.max_message_bytes == 0) {
		o.max_message_bytes = RPC_DEFAULT_MAX_MESSAGE_BYTES;
	}
	if (o.max_message_bytes < RPC_MIN_MAX_MESSAGE_BYTES) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "max_message_bytes %zu is below the minimum of %u", o.max_message_bytes,
		    RPC_MIN_MAX_MESSAGE_BYTES);
	}
	if (o.call_id_cache_seconds == 0) {
		o.call_id_cache_seconds = 60;
	}
	if (o.max_connections == 0) {
		o.max_connections = RPC_CONN_LIMIT_DEFAULT;
	}
	if (o.max_connections > RPC_CONN_LIMIT_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "max_connections %u is above the limit of %d", o.max_connections,
		    RPC_CONN_LIMIT_MAX);
	}
	if (o.admin_token != NULL && o.admin_token[0] == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "admin_token is empty");
	}

	rpc_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	s->opts             = o;
	s->admin_token      = dup_or_null(o.admin_token);
	s->version          = strdup(o.version != NULL ? o.version : "frep " FREP_VERSION);
	s->opts.admin_token = NULL;
	s->opts.version     = NULL;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->idle_cv, NULL);
	pthread_cond_init(&s->watchdog_cv, NULL);
	if (s->version == NULL || (o.admin_token != NULL && s->admin_token == NULL)) {
		rpc_server_free(s);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (rpc_call_cache_new(
		4096, 64 * 1024, (uint64_t) o.call_id_cache_seconds * 1000, &s->cache) != 0 ||
	    (s->metrics = rpc_metrics_new()) == NULL ||
	    (s->conn_limit = rpc_conn_limit_new(o.max_connections)) == NULL) {
		rpc_server_free(s);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	rpc_introspection_source src = {.server_info = introspection_server_info,
	    .call_fail                               = introspection_call_fail,
	    .arg                                     = s};
	if (rpc_introspection_new(
		&src, o.descriptor_set, o.descriptor_set_len, &s->introspection, st) != FREP_OK ||
	    rpc_server_register(
		s, s->introspection, RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH, st) != FREP_OK) {
		rpc_server_free(s);
		return st != NULL ? st->code : FREP_INTERNAL;
	}
	*out = s;
	return FREP_OK;
}

frep_code
rpc_server_register(rpc_server *s, ProtobufCService *service, unsigned flags, frep_status *st)
{
	const ProtobufCServiceDescriptor *d = service->descriptor;
	if (s->started) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "service %s: register before the server starts", d->name);
	}
	if (rpc_server_has_service(s, d->name)) {
		return frep_status_set(
		    st, FREP_ALREADY_EXISTS, "service %s is already registered", d->name);
	}
	if (s->n_services == MAX_SERVICES) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
		    "service %s: at most %d services", d->name, MAX_SERVICES);
	}
	s->services[s->n_services++] = (service_entry){
	    .service  = service,
	    .flags    = flags,
	    .name_len = strlen(d->name),
	};
	return FREP_OK;
}

frep_code
rpc_server_set_authorizer(
    rpc_server *s, const char *service_name, rpc_authorize_fn fn, void *arg, frep_status *st)
{
	for (size_t i = 0; i < s->n_services; i++) {
		service_entry *e = &s->services[i];
		if (strcmp(e->service->descriptor->name, service_name) == 0) {
			e->authorize     = fn;
			e->authorize_arg = arg;
			return FREP_OK;
		}
	}
	return frep_status_set(st, FREP_NOT_FOUND, "service %s is not registered", service_name);
}

bool
rpc_server_has_service(rpc_server *s, const char *full_name)
{
	for (size_t i = 0; i < s->n_services; i++) {
		if (strcmp(s->services[i].service->descriptor->name, full_name) == 0) {
			return true;
		}
	}
	return false;
}

static const service_entry *find_service(rpc_server *s, const char *name, size_t len);

const ProtobufCMethodDescriptor *
rpc_server_find_method(rpc_server *s, const char *path, unsigned *service_flags)
{
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (slash == NULL || slash == path + 1 || slash[1] == '\0') {
		return NULL;
	}
	const service_entry *e = find_service(s, path + 1, (size_t) (slash - path - 1));
	if (e == NULL) {
		return NULL;
	}
	if (service_flags != NULL) {
		*service_flags = e->flags;
	}
	return protobuf_c_service_descriptor_get_method_by_name(e->service->descriptor, slash + 1);
}

size_t
rpc_server_max_message_bytes(const rpc_server *s)
{
	return s->opts.max_message_bytes;
}

/* --- listeners ---------------------------------------------------------- */

static bool
url_is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
	       strncmp(url, "tls+tcp6://", 11) == 0 || strncmp(url, "wss://", 6) == 0;
}

static bool
url_is_ws(const char *url)
{
	return strncmp(url, "ws://", 5) == 0 || strncmp(url, "wss://", 6) == 0 ||
	       strncmp(url, "ws4://", 6) == 0 || strncmp(url, "ws6://", 6) == 0;
}

static frep_code
read_file(const char *path, const char *what, char **out, frep_status *st)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "%s %s: %s", what, path, strerror(errno));
	}
	char  *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap      = cap == 0 ? 8192 : cap * 2;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return frep_status_set(
				    st, FREP_RESOURCE_EXHAUSTED, "out of memory");
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n == 0) {
			break;
		}
		if (len > 1024 * 1024) {
			free(buf);
			fclose(f);
			return frep_status_set(
			    st, FREP_INVALID_ARGUMENT, "%s %s: larger than 1 MiB", what, path);
		}
	}
	fclose(f);
	buf[len] = '\0';
	*out     = buf;
	return FREP_OK;
}

static frep_code tls_config_new(const rpc_tls_options *tls, nng_tls_config **out, frep_status *st);

frep_code
rpc_server__tls_config(const rpc_tls_options *tls, nng_tls_config **out, frep_status *st)
{
	return tls_config_new(tls, out, st);
}

static frep_code
tls_config_new(const rpc_tls_options *tls, nng_tls_config **out, frep_status *st)
{
	nng_tls_config *cfg  = NULL;
	char           *cert = NULL, *key = NULL;
	int             rv;
	frep_code       code;

	if (tls == NULL || tls->cert_file == NULL || tls->key_file == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "a TLS listener needs a certificate file and a key file");
	}
	if ((code = read_file(tls->cert_file, "certificate file", &cert, st)) != FREP_OK) {
		return code;
	}
	if ((code = read_file(tls->key_file, "key file", &key, st)) != FREP_OK) {
		goto fail;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		code = nng_fail(st, FREP_INTERNAL, rv, "TLS configuration");
		goto fail;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		code = nng_fail(st, FREP_INVALID_ARGUMENT, rv, "certificate/key files");
		goto fail;
	}
	if (tls->ca_file != NULL) {
		if ((rv = nng_tls_config_ca_file(cfg, tls->ca_file)) != 0) {
			code = nng_fail(st, FREP_INVALID_ARGUMENT, rv, "CA file");
			goto fail;
		}
		if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
			code = nng_fail(st, FREP_INTERNAL, rv, "TLS auth mode");
			goto fail;
		}
	} else if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE)) != 0) {
		code = nng_fail(st, FREP_INTERNAL, rv, "TLS auth mode");
		goto fail;
	}
	free(cert);
	/* The key stays in memory only as long as needed. */
	explicit_bzero(key, strlen(key));
	free(key);
	*out = cfg;
	return FREP_OK;

fail:
	if (cfg != NULL) {
		nng_tls_config_free(cfg);
	}
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	return code;
}

frep_code
rpc_server_listen(rpc_server *s, const char *url, const rpc_tls_options *tls, frep_status *st)
{
	if (s->started) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "listener %s: add listeners before the server starts", url);
	}
	if (s->n_listeners == MAX_LISTENERS) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
		    "listener %s: at most %d listeners", url, MAX_LISTENERS);
	}
	listener_entry *le = &s->listeners[s->n_listeners];
	memset(le, 0, sizeof(*le));
	if (url_is_tls(url)) {
		frep_code code = tls_config_new(tls, &le->tls, st);
		if (code != FREP_OK) {
			return code;
		}
	}
	if ((le->url = strdup(url)) == NULL) {
		if (le->tls != NULL) {
			nng_tls_config_free(le->tls);
		}
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	s->n_listeners++;
	return FREP_OK;
}

const char *
rpc_server_bound_url(rpc_server *s, size_t index)
{
	if (index >= s->n_listeners) {
		return NULL;
	}
	listener_entry *le = &s->listeners[index];
	return le->bound_url != NULL ? le->bound_url : le->url;
}

/* For tcp-like URLs with port 0, learn the port the system chose and keep
 * the rest of the URL (a ws:// path, say). */
static void
resolve_bound_url(listener_entry *le)
{
	int port = 0;
	if (nng_listener_get_int(le->listener, NNG_OPT_TCP_BOUND_PORT, &port) != 0 || port == 0) {
		return;
	}
	const char *sep = strstr(le->url, "://");
	if (sep == NULL) {
		return;
	}
	const char *host  = sep + 3;
	const char *path  = strchr(host, '/');
	const char *end   = path != NULL ? path : host + strlen(host);
	const char *colon = NULL;
	for (const char *q = host; q < end; q++) {
		if (*q == ':') {
			colon = q;
		}
	}
	if (colon == NULL) {
		return;
	}
	size_t head = (size_t) (colon - le->url);
	size_t n    = head + 16 + strlen(end);
	char  *u    = malloc(n);
	if (u == NULL) {
		return;
	}
	snprintf(u, n, "%.*s:%d%s", (int) head, le->url, port, end);
	le->bound_url = u;
}

static frep_code
start_listener(rpc_server *s, listener_entry *le, frep_status *st)
{
	int rv;
	if ((rv = nng_listener_create(&le->listener, s->sock, le->url)) != 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "listener %s: %s (nng error %d)",
		    le->url, nng_strerror(rv), rv);
	}
	le->created = true;
	rpc_conn_limit_set_listener(s->conn_limit, (size_t) (le - s->listeners),
	    (uint32_t) nng_listener_id(le->listener), le->url);
	if (le->tls != NULL &&
	    (rv = nng_listener_set_ptr(le->listener, NNG_OPT_TLS_CONFIG, le->tls)) != 0) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "listener %s: TLS: %s", le->url, nng_strerror(rv));
	}
	if ((rv = nng_listener_set_size(
		 le->listener, NNG_OPT_RECVMAXSZ, s->opts.max_message_bytes)) != 0) {
		return nng_fail(st, FREP_INTERNAL, rv, "listener receive limit");
	}
	if ((rv = nng_listener_start(le->listener, 0)) != 0) {
		/* Not listening (out of descriptors, say): closed, so that the
		 * watchdog tries an ipc:// one again (le->created false). */
		nng_listener_close(le->listener);
		le->created = false;
		return frep_status_set(st, FREP_UNAVAILABLE, "listener %s: %s (nng error %d)",
		    le->url, nng_strerror(rv), rv);
	}
	resolve_bound_url(le);
	if (url_is_ws(le->url)) {
		nng_listener_get_int(le->listener, NNG_OPT_TCP_BOUND_PORT, &le->port);
	}
	return FREP_OK;
}

/* --- workers ------------------------------------------------------------ */

static void run_call(rpc_call *call);
static void refuse_queued(rpc_call *call);

/* The worker's decode arena (payload_check.h); NULL on other threads
 * (nng's, for inline services), which decode with malloc. */
static _Thread_local rpc_decode_arena *worker_arena;

static void *
worker_main(void *arg)
{
	rpc_server      *s     = arg;
	rpc_decode_arena arena = {0};
	worker_arena           = &arena;
	pthread_mutex_lock(&s->mtx);
	for (;;) {
		while (s->queue_head == NULL && !s->stopping_workers) {
			pthread_cond_wait(&s->work_cv, &s->mtx);
		}
		if (s->queue_head == NULL) {
			break;
		}
		rpc_call *call = s->queue_head;
		s->queue_head  = call->next_queued;
		if (s->queue_head == NULL) {
			s->queue_tail = NULL;
		}
		call->next_queued = NULL;
		bool stopping     = s->stopping_workers;
		pthread_mutex_unlock(&s->mtx);
		if (stopping) {
			/* Shutting down: a call that has not started never does. */
			refuse_queued(call);
		} else {
			rpc_idle_trim_enter(); /* inline calls are not: the watchdog's probes */
			run_call(call);
			rpc_idle_trim_leave();
		}
		pthread_mutex_lock(&s->mtx);
	}
	pthread_mutex_unlock(&s->mtx);
	worker_arena = NULL;
	rpc_decode_arena_fini(&arena);
	return NULL;
}

static void
enqueue_call(rpc_server *s, rpc_call *call)
{
	pthread_mutex_lock(&s->mtx);
	if (s->queue_tail != NULL) {
		s->queue_tail->next_queued = call;
	} else {
		s->queue_head = call;
	}
	s->queue_tail = call;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mtx);
}

/* --- start / shutdown --------------------------------------------------- */

/* Waits for the context's next request, for as long as it takes (the
 * aio's timeout is the reply's after a send). */
static void
ctx_recv(rpc_ctx *rc)
{
	nng_aio_set_timeout(rc->aio, NNG_DURATION_DEFAULT);
	nng_ctx_recv(rc->ctx, rc->aio);
}

static void
arm_recv(rpc_ctx *rc)
{
	rc->state = CTX_RECV;
	ctx_recv(rc);
}

/* --- ipc:// listener watchdog ------------------------------------------- */

/* nng 1.5.2 (Debian 12's) has a bug (nanomsg/nng#1518, fixed in 1.6.0): a
 * peer that disconnects during the SP handshake on an ipc:// listener can
 * leave that listener completing handshakes without ever handing the new
 * connections to the socket, so every later client waits in vain. Any
 * local process can trigger it. The watchdog calls the server through each
 * ipc:// listener every WATCHDOG_PERIOD_MS; after WATCHDOG_STRIKES failed
 * probes in a row it closes and re-creates that listener (its clients
 * reconnect by themselves). */
#define WATCHDOG_PERIOD_MS 500
#define WATCHDOG_PROBE_MS  1500
#define WATCHDOG_STRIKES   2

/* One GetServerInfo round trip through url; true if answered. */
static bool
watchdog_probe(const char *url)
{
	nng_socket sock;
	nng_msg   *msg = NULL;
	bool       ok  = false;
	if (nng_req0_open(&sock) != 0) {
		return true; /* cannot judge: do not restart anything */
	}
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, WATCHDOG_PROBE_MS);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, WATCHDOG_PROBE_MS);
	frep_request_fields f = {
	    .method = "/frep.rpc.v1.Introspection/GetServerInfo", .timeout_ms = WATCHDOG_PROBE_MS};
	size_t len = frep_envelope_request_size(&f);
	int    rv  = nng_dial(sock, url, NULL, 0);
	if (rv == NNG_ENOFILES || rv == NNG_ENOMEM) {
		/* Out of descriptors (a flood on another listener, say): says
		 * nothing of this listener; re-creating it then would fail. */
		nng_close(sock);
		return true;
	}
	if (rv == 0 && nng_msg_alloc(&msg, len) == 0) {
		frep_envelope_request_pack(&f, nng_msg_body(msg));
		if (nng_sendmsg(sock, msg, 0) != 0) {
			nng_msg_free(msg);
		} else if (nng_recvmsg(sock, &msg, 0) == 0) {
			ok = true;
			nng_msg_free(msg);
		}
	}
	nng_close(sock);
	return ok;
}

static void
watchdog_restart(rpc_server *s, listener_entry *le)
{
	frep_status st;
	rpc_log(RPC_LOG_WARN,
	    "listener %s stopped answering (nng 1.5.2 ipc bug #1518): re-creating it", le->url);
#ifdef __SANITIZE_ADDRESS__
	/* nng never frees the connections stranded in the deaf listener, even
	 * once it is closed: a leak inside libnng that LeakSanitizer would
	 * report at exit. So a sanitizer build checks for leaks now, before
	 * closing it (every leak of frep's so far is reported, and fails the
	 * process), and not again at exit. */
	rpc_log(RPC_LOG_WARN, "sanitizer build: leak check now; none at exit (nng #1518 leaks)");
	__lsan_do_leak_check();
#endif
	nng_listener_close(le->listener);
	le->created = false;
	if (start_listener(s, le, &st) != FREP_OK) {
		rpc_log(RPC_LOG_ERROR, "listener %s: %s: %s (tried again every %d ms)", le->url,
		    frep_code_name(st.code), st.message, WATCHDOG_PERIOD_MS);
		return;
	}
	pthread_mutex_lock(&s->mtx);
	s->watchdog_restarts++;
	pthread_mutex_unlock(&s->mtx);
}

void
rpc_server__tick_wait(pthread_cond_t *cv, pthread_mutex_t *mtx, unsigned period_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long) period_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cv, mtx, &until);
}

static void *
watchdog_main(void *arg)
{
	rpc_server *s                      = arg;
	unsigned    strikes[MAX_LISTENERS] = {0};
	pthread_mutex_lock(&s->mtx);
	while (!s->watchdog_stop) {
		rpc_server__tick_wait(&s->watchdog_cv, &s->mtx, WATCHDOG_PERIOD_MS);
		if (s->watchdog_stop || s->draining) {
			break;
		}
		pthread_mutex_unlock(&s->mtx);
		if (s->half_open != NULL) {
			int    ports[MAX_LISTENERS];
			size_t n_ports = 0;
			for (size_t i = 0; i < s->n_listeners; i++) {
				if (s->listeners[i].port > 0) {
					ports[n_ports++] = s->listeners[i].port;
				}
			}
			size_t dropped =
			    rpc_half_open_scan(s->half_open, ports, n_ports, nng_clock());
			if (dropped > 0) {
				rpc_log(RPC_LOG_WARN,
				    "closed %zu ws connections that had not finished the HTTP "
				    "upgrade "
				    "within %d ms or were over %d pending",
				    dropped, RPC_HALF_OPEN_DEADLINE_MS, RPC_HALF_OPEN_MAX);
			}
		}
		for (size_t i = 0; i < s->n_listeners; i++) {
			listener_entry *le = &s->listeners[i];
			if (strncmp(le->url, "ipc://", 6) != 0) {
				continue;
			}
			if (!le->created) {
				/* A re-creation that failed (out of descriptors, say)
				 * is tried again until it works. */
				frep_status lst;
				pthread_mutex_lock(&s->mtx);
				bool stop = s->watchdog_stop || s->draining;
				pthread_mutex_unlock(&s->mtx);
				if (!stop && start_listener(s, le, &lst) == FREP_OK) {
					rpc_log(RPC_LOG_WARN, "listener %s re-created", le->url);
					pthread_mutex_lock(&s->mtx);
					s->watchdog_restarts++;
					pthread_mutex_unlock(&s->mtx);
				}
				continue;
			}
			bool answered = watchdog_probe(le->url);
			pthread_mutex_lock(&s->mtx);
			bool stop = s->watchdog_stop || s->draining;
			/* With every context busy (a flood, or replies waiting
			 * for a peer that reads none) no probe is answered: not
			 * the listener's fault, no strike. */
			bool busy = s->in_flight >= s->n_ctxs;
			pthread_mutex_unlock(&s->mtx);
			strikes[i] = answered || busy ? 0 : strikes[i] + 1;
			if (!stop && strikes[i] >= WATCHDOG_STRIKES) {
				watchdog_restart(s, le);
				strikes[i] = 0;
			}
		}
		pthread_mutex_lock(&s->mtx);
	}
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

unsigned
rpc_server__listener_restarts(rpc_server *s)
{
	pthread_mutex_lock(&s->mtx);
	unsigned n = s->watchdog_restarts;
	pthread_mutex_unlock(&s->mtx);
	return n;
}

/* A connection that finished its handshake, beyond its listener's
 * maximum, is closed before it is added (conn_limit.h). Upgraded ws://
 * connections are pipes: the half-open guard leaves them be. */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	rpc_server *s = arg;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		rpc_conn_limit_refusal why = {0};
		int                    id  = nng_listener_id(nng_pipe_listener(p));
		if (!rpc_conn_limit_admit(s->conn_limit, (uint32_t) nng_pipe_id(p),
			id > 0 ? (uint32_t) id : 0, nng_clock(), &why)) {
			nng_pipe_close(p);
			rpc_metrics_count(s->metrics, "frep_connections_refused_total",
			    "Connections closed just after their handshake because their listener "
			    "had its maximum open (--max-connections).",
			    "listener", why.url, 1);
			if (why.warn) {
				rpc_log(RPC_LOG_WARN,
				    "listener %s: closed %" PRIu64 " new connection(s) since the "
				    "last warning: it has %u open, its maximum (--max-connections)",
				    why.url, why.refused, s->opts.max_connections);
			}
		}
		return;
	}
	if (ev == NNG_PIPE_EV_REM_POST) {
		rpc_conn_limit_release(s->conn_limit, (uint32_t) nng_pipe_id(p));
	}
	if (s->half_open == NULL) {
		return;
	}
	if (ev == NNG_PIPE_EV_ADD_POST) {
		rpc_half_open_pipe_added(s->half_open, p);
	} else {
		rpc_half_open_pipe_removed(s->half_open, p);
	}
}

frep_code
rpc_server_start(rpc_server *s, frep_status *st)
{
	int       rv;
	frep_code code;

	if (s->started) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION, "server already started");
	}
	if (s->n_listeners == 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "no listener configured");
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		return nng_fail(st, FREP_INTERNAL, rv, "rep0 socket");
	}
	s->sock_open = true;
	if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->opts.max_message_bytes)) !=
	    0) {
		return nng_fail(st, FREP_INTERNAL, rv, "socket receive limit");
	}
	for (size_t i = 0; i < s->n_listeners && s->half_open == NULL; i++) {
		if (url_is_ws(s->listeners[i].url) &&
		    (s->half_open = rpc_half_open_new(
			 RPC_HALF_OPEN_DEADLINE_MS, RPC_HALF_OPEN_MAX)) == NULL) {
			return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	if ((rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, s)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, pipe_event, s)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_event, s)) != 0) {
		return nng_fail(st, FREP_INTERNAL, rv, "pipe notification");
	}
	s->ctxs = calloc(s->opts.contexts, sizeof(*s->ctxs));
	if (s->ctxs == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < s->opts.contexts; i++) {
		rpc_ctx *rc     = &s->ctxs[i];
		rc->server      = s;
		rc->state       = CTX_IDLE;
		rc->call.server = s;
		rc->call.owner  = rc;
		if ((rv = nng_aio_alloc(&rc->aio, ctx_cb, rc)) != 0) {
			return nng_fail(st, FREP_INTERNAL, rv, "aio");
		}
		if ((rv = nng_ctx_open(&rc->ctx, s->sock)) != 0) {
			nng_aio_free(rc->aio);
			rc->aio = NULL;
			return nng_fail(st, FREP_INTERNAL, rv, "context");
		}
		s->n_ctxs++;
	}
	s->workers = calloc(s->opts.worker_threads, sizeof(*s->workers));
	if (s->workers == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < s->opts.worker_threads; i++) {
		if ((rv = pthread_create(&s->workers[i], NULL, worker_main, s)) != 0) {
			return frep_status_set(
			    st, FREP_INTERNAL, "worker thread: %s", strerror(rv));
		}
		s->n_workers++;
	}
	for (size_t i = 0; i < s->n_listeners; i++) {
		if ((code = start_listener(s, &s->listeners[i], st)) != FREP_OK) {
			return code;
		}
	}
	pthread_mutex_lock(&s->mtx);
	s->started = true;
	pthread_mutex_unlock(&s->mtx);
	for (size_t i = 0; i < s->n_ctxs; i++) {
		arm_recv(&s->ctxs[i]);
	}
	for (size_t i = 0; i < s->n_listeners; i++) {
		bool ws = url_is_ws(s->listeners[i].url);
		if ((ws || strncmp(s->listeners[i].url, "ipc://", 6) == 0) &&
		    !s->watchdog_running) {
			if ((rv = pthread_create(&s->watchdog, NULL, watchdog_main, s)) != 0) {
				return frep_status_set(
				    st, FREP_INTERNAL, "watchdog thread: %s", strerror(rv));
			}
			s->watchdog_running = true;
		}
	}
	return FREP_OK;
}

bool
rpc_server_serving(rpc_server *s)
{
	pthread_mutex_lock(&s->mtx);
	bool serving = s->started && !s->draining;
	pthread_mutex_unlock(&s->mtx);
	return serving;
}

void
rpc_server_shutdown(rpc_server *s, unsigned drain_ms)
{
	pthread_mutex_lock(&s->mtx);
	if (s->shut_down) {
		pthread_mutex_unlock(&s->mtx);
		return;
	}
	s->shut_down     = true;
	s->draining      = true;
	s->watchdog_stop = true;
	pthread_cond_broadcast(&s->watchdog_cv);
	pthread_mutex_unlock(&s->mtx);
	/* The watchdog first: it may be re-creating a listener. */
	if (s->watchdog_running) {
		pthread_join(s->watchdog, NULL);
		s->watchdog_running = false;
	}

	/* Stop waiting for new requests. A context between receive and reply
	 * keeps going; the callback sees draining and does not re-arm. */
	for (size_t i = 0; i < s->n_ctxs; i++) {
		rpc_ctx *rc = &s->ctxs[i];
		pthread_mutex_lock(&s->mtx);
		bool receiving = rc->state == CTX_RECV;
		pthread_mutex_unlock(&s->mtx);
		if (receiving) {
			nng_aio_cancel(rc->aio);
		}
	}

	/* Let the calls in flight answer. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += drain_ms / 1000;
	until.tv_nsec += (long) (drain_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mtx);
	while (s->in_flight > 0 || s->answering > 0) {
		if (pthread_cond_timedwait(&s->idle_cv, &s->mtx, &until) == ETIMEDOUT) {
			rpc_log(RPC_LOG_WARN, "shutdown: %zu calls still running after %u ms",
			    s->in_flight, drain_ms);
			break;
		}
	}
	pthread_mutex_unlock(&s->mtx);

	/* Closing the socket fails every outstanding aio, and a reply that a
	 * handler sends after this fails at once (its callback frees it). */
	if (s->sock_open) {
		nng_close(s->sock);
		s->sock_open = false;
	}
	pthread_mutex_lock(&s->mtx);
	s->stopping_workers = true;
	pthread_cond_broadcast(&s->work_cv);
	pthread_mutex_unlock(&s->mtx);
	for (size_t i = 0; i < s->n_workers; i++) {
		pthread_join(s->workers[i], NULL);
	}
	/* Stopping each aio waits for its callback, which never re-arms while
	 * draining. */
	for (size_t i = 0; i < s->n_ctxs; i++) {
		nng_aio_stop(s->ctxs[i].aio);
	}
	s->n_workers = 0;
}

void
rpc_server_free(rpc_server *s)
{
	if (s == NULL) {
		return;
	}
	rpc_server_shutdown(s, 5000);
	for (size_t i = 0; i < s->n_ctxs; i++) {
		rpc_ctx *rc = &s->ctxs[i];
		nng_aio_free(rc->aio);
		call_release(&rc->call);
	}
	free(s->ctxs);
	free(s->workers);
	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i].tls != NULL) {
			nng_tls_config_free(s->listeners[i].tls);
		}
		free(s->listeners[i].url);
		free(s->listeners[i].bound_url);
	}
	rpc_introspection_free(s->introspection);
	rpc_call_cache_free(s->cache);
	rpc_half_open_free(s->half_open);
	rpc_conn_limit_free(s->conn_limit);
	rpc_metrics_free(s->metrics);
	if (s->admin_token != NULL) {
		explicit_bzero(s->admin_token, strlen(s->admin_token));
		free(s->admin_token);
	}
	free(s->version);
	pthread_cond_destroy(&s->work_cv);
	pthread_cond_destroy(&s->idle_cv);
	pthread_cond_destroy(&s->watchdog_cv);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

/* --- the call path ------------------------------------------------------ */

static uint64_t request_id_base;

static void
request_id_base_init(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	request_id_base =
	    ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) ts.tv_nsec ^ ((uint64_t) getpid() << 48);
}

const char *
rpc_call_request_id(const rpc_call *call)
{
	return call->request_id;
}

void
rpc_call_log_event(const rpc_call *call, rpc_log_level level, const char *event, const char *status,
    const char *peer, const char *message)
{
	rpc_log_event(level, &(rpc_log_fields){
				 .event       = event,
				 .method      = rpc_call_method(call),
				 .status      = status,
				 .duration_ms = -1,
				 .request_id  = call->request_id,
				 .peer        = peer,
				 .message     = message,
			     });
}

rpc_metrics *
rpc_server_metrics(rpc_server *s)
{
	return s->metrics;
}

/* Drops the call's request: its view and the message it points into. */
static void
call_release(rpc_call *call)
{
	if (call->has_req) {
		frep_envelope_request_view_fini(&call->req);
		call->has_req = false;
	}
	if (call->reqmsg != NULL) {
		nng_msg_free(call->reqmsg);
		call->reqmsg = NULL;
	}
}

/* Sends an envelope already packed into msg on the call's context. The
 * send can complete (and shutdown proceed) before nng_ctx_send returns, so
 * shutdown also waits for every thread still inside it. */
static void
send_reply(rpc_ctx *rc, nng_msg *msg)
{
	rpc_server *s = rc->server;
	pthread_mutex_lock(&s->mtx);
	s->answering++;
	pthread_mutex_unlock(&s->mtx);
	nng_aio_set_msg(rc->aio, msg);
	/* A reply waits behind earlier ones of its connection only while
	 * that peer reads them (see reply_timeout_ms). */
	nng_aio_set_timeout(rc->aio, (nng_duration) s->opts.reply_timeout_ms);
	nng_ctx_send(rc->ctx, rc->aio);
	pthread_mutex_lock(&s->mtx);
	if (--s->answering == 0 && s->in_flight == 0) {
		pthread_cond_broadcast(&s->idle_cv);
	}
	pthread_mutex_unlock(&s->mtx);
}

/* The reply goes out in the request's own message when it has one: its
 * body is cleared and sized to len (nng keeps the buffer when it is large
 * enough, as it is for an echo), so no new buffer is allocated and no
 * freshly allocated pages are touched. The request's view stays usable
 * (its strings are in view.text, not in the message), but its payload
 * pointer does not: the reply is packed over it, which is why a reply
 * must not point into rpc_call_payload (rpc_server.h). NULL if there is no
 * request message or it cannot be resized (the caller allocates). */
#ifndef NDEBUG
static bool
span_inside(const void *p, size_t n, const uint8_t *lo, const uint8_t *hi)
{
	const uint8_t *b = p;
	return n > 0 && b != NULL && b < hi && b + n > lo;
}

/* Debug builds: does any string or bytes field of m, at any depth, point
 * into [lo, hi)? Such a reply would be overwritten while it is packed. */
static bool
message_points_into(const ProtobufCMessage *m, const uint8_t *lo, const uint8_t *hi)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd    = &d->fields[i];
		const char                     *field = (const char *) m + fd->offset;
		size_t                          n     = 1;
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *) ((const char *) m + fd->quantifier_offset) != fd->id) {
			continue; /* another member of the oneof is set */
		}
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			n     = *(const size_t *) ((const char *) m + fd->quantifier_offset);
			field = *(const char *const *) field;
		}
		for (size_t k = 0; k < n && field != NULL; k++) {
			switch (fd->type) {
			case PROTOBUF_C_TYPE_STRING: {
				const char *str = ((const char *const *) field)[k];
				if (str != NULL && span_inside(str, strlen(str) + 1, lo, hi)) {
					return true;
				}
				break;
			}
			case PROTOBUF_C_TYPE_BYTES: {
				const ProtobufCBinaryData *bd =
				    &((const ProtobufCBinaryData *) field)[k];
				if (span_inside(bd->data, bd->len, lo, hi)) {
					return true;
				}
				break;
			}
			case PROTOBUF_C_TYPE_MESSAGE: {
				const ProtobufCMessage *sub =
				    ((const ProtobufCMessage *const *) field)[k];
				if (sub != NULL && message_points_into(sub, lo, hi)) {
					return true;
				}
				break;
			}
			default:
				break;
			}
		}
	}
	return false;
}
#endif

static nng_msg *
reply_msg(rpc_call *call, const ProtobufCMessage *payload, size_t len)
{
	nng_msg *msg = call->reqmsg;
	if (msg == NULL) {
		return NULL;
	}
#ifndef NDEBUG
	const uint8_t *lo = nng_msg_body(msg);
	assert(payload == NULL || !message_points_into(payload, lo, lo + nng_msg_len(msg)));
#else
	(void) payload;
#endif
	call->reqmsg          = NULL;
	call->req.payload     = NULL;
	call->req.payload_len = 0;
	nng_msg_clear(msg);
	if (nng_msg_realloc(msg, len) != 0) {
		nng_msg_free(msg);
		return NULL;
	}
	return msg;
}

/* Builds and sends the reply for rc's call; consumes nothing of the caller.
 * Called exactly once per received request. */
static void
answer(rpc_ctx *rc, frep_code code, const char *message, const ProtobufCMessage *payload)
{
	rpc_server *s       = rc->server;
	uint64_t    call_id = rc->call.has_req ? rc->call.req.call_id : 0;

	/* Messages often quote what the caller sent: only valid UTF-8 goes
	 * back on the wire (proto3 strings), the rest escaped. */
	char clean[FREP_STATUS_MESSAGE_MAX * 4];
	if (message != NULL) {
		frep_utf8_sanitize(message, clean, sizeof(clean));
		message = clean;
	}
	frep_response_fields f = {
	    .code    = code,
	    .message = message,
	    .payload = code == FREP_OK ? payload : NULL,
	    .call_id = call_id,
	};
	size_t   len = frep_envelope_response_size(&f);
	nng_msg *msg = reply_msg(&rc->call, f.payload, len);
	if (msg == NULL && nng_msg_alloc(&msg, len) != 0) {
		/* Out of memory: a reply with no payload is small enough to try. */
		f   = (frep_response_fields){.code = FREP_RESOURCE_EXHAUSTED,
		      .message                     = "server out of memory",
		      .call_id                     = call_id};
		len = frep_envelope_response_size(&f);
		if (nng_msg_alloc(&msg, len) != 0) {
			msg = NULL;
		}
	}
	uint64_t took_us = rpc_metrics_now_us() - rc->call.started_us;
	rpc_metrics_call_done(s->metrics,
	    rc->call.has_req && rc->call.method != NULL ? rc->call.req.method : NULL, f.code,
	    took_us);
	/* The access log: every call, failures at info (debug for the rest). */
	rpc_log_level lvl = code == FREP_OK                                   ? RPC_LOG_DEBUG
			    : code == FREP_INTERNAL || code == FREP_DATA_LOSS ? RPC_LOG_ERROR
									      : RPC_LOG_INFO;
	if (rpc_log_enabled(lvl)) {
		rpc_log_event(lvl, &(rpc_log_fields){
				       .event       = "call",
				       .method      = rc->call.has_req ? rc->call.req.method : "",
				       .status      = frep_code_name(code),
				       .duration_ms = (double) took_us / 1000.0,
				       .request_id  = rc->call.request_id,
				       .peer        = rc->call.peer,
				       .message     = code != FREP_OK ? message : NULL,
				   });
	}
	if (msg != NULL) {
		frep_envelope_response_pack(&f, nng_msg_body(msg));
		if (rc->call.cache_owner && code != FREP_UNAUTHENTICATED) {
			rpc_call_cache_finish(s->cache, call_id, nng_msg_body(msg), len);
		}
	}
	if (rc->call.cache_owner && (msg == NULL || code == FREP_UNAUTHENTICATED)) {
		/* A refused caller leaves no trace in the cache. */
		rpc_call_cache_abandon(s->cache, call_id);
	}
	rc->call.cache_owner = false;
	call_release(&rc->call);
	pthread_mutex_lock(&s->mtx);
	rc->state = CTX_SEND;
	pthread_mutex_unlock(&s->mtx);
	if (msg == NULL) {
		/* Nothing can be sent; the client's deadline will fire. Re-arm. */
		rpc_log(RPC_LOG_ERROR, "cannot allocate a reply; call dropped");
		nng_aio_set_msg(rc->aio, NULL);
		pthread_mutex_lock(&s->mtx);
		s->in_flight--;
		bool draining = s->draining;
		if (s->in_flight == 0) {
			pthread_cond_broadcast(&s->idle_cv);
		}
		rc->state = draining ? CTX_IDLE : CTX_RECV;
		pthread_mutex_unlock(&s->mtx);
		if (!draining) {
			ctx_recv(rc);
		}
		return;
	}
	send_reply(rc, msg);
}

static void answer_status(rpc_ctx *rc, frep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
answer_status(rpc_ctx *rc, frep_code code, const char *fmt, ...)
{
	char    message[FREP_STATUS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	answer(rc, code, message, NULL);
}

static const service_entry *
find_service(rpc_server *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n_services; i++) {
		const service_entry *e = &s->services[i];
		if (e->name_len == len && memcmp(e->service->descriptor->name, name, len) == 0) {
			return e;
		}
	}
	return NULL;
}

bool
rpc_server_bearer_ok(const rpc_server *s, const char *authorization)
{
	if (s->admin_token == NULL) {
		return true;
	}
	if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0) {
		return false;
	}
	return token_equal(s->admin_token, authorization + 7);
}

static bool
bearer_ok(const rpc_server *s, const rpc_call *call)
{
	return rpc_server_bearer_ok(
	    s, frep_envelope_view_metadata_get(&call->req, "authorization"));
}

static bool
authorized(rpc_server *s, const rpc_call *call)
{
	if ((call->svc->flags & (RPC_SERVICE_NO_AUTH | RPC_SERVICE_OWN_AUTH)) != 0) {
		return true;
	}
	return bearer_ok(s, call);
}

bool
rpc_call_has_admin_token(const rpc_call *call)
{
	return bearer_ok(call->server, call);
}

static bool
request_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > RPC_REQUEST_ID_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (id[i] <= ' ' || id[i] > '~' || id[i] == '"' || id[i] == '\\') {
			return false;
		}
	}
	return true;
}

void
rpc_request_id_make(char *buf, size_t size)
{
	static atomic_uint_least64_t seq;
	static pthread_once_t        once = PTHREAD_ONCE_INIT;
	pthread_once(&once, request_id_base_init);
	uint64_t n = atomic_fetch_add(&seq, 1) + request_id_base;
	/* A splitmix64 step: distinct, unpredictable-looking ids per process. */
	n += 0x9e3779b97f4a7c15ull;
	n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9ull;
	n = (n ^ (n >> 27)) * 0x94d049bb133111ebull;
	n ^= n >> 31;
	snprintf(buf, size, "%016llx", (unsigned long long) n);
}

/* The call's request id (the caller's x-request-id when it is one, else a
 * new one) and its peer's address, for logs and partner calls. */
static void
call_identify(rpc_call *call, nng_msg *msg)
{
	const char *rid = frep_envelope_view_metadata_get(&call->req, "x-request-id");
	if (rid != NULL && request_id_ok(rid)) {
		snprintf(call->request_id, sizeof(call->request_id), "%s", rid);
	} else {
		rpc_request_id_make(call->request_id, sizeof(call->request_id));
	}
	nng_sockaddr sa;
	nng_pipe     p = nng_msg_get_pipe(msg);
	call->peer[0]  = '\0';
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
		return;
	}
	char host[INET6_ADDRSTRLEN];
	switch (sa.s_family) {
	case NNG_AF_INET:
		inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof(host));
		snprintf(call->peer, sizeof(call->peer), "tcp://%s:%u", host,
		    (unsigned) ntohs(sa.s_in.sa_port));
		break;
	case NNG_AF_INET6:
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof(host));
		snprintf(call->peer, sizeof(call->peer), "tcp://[%s]:%u", host,
		    (unsigned) ntohs(sa.s_in6.sa_port));
		break;
	case NNG_AF_IPC:
		snprintf(call->peer, sizeof(call->peer), "ipc");
		break;
	case NNG_AF_INPROC:
		snprintf(call->peer, sizeof(call->peer), "inproc"); /* the HTTP endpoint */
		break;
	default:
		break;
	}
}

/* Runs on the nng callback thread: decode the envelope, route, check, and
 * either run the handler here (inline services) or queue it. */
static void
begin_call(rpc_ctx *rc, nng_msg *msg)
{
	rpc_server *s    = rc->server;
	rpc_call   *call = &rc->call;
	frep_status st;
	nng_time    now = nng_clock();

	call->svc          = NULL;
	call->method       = NULL;
	call->deadline     = 0;
	call->next_queued  = NULL;
	call->cache_owner  = false;
	call->principal[0] = '\0';
	call->cached_only  = false;
	call->started_us   = rpc_metrics_now_us();
	atomic_store(&call->answered, false);
	frep_status_clear(&call->status);

	/* The view borrows the payload from msg: keep msg until the answer. */
	frep_code code =
	    frep_envelope_request_view(nng_msg_body(msg), nng_msg_len(msg), &call->req, &st);
	if (code != FREP_OK) {
		nng_msg_free(msg);
		answer(rc, code, st.message, NULL);
		return;
	}
	call->has_req                = true;
	call->reqmsg                 = msg;
	const frep_request_view *req = &call->req;
	call_identify(call, msg);
	if (req->timeout_ms > 0) {
		call->deadline = now + req->timeout_ms;
	}
	if (req->n_metadata > RPC_MAX_METADATA_PAIRS) {
		answer_status(rc, FREP_INVALID_ARGUMENT, "metadata: %zu pairs, at most %d",
		    req->n_metadata, RPC_MAX_METADATA_PAIRS);
		return;
	}

	/* "/package.Service/Method" */
	const char *path  = req->method;
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (slash == NULL || slash == path + 1 || slash[1] == '\0') {
		answer_status(rc, FREP_UNIMPLEMENTED,
		    "method \"%.200s\" is not of the form /package.Service/Method", path);
		return;
	}
	call->svc = find_service(s, path + 1, (size_t) (slash - path - 1));
	if (call->svc == NULL) {
		answer_status(rc, FREP_UNIMPLEMENTED, "unknown service in method %.200s", path);
		return;
	}
	const ProtobufCServiceDescriptor *d = call->svc->service->descriptor;
	call->method = protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
	if (call->method == NULL) {
		answer_status(rc, FREP_UNIMPLEMENTED, "unknown method %.200s", path);
		return;
	}
	call->method_index = (unsigned) (call->method - d->methods);
	if (!authorized(s, call)) {
		answer_status(rc, FREP_UNAUTHENTICATED,
		    "method %s needs \"authorization: Bearer <token>\" with the admin token", path);
		return;
	}
	if ((call->svc->flags & RPC_SERVICE_NO_AUTH) != 0 &&
	    call->req.payload_len > RPC_NO_AUTH_PAYLOAD_MAX) {
		/* Anyone may call these: their requests are a few bytes, and a
		 * large one would be decoded at a multiple of its size. */
		answer_status(rc, FREP_RESOURCE_EXHAUSTED,
		    "a %s payload of %zu bytes is over the %u bytes a method that needs no token "
		    "takes; refused unread",
		    path, call->req.payload_len, RPC_NO_AUTH_PAYLOAD_MAX);
		return;
	}
	if (call->svc->flags & RPC_SERVICE_INLINE) {
		run_call(call); /* never counted busy: small, and the ipc watchdog's */
	} else {
		enqueue_call(s, call);
	}
}

/* The cache's key of a call: a digest of who called (the authorization
 * metadata) and one of what was asked (method and payload). */
static void
cache_key_of(const rpc_call *call, rpc_call_cache_key *key)
{
	const char *auth = frep_envelope_view_metadata_get(&call->req, "authorization");
	unsigned    n    = 0;
	key->call_id     = call->req.call_id;
	if (auth == NULL) {
		auth = "";
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, auth, strlen(auth) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, call->principal, strlen(call->principal)) != 1 ||
	    EVP_DigestFinal_ex(ctx, key->caller, &n) != 1) {
		for (size_t i = 0; i < sizeof(key->caller); i++) {
			key->caller[i] = (uint8_t) (0x5au ^ i ^ (uintptr_t) call);
		}
	}
	EVP_MD_CTX_free(ctx);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, call->req.method, strlen(call->req.method) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, call->req.payload, call->req.payload_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, key->request, &n) != 1) {
		/* Cannot tell requests apart: a key no other call can match. */
		for (size_t i = 0; i < sizeof(key->request); i++) {
			key->request[i] = (uint8_t) (0xa5u ^ i ^ (uintptr_t) call);
		}
	}
	EVP_MD_CTX_free(ctx);
}

/* Looks the call id up (after authentication). True if the call goes on;
 * false if it was answered (from the cache or refused). */
static bool
check_call_id(rpc_call *call)
{
	rpc_ctx    *rc = call->owner;
	rpc_server *s  = rc->server;
	if (call->req.call_id == 0) {
		return true;
	}
	rpc_call_cache_key key;
	uint8_t           *cached     = NULL;
	size_t             cached_len = 0;
	cache_key_of(call, &key);
	switch (rpc_call_cache_begin(s->cache, &key, &cached, &cached_len)) {
	case RPC_CALL_CACHE_NEW:
		if (call->cached_only) {
			/* Let through only to be answered from the cache, and its
			 * entry went in the meantime: it must not run again. */
			rpc_call_cache_abandon(s->cache, call->req.call_id);
			answer_status(rc, FREP_UNAUTHENTICATED,
			    "%s: a repeated call whose cached reply is gone; it did not run",
			    call->req.method);
			return false;
		}
		call->cache_owner = true;
		return true;
	case RPC_CALL_CACHE_RUNNING:
		answer_status(rc, FREP_ABORTED,
		    "call id %llu is already running; retry later for its result",
		    (unsigned long long) call->req.call_id);
		return false;
	case RPC_CALL_CACHE_CONFLICT:
		answer_status(rc, FREP_ALREADY_EXISTS,
		    "call id %llu was used in the last %u s by another call (another caller, "
		    "method or request); %s did not run: use a fresh call id",
		    (unsigned long long) call->req.call_id, s->opts.call_id_cache_seconds,
		    call->req.method);
		return false;
	case RPC_CALL_CACHE_DONE: {
		nng_msg *m = NULL;
		call_release(call);
		if (nng_msg_alloc(&m, cached_len) == 0) {
			memcpy(nng_msg_body(m), cached, cached_len);
			free(cached);
			pthread_mutex_lock(&s->mtx);
			rc->state = CTX_SEND;
			pthread_mutex_unlock(&s->mtx);
			send_reply(rc, m);
			return false;
		}
		free(cached);
		answer_status(rc, FREP_RESOURCE_EXHAUSTED, "server out of memory");
		return false;
	}
	case RPC_CALL_CACHE_FORGOTTEN:
		answer_status(rc, FREP_ABORTED,
		    "call id %llu already ran; its reply was too large to keep",
		    (unsigned long long) call->req.call_id);
		return false;
	}
	return true;
}

/* The call whose handler runs on this thread (rpc_call_current). */
static _Thread_local rpc_call *current_call;

rpc_call *
rpc_call_current(void)
{
	return current_call;
}

rpc_call *
rpc_call_set_current(rpc_call *call)
{
	rpc_call *prev = current_call;
	current_call   = call;
	return prev;
}

static void
run_call(rpc_call *call)
{
	rpc_ctx    *rc = call->owner;
	frep_status st;

	/* The service's own authentication first, on the raw payload: nothing
	 * is decoded, and nothing cached, for a caller it refuses. */
	if (call->svc->authorize != NULL) {
		frep_status_clear(&st);
		if (call->svc->authorize(call->svc->authorize_arg, call, &st) != FREP_OK) {
			answer(rc, st.code, st.message, NULL);
			return;
		}
	}
	if (!check_call_id(call)) {
		return;
	}
	if (call->deadline != 0 && nng_clock() >= call->deadline) {
		answer_status(rc, FREP_DEADLINE_EXCEEDED,
		    "deadline of %u ms passed before %s started", call->req.timeout_ms,
		    call->req.method);
		return;
	}
	const ProtobufCMessageDescriptor *in_desc = call->method->input;
	if (rpc_payload_check_text(in_desc, call->req.payload, call->req.payload_len, &st) !=
	    FREP_OK) {
		answer(rc, st.code, st.message, NULL);
		return;
	}
	/* Decoding may cost a bounded multiple of the payload's size. On a
	 * worker it goes into the worker's arena (not nested: a handler that
	 * runs a call on its own thread decodes that one with malloc). */
	rpc_budget_allocator budget;
	rpc_decode_arena    *arena = worker_arena;
	if (arena != NULL && !arena->in_use) {
		rpc_budget_allocator_init_arena(&budget, call->req.payload_len, arena);
	} else {
		arena = NULL;
		rpc_budget_allocator_init(&budget, call->req.payload_len);
	}
	ProtobufCMessage *input = protobuf_c_message_unpack(
	    in_desc, &budget.base, call->req.payload_len, call->req.payload);
	if (input == NULL && arena != NULL) {
		rpc_decode_arena_reset(arena);
	}
	if (input == NULL && budget.exceeded) {
		answer_status(rc, FREP_RESOURCE_EXHAUSTED,
		    "payload of %zu bytes needs more than %zu bytes of memory to decode as %s "
		    "(at most %d times its size); refused",
		    call->req.payload_len, budget.limit, in_desc->name, RPC_DECODE_BUDGET_FACTOR);
		return;
	}
	if (input == NULL) {
		answer_status(rc, FREP_INVALID_ARGUMENT,
		    "payload of %zu bytes does not decode as %s", call->req.payload_len,
		    in_desc->name);
		return;
	}
	rpc_log(RPC_LOG_DEBUG, "%s: %zu payload bytes decoded into %zu bytes", call->req.method,
	    call->req.payload_len, budget.peak);
	ProtobufCService *svc   = call->svc->service;
	rpc_call         *outer = current_call;
	current_call            = call;
	svc->invoke(svc, call->method_index, input, call_closure, call);
	current_call = outer;
	if (arena != NULL) {
		rpc_decode_arena_reset(arena);
	} else {
		protobuf_c_message_free_unpacked(input, &budget.base);
	}
}

static void
refuse_queued(rpc_call *call)
{
	answer_status(call->owner, FREP_UNAVAILABLE, "server shutting down; %s did not run",
	    call->req.method);
}

static void
call_closure(const ProtobufCMessage *msg, void *closure_data)
{
	rpc_call *call = closure_data;
	if (atomic_exchange(&call->answered, true)) {
		rpc_log(RPC_LOG_ERROR, "%s: handler answered twice; second answer ignored",
		    rpc_call_method(call));
		return;
	}
	if (call->status.code != FREP_OK) {
		answer(call->owner, call->status.code, call->status.message, NULL);
		return;
	}
	if (msg == NULL) {
		answer_status(call->owner, FREP_INTERNAL, "%s: handler returned no message",
		    call->req.method);
		return;
	}
	if (msg->descriptor != call->method->output) {
		answer_status(call->owner, FREP_INTERNAL, "%s: handler returned a %s, not a %s",
		    call->req.method, msg->descriptor->name, call->method->output->name);
		return;
	}
	answer(call->owner, FREP_OK, NULL, msg);
}

/* A reply to the connection pipe waited too long: closes the connection
 * (a warning at most every 10 s, with how many since the last). */
static void
reply_timed_out(rpc_server *s, nng_pipe pipe)
{
	nng_time now = nng_clock();
	pthread_mutex_lock(&s->mtx);
	uint64_t n    = ++s->replies_timed_out;
	bool     warn = s->reply_warned_ms == 0 || now - s->reply_warned_ms >= 10000;
	if (warn) {
		s->reply_warned_ms   = now;
		s->replies_timed_out = 0;
	}
	pthread_mutex_unlock(&s->mtx);
	if (warn) {
		rpc_log(RPC_LOG_WARN,
		    "a reply waited %u ms for connection %u, whose peer reads none: closing it "
		    "(%" PRIu64 " replies timed out so since the last warning)",
		    s->opts.reply_timeout_ms, (unsigned) nng_pipe_id(pipe), n);
	}
	nng_pipe_close(pipe);
}

static void
ctx_cb(void *arg)
{
	rpc_ctx    *rc = arg;
	rpc_server *s  = rc->server;
	int         rv = nng_aio_result(rc->aio);

	pthread_mutex_lock(&s->mtx);
	ctx_state state    = rc->state;
	bool      draining = s->draining;
	pthread_mutex_unlock(&s->mtx);

	if (state == CTX_RECV) {
		if (rv != 0) {
			if (draining || rv == NNG_ECLOSED) {
				pthread_mutex_lock(&s->mtx);
				rc->state = CTX_IDLE;
				pthread_mutex_unlock(&s->mtx);
				return;
			}
			/* A transient failure (a message over the limit, a
			 * dropped pipe): wait for the next request. */
			ctx_recv(rc);
			return;
		}
		nng_msg *msg = nng_aio_get_msg(rc->aio);
		nng_aio_set_msg(rc->aio, NULL);
		rc->pipe = nng_msg_get_pipe(msg);
		pthread_mutex_lock(&s->mtx);
		rc->state = CTX_WORK;
		s->in_flight++;
		pthread_mutex_unlock(&s->mtx);
		begin_call(rc, msg);
		return;
	}

	if (state == CTX_SEND) {
		if (rv != 0) {
			/* The message is still ours after a failed send. */
			nng_msg_free(nng_aio_get_msg(rc->aio));
			nng_aio_set_msg(rc->aio, NULL);
		}
		if (rv == NNG_ETIMEDOUT) {
			/* The reply waited reply_timeout_ms behind earlier ones
			 * its peer does not read: that connection goes, and
			 * with it every reply still queued for it. */
			reply_timed_out(s, rc->pipe);
		}
		pthread_mutex_lock(&s->mtx);
		s->in_flight--;
		if (s->in_flight == 0 && s->answering == 0) {
			pthread_cond_broadcast(&s->idle_cv);
		}
		draining  = s->draining;
		rc->state = draining ? CTX_IDLE : CTX_RECV;
		pthread_mutex_unlock(&s->mtx);
		if (!draining) {
			ctx_recv(rc);
		}
	}
}

/* --- call accessors ------------------------------------------------------ */

frep_code
rpc_call_fail(rpc_call *call, frep_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	frep_status_setv(&call->status, code, fmt, ap);
	va_end(ap);
	return code;
}

frep_code
rpc_call_fail_status(rpc_call *call, const frep_status *st)
{
	frep_status_copy(&call->status, st);
	return call->status.code;
}

const char *
rpc_call_metadata(const rpc_call *call, const char *key)
{
	return call->has_req ? frep_envelope_view_metadata_get(&call->req, key) : NULL;
}

int64_t
rpc_call_remaining_ms(const rpc_call *call)
{
	if (call->deadline == 0) {
		return -1;
	}
	nng_time now = nng_clock();
	return now >= call->deadline ? 0 : (int64_t) (call->deadline - now);
}

const char *
rpc_call_method(const rpc_call *call)
{
	return call->has_req ? call->req.method : "";
}

const uint8_t *
rpc_call_payload(const rpc_call *call, size_t *len)
{
	*len = call->req.payload_len;
	return call->req.payload;
}

void
rpc_call_set_principal(rpc_call *call, const char *principal)
{
	snprintf(call->principal, sizeof(call->principal), "%s", principal);
}

bool
rpc_call_repeats_cached(rpc_call *call)
{
	rpc_call_cache_key key;
	if (!call->has_req || call->req.call_id == 0) {
		return false;
	}
	cache_key_of(call, &key);
	call->cached_only = rpc_call_cache_holds(call->server->cache, &key);
	return call->cached_only;
}

const char *
rpc_call_principal(const rpc_call *call)
{
	return call->principal[0] != '\0' ? call->principal : NULL;
}

rpc_server *
rpc_call_server(const rpc_call *call)
{
	return call->server;
}
