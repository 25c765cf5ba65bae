#define _GNU_SOURCE /* pthread_setname_np: the keepalive thread is named */
#include "frep_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep_envelope.h"

/* The dialer's reconnect backoff cap: a server that comes back is reached
 * within this, and a fail-fast call sees a fresh dial result in time. */
#define RECONNECT_MAX_MS   250
#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_MAX_RECV   (256u * 1024u * 1024u)
/* Every frep server accepts at least this much (RPC_MIN_MAX_MESSAGE_BYTES);
 * only larger requests need the server's own limit. */
#define SAFE_REQUEST_BYTES (64u * 1024u)
#define MAX_SERVICES       16
#define MAX_LIVE_PIPES     8
/* Keepalive, as gRPC's GRPC_ARG_KEEPALIVE_TIME_MS and _TIMEOUT_MS, but only
 * while a call waits for its reply: after KEEPALIVE_TIME_MS with no reply
 * on any call, the client pings the server over the connection
 * (Introspection/GetServerInfo, answered on the server's I/O thread); with
 * no answer within KEEPALIVE_TIMEOUT_MS the connection is closed. */
#define KEEPALIVE_TIME_MS    5000
#define KEEPALIVE_TIMEOUT_MS 10000
#define KEEPALIVE_TICK_MS    1000 /* how often waiting calls are looked at */
/* The keepalive thread ends after this long with no call waiting; the next
 * call sent starts it again. A process holding many clients (a controller
 * of a fleet of pairs) keeps no thread for the idle ones. */
#define KEEPALIVE_IDLE_EXIT_MS 10000
#define KEEPALIVE_METHOD       "/frep.rpc.v1.Introspection/GetServerInfo"

typedef struct client_service {
	ProtobufCService base;
	frep_client     *client;
	char           **paths; /* per method: "/pkg.Svc/Method" */
	bool            *idempotent;
} client_service;

/* One call in flight, known to the pipe-removal callback. */
typedef struct inflight {
	nng_aio         *aio;
	bool             idempotent;
	bool             sent;
	bool             lost;
	nng_time         sent_at; /* when sent (keepalive_main) */
	struct inflight *next;
} inflight;

/* A reusable context and its aio. */
typedef struct slot {
	nng_ctx      ctx;
	nng_aio     *aio;
	struct slot *next;
} slot;

/* Per-thread state: last status and call timeout. Freed when its thread
 * exits (thread_state_release) or with the client. */
typedef struct thread_state {
	frep_status          status;
	uint32_t             timeout_ms;
	struct frep_client  *owner;
	struct thread_state *next_all;
} thread_state;

struct frep_client {
	char           *url;
	nng_socket      sock;
	nng_dialer      dialer;
	nng_tls_config *tls;
	uint32_t        timeout_ms;
	bool            wait_for_ready; /* default of calls: wait for a connection */
	char           *token_header;   /* "Bearer <token>" */

	pthread_mutex_t mtx;
	/* Held across a redial (never by pipe callbacks): one redial at a
	 * time, and the dialer closed without mtx (see redial_after). */
	pthread_mutex_t dial_mtx;
	slot           *free_slots;
	inflight       *inflight;
	unsigned        pipes;                /* connected pipes */
	nng_pipe        live[MAX_LIVE_PIPES]; /* up to 8 of them, for keepalive */
	size_t          n_live;
	/* Keepalive (keepalive_main): its thread, started by a call sent when
	 * none runs (ka_running), ended after KEEPALIVE_IDLE_EXIT_MS without
	 * waiting calls; ka_joinable: a thread was made and not yet joined;
	 * idle: it waits for a call to be sent (ka_cv); ping_aio: the ping in
	 * flight; answered: when a reply last arrived on any call. */
	pthread_t      ka_thread;
	bool           ka_running;
	bool           ka_idle;
	pthread_cond_t ka_cv; /* CLOCK_MONOTONIC */
	nng_aio       *ping_aio;
	nng_time       answered;
	nng_time       pinged; /* when the last ping ended */
	bool           ka_joinable;
	/* when the dialer was created or re-created, or lost its last
	 * connection: a redial waits a whole slice from then */
	nng_time redialed;
	bool     ever_connected;
	size_t   server_max; /* 0: not yet asked */
	bool     closing;

	client_service *services[MAX_SERVICES];
	size_t          n_services;

	pthread_key_t tkey;
	thread_state *all_threads;

	uint64_t              call_id_base;
	atomic_uint_least64_t call_seq;
};

static void
slot_free(slot *s)
{
	nng_aio_free(s->aio);
	free(s);
}

/* --- helpers -------------------------------------------------------------- */

static bool
method_is_idempotent(const char *name)
{
	static const char *const prefixes[] = {"Get", "List", "Check", "Diff", NULL};
	for (size_t i = 0; prefixes[i] != NULL; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], n) == 0 &&
		    (name[n] == '\0' || (name[n] >= 'A' && name[n] <= 'Z'))) {
			return true;
		}
	}
	return false;
}

/* A call signed for one use (its metadata holds x-frep-mac: a partner
 * call, PROTOCOL.md §6.1) is never sent twice, even if read-only: the
 * receiver refuses a MAC it has seen, so a resend after a lost connection
 * could only come back UNAUTHENTICATED ("replayed"), hiding the loss. */
static bool
single_use(const frep_call_options *opts)
{
	for (size_t i = 0; opts != NULL && i < opts->n_metadata; i++) {
		if (opts->metadata[i].key != NULL &&
		    strcmp(opts->metadata[i].key, "x-frep-mac") == 0) {
			return true;
		}
	}
	return false;
}

/* The key's destructor: a thread that called the client exits, and its
 * state leaves the client's list (a program that makes a thread per call
 * would otherwise grow the list until frep_client_close). A state the
 * list no longer holds is frep_client_close's to free. */
