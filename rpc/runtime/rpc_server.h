/*
 * rpc_server: a gRPC-style unary RPC server over an nng rep0 socket.
 *
 * Services are protoc-c generated services (ProtobufCService) registered by
 * their descriptor; the runtime routes "/<package>.<Service>/<Method>" to
 * the service's handler, decodes the method's input with the descriptor,
 * and encodes the output the handler passes to its closure. It knows
 * nothing of what the services do.
 *
 * A handler receives the rpc_call as its closure_data. It answers by
 * calling the closure exactly once, with its output message (success) or
 * with NULL after rpc_call_fail() (failure). It may call the closure after
 * returning, from any thread; the input is freed when the handler returns,
 * so a handler that finishes later copies what it needs first.
 *
 * Threading: the nng aio callbacks never block; handlers run on the
 * server's worker threads unless their service is registered
 * RPC_SERVICE_INLINE (handlers that never block: no disk, no network).
 */
#ifndef FREP_RPC_RPC_SERVER_H
#define FREP_RPC_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"
#include "log.h"

typedef struct rpc_server  rpc_server;
typedef struct rpc_call    rpc_call;
typedef struct rpc_metrics rpc_metrics;

#define RPC_DEFAULT_MAX_MESSAGE_BYTES (16u * 1024u * 1024u)
#define RPC_MIN_MAX_MESSAGE_BYTES     (64u * 1024u)
#define RPC_MAX_METADATA_PAIRS        32
/* The largest payload a service registered RPC_SERVICE_NO_AUTH (Health,
 * Introspection: anyone may call them) takes, in bytes; a larger one is
 * RESOURCE_EXHAUSTED before it is decoded. */
#define RPC_NO_AUTH_PAYLOAD_MAX (64u * 1024u)
#define RPC_REQUEST_ID_MAX      64

typedef struct rpc_server_options {
	unsigned    worker_threads;    /* 0: 4 */
	unsigned    contexts;          /* concurrent calls; 0: 8 per worker, at least 32 */
	size_t      max_message_bytes; /* 0: RPC_DEFAULT_MAX_MESSAGE_BYTES */
	const char *admin_token;       /* non-NULL: calls need "authorization: Bearer <token>" */
	const char *version;           /* e.g. "frepd 0.1.0" */
	/* A serialized FileDescriptorSet served by Introspection (may be NULL). */
	const uint8_t *descriptor_set;
	size_t         descriptor_set_len;
	unsigned       call_id_cache_seconds; /* 0: 60 */
	/* Connections that finished their handshake, per listener; one more
	 * is closed at once (conn_limit.h). 0: RPC_CONN_LIMIT_DEFAULT (256);
	 * at most 65,536. */
	unsigned max_connections;
	/* How long a reply may wait to be taken by its connection, behind
	 * earlier replies to the same peer (their transfer included): past
	 * it the reply is dropped and that connection closed, which frees
	 * every context waiting on it and ends every call still open on it,
	 * so that one peer that stops reading cannot hold the server's
	 * contexts. 0: RPC_REPLY_TIMEOUT_MS_DEFAULT; at most
	 * RPC_REPLY_TIMEOUT_MS_MAX (INVALID_ARGUMENT above). */
	unsigned reply_timeout_ms;
} rpc_server_options;

#define RPC_REPLY_TIMEOUT_MS_DEFAULT 10000
#define RPC_REPLY_TIMEOUT_MS_MAX     3600000

/* TLS material for a tls+tcp:// or wss:// listener, as PEM file paths. With
 * ca_file, clients must present a certificate signed by it. */
typedef struct rpc_tls_options {
	const char *cert_file;
	const char *key_file;
	const char *ca_file;
} rpc_tls_options;

/* Registration flags. */
enum {
	/* Handlers never block: run them on the nng callback thread. */
	RPC_SERVICE_INLINE = 1u << 0,
	/* Exempt from the admin bearer token (health checks). */
	RPC_SERVICE_NO_AUTH = 1u << 1,
	/* The service authenticates each call itself (partner HMAC); exempt
	 * from the bearer token. */
	RPC_SERVICE_OWN_AUTH = 1u << 2,
};

