/*
 * call_cache: remembers recent calls by their client-made call id, so a
 * repeated call (a client retry, a REQ resend after a dropped connection)
 * is answered from memory instead of running twice. Bounded in entries, in
 * bytes per reply, and in age. Thread-safe.
 */
#ifndef FREP_RPC_CALL_CACHE_H
#define FREP_RPC_CALL_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rpc_call_cache rpc_call_cache;

typedef enum rpc_call_cache_result {
	RPC_CALL_CACHE_NEW,       /* first sight: the caller runs the call */
	RPC_CALL_CACHE_RUNNING,   /* the first copy is still running */
	RPC_CALL_CACHE_DONE,      /* *reply holds a copy of the encoded reply */
	RPC_CALL_CACHE_FORGOTTEN, /* ran, but its reply was too large to keep */
} rpc_call_cache_result;

/* 0 on success, -1 when out of memory. */
int rpc_call_cache_new(
    size_t max_entries, size_t max_reply_bytes, uint64_t ttl_ms, rpc_call_cache **out);
void rpc_call_cache_free(rpc_call_cache *c);

/* Looks call_id up, recording it as running if new. On DONE, *reply is a
 * malloc'd copy the caller frees. */
rpc_call_cache_result rpc_call_cache_begin(
    rpc_call_cache *c, uint64_t call_id, uint8_t **reply, size_t *reply_len);

/* Records the encoded reply of a call begun with NEW; a no-op for an id
 * that is not running. */
void rpc_call_cache_finish(rpc_call_cache *c, uint64_t call_id, const uint8_t *reply, size_t len);

#endif /* FREP_RPC_CALL_CACHE_H */