static void
thread_state_release(void *p)
{
	thread_state *ts   = p;
	frep_client  *c    = ts->owner;
	bool          mine = false;
	pthread_mutex_lock(&c->mtx);
	for (thread_state **pp = &c->all_threads; *pp != NULL; pp = &(*pp)->next_all) {
		if (*pp == ts) {
			*pp  = ts->next_all;
			mine = true;
			break;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	if (mine) {
		free(ts);
	}
}

static thread_state *
thread_state_get(frep_client *c)
{
	thread_state *ts = pthread_getspecific(c->tkey);
	if (ts != NULL) {
		return ts;
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		return NULL;
	}
	ts->owner = c;
	pthread_mutex_lock(&c->mtx);
	ts->next_all   = c->all_threads;
	c->all_threads = ts;
	pthread_mutex_unlock(&c->mtx);
	pthread_setspecific(c->tkey, ts);
	return ts;
}

static frep_code
record(frep_client *c, frep_status *st)
{
	thread_state *ts = thread_state_get(c);
	if (ts != NULL) {
		frep_status_copy(&ts->status, st);
	}
	return st->code;
}

/* phase: "sending to" (the request has not left) or "waiting for" (it was
 * sent: it may or may not have run). */
static frep_code
map_nng(frep_client *c, int rv, const char *phase, const char *path, uint32_t timeout_ms, bool lost,
    frep_status *st)
{
	bool sent = strcmp(phase, "waiting for") == 0;
	switch (rv) {
	case NNG_ETIMEDOUT: {
		pthread_mutex_lock(&c->mtx);
		bool connected = c->pipes > 0;
		pthread_mutex_unlock(&c->mtx);
		if (!connected && !sent) {
			return frep_status_set(st, FREP_UNAVAILABLE,
			    "no connection to %s for %s within the deadline of %u ms", c->url, path,
			    timeout_ms);
		}
		return frep_status_set(st, FREP_DEADLINE_EXCEEDED,
		    "%s to %s: no reply within the deadline of %u ms (%s)", path, c->url,
		    timeout_ms,
		    sent ? "the request was sent and may have run"
			 : "the request could not be sent");
	}
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNABORTED:
		lost = lost || sent;
		/* fall through */
	case NNG_ECANCELED:
		if (lost) {
			return frep_status_set(st, FREP_UNAVAILABLE,
			    "connection to %s lost during the call; it may or may not have run",
			    c->url);
		}
		return frep_status_set(st, FREP_CANCELLED, "call to %s cancelled", c->url);
	case NNG_ECLOSED:
		return frep_status_set(st, FREP_CANCELLED, "client closed");
	case NNG_ENOMEM:
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	case NNG_EMSGSIZE:
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
		    "reply from %s larger than this client accepts", c->url);
	default:
		return frep_status_set(st, FREP_UNAVAILABLE, "%s %s: %s (nng error %d)", phase,
		    c->url, nng_strerror(rv), rv);
	}
}

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	frep_client *c = arg;
	pthread_mutex_lock(&c->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (c->n_live < MAX_LIVE_PIPES) {
			c->live[c->n_live++] = p;
		}
		c->pipes++;
		c->ever_connected = true;
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		for (size_t i = 0; i < c->n_live; i++) {
			if (nng_pipe_id(c->live[i]) == nng_pipe_id(p)) {
				c->live[i] = c->live[--c->n_live];
				break;
			}
		}
		if (c->pipes > 0) {
			c->pipes--;
		}
		if (c->pipes == 0) {
			c->redialed = nng_clock();
		}
		/* A request that changes state must not be resent to whatever
		 * comes next: fail it (nng would resend it at once). */
		for (inflight *f = c->inflight; f != NULL; f = f->next) {
			if (!f->idempotent && f->sent) {
				f->lost = true;
				nng_aio_cancel(f->aio);
			}
		}
		/* The next server may have other limits. */
		c->server_max = 0;
	}
	pthread_mutex_unlock(&c->mtx);
}

static frep_code
read_pem(const char *path, char **out, frep_status *st)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%s: %s", path, strerror(errno));
	}
	char  *buf = malloc(1024 * 1024 + 1);
	size_t n   = buf != NULL ? fread(buf, 1, 1024 * 1024, f) : 0;
	fclose(f);
	if (buf == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	buf[n] = '\0';
	*out   = buf;
	return FREP_OK;
}

/* The host of a tls+tcp:// or wss:// URL ("[::1]" without brackets) into
 * out (cap bytes); "" when there is none or it does not fit. */
static void
url_host(const char *url, char *out, size_t cap)
{
	const char *h = strstr(url, "://");
	out[0]        = '\0';
	if (h == NULL) {
		return;
	}
	h += 3;
	size_t n;
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
	} else {
		n = strcspn(h, ":/");
	}
	if (n > 0 && n < cap) {
		memcpy(out, h, n);
		out[n] = '\0';
	}
}

static frep_code
client_tls(frep_client *c, const frep_client_options *o, frep_status *st)
{
	int       rv;
	char     *cert = NULL, *key = NULL;
	frep_code code = FREP_OK;

	if ((rv = nng_tls_config_alloc(&c->tls, NNG_TLS_MODE_CLIENT)) != 0) {
		return frep_status_set(st, FREP_INTERNAL, "TLS: %s", nng_strerror(rv));
	}
	if (o->tls_ca_file != NULL) {
		if ((rv = nng_tls_config_ca_file(c->tls, o->tls_ca_file)) != 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT, "tls_ca_file %s: %s",
			    o->tls_ca_file, nng_strerror(rv));
		}
		rv = nng_tls_config_auth_mode(c->tls, NNG_TLS_AUTH_MODE_REQUIRED);
	} else {
		rv = nng_tls_config_auth_mode(c->tls, NNG_TLS_AUTH_MODE_NONE);
	}
	if (rv != 0) {
		return frep_status_set(st, FREP_INTERNAL, "TLS auth mode: %s", nng_strerror(rv));
	}
	/* The name the server's certificate must carry (CN or DNS subject
	 * alternative name): the given one, else the URL's host. Without it
	 * any certificate of the CA, made for any host, would do. mbedtls 2.28
	 * matches no IP address entry, so a host that is an IP address names
	 * nothing by default (the chain is still verified; docs/SECURITY.md). */
	char    host[256];
	uint8_t addr[16];
	url_host(c->url, host, sizeof(host));
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		host[0] = '\0';
	}
	const char *name = o->tls_server_name != NULL ? o->tls_server_name : host;
	if (name[0] != '\0' && (rv = nng_tls_config_server_name(c->tls, name)) != 0) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "tls_server_name %s: %s", name, nng_strerror(rv));
	}
	if (o->tls_cert_file != NULL) {
		if ((code = read_pem(o->tls_cert_file, &cert, st)) != FREP_OK ||
		    (code = read_pem(o->tls_key_file != NULL ? o->tls_key_file : o->tls_cert_file,
			 &key, st)) != FREP_OK) {
			goto out;
		}
		if ((rv = nng_tls_config_own_cert(c->tls, cert, key, NULL)) != 0) {
			code = frep_status_set(st, FREP_INVALID_ARGUMENT, "tls_cert_file %s: %s",
			    o->tls_cert_file, nng_strerror(rv));
		}
	}
