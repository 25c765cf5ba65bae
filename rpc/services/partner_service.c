#include "partner_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frep/v1/partner.pb-c.h"
#include "log.h"
#include "partner_auth.h"
#include "rpc_server.h"
#include "server_settings.h"

typedef struct partner_service {
	Frep__V1__Partner_Service base;
	engine                   *e;
	partner_auth_replay      *replay;
	char                     *kea_ha_url; /* --kea-ha-url, "" for none */
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

/* Within a rotation's grace window the previous secret still signs
 * (SetFailover changes the two servers one after the other): retries a
 * call refused with the current secret (st holds that refusal) with the
 * previous one. The first refusal is the one reported. */
static frep_code
verify_previous(
    partner_service *ps, rpc_call *call, const char *relationship, bool *replayed, frep_status *st)
{
	char       *prev = NULL;
	frep_status pst;
	frep_code   code = st->code;
	if (engine_failover_previous_secret(ps->e, relationship, &prev, &pst) == FREP_OK &&
	    prev != NULL) {
		if (verify_with(ps, call, relationship, prev, replayed, &pst) == FREP_OK) {
			code = FREP_OK;
			frep_status_clear(st);
		}
		explicit_bzero(prev, strlen(prev));
		free(prev);
	}
	return code;
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
	if (code == FREP_UNAUTHENTICATED) {
		code = verify_previous(ps, call, relationship, NULL, st);
	}
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
		if (strcmp(method, "/frep.v1.Partner/MirrorRelationship") == 0) {
			if (rpc_call_has_admin_token(call)) {
				return FREP_OK;
			}
			rpc_log(RPC_LOG_WARN,
			    "refused partner call %s: creating relationship \"%.64s\" without "
			    "this server's admin token",
			    method, rel);
			return frep_status_set(st, FREP_UNAUTHENTICATED,
			    "%s: creating relationship \"%.64s\" here needs this server's admin "
			    "token (the calling frepd's --partner-token-file), and the call has "
			    "none or a wrong one",
			    method, rel);
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
	if (code == FREP_UNAUTHENTICATED && !replayed) {
		code = verify_previous(ps, call, rel, &replayed, st);
	}
	if (code == FREP_UNAUTHENTICATED && !replayed &&
	    strcmp(method, "/frep.v1.Partner/MirrorRelationship") == 0 &&
	    rpc_call_has_admin_token(call)) {
		/* Another server's AddFailover of a name taken here (its own
		 * secret): decoded, as any create is, so that the handler can
		 * answer ALREADY_EXISTS; not proved, so it cannot change the
		 * relationship (authenticate() checks the stored secret again). */
		rpc_call_set_principal(call, "");
		return FREP_OK;
	}
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

/* How long an apply that meets this server's own send of the same scope
 * waits for that send to end (the send's partner refuses it at once, so
 * this is one round trip in practice). */
#define OUTGOING_WAIT_MS 5000

/* One info line per apply that may have changed this server, with the
 * request id the source logged and audited with its "sent" records: a
 * success is otherwise logged only at debug (the access log). */
static void
log_applied(rpc_call *call, const char *relationship, const char *source,
    const engine_apply_result *res, size_t n)
{
	size_t    applied = 0;
	frep_code code    = FREP_OK;
	for (size_t i = 0; i < n; i++) {
		if (res[i].code == FREP_OK) {
			applied++;
		} else if (code == FREP_OK) {
			code = res[i].code; /* the first refusal's */
		}
	}
	/* source_server is the caller's text: a text log line takes it only
	 * when it cannot forge a line. */
	for (const char *p = source; *p != '\0'; p++) {
		if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f) {
			source = "(unprintable source_server)";
			break;
		}
	}
	char msg[ENGINE_RELATIONSHIP_NAME_MAX + 100];
	snprintf(msg, sizeof(msg), "%zu scopes (relationship %s): %zu applied, %zu refused", n,
	    relationship, applied, n - applied);
	rpc_call_log_event(call, RPC_LOG_INFO, "apply", frep_code_name(code), source, msg);
}

/* Applies n configs with the partner's rules (engine_scope_apply_guarded):
 * scopes refused because this server is sending a losing version of them
 * right now are applied again once that send has ended. Every scope's
 * outcome, failures included, is audited (not on dry runs). */
static frep_code
guarded_apply(partner_service *ps, rpc_call *call, const char *relationship, const char *source,
    const engine_scope_config *const *cfgs, const engine_apply_guard *guards, size_t n,
    bool dry_run, engine_apply_result *res, frep_status *st)
{
	if (n == 0) {
		return FREP_OK;
	}
	if (engine_scope_apply_guarded(ps->e, cfgs, guards, n, dry_run, dry_run, res, st) !=
	    FREP_OK) {
		return st->code;
	}
	for (size_t i = 0; i < n; i++) {
		if (!res[i].wait_outgoing) {
			continue;
		}
		int64_t  left = rpc_call_remaining_ms(call);
		uint32_t wait = left < 0 || left > OUTGOING_WAIT_MS ? OUTGOING_WAIT_MS
				: left > 200                        ? (uint32_t) (left - 200)
								    : 0;
		if (!engine_scope_outgoing_wait(ps->e, cfgs[i]->scope.scope_id, wait)) {
			continue; /* still sending: the ABORTED stands */
		}
		engine_apply_result again;
		if (engine_scope_apply_guarded(
			ps->e, &cfgs[i], &guards[i], 1, dry_run, dry_run, &again, st) != FREP_OK) {
			return st->code;
		}
		engine_object_diffs_free(res[i].diff, res[i].n_diff);
		res[i] = again;
	}
	if (!dry_run) {
		engine_audit_record *recs = calloc(n, sizeof(*recs));
		frep_status          ast;
		if (recs == NULL) {
			rpc_log(RPC_LOG_WARN, "audit records of %zu scopes: out of memory", n);
			return FREP_OK;
		}
		for (size_t i = 0; i < n; i++) {
			recs[i] = engine_audit_applied(source, relationship,
			    rpc_call_request_id(call), cfgs[i]->scope.scope_id,
			    res[i].digest_before, res[i].digest_after, &res[i].changes);
			if (res[i].code != FREP_OK) {
				recs[i].code    = (int32_t) res[i].code;
				recs[i].message = res[i].status.message;
			}
		}
		if (engine_audit_add_many(ps->e, recs, n, &ast) != FREP_OK) {
			rpc_log(RPC_LOG_WARN, "audit records: %s", ast.message);
		}
		free(recs);
		log_applied(call, relationship, source, res, n);
	}
	return FREP_OK;
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
	const engine_scope_config *one   = &cfg;
	engine_apply_guard         guard = {
		    .relationship    = in->relationship,
		    .adopt           = in->adopt,
		    .check_expected  = in->check_expected,
		    .expected_digest = in->expected_digest,
        };
	engine_apply_result res;
	if (guarded_apply(ps, call, in->relationship, in->source_server, &one, &guard, 1, dry_run,
		&res, &st) != FREP_OK) {
		goto fail;
	}
	if (res.code != FREP_OK) {
		st = res.status;
		goto fail;
	}
	changes = res.changes;
	diff    = res.diff;
	n_diff  = res.n_diff;
	memcpy(before, res.digest_before, sizeof(before));
	memcpy(after, res.digest_after, sizeof(after));
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

static void
partner_apply_scopes(Frep__V1__Partner_Service *service, const Frep__V1__ApplyScopesRequest *in,
    Frep__V1__ApplyScopesResponse_Closure closure, void *closure_data)
{
	partner_service              *ps   = (partner_service *) service;
	rpc_call                     *call = closure_data;
	frep_status                   st;
	convert_arena                 a;
	size_t                        n      = in->n_configs;
	engine_scope_config          *cfgs   = NULL;
	const engine_scope_config   **valid  = NULL;
	engine_apply_guard           *guards = NULL;
	size_t                       *slot   = NULL; /* valid[k] is configs[slot[k]] */
	engine_apply_result          *res    = NULL;
	Frep__V1__ApplyScopeOutcome  *outs   = NULL;
	Frep__V1__ApplyScopeOutcome **outp   = NULL;
	Frep__V1__ApplyScopesResponse reply  = FREP__V1__APPLY_SCOPES_RESPONSE__INIT;
	size_t                        nv     = 0;

	convert_arena_init(&a);
	if (authenticate(ps, call, in->relationship, &st) != FREP_OK) {
		goto fail;
	}
	if (n > APPLY_SCOPES_MAX) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "configs: %zu scopes, at most %d", n,
		    APPLY_SCOPES_MAX);
		goto fail;
	}
	if (in->n_expected_digests != 0 && in->n_expected_digests != n) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT,
		    "expected_digests has %zu entries for %zu configs (one per config, or none)",
		    in->n_expected_digests, n);
		goto fail;
	}
	cfgs   = convert_arena_alloc(&a, (n + 1) * sizeof(*cfgs), &st);
	valid  = convert_arena_alloc(&a, (n + 1) * sizeof(*valid), &st);
	guards = convert_arena_alloc(&a, (n + 1) * sizeof(*guards), &st);
	slot   = convert_arena_alloc(&a, (n + 1) * sizeof(*slot), &st);
	outs   = convert_arena_alloc(&a, (n + 1) * sizeof(*outs), &st);
	outp   = convert_arena_alloc(&a, (n + 1) * sizeof(*outp), &st);
	res    = calloc(n + 1, sizeof(*res));
	if (cfgs == NULL || valid == NULL || guards == NULL || slot == NULL || outs == NULL ||
	    outp == NULL || res == NULL) {
		frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	/* Per scope: convert; the valid ones go to the engine together, which
	 * applies the ownership, version and crossing rules. */
	for (size_t i = 0; i < n; i++) {
		frep_status                  cst;
		char                         field[48];
		Frep__V1__ApplyScopeOutcome *o = &outs[i];
		frep__v1__apply_scope_outcome__init(o);
		outp[i]     = o;
		o->scope_id = in->configs[i]->scope != NULL ? in->configs[i]->scope->scope_id : "";
		snprintf(field, sizeof(field), "configs[%zu]", i);
		if (convert_scope_config_from_proto(in->configs[i], field, &a, &cfgs[i], &cst) !=
		    FREP_OK) {
			o->code    = (int32_t) cst.code;
			o->message = convert_arena_strdup(&a, cst.message, NULL);
			continue;
		}
		guards[nv] = (engine_apply_guard){
		    .relationship    = in->relationship,
		    .adopt           = in->adopt,
		    .check_expected  = in->n_expected_digests > 0,
		    .expected_digest = in->n_expected_digests > 0 ? in->expected_digests[i] : "",
		};
		slot[nv]    = i;
		valid[nv++] = &cfgs[i];
	}
	if (guarded_apply(ps, call, in->relationship, in->source_server, valid, guards, nv,
		in->dry_run, res, &st) != FREP_OK) {
		goto fail;
	}
	for (size_t k = 0; k < nv; k++) {
		size_t                       i = slot[k];
		Frep__V1__ApplyScopeOutcome *o = &outs[i];
		o->code                        = (int32_t) res[k].code;
		o->message        = convert_arena_strdup(&a, res[k].status.message, NULL);
		o->stale_expected = res[k].stale_expected;
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
	}
	reply.outcomes   = outp;
	reply.n_outcomes = n;
	closure(&reply, closure_data);
	for (size_t k = 0; k < nv; k++) {
		engine_object_diffs_free(res[k].diff, res[k].n_diff);
	}
	free(res);
	convert_arena_fini(&a);
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
	uint32_t                         *ids  = NULL;
	engine_failover                   rel  = {0};
	bool                              have = false;
	Frep__V1__GetScopeDigestsResponse out  = FREP__V1__GET_SCOPE_DIGESTS_RESPONSE__INIT;

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
	/* Only this relationship's scopes and scopes of none (which the
	 * source may take over with force, comparing this digest) are shown;
	 * another relationship's scope is withheld. */
	for (size_t i = 0; i < in->n_scope_ids; i++) {
		Frep__V1__ScopeDigest *d = convert_arena_alloc(&a, sizeof(*d), &st);
		if (d == NULL) {
			goto fail;
		}
		frep__v1__scope_digest__init(d);
		d->scope_id = in->scope_ids[i];
		d->digest   = hex[i];
		if (found[i]) {
			if (!have) {
				if (engine_failover_get(ps->e, in->relationship, &rel, &st) !=
				    FREP_OK) {
					goto fail;
				}
				if (rel.n_scope_ids > 0) {
					qsort(rel.scope_ids, rel.n_scope_ids, sizeof(uint32_t),
					    convert_cmp_scope_id);
				}
				have = true;
			}
			if (rel.n_scope_ids == 0 ||
			    bsearch(&ids[i], rel.scope_ids, rel.n_scope_ids, sizeof(uint32_t),
				convert_cmp_scope_id) == NULL) {
				bool owned = false;
				char owner[ENGINE_RELATIONSHIP_NAME_MAX + 1];
				if (engine_failover_of_scope(ps->e, ids[i], &owned, owner, &st) !=
				    FREP_OK) {
					goto fail;
				}
				if (owned) {
					d->digest   = "";
					d->withheld = true;
				}
			}
		}
		out.digests[out.n_digests++] = d;
	}
	if (in->list_relationship_scopes) {
		if (!have) {
			if (engine_failover_get(ps->e, in->relationship, &rel, &st) != FREP_OK) {
				goto fail;
			}
			have = true;
		}
		size_t n        = rel.n_scope_ids;
		char(*rhex)[65] = convert_arena_alloc(&a, (n + 1) * 65, &st);
		bool *rfound    = convert_arena_alloc(&a, (n + 1) * sizeof(bool), &st);
		out.relationship_scopes =
		    convert_arena_alloc(&a, (n + 1) * sizeof(*out.relationship_scopes), &st);
		if (rhex == NULL || rfound == NULL || out.relationship_scopes == NULL ||
		    engine_scope_digests(ps->e, rel.scope_ids, n, rhex, rfound, &st) != FREP_OK) {
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			Frep__V1__ScopeDigest *d = convert_arena_alloc(&a, sizeof(*d), &st);
			if (d == NULL) {
				goto fail;
			}
			frep__v1__scope_digest__init(d);
			if ((d->scope_id = convert_ipv4_to_text(
				 &a, rel.scope_ids[i], false, &st)) == NULL) {
				goto fail;
			}
			d->digest                                            = rhex[i];
			out.relationship_scopes[out.n_relationship_scopes++] = d;
		}
	}
	closure(&out, closure_data);
	engine_failover_fini(&rel);
	convert_arena_fini(&a);
	return;

fail:
	engine_failover_fini(&rel);
	convert_arena_fini(&a);
	rpc_call_fail_status(closure_data, &st);
	closure(NULL, closure_data);
}

