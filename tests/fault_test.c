/*
 * Faults on real frepd processes, killed and restarted by PID: a SIGKILL
 * right after acknowledged writes, a partner restarted or gone during a
 * replication, clients that vanish mid-call, a full disk and a read-only
 * store. Each test says what it proves above it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "fault_test_common.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_envelope.h"

#define SECRET "fault-test shared secret 7f3a"

typedef struct fixture {
	char   *dir;
	rt_node n[2];
	char    mnt[400]; /* a tmpfs mounted by the test, "" if none */
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	*state     = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture          *f         = *state;
	const char *const secrets[] = {SECRET, NULL};
	int               rc        = 0;
	for (int i = 0; i < 2; i++) {
		if (rt_node_fini(&f->n[i]) != 0) {
			rc = -1; /* a crash or, under LSan, a leak fails the test */
		}
		if (f->n[i].proc.log_path[0] != '\0') {
			rt_assert_file_lacks(f->n[i].proc.log_path, secrets);
		}
	}
	if (f->mnt[0] != '\0') {
		umount2(f->mnt, MNT_DETACH);
	}
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return rc;
}

static void
start_ipc(fixture *f, int i, const char *name)
{
	char url[600];
	snprintf(url, sizeof(url), "ipc://%s/%s.sock", f->dir, name);
	rt_node_init(&f->n[i], f->dir, name, url);
	rt_node_start(&f->n[i], f->dir);
}

static size_t
count_reservations(frep_client *c, const char *scope, char ***ips_out)
{
	Frep__V1__ListReservationsRequest req = FREP__V1__LIST_RESERVATIONS_REQUEST__INIT;
	req.scope_id                          = (char *) scope;
	Frep__V1__ListReservationsResponse *r = (Frep__V1__ListReservationsResponse *) rt_call(
	    c, "DhcpServer", "ListReservations", &req.base, FREP_OK, NULL);
	size_t n = r->n_reservations;
	if (ips_out != NULL) {
		char **ips = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			ips[i] = strdup(r->reservations[i]->ip_address);
		}
		*ips_out = ips;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

/* --- SIGKILL after acknowledged writes ----------------------------------- */

enum { WRITERS = 8, WRITES_MAX = 4000 };

typedef struct writer {
	frep_client *c;
	int          id;
	int          round;
	atomic_bool *stop;
	int          acked[WRITES_MAX]; /* indexes whose AddReservation answered OK */
	int          n_acked;
	int          n_tried;
	frep_code    end; /* the status that ended it; OK if it saw stop first */
} writer;

static void
writer_ip(int id, int round, int i, char *ip, char *mac)
{
	/* Scope 10.60.0.0/16: writer id and round pick the third octet. */
	snprintf(ip, 32, "10.60.%d.%d", 1 + id * 24 + round * 8 + i / 250, 1 + i % 250);
	snprintf(mac, 32, "02-60-%02x-%02x-%02x-%02x", id, round, i / 256, i % 256);
}

static void *
writer_main(void *arg)
{
	writer *w = arg;
	for (int i = 0; i < WRITES_MAX && !atomic_load(w->stop); i++) {
		char        ip[32], mac[32];
		frep_status st;
		writer_ip(w->id, w->round, i, ip, mac);
		w->n_tried     = i + 1;
		frep_code code = rt_add_reservation(w->c, "10.60.0.0", ip, mac, "acked", &st);
		if (code == FREP_OK) {
			w->acked[w->n_acked++] = i;
			continue;
		}
		w->end = code;
		if (code != FREP_UNAVAILABLE && code != FREP_DEADLINE_EXCEEDED) {
			print_error("writer %d: %s: %s\n", w->id, frep_code_name(code), st.message);
		}
		break; /* UNAVAILABLE: the kill cut this call; else printed above */
	}
	return NULL;
}

static bool
has_ip(char **ips, size_t n, const char *ip)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ips[i], ip) == 0) {
			return true;
		}
	}
	return false;
}

/* Proves: a write frepd acknowledged survives SIGKILL at any moment.
 * 8 threads add reservations as fast as they can; frepd is SIGKILLed at a
 * random moment; after the restart every acknowledged reservation is
 * there (and nothing that was never sent). Three rounds, three moments;
 * each round asserts that writes were acknowledged before the kill and
 * that the kill cut at least one writer's call (UNAVAILABLE). */
