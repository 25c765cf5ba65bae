/*
 * replication_rel: what the replication service's handlers share about one
 * relationship (its settings and secrets, a signed call to its partner,
 * the names a request gives): used by replication_service.c and
 * replication_status.c, so that neither calls into the other's module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication_internal.h"
#include "rpc_server.h"

void
replication__relctx_fini(relctx *c)
{
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	if (c->previous != NULL) {
		explicit_bzero(c->previous, strlen(c->previous));
		free(c->previous);
	}
	engine_failover_fini(&c->rel);
	memset(c, 0, sizeof(*c));
}

/* Every audit writer stores a call's request id as it is. */
_Static_assert(RPC_REQUEST_ID_MAX <= ENGINE_REQUEST_ID_MAX,
    "an audit record's request_id holds any x-request-id");

frep_code
replication__relctx_init(replication *r, const char *name, relctx *c, frep_status *st)
{
	memset(c, 0, sizeof(*c));
	rpc_call *call = rpc_call_current();
	if (call != NULL) {
		snprintf(c->request_id, sizeof(c->request_id), "%s", rpc_call_request_id(call));
	} else {
		/* No caller (auto-sync): one id of its own for this attempt's
		 * partner calls and audit records on both servers. */
		rpc_request_id_make(c->request_id, sizeof(c->request_id));
	}
	if (engine_failover_get(r->e, name, &c->rel, st) != FREP_OK ||
	    engine_failover_secret(r->e, name, &c->secret, st) != FREP_OK ||
	    engine_failover_previous_secret(r->e, name, &c->previous, st) != FREP_OK) {
		replication__relctx_fini(c);
		return st->code;
	}
	return FREP_OK;
}

/* "partner <url>: " in front of a message that does not name the partner
 * yet: a refusal read on this server is the partner's. */
frep_code
replication__prefix_partner(frep_status *st, const char *url)
{
	if (strstr(st->message, url) != NULL) {
		return st->code;
	}
	char msg[FREP_STATUS_MESSAGE_MAX + 300];
	snprintf(msg, sizeof(msg), "partner %s: %s", url, st->message);
	return frep_status_set(st, st->code, "%s", msg);
}

/* A Partner call for the relationship, signed with its secret; refused as
 * UNAUTHENTICATED while the partner still holds the previous secret of a
 * rotation (SetFailover changes one server, then the other), it is signed
 * again with that one. The refusal changed nothing there, so the second
 * try is safe. Every failure names the partner. */
frep_code
replication__rel_call(replication *r, const relctx *c, const char *method,
    const ProtobufCMessage *in, ProtobufCMessage **out, frep_status *st)
{
	const char *url  = c->rel.partner_server;
	frep_code   code = partner_call(r->pool, url, c->rel.name, c->secret, c->request_id, method,
	      in, out, r->timeout_ms, st);
	if (code == FREP_UNAUTHENTICATED && c->previous != NULL) {
		frep_status first = *st;
		code = partner_call(r->pool, url, c->rel.name, c->previous, c->request_id, method,
		    in, out, r->timeout_ms, st);
		if (code != FREP_OK) {
			*st = first;
		}
	}
	if (code != FREP_OK) {
		replication__prefix_partner(st, url);
	}
	return code;
}

frep_code
replication__check_names(char *const *names, size_t n, frep_status *st)
{
	if (n > NAMES_MAX) {
		return frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "names: %zu names, at most %d", n, NAMES_MAX);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (len == 0 || len > ENGINE_RELATIONSHIP_NAME_MAX) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "names[%zu] is %zu bytes long; a relationship name is 1..%d bytes", i,
			    len, ENGINE_RELATIONSHIP_NAME_MAX);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[k], names[i]) == 0) {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "names[%zu] \"%s\" repeats names[%zu]", i, names[i], k);
			}
		}
	}
	return FREP_OK;
}
