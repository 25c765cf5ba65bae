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

#include "kea_render.h"
#include "log.h"

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

frep_code
kea_control_command(const char *socket_path, const char *command, const json_t *arguments,
    unsigned timeout_ms, json_t **answer, frep_status *st)
{
	struct sockaddr_un addr     = {.sun_family = AF_UNIX};
	int64_t            deadline = now_mono_ms() + (timeout_ms ? timeout_ms : 30000);
	char              *req = NULL, *buf = NULL;
	size_t             len = 0, cap = 0;
	int                fd = -1;
	frep_code          rc;

	*answer = NULL;
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "Kea control socket path %s is longer than %zu bytes", socket_path,
		    sizeof(addr.sun_path) - 1);
	}
	strcpy(addr.sun_path, socket_path);
	json_t *cmd = json_pack("{s:s}", "command", command);
	if (cmd != NULL && arguments != NULL &&
	    json_object_set(cmd, "arguments", (json_t *) arguments) != 0) {
		json_decref(cmd);
		cmd = NULL;
	}
	req = cmd != NULL ? json_dumps(cmd, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cmd);
	if (req == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
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

/* --- the worker --------------------------------------------------------- */

/* One attempt: render, merge, test, set, write. *skipped when Kea already
 * has this digest. */
static frep_code
push_once(kea_push *p, char digest[65], uint32_t *warnings, bool *skipped, frep_status *st)
{
	kea_render_result r    = {0};
	json_t           *base = NULL, *all = NULL;
	frep_code         rc;

	*skipped = false;
	if ((rc = kea_render(p->e, &r, st)) != FREP_OK) {
		return rc;
	}
	memcpy(digest, r.digest, 65);
	*warnings = (uint32_t) r.n_warnings;
	pthread_mutex_lock(&p->mu);
	bool same = p->status.consecutive_failures == 0 &&
		    strcmp(p->status.last_pushed_digest, r.digest) == 0;
	pthread_mutex_unlock(&p->mu);
	if (same) {
		*skipped = true;
		kea_render_result_fini(&r);
		return FREP_OK;
	}
	if ((rc = kea_render_load_base(p->base_path, &base, st)) != FREP_OK) {
		goto out;
	}
	if ((all = kea_render_merge(base, r.dhcp4)) == NULL) {
		rc = frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if ((rc = kea_expect_ok(p, "config-test", all, st)) != FREP_OK ||
	    (rc = kea_expect_ok(p, "config-set", all, st)) != FREP_OK ||
	    (rc = kea_expect_ok(p, "config-write", NULL, st)) != FREP_OK) {
		goto out;
	}
out:
	json_decref(all);
	json_decref(base);
	kea_render_result_fini(&r);
	return rc;
}

static void *
worker(void *arg)
{
	kea_push *p        = arg;
	unsigned  backoff  = p->retry_min_ms;
	int64_t   retry_at = 0; /* monotonic; 0 = none */

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->dirty && retry_at == 0) {
			pthread_cond_wait(&p->cv, &p->mu);
		}
		if (p->stop) {
			break;
		}
		/* Wait for the retry time, or the debounce after a change: more
		 * commits in that window join this push. */
		int64_t at = p->dirty ? now_mono_ms() + p->debounce_ms : retry_at;
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
		pthread_mutex_unlock(&p->mu);

		char        digest[65] = "";
		uint32_t    warnings   = 0;
		bool        skipped    = false;
		frep_status st;
		frep_code   rc = push_once(p, digest, &warnings, &skipped, &st);

		pthread_mutex_lock(&p->mu);
		p->status.attempted = true;
		p->status.warnings  = warnings;
		if (rc == FREP_OK) {
			if (!skipped) {
				memcpy(p->status.last_pushed_digest, digest, 65);
				p->status.last_push_unix_ms = now_unix_ms();
				p->status.pushes++;
				rpc_log(RPC_LOG_INFO,
				    "kea: configuration %.12s pushed to %s (%u warnings)", digest,
				    p->socket_path, warnings);
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
	p->e            = e;
	p->socket_path  = strdup(o->socket_path);
	p->base_path    = strdup(o->base_path);
	p->debounce_ms  = o->debounce_ms ? o->debounce_ms : 200;
	p->timeout_ms   = o->timeout_ms ? o->timeout_ms : 30000;
	p->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : 500;
	p->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 30000;
	p->dirty        = true; /* the first push: bring Kea in step at start */
	if (p->socket_path == NULL || p->base_path == NULL) {
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
	free(p->socket_path);
	free(p->base_path);
	free(p);
}

void
kea_push_commit_hook(void *arg)
{
	kea_push *p = arg;
	pthread_mutex_lock(&p->mu);
	p->dirty          = true;
	p->status.pending = true;
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
