/* Policies: criteria, IP ranges, option values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"

static const char *const policy_fields[] = {"description", "enabled", "condition",
    "processing_order", "criteria", "ip_ranges", "lease_duration_s", "options", NULL};

static int
range_cmp(const void *a, const void *b)
{
	const engine_ip_range *x = a, *y = b;
	if (x->start_range != y->start_range) {
		return x->start_range < y->start_range ? -1 : 1;
	}
	if (x->end_range != y->end_range) {
		return x->end_range < y->end_range ? -1 : 1;
	}
	return 0;
}

/* Normal form of one criterion value (hex types normalised, a trailing
 * '*' kept), or NULL with st set. */
static char *
criterion_value(engine *e, const char *ctx, size_t ci, size_t vi, engine_criterion_type type,
    const char *v, frep_status *st)
{
	char   field[64];
	size_t len = strlen(v);
	bool   wild;
	char   buf[ENGINE_HEXID_STRLEN + 2];

	snprintf(field, sizeof(field), "criteria[%zu].values[%zu]", ci, vi);
	if (engine__check_text(ctx, field, v, ENGINE_VALUE_MAX,
		ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st) != FREP_OK) {
		return NULL;
	}
	wild = v[len - 1] == '*';
	switch (type) {
	case ENGINE_CRITERION_TYPE_VENDOR_CLASS:
	case ENGINE_CRITERION_TYPE_USER_CLASS: {
		sqlite3_stmt *s;
		bool          row;
		if (wild) {
			return strdup(v);
		}
		s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
		sqlite3_bind_int(s, 1,
		    type == ENGINE_CRITERION_TYPE_VENDOR_CLASS ? ENGINE_CLASS_TYPE_VENDOR
							       : ENGINE_CLASS_TYPE_USER);
		engine__bind_text(s, 2, v);
		if (engine__step(e, s, &row, "read class", st) != FREP_OK) {
			return NULL;
		}
		sqlite3_reset(s);
		if (!row) {
			frep_status_set(st, FREP_NOT_FOUND, "%s%s: %s class '%s' does not exist",
			    ctx, field,
			    type == ENGINE_CRITERION_TYPE_VENDOR_CLASS ? "vendor" : "user", v);
			return NULL;
		}
		return strdup(v);
	}
	case ENGINE_CRITERION_TYPE_FQDN:
		return strdup(v);
	default: {
		uint8_t bytes[ENGINE_HEXID_MAX_BYTES];
		size_t  n = 0;
		char    text[ENGINE_VALUE_MAX + 1];

		snprintf(text, sizeof(text), "%.*s", (int) (wild ? len - 1 : len), v);
		if ((wild && text[0] == '\0') ||
		    (text[0] != '\0' &&
			engine_hex_parse(text, field, bytes, sizeof(bytes), &n, NULL) != FREP_OK) ||
		    (type == ENGINE_CRITERION_TYPE_MAC_ADDRESS && (wild ? n > 6 : n != 6))) {
			frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s%s '%s' is not %s (hex bytes such as "
			    "00-11-22-33-44-55, a trailing '*' for a prefix)",
			    ctx, field, v,
			    type == ENGINE_CRITERION_TYPE_MAC_ADDRESS ? "a MAC address"
								      : "hex bytes");
			return NULL;
		}
		engine_hex_format(bytes, n, buf, sizeof(buf));
		if (wild) {
			strcat(buf, "*");
		}
		return strdup(buf);
	}
	}
}

