#define _GNU_SOURCE /* asprintf */
#include "kea_push.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "idle_trim.h"
#include "kea_ha.h"
#include "kea_render.h"
#include "log.h"
#include "sha256.h"

struct kea_push {
	engine         *e;
	char           *socket_path;
	char           *base_path;
	unsigned        debounce_ms, timeout_ms, retry_min_ms, retry_max_ms;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;    /* CLOCK_MONOTONIC */
	bool            dirty; /* a commit since the last render */
	bool            stop;
	kea_push_status status; /* under mu */
	/* The worker's alone: the scopes it rendered last (only a changed
	 * scope is rendered again) and the base file as last parsed, its
	 * owned keys removed, for the file's SHA-256 (re-read every push, parsed
	 * only when its bytes change). */
	kea_render_cache *cache;
	json_t           *base;
	char              base_sha[65];
};

static int64_t
now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec
mono_deadline(int64_t at_ms)
{
	struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000};
	return ts;
}

/* --- the control socket ------------------------------------------------- */

/* Sends the request text req (the command named command) and reads the
 * answer: kea_control_command once the request is text. Frees req. */
static frep_code
kea_control_send(const char *socket_path, const char *command, char *req, unsigned timeout_ms,
    json_t **answer, frep_status *st)
{
	struct sockaddr_un addr     = {.sun_family = AF_UNIX};
	int64_t            deadline = now_mono_ms() + (timeout_ms ? timeout_ms : 30000);
	char              *buf      = NULL;
	size_t             len = 0, cap = 0;
	int                fd = -1;
	frep_code          rc;

	*answer = NULL;
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		free(req);
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "Kea control socket path %s is longer than %zu bytes", socket_path,
		    sizeof(addr.sun_path) - 1);
	}
	strcpy(addr.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0) {
		rc = frep_status_set(st, FREP_UNAVAILABLE, "Kea control socket %s: connect: %s",
		    socket_path, strerror(errno));
		goto out;
	}
	for (size_t off = 0, n = strlen(req); off < n;) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			rc = frep_status_set(st, FREP_UNAVAILABLE,
			    "Kea control socket %s: send '%s': %s", socket_path, command,
			    strerror(errno));
			goto out;
		}
		off += (size_t) w;
	}
	/* Kea answers with one JSON text and closes; read until it parses
	 * whole or the peer closes. */
	for (;;) {
		int64_t left = deadline - now_mono_ms();
		if (left <= 0) {
			rc = frep_status_set(st, FREP_DEADLINE_EXCEEDED,
			    "Kea control socket %s: no complete answer to '%s' within %u ms",
			    socket_path, command, timeout_ms);
			goto out;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int           pr  = poll(&pfd, 1, (int) left);
		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			continue; /* the deadline check above ends it */
		}
		if (len + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap * 2 + 65536 + 1);
			if (nb == NULL) {
				rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
				goto out;
			}
			buf = nb;
			cap = cap * 2 + 65536 + 1;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			rc = frep_status_set(st, FREP_UNAVAILABLE,
			    "Kea control socket %s: recv: %s", socket_path, strerror(errno));
			goto out;
		}
		len += (size_t) r;
		buf[len] = '\0';
		json_error_t err;
		json_t      *j = len > 0 ? json_loadb(buf, len, 0, &err) : NULL;
		if (j != NULL) {
			if (json_is_array(j)) {
				json_t *first = json_incref(json_array_get(j, 0));
				json_decref(j);
				j = first;
			}
			if (!json_is_object(j)) {
				json_decref(j);
				rc = frep_status_set(st, FREP_INTERNAL,
				    "Kea control socket %s: answer to '%s' is not a JSON object",
				    socket_path, command);
				goto out;
			}
			*answer = j;
			rc      = FREP_OK;
			frep_status_clear(st);
			goto out;
		}
		if (r == 0) {
			rc = frep_status_set(st, len == 0 ? FREP_UNAVAILABLE : FREP_INTERNAL,
			    "Kea control socket %s: %s answer to '%s'", socket_path,
			    len == 0 ? "no" : "unparsable", command);
			goto out;
		}
	}
out:
	if (fd >= 0) {
		close(fd);
	}
	free(req);
	free(buf);
	return rc;
}

