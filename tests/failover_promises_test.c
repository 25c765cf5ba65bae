/*
 * The promises of docs/SEMANTICS.md about failover relationships, each
 * checked on both sides with real frepd processes in a temp dir (own --db,
 * ipc:// sockets): RemoveFailover / RemoveFailoverScope delete the
 * partner's copies; AddFailover is undone on both sides when the partner
 * is unreachable or a scope fails; `force` replaces the partner's scopes;
 * AddFailoverScope is undone when the partner refuses; at most 31
 * relationships; an audit record on both sides; a replication's request
 * id in both servers' logs and audits; an unchanged scope is not
 * sent (a regression guard on counts); and the partner SIGKILLed inside
 * the apply's open write transaction (the test hook, docs/TESTS.md) holds
 * the old scope or the new one, both outcomes seen.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_test_common.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/replication.pb-c.h"

#define SECRET "promises-test shared secret 91c2"

typedef struct fixture {
	char   *dir;
	rt_node n[3]; /* A, B, C */
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	*state     = f;
	return 0;
}

/* Every frepd must exit 0 on SIGTERM (under LSan: no leak); a teardown
 * failure fails the test. */
static int
teardown(void **state)
{
	fixture          *f         = *state;
	const char *const secrets[] = {SECRET, NULL};
	int               rc        = 0;
	for (int i = 0; i < 3; i++) {
		rt_node *n = &f->n[i];
		if (n->proc.pid > 0) {
			int status = tu_proc_stop(&n->proc, SIGTERM, 30000);
			if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				tu_proc_dump_log(&n->proc);
				print_error(
				    "frepd %s did not exit 0 (wait status %d)\n", n->name, status);
				rc = -1;
			}
		}
		frep_client_close(n->c);
		n->c = NULL;
		if (n->proc.log_path[0] != '\0' && rt_file_contains(n->proc.log_path, SECRET)) {
			print_error("%s holds the shared secret\n", n->proc.log_path);
			rc = -1;
		}
	}
	(void) secrets;
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return rc;
}

static rt_node *
start(fixture *f, int i)
{
	char     name[8], url[600];
	rt_node *n = &f->n[i];
	snprintf(name, sizeof(name), "%c", 'a' + i);
	snprintf(url, sizeof(url), "ipc://%s/%s.sock", f->dir, name);
	rt_node_init(n, f->dir, name, url);
	rt_node_start(n, f->dir);
	return n;
}

/* Starts node i with the apply hook on (FREP_TEST_HOOK_APPLY=hook); the
 * variable is set only around the fork, so no other node has it. */
static rt_node *
start_hooked(fixture *f, int i, const char *hook)
{
	assert_int_equal(setenv("FREP_TEST_HOOK_APPLY", hook, 1), 0);
	rt_node *n = start(f, i);
	assert_int_equal(unsetenv("FREP_TEST_HOOK_APPLY"), 0);
	return n;
}

/* A (node 0) and B (node 1, the apply hook on): hook is the hook's file
 * (700 bytes), paused its ".paused" (720). */
static void
start_hooked_pair(fixture *f, char *hook, char *paused, rt_node **a, rt_node **b)
{
	snprintf(hook, 700, "%s/apply-hook", f->dir);
	snprintf(paused, 720, "%s.paused", hook);
	*a = start(f, 0);
	*b = start_hooked(f, 1, hook);
}

/* LeakSanitizer's suppressions for this test process alone (its frepd
 * children keep full checking): tests/nng_1518.supp's rule. Its client
 * of B dials while B is killed and restarted a dozen times, and closing an
 * nng client whose dialer is in the middle of connecting can leave nng's
 * own dialer and pipe objects behind (3,328 bytes, all allocated inside
 * libnng, once in the ASan stage of a CI rehearsal at b98e848; the same as
 * hardening_test's flood check). A hook of sanitizer/lsan_interface.h,
 * unused without a sanitizer. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libnng.so.1\n";
}

/* --- small calls ---------------------------------------------------------- */

static frep_code
call_code(frep_client *c, const char *service, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out, frep_status *st)
{
	char path[128];
	snprintf(path, sizeof(path), "/frep.v1.%s/%s", service, method);
	return frep_client_call(c, path, in, out_desc, out, NULL, st);
}

static frep_code
add_failover(rt_node *from, const char *name, const char *partner_url, char **scopes,
    size_t n_scopes, bool force, frep_status *st)
{
	Frep__V1__AddFailoverRequest   req = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	ProtobufCMessage              *out = NULL;
	rel.name                           = (char *) name;
	rel.partner_server                 = (char *) partner_url;
	rel.mode                           = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent           = 50;
	rel.shared_secret                  = SECRET;
	rel.scope_ids                      = scopes;
	rel.n_scope_ids                    = n_scopes;
	/* These promises are about manual replication: no change-triggered
	 * replication of its own in between (auto_sync_test.c has that). */
	rel.auto_sync    = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	req.relationship = &rel;
	req.force        = force;
	frep_code code   = call_code(from->c, "DhcpServer", "AddFailover", &req.base,
	      &frep__v1__failover_relationship__descriptor, &out, st);
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

/* The relationship on n, or NULL (NOT_FOUND). Caller frees. */
static Frep__V1__FailoverRelationship *
get_failover(rt_node *n, const char *name)
{
	Frep__V1__FailoverKey key = FREP__V1__FAILOVER_KEY__INIT;
	ProtobufCMessage     *out = NULL;
	frep_status           st;
	key.name       = (char *) name;
	frep_code code = call_code(n->c, "DhcpServer", "GetFailover", &key.base,
	    &frep__v1__failover_relationship__descriptor, &out, &st);
	if (code == FREP_NOT_FOUND) {
		return NULL;
	}
	if (code != FREP_OK) {
		fail_msg("GetFailover %s on %s: %s: %s", name, n->name, frep_code_name(code),
		    st.message);
	}
	return (Frep__V1__FailoverRelationship *) out;
}

static void
assert_no_failover(rt_node *n, const char *name)
{
	Frep__V1__FailoverRelationship *r = get_failover(n, name);
	if (r != NULL) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		fail_msg("relationship %s exists on %s", name, n->name);
	}
}

