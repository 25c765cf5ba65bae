#include "partner_service.h"

#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frep/v1/partner.pb-c.h"
#include "log.h"
#include "partner_auth.h"
#include "rpc_server.h"

typedef struct partner_service {
	Frep__V1__Partner_Service base;
	engine                   *e;
	partner_auth_replay      *replay;
} partner_service;

/* Checks the call's MAC against secret (the relationship's, or the one a
 * new mirror brings). */
static frep_code
verify_with(partner_service *ps, rpc_call *call, const char *relationship, const char *secret,
    bool *replayed, frep_status *st)
{
	const char *md_rel = rpc_call_metadata(call, PARTNER_AUTH_KEY_RELATIONSHIP);
	if (md_rel == NULL || strcmp(md_rel, relationship) != 0) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: metadata %s does not name relationship \"%s\"", rpc_call_method(call),
		    PARTNER_AUTH_KEY_RELATIONSHIP, relationship);
	}
	size_t         len;
	const uint8_t *payload = rpc_call_payload(call, &len);
	return partner_auth_verify(ps->replay, secret, rpc_call_method(call), relationship,
	    rpc_call_metadata(call, PARTNER_AUTH_KEY_SENDER),
	    rpc_call_metadata(call, PARTNER_AUTH_KEY_TIMESTAMP),
	    rpc_call_metadata(call, PARTNER_AUTH_KEY_NONCE),
	    rpc_call_metadata(call, PARTNER_AUTH_KEY_MAC), payload, len, replayed, st);
}

/* Authenticates a call for an existing relationship: done already when
 * the pre-decode check (partner_service_authorize) proved the caller holds
 * this relationship's secret; otherwise checked here. An unknown
 * relationship is UNAUTHENTICATED too: there is no secret to check. */
static frep_code
authenticate(partner_service *ps, rpc_call *call, const char *relationship, frep_status *st)
{
	char *secret = NULL;
	if (relationship == NULL || relationship[0] == '\0') {
		return frep_status_set(
		    st, FREP_UNAUTHENTICATED, "%s: no relationship named", rpc_call_method(call));
	}
	const char *proved = rpc_call_principal(call);
	if (proved != NULL) {
		if (strcmp(proved, relationship) != 0) {
			return frep_status_set(st, FREP_UNAUTHENTICATED,
			    "%s: metadata %s does not name relationship \"%s\"",
			    rpc_call_method(call), PARTNER_AUTH_KEY_RELATIONSHIP, relationship);
		}
		return FREP_OK;
	}
	if (engine_failover_secret(ps->e, relationship, &secret, st) != FREP_OK) {
		if (st->code == FREP_NOT_FOUND) {
			return frep_status_set(st, FREP_UNAUTHENTICATED,
			    "%s: relationship \"%s\" does not exist on this server",
			    rpc_call_method(call), relationship);
		}
		return st->code;
	}
	frep_code code = verify_with(ps, call, relationship, secret, NULL, st);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (code != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "refused partner call %s: %s", rpc_call_method(call),
		    st->message);
	}
	return code;
}

frep_code
partner_service_authorize(void *service, rpc_call *call, frep_status *st)
{
	partner_service *ps     = service;
	const char      *rel    = rpc_call_metadata(call, PARTNER_AUTH_KEY_RELATIONSHIP);
	const char      *method = rpc_call_method(call);
	char            *secret = NULL;
	if (rel == NULL || rel[0] == '\0') {
		return frep_status_set(st, FREP_UNAUTHENTICATED, "%s: no %s metadata", method,
		    PARTNER_AUTH_KEY_RELATIONSHIP);
	}
	if (engine_failover_secret(ps->e, rel, &secret, st) != FREP_OK) {
		if (st->code != FREP_NOT_FOUND) {
			return st->code;
		}
		/* A new mirror brings its secret inside the payload: it is decoded
		 * only for a caller with this server's admin token (when it has
		 * one), and its handler checks the MAC with that secret. */
		if (strcmp(method, "/frep.v1.Partner/MirrorRelationship") == 0 &&
		    rpc_call_has_admin_token(call)) {
			return FREP_OK;
		}
		rpc_log(RPC_LOG_WARN, "refused partner call %s: relationship \"%.64s\" unknown",
		    method, rel);
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: relationship \"%.64s\" does not exist on this server", method, rel);
	}
	bool      replayed = false;
	frep_code code     = verify_with(ps, call, rel, secret, &replayed, st);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (code == FREP_OK || replayed) {
		rpc_call_set_principal(call, rel);
	}
	if (code != FREP_OK && replayed && rpc_call_repeats_cached(call)) {
		/* The client's own resend of a call that ran: the cache answers
		 * it, nothing runs twice. */
		return FREP_OK;
	}
	if (code != FREP_OK) {
		rpc_call_set_principal(call, "");
		rpc_log(RPC_LOG_WARN, "refused partner call %s: %s", method, st->message);
	}
	return code;
}

