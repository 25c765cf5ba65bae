#include "replication_service.h"

#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "log.h"
#include "metrics.h"
#include "rpc_server.h"

#define NAMES_MAX 1000

struct replication {
	Frep__V1__FailoverReplication_Service base;
	engine                               *e;
	partner_pool                         *pool;
	char                                 *local_url;
	uint32_t                              timeout_ms;
};

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

static frep_code
grow(void **arr, size_t *cap, size_t n, size_t elem, frep_status *st)
{
	if (n < *cap) {
		return FREP_OK;
	}
	size_t nc = *cap == 0 ? 16 : *cap * 2;
	void  *p  = realloc(*arr, nc * elem);
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
	e->message = convert_arena_strdup(&rp->a, message, st);
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
	r->message = convert_arena_strdup(&rp->a, message, NULL);
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
 * BATCH_BYTES of packed configs, and a scope bigger than that goes alone. */
#define BATCH_SCOPES_MAX 256
#define BATCH_BYTES      (4u * 1024u * 1024u)

typedef struct batch {
	convert_arena          a;
	Frep__V1__ScopeConfig *configs[BATCH_SCOPES_MAX];
	engine_scope_config   *snaps[BATCH_SCOPES_MAX];
	Frep__V1__ScopeResult *results[BATCH_SCOPES_MAX];
	size_t                 n;
	size_t                 bytes;
} batch;

static void
batch_reset(batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		engine_scope_config_free(b->snaps[i]);
	}
	convert_arena_fini(&b->a);
	convert_arena_init(&b->a);
	b->n     = 0;
	b->bytes = 0;
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

/* Sends the batch in one ApplyScopes call and fills each scope's result;
 * records what was sent in the audit trail (one transaction). */
static void
batch_flush(replication *r, reply *rp, const engine_failover *rel, const char *secret, bool dry_run,
    batch *b)
{
	frep_status         st;
	ProtobufCMessage   *out = NULL;
	engine_audit_record recs[BATCH_SCOPES_MAX];
	size_t              n_recs = 0;

	if (b->n == 0) {
		return;
	}
	Frep__V1__ApplyScopesRequest req = FREP__V1__APPLY_SCOPES_REQUEST__INIT;
	req.relationship                 = rel->name;
	req.source_server                = r->local_url;
	req.configs                      = b->configs;
	req.n_configs                    = b->n;
	req.dry_run                      = dry_run;
	frep_code code = partner_call(r->pool, rel->partner_server, rel->name, secret,
	    "ApplyScopes", &req.base, &out, r->timeout_ms, &st);
	Frep__V1__ApplyScopesResponse *ar = (Frep__V1__ApplyScopesResponse *) out;
	if (code == FREP_OK && (ar->n_outcomes != b->n || keep(rp, out, &st) != FREP_OK)) {
		if (ar->n_outcomes != b->n) {
			code = frep_status_set(&st, FREP_INTERNAL,
			    "partner %s answered %zu outcomes for %zu scopes", rel->partner_server,
			    ar->n_outcomes, b->n);
			protobuf_c_message_free_unpacked(out, NULL);
		} else {
			code = st.code;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		Frep__V1__ScopeResult *res  = b->results[i];
		engine_scope_config   *snap = b->snaps[i];
		sent_counts(rp, res, snap);
		if (code != FREP_OK) {
			result_status(rp, res, code, st.message);
		} else {
			Frep__V1__ApplyScopeOutcome *o = ar->outcomes[i];
			if (o->code != FREP_OK || o->result == NULL) {
				result_status(rp, res,
				    o->code != FREP_OK ? (frep_code) o->code : FREP_INTERNAL,
				    o->message);
			} else {
				result_status(rp, res, FREP_OK,
				    dry_run ? "dry run: nothing changed on the partner" : "");
				res->changes       = o->result->changes;
				res->digest_before = o->result->digest_before;
				res->digest_after  = o->result->digest_after;
				res->diff          = o->result->diff;
				res->n_diff        = o->result->n_diff;
			}
		}
		if (!dry_run) {
			recs[n_recs++] = (engine_audit_record){
			    .direction     = "sent",
			    .source        = r->local_url,
			    .relationship  = rel->name,
			    .scope_id      = snap->scope.scope_id,
			    .digest_before = res->digest_before != NULL ? res->digest_before : "",
			    .digest_after  = res->digest_after != NULL ? res->digest_after : "",
			    .added         = sum3(res->changes, 0),
			    .updated       = sum3(res->changes, 1),
			    .removed       = sum3(res->changes, 2),
			    .code          = res->code,
			    .message       = res->message,
			};
		}
	}
	if (engine_audit_add_many(r->e, recs, n_recs, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "audit records: %s", st.message);
	}
	bool big = b->bytes > (1u << 20);
	batch_reset(b);
	if (big) {
		malloc_trim(0); /* a big scope's copies are gone: give the memory back */
	}
}

/* Queues one scope (its snapshot now owned by the batch), flushing first
 * when it would not fit. */
static void
batch_add(replication *r, reply *rp, const engine_failover *rel, const char *secret, bool dry_run,
    batch *b, engine_scope_config *snap, Frep__V1__ScopeResult *res)
{
	frep_status            st;
	Frep__V1__ScopeConfig *cfg = NULL;
	if (convert_scope_config_to_proto(snap, &b->a, &cfg, &st) != FREP_OK) {
		result_status(rp, res, st.code, st.message);
		engine_scope_config_free(snap);
		return;
	}
	size_t size = protobuf_c_message_get_packed_size(&cfg->base);
	if (b->n > 0 && (b->n == BATCH_SCOPES_MAX || b->bytes + size > BATCH_BYTES)) {
		/* The config lives in the batch's arena: convert again after. */
		batch_flush(r, rp, rel, secret, dry_run, b);
		if (convert_scope_config_to_proto(snap, &b->a, &cfg, &st) != FREP_OK) {
			result_status(rp, res, st.code, st.message);
			engine_scope_config_free(snap);
			return;
		}
	}
	b->configs[b->n] = cfg;
	b->snaps[b->n]   = snap;
	b->results[b->n] = res;
	b->n++;
	b->bytes += size;
	if (b->bytes >= BATCH_BYTES) {
		batch_flush(r, rp, rel, secret, dry_run, b);
	}
}

/* Replicates the given scopes of one relationship: one digest call, then
 * the scopes that differ (every scope with force) in ApplyScopes batches. */
static void
replicate_relationship(replication *r, reply *rp, const char *name, const uint32_t *ids,
    char *const *texts, size_t n, bool force, bool dry_run)
{
	frep_status       st;
	engine_failover   rel     = {0};
	char             *secret  = NULL;
	ProtobufCMessage *dout    = NULL;
	const char       *partner = "";

	if (engine_failover_get(r->e, name, &rel, &st) != FREP_OK ||
	    engine_failover_secret(r->e, name, &secret, &st) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			Frep__V1__ScopeResult *res = new_result(rp, texts[i], name, "", NULL);
			if (res != NULL) {
				result_status(rp, res, st.code, st.message);
			}
		}
		goto out;
	}
	partner = rel.partner_server;

	Frep__V1__GetScopeDigestsRequest dreq = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	dreq.relationship                     = (char *) name;
	dreq.scope_ids                        = (char **) texts;
	dreq.n_scope_ids                      = n;
	frep_code dcode = partner_call(r->pool, partner, name, secret, "GetScopeDigests",
	    &dreq.base, &dout, r->timeout_ms, &st);
	if (dcode != FREP_OK) {
		/* The partner is down or refuses: every scope of it says so. */
		for (size_t i = 0; i < n; i++) {
			Frep__V1__ScopeResult *res = new_result(rp, texts[i], name, partner, NULL);
			if (res != NULL) {
				result_status(rp, res, dcode, st.message);
			}
		}
		goto out;
	}
	Frep__V1__GetScopeDigestsResponse *digests = (Frep__V1__GetScopeDigestsResponse *) dout;
	batch                             *b       = malloc(sizeof(*b));
	if (b == NULL) {
		goto out;
	}
	b->n     = 0;
	b->bytes = 0;
	convert_arena_init(&b->a);

	/* The local digests are stored: only scopes that differ are read. */
	char(*local)[65] = convert_arena_alloc(&rp->a, (n + 1) * 65, &st);
	bool *exists     = convert_arena_alloc(&rp->a, (n + 1) * sizeof(bool), &st);
	if (local == NULL || exists == NULL ||
	    engine_scope_digests(r->e, ids, n, local, exists, &st) != FREP_OK) {
		for (size_t i = 0; i < n; i++) {
			Frep__V1__ScopeResult *res = new_result(rp, texts[i], name, partner, NULL);
			if (res != NULL) {
				result_status(rp, res, st.code, st.message);
			}
		}
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		Frep__V1__ScopeResult *res  = new_result(rp, texts[i], name, partner, &st);
		engine_scope_config   *snap = NULL;
		if (res == NULL) {
			break;
		}
		const char *remote = i < digests->n_digests && digests->digests[i] != NULL
					 ? digests->digests[i]->digest
					 : "";
		if (exists[i] && !force && strcmp(remote, local[i]) == 0) {
			result_status(
			    rp, res, FREP_OK, "unchanged: the partner holds the same digest");
			res->unchanged     = true;
			res->digest_before = local[i];
			res->digest_after  = local[i];
			continue;
		}
		if (engine_scope_snapshot(r->e, ids[i], &snap, &st) != FREP_OK) {
			result_status(rp, res, st.code, st.message);
			continue;
		}
		batch_add(r, rp, &rel, secret, dry_run, b, snap, res);
	}
	batch_flush(r, rp, &rel, secret, dry_run, b);
	convert_arena_fini(&b->a);
	free(b);

out:
	if (dout != NULL) {
		protobuf_c_message_free_unpacked(dout, NULL);
	}
	if (secret != NULL) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	engine_failover_fini(&rel);
}

/* Replicates every scope of relationship rel (as stored). */
static void
replicate_all_of(replication *r, reply *rp, const engine_failover *rel, bool force, bool dry_run)
{
	frep_status st;
	char **texts = convert_arena_alloc(&rp->a, (rel->n_scope_ids + 1) * sizeof(char *), &st);
	if (texts == NULL) {
		return;
	}
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		texts[i] = convert_ipv4_to_text(&rp->a, rel->scope_ids[i], false, &st);
		if (texts[i] == NULL) {
			return;
		}
	}
	if (rel->n_scope_ids > 0) {
		replicate_relationship(
		    r, rp, rel->name, rel->scope_ids, texts, rel->n_scope_ids, force, dry_run);
	}
}

