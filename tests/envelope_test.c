/* The envelope codec and the status type (proto/frep_envelope, frep_status). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frep/v1/health.pb-c.h"
#include "frep_envelope.h"
#include "frep_status.h"

/* The hand-written packer must produce exactly what protobuf-c produces for
 * the same Request with the payload packed separately. */
static void
test_envelope_request_matches_protobuf_c(void **state)
{
	(void) state;
	Frep__V1__HealthCheckRequest hc = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	hc.service                      = "frep.v1.DhcpServer";
	frep_metadata       md[] = {{"authorization", "Bearer abc"}, {"x-request-id", "r-1"}};
	frep_request_fields f    = {
	       .method     = "/frep.v1.Health/Check",
	       .payload    = &hc.base,
	       .timeout_ms = 1500,
	       .metadata   = md,
	       .n_metadata = 2,
	       .call_id    = 0x1234567890abcdefULL,
        };
	size_t   n    = frep_envelope_request_size(&f);
	uint8_t *ours = malloc(n);
	assert_int_equal(frep_envelope_request_pack(&f, ours), n);

	uint8_t                 payload[128];
	size_t                  pl      = frep__v1__health_check_request__pack(&hc, payload);
	Frep__Rpc__V1__Metadata m0      = FREP__RPC__V1__METADATA__INIT,
				m1      = FREP__RPC__V1__METADATA__INIT;
	Frep__Rpc__V1__Metadata *mds[2] = {&m0, &m1};
	m0.key                          = "authorization";
	m0.value                        = "Bearer abc";
	m1.key                          = "x-request-id";
	m1.value                        = "r-1";
	Frep__Rpc__V1__Request r        = FREP__RPC__V1__REQUEST__INIT;
	r.method                        = "/frep.v1.Health/Check";
	r.payload.data                  = payload;
	r.payload.len                   = pl;
	r.timeout_ms                    = 1500;
	r.n_metadata                    = 2;
	r.metadata                      = mds;
	r.call_id                       = 0x1234567890abcdefULL;
	assert_int_equal(frep__rpc__v1__request__get_packed_size(&r), n);
	uint8_t *theirs = malloc(n);
	frep__rpc__v1__request__pack(&r, theirs);
	assert_memory_equal(ours, theirs, n);

	/* And it decodes back. */
	Frep__Rpc__V1__Request *back = NULL;
	frep_status             st;
	assert_int_equal(frep_envelope_request_unpack(ours, n, &back, &st), FREP_OK);
	assert_string_equal(back->method, "/frep.v1.Health/Check");
	assert_string_equal(frep_envelope_metadata_get(back, "x-request-id"), "r-1");
	assert_null(frep_envelope_metadata_get(back, "nope"));
	assert_int_equal(back->call_id, 0x1234567890abcdefULL);
	frep__rpc__v1__request__free_unpacked(back, NULL);
	free(ours);
	free(theirs);
}

static void
test_envelope_response_matches_protobuf_c(void **state)
{
	(void) state;
	Frep__V1__HealthCheckResponse out = FREP__V1__HEALTH_CHECK_RESPONSE__INIT;
	out.status              = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	frep_response_fields ok = {.code = FREP_OK, .payload = &out.base, .call_id = 7};
	size_t               n  = frep_envelope_response_size(&ok);
	uint8_t              buf[256], ref[256], payload[16];
	assert_int_equal(frep_envelope_response_pack(&ok, buf), n);

	Frep__Rpc__V1__Response r = FREP__RPC__V1__RESPONSE__INIT;
	r.payload.len             = frep__v1__health_check_response__pack(&out, payload);
	r.payload.data            = payload;
	r.call_id                 = 7;
	assert_int_equal(frep__rpc__v1__response__pack(&r, ref), n);
	assert_memory_equal(buf, ref, n);

	/* A failure carries code and message, never a payload. */
	frep_response_fields bad = {
	    .code = FREP_NOT_FOUND, .message = "scope 10.0.0.0 not found", .payload = &out.base};
	n                             = frep_envelope_response_pack(&bad, buf);
	Frep__Rpc__V1__Response *back = NULL;
	frep_status              st;
	assert_int_equal(frep_envelope_response_unpack(buf, n, &back, &st), FREP_OK);
	assert_int_equal(back->code, FREP_NOT_FOUND);
	assert_string_equal(back->message, "scope 10.0.0.0 not found");
	assert_int_equal(back->payload.len, 0);
	frep__rpc__v1__response__free_unpacked(back, NULL);
}

