/*
 * fuzz_envelope: the frep.rpc.v1 envelope codec (proto/frep_envelope.c).
 *
 * The input is decoded as a Request and as a Response. Whatever decodes is
 * packed again with frep_envelope_*_pack (the payload carried as a message
 * whose fields are all unknown, so protobuf-c packs them back verbatim)
 * and must: pack to exactly *_size() bytes, decode back to the same
 * fields, and pack a second time to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep_envelope.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The payload bytes as a message (frep.v1.Empty: every field unknown), or
 * NULL when there are none or they are not protobuf. */
static ProtobufCMessage *
payload_message(const ProtobufCBinaryData *b)
{
	if (b->len == 0) {
		return NULL;
	}
	return (ProtobufCMessage *) frep__v1__empty__unpack(NULL, b->len, b->data);
}

/* What payload_put writes for m, packed on its own. */
static void
expected_payload(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (m == NULL) {
		return;
	}
	*len = protobuf_c_message_get_packed_size(m);
	*out = malloc(*len + 1);
	FUZZ_CHECK(*out != NULL, "out of memory");
	FUZZ_CHECK(protobuf_c_message_pack(m, *out) == *len, "payload pack size");
}

static void
check_bytes(const ProtobufCBinaryData *got, const uint8_t *want, size_t want_len, const char *what)
{
	FUZZ_CHECK(
	    got->len == want_len, "%s: %zu bytes back, %zu packed", what, got->len, want_len);
	FUZZ_CHECK(want_len == 0 || memcmp(got->data, want, want_len) == 0, "%s differs", what);
}

static void
request_round_trip(const Frep__Rpc__V1__Request *req)
{
	frep_status       st;
	ProtobufCMessage *payload = payload_message(&req->payload);
	frep_metadata    *md      = calloc(req->n_metadata + 1, sizeof(*md));
	FUZZ_CHECK(md != NULL, "out of memory");
	for (size_t i = 0; i < req->n_metadata; i++) {
		md[i].key   = req->metadata[i]->key;
		md[i].value = req->metadata[i]->value;
	}
	frep_request_fields f = {
	    .method     = req->method,
	    .payload    = payload,
	    .timeout_ms = req->timeout_ms,
	    .metadata   = md,
	    .n_metadata = req->n_metadata,
	    .call_id    = req->call_id,
	};
	size_t   size = frep_envelope_request_size(&f);
	uint8_t *buf  = malloc(size + 1); /* exact size: ASan sees any overrun */
	FUZZ_CHECK(buf != NULL, "out of memory");
	size_t n = frep_envelope_request_pack(&f, buf);
	FUZZ_CHECK(n == size, "request_pack wrote %zu bytes, request_size said %zu", n, size);

	Frep__Rpc__V1__Request *back = NULL;
	FUZZ_CHECK(frep_envelope_request_unpack(buf, n, &back, &st) == FREP_OK,
	    "a packed request does not decode: %s", st.message);
	FUZZ_CHECK(strcmp(back->method, req->method) == 0, "method");
	FUZZ_CHECK(back->timeout_ms == req->timeout_ms, "timeout_ms");
	FUZZ_CHECK(back->call_id == req->call_id, "call_id");
	FUZZ_CHECK(back->n_metadata == req->n_metadata, "n_metadata %zu, was %zu", back->n_metadata,
	    req->n_metadata);
	for (size_t i = 0; i < req->n_metadata; i++) {
		FUZZ_CHECK(strcmp(back->metadata[i]->key, md[i].key) == 0, "metadata[%zu].key", i);
		FUZZ_CHECK(
		    strcmp(back->metadata[i]->value, md[i].value) == 0, "metadata[%zu].value", i);
	}
	uint8_t *want;
	size_t   want_len;
	expected_payload(payload, &want, &want_len);
	check_bytes(&back->payload, want, want_len, "request payload");

	/* Packing what came back gives the same bytes: the encoding is canonical. */
	f.method = back->method;
	for (size_t i = 0; i < back->n_metadata; i++) {
		md[i].key   = back->metadata[i]->key;
		md[i].value = back->metadata[i]->value;
	}
	ProtobufCMessage *payload2 = payload_message(&back->payload);
	/* protobuf-c 1.4 accepts field number 0 behind an overlong tag
	 * ("80 00") but not in the canonical one-byte tag its pack writes, so
	 * such a payload does not decode a second time: not the envelope's
	 * business, nothing to compare. */
	if (payload == NULL || payload2 != NULL) {
		f.payload     = payload2;
		uint8_t *buf2 = malloc(size + 1);
		FUZZ_CHECK(buf2 != NULL, "out of memory");
		FUZZ_CHECK(
		    frep_envelope_request_size(&f) == size, "size of the re-decoded request");
		FUZZ_CHECK(
		    frep_envelope_request_pack(&f, buf2) == size && memcmp(buf, buf2, size) == 0,
		    "second pack differs");
		free(buf2);
	}
	protobuf_c_message_free_unpacked(payload2, NULL);
	free(want);
	frep__rpc__v1__request__free_unpacked(back, NULL);
	free(buf);
	free(md);
	protobuf_c_message_free_unpacked(payload, NULL);
}

