#include "object_kinds.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "rpc_server.h"

/* The fields a request may key an object by. The enum's name for each is
 * the request's field name (key_fields) and the name errors give. */
typedef enum key_field {
	KEY_END = 0,      /* ends a method's key */
	KEY_SCOPE_ID,     /* scope_id, required */
	KEY_SCOPE_FILTER, /* scope_id, empty = every scope */
	KEY_IP_ADDRESS,   /* ip_address, required */
	KEY_OPTION_ID,
	KEY_NAME,
	KEY_VENDOR_CLASS,
	KEY_USER_CLASS,
	KEY_FORCE,
	KEY_ALL_VENDORS,
	KEY_CLASS_TYPE,
	KEY_TARGET,       /* an OptionTarget (absent = server level) */
	KEY_SERVER_LEVEL, /* ListPolicies: server-level policies */
	KEY_POLICY_SCOPE, /* scope_id, required unless KEY_SERVER_LEVEL (read first) */
} key_field;

static const struct {
	const char   *name;
	ProtobufCType type;
} key_fields[] = {
    [KEY_SCOPE_ID]     = {"scope_id", PROTOBUF_C_TYPE_STRING},
    [KEY_SCOPE_FILTER] = {"scope_id", PROTOBUF_C_TYPE_STRING},
    [KEY_IP_ADDRESS]   = {"ip_address", PROTOBUF_C_TYPE_STRING},
    [KEY_OPTION_ID]    = {"option_id", PROTOBUF_C_TYPE_UINT32},
    [KEY_NAME]         = {"name", PROTOBUF_C_TYPE_STRING},
    [KEY_VENDOR_CLASS] = {"vendor_class", PROTOBUF_C_TYPE_STRING},
    [KEY_USER_CLASS]   = {"user_class", PROTOBUF_C_TYPE_STRING},
    [KEY_FORCE]        = {"force", PROTOBUF_C_TYPE_BOOL},
    [KEY_ALL_VENDORS]  = {"all_vendors", PROTOBUF_C_TYPE_BOOL},
    [KEY_CLASS_TYPE]   = {"type", PROTOBUF_C_TYPE_ENUM},
    [KEY_TARGET]       = {"target", PROTOBUF_C_TYPE_MESSAGE},
    [KEY_SERVER_LEVEL] = {"server_level", PROTOBUF_C_TYPE_BOOL},
    [KEY_POLICY_SCOPE] = {"scope_id", PROTOBUF_C_TYPE_STRING},
};

/* A request's key, read field by field (what a method does not key by
 * stays zero). Strings are borrowed from the request. */
typedef struct object_key {
	uint32_t             scope_id;
	uint32_t             ip_address;
	uint32_t             option_id;
	const char          *name;
	const char          *vendor_class;
	const char          *user_class;
	bool                 force;
	bool                 all_vendors;
	bool                 server_level;
	engine_class_type    type;
	engine_option_target target;
} object_key;

typedef enum object_op { OP_ADD, OP_SET, OP_GET, OP_LIST, OP_REMOVE, OP_COUNT } object_op;

/* One engine call's arguments and results. */
typedef struct object_call {
	object_key         key;
	const void        *in;   /* the object of add / set (and exclusion remove) */
	const char *const *mask; /* set's update_mask */
	size_t             n_mask;
	void              *out; /* add / set / get result */
	/* The failover hooks (the partner's side of an operation) and the
	 * call they are given. */
	const dhcp_service_failover_hooks *hooks;
	rpc_call                          *call;
	union { /* OP_LIST: the engine's array of n objects */
		void                *any;
		engine_scope        *scope;
		engine_exclusion    *exclusion;
		engine_reservation  *reservation;
		engine_option_def   *option_def;
		engine_option_value *option_value;
		engine_class        *cls;
		engine_policy       *policy;
		engine_failover     *failover;
	} list;
	size_t n;
} object_call;

#define KEY_FIELDS_MAX 4

