/*
 * fuzz_partner_auth: partner_auth_verify on arbitrary metadata.
 *
 * Input: a flags byte, then six fields separated by '\n' — secret, method,
 * relationship, x-frep-timestamp, x-frep-nonce, x-frep-mac — then the
 * payload (the rest, any bytes). Flags:
 *   0x01 sign: replace the MAC with the right one for these fields (the
 *        only way a fuzzer reaches "accepted");
 *   0x02 timestamp relative: the timestamp field is an offset in ms from
 *        now (so both sides of the window are near);
 *   0x04, 0x08, 0x10: the timestamp, nonce, MAC metadata are absent;
 *   0x20 the call claims to come from the verifier itself (its own id as
 *        x-frep-sender), else from a fixed other id; 0x40 no sender.
 * Oracle: verify accepts only when the MAC is the one partner_auth_mac
 * computes for the fields, never a call signed by the verifier itself, and
 * never accepts the same call twice; a
 * refusal is UNAUTHENTICATED and never shows the expected MAC.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "partner_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_SECRET, F_METHOD, F_RELATIONSHIP, F_TIMESTAMP, F_NONCE, F_MAC, F_COUNT };

#define SIGN         0x01
#define RELATIVE     0x02
#define NO_TIMESTAMP 0x04
#define NO_NONCE     0x08
#define NO_MAC       0x10
#define FROM_SELF    0x20
#define NO_SENDER    0x40
#define OTHER_ID     "0123456789abcdef0123456789abcdef"

/* A NUL-terminated copy of len bytes, exactly sized. */
static char *
copy(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);
	FUZZ_CHECK(s != NULL, "out of memory");
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static partner_auth_replay *replay;
	if (replay == NULL) {
		replay = partner_auth_replay_new();
		FUZZ_CHECK(replay != NULL, "partner_auth_replay_new");
	}
	if (size == 0) {
		return 0;
	}
	unsigned       flags = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	char          *f[F_COUNT];
	for (int i = 0; i < F_COUNT; i++) {
		const uint8_t *nl  = memchr(p, '\n', (size_t) (end - p));
		size_t         len = nl != NULL ? (size_t) (nl - p) : (size_t) (end - p);
		f[i]               = copy(p, len);
		p += len + (nl != NULL ? 1 : 0);
	}
	const uint8_t *payload = p;
	size_t         len     = (size_t) (end - p);

	if (flags & RELATIVE) {
		long long offset = strtoll(f[F_TIMESTAMP], NULL, 10) % 1000000;
		char      ts[32];
		snprintf(ts, sizeof(ts), "%" PRId64, partner_auth_now_ms() + (int64_t) offset);
		free(f[F_TIMESTAMP]);
		f[F_TIMESTAMP] = copy((const uint8_t *) ts, strlen(ts));
	}
	/* What the MAC must be for the timestamp as the verifier reads it. */
	char        expected[PARTNER_AUTH_MAC_HEXLEN] = "";
	const char *sender = (flags & FROM_SELF) ? partner_auth_server_id() : OTHER_ID;
	char       *ts_end = NULL;
	int64_t     ts     = strtoll(f[F_TIMESTAMP], &ts_end, 10);
	bool        ts_ok  = f[F_TIMESTAMP][0] != '\0' && *ts_end == '\0';
	if (ts_ok) {
		partner_auth_mac(f[F_SECRET], f[F_METHOD], f[F_RELATIONSHIP], sender, ts,
		    f[F_NONCE], payload, len, expected);
		if (flags & SIGN) {
			free(f[F_MAC]);
			f[F_MAC] = copy((const uint8_t *) expected, strlen(expected));
		}
	}

	const char *timestamp = (flags & NO_TIMESTAMP) ? NULL : f[F_TIMESTAMP];
	const char *nonce     = (flags & NO_NONCE) ? NULL : f[F_NONCE];
	const char *mac       = (flags & NO_MAC) ? NULL : f[F_MAC];
	const char *md_sender = (flags & NO_SENDER) ? NULL : sender;
	frep_status st;
	frep_code   rc = partner_auth_verify(replay, f[F_SECRET], f[F_METHOD], f[F_RELATIONSHIP],
	      md_sender, timestamp, nonce, mac, payload, len, NULL, &st);
	if (rc == FREP_OK) {
		FUZZ_CHECK(md_sender != NULL && strcmp(md_sender, partner_auth_server_id()) != 0,
		    "accepted a call signed by the verifier itself (a reflection)");
		FUZZ_CHECK(
		    timestamp != NULL && nonce != NULL && mac != NULL, "accepted without metadata");
		FUZZ_CHECK(ts_ok && strcmp(mac, expected) == 0,
		    "accepted a MAC that is not the right one");
		size_t nlen = strlen(nonce);
		FUZZ_CHECK(
		    nlen >= 1 && nlen <= PARTNER_AUTH_NONCE_MAX, "accepted a nonce of %zu", nlen);
		/* The same call again is a replay. */
		rc = partner_auth_verify(replay, f[F_SECRET], f[F_METHOD], f[F_RELATIONSHIP],
		    md_sender, timestamp, nonce, mac, payload, len, NULL, &st);
		FUZZ_CHECK(rc == FREP_UNAUTHENTICATED, "a replayed call was accepted");
	} else {
		FUZZ_CHECK(rc == FREP_UNAUTHENTICATED, "refused with %s", frep_code_name(rc));
		FUZZ_CHECK(st.code == rc, "status");
	}
	if (rc != FREP_OK && expected[0] != '\0' && strstr(f[F_METHOD], expected) == NULL &&
	    strstr(f[F_RELATIONSHIP], expected) == NULL) {
		FUZZ_CHECK(
		    strstr(st.message, expected) == NULL, "a refusal shows the expected MAC");
	}
	for (int i = 0; i < F_COUNT; i++) {
		free(f[i]);
	}
	return 0;
}
