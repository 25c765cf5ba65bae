/*
 * Load: 64 client threads, each with its own clients, make a mix of reads,
 * writes and replications against two frepd partners. Every call must
 * succeed, every reply must be the answer to its own request, and each
 * frepd's resident memory must stay flat. FREP_LOAD_CALLS (calls per
 * thread, default 2000) is lowered by the CMake registration in the
 * sanitizer build; FREP_LOAD_SANITIZER=1 there skips the RSS bound (ASan's
 * quarantine and shadow memory make RSS meaningless) but keeps the leak
 * check: each frepd must exit 0 on SIGTERM, which LSan refuses on a leak.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "fault_test_common.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/replication.pb-c.h"

#define SECRET  "load-test shared secret 91c2"
#define THREADS 64
/* "Stable": VmRSS after the last call is at most 20 % above VmRSS after the
 * first 1,000 calls, plus the two caches frepd fills by design and bounds:
 * SQLite's page cache (default cache_size -2000: 2,000 KiB, which fills as
 * the audit table grows with every replication) and the call-id cache
 * (4,096 replies). 4 MiB covers both. A leak of 100 bytes a call (12 MiB
 * over 128,000 calls) fails it; smaller leaks are LSan's job (the
 * sanitizer build runs this test and frepd must exit 0). */
#define RSS_GROWTH_MAX 0.20
#define RSS_SLACK_KIB  4096

typedef struct load {
	rt_node         a, b;
	long            calls; /* per thread */
	atomic_long     done;
	long            rss_first[2];
	long            rss_at[2][1024]; /* VmRSS after every 1,000 calls */
	atomic_long     errors;
	char            first_error[512];
	pthread_mutex_t mu;
} load;

typedef struct worker {
	load        *l;
	int          id;
	frep_client *ca, *cb;
	unsigned     seed;
	char         scope[32]; /* the scope this thread writes */
	bool         on_a;      /* writes to A (a replicated scope) or to B (a local one) */
	bool         present[256];
	long         counts[4];
} worker;

static void
note_error(worker *w, const char *what, frep_code code, const char *msg)
{
	load *l = w->l;
	if (atomic_fetch_add(&l->errors, 1) == 0) {
		pthread_mutex_lock(&l->mu);
		snprintf(l->first_error, sizeof(l->first_error), "thread %d: %s: %s: %s", w->id,
		    what, frep_code_name(code), msg);
		pthread_mutex_unlock(&l->mu);
	}
}

static void
call_done(worker *w)
{
	load *l = w->l;
	long  n = atomic_fetch_add(&l->done, 1) + 1;
	if (n % 1000 == 0 && n / 1000 < 1024) {
		l->rss_at[0][n / 1000] = rt_rss_kib(l->a.proc.pid);
		l->rss_at[1][n / 1000] = rt_rss_kib(l->b.proc.pid);
	}
	if (n == 1000) {
		l->rss_first[0] = l->rss_at[0][1];
		l->rss_first[1] = l->rss_at[1][1];
	}
}

