#include "replication_service.h"
#include "replication_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "ipv4.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "log.h"
#include "metrics.h"
#include "rpc_server.h"

/* One reply being built: results and errors live in the arena; partner
 * replies they point into are kept until the reply is sent. */
typedef struct reply {
	convert_arena           a;
	Frep__V1__ScopeResult **results;
	size_t                  n_results, cap_results;
	Frep__V1__ItemError   **errors;
	size_t                  n_errors, cap_errors;
	ProtobufCMessage      **keep;
	size_t                  n_keep, cap_keep;
} reply;

/* Makes *arr (of *cap elements of elem bytes) hold at least n + 1. */
static frep_code
grow(void **arr, size_t *cap, size_t n, size_t elem, frep_status *st)
{
	if (n < *cap) {
		return FREP_OK;
	}
	size_t nc = *cap == 0 ? 16 : *cap * 2;
	while (nc <= n) {
		nc *= 2;
	}
	void *p = realloc(*arr, nc * elem);
	if (p == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	*arr = p;
	*cap = nc;
	return FREP_OK;
}

static void
reply_fini(reply *rp)
{
	for (size_t i = 0; i < rp->n_keep; i++) {
		protobuf_c_message_free_unpacked(rp->keep[i], NULL);
	}
	free(rp->keep);
	free(rp->results);
	free(rp->errors);
	convert_arena_fini(&rp->a);
}

static frep_code
add_error(reply *rp, const char *item, frep_code code, const char *message, frep_status *st)
{
	if (grow((void **) &rp->errors, &rp->cap_errors, rp->n_errors, sizeof(*rp->errors), st) !=
	    FREP_OK) {
		return st->code;
	}
	Frep__V1__ItemError *e = convert_arena_alloc(&rp->a, sizeof(*e), st);
	if (e == NULL) {
		return st->code;
	}
	frep__v1__item_error__init(e);
	e->item    = convert_arena_strdup(&rp->a, item, st);
	e->code    = (int32_t) code;
	e->message = convert_arena_message(&rp->a, message, st);
	if (e->item == NULL || e->message == NULL) {
		return st->code;
	}
	rp->errors[rp->n_errors++] = e;
	return FREP_OK;
}

static Frep__V1__ScopeResult *
new_result(reply *rp, const char *scope_text, const char *rel, const char *partner, frep_status *st)
{
	if (grow((void **) &rp->results, &rp->cap_results, rp->n_results, sizeof(*rp->results),
		st) != FREP_OK) {
		return NULL;
	}
	Frep__V1__ScopeResult *r = convert_arena_alloc(&rp->a, sizeof(*r), st);
	if (r == NULL) {
		return NULL;
	}
	frep__v1__scope_result__init(r);
	r->scope_id     = convert_arena_strdup(&rp->a, scope_text, st);
	r->relationship = convert_arena_strdup(&rp->a, rel, st);
	r->partner      = convert_arena_strdup(&rp->a, partner, st);
	if (r->scope_id == NULL || r->relationship == NULL || r->partner == NULL) {
		return NULL;
	}
	rp->results[rp->n_results++] = r;
	return r;
}

static void
result_status(reply *rp, Frep__V1__ScopeResult *r, frep_code code, const char *message)
{
	r->code    = (int32_t) code;
	r->message = convert_arena_message(&rp->a, message, NULL);
	if (r->message == NULL) {
		r->message = "";
	}
}

static frep_code
keep(reply *rp, ProtobufCMessage *m, frep_status *st)
{
	if (grow((void **) &rp->keep, &rp->cap_keep, rp->n_keep, sizeof(*rp->keep), st) !=
	    FREP_OK) {
		protobuf_c_message_free_unpacked(m, NULL);
		return st->code;
	}
	rp->keep[rp->n_keep++] = m;
	return FREP_OK;
}

/* Scopes on their way to the partner in one ApplyScopes call: many small
 * scopes travel together; a batch is flushed at BATCH_SCOPES_MAX scopes or
 * BATCH_BYTES of packed configs (less when the partner takes smaller
 * requests: batch_budget), and a scope bigger than that goes alone.
 * Each snapshot was taken with engine_scope_snapshot_outgoing (not on dry
 * runs): its registration ends when the batch's outcome is recorded.
 *
 * Two batches take turns (a pipe): while the partner applies one, sent
 * from a thread of its own, this thread snapshots and converts the scopes
 * of the next. At most one ApplyScopes call per relationship is in flight,
 * and each batch's outcome is recorded before the next one is sent: the
 * partner applies the batches in order, and every engine call stays on
 * this thread (the sending thread only makes the partner call). */
#define BATCH_SCOPES_MAX 256
#define BATCH_BYTES      (4u * 1024u * 1024u)
/* What a scope adds to an ApplyScopes request besides its packed config:
 * the config's tag and length (at most 6 bytes) and its expected digest
 * (tag, length, 64 hex digits). */
#define BATCH_SCOPE_OVERHEAD 80u
/* The request envelope around an ApplyScopesRequest: method path, call id,
 * deadline and the metadata of a signed partner call (relationship, sender,
 * timestamp, nonce, MAC, request id): well under this. */
#define BATCH_ENVELOPE_BYTES 2048u

/* Scopes to try once more from fresh digests (the partner's scope changed
 * between its digest and the apply): shared by a pipe's two batches. */
typedef struct retries {
	bool                    retried; /* a retry pass: no further retry */
	uint32_t               *ids;     /* room for every scope of the call */
	Frep__V1__ScopeResult **results;
	size_t                  n;
} retries;

typedef struct batch {
	convert_arena          a;
	Frep__V1__ScopeConfig *configs[BATCH_SCOPES_MAX];
	engine_scope_config   *snaps[BATCH_SCOPES_MAX];
	Frep__V1__ScopeResult *results[BATCH_SCOPES_MAX];
	char                  *expected[BATCH_SCOPES_MAX]; /* the partner's digest (reply arena) */
	size_t                 n;
	size_t                 bytes;
	retries               *retry;
	/* The ApplyScopes call of a sent batch, made by batch_call. */
	replication                 *r;
	const relctx                *c;
	rpc_call                    *call; /* the request's: its deadline and id */
	Frep__V1__ApplyScopesRequest req;
	ProtobufCMessage            *out;
	frep_code                    code;
	frep_status                  st;
	pthread_t                    thread;
	bool                         in_flight; /* sent, its outcome not yet recorded */
	bool                         threaded;  /* thread is to be joined */
} batch;

static batch *
batch_new(retries *retry)
{
	batch *b = malloc(sizeof(*b));
	if (b != NULL) {
		b->n         = 0;
		b->bytes     = 0;
		b->retry     = retry;
		b->in_flight = false;
		b->threaded  = false;
		convert_arena_init(&b->a);
	}
	return b;
}

static void
batch_end_sends(const relctx *c, batch *b, engine *e)
{
	for (size_t i = 0; i < b->n; i++) {
		if (!c->dry_run) {
			engine_scope_outgoing_end(
			    e, b->snaps[i]->scope.scope_id, b->snaps[i]->digest);
		}
		engine_scope_config_free(b->snaps[i]);
	}
}

static void
batch_reset(batch *b)
{
	convert_arena_fini(&b->a);
	convert_arena_init(&b->a);
	b->n     = 0;
	b->bytes = 0;
}

static void
batch_free(batch *b)
{
	if (b != NULL) {
		convert_arena_fini(&b->a);
		free(b);
	}
}

static void
sent_counts(reply *rp, Frep__V1__ScopeResult *res, const engine_scope_config *snap)
{
	Frep__V1__ObjectCounts *sent = convert_arena_alloc(&rp->a, sizeof(*sent), NULL);
	if (sent != NULL) {
		frep__v1__object_counts__init(sent);
		sent->exclusions   = (uint32_t) snap->n_exclusions;
		sent->reservations = (uint32_t) snap->n_reservations;
		sent->options      = (uint32_t) snap->n_options;
		sent->policies     = (uint32_t) snap->n_policies;
		res->sent          = sent;
	}
}

static uint32_t
sum3(const Frep__V1__ScopeChanges *ch, int which)
{
	uint32_t                       t    = 0;
	const Frep__V1__ObjectChanges *k[5] = {0};
	if (ch == NULL) {
		return 0;
	}
	k[0] = ch->scope;
	k[1] = ch->exclusions;
	k[2] = ch->reservations;
	k[3] = ch->options;
	k[4] = ch->policies;
	for (size_t i = 0; i < 5; i++) {
		if (k[i] != NULL) {
			t += which == 0 ? k[i]->added : which == 1 ? k[i]->updated : k[i]->removed;
		}
	}
	return t;
}

/* The "sent" audit record of one scope's attempt, whatever its outcome. */
static engine_audit_record
sent_record(replication *r, const relctx *c, uint32_t scope_id, const Frep__V1__ScopeResult *res)
{
	return (engine_audit_record){
	    .direction     = "sent",
	    .source        = r->local_url,
	    .relationship  = c->rel.name,
	    .scope_id      = scope_id,
	    .digest_before = res->digest_before != NULL ? res->digest_before : "",
	    .digest_after  = res->digest_after != NULL ? res->digest_after : "",
	    .added         = sum3(res->changes, 0),
	    .updated       = sum3(res->changes, 1),
	    .removed       = sum3(res->changes, 2),
	    .code          = res->code,
	    .message       = res->message != NULL ? res->message : "",
	    .request_id    = (char *) c->request_id,
	};
}

/* Audits attempts that failed before anything was sent (partner down,
 * snapshot failed): n scopes, one record each. */
static void
audit_failed(replication *r, const relctx *c, const uint32_t *ids,
    Frep__V1__ScopeResult *const *results, size_t n)
{
	frep_status          st;
	engine_audit_record *recs;
	if (c->dry_run || n == 0 || (recs = calloc(n, sizeof(*recs))) == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		recs[i] = sent_record(r, c, ids[i], results[i]);
	}
	if (engine_audit_add_many(r->e, recs, n, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "audit records: %s", st.message);
	}
	free(recs);
}

/* The partner call of a sent batch (on the batch's own thread, or on the
 * caller's when no thread could be made). Reads only the batch. */
static void *
batch_call(void *arg)
{
	batch    *b    = arg;
	rpc_call *prev = rpc_call_set_current(b->call);
	b->out         = NULL;
	b->code = replication__rel_call(b->r, b->c, "ApplyScopes", &b->req.base, &b->out, &b->st);
	rpc_call_set_current(prev);
	return NULL;
}

/* Sends the batch in one ApplyScopes call (each scope with the partner
 * digest it was based on), from a thread of its own when wait is false;
 * batch_finish takes the answer. */
static void
batch_send(replication *r, const relctx *c, batch *b, bool wait)
{
	Frep__V1__ApplyScopesRequest req = FREP__V1__APPLY_SCOPES_REQUEST__INIT;
	req.relationship                 = c->rel.name;
	req.source_server                = r->local_url;
	req.configs                      = b->configs;
	req.n_configs                    = b->n;
	req.dry_run                      = c->dry_run;
	req.expected_digests             = b->expected;
	req.n_expected_digests           = b->n;
	req.adopt                        = c->adopt;
	b->req                           = req;
	b->r                             = r;
	b->c                             = c;
	b->call                          = rpc_call_current();
	b->in_flight                     = true;
	b->threaded = !wait && pthread_create(&b->thread, NULL, batch_call, b) == 0;
	if (!b->threaded) {
		batch_call(b);
	}
}

/* Waits for a sent batch's answer and fills each scope's result; records
 * every attempt in the audit trail and every success as the pair's
 * last-synced state; then ends the batch's send registrations and empties
 * it. */
static void
batch_finish(replication *r, reply *rp, const relctx *c, batch *b)
{
	engine_audit_record recs[BATCH_SCOPES_MAX];
	uint32_t            synced_ids[BATCH_SCOPES_MAX];
	const char         *synced_digests[BATCH_SCOPES_MAX];
	size_t              n_recs = 0, n_synced = 0;
	const char         *url = c->rel.partner_server;

	if (!b->in_flight) {
		return;
	}
	if (b->threaded) {
		pthread_join(b->thread, NULL);
		b->threaded = false;
	}
	b->in_flight                        = false;
	frep_status                    st   = b->st;
	frep_code                      code = b->code;
	ProtobufCMessage              *out  = b->out;
	Frep__V1__ApplyScopesResponse *ar   = (Frep__V1__ApplyScopesResponse *) out;
	if (code == FREP_OK && (ar->n_outcomes != b->n || keep(rp, out, &st) != FREP_OK)) {
		if (ar->n_outcomes != b->n) {
			code = frep_status_set(&st, FREP_INTERNAL,
			    "partner %s answered %zu outcomes for %zu scopes", url, ar->n_outcomes,
			    b->n);
			protobuf_c_message_free_unpacked(out, NULL);
		} else {
			code = st.code;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		Frep__V1__ScopeResult *res  = b->results[i];
		engine_scope_config   *snap = b->snaps[i];
		sent_counts(rp, res, snap);
		res->changes       = NULL;
		res->digest_before = b->expected[i];
		res->digest_after  = "";
		if (code != FREP_OK) {
			result_status(rp, res, code, st.message);
		} else {
			Frep__V1__ApplyScopeOutcome *o = ar->outcomes[i];
			if (o->code != FREP_OK || o->result == NULL) {
				frep_status ost;
				frep_status_set(&ost,
				    o->code != FREP_OK ? (frep_code) o->code : FREP_INTERNAL, "%s",
				    o->message);
				replication__prefix_partner(&ost, url);
				result_status(rp, res, ost.code, ost.message);
				if (o->stale_expected && !b->retry->retried && !c->dry_run) {
					b->retry->ids[b->retry->n]       = snap->scope.scope_id;
					b->retry->results[b->retry->n++] = res;
				}
			} else {
				result_status(rp, res, FREP_OK,
				    c->dry_run ? "dry run: nothing changed on the partner"
					       : (res->partner_changed
							 ? "the partner's own edits since the last "
							   "replication were overwritten"
							 : ""));
				res->changes       = o->result->changes;
				res->digest_before = o->result->digest_before;
				res->digest_after  = o->result->digest_after;
				res->diff          = o->result->diff;
				res->n_diff        = o->result->n_diff;
				if (!c->dry_run) {
					synced_ids[n_synced]       = snap->scope.scope_id;
					synced_digests[n_synced++] = o->result->digest_after;
				}
			}
		}
		if (!c->dry_run) {
			recs[n_recs++] = sent_record(r, c, snap->scope.scope_id, res);
		}
	}
	/* One commit for the batch's record: audit and last-synced state. */
	if (engine_audit_add_synced(r->e, recs, n_recs, c->rel.name, synced_ids, synced_digests,
		n_synced, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "audit records and last-synced states: %s", st.message);
	}
	batch_end_sends(c, b, r->e);
	batch_reset(b);
}

/* A relationship's two batches: cur is being filled, sent is in flight
 * (or empty). */
typedef struct batch_pipe {
	batch *cur;
	batch *sent;
	size_t budget; /* bytes of a batch (batch_budget); 0: not yet known */
	size_t fixed;  /* the request's bytes besides its scopes (batch_budget) */
	bool   asked;  /* the partner's limit was asked */
} batch_pipe;

/* The bytes of scopes (packed config + BATCH_SCOPE_OVERHEAD each) one
 * ApplyScopes call may carry: BATCH_BYTES, or less when the partner takes
 * smaller requests (its max_message_bytes, less the request's own fields
 * and the envelope). Before a batch grows past what every frep server
 * takes (RPC_MIN_MAX_MESSAGE_BYTES), the partner is asked for its limit,
 * once per replication: a partner run with --max-message-bytes below a
 * batch refused the whole batch RESOURCE_EXHAUSTED although each scope
 * fitted. A limit that cannot be asked (the partner does not answer: the
 * apply will say why) keeps batches within RPC_MIN_MAX_MESSAGE_BYTES; the
 * question takes at most a quarter of what is left of the caller's
 * deadline (partner_max_request), so the batches still have their time. A
 * scope bigger than the budget goes alone (batch_add). */
static size_t
batch_budget(replication *r, const relctx *c, batch_pipe *p, size_t want)
{
	if (p->budget == 0) {
		/* The request's own fields and the envelope; the relationship's
		 * name travels twice (field and MAC metadata), counted twice with
		 * the URL. */
		p->fixed = BATCH_ENVELOPE_BYTES + 2 * (strlen(c->rel.name) + strlen(r->local_url));
		p->budget =
		    p->fixed < RPC_MIN_MAX_MESSAGE_BYTES ? RPC_MIN_MAX_MESSAGE_BYTES - p->fixed : 1;
	}
	if (want > p->budget && !p->asked) {
		frep_status st;
		size_t      max = partner_max_request(r->pool, c->rel.partner_server, &st);
		p->asked        = true;
		if (max > p->fixed) {
			p->budget = max - p->fixed < BATCH_BYTES ? max - p->fixed : BATCH_BYTES;
		}
	}
	return p->budget;
}

/* Sends the current batch without waiting, once the one before it has
 * answered and its outcome is recorded; the two then swap. */
static void
pipe_flush(replication *r, reply *rp, const relctx *c, batch_pipe *p)
{
	batch_finish(r, rp, c, p->sent);
	if (p->cur->n == 0) {
		return;
	}
	batch_send(r, c, p->cur, false);
	batch *t = p->sent;
	p->sent  = p->cur;
	p->cur   = t;
}

/* Records the batch in flight, then sends and records the current one. */
static void
pipe_drain(replication *r, reply *rp, const relctx *c, batch_pipe *p)
{
	batch_finish(r, rp, c, p->sent);
	if (p->cur->n > 0) {
		batch_send(r, c, p->cur, true);
		batch_finish(r, rp, c, p->cur);
	}
}

/* Queues one scope (its snapshot now owned by the batch), flushing first
 * when it would not fit. expected: the partner's digest ("" = none). */
static void
batch_add(replication *r, reply *rp, const relctx *c, batch_pipe *p, engine_scope_config *snap,
    const char *expected, Frep__V1__ScopeResult *res)
{
	frep_status            st;
	Frep__V1__ScopeConfig *cfg = NULL;
	batch                 *b   = NULL;
	for (int pass = 0; pass < 2; pass++) {
		b   = p->cur;
		cfg = NULL;
		if (convert_scope_config_to_proto(snap, &b->a, &cfg, &st) != FREP_OK) {
			result_status(rp, res, st.code, st.message);
			audit_failed(r, c, &snap->scope.scope_id, &res, 1);
			if (!c->dry_run) {
				engine_scope_outgoing_end(r->e, snap->scope.scope_id, snap->digest);
			}
			engine_scope_config_free(snap);
			return;
		}
		size_t size = protobuf_c_message_get_packed_size(&cfg->base) + BATCH_SCOPE_OVERHEAD;
		size_t budget = batch_budget(r, c, p, b->bytes + size);
		if (pass == 0 && b->n > 0 &&
		    (b->n == BATCH_SCOPES_MAX || b->bytes + size > budget)) {
			/* The config lives in the batch's arena: convert again, into
			 * the other batch's. */
			pipe_flush(r, rp, c, p);
			continue;
		}
		b->configs[b->n]  = cfg;
		b->snaps[b->n]    = snap;
		b->results[b->n]  = res;
		b->expected[b->n] = convert_arena_strdup(&rp->a, expected, NULL);
		if (b->expected[b->n] == NULL) {
			b->expected[b->n] = (char *) "";
		}
		b->n++;
		b->bytes += size;
		break;
	}
	if (b->bytes >= p->budget) {
		pipe_flush(r, rp, c, p);
	}
}

/* A scope the partner holds as it is here: not sent (unless full). */
static bool
scope_unchanged(bool full, bool exists, const char *local, const char *remote)
{
	return exists && !full && strcmp(remote, local) == 0;
}

/* Auto mode: the scope was edited on the partner since the last
 * replication (or never replicated and different there): not ours to
 * overwrite, not sent. */
static bool
scope_conflict(const relctx *c, bool was, const char *synced, const char *remote)
{
	return c->auto_mode && (was ? strcmp(remote, synced) != 0 : remote[0] != '\0');
}

/* Replicates n scopes of one relationship into the given results: one
 * digest call, then the scopes that differ (every scope with full) in
 * ApplyScopes batches. retried: this is the one retry of scopes whose
 * partner digest moved; they are not retried again. given: NULL, or the
 * caller's snapshots (given[i] for ids[i], or NULL), each registered for
 * the send as by engine_scope_digests_outgoing and taken over here
 * whatever happens (not on dry runs). */
static void
replicate_into(replication *r, reply *rp, const relctx *c, const uint32_t *ids, char *const *texts,
    Frep__V1__ScopeResult *const *results, size_t n, bool full, bool retried,
    engine_scope_config **given)
{
	frep_status           st;
	ProtobufCMessage     *dout  = NULL;
	retries               retry = {.retried = retried};
	batch_pipe            p     = {0};
	engine_scope_config **kept  = NULL;

	Frep__V1__GetScopeDigestsRequest dreq = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	dreq.relationship                     = c->rel.name;
	dreq.scope_ids                        = (char **) texts;
	dreq.n_scope_ids                      = n;
	frep_code dcode = replication__rel_call(r, c, "GetScopeDigests", &dreq.base, &dout, &st);
	if (dcode != FREP_OK) {
		/* The partner is down or refuses: every scope of it says so. */
		for (size_t i = 0; i < n; i++) {
			result_status(rp, results[i], dcode, st.message);
		}
		audit_failed(r, c, ids, results, n);
		goto out;
	}
	Frep__V1__GetScopeDigestsResponse *digests = (Frep__V1__GetScopeDigestsResponse *) dout;

	/* The local digests are stored: only scopes that differ are read. */
	char(*local)[65]          = convert_arena_alloc(&rp->a, (n + 1) * 65, &st);
	bool              *exists = convert_arena_alloc(&rp->a, (n + 1) * sizeof(bool), &st);
	engine_sync_state *synced = convert_arena_alloc(&rp->a, (n + 1) * sizeof(*synced), &st);
	bool              *was    = convert_arena_alloc(&rp->a, (n + 1) * sizeof(bool), &st);
	/* A digest computed here comes with its snapshot, registered for the
	 * send (not on dry runs, which register nothing): a scope changed
	 * since its last replication is read once, not twice. The caller's
	 * snapshots count against the same bound. */
	size_t budget = KEPT_RESERVATIONS_MAX;
	for (size_t i = 0; given != NULL && i < n; i++) {
		size_t g = given[i] != NULL ? given[i]->n_reservations : 0;
		budget   = budget > g ? budget - g : 0;
	}
	if (!c->dry_run &&
	    (kept = convert_arena_alloc(&rp->a, (n + 1) * sizeof(*kept), &st)) != NULL) {
		memset(kept, 0, (n + 1) * sizeof(*kept));
	}
	if (local == NULL || exists == NULL || synced == NULL || was == NULL ||
	    (!c->dry_run && kept == NULL) || (p.cur = batch_new(&retry)) == NULL ||
	    (p.sent = batch_new(&retry)) == NULL ||
	    (c->dry_run ? engine_scope_digests(r->e, ids, n, local, exists, &st)
			: engine_scope_digests_outgoing(
			      r->e, ids, n, local, exists, kept, budget, &st)) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			result_status(rp, results[i], st.code, st.message);
		}
		audit_failed(r, c, ids, results, n);
		goto out;
	}
	if (engine_sync_states_get(r->e, c->rel.name, ids, n, synced, was, &st) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			result_status(rp, results[i], st.code, st.message);
		}
		audit_failed(r, c, ids, results, n);
		goto out;
	}
	retry.ids     = convert_arena_alloc(&rp->a, (n + 1) * sizeof(*retry.ids), &st);
	retry.results = convert_arena_alloc(&rp->a, (n + 1) * sizeof(*retry.results), &st);
	if (retry.ids == NULL || retry.results == NULL) {
		retry.retried = true; /* no room to remember retries: none */
	}
	/* Each scope's fate is known now. The snapshots of scopes that will
	 * not be sent (unchanged, or a conflict) are released at once: no
	 * registration stands for a send that never comes, holding off the
	 * partner's version of the scope meanwhile. A caller's snapshot is
	 * sent only while it is still this scope's version here (the scope
	 * exists and its digest is the one just read); else the one kept
	 * here, or one read when the scope's turn comes. */
	for (size_t i = 0; i < n; i++) {
		const char *remote = replication__partner_digest(digests, i);
		bool        send   = !scope_unchanged(full, exists[i], local[i], remote) &&
			    !scope_conflict(c, was[i], synced[i].digest, remote);
		if (given != NULL && given[i] != NULL &&
		    (!send || !exists[i] || strcmp(given[i]->digest, local[i]) != 0 ||
			(kept != NULL && kept[i] != NULL))) {
			engine_scope_outgoing_release(r->e, &given[i], 1);
		}
		if (!send && kept != NULL) {
			engine_scope_outgoing_release(r->e, &kept[i], 1);
		}
	}
	for (size_t i = 0; i < n; i++) {
		Frep__V1__ScopeResult *res    = results[i];
		engine_scope_config   *snap   = NULL;
		const char            *remote = replication__partner_digest(digests, i);
		if (kept != NULL && kept[i] != NULL) {
			snap    = kept[i]; /* handed over: batch_add or the end below */
			kept[i] = NULL;
		} else if (given != NULL && given[i] != NULL) {
			snap     = given[i];
			given[i] = NULL;
		}
		if (was[i]) {
			res->last_synced_digest =
			    convert_arena_strdup(&rp->a, synced[i].digest, NULL);
			res->last_synced_unix_ms = synced[i].time_unix_ms;
			res->partner_changed     = strcmp(remote, synced[i].digest) != 0;
		}
		if (scope_unchanged(full, exists[i], local[i], remote)) {
			result_status(
			    rp, res, FREP_OK, "unchanged: the partner holds the same digest");
			res->unchanged       = true;
			res->partner_changed = false;
			res->digest_before   = local[i];
			res->digest_after    = local[i];
			continue; /* its snapshot was released above */
		}
		if (scope_conflict(c, was[i], synced[i].digest, remote)) {
			/* Edited there since the last replication (or never
			 * replicated and different there): not ours to overwrite. */
			char msg[400];
			snprintf(msg, sizeof(msg),
			    "conflict: the scope changed on both servers since the last "
			    "replication (here %.12s, there %.12s, last synced %.12s); "
			    "nothing sent: replicate it by hand from the server that should win",
			    local[i], remote[0] != '\0' ? remote : "(missing)",
			    was[i] ? synced[i].digest : "(none)");
			result_status(rp, res, FREP_ABORTED, msg);
			res->partner_changed = true;
			res->digest_before   = convert_arena_strdup(&rp->a, remote, NULL);
			res->digest_after    = res->digest_before;
			continue; /* its snapshot was released above */
		}
		if (snap == NULL && (c->dry_run ? engine_scope_snapshot(r->e, ids[i], &snap, &st)
						: engine_scope_snapshot_outgoing(
						      r->e, ids[i], &snap, &st)) != FREP_OK) {
			result_status(rp, res, st.code, st.message);
			audit_failed(r, c, &ids[i], &res, 1);
			continue;
		}
		if (!full && strcmp(remote, snap->digest) == 0) {
			/* Changed here since the digest read, to what the partner has
			 * (an apply from the partner arrived meanwhile). */
			result_status(
			    rp, res, FREP_OK, "unchanged: the partner holds the same digest");
			res->unchanged       = true;
			res->partner_changed = false;
			res->digest_before   = convert_arena_strdup(&rp->a, snap->digest, NULL);
			res->digest_after    = res->digest_before;
			if (!c->dry_run) {
				engine_scope_outgoing_end(r->e, ids[i], snap->digest);
			}
			engine_scope_config_free(snap);
			continue;
		}
		batch_add(r, rp, c, &p, snap, remote, res);
	}
	pipe_drain(r, rp, c, &p);

	/* Scopes whose partner digest moved between the digest call and the
	 * apply: once more, from fresh digests. */
	if (retry.n > 0) { /* a retry pass makes no retries of its own */
		char **rtexts = convert_arena_alloc(&rp->a, (retry.n + 1) * sizeof(char *), &st);
		for (size_t k = 0; rtexts != NULL && k < retry.n; k++) {
			rtexts[k] = retry.results[k]->scope_id;
		}
		if (rtexts != NULL) {
			replicate_into(
			    r, rp, c, retry.ids, rtexts, retry.results, retry.n, full, true, NULL);
		}
	}

out:
	/* Snapshots not handed to a batch (an error before the scopes' loop). */
	engine_scope_outgoing_release(r->e, kept, n);
	engine_scope_outgoing_release(r->e, given, n);
	batch_free(p.cur);
	batch_free(p.sent);
	if (dout != NULL) {
		protobuf_c_message_free_unpacked(dout, NULL);
	}
}