/* One method of a kind. */
typedef struct object_method {
	const char *name;   /* the DhcpServer method; NULL = the kind has none */
	const char *object; /* the object's field in the request (and in messages); NULL = none */
	bool        whole;  /* the request is the object itself, named object in messages */
	key_field   key[KEY_FIELDS_MAX]; /* read in this order, ending at KEY_END */
} object_method;

typedef frep_code (*object_engine_call)(engine *e, object_call *c, frep_status *st);

/* One object kind: its engine struct, its conversions, its engine calls
 * (one per method it has), its methods. */
struct object_kind {
	size_t size;
	frep_code (*from_proto)(const ProtobufCMessage *in, const char *field, bool partial,
	    convert_arena *a, void *out, frep_status *st);
	frep_code (*to_proto)(
	    const void *in, convert_arena *a, ProtobufCMessage **out, frep_status *st);
	void (*fini)(void *obj); /* NULL: the struct owns nothing */
	object_engine_call calls[OP_COUNT];
	object_method      methods[OP_COUNT];
};

/* Room for any kind's engine struct. */
typedef union object_storage {
	engine_scope        scope;
	engine_exclusion    exclusion;
	engine_reservation  reservation;
	engine_option_def   option_def;
	engine_option_value option_value;
	engine_class        cls;
	engine_policy       policy;
	engine_failover     failover;
} object_storage;

/* The adapters the kinds share in shape, typed to the row's generic
 * signatures (as ENGINE__ARRAY_FREE does for arrays): the request and reply
 * conversions, fini, and the engine's add and set. What differs per kind
 * (its keys, its engine calls' other arguments) is written out below. */
#define ADAPT_FROM(kind, message)                                                                  \
	static frep_code kind##_from_proto(const ProtobufCMessage *in, const char *field,          \
	    bool partial, convert_arena *a, void *out, frep_status *st)                            \
	{                                                                                          \
		(void) partial;                                                                    \
		(void) a;                                                                          \
		return convert_##kind##_from_proto((const message *) in, field, out, st);          \
	}

/* The same for the kinds whose conversion copies nested lists into a. */
#define ADAPT_FROM_ARENA(kind, message)                                                            \
	static frep_code kind##_from_proto(const ProtobufCMessage *in, const char *field,          \
	    bool partial, convert_arena *a, void *out, frep_status *st)                            \
	{                                                                                          \
		(void) partial;                                                                    \
		return convert_##kind##_from_proto((const message *) in, field, a, out, st);       \
	}

#define ADAPT_TO(kind, model, message)                                                             \
	static frep_code kind##_to_proto(                                                          \
	    const void *in, convert_arena *a, ProtobufCMessage **out, frep_status *st)             \
	{                                                                                          \
		return convert_##kind##_to_proto((const model *) in, a, (message **) out, st);     \
	}

#define ADAPT_FINI(kind)                                                                           \
	static void kind##_fini(void *obj)                                                         \
	{                                                                                          \
		engine_##kind##_fini(obj);                                                         \
	}

#define ADAPT_WRITES(kind)                                                                         \
	static frep_code kind##_add(engine *e, object_call *c, frep_status *st)                    \
	{                                                                                          \
		return engine_##kind##_add(e, c->in, c->out, st);                                  \
	}                                                                                          \
	static frep_code kind##_set(engine *e, object_call *c, frep_status *st)                    \
	{                                                                                          \
		return engine_##kind##_set(e, c->in, c->mask, c->n_mask, c->out, st);              \
	}

/* The kinds keyed by two fields (k1, k2): get and remove by both, list by
 * the first (the scope, or a class's type); member is the kind's array in
 * object_call.list. */
