/*
 * frep_json: any protobuf-c message to and from JSON, walked from its
 * descriptor (ProtobufCMessageDescriptor), over jansson. Generic: it knows
 * no frep.v1 message. Shared by frepd's HTTP endpoint (the Connect
 * protocol) and frepctl (--json, call).
 *
 * The default (options NULL) is proto3's canonical JSON mapping, as
 * protoc's json_format writes it: fields by their lowerCamelCase JSON name,
 * fields at their default value omitted, enums by name, bytes as base64,
 * 64-bit integers as strings. Parsing accepts the JSON name or the
 * original name of each field, enum names or numbers, 64-bit integers as
 * numbers or strings, base64 with or without padding (standard or URL
 * alphabet), and null for "default". Maps and well-known types are not
 * handled (the frep contract has none).
 *
 * Thread-safe; no global state.
 */
#ifndef FREP_PROTO_FREP_JSON_H
#define FREP_PROTO_FREP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

/* Writing flags (frepctl's people-oriented JSON uses all but the last). */
enum {
	FREP_JSON_ORIGINAL_NAMES = 1u << 0, /* "scope_id", not "scopeId" */
	FREP_JSON_EMIT_DEFAULTS  = 1u << 1, /* proto3 scalars at zero, empty lists */
	FREP_JSON_INT64_NUMBERS  = 1u << 2, /* 64-bit integers as numbers when exact */
	FREP_JSON_BYTES_HEX      = 1u << 3, /* bytes as lower-case hex, not base64 */
};

typedef struct frep_json_options {
	unsigned flags;
	/* Returns true for a field never to be written (a secret). May be NULL. */
	bool (*skip_field)(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f);
	/* Writes an enum value's name into buf and returns it (or NULL for the
	 * value's own name). May be NULL. */
	const char *(*enum_name)(
	    const ProtobufCEnumDescriptor *ed, int value, char *buf, size_t size);
} frep_json_options;

/* Builds the JSON of msg (options NULL: canonical proto3 JSON). Returns a new
 * reference, NULL only when out of memory. */
json_t *frep_json_from_message(const ProtobufCMessage *msg, const frep_json_options *opts);

/* Builds a message of type md from the JSON value j (an object). On success
 * *out is the caller's (free with protobuf_c_message_free_unpacked(*out,
 * NULL)). INVALID_ARGUMENT naming the field's path ("scope.options[2].code")
 * and the value for an unknown field, a value of the wrong type or out of
 * range, two members of one oneof; RESOURCE_EXHAUSTED when out of memory.
 * On failure *out is NULL. */
frep_code frep_json_to_message(
    const ProtobufCMessageDescriptor *md, const json_t *j, ProtobufCMessage **out, frep_status *st);

/* Parses text (len bytes, not necessarily NUL-terminated) as JSON and then
 * as frep_json_to_message. Text that is not JSON is INVALID_ARGUMENT naming
 * the line, column and jansson's reason. */
frep_code frep_json_parse_message(const ProtobufCMessageDescriptor *md, const char *text,
    size_t len, ProtobufCMessage **out, frep_status *st);

/* As frep_json_parse_message, with the message's memory taken from
 * allocator (NULL: the system's), so that a caller can bound it; free *out
 * with protobuf_c_message_free_unpacked(*out, allocator). An allocation
 * that fails is RESOURCE_EXHAUSTED. */
frep_code frep_json_parse_message_with(const ProtobufCMessageDescriptor *md, const char *text,
    size_t len, ProtobufCAllocator *allocator, ProtobufCMessage **out, frep_status *st);

/* The proto3 JSON name of a field ("scope_id" -> "scopeId") into buf. */
const char *frep_json_field_name(const ProtobufCFieldDescriptor *f, char *buf, size_t size);

#endif /* FREP_PROTO_FREP_JSON_H */