/* A read; the reply must name what was asked for. */
static void
do_read(worker *w, frep_client *c, const char *scope)
{
	ProtobufCMessage *out = NULL;
	frep_status       st;
	int               kind = (int) (rand_r(&w->seed) % 3);
	if (kind == 0) {
		Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
		k.scope_id           = (char *) scope;
		frep_code code       = frep_client_call(c, "/frep.v1.DhcpServer/GetScope", &k.base,
			  &frep__v1__scope__descriptor, &out, NULL, &st);
		if (code != FREP_OK) {
			note_error(w, "GetScope", code, st.message);
		} else if (strcmp(((Frep__V1__Scope *) out)->scope_id, scope) != 0) {
			note_error(w, "GetScope answered another scope", FREP_INTERNAL,
			    ((Frep__V1__Scope *) out)->scope_id);
		}
	} else if (kind == 1) {
		Frep__V1__ReservationKey k = FREP__V1__RESERVATION_KEY__INIT;
		char                     ip[32];
		snprintf(ip, sizeof(ip), "%.*s%d", (int) (strlen(scope) - 1), scope,
		    11 + (int) (rand_r(&w->seed) % 5));
		k.scope_id     = (char *) scope;
		k.ip_address   = ip;
		frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/GetReservation", &k.base,
		    &frep__v1__reservation__descriptor, &out, NULL, &st);
		if (code != FREP_OK) {
			note_error(w, "GetReservation", code, st.message);
		} else if (strcmp(((Frep__V1__Reservation *) out)->ip_address, ip) != 0) {
			note_error(w, "GetReservation answered another reservation", FREP_INTERNAL,
			    ((Frep__V1__Reservation *) out)->ip_address);
		}
	} else {
		Frep__V1__HealthCheckRequest h = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
		frep_code code = frep_client_call(c, "/frep.v1.Health/Check", &h.base,
		    &frep__v1__health_check_response__descriptor, &out, NULL, &st);
		if (code != FREP_OK) {
			note_error(w, "Health/Check", code, st.message);
		} else if (((Frep__V1__HealthCheckResponse *) out)->status !=
			   FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			note_error(w, "Health/Check not SERVING", FREP_INTERNAL, "");
		}
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

/* Adds or removes one of the thread's own reservations (never a conflict). */
static void
do_write(worker *w)
{
	frep_client      *c   = w->on_a ? w->ca : w->cb;
	int               x   = 20 + (int) (rand_r(&w->seed) % 200);
	ProtobufCMessage *out = NULL;
	frep_status       st;
	char              ip[32], mac[32];
	snprintf(ip, sizeof(ip), "%.*s%d", (int) (strlen(w->scope) - 1), w->scope, x);
	snprintf(mac, sizeof(mac), "02-88-00-00-%02x-%02x", w->id, x);
	if (!w->present[x]) {
		Frep__V1__Reservation r = FREP__V1__RESERVATION__INIT;
		r.scope_id              = w->scope;
		r.ip_address            = ip;
		r.client_id             = mac;
		r.name                  = "load";
		frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/AddReservation", &r.base,
		    &frep__v1__reservation__descriptor, &out, NULL, &st);
		if (code != FREP_OK) {
			note_error(w, "AddReservation", code, st.message);
		} else if (strcmp(((Frep__V1__Reservation *) out)->ip_address, ip) != 0) {
			note_error(w, "AddReservation answered another reservation", FREP_INTERNAL,
			    ((Frep__V1__Reservation *) out)->ip_address);
		}
	} else {
		Frep__V1__ReservationKey k = FREP__V1__RESERVATION_KEY__INIT;
		k.scope_id                 = w->scope;
		k.ip_address               = ip;
		frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/RemoveReservation",
		    &k.base, &frep__v1__empty__descriptor, &out, NULL, &st);
		if (code != FREP_OK) {
			note_error(w, "RemoveReservation", code, st.message);
		}
	}
	w->present[x] = !w->present[x];
	protobuf_c_message_free_unpacked(out, NULL);
}

