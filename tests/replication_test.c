/*
 * Failover replication end to end: real frepd partners in a temp dir, the
 * shipped client, the DhcpServer, FailoverReplication and Partner services.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_client.h"
#include "partner_auth.h"
#include "partner_proxy.h"

/* A partner id that is not the server's own. */
#define TEST_SENDER "0123456789abcdef0123456789abcdef"
#include "testutil.h"

#define SECRET "correct horse battery staple"

typedef struct node {
	char         name[8];
	char         url[600];
	char         db[600];
	tu_proc      proc;
	frep_client *c;
	const char  *extra[3]; /* more frepd arguments (NULL-terminated) */
} node;

typedef struct fixture {
	char *dir;
	node  n[3]; /* A, B, C */
} fixture;

static void
node_start(fixture *f, node *n)
{
	const char *args[] = {"--listen", n->url, "--advertise-url", n->url, "--db", n->db,
	    "--partner-timeout-ms", "3000", n->extra[0], n->extra[1], n->extra[2], NULL};
	assert_int_equal(tu_frepd_start(&n->proc, f->dir, n->name, args), 0);
	if (tu_wait_healthy(n->url, 10000) != 0) {
		tu_proc_dump_log(&n->proc);
		fail_msg("frepd %s did not become healthy", n->name);
	}
}

/* Stops n (it must exit 0), starts it again with the flag and its value
 * added, and waits until its admin client is answered. */
static void
node_restart_with(fixture *f, node *n, const char *flag, const char *value)
{
	n->extra[0] = flag;
	n->extra[1] = value;
	int status  = tu_proc_stop(&n->proc, SIGTERM, 15000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	node_start(f, n);
	assert_int_equal(tu_client_ready(n->c, 15000), 0);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	for (int i = 0; i < 3; i++) {
		node *n = &f->n[i];
		snprintf(n->name, sizeof(n->name), "%c", 'a' + i);
		snprintf(n->url, sizeof(n->url), "ipc://%s/%c.sock", f->dir, 'a' + i);
		snprintf(n->db, sizeof(n->db), "%s/%c.db", f->dir, 'a' + i);
		node_start(f, n);
		frep_client_options o = {.timeout_ms = 30000};
		frep_status         st;
		assert_int_equal(frep_client_open(n->url, &o, &n->c, &st), FREP_OK);
		assert_int_equal(tu_client_ready(n->c, 15000), 0);
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f  = *state;
	int      rc = 0;
	for (int i = 0; i < 3; i++) {
		frep_client_close(f->n[i].c);
		if (f->n[i].proc.pid > 0) {
			int status = tu_proc_stop(&f->n[i].proc, SIGTERM, 15000);
			if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				tu_proc_dump_log(&f->n[i].proc);
				print_error(
				    "frepd %s did not exit 0 (status %d)\n", f->n[i].name, status);
				rc = -1; /* a crash or, under LSan, a leak fails the test */
			}
		}
	}
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return rc;
}

/* Calls a DhcpServer / FailoverReplication method; fails the test unless
 * the status is `expect`. Returns the reply (caller frees) or NULL. */
static ProtobufCMessage *
call_expect(node *n, const char *service, const char *method, const ProtobufCMessage *in,
    frep_code expect, frep_status *st_out)
{
	const ProtobufCServiceDescriptor *sd = strcmp(service, "DhcpServer") == 0
						   ? &frep__v1__dhcp_server__descriptor
						   : &frep__v1__failover_replication__descriptor;
	const ProtobufCMethodDescriptor  *m =
	    protobuf_c_service_descriptor_get_method_by_name(sd, method);
	char              path[128];
	ProtobufCMessage *out = NULL;
	frep_status       st;
	assert_non_null(m);
	snprintf(path, sizeof(path), "/frep.v1.%s/%s", service, method);
	frep_code code = frep_client_call(n->c, path, in, m->output, &out, NULL, &st);
	if (code != expect) {
		fail_msg("%s on %s: expected %s, got %s: %s", path, n->name, frep_code_name(expect),
		    frep_code_name(code), st.message);
	}
	if (st_out != NULL) {
		*st_out = st;
	}
	return out;
}

static void
call_ok(node *n, const char *service, const char *method, const ProtobufCMessage *in)
{
	ProtobufCMessage *out = call_expect(n, service, method, in, FREP_OK, NULL);
	protobuf_c_message_free_unpacked(out, NULL);
}

static void
scope_digest(node *n, const char *scope_id, char out[65])
{
	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	req.scope_id                     = (char *) scope_id;
	Frep__V1__ScopeConfig *cfg       = (Frep__V1__ScopeConfig *) call_expect(
		  n, "DhcpServer", "GetScopeConfig", &req.base, FREP_OK, NULL);
	snprintf(out, 65, "%s", cfg->digest);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
}

/* "" if the scope is not there. */
static void
scope_digest_or_empty(node *n, const char *scope_id, char out[65])
{
	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	ProtobufCMessage            *o   = NULL;
	frep_status                  st;
	req.scope_id = (char *) scope_id;
	out[0]       = '\0';
	if (frep_client_call(n->c, "/frep.v1.DhcpServer/GetScopeConfig", &req.base,
		&frep__v1__scope_config__descriptor, &o, NULL, &st) == FREP_OK) {
		snprintf(out, 65, "%s", ((Frep__V1__ScopeConfig *) o)->digest);
		protobuf_c_message_free_unpacked(o, NULL);
	} else {
		assert_int_equal(st.code, FREP_NOT_FOUND);
	}
}

static void
add_scope(node *n, const char *id, const char *start, const char *end)
{
	Frep__V1__Scope s = FREP__V1__SCOPE__INIT;
	s.scope_id        = (char *) id;
	s.subnet_mask     = "255.255.255.0";
	s.start_range     = (char *) start;
	s.end_range       = (char *) end;
	s.name            = "Office";
	call_ok(n, "DhcpServer", "AddScope", &s.base);
}

static void
add_reservation(node *n, const char *scope, const char *ip, const char *mac, const char *name)
{
	Frep__V1__Reservation r = FREP__V1__RESERVATION__INIT;
	r.scope_id              = (char *) scope;
	r.ip_address            = (char *) ip;
	r.client_id             = (char *) mac;
	r.name                  = (char *) name;
	call_ok(n, "DhcpServer", "AddReservation", &r.base);
}

static void
add_exclusion(node *n, const char *scope, const char *a, const char *b, bool remove)
{
	Frep__V1__ExclusionRange x = FREP__V1__EXCLUSION_RANGE__INIT;
	x.scope_id                 = (char *) scope;
	x.start_range              = (char *) a;
	x.end_range                = (char *) b;
	call_ok(n, "DhcpServer", remove ? "RemoveExclusionRange" : "AddExclusionRange", &x.base);
}

static void
set_scope_option(node *n, const char *scope, uint32_t code, const char *value)
{
	Frep__V1__SetOptionValueRequest req     = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          t       = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v       = FREP__V1__OPTION_VALUE__INIT;
	char                           *vals[1] = {(char *) value};
	t.scope_id                              = (char *) scope;
	v.option_id                             = code;
	v.values                                = vals;
	v.n_values                              = 1;
	req.target                              = &t;
	req.value                               = &v;
	call_ok(n, "DhcpServer", "SetOptionValue", &req.base);
}

static void
add_policy(node *n, const char *scope, const char *name, const char *a, const char *b)
{
	Frep__V1__Policy     p       = FREP__V1__POLICY__INIT;
	Frep__V1__Criterion  c       = FREP__V1__CRITERION__INIT;
	Frep__V1__IpRange    r       = FREP__V1__IP_RANGE__INIT;
	Frep__V1__Criterion *cs[1]   = {&c};
	Frep__V1__IpRange   *rs[1]   = {&r};
	char                *vals[1] = {"Default BOOTP Class"};
	p.name                       = (char *) name;
	p.scope_id                   = (char *) scope;
	c.type                       = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_USER_CLASS;
	c.comparator                 = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	c.values                     = vals;
	c.n_values                   = 1;
	p.criteria                   = cs;
	p.n_criteria                 = 1;
	r.start_range                = (char *) a;
	r.end_range                  = (char *) b;
	p.ip_ranges                  = rs;
	p.n_ip_ranges                = 1;
	p.lease_duration_s           = 3600;
	call_ok(n, "DhcpServer", "AddPolicy", &p.base);
}

static void
add_failover(
    node *from, node *to, const char *name, char **scopes, size_t n_scopes, frep_code expect)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.name                           = (char *) name;
	rel.partner_server                 = to->url;
	rel.mode                           = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent           = 60;
	rel.shared_secret                  = SECRET;
	rel.scope_ids                      = scopes;
	rel.n_scope_ids                    = n_scopes;
	/* Manual replication under test: no change-triggered replication of
	 * its own in between (auto_sync_test.c has that). */
	rel.auto_sync    = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	req.relationship = &rel;
	ProtobufCMessage *out =
	    call_expect(from, "DhcpServer", "AddFailover", &req.base, expect, NULL);
	protobuf_c_message_free_unpacked(out, NULL);
}

