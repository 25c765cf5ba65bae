/* The SQLite store: opening, the schema and its migrations, the prepared
 * statement cache, transactions, and small binding helpers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const stmt_sql[ENGINE__STMT_COUNT] = {
#define ENGINE__STMT_SQL(id, sql) [ENGINE__STMT_##id] = sql,
    ENGINE__STMT_LIST(ENGINE__STMT_SQL)
#undef ENGINE__STMT_SQL
};

static const char *const stmt_name[ENGINE__STMT_COUNT] = {
#define ENGINE__STMT_NAME(id, sql) [ENGINE__STMT_##id] = #id,
    ENGINE__STMT_LIST(ENGINE__STMT_NAME)
#undef ENGINE__STMT_NAME
};

/* Migration 1: the whole model. Later migrations append to the list; each
 * runs once, in order, inside the opening transaction. */
static const char schema_v1[] =
    "CREATE TABLE scope ("
    " scope_id INTEGER PRIMARY KEY,"
    " subnet_mask INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " start_range INTEGER NOT NULL,"
    " end_range INTEGER NOT NULL,"
    " lease_duration_s INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " superscope_name TEXT NOT NULL,"
    " max_bootp_clients INTEGER NOT NULL,"
    " delay_ms INTEGER NOT NULL,"
    " activate_policies INTEGER NOT NULL);"
    "CREATE INDEX scope_range ON scope(start_range, end_range);"
    "CREATE TABLE exclusion ("
    " scope_id INTEGER NOT NULL REFERENCES scope(scope_id) ON DELETE CASCADE,"
    " start_range INTEGER NOT NULL,"
    " end_range INTEGER NOT NULL,"
    " PRIMARY KEY (scope_id, start_range, end_range)) WITHOUT ROWID;"
    "CREATE TABLE reservation ("
    " scope_id INTEGER NOT NULL REFERENCES scope(scope_id) ON DELETE CASCADE,"
    " ip INTEGER NOT NULL,"
    " client_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " PRIMARY KEY (scope_id, ip),"
    " UNIQUE (scope_id, client_id)) WITHOUT ROWID;"
    "CREATE TABLE class ("
    " type INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " PRIMARY KEY (type, name)) WITHOUT ROWID;"
    "CREATE TABLE option_def ("
    " option_id INTEGER NOT NULL,"
    " vendor_class TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " multi_valued INTEGER NOT NULL,"
    " default_value TEXT NOT NULL,"
    " predefined INTEGER NOT NULL,"
    " PRIMARY KEY (option_id, vendor_class)) WITHOUT ROWID;"
    "CREATE TABLE policy ("
    " id INTEGER PRIMARY KEY,"
    " scope_id INTEGER NOT NULL," /* 0 = server level */
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " enabled INTEGER NOT NULL,"
    " condition INTEGER NOT NULL,"
    " processing_order INTEGER NOT NULL,"
    " lease_duration_s INTEGER NOT NULL,"
    " UNIQUE (scope_id, name));"
    "CREATE TABLE policy_criterion ("
    " policy_id INTEGER NOT NULL REFERENCES policy(id) ON DELETE CASCADE,"
    " crit_idx INTEGER NOT NULL,"
    " val_idx INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " comparator INTEGER NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (policy_id, crit_idx, val_idx)) WITHOUT ROWID;"
    "CREATE INDEX policy_criterion_value ON policy_criterion(type, value);"
    "CREATE TABLE policy_range ("
    " policy_id INTEGER NOT NULL REFERENCES policy(id) ON DELETE CASCADE,"
    " start_range INTEGER NOT NULL,"
    " end_range INTEGER NOT NULL,"
    " PRIMARY KEY (policy_id, start_range, end_range)) WITHOUT ROWID;"
    "CREATE TABLE option_value ("
    " scope_id INTEGER NOT NULL,"    /* 0 = server level */
    " reserved_ip INTEGER NOT NULL," /* 0 = not a reservation's */
    " policy_id INTEGER NOT NULL,"   /* 0 = not a policy's */
    " option_id INTEGER NOT NULL,"
    " vendor_class TEXT NOT NULL,"
    " user_class TEXT NOT NULL,"
    " vals TEXT NOT NULL,"
    " PRIMARY KEY (scope_id, reserved_ip, policy_id, option_id,"
    "  vendor_class, user_class)) WITHOUT ROWID;"
    "CREATE INDEX option_value_def ON option_value(option_id, vendor_class);"
    "CREATE INDEX option_value_vendor ON option_value(vendor_class);"
    "CREATE INDEX option_value_user ON option_value(user_class);"
    "CREATE TABLE failover ("
    " name TEXT PRIMARY KEY,"
    " partner_server TEXT NOT NULL,"
    " mode INTEGER NOT NULL,"
    " server_role INTEGER NOT NULL,"
    " load_balance_percent INTEGER NOT NULL,"
    " reserve_percent INTEGER NOT NULL,"
    " max_client_lead_time_s INTEGER NOT NULL,"
    " auto_state_transition INTEGER NOT NULL,"
    " state_switch_interval_s INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " local_server TEXT NOT NULL,"
    " shared_secret TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE failover_scope ("
    " scope_id INTEGER PRIMARY KEY"
    "  REFERENCES scope(scope_id) ON DELETE CASCADE,"
    " name TEXT NOT NULL REFERENCES failover(name) ON DELETE CASCADE);"
    "CREATE INDEX failover_scope_name ON failover_scope(name, scope_id);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time_unix_ms INTEGER NOT NULL,"
    " direction TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " relationship TEXT NOT NULL,"
    " scope_id INTEGER NOT NULL,"
    " digest_before TEXT NOT NULL,"
    " digest_after TEXT NOT NULL,"
    " added INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " removed INTEGER NOT NULL,"
    " code INTEGER NOT NULL,"
    " message TEXT NOT NULL);"
    "CREATE INDEX audit_scope ON audit(scope_id, id);";

