/*
 * frepd: one DHCP server's frep daemon. Opens the server's store (--db),
 * serves the frep contract over nng until SIGINT or SIGTERM, then drains
 * the calls in flight, closes the store and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "data_plane_service.h"
#include "dhcp_service.h"
#include "engine.h"
#include "service_notify.h"
#include "frep_secret_file.h"
#include "frep_status.h"
#include "grpc_health.h"
#include "health.h"
#include "http_endpoint.h"
#include "idle_trim.h"
#include "kea_push.h"
#include "log.h"
#include "metrics.h"
#include "partner_client.h"
#include "partner_service.h"
#include "auto_sync.h"
#include "replication_service.h"
#include "conn_limit.h"
#include "half_open.h"
#include "rpc_server.h"

extern const uint8_t frep_descriptor_set[];
extern const size_t  frep_descriptor_set_len;

#define MAX_LISTEN       16
#define FREPD_DEFAULT_DB "/var/lib/frep/frep.db"
/* How long no call may end before the heap's free memory is given back
 * (runtime/idle_trim.h), and the resident size within which it is kept
 * warm instead: a 10,000-reservation scope's transfer, or a relationship
 * of 1,000 small scopes, works within it, so a server replicating now and
 * then does not fault its working set in again each time (on a VM, tens
 * of ms per transfer: PERFORMANCE.md, "A warm heap kept"). */
#define FREPD_IDLE_TRIM_MS         1000
#define FREPD_IDLE_TRIM_KEEP_BYTES (48u * 1024u * 1024u)

typedef struct frepd_options {
	const char     *listen[MAX_LISTEN];
	size_t          n_listen;
	const char     *db_path;
	unsigned        threads;
	size_t          max_message_bytes;
	unsigned        max_connections;  /* --max-connections; 0: the default */
	unsigned        reply_timeout_ms; /* --reply-timeout-ms; 0: the default */
	rpc_tls_options tls;
	const char     *token_file;
	unsigned        drain_ms;
	const char     *advertise_url;
	unsigned        partner_timeout_ms;
	unsigned        audit_max_rows; /* --audit-max-rows */
	unsigned        audit_max_days; /* --audit-max-age-days */
	const char     *partner_token_file;
	partner_tls     partner_tls;
	const char     *kea_socket; /* --kea-socket: drive a running kea-dhcp4 */
	const char     *kea_base;
	const char     *kea_ha_url; /* --kea-ha-url: this Kea's HA listener */
	bool            allow_core_dumps;
	const char     *http_url;                 /* --http: the Connect/HTTP endpoint */
	unsigned        auto_sync_debounce_ms;    /* --auto-sync-debounce-ms */
	unsigned        auto_sync_backoff_max_ms; /* --auto-sync-backoff-max-ms */
} frepd_options;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: frepd [options]\n"
	    "\n"
	    "Serves one DHCP server's configuration and its failover replication\n"
	    "over the frep protobuf contract (see docs/PROTOCOL.md).\n"
	    "\n"
	    "  --listen URL             listen on URL (repeatable): tcp://127.0.0.1:6470,\n"
	    "                           ipc:///run/frep.sock, ws://127.0.0.1:6471/frep,\n"
	    "                           tls+tcp://0.0.0.0:6472 (default tcp://127.0.0.1:6470)\n"
	    "  --db PATH                the server's SQLite store, created if missing with\n"
	    "                           its directory (mode 0700) (default %s);\n"
	    "                           PATH.lock (symlinks resolved) keeps a second frepd\n"
	    "                           off it\n"
	    "  --threads N              worker threads running handlers (default 4)\n"
	    "  --max-message-bytes N    largest request accepted (default %u)\n"
	    "  --max-connections N      connections each listener keeps open once their\n"
	    "                           handshake is done; more are closed at once\n"
	    "                           (default %u, at most %u). Connections still in\n"
	    "                           their handshake (SP header, TLS, HTTP upgrade):\n"
	    "                           at most %u per listener (the oldest closed), each\n"
	    "                           closed after %u ms\n"
	    "  --reply-timeout-ms N     a reply that waits N ms for its connection (behind\n"
	    "                           earlier replies its peer has not read, their\n"
	    "                           transfer included) is dropped and the connection\n"
	    "                           closed, ending its other calls (default %u, at\n"
	    "                           most %u)\n"
	    "  --log-level LEVEL        error, warn, info or debug (default info); every\n"
	    "                           call is logged (failures at info, the rest at debug)\n"
	    "  --log-format FORMAT      text (default) or json: one object a line with time,\n"
	    "                           level, event, method, status, duration_ms,\n"
	    "                           request_id, peer, message\n"
	    "  --tls-cert FILE          PEM certificate for tls+tcp:// and wss:// listeners\n"
	    "  --tls-key FILE           PEM private key for that certificate\n"
	    "  --tls-ca FILE            PEM CA bundle; when given, clients must present a\n"
	    "                           certificate it signed\n"
	    "  --token-file FILE        admin bearer token (first line of FILE); when set,\n"
	    "                           every call but Health and Introspection needs it\n"
	    "  --drain-ms N             on SIGTERM, wait up to N ms for calls in flight\n"
	    "                           (default 10000)\n"
	    "  --advertise-url URL      how failover partners reach this server (default:\n"
	    "                           the first --listen URL, with the port the system\n"
	    "                           picked if it is 0)\n"
	    "  --partner-timeout-ms N   deadline of each call to a partner (default 10000)\n"
	    "  --audit-max-rows N       keep at most the newest N replication audit records\n"
	    "                           (default 100000; 0 = no bound)\n"
	    "  --audit-max-age-days N   drop audit records older than N days (default 90;\n"
	    "                           0 = no bound); both applied as records are added\n"
	    "  --partner-token-file F   the partners' admin token, sent when creating a\n"
	    "                           relationship on a partner that requires one\n"
	    "  --partner-tls-ca FILE    CA that signed the partners' certificates\n"
	    "                           (tls+tcp:// partner URLs)\n"
	    "  --partner-tls-cert FILE  this server's client certificate for partners that\n"
	    "                           require one; --partner-tls-key FILE its key\n"
	    "  --kea-socket PATH        keep a running kea-dhcp4 in step: push the rendered\n"
	    "                           configuration over its control socket after every\n"
	    "                           committed change (see docs/KEA.md); needs --kea-base\n"
	    "  --kea-base FILE          the operator's Kea config (plain JSON) that frep's\n"
	    "                           subnets, options and classes are merged into\n"
	    "  --kea-ha-url URL         the URL this server's kea-dhcp4 offers its failover\n"
	    "                           partner's for Kea's HA hook, http://IPV4:PORT/;\n"
	    "                           sent to partners with each relationship, which then\n"
	    "                           renders Kea's HA configuration (docs/KEA.md)\n"
	    "  --allow-core-dumps       let the kernel dump this process's memory (tokens\n"
	    "                           and shared secrets included); off by default\n"
	    "  --http URL               also serve every method over HTTP as Connect unary\n"
	    "                           calls (JSON or binary protobuf), e.g.\n"
	    "                           http://127.0.0.1:6480 or https://0.0.0.0:6481 (with\n"
	    "                           --tls-cert/--tls-key); see docs/PROTOCOL.md\n"
	    "  --auto-sync-debounce-ms N  quiet time after a change to a scope of a\n"
	    "                           relationship with auto_sync before it is replicated\n"
	    "                           by itself (default %u; 0 = at once); a burst that\n"
	    "                           never goes quiet is sent after 10 x N (at least 1 s)\n"
	    "  --auto-sync-backoff-max-ms N  longest wait between retries of a partner\n"
	    "                           that failed (default %u; the first is %u ms)\n"
	    "  --help                   print this help and exit\n"
	    "  --version                print the version and exit\n"
	    "\n"
	    "A listener that is not on loopback needs TLS or an admin token. At start\n"
	    "frepd raises its soft descriptor limit (RLIMIT_NOFILE) to the hard one.\n",
	    FREPD_DEFAULT_DB, RPC_DEFAULT_MAX_MESSAGE_BYTES, (unsigned) RPC_CONN_LIMIT_DEFAULT,
	    (unsigned) RPC_CONN_LIMIT_MAX, (unsigned) RPC_HALF_OPEN_MAX,
	    (unsigned) RPC_HALF_OPEN_DEADLINE_MS, (unsigned) RPC_REPLY_TIMEOUT_MS_DEFAULT,
	    (unsigned) RPC_REPLY_TIMEOUT_MS_MAX, AUTO_SYNC_DEBOUNCE_MS_DEFAULT,
	    AUTO_SYNC_BACKOFF_MAX_MS_DEFAULT, AUTO_SYNC_BACKOFF_MIN_MS_DEFAULT);
}

