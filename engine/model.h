/*
 * model: the DHCPv4 configuration model in C, mirroring
 * proto/frep/v1/config.proto field for field. Addresses are uint32_t in host
 * order (0 means "none" where the proto allows an empty address); strings
 * are NUL-terminated UTF-8.
 *
 * Ownership: structs the engine fills (get, list, snapshot) own every string
 * and array they point to and are released with their _fini (embedded) or
 * _free (heap, arrays) function; freeing NULL is a no-op. Structs the caller
 * passes in are only read during the call; NULL strings read as "".
 */
#ifndef FREP_ENGINE_MODEL_H
#define FREP_ENGINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on text, in bytes (checked on every write). */
#define ENGINE_NAME_MAX              255
#define ENGINE_DESCRIPTION_MAX       1024
#define ENGINE_POLICY_NAME_MAX       64
#define ENGINE_RELATIONSHIP_NAME_MAX 126
#define ENGINE_VALUE_MAX             255 /* one option / criterion value */
#define ENGINE_VALUES_MAX            64  /* values per option or criterion */
#define ENGINE_URL_MAX               255 /* partner_server, local_server */
#define ENGINE_SECRET_MAX            255
#define ENGINE_CRITERIA_MAX          32 /* criteria per policy */
#define ENGINE_POLICY_RANGES_MAX     64
#define ENGINE_OPTIONS_MAX           256 /* option values per owner */
#define ENGINE_RELATIONSHIPS_MAX     31
#define ENGINE_REQUEST_ID_MAX        64 /* an audit record's request_id, as x-request-id */

/* Lease duration meaning "unlimited". */
#define ENGINE_LEASE_UNLIMITED 4294967295u
/* Defaults applied on add (as the proto comments say). */
#define ENGINE_DEFAULT_LEASE_S         691200u /* 8 days */
#define ENGINE_DEFAULT_MAX_BOOTP       4294967295u
#define ENGINE_DEFAULT_LB_PERCENT      50u
#define ENGINE_DEFAULT_RESERVE_PERCENT 5u
#define ENGINE_DEFAULT_MCLT_S          3600u

typedef enum engine_scope_state {
	ENGINE_SCOPE_STATE_UNSPECIFIED = 0, /* on add: ACTIVE */
	ENGINE_SCOPE_STATE_ACTIVE      = 1,
	ENGINE_SCOPE_STATE_INACTIVE    = 2,
} engine_scope_state;

typedef enum engine_client_type {
	ENGINE_CLIENT_TYPE_UNSPECIFIED = 0, /* scope: DHCP; reservation: BOTH */
	ENGINE_CLIENT_TYPE_DHCP        = 1,
	ENGINE_CLIENT_TYPE_BOOTP       = 2,
	ENGINE_CLIENT_TYPE_BOTH        = 3,
} engine_client_type;

typedef enum engine_option_type {
	ENGINE_OPTION_TYPE_UNSPECIFIED       = 0,
	ENGINE_OPTION_TYPE_BYTE              = 1,
	ENGINE_OPTION_TYPE_WORD              = 2,
	ENGINE_OPTION_TYPE_DWORD             = 3,
	ENGINE_OPTION_TYPE_DWORD_DWORD       = 4,
	ENGINE_OPTION_TYPE_IPV4_ADDRESS      = 5,
	ENGINE_OPTION_TYPE_STRING            = 6,
	ENGINE_OPTION_TYPE_BINARY_DATA       = 7,
	ENGINE_OPTION_TYPE_ENCAPSULATED_DATA = 8,
	ENGINE_OPTION_TYPE_IPV6_ADDRESS      = 9,
} engine_option_type;

typedef enum engine_class_type {
	ENGINE_CLASS_TYPE_UNSPECIFIED = 0,
	ENGINE_CLASS_TYPE_VENDOR      = 1,
	ENGINE_CLASS_TYPE_USER        = 2,
} engine_class_type;

typedef enum engine_policy_condition {
	ENGINE_POLICY_CONDITION_UNSPECIFIED = 0, /* on add: OR */
	ENGINE_POLICY_CONDITION_OR          = 1,
	ENGINE_POLICY_CONDITION_AND         = 2,
} engine_policy_condition;

