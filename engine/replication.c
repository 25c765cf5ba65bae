/* Replication as data: snapshot, canonical encoding and digest, diff,
 * apply. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"
#include "sha256.h"

/* --- canonical encoding (docs/ENGINE.md) --------------------------------- */

/* Where encoded bytes go: a running hash, a buffer, or both. Bytes for
 * the hash are staged and handed over in pieces of up to ENC_STAGE: a
 * reservation is eight small fields, and an update per field cost more
 * than the hashing (SHA-256 is the same over any split of its input). */
#define ENC_STAGE 2048

typedef struct enc {
	engine_sha256 *hash;
	uint8_t       *buf;
	size_t         len;
	size_t         cap;
	bool           to_buf;
	bool           oom;
	size_t         staged;
	uint8_t        stage[ENC_STAGE];
} enc;

/* Hands the staged bytes to the hash. */
static void
enc_flush(enc *x)
{
	if (x->hash != NULL && x->staged > 0) {
		engine_sha256_update(x->hash, x->stage, x->staged);
	}
	x->staged = 0;
}

static void
enc_bytes(enc *x, const void *p, size_t n)
{
	if (x->hash != NULL) {
		if (x->staged + n > ENC_STAGE) {
			enc_flush(x);
		}
		if (n >= ENC_STAGE) {
			engine_sha256_update(x->hash, p, n);
		} else if (n > 0) {
			memcpy(x->stage + x->staged, p, n);
			x->staged += n;
		}
	}
	if (!x->to_buf || x->oom || n == 0) {
		return;
	}
	if (x->len + n > x->cap) {
		size_t   ncap = x->cap ? x->cap * 2 : 256;
		uint8_t *nb;
		while (ncap < x->len + n) {
			ncap *= 2;
		}
		if ((nb = realloc(x->buf, ncap)) == NULL) {
			x->oom = true;
			return;
		}
		x->buf = nb;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
}

static void
enc_u32(enc *x, uint32_t v)
{
	uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};
	enc_bytes(x, b, 4);
}

static void
enc_str(enc *x, const char *s)
{
	size_t n = strlen(engine__str(s));
	enc_u32(x, (uint32_t) n);
	enc_bytes(x, engine__str(s), n);
}

/* Sorting: arrays of pointers into the config, ordered by identity. */
typedef int (*cmp_fn)(const void *, const void *);

/* Into small when n fits it (a reservation's or policy's few options and
 * ranges, encoded for every digest and diff: no malloc per object), else
 * into a malloc'd array. Free with ptrs_free(v, small). */
#define SMALL_PTRS 8

static const void **
sorted_ptrs_in(const void *base, size_t n, size_t size, cmp_fn qcmp, const void **small)
{
	const void **v =
	    small != NULL && n <= SMALL_PTRS ? small : malloc((n ? n : 1) * sizeof(*v));
	if (v == NULL) {
		return NULL;
	}
	bool sorted = true;
	for (size_t i = 0; i < n; i++) {
		v[i] = (const char *) base + i * size;
		if (sorted && i > 0 && qcmp(&v[i - 1], &v[i]) > 0) {
			sorted = false;
		}
	}
	/* What a snapshot reads, and so what a partner receives, is already
	 * in key order: one pass instead of qsort's n log n comparisons (a
	 * partner's apply sorts the same list three times). */
	if (!sorted) {
		qsort(v, n, sizeof(*v), qcmp);
	}
	return v;
}

static const void **
sorted_ptrs(const void *base, size_t n, size_t size, cmp_fn qcmp)
{
	return sorted_ptrs_in(base, n, size, qcmp, NULL);
}

static void
ptrs_free(const void **v, const void **small)
{
	if (v != small) {
		free(v);
	}
}

static int
u32_cmp(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
cmp_exclusion(const void *a, const void *b)
{
	const engine_exclusion *x = a, *y = b;
	int                     c = u32_cmp(x->start_range, y->start_range);
	return c != 0 ? c : u32_cmp(x->end_range, y->end_range);
}

static int
cmp_reservation(const void *a, const void *b)
{
	return u32_cmp(((const engine_reservation *) a)->ip_address,
	    ((const engine_reservation *) b)->ip_address);
}

static int
cmp_option(const void *a, const void *b)
{
	const engine_option_value *x = a, *y = b;
	int                        c = u32_cmp(x->option_id, y->option_id);
	if (c == 0) {
		c = strcmp(engine__str(x->vendor_class), engine__str(y->vendor_class));
	}
	if (c == 0) {
		c = strcmp(engine__str(x->user_class), engine__str(y->user_class));
	}
	return c;
}

static int
cmp_policy(const void *a, const void *b)
{
	return strcmp(engine__str(((const engine_policy *) a)->name),
	    engine__str(((const engine_policy *) b)->name));
}

static int
cmp_range(const void *a, const void *b)
{
	const engine_ip_range *x = a, *y = b;
	int                    c = u32_cmp(x->start_range, y->start_range);
	return c != 0 ? c : u32_cmp(x->end_range, y->end_range);
}

#define QCMP(name, elem)                                                                           \
	static int q##name(const void *a, const void *b)                                           \
	{                                                                                          \
		return elem(*(const void *const *) a, *(const void *const *) b);                   \
	}
QCMP(cmp_exclusion, cmp_exclusion)
QCMP(cmp_reservation, cmp_reservation)
QCMP(cmp_option, cmp_option)
QCMP(cmp_policy, cmp_policy)
QCMP(cmp_range, cmp_range)
#undef QCMP

static void
enc_option(enc *x, const void *p)
{
	const engine_option_value *o = p;
	enc_u32(x, o->option_id);
	enc_str(x, o->vendor_class);
	enc_str(x, o->user_class);
	enc_u32(x, (uint32_t) o->n_values);
	for (size_t i = 0; i < o->n_values; i++) {
		enc_str(x, o->values[i]);
	}
}

static void
enc_options(enc *x, const engine_option_value *opts, size_t n)
{
	const void  *small[SMALL_PTRS];
	const void **v = sorted_ptrs_in(opts, n, sizeof(*opts), qcmp_option, small);
	if (v == NULL) {
		x->oom = true;
		return;
	}
	enc_u32(x, (uint32_t) n);
	for (size_t i = 0; i < n; i++) {
		enc_option(x, v[i]);
	}
	ptrs_free(v, small);
}

static void
enc_scope(enc *x, const void *p)
{
	const engine_scope *s = p;
	enc_u32(x, s->scope_id);
	enc_u32(x, s->subnet_mask);
	enc_str(x, s->name);
	enc_str(x, s->description);
	enc_u32(x, s->start_range);
	enc_u32(x, s->end_range);
	enc_u32(x, s->lease_duration_s);
	enc_u32(x, (uint32_t) s->state);
	enc_u32(x, (uint32_t) s->type);
	enc_str(x, s->superscope_name);
	enc_u32(x, s->max_bootp_clients);
	enc_u32(x, s->delay_ms);
	enc_u32(x, (s->activate_policies_present ? s->activate_policies : true) ? 1 : 0);
}

static void
enc_exclusion(enc *x, const void *p)
{
	const engine_exclusion *e = p;
	enc_u32(x, e->start_range);
	enc_u32(x, e->end_range);
}

static void
enc_reservation(enc *x, const void *p)
{
	const engine_reservation *r = p;
	enc_u32(x, r->ip_address);
	enc_str(x, r->client_id);
	enc_str(x, r->name);
	enc_str(x, r->description);
	enc_u32(x, (uint32_t) r->type);
	enc_options(x, r->options, r->n_options);
}

static void
enc_policy(enc *x, const void *p)
{
	const engine_policy *pol = p;
	const void          *small[SMALL_PTRS];
	const void         **ranges;

	enc_str(x, pol->name);
	enc_str(x, pol->description);
	enc_u32(x, (pol->enabled_present ? pol->enabled : true) ? 1 : 0);
	enc_u32(x, (uint32_t) pol->condition);
	enc_u32(x, pol->processing_order);
	enc_u32(x, (uint32_t) pol->n_criteria);
	for (size_t i = 0; i < pol->n_criteria; i++) {
		const engine_criterion *c = &pol->criteria[i];
		enc_u32(x, (uint32_t) c->type);
		enc_u32(x, (uint32_t) c->comparator);
		enc_u32(x, (uint32_t) c->n_values);
		for (size_t j = 0; j < c->n_values; j++) {
			enc_str(x, c->values[j]);
		}
	}
	ranges = sorted_ptrs_in(
	    pol->ip_ranges, pol->n_ip_ranges, sizeof(*pol->ip_ranges), qcmp_range, small);
	if (ranges == NULL) {
		x->oom = true;
		return;
	}
	enc_u32(x, (uint32_t) pol->n_ip_ranges);
	for (size_t i = 0; i < pol->n_ip_ranges; i++) {
		const engine_ip_range *r = ranges[i];
		enc_u32(x, r->start_range);
		enc_u32(x, r->end_range);
	}
	ptrs_free(ranges, small);
	enc_u32(x, pol->lease_duration_s);
	enc_options(x, pol->options, pol->n_options);
}

typedef void (*enc_fn)(enc *, const void *);

static bool
enc_list(enc *x, const void *base, size_t n, size_t size, cmp_fn qcmp, enc_fn fn)
{
	const void **v = sorted_ptrs(base, n, size, qcmp);
	if (v == NULL) {
		x->oom = true;
		return false;
	}
	enc_u32(x, (uint32_t) n);
	for (size_t i = 0; i < n; i++) {
		fn(x, v[i]);
	}
	free(v);
	return !x->oom;
}

#define ENGINE__ENCODING_TAG "frep.v1.ScopeConfig/1"

frep_code
engine_scope_config_digest(const engine_scope_config *c, char out[65], frep_status *st)
{
	engine_sha256 h;
	enc           x = {.hash = &h};

	out[0] = '\0';
	if (c == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "config is NULL");
	}
	engine_sha256_init(&h);
	enc_str(&x, ENGINE__ENCODING_TAG);
	enc_scope(&x, &c->scope);
	enc_list(&x, c->exclusions, c->n_exclusions, sizeof(*c->exclusions), qcmp_exclusion,
	    enc_exclusion);
	enc_list(&x, c->reservations, c->n_reservations, sizeof(*c->reservations), qcmp_reservation,
	    enc_reservation);
	enc_list(&x, c->options, c->n_options, sizeof(*c->options), qcmp_option, enc_option);
	enc_list(&x, c->policies, c->n_policies, sizeof(*c->policies), qcmp_policy, enc_policy);
	enc_flush(&x);
	if (x.oom) {
		engine_sha256_discard(&h);
		return engine__oom(st);
	}
	if (!engine_sha256_final_hex(&h, out)) {
		return frep_status_set(
		    st, FREP_INTERNAL, "libcrypto failed to compute a SHA-256 digest");
	}
	frep_status_clear(st);
	return FREP_OK;
}