static void
apply_or_diff(partner_service *ps, const Frep__V1__ApplyScopeRequest *in, bool diff_only,
    Frep__V1__ApplyScopeResponse_Closure closure, void *closure_data)
{
	rpc_call                    *call = closure_data;
	frep_status                  st;
	convert_arena                a;
	engine_scope_config          cfg;
	engine_scope_changes         changes    = {0};
	engine_object_diff          *diff       = NULL;
	size_t                       n_diff     = 0;
	char                         before[65] = "", after[65] = "";
	bool                         dry_run = diff_only || in->dry_run;
	Frep__V1__ApplyScopeResponse out     = FREP__V1__APPLY_SCOPE_RESPONSE__INIT;

	convert_arena_init(&a);
	if (authenticate(ps, call, in->relationship, &st) != FREP_OK) {
		goto fail;
	}
	if (in->config == NULL) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "config is required");
		goto fail;
	}
	if (convert_scope_config_from_proto(in->config, "config", &a, &cfg, &st) != FREP_OK) {
		goto fail;
	}
	/* The scope may be new here, or already this relationship's; never
	 * another relationship's. */
	bool found = false;
	char owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
	if (engine_failover_of_scope(ps->e, cfg.scope.scope_id, &found, owner, &st) != FREP_OK) {
		goto fail;
	}
	if (found && strcmp(owner, in->relationship) != 0) {
		frep_status_set(&st, FREP_FAILED_PRECONDITION,
		    "scope %s belongs to relationship \"%s\" on this server, not \"%s\"",
		    in->config->scope->scope_id, owner, in->relationship);
		goto fail;
	}
	if (engine_scope_apply(ps->e, &cfg, dry_run, &changes, dry_run ? &diff : NULL,
		dry_run ? &n_diff : NULL, before, after, &st) != FREP_OK) {
		goto fail;
	}
	if (!dry_run && !found) {
		/* A scope new to this server joins the relationship. Apply
		 * committed already; if this fails the next replication retries. */
		uint32_t id = cfg.scope.scope_id;
		if (engine_failover_add_scopes(ps->e, in->relationship, &id, 1, NULL, &st) !=
		    FREP_OK) {
			goto fail;
		}
	}
	if (!dry_run) {
		engine_audit_record rec = engine_audit_applied(in->source_server, in->relationship,
		    cfg.scope.scope_id, before, after, &changes);
		frep_status         ast;
		if (engine_audit_add(ps->e, &rec, NULL, &ast) != FREP_OK) {
			rpc_log(RPC_LOG_WARN, "audit record of scope %s: %s",
			    in->config->scope->scope_id, ast.message);
		}
	}
	if (convert_scope_changes_to_proto(&changes, &a, &out.changes, &st) != FREP_OK ||
	    convert_object_diffs_to_proto(diff, n_diff, &a, &out.diff, &st) != FREP_OK) {
		goto fail;
	}
	out.n_diff        = n_diff;
	out.digest_before = before;
	out.digest_after  = after;
	closure(&out, closure_data);
	engine_object_diffs_free(diff, n_diff);
	convert_arena_fini(&a);
	return;

