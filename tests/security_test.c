/*
 * Attacks on real frepd processes: TLS listeners and partner links with
 * certificates made at test time, the admin bearer token, the refusal of
 * an exposed listener without protection, forged partner calls (stale,
 * for another relationship, for another method), secrets kept out of logs,
 * replies and errors, and every size and count bound. docs/SECURITY.md
 * lists each attack with its test and outcome.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "fault_test_common.h"
#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_envelope.h"
#include "partner_auth.h"

#define SECRET1 "sec-test one 5d8e1c0b"
#define SECRET2 "sec-test two a4471f93"
#define TOKEN   "admin-token-3b0e9f6c2d"
#define TOKEN_B "admin-token-b-77e1a0d4"

/* Every string that must never reach a log, a reply or an error. */
static const char *const secrets[] = {SECRET1, SECRET2, TOKEN, TOKEN_B, NULL};

/* LeakSanitizer's suppressions for this test process alone (its frepd
 * children keep full checking, or tests/nng_1518.supp where marked
 * nng_abused): tests/nng_1518.supp's rule. Its raw nng socket sends a
 * 64 KiB frepd an oversized message, which frepd's nng drops with the
 * connection, and is closed while it redials; nng 1.5.2 can leave that
 * dialer's pipe objects behind (3,328 bytes, all allocated inside libnng
 * under nng_dial, once in the ASan stage of a CI rehearsal at b06bcff;
 * the shape failover_promises_test met at b98e848). A hook of
 * sanitizer/lsan_interface.h, unused without a sanitizer. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libnng.so.1\n";
}

typedef struct fixture {
	char   *dir;
	rt_node n[3];
	char    key_line[128]; /* a line of a TLS private key, "" if none */
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
	fixture *f  = *state;
	int      rc = 0;
	for (int i = 0; i < 3; i++) {
		if (rt_node_fini(&f->n[i]) != 0) {
			rc = -1; /* a crash or, under LSan, a leak fails the test */
		}
		if (f->n[i].proc.log_path[0] != '\0') {
			rt_assert_file_lacks(f->n[i].proc.log_path, secrets);
			if (f->key_line[0] != '\0') {
				const char *const key[] = {f->key_line, NULL};
				rt_assert_file_lacks(f->n[i].proc.log_path, key);
			}
		}
	}
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return rc;
}

static void
node_ipc(fixture *f, int i, const char *name)
{
	char url[600];
	snprintf(url, sizeof(url), "ipc://%s/%s.sock", f->dir, name);
	rt_node_init(&f->n[i], f->dir, name, url);
	f->n[i].extra[0] = "--log-level";
	f->n[i].extra[1] = "debug";
}

static void
assert_lacks_secrets(const char *text)
{
	for (size_t i = 0; secrets[i] != NULL; i++) {
		if (text != NULL && strstr(text, secrets[i]) != NULL) {
			fail_msg("\"%s\" reveals a secret", text);
		}
	}
}

/* Calls path on c; returns the code, the reply freed. */
static frep_code
try_call(frep_client *c, const char *path, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, frep_status *st)
{
	ProtobufCMessage *out  = NULL;
	frep_code         code = frep_client_call(c, path, in, out_desc, &out, NULL, st);
	protobuf_c_message_free_unpacked(out, NULL);
	assert_lacks_secrets(st->message);
	return code;
}

/* --- TLS ------------------------------------------------------------------ */

static void
make_certs(const char *dir)
{
	/* A CA, certificates it signs for both servers and an admin client,
	 * and a second, rogue CA with its own client certificate. */
	int rc = tu_system(
	    "cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext.cnf && "
	    "for ca in ca rogue; do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout $ca.key -out $ca.crt -days 2 -subj /CN=frep-$ca >/dev/null 2>&1 || "
	    "exit 1; "
	    "done && "
	    "for c in a:ca b:ca client:ca intruder:rogue; do n=${c%%:*}; ca=${c#*:}; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key "
	    "-out $n.csr -subj /CN=localhost >/dev/null 2>&1 && "
	    "openssl x509 -req -in $n.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial -out $n.crt "
	    "-days 2 -extfile ext.cnf >/dev/null 2>&1 || exit 1; done && "
	    "printf 'subjectAltName=DNS:frep.example.org' > elsewhere.cnf && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout elsewhere.key "
	    "-out elsewhere.csr -subj /CN=frep.example.org >/dev/null 2>&1 && "
	    "openssl x509 -req -in elsewhere.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	    "-out elsewhere.crt -days 2 -extfile elsewhere.cnf >/dev/null 2>&1",
	    dir);
	assert_int_equal(rc, 0);
}

static void
tls_node(fixture *f, int i, const char *name, char paths[][700])
{
	/* Port 0: the system picks; rt_node_start reads the bound URL back. */
	rt_node_init(&f->n[i], f->dir, name, "tls+tcp://localhost:0");
	rt_node *n = &f->n[i];
	/* paths: 0 own cert, 1 own key, 2 ca, 3 client cert, 4 client key */
	const char *extra[] = {"--tls-cert", paths[0], "--tls-key", paths[1], "--tls-ca", paths[2],
	    "--partner-tls-ca", paths[2], "--partner-tls-cert", paths[0], "--partner-tls-key",
	    paths[1], "--log-level", "debug", NULL};
	memcpy(n->extra, extra, sizeof(extra));
	n->copts.tls_ca_file     = paths[2];
	n->copts.tls_cert_file   = paths[3];
	n->copts.tls_key_file    = paths[4];
	n->copts.tls_server_name = "localhost";
	n->nng_abused            = true; /* clients refuse its handshakes on purpose */
}

