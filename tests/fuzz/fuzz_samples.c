#include "fuzz_samples.h"

#include <stdbool.h>
#include <stddef.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"

#define S(text)  ((char *) (text))
#define N(array) (sizeof(array) / sizeof((array)[0]))

/* --- the scope config ---------------------------------------------------- */

static char *dns[]           = {S("10.0.1.1"), S("10.0.1.2")};
static char *host[]          = {S("host-a")};
static char *domain[]        = {S("example.com")};
static char *router[]        = {S("10.0.1.254")};
static char *mac[]           = {S("00-11-22-33-44-55")};
static char *vendor[]        = {S("Microsoft Options")};
static char *scope_ids[]     = {S(FUZZ_SAMPLE_SCOPE)};
static char *two_scope_ids[] = {S(FUZZ_SAMPLE_SCOPE), S("10.0.2.0")};
static char *names[]         = {S("pair")};
static char *scope_mask[]    = {S("name"), S("lease_duration_s")};
static char *res_mask[]      = {S("name"), S("description")};
static char *def_mask[]      = {S("name")};
static char *class_mask[]    = {S("data"), S("description")};
static char *policy_mask[]   = {S("description"), S("processing_order")};
static char *failover_mask[] = {S("load_balance_percent")};

static Frep__V1__Scope                scope;
static Frep__V1__ExclusionRange       excl[2];
static Frep__V1__ExclusionRange      *excl_p[2];
static Frep__V1__OptionValue          opt_host, opt_dns, opt_domain, opt_router;
static Frep__V1__OptionValue         *res_opts[1];
static Frep__V1__OptionValue         *scope_opts[2];
static Frep__V1__OptionValue         *policy_opts[1];
static Frep__V1__Reservation          res[3];
static Frep__V1__Reservation         *res_p[3];
static Frep__V1__Criterion            crit[2];
static Frep__V1__Criterion           *crit_p[2];
static Frep__V1__IpRange              range[2];
static Frep__V1__IpRange             *range_p[2][1];
static Frep__V1__Policy               pol[2];
static Frep__V1__Policy              *pol_p[2];
static Frep__V1__OptionDefinitionRef  defs[4];
static Frep__V1__OptionDefinitionRef *defs_p[4];
static Frep__V1__ClassRef             classes[2];
static Frep__V1__ClassRef            *classes_p[2];
static Frep__V1__ScopeConfig          config;

static void
option(Frep__V1__OptionValue *o, uint32_t id, char **values, size_t n, const char *user_class)
{
	frep__v1__option_value__init(o);
	o->option_id  = id;
	o->values     = values;
	o->n_values   = n;
	o->user_class = S(user_class);
}

