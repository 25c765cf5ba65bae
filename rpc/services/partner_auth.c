#include "partner_auth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sha256.h"

#define REPLAY_MAX 8192

static void
hmac_begin(engine_sha256 *inner, uint8_t opad[64], const char *secret)
{
	uint8_t key[64] = {0};
	uint8_t ipad[64];
	size_t  klen = strlen(secret);
	if (klen > 64) {
		engine_sha256 k;
		engine_sha256_init(&k);
		engine_sha256_update(&k, secret, klen);
		engine_sha256_final(&k, key);
	} else {
		memcpy(key, secret, klen);
	}
	for (int i = 0; i < 64; i++) {
		ipad[i] = key[i] ^ 0x36;
		opad[i] = key[i] ^ 0x5c;
	}
	engine_sha256_init(inner);
	engine_sha256_update(inner, ipad, 64);
	memset(key, 0, sizeof(key));
}

void
partner_auth_mac(const char *secret, const char *method, const char *relationship,
    int64_t timestamp_ms, const char *nonce, const uint8_t *payload, size_t len,
    char mac_hex[PARTNER_AUTH_MAC_HEXLEN])
{
	engine_sha256 inner, outer;
	uint8_t       opad[64], digest[ENGINE_SHA256_LEN];
	char          ts[32];
	hmac_begin(&inner, opad, secret);
	snprintf(ts, sizeof(ts), "%" PRId64, timestamp_ms);
	engine_sha256_update(&inner, "frep-partner-v1\n", 16);
	engine_sha256_update(&inner, method, strlen(method));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, relationship, strlen(relationship));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, ts, strlen(ts));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, nonce, strlen(nonce));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, payload, len);
	engine_sha256_final(&inner, digest);
	engine_sha256_init(&outer);
	engine_sha256_update(&outer, opad, 64);
	engine_sha256_update(&outer, digest, sizeof(digest));
	engine_sha256_final_hex(&outer, mac_hex);
}

void
partner_auth_nonce(char out[33])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b)) {
		/* Never expected; the timestamp and a counter still differ. */
		static _Atomic uint64_t counter;
		uint64_t                c = ++counter;
		memcpy(b, &c, sizeof(c));
		memset(b + 8, 0, 8);
	}
	for (int i = 0; i < 16; i++) {
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
}

int64_t
partner_auth_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct seen {
	char    mac[PARTNER_AUTH_MAC_HEXLEN];
	int64_t expires_ms;
} seen;

struct partner_auth_replay {
	pthread_mutex_t mtx;
	seen            ring[REPLAY_MAX]; /* oldest overwritten first */
	size_t          next;
};

partner_auth_replay *
partner_auth_replay_new(void)
{
	partner_auth_replay *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		pthread_mutex_init(&r->mtx, NULL);
	}
	return r;
}

void
partner_auth_replay_free(partner_auth_replay *r)
{
	if (r != NULL) {
		pthread_mutex_destroy(&r->mtx);
		free(r);
	}
}

static bool
equal_const_time(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++) {
		d |= (unsigned char) (a[i] ^ b[i]);
	}
	return d == 0;
}

frep_code
partner_auth_verify(partner_auth_replay *r, const char *secret, const char *method,
    const char *relationship, const char *timestamp_text, const char *nonce, const char *mac_hex,
    const uint8_t *payload, size_t len, frep_status *st)
{
	if (timestamp_text == NULL || nonce == NULL || mac_hex == NULL) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: partner call without %s, %s and %s metadata", method,
		    PARTNER_AUTH_KEY_TIMESTAMP, PARTNER_AUTH_KEY_NONCE, PARTNER_AUTH_KEY_MAC);
	}
	size_t nlen = strlen(nonce);
	if (nlen == 0 || nlen > PARTNER_AUTH_NONCE_MAX) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: %s is %zu characters, not 1..%d", method, PARTNER_AUTH_KEY_NONCE, nlen,
		    PARTNER_AUTH_NONCE_MAX);
	}
	char   *end = NULL;
	int64_t ts  = strtoll(timestamp_text, &end, 10);
	if (timestamp_text[0] == '\0' || *end != '\0') {
		return frep_status_set(st, FREP_UNAUTHENTICATED, "%s: %s \"%.40s\" is not a number",
		    method, PARTNER_AUTH_KEY_TIMESTAMP, timestamp_text);
	}
	int64_t now = partner_auth_now_ms();
	if (ts < now - PARTNER_AUTH_WINDOW_MS || ts > now + PARTNER_AUTH_WINDOW_MS) {
		/* Both printed as they are: ts - now could overflow. */
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: timestamp %" PRId64 " is outside this server's clock %" PRId64
		    " +/- %d ms; check that the partners' clocks agree",
		    method, ts, now, PARTNER_AUTH_WINDOW_MS);
	}
	char expected[PARTNER_AUTH_MAC_HEXLEN];
	partner_auth_mac(secret, method, relationship, ts, nonce, payload, len, expected);
	if (strlen(mac_hex) != PARTNER_AUTH_MAC_HEXLEN - 1 ||
	    !equal_const_time(expected, mac_hex, PARTNER_AUTH_MAC_HEXLEN - 1)) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: the MAC does not match relationship \"%s\"'s shared secret", method,
		    relationship);
	}
	pthread_mutex_lock(&r->mtx);
	for (size_t i = 0; i < REPLAY_MAX; i++) {
		if (r->ring[i].expires_ms > now && memcmp(r->ring[i].mac, mac_hex, 64) == 0) {
			pthread_mutex_unlock(&r->mtx);
			return frep_status_set(st, FREP_UNAUTHENTICATED,
			    "%s: replayed partner call (this MAC was already used)", method);
		}
	}
	memcpy(r->ring[r->next].mac, mac_hex, PARTNER_AUTH_MAC_HEXLEN);
	r->ring[r->next].expires_ms = ts + PARTNER_AUTH_WINDOW_MS + 1;
	r->next                     = (r->next + 1) % REPLAY_MAX;
	pthread_mutex_unlock(&r->mtx);
	return FREP_OK;
}
