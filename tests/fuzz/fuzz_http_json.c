/*
 * fuzz_http_json: the HTTP endpoint's JSON path without sockets.
 *
 * Input: byte 0 picks a method (fuzz_methods.h order, modulo their count);
 * the rest is a JSON request body for it. As http_endpoint.c's handler
 * does, the body goes through rpc_http_json_decode (jansson and frep_json
 * under the per-call memory budget). Invariants:
 *   - the status is OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED, with a
 *     message that is valid UTF-8 (the endpoint writes it into its JSON
 *     answer: jansson refuses anything else) and names the message type;
 *   - the budget is never exceeded by what was counted, and a refusal for
 *     memory is reported as RESOURCE_EXHAUSTED, never as bad JSON;
 *   - a decoded message passes rpc_payload_check_text (what the server
 *     checks on the wire: every string valid UTF-8, no NUL), packs, and
 *     writes back as JSON (frep_json_from_message, what a reply does) that
 *     decodes again to the same bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frep_json.h"
#include "fuzz_check.h"
#include "fuzz_methods.h"
#include "http_endpoint.h"
#include "payload_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	*len       = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(*len + 1);
	FUZZ_CHECK(p != NULL, "out of memory");
	FUZZ_CHECK(protobuf_c_message_pack(m, p) == *len, "pack size");
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor  *m = fuzz_method_at(data[0] % fuzz_method_count(), &svc);
	const ProtobufCMessageDescriptor *d = m->input;
	const char                       *body = (const char *) data + 1;
	size_t                            len  = size - 1;

	rpc_http_json_budget jb;
	ProtobufCMessage    *in = NULL;
	frep_status          st;
	frep_code            rc = rpc_http_json_decode(d, body, len, &jb, &in, &st);
	FUZZ_CHECK(jb.used <= jb.limit, "%zu bytes used, budget %zu", jb.used, jb.limit);
	if (rc != FREP_OK) {
		FUZZ_CHECK(in == NULL, "a refusal returned a message");
		FUZZ_CHECK(st.code == rc, "returned %s, status says %s", frep_code_name(rc),
		    frep_code_name(st.code));
		FUZZ_CHECK(rc == FREP_INVALID_ARGUMENT || rc == FREP_RESOURCE_EXHAUSTED, "%s: %s",
		    frep_code_name(rc), st.message);
		FUZZ_CHECK(rc != FREP_RESOURCE_EXHAUSTED || jb.exceeded,
		    "RESOURCE_EXHAUSTED within the budget: %s", st.message);
		FUZZ_CHECK(rc != FREP_INVALID_ARGUMENT || !jb.exceeded,
		    "over the budget but INVALID_ARGUMENT: %s", st.message);
		size_t ml = strlen(st.message);
		FUZZ_CHECK(frep_utf8_valid_prefix((const uint8_t *) st.message, ml) == ml,
		    "message not UTF-8: %s", st.message);
		FUZZ_CHECK(rc != FREP_INVALID_ARGUMENT || strstr(st.message, d->name) != NULL,
		    "message does not name %s: %s", d->name, st.message);
		return 0;
	}
	FUZZ_CHECK(in != NULL && in->descriptor == d, "OK without a %s", d->name);

	size_t      n1;
	uint8_t    *p1 = pack(in, &n1);
	frep_status cst;
	FUZZ_CHECK(rpc_payload_check_text(d, p1, n1, &cst) == FREP_OK,
	    "decoded JSON fails the wire's text check: %s", cst.message);

	/* What a reply of this message would be, and back. */
	json_t *j = frep_json_from_message(in, NULL);
	FUZZ_CHECK(j != NULL, "the message does not write as JSON");
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	FUZZ_CHECK(text != NULL, "the message's JSON does not dump");
	ProtobufCMessage *again = NULL;
	frep_status       ast;
	FUZZ_CHECK(frep_json_parse_message(d, text, strlen(text), &again, &ast) == FREP_OK,
	    "its own JSON does not parse back: %s: %s", ast.message, text);
	size_t   n2;
	uint8_t *p2 = pack(again, &n2);
	FUZZ_CHECK(
	    n1 == n2 && memcmp(p1, p2, n1) == 0, "JSON round trip changed the message: %s", text);
	free(p2);
	protobuf_c_message_free_unpacked(again, NULL);
	free(text);
	free(p1);
	protobuf_c_message_free_unpacked(in, &jb.base);
	return 0;
}
