/*
 * Hardening, second round (issue 14): attacks on real frepd processes that
 * each worked before this round — a partner call reflected to its sender,
 * a partner call replayed after a restart, memory spent decoding requests
 * that are refused, the call-id cache answering or swallowing other
 * callers' calls, strings that are not text, padded client ids, snapshot
 * objects in another scope, frepctl's "/08", a ws:// listener held by
 * peers that never finish the HTTP upgrade, store files readable by all,
 * core dumps. docs/SECURITY.md lists each with its outcome and figures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "fault_test_common.h"
#include "frep_envelope.h"
#include "partner_proxy.h"
#include "frep/rpc/v1/envelope.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "partner_auth.h"
#include "payload_check.h"
#include "sha256.h"

#define SECRET "hardening secret 41c9"
#define TOKEN  "hardening-token-77d2a1"

typedef struct fixture {
	char   *dir;
	rt_node n[2];
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
	for (int i = 0; i < 2; i++) {
		if (rt_node_fini(&f->n[i]) != 0) {
			rc = -1; /* a crash or, under LSan, a leak fails the test */
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
}

/* Node a on ipc:// and on url, fmt with a port of its own (one %d) that is
 * held (bound, not listening) until the caller closes *held after the
 * start; the port in *port. Not started. */
static rt_node *
node_ipc_and(fixture *f, const char *fmt, char *url, size_t size, int *held, int *port)
{
	*port = rt_hold_port(held);
	snprintf(url, size, fmt, *port);
	node_ipc(f, 0, "a");
	rt_node *a    = &f->n[0];
	a->extra[0]   = "--listen";
	a->extra[1]   = url;
	a->nng_abused = true; /* its tests flood its listeners */
	return a;
}

/* Writes TOKEN to <dir>/token with the given mode; its path into path. */
static void
write_token_file(const fixture *f, char *path, size_t size, mode_t mode)
{
	snprintf(path, size, "%s/token", f->dir);
	FILE *tf = fopen(path, "w");
	assert_non_null(tf);
	fprintf(tf, "%s\n", TOKEN);
	fclose(tf);
	assert_int_equal(chmod(path, mode), 0);
}

/* Node a on ipc://, with the admin token of the file tok (not started). */
static rt_node *
node_with_token(fixture *f, const char *tok)
{
	node_ipc(f, 0, "a");
	rt_node *a     = &f->n[0];
	a->extra[0]    = "--token-file";
	a->extra[1]    = tok;
	a->copts.token = TOKEN;
	return a;
}

/* --- raw calls: any payload bytes, any call id --------------------------- */

typedef struct raw_reply {
	int    code;
	char  *message; /* malloc'd, NUL-terminated copy */
	size_t message_len;
} raw_reply;

static void
raw_reply_fini(raw_reply *r)
{
	free(r->message);
	r->message = NULL;
}

/* Sends one Request envelope on a fresh REQ socket and waits for the reply
 * (60 s). Fails the test if no reply comes. */
static void
raw_call(const char *url, const char *method, const uint8_t *payload, size_t len, uint64_t call_id,
    const frep_metadata *md, size_t n_md, raw_reply *out)
{
	Frep__Rpc__V1__Request   req = FREP__RPC__V1__REQUEST__INIT;
	Frep__Rpc__V1__Metadata  mds[8];
	Frep__Rpc__V1__Metadata *mdp[8];
	assert_true(n_md <= 8);
	for (size_t i = 0; i < n_md; i++) {
		frep__rpc__v1__metadata__init(&mds[i]);
		mds[i].key   = (char *) md[i].key;
		mds[i].value = (char *) md[i].value;
		mdp[i]       = &mds[i];
	}
	req.method       = (char *) method;
	req.payload.data = (uint8_t *) payload;
	req.payload.len  = len;
	req.timeout_ms   = 60000;
	req.call_id      = call_id;
	req.metadata     = mdp;
	req.n_metadata   = n_md;

	nng_socket sock;
	nng_msg   *msg = NULL;
	assert_int_equal(nng_req0_open(&sock), 0);
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 60000);
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 0);
	assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
	size_t size = frep__rpc__v1__request__get_packed_size(&req);
	assert_int_equal(nng_msg_alloc(&msg, size), 0);
	frep__rpc__v1__request__pack(&req, nng_msg_body(msg));
	assert_int_equal(nng_sendmsg(sock, msg, 0), 0);
	int rv = nng_recvmsg(sock, &msg, 0);
	if (rv != 0) {
		fail_msg("%s: no reply (%s)", method, nng_strerror(rv));
	}
	Frep__Rpc__V1__Response *resp =
	    frep__rpc__v1__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	assert_non_null(resp);
	out->code        = (int) resp->code;
	out->message_len = strlen(resp->message);
	out->message     = strdup(resp->message);
	frep__rpc__v1__response__free_unpacked(resp, NULL);
	nng_msg_free(msg);
	nng_close(sock);
}

/* A growing protobuf buffer for hand-made payloads. */
typedef struct pbuf {
	uint8_t *p;
	size_t   len, cap;
} pbuf;

static void
pb_bytes(pbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p   = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
pb_varint(pbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t  n = 0;
	do {
		tmp[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	pb_bytes(b, tmp, n);
}

/* Field num, wire type 2, with n bytes of data. */
static void
pb_field(pbuf *b, unsigned num, const void *data, size_t n)
{
	pb_varint(b, (uint64_t) num << 3 | 2);
	pb_varint(b, n);
	pb_bytes(b, data, n);
}

static void
pb_str(pbuf *b, unsigned num, const char *s)
{
	pb_field(b, num, s, strlen(s));
}

/* A Scope 10.<x>.0.0/24 with name given as raw bytes. */
static void
scope_payload(pbuf *b, int x, const void *name, size_t name_len, const char *start)
{
	char id[32], s[32], e[32];
	snprintf(id, sizeof(id), "10.%d.0.0", x);
	snprintf(s, sizeof(s), "10.%d.0.10", x);
	snprintf(e, sizeof(e), "10.%d.0.200", x);
	pb_str(b, 1, id);
	pb_str(b, 2, "255.255.255.0");
	pb_field(b, 3, name, name_len);
	if (start != NULL) {
		pb_field(b, 5, start, strlen(start) + 1 + strlen(start + strlen(start) + 1));
	} else {
		pb_str(b, 5, s);
	}
	pb_str(b, 6, e);
}

static long
hwm_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	FILE *f = fopen(path, "r");
	long  v = -1;
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmHWM: %ld", &v) == 1) {
			break;
		}
	}
	fclose(f);
	return v;
}

/* Resets pid's peak memory (VmHWM) to its resident memory and returns it
 * (KiB): what a peak measured next has grown from. */
static long
hwm_reset(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int) pid);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs("5", f);
		fclose(f);
	}
	return hwm_kib(pid);
}

static bool
is_utf8(const char *s, size_t n)
{
	return frep_utf8_valid_prefix((const uint8_t *) s, n) == n;
}

/* --- partner authentication ---------------------------------------------- */

/* The id a frepd keeps in its partner state file. */
static void
server_id_of(const rt_node *n, char out[PARTNER_AUTH_SENDER_LEN + 1])
{
	char path[700], line[128];
	snprintf(path, sizeof(path), "%s.partner-state", n->db);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "id %32s", out) == 1) {
			break;
		}
	}
	fclose(f);
	assert_int_equal(strlen(out), PARTNER_AUTH_SENDER_LEN);
}

/* A signed call as a frepd makes it: the metadata kept in sc for resending. */
typedef struct signed_call {
	char          ts[32], nonce[33], mac[PARTNER_AUTH_MAC_HEXLEN];
	const char   *sender;
	frep_metadata md[5];
} signed_call;

/* Signs payload (len bytes) for rel1 as sender, now. */
static void
sign_bytes(
    signed_call *sc, const char *method, const char *sender, const uint8_t *payload, size_t len)
{
	int64_t now = partner_auth_now_ms();
	snprintf(sc->ts, sizeof(sc->ts), "%" PRId64, now);
	partner_auth_nonce(sc->nonce);
	sc->sender = sender;
	partner_auth_mac(SECRET, method, "rel1", sender, now, sc->nonce, payload, len, sc->mac);
	frep_metadata md[5] = {{PARTNER_AUTH_KEY_RELATIONSHIP, "rel1"},
	    {PARTNER_AUTH_KEY_SENDER, sc->sender}, {PARTNER_AUTH_KEY_TIMESTAMP, sc->ts},
	    {PARTNER_AUTH_KEY_NONCE, sc->nonce}, {PARTNER_AUTH_KEY_MAC, sc->mac}};
	memcpy(sc->md, md, sizeof(md));
}

static void
sign(signed_call *sc, const char *method, const char *sender, const ProtobufCMessage *in)
{
	size_t   len     = protobuf_c_message_get_packed_size(in);
	uint8_t *payload = malloc(len + 1);
	protobuf_c_message_pack(in, payload);
	sign_bytes(sc, method, sender, payload, len);
	free(payload);
}

static frep_code
send_signed(frep_client *c, const char *method, const signed_call *sc, const ProtobufCMessage *in,
    frep_status *st)
{
	frep_call_options co   = {.metadata = sc->md, .n_metadata = 5};
	ProtobufCMessage *out  = NULL;
	frep_code         code = frep_client_call(
		    c, method, in, &frep__v1__apply_scope_response__descriptor, &out, &co, st);
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

/* Two partners a, b with relationship rel1 over scope 10.1.0.0. */
static void
start_pair(fixture *f)
{
	node_ipc(f, 0, "a");
	node_ipc(f, 1, "b");
	rt_node_start(&f->n[0], f->dir);
	rt_node_start(&f->n[1], f->dir);
	rt_add_scope(f->n[0].c, "10.1.0.0", "10.1.0.10", "10.1.0.200", false);
	char *scopes[] = {"10.1.0.0"};
	rt_add_failover(f->n[0].c, "rel1", f->n[1].url, SECRET, scopes, 1, FREP_OK);
}

/* A dry-run ApplyScope of 10.1.0.0 for rel1 (changes nothing). */
typedef struct apply_msg {
	Frep__V1__ApplyScopeRequest req;
	Frep__V1__ScopeConfig       cfg;
	Frep__V1__Scope             scope;
} apply_msg;

static void
apply_msg_init(apply_msg *m)
{
	frep__v1__apply_scope_request__init(&m->req);
	frep__v1__scope_config__init(&m->cfg);
	frep__v1__scope__init(&m->scope);
	m->scope.scope_id    = "10.1.0.0";
	m->scope.subnet_mask = "255.255.255.0";
	m->scope.start_range = "10.1.0.10";
	m->scope.end_range   = "10.1.0.200";
	m->scope.name        = "reflected";
	m->cfg.scope         = &m->scope;
	m->req.relationship  = "rel1";
	m->req.source_server = "somewhere";
	m->req.config        = &m->cfg;
	m->req.dry_run       = true;
}

#define APPLY "/frep.v1.Partner/ApplyScope"

/* Proves: a call signed by server A (as A signs its calls to B: A's id in
 * x-frep-sender, covered by the MAC) and sent back to A is refused
 * UNAUTHENTICATED — before, A accepted its own captured call within 60 s.
 * The same call signed with B's id is accepted by A (control). */
static void
test_hardening_partner_call_reflected_to_its_sender_refused(void **state)
{
	fixture *f = *state;
	start_pair(f);
	char id_a[PARTNER_AUTH_SENDER_LEN + 1], id_b[PARTNER_AUTH_SENDER_LEN + 1];
	server_id_of(&f->n[0], id_a);
	server_id_of(&f->n[1], id_b);
	assert_string_not_equal(id_a, id_b);

	apply_msg m;
	apply_msg_init(&m);
	signed_call sc;
	frep_status st;
	sign(&sc, APPLY, id_a, &m.req.base);
	assert_int_equal(send_signed(f->n[1].c, APPLY, &sc, &m.req.base, &st), FREP_OK);
	/* The very same call, reflected to A. */
	assert_int_equal(
	    send_signed(f->n[0].c, APPLY, &sc, &m.req.base, &st), FREP_UNAUTHENTICATED);
	assert_non_null(strstr(st.message, "signed by this server itself"));
	/* Freshly signed as A: refused by A all the same. */
	sign(&sc, APPLY, id_a, &m.req.base);
	assert_int_equal(
	    send_signed(f->n[0].c, APPLY, &sc, &m.req.base, &st), FREP_UNAUTHENTICATED);
	/* Signed as B: A takes it. */
	sign(&sc, APPLY, id_b, &m.req.base);
	assert_int_equal(send_signed(f->n[0].c, APPLY, &sc, &m.req.base, &st), FREP_OK);
}

/* Proves: a partner call accepted by B, replayed after B restarted (well
 * inside the 60 s window), is refused UNAUTHENTICATED — before, the replay
 * memory was in RAM only and B accepted it again. A freshly signed call is
 * accepted after the restart. */
static void
test_hardening_partner_call_replayed_after_restart_refused(void **state)
{
	fixture *f = *state;
	start_pair(f);
	char id_a[PARTNER_AUTH_SENDER_LEN + 1];
	server_id_of(&f->n[0], id_a);
	apply_msg m;
	apply_msg_init(&m);
	signed_call sc;
	frep_status st;
	sign(&sc, APPLY, id_a, &m.req.base);
	assert_int_equal(send_signed(f->n[1].c, APPLY, &sc, &m.req.base, &st), FREP_OK);
	assert_int_equal(
	    send_signed(f->n[1].c, APPLY, &sc, &m.req.base, &st), FREP_UNAUTHENTICATED);

	rt_node_stop_clean(&f->n[1]);
	rt_node_start(&f->n[1], f->dir);
	assert_int_equal(
	    send_signed(f->n[1].c, APPLY, &sc, &m.req.base, &st), FREP_UNAUTHENTICATED);
	assert_non_null(strstr(st.message, "before this server started"));
	sign(&sc, APPLY, id_a, &m.req.base);
	assert_int_equal(send_signed(f->n[1].c, APPLY, &sc, &m.req.base, &st), FREP_OK);
	/* And the real replication still works across the restart. */
	Frep__V1__ReplicateByNameRequest r       = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"rel1"};
	r.names                                  = names;
	r.n_names                                = 1;
	rt_call_ok(f->n[0].c, "FailoverReplication", "ReplicateByName", &r.base);
}

/* Proves: a partner call refused as signed before the receiver's start
 * (at or below the replay bound it kept from before) is signed afresh by
 * the source once that bound has passed, and sent once more: the
 * replication completes. B's state file is given a bound for rel1 1.9 s
 * ahead of its clock, as a restart right inside a lease would leave it
 * without the start's wait, so A's first call is refused every time.
 * Before, the replication failed UNAUTHENTICATED (the 600-scope fault test
 * of a CI rehearsal hit it: a batch signed while B restarted arrived after
 * its start). */
