/* The store: schema and migrations, persistence, and a round trip of every
 * object kind through add / get / list / set / remove. */
#include <time.h>

#include <sqlite3.h>

#include "engine_internal.h"
#include "test/engine_testutil.h"

static void
test_engine_open_creates_schema(void **state)
{
	testdb     *t = testdb_open();
	frep_status st;
	int         version = -1;

	(void) state;
	CHECK_OK(engine_schema_version(t->e, &version, &st), st);
	assert_int_equal(version, ENGINE_SCHEMA_VERSION);
	/* A reopen runs no migration again and keeps the version. */
	testdb_reopen(t);
	CHECK_OK(engine_schema_version(t->e, &version, &st), st);
	assert_int_equal(version, ENGINE_SCHEMA_VERSION);
	testdb_close(t);
}

static void
test_engine_open_refuses_newer_schema(void **state)
{
	testdb     *t = testdb_open();
	sqlite3    *db;
	engine     *e2 = NULL;
	frep_status st;

	(void) state;
	engine_close(t->e);
	t->e = NULL;
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_STATUS(engine_open(t->path, NULL, &e2, &st), st, FREP_FAILED_PRECONDITION,
	    "schema_version 99");
	assert_null(e2);
	testdb_close(t);
}

/* Migration 6 (issue 17): a store of schema version 5 opened by this build
 * gets the audit's request_id column; the rows it held read as "", rows
 * added now keep theirs. The version-5 store is a new one with the column
 * dropped again and user_version 5 (the audit table as version 5 made it). */
static void
test_engine_open_migrates_v5_audit_request_id(void **state)
{
	testdb              *t = testdb_open();
	sqlite3             *db;
	frep_status          st;
	int                  version = -1;
	engine_audit_record *list;
	size_t               n;
	engine_audit_record  r = {.direction = "sent",
	     .source                         = "tcp://10.9.0.1:6470",
	     .relationship                   = "pair",
	     .scope_id                       = IP4(10, 0, 1, 0),
	     .request_id                     = "req-after-migration"};

	(void) state;
	engine_close(t->e);
	t->e = NULL;
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
			     "ALTER TABLE audit DROP COLUMN request_id;"
			     "INSERT INTO audit(time_unix_ms, direction, source, relationship, "
			     "scope_id, digest_before, digest_after, added, updated, removed, "
			     "code, message) VALUES(CAST(strftime('%s', 'now') AS INTEGER) * "
			     "1000, 'applied', 'tcp://10.9.0.2:6470', 'pair', 167772416, '', "
			     "'ab', 1, 0, 0, 0, 'before the migration');"
			     "PRAGMA user_version = 5;",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	testdb_reopen(t);
	CHECK_OK(engine_schema_version(t->e, &version, &st), st);
	assert_int_equal(version, ENGINE_SCHEMA_VERSION);
	CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_string_equal(list[1].message, "before the migration");
	assert_string_equal(list[1].request_id, "");
	assert_int_equal(list[1].scope_id, IP4(10, 0, 1, 0));
	assert_string_equal(list[0].request_id, "req-after-migration");
	engine_audit_records_free(list, n);
	testdb_close(t);
}

/* SEMANTICS.md: the audit is bounded by --audit-max-age-days and
 * --audit-max-rows, applied whenever records are added. Records with
 * explicit times stand in for old ones (no test waits for a day). */
static void
test_engine_audit_retention_by_age_and_rows(void **state)
{
	testdb              *t = testdb_open();
	frep_status          st;
	engine_audit_record *list;
	size_t               n;
	int64_t              now = (int64_t) time(NULL) * 1000;
	engine_audit_record  r   = {.direction = "sent",
	       .source                         = "tcp://10.9.0.1:6470",
	       .relationship                   = "pair",
	       .scope_id                       = IP4(10, 0, 1, 0),
	       .request_id                     = ""};

	(void) state;
	engine_set_audit_retention(t->e, 0, 0); /* no bound: both kept */
	r.time_unix_ms = now - 3 * 86400 * 1000LL;
	r.message      = "three days old";
	CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	r.time_unix_ms = now - 3600 * 1000LL;
	r.message      = "an hour old";
	CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 2);
	engine_audit_records_free(list, n);

	/* One day: the next append deletes what is older. */
	engine_set_audit_retention(t->e, 0, 86400);
	r.time_unix_ms = 0;
	r.message      = "now";
	CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].message, "now");
	assert_string_equal(list[1].message, "an hour old");
	engine_audit_records_free(list, n);

	/* One row: only the newest stays. */
	engine_set_audit_retention(t->e, 1, 0);
	r.message = "newest";
	CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].message, "newest");
	engine_audit_records_free(list, n);
	testdb_close(t);
}

static void
test_engine_open_bad_path(void **state)
{
	engine     *e = NULL;
	frep_status st;

	(void) state;
	CHECK_STATUS(engine_open("/nonexistent-dir/x/y.db", NULL, &e, &st), st, FREP_UNAVAILABLE,
	    "/nonexistent-dir/x/y.db");
	CHECK_STATUS(engine_open("", NULL, &e, &st), st, FREP_INVALID_ARGUMENT, "path");
	engine_close(NULL);
}