static void
build_scope_config(void)
{
	frep__v1__scope__init(&scope);
	scope.scope_id         = S(FUZZ_SAMPLE_SCOPE);
	scope.subnet_mask      = S("255.255.255.0");
	scope.name             = S("Office");
	scope.description      = S("first floor");
	scope.start_range      = S("10.0.1.10");
	scope.end_range        = S("10.0.1.200");
	scope.lease_duration_s = 691200;
	scope.state            = FREP__V1__SCOPE_STATE__SCOPE_STATE_ACTIVE;
	scope.type             = FREP__V1__CLIENT_TYPE__CLIENT_TYPE_DHCP;
	scope.activate_policies_present_case =
	    FREP__V1__SCOPE__ACTIVATE_POLICIES_PRESENT_ACTIVATE_POLICIES;
	scope.activate_policies = true;

	static const char *excl_range[2][2] = {
	    {"10.0.1.20", "10.0.1.30"}, {"10.0.1.40", "10.0.1.41"}};
	for (size_t i = 0; i < 2; i++) {
		frep__v1__exclusion_range__init(&excl[i]);
		excl[i].scope_id    = S(FUZZ_SAMPLE_SCOPE);
		excl[i].start_range = S(excl_range[i][0]);
		excl[i].end_range   = S(excl_range[i][1]);
		excl_p[i]           = &excl[i];
	}

	option(&opt_host, 12, host, N(host), "");
	option(&opt_dns, 6, dns, N(dns), "");
	option(&opt_domain, 15, domain, N(domain), "Default BOOTP Class");
	option(&opt_router, 3, router, N(router), "");
	res_opts[0]    = &opt_host;
	scope_opts[0]  = &opt_dns;
	scope_opts[1]  = &opt_domain;
	policy_opts[0] = &opt_router;

	static const char *res_ip[3]  = {"10.0.1.50", "10.0.1.51", "10.0.1.52"};
	static const char *res_cid[3] = {
	    "01-01-01-01-01-01", "02-02-02-02-02-02", "03-03-03-03-03-03"};
	static const char *res_name[3] = {"printer", "nas", "camera"};
	for (size_t i = 0; i < 3; i++) {
		frep__v1__reservation__init(&res[i]);
		res[i].scope_id    = S(FUZZ_SAMPLE_SCOPE);
		res[i].ip_address  = S(res_ip[i]);
		res[i].client_id   = S(res_cid[i]);
		res[i].name        = S(res_name[i]);
		res[i].description = S("");
		res[i].type        = FREP__V1__CLIENT_TYPE__CLIENT_TYPE_BOTH;
		res_p[i]           = &res[i];
	}
	res[0].options   = res_opts;
	res[0].n_options = N(res_opts);

	frep__v1__criterion__init(&crit[0]);
	crit[0].type       = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS;
	crit[0].comparator = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	crit[0].values     = mac;
	crit[0].n_values   = N(mac);
	frep__v1__criterion__init(&crit[1]);
	crit[1].type       = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_VENDOR_CLASS;
	crit[1].comparator = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	crit[1].values     = vendor;
	crit[1].n_values   = N(vendor);
	crit_p[0]          = &crit[0];
	crit_p[1]          = &crit[1];

	static const char *pol_name[2]     = {"alpha", "beta"};
	static const char *pol_range[2][2] = {
	    {"10.0.1.100", "10.0.1.110"}, {"10.0.1.120", "10.0.1.130"}};
	for (size_t i = 0; i < 2; i++) {
		frep__v1__ip_range__init(&range[i]);
		range[i].start_range = S(pol_range[i][0]);
		range[i].end_range   = S(pol_range[i][1]);
		range_p[i][0]        = &range[i];
		frep__v1__policy__init(&pol[i]);
		pol[i].name                 = S(pol_name[i]);
		pol[i].scope_id             = S(FUZZ_SAMPLE_SCOPE);
		pol[i].description          = S("");
		pol[i].enabled_present_case = FREP__V1__POLICY__ENABLED_PRESENT_ENABLED;
		pol[i].enabled              = true;
		pol[i].condition        = i == 0 ? FREP__V1__POLICY_CONDITION__POLICY_CONDITION_AND
						 : FREP__V1__POLICY_CONDITION__POLICY_CONDITION_OR;
		pol[i].processing_order = (uint32_t) i + 1;
		pol[i].criteria         = crit_p;
		pol[i].n_criteria       = N(crit_p);
		pol[i].ip_ranges        = range_p[i];
		pol[i].n_ip_ranges      = 1;
		pol[i].options          = policy_opts;
		pol[i].n_options        = N(policy_opts);
		pol_p[i]                = &pol[i];
	}

	static const uint32_t def_ids[4] = {3, 6, 12, 15};
	for (size_t i = 0; i < 4; i++) {
		frep__v1__option_definition_ref__init(&defs[i]);
		defs[i].option_id = def_ids[i];
		defs_p[i]         = &defs[i];
	}
	frep__v1__class_ref__init(&classes[0]);
	classes[0].type = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	classes[0].name = S("Microsoft Options");
	frep__v1__class_ref__init(&classes[1]);
	classes[1].type = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;
	classes[1].name = S("Default BOOTP Class");
	classes_p[0]    = &classes[0];
	classes_p[1]    = &classes[1];

	frep__v1__scope_config__init(&config);
	config.scope                     = &scope;
	config.exclusions                = excl_p;
	config.n_exclusions              = N(excl_p);
	config.reservations              = res_p;
	config.n_reservations            = N(res_p);
	config.options                   = scope_opts;
	config.n_options                 = N(scope_opts);
	config.policies                  = pol_p;
	config.n_policies                = N(pol_p);
	config.option_definitions_used   = defs_p;
	config.n_option_definitions_used = N(defs_p);
	config.classes_used              = classes_p;
	config.n_classes_used            = N(classes_p);
}