static void
test_hardening_partner_call_signed_before_start_resent(void **state)
{
	fixture *f = *state;
	start_pair(f);
	rt_node *b = &f->n[1];
	char     id[PARTNER_AUTH_SENDER_LEN + 1], path[700], rel_hex[ENGINE_SHA256_LEN * 2 + 1];
	rt_node_stop_clean(b);
	server_id_of(b, id);
	engine_sha256 h;
	engine_sha256_init(&h);
	engine_sha256_update(&h, "rel1", 4);
	engine_sha256_final_hex(&h, rel_hex);
	snprintf(path, sizeof(path), "%s.partner-state", b->db);
	FILE *sf = fopen(path, "w");
	assert_non_null(sf);
	fprintf(sf, "frep-partner-state 1\nid %s\naccepted %s %" PRId64 "\n", id, rel_hex,
	    partner_auth_now_ms() + 1900);
	assert_int_equal(fclose(sf), 0);
	rt_node_start(b, f->dir);

	Frep__V1__ReplicateByNameRequest r       = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"rel1"};
	r.names                                  = names;
	r.n_names                                = 1;
	r.full_resend                            = true;
	ProtobufCMessage *out                    = NULL;
	frep_status       st;
	frep_code code = frep_client_call(f->n[0].c, "/frep.v1.FailoverReplication/ReplicateByName",
	    &r.base, &frep__v1__replicate_response__descriptor, &out, NULL, &st);
	assert_int_equal(code, FREP_OK);
	Frep__V1__ReplicateResponse *rr = (Frep__V1__ReplicateResponse *) out;
	assert_int_equal(rr->n_results, 1);
	print_message("after the resend: %s %s\n", frep_code_name((frep_code) rr->results[0]->code),
	    rr->results[0]->message);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(out, NULL);
	/* The refusal really happened, and A said what it did. */
	assert_true(rt_file_contains(f->n[0].proc.log_path, "signed afresh and sent again"));
}

/* Proves: a relationship's partner is not shown the digests of another
 * relationship's scopes. B holds 10.1.0.0 in rel1 (replicated from A),
 * 10.2.0.0 in rel2 (B's own relationship with A) and 10.3.0.0 in none. A
 * call signed for rel1 asking for all three and a missing 10.4.0.0 gets
 * rel1's digest, 10.3.0.0's (a source taking it over with force compares
 * it), and for 10.2.0.0 an empty digest with withheld set. Before: any
 * relationship's partner read every scope's digest. And rel1's own
 * replication still runs. */
static void
test_hardening_partner_digests_of_other_relationships_withheld(void **state)
{
	fixture *f = *state;
	start_pair(f);
	rt_node                         *a = &f->n[0], *b = &f->n[1];
	Frep__V1__ReplicateByNameRequest r       = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"rel1"};
	r.names                                  = names;
	r.n_names                                = 1;
	rt_call_ok(a->c, "FailoverReplication", "ReplicateByName", &r.base);
	rt_add_scope(b->c, "10.2.0.0", "10.2.0.10", "10.2.0.200", false);
	rt_add_scope(b->c, "10.3.0.0", "10.3.0.10", "10.3.0.200", false);
	char *rel2_scopes[] = {"10.2.0.0"};
	rt_add_failover(b->c, "rel2", a->url, SECRET, rel2_scopes, 1, FREP_OK);
	char d1[65], d2[65], d3[65];
	rt_digest(b->c, "10.1.0.0", d1);
	rt_digest(b->c, "10.2.0.0", d2);
	rt_digest(b->c, "10.3.0.0", d3);
	assert_true(d1[0] != '\0' && d2[0] != '\0' && d3[0] != '\0');

	char id_a[PARTNER_AUTH_SENDER_LEN + 1];
	server_id_of(a, id_a);
	char                            *ask[] = {"10.1.0.0", "10.2.0.0", "10.3.0.0", "10.4.0.0"};
	Frep__V1__GetScopeDigestsRequest req   = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	req.relationship                       = "rel1";
	req.scope_ids                          = ask;
	req.n_scope_ids                        = 4;
	signed_call sc;
	sign(&sc, "/frep.v1.Partner/GetScopeDigests", id_a, &req.base);
	frep_call_options co  = {.metadata = sc.md, .n_metadata = 5};
	ProtobufCMessage *out = NULL;
	frep_status       st;
	assert_int_equal(frep_client_call(b->c, "/frep.v1.Partner/GetScopeDigests", &req.base,
			     &frep__v1__get_scope_digests_response__descriptor, &out, &co, &st),
	    FREP_OK);
	Frep__V1__GetScopeDigestsResponse *d = (Frep__V1__GetScopeDigestsResponse *) out;
	assert_int_equal(d->n_digests, 4);
	for (size_t i = 0; i < 4; i++) {
		print_message("%s: digest \"%.12s\" withheld %d\n", d->digests[i]->scope_id,
		    d->digests[i]->digest, d->digests[i]->withheld);
	}
	assert_string_equal(d->digests[0]->digest, d1);
	assert_false(d->digests[0]->withheld);
	assert_string_equal(d->digests[1]->digest, "");
	assert_true(d->digests[1]->withheld);
	assert_string_equal(d->digests[2]->digest, d3);
	assert_false(d->digests[2]->withheld);
	assert_string_equal(d->digests[3]->digest, "");
	assert_false(d->digests[3]->withheld);
	protobuf_c_message_free_unpacked(out, NULL);
	rt_call_ok(a->c, "FailoverReplication", "ReplicateByName", &r.base);
}

/* Proves (a unit test of partner_auth, on the real memory of
 * PARTNER_AUTH_REPLAY_MAX MACs, 65,536): when every remembered MAC is still
 * inside the window, one more genuine call is refused RESOURCE_EXHAUSTED
 * rather than forgetting the oldest — and the first call, replayed, is
 * still refused as a replay. Before, the call beyond the memory overwrote
 * the first one's MAC and the first call was accepted again: at more than
 * about 136 calls/s (the memory then held 8,192) a captured call could be
 * replayed inside the 60 s window. */
static void
test_hardening_partner_replay_memory_full_refuses_new_calls(void **state)
{
	(void) state;
	partner_auth_replay *r = partner_auth_replay_new();
	assert_non_null(r);
	const char *sender    = "0123456789abcdef0123456789abcdef";
	uint8_t     payload[] = {0x0a, 0x01, 'x'};
	signed_call first, sc;
	frep_status st;
	bool        replayed = false;
	int         n        = PARTNER_AUTH_REPLAY_MAX + 1;
	frep_code   last     = FREP_OK;
	for (int i = 0; i < n; i++) {
		sign_bytes(&sc, APPLY, sender, payload, sizeof(payload));
		last = partner_auth_verify(r, SECRET, APPLY, "rel1", sender, sc.ts, sc.nonce,
		    sc.mac, payload, sizeof(payload), &replayed, &st);
		if (i == 0) {
			first = sc;
		}
		if (i < n - 1 && last != FREP_OK) {
			fail_msg("call %d: %s %s", i, frep_code_name(last), st.message);
		}
	}
	print_message("call %d: %s %s\n", n, frep_code_name(last), st.message);
	assert_int_equal(last, FREP_RESOURCE_EXHAUSTED);
	frep_code again = partner_auth_verify(r, SECRET, APPLY, "rel1", sender, first.ts,
	    first.nonce, first.mac, payload, sizeof(payload), &replayed, &st);
	print_message("the first call replayed: %s %s\n", frep_code_name(again), st.message);
	assert_int_equal(again, FREP_UNAUTHENTICATED);
	assert_true(replayed);
	partner_auth_replay_free(r);
}

/* Verifies a call for relationship rel signed at ts (a fresh nonce unless
 * nonce is given, kept in nonce_out) on r. */
static frep_code
verify_at(partner_auth_replay *r, const char *rel, int64_t ts, char nonce[33], frep_status *st)
{
	static const uint8_t payload[] = {0x0a, 0x01, 'x'};
	const char          *sender    = "0123456789abcdef0123456789abcdef";
	char                 ts_text[32], mac[PARTNER_AUTH_MAC_HEXLEN];
	if (nonce[0] == '\0') {
		partner_auth_nonce(nonce);
	}
	snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);
	partner_auth_mac(SECRET, APPLY, rel, sender, ts, nonce, payload, sizeof(payload), mac);
	return partner_auth_verify(
	    r, SECRET, APPLY, rel, sender, ts_text, nonce, mac, payload, sizeof(payload), NULL, st);
}

/* Proves the replay memory's index (a hash over the ring, entries removed
 * as the ring overwrites them): 65,536 calls signed 59.5 s ago expire, 65,536
 * fresh calls take their places (every removal done), and then every fresh
 * call replayed is refused as a replay, every old one as out of the window,
 * and one more call RESOURCE_EXHAUSTED. */
static void
test_hardening_partner_replay_memory_wraps_and_still_refuses_replays(void **state)
{
	(void) state;
	enum { N = PARTNER_AUTH_REPLAY_MAX };
	partner_auth_replay *r = partner_auth_replay_new();
	assert_non_null(r);
	char(*old)[33]   = calloc(N, 33);
	char(*fresh)[33] = calloc(N, 33);
	int64_t *t_old   = calloc(N, sizeof(int64_t));
	assert_true(old != NULL && fresh != NULL && t_old != NULL);
	frep_status st;
	for (int i = 0; i < N; i++) {
		/* Each signed 59.5 s before it is verified: it expires 0.5 s later. */
		t_old[i] = partner_auth_now_ms() - PARTNER_AUTH_WINDOW_MS + 500;
		if (verify_at(r, "rel1", t_old[i], old[i], &st) != FREP_OK) {
			fail_msg("old call %d: %s", i, st.message);
		}
	}
	while (partner_auth_now_ms() <= t_old[N - 1] + PARTNER_AUTH_WINDOW_MS + 1) {
		nng_msleep(20); /* until every old MAC has expired */
	}
	int64_t t_new = partner_auth_now_ms();
	for (int i = 0; i < N; i++) {
		if (verify_at(r, "rel1", t_new, fresh[i], &st) != FREP_OK) {
			fail_msg("fresh call %d: %s", i, st.message);
		}
	}
	int replays = 0, outside = 0;
	for (int i = 0; i < N; i++) {
		replays += verify_at(r, "rel1", t_new, fresh[i], &st) == FREP_UNAUTHENTICATED &&
			   strstr(st.message, "replayed") != NULL;
		outside += verify_at(r, "rel1", t_old[i], old[i], &st) == FREP_UNAUTHENTICATED &&
			   strstr(st.message, "outside") != NULL;
	}
	print_message(
	    "fresh calls replayed and refused: %d of %d; old ones: %d\n", replays, N, outside);
	assert_int_equal(replays, N);
	assert_int_equal(outside, N);
	char nonce[33] = "";
	assert_int_equal(verify_at(r, "rel1", t_new, nonce, &st), FREP_RESOURCE_EXHAUSTED);
	free(old);
	free(fresh);
	free(t_old);
	partner_auth_replay_free(r);
}

/* The replay state kept in path, opened as a start of frepd opens it. */
static partner_auth_replay *
replay_open(const char *path)
{
	partner_auth_replay *r = NULL;
	frep_status          st;
	if (partner_auth_replay_open(path, &r, &st) != FREP_OK) {
		fail_msg("%s: %s", path, st.message);
	}
	return r;
}

/* Accepts one call each for 300 relationships other-1..other-300, signed
 * at t + i: more than the state file's table holds. */
static void
verify_300_others(partner_auth_replay *r, int64_t t)
{
	frep_status st;
	for (int i = 1; i <= 300; i++) {
		char rel[32], nonce[33] = "";
		snprintf(rel, sizeof(rel), "other-%d", i);
		assert_int_equal(verify_at(r, rel, t + i, nonce, &st), FREP_OK);
	}
}

/* Proves (a unit test of partner_auth on a real state file): a restart does
 * not reopen the window for a relationship whose horizon gave way in the
 * full table — a call for rel0 is accepted, then calls for 300 other
 * relationships (the file holds 256), then the state is reopened (a
 * restart) and the rel0 call is replayed: UNAUTHENTICATED. Before, rel0's
 * horizon had been dropped and the replay was accepted (the issue-14
 * audit: a captured MirrorRelationship replayed after 256 creates on the
 * partner made it delete its copy of a scope). A fresh call for rel0, and
 * one for a relationship never seen, are still accepted. */
static void
test_hardening_partner_replay_after_restart_beyond_the_horizon_table(void **state)
{
	fixture *f = *state;
	char     path[700];
	snprintf(path, sizeof(path), "%s/frep.db.partner-state", f->dir);
	partner_auth_replay *r = replay_open(path);
	frep_status          st;
	int64_t              t0           = partner_auth_now_ms();
	char                 captured[33] = "";
	char                 fresh[33]    = "";
	assert_int_equal(verify_at(r, "rel0", t0, captured, &st), FREP_OK);
	verify_300_others(r, t0);
	partner_auth_replay_free(r);
	r              = replay_open(path);
	frep_code code = verify_at(r, "rel0", t0, captured, &st);
	print_message(
	    "rel0's call replayed after the restart: %s %s\n", frep_code_name(code), st.message);
	assert_int_equal(code, FREP_UNAUTHENTICATED);
	fresh[0] = '\0';
	assert_int_equal(verify_at(r, "rel0", partner_auth_now_ms() + 400, fresh, &st), FREP_OK);
	fresh[0] = '\0';
	assert_int_equal(
	    verify_at(r, "never-seen", partner_auth_now_ms() + 400, fresh, &st), FREP_OK);
	partner_auth_replay_free(r);
	/* Within one run too: "late" is accepted, a restart loads its horizon,
	 * then 300 others push it out of the table in the new run — its call
	 * from before the restart is still refused (the MAC memory was empty
	 * at the start; before, a relationship that came back in the same run
	 * started from the floor loaded at start, below its own). */
	snprintf(path, sizeof(path), "%s/second.partner-state", f->dir);
	r                = replay_open(path);
	int64_t t1       = partner_auth_now_ms();
	char    late[33] = "";
	assert_int_equal(verify_at(r, "late", t1, late, &st), FREP_OK);
	partner_auth_replay_free(r);
	r          = replay_open(path);
	int64_t t2 = partner_auth_now_ms(); /* signed after the start */
	verify_300_others(r, t2);
	code = verify_at(r, "late", t1, late, &st);
	print_message(
	    "late's call replayed after it gave way in the new run: %s\n", frep_code_name(code));
	assert_int_equal(code, FREP_UNAUTHENTICATED);
	partner_auth_replay_free(r);
	/* A relationship that gave way comes back with a delayed, older call:
	 * the bound written for it must not drop below the one it had, or
	 * its newer call is let in again after a restart (the review of this
	 * round: "back" accepted at t3, pushed out, then a call signed 5 s
	 * earlier accepted; after the restart the t3 call was accepted). */
	snprintf(path, sizeof(path), "%s/third.partner-state", f->dir);
	r                 = replay_open(path);
	int64_t t3        = partner_auth_now_ms();
	char    newer[33] = "", older[33] = "";
	assert_int_equal(verify_at(r, "back", t3, newer, &st), FREP_OK);
	verify_300_others(r, t3);
	assert_int_equal(verify_at(r, "back", t3 - 5000, older, &st), FREP_OK);
	partner_auth_replay_free(r);
	r    = replay_open(path);
	code = verify_at(r, "back", t3, newer, &st);
	print_message("back's newer call replayed after the restart: %s\n", frep_code_name(code));
	assert_int_equal(code, FREP_UNAUTHENTICATED);
	partner_auth_replay_free(r);
}

/* The state file's inode: every write replaces the file (rename). */
static ino_t
state_inode(const char *path)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_ino;
}

