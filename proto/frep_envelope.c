#include "frep_envelope.h"

#include <string.h>

/* Wire types of the protobuf encoding. */
#define WT_VARINT 0
#define WT_LEN 2

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t) v;
	return n;
}

static size_t
tag_size(unsigned field)
{
	return varint_size((uint64_t) field << 3);
}

static size_t
tag_put(uint8_t *out, unsigned field, unsigned wt)
{
	return varint_put(out, ((uint64_t) field << 3) | wt);
}

/* Size of a length-delimited field holding len bytes. */
static size_t
len_field_size(unsigned field, size_t len)
{
	return tag_size(field) + varint_size(len) + len;
}

static size_t
bytes_put(uint8_t *out, unsigned field, const void *data, size_t len)
{
	size_t n = tag_put(out, field, WT_LEN);
	n += varint_put(out + n, len);
	if (len > 0) {
		memcpy(out + n, data, len);
	}
	return n + len;
}

static size_t
string_field_size(unsigned field, const char *s)
{
	size_t len = s == NULL ? 0 : strlen(s);
	return len == 0 ? 0 : len_field_size(field, len);
}

static size_t
string_put(uint8_t *out, unsigned field, const char *s)
{
	size_t len = s == NULL ? 0 : strlen(s);
	return len == 0 ? 0 : bytes_put(out, field, s, len);
}

static size_t
varint_field_size(unsigned field, uint64_t v)
{
	return v == 0 ? 0 : tag_size(field) + varint_size(v);
}

static size_t
varint_field_put(uint8_t *out, unsigned field, uint64_t v)
{
	if (v == 0) {
		return 0;
	}
	size_t n = tag_put(out, field, WT_VARINT);
	return n + varint_put(out + n, v);
}

static size_t
payload_len(const ProtobufCMessage *m)
{
	return m == NULL ? 0 : protobuf_c_message_get_packed_size(m);
}

/* The payload field, packed in place: tag, length, then the message. */
static size_t
payload_put(uint8_t *out, unsigned field, const ProtobufCMessage *m, size_t len)
{
	if (len == 0) {
		return 0;
	}
	size_t n = tag_put(out, field, WT_LEN);
	n += varint_put(out + n, len);
	return n + protobuf_c_message_pack(m, out + n);
}

static size_t
metadata_len(const frep_metadata *md)
{
	return string_field_size(1, md->key) + string_field_size(2, md->value);
}

size_t
frep_envelope_request_size(const frep_request_fields *f)
{
	size_t n  = string_field_size(1, f->method);
	size_t pl = payload_len(f->payload);
	if (pl > 0) {
		n += len_field_size(2, pl);
	}
	n += varint_field_size(3, f->timeout_ms);
	for (size_t i = 0; i < f->n_metadata; i++) {
		n += len_field_size(4, metadata_len(&f->metadata[i]));
	}
	n += varint_field_size(5, f->call_id);
	return n;
}

size_t
frep_envelope_request_pack(const frep_request_fields *f, uint8_t *out)
{
	size_t n = string_put(out, 1, f->method);
	n += payload_put(out + n, 2, f->payload, payload_len(f->payload));
	n += varint_field_put(out + n, 3, f->timeout_ms);
	for (size_t i = 0; i < f->n_metadata; i++) {
		const frep_metadata *md = &f->metadata[i];
		n += tag_put(out + n, 4, WT_LEN);
		n += varint_put(out + n, metadata_len(md));
		n += string_put(out + n, 1, md->key);
		n += string_put(out + n, 2, md->value);
	}
	n += varint_field_put(out + n, 5, f->call_id);
	return n;
}

size_t
frep_envelope_response_size(const frep_response_fields *f)
{
	size_t n = varint_field_size(1, (uint64_t) f->code);
	n += string_field_size(2, f->message);
	if (f->code == FREP_OK) {
		size_t pl = payload_len(f->payload);
		if (pl > 0) {
			n += len_field_size(3, pl);
		}
	}
	n += varint_field_size(5, f->call_id);
	return n;
}

size_t
frep_envelope_response_pack(const frep_response_fields *f, uint8_t *out)
{
	size_t n = varint_field_put(out, 1, (uint64_t) f->code);
	n += string_put(out + n, 2, f->message);
	if (f->code == FREP_OK) {
		n += payload_put(out + n, 3, f->payload, payload_len(f->payload));
	}
	n += varint_field_put(out + n, 5, f->call_id);
	return n;
}

frep_code
frep_envelope_request_unpack(
    const uint8_t *data, size_t len, Frep__Rpc__V1__Request **out, frep_status *st)
{
	*out = frep__rpc__v1__request__unpack(NULL, len, data);
	if (*out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "envelope: %zu bytes do not decode as frep.rpc.v1.Request", len);
	}
	return FREP_OK;
}

frep_code
frep_envelope_response_unpack(
    const uint8_t *data, size_t len, Frep__Rpc__V1__Response **out, frep_status *st)
{
	*out = frep__rpc__v1__response__unpack(NULL, len, data);
	if (*out == NULL) {
		return frep_status_set(st, FREP_INTERNAL,
		    "envelope: %zu bytes do not decode as frep.rpc.v1.Response", len);
	}
	return FREP_OK;
}

const char *
frep_envelope_metadata_get(const Frep__Rpc__V1__Request *req, const char *key)
{
	for (size_t i = 0; i < req->n_metadata; i++) {
		if (req->metadata[i]->key != NULL && strcmp(req->metadata[i]->key, key) == 0) {
			return req->metadata[i]->value;
		}
	}
	return NULL;
}