frep_code
engine__policy_validate(engine *e, const engine_scope *sc, const engine_policy *p, int64_t self_id,
    bool check_store_ranges, engine_policy *norm, frep_status *st)
{
	char      ctx[160];
	frep_code rc;

	memset(norm, 0, sizeof(*norm));
	if ((rc = engine__check_text("policy: ", "name", p->name, ENGINE_POLICY_NAME_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	if (sc != NULL) {
		snprintf(
		    ctx, sizeof(ctx), "scope %s: policy '%s': ", ENGINE__IP(sc->scope_id), p->name);
	} else {
		snprintf(ctx, sizeof(ctx), "server policy '%s': ", p->name);
	}
	if ((rc = engine__check_text(
		 ctx, "description", p->description, ENGINE_DESCRIPTION_MAX, 0, st)) != FREP_OK) {
		return rc;
	}
	if (p->condition > ENGINE_POLICY_CONDITION_AND) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%scondition %d is not a condition (1 OR, 2 AND)", ctx, (int) p->condition);
	}
	if (p->n_criteria > ENGINE_CRITERIA_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%scriteria has %zu entries (at most %d)", ctx, p->n_criteria,
		    ENGINE_CRITERIA_MAX);
	}
	if (p->n_ip_ranges > ENGINE_POLICY_RANGES_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sip_ranges has %zu entries (at most %d)", ctx, p->n_ip_ranges,
		    ENGINE_POLICY_RANGES_MAX);
	}
	if (sc == NULL && p->n_ip_ranges > 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%sip_ranges are for scope-level policies only", ctx);
	}
	for (size_t i = 0; i < p->n_criteria; i++) {
		const engine_criterion *c = &p->criteria[i];
		if (c->type < ENGINE_CRITERION_TYPE_VENDOR_CLASS ||
		    c->type > ENGINE_CRITERION_TYPE_FQDN) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%scriteria[%zu].type %d is not a criterion type", ctx, i,
			    (int) c->type);
		}
		if (c->comparator != ENGINE_COMPARATOR_EQ &&
		    c->comparator != ENGINE_COMPARATOR_NE) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%scriteria[%zu].comparator %d must be EQ (1) or NE "
			    "(2)",
			    ctx, i, (int) c->comparator);
		}
		if (c->n_values == 0 || c->n_values > ENGINE_VALUES_MAX) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%scriteria[%zu].values has %zu entries (1..%d)", ctx, i, c->n_values,
			    ENGINE_VALUES_MAX);
		}
	}
	for (size_t i = 0; i < p->n_ip_ranges; i++) {
		const engine_ip_range *r = &p->ip_ranges[i];
		if (r->start_range > r->end_range) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%sip_ranges[%zu]: start_range %s is after end_range "
			    "%s",
			    ctx, i, ENGINE__IP(r->start_range), ENGINE__IP(r->end_range));
		}
		if (r->start_range < sc->start_range || r->end_range > sc->end_range) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%sip range %s-%s lies outside the scope's range "
			    "%s-%s",
			    ctx, ENGINE__IP(r->start_range), ENGINE__IP(r->end_range),
			    ENGINE__IP(sc->start_range), ENGINE__IP(sc->end_range));
		}
	}
	/* The normalised copy. */
	norm->name        = engine__strdup(p->name);
	norm->description = engine__strdup(p->description);
	if (norm->name == NULL || norm->description == NULL) {
		rc = engine__oom(st);
		goto fail;
	}
	norm->scope_id         = sc != NULL ? sc->scope_id : 0;
	norm->enabled_present  = true;
	norm->enabled          = p->enabled_present ? p->enabled : true;
	norm->condition        = p->condition == ENGINE_POLICY_CONDITION_UNSPECIFIED
				     ? ENGINE_POLICY_CONDITION_OR
				     : p->condition;
	norm->processing_order = p->processing_order;
	norm->lease_duration_s = p->lease_duration_s;
	if (p->n_criteria > 0) {
		norm->criteria = calloc(p->n_criteria, sizeof(*norm->criteria));
		if (norm->criteria == NULL) {
			rc = engine__oom(st);
			goto fail;
		}
		for (size_t i = 0; i < p->n_criteria; i++) {
			const engine_criterion *c = &p->criteria[i];
			engine_criterion       *d = &norm->criteria[i];
			norm->n_criteria          = i + 1;
			d->type                   = c->type;
			d->comparator             = c->comparator;
			d->values                 = calloc(c->n_values, sizeof(*d->values));
			if (d->values == NULL) {
				rc = engine__oom(st);
				goto fail;
			}
			for (size_t j = 0; j < c->n_values; j++) {
				frep_status tmp;
				frep_status_clear(&tmp);
				d->values[j] = criterion_value(
				    e, ctx, i, j, c->type, engine__str(c->values[j]), &tmp);
				if (d->values[j] == NULL) {
					rc = tmp.code != FREP_OK
						 ? frep_status_set(st, tmp.code, "%s", tmp.message)
						 : engine__oom(st);
					goto fail;
				}
				d->n_values = j + 1;
			}
		}
	}
	if (p->n_ip_ranges > 0) {
		norm->ip_ranges = malloc(p->n_ip_ranges * sizeof(*norm->ip_ranges));
		if (norm->ip_ranges == NULL) {
			rc = engine__oom(st);
			goto fail;
		}
		memcpy(norm->ip_ranges, p->ip_ranges, p->n_ip_ranges * sizeof(*norm->ip_ranges));
		norm->n_ip_ranges = p->n_ip_ranges;
		qsort(norm->ip_ranges, norm->n_ip_ranges, sizeof(*norm->ip_ranges), range_cmp);
		for (size_t i = 1; i < norm->n_ip_ranges; i++) {
			engine_ip_range *a = &norm->ip_ranges[i - 1];
			engine_ip_range *b = &norm->ip_ranges[i];
			if (b->start_range <= a->end_range) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%sip range %s-%s overlaps ip range %s-%s", ctx,
				    ENGINE__IP(b->start_range), ENGINE__IP(b->end_range),
				    ENGINE__IP(a->start_range), ENGINE__IP(a->end_range));
				goto fail;
			}
		}
		for (size_t i = 0; check_store_ranges && i < norm->n_ip_ranges; i++) {
			sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_RANGE_OVERLAP);
			bool          row;
			engine__bind_u32(s, 1, sc->scope_id);
			sqlite3_bind_int64(s, 2, self_id);
			engine__bind_u32(s, 3, norm->ip_ranges[i].start_range);
			engine__bind_u32(s, 4, norm->ip_ranges[i].end_range);
			if ((rc = engine__step(e, s, &row, "check policy ranges", st)) != FREP_OK) {
				goto fail;
			}
			if (row) {
				char other[ENGINE_POLICY_NAME_MAX + 1];
				snprintf(other, sizeof(other), "%s",
				    (const char *) sqlite3_column_text(s, 0));
				uint32_t a = engine__col_u32(s, 1);
				uint32_t b = engine__col_u32(s, 2);
				sqlite3_reset(s);
				rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
				    "%sip range %s-%s overlaps ip range %s-%s of "
				    "policy '%s'",
				    ctx, ENGINE__IP(norm->ip_ranges[i].start_range),
				    ENGINE__IP(norm->ip_ranges[i].end_range), ENGINE__IP(a),
				    ENGINE__IP(b), other);
				goto fail;
			}
		}
	}
	if ((rc = engine__option_values_check(
		 e, ctx, p->options, p->n_options, &norm->options, st)) != FREP_OK) {
		goto fail;
	}
	norm->n_options = p->n_options;
	return FREP_OK;