typedef enum engine_criterion_type {
	ENGINE_CRITERION_TYPE_UNSPECIFIED   = 0,
	ENGINE_CRITERION_TYPE_VENDOR_CLASS  = 1,
	ENGINE_CRITERION_TYPE_USER_CLASS    = 2,
	ENGINE_CRITERION_TYPE_MAC_ADDRESS   = 3,
	ENGINE_CRITERION_TYPE_CLIENT_ID     = 4,
	ENGINE_CRITERION_TYPE_RELAY_AGENT   = 5,
	ENGINE_CRITERION_TYPE_CIRCUIT_ID    = 6,
	ENGINE_CRITERION_TYPE_REMOTE_ID     = 7,
	ENGINE_CRITERION_TYPE_SUBSCRIBER_ID = 8,
	ENGINE_CRITERION_TYPE_FQDN          = 9,
} engine_criterion_type;

typedef enum engine_comparator {
	ENGINE_COMPARATOR_UNSPECIFIED = 0,
	ENGINE_COMPARATOR_EQ          = 1,
	ENGINE_COMPARATOR_NE          = 2,
} engine_comparator;

typedef enum engine_failover_mode {
	ENGINE_FAILOVER_MODE_UNSPECIFIED  = 0, /* on add: LOAD_BALANCE */
	ENGINE_FAILOVER_MODE_LOAD_BALANCE = 1,
	ENGINE_FAILOVER_MODE_HOT_STANDBY  = 2,
} engine_failover_mode;

typedef enum engine_server_role {
	ENGINE_SERVER_ROLE_UNSPECIFIED = 0,
	ENGINE_SERVER_ROLE_ACTIVE      = 1,
	ENGINE_SERVER_ROLE_STANDBY     = 2,
} engine_server_role;

typedef enum engine_failover_state {
	ENGINE_FAILOVER_STATE_UNSPECIFIED               = 0,
	ENGINE_FAILOVER_STATE_NORMAL                    = 1,
	ENGINE_FAILOVER_STATE_COMMUNICATION_INTERRUPTED = 2,
	ENGINE_FAILOVER_STATE_PARTNER_DOWN              = 3,
	ENGINE_FAILOVER_STATE_PAUSED                    = 4,
} engine_failover_state;

/* Change-triggered replication of a relationship's scopes (issue 15). */
typedef enum engine_auto_sync {
	ENGINE_AUTO_SYNC_UNSPECIFIED = 0, /* on add: ON; on set: unchanged */
	ENGINE_AUTO_SYNC_ON          = 1,
	ENGINE_AUTO_SYNC_OFF         = 2,
} engine_auto_sync;

/* Scope. Identity: scope_id. */
typedef struct engine_scope {
	uint32_t           scope_id; /* network address */
	uint32_t           subnet_mask;
	char              *name;
	char              *description;
	uint32_t           start_range;
	uint32_t           end_range;
	uint32_t           lease_duration_s; /* 0 on add: 8 days */
	engine_scope_state state;
	engine_client_type type;
	char              *superscope_name;
	uint32_t           max_bootp_clients; /* 0 on add: unlimited */
	uint32_t           delay_ms;
	bool               activate_policies_present; /* unset on add: true */
	bool               activate_policies;
} engine_scope;

/* Exclusion range. Identity: (scope_id, start_range, end_range). */
typedef struct engine_exclusion {
	uint32_t scope_id;
	uint32_t start_range;
	uint32_t end_range;
} engine_exclusion;

/* Option value. Identity at its level: (option_id, vendor_class,
 * user_class). values are text per the definition's type. */
typedef struct engine_option_value {
	uint32_t option_id;
	char    *vendor_class; /* "" = the standard option space */
	char    *user_class;   /* "" = the default user class */
	char   **values;
	size_t   n_values;
} engine_option_value;

