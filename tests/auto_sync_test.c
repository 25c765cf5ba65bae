/*
 * Keeping the pair in step by itself (issue 15), on two real frepd: a
 * change on A reaches B with no replicate call; a burst is coalesced; what
 * B applied from A is never sent back; a partner that was down catches
 * up; an edit made on both sides is a conflict on both and is never
 * overwritten until an operator replicates; work pending at a restart is
 * resumed; GetReplicationStatus and ReplicateServerSettings show and
 * settle the server-level settings. Every wait is bounded and polls a
 * state; no test asserts a duration.
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

/* A relationship r from A to B holding SCOPE, auto_sync as given. */
static void
pair_up(fixture *f, Frep__V1__AutoSync auto_sync)
{
	char                          *scopes[] = {SCOPE};
	Frep__V1__AddFailoverRequest   req      = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel      = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rt_add_scope(f->a.c, SCOPE, "10.1.0.10", "10.1.0.250", false);
	rel.name           = "r";
	rel.partner_server = f->b.url;
	rel.shared_secret  = SECRET;
	rel.scope_ids      = scopes;
	rel.n_scope_ids    = 1;
	rel.auto_sync      = auto_sync;
	req.relationship   = &rel;
	rt_call_ok(f->a.c, "DhcpServer", "AddFailover", &req.base);
}

static void
set_description(frep_client *c, const char *text)
{
	Frep__V1__Scope           s   = FREP__V1__SCOPE__INIT;
	Frep__V1__SetScopeRequest req = FREP__V1__SET_SCOPE_REQUEST__INIT;
	char                     *m[] = {"description"};
	s.scope_id                    = SCOPE;
	s.description                 = (char *) text;
	req.scope                     = &s;
	req.update_mask               = m;
	req.n_update_mask             = 1;
	rt_call_ok(c, "DhcpServer", "SetScope", &req.base);
}

static bool
description_is(frep_client *c, const char *want)
{
	Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
	k.scope_id           = SCOPE;
	Frep__V1__Scope *s =
	    (Frep__V1__Scope *) rt_call(c, "DhcpServer", "GetScope", &k.base, FREP_OK, NULL);
	bool same = strcmp(s->description, want) == 0;
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return same;
}

