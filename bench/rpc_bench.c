/*
 * rpc_bench: the frep RPC runtime against a raw nng req/rep echo, side by
 * side in one run. Prints p50/p99 round trip and calls/s per row, and the
 * ratio frep/raw of p50. Also prints the idle RSS of a real frepd.
 *
 *   rpc_bench [--frepd PATH] [--quick]
 *
 * Rows: transport (ipc://, tcp:// on loopback) x payload (64 B, 4 KiB,
 * 64 KiB) x client threads (1, 8). "frep inline" runs the handler on nng's
 * callback thread (as Health does); "frep worker" hands it to a worker
 * thread (as handlers that touch the disk do).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "echo_service.h"
#include "frep_client.h"
#include "frep_test.pb-c.h"
#include "rpc_server.h"
#include "testutil.h"

#define RAW_CTXS 64

static double
load1(void)
{
	double l  = -1;
	FILE  *lf = fopen("/proc/loadavg", "r");
	if (lf != NULL) {
		if (fscanf(lf, "%lf", &l) != 1) {
			l = -1;
		}
		fclose(lf);
	}
	return l;
}

static long long
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;
	return (x > y) - (x < y);
}

/* --- the raw nng echo server ------------------------------------------ */

typedef struct raw_ctx {
	nng_ctx  ctx;
	nng_aio *aio;
	bool     sending;
} raw_ctx;

typedef struct raw_server {
	nng_socket sock;
	raw_ctx    ctxs[RAW_CTXS];
} raw_server;

static void
raw_cb(void *arg)
{
	raw_ctx *rc = arg;
	if (nng_aio_result(rc->aio) != 0) {
		if (rc->sending) {
			nng_msg_free(nng_aio_get_msg(rc->aio));
			rc->sending = false;
			nng_ctx_recv(rc->ctx, rc->aio);
		}
		return; /* closed */
	}
	if (rc->sending) {
		rc->sending = false;
		nng_ctx_recv(rc->ctx, rc->aio);
		return;
	}
	rc->sending = true; /* echo the message back as it is */
	nng_ctx_send(rc->ctx, rc->aio);
}

static void
raw_server_start(raw_server *s, const char *url)
{
	/* s is on the caller's stack: a ctx whose sending flag held garbage
	 * took its first request for a finished send and dropped it (the raw
	 * rows' stalls in PERFORMANCE.md's Round 2). */
	memset(s, 0, sizeof(*s));
	nng_rep0_open(&s->sock);
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, 16u << 20);
	for (int i = 0; i < RAW_CTXS; i++) {
		nng_aio_alloc(&s->ctxs[i].aio, raw_cb, &s->ctxs[i]);
		nng_ctx_open(&s->ctxs[i].ctx, s->sock);
	}
	if (nng_listen(s->sock, url, NULL, 0) != 0) {
		fprintf(stderr, "raw listen %s failed\n", url);
		exit(1);
	}
	for (int i = 0; i < RAW_CTXS; i++) {
		nng_ctx_recv(s->ctxs[i].ctx, s->ctxs[i].aio);
	}
}

static void
raw_server_stop(raw_server *s)
{
	nng_close(s->sock);
	for (int i = 0; i < RAW_CTXS; i++) {
		nng_aio_stop(s->ctxs[i].aio);
		nng_aio_free(s->ctxs[i].aio);
	}
}

/* --- clients -------------------------------------------------------- */

typedef struct run {
	const char  *url;
	size_t       payload;
	unsigned     calls;
	int          kind; /* 0 raw, 1 frep */
	nng_socket   raw_sock;
	frep_client *client;
	long long   *lat;
	unsigned     errors;
} run;

static void *
raw_client_main(void *arg)
{
	run     *r = arg;
	nng_ctx  ctx;
	nng_aio *aio;
	nng_ctx_open(&ctx, r->raw_sock);
	nng_aio_alloc(&aio, NULL, NULL);
	nng_aio_set_timeout(aio, 10000);
	uint8_t *buf = calloc(1, r->payload);
	for (unsigned i = 0; i < r->calls; i++) {
		nng_msg *m;
		nng_msg_alloc(&m, r->payload);
		memcpy(nng_msg_body(m), buf, r->payload);
		long long t0 = now_ns();
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(m);
			r->errors++;
			continue;
		}
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			r->errors++;
			continue;
		}
		nng_msg_free(nng_aio_get_msg(aio));
		r->lat[i] = now_ns() - t0;
	}
	free(buf);
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