/* --- dependencies -------------------------------------------------------- */

/* Borrowed references to the definitions and classes a config uses. */
typedef struct deps {
	engine_option_def_ref *defs;
	size_t                 n_defs, cap_defs;
	engine_class_ref      *classes;
	size_t                 n_classes, cap_classes;
	/* After deps_check: the definitions' types, parallel to defs. */
	engine_option_type *types;
	bool               *multi;
} deps;

static bool
deps_add_def(deps *d, uint32_t id, char *vendor)
{
	if (d->n_defs == d->cap_defs) {
		size_t                 ncap = d->cap_defs ? d->cap_defs * 2 : 16;
		engine_option_def_ref *nv   = realloc(d->defs, ncap * sizeof(*nv));
		if (nv == NULL) {
			return false;
		}
		d->defs     = nv;
		d->cap_defs = ncap;
	}
	d->defs[d->n_defs].option_id    = id;
	d->defs[d->n_defs].vendor_class = vendor;
	d->n_defs++;
	return true;
}

static bool
deps_add_class(deps *d, engine_class_type type, char *name)
{
	if (*engine__str(name) == '\0') {
		return true;
	}
	if (d->n_classes == d->cap_classes) {
		size_t            ncap = d->cap_classes ? d->cap_classes * 2 : 8;
		engine_class_ref *nv   = realloc(d->classes, ncap * sizeof(*nv));
		if (nv == NULL) {
			return false;
		}
		d->classes     = nv;
		d->cap_classes = ncap;
	}
	d->classes[d->n_classes].type = type;
	d->classes[d->n_classes].name = name;
	d->n_classes++;
	return true;
}

static bool
deps_add_options(deps *d, const engine_option_value *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!deps_add_def(d, o[i].option_id, o[i].vendor_class) ||
		    !deps_add_class(d, ENGINE_CLASS_TYPE_VENDOR, o[i].vendor_class) ||
		    !deps_add_class(d, ENGINE_CLASS_TYPE_USER, o[i].user_class)) {
			return false;
		}
	}
	return true;
}

static int
cmp_def_ref(const void *a, const void *b)
{
	const engine_option_def_ref *x = a, *y = b;
	int                          c = u32_cmp(x->option_id, y->option_id);
	return c != 0 ? c : strcmp(engine__str(x->vendor_class), engine__str(y->vendor_class));
}

static int
cmp_class_ref(const void *a, const void *b)
{
	const engine_class_ref *x = a, *y = b;
	if (x->type != y->type) {
		return x->type < y->type ? -1 : 1;
	}
	return strcmp(engine__str(x->name), engine__str(y->name));
}

static void
deps_fini(deps *d)
{
	free(d->defs);
	free(d->classes);
	free(d->types);
	free(d->multi);
	memset(d, 0, sizeof(*d));
}

/* Collects, sorts and de-duplicates what c uses. */
static frep_code
deps_collect(const engine_scope_config *c, deps *d, frep_status *st)
{
	bool ok = deps_add_options(d, c->options, c->n_options);

	for (size_t i = 0; ok && i < c->n_reservations; i++) {
		ok = deps_add_options(d, c->reservations[i].options, c->reservations[i].n_options);
	}
	for (size_t i = 0; ok && i < c->n_policies; i++) {
		const engine_policy *p = &c->policies[i];
		ok                     = deps_add_options(d, p->options, p->n_options);
		for (size_t j = 0; ok && j < p->n_criteria; j++) {
			const engine_criterion *cr = &p->criteria[j];
			engine_class_type       t;
			if (cr->type == ENGINE_CRITERION_TYPE_VENDOR_CLASS) {
				t = ENGINE_CLASS_TYPE_VENDOR;
			} else if (cr->type == ENGINE_CRITERION_TYPE_USER_CLASS) {
				t = ENGINE_CLASS_TYPE_USER;
			} else {
				continue;
			}
			for (size_t k = 0; ok && k < cr->n_values; k++) {
				const char *v = engine__str(cr->values[k]);
				size_t      n = strlen(v);
				if (n > 0 && v[n - 1] != '*') {
					ok = deps_add_class(d, t, cr->values[k]);
				}
			}
		}
	}
	if (!ok) {
		return engine__oom(st);
	}
	if (d->n_defs > 0) {
		size_t w = 1;
		qsort(d->defs, d->n_defs, sizeof(*d->defs), cmp_def_ref);
		for (size_t i = 1; i < d->n_defs; i++) {
			if (cmp_def_ref(&d->defs[w - 1], &d->defs[i]) != 0) {
				d->defs[w++] = d->defs[i];
			}
		}
		d->n_defs = w;
	}
	if (d->n_classes > 0) {
		size_t w = 1;
		qsort(d->classes, d->n_classes, sizeof(*d->classes), cmp_class_ref);
		for (size_t i = 1; i < d->n_classes; i++) {
			if (cmp_class_ref(&d->classes[w - 1], &d->classes[i]) != 0) {
				d->classes[w++] = d->classes[i];
			}
		}
		d->n_classes = w;
	}
	return FREP_OK;
}

/* Appends one missing dependency's name to a message being built. */
static void missing_note(char *buf, size_t cap, size_t *len, size_t *count, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
missing_note(char *buf, size_t cap, size_t *len, size_t *count, const char *fmt, ...)
{
	va_list ap;
	int     n;
	if (*len + 8 >= cap) {
		return;
	}
	if (*count > 0) {
		n = snprintf(buf + *len, cap - *len, ", ");
		*len += n > 0 ? (size_t) n : 0;
	}
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		*len = *len + (size_t) n < cap ? *len + (size_t) n : cap - 1;
	}
	(*count)++;
}

/* FAILED_PRECONDITION naming every missing dependency in one message
 * ("… do not exist there" when remote: the message is read on the
 * source; "on this server" otherwise); fills the definitions' types. */
