/*
 * kea_bench: change to served. A pair of real frepd processes, B driving a
 * real kea-dhcp4 (on no interface, its own control socket); one scope of
 * 10,000 reservations replicated from A. Timed: one reservation renamed on
 * A, ReplicateByName, until B's Kea serves the new configuration (B's kea
 * status: a new push of the current digest, i.e. its config-set done; the
 * config-write that follows is not counted). Against:
 * Kea's own config-set of that same whole configuration, sent alone on
 * Kea's control socket, right after each change (paired rounds: both see
 * the same machine). Prints the figures and the median of the per-round
 * ratios; never fails on a figure (exit 1 only when a call it needs fails,
 * 77 without kea-dhcp4).
 *
 *   kea_bench [--frepd PATH] [--reservations N] [--runs N] [--poll-ms N]
 *
 * B's status is polled every --poll-ms (10) ms; before each timed change
 * and before Kea's own config-set the bench waits until B has nothing
 * pending (Kea's config-write of the last push done).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frep/v1/data_plane.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_client.h"
#include "kea_push.h"
#include "testutil.h"

#define SECRET          "kea bench secret"
#define CALL_TIMEOUT_MS 300000

typedef struct node {
	char         name[8];
	char         url[600];
	char         db[600];
	tu_proc      proc;
	frep_client *c;
} node;

static node     g_nodes[2];
static char    *g_dir;
static pid_t    g_kea;
static unsigned g_poll_ms = 10; /* --poll-ms: how often B's status is asked */

static long long
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
ms_since(long long t0)
{
	return (double) (now_ns() - t0) / 1e6;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *) x, b = *(const double *) y;
	return (a > b) - (a < b);
}

