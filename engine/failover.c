/* Failover relationships and their scopes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const failover_fields[] = {"partner_server", "mode", "server_role",
    "load_balance_percent", "reserve_percent", "max_client_lead_time_s", "auto_state_transition",
    "state_switch_interval_s", "shared_secret", "state", "local_server", "kea_ha_url",
    "partner_kea_ha_url", "auto_sync", NULL};

frep_code
engine_ha_url_check(const char *field, const char *url, frep_status *st)
{
	return engine_ha_url_parse(field, url, NULL, NULL, st);
}

frep_code
engine_ha_url_parse(
    const char *field, const char *url, uint32_t *addr, uint16_t *port_out, frep_status *st)
{
	const char    *p = url;
	char           host[INET_ADDRSTRLEN];
	size_t         n    = 0;
	unsigned       port = 0;
	struct in_addr a;

	if (url == NULL || url[0] == '\0') {
		return FREP_OK;
	}
	if (strncmp(p, "http://", 7) != 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\" is not an HA URL: it must be http://IPV4:PORT/ (Kea's HA listener; "
		    "https needs Kea's TLS parameters, which frep does not render)",
		    field, url);
	}
	p += 7;
	while (p[n] != '\0' && p[n] != ':' && p[n] != '/' && n < sizeof(host) - 1) {
		host[n] = p[n];
		n++;
	}
	host[n] = '\0';
	if (p[n] != ':' || inet_pton(AF_INET, host, &a) != 1) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\" is not an HA URL: it must be http://IPV4:PORT/ with an IPv4 address "
		    "(Kea's HA listener binds to it) and a port",
		    field, url);
	}
	p += n + 1;
	if (*p < '0' || *p > '9') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\": the port is missing (http://IPV4:PORT/)", field, url);
	}
	while (*p >= '0' && *p <= '9' && port <= 65535) {
		port = port * 10 + (unsigned) (*p++ - '0');
	}
	if (port == 0 || port > 65535) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\": port out of range (1..65535)", field, url);
	}
	if (!(p[0] == '\0' || (p[0] == '/' && p[1] == '\0'))) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\": nothing may follow the port but a final '/' (http://IPV4:PORT/)",
		    field, url);
	}
	if (addr != NULL) {
		*addr = ntohl(a.s_addr);
	}
	if (port_out != NULL) {
		*port_out = (uint16_t) port;
	}
	return FREP_OK;
}

static frep_code
failover_validate(const engine_failover *r, frep_status *st)
{
	char      ctx[ENGINE_RELATIONSHIP_NAME_MAX + 32];
	frep_code rc;

	if ((rc = engine__check_text("failover: ", "name", r->name, ENGINE_RELATIONSHIP_NAME_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	snprintf(ctx, sizeof(ctx), "failover '%s': ", r->name);
	if ((rc = engine__check_text(ctx, "partner_server", r->partner_server, ENGINE_URL_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "local_server", r->local_server, ENGINE_URL_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "shared_secret", r->shared_secret, ENGINE_SECRET_MAX,
		 ENGINE__TEXT_SECRET, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "kea_ha_url", r->kea_ha_url, ENGINE_URL_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "partner_kea_ha_url", r->partner_kea_ha_url,
		 ENGINE_URL_MAX, ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	{
		char field[ENGINE_RELATIONSHIP_NAME_MAX + 64];
		snprintf(field, sizeof(field), "%skea_ha_url", ctx);
		if ((rc = engine_ha_url_check(field, r->kea_ha_url, st)) != FREP_OK) {
			return rc;
		}
		snprintf(field, sizeof(field), "%spartner_kea_ha_url", ctx);
		if ((rc = engine_ha_url_check(field, r->partner_kea_ha_url, st)) != FREP_OK) {
			return rc;
		}
	}
	if (r->mode != ENGINE_FAILOVER_MODE_LOAD_BALANCE &&
	    r->mode != ENGINE_FAILOVER_MODE_HOT_STANDBY) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%smode %d is not a failover mode (1 LOAD_BALANCE, 2 "
		    "HOT_STANDBY)",
		    ctx, (int) r->mode);
	}
	if (r->server_role != ENGINE_SERVER_ROLE_ACTIVE &&
	    r->server_role != ENGINE_SERVER_ROLE_STANDBY) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sserver_role %d is not a role (1 ACTIVE, 2 STANDBY)", ctx,
		    (int) r->server_role);
	}
	if (r->load_balance_percent > 100) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sload_balance_percent %u is out of range (0..100)", ctx,
		    r->load_balance_percent);
	}
	if (r->reserve_percent > 100) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sreserve_percent %u is out of range (0..100)", ctx, r->reserve_percent);
	}
	if (r->state < ENGINE_FAILOVER_STATE_NORMAL || r->state > ENGINE_FAILOVER_STATE_PAUSED) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sstate %d is not a failover state (1..4)", ctx, (int) r->state);
	}
	if (r->auto_sync != ENGINE_AUTO_SYNC_ON && r->auto_sync != ENGINE_AUTO_SYNC_OFF) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sauto_sync %d is not a setting (1 ON, 2 OFF)", ctx, (int) r->auto_sync);
	}
	return FREP_OK;
}

static frep_code
failover_write(engine *e, engine__stmt_id id, const engine_failover *r, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, id);

	engine__bind_text(s, 1, r->name);
	engine__bind_text(s, 2, r->partner_server);
	sqlite3_bind_int(s, 3, (int) r->mode);
	sqlite3_bind_int(s, 4, (int) r->server_role);
	engine__bind_u32(s, 5, r->load_balance_percent);
	engine__bind_u32(s, 6, r->reserve_percent);
	engine__bind_u32(s, 7, r->max_client_lead_time_s);
	sqlite3_bind_int(s, 8, r->auto_state_transition ? 1 : 0);
	engine__bind_u32(s, 9, r->state_switch_interval_s);
	sqlite3_bind_int(s, 10, (int) r->state);
	engine__bind_text(s, 11, r->local_server);
	engine__bind_text(s, 12, r->shared_secret);
	engine__bind_text(s, 13, engine__str(r->kea_ha_url));
	engine__bind_text(s, 14, engine__str(r->partner_kea_ha_url));
	sqlite3_bind_int(s, 15, (int) r->auto_sync);
	return engine__exec(e, s, "write failover relationship", st);
}

static frep_code
failover_from_row(sqlite3_stmt *s, engine_failover *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->name                    = engine__col_dup(s, 0);
	out->partner_server          = engine__col_dup(s, 1);
	out->mode                    = (engine_failover_mode) sqlite3_column_int(s, 2);
	out->server_role             = (engine_server_role) sqlite3_column_int(s, 3);
	out->load_balance_percent    = engine__col_u32(s, 4);
	out->reserve_percent         = engine__col_u32(s, 5);
	out->max_client_lead_time_s  = engine__col_u32(s, 6);
	out->auto_state_transition   = sqlite3_column_int(s, 7) != 0;
	out->state_switch_interval_s = engine__col_u32(s, 8);
	out->state                   = (engine_failover_state) sqlite3_column_int(s, 9);
	out->local_server            = engine__col_dup(s, 10);
	out->kea_ha_url              = engine__col_dup(s, 11);
	out->partner_kea_ha_url      = engine__col_dup(s, 12);
	out->auto_sync               = (engine_auto_sync) sqlite3_column_int(s, 13);
	if (out->name == NULL || out->partner_server == NULL || out->local_server == NULL ||
	    out->kea_ha_url == NULL || out->partner_kea_ha_url == NULL) {
		engine_failover_fini(out);
		return engine__oom(st);
	}
	return FREP_OK;
}

static frep_code
failover_scopes_read(engine *e, engine_failover *r, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_FOS_LIST);
	bool          row;
	frep_code     rc;
	size_t        cap = 0;

	engine__bind_text(s, 1, r->name);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "read failover scopes", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			return FREP_OK;
		}
		if (r->n_scope_ids == cap) {
			size_t    ncap = cap ? cap * 2 : 8;
			uint32_t *nv   = realloc(r->scope_ids, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				return engine__oom(st);
			}
			r->scope_ids = nv;
			cap          = ncap;
		}
		r->scope_ids[r->n_scope_ids++] = engine__col_u32(s, 0);
	}
}

static frep_code
failover_read(engine *e, const char *name, engine_failover *out, bool *found, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_FO_GET);
	bool          row;
	frep_code     rc;

	engine__bind_text(s, 1, name);
	if ((rc = engine__step(e, s, &row, "read failover relationship", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = failover_from_row(s, out, st);
	sqlite3_reset(s);
	if (rc == FREP_OK && (rc = failover_scopes_read(e, out, st)) != FREP_OK) {
		engine_failover_fini(out);
	}
	return rc;
}

static frep_code
failover_require(engine *e, const char *name, engine_failover *out, frep_status *st)
{
	bool      found;
	frep_code rc = failover_read(e, name, out, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(st, FREP_NOT_FOUND,
		    "failover relationship '%s' does not exist", engine__str(name));
	}
	return rc;
}

/* Adds scopes to relationship name after checking every one of them. */
static frep_code
scopes_attach(engine *e, const char *name, const uint32_t *ids, size_t n, frep_status *st)
{
	frep_code rc;

	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s;
		bool          row;

		for (size_t j = 0; j < i; j++) {
			if (ids[j] == ids[i]) {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "failover '%s': scope_ids lists %s twice", name,
				    ENGINE__IP(ids[i]));
			}
		}
		s = engine__stmt(e, ENGINE__STMT_SCOPE_GET);
		engine__bind_u32(s, 1, ids[i]);
		if ((rc = engine__step(e, s, &row, "read scope", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "failover '%s': scope %s does not exist", name, ENGINE__IP(ids[i]));
		}
		s = engine__stmt(e, ENGINE__STMT_FOS_OWNER);
		engine__bind_u32(s, 1, ids[i]);
		if ((rc = engine__step(e, s, &row, "read failover membership", st)) != FREP_OK) {
			return rc;
		}
		if (row) {
			rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "scope %s already belongs to failover relationship "
			    "'%s'",
			    ENGINE__IP(ids[i]), (const char *) sqlite3_column_text(s, 0));
			sqlite3_reset(s);
			return rc;
		}
		s = engine__stmt(e, ENGINE__STMT_FOS_INSERT);
		engine__bind_u32(s, 1, ids[i]);
		engine__bind_text(s, 2, name);
		if ((rc = engine__exec(e, s, "add failover scope", st)) != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

frep_code
engine_failover_add(engine *e, const engine_failover *rel, engine_failover *out, frep_status *st)
{
	engine_failover r, existing;
	sqlite3_stmt   *s;
	bool            found, row;
	frep_code       rc;

	if (rel == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "relationship is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	r = *rel;
	if (r.mode == ENGINE_FAILOVER_MODE_UNSPECIFIED) {
		r.mode = ENGINE_FAILOVER_MODE_LOAD_BALANCE;
	}
	if (r.server_role == ENGINE_SERVER_ROLE_UNSPECIFIED) {
		r.server_role = ENGINE_SERVER_ROLE_ACTIVE;
	}
	if (r.load_balance_percent == 0) {
		r.load_balance_percent = ENGINE_DEFAULT_LB_PERCENT;
	}
	if (r.reserve_percent == 0) {
		r.reserve_percent = ENGINE_DEFAULT_RESERVE_PERCENT;
	}
	if (r.max_client_lead_time_s == 0) {
		r.max_client_lead_time_s = ENGINE_DEFAULT_MCLT_S;
	}
	if (r.state == ENGINE_FAILOVER_STATE_UNSPECIFIED) {
		r.state = ENGINE_FAILOVER_STATE_NORMAL;
	}
	if (r.auto_sync == ENGINE_AUTO_SYNC_UNSPECIFIED) {
		r.auto_sync = ENGINE_AUTO_SYNC_ON;
	}
	if ((rc = failover_validate(&r, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = failover_read(e, r.name, &existing, &found, st)) != FREP_OK) {
		goto done;
	}
	if (found) {
		engine_failover_fini(&existing);
		rc = frep_status_set(
		    st, FREP_ALREADY_EXISTS, "failover relationship '%s' already exists", r.name);
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_FO_COUNT);
	if ((rc = engine__step(e, s, &row, "count relationships", st)) != FREP_OK) {
		goto done;
	}
	if (row && sqlite3_column_int(s, 0) >= ENGINE_RELATIONSHIPS_MAX) {
		sqlite3_reset(s);
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "failover '%s': this server already has %d relationships "
		    "(the most allowed)",
		    r.name, ENGINE_RELATIONSHIPS_MAX);
		goto done;
	}
	sqlite3_reset(s);
	if ((rc = failover_write(e, ENGINE__STMT_FO_INSERT, &r, st)) != FREP_OK ||
	    (rc = scopes_attach(e, r.name, r.scope_ids, r.n_scope_ids, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = failover_require(e, r.name, out, st);
	}
done:
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_failover_fini(out);
	}
	return rc;
}

frep_code
engine_failover_set(engine *e, const engine_failover *rel, const char *const *mask, size_t n_mask,
    engine_failover *out, frep_status *st)
{
	engine_failover cur, m;
	sqlite3_stmt   *s;
	bool            have_cur = false, row;
	char           *secret   = NULL;
	frep_code       rc;

	if (rel == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "relationship is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("FailoverRelationship", mask, n_mask, failover_fields, st)) !=
	    FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = failover_require(e, rel->name, &cur, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	s        = engine__stmt(e, ENGINE__STMT_FO_SECRET);
	engine__bind_text(s, 1, cur.name);
	if ((rc = engine__step(e, s, &row, "read secret", st)) != FREP_OK) {
		goto done;
	}
	secret = row ? engine__col_dup(s, 0) : engine__strdup("");
	sqlite3_reset(s);
	if (secret == NULL) {
		rc = engine__oom(st);
		goto done;
	}
	m               = cur;
	m.shared_secret = secret;
#define SET(f)                                                                                     \
	if (engine__mask_has(mask, n_mask, #f)) {                                                  \
		m.f = rel->f;                                                                      \
	}
	SET(partner_server)
	SET(mode)
	SET(server_role)
	SET(load_balance_percent)
	SET(reserve_percent)
	SET(max_client_lead_time_s)
	SET(auto_state_transition)
	SET(state_switch_interval_s)
	SET(state)
	SET(local_server)
	if (engine__mask_has(mask, n_mask, "auto_sync") &&
	    rel->auto_sync != ENGINE_AUTO_SYNC_UNSPECIFIED) {
		m.auto_sync = rel->auto_sync;
	}
#undef SET
	/* frepd keeps these (its --kea-ha-url, the partner's): only a mask
	 * that names them changes them, never a whole-object update. */
	if (n_mask > 0 && engine__mask_has(mask, n_mask, "kea_ha_url")) {
		m.kea_ha_url = rel->kea_ha_url;
	}
	if (n_mask > 0 && engine__mask_has(mask, n_mask, "partner_kea_ha_url")) {
		m.partner_kea_ha_url = rel->partner_kea_ha_url;
	}
	/* The secret is never returned, so a read-modify-write with an empty
	 * mask must not wipe it: only a named field or a new value sets it. */
	if ((n_mask > 0 && engine__mask_has(mask, n_mask, "shared_secret")) ||
	    (n_mask == 0 && *engine__str(rel->shared_secret) != '\0')) {
		m.shared_secret = rel->shared_secret;
	}
	if ((rc = failover_validate(&m, st)) != FREP_OK ||
	    (rc = failover_write(e, ENGINE__STMT_FO_UPDATE, &m, st)) != FREP_OK) {
		goto done;
	}
	/* A rotated secret stays valid for a grace window, so that the pair
	 * can change over without a moment in which their calls fail. */
	if (strcmp(engine__str(m.shared_secret), secret) != 0) {
		s = engine__stmt(e, ENGINE__STMT_FO_SET_PREV_SECRET);
		engine__bind_text(s, 1, cur.name);
		engine__bind_text(s, 2, secret);
		sqlite3_bind_int64(s, 3, engine__now_ms() + ENGINE_SECRET_GRACE_MS);
		if ((rc = engine__exec(e, s, "keep previous secret", st)) != FREP_OK) {
			goto done;
		}
	}
	if (out != NULL) {
		rc = failover_require(e, cur.name, out, st);
	}
done:
	if (secret != NULL) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	if (have_cur) {
		engine_failover_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_failover_fini(out);
	}
	return rc;
}

frep_code
engine_failover_get(engine *e, const char *name, engine_failover *out, frep_status *st)
{
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = failover_require(e, name, out, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_failover_fini(out);
	}
	return rc;
}

frep_code
engine_failover_list(engine *e, engine_failover **out, size_t *n, frep_status *st)
{
	engine_failover *vec   = NULL;
	size_t           count = 0, cap = 0;
	sqlite3_stmt    *s;
	bool             row;
	frep_code        rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_FO_LIST);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list relationships", st)) != FREP_OK || !row) {
			break;
		}
		if (count == cap) {
			size_t           ncap = cap ? cap * 2 : 4;
			engine_failover *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				rc = engine__oom(st);
				break;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = failover_from_row(s, &vec[count], st)) != FREP_OK) {
			sqlite3_reset(s);
			break;
		}
		count++;
	}
	for (size_t i = 0; rc == FREP_OK && i < count; i++) {
		rc = failover_scopes_read(e, &vec[i], st);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_failovers_free(vec, count);
		return rc;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}

frep_code
engine_failover_remove(engine *e, const char *name, frep_status *st)
{
	sqlite3_stmt *s;
	frep_code     rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_FO_DELETE);
	engine__bind_text(s, 1, name);
	if ((rc = engine__exec(e, s, "delete relationship", st)) == FREP_OK &&
	    sqlite3_changes(e->db) == 0) {
		rc = frep_status_set(st, FREP_NOT_FOUND,
		    "failover relationship '%s' does not exist", engine__str(name));
	}
	return engine__write_end(e, rc, st);
}

frep_code
engine_failover_add_scopes(engine *e, const char *name, const uint32_t *scope_ids, size_t n,
    engine_failover *out, frep_status *st)
{
	engine_failover cur;
	frep_code       rc;

	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = failover_require(e, name, &cur, st)) != FREP_OK) {
		goto done;
	}
	engine_failover_fini(&cur);
	if ((rc = scopes_attach(e, name, scope_ids, n, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = failover_require(e, name, out, st);
	}
done:
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_failover_fini(out);
	}
	return rc;
}

frep_code
engine_failover_remove_scopes(engine *e, const char *name, const uint32_t *scope_ids, size_t n,
    engine_failover *out, frep_status *st)
{
	engine_failover cur;
	frep_code       rc;

	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = failover_require(e, name, &cur, st)) != FREP_OK) {
		goto done;
	}
	engine_failover_fini(&cur);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_FOS_OWNER);
		bool          row;
		engine__bind_u32(s, 1, scope_ids[i]);
		if ((rc = engine__step(e, s, &row, "read failover membership", st)) != FREP_OK) {
			goto done;
		}
		bool mine = row && strcmp((const char *) sqlite3_column_text(s, 0), name) == 0;
		sqlite3_reset(s);
		if (!mine) {
			rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "scope %s is not in failover relationship '%s'",
			    ENGINE__IP(scope_ids[i]), name);
			goto done;
		}
		s = engine__stmt(e, ENGINE__STMT_FOS_DELETE);
		engine__bind_u32(s, 1, scope_ids[i]);
		if ((rc = engine__exec(e, s, "remove failover scope", st)) != FREP_OK) {
			goto done;
		}
	}
	if (out != NULL) {
		rc = failover_require(e, name, out, st);
	}