/* Proves (a unit test of partner_auth on a real state file): the replay
 * horizon is written a lease ahead — a call above the bound on disk is
 * written (fsync'd) before it is accepted, and the calls signed within
 * PARTNER_AUTH_LEASE_MS after it are accepted without another write (the
 * file is not replaced); a call past the lease writes again. After a
 * restart straight after the last accepted call: every accepted call
 * replayed is refused, a call signed inside the lease but never delivered
 * is refused too (the documented cost), and a call signed once the state
 * is open is accepted (the open waited for the lease to end). Before, the
 * file was written and fsync'd for every partner call (~1 ms each here,
 * docs/PERFORMANCE.md). */
static void
test_hardening_partner_replay_horizon_leased(void **state)
{
	fixture *f = *state;
	char     path[700];
	snprintf(path, sizeof(path), "%s/leased.partner-state", f->dir);
	partner_auth_replay *r = replay_open(path);
	frep_status          st;
	int64_t              t0 = partner_auth_now_ms();
	char                 nonces[40][33];
	memset(nonces, 0, sizeof(nonces));
	ino_t before = state_inode(path);
	assert_int_equal(verify_at(r, "rel1", t0, nonces[0], &st), FREP_OK);
	ino_t written = state_inode(path);
	assert_true(written != before);
	for (int i = 1; i < 30; i++) {
		assert_int_equal(verify_at(r, "rel1", t0 + i, nonces[i], &st), FREP_OK);
	}
	print_message("30 calls within the lease: the state file %s\n",
	    state_inode(path) == written ? "written once" : "written again");
	assert_true(state_inode(path) == written);
	/* Another relationship has its own bound: written once. */
	assert_int_equal(verify_at(r, "rel2", t0, nonces[30], &st), FREP_OK);
	written = state_inode(path);
	assert_int_equal(verify_at(r, "rel2", t0 + 5, nonces[31], &st), FREP_OK);
	assert_true(state_inode(path) == written);
	/* Past the lease (signed on this clock, as a partner's would be):
	 * written again. */
	while (partner_auth_now_ms() <= t0 + PARTNER_AUTH_LEASE_MS) {
		usleep(20000);
	}
	int64_t t1 = partner_auth_now_ms();
	assert_int_equal(verify_at(r, "rel1", t1, nonces[32], &st), FREP_OK);
	assert_true(state_inode(path) != written);
	partner_auth_replay_free(r);

	r = replay_open(path);
	for (int i = 0; i < 30; i++) {
		assert_int_equal(
		    verify_at(r, "rel1", t0 + i, nonces[i], &st), FREP_UNAUTHENTICATED);
	}
	assert_int_equal(verify_at(r, "rel2", t0 + 5, nonces[31], &st), FREP_UNAUTHENTICATED);
	char unsent[33] = "";
	assert_int_equal(verify_at(r, "rel1", t1 + 10, unsent, &st), FREP_UNAUTHENTICATED);
	print_message("signed inside the lease, delivered after the restart: %s\n", st.message);
	assert_non_null(strstr(st.message, "before this server started"));
	char fresh[33] = "";
	assert_int_equal(verify_at(r, "rel1", partner_auth_now_ms(), fresh, &st), FREP_OK);
	fresh[0] = '\0';
	assert_int_equal(verify_at(r, "rel2", partner_auth_now_ms(), fresh, &st), FREP_OK);
	partner_auth_replay_free(r);
}

/* --- memory before refusal ----------------------------------------------- */

/* One unsigned ApplyScopes, on a thread of its own. */
typedef struct unsigned_call {
	const char    *url;
	const uint8_t *payload;
	size_t         len;
	int            code;
} unsigned_call;

static void *
unsigned_call_main(void *arg)
{
	unsigned_call *u = arg;
	raw_reply      r;
	raw_call(u->url, "/frep.v1.Partner/ApplyScopes", u->payload, u->len, 0, NULL, 0, &r);
	u->code = r.code;
	raw_reply_fini(&r);
	return NULL;
}

/* Proves: an unsigned Partner.ApplyScopes of "\x0a\x00" x 8,388,000 (16 MB)
 * is refused UNAUTHENTICATED without being decoded: the server's peak
 * memory grows by at most 3x the request (the message itself, received by
 * nng) — before, about 270 MB (16x). Also with a known relationship and a
 * wrong MAC, and four unsigned calls at once (the issue's "over 1 GB"):
 * at most 3x the 64 MB sent. */
static void
test_hardening_unsigned_partner_call_refused_before_decoding(void **state)
{
	fixture *f = *state;
	start_pair(f);
	const size_t n = 8388000;
	uint8_t     *p = malloc(2 * n);
	for (size_t i = 0; i < n; i++) {
		p[2 * i]     = 0x0a;
		p[2 * i + 1] = 0x00;
	}
	rt_node      *b      = &f->n[1];
	long          before = hwm_kib(b->proc.pid);
	raw_reply     r;
	frep_metadata bad[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, "rel1"},
	    {PARTNER_AUTH_KEY_SENDER, "0123456789abcdef0123456789abcdef"},
	    {PARTNER_AUTH_KEY_TIMESTAMP, "1"}, {PARTNER_AUTH_KEY_NONCE, "n"},
	    {PARTNER_AUTH_KEY_MAC, "00"}};
	raw_call(b->url, "/frep.v1.Partner/ApplyScopes", p, 2 * n, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNAUTHENTICATED);
	raw_reply_fini(&r);
	raw_call(b->url, "/frep.v1.Partner/ApplyScopes", p, 2 * n, 0, bad, 5, &r);
	assert_int_equal(r.code, FREP_UNAUTHENTICATED);
	raw_reply_fini(&r);
	long   after  = hwm_kib(b->proc.pid);
	double growth = (double) (after - before) * 1024.0 / (double) (2 * n);
	print_message("unsigned ApplyScopes of %zu bytes: peak memory %ld -> %ld KiB (%.2fx the "
		      "request)\n",
	    2 * n, before, after, growth);
	assert_true(growth <= 3.0);

	/* Four at once (the issue's "over 1 GB"): each costs its message. On
	 * a fresh frepd: memory the first calls freed is not counted again. */
	enum { PAR = 4 };
	unsigned_call u[PAR];
	pthread_t     t[PAR];
	rt_node_stop_clean(b);
	rt_node_start(b, f->dir);
	before = hwm_reset(b->proc.pid);
	for (int i = 0; i < PAR; i++) {
		u[i] = (unsigned_call){.url = b->url, .payload = p, .len = 2 * n};
		assert_int_equal(pthread_create(&t[i], NULL, unsigned_call_main, &u[i]), 0);
	}
	for (int i = 0; i < PAR; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(u[i].code, FREP_UNAUTHENTICATED);
	}
	after  = hwm_kib(b->proc.pid);
	growth = (double) (after - before) * 1024.0 / (double) (PAR * 2 * n);
	print_message("%d unsigned ApplyScopes of %zu bytes at once: peak memory %ld -> %ld KiB "
		      "(+%ld KiB, %.2fx the %zu bytes sent)\n",
	    PAR, 2 * n, before, after, after - before, growth, PAR * 2 * n);
	assert_true(growth <= 3.0);
	free(p);
}

/* Proves: a 16.5 MB ReplicateByName of 5,500,000 one-letter names is
 * refused RESOURCE_EXHAUSTED by the decode budget (8x the payload) before
 * the handler runs; the peak memory grows by at most 10x the request —
 * before, about 390 MB (24x). */
static void
test_hardening_decode_memory_bounded_by_request_size(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	const size_t n = 5500000;
	uint8_t     *p = malloc(3 * n);
	for (size_t i = 0; i < n; i++) {
		p[3 * i]     = 0x0a;
		p[3 * i + 1] = 0x01;
		p[3 * i + 2] = 'a';
	}
	long      before = hwm_kib(f->n[0].proc.pid);
	raw_reply r;
	raw_call(
	    f->n[0].url, "/frep.v1.FailoverReplication/ReplicateByName", p, 3 * n, 0, NULL, 0, &r);
	long   after  = hwm_kib(f->n[0].proc.pid);
	double growth = (double) (after - before) * 1024.0 / (double) (3 * n);
	print_message("ReplicateByName of %zu bytes: %s; peak memory %ld -> %ld KiB (%.2fx the "
		      "request)\n",
	    3 * n, frep_code_name(r.code), before, after, growth);
	assert_int_equal(r.code, FREP_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(r.message, "to decode"));
	raw_reply_fini(&r);
	assert_true(growth <= 10.0);
	/* A method anyone may call (Health) takes 64 KiB at most: the same
	 * bytes there are refused before they are decoded (the issue-14
	 * attack: 16 MB of unknown fields decoded at 4.7x, without a token). */
	before = hwm_kib(f->n[0].proc.pid);
	raw_call(f->n[0].url, "/frep.v1.Health/Check", p, 3 * n, 0, NULL, 0, &r);
	after = hwm_kib(f->n[0].proc.pid);
	print_message("Health/Check of %zu bytes: %s %s; peak memory %ld -> %ld KiB\n", 3 * n,
	    frep_code_name(r.code), r.message, before, after);
	assert_int_equal(r.code, FREP_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(r.message, "needs no token"));
	raw_reply_fini(&r);
	/* 3,000 bytes are decoded: service "a" (the last of its 1,000). */
	raw_call(f->n[0].url, "/frep.v1.Health/Check", p, 3 * 1000, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_NOT_FOUND);
	raw_reply_fini(&r);
	free(p);
	/* A normal call still works. */
	rt_add_scope(f->n[0].c, "10.3.0.0", "10.3.0.10", "10.3.0.200", false);
}

/* --- HTTP ---------------------------------------------------------------- */

static int tcp_connect(int port);

/* Writes all of data to fd (no SIGPIPE: the server may close early). */
static bool
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0) {
			return false;
		}
		p += n;
		len -= (size_t) n;
	}
	return true;
}

/* One HTTP/1.1 request on a connection of its own to 127.0.0.1:port: head
 * (the request line and headers, each ending in CRLF, without the blank
 * line; Content-Length and Connection: close are added), then len bytes
 * of body. Returns the HTTP status (0 if there was none); the response
 * head and body in *head_out and *body (malloc'd, NUL-ended; head_out may
 * be NULL). */
