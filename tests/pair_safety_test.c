/*
 * A pair that never loses or reverts an update (issue 13), on two real
 * frepd: crossing replications never swap the two versions and every OK
 * is true; the partner touches only its relationship's scopes; SetFailover
 * changes both servers; --force is not a full resend; every attempt is
 * audited and the audit is bounded; the partner's refusals are named as
 * the partner's and list every missing dependency. Each test pins one of
 * the numbered cases and failed before the change.
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

#include <cmocka.h>

#include "fault_test_common.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "partner_auth.h"

#define SECRET "pair safety secret"
#define SCOPE  "10.1.0.0"

typedef struct fixture {
	char   *dir;
	rt_node a, b;
} fixture;

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
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return ra == 0 && rb == 0 ? 0 : -1; /* a crash or, under LSan, a leak fails */
}

/* A relationship r from A to B with SCOPE (created on both, replicated). */
static void
pair_up(fixture *f)
{
	char *scopes[] = {SCOPE};
	rt_add_scope(f->a.c, SCOPE, "10.1.0.10", "10.1.0.250", false);
	rt_add_failover(f->a.c, "r", f->b.url, SECRET, scopes, 1, FREP_OK);
}

static void
set_description(frep_client *c, const char *scope, const char *text)
{
	Frep__V1__Scope           s   = FREP__V1__SCOPE__INIT;
	Frep__V1__SetScopeRequest req = FREP__V1__SET_SCOPE_REQUEST__INIT;
	char                     *m[] = {"description"};
	s.scope_id                    = (char *) scope;
	s.description                 = (char *) text;
	req.scope                     = &s;
	req.update_mask               = m;
	req.n_update_mask             = 1;
	rt_call_ok(c, "DhcpServer", "SetScope", &req.base);
}

