/*
 * convert: the frep.v1 protoc-c messages <-> the engine's model structs
 * (engine/model.h), for every object kind, whole scope configs and
 * replication results. The one place where IPv4 text from the wire is
 * parsed (engine_ipv4_parse, naming the proto field and the value) and
 * where wire enum numbers are checked.
 *
 * Memory: everything a conversion allocates comes from a convert_arena,
 * a list of blocks freed together by convert_arena_fini. A handler keeps
 * one arena per call and finalises it after its closure returned.
 *
 *  - proto -> engine (*_from_proto): the engine struct borrows the
 *    message's strings and string arrays, and its own arrays (options,
 *    criteria, ranges, scope ids, ...) come from the arena: keep both the
 *    message and the arena alive while the struct is used; never pass it
 *    to an engine _fini function. NULL strings read as "".
 *  - engine -> proto (*_to_proto): the new message borrows the engine
 *    struct's strings; formatted addresses, arrays and sub-messages come
 *    from the arena: keep both the engine struct and the arena alive while
 *    the message is used (packed, passed to a closure); never free it with
 *    protobuf_c_message_free_unpacked.
 *
 * Statuses: INVALID_ARGUMENT naming the field and value (bad or missing
 * IPv4 text, an enum number the contract does not define, a repeated field
 * over its bound, a missing sub-message); RESOURCE_EXHAUSTED when memory
 * runs out. On error the out-parameters are unspecified (what was
 * allocated is still released by convert_arena_fini).
 *
 * `field` parameters name the message in errors as the proto spells it,
 * e.g. "reservation" gives "reservation.ip_address '10.0.0.x' is not an
 * IPv4 address ..."; nested elements get "scope_config.reservations[3]".
 *
 * Thread safety: functions are reentrant; an arena belongs to one thread
 * at a time.
 */
#ifndef FREP_RPC_CONVERT_H
#define FREP_RPC_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "frep/v1/config.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_status.h"
#include "model.h"

/* Bounds on repeated fields, checked before anything is allocated. The
 * per-object ones are the engine's (model.h). */
#define CONVERT_SCOPE_IDS_MAX    65536  /* scope ids in one request */
#define CONVERT_RESERVATIONS_MAX 100000 /* reservations in a ScopeConfig */
#define CONVERT_EXCLUSIONS_MAX   100000 /* exclusions in a ScopeConfig */
#define CONVERT_POLICIES_MAX     10000  /* policies in a ScopeConfig */
#define CONVERT_DEPENDENCIES_MAX 100000 /* definitions / classes used */

/* --- the arena ---------------------------------------------------------- */

typedef struct convert_block convert_block;

/* Allocations freed together. Embedded (usually on the stack): _init
 * before use, _fini once; after _fini it may be _init-ed again. */
typedef struct convert_arena {
	convert_block *head;
} convert_arena;

void convert_arena_init(convert_arena *a);
/* Frees every allocation of a. */
void convert_arena_fini(convert_arena *a);

/* size zeroed bytes, aligned for any type, owned by a; NULL (and
 * RESOURCE_EXHAUSTED in st) if memory runs out. size 0 gives a valid
 * pointer. */
void *convert_arena_alloc(convert_arena *a, size_t size, frep_status *st);

/* A copy of s (NULL reads as "") owned by a; NULL if memory runs out. */
char *convert_arena_strdup(convert_arena *a, const char *s, frep_status *st);

/* Like convert_arena_strdup, for a message a reply carries (ItemError,
 * ScopeResult): made valid UTF-8 as proto3 strings must be (frep_utf8_sanitize:
 * a byte that is not part of a character becomes "\xNN"; a message built by
 * snprintf and cut inside a character loses the half). */
char *convert_arena_message(convert_arena *a, const char *s, frep_status *st);

/* --- addresses and enums ------------------------------------------------ */

/* Parses IPv4 text once. Empty (or NULL) text: INVALID_ARGUMENT "<field>
 * is required" if required, else *out = 0. Otherwise engine_ipv4_parse's
 * statuses, naming field and text. */
frep_code convert_ipv4_from_text(
    const char *text, const char *field, bool required, uint32_t *out, frep_status *st);

/* The dotted text of addr in a new arena string; "" for 0 when
 * zero_is_empty (an absent optional address). NULL if memory runs out. */
char *convert_ipv4_to_text(convert_arena *a, uint32_t addr, bool zero_is_empty, frep_status *st);

/* Checks a wire ClassType number (INVALID_ARGUMENT naming field and the
 * number if the contract does not define it). */
frep_code convert_class_type_from_proto(
    int value, const char *field, engine_class_type *out, frep_status *st);

/* --- proto -> engine ---------------------------------------------------- */

/* Scope. scope_id is always required; the other addresses are required
 * unless partial (a Set whose update mask may not name them: empty text
 * then reads as 0 and the engine validates the merged scope). */
frep_code convert_scope_from_proto(
    const Frep__V1__Scope *in, const char *field, bool partial, engine_scope *out, frep_status *st);

/* Exclusion range: all three addresses required. */
frep_code convert_exclusion_from_proto(
    const Frep__V1__ExclusionRange *in, const char *field, engine_exclusion *out, frep_status *st);

/* Option value (values borrowed as they are). */
frep_code convert_option_value_from_proto(
    const Frep__V1__OptionValue *in, const char *field, engine_option_value *out, frep_status *st);