out:
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
	}
	free(key);
	free(cert);
	return code;
}

/* --- open / close ------------------------------------------------------- */

frep_code
frep_client_open(
    const char *url, const frep_client_options *opts, frep_client **out, frep_status *st)
{
	frep_client_options o = {0};
	int                 rv;
	frep_code           code;

	if (opts != NULL) {
		o = *opts;
	}
	frep_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	pthread_mutex_init(&c->mtx, NULL);
	pthread_mutex_init(&c->dial_mtx, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->ka_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_key_create(&c->tkey, thread_state_release);
	c->timeout_ms     = o.timeout_ms != 0 ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
	c->wait_for_ready = o.wait_for_ready;
	if (getrandom(&c->call_id_base, sizeof(c->call_id_base), 0) != sizeof(c->call_id_base)) {
		c->call_id_base = (uint64_t) (uintptr_t) c ^ (uint64_t) time(NULL);
	}
	c->call_id_base &= ~(uint64_t) 0xffffffffu; /* low bits count calls */
	if ((c->url = strdup(url)) == NULL) {
		code = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if (o.token != NULL) {
		size_t n = strlen(o.token) + 8;
		if ((c->token_header = malloc(n)) == NULL) {
			code = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
			goto fail;
		}
		snprintf(c->token_header, n, "Bearer %s", o.token);
	}
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		code = frep_status_set(st, FREP_INTERNAL, "req0 socket: %s", nng_strerror(rv));
		goto fail;
	}
	/* No timed resend: a slow call must not run twice. Set before any
	 * context is opened, which copies it. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	    o.max_recv_bytes != 0 ? o.max_recv_bytes : DEFAULT_MAX_RECV);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c);

	if ((rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0) {
		code = frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "server URL \"%s\": %s", url, nng_strerror(rv));
		goto fail;
	}
	if (strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss://", 6) == 0) {
		if ((code = client_tls(c, &o, st)) != FREP_OK) {
			goto fail;
		}
		if ((rv = nng_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, c->tls)) != 0) {
			code = frep_status_set(st, FREP_INTERNAL, "TLS: %s", nng_strerror(rv));
			goto fail;
		}
	}
	c->redialed = nng_clock(); /* the first redial only a whole slice later */
	if ((rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		code = frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "server URL \"%s\": %s", url, nng_strerror(rv));
		goto fail;
	}
	*out = c;
	return FREP_OK;

fail:
	frep_client_close(c);
	return code;
}

void
frep_client_close(frep_client *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	c->closing = true;
	if (c->ping_aio != NULL) {
		nng_aio_cancel(c->ping_aio);
	}
	pthread_cond_signal(&c->ka_cv);
	bool ka = c->ka_joinable;
	pthread_mutex_unlock(&c->mtx);
	if (ka) {
		pthread_join(c->ka_thread, NULL); /* its ping's slot is back */
	}
	/* The aios go before the socket. nng 1.5.2's timeout thread can still
	 * hold an aio whose send completed meanwhile, about to run the req
	 * context's cancel on it; nng_aio_free waits for that, and the cancel
	 * must find the socket alive (freed first, the cancel locked a freed
	 * mutex: "panic: pthread_mutex_lock: Invalid argument" in
	 * req0_ctx_cancel_send, from a test's frep_client_close). */
	slot *s = c->free_slots;
	while (s != NULL) {
		slot *next = s->next;
		slot_free(s);
		s = next;
	}
	if (nng_socket_id(c->sock) > 0) {
		nng_close(c->sock);
	}
	for (size_t i = 0; i < c->n_services; i++) {
		client_service *cs = c->services[i];
		for (size_t m = 0; m < cs->base.descriptor->n_methods; m++) {
			free(cs->paths[m]);
		}
		free(cs->paths);
		free(cs->idempotent);
		free(cs);
	}
	/* The key goes first: no thread's exit frees a state from now on. */
	pthread_key_delete(c->tkey);
	pthread_mutex_lock(&c->mtx);
	thread_state *ts = c->all_threads;
	c->all_threads   = NULL;
	pthread_mutex_unlock(&c->mtx);
	while (ts != NULL) {
		thread_state *next = ts->next_all;
		free(ts);
		ts = next;
	}
	if (c->tls != NULL) {
		nng_tls_config_free(c->tls);
	}
	if (c->token_header != NULL) {
		explicit_bzero(c->token_header, strlen(c->token_header));
		free(c->token_header);
	}
	free(c->url);
	pthread_cond_destroy(&c->ka_cv);
	pthread_mutex_destroy(&c->mtx);
	pthread_mutex_destroy(&c->dial_mtx);
	free(c);
}

frep_code
frep_client_last_status(frep_client *c, frep_status *out)
{
	thread_state *ts = thread_state_get(c);
	if (ts == NULL) {
		return frep_status_set(out, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	frep_status_copy(out, &ts->status);
	return ts->status.code;
}

void
frep_client_set_call_timeout(frep_client *c, uint32_t timeout_ms)
{
	thread_state *ts = thread_state_get(c);
	if (ts != NULL) {
		ts->timeout_ms = timeout_ms;
	}
}

/* --- the call ------------------------------------------------------------ */

#define SEND_SLICE_MS     1000
#define FAIL_FAST_MS      1000
#define FAIL_FAST_STEP_MS 50

/* The dialer's failed connection attempts, from nng's statistics. */
typedef struct dial_errors {
	int      dialer_id;
	uint64_t refused; /* ECONNREFUSED; a missing ipc:// socket file too */
	uint64_t other;   /* no route, host unreachable, ... */
	uint64_t failed;  /* handshake (proto), TLS (auth), timeouts */
} dial_errors;

static uint64_t
stat_value(nng_stat *parent, const char *name)
{
	nng_stat *st = nng_stat_find(parent, name);
	return st != NULL ? nng_stat_value(st) : 0;
}

/* The "dialer" scope whose own "id" is id. (nng 1.5.2's
 * nng_stat_find_dialer can return another dialer's scope: it matches an "id"
 * anywhere below.) */
static nng_stat *
find_dialer_stats(nng_stat *item, int id)
{
	for (; item != NULL; item = nng_stat_next(item)) {
		if (nng_stat_type(item) != NNG_STAT_SCOPE) {
			continue;
		}
		if (strcmp(nng_stat_name(item), "dialer") == 0) {
			for (nng_stat *k = nng_stat_child(item); k != NULL; k = nng_stat_next(k)) {
				if (strcmp(nng_stat_name(k), "id") == 0 &&
				    nng_stat_value(k) == (uint64_t) id) {
					return item;
				}
			}
		}
		nng_stat *found = find_dialer_stats(nng_stat_child(item), id);
		if (found != NULL) {
			return found;
		}
	}
	return NULL;
}

static void
dial_errors_get(frep_client *c, dial_errors *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mtx);
	nng_dialer d = c->dialer;
	pthread_mutex_unlock(&c->mtx);
	out->dialer_id = nng_dialer_id(d);
	nng_stat *all  = NULL;
	if (nng_stats_get(&all) != 0) {
		return;
	}
	nng_stat *ds = find_dialer_stats(all, nng_dialer_id(d));
	if (ds != NULL) {
		out->refused = stat_value(ds, "refused");
		out->other   = stat_value(ds, "other") + stat_value(ds, "canceled");
		out->failed  = stat_value(ds, "proto") + stat_value(ds, "auth") +
			      stat_value(ds, "timeout") + stat_value(ds, "reject");
	}
	nng_stats_free(all);
}

/* Without wait_for_ready: true (and st set to UNAVAILABLE) once the dialer
 * has failed a connection attempt since base was taken, or nothing has
 * connected for FAIL_FAST_MS. */
static bool
fail_fast(
    frep_client *c, const dial_errors *base, const char *path, nng_time waited, frep_status *st)
{
	pthread_mutex_lock(&c->mtx);
	bool connected = c->pipes > 0;
	pthread_mutex_unlock(&c->mtx);
	if (connected) {
		return false; /* a connection came: the send is queued behind others */
	}
	dial_errors now;
	dial_errors_get(c, &now);
	bool same = now.dialer_id == base->dialer_id;
	if (now.refused > (same ? base->refused : 0)) {
		frep_status_set(st, FREP_UNAVAILABLE,
		    "%s: connection refused by %s (nothing listens there; wait_for_ready waits "
		    "for it)",
		    path, c->url);
		return true;
	}
	if (now.other > (same ? base->other : 0)) {
		frep_status_set(st, FREP_UNAVAILABLE,
		    "%s: cannot connect to %s (no route to it, or another network error)", path,
		    c->url);
		return true;
	}
	if (now.failed > (same ? base->failed : 0)) {
		frep_status_set(st, FREP_UNAVAILABLE,
		    "%s: %s refused the connection's handshake (not a frep server, or TLS "
		    "failed)",
		    path, c->url);
		return true;
	}
	if (waited >= FAIL_FAST_MS) {
		frep_status_set(st, FREP_UNAVAILABLE,
		    "%s: no connection to %s within %u ms (wait_for_ready waits up to the "
		    "deadline)",
		    path, c->url, (unsigned) waited);
		return true;
	}
	return false;
}

/* True if the dialer has counted a failed attempt since *seen (which is
 * then updated): it is still redialing by itself. */
static bool
dialer_moved(frep_client *c, dial_errors *seen)
{
	dial_errors now;
	dial_errors_get(c, &now);
	bool moved = now.dialer_id == seen->dialer_id &&
		     (now.refused != seen->refused || now.other != seen->other ||
			 now.failed != seen->failed);
	*seen = now;
	return moved;
}

/* nng 1.5.2's dialer can stop redialing for good when its peer vanishes in
 * the middle of the SP handshake (the same family as nanomsg/nng#1518): a
 * server SIGKILLed while clients reconnect. With no connection for a whole
 * slice, the dialer is closed and a new one started (at most once a
 * second); a healthy dialer is never touched while connected. */
static void
redial_after(frep_client *c, nng_duration min_gap_ms)
{
	pthread_mutex_lock(&c->dial_mtx);
	pthread_mutex_lock(&c->mtx);
	nng_time now = nng_clock();
	if (c->pipes > 0 || c->closing || now - c->redialed < (nng_time) min_gap_ms) {
		pthread_mutex_unlock(&c->mtx);
		pthread_mutex_unlock(&c->dial_mtx);
		return;
	}
	c->redialed    = now;
	nng_dialer old = c->dialer;
	pthread_mutex_unlock(&c->mtx);
	/* Closed without c->mtx: closing waits for the dialer's pipe
	 * callbacks, and pipe_event takes c->mtx (holding it here deadlocked
	 * a client whose server was starting: issue 15's tests). dial_mtx
	 * keeps a second redial from closing the same dialer meanwhile. */
	nng_dialer_close(old);
	nng_dialer d;
	if (nng_dialer_create(&d, c->sock, c->url) == 0 &&
	    (c->tls == NULL || nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c->tls) == 0) &&
	    nng_dialer_start(d, NNG_FLAG_NONBLOCK) == 0) {
		pthread_mutex_lock(&c->mtx);
		c->dialer = d;
		pthread_mutex_unlock(&c->mtx);
	}
	pthread_mutex_unlock(&c->dial_mtx);
}

static void
redial(frep_client *c)
{
	redial_after(c, SEND_SLICE_MS);
}

static slot *
slot_get(frep_client *c, frep_status *st)
{
	pthread_mutex_lock(&c->mtx);
	slot *s = c->free_slots;
	if (s != NULL) {
		c->free_slots = s->next;
	}
	pthread_mutex_unlock(&c->mtx);
	if (s != NULL) {
		return s;
	}
	int rv;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	if ((rv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0) {
		free(s);
		frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "aio: %s", nng_strerror(rv));
		return NULL;
	}
	if ((rv = nng_ctx_open(&s->ctx, c->sock)) != 0) {
		slot_free(s);
		frep_status_set(st, rv == NNG_ECLOSED ? FREP_CANCELLED : FREP_INTERNAL,
		    "context: %s", nng_strerror(rv));
		return NULL;
	}
	return s;
}

static void
slot_put(frep_client *c, slot *s)
{
	pthread_mutex_lock(&c->mtx);
	s->next       = c->free_slots;
	c->free_slots = s;
	pthread_mutex_unlock(&c->mtx);
}

/* answered: f's reply arrived (the connection is alive: see keepalive). */
static void
inflight_remove(frep_client *c, inflight *f, bool answered)
{
	pthread_mutex_lock(&c->mtx);
	if (answered) {
		c->answered = nng_clock();
	}
	for (inflight **pp = &c->inflight; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->mtx);
}

static uint64_t
next_call_id(frep_client *c)
{
	uint64_t id = c->call_id_base | (uint32_t) (atomic_fetch_add(&c->call_seq, 1) + 1);
	return id != 0 ? id : 1;
}

/* One keepalive ping: KEEPALIVE_METHOD over the socket, whose only
 * connection is normally the one a waiting call was sent on. 0: answered
 * (any status); NNG_ETIMEDOUT: sent, and no answer within
 * KEEPALIVE_TIMEOUT_MS; anything else (not sent: no connection, or one too
 * busy writing to take it) says nothing of the connection. */
static int
ping(frep_client *c)
{
	frep_status         st;
	nng_msg            *msg = NULL;
	frep_request_fields f   = {.method = KEEPALIVE_METHOD};
	f.timeout_ms            = KEEPALIVE_TIMEOUT_MS;
	f.call_id               = next_call_id(c);
	slot *s                 = slot_get(c, &st);
	if (s == NULL) {
		return NNG_ENOMEM;
	}
	size_t len = frep_envelope_request_size(&f);
	int    rv  = nng_msg_alloc(&msg, len);
	if (rv != 0) {
		slot_put(c, s);
		return rv;
	}
	frep_envelope_request_pack(&f, nng_msg_body(msg));
	/* Each operation is started under c->mtx after closing is checked, so
	 * that frep_client_close's cancel of ping_aio never falls between two
	 * operations (a cancel with none in progress is lost). */
	nng_aio_set_timeout(s->aio, KEEPALIVE_TIMEOUT_MS);
	nng_aio_set_msg(s->aio, msg);
	pthread_mutex_lock(&c->mtx);
	if (c->closing) {
		pthread_mutex_unlock(&c->mtx);
		nng_aio_set_msg(s->aio, NULL);
		nng_msg_free(msg);
		slot_put(c, s);
		return NNG_ECLOSED;
	}
	c->ping_aio = s->aio;
	nng_ctx_send(s->ctx, s->aio);
	pthread_mutex_unlock(&c->mtx);
	nng_aio_wait(s->aio);
	if ((rv = nng_aio_result(s->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(s->aio));
		nng_aio_set_msg(s->aio, NULL);
		rv = rv == NNG_ETIMEDOUT ? NNG_EBUSY : rv;
		goto out;
	}
	/* Sent: the whole timeout for the answer. */
	nng_aio_set_timeout(s->aio, KEEPALIVE_TIMEOUT_MS);
	pthread_mutex_lock(&c->mtx);
	if (c->closing) {
		pthread_mutex_unlock(&c->mtx);
		rv = NNG_ECLOSED;
		goto out;
	}
	nng_ctx_recv(s->ctx, s->aio);
	pthread_mutex_unlock(&c->mtx);
	nng_aio_wait(s->aio);
	if ((rv = nng_aio_result(s->aio)) == 0) {
		nng_msg_free(nng_aio_get_msg(s->aio));
		nng_aio_set_msg(s->aio, NULL);
	}
out:
	pthread_mutex_lock(&c->mtx);
	c->ping_aio = NULL;
	pthread_mutex_unlock(&c->mtx);
	slot_put(c, s);
	return rv;
}

/* With c->mtx held: waits on ka_cv (CLOCK_MONOTONIC) for at most ms. */
static void
ka_wait(frep_client *c, nng_time ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t) (ms / 1000);
	until.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->ka_cv, &c->mtx, &until);
}

