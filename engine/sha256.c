/* SHA-256 through OpenSSL's libcrypto (EVP). The algorithm object is fetched
 * once per process: an implicit fetch on every init takes a lock in OpenSSL 3. */
#include "sha256.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

static EVP_MD        *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
engine_sha256_init(engine_sha256 *ctx)
{
	EVP_MD_CTX *md_ctx;

	pthread_once(&sha256_once, sha256_fetch);
	ctx->failed = false;
	ctx->md_ctx = NULL;
	if (sha256_md == NULL || (md_ctx = EVP_MD_CTX_new()) == NULL) {
		ctx->failed = true;
		return;
	}
	if (EVP_DigestInit_ex(md_ctx, sha256_md, NULL) != 1) {
		EVP_MD_CTX_free(md_ctx);
		ctx->failed = true;
		return;
	}
	ctx->md_ctx = md_ctx;
}

void
engine_sha256_update(engine_sha256 *ctx, const void *data, size_t n)
{
	if (ctx->md_ctx == NULL || n == 0) {
		return;
	}
	if (EVP_DigestUpdate(ctx->md_ctx, data, n) != 1) {
		ctx->failed = true;
	}
}

bool
engine_sha256_final(engine_sha256 *ctx, uint8_t out[ENGINE_SHA256_LEN])
{
	unsigned int len = 0;
	bool         ok  = false;

	if (ctx->md_ctx != NULL && !ctx->failed) {
		ok = EVP_DigestFinal_ex(ctx->md_ctx, out, &len) == 1 && len == ENGINE_SHA256_LEN;
	}
	engine_sha256_discard(ctx);
	if (!ok) {
		memset(out, 0, ENGINE_SHA256_LEN);
	}
	return ok;
}

void
engine_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i]     = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

bool
engine_sha256_final_hex(engine_sha256 *ctx, char out[ENGINE_SHA256_HEXLEN])
{
	uint8_t raw[ENGINE_SHA256_LEN];

	if (!engine_sha256_final(ctx, raw)) {
		out[0] = '\0';
		return false;
	}
	engine_hex_encode(raw, sizeof(raw), out);
	return true;
}

void
engine_sha256_discard(engine_sha256 *ctx)
{
	if (ctx != NULL && ctx->md_ctx != NULL) {
		EVP_MD_CTX_free(ctx->md_ctx);
		ctx->md_ctx = NULL;
	}
}

bool
engine_sha256_hex(const void *data, size_t n, char out[ENGINE_SHA256_HEXLEN])
{
	engine_sha256 h;

	engine_sha256_init(&h);
	engine_sha256_update(&h, data, n);
	return engine_sha256_final_hex(&h, out);
}