static void
send_reply(reply *rp, Frep__V1__ReplicateResponse_Closure closure, void *closure_data)
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
			rpc_log_event(
			    RPC_LOG_WARN, &(rpc_log_fields){
					      .event       = "replication",
					      .method      = rpc_call_method(closure_data),
					      .status      = frep_code_name(rp->results[i]->code),
					      .duration_ms = -1,
					      .request_id  = rpc_call_request_id(closure_data),
					      .peer        = rp->results[i]->partner,
					      .message     = msg,
					  });
		}
	}
	out.results   = rp->results;
	out.n_results = rp->n_results;
	out.errors    = rp->errors;
	out.n_errors  = rp->n_errors;
	closure(&out, closure_data);
}

static void
replication_replicate_by_name(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateByNameRequest *in, Frep__V1__ReplicateResponse_Closure closure,
    void *closure_data)
{
	replication *r = (replication *) service;
	frep_status  st;
	reply        rp = {0};
	convert_arena_init(&rp.a);

	if (in->n_names > NAMES_MAX) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "names: %zu names, at most %d",
		    in->n_names, NAMES_MAX);
		goto fail;
	}
	for (size_t i = 0; i < in->n_names; i++) {
		size_t len = strlen(in->names[i]);
		if (len == 0 || len > ENGINE_RELATIONSHIP_NAME_MAX) {
			frep_status_set(&st, FREP_INVALID_ARGUMENT,
			    "names[%zu] is %zu bytes long; a relationship name is 1..%d bytes", i,
			    len, ENGINE_RELATIONSHIP_NAME_MAX);
			goto fail;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(in->names[k], in->names[i]) == 0) {
				frep_status_set(&st, FREP_INVALID_ARGUMENT,
				    "names[%zu] \"%s\" repeats names[%zu]", i, in->names[i], k);
				goto fail;
			}
		}
	}
	if (in->n_names == 0) {
		/* The cmdlet with no parameters: every failover scope. */
		engine_failover *rels = NULL;
		size_t           n    = 0;
		if (engine_failover_list(r->e, &rels, &n, &st) != FREP_OK) {
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			replicate_all_of(r, &rp, &rels[i], in->force, in->dry_run);
		}
		engine_failovers_free(rels, n);
	}
	for (size_t i = 0; i < in->n_names; i++) {
		engine_failover rel;
		if (engine_failover_get(r->e, in->names[i], &rel, &st) != FREP_OK) {
			if (st.code != FREP_NOT_FOUND) {
				goto fail;
			}
			char msg[FREP_STATUS_MESSAGE_MAX];
			snprintf(msg, sizeof(msg), "no failover relationship named \"%s\"",
			    in->names[i]);
			if (add_error(&rp, in->names[i], FREP_NOT_FOUND, msg, &st) != FREP_OK) {
				goto fail;
			}
			continue;
		}
		replicate_all_of(r, &rp, &rel, in->force, in->dry_run);
		engine_failover_fini(&rel);
	}
	send_reply(&rp, closure, closure_data);
	reply_fini(&rp);
	return;