/* Reservation. Identity: (scope_id, ip_address). */
typedef struct engine_reservation {
	uint32_t             scope_id;
	uint32_t             ip_address;
	char                *client_id; /* normal form "00-11-22-33-44-55" */
	char                *name;
	char                *description;
	engine_client_type   type; /* 0 on add: BOTH */
	engine_option_value *options;
	size_t               n_options;
} engine_reservation;

/* Option definition. Identity: (option_id, vendor_class). */
typedef struct engine_option_def {
	uint32_t           option_id; /* 1..254 */
	char              *vendor_class;
	char              *name;
	char              *description;
	engine_option_type type;
	bool               multi_valued;
	char             **default_value;
	size_t             n_default_value;
	bool               predefined; /* output only */
} engine_option_def;

/* Vendor or user class. Identity: (type, name). */
typedef struct engine_class {
	char             *name;
	engine_class_type type;
	char             *data;
	char             *description;
} engine_class;

/* One policy criterion: the client's field compared with each value (a
 * trailing '*' is a prefix wildcard); the values are ORed. */
typedef struct engine_criterion {
	engine_criterion_type type;
	engine_comparator     comparator;
	char                **values;
	size_t                n_values;
} engine_criterion;

typedef struct engine_ip_range {
	uint32_t start_range;
	uint32_t end_range;
} engine_ip_range;

/* Policy. Identity: (scope_id, name); scope_id 0 = server level. */
typedef struct engine_policy {
	char                   *name;
	uint32_t                scope_id;
	char                   *description;
	bool                    enabled_present; /* unset on add: true */
	bool                    enabled;
	engine_policy_condition condition;        /* 0 on add: OR */
	uint32_t                processing_order; /* 0 on add: after the last */
	engine_criterion       *criteria;
	size_t                  n_criteria;
	engine_ip_range        *ip_ranges; /* scope-level policies only */
	size_t                  n_ip_ranges;
	uint32_t                lease_duration_s; /* 0 = the scope's */
	engine_option_value    *options;
	size_t                  n_options;
} engine_policy;

/* Failover relationship. Identity: name. shared_secret is input only: the
 * engine never fills it on output (see engine_failover_secret). */
typedef struct engine_failover {
	char                 *name;
	char                 *partner_server;
	engine_failover_mode  mode;
	engine_server_role    server_role;
	uint32_t              load_balance_percent;   /* 0 on add: 50 */
	uint32_t              reserve_percent;        /* 0 on add: 5 */
	uint32_t              max_client_lead_time_s; /* 0 on add: 3600 */
	bool                  auto_state_transition;
	uint32_t              state_switch_interval_s;
	char                 *shared_secret;
	uint32_t             *scope_ids;
	size_t                n_scope_ids;
	engine_failover_state state; /* output only */
	char                 *local_server;
	/* Kea's HA hook (docs/KEA.md): the URL this server's kea-dhcp4 offers
	 * its peer (its frepd's --kea-ha-url) and the partner's; "" unknown.
	 * engine_failover_set changes them only when the mask names them. */
	char            *kea_ha_url;
	char            *partner_kea_ha_url;
	engine_auto_sync auto_sync; /* always ON or OFF on output */
} engine_failover;

/* Where an option value sits: all zero/empty = server level; scope_id =
 * scope level; scope_id + reserved_ip = reservation level; policy_name
 * (with scope_id for a scope-level policy) = policy level. */
typedef struct engine_option_target {
	uint32_t    scope_id;
	uint32_t    reserved_ip;
	const char *policy_name;
} engine_option_target;

typedef struct engine_option_def_ref {
	uint32_t option_id;
	char    *vendor_class;
} engine_option_def_ref;

typedef struct engine_class_ref {
	engine_class_type type;
	char             *name;
} engine_class_ref;

/* Everything replicated for one scope (config.proto ScopeConfig). */
typedef struct engine_scope_config {
	engine_scope           scope;
	engine_exclusion      *exclusions;
	size_t                 n_exclusions;
	engine_reservation    *reservations;
	size_t                 n_reservations;
	engine_option_value   *options; /* scope-level */
	size_t                 n_options;
	engine_policy         *policies; /* scope-level */
	size_t                 n_policies;
	engine_option_def_ref *option_definitions_used;
	size_t                 n_option_definitions_used;
	engine_class_ref      *classes_used;
	size_t                 n_classes_used;
	char                   digest[65]; /* lower-case hex, "" = not computed */
} engine_scope_config;

