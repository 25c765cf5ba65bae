/* Option definitions and option values at every level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const optdef_fields[] = {
    "name", "description", "type", "multi_valued", "default_value", NULL};

void
engine__describe_owner(
    engine *e, uint32_t scope_id, uint32_t reserved_ip, int64_t policy_id, char *buf, size_t size)
{
	if (policy_id != 0) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_BY_ID);
		bool          row;
		sqlite3_bind_int64(s, 1, policy_id);
		if (engine__step(e, s, &row, "read policy", NULL) == FREP_OK && row) {
			uint32_t psc = engine__col_u32(s, 0);
			if (psc != 0) {
				snprintf(buf, size, "policy '%s' of scope %s",
				    (const char *) sqlite3_column_text(s, 1), ENGINE__IP(psc));
			} else {
				snprintf(buf, size, "server policy '%s'",
				    (const char *) sqlite3_column_text(s, 1));
			}
			sqlite3_reset(s);
			return;
		}
		snprintf(buf, size, "policy #%lld", (long long) policy_id);
	} else if (reserved_ip != 0) {
		snprintf(buf, size, "reservation %s of scope %s", ENGINE__IP(reserved_ip),
		    ENGINE__IP(scope_id));
	} else if (scope_id != 0) {
		snprintf(buf, size, "scope %s", ENGINE__IP(scope_id));
	} else {
		snprintf(buf, size, "the server-level options");
	}
}

static frep_code
optdef_from_row(sqlite3_stmt *s, engine_option_def *out, frep_status *st)
{
	frep_code rc;

	memset(out, 0, sizeof(*out));
	out->option_id    = engine__col_u32(s, 0);
	out->vendor_class = engine__col_dup(s, 1);
	out->name         = engine__col_dup(s, 2);
	out->description  = engine__col_dup(s, 3);
	out->type         = (engine_option_type) sqlite3_column_int(s, 4);
	out->multi_valued = sqlite3_column_int(s, 5) != 0;
	out->predefined   = sqlite3_column_int(s, 7) != 0;
	if (out->vendor_class == NULL || out->name == NULL || out->description == NULL) {
		engine_option_def_fini(out);
		return engine__oom(st);
	}
	rc = engine__values_decode((const char *) sqlite3_column_text(s, 6), &out->default_value,
	    &out->n_default_value, st);
	if (rc != FREP_OK) {
		engine_option_def_fini(out);
	}
	return rc;
}

static frep_code
optdef_read(engine *e, uint32_t option_id, const char *vendor, engine_option_def *out, bool *found,
    frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTDEF_GET);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, option_id);
	engine__bind_text(s, 2, vendor);
	if ((rc = engine__step(e, s, &row, "read option definition", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = optdef_from_row(s, out, st);
	sqlite3_reset(s);
	return rc;
}

static frep_code
optdef_require(
    engine *e, uint32_t option_id, const char *vendor, engine_option_def *out, frep_status *st)
{
	bool      found;
	frep_code rc = optdef_read(e, option_id, vendor, out, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(st, FREP_NOT_FOUND,
		    "option definition %u (vendor class '%s') does not exist", option_id,
		    engine__str(vendor));
	}
	return rc;
}

static frep_code
class_exists(engine *e, engine_class_type type, const char *name, bool *found, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
	frep_code     rc;

	sqlite3_bind_int(s, 1, (int) type);
	engine__bind_text(s, 2, name);
	rc = engine__step(e, s, found, "read class", st);
	sqlite3_reset(s);
	return rc;
}

/* Validates a whole definition; *defaults receives the normal forms. */
static frep_code
optdef_validate(engine *e, const engine_option_def *d, char ***defaults, frep_status *st)
{
	char      ctx[96];
	bool      found;
	frep_code rc;

	*defaults = NULL;
	if (d->option_id < 1 || d->option_id > 254) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "option definition: option_id %u is out of range (1..254)", d->option_id);
	}
	snprintf(ctx, sizeof(ctx), "option definition %u: ", d->option_id);
	if ((rc = engine__check_text(ctx, "vendor_class", d->vendor_class, ENGINE_NAME_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "name", d->name, ENGINE_NAME_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(
		 ctx, "description", d->description, ENGINE_DESCRIPTION_MAX, 0, st)) != FREP_OK) {
		return rc;
	}
	if (d->type < ENGINE_OPTION_TYPE_BYTE || d->type > ENGINE_OPTION_TYPE_IPV6_ADDRESS) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%stype %d is not an option type (1..9)", ctx, (int) d->type);
	}
	if (*engine__str(d->vendor_class) != '\0') {
		if ((rc = class_exists(e, ENGINE_CLASS_TYPE_VENDOR, d->vendor_class, &found, st)) !=
		    FREP_OK) {
			return rc;
		}
		if (!found) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "%svendor_class '%s' does not exist", ctx, d->vendor_class);
		}
	}
	snprintf(ctx, sizeof(ctx), "option definition %u: default_value ", d->option_id);
	return engine__option_values_normalize(ctx, d->type, d->multi_valued, d->default_value,
	    d->n_default_value, true, defaults, st);
}