fail:
	engine_object_diffs_free(diff, n_diff);
	convert_arena_fini(&a);
	rpc_call_fail_status(call, &st);
	closure(NULL, closure_data);
}

static void
partner_apply_scope(Frep__V1__Partner_Service *service, const Frep__V1__ApplyScopeRequest *in,
    Frep__V1__ApplyScopeResponse_Closure closure, void *closure_data)
{
	apply_or_diff((partner_service *) service, in, false, closure, closure_data);
}

static void
partner_diff_scope(Frep__V1__Partner_Service *service, const Frep__V1__ApplyScopeRequest *in,
    Frep__V1__ApplyScopeResponse_Closure closure, void *closure_data)
{
	apply_or_diff((partner_service *) service, in, true, closure, closure_data);
}

#define APPLY_SCOPES_MAX 10000
#define TRIM_AFTER_BYTES (1u << 20)

static void
partner_apply_scopes(Frep__V1__Partner_Service *service, const Frep__V1__ApplyScopesRequest *in,
    Frep__V1__ApplyScopesResponse_Closure closure, void *closure_data)
{
	partner_service              *ps   = (partner_service *) service;
	rpc_call                     *call = closure_data;
	frep_status                   st;
	convert_arena                 a;
	size_t                        n          = in->n_configs;
	engine_scope_config          *cfgs       = NULL;
	const engine_scope_config   **valid      = NULL;
	size_t                       *slot       = NULL; /* valid[k] is configs[slot[k]] */
	bool                         *was_member = NULL;
	engine_apply_result          *res        = NULL;
	Frep__V1__ApplyScopeOutcome  *outs       = NULL;
	Frep__V1__ApplyScopeOutcome **outp       = NULL;
	Frep__V1__ApplyScopesResponse reply      = FREP__V1__APPLY_SCOPES_RESPONSE__INIT;
	size_t                        nv         = 0;

	convert_arena_init(&a);
	if (authenticate(ps, call, in->relationship, &st) != FREP_OK) {
		goto fail;
	}
	if (n > APPLY_SCOPES_MAX) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "configs: %zu scopes, at most %d", n,
		    APPLY_SCOPES_MAX);
		goto fail;
	}
	cfgs       = convert_arena_alloc(&a, (n + 1) * sizeof(*cfgs), &st);
	valid      = convert_arena_alloc(&a, (n + 1) * sizeof(*valid), &st);
	slot       = convert_arena_alloc(&a, (n + 1) * sizeof(*slot), &st);
	was_member = convert_arena_alloc(&a, (n + 1) * sizeof(*was_member), &st);
	outs       = convert_arena_alloc(&a, (n + 1) * sizeof(*outs), &st);
	outp       = convert_arena_alloc(&a, (n + 1) * sizeof(*outp), &st);
	res        = calloc(n + 1, sizeof(*res));
	if (cfgs == NULL || valid == NULL || slot == NULL || was_member == NULL || outs == NULL ||
	    outp == NULL || res == NULL) {
		frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	/* Per scope: convert and check ownership; the valid ones go to the
	 * engine together. */
	for (size_t i = 0; i < n; i++) {
		frep_status                  cst;
		char                         field[48];
		Frep__V1__ApplyScopeOutcome *o = &outs[i];
		frep__v1__apply_scope_outcome__init(o);
		outp[i]     = o;
		o->scope_id = in->configs[i]->scope != NULL ? in->configs[i]->scope->scope_id : "";
		snprintf(field, sizeof(field), "configs[%zu]", i);
		bool found = false;
		char owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
		if (convert_scope_config_from_proto(in->configs[i], field, &a, &cfgs[i], &cst) !=
			FREP_OK ||
		    engine_failover_of_scope(ps->e, cfgs[i].scope.scope_id, &found, owner, &cst) !=
			FREP_OK) {
			o->code    = (int32_t) cst.code;
			o->message = convert_arena_strdup(&a, cst.message, NULL);
			continue;
		}
		if (found && strcmp(owner, in->relationship) != 0) {
			char msg[FREP_STATUS_MESSAGE_MAX + 160];
			snprintf(msg, sizeof(msg),
			    "scope %s belongs to relationship \"%s\" on this server, not \"%s\"",
			    o->scope_id, owner, in->relationship);
			o->code    = FREP_FAILED_PRECONDITION;
			o->message = convert_arena_strdup(&a, msg, NULL);
			continue;
		}
		was_member[i] = found;
		slot[nv]      = i;
		valid[nv++]   = &cfgs[i];
	}
	if (nv > 0 && engine_scope_apply_batch(
			  ps->e, valid, nv, in->dry_run, in->dry_run, res, &st) != FREP_OK) {
		goto fail;
	}
	/* New scopes join the relationship; every applied scope is audited. */
	uint32_t            *joined   = convert_arena_alloc(&a, (nv + 1) * sizeof(uint32_t), &st);
	engine_audit_record *recs     = convert_arena_alloc(&a, (nv + 1) * sizeof(*recs), &st);
	size_t               n_joined = 0, n_recs = 0;
	if (joined == NULL || recs == NULL) {
		goto fail;
	}
	for (size_t k = 0; k < nv; k++) {
		size_t                       i = slot[k];
		Frep__V1__ApplyScopeOutcome *o = &outs[i];
		o->code                        = (int32_t) res[k].code;
		o->message = convert_arena_strdup(&a, res[k].status.message, NULL);
		if (res[k].code != FREP_OK) {
			continue;
		}
		Frep__V1__ApplyScopeResponse *r = convert_arena_alloc(&a, sizeof(*r), &st);
		if (r == NULL) {
			goto fail;
		}
		frep__v1__apply_scope_response__init(r);
		if (convert_scope_changes_to_proto(&res[k].changes, &a, &r->changes, &st) !=
			FREP_OK ||
		    convert_object_diffs_to_proto(res[k].diff, res[k].n_diff, &a, &r->diff, &st) !=
			FREP_OK) {
			goto fail;
		}
		r->n_diff        = res[k].n_diff;
		r->digest_before = res[k].digest_before;
		r->digest_after  = res[k].digest_after;
		o->result        = r;
		if (!in->dry_run) {
			if (!was_member[i]) {
				joined[n_joined++] = valid[k]->scope.scope_id;
			}
			recs[n_recs++] = engine_audit_applied(in->source_server, in->relationship,
			    valid[k]->scope.scope_id, res[k].digest_before, res[k].digest_after,
			    &res[k].changes);
		}
	}
	if (n_joined > 0 && engine_failover_add_scopes(
				ps->e, in->relationship, joined, n_joined, NULL, &st) != FREP_OK) {
		/* The scopes are applied; the next replication retries joining. */
		rpc_log(RPC_LOG_WARN, "relationship \"%s\": %zu new scopes not joined: %s",
		    in->relationship, n_joined, st.message);
	}
	frep_status ast;
	if (engine_audit_add_many(ps->e, recs, n_recs, &ast) != FREP_OK) {
		rpc_log(RPC_LOG_WARN, "audit records: %s", ast.message);
	}
	reply.outcomes   = outp;
	reply.n_outcomes = n;
	size_t in_len;
	(void) rpc_call_payload(call, &in_len);
	closure(&reply, closure_data);
	for (size_t k = 0; k < nv; k++) {
		engine_object_diffs_free(res[k].diff, res[k].n_diff);
	}
	free(res);
	convert_arena_fini(&a);
	if (in_len > TRIM_AFTER_BYTES) {
		/* A big scope's decoded and converted copies are freed now; give
		 * the memory back so that the next one does not stack on it. */
		malloc_trim(0);
	}
	return;

fail:
	for (size_t k = 0; res != NULL && k < nv; k++) {
		engine_object_diffs_free(res[k].diff, res[k].n_diff);
	}
	free(res);
	convert_arena_fini(&a);
	rpc_call_fail_status(call, &st);
	closure(NULL, closure_data);
}

