/* Replication as data: snapshot and digest determinism, diff counts,
 * apply (dependencies, dry run, equality of digests, scale), audit. */
#include <time.h>

#include "test/engine_testutil.h"

#define S1 IP4(10, 0, 1, 0)

static char *dns[]    = {"10.0.1.1", "10.0.1.2"};
static char *host[]   = {"h"};
static char *mac[]    = {"00-11-22-33-44-55"};
static char *vcls[]   = {"Microsoft Options"};
static char *router[] = {"10.0.1.254"};

static void
add_reservation(engine *e, int host_octet, const char *cid, const char *name)
{
	frep_status         st;
	engine_option_value o = {.option_id = 12, .values = host, .n_values = 1};
	engine_reservation  r = {.scope_id = S1,
	     .ip_address                   = IP4(10, 0, 1, host_octet),
	     .client_id                    = (char *) cid,
	     .name                         = (char *) name,
	     .options                      = &o,
	     .n_options                    = 1};
	CHECK_OK(engine_reservation_add(e, &r, NULL, &st), st);
}

static void
add_exclusion(engine *e, int a, int b)
{
	frep_status      st;
	engine_exclusion x = {S1, IP4(10, 0, 1, a), IP4(10, 0, 1, b)};
	CHECK_OK(engine_exclusion_add(e, &x, &st), st);
}

static void
set_scope_option(engine *e, uint32_t id, char **values, size_t n, const char *user_class)
{
	frep_status          st;
	engine_option_target tg = {.scope_id = S1};
	engine_option_value  v  = {
	      .option_id = id, .values = values, .n_values = n, .user_class = (char *) user_class};
	CHECK_OK(engine_option_value_set(e, &tg, &v, NULL, &st), st);
}

static void
add_policy(engine *e, const char *name, uint32_t order, int lo, int hi)
{
	frep_status         st;
	engine_criterion    c[] = {{.type          = ENGINE_CRITERION_TYPE_MAC_ADDRESS,
				       .comparator = ENGINE_COMPARATOR_EQ,
				       .values     = mac,
				       .n_values   = 1},
	       {.type          = ENGINE_CRITERION_TYPE_VENDOR_CLASS,
		   .comparator = ENGINE_COMPARATOR_EQ,
		   .values     = vcls,
		   .n_values   = 1}};
	engine_ip_range     r   = {IP4(10, 0, 1, lo), IP4(10, 0, 1, hi)};
	engine_option_value o   = {.option_id = 3, .values = router, .n_values = 1};
	engine_policy       p   = {.name = (char *) name,
		    .scope_id            = S1,
		    .processing_order    = order,
		    .criteria            = c,
		    .n_criteria          = 2,
		    .ip_ranges           = &r,
		    .n_ip_ranges         = 1,
		    .options             = &o,
		    .n_options           = 1};
	CHECK_OK(engine_policy_add(e, &p, NULL, &st), st);
}

/* The same configuration, built in two different orders. */
static void
populate_forward(engine *e)
{
	add_scope24(e, 1, "office");
	add_exclusion(e, 20, 30);
	add_exclusion(e, 40, 41);
	add_reservation(e, 5, "01-01-01-01-01-01", "a");
	add_reservation(e, 6, "02-02-02-02-02-02", "b");
	add_reservation(e, 7, "03-03-03-03-03-03", "c");
	set_scope_option(e, 6, dns, 2, "");
	set_scope_option(e, 15, host, 1, "Default BOOTP Class");
	add_policy(e, "alpha", 1, 100, 110);
	add_policy(e, "beta", 2, 120, 130);
}

static void
populate_backward(engine *e)
{
	add_scope24(e, 1, "office");
	add_policy(e, "beta", 2, 120, 130);
	add_policy(e, "alpha", 1, 100, 110);
	set_scope_option(e, 15, host, 1, "Default BOOTP Class");
	set_scope_option(e, 6, dns, 2, "");
	add_reservation(e, 7, "03:03:03:03:03:03", "c");
	add_reservation(e, 6, "020202020202", "b");
	add_reservation(e, 5, "01-01-01-01-01-01", "a");
	add_exclusion(e, 40, 41);
	add_exclusion(e, 20, 30);
}

static void
digest_of(engine *e, char out[65])
{
	frep_status st;
	bool        found;
	CHECK_OK(engine_scope_digest(e, S1, out, &found, &st), st);
	assert_true(found);
	assert_int_equal(strlen(out), 64);
}

static void
test_engine_digest_is_insertion_order_independent(void **state)
{
	testdb *a = testdb_open(), *b = testdb_open();
	char    da[65], db[65], dc[65];

	(void) state;
	populate_forward(a->e);
	populate_backward(b->e);
	digest_of(a->e, da);
	digest_of(b->e, db);
	assert_string_equal(da, db);

	/* The pure function agrees, whatever the order of the arrays. */
	engine_scope_config *c;
	frep_status          st;
	CHECK_OK(engine_scope_snapshot(a->e, S1, &c, &st), st);
	assert_string_equal(c->digest, da);
	engine_reservation tmp = c->reservations[0];
	c->reservations[0]     = c->reservations[2];
	c->reservations[2]     = tmp;
	engine_policy ptmp     = c->policies[0];
	c->policies[0]         = c->policies[1];
	c->policies[1]         = ptmp;
	CHECK_OK(engine_scope_config_digest(c, dc, &st), st);
	assert_string_equal(dc, da);
	/* Any content change moves it. */
	char *saved             = c->reservations[1].name;
	c->reservations[1].name = "changed";
	CHECK_OK(engine_scope_config_digest(c, dc, &st), st);
	assert_string_not_equal(dc, da);
	c->reservations[1].name = saved;
	engine_scope_config_free(c);
	testdb_close(a);
	testdb_close(b);
}

/* The scope digest is the pair's compatibility contract: two servers of
 * different frep versions compare digests, so the canonical encoding and
 * the hash must never change silently. Pins the value computed before the
 * SHA-256 moved from frep's own code to libcrypto (issue 12). */
static void
test_engine_digest_pinned_value(void **state)
{
	testdb *t = testdb_open();
	char    d[65];

	(void) state;
	populate_forward(t->e);
	digest_of(t->e, d);
	assert_string_equal(d, "1cc0d59c7eebb7ffaaae39efcbee4c8754aadca56f0e480cfc051b985d14ed6e");
	testdb_close(t);
}

