/* ipv4 and hexid: parsing edge cases. */
#include "test/engine_testutil.h"

#include "hexid.h"
#include "ipv4.h"

static void
expect_ipv4_bad(const char *text)
{
	frep_status st;
	uint32_t    out = 0xdeadbeef;
	frep_code   rc  = engine_ipv4_parse(text, "start_range", &out, &st);

	if (rc != FREP_INVALID_ARGUMENT) {
		fail_msg("'%s' was accepted", text ? text : "(null)");
	}
	assert_int_equal(out, 0xdeadbeef);
	assert_non_null(strstr(st.message, "start_range"));
	if (text != NULL && *text != '\0') {
		assert_non_null(strstr(st.message, text));
	}
}

static void
test_engine_ipv4_parse_valid(void **state)
{
	frep_status st;
	uint32_t    a;
	char        buf[ENGINE_IPV4_STRLEN];

	(void) state;
	CHECK_OK(engine_ipv4_parse("10.0.0.1", "f", &a, &st), st);
	assert_int_equal(a, IP4(10, 0, 0, 1));
	CHECK_OK(engine_ipv4_parse("0.0.0.0", "f", &a, &st), st);
	assert_int_equal(a, 0);
	CHECK_OK(engine_ipv4_parse("255.255.255.255", "f", &a, &st), st);
	assert_int_equal(a, 0xffffffffu);
	CHECK_OK(engine_ipv4_parse("192.168.100.200", "f", &a, &st), st);
	assert_string_equal(engine_ipv4_format(a, buf), "192.168.100.200");
	assert_string_equal(engine_ipv4_format(0, buf), "0.0.0.0");
	assert_string_equal(engine_ipv4_format(0xffffffffu, buf), "255.255.255.255");
}

static void
test_engine_ipv4_parse_rejects(void **state)
{
	(void) state;
	expect_ipv4_bad(NULL);
	expect_ipv4_bad("");
	expect_ipv4_bad("10.0.0");
	expect_ipv4_bad("10.0.0.1.2");
	expect_ipv4_bad("10.0.0.256");
	expect_ipv4_bad("10.0.0.01");
	expect_ipv4_bad("010.0.0.1");
	expect_ipv4_bad("10.0.0.1 ");
	expect_ipv4_bad(" 10.0.0.1");
	expect_ipv4_bad("+10.0.0.1");
	expect_ipv4_bad("10.-1.0.1");
	expect_ipv4_bad("10..0.1");
	expect_ipv4_bad("10.0.0.");
	expect_ipv4_bad(".10.0.0");
	expect_ipv4_bad("1000.0.0.1");
	expect_ipv4_bad("0x0a.0.0.1");
	expect_ipv4_bad("10.0.0.1a");
	expect_ipv4_bad("a.b.c.d");
	expect_ipv4_bad("4294967295");
}

/* inet_pton decides; frep's messages still say why (issue 12). */
static void
test_engine_ipv4_parse_explains(void **state)
{
	frep_status st;
	uint32_t    out;

	(void) state;
	assert_int_equal(
	    engine_ipv4_parse("10.0.0.256", "end_range", &out, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "octet 4 is above 255"));
	assert_int_equal(
	    engine_ipv4_parse("10.010.0.1", "end_range", &out, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "octet 2 has a leading zero"));
	assert_int_equal(
	    engine_ipv4_parse("10.0.0", "end_range", &out, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "expected four decimal octets"));
}