/* Tries AddScope 10.99.0.0 (valid) with opts; it must get no connection
 * (UNAVAILABLE). */
static void
refused_client(const char *url, const frep_client_options *opts, const char *who)
{
	frep_client        *c = NULL;
	frep_status         st;
	frep_client_options o = *opts;
	o.timeout_ms          = 1000;
	assert_int_equal(frep_client_open(url, &o, &c, &st), FREP_OK);
	Frep__V1__Scope s = FREP__V1__SCOPE__INIT;
	s.scope_id        = "10.99.0.0";
	s.subnet_mask     = "255.255.255.0";
	s.start_range     = "10.99.0.10";
	s.end_range       = "10.99.0.20";
	s.name            = "must not arrive";
	frep_code code =
	    try_call(c, "/frep.v1.DhcpServer/AddScope", &s.base, &frep__v1__scope__descriptor, &st);
	print_message("%s: %s: %s\n", who, frep_code_name(code), st.message);
	assert_int_equal(code, FREP_UNAVAILABLE);
	frep_client_close(c);
}

/* Proves: both frepd listen on tls+tcp://localhost with certificates from
 * a CA made now and require client certificates (--tls-ca); partner links
 * use --partner-tls-ca/-cert/-key; a relationship is created and a change
 * replicated across them, digests equal. Clients without the CA and a
 * certificate, with no certificate, with a certificate from another CA,
 * or trusting another CA get nowhere, and change nothing. */
static void
test_security_tls_listeners_and_partner_links(void **state)
{
	fixture *f = *state;
	make_certs(f->dir);
	char        pa[5][700], pb[5][700];
	const char *files[5][2] = {{"a.crt", "b.crt"}, {"a.key", "b.key"}, {"ca.crt", "ca.crt"},
	    {"client.crt", "client.crt"}, {"client.key", "client.key"}};
	for (int k = 0; k < 5; k++) {
		snprintf(pa[k], sizeof(pa[k]), "%s/%s", f->dir, files[k][0]);
		snprintf(pb[k], sizeof(pb[k]), "%s/%s", f->dir, files[k][1]);
	}
	FILE *kf = fopen(pa[1], "r");
	assert_non_null(kf);
	assert_non_null(fgets(f->key_line, sizeof(f->key_line), kf)); /* BEGIN line */
	assert_non_null(fgets(f->key_line, sizeof(f->key_line), kf)); /* key material */
	f->key_line[strcspn(f->key_line, "\n")] = '\0';
	fclose(kf);

	tls_node(f, 0, "a", pa);
	tls_node(f, 1, "b", pb);
	rt_node *a = &f->n[0], *b = &f->n[1];
	rt_node_start(a, f->dir);
	rt_node_start(b, f->dir);
	rt_import_scope(a->c, 90, 1, 10, "tls");
	char *scopes[] = {"10.90.1.0"};
	rt_add_failover(a->c, "tls", b->url, SECRET1, scopes, 1, FREP_OK);
	rt_import_scope(a->c, 90, 1, 12, "tls-2");
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"tls"};
	req.names                                = names;
	req.n_names                              = 1;
	Frep__V1__ReplicateResponse *r           = (Frep__V1__ReplicateResponse *) rt_call(
		      a->c, "FailoverReplication", "ReplicateByName", &req.base, FREP_OK, NULL);
	assert_int_equal(r->n_scope_ids, 1);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	char da[65], db[65];
	rt_digest(a->c, "10.90.1.0", da);
	rt_digest(b->c, "10.90.1.0", db);
	assert_string_equal(da, db);

	char intruder_crt[700], intruder_key[700], rogue_ca[700];
	snprintf(intruder_crt, sizeof(intruder_crt), "%s/intruder.crt", f->dir);
	snprintf(intruder_key, sizeof(intruder_key), "%s/intruder.key", f->dir);
	snprintf(rogue_ca, sizeof(rogue_ca), "%s/rogue.crt", f->dir);
	frep_client_options none = {0};
	refused_client(b->url, &none, "no CA, no client certificate");
	frep_client_options no_cert = {.tls_ca_file = pb[2], .tls_server_name = "localhost"};
	refused_client(b->url, &no_cert, "CA but no client certificate");
	frep_client_options rogue_cert = {.tls_ca_file = pb[2],
	    .tls_server_name                           = "localhost",
	    .tls_cert_file                             = intruder_crt,
	    .tls_key_file                              = intruder_key};
	refused_client(b->url, &rogue_cert, "client certificate from another CA");
	frep_client_options distrust = {.tls_ca_file = rogue_ca,
	    .tls_server_name                         = "localhost",
	    .tls_cert_file                           = pb[3],
	    .tls_key_file                            = pb[4]};
	refused_client(b->url, &distrust, "client that does not trust the server's CA");
	char d[65];
	rt_digest(b->c, "10.99.0.0", d);
	assert_string_equal(d, "");

	/* The server's name is verified, by default the URL's host: a third
	 * frepd with a certificate of the same CA made for frep.example.org,
	 * on localhost, is refused by a client that names no server (before:
	 * any certificate of the CA would do), and reached by one that names
	 * frep.example.org (rt_node_start's client). */
	char pc[5][700];
	memcpy(pc, pb, sizeof(pc));
	snprintf(pc[0], sizeof(pc[0]), "%s/elsewhere.crt", f->dir);
	snprintf(pc[1], sizeof(pc[1]), "%s/elsewhere.key", f->dir);
	tls_node(f, 2, "c", pc);
	rt_node *c               = &f->n[2];
	c->copts.tls_server_name = "frep.example.org";
	rt_node_start(c, f->dir);
	frep_client_options by_url = {
	    .tls_ca_file = pb[2], .tls_cert_file = pb[3], .tls_key_file = pb[4]};
	refused_client(c->url, &by_url, "server certificate for another host");
	rt_digest(c->c, "10.99.0.0", d);
	assert_string_equal(d, "");
	rt_node_stop_clean(a);
	rt_node_stop_clean(b);
	rt_node_stop_clean(c);
}

