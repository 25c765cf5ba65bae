/* FailoverReplication.GetReplicationStatus (is the pair in step?) and
 * ReplicateServerSettings (the server-level settings, on request). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert.h"
#include "frep/v1/partner.pb-c.h"
#include "log.h"
#include "replication_internal.h"
#include "rpc_server.h"
#include "server_settings.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The relationships a request names (none = all): *rels new (free with
 * engine_failovers_free); unknown names become item errors. */
static frep_code
resolve(replication *r, char *const *names, size_t n_names, convert_arena *a,
    engine_failover **rels, size_t *n_rels, Frep__V1__ItemError ***errors, size_t *n_errors,
    frep_status *st)
{
	*rels     = NULL;
	*n_rels   = 0;
	*errors   = NULL;
	*n_errors = 0;
	if (replication__check_names(names, n_names, st) != FREP_OK) {
		return st->code;
	}
	if (n_names == 0) {
		return engine_failover_list(r->e, rels, n_rels, st);
	}
	if ((*rels = calloc(n_names, sizeof(**rels))) == NULL ||
	    (*errors = convert_arena_alloc(a, (n_names + 1) * sizeof(**errors), st)) == NULL) {
		free(*rels);
		*rels = NULL;
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < n_names; i++) {
		if (engine_failover_get(r->e, names[i], &(*rels)[*n_rels], st) == FREP_OK) {
			(*n_rels)++;
			continue;
		}
		if (st->code != FREP_NOT_FOUND) {
			engine_failovers_free(*rels, *n_rels);
			*rels = NULL;
			return st->code;
		}
		Frep__V1__ItemError *e = convert_arena_alloc(a, sizeof(*e), st);
		char                 msg[FREP_STATUS_MESSAGE_MAX];
		if (e == NULL) {
			engine_failovers_free(*rels, *n_rels);
			*rels = NULL;
			return st->code;
		}
		frep__v1__item_error__init(e);
		snprintf(msg, sizeof(msg), "no failover relationship named \"%s\"", names[i]);
		e->item                  = convert_arena_strdup(a, names[i], st);
		e->code                  = FREP_NOT_FOUND;
		e->message               = convert_arena_message(a, msg, st);
		(*errors)[(*n_errors)++] = e;
	}
	return FREP_OK;
}

/* --- GetReplicationStatus -------------------------------------------------- */

static Frep__V1__ScopeSyncState
state_of(bool reachable, const char *local, const char *remote, bool was, const char *synced,
    const auto_sync_scope_info *info)
{
	if (!reachable) {
		return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR;
	}
	if (strcmp(local, remote) == 0) {
		return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC;
	}
	if (strcmp(remote, REPLICATION_WITHHELD) == 0) {
		/* Another relationship's there: neither side's replication
		 * moves it (the partner refuses it), whatever was synced. */
		return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_CONFLICT;
	}
	if (remote[0] == '\0') {
		return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_MISSING_ON_PARTNER;
	}
	bool here  = !was || strcmp(local, synced) != 0;
	bool there = !was || strcmp(remote, synced) != 0;
	if (here && there) {
		return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_CONFLICT;
	}
	if (here) {
		return info->last_error_code != 0
			   ? FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ERROR
			   : FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PENDING;
	}
	return FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_PARTNER_CHANGED;
}

/* The partner's server-level settings compared with this server's
 * (*here read once per request). Failures leave the list empty and are
 * logged: the scopes' status still stands. */
