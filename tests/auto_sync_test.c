/*
 * Keeping the pair in step by itself (issue 15), on two real frepd: a
 * change on A reaches B with no replicate call (an import too); a burst is
 * coalesced; what B applied from A is never sent back; a partner that was
 * down is retried with backoff (every attempt audited) and catches up; an
 * edit made on both sides, or a scope the partner lacks, is never
 * overwritten until an operator replicates; work pending at a restart is
 * resumed; GetReplicationStatus and ReplicateServerSettings (all or
 * nothing) show and settle the server-level settings. Every wait is
 * bounded and polls a state; no test asserts a duration (the backoff test
 * bounds a count of attempts over a window, which slowness only lowers).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fault_test_common.h"
#include "partner_proxy.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"

#define SECRET "auto sync secret"
#define SCOPE  "10.1.0.0"
#define WAIT   30000 /* ms: the bound of every wait (a failure, never a figure) */

typedef struct fixture {
	char   *dir;
	rt_node a, b;
} fixture;

static const char *const quick[] = {
    "--auto-sync-debounce-ms", "50", "--auto-sync-backoff-max-ms", "500", NULL};

static void
node_flags(rt_node *n, const char *const *flags)
{
	size_t i = 0;
	for (; flags[i] != NULL && i < RT_MAX_EXTRA - 1; i++) {
		n->extra[i] = flags[i];
	}
	n->extra[i] = NULL;
}

/* Starts n again (with flags, when not NULL) and makes its admin client
 * ready: the client kept from before the stop may still hold the old
 * connection, and a write sent on it fails "connection ... lost during the
 * call"; a health call (idempotent, so resent) takes that instead. */
