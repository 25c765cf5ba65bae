/*
 * kea_ha_test (issue 19): a failover relationship rendered as Kea's HA hook
 * on both servers, mirrored. Each rendering is checked by `kea-dhcp4 -t`
 * and, since -t does not look inside the HA hook's parameters, loaded by a
 * real kea-dhcp4 pair on loopback (no interface, no root): the two Keas,
 * configured only by frep's rendering, must reach their HA operating state
 * (hot-standby / load-balancing), each in the role frep gave it. Also the
 * warnings for what Kea 2.2 cannot express, the timers with auto state
 * transition off, the merge with the base's hooks, and the HA URL checks. Without kea-dhcp4:
 * FREP-SKIP(kea), 77.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "kea_ha.h"
#include "kea_push.h"
#include "kea_render.h"
#include "test/engine_testutil.h"

#define S1     IP4(10, 1, 0, 0)
#define MASK24 IP4(255, 255, 255, 0)

static int skips;

static bool
have_kea(void)
{
	return system("command -v kea-dhcp4 >/dev/null 2>&1") == 0;
}

static void
need_kea(void)
{
	if (!have_kea()) {
		printf(
		    "FREP-SKIP(kea): kea-dhcp4 is not installed: Kea's HA hook is not checked\n");
		fflush(stdout);
		skips++;
		skip();
	}
}

/* Two HA ports on loopback for this run (another test run may use others).
 * Not port 0: both Keas need each other's HA URL before either starts
 * (docs/TESTS.md, "Ports": the one exception); below the ephemeral range
 * (32768-60999), where an outgoing connection may hold one. */
static unsigned
port_base(void)
{
	return 20000u + (unsigned) (getpid() % 3000) * 2u;
}

static bool
has_warning(const kea_render_result *r, const char *needle)
{
	for (size_t i = 0; i < r->n_warnings; i++) {
		if (strstr(r->warnings[i], needle) != NULL) {
			return true;
		}
	}
	return false;
}

static void
print_warnings(const kea_render_result *r)
{
	for (size_t i = 0; i < r->n_warnings; i++) {
		printf("  warning: %s\n", r->warnings[i]);
	}
}

/* One side of a pair: its store holding a scope and the relationship as
 * this side sees it. */
static testdb *
side(const char *name, engine_failover_mode mode, engine_server_role role, uint32_t percent,
    const char *my_url, const char *their_url, uint32_t switch_s)
{
	testdb     *t = testdb_open();
	frep_status st;
	uint32_t    scopes[] = {S1};

	engine_scope s = {.scope_id = S1,
	    .subnet_mask            = MASK24,
	    .name                   = "Office",
	    .start_range            = IP4(10, 1, 0, 10),
	    .end_range              = IP4(10, 1, 0, 200)};
	CHECK_OK(engine_scope_add(t->e, &s, NULL, &st), st);
	engine_failover rel = {.name = (char *) name,
	    .partner_server          = "tcp://127.0.0.1:1",
	    .mode                    = mode,
	    .server_role             = role,
	    .load_balance_percent    = percent,
	    .auto_state_transition   = true,
	    .state_switch_interval_s = switch_s,
	    .shared_secret           = "s3cret",
	    .scope_ids               = scopes,
	    .n_scope_ids             = 1,
	    .kea_ha_url              = (char *) my_url,
	    .partner_kea_ha_url      = (char *) their_url};
	CHECK_OK(engine_failover_add(t->e, &rel, NULL, &st), st);
	return t;
}

static json_t *
ha_block(const kea_render_result *r)
{
	json_t *hooks = json_object_get(r->dhcp4, "hooks-libraries");
	assert_int_equal(json_array_size(hooks), 2);
	const char *lease_cmds =
	    json_string_value(json_object_get(json_array_get(hooks, 0), "library"));
	const char *ha = json_string_value(json_object_get(json_array_get(hooks, 1), "library"));
	assert_non_null(strstr(lease_cmds, "/libdhcp_lease_cmds.so"));
	assert_non_null(strstr(ha, "/libdhcp_ha.so"));
	json_t *b =
	    json_array_get(json_object_get(json_object_get(json_array_get(hooks, 1), "parameters"),
			       "high-availability"),
		0);
	assert_non_null(b);
	return b;
}