/* --- descriptors ---------------------------------------------------------- */

/* Raises the soft descriptor limit to the hard one, as common servers do
 * (a systemd service starts with 1,024 soft, 524,288 hard): every listener
 * may keep --max-connections connections, and the soft default is below
 * a few listeners' sum. Logs the figure it runs with. */
static void
raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		return;
	}
	rlim_t was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			rpc_log(RPC_LOG_WARN,
			    "cannot raise the descriptor limit from %llu to %llu: %s",
			    (unsigned long long) was, (unsigned long long) rl.rlim_max,
			    strerror(errno));
			return;
		}
	}
	rpc_log(RPC_LOG_INFO, "descriptor limit %llu (was %llu; hard limit %llu)",
	    (unsigned long long) rl.rlim_cur, (unsigned long long) was,
	    (unsigned long long) rl.rlim_max);
}

/* --- tcp:// and tls+tcp:// handshake guard ------------------------------- */

/* nng gives a tcp:// or tls+tcp:// peer 10 s to finish its handshake but
 * keeps any number of them waiting: 1,500 silent connects held every
 * descriptor of a frepd limited to 1,024 (tcp:// calls took up to 9 s, and
 * the ipc:// listener could not be re-created). This thread bounds them
 * as ws:// listeners are (half_open.h): per listener at most
 * RPC_HALF_OPEN_MAX waiting, the oldest closed beyond, and none past the
 * deadline; the pipes (finished handshakes) come from nng's statistics. */
#define SP_GUARD_PERIOD_MS 200
#define SP_GUARD_LOG_MS    1000

typedef struct sp_guard {
	pthread_t       thread;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	bool            stop;
	bool            running;
	rpc_half_open  *h;
	int             ports[MAX_LISTEN];
	size_t          n_ports;
} sp_guard;

/* The port of a tcp:// or tls+tcp:// URL (host:port, IPv6 in brackets);
 * 0 for any other. */
static int
sp_url_port(const char *url)
{
	if (url == NULL ||
	    (strncmp(url, "tcp://", 6) != 0 && strncmp(url, "tcp4://", 7) != 0 &&
		strncmp(url, "tcp6://", 7) != 0 && strncmp(url, "tls+tcp://", 10) != 0 &&
		strncmp(url, "tls+tcp4://", 11) != 0 && strncmp(url, "tls+tcp6://", 11) != 0)) {
		return 0;
	}
	const char *colon = strrchr(url, ':');
	const char *rb    = strrchr(url, ']');
	if (colon == NULL || (rb != NULL && rb > colon) || colon[1] == '\0') {
		return 0;
	}
	char *end = NULL;
	long  p   = strtol(colon + 1, &end, 10);
	return (*end == '\0' || *end == '/') && p > 0 && p < 65536 ? (int) p : 0;
}

static void *
sp_guard_main(void *arg)
{
	sp_guard *g        = arg;
	uint64_t  unlogged = 0;
	uint64_t  last_log = 0;
	pthread_mutex_lock(&g->mtx);
	while (!g->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += SP_GUARD_PERIOD_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&g->cv, &g->mtx, &until);
		if (g->stop) {
			break;
		}
		pthread_mutex_unlock(&g->mtx);
		uint64_t now = nng_clock();
		unlogged += rpc_half_open_scan(g->h, g->ports, g->n_ports, now);
		if (unlogged > 0 && now - last_log >= SP_GUARD_LOG_MS) {
			rpc_log(RPC_LOG_WARN,
			    "closed %llu tcp connections that had not finished their handshake "
			    "within %d ms or were over %d pending on their listener",
			    (unsigned long long) unlogged, RPC_HALF_OPEN_DEADLINE_MS,
			    RPC_HALF_OPEN_MAX);
			unlogged = 0;
			last_log = now;
		}
		pthread_mutex_lock(&g->mtx);
	}
	pthread_mutex_unlock(&g->mtx);
	if (unlogged > 0) {
		rpc_log(RPC_LOG_WARN,
		    "closed %llu tcp connections that had not finished their handshake within %d "
		    "ms or were over %d pending on their listener",
		    (unsigned long long) unlogged, RPC_HALF_OPEN_DEADLINE_MS, RPC_HALF_OPEN_MAX);
	}
	return NULL;
}

/* Starts the guard if server has tcp:// or tls+tcp:// listeners. */
static frep_code
sp_guard_start(sp_guard *g, rpc_server *server, size_t n_listen, frep_status *st)
{
	for (size_t i = 0; i < n_listen && g->n_ports < MAX_LISTEN; i++) {
		int port = sp_url_port(rpc_server_bound_url(server, i));
		if (port > 0) {
			g->ports[g->n_ports++] = port;
		}
	}
	if (g->n_ports == 0) {
		return FREP_OK;
	}
	if ((g->h = rpc_half_open_new(RPC_HALF_OPEN_DEADLINE_MS, RPC_HALF_OPEN_MAX)) == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	rpc_half_open_pipes_from_stats(g->h);
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cv, NULL);
	int rv = pthread_create(&g->thread, NULL, sp_guard_main, g);
	if (rv != 0) {
		return frep_status_set(
		    st, FREP_INTERNAL, "handshake guard thread: %s", strerror(rv));
	}
	g->running = true;
	return FREP_OK;
}

