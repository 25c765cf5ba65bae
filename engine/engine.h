/*
 * engine: one DHCPv4 server's configuration (model.h), its validation, its
 * SQLite store, and replication as data (snapshot, digest, diff, apply).
 * The engine knows no wire: addresses are uint32_t (host order), every call
 * returns a frep_code and fills a frep_status whose message names the field
 * and the value at fault.
 *
 * Conventions for every call below unless said otherwise:
 *  - e and st: st may be NULL (then only the code is returned); on success
 *    st is cleared to OK.
 *  - Writes are one transaction (BEGIN IMMEDIATE ... COMMIT): on any error
 *    nothing changed. Reads of several statements run in one read
 *    transaction (a consistent snapshot).
 *  - Inputs are borrowed for the call. Outputs (out structs, arrays) belong
 *    to the caller, released with model.h's _fini / _free functions; on
 *    error no output is left allocated. An `out` that may be NULL is said
 *    so.
 *  - Set calls take an update mask: field names (as in config.proto); an
 *    empty mask (n_mask == 0) sets every settable field. An unknown name is
 *    INVALID_ARGUMENT. The merged object is validated as a whole.
 *  - Statuses: INVALID_ARGUMENT (bad input), NOT_FOUND (unknown key or a
 *    referenced object missing), ALREADY_EXISTS (key taken),
 *    FAILED_PRECONDITION (the store's state forbids it), INTERNAL /
 *    UNAVAILABLE / DATA_LOSS / RESOURCE_EXHAUSTED (storage trouble, the
 *    SQLite code in the message).
 *  - Thread safety: one engine handle may be used by many threads at once;
 *    calls are serialised by an internal mutex.
 */
#ifndef FREP_ENGINE_ENGINE_H
#define FREP_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frep_status.h"
#include "model.h"

typedef struct engine engine;

/* Options of engine_open; pass NULL for the defaults. */
typedef struct engine_options {
	int busy_timeout_ms; /* wait for another process's lock; 0 = 5000 */
} engine_options;

/* The schema version this build creates and migrates to. */
#define ENGINE_SCHEMA_VERSION 7

/* Opens (creating if needed) the store at path, sets WAL mode,
 * synchronous=FULL and foreign keys, and runs pending migrations in one
 * transaction (a new store gets RFC 2132's option definitions and the
 * Windows default classes). FAILED_PRECONDITION if the file's schema is
 * newer than this build; UNAVAILABLE/INTERNAL if SQLite fails. On success
 * *out is a handle to close with engine_close. */
frep_code engine_open(
    const char *path, const engine_options *options, engine **out, frep_status *st);

/* Closes the handle (NULL is a no-op). No call may be running on it. */
void engine_close(engine *e);

/* Sets (fn non-NULL) or clears (fn NULL) the commit hook: fn(arg) is
 * called after every successful COMMIT of a write transaction (admin
 * writes, applies, audit appends; dry runs too, which commit nothing new),
 * on the committing thread, after the engine's mutex is released — fn may
 * call the engine. Never called for reads or rolled-back writes. fn must
 * be quick (signal a worker, do not do I/O). Thread-safe; a hook being
 * replaced may still run once with its old arg. */
void engine_set_commit_hook(engine *e, void (*fn)(void *arg), void *arg);

/* A batch: the calls this thread makes between engine_batch_begin and
 * engine_batch_end form ONE write transaction (each call's own
 * transaction becomes a savepoint inside it: a failing call changes
 * nothing, the others stay). engine_batch_end commits (commit true; the
 * commit hook runs once) or discards everything. While the batch is open
 * other threads' calls wait. FAILED_PRECONDITION if this thread already
 * has a batch open (begin) or has none (end); storage failures as any
 * write. A discarded batch's end is OK. */
frep_code engine_batch_begin(engine *e, frep_status *st);
frep_code engine_batch_end(engine *e, bool commit, frep_status *st);

/* The store's schema version (PRAGMA user_version). */
frep_code engine_schema_version(engine *e, int *version, frep_status *st);

/* --- scopes ------------------------------------------------------------ */