#define ADAPT_KEYED(kind, member, k1, k2)                                                          \
	static frep_code kind##_get(engine *e, object_call *c, frep_status *st)                    \
	{                                                                                          \
		return engine_##kind##_get(e, c->key.k1, c->key.k2, c->out, st);                   \
	}                                                                                          \
	static frep_code kind##_list(engine *e, object_call *c, frep_status *st)                   \
	{                                                                                          \
		return engine_##kind##_list(e, c->key.k1, &c->list.member, &c->n, st);             \
	}                                                                                          \
	static frep_code kind##_remove(engine *e, object_call *c, frep_status *st)                 \
	{                                                                                          \
		return engine_##kind##_remove(e, c->key.k1, c->key.k2, st);                        \
	}

/* --- scopes ------------------------------------------------------------- */

ADAPT_TO(scope, engine_scope, Frep__V1__Scope)
ADAPT_FINI(scope)
ADAPT_WRITES(scope)

static frep_code
scope_from_proto(const ProtobufCMessage *in, const char *field, bool partial, convert_arena *a,
    void *out, frep_status *st)
{
	(void) a;
	return convert_scope_from_proto((const Frep__V1__Scope *) in, field, partial, out, st);
}

static frep_code
scope_get(engine *e, object_call *c, frep_status *st)
{
	return engine_scope_get(e, c->key.scope_id, c->out, st);
}

static frep_code
scope_list(engine *e, object_call *c, frep_status *st)
{
	return engine_scope_list(e, &c->list.scope, &c->n, st);
}

/* RemoveScope: with force, a scope of a failover relationship leaves it on
 * both servers first (the hook; the partner deletes its copy, as
 * RemoveFailoverScope does), so that the pair does not keep, or bring back,
 * a copy only the partner has. */
static frep_code
scope_remove(engine *e, object_call *c, frep_status *st)
{
	const dhcp_service_failover_hooks *h = c->hooks;
	if (h->remove_scope != NULL) {
		return h->remove_scope(h->ctx, c->call, e, c->key.scope_id, c->key.force, st);
	}
	return engine_scope_remove(e, c->key.scope_id, c->key.force, st);
}

static const struct object_kind scope_kind = {
    .size       = sizeof(engine_scope),
    .from_proto = scope_from_proto,
    .to_proto   = scope_to_proto,
    .fini       = scope_fini,
    .calls      = {scope_add, scope_set, scope_get, scope_list, scope_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddScope", .object = "scope", .whole = true},
	    [OP_SET]    = {.name = "SetScope", .object = "scope"},
	    [OP_GET]    = {.name = "GetScope", .key = {KEY_SCOPE_ID}},
	    [OP_LIST]   = {.name = "ListScopes"},
	    [OP_REMOVE] = {.name = "RemoveScope", .key = {KEY_SCOPE_ID, KEY_FORCE}},
	},
};

/* --- exclusion ranges: no Set or Get; Add answers what it was given ------ */

ADAPT_FROM(exclusion, Frep__V1__ExclusionRange)
ADAPT_TO(exclusion, engine_exclusion, Frep__V1__ExclusionRange)
static frep_code
exclusion_add(engine *e, object_call *c, frep_status *st)
{
	frep_code rc = engine_exclusion_add(e, c->in, st);
	if (rc == FREP_OK) {
		memcpy(c->out, c->in, sizeof(engine_exclusion));
	}
	return rc;
}

static frep_code
exclusion_list(engine *e, object_call *c, frep_status *st)
{
	return engine_exclusion_list(e, c->key.scope_id, &c->list.exclusion, &c->n, st);
}

static frep_code
exclusion_remove(engine *e, object_call *c, frep_status *st)
{
	return engine_exclusion_remove(e, c->in, st);
}

static const struct object_kind exclusion_kind = {
    .size       = sizeof(engine_exclusion),
    .from_proto = exclusion_from_proto,
    .to_proto   = exclusion_to_proto,
    .calls = {[OP_ADD] = exclusion_add, [OP_LIST] = exclusion_list, [OP_REMOVE] = exclusion_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddExclusionRange", .object = "exclusion", .whole = true},
	    [OP_LIST]   = {.name = "ListExclusionRanges", .key = {KEY_SCOPE_FILTER}},
	    [OP_REMOVE] = {.name = "RemoveExclusionRange", .object = "exclusion", .whole = true},
	},
};