static void
test_fault_sigkill_keeps_every_acknowledged_write(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0];
	start_ipc(f, 0, "a");
	rt_add_scope(a->c, "10.60.0.0", "10.60.0.1", "10.60.255.254", true);
	unsigned seed = (unsigned) rt_env_long("FREP_TEST_SEED", (long) time(NULL));
	print_message("seed %u (FREP_TEST_SEED=%u replays the kill moments)\n", seed, seed);
	srand(seed);
	size_t total_acked = 0;
	for (int round = 0; round < 3; round++) {
		static writer w[WRITERS];
		pthread_t     t[WRITERS];
		atomic_bool   stop = false;
		for (int i = 0; i < WRITERS; i++) {
			frep_status         st;
			frep_client_options o = {.timeout_ms = 3000};
			memset(&w[i], 0, sizeof(w[i]));
			w[i].id    = i;
			w[i].round = round;
			w[i].stop  = &stop;
			assert_int_equal(frep_client_open(a->url, &o, &w[i].c, &st), FREP_OK);
			pthread_create(&t[i], NULL, writer_main, &w[i]);
		}
		/* The kill lands at a random moment of the write storm: this
		 * sleep is the fault's timing, not a wait for a server. */
		struct timespec ts = {.tv_nsec = (150 + rand() % 500) * 1000000L};
		nanosleep(&ts, NULL);
		assert_int_not_equal(tu_proc_stop(&a->proc, SIGKILL, 10000), -1);
		atomic_store(&stop, true);
		for (int i = 0; i < WRITERS; i++) {
			pthread_join(t[i], NULL);
			frep_client_close(w[i].c);
		}
		rt_node_start(a, f->dir);

		char **ips   = NULL;
		size_t n     = count_reservations(a->c, "10.60.0.0", &ips);
		size_t acked = 0, tried = 0;
		int    cut = 0;
		for (int i = 0; i < WRITERS; i++) {
			cut += w[i].end == FREP_UNAVAILABLE;
			for (int k = 0; k < w[i].n_acked; k++) {
				char ip[32], mac[32];
				writer_ip(i, round, w[i].acked[k], ip, mac);
				if (!has_ip(ips, n, ip)) {
					fail_msg("round %d: acknowledged reservation %s is missing "
						 "after SIGKILL",
					    round, ip);
				}
			}
			acked += (size_t) w[i].n_acked;
			tried += (size_t) w[i].n_tried;
		}
		print_message("round %d: %zu writes acknowledged, %d writers cut (UNAVAILABLE), "
			      "%zu present after SIGKILL\n",
		    round, acked, cut, n);
		/* The kill landed in the storm: writes were acknowledged before
		 * it, and it cut a call in flight. */
		assert_true(acked > 0);
		assert_true(cut > 0);
		total_acked += acked;
		/* At most one unacknowledged write per writer may have landed. */
		assert_true(n >= total_acked && n <= total_acked + (tried - acked));
		total_acked = n;
		for (size_t i = 0; i < n; i++) {
			free(ips[i]);
		}
		free(ips);
	}
	rt_node_stop_clean(a);
}

/* --- partner restarted during a multi-scope replication ------------------ */

enum { MANY = 600 };

typedef struct replicator {
	frep_client                 *c;
	Frep__V1__ReplicateResponse *r;
	frep_code                    code;
	frep_status                  st;
	long long                    ms;
} replicator;

static void *
replicator_main(void *arg)
{
	replicator                      *rp      = arg;
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"many"};
	ProtobufCMessage                *out     = NULL;
	long long                        t0      = tu_now_ms();
	req.names                                = names;
	req.n_names                              = 1;
	rp->code = frep_client_call(rp->c, "/frep.v1.FailoverReplication/ReplicateByName",
	    &req.base, &frep__v1__replicate_response__descriptor, &out, NULL, &rp->st);
	rp->ms   = tu_now_ms() - t0;
	rp->r    = (Frep__V1__ReplicateResponse *) out;
	return NULL;
}

