/*
 * fuzz_apply: a frep.v1.ScopeConfig from the wire, converted
 * (convert_scope_config_from_proto) and applied (engine_scope_apply), dry
 * run and real, to an in-memory SQLite store holding one realistic base
 * scope (fuzz_samples.h, 10.0.1.0/24) — what Partner.ApplyScope and
 * DhcpServer.ImportScope do with a partner's config.
 *
 * Invariants, besides "no crash, no leak, no UB":
 *  - a dry run changes nothing (the scope's digest before = after);
 *  - a failed apply changes nothing;
 *  - a dry run and the real apply that follows agree on success (a dry run
 *    is the what-if of the real one: "computes everything");
 *  - after a successful apply the store's digest is the digest_after the
 *    apply reported, and applying the scope's snapshot (what a partner
 *    sends) changes nothing; with FUZZ_APPLY_STRICT=1, applying the same
 *    config again changes nothing either, and a config's own digest is
 *    the store's (see strict_checks).
 * After each input the store is put back: a new scope is removed, the
 * base scope re-applied (and must come back to its digest).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "engine.h"
#include "fuzz_check.h"
#include "fuzz_samples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static engine             *store;
static convert_arena       base_arena;
static engine_scope_config base;
static char                base_digest[65];

/* The strict checks (re-applying a config changes nothing; a config's own
 * digest is the one stored) are on by default since the engine diffs and
 * digests configs in their stored form; FUZZ_APPLY_STRICT=0 turns them
 * off. */
static bool strict;

static void
digest_of(uint32_t scope_id, char out[65], bool *found)
{
	frep_status st;
	FUZZ_CHECK(engine_scope_digest(store, scope_id, out, found, &st) == FREP_OK,
	    "engine_scope_digest: %s", st.message);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	frep_status st;
	bool        found;
	(void) argc;
	(void) argv;
	const char *env = getenv("FUZZ_APPLY_STRICT");
	strict          = env == NULL || strcmp(env, "0") != 0;

	FUZZ_CHECK(
	    engine_open(":memory:", NULL, &store, &st) == FREP_OK, "engine_open: %s", st.message);
	convert_arena_init(&base_arena);
	FUZZ_CHECK(convert_scope_config_from_proto(
		       fuzz_sample_scope_config(), "config", &base_arena, &base, &st) == FREP_OK,
	    "the sample config does not convert: %s", st.message);
	FUZZ_CHECK(engine_scope_apply(
		       store, &base, false, NULL, NULL, NULL, NULL, base_digest, &st) == FREP_OK,
	    "the sample config does not apply: %s", st.message);
	char now[65];
	digest_of(base.scope.scope_id, now, &found);
	FUZZ_CHECK(found && strcmp(now, base_digest) == 0, "base digest");
	return 0;
}

static bool
no_changes(const engine_scope_changes *c)
{
	const engine_object_changes *k[] = {
	    &c->scope, &c->exclusions, &c->reservations, &c->options, &c->policies};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (k[i]->added != 0 || k[i]->updated != 0 || k[i]->removed != 0) {
			return false;
		}
	}
	return true;
}

/* Puts the store back as it was before the input. */
static void
restore(uint32_t scope_id, bool was_there)
{
	frep_status st;
	char        now[65];
	bool        found;

	if (!was_there) {
		digest_of(scope_id, now, &found);
		if (found) {
			FUZZ_CHECK(engine_scope_remove(store, scope_id, true, &st) == FREP_OK,
			    "removing an applied scope: %s", st.message);
		}
		return;
	}
	FUZZ_CHECK(
	    engine_scope_apply(store, &base, false, NULL, NULL, NULL, NULL, NULL, &st) == FREP_OK,
	    "re-applying the base scope after an apply: %s", st.message);
	digest_of(scope_id, now, &found);
	FUZZ_CHECK(found && strcmp(now, base_digest) == 0, "base scope not restored: %s", now);
}

static void
strict_checks(const engine_scope_config *cfg, const char stored[65])
{
	frep_status          st;
	engine_scope_changes changes;
	char                 before[65], after[65];

	/* "digest_after is the digest of what was written; on success it
	 * equals the source's" (docs/ENGINE.md). */
	if (cfg->digest[0] != '\0') {
		FUZZ_CHECK(strcmp(cfg->digest, stored) == 0,
		    "applied a config with digest %s; the store's is %s", cfg->digest, stored);
	}
	/* The same config again: nothing to do. */
	FUZZ_CHECK(engine_scope_apply(store, cfg, true, &changes, NULL, NULL, before, after, &st) ==
		       FREP_OK,
	    "re-applying an applied config: %s", st.message);
	FUZZ_CHECK(no_changes(&changes),
	    "re-applying an applied config changes it (scope %u/%u/%u, exclusions %u/%u/%u, "
	    "reservations %u/%u/%u, options %u/%u/%u, policies %u/%u/%u added/updated/removed)",
	    changes.scope.added, changes.scope.updated, changes.scope.removed,
	    changes.exclusions.added, changes.exclusions.updated, changes.exclusions.removed,
	    changes.reservations.added, changes.reservations.updated, changes.reservations.removed,
	    changes.options.added, changes.options.updated, changes.options.removed,
	    changes.policies.added, changes.policies.updated, changes.policies.removed);
}