/* --- reservations ------------------------------------------------------- */

ADAPT_FROM_ARENA(reservation, Frep__V1__Reservation)
ADAPT_TO(reservation, engine_reservation, Frep__V1__Reservation)
ADAPT_FINI(reservation)
ADAPT_WRITES(reservation)
ADAPT_KEYED(reservation, reservation, scope_id, ip_address)

static const struct object_kind reservation_kind = {
    .size       = sizeof(engine_reservation),
    .from_proto = reservation_from_proto,
    .to_proto   = reservation_to_proto,
    .fini       = reservation_fini,
    .calls      = {reservation_add, reservation_set, reservation_get, reservation_list,
	     reservation_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddReservation", .object = "reservation", .whole = true},
	    [OP_SET]    = {.name = "SetReservation", .object = "reservation"},
	    [OP_GET]    = {.name = "GetReservation", .key = {KEY_SCOPE_ID, KEY_IP_ADDRESS}},
	    [OP_LIST]   = {.name = "ListReservations", .key = {KEY_SCOPE_FILTER}},
	    [OP_REMOVE] = {.name = "RemoveReservation", .key = {KEY_SCOPE_ID, KEY_IP_ADDRESS}},
	},
};

/* --- option definitions ------------------------------------------------- */

ADAPT_FROM(option_def, Frep__V1__OptionDefinition)
ADAPT_TO(option_def, engine_option_def, Frep__V1__OptionDefinition)
ADAPT_FINI(option_def)
ADAPT_WRITES(option_def)

static frep_code
option_def_get(engine *e, object_call *c, frep_status *st)
{
	return engine_option_def_get(e, c->key.option_id, c->key.vendor_class, c->out, st);
}

static frep_code
option_def_list(engine *e, object_call *c, frep_status *st)
{
	return engine_option_def_list(
	    e, c->key.vendor_class, c->key.all_vendors, &c->list.option_def, &c->n, st);
}

static frep_code
option_def_remove(engine *e, object_call *c, frep_status *st)
{
	return engine_option_def_remove(e, c->key.option_id, c->key.vendor_class, st);
}

static const struct object_kind option_def_kind = {
    .size       = sizeof(engine_option_def),
    .from_proto = option_def_from_proto,
    .to_proto   = option_def_to_proto,
    .fini       = option_def_fini,
    .calls = {option_def_add, option_def_set, option_def_get, option_def_list, option_def_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddOptionDefinition", .object = "definition", .whole = true},
	    [OP_SET]    = {.name = "SetOptionDefinition", .object = "definition"},
	    [OP_GET]    = {.name = "GetOptionDefinition", .key = {KEY_OPTION_ID, KEY_VENDOR_CLASS}},
	    [OP_LIST]   = {.name = "ListOptionDefinitions",
		  .key           = {KEY_VENDOR_CLASS, KEY_ALL_VENDORS}},
	    [OP_REMOVE] = {.name = "RemoveOptionDefinition",
		.key             = {KEY_OPTION_ID, KEY_VENDOR_CLASS}},
	},
};

/* --- option values: Set adds or replaces at a target; no Add ------------- */

ADAPT_FROM(option_value, Frep__V1__OptionValue)
ADAPT_TO(option_value, engine_option_value, Frep__V1__OptionValue)
ADAPT_FINI(option_value)

static frep_code
option_value_set(engine *e, object_call *c, frep_status *st)
{
	return engine_option_value_set(e, &c->key.target, c->in, c->out, st);
}

static frep_code
option_value_get(engine *e, object_call *c, frep_status *st)
{
	const object_key *k = &c->key;
	return engine_option_value_get(
	    e, &k->target, k->option_id, k->vendor_class, k->user_class, c->out, st);
}