/* Starts node i over ipc:// with the test-only apply hook on
 * (FREP_TEST_HOOK_APPLY=hook, docs/TESTS.md); only this fork sees it. */
static void
start_ipc_hooked(fixture *f, int i, const char *name, const char *hook)
{
	assert_int_equal(setenv("FREP_TEST_HOOK_APPLY", hook, 1), 0);
	start_ipc(f, i, name);
	assert_int_equal(unsetenv("FREP_TEST_HOOK_APPLY"), 0);
}

/* Proves: a partner SIGKILLed and restarted while a 600-scope relationship
 * replicates (three ApplyScopes batches) leaves the call with an OK reply
 * carrying one status per scope (OK, or UNAVAILABLE / DEADLINE_EXCEEDED
 * for the scopes it could not deliver), scope_ids listing exactly the OK
 * ones, and a retry that completes every scope with equal digests. The
 * replication is really cut every round: the partner's apply hook pauses
 * it inside the write transaction of a scope of a later batch (a
 * different one each round), and the kill lands there. */
static void
test_fault_partner_restarted_during_multi_scope_replication(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0], *b = &f->n[1];
	char     hook[600], paused[620];
	snprintf(hook, sizeof(hook), "%s/apply-hook", f->dir);
	snprintf(paused, sizeof(paused), "%s.paused", hook);
	start_ipc(f, 0, "a");
	start_ipc_hooked(f, 1, "b", hook);
	char  ids[MANY][32];
	char *idp[MANY];
	for (int i = 0; i < MANY; i++) {
		rt_import_scope(a->c, 100 + i / 200, i % 200, 20, "v1");
		snprintf(ids[i], sizeof(ids[i]), "10.%d.%d.0", 100 + i / 200, i % 200);
		idp[i] = ids[i];
	}
	rt_add_failover(a->c, "many", b->url, SECRET, idp, MANY, FREP_OK);
	for (int round = 0; round < 3; round++) {
		char name[16];
		snprintf(name, sizeof(name), "v%d", round + 2);
		for (int i = 0; i < MANY; i++) {
			rt_import_scope(a->c, 100 + i / 200, i % 200, 21 + round, name);
		}
		/* Pause on a scope past the first batch (256 scopes). */
		const char *cut  = ids[300 + 100 * round];
		FILE       *armf = fopen(hook, "w");
		assert_non_null(armf);
		fprintf(armf, "%s\n", cut);
		fclose(armf);
		replicator rp = {.c = a->c};
		pthread_t  t;
		pthread_create(&t, NULL, replicator_main, &rp);
		if (!rt_wait_hook_paused(paused, b->proc.pid, 30000)) {
			tu_proc_dump_log(&b->proc);
			fail_msg("round %d: the partner never applied scope %s", round, cut);
		}
		assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
		assert_int_equal(unlink(paused), 0);
		assert_int_equal(setenv("FREP_TEST_HOOK_APPLY", hook, 1), 0);
		rt_node_start(b, f->dir); /* the same node again: its client kept */
		assert_int_equal(unsetenv("FREP_TEST_HOOK_APPLY"), 0);
		pthread_join(t, NULL);
		if (rp.code != FREP_OK) {
			fail_msg("round %d: ReplicateByName: %s: %s", round,
			    frep_code_name(rp.code), rp.st.message);
		}
		Frep__V1__ReplicateResponse *r = rp.r;
		assert_int_equal(r->n_results, MANY);
		size_t ok = 0;
		for (size_t i = 0; i < r->n_results; i++) {
			frep_code c = (frep_code) r->results[i]->code;
			if (c == FREP_OK) {
				ok++;
			} else if (c != FREP_UNAVAILABLE && c != FREP_DEADLINE_EXCEEDED) {
				fail_msg("round %d: scope %s: unexpected %s: %s", round,
				    r->results[i]->scope_id, frep_code_name(c),
				    r->results[i]->message);
			} else if (strcmp(r->results[i]->scope_id, cut) != 0) {
				continue;
			}
			if (strcmp(r->results[i]->scope_id, cut) == 0 && c == FREP_OK) {
				fail_msg(
				    "round %d: scope %s was killed mid-apply yet OK", round, cut);
			}
		}
		assert_int_equal(r->n_scope_ids, ok);
		assert_true(ok < MANY); /* really cut short */
		print_message("round %d: cut at scope %s: %zu of %d scopes delivered (%lld ms)\n",
		    round, cut, ok, MANY, rp.ms);
		protobuf_c_message_free_unpacked(&r->base, NULL);

		/* The retry completes it. */
		replicator again = {.c = a->c};
		replicator_main(&again);
		assert_int_equal(again.code, FREP_OK);
		assert_int_equal(again.r->n_scope_ids, MANY);
		protobuf_c_message_free_unpacked(&again.r->base, NULL);
		for (int i = 0; i < MANY; i += (round == 2 ? 1 : 7)) {
			char da[65], db[65];
			rt_digest(a->c, ids[i], da);
			rt_digest(b->c, ids[i], db);
			assert_string_equal(da, db);
		}
	}
	rt_node_stop_clean(a);
	rt_node_stop_clean(b);
}

