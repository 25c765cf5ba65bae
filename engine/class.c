/* Vendor and user classes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const class_fields[] = {"data", "description", NULL};

static const char *
class_word(engine_class_type type)
{
	return type == ENGINE_CLASS_TYPE_VENDOR ? "vendor" : "user";
}

static frep_code
class_from_row(sqlite3_stmt *s, engine_class *out, frep_status *st)
{
	memset(out, 0, sizeof(*out));
	out->type        = (engine_class_type) sqlite3_column_int(s, 0);
	out->name        = engine__col_dup(s, 1);
	out->data        = engine__col_dup(s, 2);
	out->description = engine__col_dup(s, 3);
	if (out->name == NULL || out->data == NULL || out->description == NULL) {
		engine_class_fini(out);
		return engine__oom(st);
	}
	return FREP_OK;
}

static frep_code
class_read(engine *e, engine_class_type type, const char *name, engine_class *out, bool *found,
    frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, ENGINE__STMT_CLASS_GET);
	bool          row;
	frep_code     rc;

	sqlite3_bind_int(s, 1, (int) type);
	engine__bind_text(s, 2, name);
	if ((rc = engine__step(e, s, &row, "read class", st)) != FREP_OK) {
		return rc;
	}
	*found = row;
	if (!row) {
		return FREP_OK;
	}
	rc = class_from_row(s, out, st);
	sqlite3_reset(s);
	return rc;
}

static frep_code
class_require(
    engine *e, engine_class_type type, const char *name, engine_class *out, frep_status *st)
{
	bool      found;
	frep_code rc = class_read(e, type, name, out, &found, st);
	if (rc == FREP_OK && !found) {
		return frep_status_set(st, FREP_NOT_FOUND, "%s class '%s' does not exist",
		    class_word(type), engine__str(name));
	}
	return rc;
}

static frep_code
class_validate(const engine_class *c, frep_status *st)
{
	char      ctx[320];
	frep_code rc;

	if (c->type != ENGINE_CLASS_TYPE_VENDOR && c->type != ENGINE_CLASS_TYPE_USER) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "class '%.64s': type %d is not a class type (1 VENDOR, 2 "
		    "USER)",
		    engine__str(c->name), (int) c->type);
	}
	if ((rc = engine__check_text("class: ", "name", c->name, ENGINE_NAME_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK) {
		return rc;
	}
	snprintf(ctx, sizeof(ctx), "%s class '%s': ", class_word(c->type), c->name);
	if ((rc = engine__check_text(ctx, "data", c->data, ENGINE_VALUE_MAX,
		 ENGINE__TEXT_REQUIRED | ENGINE__TEXT_NO_CONTROL, st)) != FREP_OK ||
	    (rc = engine__check_text(
		 ctx, "description", c->description, ENGINE_DESCRIPTION_MAX, 0, st)) != FREP_OK) {
		return rc;
	}
	return FREP_OK;
}

static frep_code
class_write(engine *e, engine__stmt_id id, const engine_class *c, frep_status *st)
{
	sqlite3_stmt *s = engine__stmt(e, id);

	sqlite3_bind_int(s, 1, (int) c->type);
	engine__bind_text(s, 2, c->name);
	engine__bind_text(s, 3, c->data);
	engine__bind_text(s, 4, c->description);
	return engine__exec(e, s, "write class", st);
}

frep_code
engine_class_add(engine *e, const engine_class *cls, engine_class *out, frep_status *st)
{
	engine_class existing;
	bool         found;
	frep_code    rc;

	if (cls == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "class is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = class_validate(cls, st)) != FREP_OK ||
	    (rc = class_read(e, cls->type, cls->name, &existing, &found, st)) != FREP_OK) {
		goto done;
	}
	if (found) {
		engine_class_fini(&existing);
		rc = frep_status_set(st, FREP_ALREADY_EXISTS, "%s class '%s' already exists",
		    class_word(cls->type), cls->name);
		goto done;
	}
	if ((rc = class_write(e, ENGINE__STMT_CLASS_INSERT, cls, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = class_require(e, cls->type, cls->name, out, st);
	}
done:
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_class_fini(out);
	}
	return rc;
}

frep_code
engine_class_set(engine *e, const engine_class *cls, const char *const *mask, size_t n_mask,
    engine_class *out, frep_status *st)
{
	engine_class cur;
	engine_class m;
	bool         have_cur = false;
	frep_code    rc;

	if (cls == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "class is NULL");
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if ((rc = engine__mask_check("Class", mask, n_mask, class_fields, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = class_require(e, cls->type, cls->name, &cur, st)) != FREP_OK) {
		goto done;
	}
	have_cur = true;
	m        = cur;
	if (engine__mask_has(mask, n_mask, "data")) {
		m.data = cls->data;
	}
	if (engine__mask_has(mask, n_mask, "description")) {
		m.description = cls->description;
	}
	if ((rc = class_validate(&m, st)) != FREP_OK ||
	    (rc = class_write(e, ENGINE__STMT_CLASS_UPDATE, &m, st)) != FREP_OK) {
		goto done;
	}
	if (out != NULL) {
		rc = class_require(e, cur.type, cur.name, out, st);
	}
done:
	if (have_cur) {
		engine_class_fini(&cur);
	}
	rc = engine__write_end(e, rc, st);
	if (rc != FREP_OK && out != NULL) {
		engine_class_fini(out);
	}
	return rc;
}

frep_code
engine_class_get(
    engine *e, engine_class_type type, const char *name, engine_class *out, frep_status *st)
{
	frep_code rc;

	if (out == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "out is NULL");
	}
	memset(out, 0, sizeof(*out));
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	rc = class_require(e, type, name, out, st);
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_class_fini(out);
	}
	return rc;
}

frep_code
engine_class_list(engine *e, engine_class_type type, engine_class **out, size_t *n, frep_status *st)
{
	engine_class *vec   = NULL;
	size_t        count = 0, cap = 0;
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;

	*out = NULL;
	*n   = 0;
	if ((rc = engine__read_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if (type == ENGINE_CLASS_TYPE_UNSPECIFIED) {
		s = engine__stmt(e, ENGINE__STMT_CLASS_LIST_ALL);
	} else {
		s = engine__stmt(e, ENGINE__STMT_CLASS_LIST_TYPE);
		sqlite3_bind_int(s, 1, (int) type);
	}
	for (;;) {
		if ((rc = engine__step(e, s, &row, "list classes", st)) != FREP_OK || !row) {
			break;
		}
		if (count == cap) {
			size_t        ncap = cap ? cap * 2 : 8;
			engine_class *nv   = realloc(vec, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = engine__oom(st);
				break;
			}
			vec = nv;
			cap = ncap;
		}
		if ((rc = class_from_row(s, &vec[count], st)) != FREP_OK) {
			break;
		}
		count++;
	}
	rc = engine__read_end(e, rc, st);
	if (rc != FREP_OK) {
		engine_classes_free(vec, count);
		return rc;
	}
	*out = vec;
	*n   = count;
	return FREP_OK;
}

/* FAILED_PRECONDITION naming the first user of a class, if any. */
static frep_code
class_unused(engine *e, engine_class_type type, const char *name, frep_status *st)
{
	sqlite3_stmt *s;
	bool          row;
	frep_code     rc;
	char          where[160];

	if (type == ENGINE_CLASS_TYPE_VENDOR) {
		s = engine__stmt(e, ENGINE__STMT_OPTDEF_BY_VENDOR);
		engine__bind_text(s, 1, name);
		if ((rc = engine__step(e, s, &row, "read option definitions", st)) != FREP_OK) {
			return rc;
		}
		if (row) {
			uint32_t id = engine__col_u32(s, 0);
			sqlite3_reset(s);
			return frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "vendor class '%s' is in use by option definition "
			    "%u (vendor class '%s')",
			    name, id, name);
		}
	}
	s = engine__stmt(e, type == ENGINE_CLASS_TYPE_VENDOR ? ENGINE__STMT_OPTVAL_BY_VENDOR
							     : ENGINE__STMT_OPTVAL_BY_USER);
	engine__bind_text(s, 1, name);
	if ((rc = engine__step(e, s, &row, "read option values", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		uint32_t sid = engine__col_u32(s, 0);
		uint32_t ip  = engine__col_u32(s, 1);
		int64_t  pid = sqlite3_column_int64(s, 2);
		uint32_t id  = engine__col_u32(s, 3);
		sqlite3_reset(s);
		engine__describe_owner(e, sid, ip, pid, where, sizeof(where));
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "%s class '%s' is in use by option value %u of %s", class_word(type), name, id,
		    where);
	}
	s = engine__stmt(e, ENGINE__STMT_CRIT_CLASS_USER);
	sqlite3_bind_int(s, 1,
	    type == ENGINE_CLASS_TYPE_VENDOR ? ENGINE_CRITERION_TYPE_VENDOR_CLASS
					     : ENGINE_CRITERION_TYPE_USER_CLASS);
	engine__bind_text(s, 2, name);
	if ((rc = engine__step(e, s, &row, "read policy criteria", st)) != FREP_OK) {
		return rc;
	}
	if (row) {
		uint32_t sid = engine__col_u32(s, 0);
		char     pname[ENGINE_POLICY_NAME_MAX + 1];
		snprintf(pname, sizeof(pname), "%s", (const char *) sqlite3_column_text(s, 1));
		sqlite3_reset(s);
		if (sid != 0) {
			return frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "%s class '%s' is in use by a criterion of policy "
			    "'%s' of scope %s",
			    class_word(type), name, pname, ENGINE__IP(sid));
		}
		return frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "%s class '%s' is in use by a criterion of server policy "
		    "'%s'",
		    class_word(type), name, pname);
	}
	return FREP_OK;
}

frep_code
engine_class_remove(engine *e, engine_class_type type, const char *name, frep_status *st)
{
	engine_class  cur;
	sqlite3_stmt *s;
	frep_code     rc;

	if ((rc = engine__write_begin(e, st)) != FREP_OK) {
		return rc;
	}
	if ((rc = class_require(e, type, name, &cur, st)) != FREP_OK) {
		goto done;
	}
	engine_class_fini(&cur);
	if ((rc = class_unused(e, type, engine__str(name), st)) != FREP_OK) {
		goto done;
	}
	s = engine__stmt(e, ENGINE__STMT_CLASS_DELETE);
	sqlite3_bind_int(s, 1, (int) type);
	engine__bind_text(s, 2, name);
	rc = engine__exec(e, s, "delete class", st);
done:
	return engine__write_end(e, rc, st);
}