static void
start_again(fixture *f, rt_node *n, const char *const *flags)
{
	if (flags != NULL) {
		node_flags(n, flags);
	}
	rt_node_start(n, f->dir);
	assert_int_equal(tu_client_ready(n->c, WAIT), 0);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char     url[600];
	f->dir = tu_tmpdir();
	snprintf(url, sizeof(url), "ipc://%s/a.sock", f->dir);
	rt_node_init(&f->a, f->dir, "a", url);
	snprintf(url, sizeof(url), "ipc://%s/b.sock", f->dir);
	rt_node_init(&f->b, f->dir, "b", url);
	node_flags(&f->a, quick);
	node_flags(&f->b, quick);
	rt_node_start(&f->a, f->dir);
	rt_node_start(&f->b, f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f  = *state;
	int      ra = rt_node_fini(&f->a);
	int      rb = rt_node_fini(&f->b);
	if (getenv("FREP_KEEP_DIR") == NULL) {
		tu_rmtree(f->dir);
	} else {
		print_message("kept %s\n", f->dir);
	}
	free(f->dir);
	free(f);
	return ra == 0 && rb == 0 ? 0 : -1; /* a crash or, under LSan, a leak fails */
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Adds scope id ("10.1.X.0", a /24) on c with range .10 to .250. */
static void
add_scope_on(frep_client *c, const char *id)
{
	char start[32], end[32];
	int  prefix = (int) strlen(id) - 1; /* id without its last "0" */
	snprintf(start, sizeof(start), "%.*s10", prefix, id);
	snprintf(end, sizeof(end), "%.*s250", prefix, id);
	rt_add_scope(c, id, start, end, false);
}

/* A relationship r from A to B holding scope_id (new on A), auto_sync as
 * given. */
static void
pair_up_with(fixture *f, Frep__V1__AutoSync auto_sync, char *scope_id)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	add_scope_on(f->a.c, scope_id);
	rel.name           = "r";
	rel.partner_server = f->b.url;
	rel.shared_secret  = SECRET;
	rel.scope_ids      = &scope_id;
	rel.n_scope_ids    = 1;
	rel.auto_sync      = auto_sync;
	req.relationship   = &rel;
	rt_call_ok(f->a.c, "DhcpServer", "AddFailover", &req.base);
}

/* A relationship r from A to B holding SCOPE. */
static void
pair_up(fixture *f, Frep__V1__AutoSync auto_sync)
{
	pair_up_with(f, auto_sync, SCOPE);
}

/* scope_id (new on A) added to relationship r by AddFailoverScope (which
 * replicates it). */
static void
add_relationship_scope(fixture *f, char *scope_id)
{
	add_scope_on(f->a.c, scope_id);
	rt_failover_scope(f->a.c, "AddFailoverScope", "r", &scope_id, 1, false, FREP_OK, NULL);
}

/* SetFailover of r through c changing the one field named to rel's value;
 * fails the test unless the status is expect (*st gets it). */
static void
set_failover(frep_client *c, Frep__V1__FailoverRelationship *rel, char *field, frep_code expect,
    frep_status *st)
{
	Frep__V1__SetFailoverRequest req = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	rel->name                        = "r";
	req.relationship                 = rel;
	req.update_mask                  = &field;
	req.n_update_mask                = 1;
	ProtobufCMessage *out = rt_call(c, "DhcpServer", "SetFailover", &req.base, expect, st);
	if (out != NULL) {
		protobuf_c_message_free_unpacked(out, NULL);
	}
}

static void
set_description_of(frep_client *c, const char *scope_id, const char *text)
{
	Frep__V1__Scope           s   = FREP__V1__SCOPE__INIT;
	Frep__V1__SetScopeRequest req = FREP__V1__SET_SCOPE_REQUEST__INIT;
	char                     *m[] = {"description"};
	s.scope_id                    = (char *) scope_id;
	s.description                 = (char *) text;
	req.scope                     = &s;
	req.update_mask               = m;
	req.n_update_mask             = 1;
	rt_call_ok(c, "DhcpServer", "SetScope", &req.base);
}

static void
set_description(frep_client *c, const char *text)
{
	set_description_of(c, SCOPE, text);
}

static bool
description_of_is(frep_client *c, const char *scope_id, const char *want)
{
	Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
	k.scope_id           = (char *) scope_id;
	Frep__V1__Scope *s =
	    (Frep__V1__Scope *) rt_call(c, "DhcpServer", "GetScope", &k.base, FREP_OK, NULL);
	bool same = strcmp(s->description, want) == 0;
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return same;
}

static bool
description_is(frep_client *c, const char *want)
{
	return description_of_is(c, SCOPE, want);
}

/* Polls until the description of c's scope_id is want (fails the test
 * after WAIT). */
static void
wait_description_of(frep_client *c, const char *scope_id, const char *want)
{
	long long until = tu_now_ms() + WAIT;
	while (!description_of_is(c, scope_id, want)) {
		if (tu_now_ms() > until) {
			fail_msg("the description of %s never became \"%s\"", scope_id, want);
		}
		sleep_ms(20);
	}
}

static void
wait_description(frep_client *c, const char *want)
{
	wait_description_of(c, SCOPE, want);
}

static Frep__V1__GetReplicationStatusResponse *
status(frep_client *c, bool skip_settings)
{
	Frep__V1__GetReplicationStatusRequest req = FREP__V1__GET_REPLICATION_STATUS_REQUEST__INIT;
	req.skip_server_settings                  = skip_settings;
	return (Frep__V1__GetReplicationStatusResponse *) rt_call(
	    c, "FailoverReplication", "GetReplicationStatus", &req.base, FREP_OK, NULL);
}

/* SCOPE's state in relationship r as c reports it. */
static Frep__V1__ScopeSyncState
scope_state(frep_client *c)
{
	Frep__V1__GetReplicationStatusResponse *r = status(c, true);
	Frep__V1__ScopeSyncState s = FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_UNSPECIFIED;
	for (size_t i = 0; i < r->n_relationships; i++) {
		for (size_t k = 0; k < r->relationships[i]->n_scopes; k++) {
			if (strcmp(r->relationships[i]->scopes[k]->scope_id, SCOPE) == 0) {
				s = r->relationships[i]->scopes[k]->state;
			}
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return s;
}

static void
wait_state(frep_client *c, Frep__V1__ScopeSyncState want, const char *who)
{
	long long                until = tu_now_ms() + WAIT;
	Frep__V1__ScopeSyncState s;
	while ((s = scope_state(c)) != want) {
		if (tu_now_ms() > until) {
			fail_msg("%s: scope state %d, never %d", who, (int) s, (int) want);
		}
		sleep_ms(20);
	}
}

/* Audit records of SCOPE on c with the direction and code given; the
 * newest one's message into last (when not NULL, "" if none). */
static size_t
audit_count(frep_client *c, const char *direction, frep_code code, char *last, size_t n_last)
{
	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.scope_id                   = SCOPE;
	req.limit                      = 100000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) rt_call(
	    c, "DhcpServer", "ListAudit", &req.base, FREP_OK, NULL);
	size_t n = 0;
	if (last != NULL) {
		last[0] = '\0';
	}
	for (size_t i = 0; i < r->n_records; i++) { /* newest first */
		if (r->records[i]->code == (int32_t) code &&
		    strcmp(r->records[i]->direction, direction) == 0) {
			if (n++ == 0 && last != NULL) {
				snprintf(last, n_last, "%s", r->records[i]->message);
			}
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

/* Audit records of SCOPE on c with the direction given, code OK. */
static size_t
audit_ok(frep_client *c, const char *direction)
{
	return audit_count(c, direction, FREP_OK, NULL, 0);
}

/* True if the Get call at path finds key's object on c. */
static bool
found(frep_client *c, const char *path, const ProtobufCMessage *key,
    const ProtobufCMessageDescriptor *out_desc)
{
	ProtobufCMessage *o = NULL;
	frep_status       st;
	frep_code         code = frep_client_call(c, path, key, out_desc, &o, NULL, &st);
	if (o != NULL) {
		protobuf_c_message_free_unpacked(o, NULL);
	}
	return code == FREP_OK;
}

static bool
reservation_there(frep_client *c, const char *ip)
{
	Frep__V1__ReservationKey k = FREP__V1__RESERVATION_KEY__INIT;
	k.scope_id                 = SCOPE;
	k.ip_address               = (char *) ip;
	return found(
	    c, "/frep.v1.DhcpServer/GetReservation", &k.base, &frep__v1__reservation__descriptor);
}

static bool
scope_there(frep_client *c, const char *scope_id)
{
	Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
	k.scope_id           = (char *) scope_id;
	return found(c, "/frep.v1.DhcpServer/GetScope", &k.base, &frep__v1__scope__descriptor);
}

static void
wait_reservation(frep_client *c, const char *ip, const char *who)
{
	long long until = tu_now_ms() + WAIT;
	while (!reservation_there(c, ip)) {
		if (tu_now_ms() > until) {
			fail_msg("reservation %s never reached %s", ip, who);
		}
		sleep_ms(20);
	}
}

/* Polls until c's audit holds at least n records of SCOPE with the
 * direction and code given; the newest one's message into last. */
static size_t
wait_audit(
    frep_client *c, const char *direction, frep_code code, size_t n, char *last, size_t n_last)
{
	long long until = tu_now_ms() + WAIT;
	size_t    have;
	while ((have = audit_count(c, direction, code, last, n_last)) < n) {
		if (tu_now_ms() > until) {
			fail_msg("%zu \"%s\" audit records with code %s, never %zu", have,
			    direction, frep_code_name(code), n);
		}
		sleep_ms(20);
	}
	return have;
}

/* ReplicateByScopeId(SCOPE) from c, by hand; the one result must be OK. */
static void
replicate_by_hand(frep_client *c, bool partner_changed)
{
	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	char                               *ids[] = {SCOPE};
	req.scope_ids                             = ids;
	req.n_scope_ids                           = 1;
	Frep__V1__ReplicateResponse *rr           = (Frep__V1__ReplicateResponse *) rt_call(
		      c, "FailoverReplication", "ReplicateByScopeId", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->n_results, 1);
	if (rr->results[0]->code != FREP_OK) {
		fail_msg("replicate: %s %s", frep_code_name((frep_code) rr->results[0]->code),
		    rr->results[0]->message);
	}
	assert_int_equal(rr->results[0]->partner_changed, partner_changed);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
}

/* A write on A appears on B with no call, and both say in_sync. */
static void
test_auto_sync_write_appears_on_partner(void **state)
{
	fixture    *f = *state;
	frep_status st;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_UNSPECIFIED);
	assert_int_equal(
	    rt_add_reservation(f->a.c, SCOPE, "10.1.0.20", "00-11-22-33-44-20", "printer", &st),
	    FREP_OK);
	wait_reservation(f->b.c, "10.1.0.20", "B");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");

	/* The relationship says auto_sync ON on both servers (mirrored). */
	Frep__V1__GetReplicationStatusResponse *ra = status(f->a.c, false),
					       *rb = status(f->b.c, false);
	assert_int_equal(ra->n_relationships, 1);
	assert_int_equal(rb->n_relationships, 1);
	assert_int_equal(ra->relationships[0]->auto_sync, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	assert_int_equal(rb->relationships[0]->auto_sync, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	assert_true(ra->relationships[0]->partner_reachable);
	assert_true(ra->relationships[0]->last_contact_unix_ms > 0);
	if (!ra->in_sync) {
		print_message("A: partner error %d %s, %zu settings differ\n",
		    ra->relationships[0]->partner_error_code, ra->relationships[0]->partner_error,
		    ra->relationships[0]->n_server_settings);
	}
	assert_true(ra->in_sync);
	assert_true(rb->in_sync);
	protobuf_c_message_free_unpacked(&ra->base, NULL);
	protobuf_c_message_free_unpacked(&rb->base, NULL);
}

/* A burst of 1,000 writes to one scope: B applies it a few times, not
 * 1,000; the last write is what B ends with. A's debounce is 500 ms here
 * (a burst is sent every 5 s at the latest): with the fixture's 50 ms, a
 * loaded machine that stalls one write call for 50 ms makes the burst go
 * quiet, and each such gap is an apply of its own (14 were seen). */
static void
test_auto_sync_burst_is_coalesced(void **state)
{
	fixture                 *f      = *state;
	static const char *const calm[] = {"--auto-sync-debounce-ms", "500", NULL};
	char                     text[32];

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->a);
	start_again(f, &f->a, calm);
	size_t before = audit_ok(f->b.c, "applied");
	for (int i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "burst %d", i);
		set_description(f->a.c, text);
	}
	wait_description(f->b.c, "burst 999");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	size_t applies = audit_ok(f->b.c, "applied") - before;
	print_message("1,000 writes on A: %zu applies on B\n", applies);
	assert_true(applies >= 1);
	assert_true(applies <= 10);
}

/* What B applied from A is not sent back: with nothing changing, the
 * apply and send counts of both servers stay where they are. */
static void
test_auto_sync_no_ping_pong(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	set_description(f->a.c, "once");
	wait_description(f->b.c, "once");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	size_t a_sent = audit_ok(f->a.c, "sent"), a_applied = audit_ok(f->a.c, "applied");
	size_t b_sent = audit_ok(f->b.c, "sent"), b_applied = audit_ok(f->b.c, "applied");
	assert_int_equal(b_sent, 0);
	assert_int_equal(a_applied, 0);
	/* Many debounce windows of both servers. */
	sleep_ms(1000);
	assert_int_equal(audit_ok(f->a.c, "sent"), a_sent);
	assert_int_equal(audit_ok(f->a.c, "applied"), a_applied);
	assert_int_equal(audit_ok(f->b.c, "sent"), b_sent);
	assert_int_equal(audit_ok(f->b.c, "applied"), b_applied);
	/* A change on B goes to A the same way, and not back either. */
	set_description(f->b.c, "from b");
	wait_description(f->a.c, "from b");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
	a_sent = audit_ok(f->a.c, "sent");
	sleep_ms(1000);
	assert_int_equal(audit_ok(f->a.c, "sent"), a_sent);
	assert_true(description_is(f->b.c, "from b"));
}

/* An edit undone on A before A's scan: the scan computes the scope's
 * digest, finds it equal to the last-synced one and sends nothing. The
 * snapshot that digest came from is registered for a send
 * (engine_scope_digests_outgoing) and must be released: B's next change
 * then reaches A (before: a registration left behind would have had A
 * refuse B's version, or hold it, as crossing a send of A's). A second
 * scope of the relationship, changed in the same burst, marks the scan:
 * once B has it, the scan that found the first unchanged is over. */
static void
test_auto_sync_edit_undone_leaves_no_send_behind(void **state)
{
	fixture                 *f      = *state;
	static const char *const calm[] = {"--auto-sync-debounce-ms", "1000", NULL};
	const char              *marker = "10.1.1.0";

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_relationship_scope(f, (char *) marker);
	set_description(f->a.c, "kept");
	wait_description(f->b.c, "kept");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->a);
	start_again(f, &f->a, calm);
	set_description(f->a.c, "passing");
	set_description(f->a.c, "kept");
	set_description_of(f->a.c, marker, "scanned");
	wait_description_of(f->b.c, marker, "scanned");
	assert_true(description_is(f->b.c, "kept"));
	set_description(f->b.c, "from b");
	wait_description(f->a.c, "from b");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
}

/* What the proxy hook hold_digests shares with the test (atomics). */
typedef struct hold {
	int armed, held, release;
} hold;

/* A proxy hook (partner_proxy.h): when armed, holds the next
 * GetScopeDigests (sets held) until the test sets release; passes every
 * call on. */
static tp_action
hold_digests(void *arg, const frep_request_view *v, nng_msg **reply)
{
	hold *h = arg;
	(void) reply;
	if (strcmp(v->method, "/frep.v1.Partner/GetScopeDigests") == 0 &&
	    __atomic_exchange_n(&h->armed, 0, __ATOMIC_SEQ_CST)) {
		long long until = tu_now_ms() + WAIT; /* a failed test releases nothing */
		__atomic_store_n(&h->held, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&h->release, __ATOMIC_SEQ_CST) && tu_now_ms() < until) {
			sleep_ms(5);
		}
	}
	return TP_FORWARD;
}

/* A snapshot read by auto-sync's scan is sent only while the scope still
 * has its digest: a change made here between the scan and the
 * replication's digest step (held open by a proxy that holds the
 * GetScopeDigests call), whose digest is then stored (by B's status, which
 * asks A), is sent instead, read afresh. B never applies the
 * stale version (no "applied" record with its digest), and ends with the
 * newest. Without the check, B applied the scanned version ("two") and got
 * the newest only from the next scan. */
static void
test_auto_sync_stale_scanned_snapshot_not_sent(void **state)
{
	fixture *f = *state;
	hold     h = {.armed = 0};
	tp_proxy p;
	char     url[600];
	snprintf(url, sizeof(url), "ipc://%s/proxy.sock", f->dir);
	tp_proxy_start(&p, url, f->b.url, hold_digests, &h);

	Frep__V1__AddFailoverRequest   req   = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel   = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	char                          *ids[] = {SCOPE};
	add_scope_on(f->a.c, SCOPE);
	rel.name           = "r";
	rel.partner_server = url;
	rel.shared_secret  = SECRET;
	rel.scope_ids      = ids;
	rel.n_scope_ids    = 1;
	rel.auto_sync      = FREP__V1__AUTO_SYNC__AUTO_SYNC_ON;
	req.relationship   = &rel;
	rt_call_ok(f->a.c, "DhcpServer", "AddFailover", &req.base);
	set_description(f->a.c, "one");
	wait_description(f->b.c, "one");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");

	char stale[65], newest[65];
	__atomic_store_n(&h.armed, 1, __ATOMIC_SEQ_CST);
	set_description(f->a.c, "two");
	rt_digest(f->a.c, SCOPE, stale);
	long long until = tu_now_ms() + WAIT;
	while (!__atomic_load_n(&h.held, __ATOMIC_SEQ_CST)) { /* the scan has read "two" */
		if (tu_now_ms() > until) {
			fail_msg("auto-sync never asked B for its digests");
		}
		sleep_ms(5);
	}
	set_description(f->a.c, "three");
	rt_digest(f->a.c, SCOPE, newest);
	/* B's status asks A for its digests, which stores "three"'s: the
	 * replication's digest step then reads it stored and keeps no fresh
	 * snapshot, so only the check stands between the scan's and B. */
	protobuf_c_message_free_unpacked(&status(f->b.c, true)->base, NULL);
	__atomic_store_n(&h.release, 1, __ATOMIC_SEQ_CST);
	wait_description(f->b.c, "three");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");

	Frep__V1__ListAuditRequest la  = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	la.scope_id                    = SCOPE;
	la.limit                       = 1000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) rt_call(
	    f->b.c, "DhcpServer", "ListAudit", &la.base, FREP_OK, NULL);
	size_t newest_applied = 0;
	for (size_t i = 0; i < r->n_records; i++) {
		const Frep__V1__AuditRecord *rec = r->records[i];
		if (strcmp(rec->direction, "applied") != 0 || rec->code != FREP_OK) {
			continue;
		}
		if (strcmp(rec->digest_after, stale) == 0) {
			fail_msg("B applied the stale scanned version %s", stale);
		}
		newest_applied += strcmp(rec->digest_after, newest) == 0;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_true(newest_applied >= 1);

	tp_proxy_stop(&p);
}

/* scope_id's row in relationship r's status (fails the test if none). */
static const Frep__V1__ScopeSyncStatus *
scope_row(const Frep__V1__GetReplicationStatusResponse *r, const char *scope_id)
{
	for (size_t i = 0; i < r->n_relationships; i++) {
		for (size_t k = 0; k < r->relationships[i]->n_scopes; k++) {
			if (strcmp(r->relationships[i]->scopes[k]->scope_id, scope_id) == 0) {
				return r->relationships[i]->scopes[k];
			}
		}
	}
	fail_msg("no status row for scope %s", scope_id);
	return NULL;
}

/* Polls until c reports SCOPE in_sync with nothing pending (an attempt
 * of the worker that raced the relationship's creation is over). */
static void
wait_settled(frep_client *c, const char *who)
{
	long long until = tu_now_ms() + WAIT;
	for (;;) {
		Frep__V1__GetReplicationStatusResponse *r = status(c, true);
		const Frep__V1__ScopeSyncStatus        *s = scope_row(r, SCOPE);
		bool                                    settled =
		    s->state == FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC && !s->pending;
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (settled) {
			return;
		}
		if (tu_now_ms() > until) {
			fail_msg("%s: the scope never settled in_sync", who);
		}
		sleep_ms(20);
	}
}

/* Partner stopped, writes on A, partner started again: B catches up.
 * Meanwhile A's own worker has tried and failed: the changed scope is
 * pending with its attempt's UNAVAILABLE, which is in A's audit; a scope
 * it had nothing to send for is in error too (B is down), with no error
 * of its own — the status call's failure is the relationship's. */
static void
test_auto_sync_partner_down_catches_up(void **state)
{
	fixture    *f = *state;
	frep_status st;
	char        last[FREP_STATUS_MESSAGE_MAX];

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_relationship_scope(f, "10.1.1.0");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->b);
	for (int i = 0; i < 5; i++) {
		char ip[32], mac[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", 30 + i);
		snprintf(mac, sizeof(mac), "00-11-22-33-55-%02d", i);
		assert_int_equal(
		    rt_add_reservation(f->a.c, SCOPE, ip, mac, "while down", &st), FREP_OK);
	}
	/* A knows it could not send: its worker's attempt failed (polled: the
	 * worker records it just after writing the audit), the scope is in
	 * error and still pending, and the attempt is in A's audit. */
	Frep__V1__GetReplicationStatusResponse *r;
	const Frep__V1__ScopeSyncStatus        *s;
	long long                               until = tu_now_ms() + WAIT;
	for (;;) {
		r = status(f->a.c, true);
		if ((s = scope_row(r, SCOPE))->last_error_code != 0) {
			break;
		}
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (tu_now_ms() > until) {
			fail_msg("A's worker never reported a failed attempt");
		}
		sleep_ms(20);
	}
	const Frep__V1__ScopeSyncStatus *idle = scope_row(r, "10.1.1.0");
	assert_true(audit_count(f->a.c, "sent", FREP_UNAVAILABLE, last, sizeof(last)) >= 1);
	assert_non_null(strstr(last, f->b.url));
	assert_false(r->relationships[0]->partner_reachable);
	assert_int_equal(r->relationships[0]->partner_error_code, FREP_UNAVAILABLE);
	assert_int_equal(s->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR);
	assert_true(s->pending);
	assert_true(s->last_attempt_unix_ms > 0);
	assert_int_equal(s->last_error_code, FREP_UNAVAILABLE);
	assert_string_equal(s->last_error, last);
	/* Nothing to send for the idle scope: in error (B is down), with no
	 * error of its own. */
	assert_int_equal(idle->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR);
	assert_false(idle->pending);
	assert_int_equal(idle->last_error_code, 0);
	assert_string_equal(idle->last_error, "");
	protobuf_c_message_free_unpacked(&r->base, NULL);

	start_again(f, &f->b, NULL);
	wait_reservation(f->b.c, "10.1.0.34", "B");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	for (int i = 0; i < 5; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", 30 + i);
		assert_true(reservation_there(f->b.c, ip));
	}
	/* Caught up: the error went with the pending work. */
	r = status(f->a.c, true);
	s = scope_row(r, SCOPE);
	assert_false(s->pending);
	assert_int_equal(s->last_error_code, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* Partner down: the retries back off exponentially. Over a 4 s window A
 * makes at most 5 attempts (one after the debounce, then 250, 500, 1,000,
 * 2,000 ms apart), where a retry at every debounce would make 80 and a
 * retry every 250 ms 16 — a count that only a slower machine lowers. Each
 * attempt is one UNAVAILABLE audit record. B, back, is caught up by a
 * retry (nothing else wakes A). */
static void
test_auto_sync_partner_down_retries_back_off(void **state)
{
	fixture                 *f         = *state;
	static const char *const backoff[] = {
	    "--auto-sync-debounce-ms", "50", "--auto-sync-backoff-max-ms", "8000", NULL};

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->a);
	start_again(f, &f->a, backoff);
	rt_node_stop_clean(&f->b);

	long long start = tu_now_ms();
	set_description(f->a.c, "while down");
	/* Retried: a second attempt comes (a bounded wait, not a figure). */
	wait_audit(f->a.c, "sent", FREP_UNAVAILABLE, 2, NULL, 0);
	long long left = start + 4000 - tu_now_ms();
	if (left > 0) {
		sleep_ms((long) left);
	}
	size_t attempts = audit_count(f->a.c, "sent", FREP_UNAVAILABLE, NULL, 0);
	print_message("partner down for 4 s: %zu attempts (no backoff: 16 to 80)\n", attempts);
	assert_true(attempts >= 2);
	assert_true(attempts <= 5);
	assert_int_equal(scope_state(f->a.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR);

	start_again(f, &f->b, NULL);
	wait_description(f->b.c, "while down");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
}

/* Both sides edited while the link is down: a conflict on both, neither
 * edit overwritten; a manual replicate from A settles it. */
static void
test_auto_sync_conflict_is_never_overwritten(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->b);
	set_description(f->a.c, "edited on A");
	rt_node_stop_clean(&f->a);
	start_again(f, &f->b, NULL);
	set_description(f->b.c, "edited on B");
	start_again(f, &f->a, NULL);

	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_CONFLICT, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_CONFLICT, "B");
	/* Many debounce and retry windows: still nothing overwritten. */
	sleep_ms(1000);
	assert_true(description_is(f->a.c, "edited on A"));
	assert_true(description_is(f->b.c, "edited on B"));
	assert_int_equal(
	    scope_state(f->a.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_CONFLICT);

	/* Both report why. */
	Frep__V1__GetReplicationStatusResponse *r = status(f->b.c, true);
	assert_false(r->in_sync);
	assert_non_null(strstr(r->relationships[0]->scopes[0]->last_error, "conflict"));
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* The operator decides: A wins. */
	replicate_by_hand(f->a.c, true);
	assert_true(description_is(f->b.c, "edited on A"));
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
}

/* A change A had not sent when it stopped is sent after its restart. */
static void
test_auto_sync_pending_work_survives_restart(void **state)
{
	fixture                 *f      = *state;
	static const char *const slow[] = {"--auto-sync-debounce-ms", "600000", NULL};

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	rt_node_stop_clean(&f->a);
	start_again(f, &f->a, slow);
	set_description(f->a.c, "before the restart");
	/* Pending (a ten-minute debounce), and A stops before sending it. */
	assert_int_equal(scope_state(f->a.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PENDING);
	rt_node_stop_clean(&f->a);
	assert_true(description_is(f->b.c, ""));
	start_again(f, &f->a, quick);
	wait_description(f->b.c, "before the restart");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
}

/* auto_sync OFF (set at AddFailover, mirrored): nothing is sent by
 * itself; the status says pending; SetFailover turns it on on both. */
static void
test_auto_sync_off_and_on_again(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF);
	Frep__V1__FailoverKey k            = FREP__V1__FAILOVER_KEY__INIT;
	k.name                             = "r";
	Frep__V1__FailoverRelationship *rb = (Frep__V1__FailoverRelationship *) rt_call(
	    f->b.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	assert_int_equal(rb->auto_sync, FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF);
	protobuf_c_message_free_unpacked(&rb->base, NULL);

	set_description(f->a.c, "not sent");
	sleep_ms(500); /* ten debounce windows */
	assert_true(description_is(f->b.c, ""));
	assert_int_equal(scope_state(f->a.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PENDING);
	assert_int_equal(
	    scope_state(f->b.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PARTNER_CHANGED);

	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.auto_sync                      = FREP__V1__AUTO_SYNC__AUTO_SYNC_ON;
	set_failover(f->a.c, &rel, "auto_sync", FREP_OK, NULL);
	rb = (Frep__V1__FailoverRelationship *) rt_call(
	    f->b.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	assert_int_equal(rb->auto_sync, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	protobuf_c_message_free_unpacked(&rb->base, NULL);
	/* The pending change goes once auto-sync is on (the set committed). */
	wait_description(f->b.c, "not sent");
}

static void
add_class(frep_client *c, Frep__V1__ClassType type, const char *name, const char *data)
{
	Frep__V1__Class cls = FREP__V1__CLASS__INIT;
	cls.name            = (char *) name;
	cls.type            = type;
	cls.data            = (char *) data;
	rt_call_ok(c, "DhcpServer", "AddClass", &cls.base);
}

static void
add_definition(frep_client *c, uint32_t id, const char *vendor, const char *description)
{
	Frep__V1__OptionDefinition d = FREP__V1__OPTION_DEFINITION__INIT;
	d.option_id                  = id;
	d.vendor_class               = (char *) vendor;
	d.name                       = "Custom";
	d.description                = (char *) description;
	d.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	rt_call_ok(c, "DhcpServer", "AddOptionDefinition", &d.base);
}

/* Sets an option value at the server level (scope_id NULL) or a scope's. */
static void
set_option(
    frep_client *c, const char *scope_id, uint32_t id, const char *user_class, const char *value)
{
	Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__OptionTarget          t      = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__SetOptionValueRequest req    = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	char                           *vals[] = {(char *) value};
	v.option_id                            = id;
	v.user_class                           = (char *) user_class;
	v.values                               = vals;
	v.n_values                             = 1;
	t.scope_id                             = (char *) scope_id;
	req.target                             = &t;
	req.value                              = &v;
	rt_call_ok(c, "DhcpServer", "SetOptionValue", &req.base);
}

/* A policy (server-level when scope_id is NULL) with one criterion. */
static void
add_policy(frep_client *c, const char *scope_id, const char *name, const char *description,
    Frep__V1__CriterionType type, const char *value)
{
	Frep__V1__Policy     p       = FREP__V1__POLICY__INIT;
	Frep__V1__Criterion  crit    = FREP__V1__CRITERION__INIT;
	Frep__V1__Criterion *crits[] = {&crit};
	char                *vals[]  = {(char *) value};
	crit.type                    = type;
	crit.comparator              = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	crit.values                  = vals;
	crit.n_values                = 1;
	p.name                       = (char *) name;
	p.scope_id                   = (char *) scope_id;
	p.description                = (char *) description;
	p.criteria                   = crits;
	p.n_criteria                 = 1;
	rt_call_ok(c, "DhcpServer", "AddPolicy", &p.base);
}

static Frep__V1__ServerSettingDiff *const *
settings_diff(Frep__V1__GetReplicationStatusResponse *r, size_t *n)
{
	*n = r->relationships[0]->n_server_settings;
	return r->relationships[0]->server_settings;
}

/* The difference status lists for (kind, key), 0 if none. */
static Frep__V1__SettingDifference
difference_of(Frep__V1__GetReplicationStatusResponse *r, const char *kind, const char *key)
{
	size_t                              n;
	Frep__V1__ServerSettingDiff *const *d = settings_diff(r, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i]->kind, kind) == 0 && strcmp(d[i]->key, key) == 0) {
			return d[i]->difference;
		}
	}
	return FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_UNSPECIFIED;
}

/* A server option and a class set on one side show in the status; a dry
 * run shows them and changes nothing; --server-settings makes them
 * equal. */
static void
test_auto_sync_server_settings_status_and_replicate(void **state)
{
	fixture *f = *state;
	size_t   n;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_class(f->a.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "Lab", "Lab");
	add_class(f->b.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "OnlyOnB", "OnlyOnB");
	set_option(f->a.c, NULL, 6, "", "10.0.0.53");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");

	Frep__V1__GetReplicationStatusResponse *r   = status(f->a.c, false);
	Frep__V1__ServerSettingDiff *const     *d   = settings_diff(r, &n);
	bool                                    lab = false, onb = false, dns = false;
	for (size_t i = 0; i < n; i++) {
		print_message("difference: %s %s %d\n", d[i]->kind, d[i]->key, d[i]->difference);
		lab |=
		    strcmp(d[i]->kind, "class") == 0 && strcmp(d[i]->key, "user/Lab") == 0 &&
		    d[i]->difference == FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE;
		onb |=
		    strcmp(d[i]->kind, "class") == 0 && strcmp(d[i]->key, "user/OnlyOnB") == 0 &&
		    d[i]->difference == FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE;
		dns |= strcmp(d[i]->kind, "option") == 0 && strcmp(d[i]->key, "6") == 0;
	}
	assert_int_equal(n, 3);
	assert_true(lab && onb && dns);
	assert_false(r->in_sync);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* The dry run: the same differences, nothing changed. */
	Frep__V1__ReplicateServerSettingsRequest req =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	req.dry_run = true;
	Frep__V1__ReplicateServerSettingsResponse *rr =
	    (Frep__V1__ReplicateServerSettingsResponse *) rt_call(
		f->a.c, "FailoverReplication", "ReplicateServerSettings", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->n_results, 1);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	assert_int_equal(rr->results[0]->n_diff, 3);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	r = status(f->a.c, false);
	settings_diff(r, &n);
	assert_int_equal(n, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* For real: B ends with A's settings, its own class gone. */
	req.dry_run = false;
	rr          = (Frep__V1__ReplicateServerSettingsResponse *) rt_call(
		     f->a.c, "FailoverReplication", "ReplicateServerSettings", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	r = status(f->a.c, false);
	settings_diff(r, &n);
	assert_int_equal(n, 0);
	assert_true(r->in_sync);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = status(f->b.c, false);
	settings_diff(r, &n);
	assert_int_equal(n, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* Bad input: a clear status naming the field and the value. */
static void
test_auto_sync_bad_input_is_named(void **state)
{
	fixture    *f = *state;
	frep_status st;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	Frep__V1__GetReplicationStatusRequest sreq = FREP__V1__GET_REPLICATION_STATUS_REQUEST__INIT;
	char                                 *names[] = {"r", "r"};
	sreq.names                                    = names;
	sreq.n_names                                  = 2;
	rt_call(f->a.c, "FailoverReplication", "GetReplicationStatus", &sreq.base,
	    FREP_INVALID_ARGUMENT, &st);
	assert_non_null(strstr(st.message, "names[1]"));

	Frep__V1__ReplicateServerSettingsRequest req =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	char *kinds[] = {"scopes"};
	req.kinds     = kinds;
	req.n_kinds   = 1;
	rt_call(f->a.c, "FailoverReplication", "ReplicateServerSettings", &req.base,
	    FREP_INVALID_ARGUMENT, &st);
	assert_non_null(strstr(st.message, "kinds[0] \"scopes\""));

	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.auto_sync                      = 7;
	set_failover(f->a.c, &rel, "auto_sync", FREP_INVALID_ARGUMENT, &st);
	assert_non_null(strstr(st.message, "auto_sync 7"));

	/* An unknown name is an item error, the call OK. */
	char *unknown[] = {"nope"};
	sreq.names      = unknown;
	sreq.n_names    = 1;
	Frep__V1__GetReplicationStatusResponse *r =
	    (Frep__V1__GetReplicationStatusResponse *) rt_call(
		f->a.c, "FailoverReplication", "GetReplicationStatus", &sreq.base, FREP_OK, NULL);
	assert_int_equal(r->n_errors, 1);
	assert_int_equal(r->errors[0]->code, FREP_NOT_FOUND);
	assert_false(r->in_sync);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* SCOPE was changed on A to need what B lacks: auto-sync's apply is
 * refused (state error, the missing object named as reason, still
 * pending); pushing that one kind of server-level settings fixes it in
 * one step, and the retry sends the scope. */
static void
refused_until_settings_pushed(fixture *f, const char *reason, char *kind)
{
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR, "A");
	Frep__V1__GetReplicationStatusResponse *r = status(f->a.c, true);
	const Frep__V1__ScopeSyncStatus        *s = r->relationships[0]->scopes[0];
	assert_int_equal(s->last_error_code, FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(s->last_error, reason));
	assert_true(s->pending);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	Frep__V1__ReplicateServerSettingsRequest sreq =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	sreq.kinds   = &kind;
	sreq.n_kinds = 1;
	rt_call_ok(f->a.c, "FailoverReplication", "ReplicateServerSettings", &sreq.base);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
}

/* A scope option whose definition the partner lacks: refused until the
 * option definitions are pushed. */
static void
test_auto_sync_missing_definition_fixed_by_server_settings(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_definition(f->a.c, 250, "", "");
	set_option(f->a.c, SCOPE, 250, "", "hello");
	refused_until_settings_pushed(f, "option definition 250", "option_definitions");
}

/* Copies B's store (stopped) to backup.db* in the test's directory, or
 * (restore) puts that copy back in place of B's store. */
static void
store_copy(fixture *f, bool restore)
{
	const char *from = restore ? "backup.db" : "b.db", *to = restore ? "b.db" : "backup.db";
	assert_int_equal(tu_system("cd '%s' && rm -f %s %s-wal %s-shm && for x in '' -wal -shm; "
				   "do if [ -e %s$x ]; then cp %s$x %s$x; fi; done",
			     f->dir, to, to, to, from, from, to),
	    0);
}

/* A scope of the relationship that B does not hold: B's store put back
 * from a backup made before the scope joined the relationship (RemoveScope,
 * even forced, and RemoveFailoverScope take a scope out of the
 * relationship on both servers, so a store put back is how A's copy ends
 * up unmatched). A reports it missing_on_partner; B's relationship, as
 * restored, has no row for it. Auto-sync never re-creates it (a partner
 * without it is a state it has not seen): nothing is sent while the scope
 * is unchanged here, and a change here is a conflict (audited once per
 * version, nothing sent); a manual replicate re-creates it in B's
 * relationship. */
static void
test_auto_sync_scope_missing_on_partner_is_not_recreated(void **state)
{
	fixture *f = *state;
	char     last[FREP_STATUS_MESSAGE_MAX];

	pair_up_with(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON, "10.1.1.0");
	rt_node_stop_clean(&f->b);
	store_copy(f, false);
	start_again(f, &f->b, NULL);
	add_relationship_scope(f, SCOPE);
	wait_settled(f->a.c, "A");
	rt_node_stop_clean(&f->b);
	store_copy(f, true);
	start_again(f, &f->b, NULL);
	assert_false(scope_there(f->b.c, SCOPE));

	Frep__V1__GetReplicationStatusResponse *r = status(f->a.c, true);
	const Frep__V1__ScopeSyncStatus        *s = scope_row(r, SCOPE);
	assert_int_equal(s->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_MISSING_ON_PARTNER);
	assert_string_equal(s->partner_digest, "");
	assert_string_equal(s->last_synced_digest, s->local_digest); /* unchanged here */
	assert_false(s->pending);
	assert_int_equal(s->last_error_code, 0);
	assert_int_equal(
	    scope_row(r, "10.1.1.0")->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC);
	assert_true(r->relationships[0]->partner_reachable);
	assert_false(r->in_sync);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* B's relationship, as restored, does not list the scope: B's status
	 * shows it after its own scopes, as one only its partner holds. */
	r = status(f->b.c, true);
	assert_int_equal(r->relationships[0]->n_scopes, 2);
	assert_string_equal(r->relationships[0]->scopes[0]->scope_id, "10.1.1.0");
	assert_string_equal(r->relationships[0]->scopes[1]->scope_id, SCOPE);
	assert_int_equal(r->relationships[0]->scopes[1]->state,
	    FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ONLY_ON_PARTNER);
	assert_false(r->in_sync);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Unchanged here: nothing sent, across many debounce windows. */
	size_t a_sent = audit_ok(f->a.c, "sent");
	sleep_ms(1000);
	assert_int_equal(audit_ok(f->a.c, "sent"), a_sent);
	assert_false(scope_there(f->b.c, SCOPE));

	/* Changed here: a conflict, in the audit once per version not sent
	 * (not once per scan); still not re-created. */
	size_t aborted = audit_count(f->a.c, "sent", FREP_ABORTED, NULL, 0);
	set_description(f->a.c, "changed while B lacks it");
	wait_audit(f->a.c, "sent", FREP_ABORTED, aborted + 1, last, sizeof(last));
	assert_non_null(strstr(last, "conflict:"));
	assert_non_null(strstr(last, "there (missing)"));
	set_description(f->a.c, "changed again");
	wait_audit(f->a.c, "sent", FREP_ABORTED, aborted + 2, NULL, 0);
	sleep_ms(1000);
	assert_int_equal(audit_count(f->a.c, "sent", FREP_ABORTED, NULL, 0), aborted + 2);
	assert_int_equal(audit_ok(f->a.c, "sent"), a_sent);
	assert_false(scope_there(f->b.c, SCOPE));
	r = status(f->a.c, true);
	s = scope_row(r, SCOPE);
	assert_int_equal(s->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_MISSING_ON_PARTNER);
	assert_int_equal(s->last_error_code, FREP_ABORTED);
	assert_non_null(strstr(s->last_error, "conflict:"));
	assert_false(s->pending);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* The operator re-creates it: back in B's relationship, in step. */
	replicate_by_hand(f->a.c, true);
	assert_true(description_is(f->b.c, "changed again"));
	Frep__V1__FailoverKey k            = FREP__V1__FAILOVER_KEY__INIT;
	k.name                             = "r";
	Frep__V1__FailoverRelationship *rb = (Frep__V1__FailoverRelationship *) rt_call(
	    f->b.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	assert_int_equal(rb->n_scope_ids, 2);
	assert_true(strcmp(rb->scope_ids[0], SCOPE) == 0 || strcmp(rb->scope_ids[1], SCOPE) == 0);
	protobuf_c_message_free_unpacked(&rb->base, NULL);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
}

/* Every kind of server-level difference, by kind and key, from each side:
 * a class, a definition, a server option and a server policy on both
 * sides with different contents are DIFFERENT; what one side alone has is
 * ONLY_HERE there and ONLY_THERE on the other; ReplicateServerSettings
 * then updates, adds and removes until none is left. */
static void
test_auto_sync_server_settings_differences_by_kind_and_key(void **state)
{
	fixture *f = *state;
	size_t   n;
	enum { HERE = 1, THERE = 2, DIFFERENT = 3 };
	static const struct {
		const char *kind, *key;
		int         from_a;
	} want[] = {
	    {"class", "user/Lab", DIFFERENT},
	    {"class", "vendor/Acme", HERE},
	    {"option_definition", "250", DIFFERENT},
	    {"option_definition", "251", THERE},
	    {"option_definition", "252/Acme", HERE},
	    {"option", "6", DIFFERENT},
	    {"option", "3//Lab", THERE},
	    {"policy", "Phones", DIFFERENT},
	    {"policy", "Printers", HERE},
	};
	const size_t n_want = sizeof(want) / sizeof(want[0]);

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_class(f->a.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "Lab", "lab-a");
	add_class(f->b.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "Lab", "lab-b");
	add_class(f->a.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR, "Acme", "acme");
	add_definition(f->a.c, 250, "", "as A has it");
	add_definition(f->b.c, 250, "", "as B has it");
	add_definition(f->b.c, 251, "", "B only");
	add_definition(f->a.c, 252, "Acme", "A only, Acme's space");
	set_option(f->a.c, NULL, 6, "", "10.0.0.53");
	set_option(f->b.c, NULL, 6, "", "10.0.0.54");
	set_option(f->b.c, NULL, 3, "Lab", "10.0.0.1");
	add_policy(f->a.c, NULL, "Phones", "A's phones",
	    FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS, "00-0e-08*");
	add_policy(f->b.c, NULL, "Phones", "B's phones",
	    FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS, "00-0e-08*");
	add_policy(f->a.c, NULL, "Printers", "A only",
	    FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS, "00-80-77*");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");

	Frep__V1__GetReplicationStatusResponse *ra = status(f->a.c, false);
	Frep__V1__GetReplicationStatusResponse *rb = status(f->b.c, false);
	Frep__V1__ServerSettingDiff *const     *d  = settings_diff(ra, &n);
	for (size_t i = 0; i < n; i++) {
		print_message("A: %s %s %d\n", d[i]->kind, d[i]->key, d[i]->difference);
	}
	assert_int_equal(n, n_want);
	settings_diff(rb, &n);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n_want; i++) {
		int from_b = want[i].from_a == HERE    ? THERE
			     : want[i].from_a == THERE ? HERE
						       : DIFFERENT;
		if ((int) difference_of(ra, want[i].kind, want[i].key) != want[i].from_a ||
		    (int) difference_of(rb, want[i].kind, want[i].key) != from_b) {
			fail_msg("%s %s: A says %d (want %d), B says %d (want %d)", want[i].kind,
			    want[i].key, (int) difference_of(ra, want[i].kind, want[i].key),
			    want[i].from_a, (int) difference_of(rb, want[i].kind, want[i].key),
			    from_b);
		}
	}
	/* The scopes are in step; the settings alone make the pair not. */
	assert_int_equal(ra->relationships[0]->scopes[0]->state,
	    FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC);
	assert_false(ra->in_sync);
	assert_false(rb->in_sync);
	protobuf_c_message_free_unpacked(&ra->base, NULL);
	protobuf_c_message_free_unpacked(&rb->base, NULL);

	Frep__V1__ReplicateServerSettingsRequest req =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	Frep__V1__ReplicateServerSettingsResponse *rr =
	    (Frep__V1__ReplicateServerSettingsResponse *) rt_call(
		f->a.c, "FailoverReplication", "ReplicateServerSettings", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	assert_int_equal(rr->results[0]->n_diff, n_want);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	ra = status(f->a.c, false);
	rb = status(f->b.c, false);
	settings_diff(ra, &n);
	assert_int_equal(n, 0);
	settings_diff(rb, &n);
	assert_int_equal(n, 0);
	assert_true(ra->in_sync);
	assert_true(rb->in_sync);
	protobuf_c_message_free_unpacked(&ra->base, NULL);
	protobuf_c_message_free_unpacked(&rb->base, NULL);
}

/* The server-level settings B holds, as the admin API lists them: one
 * buffer to compare before and after (malloc'd, *len bytes). */
static uint8_t *
settings_of(frep_client *c, size_t *len)
{
	Frep__V1__ListClassesRequest           cls = FREP__V1__LIST_CLASSES_REQUEST__INIT;
	Frep__V1__ListOptionDefinitionsRequest defs =
	    FREP__V1__LIST_OPTION_DEFINITIONS_REQUEST__INIT;
	Frep__V1__OptionTarget            t    = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__ListOptionValuesRequest opts = FREP__V1__LIST_OPTION_VALUES_REQUEST__INIT;
	Frep__V1__ListPoliciesRequest     pols = FREP__V1__LIST_POLICIES_REQUEST__INIT;
	defs.all_vendors                       = true;
	opts.target                            = &t;
	pols.server_level                      = true;
	const struct {
		const char             *method;
		const ProtobufCMessage *in;
	} calls[] = {
	    {"ListClasses", &cls.base},
	    {"ListOptionDefinitions", &defs.base},
	    {"ListOptionValues", &opts.base},
	    {"ListPolicies", &pols.base},
	};
	uint8_t *buf = NULL;
	*len         = 0;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		ProtobufCMessage *m =
		    rt_call(c, "DhcpServer", calls[i].method, calls[i].in, FREP_OK, NULL);
		size_t   n  = protobuf_c_message_get_packed_size(m);
		uint8_t *nb = realloc(buf, *len + n + 1);
		assert_non_null(nb);
		buf = nb;
		protobuf_c_message_pack(m, buf + *len);
		*len += n;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return buf;
}

/* ReplicateServerSettings is all or nothing on the partner: B refuses to
 * remove a class one of its own scopes' policies still uses; the call
 * names the object, and B's settings are exactly what they were — the
 * class and the option value A's push added before the refusal are not
 * there. */
static void
test_auto_sync_server_settings_refused_changes_nothing(void **state)
{
	fixture    *f = *state;
	frep_status st;
	size_t      before_len, after_len;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	rt_add_scope(f->b.c, "10.2.0.0", "10.2.0.10", "10.2.0.250", false);
	add_class(f->b.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "Lab", "lab");
	add_policy(f->b.c, "10.2.0.0", "LabPolicy", "uses Lab",
	    FREP__V1__CRITERION_TYPE__CRITERION_TYPE_USER_CLASS, "Lab");
	add_class(f->a.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "New", "new");
	set_option(f->a.c, NULL, 6, "", "10.0.0.53");
	uint8_t *before = settings_of(f->b.c, &before_len);

	Frep__V1__ReplicateServerSettingsRequest req =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	Frep__V1__ReplicateServerSettingsResponse *rr =
	    (Frep__V1__ReplicateServerSettingsResponse *) rt_call(
		f->a.c, "FailoverReplication", "ReplicateServerSettings", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->n_results, 1);
	print_message("refused: %s %s\n", frep_code_name((frep_code) rr->results[0]->code),
	    rr->results[0]->message);
	assert_int_equal(rr->results[0]->code, FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(rr->results[0]->message, "class user/Lab"));
	assert_non_null(strstr(rr->results[0]->message, "LabPolicy"));
	assert_non_null(strstr(rr->results[0]->message, f->b.url));
	protobuf_c_message_free_unpacked(&rr->base, NULL);

	uint8_t *after = settings_of(f->b.c, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
	Frep__V1__ClassKey k = FREP__V1__CLASS_KEY__INIT;
	k.type               = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;
	k.name               = "New";
	rt_call(f->b.c, "DhcpServer", "GetClass", &k.base, FREP_NOT_FOUND, &st);

	/* The status still lists every difference. */
	Frep__V1__GetReplicationStatusResponse *r = status(f->a.c, false);
	assert_int_equal(difference_of(r, "class", "user/New"),
	    FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE);
	assert_int_equal(difference_of(r, "class", "user/Lab"),
	    FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE);
	assert_int_equal(difference_of(r, "option", "6"),
	    FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* A scope option for a user class the partner lacks: refused (the class
 * named) until the classes are pushed; B then holds the option value. */
static void
test_auto_sync_missing_class_fixed_by_server_settings(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	add_class(f->a.c, FREP__V1__CLASS_TYPE__CLASS_TYPE_USER, "Lab", "lab");
	set_option(f->a.c, SCOPE, 6, "Lab", "10.0.0.53");
	refused_until_settings_pushed(f, "user class 'Lab'", "classes");
	Frep__V1__OptionTarget   t = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValueKey k = FREP__V1__OPTION_VALUE_KEY__INIT;
	t.scope_id                 = SCOPE;
	k.target                   = &t;
	k.option_id                = 6;
	k.user_class               = "Lab";
	rt_call_ok(f->b.c, "DhcpServer", "GetOptionValue", &k.base);
}

/* ImportScope on A is a committed change like any admin write: the
 * imported scope reaches B with no replicate call; an imported scope in
 * no relationship stays on A. */
static void
test_auto_sync_import_reaches_partner(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	size_t applied = audit_ok(f->b.c, "applied");
	rt_import_scope(f->a.c, 1, 1, 2, "not in the relationship"); /* 10.1.1.0 */
	rt_import_scope(f->a.c, 1, 0, 5, "imported");                /* SCOPE, replaced */
	wait_reservation(f->b.c, "10.1.0.15", "B");
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
	for (int i = 0; i < 5; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", 11 + i);
		assert_true(reservation_there(f->b.c, ip));
	}
	char da[65], db[65];
	rt_digest(f->a.c, SCOPE, da);
	rt_digest(f->b.c, SCOPE, db);
	assert_string_equal(da, db);
	assert_true(audit_ok(f->b.c, "applied") > applied);
	assert_false(scope_there(f->b.c, "10.1.1.0"));
}

/* Regression: AddFailover (and AddFailoverScope, SetFailover) commit
 * here before the partner's side is done, and the commit woke the worker:
 * with a short debounce it tried the relationship before B had it, and A's
 * audit got a failed attempt ("relationship "r" does not exist", code
 * UNAUTHENTICATED) for every AddFailover, the scope an error and backed
 * off. The worker now keeps off a relationship while it is being changed:
 * with debounce 0, no attempt fails. */
static void
test_auto_sync_failover_changes_are_not_raced(void **state)
{
	fixture                 *f       = *state;
	static const char *const eager[] = {"--auto-sync-debounce-ms", "0", NULL};

	rt_node_stop_clean(&f->a);
	start_again(f, &f->a, eager);
	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	add_relationship_scope(f, "10.1.1.0");
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.max_client_lead_time_s         = 1800;
	set_failover(f->a.c, &rel, "max_client_lead_time_s", FREP_OK, NULL);
	set_description(f->a.c, "after the changes");
	wait_description(f->b.c, "after the changes");
	wait_settled(f->a.c, "A");
	sleep_ms(500); /* many debounce windows */

	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.limit                      = 1000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) rt_call(
	    f->a.c, "DhcpServer", "ListAudit", &req.base, FREP_OK, NULL);
	size_t failed = 0;
	for (size_t i = 0; i < r->n_records; i++) {
		if (r->records[i]->code != FREP_OK) {
			print_message("A's audit: scope %s %s: %s\n", r->records[i]->scope_id,
			    frep_code_name((frep_code) r->records[i]->code),
			    r->records[i]->message);
			failed++;
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(failed, 0);
	Frep__V1__GetReplicationStatusResponse *st = status(f->a.c, true);
	for (size_t i = 0; i < st->relationships[0]->n_scopes; i++) {
		assert_int_equal(st->relationships[0]->scopes[i]->last_error_code, 0);
	}
	assert_true(st->in_sync);
	protobuf_c_message_free_unpacked(&st->base, NULL);
}

/* A's store restored from a backup taken before scopes 10.1.2.0 (created
 * after the backup) and 10.1.3.0 (created before it) joined relationship
 * r: B still holds both in r, A neither in r. A's status shows them as
 * only_on_partner (B's digest; A's own for 10.1.3.0, which A holds in no
 * relationship) and the pair not in step; B's status shows 10.1.2.0
 * missing on its partner. The remedies: a replication from B brings
 * 10.1.2.0; AddFailoverScope with force on A takes 10.1.3.0 in; then both
 * are in step. Before, A listed only its own scopes and called the pair
 * in step. */
static void
test_auto_sync_status_shows_scope_only_on_partner(void **state)
{
	fixture *f = *state;
	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF);
	add_scope_on(f->a.c, "10.1.3.0"); /* in the backup, in no relationship */
	rt_node_stop_clean(&f->a);
	assert_int_equal(tu_system("cp '%s' '%s.bak'", f->a.db, f->a.db), 0);
	start_again(f, &f->a, NULL);
	add_relationship_scope(f, "10.1.2.0");
	char *s3[] = {"10.1.3.0"};
	rt_failover_scope(f->a.c, "AddFailoverScope", "r", s3, 1, false, FREP_OK, NULL);
	rt_node_stop_clean(&f->a);
	assert_int_equal(tu_system("cp '%s.bak' '%s' && rm -f '%s-wal' '%s-shm'", f->a.db, f->a.db,
			     f->a.db, f->a.db),
	    0);
	start_again(f, &f->a, NULL);

	Frep__V1__GetReplicationStatusResponse *st  = status(f->a.c, true);
	const Frep__V1__ScopeSyncStatus        *row = scope_row(st, "10.1.2.0");
	print_message("A: 10.1.2.0 state %d, here \"%s\", there \"%.12s\"\n", row->state,
	    row->local_digest, row->partner_digest);
	assert_int_equal(row->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ONLY_ON_PARTNER);
	assert_string_equal(row->local_digest, "");
	assert_int_equal(strlen(row->partner_digest), 64);
	assert_false(st->in_sync);
	assert_false(st->relationships[0]->in_sync);
	/* 10.1.3.0 is here too, in no relationship: its digest is shown. */
	row = scope_row(st, "10.1.3.0");
	assert_int_equal(row->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ONLY_ON_PARTNER);
	assert_int_equal(strlen(row->local_digest), 64);
	assert_int_equal(strlen(row->partner_digest), 64);
	protobuf_c_message_free_unpacked(&st->base, NULL);

	st  = status(f->b.c, true);
	row = scope_row(st, "10.1.2.0");
	assert_int_equal(
	    row->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_MISSING_ON_PARTNER);
	protobuf_c_message_free_unpacked(&st->base, NULL);

	/* The remedy the state names: a replication from the partner brings
	 * the scope here, into the relationship. */
	char                               *ids[] = {"10.1.2.0"};
	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	req.scope_ids                             = ids;
	req.n_scope_ids                           = 1;
	Frep__V1__ReplicateResponse *rr           = (Frep__V1__ReplicateResponse *) rt_call(
		      f->b.c, "FailoverReplication", "ReplicateByScopeId", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->n_results, 1);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	/* Held here outside the relationship, the scope is taken into it
	 * from here, with force (this server's copy goes to the partner). */
	rt_failover_scope(f->a.c, "AddFailoverScope", "r", s3, 1, true, FREP_OK, NULL);
	st = status(f->a.c, true);
	assert_int_equal(
	    scope_row(st, "10.1.2.0")->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC);
	assert_int_equal(
	    scope_row(st, "10.1.3.0")->state, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC);
	assert_true(st->in_sync);
	protobuf_c_message_free_unpacked(&st->base, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_write_appears_on_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_burst_is_coalesced, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_status_shows_scope_only_on_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_no_ping_pong, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_edit_undone_leaves_no_send_behind, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_stale_scanned_snapshot_not_sent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_partner_down_catches_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_conflict_is_never_overwritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_pending_work_survives_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_off_and_on_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_server_settings_status_and_replicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_missing_definition_fixed_by_server_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_bad_input_is_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_partner_down_retries_back_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_scope_missing_on_partner_is_not_recreated, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_server_settings_differences_by_kind_and_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_server_settings_refused_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_missing_class_fixed_by_server_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_import_reaches_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_failover_changes_are_not_raced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