static void
test_engine_predefined_options_and_classes(void **state)
{
	testdb            *t = testdb_open();
	frep_status        st;
	engine_option_def *defs;
	size_t             n;
	engine_class      *classes;
	static const struct {
		uint32_t           id;
		engine_option_type type;
		bool               multi;
	} want[] = {{1, ENGINE_OPTION_TYPE_IPV4_ADDRESS, false},
	    {2, ENGINE_OPTION_TYPE_DWORD, false}, {3, ENGINE_OPTION_TYPE_IPV4_ADDRESS, true},
	    {6, ENGINE_OPTION_TYPE_IPV4_ADDRESS, true}, {12, ENGINE_OPTION_TYPE_STRING, false},
	    {15, ENGINE_OPTION_TYPE_STRING, false}, {26, ENGINE_OPTION_TYPE_WORD, false},
	    {43, ENGINE_OPTION_TYPE_BINARY_DATA, false}, {46, ENGINE_OPTION_TYPE_BYTE, false},
	    {51, ENGINE_OPTION_TYPE_DWORD, false}, {60, ENGINE_OPTION_TYPE_STRING, false},
	    {81, ENGINE_OPTION_TYPE_BINARY_DATA, false},
	    {119, ENGINE_OPTION_TYPE_BINARY_DATA, false},
	    {121, ENGINE_OPTION_TYPE_BINARY_DATA, false}, {252, ENGINE_OPTION_TYPE_STRING, false}};

	(void) state;
	CHECK_OK(engine_option_def_list(t->e, "", false, &defs, &n, &st), st);
	assert_true(n >= 26);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		bool seen = false;
		for (size_t i = 0; i < n; i++) {
			if (defs[i].option_id == want[w].id) {
				seen = true;
				assert_int_equal(defs[i].type, want[w].type);
				assert_int_equal(defs[i].multi_valued, want[w].multi);
				assert_true(defs[i].predefined);
			}
		}
		assert_true(seen);
	}
	engine_option_defs_free(defs, n);
	/* Predefined ones cannot be removed. */
	char *before = store_dump(t->path);
	CHECK_STATUS(engine_option_def_remove(t->e, 6, "", &st), st, FREP_FAILED_PRECONDITION,
	    "option definition 6", "predefined");
	char *after = store_dump(t->path);
	assert_string_equal(before, after);
	free(before);
	free(after);

	CHECK_OK(engine_class_list(t->e, ENGINE_CLASS_TYPE_USER, &classes, &n, &st), st);
	bool bootp = false;
	for (size_t i = 0; i < n; i++) {
		bootp = bootp || strcmp(classes[i].name, "Default BOOTP Class") == 0;
	}
	assert_true(bootp);
	engine_classes_free(classes, n);
	testdb_close(t);
}

static void
test_engine_scope_round_trip(void **state)
{
	testdb       *t = testdb_open();
	frep_status   st;
	engine_scope  s = scope24(1, "office"), out, got;
	engine_scope *list;
	size_t        n;

	(void) state;
	s.description     = "second floor";
	s.superscope_name = "campus";
	s.delay_ms        = 250;
	CHECK_OK(engine_scope_add(t->e, &s, &out, &st), st);
	/* Defaults as config.proto says. */
	assert_int_equal(out.lease_duration_s, 691200);
	assert_int_equal(out.state, ENGINE_SCOPE_STATE_ACTIVE);
	assert_int_equal(out.type, ENGINE_CLIENT_TYPE_DHCP);
	assert_int_equal(out.max_bootp_clients, 4294967295u);
	assert_true(out.activate_policies);
	assert_string_equal(out.name, "office");
	assert_string_equal(out.description, "second floor");
	assert_string_equal(out.superscope_name, "campus");
	assert_int_equal(out.delay_ms, 250);
	engine_scope_fini(&out);

	/* Persistence across close/open. */
	testdb_reopen(t);
	CHECK_OK(engine_scope_get(t->e, IP4(10, 0, 1, 0), &got, &st), st);
	assert_int_equal(got.start_range, IP4(10, 0, 1, 10));
	assert_int_equal(got.end_range, IP4(10, 0, 1, 200));
	assert_string_equal(got.name, "office");
	engine_scope_fini(&got);

	/* Set with a mask changes only the named fields. */
	engine_scope upd    = {.scope_id = IP4(10, 0, 1, 0),
	       .name                     = "renamed",
	       .description              = "ignored",
	       .lease_duration_s         = 3600};
	const char  *mask[] = {"name", "lease_duration_s"};
	CHECK_OK(engine_scope_set(t->e, &upd, mask, 2, &out, &st), st);
	assert_string_equal(out.name, "renamed");
	assert_string_equal(out.description, "second floor");
	assert_int_equal(out.lease_duration_s, 3600);
	assert_int_equal(out.subnet_mask, IP4(255, 255, 255, 0));
	engine_scope_fini(&out);

	add_scope24(t->e, 2, "lab");
	CHECK_OK(engine_scope_list(t->e, &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].scope_id, IP4(10, 0, 1, 0));
	assert_int_equal(list[1].scope_id, IP4(10, 0, 2, 0));
	engine_scopes_free(list, n);

	CHECK_OK(engine_scope_remove(t->e, IP4(10, 0, 2, 0), false, &st), st);
	CHECK_STATUS(engine_scope_get(t->e, IP4(10, 0, 2, 0), &got, &st), st, FREP_NOT_FOUND,
	    "scope 10.0.2.0");
	CHECK_STATUS(engine_scope_remove(t->e, IP4(10, 0, 2, 0), false, &st), st, FREP_NOT_FOUND,
	    "10.0.2.0");
	testdb_close(t);
}