/* --- partner not listening ----------------------------------------------- */

static Frep__V1__ReplicateResponse *
replicate_timed(frep_client *c, const char *name, long long *ms)
{
	replicator rp = {.c = c};
	(void) name;
	replicator_main(&rp);
	*ms = rp.ms;
	if (rp.code != FREP_OK) {
		fail_msg("ReplicateByName: %s: %s", frep_code_name(rp.code), rp.st.message);
	}
	return rp.r;
}

/* Proves: with the partner gone (nothing listening: connection refused)
 * or silent (a socket that accepts TCP and never speaks), a replication
 * answers UNAVAILABLE / DEADLINE_EXCEEDED for the partner's scopes within
 * --partner-timeout-ms plus a margin, and frepd keeps serving. */
static void
test_fault_partner_not_listening_answers_within_deadline(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0], *b = &f->n[1];
	enum { TIMEOUT_MS = 1000, MARGIN_MS = 1500 };
	char url[600];
	start_ipc(f, 0, "a");
	a->partner_timeout_ms = TIMEOUT_MS;
	assert_int_not_equal(tu_proc_stop(&a->proc, SIGTERM, 10000), -1);
	rt_node_start(a, f->dir);
	/* B on a port the test holds (rt_hold_port: bound, not listening):
	 * once B is gone nothing listens there, and no other process can have
	 * taken the number in between; then the same socket listens as the
	 * black hole. */
	int hold = -1;
	int port = rt_hold_port(&hold);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	rt_node_init(b, f->dir, "b", url);
	rt_node_start(b, f->dir);
	rt_import_scope(a->c, 61, 0, 5, "v1");
	char *scopes[] = {"10.61.0.0"};
	rt_add_failover(a->c, "many", b->url, SECRET, scopes, 1, FREP_OK);
	rt_import_scope(a->c, 61, 0, 6, "v2");

	/* 1. Nothing listening. */
	assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
	for (int i = 0; i < 3; i++) {
		long long                    ms;
		Frep__V1__ReplicateResponse *r = replicate_timed(a->c, "many", &ms);
		assert_int_equal(r->n_results, 1);
		assert_int_equal(r->results[0]->code, FREP_UNAVAILABLE);
		assert_non_null(strstr(r->results[0]->message, url));
		print_message(
		    "partner refused: UNAVAILABLE in %lld ms (%s)\n", ms, r->results[0]->message);
		assert_true(ms <= TIMEOUT_MS + MARGIN_MS);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}

	/* 2. A black hole: TCP accepts (the kernel's backlog), SP never answers. */
	assert_int_equal(listen(hold, 64), 0);
	for (int i = 0; i < 2; i++) {
		long long                    ms;
		Frep__V1__ReplicateResponse *r = replicate_timed(a->c, "many", &ms);
		assert_int_equal(r->n_results, 1);
		frep_code c = (frep_code) r->results[0]->code;
		print_message("partner silent: %s in %lld ms (%s)\n", frep_code_name(c), ms,
		    r->results[0]->message);
		assert_true(c == FREP_UNAVAILABLE || c == FREP_DEADLINE_EXCEEDED);
		assert_true(ms <= TIMEOUT_MS + MARGIN_MS);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	close(hold);
	assert_int_equal(rt_wait_healthy(a->url, NULL, 2000), 0);
	rt_node_stop_clean(a);
}

