/*
 * fuzz_request: the server's request path without sockets.
 *
 * Input: byte 0 picks a method (fuzz_methods.h order, modulo their count);
 * the rest is a frep.rpc.v1.Request envelope. As rpc_server.c's
 * begin_call/run_call do, the envelope is decoded, its metadata bounded,
 * its method path split and looked up among frep's services; then the
 * payload is decoded with the PICKED method's input descriptor, packed
 * again, and handed to the convert_*_from_proto calls that method's
 * handler makes before touching the engine (rpc/services/dhcp_service.c,
 * rpc/services/partner_service.c, rpc/services/replication_service.c) — the validation at
 * the edge. A whole ScopeConfig that converts is also digested
 * (engine_scope_config_digest runs on unvalidated configs in apply).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "engine.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_envelope.h"
#include "fuzz_check.h"
#include "fuzz_methods.h"
#include "ipv4.h"
#include "rpc_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* begin_call's routing: "/package.Service/Method" to a method, or NULL. */
static const ProtobufCMethodDescriptor *
route(const char *path)
{
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (slash == NULL || slash == path + 1 || slash[1] == '\0') {
		return NULL;
	}
	size_t len = (size_t) (slash - path - 1);
	for (size_t s = 0; s < fuzz_n_services; s++) {
		const ProtobufCServiceDescriptor *d = fuzz_services[s];
		if (strlen(d->name) == len && memcmp(d->name, path + 1, len) == 0) {
			const ProtobufCMethodDescriptor *m =
			    protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
			FUZZ_CHECK(m == NULL || strcmp(m->name, slash + 1) == 0,
			    "lookup of %s gave %s", slash + 1, m->name);
			return m;
		}
	}
	return NULL;
}

/* A converted status is either OK or names a code with a message. */
static void
check_status(frep_code rc, const frep_status *st)
{
	if (rc != FREP_OK) {
		FUZZ_CHECK(st->code == rc, "returned %s, status says %s", frep_code_name(rc),
		    frep_code_name(st->code));
		FUZZ_CHECK(rc == FREP_INVALID_ARGUMENT || rc == FREP_RESOURCE_EXHAUSTED,
		    "conversion failed with %s: %s", frep_code_name(rc), st->message);
		FUZZ_CHECK(memchr(st->message, '\0', sizeof(st->message)) != NULL, "unterminated");
	}
}

static void
scope_config(const Frep__V1__ScopeConfig *in, const char *field)
{
	convert_arena       a;
	frep_status         st;
	engine_scope_config cfg;
	char                digest[65];

	convert_arena_init(&a);
	frep_code rc = convert_scope_config_from_proto(in, field, &a, &cfg, &st);
	check_status(rc, &st);
	if (rc == FREP_OK) {
		FUZZ_CHECK(strlen(cfg.digest) < sizeof(cfg.digest), "digest");
		rc = engine_scope_config_digest(&cfg, digest, &st);
		FUZZ_CHECK(rc == FREP_OK && strlen(digest) == 64,
		    "digest of a converted config: %s", st.message);
		/* Engine -> proto of what converted, and packed. */
		Frep__V1__ScopeConfig *back = NULL;
		if (convert_scope_config_to_proto(&cfg, &a, &back, &st) == FREP_OK) {
			size_t   n   = protobuf_c_message_get_packed_size(&back->base);
			uint8_t *buf = malloc(n + 1);
			FUZZ_CHECK(buf != NULL, "out of memory");
			FUZZ_CHECK(protobuf_c_message_pack(&back->base, buf) == n, "pack size");
			free(buf);
		}
	}
	convert_arena_fini(&a);
}

static void
scope_ids(char *const *ids, size_t n, const char *field)
{
	convert_arena a;
	frep_status   st;
	uint32_t     *out = NULL;
	convert_arena_init(&a);
	check_status(convert_scope_ids_from_proto(ids, n, field, &a, &out, &st), &st);
	convert_arena_fini(&a);
}

static void
ipv4(const char *text, const char *field, bool required)
{
	frep_status st;
	uint32_t    addr;
	check_status(convert_ipv4_from_text(text, field, required, &addr, &st), &st);
}

static void
scope(const Frep__V1__Scope *in, bool partial)
{
	frep_status  st;
	engine_scope out;
	frep_code    rc = convert_scope_from_proto(in, "scope", partial, &out, &st);
	check_status(rc, &st);
	if (rc == FREP_OK) {
		convert_arena    a;
		Frep__V1__Scope *back = NULL;
		convert_arena_init(&a);
		/* The text the server answers with parses back to the address. */
		if (convert_scope_to_proto(&out, &a, &back, &st) == FREP_OK) {
			uint32_t again = 0;
			FUZZ_CHECK(
			    engine_ipv4_parse(back->scope_id, "scope_id", &again, &st) == FREP_OK &&
				again == out.scope_id,
			    "scope_id %s formats as %s", in->scope_id, back->scope_id);
		}
		convert_arena_fini(&a);
	}
}