/* Migration 2: each scope's digest, kept so that comparing a scope with
 * its partner's costs a lookup, not a snapshot. A row exists only while
 * it is right: every change to anything a scope's digest covers deletes
 * the row in the same transaction, and the next digest read computes and
 * stores it again. The low-volume tables do it with the triggers below;
 * reservations and option values (tens of thousands of rows in one apply,
 * where a per-row trigger costs a third of the time) do it once per
 * operation in their write functions (engine__digest_forget). An apply
 * stores the digest of what it wrote. tests/engine_replication_test.c
 * pins every kind of change. */
#define INVALIDATE(table, event, ref)                                                              \
	"CREATE TRIGGER " table "_" event "_digest AFTER " event " ON " table                      \
	" BEGIN DELETE FROM scope_digest WHERE scope_id = " ref "; END;"
#define INVALIDATE_VIA_POLICY(table, event, row)                                                   \
	"CREATE TRIGGER " table "_" event "_digest AFTER " event " ON " table                      \
	" BEGIN DELETE FROM scope_digest WHERE scope_id ="                                         \
	" (SELECT scope_id FROM policy WHERE id = " row ".policy_id); END;"
static const char schema_v2[] =
    "CREATE TABLE scope_digest ("
    " scope_id INTEGER PRIMARY KEY REFERENCES scope(scope_id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL);" INVALIDATE("scope", "UPDATE", "OLD.scope_id") INVALIDATE(
	"exclusion", "INSERT", "NEW.scope_id") INVALIDATE("exclusion", "UPDATE", "OLD.scope_id")
	INVALIDATE("exclusion", "DELETE", "OLD.scope_id")
	    INVALIDATE("policy", "INSERT", "NEW.scope_id")
		INVALIDATE("policy", "UPDATE", "OLD.scope_id")
		    INVALIDATE("policy", "DELETE", "OLD.scope_id")
			INVALIDATE_VIA_POLICY("policy_criterion", "INSERT", "NEW")
			    INVALIDATE_VIA_POLICY("policy_criterion", "UPDATE", "OLD")
				INVALIDATE_VIA_POLICY("policy_criterion", "DELETE", "OLD")
				    INVALIDATE_VIA_POLICY("policy_range", "INSERT", "NEW")
					INVALIDATE_VIA_POLICY("policy_range", "UPDATE", "OLD")
					    INVALIDATE_VIA_POLICY("policy_range", "DELETE", "OLD");