static frep_code
deps_check(engine *e, deps *d, bool remote, frep_status *st)
{
	frep_code rc;
	bool      row;
	char      msg[FREP_STATUS_MESSAGE_MAX];
	size_t    len = 0, missing = 0;

	msg[0]   = '\0';
	d->types = malloc((d->n_defs ? d->n_defs : 1) * sizeof(*d->types));
	d->multi = malloc((d->n_defs ? d->n_defs : 1) * sizeof(*d->multi));
	if (d->types == NULL || d->multi == NULL) {
		return engine__oom(st);
	}
	for (size_t i = 0; i < d->n_defs; i++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_OPTDEF_GET);
		engine__bind_u32(s, 1, d->defs[i].option_id);
		engine__bind_text(s, 2, d->defs[i].vendor_class);
		if ((rc = engine__step(e, s, &row, "read option definition", st)) != FREP_OK) {
			return rc;
		}
		if (!row) {
			missing_note(msg, sizeof(msg) - 64, &len, &missing,
			    "option definition %u (vendor class '%s')", d->defs[i].option_id,
			    engine__str(d->defs[i].vendor_class));
			continue;
		}
		d->types[i] = (engine_option_type) sqlite3_column_int(s, 4);
		d->multi[i] = sqlite3_column_int(s, 5) != 0;
		sqlite3_reset(s);
	}
	for (size_t i = 0; i < d->n_classes; i++) {
		sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
		sqlite3_bind_int(s, 1, (int) d->classes[i].type);
		engine__bind_text(s, 2, d->classes[i].name);
		if ((rc = engine__step(e, s, &row, "read class", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			missing_note(msg, sizeof(msg) - 64, &len, &missing, "%s class '%s'",
			    d->classes[i].type == ENGINE_CLASS_TYPE_VENDOR ? "vendor" : "user",
			    engine__str(d->classes[i].name));
		}
	}
	if (missing > 0) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION, "%s used by the scope %s %s",
		    msg, missing == 1 ? "does not exist" : "do not exist",
		    remote ? "there" : "on this server");
	}
	return FREP_OK;
}

/* Copies deps into a config's owned reference lists. */
static frep_code
deps_to_config(const deps *d, engine_scope_config *c, frep_status *st)
{
	if (d->n_defs > 0) {
		c->option_definitions_used = calloc(d->n_defs, sizeof(*c->option_definitions_used));
		if (c->option_definitions_used == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 0; i < d->n_defs; i++) {
			c->option_definitions_used[i].option_id = d->defs[i].option_id;
			c->option_definitions_used[i].vendor_class =
			    engine__strdup(d->defs[i].vendor_class);
			c->n_option_definitions_used = i + 1;
			if (c->option_definitions_used[i].vendor_class == NULL) {
				return engine__oom(st);
			}
		}
	}
	if (d->n_classes > 0) {
		c->classes_used = calloc(d->n_classes, sizeof(*c->classes_used));
		if (c->classes_used == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 0; i < d->n_classes; i++) {
			c->classes_used[i].type = d->classes[i].type;
			c->classes_used[i].name = engine__strdup(d->classes[i].name);
			c->n_classes_used       = i + 1;
			if (c->classes_used[i].name == NULL) {
				return engine__oom(st);
			}
		}
	}
	return FREP_OK;
}

/* --- snapshot ------------------------------------------------------------ */

/* engine__snapshot_locked; with_digest false leaves out->digest "" (the
 * caller knows it already: an apply's copy whose digest is stored). */
static frep_code
snapshot_read(engine *e, uint32_t scope_id, bool with_digest, engine_scope_config **out,
    bool *found, frep_status *st)
{
	engine_scope_config *c;
	deps                 d = {0};
	frep_code            rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return engine__oom(st);
	}
	if ((rc = engine__scope_read(e, scope_id, &c->scope, found, st)) != FREP_OK || !*found) {
		free(c);
		return rc;
	}
	if ((rc = engine__exclusions_read(e, scope_id, &c->exclusions, &c->n_exclusions, st)) !=
		FREP_OK ||
	    (rc = engine__reservations_read(
		 e, scope_id, &c->reservations, &c->n_reservations, st)) != FREP_OK ||
	    (rc = engine__option_values_read(e, scope_id, 0, 0, &c->options, &c->n_options, st)) !=
		FREP_OK ||
	    (rc = engine__policies_read(e, scope_id, true, &c->policies, &c->n_policies, st)) !=
		FREP_OK ||
	    (rc = deps_collect(c, &d, st)) != FREP_OK ||
	    (rc = deps_to_config(&d, c, st)) != FREP_OK ||
	    (with_digest && (rc = engine_scope_config_digest(c, c->digest, st)) != FREP_OK)) {
		goto fail;
	}
	deps_fini(&d);
	*out = c;
	return FREP_OK;

fail:
	deps_fini(&d);
	engine_scope_config_free(c);
	return rc;
}

frep_code
engine__snapshot_locked(
    engine *e, uint32_t scope_id, engine_scope_config **out, bool *found, frep_status *st)
{
	return snapshot_read(e, scope_id, true, out, found, st);
}

frep_code
engine_scope_snapshot(engine *e, uint32_t scope_id, engine_scope_config **out, frep_status *st)
{
	bool      found = false;
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	*out = NULL;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = engine__snapshot_locked(e, scope_id, out, &found, st);
	if (rc == FREP_OK && !found) {
		rc = frep_status_set(
		    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(scope_id));
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_scope_config_free(*out);
		*out = NULL;
	}
	return rc;
}

frep_code
engine_scope_snapshot_outgoing(
    engine *e, uint32_t scope_id, engine_scope_config **out, frep_status *st)
{
	bool      found = false;
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	*out = NULL;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = engine__snapshot_locked(e, scope_id, out, &found, st);
	if (rc == FREP_OK && !found) {
		rc = frep_status_set(
		    st, FREP_NOT_FOUND, "scope %s does not exist", ENGINE__IP(scope_id));
	}
	/* Registered while the read transaction (and the mutex) is held: no
	 * apply can commit between the read and the registration. */
	if (rc == FREP_OK && !engine__outgoing_add(e, scope_id, (*out)->digest)) {
		rc = engine__oom(st);
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_scope_config_free(*out);
		*out = NULL;
	}
	return rc;
}

void
engine_scope_outgoing_release(engine *e, engine_scope_config **snaps, size_t n)
{
	for (size_t i = 0; snaps != NULL && i < n; i++) {
		if (snaps[i] != NULL) {
			engine_scope_outgoing_end(e, snaps[i]->scope.scope_id, snaps[i]->digest);
			engine_scope_config_free(snaps[i]);
			snaps[i] = NULL;
		}
	}
}

/* engine_scope_digests, and with snaps engine_scope_digests_outgoing. */
static frep_code
digests_of(engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65], bool *found,
    engine_scope_config **snaps, size_t keep_reservations, frep_status *st)
{
	size_t    missing = 0, kept = 0;
	bool      any_kept = false;
	frep_code rc;

	for (size_t i = 0; snaps != NULL && i < n; i++) {
		snaps[i] = NULL;
	}
	/* Most digests are stored: one read transaction. */
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		out[i][0] = '\0';
		rc        = engine__digest_lookup(e, scope_ids[i], out[i], &found[i], st);
		missing += found[i] ? 0 : 1;
	}
	if ((rc = engine__read_end(e, rc, st)) != FREP_OK || missing == 0) {
		return rc;
	}
	/* The rest are computed and stored in one write transaction, so that
	 * no change can slip in between reading a scope and storing its
	 * digest. */
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == FREP_OK; i++) {
		bool                 hit;
		engine_scope_config *c = NULL;
		if (found[i]) {
			continue;
		}
		if ((rc = engine__digest_lookup(e, scope_ids[i], out[i], &hit, st)) != FREP_OK) {
			break;
		}
		if (hit) {
			found[i] = true;
			continue;
		}
		if ((rc = engine__snapshot_locked(e, scope_ids[i], &c, &found[i], st)) == FREP_OK &&
		    found[i]) {
			memcpy(out[i], c->digest, 65);
			rc = engine__digest_store(e, scope_ids[i], c->digest, st);
		}
		/* Kept for the send, registered within the transaction that read
		 * it, as engine_scope_snapshot_outgoing does. */
		if (rc == FREP_OK && c != NULL && snaps != NULL &&
		    (!any_kept || kept + c->n_reservations <= keep_reservations)) {
			if (!engine__outgoing_add(e, scope_ids[i], c->digest)) {
				rc = engine__oom(st);
			} else {
				snaps[i] = c;
				kept += c->n_reservations;
				any_kept = true;
				c        = NULL;
			}
		}
		engine_scope_config_free(c);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_scope_outgoing_release(e, snaps, n);
	}
	return rc;
}