static void
reservation(const Frep__V1__Reservation *in)
{
	convert_arena      a;
	frep_status        st;
	engine_reservation out;
	convert_arena_init(&a);
	check_status(convert_reservation_from_proto(in, "reservation", &a, &out, &st), &st);
	convert_arena_fini(&a);
}

static void
option_def(const Frep__V1__OptionDefinition *in)
{
	frep_status       st;
	engine_option_def out;
	check_status(convert_option_def_from_proto(in, "definition", &out, &st), &st);
}

static void
option_target(const Frep__V1__OptionTarget *in)
{
	frep_status          st;
	engine_option_target out;
	check_status(convert_option_target_from_proto(in, "target", &out, &st), &st);
}

static void
class_def(const Frep__V1__Class *in, const char *field)
{
	frep_status  st;
	engine_class out;
	check_status(convert_class_from_proto(in, field, &out, &st), &st);
}

static void
class_type(int type)
{
	frep_status       st;
	engine_class_type out;
	check_status(convert_class_type_from_proto(type, "type", &out, &st), &st);
}

static void
policy(const Frep__V1__Policy *in)
{
	convert_arena a;
	frep_status   st;
	engine_policy out;
	convert_arena_init(&a);
	check_status(convert_policy_from_proto(in, "policy", &a, &out, &st), &st);
	convert_arena_fini(&a);
}

static void
failover(const Frep__V1__FailoverRelationship *in)
{
	convert_arena   a;
	frep_status     st;
	engine_failover out;
	convert_arena_init(&a);
	check_status(convert_failover_from_proto(in, "relationship", &a, &out, &st), &st);
	convert_arena_fini(&a);
}

#define IS(T) (d == &frep__v1__##T##__descriptor)