static void
sp_guard_stop(sp_guard *g)
{
	if (g->running) {
		pthread_mutex_lock(&g->mtx);
		g->stop = true;
		pthread_cond_broadcast(&g->cv);
		pthread_mutex_unlock(&g->mtx);
		pthread_join(g->thread, NULL);
		g->running = false;
	}
	if (g->h != NULL) {
		pthread_mutex_destroy(&g->mtx);
		pthread_cond_destroy(&g->cv);
		rpc_half_open_free(g->h);
		g->h = NULL;
	}
}

static int
parse_uint(const char *opt, const char *text, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	char *end = NULL;
	errno     = 0;
	if (text[0] == '-' || text[0] == '\0') {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: %s \"%s\" is not a number\n", opt, text);
		return -1;
	}
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: %s \"%s\" is not a number\n", opt, text);
		return -1;
	}
	if (v < min || v > max) {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: %s %llu is outside %llu..%llu\n", opt, v,
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* True when url can only be reached from this machine. */
static bool
url_is_local(const char *url)
{
	if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0) {
		return true;
	}
	nng_url *u = NULL;
	if (nng_url_parse(&u, url) != 0) {
		return false;
	}
	/* Literal loopback addresses only (a name such as "127.example.org"
	 * could resolve anywhere), plus the name localhost. */
	const char     *h = u->u_hostname;
	struct in_addr  a4;
	struct in6_addr a6;
	bool            local =
	    h != NULL && ((inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
			     (inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)) ||
			     strcasecmp(h, "localhost") == 0);
	nng_url_free(u);
	return local;
}

/* Warns when a file holding a secret can be read by its group or by
 * others (frep_secret_file.h; frepctl makes the same check). */
static void
warn_if_readable_by_others(const char *option, const char *path)
{
	frep_secret_file_warn_if_open(stderr, "frepd", option, path);
}

