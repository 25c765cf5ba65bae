#define _GNU_SOURCE
#include "fault_test_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/replication.pb-c.h"

/* The nodes started lately, so that a failed call can show the log (and,
 * where gdb is installed, the threads) of the frepd that did not answer: a
 * CI run keeps nothing else of it. Copies, not pointers (a fixture frees
 * its nodes without telling this file), in a ring: the oldest entry goes. */
#define RT_MAX_NODES 64
static struct {
	const frep_client *c; /* the node's admin client when it started */
	pid_t              pid;
	char               name[16];
	char               log_path[sizeof(((tu_proc *) 0)->log_path)];
} rt_nodes[RT_MAX_NODES];
static size_t rt_nodes_next;

static void
rt_register(const rt_node *n)
{
	size_t i        = rt_nodes_next++ % RT_MAX_NODES;
	rt_nodes[i].c   = n->c;
	rt_nodes[i].pid = n->proc.pid;
	snprintf(rt_nodes[i].name, sizeof(rt_nodes[i].name), "%s", n->name);
	snprintf(rt_nodes[i].log_path, sizeof(rt_nodes[i].log_path), "%s", n->proc.log_path);
}

static void
gdb_threads(const char *who, pid_t pid)
{
	fprintf(stderr, "--- threads of %s (pid %d) ---\n", who, (int) pid);
	if (tu_system("gdb -batch -nx -p %d -ex 'thread apply all bt' 1>&2 2>/dev/null </dev/null",
		(int) pid) != 0) {
		fprintf(stderr, "(gdb could not attach to pid %d)\n", (int) pid);
	}
}

void
rt_explain_failure(frep_client *c, frep_code code)
{
	/* The newest entry for c: a client pointer can be reused later. */
	for (size_t k = 1; k <= RT_MAX_NODES && k <= rt_nodes_next; k++) {
		size_t i = (rt_nodes_next - k) % RT_MAX_NODES;
		if (c == NULL || rt_nodes[i].c != c) {
			continue;
		}
		tu_proc p = {.pid = rt_nodes[i].pid};
		snprintf(p.log_path, sizeof(p.log_path), "%s", rt_nodes[i].log_path);
		tu_proc_dump_log(&p);
		bool alive = p.pid > 0 && kill(p.pid, 0) == 0;
		if ((code == FREP_DEADLINE_EXCEEDED || code == FREP_UNAVAILABLE) && alive &&
		    access("/usr/bin/gdb", X_OK) == 0) {
			char who[64];
			snprintf(who, sizeof(who), "frepd %s", rt_nodes[i].name);
			gdb_threads(who, p.pid);
			/* and this process's: the client's side of the call */
			gdb_threads("the test", getpid());
		}
		return;
	}
}

void
rt_node_init(rt_node *n, const char *dir, const char *name, const char *url)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->url, sizeof(n->url), "%s", url);
	snprintf(n->listen, sizeof(n->listen), "%s", url);
	snprintf(n->db, sizeof(n->db), "%s/%s.db", dir, name);
	n->copts.timeout_ms = 30000;
}

static void
health_done(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	*(int *) data = msg != NULL ? (int) msg->status : -1;
}

int
rt_wait_healthy(const char *url, const frep_client_options *opts, unsigned timeout_ms)
{
	frep_client        *c = NULL;
	frep_status         st;
	frep_client_options o      = opts != NULL ? *opts : (frep_client_options){0};
	long long           until  = tu_now_ms() + timeout_ms;
	int                 status = -1;

	o.timeout_ms = 300;
	if (frep_client_open(url, &o, &c, &st) != FREP_OK) {
		print_error("rt_wait_healthy: %s: %s\n", frep_code_name(st.code), st.message);
		return -1;
	}
	ProtobufCService *h = frep_client_service(c, &frep__v1__health__descriptor);
	while (tu_now_ms() < until) {
		Frep__V1__HealthCheckRequest req = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
		frep__v1__health__check(h, &req, health_done, &status);
		if (status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			break;
		}
		struct timespec ts = {.tv_nsec = 10 * 1000000L};
		nanosleep(&ts, NULL); /* poll interval, bounded by timeout_ms */
	}
	frep_client_close(c);
	return status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0 : -1;
}

