/* Validation shared by every kind: text bounds, update masks, option
 * values against their definitions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"

/* Binary option data: at most this many bytes per value. */
#define BINARY_MAX_BYTES 255

frep_code
engine__check_text(const char *ctx, const char *field, const char *value, size_t max,
    unsigned flags, frep_status *st)
{
	size_t len;

	value = engine__str(value);
	len   = strlen(value);
	if ((flags & ENGINE__TEXT_REQUIRED) && len == 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "%s%s is empty", ctx, field);
	}
	if (len > max && (flags & ENGINE__TEXT_SECRET)) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s%s is %zu bytes long (at most %zu)", ctx, field, len, max);
	}
	if (len > max) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s%s is %zu bytes long (at most %zu): '%.40s...'", ctx, field, len, max,
		    value);
	}
	if (flags & ENGINE__TEXT_NO_CONTROL) {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char) value[i];
			if (c < 0x20 || c == 0x7f) {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%s%s contains control character 0x%02x "
				    "at byte %zu",
				    ctx, field, c, i);
			}
		}
	}
	return FREP_OK;
}

frep_code
engine__mask_check(const char *kind, const char *const *mask, size_t n_mask,
    const char *const *fields, frep_status *st)
{
	for (size_t i = 0; i < n_mask; i++) {
		bool known = false;
		for (const char *const *f = fields; *f != NULL; f++) {
			if (mask[i] != NULL && strcmp(mask[i], *f) == 0) {
				known = true;
				break;
			}
		}
		if (!known) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "update_mask: '%.64s' is not a settable field of %s",
			    engine__str(mask[i]), kind);
		}
	}
	return FREP_OK;
}

bool
engine__mask_has(const char *const *mask, size_t n_mask, const char *field)
{
	if (n_mask == 0) {
		return true;
	}
	for (size_t i = 0; i < n_mask; i++) {
		if (mask[i] != NULL && strcmp(mask[i], field) == 0) {
			return true;
		}
	}
	return false;
}

static bool
parse_uint(const char *text, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*text == '\0' || strlen(text) > 20) {
		return false;
	}
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		unsigned d = (unsigned) (*p - '0');
		if (v > (max - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The normal form of one value of a type, or NULL with st set. */
static char *
normalize_value(
    const char *ctx, engine_option_type type, size_t idx, const char *text, frep_status *st)
{
	char               buf[BINARY_MAX_BYTES * 3 + 1];
	unsigned long long num;
	unsigned long long max = 0;
	size_t             limit =
            (type == ENGINE_OPTION_TYPE_BINARY_DATA || type == ENGINE_OPTION_TYPE_ENCAPSULATED_DATA)
			    ? BINARY_MAX_BYTES * 3
			    : ENGINE_VALUE_MAX;
	char field[32];

	snprintf(field, sizeof(field), "values[%zu]", idx);
	if (engine__check_text(ctx, field, text, limit, 0, st) != FREP_OK) {
		return NULL;
	}
	switch (type) {
	case ENGINE_OPTION_TYPE_BYTE:
		max = 255;
		break;
	case ENGINE_OPTION_TYPE_WORD:
		max = 65535;
		break;
	case ENGINE_OPTION_TYPE_DWORD:
		max = 4294967295ull;
		break;
	case ENGINE_OPTION_TYPE_DWORD_DWORD:
		max = 18446744073709551615ull;
		break;
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS: {
		uint32_t addr;
		if (engine_ipv4_parse(text, field, &addr, NULL) != FREP_OK) {
			frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s%s '%.64s' is not an IPv4 address (type "
			    "IPV4_ADDRESS)",
			    ctx, field, text);
			return NULL;
		}
		engine_ipv4_format(addr, buf);
		return strdup(buf);
	}
	case ENGINE_OPTION_TYPE_STRING:
		return strdup(text);
	case ENGINE_OPTION_TYPE_BINARY_DATA:
	case ENGINE_OPTION_TYPE_ENCAPSULATED_DATA: {
		uint8_t bytes[BINARY_MAX_BYTES];
		size_t  n;
		if (engine_hex_parse(text, field, bytes, sizeof(bytes), &n, NULL) != FREP_OK) {
			frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s%s '%.64s' is not hex bytes (type %s, at most "
			    "%d bytes)",
			    ctx, field, text, engine_option_type_name(type), BINARY_MAX_BYTES);
			return NULL;
		}
		engine_hex_format(bytes, n, buf, sizeof(buf));
		return strdup(buf);
	}
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS: {
		struct in6_addr a6;
		char            out6[INET6_ADDRSTRLEN];
		if (inet_pton(AF_INET6, text, &a6) != 1 ||
		    inet_ntop(AF_INET6, &a6, out6, sizeof(out6)) == NULL) {
			frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s%s '%.64s' is not an IPv6 address (type "
			    "IPV6_ADDRESS)",
			    ctx, field, text);
			return NULL;
		}
		return strdup(out6);
	}
	default:
		frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "%stype %d is not an option type", ctx, (int) type);
		return NULL;
	}
	if (!parse_uint(text, max, &num)) {
		frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s%s '%.64s' is not a %s (decimal 0..%llu)", ctx, field, text,
		    engine_option_type_name(type), max);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%llu", num);
	return strdup(buf);
}

frep_code
engine__option_values_normalize(const char *ctx, engine_option_type type, bool multi_valued,
    char *const *values, size_t n_values, bool allow_empty, char ***out, frep_status *st)
{
	char **vec;

	*out = NULL;
	if (n_values == 0 && !allow_empty) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%svalues is empty: at least one value is required", ctx);
	}
	if (n_values > 1 && !multi_valued) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%svalues has %zu entries but the definition is not "
		    "multi-valued (exactly one value)",
		    ctx, n_values);
	}
	if (n_values > ENGINE_VALUES_MAX) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%svalues has %zu entries (at most %d)", ctx, n_values, ENGINE_VALUES_MAX);
	}
	if (n_values == 0) {
		return FREP_OK;
	}
	if ((vec = calloc(n_values, sizeof(*vec))) == NULL) {
		return engine__oom(st);
	}
	for (size_t i = 0; i < n_values; i++) {
		frep_status tmp;
		frep_status_clear(&tmp);
		vec[i] = normalize_value(ctx, type, i, engine__str(values[i]), &tmp);
		if (vec[i] == NULL) {
			engine__strv_free(vec, i);
			if (tmp.code == FREP_OK) {
				return engine__oom(st);
			}
			frep_status_copy(st, &tmp);
			return tmp.code;
		}
	}
	*out = vec;
	return FREP_OK;
}

