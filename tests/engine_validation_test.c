/* Validation: one bad input per rule. Each asserts the exact code, that the
 * message names the field and the value, and that the store did not change
 * (every row of every table compared before and after). */
#include "ipv4.h"
#include "test/engine_testutil.h"

/* Runs call (which refers to &vst), checks code and substrings, and that
 * the store is byte-for-byte unchanged. */
#define REFUSED(t, call, code, ...)                                                                \
	do {                                                                                       \
		frep_status vst;                                                                   \
		char       *before_ = store_dump((t)->path);                                       \
		frep_code   rc_     = (call);                                                      \
		CHECK_STATUS(rc_, vst, code, __VA_ARGS__);                                         \
		char *after_ = store_dump((t)->path);                                              \
		assert_string_equal(before_, after_);                                              \
		free(before_);                                                                     \
		free(after_);                                                                      \
	} while (0)

#define S1 IP4(10, 0, 1, 0)

/* A store with scope 10.0.1.0/24 (range .10-.200), an exclusion
 * .20-.30 and a reservation .5 = 00-11-22-33-44-55. */
static int
setup(void **state)
{
	testdb            *t = testdb_open();
	frep_status        st;
	engine_exclusion   x = {S1, IP4(10, 0, 1, 20), IP4(10, 0, 1, 30)};
	engine_reservation r = {.scope_id = S1,
	    .ip_address                   = IP4(10, 0, 1, 5),
	    .client_id                    = "00-11-22-33-44-55",
	    .name                         = "printer"};

	add_scope24(t->e, 1, "office");
	CHECK_OK(engine_exclusion_add(t->e, &x, &st), st);
	CHECK_OK(engine_reservation_add(t->e, &r, NULL, &st), st);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	testdb_close(*state);
	return 0;
}

static void
test_engine_scope_mask_not_contiguous(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(2, "x");
	s.subnet_mask  = IP4(255, 0, 255, 0);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "subnet_mask 255.0.255.0", "not contiguous");
}

static void
test_engine_scope_mask_31_32_refused(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(2, "x");
	s.subnet_mask  = IP4(255, 255, 255, 254);
	s.start_range = s.end_range = IP4(10, 0, 2, 1);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "subnet_mask 255.255.255.254", "/31");
	s.subnet_mask = 0xffffffffu;
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "subnet_mask 255.255.255.255", "/32");
}

static void
test_engine_scope_id_disagrees_with_mask(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(2, "x");
	s.scope_id     = IP4(10, 0, 2, 5);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "scope_id 10.0.2.5", "subnet_mask 255.255.255.0", "10.0.2.0");
}

static void
test_engine_scope_range_outside_subnet(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(2, "x");
	s.start_range  = IP4(10, 0, 3, 10);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT, "scope 10.0.2.0",
	    "start_range 10.0.3.10", "outside subnet");
	s             = scope24(2, "x");
	s.start_range = IP4(10, 0, 2, 0);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "start_range 10.0.2.0", "network address");
	s           = scope24(2, "x");
	s.end_range = IP4(10, 0, 2, 255);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "end_range 10.0.2.255", "broadcast address");
}

static void
test_engine_scope_start_after_end(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(2, "x");
	s.start_range  = IP4(10, 0, 2, 200);
	s.end_range    = IP4(10, 0, 2, 10);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "scope 10.0.2.0: start_range 10.0.2.200 is after end_range "
	    "10.0.2.10");
}

static void
test_engine_scope_duplicate_id(void **state)
{
	testdb      *t = *state;
	engine_scope s = scope24(1, "again");
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_ALREADY_EXISTS,
	    "scope 10.0.1.0 already exists");
}

static void
test_engine_scope_ranges_overlap(void **state)
{
	testdb      *t = *state;
	engine_scope s = {.scope_id = IP4(10, 0, 0, 0),
	    .subnet_mask            = IP4(255, 255, 0, 0),
	    .name                   = "wide",
	    .start_range            = IP4(10, 0, 1, 100),
	    .end_range              = IP4(10, 0, 2, 50)};
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "range 10.0.1.100-10.0.2.50", "overlaps", "scope 10.0.1.0");
}

/* A random range of [lo, hi], each end often just at, before or after a
 * boundary of ranges (b[], n of them): where overlap checks go wrong. */
