/*
 * http_endpoint: the server's methods over HTTP/1.1 as the Connect
 * protocol's unary calls (connectrpc.com/docs/protocol), on nng's own HTTP
 * server, so curl and any language's HTTP client are frep clients:
 *
 *   POST /<package>.<Service>/<Method>
 *   Content-Type: application/json (proto3 JSON) | application/proto
 *   Authorization: Bearer <token>         (as on nng)
 *   Connect-Timeout-Ms: <ms>              (the call's deadline)
 *
 * 200 with the output message in the request's encoding, or an error:
 * Connect's HTTP status for the code and the JSON body
 * {"code": "invalid_argument", "message": "..."}.
 *
 * Each call goes into the rpc_server through an inproc:// listener of its
 * own, as a frep.rpc.v1 envelope: routing, the admin token, size limits,
 * deadlines, the call-id cache and the worker threads are the server's,
 * unchanged. The endpoint itself only translates (JSON with frep_json).
 *
 * GET /healthz answers 200 "SERVING" while the server serves (503
 * "NOT_SERVING" once it drains) and GET /metrics the server's metrics
 * registry (metrics.h) in Prometheus' text format; more GET routes are
 * added with rpc_http_add_get().
 *
 * Lifecycle: rpc_http_new() before rpc_server_start(), rpc_http_start()
 * after it; rpc_http_free() after rpc_server_shutdown() (calls in flight
 * through HTTP then have answered).
 */
#ifndef FREP_RPC_HTTP_ENDPOINT_H
#define FREP_RPC_HTTP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"
#include "rpc_server.h"

typedef struct rpc_http rpc_http;

typedef struct rpc_http_options {
	/* http://HOST:PORT or https://HOST:PORT (port 0: any). */
	const char *url;
	/* https:// only: certificate, key and (optional) client CA. */
	const rpc_tls_options *tls;
} rpc_http_options;

/* Creates the endpoint for server s (which must not have started: the
 * endpoint adds its inproc:// listener). INVALID_ARGUMENT for a bad URL or
 * TLS file. On success the caller owns *out (rpc_http_free). */
frep_code rpc_http_new(
    rpc_server *s, const rpc_http_options *opts, rpc_http **out, frep_status *st);

/* A GET route: fills *body (malloc'd, the endpoint frees it), *len and
 * *content_type (static) and returns the HTTP status. Runs on an nng
 * thread: must not block for long. */
typedef int (*rpc_http_get_fn)(void *arg, char **body, size_t *len, const char **content_type);

/* Adds a GET route at path ("/metrics"); before rpc_http_start(). */
frep_code rpc_http_add_get(
    rpc_http *h, const char *path, rpc_http_get_fn fn, void *arg, frep_status *st);

/* Starts serving (after rpc_server_start). UNAVAILABLE if the address
 * cannot be bound. */
frep_code rpc_http_start(rpc_http *h, frep_status *st);

/* The URL actually bound (port 0 resolved), or the configured one. */
const char *rpc_http_bound_url(const rpc_http *h);

/* Stops the HTTP server (calls still waiting for the rpc_server fail with
 * UNAVAILABLE) and frees everything. NULL is a no-op. */
void rpc_http_free(rpc_http *h);

/* The memory one JSON request body may take to become a message. */
typedef struct rpc_http_json_budget {
	ProtobufCAllocator base;  /* the message's allocator; allocator_data is this */
	size_t             limit; /* bytes: 12 times the body, at least 1 MiB */
	size_t             used;  /* bytes taken so far (glibc chunks counted) */
	bool               exceeded;
} rpc_http_json_budget;

/* Decodes a JSON request body (len bytes, proto3 JSON, frep_json) as a d
 * message, with jansson's tree and the message together bounded by *jb
 * (set here): what the endpoint does with every JSON call before it
 * reaches the server. On OK, *out is the caller's: free it with
 * protobuf_c_message_free_unpacked(*out, &jb->base). Otherwise *out is
 * NULL and the status is INVALID_ARGUMENT ("<message type>: <why>",
 * naming the field path or jansson's line and column) or
 * RESOURCE_EXHAUSTED (over the budget). Thread-safe (the budget is per
 * calling thread). */
frep_code rpc_http_json_decode(const ProtobufCMessageDescriptor *d, const char *body, size_t len,
    rpc_http_json_budget *jb, ProtobufCMessage **out, frep_status *st);

/* Connect's HTTP status for a code (400 for INVALID_ARGUMENT, ...). */
int rpc_http_status_for_code(frep_code code);

/* Connect's name for a code ("invalid_argument", "canceled"). */
const char *rpc_http_connect_code_name(frep_code code);

#endif /* FREP_RPC_HTTP_ENDPOINT_H */
