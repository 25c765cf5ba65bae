#include "dhcp_service.h"

#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "object_kinds.h"
#include "frep/v1/dhcp_server.pb-c.h"

typedef struct dhcp_service {
	Frep__V1__DhcpServer_Service base;
	engine                      *e;
	dhcp_service_failover_hooks  hooks;
	/* Per method index: the object-kind row serving it (kind NULL = the
	 * explicit handler below does). */
	object_kinds_route routes[];
} dhcp_service;

/* Every handler ends the same way: the reply when rc is OK, otherwise the
 * status (the engine's, unchanged) and a NULL reply. */
#define ANSWER(rc, reply, closure, closure_data, st)                                               \
	do {                                                                                       \
		if ((rc) == FREP_OK) {                                                             \
			(closure)((reply), (closure_data));                                        \
		} else {                                                                           \
			rpc_call_fail_status((closure_data), (st));                                \
			(closure)(NULL, (closure_data));                                           \
		}                                                                                  \
	} while (0)

/* *out = a new arena array of n message pointers (NULL when n == 0). */
static frep_code
reply_array(convert_arena *a, size_t n, void **out, frep_status *st)
{
	*out = NULL;
	if (n == 0) {
		return FREP_OK;
	}
	if (n > SIZE_MAX / sizeof(void *)) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "reply of %zu elements", n);
	}
	*out = convert_arena_alloc(a, n * sizeof(void *), st);
	return *out != NULL ? FREP_OK : FREP_RESOURCE_EXHAUSTED;
}

/* --- policy IP ranges: the rest is the policy row of object_kinds.c ---- */

/* AddPolicyIpRange and RemovePolicyIpRange: the same request, one engine
 * call apart. */
static void
policy_ip_range(dhcp_service *self, const Frep__V1__PolicyIpRangeRequest *input, bool add,
    Frep__V1__Policy_Closure closure, void *closure_data)
{
	convert_arena     a;
	frep_status       st;
	uint32_t          scope_id;
	engine_ip_range   range;
	engine_policy     out   = {0};
	Frep__V1__Policy *reply = NULL;
	frep_code         rc;

	convert_arena_init(&a);
	if ((rc = convert_ipv4_from_text(input->scope_id, "scope_id", true, &scope_id, &st)) ==
		FREP_OK &&
	    (rc = convert_ip_range_from_proto(input->range, "range", &range, &st)) == FREP_OK) {
		rc = add ? engine_policy_range_add(
			       self->e, scope_id, input->policy_name, &range, &out, &st)
			 : engine_policy_range_remove(
			       self->e, scope_id, input->policy_name, &range, &out, &st);
	}
	if (rc == FREP_OK) {
		rc = convert_policy_to_proto(&out, &a, &reply, &st);
	}
	ANSWER(rc, reply, closure, closure_data, &st);
	engine_policy_fini(&out);
	convert_arena_fini(&a);
}

static void
dhcp_add_policy_ip_range(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__PolicyIpRangeRequest *input, Frep__V1__Policy_Closure closure,
    void *closure_data)
{
	policy_ip_range((dhcp_service *) service, input, true, closure, closure_data);
}

static void
dhcp_remove_policy_ip_range(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__PolicyIpRangeRequest *input, Frep__V1__Policy_Closure closure,
    void *closure_data)
{
	policy_ip_range((dhcp_service *) service, input, false, closure, closure_data);
}

/* --- a relationship's scopes: the rest is the failover row of
 * object_kinds.c ---------------------------------------------------------- */

/* AddFailoverScope and RemoveFailoverScope: the same request, one
 * operation apart. */