static void
test_engine_exclusion_round_trip(void **state)
{
	testdb           *t = testdb_open();
	frep_status       st;
	engine_exclusion *list;
	size_t            n;
	engine_exclusion  a = {IP4(10, 0, 1, 0), IP4(10, 0, 1, 50), IP4(10, 0, 1, 60)};
	engine_exclusion  b = {IP4(10, 0, 1, 0), IP4(10, 0, 1, 20), IP4(10, 0, 1, 20)};

	(void) state;
	add_scope24(t->e, 1, "office");
	CHECK_OK(engine_exclusion_add(t->e, &a, &st), st);
	CHECK_OK(engine_exclusion_add(t->e, &b, &st), st);
	testdb_reopen(t);
	CHECK_OK(engine_exclusion_list(t->e, IP4(10, 0, 1, 0), &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].start_range, IP4(10, 0, 1, 20));
	assert_int_equal(list[1].start_range, IP4(10, 0, 1, 50));
	assert_int_equal(list[1].end_range, IP4(10, 0, 1, 60));
	engine_exclusions_free(list, n);
	CHECK_OK(engine_exclusion_remove(t->e, &a, &st), st);
	CHECK_STATUS(
	    engine_exclusion_remove(t->e, &a, &st), st, FREP_NOT_FOUND, "10.0.1.50-10.0.1.60");
	CHECK_OK(engine_exclusion_list(t->e, 0, &list, &n, &st), st);
	assert_int_equal(n, 1);
	engine_exclusions_free(list, n);
	testdb_close(t);
}

static void
test_engine_reservation_round_trip(void **state)
{
	testdb             *t = testdb_open();
	frep_status         st;
	char               *dns[]  = {"10.0.1.1", "10.0.1.2"};
	char               *host[] = {"printer"};
	engine_option_value opts[] = {
	    {.option_id = 6, .values = dns, .n_values = 2},
	    {.option_id = 12, .values = host, .n_values = 1},
	};
	engine_reservation r = {.scope_id = IP4(10, 0, 1, 0),
	    .ip_address                   = IP4(10, 0, 1, 5),
	    .client_id                    = "00:11:22:AA:BB:CC",
	    .name                         = "printer",
	    .description                  = "hall",
	    .options                      = opts,
	    .n_options                    = 2};
	engine_reservation out, got, *list;
	size_t             n;

	(void) state;
	add_scope24(t->e, 1, "office");
	CHECK_OK(engine_reservation_add(t->e, &r, &out, &st), st);
	assert_string_equal(out.client_id, "00-11-22-aa-bb-cc");
	assert_int_equal(out.type, ENGINE_CLIENT_TYPE_BOTH);
	assert_int_equal(out.n_options, 2);
	engine_reservation_fini(&out);

	testdb_reopen(t);
	CHECK_OK(engine_reservation_get(t->e, IP4(10, 0, 1, 0), IP4(10, 0, 1, 5), &got, &st), st);
	assert_string_equal(got.name, "printer");
	assert_string_equal(got.description, "hall");
	assert_int_equal(got.n_options, 2);
	assert_int_equal(got.options[0].option_id, 6);
	assert_int_equal(got.options[0].n_values, 2);
	assert_string_equal(got.options[0].values[1], "10.0.1.2");
	assert_string_equal(got.options[1].values[0], "printer");
	engine_reservation_fini(&got);

	/* Set: new client id and options replaced. */
	engine_reservation upd    = {.scope_id = IP4(10, 0, 1, 0),
	       .ip_address                     = IP4(10, 0, 1, 5),
	       .client_id                      = "001122334455",
	       .options                        = opts,
	       .n_options                      = 1};
	const char        *mask[] = {"client_id", "options"};
	CHECK_OK(engine_reservation_set(t->e, &upd, mask, 2, &out, &st), st);
	assert_string_equal(out.client_id, "00-11-22-33-44-55");
	assert_string_equal(out.name, "printer");
	assert_int_equal(out.n_options, 1);
	engine_reservation_fini(&out);

	engine_reservation r2 = {.scope_id = IP4(10, 0, 1, 0),
	    .ip_address                    = IP4(10, 0, 1, 6),
	    .client_id                     = "aa-aa-aa-aa-aa-aa"};
	CHECK_OK(engine_reservation_add(t->e, &r2, NULL, &st), st);
	CHECK_OK(engine_reservation_list(t->e, 0, &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].ip_address, IP4(10, 0, 1, 5));
	assert_int_equal(list[0].n_options, 1);
	assert_int_equal(list[1].n_options, 0);
	engine_reservations_free(list, n);

	CHECK_OK(engine_reservation_remove(t->e, IP4(10, 0, 1, 0), IP4(10, 0, 1, 5), &st), st);
	CHECK_STATUS(engine_reservation_get(t->e, IP4(10, 0, 1, 0), IP4(10, 0, 1, 5), &got, &st),
	    st, FREP_NOT_FOUND, "10.0.1.5");
	/* Its options went with it. */
	engine_option_target tg = {.scope_id = IP4(10, 0, 1, 0), .reserved_ip = IP4(10, 0, 1, 5)};
	engine_option_value *vals;
	CHECK_STATUS(
	    engine_option_value_list(t->e, &tg, &vals, &n, &st), st, FREP_NOT_FOUND, "10.0.1.5");
	testdb_close(t);
}

