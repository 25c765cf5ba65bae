#include "convert.h"

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipv4.h"

/* --- the arena ---------------------------------------------------------- */

/* Small allocations are carved from blocks of ARENA_BLOCK_BYTES; a larger
 * one gets a block of its own, so a 100,000-reservation snapshot costs a
 * few hundred mallocs, not a million. */
#define ARENA_BLOCK_BYTES (64u * 1024u)
#define ARENA_ALIGN       (alignof(max_align_t))

struct convert_block {
	convert_block *next;
	size_t         used;
	size_t         cap;
	alignas(max_align_t) unsigned char data[];
};

void
convert_arena_init(convert_arena *a)
{
	a->head = NULL;
}

void
convert_arena_fini(convert_arena *a)
{
	if (a == NULL) {
		return;
	}
	convert_block *b = a->head;
	while (b != NULL) {
		convert_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

void *
convert_arena_alloc(convert_arena *a, size_t size, frep_status *st)
{
	size_t need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (need < size) {
		frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "allocation of %zu bytes", size);
		return NULL;
	}
	convert_block *b = a->head;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = need > ARENA_BLOCK_BYTES / 4 ? need : ARENA_BLOCK_BYTES;
		if (cap > SIZE_MAX - sizeof(*b)) {
			frep_status_set(
			    st, FREP_RESOURCE_EXHAUSTED, "allocation of %zu bytes", size);
			return NULL;
		}
		convert_block *nb = malloc(sizeof(*nb) + cap);
		if (nb == NULL) {
			frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
			    "out of memory converting a message (%zu bytes)", size);
			return NULL;
		}
		nb->used = 0;
		nb->cap  = cap;
		/* A dedicated big block goes behind the current one so the
		 * current one keeps serving small allocations. */
		if (b != NULL && cap != ARENA_BLOCK_BYTES) {
			nb->next = b->next;
			b->next  = nb;
		} else {
			nb->next = b;
			a->head  = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

char *
convert_arena_strdup(convert_arena *a, const char *s, frep_status *st)
{
	if (s == NULL) {
		s = "";
	}
	size_t len = strlen(s);
	char  *p   = convert_arena_alloc(a, len + 1, st);
	if (p != NULL) {
		memcpy(p, s, len + 1);
	}
	return p;
}

char *
convert_arena_message(convert_arena *a, const char *s, frep_status *st)
{
	if (s == NULL) {
		s = "";
	}
	size_t len = strlen(s);
	if (frep_utf8_valid_prefix((const uint8_t *) s, len) == len) {
		return convert_arena_strdup(a, s, st);
	}
	char *p = convert_arena_alloc(a, 4 * len + 1, st);
	if (p != NULL) {
		frep_utf8_sanitize(s, p, 4 * len + 1);
	}
	return p;
}

/* An array of n elements of size each, checked for overflow; NULL with
 * *ok true when n == 0. */
static void *
arena_array(convert_arena *a, size_t n, size_t size, bool *ok, frep_status *st)
{
	*ok = true;
	if (n == 0) {
		return NULL;
	}
	if (n > SIZE_MAX / size) {
		*ok = false;
		frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "array of %zu elements", n);
		return NULL;
	}
	void *p = convert_arena_alloc(a, n * size, st);
	*ok     = p != NULL;
	return p;
}

/* --- helpers ------------------------------------------------------------ */

typedef struct field_name {
	char text[160];
} field_name;

/* "prefix.name" (or just "name" without a prefix). */
static const char *
fname(field_name *buf, const char *prefix, const char *name)
{
	/* Bounded by hand: a path longer than the buffer only shortens a
	 * message (and snprintf's truncation warning cannot see that). */
	size_t cap = sizeof(buf->text) - 1, len = 0;
	if (prefix != NULL && prefix[0] != '\0') {
		size_t n = strnlen(prefix, cap);
		memcpy(buf->text, prefix, n);
		len = n;
		if (len < cap) {
			buf->text[len++] = '.';
		}
	}
	size_t n = strnlen(name, cap - len);
	memcpy(buf->text + len, name, n);
	buf->text[len + n] = '\0';
	return buf->text;
}

/* "prefix.name[i]". Built by hand, as fname: it runs for every element of
 * every list converted (100,000 reservations of a scope), and only an
 * error message reads it (snprintf here was ~3% of a partner's apply). */
static const char *
fname_at(field_name *buf, const char *prefix, const char *name, size_t i)
{
	char   digits[24];
	size_t nd = 0;
	do {
		digits[nd++] = (char) ('0' + i % 10);
		i /= 10;
	} while (i > 0);
	fname(buf, prefix, name);
	size_t len = strlen(buf->text), cap = sizeof(buf->text) - 1;
	if (len + nd + 2 <= cap) {
		buf->text[len++] = '[';
		while (nd > 0) {
			buf->text[len++] = digits[--nd];
		}
		buf->text[len++] = ']';
		buf->text[len]   = '\0';
	}
	return buf->text;
}

static char *
str_or_empty(char *s)
{
	return s != NULL ? s : (char *) "";
}

/* protoc-c leaves open enum numbers as they came on the wire. */
static frep_code
check_enum(int value, int max, const char *type, const char *field, frep_status *st)
{
	if (value < 0 || value > max) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%s %d is not a %s value (0..%d)",
		    field, value, type, max);
	}
	return FREP_OK;
}

static frep_code
check_count(size_t n, size_t max, const char *field, frep_status *st)
{
	if (n > max) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "%s has %zu elements (at most %zu)", field, n, max);
	}
	return FREP_OK;
}

static frep_code
require_message(const void *msg, const char *field, frep_status *st)
{
	if (msg == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%s is required", field);
	}
	return FREP_OK;
}

/* --- lists: a repeated field converted element by element --------------- */

/* One element of a list, as the list helpers call it (each converter below
 * has an adapter of this shape). */
typedef frep_code (*element_from_proto)(
    const void *in, const char *field, convert_arena *a, void *out, frep_status *st);
typedef frep_code (*element_to_proto)(
    const void *in, convert_arena *a, void **out, frep_status *st);

/* in[0..n) (messages or strings), each converted by one (named
 * prefix.name[i] in messages) into a new arena array of n elements of size
 * bytes, *out (NULL when n == 0). The first bad element's status. */