static const char *
peer_role(json_t *block, const char *name)
{
	size_t  i;
	json_t *p;
	json_array_foreach(json_object_get(block, "peers"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) {
			return json_string_value(json_object_get(p, "role"));
		}
	}
	fail_msg("no peer named %s", name);
	return NULL;
}

/* The whole configuration for one side: a base (loopback only, a control
 * socket, leases in memory) merged with the rendering. */
static json_t *
merged(testdb *t, const kea_render_result *r, const char *sock)
{
	json_t *base = json_pack("{s:{s:{s:[]}, s:{s:s, s:s}, s:{s:s, s:b}, s:[{s:s, s:s, "
				 "s:[{s:s}]}]}}",
	    "Dhcp4", "interfaces-config", "interfaces", "control-socket", "socket-type", "unix",
	    "socket-name", sock, "lease-database", "type", "memfile", "persist", 0, "loggers",
	    "name", "kea-dhcp4", "severity", "INFO", "output_options", "output", "stdout");
	assert_non_null(base);
	(void) t;
	json_t *all = kea_render_merge(base, r->dhcp4);
	assert_non_null(all);
	json_decref(base);
	return all;
}

static void
write_json(const char *path, const json_t *j)
{
	char *text = kea_render_dump(j, 1);
	assert_non_null(text);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(text);
}

/* kea-dhcp4 -t on the whole configuration. */
static void
kea_test_file(const char *dir, const char *path)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	    "KEA_PIDFILE_DIR=%s KEA_LOCKFILE_DIR=%s kea-dhcp4 -t %s >%s/kea-t.log 2>&1", dir, dir,
	    path, dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "tail -n 5 %s/kea-t.log >&2", dir);
		(void) system(cmd);
		fail_msg("kea-dhcp4 -t refused %s", path);
	}
}

/* Starts kea-dhcp4 -c path (stdout and stderr to path.log); waits for its
 * control socket. */
static pid_t
kea_start(const char *dir, const char *path, const char *sock)
{
	char log[300];
	snprintf(log, sizeof(log), "%s.log", path);
	fflush(stdout); /* else the child's freopen writes it out again */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("KEA_PIDFILE_DIR", dir, 1);
		setenv("KEA_LOCKFILE_DIR", dir, 1);
		if (freopen(log, "w", stdout) == NULL || freopen(log, "a", stderr) == NULL) {
			_exit(127);
		}
		execlp("kea-dhcp4", "kea-dhcp4", "-c", path, (char *) NULL);
		_exit(127);
	}
	struct stat sb;
	for (int i = 0; i < 200 && stat(sock, &sb) != 0; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			char cmd[400];
			snprintf(cmd, sizeof(cmd), "tail -n 8 %s >&2", log);
			(void) system(cmd);
			fail_msg("kea-dhcp4 -c %s exited (HA configuration refused?)", path);
		}
		usleep(50000);
	}
	assert_int_equal(stat(sock, &sb), 0);
	return pid;
}

static void
kea_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* Waits until both Keas report want as their HA state (status-get); a
 * bound of 60 s only so that a broken pair fails instead of hanging. */
static void
wait_ha_state(const char *sock_a, const char *sock_b, const char *want)
{
	char        a[64] = "", b[64] = "", pa[64], pb[64];
	frep_status st;
	for (int i = 0; i < 600; i++) {
		if (kea_push_ha_status(sock_a, 5000, a, pa, sizeof(a), &st) == FREP_OK &&
		    kea_push_ha_status(sock_b, 5000, b, pb, sizeof(b), &st) == FREP_OK &&
		    strcmp(a, want) == 0 && strcmp(b, want) == 0) {
			return;
		}
		usleep(100000);
	}
	fail_msg("Kea HA states %s / %s, never both %s", a, b, want);
}