static void
test_engine_option_def_and_value_round_trip(void **state)
{
	testdb             *t = testdb_open();
	frep_status         st;
	char               *dflt[] = {"7"};
	engine_option_def   d      = {.option_id = 200,
		   .name                         = "Custom",
		   .type                         = ENGINE_OPTION_TYPE_WORD,
		   .default_value                = dflt,
		   .n_default_value              = 1};
	engine_option_def   out;
	char               *v[] = {"00042"};
	engine_option_value val = {.option_id = 200, .values = v, .n_values = 1};
	engine_option_value got, *list;
	size_t              n;

	(void) state;
	CHECK_OK(engine_option_def_add(t->e, &d, &out, &st), st);
	assert_false(out.predefined);
	assert_int_equal(out.n_default_value, 1);
	engine_option_def_fini(&out);

	/* Server-level value, normalised. */
	CHECK_OK(engine_option_value_set(t->e, NULL, &val, &got, &st), st);
	assert_string_equal(got.values[0], "42");
	engine_option_value_fini(&got);

	/* Scope-level value with a user class. */
	add_scope24(t->e, 1, "office");
	engine_option_target tg = {.scope_id = IP4(10, 0, 1, 0)};
	val.user_class          = "Default BOOTP Class";
	CHECK_OK(engine_option_value_set(t->e, &tg, &val, NULL, &st), st);
	/* Replacing the same identity keeps one value. */
	v[0] = "43";
	CHECK_OK(engine_option_value_set(t->e, &tg, &val, NULL, &st), st);
	testdb_reopen(t);
	CHECK_OK(engine_option_value_list(t->e, &tg, &list, &n, &st), st);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].user_class, "Default BOOTP Class");
	assert_string_equal(list[0].values[0], "43");
	engine_option_values_free(list, n);
	CHECK_OK(engine_option_value_get(t->e, &tg, 200, "", "Default BOOTP Class", &got, &st), st);
	engine_option_value_fini(&got);

	/* In use: the definition cannot go. */
	CHECK_STATUS(engine_option_def_remove(t->e, 200, "", &st), st, FREP_FAILED_PRECONDITION,
	    "option definition 200", "in use by");
	CHECK_OK(engine_option_value_remove(t->e, &tg, 200, "", "Default BOOTP Class", &st), st);
	CHECK_OK(engine_option_value_remove(t->e, NULL, 200, "", "", &st), st);
	CHECK_STATUS(
	    engine_option_value_remove(t->e, NULL, 200, "", "", &st), st, FREP_NOT_FOUND, "200");

	/* Set a definition, then remove it. */
	engine_option_def upd    = {.option_id = 200, .name = "Renamed"};
	const char       *mask[] = {"name"};
	CHECK_OK(engine_option_def_set(t->e, &upd, mask, 1, &out, &st), st);
	assert_string_equal(out.name, "Renamed");
	assert_int_equal(out.type, ENGINE_OPTION_TYPE_WORD);
	engine_option_def_fini(&out);
	CHECK_OK(engine_option_def_remove(t->e, 200, "", &st), st);
	CHECK_STATUS(engine_option_def_get(t->e, 200, "", &out, &st), st, FREP_NOT_FOUND,
	    "option definition 200");
	testdb_close(t);
}

static void
test_engine_class_round_trip(void **state)
{
	testdb      *t = testdb_open();
	frep_status  st;
	engine_class c = {.name = "Phones",
	    .type               = ENGINE_CLASS_TYPE_VENDOR,
	    .data               = "PHONE 1.0",
	    .description        = "desk phones"};
	engine_class out;

	(void) state;
	CHECK_OK(engine_class_add(t->e, &c, &out, &st), st);
	engine_class_fini(&out);
	testdb_reopen(t);
	CHECK_OK(engine_class_get(t->e, ENGINE_CLASS_TYPE_VENDOR, "Phones", &out, &st), st);
	assert_string_equal(out.data, "PHONE 1.0");
	engine_class_fini(&out);
	engine_class upd = {
	    .name = "Phones", .type = ENGINE_CLASS_TYPE_VENDOR, .data = "PHONE 2.0"};
	const char *mask[] = {"data"};
	CHECK_OK(engine_class_set(t->e, &upd, mask, 1, &out, &st), st);
	assert_string_equal(out.data, "PHONE 2.0");
	assert_string_equal(out.description, "desk phones");
	engine_class_fini(&out);
	CHECK_OK(engine_class_remove(t->e, ENGINE_CLASS_TYPE_VENDOR, "Phones", &st), st);
	CHECK_STATUS(engine_class_get(t->e, ENGINE_CLASS_TYPE_VENDOR, "Phones", &out, &st), st,
	    FREP_NOT_FOUND, "Phones");
	testdb_close(t);
}