static frep_code
list_from_proto(const void *const *in, size_t n, const char *prefix, const char *name, size_t size,
    element_from_proto one, convert_arena *a, void *out, frep_status *st)
{
	field_name f;
	bool       ok;
	char      *v = arena_array(a, n, size, &ok, st);

	if (!ok) {
		return st != NULL ? st->code : FREP_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < n; i++) {
		frep_code rc = one(in[i], fname_at(&f, prefix, name, i), a, v + i * size, st);
		if (rc != FREP_OK) {
			return rc;
		}
	}
	memcpy(out, &v, sizeof(v));
	return FREP_OK;
}

/* The n elements of size bytes at in, each converted by one into a new
 * arena array of pointers (messages or strings), *out (NULL when n == 0),
 * and n into *n_out. */
static frep_code
list_to_proto(const void *in, size_t n, size_t size, element_to_proto one, convert_arena *a,
    void *out, size_t *n_out, frep_status *st)
{
	bool   ok;
	void **v = arena_array(a, n, sizeof(*v), &ok, st);

	*n_out = 0;
	if (!ok) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < n; i++) {
		frep_code rc = one((const char *) in + i * size, a, &v[i], st);
		if (rc != FREP_OK) {
			return rc;
		}
	}
	memcpy(out, &v, sizeof(v));
	*n_out = n;
	return FREP_OK;
}

/* --- addresses and enums ------------------------------------------------ */

frep_code
convert_ipv4_from_text(
    const char *text, const char *field, bool required, uint32_t *out, frep_status *st)
{
	if (text == NULL || text[0] == '\0') {
		if (required) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT, "%s is required", field);
		}
		*out = 0;
		return FREP_OK;
	}
	return engine_ipv4_parse(text, field, out, st);
}

char *
convert_ipv4_to_text(convert_arena *a, uint32_t addr, bool zero_is_empty, frep_status *st)
{
	char buf[ENGINE_IPV4_STRLEN];
	if (addr == 0 && zero_is_empty) {
		return (char *) "";
	}
	return convert_arena_strdup(a, engine_ipv4_format(addr, buf), st);
}

frep_code
convert_class_type_from_proto(int value, const char *field, engine_class_type *out, frep_status *st)
{
	frep_code rc = check_enum(value, ENGINE_CLASS_TYPE_USER, "ClassType", field, st);
	if (rc == FREP_OK) {
		*out = (engine_class_type) value;
	}
	return rc;
}

/* --- columns: the plain fields of an object kind ------------------------ */

/* How one plain field maps between a message (by its proto name) and an
 * engine struct (by offset). A kind's table lists its columns in the
 * order they are checked, so the first bad field is the one named; what
 * is not plain (oneofs, nested messages) stays explicit beside it. */
typedef enum column_type {
	COL_STRING = 0, /* borrowed in; NULL out reads as "" */
	COL_UINT32,
	COL_BOOL,
	COL_IPV4,    /* dotted text <-> uint32_t */
	COL_ENUM,    /* int, checked 0..max in */
	COL_STRINGS, /* repeated string <-> char ** and a size_t count (borrowed) */
} column_type;

typedef struct column {
	const char *field; /* NULL ends a table */
	column_type type;
	size_t      model;            /* offsetof in the engine struct */
	size_t      model_n;          /* COL_STRINGS: offsetof its count */
	bool        partial_optional; /* COL_IPV4: required unless partial */
	bool        optional;         /* COL_IPV4: empty reads as 0 */
	bool        zero_is_empty;    /* COL_IPV4: 0 goes out as "" */
	bool        out_only;         /* not read from a request */
	bool        in_only;          /* not written to a reply */
	int         max;              /* COL_ENUM */
	const char *enum_name;        /* COL_ENUM, for messages */
} column;

#define MODEL(T, obj, c) ((T *) ((char *) (obj) + (c)->model))
#define MSG(T, msg, fd)  ((T *) ((char *) (msg) + (fd)->offset))

_Static_assert(sizeof(engine_scope_state) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_client_type) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_option_type) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_class_type) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_policy_condition) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_failover_mode) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_server_role) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_failover_state) == sizeof(int), "COL_ENUM reads an int");
_Static_assert(sizeof(engine_auto_sync) == sizeof(int), "COL_ENUM reads an int");

static const ProtobufCFieldDescriptor *
column_field(const ProtobufCMessage *m, const column *c)
{
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(m->descriptor, c->field);
	assert(fd != NULL && "a column names a field its message lacks");
	return fd;
}

/* The columns of in (a message named field) into the engine struct out
 * (zeroed first); strings borrowed from in. INVALID_ARGUMENT naming the
 * first bad field. */
static frep_code
columns_from_proto(const column *cols, const ProtobufCMessage *in, const char *field, bool partial,
    void *out, size_t out_size, frep_status *st)
{
	field_name f;
	frep_code  rc = FREP_OK;

	memset(out, 0, out_size);
	for (const column *c = cols; c->field != NULL && rc == FREP_OK; c++) {
		const ProtobufCFieldDescriptor *fd;
		if (c->out_only) {
			continue;
		}
		fd = column_field(in, c);
		switch (c->type) {
		case COL_STRING:
			*MODEL(char *, out, c) = *MSG(char *, in, fd);
			break;
		case COL_UINT32:
			*MODEL(uint32_t, out, c) = *MSG(uint32_t, in, fd);
			break;
		case COL_BOOL:
			*MODEL(bool, out, c) = *MSG(protobuf_c_boolean, in, fd) != 0;
			break;
		case COL_IPV4:
			rc =
			    convert_ipv4_from_text(*MSG(char *, in, fd), fname(&f, field, c->field),
				!c->optional && !(c->partial_optional && partial),
				MODEL(uint32_t, out, c), st);
			break;
		case COL_ENUM:
			if ((rc = check_enum(*MSG(int, in, fd), c->max, c->enum_name,
				 fname(&f, field, c->field), st)) == FREP_OK) {
				*MODEL(int, out, c) = *MSG(int, in, fd);
			}
			break;
		case COL_STRINGS:
			*MODEL(char **, out, c) = *MSG(char **, in, fd);
			*(size_t *) ((char *) out + c->model_n) =
			    *(const size_t *) ((const char *) in + fd->quantifier_offset);
			break;
		}
	}
	return rc;
}