/* Migration 3: the pair's memory. sync_state holds, per relationship and
 * scope, the digest of the last successful replication and when it
 * happened (written by the partner in the apply's transaction and by the
 * source when the partner's OK arrives). A relationship keeps its previous
 * shared secret for a grace window after a rotation, so that calls signed
 * with either secret are accepted while the two servers change over.
 * audit_time serves the retention pruning by age. */
static const char schema_v3[] =
    "CREATE TABLE sync_state ("
    " relationship TEXT NOT NULL REFERENCES failover(name) ON DELETE CASCADE,"
    " scope_id INTEGER NOT NULL,"
    " digest TEXT NOT NULL,"
    " time_unix_ms INTEGER NOT NULL,"
    " PRIMARY KEY (relationship, scope_id)) WITHOUT ROWID;"
    "ALTER TABLE failover ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE failover ADD COLUMN previous_secret_until_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX audit_time ON audit(time_unix_ms);";

/* Migration 4: the Kea HA listener of each side of a relationship
 * (docs/KEA.md, "High availability"): this server's, from its frepd's
 * --kea-ha-url, and the partner's, learnt when the relationship is mirrored. */
static const char schema_v4[] =
    "ALTER TABLE failover ADD COLUMN kea_ha_url TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE failover ADD COLUMN partner_kea_ha_url TEXT NOT NULL DEFAULT '';";
/* Migration 5: change-triggered replication per relationship (issue 15):
 * on (1) for every relationship, old ones included, off (2) on request. */
static const char schema_v5[] =
    "ALTER TABLE failover ADD COLUMN auto_sync INTEGER NOT NULL DEFAULT 1;";
/* Migration 6: the request id of the call behind each audit record (issue
 * 17), the same on the source's "sent" row and the partner's "applied"
 * one; records older than the column have none (''). */
static const char schema_v6[] = "ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT '';";
/* Migration 7: a scope that leaves a relationship (RemoveFailoverScope,
 * RemoveScope, a mirror's scope list) takes its last-synced state with it,
 * so that a later relationship of the same name does not inherit it; the
 * rows already orphaned that way are dropped. */
static const char schema_v7[] =
    "CREATE TRIGGER IF NOT EXISTS failover_scope_forget_sync AFTER DELETE ON failover_scope BEGIN"
    " DELETE FROM sync_state WHERE relationship = OLD.name AND scope_id = OLD.scope_id;"
    " END;"
    "DELETE FROM sync_state WHERE NOT EXISTS (SELECT 1 FROM failover_scope f"
    " WHERE f.name = sync_state.relationship AND f.scope_id = sync_state.scope_id);";

typedef struct migration {
	int         version;
	const char *sql;
	bool        seed; /* insert the predefined rows afterwards */
} migration;

static const migration migrations[] = {
    {.version = 1, .sql = schema_v1, .seed = true}, {.version = 2, .sql = schema_v2},
    {.version = 3, .sql = schema_v3}, {.version = 4, .sql = schema_v4},
    {.version = 5, .sql = schema_v5}, {.version = 6, .sql = schema_v6},
    {.version = 7, .sql = schema_v7}, {.version = 0}, /* terminator */
};

