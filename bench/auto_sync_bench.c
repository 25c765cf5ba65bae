/*
 * auto_sync_bench: change-triggered replication between two real frepd
 * (issue 15). Prints figures, never passes or fails.
 *
 *   auto_sync_bench [--frepd PATH] [--samples N] [--seconds S] [--rows LIST]
 *                   [--gap-ms MS]
 *
 * Row 1, for --auto-sync-debounce-ms 200 (the default) and 0: a scope's
 * description set on A (SetScope returned: committed) until B's GetScope
 * returns it, N times (default 100), one change at a time; p50 / p99 /
 * max, and p50 minus the debounce (DESIGN §6 target: p50 under the
 * debounce + 10 ms).
 * Row 2, for the same two settings: sustained writes on A, 500 a second
 * spread over 100 scopes of one relationship, for S seconds (default 10):
 * for every write, the time until B holds that write or a newer one of the
 * same scope (B's ListScopes polled every 5 ms); p50 / p99 / max of that
 * lag, the applies B recorded, and the on-CPU time of each frepd per
 * second of the run (utime + stime from /proc).
 * Row 3, debounce 0: row 1 on one scope of 10,000 reservations (its own
 * relationship): every change sends the whole scope; p50 / p99 / max and
 * each frepd's on-CPU time per change.
 * --rows picks rows (default 1,2,3); --gap-ms is the pause between two
 * changes of rows 1 and 3 (default 20; over a second, each change comes
 * to servers that have been idle). Both servers on ipc:// in a temp
 * dir, each its own store, stopped by PID.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_client.h"
#include "testutil.h"

#define SCOPES 100
/* Row 3's scope: 10.1.0.0/18 with BIG reservations. */
#define BIG       10000
#define BIG_SCOPE "10.1.0.0"

typedef struct node {
	char         name[4];
	char         url[600];
	char         db[600];
	tu_proc      proc;
	frep_client *c;
} node;

static node  g_a, g_b;
static char *g_dir;
static int   g_starts;
/* Between two changes of rows 1 and 3 (--gap-ms; default 20 ms). */
static long g_gap_us = 20000;

static long long
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void
sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

static void
node_stop(node *n)
{
	frep_client_close(n->c);
	n->c = NULL;
	if (n->proc.pid > 0) {
		int status = tu_proc_stop(&n->proc, SIGTERM, 20000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "frepd %s did not exit 0 (status %d)\n", n->name, status);
			tu_proc_dump_log(&n->proc);
		}
		n->proc.pid = 0;
	}
}

static void
cleanup(void)
{
	node_stop(&g_a);
	node_stop(&g_b);
	if (g_dir != NULL) {
		tu_rmtree(g_dir);
		free(g_dir);
		g_dir = NULL;
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "auto_sync_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1); /* cleanup() runs from atexit */
}

static void
node_start(node *n, const char *name, const char *debounce)
{
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->url, sizeof(n->url), "ipc://%s/%s.sock", g_dir, name);
	snprintf(n->db, sizeof(n->db), "%s/%s-%d.db", g_dir, name, g_starts++);
	const char *args[] = {"--listen", n->url, "--advertise-url", n->url, "--db", n->db,
	    "--auto-sync-debounce-ms", debounce, "--log-level", "warn", NULL};
	if (tu_frepd_start(&n->proc, g_dir, n->name, args) != 0) {
		die("cannot start frepd %s", n->name);
	}
	if (tu_wait_healthy(n->url, 10000) != 0) {
		tu_proc_dump_log(&n->proc);
		die("frepd %s did not become healthy", n->name);
	}
	frep_client_options o = {.timeout_ms = 60000};
	frep_status         st;
	if (frep_client_open(n->url, &o, &n->c, &st) != FREP_OK) {
		die("client for %s: %s", n->url, st.message);
	}
}

static ProtobufCMessage *
call(node *n, const char *method, const ProtobufCMessage *in, const ProtobufCMessageDescriptor *od)
{
	ProtobufCMessage *out = NULL;
	frep_status       st;
	char              path[128];
	snprintf(path, sizeof(path), "/frep.v1.%s", method);
	if (frep_client_call(n->c, path, in, od, &out, NULL, &st) != FREP_OK) {
		die("%s on %s: %s: %s", method, n->name, frep_code_name(st.code), st.message);
	}
	return out;
}

