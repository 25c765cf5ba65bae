/*
 * frep_json: protobuf-c messages <-> JSON from their descriptors (see
 * frep_json.h). Hand-written because protobuf-c has no JSON support; jansson
 * does the JSON itself.
 */
#include "frep_json.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64
#define PATH_MAX_LEN   256

/* --- shared helpers ------------------------------------------------------ */

const char *
frep_json_field_name(const ProtobufCFieldDescriptor *f, char *buf, size_t size)
{
	/* protoc's ToJsonName: drop each '_' and upper-case the letter after it. */
	size_t n     = 0;
	bool   upper = false;
	for (const char *p = f->name; *p != '\0' && n + 1 < size; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		buf[n++] = upper ? (char) toupper((unsigned char) *p) : *p;
		upper    = false;
	}
	buf[n] = '\0';
	return buf;
}

/* The element size of a field's C storage, by type. */
static size_t
element_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* --- writing ------------------------------------------------------------- */

static json_t *message_json(const ProtobufCMessage *msg, const frep_json_options *o);

static json_t *
bytes_json(const ProtobufCBinaryData *b, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	size_t cap = (flags & FREP_JSON_BYTES_HEX) ? b->len * 2 + 1 : (b->len + 2) / 3 * 4 + 1;
	char  *s   = malloc(cap);
	size_t n   = 0;
	if (s == NULL) {
		return NULL;
	}
	if (flags & FREP_JSON_BYTES_HEX) {
		for (size_t i = 0; i < b->len; i++) {
			s[n++] = hex[b->data[i] >> 4];
			s[n++] = hex[b->data[i] & 15];
		}
	} else {
		for (size_t i = 0; i < b->len; i += 3) {
			uint32_t v = (uint32_t) b->data[i] << 16;
			if (i + 1 < b->len) {
				v |= (uint32_t) b->data[i + 1] << 8;
			}
			if (i + 2 < b->len) {
				v |= b->data[i + 2];
			}
			s[n++] = b64_std[(v >> 18) & 63];
			s[n++] = b64_std[(v >> 12) & 63];
			s[n++] = i + 1 < b->len ? b64_std[(v >> 6) & 63] : '=';
			s[n++] = i + 2 < b->len ? b64_std[v & 63] : '=';
		}
	}
	s[n]      = '\0';
	json_t *j = json_string(s);
	free(s);
	return j;
}

static json_t *
int64_json(int64_t v, unsigned flags)
{
	if (flags & FREP_JSON_INT64_NUMBERS) {
		return json_integer((json_int_t) v);
	}
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

static json_t *
double_json(double v)
{
	if (isnan(v)) {
		return json_string("NaN");
	}
	if (isinf(v)) {
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	}
	return json_real(v);
}

/* One value of field f stored at p. */
static json_t *
value_json(const ProtobufCFieldDescriptor *f, const void *p, const frep_json_options *o)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *) p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *) p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return int64_json(*(const int64_t *) p, o->flags);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *) p;
		/* json_int_t is signed: beyond its range, text keeps the value exact. */
		if ((o->flags & FREP_JSON_INT64_NUMBERS) && v <= (uint64_t) INT64_MAX) {
			return json_integer((json_int_t) v);
		}
		char buf[24];
		snprintf(buf, sizeof(buf), "%" PRIu64, v);
		return json_string(buf);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return double_json(*(const float *) p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_json(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) p);
	case PROTOBUF_C_TYPE_ENUM: {
		int                       v = *(const int *) p;
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev == NULL) {
			return json_integer(v); /* a value newer than this build */
		}
		if (o->enum_name != NULL) {
			char        buf[128];
			const char *name = o->enum_name(f->descriptor, v, buf, sizeof(buf));
			if (name != NULL) {
				return json_string(name);
			}
		}
		return json_string(ev->name);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		/* json_string refuses invalid UTF-8; the raw bytes still show. */
		json_t *j = json_string(s != NULL ? s : "");
		if (j == NULL) {
			ProtobufCBinaryData b = {.len = strlen(s), .data = (uint8_t *) s};
			j                     = bytes_json(&b, FREP_JSON_BYTES_HEX);
		}
		return j;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json((const ProtobufCBinaryData *) p, o->flags);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
		return m != NULL ? message_json(m, o) : json_null();
	}
	}
	return json_null();
}

/* True when a proto3 field without presence holds its default. */
static bool
value_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return *(const uint32_t *) p == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *) p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *) p == 0 && !signbit(*(const float *) p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *) p == 0 && !signbit(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *) p;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *) p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *) p == NULL;
	}
	return true;
}