/* Polls until c's scope description is want (fails the test after WAIT). */
static void
wait_description(frep_client *c, const char *want)
{
	long long until = tu_now_ms() + WAIT;
	while (!description_is(c, want)) {
		if (tu_now_ms() > until) {
			fail_msg("the description never became \"%s\"", want);
		}
		sleep_ms(20);
	}
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

/* Audit records of SCOPE on c with the direction given, code OK. */
static size_t
audit_ok(frep_client *c, const char *direction)
{
	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.scope_id                   = SCOPE;
	req.limit                      = 100000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) rt_call(
	    c, "DhcpServer", "ListAudit", &req.base, FREP_OK, NULL);
	size_t n = 0;
	for (size_t i = 0; i < r->n_records; i++) {
		n += r->records[i]->code == FREP_OK &&
		     strcmp(r->records[i]->direction, direction) == 0;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

static bool
reservation_there(frep_client *c, const char *ip)
{
	Frep__V1__ReservationKey k = FREP__V1__RESERVATION_KEY__INIT;
	ProtobufCMessage        *o = NULL;
	frep_status              st;
	k.scope_id     = SCOPE;
	k.ip_address   = (char *) ip;
	frep_code code = frep_client_call(c, "/frep.v1.DhcpServer/GetReservation", &k.base,
	    &frep__v1__reservation__descriptor, &o, NULL, &st);
	if (o != NULL) {
		protobuf_c_message_free_unpacked(o, NULL);
	}
	return code == FREP_OK;
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
	long long until = tu_now_ms() + WAIT;
	while (!reservation_there(f->b.c, "10.1.0.20")) {
		if (tu_now_ms() > until) {
			fail_msg("the reservation never reached B");
		}
		sleep_ms(20);
	}
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
 * 1,000; the last write is what B ends with. */
static void
test_auto_sync_burst_is_coalesced(void **state)
{
	fixture *f = *state;
	char     text[32];

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
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

/* Partner stopped, writes on A, partner started again: B catches up. */
static void
test_auto_sync_partner_down_catches_up(void **state)
{
	fixture    *f = *state;
	frep_status st;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	rt_node_stop_clean(&f->b);
	for (int i = 0; i < 5; i++) {
		char ip[32], mac[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", 30 + i);
		snprintf(mac, sizeof(mac), "00-11-22-33-55-%02d", i);
		assert_int_equal(
		    rt_add_reservation(f->a.c, SCOPE, ip, mac, "while down", &st), FREP_OK);
	}
	/* A knows it could not send: the scope is in error, still pending. */
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR, "A");
	rt_node_start(&f->b, f->dir);
	long long until = tu_now_ms() + WAIT;
	while (!reservation_there(f->b.c, "10.1.0.34")) {
		if (tu_now_ms() > until) {
			fail_msg("B never caught up");
		}
		sleep_ms(20);
	}
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	for (int i = 0; i < 5; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.0.%d", 30 + i);
		assert_true(reservation_there(f->b.c, ip));
	}
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
	rt_node_start(&f->b, f->dir);
	set_description(f->b.c, "edited on B");
	rt_node_start(&f->a, f->dir);

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
	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	char                               *ids[] = {SCOPE};
	req.scope_ids                             = ids;
	req.n_scope_ids                           = 1;
	Frep__V1__ReplicateResponse *rr           = (Frep__V1__ReplicateResponse *) rt_call(
		      f->a.c, "FailoverReplication", "ReplicateByScopeId", &req.base, FREP_OK, NULL);
	assert_int_equal(rr->n_results, 1);
	assert_int_equal(rr->results[0]->code, FREP_OK);
	assert_true(rr->results[0]->partner_changed);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
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
	node_flags(&f->a, slow);
	rt_node_start(&f->a, f->dir);
	set_description(f->a.c, "before the restart");
	/* Pending (a ten-minute debounce), and A stops before sending it. */
	assert_int_equal(scope_state(f->a.c), FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PENDING);
	rt_node_stop_clean(&f->a);
	assert_true(description_is(f->b.c, ""));
	node_flags(&f->a, quick);
	rt_node_start(&f->a, f->dir);
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
	Frep__V1__SetFailoverRequest   req = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	char                          *m[] = {"auto_sync"};
	rel.name                           = "r";
	rel.auto_sync                      = FREP__V1__AUTO_SYNC__AUTO_SYNC_ON;
	req.relationship                   = &rel;
	req.update_mask                    = m;
	req.n_update_mask                  = 1;
	rt_call_ok(f->a.c, "DhcpServer", "SetFailover", &req.base);
	rb = (Frep__V1__FailoverRelationship *) rt_call(
	    f->b.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	assert_int_equal(rb->auto_sync, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	protobuf_c_message_free_unpacked(&rb->base, NULL);
	/* The pending change goes once auto-sync is on (the set committed). */
	wait_description(f->b.c, "not sent");
}

static void
add_user_class(frep_client *c, const char *name)
{
	Frep__V1__Class cls = FREP__V1__CLASS__INIT;
	cls.name            = (char *) name;
	cls.type            = FREP__V1__CLASS_TYPE__CLASS_TYPE_USER;
	cls.data            = (char *) name;
	rt_call_ok(c, "DhcpServer", "AddClass", &cls.base);
}

static void
set_server_dns(frep_client *c, const char *ip)
{
	Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__OptionTarget          t      = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__SetOptionValueRequest req    = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	char                           *vals[] = {(char *) ip};
	v.option_id                            = 6;
	v.values                               = vals;
	v.n_values                             = 1;
	req.target                             = &t;
	req.value                              = &v;
	rt_call_ok(c, "DhcpServer", "SetOptionValue", &req.base);
}

static Frep__V1__ServerSettingDiff *const *
settings_diff(Frep__V1__GetReplicationStatusResponse *r, size_t *n)
{
	*n = r->relationships[0]->n_server_settings;
	return r->relationships[0]->server_settings;
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
	add_user_class(f->a.c, "Lab");
	add_user_class(f->b.c, "OnlyOnB");
	set_server_dns(f->a.c, "10.0.0.53");
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
	Frep__V1__SetFailoverRequest   set = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	char                          *m[] = {"auto_sync"};
	rel.name                           = "r";
	rel.auto_sync                      = 7;
	set.relationship                   = &rel;
	set.update_mask                    = m;
	set.n_update_mask                  = 1;
	rt_call(f->a.c, "DhcpServer", "SetFailover", &set.base, FREP_INVALID_ARGUMENT, &st);
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

/* A scope option whose definition the partner lacks: auto-sync's apply is
 * refused (state error, the reason named); pushing the option definitions
 * fixes it in one step, and the retry sends the scope. */
static void
test_auto_sync_missing_definition_fixed_by_server_settings(void **state)
{
	fixture *f = *state;

	pair_up(f, FREP__V1__AUTO_SYNC__AUTO_SYNC_ON);
	Frep__V1__OptionDefinition d = FREP__V1__OPTION_DEFINITION__INIT;
	d.option_id                  = 250;
	d.name                       = "Custom";
	d.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	rt_call_ok(f->a.c, "DhcpServer", "AddOptionDefinition", &d.base);
	Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__OptionTarget          t      = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__SetOptionValueRequest req    = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	char                           *vals[] = {"hello"};
	v.option_id                            = 250;
	v.values                               = vals;
	v.n_values                             = 1;
	t.scope_id                             = SCOPE;
	req.target                             = &t;
	req.value                              = &v;
	rt_call_ok(f->a.c, "DhcpServer", "SetOptionValue", &req.base);

	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR, "A");
	Frep__V1__GetReplicationStatusResponse *r = status(f->a.c, true);
	const Frep__V1__ScopeSyncStatus        *s = r->relationships[0]->scopes[0];
	assert_int_equal(s->last_error_code, FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(s->last_error, "option definition 250"));
	assert_true(s->pending);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	Frep__V1__ReplicateServerSettingsRequest sreq =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	char *kinds[] = {"option_definitions"};
	sreq.kinds    = kinds;
	sreq.n_kinds  = 1;
	rt_call_ok(f->a.c, "FailoverReplication", "ReplicateServerSettings", &sreq.base);
	wait_state(f->a.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "A");
	wait_state(f->b.c, FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC, "B");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_auto_sync_write_appears_on_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_burst_is_coalesced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_sync_no_ping_pong, setup, teardown),
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