/* Replicates the given scopes of one relationship (new results in rp). */
static void
replicate_relationship(replication *r, reply *rp, const char *name, const uint32_t *ids,
    char *const *texts, size_t n, bool full, bool dry_run, bool adopt)
{
	frep_status             st;
	relctx                  c;
	Frep__V1__ScopeResult **results;

	if (replication__relctx_init(r, name, &c, &st) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			Frep__V1__ScopeResult *res = new_result(rp, texts[i], name, "", NULL);
			if (res != NULL) {
				result_status(rp, res, st.code, st.message);
			}
		}
		return;
	}
	c.dry_run = dry_run;
	c.adopt   = adopt;
	results   = convert_arena_alloc(&rp->a, (n + 1) * sizeof(*results), &st);
	if (results == NULL) {
		replication__relctx_fini(&c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if ((results[i] = new_result(rp, texts[i], name, c.rel.partner_server, &st)) ==
		    NULL) {
			n = i;
			break;
		}
	}
	replicate_into(r, rp, &c, ids, texts, results, n, full, false, NULL);
	replication__relctx_fini(&c);
}

/* One info line per replication call, with its request id: a success is
 * otherwise logged only at debug (the access log), and an operator
 * follows a replication from this line to the partner's "apply" line and
 * to both audits by that id. */