/* The columns of the engine struct in into the message m (initialised);
 * strings borrowed from in, addresses formatted into a. */
static frep_code
columns_to_proto(
    const column *cols, const void *in, convert_arena *a, ProtobufCMessage *m, frep_status *st)
{
	for (const column *c = cols; c->field != NULL; c++) {
		const ProtobufCFieldDescriptor *fd = column_field(m, c);
		char                          **strings;
		if (c->in_only) {
			continue;
		}
		switch (c->type) {
		case COL_STRING:
			*MSG(char *, m, fd) = str_or_empty(*MODEL(char *, in, c));
			break;
		case COL_UINT32:
			*MSG(uint32_t, m, fd) = *MODEL(uint32_t, in, c);
			break;
		case COL_BOOL:
			*MSG(protobuf_c_boolean, m, fd) = *MODEL(bool, in, c);
			break;
		case COL_IPV4:
			if ((*MSG(char *, m, fd) = convert_ipv4_to_text(
				 a, *MODEL(uint32_t, in, c), c->zero_is_empty, st)) == NULL) {
				return FREP_RESOURCE_EXHAUSTED;
			}
			break;
		case COL_ENUM:
			*MSG(int, m, fd) = *MODEL(int, in, c);
			break;
		case COL_STRINGS:
			strings              = *MODEL(char **, in, c);
			*MSG(char **, m, fd) = strings;
			*(size_t *) ((char *) m + fd->quantifier_offset) =
			    strings != NULL ? *(const size_t *) ((const char *) in + c->model_n)
					    : 0;
			break;
		}
	}
	return FREP_OK;
}

/* A kind's message in, named field (required), into out by its columns. */
static frep_code
object_from_proto(const column *cols, const ProtobufCMessage *in, const char *field, bool partial,
    void *out, size_t out_size, frep_status *st)
{
	frep_code rc = require_message(in, field, st);
	if (rc != FREP_OK) {
		return rc;
	}
	return columns_from_proto(cols, in, field, partial, out, out_size, st);
}

/* A new arena message of descriptor d, its columns from in; NULL when
 * memory runs out (RESOURCE_EXHAUSTED in st). */
static void *
object_to_proto(const column *cols, const ProtobufCMessageDescriptor *d, const void *in,
    convert_arena *a, frep_status *st)
{
	ProtobufCMessage *m = convert_arena_alloc(a, d->sizeof_message, st);
	if (m == NULL) {
		return NULL;
	}
	protobuf_c_message_init(d, m);
	return columns_to_proto(cols, in, a, m, st) == FREP_OK ? m : NULL;
}

#define COL(T, name, ...)                                                                          \
	{                                                                                          \
		.field = #name, .model = offsetof(T, name), __VA_ARGS__                            \
	}

/* The kinds' columns. Adding a plain field to a kind: the proto, the
 * model, and one line here. */
static const column scope_columns[] = {
    COL(engine_scope, scope_id, .type = COL_IPV4),
    COL(engine_scope, subnet_mask, .type = COL_IPV4, .partial_optional = true),
    COL(engine_scope, start_range, .type = COL_IPV4, .partial_optional = true,
	.zero_is_empty = true),
    COL(engine_scope, end_range, .type = COL_IPV4, .partial_optional = true, .zero_is_empty = true),
    COL(engine_scope, state, .type = COL_ENUM, .max = ENGINE_SCOPE_STATE_INACTIVE,
	.enum_name = "ScopeState"),
    COL(engine_scope, type, .type = COL_ENUM, .max = ENGINE_CLIENT_TYPE_BOTH,
	.enum_name = "ClientType"),
    COL(engine_scope, name),
    COL(engine_scope, description),
    COL(engine_scope, lease_duration_s, .type = COL_UINT32),
    COL(engine_scope, superscope_name),
    COL(engine_scope, max_bootp_clients, .type = COL_UINT32),
    COL(engine_scope, delay_ms, .type = COL_UINT32),
    {0},
};

static const column exclusion_columns[] = {
    COL(engine_exclusion, scope_id, .type = COL_IPV4),
    COL(engine_exclusion, start_range, .type = COL_IPV4),
    COL(engine_exclusion, end_range, .type = COL_IPV4),
    {0},
};

static const column option_value_columns[] = {
    COL(engine_option_value, option_id, .type = COL_UINT32),
    COL(engine_option_value, vendor_class),
    COL(engine_option_value, user_class),
    COL(engine_option_value, values, .type = COL_STRINGS,
	.model_n = offsetof(engine_option_value, n_values)),
    {0},
};

static const column reservation_columns[] = {
    COL(engine_reservation, scope_id, .type = COL_IPV4),
    COL(engine_reservation, ip_address, .type = COL_IPV4),
    COL(engine_reservation, type, .type = COL_ENUM, .max = ENGINE_CLIENT_TYPE_BOTH,
	.enum_name = "ClientType"),
    COL(engine_reservation, client_id),
    COL(engine_reservation, name),
    COL(engine_reservation, description),
    {0},
};

static const column option_def_columns[] = {
    COL(engine_option_def, type, .type = COL_ENUM, .max = ENGINE_OPTION_TYPE_IPV6_ADDRESS,
	.enum_name = "OptionType"),
    COL(engine_option_def, option_id, .type = COL_UINT32),
    COL(engine_option_def, vendor_class),
    COL(engine_option_def, name),
    COL(engine_option_def, description),
    COL(engine_option_def, multi_valued, .type = COL_BOOL),
    COL(engine_option_def, default_value, .type = COL_STRINGS,
	.model_n = offsetof(engine_option_def, n_default_value)),
    COL(engine_option_def, predefined, .type = COL_BOOL, .out_only = true),
    {0},
};

/* A policy's criteria, ranges and options are nested lists: explicit. */
static const column policy_columns[] = {
    COL(engine_policy, scope_id, .type = COL_IPV4, .optional = true, .zero_is_empty = true),
    COL(engine_policy, condition, .type = COL_ENUM, .max = ENGINE_POLICY_CONDITION_AND,
	.enum_name = "PolicyCondition"),
    COL(engine_policy, name),
    COL(engine_policy, description),
    COL(engine_policy, processing_order, .type = COL_UINT32),
    COL(engine_policy, lease_duration_s, .type = COL_UINT32),
    {0},
};

