/*
 * health: the frep.v1.Health service (grpc.health.v1's shape). Answers
 * SERVING for the whole server ("") and for every registered service while
 * the server serves, NOT_SERVING once it drains, NOT_FOUND for a name that
 * is not registered. Generic: it knows services only by name.
 */
#ifndef FREP_RPC_HEALTH_H
#define FREP_RPC_HEALTH_H

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"
#include "rpc_server.h"

/* Creates the service for s (borrowed). Register it with
 * RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH. Free with rpc_health_free. */
frep_code rpc_health_new(rpc_server *s, ProtobufCService **out, frep_status *st);
void      rpc_health_free(ProtobufCService *service);

#endif /* FREP_RPC_HEALTH_H */