static void
log_replication_done(const reply *rp, bool dry_run, rpc_call *call)
{
	size_t      sent = 0, unchanged = 0, failed = 0;
	frep_code   code = FREP_OK;
	const char *peer = rp->n_results > 0 ? rp->results[0]->partner : NULL;
	for (size_t i = 0; i < rp->n_results; i++) {
		const Frep__V1__ScopeResult *res = rp->results[i];
		if (res->code != FREP_OK) {
			if (failed++ == 0) {
				code = (frep_code) res->code; /* the first failure's */
			}
		} else if (res->unchanged) {
			unchanged++;
		} else {
			sent++;
		}
		if (peer != NULL && strcmp(peer, res->partner) != 0) {
			peer = NULL; /* several partners: each failure's line names its own */
		}
	}
	char msg[200];
	snprintf(msg, sizeof(msg), "%zu scopes: %zu %s, %zu unchanged, %zu failed", rp->n_results,
	    sent, dry_run ? "compared (dry run: nothing changed on the partner)" : "sent",
	    unchanged, failed);
	rpc_call_log_event(call, RPC_LOG_INFO, "replication", frep_code_name(code), peer, msg);
}

static void
send_reply(reply *rp, bool dry_run, Frep__V1__ReplicateResponse_Closure closure, void *closure_data)
{
	Frep__V1__ReplicateResponse out = FREP__V1__REPLICATE_RESPONSE__INIT;
	frep_status                 st;
	out.scope_ids = convert_arena_alloc(&rp->a, (rp->n_results + 1) * sizeof(char *), &st);
	if (out.scope_ids == NULL) {
		rpc_call_fail_status(closure_data, &st);
		closure(NULL, closure_data);
		return;
	}
	for (size_t i = 0; i < rp->n_results; i++) {
		if (rp->results[i]->code == FREP_OK) {
			out.scope_ids[out.n_scope_ids++] = rp->results[i]->scope_id;
		}
		rpc_metrics_count(rpc_server_metrics(rpc_call_server(closure_data)),
		    "frep_replications_total", "Scopes replicated to a partner, by result.",
		    "result", frep_code_name(rp->results[i]->code), 1);
		if (rp->results[i]->code != FREP_OK) {
			/* Every failed replication is logged. */
			char msg[FREP_STATUS_MESSAGE_MAX + 300];
			snprintf(msg, sizeof(msg), "scope %s (relationship %s) to %s: %s",
			    rp->results[i]->scope_id, rp->results[i]->relationship,
			    rp->results[i]->partner, rp->results[i]->message);
			rpc_call_log_event(closure_data, RPC_LOG_WARN, "replication",
			    frep_code_name(rp->results[i]->code), rp->results[i]->partner, msg);
		}
	}
	log_replication_done(rp, dry_run, closure_data);
	out.results   = rp->results;
	out.n_results = rp->n_results;
	out.errors    = rp->errors;
	out.n_errors  = rp->n_errors;
	closure(&out, closure_data);
}