static const column class_columns[] = {
    COL(engine_class, type, .type = COL_ENUM, .max = ENGINE_CLASS_TYPE_USER,
	.enum_name = "ClassType"),
    COL(engine_class, name),
    COL(engine_class, data),
    COL(engine_class, description),
    {0},
};

/* A relationship's scope_ids are a nested list: explicit. Its enums come
 * first, in the order they are checked. */
static const column failover_columns[] = {
    COL(engine_failover, mode, .type = COL_ENUM, .max = ENGINE_FAILOVER_MODE_HOT_STANDBY,
	.enum_name = "FailoverMode"),
    COL(engine_failover, server_role, .type = COL_ENUM, .max = ENGINE_SERVER_ROLE_STANDBY,
	.enum_name = "ServerRole"),
    COL(engine_failover, state, .type = COL_ENUM, .max = ENGINE_FAILOVER_STATE_PAUSED,
	.enum_name = "FailoverState"),
    COL(engine_failover, auto_sync, .type = COL_ENUM, .max = ENGINE_AUTO_SYNC_OFF,
	.enum_name = "AutoSync"),
    COL(engine_failover, name),
    COL(engine_failover, partner_server),
    COL(engine_failover, load_balance_percent, .type = COL_UINT32),
    COL(engine_failover, reserve_percent, .type = COL_UINT32),
    COL(engine_failover, max_client_lead_time_s, .type = COL_UINT32),
    COL(engine_failover, auto_state_transition, .type = COL_BOOL),
    COL(engine_failover, state_switch_interval_s, .type = COL_UINT32),
    /* The secret never leaves: a reply's is always the INIT's "". */
    COL(engine_failover, shared_secret, .in_only = true),
    COL(engine_failover, local_server),
    COL(engine_failover, kea_ha_url),
    COL(engine_failover, partner_kea_ha_url),
    {0},
};

/* --- proto -> engine ---------------------------------------------------- */

frep_code
convert_scope_from_proto(
    const Frep__V1__Scope *in, const char *field, bool partial, engine_scope *out, frep_status *st)
{
	frep_code rc;

	if ((rc = object_from_proto(scope_columns, (const ProtobufCMessage *) in, field, partial,
		 out, sizeof(*out), st)) != FREP_OK) {
		return rc;
	}
	out->activate_policies_present =
	    in->activate_policies_present_case ==
	    FREP__V1__SCOPE__ACTIVATE_POLICIES_PRESENT_ACTIVATE_POLICIES;
	out->activate_policies = out->activate_policies_present && in->activate_policies;
	return FREP_OK;
}

frep_code
convert_exclusion_from_proto(
    const Frep__V1__ExclusionRange *in, const char *field, engine_exclusion *out, frep_status *st)
{
	return object_from_proto(
	    exclusion_columns, (const ProtobufCMessage *) in, field, false, out, sizeof(*out), st);
}

frep_code
convert_option_value_from_proto(
    const Frep__V1__OptionValue *in, const char *field, engine_option_value *out, frep_status *st)
{
	return object_from_proto(option_value_columns, (const ProtobufCMessage *) in, field, false,
	    out, sizeof(*out), st);
}

static frep_code
option_value_element(
    const void *in, const char *field, convert_arena *a, void *out, frep_status *st)
{
	(void) a;
	return convert_option_value_from_proto(in, field, out, st);
}

frep_code
convert_option_values_from_proto(Frep__V1__OptionValue *const *in, size_t n, const char *field,
    convert_arena *a, engine_option_value **out, frep_status *st)
{
	frep_code rc;

	*out = NULL;
	if ((rc = check_count(n, ENGINE_OPTIONS_MAX, field, st)) != FREP_OK) {
		return rc;
	}
	return list_from_proto((const void *const *) in, n, "", field, sizeof(**out),
	    option_value_element, a, out, st);
}

frep_code
convert_reservation_from_proto(const Frep__V1__Reservation *in, const char *field, convert_arena *a,
    engine_reservation *out, frep_status *st)
{
	field_name f;
	frep_code  rc;

	if ((rc = object_from_proto(reservation_columns, (const ProtobufCMessage *) in, field,
		 false, out, sizeof(*out), st)) != FREP_OK ||
	    (rc = convert_option_values_from_proto(in->options, in->n_options,
		 fname(&f, field, "options"), a, &out->options, st)) != FREP_OK) {
		return rc;
	}
	out->n_options = in->n_options;
	return FREP_OK;
}

frep_code
convert_option_def_from_proto(const Frep__V1__OptionDefinition *in, const char *field,
    engine_option_def *out, frep_status *st)
{
	return object_from_proto(
	    option_def_columns, (const ProtobufCMessage *) in, field, false, out, sizeof(*out), st);
}

frep_code
convert_class_from_proto(
    const Frep__V1__Class *in, const char *field, engine_class *out, frep_status *st)
{
	return object_from_proto(
	    class_columns, (const ProtobufCMessage *) in, field, false, out, sizeof(*out), st);
}

frep_code
convert_ip_range_from_proto(
    const Frep__V1__IpRange *in, const char *field, engine_ip_range *out, frep_status *st)
{
	field_name f;
	frep_code  rc;

	if ((rc = require_message(in, field, st)) != FREP_OK) {
		return rc;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = convert_ipv4_from_text(in->start_range, fname(&f, field, "start_range"), true,
		 &out->start_range, st)) != FREP_OK ||
	    (rc = convert_ipv4_from_text(in->end_range, fname(&f, field, "end_range"), true,
		 &out->end_range, st)) != FREP_OK) {
		return rc;
	}
	return FREP_OK;
}

static frep_code
ip_range_element(const void *in, const char *field, convert_arena *a, void *out, frep_status *st)
{
	(void) a;
	return convert_ip_range_from_proto(in, field, out, st);
}