sqlite3_stmt *
engine__stmt(engine *e, engine__stmt_id id)
{
	sqlite3_stmt *s = e->stmt[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

frep_code
engine__sqlerr(engine *e, int rc, const char *what, frep_status *st)
{
	frep_code   code;
	const char *msg = e != NULL && e->db != NULL ? sqlite3_errmsg(e->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		code = FREP_UNAVAILABLE;
		break;
	case SQLITE_FULL:
	case SQLITE_NOMEM:
		code = FREP_RESOURCE_EXHAUSTED;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = FREP_DATA_LOSS;
		break;
	case SQLITE_CONSTRAINT:
		code = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			   ? FREP_ALREADY_EXISTS
			   : FREP_FAILED_PRECONDITION;
		break;
	default:
		code = FREP_INTERNAL;
		break;
	}
	/* The operating system's reason (read-only file system, no space,
	 * permission denied) when SQLite has one. */
	int sys = e != NULL && e->db != NULL ? sqlite3_system_errno(e->db) : 0;
	if (sys != 0 && sys != ENOENT &&
	    (code == FREP_UNAVAILABLE || code == FREP_RESOURCE_EXHAUSTED)) {
		return frep_status_set(
		    st, code, "sqlite: %s: %s (code %d): %s", what, msg, rc, strerror(sys));
	}
	return frep_status_set(st, code, "sqlite: %s: %s (code %d)", what, msg, rc);
}

frep_code
engine__exec(engine *e, sqlite3_stmt *s, const char *what, frep_status *st)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		frep_code code = engine__sqlerr(e, rc, what, st);
		sqlite3_reset(s);
		return code;
	}
	sqlite3_reset(s);
	return FREP_OK;
}

frep_code
engine__step(engine *e, sqlite3_stmt *s, bool *row, const char *what, frep_status *st)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*row = true;
		return FREP_OK;
	}
	*row = false;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return FREP_OK;
	}
	frep_code code = engine__sqlerr(e, rc, what, st);
	sqlite3_reset(s);
	return code;
}

static frep_code
exec_sql(engine *e, const char *sql, frep_status *st)
{
	int rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		return engine__sqlerr(e, rc, sql, st);
	}
	return FREP_OK;
}

/* The engine whose batch (engine_batch_begin) this thread holds: its
 * transactions nest inside the batch's as savepoints. */
static _Thread_local engine *batch_of;

static frep_code
tx_begin(engine *e, const char *sql, frep_status *st)
{
	frep_code rc;

	frep_status_clear(st);
	if (batch_of == e) {
		return exec_sql(e, "SAVEPOINT frep_batch", st);
	}
	pthread_mutex_lock(&e->mu);
	if ((rc = exec_sql(e, sql, st)) != FREP_OK) {
		pthread_mutex_unlock(&e->mu);
	}
	return rc;
}

frep_code
engine__write_begin(engine *e, frep_status *st)
{
	if (e == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "engine handle is NULL");
	}
	frep_code rc = tx_begin(e, "BEGIN IMMEDIATE", st);
	if (rc == FREP_OK) {
		e->in_write = true;
	}
	return rc;
}

frep_code
engine__read_begin(engine *e, frep_status *st)
{
	if (e == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "engine handle is NULL");
	}
	return tx_begin(e, "BEGIN", st);
}

static void
reset_all(engine *e)
{
	for (int i = 0; i < ENGINE__STMT_COUNT; i++) {
		if (e->stmt[i] != NULL) {
			sqlite3_reset(e->stmt[i]);
		}
	}
}

/* Ends the transaction. After a committed write the commit hook (if any)
 * runs, with the engine mutex already released so that the hook may call
 * back into the engine or take its own locks without deadlocking. */
static frep_code
tx_end(engine *e, frep_code rc, frep_status *st)
{
	bool was_write       = e->in_write;
	void (*hook)(void *) = NULL;
	void *hook_arg       = NULL;

	reset_all(e);
	if (batch_of == e) {
		if (rc != FREP_OK) {
			(void) sqlite3_exec(e->db, "ROLLBACK TO frep_batch", NULL, NULL, NULL);
		}
		frep_code rel = exec_sql(e, "RELEASE frep_batch", rc == FREP_OK ? st : NULL);
		if (rc == FREP_OK && rel == FREP_OK) {
			frep_status_clear(st);
		}
		return rc != FREP_OK ? rc : rel;
	}
	if (rc == FREP_OK) {
		rc = exec_sql(e, "COMMIT", st);
	}
	if (rc != FREP_OK && !sqlite3_get_autocommit(e->db)) {
		(void) sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
	}
	e->in_write = false;
	if (rc == FREP_OK && was_write) {
		hook     = e->commit_hook;
		hook_arg = e->commit_hook_arg;
	}
	pthread_mutex_unlock(&e->mu);
	if (rc == FREP_OK) {
		frep_status_clear(st);
	}
	if (hook != NULL) {
		hook(hook_arg);
	}
	return rc;
}