fail:
	reply_fini(&rp);
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
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
cmp_by_relationship(const void *a, const void *b)
{
	size_t x = *(const size_t *) a, y = *(const size_t *) b;
	int    c = strcmp(sort_names[x], sort_names[y]);
	return c != 0 ? c : (x < y ? -1 : x > y);
}

static void
sort_by_relationship(size_t *order, size_t n, char *const *rel_of)
{
	sort_names = rel_of;
	qsort(order, n, sizeof(*order), cmp_by_relationship);
	sort_names = NULL;
}

static _Thread_local const size_t *sort_order;

static int
cmp_group_first(const void *a, const void *b)
{
	size_t x = sort_order[*(const size_t *) a], y = sort_order[*(const size_t *) b];
	return x < y ? -1 : x > y;
}

/* Within a group the order is by index, so a group's first element holds
 * its smallest index. */
static void
sort_groups_by_first_index(size_t *starts, size_t n, const size_t *order)
{
	sort_order = order;
	qsort(starts, n, sizeof(*starts), cmp_group_first);
	sort_order = NULL;
}

static void
replication_replicate_by_scope_id(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateByScopeIdRequest *in, Frep__V1__ReplicateResponse_Closure closure,
    void *closure_data)
{
	replication *r = (replication *) service;
	frep_status  st;
	reply        rp     = {0};
	uint32_t    *ids    = NULL;
	char       **rel_of = NULL;
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
	/* Group by relationship, in the order relationships first appear:
	 * sort the request's indices by (relationship, index), then visit
	 * the groups by their first index. O(n log n). */
	size_t   *order = convert_arena_alloc(&rp.a, (in->n_scope_ids + 1) * sizeof(size_t), &st);
	uint32_t *gids  = convert_arena_alloc(&rp.a, (in->n_scope_ids + 1) * sizeof(uint32_t), &st);
	char    **gtexts = convert_arena_alloc(&rp.a, (in->n_scope_ids + 1) * sizeof(char *), &st);
	if (order == NULL || gids == NULL || gtexts == NULL) {
		goto fail;
	}
	size_t n_order = 0;
	for (size_t i = 0; i < in->n_scope_ids; i++) {
		if (rel_of[i] != NULL) {
			order[n_order++] = i;
		}
	}
	sort_by_relationship(order, n_order, rel_of);
	/* Group starts, ordered by each group's first index. */
	size_t *starts   = convert_arena_alloc(&rp.a, (n_order + 1) * sizeof(size_t), &st);
	size_t  n_groups = 0;
	if (starts == NULL) {
		goto fail;
	}
	for (size_t k = 0; k < n_order; k++) {
		if (k == 0 || strcmp(rel_of[order[k]], rel_of[order[k - 1]]) != 0) {
			starts[n_groups++] = k;
		}
	}
	sort_groups_by_first_index(starts, n_groups, order);
	for (size_t g = 0; g < n_groups; g++) {
		size_t      k0  = starts[g];
		const char *rel = rel_of[order[k0]];
		size_t      n   = 0;
		for (size_t k = k0; k < n_order && strcmp(rel_of[order[k]], rel) == 0; k++) {
			gids[n]     = ids[order[k]];
			gtexts[n++] = in->scope_ids[order[k]];
		}
		replicate_relationship(r, &rp, rel, gids, gtexts, n, in->force, in->dry_run);
	}
	send_reply(&rp, closure, closure_data);
	reply_fini(&rp);
	return;

fail:
	reply_fini(&rp);
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
}