static void
failover_scopes(dhcp_service *self, const Frep__V1__FailoverScopeRequest *input, bool add,
    Frep__V1__FailoverRelationship_Closure closure, void *closure_data)
{
	convert_arena                   a;
	frep_status                     st;
	uint32_t                       *ids   = NULL;
	engine_failover                 out   = {0};
	Frep__V1__FailoverRelationship *reply = NULL;
	frep_code                       rc;

	convert_arena_init(&a);
	rc = convert_scope_ids_from_proto(
	    input->scope_ids, input->n_scope_ids, "scope_ids", &a, &ids, &st);
	if (rc == FREP_OK && input->n_scope_ids == 0) {
		rc = frep_status_set(
		    &st, FREP_INVALID_ARGUMENT, "scope_ids is empty: name at least one scope");
	}
	if (rc == FREP_OK) {
		if (add && self->hooks.add_failover_scopes != NULL) {
			rc = self->hooks.add_failover_scopes(self->hooks.ctx, closure_data, self->e,
			    input->name, ids, input->n_scope_ids, input->force, &out, &st);
		} else if (!add && self->hooks.remove_failover_scopes != NULL) {
			rc = self->hooks.remove_failover_scopes(self->hooks.ctx, closure_data,
			    self->e, input->name, ids, input->n_scope_ids, input->force, &out, &st);
		} else if (add) {
			rc = engine_failover_add_scopes(
			    self->e, input->name, ids, input->n_scope_ids, &out, &st);
		} else {
			rc = engine_failover_remove_scopes(
			    self->e, input->name, ids, input->n_scope_ids, &out, &st);
		}
	}
	if (rc == FREP_OK) {
		rc = convert_failover_to_proto(&out, &a, &reply, &st);
	}
	ANSWER(rc, reply, closure, closure_data, &st);
	engine_failover_fini(&out);
	convert_arena_fini(&a);
}

static void
dhcp_add_failover_scope(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__FailoverScopeRequest *input, Frep__V1__FailoverRelationship_Closure closure,
    void *closure_data)
{
	failover_scopes((dhcp_service *) service, input, true, closure, closure_data);
}

static void
dhcp_remove_failover_scope(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__FailoverScopeRequest *input, Frep__V1__FailoverRelationship_Closure closure,
    void *closure_data)
{
	failover_scopes((dhcp_service *) service, input, false, closure, closure_data);
}

/* --- whole scopes and audit --------------------------------------------- */

static void
dhcp_get_scope_config(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__ScopeConfigRequest *input, Frep__V1__ScopeConfig_Closure closure,
    void *closure_data)
{
	dhcp_service          *self = (dhcp_service *) service;
	convert_arena          a;
	frep_status            st;
	uint32_t               scope_id;
	engine_scope_config   *config = NULL;
	Frep__V1__ScopeConfig *reply  = NULL;
	frep_code              rc;

	convert_arena_init(&a);
	if ((rc = convert_ipv4_from_text(input->scope_id, "scope_id", true, &scope_id, &st)) ==
		FREP_OK &&
	    (rc = engine_scope_snapshot(self->e, scope_id, &config, &st)) == FREP_OK) {
		rc = convert_scope_config_to_proto(config, &a, &reply, &st);
	}
	ANSWER(rc, reply, closure, closure_data, &st);
	engine_scope_config_free(config);
	convert_arena_fini(&a);
}

static void
dhcp_list_audit(Frep__V1__DhcpServer_Service *service, const Frep__V1__ListAuditRequest *input,
    Frep__V1__ListAuditResponse_Closure closure, void *closure_data)
{
	dhcp_service               *self = (dhcp_service *) service;
	convert_arena               a;
	frep_status                 st;
	engine_audit_filter         filter;
	engine_audit_record        *list  = NULL;
	size_t                      n     = 0;
	Frep__V1__ListAuditResponse reply = FREP__V1__LIST_AUDIT_RESPONSE__INIT;
	void                       *arr   = NULL;
	frep_code                   rc;

	convert_arena_init(&a);
	if ((rc = convert_audit_filter_from_proto(input, &filter, &st)) == FREP_OK &&
	    (rc = engine_audit_list(self->e, &filter, &list, &n, &st)) == FREP_OK &&
	    (rc = reply_array(&a, n, &arr, &st)) == FREP_OK) {
		reply.records = arr;
		for (size_t i = 0; i < n && rc == FREP_OK; i++) {
			rc = convert_audit_record_to_proto(&list[i], &a, &reply.records[i], &st);
		}
		reply.n_records = n;
	}
	ANSWER(rc, &reply, closure, closure_data, &st);
	engine_audit_records_free(list, n);
	convert_arena_fini(&a);
}