static void
test_engine_policy_round_trip(void **state)
{
	testdb          *t = testdb_open();
	frep_status      st;
	char            *macs[] = {"00:11:22:33:44:55", "AA-BB-CC*"};
	char            *vcls[] = {"Microsoft Options"};
	engine_criterion crit[] = {
	    {.type          = ENGINE_CRITERION_TYPE_MAC_ADDRESS,
		.comparator = ENGINE_COMPARATOR_EQ,
		.values     = macs,
		.n_values   = 2},
	    {.type          = ENGINE_CRITERION_TYPE_VENDOR_CLASS,
		.comparator = ENGINE_COMPARATOR_NE,
		.values     = vcls,
		.n_values   = 1},
	};
	engine_ip_range ranges[] = {
	    {IP4(10, 0, 1, 100), IP4(10, 0, 1, 120)}, {IP4(10, 0, 1, 20), IP4(10, 0, 1, 30)}};
	char               *router[] = {"10.0.1.1"};
	engine_option_value opts[]   = {{.option_id = 3, .values = router, .n_values = 1}};
	engine_policy       p        = {.name = "phones",
			 .scope_id            = IP4(10, 0, 1, 0),
			 .criteria            = crit,
			 .n_criteria          = 2,
			 .ip_ranges           = ranges,
			 .n_ip_ranges         = 2,
			 .options             = opts,
			 .n_options           = 1,
			 .lease_duration_s    = 3600};
	engine_policy       out, *list;
	size_t              n;

	(void) state;
	add_scope24(t->e, 1, "office");
	CHECK_OK(engine_policy_add(t->e, &p, &out, &st), st);
	assert_true(out.enabled);
	assert_int_equal(out.condition, ENGINE_POLICY_CONDITION_OR);
	assert_int_equal(out.processing_order, 1);
	engine_policy_fini(&out);

	testdb_reopen(t);
	CHECK_OK(engine_policy_get(t->e, IP4(10, 0, 1, 0), "phones", &out, &st), st);
	assert_int_equal(out.n_criteria, 2);
	assert_int_equal(out.criteria[0].n_values, 2);
	assert_string_equal(out.criteria[0].values[0], "00-11-22-33-44-55");
	assert_string_equal(out.criteria[0].values[1], "aa-bb-cc*");
	assert_int_equal(out.criteria[1].comparator, ENGINE_COMPARATOR_NE);
	assert_int_equal(out.n_ip_ranges, 2);
	assert_int_equal(out.ip_ranges[0].start_range, IP4(10, 0, 1, 20));
	assert_int_equal(out.n_options, 1);
	assert_int_equal(out.lease_duration_s, 3600);
	engine_policy_fini(&out);

	/* A second policy goes after the first. */
	engine_policy p2 = {.name = "laptops", .scope_id = IP4(10, 0, 1, 0)};
	CHECK_OK(engine_policy_add(t->e, &p2, &out, &st), st);
	assert_int_equal(out.processing_order, 2);
	engine_policy_fini(&out);

	/* Range add / remove. */
	engine_ip_range extra = {IP4(10, 0, 1, 150), IP4(10, 0, 1, 160)};
	CHECK_OK(engine_policy_range_add(t->e, IP4(10, 0, 1, 0), "laptops", &extra, &out, &st), st);
	assert_int_equal(out.n_ip_ranges, 1);
	engine_policy_fini(&out);
	CHECK_OK(
	    engine_policy_range_remove(t->e, IP4(10, 0, 1, 0), "laptops", &extra, &out, &st), st);
	assert_int_equal(out.n_ip_ranges, 0);
	engine_policy_fini(&out);

	/* Set: disable, AND. */
	engine_policy upd    = {.name = "phones",
	       .scope_id              = IP4(10, 0, 1, 0),
	       .enabled_present       = true,
	       .enabled               = false,
	       .condition             = ENGINE_POLICY_CONDITION_AND};
	const char   *mask[] = {"enabled", "condition"};
	CHECK_OK(engine_policy_set(t->e, &upd, mask, 2, &out, &st), st);
	assert_false(out.enabled);
	assert_int_equal(out.condition, ENGINE_POLICY_CONDITION_AND);
	assert_int_equal(out.n_criteria, 2);
	engine_policy_fini(&out);

	CHECK_OK(engine_policy_list(t->e, IP4(10, 0, 1, 0), &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "phones");
	assert_string_equal(list[1].name, "laptops");
	engine_policies_free(list, n);

	/* Server-level policy. */
	engine_policy sp = {.name = "global"};
	CHECK_OK(engine_policy_add(t->e, &sp, NULL, &st), st);
	CHECK_OK(engine_policy_list(t->e, 0, &list, &n, &st), st);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].scope_id, 0);
	engine_policies_free(list, n);

	CHECK_OK(engine_policy_remove(t->e, IP4(10, 0, 1, 0), "phones", &st), st);
	CHECK_STATUS(engine_policy_get(t->e, IP4(10, 0, 1, 0), "phones", &out, &st), st,
	    FREP_NOT_FOUND, "phones");
	testdb_close(t);
}