/* Adds a scope, applying defaults (lease 8 days, state ACTIVE, type DHCP,
 * max BOOTP unlimited, activate_policies true). Checks: mask contiguous and
 * not /31, /32; scope_id is the network address; range inside the subnet
 * (not network or broadcast) and ordered; the range overlaps no other
 * scope's; text bounds. ALREADY_EXISTS if scope_id is taken. out (may be
 * NULL) receives the stored scope. */
frep_code engine_scope_add(
    engine *e, const engine_scope *scope, engine_scope *out, frep_status *st);

/* Updates the scope scope->scope_id. Settable: subnet_mask, name,
 * description, start_range, end_range, lease_duration_s, state, type,
 * superscope_name, max_bootp_clients, delay_ms, activate_policies. Also
 * checks that exclusions, reservations and policy ranges still fit.
 * NOT_FOUND if the scope is unknown. out may be NULL. */
frep_code engine_scope_set(engine *e, const engine_scope *scope, const char *const *mask,
    size_t n_mask, engine_scope *out, frep_status *st);

/* Reads one scope. NOT_FOUND if unknown. */
frep_code engine_scope_get(engine *e, uint32_t scope_id, engine_scope *out, frep_status *st);

/* Reads every scope, ordered by scope_id, into a new array (*out may be
 * NULL when *n == 0); free with engine_scopes_free. */
frep_code engine_scope_list(engine *e, engine_scope **out, size_t *n, frep_status *st);

/* Removes a scope with everything in it (exclusions, reservations, option
 * values, policies). FAILED_PRECONDITION naming the relationship if the
 * scope belongs to one and force is false; with force it leaves it.
 * NOT_FOUND if unknown. */
frep_code engine_scope_remove(engine *e, uint32_t scope_id, bool force, frep_status *st);

/* --- exclusion ranges -------------------------------------------------- */

/* Adds an exclusion: inside the scope's range, start <= end.
 * NOT_FOUND if the scope is unknown, ALREADY_EXISTS if the same range is
 * there. */
frep_code engine_exclusion_add(engine *e, const engine_exclusion *exclusion, frep_status *st);

/* Lists the exclusions of a scope (scope_id 0 = every scope), ordered by
 * (scope_id, start, end); free with engine_exclusions_free. NOT_FOUND if
 * a non-zero scope_id is unknown. */
frep_code engine_exclusion_list(
    engine *e, uint32_t scope_id, engine_exclusion **out, size_t *n, frep_status *st);

/* Removes the exclusion with exactly this (scope_id, start, end).
 * NOT_FOUND if there is none. */
frep_code engine_exclusion_remove(engine *e, const engine_exclusion *exclusion, frep_status *st);

/* --- reservations ------------------------------------------------------ */

/* Adds a reservation (and its option values): ip inside the subnet (not
 * network/broadcast), client_id hex bytes (normalised), unique by ip and by
 * client id within the scope (ALREADY_EXISTS); type 0 = BOTH. NOT_FOUND if
 * the scope is unknown. out may be NULL. */
frep_code engine_reservation_add(
    engine *e, const engine_reservation *reservation, engine_reservation *out, frep_status *st);

/* Updates the reservation (scope_id, ip_address). Settable: client_id,
 * name, description, type, options (replaces the whole set). NOT_FOUND if
 * unknown. out may be NULL. */
frep_code engine_reservation_set(engine *e, const engine_reservation *reservation,
    const char *const *mask, size_t n_mask, engine_reservation *out, frep_status *st);

/* Reads one reservation with its option values. NOT_FOUND if unknown. */
frep_code engine_reservation_get(
    engine *e, uint32_t scope_id, uint32_t ip_address, engine_reservation *out, frep_status *st);

/* Lists reservations (scope_id 0 = every scope), ordered by (scope, ip),
 * with their option values; free with engine_reservations_free. */
frep_code engine_reservation_list(
    engine *e, uint32_t scope_id, engine_reservation **out, size_t *n, frep_status *st);

/* Removes a reservation and its option values. NOT_FOUND if unknown. */
frep_code engine_reservation_remove(
    engine *e, uint32_t scope_id, uint32_t ip_address, frep_status *st);

/* --- option definitions ------------------------------------------------ */

/* Adds a definition: option_id 1..254, type given, vendor_class (if any)
 * an existing vendor class (NOT_FOUND), default values valid for the type.
 * ALREADY_EXISTS if (option_id, vendor_class) is taken. out may be NULL. */