/* Fails unless the relationship exists on n with exactly these scopes. */
static void
assert_failover_scopes(rt_node *n, const char *name, const char *const *scopes, size_t k)
{
	Frep__V1__FailoverRelationship *r = get_failover(n, name);
	if (r == NULL) {
		fail_msg("relationship %s missing on %s", name, n->name);
	}
	if (r->n_scope_ids != k) {
		fail_msg("relationship %s on %s has %zu scopes, expected %zu", name, n->name,
		    r->n_scope_ids, k);
	}
	for (size_t i = 0; i < k; i++) {
		bool found = false;
		for (size_t j = 0; j < r->n_scope_ids; j++) {
			found = found || strcmp(r->scope_ids[j], scopes[i]) == 0;
		}
		if (!found) {
			fail_msg("relationship %s on %s lacks scope %s", name, n->name, scopes[i]);
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static bool
has_scope(rt_node *n, const char *scope_id)
{
	char d[65];
	rt_digest(n->c, scope_id, d);
	return d[0] != '\0';
}

static size_t
count_failovers(rt_node *n)
{
	Frep__V1__ListFailoversRequest   req = FREP__V1__LIST_FAILOVERS_REQUEST__INIT;
	Frep__V1__ListFailoversResponse *r   = (Frep__V1__ListFailoversResponse *) rt_call(
	      n->c, "DhcpServer", "ListFailovers", &req.base, FREP_OK, NULL);
	size_t k = r->n_relationships;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return k;
}

static frep_code
failover_scope(rt_node *n, const char *method, const char *name, char **scopes, size_t k,
    bool force, frep_status *st)
{
	Frep__V1__FailoverScopeRequest req = FREP__V1__FAILOVER_SCOPE_REQUEST__INIT;
	ProtobufCMessage              *out = NULL;
	req.name                           = (char *) name;
	req.scope_ids                      = scopes;
	req.n_scope_ids                    = k;
	req.force                          = force;
	frep_code code                     = call_code(n->c, "DhcpServer", method, &req.base,
				&frep__v1__failover_relationship__descriptor, &out, st);
	protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

static void
expect_code(frep_code got, frep_code want, const char *what, const frep_status *st)
{
	if (got != want) {
		fail_msg("%s: expected %s, got %s: %s", what, frep_code_name(want),
		    frep_code_name(got), got == FREP_OK ? "" : st->message);
	}
}

static Frep__V1__ReplicateResponse *
replicate(rt_node *n, const char *name, bool force)
{
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {(char *) name};
	req.names                                = names;
	req.n_names                              = 1;
	req.force                                = force;
	return (Frep__V1__ReplicateResponse *) rt_call(
	    n->c, "FailoverReplication", "ReplicateByName", &req.base, FREP_OK, NULL);
}

static Frep__V1__ListAuditResponse *
list_audit(rt_node *n, const char *scope_id)
{
	Frep__V1__ListAuditRequest req = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	req.scope_id                   = (char *) scope_id;
	req.limit                      = 1000;
	return (Frep__V1__ListAuditResponse *) rt_call(
	    n->c, "DhcpServer", "ListAudit", &req.base, FREP_OK, NULL);
}

static size_t
count_audit(rt_node *n, const char *scope_id)
{
	Frep__V1__ListAuditResponse *r = list_audit(n, scope_id);
	size_t                       k = r->n_records;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return k;
}

static void
set_scope_option(rt_node *n, const char *scope, uint32_t id, const char *value)
{
	Frep__V1__SetOptionValueRequest req     = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          t       = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v       = FREP__V1__OPTION_VALUE__INIT;
	char                           *vals[1] = {(char *) value};
	t.scope_id                              = (char *) scope;
	v.option_id                             = id;
	v.values                                = vals;
	v.n_values                              = 1;
	req.target                              = &t;
	req.value                               = &v;
	rt_call_ok(n->c, "DhcpServer", "SetOptionValue", &req.base);
}

/* A string option definition id on n, named "site-code". */
static void
add_site_code_definition(rt_node *n, uint32_t id)
{
	Frep__V1__OptionDefinition d = FREP__V1__OPTION_DEFINITION__INIT;
	d.option_id                  = id;
	d.name                       = "site-code";
	d.type                       = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	rt_call_ok(n->c, "DhcpServer", "AddOptionDefinition", &d.base);
}

/* The definition on n and scope's value of it: a scope a partner without
 * the definition refuses. */
static void
scope_uses_definition(rt_node *n, const char *scope, uint32_t id, const char *value)
{
	add_site_code_definition(n, id);
	set_scope_option(n, scope, id, value);
}

/* --- RemoveFailover / RemoveFailoverScope -------------------------------- */

/* SEMANTICS: RemoveFailover removes the relationship on both servers and
 * deletes the partner's copies of its scopes; the scopes stay here. */
static void
test_promise_remove_failover_deletes_partner_copies(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	rt_import_scope(a->c, 80, 1, 5, "one");
	rt_import_scope(a->c, 80, 2, 5, "two");
	char *scopes[] = {"10.80.1.0", "10.80.2.0"};
	rt_add_failover(a->c, "pair", b->url, SECRET, scopes, 2, FREP_OK);
	assert_true(has_scope(b, "10.80.1.0") && has_scope(b, "10.80.2.0"));
	assert_failover_scopes(b, "pair", (const char *const *) scopes, 2);

	Frep__V1__FailoverKey key = FREP__V1__FAILOVER_KEY__INIT;
	key.name                  = "pair";
	rt_call_ok(a->c, "DhcpServer", "RemoveFailover", &key.base);

	assert_no_failover(a, "pair");
	assert_no_failover(b, "pair");
	assert_false(has_scope(b, "10.80.1.0"));
	assert_false(has_scope(b, "10.80.2.0"));
	assert_true(has_scope(a, "10.80.1.0") && has_scope(a, "10.80.2.0"));
}

/* SEMANTICS: RemoveFailoverScope removes the scope from the relationship
 * on both servers and deletes it from the partner; the others stay. */
static void
test_promise_remove_failover_scope_deletes_partner_copy(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	rt_import_scope(a->c, 81, 1, 5, "one");
	rt_import_scope(a->c, 81, 2, 5, "two");
	char *scopes[] = {"10.81.1.0", "10.81.2.0"};
	rt_add_failover(a->c, "pair", b->url, SECRET, scopes, 2, FREP_OK);
	char       *gone[] = {"10.81.2.0"};
	frep_status st;
	expect_code(failover_scope(a, "RemoveFailoverScope", "pair", gone, 1, false, &st), FREP_OK,
	    "RemoveFailoverScope", &st);

	const char *const left[] = {"10.81.1.0"};
	assert_failover_scopes(a, "pair", left, 1);
	assert_failover_scopes(b, "pair", left, 1);
	assert_false(has_scope(b, "10.81.2.0"));
	assert_true(has_scope(b, "10.81.1.0"));
	assert_true(has_scope(a, "10.81.2.0"));
}

/* --- AddFailover undone --------------------------------------------------- */

/* SEMANTICS: AddFailover with the partner unreachable fails UNAVAILABLE
 * naming it; nothing is created here, and the scopes stay free (the same
 * AddFailover to a reachable partner then works). */
static void
test_promise_add_failover_partner_unreachable_creates_nothing(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	char     nobody[700];
	snprintf(nobody, sizeof(nobody), "ipc://%s/nobody.sock", f->dir);
	rt_import_scope(a->c, 82, 1, 5, "one");
	char       *scopes[] = {"10.82.1.0"};
	frep_status st;
	frep_code   code = add_failover(a, "pair", nobody, scopes, 1, false, &st);
	expect_code(code, FREP_UNAVAILABLE, "AddFailover to nobody", &st);
	assert_non_null(strstr(st.message, nobody));
	assert_no_failover(a, "pair");
	assert_int_equal(count_failovers(a), 0);
	/* The scope is in no relationship: the real one can take it. */
	expect_code(add_failover(a, "pair", b->url, scopes, 1, false, &st), FREP_OK,
	    "AddFailover after the failed one", &st);
	const char *const one[] = {"10.82.1.0"};
	assert_failover_scopes(b, "pair", one, 1);
}

/* SEMANTICS: a scope that fails to replicate during AddFailover undoes
 * the whole operation on both sides and returns that scope's status: the
 * partner lacks the option definition one scope uses, so neither the
 * relationship nor any of its scopes (the good one too) is left on either
 * server. */
static void
test_promise_add_failover_scope_failure_undone_on_both_sides(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	rt_import_scope(a->c, 83, 1, 5, "good");
	rt_import_scope(a->c, 83, 2, 5, "bad");
	scope_uses_definition(a, "10.83.2.0", 250, "paris-3");
	char       *scopes[] = {"10.83.1.0", "10.83.2.0"};
	frep_status st;
	frep_code   code = add_failover(a, "pair", b->url, scopes, 2, false, &st);
	print_message("AddFailover with a scope the partner refuses: %s: %s\n",
	    frep_code_name(code), st.message);
	expect_code(code, FREP_FAILED_PRECONDITION, "AddFailover", &st);
	assert_non_null(strstr(st.message, "250"));
	assert_no_failover(a, "pair");
	assert_no_failover(b, "pair");
	assert_int_equal(count_failovers(b), 0);
	assert_false(has_scope(b, "10.83.1.0"));
	assert_false(has_scope(b, "10.83.2.0"));
	/* Both scopes still here and free. */
	assert_true(has_scope(a, "10.83.1.0") && has_scope(a, "10.83.2.0"));
	char *good[] = {"10.83.1.0"};
	expect_code(
	    add_failover(a, "pair", b->url, good, 1, false, &st), FREP_OK, "AddFailover good", &st);
}

/* SEMANTICS: a scope that exists on the partner (in no relationship)
 * makes AddFailover fail ALREADY_EXISTS with nothing created; with force
 * the partner's scope is replaced by this server's. */
static void
test_promise_add_failover_force_replaces_partner_scope(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	char     da[65], db_before[65], db[65];
	rt_import_scope(a->c, 84, 1, 7, "source");
	rt_import_scope(b->c, 84, 1, 3, "partner's own");
	rt_digest(a->c, "10.84.1.0", da);
	rt_digest(b->c, "10.84.1.0", db_before);
	assert_string_not_equal(da, db_before);
	char       *scopes[] = {"10.84.1.0"};
	frep_status st;
	frep_code   code = add_failover(a, "pair", b->url, scopes, 1, false, &st);
	expect_code(code, FREP_ALREADY_EXISTS, "AddFailover without force", &st);
	assert_no_failover(a, "pair");
	assert_no_failover(b, "pair");
	rt_digest(b->c, "10.84.1.0", db);
	assert_string_equal(db, db_before);

	expect_code(add_failover(a, "pair", b->url, scopes, 1, true, &st), FREP_OK,
	    "AddFailover with force", &st);
	rt_digest(b->c, "10.84.1.0", db);
	assert_string_equal(db, da);
	assert_failover_scopes(b, "pair", (const char *const *) scopes, 1);
}

/* SEMANTICS: AddFailoverScope is undone here when the partner refuses
 * (the scope uses an option definition the partner lacks): the
 * relationship keeps its scopes on both sides, the partner has no copy,
 * and once the partner has the definition the same call works. */
/* A forced AddFailover (or AddFailoverScope) that fails part way never
 * deletes a scope the partner had on its own: undone, the partner keeps
 * it (in no relationship), with this server's version if it was already
 * replaced (as force asked) or its own if not. */
static void
test_promise_forced_add_that_fails_keeps_partner_scopes(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	char     da[65], db_before[65], db[65];
	rt_import_scope(a->c, 86, 1, 6, "source");
	rt_import_scope(a->c, 86, 2, 4, "refused there");
	rt_import_scope(b->c, 86, 1, 3, "partner's own");
	rt_import_scope(b->c, 86, 3, 2, "partner's other");
	rt_import_scope(a->c, 86, 3, 5, "source three");
	scope_uses_definition(a, "10.86.2.0", 250, "nice-2");
	rt_digest(a->c, "10.86.1.0", da);
	rt_digest(b->c, "10.86.1.0", db_before);

	char       *scopes[] = {"10.86.1.0", "10.86.2.0", "10.86.3.0"};
	frep_status st;
	frep_code   code = add_failover(a, "pair", b->url, scopes, 3, true, &st);
	print_message(
	    "forced AddFailover, one scope refused: %s: %s\n", frep_code_name(code), st.message);
	expect_code(code, FREP_FAILED_PRECONDITION, "forced AddFailover", &st);
	assert_no_failover(a, "pair");
	assert_no_failover(b, "pair");
	/* The partner's own scopes are still there, in no relationship. */
	assert_true(has_scope(b, "10.86.1.0"));
	assert_true(has_scope(b, "10.86.3.0"));
	assert_false(has_scope(b, "10.86.2.0"));
	rt_digest(b->c, "10.86.1.0", db);
	if (strcmp(db, da) != 0 && strcmp(db, db_before) != 0) {
		fail_msg("10.86.1.0 on the partner is neither its own nor this server's version");
	}

	/* The same through AddFailoverScope on a working relationship. */
	rt_import_scope(a->c, 86, 4, 3, "base");
	char *base[] = {"10.86.4.0"};
	rt_add_failover(a->c, "pair", b->url, SECRET, base, 1, FREP_OK);
	code = failover_scope(a, "AddFailoverScope", "pair", scopes, 3, true, &st);
	expect_code(code, FREP_FAILED_PRECONDITION, "forced AddFailoverScope", &st);
	const char *const one[] = {"10.86.4.0"};
	assert_failover_scopes(a, "pair", one, 1);
	assert_failover_scopes(b, "pair", one, 1);
	assert_true(has_scope(b, "10.86.1.0"));
	assert_true(has_scope(b, "10.86.3.0"));
	assert_false(has_scope(b, "10.86.2.0"));
}

static void
test_promise_add_failover_scope_undone_when_partner_refuses(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	rt_import_scope(a->c, 85, 1, 4, "in");
	rt_import_scope(a->c, 85, 2, 4, "new");
	scope_uses_definition(a, "10.85.2.0", 251, "lyon-1");
	char *scopes[] = {"10.85.1.0"};
	rt_add_failover(a->c, "pair", b->url, SECRET, scopes, 1, FREP_OK);
	char       *more[] = {"10.85.2.0"};
	frep_status st;
	frep_code   code = failover_scope(a, "AddFailoverScope", "pair", more, 1, false, &st);
	print_message(
	    "AddFailoverScope refused by the partner: %s: %s\n", frep_code_name(code), st.message);
	expect_code(code, FREP_FAILED_PRECONDITION, "AddFailoverScope", &st);
	assert_non_null(strstr(st.message, "251"));
	const char *const one[] = {"10.85.1.0"};
	assert_failover_scopes(a, "pair", one, 1);
	assert_failover_scopes(b, "pair", one, 1);
	assert_false(has_scope(b, "10.85.2.0"));
	/* Undone here: the scope is free again; with the definition on the
	 * partner the same call goes through. */
	add_site_code_definition(b, 251);
	expect_code(failover_scope(a, "AddFailoverScope", "pair", more, 1, false, &st), FREP_OK,
	    "AddFailoverScope once the partner has the definition", &st);
	const char *const two[] = {"10.85.1.0", "10.85.2.0"};
	assert_failover_scopes(b, "pair", two, 2);
	char da[65], db[65];
	rt_digest(a->c, "10.85.2.0", da);
	rt_digest(b->c, "10.85.2.0", db);
	assert_string_equal(da, db);
}

/* SEMANTICS: AddFailover fails with the partner's status and creates
 * nothing on either side when the name is taken on the partner
 * (ALREADY_EXISTS naming it, whatever secret the partner's relationship
 * has) or a scope belongs to another relationship there
 * (FAILED_PRECONDITION naming it). B's relationship "pair" is C's, with
 * C's own secret; B's "same" is C's too, with the very secret A uses (the
 * old partner took that call as an update of its relationship and dropped
 * C's scope from it). */
static void
test_promise_add_failover_name_taken_or_scope_owned_on_partner(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1), *c = start(f, 2);
	char     before[65], after[65];
	rt_import_scope(c->c, 88, 1, 3, "c's");
	rt_import_scope(c->c, 89, 1, 3, "c's too");
	char *owned[] = {"10.88.1.0"}, *owned_same[] = {"10.89.1.0"};
	rt_add_failover(c->c, "pair", b->url, "C's own secret for pair 55e1", owned, 1, FREP_OK);
	rt_add_failover(c->c, "same", b->url, SECRET, owned_same, 1, FREP_OK);
	rt_digest(b->c, "10.88.1.0", before);

	rt_import_scope(a->c, 88, 2, 3, "a's");
	rt_import_scope(a->c, 89, 2, 3, "a's too");
	char *const *mine[]  = {(char *[]){"10.88.2.0"}, (char *[]){"10.89.2.0"}};
	const char  *names[] = {"pair", "same"};
	const char  *kept[]  = {"10.88.1.0", "10.89.1.0"};
	for (int i = 0; i < 2; i++) {
		frep_status st;
		frep_code   code =
		    add_failover(a, names[i], b->url, (char **) mine[i], 1, false, &st);
		print_message("name \"%s\" taken on the partner: %s: %s\n", names[i],
		    frep_code_name(code), st.message);
		expect_code(code, FREP_ALREADY_EXISTS, names[i], &st);
		assert_non_null(strstr(st.message, names[i]));
		assert_non_null(strstr(st.message, "already exists on the partner"));
		assert_int_equal(count_failovers(a), 0);
		assert_false(has_scope(b, mine[i][0]));
		Frep__V1__FailoverRelationship *r = get_failover(b, names[i]);
		assert_non_null(r);
		assert_string_equal(r->partner_server, c->url);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		assert_failover_scopes(b, names[i], &kept[i], 1);
	}
	rt_digest(b->c, "10.88.1.0", after);
	assert_string_equal(before, after);

	rt_import_scope(a->c, 88, 1, 5, "a's copy");
	frep_status st;
	frep_code   code = add_failover(a, "other", b->url, owned, 1, true, &st);
	print_message("scope owned on the partner: %s: %s\n", frep_code_name(code), st.message);
	expect_code(code, FREP_FAILED_PRECONDITION, "AddFailover with a scope owned there", &st);
	assert_non_null(strstr(st.message, "pair"));
	assert_int_equal(count_failovers(a), 0);
	assert_no_failover(b, "other");
	rt_digest(b->c, "10.88.1.0", after);
	assert_string_equal(before, after);
}

/* An AddFailover whose answer was lost is undone on this server only; the
 * partner keeps the mirror (this server as its partner, the same secret).
 * Trying again must work: the partner takes it as that same relationship,
 * not as a name taken (ALREADY_EXISTS is for another server's or another
 * secret's relationship). A "lost answer" here: A restarted on a new store
 * after the mirror was made. */
static void
test_promise_add_failover_again_after_a_lost_answer(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	rt_import_scope(a->c, 87, 1, 3, "first try");
	char *scopes[] = {"10.87.1.0"};
	rt_add_failover(a->c, "pair", b->url, SECRET, scopes, 1, FREP_OK);
	rt_node_stop_clean(a);
	snprintf(a->db, sizeof(a->db), "%s/a-again.db", f->dir);
	rt_node_start(a, f->dir);
	assert_int_equal(count_failovers(a), 0);
	rt_import_scope(a->c, 87, 1, 4, "second try");
	frep_status st;
	expect_code(add_failover(a, "pair", b->url, scopes, 1, false, &st), FREP_OK,
	    "AddFailover again after a lost answer", &st);
	const char *const one[] = {"10.87.1.0"};
	assert_failover_scopes(a, "pair", one, 1);
	assert_failover_scopes(b, "pair", one, 1);
	char da[65], db[65];
	rt_digest(a->c, "10.87.1.0", da);
	rt_digest(b->c, "10.87.1.0", db);
	assert_string_equal(da, db);
}

/* SEMANTICS: at most 31 relationships per server (FAILED_PRECONDITION);
 * the 32nd creates nothing on either side. */
static void
test_promise_at_most_31_relationships(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	char     name[16];
	for (int i = 1; i <= 31; i++) {
		frep_status st;
		snprintf(name, sizeof(name), "rel%02d", i);
		expect_code(add_failover(a, name, b->url, NULL, 0, false, &st), FREP_OK, name, &st);
	}
	assert_int_equal(count_failovers(a), 31);
	assert_int_equal(count_failovers(b), 31);
	frep_status st;
	frep_code   code = add_failover(a, "rel32", b->url, NULL, 0, false, &st);
	print_message("the 32nd relationship: %s: %s\n", frep_code_name(code), st.message);
	expect_code(code, FREP_FAILED_PRECONDITION, "the 32nd AddFailover", &st);
	assert_non_null(strstr(st.message, "31"));
	assert_int_equal(count_failovers(a), 31);
	assert_int_equal(count_failovers(b), 31);
	assert_no_failover(b, "rel32");
}

/* --- audit and unchanged scopes ------------------------------------------- */

static const Frep__V1__AuditRecord *
newest_with(const Frep__V1__ListAuditResponse *r, const char *direction)
{
	const Frep__V1__AuditRecord *best = NULL;
	for (size_t i = 0; i < r->n_records; i++) {
		if (strcmp(r->records[i]->direction, direction) == 0 &&
		    (best == NULL || r->records[i]->id > best->id)) {
			best = r->records[i];
		}
	}
	return best;
}

/* A and B started, scope 10.<octet2>.1.0 (3 reservations named name)
 * imported on A and copied to B by relationship "pair". */
static void
start_pair_of_one_scope(fixture *f, int octet2, const char *name, rt_node **a, rt_node **b)
{
	char  scope[16];
	char *scopes[] = {scope};
	*a             = start(f, 0);
	*b             = start(f, 1);
	snprintf(scope, sizeof(scope), "10.%d.1.0", octet2);
	rt_import_scope((*a)->c, octet2, 1, 3, name);
	rt_add_failover((*a)->c, "pair", (*b)->url, SECRET, scopes, 1, FREP_OK);
}

/* A's last-synced digest of scope_id in relationship "pair" ("" none). */
static void
last_synced(rt_node *n, const char *scope_id, char out[65])
{
	Frep__V1__GetReplicationStatusRequest req = FREP__V1__GET_REPLICATION_STATUS_REQUEST__INIT;
	char                                 *names[] = {"pair"};
	req.names                                     = names;
	req.n_names                                   = 1;
	req.skip_server_settings                      = true;
	Frep__V1__GetReplicationStatusResponse *r =
	    (Frep__V1__GetReplicationStatusResponse *) rt_call(
		n->c, "FailoverReplication", "GetReplicationStatus", &req.base, FREP_OK, NULL);
	out[0] = '\0';
	for (size_t i = 0; r->n_relationships == 1 && i < r->relationships[0]->n_scopes; i++) {
		const Frep__V1__ScopeSyncStatus *s = r->relationships[0]->scopes[i];
		if (strcmp(s->scope_id, scope_id) == 0) {
			snprintf(out, 65, "%s", s->last_synced_digest);
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* SEMANTICS: RemoveScope of a relationship's scope is refused without
 * force (FAILED_PRECONDITION naming the relationship); with force the scope
 * leaves the relationship on both servers first (the partner deletes its
 * copy, as RemoveFailoverScope), so that no copy stays on the partner and a
 * replication from the partner cannot bring it back. Partner down: nothing
 * removed on either side. (The old frepd removed it here only.) */
static void
test_promise_scope_remove_force_removes_partner_copy(void **state)
{
	fixture *f = *state;
	rt_node *a, *b;
	start_pair_of_one_scope(f, 86, "doomed", &a, &b);
	rt_import_scope(a->c, 86, 2, 2, "stays");
	frep_status       st;
	ProtobufCMessage *out      = NULL;
	char             *second[] = {"10.86.2.0"};
	expect_code(failover_scope(a, "AddFailoverScope", "pair", second, 1, false, &st), FREP_OK,
	    "AddFailoverScope", &st);
	const char *const both[] = {"10.86.1.0", "10.86.2.0"}, *const left[] = {"10.86.2.0"};

	Frep__V1__RemoveScopeRequest req = FREP__V1__REMOVE_SCOPE_REQUEST__INIT;
	req.scope_id                     = "10.86.1.0";
	expect_code(call_code(a->c, "DhcpServer", "RemoveScope", &req.base,
			&frep__v1__empty__descriptor, &out, &st),
	    FREP_FAILED_PRECONDITION, "RemoveScope without force", &st);
	assert_non_null(strstr(st.message, "pair"));
	assert_failover_scopes(a, "pair", both, 2);

	/* Partner down: refused, nothing removed here or there, and the
	 * scope's last-synced state is kept (it left the relationship for a
	 * moment). */
	char synced[65], synced_after[65];
	last_synced(a, "10.86.1.0", synced);
	assert_int_equal(strlen(synced), 64);
	rt_node_stop_clean(b);
	req.force      = true;
	frep_code code = call_code(
	    a->c, "DhcpServer", "RemoveScope", &req.base, &frep__v1__empty__descriptor, &out, &st);
	print_message(
	    "RemoveScope --force, partner down: %s: %s\n", frep_code_name(code), st.message);
	assert_int_not_equal(code, FREP_OK);
	assert_true(has_scope(a, "10.86.1.0"));
	assert_failover_scopes(a, "pair", both, 2);
	last_synced(a, "10.86.1.0", synced_after);
	assert_string_equal(synced, synced_after);
	rt_node_start(b, f->dir);
	assert_true(has_scope(b, "10.86.1.0"));

	expect_code(call_code(a->c, "DhcpServer", "RemoveScope", &req.base,
			&frep__v1__empty__descriptor, &out, &st),
	    FREP_OK, "RemoveScope --force", &st);
	protobuf_c_message_free_unpacked(out, NULL);
	assert_false(has_scope(a, "10.86.1.0"));
	assert_false(has_scope(b, "10.86.1.0"));
	assert_failover_scopes(a, "pair", left, 1);
	assert_failover_scopes(b, "pair", left, 1);
	/* A full replication from the partner does not bring it back. */
	Frep__V1__ReplicateResponse *r = replicate(b, "pair", true);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_false(has_scope(a, "10.86.1.0"));
	assert_false(has_scope(b, "10.86.1.0"));
	assert_true(has_scope(a, "10.86.2.0"));
}

/* SEMANTICS: a replication leaves an audit record on both sides (time,
 * source, relationship, scope, digests before/after, counts, status): A's
 * "sent" and B's "applied" name the same scope, relationship and digests,
 * B's source is A's URL, and the counts are the change (one reservation
 * added). */
static void
test_promise_audit_record_on_both_sides(void **state)
{
	fixture *f = *state;
	rt_node *a, *b;
	start_pair_of_one_scope(f, 86, "audited", &a, &b);
	char before[65], after[65];
	rt_digest(b->c, "10.86.1.0", before);
	frep_status st;
	assert_int_equal(
	    rt_add_reservation(a->c, "10.86.1.0", "10.86.1.99", "02-86-00-00-00-63", "new", &st),
	    FREP_OK);
	rt_digest(a->c, "10.86.1.0", after);
	long long                    t0 = (long long) time(NULL) * 1000;
	Frep__V1__ReplicateResponse *r  = replicate(a, "pair", false);
	assert_int_equal(r->n_results, 1);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	Frep__V1__ListAuditResponse *la   = list_audit(a, "10.86.1.0");
	Frep__V1__ListAuditResponse *lb   = list_audit(b, "10.86.1.0");
	const Frep__V1__AuditRecord *sent = newest_with(la, "sent");
	const Frep__V1__AuditRecord *appl = newest_with(lb, "applied");
	assert_non_null(sent);
	assert_non_null(appl);
	const Frep__V1__AuditRecord *both[] = {sent, appl};
	for (int i = 0; i < 2; i++) {
		const Frep__V1__AuditRecord *x = both[i];
		assert_string_equal(x->scope_id, "10.86.1.0");
		assert_string_equal(x->relationship, "pair");
		assert_string_equal(x->digest_before, before);
		assert_string_equal(x->digest_after, after);
		assert_int_equal(x->added, 1);
		assert_int_equal(x->updated, 0);
		assert_int_equal(x->removed, 0);
		assert_int_equal(x->code, FREP_OK);
		assert_true(x->time_unix_ms >= t0 - 60000 && x->time_unix_ms <= t0 + 60000);
	}
	assert_string_equal(appl->source, a->url);
	protobuf_c_message_free_unpacked(&la->base, NULL);
	protobuf_c_message_free_unpacked(&lb->base, NULL);
}

/* ReplicateByName of one relationship with x-request-id rid (NULL: none,
 * the server makes one); fails the test unless its one scope was sent. */
static void
replicate_with_request_id(rt_node *n, const char *name, const char *rid)
{
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {(char *) name};
	frep_metadata                    md[]    = {{"x-request-id", rid}};
	frep_call_options                co  = {.metadata = md, .n_metadata = rid != NULL ? 1 : 0};
	ProtobufCMessage                *out = NULL;
	frep_status                      st;
	req.names      = names;
	req.n_names    = 1;
	frep_code code = frep_client_call(n->c, "/frep.v1.FailoverReplication/ReplicateByName",
	    &req.base, &frep__v1__replicate_response__descriptor, &out, &co, &st);
	expect_code(code, FREP_OK, "ReplicateByName", &st);
	Frep__V1__ReplicateResponse *r = (Frep__V1__ReplicateResponse *) out;
	assert_int_equal(r->n_results, 1);
	assert_int_equal(r->results[0]->code, FREP_OK);
	assert_false(r->results[0]->unchanged);
	protobuf_c_message_free_unpacked(out, NULL);
}

/* Fails unless the newest "sent" record on a and the newest "applied" one
 * on b both hold rid, and each server logged the replication at info
 * (the default level) with it: a's "replication" line, b's "apply" line. */
static void
assert_request_id_on_both(rt_node *a, rt_node *b, const char *scope_id, const char *rid)
{
	Frep__V1__ListAuditResponse *la   = list_audit(a, scope_id);
	Frep__V1__ListAuditResponse *lb   = list_audit(b, scope_id);
	const Frep__V1__AuditRecord *sent = newest_with(la, "sent");
	const Frep__V1__AuditRecord *appl = newest_with(lb, "applied");
	assert_non_null(sent);
	assert_non_null(appl);
	assert_string_equal(sent->request_id, rid);
	assert_string_equal(appl->request_id, rid);
	protobuf_c_message_free_unpacked(&la->base, NULL);
	protobuf_c_message_free_unpacked(&lb->base, NULL);

	char want[128];
	snprintf(want, sizeof(want), "request_id=%s", rid);
	const char *a_line[] = {" info replication ",
	    "method=/frep.v1.FailoverReplication/ReplicateByName", "status=OK", want, NULL};
	const char *b_line[] = {
	    " info apply ", "method=/frep.v1.Partner/ApplyScopes", "status=OK", want, NULL};
	if (!rt_file_has_line(a->proc.log_path, a_line)) {
		tu_proc_dump_log(&a->proc);
		fail_msg("%s has no info replication line with %s", a->proc.log_path, want);
	}
	if (!rt_file_has_line(b->proc.log_path, b_line)) {
		tu_proc_dump_log(&b->proc);
		fail_msg("%s has no info apply line with %s", b->proc.log_path, want);
	}
}

/* Issue 17: the request id of a replication (the caller's x-request-id,
 * or one the server makes) is in the logs of both servers, at the default
 * level, and in both audits: A's "sent" record and B's "applied" one. */
static void
test_promise_request_id_in_both_logs_and_audits(void **state)
{
	fixture    *f = *state;
	rt_node    *a, *b;
	const char *given[] = {"issue17-caller-id", NULL}; /* NULL: A makes one */
	start_pair_of_one_scope(f, 88, "traced", &a, &b);
	for (int k = 0; k < 2; k++) {
		char        ip[16], mac[24], rid[65]; /* an x-request-id: 64 at most */
		frep_status st;
		snprintf(ip, sizeof(ip), "10.88.1.%d", 97 + k);
		snprintf(mac, sizeof(mac), "02-88-00-00-00-%02x", 0x61 + k);
		assert_int_equal(
		    rt_add_reservation(a->c, "10.88.1.0", ip, mac, "traced", &st), FREP_OK);
		replicate_with_request_id(a, "pair", given[k]);

		Frep__V1__ListAuditResponse *la   = list_audit(a, "10.88.1.0");
		const Frep__V1__AuditRecord *sent = newest_with(la, "sent");
		assert_non_null(sent);
		snprintf(rid, sizeof(rid), "%s", sent->request_id);
		/* Every record of this build has an id (AddFailover's copy too). */
		for (size_t i = 0; i < la->n_records; i++) {
			assert_true(la->records[i]->request_id[0] != '\0');
		}
		protobuf_c_message_free_unpacked(&la->base, NULL);
		if (given[k] != NULL) {
			assert_string_equal(rid, given[k]);
		} else {
			assert_int_equal(strlen(rid), 16);
			assert_int_equal(strspn(rid, "0123456789abcdef"), 16);
		}
		assert_request_id_on_both(a, b, "10.88.1.0", rid);
	}
}

/* Regression guard (docs/PERFORMANCE.md: unchanged scopes are skipped): a
 * replication of an unchanged relationship reports every scope unchanged,
 * sends no object and adds no "applied" row to the partner's audit; one
 * changed scope of three is the only one sent. Counts, not times. */
static void
test_promise_unchanged_scopes_not_sent(void **state)
{
	fixture *f = *state;
	rt_node *a = start(f, 0), *b = start(f, 1);
	char    *scopes[] = {"10.87.1.0", "10.87.2.0", "10.87.3.0"};
	for (int i = 0; i < 3; i++) {
		rt_import_scope(a->c, 87, i + 1, 20, "steady");
	}
	rt_add_failover(a->c, "pair", b->url, SECRET, scopes, 3, FREP_OK);
	size_t audit_b[3];
	for (int i = 0; i < 3; i++) {
		audit_b[i] = count_audit(b, scopes[i]);
	}
	Frep__V1__ReplicateResponse *r = replicate(a, "pair", false);
	assert_int_equal(r->n_results, 3);
	for (size_t i = 0; i < r->n_results; i++) {
		Frep__V1__ScopeResult *s = r->results[i];
		assert_int_equal(s->code, FREP_OK);
		assert_true(s->unchanged);
		uint32_t sent = s->sent == NULL ? 0
						: s->sent->exclusions + s->sent->reservations +
						      s->sent->options + s->sent->policies;
		assert_int_equal(sent, 0);
	}
	assert_int_equal(r->n_scope_ids, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(count_audit(b, scopes[i]), audit_b[i]);
	}

	/* One scope changed: only it is sent and audited on the partner. */
	frep_status st;
	assert_int_equal(
	    rt_add_reservation(a->c, "10.87.2.0", "10.87.2.99", "02-87-00-00-00-63", "moved", &st),
	    FREP_OK);
	r = replicate(a, "pair", false);
	for (size_t i = 0; i < r->n_results; i++) {
		Frep__V1__ScopeResult *s       = r->results[i];
		bool                   changed = strcmp(s->scope_id, "10.87.2.0") == 0;
		assert_int_equal(s->code, FREP_OK);
		assert_int_equal(s->unchanged, !changed);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(count_audit(b, scopes[0]), audit_b[0]);
	assert_int_equal(count_audit(b, scopes[1]), audit_b[1] + 1);
	assert_int_equal(count_audit(b, scopes[2]), audit_b[2]);
}

/* Regression guard (docs/PERFORMANCE.md: idle frepd < 10 MB RSS, 5 MB
 * measured): a fresh frepd, healthy and idle, has VmRSS under 10 MiB. A
 * size, not a time. The sanitizer build (FREP_SANITIZER_BUILD=1) checks
 * only that it is measured: ASan's shadow memory is RSS. */
static void
test_guard_idle_frepd_rss_under_10_mib(void **state)
{
	fixture *f   = *state;
	rt_node *a   = start(f, 0);
	long     kib = rt_rss_kib(a->proc.pid);
	print_message("idle frepd VmRSS: %ld KiB\n", kib);
	assert_true(kib > 0);
	if (rt_env_long("FREP_SANITIZER_BUILD", 0) == 0) {
		assert_true(kib < 10 * 1024);
	}
}

/* --- the partner killed inside the apply's write transaction ------------- */

typedef struct replicator {
	frep_client                 *c;
	frep_code                    code;
	frep_status                  st;
	Frep__V1__ReplicateResponse *r;
} replicator;

static void *
replicator_main(void *arg)
{
	replicator                      *rp      = arg;
	Frep__V1__ReplicateByNameRequest req     = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"big"};
	ProtobufCMessage                *out     = NULL;
	req.names                                = names;
	req.n_names                              = 1;
	rp->code = frep_client_call(rp->c, "/frep.v1.FailoverReplication/ReplicateByName",
	    &req.base, &frep__v1__replicate_response__descriptor, &out, NULL, &rp->st);
	rp->r    = (Frep__V1__ReplicateResponse *) out;
	return NULL;
}

static bool
file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* The one seed of this test's random choices, printed; FREP_TEST_SEED
 * replays a run. */
static unsigned
run_seed(void)
{
	unsigned seed = (unsigned) rt_env_long("FREP_TEST_SEED", (long) time(NULL));
	print_message("seed %u (FREP_TEST_SEED=%u replays this run)\n", seed, seed);
	return seed;
}

/* An AddFailover call (or, with scope, AddFailoverScope of that scope to
 * "lost-scope") on a thread of its own: its push may pause. */
typedef struct adder {
	frep_client *c;
	const char  *partner_url;
	const char  *scope;
	frep_code    code;
	frep_status  st;
} adder;

static void *
adder_main(void *arg)
{
	adder *ad = arg;
	if (ad->scope != NULL) {
		Frep__V1__FailoverScopeRequest req      = FREP__V1__FAILOVER_SCOPE_REQUEST__INIT;
		char                          *scopes[] = {(char *) ad->scope};
		ProtobufCMessage              *out      = NULL;
		req.name                                = "lost-scope";
		req.scope_ids                           = scopes;
		req.n_scope_ids                         = 1;
		ad->code = frep_client_call(ad->c, "/frep.v1.DhcpServer/AddFailoverScope",
		    &req.base, &frep__v1__failover_relationship__descriptor, &out, NULL, &ad->st);
		protobuf_c_message_free_unpacked(out, NULL);
		return NULL;
	}
	Frep__V1__AddFailoverRequest   req      = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship rel      = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	char                          *scopes[] = {"10.61.0.0"};
	ProtobufCMessage              *out      = NULL;
	rel.name                                = "lost-undo";
	rel.partner_server                      = (char *) ad->partner_url;
	rel.mode                 = FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE;
	rel.load_balance_percent = 50;
	rel.shared_secret        = SECRET;
	rel.scope_ids            = scopes;
	rel.n_scope_ids          = 1;
	rel.auto_sync            = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	req.relationship         = &rel;
	ad->code = frep_client_call(ad->c, "/frep.v1.DhcpServer/AddFailover", &req.base,
	    &frep__v1__failover_relationship__descriptor, &out, NULL, &ad->st);
	protobuf_c_message_free_unpacked(out, NULL);
	return NULL;
}

/* Runs ad's call with B's apply hook armed (for ad->scope, or any scope),
 * and kills B (SIGKILL) once its apply has paused inside its transaction:
 * the call's push fails, and so does any undo it sends to B. */
static void
add_with_partner_killed(rt_node *b, const char *hook, const char *paused, adder *ad)
{
	FILE *arm = fopen(hook, "w");
	assert_non_null(arm);
	if (ad->scope != NULL) {
		fprintf(arm, "%s\n", ad->scope);
	}
	fclose(arm);
	pthread_t t;
	pthread_create(&t, NULL, adder_main, ad);
	if (!rt_wait_hook_paused(paused, b->proc.pid, 20000)) {
		tu_proc_dump_log(&b->proc);
		fail_msg("the partner's apply never reached the hook");
	}
	assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
	pthread_join(t, NULL);
	unlink(paused);
}

/* AddFailover is undone on both sides when its push fails, unless the
 * partner cannot be reached for the undo either: here it is killed while
 * it applies the relationship's scope (the apply hook), after it made the
 * relationship. The call fails, this server has no relationship, and the
 * status now says that the partner may still hold it, with the undo's
 * error; it does (restarted, it lists the relationship). Then the same for
 * AddFailoverScope on a working relationship (the hook armed for the added
 * scope): "may still hold the scopes added", and the scope is out of the
 * relationship here. Before, the undo's failure was dropped and the
 * message was the push's alone. */
static void
test_promise_add_failover_lost_undo_is_reported(void **state)
{
	fixture *f = *state;
	char     hook[700], paused[720];
	rt_node *a, *b;
	start_hooked_pair(f, hook, paused, &a, &b);
	rt_add_scope(a->c, "10.61.0.0", "10.61.0.1", "10.61.255.254", true);
	adder ad = {.c = a->c, .partner_url = b->url};
	add_with_partner_killed(b, hook, paused, &ad);
	print_message("AddFailover: %s: %s\n", frep_code_name(ad.code), ad.st.message);
	assert_int_not_equal(ad.code, FREP_OK);
	assert_non_null(strstr(ad.st.message, "may still hold relationship \"lost-undo\""));
	assert_non_null(strstr(ad.st.message, "undoing there failed"));
	assert_non_null(strstr(ad.st.message, b->url));
	assert_no_failover(a, "lost-undo");
	rt_node_start(b, f->dir);
	Frep__V1__FailoverRelationship *there = get_failover(b, "lost-undo");
	assert_non_null(there);
	protobuf_c_message_free_unpacked(&there->base, NULL);

	/* The same through AddFailoverScope on a working relationship: the
	 * scope is taken out here, and the status says the partner may still
	 * hold it. */
	char *first[] = {"10.62.0.0"};
	rt_add_scope(a->c, "10.62.0.0", "10.62.0.1", "10.62.255.254", true);
	rt_add_scope(a->c, "10.63.0.0", "10.63.0.1", "10.63.255.254", true);
	rt_add_failover(a->c, "lost-scope", b->url, SECRET, first, 1, FREP_OK);
	assert_int_not_equal(tu_proc_stop(&b->proc, SIGTERM, 10000), -1);
	assert_int_equal(setenv("FREP_TEST_HOOK_APPLY", hook, 1), 0);
	rt_node_start(b, f->dir);
	assert_int_equal(unsetenv("FREP_TEST_HOOK_APPLY"), 0);
	adder more = {.c = a->c, .partner_url = b->url, .scope = "10.63.0.0"};
	add_with_partner_killed(b, hook, paused, &more);
	print_message("AddFailoverScope: %s: %s\n", frep_code_name(more.code), more.st.message);
	assert_int_not_equal(more.code, FREP_OK);
	assert_non_null(strstr(
	    more.st.message, "may still hold the scopes added to relationship \"lost-scope\""));
	Frep__V1__FailoverRelationship *here = get_failover(a, "lost-scope");
	assert_non_null(here);
	assert_int_equal(here->n_scope_ids, 1);
	assert_string_equal(here->scope_ids[0], "10.62.0.0");
	protobuf_c_message_free_unpacked(&here->base, NULL);
	rt_node_start(b, f->dir);
}

/* SEMANTICS: each scope is one SQLite write transaction on the partner;
 * after a SIGKILL and a restart it holds the old scope or the new one,
 * never a mix. The partner runs with FREP_TEST_HOOK_APPLY: armed, its
 * apply pauses *inside* the open write transaction after every row is
 * written and reports it (file <hook>.paused with its pid), so a kill
 * demonstrably lands there. Rounds cycle through three kills: while
 * paused (must be old: the written rows vanish), just after the release
 * (either; but a scope status OK means new), after the call returned OK
 * (must be new). Both outcomes are
 * asserted to occur, and every call's status is read. */
static void
test_promise_partner_killed_mid_apply_is_old_or_new(void **state)
{
	fixture *f = *state;
	enum { N_RES = 600, ROUNDS = 12 };
	char     hook[700], paused[720];
	rt_node *a, *b;
	start_hooked_pair(f, hook, paused, &a, &b);

	rt_add_scope(a->c, "10.50.0.0", "10.50.0.1", "10.50.255.254", true);
	for (int i = 0; i < N_RES; i++) {
		char        ip[32], mac[32], name[32];
		frep_status st;
		snprintf(ip, sizeof(ip), "10.50.%d.%d", 1 + i / 200, 1 + i % 200);
		snprintf(mac, sizeof(mac), "02-00-00-00-%02x-%02x", i / 256, i % 256);
		snprintf(name, sizeof(name), "host-%d", i);
		assert_int_equal(
		    rt_add_reservation(a->c, "10.50.0.0", ip, mac, name, &st), FREP_OK);
	}
	char *scopes[] = {"10.50.0.0"};
	rt_add_failover(a->c, "big", b->url, SECRET, scopes, 1, FREP_OK);
	srand(run_seed());

	int saw_old = 0, saw_new = 0, killed_paused = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int  mode = round % 3;
		char old_d[65], new_d[65], got[65];
		rt_digest(b->c, "10.50.0.0", old_d);
		/* Rename a random slice: a new digest on A. */
		int k0 = rand() % N_RES;
		for (int k = 0; k < 20; k++) {
			Frep__V1__SetReservationRequest sr =
			    FREP__V1__SET_RESERVATION_REQUEST__INIT;
			Frep__V1__Reservation r      = FREP__V1__RESERVATION__INIT;
			char                 *mask[] = {"name"};
			char                  ip[32], name[32];
			int                   i = (k0 + k * 29) % N_RES;
			snprintf(ip, sizeof(ip), "10.50.%d.%d", 1 + i / 200, 1 + i % 200);
			snprintf(name, sizeof(name), "round-%d-%d", round, k);
			r.scope_id       = "10.50.0.0";
			r.ip_address     = ip;
			r.name           = name;
			sr.reservation   = &r;
			sr.update_mask   = mask;
			sr.n_update_mask = 1;
			rt_call_ok(a->c, "DhcpServer", "SetReservation", &sr.base);
		}
		rt_digest(a->c, "10.50.0.0", new_d);
		assert_string_not_equal(old_d, new_d);

		/* Arm the hook (any scope), replicate, wait for the pause. */
		FILE *arm = fopen(hook, "w");
		assert_non_null(arm);
		fclose(arm);
		pthread_t  t;
		replicator rp = {.c = a->c};
		for (int attempt = 1;; attempt++) {
			rp = (replicator){.c = a->c};
			pthread_create(&t, NULL, replicator_main, &rp);
			if (rt_wait_hook_paused(paused, b->proc.pid, 20000)) {
				break;
			}
			/* nng 1.5.2 can strand a connection made to an ipc
			 * listener just after B started (#1518, TESTS.md "Known
			 * gaps"): B's watchdog re-creates the listener, and the
			 * signed ApplyScopes sent on that connection fails
			 * UNAVAILABLE (never sent twice). Seen once in a CI
			 * rehearsal's fresh-check stage at f1f660e. What is
			 * tested is a kill inside the apply, so the replication
			 * is made again (at most twice more) when that is all
			 * that happened; anything else fails. */
			pthread_join(t, NULL);
			/* Lost only if B's apply never got there: the hook still
			 * armed and no pause reported (else a late pause would be
			 * taken for the next attempt's). */
			bool lost = rp.code == FREP_OK && rp.r != NULL && rp.r->n_results == 1 &&
				    rp.r->results[0]->code == FREP_UNAVAILABLE &&
				    file_exists(hook) && !file_exists(paused);
			print_message("round %d: the apply did not reach the hook (attempt %d): "
				      "%s: %s\n",
			    round, attempt, frep_code_name(lost ? FREP_UNAVAILABLE : rp.code),
			    lost ? rp.r->results[0]->message : rp.st.message);
			if (rp.r != NULL) {
				protobuf_c_message_free_unpacked(&rp.r->base, NULL);
			}
			if (!lost || attempt == 3) {
				tu_proc_dump_log(&b->proc);
				fail_msg(
				    "round %d: the partner's apply never reached the hook", round);
			}
		}
		const char *how = NULL;
		if (mode == 0) {
			how = "inside the write transaction";
			assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
			killed_paused++;
		} else if (mode == 1) {
			how = "just after the release";
			assert_int_equal(unlink(paused), 0);
			assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
		} else {
			how = "after the call returned";
			assert_int_equal(unlink(paused), 0);
		}
		pthread_join(t, NULL);
		/* Every call's status is read: the call itself is OK; the
		 * scope's own status says whether the partner took it. */
		if (rp.code != FREP_OK) {
			fail_msg("round %d: ReplicateByName: %s: %s", round,
			    frep_code_name(rp.code), rp.st.message);
		}
		assert_int_equal(rp.r->n_results, 1);
		frep_code sc = (frep_code) rp.r->results[0]->code;
		if (mode == 0 && sc != FREP_UNAVAILABLE && sc != FREP_DEADLINE_EXCEEDED) {
			fail_msg("round %d: killed inside the transaction, the scope said %s: %s",
			    round, frep_code_name(sc), rp.r->results[0]->message);
		}
		if (mode == 1) {
			/* The kill races the commit and the reply: either status,
			 * but an OK is a committed apply of the new scope. */
			if (sc == FREP_OK) {
				assert_string_equal(rp.r->results[0]->digest_after, new_d);
			} else if (sc != FREP_UNAVAILABLE && sc != FREP_DEADLINE_EXCEEDED) {
				fail_msg("round %d: killed just after the release, the scope said "
					 "%s: %s",
				    round, frep_code_name(sc), rp.r->results[0]->message);
			}
		}
		if (mode == 2) {
			if (sc != FREP_OK) {
				fail_msg("round %d: released, the scope said %s: %s", round,
				    frep_code_name(sc), rp.r->results[0]->message);
			}
			assert_string_equal(rp.r->results[0]->digest_after, new_d);
			assert_int_not_equal(tu_proc_stop(&b->proc, SIGKILL, 10000), -1);
		}
		protobuf_c_message_free_unpacked(&rp.r->base, NULL);
		unlink(paused);
		assert_false(file_exists(hook)); /* the pause disarmed it */

		assert_int_equal(setenv("FREP_TEST_HOOK_APPLY", hook, 1), 0);
		rt_node_start(b, f->dir);
		assert_int_equal(unsetenv("FREP_TEST_HOOK_APPLY"), 0);
		rt_digest(b->c, "10.50.0.0", got);
		bool is_old = strcmp(got, old_d) == 0, is_new = strcmp(got, new_d) == 0;
		if (!is_old && !is_new) {
			fail_msg("round %d: partner digest %s is neither old %s nor new %s", round,
			    got, old_d, new_d);
		}
		if (mode == 0 && !is_old) {
			fail_msg("round %d: killed inside the open transaction, yet new", round);
		}
		if ((mode == 2 || (mode == 1 && sc == FREP_OK)) && !is_new) {
			fail_msg("round %d: killed after an OK apply, yet old", round);
		}
		print_message("round %2d: scope %s; killed %s: %s\n", round, frep_code_name(sc),
		    how, is_old ? "old" : "new");
		saw_old += is_old;
		saw_new += is_new;
	}
	print_message("killed %d times: %d old, %d new (%d inside the open transaction)\n", ROUNDS,
	    saw_old, saw_new, killed_paused);
	assert_true(saw_old >= ROUNDS / 3);
	assert_true(saw_new >= ROUNDS / 3);
	assert_true(rt_file_contains(b->proc.log_path, "paused inside its write transaction"));
	/* Afterwards a replication completes it. */
	Frep__V1__ReplicateResponse *r = replicate(a, "big", false);
	assert_int_equal(r->results[0]->code, FREP_OK);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	char da[65], db[65];
	rt_digest(a->c, "10.50.0.0", da);
	rt_digest(b->c, "10.50.0.0", db);
	assert_string_equal(da, db);
}

/* Proves: a server listening on port 0 without --advertise-url tells its
 * partners the port it got — A on tcp://127.0.0.1:0 creates rel1 with B,
 * and B's copy names A's bound URL as its partner (before: "…:0", which
 * reaches nobody, so nothing from B could ever reach A); and a change made
 * on B then replicates to A through it. */
static void
test_promise_port_zero_advertises_the_bound_port(void **state)
{
	fixture *f = *state;
	rt_node *a = &f->n[0];
	rt_node_init(a, f->dir, "a", "tcp://127.0.0.1:0");
	rt_node_start(a, f->dir);
	rt_node *b = start(f, 1);
	rt_add_scope(a->c, "10.64.0.0", "10.64.0.10", "10.64.0.200", false);
	char *scopes[] = {"10.64.0.0"};
	rt_add_failover(a->c, "rel1", b->url, SECRET, scopes, 1, FREP_OK);

	Frep__V1__FailoverKey key           = FREP__V1__FAILOVER_KEY__INIT;
	key.name                            = "rel1";
	Frep__V1__FailoverRelationship *rel = (Frep__V1__FailoverRelationship *) rt_call(
	    b->c, "DhcpServer", "GetFailover", &key.base, FREP_OK, NULL);
	assert_non_null(rel);
	print_message("A listens on %s; B's rel1 names %s\n", a->url, rel->partner_server);
	assert_string_equal(rel->partner_server, a->url);
	protobuf_c_message_free_unpacked(&rel->base, NULL);

	assert_int_equal(
	    rt_add_reservation(b->c, "10.64.0.0", "10.64.0.20", "00-11-22-33-44-64", "p", NULL),
	    FREP_OK);
	Frep__V1__ReplicateByNameRequest r       = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
	char                            *names[] = {"rel1"};
	r.names                                  = names;
	r.n_names                                = 1;
	rt_call_ok(b->c, "FailoverReplication", "ReplicateByName", &r.base);
	char da[65], db[65];
	rt_digest(a->c, "10.64.0.0", da);
	rt_digest(b->c, "10.64.0.0", db);
	assert_string_equal(da, db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_promise_remove_failover_deletes_partner_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_remove_failover_scope_deletes_partner_copy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_partner_unreachable_creates_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_scope_remove_force_removes_partner_copy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_again_after_a_lost_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_scope_failure_undone_on_both_sides, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_force_replaces_partner_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_forced_add_that_fails_keeps_partner_scopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_scope_undone_when_partner_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_name_taken_or_scope_owned_on_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_promise_at_most_31_relationships, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_port_zero_advertises_the_bound_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_audit_record_on_both_sides, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_request_id_in_both_logs_and_audits, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_unchanged_scopes_not_sent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_guard_idle_frepd_rss_under_10_mib, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_partner_killed_mid_apply_is_old_or_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_promise_add_failover_lost_undo_is_reported, setup, teardown),
	};
	return cmocka_run_group_tests_name("failover_promises", tests, NULL, NULL);
}
