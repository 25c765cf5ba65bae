/*
 * kea_option_matrix_test: valid by construction. For every option
 * definition a new store holds (RFC 2132's and the others frep predefines)
 * and, for every type and arity, a custom definition on every other code
 * 1..254, edge values (empty, shortest, longest, most values, odd bytes,
 * DNS names with labels and compression pointers, ...) go through frep's
 * validation (engine_option_value_validate, the check SetOptionValue and a
 * partner's apply make); every value frep accepts is rendered as Kea would
 * get it (kea_render_option_value / kea_render_option_def) and checked with
 * `kea-dhcp4 -t`, a few hundred subnets (one value each) per run. A refused
 * run is bisected to name each value. Pass: zero values accepted by frep and
 * refused by Kea. Needs kea-dhcp4 (make deps); without it: FREP-SKIP(kea), 77.
 *
 * Pins issue 16: `option set --raw 15 ""` and `option set 119 c0-a8-01`
 * were accepted and made Kea refuse every later configuration.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kea_render.h"
#include "test/engine_testutil.h"

#define BATCH 400

/* A value set: up to 64 values. */
typedef struct vset {
	const char *v[64];
	size_t      n;
} vset;

static char tmpdir[96];
static long n_checked, n_accepted, n_kea_runs;

static bool
have_kea(void)
{
	return system("command -v kea-dhcp4 >/dev/null 2>&1") == 0;
}

/* kea-dhcp4 -t on {option-def: defs, subnet4: subnets[lo, hi)}; true when
 * accepted. *why (when given) receives Kea's last log line. */
static bool
kea_accepts(const json_t *defs, const json_t *subnets, size_t lo, size_t hi, char *why, size_t wn)
{
	char    path[128], log[128], cmd[640];
	json_t *subs = json_array();
	for (size_t i = lo; i < hi; i++) {
		json_array_append(subs, json_array_get(subnets, i));
	}
	json_t *cfg = json_pack("{s:{s:O, s:o, s:{s:s, s:b}}}", "Dhcp4", "option-def", defs,
	    "subnet4", subs, "lease-database", "type", "memfile", "persist", 0);
	assert_non_null(cfg);
	snprintf(path, sizeof(path), "%s/kea.json", tmpdir);
	snprintf(log, sizeof(log), "%s/kea.log", tmpdir);
	assert_int_equal(json_dump_file(cfg, path, JSON_COMPACT), 0);
	json_decref(cfg);
	snprintf(cmd, sizeof(cmd),
	    "KEA_PIDFILE_DIR=%s KEA_LOCKFILE_DIR=%s kea-dhcp4 -t %s >%s 2>&1", tmpdir, tmpdir, path,
	    log);
	n_kea_runs++;
	int rc = system(cmd);
	if (rc != 0 && why != NULL) {
		FILE *f = fopen(log, "r");
		char  line[512];
		why[0] = '\0';
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			if (strstr(line, "rror") != NULL) {
				snprintf(why, wn, "%s", line);
			}
		}
		if (f != NULL) {
			fclose(f);
		}
	}
	return rc == 0;
}

/* Names every subnet in [lo, hi) Kea refuses (known: the range fails). */
static void
bisect(const json_t *defs, const json_t *subnets, const json_t *labels, size_t lo, size_t hi,
    int *failures)
{
	char why[512];
	if (hi - lo == 1) {
		kea_accepts(defs, subnets, lo, hi, why, sizeof(why));
		fprintf(stderr, "ACCEPTED BY FREP, REFUSED BY KEA: %s\n    %s",
		    json_string_value(json_array_get(labels, lo)), why);
		(*failures)++;
		return;
	}
	size_t mid = lo + (hi - lo) / 2;
	if (!kea_accepts(defs, subnets, lo, mid, NULL, 0)) {
		bisect(defs, subnets, labels, lo, mid, failures);
	}
	if (!kea_accepts(defs, subnets, mid, hi, NULL, 0)) {
		bisect(defs, subnets, labels, mid, hi, failures);
	}
}