typedef struct engine_object_changes {
	uint32_t added;
	uint32_t updated;
	uint32_t removed;
} engine_object_changes;

/* What changed (or would change) per kind (replication.proto). */
typedef struct engine_scope_changes {
	engine_object_changes scope; /* the scope's own properties */
	engine_object_changes exclusions;
	engine_object_changes reservations;
	engine_object_changes options;
	engine_object_changes policies;
} engine_scope_changes;

typedef enum engine_diff_action {
	ENGINE_DIFF_ACTION_UNSPECIFIED = 0,
	ENGINE_DIFF_ACTION_ADD         = 1,
	ENGINE_DIFF_ACTION_UPDATE      = 2,
	ENGINE_DIFF_ACTION_REMOVE      = 3,
} engine_diff_action;

/* One object that differs. kind is a static string ("scope", "exclusion",
 * "reservation", "option", "policy"); key is owned (see docs/ENGINE.md for
 * its text form). */
typedef struct engine_object_diff {
	const char        *kind;
	char              *key;
	engine_diff_action action;
} engine_object_diff;

/* A replication audit record (dhcp_server.proto AuditRecord). */
typedef struct engine_audit_record {
	uint64_t id;           /* output only */
	int64_t  time_unix_ms; /* 0 on add: now */
	char    *direction;    /* "sent" or "applied" */
	char    *source;
	char    *relationship;
	uint32_t scope_id;
	char    *digest_before;
	char    *digest_after;
	uint32_t added;
	uint32_t updated;
	uint32_t removed;
	int32_t  code;
	char    *message;
	/* The request id of the call behind the record ("" = none): the
	 * caller's x-request-id or one its server made, the same on the
	 * source's "sent" record and the partner's "applied" one. */
	char *request_id;
} engine_audit_record;

typedef struct engine_audit_filter {
	uint32_t    scope_id;     /* 0 = all */
	const char *relationship; /* NULL or "" = all */
	uint32_t    limit;        /* 0 = 100 */
} engine_audit_filter;

/* Release what a struct owns and zero it (NULL is a no-op). */
void engine_scope_fini(engine_scope *scope);
void engine_option_value_fini(engine_option_value *value);
void engine_reservation_fini(engine_reservation *reservation);
void engine_option_def_fini(engine_option_def *def);
void engine_class_fini(engine_class *cls);
void engine_criterion_fini(engine_criterion *criterion);
void engine_policy_fini(engine_policy *policy);
void engine_failover_fini(engine_failover *relationship);
void engine_scope_config_fini(engine_scope_config *config);
void engine_audit_record_fini(engine_audit_record *record);

/* Release an array of n elements the engine allocated, and the array
 * (NULL is a no-op). */
void engine_scopes_free(engine_scope *scopes, size_t n);
void engine_exclusions_free(engine_exclusion *exclusions, size_t n);
void engine_option_values_free(engine_option_value *values, size_t n);
void engine_reservations_free(engine_reservation *reservations, size_t n);
void engine_option_defs_free(engine_option_def *defs, size_t n);
void engine_classes_free(engine_class *classes, size_t n);
void engine_policies_free(engine_policy *policies, size_t n);
void engine_failovers_free(engine_failover *relationships, size_t n);
void engine_object_diffs_free(engine_object_diff *diffs, size_t n);
void engine_audit_records_free(engine_audit_record *records, size_t n);

/* engine_scope_config_fini, then free(config). NULL is a no-op. */
void engine_scope_config_free(engine_scope_config *config);

/* Names of enum values as the proto spells them without prefix ("DHCP",
 * "LOAD_BALANCE"); "UNSPECIFIED" for unknown numbers. Never NULL. */
const char *engine_option_type_name(engine_option_type type);
const char *engine_class_type_name(engine_class_type type);
const char *engine_criterion_type_name(engine_criterion_type type);

#endif /* FREP_ENGINE_MODEL_H */