/* Renders both sides, checks the mirror, has each accepted by kea-dhcp4 -t,
 * then runs both Keas and waits for their operating state. */
static void
run_pair(testdb *ta, testdb *tb, const char *name_a, const char *name_b, const char *role_a,
    const char *role_b, const char *mode, const char *operating)
{
	kea_render_result ra, rb;
	frep_status       st;
	char              sa[200], sb[200], pa[200], pb[200];

	CHECK_OK(kea_render(ta->e, &ra, &st), st);
	CHECK_OK(kea_render(tb->e, &rb, &st), st);
	print_warnings(&ra);
	json_t *ba = ha_block(&ra), *bb = ha_block(&rb);
	assert_string_equal(json_string_value(json_object_get(ba, "this-server-name")), name_a);
	assert_string_equal(json_string_value(json_object_get(bb, "this-server-name")), name_b);
	assert_string_equal(json_string_value(json_object_get(ba, "mode")), mode);
	assert_string_equal(json_string_value(json_object_get(bb, "mode")), mode);
	/* Mirrored: the same two peers, roles and URLs on both sides. */
	assert_true(json_equal(json_object_get(ba, "peers"), json_object_get(bb, "peers")));
	assert_string_equal(peer_role(ba, name_a), role_a);
	assert_string_equal(peer_role(ba, name_b), role_b);

	snprintf(sa, sizeof(sa), "%s/kea-a.sock", ta->dir);
	snprintf(sb, sizeof(sb), "%s/kea-b.sock", tb->dir);
	snprintf(pa, sizeof(pa), "%s/kea-a.json", ta->dir);
	snprintf(pb, sizeof(pb), "%s/kea-b.json", tb->dir);
	json_t *ca = merged(ta, &ra, sa), *cb = merged(tb, &rb, sb);
	/* HA's own listener needs Kea's multi-threading: the merge enables it. */
	assert_true(json_is_true(
	    json_object_get(json_object_get(json_object_get(ca, "Dhcp4"), "multi-threading"),
		"enable-multi-threading")));
	write_json(pa, ca);
	write_json(pb, cb);
	kea_test_file(ta->dir, pa);
	kea_test_file(tb->dir, pb);
	pid_t ka = kea_start(ta->dir, pa, sa);
	pid_t kb = kea_start(tb->dir, pb, sb);
	char  la[64], pla[64];
	CHECK_OK(kea_push_ha_status(sa, 5000, la, pla, sizeof(la), &st), st);
	wait_ha_state(sa, sb, operating);
	kea_stop(ka);
	kea_stop(kb);
	json_decref(ca);
	json_decref(cb);
	kea_render_result_fini(&ra);
	kea_render_result_fini(&rb);
}

static void
test_kea_ha_hot_standby_pair_reaches_hot_standby(void **state)
{
	(void) state;
	need_kea();
	char     ua[64], ub[64], na[32], nb[32];
	unsigned port = port_base();
	snprintf(ua, sizeof(ua), "http://127.0.0.1:%u/", port);
	snprintf(ub, sizeof(ub), "http://127.0.0.1:%u/", port + 1);
	snprintf(na, sizeof(na), "127.0.0.1:%u", port);
	snprintf(nb, sizeof(nb), "127.0.0.1:%u", port + 1);
	/* A is the standby here: roles come from frep's role, not the URLs. */
	testdb *ta = side(
	    "pair", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_STANDBY, 50, ua, ub, 2);
	testdb *tb = side(
	    "pair", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_ACTIVE, 50, ub, ua, 2);
	kea_render_result r;
	frep_status       st;
	CHECK_OK(kea_render(ta->e, &r, &st), st);
	json_t *b = ha_block(&r);
	/* State switch interval 2 s, auto state transition: partner-down after
	 * 2 s without the partner, on the timer alone. */
	assert_int_equal(json_integer_value(json_object_get(b, "max-response-delay")), 2000);
	assert_int_equal(json_integer_value(json_object_get(b, "heartbeat-delay")), 1000);
	assert_int_equal(json_integer_value(json_object_get(b, "max-unacked-clients")), 0);
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(b, "peers"), 0), "auto-failover")));
	assert_true(has_warning(&r, "max_client_lead_time_s 3600 not rendered"));
	assert_true(has_warning(&r, "reserve_percent 5 not rendered"));
	kea_render_result_fini(&r);
	run_pair(ta, tb, na, nb, "standby", "primary", "hot-standby", "hot-standby");
	testdb_close(ta);
	testdb_close(tb);
}