frep_code
engine_scope_digests(
    engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65], bool *found, frep_status *st)
{
	return digests_of(e, scope_ids, n, out, found, NULL, 0, st);
}

frep_code
engine_scope_digests_outgoing(engine *e, const uint32_t *scope_ids, size_t n, char (*out)[65],
    bool *found, engine_scope_config **snaps, size_t keep_reservations, frep_status *st)
{
	if (snaps == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "snaps is NULL");
	}
	return digests_of(e, scope_ids, n, out, found, snaps, keep_reservations, st);
}

frep_code
engine_scope_digest(engine *e, uint32_t scope_id, char out[65], bool *found, frep_status *st)
{
	char(*one)[65] = (char(*)[65]) out;
	return engine_scope_digests(e, &scope_id, 1, one, found, st);
}

/* --- diff ---------------------------------------------------------------- */

struct kind;

/* One object that differs, pointing into the local and incoming configs
 * (apply writes only these). */
typedef struct change {
	const struct kind *kind;
	engine_diff_action action;
	const void        *local; /* NULL when added */
	const void        *in;    /* NULL when removed */
} change;

typedef struct differ {
	engine_object_diff *items;
	size_t              n, cap;
	bool                want_items;
	enc                 a, b; /* reused buffers for equality */
	bool                collect;
	change             *chg;
	size_t              n_chg, cap_chg;
} differ;

static frep_code
diff_collect(differ *df, const struct kind *k, engine_diff_action action, const void *local,
    const void *in, frep_status *st)
{
	if (!df->collect) {
		return FREP_OK;
	}
	if (df->n_chg == df->cap_chg) {
		size_t  ncap = df->cap_chg ? df->cap_chg * 2 : 64;
		change *nv   = realloc(df->chg, ncap * sizeof(*nv));
		if (nv == NULL) {
			return engine__oom(st);
		}
		df->chg     = nv;
		df->cap_chg = ncap;
	}
	df->chg[df->n_chg++] = (change){k, action, local, in};
	return FREP_OK;
}

static frep_code
diff_note(differ *df, const char *kind, const char *key, engine_diff_action action, frep_status *st)
{
	if (!df->want_items) {
		return FREP_OK;
	}
	if (df->n == df->cap) {
		size_t              ncap = df->cap ? df->cap * 2 : 16;
		engine_object_diff *nv   = realloc(df->items, ncap * sizeof(*nv));
		if (nv == NULL) {
			return engine__oom(st);
		}
		df->items = nv;
		df->cap   = ncap;
	}
	if ((df->items[df->n].key = strdup(key)) == NULL) {
		return engine__oom(st);
	}
	df->items[df->n].kind   = kind;
	df->items[df->n].action = action;
	df->n++;
	return FREP_OK;
}

/* True if a and b encode to the same bytes. */
static bool
same(differ *df, enc_fn fn, const void *a, const void *b, bool *oom)
{
	df->a.len = 0;
	df->b.len = 0;
	fn(&df->a, a);
	fn(&df->b, b);
	*oom = df->a.oom || df->b.oom;
	return df->a.len == df->b.len && memcmp(df->a.buf, df->b.buf, df->a.len) == 0;
}

/* same() for two reservations: field by field when neither has options
 * (most of a big scope's: no encoding into the differ's buffers), else by
 * their encodings. Equal exactly when their encodings are (enc_reservation:
 * a NULL string encodes as ""). */
static bool
same_reservation(differ *df, const void *a, const void *b, bool *oom)
{
	const engine_reservation *x = a, *y = b;
	if (x->n_options > 0 || y->n_options > 0) {
		return same(df, enc_reservation, a, b, oom);
	}
	*oom = false;
	return x->ip_address == y->ip_address && x->type == y->type &&
	       strcmp(engine__str(x->client_id), engine__str(y->client_id)) == 0 &&
	       strcmp(engine__str(x->name), engine__str(y->name)) == 0 &&
	       strcmp(engine__str(x->description), engine__str(y->description)) == 0;
}

typedef void (*key_fn)(const void *, char *, size_t);

static void
key_exclusion(const void *p, char *buf, size_t n)
{
	const engine_exclusion *x = p;
	snprintf(buf, n, "%s-%s", ENGINE__IP(x->start_range), ENGINE__IP(x->end_range));
}

static void
key_reservation(const void *p, char *buf, size_t n)
{
	engine_ipv4_format(((const engine_reservation *) p)->ip_address, buf);
	(void) n;
}

static void
key_option(const void *p, char *buf, size_t n)
{
	const engine_option_value *o   = p;
	int                        len = snprintf(buf, n, "%u", o->option_id);
	if (*engine__str(o->vendor_class) != '\0' && len >= 0 && (size_t) len < n) {
		len += snprintf(buf + len, n - (size_t) len, ";vendor=%s", o->vendor_class);
	}
	if (*engine__str(o->user_class) != '\0' && len >= 0 && (size_t) len < n) {
		snprintf(buf + len, n - (size_t) len, ";user=%s", o->user_class);
	}
}

static void
key_policy(const void *p, char *buf, size_t n)
{
	snprintf(buf, n, "%s", engine__str(((const engine_policy *) p)->name));
}

typedef struct kind {
	const char *name;
	size_t      size;
	cmp_fn      cmp;  /* elements */
	cmp_fn      qcmp; /* pointers to elements */
	enc_fn      encode;
	key_fn      key;
	/* Equality of two objects with the same identity; NULL: their
	 * encodings compared (same()). */
	bool (*same)(differ *df, const void *a, const void *b, bool *oom);
} kind;

static const kind kind_exclusion   = {"exclusion", sizeof(engine_exclusion), cmp_exclusion,
      qcmp_exclusion, enc_exclusion, key_exclusion, NULL};
static const kind kind_reservation = {"reservation", sizeof(engine_reservation), cmp_reservation,
    qcmp_reservation, enc_reservation, key_reservation, same_reservation};
static const kind kind_option      = {
	 "option", sizeof(engine_option_value), cmp_option, qcmp_option, enc_option, key_option, NULL};
static const kind kind_policy = {
    "policy", sizeof(engine_policy), cmp_policy, qcmp_policy, enc_policy, key_policy, NULL};

/* Merges two identity-sorted lists: O(n log n) for the sorts, O(n) for
 * the walk. */
static frep_code
diff_kind(differ *df, const kind *k, const void *local, size_t nl, const void *in, size_t ni,
    engine_object_changes *ch, frep_status *st)
{
	const void **l = sorted_ptrs(local, nl, k->size, k->qcmp);
	const void **r = sorted_ptrs(in, ni, k->size, k->qcmp);
	size_t       i = 0, j = 0;
	frep_code    rc = FREP_OK;
	char         key[ENGINE_NAME_MAX * 2 + 64];
	bool         oom = false;

	if (l == NULL || r == NULL) {
		free(l);
		free(r);
		return engine__oom(st);
	}
	while (rc == FREP_OK && (i < nl || j < ni)) {
		int c = i >= nl ? 1 : j >= ni ? -1 : k->cmp(l[i], r[j]);
		if (c < 0) {
			ch->removed++;
			rc = diff_collect(df, k, ENGINE_DIFF_ACTION_REMOVE, l[i], NULL, st);
			if (rc == FREP_OK && df->want_items) {
				k->key(l[i], key, sizeof(key));
				rc = diff_note(df, k->name, key, ENGINE_DIFF_ACTION_REMOVE, st);
			}
			i++;
		} else if (c > 0) {
			ch->added++;
			rc = diff_collect(df, k, ENGINE_DIFF_ACTION_ADD, NULL, r[j], st);
			if (rc == FREP_OK && df->want_items) {
				k->key(r[j], key, sizeof(key));
				rc = diff_note(df, k->name, key, ENGINE_DIFF_ACTION_ADD, st);
			}
			j++;
		} else {
			bool eq = k->same != NULL ? k->same(df, l[i], r[j], &oom)
						  : same(df, k->encode, l[i], r[j], &oom);
			if (!eq) {
				ch->updated++;
				rc = diff_collect(df, k, ENGINE_DIFF_ACTION_UPDATE, l[i], r[j], st);
				if (rc == FREP_OK && df->want_items) {
					k->key(r[j], key, sizeof(key));
					rc = diff_note(
					    df, k->name, key, ENGINE_DIFF_ACTION_UPDATE, st);
				}
			}
			if (oom) {
				rc = engine__oom(st);
			}
			i++;
			j++;
		}
	}
	free(l);
	free(r);
	return rc;
}