static frep_code
option_value_list(engine *e, object_call *c, frep_status *st)
{
	return engine_option_value_list(e, &c->key.target, &c->list.option_value, &c->n, st);
}

static frep_code
option_value_remove(engine *e, object_call *c, frep_status *st)
{
	const object_key *k = &c->key;
	return engine_option_value_remove(
	    e, &k->target, k->option_id, k->vendor_class, k->user_class, st);
}

static const struct object_kind option_value_kind = {
    .size       = sizeof(engine_option_value),
    .from_proto = option_value_from_proto,
    .to_proto   = option_value_to_proto,
    .fini       = option_value_fini,
    .calls      = {[OP_SET] = option_value_set,
	     [OP_GET]       = option_value_get,
	     [OP_LIST]      = option_value_list,
	     [OP_REMOVE]    = option_value_remove},
    .methods =
	{
	    [OP_SET]    = {.name = "SetOptionValue", .object = "value", .key = {KEY_TARGET}},
	    [OP_GET]    = {.name = "GetOptionValue",
		   .key          = {KEY_TARGET, KEY_OPTION_ID, KEY_VENDOR_CLASS, KEY_USER_CLASS}},
	    [OP_LIST]   = {.name = "ListOptionValues", .key = {KEY_TARGET}},
	    [OP_REMOVE] = {.name = "RemoveOptionValue",
		.key             = {KEY_TARGET, KEY_OPTION_ID, KEY_VENDOR_CLASS, KEY_USER_CLASS}},
	},
};

/* --- classes ------------------------------------------------------------ */

ADAPT_FROM(class, Frep__V1__Class)
ADAPT_TO(class, engine_class, Frep__V1__Class)
ADAPT_FINI(class)
ADAPT_WRITES(class)
ADAPT_KEYED(class, cls, type, name)

static const struct object_kind class_kind = {
    .size       = sizeof(engine_class),
    .from_proto = class_from_proto,
    .to_proto   = class_to_proto,
    .fini       = class_fini,
    .calls      = {class_add, class_set, class_get, class_list, class_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddClass", .object = "class", .whole = true},
	    [OP_SET]    = {.name = "SetClass", .object = "class_def"},
	    [OP_GET]    = {.name = "GetClass", .key = {KEY_CLASS_TYPE, KEY_NAME}},
	    [OP_LIST]   = {.name = "ListClasses", .key = {KEY_CLASS_TYPE}},
	    [OP_REMOVE] = {.name = "RemoveClass", .key = {KEY_CLASS_TYPE, KEY_NAME}},
	},
};

/* --- policies: the IP ranges are explicit (dhcp_service.c) -------------- */

ADAPT_FROM_ARENA(policy, Frep__V1__Policy)
ADAPT_TO(policy, engine_policy, Frep__V1__Policy)
ADAPT_FINI(policy)
ADAPT_WRITES(policy)
ADAPT_KEYED(policy, policy, scope_id, name)

static const struct object_kind policy_kind = {
    .size       = sizeof(engine_policy),
    .from_proto = policy_from_proto,
    .to_proto   = policy_to_proto,
    .fini       = policy_fini,
    .calls      = {policy_add, policy_set, policy_get, policy_list, policy_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddPolicy", .object = "policy", .whole = true},
	    [OP_SET]    = {.name = "SetPolicy", .object = "policy"},
	    [OP_GET]    = {.name = "GetPolicy", .key = {KEY_SCOPE_FILTER, KEY_NAME}},
	    [OP_LIST]   = {.name = "ListPolicies", .key = {KEY_SERVER_LEVEL, KEY_POLICY_SCOPE}},
	    [OP_REMOVE] = {.name = "RemovePolicy", .key = {KEY_SCOPE_FILTER, KEY_NAME}},
	},
};

/* --- failover relationships: the hooks, when set, do the whole operation
 * (the partner's side too); the scopes of a relationship are explicit
 * (dhcp_service.c) ------------------------------------------------------- */

