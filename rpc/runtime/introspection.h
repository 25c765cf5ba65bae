/*
 * introspection: the runtime's frep.rpc.v1.Introspection service — the
 * server's version and limits, and the FileDescriptorSet of its contract.
 * Created by rpc_server_new() itself; knows nothing of any other service,
 * nor of the server's internals: what it reports comes through the
 * rpc_introspection_source the server gives it (so that rpc_server.c and
 * introspection.c do not depend on each other).
 */
#ifndef FREP_RPC_INTROSPECTION_H
#define FREP_RPC_INTROSPECTION_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

/* Service names GetServerInfo lists at the most. */
#define RPC_INTROSPECTION_MAX_SERVICES 32

/* What GetServerInfo reports, filled by the source on each call. Strings
 * are borrowed from the server and stay valid while it runs. */
typedef struct rpc_introspection_info {
	const char *version;
	uint64_t    max_message_bytes;
	const char *services[RPC_INTROSPECTION_MAX_SERVICES];
	size_t      n_services;
	uint32_t    worker_threads;
	uint32_t    max_metadata_pairs;
	uint32_t    call_id_cache_seconds;
} rpc_introspection_info;

/* How the service reads the server and fails a call: both callbacks are
 * required; arg is passed to server_info; call is the handler's
 * closure_data. Thread-safe as the callbacks are. */
typedef struct rpc_introspection_source {
	void (*server_info)(void *arg, rpc_introspection_info *out);
	void (*call_fail)(void *call, frep_code code, const char *message);
	void *arg;
} rpc_introspection_source;

/* Creates the service; source is copied, descriptor_set (may be NULL) is
 * borrowed and must outlive the service. RESOURCE_EXHAUSTED when out of
 * memory. Free with rpc_introspection_free. */
frep_code rpc_introspection_new(const rpc_introspection_source *source,
    const uint8_t *descriptor_set, size_t len, ProtobufCService **out, frep_status *st);

/* Frees the service (NULL is a no-op). */
void rpc_introspection_free(ProtobufCService *service);

#endif /* FREP_RPC_INTROSPECTION_H */