static bool
listed(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t k = 0; k < n; k++) {
		if (ids[k] == id) {
			return true;
		}
	}
	return false;
}

/* Removes the scopes of rel that are not in keep: deleting them here, as
 * Windows deletes a scope from the partner when it leaves failover, except
 * those in own (MirrorRelationshipRequest.keep_scope_ids: this server's
 * own before a forced call that failed), which only leave the
 * relationship. */
static frep_code
drop_scopes_not_in(partner_service *ps, const engine_failover *rel, const uint32_t *keep,
    size_t n_keep, const uint32_t *own, size_t n_own, frep_status *st)
{
	for (size_t i = 0; i < rel->n_scope_ids; i++) {
		uint32_t id = rel->scope_ids[i];
		if (listed(keep, n_keep, id)) {
			continue;
		}
		if (listed(own, n_own, id)) {
			if (engine_failover_remove_scopes(ps->e, rel->name, &id, 1, NULL, st) !=
				FREP_OK &&
			    st->code != FREP_NOT_FOUND) {
				return st->code;
			}
		} else if (engine_scope_remove(ps->e, id, true, st) != FREP_OK &&
			   st->code != FREP_NOT_FOUND) {
			return st->code;
		}
	}
	return FREP_OK;
}

/* The mirror's settings a SetFailover on the partner may change. */
static const char *const mirror_settable[] = {"mode", "server_role", "load_balance_percent",
    "reserve_percent", "max_client_lead_time_s", "auto_state_transition", "state_switch_interval_s",
    "shared_secret", "partner_server", "local_server", "auto_sync", NULL};

