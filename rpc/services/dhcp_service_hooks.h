/*
 * dhcp_service_hooks: the table through which the failover methods of
 * frep.v1.DhcpServer (dhcp_service.c's own handlers and the rows of
 * object_kinds.c) hand an operation that must also talk to the partner to
 * replication_service.c. A header of its own so that object_kinds.c can
 * call the hooks without depending on dhcp_service.
 */
#ifndef FREP_RPC_DHCP_SERVICE_HOOKS_H
#define FREP_RPC_DHCP_SERVICE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "frep_status.h"
#include "model.h"
#include "rpc_server.h"

/* Replacements for the local-only failover operations. Each hook, when
 * set, does the whole operation (partner side and the local engine write,
 * in the order it needs) instead of the service's local engine call. It
 * receives the request already converted and validated at the edge
 * (borrowed for the call), runs on a worker thread (it may block, within
 * rpc_call_remaining_ms(call)), and returns a status that goes to the
 * wire unchanged. On success the hooks that have an `out` fill it with
 * the relationship as stored here (engine-owned strings, released by the
 * service with engine_failover_fini; never the secret). A NULL hook keeps
 * the local behaviour: engine_failover_add / _set / _remove / _add_scopes /
 * _remove_scopes. */
typedef struct dhcp_service_failover_hooks {
	void *ctx; /* passed to every hook */
	frep_code (*add_failover)(void *ctx, rpc_call *call, engine *e, const engine_failover *rel,
	    bool force, engine_failover *out, frep_status *st);
	frep_code (*remove_failover)(
	    void *ctx, rpc_call *call, engine *e, const char *name, frep_status *st);
	frep_code (*add_failover_scopes)(void *ctx, rpc_call *call, engine *e, const char *name,
	    const uint32_t *scope_ids, size_t n, bool force, engine_failover *out, frep_status *st);
	frep_code (*remove_failover_scopes)(void *ctx, rpc_call *call, engine *e, const char *name,
	    const uint32_t *scope_ids, size_t n, bool force, engine_failover *out, frep_status *st);
	frep_code (*set_failover)(void *ctx, rpc_call *call, engine *e, const engine_failover *rel,
	    const char *const *mask, size_t n_mask, engine_failover *out, frep_status *st);
	/* RemoveScope: a scope of a relationship removed with force leaves the
	 * relationship on both servers first (the partner deletes its copy). */
	frep_code (*remove_scope)(
	    void *ctx, rpc_call *call, engine *e, uint32_t scope_id, bool force, frep_status *st);
} dhcp_service_failover_hooks;

#endif /* FREP_RPC_DHCP_SERVICE_HOOKS_H */