/* The keepalive thread. Once a second while calls wait for replies, it
 * looks at the oldest: after KEEPALIVE_TIME_MS, unless a reply came on any
 * call within that time, it pings the server; with no answer, every
 * connection is closed, and the calls on them end as for any dropped
 * connection: one that only reads is sent again on the next connection
 * (call_raw), any other fails UNAVAILABLE ("may or may not have run").
 * What this catches: a connection whose server side never reads it (nng
 * 1.5.2 can complete a handshake on an ipc:// listener and strand the
 * connection, #1518's family; a server frozen, or gone without a reset). A
 * server that is merely slow answers the ping from its I/O thread, and the
 * calls wait on until their deadlines. A thread of its own, so that a
 * call's own wait stays a plain nng_aio_wait. */
static void *
keepalive_main(void *arg)
{
	frep_client *c = arg;
	pthread_mutex_lock(&c->mtx);
	nng_time idle_since = 0; /* 0: calls were waiting at the last look */
	while (!c->closing) {
		nng_time now = nng_clock(), oldest = now;
		bool     waiting = false;
		for (inflight *f = c->inflight; f != NULL; f = f->next) {
			if (f->sent && f->sent_at <= oldest) {
				oldest  = f->sent_at;
				waiting = true;
			}
		}
		if (!waiting) {
			if (idle_since == 0) {
				idle_since = now;
			} else if (now - idle_since >= KEEPALIVE_IDLE_EXIT_MS) {
				/* Ends; the next call sent starts another (and joins
				 * this one, which touches c no more). */
				c->ka_running = false;
				break;
			}
			c->ka_idle = true; /* the next call sent wakes it */
			ka_wait(c, KEEPALIVE_IDLE_EXIT_MS - (now - idle_since));
			c->ka_idle = false;
			continue;
		}
		idle_since = 0;
		if (c->pipes > 0 && now - oldest >= KEEPALIVE_TIME_MS &&
		    now - c->answered >= KEEPALIVE_TIME_MS &&
		    now - c->pinged >= KEEPALIVE_TIME_MS) {
			pthread_mutex_unlock(&c->mtx);
			int rv = ping(c);
			pthread_mutex_lock(&c->mtx);
			c->pinged = nng_clock(); /* the next ping a whole time later */
			if (rv == 0) {
				c->answered = c->pinged;
			} else if (rv == NNG_ETIMEDOUT && !c->closing && c->answered <= now) {
				/* No answer, and no reply on any other call since the
				 * ping went out either (a server whose contexts are all
				 * busy reads nothing new for a while, but still answers
				 * the calls it holds): the connection is dead. */
				nng_pipe dead[MAX_LIVE_PIPES];
				size_t   n_dead = c->n_live;
				memcpy(dead, c->live, n_dead * sizeof(dead[0]));
				/* Closed without c->mtx: their removal takes it. */
				pthread_mutex_unlock(&c->mtx);
				for (size_t i = 0; i < n_dead; i++) {
					nng_pipe_close(dead[i]);
				}
				pthread_mutex_lock(&c->mtx);
			}
			continue;
		}
		ka_wait(c, KEEPALIVE_TICK_MS);
	}
	pthread_mutex_unlock(&c->mtx);
	return NULL;
}