frep_code engine_option_def_add(
    engine *e, const engine_option_def *def, engine_option_def *out, frep_status *st);

/* Updates a definition. Settable: name, description, type, multi_valued,
 * default_value. FAILED_PRECONDITION if a predefined definition's type or
 * multi_valued would change, or if option values in use no longer fit.
 * out may be NULL. */
frep_code engine_option_def_set(engine *e, const engine_option_def *def, const char *const *mask,
    size_t n_mask, engine_option_def *out, frep_status *st);

/* Reads one definition. NOT_FOUND if unknown. */
frep_code engine_option_def_get(engine *e, uint32_t option_id, const char *vendor_class,
    engine_option_def *out, frep_status *st);

/* Lists the definitions of vendor_class's space ("" or NULL = the standard
 * space), or of every space if all_vendors; ordered by (vendor_class,
 * option_id). Free with engine_option_defs_free. */
frep_code engine_option_def_list(engine *e, const char *vendor_class, bool all_vendors,
    engine_option_def **out, size_t *n, frep_status *st);

/* Removes a definition. FAILED_PRECONDITION if predefined or if an option
 * value uses it (naming where). NOT_FOUND if unknown. */
frep_code engine_option_def_remove(
    engine *e, uint32_t option_id, const char *vendor_class, frep_status *st);

/* --- option values ----------------------------------------------------- */

/* Creates the value, or replaces the one with the same identity, at
 * target. The definition (option_id, vendor_class) must exist
 * (NOT_FOUND "option definition 250 (vendor class '') does not exist"),
 * vendor_class / user_class must exist as classes (NOT_FOUND), values must
 * match the definition's type and arity (INVALID_ARGUMENT); values are
 * stored in normal form. NOT_FOUND if the target is unknown. out may be
 * NULL. */
frep_code engine_option_value_set(engine *e, const engine_option_target *target,
    const engine_option_value *value, engine_option_value *out, frep_status *st);

/* The value checks engine_option_value_set (and a partner's apply) make
 * that need no store: values of def's type and arity, in normal form, and
 * a payload the option's wire format accepts (for a code with a standard
 * DHCPv4 format, that format; else the definition's own: a non-empty
 * string, one or more fixed-size values, ...). INVALID_ARGUMENT naming the
 * option, the field and the value. *norm (to engine_option_value_fini) gets
 * the normal form. Thread-safe. */
frep_code engine_option_value_validate(const engine_option_def *def,
    const engine_option_value *value, engine_option_value *norm, frep_status *st);

/* --- DNS dynamic-update settings ---------------------------------------- */

/* Windows keeps a DNS update setting as option 81's value (4 bytes, a
 * flags word "00-00-00-XX") at the server, a scope or a reservation; frep
 * keeps it the same way, so it replicates with the scope. */
#define ENGINE_DNS_SETTING_OPTION 81

typedef enum engine_dns_updates {
	ENGINE_DNS_UPDATES_UNSPECIFIED       = 0,
	ENGINE_DNS_UPDATES_ON_CLIENT_REQUEST = 1,
	ENGINE_DNS_UPDATES_ALWAYS            = 2,
	ENGINE_DNS_UPDATES_NEVER             = 3,
} engine_dns_updates;

/* Set-DhcpServerv4DnsSetting's fields. */
typedef struct engine_dns_setting {
	engine_dns_updates dynamic_updates;
	bool               delete_dns_rr_on_lease_expiry;
	bool               update_dns_rr_for_older_clients;
	bool               name_protection;
	bool               disable_dns_ptr_rr_update;
} engine_dns_setting;

/* Where an effective setting comes from. */
typedef enum engine_dns_source {
	ENGINE_DNS_SOURCE_DEFAULT     = 0, /* Windows' default: on client request, delete */
	ENGINE_DNS_SOURCE_SERVER      = 1,
	ENGINE_DNS_SOURCE_SCOPE       = 2,
	ENGINE_DNS_SOURCE_RESERVATION = 3,
} engine_dns_source;

/* The flags word of s, and back. */
uint32_t engine_dns_setting_flags(const engine_dns_setting *s);
void     engine_dns_setting_from_flags(uint32_t flags, engine_dns_setting *s);
/* The setting an option 81 value holds; INVALID_ARGUMENT if it is not 4
 * bytes. */
