/*
 * dhcp_service: the frep.v1.DhcpServer admin service (dhcp_server.proto),
 * every method mapped 1:1 onto the engine (engine/engine.h) through
 * convert.h. Engine statuses go to the wire unchanged.
 *
 * Handlers touch the disk: register the service with flags 0 (worker
 * threads, bearer token required when one is configured).
 *
 * The failover methods that must also talk to the partner (AddFailover,
 * RemoveFailover, AddFailoverScope, RemoveFailoverScope) do only the local
 * part unless a dhcp_service_failover_hooks table supplies the whole
 * operation. SetFailover, GetFailover and ListFailovers are local; no
 * reply ever carries a shared secret.
 */
#ifndef FREP_RPC_DHCP_SERVICE_H
#define FREP_RPC_DHCP_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

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

/* Creates the service over e (borrowed: it must outlive the service and
 * stay open until rpc_server_free of the server it is registered on).
 * RESOURCE_EXHAUSTED if memory runs out. On success free *out with
 * dhcp_service_free after the server is freed. */
frep_code dhcp_service_new(engine *e, ProtobufCService **out, frep_status *st);

/* Installs failover hooks (copied; NULL = local only, the default). Call
 * before the server starts: not synchronised with running handlers. */
void dhcp_service_set_failover_hooks(
    ProtobufCService *service, const dhcp_service_failover_hooks *hooks);

/* Frees the service (NULL is a no-op); the engine is not closed. */
void dhcp_service_free(ProtobufCService *service);

#endif /* FREP_RPC_DHCP_SERVICE_H */