static frep_code
criterion_from_proto(
    const void *in_, const char *field, convert_arena *a, void *out_, frep_status *st)
{
	const Frep__V1__Criterion *in  = in_;
	engine_criterion          *out = out_;
	field_name                 f;
	frep_code                  rc;

	(void) a;
	if ((rc = require_message(in, field, st)) != FREP_OK) {
		return rc;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = check_enum((int) in->type, ENGINE_CRITERION_TYPE_FQDN, "CriterionType",
		 fname(&f, field, "type"), st)) != FREP_OK ||
	    (rc = check_enum((int) in->comparator, ENGINE_COMPARATOR_NE, "Comparator",
		 fname(&f, field, "comparator"), st)) != FREP_OK) {
		return rc;
	}
	out->type       = (engine_criterion_type) in->type;
	out->comparator = (engine_comparator) in->comparator;
	out->values     = in->values;
	out->n_values   = in->n_values;
	return FREP_OK;
}

frep_code
convert_policy_from_proto(const Frep__V1__Policy *in, const char *field, convert_arena *a,
    engine_policy *out, frep_status *st)
{
	field_name f;
	frep_code  rc;

	if ((rc = object_from_proto(policy_columns, (const ProtobufCMessage *) in, field, false,
		 out, sizeof(*out), st)) != FREP_OK ||
	    (rc = check_count(in->n_criteria, ENGINE_CRITERIA_MAX, fname(&f, field, "criteria"),
		 st)) != FREP_OK ||
	    (rc = check_count(in->n_ip_ranges, ENGINE_POLICY_RANGES_MAX,
		 fname(&f, field, "ip_ranges"), st)) != FREP_OK ||
	    (rc = convert_option_values_from_proto(in->options, in->n_options,
		 fname(&f, field, "options"), a, &out->options, st)) != FREP_OK) {
		return rc;
	}
	out->n_options = in->n_options;
	if ((rc = list_from_proto((const void *const *) in->criteria, in->n_criteria, field,
		 "criteria", sizeof(*out->criteria), criterion_from_proto, a, &out->criteria,
		 st)) != FREP_OK ||
	    (rc = list_from_proto((const void *const *) in->ip_ranges, in->n_ip_ranges, field,
		 "ip_ranges", sizeof(*out->ip_ranges), ip_range_element, a, &out->ip_ranges, st)) !=
		FREP_OK) {
		return rc;
	}
	out->n_criteria  = in->n_criteria;
	out->n_ip_ranges = in->n_ip_ranges;
	out->enabled_present =
	    in->enabled_present_case == FREP__V1__POLICY__ENABLED_PRESENT_ENABLED;
	out->enabled = out->enabled_present && in->enabled;
	return FREP_OK;
}

static frep_code
scope_id_element(const void *in, const char *field, convert_arena *a, void *out, frep_status *st)
{
	(void) a;
	return convert_ipv4_from_text(in, field, true, out, st);
}

int
convert_cmp_scope_id(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
	return a < b ? -1 : a > b;
}

frep_code
convert_scope_ids_from_proto(
    char *const *in, size_t n, const char *field, convert_arena *a, uint32_t **out, frep_status *st)
{
	frep_code rc;

	*out = NULL;
	if ((rc = check_count(n, CONVERT_SCOPE_IDS_MAX, field, st)) != FREP_OK) {
		return rc;
	}
	return list_from_proto(
	    (const void *const *) in, n, "", field, sizeof(**out), scope_id_element, a, out, st);
}

frep_code
convert_failover_from_proto(const Frep__V1__FailoverRelationship *in, const char *field,
    convert_arena *a, engine_failover *out, frep_status *st)
{
	field_name f;
	frep_code  rc;

	if ((rc = object_from_proto(failover_columns, (const ProtobufCMessage *) in, field, false,
		 out, sizeof(*out), st)) != FREP_OK ||
	    (rc = convert_scope_ids_from_proto(in->scope_ids, in->n_scope_ids,
		 fname(&f, field, "scope_ids"), a, &out->scope_ids, st)) != FREP_OK) {
		return rc;
	}
	out->n_scope_ids = in->n_scope_ids;
	return FREP_OK;
}

frep_code
convert_option_target_from_proto(
    const Frep__V1__OptionTarget *in, const char *field, engine_option_target *out, frep_status *st)
{
	field_name f;
	frep_code  rc;

	memset(out, 0, sizeof(*out));
	if (in == NULL) {
		return FREP_OK;
	}
	if ((rc = convert_ipv4_from_text(in->scope_id, fname(&f, field, "scope_id"), false,
		 &out->scope_id, st)) != FREP_OK ||
	    (rc = convert_ipv4_from_text(in->reserved_ip, fname(&f, field, "reserved_ip"), false,
		 &out->reserved_ip, st)) != FREP_OK) {
		return rc;
	}
	out->policy_name = in->policy_name;
	return FREP_OK;
}

frep_code
convert_audit_filter_from_proto(
    const Frep__V1__ListAuditRequest *in, engine_audit_filter *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->relationship = in->relationship;
	out->limit        = in->limit;
	return convert_ipv4_from_text(in->scope_id, "scope_id", false, &out->scope_id, st);
}

static frep_code
exclusion_element(const void *in, const char *field, convert_arena *a, void *out, frep_status *st)
{
	(void) a;
	return convert_exclusion_from_proto(in, field, out, st);
}

static frep_code
reservation_element(const void *in, const char *field, convert_arena *a, void *out, frep_status *st)
{
	return convert_reservation_from_proto(in, field, a, out, st);
}

static frep_code
definition_ref_from_proto(
    const void *in_, const char *field, convert_arena *a, void *out_, frep_status *st)
{
	const Frep__V1__OptionDefinitionRef *in  = in_;
	engine_option_def_ref               *out = out_;
	frep_code                            rc  = require_message(in, field, st);

	(void) a;
	if (rc == FREP_OK) {
		out->option_id    = in->option_id;
		out->vendor_class = in->vendor_class;
	}
	return rc;
}

static frep_code
class_ref_from_proto(
    const void *in_, const char *field, convert_arena *a, void *out_, frep_status *st)
{
	const Frep__V1__ClassRef *in  = in_;
	engine_class_ref         *out = out_;
	field_name                f;
	frep_code                 rc;

	(void) a;
	if ((rc = require_message(in, field, st)) != FREP_OK ||
	    (rc = convert_class_type_from_proto(
		 (int) in->type, fname(&f, field, "type"), &out->type, st)) != FREP_OK) {
		return rc;
	}
	out->name = in->name;
	return FREP_OK;
}