/* --- clients that disconnect mid-call ------------------------------------ */

static uint8_t *
import_envelope(int octet2, int third, int n_res, size_t *len)
{
	char scope_id[32], start[32], end[32];
	snprintf(scope_id, sizeof(scope_id), "10.%d.%d.0", octet2, third);
	snprintf(start, sizeof(start), "10.%d.%d.1", octet2, third);
	snprintf(end, sizeof(end), "10.%d.%d.254", octet2, third);
	Frep__V1__Scope scope        = FREP__V1__SCOPE__INIT;
	scope.scope_id               = scope_id;
	scope.subnet_mask            = "255.255.0.0";
	scope.start_range            = start;
	scope.end_range              = end;
	scope.name                   = "abandoned";
	Frep__V1__Reservation  *res  = calloc((size_t) n_res, sizeof(*res));
	Frep__V1__Reservation **resp = calloc((size_t) n_res, sizeof(*resp));
	char(*ips)[32]               = calloc((size_t) n_res, 32);
	char(*macs)[32]              = calloc((size_t) n_res, 32);
	for (int i = 0; i < n_res; i++) {
		frep__v1__reservation__init(&res[i]);
		snprintf(ips[i], 32, "10.%d.%d.%d", octet2, third + 1 + i / 250, 1 + i % 250);
		snprintf(macs[i], 32, "02-77-00-00-%02x-%02x", i / 256, i % 256);
		res[i].scope_id   = scope_id;
		res[i].ip_address = ips[i];
		res[i].client_id  = macs[i];
		res[i].name       = "a-name-long-enough-to-make-the-request-large";
		resp[i]           = &res[i];
	}
	Frep__V1__ScopeConfig cfg        = FREP__V1__SCOPE_CONFIG__INIT;
	cfg.scope                        = &scope;
	cfg.reservations                 = resp;
	cfg.n_reservations               = (size_t) n_res;
	Frep__V1__ImportScopeRequest req = FREP__V1__IMPORT_SCOPE_REQUEST__INIT;
	req.config                       = &cfg;
	frep_request_fields rf           = {.method = "/frep.v1.DhcpServer/ImportScope",
		      .payload                      = &req.base,
		      .timeout_ms                   = 30000,
		      .call_id                      = 0};
	*len                             = frep_envelope_request_size(&rf);
	uint8_t *buf                     = malloc(*len);
	frep_envelope_request_pack(&rf, buf);
	free(res);
	free(resp);
	free(ips);
	free(macs);
	return buf;
}

static int
raw_connect(int port)
{
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	    .sin_port                        = htons((uint16_t) port),
	    .sin_addr.s_addr                 = htonl(INADDR_LOOPBACK)};
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
	assert_int_equal(write(fd, hello, 8), 8);
	return fd;
}

/* Proves: clients that go away mid-call do not hurt the server. A raw nng
 * REQ socket sends a large, slow ImportScope (20,000 reservations) and
 * closes before the reply, 5 times; raw TCP peers announce an 8 MiB
 * message, send 1 MiB of it and hang up, or announce one and then say
 * nothing while 40 such connections stay open. Throughout and afterwards
 * frepd answers other clients, each abandoned import is all there or not
 * there at all, and frepd still exits 0 on SIGTERM (no leak under LSan). */