static void
test_engine_ipv4_masks(void **state)
{
	frep_status st;
	uint32_t    m;

	(void) state;
	assert_true(engine_ipv4_mask_valid(IP4(255, 255, 255, 0)));
	assert_true(engine_ipv4_mask_valid(0));
	assert_true(engine_ipv4_mask_valid(0xffffffffu));
	assert_false(engine_ipv4_mask_valid(IP4(255, 0, 255, 0)));
	assert_false(engine_ipv4_mask_valid(IP4(0, 255, 255, 255)));
	assert_int_equal(engine_ipv4_prefix_len(IP4(255, 255, 255, 0)), 24);
	assert_int_equal(engine_ipv4_prefix_len(IP4(255, 255, 128, 0)), 17);
	assert_int_equal(engine_ipv4_prefix_len(0), 0);
	assert_int_equal(engine_ipv4_prefix_len(0xffffffffu), 32);
	assert_int_equal(engine_ipv4_prefix_len(IP4(255, 0, 255, 0)), -1);
	assert_int_equal(engine_ipv4_mask_from_prefix(24), IP4(255, 255, 255, 0));
	assert_int_equal(engine_ipv4_mask_from_prefix(0), 0);
	assert_int_equal(engine_ipv4_mask_from_prefix(32), 0xffffffffu);
	CHECK_OK(engine_ipv4_parse_mask("255.255.252.0", NULL, &m, &st), st);
	assert_int_equal(m, IP4(255, 255, 252, 0));
	CHECK_STATUS(engine_ipv4_parse_mask("255.0.255.0", "subnet_mask", &m, &st), st,
	    FREP_INVALID_ARGUMENT, "subnet_mask", "255.0.255.0", "contiguous");
}

static void
test_engine_hexid_normalize(void **state)
{
	char        out[ENGINE_HEXID_STRLEN];
	frep_status st;

	(void) state;
	CHECK_OK(engine_hexid_normalize("00-11-22-AA-bb-Cc", "client_id", out, &st), st);
	assert_string_equal(out, "00-11-22-aa-bb-cc");
	CHECK_OK(engine_hexid_normalize("00:11:22:aa:bb:cc", "client_id", out, &st), st);
	assert_string_equal(out, "00-11-22-aa-bb-cc");
	CHECK_OK(engine_hexid_normalize("001122AABBCC", "client_id", out, &st), st);
	assert_string_equal(out, "00-11-22-aa-bb-cc");
	CHECK_OK(engine_hexid_normalize("ff", "client_id", out, &st), st);
	assert_string_equal(out, "ff");

	static const char *const bad[] = {"", "0", "00-11-", "-00", "00--11", "00-11:22", "001",
	    "zz-00", "00 11", "000-11",
	    /* one-digit groups are typos, never padded (issue 14) */
	    "0:1:2:a:b:c", "00-11-22-33-44-5", NULL};
	for (const char *const *b = bad; *b != NULL; b++) {
		frep_code rc = engine_hexid_normalize(*b, "client_id", out, &st);
		if (rc != FREP_INVALID_ARGUMENT) {
			fail_msg("'%s' was accepted as %s", *b, out);
		}
		assert_non_null(strstr(st.message, "client_id"));
	}
	/* 65 bytes is one too many. */
	char long_id[65 * 2 + 1];
	memset(long_id, 'a', 130);
	long_id[130] = '\0';
	CHECK_STATUS(engine_hexid_normalize(long_id, "client_id", out, &st), st,
	    FREP_INVALID_ARGUMENT, "client_id", "longer than 64 bytes");
}

/* The hand-written formatter agrees with printf for every octet value in
 * every position. */
static void
test_engine_ipv4_format_matches_printf(void **state)
{
	(void) state;
	char got[ENGINE_IPV4_STRLEN], want[ENGINE_IPV4_STRLEN];
	for (unsigned v = 0; v < 256; v++) {
		for (int pos = 0; pos < 4; pos++) {
			uint32_t a = (uint32_t) (v << (8 * pos)) | (pos == 0 ? 0x0a000000u : 1u);
			snprintf(want, sizeof(want), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255u,
			    (a >> 8) & 255u, a & 255u);
			assert_string_equal(engine_ipv4_format(a, got), want);
		}
	}
	assert_string_equal(engine_ipv4_format(0xffffffffu, got), "255.255.255.255");
	assert_string_equal(engine_ipv4_format(0, got), "0.0.0.0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_ipv4_format_matches_printf),
	    cmocka_unit_test(test_engine_ipv4_parse_valid),
	    cmocka_unit_test(test_engine_ipv4_parse_rejects),
	    cmocka_unit_test(test_engine_ipv4_parse_explains),
	    cmocka_unit_test(test_engine_ipv4_masks),
	    cmocka_unit_test(test_engine_hexid_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