ADAPT_FROM_ARENA(failover, Frep__V1__FailoverRelationship)
ADAPT_TO(failover, engine_failover, Frep__V1__FailoverRelationship)
ADAPT_FINI(failover)

static frep_code
failover_add(engine *e, object_call *c, frep_status *st)
{
	const dhcp_service_failover_hooks *h   = c->hooks;
	engine_failover                    rel = *(const engine_failover *) c->in;

	/* state is output only: a new relationship starts NORMAL. */
	rel.state = ENGINE_FAILOVER_STATE_UNSPECIFIED;
	if (h->add_failover != NULL) {
		return h->add_failover(h->ctx, c->call, e, &rel, c->key.force, c->out, st);
	}
	return engine_failover_add(e, &rel, c->out, st);
}

static frep_code
failover_set(engine *e, object_call *c, frep_status *st)
{
	const dhcp_service_failover_hooks *h = c->hooks;
	if (h->set_failover != NULL) {
		return h->set_failover(h->ctx, c->call, e, c->in, c->mask, c->n_mask, c->out, st);
	}
	return engine_failover_set(e, c->in, c->mask, c->n_mask, c->out, st);
}

static frep_code
failover_get(engine *e, object_call *c, frep_status *st)
{
	return engine_failover_get(e, c->key.name, c->out, st);
}

static frep_code
failover_list(engine *e, object_call *c, frep_status *st)
{
	return engine_failover_list(e, &c->list.failover, &c->n, st);
}

static frep_code
failover_remove(engine *e, object_call *c, frep_status *st)
{
	const dhcp_service_failover_hooks *h = c->hooks;
	if (h->remove_failover != NULL) {
		return h->remove_failover(h->ctx, c->call, e, c->key.name, st);
	}
	return engine_failover_remove(e, c->key.name, st);
}

static const struct object_kind failover_kind = {
    .size       = sizeof(engine_failover),
    .from_proto = failover_from_proto,
    .to_proto   = failover_to_proto,
    .fini       = failover_fini,
    .calls      = {failover_add, failover_set, failover_get, failover_list, failover_remove},
    .methods =
	{
	    [OP_ADD]    = {.name = "AddFailover", .object = "relationship", .key = {KEY_FORCE}},
	    [OP_SET]    = {.name = "SetFailover", .object = "relationship"},
	    [OP_GET]    = {.name = "GetFailover", .key = {KEY_NAME}},
	    [OP_LIST]   = {.name = "ListFailovers"},
	    [OP_REMOVE] = {.name = "RemoveFailover", .key = {KEY_NAME}},
	},
};

/* --- the table ---------------------------------------------------------- */

static const struct object_kind *const kinds[] = {
    &scope_kind,
    &exclusion_kind,
    &reservation_kind,
    &option_def_kind,
    &option_value_kind,
    &class_kind,
    &policy_kind,
    &failover_kind,
    NULL,
};

static const ProtobufCFieldDescriptor *
field_of(const ProtobufCMessageDescriptor *d, const char *name)
{
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(d, name);
	assert(fd != NULL && "an object-kind row names a field its request lacks");
	return fd;
}

/* The request's field fd as type T (the descriptors say where it sits). */
#define FIELD(T, msg, fd) (*(T const *) ((const char *) (msg) + (fd)->offset))

/* Checks a row against the method's descriptors: a mismatch is a
 * programmer's mistake, caught the first time a service is created. */
static void
check_method(const object_method *m, const ProtobufCMethodDescriptor *md, object_op op)
{
	for (size_t i = 0; i < KEY_FIELDS_MAX && m->key[i] != KEY_END; i++) {
		const ProtobufCFieldDescriptor *fd =
		    field_of(md->input, key_fields[m->key[i]].name);
		assert(fd->type == key_fields[m->key[i]].type);
		(void) fd;
	}
	if (m->object != NULL && !m->whole) {
		assert(field_of(md->input, m->object)->type == PROTOBUF_C_TYPE_MESSAGE);
	}
	if (op == OP_LIST) {
		assert(md->output->n_fields == 1 &&
		       md->output->fields[0].type == PROTOBUF_C_TYPE_MESSAGE &&
		       md->output->fields[0].label == PROTOBUF_C_LABEL_REPEATED);
	}
	(void) op;
}

