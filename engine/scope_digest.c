/*
 * The stored digest of each scope (table scope_digest, migration 2 in
 * store.c): looked up, stored and forgotten here, so that the files that
 * change a scope (reservation.c, option.c) and the one that computes its
 * digest (replication.c) depend on this file, not on each other.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "engine_internal.h"

frep_code
engine__digest_lookup(engine *e, uint32_t scope_id, char out[65], bool *hit, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_DIGEST_GET);
	bool          row;
	frep_code     rc;
	*hit = false;
	engine__bind_u32(s, 1, scope_id);
	if ((rc = engine__step(e, s, &row, "read scope digest", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		if (t != NULL && strlen((const char *) t) == 64) {
			memcpy(out, t, 65);
			*hit = true;
		}
		sqlite3_reset(s);
	}
	return FREP_OK;
}

frep_code
engine__digest_store(engine *e, uint32_t scope_id, const char digest[65], frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_DIGEST_PUT);
	engine__bind_u32(s, 1, scope_id);
	engine__bind_text(s, 2, digest);
	return engine__exec(e, s, "store scope digest", st);
}

frep_code
engine__digest_forget(engine *e, uint32_t scope_id, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_DIGEST_FORGET);
	engine__bind_u32(s, 1, scope_id);
	return engine__exec(e, s, "forget scope digest", st);
}

frep_code
engine_scope_digests_stored(
    engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65], bool *found, frep_status *st)
{
	frep_code rc;

	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		out[i][0] = '\0';
		found[i]  = false;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		rc = engine__digest_lookup(e, scope_ids[i], out[i], &found[i], st);
	}
	return engine__read_end(e, rc, st);
}
