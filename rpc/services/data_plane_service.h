/*
 * data_plane_service: the frep.v1.DataPlane service (data_plane.proto) —
 * RenderKeaConfig (the configuration as Kea's Dhcp4 JSON, kea_render) and
 * GetKeaStatus (the pusher's state, kea_push) — and a Health wrapper that
 * answers for "frep.v1.DataPlane" from the pusher's state.
 *
 * Handlers read the disk: register with flags 0 (worker threads, bearer
 * token when one is configured).
 */
#ifndef FREP_RPC_DATA_PLANE_SERVICE_H
#define FREP_RPC_DATA_PLANE_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "engine.h"
#include "frep_status.h"
#include "kea_push.h"

/* Creates the service over e (borrowed; must outlive the service). push
 * (borrowed, may be NULL: no --kea-socket) answers GetKeaStatus;
 * base_path (copied, may be NULL) is the base file RenderKeaConfig merges
 * with when asked. RESOURCE_EXHAUSTED if memory runs out. Free with
 * data_plane_service_free after the server is freed. */
frep_code data_plane_service_new(
    engine *e, kea_push *push, const char *base_path, ProtobufCService **out, frep_status *st);
void data_plane_service_free(ProtobufCService *service);

/* Wraps the generic Health service inner (borrowed): Check for
 * "frep.v1.DataPlane" answers NOT_SERVING while the last push to Kea
 * failed (or the server drains), UNKNOWN before the first attempt,
 * SERVING otherwise (and SERVING when push is NULL: rendering works);
 * every other name goes to inner. Register the wrapper in inner's place,
 * with inner's flags. Free with data_plane_health_free. */
frep_code data_plane_health_new(
    ProtobufCService *inner, kea_push *push, ProtobufCService **out, frep_status *st);
void data_plane_health_free(ProtobufCService *service);

#endif /* FREP_RPC_DATA_PLANE_SERVICE_H */