typedef struct batch {
	json_t *defs; /* borrowed */
	json_t *subnets;
	json_t *labels;
	int     failures;
} batch;

static void
flush(batch *b)
{
	size_t n = json_array_size(b->subnets);
	if (n > 0 && !kea_accepts(b->defs, b->subnets, 0, n, NULL, 0)) {
		bisect(b->defs, b->subnets, b->labels, 0, n, &b->failures);
	}
	json_array_clear(b->subnets);
	json_array_clear(b->labels);
}

/* Validates one value set for def; renders and queues it when accepted. */
static void
try_value(batch *b, const engine_option_def *defs, size_t n_defs, const engine_option_def *def,
    const vset *vs)
{
	engine_option_value in = {
	    .option_id = def->option_id, .values = (char **) vs->v, .n_values = vs->n};
	engine_option_value norm;
	frep_status         st;
	char                label[512];
	int                 k;

	n_checked++;
	if (engine_option_value_validate(def, &in, &norm, &st) != FREP_OK) {
		/* A refusal names the option and says why. */
		assert_int_equal(st.code, FREP_INVALID_ARGUMENT);
		assert_non_null(strstr(st.message, "option "));
		return;
	}
	n_accepted++;
	json_t *od = kea_render_option_value(defs, n_defs, &norm);
	k          = snprintf(label, sizeof(label), "option %u (%s%s) values [", def->option_id,
		     engine_option_type_name(def->type), def->multi_valued ? ", multi" : "");
	for (size_t i = 0; i < norm.n_values && k < (int) sizeof(label) - 80; i++) {
		k += snprintf(label + k, sizeof(label) - (size_t) k, "%s'%.60s'", i ? ", " : "",
		    norm.values[i]);
	}
	snprintf(label + k, sizeof(label) - (size_t) k, "]%s", norm.n_values > 1 ? " (more)" : "");
	engine_option_value_fini(&norm);
	if (od == NULL) {
		return; /* not option data (option 81: DNS settings) */
	}
	size_t idx = json_array_size(b->subnets);
	char   subnet[32];
	snprintf(subnet, sizeof(subnet), "10.%zu.%zu.0/24", idx / 256, idx % 256);
	json_array_append_new(b->subnets, json_pack("{s:I, s:s, s:[o]}", "id", (json_int_t) idx + 1,
					      "subnet", subnet, "option-data", od));
	json_array_append_new(b->labels, json_string(label));
	if (json_array_size(b->subnets) >= BATCH) {
		flush(b);
	}
}

/* --- edge values ---------------------------------------------------------- */

static char long_string[256], over_string[201], over_string2[101];
static char bin_255_00[255 * 3], bin_255_ff[255 * 3], label63[70 * 3], label64[70 * 3],
    name255[260 * 3], name256[260 * 3];

static void
hex_fill(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sprintf(out + 3 * i, i + 1 < n ? "%02x-" : "%02x", b[i]);
	}
}

/* A DNS name of labels of the given lengths, hex. */
static void
name_fill(char *out, const int *lens, size_t n)
{
	uint8_t b[300];
	size_t  k = 0;
	for (size_t i = 0; i < n; i++) {
		b[k++] = (uint8_t) lens[i];
		memset(b + k, 'a', (size_t) lens[i]);
		k += (size_t) lens[i];
	}
	b[k++] = 0;
	hex_fill(out, b, k);
}

static void
edge_init(void)
{
	uint8_t b[255];
	memset(long_string, 'x', 255);
	memset(over_string, 'y', 200);
	memset(over_string2, 'z', 100);
	memset(b, 0, sizeof(b));
	hex_fill(bin_255_00, b, 255);
	memset(b, 0xff, sizeof(b));
	hex_fill(bin_255_ff, b, 255);
	name_fill(label63, (const int[]){63}, 1);
	name_fill(label64, (const int[]){64}, 1);
	name_fill(name255, (const int[]){63, 63, 63, 61}, 4);
	name_fill(name256, (const int[]){63, 63, 63, 62}, 4);
}