static void
partner_get_scope_digests(Frep__V1__Partner_Service *service,
    const Frep__V1__GetScopeDigestsRequest *in, Frep__V1__GetScopeDigestsResponse_Closure closure,
    void *closure_data)
{
	partner_service                  *ps = (partner_service *) service;
	frep_status                       st;
	convert_arena                     a;
	uint32_t                         *ids = NULL;
	Frep__V1__GetScopeDigestsResponse out = FREP__V1__GET_SCOPE_DIGESTS_RESPONSE__INIT;

	convert_arena_init(&a);
	if (authenticate(ps, closure_data, in->relationship, &st) != FREP_OK ||
	    convert_scope_ids_from_proto(
		in->scope_ids, in->n_scope_ids, "scope_ids", &a, &ids, &st) != FREP_OK) {
		goto fail;
	}
	out.digests = convert_arena_alloc(&a, (in->n_scope_ids + 1) * sizeof(*out.digests), &st);
	if (out.digests == NULL) {
		goto fail;
	}
	/* Stored digests: one lookup per unchanged scope. */
	char(*hex)[65] = convert_arena_alloc(&a, (in->n_scope_ids + 1) * 65, &st);
	bool *found    = convert_arena_alloc(&a, (in->n_scope_ids + 1) * sizeof(bool), &st);
	if (hex == NULL || found == NULL ||
	    engine_scope_digests(ps->e, ids, in->n_scope_ids, hex, found, &st) != FREP_OK) {
		goto fail;
	}
	for (size_t i = 0; i < in->n_scope_ids; i++) {
		Frep__V1__ScopeDigest *d = convert_arena_alloc(&a, sizeof(*d), &st);
		if (d == NULL) {
			goto fail;
		}
		frep__v1__scope_digest__init(d);
		d->scope_id                  = in->scope_ids[i];
		d->digest                    = hex[i];
		out.digests[out.n_digests++] = d;
	}
	closure(&out, closure_data);
	convert_arena_fini(&a);
	return;

fail:
	convert_arena_fini(&a);
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
}