done:
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_failover_fini(out);
	}
	return rc;
}

frep_code
engine_failover_of_scope(engine *e, uint32_t scope_id, bool *found,
    char name_out[ENGINE_RELATIONSHIP_NAME_MAX + 1], frep_status *st)
{
	sqlite3_stmt *s;
	frep_code     rc;

	*found      = false;
	name_out[0] = '\0';
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_FOS_OWNER);
	engine__bind_u32(s, 1, scope_id);
	if ((rc = engine__step(e, s, found, "read failover membership", st)) == FREP_OK && *found) {
		snprintf(name_out, ENGINE_RELATIONSHIP_NAME_MAX + 1, "%s",
		    (const char *) sqlite3_column_text(s, 0));
		sqlite3_reset(s);
	}
	return engine__read_end(e, rc, st);
}

frep_code
engine_failover_secret(engine *e, const char *name, char **out, frep_status *st)
{
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	*out = NULL;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_FO_SECRET);
	engine__bind_text(s, 1, name);
	if ((rc = engine__step(e, s, &row, "read secret", st)) == FREP_OK) {
		if (!row) {
			rc = frep_status_set(st, FREP_NOT_FOUND,
			    "failover relationship '%s' does not exist", engine__str(name));
		} else if ((*out = engine__col_dup(s, 0)) == NULL) {
			rc = engine__oom(st);
		}
		sqlite3_reset(s);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK && *out != NULL) {
		free(*out);
		*out = NULL;
	}
	return rc;
}