static frep_code
optdef_write(engine *e, engine__stmt_id id, const engine_option_def *d, char *const *defaults,
    size_t n_defaults, bool predefined, frep_status *st)
{
	char         *enc;
	sqlite3_stmt *s;
	frep_code     rc;

	if ((rc = engine__values_encode(defaults, n_defaults, &enc, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, id);
	engine__bind_u32(s, 1, d->option_id);
	engine__bind_text(s, 2, d->vendor_class);
	engine__bind_text(s, 3, d->name);
	engine__bind_text(s, 4, d->description);
	sqlite3_bind_int(s, 5, (int) d->type);
	sqlite3_bind_int(s, 6, d->multi_valued ? 1 : 0);
	engine__bind_text(s, 7, enc);
	if (id == ENGINE__STMT_OPTDEF_INSERT) {
		sqlite3_bind_int(s, 8, predefined ? 1 : 0);
	}
	rc = engine__exec(e, s, "write option definition", st);
	free(enc);
	return rc;
}

frep_code
engine_option_def_add(
    engine *e, const engine_option_def *def, engine_option_def *out, frep_status *st)
{
	engine_option_def existing;
	char            **defaults = NULL;
	bool              found;
	frep_code         rc;

	if (def == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "option definition is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = optdef_read(e, def->option_id, engine__str(def->vendor_class), &existing, &found,
		 st)) != FREP_OK) {
		goto done;
	}
	if (found) {
		engine_option_def_fini(&existing);
		rc = frep_status_set(st, FREP_ALREADY_EXISTS,
		    "option definition %u (vendor class '%s') already exists", def->option_id,
		    engine__str(def->vendor_class));
		goto done;
	}
	if ((rc = optdef_validate(e, def, &defaults, st)) != FREP_OK ||
	    (rc = optdef_write(e, ENGINE__STMT_OPTDEF_INSERT, def, defaults, def->n_default_value,
		 false, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = optdef_require(e, def->option_id, engine__str(def->vendor_class), out, st);
	}
done:
	engine__strv_free(defaults, def->n_default_value);
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_option_def_fini(out);
	}
	return rc;
}

/* FAILED_PRECONDITION naming a user if an option value uses (id, vendor). */
static frep_code
optdef_unused(engine *e, uint32_t option_id, const char *vendor, const char *why, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTVAL_BY_DEF);
	bool          row;
	frep_code     rc;
	char          where[160];

	engine__bind_u32(s, 1, option_id);
	engine__bind_text(s, 2, vendor);
	if ((rc = engine__step(e, s, &row, "read option values", st)) != FREP_OK) {
		return rc;
	}
	if (!row) {
		return FREP_OK;
	}
	uint32_t sid = engine__col_u32(s, 0);
	uint32_t ip  = engine__col_u32(s, 1);
	int64_t  pid = sqlite3_column_int64(s, 2);
	sqlite3_reset(s);
	engine__describe_owner(e, sid, ip, pid, where, sizeof(where));
	return frep_status_set(st, FREP_FAILED_PRECONDITION,
	    "option definition %u (vendor class '%s') is in use by %s%s", option_id, vendor, where,
	    why);
}

