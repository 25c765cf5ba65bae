/* Server-level settings: read, compare, apply (see server_settings.h). */
#include "server_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned    bit;
} kind_names[] = {
    {.name = "option_definitions", .bit = SERVER_SETTINGS_OPTION_DEFINITIONS},
    {.name = "classes", .bit = SERVER_SETTINGS_CLASSES},
    {.name = "options", .bit = SERVER_SETTINGS_OPTIONS},
    {.name = "policies", .bit = SERVER_SETTINGS_POLICIES},
    {.name = NULL},
};

frep_code
server_settings_kinds(
    char *const *names, size_t n, const char *field, unsigned *kinds, frep_status *st)
{
	*kinds = n == 0 ? SERVER_SETTINGS_ALL : 0;
	for (size_t i = 0; i < n; i++) {
		unsigned bit = 0;
		for (size_t k = 0; kind_names[k].name != NULL && bit == 0; k++) {
			if (strcmp(names[i], kind_names[k].name) == 0) {
				bit = kind_names[k].bit;
			}
		}
		if (bit == 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s[%zu] \"%.64s\" is not a kind (option_definitions, classes, "
			    "options, "
			    "policies)",
			    field, i, names[i]);
		}
		if (*kinds & bit) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s[%zu] \"%s\" is named twice", field, i, names[i]);
		}
		*kinds |= bit;
	}
	return FREP_OK;
}

frep_code
server_settings_collect(engine *e, Frep__V1__ServerSettings **out, frep_status *st)
{
	convert_arena  arena;
	convert_arena *a = &arena;
	convert_arena_init(a);
	engine_option_def        *defs   = NULL;
	engine_class             *cls    = NULL;
	engine_option_value      *opts   = NULL;
	engine_policy            *pols   = NULL;
	size_t                    n_defs = 0, n_cls = 0, n_opts = 0, n_pols = 0;
	engine_option_target      server = {0};
	frep_code                 rc;
	Frep__V1__ServerSettings *m;

	*out = NULL;
	if ((m = convert_arena_alloc(a, sizeof(*m), st)) == NULL) {
		return st->code;
	}
	frep__v1__server_settings__init(m);
	if ((rc = engine_option_def_list(e, NULL, true, &defs, &n_defs, st)) != FREP_OK ||
	    (rc = engine_class_list(e, ENGINE_CLASS_TYPE_UNSPECIFIED, &cls, &n_cls, st)) !=
		FREP_OK ||
	    (rc = engine_option_value_list(e, &server, &opts, &n_opts, st)) != FREP_OK ||
	    (rc = engine_policy_list(e, 0, &pols, &n_pols, st)) != FREP_OK) {
		goto fail;
	}
	m->option_definitions = convert_arena_alloc(a, (n_defs + 1) * sizeof(void *), st);
	m->classes            = convert_arena_alloc(a, (n_cls + 1) * sizeof(void *), st);
	m->options            = convert_arena_alloc(a, (n_opts + 1) * sizeof(void *), st);
	m->policies           = convert_arena_alloc(a, (n_pols + 1) * sizeof(void *), st);
	if (m->option_definitions == NULL || m->classes == NULL || m->options == NULL ||
	    m->policies == NULL) {
		rc = st->code;
		goto fail;
	}
	for (size_t i = 0; i < n_defs; i++) {
		if ((rc = convert_option_def_to_proto(
			 &defs[i], a, &m->option_definitions[i], st)) != FREP_OK) {
			goto fail;
		}
	}
	for (size_t i = 0; i < n_cls; i++) {
		if ((rc = convert_class_to_proto(&cls[i], a, &m->classes[i], st)) != FREP_OK) {
			goto fail;
		}
	}
	for (size_t i = 0; i < n_opts; i++) {
		if ((rc = convert_option_value_to_proto(&opts[i], a, &m->options[i], st)) !=
		    FREP_OK) {
			goto fail;
		}
	}
	for (size_t i = 0; i < n_pols; i++) {
		if ((rc = convert_policy_to_proto(&pols[i], a, &m->policies[i], st)) != FREP_OK) {
			goto fail;
		}
	}
	m->n_option_definitions = n_defs;
	m->n_classes            = n_cls;
	m->n_options            = n_opts;
	m->n_policies           = n_pols;
	/* The converted messages borrow the engine's strings: a packed and
	 * unpacked copy is the caller's own. */
	size_t   len = protobuf_c_message_get_packed_size(&m->base);
	uint8_t *buf = malloc(len + 1);
	if (buf == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	protobuf_c_message_pack(&m->base, buf);
	*out = frep__v1__server_settings__unpack(NULL, len, buf);
	free(buf);
	if (*out == NULL) {
		rc = frep_status_set(
		    st, FREP_RESOURCE_EXHAUSTED, "server-level settings: out of memory");
	}
fail:
	convert_arena_fini(a);
	engine_option_defs_free(defs, n_defs);
	engine_classes_free(cls, n_cls);
	engine_option_values_free(opts, n_opts);
	engine_policies_free(pols, n_pols);
	return rc;
}

/* --- comparing -------------------------------------------------------------- */

/* One object of one side: its kind, its key in text and its packed bytes
 * (equal bytes = equal object: both sides encode with the same code). */
typedef struct item {
	const char             *kind;
	char                   *key;
	uint8_t                *bytes;
	size_t                  len;
	const ProtobufCMessage *msg;
} item;

typedef struct items {
	item  *v;
	size_t n, cap;
} items;

static void
items_fini(items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].key);
		free(it->v[i].bytes);
	}
	free(it->v);
}

