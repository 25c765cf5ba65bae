/* Scopes and exclusion ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const scope_fields[] = {"subnet_mask", "name", "description", "start_range",
    "end_range", "lease_duration_s", "state", "type", "superscope_name", "max_bootp_clients",
    "delay_ms", "activate_policies", NULL};

void
engine__scope_defaults(engine_scope *s)
{
	if (s->lease_duration_s == 0) {
		s->lease_duration_s = ENGINE_DEFAULT_LEASE_S;
	}
	if (s->state == ENGINE_SCOPE_STATE_UNSPECIFIED) {
		s->state = ENGINE_SCOPE_STATE_ACTIVE;
	}
	if (s->type == ENGINE_CLIENT_TYPE_UNSPECIFIED) {
		s->type = ENGINE_CLIENT_TYPE_DHCP;
	}
	if (s->max_bootp_clients == 0) {
		s->max_bootp_clients = ENGINE_DEFAULT_MAX_BOOTP;
	}
	if (!s->activate_policies_present) {
		s->activate_policies_present = true;
		s->activate_policies         = true;
	}
}

static frep_code
scope_from_row(sqlite3_stmt *s, engine_scope *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->scope_id                  = engine__col_u32(s, 0);
	out->subnet_mask               = engine__col_u32(s, 1);
	out->name                      = engine__col_dup(s, 2);
	out->description               = engine__col_dup(s, 3);
	out->start_range               = engine__col_u32(s, 4);
	out->end_range                 = engine__col_u32(s, 5);
	out->lease_duration_s          = engine__col_u32(s, 6);
	out->state                     = (engine_scope_state) sqlite3_column_int(s, 7);
	out->type                      = (engine_client_type) sqlite3_column_int(s, 8);
	out->superscope_name           = engine__col_dup(s, 9);
	out->max_bootp_clients         = engine__col_u32(s, 10);
	out->delay_ms                  = engine__col_u32(s, 11);
	out->activate_policies_present = true;
	out->activate_policies         = sqlite3_column_int(s, 12) != 0;
	if (out->name == NULL || out->description == NULL || out->superscope_name == NULL) {
		engine_scope_fini(out);
		return engine__oom(st);
	}
	return FREP_OK;
}

frep_code
engine__scope_read(engine *e, uint32_t scope_id, engine_scope *out, bool *found, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_SCOPE_GET);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, scope_id);
	if ((rc = engine__step(e, s, &row, "read scope", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = scope_from_row(s, out, st);
	sqlite3_reset(s);
	return rc;
}

/* Reads a scope that must exist: NOT_FOUND otherwise. */
static frep_code
scope_require(engine *e, uint32_t scope_id, engine_scope *out, frep_status *st)
{
	bool      found;
	frep_code rc = engine__scope_read(e, scope_id, out, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(
		    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(scope_id));
	}
	return rc;
}

/* Where addr sits in the subnet: NULL if it is a usable host address. */
static const char *
subnet_fault(uint32_t net, uint32_t mask, uint32_t addr)
{
	if ((addr & mask) != net) {
		return "lies outside subnet";
	}
	if (addr == net) {
		return "is the network address of subnet";
	}
	if (addr == (net | ~mask)) {
		return "is the broadcast address of subnet";
	}
	return NULL;
}