/* Creates a server (no socket yet). Statuses: INVALID_ARGUMENT for bad
 * options, INTERNAL if threads or nng resources cannot be had. On success
 * the caller owns *out and frees it with rpc_server_free(). The runtime's
 * own frep.rpc.v1.Introspection service is registered already. */
frep_code rpc_server_new(const rpc_server_options *opts, rpc_server **out, frep_status *st);

/* Registers a service; the server borrows it until rpc_server_free(). Call
 * before rpc_server_start(). ALREADY_EXISTS if its name is taken. */
frep_code rpc_server_register(
    rpc_server *s, ProtobufCService *service, unsigned flags, frep_status *st);

/* A check a service wants before any of its calls' payload is decoded: it
 * sees the method, the metadata and the raw payload (rpc_call_method,
 * rpc_call_metadata, rpc_call_payload) and answers OK, or a status (set in
 * *st) that becomes the reply — the payload is then never decoded and the
 * call-id cache never records the call. It may record who the caller is
 * (rpc_call_set_principal) for the handler. Runs on a worker thread (inline
 * services: the nng callback thread) before the handler; may block. */
typedef frep_code (*rpc_authorize_fn)(void *arg, rpc_call *call, frep_status *st);

/* Sets the pre-decode check of a registered service (by full name). Call
 * before rpc_server_start(). NOT_FOUND if no such service. */
frep_code rpc_server_set_authorizer(
    rpc_server *s, const char *service_name, rpc_authorize_fn fn, void *arg, frep_status *st);

/* Adds a listener on url (tcp://, ipc://, ws://, tls+tcp://, wss://).
 * tls is required for tls+tcp:// and wss:// and ignored otherwise.
 * Listeners start with rpc_server_start(). UNAVAILABLE if the address
 * cannot be bound, INVALID_ARGUMENT for a bad URL or TLS file. */
frep_code rpc_server_listen(
    rpc_server *s, const char *url, const rpc_tls_options *tls, frep_status *st);

/* Opens the socket, starts workers and listeners, and begins serving. */
frep_code rpc_server_start(rpc_server *s, frep_status *st);

/* Stops taking new calls, lets the calls in flight finish and answer (up
 * to drain_ms), then closes the socket and stops the workers. Blocks.
 * Idempotent. Must not be called from a handler. */
void rpc_server_shutdown(rpc_server *s, unsigned drain_ms);

/* Shuts down if needed and frees everything. NULL is a no-op. */
void rpc_server_free(rpc_server *s);

/* True once started and until shutdown begins. Thread-safe. */
bool rpc_server_serving(rpc_server *s);

/* True if a service of that full name ("frep.v1.Health") is registered. */
bool rpc_server_has_service(rpc_server *s, const char *full_name);

/* The descriptor of the method at path ("/frep.v1.Health/Check") among the
 * registered services, or NULL. For front ends (the HTTP endpoint) that
 * decode a method's messages themselves; they then call through a
 * listener of this server, so routing, the token, limits, deadlines and
 * worker threads are the same as for any nng call. *service_flags (if not
 * NULL) gets the registration flags of the method's service. Thread-safe
 * once the server has started. */
const ProtobufCMethodDescriptor *rpc_server_find_method(
    rpc_server *s, const char *path, unsigned *service_flags);

/* True when the server has no admin token or authorization (the value of
 * an "authorization" header or metadata entry; NULL: none) is "Bearer
 * <token>" with it, compared in constant time. For front ends (the HTTP
 * endpoint) that refuse a call needing the token before they read its
 * body; the server checks every call again itself. Thread-safe. */
bool rpc_server_bearer_ok(const rpc_server *s, const char *authorization);

/* The server's metrics registry (metrics.h): every answered call is
 * recorded there; services add their counters and collectors. Lives until
 * rpc_server_free(). */