static int
parse_args(int argc, char **argv, frepd_options *o)
{
	enum {
		OPT_LISTEN = 256,
		OPT_DB,
		OPT_THREADS,
		OPT_MAXMSG,
		OPT_MAXCONN,
		OPT_REPLY_TIMEOUT,
		OPT_LOGLEVEL,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_TLS_CA,
		OPT_TOKEN_FILE,
		OPT_DRAIN,
		OPT_ADVERTISE,
		OPT_PARTNER_TIMEOUT,
		OPT_PARTNER_TOKEN,
		OPT_PARTNER_TLS_CA,
		OPT_PARTNER_TLS_CERT,
		OPT_PARTNER_TLS_KEY,
		OPT_KEA_SOCKET,
		OPT_KEA_BASE,
		OPT_KEA_HA_URL,
		OPT_ALLOW_CORE,
		OPT_AUDIT_ROWS,
		OPT_AUDIT_DAYS,
		OPT_HTTP,
		OPT_LOGFORMAT,
		OPT_AUTO_SYNC_DEBOUNCE,
		OPT_AUTO_SYNC_BACKOFF,
		OPT_HELP,
		OPT_VERSION,
	};
	static const struct option longopts[] = {
	    {.name = "listen", .has_arg = required_argument, .val = OPT_LISTEN},
	    {.name = "db", .has_arg = required_argument, .val = OPT_DB},
	    {.name = "threads", .has_arg = required_argument, .val = OPT_THREADS},
	    {.name = "max-message-bytes", .has_arg = required_argument, .val = OPT_MAXMSG},
	    {.name = "max-connections", .has_arg = required_argument, .val = OPT_MAXCONN},
	    {.name = "reply-timeout-ms", .has_arg = required_argument, .val = OPT_REPLY_TIMEOUT},
	    {.name = "log-level", .has_arg = required_argument, .val = OPT_LOGLEVEL},
	    {.name = "tls-cert", .has_arg = required_argument, .val = OPT_TLS_CERT},
	    {.name = "tls-key", .has_arg = required_argument, .val = OPT_TLS_KEY},
	    {.name = "tls-ca", .has_arg = required_argument, .val = OPT_TLS_CA},
	    {.name = "token-file", .has_arg = required_argument, .val = OPT_TOKEN_FILE},
	    {.name = "drain-ms", .has_arg = required_argument, .val = OPT_DRAIN},
	    {.name = "advertise-url", .has_arg = required_argument, .val = OPT_ADVERTISE},
	    {.name       = "partner-timeout-ms",
		.has_arg = required_argument,
		.val     = OPT_PARTNER_TIMEOUT},
	    {.name = "partner-token-file", .has_arg = required_argument, .val = OPT_PARTNER_TOKEN},
	    {.name = "partner-tls-ca", .has_arg = required_argument, .val = OPT_PARTNER_TLS_CA},
	    {.name = "partner-tls-cert", .has_arg = required_argument, .val = OPT_PARTNER_TLS_CERT},
	    {.name = "partner-tls-key", .has_arg = required_argument, .val = OPT_PARTNER_TLS_KEY},
	    {.name = "kea-socket", .has_arg = required_argument, .val = OPT_KEA_SOCKET},
	    {.name = "kea-base", .has_arg = required_argument, .val = OPT_KEA_BASE},
	    {.name = "kea-ha-url", .has_arg = required_argument, .val = OPT_KEA_HA_URL},
	    {.name = "allow-core-dumps", .has_arg = no_argument, .val = OPT_ALLOW_CORE},
	    {.name = "audit-max-rows", .has_arg = required_argument, .val = OPT_AUDIT_ROWS},
	    {.name = "audit-max-age-days", .has_arg = required_argument, .val = OPT_AUDIT_DAYS},
	    {.name = "http", .has_arg = required_argument, .val = OPT_HTTP},
	    {.name = "log-format", .has_arg = required_argument, .val = OPT_LOGFORMAT},
	    {.name       = "auto-sync-debounce-ms",
		.has_arg = required_argument,
		.val     = OPT_AUTO_SYNC_DEBOUNCE},
	    {.name       = "auto-sync-backoff-max-ms",
		.has_arg = required_argument,
		.val     = OPT_AUTO_SYNC_BACKOFF},
	    {.name = "help", .has_arg = no_argument, .val = OPT_HELP},
	    {.name = "version", .has_arg = no_argument, .val = OPT_VERSION},
	    {0},
	};
	unsigned long long v;
	int                c;

	o->threads                  = 4;
	o->drain_ms                 = 10000;
	o->audit_max_rows           = ENGINE_AUDIT_MAX_ROWS_DEFAULT;
	o->audit_max_days           = ENGINE_AUDIT_MAX_AGE_S_DEFAULT / 86400;
	o->db_path                  = FREPD_DEFAULT_DB;
	o->auto_sync_debounce_ms    = AUTO_SYNC_DEBOUNCE_MS_DEFAULT;
	o->auto_sync_backoff_max_ms = AUTO_SYNC_BACKOFF_MAX_MS_DEFAULT;
	opterr                      = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (o->n_listen == MAX_LISTEN) {
				fprintf(stderr, "frepd: INVALID_ARGUMENT: at most %d --listen\n",
				    MAX_LISTEN);
				return -1;
			}
			o->listen[o->n_listen++] = optarg;
			break;
		case OPT_DB:
			o->db_path = optarg;
			break;
		case OPT_THREADS:
			if (parse_uint("--threads", optarg, 1, 256, &v) != 0) {
				return -1;
			}
			o->threads = (unsigned) v;
			break;
		case OPT_MAXMSG:
			if (parse_uint("--max-message-bytes", optarg, RPC_MIN_MAX_MESSAGE_BYTES,
				1024ull * 1024 * 1024, &v) != 0) {
				return -1;
			}
			o->max_message_bytes = (size_t) v;
			break;
		case OPT_MAXCONN:
			if (parse_uint("--max-connections", optarg, 1, RPC_CONN_LIMIT_MAX, &v) !=
			    0) {
				return -1;
			}
			o->max_connections = (unsigned) v;
			break;
		case OPT_REPLY_TIMEOUT:
			if (parse_uint("--reply-timeout-ms", optarg, 1, RPC_REPLY_TIMEOUT_MS_MAX,
				&v) != 0) {
				return -1;
			}
			o->reply_timeout_ms = (unsigned) v;
			break;
		case OPT_LOGLEVEL: {
			rpc_log_level level;
			if (rpc_log_level_parse(optarg, &level) != 0) {
				fprintf(stderr,
				    "frepd: INVALID_ARGUMENT: --log-level \"%s\" is not one of "
				    "error, warn, info, debug\n",
				    optarg);
				return -1;
			}
			rpc_log_set_level(level);
			break;
		}
		case OPT_TLS_CERT:
			o->tls.cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls.key_file = optarg;
			break;
		case OPT_TLS_CA:
			o->tls.ca_file = optarg;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case OPT_DRAIN:
			if (parse_uint("--drain-ms", optarg, 0, 600000, &v) != 0) {
				return -1;
			}
			o->drain_ms = (unsigned) v;
			break;
		case OPT_ADVERTISE:
			o->advertise_url = optarg;
			break;
		case OPT_PARTNER_TIMEOUT:
			if (parse_uint("--partner-timeout-ms", optarg, 100, 3600000, &v) != 0) {
				return -1;
			}
			o->partner_timeout_ms = (unsigned) v;
			break;
		case OPT_PARTNER_TOKEN:
			o->partner_token_file = optarg;
			break;
		case OPT_AUDIT_ROWS:
			if (parse_uint("--audit-max-rows", optarg, 0, 1000000000, &v) != 0) {
				return -1;
			}
			o->audit_max_rows = (unsigned) v;
			break;
		case OPT_AUDIT_DAYS:
			if (parse_uint("--audit-max-age-days", optarg, 0, 36500, &v) != 0) {
				return -1;
			}
			o->audit_max_days = (unsigned) v;
			break;
		case OPT_PARTNER_TLS_CA:
			o->partner_tls.ca_file = optarg;
			break;
		case OPT_PARTNER_TLS_CERT:
			o->partner_tls.cert_file = optarg;
			break;
		case OPT_PARTNER_TLS_KEY:
			o->partner_tls.key_file = optarg;
			break;
		case OPT_KEA_SOCKET:
			o->kea_socket = optarg;
			break;
		case OPT_KEA_BASE:
			o->kea_base = optarg;
			break;
		case OPT_KEA_HA_URL: {
			frep_status hst;
			if (engine_ha_url_check("--kea-ha-url", optarg, &hst) != FREP_OK) {
				fprintf(stderr, "frepd: %s: %s\n", frep_code_name(hst.code),
				    hst.message);
				return -1;
			}
			o->kea_ha_url = optarg;
			break;
		}
		case OPT_ALLOW_CORE:
			o->allow_core_dumps = true;
			break;
		case OPT_HTTP:
			o->http_url = optarg;
			break;
		case OPT_AUTO_SYNC_DEBOUNCE:
			if (parse_uint("--auto-sync-debounce-ms", optarg, 0, 600000, &v) != 0) {
				return -1;
			}
			o->auto_sync_debounce_ms = (unsigned) v;
			break;
		case OPT_AUTO_SYNC_BACKOFF:
			if (parse_uint("--auto-sync-backoff-max-ms", optarg,
				AUTO_SYNC_BACKOFF_MIN_MS_DEFAULT, 3600000, &v) != 0) {
				return -1;
			}
			o->auto_sync_backoff_max_ms = (unsigned) v;
			break;
		case OPT_LOGFORMAT: {
			rpc_log_format format;
			if (rpc_log_format_parse(optarg, &format) != 0) {
				fprintf(stderr,
				    "frepd: INVALID_ARGUMENT: --log-format \"%s\" is not text or "
				    "json\n",
				    optarg);
				return -1;
			}
			rpc_log_set_format(format);
			break;
		}
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("frepd %s\n", FREP_VERSION);
			exit(0);
		default:
			fprintf(stderr,
			    "frepd: INVALID_ARGUMENT: unknown or incomplete option \"%s\"\n",
			    argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(
		    stderr, "frepd: INVALID_ARGUMENT: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (o->n_listen == 0) {
		o->listen[o->n_listen++] = "tcp://127.0.0.1:6470";
	}
	if (o->advertise_url == NULL) {
		o->advertise_url = o->listen[0];
	}
	if (o->partner_timeout_ms == 0) {
		o->partner_timeout_ms = 10000;
	}
	if ((o->kea_socket == NULL) != (o->kea_base == NULL)) {
		fprintf(
		    stderr, "frepd: INVALID_ARGUMENT: --kea-socket and --kea-base go together\n");
		return -1;
	}
	return 0;
}

/* Creates the directories leading to path's file that are missing, each
 * mode 0700 (the store holds failover secrets). 0, or -1 with a message
 * on stderr. */
static int
make_parent_dirs(const char *path)
{
	char *dir = strdup(path);
	if (dir == NULL) {
		fprintf(stderr, "frepd: RESOURCE_EXHAUSTED: out of memory\n");
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool end = *p == '\0';
		if (*p == '/' || end) {
			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
				fprintf(stderr,
				    "frepd: UNAVAILABLE: --db %s: cannot create directory %s: %s\n",
				    path, dir, strerror(errno));
				free(dir);
				return -1;
			}
			if (end) {
				break;
			}
			*p = '/';
		}
	}
	free(dir);
	return 0;
}