static uint32_t
pick_near(const uint32_t *b, size_t n, uint32_t lo, uint32_t hi)
{
	uint32_t v = lo + (uint32_t) rand() % (hi - lo + 1);
	if (n > 0 && rand() % 4 != 0) {
		v = b[(size_t) rand() % n] + (uint32_t) (rand() % 3) - 1;
	}
	return v < lo ? lo : v > hi ? hi : v;
}

/* The overlap rule for any geometry (SEMANTICS.md: a scope's range may
 * not overlap another scope's): against 60 stored ranges, 400 new scopes
 * and 400 range changes of a stored scope, every one refused exactly when
 * a brute-force comparison with every other stored range finds an
 * overlap, whatever the nearest range is (itself for a change). */
static void
test_engine_scope_overlap_any_geometry(void **state)
{
	testdb     *t = *state;
	frep_status st;
	uint32_t    lo[64], hi[64], bounds[130];
	size_t      n = 0, nb = 0;
	const char *range[] = {"start_range", "end_range"};

	srand(20261202);
	/* 10.2.k.0/24 (k 1..40) and 10.3.k.0/24 (k 1..20), random ranges. */
	for (int net = 2; net <= 3; net++) {
		for (int k = 1; k <= (net == 2 ? 40 : 20); k++) {
			uint32_t a      = IP4(10, net, k, 1 + rand() % 254),
				 b      = IP4(10, net, k, 1 + rand() % 254);
			engine_scope sc = {.scope_id = IP4(10, net, k, 0),
			    .subnet_mask             = IP4(255, 255, 255, 0),
			    .name                    = "r",
			    .start_range             = a < b ? a : b,
			    .end_range               = a < b ? b : a};
			CHECK_OK(engine_scope_add(t->e, &sc, NULL, &st), st);
			lo[n] = sc.start_range;
			hi[n] = sc.end_range;
			n++;
			bounds[nb++] = sc.start_range;
			bounds[nb++] = sc.end_range;
		}
	}
	/* A wide scope 10.3.0.0/16 whose range lies in 10.3.200.x, away from
	 * every stored /24 (they are 10.3.1-20.x). */
	engine_scope w = {.scope_id = IP4(10, 3, 0, 0),
	    .subnet_mask            = IP4(255, 255, 0, 0),
	    .name                   = "wide",
	    .start_range            = IP4(10, 3, 200, 1),
	    .end_range              = IP4(10, 3, 200, 9)};
	CHECK_OK(engine_scope_add(t->e, &w, NULL, &st), st);

	for (int i = 0; i < 800; i++) {
		bool         change = i % 2 == 1;
		int          net    = change ? 3 : 2;
		uint32_t     a = pick_near(bounds, nb, IP4(10, net, 0, 1), IP4(10, net, 255, 254));
		uint32_t     b = pick_near(bounds, nb, IP4(10, net, 0, 1), IP4(10, net, 255, 254));
		engine_scope c = {.scope_id = IP4(10, net, 0, 0),
		    .subnet_mask            = IP4(255, 255, 0, 0),
		    .name                   = "candidate",
		    .start_range            = a < b ? a : b,
		    .end_range              = a < b ? b : a};
		bool         want = false;
		for (size_t k = 0; k < n; k++) {
			want = want || (lo[k] <= c.end_range && hi[k] >= c.start_range);
		}
		frep_code rc = change ? engine_scope_set(t->e, &c, range, 2, NULL, &st)
				      : engine_scope_add(t->e, &c, NULL, &st);
		if (want != (rc == FREP_FAILED_PRECONDITION) || (!want && rc != FREP_OK)) {
			fail_msg("%s %s-%s: %s (%s), expected %s", change ? "change to" : "new",
			    engine_ipv4_format(c.start_range, (char[16]){0}),
			    engine_ipv4_format(c.end_range, (char[16]){0}), frep_code_name(rc),
			    st.message, want ? "an overlap" : "OK");
		}
		if (want) {
			assert_non_null(strstr(st.message, "overlaps the range"));
		} else if (!change) {
			CHECK_OK(engine_scope_remove(t->e, c.scope_id, false, &st), st);
		}
	}
}