/* The value sets for type, into out (at most cap); the count. */
static size_t
edge_values(engine_option_type type, vset *out, size_t cap)
{
	size_t n = 0;
#define ONE(x)                                                                                     \
	out[n++] = (vset)                                                                          \
	{                                                                                          \
		.v = {x}, .n = 1                                                                   \
	}
#define TWO(x, y)                                                                                  \
	out[n++] = (vset)                                                                          \
	{                                                                                          \
		.v = {x, y}, .n = 2                                                                \
	}
#define MANY(x, count)                                                                             \
	do {                                                                                       \
		out[n].n = count;                                                                  \
		for (size_t i_ = 0; i_ < (count); i_++) {                                          \
			out[n].v[i_] = x;                                                          \
		}                                                                                  \
		n++;                                                                               \
	} while (0)
	switch (type) {
	case ENGINE_OPTION_TYPE_BYTE:
		ONE("0");
		ONE("1");
		ONE("2");
		ONE("255");
		TWO("0", "1");
		MANY("255", 64);
		break;
	case ENGINE_OPTION_TYPE_WORD:
		ONE("0");
		ONE("65535");
		TWO("1", "2");
		MANY("65535", 64);
		break;
	case ENGINE_OPTION_TYPE_DWORD:
		ONE("0");
		ONE("4294967295");
		TWO("1", "2");
		MANY("4294967295", 63);
		MANY("1", 64);
		break;
	case ENGINE_OPTION_TYPE_DWORD_DWORD:
		ONE("0");
		ONE("18446744073709551615");
		TWO("1", "2");
		MANY("7", 31);
		MANY("7", 32);
		break;
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS:
		ONE("0.0.0.0");
		ONE("255.255.255.255");
		ONE("10.0.0.1");
		TWO("10.0.0.1", "10.0.0.2");
		MANY("192.0.2.1", 63);
		MANY("192.0.2.1", 64);
		break;
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS:
		ONE("::");
		ONE("fe80::1");
		TWO("::1", "::2");
		MANY("2001:db8::1", 15);
		MANY("2001:db8::1", 16);
		break;
	case ENGINE_OPTION_TYPE_STRING:
		ONE("");
		ONE(" ");
		ONE("a");
		ONE("a,b");
		ONE("a\\,b");
		ONE(" a ");
		ONE("a\"b'c");
		ONE(long_string);
		ONE("\xc3\xa9t\xc3\xa9");
		ONE("a\tb");
		ONE("example.com");
		TWO("", "");
		TWO("a", "b");
		TWO(over_string, over_string2);
		MANY("q", 64);
		break;
	case ENGINE_OPTION_TYPE_BINARY_DATA:
	case ENGINE_OPTION_TYPE_ENCAPSULATED_DATA:
		ONE("00");
		ONE("01");
		ONE("02");
		ONE("ff");
		ONE("00-00");
		ONE("00-00-00");
		ONE(bin_255_00);
		ONE(bin_255_ff);
		ONE("0a-00-00-01");
		ONE("0a-00-00");
		ONE("0a-00-00-01-0a");
		ONE("03-61-62-63-00");
		ONE("03-61-62-63-00-c0-00");
		ONE("c0-00");
		ONE("c0-a8-01");
		ONE("03-61-62-63");
		ONE("03-61-62-63-00-00");
		ONE(label63);
		ONE(label64);
		ONE(name255);
		ONE(name256);
		ONE("01-0a-00-00-01-0a-00-00-02-03-61-62-63-00");
		ONE("00-00-00-01");
		ONE("00-00-00-01-01-02");
		ONE("00-00-00-01-01-01-41");
		ONE("00-00-00-01-00");
		ONE("00-00-00-01-02-41");
		ONE("00-00-00-15");
		TWO("01", "02");
		TWO("03-61-62-63", "00");
		MANY("ff", 64);
		break;
	default:
		break;
	}
#undef ONE
#undef TWO
#undef MANY
	assert_true(n <= cap);
	return n;
}

/* --- the tests ------------------------------------------------------------ */