void
engine_set_commit_hook(engine *e, void (*fn)(void *arg), void *arg)
{
	if (e == NULL) {
		return;
	}
	pthread_mutex_lock(&e->mu);
	e->commit_hook     = fn;
	e->commit_hook_arg = arg;
	pthread_mutex_unlock(&e->mu);
}

frep_code
engine_batch_begin(engine *e, frep_status *st)
{
	if (e == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "engine handle is NULL");
	}
	if (batch_of != NULL) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION, "a batch is open already");
	}
	frep_code rc = tx_begin(e, "BEGIN IMMEDIATE", st);
	if (rc == FREP_OK) {
		e->in_write = true;
		batch_of    = e;
	}
	return rc;
}

frep_code
engine_batch_end(engine *e, bool commit, frep_status *st)
{
	frep_status ignore;
	if (e == NULL || batch_of != e) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION, "no batch is open");
	}
	batch_of = NULL;
	if (!commit) {
		frep_status_set(&ignore, FREP_ABORTED, "batch discarded");
		(void) tx_end(e, FREP_ABORTED, &ignore);
		frep_status_clear(st);
		return FREP_OK;
	}
	return tx_end(e, FREP_OK, st);
}

frep_code
engine__write_end(engine *e, frep_code rc, frep_status *st)
{
	return tx_end(e, rc, st);
}

frep_code
engine__savepoint_begin(engine *e, frep_status *st)
{
	return exec_sql(e, "SAVEPOINT frep_apply", st);
}

frep_code
engine__savepoint_end(engine *e, frep_code rc, bool discard, frep_status *st)
{
	reset_all(e);
	if (rc != FREP_OK || discard) {
		(void) sqlite3_exec(e->db, "ROLLBACK TO frep_apply", NULL, NULL, NULL);
	}
	frep_code rel = exec_sql(e, "RELEASE frep_apply", rc == FREP_OK ? st : NULL);
	return rc != FREP_OK ? rc : rel;
}

frep_code
engine__read_end(engine *e, frep_code rc, frep_status *st)
{
	return tx_end(e, rc, st);
}

void
engine__bind_u32(sqlite3_stmt *s, int idx, uint32_t v)
{
	sqlite3_bind_int64(s, idx, (sqlite3_int64) v);
}

void
engine__bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	sqlite3_bind_text(s, idx, text != NULL ? text : "", -1, SQLITE_STATIC);
}

uint32_t
engine__col_u32(sqlite3_stmt *s, int col)
{
	return (uint32_t) sqlite3_column_int64(s, col);
}

char *
engine__col_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return engine__strdup((const char *) t);
}

frep_code
engine__oom(frep_status *st)
{
	return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
}

char *
engine__strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

const char *
engine__str(const char *s)
{
	return s != NULL ? s : "";
}

frep_code
engine__values_encode(char *const *values, size_t n, char **out, frep_status *st)
{
	size_t total = 1;
	char  *buf, *p;

	for (size_t i = 0; i < n; i++) {
		total += strlen(engine__str(values[i])) + 21;
	}
	if ((buf = malloc(total)) == NULL) {
		return engine__oom(st);
	}
	p = buf;
	for (size_t i = 0; i < n; i++) {
		const char *v   = engine__str(values[i]);
		size_t      len = strlen(v);
		p += sprintf(p, "%zu:", len);
		memcpy(p, v, len);
		p += len;
	}
	*p   = '\0';
	*out = buf;
	return FREP_OK;
}