frep_code
engine_option_def_set(engine *e, const engine_option_def *def, const char *const *mask,
    size_t n_mask, engine_option_def *out, frep_status *st)
{
	engine_option_def cur;
	engine_option_def m;
	char            **defaults = NULL;
	size_t            n_def    = 0;
	bool              have_cur = false;
	frep_code         rc;

	if (def == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "option definition is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("OptionDefinition", mask, n_mask, optdef_fields, st)) !=
	    FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = optdef_require(e, def->option_id, engine__str(def->vendor_class), &cur, st)) !=
	    FREP_OK) {
		goto done;
	}
	have_cur = true;
	m        = cur;
	if (engine__mask_has(mask, n_mask, "name")) {
		m.name = def->name;
	}
	if (engine__mask_has(mask, n_mask, "description")) {
		m.description = def->description;
	}
	if (engine__mask_has(mask, n_mask, "type")) {
		m.type = def->type;
	}
	if (engine__mask_has(mask, n_mask, "multi_valued")) {
		m.multi_valued = def->multi_valued;
	}
	if (engine__mask_has(mask, n_mask, "default_value")) {
		m.default_value   = def->default_value;
		m.n_default_value = def->n_default_value;
	}
	if (m.type != cur.type || m.multi_valued != cur.multi_valued) {
		if (cur.predefined) {
			rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "option definition %u (vendor class '%s') is "
			    "predefined: its type and multi_valued cannot change",
			    cur.option_id, cur.vendor_class);
			goto done;
		}
		if ((rc = optdef_unused(e, cur.option_id, cur.vendor_class,
			 ": remove its values before changing type or "
			 "multi_valued",
			 st)) != FREP_OK) {
			goto done;
		}
	}
	n_def = m.n_default_value;
	if ((rc = optdef_validate(e, &m, &defaults, st)) != FREP_OK ||
	    (rc = optdef_write(e, ENGINE__STMT_OPTDEF_UPDATE, &m, defaults, n_def, false, st)) !=
		FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = optdef_require(e, cur.option_id, cur.vendor_class, out, st);
	}
done:
	engine__strv_free(defaults, n_def);
	if (have_cur) {
		engine_option_def_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_option_def_fini(out);
	}
	return rc;
}

frep_code
engine_option_def_get(engine *e, uint32_t option_id, const char *vendor_class,
    engine_option_def *out, frep_status *st)
{
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = optdef_require(e, option_id, engine__str(vendor_class), out, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_option_def_fini(out);
	}
	return rc;
}

frep_code
engine_option_def_list(engine *e, const char *vendor_class, bool all_vendors,
    engine_option_def **out, size_t *n, frep_status *st)
{
	engine_option_def *vec   = NULL;
	size_t             count = 0, cap = 0;
	sqlite3_stmt      *s;
	bool               row;
	frep_code          rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if (all_vendors) {
		s = engine__stmt(e, ENGINE__STMT_OPTDEF_LIST_ALL);
	} else {
		s = engine__stmt(e, ENGINE__STMT_OPTDEF_LIST_VENDOR);
		engine__bind_text(s, 1, vendor_class);
	}
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list option definitions", st)) != FREP_OK ||
		    !row) {
			break;
		}
		if (count == cap) {
			size_t             ncap = cap ? cap * 2 : 32;
			engine_option_def *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = engine__oom(st);
				break;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = optdef_from_row(s, &vec[count], st)) != FREP_OK) {
			break;
		}
		count++;
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_option_defs_free(vec, count);
		return rc;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}