frep_code
engine__scope_validate(engine *e, const engine_scope *sc, frep_status *st)
{
	char          ctx[64];
	const char   *fault;
	int           prefix;
	frep_code     rc;
	sqlite3_stmt *s;
	bool          row;

	if (sc->scope_id == 0) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "scope_id 0.0.0.0 is not a network address");
	}
	snprintf(ctx, sizeof(ctx), "scope %s: ", ENGINE__IP(sc->scope_id));
	prefix = engine_ipv4_prefix_len(sc->subnet_mask);
	if (prefix < 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%ssubnet_mask %s is not contiguous", ctx, ENGINE__IP(sc->subnet_mask));
	}
	if (prefix == 0 || prefix > 30) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%ssubnet_mask %s (/%d) leaves no room for a scope "
		    "(prefix must be 1..30)",
		    ctx, ENGINE__IP(sc->subnet_mask), prefix);
	}
	if ((sc->scope_id & ~sc->subnet_mask) != 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "scope_id %s does not agree with subnet_mask %s: the "
		    "network address is %s",
		    ENGINE__IP(sc->scope_id), ENGINE__IP(sc->subnet_mask),
		    ENGINE__IP(sc->scope_id & sc->subnet_mask));
	}
	if (sc->scope_id >= 0xe0000000u || (sc->scope_id >> 24) == 127 ||
	    (sc->scope_id >> 24) == 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "scope_id %s is not a unicast network (0/8, 127/8 and "
		    "224.0.0.0 and above are refused)",
		    ENGINE__IP(sc->scope_id));
	}
	if ((fault = subnet_fault(sc->scope_id, sc->subnet_mask, sc->start_range)) != NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%sstart_range %s %s %s/%d", ctx,
		    ENGINE__IP(sc->start_range), fault, ENGINE__IP(sc->scope_id), prefix);
	}
	if ((fault = subnet_fault(sc->scope_id, sc->subnet_mask, sc->end_range)) != NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%send_range %s %s %s/%d", ctx,
		    ENGINE__IP(sc->end_range), fault, ENGINE__IP(sc->scope_id), prefix);
	}
	if (sc->start_range > sc->end_range) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sstart_range %s is after end_range %s", ctx, ENGINE__IP(sc->start_range),
		    ENGINE__IP(sc->end_range));
	}
	if ((rc = engine__check_text(ctx, "name", sc->name, ENGINE_NAME_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(
		 ctx, "description", sc->description, ENGINE_DESCRIPTION_MAX, 0, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "superscope_name", sc->superscope_name, ENGINE_NAME_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	if (sc->state != ENGINE_SCOPE_STATE_ACTIVE && sc->state != ENGINE_SCOPE_STATE_INACTIVE) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sstate %d is not a scope state (1 ACTIVE, 2 INACTIVE)", ctx, (int) sc->state);
	}
	if (sc->type < ENGINE_CLIENT_TYPE_DHCP || sc->type > ENGINE_CLIENT_TYPE_BOTH) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%stype %d is not a client type (1 DHCP, 2 BOOTP, 3 BOTH)", ctx,
		    (int) sc->type);
	}
	if (sc->lease_duration_s == 0) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "%slease_duration_s 0 is not a lease duration", ctx);
	}
	if (e == NULL) {
		return FREP_OK;
	}
	/* The stored ranges never overlap each other (every write of a scope
	 * comes through here), so sorted by start their ends rise too: the
	 * other range that starts last at or before end_range is the one
	 * reaching furthest; the ranges overlap iff it reaches start_range.
	 * One index seek (scope_range), where "every range with start <= end
	 * and end >= start" walked half the table for each scope of an
	 * apply of many. Named: the nearest overlapping range. */
	s = engine__stmt(e, ENGINE__STMT_SCOPE_OVERLAP);
	engine__bind_u32(s, 1, sc->scope_id);
	engine__bind_u32(s, 2, sc->end_range);
	if ((rc = engine__step(e, s, &row, "check scope overlap", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		uint32_t other = engine__col_u32(s, 0);
		uint32_t os    = engine__col_u32(s, 1);
		uint32_t oe    = engine__col_u32(s, 2);
		sqlite3_reset(s);
		if (oe >= sc->start_range) {
			return frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "%srange %s-%s overlaps the range %s-%s of scope %s", ctx,
			    ENGINE__IP(sc->start_range), ENGINE__IP(sc->end_range), ENGINE__IP(os),
			    ENGINE__IP(oe), ENGINE__IP(other));
		}
	}
	return FREP_OK;
}

frep_code
engine__scope_write(engine *e, const engine_scope *sc, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_SCOPE_UPSERT);

	engine__bind_u32(s, 1, sc->scope_id);
	engine__bind_u32(s, 2, sc->subnet_mask);
	engine__bind_text(s, 3, sc->name);
	engine__bind_text(s, 4, sc->description);
	engine__bind_u32(s, 5, sc->start_range);
	engine__bind_u32(s, 6, sc->end_range);
	engine__bind_u32(s, 7, sc->lease_duration_s);
	sqlite3_bind_int(s, 8, (int) sc->state);
	sqlite3_bind_int(s, 9, (int) sc->type);
	engine__bind_text(s, 10, sc->superscope_name);
	engine__bind_u32(s, 11, sc->max_bootp_clients);
	engine__bind_u32(s, 12, sc->delay_ms);
	sqlite3_bind_int(s, 13, sc->activate_policies ? 1 : 0);
	return engine__exec(e, s, "write scope", st);
}