frep_code engine_dns_setting_from_value(
    const engine_option_value *v, engine_dns_setting *out, frep_status *st);
const char *engine_dns_updates_name(engine_dns_updates u);

/* Writes s as option 81's value at target (server, scope or reservation),
 * as engine_option_value_set does (NOT_FOUND for an unknown target).
 * INVALID_ARGUMENT for dynamic_updates outside 1..3. */
frep_code engine_dns_setting_set(
    engine *e, const engine_option_target *target, const engine_dns_setting *s, frep_status *st);

/* The setting in force at target: its own, else its scope's, else the
 * server's, else Windows' default; *source (may be NULL) says which.
 * NOT_FOUND for an unknown target, INVALID_ARGUMENT for a policy target. */
frep_code engine_dns_setting_get(engine *e, const engine_option_target *target,
    engine_dns_setting *out, engine_dns_source *source, frep_status *st);

/* True if option_id has a standard DHCPv4 wire format frep checks values
 * against (every code ISC Kea 2.2 defines in its dhcp4 space). */
bool engine_option_code_is_standard(uint32_t option_id);

/* Reads one value. NOT_FOUND if the target or the value is unknown. */
frep_code engine_option_value_get(engine *e, const engine_option_target *target, uint32_t option_id,
    const char *vendor_class, const char *user_class, engine_option_value *out, frep_status *st);

/* Lists the values at target, ordered by identity; free with
 * engine_option_values_free. */
frep_code engine_option_value_list(engine *e, const engine_option_target *target,
    engine_option_value **out, size_t *n, frep_status *st);

/* Removes one value. NOT_FOUND if the target or the value is unknown. */
frep_code engine_option_value_remove(engine *e, const engine_option_target *target,
    uint32_t option_id, const char *vendor_class, const char *user_class, frep_status *st);

/* --- classes ----------------------------------------------------------- */

/* Adds a vendor or user class (type required, name 1..255 bytes, data
 * required). ALREADY_EXISTS if (type, name) is taken. out may be NULL. */
frep_code engine_class_add(engine *e, const engine_class *cls, engine_class *out, frep_status *st);

/* Updates a class. Settable: data, description. out may be NULL. */
frep_code engine_class_set(engine *e, const engine_class *cls, const char *const *mask,
    size_t n_mask, engine_class *out, frep_status *st);

/* Reads one class. NOT_FOUND if unknown. */
frep_code engine_class_get(
    engine *e, engine_class_type type, const char *name, engine_class *out, frep_status *st);

/* Lists classes of a type (UNSPECIFIED = both), ordered by (type, name);
 * free with engine_classes_free. */
frep_code engine_class_list(
    engine *e, engine_class_type type, engine_class **out, size_t *n, frep_status *st);

/* Removes a class. FAILED_PRECONDITION naming a user if an option
 * definition, option value or policy criterion refers to it. */
frep_code engine_class_remove(engine *e, engine_class_type type, const char *name, frep_status *st);

/* --- policies ---------------------------------------------------------- */

/* Adds a policy (scope_id 0 = server level): name 1..64 bytes, unique per
 * scope (ALREADY_EXISTS); criteria with a type, EQ or NE, 1..64 values
 * well formed for the type (MAC / client id as hex, classes that exist);
 * IP ranges (scope level only) inside the scope's range, ordered, not
 * overlapping each other or another policy's; processing_order 0 = after
 * the last, otherwise unused at that level (ALREADY_EXISTS); option values
 * as engine_option_value_set. out may be NULL. */
frep_code engine_policy_add(
    engine *e, const engine_policy *policy, engine_policy *out, frep_status *st);

/* Updates the policy (scope_id, name). Settable: description, enabled,
 * condition, processing_order, criteria, ip_ranges, lease_duration_s,
 * options (lists are replaced whole). out may be NULL. */
frep_code engine_policy_set(engine *e, const engine_policy *policy, const char *const *mask,
    size_t n_mask, engine_policy *out, frep_status *st);

/* Reads one policy. NOT_FOUND if unknown. */
frep_code engine_policy_get(
    engine *e, uint32_t scope_id, const char *name, engine_policy *out, frep_status *st);

