/* The replication audit trail. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

static int64_t
now_ms(void)
{
	return engine__now_ms();
}

static frep_code
audit_check(const engine_audit_record *record, frep_status *st)
{
	const char *dir;
	frep_code   rc;

	if (record == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "audit record is NULL");
	}
	dir = engine__str(record->direction);
	if (strcmp(dir, "sent") != 0 && strcmp(dir, "applied") != 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "audit: direction '%.32s' must be \"sent\" or \"applied\"", dir);
	}
	if ((rc = engine__check_text("audit: ", "source", record->source, ENGINE_URL_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text("audit: ", "relationship", record->relationship,
		 ENGINE_RELATIONSHIP_NAME_MAX, ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text("audit: ", "digest_before", record->digest_before, 64,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text("audit: ", "digest_after", record->digest_after, 64,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text("audit: ", "message", record->message, FREP_STATUS_MESSAGE_MAX,
		 0, st)) != FREP_OK ||
	    (rc = engine__check_text("audit: ", "request_id", record->request_id,
		 ENGINE_REQUEST_ID_MAX, ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	return FREP_OK;
}

static frep_code
audit_insert(
    engine *e, const engine_audit_record *record, int64_t now, uint64_t *id, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_AUDIT_INSERT);
	frep_code     rc;
	sqlite3_bind_int64(s, 1, record->time_unix_ms != 0 ? record->time_unix_ms : now);
	engine__bind_text(s, 2, engine__str(record->direction));
	engine__bind_text(s, 3, record->source);
	engine__bind_text(s, 4, record->relationship);
	engine__bind_u32(s, 5, record->scope_id);
	engine__bind_text(s, 6, record->digest_before);
	engine__bind_text(s, 7, record->digest_after);
	engine__bind_u32(s, 8, record->added);
	engine__bind_u32(s, 9, record->updated);
	engine__bind_u32(s, 10, record->removed);
	sqlite3_bind_int(s, 11, record->code);
	engine__bind_text(s, 12, record->message);
	engine__bind_text(s, 13, record->request_id);
	if ((rc = engine__exec(e, s, "insert audit record", st)) == FREP_OK && id != NULL) {
		*id = (uint64_t) sqlite3_last_insert_rowid(e->db);
	}
	return rc;
}

engine_audit_record
engine_audit_applied(const char *source, const char *relationship, const char *request_id,
    uint32_t scope_id, const char *digest_before, const char *digest_after,
    const engine_scope_changes *c)
{
	const engine_object_changes *k[] = {
	    &c->scope, &c->exclusions, &c->reservations, &c->options, &c->policies};
	engine_audit_record r = {
	    .direction     = "applied",
	    .source        = (char *) source,
	    .relationship  = (char *) relationship,
	    .scope_id      = scope_id,
	    .digest_before = (char *) digest_before,
	    .digest_after  = (char *) digest_after,
	    .code          = FREP_OK,
	    .message       = "",
	    .request_id    = (char *) request_id,
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		r.added += k[i]->added;
		r.updated += k[i]->updated;
		r.removed += k[i]->removed;
	}
	return r;
}

frep_code
engine_audit_add(engine *e, const engine_audit_record *record, uint64_t *id, frep_status *st)
{
	frep_code rc;

	if ((rc = audit_check(record, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	int64_t now = now_ms();
	if ((rc = audit_insert(e, record, now, id, st)) == FREP_OK) {
		rc = engine__audit_prune(e, now, st);
	}
	return engine__write_end(e, rc, st);
}

frep_code
engine_audit_add_synced(engine *e, const engine_audit_record *records, size_t n,
    const char *relationship, const uint32_t *synced_ids, const char *const *synced_digests,
    size_t n_synced, frep_status *st)
{
	frep_code rc;
	int64_t   now = now_ms();

	for (size_t i = 0; i < n; i++) {
		if ((rc = audit_check(&records[i], st)) != FREP_OK) {
			return rc;
		}
	}
	if (n == 0 && n_synced == 0) {
		return FREP_OK;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n_synced && rc == FREP_OK; i++) {
		rc = engine__sync_state_put_locked(
		    e, relationship, synced_ids[i], synced_digests[i], now, st);
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		rc = audit_insert(e, &records[i], now, NULL, st);
	}
	if (rc == FREP_OK && n > 0) {
		rc = engine__audit_prune(e, now, st);
	}
	return engine__write_end(e, rc, st);
}

frep_code
engine_audit_add_many(engine *e, const engine_audit_record *records, size_t n, frep_status *st)
{
	frep_code rc;
	int64_t   now = now_ms();

	for (size_t i = 0; i < n; i++) {
		if ((rc = audit_check(&records[i], st)) != FREP_OK) {
			return rc;
		}
	}
	if (n == 0) {
		return FREP_OK;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		rc = audit_insert(e, &records[i], now, NULL, st);
	}
	if (rc == FREP_OK) {
		rc = engine__audit_prune(e, now, st);
	}
	return engine__write_end(e, rc, st);
}

static frep_code
audit_from_row(sqlite3_stmt *s, engine_audit_record *r, frep_status *st)
{
	memset(r, 0, sizeof(*r));
	r->id            = (uint64_t) sqlite3_column_int64(s, 0);
	r->time_unix_ms  = sqlite3_column_int64(s, 1);
	r->direction     = engine__col_dup(s, 2);
	r->source        = engine__col_dup(s, 3);
	r->relationship  = engine__col_dup(s, 4);
	r->scope_id      = engine__col_u32(s, 5);
	r->digest_before = engine__col_dup(s, 6);
	r->digest_after  = engine__col_dup(s, 7);
	r->added         = engine__col_u32(s, 8);
	r->updated       = engine__col_u32(s, 9);
	r->removed       = engine__col_u32(s, 10);
	r->code          = sqlite3_column_int(s, 11);
	r->message       = engine__col_dup(s, 12);
	r->request_id    = engine__col_dup(s, 13);
	if (r->direction == NULL || r->source == NULL || r->relationship == NULL ||
	    r->digest_before == NULL || r->digest_after == NULL || r->message == NULL ||
	    r->request_id == NULL) {
		engine_audit_record_fini(r);
		return engine__oom(st);
	}
	return FREP_OK;
}

frep_code
engine_audit_list(engine *e, const engine_audit_filter *filter, engine_audit_record **out,
    size_t *n, frep_status *st)
{
	static const engine_audit_filter all   = {0};
	engine_audit_record             *vec   = NULL;
	size_t                           count = 0, cap = 0;
	sqlite3_stmt                    *s;
	bool                             row;
	frep_code                        rc;

	*out = NULL;
	*n   = 0;
	if (filter == NULL) {
		filter = &all;
	}
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	/* One scope's records through index audit_scope (scope_id, id), not
	 * a walk of the whole audit from the newest. */
	s = engine__stmt(
	    e, filter->scope_id != 0 ? ENGINE__STMT_AUDIT_LIST_SCOPE : ENGINE__STMT_AUDIT_LIST);
	engine__bind_u32(s, 1, filter->scope_id);
	engine__bind_text(s, 2, filter->relationship);
	engine__bind_u32(s, 3, filter->limit != 0 ? filter->limit : 100);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list audit", st)) != FREP_OK || !row) {
			break;
		}
		if (count == cap) {
			size_t               ncap = cap ? cap * 2 : 16;
			engine_audit_record *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				rc = engine__oom(st);
				break;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = audit_from_row(s, &vec[count], st)) != FREP_OK) {
			sqlite3_reset(s);
			break;
		}
		count++;
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_audit_records_free(vec, count);
		return rc;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}