static void
apply(const engine_scope_config *cfg)
{
	uint32_t             id = cfg->scope.scope_id;
	frep_status          st;
	engine_scope_changes changes;
	engine_object_diff  *diff   = NULL;
	size_t               n_diff = 0;
	char                 pre[65], now[65], before[65], after[65];
	bool                 found_pre, found;

	digest_of(id, pre, &found_pre);

	/* Dry run, with the diff (Partner.DiffScope). */
	frep_code dry =
	    engine_scope_apply(store, cfg, true, &changes, &diff, &n_diff, before, after, &st);
	FUZZ_CHECK(dry == FREP_OK || st.code == dry, "status %s for %s", frep_code_name(st.code),
	    frep_code_name(dry));
	digest_of(id, now, &found);
	FUZZ_CHECK(found == found_pre && strcmp(now, pre) == 0, "a dry run changed the scope (%s)",
	    frep_code_name(dry));
	if (dry == FREP_OK) {
		FUZZ_CHECK(
		    strcmp(before, pre) == 0, "dry run digest_before %s, store %s", before, pre);
		FUZZ_CHECK(
		    strcmp(after, pre) == 0, "dry run digest_after %s, store %s", after, pre);
		for (size_t i = 0; i < n_diff; i++) {
			FUZZ_CHECK(diff[i].kind != NULL && diff[i].key != NULL, "diff[%zu]", i);
		}
	} else {
		FUZZ_CHECK(diff == NULL && n_diff == 0, "a failed dry run returned a diff");
	}
	engine_object_diffs_free(diff, n_diff);

	/* The real apply. */
	frep_code real =
	    engine_scope_apply(store, cfg, false, &changes, NULL, NULL, before, after, &st);
	digest_of(id, now, &found);
	if (real != FREP_OK) {
		FUZZ_CHECK(st.code == real, "status");
		FUZZ_CHECK(found == found_pre && strcmp(now, pre) == 0,
		    "a failed apply (%s: %s) changed the scope", frep_code_name(real), st.message);
	} else {
		FUZZ_CHECK(found, "applied, yet the scope is not there");
		FUZZ_CHECK(strcmp(now, after) == 0, "store digest %s, apply said %s", now, after);
		FUZZ_CHECK(strcmp(before, pre) == 0, "digest_before %s, store had %s", before, pre);
	}
	FUZZ_CHECK((dry == FREP_OK) == (real == FREP_OK), "dry run %s but real apply %s: %s",
	    frep_code_name(dry), frep_code_name(real), st.message);

	if (real == FREP_OK) {
		/* What a partner would send back: nothing to do. */
		engine_scope_config *snap = NULL;
		FUZZ_CHECK(engine_scope_snapshot(store, id, &snap, &st) == FREP_OK, "snapshot: %s",
		    st.message);
		FUZZ_CHECK(strcmp(snap->digest, now) == 0, "snapshot digest %s, store %s",
		    snap->digest, now);
		frep_code again =
		    engine_scope_apply(store, snap, true, &changes, NULL, NULL, before, after, &st);
		FUZZ_CHECK(again == FREP_OK, "re-applying the snapshot of an applied config: %s",
		    st.message);
		FUZZ_CHECK(no_changes(&changes),
		    "re-applying the snapshot of an applied config changes it");
		engine_scope_config_free(snap);
		if (strict) {
			strict_checks(cfg, now);
		}
	}
	restore(id, found_pre);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Frep__V1__ScopeConfig *msg = frep__v1__scope_config__unpack(NULL, size, data);
	if (msg == NULL) {
		return 0;
	}
	convert_arena       a;
	frep_status         st;
	engine_scope_config cfg;
	convert_arena_init(&a);
	if (convert_scope_config_from_proto(msg, "config", &a, &cfg, &st) == FREP_OK) {
		apply(&cfg);
	}
	convert_arena_fini(&a);
	frep__v1__scope_config__free_unpacked(msg, NULL);
	return 0;
}