static void
dhcp_import_scope(Frep__V1__DhcpServer_Service *service, const Frep__V1__ImportScopeRequest *input,
    Frep__V1__ImportScopeResponse_Closure closure, void *closure_data)
{
	dhcp_service                 *self = (dhcp_service *) service;
	convert_arena                 a;
	frep_status                   st;
	engine_scope_config           cfg;
	engine_scope_changes          changes    = {0};
	char                          before[65] = "", after[65] = "";
	Frep__V1__ImportScopeResponse reply = FREP__V1__IMPORT_SCOPE_RESPONSE__INIT;
	frep_code                     rc;

	convert_arena_init(&a);
	if (input->config == NULL) {
		rc = frep_status_set(&st, FREP_INVALID_ARGUMENT, "config is required");
	} else if ((rc = convert_scope_config_from_proto(input->config, "config", &a, &cfg, &st)) ==
		       FREP_OK &&
		   (rc = engine_scope_apply(self->e, &cfg, input->dry_run, &changes, NULL, NULL,
			before, after, &st)) == FREP_OK) {
		rc = convert_scope_changes_to_proto(&changes, &a, &reply.changes, &st);
		reply.digest_before = before;
		reply.digest_after  = after;
		if (rc == FREP_OK && !input->dry_run) {
			engine_audit_record rec =
			    engine_audit_applied("import", "", rpc_call_request_id(closure_data),
				cfg.scope.scope_id, before, after, &changes);
			rec.message = "ImportScope";
			frep_status ast;
			(void) engine_audit_add(self->e, &rec, NULL, &ast);
		}
	}
	ANSWER(rc, &reply, closure, closure_data, &st);
	convert_arena_fini(&a);
}

/* --- DNS dynamic-update settings ---------------------------------------- */

static void
dns_reply(const engine_dns_setting *d, engine_dns_source src, Frep__V1__DnsSetting *ps,
    Frep__V1__DnsSettingResponse *out)
{
	ps->dynamic_updates                 = (Frep__V1__DnsDynamicUpdates) d->dynamic_updates;
	ps->delete_dns_rr_on_lease_expiry   = d->delete_dns_rr_on_lease_expiry;
	ps->update_dns_rr_for_older_clients = d->update_dns_rr_for_older_clients;
	ps->name_protection                 = d->name_protection;
	ps->disable_dns_ptr_rr_update       = d->disable_dns_ptr_rr_update;
	out->setting                        = ps;
	out->source = (Frep__V1__DnsSettingSource) (src + 1); /* proto 0 = unspecified */
}

static void
dhcp_set_dns_setting(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__SetDnsSettingRequest *input, Frep__V1__DnsSettingResponse_Closure closure,
    void *closure_data)
{
	dhcp_service                *self = (dhcp_service *) service;
	frep_status                  st;
	engine_option_target         target;
	engine_dns_setting           d = {0}, got;
	engine_dns_source            src;
	Frep__V1__DnsSetting         ps    = FREP__V1__DNS_SETTING__INIT;
	Frep__V1__DnsSettingResponse reply = FREP__V1__DNS_SETTING_RESPONSE__INIT;
	frep_code                    rc;

	if (input->setting == NULL) {
		rc = frep_status_set(&st, FREP_INVALID_ARGUMENT, "setting is missing");
	} else if ((rc = convert_option_target_from_proto(input->target, "target", &target, &st)) ==
		   FREP_OK) {
		if (target.policy_name != NULL && target.policy_name[0] != '\0') {
			rc = frep_status_set(&st, FREP_INVALID_ARGUMENT,
			    "target.policy_name '%s': DNS settings belong to the server, a scope "
			    "or a reservation",
			    target.policy_name);
		} else {
			d.dynamic_updates = (engine_dns_updates) input->setting->dynamic_updates;
			d.delete_dns_rr_on_lease_expiry =
			    input->setting->delete_dns_rr_on_lease_expiry;
			d.update_dns_rr_for_older_clients =
			    input->setting->update_dns_rr_for_older_clients;
			d.name_protection           = input->setting->name_protection;
			d.disable_dns_ptr_rr_update = input->setting->disable_dns_ptr_rr_update;
			if ((rc = engine_dns_setting_set(self->e, &target, &d, &st)) == FREP_OK &&
			    (rc = engine_dns_setting_get(self->e, &target, &got, &src, &st)) ==
				FREP_OK) {
				dns_reply(&got, src, &ps, &reply);
			}
		}
	}
	ANSWER(rc, &reply, closure, closure_data, &st);
}

