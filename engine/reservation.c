/* Reservations and their option values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"

static const char *const reservation_fields[] = {
    "client_id", "name", "description", "type", "options", NULL};

frep_code
engine__reservation_validate_fields(
    const engine_scope *sc, const engine_reservation *res, char client_id[], frep_status *st)
{
	char      ctx[64];
	char      field[96];
	uint32_t  net  = sc->scope_id;
	uint32_t  mask = sc->subnet_mask;
	frep_code rc;

	if ((res->ip_address & mask) != net) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "reservation %s lies outside scope %s/%d", ENGINE__IP(res->ip_address),
		    ENGINE__IP(net), engine_ipv4_prefix_len(mask));
	}
	if (res->ip_address == net || res->ip_address == (net | ~mask)) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "reservation %s is the %s address of scope %s/%d", ENGINE__IP(res->ip_address),
		    res->ip_address == net ? "network" : "broadcast", ENGINE__IP(net),
		    engine_ipv4_prefix_len(mask));
	}
	/* "reservation 10.0.0.5: " and "...client_id", built without printf:
	 * this runs for each of the thousands of reservations of an apply. */
	char ip[ENGINE_IPV4_STRLEN];
	engine_ipv4_format(res->ip_address, ip);
	size_t n = strlen(ip);
	memcpy(ctx, "reservation ", 12);
	memcpy(ctx + 12, ip, n);
	memcpy(ctx + 12 + n, ": ", 3);
	memcpy(field, ctx, 14 + n);
	memcpy(field + 14 + n, "client_id", 10);
	if ((rc = engine_hexid_normalize(engine__str(res->client_id), field, client_id, st)) !=
	    FREP_OK) {
		return rc;
	}
	if ((rc = engine__check_text(ctx, "name", res->name, ENGINE_NAME_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(
		 ctx, "description", res->description, ENGINE_DESCRIPTION_MAX, 0, st)) != FREP_OK) {
		return rc;
	}
	if (res->type < ENGINE_CLIENT_TYPE_DHCP || res->type > ENGINE_CLIENT_TYPE_BOTH) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%stype %d is not a client type (1 DHCP, 2 BOOTP, 3 BOTH)", ctx,
		    (int) res->type);
	}
	return FREP_OK;
}

static frep_code
reservation_from_row(sqlite3_stmt *s, engine_reservation *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->scope_id    = engine__col_u32(s, 0);
	out->ip_address  = engine__col_u32(s, 1);
	out->client_id   = engine__col_dup(s, 2);
	out->name        = engine__col_dup(s, 3);
	out->description = engine__col_dup(s, 4);
	out->type        = (engine_client_type) sqlite3_column_int(s, 5);
	if (out->client_id == NULL || out->name == NULL || out->description == NULL) {
		engine_reservation_fini(out);
		return engine__oom(st);
	}
	return FREP_OK;
}

