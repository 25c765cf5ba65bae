/* Thread safety: many threads writing through one handle (and a second
 * handle on the same file) lose no write. */
#include <pthread.h>

#include "test/engine_testutil.h"

#define THREADS    8
#define PER_THREAD 40

typedef struct worker {
	engine     *e;
	int         index;
	frep_status st;
	frep_code   rc;
} worker;

static void *
work(void *arg)
{
	worker *w = arg;

	w->rc = FREP_OK;
	for (int i = 0; i < PER_THREAD && w->rc == FREP_OK; i++) {
		int                host = w->index * PER_THREAD + i + 1;
		char               cid[32];
		engine_reservation r = {.scope_id = IP4(10, 1, 0, 0),
		    .ip_address                   = IP4(10, 1, host / 256, host % 256),
		    .client_id                    = cid,
		    .name                         = "t"};
		snprintf(cid, sizeof(cid), "02-00-00-00-%02x-%02x", w->index, i);
		w->rc = engine_reservation_add(w->e, &r, NULL, &w->st);
		if (w->rc == FREP_OK && i % 4 == 0) {
			engine_scope sc;
			w->rc = engine_scope_get(w->e, IP4(10, 1, 0, 0), &sc, &w->st);
			engine_scope_fini(&sc);
		}
	}
	return NULL;
}

static void
test_engine_concurrent_writers_lose_nothing(void **state)
{
	testdb      *t = testdb_open();
	engine      *second;
	frep_status  st;
	pthread_t    th[THREADS];
	worker       w[THREADS];
	engine_scope s = {.scope_id = IP4(10, 1, 0, 0),
	    .subnet_mask            = IP4(255, 255, 0, 0),
	    .name                   = "big",
	    .start_range            = IP4(10, 1, 0, 1),
	    .end_range              = IP4(10, 1, 255, 254)};

	(void) state;
	CHECK_OK(engine_scope_add(t->e, &s, NULL, &st), st);
	CHECK_OK(engine_open(t->path, NULL, &second, &st), st);
	for (int i = 0; i < THREADS; i++) {
		w[i].e     = (i % 4 == 3) ? second : t->e;
		w[i].index = i;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_OK(w[i].rc, w[i].st);
	}
	engine_close(second);

	engine_reservation *list;
	size_t              n;
	CHECK_OK(engine_reservation_list(t->e, IP4(10, 1, 0, 0), &list, &n, &st), st);
	assert_int_equal(n, THREADS * PER_THREAD);
	for (size_t i = 1; i < n; i++) {
		assert_true(list[i - 1].ip_address < list[i].ip_address);
	}
	engine_reservations_free(list, n);
	testdb_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_concurrent_writers_lose_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
