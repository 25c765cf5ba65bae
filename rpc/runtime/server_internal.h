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

/* How many times the watchdog re-created a stuck ipc:// listener. */
unsigned rpc_server__listener_restarts(rpc_server *s);

#endif /* FREP_RPC_SERVER_INTERNAL_H */