/* Lists the policies of a scope (or the server-level ones when scope_id is
 * 0), ordered by processing order; free with engine_policies_free. */
frep_code engine_policy_list(
    engine *e, uint32_t scope_id, engine_policy **out, size_t *n, frep_status *st);

/* Removes a policy with its criteria, ranges and option values. */
frep_code engine_policy_remove(engine *e, uint32_t scope_id, const char *name, frep_status *st);

/* Adds / removes one IP range of a scope-level policy (same checks as
 * engine_policy_add). out (may be NULL) receives the policy after. */
frep_code engine_policy_range_add(engine *e, uint32_t scope_id, const char *name,
    const engine_ip_range *range, engine_policy *out, frep_status *st);
frep_code engine_policy_range_remove(engine *e, uint32_t scope_id, const char *name,
    const engine_ip_range *range, engine_policy *out, frep_status *st);

/* --- failover relationships -------------------------------------------- */

/* Adds a relationship: name 1..126 bytes, partner_server required,
 * percents 0..100, scopes that exist (NOT_FOUND), are listed once
 * (INVALID_ARGUMENT) and belong to no relationship (FAILED_PRECONDITION);
 * at most 31 relationships (FAILED_PRECONDITION). Defaults: mode
 * LOAD_BALANCE, role ACTIVE, LB 50, reserve 5, MCLT 3600, state NORMAL,
 * auto_sync ON.
 * ALREADY_EXISTS if the name is taken. out (may be NULL) never holds the
 * secret. */
frep_code engine_failover_add(
    engine *e, const engine_failover *rel, engine_failover *out, frep_status *st);

/* Updates a relationship. Settable: partner_server, mode, server_role,
 * load_balance_percent, reserve_percent, max_client_lead_time_s,
 * auto_state_transition, state_switch_interval_s, shared_secret, state,
 * local_server, auto_sync (UNSPECIFIED leaves it as it is), and — only
 * when the mask names them — kea_ha_url, partner_kea_ha_url (scopes change
 * through add_scope / remove_scope). A new
 * shared secret keeps the old one as the previous secret for
 * ENGINE_SECRET_GRACE_MS (engine_failover_previous_secret). */
frep_code engine_failover_set(engine *e, const engine_failover *rel, const char *const *mask,
    size_t n_mask, engine_failover *out, frep_status *st);

/* Checks url (NULL or "" = none: OK) as a Kea HA listener URL,
 * http://IPV4:PORT with an optional final '/'. INVALID_ARGUMENT naming
 * field and url otherwise. */
frep_code engine_ha_url_check(const char *field, const char *url, frep_status *st);

/* engine_ha_url_check that also gives the address (host order) and port
 * (either may be NULL); both are left alone for NULL or "" (OK). */
frep_code engine_ha_url_parse(
    const char *field, const char *url, uint32_t *addr, uint16_t *port, frep_status *st);

/* Reads one relationship, without its secret. NOT_FOUND if unknown. */
frep_code engine_failover_get(engine *e, const char *name, engine_failover *out, frep_status *st);

/* Lists relationships ordered by name, without secrets; free with
 * engine_failovers_free. */
frep_code engine_failover_list(engine *e, engine_failover **out, size_t *n, frep_status *st);

/* Removes a relationship (its scopes stay, in no relationship). */
frep_code engine_failover_remove(engine *e, const char *name, frep_status *st);

/* Adds / removes scopes to / from a relationship (all or nothing). Adding:
 * NOT_FOUND for an unknown scope, FAILED_PRECONDITION if it is in a
 * relationship already. Removing: FAILED_PRECONDITION if a scope is not in
 * this relationship. out may be NULL. */
frep_code engine_failover_add_scopes(engine *e, const char *name, const uint32_t *scope_ids,
    size_t n, engine_failover *out, frep_status *st);
frep_code engine_failover_remove_scopes(engine *e, const char *name, const uint32_t *scope_ids,
    size_t n, engine_failover *out, frep_status *st);

/* The relationship a scope belongs to: *found false if none. name_out
 * (size >= ENGINE_RELATIONSHIP_NAME_MAX + 1) receives its name. */
frep_code engine_failover_of_scope(engine *e, uint32_t scope_id, bool *found,
    char name_out[ENGINE_RELATIONSHIP_NAME_MAX + 1], frep_status *st);