frep_code
engine_option_def_remove(engine *e, uint32_t option_id, const char *vendor_class, frep_status *st)
{
	engine_option_def cur;
	const char       *vendor = engine__str(vendor_class);
	sqlite3_stmt     *s;
	frep_code         rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = optdef_require(e, option_id, vendor, &cur, st)) != FREP_OK) {
		goto done;
	}
	bool predefined = cur.predefined;
	engine_option_def_fini(&cur);
	if (predefined) {
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "option definition %u (vendor class '%s') is predefined and "
		    "cannot be removed",
		    option_id, vendor);
		goto done;
	}
	if ((rc = optdef_unused(e, option_id, vendor, "", st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_OPTDEF_DELETE);
	engine__bind_u32(s, 1, option_id);
	engine__bind_text(s, 2, vendor);
	rc = engine__exec(e, s, "delete option definition", st);
done:
	return engine__write_end(e, rc, st);
}

/* --- option values ------------------------------------------------------ */

typedef struct resolved_target {
	uint32_t scope_id;
	uint32_t reserved_ip;
	int64_t  policy_id;
	char     ctx[128]; /* message prefix naming the owner */
} resolved_target;

static frep_code
resolve_target(engine *e, const engine_option_target *t, resolved_target *r, frep_status *st)
{
	static const engine_option_target server = {0};
	sqlite3_stmt                     *s;
	bool                              row;
	frep_code                         rc;
	const char                       *policy;

	if (t == NULL) {
		t = &server;
	}
	policy = engine__str(t->policy_name);
	memset(r, 0, sizeof(*r));
	r->scope_id = t->scope_id;
	if (*policy != '\0') {
		if (t->reserved_ip != 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "target: reserved_ip %s and policy_name '%s' cannot "
			    "both be given",
			    ENGINE__IP(t->reserved_ip), policy);
		}
		s = engine__stmt(e, ENGINE__STMT_POLICY_GET);
		engine__bind_u32(s, 1, t->scope_id);
		engine__bind_text(s, 2, policy);
		if ((rc = engine__step(e, s, &row, "read policy", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			if (t->scope_id != 0) {
				return frep_status_set(st, FREP_NOT_FOUND,
				    "policy '%s' of scope %s does not exist", policy,
				    ENGINE__IP(t->scope_id));
			}
			return frep_status_set(
			    st, FREP_NOT_FOUND, "server policy '%s' does not exist", policy);
		}
		r->policy_id = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		snprintf(r->ctx, sizeof(r->ctx), "policy '%s': ", policy);
		return FREP_OK;
	}
	if (t->reserved_ip != 0) {
		if (t->scope_id == 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "target: reserved_ip %s needs a scope_id", ENGINE__IP(t->reserved_ip));
		}
		s = engine__stmt(e, ENGINE__STMT_RES_GET);
		engine__bind_u32(s, 1, t->scope_id);
		engine__bind_u32(s, 2, t->reserved_ip);
		if ((rc = engine__step(e, s, &row, "read reservation", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "scope %s: reservation %s does not exist", ENGINE__IP(t->scope_id),
			    ENGINE__IP(t->reserved_ip));
		}
		r->reserved_ip = t->reserved_ip;
		snprintf(r->ctx, sizeof(r->ctx), "reservation %s: ", ENGINE__IP(t->reserved_ip));
		return FREP_OK;
	}
	if (t->scope_id != 0) {
		s = engine__stmt(e, ENGINE__STMT_SCOPE_GET);
		engine__bind_u32(s, 1, t->scope_id);
		if ((rc = engine__step(e, s, &row, "read scope", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			return frep_status_set(
			    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(t->scope_id));
		}
		snprintf(r->ctx, sizeof(r->ctx), "scope %s: ", ENGINE__IP(t->scope_id));
	}
	return FREP_OK;
}

static frep_code
optval_read(engine *e, const resolved_target *r, uint32_t option_id, const char *vendor,
    const char *user, engine_option_value *out, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTVAL_GET);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, r->scope_id);
	engine__bind_u32(s, 2, r->reserved_ip);
	sqlite3_bind_int64(s, 3, r->policy_id);
	engine__bind_u32(s, 4, option_id);
	engine__bind_text(s, 5, vendor);
	engine__bind_text(s, 6, user);
	if ((rc = engine__step(e, s, &row, "read option value", st)) != FREP_OK) {
		return rc;
	}
	if (!row) {
		return frep_status_set(st, FREP_NOT_FOUND,
		    "%soption value %u (vendor class '%s', user class '%s') does "
		    "not exist",
		    r->ctx, option_id, engine__str(vendor), engine__str(user));
	}
	rc = engine__option_value_from_row(s, 0, out, st);
	sqlite3_reset(s);
	return rc;
}

frep_code
engine_option_value_set(engine *e, const engine_option_target *target,
    const engine_option_value *value, engine_option_value *out, frep_status *st)
{
	resolved_target     r;
	engine_option_value norm;
	bool                have_norm = false;
	frep_code           rc;

	if (value == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "option value is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = resolve_target(e, target, &r, st)) != FREP_OK ||
	    (rc = engine__digest_forget(e, r.scope_id, st)) != FREP_OK ||
	    (rc = engine__option_value_check(e, r.ctx, value, &norm, st)) != FREP_OK) {
		goto done;
	}
	have_norm = true;
	if ((rc = engine__option_values_insert(
		 e, r.scope_id, r.reserved_ip, r.policy_id, &norm, 1, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc =
		    optval_read(e, &r, norm.option_id, norm.vendor_class, norm.user_class, out, st);
	}
done:
	if (have_norm) {
		engine_option_value_fini(&norm);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_option_value_fini(out);
	}
	return rc;
}

frep_code
engine_option_value_get(engine *e, const engine_option_target *target, uint32_t option_id,
    const char *vendor_class, const char *user_class, engine_option_value *out, frep_status *st)
{
	resolved_target r;
	frep_code       rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = resolve_target(e, target, &r, st)) == FREP_OK) {
		rc = optval_read(
		    e, &r, option_id, engine__str(vendor_class), engine__str(user_class), out, st);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_option_value_fini(out);
	}
	return rc;
}

frep_code
engine_option_value_list(engine *e, const engine_option_target *target, engine_option_value **out,
    size_t *n, frep_status *st)
{
	resolved_target r;
	frep_code       rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = resolve_target(e, target, &r, st)) == FREP_OK) {
		rc = engine__option_values_read(
		    e, r.scope_id, r.reserved_ip, r.policy_id, out, n, st);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_option_values_free(*out, *n);
		*out = NULL;
		*n   = 0;
	}
	return rc;
}

frep_code
engine_option_value_remove(engine *e, const engine_option_target *target, uint32_t option_id,
    const char *vendor_class, const char *user_class, frep_status *st)
{
	resolved_target r;
	sqlite3_stmt   *s;
	frep_code       rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = resolve_target(e, target, &r, st)) != FREP_OK ||
	    (rc = engine__digest_forget(e, r.scope_id, st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE);
	engine__bind_u32(s, 1, r.scope_id);
	engine__bind_u32(s, 2, r.reserved_ip);
	sqlite3_bind_int64(s, 3, r.policy_id);
	engine__bind_u32(s, 4, option_id);
	engine__bind_text(s, 5, vendor_class);
	engine__bind_text(s, 6, user_class);
	if ((rc = engine__exec(e, s, "delete option value", st)) == FREP_OK &&
	    sqlite3_changes(e->db) == 0) {
		rc = frep_status_set(st, FREP_NOT_FOUND,
		    "%soption value %u (vendor class '%s', user class '%s') does "
		    "not exist",
		    r.ctx, option_id, engine__str(vendor_class), engine__str(user_class));
	}
done:
	return engine__write_end(e, rc, st);
}