static void
scope_id(int i, char *out, size_t cap)
{
	snprintf(out, cap, "10.%d.%d.0", 100 + i / 250, i % 250);
}

/* Relationship name from A to B holding ids (on A), auto_sync on. */
static void
add_failover(const char *name, char **ids, size_t n)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.name                           = (char *) name;
	rel.partner_server                 = g_b.url;
	rel.shared_secret                  = "bench secret";
	rel.scope_ids                      = ids;
	rel.n_scope_ids                    = n;
	rel.auto_sync                      = FREP__V1__AUTO_SYNC__AUTO_SYNC_ON;
	req.relationship                   = &rel;
	protobuf_c_message_free_unpacked(call(&g_a, "DhcpServer/AddFailover", &req.base,
					     &frep__v1__failover_relationship__descriptor),
	    NULL);
}

/* A and B with SCOPES scopes on A in one relationship (auto_sync on). */
static void
pair_up(void)
{
	static char ids[SCOPES][32];
	char       *idp[SCOPES];
	for (int i = 0; i < SCOPES; i++) {
		char start[48], end[48], net[32];
		scope_id(i, ids[i], sizeof(ids[i]));
		idp[i] = ids[i];
		snprintf(net, sizeof(net), "%.*s", (int) (strlen(ids[i]) - 2), ids[i]);
		snprintf(start, sizeof(start), "%s.10", net);
		snprintf(end, sizeof(end), "%s.200", net);
		Frep__V1__Scope s = FREP__V1__SCOPE__INIT;
		s.scope_id        = ids[i];
		s.subnet_mask     = "255.255.255.0";
		s.name            = ids[i];
		s.start_range     = start;
		s.end_range       = end;
		protobuf_c_message_free_unpacked(
		    call(&g_a, "DhcpServer/AddScope", &s.base, &frep__v1__scope__descriptor), NULL);
	}
	add_failover("bench", idp, SCOPES);
}

static void
set_description(node *n, const char *scope, const char *text)
{
	Frep__V1__Scope           s   = FREP__V1__SCOPE__INIT;
	Frep__V1__SetScopeRequest req = FREP__V1__SET_SCOPE_REQUEST__INIT;
	char                     *m[] = {"description"};
	s.scope_id                    = (char *) scope;
	s.description                 = (char *) text;
	req.scope                     = &s;
	req.update_mask               = m;
	req.n_update_mask             = 1;
	protobuf_c_message_free_unpacked(
	    call(n, "DhcpServer/SetScope", &req.base, &frep__v1__scope__descriptor), NULL);
}

static bool
description_is(node *n, const char *scope, const char *want)
{
	Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
	k.scope_id           = (char *) scope;
	Frep__V1__Scope *s   = (Frep__V1__Scope *) call(
	      n, "DhcpServer/GetScope", &k.base, &frep__v1__scope__descriptor);
	bool same = strcmp(s->description, want) == 0;
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return same;
}

static size_t
applies_on(node *n)
{
	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.limit                      = 100000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) call(
	    n, "DhcpServer/ListAudit", &req.base, &frep__v1__list_audit_response__descriptor);
	size_t k = 0;
	for (size_t i = 0; i < r->n_records; i++) {
		k += strcmp(r->records[i]->direction, "applied") == 0 && r->records[i]->code == 0;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return k;
}

/* utime + stime of a process, in ms. */
static double
cpu_ms(const node *n)
{
	char               path[64], buf[2048];
	unsigned long long ut = 0, stt = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) n->proc.pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len]    = '\0';
	char *p     = strrchr(buf, ')');
	int   field = 2;
	for (char *tok = p != NULL ? strtok(p + 1, " ") : NULL; tok != NULL;
	     tok       = strtok(NULL, " ")) {
		field++;
		if (field == 14) {
			ut = strtoull(tok, NULL, 10);
		} else if (field == 15) {
			stt = strtoull(tok, NULL, 10);
			break;
		}
	}
	return (double) (ut + stt) * 1000.0 / (double) sysconf(_SC_CLK_TCK);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;
	return x < y ? -1 : x > y;
}

static double
pct_ms(long long *v, size_t n, double p)
{
	if (n == 0) {
		return -1;
	}
	size_t i = (size_t) (p * (double) (n - 1) + 0.5);
	return (double) v[i] / 1000.0;
}