/* --- request checks in O(n log n) ----------------------------------------- */

typedef struct id_at {
	uint32_t id;
	size_t   at;
} id_at;

static int
cmp_id_at(const void *a, const void *b)
{
	const id_at *x = a, *y = b;
	if (x->id != y->id) {
		return x->id < y->id ? -1 : 1;
	}
	return x->at < y->at ? -1 : x->at > y->at;
}

/* The first repeated id: *at its later index, *of its earlier one; *at is
 * SIZE_MAX when every id is unique. */
static frep_code
find_repeat(
    const uint32_t *ids, size_t n, convert_arena *a, size_t *at, size_t *of, frep_status *st)
{
	*at      = SIZE_MAX;
	*of      = SIZE_MAX;
	id_at *v = convert_arena_alloc(a, (n + 1) * sizeof(*v), st);
	if (v == NULL) {
		return st->code;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = (id_at){.id = ids[i], .at = i};
	}
	qsort(v, n, sizeof(*v), cmp_id_at);
	for (size_t i = 1; i < n; i++) {
		if (v[i].id == v[i - 1].id && v[i].at < *at) {
			*at = v[i].at;
			*of = v[i - 1].at;
		}
	}
	return FREP_OK;
}

/* qsort has no context argument: the relationship names travel in a
 * thread-local pointer for the comparison. */
static _Thread_local char *const *sort_names;

static int
cmp_by_key(const void *a, const void *b)
{
	size_t x = *(const size_t *) a, y = *(const size_t *) b;
	int    c = strcmp(sort_names[x], sort_names[y]);
	return c != 0 ? c : (x < y ? -1 : x > y);
}

static _Thread_local const size_t *sort_order;

static int
cmp_group_first(const void *a, const void *b)
{
	size_t x = sort_order[*(const size_t *) a], y = sort_order[*(const size_t *) b];
	return x < y ? -1 : x > y;
}

/* Groups the indices i of keys[0..n) whose keys[i] is not NULL by equal
 * key, in O(n log n): *order lists them sorted by (key, index), and
 * (*starts)[g] is where group g begins in *order; groups are ordered by
 * their first (smallest) index, so a request's order is kept. Both arrays
 * live in arena a. */
static frep_code
group_by_key(convert_arena *a, char *const *keys, size_t n, size_t **order, size_t *n_order,
    size_t **starts, size_t *n_groups, frep_status *st)
{
	size_t *o = convert_arena_alloc(a, (n + 1) * sizeof(size_t), st);
	size_t *g = convert_arena_alloc(a, (n + 1) * sizeof(size_t), st);
	if (o == NULL || g == NULL) {
		return st->code;
	}
	size_t no = 0, ng = 0;
	for (size_t i = 0; i < n; i++) {
		if (keys[i] != NULL) {
			o[no++] = i;
		}
	}
	sort_names = keys;
	qsort(o, no, sizeof(*o), cmp_by_key);
	sort_names = NULL;
	for (size_t k = 0; k < no; k++) {
		if (k == 0 || strcmp(keys[o[k]], keys[o[k - 1]]) != 0) {
			g[ng++] = k;
		}
	}
	sort_order = o;
	qsort(g, ng, sizeof(*g), cmp_group_first);
	sort_order = NULL;
	*order     = o;
	*n_order   = no;
	*starts    = g;
	*n_groups  = ng;
	return FREP_OK;
}

/* --- fan-out: the partners of one request at once ---------------------------- */

/* At most this many partners are contacted at once by one request. */
#define FANOUT_MAX 8

/* One relationship's part of a request: its scopes, and the results it
 * gets, in a reply of its own (its own arena: threads never share one). */
typedef struct rel_job {
	const char     *name;
	const uint32_t *ids;
	char *const    *texts;
	size_t          n;
	reply           sub;
} rel_job;

typedef struct fanout {
	replication    *r;
	rel_job        *jobs;
	bool            full, dry_run;
	rpc_call       *call;     /* the request: its deadline and id go with partner calls */
	char *const    *partners; /* the grouping key of each job */
	const size_t   *order, *starts;
	size_t          n_order, n_groups;
	pthread_mutex_t mtx;
	size_t          next; /* the next partner group to take */
} fanout;

/* Takes partner groups until none is left; a group's relationships run in
 * their request order (one partner: one relationship after another). */
static void *
fanout_worker(void *arg)
{
	fanout   *fo   = arg;
	rpc_call *prev = rpc_call_set_current(fo->call);
	for (;;) {
		pthread_mutex_lock(&fo->mtx);
		size_t g = fo->next++;
		pthread_mutex_unlock(&fo->mtx);
		if (g >= fo->n_groups) {
			break;
		}
		const char *key = fo->partners[fo->order[fo->starts[g]]];
		for (size_t k = fo->starts[g];
		     k < fo->n_order && strcmp(fo->partners[fo->order[k]], key) == 0; k++) {
			rel_job *j = &fo->jobs[fo->order[k]];
			replicate_relationship(fo->r, &j->sub, j->name, j->ids, j->texts, j->n,
			    fo->full, fo->dry_run, false);
		}
	}
	rpc_call_set_current(prev);
	return NULL;
}

/* Runs jobs[0..n) grouped by partner URL (partners[i], NULL: a job that
 * cannot run, skipped): up to FANOUT_MAX partners at once, each partner's
 * relationships in order; then appends every job's results to rp in job
 * order, as one partner after another would have. The jobs' replies stay
 * alive (their results are rp's) until fanout_fini. */
static frep_code
fanout_run(replication *r, reply *rp, rel_job *jobs, char *const *partners, size_t n, bool full,
    bool dry_run, void *closure_data, frep_status *st)
{
	fanout  fo    = {.r = r,
		.jobs       = jobs,
		.full       = full,
		.dry_run    = dry_run,
		.call       = closure_data,
		.partners   = partners};
	size_t *order = NULL, *starts = NULL;
	if (group_by_key(&rp->a, partners, n, &order, &fo.n_order, &starts, &fo.n_groups, st) !=
	    FREP_OK) {
		return st->code;
	}
	fo.order  = order;
	fo.starts = starts;
	pthread_mutex_init(&fo.mtx, NULL);
	pthread_t threads[FANOUT_MAX - 1];
	size_t    n_threads = 0;
	while (n_threads + 1 < FANOUT_MAX && n_threads + 1 < fo.n_groups &&
	       pthread_create(&threads[n_threads], NULL, fanout_worker, &fo) == 0) {
		n_threads++; /* one that cannot be started: fewer at once */
	}
	fanout_worker(&fo); /* this thread takes groups too */
	for (size_t t = 0; t < n_threads; t++) {
		pthread_join(threads[t], NULL);
	}
	pthread_mutex_destroy(&fo.mtx);
	for (size_t i = 0; i < n; i++) {
		reply *sub = &jobs[i].sub;
		if (grow((void **) &rp->results, &rp->cap_results, rp->n_results + sub->n_results,
			sizeof(*rp->results), st) != FREP_OK) {
			return st->code;
		}
		memcpy(rp->results + rp->n_results, sub->results,
		    sub->n_results * sizeof(*rp->results));
		rp->n_results += sub->n_results;
	}
	return FREP_OK;
}

static void
fanout_fini(rel_job *jobs, size_t n)
{
	for (size_t i = 0; jobs != NULL && i < n; i++) {
		reply_fini(&jobs[i].sub);
	}
	free(jobs);
}

/* Ends a replication request: unless failed (a status the request could
 * not be prepared past), runs the jobs (fanout_run) and answers with rp;
 * otherwise answers with the failure. Frees the jobs and rp. */
static void
fanout_finish(replication *r, reply *rp, rel_job *jobs, char *const *partners, size_t n, bool full,
    bool dry_run, frep_status *failed, Frep__V1__ReplicateResponse_Closure closure,
    void *closure_data)
{
	frep_status st;
	if (failed == NULL &&
	    fanout_run(r, rp, jobs, partners, n, full, dry_run, closure_data, &st) != FREP_OK) {
		failed = &st;
	}
	if (failed != NULL) {
		rpc_call_fail_status(closure_data, failed);
		closure(NULL, closure_data);
	} else {
		send_reply(rp, dry_run, closure, closure_data);
	}
	fanout_fini(jobs, n);
	reply_fini(rp);
}