/* The scope's description, into out. */
static void
description(frep_client *c, const char *scope, char *out, size_t cap)
{
	Frep__V1__ScopeKey k = FREP__V1__SCOPE_KEY__INIT;
	k.scope_id           = (char *) scope;
	Frep__V1__Scope *s =
	    (Frep__V1__Scope *) rt_call(c, "DhcpServer", "GetScope", &k.base, FREP_OK, NULL);
	snprintf(out, cap, "%s", s->description);
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

static Frep__V1__ReplicateResponse *
replicate(frep_client *c, const char *scope, bool full, bool dry_run)
{
	Frep__V1__ReplicateByScopeIdRequest req   = FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
	char                               *ids[] = {(char *) scope};
	req.scope_ids                             = ids;
	req.n_scope_ids                           = 1;
	req.full_resend                           = full;
	req.dry_run                               = dry_run;
	return (Frep__V1__ReplicateResponse *) rt_call(
	    c, "FailoverReplication", "ReplicateByScopeId", &req.base, FREP_OK, NULL);
}

static size_t
audit_count(frep_client *c, int32_t code)
{
	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.limit                      = 100000;
	Frep__V1__ListAuditResponse *r = (Frep__V1__ListAuditResponse *) rt_call(
	    c, "DhcpServer", "ListAudit", &req.base, FREP_OK, NULL);
	size_t n = 0;
	for (size_t i = 0; i < r->n_records; i++) {
		n += code < 0 || r->records[i]->code == code;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

/* --- 1. crossing replications ------------------------------------------- */

typedef struct crossing {
	frep_client                 *c;
	pthread_barrier_t           *go;
	Frep__V1__ReplicateResponse *out;
} crossing;

static void *
crossing_run(void *arg)
{
	crossing *x = arg;
	pthread_barrier_wait(x->go);
	x->out = replicate(x->c, SCOPE, false, false);
	return NULL;
}

/* Issue 13 case 1: A and B edit the same scope and replicate it to each
 * other at the same moment. Before: in 3 of 10 rounds the two versions
 * swapped and both calls said OK. Now in every round the servers end with
 * one of the two versions, the same on both, and every OK's digest_after
 * is what the partner holds afterwards. */
static void
test_pair_crossing_replications_never_swap(void **state)
{
	fixture *f      = *state;
	long     rounds = rt_env_long("FREP_PAIR_ROUNDS", 100);
	unsigned ok_a = 0, ok_b = 0, none = 0;

	pair_up(f);
	for (long i = 0; i < rounds; i++) {
		char              da[32], db[32], ga[600], gb[600], dig_a[65], dig_b[65];
		pthread_barrier_t go;
		pthread_t         ta, tb;
		snprintf(da, sizeof(da), "A%ld", i);
		snprintf(db, sizeof(db), "B%ld", i);
		set_description(f->a.c, SCOPE, da);
		set_description(f->b.c, SCOPE, db);
		pthread_barrier_init(&go, NULL, 2);
		crossing xa = {.c = f->a.c, .go = &go}, xb = {.c = f->b.c, .go = &go};
		pthread_create(&ta, NULL, crossing_run, &xa);
		pthread_create(&tb, NULL, crossing_run, &xb);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&go);

		description(f->a.c, SCOPE, ga, sizeof(ga));
		description(f->b.c, SCOPE, gb, sizeof(gb));
		rt_digest(f->a.c, SCOPE, dig_a);
		rt_digest(f->b.c, SCOPE, dig_b);
		if (strcmp(ga, db) == 0 && strcmp(gb, da) == 0) {
			fail_msg("round %ld: swapped (A holds %s, B holds %s)", i, ga, gb);
		}
		assert_int_equal(xa.out->n_results, 1);
		assert_int_equal(xb.out->n_results, 1);
		Frep__V1__ScopeResult *ra = xa.out->results[0], *rb = xb.out->results[0];
		if (ra->code == FREP_OK) {
			/* A's OK is true: B holds what A says it holds. */
			assert_string_equal(ra->digest_after, dig_b);
			ok_a += !ra->unchanged;
		}
		if (rb->code == FREP_OK) {
			assert_string_equal(rb->digest_after, dig_a);
			ok_b += !rb->unchanged;
		}
		/* Both sent their own version and both say it arrived: a swap. */
		assert_false(ra->code == FREP_OK && !ra->unchanged && rb->code == FREP_OK &&
			     !rb->unchanged && strcmp(ga, gb) != 0);
		if (ra->code != FREP_OK && rb->code != FREP_OK) {
			none++;
			print_message("round %ld: neither went through: A %s (%s), B %s (%s)\n", i,
			    frep_code_name((frep_code) ra->code), ra->message,
			    frep_code_name((frep_code) rb->code), rb->message);
		} else {
			/* One of the versions, the same on both. */
			assert_string_equal(dig_a, dig_b);
			assert_true(strcmp(ga, da) == 0 || strcmp(ga, db) == 0);
		}
		protobuf_c_message_free_unpacked(&xa.out->base, NULL);
		protobuf_c_message_free_unpacked(&xb.out->base, NULL);
	}
	print_message("%ld crossing rounds: A's version won %u, B's %u, neither %u\n", rounds, ok_a,
	    ok_b, none);
	assert_int_equal(none, 0);
}

/* --- 2. failover scope add and the partner's own scope --------------------- */

/* Issue 13 case 2: B has its own scope 10.2.0.0 (no relationship, a
 * reservation). Before: A's `failover scope add r --scope 10.2.0.0`
 * exited 0 and replaced it. Now ALREADY_EXISTS and B's scope untouched;
 * with force, taken over. */
static void
test_pair_scope_add_refuses_the_partners_scope(void **state)
{
	fixture    *f = *state;
	frep_status st;
	char        before[65], after[65], mine[65];

	pair_up(f);
	rt_add_scope(f->b.c, "10.2.0.0", "10.2.0.10", "10.2.0.250", false);
	assert_int_equal(rt_add_reservation(
			     f->b.c, "10.2.0.0", "10.2.0.20", "00-11-22-33-44-02", "b's own", &st),
	    FREP_OK);
	rt_add_scope(f->a.c, "10.2.0.0", "10.2.0.10", "10.2.0.250", false);
	rt_digest(f->b.c, "10.2.0.0", before);

	char *ids[] = {"10.2.0.0"};
	rt_failover_scope(f->a.c, "AddFailoverScope", "r", ids, 1, false, FREP_ALREADY_EXISTS, &st);
	assert_non_null(strstr(st.message, "10.2.0.0"));
	assert_non_null(strstr(st.message, "force"));
	rt_digest(f->b.c, "10.2.0.0", after);
	assert_string_equal(before, after);
	/* Nothing changed here either: the scope is still in no relationship. */
	Frep__V1__FailoverKey k             = FREP__V1__FAILOVER_KEY__INIT;
	k.name                              = "r";
	Frep__V1__FailoverRelationship *rel = (Frep__V1__FailoverRelationship *) rt_call(
	    f->a.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	assert_int_equal(rel->n_scope_ids, 1);
	protobuf_c_message_free_unpacked(&rel->base, NULL);

	/* With force the partner's scope is taken over. */
	rt_failover_scope(f->a.c, "AddFailoverScope", "r", ids, 1, true, FREP_OK, NULL);
	rt_digest(f->a.c, "10.2.0.0", mine);
	rt_digest(f->b.c, "10.2.0.0", after);
	assert_string_equal(mine, after);
}

/* AddFailover refuses a scope the partner has (ALREADY_EXISTS); force
 * reaches the partner's apply (adopt) and takes it over. */
static void
test_pair_add_failover_force_takes_over(void **state)
{
	fixture *f = *state;
	char     before[65], after[65], mine[65];
	char    *scopes[] = {"10.4.0.0"};

	rt_add_scope(f->b.c, "10.4.0.0", "10.4.0.10", "10.4.0.250", false);
	rt_digest(f->b.c, "10.4.0.0", before);
	rt_add_scope(f->a.c, "10.4.0.0", "10.4.0.20", "10.4.0.220", false);
	rt_add_failover(f->a.c, "r", f->b.url, SECRET, scopes, 1, FREP_ALREADY_EXISTS);
	rt_digest(f->b.c, "10.4.0.0", after);
	assert_string_equal(before, after);

	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	rel.name                           = "r";
	rel.partner_server                 = f->b.url;
	rel.shared_secret                  = SECRET;
	rel.scope_ids                      = scopes;
	rel.n_scope_ids                    = 1;
	rel.auto_sync                      = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF; /* manual only */
	req.relationship                   = &rel;
	req.force                          = true;
	rt_call_ok(f->a.c, "DhcpServer", "AddFailover", &req.base);
	rt_digest(f->a.c, "10.4.0.0", mine);
	rt_digest(f->b.c, "10.4.0.0", after);
	assert_string_equal(mine, after);
}

/* --- 3. the secret reaches only the relationship's scopes ----------------- */

/* A Partner call signed for relationship r, sent to node n. */
static frep_code
signed_call_out(rt_node *n, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out, frep_status *st)
{
	char     path[128], mac[PARTNER_AUTH_MAC_HEXLEN], ts[32], nonce[33];
	size_t   len     = protobuf_c_message_get_packed_size(in);
	uint8_t *payload = malloc(len + 1);
	int64_t  now     = partner_auth_now_ms();
	protobuf_c_message_pack(in, payload);
	snprintf(path, sizeof(path), "/frep.v1.Partner/%s", method);
	snprintf(ts, sizeof(ts), "%lld", (long long) now);
	partner_auth_nonce(nonce);
	/* Signed as a third server (MAC v2 names the sender): the test
	 * holds the relationship's secret, as the attacker in case 3 does. */
	const char *sender = "0123456789abcdef0123456789abcdef";
	partner_auth_mac(SECRET, path, "r", sender, now, nonce, payload, len, mac);
	free(payload);
	frep_metadata     md[] = {{PARTNER_AUTH_KEY_RELATIONSHIP, "r"},
		{PARTNER_AUTH_KEY_SENDER, sender}, {PARTNER_AUTH_KEY_TIMESTAMP, ts},
		{PARTNER_AUTH_KEY_NONCE, nonce}, {PARTNER_AUTH_KEY_MAC, mac}};
	frep_call_options co   = {.metadata = md, .n_metadata = 5};
	*out                   = NULL;
	return frep_client_call(n->c, path, in, out_desc, out, &co, st);
}

static frep_code
signed_call(rt_node *n, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, frep_status *st)
{
	ProtobufCMessage *out  = NULL;
	frep_code         code = signed_call_out(n, method, in, out_desc, &out, st);
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

/* Issue 13 case 3: before, a signed ApplyScope{r, X} replaced a scope X
 * that on the partner belonged to no relationship and added it to r. Now
 * FAILED_PRECONDITION naming it, and X is untouched and stays out of r. */
static void
test_pair_secret_reaches_only_the_relationships_scopes(void **state)
{
	fixture    *f = *state;
	frep_status st;
	char        before[65], after[65];

	pair_up(f);
	rt_add_scope(f->b.c, "10.3.0.0", "10.3.0.10", "10.3.0.250", false);
	rt_digest(f->b.c, "10.3.0.0", before);
	rt_add_scope(f->a.c, "10.3.0.0", "10.3.0.20", "10.3.0.200", false);
	Frep__V1__ScopeConfigRequest cr = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	cr.scope_id                     = "10.3.0.0";
	Frep__V1__ScopeConfig *cfg      = (Frep__V1__ScopeConfig *) rt_call(
		 f->a.c, "DhcpServer", "GetScopeConfig", &cr.base, FREP_OK, NULL);

	Frep__V1__ApplyScopeRequest one = FREP__V1__APPLY_SCOPE_REQUEST__INIT;
	one.relationship                = "r";
	one.source_server               = f->a.url;
	one.config                      = cfg;
	assert_int_equal(signed_call(&f->b, "ApplyScope", &one.base,
			     &frep__v1__apply_scope_response__descriptor, &st),
	    FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "10.3.0.0"));
	assert_non_null(strstr(st.message, "no failover relationship"));

	Frep__V1__ScopeConfig       *cfgs[] = {cfg};
	Frep__V1__ApplyScopesRequest many   = FREP__V1__APPLY_SCOPES_REQUEST__INIT;
	many.relationship                   = "r";
	many.source_server                  = f->a.url;
	many.configs                        = cfgs;
	many.n_configs                      = 1;
	assert_int_equal(signed_call(&f->b, "ApplyScopes", &many.base,
			     &frep__v1__apply_scopes_response__descriptor, &st),
	    FREP_OK);
	rt_digest(f->b.c, "10.3.0.0", after);
	assert_string_equal(before, after);

	/* Not in r on B, so a mirror update of r cannot delete it. */
	Frep__V1__FailoverKey k             = FREP__V1__FAILOVER_KEY__INIT;
	k.name                              = "r";
	Frep__V1__FailoverRelationship *rel = (Frep__V1__FailoverRelationship *) rt_call(
	    f->b.c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		assert_string_not_equal(rel->scope_ids[i], "10.3.0.0");
	}
	protobuf_c_message_free_unpacked(&rel->base, NULL);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
}

/* Versioned apply on the wire: an ApplyScopes whose expected digest is not
 * the partner's is ABORTED (stale_expected) and changes nothing; with the
 * partner's digest it is applied. */
static void
test_pair_apply_is_versioned(void **state)
{
	fixture          *f = *state;
	frep_status       st;
	char              before[65], after[65];
	ProtobufCMessage *out = NULL;

	pair_up(f);
	set_description(f->a.c, SCOPE, "a new version");
	rt_digest(f->b.c, SCOPE, before);
	Frep__V1__ScopeConfigRequest cr = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	cr.scope_id                     = SCOPE;
	Frep__V1__ScopeConfig *cfg      = (Frep__V1__ScopeConfig *) rt_call(
		 f->a.c, "DhcpServer", "GetScopeConfig", &cr.base, FREP_OK, NULL);
	Frep__V1__ScopeConfig       *cfgs[] = {cfg};
	char                         stale[65];
	char                        *expected[] = {stale};
	Frep__V1__ApplyScopesRequest req        = FREP__V1__APPLY_SCOPES_REQUEST__INIT;
	memset(stale, 'b', 64);
	stale[64]              = '\0';
	req.relationship       = "r";
	req.source_server      = f->a.url;
	req.configs            = cfgs;
	req.n_configs          = 1;
	req.expected_digests   = expected;
	req.n_expected_digests = 1;
	assert_int_equal(signed_call_out(&f->b, "ApplyScopes", &req.base,
			     &frep__v1__apply_scopes_response__descriptor, &out, &st),
	    FREP_OK);
	Frep__V1__ApplyScopesResponse *r = (Frep__V1__ApplyScopesResponse *) out;
	assert_int_equal(r->outcomes[0]->code, FREP_ABORTED);
	assert_true(r->outcomes[0]->stale_expected);
	assert_non_null(strstr(r->outcomes[0]->message, before));
	protobuf_c_message_free_unpacked(out, NULL);
	rt_digest(f->b.c, SCOPE, after);
	assert_string_equal(before, after);

	expected[0] = before;
	assert_int_equal(signed_call_out(&f->b, "ApplyScopes", &req.base,
			     &frep__v1__apply_scopes_response__descriptor, &out, &st),
	    FREP_OK);
	r = (Frep__V1__ApplyScopesResponse *) out;
	assert_int_equal(r->outcomes[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(out, NULL);
	rt_digest(f->b.c, SCOPE, after);
	assert_string_equal(after, cfg->digest);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
}

/* --- 4. SetFailover on both servers ----------------------------------------- */

static Frep__V1__FailoverRelationship *
get_failover(rt_node *n, const char *name)
{
	Frep__V1__FailoverKey k = FREP__V1__FAILOVER_KEY__INIT;
	k.name                  = (char *) name;
	return (Frep__V1__FailoverRelationship *) rt_call(
	    n->c, "DhcpServer", "GetFailover", &k.base, FREP_OK, NULL);
}

static frep_code
set_failover(rt_node *n, Frep__V1__FailoverRelationship *rel, char **mask, size_t n_mask,
    frep_code expect, frep_status *st)
{
	Frep__V1__SetFailoverRequest req = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	req.relationship                 = rel;
	req.update_mask                  = mask;
	req.n_update_mask                = n_mask;
	protobuf_c_message_free_unpacked(
	    rt_call(n->c, "DhcpServer", "SetFailover", &req.base, expect, st), NULL);
	return expect;
}

/* Issue 13 case 4: before, SetFailover changed one server only (both
 * standby; 40 and 30 percent; a rotated secret broke replication until
 * repeated on B). Now the mirror changes with it, all or nothing. */
static void
test_pair_set_failover_changes_both_servers(void **state)
{
	fixture                        *f = *state;
	frep_status                     st;
	Frep__V1__FailoverRelationship *ga, *gb;

	pair_up(f);
	/* Load balance: 40 here, 60 there. */
	Frep__V1__FailoverRelationship rel  = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	char                          *m1[] = {"load_balance_percent", "max_client_lead_time_s"};
	rel.name                            = "r";
	rel.load_balance_percent            = 40;
	rel.max_client_lead_time_s          = 1800;
	set_failover(&f->a, &rel, m1, 2, FREP_OK, NULL);
	ga = get_failover(&f->a, "r");
	gb = get_failover(&f->b, "r");
	assert_int_equal(ga->load_balance_percent, 40);
	assert_int_equal(gb->load_balance_percent, 60);
	assert_int_equal(gb->max_client_lead_time_s, 1800);
	protobuf_c_message_free_unpacked(&ga->base, NULL);
	protobuf_c_message_free_unpacked(&gb->base, NULL);

	/* Hot standby, this server standby: the partner active. */
	char *m2[]      = {"mode", "server_role"};
	rel.mode        = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_HOT_STANDBY;
	rel.server_role = FREP__V1__SERVER_ROLE__SERVER_ROLE_STANDBY;
	set_failover(&f->a, &rel, m2, 2, FREP_OK, NULL);
	ga = get_failover(&f->a, "r");
	gb = get_failover(&f->b, "r");
	assert_int_equal(ga->server_role, FREP__V1__SERVER_ROLE__SERVER_ROLE_STANDBY);
	assert_int_equal(gb->server_role, FREP__V1__SERVER_ROLE__SERVER_ROLE_ACTIVE);
	assert_int_equal(gb->mode, FREP__V1__FAILOVER_MODE__FAILOVER_MODE_HOT_STANDBY);
	protobuf_c_message_free_unpacked(&ga->base, NULL);
	protobuf_c_message_free_unpacked(&gb->base, NULL);

	/* The other mirrored settings, as given (not inverted). */
	char *m4[] = {"reserve_percent", "state_switch_interval_s", "auto_state_transition"};
	rel.reserve_percent         = 7;
	rel.state_switch_interval_s = 900;
	rel.auto_state_transition   = true;
	set_failover(&f->a, &rel, m4, 3, FREP_OK, NULL);
	gb = get_failover(&f->b, "r");
	assert_int_equal(gb->reserve_percent, 7);
	assert_int_equal(gb->state_switch_interval_s, 900);
	assert_true(gb->auto_state_transition);
	protobuf_c_message_free_unpacked(&gb->base, NULL);

	/* A new secret: replication works both ways at once, without the
	 * change being repeated on B. */
	char *m3[]        = {"shared_secret"};
	rel.shared_secret = "a brand new secret";
	set_failover(&f->a, &rel, m3, 1, FREP_OK, NULL);
	set_description(f->a.c, SCOPE, "after rotation, from A");
	Frep__V1__ReplicateResponse *r = replicate(f->a.c, SCOPE, false, false);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	set_description(f->b.c, SCOPE, "after rotation, from B");
	r = replicate(f->b.c, SCOPE, false, false);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The grace window: a call still signed with the old secret (a server
	 * that has not changed over yet) is accepted. */
	Frep__V1__GetScopeDigestsRequest dq     = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	char                            *dids[] = {SCOPE};
	dq.relationship                         = "r";
	dq.scope_ids                            = dids;
	dq.n_scope_ids                          = 1;
	assert_int_equal(signed_call(&f->b, "GetScopeDigests", &dq.base,
			     &frep__v1__get_scope_digests_response__descriptor, &st),
	    FREP_OK);

	/* Partner down: nothing changes on this side either (every field
	 * sent differs from what A holds). */
	tu_proc_stop(&f->b.proc, SIGKILL, 5000);
	char *m5[] = {"load_balance_percent", "max_client_lead_time_s", "reserve_percent",
	    "state_switch_interval_s", "auto_state_transition", "server_role"};
	rel.load_balance_percent    = 10;
	rel.max_client_lead_time_s  = 3600;
	rel.reserve_percent         = 9;
	rel.state_switch_interval_s = 600;
	rel.auto_state_transition   = false;
	rel.server_role             = FREP__V1__SERVER_ROLE__SERVER_ROLE_ACTIVE;
	set_failover(&f->a, &rel, m5, 6, FREP_UNAVAILABLE, &st);
	assert_non_null(strstr(st.message, f->b.url));
	ga = get_failover(&f->a, "r");
	assert_int_equal(ga->load_balance_percent, 40);
	assert_int_equal(ga->max_client_lead_time_s, 1800);
	assert_int_equal(ga->reserve_percent, 7);
	assert_int_equal(ga->state_switch_interval_s, 900);
	assert_true(ga->auto_state_transition);
	assert_int_equal(ga->server_role, FREP__V1__SERVER_ROLE__SERVER_ROLE_STANDBY);
	protobuf_c_message_free_unpacked(&ga->base, NULL);
}

/* --- 5. --force is not a full resend ------------------------------------- */

/* Issue 13 case 5: before, every scheduled run (which needs --force off a
 * terminal) resent every scope and audited each twice. Now a run without
 * full_resend skips matching digests and writes no audit row for them;
 * full_resend sends them. */
static void
test_pair_unchanged_scopes_are_skipped_unless_full(void **state)
{
	fixture *f = *state;

	pair_up(f);
	size_t                       rows_a = audit_count(f->a.c, -1);
	size_t                       rows_b = audit_count(f->b.c, -1);
	Frep__V1__ReplicateResponse *r      = replicate(f->a.c, SCOPE, false, false);
	assert_true(r->results[0]->unchanged);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(audit_count(f->a.c, -1), rows_a);
	assert_int_equal(audit_count(f->b.c, -1), rows_b);
	r = replicate(f->a.c, SCOPE, true, false);
	assert_false(r->results[0]->unchanged);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(audit_count(f->a.c, -1), rows_a + 1);
}

/* --- 6. failures leave a trace; the audit is bounded -------------------- */

/* Issue 13 case 6: before, a replication that failed UNAVAILABLE wrote no
 * audit record. */
static void
test_pair_failed_attempts_are_audited(void **state)
{
	fixture *f = *state;

	pair_up(f);
	/* A partner that does not answer in time (frozen): DEADLINE_EXCEEDED. */
	set_description(f->a.c, SCOPE, "to a partner that is frozen");
	size_t before = audit_count(f->a.c, FREP_DEADLINE_EXCEEDED);
	assert_int_equal(kill(f->b.proc.pid, SIGSTOP), 0);
	Frep__V1__ReplicateResponse *r = replicate(f->a.c, SCOPE, false, false);
	assert_int_equal(kill(f->b.proc.pid, SIGCONT), 0);
	assert_int_equal(r->results[0]->code, FREP_DEADLINE_EXCEEDED);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(audit_count(f->a.c, FREP_DEADLINE_EXCEEDED), before + 1);

	/* A partner that does not know the relationship (a new store):
	 * UNAUTHENTICATED. */
	rt_node_stop_clean(&f->b);
	snprintf(f->b.db, sizeof(f->b.db), "%s/b-new.db", f->dir);
	rt_node_start(&f->b, f->dir);
	set_description(f->a.c, SCOPE, "to a partner that forgot the relationship");
	before = audit_count(f->a.c, FREP_UNAUTHENTICATED);
	r      = replicate(f->a.c, SCOPE, false, false);
	assert_int_equal(r->results[0]->code, FREP_UNAUTHENTICATED);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(audit_count(f->a.c, FREP_UNAUTHENTICATED), before + 1);

	/* A partner that is down: UNAVAILABLE. */
	set_description(f->a.c, SCOPE, "to a partner that is down");
	tu_proc_stop(&f->b.proc, SIGKILL, 5000);
	before = audit_count(f->a.c, FREP_UNAVAILABLE);
	r      = replicate(f->a.c, SCOPE, false, false);
	assert_int_equal(r->results[0]->code, FREP_UNAVAILABLE);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(audit_count(f->a.c, FREP_UNAVAILABLE), before + 1);
}

/* The audit grows no larger than --audit-max-rows. */
static void
test_pair_audit_is_bounded(void **state)
{
	fixture *f = *state;

	rt_node_stop_clean(&f->a);
	f->a.extra[0] = "--audit-max-rows";
	f->a.extra[1] = "3";
	rt_node_start(&f->a, f->dir);
	pair_up(f);
	for (int i = 0; i < 6; i++) {
		char text[32];
		snprintf(text, sizeof(text), "edit %d", i);
		set_description(f->a.c, SCOPE, text);
		Frep__V1__ReplicateResponse *r = replicate(f->a.c, SCOPE, false, false);
		assert_int_equal(r->results[0]->code, FREP_OK);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	assert_int_equal(audit_count(f->a.c, -1), 3);
	assert_true(audit_count(f->b.c, -1) >= 7);
}

/* --- 7. the partner's refusals ---------------------------------------------- */

/* Issue 13 case 7: before, the source showed "option definition 250 …
 * does not exist on this server" (meaning the partner), one missing
 * dependency per attempt. Now one reply names the partner and every
 * missing definition and class. */
static void
test_pair_partner_refusal_names_the_partner_and_every_dependency(void **state)
{
	fixture *f = *state;

	pair_up(f);
	for (uint32_t code = 250; code <= 251; code++) {
		Frep__V1__OptionDefinition d = FREP__V1__OPTION_DEFINITION__INIT;
		d.option_id                  = code;
		d.name                       = "site";
		d.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_BYTE;
		rt_call_ok(f->a.c, "DhcpServer", "AddOptionDefinition", &d.base);
		Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
		Frep__V1__SetOptionValueRequest req    = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
		char                           *vals[] = {"7"};
		v.option_id                            = code;
		v.values                               = vals;
		v.n_values                             = 1;
		Frep__V1__OptionTarget tg              = FREP__V1__OPTION_TARGET__INIT;
		tg.scope_id                            = SCOPE;
		req.target                             = &tg;
		req.value                              = &v;
		rt_call_ok(f->a.c, "DhcpServer", "SetOptionValue", &req.base);
	}
	size_t                       on_a = audit_count(f->a.c, FREP_FAILED_PRECONDITION);
	size_t                       on_b = audit_count(f->b.c, FREP_FAILED_PRECONDITION);
	Frep__V1__ReplicateResponse *r    = replicate(f->a.c, SCOPE, false, false);
	Frep__V1__ScopeResult       *s    = r->results[0];
	assert_int_equal(s->code, FREP_FAILED_PRECONDITION);
	/* The refusal is audited on both servers (it got that far). */
	assert_int_equal(audit_count(f->a.c, FREP_FAILED_PRECONDITION), on_a + 1);
	assert_int_equal(audit_count(f->b.c, FREP_FAILED_PRECONDITION), on_b + 1);
	char prefix[700];
	snprintf(prefix, sizeof(prefix), "partner %s: ", f->b.url);
	assert_true(strncmp(s->message, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(s->message, "option definition 250"));
	assert_non_null(strstr(s->message, "option definition 251"));
	assert_non_null(strstr(s->message, "there"));
	assert_null(strstr(s->message, "on this server"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* --- last-synced state ---------------------------------------------------- */

/* B edits its copy locally: A's replication says so (partner_changed),
 * --what-if shows what will be overwritten, and a manual replication
 * still overwrites, as on Windows. */
static void
test_pair_partner_changed_is_reported(void **state)
{
	fixture *f = *state;
	char     d[600];

	pair_up(f);
	Frep__V1__ReplicateResponse *r = replicate(f->a.c, SCOPE, false, false);
	assert_false(r->results[0]->partner_changed);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	set_description(f->b.c, SCOPE, "edited on B");
	r = replicate(f->a.c, SCOPE, false, true);
	assert_int_equal(r->results[0]->code, FREP_OK);
	assert_true(r->results[0]->partner_changed);
	assert_true(r->results[0]->last_synced_unix_ms > 0);
	assert_true(r->results[0]->n_diff >= 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = replicate(f->a.c, SCOPE, false, false);
	assert_int_equal(r->results[0]->code, FREP_OK);
	assert_true(r->results[0]->partner_changed);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	description(f->b.c, SCOPE, d, sizeof(d));
	assert_string_not_equal(d, "edited on B");
	r = replicate(f->a.c, SCOPE, false, false);
	assert_true(r->results[0]->unchanged);
	assert_false(r->results[0]->partner_changed);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_pair_crossing_replications_never_swap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_scope_add_refuses_the_partners_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_add_failover_force_takes_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_secret_reaches_only_the_relationships_scopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_apply_is_versioned, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_set_failover_changes_both_servers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_unchanged_scopes_are_skipped_unless_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_failed_attempts_are_audited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_audit_is_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pair_partner_refusal_names_the_partner_and_every_dependency, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_partner_changed_is_reported, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