frep_code
kea_control_command(const char *socket_path, const char *command, const json_t *arguments,
    unsigned timeout_ms, json_t **answer, frep_status *st)
{
	json_t *cmd = json_pack("{s:s}", "command", command);
	*answer     = NULL;
	if (cmd != NULL && arguments != NULL &&
	    json_object_set(cmd, "arguments", (json_t *) arguments) != 0) {
		json_decref(cmd);
		cmd = NULL;
	}
	char *req = cmd != NULL ? json_dumps(cmd, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cmd);
	if (req == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	return kea_control_send(socket_path, command, req, timeout_ms, answer, st);
}

frep_code
kea_control_command_text(const char *socket_path, const char *command, const char *arguments,
    unsigned timeout_ms, json_t **answer, frep_status *st)
{
	char *req = NULL;
	*answer   = NULL;
	if (asprintf(&req, "{\"arguments\":%s,\"command\":\"%s\"}", arguments, command) < 0) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	return kea_control_send(socket_path, command, req, timeout_ms, answer, st);
}

/* Sends command and requires result 0; the answer's text in the error. */
static frep_code
kea_expect_ok(kea_push *p, const char *command, const json_t *args, frep_status *st)
{
	json_t   *ans = NULL;
	frep_code rc  = kea_control_command(p->socket_path, command, args, p->timeout_ms, &ans, st);
	if (rc != FREP_OK) {
		return rc;
	}
	json_t     *result = json_object_get(ans, "result");
	const char *text   = json_string_value(json_object_get(ans, "text"));
	if (!json_is_integer(result) || json_integer_value(result) != 0) {
		rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
		    "Kea '%s' answered result %lld: %.300s", command,
		    json_is_integer(result) ? (long long) json_integer_value(result) : -1LL,
		    text != NULL ? text : "(no text)");
	}
	json_decref(ans);
	return rc;
}

/* --- isolating what Kea refuses ----------------------------------------- */

/* config-test of base merged with dhcp4: *accepted, and Kea's text in why
 * when refused. A status only when Kea cannot be asked. */