/* Each object of a snapshot lives in its scope: an object naming another
 * scope (id, given as text) would land there (ImportScope, ApplyScope).
 * INVALID_ARGUMENT naming the field (field.kind[k].scope_id) and both
 * values; 0 (not given) is the snapshot's own scope. */
static frep_code
check_in_snapshot_scope(const Frep__V1__ScopeConfig *in, const engine_scope_config *out,
    const char *field, const char *kind, size_t k, uint32_t id, const char *text, frep_status *st)
{
	field_name fi;
	if (id == 0 || id == out->scope.scope_id) {
		return FREP_OK;
	}
	return frep_status_set(st, FREP_INVALID_ARGUMENT,
	    "%s.scope_id %.40s names another scope than %s.scope.scope_id %.40s",
	    fname_at(&fi, field, kind, k), text, field,
	    in->scope != NULL ? in->scope->scope_id : "");
}

frep_code
convert_scope_config_from_proto(const Frep__V1__ScopeConfig *in, const char *field,
    convert_arena *a, engine_scope_config *out, frep_status *st)
{
	field_name f;
	field_name fi;
	frep_code  rc;
	bool       ok;

	if ((rc = require_message(in, field, st)) != FREP_OK) {
		return rc;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = check_count(in->n_exclusions, CONVERT_EXCLUSIONS_MAX,
		 fname(&f, field, "exclusions"), st)) != FREP_OK ||
	    (rc = check_count(in->n_reservations, CONVERT_RESERVATIONS_MAX,
		 fname(&f, field, "reservations"), st)) != FREP_OK ||
	    (rc = check_count(in->n_policies, CONVERT_POLICIES_MAX, fname(&f, field, "policies"),
		 st)) != FREP_OK ||
	    (rc = check_count(in->n_option_definitions_used, CONVERT_DEPENDENCIES_MAX,
		 fname(&f, field, "option_definitions_used"), st)) != FREP_OK ||
	    (rc = check_count(in->n_classes_used, CONVERT_DEPENDENCIES_MAX,
		 fname(&f, field, "classes_used"), st)) != FREP_OK) {
		return rc;
	}
	const char *digest = str_or_empty(in->digest);
	if (strlen(digest) >= sizeof(out->digest)) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s is %zu characters long (a digest is 64 hex digits)",
		    fname(&f, field, "digest"), strlen(digest));
	}
	memcpy(out->digest, digest, strlen(digest) + 1);

	if ((rc = convert_scope_from_proto(
		 in->scope, fname(&f, field, "scope"), false, &out->scope, st)) != FREP_OK ||
	    (rc = convert_option_values_from_proto(in->options, in->n_options,
		 fname(&f, field, "options"), a, &out->options, st)) != FREP_OK) {
		return rc;
	}
	out->n_options = in->n_options;
	if ((rc = list_from_proto((const void *const *) in->exclusions, in->n_exclusions, field,
		 "exclusions", sizeof(*out->exclusions), exclusion_element, a, &out->exclusions,
		 st)) != FREP_OK ||
	    (rc = list_from_proto((const void *const *) in->reservations, in->n_reservations, field,
		 "reservations", sizeof(*out->reservations), reservation_element, a,
		 &out->reservations, st)) != FREP_OK) {
		return rc;
	}
	out->n_exclusions   = in->n_exclusions;
	out->n_reservations = in->n_reservations;
	for (size_t i = 0; i < out->n_exclusions; i++) {
		if ((rc = check_in_snapshot_scope(in, out, field, "exclusions", i,
			 out->exclusions[i].scope_id, in->exclusions[i]->scope_id, st)) !=
		    FREP_OK) {
			return rc;
		}
	}
	for (size_t i = 0; i < out->n_reservations; i++) {
		if ((rc = check_in_snapshot_scope(in, out, field, "reservations", i,
			 out->reservations[i].scope_id, in->reservations[i]->scope_id, st)) !=
		    FREP_OK) {
			return rc;
		}
	}

	out->policies = arena_array(a, in->n_policies, sizeof(*out->policies), &ok, st);
	if (!ok) {
		return st != NULL ? st->code : FREP_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < in->n_policies; i++) {
		if ((rc = convert_policy_from_proto(in->policies[i],
			 fname_at(&fi, field, "policies", i), a, &out->policies[i], st)) !=
			FREP_OK ||
		    (rc = check_in_snapshot_scope(in, out, field, "policies", i,
			 out->policies[i].scope_id, in->policies[i]->scope_id, st)) != FREP_OK) {
			return rc;
		}
	}
	out->n_policies = in->n_policies;
	if ((rc = list_from_proto((const void *const *) in->option_definitions_used,
		 in->n_option_definitions_used, field, "option_definitions_used",
		 sizeof(*out->option_definitions_used), definition_ref_from_proto, a,
		 &out->option_definitions_used, st)) != FREP_OK ||
	    (rc = list_from_proto((const void *const *) in->classes_used, in->n_classes_used, field,
		 "classes_used", sizeof(*out->classes_used), class_ref_from_proto, a,
		 &out->classes_used, st)) != FREP_OK) {
		return rc;
	}
	out->n_option_definitions_used = in->n_option_definitions_used;
	out->n_classes_used            = in->n_classes_used;
	return FREP_OK;
}

/* --- engine -> proto ---------------------------------------------------- */

/* out = a new arena object of type T initialised with T's INIT; when memory
 * runs out, returns RESOURCE_EXHAUSTED from the enclosing function. */
#define ARENA_NEW(a, T, INIT, st, out)                                                             \
	do {                                                                                       \
		T *p__ = convert_arena_alloc((a), sizeof(T), (st));                                \
		if (p__ == NULL) {                                                                 \
			return FREP_RESOURCE_EXHAUSTED;                                            \
		}                                                                                  \
		T init__ = INIT;                                                                   \
		*p__     = init__;                                                                 \
		(out)    = p__;                                                                    \
	} while (0)