static json_t *
message_json(const ProtobufCMessage *msg, const frep_json_options *o)
{
	const ProtobufCMessageDescriptor *md   = msg->descriptor;
	const char                       *base = (const char *) msg;
	bool                              all  = (o->flags & FREP_JSON_EMIT_DEFAULTS) != 0;
	json_t                           *obj  = json_object();
	if (obj == NULL) {
		return NULL;
	}
	for (unsigned i = 0; i < md->n_fields; i++) {
		const ProtobufCFieldDescriptor *f     = &md->fields[i];
		const void                     *p     = base + f->offset;
		json_t                         *value = NULL;
		if (o->skip_field != NULL && o->skip_field(md, f)) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t      n    = *(const size_t *) (base + f->quantifier_offset);
			const char *arr  = *(char *const *) p;
			size_t      size = element_size(f);
			if (n == 0 && !all) {
				continue;
			}
			value = json_array();
			for (size_t k = 0; k < n && value != NULL; k++) {
				json_array_append_new(value, value_json(f, arr + k * size, o));
			}
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *) (base + f->quantifier_offset) != f->id) {
				continue;
			}
			value = value_json(f, p, o);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE &&
			   f->type != PROTOBUF_C_TYPE_STRING) {
			/* proto3 optional (or proto2) scalar: present only with has_. */
			if (!*(const protobuf_c_boolean *) (base + f->quantifier_offset)) {
				continue;
			}
			value = value_json(f, p, o);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			   *(ProtobufCMessage *const *) p == NULL) {
			continue;
		} else {
			if (!all && value_is_default(f, p)) {
				continue;
			}
			value = value_json(f, p, o);
		}
		char        jname[128];
		const char *key = (o->flags & FREP_JSON_ORIGINAL_NAMES)
				      ? f->name
				      : frep_json_field_name(f, jname, sizeof(jname));
		if (value == NULL || json_object_set_new(obj, key, value) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *
frep_json_from_message(const ProtobufCMessage *msg, const frep_json_options *opts)
{
	static const frep_json_options canonical = {0};
	return message_json(msg, opts != NULL ? opts : &canonical);
}

/* --- reading ------------------------------------------------------------- */

typedef struct reader {
	frep_status        *st;
	ProtobufCAllocator *alloc; /* NULL: the system's */
	char                path[PATH_MAX_LEN];
	size_t              path_len;
	unsigned            depth;
} reader;

/* Appends ".name" (or "name" at the root) or "[i]" to the path; returns the
 * previous length for path_pop. */
static size_t
path_push_field(reader *r, const char *name)
{
	size_t old = r->path_len;
	int n = snprintf(r->path + old, sizeof(r->path) - old, "%s%s", old == 0 ? "" : ".", name);
	if (n > 0) {
		r->path_len = strnlen(r->path, sizeof(r->path) - 1);
	}
	return old;
}

static size_t
path_push_index(reader *r, size_t index)
{
	size_t old = r->path_len;
	snprintf(r->path + old, sizeof(r->path) - old, "[%zu]", index);
	r->path_len = strnlen(r->path, sizeof(r->path) - 1);
	return old;
}

static void
path_pop(reader *r, size_t old)
{
	r->path_len  = old;
	r->path[old] = '\0';
}

/* A short rendering of a JSON value for messages. */
static void
value_text(const json_t *j, char *buf, size_t size)
{
	char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL) {
		snprintf(buf, size, "(value)");
		return;
	}
	if (strlen(s) > 60) {
		snprintf(buf, size, "%.57s...", s);
	} else {
		snprintf(buf, size, "%s", s);
	}
	free(s);
}

static frep_code
bad_value(reader *r, const json_t *j, const char *what)
{
	char v[80];
	value_text(j, v, sizeof(v));
	return frep_status_set(r->st, FREP_INVALID_ARGUMENT, "%s: %s is not %s",
	    r->path_len > 0 ? r->path : "(message)", v, what);
}

/* The message's memory: through the caller's allocator, if any (a budget,
 * say), so that the message can be freed with it. */
static void *
r_alloc(reader *r, size_t size)
{
	return r->alloc != NULL ? r->alloc->alloc(r->alloc->allocator_data, size) : malloc(size);
}

static void
r_free(reader *r, void *p)
{
	if (r->alloc != NULL) {
		if (p != NULL) {
			r->alloc->free(r->alloc->allocator_data, p);
		}
	} else {
		free(p);
	}
}