static int
http_request(int port, const char *head, const void *data, size_t len, char **head_out, char **body)
{
	int  fd = tcp_connect(port);
	char tail[128];
	int  n =
	    snprintf(tail, sizeof(tail), "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	struct timeval tv = {.tv_sec = 120};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write_all(fd, head, strlen(head)) && write_all(fd, tail, (size_t) n)) {
		write_all(fd, data, len);
	}
	size_t cap = 4096, got = 0;
	char  *buf = malloc(cap);
	for (;;) {
		if (got + 1024 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		ssize_t r = read(fd, buf + got, cap - got - 1);
		if (r <= 0) {
			break;
		}
		got += (size_t) r;
		buf[got]        = '\0';
		const char *end = strstr(buf, "\r\n\r\n");
		const char *cl  = strcasestr(buf, "Content-Length:");
		if (end != NULL && cl != NULL && cl < end &&
		    got >= (size_t) (end + 4 - buf) + strtoul(cl + 15, NULL, 10)) {
			break;
		}
	}
	close(fd);
	buf[got]  = '\0';
	int   st  = 0;
	char *end = strstr(buf, "\r\n\r\n");
	sscanf(buf, "HTTP/1.%*d %d", &st);
	*body = strdup(end != NULL ? end + 4 : "");
	if (head_out != NULL) {
		if (end != NULL) {
			*end = '\0';
		}
		*head_out = strdup(buf);
	}
	free(buf);
	return st;
}

/* A POST of a JSON body; auth NULL: no Authorization header. */
static int
http_post(int port, const char *path, const char *auth, const void *data, size_t len, char **body)
{
	char head[1024];
	snprintf(head, sizeof(head),
	    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s%s%s", path,
	    auth != NULL ? "Authorization: " : "", auth != NULL ? auth : "",
	    auth != NULL ? "\r\n" : "");
	return http_request(port, head, data, len, NULL, body);
}

/* A node with the admin token (0600 file) and --http on a port of its own;
 * returns the HTTP port. */
static int
start_http_node(fixture *f)
{
	static char tok[700], http[64];
	write_token_file(f, tok, sizeof(tok), 0600);
	int held;
	int port = rt_hold_port(&held);
	snprintf(http, sizeof(http), "http://127.0.0.1:%d", port);
	rt_node *a  = node_with_token(f, tok);
	a->extra[2] = "--http";
	a->extra[3] = http;
	rt_node_start(a, f->dir);
	close(held);
	return port;
}

#define REPLICATE_BY_NAME "/frep.v1.FailoverReplication/ReplicateByName"

/* POSTs body to a freshly started frepd (so that memory freed by an
 * earlier case is not reused unseen) and returns the HTTP status, the
 * reply in *reply and the growth of the peak memory as a multiple of the
 * body's size in *growth. */
static int
http_case(fixture *f, int port, const char *what, const char *path, const char *auth,
    const char *body, size_t len, char **reply, double *growth)
{
	rt_node *a = &f->n[0];
	rt_node_stop_clean(a);
	rt_node_start(a, f->dir);
	long before = hwm_reset(a->proc.pid);
	int  st     = http_post(port, path, auth, body, len, reply);
	long after  = hwm_kib(a->proc.pid);
	*growth     = (double) (after - before) * 1024.0 / (double) len;
	print_message("%s, %zu bytes: HTTP %d %.200s; peak memory %ld -> %ld KiB (%.2fx the "
		      "request)\n",
	    what, len, st, *reply, before, after, *growth);
	return st;
}

/* Proves (issue 14, HTTP): a 4 MiB JSON body is never parsed for a caller
 * without the token — refused UNAUTHENTICATED with the server's peak memory
 * grown by about the body nng read (at most 3x; before, jansson's tree of
 * it first: about 50x) — and, with the token, its parse is bounded: a
 * dense body ("[]," x 1.4 million) is refused RESOURCE_EXHAUSTED once
 * jansson has taken 12x its size (at most 15x in all; before, about 50x),
 * and 4 MiB of garbage is refused as not JSON (at most 15x). A method that
 * needs no token (Health) takes at most 64 KiB: the dense body sent there
 * without the token is refused RESOURCE_EXHAUSTED unread (at most 3x;
 * before, parsed: about 12x). The largest legitimate JSON body, ReplicateByScopeId of 65,536 ids,
 * still passes. */
static void
test_hardening_http_json_memory_bounded_before_and_after_the_token(void **state)
{
	fixture *f    = *state;
	int      port = start_http_node(f);
	bool     san  = getenv("FREP_HARDENING_SANITIZER") != NULL;
	/* ASan's redzones and quarantine are not jansson's: figures printed. */
	double bound = san ? 1e9 : 15.0;

	const char  *head = "{\"names\":[", *tail = "[]]}";
	const size_t n    = 1400000;
	size_t       len  = strlen(head) + 3 * n + strlen(tail);
	char        *body = malloc(len + 1);
	size_t       k    = 0;
	memcpy(body, head, strlen(head));
	k += strlen(head);
	for (size_t i = 0; i < n; i++) {
		memcpy(body + k, "[],", 3);
		k += 3;
	}
	memcpy(body + k, tail, strlen(tail) + 1);

	char  *reply = NULL;
	double growth;
	int st = http_case(f, port, "dense JSON without the token", REPLICATE_BY_NAME, NULL, body,
	    len, &reply, &growth);
	assert_int_equal(st, 401);
	assert_non_null(strstr(reply, "unauthenticated"));
	free(reply);
	assert_true(growth <= 3.0);

	st = http_case(f, port, "dense JSON with the token", REPLICATE_BY_NAME, "Bearer " TOKEN,
	    body, len, &reply, &growth);
	assert_int_equal(st, 429);
	assert_non_null(strstr(reply, "resource_exhausted"));
	assert_non_null(strstr(reply, "to parse"));
	free(reply);
	assert_true(growth <= bound);

	/* A method anyone may call takes a small body only: the same dense
	 * body to Health/Check, without the token, is refused unread (the
	 * issue-14 attack: 16 MB parsed at 11.5x, 8 at once 526 MB). */
	st = http_case(f, port, "dense JSON to Health without the token", "/frep.v1.Health/Check",
	    NULL, body, len, &reply, &growth);
	assert_int_equal(st, 429);
	assert_non_null(strstr(reply, "needs no token"));
	free(reply);
	assert_true(growth <= 3.0);
	st = http_post(port, "/frep.v1.Health/Check", NULL, "{}", 2, &reply);
	assert_int_equal(st, 200);
	free(reply);

	memset(body, 'x', len);
	st = http_case(f, port, "garbage with the token", REPLICATE_BY_NAME, "Bearer " TOKEN, body,
	    len, &reply, &growth);
	assert_int_equal(st, 400);
	assert_non_null(strstr(reply, "not JSON"));
	free(reply);
	assert_true(growth <= bound);
	free(body);

	/* The largest legitimate body: 65,536 distinct (unknown) scope ids. */
	size_t ids = san ? 16384 : 65536;
	body       = malloc(ids * 16 + 64);
	k          = (size_t) sprintf(body, "{\"scopeIds\":[");
	for (size_t i = 0; i < ids; i++) {
		k += (size_t) sprintf(
		    body + k, "%s\"10.%zu.%zu.0\"", i > 0 ? "," : "", i / 256, i % 256);
	}
	k += (size_t) sprintf(body + k, "]}");
	st = http_post(port, "/frep.v1.FailoverReplication/ReplicateByScopeId", "Bearer " TOKEN,
	    body, k, &reply);
	if (st != 200) {
		fail_msg("ReplicateByScopeId of %zu ids (%zu bytes of JSON): HTTP %d %.300s", ids,
		    k, st, reply);
	}
	free(reply);
	free(body);
}

/* Proves: a refusal the HTTP endpoint writes itself, quoting a value the
 * caller sent, is a valid UTF-8 Connect error even when the quote is cut
 * inside a character: JSON bodies with an unknown field named "x" and 60
 * "é" (the message quotes 100 bytes of it, ending in half an "é") and with
 * an enum given such a name are answered 400 invalid_argument, the cut
 * byte written "\\xc3". Before, jansson refused to write the message and
 * the caller got no answer at all (the connection closed). (Headers and
 * paths cannot carry such bytes: nng's HTTP parser takes printable ASCII
 * only and drops the connection otherwise.) */
static void
test_hardening_http_refusals_quoting_invalid_bytes_are_utf8(void **state)
{
	fixture *f         = *state;
	int      port      = start_http_node(f);
	char     name[200] = "x";
	for (int i = 0; i < 60; i++) {
		strcat(name, "\xc3\xa9");
	}
	char bodies[2][400];
	snprintf(bodies[0], sizeof(bodies[0]), "{\"%s\": 1}", name);
	snprintf(bodies[1], sizeof(bodies[1]), "{\"type\": \"%s\"}", name);
	const char *paths[] = {"/frep.v1.DhcpServer/AddScope", "/frep.v1.DhcpServer/AddClass"};
	for (size_t i = 0; i < 2; i++) {
		char *body = NULL;
		int   st =
		    http_post(port, paths[i], "Bearer " TOKEN, bodies[i], strlen(bodies[i]), &body);
		print_message("HTTP %d %s\n", st, body);
		if (st != 400 || !is_utf8(body, strlen(body)) ||
		    strstr(body, "\"code\":\"invalid_argument\"") == NULL ||
		    strstr(body, "\\\\xc3") == NULL) {
			fail_msg("body %zu: HTTP %d \"%s\"", i, st, body);
		}
		free(body);
	}
}

/* --- the call-id cache --------------------------------------------------- */

/* Proves: after an admin call with id Y, a caller without the token that
 * sends Health/Check with id Y gets ALREADY_EXISTS, not the admin's cached
 * reply; a call without the token with id Z first makes the admin's later
 * RemoveScope with id Z fail ALREADY_EXISTS (it did answer OK without
 * running), and the scope is still there; an unauthenticated call leaves no
 * trace: the admin's call with its id runs. The admin's own retry is still
 * answered from the cache. */
static void
test_hardening_call_id_cache_bound_to_caller_and_request(void **state)
{
	fixture *f = *state;
	char     tok[700];
	write_token_file(f, tok, sizeof(tok), 0600);
	rt_node *a = node_with_token(f, tok);
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.5.0.0", "10.5.0.10", "10.5.0.200", false);

	frep_metadata admin[] = {{"authorization", "Bearer " TOKEN}};
	pbuf          list    = {0};
	pbuf          health  = {0};
	pbuf          rm      = {0};
	pb_str(&rm, 1, "10.5.0.0");
	raw_reply r;
	uint64_t  y = 0x1234000000000001ull, z = 0x1234000000000002ull, w = 0x1234000000000003ull;

	raw_call(a->url, "/frep.v1.DhcpServer/ListScopes", list.p, list.len, y, admin, 1, &r);
	assert_int_equal(r.code, FREP_OK);
	raw_reply_fini(&r);
	raw_call(a->url, "/frep.v1.Health/Check", health.p, health.len, y, NULL, 0, &r);
	assert_int_equal(r.code, FREP_ALREADY_EXISTS);
	raw_reply_fini(&r);
	/* The admin's own retry: from the cache. */
	raw_call(a->url, "/frep.v1.DhcpServer/ListScopes", list.p, list.len, y, admin, 1, &r);
	assert_int_equal(r.code, FREP_OK);
	raw_reply_fini(&r);

	raw_call(a->url, "/frep.v1.Health/Check", health.p, health.len, z, NULL, 0, &r);
	assert_int_equal(r.code, FREP_OK);
	raw_reply_fini(&r);
	raw_call(a->url, "/frep.v1.DhcpServer/RemoveScope", rm.p, rm.len, z, admin, 1, &r);
	assert_int_equal(r.code, FREP_ALREADY_EXISTS);
	assert_non_null(strstr(r.message, "did not run"));
	raw_reply_fini(&r);
	char digest[65];
	rt_digest(a->c, "10.5.0.0", digest);
	assert_string_not_equal(digest, "");

	/* Refused without the token: leaves no trace under w. */
	raw_call(a->url, "/frep.v1.DhcpServer/RemoveScope", rm.p, rm.len, w, NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNAUTHENTICATED);
	raw_reply_fini(&r);
	raw_call(a->url, "/frep.v1.DhcpServer/RemoveScope", rm.p, rm.len, w, admin, 1, &r);
	assert_int_equal(r.code, FREP_OK);
	raw_reply_fini(&r);
	rt_digest(a->c, "10.5.0.0", digest);
	assert_string_equal(digest, "");
	free(rm.p);
}

/* --- strings are text ---------------------------------------------------- */

/* Sends AddScope for 10.9.0.0 with the name (and start_range) as raw
 * bytes; requires INVALID_ARGUMENT naming field and offset in a valid UTF-8
 * message, and nothing stored. */
static void
expect_refused_scope(rt_node *a, const char *name, size_t len, const char *start, const char *field,
    const char *offset)
{
	pbuf      b = {0};
	raw_reply r;
	scope_payload(&b, 9, name, len, start);
	raw_call(a->url, "/frep.v1.DhcpServer/AddScope", b.p, b.len, 0, NULL, 0, &r);
	if (r.code != FREP_INVALID_ARGUMENT || strstr(r.message, field) == NULL ||
	    strstr(r.message, offset) == NULL) {
		fail_msg("%s: %s \"%s\"", field, frep_code_name(r.code), r.message);
	}
	assert_true(is_utf8(r.message, r.message_len));
	raw_reply_fini(&r);
	free(b.p);
	char digest[65];
	rt_digest(a->c, "10.9.0.0", digest);
	assert_string_equal(digest, "");
}

/* Proves: a NUL inside a string field — name "a\0b", start_range
 * "10.9.0.10\0junk" — is refused INVALID_ARGUMENT naming the field and the
 * byte offset, nothing stored (the NUL used to cut the value silently). */
static void
test_hardening_string_field_with_nul_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	expect_refused_scope(&f->n[0], "a\0b", 3, NULL, "name", "byte 1 ");
	expect_refused_scope(&f->n[0], "ok", 2, "10.9.0.10\0junk", "start_range", "byte 9 ");
}

/* Proves: string fields that are not UTF-8 — ff fe, overlong c0 af,
 * surrogate ed a0 80 — are refused INVALID_ARGUMENT naming the field and
 * the byte offset, nothing stored (they were stored). */
static void
test_hardening_string_field_not_utf8_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	expect_refused_scope(&f->n[0], "x\xff\xfe", 3, NULL, "name", "byte 1 ");
	expect_refused_scope(&f->n[0], "ab\xc0\xaf", 4, NULL, "name", "byte 2 ");
	expect_refused_scope(&f->n[0], "\xed\xa0\x80", 3, NULL, "name", "byte 0 ");
}

/* RenderKeaConfig must be INVALID_ARGUMENT naming what holds the text
 * (of), the text escaped ("a\xffb") and that it is not UTF-8, in a valid
 * UTF-8 message. */
static void
expect_render_refused(rt_node *a, const char *of)
{
	raw_reply r;
	pbuf      empty = {0};
	raw_call(a->url, "/frep.v1.DataPlane/RenderKeaConfig", empty.p, 0, 0, NULL, 0, &r);
	if (r.code != FREP_INVALID_ARGUMENT || strstr(r.message, "jansson") == NULL ||
	    strstr(r.message, "a\\xffb") == NULL || strstr(r.message, of) == NULL ||
	    strstr(r.message, "not valid UTF-8") == NULL) {
		fail_msg("%s: %s \"%s\"", of, frep_code_name(r.code), r.message);
	}
	assert_true(is_utf8(r.message, r.message_len));
	print_message("%s: %s\n", frep_code_name(r.code), r.message);
	raw_reply_fini(&r);
}

/* Runs one SQL statement on a's store with a stopped, then starts it. */
static void
edit_store(fixture *f, rt_node *a, const char *sql)
{
	rt_node_stop_clean(a);
	assert_int_equal(tu_system("sqlite3 %s \"%s\"", a->db, sql), 0);
	rt_node_start(a, f->dir);
}

/* Proves: error messages are valid UTF-8 — a 300-byte name of two-byte
 * characters, whose 40-byte quote cuts one in half, gives a decodable
 * INVALID_ARGUMENT (it did not); and text that is not UTF-8 in the store
 * (made so behind frepd's back, or written by a frepd before strings were
 * checked) makes RenderKeaConfig INVALID_ARGUMENT naming the object, the
 * field and the text escaped — a scope's name, an option definition's
 * name, a user class's description, a policy's description — not
 * "out of memory" (RESOURCE_EXHAUSTED; what an option definition's name,
 * a class's or a policy's description gave before: json_pack's "s"). */
static void
test_hardening_error_messages_are_utf8(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node *a = &f->n[0];
	rt_node_start(a, f->dir);
	char name[302];
	name[0] = 'a';
	for (size_t i = 1; i + 1 < 301; i += 2) {
		name[i]     = (char) 0xc3;
		name[i + 1] = (char) 0xa9;
	}
	name[301]   = '\0';
	pbuf      b = {0};
	raw_reply r;
	scope_payload(&b, 9, name, strlen(name), NULL);
	raw_call(a->url, "/frep.v1.DhcpServer/AddScope", b.p, b.len, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_INVALID_ARGUMENT);
	if (!is_utf8(r.message, r.message_len)) {
		fail_msg("not UTF-8: \"%s\"", r.message);
	}
	raw_reply_fini(&r);
	free(b.p);

	rt_add_scope(a->c, "10.9.0.0", "10.9.0.10", "10.9.0.200", false);
	Frep__V1__OptionDefinition def = FREP__V1__OPTION_DEFINITION__INIT;
	def.option_id                  = 224;
	def.name                       = "site option";
	def.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	rt_call_ok(a->c, "DhcpServer", "AddOptionDefinition", &def.base);
	Frep__V1__Class cls = FREP__V1__CLASS__INIT;
	cls.name            = "lab";
	cls.type            = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;
	cls.data            = "lab";
	cls.description     = "lab machines";
	rt_call_ok(a->c, "DhcpServer", "AddClass", &cls.base);
	Frep__V1__Policy pol = FREP__V1__POLICY__INIT;
	pol.name             = "p1";
	pol.scope_id         = "10.9.0.0";
	pol.description      = "first policy";
	rt_call_ok(a->c, "DhcpServer", "AddPolicy", &pol.base);

	/* One at a time: each case puts the text back that the last one
	 * broke. */
	static const struct {
		const char *set; /* %s: the value */
		const char *of;
	} cases[] = {
	    {"UPDATE scope SET name = %s", "scope 10.9.0.0: name"},
	    {"UPDATE option_def SET name = %s WHERE option_id = 224",
		"option definition 224: name"},
	    {"UPDATE class SET description = %s WHERE name = 'lab'", "user class lab: description"},
	    {"UPDATE policy SET description = %s WHERE name = 'p1'", "policy 'p1': description"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sql[400] = "";
		if (i > 0) {
			snprintf(sql, sizeof(sql), cases[i - 1].set, "'fixed'");
			strcat(sql, "; ");
		}
		size_t n = strlen(sql);
		snprintf(sql + n, sizeof(sql) - n, cases[i].set, "CAST(X'61FF62' AS TEXT)");
		edit_store(f, a, sql);
		expect_render_refused(a, cases[i].of);
	}
}

/* Proves: messages inside reply payloads are valid UTF-8 too, not only the
 * envelope's — a signed Partner.ApplyScopes whose scope sets option 3
 * (Router, IPv4) to "a" and 40 two-byte characters is refused in
 * ApplyScopeOutcome.message by the engine's "'%.64s' is not an IPv4
 * address", whose 64-byte quote cuts the 32nd character in half. Before,
 * that half character went into the outcome (a proto3 string other
 * languages refuse to decode); now the message is valid UTF-8 and still
 * quotes the value. */
static void
test_hardening_reply_payload_messages_are_utf8(void **state)
{
	fixture *f = *state;
	start_pair(f);
	char id_a[PARTNER_AUTH_SENDER_LEN + 1];
	server_id_of(&f->n[0], id_a);
	char value[82] = "a";
	for (size_t i = 1; i + 1 < 81; i += 2) {
		value[i]     = (char) 0xc3;
		value[i + 1] = (char) 0xa9;
	}
	value[81]                    = '\0';
	char                 *vals[] = {value};
	Frep__V1__OptionValue ov     = FREP__V1__OPTION_VALUE__INIT;
	ov.option_id                 = 3;
	ov.values                    = vals;
	ov.n_values                  = 1;
	Frep__V1__OptionValue *ovs[] = {&ov};
	apply_msg              m;
	apply_msg_init(&m);
	m.cfg.options                       = ovs;
	m.cfg.n_options                     = 1;
	Frep__V1__ScopeConfig       *cfgs[] = {&m.cfg};
	Frep__V1__ApplyScopesRequest rq     = FREP__V1__APPLY_SCOPES_REQUEST__INIT;
	rq.relationship                     = "rel1";
	rq.source_server                    = "somewhere";
	rq.configs                          = cfgs;
	rq.n_configs                        = 1;
	rq.dry_run                          = true;
	signed_call sc;
	sign(&sc, "/frep.v1.Partner/ApplyScopes", id_a, &rq.base);
	frep_call_options co  = {.metadata = sc.md, .n_metadata = 5};
	ProtobufCMessage *out = NULL;
	frep_status       st;
	assert_int_equal(frep_client_call(f->n[1].c, "/frep.v1.Partner/ApplyScopes", &rq.base,
			     &frep__v1__apply_scopes_response__descriptor, &out, &co, &st),
	    FREP_OK);
	Frep__V1__ApplyScopesResponse *r = (Frep__V1__ApplyScopesResponse *) out;
	assert_int_equal(r->n_outcomes, 1);
	const char *msg = r->outcomes[0]->message;
	print_message("ApplyScopeOutcome: %s %s\n", frep_code_name(r->outcomes[0]->code), msg);
	assert_int_equal(r->outcomes[0]->code, FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "a\xc3\xa9\xc3\xa9"));
	if (!is_utf8(msg, strlen(msg))) {
		fail_msg("not UTF-8: \"%s\"", msg);
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

/* The keys of a logfmt text (key=value or key="...", '\\' escaping in
 * quotes), at most max of them; -1 if the text is not logfmt. */
static int
logfmt_keys(const char *p, char keys[][32], int max)
{
	int n = 0;
	while (*p != '\0' && *p != '\n') {
		while (*p == ' ') {
			p++;
		}
		const char *eq = strchr(p, '=');
		if (eq == NULL || eq == p || n == max) {
			return -1;
		}
		snprintf(keys[n++], 32, "%.*s", (int) (eq - p), p);
		p = eq + 1;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					return -1;
				}
				if (*p == '\\' && p[1] != '\0') {
					p++;
				}
			}
			p++;
		} else {
			while (*p != ' ' && *p != '\0' && *p != '\n') {
				p++;
			}
		}
	}
	return n;
}

