/* SHA-256 from FIPS 180-4, sections 4.1.2, 4.2.2, 5.1.1, 6.2. */
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98,
    0x71374491,
    0xb5c0fbcf,
    0xe9b5dba5,
    0x3956c25b,
    0x59f111f1,
    0x923f82a4,
    0xab1c5ed5,
    0xd807aa98,
    0x12835b01,
    0x243185be,
    0x550c7dc3,
    0x72be5d74,
    0x80deb1fe,
    0x9bdc06a7,
    0xc19bf174,
    0xe49b69c1,
    0xefbe4786,
    0x0fc19dc6,
    0x240ca1cc,
    0x2de92c6f,
    0x4a7484aa,
    0x5cb0a9dc,
    0x76f988da,
    0x983e5152,
    0xa831c66d,
    0xb00327c8,
    0xbf597fc7,
    0xc6e00bf3,
    0xd5a79147,
    0x06ca6351,
    0x14292967,
    0x27b70a85,
    0x2e1b2138,
    0x4d2c6dfc,
    0x53380d13,
    0x650a7354,
    0x766a0abb,
    0x81c2c92e,
    0x92722c85,
    0xa2bfe8a1,
    0xa81a664b,
    0xc24b8b70,
    0xc76c51a3,
    0xd192e819,
    0xd6990624,
    0xf40e3585,
    0x106aa070,
    0x19a4c116,
    0x1e376c08,
    0x2748774c,
    0x34b0bcb5,
    0x391c0cb3,
    0x4ed8aa4a,
    0x5b9cca4f,
    0x682e6ff3,
    0x748f82ee,
    0x78a5636f,
    0x84c87814,
    0x8cc70208,
    0x90befffa,
    0xa4506ceb,
    0xbef9a3f7,
    0xc67178f2,
};

#define ROTR(x, n)   (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z)  (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x)     (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x)     (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x)     (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x)     (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define ENGINE_SHA_NI 1

/* The same compression with the x86 SHA extensions (SHA-NI), chosen at run
 * time when the CPU has them: the digest of a big scope is hashed on every
 * replication, and this is several times faster. The NIST vectors in
 * tests/engine_sha256_test.c run through whichever the CPU picks. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_block_ni(uint32_t state[8], const uint8_t *p)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i       tmp  = _mm_loadu_si128((const __m128i *) &state[0]);
	__m128i       s1   = _mm_loadu_si128((const __m128i *) &state[4]);
	tmp                = _mm_shuffle_epi32(tmp, 0xB1);   /* CDAB */
	s1                 = _mm_shuffle_epi32(s1, 0x1B);    /* EFGH */
	__m128i s0         = _mm_alignr_epi8(tmp, s1, 8);    /* ABEF */
	s1                 = _mm_blend_epi16(s1, tmp, 0xF0); /* CDGH */
	__m128i abef = s0, cdgh = s1;
	__m128i w[4];

	for (int i = 0; i < 16; i++) {
		if (i < 4) {
			w[i] =
			    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 16 * i)), mask);
		} else {
			/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time. */
			__m128i t = _mm_sha256msg1_epu32(w[(i - 4) & 3], w[(i - 3) & 3]);
			t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i - 1) & 3], w[(i - 2) & 3], 4));
			w[i & 3] = _mm_sha256msg2_epu32(t, w[(i - 1) & 3]);
		}
		__m128i m = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *) &K[4 * i]));
		s1        = _mm_sha256rnds2_epu32(s1, s0, m);
		m         = _mm_shuffle_epi32(m, 0x0E);
		s0        = _mm_sha256rnds2_epu32(s0, s1, m);
	}
	s0  = _mm_add_epi32(s0, abef);
	s1  = _mm_add_epi32(s1, cdgh);
	tmp = _mm_shuffle_epi32(s0, 0x1B);    /* FEBA */
	s1  = _mm_shuffle_epi32(s1, 0xB1);    /* DCHG */
	s0  = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA */
	s1  = _mm_alignr_epi8(s1, tmp, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *) &state[0], s0);
	_mm_storeu_si128((__m128i *) &state[4], s1);
}