fail:
	engine_policy_fini(norm);
	return rc;
}

static frep_code
policy_children_insert(engine *e, int64_t id, const engine_policy *p, frep_status *st)
{
	frep_code rc;

	for (size_t i = 0; i < p->n_criteria; i++) {
		const engine_criterion *c = &p->criteria[i];
		for (size_t j = 0; j < c->n_values; j++) {
			sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_CRIT_INSERT);
			sqlite3_bind_int64(s, 1, id);
			sqlite3_bind_int64(s, 2, (sqlite3_int64) i);
			sqlite3_bind_int64(s, 3, (sqlite3_int64) j);
			sqlite3_bind_int(s, 4, (int) c->type);
			sqlite3_bind_int(s, 5, (int) c->comparator);
			engine__bind_text(s, 6, c->values[j]);
			if ((rc = engine__exec(e, s, "insert criterion", st)) != FREP_OK) {
				return rc;
			}
		}
	}
	for (size_t i = 0; i < p->n_ip_ranges; i++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_RANGE_INSERT);
		sqlite3_bind_int64(s, 1, id);
		engine__bind_u32(s, 2, p->ip_ranges[i].start_range);
		engine__bind_u32(s, 3, p->ip_ranges[i].end_range);
		if ((rc = engine__exec(e, s, "insert policy range", st)) != FREP_OK) {
			return rc;
		}
	}
	return engine__option_values_insert(e, p->scope_id, 0, id, p->options, p->n_options, st);
}