static void
settings_status(replication *r, const relctx *c, convert_arena *a, Frep__V1__ServerSettings **here,
    Frep__V1__RelationshipSyncStatus *m)
{
	frep_status                        st;
	ProtobufCMessage                  *out = NULL;
	Frep__V1__GetServerSettingsRequest req = FREP__V1__GET_SERVER_SETTINGS_REQUEST__INIT;

	if (*here == NULL && server_settings_collect(r->e, here, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "status: server-level settings: %s", st.message);
		return;
	}
	req.relationship = c->rel.name;
	if (replication__rel_call(r, c, "GetServerSettings", &req.base, &out, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "status: %s", st.message);
		m->partner_error_code = (int32_t) st.code;
		m->partner_error      = convert_arena_strdup(a, st.message, NULL);
		if (m->partner_error == NULL) {
			m->partner_error = "";
		}
		return;
	}
	if (server_settings_diff(*here, (Frep__V1__ServerSettings *) out, SERVER_SETTINGS_ALL, a,
		&m->server_settings, &m->n_server_settings, &st) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "status: server-level settings: %s", st.message);
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

/* Appends to m a row for each scope the partner lists in the relationship
 * (digests->relationship_scopes; a partner older than that field lists
 * none) that rel does not hold here: ONLY_ON_PARTNER, with this server's
 * digest when it holds the scope outside the relationship. Sorted lookups:
 * O(n log n) for n scopes. */
static frep_code
only_on_partner_rows(replication *r, const engine_failover *rel,
    const Frep__V1__GetScopeDigestsResponse *digests, convert_arena *a,
    Frep__V1__RelationshipSyncStatus *m, frep_status *st)
{
	size_t n_listed = digests != NULL ? digests->n_relationship_scopes : 0;
	if (n_listed == 0) {
		return FREP_OK;
	}
	size_t    n    = rel->n_scope_ids;
	uint32_t *ours = convert_arena_alloc(a, (n + 1) * sizeof(uint32_t), st);
	uint32_t *ids  = convert_arena_alloc(a, (n_listed + 1) * sizeof(uint32_t), st);
	const Frep__V1__ScopeDigest **pds =
	    convert_arena_alloc(a, (n_listed + 1) * sizeof(*pds), st);
	if (ours == NULL || ids == NULL || pds == NULL) {
		return st->code;
	}
	if (n > 0) {
		memcpy(ours, rel->scope_ids, n * sizeof(uint32_t));
	}
	qsort(ours, n, sizeof(uint32_t), convert_cmp_scope_id);
	size_t n_extra = 0;
	for (size_t k = 0; k < n_listed; k++) {
		const Frep__V1__ScopeDigest *pd = digests->relationship_scopes[k];
		uint32_t                     id;
		frep_status                  bad;
		if (pd == NULL ||
		    convert_ipv4_from_text(pd->scope_id, "relationship_scopes.scope_id", false, &id,
			&bad) != FREP_OK) {
			/* The partner's answer, not this call's fault: that row is
			 * left out, the rest of the status stands. */
			rpc_log(RPC_LOG_WARN, "status: partner %s: %s", rel->partner_server,
			    pd == NULL ? "an empty relationship_scopes entry" : bad.message);
			continue;
		}
		if (bsearch(&id, ours, n, sizeof(uint32_t), convert_cmp_scope_id) == NULL) {
			ids[n_extra]   = id;
			pds[n_extra++] = pd;
		}
	}
	if (n_extra == 0) {
		return FREP_OK;
	}
	char(*local)[65] = convert_arena_alloc(a, (n_extra + 1) * 65, st);
	bool *exists     = convert_arena_alloc(a, (n_extra + 1) * sizeof(bool), st);
	Frep__V1__ScopeSyncStatus **all =
	    convert_arena_alloc(a, (m->n_scopes + n_extra + 1) * sizeof(*all), st);
	if (local == NULL || exists == NULL || all == NULL ||
	    engine_scope_digests(r->e, ids, n_extra, local, exists, st) != FREP_OK) {
		return st->code;
	}
	memcpy(all, m->scopes, m->n_scopes * sizeof(*all));
	m->scopes = all;
	for (size_t k = 0; k < n_extra; k++) {
		Frep__V1__ScopeSyncStatus *s = convert_arena_alloc(a, sizeof(*s), st);
		if (s == NULL) {
			return st->code;
		}
		frep__v1__scope_sync_status__init(s);
		s->scope_id       = convert_arena_strdup(a, pds[k]->scope_id, st);
		s->partner_digest = convert_arena_strdup(a, pds[k]->digest, st);
		s->local_digest   = exists[k] ? local[k] : "";
		s->state          = FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_ONLY_ON_PARTNER;
		if (s->scope_id == NULL || s->partner_digest == NULL) {
			return st->code;
		}
		m->in_sync               = false;
		m->scopes[m->n_scopes++] = s;
	}
	return FREP_OK;
}

static frep_code
relationship_status(replication *r, const engine_failover *rel, bool skip_settings,
    convert_arena *a, Frep__V1__ServerSettings **here, Frep__V1__RelationshipSyncStatus **out,
    frep_status *st)
{
	relctx                            c;
	ProtobufCMessage                 *dout = NULL;
	Frep__V1__RelationshipSyncStatus *m;
	size_t                            n = rel->n_scope_ids;
	frep_status                       pst;
	frep_code                         rc = FREP_OK;

	if ((m = convert_arena_alloc(a, sizeof(*m), st)) == NULL) {
		return st->code;
	}
	frep__v1__relationship_sync_status__init(m);
	if (replication__relctx_init(r, rel->name, &c, st) != FREP_OK) {
		return st->code;
	}
	m->name                   = convert_arena_strdup(a, rel->name, st);
	m->partner                = convert_arena_strdup(a, rel->partner_server, st);
	m->auto_sync              = (Frep__V1__AutoSync) rel->auto_sync;
	char **texts              = convert_arena_alloc(a, (n + 1) * sizeof(char *), st);
	char(*local)[65]          = convert_arena_alloc(a, (n + 1) * 65, st);
	bool              *exists = convert_arena_alloc(a, (n + 1) * sizeof(bool), st);
	engine_sync_state *synced = convert_arena_alloc(a, (n + 1) * sizeof(*synced), st);
	bool              *was    = convert_arena_alloc(a, (n + 1) * sizeof(bool), st);
	m->scopes                 = convert_arena_alloc(a, (n + 1) * sizeof(*m->scopes), st);
	if (m->name == NULL || m->partner == NULL || texts == NULL || local == NULL ||
	    exists == NULL || synced == NULL || was == NULL || m->scopes == NULL) {
		rc = st->code;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((texts[i] = convert_ipv4_to_text(a, rel->scope_ids[i], false, st)) == NULL) {
			rc = st->code;
			goto out;
		}
	}
	if ((rc = engine_scope_digests(r->e, rel->scope_ids, n, local, exists, st)) != FREP_OK ||
	    (rc = engine_sync_states_get(r->e, rel->name, rel->scope_ids, n, synced, was, st)) !=
		FREP_OK) {
		goto out;
	}

	Frep__V1__GetScopeDigestsRequest dreq      = FREP__V1__GET_SCOPE_DIGESTS_REQUEST__INIT;
	dreq.relationship                          = rel->name;
	dreq.scope_ids                             = texts;
	dreq.n_scope_ids                           = n;
	dreq.list_relationship_scopes              = true;
	Frep__V1__GetScopeDigestsResponse *digests = NULL;
	if (replication__rel_call(r, &c, "GetScopeDigests", &dreq.base, &dout, &pst) == FREP_OK) {
		digests              = (Frep__V1__GetScopeDigestsResponse *) dout;
		m->partner_reachable = true;
		auto_sync_contact(r->as, rel->name, now_ms());
	} else {
		m->partner_error_code = (int32_t) pst.code;
		m->partner_error      = convert_arena_strdup(a, pst.message, NULL);
		if (m->partner_error == NULL) {
			m->partner_error = "";
		}
	}
	m->last_contact_unix_ms = r->as != NULL          ? auto_sync_last_contact(r->as, rel->name)
				  : m->partner_reachable ? now_ms()
							 : 0;
	m->in_sync              = m->partner_reachable;
	for (size_t i = 0; i < n; i++) {
		Frep__V1__ScopeSyncStatus *s = convert_arena_alloc(a, sizeof(*s), st);
		auto_sync_scope_info       info;
		if (s == NULL) {
			rc = st->code;
			goto out;
		}
		frep__v1__scope_sync_status__init(s);
		auto_sync_scope_get(r->as, rel->name, rel->scope_ids[i], &info);
		const char *remote      = replication__partner_digest(digests, i);
		s->scope_id             = texts[i];
		s->local_digest         = local[i];
		s->partner_digest       = convert_arena_strdup(a, remote, st);
		s->last_synced_digest   = was[i] ? synced[i].digest : "";
		s->last_synced_unix_ms  = was[i] ? synced[i].time_unix_ms : 0;
		s->pending              = info.pending;
		s->last_attempt_unix_ms = info.last_attempt_unix_ms;
		s->state                = state_of(
				   m->partner_reachable, local[i], remote, was[i], synced[i].digest, &info);
		/* The scope's error is auto-sync's last attempt at it, never this
		 * call's failure to reach the partner (that is the
		 * relationship's partner_error): a reader tells "the worker
		 * tried and failed" from "the partner is down now". */
		s->last_error_code = info.last_error_code;
		s->last_error      = convert_arena_strdup(a, info.last_error, st);
		if (s->partner_digest == NULL || s->last_error == NULL) {
			rc = st->code;
			goto out;
		}
		if (s->state != FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC) {
			m->in_sync = false;
		}
		m->scopes[m->n_scopes++] = s;
	}
	if ((rc = only_on_partner_rows(r, rel, digests, a, m, st)) != FREP_OK) {
		goto out;
	}
	if (m->partner_reachable && !skip_settings) {
		settings_status(r, &c, a, here, m);
		if (m->n_server_settings > 0 || m->partner_error_code != 0) {
			m->in_sync = false;
		}
	}
	*out = m;
out:
	if (dout != NULL) {
		protobuf_c_message_free_unpacked(dout, NULL);
	}
	replication__relctx_fini(&c);
	return rc;
}

void
replication__get_replication_status(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__GetReplicationStatusRequest                           *in,
    Frep__V1__GetReplicationStatusResponse_Closure closure, void *closure_data)
{
	replication                           *r = (replication *) service;
	frep_status                            st;
	convert_arena                          a;
	engine_failover                       *rels   = NULL;
	size_t                                 n_rels = 0;
	Frep__V1__ServerSettings              *here   = NULL;
	Frep__V1__GetReplicationStatusResponse out =
	    FREP__V1__GET_REPLICATION_STATUS_RESPONSE__INIT;

	convert_arena_init(&a);
	if (resolve(r, in->names, in->n_names, &a, &rels, &n_rels, &out.errors, &out.n_errors,
		&st) != FREP_OK) {
		goto fail;
	}
	out.relationships = convert_arena_alloc(&a, (n_rels + 1) * sizeof(*out.relationships), &st);
	if (out.relationships == NULL) {
		goto fail;
	}
	out.in_sync = out.n_errors == 0;
	for (size_t i = 0; i < n_rels; i++) {
		Frep__V1__RelationshipSyncStatus *m = NULL;
		if (relationship_status(
			r, &rels[i], in->skip_server_settings, &a, &here, &m, &st) != FREP_OK) {
			goto fail;
		}
		out.in_sync                              = out.in_sync && m->in_sync;
		out.relationships[out.n_relationships++] = m;
	}
	closure(&out, closure_data);
	goto done;
fail:
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
done:
	if (here != NULL) {
		protobuf_c_message_free_unpacked(&here->base, NULL);
	}
	engine_failovers_free(rels, n_rels);
	convert_arena_fini(&a);
}

/* --- ReplicateServerSettings ----------------------------------------------- */

static Frep__V1__SettingDifference
flip(Frep__V1__SettingDifference d)
{
	return d == FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE
		   ? FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE
	       : d == FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE
		   ? FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE
		   : d;
}

static frep_code
push_settings(replication *r, const engine_failover *rel, const Frep__V1__ServerSettings *here,
    const Frep__V1__ReplicateServerSettingsRequest *in, convert_arena *a, ProtobufCMessage **keep,
    Frep__V1__ServerSettingsResult **out, frep_status *st)
{
	relctx                               c;
	frep_status                          pst;
	Frep__V1__ServerSettingsResult      *m;
	Frep__V1__ApplyServerSettingsRequest req = FREP__V1__APPLY_SERVER_SETTINGS_REQUEST__INIT;

	if ((m = convert_arena_alloc(a, sizeof(*m), st)) == NULL) {
		return st->code;
	}
	frep__v1__server_settings_result__init(m);
	if (replication__relctx_init(r, rel->name, &c, st) != FREP_OK) {
		return st->code;
	}
	m->relationship   = convert_arena_strdup(a, rel->name, st);
	m->partner        = convert_arena_strdup(a, rel->partner_server, st);
	req.relationship  = rel->name;
	req.source_server = r->local_url;
	req.settings      = (Frep__V1__ServerSettings *) here;
	req.kinds         = in->kinds;
	req.n_kinds       = in->n_kinds;
	req.dry_run       = in->dry_run;
	m->code =
	    (int32_t) replication__rel_call(r, &c, "ApplyServerSettings", &req.base, keep, &pst);
	replication__relctx_fini(&c);
	if (m->code != FREP_OK) {
		m->message = convert_arena_strdup(a, pst.message, st);
		rpc_log(RPC_LOG_WARN, "server-level settings to %s: %s", rel->partner_server,
		    pst.message);
	} else {
		Frep__V1__ApplyServerSettingsResponse *ar =
		    (Frep__V1__ApplyServerSettingsResponse *) *keep;
		m->message = in->dry_run ? "dry run: nothing changed on the partner" : "";
		m->diff    = ar->diff;
		m->n_diff  = ar->n_diff;
		for (size_t i = 0; i < ar->n_diff; i++) {
			ar->diff[i]->difference = flip(ar->diff[i]->difference);
		}
		if (!in->dry_run) {
			rpc_log(RPC_LOG_INFO,
			    "server-level settings to %s (relationship %s): %zu differences",
			    rel->partner_server, rel->name, ar->n_diff);
		}
	}
	if (m->relationship == NULL || m->partner == NULL || m->message == NULL) {
		return st->code;
	}
	*out = m;
	return FREP_OK;
}

void
replication__replicate_server_settings(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateServerSettingsRequest                           *in,
    Frep__V1__ReplicateServerSettingsResponse_Closure closure, void *closure_data)
{
	replication                              *r = (replication *) service;
	frep_status                               st;
	convert_arena                             a;
	engine_failover                          *rels   = NULL;
	size_t                                    n_rels = 0;
	unsigned                                  kinds;
	Frep__V1__ServerSettings                 *here = NULL;
	ProtobufCMessage                        **keep = NULL;
	Frep__V1__ReplicateServerSettingsResponse out =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_RESPONSE__INIT;

	convert_arena_init(&a);
	if (server_settings_kinds(in->kinds, in->n_kinds, "kinds", &kinds, &st) != FREP_OK ||
	    resolve(r, in->names, in->n_names, &a, &rels, &n_rels, &out.errors, &out.n_errors,
		&st) != FREP_OK ||
	    server_settings_collect(r->e, &here, &st) != FREP_OK) {
		goto fail;
	}
	out.results = convert_arena_alloc(&a, (n_rels + 1) * sizeof(*out.results), &st);
	keep        = calloc(n_rels + 1, sizeof(*keep));
	if (out.results == NULL || keep == NULL) {
		frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_rels; i++) {
		Frep__V1__ServerSettingsResult *m = NULL;
		if (push_settings(r, &rels[i], here, in, &a, &keep[i], &m, &st) != FREP_OK) {
			goto fail;
		}
		out.results[out.n_results++] = m;
	}
	closure(&out, closure_data);
	goto done;
fail:
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
done:
	for (size_t i = 0; keep != NULL && i < n_rels; i++) {
		if (keep[i] != NULL) {
			protobuf_c_message_free_unpacked(keep[i], NULL);
		}
	}
	free(keep);
	if (here != NULL) {
		protobuf_c_message_free_unpacked(&here->base, NULL);
	}
	engine_failovers_free(rels, n_rels);
	convert_arena_fini(&a);
}
