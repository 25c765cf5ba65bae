/*
 * frepctl_json: any protobuf-c message as JSON through the shared
 * descriptor-driven codec (proto/frep_json.c), so every response of every
 * service prints the same way and a field added to the contract shows up
 * without a change here. What is frepctl's own: the secrets never shown and
 * the short enum names.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frep_json.h"
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

json_t *
frepctl_json_from_message(const ProtobufCMessage *msg, unsigned flags)
{
	/* frepctl's JSON is for people and scripts that read whole records:
	 * proto names, every scalar present, plain numbers, hex bytes. */
	frep_json_options o = {
	    .flags = FREP_JSON_ORIGINAL_NAMES | FREP_JSON_EMIT_DEFAULTS | FREP_JSON_INT64_NUMBERS |
		     FREP_JSON_BYTES_HEX,
	    .skip_field = field_redacted,
	    .enum_name  = (flags & FREPCTL_JSON_SHORT_ENUMS) ? frepctl_json_enum_short : NULL,
	};
	return frep_json_from_message(msg, &o);
}