static void
test_engine_snapshot_contents(void **state)
{
	testdb              *t = testdb_open();
	engine_scope_config *c;
	frep_status          st;
	char                 d[65];
	bool                 found = true;

	(void) state;
	CHECK_OK(engine_scope_digest(t->e, S1, d, &found, &st), st);
	assert_false(found);
	assert_string_equal(d, "");
	CHECK_STATUS(engine_scope_snapshot(t->e, S1, &c, &st), st, FREP_NOT_FOUND, "10.0.1.0");

	populate_backward(t->e);
	CHECK_OK(engine_scope_snapshot(t->e, S1, &c, &st), st);
	assert_int_equal(c->n_exclusions, 2);
	assert_int_equal(c->exclusions[0].start_range, IP4(10, 0, 1, 20));
	assert_int_equal(c->n_reservations, 3);
	assert_int_equal(c->reservations[0].ip_address, IP4(10, 0, 1, 5));
	assert_string_equal(c->reservations[1].client_id, "02-02-02-02-02-02");
	assert_int_equal(c->reservations[2].n_options, 1);
	assert_int_equal(c->n_options, 2);
	assert_int_equal(c->options[0].option_id, 6);
	assert_int_equal(c->n_policies, 2);
	assert_string_equal(c->policies[0].name, "alpha");
	assert_int_equal(c->policies[0].n_criteria, 2);
	/* Dependencies: options 3, 6, 12, 15 and two classes. */
	assert_int_equal(c->n_option_definitions_used, 4);
	assert_int_equal(c->option_definitions_used[0].option_id, 3);
	assert_int_equal(c->option_definitions_used[3].option_id, 15);
	assert_int_equal(c->n_classes_used, 2);
	assert_int_equal(c->classes_used[0].type, ENGINE_CLASS_TYPE_VENDOR);
	assert_string_equal(c->classes_used[0].name, "Microsoft Options");
	assert_string_equal(c->classes_used[1].name, "Default BOOTP Class");
	digest_of(t->e, d);
	assert_string_equal(c->digest, d);
	engine_scope_config_free(c);
	testdb_close(t);
}

static void
count_actions(const engine_object_diff *diff, size_t n, const char *kind, engine_diff_action action,
    const char *key, size_t want)
{
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(diff[i].kind, kind) == 0 && diff[i].action == action &&
		    (key == NULL || strcmp(diff[i].key, key) == 0)) {
			got++;
		}
	}
	if (got != want) {
		fail_msg("%s %s action %d: %zu, want %zu", kind, key != NULL ? key : "*",
		    (int) action, got, want);
	}
}

static void
test_engine_diff_counts_each_kind(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_scope_changes ch;
	engine_object_diff  *diff;
	size_t               n;
	frep_status          st;

	(void) state;
	populate_forward(src->e);
	/* The partner: same scope with a different description; exclusion
	 * 20-30 kept, 50-60 extra; reservation 5 same, 6 with another
	 * client id, 8 extra; option 6 different values, option 42 extra;
	 * policy alpha same, gamma extra. */
	engine_scope s = scope24(1, "office");
	s.description  = "old";
	CHECK_OK(engine_scope_add(dst->e, &s, NULL, &st), st);
	add_exclusion(dst->e, 20, 30);
	add_exclusion(dst->e, 50, 60);
	add_reservation(dst->e, 5, "01-01-01-01-01-01", "a");
	add_reservation(dst->e, 6, "09-09-09-09-09-09", "b");
	add_reservation(dst->e, 8, "08-08-08-08-08-08", "x");
	char *one_dns[] = {"10.0.1.1"};
	set_scope_option(dst->e, 6, one_dns, 1, "");
	set_scope_option(dst->e, 42, one_dns, 1, "");
	add_policy(dst->e, "alpha", 1, 100, 110);
	add_policy(dst->e, "gamma", 3, 140, 150);

	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	CHECK_OK(engine_scope_diff(dst->e, c, &ch, &diff, &n, &st), st);
	assert_int_equal(ch.scope.added, 0);
	assert_int_equal(ch.scope.updated, 1);
	assert_int_equal(ch.exclusions.added, 1);
	assert_int_equal(ch.exclusions.updated, 0);
	assert_int_equal(ch.exclusions.removed, 1);
	assert_int_equal(ch.reservations.added, 1);
	assert_int_equal(ch.reservations.updated, 1);
	assert_int_equal(ch.reservations.removed, 1);
	assert_int_equal(ch.options.added, 1);
	assert_int_equal(ch.options.updated, 1);
	assert_int_equal(ch.options.removed, 1);
	assert_int_equal(ch.policies.added, 1);
	assert_int_equal(ch.policies.updated, 0);
	assert_int_equal(ch.policies.removed, 1);
	count_actions(diff, n, "scope", ENGINE_DIFF_ACTION_UPDATE, "10.0.1.0", 1);
	count_actions(diff, n, "exclusion", ENGINE_DIFF_ACTION_ADD, "10.0.1.40-10.0.1.41", 1);
	count_actions(diff, n, "exclusion", ENGINE_DIFF_ACTION_REMOVE, "10.0.1.50-10.0.1.60", 1);
	count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_UPDATE, "10.0.1.6", 1);
	count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_ADD, "10.0.1.7", 1);
	count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_REMOVE, "10.0.1.8", 1);
	count_actions(diff, n, "option", ENGINE_DIFF_ACTION_UPDATE, "6", 1);
	count_actions(diff, n, "option", ENGINE_DIFF_ACTION_ADD, "15;user=Default BOOTP Class", 1);
	count_actions(diff, n, "option", ENGINE_DIFF_ACTION_REMOVE, "42", 1);
	count_actions(diff, n, "policy", ENGINE_DIFF_ACTION_ADD, "beta", 1);
	count_actions(diff, n, "policy", ENGINE_DIFF_ACTION_REMOVE, "gamma", 1);
	assert_int_equal(n, 11);
	engine_object_diffs_free(diff, n);

	/* A reservation option change is a reservation update. */
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

/* A reservation with no options, on db e. */
static void
add_bare_reservation(engine *e, int host_octet, const char *cid, const char *name,
    const char *description, engine_client_type type)
{
	frep_status        st;
	engine_reservation r = {.scope_id = S1,
	    .ip_address                   = IP4(10, 0, 1, host_octet),
	    .client_id                    = (char *) cid,
	    .name                         = (char *) name,
	    .description                  = (char *) description,
	    .type                         = type};
	CHECK_OK(engine_reservation_add(e, &r, NULL, &st), st);
}

/* Proves: reservations without options (compared field by field, not
 * encoded) are updates exactly when a field differs — client id, name,
 * description, type, each alone — and an identical one is no change; one
 * with options against one without is an update too; every diff agrees
 * with the digests (equal after the apply). */
