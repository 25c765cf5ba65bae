#define _GNU_SOURCE /* vasprintf */
#include "kea_ha.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef FREP_KEA_HOOKS_DIR
#define FREP_KEA_HOOKS_DIR "/usr/lib/x86_64-linux-gnu/kea/hooks"
#endif

const char kea_ha_hooks_dir[] = FREP_KEA_HOOKS_DIR;

#define HA_LIB         "libdhcp_ha.so"
#define LEASE_CMDS_LIB "libdhcp_lease_cmds.so"

/* Kea 2.2's heartbeat default (ms); frep never renders a longer one. */
#define KEA_HEARTBEAT_DEFAULT_MS 10000u
/* Kea 2.2 reads max-response-delay as a 16-bit count of milliseconds: a
 * larger value makes the HA hook fail to load, and with it the whole
 * config-set ("'max-response-delay' must not be greater than 65535"). */
#define KEA_MAX_RESPONSE_DELAY_MAX_MS 65535u

static void ha_warn(kea_render_result *out, bool *oom, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ha_warn(kea_render_result *out, bool *oom, const char *fmt, ...)
{
	va_list ap;
	if (out == NULL) {
		return;
	}
	va_start(ap, fmt);
	if (!kea_result_vwarn(out, fmt, ap)) {
		*oom = true;
	}
	va_end(ap);
}

/* A peer's name: its HA URL without "http://" and the final '/'
 * (IPV4:PORT), so both servers derive the same two names. */
static void
peer_name(const char *url, char *buf, size_t cap)
{
	const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
	snprintf(buf, cap, "%s", p);
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '/') {
		buf[n - 1] = '\0';
	}
}

static bool
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

json_t *
kea_ha_block(const engine_failover *rel, kea_render_result *out, bool *oom)
{
	char        here[300], there[300];
	const char *name = rel->name;
	bool        hot  = rel->mode == ENGINE_FAILOVER_MODE_HOT_STANDBY;

	if (empty(rel->kea_ha_url)) {
		ha_warn(out, oom,
		    "failover '%s': Kea HA hook not rendered: this server has no Kea HA URL "
		    "(start frepd with --kea-ha-url; a later SetFailover sends it to the partner)",
		    name);
		return NULL;
	}
	if (empty(rel->partner_kea_ha_url)) {
		ha_warn(out, oom,
		    "failover '%s': Kea HA hook not rendered: the partner's Kea HA URL is unknown "
		    "(its frepd has no --kea-ha-url or predates it; a SetFailover asks again)",
		    name);
		return NULL;
	}
	peer_name(rel->kea_ha_url, here, sizeof(here));
	peer_name(rel->partner_kea_ha_url, there, sizeof(there));
	if (strcmp(here, there) == 0) {
		ha_warn(out, oom,
		    "failover '%s': Kea HA hook not rendered: both servers offer the same Kea HA "
		    "URL %s",
		    name, rel->kea_ha_url);
		return NULL;
	}

	const char *my_role, *their_role;
	if (hot) {
		bool standby = rel->server_role == ENGINE_SERVER_ROLE_STANDBY;
		my_role      = standby ? "standby" : "primary";
		their_role   = standby ? "primary" : "standby";
		if (rel->reserve_percent != 0) {
			ha_warn(out, oom,
			    "failover '%s': reserve_percent %u not rendered: Kea's standby keeps "
			    "no reserve (it serves no client until partner-down, then all of them)",
			    name, rel->reserve_percent);
		}
	} else {
		bool first = strcmp(here, there) < 0;
		my_role    = first ? "primary" : "secondary";
		their_role = first ? "secondary" : "primary";
		if (rel->load_balance_percent != 50) {
			ha_warn(out, oom,
			    "failover '%s': load_balance_percent %u rendered as 50: Kea's load "
			    "balancing splits clients 50/50 by a hash of their identifier",
			    name, rel->load_balance_percent);
		}
	}
	if (rel->max_client_lead_time_s != 0) {
		ha_warn(out, oom,
		    "failover '%s': max_client_lead_time_s %u not rendered: Kea's HA hook has no "
		    "MCLT (a lease reaches the partner before, or with, the client's answer)",
		    name, rel->max_client_lead_time_s);
	}

	json_t *block = json_pack("{s:s, s:s, s:{s:b, s:b}}", "this-server-name", here, "mode",
	    hot ? "hot-standby" : "load-balancing", "multi-threading", "enable-multi-threading", 1,
	    "http-dedicated-listener", 1);
	json_t *me = json_pack("{s:s, s:s, s:s, s:b}", "name", here, "url", rel->kea_ha_url, "role",
	    my_role, "auto-failover", rel->auto_state_transition);
	json_t *them =
	    json_pack("{s:s, s:s, s:s, s:b}", "name", there, "url", rel->partner_kea_ha_url, "role",
		their_role, "auto-failover", rel->auto_state_transition);
	bool    me_first = strcmp(my_role, "primary") == 0;
	json_t *peers    = me != NULL && them != NULL
			       ? json_pack("[O, O]", me_first ? me : them, me_first ? them : me)
			       : NULL;
	json_decref(me);
	json_decref(them);
	if (block == NULL || peers == NULL || json_object_set_new(block, "peers", peers) != 0) {
		json_decref(block);
		*oom = true;
		return NULL;
	}
	if (rel->auto_state_transition && rel->state_switch_interval_s > 0) {
		/* Windows moves to PARTNER-DOWN when the state switch interval
		 * has passed without the partner; Kea, when max-response-delay
		 * has passed without its heartbeat and (max-unacked-clients 0)
		 * without waiting for clients the partner failed to answer. */
		uint64_t delay_ms = (uint64_t) rel->state_switch_interval_s * 1000u;
		if (delay_ms > KEA_MAX_RESPONSE_DELAY_MAX_MS) {
			ha_warn(out, oom,
			    "failover '%s': state_switch_interval_s %u rendered as "
			    "max-response-delay %u ms: Kea 2.2 takes no longer one (its HA "
			    "hook would not load), so Kea moves to partner-down about %u s "
			    "after losing the partner, sooner than the relationship says",
			    name, rel->state_switch_interval_s, KEA_MAX_RESPONSE_DELAY_MAX_MS,
			    KEA_MAX_RESPONSE_DELAY_MAX_MS / 1000u);
			delay_ms = KEA_MAX_RESPONSE_DELAY_MAX_MS;
		}
		uint64_t beat_ms = delay_ms / 2;
		if (beat_ms > KEA_HEARTBEAT_DEFAULT_MS) {
			beat_ms = KEA_HEARTBEAT_DEFAULT_MS;
		}
		if (json_object_set_new(
			block, "max-response-delay", json_integer((json_int_t) delay_ms)) != 0 ||
		    json_object_set_new(
			block, "heartbeat-delay", json_integer((json_int_t) beat_ms)) != 0 ||
		    json_object_set_new(block, "max-unacked-clients", json_integer(0)) != 0) {
			json_decref(block);
			*oom = true;
			return NULL;
		}
	}
	return block;
}