static void
test_engine_failover_round_trip(void **state)
{
	testdb         *t = testdb_open();
	frep_status     st;
	uint32_t        ids[] = {IP4(10, 0, 1, 0)};
	engine_failover r     = {.name = "dc1-dc2",
		.partner_server        = "tcp://10.9.0.2:6470",
		.shared_secret         = "s3cret",
		.scope_ids             = ids,
		.n_scope_ids           = 1};
	engine_failover out, *list;
	size_t          n;
	char           *secret;
	bool            found;
	char            name[ENGINE_RELATIONSHIP_NAME_MAX + 1];

	(void) state;
	add_scope24(t->e, 1, "office");
	add_scope24(t->e, 2, "lab");
	CHECK_OK(engine_failover_add(t->e, &r, &out, &st), st);
	assert_int_equal(out.mode, ENGINE_FAILOVER_MODE_LOAD_BALANCE);
	assert_int_equal(out.load_balance_percent, 50);
	assert_int_equal(out.reserve_percent, 5);
	assert_int_equal(out.max_client_lead_time_s, 3600);
	assert_int_equal(out.state, ENGINE_FAILOVER_STATE_NORMAL);
	assert_null(out.shared_secret);
	assert_int_equal(out.n_scope_ids, 1);
	engine_failover_fini(&out);

	testdb_reopen(t);
	CHECK_OK(engine_failover_get(t->e, "dc1-dc2", &out, &st), st);
	assert_null(out.shared_secret);
	assert_string_equal(out.partner_server, "tcp://10.9.0.2:6470");
	engine_failover_fini(&out);
	CHECK_OK(engine_failover_secret(t->e, "dc1-dc2", &secret, &st), st);
	assert_string_equal(secret, "s3cret");
	free(secret);

	/* An empty-mask set without a secret keeps the secret. */
	engine_failover upd = {.name = "dc1-dc2",
	    .partner_server          = "tcp://10.9.0.3:6470",
	    .mode                    = ENGINE_FAILOVER_MODE_HOT_STANDBY,
	    .server_role             = ENGINE_SERVER_ROLE_STANDBY,
	    .reserve_percent         = 10,
	    .max_client_lead_time_s  = 60,
	    .state                   = ENGINE_FAILOVER_STATE_NORMAL};
	CHECK_OK(engine_failover_set(t->e, &upd, NULL, 0, &out, &st), st);
	assert_int_equal(out.mode, ENGINE_FAILOVER_MODE_HOT_STANDBY);
	engine_failover_fini(&out);
	CHECK_OK(engine_failover_secret(t->e, "dc1-dc2", &secret, &st), st);
	assert_string_equal(secret, "s3cret");
	free(secret);

	uint32_t more[] = {IP4(10, 0, 2, 0)};
	CHECK_OK(engine_failover_add_scopes(t->e, "dc1-dc2", more, 1, &out, &st), st);
	assert_int_equal(out.n_scope_ids, 2);
	engine_failover_fini(&out);
	CHECK_OK(engine_failover_of_scope(t->e, IP4(10, 0, 2, 0), &found, name, &st), st);
	assert_true(found);
	assert_string_equal(name, "dc1-dc2");
	CHECK_OK(engine_failover_remove_scopes(t->e, "dc1-dc2", more, 1, NULL, &st), st);
	CHECK_OK(engine_failover_of_scope(t->e, IP4(10, 0, 2, 0), &found, name, &st), st);
	assert_false(found);

	CHECK_OK(engine_failover_list(t->e, &list, &n, &st), st);
	assert_int_equal(n, 1);
	assert_null(list[0].shared_secret);
	engine_failovers_free(list, n);

	CHECK_OK(engine_failover_remove(t->e, "dc1-dc2", &st), st);
	CHECK_STATUS(
	    engine_failover_get(t->e, "dc1-dc2", &out, &st), st, FREP_NOT_FOUND, "dc1-dc2");
	/* The scopes stay. */
	engine_scope sc;
	CHECK_OK(engine_scope_get(t->e, IP4(10, 0, 1, 0), &sc, &st), st);
	engine_scope_fini(&sc);
	testdb_close(t);
}