static frep_code
update_mirror_settings(partner_service *ps, const engine_failover *want,
    const Frep__V1__MirrorRelationshipRequest *in, frep_status *st)
{
	for (size_t i = 0; i < in->n_update_mask; i++) {
		bool ok = false;
		for (size_t k = 0; mirror_settable[k] != NULL && !ok; k++) {
			ok = strcmp(in->update_mask[i], mirror_settable[k]) == 0;
		}
		if (!ok) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "update_mask[%zu] \"%s\" cannot be set on the mirror (settable: mode, "
			    "server_role, load_balance_percent, reserve_percent, "
			    "max_client_lead_time_s, auto_state_transition, "
			    "state_switch_interval_s, shared_secret, partner_server, local_server, "
			    "auto_sync)",
			    i, in->update_mask[i]);
		}
	}
	frep_code code = engine_failover_set(
	    ps->e, want, (const char *const *) in->update_mask, in->n_update_mask, NULL, st);
	if (code == FREP_OK) {
		rpc_log(RPC_LOG_INFO, "relationship \"%s\": %zu settings changed by the partner",
		    want->name, in->n_update_mask);
	}
	return code;
}

/* SetFailover's other half, for the Kea HA hook: this side's URL is this
 * frepd's --kea-ha-url, the partner's is the one its request carries (an
 * older partner sends none: ""). */
