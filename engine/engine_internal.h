/*
 * engine_internal: what the engine's .c files share — the handle, the
 * prepared statement table, transaction and binding helpers, validation
 * helpers. Not installed; never included outside engine/.
 */
#ifndef FREP_ENGINE_ENGINE_INTERNAL_H
#define FREP_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "frep_status.h"
#include "ipv4.h"
#include "model.h"

#define ENGINE__SCOPE_COLS                                                                         \
	"scope_id, subnet_mask, name, description, start_range, end_range, "                       \
	"lease_duration_s, state, type, superscope_name, max_bootp_clients, "                      \
	"delay_ms, activate_policies"
#define ENGINE__RES_COLS "scope_id, ip, client_id, name, description, type"
#define ENGINE__OPTDEF_COLS                                                                        \
	"option_id, vendor_class, name, description, type, multi_valued, "                         \
	"default_value, predefined"
#define ENGINE__POLICY_COLS                                                                        \
	"id, scope_id, name, description, enabled, condition, "                                    \
	"processing_order, lease_duration_s"
#define ENGINE__FO_COLS                                                                            \
	"name, partner_server, mode, server_role, load_balance_percent, "                          \
	"reserve_percent, max_client_lead_time_s, auto_state_transition, "                         \
	"state_switch_interval_s, state, local_server, kea_ha_url, partner_kea_ha_url, "           \
	"auto_sync"
#define ENGINE__AUDIT_COLS                                                                         \
	"id, time_unix_ms, direction, source, relationship, scope_id, "                            \
	"digest_before, digest_after, added, updated, removed, code, message, request_id"