static void
test_engine_diff_reservations_without_options(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_scope_changes ch;
	engine_object_diff  *diff;
	size_t               n;
	frep_status          st;
	char                 want[65], got[65];

	(void) state;
	engine_scope s = scope24(1, "bare");
	CHECK_OK(engine_scope_add(src->e, &s, NULL, &st), st);
	CHECK_OK(engine_scope_add(dst->e, &s, NULL, &st), st);
	add_bare_reservation(src->e, 11, "01-00-00-00-00-11", "same", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(dst->e, 11, "01-00-00-00-00-11", "same", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(src->e, 12, "01-00-00-00-00-12", "new", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(dst->e, 12, "01-00-00-00-00-12", "old", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(src->e, 13, "01-00-00-00-00-13", "n", "new", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(dst->e, 13, "01-00-00-00-00-13", "n", "", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(src->e, 14, "01-00-00-00-00-14", "n", "d", ENGINE_CLIENT_TYPE_DHCP);
	add_bare_reservation(dst->e, 14, "01-00-00-00-00-14", "n", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(src->e, 15, "01-00-00-00-00-15", "n", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_bare_reservation(dst->e, 15, "01-00-00-00-00-51", "n", "d", ENGINE_CLIENT_TYPE_BOTH);
	add_reservation(src->e, 16, "01-00-00-00-00-16", "n"); /* with option 12 */
	add_bare_reservation(dst->e, 16, "01-00-00-00-00-16", "n", "", ENGINE_CLIENT_TYPE_BOTH);

	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	strcpy(want, c->digest);
	CHECK_OK(engine_scope_diff(dst->e, c, &ch, &diff, &n, &st), st);
	assert_int_equal(ch.reservations.updated, 5);
	assert_int_equal(ch.reservations.added + ch.reservations.removed, 0);
	for (int h = 12; h <= 16; h++) {
		char ip[16];
		snprintf(ip, sizeof(ip), "10.0.1.%d", h);
		count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_UPDATE, ip, 1);
	}
	count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_UPDATE, "10.0.1.11", 0);
	engine_object_diffs_free(diff, n);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, NULL, NULL, &st), st);
	assert_int_equal(ch.reservations.updated, 5);
	digest_of(dst->e, got);
	assert_string_equal(got, want);
	/* Applied again: nothing differs. */
	CHECK_OK(engine_scope_diff(dst->e, c, &ch, &diff, &n, &st), st);
	assert_int_equal(ch.reservations.updated, 0);
	assert_int_equal(n, 0);
	engine_object_diffs_free(diff, n);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_makes_digest_equal(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_scope_changes ch;
	frep_status          st;
	char                 before[65], after[65], want[65], got[65];

	(void) state;
	populate_forward(src->e);
	/* The partner has an older, different copy in a relationship. */
	engine_scope s = scope24(1, "stale");
	CHECK_OK(engine_scope_add(dst->e, &s, NULL, &st), st);
	add_reservation(dst->e, 9, "09-09-09-09-09-09", "gone");
	add_policy(dst->e, "gamma", 1, 140, 150);
	uint32_t        ids[] = {S1};
	engine_failover r     = {
		.name = "pair", .partner_server = "tcp://a:1", .scope_ids = ids, .n_scope_ids = 1};
	CHECK_OK(engine_failover_add(dst->e, &r, NULL, &st), st);
	char old[65];
	digest_of(dst->e, old);

	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	strcpy(want, c->digest);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, before, after, &st), st);
	assert_string_equal(before, old);
	assert_string_equal(after, want);
	digest_of(dst->e, got);
	assert_string_equal(got, want);
	assert_int_equal(ch.scope.updated, 1);
	assert_int_equal(ch.reservations.added, 3);
	assert_int_equal(ch.reservations.removed, 1);
	assert_int_equal(ch.policies.added, 2);
	assert_int_equal(ch.policies.removed, 1);
	/* Membership untouched. */
	bool found;
	char name[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	CHECK_OK(engine_failover_of_scope(dst->e, S1, &found, name, &st), st);
	assert_true(found);
	assert_string_equal(name, "pair");
	/* Survives a reopen; applying again changes nothing. */
	testdb_reopen(dst);
	digest_of(dst->e, got);
	assert_string_equal(got, want);
	engine_object_diff *diff;
	size_t              n;
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, &diff, &n, before, after, &st), st);
	assert_int_equal(n, 0);
	assert_null(diff);
	assert_string_equal(before, want);
	assert_int_equal(ch.reservations.added + ch.reservations.updated + ch.reservations.removed +
			     ch.scope.updated + ch.policies.added,
	    0);
	/* A change here forgets the stored digest; the same version applied
	 * again (its copy here read and diffed, not taken as equal) takes the
	 * change back out, and a second time it is equal again. */
	add_reservation(dst->e, 77, "07-07-07-07-07-07", "extra");
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, before, after, &st), st);
	assert_string_not_equal(before, want);
	assert_string_equal(after, want);
	assert_int_equal(ch.reservations.removed, 1);
	assert_int_equal(ch.reservations.added + ch.reservations.updated, 0);
	digest_of(dst->e, got);
	assert_string_equal(got, want);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, before, after, &st), st);
	assert_string_equal(before, want);
	assert_int_equal(ch.reservations.removed, 0);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_creates_missing_scope(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_scope_changes ch;
	frep_status          st;
	char                 before[65] = "x", after[65];

	(void) state;
	populate_forward(src->e);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, before, after, &st), st);
	assert_string_equal(before, "");
	assert_string_equal(after, c->digest);
	assert_int_equal(ch.scope.added, 1);
	assert_int_equal(ch.exclusions.added, 2);
	assert_int_equal(ch.reservations.added, 3);
	assert_int_equal(ch.options.added, 2);
	assert_int_equal(ch.policies.added, 2);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_missing_dependency_refused(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	frep_status          st;
	engine_option_def d = {.option_id = 240, .name = "custom", .type = ENGINE_OPTION_TYPE_BYTE};
	char             *v[] = {"7"};

	(void) state;
	populate_forward(src->e);
	CHECK_OK(engine_option_def_add(src->e, &d, NULL, &st), st);
	set_scope_option(src->e, 240, v, 1, "");
	add_scope24(dst->e, 1, "partner copy");
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);

	char *before = store_dump(dst->path);
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_FAILED_PRECONDITION,
	    "option definition 240 (vendor class "
	    "'')",
	    "does not exist on this server");
	char *after = store_dump(dst->path);
	assert_string_equal(before, after);
	free(after);

	/* A missing class is refused the same way. */
	CHECK_OK(engine_option_def_add(dst->e, &d, NULL, &st), st);
	CHECK_OK(
	    engine_class_remove(dst->e, ENGINE_CLASS_TYPE_USER, "Default BOOTP Class", &st), st);
	free(before);
	before = store_dump(dst->path);
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_FAILED_PRECONDITION, "user class 'Default BOOTP Class'");
	after = store_dump(dst->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

/* A batch: every scope all or nothing, the good ones applied even when one
 * is refused, in one transaction. */
static void
test_engine_apply_batch_per_scope_outcomes(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *good, *bad, *good2;
	engine_apply_result  res[3];
	frep_status          st;
	engine_option_def d = {.option_id = 241, .name = "custom", .type = ENGINE_OPTION_TYPE_BYTE};
	char             *v[] = {"9"};
	char              digest[65];
	bool              found;

	(void) state;
	populate_forward(src->e);
	add_scope24(src->e, 2, "second");
	add_scope24(src->e, 3, "third");
	CHECK_OK(engine_option_def_add(src->e, &d, NULL, &st), st);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &good, &st), st);
	CHECK_OK(engine_scope_snapshot(src->e, scope24(3, "x").scope_id, &good2, &st), st);
	/* Scope 2 uses a definition the partner lacks. */
	engine_option_target t  = {.scope_id = scope24(2, "x").scope_id};
	engine_option_value  ov = {.option_id = 241, .values = v, .n_values = 1};
	CHECK_OK(engine_option_value_set(src->e, &t, &ov, NULL, &st), st);
	CHECK_OK(engine_scope_snapshot(src->e, t.scope_id, &bad, &st), st);

	const engine_scope_config *batch[3] = {good, bad, good2};
	/* A dry run first: reports, stores nothing. */
	CHECK_OK(engine_scope_apply_batch(dst->e, batch, 3, true, true, res, &st), st);
	assert_int_equal(res[0].code, FREP_OK);
	assert_true(res[0].n_diff > 0);
	assert_int_equal(res[1].code, FREP_FAILED_PRECONDITION);
	assert_int_equal(res[2].code, FREP_OK);
	for (int i = 0; i < 3; i++) {
		engine_object_diffs_free(res[i].diff, res[i].n_diff);
	}
	CHECK_OK(engine_scope_digest(dst->e, S1, digest, &found, &st), st);
	assert_false(found);

	CHECK_OK(engine_scope_apply_batch(dst->e, batch, 3, false, false, res, &st), st);
	assert_int_equal(res[0].code, FREP_OK);
	assert_string_equal(res[0].digest_after, good->digest);
	assert_int_equal(res[0].changes.reservations.added, 3);
	assert_int_equal(res[1].code, FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(res[1].status.message, "241"));
	assert_int_equal(res[2].code, FREP_OK);
	CHECK_OK(engine_scope_digest(dst->e, S1, digest, &found, &st), st);
	assert_true(found);
	assert_string_equal(digest, good->digest);
	CHECK_OK(engine_scope_digest(dst->e, t.scope_id, digest, &found, &st), st);
	assert_false(found);
	CHECK_OK(engine_scope_digest(dst->e, good2->scope.scope_id, digest, &found, &st), st);
	assert_string_equal(digest, good2->digest);
	/* And it survives a reopen: it was committed. */
	testdb_reopen(dst);
	CHECK_OK(engine_scope_digest(dst->e, S1, digest, &found, &st), st);
	assert_string_equal(digest, good->digest);

	engine_scope_config_free(good);
	engine_scope_config_free(bad);
	engine_scope_config_free(good2);
	testdb_close(src);
	testdb_close(dst);
}