static void
test_fault_client_disconnecting_mid_call_leaves_server_serving(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0];
	char     url[600];
	rt_node_init(a, f->dir, "a", "tcp://127.0.0.1:0");
	rt_node_start(a, f->dir);
	snprintf(url, sizeof(url), "%s", a->url);
	int port = tu_url_port(url);
	assert_true(port > 0);
	rt_add_scope(a->c, "10.62.0.0", "10.62.0.1", "10.62.0.254", false);

	size_t   len;
	uint8_t *env = import_envelope(63, 0, 20000, &len);
	print_message("abandoned request: %zu bytes\n", len);
	for (int i = 0; i < 5; i++) {
		nng_socket s;
		assert_int_equal(nng_req0_open(&s), 0);
		assert_int_equal(nng_dial(s, url, NULL, 0), 0);
		assert_int_equal(nng_send(s, env, len, 0), 0);
		if (i % 2 == 1) {
			/* Give the handler time to be running when the peer leaves. */
			struct timespec ts = {.tv_nsec = 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
		nng_close(s);
		assert_int_equal(rt_wait_healthy(url, NULL, 5000), 0);
		char d[65];
		rt_digest(a->c, "10.62.0.0", d);
		assert_int_not_equal(d[0], '\0');
	}
	free(env);

	/* Half a message, then gone. */
	for (int i = 0; i < 5; i++) {
		int     fd     = raw_connect(port);
		uint8_t hdr[8] = {0, 0, 0, 0, 0, 0x80, 0, 0}; /* 8 MiB */
		assert_int_equal(write(fd, hdr, 8), 8);
		char *junk = calloc(1, 1 << 20);
		junk[0]    = (char) 0x80;
		ssize_t w  = write(fd, junk, 1 << 20);
		assert_true(w > 0);
		free(junk);
		close(fd);
	}
	/* Forty peers that announce a message and go silent. */
	int held[40];
	for (int i = 0; i < 40; i++) {
		held[i]        = raw_connect(port);
		uint8_t hdr[8] = {0, 0, 0, 0, 0, 0, 0x10, 0};
		assert_int_equal(write(held[i], hdr, 8), 8);
	}
	for (int i = 0; i < 50; i++) {
		char        ip[32], mac[32];
		frep_status st;
		snprintf(ip, sizeof(ip), "10.62.0.%d", 10 + i);
		snprintf(mac, sizeof(mac), "02-62-00-00-00-%02x", i);
		frep_code code = rt_add_reservation(a->c, "10.62.0.0", ip, mac, "while-held", &st);
		if (code != FREP_OK) {
			fail_msg("with 40 silent peers: AddReservation %s: %s",
			    frep_code_name(code), st.message);
		}
	}
	for (int i = 0; i < 40; i++) {
		close(held[i]);
	}
	/* Each abandoned import ran whole or not at all. */
	char d[65];
	rt_digest(a->c, "10.63.0.0", d);
	if (d[0] != '\0') {
		assert_int_equal(count_reservations(a->c, "10.63.0.0", NULL), 20000);
	}
	assert_int_equal(count_reservations(a->c, "10.62.0.0", NULL), 50);
	rt_node_stop_clean(a);
}

/* --- a full disk and a read-only store ----------------------------------- */

/* Mounts a tmpfs of size_kib at dir/name in a private mount namespace of
 * this test process (frepd children inherit it; nothing outside sees it).
 * False (with the reason printed) when that cannot be done here. */
static bool
mount_private_tmpfs(fixture *f, const char *name, unsigned size_kib)
{
	if (geteuid() != 0) {
		tu_skip_note("root", "needs root for a private tmpfs mount");
		return false;
	}
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		tu_skip_note("mountns", "no private mount namespace here: %s", strerror(errno));
		return false;
	}
	char opts[64];
	snprintf(f->mnt, sizeof(f->mnt), "%s/%s", f->dir, name);
	snprintf(opts, sizeof(opts), "size=%uk,mode=0700", size_kib);
	assert_int_equal(mkdir(f->mnt, 0700), 0);
	if (mount("tmpfs", f->mnt, "tmpfs", 0, opts) != 0) {
		tu_skip_note("mountns", "cannot mount a tmpfs: %s", strerror(errno));
		f->mnt[0] = '\0';
		return false;
	}
	return true;
}

static int
integrity_ok(const char *db)
{
	return tu_system("test \"$(sqlite3 '%s' 'PRAGMA integrity_check' 2>&1)\" = ok", db);
}

/* Fills the file system holding path until ENOSPC, then gives back
 * leave bytes (a tmpfs frees the truncated pages): frepd has room for a
 * few more writes before the disk is full. */
static void
fill_disk(const char *path, off_t leave)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	static char chunk[65536];
	memset(chunk, 0x5a, sizeof(chunk));
	for (size_t size = sizeof(chunk); size >= 1; size /= 2) {
		while (write(fd, chunk, size) == (ssize_t) size) {
		}
	}
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true(sb.st_size > leave);
	assert_int_equal(ftruncate(fd, sb.st_size - leave), 0);
	fsync(fd);
	close(fd);
}