/* X(ID, SQL): every statement the engine runs, prepared once at open. */
#define ENGINE__STMT_LIST(X)                                                                       \
	X(SCOPE_UPSERT, "INSERT INTO scope(" ENGINE__SCOPE_COLS ") VALUES(?1, ?2, ?3, "            \
			"?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT(scope_id) "       \
			"DO UPDATE SET subnet_mask = excluded.subnet_mask, name = "                \
			"excluded.name, description = excluded.description, start_range "          \
			"= excluded.start_range, end_range = excluded.end_range, "                 \
			"lease_duration_s = excluded.lease_duration_s, state = "                   \
			"excluded.state, type = excluded.type, superscope_name = "                 \
			"excluded.superscope_name, max_bootp_clients = "                           \
			"excluded.max_bootp_clients, delay_ms = excluded.delay_ms, "               \
			"activate_policies = excluded.activate_policies")                          \
	X(SCOPE_GET, "SELECT " ENGINE__SCOPE_COLS " FROM scope WHERE scope_id = ?1")               \
	X(SCOPE_LIST, "SELECT " ENGINE__SCOPE_COLS " FROM scope ORDER BY scope_id")                \
	X(SCOPE_DELETE, "DELETE FROM scope WHERE scope_id = ?1")                                   \
	X(SCOPE_OVERLAP, "SELECT scope_id, start_range, end_range FROM scope WHERE "               \
			 "scope_id <> ?1 AND start_range <= ?2 "                                   \
			 "ORDER BY start_range DESC LIMIT 1")                                      \
	X(EXCL_INSERT, "INSERT INTO exclusion(scope_id, start_range, "                             \
		       "end_range) VALUES(?1, ?2, ?3)")                                            \
	X(EXCL_EXISTS, "SELECT 1 FROM exclusion WHERE scope_id = ?1 AND "                          \
		       "start_range = ?2 AND end_range = ?3")                                      \
	X(EXCL_LIST_SCOPE, "SELECT scope_id, start_range, end_range FROM "                         \
			   "exclusion WHERE scope_id = ?1 ORDER BY "                               \
			   "start_range, end_range")                                               \
	X(EXCL_LIST_ALL, "SELECT scope_id, start_range, end_range FROM "                           \
			 "exclusion ORDER BY scope_id, start_range, "                              \
			 "end_range")                                                              \
	X(EXCL_DELETE, "DELETE FROM exclusion WHERE scope_id = ?1 AND "                            \
		       "start_range = ?2 AND end_range = ?3")                                      \
	X(EXCL_DELETE_SCOPE, "DELETE FROM exclusion WHERE scope_id = ?1")                          \
	X(EXCL_OUTSIDE, "SELECT start_range, end_range FROM exclusion "                            \
			"WHERE scope_id = ?1 AND (start_range < ?2 OR "                            \
			"end_range > ?3) ORDER BY start_range LIMIT 1")                            \
	X(RES_INSERT,                                                                              \
	    "INSERT INTO reservation(" ENGINE__RES_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6)")        \
	X(RES_UPDATE, "UPDATE reservation SET client_id = ?3, name = ?4, "                         \
		      "description = ?5, type = ?6 WHERE scope_id = ?1 AND "                       \
		      "ip = ?2")                                                                   \
	X(RES_GET, "SELECT " ENGINE__RES_COLS " FROM reservation WHERE scope_id = ?1 AND ip = ?2") \
	X(RES_LIST_SCOPE,                                                                          \
	    "SELECT " ENGINE__RES_COLS " FROM reservation WHERE scope_id = ?1 ORDER BY ip")        \
	X(RES_LIST_ALL, "SELECT " ENGINE__RES_COLS " FROM reservation ORDER BY scope_id, ip")      \
	X(RES_BY_CLIENT, "SELECT ip FROM reservation WHERE scope_id = ?1 "                         \
			 "AND client_id = ?2")                                                     \
	X(RES_DELETE, "DELETE FROM reservation WHERE scope_id = ?1 AND "                           \
		      "ip = ?2")                                                                   \
	X(RES_DELETE_SCOPE, "DELETE FROM reservation WHERE scope_id = ?1")                         \
	X(RES_OUTSIDE, "SELECT ip FROM reservation WHERE scope_id = ?1 AND "                       \
		       "(ip <= ?2 OR ip >= ?3) ORDER BY ip LIMIT 1")                               \
	X(OPTVAL_UPSERT, "INSERT OR REPLACE INTO option_value(scope_id, reserved_ip, "             \
			 "policy_id, option_id, vendor_class, user_class, vals) "                  \
			 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")                                     \
	X(OPTVAL_GET, "SELECT option_id, vendor_class, user_class, vals FROM "                     \
		      "option_value WHERE scope_id = ?1 AND reserved_ip = ?2 AND "                 \
		      "policy_id = ?3 AND option_id = ?4 AND vendor_class = ?5 AND "               \
		      "user_class = ?6")                                                           \
	X(OPTVAL_LIST, "SELECT option_id, vendor_class, user_class, vals FROM "                    \
		       "option_value WHERE scope_id = ?1 AND reserved_ip = ?2 AND "                \
		       "policy_id = ?3 ORDER BY option_id, vendor_class, user_class")              \
	X(OPTVAL_RES_SCOPE, "SELECT scope_id, reserved_ip, option_id, vendor_class, "              \
			    "user_class, vals FROM option_value WHERE scope_id = ?1 AND "          \
			    "reserved_ip <> 0 AND policy_id = 0 ORDER BY reserved_ip, "            \
			    "option_id, vendor_class, user_class")                                 \
	X(OPTVAL_RES_ALL, "SELECT scope_id, reserved_ip, option_id, vendor_class, "                \
			  "user_class, vals FROM option_value WHERE reserved_ip <> 0 AND "         \
			  "policy_id = 0 ORDER BY scope_id, reserved_ip, option_id, "              \
			  "vendor_class, user_class")                                              \
	X(OPTVAL_DELETE, "DELETE FROM option_value WHERE scope_id = ?1 AND reserved_ip = "         \
			 "?2 AND policy_id = ?3 AND option_id = ?4 AND vendor_class = ?5 "         \
			 "AND user_class = ?6")                                                    \
	X(OPTVAL_DELETE_OWNER, "DELETE FROM option_value WHERE scope_id = ?1 AND reserved_ip = "   \
			       "?2 AND policy_id = ?3")                                            \
	X(OPTVAL_DELETE_SCOPE, "DELETE FROM option_value WHERE scope_id = ?1")                     \
	X(OPTVAL_BY_DEF, "SELECT scope_id, reserved_ip, policy_id, vals FROM option_value "        \
			 "WHERE option_id = ?1 AND vendor_class = ?2")                             \
	X(OPTVAL_BY_VENDOR, "SELECT scope_id, reserved_ip, policy_id, option_id FROM "             \
			    "option_value WHERE vendor_class = ?1 LIMIT 1")                        \
	X(OPTVAL_BY_USER, "SELECT scope_id, reserved_ip, policy_id, option_id FROM "               \
			  "option_value WHERE user_class = ?1 LIMIT 1")                            \
	X(OPTDEF_INSERT, "INSERT INTO option_def(" ENGINE__OPTDEF_COLS                             \
			 ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                               \
	X(OPTDEF_UPDATE, "UPDATE option_def SET name = ?3, description = "                         \
			 "?4, type = ?5, multi_valued = ?6, default_value = "                      \
			 "?7 WHERE option_id = ?1 AND vendor_class = ?2")                          \
	X(OPTDEF_GET, "SELECT " ENGINE__OPTDEF_COLS " FROM option_def WHERE option_id = ?1 AND "   \
		      "vendor_class = ?2")                                                         \
	X(OPTDEF_LIST_VENDOR,                                                                      \
	    "SELECT " ENGINE__OPTDEF_COLS " FROM option_def WHERE vendor_class = ?1 "              \
	    "ORDER BY option_id")                                                                  \
	X(OPTDEF_LIST_ALL,                                                                         \
	    "SELECT " ENGINE__OPTDEF_COLS " FROM option_def ORDER BY vendor_class, "               \
	    "option_id")                                                                           \
	X(OPTDEF_DELETE, "DELETE FROM option_def WHERE option_id = ?1 AND "                        \
			 "vendor_class = ?2")                                                      \
	X(OPTDEF_BY_VENDOR, "SELECT option_id FROM option_def WHERE "                              \
			    "vendor_class = ?1 ORDER BY option_id LIMIT 1")                        \
	X(CLASS_INSERT, "INSERT INTO class(type, name, data, description) "                        \
			"VALUES(?1, ?2, ?3, ?4)")                                                  \
	X(CLASS_UPDATE, "UPDATE class SET data = ?3, description = ?4 "                            \
			"WHERE type = ?1 AND name = ?2")                                           \
	X(CLASS_GET, "SELECT type, name, data, description FROM class "                            \
		     "WHERE type = ?1 AND name = ?2")                                              \
	X(CLASS_LIST_TYPE, "SELECT type, name, data, description FROM "                            \
			   "class WHERE type = ?1 ORDER BY name")                                  \
	X(CLASS_LIST_ALL, "SELECT type, name, data, description FROM class "                       \
			  "ORDER BY type, name")                                                   \
	X(CLASS_DELETE, "DELETE FROM class WHERE type = ?1 AND name = ?2")                         \
	X(POLICY_INSERT, "INSERT INTO policy(scope_id, name, description, enabled, "               \
			 "condition, processing_order, lease_duration_s) VALUES(?1, ?2, "          \
			 "?3, ?4, ?5, ?6, ?7)")                                                    \
	X(POLICY_UPDATE, "UPDATE policy SET description = ?2, enabled = ?3, condition = "          \
			 "?4, processing_order = ?5, lease_duration_s = ?6 WHERE id = ?1")         \
	X(POLICY_GET,                                                                              \
	    "SELECT " ENGINE__POLICY_COLS " FROM policy WHERE scope_id = ?1 AND name = ?2")        \
	X(POLICY_LIST_ORDER,                                                                       \
	    "SELECT " ENGINE__POLICY_COLS " FROM policy WHERE scope_id = ?1 ORDER BY "             \
	    "processing_order, name")                                                              \
	X(POLICY_LIST_NAME,                                                                        \
	    "SELECT " ENGINE__POLICY_COLS " FROM policy WHERE scope_id = ?1 ORDER BY name")        \
	X(POLICY_BY_ID, "SELECT scope_id, name FROM policy WHERE id = ?1")                         \
	X(POLICY_DELETE, "DELETE FROM policy WHERE id = ?1")                                       \
	X(POLICY_DELETE_SCOPE, "DELETE FROM policy WHERE scope_id = ?1")                           \
	X(POLICY_MAX_ORDER, "SELECT COALESCE(MAX(processing_order), 0) "                           \
			    "FROM policy WHERE scope_id = ?1")                                     \
	X(POLICY_ORDER_USED, "SELECT name FROM policy WHERE scope_id = ?1 "                        \
			     "AND processing_order = ?2 AND id <> ?3 LIMIT 1")                     \
	X(CRIT_INSERT, "INSERT INTO policy_criterion(policy_id, crit_idx, val_idx, "               \
		       "type, comparator, value) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                  \
	X(CRIT_LIST, "SELECT crit_idx, type, comparator, value FROM "                              \
		     "policy_criterion WHERE policy_id = ?1 ORDER BY "                             \
		     "crit_idx, val_idx")                                                          \
	X(CRIT_DELETE_POLICY, "DELETE FROM policy_criterion WHERE "                                \
			      "policy_id = ?1")                                                    \
	X(CRIT_CLASS_USER, "SELECT p.scope_id, p.name FROM policy_criterion c JOIN policy "        \
			   "p ON p.id = c.policy_id WHERE c.type = ?1 AND c.value = ?2 "           \
			   "LIMIT 1")                                                              \
	X(RANGE_INSERT, "INSERT INTO policy_range(policy_id, start_range, "                        \
			"end_range) VALUES(?1, ?2, ?3)")                                           \
	X(RANGE_LIST, "SELECT start_range, end_range FROM policy_range "                           \
		      "WHERE policy_id = ?1 ORDER BY start_range, end_range")                      \
	X(RANGE_DELETE, "DELETE FROM policy_range WHERE policy_id = ?1 AND "                       \
			"start_range = ?2 AND end_range = ?3")                                     \
	X(RANGE_DELETE_POLICY, "DELETE FROM policy_range WHERE policy_id = "                       \
			       "?1")                                                               \
	X(RANGE_OVERLAP, "SELECT p.name, r.start_range, r.end_range FROM policy_range r "          \
			 "JOIN policy p ON p.id = r.policy_id WHERE p.scope_id = ?1 AND "          \
			 "p.id <> ?2 AND r.start_range <= ?4 AND r.end_range >= ?3 "               \
			 "LIMIT 1")                                                                \
	X(RANGE_OUTSIDE, "SELECT p.name, r.start_range, r.end_range FROM policy_range r "          \
			 "JOIN policy p ON p.id = r.policy_id WHERE p.scope_id = ?1 AND "          \
			 "(r.start_range < ?2 OR r.end_range > ?3) LIMIT 1")                       \
	X(FO_INSERT, "INSERT INTO failover(" ENGINE__FO_COLS ", shared_secret) "                   \
		     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13, ?14, ?15, ?12)")   \
	X(FO_UPDATE, "UPDATE failover SET partner_server = ?2, mode = ?3, "                        \
		     "server_role = ?4, load_balance_percent = ?5, reserve_percent = "             \
		     "?6, max_client_lead_time_s = ?7, auto_state_transition = ?8, "               \
		     "state_switch_interval_s = ?9, state = ?10, local_server = ?11, "             \
		     "shared_secret = ?12, kea_ha_url = ?13, partner_kea_ha_url = ?14, "           \
		     "auto_sync = ?15 WHERE name = ?1")                                            \
	X(FO_GET, "SELECT " ENGINE__FO_COLS " FROM failover WHERE name = ?1")                      \
	X(FO_LIST, "SELECT " ENGINE__FO_COLS " FROM failover ORDER BY name")                       \
	X(FO_DELETE, "DELETE FROM failover WHERE name = ?1")                                       \
	X(FO_COUNT, "SELECT COUNT(*) FROM failover")                                               \
	X(FO_SECRET, "SELECT shared_secret FROM failover WHERE name = ?1")                         \
	X(FOS_INSERT, "INSERT INTO failover_scope(scope_id, name) "                                \
		      "VALUES(?1, ?2)")                                                            \
	X(FOS_DELETE, "DELETE FROM failover_scope WHERE scope_id = ?1")                            \
	X(FOS_LIST, "SELECT scope_id FROM failover_scope WHERE name = ?1 "                         \
		    "ORDER BY scope_id")                                                           \
	X(FOS_OWNER, "SELECT name FROM failover_scope WHERE scope_id = ?1")                        \
	X(AUDIT_INSERT, "INSERT INTO audit(time_unix_ms, direction, source, "                      \
			"relationship, scope_id, digest_before, digest_after, added, "             \
			"updated, removed, code, message, request_id) VALUES(?1, ?2, ?3, "         \
			"?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")                             \
	X(AUDIT_LIST, "SELECT " ENGINE__AUDIT_COLS " FROM audit WHERE "                            \
		      "(?2 = '' OR relationship = ?2) ORDER BY id DESC LIMIT ?3")                  \
	X(AUDIT_LIST_SCOPE, "SELECT " ENGINE__AUDIT_COLS " FROM audit WHERE scope_id = ?1 "        \
			    "AND (?2 = '' OR relationship = ?2) ORDER BY id DESC LIMIT ?3")        \
	X(DIGEST_GET, "SELECT digest FROM scope_digest WHERE scope_id = ?1")                       \
	X(DIGEST_PUT, "INSERT OR REPLACE INTO scope_digest(scope_id, digest) "                     \
		      "VALUES(?1, ?2)")                                                            \
	X(DIGEST_FORGET, "DELETE FROM scope_digest WHERE scope_id = ?1")                           \
	X(SYNC_GET, "SELECT digest, time_unix_ms FROM sync_state WHERE relationship = ?1 AND "     \
		    "scope_id = ?2")                                                               \
	X(SYNC_PUT, "INSERT OR REPLACE INTO sync_state(relationship, scope_id, digest, "           \
		    "time_unix_ms) VALUES(?1, ?2, ?3, ?4)")                                        \
	X(AUDIT_PRUNE_AGE, "DELETE FROM audit WHERE time_unix_ms < ?1")                            \
	X(AUDIT_PRUNE_ROWS, "DELETE FROM audit WHERE id <= ?1")                                    \
	X(FO_PREV_SECRET, "SELECT previous_secret, previous_secret_until_ms FROM failover "        \
			  "WHERE name = ?1")                                                       \
	X(FO_SET_PREV_SECRET, "UPDATE failover SET previous_secret = ?2, "                         \
			      "previous_secret_until_ms = ?3 WHERE name = ?1")

typedef enum engine__stmt_id {
#define ENGINE__STMT_ENUM(id, sql) ENGINE__STMT_##id,
	ENGINE__STMT_LIST(ENGINE__STMT_ENUM)
#undef ENGINE__STMT_ENUM
	    ENGINE__STMT_COUNT
} engine__stmt_id;

/* One scope being sent to a partner, with the digest of what is sent. */
typedef struct engine__outgoing {
	uint32_t scope_id;
	char     digest[65];
} engine__outgoing;

struct engine {
	sqlite3        *db;
	pthread_mutex_t mu;
	sqlite3_stmt   *stmt[ENGINE__STMT_COUNT];
	bool            in_write;       /* the open transaction is a write (under mu) */
	void (*commit_hook)(void *arg); /* engine_set_commit_hook */
	void *commit_hook_arg;
	/* Scopes this server is replicating to a partner right now (under
	 * mu): an apply of the same scope arriving meanwhile is refused or
	 * waits (engine_scope_snapshot_outgoing). */
	engine__outgoing *outgoing;
	size_t            n_outgoing, cap_outgoing;
	pthread_cond_t    outgoing_cv;     /* signalled when an entry ends */
	uint32_t          audit_max_rows;  /* 0 = unbounded */
	uint32_t          audit_max_age_s; /* 0 = unbounded */
};

/* Wall-clock time in ms since the epoch. */
int64_t engine__now_ms(void);

/* Under e->mu: registers a send of scope_id with digest (sync.c). False
 * when out of memory. */
bool engine__outgoing_add(engine *e, uint32_t scope_id, const char *digest);
/* What an incoming apply of scope_id with digest `incoming` meets among
 * this server's own sends (under mu): none (or the same digest), a send
 * that wins (refuse), or only sends that lose (wait for them). mine gets
 * the digest being sent. */
typedef enum engine__outgoing_verdict {
	ENGINE__OUTGOING_NONE,
	ENGINE__OUTGOING_REFUSE,
	ENGINE__OUTGOING_WAIT,
} engine__outgoing_verdict;
engine__outgoing_verdict engine__outgoing_check(
    engine *e, uint32_t scope_id, const char *incoming, char mine[65]);

/* Reads the whole scope inside the caller's transaction (replication.c).
 * *found false (and nothing allocated) if the scope does not exist. */
frep_code engine__snapshot_locked(
    engine *e, uint32_t scope_id, engine_scope_config **out, bool *found, frep_status *st);

/* Writes a last-synced state inside the caller's write transaction. */
frep_code engine__sync_state_put_locked(engine *e, const char *relationship, uint32_t scope_id,
    const char *digest, int64_t time_unix_ms, frep_status *st);

/* Applies the audit's retention inside the caller's write transaction,
 * right after records were inserted. */
frep_code engine__audit_prune(engine *e, int64_t now, frep_status *st);

/* A dotted address for a message; lives until the end of the enclosing
 * full expression's block. */
#define ENGINE__IP(addr) engine_ipv4_format((addr), (char[ENGINE_IPV4_STRLEN]){0})

/* The prepared statement id, reset and with its bindings cleared. */
sqlite3_stmt *engine__stmt(engine *e, engine__stmt_id id);

/* Translates a SQLite result code into a status naming `what`. */
frep_code engine__sqlerr(engine *e, int rc, const char *what, frep_status *st);

/* Steps a statement expected to finish (INSERT/UPDATE/DELETE). */
frep_code engine__exec(engine *e, sqlite3_stmt *s, const char *what, frep_status *st);

/* Steps a query: FREP_OK with *row true (a row) or false (done). */
frep_code engine__step(engine *e, sqlite3_stmt *s, bool *row, const char *what, frep_status *st);

/* Lock + BEGIN IMMEDIATE / BEGIN. On failure the lock is released. */
frep_code engine__write_begin(engine *e, frep_status *st);
frep_code engine__read_begin(engine *e, frep_status *st);
/* COMMIT if rc is OK (else ROLLBACK), unlock; returns the final code. On
 * success st is cleared. */
frep_code engine__write_end(engine *e, frep_code rc, frep_status *st);

/* Inside a write transaction: a savepoint around one step of a batch.
 * _end rolls the step back when rc is not OK or discard is set, and
 * releases the savepoint; returns rc (or the release's failure). */
frep_code engine__savepoint_begin(engine *e, frep_status *st);

/* The stored scope digests (scope_digest.c; migration 2 in store.c).
 * Inside a transaction: a scope's stored digest into out, *hit false when
 * none is stored. */
frep_code engine__digest_lookup(
    engine *e, uint32_t scope_id, char out[65], bool *hit, frep_status *st);
/* Inside a write transaction: stores a scope's digest. */
frep_code engine__digest_store(
    engine *e, uint32_t scope_id, const char digest[65], frep_status *st);
/* Inside a write transaction: drops the stored digest of a scope whose
 * contents this transaction changes. */
frep_code engine__digest_forget(engine *e, uint32_t scope_id, frep_status *st);
frep_code engine__savepoint_end(engine *e, frep_code rc, bool discard, frep_status *st);
frep_code engine__read_end(engine *e, frep_code rc, frep_status *st);

void     engine__bind_u32(sqlite3_stmt *s, int idx, uint32_t v);
void     engine__bind_text(sqlite3_stmt *s, int idx, const char *text);
uint32_t engine__col_u32(sqlite3_stmt *s, int col);
/* A copy of a text column ("" for NULL); NULL only when out of memory. */
char     *engine__col_dup(sqlite3_stmt *s, int col);
frep_code engine__oom(frep_status *st);
/* strdup with NULL read as ""; NULL only when out of memory. */
char *engine__strdup(const char *s);
/* NULL reads as "". */
const char *engine__str(const char *s);

/* Value lists in one TEXT column: each value as "<len>:<bytes>". */
frep_code engine__values_encode(char *const *values, size_t n, char **out, frep_status *st);
frep_code engine__values_decode(const char *text, char ***values, size_t *n, frep_status *st);
void      engine__strv_free(char **values, size_t n);
/* Deep copy of a string vector; NULL *out when n == 0. */
frep_code engine__strv_dup(char *const *values, size_t n, char ***out, frep_status *st);

/* --- validation (validate.c) --- */

#define ENGINE__TEXT_REQUIRED   1u /* must not be empty */
#define ENGINE__TEXT_NO_CONTROL 2u /* no bytes below 0x20, no 0x7f */
#define ENGINE__TEXT_SECRET     4u /* never quote the value in a message */

/* ctx is a prefix for the message ("scope 10.0.0.0: ") or "". */
frep_code engine__check_text(const char *ctx, const char *field, const char *value, size_t max,
    unsigned flags, frep_status *st);

/* Update mask: INVALID_ARGUMENT for a name not in fields (NULL-ended). */
frep_code engine__mask_check(const char *kind, const char *const *mask, size_t n_mask,
    const char *const *fields, frep_status *st);
/* True if field is to be set: the mask is empty or names it. */
bool engine__mask_has(const char *const *mask, size_t n_mask, const char *field);

/* Validates the values of an option value against a definition type and
 * arity and returns their normal forms (*out new, n_values entries). */
frep_code engine__option_values_normalize(const char *ctx, engine_option_type type,
    bool multi_valued, char *const *values, size_t n_values, bool allow_empty, char ***out,
    frep_status *st);

/* The identity of a normalised client id for uniqueness in a scope: an
 * Ethernet client id ("01-" and six bytes) and the bare six-byte MAC are
 * the same client, so both map to the MAC (a pointer into client_id). */
const char *engine__client_id_key(const char *client_id);

/* INVALID_ARGUMENT naming the option and value unless the normalised
 * values of a (option_id, vendor_class) definition of type / multi_valued
 * encode a payload the option's wire format accepts (option_wire.c: the
 * standard format of the code, else the definition's own). */
frep_code engine__option_values_wire_check(const char *ctx, uint32_t option_id,
    const char *vendor_class, engine_option_type type, bool multi_valued, char *const *values,
    size_t n_values, frep_status *st);

/* Validates one option value (definition exists, classes exist, values)
 * against the store and fills *norm with a normalised copy (to
 * engine_option_value_fini). */
frep_code engine__option_value_check(engine *e, const char *ctx, const engine_option_value *in,
    engine_option_value *norm, frep_status *st);

/* Validates an array of option values for one owner (each as above, no
 * identity twice); *out new array of normalised copies. */
frep_code engine__option_values_check(engine *e, const char *ctx, const engine_option_value *in,
    size_t n, engine_option_value **out, frep_status *st);

/* Writes option values of one owner (after validation). */
frep_code engine__option_values_insert(engine *e, uint32_t scope_id, uint32_t reserved_ip,
    int64_t policy_id, const engine_option_value *vals, size_t n, frep_status *st);

/* Reads the option values of one owner, ordered by identity. */
frep_code engine__option_values_read(engine *e, uint32_t scope_id, uint32_t reserved_ip,
    int64_t policy_id, engine_option_value **out, size_t *n, frep_status *st);

/* Fills an option value from a row (option_id, vendor, user, vals) at
 * column col. */
frep_code engine__option_value_from_row(
    sqlite3_stmt *s, int col, engine_option_value *out, frep_status *st);

/* --- scope / reservation / policy helpers shared with replication --- */

frep_code engine__scope_read(
    engine *e, uint32_t scope_id, engine_scope *out, bool *found, frep_status *st);
frep_code engine__scope_validate(engine *e, const engine_scope *scope, frep_status *st);
frep_code engine__scope_write(engine *e, const engine_scope *scope, frep_status *st);
/* Applies add-time defaults into a shallow copy. */
void engine__scope_defaults(engine_scope *scope);

frep_code engine__reservation_validate_fields(
    const engine_scope *scope, const engine_reservation *res, char client_id[], frep_status *st);
frep_code engine__reservations_read(
    engine *e, uint32_t scope_id, engine_reservation **out, size_t *n, frep_status *st);

frep_code engine__policy_validate(engine *e, const engine_scope *scope, const engine_policy *pol,
    int64_t self_id, bool check_store_ranges, engine_policy *norm, frep_status *st);
frep_code engine__policy_insert(engine *e, const engine_policy *pol, int64_t *id, frep_status *st);
/* Deletes the policy (scope_id, name) with its parts, if it exists. */
frep_code engine__policy_delete(engine *e, uint32_t scope_id, const char *name, frep_status *st);
frep_code engine__policies_read(
    engine *e, uint32_t scope_id, bool by_name, engine_policy **out, size_t *n, frep_status *st);

frep_code engine__exclusions_read(
    engine *e, uint32_t scope_id, engine_exclusion **out, size_t *n, frep_status *st);

/* Removes a scope's contents (not the scope row, not its failover
 * membership). */
frep_code engine__scope_clear(engine *e, uint32_t scope_id, frep_status *st);

/* Text naming an option value's owner ("reservation 10.0.0.5 of scope
 * 10.0.0.0", "policy 'p' of scope ...", "the server-level options"). */
void engine__describe_owner(
    engine *e, uint32_t scope_id, uint32_t reserved_ip, int64_t policy_id, char *buf, size_t size);

/* A predefined option definition (RFC 2132 and later; defaults.c). */
typedef struct engine__predefined_option {
	uint32_t           id; /* 0 ends the table */
	const char        *name;
	engine_option_type type;
	bool               multi;
} engine__predefined_option;

/* A Windows default class (defaults.c). */
typedef struct engine__default_class {
	engine_class_type type; /* ENGINE_CLASS_TYPE_UNSPECIFIED ends the table */
	const char       *name;
	const char       *data;
	const char       *description;
} engine__default_class;

/* The predefined rows a new store starts with, as static tables ended by
 * their terminator rows; store.c writes them in migration 1. */
const engine__predefined_option *engine__predefined_options(void);
const engine__default_class     *engine__default_classes(void);

/* The test-only apply hook (engine/test_hook.c, docs/TESTS.md): inert
 * unless FREP_TEST_HOOK_APPLY names a file; when that file exists (armed,
 * optionally with a scope id) the apply pauses inside its open write
 * transaction until the test removes <file>.paused or kills the process. */
void engine__test_hook_apply(uint32_t scope_id);

#endif /* FREP_ENGINE_ENGINE_INTERNAL_H */