static frep_code
policy_children_delete(engine *e, int64_t id, uint32_t scope_id, frep_status *st)
{
	static const engine__stmt_id ids[] = {
	    ENGINE__STMT_CRIT_DELETE_POLICY, ENGINE__STMT_RANGE_DELETE_POLICY};
	frep_code rc;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *s = engine__stmt(e, ids[i]);
		sqlite3_bind_int64(s, 1, id);
		if ((rc = engine__exec(e, s, "delete policy parts", st)) != FREP_OK) {
			return rc;
		}
	}
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE_OWNER);
	engine__bind_u32(s, 1, scope_id);
	engine__bind_u32(s, 2, 0);
	sqlite3_bind_int64(s, 3, id);
	return engine__exec(e, s, "delete policy options", st);
}

frep_code
engine__policy_insert(engine *e, const engine_policy *p, int64_t *id, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_INSERT);
	frep_code     rc;

	engine__bind_u32(s, 1, p->scope_id);
	engine__bind_text(s, 2, p->name);
	engine__bind_text(s, 3, p->description);
	sqlite3_bind_int(s, 4, p->enabled ? 1 : 0);
	sqlite3_bind_int(s, 5, (int) p->condition);
	engine__bind_u32(s, 6, p->processing_order);
	engine__bind_u32(s, 7, p->lease_duration_s);
	if ((rc = engine__exec(e, s, "insert policy", st)) != FREP_OK) {
		return rc;
	}
	*id = sqlite3_last_insert_rowid(e->db);
	return policy_children_insert(e, *id, p, st);
}

/* Reads criteria, ranges and options of policy id into p. */
static frep_code
policy_children_read(engine *e, int64_t id, engine_policy *p, frep_status *st)
{
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;
	size_t        cap = 0;

	s = engine__stmt(e, ENGINE__STMT_CRIT_LIST);
	sqlite3_bind_int64(s, 1, id);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "read criteria", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			break;
		}
		size_t ci = (size_t) sqlite3_column_int64(s, 0);
		if (ci >= p->n_criteria) {
			if (ci >= cap) {
				size_t            ncap = ci + 4;
				engine_criterion *nv   = realloc(p->criteria, ncap * sizeof(*nv));
				if (nv == NULL) {
					sqlite3_reset(s);
					return engine__oom(st);
				}
				memset(nv + cap, 0, (ncap - cap) * sizeof(*nv));
				p->criteria = nv;
				cap         = ncap;
			}
			p->n_criteria = ci + 1;
		}
		engine_criterion *c = &p->criteria[ci];
		c->type             = (engine_criterion_type) sqlite3_column_int(s, 1);
		c->comparator       = (engine_comparator) sqlite3_column_int(s, 2);
		char **nv           = realloc(c->values, (c->n_values + 1) * sizeof(*nv));
		if (nv == NULL) {
			sqlite3_reset(s);
			return engine__oom(st);
		}
		c->values = nv;
		if ((c->values[c->n_values] = engine__col_dup(s, 3)) == NULL) {
			sqlite3_reset(s);
			return engine__oom(st);
		}
		c->n_values++;
	}
	s   = engine__stmt(e, ENGINE__STMT_RANGE_LIST);
	cap = 0;
	sqlite3_bind_int64(s, 1, id);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "read policy ranges", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			break;
		}
		if (p->n_ip_ranges == cap) {
			size_t           ncap = cap ? cap * 2 : 4;
			engine_ip_range *nv   = realloc(p->ip_ranges, ncap * sizeof(*nv));
			if (nv == NULL) {
				sqlite3_reset(s);
				return engine__oom(st);
			}
			p->ip_ranges = nv;
			cap          = ncap;
		}
		p->ip_ranges[p->n_ip_ranges].start_range = engine__col_u32(s, 0);
		p->ip_ranges[p->n_ip_ranges].end_range   = engine__col_u32(s, 1);
		p->n_ip_ranges++;
	}
	return engine__option_values_read(e, p->scope_id, 0, id, &p->options, &p->n_options, st);
}