/* Compares local (NULL = the scope is not here) with incoming. */
static frep_code
diff_configs(const engine_scope_config *local, const engine_scope_config *in,
    engine_scope_changes *ch, differ *df, frep_status *st)
{
	static const engine_scope_config empty = {0};
	char                             key[ENGINE_IPV4_STRLEN];
	frep_code                        rc;
	bool                             oom = false;

	memset(ch, 0, sizeof(*ch));
	engine_ipv4_format(in->scope.scope_id, key);
	if (local == NULL) {
		ch->scope.added = 1;
		if ((rc = diff_note(df, "scope", key, ENGINE_DIFF_ACTION_ADD, st)) != FREP_OK) {
			return rc;
		}
		local = &empty;
	} else if (!same(df, enc_scope, &local->scope, &in->scope, &oom)) {
		ch->scope.updated = 1;
		if ((rc = diff_note(df, "scope", key, ENGINE_DIFF_ACTION_UPDATE, st)) != FREP_OK) {
			return rc;
		}
	}
	if (oom) {
		return engine__oom(st);
	}
	if ((rc = diff_kind(df, &kind_exclusion, local->exclusions, local->n_exclusions,
		 in->exclusions, in->n_exclusions, &ch->exclusions, st)) != FREP_OK ||
	    (rc = diff_kind(df, &kind_reservation, local->reservations, local->n_reservations,
		 in->reservations, in->n_reservations, &ch->reservations, st)) != FREP_OK ||
	    (rc = diff_kind(df, &kind_option, local->options, local->n_options, in->options,
		 in->n_options, &ch->options, st)) != FREP_OK ||
	    (rc = diff_kind(df, &kind_policy, local->policies, local->n_policies, in->policies,
		 in->n_policies, &ch->policies, st)) != FREP_OK) {
		return rc;
	}
	return FREP_OK;
}

static void
differ_fini(differ *df)
{
	free(df->chg);
	engine_object_diffs_free(df->items, df->n);
	free(df->a.buf);
	free(df->b.buf);
	memset(df, 0, sizeof(*df));
}

frep_code
engine_scope_diff(engine *e, const engine_scope_config *incoming, engine_scope_changes *changes,
    engine_object_diff **diff, size_t *n_diff, frep_status *st)
{
	engine_scope_config *local = NULL;
	engine_scope_changes ch    = {0};
	differ    df = {.want_items = diff != NULL, .a = {.to_buf = true}, .b = {.to_buf = true}};
	bool      found = false;
	frep_code rc;

	if (diff != NULL) {
		*diff   = NULL;
		*n_diff = 0;
	}
	if (incoming == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "config is NULL");
	}
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = engine__snapshot_locked(e, incoming->scope.scope_id, &local, &found, st);
	if (rc == FREP_OK) {
		rc = diff_configs(found ? local : NULL, incoming, &ch, &df, st);
	}
	engine_scope_config_free(local);
	rc = engine__read_end(e, rc, st);
	if (rc == FREP_OK) {
		if (changes != NULL) {
			*changes = ch;
		}
		if (diff != NULL) {
			*diff    = df.items;
			*n_diff  = df.n;
			df.items = NULL;
			df.n     = 0;
		}
	}
	differ_fini(&df);
	return rc;
}

/* --- apply --------------------------------------------------------------- */

/* The validated, normalised form of an incoming config, ready to insert.
 * Strings of scope and reservations are borrowed from the incoming config;
 * the rest is owned. */
typedef struct prepared {
	engine_scope      scope;
	engine_exclusion *exclusions; /* sorted */
	size_t            n_exclusions;
	/* Reservation k's normalised client id: client_id_pool +
	 * client_id_off[k] (one pool, sized to the ids: a fixed
	 * ENGINE_HEXID_STRLEN slot per row made a 100,000-row apply touch
	 * 19 MB of fresh pages). */
	char                 *client_id_pool;
	size_t               *client_id_off;
	engine_option_value **res_options;
	size_t                n_reservations;
	engine_option_value  *options;
	size_t                n_options;
	engine_policy        *policies;
	size_t                n_policies;
} prepared;

/* Reservation k's normalised client id; valid while p is. */
static char *
prepared_client_id(const prepared *p, size_t k)
{
	return p->client_id_pool + p->client_id_off[k];
}

static void
prepared_fini(prepared *p)
{
	free(p->exclusions);
	free(p->client_id_pool);
	free(p->client_id_off);
	/* res_options is freed by prepared_free_res, which knows the
	 * counts. */
	engine_option_values_free(p->options, p->n_options);
	engine_policies_free(p->policies, p->n_policies);
}

static void
prepared_free_res(prepared *p, const engine_scope_config *in)
{
	if (p->res_options == NULL) {
		return;
	}
	for (size_t i = 0; i < p->n_reservations; i++) {
		engine_option_values_free(p->res_options[i], in->reservations[i].n_options);
	}
	free(p->res_options);
	p->res_options = NULL;
}