/* With c->mtx held, when a call has been sent: the keepalive thread is
 * started (when none runs: the first call, or the first after it ended
 * idle) or woken if it waits for calls. */
static void
keepalive_kick(frep_client *c)
{
	if (!c->ka_running && !c->closing) {
		/* A thread that ended (idle) has let go of c: joined here.
		 * Created with c->mtx held, so that frep_client_close, which
		 * reads ka_joinable under it, joins a thread that exists. A
		 * thread that cannot be made is tried again by the next call. */
		if (c->ka_joinable) {
			pthread_join(c->ka_thread, NULL);
		}
		c->ka_joinable = pthread_create(&c->ka_thread, NULL, keepalive_main, c) == 0;
		c->ka_running  = c->ka_joinable;
		if (c->ka_running) {
			/* Named here, before the call goes on: a thread that names
			 * itself may not have run yet when its call returns. */
			pthread_setname_np(c->ka_thread, "frep-keepalive");
		}
	} else if (c->ka_idle) {
		c->ka_idle = false;
		pthread_cond_signal(&c->ka_cv);
	}
}

static uint32_t
effective_timeout(frep_client *c, const frep_call_options *opts)
{
	if (opts != NULL && opts->timeout_ms != 0) {
		return opts->timeout_ms;
	}
	thread_state *ts = thread_state_get(c);
	if (ts != NULL && ts->timeout_ms != 0) {
		return ts->timeout_ms;
	}
	return c->timeout_ms;
}