static int
setup(void **state)
{
	(void) state;
	if (!have_kea()) {
		/* Tagged for tests/skip_guard.sh; 77 is ctest's SKIP_RETURN_CODE. */
		printf("FREP-SKIP(kea): kea-dhcp4 is not on PATH (make deps): no option value "
		       "checked\n");
		fflush(stdout);
		exit(77);
	}
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/frep-keamatrix-XXXXXX", base) >=
	    (int) sizeof(tmpdir)) {
		fail_msg("TMPDIR %s: path too long", base);
	}
	assert_non_null(mkdtemp(tmpdir));
	edge_init();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];
	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void) system(cmd);
	return 0;
}

/* Every predefined definition of a new store, every edge value of its
 * type. */
static void
test_kea_option_matrix_predefined(void **state)
{
	testdb            *t = testdb_open();
	engine_option_def *defs;
	size_t             n_defs;
	frep_status        st;
	vset               vs[64];
	(void) state;

	CHECK_OK(engine_option_def_list(t->e, NULL, true, &defs, &n_defs, &st), st);
	assert_true(n_defs >= 45);
	batch b = {.defs = json_array(), .subnets = json_array(), .labels = json_array()};
	for (size_t i = 0; i < n_defs; i++) {
		size_t n = edge_values(defs[i].type, vs, 64);
		for (size_t k = 0; k < n; k++) {
			try_value(&b, defs, n_defs, &defs[i], &vs[k]);
		}
	}
	flush(&b);
	print_message("predefined: %ld value sets, %ld accepted, %ld kea-dhcp4 runs\n", n_checked,
	    n_accepted, n_kea_runs);
	json_decref(b.defs);
	json_decref(b.subnets);
	json_decref(b.labels);
	engine_option_defs_free(defs, n_defs);
	testdb_close(t);
	assert_int_equal(b.failures, 0);
}

/* For each type and arity: a custom definition on every code 1..254 frep
 * does not predefine (codes Kea defines and codes it does not), every edge
 * value of the type. */
static void
test_kea_option_matrix_custom(void **state)
{
	testdb            *t = testdb_open();
	engine_option_def *pre;
	size_t             n_pre;
	frep_status        st;
	vset               vs[64];
	int                failures = 0;
	(void) state;

	CHECK_OK(engine_option_def_list(t->e, NULL, true, &pre, &n_pre, &st), st);
	for (int type = ENGINE_OPTION_TYPE_BYTE; type <= ENGINE_OPTION_TYPE_IPV6_ADDRESS; type++) {
		for (int multi = 0; multi <= 1; multi++) {
			engine_option_def defs[256];
			size_t            n_defs = 0;
			json_t           *jdefs  = json_array();
			for (uint32_t code = 1; code <= 254; code++) {
				bool predefined = false;
				for (size_t i = 0; i < n_pre; i++) {
					predefined |= pre[i].option_id == code;
				}
				if (predefined) {
					continue;
				}
				defs[n_defs] = (engine_option_def){.option_id = code,
				    .vendor_class                             = "",
				    .name                                     = "custom",
				    .description                              = "",
				    .type         = (engine_option_type) type,
				    .multi_valued = multi != 0};
				json_t *d    = kea_render_option_def(&defs[n_defs]);
				if (d != NULL) {
					json_array_append_new(jdefs, d);
				}
				n_defs++;
			}
			batch  b = {.defs = jdefs, .subnets = json_array(), .labels = json_array()};
			size_t n = edge_values((engine_option_type) type, vs, 64);
			for (size_t i = 0; i < n_defs; i++) {
				for (size_t k = 0; k < n; k++) {
					try_value(&b, defs, n_defs, &defs[i], &vs[k]);
				}
			}
			flush(&b);
			failures += b.failures;
			json_decref(jdefs);
			json_decref(b.subnets);
			json_decref(b.labels);
		}
	}
	print_message("all: %ld value sets, %ld accepted, %ld kea-dhcp4 runs\n", n_checked,
	    n_accepted, n_kea_runs);
	engine_option_defs_free(pre, n_pre);
	testdb_close(t);
	assert_int_equal(failures, 0);
}