static ptrdiff_t
deps_find(const deps *d, uint32_t id, const char *vendor)
{
	size_t lo = 0, hi = d->n_defs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = u32_cmp(d->defs[mid].option_id, id);
		if (c == 0) {
			c = strcmp(engine__str(d->defs[mid].vendor_class), engine__str(vendor));
		}
		if (c == 0) {
			return (ptrdiff_t) mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

/* Validates option values against the cached definitions (classes were
 * checked by deps_check). */
static frep_code
options_prepare(const deps *d, const char *ctx, const engine_option_value *in, size_t n,
    engine_option_value **out, frep_status *st)
{
	engine_option_value *vec;
	frep_code            rc;
	char                 vctx[160];

	*out = NULL;
	if (n == 0) {
		return FREP_OK;
	}
	if (n > ENGINE_OPTIONS_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%soptions has %zu entries (at most %d)", ctx, n, ENGINE_OPTIONS_MAX);
	}
	if ((vec = calloc(n, sizeof(*vec))) == NULL) {
		return engine__oom(st);
	}
	for (size_t i = 0; i < n; i++) {
		ptrdiff_t k = deps_find(d, in[i].option_id, in[i].vendor_class);
		if (k < 0) {
			rc = frep_status_set(st, FREP_INTERNAL,
			    "%soption %u missing from the dependency list", ctx, in[i].option_id);
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (cmp_option(&in[j], &in[i]) == 0) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%soption %u (vendor class '%s', user class "
				    "'%s') is given twice",
				    ctx, in[i].option_id, engine__str(in[i].vendor_class),
				    engine__str(in[i].user_class));
				goto fail;
			}
		}
		snprintf(vctx, sizeof(vctx), "%soption %u: ", ctx, in[i].option_id);
		vec[i].option_id    = in[i].option_id;
		vec[i].vendor_class = engine__strdup(in[i].vendor_class);
		vec[i].user_class   = engine__strdup(in[i].user_class);
		if (vec[i].vendor_class == NULL || vec[i].user_class == NULL) {
			rc = engine__oom(st);
			goto fail;
		}
		if ((rc = engine__option_values_normalize(vctx, d->types[k], d->multi[k],
			 in[i].values, in[i].n_values, false, &vec[i].values, st)) != FREP_OK) {
			goto fail;
		}
		vec[i].n_values = in[i].n_values;
		if ((rc = engine__option_values_wire_check(vctx, in[i].option_id,
			 vec[i].vendor_class, d->types[k], d->multi[k], vec[i].values,
			 vec[i].n_values, st)) != FREP_OK) {
			goto fail;
		}
	}
	*out = vec;
	return FREP_OK;

fail:
	engine_option_values_free(vec, n);
	return rc;
}

static int
cmp_client_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static frep_code
prepare(engine *e, const engine_scope_config *in, const deps *d, prepared *p, frep_status *st)
{
	const engine_scope *sc = &p->scope;
	char                ctx[96];
	frep_code           rc;
	const void        **v = NULL;

	p->scope = in->scope;
	engine__scope_defaults(&p->scope);
	if ((rc = engine__scope_validate(e, &p->scope, st)) != FREP_OK) {
		return rc;
	}
	snprintf(ctx, sizeof(ctx), "scope %s: ", ENGINE__IP(sc->scope_id));

	/* Exclusions. */
	if (in->n_exclusions > 0) {
		p->exclusions = malloc(in->n_exclusions * sizeof(*p->exclusions));
		if (p->exclusions == NULL) {
			return engine__oom(st);
		}
		memcpy(p->exclusions, in->exclusions, in->n_exclusions * sizeof(*p->exclusions));
		p->n_exclusions = in->n_exclusions;
		qsort(p->exclusions, p->n_exclusions, sizeof(*p->exclusions), cmp_exclusion);
	}
	for (size_t i = 0; i < p->n_exclusions; i++) {
		engine_exclusion *x = &p->exclusions[i];
		x->scope_id         = sc->scope_id;
		if (x->start_range > x->end_range) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%sexclusion start_range %s is after end_range %s", ctx,
			    ENGINE__IP(x->start_range), ENGINE__IP(x->end_range));
		}
		if (x->start_range < sc->start_range || x->end_range > sc->end_range) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%sexclusion %s-%s lies outside the scope's range "
			    "%s-%s",
			    ctx, ENGINE__IP(x->start_range), ENGINE__IP(x->end_range),
			    ENGINE__IP(sc->start_range), ENGINE__IP(sc->end_range));
		}
		if (i > 0 && cmp_exclusion(&p->exclusions[i - 1], x) == 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%sexclusion %s-%s is given twice", ctx, ENGINE__IP(x->start_range),
			    ENGINE__IP(x->end_range));
		}
	}

	/* Reservations. */
	p->n_reservations = in->n_reservations;
	if (in->n_reservations > 0) {
		p->client_id_off = malloc(in->n_reservations * sizeof(*p->client_id_off));
		p->res_options   = calloc(in->n_reservations, sizeof(*p->res_options));
		if (p->client_id_off == NULL || p->res_options == NULL) {
			return engine__oom(st);
		}
	}
	size_t pool_len = 0, pool_cap = 0;
	for (size_t i = 0; i < in->n_reservations; i++) {
		engine_reservation r = in->reservations[i];
		char               rctx[64], cid[ENGINE_HEXID_STRLEN];
		if (r.type == ENGINE_CLIENT_TYPE_UNSPECIFIED) {
			r.type = ENGINE_CLIENT_TYPE_BOTH;
		}
		if ((rc = engine__reservation_validate_fields(sc, &r, cid, st)) != FREP_OK) {
			return rc;
		}
		size_t cid_len = strlen(cid) + 1;
		if (pool_len + cid_len > pool_cap) {
			/* A MAC's "00-11-22-33-44-55" per row, then doubling. */
			size_t cap = pool_cap == 0 ? in->n_reservations * 18 : pool_cap * 2;
			if (cap < pool_len + cid_len) {
				cap = pool_len + cid_len;
			}
			char *grown = realloc(p->client_id_pool, cap);
			if (grown == NULL) {
				return engine__oom(st);
			}
			p->client_id_pool = grown;
			pool_cap          = cap;
		}
		memcpy(p->client_id_pool + pool_len, cid, cid_len);
		p->client_id_off[i] = pool_len;
		pool_len += cid_len;
		if (r.n_options == 0) {
			continue; /* res_options[i] stays NULL; no context to format */
		}
		snprintf(rctx, sizeof(rctx), "reservation %s: ", ENGINE__IP(r.ip_address));
		if ((rc = options_prepare(
			 d, rctx, r.options, r.n_options, &p->res_options[i], st)) != FREP_OK) {
			return rc;
		}
	}
	if (in->n_reservations > 1) {
		v = sorted_ptrs(in->reservations, in->n_reservations, sizeof(*in->reservations),
		    qcmp_reservation);
		if (v == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 1; i < in->n_reservations; i++) {
			if (cmp_reservation(v[i - 1], v[i]) == 0) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%sreservation %s is given twice", ctx,
				    ENGINE__IP(((const engine_reservation *) v[i])->ip_address));
				free(v);
				return rc;
			}
		}
		free(v);
		const char **ids = malloc(in->n_reservations * sizeof(*ids));
		if (ids == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 0; i < in->n_reservations; i++) {
			ids[i] = engine__client_id_key(prepared_client_id(p, i)); /* MAC = 01-MAC */
		}
		qsort(ids, in->n_reservations, sizeof(*ids), cmp_client_id);
		for (size_t i = 1; i < in->n_reservations; i++) {
			if (strcmp(ids[i - 1], ids[i]) == 0) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%sclient_id %s is reserved twice (a MAC and 01-MAC are "
				    "the same client)",
				    ctx, ids[i]);
				free(ids);
				return rc;
			}
		}
		free(ids);
	}

	/* Scope options. */
	if ((rc = options_prepare(d, ctx, in->options, in->n_options, &p->options, st)) !=
	    FREP_OK) {
		return rc;
	}
	p->n_options = in->n_options;

	/* Policies. */
	if (in->n_policies > 0) {
		p->policies = calloc(in->n_policies, sizeof(*p->policies));
		if (p->policies == NULL) {
			return engine__oom(st);
		}
	}
	uint32_t max_order = 0;
	for (size_t i = 0; i < in->n_policies; i++) {
		if ((rc = engine__policy_validate(
			 e, sc, &in->policies[i], -1, false, &p->policies[i], st)) != FREP_OK) {
			return rc;
		}
		p->n_policies = i + 1;
		if (p->policies[i].processing_order > max_order) {
			max_order = p->policies[i].processing_order;
		}
	}
	for (size_t i = 0; i < p->n_policies; i++) {
		if (p->policies[i].processing_order == 0) {
			p->policies[i].processing_order = ++max_order;
		}
	}
	if (p->n_policies > 1) {
		engine_policy *copy = p->policies;
		v                   = sorted_ptrs(copy, p->n_policies, sizeof(*copy), qcmp_policy);
		if (v == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 1; i < p->n_policies; i++) {
			if (cmp_policy(v[i - 1], v[i]) == 0) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%spolicy '%s' is given twice", ctx,
				    ((const engine_policy *) v[i])->name);
				free(v);
				return rc;
			}
		}
		free(v);
		/* Processing orders and ranges across policies (few). */
		for (size_t i = 0; i < p->n_policies; i++) {
			for (size_t j = i + 1; j < p->n_policies; j++) {
				engine_policy *a = &p->policies[i], *b = &p->policies[j];
				if (a->processing_order == b->processing_order) {
					return frep_status_set(st, FREP_INVALID_ARGUMENT,
					    "%spolicies '%s' and '%s' share "
					    "processing_order %u",
					    ctx, a->name, b->name, a->processing_order);
				}
				for (size_t ri = 0; ri < a->n_ip_ranges; ri++) {
					for (size_t rj = 0; rj < b->n_ip_ranges; rj++) {
						engine_ip_range *x = &a->ip_ranges[ri];
						engine_ip_range *y = &b->ip_ranges[rj];
						if (x->start_range <= y->end_range &&
						    y->start_range <= x->end_range) {
							return frep_status_set(st,
							    FREP_INVALID_ARGUMENT,
							    "%spolicy '%s' ip range %s-%s "
							    "overlaps ip range %s-%s of "
							    "policy '%s'",
							    ctx, b->name,
							    ENGINE__IP(y->start_range),
							    ENGINE__IP(y->end_range),
							    ENGINE__IP(x->start_range),
							    ENGINE__IP(x->end_range), a->name);
						}
					}
				}
			}
		}
	}
	return FREP_OK;
}

/* Writes only what the diff found: removed and updated objects are
 * deleted first, then added and updated ones inserted, so uniqueness
 * (client ids, policy names) holds at every step. */