frep_code
kea_ha_render(engine *e, kea_render_result *out, frep_status *st)
{
	return kea_ha_render_named(e, out, NULL, 0, st);
}

frep_code
kea_ha_render_named(
    engine *e, kea_render_result *out, char *rendered_name, size_t cap, frep_status *st)
{
	engine_failover *rels   = NULL;
	size_t           n      = 0;
	json_t          *block  = NULL;
	const char      *chosen = NULL;
	bool             oom    = false;
	frep_code        rc;

	if ((rc = engine_failover_list(e, &rels, &n, st)) != FREP_OK) {
		return rc;
	}
	/* Kea 2.2 runs one HA relationship per server: the first (by name)
	 * that can be rendered is; each other one is a warning. */
	for (size_t i = 0; i < n && !oom; i++) {
		if (block != NULL) {
			ha_warn(out, &oom,
			    "failover '%s': not rendered in Kea's HA hook: Kea 2.2 runs one HA "
			    "relationship per server (hub and spoke came in a later Kea); '%s' is "
			    "rendered (the first by name)",
			    rels[i].name, chosen);
			continue;
		}
		if ((block = kea_ha_block(&rels[i], out, &oom)) != NULL) {
			chosen = rels[i].name;
		}
	}
	if (block != NULL && !oom) {
		/* Kea's HA covers the whole server, frep's relationship its scopes. */
		engine_scope *scopes   = NULL;
		size_t        n_scopes = 0, outside = 0;
		if ((rc = engine_scope_list(e, &scopes, &n_scopes, st)) != FREP_OK) {
			json_decref(block);
			engine_failovers_free(rels, n);
			return rc;
		}
		for (size_t i = 0; i < n_scopes; i++) {
			bool in = false;
			for (size_t k = 0; k < n && !in; k++) {
				if (strcmp(rels[k].name, chosen) != 0) {
					continue;
				}
				for (size_t j = 0; j < rels[k].n_scope_ids && !in; j++) {
					in = rels[k].scope_ids[j] == scopes[i].scope_id;
				}
			}
			outside += in ? 0 : 1;
		}
		engine_scopes_free(scopes, n_scopes);
		if (outside > 0) {
			ha_warn(out, &oom,
			    "failover '%s': %zu scope(s) outside it are served under its Kea HA "
			    "relationship too (Kea's HA hook covers the whole server)",
			    chosen, outside);
		}
		char lease_cmds[512], ha[512];
		snprintf(lease_cmds, sizeof(lease_cmds), "%s/%s", kea_ha_hooks_dir, LEASE_CMDS_LIB);
		snprintf(ha, sizeof(ha), "%s/%s", kea_ha_hooks_dir, HA_LIB);
		json_t *hooks = json_pack("[{s:s}, {s:s, s:{s:[o]}}]", "library", lease_cmds,
		    "library", ha, "parameters", "high-availability", block);
		block         = NULL; /* the pack took it, even on failure */
		if (hooks == NULL ||
		    json_object_set_new(out->dhcp4, "hooks-libraries", hooks) != 0) {
			oom = true;
		}
	}
	if (rendered_name != NULL && cap > 0) {
		snprintf(rendered_name, cap, "%s", chosen != NULL && !oom ? chosen : "");
	}
	json_decref(block);
	engine_failovers_free(rels, n);
	if (oom) {
		return frep_status_set(
		    st, FREP_RESOURCE_EXHAUSTED, "out of memory rendering Kea's HA hook");
	}
	return FREP_OK;
}