/* --- the admin token ------------------------------------------------------ */

static void
write_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Proves: with --token-file, every DhcpServer and FailoverReplication call
 * without the token or with a wrong one is UNAUTHENTICATED (handler not
 * run: nothing created), while Health and Introspection answer without
 * it; the token never appears in an error. Creating a relationship on a
 * partner that has a token needs --partner-token-file: without it the
 * partner refuses (UNAUTHENTICATED) and nothing is created on either side. */
static void
test_security_admin_token_required_on_every_non_health_call(void **state)
{
	fixture *f = *state;
	char     tok[700], tok_b[700];
	write_file(f->dir, "token", TOKEN "\n", tok, sizeof(tok));
	write_file(f->dir, "token-b", TOKEN_B "\n", tok_b, sizeof(tok_b));
	node_ipc(f, 0, "a");
	node_ipc(f, 1, "b");
	rt_node *a = &f->n[0], *b = &f->n[1];
	a->extra[2]    = "--token-file";
	a->extra[3]    = tok;
	a->copts.token = TOKEN;
	b->extra[2]    = "--token-file";
	b->extra[3]    = tok_b;
	b->copts.token = TOKEN_B;
	rt_node_start(a, f->dir);
	rt_node_start(b, f->dir);

	frep_client        *anon = NULL, *wrong = NULL;
	frep_status         st;
	frep_client_options o_anon  = {.timeout_ms = 5000};
	frep_client_options o_wrong = {.timeout_ms = 5000, .token = TOKEN "x"};
	assert_int_equal(frep_client_open(a->url, &o_anon, &anon, &st), FREP_OK);
	assert_int_equal(frep_client_open(a->url, &o_wrong, &wrong, &st), FREP_OK);

	Frep__V1__Scope s                         = FREP__V1__SCOPE__INIT;
	s.scope_id                                = "10.93.0.0";
	s.subnet_mask                             = "255.255.255.0";
	s.start_range                             = "10.93.0.10";
	s.end_range                               = "10.93.0.20";
	s.name                                    = "tok";
	Frep__V1__ListScopesRequest         ls    = FREP__V1__LIST_SCOPES_REQUEST__INIT;
	Frep__V1__FailoverKey               fk    = FREP__V1__FAILOVER_KEY__INIT;
	Frep__V1__ListAuditRequest          la    = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	Frep__V1__ReplicateByNameRequest    rn    = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	Frep__V1__ReplicateByScopeIdRequest rs    = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	Frep__V1__ScopeConfigRequest        sc    = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	char                               *ids[] = {"10.93.0.0"};
	fk.name                                   = "x";
	rs.scope_ids                              = ids;
	rs.n_scope_ids                            = 1;
	sc.scope_id                               = "10.93.0.0";
	struct {
		const char                       *path;
		const ProtobufCMessage           *in;
		const ProtobufCMessageDescriptor *out;
	} guarded[] = {
	    {"/frep.v1.DhcpServer/AddScope", &s.base, &frep__v1__scope__descriptor},
	    {"/frep.v1.DhcpServer/ListScopes", &ls.base,
		&frep__v1__list_scopes_response__descriptor},
	    {"/frep.v1.DhcpServer/GetFailover", &fk.base,
		&frep__v1__failover_relationship__descriptor},
	    {"/frep.v1.DhcpServer/ListAudit", &la.base, &frep__v1__list_audit_response__descriptor},
	    {"/frep.v1.DhcpServer/GetScopeConfig", &sc.base, &frep__v1__scope_config__descriptor},
	    {"/frep.v1.FailoverReplication/ReplicateByName", &rn.base,
		&frep__v1__replicate_response__descriptor},
	    {"/frep.v1.FailoverReplication/ReplicateByScopeId", &rs.base,
		&frep__v1__replicate_response__descriptor},
	};
	for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		frep_client *who[] = {anon, wrong};
		for (int k = 0; k < 2; k++) {
			frep_code code =
			    try_call(who[k], guarded[i].path, guarded[i].in, guarded[i].out, &st);
			if (code != FREP_UNAUTHENTICATED) {
				fail_msg("%s %s: expected UNAUTHENTICATED, got %s: %s",
				    guarded[i].path, k ? "with a wrong token" : "without a token",
				    frep_code_name(code), st.message);
			}
		}
	}
	/* Health and Introspection need no token. */
	Frep__V1__HealthCheckRequest           h  = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	Frep__Rpc__V1__GetServerInfoRequest    gi = FREP__RPC__V1__GET_SERVER_INFO_REQUEST__INIT;
	Frep__Rpc__V1__GetDescriptorSetRequest gd = FREP__RPC__V1__GET_DESCRIPTOR_SET_REQUEST__INIT;
	assert_int_equal(try_call(anon, "/frep.v1.Health/Check", &h.base,
			     &frep__v1__health_check_response__descriptor, &st),
	    FREP_OK);
	assert_int_equal(try_call(anon, "/frep.rpc.v1.Introspection/GetServerInfo", &gi.base,
			     &frep__rpc__v1__server_info__descriptor, &st),
	    FREP_OK);
	assert_int_equal(try_call(anon, "/frep.rpc.v1.Introspection/GetDescriptorSet", &gd.base,
			     &frep__rpc__v1__descriptor_set__descriptor, &st),
	    FREP_OK);
	/* The refused AddScope did nothing; with the token it works. */
	char d[65];
	rt_digest(a->c, "10.93.0.0", d);
	assert_string_equal(d, "");
	rt_call_ok(a->c, "DhcpServer", "AddScope", &s.base);

	/* A relationship with B (which has its own token): refused without
	 * --partner-token-file, nothing created on either side... */
	{
		/* ...saying what is missing (not "the relationship does not
		 * exist"): the partner's admin token. */
		Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
		Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
		frep_status                    fst;
		rel.name                 = "tok";
		rel.partner_server       = b->url;
		rel.mode                 = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
		rel.load_balance_percent = 50;
		rel.shared_secret        = SECRET1;
		rel.scope_ids            = ids;
		rel.n_scope_ids          = 1;
		req.relationship         = &rel;
		protobuf_c_message_free_unpacked(rt_call(a->c, "DhcpServer", "AddFailover",
						     &req.base, FREP_UNAUTHENTICATED, &fst),
		    NULL);
		if (strstr(fst.message, "admin token") == NULL ||
		    strstr(fst.message, "--partner-token-file") == NULL) {
			fail_msg("refusal does not name the partner's token: %s", fst.message);
		}
	}
	Frep__V1__FailoverKey key = FREP__V1__FAILOVER_KEY__INIT;
	key.name                  = "tok";
	protobuf_c_message_free_unpacked(
	    rt_call(a->c, "DhcpServer", "GetFailover", &key.base, FREP_NOT_FOUND, NULL), NULL);
	protobuf_c_message_free_unpacked(
	    rt_call(b->c, "DhcpServer", "GetFailover", &key.base, FREP_NOT_FOUND, NULL), NULL);
	rt_digest(b->c, "10.93.0.0", d);
	assert_string_equal(d, "");
	/* ...and made with it. */
	rt_node_stop_clean(a);
	a->extra[4] = "--partner-token-file";
	a->extra[5] = tok_b;
	rt_node_start(a, f->dir);
	rt_add_failover(a->c, "tok", b->url, SECRET1, ids, 1, FREP_OK);
	char da[65], db[65];
	rt_digest(a->c, "10.93.0.0", da);
	rt_digest(b->c, "10.93.0.0", db);
	assert_string_equal(da, db);
	frep_client_close(anon);
	frep_client_close(wrong);
	rt_node_stop_clean(a);
	rt_node_stop_clean(b);
}