/* Proves: text from a caller cannot make a log line of its own — an
 * unknown method path and a Partner call's x-frep-relationship carrying a
 * newline followed by a made-up log line, and invalid UTF-8: frepd's log
 * (text form) has no line that starts with the forged timestamp, the
 * newline is written "\x0a" and the bad byte "\xff", and every line is
 * UTF-8. Before (the issue-14 audit): the forged line appeared as frepd's
 * own, and raw invalid bytes reached the log. And a method path with a
 * space, '=' and '"' cannot add fields to its call line: each key appears
 * once and status is the real one (before: method= was written bare, and
 * the path's "status=OK" was a second status field). */
static void
test_hardening_log_lines_cannot_be_forged(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node *a = &f->n[0];
	rt_node_start(a, f->dir);
	const char *forged = "\n2026-12-01T00:00:00.000Z frepd[1] ERROR forged line \xff";
	char        method[160];
	snprintf(method, sizeof(method), "/frep.v1.Nope/Call%s", forged);
	raw_reply r;
	raw_call(a->url, method, NULL, 0, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNIMPLEMENTED);
	raw_reply_fini(&r);
	char rel[160];
	snprintf(rel, sizeof(rel), "rel1%s", forged);
	frep_metadata md[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, rel}};
	raw_call(a->url, "/frep.v1.Partner/ApplyScope", NULL, 0, 0, md, 1, &r);
	assert_int_equal(r.code, FREP_UNAUTHENTICATED);
	raw_reply_fini(&r);
	/* Fields: a method path with a space, '=' and '"' in it. */
	raw_call(a->url, "/frep.v1.Nope/Forge status=OK request_id=\"x\\\" peer=y", NULL, 0, 0,
	    NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNIMPLEMENTED);
	raw_reply_fini(&r);
	/* Line ends other readers know: NEL (U+0085) and U+2028. */
	raw_call(a->url,
	    "/frep.v1.Nope/Sep\xc2\x85"
	    "2026-12-01T00:00:00.000Z frepd[1] ERROR forged NEL"
	    "\xe2\x80\xa8"
	    "2026-12-01T00:00:00.000Z frepd[1] ERROR forged LS",
	    NULL, 0, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNIMPLEMENTED);
	raw_reply_fini(&r);
	/* A path of 1,600 bytes: the fields after it still fit the line. */
	char long_path[1700] = "/frep.v1.Nope/Long";
	memset(long_path + strlen(long_path), 'a', 1600);
	long_path[sizeof(long_path) - 1] = '\0';
	raw_call(a->url, long_path, NULL, 0, 0, NULL, 0, &r);
	assert_int_equal(r.code, FREP_UNIMPLEMENTED);
	raw_reply_fini(&r);
	rt_node_stop_clean(a);

	FILE *log = fopen(a->proc.log_path, "r");
	assert_non_null(log);
	char   line[4096];
	size_t escaped = 0, forge_lines = 0;
	while (fgets(line, sizeof(line), log) != NULL) {
		if (strncmp(line, "2026-12-01T00:00:00.000Z", 24) == 0) {
			fail_msg("a forged line in the log: %s", line);
		}
		if (!is_utf8(line, strlen(line))) {
			fail_msg("a log line that is not UTF-8: %s", line);
		}
		if (strstr(line,
			"\\x0a2026-12-01T00:00:00.000Z frepd[1] ERROR forged line \\xff") != NULL) {
			escaped++;
		}
		if (strstr(line, " call ") != NULL &&
		    (strstr(line, "Forge") != NULL || strstr(line, "/Long") != NULL ||
			strstr(line, "/Sep") != NULL)) {
			char keys[16][32];
			int  n_keys = logfmt_keys(strstr(line, " call ") + 6, keys, 16);
			/* method status duration_ms request_id peer message */
			if (n_keys < 6) {
				fail_msg("not logfmt with its 6 fields: %s", line);
			}
			for (int i = 0; i < n_keys; i++) {
				for (int j = 0; j < i; j++) {
					if (strcmp(keys[i], keys[j]) == 0) {
						fail_msg("field %s twice in: %s", keys[i], line);
					}
				}
			}
			assert_non_null(strstr(line, " status=UNIMPLEMENTED "));
			assert_non_null(strstr(line, " peer=ipc "));
			if (strstr(line, "Forge") != NULL) {
				assert_non_null(strstr(line, " method=\"/frep.v1.Nope/Forge "
							     "status=OK request_id=\\\"x\\\\\\\" "
							     "peer=y\" "));
			}
			if (strstr(line, "/Sep") != NULL) {
				assert_non_null(strstr(line, "\\xc2\\x85"));
				assert_non_null(strstr(line, "\\xe2\\x80\\xa8"));
			}
			forge_lines++;
		}
	}
	fclose(log);
	print_message("lines quoting the forged text, escaped: %zu; call lines of the forged "
		      "fields: %zu\n",
	    escaped, forge_lines);
	assert_true(escaped >= 1);
	assert_true(forge_lines >= 3);
}

/* A recording proxy's hook (partner_proxy.h): records each call's method
 * and whether it carried an authorization header, and passes the call on
 * — or, to GetScopeDigests when evil, answers itself with a digest that is
 * not UTF-8. The test reads the records after stopping the proxy. */
typedef struct fake_partner {
	bool evil;
	int  n;
	char method[64][96];
	bool authorized[64];
} fake_partner;

static tp_action
fake_partner_hook(void *arg, const frep_request_view *v, nng_msg **reply)
{
	fake_partner *p = arg;
	if (p->n < 64) {
		snprintf(p->method[p->n], sizeof(p->method[0]), "%s", v->method);
		p->authorized[p->n] = frep_envelope_view_metadata_get(v, "authorization") != NULL;
		p->n++;
	}
	if (!__atomic_load_n(&p->evil, __ATOMIC_SEQ_CST) ||
	    strstr(v->method, "GetScopeDigests") == NULL) {
		return TP_FORWARD;
	}
	Frep__V1__GetScopeDigestsResponse dr   = FREP__V1__GET_SCOPE_DIGESTS_RESPONSE__INIT;
	Frep__V1__ScopeDigest             d    = FREP__V1__SCOPE_DIGEST__INIT;
	Frep__V1__ScopeDigest            *dp[] = {&d};
	d.scope_id                             = "10.1.0.0";
	d.digest                               = "\xff\xfe\xc0\xaf\xed\xa0\x80";
	dr.digests                             = dp;
	dr.n_digests                           = 1;
	frep_response_fields f = {.code = FREP_OK, .payload = &dr.base, .call_id = v->call_id};
	if (nng_msg_alloc(reply, frep_envelope_response_size(&f)) == 0) {
		frep_envelope_response_pack(&f, nng_msg_body(*reply));
	}
	return TP_REPLY;
}

/* Proves (A and a real B, a recording proxy between them): A's admin token
 * for its partner (--partner-token-file) travels only on MirrorRelationship (AddFailover), never on
 * the calls a MAC proves (GetScopeDigests, ApplyScopes, GetServerSettings); and a partner's reply
 * whose string is not UTF-8 (a digest "ff fe c0 af ed a0 80") is refused
 * INTERNAL naming the field, so it reaches neither A's replies nor A's next
 * call. Before (the issue-14 audit, with a recording proxy): the token was
 * on every partner call, readable on a link without TLS; the bad digest
 * came back in ReplicateByScopeId's ScopeResult.digest_before and
 * GetReplicationStatus, which Python's protobuf refused to decode. */
static void
test_hardening_partner_token_only_where_needed_and_replies_checked(void **state)
{
	fixture *f = *state;
	char     tok[700], url[700];
	snprintf(tok, sizeof(tok), "%s/partner-token", f->dir);
	FILE *tf = fopen(tok, "w");
	assert_non_null(tf);
	fputs("partner-admin-token\n", tf);
	fclose(tf);
	chmod(tok, 0600);
	node_ipc(f, 0, "a");
	rt_node *a  = &f->n[0];
	a->extra[0] = "--partner-token-file";
	a->extra[1] = tok;
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.1.0.0", "10.1.0.10", "10.1.0.200", false);

	node_ipc(f, 1, "b");
	rt_node_start(&f->n[1], f->dir);
	fake_partner p = {.evil = false};
	tp_proxy     px;
	snprintf(url, sizeof(url), "ipc://%s/proxy.sock", f->dir);
	tp_proxy_start(&px, url, f->n[1].url, fake_partner_hook, &p);
	char *scopes[] = {"10.1.0.0"};
	rt_add_failover(a->c, "rel1", url, SECRET, scopes, 1, FREP_OK);

	__atomic_store_n(&p.evil, true, __ATOMIC_SEQ_CST);
	Frep__V1__ReplicateByScopeIdRequest rq = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	rq.scope_ids                           = scopes;
	rq.n_scope_ids                         = 1;
	Frep__V1__ReplicateResponse *rr        = (Frep__V1__ReplicateResponse *) rt_call(
		   a->c, "FailoverReplication", "ReplicateByScopeId", &rq.base, FREP_OK, NULL);
	assert_non_null(rr);
	assert_int_equal(rr->n_results, 1);
	const Frep__V1__ScopeResult *res = rr->results[0];
	print_message("ScopeResult: %s %s (digest_before \"%s\")\n", frep_code_name(res->code),
	    res->message, res->digest_before);
	assert_int_equal(res->code, FREP_INTERNAL);
	assert_non_null(strstr(res->message, "digests[0].digest"));
	assert_true(is_utf8(res->message, strlen(res->message)));
	assert_true(is_utf8(res->digest_before, strlen(res->digest_before)));
	protobuf_c_message_free_unpacked(&rr->base, NULL);

	/* A well-behaved partner: a real replication's calls. */
	__atomic_store_n(&p.evil, false, __ATOMIC_SEQ_CST);
	rt_call_ok(a->c, "FailoverReplication", "ReplicateByScopeId", &rq.base);
	tp_proxy_stop(&px);
	int mirrors = 0, others = 0;
	for (int i = 0; i < p.n; i++) {
		print_message("%s %s\n", p.method[i], p.authorized[i] ? "token" : "no token");
		if (strcmp(p.method[i], "/frep.v1.Partner/MirrorRelationship") == 0) {
			assert_true(p.authorized[i]);
			mirrors++;
		} else {
			assert_false(p.authorized[i]);
			others++;
		}
	}
	assert_true(mirrors >= 1);
	assert_true(others >= 3);
}

/* A ScopeConfig for 10.7.0.0 whose one reservation has name (len bytes,
 * raw), into b. */
static void
config_with_reservation_name(pbuf *b, const void *name, size_t len)
{
	pbuf scope = {0}, res = {0};
	scope_payload(&scope, 7, "ok", 2, NULL);
	pb_str(&res, 1, "10.7.0.0");
	pb_str(&res, 2, "10.7.0.50");
	pb_str(&res, 3, "00-11-22-33-44-55");
	pb_field(&res, 4, name, len);
	pb_field(b, 1, scope.p, scope.len);
	pb_field(b, 3, res.p, res.len);
	free(scope.p);
	free(res.p);
}

/* Requires INVALID_ARGUMENT naming the field path and "byte <at> ", with
 * the payload offset, in a valid UTF-8 message. */
static void
expect_text_refused(raw_reply *r, const char *path, const char *at)
{
	print_message("%s: %s\n", frep_code_name(r->code), r->message);
	if (r->code != FREP_INVALID_ARGUMENT || strstr(r->message, path) == NULL ||
	    strstr(r->message, at) == NULL || strstr(r->message, "payload offset") == NULL) {
		fail_msg("%s: %s \"%s\"", path, frep_code_name(r->code), r->message);
	}
	assert_true(is_utf8(r->message, r->message_len));
}

/* Proves: a NUL or invalid UTF-8 deep in an ImportScope
 * (config.reservations[0].name) is refused INVALID_ARGUMENT naming that
 * path, the byte and its payload offset; nothing is imported. */
static void
test_hardening_import_nested_string_not_text_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node *a = &f->n[0];
	rt_node_start(a, f->dir);
	static const struct {
		const char *name;
		size_t      len;
		const char *at;
	} cases[] = {{"r\0x", 3, "byte 1 "}, {"ok\xc0\xaf", 4, "byte 2 "}};
	for (size_t i = 0; i < 2; i++) {
		pbuf cfg = {0}, req = {0};
		config_with_reservation_name(&cfg, cases[i].name, cases[i].len);
		pb_field(&req, 1, cfg.p, cfg.len);
		raw_reply r;
		raw_call(a->url, "/frep.v1.DhcpServer/ImportScope", req.p, req.len, 0, NULL, 0, &r);
		expect_text_refused(&r, "config.reservations[0].name", cases[i].at);
		raw_reply_fini(&r);
		free(cfg.p);
		free(req.p);
	}
	char digest[65];
	rt_digest(a->c, "10.7.0.0", digest);
	assert_string_equal(digest, "");
}

