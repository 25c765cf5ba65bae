/*
 * frepctl_json: any protobuf-c message as JSON, walked from its descriptor,
 * so every response of every service prints the same way and a field added
 * to the contract shows up without a change here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frepctl_internal.h"

/* Fields that travel in one direction only and must never be shown, even
 * empty: a secret printed once ends up in a terminal log. */
static const char *const redacted_fields[] = {
    "frep.v1.FailoverRelationship.shared_secret",
    NULL,
};

static bool
field_redacted(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f)
{
	size_t n = strlen(md->name);
	for (size_t i = 0; redacted_fields[i] != NULL; i++) {
		const char *r = redacted_fields[i];
		if (strncmp(r, md->name, n) == 0 && r[n] == '.' &&
		    strcmp(r + n + 1, f->name) == 0) {
			return true;
		}
	}
	return false;
}

const char *
frepctl_json_enum_short(const ProtobufCEnumDescriptor *ed, int value, char *buf, size_t size)
{
	const ProtobufCEnumValue *ev   = protobuf_c_enum_descriptor_get_value(ed, value);
	const ProtobufCEnumValue *zero = protobuf_c_enum_descriptor_get_value(ed, 0);
	if (ev == NULL) {
		snprintf(buf, size, "%d", value);
		return buf;
	}
	/* proto3 enums are named TYPE_VALUE with TYPE_UNSPECIFIED = 0: the
	 * zero value's name minus "UNSPECIFIED" is the prefix to drop. */
	const char *name = ev->name;
	if (zero != NULL) {
		const char *u = strstr(zero->name, "UNSPECIFIED");
		size_t      p = u != NULL ? (size_t) (u - zero->name) : 0;
		if (p > 0 && strncmp(name, zero->name, p) == 0 && name[p] != '\0') {
			name += p;
		}
	}
	size_t i = 0;
	for (; name[i] != '\0' && i + 1 < size; i++) {
		buf[i] = name[i] == '_' ? '-' : (char) tolower((unsigned char) name[i]);
	}
	buf[i] = '\0';
	return buf;
}

static json_t *message_json(const ProtobufCMessage *msg, unsigned flags);

/* The element size of a repeated field's array, by type. */
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

static json_t *
bytes_json(const ProtobufCBinaryData *b)
{
	static const char hex[] = "0123456789abcdef";
	char             *s     = malloc(b->len * 2 + 1);
	if (s == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < b->len; i++) {
		s[2 * i]     = hex[b->data[i] >> 4];
		s[2 * i + 1] = hex[b->data[i] & 15];
	}
	s[b->len * 2] = '\0';
	json_t *j     = json_string(s);
	free(s);
	return j;
}

/* One value of field f stored at p. */
static json_t *
value_json(const ProtobufCFieldDescriptor *f, const void *p, unsigned flags)
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
		return json_integer(*(const int64_t *) p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *) p;
		/* json_int_t is signed: beyond its range, text keeps the value exact. */
		if (v > (uint64_t) INT64_MAX) {
			char buf[24];
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
			return json_string(buf);
		}
		return json_integer((json_int_t) v);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *) p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) p);
	case PROTOBUF_C_TYPE_ENUM: {
		int                       v = *(const int *) p;
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev == NULL) {
			return json_integer(v); /* a value newer than this build */
		}
		if (flags & FREPCTL_JSON_SHORT_ENUMS) {
			char buf[128];
			return json_string(
			    frepctl_json_enum_short(f->descriptor, v, buf, sizeof(buf)));
		}
		return json_string(ev->name);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		/* json_string refuses invalid UTF-8; the raw bytes still show. */
		json_t *j = json_string(s != NULL ? s : "");
		if (j == NULL) {
			ProtobufCBinaryData b = {.len = strlen(s), .data = (uint8_t *) s};
			j                     = bytes_json(&b);
		}
		return j;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json((const ProtobufCBinaryData *) p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
		return m != NULL ? message_json(m, flags) : json_null();
	}
	}
	return json_null();
}

static json_t *
message_json(const ProtobufCMessage *msg, unsigned flags)
{
	const ProtobufCMessageDescriptor *md   = msg->descriptor;
	const char                       *base = (const char *) msg;
	json_t                           *obj  = json_object();
	if (obj == NULL) {
		return NULL;
	}
	for (unsigned i = 0; i < md->n_fields; i++) {
		const ProtobufCFieldDescriptor *f     = &md->fields[i];
		const void                     *p     = base + f->offset;
		json_t                         *value = NULL;
		if (field_redacted(md, f)) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t      n    = *(const size_t *) (base + f->quantifier_offset);
			const char *arr  = *(char *const *) p;
			size_t      size = element_size(f);
			value            = json_array();
			for (size_t k = 0; k < n && value != NULL; k++) {
				json_array_append_new(value, value_json(f, arr + k * size, flags));
			}
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *) (base + f->quantifier_offset) != f->id) {
				continue;
			}
			value = value_json(f, p, flags);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE &&
			   f->type != PROTOBUF_C_TYPE_STRING) {
			/* proto2 optional scalar: present only with its has_ flag. */
			if (!*(const protobuf_c_boolean *) (base + f->quantifier_offset)) {
				continue;
			}
			value = value_json(f, p, flags);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			   *(ProtobufCMessage *const *) p == NULL) {
			continue;
		} else {
			value = value_json(f, p, flags);
		}
		json_object_set_new(obj, f->name, value != NULL ? value : json_null());
	}
	return obj;
}

json_t *
frepctl_json_from_message(const ProtobufCMessage *msg, unsigned flags)
{
	return message_json(msg, flags);
}