static Frep__V1__ReplicateResponse *
replicate_by_name(node *n, char **names, size_t n_names, bool dry_run, bool force)
{
	Frep__V1__ReplicateByNameRequest req = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	req.names                            = names;
	req.n_names                          = n_names;
	req.dry_run                          = dry_run;
	req.force                            = force;
	return (Frep__V1__ReplicateResponse *) call_expect(
	    n, "FailoverReplication", "ReplicateByName", &req.base, FREP_OK, NULL);
}

static Frep__V1__ScopeResult *
result_for(Frep__V1__ReplicateResponse *r, const char *scope)
{
	for (size_t i = 0; i < r->n_results; i++) {
		if (strcmp(r->results[i]->scope_id, scope) == 0) {
			return r->results[i];
		}
	}
	fail_msg("no result for scope %s", scope);
	return NULL;
}

/* n's audit records of scope (newest first); the caller frees them. */
static Frep__V1__ListAuditResponse *
list_audit(node *n, const char *scope)
{
	Frep__V1__ListAuditRequest la = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	la.scope_id                   = (char *) scope;
	return (Frep__V1__ListAuditResponse *) call_expect(
	    n, "DhcpServer", "ListAudit", &la.base, FREP_OK, NULL);
}

/* A: scope 10.1.0.0/24 with one of everything, in relationship rel1 with B. */
static void
build_rel1(fixture *f)
{
	node *a = &f->n[0], *b = &f->n[1];
	add_scope(a, "10.1.0.0", "10.1.0.10", "10.1.0.200");
	add_exclusion(a, "10.1.0.0", "10.1.0.50", "10.1.0.60", false);
	add_reservation(a, "10.1.0.0", "10.1.0.20", "00-11-22-33-44-55", "printer");
	set_scope_option(a, "10.1.0.0", 3, "10.1.0.1");
	add_policy(a, "10.1.0.0", "bootp", "10.1.0.100", "10.1.0.120");
	char *scopes[] = {"10.1.0.0"};
	add_failover(a, b, "rel1", scopes, 1, FREP_OK);
}

/* rel1 (A to B, 10.1.0.0) and rel3 (A to C, 10.3.0.0), then one new
 * reservation in each scope, at host .<host>: both relationships have
 * something to send. */
static void
build_rel1_rel3(fixture *f, const char *host)
{
	node *a = &f->n[0], *c = &f->n[2];
	char  ip1[32], ip3[32], mac1[32], mac3[32];
	build_rel1(f);
	add_scope(a, "10.3.0.0", "10.3.0.10", "10.3.0.200");
	char *s3[] = {"10.3.0.0"};
	add_failover(a, c, "rel3", s3, 1, FREP_OK);
	snprintf(ip1, sizeof(ip1), "10.1.0.%s", host);
	snprintf(ip3, sizeof(ip3), "10.3.0.%s", host);
	snprintf(mac1, sizeof(mac1), "00-11-22-33-44-%s", host);
	snprintf(mac3, sizeof(mac3), "00-11-22-33-43-%s", host);
	add_reservation(a, "10.1.0.0", ip1, mac1, "one");
	add_reservation(a, "10.3.0.0", ip3, mac3, "three");
}

