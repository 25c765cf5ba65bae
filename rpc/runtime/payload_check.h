/*
 * payload_check: what the runtime checks of a request's raw payload before
 * (and while) protobuf-c decodes it, driven only by the method's input
 * descriptor — it knows no service:
 *
 *   - every string field, at any depth, is UTF-8 text without NUL (proto3
 *     requires UTF-8; protobuf-c would cut a decoded char * at the NUL);
 *   - decoding may allocate at most a budget (a multiple of the payload's
 *     size), so a request of N bytes never costs more than that to refuse;
 *   - texts that go back on the wire (status messages) are valid UTF-8.
 *
 * All functions are pure or work on caller-owned state; thread-safe.
 */
#ifndef FREP_RPC_PAYLOAD_CHECK_H
#define FREP_RPC_PAYLOAD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

/* Decoding may allocate this many times the payload's size (glibc chunk
 * sizes counted), or RPC_DECODE_BUDGET_MIN, whichever is larger. */
#define RPC_DECODE_BUDGET_FACTOR 8
#define RPC_DECODE_BUDGET_MIN    (1024u * 1024u)

/* Walks payload as a d message: INVALID_ARGUMENT naming the field path
 * ("config.reservations[3].name") and the byte offset when a string field
 * holds a NUL or is not UTF-8. Malformed wire data is left to the decoder
 * (OK). Nesting deeper than 64 levels is INVALID_ARGUMENT. */
frep_code rpc_payload_check_text(
    const ProtobufCMessageDescriptor *d, const uint8_t *payload, size_t len, frep_status *st);

/* A protobuf-c allocator that refuses to go past limit bytes in use. */
typedef struct rpc_budget_allocator {
	ProtobufCAllocator base; /* pass &base to protobuf-c */
	size_t             used;
	size_t             peak;
	size_t             limit;
	bool               exceeded;
} rpc_budget_allocator;

/* The budget for decoding a payload of len bytes. */
void rpc_budget_allocator_init(rpc_budget_allocator *a, size_t payload_len);

#endif /* FREP_RPC_PAYLOAD_CHECK_H */