/* --- row 1: one change at a time ---------------------------------------- */

/* Sets scope's description on A to text and returns the µs until B's
 * GetScope shows it (polled every 0.5 ms; dies after 30 s). */
static long long
change_until_visible(const char *scope, const char *text)
{
	set_description(&g_a, scope, text);
	long long t0 = now_us();
	while (!description_is(&g_b, scope, text)) {
		sleep_us(500);
		if (now_us() - t0 > 30000000LL) {
			die("the change of %s to \"%s\" never reached B", scope, text);
		}
	}
	return now_us() - t0;
}

static void
row_single(const char *debounce, int samples)
{
	char      scope[32], text[32];
	long long lat[10000];
	int       n = samples > 10000 ? 10000 : samples;
	scope_id(0, scope, sizeof(scope));
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "single %d", i);
		lat[i] = change_until_visible(scope, text);
		sleep_us(g_gap_us); /* the next change is a burst of its own */
	}
	qsort(lat, (size_t) n, sizeof(lat[0]), cmp_ll);
	double p50 = pct_ms(lat, (size_t) n, 0.50);
	printf("  debounce %4s ms: change on A -> visible on B, %d changes: p50 %.1f ms, p99 "
	       "%.1f ms, max %.1f ms; p50 - debounce = %.1f ms (target < 10 ms: %s)\n",
	    debounce, n, p50, pct_ms(lat, (size_t) n, 0.99), pct_ms(lat, (size_t) n, 1.0),
	    p50 - atof(debounce), p50 - atof(debounce) < 10.0 ? "met" : "NOT met");
}

/* --- row 3: one change at a time in a big scope ---------------------------- */

/* A and B with BIG_SCOPE (BIG reservations, imported on A) in
 * relationship "big" (auto_sync on); returns once B holds it. */
static void
pair_up_big(void)
{
	Frep__V1__Scope scope        = FREP__V1__SCOPE__INIT;
	scope.scope_id               = BIG_SCOPE;
	scope.subnet_mask            = "255.255.192.0";
	scope.start_range            = "10.1.0.10";
	scope.end_range              = "10.1.63.250";
	scope.name                   = "big";
	Frep__V1__Reservation  *res  = calloc(BIG, sizeof(*res));
	Frep__V1__Reservation **resp = calloc(BIG, sizeof(*resp));
	char(*txt)[3][24]            = calloc(BIG, sizeof(*txt));
	if (res == NULL || resp == NULL || txt == NULL) {
		die("out of memory");
	}
	for (unsigned k = 0; k < BIG; k++) {
		unsigned ip = 11 + k; /* from 10.1.0.11 on */
		frep__v1__reservation__init(&res[k]);
		snprintf(txt[k][0], 24, "10.1.%u.%u", ip / 256, ip % 256);
		snprintf(txt[k][1], 24, "02-00-00-%02x-%02x-%02x", (k >> 16) & 255, (k >> 8) & 255,
		    k & 255);
		snprintf(txt[k][2], 24, "host-%06u", k);
		res[k].scope_id   = BIG_SCOPE;
		res[k].ip_address = txt[k][0];
		res[k].client_id  = txt[k][1];
		res[k].name       = txt[k][2];
		resp[k]           = &res[k];
	}
	Frep__V1__ScopeConfig cfg        = FREP__V1__SCOPE_CONFIG__INIT;
	cfg.scope                        = &scope;
	cfg.reservations                 = resp;
	cfg.n_reservations               = BIG;
	Frep__V1__ImportScopeRequest req = FREP__V1__IMPORT_SCOPE_REQUEST__INIT;
	req.config                       = &cfg;
	protobuf_c_message_free_unpacked(call(&g_a, "DhcpServer/ImportScope", &req.base,
					     &frep__v1__import_scope_response__descriptor),
	    NULL);
	free(res);
	free(resp);
	free(txt);

	char *idp[1] = {BIG_SCOPE};
	add_failover("big", idp, 1);
}