static void
echo_done(const Frep__Test__V1__EchoResponse *msg, void *data)
{
	*(bool *) data = msg != NULL;
}

static void *
frep_client_main(void *arg)
{
	run              *r   = arg;
	ProtobufCService *svc = frep_client_service(r->client, &frep__test__v1__echo__descriptor);
	Frep__Test__V1__EchoRequest req = FREP__TEST__V1__ECHO_REQUEST__INIT;
	uint8_t                    *buf = calloc(1, r->payload);
	/* The payload is the whole request message, like the raw row. */
	req.data.data = buf;
	req.data.len  = r->payload > 4 ? r->payload - 4 : r->payload;
	for (unsigned i = 0; i < r->calls; i++) {
		bool      ok = false;
		long long t0 = now_ns();
		frep__test__v1__echo__echo(svc, &req, echo_done, &ok);
		if (!ok) {
			r->errors++;
			continue;
		}
		r->lat[i] = now_ns() - t0;
	}
	free(buf);
	return NULL;
}

typedef struct result {
	double   p50_us, p99_us, calls_per_s;
	unsigned errors;
} result;

static result
measure(int kind, const char *url, size_t payload, unsigned threads, unsigned calls)
{
	pthread_t    t[16];
	run          r[16];
	nng_socket   raw    = NNG_SOCKET_INITIALIZER;
	frep_client *client = NULL;
	frep_status  st;
	result       res = {0};

	if (kind == 0) {
		nng_req0_open(&raw);
		nng_socket_set_ms(raw, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_size(raw, NNG_OPT_RECVMAXSZ, 16u << 20);
		nng_dial(raw, url, NULL, 0);
	} else if (frep_client_open(url, NULL, &client, &st) != FREP_OK) {
		fprintf(stderr, "client: %s\n", st.message);
		exit(1);
	}
	/* Warm up: connections, allocations, caches. */
	for (unsigned i = 0; i < threads; i++) {
		r[i]     = (run){.url = url,
			.payload      = payload,
			.calls        = 200,
			.kind         = kind,
			.raw_sock     = raw,
			.client       = client};
		r[i].lat = calloc(200, sizeof(long long));
		pthread_create(&t[i], NULL, kind == 0 ? raw_client_main : frep_client_main, &r[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		free(r[i].lat);
	}
	long long t0 = now_ns();
	for (unsigned i = 0; i < threads; i++) {
		r[i]     = (run){.url = url,
			.payload      = payload,
			.calls        = calls,
			.kind         = kind,
			.raw_sock     = raw,
			.client       = client};
		r[i].lat = calloc(calls, sizeof(long long));
		pthread_create(&t[i], NULL, kind == 0 ? raw_client_main : frep_client_main, &r[i]);
	}
	long long *all = calloc((size_t) threads * calls, sizeof(long long));
	size_t     n   = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		res.errors += r[i].errors;
		for (unsigned k = 0; k < calls; k++) {
			if (r[i].lat[k] > 0) {
				all[n++] = r[i].lat[k];
			}
		}
		free(r[i].lat);
	}
	long long elapsed = now_ns() - t0;
	qsort(all, n, sizeof(long long), cmp_ll);
	if (n > 0) {
		res.p50_us = (double) all[n / 2] / 1000.0;
		res.p99_us = (double) all[(n * 99) / 100] / 1000.0;
	}
	res.calls_per_s = (double) n / ((double) elapsed / 1e9);
	free(all);
	if (kind == 0) {
		nng_close(raw);
	} else {
		frep_client_close(client);
	}
	return res;
}

/* Runs grpc_echo for one row; false (and res untouched) if it cannot. */
static bool
measure_grpc(const char *grpc, const char *url, size_t payload, unsigned threads, unsigned calls,
    result *res)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' --url '%s' --payload %zu --threads %u --calls %u", grpc,
	    url, payload, threads, calls);
	FILE *p = popen(cmd, "r");
	if (p == NULL) {
		return false;
	}
	bool ok = fscanf(p, "%lf %lf %lf %u", &res->p50_us, &res->p99_us, &res->calls_per_s,
		      &res->errors) == 4;
	return pclose(p) == 0 && ok;
}

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return kb;
}

