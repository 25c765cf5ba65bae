/* Change-triggered replication: the worker, its debounce and backoff, and
 * what it remembers of each scope for the status method. */
#include "auto_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idle_trim.h"
#include "log.h"
#include "replication_internal.h"

typedef struct rel_state {
	char     name[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	int64_t  last_contact_unix_ms;
	uint32_t backoff_ms; /* the next retry's delay */
	int64_t  retry_at;   /* monotonic ms, 0 = no retry planned */
	unsigned holds;      /* auto_sync_hold without its release yet */
} rel_state;

typedef struct scope_state {
	char                 rel[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	uint32_t             scope_id;
	auto_sync_scope_info info;
} scope_state;

struct auto_sync {
	engine           *e;
	replication      *r;
	auto_sync_options o;
	pthread_mutex_t   mu;
	pthread_cond_t    cv;
	pthread_t         thread;
	bool              stop;
	/* Changes not scanned yet: the first and the last (monotonic ms). */
	bool               dirty;
	int64_t            first_change;
	int64_t            last_change;
	rel_state         *rels;
	size_t             n_rels, cap_rels;
	scope_state       *scopes;
	size_t             n_scopes, cap_scopes;
	auto_sync_counters counters;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under as->mu. NULL only when memory runs out. */
static rel_state *
rel_find(auto_sync *as, const char *name, bool create)
{
	for (size_t i = 0; i < as->n_rels; i++) {
		if (strcmp(as->rels[i].name, name) == 0) {
			return &as->rels[i];
		}
	}
	if (!create) {
		return NULL;
	}
	if (as->n_rels == as->cap_rels) {
		size_t     nc = as->cap_rels ? as->cap_rels * 2 : 8;
		rel_state *nv = realloc(as->rels, nc * sizeof(*nv));
		if (nv == NULL) {
			return NULL;
		}
		as->rels     = nv;
		as->cap_rels = nc;
	}
	rel_state *rs = &as->rels[as->n_rels++];
	memset(rs, 0, sizeof(*rs));
	snprintf(rs->name, sizeof(rs->name), "%s", name);
	rs->backoff_ms = as->o.backoff_min_ms;
	return rs;
}

/* Under as->mu. NULL only when memory runs out (or !create and unknown). */
static scope_state *
scope_find(auto_sync *as, const char *rel, uint32_t scope_id, bool create)
{
	for (size_t i = 0; i < as->n_scopes; i++) {
		if (as->scopes[i].scope_id == scope_id && strcmp(as->scopes[i].rel, rel) == 0) {
			return &as->scopes[i];
		}
	}
	if (!create) {
		return NULL;
	}
	if (as->n_scopes == as->cap_scopes) {
		size_t       nc = as->cap_scopes ? as->cap_scopes * 2 : 16;
		scope_state *nv = realloc(as->scopes, nc * sizeof(*nv));
		if (nv == NULL) {
			return NULL;
		}
		as->scopes     = nv;
		as->cap_scopes = nc;
	}
	scope_state *ss = &as->scopes[as->n_scopes++];
	memset(ss, 0, sizeof(*ss));
	snprintf(ss->rel, sizeof(ss->rel), "%s", rel);
	ss->scope_id = scope_id;
	return ss;
}

/* Marks which scopes of rel are waiting to be sent (and forgets the errors
 * of those that are not: they were settled some other way). */
static void
mark_pending(auto_sync *as, const engine_failover *rel, const bool *candidate)
{
	pthread_mutex_lock(&as->mu);
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		scope_state *ss = scope_find(as, rel->name, rel->scope_ids[i], candidate[i]);
		if (ss == NULL) {
			continue;
		}
		ss->info.pending = candidate[i];
		if (!candidate[i]) {
			/* Settled (by a replication either way, or a conflict
			 * resolved by hand): its old error no longer holds. */
			ss->info.last_error_code = 0;
			ss->info.last_error[0]   = '\0';
		}
	}
	pthread_mutex_unlock(&as->mu);
}

/* The audit record of a conflict found (once per conflict, not per scan). */
static void
audit_conflict(auto_sync *as, const char *rel, const replication_auto_outcome *o)
{
	frep_status         st;
	engine_audit_record rec = {
	    .direction     = "sent",
	    .source        = as->r->local_url,
	    .relationship  = (char *) rel,
	    .scope_id      = o->scope_id,
	    .digest_before = "",
	    .digest_after  = "",
	    .code          = (int32_t) o->code,
	    .message       = (char *) o->message,
	    .request_id    = (char *) o->request_id,
	};
	if (engine_audit_add(as->e, &rec, NULL, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "auto-sync: audit record: %s", st.message);
	}
}

/* Records the outcomes of one relationship's attempt; true if any scope
 * failed in a way a retry may mend. */
static bool
record_outcomes(auto_sync *as, const char *rel, const replication_auto_outcome *out, size_t n)
{
	bool    retry = false, contact = false;
	int64_t now = real_ms();

	for (size_t i = 0; i < n; i++) {
		const replication_auto_outcome *o          = &out[i];
		bool                            new_status = false;
		char                            ip[16];
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", o->scope_id >> 24,
		    (o->scope_id >> 16) & 255, (o->scope_id >> 8) & 255, o->scope_id & 255);
		pthread_mutex_lock(&as->mu);
		scope_state *ss = scope_find(as, rel, o->scope_id, true);
		if (!o->unreachable) {
			contact = true;
		}
		if (ss != NULL) {
			ss->info.last_attempt_unix_ms = now;
			if (o->code == FREP_OK) {
				ss->info.pending         = false;
				ss->info.last_error_code = 0;
				ss->info.last_error[0]   = '\0';
			} else {
				new_status = ss->info.last_error_code != (int32_t) o->code ||
					     strcmp(ss->info.last_error, o->message) != 0;
				ss->info.pending         = !o->conflict;
				ss->info.last_error_code = (int32_t) o->code;
				snprintf(ss->info.last_error, sizeof(ss->info.last_error), "%s",
				    o->message);
			}
		}
		if (o->sent) {
			as->counters.scopes_sent++;
		}
		if (o->conflict && new_status) {
			as->counters.conflicts++;
		} else if (o->code != FREP_OK && !o->conflict) {
			as->counters.failures++;
		}
		pthread_mutex_unlock(&as->mu);
		if (o->conflict) {
			if (new_status) {
				audit_conflict(as, rel, o);
				rpc_log(RPC_LOG_WARN, "auto-sync: scope %s (relationship %s): %s",
				    ip, rel, o->message);
			}
		} else if (o->code != FREP_OK) {
			retry = true;
			if (new_status) {
				rpc_log(RPC_LOG_WARN, "auto-sync: scope %s (relationship %s): %s",
				    ip, rel, o->message);
			}
		}
	}
	if (contact) {
		auto_sync_contact(as, rel, now);
	}
	return retry;
}

/* One info line per attempt that sent scopes, with the request id the
 * attempt made for itself: the partner's "apply" line and both audits
 * carry the same id. */
static void
log_sent(const engine_failover *rel, const replication_auto_outcome *out, size_t n)
{
	size_t sent = 0;
	for (size_t i = 0; i < n; i++) {
		sent += out[i].sent ? 1 : 0;
	}
	if (sent == 0) {
		return;
	}
	char msg[ENGINE_RELATIONSHIP_NAME_MAX + 100];
	snprintf(msg, sizeof(msg), "auto-sync: %zu scopes sent (relationship %s)", sent, rel->name);
	rpc_log_event(RPC_LOG_INFO, &(rpc_log_fields){
					.event       = "replication",
					.status      = frep_code_name(FREP_OK),
					.duration_ms = -1,
					.request_id  = out[0].request_id,
					.peer        = rel->partner_server,
					.message     = msg,
				    });
}

/* One relationship: its scopes changed here since the last replication go
 * to the partner. */
static void
sync_relationship(auto_sync *as, const engine_failover *rel, int64_t now)
{
	frep_status st;
	size_t      n = rel->n_scope_ids, n_cand = 0;
	char(*local)[65]                 = calloc(n + 1, 65);
	bool                     *exists = calloc(n + 1, sizeof(bool));
	bool                     *was    = calloc(n + 1, sizeof(bool));
	bool                     *cand   = calloc(n + 1, sizeof(bool));
	engine_sync_state        *synced = calloc(n + 1, sizeof(*synced));
	uint32_t                 *ids    = calloc(n + 1, sizeof(*ids));
	replication_auto_outcome *out    = calloc(n + 1, sizeof(*out));
	/* The snapshots a digest was computed from, sent without a second
	 * read (engine_scope_digests_outgoing): per scope, then per candidate. */
	engine_scope_config **snaps = calloc(n + 1, sizeof(*snaps));
	engine_scope_config **sends = calloc(n + 1, sizeof(*sends));
	bool                  retry = false;

	rpc_idle_trim_enter(); /* no trim under a push (rpc_idle_trim_leave below) */
	pthread_mutex_lock(&as->mu);
	rel_state *rs = rel_find(as, rel->name, true);
	if (rs != NULL && rs->holds > 0) {
		pthread_mutex_unlock(&as->mu);
		goto out; /* being changed on both servers: its release rescans */
	}
	if (rs != NULL && rs->retry_at != 0 && now < rs->retry_at) {
		pthread_mutex_unlock(&as->mu);
		goto out; /* backing off: the retry comes */
	}
	if (rs != NULL) {
		rs->retry_at = 0;
	}
	pthread_mutex_unlock(&as->mu);

	if (local == NULL || exists == NULL || was == NULL || cand == NULL || synced == NULL ||
	    ids == NULL || out == NULL || snaps == NULL || sends == NULL) {
		retry = true;
		goto out;
	}
	if (engine_scope_digests_outgoing(as->e, rel->scope_ids, n, local, exists, snaps,
		KEPT_RESERVATIONS_MAX, &st) != FREP_OK ||
	    engine_sync_states_get(as->e, rel->name, rel->scope_ids, n, synced, was, &st) !=
		FREP_OK) {
		rpc_log(RPC_LOG_WARN, "auto-sync: relationship %s: %s", rel->name, st.message);
		retry = true;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cand[i] = exists[i] && (!was[i] || strcmp(local[i], synced[i].digest) != 0);
		if (cand[i]) {
			sends[n_cand] = snaps[i];
			ids[n_cand++] = rel->scope_ids[i];
			snaps[i]      = NULL;
		}
	}
	engine_scope_outgoing_release(as->e, snaps, n); /* not to be sent */
	mark_pending(as, rel, cand);
	if (n_cand == 0) {
		goto out;
	}
	/* send takes over every snapshot of sends, whatever its outcome. */
	if (as->o.send(as->r, rel->name, ids, n_cand, sends, out, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "auto-sync: relationship %s: %s", rel->name, st.message);
		retry = true;
		goto out;
	}
	retry = record_outcomes(as, rel->name, out, n_cand);
	log_sent(rel, out, n_cand);

out:
	pthread_mutex_lock(&as->mu);
	if ((rs = rel_find(as, rel->name, true)) != NULL) {
		if (retry) {
			rs->retry_at   = mono_ms() + rs->backoff_ms;
			rs->backoff_ms = rs->backoff_ms >= as->o.backoff_max_ms / 2
					     ? as->o.backoff_max_ms
					     : rs->backoff_ms * 2;
		} else if (rs->retry_at == 0) {
			rs->backoff_ms = as->o.backoff_min_ms;
		}
	}
	pthread_mutex_unlock(&as->mu);
	engine_scope_outgoing_release(as->e, snaps, n);
	engine_scope_outgoing_release(as->e, sends, n_cand);
	free(local);
	free(exists);
	free(was);
	free(cand);
	free(synced);
	free(ids);
	free(out);
	free(snaps);
	free(sends);
	rpc_idle_trim_leave(); /* a push freed its copies: trim once idle */
}

static void
scan(auto_sync *as)
{
	frep_status      st;
	engine_failover *rels = NULL;
	size_t           n    = 0;
	int64_t          now  = mono_ms();

	pthread_mutex_lock(&as->mu);
	as->counters.scans++;
	pthread_mutex_unlock(&as->mu);
	if (engine_failover_list(as->e, &rels, &n, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "auto-sync: list relationships: %s", st.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (rels[i].auto_sync == ENGINE_AUTO_SYNC_ON && rels[i].n_scope_ids > 0) {
			sync_relationship(as, &rels[i], now);
		}
	}
	engine_failovers_free(rels, n);
}

static void
deadline_of(int64_t at, struct timespec *ts)
{
	ts->tv_sec  = (time_t) (at / 1000);
	ts->tv_nsec = (long) (at % 1000) * 1000000L;
}

static void *
worker(void *arg)
{
	auto_sync *as = arg;

	pthread_mutex_lock(&as->mu);
	while (!as->stop) {
		int64_t now = mono_ms(), due = INT64_MAX;
		if (as->dirty) {
			int64_t quiet = as->last_change + as->o.debounce_ms;
			int64_t cap   = as->first_change + as->o.max_delay_ms;
			due           = quiet < cap ? quiet : cap;
		}
		for (size_t i = 0; i < as->n_rels; i++) {
			if (as->rels[i].retry_at != 0 && as->rels[i].retry_at < due) {
				due = as->rels[i].retry_at;
			}
		}
		if (due <= now) {
			as->dirty = false;
			pthread_mutex_unlock(&as->mu);
			scan(as);
			pthread_mutex_lock(&as->mu);
			continue;
		}
		if (due == INT64_MAX) {
			pthread_cond_wait(&as->cv, &as->mu);
		} else {
			struct timespec ts;
			deadline_of(due, &ts);
			(void) pthread_cond_timedwait(&as->cv, &as->mu, &ts);
		}
	}
	pthread_mutex_unlock(&as->mu);
	return NULL;
}

/* Under as->mu: a change to scan after the debounce. */
static void
mark_changed(auto_sync *as)
{
	int64_t now = mono_ms();
	if (!as->dirty) {
		as->dirty        = true;
		as->first_change = now;
	}
	as->last_change = now;
	pthread_cond_signal(&as->cv);
}

void
auto_sync_commit_hook(void *arg)
{
	auto_sync *as = arg;
	pthread_mutex_lock(&as->mu);
	mark_changed(as);
	pthread_mutex_unlock(&as->mu);
}

void
auto_sync_hold(auto_sync *as, const char *relationship)
{
	if (as == NULL || relationship == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	rel_state *rs = rel_find(as, relationship, true);
	if (rs != NULL) {
		rs->holds++;
	}
	pthread_mutex_unlock(&as->mu);
}

void
auto_sync_release(auto_sync *as, const char *relationship)
{
	if (as == NULL || relationship == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	rel_state *rs = rel_find(as, relationship, false);
	if (rs != NULL && rs->holds > 0) {
		rs->holds--;
	}
	mark_changed(as);
	pthread_mutex_unlock(&as->mu);
}

frep_code
auto_sync_new(
    engine *e, replication *r, const auto_sync_options *options, auto_sync **out, frep_status *st)
{
	pthread_condattr_t ca;
	auto_sync         *as = calloc(1, sizeof(*as));

	*out = NULL;
	if (options == NULL || options->send == NULL) {
		free(as);
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "auto_sync_new: options.send is required");
	}
	if (as == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	as->e = e;
	as->r = r;
	if (options != NULL) {
		as->o = *options;
	}
	if (as->o.max_delay_ms == 0) {
		as->o.max_delay_ms = as->o.debounce_ms * 10 < 1000 ? 1000 : as->o.debounce_ms * 10;
	}
	if (as->o.backoff_min_ms == 0) {
		as->o.backoff_min_ms = AUTO_SYNC_BACKOFF_MIN_MS_DEFAULT;
	}
	if (as->o.backoff_max_ms == 0) {
		as->o.backoff_max_ms = AUTO_SYNC_BACKOFF_MAX_MS_DEFAULT;
	}
	if (as->o.backoff_max_ms < as->o.backoff_min_ms) {
		as->o.backoff_max_ms = as->o.backoff_min_ms;
	}
	/* Pending work from before a restart: one scan at start. */
	as->dirty        = true;
	as->first_change = as->last_change = mono_ms();
	pthread_mutex_init(&as->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&as->cv, &ca);
	pthread_condattr_destroy(&ca);
	int err = pthread_create(&as->thread, NULL, worker, as);
	if (err != 0) {
		pthread_cond_destroy(&as->cv);
		pthread_mutex_destroy(&as->mu);
		free(as);
		return frep_status_set(st, FREP_INTERNAL, "auto-sync worker: %s", strerror(err));
	}
	*out = as;
	return FREP_OK;
}

void
auto_sync_free(auto_sync *as)
{
	if (as == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	as->stop = true;
	pthread_cond_broadcast(&as->cv);
	pthread_mutex_unlock(&as->mu);
	pthread_join(as->thread, NULL);
	pthread_cond_destroy(&as->cv);
	pthread_mutex_destroy(&as->mu);
	free(as->rels);
	free(as->scopes);
	free(as);
}

void
auto_sync_scope_get(
    auto_sync *as, const char *relationship, uint32_t scope_id, auto_sync_scope_info *out)
{
	memset(out, 0, sizeof(*out));
	if (as == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	scope_state *ss = scope_find(as, relationship, scope_id, false);
	if (ss != NULL) {
		*out = ss->info;
	}
	pthread_mutex_unlock(&as->mu);
}

int64_t
auto_sync_last_contact(auto_sync *as, const char *relationship)
{
	int64_t t = 0;
	if (as == NULL) {
		return 0;
	}
	pthread_mutex_lock(&as->mu);
	rel_state *rs = rel_find(as, relationship, false);
	if (rs != NULL) {
		t = rs->last_contact_unix_ms;
	}
	pthread_mutex_unlock(&as->mu);
	return t;
}

void
auto_sync_contact(auto_sync *as, const char *relationship, int64_t unix_ms)
{
	if (as == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	rel_state *rs = rel_find(as, relationship, true);
	if (rs != NULL && unix_ms > rs->last_contact_unix_ms) {
		rs->last_contact_unix_ms = unix_ms;
	}
	pthread_mutex_unlock(&as->mu);
}

void
auto_sync_counters_get(auto_sync *as, auto_sync_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (as == NULL) {
		return;
	}
	pthread_mutex_lock(&as->mu);
	*out = as->counters;
	for (size_t i = 0; i < as->n_scopes; i++) {
		out->pending += as->scopes[i].info.pending ? 1 : 0;
		out->errored += as->scopes[i].info.last_error_code != 0 ? 1 : 0;
	}
	pthread_mutex_unlock(&as->mu);
}