frep_code
convert_scope_to_proto(
    const engine_scope *in, convert_arena *a, Frep__V1__Scope **out, frep_status *st)
{
	Frep__V1__Scope *m =
	    object_to_proto(scope_columns, &frep__v1__scope__descriptor, in, a, st);
	if (m == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	if (in->activate_policies_present) {
		m->activate_policies_present_case =
		    FREP__V1__SCOPE__ACTIVATE_POLICIES_PRESENT_ACTIVATE_POLICIES;
		m->activate_policies = in->activate_policies;
	}
	*out = m;
	return FREP_OK;
}

frep_code
convert_exclusion_to_proto(
    const engine_exclusion *in, convert_arena *a, Frep__V1__ExclusionRange **out, frep_status *st)
{
	*out =
	    object_to_proto(exclusion_columns, &frep__v1__exclusion_range__descriptor, in, a, st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

frep_code
convert_option_value_to_proto(
    const engine_option_value *in, convert_arena *a, Frep__V1__OptionValue **out, frep_status *st)
{
	*out =
	    object_to_proto(option_value_columns, &frep__v1__option_value__descriptor, in, a, st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

/* The adapters of the converters to list_to_proto's element_to_proto. */
static frep_code
option_value_message(const void *in, convert_arena *a, void **out, frep_status *st)
{
	return convert_option_value_to_proto(in, a, (Frep__V1__OptionValue **) out, st);
}

/* n option values into a new arena array of messages. */
static frep_code
option_values_to_proto(const engine_option_value *in, size_t n, convert_arena *a,
    Frep__V1__OptionValue ***out, size_t *n_out, frep_status *st)
{
	return list_to_proto(in, n, sizeof(*in), option_value_message, a, out, n_out, st);
}

frep_code
convert_reservation_to_proto(
    const engine_reservation *in, convert_arena *a, Frep__V1__Reservation **out, frep_status *st)
{
	Frep__V1__Reservation *m =
	    object_to_proto(reservation_columns, &frep__v1__reservation__descriptor, in, a, st);
	frep_code rc;
	if (m == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	if ((rc = option_values_to_proto(
		 in->options, in->n_options, a, &m->options, &m->n_options, st)) != FREP_OK) {
		return rc;
	}
	*out = m;
	return FREP_OK;
}

frep_code
convert_option_def_to_proto(const engine_option_def *in, convert_arena *a,
    Frep__V1__OptionDefinition **out, frep_status *st)
{
	*out = object_to_proto(
	    option_def_columns, &frep__v1__option_definition__descriptor, in, a, st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

frep_code
convert_class_to_proto(
    const engine_class *in, convert_arena *a, Frep__V1__Class **out, frep_status *st)
{
	*out = object_to_proto(class_columns, &frep__v1__class__descriptor, in, a, st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

static frep_code
criterion_to_proto(const void *in_, convert_arena *a, void **out, frep_status *st)
{
	const engine_criterion *in = in_;
	Frep__V1__Criterion    *c;
	ARENA_NEW(a, Frep__V1__Criterion, FREP__V1__CRITERION__INIT, st, c);
	c->type       = (Frep__V1__CriterionType) in->type;
	c->comparator = (Frep__V1__Comparator) in->comparator;
	c->values     = in->values;
	c->n_values   = in->values != NULL ? in->n_values : 0;
	*out          = c;
	return FREP_OK;
}

static frep_code
ip_range_to_proto(const void *in_, convert_arena *a, void **out, frep_status *st)
{
	const engine_ip_range *in = in_;
	Frep__V1__IpRange     *r;
	ARENA_NEW(a, Frep__V1__IpRange, FREP__V1__IP_RANGE__INIT, st, r);
	if ((r->start_range = convert_ipv4_to_text(a, in->start_range, false, st)) == NULL ||
	    (r->end_range = convert_ipv4_to_text(a, in->end_range, false, st)) == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	*out = r;
	return FREP_OK;
}

frep_code
convert_policy_to_proto(
    const engine_policy *in, convert_arena *a, Frep__V1__Policy **out, frep_status *st)
{
	Frep__V1__Policy *m =
	    object_to_proto(policy_columns, &frep__v1__policy__descriptor, in, a, st);
	frep_code rc;
	if (m == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	if (in->enabled_present) {
		m->enabled_present_case = FREP__V1__POLICY__ENABLED_PRESENT_ENABLED;
		m->enabled              = in->enabled;
	}
	if ((rc = list_to_proto(in->criteria, in->n_criteria, sizeof(*in->criteria),
		 criterion_to_proto, a, &m->criteria, &m->n_criteria, st)) != FREP_OK ||
	    (rc = list_to_proto(in->ip_ranges, in->n_ip_ranges, sizeof(*in->ip_ranges),
		 ip_range_to_proto, a, &m->ip_ranges, &m->n_ip_ranges, st)) != FREP_OK ||
	    (rc = option_values_to_proto(
		 in->options, in->n_options, a, &m->options, &m->n_options, st)) != FREP_OK) {
		return rc;
	}
	*out = m;
	return FREP_OK;
}

static frep_code
scope_id_to_text(const void *in, convert_arena *a, void **out, frep_status *st)
{
	*(char **) out = convert_ipv4_to_text(a, *(const uint32_t *) in, false, st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

frep_code
convert_failover_to_proto(const engine_failover *in, convert_arena *a,
    Frep__V1__FailoverRelationship **out, frep_status *st)
{
	Frep__V1__FailoverRelationship *m = object_to_proto(
	    failover_columns, &frep__v1__failover_relationship__descriptor, in, a, st);
	frep_code rc;
	if (m == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	if ((rc = list_to_proto(in->scope_ids, in->n_scope_ids, sizeof(*in->scope_ids),
		 scope_id_to_text, a, &m->scope_ids, &m->n_scope_ids, st)) != FREP_OK) {
		return rc;
	}
	*out = m;
	return FREP_OK;
}

frep_code
convert_audit_record_to_proto(
    const engine_audit_record *in, convert_arena *a, Frep__V1__AuditRecord **out, frep_status *st)
{
	Frep__V1__AuditRecord *m;
	ARENA_NEW(a, Frep__V1__AuditRecord, FREP__V1__AUDIT_RECORD__INIT, st, m);
	if ((m->scope_id = convert_ipv4_to_text(a, in->scope_id, true, st)) == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	m->id            = in->id;
	m->time_unix_ms  = in->time_unix_ms;
	m->direction     = str_or_empty(in->direction);
	m->source        = str_or_empty(in->source);
	m->relationship  = str_or_empty(in->relationship);
	m->digest_before = str_or_empty(in->digest_before);
	m->digest_after  = str_or_empty(in->digest_after);
	m->added         = in->added;
	m->updated       = in->updated;
	m->removed       = in->removed;
	m->code          = in->code;
	m->message       = str_or_empty(in->message);
	m->request_id    = str_or_empty(in->request_id);
	*out             = m;
	return FREP_OK;
}

static frep_code
exclusion_message(const void *in, convert_arena *a, void **out, frep_status *st)
{
	return convert_exclusion_to_proto(in, a, (Frep__V1__ExclusionRange **) out, st);
}

static frep_code
reservation_message(const void *in, convert_arena *a, void **out, frep_status *st)
{
	return convert_reservation_to_proto(in, a, (Frep__V1__Reservation **) out, st);
}

static frep_code
policy_message(const void *in, convert_arena *a, void **out, frep_status *st)
{
	return convert_policy_to_proto(in, a, (Frep__V1__Policy **) out, st);
}

static frep_code
definition_ref_to_proto(const void *in_, convert_arena *a, void **out, frep_status *st)
{
	const engine_option_def_ref   *in = in_;
	Frep__V1__OptionDefinitionRef *r;
	ARENA_NEW(a, Frep__V1__OptionDefinitionRef, FREP__V1__OPTION_DEFINITION_REF__INIT, st, r);
	r->option_id    = in->option_id;
	r->vendor_class = str_or_empty(in->vendor_class);
	*out            = r;
	return FREP_OK;
}

static frep_code
class_ref_to_proto(const void *in_, convert_arena *a, void **out, frep_status *st)
{
	const engine_class_ref *in = in_;
	Frep__V1__ClassRef     *r;
	ARENA_NEW(a, Frep__V1__ClassRef, FREP__V1__CLASS_REF__INIT, st, r);
	r->type = (Frep__V1__ClassType) in->type;
	r->name = str_or_empty(in->name);
	*out    = r;
	return FREP_OK;
}

frep_code
convert_scope_config_to_proto(
    const engine_scope_config *in, convert_arena *a, Frep__V1__ScopeConfig **out, frep_status *st)
{
	Frep__V1__ScopeConfig *m;
	frep_code              rc;
	ARENA_NEW(a, Frep__V1__ScopeConfig, FREP__V1__SCOPE_CONFIG__INIT, st, m);
	if ((rc = convert_scope_to_proto(&in->scope, a, &m->scope, st)) != FREP_OK ||
	    (rc = list_to_proto(in->exclusions, in->n_exclusions, sizeof(*in->exclusions),
		 exclusion_message, a, &m->exclusions, &m->n_exclusions, st)) != FREP_OK ||
	    (rc = list_to_proto(in->reservations, in->n_reservations, sizeof(*in->reservations),
		 reservation_message, a, &m->reservations, &m->n_reservations, st)) != FREP_OK ||
	    (rc = option_values_to_proto(
		 in->options, in->n_options, a, &m->options, &m->n_options, st)) != FREP_OK ||
	    (rc = list_to_proto(in->policies, in->n_policies, sizeof(*in->policies), policy_message,
		 a, &m->policies, &m->n_policies, st)) != FREP_OK ||
	    (rc = list_to_proto(in->option_definitions_used, in->n_option_definitions_used,
		 sizeof(*in->option_definitions_used), definition_ref_to_proto, a,
		 &m->option_definitions_used, &m->n_option_definitions_used, st)) != FREP_OK ||
	    (rc = list_to_proto(in->classes_used, in->n_classes_used, sizeof(*in->classes_used),
		 class_ref_to_proto, a, &m->classes_used, &m->n_classes_used, st)) != FREP_OK) {
		return rc;
	}
	m->digest = (char *) in->digest;
	*out      = m;
	return FREP_OK;
}

static frep_code
object_changes_to_proto(const engine_object_changes *in, convert_arena *a,
    Frep__V1__ObjectChanges **out, frep_status *st)
{
	Frep__V1__ObjectChanges *m;
	ARENA_NEW(a, Frep__V1__ObjectChanges, FREP__V1__OBJECT_CHANGES__INIT, st, m);
	m->added   = in->added;
	m->updated = in->updated;
	m->removed = in->removed;
	*out       = m;
	return FREP_OK;
}

frep_code
convert_scope_changes_to_proto(
    const engine_scope_changes *in, convert_arena *a, Frep__V1__ScopeChanges **out, frep_status *st)
{
	Frep__V1__ScopeChanges *m;
	frep_code               rc;
	ARENA_NEW(a, Frep__V1__ScopeChanges, FREP__V1__SCOPE_CHANGES__INIT, st, m);
	if ((rc = object_changes_to_proto(&in->scope, a, &m->scope, st)) != FREP_OK ||
	    (rc = object_changes_to_proto(&in->exclusions, a, &m->exclusions, st)) != FREP_OK ||
	    (rc = object_changes_to_proto(&in->reservations, a, &m->reservations, st)) != FREP_OK ||
	    (rc = object_changes_to_proto(&in->options, a, &m->options, st)) != FREP_OK ||
	    (rc = object_changes_to_proto(&in->policies, a, &m->policies, st)) != FREP_OK) {
		return rc;
	}
	*out = m;
	return FREP_OK;
}

static frep_code
object_diff_to_proto(const void *in_, convert_arena *a, void **out, frep_status *st)
{
	const engine_object_diff *in = in_;
	Frep__V1__ObjectDiff     *d;
	ARENA_NEW(a, Frep__V1__ObjectDiff, FREP__V1__OBJECT_DIFF__INIT, st, d);
	d->kind   = (char *) (in->kind != NULL ? in->kind : "");
	d->key    = str_or_empty(in->key);
	d->action = (Frep__V1__DiffAction) in->action;
	*out      = d;
	return FREP_OK;
}

frep_code
convert_object_diffs_to_proto(const engine_object_diff *in, size_t n, convert_arena *a,
    Frep__V1__ObjectDiff ***out, frep_status *st)
{
	size_t n_out;
	return list_to_proto(in, n, sizeof(*in), object_diff_to_proto, a, out, &n_out, st);
}