/* The relationship's shared secret, the only call that returns it: *out
 * is a new string the caller frees (free()). NOT_FOUND if unknown. */
frep_code engine_failover_secret(engine *e, const char *name, char **out, frep_status *st);

/* How long a replaced shared secret is still accepted (and tried) after
 * engine_failover_set changed it: the window in which the two servers of
 * a pair change over. */
#define ENGINE_SECRET_GRACE_MS (10 * 60 * 1000)

/* The relationship's previous shared secret while its grace window lasts:
 * *out new (free()), or NULL when there is none (still FREP_OK).
 * NOT_FOUND if the relationship is unknown. */
frep_code engine_failover_previous_secret(engine *e, const char *name, char **out, frep_status *st);

/* --- replication as data ----------------------------------------------- */

/* Reads the whole scope (properties, exclusions, reservations with their
 * options, scope options, scope policies) in one read transaction, in
 * canonical order, with the option definitions and classes it references
 * and its digest. *out is new; free with engine_scope_config_free.
 * NOT_FOUND if the scope is unknown. */
frep_code engine_scope_snapshot(
    engine *e, uint32_t scope_id, engine_scope_config **out, frep_status *st);

/* SHA-256 over the canonical encoding (docs/ENGINE.md) of config's scope,
 * exclusions, reservations, options and policies, as 64 lower-case hex
 * digits. Independent of the order of config's arrays. Pure: no engine.
 * RESOURCE_EXHAUSTED if memory runs out. */
frep_code engine_scope_config_digest(
    const engine_scope_config *config, char out[65], frep_status *st);

/* The digest of the local scope; *found false and out "" if the scope does
 * not exist (still FREP_OK). */
frep_code engine_scope_digest(
    engine *e, uint32_t scope_id, char out[65], bool *found, frep_status *st);

/* The digests of n scopes at once into out[i] (found[i] false and out[i]
 * "" for a scope that does not exist). Digests are stored with the scope
 * and cleared by any change to it (in the same transaction), so this is a
 * lookup for scopes unchanged since their digest was last computed, and a
 * snapshot (stored for next time) otherwise. */
frep_code engine_scope_digests(
    engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65], bool *found, frep_status *st);

/* engine_scope_digests for the source of a replication, which sends the
 * scopes whose digest differs from its partner's: a digest that has to be
 * computed comes with the snapshot it was computed from, so that the send
 * does not read the scope a second time. snaps has room for n; snaps[i] is
 * that snapshot (else NULL: the digest was stored, the scope does not
 * exist, or the snapshots handed out already hold keep_reservations
 * reservations; the first is always handed out, to bound the memory of
 * many scopes without reading a big one twice). Each is registered as
 * being sent, atomically with its read, exactly as by
 * engine_scope_snapshot_outgoing, and is the caller's: end it with
 * engine_scope_outgoing_end (digest snaps[i]->digest) and free it with
 * engine_scope_config_free, sent or not (engine_scope_outgoing_release
 * does both). On an error none is handed out. INVALID_ARGUMENT if snaps
 * is NULL. */
frep_code engine_scope_digests_outgoing(engine *e, const uint32_t *scope_ids, size_t n,
    char (*out)[65], bool *found, engine_scope_config **snaps, size_t keep_reservations,
    frep_status *st);

/* For each non-NULL snaps[i] (i < n) of engine_scope_digests_outgoing or
 * engine_scope_snapshot_outgoing: engine_scope_outgoing_end with its
 * scope and digest, engine_scope_config_free, and snaps[i] = NULL.
 * snaps NULL: nothing. */
void engine_scope_outgoing_release(engine *e, engine_scope_config **snaps, size_t n);

/* Like engine_scope_digests, but only the digests already stored (one read
 * transaction, never a snapshot, never a write): found[i] false and out[i]
 * "" for a scope changed since its digest was last computed, or unknown. */
frep_code engine_scope_digests_stored(
    engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65], bool *found, frep_status *st);

/* Compares the local scope incoming->scope.scope_id with incoming: counts
 * per kind into *changes and, if diff is not NULL, the list of objects
 * that differ (*diff new, free with engine_object_diffs_free). Identity
 * keys: exclusion (start, end), reservation ip, option (option_id,
 * vendor_class, user_class), policy name. O(n log n). */