static void
response_round_trip(const Frep__Rpc__V1__Response *resp)
{
	frep_status          st;
	ProtobufCMessage    *payload = payload_message(&resp->payload);
	frep_response_fields f       = {
		  .code    = (frep_code) resp->code,
		  .message = resp->message,
		  .payload = payload,
		  .call_id = resp->call_id,
        };
	size_t   size = frep_envelope_response_size(&f);
	uint8_t *buf  = malloc(size + 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	size_t n = frep_envelope_response_pack(&f, buf);
	FUZZ_CHECK(n == size, "response_pack wrote %zu bytes, response_size said %zu", n, size);

	Frep__Rpc__V1__Response *back = NULL;
	FUZZ_CHECK(frep_envelope_response_unpack(buf, n, &back, &st) == FREP_OK,
	    "a packed response does not decode: %s", st.message);
	FUZZ_CHECK(back->code == resp->code, "code %d back, %d packed", (int) back->code,
	    (int) resp->code);
	FUZZ_CHECK(strcmp(back->message, resp->message) == 0, "message");
	FUZZ_CHECK(back->call_id == resp->call_id, "call_id");
	FUZZ_CHECK(back->n_details == 0, "details are never packed");
	uint8_t *want     = NULL;
	size_t   want_len = 0;
	if (f.code == FREP_OK) {
		expected_payload(payload, &want, &want_len);
	}
	check_bytes(&back->payload, want, want_len, "response payload");

	free(want);
	frep__rpc__v1__response__free_unpacked(back, NULL);
	free(buf);
	protobuf_c_message_free_unpacked(payload, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	frep_status st;

	Frep__Rpc__V1__Request *req = NULL;
	if (frep_envelope_request_unpack(data, size, &req, &st) == FREP_OK) {
		FUZZ_CHECK(req != NULL, "OK without a request");
		(void) frep_envelope_metadata_get(req, "authorization");
		request_round_trip(req);
		frep__rpc__v1__request__free_unpacked(req, NULL);
	} else {
		FUZZ_CHECK(req == NULL, "a failed unpack left *out set");
		FUZZ_CHECK(st.code == FREP_INVALID_ARGUMENT, "unpack failed with %s",
		    frep_code_name(st.code));
	}

	Frep__Rpc__V1__Response *resp = NULL;
	if (frep_envelope_response_unpack(data, size, &resp, &st) == FREP_OK) {
		response_round_trip(resp);
		frep__rpc__v1__response__free_unpacked(resp, NULL);
	} else {
		FUZZ_CHECK(resp == NULL, "a failed unpack left *out set");
	}

	/* The zero-copy views the server and client decode with: whatever
	 * they accept, protobuf-c accepts too, with the same fields. */
	frep_request_view v;
	if (frep_envelope_request_view(data, size, &v, &st) == FREP_OK) {
		Frep__Rpc__V1__Request *r = frep__rpc__v1__request__unpack(NULL, size, data);
		FUZZ_CHECK(r != NULL, "the request view accepted what protobuf-c refuses");
		FUZZ_CHECK(strcmp(r->method, v.method) == 0, "view method differs");
		FUZZ_CHECK(r->timeout_ms == v.timeout_ms && r->call_id == v.call_id,
		    "view scalars differ");
		FUZZ_CHECK(r->payload.len == v.payload_len &&
			       (v.payload_len == 0 ||
				   memcmp(r->payload.data, v.payload, v.payload_len) == 0),
		    "view payload differs");
		FUZZ_CHECK(r->n_metadata == v.n_metadata, "view metadata count differs");
		for (size_t i = 0; i < v.n_metadata; i++) {
			FUZZ_CHECK(strcmp(r->metadata[i]->key, v.metadata[i].key) == 0 &&
				       strcmp(r->metadata[i]->value, v.metadata[i].value) == 0,
			    "view metadata %zu differs", i);
		}
		frep__rpc__v1__request__free_unpacked(r, NULL);
		frep_envelope_request_view_fini(&v);
	}
	frep_response_view rv;
	if (frep_envelope_response_view(data, size, &rv, &st) == FREP_OK) {
		Frep__Rpc__V1__Response *r = frep__rpc__v1__response__unpack(NULL, size, data);
		FUZZ_CHECK(r != NULL, "the response view accepted what protobuf-c refuses");
		FUZZ_CHECK((int32_t) r->code == rv.code && r->call_id == rv.call_id,
		    "response view scalars differ");
		FUZZ_CHECK(r->payload.len == rv.payload_len, "response view payload differs");
		frep__rpc__v1__response__free_unpacked(r, NULL);
	}
	return 0;
}