static rel_job *
jobs_new(size_t n, frep_status *st)
{
	rel_job *jobs = calloc(n + 1, sizeof(*jobs));
	if (jobs == NULL) {
		frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i <= n; i++) {
		convert_arena_init(&jobs[i].sub.a);
	}
	return jobs;
}

/* The job for every scope of relationship rel (as stored); rel must
 * outlive the job. */
static frep_code
job_all_of(reply *rp, const engine_failover *rel, rel_job *job, frep_status *st)
{
	char **texts = convert_arena_alloc(&rp->a, (rel->n_scope_ids + 1) * sizeof(char *), st);
	if (texts == NULL) {
		return st->code;
	}
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		if ((texts[i] = convert_ipv4_to_text(&rp->a, rel->scope_ids[i], false, st)) ==
		    NULL) {
			return st->code;
		}
	}
	job->name  = rel->name;
	job->ids   = rel->scope_ids;
	job->texts = texts;
	job->n     = rel->n_scope_ids;
	return FREP_OK;
}

static void
replication_replicate_by_name(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateByNameRequest *in, Frep__V1__ReplicateResponse_Closure closure,
    void *closure_data)
{
	replication     *r = (replication *) service;
	frep_status      st;
	reply            rp       = {0};
	engine_failover *rels     = NULL;
	size_t           n_rels   = 0;
	rel_job         *jobs     = NULL;
	char           **partners = NULL;
	bool             listed   = in->n_names == 0;
	bool             ok       = false;
	convert_arena_init(&rp.a);

	if (replication__check_names(in->names, in->n_names, &st) != FREP_OK) {
		goto fail;
	}
	if (listed) {
		/* The cmdlet with no parameters: every failover scope. */
		if (engine_failover_list(r->e, &rels, &n_rels, &st) != FREP_OK) {
			goto fail;
		}
	} else {
		if ((rels = calloc(in->n_names + 1, sizeof(*rels))) == NULL) {
			frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < in->n_names; i++) {
			if (engine_failover_get(r->e, in->names[i], &rels[n_rels], &st) ==
			    FREP_OK) {
				n_rels++;
				continue;
			}
			if (st.code != FREP_NOT_FOUND) {
				goto fail;
			}
			char msg[FREP_STATUS_MESSAGE_MAX];
			snprintf(msg, sizeof(msg), "no failover relationship named \"%s\"",
			    in->names[i]);
			if (add_error(&rp, in->names[i], FREP_NOT_FOUND, msg, &st) != FREP_OK) {
				goto fail;
			}
		}
	}
	if ((jobs = jobs_new(n_rels, &st)) == NULL ||
	    (partners = convert_arena_alloc(&rp.a, (n_rels + 1) * sizeof(char *), &st)) == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < n_rels; i++) {
		if (job_all_of(&rp, &rels[i], &jobs[i], &st) != FREP_OK) {
			goto fail;
		}
		partners[i] = rels[i].n_scope_ids > 0 ? rels[i].partner_server : NULL;
	}
	ok = true;
fail:
	fanout_finish(r, &rp, jobs, partners, n_rels, in->force || in->full_resend, in->dry_run,
	    ok ? NULL : &st, closure, closure_data);
	if (listed) {
		engine_failovers_free(rels, n_rels);
	} else {
		for (size_t i = 0; i < n_rels; i++) {
			engine_failover_fini(&rels[i]);
		}
		free(rels);
	}
}

static void
replication_replicate_by_scope_id(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateByScopeIdRequest *in, Frep__V1__ReplicateResponse_Closure closure,
    void *closure_data)
{
	replication *r = (replication *) service;
	frep_status  st;
	reply        rp       = {0};
	uint32_t    *ids      = NULL;
	char       **rel_of   = NULL;
	rel_job     *jobs     = NULL;
	size_t       n_groups = 0;
	char       **partners = NULL;
	bool         ok       = false;
	size_t       dup_at, dup_of;
	convert_arena_init(&rp.a);

	/* A malformed request replicates nothing. */
	if (convert_scope_ids_from_proto(
		in->scope_ids, in->n_scope_ids, "scope_ids", &rp.a, &ids, &st) != FREP_OK) {
		goto fail;
	}
	if (find_repeat(ids, in->n_scope_ids, &rp.a, &dup_at, &dup_of, &st) != FREP_OK) {
		goto fail;
	}
	if (dup_at != SIZE_MAX) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT,
		    "scope_ids[%zu] \"%s\" repeats scope_ids[%zu]", dup_at, in->scope_ids[dup_at],
		    dup_of);
		goto fail;
	}
	if (in->n_scope_ids == 0) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "scope_ids is empty");
		goto fail;
	}
	rel_of = convert_arena_alloc(&rp.a, in->n_scope_ids * sizeof(char *), &st);
	if (rel_of == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < in->n_scope_ids; i++) {
		engine_scope sc;
		char         owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
		bool         found = false;
		char         msg[FREP_STATUS_MESSAGE_MAX];
		rel_of[i] = NULL;
		if (engine_scope_get(r->e, ids[i], &sc, &st) != FREP_OK) {
			if (st.code != FREP_NOT_FOUND) {
				goto fail;
			}
			snprintf(msg, sizeof(msg), "scope %s does not exist on this server",
			    in->scope_ids[i]);
			if (add_error(&rp, in->scope_ids[i], FREP_NOT_FOUND, msg, &st) != FREP_OK) {
				goto fail;
			}
			continue;
		}
		engine_scope_fini(&sc);
		if (engine_failover_of_scope(r->e, ids[i], &found, owner, &st) != FREP_OK) {
			goto fail;
		}
		if (!found) {
			snprintf(msg, sizeof(msg), "scope %s is in no failover relationship",
			    in->scope_ids[i]);
			if (add_error(&rp, in->scope_ids[i], FREP_FAILED_PRECONDITION, msg, &st) !=
			    FREP_OK) {
				goto fail;
			}
			continue;
		}
		if ((rel_of[i] = convert_arena_strdup(&rp.a, owner, &st)) == NULL) {
			goto fail;
		}
	}
	/* A job per relationship, in the order relationships first appear,
	 * each with its scopes in request order. */
	size_t *order = NULL, *starts = NULL, n_order = 0;
	if (group_by_key(&rp.a, rel_of, in->n_scope_ids, &order, &n_order, &starts, &n_groups,
		&st) != FREP_OK) {
		goto fail;
	}
	uint32_t *gids   = convert_arena_alloc(&rp.a, (n_order + 1) * sizeof(uint32_t), &st);
	char    **gtexts = convert_arena_alloc(&rp.a, (n_order + 1) * sizeof(char *), &st);
	partners         = convert_arena_alloc(&rp.a, (n_groups + 1) * sizeof(char *), &st);
	if (gids == NULL || gtexts == NULL || partners == NULL ||
	    (jobs = jobs_new(n_groups, &st)) == NULL) {
		goto fail;
	}
	size_t used = 0;
	for (size_t g = 0; g < n_groups; g++) {
		size_t          k0  = starts[g];
		const char     *rel = rel_of[order[k0]];
		rel_job        *j   = &jobs[g];
		engine_failover f;
		j->name  = rel;
		j->ids   = gids + used;
		j->texts = gtexts + used;
		for (size_t k = k0; k < n_order && strcmp(rel_of[order[k]], rel) == 0; k++) {
			gids[used]     = ids[order[k]];
			gtexts[used++] = in->scope_ids[order[k]];
			j->n++;
		}
		/* The partner, to group by; a relationship gone meanwhile is
		 * reported by its job (NOT_FOUND per scope). */
		partners[g] = (char *) rel;
		if (engine_failover_get(r->e, rel, &f, &st) == FREP_OK) {
			partners[g] = convert_arena_strdup(&rp.a, f.partner_server, &st);
			engine_failover_fini(&f);
			if (partners[g] == NULL) {
				goto fail;
			}
		}
	}
	ok = true;
fail:
	fanout_finish(r, &rp, jobs, partners, n_groups, in->force || in->full_resend, in->dry_run,
	    ok ? NULL : &st, closure, closure_data);
}

/* --- auto-sync -------------------------------------------------------------- */

frep_code
replication_auto_sync_scopes(replication *r, const char *name, const uint32_t *ids, size_t n,
    engine_scope_config **snaps, replication_auto_outcome *out, frep_status *st)
{
	reply                   rp = {0};
	relctx                  c;
	char                  **texts;
	Frep__V1__ScopeResult **results;
	frep_code               code = FREP_OK;

	if (n == 0) {
		return FREP_OK;
	}
	convert_arena_init(&rp.a);
	if (replication__relctx_init(r, name, &c, st) != FREP_OK) {
		engine_scope_outgoing_release(r->e, snaps, n);
		reply_fini(&rp);
		return st->code;
	}
	c.auto_mode = true;
	texts       = convert_arena_alloc(&rp.a, (n + 1) * sizeof(char *), st);
	results     = convert_arena_alloc(&rp.a, (n + 1) * sizeof(*results), st);
	if (texts == NULL || results == NULL) {
		code = st->code;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((texts[i] = convert_ipv4_to_text(&rp.a, ids[i], false, st)) == NULL ||
		    (results[i] = new_result(&rp, texts[i], name, c.rel.partner_server, st)) ==
			NULL) {
			code = st->code;
			goto out;
		}
	}
	replicate_into(r, &rp, &c, ids, texts, results, n, false, false, snaps);
	for (size_t i = 0; i < n; i++) {
		const Frep__V1__ScopeResult *res = results[i];
		replication_auto_outcome    *o   = &out[i];
		memset(o, 0, sizeof(*o));
		o->scope_id = ids[i];
		o->code     = (frep_code) res->code;
		snprintf(
		    o->message, sizeof(o->message), "%s", res->message != NULL ? res->message : "");
		snprintf(o->request_id, sizeof(o->request_id), "%s", c.request_id);
		/* In auto mode a sent scope never has partner_changed (those are
		 * not sent), so ABORTED with it is the conflict. */
		o->conflict = res->code == FREP_ABORTED && res->partner_changed;
		o->sent     = res->code == FREP_OK && !res->unchanged;
		o->unreachable =
		    (res->code == FREP_UNAVAILABLE || res->code == FREP_DEADLINE_EXCEEDED) &&
		    res->sent == NULL;
		if (res->code == FREP_OK && res->unchanged && res->digest_after != NULL &&
		    (res->last_synced_digest == NULL ||
			strcmp(res->last_synced_digest, res->digest_after) != 0)) {
			/* Equal on both servers by other means (the same edit on
			 * both, or a restore): that is the last-synced state now. */
			const char *d = res->digest_after;
			frep_status ignore;
			if (engine_sync_states_put(r->e, name, &ids[i], &d, 1, 0, &ignore) !=
			    FREP_OK) {
				rpc_log(RPC_LOG_WARN, "last-synced state of scope %s: %s", texts[i],
				    ignore.message);
			}
		}
	}
out:
	engine_scope_outgoing_release(r->e, snaps, n); /* none left when replicate_into ran */
	replication__relctx_fini(&c);
	reply_fini(&rp);
	return code;
}