/* An array of n option values (at most ENGINE_OPTIONS_MAX) into a new
 * arena array (*out NULL when n == 0). */
frep_code convert_option_values_from_proto(Frep__V1__OptionValue *const *in, size_t n,
    const char *field, convert_arena *a, engine_option_value **out, frep_status *st);

/* Reservation with its option values; scope_id and ip_address required. */
frep_code convert_reservation_from_proto(const Frep__V1__Reservation *in, const char *field,
    convert_arena *a, engine_reservation *out, frep_status *st);

/* Option definition (predefined, output only, is ignored). */
frep_code convert_option_def_from_proto(const Frep__V1__OptionDefinition *in, const char *field,
    engine_option_def *out, frep_status *st);

/* Vendor or user class. */
frep_code convert_class_from_proto(
    const Frep__V1__Class *in, const char *field, engine_class *out, frep_status *st);

/* IP range: both addresses required. */
frep_code convert_ip_range_from_proto(
    const Frep__V1__IpRange *in, const char *field, engine_ip_range *out, frep_status *st);

/* Policy (scope_id empty = server level; the oneof enabled_present maps to
 * enabled_present/enabled), with criteria, ranges and option values. */
frep_code convert_policy_from_proto(const Frep__V1__Policy *in, const char *field, convert_arena *a,
    engine_policy *out, frep_status *st);

/* Failover relationship, shared_secret included (input only); scope_ids
 * parsed into a new arena array. state is output only and is copied only
 * for Set (the engine decides what it takes). */
frep_code convert_failover_from_proto(const Frep__V1__FailoverRelationship *in, const char *field,
    convert_arena *a, engine_failover *out, frep_status *st);

/* Option target (NULL = server level): empty addresses read as 0, the
 * policy name is borrowed. */
frep_code convert_option_target_from_proto(const Frep__V1__OptionTarget *in, const char *field,
    engine_option_target *out, frep_status *st);

/* qsort/bsearch order of scope ids (uint32_t, host order). */
int convert_cmp_scope_id(const void *x, const void *y);

/* n scope id texts (each required, at most CONVERT_SCOPE_IDS_MAX) into a
 * new arena array (*out NULL when n == 0). */
frep_code convert_scope_ids_from_proto(char *const *in, size_t n, const char *field,
    convert_arena *a, uint32_t **out, frep_status *st);

/* Audit filter (ListAuditRequest): empty scope_id = all. */
frep_code convert_audit_filter_from_proto(
    const Frep__V1__ListAuditRequest *in, engine_audit_filter *out, frep_status *st);

/* A whole ScopeConfig (what a partner applies): scope required, every
 * element converted as its kind, counts bounded (CONVERT_*_MAX), digest
 * copied (INVALID_ARGUMENT if longer than 64 characters). The arrays of
 * *out come from the arena; never engine_scope_config_fini it. */
frep_code convert_scope_config_from_proto(const Frep__V1__ScopeConfig *in, const char *field,
    convert_arena *a, engine_scope_config *out, frep_status *st);

/* --- engine -> proto ---------------------------------------------------- */

/* Each fills *out with a new arena message (see "Memory" above). */
frep_code convert_scope_to_proto(
    const engine_scope *in, convert_arena *a, Frep__V1__Scope **out, frep_status *st);
frep_code convert_exclusion_to_proto(
    const engine_exclusion *in, convert_arena *a, Frep__V1__ExclusionRange **out, frep_status *st);
frep_code convert_option_value_to_proto(
    const engine_option_value *in, convert_arena *a, Frep__V1__OptionValue **out, frep_status *st);
frep_code convert_reservation_to_proto(
    const engine_reservation *in, convert_arena *a, Frep__V1__Reservation **out, frep_status *st);
frep_code convert_option_def_to_proto(const engine_option_def *in, convert_arena *a,
    Frep__V1__OptionDefinition **out, frep_status *st);
frep_code convert_class_to_proto(
    const engine_class *in, convert_arena *a, Frep__V1__Class **out, frep_status *st);
frep_code convert_policy_to_proto(
    const engine_policy *in, convert_arena *a, Frep__V1__Policy **out, frep_status *st);
/* Never copies shared_secret: the message's is always "". */
frep_code convert_failover_to_proto(const engine_failover *in, convert_arena *a,
    Frep__V1__FailoverRelationship **out, frep_status *st);
frep_code convert_audit_record_to_proto(
    const engine_audit_record *in, convert_arena *a, Frep__V1__AuditRecord **out, frep_status *st);

/* A scope snapshot with its dependencies and digest. */
frep_code convert_scope_config_to_proto(
    const engine_scope_config *in, convert_arena *a, Frep__V1__ScopeConfig **out, frep_status *st);

/* Per-kind change counts (every sub-message present). */
frep_code convert_scope_changes_to_proto(const engine_scope_changes *in, convert_arena *a,
    Frep__V1__ScopeChanges **out, frep_status *st);

/* n object diffs into a new arena array of messages (*out NULL when
 * n == 0); kind and key are borrowed. */
frep_code convert_object_diffs_to_proto(const engine_object_diff *in, size_t n, convert_arena *a,
    Frep__V1__ObjectDiff ***out, frep_status *st);

#endif /* FREP_RPC_CONVERT_H */