frep_code
engine__option_value_check(engine *e, const char *ctx, const engine_option_value *in,
    engine_option_value *norm, frep_status *st)
{
	const char        *vendor = engine__str(in->vendor_class);
	const char        *user   = engine__str(in->user_class);
	char               vctx[512];
	sqlite3_stmt      *s;
	bool               row;
	frep_code          rc;
	engine_option_type type;
	bool               multi;

	memset(norm, 0, sizeof(*norm));
	if ((rc = engine__check_text(ctx, "vendor_class", vendor, ENGINE_NAME_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(ctx, "user_class", user, ENGINE_NAME_MAX,
		 ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	s = engine__stmt(e, ENGINE__STMT_OPTDEF_GET);
	engine__bind_u32(s, 1, in->option_id);
	engine__bind_text(s, 2, vendor);
	if ((rc = engine__step(e, s, &row, "read option definition", st)) != FREP_OK) {
		return rc;
	}
	if (!row) {
		return frep_status_set(st, FREP_NOT_FOUND,
		    "%soption definition %u (vendor class '%s') does not exist", ctx, in->option_id,
		    vendor);
	}
	type  = (engine_option_type) sqlite3_column_int(s, 4);
	multi = sqlite3_column_int(s, 5) != 0;
	sqlite3_reset(s);
	if (*vendor != '\0') {
		s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
		sqlite3_bind_int(s, 1, ENGINE_CLASS_TYPE_VENDOR);
		engine__bind_text(s, 2, vendor);
		if ((rc = engine__step(e, s, &row, "read class", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "%soption %u: vendor_class '%s' does not exist", ctx, in->option_id,
			    vendor);
		}
	}
	if (*user != '\0') {
		s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
		sqlite3_bind_int(s, 1, ENGINE_CLASS_TYPE_USER);
		engine__bind_text(s, 2, user);
		if ((rc = engine__step(e, s, &row, "read class", st)) != FREP_OK) {
			return rc;
		}
		sqlite3_reset(s);
		if (!row) {
			return frep_status_set(st, FREP_NOT_FOUND,
			    "%soption %u: user_class '%s' does not exist", ctx, in->option_id,
			    user);
		}
	}
	snprintf(vctx, sizeof(vctx), "%soption %u: ", ctx, in->option_id);
	norm->option_id = in->option_id;
	if ((rc = engine__option_values_normalize(vctx, type, multi, in->values, in->n_values,
		 false, &norm->values, st)) != FREP_OK) {
		return rc;
	}
	norm->n_values = in->n_values;
	if ((rc = engine__option_values_wire_check(vctx, in->option_id, vendor, type, multi,
		 norm->values, norm->n_values, st)) != FREP_OK) {
		engine_option_value_fini(norm);
		return rc;
	}
	norm->vendor_class = strdup(vendor);
	norm->user_class   = strdup(user);
	if (norm->vendor_class == NULL || norm->user_class == NULL) {
		engine_option_value_fini(norm);
		return engine__oom(st);
	}
	return FREP_OK;
}

frep_code
engine_option_value_validate(const engine_option_def *def, const engine_option_value *value,
    engine_option_value *norm, frep_status *st)
{
	char      vctx[64];
	frep_code rc;

	memset(norm, 0, sizeof(*norm));
	if (def == NULL || value == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "definition or value is NULL");
	}
	snprintf(vctx, sizeof(vctx), "option %u: ", def->option_id);
	if ((rc = engine__option_values_normalize(vctx, def->type, def->multi_valued, value->values,
		 value->n_values, false, &norm->values, st)) != FREP_OK) {
		return rc;
	}
	norm->n_values  = value->n_values;
	norm->option_id = def->option_id;
	if ((rc = engine__option_values_wire_check(vctx, def->option_id, def->vendor_class,
		 def->type, def->multi_valued, norm->values, norm->n_values, st)) != FREP_OK) {
		engine_option_value_fini(norm);
		return rc;
	}
	norm->vendor_class = strdup(engine__str(def->vendor_class));
	norm->user_class   = strdup(engine__str(value->user_class));
	if (norm->vendor_class == NULL || norm->user_class == NULL) {
		engine_option_value_fini(norm);
		return engine__oom(st);
	}
	return FREP_OK;
}

frep_code
engine__option_values_check(engine *e, const char *ctx, const engine_option_value *in, size_t n,
    engine_option_value **out, frep_status *st)
{
	engine_option_value *vec;
	frep_code            rc;

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
		if ((rc = engine__option_value_check(e, ctx, &in[i], &vec[i], st)) != FREP_OK) {
			engine_option_values_free(vec, i);
			return rc;
		}
		/* At most ENGINE_OPTIONS_MAX entries: a quadratic check of
		 * the identity is bounded and small. */
		for (size_t j = 0; j < i; j++) {
			if (vec[j].option_id == vec[i].option_id &&
			    strcmp(vec[j].vendor_class, vec[i].vendor_class) == 0 &&
			    strcmp(vec[j].user_class, vec[i].user_class) == 0) {
				rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%soption %u (vendor class '%s', user class "
				    "'%s') is given twice",
				    ctx, vec[i].option_id, vec[i].vendor_class, vec[i].user_class);
				engine_option_values_free(vec, i + 1);
				return rc;
			}
		}
	}
	*out = vec;
	return FREP_OK;
}

frep_code
engine__option_values_insert(engine *e, uint32_t scope_id, uint32_t reserved_ip, int64_t policy_id,
    const engine_option_value *vals, size_t n, frep_status *st)
{
	frep_code rc;

	for (size_t i = 0; i < n; i++) {
		char         *enc;
		sqlite3_stmt *s;

		if ((rc = engine__values_encode(vals[i].values, vals[i].n_values, &enc, st)) !=
		    FREP_OK) {
			return rc;
		}
		s = engine__stmt(e, ENGINE__STMT_OPTVAL_UPSERT);
		engine__bind_u32(s, 1, scope_id);
		engine__bind_u32(s, 2, reserved_ip);
		sqlite3_bind_int64(s, 3, policy_id);
		engine__bind_u32(s, 4, vals[i].option_id);
		engine__bind_text(s, 5, vals[i].vendor_class);
		engine__bind_text(s, 6, vals[i].user_class);
		engine__bind_text(s, 7, enc);
		rc = engine__exec(e, s, "write option value", st);
		free(enc);
		if (rc != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

frep_code
engine__option_value_from_row(sqlite3_stmt *s, int col, engine_option_value *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->option_id    = engine__col_u32(s, col);
	out->vendor_class = engine__col_dup(s, col + 1);
	out->user_class   = engine__col_dup(s, col + 2);
	if (out->vendor_class == NULL || out->user_class == NULL) {
		engine_option_value_fini(out);
		return engine__oom(st);
	}
	frep_code rc = engine__values_decode(
	    (const char *) sqlite3_column_text(s, col + 3), &out->values, &out->n_values, st);
	if (rc != FREP_OK) {
		engine_option_value_fini(out);
	}
	return rc;
}

frep_code
engine__option_values_read(engine *e, uint32_t scope_id, uint32_t reserved_ip, int64_t policy_id,
    engine_option_value **out, size_t *n, frep_status *st)
{
	engine_option_value *vec   = NULL;
	size_t               count = 0, cap = 0;
	sqlite3_stmt        *s;
	bool                 row;
	frep_code            rc;

	s = engine__stmt(e, ENGINE__STMT_OPTVAL_LIST);
	engine__bind_u32(s, 1, scope_id);
	engine__bind_u32(s, 2, reserved_ip);
	sqlite3_bind_int64(s, 3, policy_id);
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list option values", st)) != FREP_OK) {
			goto fail;
		}
		if (!row) {
			break;
		}
		if (count == cap) {
			size_t               ncap = cap ? cap * 2 : 4;
			engine_option_value *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = engine__oom(st);
				goto fail;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = engine__option_value_from_row(s, 0, &vec[count], st)) != FREP_OK) {
			goto fail;
		}
		count++;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;

fail:
	sqlite3_reset(s);
	engine_option_values_free(vec, count);
	return rc;
}