/* Proves: a correctly signed Partner ApplyScope whose payload holds a NUL
 * or invalid UTF-8 in config.reservations[0].name is refused
 * INVALID_ARGUMENT naming the path, the byte and the payload offset, and
 * nothing is applied; unsigned, the same payload is UNAUTHENTICATED (the
 * MAC is checked on the raw payload first, then the text). */
static void
test_hardening_signed_partner_call_with_nested_bad_string_refused(void **state)
{
	fixture *f = *state;
	start_pair(f);
	char id_a[PARTNER_AUTH_SENDER_LEN + 1];
	server_id_of(&f->n[0], id_a);
	static const struct {
		const char *name;
		size_t      len;
		const char *at;
	} cases[] = {{"r\0x", 3, "byte 1 "}, {"\xed\xa0\x80", 3, "byte 0 "}};
	for (size_t i = 0; i < 2; i++) {
		pbuf cfg = {0}, req = {0};
		config_with_reservation_name(&cfg, cases[i].name, cases[i].len);
		pb_str(&req, 1, "rel1");
		pb_str(&req, 2, "somewhere");
		pb_field(&req, 3, cfg.p, cfg.len);
		uint8_t dry[] = {4 << 3, 1}; /* dry_run: true */
		pb_bytes(&req, dry, sizeof(dry));
		signed_call sc;
		sign_bytes(&sc, APPLY, id_a, req.p, req.len);
		raw_reply r;
		raw_call(f->n[1].url, APPLY, req.p, req.len, 0, sc.md, 5, &r);
		expect_text_refused(&r, "config.reservations[0].name", cases[i].at);
		raw_reply_fini(&r);
		/* Unsigned, the same bytes never reach the text check. */
		raw_call(f->n[1].url, APPLY, req.p, req.len, 0, NULL, 0, &r);
		assert_int_equal(r.code, FREP_UNAUTHENTICATED);
		raw_reply_fini(&r);
		free(cfg.p);
		free(req.p);
	}
	char digest[65];
	rt_digest(f->n[1].c, "10.7.0.0", digest);
	assert_string_equal(digest, "");
}

/* Proves: a client id with a one-digit group (00-11-22-33-44-5) is refused
 * INVALID_ARGUMENT naming the offset (it was padded to ...-05). */
static void
test_hardening_client_id_one_digit_group_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	rt_add_scope(f->n[0].c, "10.6.0.0", "10.6.0.10", "10.6.0.200", false);
	frep_status st;
	assert_int_equal(
	    rt_add_reservation(f->n[0].c, "10.6.0.0", "10.6.0.50", "00-11-22-33-44-5", "r", &st),
	    FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "one-digit"));
	assert_int_equal(
	    rt_add_reservation(f->n[0].c, "10.6.0.0", "10.6.0.50", "00-11-22-33-44-55", "r", &st),
	    FREP_OK);
}

/* An ImportScope of 10.7.0.0/24 named "imported", to which a test adds
 * objects. */
typedef struct import_msg {
	Frep__V1__ImportScopeRequest req;
	Frep__V1__ScopeConfig        cfg;
	Frep__V1__Scope              scope;
} import_msg;

static void
import_msg_init(import_msg *m)
{
	frep__v1__import_scope_request__init(&m->req);
	frep__v1__scope_config__init(&m->cfg);
	frep__v1__scope__init(&m->scope);
	m->scope.scope_id    = "10.7.0.0";
	m->scope.subnet_mask = "255.255.255.0";
	m->scope.start_range = "10.7.0.10";
	m->scope.end_range   = "10.7.0.200";
	m->scope.name        = "imported";
	m->cfg.scope         = &m->scope;
	m->req.config        = &m->cfg;
}

/* Sends m, requires INVALID_ARGUMENT naming want, and 10.7.0.0 absent. */
static void
expect_import_refused(rt_node *a, import_msg *m, const char *want)
{
	frep_status       st;
	ProtobufCMessage *out =
	    rt_call(a->c, "DhcpServer", "ImportScope", &m->req.base, FREP_INVALID_ARGUMENT, &st);
	protobuf_c_message_free_unpacked(out, NULL);
	print_message("INVALID_ARGUMENT: %s\n", st.message);
	assert_non_null(strstr(st.message, want));
	char digest[65];
	rt_digest(a->c, "10.7.0.0", digest);
	assert_string_equal(digest, "");
}

/* Proves: ImportScope of 10.7.0.0 carrying a reservation whose scope_id is
 * 10.8.0.0 is refused INVALID_ARGUMENT naming config.reservations[0]; the
 * scope is not created. */
static void
test_hardening_import_reservation_of_another_scope_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	import_msg m;
	import_msg_init(&m);
	Frep__V1__Reservation res   = FREP__V1__RESERVATION__INIT;
	res.scope_id                = "10.8.0.0";
	res.ip_address              = "10.7.0.50";
	res.client_id               = "00-11-22-33-44-55";
	res.name                    = "elsewhere";
	Frep__V1__Reservation *rp[] = {&res};
	m.cfg.reservations          = rp;
	m.cfg.n_reservations        = 1;
	expect_import_refused(&f->n[0], &m, "reservations[0].scope_id");
}

/* Proves: ImportScope of 10.7.0.0 carrying a policy whose scope_id is
 * 10.8.0.0 (an existing scope) is refused INVALID_ARGUMENT naming
 * config.policies[0].scope_id and the value; nothing is created in either
 * scope. Before, the policy was silently moved into 10.7.0.0. The same
 * policy naming 10.7.0.0 is imported (control). */
static void
test_hardening_import_policy_of_another_scope_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node *a = &f->n[0];
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.8.0.0", "10.8.0.10", "10.8.0.200", false);
	char before[65], digest[65];
	rt_digest(a->c, "10.8.0.0", before);
	import_msg m;
	import_msg_init(&m);
	Frep__V1__Policy pol   = FREP__V1__POLICY__INIT;
	pol.name               = "moved";
	pol.scope_id           = "10.8.0.0";
	Frep__V1__Policy *pp[] = {&pol};
	m.cfg.policies         = pp;
	m.cfg.n_policies       = 1;
	expect_import_refused(a, &m, "config.policies[0].scope_id 10.8.0.0 names another scope");
	rt_digest(a->c, "10.8.0.0", digest);
	assert_string_equal(digest, before);

	pol.scope_id = "10.7.0.0";
	rt_call_ok(a->c, "DhcpServer", "ImportScope", &m.req.base);
	rt_digest(a->c, "10.7.0.0", digest);
	assert_string_not_equal(digest, "");
}

/* Proves: frepctl refuses "10.0.0.0/08" (a leading zero in the prefix
 * length) as a usage error and adds nothing; "/8" still works. */
static void
test_hardening_frepctl_prefix_with_leading_zero_refused(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node_start(&f->n[0], f->dir);
	const char *frepctl = getenv("FREPCTL");
	assert_non_null(frepctl);
	int rc = tu_system("%s --server %s scope add 10.0.0.0/08 --range 10.0.0.10-10.0.0.20 "
			   "--name x >/dev/null 2>&1",
	    frepctl, f->n[0].url);
	assert_int_equal(rc, 2);
	char digest[65];
	rt_digest(f->n[0].c, "10.0.0.0", digest);
	assert_string_equal(digest, "");
	rc = tu_system("%s --server %s scope add 10.0.0.0/8 --range 10.0.0.10-10.0.0.20 "
		       "--name x >/dev/null 2>&1",
	    frepctl, f->n[0].url);
	assert_int_equal(rc, 0);
	rt_digest(f->n[0].c, "10.0.0.0", digest);
	assert_string_not_equal(digest, "");
}

/* --- connections ---------------------------------------------------------- */

static int
tcp_connect(int port)
{
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	sa.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return fd;
}

/* Sum of the "closed N <what>" lines in a log ("ws connections", "tcp
 * connections"); the first one's N in *first. */
static long
dropped_in_log(const char *log, const char *what, long *first)
{
	FILE *f = fopen(log, "r");
	char  line[1024];
	long  total = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "closed ");
		long        n = 0;
		if (p != NULL && strstr(p, what) != NULL && sscanf(p, "closed %ld", &n) == 1) {
			if (total == 0) {
				*first = n;
			}
			total += n;
		}
	}
	fclose(f);
	return total;
}

static uint64_t
now_ms(void)
{
	return (uint64_t) tu_now_ms();
}

/* Waits (up to 30 s) until the server has closed each of fds[0..n) (EOF or
 * a reset; data fails the test) and writes, per peer, how long after
 * opened_ms[i] that was. Every second the admin client c reads the scope
 * id's digest: it is served throughout. */
static void
wait_closed_by_server(int *fds, const uint64_t *opened_ms, uint64_t *closed_after_ms, int n,
    rt_node *a, const char *scope_id)
{
	struct pollfd *pf      = calloc((size_t) n, sizeof(*pf));
	int            left    = n;
	uint64_t       start   = now_ms();
	uint64_t       checked = start;
	for (int i = 0; i < n; i++) {
		pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	}
	while (left > 0 && now_ms() - start < 30000) {
		poll(pf, (nfds_t) n, 200);
		for (int i = 0; i < n; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0) {
				continue;
			}
			char    b[64];
			ssize_t r = read(pf[i].fd, b, sizeof(b));
			if (r > 0 || (r < 0 && errno != ECONNRESET)) {
				fail_msg("peer %d: not closed by the server (read %zd, %s)", i, r,
				    r < 0 ? strerror(errno) : "data");
			}
			closed_after_ms[i] = now_ms() - opened_ms[i];
			close(pf[i].fd);
			pf[i].fd = -1;
			left--;
		}
		if (now_ms() - checked >= 1000) {
			char digest[65];
			rt_digest(a->c, scope_id, digest);
			assert_string_not_equal(digest, "");
			checked = now_ms();
		}
	}
	if (left > 0) {
		fail_msg("%d of %d peers still open after 30 s", left, n);
	}
	free(pf);
}

/* Proves: peers that connect to a ws:// listener and never finish the
 * HTTP upgrade (100 silent, 5 with half a request) are each closed by the
 * server — the oldest beyond 64 pending on that listener at once (at least
 * 105 - 64 = 41 closed within 5 s), the others at the 10 s deadline — and
 * the bound is per listener: 60 silent peers of a second ws:// listener
 * are all left to their deadline (none early). A ws:// client that did
 * upgrade keeps its connection and is served throughout (nothing but the
 * 165 is closed). Before, none was ever closed (40 held after 90 s; a few
 * hundred exhaust the descriptors); with one bound for all listeners, the
 * second listener's peers went early too. */
static void
test_hardening_ws_peers_that_never_upgrade_are_dropped(void **state)
{
	fixture *f = *state;
	/* Both ports held (bound, not listening) until frepd listens there. */
	int  held, held2;
	int  port = rt_hold_port(&held), port2 = rt_hold_port(&held2);
	char url[128], url2[128];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/frep", port);
	snprintf(url2, sizeof(url2), "ws://127.0.0.1:%d/frep", port2);
	rt_node_init(&f->n[0], f->dir, "a", url);
	rt_node *a  = &f->n[0];
	a->extra[0] = "--listen";
	a->extra[1] = url2;
	rt_node_start(a, f->dir);
	close(held);
	close(held2);
	rt_add_scope(a->c, "10.2.0.0", "10.2.0.10", "10.2.0.200", false);

	enum { SILENT = 100, PARTIAL = 5, N1 = SILENT + PARTIAL, N2 = 60, N = N1 + N2 };
	int      fds[N];
	uint64_t opened[N], after[N];
	for (int i = 0; i < N; i++) {
		fds[i]    = tcp_connect(i < N1 ? port : port2);
		opened[i] = now_ms();
		if (i >= SILENT && i < N1) {
			const char *half = "GET /frep HTTP/1.1\r\nHost: 127.0.0.1\r\n";
			assert_true(write(fds[i], half, strlen(half)) > 0);
		}
	}
	wait_closed_by_server(fds, opened, after, N, a, "10.2.0.0");
	int early1 = 0, early2 = 0;
	for (int i = 0; i < N; i++) {
		if (after[i] < 5000) {
			*(i < N1 ? &early1 : &early2) += 1;
		}
	}
	char digest[65];
	rt_digest(a->c, "10.2.0.0", digest);
	assert_string_not_equal(digest, "");
	long first   = 0;
	long dropped = dropped_in_log(a->proc.log_path, "ws connections", &first);
	print_message("ws peers closed by the server: %ld of %d; within 5 s: %d of %d on the "
		      "first listener, %d of %d on the second (the rest at the 10 s deadline): at "
		      "most 64 held waiting per listener\n",
	    dropped, N, early1, N1, early2, N2);
	assert_int_equal(dropped, N);
	assert_true(early1 >= N1 - 64);
	assert_int_equal(early2, 0);
}

/* Proves: a listener keeps at most --max-connections connections that
 * finished their handshake (here 8 on a tcp:// listener): of 20 raw SP
 * peers that complete the handshake and stay silent, the 12 beyond the
 * first 8 are closed by the server at once, and logged; when 4 of the 8
 * go, 4 newcomers are kept and the next one is closed again. The other
 * listener (ipc://, the admin client's) is not affected. Before, every one
 * was kept: silent peers that finish the handshake held descriptors
 * without bound. */