static void
test_engine_scope_remove_takes_contents(void **state)
{
	testdb              *t = testdb_open();
	frep_status          st;
	char                *v[] = {"10.0.1.1"};
	engine_option_value  ov  = {.option_id = 3, .values = v, .n_values = 1};
	engine_option_target tg  = {.scope_id = IP4(10, 0, 1, 0)};
	engine_reservation   r   = {.scope_id = IP4(10, 0, 1, 0),
		.ip_address                   = IP4(10, 0, 1, 5),
		.client_id                    = "01-02-03-04-05-06",
		.options                      = &ov,
		.n_options                    = 1};
	engine_policy        p   = {
		     .name = "p", .scope_id = IP4(10, 0, 1, 0), .options = &ov, .n_options = 1};
	engine_exclusion x = {IP4(10, 0, 1, 0), IP4(10, 0, 1, 10), IP4(10, 0, 1, 11)};

	(void) state;
	char *empty = store_dump(t->path);
	add_scope24(t->e, 1, "office");
	CHECK_OK(engine_option_value_set(t->e, &tg, &ov, NULL, &st), st);
	CHECK_OK(engine_reservation_add(t->e, &r, NULL, &st), st);
	CHECK_OK(engine_policy_add(t->e, &p, NULL, &st), st);
	CHECK_OK(engine_exclusion_add(t->e, &x, &st), st);
	CHECK_OK(engine_scope_remove(t->e, IP4(10, 0, 1, 0), false, &st), st);
	char *after = store_dump(t->path);
	assert_string_equal(empty, after);
	free(empty);
	free(after);
	testdb_close(t);
}

static int batch_hook_calls;

static void
count_commit(void *arg)
{
	(void) arg;
	batch_hook_calls++;
}

static engine_class
user_class(const char *name)
{
	return (engine_class){
	    .name = (char *) name, .type = ENGINE_CLASS_TYPE_USER, .data = (char *) name};
}

/* A batch (issue 15, ReplicateServerSettings' partner side): the calls in
 * it are one transaction with one commit; a failing call inside it
 * changes nothing and the others stay; a discarded batch leaves nothing;
 * a second batch on the thread is refused. */
static void
test_engine_batch_is_one_transaction(void **state)
{
	testdb      *t = testdb_open();
	frep_status  st;
	engine_class c, got;

	(void) state;
	engine_set_commit_hook(t->e, count_commit, NULL);
	batch_hook_calls = 0;
	CHECK_OK(engine_batch_begin(t->e, &st), st);
	CHECK_STATUS(engine_batch_begin(t->e, &st), st, FREP_FAILED_PRECONDITION, "batch");
	c = user_class("One");
	CHECK_OK(engine_class_add(t->e, &c, NULL, &st), st);
	CHECK_STATUS(engine_class_add(t->e, &c, NULL, &st), st, FREP_ALREADY_EXISTS, "One");
	c = user_class("Two");
	CHECK_OK(engine_class_add(t->e, &c, NULL, &st), st);
	assert_int_equal(batch_hook_calls, 0);
	CHECK_OK(engine_batch_end(t->e, true, &st), st);
	assert_int_equal(batch_hook_calls, 1);
	CHECK_OK(engine_class_get(t->e, ENGINE_CLASS_TYPE_USER, "One", &got, &st), st);
	engine_class_fini(&got);
	CHECK_OK(engine_class_get(t->e, ENGINE_CLASS_TYPE_USER, "Two", &got, &st), st);
	engine_class_fini(&got);

	CHECK_OK(engine_batch_begin(t->e, &st), st);
	c = user_class("Three");
	CHECK_OK(engine_class_add(t->e, &c, NULL, &st), st);
	CHECK_OK(engine_batch_end(t->e, false, &st), st);
	CHECK_STATUS(engine_class_get(t->e, ENGINE_CLASS_TYPE_USER, "Three", &got, &st), st,
	    FREP_NOT_FOUND, "Three");
	CHECK_STATUS(engine_batch_end(t->e, true, &st), st, FREP_FAILED_PRECONDITION, "no batch");
	engine_set_commit_hook(t->e, NULL, NULL);
	testdb_close(t);
}

/* auto_sync (issue 15): ON for a new relationship, OFF on request, a Set
 * with UNSPECIFIED leaves it, an out-of-range value is refused naming it. */
static void
test_engine_failover_auto_sync(void **state)
{
	testdb         *t = testdb_open();
	frep_status     st;
	engine_failover rel = {
	    .name = "r", .partner_server = "tcp://127.0.0.1:1", .shared_secret = "s"};
	engine_failover got;
	const char     *mask[] = {"auto_sync"};

	(void) state;
	CHECK_OK(engine_failover_add(t->e, &rel, &got, &st), st);
	assert_int_equal(got.auto_sync, ENGINE_AUTO_SYNC_ON);
	engine_failover_fini(&got);
	rel.auto_sync = ENGINE_AUTO_SYNC_OFF;
	CHECK_OK(engine_failover_set(t->e, &rel, mask, 1, &got, &st), st);
	assert_int_equal(got.auto_sync, ENGINE_AUTO_SYNC_OFF);
	engine_failover_fini(&got);
	rel.auto_sync = ENGINE_AUTO_SYNC_UNSPECIFIED;
	CHECK_OK(engine_failover_set(t->e, &rel, mask, 1, &got, &st), st);
	assert_int_equal(got.auto_sync, ENGINE_AUTO_SYNC_OFF);
	engine_failover_fini(&got);
	rel.auto_sync = (engine_auto_sync) 9;
	CHECK_STATUS(engine_failover_set(t->e, &rel, mask, 1, NULL, &st), st, FREP_INVALID_ARGUMENT,
	    "auto_sync 9");
	testdb_reopen(t);
	CHECK_OK(engine_failover_get(t->e, "r", &got, &st), st);
	assert_int_equal(got.auto_sync, ENGINE_AUTO_SYNC_OFF);
	engine_failover_fini(&got);
	testdb_close(t);
}

