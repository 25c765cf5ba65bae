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

/* Where a worker thread decodes its calls' input: one buffer kept from call
 * to call (sized to what recent calls needed, at most
 * RPC_DECODE_ARENA_KEEP bytes), bumped through while a call decodes and
 * reset after it, so decoding a request costs no malloc/free per field
 * and touches no freshly mapped pages. What does not fit goes into
 * chunks malloc'd as needed (64 KiB doubling to 512 KiB; a large array
 * alone) and freed at the reset. A decoded message must not outlive the reset (the
 * handler's input is const and dies when it returns). One thread only. */
#define RPC_DECODE_ARENA_KEEP   (256u * 1024u)
#define RPC_DECODE_ARENA_WINDOW 256 /* calls between shrink checks */

typedef struct rpc_decode_arena_big rpc_decode_arena_big;

typedef struct rpc_decode_arena {
	uint8_t              *buf;
	size_t                cap;
	size_t                off;
	size_t                demand;     /* this call: bytes asked for, aligned */
	rpc_decode_arena_big *big;        /* this call: what did not fit */
	size_t                big_cap;    /* bytes of big's head chunk to bump through */
	size_t                big_off;    /* bytes of it handed out */
	size_t                big_next;   /* size of the next chunk */
	size_t                window_max; /* largest demand since the last check */
	unsigned              window_calls;
	bool                  in_use; /* a call is decoding into it */
} rpc_decode_arena;

/* After a call: frees what did not fit, grows the buffer to this call's
 * demand (up to RPC_DECODE_ARENA_KEEP) or, every RPC_DECODE_ARENA_WINDOW
 * calls, shrinks it to what the window needed. */
void rpc_decode_arena_reset(rpc_decode_arena *a);
void rpc_decode_arena_fini(rpc_decode_arena *a);
/* How many blocks this call malloc'd for what did not fit the kept buffer
 * (chunks and lone large arrays); 0 after a reset. */
size_t rpc_decode_arena_blocks(const rpc_decode_arena *a);

/* A protobuf-c allocator that refuses to go past limit bytes in use. */
typedef struct rpc_budget_allocator {
	ProtobufCAllocator base; /* pass &base to protobuf-c */
	size_t             used;
	size_t             peak;
	size_t             limit;
	bool               exceeded;
	rpc_decode_arena  *arena; /* NULL: malloc and free */
} rpc_budget_allocator;

/* The budget for decoding a payload of len bytes. */
void rpc_budget_allocator_init(rpc_budget_allocator *a, size_t payload_len);

/* The same budget, allocating from arena (not in use; marked in use until
 * rpc_decode_arena_reset). Every allocation costs what malloc's chunk for
 * it would, so the budget refuses the same requests; frees cost nothing
 * and give nothing back (a message only frees while decoding when a field
 * is repeated that should not be). */
void rpc_budget_allocator_init_arena(
    rpc_budget_allocator *a, size_t payload_len, rpc_decode_arena *arena);

#endif /* FREP_RPC_PAYLOAD_CHECK_H */