bool
object_kinds_find(const ProtobufCMethodDescriptor *method, object_kinds_route *out)
{
	for (size_t k = 0; kinds[k] != NULL; k++) {
		for (int op = 0; op < OP_COUNT; op++) {
			const object_method *m = &kinds[k]->methods[op];
			if (m->name != NULL && strcmp(m->name, method->name) == 0) {
				check_method(m, method, (object_op) op);
				assert(kinds[k]->calls[op] != NULL);
				out->kind   = kinds[k];
				out->op     = op;
				out->output = method->output;
				return true;
			}
		}
	}
	return false;
}

/* --- serving ------------------------------------------------------------ */

static frep_code
read_key(const object_method *m, const ProtobufCMessage *in, object_key *key, frep_status *st)
{
	frep_code rc = FREP_OK;

	for (size_t i = 0; i < KEY_FIELDS_MAX && m->key[i] != KEY_END && rc == FREP_OK; i++) {
		const char                     *name = key_fields[m->key[i]].name;
		const ProtobufCFieldDescriptor *fd   = field_of(in->descriptor, name);

		switch (m->key[i]) {
		case KEY_SCOPE_ID:
		case KEY_SCOPE_FILTER:
			rc = convert_ipv4_from_text(FIELD(char *, in, fd), name,
			    m->key[i] == KEY_SCOPE_ID, &key->scope_id, st);
			break;
		case KEY_IP_ADDRESS:
			rc = convert_ipv4_from_text(
			    FIELD(char *, in, fd), name, true, &key->ip_address, st);
			break;
		case KEY_OPTION_ID:
			key->option_id = FIELD(uint32_t, in, fd);
			break;
		case KEY_NAME:
			key->name = FIELD(char *, in, fd);
			break;
		case KEY_VENDOR_CLASS:
			key->vendor_class = FIELD(char *, in, fd);
			break;
		case KEY_USER_CLASS:
			key->user_class = FIELD(char *, in, fd);
			break;
		case KEY_FORCE:
			key->force = FIELD(protobuf_c_boolean, in, fd) != 0;
			break;
		case KEY_ALL_VENDORS:
			key->all_vendors = FIELD(protobuf_c_boolean, in, fd) != 0;
			break;
		case KEY_CLASS_TYPE:
			rc =
			    convert_class_type_from_proto(FIELD(int, in, fd), name, &key->type, st);
			break;
		case KEY_TARGET:
			rc = convert_option_target_from_proto(
			    FIELD(Frep__V1__OptionTarget *, in, fd), name, &key->target, st);
			break;
		case KEY_SERVER_LEVEL:
			key->server_level = FIELD(protobuf_c_boolean, in, fd) != 0;
			break;
		case KEY_POLICY_SCOPE:
			/* scope_id 0 means server level to the engine: an empty
			 * scope_id without server_level is a forgotten field,
			 * not a request for them. */
			if (key->server_level) {
				break;
			}
			if (FIELD(char *, in, fd) == NULL || FIELD(char *, in, fd)[0] == '\0') {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "scope_id is required (or server_level for server-level "
				    "policies)");
			} else {
				rc = convert_ipv4_from_text(
				    FIELD(char *, in, fd), name, true, &key->scope_id, st);
			}
			break;
		default:
			break;
		}
	}
	return rc;
}

/* The object of an add / set (or a whole-object remove) into *obj, with
 * set's update_mask into c. */