static void *
r_calloc(reader *r, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		return NULL;
	}
	void *p = r_alloc(r, n * size);
	if (p != NULL) {
		memset(p, 0, n * size);
	}
	return p;
}

static frep_code
oom(reader *r)
{
	return frep_status_set(r->st, FREP_RESOURCE_EXHAUSTED, "out of memory reading %s",
	    r->path_len > 0 ? r->path : "(message)");
}

/* An integer from a JSON number (integral) or a decimal string. */
static bool
json_to_int(const json_t *j, bool is_unsigned, int64_t *sv, uint64_t *uv)
{
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);
		if (is_unsigned) {
			if (v < 0) {
				return false;
			}
			*uv = (uint64_t) v;
		} else {
			*sv = v;
		}
		return true;
	}
	if (json_is_real(j)) {
		double d = json_real_value(j);
		if (d != floor(d) || !isfinite(d)) {
			return false;
		}
		if (is_unsigned) {
			if (d < 0 || d >= 18446744073709551616.0) {
				return false;
			}
			*uv = (uint64_t) d;
		} else {
			if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
				return false;
			}
			*sv = (int64_t) d;
		}
		return true;
	}
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char       *end;
		if (s[0] == '\0' || isspace((unsigned char) s[0]) ||
		    strlen(s) != json_string_length(j)) {
			return false;
		}
		errno = 0;
		if (is_unsigned) {
			if (s[0] == '-') {
				return false;
			}
			*uv = strtoull(s, &end, 10);
		} else {
			*sv = strtoll(s, &end, 10);
		}
		return errno == 0 && *end == '\0';
	}
	return false;
}

static bool
json_to_double(const json_t *j, double *out)
{
	if (json_is_number(j)) {
		*out = json_number_value(j);
		return true;
	}
	if (!json_is_string(j)) {
		return false;
	}
	const char *s = json_string_value(j);
	if (strlen(s) != json_string_length(j)) {
		return false; /* a NUL inside */
	}
	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
		return true;
	}
	if (strcmp(s, "Infinity") == 0) {
		*out = INFINITY;
		return true;
	}
	if (strcmp(s, "-Infinity") == 0) {
		*out = -INFINITY;
		return true;
	}
	char *end;
	errno = 0;
	if (s[0] == '\0' || isspace((unsigned char) s[0])) {
		return false;
	}
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+' || c == '-') {
		return 62;
	}
	if (c == '/' || c == '_') {
		return 63;
	}
	return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional). */
static frep_code
read_bytes(reader *r, const json_t *j, ProtobufCBinaryData *out)
{
	if (!json_is_string(j)) {
		return bad_value(r, j, "base64 text");
	}
	const char *s   = json_string_value(j);
	size_t      len = json_string_length(j);
	while (len > 0 && s[len - 1] == '=') {
		len--;
	}
	if (len % 4 == 1) {
		return bad_value(r, j, "base64 text (its length is wrong)");
	}
	uint8_t *data = r_alloc(r, len * 3 / 4 + 1);
	size_t   n    = 0;
	uint32_t acc  = 0;
	unsigned bits = 0;
	if (data == NULL) {
		return oom(r);
	}
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			r_free(r, data);
			char what[64];
			snprintf(what, sizeof(what), "base64 text (character %zu)", i + 1);
			return bad_value(r, j, what);
		}
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			data[n++] = (uint8_t) (acc >> bits);
		}
	}
	if (n == 0) {
		r_free(r, data);
		data = NULL;
	}
	out->data = data;
	out->len  = n;
	return FREP_OK;
}

static frep_code read_message(
    reader *r, const ProtobufCMessageDescriptor *md, const json_t *j, ProtobufCMessage **out);