void
rt_node_start(rt_node *n, const char *dir)
{
	char        timeout[16];
	const char *args[12 + RT_MAX_EXTRA];
	size_t      k = 0;
	snprintf(
	    timeout, sizeof(timeout), "%u", n->partner_timeout_ms ? n->partner_timeout_ms : 3000);
	bool any_port = tu_url_port_is_zero(n->listen);
	args[k++]     = "--listen";
	args[k++]     = n->listen;
	if (!any_port) {
		args[k++] = "--advertise-url";
		args[k++] = n->listen;
	}
	args[k++] = "--db";
	args[k++] = n->db;
	args[k++] = "--partner-timeout-ms";
	args[k++] = timeout;
	for (size_t i = 0; i < RT_MAX_EXTRA && n->extra[i] != NULL; i++) {
		args[k++] = n->extra[i];
	}
	args[k] = NULL;
	char log_path[600];
	snprintf(log_path, sizeof(log_path), "%s/%s.log", dir, n->name);
	long log_from = tu_file_size(log_path);
	if (n->nng_abused) {
		setenv("LSAN_OPTIONS", tu_nng_leak_suppressions(), 1);
	}
	int started = tu_frepd_start(&n->proc, dir, n->name, args);
	if (n->nng_abused) {
		unsetenv("LSAN_OPTIONS");
	}
	assert_int_equal(started, 0);
	if (any_port) {
		/* The bound URL, as frepd logs it: same scheme, the chosen port. */
		char scheme[32], bound[600];
		snprintf(scheme, sizeof(scheme), "%.*s",
		    (int) (strstr(n->listen, "://") + 3 - n->listen), n->listen);
		if (tu_frepd_bound_url(&n->proc, scheme, log_from, bound, sizeof(bound), 15000) !=
		    0) {
			tu_proc_dump_log(&n->proc);
			fail_msg("frepd %s never said where it listens", n->name);
		}
		if (strcmp(bound, n->url) != 0 && n->c != NULL) {
			frep_client_close(n->c); /* a new port: a new client */
			n->c = NULL;
		}
		snprintf(n->url, sizeof(n->url), "%s", bound);
	}
	if (rt_wait_healthy(n->url, &n->copts, 15000) != 0) {
		tu_proc_dump_log(&n->proc);
		fail_msg("frepd %s did not become healthy on %s", n->name, n->url);
	}
	if (n->c == NULL) {
		frep_status st;
		assert_int_equal(frep_client_open(n->url, &n->copts, &n->c, &st), FREP_OK);
		assert_int_equal(tu_client_ready(n->c, 15000), 0);
	}
	rt_register(n);
}

void
rt_node_stop_clean(rt_node *n)
{
	int status = tu_proc_stop(&n->proc, SIGTERM, 30000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		tu_proc_dump_log(&n->proc);
		fail_msg("frepd %s did not exit 0 on SIGTERM (wait status %d)", n->name, status);
	}
}

int
rt_node_fini(rt_node *n)
{
	int rc = 0;
	if (n->proc.pid > 0) {
		int status = tu_proc_stop(&n->proc, SIGTERM, 30000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			tu_proc_dump_log(&n->proc);
			print_error("frepd %s did not exit 0 on SIGTERM (wait status %d)\n",
			    n->name, status);
			rc = -1;
		}
	}
	frep_client_close(n->c);
	n->c = NULL;
	return rc;
}

static const ProtobufCServiceDescriptor *
service_desc(const char *service)
{
	if (strcmp(service, "DhcpServer") == 0) {
		return &frep__v1__dhcp_server__descriptor;
	}
	if (strcmp(service, "FailoverReplication") == 0) {
		return &frep__v1__failover_replication__descriptor;
	}
	fail_msg("unknown service %s", service);
	return NULL;
}