/* --- exposed listeners ---------------------------------------------------- */

/* Proves: frepd refuses to start (exit 2, FAILED_PRECONDITION naming the
 * URL) on a listener reachable from other machines with neither TLS nor a
 * token — tcp://0.0.0.0, ws://0.0.0.0 and tcp://127.example.org (a host name, not a
 * literal loopback address) — and nothing is left
 * listening on the port. (Only these wildcard forms are tried: the tests
 * never bind anything but loopback, so a frepd that wrongly accepted one
 * is stopped at once and the test fails.) */
static void
test_security_exposed_listener_without_tls_or_token_refused(void **state)
{
	fixture *f = *state;
	int      held;
	/* Held (bound, not listening) throughout: a frepd that wrongly
	 * listened could still take it (both SO_REUSEADDR), nothing else can. */
	int  port = rt_hold_port(&held);
	char urls[3][64];
	snprintf(urls[0], sizeof(urls[0]), "tcp://0.0.0.0:%d", port);
	snprintf(urls[1], sizeof(urls[1]), "ws://0.0.0.0:%d/frep", port);
	/* A name that merely starts with "127." is not loopback: only literal
	 * loopback addresses and the name localhost are (docs/SECURITY.md). */
	snprintf(urls[2], sizeof(urls[2]), "tcp://127.example.org:%d", port);
	for (int i = 0; i < 3; i++) {
		tu_proc p = {0};
		char    db[600], name[16];
		snprintf(db, sizeof(db), "%s/exposed.db", f->dir);
		snprintf(name, sizeof(name), "exposed%d", i);
		const char *args[] = {"--listen", urls[i], "--db", db, NULL};
		assert_int_equal(tu_frepd_start(&p, f->dir, name, args), 0);
		long long until  = tu_now_ms() + 10000;
		int       status = 0;
		bool      exited = false;
		while (!exited && tu_now_ms() < until) {
			exited = waitpid(p.pid, &status, WNOHANG) == p.pid;
			if (!exited) {
				struct timespec ts = {.tv_nsec = 5 * 1000000L};
				nanosleep(&ts, NULL); /* bounded poll for the exit */
			}
		}
		if (!exited) {
			tu_proc_stop(&p, SIGKILL, 5000);
			fail_msg(
			    "frepd kept running with --listen %s and no TLS or token", urls[i]);
		}
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
		assert_true(rt_file_contains(p.log_path, "FAILED_PRECONDITION"));
		assert_true(rt_file_contains(p.log_path, urls[i]));
		int                fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET,
		    .sin_port                        = htons((uint16_t) port),
		    .sin_addr.s_addr                 = htonl(INADDR_LOOPBACK)};
		assert_int_not_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		close(fd);
	}
	close(held);
}

/* --- forged partner calls ------------------------------------------------- */

typedef struct forged {
	const char *method;  /* the path the MAC is made for */
	const char *sent_to; /* the path called */
	const char *secret;
	const char *mac_rel; /* relationship the MAC covers */
	const char *md_rel;  /* x-frep-relationship sent */
	const char *req_rel; /* ApplyScopeRequest.relationship */
	int64_t     skew_ms; /* timestamp offset from now */
	const char *ts_text; /* timestamp text instead, if not NULL */
	const char *nonce;
	const char *why;
} forged;

