/*
 * frep_envelope: the frep.rpc.v1 envelope in C, shared by server and clients.
 *
 * Packing writes the envelope with the method's message packed in place (no
 * intermediate payload buffer): call *_size() first, allocate that many
 * bytes (an nng message body, say), then *_pack() into it. Unpacking uses
 * protobuf-c's generated decoder and turns its NULL into a status.
 * Nothing here does I/O; all functions are thread-safe.
 */
#ifndef FREP_PROTO_FREP_ENVELOPE_H
#define FREP_PROTO_FREP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep/rpc/v1/envelope.pb-c.h"
#include "frep_status.h"

#ifndef FREP_METADATA_DEFINED
#define FREP_METADATA_DEFINED
typedef struct frep_metadata {
	const char *key;
	const char *value;
} frep_metadata;
#endif

/* Request fields; payload may be NULL (an empty message). */
typedef struct frep_request_fields {
	const char             *method;
	const ProtobufCMessage *payload;
	uint32_t                timeout_ms;
	const frep_metadata    *metadata;
	size_t                  n_metadata;
	uint64_t                call_id;
} frep_request_fields;

/* Response fields; payload is packed only when code is FREP_OK. */
typedef struct frep_response_fields {
	frep_code               code;
	const char             *message;
	const ProtobufCMessage *payload;
	uint64_t                call_id;
} frep_response_fields;

/* Exact encoded size of the envelope. */
size_t frep_envelope_request_size(const frep_request_fields *f);
size_t frep_envelope_response_size(const frep_response_fields *f);

/* Packs into out, which holds at least *_size(f) bytes; returns the bytes
 * written (equal to *_size(f)). */
size_t frep_envelope_request_pack(const frep_request_fields *f, uint8_t *out);
size_t frep_envelope_response_pack(const frep_response_fields *f, uint8_t *out);

/* Decodes an envelope. On success *out is owned by the caller (free with
 * frep__rpc__v1__request__free_unpacked(*out, NULL)); on failure returns
 * INVALID_ARGUMENT and *out is NULL. */
frep_code frep_envelope_request_unpack(
    const uint8_t *data, size_t len, Frep__Rpc__V1__Request **out, frep_status *st);
frep_code frep_envelope_response_unpack(
    const uint8_t *data, size_t len, Frep__Rpc__V1__Response **out, frep_status *st);

/* Zero-copy views, for the hot path: the payload stays in the received
 * buffer (which must outlive the view) instead of being copied. */

#define FREP_ENVELOPE_MAX_METADATA 64

typedef struct frep_request_view {
	const char    *method;  /* NUL-terminated, in text */
	const uint8_t *payload; /* borrowed from the decoded buffer */
	size_t         payload_len;
	uint32_t       timeout_ms;
	uint64_t       call_id;
	size_t         n_metadata;
	frep_metadata  metadata[FREP_ENVELOPE_MAX_METADATA]; /* strings in text */
	char          *text; /* one allocation holding every string */
} frep_request_view;

/* Decodes a Request envelope into *v without copying the payload.
 * INVALID_ARGUMENT (naming the byte offset) for malformed input, more than
 * FREP_ENVELOPE_MAX_METADATA pairs, or NUL bytes inside strings;
 * RESOURCE_EXHAUSTED when out of memory. On success release v with
 * frep_envelope_request_view_fini; on failure nothing is held. */
frep_code frep_envelope_request_view(
    const uint8_t *data, size_t len, frep_request_view *v, frep_status *st);
void frep_envelope_request_view_fini(frep_request_view *v);

/* First value of metadata key in a view, or NULL. */
const char *frep_envelope_view_metadata_get(const frep_request_view *v, const char *key);

typedef struct frep_response_view {
	int32_t        code;
	const char    *message; /* borrowed, NOT NUL-terminated */
	size_t         message_len;
	const uint8_t *payload; /* borrowed */
	size_t         payload_len;
	uint64_t       call_id;
} frep_response_view;

/* Decodes a Response envelope into *v, borrowing from data (no allocation).
 * INTERNAL for malformed input. */
frep_code frep_envelope_response_view(
    const uint8_t *data, size_t len, frep_response_view *v, frep_status *st);

/* First value of metadata key in a decoded request, or NULL. */
const char *frep_envelope_metadata_get(const Frep__Rpc__V1__Request *req, const char *key);

#endif /* FREP_PROTO_FREP_ENVELOPE_H */