static frep_code
items_add(
    items *it, const char *kind, const char *key, const ProtobufCMessage *msg, frep_status *st)
{
	if (it->n == it->cap) {
		size_t nc = it->cap ? it->cap * 2 : 64;
		item  *nv = realloc(it->v, nc * sizeof(*nv));
		if (nv == NULL) {
			return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		}
		it->v   = nv;
		it->cap = nc;
	}
	item *x  = &it->v[it->n];
	x->kind  = kind;
	x->msg   = msg;
	x->len   = protobuf_c_message_get_packed_size(msg);
	x->key   = strdup(key);
	x->bytes = malloc(x->len + 1);
	if (x->key == NULL || x->bytes == NULL) {
		free(x->key);
		free(x->bytes);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	protobuf_c_message_pack(msg, x->bytes);
	it->n++;
	return FREP_OK;
}

static const char *
class_type_name(int type)
{
	return type == FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR ? "vendor" : "user";
}

static frep_code
items_of(const Frep__V1__ServerSettings *s, unsigned kinds, items *it, frep_status *st)
{
	char      key[600];
	frep_code rc = FREP_OK;

	if (s == NULL) {
		return FREP_OK;
	}
	for (size_t i = 0; (kinds & SERVER_SETTINGS_CLASSES) && i < s->n_classes && !rc; i++) {
		const Frep__V1__Class *c = s->classes[i];
		snprintf(key, sizeof(key), "%s/%s", class_type_name(c->type), c->name);
		rc = items_add(it, "class", key, &c->base, st);
	}
	for (size_t i = 0;
	     (kinds & SERVER_SETTINGS_OPTION_DEFINITIONS) && i < s->n_option_definitions && !rc;
	     i++) {
		const Frep__V1__OptionDefinition *d = s->option_definitions[i];
		if (d->vendor_class[0] != '\0') {
			snprintf(key, sizeof(key), "%u/%s", d->option_id, d->vendor_class);
		} else {
			snprintf(key, sizeof(key), "%u", d->option_id);
		}
		rc = items_add(it, "option_definition", key, &d->base, st);
	}
	for (size_t i = 0; (kinds & SERVER_SETTINGS_OPTIONS) && i < s->n_options && !rc; i++) {
		const Frep__V1__OptionValue *o = s->options[i];
		if (o->vendor_class[0] != '\0' || o->user_class[0] != '\0') {
			snprintf(key, sizeof(key), "%u/%s/%s", o->option_id, o->vendor_class,
			    o->user_class);
		} else {
			snprintf(key, sizeof(key), "%u", o->option_id);
		}
		rc = items_add(it, "option", key, &o->base, st);
	}
	for (size_t i = 0; (kinds & SERVER_SETTINGS_POLICIES) && i < s->n_policies && !rc; i++) {
		rc = items_add(it, "policy", s->policies[i]->name, &s->policies[i]->base, st);
	}
	return rc;
}

static int
kind_rank(const char *kind)
{
	return strcmp(kind, "class") == 0               ? 0
	       : strcmp(kind, "option_definition") == 0 ? 1
	       : strcmp(kind, "option") == 0            ? 2
							: 3;
}

static int
item_cmp(const void *a, const void *b)
{
	const item *x = a, *y = b;
	int         k = kind_rank(x->kind) - kind_rank(y->kind);
	return k != 0 ? k : strcmp(x->key, y->key);
}

/* One difference, with the object from each side (NULL where absent). */
typedef struct change {
	const item *here, *there;
} change;

/* Merges the two sorted lists into the changes (*out malloc'ed). */
static frep_code
changes_of(items *h, items *t, change **out, size_t *n, frep_status *st)
{
	size_t i = 0, j = 0, k = 0;
	qsort(h->v, h->n, sizeof(item), item_cmp);
	qsort(t->v, t->n, sizeof(item), item_cmp);
	*out = malloc((h->n + t->n + 1) * sizeof(change));
	if (*out == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	while (i < h->n || j < t->n) {
		int c = i == h->n ? 1 : j == t->n ? -1 : item_cmp(&h->v[i], &t->v[j]);
		if (c < 0) {
			(*out)[k++] = (change){.here = &h->v[i++]};
		} else if (c > 0) {
			(*out)[k++] = (change){.there = &t->v[j++]};
		} else {
			if (h->v[i].len != t->v[j].len ||
			    memcmp(h->v[i].bytes, t->v[j].bytes, h->v[i].len) != 0) {
				(*out)[k++] = (change){.here = &h->v[i], .there = &t->v[j]};
			}
			i++;
			j++;
		}
	}
	*n = k;
	return FREP_OK;
}

static frep_code
diffs_to_proto(const change *ch, size_t n, convert_arena *a, Frep__V1__ServerSettingDiff ***out,
    size_t *n_out, frep_status *st)
{
	*out   = NULL;
	*n_out = 0;
	if (n == 0) {
		return FREP_OK;
	}
	if ((*out = convert_arena_alloc(a, (n + 1) * sizeof(**out), st)) == NULL) {
		return st->code;
	}
	for (size_t i = 0; i < n; i++) {
		Frep__V1__ServerSettingDiff *d    = convert_arena_alloc(a, sizeof(*d), st);
		const item                  *some = ch[i].here != NULL ? ch[i].here : ch[i].there;
		if (d == NULL) {
			return st->code;
		}
		frep__v1__server_setting_diff__init(d);
		d->kind = convert_arena_strdup(a, some->kind, st);
		d->key  = convert_arena_strdup(a, some->key, st);
		if (d->kind == NULL || d->key == NULL) {
			return st->code;
		}
		d->difference = ch[i].there == NULL
				    ? FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE
				: ch[i].here == NULL
				    ? FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE
				    : FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_DIFFERENT;
		(*out)[i]     = d;
	}
	*n_out = n;
	return FREP_OK;
}

frep_code
server_settings_diff(const Frep__V1__ServerSettings *here, const Frep__V1__ServerSettings *there,
    unsigned kinds, convert_arena *a, Frep__V1__ServerSettingDiff ***out, size_t *n,
    frep_status *st)
{
	items     h = {0}, t = {0};
	change   *ch   = NULL;
	size_t    n_ch = 0;
	frep_code rc;

	if ((rc = items_of(here, kinds, &h, st)) == FREP_OK &&
	    (rc = items_of(there, kinds, &t, st)) == FREP_OK &&
	    (rc = changes_of(&h, &t, &ch, &n_ch, st)) == FREP_OK) {
		rc = diffs_to_proto(ch, n_ch, a, out, n, st);
	}
	free(ch);
	items_fini(&h);
	items_fini(&t);
	return rc;
}

/* --- applying --------------------------------------------------------------- */

/* Names the object in a refusal: "class user/Lab: ...". */
static frep_code
name_object(const item *x, frep_code rc, frep_status *st)
{
	char msg[FREP_STATUS_MESSAGE_MAX + 700];
	snprintf(msg, sizeof(msg), "%s %s: %s", x->kind, x->key, st->message);
	return frep_status_set(st, rc, "%s", msg);
}

/* Adds (was absent here) or updates an object to the incoming version. */
static frep_code
put_one(engine *e, const item *x, bool exists, frep_status *st)
{
	convert_arena a;
	frep_code     rc;
	int           rank = kind_rank(x->kind);

	convert_arena_init(&a);
	if (rank == 0) {
		engine_class c;
		if ((rc = convert_class_from_proto(
			 (const Frep__V1__Class *) x->msg, "class", &c, st)) == FREP_OK) {
			rc = exists ? engine_class_set(e, &c, NULL, 0, NULL, st)
				    : engine_class_add(e, &c, NULL, st);
		}
	} else if (rank == 1) {
		engine_option_def d;
		if ((rc = convert_option_def_from_proto((const Frep__V1__OptionDefinition *) x->msg,
			 "option_definition", &d, st)) == FREP_OK) {
			rc = exists ? engine_option_def_set(e, &d, NULL, 0, NULL, st)
				    : engine_option_def_add(e, &d, NULL, st);
		}
	} else if (rank == 2) {
		engine_option_value  v;
		engine_option_target server = {0};
		if ((rc = convert_option_value_from_proto(
			 (const Frep__V1__OptionValue *) x->msg, "option", &v, st)) == FREP_OK) {
			rc = engine_option_value_set(e, &server, &v, NULL, st);
		}
	} else {
		engine_policy p;
		if ((rc = convert_policy_from_proto(
			 (const Frep__V1__Policy *) x->msg, "policy", &a, &p, st)) == FREP_OK) {
			rc = engine_policy_add(e, &p, NULL, st);
		}
	}
	convert_arena_fini(&a);
	return rc == FREP_OK ? FREP_OK : name_object(x, rc, st);
}

static frep_code
remove_one(engine *e, const item *x, frep_status *st)
{
	int       rank = kind_rank(x->kind);
	frep_code rc;

	if (rank == 0) {
		const Frep__V1__Class *c = (const Frep__V1__Class *) x->msg;
		rc = engine_class_remove(e, (engine_class_type) c->type, c->name, st);
	} else if (rank == 1) {
		const Frep__V1__OptionDefinition *d = (const Frep__V1__OptionDefinition *) x->msg;
		if (d->predefined) {
			return FREP_OK; /* RFC 2132's stay */
		}
		rc = engine_option_def_remove(e, d->option_id, d->vendor_class, st);
	} else if (rank == 2) {
		const Frep__V1__OptionValue *o      = (const Frep__V1__OptionValue *) x->msg;
		engine_option_target         server = {0};
		rc                                  = engine_option_value_remove(
						     e, &server, o->option_id, o->vendor_class, o->user_class, st);
	} else {
		rc = engine_policy_remove(e, 0, ((const Frep__V1__Policy *) x->msg)->name, st);
	}
	return rc == FREP_OK ? FREP_OK : name_object(x, rc, st);
}

/* The changes in an order the engine's rules allow: classes, definitions
 * and values added or updated first (a value needs its definition and
 * classes); policies that differ are removed and added again (processing
 * orders are unique, so they are not updated in place); removals last, in
 * reverse dependency order. ch[] is sorted by kind (classes first). */
static frep_code
apply_changes(engine *e, const change *ch, size_t n, frep_status *st)
{
	frep_code rc;

	for (size_t i = 0; i < n; i++) {
		if (kind_rank(ch[i].there != NULL ? ch[i].there->kind : ch[i].here->kind) == 3 &&
		    ch[i].here != NULL && (rc = remove_one(e, ch[i].here, st)) != FREP_OK) {
			return rc;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (ch[i].there == NULL) {
			continue;
		}
		bool is_policy = kind_rank(ch[i].there->kind) == 3;
		if ((rc = put_one(e, ch[i].there, ch[i].here != NULL && !is_policy, st)) !=
		    FREP_OK) {
			return rc;
		}
	}
	for (size_t i = n; i-- > 0;) {
		if (ch[i].there == NULL && kind_rank(ch[i].here->kind) != 3 &&
		    (rc = remove_one(e, ch[i].here, st)) != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

frep_code
server_settings_apply(engine *e, const Frep__V1__ServerSettings *in, unsigned kinds, bool dry_run,
    convert_arena *a, Frep__V1__ServerSettingDiff ***diff, size_t *n_diff, frep_status *st)
{
	Frep__V1__ServerSettings *here = NULL;
	items                     h = {0}, t = {0};
	change                   *ch   = NULL;
	size_t                    n_ch = 0;
	frep_code                 rc;
	bool                      batch = false;

	*diff   = NULL;
	*n_diff = 0;
	/* Read and change in one transaction: what is compared is what is
	 * replaced. */
	if (!dry_run) {
		if ((rc = engine_batch_begin(e, st)) != FREP_OK) {
			goto out;
		}
		batch = true;
	}
	if ((rc = server_settings_collect(e, &here, st)) != FREP_OK ||
	    (rc = items_of(here, kinds, &h, st)) != FREP_OK ||
	    (rc = items_of(in, kinds, &t, st)) != FREP_OK ||
	    (rc = changes_of(&h, &t, &ch, &n_ch, st)) != FREP_OK ||
	    (rc = diffs_to_proto(ch, n_ch, a, diff, n_diff, st)) != FREP_OK) {
		goto out;
	}
	if (!dry_run) {
		rc = apply_changes(e, ch, n_ch, st);
	}
out:
	if (batch) {
		frep_status end;
		frep_code   erc = engine_batch_end(e, rc == FREP_OK, &end);
		if (rc == FREP_OK && erc != FREP_OK) {
			*st = end;
			rc  = erc;
		}
	}
	free(ch);
	items_fini(&h);
	items_fini(&t);
	if (here != NULL) {
		protobuf_c_message_free_unpacked(&here->base, NULL);
	}
	return rc;
}