static void
test_kea_ha_load_balancing_pair_reaches_load_balancing(void **state)
{
	(void) state;
	need_kea();
	char     ua[64], ub[64], na[32], nb[32];
	unsigned port = port_base();
	snprintf(ua, sizeof(ua), "http://127.0.0.1:%u/", port);
	snprintf(ub, sizeof(ub), "http://127.0.0.1:%u/", port + 1);
	snprintf(na, sizeof(na), "127.0.0.1:%u", port);
	snprintf(nb, sizeof(nb), "127.0.0.1:%u", port + 1);
	/* Load balance 70 / 30 (the partner's complement): rendered 50/50,
	 * with a warning on each side. Both servers are ACTIVE; the URL that
	 * sorts first is the primary on both sides. No switch interval: Kea's
	 * own timers. */
	testdb *ta =
	    side("lb", ENGINE_FAILOVER_MODE_LOAD_BALANCE, ENGINE_SERVER_ROLE_ACTIVE, 70, ua, ub, 0);
	testdb *tb =
	    side("lb", ENGINE_FAILOVER_MODE_LOAD_BALANCE, ENGINE_SERVER_ROLE_ACTIVE, 30, ub, ua, 0);
	kea_render_result r;
	frep_status       st;
	CHECK_OK(kea_render(tb->e, &r, &st), st);
	assert_true(has_warning(&r, "load_balance_percent 30 rendered as 50"));
	json_t *b = ha_block(&r);
	assert_null(json_object_get(b, "max-response-delay"));
	assert_false(has_warning(&r, "reserve_percent"));
	kea_render_result_fini(&r);
	run_pair(ta, tb, na, nb, "primary", "secondary", "load-balancing", "load-balancing");
	testdb_close(ta);
	testdb_close(tb);
}

/* Auto state transition off, a state switch interval set: on Windows the
 * interval only times the automatic move to PARTNER-DOWN, so with the move
 * off it has no counterpart: Kea's own timers (no max-response-delay,
 * heartbeat-delay or max-unacked-clients rendered) and auto-failover false
 * on both peers, so Kea never moves to partner-down by itself. No warning:
 * nothing the relationship asks for is dropped. */
static void
test_kea_ha_no_auto_state_transition_keeps_kea_timers(void **state)
{
	(void) state;
	frep_status st;
	testdb *t = side("pair", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_ACTIVE, 50,
	    "http://127.0.0.1:8001/", "http://127.0.0.1:8002/", 5);
	engine_failover   m      = {.name = "pair", .auto_state_transition = false};
	const char *const mask[] = {"auto_state_transition"};
	CHECK_OK(engine_failover_set(t->e, &m, mask, 1, NULL, &st), st);
	engine_failover rel;
	CHECK_OK(engine_failover_get(t->e, "pair", &rel, &st), st);
	assert_false(rel.auto_state_transition);
	assert_int_equal(rel.state_switch_interval_s, 5);
	engine_failover_fini(&rel);

	kea_render_result r;
	CHECK_OK(kea_render(t->e, &r, &st), st);
	print_warnings(&r);
	json_t *b = ha_block(&r);
	assert_null(json_object_get(b, "max-response-delay"));
	assert_null(json_object_get(b, "heartbeat-delay"));
	assert_null(json_object_get(b, "max-unacked-clients"));
	json_t *peers = json_object_get(b, "peers");
	assert_int_equal(json_array_size(peers), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_true(
		    json_is_false(json_object_get(json_array_get(peers, i), "auto-failover")));
	}
	assert_false(has_warning(&r, "state_switch_interval"));
	kea_render_result_fini(&r);
	testdb_close(t);
}

