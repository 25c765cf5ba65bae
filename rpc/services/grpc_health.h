/*
 * grpc_health: grpc.health.v1.Health (proto/grpc/health/v1/health.proto)
 * answered by a frep.v1.Health service: the two have the same messages on
 * the wire, so Check is handed to the frep service and its answer (or its
 * status) passed back unchanged. Watch (a stream in gRPC) is UNIMPLEMENTED.
 */
#ifndef FREP_RPC_GRPC_HEALTH_H
#define FREP_RPC_GRPC_HEALTH_H

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

/* Wraps inner, a frep.v1.Health service whose Check answers before it
 * returns (registered RPC_SERVICE_INLINE); inner is borrowed. Register the
 * result with RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH. Free with
 * grpc_health_free (NULL is a no-op). */
frep_code grpc_health_new(ProtobufCService *inner, ProtobufCService **out, frep_status *st);
void      grpc_health_free(ProtobufCService *service);

#endif /* FREP_RPC_GRPC_HEALTH_H */