ProtobufCMessage *
rt_call(frep_client *c, const char *service, const char *method, const ProtobufCMessage *in,
    frep_code expect, frep_status *st_out)
{
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(service_desc(service), method);
	char              path[128];
	ProtobufCMessage *out = NULL;
	frep_status       st;
	assert_non_null(m);
	snprintf(path, sizeof(path), "/frep.v1.%s/%s", service, method);
	frep_code code = frep_client_call(c, path, in, m->output, &out, NULL, &st);
	if (code != expect) {
		rt_explain_failure(c, code);
		fail_msg("%s: expected %s, got %s: %s", path, frep_code_name(expect),
		    frep_code_name(code), st.message);
	}
	if (st_out != NULL) {
		*st_out = st;
	}
	return out;
}

void
rt_call_ok(frep_client *c, const char *service, const char *method, const ProtobufCMessage *in)
{
	protobuf_c_message_free_unpacked(rt_call(c, service, method, in, FREP_OK, NULL), NULL);
}

void
rt_failover_scope(frep_client *c, const char *method, const char *name, char **ids, size_t n,
    bool force, frep_code expect, frep_status *st_out)
{
	Frep__V1__FailoverScopeRequest req = FREP__V1__FAILOVER_SCOPE_REQUEST__INIT;
	req.name                           = (char *) name;
	req.scope_ids                      = ids;
	req.n_scope_ids                    = n;
	req.force                          = force;
	protobuf_c_message_free_unpacked(
	    rt_call(c, "DhcpServer", method, &req.base, expect, st_out), NULL);
}

void
rt_add_scope(frep_client *c, const char *id, const char *start, const char *end, bool wide)
{
	Frep__V1__Scope s = FREP__V1__SCOPE__INIT;
	s.scope_id        = (char *) id;
	s.subnet_mask     = wide ? "255.255.0.0" : "255.255.255.0";
	s.start_range     = (char *) start;
	s.end_range       = (char *) end;
	s.name            = "reliability";
	rt_call_ok(c, "DhcpServer", "AddScope", &s.base);
}

frep_code
rt_add_reservation(frep_client *c, const char *scope, const char *ip, const char *mac,
    const char *name, frep_status *st)
{
	Frep__V1__Reservation r   = FREP__V1__RESERVATION__INIT;
	ProtobufCMessage     *out = NULL;
	r.scope_id                = (char *) scope;
	r.ip_address              = (char *) ip;
	r.client_id               = (char *) mac;
	r.name                    = (char *) name;
	frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/AddReservation", &r.base,
	    &frep__v1__reservation__descriptor, &out, NULL, st);
	if (code == FREP_OK && strcmp(((Frep__V1__Reservation *) out)->ip_address, ip) != 0) {
		fail_msg("AddReservation %s answered with %s", ip,
		    ((Frep__V1__Reservation *) out)->ip_address);
	}
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

void
rt_import_scope(frep_client *c, int octet2, int third, int n_res, const char *name)
{
	char scope_id[32], start[32], end[32];
	snprintf(scope_id, sizeof(scope_id), "10.%d.%d.0", octet2, third);
	snprintf(start, sizeof(start), "10.%d.%d.10", octet2, third);
	snprintf(end, sizeof(end), "10.%d.%d.250", octet2, third);
	Frep__V1__Scope scope        = FREP__V1__SCOPE__INIT;
	scope.scope_id               = scope_id;
	scope.subnet_mask            = "255.255.255.0";
	scope.start_range            = start;
	scope.end_range              = end;
	scope.name                   = (char *) name;
	Frep__V1__Reservation  *res  = calloc((size_t) n_res + 1, sizeof(*res));
	Frep__V1__Reservation **resp = calloc((size_t) n_res + 1, sizeof(*resp));
	char(*ips)[32]               = calloc((size_t) n_res + 1, 32);
	char(*macs)[32]              = calloc((size_t) n_res + 1, 32);
	for (int i = 0; i < n_res; i++) {
		frep__v1__reservation__init(&res[i]);
		snprintf(ips[i], 32, "10.%d.%d.%d", octet2, third, 11 + i);
		snprintf(
		    macs[i], 32, "02-%02x-%02x-00-00-%02x", octet2 & 0xff, third & 0xff, i & 0xff);
		res[i].scope_id   = scope_id;
		res[i].ip_address = ips[i];
		res[i].client_id  = macs[i];
		res[i].name       = (char *) name;
		resp[i]           = &res[i];
	}
	Frep__V1__ScopeConfig cfg        = FREP__V1__SCOPE_CONFIG__INIT;
	cfg.scope                        = &scope;
	cfg.reservations                 = resp;
	cfg.n_reservations               = (size_t) n_res;
	Frep__V1__ImportScopeRequest req = FREP__V1__IMPORT_SCOPE_REQUEST__INIT;
	req.config                       = &cfg;
	rt_call_ok(c, "DhcpServer", "ImportScope", &req.base);
	free(res);
	free(resp);
	free(ips);
	free(macs);
}