frep_code
engine__scope_clear(engine *e, uint32_t scope_id, frep_status *st)
{
	static const engine__stmt_id ids[] = {ENGINE__STMT_OPTVAL_DELETE_SCOPE,
	    ENGINE__STMT_POLICY_DELETE_SCOPE, ENGINE__STMT_RES_DELETE_SCOPE,
	    ENGINE__STMT_EXCL_DELETE_SCOPE};
	frep_code                    rc;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *s = engine__stmt(e, ids[i]);
		engine__bind_u32(s, 1, scope_id);
		if ((rc = engine__exec(e, s, "clear scope", st)) != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

/* Children that would no longer fit a scope's new range or subnet. */
static frep_code
scope_children_fit(engine *e, const engine_scope *sc, frep_status *st)
{
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;
	char          ctx[64];

	snprintf(ctx, sizeof(ctx), "scope %s: ", ENGINE__IP(sc->scope_id));
	s = engine__stmt(e, ENGINE__STMT_EXCL_OUTSIDE);
	engine__bind_u32(s, 1, sc->scope_id);
	engine__bind_u32(s, 2, sc->start_range);
	engine__bind_u32(s, 3, sc->end_range);
	if ((rc = engine__step(e, s, &row, "check exclusions", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		uint32_t a = engine__col_u32(s, 0), b = engine__col_u32(s, 1);
		sqlite3_reset(s);
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "%sexclusion %s-%s would lie outside the new range %s-%s", ctx, ENGINE__IP(a),
		    ENGINE__IP(b), ENGINE__IP(sc->start_range), ENGINE__IP(sc->end_range));
	}
	s = engine__stmt(e, ENGINE__STMT_RES_OUTSIDE);
	engine__bind_u32(s, 1, sc->scope_id);
	engine__bind_u32(s, 2, sc->scope_id);
	engine__bind_u32(s, 3, sc->scope_id | ~sc->subnet_mask);
	if ((rc = engine__step(e, s, &row, "check reservations", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		uint32_t ip = engine__col_u32(s, 0);
		sqlite3_reset(s);
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "%sreservation %s would lie outside subnet %s/%d", ctx, ENGINE__IP(ip),
		    ENGINE__IP(sc->scope_id), engine_ipv4_prefix_len(sc->subnet_mask));
	}
	s = engine__stmt(e, ENGINE__STMT_RANGE_OUTSIDE);
	engine__bind_u32(s, 1, sc->scope_id);
	engine__bind_u32(s, 2, sc->start_range);
	engine__bind_u32(s, 3, sc->end_range);
	if ((rc = engine__step(e, s, &row, "check policy ranges", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		char name[ENGINE_POLICY_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%s", (const char *) sqlite3_column_text(s, 0));
		uint32_t a = engine__col_u32(s, 1), b = engine__col_u32(s, 2);
		sqlite3_reset(s);
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "%spolicy '%s' range %s-%s would lie outside the new range "
		    "%s-%s",
		    ctx, name, ENGINE__IP(a), ENGINE__IP(b), ENGINE__IP(sc->start_range),
		    ENGINE__IP(sc->end_range));
	}
	return FREP_OK;
}

frep_code
engine_scope_add(engine *e, const engine_scope *scope, engine_scope *out, frep_status *st)
{
	engine_scope sc;
	engine_scope existing;
	bool         found = false;
	frep_code    rc;

	if (scope == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "scope is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	sc = *scope;
	engine__scope_defaults(&sc);
	if ((rc = engine__scope_read(e, sc.scope_id, &existing, &found, st)) != FREP_OK) {
		goto done;
	}
	if (found) {
		engine_scope_fini(&existing);
		rc = frep_status_set(
		    st, FREP_ALREADY_EXISTS, "scope %s already exists", ENGINE__IP(sc.scope_id));
		goto done;
	}
	if ((rc = engine__scope_validate(e, &sc, st)) != FREP_OK ||
	    (rc = engine__scope_write(e, &sc, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = scope_require(e, sc.scope_id, out, st);
	}
done:
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_scope_fini(out);
	}
	return rc;
}

frep_code
engine_scope_set(engine *e, const engine_scope *scope, const char *const *mask, size_t n_mask,
    engine_scope *out, frep_status *st)
{
	engine_scope cur;
	engine_scope m;
	frep_code    rc;
	bool         have_cur = false;

	if (scope == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "scope is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("Scope", mask, n_mask, scope_fields, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = scope_require(e, scope->scope_id, &cur, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	m        = cur; /* borrows cur's strings */
#define SET(f)                                                                                     \
	if (engine__mask_has(mask, n_mask, #f)) {                                                  \
		m.f = scope->f;                                                                    \
	}
	SET(subnet_mask)
	SET(name)
	SET(description)
	SET(start_range)
	SET(end_range)
	SET(lease_duration_s)
	SET(state)
	SET(type)
	SET(superscope_name)
	SET(max_bootp_clients)
	SET(delay_ms)
#undef SET
	if (engine__mask_has(mask, n_mask, "activate_policies")) {
		m.activate_policies =
		    scope->activate_policies_present ? scope->activate_policies : true;
	}
	if (n_mask == 0) {
		/* A full replace applies the add-time defaults to zeros. */
		engine__scope_defaults(&m);
	}
	if ((rc = engine__scope_validate(e, &m, st)) != FREP_OK ||
	    (rc = scope_children_fit(e, &m, st)) != FREP_OK ||
	    (rc = engine__scope_write(e, &m, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = scope_require(e, m.scope_id, out, st);
	}
done:
	if (have_cur) {
		engine_scope_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_scope_fini(out);
	}
	return rc;
}

frep_code
engine_scope_get(engine *e, uint32_t scope_id, engine_scope *out, frep_status *st)
{
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = scope_require(e, scope_id, out, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_scope_fini(out);
	}
	return rc;
}

frep_code
engine_scope_list(engine *e, engine_scope **out, size_t *n, frep_status *st)
{
	engine_scope *vec   = NULL;
	size_t        count = 0, cap = 0;
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_SCOPE_LIST);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list scopes", st)) != FREP_OK || !row) {
			break;
		}
		if (count == cap) {
			size_t        ncap = cap ? cap * 2 : 8;
			engine_scope *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = engine__oom(st);
				break;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = scope_from_row(s, &vec[count], st)) != FREP_OK) {
			break;
		}
		count++;
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_scopes_free(vec, count);
		return rc;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}

frep_code
engine_scope_remove(engine *e, uint32_t scope_id, bool force, frep_status *st)
{
	engine_scope  cur;
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = scope_require(e, scope_id, &cur, st)) != FREP_OK) {
		goto done;
	}
	engine_scope_fini(&cur);
	s = engine__stmt(e, ENGINE__STMT_FOS_OWNER);
	engine__bind_u32(s, 1, scope_id);
	if ((rc = engine__step(e, s, &row, "read failover membership", st)) != FREP_OK) {
		goto done;
	}
	if (row && !force) {
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "scope %s belongs to failover relationship '%s': remove it "
		    "from the relationship first, or use force",
		    ENGINE__IP(scope_id), (const char *) sqlite3_column_text(s, 0));
		sqlite3_reset(s);
		goto done;
	}
	sqlite3_reset(s);
	if ((rc = engine__scope_clear(e, scope_id, st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_SCOPE_DELETE);
	engine__bind_u32(s, 1, scope_id);
	rc = engine__exec(e, s, "delete scope", st);
done:
	return engine__write_end(e, rc, st);
}

/* --- exclusion ranges --------------------------------------------------- */

frep_code
engine_exclusion_add(engine *e, const engine_exclusion *x, frep_status *st)
{
	engine_scope  sc;
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	if (x == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "exclusion is NULL");
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = scope_require(e, x->scope_id, &sc, st)) != FREP_OK) {
		goto done;
	}
	if (x->start_range > x->end_range) {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "scope %s: exclusion start_range %s is after end_range %s",
		    ENGINE__IP(x->scope_id), ENGINE__IP(x->start_range), ENGINE__IP(x->end_range));
	} else if (x->start_range < sc.start_range || x->start_range > sc.end_range) {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "scope %s: exclusion start_range %s lies outside the scope's "
		    "range %s-%s",
		    ENGINE__IP(x->scope_id), ENGINE__IP(x->start_range), ENGINE__IP(sc.start_range),
		    ENGINE__IP(sc.end_range));
	} else if (x->end_range > sc.end_range) {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "scope %s: exclusion end_range %s lies outside the scope's "
		    "range %s-%s",
		    ENGINE__IP(x->scope_id), ENGINE__IP(x->end_range), ENGINE__IP(sc.start_range),
		    ENGINE__IP(sc.end_range));
	}
	engine_scope_fini(&sc);
	if (rc != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_EXCL_EXISTS);
	engine__bind_u32(s, 1, x->scope_id);
	engine__bind_u32(s, 2, x->start_range);
	engine__bind_u32(s, 3, x->end_range);
	if ((rc = engine__step(e, s, &row, "read exclusion", st)) != FREP_OK) {
		goto done;
	}
	sqlite3_reset(s);
	if (row) {
		rc = frep_status_set(st, FREP_ALREADY_EXISTS,
		    "scope %s: exclusion %s-%s already exists", ENGINE__IP(x->scope_id),
		    ENGINE__IP(x->start_range), ENGINE__IP(x->end_range));
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_EXCL_INSERT);
	engine__bind_u32(s, 1, x->scope_id);
	engine__bind_u32(s, 2, x->start_range);
	engine__bind_u32(s, 3, x->end_range);
	rc = engine__exec(e, s, "insert exclusion", st);
done:
	return engine__write_end(e, rc, st);
}

frep_code
engine__exclusions_read(
    engine *e, uint32_t scope_id, engine_exclusion **out, size_t *n, frep_status *st)
{
	engine_exclusion *vec   = NULL;
	size_t            count = 0, cap = 0;
	sqlite3_stmt     *s;
	bool              row;
	frep_code         rc;

	if (scope_id != 0) {
		s = engine__stmt(e, ENGINE__STMT_EXCL_LIST_SCOPE);
		engine__bind_u32(s, 1, scope_id);
	} else {
		s = engine__stmt(e, ENGINE__STMT_EXCL_LIST_ALL);
	}
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list exclusions", st)) != FREP_OK) {
			free(vec);
			return rc;
		}
		if (!row) {
			break;
		}
		if (count == cap) {
			size_t            ncap = cap ? cap * 2 : 8;
			engine_exclusion *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				free(vec);
				return engine__oom(st);
			}
			vec = nv;
			cap = ncap;
		}
		vec[count].scope_id    = engine__col_u32(s, 0);
		vec[count].start_range = engine__col_u32(s, 1);
		vec[count].end_range   = engine__col_u32(s, 2);
		count++;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}

frep_code
engine_exclusion_list(
    engine *e, uint32_t scope_id, engine_exclusion **out, size_t *n, frep_status *st)
{
	engine_scope sc;
	frep_code    rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if (scope_id != 0) {
		if ((rc = scope_require(e, scope_id, &sc, st)) != FREP_OK) {
			return engine__read_end(e, rc, st);
		}
		engine_scope_fini(&sc);
	}
	rc = engine__exclusions_read(e, scope_id, out, n, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		free(*out);
		*out = NULL;
		*n   = 0;
	}
	return rc;
}

frep_code
engine_exclusion_remove(engine *e, const engine_exclusion *x, frep_status *st)
{
	sqlite3_stmt *s;
	frep_code     rc;

	if (x == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "exclusion is NULL");
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_EXCL_DELETE);
	engine__bind_u32(s, 1, x->scope_id);
	engine__bind_u32(s, 2, x->start_range);
	engine__bind_u32(s, 3, x->end_range);
	if ((rc = engine__exec(e, s, "delete exclusion", st)) == FREP_OK &&
	    sqlite3_changes(e->db) == 0) {
		rc = frep_status_set(st, FREP_NOT_FOUND, "scope %s: exclusion %s-%s does not exist",
		    ENGINE__IP(x->scope_id), ENGINE__IP(x->start_range), ENGINE__IP(x->end_range));
	}
	return engine__write_end(e, rc, st);
}