static void
test_engine_scope_text_bounds(void **state)
{
	testdb      *t = *state;
	char         long_name[301];
	char         long_desc[1026];
	engine_scope s;

	memset(long_name, 'n', 300);
	long_name[300] = '\0';
	s              = scope24(2, long_name);
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "name is 300 bytes long (at most 255)");
	s.name = "bad\nname";
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "name contains control character 0x0a");
	s.name = "";
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT, "name is empty");
	memset(long_desc, 'd', 1025);
	long_desc[1025] = '\0';
	s.name          = "ok";
	s.description   = long_desc;
	REFUSED(t, engine_scope_add(t->e, &s, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "description is 1025 bytes long (at most 1024)");
}

static void
test_engine_scope_set_validates_whole(void **state)
{
	testdb      *t       = *state;
	engine_scope s       = {.scope_id = S1, .start_range = IP4(10, 0, 1, 250)};
	const char  *start[] = {"start_range"};
	const char  *range[] = {"start_range", "end_range"};
	const char  *bogus[] = {"bogus"};

	REFUSED(t, engine_scope_set(t->e, &s, start, 1, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "start_range 10.0.1.250 is after end_range "
	    "10.0.1.200");
	/* The exclusion .20-.30 would fall outside .25-.200. */
	s.start_range = IP4(10, 0, 1, 25);
	s.end_range   = IP4(10, 0, 1, 200);
	REFUSED(t, engine_scope_set(t->e, &s, range, 2, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "exclusion 10.0.1.20-10.0.1.30", "outside the new range 10.0.1.25-10.0.1.200");
	REFUSED(t, engine_scope_set(t->e, &s, bogus, 1, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "update_mask", "'bogus'");
	s.scope_id = IP4(10, 0, 9, 0);
	REFUSED(t, engine_scope_set(t->e, &s, range, 2, NULL, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
	/* A narrower mask would strand reservation .5 (range .1-.126 fits). */
	engine_scope m    = {.scope_id = S1,
	       .subnet_mask            = IP4(255, 255, 255, 252),
	       .start_range            = IP4(10, 0, 1, 1),
	       .end_range              = IP4(10, 0, 1, 2)};
	const char  *mm[] = {"subnet_mask", "start_range", "end_range"};
	REFUSED(t, engine_scope_set(t->e, &m, mm, 3, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "exclusion 10.0.1.20-10.0.1.30");
}

static void
test_engine_exclusion_rules(void **state)
{
	testdb          *t = *state;
	engine_exclusion x = {S1, IP4(10, 0, 1, 5), IP4(10, 0, 1, 8)};

	REFUSED(t, engine_exclusion_add(t->e, &x, &vst), FREP_INVALID_ARGUMENT,
	    "exclusion start_range 10.0.1.5", "outside", "10.0.1.10-10.0.1.200");
	x.start_range = IP4(10, 0, 1, 190);
	x.end_range   = IP4(10, 0, 1, 210);
	REFUSED(t, engine_exclusion_add(t->e, &x, &vst), FREP_INVALID_ARGUMENT,
	    "exclusion end_range 10.0.1.210", "outside");
	x.start_range = IP4(10, 0, 1, 50);
	x.end_range   = IP4(10, 0, 1, 40);
	REFUSED(t, engine_exclusion_add(t->e, &x, &vst), FREP_INVALID_ARGUMENT,
	    "start_range 10.0.1.50 is after end_range 10.0.1.40");
	x.start_range = IP4(10, 0, 1, 20);
	x.end_range   = IP4(10, 0, 1, 30);
	REFUSED(t, engine_exclusion_add(t->e, &x, &vst), FREP_ALREADY_EXISTS,
	    "exclusion 10.0.1.20-10.0.1.30 already exists");
	x.scope_id = IP4(10, 0, 9, 0);
	REFUSED(t, engine_exclusion_add(t->e, &x, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
}

static void
test_engine_reservation_rules(void **state)
{
	testdb            *t = *state;
	engine_reservation r = {
	    .scope_id = S1, .ip_address = IP4(10, 0, 2, 5), .client_id = "aa-aa-aa-aa-aa-aa"};

	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "reservation 10.0.2.5 lies outside scope "
	    "10.0.1.0/24");
	r.ip_address = IP4(10, 0, 1, 255);
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "reservation 10.0.1.255", "broadcast");
	r.ip_address = IP4(10, 0, 1, 5);
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_ALREADY_EXISTS,
	    "reservation 10.0.1.5 already exists");
	r.ip_address = IP4(10, 0, 1, 6);
	r.client_id  = "00:11:22:33:44:55";
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_ALREADY_EXISTS,
	    "client_id 00-11-22-33-44-55", "reservation 10.0.1.5");
	r.client_id = "00-11-zz";
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT, "client_id",
	    "00-11-zz");
	r.client_id = "";
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "reservation 10.0.1.6: client_id is empty");
	r.client_id = "01-01-01-01-01-01";
	r.scope_id  = IP4(10, 0, 9, 0);
	REFUSED(t, engine_reservation_add(t->e, &r, NULL, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
	/* Set: moving the client id onto another's. */
	engine_reservation r6 = {
	    .scope_id = S1, .ip_address = IP4(10, 0, 1, 6), .client_id = "01-01-01-01-01-01"};
	frep_status st;
	CHECK_OK(engine_reservation_add(t->e, &r6, NULL, &st), st);
	r6.client_id       = "00-11-22-33-44-55";
	const char *mask[] = {"client_id"};
	REFUSED(t, engine_reservation_set(t->e, &r6, mask, 1, NULL, &vst), FREP_ALREADY_EXISTS,
	    "client_id 00-11-22-33-44-55");
	r6.ip_address = IP4(10, 0, 1, 7);
	REFUSED(t, engine_reservation_set(t->e, &r6, mask, 1, NULL, &vst), FREP_NOT_FOUND,
	    "reservation 10.0.1.7 does not exist");
}

static void
test_engine_option_definition_missing(void **state)
{
	testdb              *t   = *state;
	char                *v[] = {"1"};
	engine_option_value  ov  = {.option_id = 250, .values = v, .n_values = 1};
	engine_option_target tg  = {.scope_id = S1};

	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_NOT_FOUND,
	    "option definition 250 (vendor class '') does not "
	    "exist");
	ov.option_id    = 6;
	ov.vendor_class = "Nope";
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_NOT_FOUND,
	    "option definition 6 (vendor class 'Nope') does "
	    "not exist");
}

static void
expect_bad_value(testdb *t, uint32_t option_id, const char *value, const char *type_name)
{
	char                *v[] = {(char *) value};
	engine_option_value  ov  = {.option_id = option_id, .values = v, .n_values = 1};
	engine_option_target tg  = {.scope_id = S1};
	char                 want[64];

	snprintf(want, sizeof(want), "values[0] '%s'", value);
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_INVALID_ARGUMENT, want,
	    type_name);
}

static void
test_engine_option_value_types(void **state)
{
	testdb           *t = *state;
	frep_status       st;
	engine_option_def d6 = {
	    .option_id = 200, .name = "v6", .type = ENGINE_OPTION_TYPE_IPV6_ADDRESS};
	engine_option_def dd = {
	    .option_id = 201, .name = "dd", .type = ENGINE_OPTION_TYPE_DWORD_DWORD};

	CHECK_OK(engine_option_def_add(t->e, &d6, NULL, &st), st);
	CHECK_OK(engine_option_def_add(t->e, &dd, NULL, &st), st);
	expect_bad_value(t, 46, "256", "BYTE");
	expect_bad_value(t, 46, "-1", "BYTE");
	expect_bad_value(t, 26, "65536", "WORD");
	expect_bad_value(t, 26, "12a", "WORD");
	expect_bad_value(t, 51, "4294967296", "DWORD");
	expect_bad_value(t, 51, "", "DWORD");
	expect_bad_value(t, 201, "18446744073709551616", "DWORD_DWORD");
	expect_bad_value(t, 6, "10.0.0.256", "IPV4_ADDRESS");
	expect_bad_value(t, 43, "zz", "BINARY_DATA");
	expect_bad_value(t, 200, "::g", "IPV6_ADDRESS");

	/* And the good ones are normalised. */
	char                *v[] = {"fe80:0:0:0:0:0:0:1"};
	engine_option_value  ov  = {.option_id = 200, .values = v, .n_values = 1};
	engine_option_value  out;
	engine_option_target tg = {.scope_id = S1};
	CHECK_OK(engine_option_value_set(t->e, &tg, &ov, &out, &st), st);
	assert_string_equal(out.values[0], "fe80::1");
	engine_option_value_fini(&out);
	ov.option_id = 43;
	v[0]         = "DEADBEEF";
	CHECK_OK(engine_option_value_set(t->e, &tg, &ov, &out, &st), st);
	assert_string_equal(out.values[0], "de-ad-be-ef");
	engine_option_value_fini(&out);
}

static void
test_engine_option_value_arity(void **state)
{
	testdb              *t     = *state;
	char                *two[] = {"255.255.255.0", "255.255.0.0"};
	engine_option_value  ov    = {.option_id = 1, .values = two, .n_values = 2};
	engine_option_target tg    = {.scope_id = S1};

	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "option 1", "values has 2 entries", "not multi-valued");
	ov.n_values = 0;
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "option 1", "values is empty");
	char *many[65];
	for (int i = 0; i < 65; i++) {
		many[i] = "10.0.0.1";
	}
	ov.option_id = 6;
	ov.values    = many;
	ov.n_values  = 65;
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "option 6",
	    "values has 65 entries (at most "
	    "64)");
	char long_value[300];
	memset(long_value, 's', 299);
	long_value[299] = '\0';
	char *lv[]      = {long_value};
	ov.option_id    = 15;
	ov.values       = lv;
	ov.n_values     = 1;
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "values[0] is 299 bytes long (at most 255)");
}