/* Proves: on a disk that fills up (a 3 MiB tmpfs filled to 96 KiB short
 * of full, then acknowledged writes until the first refusal) writes fail
 * with RESOURCE_EXHAUSTED naming the full disk, reads keep working,
 * frepd does not crash; once space is back and frepd restarted the store
 * passes SQLite's integrity check and holds exactly what was acknowledged
 * (same digest as read while full), and writes work again. */
static void
test_fault_disk_full_is_a_clear_error_and_corrupts_nothing(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0];
	if (!mount_private_tmpfs(f, "full", 3072)) {
		skip();
	}
	char url[600], filler[700];
	snprintf(url, sizeof(url), "ipc://%s/full.sock", f->dir);
	snprintf(filler, sizeof(filler), "%s/filler", f->mnt);
	rt_node_init(a, f->dir, "full", url);
	snprintf(a->db, sizeof(a->db), "%s/full.db", f->mnt);
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.70.0.0", "10.70.0.1", "10.70.255.254", true);
	for (int i = 0; i < 50; i++) {
		char        ip[32], mac[32];
		frep_status st;
		snprintf(ip, sizeof(ip), "10.70.0.%d", 1 + i);
		snprintf(mac, sizeof(mac), "02-70-00-00-00-%02x", i);
		assert_int_equal(
		    rt_add_reservation(a->c, "10.70.0.0", ip, mac, "before", &st), FREP_OK);
	}
	fill_disk(filler, 96 * 1024);

	/* Writes until the first refusal; each acknowledged one is counted. */
	char name[400];
	memset(name, 'n', 200);
	name[200]        = '\0';
	int         ok   = 0;
	frep_status st   = {0};
	frep_code   code = FREP_OK;
	for (int i = 0; i < 5000; i++) {
		char ip[32], mac[32];
		snprintf(ip, sizeof(ip), "10.70.%d.%d", 1 + i / 250, 1 + i % 250);
		snprintf(mac, sizeof(mac), "02-70-01-00-%02x-%02x", i / 256, i % 256);
		code = rt_add_reservation(a->c, "10.70.0.0", ip, mac, name, &st);
		if (code != FREP_OK) {
			break;
		}
		ok++;
	}
	print_message(
	    "disk full after %d more writes: %s: %s\n", ok, frep_code_name(code), st.message);
	assert_int_equal(code, FREP_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.message, "full"));
	/* The disk filled up under acknowledged writes, not before them. */
	assert_true(ok > 0);
	/* Still serving: reads work, further writes are refused the same way. */
	char while_full[65], after[65];
	rt_digest(a->c, "10.70.0.0", while_full);
	assert_int_equal(count_reservations(a->c, "10.70.0.0", NULL), (size_t) (50 + ok));
	for (int i = 0; i < 3; i++) {
		code = rt_add_reservation(
		    a->c, "10.70.0.0", "10.70.250.1", "02-70-ff-ff-ff-ff", name, &st);
		assert_int_equal(code, FREP_RESOURCE_EXHAUSTED);
	}
	assert_int_equal(rt_wait_healthy(url, NULL, 2000), 0);

	/* Space back, restart: exactly what was acknowledged, intact. */
	assert_int_equal(unlink(filler), 0);
	int status = tu_proc_stop(&a->proc, SIGTERM, 30000);
	assert_true(status != -1 && WIFEXITED(status));
	print_message("frepd exited %d after the disk was full\n", WEXITSTATUS(status));
	assert_int_equal(integrity_ok(a->db), 0);
	rt_node_start(a, f->dir);
	rt_digest(a->c, "10.70.0.0", after);
	assert_string_equal(while_full, after);
	assert_int_equal(
	    rt_add_reservation(a->c, "10.70.0.0", "10.70.250.1", "02-70-ff-ff-ff-ff", name, &st),
	    FREP_OK);
	rt_node_stop_clean(a);
}