/* Milliseconds from now to deadline, at least 1. */
static uint32_t
ms_left(nng_time deadline)
{
	nng_time now = nng_clock();
	return deadline > now + 1 ? (uint32_t) (deadline - now) : 1;
}

static frep_code call_raw(frep_client *c, const char *path, bool idempotent,
    const ProtobufCMessage *input, const ProtobufCMessageDescriptor *output_desc,
    ProtobufCMessage **output, const frep_call_options *opts, bool check_size, frep_status *st);
static frep_code call_once(frep_client *c, const char *path, bool idempotent,
    const ProtobufCMessage *input, const ProtobufCMessageDescriptor *output_desc,
    ProtobufCMessage **output, const frep_call_options *opts, bool check_size, nng_time deadline,
    bool *conn_lost, frep_status *st);

/* The server's limit, asked with opts (NULL: the thread's or client's
 * deadline) unless known. */
static size_t
server_max(frep_client *c, const frep_call_options *opts, frep_status *st)
{
	pthread_mutex_lock(&c->mtx);
	size_t known = c->server_max;
	pthread_mutex_unlock(&c->mtx);
	if (known != 0) {
		return known;
	}
	Frep__Rpc__V1__GetServerInfoRequest req = FREP__RPC__V1__GET_SERVER_INFO_REQUEST__INIT;
	ProtobufCMessage                   *out = NULL;
	if (call_raw(c, "/frep.rpc.v1.Introspection/GetServerInfo", true, &req.base,
		&frep__rpc__v1__server_info__descriptor, &out, opts, false, st) != FREP_OK) {
		return 0;
	}
	known = (size_t) ((Frep__Rpc__V1__ServerInfo *) out)->max_message_bytes;
	protobuf_c_message_free_unpacked(out, NULL);
	pthread_mutex_lock(&c->mtx);
	c->server_max = known;
	pthread_mutex_unlock(&c->mtx);
	return known;
}

size_t
frep_client_server_max_message_bytes(frep_client *c, frep_status *st)
{
	return server_max(c, NULL, st);
}

/* A read-only call whose connection dropped is sent again (on the next
 * connection) until its deadline; any other call fails at once. */
static frep_code
call_raw(frep_client *c, const char *path, bool idempotent, const ProtobufCMessage *input,
    const ProtobufCMessageDescriptor *output_desc, ProtobufCMessage **output,
    const frep_call_options *opts, bool check_size, frep_status *st)
{
	nng_time deadline = nng_clock() + effective_timeout(c, opts);
	for (;;) {
		bool      lost = false;
		frep_code code = call_once(c, path, idempotent, input, output_desc, output, opts,
		    check_size, deadline, &lost, st);
		if (code == FREP_OK || !idempotent || !lost || nng_clock() + 10 >= deadline) {
			return code;
		}
	}
}

/* The reply's call id and details, decoded again in full (rare: only
 * callers that ask). Nothing is filled if it does not decode. */
static void
reply_info_fill(frep_reply_info *info, const uint8_t *data, size_t len)
{
	frep_reply_info_fini(info);
	Frep__Rpc__V1__Response *r = frep__rpc__v1__response__unpack(NULL, len, data);
	if (r == NULL) {
		return;
	}
	info->call_id = r->call_id;
	if (r->n_details > 0 &&
	    (info->details = calloc(r->n_details, sizeof(frep_detail))) != NULL) {
		for (size_t i = 0; i < r->n_details; i++) {
			frep_detail *d = &info->details[info->n_details];
			d->type_url    = strdup(r->details[i]->type_url);
			d->value       = malloc(r->details[i]->value.len + 1);
			if (d->type_url == NULL || d->value == NULL) {
				free(d->type_url);
				free(d->value);
				break;
			}
			memcpy(d->value, r->details[i]->value.data, r->details[i]->value.len);
			d->len = r->details[i]->value.len;
			info->n_details++;
		}
	}
	frep__rpc__v1__response__free_unpacked(r, NULL);
}

void
frep_reply_info_fini(frep_reply_info *info)
{
	if (info == NULL) {
		return;
	}
	for (size_t i = 0; i < info->n_details; i++) {
		free(info->details[i].type_url);
		free(info->details[i].value);
	}
	free(info->details);
	memset(info, 0, sizeof(*info));
}