/* The stored digest (cleared by triggers, recomputed on demand) always
 * equals a fresh one, after every kind of change. A missed trigger would
 * let replication skip a changed scope: this test pins each one. */
static void
assert_stored_digest_fresh(engine *e, char prev[65], const char *what)
{
	frep_status          st;
	engine_scope_config *c;
	char                 stored[65];
	digest_of(e, stored);
	CHECK_OK(engine_scope_snapshot(e, S1, &c, &st), st);
	if (strcmp(stored, c->digest) != 0) {
		fail_msg("after %s: stored digest %s, fresh %s", what, stored, c->digest);
	}
	if (strcmp(stored, prev) == 0) {
		fail_msg("after %s: the digest did not change", what);
	}
	memcpy(prev, stored, 65);
	engine_scope_config_free(c);
}

static void
test_engine_stored_digest_follows_every_change(void **state)
{
	testdb     *t = testdb_open();
	engine     *e;
	frep_status st;
	char        prev[65]    = "";
	char       *mask_name[] = {"name"};
	char       *two[]       = {"10.0.1.3"};

	(void) state;
	e = t->e;
	populate_forward(e);
	assert_stored_digest_fresh(e, prev, "populate");

	add_exclusion(e, 50, 55);
	assert_stored_digest_fresh(e, prev, "exclusion add");
	engine_exclusion x = {S1, IP4(10, 0, 1, 20), IP4(10, 0, 1, 30)};
	CHECK_OK(engine_exclusion_remove(e, &x, &st), st);
	assert_stored_digest_fresh(e, prev, "exclusion remove");

	add_reservation(e, 8, "04-04-04-04-04-04", "d");
	assert_stored_digest_fresh(e, prev, "reservation add");
	engine_reservation r = {.scope_id = S1, .ip_address = IP4(10, 0, 1, 8), .name = "dd"};
	CHECK_OK(engine_reservation_set(e, &r, (const char *const *) mask_name, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "reservation set");
	engine_option_target rt = {.scope_id = S1, .reserved_ip = IP4(10, 0, 1, 8)};
	engine_option_value  rv = {.option_id = 3, .values = two, .n_values = 1};
	CHECK_OK(engine_option_value_set(e, &rt, &rv, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "reservation option set");
	CHECK_OK(engine_option_value_remove(e, &rt, 3, "", "", &st), st);
	assert_stored_digest_fresh(e, prev, "reservation option remove");
	CHECK_OK(engine_reservation_remove(e, S1, IP4(10, 0, 1, 8), &st), st);
	assert_stored_digest_fresh(e, prev, "reservation remove");

	set_scope_option(e, 6, two, 1, "");
	assert_stored_digest_fresh(e, prev, "scope option set");
	engine_option_target st_scope = {.scope_id = S1};
	CHECK_OK(engine_option_value_remove(e, &st_scope, 6, "", "", &st), st);
	assert_stored_digest_fresh(e, prev, "scope option remove");

	add_policy(e, "gamma", 3, 140, 150);
	assert_stored_digest_fresh(e, prev, "policy add");
	engine_policy p       = {.name = "gamma", .scope_id = S1, .lease_duration_s = 600};
	char         *pmask[] = {"lease_duration_s"};
	CHECK_OK(engine_policy_set(e, &p, (const char *const *) pmask, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy set");
	engine_ip_range pr = {IP4(10, 0, 1, 160), IP4(10, 0, 1, 165)};
	CHECK_OK(engine_policy_range_add(e, S1, "gamma", &pr, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy range add");
	CHECK_OK(engine_policy_range_remove(e, S1, "gamma", &pr, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy range remove");
	engine_option_target pt = {.scope_id = S1, .policy_name = "gamma"};
	CHECK_OK(engine_option_value_set(e, &pt, &rv, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy option set");
	engine_criterion c  = {.type = ENGINE_CRITERION_TYPE_MAC_ADDRESS,
	     .comparator             = ENGINE_COMPARATOR_NE,
	     .values                 = mac,
	     .n_values               = 1};
	engine_policy    pc = {.name = "gamma", .scope_id = S1, .criteria = &c, .n_criteria = 1};
	char            *cmask[] = {"criteria"};
	CHECK_OK(engine_policy_set(e, &pc, (const char *const *) cmask, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy criteria set");
	engine_option_value po = {.option_id = 3, .values = router, .n_values = 1};
	engine_policy       pw = {.name = "gamma", .scope_id = S1, .options = &po, .n_options = 1};
	char               *omask[] = {"options"};
	CHECK_OK(engine_policy_set(e, &pw, (const char *const *) omask, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "policy options set (policy_set)");
	engine_option_value ro = {.option_id = 15, .values = host, .n_values = 1};
	engine_reservation  rw = {
	     .scope_id = S1, .ip_address = IP4(10, 0, 1, 5), .options = &ro, .n_options = 1};
	char *rmask[] = {"options"};
	CHECK_OK(engine_reservation_set(e, &rw, (const char *const *) rmask, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "reservation options set (reservation_set)");
	CHECK_OK(engine_policy_remove(e, S1, "gamma", &st), st);
	assert_stored_digest_fresh(e, prev, "policy remove");

	engine_scope sc = scope24(1, "renamed");
	CHECK_OK(engine_scope_set(e, &sc, (const char *const *) mask_name, 1, NULL, &st), st);
	assert_stored_digest_fresh(e, prev, "scope set");

	/* Reopened, the stored digest is still right. */
	testdb_reopen(t);
	e = t->e;
	char again[65];
	digest_of(e, again);
	assert_string_equal(again, prev);
	testdb_close(t);
}

static void
test_engine_apply_dry_run_changes_nothing(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_scope_changes ch;
	engine_object_diff  *diff;
	size_t               n;
	frep_status          st;
	char                 b[65], a[65], old[65];

	(void) state;
	populate_forward(src->e);
	add_scope24(dst->e, 1, "partner copy");
	add_reservation(dst->e, 9, "09-09-09-09-09-09", "gone");
	digest_of(dst->e, old);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	char *before = store_dump(dst->path);
	CHECK_OK(engine_scope_apply(dst->e, c, true, &ch, &diff, &n, b, a, &st), st);
	char *after = store_dump(dst->path);
	assert_string_equal(before, after);
	assert_string_equal(b, old);
	assert_string_equal(a, old);
	assert_int_equal(ch.scope.updated, 1);
	assert_int_equal(ch.reservations.added, 3);
	assert_int_equal(ch.reservations.removed, 1);
	assert_true(n > 0);
	count_actions(diff, n, "reservation", ENGINE_DIFF_ACTION_REMOVE, "10.0.1.9", 1);
	engine_object_diffs_free(diff, n);
	free(before);
	free(after);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_validates_incoming(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	frep_status          st;

	(void) state;
	populate_forward(src->e);
	add_scope24(dst->e, 1, "partner copy");
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	char *before = store_dump(dst->path);

	/* A tampered config no longer matches its digest. */
	char *name              = c->reservations[0].name;
	c->reservations[0].name = "tampered";
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_INVALID_ARGUMENT, "digest", "does not match");
	c->reservations[0].name = name;
	/* An invalid one is refused by validation (checked first). */
	uint32_t ip                   = c->reservations[0].ip_address;
	c->reservations[0].ip_address = IP4(10, 0, 2, 5);
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_INVALID_ARGUMENT,
	    "reservation 10.0.2.5 lies outside scope "
	    "10.0.1.0/24");
	/* Without a digest, validation refuses it too. */
	c->digest[0] = '\0';
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_INVALID_ARGUMENT,
	    "reservation 10.0.2.5 lies outside scope "
	    "10.0.1.0/24");
	c->reservations[0].ip_address = c->reservations[1].ip_address;
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_INVALID_ARGUMENT, "reservation 10.0.1.6 is given twice");
	c->reservations[0].ip_address = ip;
	char  *bad[]                  = {"300"};
	char **saved                  = c->options[0].values;
	c->options[0].values          = bad;
	c->options[0].n_values        = 1;
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_INVALID_ARGUMENT, "option 6", "'300'");
	c->options[0].values   = saved;
	c->options[0].n_values = 2;
	char *after            = store_dump(dst->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static double
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
test_engine_apply_10k_reservations(void **state)
{
	enum { N = 10000 };
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config  in = {0};
	engine_scope_config *c;
	engine_scope_changes ch;
	frep_status          st;
	struct timespec      t0, t1;
	char                 a[65];
	static char          cids[N][18];

	(void) state;
	in.scope          = (engine_scope){.scope_id = IP4(10, 0, 0, 0),
		     .subnet_mask                    = IP4(255, 255, 0, 0),
		     .name                           = "big",
		     .start_range                    = IP4(10, 0, 0, 1),
		     .end_range                      = IP4(10, 0, 255, 254)};
	in.reservations   = calloc(N, sizeof(*in.reservations));
	in.n_reservations = N;
	assert_non_null(in.reservations);
	engine_option_value o = {.option_id = 12, .values = host, .n_values = 1};
	for (int i = 0; i < N; i++) {
		snprintf(cids[i], sizeof(cids[i]), "02-00-00-00-%02x-%02x", i >> 8, i & 0xff);
		in.reservations[i] =
		    (engine_reservation){.ip_address = IP4(10, 0, 0, 0) + 256 + (uint32_t) i,
			.client_id                   = cids[i],
			.name                        = "host",
			.options                     = (i % 2) ? &o : NULL,
			.n_options                   = (i % 2) ? 1 : 0};
	}
	CHECK_OK(engine_scope_apply(src->e, &in, false, &ch, NULL, NULL, NULL, NULL, &st), st);
	assert_int_equal(ch.reservations.added, N);
	free(in.reservations);

	CHECK_OK(engine_scope_snapshot(src->e, IP4(10, 0, 0, 0), &c, &st), st);
	assert_int_equal(c->n_reservations, N);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, NULL, a, &st), st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("apply of %d reservations (new scope): %.1f ms\n", N, elapsed_ms(&t0, &t1));
	assert_string_equal(a, c->digest);

	/* One reservation renamed: one update, digest equal again. */
	c->reservations[N / 2].name[0] = 'X';
	CHECK_OK(engine_scope_config_digest(c, c->digest, &st), st);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(engine_scope_apply(dst->e, c, false, &ch, NULL, NULL, NULL, a, &st), st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("apply of %d reservations (one changed): %.1f ms\n", N, elapsed_ms(&t0, &t1));
	/* The counters are the property: one row updated, none removed and
	 * added again. The times are printed (docs/ENGINE.md, PERFORMANCE.md)
	 * and not asserted: a bound loose enough for the sanitizer build
	 * would not catch a rewrite of every row either (the new-scope apply
	 * above, about twice this one). */
	assert_int_equal(ch.reservations.updated, 1);
	assert_int_equal(ch.reservations.added + ch.reservations.removed, 0);
	assert_string_equal(a, c->digest);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_audit_round_trip(void **state)
{
	testdb              *t = testdb_open();
	frep_status          st;
	uint64_t             id1, id2;
	engine_audit_record  r = {.direction = "applied",
	     .source                         = "tcp://10.9.0.1:6470",
	     .relationship                   = "pair",
	     .scope_id                       = S1,
	     .digest_before                  = "",
	     .digest_after                   = "ab",
	     .added                          = 3,
	     .code                           = 0,
	     .message                        = "ok",
	     .request_id                     = "req-audit-1"};
	engine_audit_record *list;
	size_t               n;
	char                 long_id[ENGINE_REQUEST_ID_MAX + 2];

	(void) state;
	CHECK_OK(engine_audit_add(t->e, &r, &id1, &st), st);
	r.request_id   = NULL; /* none: stored as "" */
	r.direction    = "sent";
	r.scope_id     = IP4(10, 0, 2, 0);
	r.relationship = "other";
	/* An explicit time, recent enough for the retention (90 days). */
	int64_t when   = (int64_t) time(NULL) * 1000 - 1234;
	r.time_unix_ms = when;
	CHECK_OK(engine_audit_add(t->e, &r, &id2, &st), st);
	assert_true(id2 > id1);
	r.direction = "sideways";
	CHECK_STATUS(engine_audit_add(t->e, &r, NULL, &st), st, FREP_INVALID_ARGUMENT,
	    "direction 'sideways'");
	/* A request id is at most ENGINE_REQUEST_ID_MAX bytes, without
	 * control characters (it is logged too). */
	r.direction = "sent";
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	r.request_id                 = long_id;
	CHECK_STATUS(engine_audit_add(t->e, &r, NULL, &st), st, FREP_INVALID_ARGUMENT,
	    "request_id is 65 bytes long (at most 64)");
	r.request_id = "req\nforged";
	CHECK_STATUS(engine_audit_add(t->e, &r, NULL, &st), st, FREP_INVALID_ARGUMENT,
	    "request_id contains control character 0x0a");

	testdb_reopen(t);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, id2); /* newest first */
	assert_int_equal(list[0].time_unix_ms, when);
	assert_string_equal(list[1].direction, "applied");
	assert_true(list[1].time_unix_ms > 0);
	assert_int_equal(list[1].added, 3);
	assert_string_equal(list[1].request_id, "req-audit-1");
	assert_string_equal(list[0].request_id, "");
	engine_audit_records_free(list, n);
	engine_audit_filter f = {.scope_id = S1};
	CHECK_OK(engine_audit_list(t->e, &f, &list, &n, &st), st);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].relationship, "pair");
	engine_audit_records_free(list, n);
	f = (engine_audit_filter){.relationship = "other"};
	CHECK_OK(engine_audit_list(t->e, &f, &list, &n, &st), st);
	assert_int_equal(n, 1);
	engine_audit_records_free(list, n);
	f = (engine_audit_filter){.limit = 1};
	CHECK_OK(engine_audit_list(t->e, &f, &list, &n, &st), st);
	assert_int_equal(n, 1);
	engine_audit_records_free(list, n);
	testdb_close(t);
}

/* --- the pair's rules (issue 13) ------------------------------------------ */

static void
add_relationship(engine *e, const char *name)
{
	frep_status     st;
	engine_failover f = {.name = (char *) name,
	    .partner_server        = "tcp://10.9.0.2:6470",
	    .shared_secret         = "s3cret"};
	CHECK_OK(engine_failover_add(e, &f, NULL, &st), st);
}

/* A guarded apply of one config; the result's code. */
static frep_code
guarded(engine *e, const engine_scope_config *c, const char *rel, bool adopt, bool check,
    const char *expected, engine_apply_result *r)
{
	frep_status        st;
	engine_apply_guard g = {.relationship = rel,
	    .adopt                            = adopt,
	    .check_expected                   = check,
	    .expected_digest                  = expected};
	CHECK_OK(engine_scope_apply_guarded(e, &c, &g, 1, false, false, r, &st), st);
	return r->code;
}

static void
test_engine_apply_compare_and_swap(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c1, *c2;
	engine_apply_result  r;
	frep_status          st;
	char                 d[65], owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	bool                 found;

	(void) state;
	add_relationship(dst->e, "pair");
	populate_forward(src->e);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c1, &st), st);
	/* Expecting a scope that is there when there is none: refused. */
	assert_int_equal(guarded(dst->e, c1, "pair", false, true, c1->digest, &r), FREP_ABORTED);
	assert_true(r.stale_expected);
	assert_non_null(strstr(r.status.message, "expected"));
	CHECK_OK(engine_scope_digest(dst->e, S1, d, &found, &st), st);
	assert_false(found);
	/* "absent" is right: applied, joined, last-synced recorded. */
	assert_int_equal(guarded(dst->e, c1, "pair", false, true, "", &r), FREP_OK);
	assert_true(r.joined);
	CHECK_OK(engine_failover_of_scope(dst->e, S1, &found, owner, &st), st);
	assert_true(found);
	assert_string_equal(owner, "pair");
	engine_sync_state ss;
	uint32_t          id = S1;
	CHECK_OK(engine_sync_states_get(dst->e, "pair", &id, 1, &ss, &found, &st), st);
	assert_true(found);
	assert_string_equal(ss.digest, c1->digest);
	assert_true(ss.time_unix_ms > 0);
	/* A new version based on a stale digest: refused, nothing changes. */
	add_exclusion(src->e, 60, 61);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c2, &st), st);
	char stale[65];
	memset(stale, 'a', 64);
	stale[64] = '\0';
	assert_int_equal(guarded(dst->e, c2, "pair", false, true, stale, &r), FREP_ABORTED);
	assert_true(r.stale_expected);
	CHECK_OK(engine_scope_digest(dst->e, S1, d, &found, &st), st);
	assert_string_equal(d, c1->digest);
	/* Based on what is there: applied. */
	assert_int_equal(guarded(dst->e, c2, "pair", false, true, c1->digest, &r), FREP_OK);
	assert_false(r.joined);
	assert_string_equal(r.digest_after, c2->digest);
	engine_scope_config_free(c1);
	engine_scope_config_free(c2);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_touches_only_the_relationships_scopes(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_apply_result  r;
	frep_status          st;
	char                 before[65], after[65], owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	bool                 found;

	(void) state;
	populate_forward(src->e);
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	add_relationship(dst->e, "pair");
	add_relationship(dst->e, "other");
	add_scope24(dst->e, 1, "the partner's own");
	add_reservation(dst->e, 9, "09-09-09-09-09-09", "mine");
	CHECK_OK(engine_scope_digest(dst->e, S1, before, &found, &st), st);
	/* In no relationship there: untouched without adopt. */
	assert_int_equal(
	    guarded(dst->e, c, "pair", false, false, NULL, &r), FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(r.status.message, "in no failover relationship"));
	CHECK_OK(engine_scope_digest(dst->e, S1, after, &found, &st), st);
	assert_string_equal(before, after);
	CHECK_OK(engine_failover_of_scope(dst->e, S1, &found, owner, &st), st);
	assert_false(found);
	/* Another relationship's: untouched even with adopt. */
	uint32_t id = S1;
	CHECK_OK(engine_failover_add_scopes(dst->e, "other", &id, 1, NULL, &st), st);
	assert_int_equal(
	    guarded(dst->e, c, "pair", true, false, NULL, &r), FREP_FAILED_PRECONDITION);
	assert_non_null(strstr(r.status.message, "\"other\""));
	CHECK_OK(engine_scope_digest(dst->e, S1, after, &found, &st), st);
	assert_string_equal(before, after);
	/* Back in no relationship, adopt takes it over and it joins. */
	CHECK_OK(engine_failover_remove_scopes(dst->e, "other", &id, 1, NULL, &st), st);
	assert_int_equal(guarded(dst->e, c, "pair", true, false, NULL, &r), FREP_OK);
	assert_true(r.joined);
	CHECK_OK(engine_failover_of_scope(dst->e, S1, &found, owner, &st), st);
	assert_string_equal(owner, "pair");
	CHECK_OK(engine_scope_digest(dst->e, S1, after, &found, &st), st);
	assert_string_equal(after, c->digest);
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_apply_meets_own_send(void **state)
{
	testdb              *a = testdb_open(), *b = testdb_open(), *c = testdb_open();
	engine_scope_config *mine, *x, *y, *low, *high;
	engine_apply_result  r;
	frep_status          st;

	(void) state;
	/* b sends its version of S1 while versions x and y arrive. */
	add_relationship(b->e, "pair");
	populate_forward(b->e);
	uint32_t id = S1;
	CHECK_OK(engine_failover_add_scopes(b->e, "pair", &id, 1, NULL, &st), st);
	populate_forward(a->e);
	add_exclusion(a->e, 70, 71);
	populate_forward(c->e);
	add_exclusion(c->e, 80, 81);
	CHECK_OK(engine_scope_snapshot(a->e, S1, &x, &st), st);
	CHECK_OK(engine_scope_snapshot(c->e, S1, &y, &st), st);
	CHECK_OK(engine_scope_snapshot_outgoing(b->e, S1, &mine, &st), st);
	low  = strcmp(x->digest, y->digest) < 0 ? x : y;
	high = low == x ? y : x;
	assert_false(engine_scope_outgoing_wait(b->e, S1, 10));
	if (strcmp(mine->digest, low->digest) < 0) {
		/* Both incoming versions lose to the one being sent. */
		assert_int_equal(guarded(b->e, low, "pair", false, false, NULL, &r), FREP_ABORTED);
		assert_false(r.wait_outgoing);
	} else {
		/* The smaller incoming digest wins: wait for the send, then apply. */
		assert_int_equal(guarded(b->e, low, "pair", false, false, NULL, &r), FREP_ABORTED);
		assert_true(r.wait_outgoing);
	}
	if (strcmp(mine->digest, high->digest) < 0) {
		assert_int_equal(guarded(b->e, high, "pair", false, false, NULL, &r), FREP_ABORTED);
		assert_false(r.wait_outgoing);
		assert_non_null(strstr(r.status.message, "wins"));
	} else {
		assert_int_equal(guarded(b->e, high, "pair", false, false, NULL, &r), FREP_ABORTED);
		assert_true(r.wait_outgoing);
	}
	/* The very version being sent goes through; a dry run is never held. */
	assert_int_equal(guarded(b->e, mine, "pair", false, false, NULL, &r), FREP_OK);
	engine_scope_outgoing_end(b->e, S1, mine->digest);
	assert_true(engine_scope_outgoing_wait(b->e, S1, 10));
	assert_int_equal(guarded(b->e, high, "pair", false, false, NULL, &r), FREP_OK);
	engine_scope_config_free(mine);
	engine_scope_config_free(x);
	engine_scope_config_free(y);
	testdb_close(a);
	testdb_close(b);
	testdb_close(c);
}

/* The source's digest step hands over the snapshot a digest was computed
 * from, registered for the send (engine_scope_digests_outgoing): a scope
 * changed since its digest was stored is read once per replication. */
static void
test_engine_digests_outgoing_hands_over_snapshots(void **state)
{
	testdb              *a = testdb_open(), *x = testdb_open();
	engine_scope_config *snaps[3], *plain, *theirs;
	engine_apply_result  r;
	frep_status          st;
	char                 out[3][65];
	bool                 found[3];
	uint32_t             S2 = IP4(10, 0, 2, 0), unknown = IP4(10, 0, 9, 0);
	uint32_t             ids[3] = {S1, S2, unknown};

	(void) state;
	add_relationship(a->e, "pair");
	populate_forward(a->e);
	add_scope24(a->e, 2, "second");
	CHECK_OK(engine_failover_add_scopes(a->e, "pair", ids, 2, NULL, &st), st);
	/* Another version of S1 that a partner could send. */
	populate_forward(x->e);
	add_exclusion(x->e, 70, 71);
	CHECK_OK(engine_scope_snapshot(x->e, S1, &theirs, &st), st);

	assert_int_equal(engine_scope_digests_outgoing(a->e, ids, 3, out, found, NULL, 0, &st),
	    FREP_INVALID_ARGUMENT);
	/* Nothing stored yet: both digests computed, S1's snapshot handed over
	 * (the first always is), S2's not (over a budget of 0 reservations). */
	CHECK_OK(engine_scope_digests_outgoing(a->e, ids, 3, out, found, snaps, 0, &st), st);
	assert_true(found[0]);
	assert_true(found[1]);
	assert_false(found[2]);
	assert_string_equal(out[2], "");
	assert_non_null(snaps[0]);
	assert_null(snaps[1]);
	assert_null(snaps[2]);
	CHECK_OK(engine_scope_snapshot(a->e, S1, &plain, &st), st);
	assert_string_equal(snaps[0]->digest, plain->digest);
	assert_string_equal(out[0], plain->digest);
	assert_int_equal(snaps[0]->n_reservations, plain->n_reservations);
	assert_int_equal(snaps[0]->n_policies, plain->n_policies);
	assert_int_equal(snaps[0]->n_options, plain->n_options);
	assert_int_equal(snaps[0]->n_exclusions, plain->n_exclusions);
	engine_scope_config_free(plain);
	/* Both digests are stored now. */
	char stored[3][65];
	bool have[3];
	CHECK_OK(engine_scope_digests_stored(a->e, ids, 3, stored, have, &st), st);
	assert_true(have[0] && have[1] && !have[2]);
	assert_string_equal(stored[0], out[0]);
	assert_string_equal(stored[1], out[1]);
	/* S1 is registered as being sent: another version of it is held off
	 * until the registration ends, as with engine_scope_snapshot_outgoing. */
	assert_false(engine_scope_outgoing_wait(a->e, S1, 10));
	assert_true(engine_scope_outgoing_wait(a->e, S2, 10));
	assert_int_equal(guarded(a->e, theirs, "pair", false, false, NULL, &r), FREP_ABORTED);
	engine_scope_outgoing_end(a->e, S1, snaps[0]->digest);
	engine_scope_config_free(snaps[0]);
	assert_true(engine_scope_outgoing_wait(a->e, S1, 10));

	/* Stored digests are looked up: nothing is read or handed over. */
	CHECK_OK(engine_scope_digests_outgoing(a->e, ids, 3, out, found, snaps, 1000000, &st), st);
	assert_true(found[0] && found[1] && !found[2]);
	assert_null(snaps[0]);
	assert_null(snaps[1]);
	assert_null(snaps[2]);

	/* Both changed, within the budget: both handed over. */
	add_reservation(a->e, 9, "09-09-09-09-09-09", "i");
	engine_reservation r2 = {
	    .scope_id = S2, .ip_address = IP4(10, 0, 2, 9), .client_id = "0a-0a-0a-0a-0a-0a"};
	CHECK_OK(engine_reservation_add(a->e, &r2, NULL, &st), st);
	CHECK_OK(engine_scope_digests_outgoing(a->e, ids, 3, out, found, snaps, 5, &st), st);
	assert_non_null(snaps[0]);
	assert_non_null(snaps[1]);
	assert_int_equal(snaps[0]->n_reservations + snaps[1]->n_reservations, 5);
	assert_string_equal(out[1], snaps[1]->digest);
	for (int i = 0; i < 2; i++) {
		engine_scope_outgoing_end(a->e, ids[i], snaps[i]->digest);
		engine_scope_config_free(snaps[i]);
	}
	/* Once ended, the other version applies. */
	CHECK_OK(guarded(a->e, theirs, "pair", false, false, NULL, &r), r.status);
	engine_scope_config_free(theirs);
	testdb_close(a);
	testdb_close(x);
}

static void
test_engine_apply_names_every_missing_dependency(void **state)
{
	testdb              *src = testdb_open(), *dst = testdb_open();
	engine_scope_config *c;
	engine_apply_result  r;
	frep_status          st;
	char                *one[] = {"7"};

	(void) state;
	add_relationship(dst->e, "pair");
	add_scope24(src->e, 1, "office");
	for (uint32_t code = 250; code <= 251; code++) {
		engine_option_def def = {
		    .option_id = code, .name = "site", .type = ENGINE_OPTION_TYPE_BYTE};
		CHECK_OK(engine_option_def_add(src->e, &def, NULL, &st), st);
		set_scope_option(src->e, code, one, 1, "");
	}
	engine_class cls = {.name = "Lab", .type = ENGINE_CLASS_TYPE_USER, .data = "6c6162"};
	CHECK_OK(engine_class_add(src->e, &cls, NULL, &st), st);
	set_scope_option(src->e, 6, dns, 2, "Lab");
	CHECK_OK(engine_scope_snapshot(src->e, S1, &c, &st), st);
	assert_int_equal(
	    guarded(dst->e, c, "pair", false, false, NULL, &r), FREP_FAILED_PRECONDITION);
	const char *m = r.status.message;
	assert_non_null(strstr(m, "option definition 250"));
	assert_non_null(strstr(m, "option definition 251"));
	assert_non_null(strstr(m, "user class 'Lab'"));
	assert_non_null(strstr(m, "do not exist there"));
	CHECK_STATUS(engine_scope_apply(dst->e, c, false, NULL, NULL, NULL, NULL, NULL, &st), st,
	    FREP_FAILED_PRECONDITION, "option definition 251", "on this server");
	engine_scope_config_free(c);
	testdb_close(src);
	testdb_close(dst);
}

static void
test_engine_audit_retention(void **state)
{
	testdb              *t = testdb_open();
	frep_status          st;
	engine_audit_record *list;
	size_t               n;
	engine_audit_record  r = {.direction = "sent",
	     .source                         = "tcp://10.9.0.1:6470",
	     .relationship                   = "pair",
	     .scope_id                       = S1,
	     .digest_before                  = "",
	     .digest_after                   = "",
	     .message                        = ""};

	(void) state;
	engine_set_audit_retention(t->e, 5, 3600);
	for (uint32_t i = 0; i < 12; i++) {
		r.added = i;
		CHECK_OK(engine_audit_add(t->e, &r, NULL, &st), st);
	}
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 5);
	assert_int_equal(list[0].added, 11);
	assert_int_equal(list[4].added, 7);
	engine_audit_records_free(list, n);
	/* Older than the age bound: pruned as the next record is added. */
	r.time_unix_ms = (int64_t) (time(NULL) - 7200) * 1000;
	CHECK_OK(engine_audit_add_many(t->e, &r, 1, &st), st);
	CHECK_OK(engine_audit_list(t->e, NULL, &list, &n, &st), st);
	assert_int_equal(n, 4);
	engine_audit_records_free(list, n);
	testdb_close(t);
}

static void
test_engine_source_records_audit_and_sync_together(void **state)
{
	testdb             *t = testdb_open();
	frep_status         st;
	uint32_t            ids[]     = {S1, IP4(10, 0, 2, 0)};
	const char         *digests[] = {"d1", "d2"};
	engine_sync_state   ss[2];
	bool                found[2];
	engine_audit_record r = {.direction = "sent",
	    .source                         = "tcp://10.9.0.1:6470",
	    .relationship                   = "pair",
	    .scope_id                       = S1,
	    .digest_before                  = "",
	    .digest_after                   = "d1",
	    .message                        = ""};

	(void) state;
	add_relationship(t->e, "pair");
	CHECK_OK(engine_audit_add_synced(t->e, &r, 1, "pair", ids, digests, 1, &st), st);
	CHECK_OK(engine_sync_states_get(t->e, "pair", ids, 2, ss, found, &st), st);
	assert_true(found[0]);
	assert_string_equal(ss[0].digest, "d1");
	assert_false(found[1]);
	CHECK_OK(engine_sync_states_put(t->e, "pair", ids, digests, 2, 0, &st), st);
	CHECK_OK(engine_sync_states_get(t->e, "pair", ids, 2, ss, found, &st), st);
	assert_true(found[1]);
	assert_string_equal(ss[1].digest, "d2");
	/* Another relationship has its own state; an unknown one records none. */
	CHECK_OK(engine_sync_states_get(t->e, "other", ids, 2, ss, found, &st), st);
	assert_false(found[0]);
	CHECK_STATUS(engine_sync_states_put(t->e, "nope", ids, digests, 1, 0, &st), st,
	    FREP_FAILED_PRECONDITION, "nope");
	testdb_close(t);
}

/* A scope that leaves a relationship (RemoveFailoverScope, RemoveScope with
 * force) takes its last-synced state with it (store migration 7), so that
 * it does not come back as a stale "partner changed" if it joins again. */
static void
test_engine_scope_leaving_relationship_forgets_sync_state(void **state)
{
	testdb           *t = testdb_open();
	frep_status       st;
	uint32_t          ids[]     = {S1, IP4(10, 0, 2, 0)};
	const char       *digests[] = {"d1", "d2"};
	engine_sync_state ss[2];
	bool              found[2];

	(void) state;
	for (int i = 1; i <= 2; i++) {
		engine_scope s = scope24(i, "in pair");
		CHECK_OK(engine_scope_add(t->e, &s, NULL, &st), st);
	}
	add_relationship(t->e, "pair");
	CHECK_OK(engine_failover_add_scopes(t->e, "pair", ids, 2, NULL, &st), st);
	CHECK_OK(engine_sync_states_put(t->e, "pair", ids, digests, 2, 0, &st), st);
	CHECK_OK(engine_failover_remove_scopes(t->e, "pair", &ids[0], 1, NULL, &st), st);
	CHECK_OK(engine_sync_states_get(t->e, "pair", ids, 2, ss, found, &st), st);
	assert_false(found[0]);
	assert_true(found[1]);
	CHECK_OK(engine_scope_remove(t->e, ids[1], true, &st), st);
	CHECK_OK(engine_sync_states_get(t->e, "pair", ids, 2, ss, found, &st), st);
	assert_false(found[1]);
	testdb_close(t);
}

static void
test_engine_secret_rotation_keeps_the_previous(void **state)
{
	testdb         *t = testdb_open();
	frep_status     st;
	char           *prev   = NULL;
	const char     *mask[] = {"shared_secret"};
	engine_failover f      = {.name = "pair", .shared_secret = "n3w"};

	(void) state;
	add_relationship(t->e, "pair");
	CHECK_OK(engine_failover_previous_secret(t->e, "pair", &prev, &st), st);
	assert_null(prev);
	CHECK_OK(engine_failover_set(t->e, &f, mask, 1, NULL, &st), st);
	CHECK_OK(engine_failover_previous_secret(t->e, "pair", &prev, &st), st);
	assert_non_null(prev);
	assert_string_equal(prev, "s3cret");
	free(prev);
	CHECK_STATUS(
	    engine_failover_previous_secret(t->e, "nope", &prev, &st), st, FREP_NOT_FOUND, "nope");
	testdb_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_digest_is_insertion_order_independent),
	    cmocka_unit_test(test_engine_snapshot_contents),
	    cmocka_unit_test(test_engine_digest_pinned_value),
	    cmocka_unit_test(test_engine_diff_counts_each_kind),
	    cmocka_unit_test(test_engine_diff_reservations_without_options),
	    cmocka_unit_test(test_engine_apply_makes_digest_equal),
	    cmocka_unit_test(test_engine_apply_creates_missing_scope),
	    cmocka_unit_test(test_engine_apply_missing_dependency_refused),
	    cmocka_unit_test(test_engine_apply_dry_run_changes_nothing),
	    cmocka_unit_test(test_engine_apply_batch_per_scope_outcomes),
	    cmocka_unit_test(test_engine_stored_digest_follows_every_change),
	    cmocka_unit_test(test_engine_apply_validates_incoming),
	    cmocka_unit_test(test_engine_apply_10k_reservations),
	    cmocka_unit_test(test_engine_audit_round_trip),
	    cmocka_unit_test(test_engine_apply_compare_and_swap),
	    cmocka_unit_test(test_engine_apply_touches_only_the_relationships_scopes),
	    cmocka_unit_test(test_engine_apply_meets_own_send),
	    cmocka_unit_test(test_engine_apply_names_every_missing_dependency),
	    cmocka_unit_test(test_engine_digests_outgoing_hands_over_snapshots),
	    cmocka_unit_test(test_engine_audit_retention),
	    cmocka_unit_test(test_engine_secret_rotation_keeps_the_previous),
	    cmocka_unit_test(test_engine_source_records_audit_and_sync_together),
	    cmocka_unit_test(test_engine_scope_leaving_relationship_forgets_sync_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