static frep_code
prepared_write(
    engine *e, const engine_scope_config *in, const prepared *p, const differ *df, frep_status *st)
{
	uint32_t      sid = p->scope.scope_id;
	frep_code     rc;
	sqlite3_stmt *s;

	if ((rc = engine__scope_write(e, &p->scope, st)) != FREP_OK) {
		return rc;
	}
	for (size_t i = 0; i < df->n_chg; i++) {
		const change *c = &df->chg[i];
		if (c->action == ENGINE_DIFF_ACTION_ADD) {
			continue;
		}
		if (c->kind == &kind_exclusion) {
			const engine_exclusion *x = c->local;
			s                         = engine__stmt(e, ENGINE__STMT_EXCL_DELETE);
			engine__bind_u32(s, 1, sid);
			engine__bind_u32(s, 2, x->start_range);
			engine__bind_u32(s, 3, x->end_range);
			rc = engine__exec(e, s, "delete exclusion", st);
		} else if (c->kind == &kind_reservation) {
			const engine_reservation *r = c->local;
			s                           = engine__stmt(e, ENGINE__STMT_RES_DELETE);
			engine__bind_u32(s, 1, sid);
			engine__bind_u32(s, 2, r->ip_address);
			if ((rc = engine__exec(e, s, "delete reservation", st)) == FREP_OK) {
				s = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE_OWNER);
				engine__bind_u32(s, 1, sid);
				engine__bind_u32(s, 2, r->ip_address);
				sqlite3_bind_int64(s, 3, 0);
				rc = engine__exec(e, s, "delete option values", st);
			}
		} else if (c->kind == &kind_option) {
			const engine_option_value *o = c->local;
			s                            = engine__stmt(e, ENGINE__STMT_OPTVAL_DELETE);
			engine__bind_u32(s, 1, sid);
			engine__bind_u32(s, 2, 0);
			sqlite3_bind_int64(s, 3, 0);
			engine__bind_u32(s, 4, o->option_id);
			engine__bind_text(s, 5, o->vendor_class);
			engine__bind_text(s, 6, o->user_class);
			rc = engine__exec(e, s, "delete option value", st);
		} else {
			rc = engine__policy_delete(
			    e, sid, ((const engine_policy *) c->local)->name, st);
		}
		if (rc != FREP_OK) {
			return rc;
		}
	}
	for (size_t i = 0; i < df->n_chg; i++) {
		const change *c = &df->chg[i];
		if (c->action == ENGINE_DIFF_ACTION_REMOVE) {
			continue;
		}
		if (c->kind == &kind_exclusion) {
			const engine_exclusion *x = c->in;
			s                         = engine__stmt(e, ENGINE__STMT_EXCL_INSERT);
			engine__bind_u32(s, 1, sid);
			engine__bind_u32(s, 2, x->start_range);
			engine__bind_u32(s, 3, x->end_range);
			rc = engine__exec(e, s, "insert exclusion", st);
		} else if (c->kind == &kind_reservation) {
			const engine_reservation *r = c->in;
			size_t                    k = (size_t) (r - in->reservations);
			s                           = engine__stmt(e, ENGINE__STMT_RES_INSERT);
			engine__bind_u32(s, 1, sid);
			engine__bind_u32(s, 2, r->ip_address);
			engine__bind_text(s, 3, prepared_client_id(p, k));
			engine__bind_text(s, 4, r->name);
			engine__bind_text(s, 5, r->description);
			sqlite3_bind_int(s, 6,
			    r->type == ENGINE_CLIENT_TYPE_UNSPECIFIED ? ENGINE_CLIENT_TYPE_BOTH
								      : (int) r->type);
			if ((rc = engine__exec(e, s, "insert reservation", st)) == FREP_OK) {
				rc = engine__option_values_insert(
				    e, sid, r->ip_address, 0, p->res_options[k], r->n_options, st);
			}
		} else if (c->kind == &kind_option) {
			size_t k = (size_t) ((const engine_option_value *) c->in - in->options);
			rc = engine__option_values_insert(e, sid, 0, 0, &p->options[k], 1, st);
		} else {
			size_t  k = (size_t) ((const engine_policy *) c->in - in->policies);
			int64_t id;
			rc = engine__policy_insert(e, &p->policies[k], &id, st);
		}
		if (rc != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

/* The incoming config as it will be stored: defaults applied, client ids
 * and values in normal form, exclusions sorted. view's arrays are parallel
 * to in's (reservations) or are p's own (the rest); only view->reservations
 * is allocated: free it. The digest check, the diff and the write all use
 * this view, so a config with defaulted fields (lease 0, …) is compared
 * and written as what it means, not as its raw bytes. */
static frep_code
prepared_view(
    const engine_scope_config *in, const prepared *p, engine_scope_config *view, frep_status *st)
{
	memset(view, 0, sizeof(*view));
	view->scope        = p->scope;
	view->exclusions   = p->exclusions;
	view->n_exclusions = p->n_exclusions;
	if (p->n_reservations > 0) {
		view->reservations = malloc(p->n_reservations * sizeof(*view->reservations));
		if (view->reservations == NULL) {
			return engine__oom(st);
		}
		for (size_t i = 0; i < p->n_reservations; i++) {
			view->reservations[i]           = in->reservations[i];
			view->reservations[i].client_id = prepared_client_id(p, i);
			view->reservations[i].options   = p->res_options[i];
			if (view->reservations[i].type == ENGINE_CLIENT_TYPE_UNSPECIFIED) {
				view->reservations[i].type = ENGINE_CLIENT_TYPE_BOTH;
			}
		}
		view->n_reservations = p->n_reservations;
	}
	view->options    = p->options;
	view->n_options  = p->n_options;
	view->policies   = p->policies;
	view->n_policies = p->n_policies;
	return FREP_OK;
}

/* The guard's rules for the scope here (inside the transaction): who owns
 * it, and whether it still has the digest the source expects. found says
 * whether the scope is here, have is its digest ("" if not); *member says
 * whether it belongs to guard->relationship already. */
static frep_code
guard_check(engine *e, const engine_apply_guard *g, uint32_t scope_id, bool found, const char *have,
    bool *member, engine_apply_result *r, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_FOS_OWNER);
	bool          owned;
	char          owner[ENGINE_RELATIONSHIP_NAME_MAX + 1] = "";
	frep_code     rc;

	*member = false;
	engine__bind_u32(s, 1, scope_id);
	if ((rc = engine__step(e, s, &owned, "read failover membership", st)) != FREP_OK) {
		return rc;
	}
	if (owned) {
		snprintf(owner, sizeof(owner), "%s", (const char *) sqlite3_column_text(s, 0));
		sqlite3_reset(s);
	}
	if (owned && strcmp(owner, engine__str(g->relationship)) != 0) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "scope %s belongs to failover relationship \"%s\" there, not to \"%s\"; it is "
		    "not touched",
		    ENGINE__IP(scope_id), owner, engine__str(g->relationship));
	}
	if (!owned && found && !g->adopt) {
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "scope %s exists there in no failover relationship; it is not replaced (add "
		    "it to relationship \"%s\" with force to take it over)",
		    ENGINE__IP(scope_id), engine__str(g->relationship));
	}
	*member = owned;
	if (g->check_expected) {
		const char *want = engine__str(g->expected_digest);
		if (strcmp(have, want) != 0) {
			if (r != NULL) {
				r->stale_expected = true;
			}
			return frep_status_set(st, FREP_ABORTED,
			    "scope %s changed there since its digest was read: expected %s, found "
			    "%s; nothing applied",
			    ENGINE__IP(scope_id), *want != '\0' ? want : "no scope",
			    *have != '\0' ? have : "no scope");
		}
	}
	return FREP_OK;
}

/* engine_scope_apply's work. With own_tx it is one write transaction of
 * its own; without, the caller holds the write transaction and the scope
 * is applied inside a savepoint (engine_scope_apply_batch). guard (may be
 * NULL) adds a partner's rules (engine_scope_apply_guarded); r receives
 * wait_outgoing and joined then. */