/* --- tests -------------------------------------------------------------- */

static void
test_replication_add_failover_mirrors_and_copies(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     da[65], db[65];
	build_rel1(f);
	scope_digest(a, "10.1.0.0", da);
	scope_digest(b, "10.1.0.0", db);
	assert_string_equal(da, db);

	Frep__V1__FailoverKey key         = FREP__V1__FAILOVER_KEY__INIT;
	key.name                          = "rel1";
	Frep__V1__FailoverRelationship *m = (Frep__V1__FailoverRelationship *) call_expect(
	    b, "DhcpServer", "GetFailover", &key.base, FREP_OK, NULL);
	assert_string_equal(m->partner_server, a->url);
	assert_int_equal(m->load_balance_percent, 40);
	assert_int_equal(m->n_scope_ids, 1);
	assert_string_equal(m->shared_secret, "");
	protobuf_c_message_free_unpacked(&m->base, NULL);

	/* Same name again: refused, nothing changes on either side. */
	add_scope(a, "10.2.0.0", "10.2.0.10", "10.2.0.200");
	char *s2[] = {"10.2.0.0"};
	add_failover(a, b, "rel1", s2, 1, FREP_ALREADY_EXISTS);
	char d2[65];
	scope_digest_or_empty(b, "10.2.0.0", d2);
	assert_string_equal(d2, "");

	/* A partner that already has the scope refuses it (without force). */
	add_scope(b, "10.2.0.0", "10.2.0.10", "10.2.0.100");
	add_failover(a, b, "rel2", s2, 1, FREP_ALREADY_EXISTS);
	key.name = "rel2";
	protobuf_c_message_free_unpacked(
	    call_expect(a, "DhcpServer", "GetFailover", &key.base, FREP_NOT_FOUND, NULL), NULL);
	protobuf_c_message_free_unpacked(
	    call_expect(b, "DhcpServer", "GetFailover", &key.base, FREP_NOT_FOUND, NULL), NULL);
}