void
replication_set_auto_sync(replication *r, auto_sync *as)
{
	r->as = as;
}

static void
replication_get_replication_status(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__GetReplicationStatusRequest                          *in,
    Frep__V1__GetReplicationStatusResponse_Closure closure, void *closure_data)
{
	replication__get_replication_status(service, in, closure, closure_data);
}

static void
replication_replicate_server_settings(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateServerSettingsRequest                          *in,
    Frep__V1__ReplicateServerSettingsResponse_Closure closure, void *closure_data)
{
	replication__replicate_server_settings(service, in, closure, closure_data);
}

frep_code
replication_new(engine *e, partner_pool *pool, const char *local_url, uint32_t partner_timeout_ms,
    replication **out, frep_status *st)
{
	replication *r   = calloc(1, sizeof(*r));
	char        *url = strdup(local_url != NULL ? local_url : "");
	if (r != NULL) {
		r->local_url = url;
	}
	if (r == NULL || url == NULL || (r->kea_ha_url = strdup("")) == NULL) {
		free(url); /* r->local_url, when r was made */
		free(r);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__V1__FailoverReplication_Service init =
	    FREP__V1__FAILOVER_REPLICATION__INIT(replication_);
	r->base       = init;
	r->e          = e;
	r->pool       = pool;
	r->timeout_ms = partner_timeout_ms != 0 ? partner_timeout_ms : 10000;
	*out          = r;
	return FREP_OK;
}

void
replication_free(replication *r)
{
	if (r != NULL) {
		free(r->local_url);
		free(r->retired_url);
		free(r->kea_ha_url);
		free(r);
	}
}

frep_code
replication_set_local_url(replication *r, const char *url, frep_status *st)
{
	char *copy = strdup(url != NULL ? url : "");
	if (copy == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	char *old = atomic_exchange(&r->local_url, copy);
	free(r->retired_url); /* a call still reading it is long done */
	r->retired_url = old;
	return FREP_OK;
}

frep_code
replication_set_kea_ha_url(replication *r, const char *url, frep_status *st)
{
	if (engine_ha_url_check("--kea-ha-url", url, st) != FREP_OK) {
		return st->code;
	}
	char *copy = strdup(url != NULL ? url : "");
	if (copy == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	free(r->kea_ha_url);
	r->kea_ha_url = copy;
	return FREP_OK;
}

ProtobufCService *
replication_service(replication *r)
{
	return &r->base.base;
}

/* --- failover on both servers ------------------------------------------ */

/* The relationship as the partner holds it. */
static void
mirror_of(const replication *r, const engine_failover *rel, const char *secret, convert_arena *a,
    Frep__V1__FailoverRelationship **out, frep_status *st)
{
	engine_failover m = *rel;
	m.partner_server  = rel->local_server != NULL && rel->local_server[0] != '\0'
				? rel->local_server
				: r->local_url;
	m.local_server    = rel->partner_server;
	m.shared_secret   = (char *) secret;
	/* Each side's Kea HA URL is the other's partner_kea_ha_url. */
	m.kea_ha_url         = rel->partner_kea_ha_url;
	m.partner_kea_ha_url = rel->kea_ha_url;
	if (rel->mode == ENGINE_FAILOVER_MODE_HOT_STANDBY) {
		m.server_role = rel->server_role == ENGINE_SERVER_ROLE_STANDBY
				    ? ENGINE_SERVER_ROLE_ACTIVE
				    : ENGINE_SERVER_ROLE_STANDBY;
	} else {
		m.load_balance_percent = 100 - rel->load_balance_percent;
	}
	if (convert_failover_to_proto(&m, a, out, st) == FREP_OK) {
		/* convert never copies a secret onto the wire; the mirror must. */
		(*out)->shared_secret = (char *) secret;
	}
}

/* Replicates the listed scopes in full (adopt: taking over partner scopes
 * in no relationship); the first failing scope's status, or OK. */
static frep_code
push_scopes(
    replication *r, const char *name, const uint32_t *ids, size_t n, bool adopt, frep_status *st)
{
	reply  rp = {0};
	char **texts;
	convert_arena_init(&rp.a);
	texts = convert_arena_alloc(&rp.a, (n + 1) * sizeof(char *), st);
	if (texts == NULL) {
		reply_fini(&rp);
		return st->code;
	}
	for (size_t i = 0; i < n; i++) {
		if ((texts[i] = convert_ipv4_to_text(&rp.a, ids[i], false, st)) == NULL) {
			reply_fini(&rp);
			return st->code;
		}
	}
	replicate_relationship(r, &rp, name, ids, texts, n, true, false, adopt);
	frep_code code = FREP_OK;
	for (size_t i = 0; i < rp.n_results && code == FREP_OK; i++) {
		if (rp.results[i]->code != FREP_OK) {
			code = frep_status_set(st, (frep_code) rp.results[i]->code, "scope %s: %s",
			    rp.results[i]->scope_id, rp.results[i]->message);
		}
	}
	reply_fini(&rp);
	return code;
}

/* The scopes of ids[0..n) that exist on the partner of relationship name
 * (in any relationship or none), as dotted quads in arena a:
 * (*present)[0..*n_present). One GetScopeDigests call. */
static frep_code
partner_scopes_present(replication *r, const char *name, const uint32_t *ids, size_t n,
    convert_arena *a, char ***present, size_t *n_present, frep_status *st)
{
	relctx            c;
	ProtobufCMessage *out  = NULL;
	frep_code         code = FREP_OK;
	*present               = NULL;
	*n_present             = 0;
	if (n == 0) {
		return FREP_OK;
	}
	if (replication__relctx_init(r, name, &c, st) != FREP_OK) {
		return st->code;
	}
	char **texts = convert_arena_alloc(a, (n + 1) * sizeof(char *), st);
	char **have  = convert_arena_alloc(a, (n + 1) * sizeof(char *), st);
	if (texts == NULL || have == NULL) {
		code = st->code;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((texts[i] = convert_ipv4_to_text(a, ids[i], false, st)) == NULL) {
			code = st->code;
			goto out;
		}
	}
	Frep__V1__GetScopeDigestsRequest req = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	req.relationship                     = (char *) name;
	req.scope_ids                        = texts;
	req.n_scope_ids                      = n;
	if ((code = replication__rel_call(r, &c, "GetScopeDigests", &req.base, &out, st)) !=
	    FREP_OK) {
		goto out;
	}
	Frep__V1__GetScopeDigestsResponse *d = (Frep__V1__GetScopeDigestsResponse *) out;
	for (size_t i = 0; i < d->n_digests && i < n; i++) {
		if (replication__partner_digest(d, i)[0] != '\0') {
			have[(*n_present)++] = texts[i];
		}
	}
	*present = have;
out:
	if (out != NULL) {
		protobuf_c_message_free_unpacked(out, NULL);
	}
	replication__relctx_fini(&c);
	return code;
}

/* ALREADY_EXISTS naming the first scope of ids the partner already has,
 * unless force. */
static frep_code
partner_has_any(
    replication *r, const char *name, const uint32_t *ids, size_t n, bool force, frep_status *st)
{
	convert_arena a;
	char        **present = NULL;
	size_t        n_present;
	if (force || n == 0) {
		return FREP_OK;
	}
	convert_arena_init(&a);
	frep_code code = partner_scopes_present(r, name, ids, n, &a, &present, &n_present, st);
	if (code == FREP_OK && n_present > 0) {
		engine_failover rel  = {0};
		bool            have = engine_failover_get(r->e, name, &rel, NULL) == FREP_OK;
		code                 = frep_status_set(st, FREP_ALREADY_EXISTS,
				    "scope %s already exists on the partner %s; it is not replaced (use force to "
						    "take it over)",
				    present[0], have ? rel.partner_server : "");
		engine_failover_fini(&rel);
	}
	convert_arena_fini(&a);
	return code;
}

/* Stores the partner's Kea HA URL (from its MirrorRelationship answer)
 * in relationship name when it changed. A value this server refuses is
 * logged and left out: the relationship itself is settled by then, and
 * the rendering warns that the partner's URL is unknown. */
static void
learn_partner_ha_url(replication *r, const char *name, const ProtobufCMessage *answer)
{
	const Frep__V1__MirrorRelationshipResponse *resp = (const void *) answer;
	engine_failover                             cur = {0}, want = {0};
	frep_status                                 st;
	static const char *const                    mask[] = {"partner_kea_ha_url"};
	const char                                 *url =
            resp != NULL && resp->relationship != NULL ? resp->relationship->kea_ha_url : "";
	if (url == NULL || engine_failover_get(r->e, name, &cur, &st) != FREP_OK) {
		return;
	}
	if (strcmp(cur.partner_kea_ha_url != NULL ? cur.partner_kea_ha_url : "", url) != 0) {
		want.name               = cur.name;
		want.partner_kea_ha_url = (char *) url;
		if (engine_failover_set(r->e, &want, mask, 1, NULL, &st) != FREP_OK) {
			rpc_log(RPC_LOG_WARN,
			    "relationship \"%s\": the partner's Kea HA URL not kept: %s", name,
			    st.message);
		}
	}
	engine_failover_fini(&cur);
}

/* Sets relationship name's kea_ha_url to this frepd's --kea-ha-url when it
 * differs (a restart with another URL; the partner learns it from the next
 * mirror call). */
static frep_code
refresh_own_ha_url(replication *r, const char *name, frep_status *st)
{
	engine_failover          cur = {0}, want = {0};
	static const char *const mask[] = {"kea_ha_url"};
	frep_code                code   = FREP_OK;
	if (engine_failover_get(r->e, name, &cur, st) != FREP_OK) {
		return st->code;
	}
	if (strcmp(cur.kea_ha_url != NULL ? cur.kea_ha_url : "", r->kea_ha_url) != 0) {
		want.name       = cur.name;
		want.kea_ha_url = r->kea_ha_url;
		code            = engine_failover_set(r->e, &want, mask, 1, NULL, st);
	}
	engine_failover_fini(&cur);
	return code;
}

frep_code
replication_refresh_kea_ha_url(replication *r, frep_status *st)
{
	engine_failover *rels = NULL;
	size_t           n    = 0;
	frep_code        code;
	if ((code = engine_failover_list(r->e, &rels, &n, st)) != FREP_OK) {
		return code;
	}
	for (size_t i = 0; i < n && code == FREP_OK; i++) {
		code = refresh_own_ha_url(r, rels[i].name, st);
	}
	engine_failovers_free(rels, n);
	return code;
}

static frep_code
mirror_call(replication *r, const engine_failover *rel, const char *secret, bool force, bool create,
    bool remove, char **keep, size_t n_keep, frep_status *st)
{
	convert_arena                       a;
	Frep__V1__FailoverRelationship     *m   = NULL;
	ProtobufCMessage                   *out = NULL;
	Frep__V1__MirrorRelationshipRequest req = FREP__V1__MIRROR_RELATIONSHIP_REQUEST__INIT;
	frep_code                           code;
	convert_arena_init(&a);
	mirror_of(r, rel, secret, &a, &m, st);
	if (m == NULL) {
		convert_arena_fini(&a);
		return st->code;
	}
	req.relationship     = m;
	req.force            = force;
	req.create           = create;
	req.remove           = remove;
	req.keep_scope_ids   = keep;
	req.n_keep_scope_ids = n_keep;
	code                 = partner_call(r->pool, rel->partner_server, rel->name, secret, NULL,
			    "MirrorRelationship", &req.base, &out, r->timeout_ms, st);
	if (code == FREP_OK && !remove) {
		learn_partner_ha_url(r, rel->name, out);
	}
	if (out != NULL) {
		protobuf_c_message_free_unpacked(out, NULL);
	}
	convert_arena_fini(&a);
	if (code != FREP_OK) {
		replication__prefix_partner(st, rel->partner_server);
	}
	return code;
}

/* A failed AddFailover / AddFailoverScope is undone on the partner too;
 * when that undo is refused or lost (the partner went down, or the request
 * is over its --max-message-bytes), the partner may keep what the call
 * made there. The caller's status keeps its code and says so first, with
 * the undo's error; the same goes to the log. Before, the undo's failure
 * was dropped and the call read as undone on both sides. */
static void
undo_failed(frep_status *st, const frep_status *undo, const char *name, const char *partner,
    bool scopes_only)
{
	char first[FREP_STATUS_MESSAGE_MAX], what[200];
	snprintf(first, sizeof(first), "%s", st->message);
	snprintf(what, sizeof(what),
	    scopes_only ? "the scopes added to relationship \"%s\""
			: "relationship \"%s\" and the scopes it got",
	    name);
	rpc_log(RPC_LOG_WARN, "partner %s may still hold %s: undoing there failed (%s: %s)",
	    partner, what, frep_code_name(undo->code), undo->message);
	frep_status_set(st, st->code,
	    "partner %s may still hold %s: undoing there failed (%s: %.120s); the call "
	    "failed: %s",
	    partner, what, frep_code_name(undo->code), undo->message, first);
}

frep_code
replication_failover_add(
    replication *r, const engine_failover *rel, bool force, engine_failover *out, frep_status *st)
{
	engine_failover stored = {0};
	frep_status     ignore;

	if (rel->shared_secret == NULL || rel->shared_secret[0] == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "relationship.shared_secret is required: partner calls are authenticated with "
		    "it");
	}
	if (rel->partner_server == NULL || rel->partner_server[0] == '\0') {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "relationship.partner_server is required");
	}
	/* Here first (all local rules), then the partner; undo here if the
	 * partner refuses. The Kea HA URLs are frepd's, never the caller's:
	 * this server's from --kea-ha-url, the partner's from its answer. */
	engine_failover here    = *rel;
	here.kea_ha_url         = r->kea_ha_url;
	here.partner_kea_ha_url = "";
	if (engine_failover_add(r->e, &here, &stored, st) != FREP_OK) {
		return st->code;
	}
	if (mirror_call(r, &stored, rel->shared_secret, force, true, false, NULL, 0, st) !=
	    FREP_OK) {
		engine_failover_remove(r->e, rel->name, &ignore);
		engine_failover_fini(&stored);
		return st->code;
	}
	/* With force, the partner's own scopes among ours are noted first:
	 * if the push fails they stay there (never deleted), detached. */
	convert_arena a;
	char        **own   = NULL;
	size_t        n_own = 0;
	convert_arena_init(&a);
	if (stored.n_scope_ids > 0 &&
	    ((force && partner_scopes_present(r, stored.name, stored.scope_ids, stored.n_scope_ids,
			   &a, &own, &n_own, st) != FREP_OK) ||
		push_scopes(r, stored.name, stored.scope_ids, stored.n_scope_ids, force, st) !=
		    FREP_OK)) {
		/* All or nothing: take the mirror (and the scopes it got) back. */
		frep_status saved = *st, undo;
		bool undone = mirror_call(r, &stored, rel->shared_secret, false, false, true, own,
				  n_own, &undo) == FREP_OK;
		engine_failover_remove(r->e, rel->name, &ignore);
		*st = saved;
		replication__prefix_partner(st, rel->partner_server);
		if (!undone) {
			undo_failed(st, &undo, stored.name, stored.partner_server, false);
		}
		engine_failover_fini(&stored);
		convert_arena_fini(&a);
		return st->code;
	}
	convert_arena_fini(&a);
	rpc_log(RPC_LOG_INFO, "relationship \"%s\" created with partner %s (%zu scopes)",
	    stored.name, stored.partner_server, stored.n_scope_ids);
	engine_failover_fini(&stored);
	return out != NULL ? engine_failover_get(r->e, rel->name, out, st) : FREP_OK;
}

frep_code
replication_failover_remove(replication *r, const char *name, frep_status *st)
{
	engine_failover rel    = {0};
	char           *secret = NULL;
	frep_code       code;
	if (engine_failover_get(r->e, name, &rel, st) != FREP_OK) {
		return st->code;
	}
	if ((code = engine_failover_secret(r->e, name, &secret, st)) == FREP_OK) {
		code = mirror_call(r, &rel, secret, false, false, true, NULL, 0, st);
		if (code == FREP_NOT_FOUND) {
			code = FREP_OK; /* already gone there */
		}
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	if (code == FREP_OK) {
		code = engine_failover_remove(r->e, name, st);
	}
	engine_failover_fini(&rel);
	return code;
}

frep_code
replication_failover_add_scopes(replication *r, const char *name, const uint32_t *scope_ids,
    size_t n, bool force, engine_failover *out, frep_status *st)
{
	frep_status ignore;
	if (engine_failover_add_scopes(r->e, name, scope_ids, n, NULL, st) != FREP_OK) {
		return st->code;
	}
	/* A scope the partner already has is its own (in no relationship or
	 * another one): refused unless force, as AddFailover does; with
	 * force, noted, so that a failed push leaves it there, detached. */
	convert_arena a;
	char        **own   = NULL;
	size_t        n_own = 0;
	convert_arena_init(&a);
	if (partner_has_any(r, name, scope_ids, n, force, st) != FREP_OK ||
	    (force &&
		partner_scopes_present(r, name, scope_ids, n, &a, &own, &n_own, st) != FREP_OK) ||
	    push_scopes(r, name, scope_ids, n, force, st) != FREP_OK) {
		frep_status     saved  = *st;
		engine_failover rel    = {0};
		char           *secret = NULL;
		engine_failover_remove_scopes(r->e, name, scope_ids, n, NULL, &ignore);
		/* The partner keeps only the scopes still in the relationship
		 * (and its own from before, detached). */
		frep_status undo;
		bool        undone = false;
		if (engine_failover_get(r->e, name, &rel, &undo) == FREP_OK &&
		    engine_failover_secret(r->e, name, &secret, &undo) == FREP_OK) {
			undone = mirror_call(r, &rel, secret, false, false, false, own, n_own,
				     &undo) == FREP_OK;
		}
		convert_arena_fini(&a);
		if (secret != NULL) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
		}
		*st = saved;
		if (!undone) {
			undo_failed(st, &undo, name,
			    rel.partner_server != NULL ? rel.partner_server : "(unknown)", true);
		}
		engine_failover_fini(&rel);
		return st->code;
	}
	convert_arena_fini(&a);
	return out != NULL ? engine_failover_get(r->e, name, out, st) : FREP_OK;
}

frep_code
replication_failover_remove_scopes(replication *r, const char *name, const uint32_t *scope_ids,
    size_t n, engine_failover *out, frep_status *st)
{
	engine_failover    rel    = {0};
	char              *secret = NULL;
	frep_status        ignore;
	frep_code          code;
	engine_sync_state *was   = calloc(n + 1, sizeof(*was));
	bool              *found = calloc(n + 1, sizeof(*found));
	if (was == NULL || found == NULL) {
		free(was);
		free(found);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	/* A scope leaving the relationship takes its last-synced state with it
	 * (store migration 7): kept here to put back if the partner refuses. */
	if (engine_sync_states_get(r->e, name, scope_ids, n, was, found, st) != FREP_OK ||
	    engine_failover_remove_scopes(r->e, name, scope_ids, n, NULL, st) != FREP_OK) {
		free(was);
		free(found);
		return st->code;
	}
	if ((code = engine_failover_get(r->e, name, &rel, st)) == FREP_OK &&
	    (code = engine_failover_secret(r->e, name, &secret, st)) == FREP_OK) {
		code = mirror_call(r, &rel, secret, false, false, false, NULL, 0, st);
	}
	if (code != FREP_OK &&
	    engine_failover_add_scopes(r->e, name, scope_ids, n, NULL, &ignore) == FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			const char *digest = was[i].digest;
			if (found[i] && engine_sync_states_put(r->e, name, &scope_ids[i], &digest,
					    1, was[i].time_unix_ms, &ignore) != FREP_OK) {
				rpc_log(RPC_LOG_WARN,
				    "relationship \"%s\": last-synced state not put back: %s", name,
				    ignore.message);
			}
		}
	}
	free(was);
	free(found);
	if (secret != NULL) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	engine_failover_fini(&rel);
	if (code == FREP_OK && out != NULL) {
		code = engine_failover_get(r->e, name, out, st);
	}
	return code;
}

/* The settings SetFailover changes on the partner's mirror as well. */
static const char *const mirrored_fields[] = {"mode", "server_role", "load_balance_percent",
    "reserve_percent", "max_client_lead_time_s", "auto_state_transition", "state_switch_interval_s",
    "shared_secret", "partner_server", "local_server", "auto_sync", NULL};

frep_code
replication_failover_set(replication *r, const engine_failover *in, const char *const *mask,
    size_t n_mask, engine_failover *out, frep_status *st)
{
	engine_failover old = {0}, stored = {0};
	relctx          c = {0};
	const char     *pmask[sizeof(mirrored_fields) / sizeof(mirrored_fields[0])];
	size_t          n_pmask = 0;
	frep_status     ignore;
	frep_code       code;

	/* Which of the change reaches the partner: the mirrored settings named
	 * (all of them for an empty mask; the secret only when one is given). */
	for (size_t k = 0; mirrored_fields[k] != NULL; k++) {
		/* The partner's partner_server is this server's local_server, and
		 * the other way round. */
		const char *here =
		    strcmp(mirrored_fields[k], "partner_server") == 0 ? "local_server"
		    : strcmp(mirrored_fields[k], "local_server") == 0 ? "partner_server"
								      : mirrored_fields[k];
		bool named = false;
		for (size_t i = 0; i < n_mask && !named; i++) {
			named = strcmp(mask[i], here) == 0;
		}
		if (n_mask == 0) {
			named = strcmp(mirrored_fields[k], "shared_secret") != 0 ||
				(in->shared_secret != NULL && in->shared_secret[0] != '\0');
		}
		if (named) {
			pmask[n_pmask++] = mirrored_fields[k];
		}
	}
	for (size_t i = 0; i < n_mask; i++) {
		if (strcmp(mask[i], "kea_ha_url") == 0 ||
		    strcmp(mask[i], "partner_kea_ha_url") == 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "update_mask \"%s\": the Kea HA URLs are not set by SetFailover (this "
			    "server's is its frepd's --kea-ha-url, the partner's is learnt from "
			    "it)",
			    mask[i]);
		}
	}
	/* The partner still holds the current secret: the call is signed with
	 * it, whatever the change does to it. */
	if (replication__relctx_init(r, in->name, &c, st) != FREP_OK ||
	    engine_failover_get(r->e, in->name, &old, st) != FREP_OK) {
		replication__relctx_fini(&c);
		return st->code;
	}
	/* Here first: every local rule is checked (and a bad value refused)
	 * before the partner is asked. */
	if ((code = engine_failover_set(r->e, in, mask, n_mask, &stored, st)) != FREP_OK) {
		goto out;
	}
	/* This frepd's Kea HA URL goes to the partner with the change. */
	if (strcmp(stored.kea_ha_url != NULL ? stored.kea_ha_url : "", r->kea_ha_url) != 0) {
		if ((code = refresh_own_ha_url(r, in->name, st)) != FREP_OK) {
			goto out;
		}
		engine_failover_fini(&stored);
		if ((code = engine_failover_get(r->e, in->name, &stored, st)) != FREP_OK) {
			goto out;
		}
	}
	if (n_pmask > 0) {
		convert_arena                       a;
		Frep__V1__FailoverRelationship     *m    = NULL;
		ProtobufCMessage                   *pout = NULL;
		Frep__V1__MirrorRelationshipRequest req =
		    FREP__V1__MIRROR_RELATIONSHIP_REQUEST__INIT;
		/* The secret travels only when it changes. */
		const char *secret = in->shared_secret != NULL && in->shared_secret[0] != '\0'
					 ? in->shared_secret
					 : "";
		convert_arena_init(&a);
		mirror_of(r, &stored, secret, &a, &m, st);
		if (m == NULL) {
			code = st->code;
		} else {
			req.relationship  = m;
			req.update_mask   = (char **) pmask;
			req.n_update_mask = n_pmask;
			/* At the partner's URL as it is now (SetFailover may have
			 * just changed it). */
			char *was_url        = c.rel.partner_server;
			c.rel.partner_server = stored.partner_server;
			code                 = replication__rel_call(
					    r, &c, "MirrorRelationship", &req.base, &pout, st);
			c.rel.partner_server = was_url;
			if (code == FREP_OK) {
				learn_partner_ha_url(r, in->name, pout);
			}
		}
		if (pout != NULL) {
			protobuf_c_message_free_unpacked(pout, NULL);
		}
		convert_arena_fini(&a);
		if (code != FREP_OK) {
			/* All or nothing: this server back as it was. */
			frep_status saved = *st;
			old.shared_secret = c.secret;
			if (engine_failover_set(r->e, &old, NULL, 0, NULL, &ignore) != FREP_OK) {
				rpc_log(RPC_LOG_ERROR,
				    "relationship \"%s\": the partner refused SetFailover and the "
				    "local "
				    "change could not be undone: %s",
				    in->name, ignore.message);
			}
			old.shared_secret = NULL;
			*st               = saved;
			goto out;
		}
	}
	rpc_log(RPC_LOG_INFO, "relationship \"%s\" changed on both servers (%zu settings on %s)",
	    in->name, n_pmask, c.rel.partner_server);
	if (out != NULL) {
		/* Read again: the partner's Kea HA URL may have just been learnt. */
		code = engine_failover_get(r->e, in->name, out, st);
	}
out:
	engine_failover_fini(&stored);
	engine_failover_fini(&old);
	replication__relctx_fini(&c);
	return code;
}

