/* sha256: the FIPS 180-4 / NIST test vectors. */
#include "test/engine_testutil.h"

#include "sha256.h"

static void
test_engine_sha256_vectors(void **state)
{
	char hex[ENGINE_SHA256_HEXLEN];

	(void) state;
	engine_sha256_hex("", 0, hex);
	assert_string_equal(
	    hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	engine_sha256_hex("abc", 3, hex);
	assert_string_equal(
	    hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	engine_sha256_hex(two, strlen(two), hex);
	assert_string_equal(
	    hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
			   "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	engine_sha256_hex(four, strlen(four), hex);
	assert_string_equal(
	    hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void
test_engine_sha256_million_a(void **state)
{
	engine_sha256 ctx;
	char          block[1000];
	char          hex[ENGINE_SHA256_HEXLEN];

	(void) state;
	memset(block, 'a', sizeof(block));
	engine_sha256_init(&ctx);
	for (int i = 0; i < 1000; i++) {
		engine_sha256_update(&ctx, block, sizeof(block));
	}
	engine_sha256_final_hex(&ctx, hex);
	assert_string_equal(
	    hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void
test_engine_sha256_split_updates(void **state)
{
	/* Any split of the input gives the same digest (block boundaries). */
	char          data[300];
	char          whole[ENGINE_SHA256_HEXLEN], parts[ENGINE_SHA256_HEXLEN];
	engine_sha256 ctx;

	(void) state;
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (char) (i * 7 + 3);
	}
	for (size_t len = 0; len <= sizeof(data); len += 13) {
		engine_sha256_hex(data, len, whole);
		for (size_t cut = 0; cut <= len; cut += 5) {
			engine_sha256_init(&ctx);
			engine_sha256_update(&ctx, data, cut);
			engine_sha256_update(&ctx, NULL, 0);
			engine_sha256_update(&ctx, data + cut, len - cut);
			engine_sha256_final_hex(&ctx, parts);
			assert_string_equal(whole, parts);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_sha256_vectors),
	    cmocka_unit_test(test_engine_sha256_million_a),
	    cmocka_unit_test(test_engine_sha256_split_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
