/*
 * kea_render: a frep server's whole configuration as ISC Kea's Dhcp4 JSON
 * (kea-dhcp4 2.2). docs/KEA.md has the mapping table; in short:
 *  - each ACTIVE scope -> a subnet4 entry (inside a shared-networks entry
 *    named after its superscope, if any). Its Kea subnet id is the scope's
 *    network address as a 32-bit number (10.0.0.0 -> 167772160): stable,
 *    unique, and inside Kea's range (1..4294967294) for every valid scope;
 *  - pools = the scope's range minus its exclusions (and minus its
 *    policies' IP ranges, which become pools restricted to the policy's
 *    client class);
 *  - valid-lifetime = lease duration (unlimited -> 4294967295, Kea's max);
 *  - option values -> option-data (global, subnet, reservation, pool or
 *    class), custom option definitions -> option-def;
 *  - reservations -> reservations (hw-address for a 6-byte client id,
 *    client-id otherwise; hostname from the name when it is a valid host
 *    name);
 *  - vendor / user classes and policies -> client-classes with test
 *    expressions.
 * What Kea cannot express is listed in warnings, never dropped silently.
 *
 * Deterministic: the same configuration renders the same bytes (objects
 * in the engine's canonical order, keys sorted when dumped).
 *
 * The engine is read through engine.h (one read transaction per scope);
 * JSON is built with libjansson. Thread-safe (no shared state but a
 * kea_render_cache, which has its own lock).
 */
#ifndef FREP_RPC_KEA_RENDER_H
#define FREP_RPC_KEA_RENDER_H

#include <stddef.h>

#include <jansson.h>

#include "engine.h"
#include "frep_status.h"
#include "kea_result.h"

/* The Dhcp4 keys frep renders (and replaces in an operator's base file). */
extern const char *const kea_render_owned_keys[];

/* Renders e's configuration into *out (zeroed first). On error nothing is
 * left allocated. Statuses: the engine's, RESOURCE_EXHAUSTED. Release with
 * kea_render_result_fini. */
frep_code kea_render(engine *e, kea_render_result *out, frep_status *st);

/* Renderings of scopes kept between kea_render_cached calls, each for the
 * scope's digest and for the option definitions, classes and server DNS
 * settings it was rendered under: an unchanged scope is not read nor
 * rendered again. Owns its entries; renderings share them (never modify a
 * result's JSON). Thread-safe: one rendering at a time per cache. */
typedef struct kea_render_cache kea_render_cache;

/* A new, empty cache; NULL when out of memory. Free with
 * kea_render_cache_free (NULL is a no-op). */
kea_render_cache *kea_render_cache_new(void);
void              kea_render_cache_free(kea_render_cache *cache);

/* kea_render, reusing cache's rendering of every active scope whose stored
 * digest (engine_scope_digests_stored) and context are those it was
 * rendered with; the others are read and rendered, and kept. The result is
 * byte for byte kea_render's (tests/kea_render_test.c pins it). cache NULL
 * is kea_render. Statuses as kea_render's. */
frep_code kea_render_cached(
    engine *e, kea_render_cache *cache, kea_render_result *out, frep_status *st);

/* The option-def entry kea_render gives def (a new reference), or NULL
 * when it renders none (predefined, vendor space, a code Kea defines) or
 * out of memory. */
json_t *kea_render_option_def(const engine_option_def *def);

/* The option-data entry kea_render gives value (standard space) when defs
 * (n_defs) are the definitions in force: a new reference, or NULL when the
 * value is not rendered as option data (vendor class, option 81, a value
 * that cannot be encoded) or out of memory. */
json_t *kea_render_option_value(
    const engine_option_def *defs, size_t n_defs, const engine_option_value *value);

/* Releases what r owns and zeroes it (NULL is a no-op). */
void kea_render_result_fini(kea_render_result *r);

/* The JSON text of j, keys sorted; pretty (2-space indent) or compact; a
 * final newline when pretty. A new string the caller frees (free()), NULL
 * when out of memory. */
char *kea_render_dump(const json_t *j, int pretty);

/* {"Dhcp4": dhcp4} as a new reference (dhcp4 is copied deeply). */
json_t *kea_render_wrap(const json_t *dhcp4);

/* The compact text (sorted keys) of kea_render_merge(base, r->dhcp4),
 * byte for byte kea_render_dump's, built from r's parts and the base's
 * values: frep's keys are not dumped again. A new string the caller
 * frees, NULL when out of memory. */
char *kea_render_merged_dump(const json_t *base, const kea_render_result *r);

/* Reads the operator's base file (plain JSON, no comments) at path: an
 * object with a "Dhcp4" object. *out is a new reference. INVALID_ARGUMENT
 * (with jansson's line and column) for bad JSON or a missing Dhcp4,
 * NOT_FOUND / UNAVAILABLE if the file cannot be read. */
frep_code kea_render_load_base(const char *path, json_t **out, frep_status *st);

/* kea_render_load_base in two steps, for a caller that keeps the parsed
 * base while the file's bytes stay the same: the whole file at path into
 * *text (NUL-terminated, *len bytes; the caller frees it), then those bytes
 * parsed (path only names the file in messages). Statuses as
 * kea_render_load_base's; RESOURCE_EXHAUSTED when out of memory. */
frep_code kea_render_read_file(const char *path, char **text, size_t *len, frep_status *st);
frep_code kea_render_parse_base(
    const char *path, const char *text, size_t len, json_t **out, frep_status *st);

/* The whole configuration: base with base.Dhcp4's frep-owned keys
 * (kea_render_owned_keys) removed and dhcp4's set. The base owns
 * everything else (interfaces, lease database, control socket, hooks,
 * loggers). A new reference, NULL when out of memory; only its top level
 * and its Dhcp4 object are new, every value below them is shared with
 * base and dhcp4 (modify none of them through it). */
json_t *kea_render_merge(const json_t *base, const json_t *dhcp4);

#endif /* FREP_RPC_KEA_RENDER_H */