void
engine__strv_free(char **values, size_t n)
{
	if (values == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		free(values[i]);
	}
	free(values);
}

frep_code
engine__values_decode(const char *text, char ***values, size_t *n, frep_status *st)
{
	size_t      count = 0, cap = 0;
	char      **vec = NULL;
	const char *p   = engine__str(text);

	while (*p != '\0') {
		char  *end;
		size_t len;

		errno = 0;
		len   = (size_t) strtoull(p, &end, 10);
		if (end == p || *end != ':' || errno != 0 || strlen(end + 1) < len) {
			engine__strv_free(vec, count);
			return frep_status_set(
			    st, FREP_DATA_LOSS, "store: malformed value list '%.64s'", text);
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			char **nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				engine__strv_free(vec, count);
				return engine__oom(st);
			}
			vec = nv;
			cap = ncap;
		}
		if ((vec[count] = strndup(end + 1, len)) == NULL) {
			engine__strv_free(vec, count);
			return engine__oom(st);
		}
		count++;
		p = end + 1 + len;
	}
	*values = vec;
	*n      = count;
	return FREP_OK;
}

frep_code
engine__strv_dup(char *const *values, size_t n, char ***out, frep_status *st)
{
	char **vec;

	*out = NULL;
	if (n == 0) {
		return FREP_OK;
	}
	if ((vec = calloc(n, sizeof(*vec))) == NULL) {
		return engine__oom(st);
	}
	for (size_t i = 0; i < n; i++) {
		if ((vec[i] = engine__strdup(values[i])) == NULL) {
			engine__strv_free(vec, i);
			return engine__oom(st);
		}
	}
	*out = vec;
	return FREP_OK;
}

static frep_code
prepare_all(engine *e, frep_status *st)
{
	for (int i = 0; i < ENGINE__STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(
		    e->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &e->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			return engine__sqlerr(e, rc, stmt_name[i], st);
		}
	}
	return FREP_OK;
}

static frep_code
read_user_version(engine *e, int *version, frep_status *st)
{
	sqlite3_stmt *s;
	int           rc;

	rc = sqlite3_prepare_v2(e->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return engine__sqlerr(e, rc, "PRAGMA user_version", st);
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		frep_code code = engine__sqlerr(e, rc, "PRAGMA user_version", st);
		sqlite3_finalize(s);
		return code;
	}
	*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return FREP_OK;
}
/* Writes the predefined option definitions and default classes
 * (defaults.c) into a new store. */
static frep_code
seed_defaults(engine *e, frep_status *st)
{
	frep_code rc;

	for (const engine__default_class *c = engine__default_classes();
	     c->type != ENGINE_CLASS_TYPE_UNSPECIFIED; c++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_CLASS_INSERT);
		sqlite3_bind_int(s, 1, (int) c->type);
		engine__bind_text(s, 2, c->name);
		engine__bind_text(s, 3, c->data);
		engine__bind_text(s, 4, c->description);
		if ((rc = engine__exec(e, s, "seed class", st)) != FREP_OK) {
			return rc;
		}
	}
	for (const engine__predefined_option *o = engine__predefined_options(); o->id != 0; o++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTDEF_INSERT);
		engine__bind_u32(s, 1, o->id);
		engine__bind_text(s, 2, "");
		engine__bind_text(s, 3, o->name);
		engine__bind_text(s, 4, "");
		sqlite3_bind_int(s, 5, (int) o->type);
		sqlite3_bind_int(s, 6, o->multi ? 1 : 0);
		engine__bind_text(s, 7, "");
		sqlite3_bind_int(s, 8, 1);
		if ((rc = engine__exec(e, s, "seed option definition", st)) != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

static frep_code
migrate(engine *e, frep_status *st)
{
	frep_code rc;
	int       version   = 0;
	int       latest    = 0;
	bool      need_seed = false;
	char      sql[64];

	if ((rc = exec_sql(e, "BEGIN IMMEDIATE", st)) != FREP_OK) {
		return rc;
	}
	if ((rc = read_user_version(e, &version, st)) != FREP_OK) {
		goto fail;
	}
	for (const migration *m = migrations; m->version != 0; m++) {
		latest = m->version;
	}
	if (version > latest) {
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "store schema_version %d is newer than this build's %d", version, latest);
		goto fail;
	}
	for (const migration *m = migrations; m->version != 0; m++) {
		if (m->version <= version) {
			continue;
		}
		if ((rc = exec_sql(e, m->sql, st)) != FREP_OK) {
			goto fail;
		}
		need_seed = need_seed || m->seed;
	}
	if ((rc = prepare_all(e, st)) != FREP_OK) {
		goto fail;
	}
	if (need_seed && (rc = seed_defaults(e, st)) != FREP_OK) {
		goto fail;
	}
	if (latest != version) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", latest);
		if ((rc = exec_sql(e, sql, st)) != FREP_OK) {
			goto fail;
		}
	}
	reset_all(e);
	return exec_sql(e, "COMMIT", st);