frep_code engine_scope_diff(engine *e, const engine_scope_config *incoming,
    engine_scope_changes *changes, engine_object_diff **diff, size_t *n_diff, frep_status *st);

/* Replaces the local scope with incoming in one write transaction, so
 * that objects incoming lacks are removed. First checks dependencies
 * (every option definition and class used exists here, else
 * FAILED_PRECONDITION naming the missing one), then a non-empty
 * incoming->digest must match the config (INVALID_ARGUMENT), then
 * validates the config (as the admin calls would). The scope's failover
 * membership is not touched. dry_run computes everything and changes
 * nothing. changes, diff/n_diff, digest_before ("" if the scope was not
 * here) and digest_after may each be NULL. */
frep_code engine_scope_apply(engine *e, const engine_scope_config *incoming, bool dry_run,
    engine_scope_changes *changes, engine_object_diff **diff, size_t *n_diff,
    char digest_before[65], char digest_after[65], frep_status *st);

/* The outcome of one scope of engine_scope_apply_batch. */
typedef struct engine_apply_result {
	frep_code            code;
	frep_status          status;
	engine_scope_changes changes;
	engine_object_diff  *diff; /* want_diff only; free with engine_object_diffs_free */
	size_t               n_diff;
	char                 digest_before[65];
	char                 digest_after[65];
	/* engine_scope_apply_guarded only: ABORTED because this server is
	 * sending its own version of the scope right now and the incoming one
	 * wins; wait for the send to end and apply again. */
	bool wait_outgoing;
	/* engine_scope_apply_guarded only: the scope joined the relationship
	 * here (it was new here, or adopted). */
	bool joined;
	/* engine_scope_apply_guarded only: ABORTED because the scope's digest
	 * here is not the expected one (a retry from fresh digests may
	 * succeed). */
	bool stale_expected;
} engine_apply_result;

/* Applies n configs as engine_scope_apply would, each all or nothing (a
 * savepoint), all in ONE write transaction and one commit: a scope that
 * fails leaves the others applied; a crash before the commit leaves every
 * scope as it was. results[i] (caller's array of n) says how each went.
 * Returns OK when the batch committed; otherwise the commit's failure,
 * also copied into every result (nothing of the batch is stored). */
frep_code engine_scope_apply_batch(engine *e, const engine_scope_config *const *configs, size_t n,
    bool dry_run, bool want_diff, engine_apply_result *results, frep_status *st);

/* --- versioned apply, outgoing replications, last-synced state ---------- */

/* How a partner applies a replicated scope (engine_scope_apply_guarded):
 * the rules that keep a pair from losing or reverting an update. */
typedef struct engine_apply_guard {
	/* The calling relationship. The scope must not exist here, or belong
	 * to this relationship here; a scope of another relationship is
	 * FAILED_PRECONDITION, and so is a scope in no relationship unless
	 * adopt. On success a scope new to the relationship joins it and the
	 * relationship's last-synced state of the scope is written, all in the
	 * apply's transaction. Required (non-empty). */
	const char *relationship;
	/* Take over a scope that exists here in no relationship (AddFailover /
	 * AddFailoverScope with force). */
	bool adopt;
	/* Compare-and-swap: apply only if the scope here still has
	 * expected_digest ("" = the scope must not exist here), else ABORTED
	 * naming both digests. */
	bool        check_expected;
	const char *expected_digest;
} engine_apply_guard;

/* engine_scope_apply_batch with a guard per config (guards[i] for
 * configs[i]). Besides the guard's rules, an apply of a scope that this
 * server is itself sending to a partner at that moment (see
 * engine_scope_snapshot_outgoing) with a different digest is refused with
 * ABORTED: when the digest being sent sorts before the incoming one,
 * outright (this server's version wins); otherwise with
 * results[i].wait_outgoing set — the caller waits for the send to end
 * (engine_scope_outgoing_wait) and applies again. Dry runs check the guard
 * but not outgoing sends. A missing dependency is FAILED_PRECONDITION
 * naming every missing option definition and class, "… do not exist
 * there" (the message is meant for the source). */