Frep__V1__ScopeConfig *
fuzz_sample_scope_config(void)
{
	static bool built;
	if (!built) {
		build_scope_config();
		built = true;
	}
	return &config;
}

/* --- one input per method ------------------------------------------------ */

static Frep__V1__ScopeKey                     scope_key;
static Frep__V1__SetScopeRequest              set_scope;
static Frep__V1__RemoveScopeRequest           remove_scope;
static Frep__V1__ListExclusionRangesRequest   list_excl;
static Frep__V1__SetReservationRequest        set_res;
static Frep__V1__ReservationKey               res_key;
static Frep__V1__ListReservationsRequest      list_res;
static Frep__V1__OptionDefinition             def;
static Frep__V1__SetOptionDefinitionRequest   set_def;
static Frep__V1__OptionDefinitionKey          def_key;
static Frep__V1__ListOptionDefinitionsRequest list_defs;
static Frep__V1__OptionTarget                 target;
static Frep__V1__SetOptionValueRequest        set_value;
static Frep__V1__OptionValueKey               value_key;
static Frep__V1__ListOptionValuesRequest      list_values;
static Frep__V1__Class                        cls;
static Frep__V1__SetClassRequest              set_class;
static Frep__V1__ClassKey                     class_key;
static Frep__V1__ListClassesRequest           list_classes;
static Frep__V1__SetPolicyRequest             set_policy;
static Frep__V1__PolicyKey                    policy_key;
static Frep__V1__ListPoliciesRequest          list_policies;
static Frep__V1__PolicyIpRangeRequest         policy_range;
static Frep__V1__FailoverRelationship         rel;
static Frep__V1__AddFailoverRequest           add_failover;
static Frep__V1__SetFailoverRequest           set_failover;
static Frep__V1__FailoverKey                  failover_key;
static Frep__V1__FailoverScopeRequest         failover_scope;
static Frep__V1__ScopeConfigRequest           config_request;
static Frep__V1__ListAuditRequest             list_audit;
static Frep__V1__ImportScopeRequest           import_scope;
static Frep__V1__ReplicateByNameRequest       by_name;
static Frep__V1__ReplicateByScopeIdRequest    by_scope;
static Frep__V1__ApplyScopeRequest            apply_scope;
static Frep__V1__ApplyScopesRequest           apply_scopes;
static Frep__V1__ScopeConfig                 *apply_configs[1];
static Frep__V1__MirrorRelationshipRequest    mirror;
static Frep__V1__GetScopeDigestsRequest       digests;
static Frep__V1__HealthCheckRequest           health;