/* The statements allowed to walk a whole table or to sort in a temporary
 * b-tree (test_engine_statements_seek), each for its reason. */
static const struct {
	const char *id;
	const char *why;
} plan_walks[] = {
    {"SCOPE_LIST", "lists every scope"},
    {"EXCL_LIST_ALL", "lists every exclusion"},
    {"RES_LIST_ALL", "lists every reservation"},
    {"OPTVAL_RES_ALL", "lists every reservation option"},
    {"OPTDEF_LIST_ALL", "lists every option definition (hundreds at most)"},
    {"OPTDEF_LIST_VENDOR", "option definitions: hundreds at most"},
    {"OPTDEF_BY_VENDOR", "option definitions: hundreds at most"},
    {"CLASS_LIST_ALL", "lists every class"},
    {"FO_LIST", "lists every relationship"},
    {"FO_COUNT", "counts the relationships"},
    {"OPTVAL_RES_SCOPE", "sorts the options of one scope's reservations, found by key"},
    {"POLICY_LIST_ORDER", "sorts one scope's policies, found by key"},
    {"AUDIT_LIST", "newest first, stops at the limit (a relationship filter may read further)"},
};

/* EXPLAIN QUERY PLAN of every statement the engine prepares
 * (ENGINE__STMT_LIST), on the real schema: none walks a table or sorts
 * in a temporary b-tree but those of plan_walks, so that no per-object
 * check of an apply grows with the store (a scope's overlap check walked
 * half the scope table for each scope of an apply). The engine runs no
 * ANALYZE, so SQLite plans from the schema alone: these are the plans of
 * a store of any size. An entry of plan_walks that no longer walks fails
 * too (the list stays true). A one-sided range ("SEARCH ... (start_range<?)")
 * is not told apart from a seek here: SCOPE_OVERLAP's is bounded by its
 * ORDER BY ... LIMIT 1 on the index, which engine_validation_test's
 * test_engine_scope_overlap_any_geometry holds to the overlap rule. */
static void
test_engine_statements_seek(void **state)
{
	static const struct {
		const char *id;
		const char *sql;
	} stmts[] = {
#define STMT_ROW(id, sql) {#id, sql},
	    ENGINE__STMT_LIST(STMT_ROW)
#undef STMT_ROW
	};
	testdb  *t = testdb_open();
	sqlite3 *db;
	size_t   n_walks        = sizeof(plan_walks) / sizeof(plan_walks[0]);
	bool     walked[64]     = {false};
	char     failures[4096] = "";

	(void) state;
	assert_true(n_walks <= 64);
	assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		char          sql[2048];
		char          plan[1024] = "";
		bool          walks      = false;
		sqlite3_stmt *q;
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", stmts[i].sql);
		if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
			fail_msg("%s: %s", stmts[i].id, sqlite3_errmsg(db));
		}
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *d = (const char *) sqlite3_column_text(q, 3);
			if (d != NULL &&
			    (strncmp(d, "SCAN ", 5) == 0 || strstr(d, "TEMP B-TREE"))) {
				walks = true;
			}
			snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s; ",
			    d != NULL ? d : "");
		}
		sqlite3_finalize(q);
		size_t k = 0;
		while (k < n_walks && strcmp(plan_walks[k].id, stmts[i].id) != 0) {
			k++;
		}
		if (k < n_walks) {
			walked[k] = walks;
		} else if (walks) {
			snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures),
			    "%s walks: %s\n", stmts[i].id, plan);
		}
	}
	for (size_t k = 0; k < n_walks; k++) {
		if (!walked[k]) {
			snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures),
			    "%s is listed as walking (%s) but does not, or is gone\n",
			    plan_walks[k].id, plan_walks[k].why);
		}
	}
	sqlite3_close(db);
	testdb_close(t);
	if (failures[0] != '\0') {
		fail_msg("%s", failures);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_open_creates_schema),
	    cmocka_unit_test(test_engine_statements_seek),
	    cmocka_unit_test(test_engine_batch_is_one_transaction),
	    cmocka_unit_test(test_engine_failover_auto_sync),
	    cmocka_unit_test(test_engine_open_refuses_newer_schema),
	    cmocka_unit_test(test_engine_open_migrates_v5_audit_request_id),
	    cmocka_unit_test(test_engine_audit_retention_by_age_and_rows),
	    cmocka_unit_test(test_engine_open_bad_path),
	    cmocka_unit_test(test_engine_predefined_options_and_classes),
	    cmocka_unit_test(test_engine_scope_round_trip),
	    cmocka_unit_test(test_engine_exclusion_round_trip),
	    cmocka_unit_test(test_engine_reservation_round_trip),
	    cmocka_unit_test(test_engine_option_def_and_value_round_trip),
	    cmocka_unit_test(test_engine_class_round_trip),
	    cmocka_unit_test(test_engine_policy_round_trip),
	    cmocka_unit_test(test_engine_failover_round_trip),
	    cmocka_unit_test(test_engine_scope_remove_takes_contents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