static frep_code
reservation_read(engine *e, uint32_t scope_id, uint32_t ip, engine_reservation *out, bool *found,
    frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_RES_GET);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, scope_id);
	engine__bind_u32(s, 2, ip);
	if ((rc = engine__step(e, s, &row, "read reservation", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = reservation_from_row(s, out, st);
	sqlite3_reset(s);
	if (rc != FREP_OK) {
		return rc;
	}
	rc = engine__option_values_read(e, scope_id, ip, 0, &out->options, &out->n_options, st);
	if (rc != FREP_OK) {
		engine_reservation_fini(out);
	}
	return rc;
}

static frep_code
reservation_require(
    engine *e, uint32_t scope_id, uint32_t ip, engine_reservation *out, frep_status *st)
{
	bool      found;
	frep_code rc = reservation_read(e, scope_id, ip, out, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(st, FREP_NOT_FOUND,
		    "scope %s: reservation %s does not exist", ENGINE__IP(scope_id),
		    ENGINE__IP(ip));
	}
	return rc;
}

static frep_code
scope_for(engine *e, uint32_t scope_id, engine_scope *sc, frep_status *st)
{
	bool      found;
	frep_code rc = engine__scope_read(e, scope_id, sc, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(
		    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(scope_id));
	}
	return rc;
}

const char *
engine__client_id_key(const char *client_id)
{
	/* "01-" + six bytes: 3 + 17 characters in normal form. */
	if (strlen(client_id) == 20 && strncmp(client_id, "01-", 3) == 0) {
		return client_id + 3;
	}
	return client_id;
}

/* ALREADY_EXISTS if client_id, or the other form of the same Ethernet
 * client (MAC and 01-MAC), is reserved in the scope by another ip. */
static frep_code
client_id_free(engine *e, uint32_t scope_id, uint32_t ip, const char *client_id, frep_status *st)
{
	char        alt[ENGINE_HEXID_STRLEN + 4];
	const char *forms[2] = {client_id, NULL};
	frep_code   rc;

	if (strlen(client_id) == 17) {
		snprintf(alt, sizeof(alt), "01-%s", client_id);
		forms[1] = alt;
	} else if (engine__client_id_key(client_id) != client_id) {
		snprintf(alt, sizeof(alt), "%s", client_id + 3);
		forms[1] = alt;
	}
	for (int k = 0; k < 2 && forms[k] != NULL; k++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_RES_BY_CLIENT);
		bool          row;
		engine__bind_u32(s, 1, scope_id);
		engine__bind_text(s, 2, forms[k]);
		if ((rc = engine__step(e, s, &row, "read reservation", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			continue;
		}
		uint32_t other = engine__col_u32(s, 0);
		sqlite3_reset(s);
		if (other == ip) {
			continue;
		}
		if (k == 0) {
			return frep_status_set(st, FREP_ALREADY_EXISTS,
			    "scope %s: client_id %s is already reserved by "
			    "reservation %s",
			    ENGINE__IP(scope_id), client_id, ENGINE__IP(other));
		}
		return frep_status_set(st, FREP_ALREADY_EXISTS,
		    "scope %s: client_id %s is the same Ethernet client as %s, already "
		    "reserved by reservation %s (one client, one reservation)",
		    ENGINE__IP(scope_id), client_id, forms[1], ENGINE__IP(other));
	}
	return FREP_OK;
}

frep_code
engine_reservation_add(
    engine *e, const engine_reservation *reservation, engine_reservation *out, frep_status *st)
{
	engine_reservation   r;
	engine_reservation   existing;
	engine_scope         sc;
	engine_option_value *opts   = NULL;
	size_t               n_opts = 0;
	char                 client_id[ENGINE_HEXID_STRLEN];
	char                 ctx[64];
	bool                 have_sc = false, found;
	sqlite3_stmt        *s;
	frep_code            rc;

	if (reservation == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "reservation is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__digest_forget(e, reservation->scope_id, st)) != FREP_OK) {
		return engine__write_end(e, rc, st);
	}
	r = *reservation;
	if (r.type == ENGINE_CLIENT_TYPE_UNSPECIFIED) {
		r.type = ENGINE_CLIENT_TYPE_BOTH;
	}
	if ((rc = scope_for(e, r.scope_id, &sc, st)) != FREP_OK) {
		goto done;
	}
	have_sc = true;
	if ((rc = engine__reservation_validate_fields(&sc, &r, client_id, st)) != FREP_OK) {
		goto done;
	}
	if ((rc = reservation_read(e, r.scope_id, r.ip_address, &existing, &found, st)) !=
	    FREP_OK) {
		goto done;
	}
	if (found) {
		engine_reservation_fini(&existing);
		rc = frep_status_set(st, FREP_ALREADY_EXISTS,
		    "scope %s: reservation %s already exists", ENGINE__IP(r.scope_id),
		    ENGINE__IP(r.ip_address));
		goto done;
	}
	if ((rc = client_id_free(e, r.scope_id, r.ip_address, client_id, st)) != FREP_OK) {
		goto done;
	}
	snprintf(ctx, sizeof(ctx), "reservation %s: ", ENGINE__IP(r.ip_address));
	if ((rc = engine__option_values_check(e, ctx, r.options, r.n_options, &opts, st)) !=
	    FREP_OK) {
		goto done;
	}
	n_opts = r.n_options;
	s      = engine__stmt(e, ENGINE__STMT_RES_INSERT);
	engine__bind_u32(s, 1, r.scope_id);
	engine__bind_u32(s, 2, r.ip_address);
	engine__bind_text(s, 3, client_id);
	engine__bind_text(s, 4, r.name);
	engine__bind_text(s, 5, r.description);
	sqlite3_bind_int(s, 6, (int) r.type);
	if ((rc = engine__exec(e, s, "insert reservation", st)) != FREP_OK ||
	    (rc = engine__option_values_insert(e, r.scope_id, r.ip_address, 0, opts, n_opts, st)) !=
		FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = reservation_require(e, r.scope_id, r.ip_address, out, st);
	}
done:
	engine_option_values_free(opts, n_opts);
	if (have_sc) {
		engine_scope_fini(&sc);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_reservation_fini(out);
	}
	return rc;
}

frep_code
engine_reservation_set(engine *e, const engine_reservation *reservation, const char *const *mask,
    size_t n_mask, engine_reservation *out, frep_status *st)
{
	engine_reservation   cur;
	engine_reservation   m;
	engine_scope         sc;
	engine_option_value *opts   = NULL;
	size_t               n_opts = 0;
	char                 client_id[ENGINE_HEXID_STRLEN];
	char                 ctx[64];
	bool                 have_sc = false, have_cur = false;
	sqlite3_stmt        *s;
	frep_code            rc;

	if (reservation == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "reservation is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("Reservation", mask, n_mask, reservation_fields, st)) !=
	    FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__digest_forget(e, reservation->scope_id, st)) != FREP_OK) {
		return engine__write_end(e, rc, st);
	}
	if ((rc = scope_for(e, reservation->scope_id, &sc, st)) != FREP_OK) {
		goto done;
	}
	have_sc = true;
	if ((rc = reservation_require(
		 e, reservation->scope_id, reservation->ip_address, &cur, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	m        = cur;
	if (engine__mask_has(mask, n_mask, "client_id")) {
		m.client_id = reservation->client_id;
	}
	if (engine__mask_has(mask, n_mask, "name")) {
		m.name = reservation->name;
	}
	if (engine__mask_has(mask, n_mask, "description")) {
		m.description = reservation->description;
	}
	if (engine__mask_has(mask, n_mask, "type")) {
		m.type = reservation->type == ENGINE_CLIENT_TYPE_UNSPECIFIED
			     ? ENGINE_CLIENT_TYPE_BOTH
			     : reservation->type;
	}
	if ((rc = engine__reservation_validate_fields(&sc, &m, client_id, st)) != FREP_OK ||
	    (rc = client_id_free(e, m.scope_id, m.ip_address, client_id, st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_RES_UPDATE);
	engine__bind_u32(s, 1, m.scope_id);
	engine__bind_u32(s, 2, m.ip_address);
	engine__bind_text(s, 3, client_id);
	engine__bind_text(s, 4, m.name);
	engine__bind_text(s, 5, m.description);
	sqlite3_bind_int(s, 6, (int) m.type);
	if ((rc = engine__exec(e, s, "update reservation", st)) != FREP_OK) {
		goto done;
	}
	if (engine__mask_has(mask, n_mask, "options")) {
		snprintf(ctx, sizeof(ctx), "reservation %s: ", ENGINE__IP(m.ip_address));
		if ((rc = engine__option_values_check(e, ctx, reservation->options,
			 reservation->n_options, &opts, st)) != FREP_OK) {
			goto done;
		}
		n_opts = reservation->n_options;
		s      = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE_OWNER);
		engine__bind_u32(s, 1, m.scope_id);
		engine__bind_u32(s, 2, m.ip_address);
		sqlite3_bind_int64(s, 3, 0);
		if ((rc = engine__exec(e, s, "delete option values", st)) != FREP_OK ||
		    (rc = engine__option_values_insert(
			 e, m.scope_id, m.ip_address, 0, opts, n_opts, st)) != FREP_OK) {
			goto done;
		}
	}
	if (out != NULL) {
		rc = reservation_require(e, m.scope_id, m.ip_address, out, st);
	}
done:
	engine_option_values_free(opts, n_opts);
	if (have_cur) {
		engine_reservation_fini(&cur);
	}
	if (have_sc) {
		engine_scope_fini(&sc);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_reservation_fini(out);
	}
	return rc;
}

frep_code
engine_reservation_get(
    engine *e, uint32_t scope_id, uint32_t ip_address, engine_reservation *out, frep_status *st)
{
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = reservation_require(e, scope_id, ip_address, out, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_reservation_fini(out);
	}
	return rc;
}

static frep_code
append_option(engine_reservation *r, sqlite3_stmt *s, frep_status *st)
{
	engine_option_value *nv;

	/* Grow by doubling: n_options is a power of two when full. */
	if ((r->n_options & (r->n_options - 1)) == 0) {
		size_t ncap = r->n_options ? r->n_options * 2 : 2;
		nv          = realloc(r->options, ncap * sizeof(*nv));
		if (nv == NULL) {
			return engine__oom(st);
		}
		r->options = nv;
	}
	frep_code rc = engine__option_value_from_row(s, 2, &r->options[r->n_options], st);
	if (rc == FREP_OK) {
		r->n_options++;
	}
	return rc;
}

frep_code
engine__reservations_read(
    engine *e, uint32_t scope_id, engine_reservation **out, size_t *n, frep_status *st)
{
	engine_reservation *vec   = NULL;
	size_t              count = 0, cap = 0, j = 0;
	sqlite3_stmt       *s;
	bool                row;
	frep_code           rc;

	if (scope_id != 0) {
		s = engine__stmt(e, ENGINE__STMT_RES_LIST_SCOPE);
		engine__bind_u32(s, 1, scope_id);
	} else {
		s = engine__stmt(e, ENGINE__STMT_RES_LIST_ALL);
	}
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list reservations", st)) != FREP_OK) {
			goto fail;
		}
		if (!row) {
			break;
		}
		if (count == cap) {
			size_t              ncap = cap ? cap * 2 : 16;
			engine_reservation *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				rc = engine__oom(st);
				goto fail;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = reservation_from_row(s, &vec[count], st)) != FREP_OK) {
			sqlite3_reset(s);
			goto fail;
		}
		count++;
	}
	/* Both lists are ordered by (scope_id, ip): merge in one pass. */
	if (scope_id != 0) {
		s = engine__stmt(e, ENGINE__STMT_OPTVAL_RES_SCOPE);
		engine__bind_u32(s, 1, scope_id);
	} else {
		s = engine__stmt(e, ENGINE__STMT_OPTVAL_RES_ALL);
	}
	for (;;) {
		uint32_t sid, ip;

		if ((rc = engine__step(e, s, &row, "list option values", st)) != FREP_OK) {
			goto fail;
		}
		if (!row) {
			break;
		}
		sid = engine__col_u32(s, 0);
		ip  = engine__col_u32(s, 1);
		while (j < count && (vec[j].scope_id < sid ||
					(vec[j].scope_id == sid && vec[j].ip_address < ip))) {
			j++;
		}
		if (j < count && vec[j].scope_id == sid && vec[j].ip_address == ip) {
			if ((rc = append_option(&vec[j], s, st)) != FREP_OK) {
				sqlite3_reset(s);
				goto fail;
			}
		}
	}
	*out = vec;
	*n   = count;
	return FREP_OK;

fail:
	engine_reservations_free(vec, count);
	return rc;
}

frep_code
engine_reservation_list(
    engine *e, uint32_t scope_id, engine_reservation **out, size_t *n, frep_status *st)
{
	engine_scope sc;
	frep_code    rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if (scope_id != 0) {
		if ((rc = scope_for(e, scope_id, &sc, st)) != FREP_OK) {
			return engine__read_end(e, rc, st);
		}
		engine_scope_fini(&sc);
	}
	rc = engine__reservations_read(e, scope_id, out, n, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_reservations_free(*out, *n);
		*out = NULL;
		*n   = 0;
	}
	return rc;
}

frep_code
engine_reservation_remove(engine *e, uint32_t scope_id, uint32_t ip_address, frep_status *st)
{
	sqlite3_stmt *s;
	frep_code     rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__digest_forget(e, scope_id, st)) != FREP_OK) {
		return engine__write_end(e, rc, st);
	}
	s = engine__stmt(e, ENGINE__STMT_RES_DELETE);
	engine__bind_u32(s, 1, scope_id);
	engine__bind_u32(s, 2, ip_address);
	if ((rc = engine__exec(e, s, "delete reservation", st)) != FREP_OK) {
		goto done;
	}
	if (sqlite3_changes(e->db) == 0) {
		rc = frep_status_set(st, FREP_NOT_FOUND, "scope %s: reservation %s does not exist",
		    ENGINE__IP(scope_id), ENGINE__IP(ip_address));
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE_OWNER);
	engine__bind_u32(s, 1, scope_id);
	engine__bind_u32(s, 2, ip_address);
	sqlite3_bind_int64(s, 3, 0);
	rc = engine__exec(e, s, "delete option values", st);
done:
	return engine__write_end(e, rc, st);
}
