/* What the runtime's own services read of the server; not public API. */
#ifndef FREP_RPC_SERVER_INTERNAL_H
#define FREP_RPC_SERVER_INTERNAL_H

#include <stddef.h>

#include "rpc_server.h"

const char *rpc_server__version(const rpc_server *s);
unsigned    rpc_server__worker_threads(const rpc_server *s);
unsigned    rpc_server__call_id_cache_seconds(const rpc_server *s);
/* Fills names with up to max registered service names; returns the count. */
size_t rpc_server__service_names(const rpc_server *s, const char **names, size_t max);

/* A server-mode TLS configuration from PEM files, as for a tls+tcp://
 * listener (the HTTP endpoint's https://). On success the caller owns *out
 * (nng_tls_config_free). INVALID_ARGUMENT for a missing or bad file. */
struct nng_tls_config;
frep_code rpc_server__tls_config(
    const rpc_tls_options *tls, struct nng_tls_config **out, frep_status *st);

/* How many times the watchdog re-created a stuck ipc:// listener. */
unsigned rpc_server__listener_restarts(rpc_server *s);

#endif /* FREP_RPC_SERVER_INTERNAL_H */