static frep_code
kea_test(kea_push *p, const json_t *base, const json_t *dhcp4, bool *accepted, char *why, size_t wn,
    frep_status *st)
{
	json_t   *all = kea_render_merge(base, dhcp4);
	json_t   *ans = NULL;
	frep_code rc;

	if (all == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	rc = kea_control_command(p->socket_path, "config-test", all, p->timeout_ms, &ans, st);
	json_decref(all);
	if (rc != FREP_OK) {
		return rc;
	}
	json_t     *result = json_object_get(ans, "result");
	const char *text   = json_string_value(json_object_get(ans, "text"));
	*accepted          = json_is_integer(result) && json_integer_value(result) == 0;
	if (!*accepted && why != NULL) {
		snprintf(why, wn, "%s", text != NULL ? text : "(no text)");
	}
	json_decref(ans);
	return FREP_OK;
}

/* config-set of all (compact JSON text): *accepted, and Kea's text in why
 * when refused (Kea then keeps running the configuration it had). */
static frep_code
kea_set(kea_push *p, const char *all, bool *accepted, char *why, size_t wn, frep_status *st)
{
	json_t   *ans = NULL;
	frep_code rc =
	    kea_control_command_text(p->socket_path, "config-set", all, p->timeout_ms, &ans, st);
	if (rc != FREP_OK) {
		return rc;
	}
	json_t     *result = json_object_get(ans, "result");
	const char *text   = json_string_value(json_object_get(ans, "text"));
	*accepted          = json_is_integer(result) && json_integer_value(result) == 0;
	if (!*accepted) {
		snprintf(why, wn, "%s", text != NULL ? text : "(no text)");
	}
	json_decref(ans);
	return FREP_OK;
}

/* What can be left out. Level 1: a subnet (kind "scope"), a server
 * option-data entry, a client class. Level 2, inside one subnet: an
 * option-data entry, a reservation, a pool's option data. */
typedef enum unit_kind {
	UNIT_SUBNET,
	UNIT_GLOBAL_OPTION,
	UNIT_CLASS,
	UNIT_SUBNET_OPTION,
	UNIT_RESERVATION,
	UNIT_POOL_OPTIONS,
} unit_kind;

typedef struct unit {
	unit_kind   kind;
	json_t     *obj;    /* borrowed from the rendering */
	const char *shared; /* subnet in this shared network, else NULL */
	size_t      index;  /* level 2: index in the subnet's array */
	bool        bad;
	char        why[256];
	json_t     *trimmed; /* a refused subnet without its refused objects (owned) */
} unit;

/* A probe: the configuration with only the units include[] marks. */
typedef struct probe {
	kea_push     *p;
	const json_t *base;
	const json_t *dhcp4; /* the whole rendering */
	unit         *units;
	size_t        n;
	json_t       *subnet; /* level 2: the subnet probed (else NULL) */
	const char   *subnet_shared;
	unsigned      tests;
} probe;

static json_t *
subnet_with(const json_t *subnet, const unit *units, size_t n, const bool *include)
{
	json_t *o    = json_copy((json_t *) subnet);
	json_t *opts = json_array(), *res = json_array(),
	       *pools = json_deep_copy(json_object_get(subnet, "pools"));
	if (o == NULL || opts == NULL || res == NULL || pools == NULL) {
		json_decref(o);
		json_decref(opts);
		json_decref(res);
		json_decref(pools);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (units[i].kind == UNIT_SUBNET_OPTION && include[i]) {
			json_array_append(opts, units[i].obj);
		} else if (units[i].kind == UNIT_RESERVATION && include[i]) {
			json_array_append(res, units[i].obj);
		} else if (units[i].kind == UNIT_POOL_OPTIONS && !include[i]) {
			json_object_del(json_array_get(pools, units[i].index), "option-data");
		}
	}
	json_object_set_new(o, "option-data", opts);
	json_object_set_new(o, "reservations", res);
	json_object_set_new(o, "pools", pools);
	return o;
}

/* The rendering with only the level-1 units marked in include (a refused
 * subnet replaced by its trimmed form when it has one); when pr->subnet is
 * set, that subnet alone, with its level-2 units marked. */
static json_t *
probe_config(const probe *pr, const bool *include, bool use_trimmed)
{
	json_t *d       = json_object();
	json_t *subnets = json_array(), *opts = json_array(), *classes = json_array(),
	       *nets = json_array();
	if (d == NULL || subnets == NULL || opts == NULL || classes == NULL || nets == NULL) {
		goto oom;
	}
	json_object_set(d, "option-def", json_object_get(pr->dhcp4, "option-def"));
	if (pr->subnet != NULL) {
		json_t *one = subnet_with(pr->subnet, pr->units, pr->n, include);
		if (one == NULL) {
			goto oom;
		}
		if (pr->subnet_shared != NULL) {
			json_array_append_new(nets,
			    json_pack("{s:s, s:[o]}", "name", pr->subnet_shared, "subnet4", one));
		} else {
			json_array_append_new(subnets, one);
		}
		/* The classes its pools and require-client-classes name. */
		json_object_set(d, "client-classes", json_object_get(pr->dhcp4, "client-classes"));
		json_decref(classes);
		classes = NULL;
	} else {
		json_t *shared = json_object();
		for (size_t i = 0; i < pr->n; i++) {
			const unit *u = &pr->units[i];
			json_t     *o = use_trimmed && u->trimmed != NULL ? u->trimmed : u->obj;
			if (!include[i]) {
				continue;
			}
			if (u->kind == UNIT_GLOBAL_OPTION) {
				json_array_append(opts, o);
			} else if (u->kind == UNIT_CLASS) {
				json_array_append(classes, o);
			} else if (u->shared != NULL) {
				json_t *arr = json_object_get(shared, u->shared);
				if (arr == NULL) {
					arr = json_array();
					json_object_set_new(shared, u->shared, arr);
					json_array_append_new(nets, json_pack("{s:s, s:O}", "name",
									u->shared, "subnet4", arr));
				}
				json_array_append(arr, o);
			} else {
				json_array_append(subnets, o);
			}
		}
		json_decref(shared);
		json_object_set_new(d, "client-classes", classes);
		classes = NULL;
	}
	json_object_set_new(d, "subnet4", subnets);
	json_object_set_new(d, "option-data", opts);
	json_object_set_new(d, "shared-networks", nets);
	json_decref(classes);
	return d;
oom:
	json_decref(d);
	json_decref(subnets);
	json_decref(opts);
	json_decref(classes);
	json_decref(nets);
	return NULL;
}

static frep_code
probe_run(probe *pr, const bool *include, bool use_trimmed, bool *accepted, char *why, size_t wn,
    frep_status *st)
{
	json_t *d = probe_config(pr, include, use_trimmed);
	if (d == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	pr->tests++;
	frep_code rc = kea_test(pr->p, pr->base, d, accepted, why, wn, st);
	json_decref(d);
	return rc;
}

/* Marks bad the units in idx[0..n) Kea refuses, given that the set of them
 * together is refused: halves are probed alone; a single one is bad. */
static frep_code
bisect(probe *pr, bool *include, const size_t *idx, size_t n, frep_status *st)
{
	frep_code rc;
	bool      ok;

	if (n == 1) {
		include[idx[0]]       = true;
		rc                    = probe_run(pr, include, false, &ok, pr->units[idx[0]].why,
				       sizeof(pr->units[idx[0]].why), st);
		include[idx[0]]       = false;
		pr->units[idx[0]].bad = rc == FREP_OK && !ok;
		return rc;
	}
	for (int half = 0; half < 2; half++) {
		const size_t *h  = half == 0 ? idx : idx + n / 2;
		size_t        hn = half == 0 ? n / 2 : n - n / 2;
		for (size_t i = 0; i < hn; i++) {
			include[h[i]] = true;
		}
		rc = probe_run(pr, include, false, &ok, NULL, 0, st);
		for (size_t i = 0; i < hn; i++) {
			include[h[i]] = false;
		}
		if (rc != FREP_OK) {
			return rc;
		}
		if (!ok && (rc = bisect(pr, include, h, hn, st)) != FREP_OK) {
			return rc;
		}
	}
	return FREP_OK;
}

/* Bisects every unit of pr (all refused together). */
static frep_code
bisect_all(probe *pr, frep_status *st)
{
	bool     *include = calloc(pr->n + 1, sizeof(*include));
	size_t   *idx     = calloc(pr->n + 1, sizeof(*idx));
	frep_code rc;
	if (include == NULL || idx == NULL) {
		free(include);
		free(idx);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < pr->n; i++) {
		idx[i] = i;
	}
	rc = pr->n > 0 ? bisect(pr, include, idx, pr->n, st) : FREP_OK;
	free(include);
	free(idx);
	return rc;
}

static const char *
subnet_scope(const json_t *subnet)
{
	const char *s =
	    json_string_value(json_object_get(json_object_get(subnet, "user-context"), "scope-id"));
	return s != NULL ? s : "";
}

static void
left_out_add(
    kea_push_status *ls, const char *scope, const char *kind, const char *key, const char *why)
{
	ls->left_out_total++;
	if (ls->n_left_out < KEA_PUSH_LEFT_OUT_MAX) {
		kea_push_left_out *l = &ls->left_out[ls->n_left_out++];
		snprintf(l->scope, sizeof(l->scope), "%s", scope);
		snprintf(l->kind, sizeof(l->kind), "%s", kind);
		snprintf(l->key, sizeof(l->key), "%s", key);
		snprintf(l->message, sizeof(l->message), "%s", why);
	}
}

/* Level 2 for a refused subnet u: which of its option data, reservations
 * and pool options Kea refuses. Sets u->trimmed (the subnet without them)
 * or, when the bare subnet is refused, leaves the whole subnet out. */
static frep_code
isolate_in_subnet(probe *top, unit *u, kea_push_status *ls, frep_status *st)
{
	json_t   *opts  = json_object_get(u->obj, "option-data");
	json_t   *res   = json_object_get(u->obj, "reservations");
	json_t   *pools = json_object_get(u->obj, "pools");
	size_t    n = json_array_size(opts) + json_array_size(res) + json_array_size(pools), k = 0;
	unit     *in      = calloc(n + 1, sizeof(*in));
	bool     *include = calloc(n + 1, sizeof(*include));
	frep_code rc      = FREP_OK;
	bool      ok;
	char      why[256], key[96];
	const char *scope = subnet_scope(u->obj);

	if (in == NULL || include == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(opts); i++) {
		in[k++] =
		    (unit){.kind = UNIT_SUBNET_OPTION, .obj = json_array_get(opts, i), .index = i};
	}
	for (size_t i = 0; i < json_array_size(res); i++) {
		in[k++] =
		    (unit){.kind = UNIT_RESERVATION, .obj = json_array_get(res, i), .index = i};
	}
	for (size_t i = 0; i < json_array_size(pools); i++) {
		if (json_object_get(json_array_get(pools, i), "option-data") != NULL) {
			in[k++] = (unit){
			    .kind = UNIT_POOL_OPTIONS, .obj = json_array_get(pools, i), .index = i};
		}
	}
	probe pr = {.p     = top->p,
	    .base          = top->base,
	    .dhcp4         = top->dhcp4,
	    .units         = in,
	    .n             = k,
	    .subnet        = u->obj,
	    .subnet_shared = u->shared};
	if ((rc = probe_run(&pr, include, false, &ok, why, sizeof(why), st)) != FREP_OK) {
		goto out;
	}
	if (!ok) {
		left_out_add(ls, scope, "scope", scope, u->why);
		goto out;
	}
	if ((rc = bisect_all(&pr, st)) != FREP_OK) {
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		include[i] = !in[i].bad;
		if (!in[i].bad) {
			continue;
		}
		const json_t *o = in[i].obj;
		if (in[i].kind == UNIT_RESERVATION) {
			snprintf(key, sizeof(key), "%s",
			    json_string_value(json_object_get(o, "ip-address")));
			left_out_add(ls, scope, "reservation", key, in[i].why);
		} else if (in[i].kind == UNIT_SUBNET_OPTION) {
			snprintf(key, sizeof(key), "%lld",
			    (long long) json_integer_value(json_object_get(o, "code")));
			left_out_add(ls, scope, "option", key, in[i].why);
		} else {
			snprintf(key, sizeof(key), "pool %s options",
			    json_string_value(json_object_get(o, "pool")));
			left_out_add(ls, scope, "option", key, in[i].why);
		}
	}
	u->trimmed = subnet_with(u->obj, in, k, include);
	if (u->trimmed == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	top->tests += pr.tests;
out:
	free(in);
	free(include);
	return rc;
}

/* Kea refused r (merged with base): finds what it refuses, fills ls, and
 * returns in *pushable the rendering without it (NULL when the refusal is
 * not in frep's objects: the base or the option definitions). */
static frep_code
isolate(kea_push *p, const json_t *base, const json_t *dhcp4, json_t **pushable,
    kea_push_status *ls, unsigned *tests, frep_status *st)
{
	json_t *subs    = json_object_get(dhcp4, "subnet4"),
	       *nets    = json_object_get(dhcp4, "shared-networks");
	json_t *opts    = json_object_get(dhcp4, "option-data"),
	       *classes = json_object_get(dhcp4, "client-classes");
	size_t  n = json_array_size(subs) + json_array_size(opts) + json_array_size(classes), k = 0;
	size_t  idx;
	json_t *net;
	unit   *units;
	bool   *include = NULL;
	frep_code rc    = FREP_OK;
	bool      ok;
	char      key[96];

	*pushable = NULL;
	json_array_foreach(nets, idx, net)
	{
		n += json_array_size(json_object_get(net, "subnet4"));
	}
	units   = calloc(n + 1, sizeof(*units));
	include = calloc(n + 1, sizeof(*include));
	if (units == NULL || include == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(subs); i++) {
		units[k++] = (unit){.kind = UNIT_SUBNET, .obj = json_array_get(subs, i)};
	}
	json_array_foreach(nets, idx, net)
	{
		json_t *ns = json_object_get(net, "subnet4");
		for (size_t i = 0; i < json_array_size(ns); i++) {
			units[k++] = (unit){.kind = UNIT_SUBNET,
			    .obj                  = json_array_get(ns, i),
			    .shared = json_string_value(json_object_get(net, "name"))};
		}
	}
	for (size_t i = 0; i < json_array_size(opts); i++) {
		units[k++] = (unit){.kind = UNIT_GLOBAL_OPTION, .obj = json_array_get(opts, i)};
	}
	for (size_t i = 0; i < json_array_size(classes); i++) {
		units[k++] = (unit){.kind = UNIT_CLASS, .obj = json_array_get(classes, i)};
	}
	probe pr = {.p = p, .base = base, .dhcp4 = dhcp4, .units = units, .n = k};
	/* Nothing of frep's but the option definitions: refused means the
	 * base (or a definition) is at fault; nothing to leave out. */
	if ((rc = probe_run(&pr, include, false, &ok, NULL, 0, st)) != FREP_OK || !ok) {
		goto out;
	}
	if ((rc = bisect_all(&pr, st)) != FREP_OK) {
		goto out;
	}
	for (size_t i = 0; i < k && rc == FREP_OK; i++) {
		unit *u = &units[i];
		if (!u->bad) {
			continue;
		}
		if (u->kind == UNIT_SUBNET) {
			rc         = isolate_in_subnet(&pr, u, ls, st);
			include[i] = u->trimmed != NULL;
		} else if (u->kind == UNIT_GLOBAL_OPTION) {
			snprintf(key, sizeof(key), "%lld",
			    (long long) json_integer_value(json_object_get(u->obj, "code")));
			left_out_add(ls, "", "option", key, u->why);
		} else {
			left_out_add(ls, "", "class",
			    json_string_value(json_object_get(u->obj, "name")), u->why);
		}
	}
	for (size_t i = 0; i < k; i++) {
		if (!units[i].bad) {
			include[i] = true;
		}
	}
	if (rc == FREP_OK) {
		*pushable = probe_config(&pr, include, true);
		if (*pushable == NULL) {
			rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	*tests = pr.tests;
out:
	for (size_t i = 0; units != NULL && i < k; i++) {
		json_decref(units[i].trimmed);
	}
	free(units);
	free(include);
	return rc;
}

/* --- the worker --------------------------------------------------------- */

/* The base file without frep's keys, as *out (a new reference): the bytes
 * are read every time (an operator's edit is seen at the next push), parsed
 * only when they differ from the last parse's. Worker thread only. */
static frep_code
load_base(kea_push *p, json_t **out, frep_status *st)
{
	char     *text = NULL, sha[65];
	size_t    len  = 0;
	json_t   *j    = NULL;
	frep_code rc;

	*out = NULL;
	if ((rc = kea_render_read_file(p->base_path, &text, &len, st)) != FREP_OK) {
		return rc;
	}
	if (!engine_sha256_hex(text, len, sha)) {
		sha[0] = '\0'; /* parse it: nothing is reused */
	}
	if (p->base != NULL && sha[0] != '\0' && strcmp(sha, p->base_sha) == 0) {
		free(text);
		*out = json_incref(p->base);
		frep_status_clear(st);
		return FREP_OK;
	}
	rc = kea_render_parse_base(p->base_path, text, len, &j, st);
	free(text);
	if (rc != FREP_OK) {
		return rc;
	}
	json_t *d = json_object_get(j, "Dhcp4");
	for (const char *const *k = kea_render_owned_keys; *k != NULL; k++) {
		json_object_del(d, *k);
	}
	json_decref(p->base);
	p->base = json_incref(j);
	memcpy(p->base_sha, sha, sizeof(sha));
	*out = j;
	return FREP_OK;
}

/* One attempt: render, merge, test (leaving out what Kea refuses), set,
 * write. *skipped when Kea already has this digest; *ls gets what was left
 * out. */
static frep_code
push_once(kea_push *p, char digest[65], uint32_t *warnings, bool *skipped, kea_push_status *ls,
    frep_status *st)
{
	kea_render_result r    = {0};
	json_t           *base = NULL, *all = NULL, *pushable = NULL;
	char             *all_text = NULL;
	frep_code         rc;
	bool              ok;
	char              why[512];

	*skipped = false;
	if ((rc = kea_render_cached(p->e, p->cache, &r, st)) != FREP_OK) {
		return rc;
	}
	memcpy(digest, r.digest, 65);
	*warnings = (uint32_t) r.n_warnings;
	pthread_mutex_lock(&p->mu);
	/* Rendered after the last commit: the status reports this digest as
	 * the current one without rendering. */
	memcpy(p->status.rendered_digest, r.digest, 65);
	p->status.rendered_current = !p->dirty;
	bool same                  = p->status.consecutive_failures == 0 &&
		    strcmp(p->status.last_pushed_digest, r.digest) == 0;
	if (same) {
		/* Kea holds this rendering (less what was left out then). */
		ls->left_out_total = p->status.left_out_total;
		ls->n_left_out     = p->status.n_left_out;
		memcpy(ls->left_out, p->status.left_out, sizeof(ls->left_out));
	}
	pthread_mutex_unlock(&p->mu);
	if (same) {
		*skipped = true;
		kea_render_result_fini(&r);
		return FREP_OK;
	}
	if ((rc = load_base(p, &base, st)) != FREP_OK) {
		goto out;
	}
	/* config-set checks the whole configuration and, when it refuses it,
	 * keeps the one Kea runs: no config-test first on the usual path (it
	 * would double Kea's work on every push). The text reuses the
	 * rendering's (dumped once, for its digest). */
	if ((all_text = kea_render_merged_dump(base, &r)) == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	rc = kea_set(p, all_text, &ok, why, sizeof(why), st);
	if (rc == FREP_OK && ok && kea_ha_needs_second_set(base, r.dhcp4)) {
		/* Kea loads the HA hook before it applies multi-threading: the
		 * config-set that turns it on leaves HA without its listener;
		 * the same configuration again, with multi-threading on, has it. */
		rc = kea_set(p, all_text, &ok, why, sizeof(why), st);
	}
	free(all_text);
	if (rc != FREP_OK) {
		goto out;
	}
	if (!ok) {
		unsigned tests = 0;
		if ((rc = isolate(p, base, r.dhcp4, &pushable, ls, &tests, st)) != FREP_OK) {
			goto out;
		}
		if (pushable == NULL) {
			rc = frep_status_set(st, FREP_FAILED_PRECONDITION,
			    "Kea 'config-set' answered result 1 even without frep's scopes, "
			    "options and classes (the base file or an option definition): %.300s",
			    why);
			goto out;
		}
		for (uint32_t i = 0; i < ls->n_left_out; i++) {
			const kea_push_left_out *l = &ls->left_out[i];
			rpc_log(RPC_LOG_ERROR, "kea: left out: %s%s %s %s: %s",
			    l->scope[0] != '\0' ? "scope " : "server", l->scope, l->kind, l->key,
			    l->message);
		}
		rpc_log(RPC_LOG_ERROR,
		    "kea: %u object(s) Kea refuses left out (found with %u config-tests); the rest "
		    "is pushed",
		    ls->left_out_total, tests);
		if ((all = kea_render_merge(base, pushable)) == NULL) {
			rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		if ((rc = kea_expect_ok(p, "config-set", all, st)) != FREP_OK) {
			goto out;
		}
	}
	/* config-write: by the worker once the push is recorded (Kea serves
	 * the configuration from config-set on). */
out:
	json_decref(all);
	json_decref(pushable);
	json_decref(base);
	kea_render_result_fini(&r);
	return rc;
}

/* Under p->mu, after a push of pushed when commits came during it: takes
 * the change (dirty), renders, and records the rendering; the change is
 * given back (dirty) when its rendering is not what was pushed, or when it
 * cannot be rendered (the next pass reports why). */
static void
recheck(kea_push *p, const char pushed[65])
{
	kea_render_result r;
	frep_status       st;
	p->dirty = false;
	pthread_mutex_unlock(&p->mu);
	frep_code rc = kea_render_cached(p->e, p->cache, &r, &st);
	pthread_mutex_lock(&p->mu);
	if (rc != FREP_OK) {
		p->dirty = true;
		return;
	}
	memcpy(p->status.rendered_digest, r.digest, 65);
	p->status.rendered_current = !p->dirty;
	if (strcmp(r.digest, pushed) != 0) {
		p->dirty = true;
	}
	kea_render_result_fini(&r);
}

static void *
worker(void *arg)
{
	kea_push *p            = arg;
	unsigned  backoff      = p->retry_min_ms;
	int64_t   retry_at     = 0; /* monotonic; 0 = none */
	int64_t   last_attempt = 0; /* monotonic start of the last push */

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->dirty && retry_at == 0) {
			pthread_cond_wait(&p->cv, &p->mu);
		}
		if (p->stop) {
			break;
		}
		/* Wait for the retry time, or, after a change, until debounce_ms
		 * have passed since the last attempt began: a lone change goes at
		 * once, the commits of a burst join the next push. */
		int64_t at = retry_at;
		if (p->dirty) {
			at = last_attempt + p->debounce_ms;
			if (at < now_mono_ms()) {
				at = now_mono_ms();
			}
		}
		if (p->dirty && retry_at > at) {
			at = retry_at;
		}
		while (!p->stop && now_mono_ms() < at) {
			struct timespec ts = mono_deadline(at);
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		if (p->stop) {
			break;
		}
		p->dirty          = false;
		p->status.pending = true;
		last_attempt      = now_mono_ms();
		pthread_mutex_unlock(&p->mu);

		char        digest[65] = "";
		uint32_t    warnings   = 0;
		bool        skipped    = false;
		frep_status st;
		rpc_idle_trim_enter(); /* a render of every scope: no trim under it */
		kea_push_status *ls = calloc(1, sizeof(*ls)); /* what is left out */
		frep_code        rc = ls != NULL
					  ? push_once(p, digest, &warnings, &skipped, ls, &st)
					  : frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");

		pthread_mutex_lock(&p->mu);
		if (rc == FREP_OK) {
			p->status.left_out_total = ls->left_out_total;
			p->status.n_left_out     = ls->n_left_out;
			memcpy(p->status.left_out, ls->left_out, sizeof(ls->left_out));
		}
		free(ls);
		rpc_idle_trim_leave();
		p->status.attempted = true;
		p->status.warnings  = warnings;
		if (digest[0] != '\0') {
			memcpy(p->status.rendered_digest, digest, 65);
		}
		if (rc == FREP_OK) {
			if (!skipped) {
				memcpy(p->status.last_pushed_digest, digest, 65);
				p->status.last_push_unix_ms = now_unix_ms();
				p->status.pushes++;
				rpc_log(RPC_LOG_INFO,
				    "kea: configuration %.12s pushed to %s (%u warnings)", digest,
				    p->socket_path, warnings);
				/* Commits during the push (an apply's audit and
				 * last-synced records) mostly change nothing Kea sees:
				 * render again now (the cache makes it cheap) so that the
				 * status tells at once, not after config-write and another
				 * pass; a real change is pushed on the next pass. */
				if (p->dirty) {
					recheck(p, digest);
				}
				/* Served from now; still pending until Kea has written it
				 * to its file (so a restarted Kea keeps it). */
				pthread_mutex_unlock(&p->mu);
				frep_status wst;
				frep_code   wrc = kea_expect_ok(p, "config-write", NULL, &wst);
				if (wrc == FREP_OK) {
					/* Kea has just written its configuration, perhaps to
					 * the base file: parse it now, still pending, rather
					 * than on the next change's way to Kea. A failure is
					 * the next push's to report. */
					json_t     *base = NULL;
					frep_status bst;
					(void) load_base(p, &base, &bst);
					json_decref(base);
				}
				pthread_mutex_lock(&p->mu);
				if (wrc != FREP_OK) {
					rpc_log(RPC_LOG_ERROR,
					    "kea: config-write failed (Kea serves the "
					    "configuration but "
					    "a restarted Kea would not keep it): %s",
					    wst.message);
				}
			}
			p->status.last_error[0]        = '\0';
			p->status.consecutive_failures = 0;
			p->status.next_retry_unix_ms   = 0;
			p->status.pending              = p->dirty;
			backoff                        = p->retry_min_ms;
			retry_at                       = 0;
		} else {
			snprintf(p->status.last_error, sizeof(p->status.last_error), "%s: %.400s",
			    frep_code_name(st.code), st.message);
			p->status.last_error_unix_ms = now_unix_ms();
			p->status.consecutive_failures++;
			p->status.failures++;
			p->status.pending            = true;
			p->status.next_retry_unix_ms = now_unix_ms() + backoff;
			retry_at                     = now_mono_ms() + backoff;
			rpc_log(RPC_LOG_ERROR, "kea: push failed (attempt %u, retry in %u ms): %s",
			    p->status.consecutive_failures, backoff, p->status.last_error);
			backoff = backoff >= p->retry_max_ms / 2 ? p->retry_max_ms : backoff * 2;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

frep_code
kea_push_new(engine *e, const kea_push_options *o, kea_push **out, frep_status *st)
{
	pthread_condattr_t ca;

	*out = NULL;
	if (o == NULL || o->socket_path == NULL || o->socket_path[0] == '\0' ||
	    o->base_path == NULL || o->base_path[0] == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "the Kea data plane needs both --kea-socket and --kea-base");
	}
	kea_push *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	p->e              = e;
	p->socket_path    = strdup(o->socket_path);
	p->base_path      = strdup(o->base_path);
	p->debounce_ms    = o->debounce_ms ? o->debounce_ms : 200;
	p->timeout_ms     = o->timeout_ms ? o->timeout_ms : 30000;
	p->retry_min_ms   = o->retry_min_ms ? o->retry_min_ms : 500;
	p->retry_max_ms   = o->retry_max_ms ? o->retry_max_ms : 30000;
	p->dirty          = true; /* the first push: bring Kea in step at start */
	p->status.pending = true;
	p->cache          = kea_render_cache_new();
	if (p->socket_path == NULL || p->base_path == NULL || p->cache == NULL) {
		kea_render_cache_free(p->cache);
		free(p->socket_path);
		free(p->base_path);
		free(p);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, worker, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		kea_render_cache_free(p->cache);
		free(p->socket_path);
		free(p->base_path);
		free(p);
		return frep_status_set(st, FREP_INTERNAL, "cannot start the Kea push thread");
	}
	*out = p;
	frep_status_clear(st);
	return FREP_OK;
}

void
kea_push_free(kea_push *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	kea_render_cache_free(p->cache);
	json_decref(p->base);
	free(p->socket_path);
	free(p->base_path);
	free(p);
}

void
kea_push_commit_hook(void *arg)
{
	kea_push *p = arg;
	pthread_mutex_lock(&p->mu);
	p->dirty                   = true;
	p->status.pending          = true;
	p->status.rendered_current = false;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
kea_push_get_status(kea_push *p, kea_push_status *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->status;
	pthread_mutex_unlock(&p->mu);
}

const char *
kea_push_socket_path(const kea_push *p)
{
	return p->socket_path;
}

const char *
kea_push_base_path(const kea_push *p)
{
	return p->base_path;
}

frep_code
kea_push_ha_status(const char *socket_path, unsigned timeout_ms, char *state, char *partner_state,
    size_t cap, frep_status *st)
{
	json_t *answer = NULL;
	state[0]       = '\0';
	if (partner_state != NULL) {
		partner_state[0] = '\0';
	}
	if (kea_control_command(socket_path, "status-get", NULL, timeout_ms, &answer, st) !=
	    FREP_OK) {
		return st->code;
	}
	json_t     *ha = json_object_get(json_object_get(answer, "arguments"), "high-availability");
	json_t     *pair = json_array_get(ha, 0);
	json_t     *srv  = json_object_get(pair, "ha-servers");
	const char *local =
	    json_string_value(json_object_get(json_object_get(srv, "local"), "state"));
	const char *remote =
	    json_string_value(json_object_get(json_object_get(srv, "remote"), "last-state"));
	if (local == NULL) {
		json_decref(answer);
		return frep_status_set(st, FREP_NOT_FOUND,
		    "Kea at %s runs no HA service (status-get has no high-availability state)",
		    socket_path);
	}
	snprintf(state, cap, "%s", local);
	if (partner_state != NULL && remote != NULL) {
		snprintf(partner_state, cap, "%s", remote);
	}
	json_decref(answer);
	frep_status_clear(st);
	return FREP_OK;
}