/* The conversions the handler of a method with input type d makes. */
static void
convert_input(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	frep_status                       st;

	if (IS(scope)) {
		scope((const Frep__V1__Scope *) m, false);
	} else if (IS(set_scope_request)) {
		const Frep__V1__SetScopeRequest *in = (const void *) m;
		scope(in->scope, in->n_update_mask > 0);
	} else if (IS(scope_key)) {
		ipv4(((const Frep__V1__ScopeKey *) m)->scope_id, "scope_id", true);
	} else if (IS(remove_scope_request)) {
		ipv4(((const Frep__V1__RemoveScopeRequest *) m)->scope_id, "scope_id", true);
	} else if (IS(exclusion_range)) {
		engine_exclusion out;
		check_status(
		    convert_exclusion_from_proto((const void *) m, "exclusion", &out, &st), &st);
	} else if (IS(list_exclusion_ranges_request)) {
		ipv4(((const Frep__V1__ListExclusionRangesRequest *) m)->scope_id, "scope_id",
		    false);
	} else if (IS(reservation)) {
		reservation((const void *) m);
	} else if (IS(set_reservation_request)) {
		reservation(((const Frep__V1__SetReservationRequest *) m)->reservation);
	} else if (IS(reservation_key)) {
		const Frep__V1__ReservationKey *in = (const void *) m;
		ipv4(in->scope_id, "scope_id", true);
		ipv4(in->ip_address, "ip_address", true);
	} else if (IS(list_reservations_request)) {
		ipv4(((const Frep__V1__ListReservationsRequest *) m)->scope_id, "scope_id", false);
	} else if (IS(option_definition)) {
		option_def((const void *) m);
	} else if (IS(set_option_definition_request)) {
		option_def(((const Frep__V1__SetOptionDefinitionRequest *) m)->definition);
	} else if (IS(set_option_value_request)) {
		const Frep__V1__SetOptionValueRequest *in = (const void *) m;
		engine_option_value                    out;
		option_target(in->target);
		check_status(convert_option_value_from_proto(in->value, "value", &out, &st), &st);
	} else if (IS(option_value_key)) {
		option_target(((const Frep__V1__OptionValueKey *) m)->target);
	} else if (IS(list_option_values_request)) {
		option_target(((const Frep__V1__ListOptionValuesRequest *) m)->target);
	} else if (IS(class)) {
		class_def((const void *) m, "class");
	} else if (IS(set_class_request)) {
		class_def(((const Frep__V1__SetClassRequest *) m)->class_def, "class_def");
	} else if (IS(class_key)) {
		class_type((int) ((const Frep__V1__ClassKey *) m)->type);
	} else if (IS(list_classes_request)) {
		class_type((int) ((const Frep__V1__ListClassesRequest *) m)->type);
	} else if (IS(policy)) {
		policy((const void *) m);
	} else if (IS(set_policy_request)) {
		policy(((const Frep__V1__SetPolicyRequest *) m)->policy);
	} else if (IS(policy_key)) {
		ipv4(((const Frep__V1__PolicyKey *) m)->scope_id, "scope_id", false);
	} else if (IS(list_policies_request)) {
		const Frep__V1__ListPoliciesRequest *in = (const void *) m;
		if (!in->server_level && in->scope_id[0] != '\0') {
			ipv4(in->scope_id, "scope_id", true);
		}
	} else if (IS(policy_ip_range_request)) {
		const Frep__V1__PolicyIpRangeRequest *in = (const void *) m;
		engine_ip_range                       out;
		ipv4(in->scope_id, "scope_id", true);
		check_status(convert_ip_range_from_proto(in->range, "range", &out, &st), &st);
	} else if (IS(add_failover_request)) {
		failover(((const Frep__V1__AddFailoverRequest *) m)->relationship);
	} else if (IS(set_failover_request)) {
		failover(((const Frep__V1__SetFailoverRequest *) m)->relationship);
	} else if (IS(failover_scope_request)) {
		const Frep__V1__FailoverScopeRequest *in = (const void *) m;
		scope_ids(in->scope_ids, in->n_scope_ids, "scope_ids");
	} else if (IS(scope_config_request)) {
		ipv4(((const Frep__V1__ScopeConfigRequest *) m)->scope_id, "scope_id", true);
	} else if (IS(list_audit_request)) {
		engine_audit_filter out;
		check_status(convert_audit_filter_from_proto((const void *) m, &out, &st), &st);
	} else if (IS(import_scope_request)) {
		const Frep__V1__ImportScopeRequest *in = (const void *) m;
		if (in->config != NULL) {
			scope_config(in->config, "config");
		}
	} else if (IS(replicate_by_scope_id_request)) {
		const Frep__V1__ReplicateByScopeIdRequest *in = (const void *) m;
		scope_ids(in->scope_ids, in->n_scope_ids, "scope_ids");
	} else if (IS(apply_scope_request)) {
		const Frep__V1__ApplyScopeRequest *in = (const void *) m;
		if (in->config != NULL) {
			scope_config(in->config, "config");
		}
	} else if (IS(apply_scopes_request)) {
		const Frep__V1__ApplyScopesRequest *in = (const void *) m;
		for (size_t i = 0; i < in->n_configs && i < 10000; i++) {
			char field[48];
			snprintf(field, sizeof(field), "configs[%zu]", i);
			scope_config(in->configs[i], field);
		}
	} else if (IS(mirror_relationship_request)) {
		const Frep__V1__MirrorRelationshipRequest *in = (const void *) m;
		if (in->relationship != NULL) {
			failover(in->relationship);
		}
	} else if (IS(get_scope_digests_request)) {
		const Frep__V1__GetScopeDigestsRequest *in = (const void *) m;
		scope_ids(in->scope_ids, in->n_scope_ids, "scope_ids");
	}
	/* The rest (keys by name, list requests without addresses, Health,
	 * Introspection, ReplicateByName) go to the engine or the runtime
	 * as they are: decoding is their whole edge. */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	frep_status st;

	if (size == 0) {
		return 0;
	}
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor  *method =
	    fuzz_method_at(data[0] % fuzz_method_count(), &svc);

	Frep__Rpc__V1__Request *req = NULL;
	if (frep_envelope_request_unpack(data + 1, size - 1, &req, &st) != FREP_OK) {
		return 0;
	}
	if (req->n_metadata <= RPC_MAX_METADATA_PAIRS) {
		(void) route(req->method);
		const char *auth = frep_envelope_metadata_get(req, "authorization");
		(void) (auth != NULL && strncmp(auth, "Bearer ", 7) == 0);

		ProtobufCMessage *input = protobuf_c_message_unpack(
		    method->input, NULL, req->payload.len, req->payload.data);
		if (input != NULL) {
			FUZZ_CHECK(input->descriptor == method->input, "descriptor");
			size_t   n   = protobuf_c_message_get_packed_size(input);
			uint8_t *buf = malloc(n + 1);
			FUZZ_CHECK(buf != NULL, "out of memory");
			FUZZ_CHECK(protobuf_c_message_pack(input, buf) == n, "repack of %s",
			    method->input->name);
			free(buf);
			convert_input(input);
			protobuf_c_message_free_unpacked(input, NULL);
		}
	}
	frep__rpc__v1__request__free_unpacked(req, NULL);
	return 0;
}
