/* frep.v1.DhcpServer through the wire: real frepd processes started in a
 * temp dir on ipc:// with --db there, called through the shipped client and
 * the generated stubs, stopped by PID. convert.h is also exercised in
 * process: a snapshot from the wire converts back to the engine with the
 * same digest and to the same bytes. */
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

#include <cmocka.h>

#include "convert.h"
#include "engine.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "testutil.h"

typedef struct fixture {
	char             *dir;
	char              url[600];
	char              db[600];
	tu_proc           proc;
	char              partner_url[600]; /* a second frepd, the failover partner */
	tu_proc           partner;
	frep_client      *c;
	ProtobufCService *dhcp;
} fixture;

/* --- calling through the generated stubs -------------------------------- */

/* A copy of msg the caller frees with drop() (the client frees its reply
 * when the closure returns). */
static void *
dup_message(const ProtobufCMessage *msg)
{
	if (msg == NULL) {
		return NULL;
	}
	size_t   len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len + 1);
	assert_non_null(buf);
	protobuf_c_message_pack(msg, buf);
	ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

static void
drop(void *msg)
{
	if (msg != NULL) {
		protobuf_c_message_free_unpacked(msg, NULL);
	}
}

#define KEEP(T)                                                                                    \
	static void keep_##T(const Frep__V1__##T *msg, void *data)                                 \
	{                                                                                          \
		*(Frep__V1__##T **) data = dup_message(msg != NULL ? &msg->base : NULL);           \
	}
KEEP(Scope)
KEEP(ExclusionRange)
KEEP(Reservation)
KEEP(OptionDefinition)
KEEP(OptionValue)
KEEP(Class)
KEEP(Policy)
KEEP(FailoverRelationship)
KEEP(ScopeConfig)
KEEP(Empty)
KEEP(ListScopesResponse)
KEEP(ListExclusionRangesResponse)
KEEP(ListReservationsResponse)
KEEP(ListOptionDefinitionsResponse)
KEEP(ListOptionValuesResponse)
KEEP(ListClassesResponse)
KEEP(ListPoliciesResponse)
KEEP(ListFailoversResponse)
KEEP(ListAuditResponse)

/* *outp = the reply of DhcpServer.method (a copy, or NULL on failure). */
#define CALL(f, method, T, reqp, outp)                                                             \
	do {                                                                                       \
		*(outp) = NULL;                                                                    \
		frep__v1__dhcp_server__##method((f)->dhcp, (reqp), keep_##T, (outp));              \
	} while (0)

static void
must_ok(fixture *f, const void *reply, const char *what)
{
	if (reply == NULL) {
		frep_status st;
		frep_client_last_status(f->c, &st);
		fail_msg("%s: %s: %s", what, frep_code_name(st.code), st.message);
	}
}

/* The call failed with code and its message holds every needle. */
static void
must_fail(fixture *f, void *reply, frep_code code, const char *needle1, const char *needle2,
    const char *what)
{
	frep_status st;
	if (reply != NULL) {
		drop(reply);
		fail_msg("%s: succeeded, expected %s", what, frep_code_name(code));
	}
	frep_client_last_status(f->c, &st);
	if (st.code != code || (needle1 != NULL && strstr(st.message, needle1) == NULL) ||
	    (needle2 != NULL && strstr(st.message, needle2) == NULL)) {
		fail_msg("%s: got %s: %s; expected %s with '%s' '%s'", what,
		    frep_code_name(st.code), st.message, frep_code_name(code),
		    needle1 ? needle1 : "", needle2 ? needle2 : "");
	}
}

/* --- processes ---------------------------------------------------------- */

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir     = tu_tmpdir();
	snprintf(f->url, sizeof(f->url), "ipc://%s/frepd.sock", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/state/frep.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	frep_client_close(f->c);
	if (f->proc.pid > 0) {
		tu_proc_stop(&f->proc, SIGKILL, 5000);
	}
	if (f->partner.pid > 0) {
		tu_proc_stop(&f->partner, SIGKILL, 5000);
	}
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
start_frepd_with(fixture *f, const char *token_file)
{
	const char *args[] = {"--listen", f->url, "--db", f->db, "--threads", "4",
	    token_file != NULL ? "--token-file" : NULL, token_file, NULL};
	assert_int_equal(tu_frepd_start(&f->proc, f->dir, "frepd", args), 0);
	if (tu_wait_healthy(f->url, 15000) != 0) {
		tu_proc_dump_log(&f->proc);
		fail_msg("frepd did not become healthy on %s", f->url);
	}
}

/* Starts frepd and, the first time, opens the client. */
static void
start_frepd(fixture *f)
{
	frep_status st;
	start_frepd_with(f, NULL);
	if (f->c == NULL) {
		frep_client_options o = {.timeout_ms = 20000};
		assert_int_equal(frep_client_open(f->url, &o, &f->c, &st), FREP_OK);
		f->dhcp = frep_client_service(f->c, &frep__v1__dhcp_server__descriptor);
		assert_non_null(f->dhcp);
	}
}

/* Starts the failover partner: frepd in dir/partner. Failover methods
 * may act on both servers (when replication is wired in), so every
 * relationship in these tests names a live partner. */
static void
start_partner(fixture *f)
{
	char pdir[700];
	char pdb[800];
	snprintf(pdir, sizeof(pdir), "%s/partner", f->dir);
	snprintf(pdb, sizeof(pdb), "%s/frep.db", pdir);
	snprintf(f->partner_url, sizeof(f->partner_url), "ipc://%s/partner.sock", f->dir);
	const char *args[] = {"--listen", f->partner_url, "--db", pdb, "--threads", "2", NULL};
	assert_int_equal(tu_frepd_start(&f->partner, f->dir, "partner", args), 0);
	if (tu_wait_healthy(f->partner_url, 15000) != 0) {
		tu_proc_dump_log(&f->partner);
		fail_msg("the partner frepd did not become healthy on %s", f->partner_url);
	}
}

static void
stop_frepd_cleanly(fixture *f)
{
	int status = tu_proc_stop(&f->proc, SIGTERM, 15000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		tu_proc_dump_log(&f->proc);
		fail_msg("frepd did not exit 0 on SIGTERM (wait status %d)", status);
	}
	if (f->partner.pid > 0) {
		status = tu_proc_stop(&f->partner, SIGTERM, 15000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			tu_proc_dump_log(&f->partner);
			fail_msg("the partner did not exit 0 on SIGTERM (wait status %d)", status);
		}
	}
}

/* --- building blocks ---------------------------------------------------- */

static void
add_scope(fixture *f, const char *id, const char *mask, const char *start, const char *end)
{
	Frep__V1__Scope  req = FREP__V1__SCOPE__INIT;
	Frep__V1__Scope *out;
	req.scope_id    = (char *) id;
	req.subnet_mask = (char *) mask;
	req.start_range = (char *) start;
	req.end_range   = (char *) end;
	req.name        = (char *) "lab";
	CALL(f, add_scope, Scope, &req, &out);
	must_ok(f, out, "AddScope");
	drop(out);
}

static void
add_reservation(
    fixture *f, const char *scope, const char *ip, const char *client_id, const char *router)
{
	Frep__V1__Reservation  req = FREP__V1__RESERVATION__INIT;
	Frep__V1__OptionValue  ov  = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__OptionValue *ovs[1];
	char                  *values[1];
	Frep__V1__Reservation *out;
	req.scope_id   = (char *) scope;
	req.ip_address = (char *) ip;
	req.client_id  = (char *) client_id;
	req.name       = (char *) "host";
	if (router != NULL) {
		ov.option_id  = 3;
		values[0]     = (char *) router;
		ov.values     = values;
		ov.n_values   = 1;
		ovs[0]        = &ov;
		req.options   = ovs;
		req.n_options = 1;
	}
	CALL(f, add_reservation, Reservation, &req, &out);
	must_ok(f, out, "AddReservation");
	drop(out);
}

/* --- tests -------------------------------------------------------------- */

static void
test_dhcp_service_scope_add_get_list_set_remove(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");

	Frep__V1__ScopeKey key = FREP__V1__SCOPE_KEY__INIT;
	Frep__V1__Scope   *s;
	key.scope_id = "10.0.0.0";
	CALL(f, get_scope, Scope, &key, &s);
	must_ok(f, s, "GetScope");
	assert_string_equal(s->subnet_mask, "255.255.255.0");
	assert_string_equal(s->start_range, "10.0.0.10");
	assert_string_equal(s->end_range, "10.0.0.200");
	assert_string_equal(s->name, "lab");
	assert_int_equal(s->lease_duration_s, 691200); /* the default, 8 days */
	assert_int_equal(s->state, FREP__V1__SCOPE_STATE__SCOPE_STATE_ACTIVE);
	drop(s);

	/* Adding it again: ALREADY_EXISTS. */
	Frep__V1__Scope dup = FREP__V1__SCOPE__INIT;
	dup.scope_id        = "10.0.0.0";
	dup.subnet_mask     = "255.255.255.0";
	dup.start_range     = "10.0.0.10";
	dup.end_range       = "10.0.0.200";
	CALL(f, add_scope, Scope, &dup, &s);
	must_fail(f, s, FREP_ALREADY_EXISTS, "10.0.0.0", NULL, "AddScope twice");

	/* Set with a mask changes only what it names. */
	Frep__V1__SetScopeRequest set    = FREP__V1__SET_SCOPE_REQUEST__INIT;
	Frep__V1__Scope           change = FREP__V1__SCOPE__INIT;
	char                     *mask[] = {"name", "lease_duration_s"};
	change.scope_id                  = "10.0.0.0";
	change.name                      = "renamed";
	change.lease_duration_s          = 3600;
	change.description               = "not in the mask";
	set.scope                        = &change;
	set.update_mask                  = mask;
	set.n_update_mask                = 2;
	CALL(f, set_scope, Scope, &set, &s);
	must_ok(f, s, "SetScope");
	assert_string_equal(s->name, "renamed");
	assert_int_equal(s->lease_duration_s, 3600);
	assert_string_equal(s->description, "");
	assert_string_equal(s->start_range, "10.0.0.10");
	drop(s);

	/* An unknown mask name is the engine's INVALID_ARGUMENT. */
	char *bad_mask[]  = {"colour"};
	set.update_mask   = bad_mask;
	set.n_update_mask = 1;
	CALL(f, set_scope, Scope, &set, &s);
	must_fail(f, s, FREP_INVALID_ARGUMENT, "update_mask", "colour", "SetScope bad mask");

	add_scope(f, "192.168.1.0", "255.255.255.0", "192.168.1.1", "192.168.1.254");
	Frep__V1__ListScopesRequest   lreq = FREP__V1__LIST_SCOPES_REQUEST__INIT;
	Frep__V1__ListScopesResponse *list;
	CALL(f, list_scopes, ListScopesResponse, &lreq, &list);
	must_ok(f, list, "ListScopes");
	assert_int_equal(list->n_scopes, 2);
	assert_string_equal(list->scopes[0]->scope_id, "10.0.0.0");
	assert_string_equal(list->scopes[1]->scope_id, "192.168.1.0");
	drop(list);

	Frep__V1__RemoveScopeRequest rm = FREP__V1__REMOVE_SCOPE_REQUEST__INIT;
	Frep__V1__Empty             *empty;
	rm.scope_id = "10.0.0.0";
	CALL(f, remove_scope, Empty, &rm, &empty);
	must_ok(f, empty, "RemoveScope");
	drop(empty);
	CALL(f, get_scope, Scope, &key, &s);
	must_fail(f, s, FREP_NOT_FOUND, "10.0.0.0", NULL, "GetScope after remove");
	CALL(f, remove_scope, Empty, &rm, &empty);
	must_fail(f, empty, FREP_NOT_FOUND, NULL, NULL, "RemoveScope twice");
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_exclusions_and_reservations(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");

	Frep__V1__ExclusionRange  ex = FREP__V1__EXCLUSION_RANGE__INIT;
	Frep__V1__ExclusionRange *exo;
	ex.scope_id    = "10.0.0.0";
	ex.start_range = "10.0.0.20";
	ex.end_range   = "10.0.0.29";
	CALL(f, add_exclusion_range, ExclusionRange, &ex, &exo);
	must_ok(f, exo, "AddExclusionRange");
	assert_string_equal(exo->start_range, "10.0.0.20");
	drop(exo);
	CALL(f, add_exclusion_range, ExclusionRange, &ex, &exo);
	must_fail(f, exo, FREP_ALREADY_EXISTS, NULL, NULL, "AddExclusionRange twice");

	Frep__V1__ListExclusionRangesRequest   lx = FREP__V1__LIST_EXCLUSION_RANGES_REQUEST__INIT;
	Frep__V1__ListExclusionRangesResponse *lxo;
	CALL(f, list_exclusion_ranges, ListExclusionRangesResponse, &lx, &lxo);
	must_ok(f, lxo, "ListExclusionRanges");
	assert_int_equal(lxo->n_exclusions, 1);
	assert_string_equal(lxo->exclusions[0]->end_range, "10.0.0.29");
	drop(lxo);

	Frep__V1__Empty *empty;
	CALL(f, remove_exclusion_range, Empty, &ex, &empty);
	must_ok(f, empty, "RemoveExclusionRange");
	drop(empty);
	CALL(f, remove_exclusion_range, Empty, &ex, &empty);
	must_fail(f, empty, FREP_NOT_FOUND, NULL, NULL, "RemoveExclusionRange twice");

	add_reservation(f, "10.0.0.0", "10.0.0.50", "00:11:22:33:44:55", "10.0.0.1");
	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	Frep__V1__Reservation   *r;
	rk.scope_id   = "10.0.0.0";
	rk.ip_address = "10.0.0.50";
	CALL(f, get_reservation, Reservation, &rk, &r);
	must_ok(f, r, "GetReservation");
	assert_string_equal(r->client_id, "00-11-22-33-44-55"); /* normal form */
	assert_int_equal(r->type, FREP__V1__CLIENT_TYPE__CLIENT_TYPE_BOTH);
	assert_int_equal(r->n_options, 1);
	assert_int_equal(r->options[0]->option_id, 3);
	assert_string_equal(r->options[0]->values[0], "10.0.0.1");
	drop(r);

	/* Same client id again: ALREADY_EXISTS. */
	Frep__V1__Reservation dup = FREP__V1__RESERVATION__INIT;
	dup.scope_id              = "10.0.0.0";
	dup.ip_address            = "10.0.0.51";
	dup.client_id             = "00-11-22-33-44-55";
	CALL(f, add_reservation, Reservation, &dup, &r);
	must_fail(f, r, FREP_ALREADY_EXISTS, NULL, NULL, "AddReservation same client id");

	Frep__V1__SetReservationRequest set    = FREP__V1__SET_RESERVATION_REQUEST__INIT;
	Frep__V1__Reservation           change = FREP__V1__RESERVATION__INIT;
	char                           *mask[] = {"description"};
	change.scope_id                        = "10.0.0.0";
	change.ip_address                      = "10.0.0.50";
	change.description                     = "printer";
	set.reservation                        = &change;
	set.update_mask                        = mask;
	set.n_update_mask                      = 1;
	CALL(f, set_reservation, Reservation, &set, &r);
	must_ok(f, r, "SetReservation");
	assert_string_equal(r->description, "printer");
	assert_string_equal(r->client_id, "00-11-22-33-44-55");
	drop(r);

	add_reservation(f, "10.0.0.0", "10.0.0.60", "00-11-22-33-44-66", NULL);
	Frep__V1__ListReservationsRequest   lr = FREP__V1__LIST_RESERVATIONS_REQUEST__INIT;
	Frep__V1__ListReservationsResponse *lro;
	lr.scope_id = "10.0.0.0";
	CALL(f, list_reservations, ListReservationsResponse, &lr, &lro);
	must_ok(f, lro, "ListReservations");
	assert_int_equal(lro->n_reservations, 2);
	assert_string_equal(lro->reservations[1]->ip_address, "10.0.0.60");
	drop(lro);

	CALL(f, remove_reservation, Empty, &rk, &empty);
	must_ok(f, empty, "RemoveReservation");
	drop(empty);
	CALL(f, get_reservation, Reservation, &rk, &r);
	must_fail(f, r, FREP_NOT_FOUND, NULL, NULL, "GetReservation after remove");
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_bad_input_is_invalid_argument_naming_field_and_value(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	Frep__V1__Reservation *r;
	Frep__V1__Scope       *s;

	Frep__V1__Reservation bad = FREP__V1__RESERVATION__INIT;
	bad.scope_id              = "10.0.0.0";
	bad.ip_address            = "10.0.0.256";
	bad.client_id             = "00-11-22-33-44-77";
	CALL(f, add_reservation, Reservation, &bad, &r);
	must_fail(f, r, FREP_INVALID_ARGUMENT, "reservation.ip_address", "10.0.0.256",
	    "AddReservation bad ip");

	Frep__V1__Scope nokey = FREP__V1__SCOPE__INIT;
	nokey.subnet_mask     = "255.255.255.0";
	CALL(f, add_scope, Scope, &nokey, &s);
	must_fail(f, s, FREP_INVALID_ARGUMENT, "scope.scope_id is required", NULL,
	    "AddScope without scope_id");

	Frep__V1__Scope badenum = FREP__V1__SCOPE__INIT;
	badenum.scope_id        = "10.9.0.0";
	badenum.subnet_mask     = "255.255.255.0";
	badenum.start_range     = "10.9.0.1";
	badenum.end_range       = "10.9.0.9";
	badenum.state           = (Frep__V1__ScopeState) 7;
	CALL(f, add_scope, Scope, &badenum, &s);
	must_fail(f, s, FREP_INVALID_ARGUMENT, "scope.state 7", NULL, "AddScope unknown enum");

	/* Too many option values: refused before anything is allocated. */
	size_t                  n   = ENGINE_OPTIONS_MAX + 1;
	Frep__V1__OptionValue  *ovs = calloc(n, sizeof(*ovs));
	Frep__V1__OptionValue **ovp = calloc(n, sizeof(*ovp));
	for (size_t i = 0; i < n; i++) {
		Frep__V1__OptionValue init = FREP__V1__OPTION_VALUE__INIT;
		ovs[i]                     = init;
		ovs[i].option_id           = 3;
		ovp[i]                     = &ovs[i];
	}
	Frep__V1__Reservation many = FREP__V1__RESERVATION__INIT;
	many.scope_id              = "10.0.0.0";
	many.ip_address            = "10.0.0.70";
	many.client_id             = "00-11-22-33-44-88";
	many.options               = ovp;
	many.n_options             = n;
	CALL(f, add_reservation, Reservation, &many, &r);
	free(ovp);
	free(ovs);
	must_fail(f, r, FREP_INVALID_ARGUMENT, "reservation.options", "257", "too many options");

	/* An engine rule, with the engine's message. */
	Frep__V1__Reservation outside = FREP__V1__RESERVATION__INIT;
	outside.scope_id              = "10.0.0.0";
	outside.ip_address            = "10.0.1.5";
	outside.client_id             = "00-11-22-33-44-99";
	CALL(f, add_reservation, Reservation, &outside, &r);
	must_fail(f, r, FREP_INVALID_ARGUMENT,
	    "reservation 10.0.1.5 lies outside scope 10.0.0.0/24", NULL,
	    "reservation outside the scope");

	/* Unknown parent: NOT_FOUND. */
	Frep__V1__Reservation orphan = FREP__V1__RESERVATION__INIT;
	orphan.scope_id              = "10.5.0.0";
	orphan.ip_address            = "10.5.0.5";
	orphan.client_id             = "00-11-22-33-44-aa";
	CALL(f, add_reservation, Reservation, &orphan, &r);
	must_fail(f, r, FREP_NOT_FOUND, "10.5.0.0", NULL, "reservation in an unknown scope");

	/* A Set without its object. */
	Frep__V1__SetScopeRequest empty_set = FREP__V1__SET_SCOPE_REQUEST__INIT;
	CALL(f, set_scope, Scope, &empty_set, &s);
	must_fail(f, s, FREP_INVALID_ARGUMENT, "scope is required", NULL, "SetScope without scope");

	Frep__V1__ListPoliciesRequest   lp = FREP__V1__LIST_POLICIES_REQUEST__INIT;
	Frep__V1__ListPoliciesResponse *lpo;
	CALL(f, list_policies, ListPoliciesResponse, &lp, &lpo);
	must_fail(f, lpo, FREP_INVALID_ARGUMENT, "scope_id is required", NULL,
	    "ListPolicies without scope");
	stop_frepd_cleanly(f);
}

/* Issue 12: every object-kind method runs through object_kinds.c's rows.
 * Pins what a row says: which request field is the key (and is named in
 * the message), where the object sits in a Set, the key order (the first
 * bad field is the one named), and that Remove and List replies come back
 * as their own messages. */
static void
test_dhcp_service_object_kind_rows_name_their_fields(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	Frep__V1__Scope                       *s;
	Frep__V1__Reservation                 *r;
	Frep__V1__Class                       *c;
	Frep__V1__OptionValue                 *v;
	Frep__V1__Empty                       *e;
	Frep__V1__ListExclusionRangesResponse *le;

	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	rk.scope_id                 = "10.0.0.999";
	rk.ip_address               = "10.0.0.256";
	CALL(f, get_reservation, Reservation, &rk, &r);
	must_fail(f, r, FREP_INVALID_ARGUMENT, "scope_id", "10.0.0.999",
	    "GetReservation: scope_id is checked before ip_address");
	rk.scope_id = "10.0.0.0";
	CALL(f, remove_reservation, Empty, &rk, &e);
	must_fail(f, e, FREP_INVALID_ARGUMENT, "ip_address", "10.0.0.256", "RemoveReservation");

	Frep__V1__RemoveScopeRequest rs = FREP__V1__REMOVE_SCOPE_REQUEST__INIT;
	CALL(f, remove_scope, Empty, &rs, &e);
	must_fail(f, e, FREP_INVALID_ARGUMENT, "scope_id is required", NULL, "RemoveScope");
	Frep__V1__ScopeKey sk = FREP__V1__SCOPE_KEY__INIT;
	sk.scope_id           = "10.7.0.0";
	CALL(f, get_scope, Scope, &sk, &s);
	must_fail(f, s, FREP_NOT_FOUND, "10.7.0.0", NULL, "GetScope of no scope");

	Frep__V1__ClassKey ck = FREP__V1__CLASS_KEY__INIT;
	ck.type               = (Frep__V1__ClassType) 7;
	ck.name               = "x";
	CALL(f, get_class, Class, &ck, &c);
	must_fail(f, c, FREP_INVALID_ARGUMENT, "type 7", "ClassType", "GetClass bad type");
	Frep__V1__SetClassRequest sc = FREP__V1__SET_CLASS_REQUEST__INIT;
	CALL(f, set_class, Class, &sc, &c);
	must_fail(f, c, FREP_INVALID_ARGUMENT, "class_def is required", NULL, "SetClass empty");

	Frep__V1__SetOptionValueRequest sv = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          t  = FREP__V1__OPTION_TARGET__INIT;
	t.scope_id                         = "10.0.0.x";
	sv.target                          = &t;
	CALL(f, set_option_value, OptionValue, &sv, &v);
	must_fail(f, v, FREP_INVALID_ARGUMENT, "target.scope_id", "10.0.0.x",
	    "SetOptionValue: the target key before the value");
	t.scope_id = "10.0.0.0";
	CALL(f, set_option_value, OptionValue, &sv, &v);
	must_fail(f, v, FREP_INVALID_ARGUMENT, "value is required", NULL, "SetOptionValue empty");

	Frep__V1__ExclusionRange x = FREP__V1__EXCLUSION_RANGE__INIT;
	x.scope_id                 = "10.0.0.0";
	x.end_range                = "10.0.0.20";
	CALL(f, remove_exclusion_range, Empty, &x, &e);
	must_fail(f, e, FREP_INVALID_ARGUMENT, "exclusion.start_range is required", NULL,
	    "RemoveExclusionRange: the request is the object");
	x.start_range = "10.0.0.15";
	Frep__V1__ExclusionRange *xo;
	CALL(f, add_exclusion_range, ExclusionRange, &x, &xo);
	must_ok(f, xo, "AddExclusionRange");
	assert_string_equal(xo->start_range, "10.0.0.15");
	drop(xo);
	Frep__V1__ListExclusionRangesRequest lx = FREP__V1__LIST_EXCLUSION_RANGES_REQUEST__INIT;
	CALL(f, list_exclusion_ranges, ListExclusionRangesResponse, &lx, &le);
	must_ok(f, le, "ListExclusionRanges");
	assert_int_equal(le->n_exclusions, 1);
	assert_string_equal(le->exclusions[0]->end_range, "10.0.0.20");
	drop(le);
	CALL(f, remove_exclusion_range, Empty, &x, &e);
	must_ok(f, e, "RemoveExclusionRange");
	drop(e);
	CALL(f, list_exclusion_ranges, ListExclusionRangesResponse, &lx, &le);
	must_ok(f, le, "ListExclusionRanges after remove");
	assert_int_equal(le->n_exclusions, 0);
	drop(le);
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_option_definitions_values_and_classes(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	add_reservation(f, "10.0.0.0", "10.0.0.50", "00-11-22-33-44-55", NULL);

	/* Classes. */
	Frep__V1__Class  cls = FREP__V1__CLASS__INIT;
	Frep__V1__Class *co;
	cls.name = "phones";
	cls.type = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	cls.data = "PHONE 1.0";
	CALL(f, add_class, Class, &cls, &co);
	must_ok(f, co, "AddClass");
	drop(co);
	CALL(f, add_class, Class, &cls, &co);
	must_fail(f, co, FREP_ALREADY_EXISTS, NULL, NULL, "AddClass twice");
	Frep__V1__ClassKey ck = FREP__V1__CLASS_KEY__INIT;
	ck.type               = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	ck.name               = "phones";
	CALL(f, get_class, Class, &ck, &co);
	must_ok(f, co, "GetClass");
	assert_string_equal(co->data, "PHONE 1.0");
	drop(co);
	Frep__V1__SetClassRequest sc     = FREP__V1__SET_CLASS_REQUEST__INIT;
	Frep__V1__Class           cchg   = FREP__V1__CLASS__INIT;
	char                     *mask[] = {"description"};
	cchg.name                        = "phones";
	cchg.type                        = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	cchg.description                 = "desk phones";
	sc.class_def                     = &cchg;
	sc.update_mask                   = mask;
	sc.n_update_mask                 = 1;
	CALL(f, set_class, Class, &sc, &co);
	must_ok(f, co, "SetClass");
	assert_string_equal(co->description, "desk phones");
	assert_string_equal(co->data, "PHONE 1.0");
	drop(co);
	Frep__V1__ListClassesRequest   lc = FREP__V1__LIST_CLASSES_REQUEST__INIT;
	Frep__V1__ListClassesResponse *lco;
	lc.type = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;
	CALL(f, list_classes, ListClassesResponse, &lc, &lco);
	must_ok(f, lco, "ListClasses");
	bool found = false;
	for (size_t i = 0; i < lco->n_classes; i++) {
		found = found || strcmp(lco->classes[i]->name, "phones") == 0;
		assert_int_equal(lco->classes[i]->type, FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR);
	}
	assert_true(found);
	drop(lco);
	ck.type = (Frep__V1__ClassType) 9;
	CALL(f, get_class, Class, &ck, &co);
	must_fail(f, co, FREP_INVALID_ARGUMENT, "type 9", NULL, "GetClass unknown type");
	ck.type = FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR;

	/* Option definitions. */
	Frep__V1__OptionDefinition  def = FREP__V1__OPTION_DEFINITION__INIT;
	Frep__V1__OptionDefinition *d;
	def.option_id = 250;
	def.name      = "Provisioning URL";
	def.type      = FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING;
	CALL(f, add_option_definition, OptionDefinition, &def, &d);
	must_ok(f, d, "AddOptionDefinition");
	assert_false(d->predefined);
	drop(d);
	CALL(f, add_option_definition, OptionDefinition, &def, &d);
	must_fail(f, d, FREP_ALREADY_EXISTS, NULL, NULL, "AddOptionDefinition twice");
	Frep__V1__OptionDefinitionKey dk = FREP__V1__OPTION_DEFINITION_KEY__INIT;
	dk.option_id                     = 3;
	CALL(f, get_option_definition, OptionDefinition, &dk, &d);
	must_ok(f, d, "GetOptionDefinition 3");
	assert_true(d->predefined);
	assert_string_equal(d->name, "Router");
	drop(d);
	Frep__V1__SetOptionDefinitionRequest sd   = FREP__V1__SET_OPTION_DEFINITION_REQUEST__INIT;
	Frep__V1__OptionDefinition           dchg = FREP__V1__OPTION_DEFINITION__INIT;
	dchg.option_id                            = 250;
	dchg.description                          = "where phones boot from";
	sd.definition                             = &dchg;
	sd.update_mask                            = mask;
	sd.n_update_mask                          = 1;
	CALL(f, set_option_definition, OptionDefinition, &sd, &d);
	must_ok(f, d, "SetOptionDefinition");
	assert_string_equal(d->description, "where phones boot from");
	assert_int_equal(d->type, FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING);
	drop(d);
	Frep__V1__ListOptionDefinitionsRequest ld = FREP__V1__LIST_OPTION_DEFINITIONS_REQUEST__INIT;
	Frep__V1__ListOptionDefinitionsResponse *ldo;
	CALL(f, list_option_definitions, ListOptionDefinitionsResponse, &ld, &ldo);
	must_ok(f, ldo, "ListOptionDefinitions");
	assert_true(ldo->n_definitions > 20);
	found = false;
	for (size_t i = 0; i < ldo->n_definitions; i++) {
		found = found || (ldo->definitions[i]->option_id == 250 &&
				     strcmp(ldo->definitions[i]->name, "Provisioning URL") == 0);
	}
	assert_true(found);
	drop(ldo);

	/* Option values at server, scope and reservation level. */
	struct {
		const char *scope_id;
		const char *reserved_ip;
		const char *value;
	} levels[] = {
	    {"", "", "http://server/"},
	    {"10.0.0.0", "", "http://scope/"},
	    {"10.0.0.0", "10.0.0.50", "http://host/"},
	};
	for (size_t i = 0; i < 3; i++) {
		Frep__V1__OptionTarget          t  = FREP__V1__OPTION_TARGET__INIT;
		Frep__V1__OptionValue           v  = FREP__V1__OPTION_VALUE__INIT;
		Frep__V1__SetOptionValueRequest sv = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
		Frep__V1__OptionValue          *vo;
		char                           *vals[] = {(char *) levels[i].value};
		t.scope_id                             = (char *) levels[i].scope_id;
		t.reserved_ip                          = (char *) levels[i].reserved_ip;
		v.option_id                            = 250;
		v.values                               = vals;
		v.n_values                             = 1;
		sv.target                              = &t;
		sv.value                               = &v;
		CALL(f, set_option_value, OptionValue, &sv, &vo);
		must_ok(f, vo, "SetOptionValue");
		drop(vo);

		Frep__V1__OptionValueKey vk = FREP__V1__OPTION_VALUE_KEY__INIT;
		vk.target                   = &t;
		vk.option_id                = 250;
		CALL(f, get_option_value, OptionValue, &vk, &vo);
		must_ok(f, vo, "GetOptionValue");
		assert_string_equal(vo->values[0], levels[i].value);
		drop(vo);

		Frep__V1__ListOptionValuesRequest   lv = FREP__V1__LIST_OPTION_VALUES_REQUEST__INIT;
		Frep__V1__ListOptionValuesResponse *lvo;
		lv.target = &t;
		CALL(f, list_option_values, ListOptionValuesResponse, &lv, &lvo);
		must_ok(f, lvo, "ListOptionValues");
		assert_int_equal(lvo->n_values, 1);
		drop(lvo);
	}
	/* A value of the wrong arity is the engine's INVALID_ARGUMENT. */
	{
		Frep__V1__OptionValue           v      = FREP__V1__OPTION_VALUE__INIT;
		Frep__V1__SetOptionValueRequest sv     = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
		char                           *vals[] = {"a", "b"};
		Frep__V1__OptionValue          *vo;
		v.option_id = 250;
		v.values    = vals;
		v.n_values  = 2;
		sv.value    = &v;
		CALL(f, set_option_value, OptionValue, &sv, &vo);
		must_fail(f, vo, FREP_INVALID_ARGUMENT, NULL, NULL, "two values for a single one");
		v.option_id = 251;
		v.n_values  = 1;
		CALL(f, set_option_value, OptionValue, &sv, &vo);
		must_fail(f, vo, FREP_NOT_FOUND, "251", NULL, "value without a definition");
	}
	/* The definition is in use: the engine refuses to remove it. */
	Frep__V1__Empty *empty;
	dk.option_id = 250;
	CALL(f, remove_option_definition, Empty, &dk, &empty);
	must_fail(f, empty, FREP_FAILED_PRECONDITION, NULL, NULL, "remove a definition in use");
	for (size_t i = 0; i < 3; i++) {
		Frep__V1__OptionTarget   t  = FREP__V1__OPTION_TARGET__INIT;
		Frep__V1__OptionValueKey vk = FREP__V1__OPTION_VALUE_KEY__INIT;
		t.scope_id                  = (char *) levels[i].scope_id;
		t.reserved_ip               = (char *) levels[i].reserved_ip;
		vk.target                   = &t;
		vk.option_id                = 250;
		CALL(f, remove_option_value, Empty, &vk, &empty);
		must_ok(f, empty, "RemoveOptionValue");
		drop(empty);
		CALL(f, remove_option_value, Empty, &vk, &empty);
		must_fail(f, empty, FREP_NOT_FOUND, NULL, NULL, "RemoveOptionValue twice");
	}
	CALL(f, remove_option_definition, Empty, &dk, &empty);
	must_ok(f, empty, "RemoveOptionDefinition");
	drop(empty);
	CALL(f, get_option_definition, OptionDefinition, &dk, &d);
	must_fail(f, d, FREP_NOT_FOUND, NULL, NULL, "GetOptionDefinition after remove");

	CALL(f, remove_class, Empty, &ck, &empty);
	must_ok(f, empty, "RemoveClass");
	drop(empty);
	CALL(f, get_class, Class, &ck, &co);
	must_fail(f, co, FREP_NOT_FOUND, NULL, NULL, "GetClass after remove");
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_policies(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");

	Frep__V1__Policy       p        = FREP__V1__POLICY__INIT;
	Frep__V1__Criterion    crit     = FREP__V1__CRITERION__INIT;
	Frep__V1__Criterion   *crits[]  = {&crit};
	Frep__V1__IpRange      range    = FREP__V1__IP_RANGE__INIT;
	Frep__V1__IpRange     *ranges[] = {&range};
	Frep__V1__OptionValue  ov       = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__OptionValue *ovs[]    = {&ov};
	char                  *macs[]   = {"00-11-22*"};
	char                  *dns[]    = {"10.0.0.2", "10.0.0.3"};
	Frep__V1__Policy      *po;
	crit.type              = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS;
	crit.comparator        = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	crit.values            = macs;
	crit.n_values          = 1;
	range.start_range      = "10.0.0.100";
	range.end_range        = "10.0.0.119";
	ov.option_id           = 6;
	ov.values              = dns;
	ov.n_values            = 2;
	p.name                 = "lab-macs";
	p.scope_id             = "10.0.0.0";
	p.criteria             = crits;
	p.n_criteria           = 1;
	p.ip_ranges            = ranges;
	p.n_ip_ranges          = 1;
	p.options              = ovs;
	p.n_options            = 1;
	p.enabled_present_case = FREP__V1__POLICY__ENABLED_PRESENT_ENABLED;
	p.enabled              = false;
	CALL(f, add_policy, Policy, &p, &po);
	must_ok(f, po, "AddPolicy");
	assert_int_equal(po->enabled_present_case, FREP__V1__POLICY__ENABLED_PRESENT_ENABLED);
	assert_false(po->enabled);
	assert_int_equal(po->condition, FREP__V1__POLICY_CONDITION__POLICY_CONDITION_OR);
	assert_int_equal(po->processing_order, 1);
	drop(po);
	p.n_ip_ranges = 0; /* the same ranges again would overlap first */
	CALL(f, add_policy, Policy, &p, &po);
	must_fail(f, po, FREP_ALREADY_EXISTS, "lab-macs", NULL, "AddPolicy twice");
	p.n_ip_ranges = 1;

	range.start_range = "10.0.0.300";
	CALL(f, add_policy, Policy, &p, &po);
	must_fail(f, po, FREP_INVALID_ARGUMENT, "policy.ip_ranges[0].start_range", "10.0.0.300",
	    "AddPolicy bad range");
	range.start_range = "10.0.0.100";

	Frep__V1__PolicyKey pk = FREP__V1__POLICY_KEY__INIT;
	pk.scope_id            = "10.0.0.0";
	pk.name                = "lab-macs";
	CALL(f, get_policy, Policy, &pk, &po);
	must_ok(f, po, "GetPolicy");
	assert_int_equal(po->n_criteria, 1);
	assert_string_equal(po->criteria[0]->values[0], "00-11-22*");
	assert_int_equal(po->n_ip_ranges, 1);
	assert_string_equal(po->ip_ranges[0]->end_range, "10.0.0.119");
	assert_int_equal(po->n_options, 1);
	assert_int_equal(po->options[0]->n_values, 2);
	drop(po);

	Frep__V1__SetPolicyRequest sp     = FREP__V1__SET_POLICY_REQUEST__INIT;
	Frep__V1__Policy           pchg   = FREP__V1__POLICY__INIT;
	char                      *mask[] = {"enabled", "lease_duration_s"};
	pchg.scope_id                     = "10.0.0.0";
	pchg.name                         = "lab-macs";
	pchg.enabled_present_case         = FREP__V1__POLICY__ENABLED_PRESENT_ENABLED;
	pchg.enabled                      = true;
	pchg.lease_duration_s             = 7200;
	sp.policy                         = &pchg;
	sp.update_mask                    = mask;
	sp.n_update_mask                  = 2;
	CALL(f, set_policy, Policy, &sp, &po);
	must_ok(f, po, "SetPolicy");
	assert_true(po->enabled);
	assert_int_equal(po->lease_duration_s, 7200);
	assert_int_equal(po->n_criteria, 1);
	drop(po);

	Frep__V1__PolicyIpRangeRequest pr = FREP__V1__POLICY_IP_RANGE_REQUEST__INIT;
	Frep__V1__IpRange              r2 = FREP__V1__IP_RANGE__INIT;
	r2.start_range                    = "10.0.0.150";
	r2.end_range                      = "10.0.0.159";
	pr.scope_id                       = "10.0.0.0";
	pr.policy_name                    = "lab-macs";
	pr.range                          = &r2;
	CALL(f, add_policy_ip_range, Policy, &pr, &po);
	must_ok(f, po, "AddPolicyIpRange");
	assert_int_equal(po->n_ip_ranges, 2);
	drop(po);
	CALL(f, remove_policy_ip_range, Policy, &pr, &po);
	must_ok(f, po, "RemovePolicyIpRange");
	assert_int_equal(po->n_ip_ranges, 1);
	drop(po);

	/* A server-level policy. */
	Frep__V1__Policy sp2 = FREP__V1__POLICY__INIT;
	sp2.name             = "everyone-mac";
	sp2.criteria         = crits;
	sp2.n_criteria       = 1;
	CALL(f, add_policy, Policy, &sp2, &po);
	must_ok(f, po, "AddPolicy server level");
	assert_string_equal(po->scope_id, "");
	drop(po);

	Frep__V1__ListPoliciesRequest   lp = FREP__V1__LIST_POLICIES_REQUEST__INIT;
	Frep__V1__ListPoliciesResponse *lpo;
	lp.scope_id = "10.0.0.0";
	CALL(f, list_policies, ListPoliciesResponse, &lp, &lpo);
	must_ok(f, lpo, "ListPolicies scope");
	assert_int_equal(lpo->n_policies, 1);
	assert_string_equal(lpo->policies[0]->name, "lab-macs");
	drop(lpo);
	lp.scope_id     = "";
	lp.server_level = true;
	CALL(f, list_policies, ListPoliciesResponse, &lp, &lpo);
	must_ok(f, lpo, "ListPolicies server");
	assert_int_equal(lpo->n_policies, 1);
	assert_string_equal(lpo->policies[0]->name, "everyone-mac");
	drop(lpo);

	Frep__V1__Empty *empty;
	CALL(f, remove_policy, Empty, &pk, &empty);
	must_ok(f, empty, "RemovePolicy");
	drop(empty);
	CALL(f, get_policy, Policy, &pk, &po);
	must_fail(f, po, FREP_NOT_FOUND, NULL, NULL, "GetPolicy after remove");
	stop_frepd_cleanly(f);
}

/* True if the packed message holds needle anywhere. */
static bool
packed_contains(const ProtobufCMessage *msg, const char *needle)
{
	size_t   len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len + 1);
	protobuf_c_message_pack(msg, buf);
	bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

static void
test_dhcp_service_failover_local_and_never_the_secret(void **state)
{
	fixture *f = *state;
	start_partner(f);
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	add_scope(f, "10.0.1.0", "255.255.255.0", "10.0.1.10", "10.0.1.200");

	Frep__V1__AddFailoverRequest    add = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship  rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	Frep__V1__FailoverRelationship *ro;
	char                           *ids[] = {"10.0.0.0"};
	rel.name                              = "dc1-dc2";
	rel.partner_server                    = f->partner_url;
	rel.shared_secret                     = "s3cret-do-not-leak";
	rel.scope_ids                         = ids;
	rel.n_scope_ids                       = 1;
	add.relationship                      = &rel;
	CALL(f, add_failover, FailoverRelationship, &add, &ro);
	must_ok(f, ro, "AddFailover");
	assert_string_equal(ro->shared_secret, "");
	assert_int_equal(ro->mode, FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE);
	assert_int_equal(ro->load_balance_percent, 50);
	assert_int_equal(ro->state, FREP__V1__FAILOVER_STATE__FAILOVER_STATE_NORMAL);
	assert_false(packed_contains(&ro->base, "s3cret"));
	drop(ro);
	CALL(f, add_failover, FailoverRelationship, &add, &ro);
	must_fail(f, ro, FREP_ALREADY_EXISTS, NULL, NULL, "AddFailover twice");

	Frep__V1__FailoverKey fk = FREP__V1__FAILOVER_KEY__INIT;
	fk.name                  = "dc1-dc2";
	CALL(f, get_failover, FailoverRelationship, &fk, &ro);
	must_ok(f, ro, "GetFailover");
	assert_string_equal(ro->shared_secret, "");
	assert_false(packed_contains(&ro->base, "s3cret"));
	assert_int_equal(ro->n_scope_ids, 1);
	assert_string_equal(ro->scope_ids[0], "10.0.0.0");
	drop(ro);

	Frep__V1__SetFailoverRequest   sf     = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship chg    = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	char                          *mask[] = {"max_client_lead_time_s"};
	chg.name                              = "dc1-dc2";
	chg.max_client_lead_time_s            = 1800;
	sf.relationship                       = &chg;
	sf.update_mask                        = mask;
	sf.n_update_mask                      = 1;
	CALL(f, set_failover, FailoverRelationship, &sf, &ro);
	must_ok(f, ro, "SetFailover");
	assert_int_equal(ro->max_client_lead_time_s, 1800);
	assert_string_equal(ro->partner_server, f->partner_url);
	assert_false(packed_contains(&ro->base, "s3cret"));
	drop(ro);

	Frep__V1__FailoverScopeRequest fs     = FREP__V1__FAILOVER_SCOPE_REQUEST__INIT;
	char                          *more[] = {"10.0.1.0"};
	fs.name                               = "dc1-dc2";
	fs.scope_ids                          = more;
	fs.n_scope_ids                        = 1;
	CALL(f, add_failover_scope, FailoverRelationship, &fs, &ro);
	must_ok(f, ro, "AddFailoverScope");
	assert_int_equal(ro->n_scope_ids, 2);
	drop(ro);

	Frep__V1__ListFailoversRequest   lf = FREP__V1__LIST_FAILOVERS_REQUEST__INIT;
	Frep__V1__ListFailoversResponse *lfo;
	CALL(f, list_failovers, ListFailoversResponse, &lf, &lfo);
	must_ok(f, lfo, "ListFailovers");
	assert_int_equal(lfo->n_relationships, 1);
	assert_string_equal(lfo->relationships[0]->shared_secret, "");
	assert_false(packed_contains(&lfo->base, "s3cret"));
	drop(lfo);

	/* A failover scope stays unless forced. */
	Frep__V1__RemoveScopeRequest rm = FREP__V1__REMOVE_SCOPE_REQUEST__INIT;
	Frep__V1__Empty             *empty;
	rm.scope_id = "10.0.1.0";
	CALL(f, remove_scope, Empty, &rm, &empty);
	must_fail(f, empty, FREP_FAILED_PRECONDITION, "dc1-dc2", NULL, "RemoveScope in failover");

	CALL(f, remove_failover_scope, FailoverRelationship, &fs, &ro);
	must_ok(f, ro, "RemoveFailoverScope");
	assert_int_equal(ro->n_scope_ids, 1);
	drop(ro);
	CALL(f, remove_failover_scope, FailoverRelationship, &fs, &ro);
	must_fail(f, ro, FREP_FAILED_PRECONDITION, NULL, NULL, "RemoveFailoverScope twice");
	more[0] = "10.0.1.x";
	CALL(f, add_failover_scope, FailoverRelationship, &fs, &ro);
	must_fail(f, ro, FREP_INVALID_ARGUMENT, "scope_ids[0]", "10.0.1.x", "bad scope id");

	CALL(f, remove_failover, Empty, &fk, &empty);
	must_ok(f, empty, "RemoveFailover");
	drop(empty);
	CALL(f, get_failover, FailoverRelationship, &fk, &ro);
	must_fail(f, ro, FREP_NOT_FOUND, NULL, NULL, "GetFailover after remove");
	stop_frepd_cleanly(f);
}

/* A configuration touching every kind the snapshot holds. */
static void
configure_lab(fixture *f)
{
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	Frep__V1__ExclusionRange  ex = FREP__V1__EXCLUSION_RANGE__INIT;
	Frep__V1__ExclusionRange *exo;
	ex.scope_id    = "10.0.0.0";
	ex.start_range = "10.0.0.20";
	ex.end_range   = "10.0.0.29";
	CALL(f, add_exclusion_range, ExclusionRange, &ex, &exo);
	must_ok(f, exo, "AddExclusionRange");
	drop(exo);
	add_reservation(f, "10.0.0.0", "10.0.0.50", "00-11-22-33-44-55", "10.0.0.1");
	add_reservation(f, "10.0.0.0", "10.0.0.51", "00-11-22-33-44-56", NULL);

	Frep__V1__OptionTarget          t  = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v  = FREP__V1__OPTION_VALUE__INIT;
	Frep__V1__SetOptionValueRequest sv = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionValue          *vo;
	char                           *vals[] = {"10.0.0.1"};
	t.scope_id                             = "10.0.0.0";
	v.option_id                            = 3;
	v.values                               = vals;
	v.n_values                             = 1;
	sv.target                              = &t;
	sv.value                               = &v;
	CALL(f, set_option_value, OptionValue, &sv, &vo);
	must_ok(f, vo, "SetOptionValue scope");
	drop(vo);

	Frep__V1__Policy     p       = FREP__V1__POLICY__INIT;
	Frep__V1__Criterion  crit    = FREP__V1__CRITERION__INIT;
	Frep__V1__Criterion *crits[] = {&crit};
	char                *vcs[]   = {"Microsoft Windows 2000 Options"};
	Frep__V1__Policy    *po;
	crit.type       = FREP__V1__CRITERION_TYPE__CRITERION_TYPE_VENDOR_CLASS;
	crit.comparator = FREP__V1__COMPARATOR__COMPARATOR_EQ;
	crit.values     = vcs;
	crit.n_values   = 1;
	p.name          = "windows";
	p.scope_id      = "10.0.0.0";
	p.criteria      = crits;
	p.n_criteria    = 1;
	CALL(f, add_policy, Policy, &p, &po);
	must_ok(f, po, "AddPolicy");
	drop(po);

	Frep__V1__AddFailoverRequest    add = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	Frep__V1__FailoverRelationship  rel = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	Frep__V1__FailoverRelationship *ro;
	char                           *ids[] = {"10.0.0.0"};
	rel.name                              = "dc1-dc2";
	rel.partner_server                    = f->partner_url;
	rel.shared_secret                     = "s3cret";
	rel.scope_ids                         = ids;
	rel.n_scope_ids                       = 1;
	add.relationship                      = &rel;
	CALL(f, add_failover, FailoverRelationship, &add, &ro);
	must_ok(f, ro, "AddFailover");
	drop(ro);
}

static Frep__V1__ScopeConfig *
get_scope_config(fixture *f, const char *scope_id)
{
	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	Frep__V1__ScopeConfig       *out;
	req.scope_id = (char *) scope_id;
	CALL(f, get_scope_config, ScopeConfig, &req, &out);
	must_ok(f, out, "GetScopeConfig");
	return out;
}

static void
test_dhcp_service_scope_config_round_trips_through_convert(void **state)
{
	fixture *f = *state;
	start_partner(f);
	start_frepd(f);
	configure_lab(f);
	Frep__V1__ScopeConfig *cfg = get_scope_config(f, "10.0.0.0");
	assert_int_equal(strlen(cfg->digest), 64);
	assert_int_equal(cfg->n_exclusions, 1);
	assert_int_equal(cfg->n_reservations, 2);
	assert_int_equal(cfg->reservations[0]->n_options, 1);
	assert_int_equal(cfg->n_options, 1);
	assert_int_equal(cfg->n_policies, 1);
	assert_true(cfg->n_option_definitions_used >= 1);
	assert_int_equal(cfg->n_classes_used, 1);
	assert_int_equal(cfg->classes_used[0]->type, FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR);

	/* proto -> engine: the same digest, computed here. */
	convert_arena       a;
	engine_scope_config ec;
	frep_status         st;
	char                digest[65];
	convert_arena_init(&a);
	assert_int_equal(
	    convert_scope_config_from_proto(cfg, "scope_config", &a, &ec, &st), FREP_OK);
	assert_int_equal(engine_scope_config_digest(&ec, digest, &st), FREP_OK);
	assert_string_equal(digest, cfg->digest);

	/* engine -> proto: the same bytes. */
	Frep__V1__ScopeConfig *back = NULL;
	assert_int_equal(convert_scope_config_to_proto(&ec, &a, &back, &st), FREP_OK);
	size_t   n1 = protobuf_c_message_get_packed_size(&cfg->base);
	size_t   n2 = protobuf_c_message_get_packed_size(&back->base);
	uint8_t *b1 = malloc(n1 + 1);
	uint8_t *b2 = malloc(n2 + 1);
	protobuf_c_message_pack(&cfg->base, b1);
	protobuf_c_message_pack(&back->base, b2);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	free(b1);
	free(b2);

	/* A bad element deep inside is named with its index. */
	char *saved                      = cfg->reservations[1]->ip_address;
	cfg->reservations[1]->ip_address = "10.0.0.x";
	assert_int_equal(convert_scope_config_from_proto(cfg, "scope_config", &a, &ec, &st),
	    FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "scope_config.reservations[1].ip_address '10.0.0.x'"));
	cfg->reservations[1]->ip_address = saved;
	convert_arena_fini(&a);
	drop(cfg);

	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	req.scope_id                     = "10.7.0.0";
	CALL(f, get_scope_config, ScopeConfig, &req, &cfg);
	must_fail(f, cfg, FREP_NOT_FOUND, "10.7.0.0", NULL, "GetScopeConfig unknown scope");
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_restart_keeps_everything(void **state)
{
	fixture *f = *state;
	start_partner(f);
	start_frepd(f);
	configure_lab(f);
	Frep__V1__ScopeConfig *before = get_scope_config(f, "10.0.0.0");
	stop_frepd_cleanly(f);

	/* While frepd is down: an audit record (replication writes them) and
	 * a diff, through the engine and convert.h. */
	engine             *e;
	frep_status         st;
	engine_audit_record rec = {
	    .direction     = "applied",
	    .source        = "tcp://192.0.2.1:6470",
	    .relationship  = "dc1-dc2",
	    .scope_id      = 0x0a000000,
	    .digest_before = "",
	    .digest_after  = before->digest,
	    .added         = 3,
	    .message       = "ok",
	};
	assert_int_equal(engine_open(f->db, NULL, &e, &st), FREP_OK);
	assert_int_equal(engine_audit_add(e, &rec, NULL, &st), FREP_OK);
	{
		convert_arena           a;
		engine_scope_config     ec;
		engine_scope_changes    changes;
		engine_object_diff     *diff   = NULL;
		size_t                  n_diff = 0;
		Frep__V1__ScopeChanges *pc;
		Frep__V1__ObjectDiff  **pd;
		convert_arena_init(&a);
		assert_int_equal(
		    convert_scope_config_from_proto(before, "scope_config", &a, &ec, &st), FREP_OK);
		ec.n_reservations = 1; /* the partner would lose 10.0.0.51 */
		ec.digest[0]      = '\0';
		assert_int_equal(engine_scope_diff(e, &ec, &changes, &diff, &n_diff, &st), FREP_OK);
		assert_int_equal(convert_scope_changes_to_proto(&changes, &a, &pc, &st), FREP_OK);
		assert_int_equal(pc->reservations->removed, 1);
		assert_int_equal(pc->exclusions->removed, 0);
		assert_int_equal(
		    convert_object_diffs_to_proto(diff, n_diff, &a, &pd, &st), FREP_OK);
		assert_int_equal(n_diff, 1);
		assert_string_equal(pd[0]->kind, "reservation");
		assert_int_equal(pd[0]->action, FREP__V1__DIFF_ACTION__DIFF_ACTION_REMOVE);
		engine_object_diffs_free(diff, n_diff);
		convert_arena_fini(&a);
	}
	engine_close(e);

	start_frepd(f);
	Frep__V1__ScopeConfig *after = get_scope_config(f, "10.0.0.0");
	assert_string_equal(after->digest, before->digest);
	assert_int_equal(after->n_reservations, 2);

	Frep__V1__FailoverKey           fk = FREP__V1__FAILOVER_KEY__INIT;
	Frep__V1__FailoverRelationship *ro;
	fk.name = "dc1-dc2";
	CALL(f, get_failover, FailoverRelationship, &fk, &ro);
	must_ok(f, ro, "GetFailover after restart");
	assert_string_equal(ro->scope_ids[0], "10.0.0.0");
	assert_string_equal(ro->shared_secret, "");
	drop(ro);

	Frep__V1__ListAuditRequest   la = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	Frep__V1__ListAuditResponse *lao;
	la.scope_id = "10.0.0.0";
	CALL(f, list_audit, ListAuditResponse, &la, &lao);
	must_ok(f, lao, "ListAudit");
	/* Replication (when wired in) adds its own records: find ours. */
	const Frep__V1__AuditRecord *mine = NULL;
	for (size_t i = 0; i < lao->n_records; i++) {
		if (strcmp(lao->records[i]->source, "tcp://192.0.2.1:6470") == 0) {
			mine = lao->records[i];
		}
	}
	assert_non_null(mine);
	assert_string_equal(mine->direction, "applied");
	assert_string_equal(mine->scope_id, "10.0.0.0");
	assert_string_equal(mine->relationship, "dc1-dc2");
	assert_string_equal(mine->digest_after, before->digest);
	assert_string_equal(mine->message, "ok");
	assert_int_equal(mine->added, 3);
	assert_true(mine->time_unix_ms > 0);
	assert_true(mine->id > 0);
	drop(lao);
	la.scope_id = "10.1.0.0";
	CALL(f, list_audit, ListAuditResponse, &la, &lao);
	must_ok(f, lao, "ListAudit other scope");
	assert_int_equal(lao->n_records, 0);
	drop(lao);

	drop(before);
	drop(after);
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_acknowledged_write_survives_kill_9(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.0.0.0", "255.255.255.0", "10.0.0.10", "10.0.0.200");
	add_reservation(f, "10.0.0.0", "10.0.0.77", "00-11-22-33-44-77", NULL);
	/* Right after the reply: no chance to checkpoint or close. */
	tu_proc_stop(&f->proc, SIGKILL, 5000);

	start_frepd(f);
	Frep__V1__ReservationKey rk = FREP__V1__RESERVATION_KEY__INIT;
	Frep__V1__Reservation   *r;
	rk.scope_id   = "10.0.0.0";
	rk.ip_address = "10.0.0.77";
	CALL(f, get_reservation, Reservation, &rk, &r);
	must_ok(f, r, "GetReservation after kill -9");
	assert_string_equal(r->client_id, "00-11-22-33-44-77");
	drop(r);
	stop_frepd_cleanly(f);
}

#define WRITERS    8
#define PER_WRITER 50

typedef struct writer {
	fixture *f;
	int      index;
	int      errors;
	char     first_error[FREP_STATUS_MESSAGE_MAX + 32];
} writer;

static void *
writer_main(void *arg)
{
	writer *w = arg;
	for (int i = 0; i < PER_WRITER; i++) {
		char                   ip[32];
		char                   mac[32];
		Frep__V1__Reservation  req = FREP__V1__RESERVATION__INIT;
		Frep__V1__Reservation *out = NULL;
		snprintf(ip, sizeof(ip), "10.1.%d.%d", w->index, i + 1);
		snprintf(mac, sizeof(mac), "02-00-00-00-%02x-%02x", w->index, i + 1);
		req.scope_id   = "10.1.0.0";
		req.ip_address = ip;
		req.client_id  = mac;
		frep__v1__dhcp_server__add_reservation(w->f->dhcp, &req, keep_Reservation, &out);
		if (out == NULL) {
			frep_status st;
			frep_client_last_status(w->f->c, &st);
			if (w->errors++ == 0) {
				snprintf(w->first_error, sizeof(w->first_error), "%s: %s",
				    frep_code_name(st.code), st.message);
			}
		}
		drop(out);
	}
	return NULL;
}

static void
test_dhcp_service_concurrent_writers(void **state)
{
	fixture *f = *state;
	start_frepd(f);
	add_scope(f, "10.1.0.0", "255.255.0.0", "10.1.0.1", "10.1.255.254");

	pthread_t threads[WRITERS];
	writer    writers[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		writers[i] = (writer){.f = f, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &writers[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(threads[i], NULL);
	}
	for (int i = 0; i < WRITERS; i++) {
		if (writers[i].errors != 0) {
			fail_msg("writer %d: %d errors, first %s", i, writers[i].errors,
			    writers[i].first_error);
		}
	}
	Frep__V1__ListReservationsRequest   lr = FREP__V1__LIST_RESERVATIONS_REQUEST__INIT;
	Frep__V1__ListReservationsResponse *lro;
	lr.scope_id = "10.1.0.0";
	CALL(f, list_reservations, ListReservationsResponse, &lr, &lro);
	must_ok(f, lro, "ListReservations");
	assert_int_equal(lro->n_reservations, WRITERS * PER_WRITER);
	drop(lro);
	stop_frepd_cleanly(f);
}

static void
test_dhcp_service_requires_the_bearer_token(void **state)
{
	fixture *f = *state;
	char     token_file[700];
	snprintf(token_file, sizeof(token_file), "%s/token", f->dir);
	FILE *tf = fopen(token_file, "w");
	assert_non_null(tf);
	fputs("t0ken-abc\n", tf);
	fclose(tf);
	start_frepd_with(f, token_file);

	frep_status  st;
	frep_client *without = NULL;
	frep_client *with    = NULL;
	assert_int_equal(frep_client_open(f->url, NULL, &without, &st), FREP_OK);
	frep_client_options o = {.token = "t0ken-abc"};
	assert_int_equal(frep_client_open(f->url, &o, &with, &st), FREP_OK);

	Frep__V1__ListScopesRequest   req = FREP__V1__LIST_SCOPES_REQUEST__INIT;
	Frep__V1__ListScopesResponse *out = NULL;
	frep__v1__dhcp_server__list_scopes(
	    frep_client_service(without, &frep__v1__dhcp_server__descriptor), &req,
	    keep_ListScopesResponse, &out);
	assert_null(out);
	frep_client_last_status(without, &st);
	assert_int_equal(st.code, FREP_UNAUTHENTICATED);

	frep__v1__dhcp_server__list_scopes(
	    frep_client_service(with, &frep__v1__dhcp_server__descriptor), &req,
	    keep_ListScopesResponse, &out);
	if (out == NULL) {
		frep_client_last_status(with, &st);
		fail_msg("ListScopes with the token: %s: %s", frep_code_name(st.code), st.message);
	}
	drop(out);
	frep_client_close(without);
	frep_client_close(with);
	stop_frepd_cleanly(f);
}

static void
test_frepd_unopenable_db_is_a_clear_error(void **state)
{
	fixture *f = *state;
	char     file[700];
	char     db[800];
	snprintf(file, sizeof(file), "%s/plainfile", f->dir);
	FILE *pf = fopen(file, "w");
	assert_non_null(pf);
	fclose(pf);
	snprintf(db, sizeof(db), "%s/sub/frep.db", file);
	const char *args[] = {"--listen", f->url, "--db", db, NULL};
	assert_int_equal(tu_frepd_start(&f->proc, f->dir, "baddb", args), 0);
	int status = tu_proc_stop(&f->proc, 0, 10000);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_int_equal(
	    tu_system("grep -qF -- 'frepd: UNAVAILABLE: --db %s: ' %s", db, f->proc.log_path), 0);

	/* A directory where the file should be: the engine's status. */
	const char *args2[] = {"--listen", f->url, "--db", f->dir, NULL};
	assert_int_equal(tu_frepd_start(&f->proc, f->dir, "dirdb", args2), 0);
	status = tu_proc_stop(&f->proc, 0, 10000);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_int_equal(tu_system("grep -qF -- '--db %s: ' %s", f->dir, f->proc.log_path), 0);

	/* The parent directory is created, mode 0700. */
	start_frepd(f);
	assert_int_equal(tu_system("test \"$(stat -c %%a %s/state)\" = 700", f->dir), 0);
	stop_frepd_cleanly(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_scope_add_get_list_set_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_exclusions_and_reservations, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_bad_input_is_invalid_argument_naming_field_and_value, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_object_kind_rows_name_their_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_option_definitions_values_and_classes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dhcp_service_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_failover_local_and_never_the_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_scope_config_round_trips_through_convert, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_restart_keeps_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_acknowledged_write_survives_kill_9, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dhcp_service_concurrent_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_dhcp_service_requires_the_bearer_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_frepd_unopenable_db_is_a_clear_error, setup, teardown),
	};
	return cmocka_run_group_tests_name("dhcp_service", tests, NULL, NULL);
}