static void
test_replication_each_kind_added_changed_removed(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     da[65], db[65];
	build_rel1(f);

	add_reservation(a, "10.1.0.0", "10.1.0.21", "00-11-22-33-44-66", "laptop");
	Frep__V1__SetReservationRequest sr     = FREP__V1__SET_RESERVATION_REQUEST__INIT;
	Frep__V1__Reservation           res    = FREP__V1__RESERVATION__INIT;
	char                           *mask[] = {"name"};
	res.scope_id                           = "10.1.0.0";
	res.ip_address                         = "10.1.0.20";
	res.name                               = "printer-2";
	sr.reservation                         = &res;
	sr.update_mask                         = mask;
	sr.n_update_mask                       = 1;
	call_ok(a, "DhcpServer", "SetReservation", &sr.base);
	add_exclusion(a, "10.1.0.0", "10.1.0.50", "10.1.0.60", true);
	add_exclusion(a, "10.1.0.0", "10.1.0.70", "10.1.0.80", false);
	set_scope_option(a, "10.1.0.0", 3, "10.1.0.254");
	set_scope_option(a, "10.1.0.0", 15, "example.org");
	Frep__V1__PolicyKey pk = FREP__V1__POLICY_KEY__INIT;
	pk.scope_id            = "10.1.0.0";
	pk.name                = "bootp";
	call_ok(a, "DhcpServer", "RemovePolicy", &pk.base);

	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	assert_int_equal(r->n_errors, 0);
	assert_int_equal(r->n_scope_ids, 1);
	Frep__V1__ScopeResult *sres = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_OK);
	assert_false(sres->unchanged);
	assert_int_equal(sres->changes->reservations->added, 1);
	assert_int_equal(sres->changes->reservations->updated, 1);
	assert_int_equal(sres->changes->exclusions->added, 1);
	assert_int_equal(sres->changes->exclusions->removed, 1);
	assert_int_equal(sres->changes->options->added, 1);
	assert_int_equal(sres->changes->options->updated, 1);
	assert_int_equal(sres->changes->policies->removed, 1);
	assert_int_equal(sres->sent->reservations, 2);
	scope_digest(a, "10.1.0.0", da);
	scope_digest(b, "10.1.0.0", db);
	assert_string_equal(da, db);
	assert_string_equal(sres->digest_after, da);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* On B, as a program would read it. */
	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	rk.scope_id                 = "10.1.0.0";
	rk.ip_address               = "10.1.0.20";
	Frep__V1__Reservation *got  = (Frep__V1__Reservation *) call_expect(
	     b, "DhcpServer", "GetReservation", &rk.base, FREP_OK, NULL);
	assert_string_equal(got->name, "printer-2");
	protobuf_c_message_free_unpacked(&got->base, NULL);

	/* Replicating again is harmless: nothing is sent. */
	r    = replicate_by_name(a, names, 1, false, false);
	sres = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_OK);
	assert_true(sres->unchanged);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* And with force it is sent and changes nothing. */
	r    = replicate_by_name(a, names, 1, false, true);
	sres = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_OK);
	assert_false(sres->unchanged);
	assert_int_equal(sres->changes->reservations->added + sres->changes->reservations->updated +
			     sres->changes->reservations->removed,
	    0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void
test_replication_by_scope_id_all_and_item_errors(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	build_rel1(f);
	add_scope(a, "10.9.0.0", "10.9.0.10", "10.9.0.20"); /* in no relationship */
	add_reservation(a, "10.1.0.0", "10.1.0.30", "00-11-22-33-44-77", "x");

	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	char                               *ids[] = {"10.1.0.0", "10.8.0.0", "10.9.0.0"};
	req.scope_ids                             = ids;
	req.n_scope_ids                           = 3;
	Frep__V1__ReplicateResponse *r            = (Frep__V1__ReplicateResponse *) call_expect(
		       a, "FailoverReplication", "ReplicateByScopeId", &req.base, FREP_OK, NULL);
	assert_int_equal(r->n_scope_ids, 1);
	assert_string_equal(r->scope_ids[0], "10.1.0.0");
	assert_int_equal(r->n_errors, 2);
	assert_string_equal(r->errors[0]->item, "10.8.0.0");
	assert_int_equal(r->errors[0]->code, FREP_NOT_FOUND);
	assert_string_equal(r->errors[1]->item, "10.9.0.0");
	assert_int_equal(r->errors[1]->code, FREP_FAILED_PRECONDITION);
	assert_int_equal(result_for(r, "10.1.0.0")->changes->reservations->added, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Malformed requests: INVALID_ARGUMENT, nothing replicated. */
	add_reservation(a, "10.1.0.0", "10.1.0.31", "00-11-22-33-44-88", "y");
	char da[65], db_before[65], db_after[65];
	scope_digest(b, "10.1.0.0", db_before);
	char *bad[]     = {"10.1.0.0", "10.1.0.256"};
	req.scope_ids   = bad;
	req.n_scope_ids = 2;
	frep_status st;
	protobuf_c_message_free_unpacked(call_expect(a, "FailoverReplication", "ReplicateByScopeId",
					     &req.base, FREP_INVALID_ARGUMENT, &st),
	    NULL);
	assert_non_null(strstr(st.message, "10.1.0.256"));
	char *dup[]   = {"10.1.0.0", "10.1.0.0"};
	req.scope_ids = dup;
	protobuf_c_message_free_unpacked(call_expect(a, "FailoverReplication", "ReplicateByScopeId",
					     &req.base, FREP_INVALID_ARGUMENT, &st),
	    NULL);
	Frep__V1__ReplicateByNameRequest nreq   = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *dupn[] = {"rel1", "rel1"};
	nreq.names                              = dupn;
	nreq.n_names                            = 2;
	protobuf_c_message_free_unpacked(call_expect(a, "FailoverReplication", "ReplicateByName",
					     &nreq.base, FREP_INVALID_ARGUMENT, &st),
	    NULL);
	scope_digest(b, "10.1.0.0", db_after);
	assert_string_equal(db_before, db_after);

	/* Unknown name: a per-item error; no names: every failover scope. */
	char *unknown[] = {"nope"};
	r               = replicate_by_name(a, unknown, 1, false, false);
	assert_int_equal(r->n_results, 0);
	assert_int_equal(r->n_errors, 1);
	assert_int_equal(r->errors[0]->code, FREP_NOT_FOUND);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = replicate_by_name(a, NULL, 0, false, false);
	assert_int_equal(r->n_results, 1);
	assert_int_equal(r->n_scope_ids, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	scope_digest(a, "10.1.0.0", da);
	scope_digest(b, "10.1.0.0", db_after);
	assert_string_equal(da, db_after);
}

static void
test_replication_dry_run_changes_nothing(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     before[65], after[65];
	build_rel1(f);
	scope_digest(b, "10.1.0.0", before);
	add_reservation(a, "10.1.0.0", "10.1.0.40", "00-11-22-33-44-99", "new");
	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, true, false);
	Frep__V1__ScopeResult       *sres    = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_OK);
	assert_int_equal(sres->changes->reservations->added, 1);
	assert_int_equal(sres->n_diff, 1);
	assert_string_equal(sres->diff[0]->kind, "reservation");
	assert_int_equal(sres->diff[0]->action, FREP__V1__DIFF_ACTION__DIFF_ACTION_ADD);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	scope_digest(b, "10.1.0.0", after);
	assert_string_equal(before, after);
}

static void
test_replication_one_partner_down_others_proceed(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *c = &f->n[2];
	build_rel1_rel3(f, "41");
	int status = tu_proc_stop(&c->proc, SIGKILL, 10000);
	assert_int_not_equal(status, -1);

	char                        *names[] = {"rel1", "rel3"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 2, false, false);
	assert_int_equal(result_for(r, "10.1.0.0")->code, FREP_OK);
	Frep__V1__ScopeResult *down = result_for(r, "10.3.0.0");
	assert_int_equal(down->code, FREP_UNAVAILABLE);
	assert_non_null(strstr(down->message, c->url));
	assert_int_equal(r->n_scope_ids, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* C comes back: a retry completes it. */
	node_start(f, c);
	r = replicate_by_name(a, names, 2, false, false);
	assert_int_equal(result_for(r, "10.3.0.0")->code, FREP_OK);
	assert_int_equal(r->n_scope_ids, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void
test_replication_missing_option_definition_refused(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     before[65], after[65];
	build_rel1(f);
	scope_digest(b, "10.1.0.0", before);
	Frep__V1__OptionDefinition d = FREP__V1__OPTION_DEFINITION__INIT;
	d.option_id                  = 250;
	d.name                       = "site-code";
	d.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	call_ok(a, "DhcpServer", "AddOptionDefinition", &d.base);
	set_scope_option(a, "10.1.0.0", 250, "paris-3");
	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	Frep__V1__ScopeResult       *sres    = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(sres->message, "250"));
	assert_int_equal(r->n_scope_ids, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	scope_digest(b, "10.1.0.0", after);
	assert_string_equal(before, after);
}

/* Fan-out: one request contacts its partners at once. C is stopped
 * (SIGSTOP) and named first: B's scope is applied without waiting behind
 * C's partner timeout (3 s here; one partner after another, B's apply
 * would come after it), and the results keep the request's order. */
static void
test_replication_partners_at_once(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1], *c = &f->n[2];
	build_rel1_rel3(f, "45");
	assert_int_equal(kill(c->proc.pid, SIGSTOP), 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long                    start   = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	char                        *names[] = {"rel3", "rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 2, false, false);
	kill(c->proc.pid, SIGCONT);
	assert_int_equal(r->n_results, 2);
	assert_string_equal(r->results[0]->scope_id, "10.3.0.0");
	assert_int_equal(r->results[0]->code, FREP_DEADLINE_EXCEEDED);
	assert_string_equal(r->results[1]->scope_id, "10.1.0.0");
	assert_int_equal(r->results[1]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	Frep__V1__ListAuditResponse *audit = list_audit(b, "10.1.0.0");
	assert_true(audit->n_records >= 1);
	assert_string_equal(audit->records[0]->direction, "applied");
	if (audit->records[0]->time_unix_ms >= start + 3000) {
		fail_msg("B applied at +%lld ms: after C's partner timeout (3000 ms), as if the "
			 "partners were contacted one after another",
		    (long long) audit->records[0]->time_unix_ms - start);
	}
	protobuf_c_message_free_unpacked(&audit->base, NULL);
}

/* Partner calls signed with a wrong secret, unsigned, or replayed are
 * refused and change nothing. */
static void
test_replication_partner_calls_need_the_secret(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     before[65], after[65];
	build_rel1(f);
	scope_digest(b, "10.1.0.0", before);

	/* A's own snapshot with one more reservation, as an attacker would send it. */
	add_reservation(a, "10.1.0.0", "10.1.0.42", "00-11-22-33-44-cc", "evil");
	Frep__V1__ScopeConfigRequest cr = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	cr.scope_id                     = "10.1.0.0";
	Frep__V1__ScopeConfig *cfg      = (Frep__V1__ScopeConfig *) call_expect(
		 a, "DhcpServer", "GetScopeConfig", &cr.base, FREP_OK, NULL);
	Frep__V1__ApplyScopeRequest req = FREP__V1__APPLY_SCOPE_REQUEST__INIT;
	req.relationship                = "rel1";
	req.source_server               = a->url;
	req.config                      = cfg;
	size_t   len                    = protobuf_c_message_get_packed_size(&req.base);
	uint8_t *payload                = malloc(len);
	protobuf_c_message_pack(&req.base, payload);
	const char *path = "/frep.v1.Partner/ApplyScope";

	struct {
		const char *secret;
		bool        with_mac;
	} cases[] = {{"wrong secret", true}, {NULL, false}};
	for (size_t i = 0; i < 2; i++) {
		char    mac[PARTNER_AUTH_MAC_HEXLEN], ts[32];
		int64_t now = partner_auth_now_ms();
		snprintf(ts, sizeof(ts), "%lld", (long long) now);
		if (cases[i].with_mac) {
			partner_auth_mac(cases[i].secret, path, "rel1", TEST_SENDER, now, "n1",
			    payload, len, mac);
		}
		frep_metadata     md[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, "rel1"},
			{PARTNER_AUTH_KEY_SENDER, TEST_SENDER}, {PARTNER_AUTH_KEY_TIMESTAMP, ts},
			{PARTNER_AUTH_KEY_NONCE, "n1"}, {PARTNER_AUTH_KEY_MAC, mac}};
		frep_call_options co   = {.metadata = md, .n_metadata = cases[i].with_mac ? 5 : 1};
		ProtobufCMessage *out  = NULL;
		frep_status       st;
		assert_int_equal(frep_client_call(b->c, path, &req.base,
				     &frep__v1__apply_scope_response__descriptor, &out, &co, &st),
		    FREP_UNAUTHENTICATED);
		assert_null(strstr(st.message, SECRET));
	}
	/* The right secret, then the very same call replayed. */
	char    mac[PARTNER_AUTH_MAC_HEXLEN], ts[32];
	int64_t now = partner_auth_now_ms();
	snprintf(ts, sizeof(ts), "%lld", (long long) now);
	frep_metadata     md[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, "rel1"},
		{PARTNER_AUTH_KEY_SENDER, TEST_SENDER}, {PARTNER_AUTH_KEY_TIMESTAMP, ts},
		{PARTNER_AUTH_KEY_NONCE, "n2"}, {PARTNER_AUTH_KEY_MAC, mac}};
	frep_call_options co   = {.metadata = md, .n_metadata = 5};
	ProtobufCMessage *out  = NULL;
	frep_status       st;
	req.dry_run = true; /* a dry run, so the first (accepted) call changes nothing */
	len         = protobuf_c_message_get_packed_size(&req.base);
	payload     = realloc(payload, len);
	protobuf_c_message_pack(&req.base, payload);
	partner_auth_mac(SECRET, path, "rel1", TEST_SENDER, now, "n2", payload, len, mac);
	assert_int_equal(frep_client_call(b->c, path, &req.base,
			     &frep__v1__apply_scope_response__descriptor, &out, &co, &st),
	    FREP_OK);
	protobuf_c_message_free_unpacked(out, NULL);
	/* A new call id, same MAC: the replay is refused. */
	assert_int_equal(frep_client_call(b->c, path, &req.base,
			     &frep__v1__apply_scope_response__descriptor, &out, &co, &st),
	    FREP_UNAUTHENTICATED);
	assert_non_null(strstr(st.message, "replayed"));
	free(payload);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
	scope_digest(b, "10.1.0.0", after);
	assert_string_equal(before, after);
}

/* The description of every reservation import_scope makes ("" unless a
 * test sets it). */
static const char *import_description = "";

/* A whole scope as ImportScope takes it: n reservations. */
static void
import_scope(node *n, int third, int octet2, int n_res, const char *name, bool dry_run,
    Frep__V1__ImportScopeResponse **out)
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
	Frep__V1__Reservation  *res  = calloc((size_t) n_res, sizeof(*res));
	Frep__V1__Reservation **resp = calloc((size_t) n_res + 1, sizeof(*resp));
	char(*ips)[32]               = calloc((size_t) n_res, 32);
	char(*macs)[32]              = calloc((size_t) n_res, 32);
	for (int i = 0; i < n_res; i++) {
		frep__v1__reservation__init(&res[i]);
		snprintf(ips[i], 32, "10.%d.%d.%d", octet2, third, 11 + i);
		snprintf(macs[i], 32, "02-%02x-%02x-00-00-%02x", octet2, third, i);
		res[i].scope_id    = scope_id;
		res[i].ip_address  = ips[i];
		res[i].client_id   = macs[i];
		res[i].name        = "host";
		res[i].description = (char *) import_description;
		resp[i]            = &res[i];
	}
	Frep__V1__ScopeConfig cfg        = FREP__V1__SCOPE_CONFIG__INIT;
	cfg.scope                        = &scope;
	cfg.reservations                 = resp;
	cfg.n_reservations               = (size_t) n_res;
	Frep__V1__ImportScopeRequest req = FREP__V1__IMPORT_SCOPE_REQUEST__INIT;
	req.config                       = &cfg;
	req.dry_run                      = dry_run;
	ProtobufCMessage *o = call_expect(n, "DhcpServer", "ImportScope", &req.base, FREP_OK, NULL);
	if (out != NULL) {
		*out = (Frep__V1__ImportScopeResponse *) o;
	} else {
		protobuf_c_message_free_unpacked(o, NULL);
	}
	free(res);
	free(resp);
	free(ips);
	free(macs);
}

static void
test_replication_import_scope(void **state)
{
	fixture                       *f = *state;
	node                          *a = &f->n[0];
	Frep__V1__ImportScopeResponse *r = NULL;
	char                           d[65];
	import_scope(a, 7, 20, 5, "imported", true, &r);
	assert_int_equal(r->changes->reservations->added, 5);
	assert_string_equal(r->digest_before, "");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	scope_digest_or_empty(a, "10.20.7.0", d);
	assert_string_equal(d, ""); /* the dry run stored nothing */
	import_scope(a, 7, 20, 5, "imported", false, &r);
	scope_digest(a, "10.20.7.0", d);
	assert_string_equal(r->digest_after, d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Importing fewer reservations removes the others. */
	import_scope(a, 7, 20, 2, "imported", false, &r);
	assert_int_equal(r->changes->reservations->removed, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The audit record counts what the import changed (it once said 0). */
	Frep__V1__ListAuditResponse *audit = list_audit(a, "10.20.7.0");
	assert_true(audit->n_records >= 2);
	assert_int_equal(audit->records[0]->removed, 3);
	assert_string_equal(audit->records[0]->source, "import");
	protobuf_c_message_free_unpacked(&audit->base, NULL);
}

/* n scopes 10.(100 + i / 256).(i % 256).0 on node a, n_res reservations
 * each; their ids in ids[] (idp[] points at them). */
static void
import_many(node *a, int n, int n_res, const char *name, char (*ids)[32], char **idp)
{
	for (int i = 0; i < n; i++) {
		import_scope(a, i % 256, 100 + i / 256, n_res, name, false, NULL);
		snprintf(ids[i], 32, "10.%d.%d.0", 100 + i / 256, i % 256);
		idp[i] = ids[i];
	}
}

/* 600 scopes: three ApplyScopes batches, the first two sent from their own
 * thread while the next is built (the source's pipe); an unchanged
 * relationship sends nothing; a few changed scopes send only those; a
 * forced resend answers every scope OK, in the request's order, and
 * leaves both sides equal. */
static void
test_replication_many_scopes_batched(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	enum { N = 600 };
	char  ids[N][32];
	char *idp[N];
	import_many(a, N, 3, "many", ids, idp);
	add_failover(a, b, "many", idp, N, FREP_OK);
	char                        *names[] = {"many"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	assert_int_equal(r->n_results, N);
	assert_int_equal(r->n_scope_ids, N);
	for (size_t i = 0; i < r->n_results; i++) {
		assert_true(r->results[i]->unchanged);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);

	for (int i = 0; i < N; i += 60) {
		import_scope(a, i % 256, 100 + i / 256, 4, "many", false, NULL);
	}
	r           = replicate_by_name(a, names, 1, false, false);
	size_t sent = 0;
	for (size_t i = 0; i < r->n_results; i++) {
		assert_int_equal(r->results[i]->code, FREP_OK);
		if (!r->results[i]->unchanged) {
			sent++;
			assert_int_equal(r->results[i]->changes->reservations->added, 1);
		}
	}
	assert_int_equal(sent, 10);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Forced: every scope sent, in batches; all equal afterwards. */
	r = replicate_by_name(a, names, 1, false, true);
	assert_int_equal(r->n_scope_ids, N);
	assert_int_equal(r->n_results, N);
	for (size_t i = 0; i < r->n_results; i++) {
		assert_string_equal(r->results[i]->scope_id, ids[i]);
		assert_int_equal(r->results[i]->code, FREP_OK);
		assert_false(r->results[i]->unchanged);
		assert_string_equal(r->results[i]->digest_after, r->results[i]->digest_before);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	for (int i = 0; i < N; i += 37) {
		char da[65], db[65];
		scope_digest(a, ids[i], da);
		scope_digest(b, ids[i], db);
		assert_string_equal(da, db);
	}
}

/* A partner that takes requests of at most 64 KiB (--max-message-bytes,
 * the least frepd takes): a relationship of 300 scopes (about 2 KB each,
 * 0.6 MB in all) still reaches it, in ApplyScopes batches that fit its
 * limit. Before, one batch of 256 scopes (half a megabyte) was refused
 * RESOURCE_EXHAUSTED by the sending client ("exceeds the server's limit"),
 * for every scope in it, though each fitted on its own. */
static void
test_replication_batches_fit_the_partner_limit(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	node_restart_with(f, b, "--max-message-bytes", "65536");
	enum { N = 301 }; /* 300 of 2 KB, then 10.99.0.0 */
	char  ids[N][32];
	char *idp[N];
	import_many(a, N - 1, 20, "limited", ids, idp);
	import_scope(a, 0, 99, 1, "limited", false, NULL);
	snprintf(ids[N - 1], sizeof(ids[N - 1]), "10.99.0.0");
	idp[N - 1] = ids[N - 1];
	add_failover(a, b, "limited", idp, N, FREP_OK);
	/* 10.99.0.0 grows past the partner's limit on its own: 240
	 * reservations with 300-byte descriptions, about 86 KB. */
	char long_text[301];
	memset(long_text, 'd', 300);
	long_text[300]     = '\0';
	import_description = long_text;
	import_scope(a, 0, 99, 240, "limited", false, NULL);
	import_description                   = "";
	char                        *names[] = {"limited"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, true);
	assert_int_equal(r->n_results, N);
	size_t                 failed = 0;
	Frep__V1__ScopeResult *big    = NULL;
	for (size_t i = 0; i < r->n_results; i++) {
		if (strcmp(r->results[i]->scope_id, "10.99.0.0") == 0) {
			big = r->results[i];
		} else if (r->results[i]->code != FREP_OK) {
			if (failed++ == 0) {
				print_error("%s: %s: %s\n", r->results[i]->scope_id,
				    frep_code_name((frep_code) r->results[i]->code),
				    r->results[i]->message);
			}
		}
	}
	assert_int_equal(failed, 0);
	/* Only the scope too big on its own fails, naming the limit. */
	assert_non_null(big);
	print_message(
	    "%s: %s: %s\n", big->scope_id, frep_code_name((frep_code) big->code), big->message);
	assert_int_equal(big->code, FREP_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(big->message, "exceeds the server's limit of 65536 bytes"));
	assert_non_null(strstr(big->message, b->url));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	for (int i = 0; i < N - 1; i += 29) {
		char da[65], db[65];
		scope_digest(a, ids[i], da);
		scope_digest(b, ids[i], db);
		assert_string_equal(da, db);
	}
}

/* The kinds the first test leaves out: a reservation removed, an option
 * removed, a policy added and changed, the scope's own properties
 * changed, a reservation-level option changed. */
static void
test_replication_every_kind_round_two(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	build_rel1(f);

	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	rk.scope_id                 = "10.1.0.0";
	rk.ip_address               = "10.1.0.20";
	call_ok(a, "DhcpServer", "RemoveReservation", &rk.base);
	Frep__V1__OptionValueKey ok = FREP__V1__OPTION_VALUE_KEY__INIT;
	Frep__V1__OptionTarget   t  = FREP__V1__OPTION_TARGET__INIT;
	t.scope_id                  = "10.1.0.0";
	ok.target                   = &t;
	ok.option_id                = 3;
	call_ok(a, "DhcpServer", "RemoveOptionValue", &ok.base);
	add_policy(a, "10.1.0.0", "second", "10.1.0.130", "10.1.0.140");
	Frep__V1__SetPolicyRequest sp   = FREP__V1__SET_POLICY_REQUEST__INIT;
	Frep__V1__Policy           pol  = FREP__V1__POLICY__INIT;
	char                      *pm[] = {"lease_duration_s"};
	pol.scope_id                    = "10.1.0.0";
	pol.name                        = "bootp";
	pol.lease_duration_s            = 7200;
	sp.policy                       = &pol;
	sp.update_mask                  = pm;
	sp.n_update_mask                = 1;
	call_ok(a, "DhcpServer", "SetPolicy", &sp.base);
	Frep__V1__SetScopeRequest ss   = FREP__V1__SET_SCOPE_REQUEST__INIT;
	Frep__V1__Scope           sc   = FREP__V1__SCOPE__INIT;
	char                     *sm[] = {"description", "lease_duration_s"};
	sc.scope_id                    = "10.1.0.0";
	sc.description                 = "second floor";
	sc.lease_duration_s            = 86400;
	ss.scope                       = &sc;
	ss.update_mask                 = sm;
	ss.n_update_mask               = 2;
	call_ok(a, "DhcpServer", "SetScope", &ss.base);
	add_reservation(a, "10.1.0.0", "10.1.0.25", "00-11-22-33-44-dd", "withopt");

	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	Frep__V1__ScopeResult       *sres    = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_OK);
	assert_int_equal(sres->changes->scope->updated, 1);
	assert_int_equal(sres->changes->reservations->removed, 1);
	assert_int_equal(sres->changes->reservations->added, 1);
	assert_int_equal(sres->changes->options->removed, 1);
	assert_int_equal(sres->changes->policies->added, 1);
	assert_int_equal(sres->changes->policies->updated, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* A reservation-level option changed: an update of the reservation. */
	Frep__V1__SetOptionValueRequest req    = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          rt     = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
	char                           *vals[] = {"10.1.0.9"};
	rt.scope_id                            = "10.1.0.0";
	rt.reserved_ip                         = "10.1.0.25";
	v.option_id                            = 3;
	v.values                               = vals;
	v.n_values                             = 1;
	req.target                             = &rt;
	req.value                              = &v;
	call_ok(a, "DhcpServer", "SetOptionValue", &req.base);
	r    = replicate_by_name(a, names, 1, false, false);
	sres = result_for(r, "10.1.0.0");
	assert_int_equal(sres->changes->reservations->updated, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	char da[65], db[65];
	scope_digest(a, "10.1.0.0", da);
	scope_digest(b, "10.1.0.0", db);
	assert_string_equal(da, db);
	Frep__V1__ScopeKey key = FREP__V1__SCOPE_KEY__INIT;
	key.scope_id           = "10.1.0.0";
	Frep__V1__Scope *got =
	    (Frep__V1__Scope *) call_expect(b, "DhcpServer", "GetScope", &key.base, FREP_OK, NULL);
	assert_string_equal(got->description, "second floor");
	assert_int_equal(got->lease_duration_s, 86400);
	protobuf_c_message_free_unpacked(&got->base, NULL);
}

/* A partner that accepts the connection but never answers (stopped with
 * SIGSTOP): DEADLINE_EXCEEDED for its scopes within the partner timeout. */
static void
test_replication_slow_partner_deadline(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	build_rel1(f);
	add_reservation(a, "10.1.0.0", "10.1.0.44", "00-11-22-33-44-ee", "late");
	assert_int_equal(kill(b->proc.pid, SIGSTOP), 0);
	long long                    t0      = tu_now_ms();
	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	long long                    took    = tu_now_ms() - t0;
	kill(b->proc.pid, SIGCONT);
	Frep__V1__ScopeResult *sres = result_for(r, "10.1.0.0");
	assert_int_equal(sres->code, FREP_DEADLINE_EXCEEDED);
	assert_true(took < 3000 + 2000); /* --partner-timeout-ms 3000, plus margin */
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Awake again: the retry goes through. */
	r = replicate_by_name(a, names, 1, false, false);
	assert_int_equal(result_for(r, "10.1.0.0")->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* A proxy hook (partner_proxy.h) that leaves the question of the
 * partner's size limit (Introspection/GetServerInfo) unanswered, counting
 * it in *arg, and passes every other call on. */
static tp_action
mute_server_info(void *arg, const frep_request_view *v, nng_msg **reply)
{
	(void) reply;
	if (strcmp(v->method, "/frep.rpc.v1.Introspection/GetServerInfo") != 0) {
		return TP_FORWARD;
	}
	__atomic_add_fetch((int *) arg, 1, __ATOMIC_SEQ_CST);
	return TP_DROP;
}

/* A partner that never answers the question of its size limit (asked
 * before a batch grows past RPC_MIN_MAX_MESSAGE_BYTES, 64 KiB) no longer
 * holds a replication past its caller's deadline: with A's partner
 * timeout 20 s and the caller's deadline 10 s, A asks once for the batch
 * (a quarter of what is left), then the scope of about 86 KB goes alone
 * and its call asks again within its own deadline; the scope fails
 * DEADLINE_EXCEEDED naming the partner, the call itself is answered in
 * time, and B's copy is untouched. Before, each question waited the whole
 * partner timeout and the caller got DEADLINE_EXCEEDED with nothing. */
static void
test_replication_limit_question_keeps_to_the_caller_deadline(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	node_restart_with(f, a, "--partner-timeout-ms", "20000");

	int      swallowed = 0;
	tp_proxy px;
	node     proxy = {.name = "proxy"};
	snprintf(proxy.url, sizeof(proxy.url), "ipc://%s/proxy.sock", f->dir);
	tp_proxy_start(&px, proxy.url, b->url, mute_server_info, &swallowed);
	import_scope(a, 0, 98, 1, "asked", false, NULL);
	char *ids[]   = {"10.98.0.0"};
	char *names[] = {"asked"};
	add_failover(a, &proxy, "asked", ids, 1, FREP_OK);
	char long_text[301];
	memset(long_text, 'd', 300);
	long_text[300]     = '\0';
	import_description = long_text;
	import_scope(a, 0, 98, 240, "asked", false, NULL);
	import_description = "";

	char db_before[65], db_after[65];
	scope_digest(b, "10.98.0.0", db_before);
	frep_client_set_call_timeout(a->c, 10000);
	Frep__V1__ReplicateResponse *r = replicate_by_name(a, names, 1, false, false);
	frep_client_set_call_timeout(a->c, 0);
	Frep__V1__ScopeResult *res = result_for(r, "10.98.0.0");
	print_message("10.98.0.0: %s: %s\n", frep_code_name((frep_code) res->code), res->message);
	assert_int_equal(res->code, FREP_DEADLINE_EXCEEDED);
	assert_non_null(strstr(res->message, proxy.url));
	assert_non_null(strstr(res->message, "ApplyScopes: not sent"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The batch's question and the scope call's own (and, after 5 s of
	 * that one, a keepalive ping, which asks the same). */
	assert_true(__atomic_load_n(&swallowed, __ATOMIC_SEQ_CST) >= 2);
	scope_digest(b, "10.98.0.0", db_after);
	assert_string_equal(db_before, db_after);

	tp_proxy_stop(&px);
}

/* A scope edited and edited back on A is unchanged for its partner. Its
 * digest, no longer stored, is computed by the replication, whose
 * snapshot is registered as being sent (read once for the digest and the
 * send): a scope found unchanged must end that registration, or B's later
 * version of it would be refused at A as crossing a send of A's. */
static void
test_replication_unchanged_scope_leaves_no_send_behind(void **state)
{
	fixture *f = *state;
	node    *a = &f->n[0], *b = &f->n[1];
	char     da[65], db[65];
	build_rel1(f);
	add_reservation(a, "10.1.0.0", "10.1.0.44", "00-11-22-33-44-ee", "passing");
	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	rk.scope_id                 = "10.1.0.0";
	rk.ip_address               = "10.1.0.44";
	call_ok(a, "DhcpServer", "RemoveReservation", &rk.base);

	char                        *names[] = {"rel1"};
	Frep__V1__ReplicateResponse *r       = replicate_by_name(a, names, 1, false, false);
	Frep__V1__ScopeResult       *res     = result_for(r, "10.1.0.0");
	assert_int_equal(res->code, FREP_OK);
	assert_true(res->unchanged);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* B's change goes to A at once. */
	add_reservation(b, "10.1.0.0", "10.1.0.45", "00-11-22-33-44-ef", "from b");
	r   = replicate_by_name(b, names, 1, false, false);
	res = result_for(r, "10.1.0.0");
	if (res->code != FREP_OK) {
		fail_msg("B to A: %s: %s", frep_code_name((frep_code) res->code), res->message);
	}
	assert_false(res->unchanged);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	scope_digest(a, "10.1.0.0", da);
	scope_digest(b, "10.1.0.0", db);
	assert_string_equal(da, db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_replication_add_failover_mirrors_and_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_each_kind_added_changed_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_by_scope_id_all_and_item_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_dry_run_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_one_partner_down_others_proceed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_partners_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_missing_option_definition_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_partner_calls_need_the_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_import_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_every_kind_round_two, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_slow_partner_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_many_scopes_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_batches_fit_the_partner_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_unchanged_scope_leaves_no_send_behind, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_replication_limit_question_keeps_to_the_caller_deadline, setup, teardown),
	};
	return cmocka_run_group_tests_name("replication", tests, NULL, NULL);
}