static void
build_inputs(void)
{
	Frep__V1__ScopeConfig *cfg = fuzz_sample_scope_config();

	frep__v1__scope_key__init(&scope_key);
	scope_key.scope_id = S(FUZZ_SAMPLE_SCOPE);
	frep__v1__set_scope_request__init(&set_scope);
	set_scope.scope         = &scope;
	set_scope.update_mask   = scope_mask;
	set_scope.n_update_mask = N(scope_mask);
	frep__v1__remove_scope_request__init(&remove_scope);
	remove_scope.scope_id = S(FUZZ_SAMPLE_SCOPE);
	remove_scope.force    = true;
	frep__v1__list_exclusion_ranges_request__init(&list_excl);
	list_excl.scope_id = S(FUZZ_SAMPLE_SCOPE);

	frep__v1__set_reservation_request__init(&set_res);
	set_res.reservation   = &res[0];
	set_res.update_mask   = res_mask;
	set_res.n_update_mask = N(res_mask);
	frep__v1__reservation_key__init(&res_key);
	res_key.scope_id   = S(FUZZ_SAMPLE_SCOPE);
	res_key.ip_address = S("10.0.1.50");
	frep__v1__list_reservations_request__init(&list_res);
	list_res.scope_id = S(FUZZ_SAMPLE_SCOPE);

	frep__v1__option_definition__init(&def);
	def.option_id       = 224;
	def.vendor_class    = S("Microsoft Options");
	def.name            = S("site code");
	def.type            = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	def.default_value   = domain;
	def.n_default_value = N(domain);
	frep__v1__set_option_definition_request__init(&set_def);
	set_def.definition    = &def;
	set_def.update_mask   = def_mask;
	set_def.n_update_mask = N(def_mask);
	frep__v1__option_definition_key__init(&def_key);
	def_key.option_id = 6;
	frep__v1__list_option_definitions_request__init(&list_defs);
	list_defs.all_vendors = true;

	frep__v1__option_target__init(&target);
	target.scope_id    = S(FUZZ_SAMPLE_SCOPE);
	target.reserved_ip = S("10.0.1.50");
	frep__v1__set_option_value_request__init(&set_value);
	set_value.target = &target;
	set_value.value  = &opt_dns;
	frep__v1__option_value_key__init(&value_key);
	value_key.target     = &target;
	value_key.option_id  = 6;
	value_key.user_class = S("Default BOOTP Class");
	frep__v1__list_option_values_request__init(&list_values);
	list_values.target = &target;

	frep__v1__class__init(&cls);
	cls.name        = S("Lab phones");
	cls.type        = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;
	cls.data        = S("lab-phone");
	cls.description = S("desk phones in the lab");
	frep__v1__set_class_request__init(&set_class);
	set_class.class_def     = &cls;
	set_class.update_mask   = class_mask;
	set_class.n_update_mask = N(class_mask);
	frep__v1__class_key__init(&class_key);
	class_key.type = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	class_key.name = S("Microsoft Options");
	frep__v1__list_classes_request__init(&list_classes);
	list_classes.type = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;

	frep__v1__set_policy_request__init(&set_policy);
	set_policy.policy        = &pol[0];
	set_policy.update_mask   = policy_mask;
	set_policy.n_update_mask = N(policy_mask);
	frep__v1__policy_key__init(&policy_key);
	policy_key.scope_id = S(FUZZ_SAMPLE_SCOPE);
	policy_key.name     = S("alpha");
	frep__v1__list_policies_request__init(&list_policies);
	list_policies.scope_id = S(FUZZ_SAMPLE_SCOPE);
	frep__v1__policy_ip_range_request__init(&policy_range);
	policy_range.scope_id    = S(FUZZ_SAMPLE_SCOPE);
	policy_range.policy_name = S("alpha");
	policy_range.range       = &range[1];

	frep__v1__failover_relationship__init(&rel);
	rel.name                   = S("pair");
	rel.partner_server         = S("tcp://127.0.0.1:6471");
	rel.mode                   = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent   = 50;
	rel.max_client_lead_time_s = 3600;
	rel.shared_secret          = S("s3cret");
	rel.scope_ids              = scope_ids;
	rel.n_scope_ids            = N(scope_ids);
	rel.local_server           = S("tcp://127.0.0.1:6470");
	frep__v1__add_failover_request__init(&add_failover);
	add_failover.relationship = &rel;
	frep__v1__set_failover_request__init(&set_failover);
	set_failover.relationship  = &rel;
	set_failover.update_mask   = failover_mask;
	set_failover.n_update_mask = N(failover_mask);
	frep__v1__failover_key__init(&failover_key);
	failover_key.name = S("pair");
	frep__v1__failover_scope_request__init(&failover_scope);
	failover_scope.name        = S("pair");
	failover_scope.scope_ids   = two_scope_ids;
	failover_scope.n_scope_ids = N(two_scope_ids);

	frep__v1__scope_config_request__init(&config_request);
	config_request.scope_id = S(FUZZ_SAMPLE_SCOPE);
	frep__v1__list_audit_request__init(&list_audit);
	list_audit.scope_id     = S(FUZZ_SAMPLE_SCOPE);
	list_audit.relationship = S("pair");
	list_audit.limit        = 10;
	frep__v1__import_scope_request__init(&import_scope);
	import_scope.config  = cfg;
	import_scope.dry_run = true;

	frep__v1__replicate_by_name_request__init(&by_name);
	by_name.names   = names;
	by_name.n_names = N(names);
	by_name.dry_run = true;
	frep__v1__replicate_by_scope_id_request__init(&by_scope);
	by_scope.scope_ids   = two_scope_ids;
	by_scope.n_scope_ids = N(two_scope_ids);

	frep__v1__apply_scope_request__init(&apply_scope);
	apply_scope.relationship  = S("pair");
	apply_scope.source_server = S("tcp://127.0.0.1:6470");
	apply_scope.config        = cfg;
	frep__v1__apply_scopes_request__init(&apply_scopes);
	apply_configs[0]           = cfg;
	apply_scopes.relationship  = S("pair");
	apply_scopes.source_server = S("tcp://127.0.0.1:6470");
	apply_scopes.configs       = apply_configs;
	apply_scopes.n_configs     = N(apply_configs);
	frep__v1__mirror_relationship_request__init(&mirror);
	mirror.relationship = &rel;
	frep__v1__get_scope_digests_request__init(&digests);
	digests.relationship = S("pair");
	digests.scope_ids    = two_scope_ids;
	digests.n_scope_ids  = N(two_scope_ids);

	frep__v1__health_check_request__init(&health);
	health.service = S("frep.v1.DhcpServer");
}