static frep_code
policy_from_row(sqlite3_stmt *s, engine_policy *out, int64_t *id, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	*id                   = sqlite3_column_int64(s, 0);
	out->scope_id         = engine__col_u32(s, 1);
	out->name             = engine__col_dup(s, 2);
	out->description      = engine__col_dup(s, 3);
	out->enabled_present  = true;
	out->enabled          = sqlite3_column_int(s, 4) != 0;
	out->condition        = (engine_policy_condition) sqlite3_column_int(s, 5);
	out->processing_order = engine__col_u32(s, 6);
	out->lease_duration_s = engine__col_u32(s, 7);
	if (out->name == NULL || out->description == NULL) {
		engine_policy_fini(out);
		return engine__oom(st);
	}
	return FREP_OK;
}

static frep_code
policy_read(engine *e, uint32_t scope_id, const char *name, engine_policy *out, int64_t *id,
    bool *found, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_GET);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, scope_id);
	engine__bind_text(s, 2, name);
	if ((rc = engine__step(e, s, &row, "read policy", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = policy_from_row(s, out, id, st);
	sqlite3_reset(s);
	if (rc == FREP_OK && (rc = policy_children_read(e, *id, out, st)) != FREP_OK) {
		engine_policy_fini(out);
	}
	return rc;
}

static frep_code
policy_require(engine *e, uint32_t scope_id, const char *name, engine_policy *out, int64_t *id,
    frep_status *st)
{
	bool      found;
	frep_code rc = policy_read(e, scope_id, name, out, id, &found, st);
	if (rc == FREP_OK && !found) {
		if (scope_id != 0) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "policy '%s' of scope %s does not exist", engine__str(name),
			    ENGINE__IP(scope_id));
		}
		return frep_status_set(
		    st, FREP_NOT_FOUND, "server policy '%s' does not exist", engine__str(name));
	}
	return rc;
}

frep_code
engine__policies_read(
    engine *e, uint32_t scope_id, bool by_name, engine_policy **out, size_t *n, frep_status *st)
{
	engine_policy *vec   = NULL;
	int64_t       *ids   = NULL;
	size_t         count = 0, cap = 0;
	sqlite3_stmt  *s;
	bool           row;
	frep_code      rc;

	s = engine__stmt(
	    e, by_name ? ENGINE__STMT_POLICY_LIST_NAME : ENGINE__STMT_POLICY_LIST_ORDER);
	engine__bind_u32(s, 1, scope_id);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list policies", st)) != FREP_OK) {
			goto fail;
		}
		if (!row) {
			break;
		}
		if (count == cap) {
			size_t         ncap = cap ? cap * 2 : 4;
			engine_policy *nv   = realloc(vec, ncap * sizeof(*nv));
			int64_t       *ni;
			if (nv == NULL) {
				sqlite3_reset(s);
				rc = engine__oom(st);
				goto fail;
			}
			vec = nv;
			if ((ni = realloc(ids, ncap * sizeof(*ni))) == NULL) {
				sqlite3_reset(s);
				rc = engine__oom(st);
				goto fail;
			}
			ids = ni;
			cap = ncap;
		}
		if ((rc = policy_from_row(s, &vec[count], &ids[count], st)) != FREP_OK) {
			sqlite3_reset(s);
			goto fail;
		}
		count++;
	}
	for (size_t i = 0; i < count; i++) {
		if ((rc = policy_children_read(e, ids[i], &vec[i], st)) != FREP_OK) {
			goto fail;
		}
	}
	free(ids);
	*out = vec;
	*n   = count;
	return FREP_OK;