rpc_metrics *rpc_server_metrics(rpc_server *s);

/* The effective maximum message size. */
size_t rpc_server_max_message_bytes(const rpc_server *s);

/* The URL a listener actually bound (port 0 resolved), index in order of
 * rpc_server_listen(); NULL if none. Valid until rpc_server_free(). */
const char *rpc_server_bound_url(rpc_server *s, size_t index);

/* --- for handlers ------------------------------------------------------ */

/* Sets the call's failure status; the handler then calls its closure with
 * NULL. Returns code. */
frep_code rpc_call_fail(rpc_call *call, frep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies a status (from the engine, say) onto the call. */
frep_code rpc_call_fail_status(rpc_call *call, const frep_status *st);

/* First value of a request metadata key ("authorization"), or NULL. The
 * string lives as long as the call. */
const char *rpc_call_metadata(const rpc_call *call, const char *key);

/* Milliseconds left before the call's deadline; -1 when it has none,
 * 0 when it has passed. */
int64_t rpc_call_remaining_ms(const rpc_call *call);

/* The method path, e.g. "/frep.v1.Health/Check". */
const char *rpc_call_method(const rpc_call *call);

/* The raw serialized input (for MACs over the payload). Valid until the
 * call is answered, and the reply must not point into it: the reply is
 * packed into the request's own buffer (debug builds assert this). */
const uint8_t *rpc_call_payload(const rpc_call *call, size_t *len);

/* True when the server has no admin token or the call carries it
 * ("authorization: Bearer <token>"). For services registered
 * RPC_SERVICE_OWN_AUTH that need the admin token for some calls. */
bool rpc_call_has_admin_token(const rpc_call *call);

/* For a pre-decode check: records who the check proved the caller to be
 * (a relationship name, say; cut at 255 bytes). The call-id cache keys on
 * it too. */
void rpc_call_set_principal(rpc_call *call, const char *principal);

/* For a pre-decode check: true if this call repeats (same call id, caller,
 * principal, method and payload) one the call-id cache holds, which the
 * runtime will answer from the cache without running it again. Once it
 * has returned true the call is answered from the cache only, never run
 * (if the entry is gone by then: UNAUTHENTICATED). */
bool rpc_call_repeats_cached(rpc_call *call);

/* The principal a pre-decode check recorded for this call, or NULL. */
const char *rpc_call_principal(const rpc_call *call);

/* The call whose handler is running on this thread, or NULL: code deep in a
 * handler (a partner client) reads the caller's deadline and request id
 * from it without being passed the call. Valid until the handler returns. */
rpc_call *rpc_call_current(void);

/* Makes call this thread's current call (what rpc_call_current returns)
 * and returns the one it replaces (NULL clears): for a thread a handler
 * starts to work for its call (a fan-out to partners), so that deadlines
 * and the request id go on from there too. The handler must join the
 * thread before it answers. */
rpc_call *rpc_call_set_current(rpc_call *call);

/* The call's request id: the caller's "x-request-id" (printable ASCII, at
 * most RPC_REQUEST_ID_MAX characters) or one the server made. It is in the
 * call's log lines and goes on with the calls a handler makes to partners.
 * Lives as long as the call. */
const char *rpc_call_request_id(const rpc_call *call);

/* Logs one event of the call (rpc_log_event) with its method and request
 * id; status (a code name), peer and message may be NULL. For what a
 * handler logs about its work ("replication", "apply"), so that one
 * request id finds it. */
void rpc_call_log_event(const rpc_call *call, rpc_log_level level, const char *event,
    const char *status, const char *peer, const char *message);

/* Writes a new request id (16 hex digits) into buf. Thread-safe. */
void rpc_request_id_make(char *buf, size_t size);

/* The server the call arrived on. */
rpc_server *rpc_call_server(const rpc_call *call);

#endif /* FREP_RPC_RPC_SERVER_H */