/* Why a store cannot be opened, when the file system says: SQLite's own
 * message ("unable to open database file") does not. "" if nothing found. */
static const char *
store_hint(const char *path)
{
	static char    hint[160];
	char          *dir = strdup(path);
	struct statvfs vfs;
	if (dir == NULL) {
		return "";
	}
	char *slash = strrchr(dir, '/');
	if (slash == dir) {
		slash[1] = '\0';
	} else if (slash != NULL) {
		*slash = '\0';
	} else {
		strcpy(dir, ".");
	}
	hint[0] = '\0';
	if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
		snprintf(hint, sizeof(hint), " (the file system holding it is mounted read-only)");
	} else if (access(dir, W_OK) != 0) {
		snprintf(
		    hint, sizeof(hint), " (its directory is not writable: %s)", strerror(errno));
	} else if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
		snprintf(hint, sizeof(hint), " (the file is not writable: %s)", strerror(errno));
	}
	free(dir);
	return hint;
}

/* The store's path with every symlink resolved, which its lock is named
 * after: a symlink to a store (or a path through a symlinked directory)
 * must find the lock its own path found. The store need not exist yet:
 * a dangling symlink is followed to the file it names, and a missing file
 * is its resolved directory plus the name as given. (A hard link to a
 * store is another path to the same file that this cannot see.) out holds
 * PATH_MAX bytes. 0, or -1 with a message naming --db on stderr. */
static int
store_real_path(const char *db, char *out)
{
	char cur[PATH_MAX];
	if (snprintf(cur, sizeof(cur), "%s", db) >= (int) sizeof(cur)) {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: --db %s: path too long\n", db);
		return -1;
	}
	for (int hops = 0; hops < 40; hops++) {
		if (realpath(cur, out) != NULL) {
			return 0;
		}
		if (errno != ENOENT) {
			goto fail;
		}
		char       *slash = strrchr(cur, '/');
		struct stat st;
		if (lstat(cur, &st) == 0 && S_ISLNK(st.st_mode)) {
			char    target[PATH_MAX];
			ssize_t n = readlink(cur, target, sizeof(target) - 1);
			if (n < 0) {
				goto fail;
			}
			target[n] = '\0';
			/* A relative target is relative to the link's directory. */
			int dir_len =
			    target[0] == '/' || slash == NULL ? 0 : (int) (slash - cur) + 1;
			char next[PATH_MAX];
			if (snprintf(next, sizeof(next), "%.*s%s", dir_len, cur, target) >=
			    (int) sizeof(next)) {
				errno = ENAMETOOLONG;
				goto fail;
			}
			memcpy(cur, next, sizeof(cur));
			continue;
		}
		/* No such file: its directory (made by make_parent_dirs) resolved,
		 * its name kept. */
		char        dir[PATH_MAX];
		const char *name = slash != NULL ? slash + 1 : cur;
		if (slash == cur) {
			snprintf(dir, sizeof(dir), "/");
		} else if (slash != NULL) {
			snprintf(dir, sizeof(dir), "%.*s", (int) (slash - cur), cur);
		} else {
			snprintf(dir, sizeof(dir), ".");
		}
		char real_dir[PATH_MAX];
		if (realpath(dir, real_dir) == NULL) {
			goto fail;
		}
		if (snprintf(out, PATH_MAX, "%s%s%s", real_dir,
			strcmp(real_dir, "/") == 0 ? "" : "/", name) >= PATH_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		return 0;
	}
	errno = ELOOP;
fail:
	fprintf(stderr, "frepd: UNAVAILABLE: --db %s: cannot resolve its real path: %s\n", db,
	    strerror(errno));
	return -1;
}

/* One store, one daemon: takes a write lock (fcntl, released by the
 * kernel however frepd ends) on REAL.lock next to the store, REAL being
 * the store's real path (store_real_path: a second frepd given a symlink
 * to the store is refused too), and writes its PID there. The file is left
 * in place on exit: removing it would let a third frepd lock a new file
 * while a second still holds the old one. The lock file's path in
 * lock_path (PATH_MAX bytes), its descriptor in *fd_out, kept open for the
 * process's life; *created says whether this call made the file. 0, or -1
 * with a message naming the file and the holder's PID on stderr. */
static int
lock_store(const char *path, char *lock_path, int *fd_out, bool *created)
{
	char real[PATH_MAX];
	if (store_real_path(path, real) != 0) {
		return -1;
	}
	if (snprintf(lock_path, PATH_MAX, "%s.lock", real) >= PATH_MAX) {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: --db %s: path too long\n", path);
		return -1;
	}
	int fd   = open(lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST) {
		fd = open(lock_path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "frepd: UNAVAILABLE: --db %s: cannot open lock file %s: %s%s\n",
		    path, lock_path, strerror(errno), store_hint(lock_path));
		return -1;
	}
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_SETLK, &lk) != 0) {
		int err = errno;
		if (err == EACCES || err == EAGAIN) {
			struct flock holder = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			long pid = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK
				       ? (long) holder.l_pid
				       : -1;
			fprintf(stderr,
			    "frepd: FAILED_PRECONDITION: --db %s is in use by another frepd "
			    "(PID %ld holds %s); one store, one daemon\n",
			    path, pid, lock_path);
		} else {
			fprintf(stderr, "frepd: UNAVAILABLE: --db %s: cannot lock %s: %s\n", path,
			    lock_path, strerror(err));
		}
		close(fd);
		return -1;
	}
	char pid_text[32];
	int  n = snprintf(pid_text, sizeof(pid_text), "%ld\n", (long) getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid_text, (size_t) n, 0) != n) {
		fprintf(stderr, "frepd: UNAVAILABLE: --db %s: cannot write %s: %s\n", path,
		    lock_path, strerror(errno));
		if (*created) {
			unlink(lock_path);
		}
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/* Opens the store at path, its directory created if missing, after taking
 * its lock (lock_store; *lock_fd). 0, or -1 with a message on stderr. */
/* A store made by an older frepd (created 0644) or restored from a backup
 * may be readable by its group or others, and it holds the shared
 * secrets: its files are made owner-only before SQLite opens them (SQLite
 * gives a new WAL and shared-memory file the database's own mode, whatever
 * the umask). Each file changed is named on stderr; one that cannot be
 * changed (another owner) is warned about, and the store opened all the
 * same. */
static void
tighten_store_files(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".partner-state"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char        file[PATH_MAX];
		struct stat sb;
		if (snprintf(file, sizeof(file), "%s%s", path, suffixes[i]) >= (int) sizeof(file)) {
			continue;
		}
		int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			continue; /* absent (the usual case for most), or not ours to read */
		}
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
			unsigned was = (unsigned) (sb.st_mode & 07777);
			if (fchmod(fd, S_IRUSR | S_IWUSR) == 0) {
				fprintf(stderr,
				    "frepd: warning: %s was mode %04o, open to its group or others "
				    "(the store holds the shared secrets): tightened to 0600\n",
				    file, was);
			} else {
				fprintf(stderr,
				    "frepd: warning: %s is mode %04o, open to its group or others "
				    "(the store holds the shared secrets), and cannot be made "
				    "0600: "
				    "%s\n",
				    file, was, strerror(errno));
			}
		}
		close(fd);
	}
}