frep_code engine_scope_apply_guarded(engine *e, const engine_scope_config *const *configs,
    const engine_apply_guard *guards, size_t n, bool dry_run, bool want_diff,
    engine_apply_result *results, frep_status *st);

/* engine_scope_snapshot that also registers the scope as being sent to a
 * partner with the snapshot's digest, atomically with the read: from now
 * until engine_scope_outgoing_end an incoming apply of this scope is
 * refused or waits (engine_scope_apply_guarded). Taking the snapshot and
 * registering together is what makes crossing replications safe: an
 * apply that arrived before the registration is in the snapshot. */
frep_code engine_scope_snapshot_outgoing(
    engine *e, uint32_t scope_id, engine_scope_config **out, frep_status *st);

/* Ends one registration of (scope_id, digest) and wakes waiters. */
void engine_scope_outgoing_end(engine *e, uint32_t scope_id, const char *digest);

/* Waits until no send of scope_id is registered, at most timeout_ms;
 * true if none is left. */
bool engine_scope_outgoing_wait(engine *e, uint32_t scope_id, uint32_t timeout_ms);

/* The last successful replication of a scope within a relationship, as
 * both servers of the pair record it. */
typedef struct engine_sync_state {
	char    digest[65];   /* the digest both sides held after it */
	int64_t time_unix_ms; /* when it happened */
} engine_sync_state;

/* Reads the last-synced state of n scopes of relationship into out[i]
 * (found[i] false, out[i] zeroed when there is none). */
frep_code engine_sync_states_get(engine *e, const char *relationship, const uint32_t *scope_ids,
    size_t n, engine_sync_state *out, bool *found, frep_status *st);

/* Records that scope_ids[i] was replicated with digests[i] at time (0 =
 * now), n at once in one transaction. FAILED_PRECONDITION if the
 * relationship does not exist. */
frep_code engine_sync_states_put(engine *e, const char *relationship, const uint32_t *scope_ids,
    const char *const *digests, size_t n, int64_t time_unix_ms, frep_status *st);

/* --- audit ------------------------------------------------------------- */

/* Defaults of the audit's retention (engine_set_audit_retention). */
#define ENGINE_AUDIT_MAX_ROWS_DEFAULT  100000
#define ENGINE_AUDIT_MAX_AGE_S_DEFAULT (90u * 24u * 3600u)

/* Bounds the audit: every append also deletes records older than
 * max_age_s and all but the newest max_rows (0 = no bound of that kind).
 * Thread-safe. */
void engine_set_audit_retention(engine *e, uint32_t max_rows, uint32_t max_age_s);

/* Appends an audit record (time 0 = now). *id (may be NULL) receives its
 * id. INVALID_ARGUMENT if direction is not "sent" or "applied", or a text
 * field is too long (request_id: ENGINE_REQUEST_ID_MAX) or, but for
 * message, holds a control character. */
frep_code engine_audit_add(
    engine *e, const engine_audit_record *record, uint64_t *id, frep_status *st);

/* The "applied" record of a scope apply: the change counts summed over the
 * kinds (the scope's own properties count as updated); request_id is the
 * id of the call that applied it (NULL or "" = none). Strings are
 * borrowed. */
engine_audit_record engine_audit_applied(const char *source, const char *relationship,
    const char *request_id, uint32_t scope_id, const char *digest_before, const char *digest_after,
    const engine_scope_changes *changes);

/* Appends n records in one transaction (all or none). */
frep_code engine_audit_add_many(
    engine *e, const engine_audit_record *records, size_t n, frep_status *st);

/* A source's record of one batch of a replication, in one transaction
 * (one commit): the n audit records, and the last-synced state of the
 * n_synced scopes of relationship that succeeded (synced_ids[i] now holds
 * synced_digests[i] on both sides). */
frep_code engine_audit_add_synced(engine *e, const engine_audit_record *records, size_t n,
    const char *relationship, const uint32_t *synced_ids, const char *const *synced_digests,
    size_t n_synced, frep_status *st);

/* Lists audit records matching filter (NULL = all), newest first, at most
 * filter->limit (0 = 100); free with engine_audit_records_free. */
frep_code engine_audit_list(engine *e, const engine_audit_filter *filter, engine_audit_record **out,
    size_t *n, frep_status *st);

#endif /* FREP_ENGINE_ENGINE_H */