static void
test_hardening_connections_beyond_the_listener_limit_closed(void **state)
{
	fixture *f = *state;
	int      held, port;
	char     tcp[64];
	rt_node *a  = node_ipc_and(f, "tcp://127.0.0.1:%d", tcp, sizeof(tcp), &held, &port);
	a->extra[2] = "--max-connections";
	a->extra[3] = "8";
	rt_node_start(a, f->dir);
	close(held);
	rt_add_scope(a->c, "10.12.0.0", "10.12.0.10", "10.12.0.200", false);

	enum { MAX = 8, N = 20, MORE = 5 };
	int fds[N + MORE];
	for (int i = 0; i < N + MORE; i++) {
		fds[i] = -1;
	}
	/* Each peer: the SP header of a REQ socket (protocol 0x30), then the
	 * server's. */
	static const uint8_t req_hdr[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
	for (int i = 0; i < N; i++) {
		uint8_t        b[8];
		struct timeval tv = {.tv_sec = 5};
		fds[i]            = tcp_connect(port);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(write(fds[i], req_hdr, 8), 8);
		assert_int_equal(read(fds[i], b, 8), 8);
		assert_int_equal(b[5], 0x31); /* REP */
	}
	/* How many the server closes (EOF or reset within 2 s). nng adds
	 * pipes in the order their handshakes finish on its side, not
	 * necessarily the order of the connections. */
	struct pollfd pf[N + MORE];
	int           closed_ones = 0;
	for (int i = 0; i < N; i++) {
		pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	}
	uint64_t start = now_ms();
	while (now_ms() - start < 2000) {
		poll(pf, N, 200);
		for (int i = 0; i < N; i++) {
			if (pf[i].fd >= 0 && pf[i].revents != 0) {
				char b[8];
				assert_true(read(pf[i].fd, b, sizeof(b)) <= 0);
				close(fds[i]);
				fds[i] = pf[i].fd = -1;
				closed_ones++;
			}
		}
	}
	print_message("%d silent peers past the handshake, --max-connections %d: %d closed by "
		      "the server\n",
	    N, MAX, closed_ones);
	assert_int_equal(closed_ones, N - MAX);
	assert_true(rt_file_contains(a->proc.log_path, "--max-connections"));

	/* 4 of the kept ones go: 4 newcomers are kept, the fifth is not (which
	 * one nng adds last is its business). */
	for (int i = 0, gone = 0; i < N && gone < 4; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
			gone++;
		}
	}
	usleep(500 * 1000);
	for (int i = N; i < N + MORE; i++) {
		uint8_t b[8];
		fds[i] = tcp_connect(port);
		assert_int_equal(write(fds[i], req_hdr, 8), 8);
		assert_int_equal(read(fds[i], b, 8), 8);
	}
	for (int i = N; i < N + MORE; i++) {
		pf[i - N] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	}
	int newcomers_closed = 0;
	for (start = now_ms(); now_ms() - start < 1500;) {
		poll(pf, MORE, 200);
		for (int i = 0; i < MORE; i++) {
			if (pf[i].fd >= 0 && pf[i].revents != 0) {
				pf[i].fd = -1;
				newcomers_closed++;
			}
		}
	}
	assert_int_equal(newcomers_closed, 1);
	for (int i = 0; i < N + MORE; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	char digest[65];
	rt_digest(a->c, "10.12.0.0", digest);
	assert_string_not_equal(digest, "");
}

/* --- floods at the descriptor limit --------------------------------------- */

/* A non-blocking connect to 127.0.0.1:port (the server may not accept it
 * yet: its queue is full under a flood). */
static int
connect_nb(int port)
{
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	sa.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	int rv = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
	assert_true(rv == 0 || errno == EINPROGRESS);
	return fd;
}

/* Silent peers: n non-blocking connects to port that never send a byte;
 * with reopen, each one the server closes is re-opened, as an attacker
 * would (flood_main: on a thread of its own until stop). */
typedef struct flood {
	int            port, n;
	bool           reopen;
	struct pollfd *pf;
	long           closed; /* by the server (EOF or reset) */
	volatile bool  stop;   /* for flood_main */
	pthread_t      thread;
} flood;

/* One pass: counts (and with reopen re-opens) the peers the server closed. */
static void
flood_poll(flood *fl, int timeout_ms)
{
	poll(fl->pf, (nfds_t) fl->n, timeout_ms);
	for (int i = 0; i < fl->n; i++) {
		if (fl->pf[i].fd < 0 || fl->pf[i].revents == 0) {
			continue;
		}
		char    b[64];
		ssize_t r = read(fl->pf[i].fd, b, sizeof(b));
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			continue;
		}
		close(fl->pf[i].fd);
		fl->pf[i].fd = fl->reopen ? connect_nb(fl->port) : -1;
		fl->closed++;
	}
}

static void *
flood_main(void *arg)
{
	flood *fl = arg;
	while (!fl->stop) {
		flood_poll(fl, 50);
	}
	return NULL;
}

static void
flood_open(flood *fl, int port, int n, bool reopen)
{
	*fl    = (flood){.port = port, .n = n, .reopen = reopen};
	fl->pf = calloc((size_t) n, sizeof(*fl->pf));
	for (int i = 0; i < n; i++) {
		fl->pf[i] = (struct pollfd){.fd = connect_nb(port), .events = POLLIN};
	}
}

static void
flood_close(flood *fl)
{
	for (int i = 0; i < fl->n; i++) {
		if (fl->pf[i].fd >= 0) {
			close(fl->pf[i].fd);
		}
	}
	free(fl->pf);
}

/* Lowers a running frepd's descriptor limit (soft and hard) to n, as
 * `prlimit --nofile=n:n` would: frepd raised its soft limit to the hard one
 * at start. */
static void
limit_descriptors(pid_t pid, rlim_t n)
{
	struct rlimit rl = {n, n};
	assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

static int
open_descriptors(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	DIR *d = opendir(path);
	int  n = 0;
	if (d == NULL) {
		return -1;
	}
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return n - 2;
}

/* Starts a, whose descriptors the test will exhaust. In the sanitizer
 * build frepd runs without LeakSanitizer: at the limit the ipc:// watchdog
 * may re-create its listener, and a sanitizer frepd checks for leaks then
 * (rpc_server.c), which LeakSanitizer cannot do without a descriptor (a
 * fatal error, not a leak). */
static void
start_for_the_limit(rt_node *a, const char *dir)
{
	bool san = getenv("FREP_HARDENING_SANITIZER") != NULL;
	if (san) {
		setenv("LSAN_OPTIONS", "detect_leaks=0", 1);
	}
	rt_node_start(a, dir);
	if (san) {
		unsetenv("LSAN_OPTIONS");
	}
}

/* The ipc:// admin client is served after frepd was at its descriptor
 * limit. Required in the plain build; in the sanitizer build (slower) the
 * ipc:// watchdog's probe can fail at the limit and its re-creation of the
 * listener fail with it (it is tried again every 500 ms, but the leak
 * check the sanitizer build runs before it needs a descriptor too):
 * reported only. */
static void
ipc_served_after_the_limit(rt_node *a, const char *scope_id)
{
	bool ok = rt_wait_healthy(a->url, NULL, 15000) == 0;
	print_message("ipc:// Health after the limit: %s\n", ok ? "answered" : "NOT answered");
	if (getenv("FREP_HARDENING_SANITIZER") == NULL) {
		char digest[65];
		assert_true(ok);
		if (scope_id != NULL) { /* the admin client's connection, too */
			rt_digest(a->c, scope_id, digest);
			assert_string_not_equal(digest, "");
		}
	}
}

/* Node a started on ipc:// and tcp://127.0.0.1:<*port> (written to tcp);
 * at_limit: the test will exhaust its descriptors (start_for_the_limit). */
static rt_node *
start_ipc_and_tcp(fixture *f, char tcp[64], int *port, bool at_limit)
{
	int      held;
	rt_node *a = node_ipc_and(f, "tcp://127.0.0.1:%d", tcp, 64, &held, port);
	if (at_limit) {
		start_for_the_limit(a, f->dir);
	} else {
		rt_node_start(a, f->dir);
	}
	close(held);
	return a;
}

/* Proves (fault 1 of the connections review): a tcp:// listener has the
 * ws:// listeners' bound on connections that have not finished their
 * handshake: of 100 peers that connect and never send the SP header, the
 * oldest beyond 64 are closed by the server at once (at least 36 within
 * 5 s; nng sends its own header first, which they read), the rest at the
 * 10 s deadline; a tcp:// client that does handshake is served. Before:
 * any number waited, each until nng's 10 s deadline (none closed within
 * 5 s), so a flood of them could hold every descriptor. */
static void
test_hardening_tcp_peers_that_never_handshake_bounded(void **state)
{
	fixture *f = *state;
	int      port;
	char     tcp[64];
	rt_node *a = start_ipc_and_tcp(f, tcp, &port, false);
	enum { N = 100, BOUND = 64 };
	struct pollfd pf[N];
	uint64_t      start = now_ms();
	for (int i = 0; i < N; i++) {
		pf[i] = (struct pollfd){.fd = tcp_connect(port), .events = POLLIN};
	}
	int early = 0, closed = 0;
	while (closed < N && now_ms() - start < 20000) {
		poll(pf, N, 200);
		for (int i = 0; i < N; i++) {
			char    b[64];
			ssize_t r;
			if (pf[i].fd < 0 || pf[i].revents == 0 ||
			    (r = read(pf[i].fd, b, sizeof(b))) > 0) {
				continue; /* nng's SP header */
			}
			close(pf[i].fd);
			pf[i].fd = -1;
			closed++;
			early += now_ms() - start < 5000;
		}
	}
	assert_int_equal(rt_wait_healthy(tcp, NULL, 10000), 0);
	print_message("%d tcp:// peers that never send the SP header: %d closed by the server "
		      "within 5 s, %d in all\n",
	    N, early, closed);
	assert_int_equal(closed, N);
	assert_true(early >= N - BOUND);
	long first = 0;
	assert_true(dropped_in_log(a->proc.log_path, "tcp connections", &first) >= N - BOUND);
}

/* True once `frepctl health` (a fresh client in a process of its own)
 * gets SERVING from url, tried until timeout_ms. Its own process because
 * closing an nng 1.5.2 client whose dialer is in the middle of connecting
 * to a server that is closing flood connections can leak inside libnng
 * (seen once in CI at ef3c028, when these checks ran in the test process):
 * nng's leak, not frep's, so that process runs with tests/nng_1518.supp. */
static bool
healthy_to_a_fresh_frepctl(const char *url, unsigned timeout_ms)
{
	uint64_t until = now_ms() + timeout_ms;
	do {
		if (tu_system("LSAN_OPTIONS='%s' %s --server '%s' --timeout 2000 health >/dev/null "
			      "2>&1",
			tu_nng_leak_suppressions(), getenv("FREPCTL"), url) == 0) {
			return true;
		}
		struct timespec ts = {.tv_nsec = 100 * 1000000L};
		nanosleep(&ts, NULL); /* between tries, not a bound */
	} while (now_ms() < until);
	return false;
}

/* Proves (fault 1 of the connections review): 1,500 silent peers on a
 * tcp:// listener, each re-opened as soon as the server closes it, against
 * a frepd limited to 256 descriptors, cannot starve its other clients: a
 * fresh ipc:// client and a fresh tcp:// client are answered by Health
 * within 10 s, three times over 15 s of flood, and the server closes the
 * peers beyond 64 waiting per listener (logged; printed). On this machine
 * the old frepd passed it too (see SECURITY.md); the bound itself is
 * proved by test_hardening_tcp_peers_that_never_handshake_bounded. Before: nothing
 * bounded connections waiting for their SP handshake (only nng's 10 s
 * deadline): they held every descriptor, tcp:// calls waited for a free
 * one and the ipc:// listener, once re-created by its watchdog, could not
 * be ("Out of files"): ipc:// clients were refused. */
static void
test_hardening_tcp_flood_of_silent_peers_bounded(void **state)
{
	fixture *f = *state;
	int      port;
	char     tcp[64];
	rt_node *a = start_ipc_and_tcp(f, tcp, &port, true);

	limit_descriptors(a->proc.pid, 256);
	enum { N = 1500 };
	flood fl;
	flood_open(&fl, port, N, true);
	assert_int_equal(pthread_create(&fl.thread, NULL, flood_main, &fl), 0);
	bool ok = true;
	for (int round = 0; round < 3 && ok; round++) {
		sleep(5);
		int      fds = open_descriptors(a->proc.pid);
		uint64_t t0  = now_ms();
		bool     ipc = healthy_to_a_fresh_frepctl(a->url, 10000);
		uint64_t t1  = now_ms();
		bool     tc  = healthy_to_a_fresh_frepctl(tcp, 10000);
		uint64_t t2  = now_ms();
		print_message("flood round %d: frepd holds %d descriptors (limit 256), %ld peers "
			      "closed so far; Health over ipc:// %s in %" PRIu64
			      " ms, over tcp:// %s in %" PRIu64 " ms\n",
		    round, fds, fl.closed, ipc ? "answered" : "NOT answered", t1 - t0,
		    tc ? "answered" : "NOT answered", t2 - t1);
		ok = tc && (ipc || getenv("FREP_HARDENING_SANITIZER") != NULL);
	}
	fl.stop = true;
	pthread_join(fl.thread, NULL);
	long closed = fl.closed;
	flood_close(&fl);
	long first = 0, logged = dropped_in_log(a->proc.log_path, "tcp connections", &first);
	print_message("%d silent tcp:// peers (re-opened when closed): %ld closed by the server, "
		      "%ld logged\n",
	    N, closed, logged);
	/* How many the guard closed depends on the machine's speed (here 5 to
	 * 222; the old frepd, none): printed, not required. */
	assert_true(ok);
	ipc_served_after_the_limit(a, NULL);
}

/* Proves (fault 2 of the connections review): a burst of 3,000 silent
 * connects to a ws:// listener of a frepd limited to 256 descriptors is
 * still closed by the server — the upgrade guard keeps /proc/net/tcp and
 * /proc/self/fd open and reads them again at each scan, so it works at the
 * descriptor limit — and the ipc:// admin client is served afterwards.
 * Before: the guard opened both at every scan, which failed with EMFILE at
 * the limit: 0 of 3,000 closed in 35 s, and frepd stalled until the
 * attacker let go. frepd also raises its soft descriptor limit to the hard
 * one at start (it kept the soft limit it was started with). */
static void
test_hardening_ws_burst_at_the_descriptor_limit_closed(void **state)
{
	fixture *f = *state;
	int      held, port;
	char     ws[128];
	rt_node *a = node_ipc_and(f, "ws://127.0.0.1:%d/frep", ws, sizeof(ws), &held, &port);
	/* Started with a soft limit below the hard one (a systemd service's
	 * 1,024): frepd raises it to the hard one, and logs it. */
	struct rlimit mine;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
	struct rlimit low = {mine.rlim_max > 1024 ? 1024 : mine.rlim_max, mine.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	start_for_the_limit(a, f->dir);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
	close(held);
	struct rlimit theirs;
	assert_int_equal(prlimit(a->proc.pid, RLIMIT_NOFILE, NULL, &theirs), 0);
	assert_true(theirs.rlim_cur == mine.rlim_max);
	assert_true(rt_file_contains(a->proc.log_path, "descriptor limit"));
	rt_add_scope(a->c, "10.13.0.0", "10.13.0.10", "10.13.0.200", false);
	limit_descriptors(a->proc.pid, 256); /* LIMIT */

	enum { N = 3000, LIMIT = 256 };
	flood    fl;
	uint64_t start = now_ms();
	flood_open(&fl, port, N, false);
	uint64_t opened = now_ms() - start;
	/* Many of the 3,000 never reach frepd (the kernel's accept queue holds
	 * 129; a silent client does not learn that its connection was dropped):
	 * what counts is that those frepd took are closed, so that its
	 * descriptors come back. */
	int  most = 0, fds = 0;
	bool back = false;
	while (now_ms() - start < 60000 && !back) {
		flood_poll(&fl, 200);
		fds  = open_descriptors(a->proc.pid);
		most = fds > most ? fds : most;
		back = now_ms() - start > 5000 && fds < LIMIT - 64 && fl.closed >= LIMIT - 64;
	}
	long closed = fl.closed;
	print_message("%d silent ws:// connects in %" PRIu64 " ms against a limit of %d "
		      "descriptors: frepd held up to %d; %ld closed by the server in %" PRIu64
		      " ms, then frepd held %d\n",
	    N, opened, LIMIT, most, closed, now_ms() - start, fds);
	flood_close(&fl);
	assert_true(most >= LIMIT - 8); /* the burst did reach the limit */
	assert_true(back);
	assert_int_equal(rt_wait_healthy(ws, NULL, 15000), 0);
	ipc_served_after_the_limit(a, "10.13.0.0");
}

/* An HTTP call on a thread of its own: its status (0 if the connection
 * closed without an answer) and body. */
typedef struct http_call {
	int           port;
	const char   *path, *auth, *body;
	int           status;
	uint64_t      took_ms;
	volatile bool done;
	char         *reply;
	pthread_t     thread;
} http_call;

static void *
http_call_main(void *arg)
{
	http_call *hc    = arg;
	uint64_t   start = now_ms();
	hc->status =
	    http_post(hc->port, hc->path, hc->auth, hc->body, strlen(hc->body), &hc->reply);
	hc->took_ms = now_ms() - start;
	hc->done    = true;
	return NULL;
}

/* Proves (fault 3 of the connections review): an HTTP call in flight (a
 * GetReplicationStatus waiting on a partner that takes the request and never
 * answers, with --partner-timeout-ms 12000) survives 400 idle connections
 * opened meanwhile: the endpoint's bound (256 open) closes idle ones first
 * (at least 400 - 256 of them), and the call gets its answer. Before:
 * the oldest were closed whatever they were doing, the caller's first
 * ("Remote end closed connection without response"; for a write, an
 * outcome unknown). */
static void
test_hardening_http_call_in_flight_outlives_idle_connections(void **state)
{
	fixture    *f = *state;
	static char tok[700], http[64];
	write_token_file(f, tok, sizeof(tok), 0600);
	int held, bhold;
	int port  = rt_hold_port(&held);
	int bport = rt_hold_port(&bhold);
	snprintf(http, sizeof(http), "http://127.0.0.1:%d", port);
	rt_node *a            = node_with_token(f, tok);
	a->extra[2]           = "--http";
	a->extra[3]           = http;
	a->partner_timeout_ms = 12000;
	rt_node_start(a, f->dir);
	close(held);
	/* B on a port the test holds until B is gone. */
	char burl[64];
	snprintf(burl, sizeof(burl), "tcp://127.0.0.1:%d", bport);
	rt_node_init(&f->n[1], f->dir, "b", burl);
	rt_node_start(&f->n[1], f->dir);
	rt_add_scope(a->c, "10.14.0.0", "10.14.0.10", "10.14.0.200", false);
	char *scopes[] = {"10.14.0.0"};
	rt_add_failover(a->c, "slow", burl, SECRET, scopes, 1, FREP_OK);
	assert_int_not_equal(tu_proc_stop(&f->n[1].proc, SIGKILL, 10000), -1);
	/* In B's place, a REP socket that takes requests and never answers. */
	nng_socket mute;
	assert_int_equal(nng_rep0_open(&mute), 0);
	close(bhold);
	assert_int_equal(nng_listen(mute, burl, NULL, 0), 0);

	http_call hc    = {.port = port,
	       .path             = "/frep.v1.FailoverReplication/GetReplicationStatus",
	       .auth             = "Bearer " TOKEN,
	       .body             = "{\"names\":[\"slow\"]}"};
	uint64_t  start = now_ms();
	assert_int_equal(pthread_create(&hc.thread, NULL, http_call_main, &hc), 0);
	usleep(1000 * 1000); /* the call is waiting on the partner */
	enum { IDLE = 400, BOUND = 256 };
	flood fl;
	flood_open(&fl, port, IDLE, false);
	for (int i = 0; i < IDLE; i++) {
		/* Each one accepted in turn: none left in a full accept queue. */
		close(fl.pf[i].fd);
		fl.pf[i].fd = tcp_connect(port);
		fcntl(fl.pf[i].fd, F_SETFL, O_NONBLOCK);
	}
	while (!hc.done && now_ms() - start < 60000) {
		flood_poll(&fl, 200);
	}
	pthread_join(hc.thread, NULL);
	flood_poll(&fl, 0);
	long closed = fl.closed;

	flood_close(&fl);
	print_message("HTTP call in flight, then %d idle connections: %ld idle ones closed by "
		      "the server; the call answered HTTP %d after %" PRIu64 " ms: %.400s\n",
	    IDLE, closed, hc.status, hc.took_ms, hc.reply != NULL ? hc.reply : "");
	assert_int_not_equal(hc.status, 0);
	assert_true(closed >= IDLE - BOUND);
	free(hc.reply);
	nng_close(mute);
}

/* --- files and processes ------------------------------------------------- */

/* Proves: frep.db, its WAL and the partner state file are created 0600
 * even under umask 022 (they were 0644: world-readable shared secrets);
 * a token file readable by others is warned about in the log; a running
 * frepd cannot dump core (RLIMIT_CORE 0). */
static void
test_hardening_store_files_private_and_no_core_dumps(void **state)
{
	fixture *f = *state;
	char     tok[700];
	write_token_file(f, tok, sizeof(tok), 0644);
	rt_node *a   = node_with_token(f, tok);
	mode_t   old = umask(022);
	rt_node_start(a, f->dir);
	umask(old);
	rt_add_scope(a->c, "10.4.0.0", "10.4.0.10", "10.4.0.200", false);
	const char *suffixes[] = {"", "-wal", ".partner-state"};
	for (size_t i = 0; i < 3; i++) {
		char        path[700];
		struct stat sb;
		snprintf(path, sizeof(path), "%s%s", a->db, suffixes[i]);
		assert_int_equal(stat(path, &sb), 0);
		if ((sb.st_mode & 077) != 0) {
			fail_msg("%s has mode %04o", path, (unsigned) (sb.st_mode & 07777));
		}
	}
	assert_true(rt_file_contains(a->proc.log_path, "--token-file"));
	assert_true(rt_file_contains(a->proc.log_path, "mode 0644"));
	char limits[64];
	snprintf(limits, sizeof(limits), "/proc/%d/limits", (int) a->proc.pid);
	assert_int_equal(tu_system("grep -Eq '^Max core file size +0 +0 ' %s", limits), 0);
}

/* Starts a copy of FREPD as user and group 65534 (nobody) — not as root,
 * whom the checks below would not tell apart — on ipc://<dir>/<name>.sock,
 * store <dir>/<name>.db, with one extra flag (or none); returns its pid
 * once it answers, its URL in url. dir is nobody's, under /tmp, with its
 * own copy of frepd: the build tree and TMPDIR may be under a directory
 * nobody cannot enter (a clone in /root). */
static pid_t
start_frepd_as_nobody(const char *dir, const char *name, const char *extra, char *url, size_t size)
{
	const char *frepd = getenv("FREPD");
	char        db[700], log[700], bin[700];
	assert_non_null(frepd);
	snprintf(bin, sizeof(bin), "%s/frepd", dir);
	if (access(bin, X_OK) != 0) {
		assert_int_equal(tu_system("cp '%s' '%s' && chmod 0755 '%s'", frepd, bin, bin), 0);
	}
	assert_int_equal(chown(dir, 65534, 65534), 0);
	snprintf(url, size, "ipc://%s/%s.sock", dir, name);
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 2) < 0 || setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0) {
			_exit(127);
		}
		/* LeakSanitizer cannot stop a process it may not trace. */
		char        asan[1024];
		const char *was = getenv("ASAN_OPTIONS");
		snprintf(asan, sizeof(asan), "%s%sdetect_leaks=0", was != NULL ? was : "",
		    was != NULL && was[0] != '\0' ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		execl(bin, "frepd", "--listen", url, "--db", db, extra, (char *) NULL);
		_exit(127);
	}
	if (tu_wait_healthy(url, 15000) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		tu_system("cat %s >&2", log);
		fail_msg("frepd as nobody did not answer on %s", url);
	}
	return pid;
}