static frep_code
call_once(frep_client *c, const char *path, bool idempotent, const ProtobufCMessage *input,
    const ProtobufCMessageDescriptor *output_desc, ProtobufCMessage **output,
    const frep_call_options *opts, bool check_size, nng_time deadline, bool *conn_lost,
    frep_status *st)
{
	frep_metadata md[1 + 16];
	size_t        n_md       = 0;
	nng_time      start      = nng_clock();
	uint32_t      timeout_ms = deadline > start ? (uint32_t) (deadline - start) : 1;
	int           rv;

	*output = NULL;
	if (c->token_header != NULL) {
		md[n_md++] = (frep_metadata){.key = "authorization", .value = c->token_header};
	}
	if (opts != NULL) {
		if (opts->n_metadata > 16) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "metadata: %zu pairs, at most 16", opts->n_metadata);
		}
		for (size_t i = 0; i < opts->n_metadata; i++) {
			md[n_md++] = opts->metadata[i];
		}
	}
	frep_request_fields f = {
	    .method     = path,
	    .payload    = input,
	    .timeout_ms = timeout_ms,
	    .metadata   = md,
	    .n_metadata = n_md,
	    .call_id    = next_call_id(c),
	};
	size_t len = frep_envelope_request_size(&f);
	if (check_size && len > SAFE_REQUEST_BYTES) {
		/* The question is part of the call: it waits at most what is
		 * left of the call's deadline. */
		frep_call_options qo  = {.timeout_ms = ms_left(deadline),
		     .wait_for_ready                 = opts != NULL && opts->wait_for_ready};
		size_t            max = server_max(c, &qo, st);
		if (max == 0) {
			frep_status q = *st;
			return frep_status_set(st, q.code,
			    "%s: not sent: the server's size limit could not be asked: %s", path,
			    q.message);
		}
		/* The server gets what is left of the deadline, not what the
		 * question took. */
		f.timeout_ms = ms_left(deadline);
		len          = frep_envelope_request_size(&f);
		if (len > max) {
			return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
			    "%s: request of %zu bytes exceeds the server's limit of %zu bytes",
			    path, len, max);
		}
	}
	nng_msg *msg = NULL;
	if ((rv = nng_msg_alloc(&msg, len)) != 0) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	frep_envelope_request_pack(&f, nng_msg_body(msg));

	slot *s = slot_get(c, st);
	if (s == NULL) {
		nng_msg_free(msg);
		return st->code;
	}
	inflight fl = {.aio = s->aio, .idempotent = idempotent};
	pthread_mutex_lock(&c->mtx);
	fl.next        = c->inflight;
	c->inflight    = &fl;
	bool connected = c->pipes > 0;
	pthread_mutex_unlock(&c->mtx);

	frep_code code   = FREP_OK;
	bool      wait   = c->wait_for_ready || (opts != NULL && opts->wait_for_ready);
	bool      kicked = false;
	/* The dialer's failures so far, against which fail_fast and
	 * dialer_moved judge. Read from nng's statistics (a snapshot of all of
	 * them: costly), so only when there is no connection: now, or once a
	 * slice has ended without one. */
	dial_errors base = {0}, seen = {0};
	bool        have_base = !connected;
	if (have_base) {
		dial_errors_get(c, &base);
		seen = base;
	}
	/* The send waits for a connection. It is made in slices: when a slice
	 * ends with no connection at all, the dialer is re-created (see
	 * redial) and the same message is sent again, until the deadline.
	 * Without wait_for_ready the slices are short and the call fails
	 * fast: UNAVAILABLE as soon as the dialer reports a refused or failed
	 * connection, or after FAIL_FAST_MS without one. */
	for (;;) {
		nng_time now   = nng_clock();
		nng_time left  = deadline > now ? deadline - now : 1;
		nng_time step  = wait ? SEND_SLICE_MS : FAIL_FAST_STEP_MS;
		nng_time slice = left > step ? step : left;
		nng_aio_set_timeout(s->aio, (nng_duration) slice);
		nng_aio_set_msg(s->aio, msg);
		nng_ctx_send(s->ctx, s->aio);
		nng_aio_wait(s->aio);
		rv = nng_aio_result(s->aio);
		if (rv != NNG_ETIMEDOUT || slice == left) {
			break;
		}
		msg = nng_aio_get_msg(s->aio); /* still ours after a failed send */
		nng_aio_set_msg(s->aio, NULL);
		bool fresh_base = !have_base;
		if (fresh_base) {
			dial_errors_get(c, &base);
			seen      = base;
			have_base = true;
		}
		if (!wait && !kicked) {
			/* No connection yet. The dialer is never re-created here:
			 * it may be in the middle of a handshake, and closing it
			 * then is what breaks nng 1.5.2's ipc listeners (#1518).
			 * Its reconnect backoff is capped at RECONNECT_MAX_MS, so
			 * its next attempt, and the error fail_fast reads, come
			 * well within FAIL_FAST_MS. */
			kicked = true;
			continue;
		}
		if (!wait && fail_fast(c, &base, path, nng_clock() - start, st)) {
			nng_msg_free(msg);
			inflight_remove(c, &fl, false);
			code = st->code;
			goto done;
		}
		if (wait && (fresh_base || dialer_moved(c, &seen))) {
			/* The dialer still tries (a refusal since the last slice:
			 * the server is not up yet). It is left alone: it may be
			 * in the middle of a handshake with a server that has just
			 * come up, and closing it then is #1518's trigger. */
			continue;
		}
		redial(c);
	}
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(s->aio));
		nng_aio_set_msg(s->aio, NULL);
		inflight_remove(c, &fl, false);
		code       = map_nng(c, rv, "sending to", path, timeout_ms, false, st);
		*conn_lost = rv == NNG_ECONNRESET || rv == NNG_ECONNSHUT || rv == NNG_ECONNABORTED;
		goto done;
	}
	pthread_mutex_lock(&c->mtx);
	fl.sent    = true;
	fl.sent_at = nng_clock();
	keepalive_kick(c);
	pthread_mutex_unlock(&c->mtx);

	nng_aio_set_timeout(s->aio, (nng_duration) ms_left(deadline));
	nng_ctx_recv(s->ctx, s->aio);
	nng_aio_wait(s->aio);
	rv = nng_aio_result(s->aio);
	inflight_remove(c, &fl, rv == 0);
	if (rv != 0) {
		code       = map_nng(c, rv, "waiting for", path, timeout_ms, fl.lost, st);
		*conn_lost = fl.lost || rv == NNG_ECONNRESET || rv == NNG_ECONNSHUT ||
			     rv == NNG_ECONNABORTED;
		goto done;
	}
	nng_msg           *reply = nng_aio_get_msg(s->aio);
	frep_response_view resp;
	nng_aio_set_msg(s->aio, NULL);
	/* The view borrows from the reply: decode the output before freeing it. */
	code = frep_envelope_response_view(nng_msg_body(reply), nng_msg_len(reply), &resp, st);
	if (code == FREP_OK && opts != NULL && opts->reply != NULL) {
		reply_info_fill(opts->reply, nng_msg_body(reply), nng_msg_len(reply));
	}
	if (code == FREP_OK && resp.code != FREP__RPC__V1__CODE__OK) {
		int rc = (int) resp.code;
		code   = frep_status_set(st,
                    rc >= 0 && rc <= FREP_CODE_MAX ? (frep_code) rc : FREP_UNKNOWN, "%.*s",
		      (int) (resp.message_len < FREP_STATUS_MESSAGE_MAX ? resp.message_len
									: FREP_STATUS_MESSAGE_MAX),
                    resp.message != NULL ? resp.message : "");
	} else if (code == FREP_OK) {
		*output =
		    protobuf_c_message_unpack(output_desc, NULL, resp.payload_len, resp.payload);
		if (*output == NULL) {
			code = frep_status_set(st, FREP_INTERNAL,
			    "%s: reply of %zu bytes does not decode as %s", path, resp.payload_len,
			    output_desc->name);
		} else {
			frep_status_clear(st);
		}
	}
	nng_msg_free(reply);