/* Reads one value of f from j into p (storage for one element). */
static frep_code
read_value(reader *r, const ProtobufCFieldDescriptor *f, const json_t *j, void *p)
{
	int64_t  sv = 0;
	uint64_t uv = 0;
	double   d  = 0;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!json_to_int(j, false, &sv, &uv) || sv < INT32_MIN || sv > INT32_MAX) {
			return bad_value(r, j, "a 32-bit integer");
		}
		*(int32_t *) p = (int32_t) sv;
		return FREP_OK;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!json_to_int(j, true, &sv, &uv) || uv > UINT32_MAX) {
			return bad_value(r, j, "an unsigned 32-bit integer");
		}
		*(uint32_t *) p = (uint32_t) uv;
		return FREP_OK;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!json_to_int(j, false, &sv, &uv)) {
			return bad_value(r, j, "a 64-bit integer");
		}
		*(int64_t *) p = sv;
		return FREP_OK;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!json_to_int(j, true, &sv, &uv)) {
			return bad_value(r, j, "an unsigned 64-bit integer");
		}
		*(uint64_t *) p = uv;
		return FREP_OK;
	case PROTOBUF_C_TYPE_FLOAT:
		if (!json_to_double(j, &d) || (isfinite(d) && fabs(d) > FLT_MAX)) {
			return bad_value(r, j, "a 32-bit float");
		}
		*(float *) p = (float) d;
		return FREP_OK;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_to_double(j, &d)) {
			return bad_value(r, j, "a number");
		}
		*(double *) p = d;
		return FREP_OK;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j)) {
			return bad_value(r, j, "true or false");
		}
		*(protobuf_c_boolean *) p = json_is_true(j);
		return FREP_OK;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		if (json_is_string(j)) {
			const ProtobufCEnumValue *ev =
			    strlen(json_string_value(j)) == json_string_length(j)
				? protobuf_c_enum_descriptor_get_value_by_name(
				      ed, json_string_value(j))
				: NULL;
			if (ev == NULL) {
				char what[160];
				snprintf(what, sizeof(what), "a value of %s", ed->name);
				return bad_value(r, j, what);
			}
			*(int *) p = ev->value;
			return FREP_OK;
		}
		/* proto3 enums are open: a number unknown to this build is kept. */
		if (!json_is_integer(j) || !json_to_int(j, false, &sv, &uv) || sv < INT32_MIN ||
		    sv > INT32_MAX) {
			char what[160];
			snprintf(what, sizeof(what), "a value of %s", ed->name);
			return bad_value(r, j, what);
		}
		*(int *) p = (int) sv;
		return FREP_OK;
	}
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(j)) {
			return bad_value(r, j, "a string");
		}
		const char *s = json_string_value(j);
		if (strlen(s) != json_string_length(j)) {
			return bad_value(r, j, "a string without NUL characters");
		}
		size_t n    = json_string_length(j);
		char  *copy = r_alloc(r, n + 1);
		if (copy == NULL) {
			return oom(r);
		}
		memcpy(copy, s, n + 1);
		*(char **) p = copy;
		return FREP_OK;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return read_bytes(r, j, (ProtobufCBinaryData *) p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return read_message(r, f->descriptor, j, (ProtobufCMessage **) p);
	}
	return frep_status_set(
	    r->st, FREP_INTERNAL, "%s: field type %d not handled", r->path, (int) f->type);
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *md, const char *key)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(md, key);
	if (f != NULL) {
		return f;
	}
	for (unsigned i = 0; i < md->n_fields; i++) {
		char jname[128];
		if (strcmp(frep_json_field_name(&md->fields[i], jname, sizeof(jname)), key) == 0) {
			return &md->fields[i];
		}
	}
	return NULL;
}

/* Reads a repeated field: j is an array (null: empty). Elements are
 * counted into the message as they are read, so a failure part-way leaves
 * a message free_unpacked can free. */
static frep_code
read_repeated(reader *r, const ProtobufCFieldDescriptor *f, const json_t *j, char *base)
{
	if (!json_is_array(j)) {
		return bad_value(r, j, "an array");
	}
	size_t n    = json_array_size(j);
	size_t size = element_size(f);
	if (n == 0) {
		return FREP_OK;
	}
	char *arr = r_calloc(r, n, size);
	if (arr == NULL) {
		return oom(r);
	}
	*(char **) (base + f->offset) = arr;
	size_t *count                 = (size_t *) (base + f->quantifier_offset);
	*count                        = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *e   = json_array_get(j, i);
		size_t        old = path_push_index(r, i);
		frep_code     code;
		/* Counted first: a zeroed element is safe to free, and a message
		 * half read into it is freed with the rest. */
		(*count)++;
		if (json_is_null(e)) {
			code = bad_value(r, e, "a list element (null is not allowed in a list)");
		} else {
			code = read_value(r, f, e, arr + i * size);
		}
		if (code != FREP_OK) {
			return code;
		}
		path_pop(r, old);
	}
	return FREP_OK;
}