/* A state switch interval longer than Kea 2.2's max-response-delay can
 * hold (a 16-bit count of milliseconds): rendered as 65535 ms with a
 * warning, and a real Kea loads the hook. Regression: frep rendered
 * 3600000 ms for one hour, Kea's HA hook refused to load, and with it every
 * config-set: no change reached Kea while the relationship existed. */
static void
test_kea_ha_long_switch_interval_capped(void **state)
{
	(void) state;
	char     ua[64], ub[64], sock[200], path[200];
	unsigned port = port_base();
	snprintf(ua, sizeof(ua), "http://127.0.0.1:%u/", port);
	snprintf(ub, sizeof(ub), "http://127.0.0.1:%u/", port + 1);
	testdb *t = side(
	    "pair", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_ACTIVE, 50, ua, ub, 3600);
	kea_render_result r;
	frep_status       st;
	CHECK_OK(kea_render(t->e, &r, &st), st);
	print_warnings(&r);
	json_t *b = ha_block(&r);
	assert_int_equal(json_integer_value(json_object_get(b, "max-response-delay")), 65535);
	assert_int_equal(json_integer_value(json_object_get(b, "heartbeat-delay")), 10000);
	assert_int_equal(json_integer_value(json_object_get(b, "max-unacked-clients")), 0);
	assert_true(has_warning(&r, "failover 'pair': state_switch_interval_s 3600 rendered as "
				    "max-response-delay 65535 ms"));

	need_kea();
	snprintf(sock, sizeof(sock), "%s/kea.sock", t->dir);
	snprintf(path, sizeof(path), "%s/kea.json", t->dir);
	json_t *all = merged(t, &r, sock);
	write_json(path, all);
	/* kea_start fails the test if Kea exits: the hook did not load. */
	pid_t k = kea_start(t->dir, path, sock);
	char  here[64], there[64];
	CHECK_OK(kea_push_ha_status(sock, 5000, here, there, sizeof(here), &st), st);
	kea_stop(k);
	json_decref(all);
	kea_render_result_fini(&r);
	testdb_close(t);
}

/* What Kea 2.2 cannot express: a second relationship, a missing URL, the
 * same URL on both sides. Never a silent drop. */