static void
test_envelope_garbage_is_invalid_argument(void **state)
{
	(void) state;
	const uint8_t           garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
	Frep__Rpc__V1__Request *r         = (void *) 1;
	frep_status             st;
	assert_int_equal(
	    frep_envelope_request_unpack(garbage, sizeof(garbage), &r, &st), FREP_INVALID_ARGUMENT);
	assert_null(r);
	assert_non_null(strstr(st.message, "6 bytes"));
}

/* The X-macro list and the contract's enum must never drift apart. */
static void
test_status_names_match_contract(void **state)
{
	(void) state;
	const ProtobufCEnumDescriptor *d = &frep__rpc__v1__code__descriptor;
	assert_int_equal(d->n_values, FREP_CODE_MAX + 1);
	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];
		assert_string_equal(frep_code_name(v->value), v->name);
		frep_code parsed;
		assert_int_equal(frep_code_parse(v->name, &parsed), 0);
		assert_int_equal(parsed, v->value);
	}
	assert_string_equal(frep_code_name(17), "UNKNOWN_CODE");
	assert_string_equal(frep_code_name(-1), "UNKNOWN_CODE");
	frep_code c;
	assert_int_equal(frep_code_parse("NOPE", &c), -1);
	assert_int_equal(frep_code_parse("not_found", &c), 0);
	assert_int_equal(c, FREP_NOT_FOUND);
}