static frep_code
read_field(reader *r, const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
    const json_t *j, char *base)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return json_is_null(j) ? FREP_OK : read_repeated(r, f, j, base);
	}
	if (json_is_null(j)) {
		return FREP_OK; /* null: the field's default */
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = (uint32_t *) (base + f->quantifier_offset);
		if (*which != 0 && *which != f->id) {
			const ProtobufCFieldDescriptor *other =
			    protobuf_c_message_descriptor_get_field(md, (int) *which);
			return frep_status_set(r->st, FREP_INVALID_ARGUMENT,
			    "%s: set together with %s, and only one of them may be", r->path,
			    other != NULL ? other->name : "another member of its oneof");
		}
		/* Set before the value so free_unpacked sees what is stored. */
		*which = f->id;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
		   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
		*(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
	}
	return read_value(r, f, j, base + f->offset);
}

static frep_code
read_message(
    reader *r, const ProtobufCMessageDescriptor *md, const json_t *j, ProtobufCMessage **out)
{
	*out = NULL;
	if (!json_is_object(j)) {
		char what[160];
		snprintf(what, sizeof(what), "an object (a %s)", md->name);
		return bad_value(r, j, what);
	}
	if (r->depth >= JSON_MAX_DEPTH) {
		return frep_status_set(r->st, FREP_INVALID_ARGUMENT,
		    "%s: messages nested deeper than %d", r->path, JSON_MAX_DEPTH);
	}
	ProtobufCMessage *msg  = r_alloc(r, md->sizeof_message);
	bool             *seen = r_calloc(r, md->n_fields + 1, sizeof(bool));
	if (msg == NULL || seen == NULL) {
		r_free(r, msg);
		r_free(r, seen);
		return oom(r);
	}
	md->message_init(msg);
	*out = msg;
	r->depth++;
	const char *key;
	json_t     *value;
	frep_code   code = FREP_OK;
	json_object_foreach((json_t *) j, key, value)
	{
		size_t                          old = path_push_field(r, key);
		const ProtobufCFieldDescriptor *f   = find_field(md, key);
		if (f == NULL) {
			code = frep_status_set(r->st, FREP_INVALID_ARGUMENT,
			    "%s: %s has no field \"%.100s\"", r->path, md->name, key);
			break;
		}
		size_t index = (size_t) (f - md->fields);
		if (seen[index]) {
			code = frep_status_set(r->st, FREP_INVALID_ARGUMENT,
			    "%s: field %s given twice (by its JSON name and its proto name)",
			    r->path, f->name);
			break;
		}
		seen[index] = true;
		if ((code = read_field(r, md, f, value, (char *) msg)) != FREP_OK) {
			break;
		}
		path_pop(r, old);
	}
	r->depth--;
	r_free(r, seen);
	return code;
}

static frep_code
to_message(const ProtobufCMessageDescriptor *md, const json_t *j, ProtobufCAllocator *allocator,
    ProtobufCMessage **out, frep_status *st)
{
	reader r               = {.st = st, .alloc = allocator};
	*out                   = NULL;
	ProtobufCMessage *msg  = NULL;
	frep_code         code = read_message(&r, md, j, &msg);
	if (code != FREP_OK) {
		protobuf_c_message_free_unpacked(msg, allocator);
		return code;
	}
	*out = msg;
	return FREP_OK;
}

frep_code
frep_json_to_message(
    const ProtobufCMessageDescriptor *md, const json_t *j, ProtobufCMessage **out, frep_status *st)
{
	return to_message(md, j, NULL, out, st);
}

frep_code
frep_json_parse_message(const ProtobufCMessageDescriptor *md, const char *text, size_t len,
    ProtobufCMessage **out, frep_status *st)
{
	return frep_json_parse_message_with(md, text, len, NULL, out, st);
}

frep_code
frep_json_parse_message_with(const ProtobufCMessageDescriptor *md, const char *text, size_t len,
    ProtobufCAllocator *allocator, ProtobufCMessage **out, frep_status *st)
{
	json_error_t err;
	*out = NULL;
	/* \u0000 inside a string value is let through the parse so that the
	 * field holding it is named (every string read below checks its
	 * length against strlen); in a member name jansson refuses it. */
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (j == NULL) {
		/* jansson names its own flag for a \u0000 escape; say what
		 * is refused instead (a proto3 string is text without NUL). */
		if (json_error_code(&err) == json_error_null_character) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "request body: line %d, column %d: a string holds \\u0000 (NUL), "
			    "which frep's strings cannot carry",
			    err.line, err.column);
		}
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "request body is not JSON: line %d, column %d: %s", err.line, err.column,
		    err.text);
	}
	frep_code code = to_message(md, j, allocator, out, st);
	json_decref(j);
	return code;
}