static void
test_kea_ha_warnings(void **state)
{
	(void) state;
	frep_status st;
	testdb *t = side("b-second", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_ACTIVE,
	    50, "http://127.0.0.1:8001/", "http://127.0.0.1:8002/", 0);
	engine_scope s2 = {.scope_id = IP4(10, 2, 0, 0),
	    .subnet_mask             = MASK24,
	    .name                    = "Other",
	    .start_range             = IP4(10, 2, 0, 10),
	    .end_range               = IP4(10, 2, 0, 200)};
	CHECK_OK(engine_scope_add(t->e, &s2, NULL, &st), st);
	uint32_t        ids[] = {IP4(10, 2, 0, 0)};
	engine_failover rel2  = {.name = "a-first",
	     .partner_server           = "tcp://127.0.0.1:2",
	     .mode                     = ENGINE_FAILOVER_MODE_LOAD_BALANCE,
	     .server_role              = ENGINE_SERVER_ROLE_ACTIVE,
	     .shared_secret            = "s3cret",
	     .scope_ids                = ids,
	     .n_scope_ids              = 1,
	     .kea_ha_url               = "http://127.0.0.1:8003/",
	     .partner_kea_ha_url       = "http://127.0.0.1:8004/"};
	CHECK_OK(engine_failover_add(t->e, &rel2, NULL, &st), st);

	kea_render_result r;
	CHECK_OK(kea_render(t->e, &r, &st), st);
	print_warnings(&r);
	/* The first by name is rendered, the other is a warning naming both. */
	json_t *b = ha_block(&r);
	assert_string_equal(
	    json_string_value(json_object_get(b, "this-server-name")), "127.0.0.1:8003");
	assert_true(has_warning(&r, "failover 'b-second': not rendered in Kea's HA hook: Kea 2.2 "
				    "runs one HA relationship per server"));
	assert_true(has_warning(&r, "'a-first' is rendered"));
	assert_true(has_warning(&r, "failover 'a-first': 1 scope(s) outside it"));
	kea_render_result_fini(&r);

	/* The rendered one loses its partner's URL: the other one is rendered. */
	engine_failover   m      = {.name = "a-first", .partner_kea_ha_url = ""};
	const char *const mask[] = {"partner_kea_ha_url"};
	CHECK_OK(engine_failover_set(t->e, &m, mask, 1, NULL, &st), st);
	CHECK_OK(kea_render(t->e, &r, &st), st);
	assert_true(has_warning(&r, "failover 'a-first': Kea HA hook not rendered: the partner's "
				    "Kea HA URL is unknown"));
	b = ha_block(&r);
	assert_string_equal(
	    json_string_value(json_object_get(b, "this-server-name")), "127.0.0.1:8001");
	kea_render_result_fini(&r);

	/* No URL here, and the same URL on both sides: no HA at all. */
	const char *const mask2[] = {"kea_ha_url"};
	engine_failover   m2      = {.name = "a-first", .kea_ha_url = ""};
	CHECK_OK(engine_failover_set(t->e, &m2, mask2, 1, NULL, &st), st);
	engine_failover m3 = {.name = "b-second", .kea_ha_url = "http://127.0.0.1:8002/"};
	CHECK_OK(engine_failover_set(t->e, &m3, mask2, 1, NULL, &st), st);
	CHECK_OK(kea_render(t->e, &r, &st), st);
	assert_null(json_object_get(r.dhcp4, "hooks-libraries"));
	assert_true(has_warning(&r, "failover 'a-first': Kea HA hook not rendered: this server has "
				    "no Kea HA URL (start frepd with --kea-ha-url"));
	assert_true(has_warning(&r, "both servers offer the same Kea HA URL"));
	kea_render_result_fini(&r);
	testdb_close(t);
}

/* The base's other hooks stay; a hand-written HA or lease_cmds entry is
 * replaced by frep's; without a rendered HA the base's hooks are kept as
 * they are. */
static void
test_kea_ha_merge_keeps_base_hooks(void **state)
{
	(void) state;
	frep_status st;
	testdb *t    = side("pair", ENGINE_FAILOVER_MODE_HOT_STANDBY, ENGINE_SERVER_ROLE_ACTIVE, 50,
	       "http://127.0.0.1:8001/", "http://127.0.0.1:8002/", 0);
	json_t *base = json_pack("{s:{s:[{s:s}, {s:s, s:{}}, {s:s}], s:{s:b, s:i}}}", "Dhcp4",
	    "hooks-libraries", "library", "/opt/kea/libdhcp_stat_cmds.so", "library",
	    "/opt/kea/libdhcp_ha.so", "parameters", "library", "/opt/kea/libdhcp_lease_cmds.so",
	    "multi-threading", "enable-multi-threading", 0, "thread-pool-size", 4);
	kea_render_result r;
	CHECK_OK(kea_render(t->e, &r, &st), st);
	json_t *all   = kea_render_merge(base, r.dhcp4);
	json_t *d     = json_object_get(all, "Dhcp4");
	json_t *hooks = json_object_get(d, "hooks-libraries");
	assert_int_equal(json_array_size(hooks), 3);
	assert_non_null(
	    strstr(json_string_value(json_object_get(json_array_get(hooks, 0), "library")),
		kea_ha_hooks_dir));
	assert_string_equal(json_string_value(json_object_get(json_array_get(hooks, 2), "library")),
	    "/opt/kea/libdhcp_stat_cmds.so");
	json_t *mt = json_object_get(d, "multi-threading");
	assert_true(json_is_true(json_object_get(mt, "enable-multi-threading")));
	assert_int_equal(json_integer_value(json_object_get(mt, "thread-pool-size")), 4);
	json_decref(all);
	kea_render_result_fini(&r);

	/* No relationship: the base's hooks, as written. */
	CHECK_OK(engine_failover_remove(t->e, "pair", &st), st);
	CHECK_OK(kea_render(t->e, &r, &st), st);
	all = kea_render_merge(base, r.dhcp4);
	assert_true(json_equal(json_object_get(json_object_get(all, "Dhcp4"), "hooks-libraries"),
	    json_object_get(json_object_get(base, "Dhcp4"), "hooks-libraries")));
	assert_false(json_is_true(
	    json_object_get(json_object_get(json_object_get(all, "Dhcp4"), "multi-threading"),
		"enable-multi-threading")));
	json_decref(all);
	json_decref(base);
	kea_render_result_fini(&r);
	testdb_close(t);
}