static void
row_big(int samples)
{
	char      text[32];
	long long lat[10000];
	int       n = samples > 10000 ? 10000 : samples;
	/* The pairing's own pushes settle first. */
	(void) change_until_visible(BIG_SCOPE, "start");
	sleep_us(200000);
	double cpu_a = cpu_ms(&g_a), cpu_b = cpu_ms(&g_b);
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "big %d", i);
		lat[i] = change_until_visible(BIG_SCOPE, text);
		sleep_us(g_gap_us);
	}
	cpu_a = cpu_ms(&g_a) - cpu_a;
	cpu_b = cpu_ms(&g_b) - cpu_b;
	qsort(lat, (size_t) n, sizeof(lat[0]), cmp_ll);
	printf("  debounce    0 ms: change on A -> visible on B, one scope of %d reservations, %d "
	       "changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU per change A %.1f ms, B %.1f "
	       "ms (polling included)\n",
	    BIG, n, pct_ms(lat, (size_t) n, 0.50), pct_ms(lat, (size_t) n, 0.99),
	    pct_ms(lat, (size_t) n, 1.0), cpu_a / n, cpu_b / n);
}

/* --- row 2: sustained writes -------------------------------------------- */

typedef struct sustained {
	int          seconds;
	int          rate;
	long long   *t_write; /* per write: when SetScope returned (us) */
	int         *w_scope;
	int          n_writes;
	long long   *t_seen; /* per write: when B first held it or newer */
	volatile int done;
} sustained;

static void *
writer(void *arg)
{
	sustained *s     = arg;
	long long  start = now_us();
	long long  gap   = 1000000LL / s->rate;
	int        total = s->seconds * s->rate;
	for (int k = 0; k < total; k++) {
		long long due = start + (long long) k * gap;
		long long now = now_us();
		if (due > now) {
			sleep_us((long) (due - now));
		}
		char scope[32], text[32];
		int  sc = k % SCOPES;
		scope_id(sc, scope, sizeof(scope));
		snprintf(text, sizeof(text), "w%d", k);
		set_description(&g_a, scope, text);
		s->t_write[k] = now_us();
		s->w_scope[k] = sc;
		__atomic_store_n(&s->n_writes, k + 1, __ATOMIC_RELEASE);
	}
	s->done = 1;
	return NULL;
}

static void
row_sustained(const char *debounce, int seconds)
{
	sustained s   = {.seconds = seconds, .rate = 500};
	int       max = seconds * s.rate;
	s.t_write     = calloc((size_t) max, sizeof(long long));
	s.t_seen      = calloc((size_t) max, sizeof(long long));
	s.w_scope     = calloc((size_t) max, sizeof(int));
	/* For each scope, the newest write index B was seen holding. */
	int *seen_upto = calloc(SCOPES, sizeof(int));
	for (int i = 0; i < SCOPES; i++) {
		seen_upto[i] = -1;
	}
	size_t    applies0 = applies_on(&g_b);
	double    ca0 = cpu_ms(&g_a), cb0 = cpu_ms(&g_b);
	long long t0 = now_us();
	pthread_t w;
	pthread_create(&w, NULL, writer, &s);
	bool all_seen = false;
	while (!all_seen) {
		Frep__V1__ListScopesRequest   req = FREP__V1__LIST_SCOPES_REQUEST__INIT;
		Frep__V1__ListScopesResponse *r =
		    (Frep__V1__ListScopesResponse *) call(&g_b, "DhcpServer/ListScopes", &req.base,
			&frep__v1__list_scopes_response__descriptor);
		long long now = now_us();
		int       nw  = __atomic_load_n(&s.n_writes, __ATOMIC_ACQUIRE);
		for (size_t i = 0; i < r->n_scopes; i++) {
			const char *d = r->scopes[i]->description;
			if (d[0] != 'w') {
				continue;
			}
			int k = atoi(d + 1);
			if (k < 0 || k >= max) {
				continue;
			}
			int sc = k % SCOPES;
			if (k > seen_upto[sc]) {
				/* Every write of sc up to k is visible now (k or newer). */
				int from = seen_upto[sc] < 0 ? sc : seen_upto[sc] + SCOPES;
				for (int j = from; j <= k; j += SCOPES) {
					if (j < nw && s.t_seen[j] == 0) {
						s.t_seen[j] = now;
					}
				}
				seen_upto[sc] = k;
			}
		}
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (s.done) {
			all_seen = true;
			for (int k = 0; k < max && all_seen; k++) {
				all_seen = s.t_seen[k] != 0;
			}
		}
		if (now - t0 > (long long) (seconds + 60) * 1000000LL) {
			die("B never caught up with the sustained writes");
		}
		sleep_us(5000);
	}
	pthread_join(w, NULL);
	double     wall = (double) (now_us() - t0) / 1e6;
	double     ca = cpu_ms(&g_a) - ca0, cb = cpu_ms(&g_b) - cb0;
	long long *lag = calloc((size_t) max, sizeof(long long));
	for (int k = 0; k < max; k++) {
		lag[k] = s.t_seen[k] - s.t_write[k];
		if (lag[k] < 0) {
			lag[k] = 0; /* seen by the poll before SetScope's reply came back */
		}
	}
	qsort(lag, (size_t) max, sizeof(lag[0]), cmp_ll);
	printf("  debounce %4s ms: %d writes/s over %d scopes for %d s (%d writes): partner lag "
	       "p50 %.1f ms, p99 %.1f ms, max %.1f ms; %zu applies on B; CPU per second of the "
	       "run: A %.0f ms, B %.0f ms (wall %.1f s)\n",
	    debounce, s.rate, SCOPES, seconds, max, pct_ms(lag, (size_t) max, 0.50),
	    pct_ms(lag, (size_t) max, 0.99), pct_ms(lag, (size_t) max, 1.0),
	    applies_on(&g_b) - applies0, ca / wall, cb / wall, wall);
	free(lag);
	free(seen_upto);
	free(s.t_write);
	free(s.t_seen);
	free(s.w_scope);
}

