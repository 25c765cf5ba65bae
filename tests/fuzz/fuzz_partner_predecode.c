/*
 * fuzz_partner_predecode: a Partner call's path before its handler, as
 * frepd runs it (partner_service_authorize, then rpc_server.c's run_call):
 * the MAC is checked on the raw payload first; only an accepted call has
 * its strings checked (rpc_payload_check_text) and is decoded, through the
 * per-call budget allocator.
 *
 * Input: a flags byte, a method byte (one of frep.v1.Partner's, modulo
 * their count), then the payload (any bytes). Flags:
 *   0x01 sign: the MAC is the right one for the payload (else a wrong one);
 *   0x02 the call claims to come from the verifier itself;
 *   0x04 the timestamp is 61 s old.
 * Oracle: a refused call is UNAUTHENTICATED and nothing is decoded; only a
 * right, fresh MAC from another server is accepted, and only once; an
 * accepted payload either fails the text check (INVALID_ARGUMENT, its
 * message valid UTF-8) or decodes into strings that are all valid UTF-8 —
 * or is refused by the budget, which it never overruns; every byte the
 * decoder allocated is given back; a sanitized message is valid UTF-8.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frep/v1/partner.pb-c.h"
#include "fuzz_check.h"
#include "partner_auth.h"
#include "payload_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIGN      0x01
#define FROM_SELF 0x02
#define STALE     0x04
#define OTHER_ID  "0123456789abcdef0123456789abcdef"

/* Every string field of a decoded message, recursively, is UTF-8. */
static void
check_strings(const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	FUZZ_CHECK(depth < 80, "nesting %u", depth);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f    = &d->fields[i];
		const char                     *base = (const char *) m + f->offset;
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		size_t       n = 1;
		void *const *vals;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n    = *(const size_t *) ((const char *) m + f->quantifier_offset);
			vals = *(void *const *const *) base;
		} else {
			vals = (void *const *) base;
		}
		for (size_t k = 0; k < n; k++) {
			const void *v = vals[k];
			if (v == NULL) {
				continue;
			}
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = v;
				FUZZ_CHECK(frep_utf8_valid_prefix((const uint8_t *) s, strlen(s)) ==
					       strlen(s),
				    "field %s holds text that is not UTF-8", f->name);
			} else {
				check_strings(v, depth + 1);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static partner_auth_replay *replay;
	if (replay == NULL) {
		replay = partner_auth_replay_new();
		FUZZ_CHECK(replay != NULL, "partner_auth_replay_new");
	}
	if (size < 2) {
		return 0;
	}
	unsigned                          flags   = data[0];
	const ProtobufCServiceDescriptor *svc     = &frep__v1__partner__descriptor;
	const ProtobufCMethodDescriptor  *m       = &svc->methods[data[1] % svc->n_methods];
	const uint8_t                    *payload = data + 2;
	size_t                            len     = size - 2;
	char                              path[128];
	snprintf(path, sizeof(path), "/%s/%s", svc->name, m->name);

	/* What partner_client signs. */
	const char *sender = (flags & FROM_SELF) ? partner_auth_server_id() : OTHER_ID;
	int64_t     ts     = partner_auth_now_ms() - ((flags & STALE) ? 61000 : 0);
	char        ts_text[32], nonce[33], mac[PARTNER_AUTH_MAC_HEXLEN];
	snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);
	partner_auth_nonce(nonce);
	partner_auth_mac("s3cret", path, "pair", sender, ts, nonce, payload, len, mac);
	if (!(flags & SIGN)) {
		mac[0] = mac[0] == '0' ? '1' : '0';
	}

	frep_status st;
	bool        replayed = false;
	frep_code   rc = partner_auth_verify(replay, "s3cret", path, "pair", sender, ts_text, nonce,
	      mac, payload, len, &replayed, &st);
	if (rc != FREP_OK) {
		FUZZ_CHECK(rc == FREP_UNAUTHENTICATED, "refused with %s", frep_code_name(rc));
		FUZZ_CHECK(!replayed, "a fresh nonce reported as a replay");
		return 0; /* nothing is decoded for a refused call */
	}
	FUZZ_CHECK((flags & SIGN) && !(flags & FROM_SELF) && !(flags & STALE),
	    "accepted a call with flags 0x%02x", flags);
	rc = partner_auth_verify(replay, "s3cret", path, "pair", sender, ts_text, nonce, mac,
	    payload, len, &replayed, &st);
	FUZZ_CHECK(rc == FREP_UNAUTHENTICATED && replayed, "a replay was accepted");

	/* run_call: the text check on the raw bytes, then the budgeted decode. */
	if (rpc_payload_check_text(m->input, payload, len, &st) != FREP_OK) {
		FUZZ_CHECK(st.code == FREP_INVALID_ARGUMENT || st.code == FREP_RESOURCE_EXHAUSTED,
		    "text check failed with %s", frep_code_name(st.code));
		char clean[FREP_STATUS_MESSAGE_MAX * 4];
		frep_utf8_sanitize(st.message, clean, sizeof(clean));
		FUZZ_CHECK(
		    frep_utf8_valid_prefix((const uint8_t *) clean, strlen(clean)) == strlen(clean),
		    "a sanitized message is not UTF-8");
		return 0;
	}
	rpc_budget_allocator budget;
	rpc_budget_allocator_init(&budget, len);
	ProtobufCMessage *in = protobuf_c_message_unpack(m->input, &budget.base, len, payload);
	FUZZ_CHECK(budget.peak <= budget.limit, "decoding used %zu of a %zu budget", budget.peak,
	    budget.limit);
	if (in != NULL) {
		check_strings(in, 0);
		protobuf_c_message_free_unpacked(in, &budget.base);
	}
	FUZZ_CHECK(budget.used == 0, "%zu decoded bytes not given back", budget.used);
	return 0;
}