/* Every malformed HA URL is INVALID_ARGUMENT naming the field and value,
 * in the check frepd's --kea-ha-url uses and in the store. */
static void
test_kea_ha_url_checked(void **state)
{
	(void) state;
	static const char *const bad[] = {"https://127.0.0.1:8001/", "127.0.0.1:8001",
	    "http://kea.example:8001/", "http://127.0.0.1/", "http://127.0.0.1:0/",
	    "http://127.0.0.1:65536/", "http://127.0.0.1:8001/ha", "http://127.0.0.1:80x/",
	    "http://[::1]:8001/", NULL};
	frep_status              st;
	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(
		    engine_ha_url_check("--kea-ha-url", bad[i], &st), FREP_INVALID_ARGUMENT);
		assert_non_null(strstr(st.message, "--kea-ha-url"));
		assert_non_null(strstr(st.message, bad[i]));
	}
	assert_int_equal(
	    engine_ha_url_check("--kea-ha-url", "http://192.0.2.1:8001/", &st), FREP_OK);
	assert_int_equal(
	    engine_ha_url_check("--kea-ha-url", "http://192.0.2.1:8001", &st), FREP_OK);
	assert_int_equal(engine_ha_url_check("--kea-ha-url", "", &st), FREP_OK);

	testdb         *t   = testdb_open();
	engine_failover rel = {.name = "pair",
	    .partner_server          = "tcp://127.0.0.1:1",
	    .mode                    = ENGINE_FAILOVER_MODE_HOT_STANDBY,
	    .server_role             = ENGINE_SERVER_ROLE_ACTIVE,
	    .shared_secret           = "s3cret",
	    .partner_kea_ha_url      = "http://kea-b:8001/"};
	assert_int_equal(engine_failover_add(t->e, &rel, NULL, &st), FREP_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "partner_kea_ha_url"));
	assert_non_null(strstr(st.message, "http://kea-b:8001/"));
	engine_failover *list = NULL;
	size_t           n    = 1;
	CHECK_OK(engine_failover_list(t->e, &list, &n, &st), st);
	assert_int_equal(n, 0);
	engine_failovers_free(list, n);
	testdb_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kea_ha_url_checked),
	    cmocka_unit_test(test_kea_ha_warnings),
	    cmocka_unit_test(test_kea_ha_no_auto_state_transition_keeps_kea_timers),
	    cmocka_unit_test(test_kea_ha_long_switch_interval_capped),
	    cmocka_unit_test(test_kea_ha_merge_keeps_base_hooks),
	    cmocka_unit_test(test_kea_ha_hot_standby_pair_reaches_hot_standby),
	    cmocka_unit_test(test_kea_ha_load_balancing_pair_reaches_load_balancing),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (failed == 0 && skips > 0) {
		return 77;
	}
	return failed;
}