/* Proves: a store on a file system that has become read-only (the tmpfs
 * remounted read-only while frepd is stopped; remounting under a running
 * frepd is refused by the kernel, EBUSY, because SQLite holds the files
 * open for writing) is a clear error: frepd either refuses to start
 * naming the store, or serves reads while writes fail UNAVAILABLE naming
 * the read-only store. Nothing is corrupted: made writable again and
 * restarted, the digest is what it was and writes work. */
static void
test_fault_read_only_store_is_a_clear_error(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0];
	if (!mount_private_tmpfs(f, "ro", 8192)) {
		skip();
	}
	char url[600], before[65], after[65];
	snprintf(url, sizeof(url), "ipc://%s/ro.sock", f->dir);
	rt_node_init(a, f->dir, "ro", url);
	snprintf(a->db, sizeof(a->db), "%s/ro.db", f->mnt);
	rt_node_start(a, f->dir);
	rt_import_scope(a->c, 71, 0, 30, "before");
	rt_digest(a->c, "10.71.0.0", before);
	/* Under a running frepd the kernel refuses: SQLite holds files open. */
	int busy = mount(NULL, f->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL);
	print_message(
	    "read-only remount under a running frepd: %s\n", busy == 0 ? "done" : strerror(errno));
	if (busy != 0) {
		rt_node_stop_clean(a);
		assert_int_equal(mount(NULL, f->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
		assert_int_equal(tu_frepd_start(&a->proc, f->dir, a->name,
				     (const char *const[]){"--listen", url, "--db", a->db, NULL}),
		    0);
	}
	/* Either it serves (reads) or it exits with a clear message. */
	long long until   = tu_now_ms() + 15000;
	int       status  = 0;
	bool      exited  = false;
	bool      unclear = false;
	while (tu_now_ms() < until) {
		if (waitpid(a->proc.pid, &status, WNOHANG) == a->proc.pid) {
			exited      = true;
			a->proc.pid = 0;
			break;
		}
		if (rt_wait_healthy(url, NULL, 100) == 0) {
			break;
		}
	}
	if (exited) {
		tu_proc_dump_log(&a->proc);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
		assert_true(rt_file_contains(a->proc.log_path, a->db));
		/* Regression: frepd once said only "unable to open database file
		 * (code 14)", naming the store but not the cause (read-only file
		 * system). Checked after the store is shown intact. */
		unclear = !rt_file_contains(a->proc.log_path, "Read-only") &&
			  !rt_file_contains(a->proc.log_path, "read-only") &&
			  !rt_file_contains(a->proc.log_path, "readonly");
	} else {
		char        d[65];
		frep_status st;
		rt_digest(a->c, "10.71.0.0", d);
		assert_string_equal(d, before);
		frep_code code = rt_add_reservation(
		    a->c, "10.71.0.0", "10.71.0.200", "02-71-00-00-00-c8", "x", &st);
		print_message(
		    "write to a read-only store: %s: %s\n", frep_code_name(code), st.message);
		assert_int_equal(code, FREP_UNAVAILABLE);
		assert_true(strcasestr(st.message, "readonly") != NULL ||
			    strcasestr(st.message, "read-only") != NULL);
		rt_node_stop_clean(a);
	}
	assert_int_equal(mount(NULL, f->mnt, NULL, MS_REMOUNT, NULL), 0);
	assert_int_equal(integrity_ok(a->db), 0);
	rt_node_start(a, f->dir);
	rt_digest(a->c, "10.71.0.0", after);
	assert_string_equal(before, after);
	frep_status st;
	assert_int_equal(
	    rt_add_reservation(a->c, "10.71.0.0", "10.71.0.200", "02-71-00-00-00-c8", "x", &st),
	    FREP_OK);
	rt_node_stop_clean(a);
	if (unclear) {
		fail_msg("BUG: frepd refused a read-only store without saying it is read-only");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_fault_sigkill_keeps_every_acknowledged_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fault_partner_restarted_during_multi_scope_replication, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fault_partner_not_listening_answers_within_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fault_client_disconnecting_mid_call_leaves_server_serving, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fault_disk_full_is_a_clear_error_and_corrupts_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fault_read_only_store_is_a_clear_error, setup, teardown),
	};
	int rc = cmocka_run_group_tests_name("fault", tests, NULL, NULL);
	nng_fini();
	return tu_exit_code(rc);
}