done:
	slot_put(c, s);
	return code;
}

frep_code
frep_client_call(frep_client *c, const char *method_path, const ProtobufCMessage *input,
    const ProtobufCMessageDescriptor *output_desc, ProtobufCMessage **output,
    const frep_call_options *opts, frep_status *st)
{
	frep_status local;
	if (st == NULL) {
		st = &local;
	}
	const char *slash = strrchr(method_path, '/');
	bool idempotent   = slash != NULL && method_is_idempotent(slash + 1) && !single_use(opts);
	call_raw(c, method_path, idempotent, input, output_desc, output, opts, true, st);
	return record(c, st);
}

frep_code
frep_client_invoke(frep_client *c, const ProtobufCServiceDescriptor *service, unsigned method_index,
    const ProtobufCMessage *input, ProtobufCMessage **output, const frep_call_options *opts,
    frep_status *st)
{
	frep_status local;
	if (st == NULL) {
		st = &local;
	}
	*output = NULL;
	if (method_index >= service->n_methods) {
		frep_status_set(st, FREP_INVALID_ARGUMENT, "%s has no method %u (it has %u)",
		    service->name, method_index, service->n_methods);
		return record(c, st);
	}
	const ProtobufCMethodDescriptor *m = &service->methods[method_index];
	if (input == NULL || input->descriptor != m->input) {
		frep_status_set(st, FREP_INVALID_ARGUMENT, "%s.%s takes a %s, not a %s",
		    service->name, m->name, m->input->name,
		    input != NULL ? input->descriptor->name : "NULL");
		return record(c, st);
	}
	char path[256];
	snprintf(path, sizeof(path), "/%s/%s", service->name, m->name);
	return frep_client_call(c, path, input, m->output, output, opts, st);
}

/* --- ProtobufCService ------------------------------------------------------ */

static void
service_invoke(ProtobufCService *service, unsigned method_index, const ProtobufCMessage *input,
    ProtobufCClosure closure, void *closure_data)
{
	client_service   *cs = (client_service *) service;
	frep_client      *c  = cs->client;
	frep_status       st;
	ProtobufCMessage *output = NULL;

	if (method_index >= service->descriptor->n_methods) {
		frep_status_set(&st, FREP_UNIMPLEMENTED, "%s: no method %u",
		    service->descriptor->name, method_index);
		record(c, &st);
		closure(NULL, closure_data);
		return;
	}
	const ProtobufCMethodDescriptor *m = &service->descriptor->methods[method_index];
	call_raw(c, cs->paths[method_index], cs->idempotent[method_index], input, m->output,
	    &output, NULL, true, &st);
	record(c, &st);
	closure(output, closure_data);
	if (output != NULL) {
		protobuf_c_message_free_unpacked(output, NULL);
	}
}

ProtobufCService *
frep_client_service(frep_client *c, const ProtobufCServiceDescriptor *desc)
{
	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < c->n_services; i++) {
		if (c->services[i]->base.descriptor == desc) {
			pthread_mutex_unlock(&c->mtx);
			return &c->services[i]->base;
		}
	}
	client_service *cs = NULL;
	if (c->n_services == MAX_SERVICES || (cs = calloc(1, sizeof(*cs))) == NULL) {
		goto fail;
	}
	cs->client          = c;
	cs->base.descriptor = desc;
	cs->base.invoke     = service_invoke;
	cs->base.destroy    = NULL;
	cs->paths           = calloc(desc->n_methods, sizeof(char *));
	cs->idempotent      = calloc(desc->n_methods, sizeof(bool));
	if (cs->paths == NULL || cs->idempotent == NULL) {
		goto fail;
	}
	for (size_t m = 0; m < desc->n_methods; m++) {
		size_t n = strlen(desc->name) + strlen(desc->methods[m].name) + 3;
		if ((cs->paths[m] = malloc(n)) == NULL) {
			goto fail;
		}
		snprintf(cs->paths[m], n, "/%s/%s", desc->name, desc->methods[m].name);
		cs->idempotent[m] = method_is_idempotent(desc->methods[m].name);
	}
	c->services[c->n_services++] = cs;
	pthread_mutex_unlock(&c->mtx);
	return &cs->base;

fail:
	if (cs != NULL) {
		for (size_t m = 0; cs->paths != NULL && m < desc->n_methods; m++) {
			free(cs->paths[m]);
		}
		free(cs->paths);
		free(cs->idempotent);
		free(cs);
	}
	pthread_mutex_unlock(&c->mtx);
	return NULL;
}