static int
have_sha_ni(void)
{
	static int known = -1;
	if (known < 0) {
		/* CPUID directly (clang's __builtin_cpu_supports lacks "sha"):
		 * leaf 7 EBX bit 29 = SHA, leaf 1 ECX bits 19 and 9 = SSE4.1 and
		 * SSSE3. FREP_SHA256_PORTABLE=1 forces the portable code (its
		 * tests). */
		unsigned    a, b, c, d;
		const char *force = getenv("FREP_SHA256_PORTABLE");
		int         sha = 0, sse = 0;
		if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
			sha = (b >> 29) & 1u;
		}
		if (__get_cpuid(1, &a, &b, &c, &d)) {
			sse = ((c >> 19) & 1u) && ((c >> 9) & 1u);
		}
		known = (force == NULL || strcmp(force, "1") != 0) && sha && sse ? 1 : 0;
	}
	return known;
}
#endif

static void sha256_block_portable(engine_sha256 *ctx, const uint8_t *p);

static void
sha256_block(engine_sha256 *ctx, const uint8_t *p)
{
#ifdef ENGINE_SHA_NI
	if (have_sha_ni()) {
		sha256_block_ni(ctx->state, p);
		return;
	}
#endif
	sha256_block_portable(ctx, p);
}

static void
sha256_block_portable(engine_sha256 *ctx, const uint8_t *p)
{
	uint32_t w[64];
	uint32_t a, b, c, d, e, f, g, h;

	for (int t = 0; t < 16; t++) {
		w[t] = (uint32_t) p[4 * t] << 24 | (uint32_t) p[4 * t + 1] << 16 |
		       (uint32_t) p[4 * t + 2] << 8 | (uint32_t) p[4 * t + 3];
	}
	for (int t = 16; t < 64; t++) {
		w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
	}
	a = ctx->state[0];
	b = ctx->state[1];
	c = ctx->state[2];
	d = ctx->state[3];
	e = ctx->state[4];
	f = ctx->state[5];
	g = ctx->state[6];
	h = ctx->state[7];
	for (int t = 0; t < 64; t++) {
		uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
		uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
		h           = g;
		g           = f;
		f           = e;
		e           = d + t1;
		d           = c;
		c           = b;
		b           = a;
		a           = t1 + t2;
	}
	ctx->state[0] += a;
	ctx->state[1] += b;
	ctx->state[2] += c;
	ctx->state[3] += d;
	ctx->state[4] += e;
	ctx->state[5] += f;
	ctx->state[6] += g;
	ctx->state[7] += h;
}

void
engine_sha256_init(engine_sha256 *ctx)
{
	static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
	    0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(ctx->state, H0, sizeof(H0));
	ctx->length = 0;
	ctx->used   = 0;
}

void
engine_sha256_update(engine_sha256 *ctx, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (n == 0) {
		return;
	}
	ctx->length += n;
	if (ctx->used > 0) {
		size_t take = 64 - ctx->used;
		if (take > n) {
			take = n;
		}
		memcpy(ctx->block + ctx->used, p, take);
		ctx->used += take;
		p += take;
		n -= take;
		if (ctx->used < 64) {
			return;
		}
		sha256_block(ctx, ctx->block);
		ctx->used = 0;
	}
	while (n >= 64) {
		sha256_block(ctx, p);
		p += 64;
		n -= 64;
	}
	if (n > 0) {
		memcpy(ctx->block, p, n);
		ctx->used = n;
	}
}

void
engine_sha256_final(engine_sha256 *ctx, uint8_t out[ENGINE_SHA256_LEN])
{
	uint64_t bits = ctx->length * 8;

	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		sha256_block(ctx, ctx->block);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	for (int i = 0; i < 8; i++) {
		ctx->block[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
	}
	sha256_block(ctx, ctx->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i]     = (uint8_t) (ctx->state[i] >> 24);
		out[4 * i + 1] = (uint8_t) (ctx->state[i] >> 16);
		out[4 * i + 2] = (uint8_t) (ctx->state[i] >> 8);
		out[4 * i + 3] = (uint8_t) ctx->state[i];
	}
}

void
engine_sha256_final_hex(engine_sha256 *ctx, char out[ENGINE_SHA256_HEXLEN])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t           raw[ENGINE_SHA256_LEN];

	engine_sha256_final(ctx, raw);
	for (int i = 0; i < ENGINE_SHA256_LEN; i++) {
		out[2 * i]     = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0xf];
	}
	out[64] = '\0';
}

void
engine_sha256_hex(const void *data, size_t n, char out[ENGINE_SHA256_HEXLEN])
{
	engine_sha256 ctx;

	engine_sha256_init(&ctx);
	engine_sha256_update(&ctx, data, n);
	engine_sha256_final_hex(&ctx, out);
}