static frep_code
read_object(const struct object_kind *k, const object_method *m, const ProtobufCMessage *in,
    convert_arena *a, void *obj, object_call *c, frep_status *st)
{
	const ProtobufCMessage *msg = in;

	if (!m->whole) {
		const ProtobufCFieldDescriptor *mask =
		    protobuf_c_message_descriptor_get_field_by_name(in->descriptor, "update_mask");
		msg = FIELD(ProtobufCMessage *, in, field_of(in->descriptor, m->object));
		if (mask != NULL) {
			c->mask   = FIELD(const char *const *, in, mask);
			c->n_mask = *(const size_t *) ((const char *) in + mask->quantifier_offset);
		}
	}
	return k->from_proto(msg, m->object, c->n_mask > 0, a, obj, st);
}

/* A new arena message of descriptor d, initialised. */
static frep_code
new_reply(
    const ProtobufCMessageDescriptor *d, convert_arena *a, ProtobufCMessage **out, frep_status *st)
{
	*out = convert_arena_alloc(a, d->sizeof_message, st);
	if (*out == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	protobuf_c_message_init(d, *out);
	return FREP_OK;
}

/* The list reply: c's n objects, converted, in the reply's one repeated
 * field. */
static frep_code
list_reply(const struct object_kind *k, const object_call *c, convert_arena *a,
    ProtobufCMessage *reply, frep_status *st)
{
	const ProtobufCFieldDescriptor *fd  = &reply->descriptor->fields[0];
	ProtobufCMessage              **arr = NULL;
	frep_code                       rc  = FREP_OK;

	if (c->n > SIZE_MAX / sizeof(void *)) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "reply of %zu elements", c->n);
	}
	if (c->n > 0 && (arr = convert_arena_alloc(a, c->n * sizeof(void *), st)) == NULL) {
		return FREP_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < c->n && rc == FREP_OK; i++) {
		rc = k->to_proto((const char *) c->list.any + i * k->size, a, &arr[i], st);
	}
	*(ProtobufCMessage ***) ((char *) reply + fd->offset) = arr;
	*(size_t *) ((char *) reply + fd->quantifier_offset)  = c->n;
	return rc;
}

/* Releases what the engine call left in c. */
static void
release(const struct object_kind *k, object_op op, object_call *c)
{
	if (op == OP_LIST) {
		for (size_t i = 0; k->fini != NULL && i < c->n; i++) {
			k->fini((char *) c->list.any + i * k->size);
		}
		free(c->list.any);
	} else if (k->fini != NULL) {
		k->fini(c->out);
	}
}

void
object_kinds_serve(const object_kinds_route *r, engine *e, const dhcp_service_failover_hooks *hooks,
    const ProtobufCMessage *input, ProtobufCClosure closure, void *closure_data)
{
	const struct object_kind *k  = r->kind;
	object_op                 op = (object_op) r->op;
	const object_method      *m  = &k->methods[op];
	convert_arena             a;
	frep_status               st;
	object_storage            in;
	object_storage            out;
	object_call               c;
	ProtobufCMessage         *reply = NULL;
	frep_code                 rc;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	memset(&c, 0, sizeof(c));
	c.in    = &in;
	c.out   = &out;
	c.hooks = hooks;
	c.call  = closure_data;
	convert_arena_init(&a);
	if ((rc = read_key(m, input, &c.key, &st)) == FREP_OK && m->object != NULL) {
		rc = read_object(k, m, input, &a, &in, &c, &st);
	}
	if (rc == FREP_OK) {
		rc = k->calls[op](e, &c, &st);
	}
	if (rc == FREP_OK) {
		if (op == OP_LIST || op == OP_REMOVE) {
			if ((rc = new_reply(r->output, &a, &reply, &st)) == FREP_OK &&
			    op == OP_LIST) {
				rc = list_reply(k, &c, &a, reply, &st);
			}
		} else {
			rc = k->to_proto(&out, &a, &reply, &st);
		}
	}
	if (rc == FREP_OK) {
		closure(reply, closure_data);
	} else {
		rpc_call_fail_status(closure_data, &st);
		closure(NULL, closure_data);
	}
	release(k, op, &c);
	convert_arena_fini(&a);
}