static int
open_store(const char *path, engine **out, int *lock_fd)
{
	frep_status st;
	if (path[0] == '\0') {
		fprintf(stderr, "frepd: INVALID_ARGUMENT: --db is empty\n");
		return -1;
	}
	bool created = false;
	char lock_path[PATH_MAX];
	if (make_parent_dirs(path) != 0 || lock_store(path, lock_path, lock_fd, &created) != 0) {
		return -1;
	}
	tighten_store_files(path);
	if (engine_open(path, NULL, out, &st) != FREP_OK) {
		fprintf(stderr, "frepd: %s: --db %s: %s%s\n", frep_code_name(st.code), path,
		    st.message, store_hint(path));
		/* A lock file made for a store that cannot be opened (a
		 * directory, a bad path) would be left behind for nothing. */
		if (created) {
			unlink(lock_path);
		}
		close(*lock_fd);
		*lock_fd = -1;
		return -1;
	}
	return 0;
}

/* Tells systemd (Type=notify, $NOTIFY_SOCKET) how frepd is doing: READY=1
 * once every listener is up, STOPPING=1 when draining. Nothing outside a
 * service manager; a failed send is logged and changes nothing else. */
static void
notify_service_manager(const char *state)
{
	if (rpc_service_notify(state) < 0) {
		rpc_log(RPC_LOG_WARN, "NOTIFY_SOCKET \"%.100s\": cannot send %s: %s",
		    getenv("NOTIFY_SOCKET"), state, strerror(errno));
	}
}

/* --- metrics collectors (GET /metrics, docs/PROTOCOL.md §15) ------------ */

static void
collect_kea(void *arg, rpc_metrics_writer *w)
{
	kea_push_status ks;
	kea_push_get_status(arg, &ks);
	rpc_metrics_family(w, "frep_kea_pushes_total", "counter",
	    "Configurations Kea accepted since frepd started.");
	rpc_metrics_sample(w, "frep_kea_pushes_total", NULL, NULL, (double) ks.pushes);
	rpc_metrics_family(w, "frep_kea_push_failures_total", "counter",
	    "Failed attempts to push the configuration to Kea since frepd started.");
	rpc_metrics_sample(w, "frep_kea_push_failures_total", NULL, NULL, (double) ks.failures);
	rpc_metrics_family(w, "frep_kea_push_consecutive_failures", "gauge",
	    "Failed pushes since the last success (0: Kea is in step).");
	rpc_metrics_sample(
	    w, "frep_kea_push_consecutive_failures", NULL, NULL, (double) ks.consecutive_failures);
	rpc_metrics_family(w, "frep_kea_push_pending", "gauge",
	    "1 while a committed change waits to be pushed to Kea.");
	rpc_metrics_sample(w, "frep_kea_push_pending", NULL, NULL, ks.pending ? 1 : 0);
	rpc_metrics_family(w, "frep_kea_last_push_timestamp_seconds", "gauge",
	    "When Kea last accepted a configuration (Unix time; 0: never).");
	rpc_metrics_sample(w, "frep_kea_last_push_timestamp_seconds", NULL, NULL,
	    (double) ks.last_push_unix_ms / 1000.0);
}

static void
collect_auto_sync(void *arg, rpc_metrics_writer *w)
{
	auto_sync_counters c;
	auto_sync_counters_get(arg, &c);
	static const struct {
		const char *name, *type, *help;
		size_t      at;
	} rows[] = {
	    {"frep_auto_sync_scans_total", "counter",
		"Auto-sync scans of the store for changed failover scopes.",
		offsetof(auto_sync_counters, scans)},
	    {"frep_auto_sync_scopes_sent_total", "counter",
		"Scopes auto-sync replicated to a partner.",
		offsetof(auto_sync_counters, scopes_sent)},
	    {"frep_auto_sync_conflicts_total", "counter",
		"Scopes auto-sync found changed on both servers (nothing sent).",
		offsetof(auto_sync_counters, conflicts)},
	    {"frep_auto_sync_failures_total", "counter",
		"Auto-sync attempts that failed (the partner unreachable or refusing).",
		offsetof(auto_sync_counters, failures)},
	    {"frep_auto_sync_pending_scopes", "gauge",
		"Scopes changed here that auto-sync has not replicated yet.",
		offsetof(auto_sync_counters, pending)},
	    {"frep_auto_sync_error_scopes", "gauge",
		"Scopes whose last auto-sync attempt failed or was a conflict.",
		offsetof(auto_sync_counters, errored)},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *) &c + rows[i].at, sizeof(v));
		rpc_metrics_family(w, rows[i].name, rows[i].type, rows[i].help);
		rpc_metrics_sample(w, rows[i].name, NULL, NULL, (double) v);
	}
}

static void
collect_store(void *arg, rpc_metrics_writer *w)
{
	const char *path = arg;
	char        wal[PATH_MAX];
	struct stat sb;
	double      bytes = 0;
	if (stat(path, &sb) == 0) {
		bytes += (double) sb.st_size;
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0) {
		bytes += (double) sb.st_size;
	}
	rpc_metrics_family(w, "frep_store_bytes", "gauge",
	    "Size of the SQLite store on disk (database and write-ahead log).");
	rpc_metrics_sample(w, "frep_store_bytes", NULL, NULL, bytes);
}

/* The store's one commit hook, shared: the data plane and auto-sync each
 * get told of every commit. */
typedef struct commit_hooks {
	kea_push  *kea;
	auto_sync *as;
} commit_hooks;

static void
commit_fanout(void *arg)
{
	commit_hooks *h = arg;
	if (h->kea != NULL) {
		kea_push_commit_hook(h->kea);
	}
	if (h->as != NULL) {
		auto_sync_commit_hook(h->as);
	}
}

