/* What the runtime's HTTP endpoint reads of the server; not public API. */
#ifndef FREP_RPC_SERVER_INTERNAL_H
#define FREP_RPC_SERVER_INTERNAL_H

#include <stddef.h>

#include "rpc_server.h"

/* A server-mode TLS configuration from PEM files, as for a tls+tcp://
 * listener (the HTTP endpoint's https://). On success the caller owns *out
 * (nng_tls_config_free). INVALID_ARGUMENT for a missing or bad file. */
struct nng_tls_config;
frep_code rpc_server__tls_config(
    const rpc_tls_options *tls, struct nng_tls_config **out, frep_status *st);

/* Waits on cv (with mtx held, as pthread_cond_timedwait) for at most
 * period_ms: the tick of the runtime's periodic threads. */
#include <pthread.h>
void rpc_server__tick_wait(pthread_cond_t *cv, pthread_mutex_t *mtx, unsigned period_ms);

/* How many times the watchdog re-created a stuck ipc:// listener. */
unsigned rpc_server__listener_restarts(rpc_server *s);

#endif /* FREP_RPC_SERVER_INTERNAL_H */