frep_code
replication_new(engine *e, partner_pool *pool, const char *local_url, uint32_t partner_timeout_ms,
    replication **out, frep_status *st)
{
	replication *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->local_url = strdup(local_url != NULL ? local_url : "")) == NULL) {
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
		free(r);
	}
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

static frep_code
prefix_partner(frep_status *st, const char *url)
{
	if (strstr(st->message, url) != NULL) {
		return st->code;
	}
	char msg[FREP_STATUS_MESSAGE_MAX + 300];
	snprintf(msg, sizeof(msg), "partner %s: %s", url, st->message);
	return frep_status_set(st, st->code, "%s", msg);
}

/* Replicates the listed scopes with force; the first failing scope's
 * status, or OK. */
static frep_code
push_scopes(replication *r, const char *name, const uint32_t *ids, size_t n, frep_status *st)
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
	replicate_relationship(r, &rp, name, ids, texts, n, true, false);
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

static frep_code
mirror_call(replication *r, const engine_failover *rel, const char *secret, bool force, bool remove,
    frep_status *st)
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
	req.relationship = m;
	req.force        = force;
	req.remove       = remove;
	code = partner_call(r->pool, rel->partner_server, rel->name, secret, "MirrorRelationship",
	    &req.base, &out, r->timeout_ms, st);
	if (out != NULL) {
		protobuf_c_message_free_unpacked(out, NULL);
	}
	convert_arena_fini(&a);
	if (code != FREP_OK) {
		prefix_partner(st, rel->partner_server);
	}
	return code;
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
	 * partner refuses. */
	if (engine_failover_add(r->e, rel, &stored, st) != FREP_OK) {
		return st->code;
	}
	if (mirror_call(r, &stored, rel->shared_secret, force, false, st) != FREP_OK) {
		engine_failover_remove(r->e, rel->name, &ignore);
		engine_failover_fini(&stored);
		return st->code;
	}
	if (stored.n_scope_ids > 0 &&
	    push_scopes(r, stored.name, stored.scope_ids, stored.n_scope_ids, st) != FREP_OK) {
		/* All or nothing: take the mirror (and the scopes it got) back. */
		frep_status saved = *st;
		mirror_call(r, &stored, rel->shared_secret, false, true, &ignore);
		engine_failover_remove(r->e, rel->name, &ignore);
		engine_failover_fini(&stored);
		*st = saved;
		return prefix_partner(st, rel->partner_server);
	}
	rpc_log(RPC_LOG_INFO, "relationship \"%s\" created with partner %s (%zu scopes)",
	    stored.name, stored.partner_server, stored.n_scope_ids);
	if (out != NULL) {
		*out = stored;
	} else {
		engine_failover_fini(&stored);
	}
	return FREP_OK;
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
		code = mirror_call(r, &rel, secret, false, true, st);
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
	(void) force;
	if (engine_failover_add_scopes(r->e, name, scope_ids, n, NULL, st) != FREP_OK) {
		return st->code;
	}
	if (push_scopes(r, name, scope_ids, n, st) != FREP_OK) {
		frep_status     saved  = *st;
		engine_failover rel    = {0};
		char           *secret = NULL;
		engine_failover_remove_scopes(r->e, name, scope_ids, n, NULL, &ignore);
		/* The partner keeps only the scopes still in the relationship. */
		if (engine_failover_get(r->e, name, &rel, &ignore) == FREP_OK &&
		    engine_failover_secret(r->e, name, &secret, &ignore) == FREP_OK) {
			mirror_call(r, &rel, secret, false, false, &ignore);
		}
		if (secret != NULL) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
		}
		engine_failover_fini(&rel);
		*st = saved;
		return st->code;
	}
	return out != NULL ? engine_failover_get(r->e, name, out, st) : FREP_OK;
}