/* Removes the scopes of rel that are not in keep (deleting them here, as
 * Windows deletes a scope from the partner when it leaves failover). */
static frep_code
drop_scopes_not_in(partner_service *ps, const engine_failover *rel, const uint32_t *keep,
    size_t n_keep, frep_status *st)
{
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		bool kept = false;
		for (size_t k = 0; k < n_keep && !kept; k++) {
			kept = keep[k] == rel->scope_ids[i];
		}
		if (!kept && engine_scope_remove(ps->e, rel->scope_ids[i], true, st) != FREP_OK &&
		    st->code != FREP_NOT_FOUND) {
			return st->code;
		}
	}
	return FREP_OK;
}

static void
partner_mirror_relationship(Frep__V1__Partner_Service *service,
    const Frep__V1__MirrorRelationshipRequest         *in,
    Frep__V1__MirrorRelationshipResponse_Closure closure, void *closure_data)
{
	partner_service                     *ps   = (partner_service *) service;
	rpc_call                            *call = closure_data;
	frep_status                          st;
	convert_arena                        a;
	engine_failover                      want, have = {0};
	bool                                 have_it = false;
	Frep__V1__MirrorRelationshipResponse out     = FREP__V1__MIRROR_RELATIONSHIP_RESPONSE__INIT;

	convert_arena_init(&a);
	if (in->relationship == NULL) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "relationship is required");
		goto fail;
	}
	if (convert_failover_from_proto(in->relationship, "relationship", &a, &want, &st) !=
	    FREP_OK) {
		goto fail;
	}
	if (engine_failover_get(ps->e, want.name, &have, &st) == FREP_OK) {
		have_it = true;
	} else if (st.code != FREP_NOT_FOUND) {
		goto fail;
	}

	if (in->remove || have_it) {
		/* Removing, or changing the scope list of, an existing mirror:
		 * the stored secret authenticates it. */
		if (!have_it) {
			frep_status_set(&st, FREP_NOT_FOUND,
			    "relationship \"%s\" does not exist here", want.name);
			goto fail;
		}
		if (authenticate(ps, call, want.name, &st) != FREP_OK) {
			goto fail;
		}
		if (in->remove) {
			if (drop_scopes_not_in(ps, &have, NULL, 0, &st) != FREP_OK ||
			    engine_failover_remove(ps->e, want.name, &st) != FREP_OK) {
				goto fail;
			}
			out.relationship = in->relationship;
		} else {
			/* Keep only the listed scopes (the new ones arrive by
			 * ApplyScope and join then). */
			if (drop_scopes_not_in(ps, &have, want.scope_ids, want.n_scope_ids, &st) !=
			    FREP_OK) {
				goto fail;
			}
			engine_failover_fini(&have);
			if (engine_failover_get(ps->e, want.name, &have, &st) != FREP_OK ||
			    convert_failover_to_proto(&have, &a, &out.relationship, &st) !=
				FREP_OK) {
				goto fail;
			}
		}
	} else {
		/* A new mirror brings its secret: the MAC proves the request was
		 * made with it, and this server's admin token (if it has one)
		 * proves the caller may create relationships here. */
		if (want.shared_secret == NULL || want.shared_secret[0] == '\0') {
			frep_status_set(
			    &st, FREP_INVALID_ARGUMENT, "relationship.shared_secret is required");
			goto fail;
		}
		if (verify_with(ps, call, want.name, want.shared_secret, NULL, &st) != FREP_OK) {
			goto fail;
		}
		if (!rpc_call_has_admin_token(call)) {
			frep_status_set(&st, FREP_UNAUTHENTICATED,
			    "creating relationship \"%s\" needs this server's admin token",
			    want.name);
			goto fail;
		}
		for (size_t i = 0; i < want.n_scope_ids; i++) {
			engine_scope sc;
			if (engine_scope_get(ps->e, want.scope_ids[i], &sc, NULL) == FREP_OK) {
				engine_scope_fini(&sc);
				bool found = false;
				char owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
				if (engine_failover_of_scope(
					ps->e, want.scope_ids[i], &found, owner, &st) != FREP_OK) {
					goto fail;
				}
				if (found) {
					frep_status_set(&st, FREP_FAILED_PRECONDITION,
					    "scope %s already belongs to relationship \"%s\" on "
					    "the partner",
					    in->relationship->scope_ids[i], owner);
					goto fail;
				}
				if (!in->force) {
					frep_status_set(&st, FREP_ALREADY_EXISTS,
					    "scope %s already exists on the partner (use force to "
					    "replace it)",
					    in->relationship->scope_ids[i]);
					goto fail;
				}
			}
		}
		/* Created without scopes: each joins when its snapshot is applied. */
		engine_failover create = want;
		create.scope_ids       = NULL;
		create.n_scope_ids     = 0;
		if (engine_failover_add(ps->e, &create, &have, &st) != FREP_OK) {
			goto fail;
		}
		have_it = true;
		if (convert_failover_to_proto(&have, &a, &out.relationship, &st) != FREP_OK) {
			goto fail;
		}
		rpc_log(RPC_LOG_INFO, "relationship \"%s\" mirrored from %s", want.name,
		    want.partner_server);
	}
	closure(&out, closure_data);
	if (have_it) {
		engine_failover_fini(&have);
	}
	convert_arena_fini(&a);
	return;

fail:
	if (have_it) {
		engine_failover_fini(&have);
	}
	convert_arena_fini(&a);
	rpc_call_fail_status(call, &st);
	closure(NULL, closure_data);
}

frep_code
partner_service_new(engine *e, const char *state_path, ProtobufCService **out, frep_status *st)
{
	partner_service *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (state_path != NULL) {
		if (partner_auth_replay_open(state_path, &ps->replay, st) != FREP_OK) {
			free(ps);
			return st->code;
		}
	} else if ((ps->replay = partner_auth_replay_new()) == NULL) {
		free(ps);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__V1__Partner_Service init = FREP__V1__PARTNER__INIT(partner_);
	ps->base                       = init;
	ps->e                          = e;
	*out                           = &ps->base.base;
	return FREP_OK;
}

void
partner_service_free(ProtobufCService *service)
{
	partner_service *ps = (partner_service *) service;
	if (ps != NULL) {
		partner_auth_replay_free(ps->replay);
		free(ps);
	}
}
