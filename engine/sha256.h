/*
 * sha256: SHA-256 (FIPS 180-4) for the scope digests replication compares,
 * computed by OpenSSL's libcrypto (EVP; it picks the CPU's SHA extensions
 * itself). frep keeps only this small interface so the engine's callers do
 * not see OpenSSL.
 */
#ifndef FREP_ENGINE_SHA256_H
#define FREP_ENGINE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_SHA256_LEN 32
/* Lower-case hex digest and its NUL. */
#define ENGINE_SHA256_HEXLEN 65

/* A running hash; embed it and use _init / _update / _final (or _discard).
 * It holds a libcrypto context: every _init must be matched by one _final,
 * _final_hex or _discard, which release it. */
typedef struct engine_sha256 {
	void *md_ctx; /* EVP_MD_CTX *, NULL once finished */
	bool  failed; /* libcrypto refused (out of memory): _final reports it */
} engine_sha256;

/* Starts a new hash in *ctx. */
void engine_sha256_init(engine_sha256 *ctx);

/* Adds n bytes at data (data may be NULL when n == 0). */
void engine_sha256_update(engine_sha256 *ctx, const void *data, size_t n);

/* Finishes the hash into out and releases the context; returns false (and
 * zeroes out) if libcrypto failed at any step (out of memory). */
bool engine_sha256_final(engine_sha256 *ctx, uint8_t out[ENGINE_SHA256_LEN]);

/* Finishes the hash as 64 lower-case hex digits and a NUL; false (and an
 * empty string) if libcrypto failed. */
bool engine_sha256_final_hex(engine_sha256 *ctx, char out[ENGINE_SHA256_HEXLEN]);

/* Releases a hash that will not be finished (an error path). NULL-safe and
 * harmless on a finished hash. */
void engine_sha256_discard(engine_sha256 *ctx);

/* One-shot: the hex digest of n bytes at data; false if libcrypto failed. */
bool engine_sha256_hex(const void *data, size_t n, char out[ENGINE_SHA256_HEXLEN]);

/* Hex-encodes n bytes at in as 2n lower-case digits and a NUL into out. */
void engine_hex_encode(const uint8_t *in, size_t n, char *out);

#endif /* FREP_ENGINE_SHA256_H */