static void
test_engine_option_value_classes_exist(void **state)
{
	testdb             *t   = *state;
	char               *v[] = {"10.0.1.1"};
	engine_option_value ov = {.option_id = 3, .user_class = "Nope", .values = v, .n_values = 1};
	engine_option_target tg = {.scope_id = S1};
	engine_option_def    d  = {
		.option_id = 1, .vendor_class = "Nope", .name = "x", .type = ENGINE_OPTION_TYPE_BYTE};

	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_NOT_FOUND,
	    "user_class 'Nope' does not exist");
	REFUSED(t, engine_option_def_add(t->e, &d, NULL, &vst), FREP_NOT_FOUND,
	    "vendor_class 'Nope' does not exist");
	tg.scope_id   = IP4(10, 0, 9, 0);
	ov.user_class = "";
	REFUSED(t, engine_option_value_set(t->e, &tg, &ov, NULL, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
}

static void
test_engine_option_definition_rules(void **state)
{
	testdb           *t = *state;
	engine_option_def d = {.option_id = 255, .name = "x", .type = ENGINE_OPTION_TYPE_BYTE};

	REFUSED(t, engine_option_def_add(t->e, &d, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "option_id 255 is out of range");
	d.option_id = 6;
	REFUSED(t, engine_option_def_add(t->e, &d, NULL, &vst), FREP_ALREADY_EXISTS,
	    "option definition 6 (vendor class '') "
	    "already exists");
	d.option_id = 210;
	d.type      = ENGINE_OPTION_TYPE_UNSPECIFIED;
	REFUSED(t, engine_option_def_add(t->e, &d, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "option definition 210", "type 0");
	char *dv[]        = {"300"};
	d.type            = ENGINE_OPTION_TYPE_BYTE;
	d.default_value   = dv;
	d.n_default_value = 1;
	REFUSED(t, engine_option_def_add(t->e, &d, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "default_value", "'300'");
	/* A predefined definition keeps its type. */
	engine_option_def p = {
	    .option_id = 6, .name = "DNS Servers", .type = ENGINE_OPTION_TYPE_STRING};
	const char *mask[] = {"type"};
	REFUSED(t, engine_option_def_set(t->e, &p, mask, 1, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "option definition 6", "predefined");
}

static void
test_engine_option_definition_in_use(void **state)
{
	testdb           *t = *state;
	frep_status       st;
	engine_option_def d = {.option_id = 220, .name = "custom", .type = ENGINE_OPTION_TYPE_BYTE};
	char             *v[]   = {"1"};
	engine_option_value  ov = {.option_id = 220, .values = v, .n_values = 1};
	engine_option_target tg = {.scope_id = S1, .reserved_ip = IP4(10, 0, 1, 5)};

	CHECK_OK(engine_option_def_add(t->e, &d, NULL, &st), st);
	CHECK_OK(engine_option_value_set(t->e, &tg, &ov, NULL, &st), st);
	REFUSED(t, engine_option_def_remove(t->e, 220, "", &vst), FREP_FAILED_PRECONDITION,
	    "option definition 220", "in use by reservation 10.0.1.5 of scope 10.0.1.0");
	d.type             = ENGINE_OPTION_TYPE_WORD;
	const char *mask[] = {"type"};
	REFUSED(t, engine_option_def_set(t->e, &d, mask, 1, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "option definition 220", "in use");
}

static void
test_engine_class_rules(void **state)
{
	testdb      *t = *state;
	frep_status  st;
	engine_class c = {
	    .name = "Default BOOTP Class", .type = ENGINE_CLASS_TYPE_USER, .data = "x"};

	REFUSED(t, engine_class_add(t->e, &c, NULL, &vst), FREP_ALREADY_EXISTS,
	    "user class 'Default BOOTP Class' already exists");
	c.type = ENGINE_CLASS_TYPE_UNSPECIFIED;
	c.name = "new";
	REFUSED(t, engine_class_add(t->e, &c, NULL, &vst), FREP_INVALID_ARGUMENT, "class 'new'",
	    "type 0");
	c.type = ENGINE_CLASS_TYPE_USER;
	c.data = "";
	REFUSED(t, engine_class_add(t->e, &c, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "user class 'new'", "data is empty");

	/* In use by an option value. */
	char               *v[] = {"10.0.1.1"};
	engine_option_value ov  = {
	     .option_id = 3, .user_class = "Default BOOTP Class", .values = v, .n_values = 1};
	engine_option_target tg = {.scope_id = S1};
	CHECK_OK(engine_option_value_set(t->e, &tg, &ov, NULL, &st), st);
	REFUSED(t, engine_class_remove(t->e, ENGINE_CLASS_TYPE_USER, "Default BOOTP Class", &vst),
	    FREP_FAILED_PRECONDITION,
	    "user class 'Default BOOTP Class' is in "
	    "use by option value 3 of scope 10.0.1.0");
	/* In use by a policy criterion. */
	char            *cv[] = {"Microsoft Options"};
	engine_criterion cr   = {.type = ENGINE_CRITERION_TYPE_VENDOR_CLASS,
	      .comparator              = ENGINE_COMPARATOR_EQ,
	      .values                  = cv,
	      .n_values                = 1};
	engine_policy    p    = {.name = "msft", .scope_id = S1, .criteria = &cr, .n_criteria = 1};
	CHECK_OK(engine_policy_add(t->e, &p, NULL, &st), st);
	REFUSED(t, engine_class_remove(t->e, ENGINE_CLASS_TYPE_VENDOR, "Microsoft Options", &vst),
	    FREP_FAILED_PRECONDITION, "vendor class 'Microsoft Options'",
	    "policy 'msft' of scope 10.0.1.0");
	/* In use by a vendor option definition. */
	engine_option_def d = {.option_id = 1,
	    .vendor_class                 = "Microsoft Windows 2000 Options",
	    .name                         = "nb",
	    .type                         = ENGINE_OPTION_TYPE_DWORD};
	CHECK_OK(engine_option_def_add(t->e, &d, NULL, &st), st);
	REFUSED(t,
	    engine_class_remove(
		t->e, ENGINE_CLASS_TYPE_VENDOR, "Microsoft Windows 2000 Options", &vst),
	    FREP_FAILED_PRECONDITION, "in use by option definition 1");
}

static void
test_engine_policy_rules(void **state)
{
	testdb          *t = *state;
	frep_status      st;
	char            *bad_mac[] = {"00-11-zz"};
	engine_criterion cr        = {.type = ENGINE_CRITERION_TYPE_MAC_ADDRESS,
		   .comparator              = ENGINE_COMPARATOR_EQ,
		   .values                  = bad_mac,
		   .n_values                = 1};
	engine_policy    p = {.name = "p1", .scope_id = S1, .criteria = &cr, .n_criteria = 1};

	REFUSED(t, engine_policy_add(t->e, &p, NULL, &vst), FREP_INVALID_ARGUMENT, "policy 'p1'",
	    "criteria[0].values[0] '00-11-zz'", "MAC");
	char *short_mac[] = {"00-11-22"};
	cr.values         = short_mac;
	REFUSED(t, engine_policy_add(t->e, &p, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "criteria[0].values[0] '00-11-22'");
	char *mac[]   = {"00-11-22-33-44-55"};
	cr.values     = mac;
	cr.comparator = ENGINE_COMPARATOR_UNSPECIFIED;
	REFUSED(t, engine_policy_add(t->e, &p, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "criteria[0].comparator 0", "EQ");
	cr.comparator = ENGINE_COMPARATOR_EQ;
	cr.n_values   = 0;
	REFUSED(t, engine_policy_add(t->e, &p, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "criteria[0].values has 0 entries");
	char *nocls[] = {"No Such Class"};
	cr.type       = ENGINE_CRITERION_TYPE_USER_CLASS;
	cr.values     = nocls;
	cr.n_values   = 1;
	REFUSED(t, engine_policy_add(t->e, &p, NULL, &vst), FREP_NOT_FOUND,
	    "user class 'No Such Class' does not exist");
	char long_name[66];
	memset(long_name, 'p', 65);
	long_name[65]    = '\0';
	engine_policy pl = {.name = long_name, .scope_id = S1};
	REFUSED(t, engine_policy_add(t->e, &pl, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "name is 65 bytes long (at most 64)");

	/* Ranges. */
	engine_ip_range out_r[] = {{IP4(10, 0, 1, 5), IP4(10, 0, 1, 8)}};
	engine_policy   pr = {.name = "r", .scope_id = S1, .ip_ranges = out_r, .n_ip_ranges = 1};
	REFUSED(t, engine_policy_add(t->e, &pr, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "ip range 10.0.1.5-10.0.1.8", "outside the scope's range 10.0.1.10-10.0.1.200");
	engine_ip_range ov_r[] = {
	    {IP4(10, 0, 1, 50), IP4(10, 0, 1, 60)}, {IP4(10, 0, 1, 55), IP4(10, 0, 1, 70)}};
	pr.ip_ranges   = ov_r;
	pr.n_ip_ranges = 2;
	REFUSED(t, engine_policy_add(t->e, &pr, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "ip range 10.0.1.55-10.0.1.70 overlaps ip "
	    "range 10.0.1.50-10.0.1.60");
	pr.n_ip_ranges = 1;
	CHECK_OK(engine_policy_add(t->e, &pr, NULL, &st), st);
	engine_policy pr2 = {.name = "r2", .scope_id = S1, .ip_ranges = &ov_r[1], .n_ip_ranges = 1};
	REFUSED(t, engine_policy_add(t->e, &pr2, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "ip range 10.0.1.55-10.0.1.70",
	    "policy "
	    "'r'");
	engine_policy srv = {.name = "s", .ip_ranges = out_r, .n_ip_ranges = 1};
	REFUSED(t, engine_policy_add(t->e, &srv, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "server policy 's'",
	    "scope-level policies "
	    "only");

	/* Names are unique per scope; processing orders too. */
	engine_policy dup = {.name = "r", .scope_id = S1};
	REFUSED(t, engine_policy_add(t->e, &dup, NULL, &vst), FREP_ALREADY_EXISTS,
	    "policy 'r' already exists in scope 10.0.1.0");
	engine_policy ord = {.name = "o", .scope_id = S1, .processing_order = 1};
	REFUSED(t, engine_policy_add(t->e, &ord, NULL, &vst), FREP_ALREADY_EXISTS,
	    "processing_order 1 is already used by policy "
	    "'r'");
	ord.scope_id = IP4(10, 0, 9, 0);
	REFUSED(t, engine_policy_add(t->e, &ord, NULL, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
	/* A range change in a scope set that strands a policy range. */
	engine_scope s = {
	    .scope_id = S1, .start_range = IP4(10, 0, 1, 10), .end_range = IP4(10, 0, 1, 55)};
	const char *mask[] = {"start_range", "end_range"};
	REFUSED(t, engine_scope_set(t->e, &s, mask, 2, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "policy 'r' range 10.0.1.50-10.0.1.60");
}

static void
test_engine_failover_rules(void **state)
{
	testdb         *t = *state;
	frep_status     st;
	uint32_t        ids[] = {S1};
	engine_failover r     = {
		.name = "r1", .partner_server = "tcp://b:6470", .scope_ids = ids, .n_scope_ids = 1};

	r.load_balance_percent = 101;
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "failover 'r1'", "load_balance_percent 101", "0..100");
	r.load_balance_percent = 0;
	r.reserve_percent      = 200;
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "reserve_percent 200");
	r.reserve_percent = 0;
	char long_name[128];
	memset(long_name, 'r', 127);
	long_name[127] = '\0';
	r.name         = long_name;
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "name is 127 bytes long (at most 126)");
	r.name           = "r1";
	r.partner_server = "";
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "partner_server is empty");
	r.partner_server   = "tcp://b:6470";
	uint32_t unknown[] = {IP4(10, 0, 9, 0)};
	r.scope_ids        = unknown;
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_NOT_FOUND,
	    "scope 10.0.9.0 does not exist");
	uint32_t twice[] = {S1, S1};
	r.scope_ids      = twice;
	r.n_scope_ids    = 2;
	REFUSED(t, engine_failover_add(t->e, &r, NULL, &vst), FREP_INVALID_ARGUMENT,
	    "scope_ids lists 10.0.1.0 twice");
	r.scope_ids   = ids;
	r.n_scope_ids = 1;
	CHECK_OK(engine_failover_add(t->e, &r, NULL, &st), st);

	engine_failover r2 = {
	    .name = "r2", .partner_server = "tcp://c:6470", .scope_ids = ids, .n_scope_ids = 1};
	REFUSED(t, engine_failover_add(t->e, &r2, NULL, &vst), FREP_FAILED_PRECONDITION,
	    "scope 10.0.1.0 already belongs to "
	    "failover relationship 'r1'");
	r2.n_scope_ids = 0;
	CHECK_OK(engine_failover_add(t->e, &r2, NULL, &st), st);
	REFUSED(t, engine_failover_add_scopes(t->e, "r2", ids, 1, NULL, &vst),
	    FREP_FAILED_PRECONDITION, "scope 10.0.1.0 already belongs", "'r1'");
	REFUSED(t, engine_failover_remove_scopes(t->e, "r2", ids, 1, NULL, &vst),
	    FREP_FAILED_PRECONDITION,
	    "scope 10.0.1.0 is not in failover "
	    "relationship 'r2'");
	REFUSED(t, engine_failover_add(t->e, &r2, NULL, &vst), FREP_ALREADY_EXISTS,
	    "failover relationship 'r2' already exists");

	/* A scope in a relationship goes only with force. */
	REFUSED(t, engine_scope_remove(t->e, S1, false, &vst), FREP_FAILED_PRECONDITION,
	    "scope 10.0.1.0", "relationship 'r1'", "force");
	CHECK_OK(engine_scope_remove(t->e, S1, true, &st), st);
	engine_failover got;
	CHECK_OK(engine_failover_get(t->e, "r1", &got, &st), st);
	assert_int_equal(got.n_scope_ids, 0);
	engine_failover_fini(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_engine_scope_mask_not_contiguous),
	    T(test_engine_scope_mask_31_32_refused),
	    T(test_engine_scope_id_disagrees_with_mask),
	    T(test_engine_scope_range_outside_subnet),
	    T(test_engine_scope_start_after_end),
	    T(test_engine_scope_duplicate_id),
	    T(test_engine_scope_ranges_overlap),
	    T(test_engine_scope_overlap_any_geometry),
	    T(test_engine_scope_text_bounds),
	    T(test_engine_scope_set_validates_whole),
	    T(test_engine_exclusion_rules),
	    T(test_engine_reservation_rules),
	    T(test_engine_option_definition_missing),
	    T(test_engine_option_value_types),
	    T(test_engine_option_value_arity),
	    T(test_engine_option_value_classes_exist),
	    T(test_engine_option_definition_rules),
	    T(test_engine_option_definition_in_use),
	    T(test_engine_class_rules),
	    T(test_engine_policy_rules),
	    T(test_engine_failover_rules),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
