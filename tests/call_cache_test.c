/* The call-id cache (rpc/runtime/call_cache): what an id is bound to, and
 * for how long. Unit tests on the real cache, no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "call_cache.h"

/* A key for id whose caller and request digests are all `who`. */
static rpc_call_cache_key
key_of(uint64_t id, uint8_t who)
{
	rpc_call_cache_key k = {.call_id = id};
	memset(k.caller, who, sizeof(k.caller));
	memset(k.request, who, sizeof(k.request));
	return k;
}

static rpc_call_cache_result
begin(rpc_call_cache *c, uint64_t id, uint8_t who, uint8_t **reply, size_t *len)
{
	rpc_call_cache_key k = key_of(id, who);
	*reply               = NULL;
	*len                 = 0;
	return rpc_call_cache_begin(c, &k, reply, len);
}

/* Calls 2..39 of caller 0x55, each begun and finished: the flood. */
static void
flood(rpc_call_cache *c)
{
	uint8_t *reply;
	size_t   len;
	for (uint64_t id = 2; id < 40; id++) {
		assert_int_equal(begin(c, id, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
		rpc_call_cache_finish(c, id, (const uint8_t *) "x", 1);
	}
}

/* Proves: an id stays bound to its caller while the call runs, however
 * many other calls come and go and however long it runs — the attack the
 * issue-14 audit found: the admin's call with id 1 runs; a stranger's
 * flood of finished calls fills the cache (bound 4) and the 30 ms time to
 * live passes; the stranger's call with id 1 is then CONFLICT (before:
 * NEW — the admin's running entry had been evicted, the stranger's call
 * took the id, and the admin's reply, finished by id, was stored in the
 * stranger's entry and served to it). The admin's own retry gets its
 * reply. */
static void
test_call_cache_running_entry_never_evicted(void **state)
{
	(void) state;
	rpc_call_cache *c = NULL;
	assert_int_equal(rpc_call_cache_new(4, 1024, 30, &c), 0);
	uint8_t *reply;
	size_t   len;
	assert_int_equal(begin(c, 1, 0xad, &reply, &len), RPC_CALL_CACHE_NEW);
	flood(c);
	struct timespec ms40 = {.tv_nsec = 40 * 1000 * 1000};
	nanosleep(&ms40, NULL);
	assert_int_equal(begin(c, 1, 0x55, &reply, &len), RPC_CALL_CACHE_CONFLICT);
	rpc_call_cache_finish(c, 1, (const uint8_t *) "admin", 5);
	assert_int_equal(begin(c, 1, 0x55, &reply, &len), RPC_CALL_CACHE_CONFLICT);
	assert_null(reply);
	assert_int_equal(begin(c, 1, 0xad, &reply, &len), RPC_CALL_CACHE_DONE);
	assert_int_equal(len, 5);
	assert_memory_equal(reply, "admin", 5);
	free(reply);
	/* Finished, it ages out like any other entry. */
	nanosleep(&ms40, NULL);
	assert_int_equal(begin(c, 1, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
	rpc_call_cache_free(c);
}

/* Proves: the reverse — the stranger's call with id 1 runs and the admin's
 * later call with id 1 is CONFLICT while it does (before: after a flood
 * evicted the stranger's entry the admin's call took the id, and the
 * stranger's finish stored its reply there: the admin's retry was answered
 * with the stranger's reply, its own write never confirmed). Finished
 * entries beyond the bound are dropped oldest first. */
static void
test_call_cache_bound_drops_finished_entries_only(void **state)
{
	(void) state;
	rpc_call_cache *c = NULL;
	assert_int_equal(rpc_call_cache_new(4, 1024, 60000, &c), 0);
	uint8_t *reply;
	size_t   len;
	assert_int_equal(begin(c, 1, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
	flood(c);
	assert_int_equal(begin(c, 1, 0xad, &reply, &len), RPC_CALL_CACHE_CONFLICT);
	rpc_call_cache_finish(c, 1, (const uint8_t *) "stranger", 8);
	assert_int_equal(begin(c, 1, 0xad, &reply, &len), RPC_CALL_CACHE_CONFLICT);
	assert_null(reply);
	/* The bound held for finished ones: id 2 is long gone, 39 is kept. */
	assert_int_equal(begin(c, 2, 0xad, &reply, &len), RPC_CALL_CACHE_NEW);
	assert_int_equal(begin(c, 39, 0x55, &reply, &len), RPC_CALL_CACHE_DONE);
	free(reply);
	/* An abandoned running call leaves no trace. */
	assert_int_equal(begin(c, 77, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
	rpc_call_cache_abandon(c, 77);
	assert_int_equal(begin(c, 77, 0xad, &reply, &len), RPC_CALL_CACHE_NEW);
	rpc_call_cache_free(c);
}

/* Proves: the replies kept are bounded all together (256 times the largest
 * one kept), not only in number: 300 finished calls with 100-byte replies,
 * the bound 4,096 entries of at most 100 bytes — the oldest go once the
 * replies pass 25,600 bytes, the newest stay. Before: all 300 kept (the
 * issue-14 attack held about 95 MB with 4,096 tokenless calls to
 * Introspection, whose reply is large). */
static void
test_call_cache_reply_bytes_bounded(void **state)
{
	(void) state;
	rpc_call_cache *c = NULL;
	assert_int_equal(rpc_call_cache_new(4096, 100, 60000, &c), 0);
	uint8_t  big[100] = {0};
	uint8_t *reply;
	size_t   len;
	for (uint64_t id = 1; id <= 300; id++) {
		assert_int_equal(begin(c, id, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
		rpc_call_cache_finish(c, id, big, sizeof(big));
	}
	assert_int_equal(begin(c, 300, 0x55, &reply, &len), RPC_CALL_CACHE_DONE);
	free(reply);
	assert_int_equal(begin(c, 1, 0x55, &reply, &len), RPC_CALL_CACHE_NEW);
	int kept = 0;
	for (uint64_t id = 2; id <= 300; id++) {
		if (begin(c, id, 0x55, &reply, &len) == RPC_CALL_CACHE_DONE) {
			free(reply);
			kept++;
		}
	}
	print_message("kept %d of 300 replies of 100 bytes\n", kept);
	assert_true(kept <= 256);
	assert_true(kept >= 200);
	rpc_call_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_call_cache_running_entry_never_evicted),
	    cmocka_unit_test(test_call_cache_bound_drops_finished_entries_only),
	    cmocka_unit_test(test_call_cache_reply_bytes_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