fail:
	free(ids);
	engine_policies_free(vec, count);
	return rc;
}

/* The scope of a scope-level policy (NOT_FOUND if unknown). */
static frep_code
policy_scope(engine *e, uint32_t scope_id, engine_scope *sc, bool *have, frep_status *st)
{
	bool      found;
	frep_code rc;

	*have = false;
	if (scope_id == 0) {
		return FREP_OK;
	}
	if ((rc = engine__scope_read(e, scope_id, sc, &found, st)) != FREP_OK) {
		return rc;
	}
	if (!found) {
		return frep_status_set(
		    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(scope_id));
	}
	*have = true;
	return FREP_OK;
}

static frep_code
order_free(engine *e, const engine_policy *p, int64_t self_id, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_ORDER_USED);
	bool          row;
	frep_code     rc;

	engine__bind_u32(s, 1, p->scope_id);
	engine__bind_u32(s, 2, p->processing_order);
	sqlite3_bind_int64(s, 3, self_id);
	if ((rc = engine__step(e, s, &row, "read policies", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		rc = frep_status_set(st, FREP_ALREADY_EXISTS,
		    "policy '%s': processing_order %u is already used by policy "
		    "'%s'",
		    p->name, p->processing_order, (const char *) sqlite3_column_text(s, 0));
		sqlite3_reset(s);
	}
	return rc;
}

frep_code
engine_policy_add(engine *e, const engine_policy *policy, engine_policy *out, frep_status *st)
{
	engine_scope  sc;
	engine_policy norm, existing;
	bool          have_sc = false, have_norm = false, found;
	int64_t       id;
	frep_code     rc;

	if (policy == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "policy is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = policy_scope(e, policy->scope_id, &sc, &have_sc, st)) != FREP_OK) {
		goto done;
	}
	if ((rc = engine__policy_validate(e, have_sc ? &sc : NULL, policy, -1, true, &norm, st)) !=
	    FREP_OK) {
		goto done;
	}
	have_norm = true;
	if ((rc = policy_read(e, norm.scope_id, norm.name, &existing, &id, &found, st)) !=
	    FREP_OK) {
		goto done;
	}
	if (found) {
		engine_policy_fini(&existing);
		rc = frep_status_set(st, FREP_ALREADY_EXISTS, "policy '%s' already exists in %s%s",
		    norm.name, norm.scope_id ? "scope " : "the server level",
		    norm.scope_id ? ENGINE__IP(norm.scope_id) : "");
		goto done;
	}
	if (norm.processing_order == 0) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_MAX_ORDER);
		bool          row;
		engine__bind_u32(s, 1, norm.scope_id);
		if ((rc = engine__step(e, s, &row, "read policies", st)) != FREP_OK) {
			goto done;
		}
		norm.processing_order = row ? engine__col_u32(s, 0) + 1 : 1;
		sqlite3_reset(s);
	} else if ((rc = order_free(e, &norm, -1, st)) != FREP_OK) {
		goto done;
	}
	if ((rc = engine__policy_insert(e, &norm, &id, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = policy_require(e, norm.scope_id, norm.name, out, &id, st);
	}
done:
	if (have_norm) {
		engine_policy_fini(&norm);
	}
	if (have_sc) {
		engine_scope_fini(&sc);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_policy_fini(out);
	}
	return rc;
}

/* Validates the merged view m of policy id and replaces the stored one. */
static frep_code
policy_replace(engine *e, int64_t id, const engine_policy *m, bool order_changed,
    engine_policy *out, frep_status *st)
{
	engine_scope  sc;
	engine_policy norm;
	bool          have_sc = false;
	frep_code     rc;
	sqlite3_stmt *s;

	if ((rc = policy_scope(e, m->scope_id, &sc, &have_sc, st)) != FREP_OK) {
		return rc;
	}
	rc = engine__policy_validate(e, have_sc ? &sc : NULL, m, id, true, &norm, st);
	if (have_sc) {
		engine_scope_fini(&sc);
	}
	if (rc != FREP_OK) {
		return rc;
	}
	if (norm.processing_order == 0) {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "policy '%s': processing_order 0 is not an order (1 is "
		    "first)",
		    norm.name);
		goto done;
	}
	if (order_changed && (rc = order_free(e, &norm, id, st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_POLICY_UPDATE);
	sqlite3_bind_int64(s, 1, id);
	engine__bind_text(s, 2, norm.description);
	sqlite3_bind_int(s, 3, norm.enabled ? 1 : 0);
	sqlite3_bind_int(s, 4, (int) norm.condition);
	engine__bind_u32(s, 5, norm.processing_order);
	engine__bind_u32(s, 6, norm.lease_duration_s);
	if ((rc = engine__exec(e, s, "update policy", st)) != FREP_OK ||
	    (rc = policy_children_delete(e, id, norm.scope_id, st)) != FREP_OK ||
	    (rc = policy_children_insert(e, id, &norm, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		int64_t id2;
		rc = policy_require(e, norm.scope_id, norm.name, out, &id2, st);
	}
done:
	engine_policy_fini(&norm);
	return rc;
}

frep_code
engine_policy_set(engine *e, const engine_policy *policy, const char *const *mask, size_t n_mask,
    engine_policy *out, frep_status *st)
{
	engine_policy cur, m;
	bool          have_cur = false;
	int64_t       id;
	frep_code     rc;

	if (policy == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "policy is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("Policy", mask, n_mask, policy_fields, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = policy_require(e, policy->scope_id, policy->name, &cur, &id, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	m        = cur;
	if (engine__mask_has(mask, n_mask, "description")) {
		m.description = policy->description;
	}
	if (engine__mask_has(mask, n_mask, "enabled")) {
		m.enabled = policy->enabled_present ? policy->enabled : true;
	}
	if (engine__mask_has(mask, n_mask, "condition")) {
		m.condition = policy->condition;
	}
	if (engine__mask_has(mask, n_mask, "processing_order")) {
		m.processing_order = policy->processing_order;
	}
	if (engine__mask_has(mask, n_mask, "criteria")) {
		m.criteria   = policy->criteria;
		m.n_criteria = policy->n_criteria;
	}
	if (engine__mask_has(mask, n_mask, "ip_ranges")) {
		m.ip_ranges   = policy->ip_ranges;
		m.n_ip_ranges = policy->n_ip_ranges;
	}
	if (engine__mask_has(mask, n_mask, "lease_duration_s")) {
		m.lease_duration_s = policy->lease_duration_s;
	}
	if (engine__mask_has(mask, n_mask, "options")) {
		m.options   = policy->options;
		m.n_options = policy->n_options;
	}
	rc = policy_replace(e, id, &m, m.processing_order != cur.processing_order, out, st);
done:
	if (have_cur) {
		engine_policy_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_policy_fini(out);
	}
	return rc;
}

frep_code
engine_policy_get(
    engine *e, uint32_t scope_id, const char *name, engine_policy *out, frep_status *st)
{
	int64_t   id;
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = policy_require(e, scope_id, name, out, &id, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_policy_fini(out);
	}
	return rc;
}

frep_code
engine_policy_list(engine *e, uint32_t scope_id, engine_policy **out, size_t *n, frep_status *st)
{
	engine_scope sc;
	bool         have_sc;
	frep_code    rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = policy_scope(e, scope_id, &sc, &have_sc, st)) == FREP_OK) {
		if (have_sc) {
			engine_scope_fini(&sc);
		}
		rc = engine__policies_read(e, scope_id, false, out, n, st);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_policies_free(*out, *n);
		*out = NULL;
		*n   = 0;
	}
	return rc;
}

frep_code
engine__policy_delete(engine *e, uint32_t scope_id, const char *name, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_POLICY_GET);
	bool          row;
	int64_t       id;
	frep_code     rc;

	engine__bind_u32(s, 1, scope_id);
	engine__bind_text(s, 2, name);
	if ((rc = engine__step(e, s, &row, "read policy", st)) != FREP_OK || !row) {
		return rc;
	}
	id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if ((rc = policy_children_delete(e, id, scope_id, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_POLICY_DELETE);
	sqlite3_bind_int64(s, 1, id);
	return engine__exec(e, s, "delete policy", st);
}

frep_code
engine_policy_remove(engine *e, uint32_t scope_id, const char *name, frep_status *st)
{
	engine_policy cur;
	int64_t       id;
	sqlite3_stmt *s;
	frep_code     rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = policy_require(e, scope_id, name, &cur, &id, st)) != FREP_OK) {
		goto done;
	}
	engine_policy_fini(&cur);
	if ((rc = policy_children_delete(e, id, scope_id, st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_POLICY_DELETE);
	sqlite3_bind_int64(s, 1, id);
	rc = engine__exec(e, s, "delete policy", st);
done:
	return engine__write_end(e, rc, st);
}

static frep_code
policy_range_change(engine *e, uint32_t scope_id, const char *name, const engine_ip_range *range,
    bool add, engine_policy *out, frep_status *st)
{
	engine_policy    cur, m;
	engine_ip_range *ranges   = NULL;
	bool             have_cur = false;
	int64_t          id;
	frep_code        rc;
	size_t           n = 0;

	if (range == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "range is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = policy_require(e, scope_id, name, &cur, &id, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	if ((ranges = malloc((cur.n_ip_ranges + 1) * sizeof(*ranges))) == NULL) {
		rc = engine__oom(st);
		goto done;
	}
	for (size_t i = 0; i < cur.n_ip_ranges; i++) {
		bool same = cur.ip_ranges[i].start_range == range->start_range &&
			    cur.ip_ranges[i].end_range == range->end_range;
		if (same && add) {
			rc = frep_status_set(st, FREP_ALREADY_EXISTS,
			    "policy '%s': ip range %s-%s already exists", cur.name,
			    ENGINE__IP(range->start_range), ENGINE__IP(range->end_range));
			goto done;
		}
		if (!same) {
			ranges[n++] = cur.ip_ranges[i];
		}
	}
	if (add) {
		ranges[n++] = *range;
	} else if (n == cur.n_ip_ranges) {
		rc = frep_status_set(st, FREP_NOT_FOUND,
		    "policy '%s': ip range %s-%s does not exist", cur.name,
		    ENGINE__IP(range->start_range), ENGINE__IP(range->end_range));
		goto done;
	}
	m             = cur;
	m.ip_ranges   = ranges;
	m.n_ip_ranges = n;
	rc            = policy_replace(e, id, &m, false, out, st);
done:
	free(ranges);
	if (have_cur) {
		engine_policy_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_policy_fini(out);
	}
	return rc;
}

frep_code
engine_policy_range_add(engine *e, uint32_t scope_id, const char *name,
    const engine_ip_range *range, engine_policy *out, frep_status *st)
{
	return policy_range_change(e, scope_id, name, range, true, out, st);
}

frep_code
engine_policy_range_remove(engine *e, uint32_t scope_id, const char *name,
    const engine_ip_range *range, engine_policy *out, frep_status *st)
{
	return policy_range_change(e, scope_id, name, range, false, out, st);
}