static frep_code
send_forged(frep_client *c, const forged *fc, Frep__V1__ScopeConfig *cfg, frep_status *st)
{
	Frep__V1__ApplyScopeRequest req = FREP__V1__APPLY_SCOPE_REQUEST__INIT;
	req.relationship                = (char *) fc->req_rel;
	req.source_server               = "ipc:///nowhere";
	req.config                      = cfg;
	size_t   len                    = protobuf_c_message_get_packed_size(&req.base);
	uint8_t *payload                = malloc(len);
	protobuf_c_message_pack(&req.base, payload);
	char    mac[PARTNER_AUTH_MAC_HEXLEN], ts[32];
	int64_t when = partner_auth_now_ms() + fc->skew_ms;
	snprintf(ts, sizeof(ts), "%lld", (long long) when);
	const char *sender = "0123456789abcdef0123456789abcdef"; /* not the server's */
	partner_auth_mac(
	    fc->secret, fc->method, fc->mac_rel, sender, when, fc->nonce, payload, len, mac);
	frep_metadata     md[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, fc->md_rel},
		{PARTNER_AUTH_KEY_SENDER, sender},
		{PARTNER_AUTH_KEY_TIMESTAMP, fc->ts_text != NULL ? fc->ts_text : ts},
		{PARTNER_AUTH_KEY_NONCE, fc->nonce}, {PARTNER_AUTH_KEY_MAC, mac}};
	frep_call_options co   = {.metadata = md, .n_metadata = 5};
	ProtobufCMessage *out  = NULL;
	frep_code         code = frep_client_call(
		    c, fc->sent_to, &req.base, &frep__v1__apply_scope_response__descriptor, &out, &co, st);
	protobuf_c_message_free_unpacked(out, NULL);
	free(payload);
	return code;
}

/* Proves (beside tests/replication_test.c's wrong, missing and replayed
 * MACs): Partner.ApplyScope is refused UNAUTHENTICATED, and the partner's
 * scopes keep their digests, when the MAC is right but the timestamp is
 * 65 s old, 65 s ahead (the window is 60 s), an hour old or not a number; when a MAC made with
 * rel1's secret is presented for rel2 (in the metadata, or in both the
 * metadata and the request); when the metadata and the request name
 * different relationships; when a MAC made for DiffScope is sent to
 * ApplyScope. A call correctly signed for rel2 that carries rel1's scope
 * is refused too. Afterwards a genuine replication still works. */