static frep_code
apply_one(engine *e, const engine_scope_config *incoming, bool dry_run,
    engine_scope_changes *changes, engine_object_diff **diff, size_t *n_diff,
    char digest_before[65], char digest_after[65], bool own_tx, const engine_apply_guard *guard,
    engine_apply_result *r, frep_status *st)
{
	engine_scope_config *local = NULL;
	engine_scope_changes ch    = {0};
	differ               df    = {.want_items = diff != NULL,
			     .a                   = {.to_buf = true},
			     .b                   = {.to_buf = true},
			     .collect             = !dry_run};
	deps                 d     = {0};
	prepared             p     = {0};
	bool                 found = false, member = false;
	engine_scope_config  view = {0};
	char                 written[65], have[65] = "";
	frep_code            rc;

	if (diff != NULL) {
		*diff   = NULL;
		*n_diff = 0;
	}
	if (digest_before != NULL) {
		digest_before[0] = '\0';
	}
	if (digest_after != NULL) {
		digest_after[0] = '\0';
	}
	if (incoming == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "config is NULL");
	}
	if ((rc = own_tx ? engine__write_begin(e, st) : engine__savepoint_begin(e, st)) !=
	    FREP_OK) {
		return rc;
	}
	/* 0. What is here now; a partner's rules about it come first: a scope
	 * that is not the relationship's, or that changed since the source
	 * read its digest, is refused before anything else is looked at.
	 * When its digest is stored (a row exists only while it is right, and
	 * only for a scope that exists), the copy itself is read only if the
	 * diff needs it (step 4): a resend of the same version reads nothing
	 * more. */
	if ((rc = engine__digest_lookup(e, incoming->scope.scope_id, have, &found, st)) !=
		FREP_OK ||
	    (!found && (rc = engine__snapshot_locked(
			    e, incoming->scope.scope_id, &local, &found, st)) != FREP_OK)) {
		goto done;
	}
	if (local != NULL) {
		memcpy(have, local->digest, 65);
	}
	if (guard != NULL && (rc = guard_check(e, guard, incoming->scope.scope_id, found,
				  found ? have : "", &member, r, st)) != FREP_OK) {
		goto done;
	}
	/* 1. Dependencies, before anything else is written. */
	if ((rc = deps_collect(incoming, &d, st)) != FREP_OK ||
	    (rc = deps_check(e, &d, guard != NULL, st)) != FREP_OK) {
		goto done;
	}
	/* 2. Validate as the admin calls would, and normalise. */
	if ((rc = prepare(e, incoming, &d, &p, st)) != FREP_OK ||
	    (rc = prepared_view(incoming, &p, &view, st)) != FREP_OK ||
	    (rc = engine_scope_config_digest(&view, written, st)) != FREP_OK) {
		goto done;
	}
	/* 3. The digest the source computed must match what arrived (in its
	 * stored form, which is how every snapshot is digested). */
	if (incoming->digest[0] != '\0' && strcmp(written, incoming->digest) != 0) {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "digest %.64s does not match the config's %s", incoming->digest, written);
		goto done;
	}
	/* 3a. This server sending its own, different version of the scope
	 * right now: the two replications cross. The smaller digest wins on
	 * both servers, so exactly one of them goes through (never both: that
	 * would swap the two versions). */
	if (guard != NULL && !dry_run) {
		char mine[65] = "";
		switch (engine__outgoing_check(e, incoming->scope.scope_id, written, mine)) {
		case ENGINE__OUTGOING_REFUSE:
			rc = frep_status_set(st, FREP_ABORTED,
			    "scope %s is being replicated from there to you right now (digest "
			    "%s), and that version wins over this one (%s); nothing applied",
			    ENGINE__IP(incoming->scope.scope_id), mine, written);
			goto done;
		case ENGINE__OUTGOING_WAIT:
			if (r != NULL) {
				r->wait_outgoing = true;
			}
			rc = frep_status_set(st, FREP_ABORTED,
			    "scope %s is being replicated from there right now (digest %s); "
			    "nothing applied",
			    ENGINE__IP(incoming->scope.scope_id), mine);
			goto done;
		case ENGINE__OUTGOING_NONE:
			break;
		}
	}
	/* 4. Diff against what is here now: nothing differs when the digests
	 * are equal (the digest covers every field the scope's objects
	 * store), so no diff and no write then. */
	bool same = found && strcmp(have, written) == 0;
	if (!same && found && local == NULL &&
	    (rc = snapshot_read(e, incoming->scope.scope_id, false, &local, &found, st)) !=
		FREP_OK) {
		goto done; /* its digest is have: not computed again */
	}
	if (!same && (rc = diff_configs(found ? local : NULL, &view, &ch, &df, st)) != FREP_OK) {
		goto done;
	}
	if (found && digest_before != NULL) {
		memcpy(digest_before, have, 65);
	}
	if (dry_run) {
		if (found && digest_after != NULL) {
			memcpy(digest_after, have, 65);
		}
		goto done;
	}
	/* 5. Write what differs, and store the digest of what was written
	 * (after the writes: their triggers clear it). */
	if ((!same && (rc = prepared_write(e, &view, &p, &df, st)) != FREP_OK) ||
	    (rc = engine__digest_store(e, incoming->scope.scope_id, written, st)) != FREP_OK) {
		goto done;
	}
	/* 6. A partner's apply: the scope is the relationship's from now on,
	 * and both sides will remember this version as the last synced. */
	if (guard != NULL) {
		if (!member) {
			sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_FOS_INSERT);
			engine__bind_u32(s, 1, incoming->scope.scope_id);
			engine__bind_text(s, 2, guard->relationship);
			if ((rc = engine__exec(e, s, "join failover relationship", st)) !=
			    FREP_OK) {
				goto done;
			}
			if (r != NULL) {
				r->joined = true;
			}
		}
		if ((rc = engine__sync_state_put_locked(e, guard->relationship,
			 incoming->scope.scope_id, written, 0, st)) != FREP_OK) {
			goto done;
		}
	}
	engine__test_hook_apply(incoming->scope.scope_id); /* tests only: inert */
	if (digest_after != NULL) {
		memcpy(digest_after, written, 65);
	}
done:
	free(view.reservations);
	prepared_free_res(&p, incoming);
	prepared_fini(&p);
	deps_fini(&d);
	engine_scope_config_free(local);
	/* A dry run changes nothing: roll back whatever the checks touched. */
	if (!own_tx) {
		rc = engine__savepoint_end(e, rc, dry_run, st);
	} else if (dry_run && rc == FREP_OK) {
		rc = engine__write_end(e, FREP_CANCELLED, st);
		rc = FREP_OK;
		frep_status_clear(st);
	} else {
		rc = engine__write_end(e, rc, st);
	}
	if (rc == FREP_OK) {
		if (changes != NULL) {
			*changes = ch;
		}
		if (diff != NULL) {
			*diff    = df.items;
			*n_diff  = df.n;
			df.items = NULL;
			df.n     = 0;
		}
	} else {
		if (digest_before != NULL) {
			digest_before[0] = '\0';
		}
		if (digest_after != NULL) {
			digest_after[0] = '\0';
		}
		if (r != NULL) {
			r->joined = false;
		}
	}
	differ_fini(&df);
	return rc;
}

frep_code
engine_scope_apply(engine *e, const engine_scope_config *incoming, bool dry_run,
    engine_scope_changes *changes, engine_object_diff **diff, size_t *n_diff,
    char digest_before[65], char digest_after[65], frep_status *st)
{
	return apply_one(e, incoming, dry_run, changes, diff, n_diff, digest_before, digest_after,
	    true, NULL, NULL, st);
}

frep_code
engine_scope_apply_batch(engine *e, const engine_scope_config *const *configs, size_t n,
    bool dry_run, bool want_diff, engine_apply_result *results, frep_status *st)
{
	return engine_scope_apply_guarded(e, configs, NULL, n, dry_run, want_diff, results, st);
}

frep_code
engine_scope_apply_guarded(engine *e, const engine_scope_config *const *configs,
    const engine_apply_guard *guards, size_t n, bool dry_run, bool want_diff,
    engine_apply_result *results, frep_status *st)
{
	frep_code rc;

	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			results[i].code = rc;
			frep_status_copy(&results[i].status, st);
		}
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		engine_apply_result *r = &results[i];
		r->code                = apply_one(e, configs[i], dry_run, &r->changes,
                    want_diff ? &r->diff : NULL, want_diff ? &r->n_diff : NULL, r->digest_before,
				   r->digest_after, false, guards != NULL ? &guards[i] : NULL, r, &r->status);
		if (r->code == FREP_OK) {
			frep_status_clear(&r->status);
		}
	}
	/* One commit (one fsync) for the whole batch. If it fails, nothing
	 * of the batch was stored, whatever each scope said. */
	if ((rc = engine__write_end(e, FREP_OK, st)) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			engine_object_diffs_free(results[i].diff, results[i].n_diff);
			results[i].diff   = NULL;
			results[i].n_diff = 0;
			results[i].code   = rc;
			results[i].joined = false;
			frep_status_copy(&results[i].status, st);
		}
	}
	return rc;
}