void
rt_add_failover(frep_client *c, const char *name, const char *partner_url, const char *secret,
    char **scopes, size_t n_scopes, frep_code expect)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.name                           = (char *) name;
	rel.partner_server                 = (char *) partner_url;
	rel.mode                           = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent           = 50;
	rel.shared_secret                  = (char *) secret;
	rel.scope_ids                      = scopes;
	rel.n_scope_ids                    = n_scopes;
	/* The tests that use this pin manual replication, faults and load:
	 * no change-triggered replication of its own in between
	 * (auto_sync_test.c has that). */
	rel.auto_sync    = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	req.relationship = &rel;
	protobuf_c_message_free_unpacked(
	    rt_call(c, "DhcpServer", "AddFailover", &req.base, expect, NULL), NULL);
}

void
rt_digest(frep_client *c, const char *scope_id, char out[65])
{
	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	ProtobufCMessage            *o   = NULL;
	frep_status                  st;
	req.scope_id   = (char *) scope_id;
	out[0]         = '\0';
	frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/GetScopeConfig", &req.base,
	    &frep__v1__scope_config__descriptor, &o, NULL, &st);
	if (code == FREP_OK) {
		snprintf(out, 65, "%s", ((Frep__V1__ScopeConfig *) o)->digest);
		protobuf_c_message_free_unpacked(o, NULL);
	} else if (code != FREP_NOT_FOUND) {
		rt_explain_failure(c, code);
		fail_msg("GetScopeConfig %s: %s: %s", scope_id, frep_code_name(code), st.message);
	}
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char  *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len   = n;
	return buf;
}

bool
rt_file_contains(const char *path, const char *needle)
{
	size_t len   = 0;
	char  *buf   = slurp(path, &len);
	bool   found = buf != NULL && memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

bool
rt_file_has_line(const char *path, const char *const parts[])
{
	size_t len   = 0;
	char  *buf   = slurp(path, &len);
	bool   found = false;
	for (char *line = buf, *end; line != NULL && !found; line = end != NULL ? end + 1 : NULL) {
		if ((end = strchr(line, '\n')) != NULL) {
			*end = '\0';
		}
		found = true;
		for (size_t i = 0; parts[i] != NULL && found; i++) {
			found = strstr(line, parts[i]) != NULL;
		}
	}
	free(buf);
	return found;
}

void
rt_assert_file_lacks(const char *path, const char *const needles[])
{
	for (size_t i = 0; needles[i] != NULL; i++) {
		if (rt_file_contains(path, needles[i])) {
			fail_msg("%s contains the secret \"%s\"", path, needles[i]);
		}
	}
}

long
rt_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
			break;
		}
	}
	fclose(f);
	return kib;
}

int
rt_hold_port(int *fd)
{
	int                one = 1;
	struct sockaddr_in a   = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t          al  = sizeof(a);
	*fd                    = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	assert_int_equal(setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(*fd, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *) &a, &al), 0);
	return ntohs(a.sin_port);
}

long
rt_env_long(const char *name, long def)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : def;
}

bool
rt_wait_hook_paused(const char *paused, pid_t pid, unsigned timeout_ms)
{
	long long until = tu_now_ms() + timeout_ms;
	while (tu_now_ms() < until) {
		FILE *fp = fopen(paused, "r");
		if (fp != NULL) {
			long got = 0;
			int  n   = fscanf(fp, "pid %ld", &got);
			fclose(fp);
			return n == 1 && got == (long) pid;
		}
		struct timespec ts = {.tv_nsec = 2 * 1000000L};
		nanosleep(&ts, NULL); /* poll interval, bounded by timeout_ms */
	}
	return false;
}