static void
idle_rss(const char *frepd)
{
	char *dir = tu_tmpdir();
	char  url[600], db[600];
	snprintf(url, sizeof(url), "ipc://%s/frepd.sock", dir);
	snprintf(db, sizeof(db), "%s/frep.db", dir);
	setenv("FREPD", frepd, 1);
	tu_proc     p;
	const char *args[] = {"--listen", url, "--db", db, NULL};
	if (tu_frepd_start(&p, dir, "frepd", args) != 0 || tu_wait_healthy(url, 10000) != 0) {
		printf("idle frepd RSS: could not start %s\n", frepd);
	} else {
		long kb = rss_kb(p.pid);
		printf("idle frepd RSS: %.1f MB (target < 10 MB: %s)\n", (double) kb / 1024.0,
		    kb >= 0 && kb < 10 * 1024 ? "met" : "NOT met");
		tu_proc_stop(&p, SIGTERM, 10000);
	}
	tu_rmtree(dir);
	free(dir);
}

int
main(int argc, char **argv)
{
	const char *frepd      = NULL;
	bool        quick      = false;
	const char *grpc       = FREP_GRPC_ECHO;
	const char *only_xport = NULL, *only_mode = NULL, *side = "all";
	long        only_payload = -1, only_threads = -1, calls_arg = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--frepd") == 0 && i + 1 < argc) {
			frepd = argv[++i];
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--grpc") == 0 && i + 1 < argc) {
			grpc = argv[++i];
		} else if (strcmp(argv[i], "--no-grpc") == 0) {
			grpc = "";
		} else if (strcmp(argv[i], "--xport") == 0 && i + 1 < argc) {
			only_xport = argv[++i];
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			only_mode = argv[++i];
		} else if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc) {
			only_payload = atol(argv[++i]);
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			only_threads = atol(argv[++i]);
		} else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
			calls_arg = atol(argv[++i]);
		} else if (strcmp(argv[i], "--side") == 0 && i + 1 < argc) {
			side = argv[++i];
		} else {
			fprintf(stderr,
			    "usage: rpc_bench [--frepd PATH] [--quick] [--grpc PATH | --no-grpc] "
			    "[--xport ipc|tcp] [--mode inline|worker] [--payload BYTES] "
			    "[--threads N] [--calls N] [--side raw|frep|grpc|all]\n");
			return 2;
		}
	}
	bool partial = only_xport != NULL || only_mode != NULL || only_payload >= 0 ||
		       only_threads >= 0 || strcmp(side, "all") != 0;
	bool do_raw  = strcmp(side, "all") == 0 || strcmp(side, "raw") == 0;
	bool do_frep = strcmp(side, "all") == 0 || strcmp(side, "frep") == 0;
	bool do_grpc = (strcmp(side, "all") == 0 || strcmp(side, "grpc") == 0) && grpc[0] != '\0' &&
		       access(grpc, X_OK) == 0;
	signal(SIGPIPE, SIG_IGN);
	char                 *dir        = tu_tmpdir();
	static const size_t   payloads[] = {64, 4096, 65536};
	static const unsigned threads[]  = {1, 8};
	const char           *transports[2];
	char                  ipc_raw[600], ipc_frep[600];
	snprintf(ipc_raw, sizeof(ipc_raw), "ipc://%s/raw.sock", dir);
	snprintf(ipc_frep, sizeof(ipc_frep), "ipc://%s/frep.sock", dir);

	printf("rpc_bench: frep runtime vs raw nng req/rep echo (same process) and gRPC C++ %s, "
	       "same run\n",
	    do_grpc ? "(bench/grpc_echo)"
		    : "(skipped: grpc_echo not built; make bench installs "
		      "libgrpc++-dev and protobuf-compiler-grpc)");
	printf("%-5s %7s %3s | %9s %9s %9s | %-6s %9s %9s %9s %6s | %9s %9s %6s | %5s\n", "xport",
	    "payload", "thr", "raw p50", "raw p99", "raw c/s", "frep", "p50", "p99", "c/s", "p50 x",
	    "grpc p50", "grpc c/s", "c/s x", "load");
	unsigned grpc_row = 0;
	for (int tr = 0; tr < 2; tr++) {
		if (only_xport != NULL && strcmp(only_xport, tr == 0 ? "ipc" : "tcp") != 0) {
			continue;
		}
		for (int mode = 0; mode < 2; mode++) {
			if (only_mode != NULL &&
			    strcmp(only_mode, mode == 0 ? "inline" : "worker") != 0) {
				continue;
			}
			/* mode 0: inline handler, 1: worker thread */
			raw_server raw;
			int        port = 30000 + (int) (getpid() % 10000) + tr * 7 + mode * 3;
			char       tcp_raw[64], tcp_frep[64];
			snprintf(tcp_raw, sizeof(tcp_raw), "tcp://127.0.0.1:%d", port);
			snprintf(tcp_frep, sizeof(tcp_frep), "tcp://127.0.0.1:%d", port + 1);
			transports[0] = tr == 0 ? ipc_raw : tcp_raw;
			transports[1] = tr == 0 ? ipc_frep : tcp_frep;
			raw_server_start(&raw, transports[0]);

			rpc_server        *s = NULL;
			frep_status        st;
			rpc_server_options o = {.worker_threads = 4};
			echo_service      *e = echo_service_new();
			rpc_server_new(&o, &s, &st);
			rpc_server_register(
			    s, echo_service_base(e), mode == 0 ? RPC_SERVICE_INLINE : 0, &st);
			rpc_server_listen(s, transports[1], NULL, &st);
			if (rpc_server_start(s, &st) != FREP_OK) {
				fprintf(stderr, "frep server: %s\n", st.message);
				return 1;
			}
			for (size_t p = 0; p < 3; p++) {
				if (only_payload >= 0 && (size_t) only_payload != payloads[p]) {
					continue;
				}
				for (size_t th = 0; th < 2; th++) {
					if (only_threads >= 0 &&
					    (unsigned) only_threads != threads[th]) {
						continue;
					}
					unsigned calls = threads[th] == 1 ? 4000 : 1500;
					if (payloads[p] == 65536) {
						calls /= 4;
					}
					if (quick) {
						calls /= 10;
					}
					if (calls_arg > 0) {
						calls = (unsigned) calls_arg;
					}
					result rr = {0}, fr = {0}, gr = {0};
					bool   have_grpc = false;
					if (do_raw) {
						rr = measure(0, transports[0], payloads[p],
						    threads[th], calls);
					}
					if (do_frep) {
						fr = measure(1, transports[1], payloads[p],
						    threads[th], calls);
					}
					if (do_grpc) {
						char gurl[700];
						if (tr == 0) {
							snprintf(gurl, sizeof(gurl),
							    "unix:%s/grpc-%u.sock", dir, grpc_row);
						} else {
							snprintf(gurl, sizeof(gurl), "127.0.0.1:%d",
							    port + 2);
						}
						grpc_row++;
						have_grpc = measure_grpc(grpc, gurl, payloads[p],
						    threads[th], calls, &gr);
					}
					char gcol[64];
					if (have_grpc) {
						snprintf(gcol, sizeof(gcol), "%7.1fus %9.0f %5.2fx",
						    gr.p50_us, gr.calls_per_s,
						    gr.calls_per_s > 0
							? fr.calls_per_s / gr.calls_per_s
							: 0.0);
					} else {
						snprintf(gcol, sizeof(gcol), "%-26s",
						    do_grpc ? "(grpc_echo failed)" : "(skipped)");
					}
					printf("%-5s %7zu %3u | %7.1fus %7.1fus %9.0f | %-6s "
					       "%7.1fus %7.1fus %9.0f %5.2fx | %s | %5.2f%s\n",
					    tr == 0 ? "ipc" : "tcp", payloads[p], threads[th],
					    rr.p50_us, rr.p99_us, rr.calls_per_s,
					    mode == 0 ? "inline" : "worker", fr.p50_us, fr.p99_us,
					    fr.calls_per_s,
					    rr.p50_us > 0 ? fr.p50_us / rr.p50_us : 0.0, gcol,
					    load1(),
					    rr.errors + fr.errors + gr.errors > 0 ? " (errors!)"
										  : "");
					fflush(stdout);
				}
			}
			rpc_server_free(s);
			echo_service_free(e);
			raw_server_stop(&raw);
		}
	}
	if (!partial) {
		printf("target: frep p50 within 1.3x of raw nng (aim 1.1x); c/s x is frep / gRPC "
		       "C++ (above 1: frep is faster)\n");
	}
	if (frepd != NULL && !partial) {
		idle_rss(frepd);
	}
	tu_rmtree(dir);
	free(dir);
	nng_fini();
	return 0;
}