/* What another process of frepd's own user can do to it: 1 if it can read
 * /proc/PID/environ (which needs what ptrace needs), 0 if not. */
static int
same_user_can_read_environ(pid_t target)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/environ", (int) target);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
			_exit(2);
		}
		int fd = open(path, O_RDONLY);
		_exit(fd >= 0 ? 1 : 0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status);
}

/* Proves: a running frepd is not dumpable (PR_SET_DUMPABLE 0), and
 * --allow-core-dumps leaves it dumpable. Checked from outside on a frepd
 * running as nobody, two ways that only dumpability changes: the kernel
 * makes a non-dumpable process's /proc/PID files root's (status owned by
 * uid 0, not 65534), and another process of the same user may not read its
 * /proc/PID/environ (ptrace's rule). /proc/PID/coredump_filter says nothing
 * of it, and as root every check passes whatever the flag. */
static void
test_hardening_frepd_not_dumpable_unless_allowed(void **state)
{
	fixture *f = *state;
	if (geteuid() != 0) {
		tu_skip_note("root", "needs root to run frepd as another user");
		skip();
	}
	static const struct {
		const char *flag;
		uid_t       owner;
		int         readable;
	} cases[] = {{NULL, 0, 0}, {"--allow-core-dumps", 65534, 1}};
	(void) f;
	char dir[] = "/tmp/frep-nobody-XXXXXX";
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 2; i++) {
		char        url[700], path[64], name[8];
		struct stat sb;
		snprintf(name, sizeof(name), "d%zu", i);
		pid_t pid = start_frepd_as_nobody(dir, name, cases[i].flag, url, sizeof(url));
		snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
		assert_int_equal(stat(path, &sb), 0);
		int readable = same_user_can_read_environ(pid);
		print_message("frepd %s as uid 65534: /proc/%d/status owned by uid %u; environ "
			      "readable by uid 65534: %s\n",
		    cases[i].flag != NULL ? cases[i].flag : "(no flag)", (int) pid,
		    (unsigned) sb.st_uid, readable ? "yes" : "no");
		kill(pid, SIGTERM);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		if (sb.st_uid != cases[i].owner || readable != cases[i].readable) {
			tu_rmtree(dir);
		}
		assert_int_equal(sb.st_uid, cases[i].owner);
		assert_int_equal(readable, cases[i].readable);
	}
	tu_rmtree(dir);
}

/* Proves: a store left world-readable by an older frepd or a restore —
 * frep.db, frep.db-wal and frep.db-shm 0644 after a SIGKILL, the partner
 * state file 0640 — is made 0600 when frepd opens it (each file named in
 * a warning), with nothing lost. Before, frepd opened it as it was: the
 * files holding the shared secrets stayed readable by all, and the WAL
 * SQLite re-created took the database's 0644. */
static void
test_hardening_existing_store_files_tightened_at_open(void **state)
{
	fixture *f = *state;
	node_ipc(f, 0, "a");
	rt_node *a   = &f->n[0];
	mode_t   old = umask(022);
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.13.0.0", "10.13.0.10", "10.13.0.200", false);
	assert_int_not_equal(tu_proc_stop(&a->proc, SIGKILL, 10000), -1);
	const char *suffixes[] = {"", "-wal", "-shm", ".partner-state"};
	char        path[700];
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s%s", a->db, suffixes[i]);
		assert_int_equal(chmod(path, i == 3 ? 0640 : 0644), 0);
	}
	rt_node_start(a, f->dir);
	umask(old);
	char digest[65];
	rt_digest(a->c, "10.13.0.0", digest);
	assert_string_not_equal(digest, "");
	for (size_t i = 0; i < 4; i++) {
		struct stat sb;
		snprintf(path, sizeof(path), "%s%s", a->db, suffixes[i]);
		assert_int_equal(stat(path, &sb), 0);
		if ((sb.st_mode & 07777) != 0600) {
			fail_msg("%s has mode %04o", path, (unsigned) (sb.st_mode & 07777));
		}
		char line[800];
		snprintf(line, sizeof(line), "%s was mode %s", path, i == 3 ? "0640" : "0644");
		assert_true(rt_file_contains(a->proc.log_path, line));
	}
}

/* Runs frepctl with args (a printf format) against a's URL, its stderr
 * into err_path; returns the exit status. */
static int frepctl_run(const rt_node *a, const char *err_path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
frepctl_run(const rt_node *a, const char *err_path, const char *fmt, ...)
{
	const char *frepctl = getenv("FREPCTL");
	char        args[1024];
	va_list     ap;
	assert_non_null(frepctl);
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return tu_system("%s --server %s %s >/dev/null 2>%s", frepctl, a->url, args, err_path);
}

/* Proves: frepctl makes frepd's check of secret files — a --token-file of
 * mode 0644 and a --secret-file of mode 0640 are each named in a warning
 * on stderr ("… is accessible by its group or others (mode 0644) …"), and
 * the call goes on; at 0600, no warning. Before, frepctl read them
 * silently. */
static void
test_hardening_frepctl_secret_files_open_to_others_warned(void **state)
{
	fixture *f = *state;
	char     tok[700], secret[700], err[700];
	write_token_file(f, tok, sizeof(tok), 0600);
	snprintf(secret, sizeof(secret), "%s/pair.secret", f->dir);
	snprintf(err, sizeof(err), "%s/frepctl.err", f->dir);
	FILE *sf = fopen(secret, "w");
	assert_non_null(sf);
	fprintf(sf, "%s\n", SECRET);
	fclose(sf);
	rt_node *a = node_with_token(f, tok);
	rt_node_start(a, f->dir);
	rt_add_scope(a->c, "10.14.0.0", "10.14.0.10", "10.14.0.200", false);

	const mode_t modes[] = {0644, 0600};
	for (size_t i = 0; i < 2; i++) {
		char want[800];
		assert_int_equal(chmod(tok, modes[i]), 0);
		assert_int_equal(frepctl_run(a, err, "--token-file %s scope list", tok), 0);
		snprintf(want, sizeof(want), "--token-file %s is accessible by its group or others",
		    tok);
		assert_true(rt_file_contains(err, want) == (modes[i] != 0600));
	}
	/* The partner does not exist: the call fails after the file is read. */
	const mode_t smodes[] = {0640, 0600};
	for (size_t i = 0; i < 2; i++) {
		char want[800];
		assert_int_equal(chmod(secret, smodes[i]), 0);
		assert_int_not_equal(frepctl_run(a, err,
					 "--token-file %s failover add relx --partner "
					 "ipc://%s/nobody.sock --scope 10.14.0.0 --secret-file %s",
					 tok, f->dir, secret),
		    0);
		snprintf(want, sizeof(want),
		    "--secret-file %s is accessible by its group or others (mode 0640)", secret);
		assert_true(rt_file_contains(err, want) == (smodes[i] != 0600));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_call_reflected_to_its_sender_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_call_replayed_after_restart_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_call_signed_before_start_resent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_digests_of_other_relationships_withheld, setup, teardown),
	    cmocka_unit_test(test_hardening_partner_replay_memory_full_refuses_new_calls),
	    cmocka_unit_test(test_hardening_partner_replay_memory_wraps_and_still_refuses_replays),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_replay_after_restart_beyond_the_horizon_table, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_replay_horizon_leased, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_unsigned_partner_call_refused_before_decoding, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_decode_memory_bounded_by_request_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_http_json_memory_bounded_before_and_after_the_token, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_http_refusals_quoting_invalid_bytes_are_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_call_id_cache_bound_to_caller_and_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_string_field_with_nul_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_string_field_not_utf8_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_error_messages_are_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_reply_payload_messages_are_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_log_lines_cannot_be_forged, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_partner_token_only_where_needed_and_replies_checked, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_import_nested_string_not_text_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_signed_partner_call_with_nested_bad_string_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_client_id_one_digit_group_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_import_reservation_of_another_scope_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_import_policy_of_another_scope_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_frepctl_prefix_with_leading_zero_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_ws_peers_that_never_upgrade_are_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_connections_beyond_the_listener_limit_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_tcp_peers_that_never_handshake_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_tcp_flood_of_silent_peers_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_ws_burst_at_the_descriptor_limit_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_http_call_in_flight_outlives_idle_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_store_files_private_and_no_core_dumps, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_existing_store_files_tightened_at_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_frepd_not_dumpable_unless_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_hardening_frepctl_secret_files_open_to_others_warned, setup, teardown),
	};
	return tu_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
