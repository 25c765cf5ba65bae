/* The pair's memory: scopes being sent right now (in memory), the
 * last-synced state per relationship and scope, the previous shared secret
 * of a rotation, and the audit's retention. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

int64_t
engine__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- outgoing sends -------------------------------------------------------- */

bool
engine__outgoing_add(engine *e, uint32_t scope_id, const char *digest)
{
	if (e->n_outgoing == e->cap_outgoing) {
		size_t            ncap = e->cap_outgoing ? e->cap_outgoing * 2 : 16;
		engine__outgoing *nv   = realloc(e->outgoing, ncap * sizeof(*nv));
		if (nv == NULL) {
			return false;
		}
		e->outgoing     = nv;
		e->cap_outgoing = ncap;
	}
	e->outgoing[e->n_outgoing].scope_id = scope_id;
	snprintf(e->outgoing[e->n_outgoing].digest, 65, "%s", digest);
	e->n_outgoing++;
	return true;
}

engine__outgoing_verdict
engine__outgoing_check(engine *e, uint32_t scope_id, const char *incoming, char mine[65])
{
	engine__outgoing_verdict v = ENGINE__OUTGOING_NONE;
	for (size_t i = 0; i < e->n_outgoing; i++) {
		const engine__outgoing *o = &e->outgoing[i];
		if (o->scope_id != scope_id || strcmp(o->digest, incoming) == 0) {
			continue;
		}
		snprintf(mine, 65, "%s", o->digest);
		if (strcmp(o->digest, incoming) < 0) {
			return ENGINE__OUTGOING_REFUSE;
		}
		v = ENGINE__OUTGOING_WAIT;
	}
	return v;
}

void
engine_scope_outgoing_end(engine *e, uint32_t scope_id, const char *digest)
{
	if (e == NULL) {
		return;
	}
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < e->n_outgoing; i++) {
		if (e->outgoing[i].scope_id == scope_id &&
		    strcmp(e->outgoing[i].digest, engine__str(digest)) == 0) {
			e->outgoing[i] = e->outgoing[--e->n_outgoing];
			break;
		}
	}
	pthread_cond_broadcast(&e->outgoing_cv);
	pthread_mutex_unlock(&e->mu);
}

static bool
outgoing_has(const engine *e, uint32_t scope_id)
{
	for (size_t i = 0; i < e->n_outgoing; i++) {
		if (e->outgoing[i].scope_id == scope_id) {
			return true;
		}
	}
	return false;
}

bool
engine_scope_outgoing_wait(engine *e, uint32_t scope_id, uint32_t timeout_ms)
{
	struct timespec until;
	bool            clear;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->mu);
	while (!(clear = !outgoing_has(e, scope_id))) {
		if (pthread_cond_timedwait(&e->outgoing_cv, &e->mu, &until) == ETIMEDOUT) {
			clear = !outgoing_has(e, scope_id);
			break;
		}
	}
	pthread_mutex_unlock(&e->mu);
	return clear;
}

/* --- last-synced state ----------------------------------------------------- */

frep_code
engine__sync_state_put_locked(engine *e, const char *relationship, uint32_t scope_id,
    const char *digest, int64_t time_unix_ms, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_SYNC_PUT);
	engine__bind_text(s, 1, relationship);
	engine__bind_u32(s, 2, scope_id);
	engine__bind_text(s, 3, digest);
	sqlite3_bind_int64(s, 4, time_unix_ms != 0 ? time_unix_ms : engine__now_ms());
	return engine__exec(e, s, "record last-synced state", st);
}

frep_code
engine_sync_states_get(engine *e, const char *relationship, const uint32_t *scope_ids, size_t n,
    engine_sync_state *out, bool *found, frep_status *st)
{
	frep_code rc;

	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_SYNC_GET);
		memset(&out[i], 0, sizeof(out[i]));
		engine__bind_text(s, 1, relationship);
		engine__bind_u32(s, 2, scope_ids[i]);
		if ((rc = engine__step(e, s, &found[i], "read last-synced state", st)) == FREP_OK &&
		    found[i]) {
			const unsigned char *t = sqlite3_column_text(s, 0);
			snprintf(out[i].digest, sizeof(out[i].digest), "%s",
			    t != NULL ? (const char *) t : "");
			out[i].time_unix_ms = sqlite3_column_int64(s, 1);
			sqlite3_reset(s);
		}
	}
	return engine__read_end(e, rc, st);
}

frep_code
engine_sync_states_put(engine *e, const char *relationship, const uint32_t *scope_ids,
    const char *const *digests, size_t n, int64_t time_unix_ms, frep_status *st)
{
	frep_code rc;
	if (n == 0) {
		return FREP_OK;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		rc = engine__sync_state_put_locked(
		    e, relationship, scope_ids[i], digests[i], time_unix_ms, st);
	}
	if (rc == FREP_FAILED_PRECONDITION || rc == FREP_ALREADY_EXISTS) {
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "failover relationship '%s' does not exist", engine__str(relationship));
	}
	return engine__write_end(e, rc, st);
}

/* --- the previous secret ----------------------------------------------------- */

frep_code
engine_failover_previous_secret(engine *e, const char *name, char **out, frep_status *st)
{
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	*out = NULL;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_FO_PREV_SECRET);
	engine__bind_text(s, 1, name);
	if ((rc = engine__step(e, s, &row, "read previous secret", st)) == FREP_OK) {
		if (!row) {
			rc = frep_status_set(st, FREP_NOT_FOUND,
			    "failover relationship '%s' does not exist", engine__str(name));
		} else {
			const unsigned char *t     = sqlite3_column_text(s, 0);
			int64_t              until = sqlite3_column_int64(s, 1);
			if (t != NULL && t[0] != '\0' && until > engine__now_ms() &&
			    (*out = strdup((const char *) t)) == NULL) {
				rc = engine__oom(st);
			}
		}
		sqlite3_reset(s);
	}
	return engine__read_end(e, rc, st);
}

/* --- audit retention --------------------------------------------------------- */

void
engine_set_audit_retention(engine *e, uint32_t max_rows, uint32_t max_age_s)
{
	pthread_mutex_lock(&e->mu);
	e->audit_max_rows  = max_rows;
	e->audit_max_age_s = max_age_s;
	pthread_mutex_unlock(&e->mu);
}

frep_code
engine__audit_prune(engine *e, int64_t now, frep_status *st)
{
	sqlite3_stmt *s;
	frep_code     rc;

	if (e->audit_max_age_s != 0) {
		s = engine__stmt(e, ENGINE__STMT_AUDIT_PRUNE_AGE);
		sqlite3_bind_int64(s, 1, now - (int64_t) e->audit_max_age_s * 1000);
		if ((rc = engine__exec(e, s, "prune audit by age", st)) != FREP_OK) {
			return rc;
		}
	}
	if (e->audit_max_rows != 0) {
		/* Ids only grow (AUTOINCREMENT): everything at or below the newest
		 * id minus the bound is beyond it. */
		int64_t last = sqlite3_last_insert_rowid(e->db);
		if (last > (int64_t) e->audit_max_rows) {
			s = engine__stmt(e, ENGINE__STMT_AUDIT_PRUNE_ROWS);
			sqlite3_bind_int64(s, 1, last - (int64_t) e->audit_max_rows);
			return engine__exec(e, s, "prune audit by rows", st);
		}
	}
	return FREP_OK;
}