int
main(int argc, char **argv)
{
	const char *frepd   = getenv("FREPD");
	int         samples = 100, seconds = 10;
	const char *rows = "1,2,3";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--frepd") == 0 && i + 1 < argc) {
			frepd = argv[++i];
		} else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
			samples = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
			rows = argv[++i];
		} else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc) {
			g_gap_us = atol(argv[++i]) * 1000L;
		} else {
			fprintf(stderr,
			    "usage: auto_sync_bench [--frepd PATH] [--samples N] [--seconds S] "
			    "[--rows LIST] [--gap-ms MS]\n");
			return 2;
		}
	}
	if (frepd == NULL) {
		frepd = "build/rpc/frepd";
	}
	if (g_gap_us < 0) {
		fprintf(stderr, "auto_sync_bench: --gap-ms is at least 0\n");
		return 2;
	}
	if (samples < 1 || seconds < 1) {
		fprintf(stderr, "auto_sync_bench: --samples and --seconds are at least 1\n");
		return 2;
	}
	setenv("FREPD", frepd, 1);
	signal(SIGPIPE, SIG_IGN);
	g_dir = tu_tmpdir();
	atexit(cleanup);
	printf("auto_sync_bench: two frepd on ipc://, auto_sync on, %d scopes in the relationship; "
	       "%ld CPUs online\n",
	    SCOPES, sysconf(_SC_NPROCESSORS_ONLN));
	const char *debounces[] = {"200", "0"};
	if (strchr(rows, '1') != NULL) {
		printf("\nrow 1: one change at a time\n");
	}
	for (size_t d = 0; d < 2 && strchr(rows, '1') != NULL; d++) {
		node_start(&g_a, "a", debounces[d]);
		node_start(&g_b, "b", debounces[d]);
		pair_up();
		row_single(debounces[d], samples);
		node_stop(&g_a);
		node_stop(&g_b);
	}
	if (strchr(rows, '2') != NULL) {
		printf("\nrow 2: sustained writes on A\n");
	}
	for (size_t d = 0; d < 2 && strchr(rows, '2') != NULL; d++) {
		node_start(&g_a, "a", debounces[d]);
		node_start(&g_b, "b", debounces[d]);
		pair_up();
		row_sustained(debounces[d], seconds);
		node_stop(&g_a);
		node_stop(&g_b);
	}
	if (strchr(rows, '3') != NULL) {
		printf("\nrow 3: one change at a time in a scope of %d reservations\n", BIG);
		node_start(&g_a, "a", "0");
		node_start(&g_b, "b", "0");
		pair_up_big();
		row_big(samples);
		node_stop(&g_a);
		node_stop(&g_b);
	}
	return 0;
}
