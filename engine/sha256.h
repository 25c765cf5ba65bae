/*
 * sha256: SHA-256 after FIPS 180-4, small and dependency-free. Used for the
 * scope digests replication compares.
 */
#ifndef FREP_ENGINE_SHA256_H
#define FREP_ENGINE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ENGINE_SHA256_LEN 32
/* Lower-case hex digest and its NUL. */
#define ENGINE_SHA256_HEXLEN 65

/* A running hash; embed it and use _init / _update / _final. */
typedef struct engine_sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t  block[64];
	size_t   used; /* bytes waiting in block */
} engine_sha256;

/* Starts a new hash in *ctx. */
void engine_sha256_init(engine_sha256 *ctx);

/* Adds n bytes at data (data may be NULL when n == 0). */
void engine_sha256_update(engine_sha256 *ctx, const void *data, size_t n);

/* Finishes the hash into out; ctx must be re-initialised to be reused. */
void engine_sha256_final(engine_sha256 *ctx, uint8_t out[ENGINE_SHA256_LEN]);

/* Finishes the hash as 64 lower-case hex digits and a NUL. */
void engine_sha256_final_hex(engine_sha256 *ctx, char out[ENGINE_SHA256_HEXLEN]);

/* One-shot: the hex digest of n bytes at data. */
void engine_sha256_hex(const void *data, size_t n, char out[ENGINE_SHA256_HEXLEN]);

#endif /* FREP_ENGINE_SHA256_H */