/* Replicates the thread's own scope; the one result must be for it. */
static void
do_replicate(worker *w)
{
	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	char                               *ids[] = {w->scope};
	ProtobufCMessage                   *out   = NULL;
	frep_status                         st;
	req.scope_ids   = ids;
	req.n_scope_ids = 1;
	frep_code code  = frep_client_call(w->ca, "/frep.v1.FailoverReplication/ReplicateByScopeId",
	     &req.base, &frep__v1__replicate_response__descriptor, &out, NULL, &st);
	if (code != FREP_OK) {
		note_error(w, "ReplicateByScopeId", code, st.message);
	} else {
		Frep__V1__ReplicateResponse *r = (Frep__V1__ReplicateResponse *) out;
		if (r->n_results != 1 || strcmp(r->results[0]->scope_id, w->scope) != 0) {
			note_error(w, "ReplicateByScopeId answered another scope", FREP_INTERNAL,
			    r->n_results ? r->results[0]->scope_id : "(none)");
		} else if (r->results[0]->code != FREP_OK) {
			note_error(w, "ReplicateByScopeId result", (frep_code) r->results[0]->code,
			    r->results[0]->message);
		}
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

static void *
worker_main(void *arg)
{
	worker *w = arg;
	for (long i = 0; i < w->l->calls; i++) {
		unsigned r = rand_r(&w->seed) % 100;
		if (r < 30) {
			do_read(w, w->on_a ? w->ca : w->cb,
			    w->scope); /* its own scope, where it writes */
			w->counts[0]++;
		} else if (r < 55) {
			/* The other server: A's replicated copy on B, or a scope on A. */
			if (w->on_a) {
				do_read(w, w->cb, w->scope);
			} else {
				char other[32];
				snprintf(other, sizeof(other), "10.80.%d.0", w->id - 1);
				do_read(w, w->ca, other);
			}
			w->counts[1]++;
		} else if (r < 90 || !w->on_a) {
			do_write(w);
			w->counts[2]++;
		} else {
			do_replicate(w);
			w->counts[3]++;
		}
		call_done(w);
	}
	return NULL;
}

/* Proves: 64 concurrent clients × FREP_LOAD_CALLS mixed calls (reads on
 * both partners, writes on both, replications A → B) meet zero unexpected
 * errors, every reply answers its own request, the replicated scopes end
 * equal on both sides, each frepd's VmRSS after the last call is within
 * 20 % (+4 MiB of bounded caches) of its VmRSS after the first 1,000
 * calls, and both exit
 * 0 on SIGTERM (no leak under LSan). */
static void
test_load_64_clients_mixed_calls_two_partners(void **state)
{
	(void) state;
	char *dir = tu_tmpdir();
	load *l   = calloc(1, sizeof(*l));
	char  url[600];
	pthread_mutex_init(&l->mu, NULL);
	l->calls = rt_env_long("FREP_LOAD_CALLS", 2000);
	snprintf(url, sizeof(url), "ipc://%s/a.sock", dir);
	rt_node_init(&l->a, dir, "a", url);
	snprintf(url, sizeof(url), "ipc://%s/b.sock", dir);
	rt_node_init(&l->b, dir, "b", url);
	rt_node_start(&l->a, dir);
	rt_node_start(&l->b, dir);

	/* Even threads own 10.80.<id>.0 on A (in relationship "load"), odd
	 * threads 10.81.<id>.0 on B (local to B). */
	char  ids[THREADS / 2][32];
	char *idp[THREADS / 2];
	for (int t = 0; t < THREADS; t += 2) {
		rt_import_scope(l->a.c, 80, t, 5, "load");
		rt_import_scope(l->b.c, 81, t + 1, 5, "load");
		snprintf(ids[t / 2], sizeof(ids[t / 2]), "10.80.%d.0", t);
		idp[t / 2] = ids[t / 2];
	}
	rt_add_failover(l->a.c, "load", l->b.url, SECRET, idp, THREADS / 2, FREP_OK);

	worker   *w = calloc(THREADS, sizeof(*w));
	pthread_t t[THREADS];
	long long t0 = tu_now_ms();
	for (int i = 0; i < THREADS; i++) {
		frep_status         st;
		frep_client_options o = {.timeout_ms = 60000};
		w[i].l                = l;
		w[i].id               = i;
		w[i].seed             = 0x10ad0000u + (unsigned) i;
		w[i].on_a             = i % 2 == 0;
		snprintf(w[i].scope, sizeof(w[i].scope), "10.%d.%d.0", w[i].on_a ? 80 : 81, i);
		assert_int_equal(frep_client_open(l->a.url, &o, &w[i].ca, &st), FREP_OK);
		assert_int_equal(frep_client_open(l->b.url, &o, &w[i].cb, &st), FREP_OK);
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	long counts[4] = {0};
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		for (int k = 0; k < 4; k++) {
			counts[k] += w[i].counts[k];
		}
	}
	long long ms          = tu_now_ms() - t0;
	long      rss_last[2] = {rt_rss_kib(l->a.proc.pid), rt_rss_kib(l->b.proc.pid)};
	long      total       = atomic_load(&l->done);
	print_message("%ld calls in %lld ms (%.0f/s): %ld own reads, %ld cross reads, %ld writes, "
		      "%ld replications; %ld errors\n",
	    total, ms, total * 1000.0 / (double) (ms ? ms : 1), counts[0], counts[1], counts[2],
	    counts[3], atomic_load(&l->errors));
	print_message(
	    "VmRSS A %ld -> %ld KiB, B %ld -> %ld KiB (after call 1000 -> after the last)\n",
	    l->rss_first[0], rss_last[0], l->rss_first[1], rss_last[1]);
	for (long k = 16; k <= total / 1000 && k < 1024; k += 16) {
		print_message("  after %4ld000 calls: A %ld KiB, B %ld KiB\n", k, l->rss_at[0][k],
		    l->rss_at[1][k]);
	}
	for (int k = 0; k < 2; k++) {
		struct stat sb;
		const char *db = k ? l->b.db : l->a.db;
		print_message("store %s: %lld KiB\n", db,
		    stat(db, &sb) == 0 ? (long long) sb.st_size / 1024 : -1LL);
	}
	if (atomic_load(&l->errors) != 0) {
		fail_msg("%ld unexpected errors; the first: %s", atomic_load(&l->errors),
		    l->first_error);
	}
	assert_int_equal(total, (long) THREADS * l->calls);

	/* A last replication makes B's copies equal to A's. */
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"load"};
	req.names                                = names;
	req.n_names                              = 1;
	Frep__V1__ReplicateResponse *r           = (Frep__V1__ReplicateResponse *) rt_call(
		      l->a.c, "FailoverReplication", "ReplicateByName", &req.base, FREP_OK, NULL);
	assert_int_equal(r->n_scope_ids, THREADS / 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	for (int i = 0; i < THREADS / 2; i++) {
		char da[65], db[65];
		rt_digest(l->a.c, ids[i], da);
		rt_digest(l->b.c, ids[i], db);
		assert_string_equal(da, db);
	}

	if (rt_env_long("FREP_LOAD_SANITIZER", 0) == 0 && l->calls >= 1000) {
		for (int k = 0; k < 2; k++) {
			assert_true(l->rss_first[k] > 0 && rss_last[k] > 0);
			if ((double) rss_last[k] >
			    (double) l->rss_first[k] * (1.0 + RSS_GROWTH_MAX) + RSS_SLACK_KIB) {
				fail_msg("frepd %s VmRSS grew from %ld to %ld KiB (more than "
					 "%.0f%% + %d KiB)",
				    k ? "B" : "A", l->rss_first[k], rss_last[k],
				    RSS_GROWTH_MAX * 100, RSS_SLACK_KIB);
			}
		}
	} else {
		print_message("VmRSS bound not checked (sanitizer build or fewer than 1000 calls "
			      "per thread)\n");
	}

	for (int i = 0; i < THREADS; i++) {
		frep_client_close(w[i].ca);
		frep_client_close(w[i].cb);
	}
	free(w);
	rt_node_stop_clean(&l->a);
	rt_node_stop_clean(&l->b);
	const char *const secrets[] = {SECRET, NULL};
	rt_assert_file_lacks(l->a.proc.log_path, secrets);
	rt_assert_file_lacks(l->b.proc.log_path, secrets);
	assert_int_equal(rt_node_fini(&l->a), 0); /* stopped above: nothing to stop */
	assert_int_equal(rt_node_fini(&l->b), 0);
	pthread_mutex_destroy(&l->mu);
	free(l);
	tu_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_64_clients_mixed_calls_two_partners),
	};
	int rc = cmocka_run_group_tests_name("load", tests, NULL, NULL);
	nng_fini();
	return rc;
}