fail:
	reset_all(e);
	(void) sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

frep_code
engine_open(const char *path, const engine_options *options, engine **out, frep_status *st)
{
	engine   *e;
	frep_code rc;
	int       src;
	int       busy = 5000;

	frep_status_clear(st);
	if (path == NULL || *path == '\0' || out == NULL) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "path is empty: a database file name is required");
	}
	if (options != NULL && options->busy_timeout_ms > 0) {
		busy = options->busy_timeout_ms;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		return engine__oom(st);
	}
	if (pthread_mutex_init(&e->mu, NULL) != 0) {
		free(e);
		return frep_status_set(st, FREP_INTERNAL, "pthread_mutex_init failed");
	}
	if (pthread_cond_init(&e->outgoing_cv, NULL) != 0) {
		pthread_mutex_destroy(&e->mu);
		free(e);
		return frep_status_set(st, FREP_INTERNAL, "pthread_cond_init failed");
	}
	e->audit_max_rows  = ENGINE_AUDIT_MAX_ROWS_DEFAULT;
	e->audit_max_age_s = ENGINE_AUDIT_MAX_AGE_S_DEFAULT;
	src                = sqlite3_open_v2(
			   path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		rc = frep_status_set(st, FREP_UNAVAILABLE, "sqlite: cannot open %s: %s (code %d)",
		    path, e->db != NULL ? sqlite3_errmsg(e->db) : sqlite3_errstr(src), src);
		goto fail;
	}
	sqlite3_extended_result_codes(e->db, 1);
	sqlite3_busy_timeout(e->db, busy);
	if ((rc = exec_sql(e, "PRAGMA journal_mode = WAL", st)) != FREP_OK ||
	    (rc = exec_sql(e, "PRAGMA synchronous = FULL", st)) != FREP_OK ||
	    (rc = exec_sql(e, "PRAGMA foreign_keys = ON", st)) != FREP_OK ||
	    (rc = exec_sql(e, "PRAGMA temp_store = MEMORY", st)) != FREP_OK) {
		goto fail;
	}
	if ((rc = migrate(e, st)) != FREP_OK) {
		goto fail;
	}
	*out = e;
	return FREP_OK;

fail:
	engine_close(e);
	return rc;
}

void
engine_close(engine *e)
{
	if (e == NULL) {
		return;
	}
	for (int i = 0; i < ENGINE__STMT_COUNT; i++) {
		sqlite3_finalize(e->stmt[i]);
	}
	sqlite3_close(e->db);
	pthread_cond_destroy(&e->outgoing_cv);
	pthread_mutex_destroy(&e->mu);
	free(e->outgoing);
	free(e);
}

frep_code
engine_schema_version(engine *e, int *version, frep_status *st)
{
	frep_code rc;

	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = read_user_version(e, version, st);
	return engine__read_end(e, rc, st);
}
