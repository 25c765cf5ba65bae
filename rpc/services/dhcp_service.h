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

#include <protobuf-c/protobuf-c.h>

#include "dhcp_service_hooks.h"
#include "engine.h"
#include "frep_status.h"

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
