#include "model.h"

#include <stdlib.h>
#include <string.h>

static void
strv_free(char **values, size_t n)
{
	if (values == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		free(values[i]);
	}
	free(values);
}

void
engine_scope_fini(engine_scope *scope)
{
	if (scope == NULL) {
		return;
	}
	free(scope->name);
	free(scope->description);
	free(scope->superscope_name);
	memset(scope, 0, sizeof(*scope));
}

void
engine_option_value_fini(engine_option_value *value)
{
	if (value == NULL) {
		return;
	}
	free(value->vendor_class);
	free(value->user_class);
	strv_free(value->values, value->n_values);
	memset(value, 0, sizeof(*value));
}

void
engine_reservation_fini(engine_reservation *reservation)
{
	if (reservation == NULL) {
		return;
	}
	free(reservation->client_id);
	free(reservation->name);
	free(reservation->description);
	engine_option_values_free(reservation->options, reservation->n_options);
	memset(reservation, 0, sizeof(*reservation));
}

void
engine_option_def_fini(engine_option_def *def)
{
	if (def == NULL) {
		return;
	}
	free(def->vendor_class);
	free(def->name);
	free(def->description);
	strv_free(def->default_value, def->n_default_value);
	memset(def, 0, sizeof(*def));
}

void
engine_class_fini(engine_class *cls)
{
	if (cls == NULL) {
		return;
	}
	free(cls->name);
	free(cls->data);
	free(cls->description);
	memset(cls, 0, sizeof(*cls));
}

void
engine_criterion_fini(engine_criterion *criterion)
{
	if (criterion == NULL) {
		return;
	}
	strv_free(criterion->values, criterion->n_values);
	memset(criterion, 0, sizeof(*criterion));
}

void
engine_policy_fini(engine_policy *policy)
{
	if (policy == NULL) {
		return;
	}
	free(policy->name);
	free(policy->description);
	if (policy->criteria != NULL) {
		for (size_t i = 0; i < policy->n_criteria; i++) {
			engine_criterion_fini(&policy->criteria[i]);
		}
		free(policy->criteria);
	}
	free(policy->ip_ranges);
	engine_option_values_free(policy->options, policy->n_options);
	memset(policy, 0, sizeof(*policy));
}

void
engine_failover_fini(engine_failover *relationship)
{
	if (relationship == NULL) {
		return;
	}
	free(relationship->name);
	free(relationship->partner_server);
	if (relationship->shared_secret != NULL) {
		/* Do not leave the secret in freed memory. */
		volatile char *p = relationship->shared_secret;
		while (*p != '\0') {
			*p++ = '\0';
		}
		free(relationship->shared_secret);
	}
	free(relationship->scope_ids);
	free(relationship->local_server);
	free(relationship->kea_ha_url);
	free(relationship->partner_kea_ha_url);
	memset(relationship, 0, sizeof(*relationship));
}

void
engine_scope_config_fini(engine_scope_config *config)
{
	if (config == NULL) {
		return;
	}
	engine_scope_fini(&config->scope);
	free(config->exclusions);
	engine_reservations_free(config->reservations, config->n_reservations);
	engine_option_values_free(config->options, config->n_options);
	engine_policies_free(config->policies, config->n_policies);
	if (config->option_definitions_used != NULL) {
		for (size_t i = 0; i < config->n_option_definitions_used; i++) {
			free(config->option_definitions_used[i].vendor_class);
		}
		free(config->option_definitions_used);
	}
	if (config->classes_used != NULL) {
		for (size_t i = 0; i < config->n_classes_used; i++) {
			free(config->classes_used[i].name);
		}
		free(config->classes_used);
	}
	memset(config, 0, sizeof(*config));
}

void
engine_scope_config_free(engine_scope_config *config)
{
	if (config == NULL) {
		return;
	}
	engine_scope_config_fini(config);
	free(config);
}

void
engine_audit_record_fini(engine_audit_record *record)
{
	if (record == NULL) {
		return;
	}
	free(record->direction);
	free(record->source);
	free(record->relationship);
	free(record->digest_before);
	free(record->digest_after);
	free(record->message);
	free(record->request_id);
	memset(record, 0, sizeof(*record));
}