static void
test_security_partner_mac_stale_or_for_another_relationship(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	node_ipc(f, 1, "b");
	rt_node *a = &f->n[0], *b = &f->n[1];
	rt_node_start(a, f->dir);
	rt_node_start(b, f->dir);
	rt_import_scope(a->c, 91, 0, 5, "one");
	rt_import_scope(a->c, 92, 0, 5, "two");
	char *s1[] = {"10.91.0.0"}, *s2[] = {"10.92.0.0"};
	rt_add_failover(a->c, "rel1", b->url, SECRET1, s1, 1, FREP_OK);
	rt_add_failover(a->c, "rel2", b->url, SECRET2, s2, 1, FREP_OK);
	char before1[65], before2[65], after[65];
	rt_digest(b->c, "10.91.0.0", before1);
	rt_digest(b->c, "10.92.0.0", before2);

	/* What an attacker would push: rel1's scope with one more reservation. */
	rt_import_scope(a->c, 91, 0, 6, "evil");
	Frep__V1__ScopeConfigRequest cr = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	cr.scope_id                     = "10.91.0.0";
	Frep__V1__ScopeConfig *cfg      = (Frep__V1__ScopeConfig *) rt_call(
		 a->c, "DhcpServer", "GetScopeConfig", &cr.base, FREP_OK, NULL);

	const char  *apply = "/frep.v1.Partner/ApplyScope", *diff = "/frep.v1.Partner/DiffScope";
	const forged cases[] = {
	    {apply, apply, SECRET1, "rel1", "rel1", "rel1", -65000, NULL, "n-stale", "65 s old"},
	    {apply, apply, SECRET1, "rel1", "rel1", "rel1", 65000, NULL, "n-future", "65 s ahead"},
	    {apply, apply, SECRET1, "rel1", "rel1", "rel1", -3600000, NULL, "n-hour",
		"an hour old"},
	    {apply, apply, SECRET1, "rel1", "rel1", "rel1", 0, "12abc", "n-text", "not a number"},
	    {apply, apply, SECRET1, "rel1", "rel2", "rel2", 0, NULL, "n-rel2",
		"rel1's MAC for rel2"},
	    {apply, apply, SECRET1, "rel2", "rel2", "rel2", 0, NULL, "n-rel2b",
		"rel1's secret, rel2's name"},
	    {apply, apply, SECRET1, "rel1", "rel2", "rel1", 0, NULL, "n-mixed",
		"metadata and request disagree"},
	    {diff, apply, SECRET1, "rel1", "rel1", "rel1", 0, NULL, "n-diff",
		"a DiffScope MAC sent to ApplyScope"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		frep_status st;
		frep_code   code = send_forged(b->c, &cases[i], cfg, &st);
		print_message("%s: %s: %s\n", cases[i].why, frep_code_name(code), st.message);
		if (code != FREP_UNAUTHENTICATED) {
			fail_msg("%s: expected UNAUTHENTICATED, got %s: %s", cases[i].why,
			    frep_code_name(code), st.message);
		}
		assert_lacks_secrets(st.message);
	}
	/* Correctly signed for rel2, but the scope is rel1's. */
	forged      cross = {apply, apply, SECRET2, "rel2", "rel2", "rel2", 0, NULL, "n-cross",
		 "rel2 carrying rel1's scope"};
	frep_status st;
	frep_code   code = send_forged(b->c, &cross, cfg, &st);
	print_message("%s: %s: %s\n", cross.why, frep_code_name(code), st.message);
	if (code == FREP_OK) {
		/* Apply may answer OK with a per-scope refusal inside. */
		fail_msg("rel2's partner accepted a scope of rel1");
	}
	assert_lacks_secrets(st.message);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
	rt_digest(b->c, "10.91.0.0", after);
	assert_string_equal(before1, after);
	rt_digest(b->c, "10.92.0.0", after);
	assert_string_equal(before2, after);

	/* The genuine path still works. */
	char                            *names[] = {"rel1"};
	Frep__V1__ReplicateByNameRequest rn      = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	rn.names                                 = names;
	rn.n_names                               = 1;
	Frep__V1__ReplicateResponse *r           = (Frep__V1__ReplicateResponse *) rt_call(
		      a->c, "FailoverReplication", "ReplicateByName", &rn.base, FREP_OK, NULL);
	assert_int_equal(r->n_scope_ids, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	char da[65];
	rt_digest(a->c, "10.91.0.0", da);
	rt_digest(b->c, "10.91.0.0", after);
	assert_string_equal(da, after);
	rt_node_stop_clean(a);
	rt_node_stop_clean(b);
}

/* --- secrets -------------------------------------------------------------- */

static void
assert_relationships_hide_secret(frep_client *c)
{
	Frep__V1__ListFailoversRequest   req = FREP__V1__LIST_FAILOVERS_REQUEST__INIT;
	Frep__V1__ListFailoversResponse *r   = (Frep__V1__ListFailoversResponse *) rt_call(
	      c, "DhcpServer", "ListFailovers", &req.base, FREP_OK, NULL);
	assert_true(r->n_relationships > 0);
	for (size_t i = 0; i < r->n_relationships; i++) {
		assert_string_equal(r->relationships[i]->shared_secret, "");
		Frep__V1__FailoverKey k           = FREP__V1__FAILOVER_KEY__INIT;
		k.name                            = r->relationships[i]->name;
		Frep__V1__FailoverRelationship *g = (Frep__V1__FailoverRelationship *) rt_call(
		    c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
		assert_string_equal(g->shared_secret, "");
		size_t   len = protobuf_c_message_get_packed_size(&g->base);
		uint8_t *buf = malloc(len + 1);
		protobuf_c_message_pack(&g->base, buf);
		buf[len] = '\0';
		assert_null(memmem(buf, len, SECRET1, strlen(SECRET1)));
		free(buf);
		protobuf_c_message_free_unpacked(&g->base, NULL);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* Proves: the shared secret is in no Get/List reply on either partner (nor
 * in the audit), and no error message echoes a secret, even when the
 * secret itself is what is wrong (300 bytes long, a control character in
 * it) or the relationship is refused for another reason (the name taken).
 * The frepd logs, at debug level, are checked for every secret and token
 * by the teardown of every test here. */
static void
test_security_secrets_never_in_replies_errors_or_logs(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	node_ipc(f, 1, "b");
	rt_node *a = &f->n[0], *b = &f->n[1];
	rt_node_start(a, f->dir);
	rt_node_start(b, f->dir);
	rt_import_scope(a->c, 94, 0, 5, "s");
	rt_import_scope(a->c, 94, 1, 5, "s");
	char *s1[] = {"10.94.0.0"}, *s2[] = {"10.94.1.0"};
	rt_add_failover(a->c, "keep", b->url, SECRET1, s1, 1, FREP_OK);
	assert_relationships_hide_secret(a->c);
	assert_relationships_hide_secret(b->c);

	Frep__V1__ListAuditRequest la = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	for (int k = 0; k < 2; k++) {
		ProtobufCMessage *r =
		    rt_call(k ? b->c : a->c, "DhcpServer", "ListAudit", &la.base, FREP_OK, NULL);
		size_t   len = protobuf_c_message_get_packed_size(r);
		uint8_t *buf = malloc(len);
		protobuf_c_message_pack(r, buf);
		assert_null(memmem(buf, len, SECRET1, strlen(SECRET1)));
		free(buf);
		protobuf_c_message_free_unpacked(r, NULL);
	}

	/* Errors about the secret itself, or about something else. */
	char long_secret[301];
	memset(long_secret, 'Q', 300);
	long_secret[300] = '\0';
	memcpy(long_secret + 100, SECRET2, strlen(SECRET2));
	char ctl_secret[64];
	snprintf(ctl_secret, sizeof(ctl_secret), "%s\n%s", SECRET2, "tail");
	struct {
		const char *name;
		const char *secret;
		char      **scopes;
	} bad[]    = {{"long", long_secret, s2}, {"ctl", ctl_secret, s2}, {"keep", SECRET2, s2}};
	int leaked = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
		Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
		rel.name                           = (char *) bad[i].name;
		rel.partner_server                 = b->url;
		rel.shared_secret                  = (char *) bad[i].secret;
		rel.scope_ids                      = bad[i].scopes;
		rel.n_scope_ids                    = 1;
		req.relationship                   = &rel;
		frep_status       st;
		ProtobufCMessage *out  = NULL;
		frep_code         code = frep_client_call(a->c, "/frep.v1.DhcpServer/AddFailover",
			    &req.base, &frep__v1__failover_relationship__descriptor, &out, NULL, &st);
		protobuf_c_message_free_unpacked(out, NULL);
		print_message(
		    "AddFailover %s: %s: %s\n", bad[i].name, frep_code_name(code), st.message);
		if (code == FREP_OK) {
			/* A control character may be allowed in a secret; then it must
			 * stay hidden like any other. */
			assert_string_equal(bad[i].name, "ctl");
			assert_relationships_hide_secret(a->c);
			continue;
		}
		/* Regression: AddFailover with an over-long shared_secret once
		 * answered "... shared_secret is 300 bytes long (at most 255):
		 * 'QQQQ…'", quoting the secret. Recorded, the other cases still
		 * run, and the test fails at its end if it comes back. */
		if (strstr(st.message, "QQQQQQQQ") != NULL || strstr(st.message, "tail") != NULL) {
			leaked++;
			print_error("BUG: AddFailover %s: the error quotes the secret: %s\n",
			    bad[i].name, st.message);
		}
		assert_lacks_secrets(st.message);
	}
	rt_node_stop_clean(a);
	rt_node_stop_clean(b);
	if (leaked != 0) {
		fail_msg("BUG: %d error message(s) quoted a shared secret", leaked);
	}
	/* The teardown greps both logs for every secret and token. */
}

/* --- size and count bounds ------------------------------------------------ */

static void
expect_invalid(frep_client *c, const char *service, const char *method, const ProtobufCMessage *in,
    const char *needle)
{
	frep_status st;
	protobuf_c_message_free_unpacked(
	    rt_call(c, service, method, in, FREP_INVALID_ARGUMENT, &st), NULL);
	print_message("%s: INVALID_ARGUMENT: %s\n", method, st.message);
	if (needle != NULL && strstr(st.message, needle) == NULL) {
		fail_msg("%s: the message \"%s\" does not name \"%s\"", method, st.message, needle);
	}
}

/* Proves: every size and count has a bound and a clear status, and a
 * refused request changes nothing. Over --max-message-bytes (64 KiB): the
 * C client refuses with RESOURCE_EXHAUSTED before sending, and a raw SP
 * client that sends it anyway gets no reply (nng drops the connection)
 * while frepd keeps serving and imports nothing. ReplicateByScopeId with
 * 70,000 ids, ReplicateByName with 1,001 names or a 127-byte name, a
 * policy criterion with 65 values, a policy with 33 criteria, an option
 * with 65 values, a 300-byte scope name, a 1,025-byte description: each
 * INVALID_ARGUMENT naming the field and the bound. The largest allowed
 * ReplicateByScopeId (65,536 distinct unknown ids) answers in bounded
 * time. */
static void
test_security_request_sizes_and_counts_bounded(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "small");
	node_ipc(f, 1, "big");
	rt_node *small = &f->n[0], *big = &f->n[1];
	small->extra[2]   = "--max-message-bytes";
	small->extra[3]   = "65536";
	small->nng_abused = true; /* sent an oversized message nng drops */
	rt_node_start(small, f->dir);
	rt_node_start(big, f->dir);
	rt_add_scope(big->c, "10.95.0.0", "10.95.0.10", "10.95.0.200", false);
	char before[65], after[65];
	rt_digest(big->c, "10.95.0.0", before);

	/* 1. Over the message limit. */
	Frep__V1__Scope scope = FREP__V1__SCOPE__INIT;
	char           *desc  = malloc(100001);
	memset(desc, 'd', 100000);
	desc[100000]      = '\0';
	scope.scope_id    = "10.96.0.0";
	scope.subnet_mask = "255.255.255.0";
	scope.start_range = "10.96.0.10";
	scope.end_range   = "10.96.0.20";
	scope.description = desc;
	frep_status st;
	frep_code   code = try_call(small->c, "/frep.v1.DhcpServer/AddScope", &scope.base,
	      &frep__v1__scope__descriptor, &st);
	print_message(
	    "100 KB request to a 64 KiB server: %s: %s\n", frep_code_name(code), st.message);
	assert_int_equal(code, FREP_RESOURCE_EXHAUSTED);
	frep_request_fields rf  = {.method = "/frep.v1.DhcpServer/AddScope",
	     .payload                      = &scope.base,
	     .timeout_ms                   = 5000,
	     .call_id                      = 0x5152};
	size_t              len = frep_envelope_request_size(&rf);
	uint8_t            *env = malloc(len);
	frep_envelope_request_pack(&rf, env);
	nng_socket s;
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, -1), 0);
	assert_int_equal(nng_dial(s, small->url, NULL, 0), 0);
	assert_int_equal(nng_send(s, env, len, 0), 0);
	void  *reply = NULL;
	size_t rlen  = 0;
	int    rv    = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC);
	print_message("raw oversized send: nng_recv: %s\n", nng_strerror(rv));
	assert_int_not_equal(rv, 0);
	nng_close(s);
	free(env);
	/* Up to 10 s: the dropped connection can leave the ipc listener deaf
	 * (nng #1518), and frepd's watchdog re-creates it within about 4 s. */
	assert_int_equal(rt_wait_healthy(small->url, NULL, 10000), 0);
	char d[65];
	rt_digest(small->c, "10.96.0.0", d);
	assert_string_equal(d, "");

	/* 2. Counts. */
	enum { IDS = 70000 };
	char(*texts)[20] = calloc(IDS, 20);
	char **ids       = calloc(IDS, sizeof(char *));
	for (int i = 0; i < IDS; i++) {
		snprintf(texts[i], 20, "%d.%d.%d.0", 11 + i / 65536, (i / 256) % 256, i % 256);
		ids[i] = texts[i];
	}
	Frep__V1__ReplicateByScopeIdRequest rs = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	rs.scope_ids                           = ids;
	rs.n_scope_ids                         = IDS;
	expect_invalid(big->c, "FailoverReplication", "ReplicateByScopeId", &rs.base, "70000");
	/* The largest allowed list: every id answered, as an item error. The
	 * duplicate check is a sort, O(n log n) (docs/SECURITY.md: 0.9 s
	 * measured); the time is printed, not asserted — no bound tells that
	 * from the old quadratic check (2.4 s) on every machine; the client's
	 * 30 s deadline bounds the call. The sanitizer build, several times
	 * slower, sends a quarter of the ids (FREP_SECURITY_SANITIZER, set by
	 * the CMake registration) to stay well inside that deadline. */
	size_t max_ids                  = rt_env_long("FREP_SECURITY_SANITIZER", 0) ? 16384 : 65536;
	rs.n_scope_ids                  = max_ids;
	long long                    t0 = tu_now_ms();
	Frep__V1__ReplicateResponse *r  = (Frep__V1__ReplicateResponse *) rt_call(
	     big->c, "FailoverReplication", "ReplicateByScopeId", &rs.base, FREP_OK, NULL);
	long long ms = tu_now_ms() - t0;
	print_message("ReplicateByScopeId with %zu unknown ids: %zu item errors in %lld ms\n",
	    max_ids, r->n_errors, ms);
	assert_int_equal(r->n_errors, max_ids);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	free(ids);
	free(texts);

	char **names     = calloc(1001, sizeof(char *));
	char(*ntext)[16] = calloc(1001, 16);
	for (int i = 0; i < 1001; i++) {
		snprintf(ntext[i], 16, "rel%d", i);
		names[i] = ntext[i];
	}
	Frep__V1__ReplicateByNameRequest rn = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	rn.names                            = names;
	rn.n_names                          = 1001;
	expect_invalid(big->c, "FailoverReplication", "ReplicateByName", &rn.base, "1000");
	char long_name[128];
	memset(long_name, 'r', 127);
	long_name[127] = '\0';
	names[0]       = long_name;
	rn.n_names     = 1;
	expect_invalid(big->c, "FailoverReplication", "ReplicateByName", &rn.base, "126");
	free(names);
	free(ntext);

	/* A policy criterion with 65 values; a policy with 33 criteria. */
	char *vals[65];
	char  vtext[65][16];
	for (int i = 0; i < 65; i++) {
		snprintf(vtext[i], sizeof(vtext[i]), "class%d", i);
		vals[i] = vtext[i];
	}
	Frep__V1__Policy     p = FREP__V1__POLICY__INIT;
	Frep__V1__Criterion  c[33];
	Frep__V1__Criterion *cp[33];
	for (int i = 0; i < 33; i++) {
		frep__v1__criterion__init(&c[i]);
		c[i].type       = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_USER_CLASS;
		c[i].comparator = FREP__V1__COMPARATOR__COMPARATOR_EQ;
		c[i].values     = vals;
		c[i].n_values   = 1;
		cp[i]           = &c[i];
	}
	p.name        = "bounded";
	p.scope_id    = "10.95.0.0";
	p.criteria    = cp;
	p.n_criteria  = 1;
	c[0].n_values = 65;
	expect_invalid(big->c, "DhcpServer", "AddPolicy", &p.base, "64");
	c[0].n_values = 1;
	p.n_criteria  = 33;
	expect_invalid(big->c, "DhcpServer", "AddPolicy", &p.base, "32");

	/* An option with 65 values. */
	Frep__V1__SetOptionValueRequest ov = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          ot = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v  = FREP__V1__OPTION_VALUE__INIT;
	char                           *ips[65];
	char                            iptext[65][16];
	for (int i = 0; i < 65; i++) {
		snprintf(iptext[i], sizeof(iptext[i]), "10.95.0.%d", 1 + i);
		ips[i] = iptext[i];
	}
	ot.scope_id = "10.95.0.0";
	v.option_id = 6;
	v.values    = ips;
	v.n_values  = 65;
	ov.target   = &ot;
	ov.value    = &v;
	expect_invalid(big->c, "DhcpServer", "SetOptionValue", &ov.base, "64");

	/* Strings: a 300-byte scope name, a 1,025-byte description. */
	char name300[301];
	memset(name300, 'n', 300);
	name300[300]      = '\0';
	scope.scope_id    = "10.97.0.0";
	scope.start_range = "10.97.0.10";
	scope.end_range   = "10.97.0.20";
	scope.name        = name300;
	scope.description = "";
	expect_invalid(big->c, "DhcpServer", "AddScope", &scope.base, "name");
	scope.name        = "ok";
	desc[1025]        = '\0';
	scope.description = desc;
	expect_invalid(big->c, "DhcpServer", "AddScope", &scope.base, "description");
	Frep__V1__Reservation res = FREP__V1__RESERVATION__INIT;
	res.scope_id              = "10.95.0.0";
	res.ip_address            = "10.95.0.50";
	res.client_id             = "02-95-00-00-00-01";
	res.name                  = name300;
	expect_invalid(big->c, "DhcpServer", "AddReservation", &res.base, "name");
	free(desc);

	rt_digest(big->c, "10.95.0.0", after);
	assert_string_equal(before, after);
	rt_digest(big->c, "10.97.0.0", d);
	assert_string_equal(d, "");
	rt_node_stop_clean(small);
	rt_node_stop_clean(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_security_tls_listeners_and_partner_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_security_admin_token_required_on_every_non_health_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_security_exposed_listener_without_tls_or_token_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_security_partner_mac_stale_or_for_another_relationship, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_security_secrets_never_in_replies_errors_or_logs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_security_request_sizes_and_counts_bounded, setup, teardown),
	};
	int rc = cmocka_run_group_tests_name("security", tests, NULL, NULL);
	nng_fini();
	return rc;
}