static void
dhcp_get_dns_setting(Frep__V1__DhcpServer_Service *service,
    const Frep__V1__GetDnsSettingRequest *input, Frep__V1__DnsSettingResponse_Closure closure,
    void *closure_data)
{
	dhcp_service                *self = (dhcp_service *) service;
	frep_status                  st;
	engine_option_target         target;
	engine_dns_setting           got;
	engine_dns_source            src;
	Frep__V1__DnsSetting         ps    = FREP__V1__DNS_SETTING__INIT;
	Frep__V1__DnsSettingResponse reply = FREP__V1__DNS_SETTING_RESPONSE__INIT;
	frep_code                    rc;

	if ((rc = convert_option_target_from_proto(input->target, "target", &target, &st)) ==
		FREP_OK &&
	    (rc = engine_dns_setting_get(self->e, &target, &got, &src, &st)) == FREP_OK) {
		dns_reply(&got, src, &ps, &reply);
	}
	ANSWER(rc, &reply, closure, closure_data, &st);
}

/* --- lifecycle ---------------------------------------------------------- */

/* The methods object_kinds.c does not serve. */
static const Frep__V1__DhcpServer_Service explicit_handlers = {
    .base                   = FREP__V1__DHCP_SERVER__BASE_INIT,
    .add_policy_ip_range    = dhcp_add_policy_ip_range,
    .remove_policy_ip_range = dhcp_remove_policy_ip_range,
    .add_failover_scope     = dhcp_add_failover_scope,
    .remove_failover_scope  = dhcp_remove_failover_scope,
    .get_scope_config       = dhcp_get_scope_config,
    .list_audit             = dhcp_list_audit,
    .import_scope           = dhcp_import_scope,
    .set_dns_setting        = dhcp_set_dns_setting,
    .get_dns_setting        = dhcp_get_dns_setting,
};

/* The service's invoke: an object kind's row, or the explicit handler. */
static void
dhcp_invoke(ProtobufCService *service, unsigned method_index, const ProtobufCMessage *input,
    ProtobufCClosure closure, void *closure_data)
{
	dhcp_service *self = (dhcp_service *) service;
	/* protobuf-c lays the handlers out after the base, one per method. */
	void (*const *handlers)(void) = (void (*const *)(void))(&self->base.base + 1);

	if (self->routes[method_index].kind != NULL) {
		object_kinds_serve(&self->routes[method_index], self->e, &self->hooks, input,
		    closure, closure_data);
	} else if (handlers[method_index] != NULL) {
		protobuf_c_service_invoke_internal(
		    service, method_index, input, closure, closure_data);
	} else {
		/* A method added to the contract with neither a row nor a handler
		 * (dhcp_service_new refuses to start with one). */
		frep_status st;
		frep_status_set(&st, FREP_UNIMPLEMENTED, "%s has no handler in this frepd",
		    service->descriptor->methods[method_index].name);
		rpc_call_fail_status(closure_data, &st);
		closure(NULL, closure_data);
	}
}

frep_code
dhcp_service_new(engine *e, ProtobufCService **out, frep_status *st)
{
	const ProtobufCServiceDescriptor *d = &frep__v1__dhcp_server__descriptor;
	dhcp_service *self = calloc(1, sizeof(*self) + d->n_methods * sizeof(self->routes[0]));
	if (self == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	self->base             = explicit_handlers;
	self->base.base.invoke = dhcp_invoke;
	self->e                = e;
	for (unsigned i = 0; i < d->n_methods; i++) {
		/* Every method has a row or a handler (as protobuf-c lays them
		 * out, after the base), never both: a programmer's mistake
		 * otherwise, refused here so that frepd does not start with a
		 * method that cannot be served (every test that starts a frepd
		 * sees it). */
		bool routed  = object_kinds_find(&d->methods[i], &self->routes[i]);
		bool handled = ((void (*const *)(void))(&self->base.base + 1))[i] != NULL;
		if (routed == handled) {
			free(self);
			return frep_status_set(st, FREP_INTERNAL,
			    "DhcpServer.%s has %s: add it to object_kinds.c or to "
			    "explicit_handlers in dhcp_service.c",
			    d->methods[i].name, routed ? "both a row and a handler" : "no handler");
		}
	}
	*out = &self->base.base;
	return FREP_OK;
}

void
dhcp_service_set_failover_hooks(ProtobufCService *service, const dhcp_service_failover_hooks *hooks)
{
	dhcp_service *self = (dhcp_service *) service;
	if (hooks != NULL) {
		self->hooks = *hooks;
	} else {
		memset(&self->hooks, 0, sizeof(self->hooks));
	}
}

void
dhcp_service_free(ProtobufCService *service)
{
	free(service);
}