/* --- the DhcpServer service's hooks --------------------------------------- */

/* Each keeps auto-sync off the relationship while it changes it on both
 * servers (auto_sync_hold: the two disagree until it ends); so does
 * replication_scope_remove's RemoveFailoverScope. */

static frep_code
hook_set(void *ctx, rpc_call *call, engine *e, const engine_failover *rel, const char *const *mask,
    size_t n_mask, engine_failover *out, frep_status *st)
{
	replication *r = ctx;
	(void) call;
	(void) e;
	auto_sync_hold(r->as, rel->name);
	frep_code code = replication_failover_set(r, rel, mask, n_mask, out, st);
	auto_sync_release(r->as, rel->name);
	return code;
}

static frep_code
hook_add(void *ctx, rpc_call *call, engine *e, const engine_failover *rel, bool force,
    engine_failover *out, frep_status *st)
{
	replication *r = ctx;
	(void) call;
	(void) e;
	auto_sync_hold(r->as, rel->name);
	frep_code code = replication_failover_add(r, rel, force, out, st);
	auto_sync_release(r->as, rel->name);
	return code;
}

static frep_code
hook_remove(void *ctx, rpc_call *call, engine *e, const char *name, frep_status *st)
{
	replication *r = ctx;
	(void) call;
	(void) e;
	auto_sync_hold(r->as, name);
	frep_code code = replication_failover_remove(r, name, st);
	auto_sync_release(r->as, name);
	return code;
}