/* The values of the issue, through the store path (SetOptionValue's engine
 * call): refused with INVALID_ARGUMENT naming option, field and value, and
 * nothing stored. */
static void
test_kea_option_issue_values_refused(void **state)
{
	testdb     *t = testdb_open();
	frep_status st;
	(void) state;

	engine_scope sc = {.scope_id = IP4(10, 1, 0, 0),
	    .subnet_mask             = IP4(255, 255, 255, 0),
	    .name                    = "s",
	    .start_range             = IP4(10, 1, 0, 10),
	    .end_range               = IP4(10, 1, 0, 200)};
	CHECK_OK(engine_scope_add(t->e, &sc, NULL, &st), st);
	engine_option_target scope  = {.scope_id = sc.scope_id};
	engine_option_target server = {0};
	struct {
		const engine_option_target *target;
		uint32_t                    code;
		const char                 *value;
		const char                 *needle;
	} cases[] = {
	    {&server, 15, "", "values ''"},
	    {&scope, 15, "", "values ''"},
	    {&scope, 119, "c0-a8-01", "compression pointer"},
	    {&scope, 119, "03-61-62-63", "cut short"},
	    {&scope, 60, "", "option 60"},
	    {&scope, 66, "", "option 66"},
	    {&scope, 19, "2", "boolean"},
	    {&scope, 81, "01", "DNS update settings"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char               *vals[] = {(char *) cases[i].value};
		engine_option_value v = {.option_id = cases[i].code, .values = vals, .n_values = 1};
		frep_code rc = engine_option_value_set(t->e, cases[i].target, &v, NULL, &st);
		if (rc != FREP_INVALID_ARGUMENT || strstr(st.message, cases[i].needle) == NULL) {
			fail_msg("option %u '%s': %s: %s", cases[i].code, cases[i].value,
			    frep_code_name(rc), st.message);
		}
		char opt[32];
		snprintf(opt, sizeof(opt), "option %u", cases[i].code);
		assert_non_null(strstr(st.message, opt));
	}
	engine_option_value *vals;
	size_t               n;
	CHECK_OK(engine_option_value_list(t->e, &scope, &vals, &n, &st), st);
	assert_int_equal(n, 0);
	engine_option_values_free(vals, n);

	/* A partner's apply makes the same check: a scope config carrying
	 * option 119 with a bad compression pointer is refused whole. */
	char               *good[] = {"03-61-62-63-00"};
	engine_option_value v119   = {.option_id = 119, .values = good, .n_values = 1};
	CHECK_OK(engine_option_value_set(t->e, &scope, &v119, NULL, &st), st);
	engine_scope_config *cfg = NULL;
	CHECK_OK(engine_scope_snapshot(t->e, sc.scope_id, &cfg, &st), st);
	assert_int_equal(cfg->n_options, 1);
	free(cfg->options[0].values[0]);
	cfg->options[0].values[0] = strdup("c0-a8-01");
	cfg->digest[0]            = '\0';
	testdb   *t2              = testdb_open();
	frep_code rc = engine_scope_apply(t2->e, cfg, false, NULL, NULL, NULL, NULL, NULL, &st);
	if (rc != FREP_INVALID_ARGUMENT || strstr(st.message, "option 119") == NULL ||
	    strstr(st.message, "compression pointer") == NULL) {
		fail_msg("apply: %s: %s", frep_code_name(rc), st.message);
	}
	engine_scope *scopes;
	CHECK_OK(engine_scope_list(t2->e, &scopes, &n, &st), st);
	assert_int_equal(n, 0); /* nothing applied */
	engine_scopes_free(scopes, n);
	engine_scope_config_free(cfg);
	testdb_close(t2);
	testdb_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kea_option_issue_values_refused),
	    cmocka_unit_test(test_kea_option_matrix_predefined),
	    cmocka_unit_test(test_kea_option_matrix_custom),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
