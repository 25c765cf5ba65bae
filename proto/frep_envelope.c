#include "frep_envelope.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Wire types of the protobuf encoding. */
#define WT_VARINT 0
#define WT_LEN    2

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

/* --- zero-copy views ----------------------------------------------------- */

typedef struct reader {
	const uint8_t *p;
	size_t         len;
	size_t         off;
} reader;

static int
read_varint(reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->off >= r->len) {
			return -1;
		}
		uint8_t b = r->p[r->off++];
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1; /* more than 10 bytes */
}

/* A length-delimited field's bytes. */
static int
read_bytes(reader *r, const uint8_t **data, size_t *n)
{
	/* A length is a 32-bit varint (at most 5 bytes), as protobuf-c reads
	 * it. */
	size_t   start = r->off;
	uint64_t len;
	if (read_varint(r, &len) != 0 || r->off - start > 5 || len > UINT32_MAX ||
	    len > r->len - r->off) {
		return -1;
	}
	*data = r->p + r->off;
	*n    = (size_t) len;
	r->off += (size_t) len;
	return 0;
}

/* Skips a field of an unknown number. Groups (wire types 3, 4) are not
 * proto3 and are refused. */
static int
skip_field(reader *r, unsigned wt)
{
	uint64_t       v;
	const uint8_t *d;
	size_t         n;
	switch (wt) {
	case 0:
		return read_varint(r, &v);
	case 1:
		if (r->len - r->off < 8) {
			return -1;
		}
		r->off += 8;
		return 0;
	case 2:
		return read_bytes(r, &d, &n);
	case 5:
		if (r->len - r->off < 4) {
			return -1;
		}
		r->off += 4;
		return 0;
	default:
		return -1;
	}
}

static int
read_tag(reader *r, uint32_t *field, unsigned *wt)
{
	/* A tag is a 32-bit varint: at most 5 bytes, as protobuf-c reads it
	 * (a longer, zero-padded encoding is refused there too). */
	size_t   start = r->off;
	uint64_t t;
	if (read_varint(r, &t) != 0 || r->off - start > 5 || (t >> 3) == 0 ||
	    (t >> 3) > 0x1fffffff) {
		return -1;
	}
	*field = (uint32_t) (t >> 3);
	*wt    = (unsigned) (t & 7);
	return 0;
}

/* A message whose fields 1..n_len are length-delimited and the rest
 * skippable: true if it parses. */
static bool
well_formed(const uint8_t *p, size_t n, uint32_t n_len)
{
	reader   r = {.p = p, .len = n};
	uint32_t field;
	unsigned wt;
	while (r.off < r.len) {
		const uint8_t *d;
		size_t         dn;
		if (read_tag(&r, &field, &wt) != 0) {
			return false;
		}
		if (field <= n_len ? (wt != 2 || read_bytes(&r, &d, &dn) != 0)
				   : skip_field(&r, wt) != 0) {
			return false;
		}
	}
	return true;
}

typedef struct span {
	const uint8_t *p;
	size_t         n;
} span;

/* Copies a span as a NUL-terminated string at t; returns the next free byte.
 * (memcpy from a NULL pointer is undefined even for 0 bytes.) */
static char *
put_text(char *t, span sp, const char **out)
{
	if (sp.n > 0) {
		memcpy(t, sp.p, sp.n);
	}
	t[sp.n] = '\0';
	*out    = t;
	return t + sp.n + 1;
}

static int
no_nul(span s)
{
	return s.n == 0 || memchr(s.p, 0, s.n) == NULL;
}