const ProtobufCMessage *
fuzz_sample_input(const ProtobufCMessageDescriptor *d)
{
	static bool built;
	if (!built) {
		build_inputs();
		built = true;
	}
	static const struct {
		const ProtobufCMessageDescriptor *type;
		const void                       *msg;
	} table[] = {
	    {&frep__v1__scope__descriptor, &scope},
	    {&frep__v1__set_scope_request__descriptor, &set_scope},
	    {&frep__v1__scope_key__descriptor, &scope_key},
	    {&frep__v1__remove_scope_request__descriptor, &remove_scope},
	    {&frep__v1__exclusion_range__descriptor, &excl[0]},
	    {&frep__v1__list_exclusion_ranges_request__descriptor, &list_excl},
	    {&frep__v1__reservation__descriptor, &res[0]},
	    {&frep__v1__set_reservation_request__descriptor, &set_res},
	    {&frep__v1__reservation_key__descriptor, &res_key},
	    {&frep__v1__list_reservations_request__descriptor, &list_res},
	    {&frep__v1__option_definition__descriptor, &def},
	    {&frep__v1__set_option_definition_request__descriptor, &set_def},
	    {&frep__v1__option_definition_key__descriptor, &def_key},
	    {&frep__v1__list_option_definitions_request__descriptor, &list_defs},
	    {&frep__v1__set_option_value_request__descriptor, &set_value},
	    {&frep__v1__option_value_key__descriptor, &value_key},
	    {&frep__v1__list_option_values_request__descriptor, &list_values},
	    {&frep__v1__class__descriptor, &cls},
	    {&frep__v1__set_class_request__descriptor, &set_class},
	    {&frep__v1__class_key__descriptor, &class_key},
	    {&frep__v1__list_classes_request__descriptor, &list_classes},
	    {&frep__v1__policy__descriptor, &pol[0]},
	    {&frep__v1__set_policy_request__descriptor, &set_policy},
	    {&frep__v1__policy_key__descriptor, &policy_key},
	    {&frep__v1__list_policies_request__descriptor, &list_policies},
	    {&frep__v1__policy_ip_range_request__descriptor, &policy_range},
	    {&frep__v1__add_failover_request__descriptor, &add_failover},
	    {&frep__v1__set_failover_request__descriptor, &set_failover},
	    {&frep__v1__failover_key__descriptor, &failover_key},
	    {&frep__v1__failover_scope_request__descriptor, &failover_scope},
	    {&frep__v1__scope_config_request__descriptor, &config_request},
	    {&frep__v1__list_audit_request__descriptor, &list_audit},
	    {&frep__v1__import_scope_request__descriptor, &import_scope},
	    {&frep__v1__replicate_by_name_request__descriptor, &by_name},
	    {&frep__v1__replicate_by_scope_id_request__descriptor, &by_scope},
	    {&frep__v1__apply_scope_request__descriptor, &apply_scope},
	    {&frep__v1__apply_scopes_request__descriptor, &apply_scopes},
	    {&frep__v1__mirror_relationship_request__descriptor, &mirror},
	    {&frep__v1__get_scope_digests_request__descriptor, &digests},
	    {&frep__v1__health_check_request__descriptor, &health},
	};
	for (size_t i = 0; i < N(table); i++) {
		if (table[i].type == d) {
			return table[i].msg;
		}
	}
	return NULL;
}
