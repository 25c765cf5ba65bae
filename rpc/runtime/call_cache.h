/*
 * call_cache: remembers recent calls by their client-made call id, so a
 * repeated call (a client retry, a REQ resend after a dropped connection)
 * is answered from memory instead of running twice. Bounded in entries, in
 * bytes per reply, and in age. Thread-safe.
 *
 * An id is bound to the call that first used it: a digest of who called
 * (the authorization metadata) and a digest of what was asked (method and
 * payload bytes). A later call with the same id but another caller or
 * another request is a CONFLICT: it never runs and never sees the reply.
 * An id stays bound while its call runs, whatever the bounds: only
 * finished entries are forgotten (the oldest first, beyond max_entries, or
 * ttl_ms after they finished), so a finished call's reply can never land in another caller's
 * entry.
 */
#ifndef FREP_RPC_CALL_CACHE_H
#define FREP_RPC_CALL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rpc_call_cache rpc_call_cache;

/* The replies kept, all together, hold at most this many times
 * max_reply_bytes (16 MiB for 64 KiB): beyond it the oldest finished
 * entries go, as beyond max_entries. Without it, 4,096 small calls whose
 * replies are large (Introspection's descriptor set, without a token)
 * would hold about 95 MB for the time to live. */
#define RPC_CALL_CACHE_REPLY_BYTES_FACTOR 256

typedef enum rpc_call_cache_result {
	RPC_CALL_CACHE_NEW,       /* first sight: the caller runs the call */
	RPC_CALL_CACHE_RUNNING,   /* the first copy is still running */
	RPC_CALL_CACHE_DONE,      /* *reply holds a copy of the encoded reply */
	RPC_CALL_CACHE_FORGOTTEN, /* ran, but its reply was too large to keep */
	RPC_CALL_CACHE_CONFLICT,  /* the id belongs to another caller or request */
} rpc_call_cache_result;

#define RPC_CALL_CACHE_DIGEST_LEN 32

/* Who called and what was asked, as digests (SHA-256). */
typedef struct rpc_call_cache_key {
	uint64_t call_id;
	uint8_t  caller[RPC_CALL_CACHE_DIGEST_LEN];
	uint8_t  request[RPC_CALL_CACHE_DIGEST_LEN];
} rpc_call_cache_key;

/* 0 on success, -1 when out of memory. */
int rpc_call_cache_new(
    size_t max_entries, size_t max_reply_bytes, uint64_t ttl_ms, rpc_call_cache **out);
void rpc_call_cache_free(rpc_call_cache *c);

/* Looks key->call_id up, recording it (with its digests) as running if
 * new. An id known with other digests is CONFLICT, whatever its state. On
 * DONE, *reply is a malloc'd copy the caller frees. */
rpc_call_cache_result rpc_call_cache_begin(
    rpc_call_cache *c, const rpc_call_cache_key *key, uint8_t **reply, size_t *reply_len);

/* True if key->call_id is known with exactly these digests (a retry of a
 * call that ran or runs). Changes nothing. */
bool rpc_call_cache_holds(rpc_call_cache *c, const rpc_call_cache_key *key);

/* Records the encoded reply of a call begun with NEW; a no-op for an id
 * that is not running. */
void rpc_call_cache_finish(rpc_call_cache *c, uint64_t call_id, const uint8_t *reply, size_t len);

/* Forgets a running id (a call refused as unauthenticated must leave no
 * trace); a no-op for an id that is not running. */
void rpc_call_cache_abandon(rpc_call_cache *c, uint64_t call_id);

#endif /* FREP_RPC_CALL_CACHE_H */