/* The hook's library file name ("libdhcp_ha.so" for any directory). */
static const char *
lib_base(const json_t *hook)
{
	const char *lib = json_string_value(json_object_get(hook, "library"));
	if (lib == NULL) {
		return "";
	}
	const char *slash = strrchr(lib, '/');
	return slash != NULL ? slash + 1 : lib;
}

int
kea_ha_merge(json_t *merged, const json_t *base_dhcp4, const json_t *rendered)
{
	const json_t *mine = json_object_get(rendered, "hooks-libraries");
	const json_t *base = json_object_get(base_dhcp4, "hooks-libraries");
	if (mine == NULL) {
		/* No HA rendered: the base's hooks, as they are. */
		if (base != NULL) {
			json_t *copy = json_deep_copy(base);
			return copy != NULL &&
				       json_object_set_new(merged, "hooks-libraries", copy) == 0
				   ? 0
				   : -1;
		}
		json_object_del(merged, "hooks-libraries");
		return 0;
	}
	json_t *all = json_deep_copy(mine);
	if (all == NULL) {
		return -1;
	}
	size_t  i;
	json_t *hook;
	json_array_foreach((json_t *) base, i, hook)
	{
		const char *b = lib_base(hook);
		if (strcmp(b, HA_LIB) == 0 || strcmp(b, LEASE_CMDS_LIB) == 0) {
			continue;
		}
		if (json_array_append_new(all, json_deep_copy(hook)) != 0) {
			json_decref(all);
			return -1;
		}
	}
	if (json_object_set_new(merged, "hooks-libraries", all) != 0) {
		return -1;
	}
	/* HA's own listener needs Kea's multi-threading: on, whatever the
	 * base says (a Kea that wrote its configuration back writes its
	 * default, off); the base's other multi-threading keys stay. */
	/* A copy: merged shares the base's values (kea_render_merge). */
	json_t *mt = json_object_get(merged, "multi-threading");
	mt         = json_is_object(mt) ? json_copy(mt) : json_object();
	if (mt == NULL || json_object_set_new(merged, "multi-threading", mt) != 0) {
		return -1;
	}
	if (json_object_set_new(mt, "enable-multi-threading", json_true()) != 0) {
		return -1;
	}
	return 0;
}

bool
kea_ha_needs_second_set(const json_t *base, const json_t *rendered)
{
	const json_t *mt = json_object_get(json_object_get(base, "Dhcp4"), "multi-threading");
	return json_object_get(rendered, "hooks-libraries") != NULL &&
	       !json_is_true(json_object_get(mt, "enable-multi-threading"));
}

/* --- the HA listener probe ------------------------------------------------ */

static long long
probe_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (ms, monotonic); true if ready. */
static bool
probe_wait(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - probe_now_ms();
		if (left <= 0) {
			return false;
		}
		struct pollfd p  = {.fd = fd, .events = events};
		int           rc = poll(&p, 1, (int) left);
		if (rc > 0) {
			return true;
		}
		if (rc == 0 || errno != EINTR) {
			return false;
		}
	}
}

/* True once buf[0..len) holds an HTTP answer's head and the whole body
 * its Content-Length announces. */
static bool
answer_complete(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (end == NULL) {
		return false;
	}
	size_t head = (size_t) (end - buf) + 4;
	for (const char *p = buf; p < end; p++) {
		if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
			/* Digits up to the line's end (spaces before them): a value
			 * that is not a number reads to the end instead. */
			const char *q = p + 15;
			size_t      n = 0, digits = 0;
			while (q < end && (*q == ' ' || *q == '\t')) {
				q++;
			}
			for (; q < end && *q >= '0' && *q <= '9' && digits < 9; q++, digits++) {
				n = n * 10 + (size_t) (*q - '0');
			}
			return digits > 0 && (q == end || *q == '\r') && len - head >= n;
		}
	}
	return false; /* no length: read to the end */
}