frep_code
frep_envelope_request_view(const uint8_t *data, size_t len, frep_request_view *v, frep_status *st)
{
	reader   r      = {.p = data, .len = len};
	span     method = {0};
	span     keys[FREP_ENVELOPE_MAX_METADATA], vals[FREP_ENVELOPE_MAX_METADATA];
	size_t   text = 0;
	uint32_t field;
	unsigned wt;
	uint64_t u;

	memset(v, 0, sizeof(*v));
	while (r.off < r.len) {
		size_t at = r.off;
		if (read_tag(&r, &field, &wt) != 0) {
			goto bad;
		}
		if (field == 1 && wt == 2) {
			if (read_bytes(&r, &method.p, &method.n) != 0) {
				goto bad;
			}
		} else if (field == 2 && wt == 2) {
			if (read_bytes(&r, &v->payload, &v->payload_len) != 0) {
				goto bad;
			}
		} else if (field == 3 && wt == 0) {
			if (read_varint(&r, &u) != 0) {
				goto bad;
			}
			v->timeout_ms = (uint32_t) u;
		} else if (field == 5 && wt == 0) {
			if (read_varint(&r, &v->call_id) != 0) {
				goto bad;
			}
		} else if (field == 4 && wt == 2) {
			const uint8_t *m;
			size_t         mn;
			if (read_bytes(&r, &m, &mn) != 0) {
				goto bad;
			}
			if (v->n_metadata == FREP_ENVELOPE_MAX_METADATA) {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "envelope: more than %d metadata pairs",
				    FREP_ENVELOPE_MAX_METADATA);
			}
			span   k = {0}, val = {0};
			reader sub = {.p = m, .len = mn};
			while (sub.off < sub.len) {
				if (read_tag(&sub, &field, &wt) != 0) {
					goto bad;
				}
				if (field == 1 && wt == 2) {
					if (read_bytes(&sub, &k.p, &k.n) != 0) {
						goto bad;
					}
				} else if (field == 2 && wt == 2) {
					if (read_bytes(&sub, &val.p, &val.n) != 0) {
						goto bad;
					}
				} else if (field <= 2 || skip_field(&sub, wt) != 0) {
					goto bad;
				}
			}
			keys[v->n_metadata]   = k;
			vals[v->n_metadata++] = val;
			text += k.n + val.n + 2;
		} else if (field <= 5 || skip_field(&r, wt) != 0) {
			/* A known field with the wrong wire type, or an unknown
			 * field that cannot be skipped. */
			r.off = at;
			goto bad;
		}
	}
	if (!no_nul(method)) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "envelope: method holds a NUL byte");
	}
	for (size_t i = 0; i < v->n_metadata; i++) {
		if (!no_nul(keys[i]) || !no_nul(vals[i])) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "envelope: metadata pair %zu holds a NUL byte", i);
		}
	}
	text += method.n + 1;
	if ((v->text = malloc(text)) == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	char *t = put_text(v->text, method, &v->method);
	for (size_t i = 0; i < v->n_metadata; i++) {
		t = put_text(t, keys[i], &v->metadata[i].key);
		t = put_text(t, vals[i], &v->metadata[i].value);
	}
	return FREP_OK;

bad:
	return frep_status_set(st, FREP_INVALID_ARGUMENT,
	    "envelope: %zu bytes do not decode as frep.rpc.v1.Request (at byte %zu)", len, r.off);
}

void
frep_envelope_request_view_fini(frep_request_view *v)
{
	if (v != NULL) {
		free(v->text);
		v->text       = NULL;
		v->method     = NULL;
		v->n_metadata = 0;
	}
}

const char *
frep_envelope_view_metadata_get(const frep_request_view *v, const char *key)
{
	for (size_t i = 0; i < v->n_metadata; i++) {
		if (strcmp(v->metadata[i].key, key) == 0) {
			return v->metadata[i].value;
		}
	}
	return NULL;
}

frep_code
frep_envelope_response_view(const uint8_t *data, size_t len, frep_response_view *v, frep_status *st)
{
	reader   r = {.p = data, .len = len};
	uint32_t field;
	unsigned wt;
	uint64_t u;

	memset(v, 0, sizeof(*v));
	while (r.off < r.len) {
		if (read_tag(&r, &field, &wt) != 0) {
			goto bad;
		}
		if (field == 1 && wt == 0) {
			if (read_varint(&r, &u) != 0) {
				goto bad;
			}
			v->code = (int32_t) u;
		} else if (field == 2 && wt == 2) {
			const uint8_t *m;
			if (read_bytes(&r, &m, &v->message_len) != 0) {
				goto bad;
			}
			v->message = (const char *) m;
		} else if (field == 3 && wt == 2) {
			if (read_bytes(&r, &v->payload, &v->payload_len) != 0) {
				goto bad;
			}
		} else if (field == 5 && wt == 0) {
			if (read_varint(&r, &v->call_id) != 0) {
				goto bad;
			}
		} else if (field == 4 && wt == 2) {
			/* Details are not used, but must be well formed. */
			const uint8_t *d;
			size_t         dn;
			if (read_bytes(&r, &d, &dn) != 0 || !well_formed(d, dn, 2)) {
				goto bad;
			}
		} else if (field <= 5 || skip_field(&r, wt) != 0) {
			goto bad;
		}
	}
	return FREP_OK;

bad:
	return frep_status_set(st, FREP_INTERNAL,
	    "envelope: %zu bytes do not decode as frep.rpc.v1.Response (at byte %zu)", len, r.off);
}
