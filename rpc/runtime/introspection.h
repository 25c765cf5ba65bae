/*
 * introspection: the runtime's frep.rpc.v1.Introspection service — the
 * server's version and limits, and the FileDescriptorSet of its contract.
 * Registered by rpc_server_new() itself; knows nothing of any other service.
 */
#ifndef FREP_RPC_INTROSPECTION_H
#define FREP_RPC_INTROSPECTION_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"
#include "rpc_server.h"

/* Creates the service for server s; descriptor_set (may be NULL) is
 * borrowed and must outlive the service. Free with rpc_introspection_free. */
frep_code rpc_introspection_new(rpc_server *s, const uint8_t *descriptor_set, size_t len,
    ProtobufCService **out, frep_status *st);
void      rpc_introspection_free(ProtobufCService *service);

#endif /* FREP_RPC_INTROSPECTION_H */