static frep_code probe_once(const char *url, unsigned timeout_ms, bool *refused, frep_status *st);

frep_code
kea_ha_listener_probe(const char *url, unsigned timeout_ms, frep_status *st)
{
	/* Kea re-creates its HA listener at each config-set: a connection
	 * refused right after a push is tried once more, 200 ms later. */
	bool      refused = false;
	frep_code rc      = probe_once(url, timeout_ms, &refused, st);
	if (rc == FREP_UNAVAILABLE && refused) {
		struct timespec ts = {.tv_nsec = 200 * 1000000L};
		nanosleep(&ts, NULL);
		rc = probe_once(url, timeout_ms, &refused, st);
	}
	return rc;
}

static frep_code
probe_once(const char *url, unsigned timeout_ms, bool *refused, frep_status *st)
{
	char               host[INET_ADDRSTRLEN] = "";
	uint32_t           addr                  = 0;
	uint16_t           port                  = 0;
	struct sockaddr_in sa                    = {.sin_family = AF_INET};
	if (engine_ha_url_parse("Kea HA URL", url, &addr, &port, st) != FREP_OK) {
		return st->code;
	}
	if (port == 0) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "Kea HA URL: none given");
	}
	sa.sin_addr.s_addr = htonl(addr);
	sa.sin_port        = htons(port);
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	long long deadline = probe_now_ms() + timeout_ms;
	int       fd       = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return frep_status_set(
		    st, FREP_UNAVAILABLE, "Kea's HA listener %s: socket: %s", url, strerror(errno));
	}
	frep_code rc  = FREP_OK;
	int       err = 0;
	socklen_t len = sizeof(err);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		err = errno;
	} else if (!probe_wait(fd, POLLOUT, deadline)) {
		rc = frep_status_set(st, FREP_UNAVAILABLE,
		    "Kea's HA listener %s: no connection within %u ms", url, timeout_ms);
		goto out;
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
		err = errno;
	}
	if (err != 0) {
		*refused = err == ECONNREFUSED;
		rc       = frep_status_set(st, FREP_UNAVAILABLE,
			  "Kea's HA listener %s: %s (nothing listens there: Kea could not bind the "
				"port, which another process may hold)",
			  url, strerror(err));
		goto out;
	}
	static const char body[] = "{\"command\": \"ha-heartbeat\", \"service\": [\"dhcp4\"]}";
	char              req[512];
	int               n = snprintf(req, sizeof(req),
			  "POST / HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
					"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			  host, (unsigned) port, sizeof(body) - 1, body);
	for (int off = 0; off < n;) {
		ssize_t w = send(fd, req + off, (size_t) (n - off), MSG_NOSIGNAL);
		if (w > 0) {
			off += (int) w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
			   probe_wait(fd, POLLOUT, deadline)) {
			continue;
		} else {
			rc = frep_status_set(st, FREP_UNAVAILABLE,
			    "Kea's HA listener %s: the request could not be sent (%s)", url,
			    w < 0 ? strerror(errno) : "connection closed");
			goto out;
		}
	}
	char   resp[16384];
	size_t got = 0;
	for (;;) {
		if (got == sizeof(resp) - 1) {
			break;
		}
		ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		if (r > 0) {
			got += (size_t) r;
			resp[got] = '\0';
			if (answer_complete(resp, got)) {
				break; /* Kea may keep the connection open */
			}
			continue;
		}
		if (r == 0) {
			break;
		}
		if ((errno == EAGAIN || errno == EINTR) && probe_wait(fd, POLLIN, deadline)) {
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			rc = frep_status_set(st, FREP_UNAVAILABLE,
			    "Kea's HA listener %s: no answer within %u ms (%zu bytes read): not "
			    "Kea's, or Kea is stuck",
			    url, timeout_ms, got);
			goto out;
		}
		break;
	}
	resp[got]            = '\0';
	const char *head_end = strstr(resp, "\r\n\r\n");
	json_t     *answer   = NULL;
	bool        is_200 =
	    strncmp(resp, "HTTP/1.1 200", 12) == 0 || strncmp(resp, "HTTP/1.0 200", 12) == 0;
	if (head_end != NULL && is_200) {
		answer = json_loads(head_end + 4, JSON_DISABLE_EOF_CHECK, NULL);
	}
	json_t *first = json_is_array(answer) ? json_array_get(answer, 0) : NULL;
	if (!json_is_integer(json_object_get(first, "result"))) {
		int line = (int) strcspn(resp, "\r\n");
		rc       = frep_status_set(st, FREP_UNAVAILABLE,
			  "Kea's HA listener %s: the answer is not Kea's (%zu bytes, \"%.*s\"): "
				"another process holds the port",
			  url, got, line < 60 ? line : 60, resp);
	}
	json_decref(answer);
out:
	close(fd);
	return rc;
}