static void
test_status_set_formats_and_truncates(void **state)
{
	(void) state;
	frep_status st;
	assert_int_equal(frep_status_set(&st, FREP_INVALID_ARGUMENT, "field %s value %d", "x", 3),
	    FREP_INVALID_ARGUMENT);
	assert_string_equal(st.message, "field x value 3");
	char big[2000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	frep_status_set(&st, FREP_INTERNAL, "%s", big);
	assert_int_equal(strlen(st.message), FREP_STATUS_MESSAGE_MAX - 1);
	assert_int_equal(frep_status_set(NULL, FREP_ABORTED, "x"), FREP_ABORTED);
	frep_status_clear(&st);
	assert_int_equal(st.code, FREP_OK);
	assert_string_equal(st.message, "");
}

static bool
utf8(const char *s)
{
	return frep_utf8_valid_prefix((const uint8_t *) s, strlen(s)) == strlen(s);
}

/* Proves: a status message is always valid UTF-8 — a value quoted at a byte
 * count ("'%.5s'") that cuts a two-byte character keeps only whole
 * characters and escapes the half, a cut at the buffer's end drops the
 * incomplete character, and bytes that are not UTF-8 are written "\xNN".
 * Before, the first two carried half a character into replies (an
 * undecodable proto3 string). */
static void
test_status_message_is_always_utf8(void **state)
{
	(void) state;
	frep_status st;
	frep_status_set(&st, FREP_INVALID_ARGUMENT, "name '%.5s' bad", "ab\xc3\xa9\xc3\xa9");
	assert_string_equal(st.message, "name 'ab\xc3\xa9\\xc3' bad");
	assert_true(utf8(st.message));
	frep_status_set(&st, FREP_INVALID_ARGUMENT, "x '%s'", "a\xff\xc0\xaf\xed\xa0\x80z");
	assert_string_equal(st.message, "x 'a\\xff\\xc0\\xaf\\xed\\xa0\\x80z'");
	char big[2000];
	for (size_t i = 0; i + 1 < sizeof(big); i += 2) {
		big[i]     = (char) 0xc3;
		big[i + 1] = (char) 0xa9;
	}
	big[sizeof(big) - 1] = '\0';
	for (size_t lead = 0; lead < 4; lead++) {
		frep_status_set(&st, FREP_INTERNAL, "%.*s%s", (int) lead, "abc", big);
		assert_true(utf8(st.message));
		assert_true(strlen(st.message) >= FREP_STATUS_MESSAGE_MAX - 2);
		assert_null(strstr(st.message, "\\x"));
	}
}

/* The zero-copy views agree with protobuf-c's decoder. */
static void
test_envelope_views_match_protobuf_c(void **state)
{
	(void) state;
	Frep__V1__HealthCheckRequest hc = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	hc.service                      = "frep.v1.DhcpServer";
	frep_metadata       md[]        = {{"authorization", "Bearer abc"}, {"x-request-id", ""}};
	frep_request_fields f           = {.method = "/frep.v1.Health/Check",
		      .payload                     = &hc.base,
		      .timeout_ms                  = 70000,
		      .metadata                    = md,
		      .n_metadata                  = 2,
		      .call_id                     = UINT64_MAX};
	size_t              n           = frep_envelope_request_size(&f);
	uint8_t            *buf         = malloc(n);
	frep_envelope_request_pack(&f, buf);

	frep_request_view v;
	frep_status       st;
	assert_int_equal(frep_envelope_request_view(buf, n, &v, &st), FREP_OK);
	assert_string_equal(v.method, "/frep.v1.Health/Check");
	assert_int_equal(v.timeout_ms, 70000);
	assert_int_equal(v.call_id, UINT64_MAX);
	assert_int_equal(v.n_metadata, 2);
	assert_string_equal(frep_envelope_view_metadata_get(&v, "authorization"), "Bearer abc");
	assert_string_equal(frep_envelope_view_metadata_get(&v, "x-request-id"), "");
	assert_null(frep_envelope_view_metadata_get(&v, "nope"));
	Frep__V1__HealthCheckRequest *back =
	    frep__v1__health_check_request__unpack(NULL, v.payload_len, v.payload);
	assert_string_equal(back->service, "frep.v1.DhcpServer");
	frep__v1__health_check_request__free_unpacked(back, NULL);
	/* The payload is borrowed, not copied. */
	assert_true(v.payload > buf && v.payload < buf + n);
	frep_envelope_request_view_fini(&v);

	frep_response_fields rf = {
	    .code = FREP_NOT_FOUND, .message = "scope 10.0.0.0 not found", .call_id = 9};
	uint8_t            rbuf[128];
	size_t             rn = frep_envelope_response_pack(&rf, rbuf);
	frep_response_view rv;
	assert_int_equal(frep_envelope_response_view(rbuf, rn, &rv, &st), FREP_OK);
	assert_int_equal(rv.code, FREP_NOT_FOUND);
	assert_int_equal(rv.message_len, strlen("scope 10.0.0.0 not found"));
	assert_memory_equal(rv.message, "scope 10.0.0.0 not found", rv.message_len);
	assert_int_equal(rv.call_id, 9);
	free(buf);
}

static void
test_envelope_view_refuses_malformed(void **state)
{
	(void) state;
	frep_request_view v;
	frep_status       st;
	/* Truncated length, a group, field number 0, a known field with the
	 * wrong wire type, an 11-byte varint. */
	const uint8_t cases[][12] = {
	    {0x0a, 0x05, 'a', 'b'},
	    {0x0b, 0x00},
	    {0x00, 0x01},
	    {0x08, 0x01},
	    {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	};
	const size_t lens[] = {4, 2, 2, 2, 12};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(
		    frep_envelope_request_view(cases[i], lens[i], &v, &st), FREP_INVALID_ARGUMENT);
	}
	/* A NUL byte inside the method. */
	const uint8_t nul[] = {0x0a, 0x03, 'a', 0x00, 'b'};
	assert_int_equal(
	    frep_envelope_request_view(nul, sizeof(nul), &v, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "NUL"));
	/* Unknown fields are skipped, as protobuf-c does. */
	const uint8_t unknown[] = {0x0a, 0x01, 'm', 0x30, 0x07, 0x3a, 0x01, 'x', 0x45, 1, 2, 3, 4};
	assert_int_equal(frep_envelope_request_view(unknown, sizeof(unknown), &v, &st), FREP_OK);
	assert_string_equal(v.method, "m");
	frep_envelope_request_view_fini(&v);
	/* Too many metadata pairs. */
	uint8_t big[4 * 70];
	for (size_t i = 0; i < 70; i++) {
		big[4 * i] = 0x22, big[4 * i + 1] = 2, big[4 * i + 2] = 0x0a, big[4 * i + 3] = 0;
	}
	assert_int_equal(
	    frep_envelope_request_view(big, sizeof(big), &v, &st), FREP_INVALID_ARGUMENT);
}

/* Random mutations of a valid envelope: whenever the view accepts one,
 * protobuf-c accepts it too and reads the same fields. */
static void
test_envelope_view_agrees_on_mutations(void **state)
{
	(void) state;
	frep_metadata                md[] = {{"k", "v"}, {"authorization", "Bearer t"}};
	Frep__V1__HealthCheckRequest hc   = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	hc.service                        = "x";
	frep_request_fields f             = {.method = "/a.B/C",
			.payload                     = &hc.base,
			.timeout_ms                  = 5,
			.metadata                    = md,
			.n_metadata                  = 2,
			.call_id                     = 77};
	size_t              n             = frep_envelope_request_size(&f);
	uint8_t            *ref = malloc(n), *buf = malloc(n);
	frep_envelope_request_pack(&f, ref);
	srand(7);
	unsigned accepted = 0;
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, ref, n);
		size_t len = n;
		int    k   = 1 + rand() % 3;
		for (int j = 0; j < k; j++) {
			buf[rand() % n] = (uint8_t) rand();
		}
		if (rand() % 4 == 0) {
			len = (size_t) rand() % n;
		}
		frep_request_view v;
		frep_status       st;
		if (frep_envelope_request_view(buf, len, &v, &st) != FREP_OK) {
			continue;
		}
		accepted++;
		Frep__Rpc__V1__Request *r = frep__rpc__v1__request__unpack(NULL, len, buf);
		assert_non_null(r);
		assert_string_equal(r->method, v.method);
		assert_int_equal(r->timeout_ms, v.timeout_ms);
		assert_int_equal(r->call_id, v.call_id);
		assert_int_equal(r->payload.len, v.payload_len);
		assert_int_equal(r->n_metadata, v.n_metadata);
		for (size_t i = 0; i < v.n_metadata; i++) {
			assert_string_equal(r->metadata[i]->key, v.metadata[i].key);
			assert_string_equal(r->metadata[i]->value, v.metadata[i].value);
		}
		frep__rpc__v1__request__free_unpacked(r, NULL);
		frep_envelope_request_view_fini(&v);
	}
	assert_true(accepted > 100);
	free(ref);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_message_is_always_utf8),
	    cmocka_unit_test(test_envelope_request_matches_protobuf_c),
	    cmocka_unit_test(test_envelope_response_matches_protobuf_c),
	    cmocka_unit_test(test_envelope_garbage_is_invalid_argument),
	    cmocka_unit_test(test_status_names_match_contract),
	    cmocka_unit_test(test_status_set_formats_and_truncates),
	    cmocka_unit_test(test_envelope_views_match_protobuf_c),
	    cmocka_unit_test(test_envelope_view_refuses_malformed),
	    cmocka_unit_test(test_envelope_view_agrees_on_mutations),
	};
	return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