#define ENGINE__ARRAY_FREE(fn, type, fini)                                                         \
	void fn(type *items, size_t n)                                                             \
	{                                                                                          \
		if (items == NULL) {                                                               \
			return;                                                                    \
		}                                                                                  \
		for (size_t i = 0; i < n; i++) {                                                   \
			fini(&items[i]);                                                           \
		}                                                                                  \
		free(items);                                                                       \
	}

ENGINE__ARRAY_FREE(engine_scopes_free, engine_scope, engine_scope_fini)
ENGINE__ARRAY_FREE(engine_option_values_free, engine_option_value, engine_option_value_fini)
ENGINE__ARRAY_FREE(engine_reservations_free, engine_reservation, engine_reservation_fini)
ENGINE__ARRAY_FREE(engine_option_defs_free, engine_option_def, engine_option_def_fini)
ENGINE__ARRAY_FREE(engine_classes_free, engine_class, engine_class_fini)
ENGINE__ARRAY_FREE(engine_policies_free, engine_policy, engine_policy_fini)
ENGINE__ARRAY_FREE(engine_failovers_free, engine_failover, engine_failover_fini)
ENGINE__ARRAY_FREE(engine_audit_records_free, engine_audit_record, engine_audit_record_fini)

void
engine_exclusions_free(engine_exclusion *exclusions, size_t n)
{
	(void) n;
	free(exclusions);
}

void
engine_object_diffs_free(engine_object_diff *diffs, size_t n)
{
	if (diffs == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		free(diffs[i].key);
	}
	free(diffs);
}

static const char *const option_type_names[] = {
    [ENGINE_OPTION_TYPE_UNSPECIFIED]       = "UNSPECIFIED",
    [ENGINE_OPTION_TYPE_BYTE]              = "BYTE",
    [ENGINE_OPTION_TYPE_WORD]              = "WORD",
    [ENGINE_OPTION_TYPE_DWORD]             = "DWORD",
    [ENGINE_OPTION_TYPE_DWORD_DWORD]       = "DWORD_DWORD",
    [ENGINE_OPTION_TYPE_IPV4_ADDRESS]      = "IPV4_ADDRESS",
    [ENGINE_OPTION_TYPE_STRING]            = "STRING",
    [ENGINE_OPTION_TYPE_BINARY_DATA]       = "BINARY_DATA",
    [ENGINE_OPTION_TYPE_ENCAPSULATED_DATA] = "ENCAPSULATED_DATA",
    [ENGINE_OPTION_TYPE_IPV6_ADDRESS]      = "IPV6_ADDRESS",
};

static const char *const class_type_names[] = {
    [ENGINE_CLASS_TYPE_UNSPECIFIED] = "UNSPECIFIED",
    [ENGINE_CLASS_TYPE_VENDOR]      = "VENDOR",
    [ENGINE_CLASS_TYPE_USER]        = "USER",
};

static const char *const criterion_type_names[] = {
    [ENGINE_CRITERION_TYPE_UNSPECIFIED]   = "UNSPECIFIED",
    [ENGINE_CRITERION_TYPE_VENDOR_CLASS]  = "VENDOR_CLASS",
    [ENGINE_CRITERION_TYPE_USER_CLASS]    = "USER_CLASS",
    [ENGINE_CRITERION_TYPE_MAC_ADDRESS]   = "MAC_ADDRESS",
    [ENGINE_CRITERION_TYPE_CLIENT_ID]     = "CLIENT_ID",
    [ENGINE_CRITERION_TYPE_RELAY_AGENT]   = "RELAY_AGENT",
    [ENGINE_CRITERION_TYPE_CIRCUIT_ID]    = "CIRCUIT_ID",
    [ENGINE_CRITERION_TYPE_REMOTE_ID]     = "REMOTE_ID",
    [ENGINE_CRITERION_TYPE_SUBSCRIBER_ID] = "SUBSCRIBER_ID",
    [ENGINE_CRITERION_TYPE_FQDN]          = "FQDN",
};

#define ENGINE__NAME_OF(table, v)                                                                  \
	(((unsigned) (v) < sizeof(table) / sizeof(table[0])) ? table[v] : "UNSPECIFIED")

const char *
engine_option_type_name(engine_option_type type)
{
	return ENGINE__NAME_OF(option_type_names, type);
}

const char *
engine_class_type_name(engine_class_type type)
{
	return ENGINE__NAME_OF(class_type_names, type);
}

const char *
engine_criterion_type_name(engine_criterion_type type)
{
	return ENGINE__NAME_OF(criterion_type_names, type);
}
