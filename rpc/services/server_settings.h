/*
 * server_settings: the server-level settings Windows does not replicate
 * with a scope (option definitions, vendor/user classes, server-level
 * option values, server-level policies) as one ServerSettings message:
 * read from the store, compared with a partner's, and applied in place of
 * this server's (ReplicateServerSettings' partner side). Thread-safe as the
 * engine is; differences live in the caller's arena.
 */
#ifndef FREP_RPC_SERVER_SETTINGS_H
#define FREP_RPC_SERVER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "convert.h"
#include "engine.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_status.h"

/* The kinds, as bits; their request names are "option_definitions",
 * "classes", "options", "policies". */
#define SERVER_SETTINGS_OPTION_DEFINITIONS 1u
#define SERVER_SETTINGS_CLASSES            2u
#define SERVER_SETTINGS_OPTIONS            4u
#define SERVER_SETTINGS_POLICIES           8u
#define SERVER_SETTINGS_ALL                15u

/* The kinds named by names[0..n) (none = all) into *kinds.
 * INVALID_ARGUMENT naming field[i] and the value for an unknown or
 * repeated name. */
frep_code server_settings_kinds(
    char *const *names, size_t n, const char *field, unsigned *kinds, frep_status *st);

/* Reads this server's settings into *out, in the engine's order: a new
 * message the caller frees with protobuf_c_message_free_unpacked. */
frep_code server_settings_collect(engine *e, Frep__V1__ServerSettings **out, frep_status *st);

/* The differences of the given kinds between here and there, ordered by
 * kind and key, into a new arena array *out of *n (NULL when none). */
frep_code server_settings_diff(const Frep__V1__ServerSettings *here,
    const Frep__V1__ServerSettings *there, unsigned kinds, convert_arena *a,
    Frep__V1__ServerSettingDiff ***out, size_t *n, frep_status *st);

/* Makes this server's settings of the given kinds equal to in's, in one
 * transaction (all or nothing; dry_run changes nothing): adds, updates and
 * then removes (predefined option definitions are never removed). *diff /
 * *n_diff (arena) say what differed, from this server's side (ONLY_HERE:
 * removed here; ONLY_THERE: added here; DIFFERENT: updated). A refusal
 * (a value the engine rejects, a definition or class still in use here)
 * is its status naming the object; nothing changed. */
frep_code server_settings_apply(engine *e, const Frep__V1__ServerSettings *in, unsigned kinds,
    bool dry_run, convert_arena *a, Frep__V1__ServerSettingDiff ***diff, size_t *n_diff,
    frep_status *st);

#endif /* FREP_RPC_SERVER_SETTINGS_H */