static frep_code
exchange_ha_urls(partner_service *ps, const engine_failover *want, frep_status *st)
{
	static const char *const mask[] = {"kea_ha_url", "partner_kea_ha_url"};
	engine_failover          m      = {0};
	m.name                          = want->name;
	m.kea_ha_url                    = ps->kea_ha_url;
	m.partner_kea_ha_url = want->partner_kea_ha_url != NULL ? want->partner_kea_ha_url : "";
	return engine_failover_set(ps->e, &m, mask, 2, NULL, st);
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
	uint32_t                            *own     = NULL;
	size_t                               n_own   = 0;

	convert_arena_init(&a);
	if (in->relationship == NULL) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "relationship is required");
		goto fail;
	}
	if (convert_failover_from_proto(in->relationship, "relationship", &a, &want, &st) !=
	    FREP_OK) {
		goto fail;
	}
	if (convert_scope_ids_from_proto(in->keep_scope_ids, in->n_keep_scope_ids, "keep_scope_ids",
		&a, &own, &st) != FREP_OK) {
		goto fail;
	}
	n_own = in->n_keep_scope_ids;
	if (engine_failover_get(ps->e, want.name, &have, &st) == FREP_OK) {
		have_it = true;
	} else if (st.code != FREP_NOT_FOUND) {
		goto fail;
	}

	if (in->create && have_it) {
		/* AddFailover of a name taken here: refused before anything is
		 * touched, unless it is the caller's own mirror (its secret, this
		 * caller as its partner) left by an earlier AddFailover whose answer
		 * was lost: that one is updated, as before the field. Refusing
		 * needs the relationship's own secret or this server's admin token
		 * (checked before decoding): no other relationship's. */
		const char *proved        = rpc_call_principal(call);
		bool        signed_for_it = proved != NULL && strcmp(proved, want.name) == 0;
		if (!(signed_for_it && have.partner_server != NULL && want.partner_server != NULL &&
			strcmp(have.partner_server, want.partner_server) == 0)) {
			if (!signed_for_it && !rpc_call_has_admin_token(call)) {
				frep_status_set(&st, FREP_UNAUTHENTICATED,
				    "creating relationship \"%s\" needs this server's admin token",
				    want.name);
				goto fail;
			}
			frep_status_set(&st, FREP_ALREADY_EXISTS,
			    "relationship \"%s\" already exists on the partner (its partner there "
			    "is %s); nothing was changed",
			    want.name, have.partner_server != NULL ? have.partner_server : "");
			goto fail;
		}
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
		if (in->n_update_mask > 0) {
			/* SetFailover's other half: settings only. */
			if (update_mirror_settings(ps, &want, in, &st) != FREP_OK ||
			    exchange_ha_urls(ps, &want, &st) != FREP_OK) {
				goto fail;
			}
			engine_failover_fini(&have);
			if (engine_failover_get(ps->e, want.name, &have, &st) != FREP_OK ||
			    convert_failover_to_proto(&have, &a, &out.relationship, &st) !=
				FREP_OK) {
				goto fail;
			}
		} else if (in->remove) {
			if (drop_scopes_not_in(ps, &have, NULL, 0, own, n_own, &st) != FREP_OK ||
			    engine_failover_remove(ps->e, want.name, &st) != FREP_OK) {
				goto fail;
			}
			out.relationship = in->relationship;
		} else {
			/* Keep only the listed scopes (the new ones arrive by
			 * ApplyScope and join then). */
			if (drop_scopes_not_in(ps, &have, want.scope_ids, want.n_scope_ids, own,
				n_own, &st) != FREP_OK) {
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
		/* Created without scopes: each joins when its snapshot is applied.
		 * This side's Kea HA URL is this frepd's, whatever the caller
		 * thinks it is; the caller's is in partner_kea_ha_url. */
		engine_failover create = want;
		create.scope_ids       = NULL;
		create.n_scope_ids     = 0;
		create.kea_ha_url      = ps->kea_ha_url;
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

static void
partner_get_server_settings(Frep__V1__Partner_Service *service,
    const Frep__V1__GetServerSettingsRequest *in, Frep__V1__ServerSettings_Closure closure,
    void *closure_data)
{
	partner_service          *ps = (partner_service *) service;
	frep_status               st;
	Frep__V1__ServerSettings *out = NULL;

	if (authenticate(ps, closure_data, in->relationship, &st) != FREP_OK ||
	    server_settings_collect(ps->e, &out, &st) != FREP_OK) {
		rpc_call_fail_status(closure_data, &st);
		closure(NULL, closure_data);
		return;
	}
	closure(out, closure_data);
	protobuf_c_message_free_unpacked(&out->base, NULL);
}

static void
partner_apply_server_settings(Frep__V1__Partner_Service *service,
    const Frep__V1__ApplyServerSettingsRequest          *in,
    Frep__V1__ApplyServerSettingsResponse_Closure closure, void *closure_data)
{
	partner_service                      *ps = (partner_service *) service;
	frep_status                           st;
	convert_arena                         a;
	unsigned                              kinds;
	Frep__V1__ApplyServerSettingsResponse out = FREP__V1__APPLY_SERVER_SETTINGS_RESPONSE__INIT;

	convert_arena_init(&a);
	if (authenticate(ps, closure_data, in->relationship, &st) != FREP_OK ||
	    server_settings_kinds(in->kinds, in->n_kinds, "kinds", &kinds, &st) != FREP_OK) {
		goto fail;
	}
	if (in->settings == NULL) {
		frep_status_set(&st, FREP_INVALID_ARGUMENT, "settings is required");
		goto fail;
	}
	if (server_settings_apply(ps->e, in->settings, kinds, in->dry_run, &a, &out.diff,
		&out.n_diff, &st) != FREP_OK) {
		goto fail;
	}
	if (!in->dry_run) {
		rpc_log(RPC_LOG_INFO,
		    "server-level settings from %.200s (relationship %s): %zu differences applied",
		    in->source_server, in->relationship, out.n_diff);
	}
	closure(&out, closure_data);
	convert_arena_fini(&a);
	return;
fail:
	convert_arena_fini(&a);
	rpc_call_fail_status(closure_data, &st);
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
	if ((ps->kea_ha_url = strdup("")) == NULL) {
		partner_auth_replay_free(ps->replay);
		free(ps);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	*out = &ps->base.base;
	return FREP_OK;
}

frep_code
partner_service_set_kea_ha_url(ProtobufCService *service, const char *url, frep_status *st)
{
	partner_service *ps = (partner_service *) service;
	if (engine_ha_url_check("--kea-ha-url", url, st) != FREP_OK) {
		return st->code;
	}
	char *copy = strdup(url != NULL ? url : "");
	if (copy == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	free(ps->kea_ha_url);
	ps->kea_ha_url = copy;
	return FREP_OK;
}

void
partner_service_free(ProtobufCService *service)
{
	partner_service *ps = (partner_service *) service;
	if (ps != NULL) {
		partner_auth_replay_free(ps->replay);
		free(ps->kea_ha_url);
		free(ps);
	}
}