int
main(int argc, char **argv)
{
	frepd_options     o = {0};
	frep_status       st;
	rpc_server       *server          = NULL;
	rpc_http         *http            = NULL;
	ProtobufCService *health          = NULL;
	ProtobufCService *dhcp            = NULL;
	ProtobufCService *partner         = NULL;
	ProtobufCService *data_plane      = NULL;
	ProtobufCService *dp_health       = NULL;
	ProtobufCService *grpc_health     = NULL;
	kea_push         *kea             = NULL;
	replication      *repl            = NULL;
	auto_sync        *as              = NULL;
	commit_hooks      hooks_of_commit = {0};
	partner_pool     *pool            = NULL;
	engine           *store           = NULL;
	char             *token           = NULL;
	char             *partner_token   = NULL;
	int               exit_code       = 1;
	int               lock_fd         = -1;
	sigset_t          sigs;
	sp_guard          guard = {0};
	char              state_path[PATH_MAX + 32];

	/* glibc keeps a malloc arena per thread, each holding on to what its
	 * thread freed: after a few large replications every worker would
	 * keep tens of MB. Two arenas bound that (measured in
	 * docs/PERFORMANCE.md). */
	mallopt(M_ARENA_MAX, 2);
	/* A replication's buffers (a scope's request and reply, the apply's
	 * working set: tens of MB for a 100,000-reservation scope) come back
	 * on every call. With glibc's defaults, buffers over 128 KiB (raised
	 * as large ones are freed) were mmap'd and unmapped each time and an
	 * arena's free top given back, so every call page-faulted them in
	 * again (19 % of frepd's samples for a 10,000-reservation scope;
	 * PERFORMANCE.md, "glibc's thresholds"). Buffers up to 8 MiB (a
	 * 100,000-reservation scope's 6 MB request) now come from the arenas,
	 * which keep up to 128 MiB free at their tops while calls keep coming;
	 * once no call has run for a second, the idle trim
	 * (runtime/idle_trim.h) gives it back if frepd is then over
	 * FREPD_IDLE_TRIM_KEEP_BYTES resident (PERFORMANCE.md, "Memory kept
	 * while busy", "A warm heap kept"). An operator's GLIBC_TUNABLES for
	 * either threshold wins. */
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (tunables == NULL || strstr(tunables, "glibc.malloc.mmap_threshold") == NULL) {
		mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
	}
	if (tunables == NULL || strstr(tunables, "glibc.malloc.trim_threshold") == NULL) {
		mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
	}
	/* Everything frepd creates (the store, its WAL and journal, the partner
	 * state file) holds secrets: owner only. */
	umask(077);
	if (parse_args(argc, argv, &o) != 0) {
		return 2;
	}
	if (!o.allow_core_dumps) {
		/* A core dump would hold the admin token and the shared secrets;
		 * not dumpable also keeps other users' ptrace out. */
		struct rlimit none = {0, 0};
		if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
			fprintf(stderr, "frepd: warning: cannot disable core dumps: %s\n",
			    strerror(errno));
		}
	}
	warn_if_readable_by_others("--token-file", o.token_file);
	warn_if_readable_by_others("--partner-token-file", o.partner_token_file);
	warn_if_readable_by_others("--tls-key", o.tls.key_file);
	warn_if_readable_by_others("--partner-tls-key", o.partner_tls.key_file);
	if (o.token_file != NULL &&
	    frep_secret_file_read_token(stderr, "frepd", o.token_file, &token) != 0) {
		return 2;
	}
	if (o.partner_token_file != NULL && frep_secret_file_read_token(stderr, "frepd",
						o.partner_token_file, &partner_token) != 0) {
		free(token);
		return 2;
	}
	for (size_t i = 0; i < o.n_listen; i++) {
		bool tls =
		    strncmp(o.listen[i], "tls+", 4) == 0 || strncmp(o.listen[i], "wss://", 6) == 0;
		if (!url_is_local(o.listen[i]) && !tls && token == NULL) {
			fprintf(stderr,
			    "frepd: FAILED_PRECONDITION: --listen %s is not a loopback address; a "
			    "listener reachable from other machines needs TLS (tls+tcp://) or an "
			    "admin token (--token-file)\n",
			    o.listen[i]);
			free(token);
			return 2;
		}
	}
	if (o.http_url != NULL && strncmp(o.http_url, "https://", 8) != 0 && token == NULL) {
		char local[512];
		/* http://host:port is checked as tcp://host:port. */
		const char *sep = strstr(o.http_url, "://");
		snprintf(local, sizeof(local), "tcp://%s", sep != NULL ? sep + 3 : o.http_url);
		if (!url_is_local(local)) {
			fprintf(stderr,
			    "frepd: FAILED_PRECONDITION: --http %s is not a loopback address; an "
			    "HTTP endpoint reachable from other machines needs https:// or an "
			    "admin "
			    "token (--token-file)\n",
			    o.http_url);
			free(token);
			return 2;
		}
	}
	if (open_store(o.db_path, &store, &lock_fd) != 0) {
		free(token);
		free(partner_token);
		return 2;
	}
	engine_set_audit_retention(store, o.audit_max_rows, o.audit_max_days * 86400u);

	/* Signals are taken by sigwait() in this thread only: block them before
	 * any other thread exists so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile_limit();

	rpc_server_options opts = {
	    .worker_threads     = o.threads,
	    .max_message_bytes  = o.max_message_bytes,
	    .max_connections    = o.max_connections,
	    .reply_timeout_ms   = o.reply_timeout_ms,
	    .admin_token        = token,
	    .version            = "frepd " FREP_VERSION,
	    .descriptor_set     = frep_descriptor_set,
	    .descriptor_set_len = frep_descriptor_set_len,
	};
	if (rpc_server_new(&opts, &server, &st) != FREP_OK) {
		goto fail;
	}
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
	}
	/* The data plane (docs/KEA.md): with --kea-socket a worker keeps Kea in
	 * step after every commit; Health answers for frep.v1.DataPlane. */
	if (o.kea_socket != NULL) {
		kea_push_options ko = {.socket_path = o.kea_socket, .base_path = o.kea_base};
		if (kea_push_new(store, &ko, &kea, &st) != FREP_OK) {
			goto fail;
		}
	}
	if (rpc_health_new(server, &health, &st) != FREP_OK ||
	    data_plane_health_new(health, kea, &dp_health, &st) != FREP_OK ||
	    rpc_server_register(server, dp_health, RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH, &st) !=
		FREP_OK) {
		goto fail;
	}
	/* grpc.health.v1.Health beside it, with its answers. */
	if (grpc_health_new(dp_health, &grpc_health, &st) != FREP_OK ||
	    rpc_server_register(
		server, grpc_health, RPC_SERVICE_INLINE | RPC_SERVICE_NO_AUTH, &st) != FREP_OK) {
		goto fail;
	}
	if (data_plane_service_new(store, kea, o.kea_base, &data_plane, &st) != FREP_OK ||
	    rpc_server_register(server, data_plane, 0, &st) != FREP_OK) {
		goto fail;
	}
	/* Flags 0: admin handlers touch the disk (worker threads) and need the
	 * bearer token when one is configured. */
	if (dhcp_service_new(store, &dhcp, &st) != FREP_OK) {
		goto fail;
	}
	/* Replication: the partner pool signs calls to partners; the
	 * DhcpServer failover methods act on both servers through it. */
	if ((pool = partner_pool_new(partner_token, &o.partner_tls, o.partner_timeout_ms)) ==
	    NULL) {
		frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if (partner_token != NULL) {
		explicit_bzero(partner_token, strlen(partner_token));
	}
	/* Beside the store: this server's partner id and replay horizon. */
	snprintf(state_path, sizeof(state_path), "%s.partner-state", o.db_path);
	if (replication_new(store, pool, o.advertise_url, o.partner_timeout_ms, &repl, &st) !=
		FREP_OK ||
	    partner_service_new(store, state_path, &partner, &st) != FREP_OK ||
	    replication_set_kea_ha_url(repl, o.kea_ha_url, &st) != FREP_OK ||
	    partner_service_set_kea_ha_url(partner, o.kea_ha_url, &st) != FREP_OK ||
	    replication_refresh_kea_ha_url(repl, &st) != FREP_OK) {
		goto fail;
	}
	/* Change-triggered replication (auto_sync): told of every commit, it
	 * first scans for work left from before a restart. The hook is set
	 * once, with both of its users. */
	auto_sync_options aso = {
	    .debounce_ms    = o.auto_sync_debounce_ms,
	    .backoff_max_ms = o.auto_sync_backoff_max_ms,
	    .send           = replication_auto_sync_scopes,
	};
	if (auto_sync_new(store, repl, &aso, &as, &st) != FREP_OK) {
		goto fail;
	}
	replication_set_auto_sync(repl, as);
	hooks_of_commit.kea = kea;
	hooks_of_commit.as  = as;
	engine_set_commit_hook(store, commit_fanout, &hooks_of_commit);
	dhcp_service_failover_hooks hooks;
	replication_failover_hooks(repl, &hooks);
	dhcp_service_set_failover_hooks(dhcp, &hooks);
	if (rpc_server_register(server, dhcp, 0, &st) != FREP_OK ||
	    rpc_server_register(server, replication_service(repl), 0, &st) != FREP_OK ||
	    rpc_server_register(server, partner, RPC_SERVICE_OWN_AUTH, &st) != FREP_OK ||
	    rpc_server_set_authorizer(
		server, "frep.v1.Partner", partner_service_authorize, partner, &st) != FREP_OK) {
		goto fail;
	}
	for (size_t i = 0; i < o.n_listen; i++) {
		if (rpc_server_listen(server, o.listen[i], &o.tls, &st) != FREP_OK) {
			goto fail;
		}
	}
	if (rpc_metrics_add_collector(
		rpc_server_metrics(server), collect_store, (void *) o.db_path, &st) != FREP_OK ||
	    (kea != NULL && rpc_metrics_add_collector(
				rpc_server_metrics(server), collect_kea, kea, &st) != FREP_OK) ||
	    (as != NULL && rpc_metrics_add_collector(rpc_server_metrics(server), collect_auto_sync,
			       as, &st) != FREP_OK)) {
		goto fail;
	}
	if (o.http_url != NULL) {
		rpc_http_options ho = {.url = o.http_url, .tls = &o.tls};
		if (rpc_http_new(server, &ho, &http, &st) != FREP_OK) {
			goto fail;
		}
	}
	if (!rpc_idle_trim_start(FREPD_IDLE_TRIM_MS, FREPD_IDLE_TRIM_KEEP_BYTES)) {
		frep_status_set(&st, FREP_INTERNAL, "cannot start the idle trim thread");
		goto fail;
	}
	if (rpc_server_start(server, &st) != FREP_OK) {
		goto fail;
	}
	if (http != NULL && rpc_http_start(http, &st) != FREP_OK) {
		goto fail;
	}
	if (sp_guard_start(&guard, server, o.n_listen, &st) != FREP_OK) {
		goto fail;
	}

	for (size_t i = 0; i < o.n_listen; i++) {
		rpc_log(RPC_LOG_INFO, "listening on %s", rpc_server_bound_url(server, i));
	}
	/* Port 0 and no --advertise-url: partners are told the port the
	 * system picked, not ":0". */
	if (o.advertise_url == o.listen[0] &&
	    strcmp(rpc_server_bound_url(server, 0), o.listen[0]) != 0) {
		if (replication_set_local_url(repl, rpc_server_bound_url(server, 0), &st) !=
		    FREP_OK) {
			goto fail;
		}
		rpc_log(RPC_LOG_INFO, "advertising %s to failover partners",
		    rpc_server_bound_url(server, 0));
	}
	if (http != NULL) {
		rpc_log(RPC_LOG_INFO, "listening on %s (HTTP, Connect protocol)",
		    rpc_http_bound_url(http));
	}
	rpc_log(RPC_LOG_INFO, "frepd %s serving %s (%u worker threads, max message %zu bytes)",
	    FREP_VERSION, o.db_path, o.threads, rpc_server_max_message_bytes(server));
	notify_service_manager("READY=1");

	int sig = 0;
	while (sigwait(&sigs, &sig) != 0) {
	}
	rpc_log(RPC_LOG_INFO, "%s received: draining calls in flight", strsignal(sig));
	notify_service_manager("STOPPING=1");
	sp_guard_stop(&guard);
	rpc_server_shutdown(server, o.drain_ms);
	rpc_http_free(http);
	http = NULL;
	rpc_log(RPC_LOG_INFO, "stopped");
	exit_code = 0;
	goto out;

fail:
	rpc_log(RPC_LOG_ERROR, "%s: %s", frep_code_name(st.code), st.message);
out:
	sp_guard_stop(&guard);
	/* The server first: no handler may run once the services and the store
	 * they use are gone. */
	if (server != NULL) {
		rpc_server_shutdown(server, 0); /* HTTP calls in flight answer first */
	}
	rpc_http_free(http);
	rpc_server_free(server);
	rpc_idle_trim_stop();
	engine_set_commit_hook(store, NULL, NULL);
	auto_sync_free(as);
	kea_push_free(kea);
	data_plane_service_free(data_plane);
	grpc_health_free(grpc_health);
	data_plane_health_free(dp_health);
	rpc_health_free(health);
	dhcp_service_free(dhcp);
	replication_free(repl);
	partner_service_free(partner);
	partner_pool_free(pool);
	engine_close(store);
	if (lock_fd >= 0) {
		close(lock_fd); /* after the store: the lock guards it to the end */
	}
	free(token);
	free(partner_token);
	nng_fini();
	return exit_code;
}