frep_code
replication_failover_remove_scopes(replication *r, const char *name, const uint32_t *scope_ids,
    size_t n, engine_failover *out, frep_status *st)
{
	engine_failover rel    = {0};
	char           *secret = NULL;
	frep_status     ignore;
	frep_code       code;
	if (engine_failover_remove_scopes(r->e, name, scope_ids, n, NULL, st) != FREP_OK) {
		return st->code;
	}
	if ((code = engine_failover_get(r->e, name, &rel, st)) == FREP_OK &&
	    (code = engine_failover_secret(r->e, name, &secret, st)) == FREP_OK) {
		code = mirror_call(r, &rel, secret, false, false, st);
	}
	if (code != FREP_OK) {
		engine_failover_add_scopes(r->e, name, scope_ids, n, NULL, &ignore);
	}
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

/* --- the DhcpServer service's hooks --------------------------------------- */

static frep_code
hook_add(void *ctx, rpc_call *call, engine *e, const engine_failover *rel, bool force,
    engine_failover *out, frep_status *st)
{
	(void) call;
	(void) e;
	return replication_failover_add(ctx, rel, force, out, st);
}

static frep_code
hook_remove(void *ctx, rpc_call *call, engine *e, const char *name, frep_status *st)
{
	(void) call;
	(void) e;
	return replication_failover_remove(ctx, name, st);
}

static frep_code
hook_add_scopes(void *ctx, rpc_call *call, engine *e, const char *name, const uint32_t *ids,
    size_t n, bool force, engine_failover *out, frep_status *st)
{
	(void) call;
	(void) e;
	return replication_failover_add_scopes(ctx, name, ids, n, force, out, st);
}

static frep_code
hook_remove_scopes(void *ctx, rpc_call *call, engine *e, const char *name, const uint32_t *ids,
    size_t n, bool force, engine_failover *out, frep_status *st)
{
	(void) call;
	(void) e;
	(void) force;
	return replication_failover_remove_scopes(ctx, name, ids, n, out, st);
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
	};
}