/* The median of v[0..n) (sorts v; n > 0). */
static double
median(double *v, int n)
{
	qsort(v, (size_t) n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		frep_client_close(g_nodes[i].c);
		g_nodes[i].c = NULL;
		if (g_nodes[i].proc.pid > 0) {
			tu_proc_stop(&g_nodes[i].proc, SIGTERM, 20000);
			g_nodes[i].proc.pid = 0;
		}
	}
	if (g_kea > 0) {
		kill(g_kea, SIGTERM);
		waitpid(g_kea, NULL, 0);
		g_kea = 0;
	}
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
	fprintf(stderr, "kea_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1); /* cleanup() runs from atexit */
}

static node *
node_start(int idx, const char *kea_sock, const char *kea_base)
{
	node *n = &g_nodes[idx];
	snprintf(n->name, sizeof(n->name), "%c", 'a' + idx);
	snprintf(n->url, sizeof(n->url), "ipc://%s/%c.sock", g_dir, 'a' + idx);
	snprintf(n->db, sizeof(n->db), "%s/%c.db", g_dir, 'a' + idx);
	const char *args[] = {"--listen", n->url, "--advertise-url", n->url, "--db", n->db,
	    "--partner-timeout-ms", "120000", kea_sock != NULL ? "--kea-socket" : NULL, kea_sock,
	    "--kea-base", kea_base, NULL};
	if (tu_frepd_start(&n->proc, g_dir, n->name, args) != 0) {
		die("cannot start frepd %s", n->name);
	}
	if (tu_wait_healthy(n->url, 10000) != 0) {
		tu_proc_dump_log(&n->proc);
		die("frepd %s did not become healthy", n->name);
	}
	frep_client_options o = {.timeout_ms = CALL_TIMEOUT_MS};
	frep_status         st;
	if (frep_client_open(n->url, &o, &n->c, &st) != FREP_OK) {
		die("client for %s: %s", n->url, st.message);
	}
	return n;
}

static ProtobufCMessage *
call_ok(node *n, const char *path, const ProtobufCMessage *in, const ProtobufCMessageDescriptor *od)
{
	ProtobufCMessage *out = NULL;
	frep_status       st;
	if (frep_client_call(n->c, path, in, od, &out, NULL, &st) != FREP_OK) {
		die("%s on %s: %s: %s", path, n->name, frep_code_name(st.code), st.message);
	}
	return out;
}

static void
ip_text(uint32_t ip, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

/* A scope (network net, prefix length plen, range .10 .. broadcast-5) with
 * n reservations from net+11 on, imported in one ImportScope call. tag
 * makes the client ids unique across scopes; gen changes every name. */
static double
import_scope(node *n, uint32_t net, int plen, int n_res, unsigned tag, unsigned gen)
{
	uint32_t mask  = plen == 0 ? 0 : 0xffffffffu << (32 - plen);
	uint32_t bcast = net | ~mask;
	char     sid[16], smask[16], start[16], end[16];
	ip_text(net, sid);
	ip_text(mask, smask);
	ip_text(net + 10, start);
	ip_text(bcast - 5, end);
	if ((uint32_t) n_res > bcast - 5 - (net + 11)) {
		die("%d reservations do not fit in %s/%d", n_res, sid, plen);
	}
	Frep__V1__Scope scope = FREP__V1__SCOPE__INIT;
	scope.scope_id        = sid;
	scope.subnet_mask     = smask;
	scope.start_range     = start;
	scope.end_range       = end;
	scope.name            = "bench";

	size_t                  nr   = (size_t) n_res;
	Frep__V1__Reservation  *res  = calloc(nr + 1, sizeof(*res));
	Frep__V1__Reservation **resp = calloc(nr + 1, sizeof(*resp));
	char(*txt)[3][24]            = calloc(nr + 1, sizeof(*txt));
	if (res == NULL || resp == NULL || txt == NULL) {
		die("out of memory");
	}
	for (size_t i = 0; i < nr; i++) {
		uint32_t k = (uint32_t) i;
		frep__v1__reservation__init(&res[i]);
		ip_text(net + 11 + k, txt[i][0]);
		snprintf(txt[i][1], 24, "02-%02x-%02x-%02x-%02x-%02x", (tag >> 8) & 255, tag & 255,
		    (k >> 16) & 255, (k >> 8) & 255, k & 255);
		snprintf(txt[i][2], 24, "host-%u-%06u", gen, k);
		res[i].scope_id   = sid;
		res[i].ip_address = txt[i][0];
		res[i].client_id  = txt[i][1];
		res[i].name       = txt[i][2];
		resp[i]           = &res[i];
	}
	Frep__V1__ScopeConfig cfg        = FREP__V1__SCOPE_CONFIG__INIT;
	cfg.scope                        = &scope;
	cfg.reservations                 = resp;
	cfg.n_reservations               = nr;
	Frep__V1__ImportScopeRequest req = FREP__V1__IMPORT_SCOPE_REQUEST__INIT;
	req.config                       = &cfg;
	long long         t0             = now_ns();
	ProtobufCMessage *o              = call_ok(n, "/frep.v1.DhcpServer/ImportScope", &req.base,
			 &frep__v1__import_scope_response__descriptor);
	double            ms             = ms_since(t0);
	protobuf_c_message_free_unpacked(o, NULL);
	free(res);
	free(resp);
	free(txt);
	return ms;
}

static double
add_failover(node *from, const node *to, const char *name, char **scopes, size_t n)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.name                           = (char *) name;
	rel.partner_server                 = (char *) to->url;
	rel.mode                           = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent           = 50;
	rel.shared_secret                  = SECRET;
	rel.scope_ids                      = scopes;
	rel.n_scope_ids                    = n;
	/* Timed: the bench's own ReplicateByName; auto-sync would race it. */
	rel.auto_sync        = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	req.relationship     = &rel;
	long long         t0 = now_ns();
	ProtobufCMessage *o  = call_ok(from, "/frep.v1.DhcpServer/AddFailover", &req.base,
	     &frep__v1__failover_relationship__descriptor);
	double            ms = ms_since(t0);
	protobuf_c_message_free_unpacked(o, NULL);
	return ms;
}

static void
set_reservation_name(node *n, const char *scope, const char *ip, const char *name)
{
	Frep__V1__SetReservationRequest sr     = FREP__V1__SET_RESERVATION_REQUEST__INIT;
	Frep__V1__Reservation           res    = FREP__V1__RESERVATION__INIT;
	char                           *mask[] = {"name"};
	res.scope_id                           = (char *) scope;
	res.ip_address                         = (char *) ip;
	res.name                               = (char *) name;
	sr.reservation                         = &res;
	sr.update_mask                         = mask;
	sr.n_update_mask                       = 1;
	protobuf_c_message_free_unpacked(call_ok(n, "/frep.v1.DhcpServer/SetReservation", &sr.base,
					     &frep__v1__reservation__descriptor),
	    NULL);
}

static void
replicate(node *n, const char *name, bool force)
{
	Frep__V1__ReplicateByNameRequest req      = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[1] = {(char *) name};
	req.names                                 = names;
	req.n_names                               = 1;
	req.force                                 = force;
	Frep__V1__ReplicateResponse *out          = (Frep__V1__ReplicateResponse *) call_ok(n,
		     "/frep.v1.FailoverReplication/ReplicateByName", &req.base,
		     &frep__v1__replicate_response__descriptor);
	for (size_t i = 0; i < out->n_results; i++) {
		if (out->results[i]->code != FREP_OK) {
			die("replicate: scope %s: %s", out->results[i]->scope_id,
			    out->results[i]->message);
		}
	}
	protobuf_c_message_free_unpacked(&out->base, NULL);
}

/* Polls B's kea status until the current digest is pushed by a push after
 * `pushes`; returns the push count then. */
static uint64_t
wait_pushed(node *b, uint64_t pushes)
{
	Frep__V1__GetKeaStatusRequest req = FREP__V1__GET_KEA_STATUS_REQUEST__INIT;
	for (int i = 0; i < 60000; i++) {
		Frep__V1__KeaStatus *s =
		    (Frep__V1__KeaStatus *) call_ok(b, "/frep.v1.DataPlane/GetKeaStatus", &req.base,
			&frep__v1__kea_status__descriptor);
		/* Served: a new push of the current digest (config-set done). */
		bool done = s->pushes > pushes && s->consecutive_failures == 0 &&
			    strcmp(s->last_pushed_digest, s->current_digest) == 0;
		uint64_t n = s->pushes;
		if (s->consecutive_failures > 0) {
			die("B's push fails: %s", s->last_error);
		}
		protobuf_c_message_free_unpacked(&s->base, NULL);
		if (done) {
			return n;
		}
		usleep(g_poll_ms * 1000); /* a status does not render: cheap to ask often */
	}
	die("B's Kea never got the configuration");
}

/* Waits until B has nothing pending (its last push written by Kea's
 * config-write), so that a timed change or Kea's own config-set does not
 * wait behind that write, and the base file is whole when read. */
static void
wait_written(node *b)
{
	Frep__V1__GetKeaStatusRequest req = FREP__V1__GET_KEA_STATUS_REQUEST__INIT;
	for (int i = 0; i < 60000; i++) {
		Frep__V1__KeaStatus *s =
		    (Frep__V1__KeaStatus *) call_ok(b, "/frep.v1.DataPlane/GetKeaStatus", &req.base,
			&frep__v1__kea_status__descriptor);
		bool pending = s->pending;
		protobuf_c_message_free_unpacked(&s->base, NULL);
		if (!pending) {
			return;
		}
		usleep(5000);
	}
	die("B's push never ended");
}

int
main(int argc, char **argv)
{
	const char *frepd = getenv("FREPD");
	int         n_res = 10000, runs = 5;
	char        sock[700], base[700];
	frep_status st;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--frepd") == 0 && i + 1 < argc) {
			frepd = argv[++i];
		} else if (strcmp(argv[i], "--reservations") == 0 && i + 1 < argc) {
			n_res = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--poll-ms") == 0 && i + 1 < argc) {
			g_poll_ms = (unsigned) atoi(argv[++i]);
		} else {
			fprintf(stderr,
			    "usage: kea_bench [--frepd PATH] [--reservations N] [--runs N] "
			    "[--poll-ms N]\n");
			return 2;
		}
	}
	if (frepd != NULL) {
		setenv("FREPD", frepd, 1);
	}
	if (system("command -v kea-dhcp4 >/dev/null 2>&1") != 0) {
		printf("kea_bench: kea-dhcp4 not installed: skipped\n");
		return 77;
	}
	g_dir = tu_tmpdir();
	if (g_dir == NULL) {
		die("no temp dir");
	}
	atexit(cleanup);
	snprintf(sock, sizeof(sock), "%s/kea.ctl", g_dir);
	snprintf(base, sizeof(base), "%s/kea.json", g_dir);
	FILE *f = fopen(base, "w");
	if (f == NULL) {
		die("cannot write %s", base);
	}
	fprintf(f,
	    "{\"Dhcp4\": {\"interfaces-config\": {\"interfaces\": []}, \"control-socket\": "
	    "{\"socket-type\": \"unix\", \"socket-name\": \"%s\"}, \"lease-database\": {\"type\": "
	    "\"memfile\", \"persist\": false}, \"loggers\": [{\"name\": \"kea-dhcp4\", "
	    "\"severity\": \"WARN\", \"output_options\": [{\"output\": \"%s/kea.log\"}]}]}}",
	    sock, g_dir);
	fclose(f);
	g_kea = fork();
	if (g_kea == 0) {
		char out[800];
		setenv("KEA_PIDFILE_DIR", g_dir, 1);
		setenv("KEA_LOCKFILE_DIR", g_dir, 1);
		snprintf(out, sizeof(out), "%s/kea.out", g_dir);
		if (freopen(out, "w", stdout) == NULL || freopen(out, "a", stderr) == NULL) {
			_exit(127);
		}
		execlp("kea-dhcp4", "kea-dhcp4", "-c", base, (char *) NULL);
		_exit(127);
	}
	struct stat sb;
	for (int i = 0; i < 200 && stat(sock, &sb) != 0; i++) {
		usleep(50000);
	}
	if (stat(sock, &sb) != 0) {
		die("Kea did not open %s", sock);
	}
	node *a = node_start(0, NULL, NULL);
	node *b = node_start(1, sock, base);

	/* 10.0.0.0/18: room for 16,000 reservations. */
	double imp      = import_scope(a, 0x0a000000u, 18, n_res, 1, 0);
	char  *scopes[] = {"10.0.0.0"};
	add_failover(a, b, "bench", scopes, 1);
	long long t0 = now_ns();
	replicate(a, "bench", true);
	uint64_t pushes = wait_pushed(b, 0);
	printf("kea_bench: one scope x %d reservations, status polled every %u ms (import on A "
	       "%.0f ms; first replicate and "
	       "push to B's Kea %.0f ms)\n",
	    n_res, g_poll_ms, imp, ms_since(t0));

	/* Kea alone: config-set of the same whole configuration (as B's frepd
	 * renders it with its base file). */
	Frep__V1__RenderKeaConfigRequest rq = FREP__V1__RENDER_KEA_CONFIG_REQUEST__INIT;
	rq.with_base                        = true;
	Frep__V1__RenderKeaConfigResponse *rr =
	    (Frep__V1__RenderKeaConfigResponse *) call_ok(b, "/frep.v1.DataPlane/RenderKeaConfig",
		&rq.base, &frep__v1__render_kea_config_response__descriptor);
	json_error_t jerr;
	json_t      *all = json_loads(rr->json, 0, &jerr);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	if (all == NULL) {
		die("rendering is not JSON: %s", jerr.text);
	}
	/* Dumped once, as frepd sends its cached dump: Kea's time only. */
	char *all_text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	if (all_text == NULL) {
		die("out of memory");
	}

	/* Paired rounds: a change to served, then (B idle again) Kea's own
	 * config-set of the same configuration, so that both see the same
	 * machine; the ratio is taken per round and its median reported. */
	double *frep_ms = calloc((size_t) runs, sizeof(double));
	double *kea_ms  = calloc((size_t) runs, sizeof(double));
	double *ratio   = calloc((size_t) runs, sizeof(double));
	if (frep_ms == NULL || kea_ms == NULL || ratio == NULL) {
		die("out of memory");
	}
	double best = 1e18, sum = 0, set_sum = 0, rep_sum = 0, kbest = 1e18, ksum = 0;
	for (int r = 0; r < runs; r++) {
		char name[32];
		snprintf(name, sizeof(name), "renamed-%d", r);
		wait_written(b);
		t0 = now_ns();
		set_reservation_name(a, "10.0.0.0", "10.0.0.11", name);
		double t_set = ms_since(t0);
		replicate(a, "bench", false);
		double t_rep = ms_since(t0);
		pushes       = wait_pushed(b, pushes);
		double t     = ms_since(t0);
		sum += t;
		set_sum += t_set;
		rep_sum += t_rep - t_set;
		best       = t < best ? t : best;
		frep_ms[r] = t;

		wait_written(b);
		json_t *ans = NULL;
		t0          = now_ns();
		if (kea_control_command_text(
			sock, "config-set", all_text, CALL_TIMEOUT_MS, &ans, &st) != FREP_OK) {
			die("config-set: %s", st.message);
		}
		double k = ms_since(t0);
		if (json_integer_value(json_object_get(ans, "result")) != 0) {
			die("Kea refused the configuration: %s",
			    json_string_value(json_object_get(ans, "text")));
		}
		json_decref(ans);
		ksum += k;
		kbest     = k < kbest ? k : kbest;
		kea_ms[r] = k;
		ratio[r]  = t / k;
	}
	wait_written(b);
	json_decref(all);
	double wbest = 1e18;
	for (int r = 0; r < runs; r++) {
		json_t *ans = NULL;
		t0          = now_ns();
		if (kea_control_command(sock, "config-write", NULL, CALL_TIMEOUT_MS, &ans, &st) !=
		    FREP_OK) {
			die("config-write: %s", st.message);
		}
		double t = ms_since(t0);
		json_decref(ans);
		wbest = t < wbest ? t : wbest;
	}
	Frep__V1__RenderKeaConfigRequest rq2   = FREP__V1__RENDER_KEA_CONFIG_REQUEST__INIT;
	double                           rbest = 1e18;
	for (int r = 0; r < runs; r++) {
		t0 = now_ns();
		protobuf_c_message_free_unpacked(
		    call_ok(b, "/frep.v1.DataPlane/RenderKeaConfig", &rq2.base,
			&frep__v1__render_kea_config_response__descriptor),
		    NULL);
		double t = ms_since(t0);
		rbest    = t < rbest ? t : rbest;
	}
	printf("  parts: Kea's config-write alone best %.0f ms; frep's RenderKeaConfig call best "
	       "%.0f ms\n",
	    wbest, rbest);
	printf("  change to served: rename on A + ReplicateByName + B's apply + render + "
	       "config-set (Kea serves it): best %.0f ms, mean %.0f ms (%d runs)\n",
	    best, sum / runs, runs);
	printf("    of which (means): SetReservation on A %.0f ms, ReplicateByName (B's apply "
	       "included) %.0f ms, then until B's Kea serves it %.0f ms\n",
	    set_sum / runs, rep_sum / runs, (sum - set_sum - rep_sum) / runs);
	printf("  Kea's own config-set of the same configuration, alone:          best %.0f ms, "
	       "mean %.0f ms\n",
	    kbest, ksum / runs);
	double med_frep = median(frep_ms, runs), med_kea = median(kea_ms, runs);
	double med_ratio = median(ratio, runs);
	printf("  medians: change to served %.0f ms, Kea's own config-set %.0f ms\n", med_frep,
	    med_kea);
	printf(
	    "  ratio best / best: %.2f; median / median: %.2f\n", best / kbest, med_frep / med_kea);
	printf("  ratio, median of the %d paired rounds: %.2f -> frep adds %.0f %% to Kea's own "
	       "time (target under 20 %%: %s)\n",
	    runs, med_ratio, (med_ratio - 1) * 100, med_ratio < 1.2 ? "met" : "NOT met");
	free(all_text);
	free(frep_ms);
	free(kea_ms);
	free(ratio);
	return 0;
}