/* AddFailoverScope (add) and RemoveFailoverScope. */
static frep_code
scopes_held(replication *r, bool add, const char *name, const uint32_t *ids, size_t n, bool force,
    engine_failover *out, frep_status *st)
{
	auto_sync_hold(r->as, name);
	frep_code code = add ? replication_failover_add_scopes(r, name, ids, n, force, out, st)
			     : replication_failover_remove_scopes(r, name, ids, n, out, st);
	auto_sync_release(r->as, name);
	return code;
}

static frep_code
hook_add_scopes(void *ctx, rpc_call *call, engine *e, const char *name, const uint32_t *ids,
    size_t n, bool force, engine_failover *out, frep_status *st)
{
	(void) call;
	(void) e;
	return scopes_held(ctx, true, name, ids, n, force, out, st);
}

static frep_code
hook_remove_scopes(void *ctx, rpc_call *call, engine *e, const char *name, const uint32_t *ids,
    size_t n, bool force, engine_failover *out, frep_status *st)
{
	(void) call;
	(void) e;
	return scopes_held(ctx, false, name, ids, n, force, out, st);
}

frep_code
replication_scope_remove(replication *r, uint32_t scope_id, bool force, frep_status *st)
{
	bool found = false;
	char owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	if (force) {
		if (engine_failover_of_scope(r->e, scope_id, &found, owner, st) != FREP_OK) {
			return st->code;
		}
		/* The partner deletes its copy first; down or refusing = nothing
		 * removed here either (the scope stays in the relationship). */
		if (found &&
		    scopes_held(r, false, owner, &scope_id, 1, false, NULL, st) != FREP_OK) {
			return st->code;
		}
	}
	if (engine_scope_remove(r->e, scope_id, force, st) != FREP_OK) {
		return st->code;
	}
	if (found) {
		char ip[ENGINE_IPV4_STRLEN];
		rpc_log(RPC_LOG_INFO,
		    "scope %s removed, and from relationship \"%s\" on both servers",
		    engine_ipv4_format(scope_id, ip), owner);
	}
	return FREP_OK;
}

static frep_code
hook_remove_scope(
    void *ctx, rpc_call *call, engine *e, uint32_t scope_id, bool force, frep_status *st)
{
	(void) call;
	(void) e;
	return replication_scope_remove(ctx, scope_id, force, st);
}

void
replication_failover_hooks(replication *r, dhcp_service_failover_hooks *hooks)
{
	*hooks = (dhcp_service_failover_hooks){
	    .ctx                    = r,
	    .add_failover           = hook_add,
	    .remove_failover        = hook_remove,
	    .add_failover_scopes    = hook_add_scopes,
	    .remove_failover_scopes = hook_remove_scopes,
	    .set_failover           = hook_set,
	    .remove_scope           = hook_remove_scope,
	};
}
