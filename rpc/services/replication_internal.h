/*
 * replication_internal: what the FailoverReplication service's files
 * share (replication_service.c, replication_status.c, auto_sync.c). Not a
 * public interface.
 */
#ifndef FREP_RPC_REPLICATION_INTERNAL_H
#define FREP_RPC_REPLICATION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "auto_sync.h"
#include "engine.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_status.h"
#include "partner_client.h"
#include "replication_service.h"
#include "rpc_server.h"

#define NAMES_MAX 1000

/* The reservations, over one replication's scopes, of the snapshots its
 * digest step may keep for the send (engine_scope_digests_outgoing): a few
 * MB whatever the number of scopes changed since their last replication;
 * the scopes beyond it are read again when sent. */
#define KEPT_RESERVATIONS_MAX 65536u

struct replication {
	Frep__V1__FailoverReplication_Service base;
	engine                               *e;
	partner_pool                         *pool;
	/* How partners reach this server; replaced once after the start when
	 * the listener's port was 0 (replication_set_local_url): read
	 * atomically, the one it replaced kept until replication_free. */
	char *_Atomic local_url;
	char         *retired_url;
	uint32_t      timeout_ms;
	auto_sync    *as;         /* NULL when auto-sync is not running */
	char         *kea_ha_url; /* --kea-ha-url, "" for none (replication_set_kea_ha_url) */
};

/* The relationship as one replication uses it: its settings, its secret
 * and (within a rotation's grace window) its previous secret. */
typedef struct relctx {
	engine_failover rel;
	char           *secret;
	char           *previous; /* NULL when none */
	bool            dry_run;
	bool            adopt; /* take over partner scopes in no relationship */
	/* Auto-sync: never overwrite a partner edit this server has not seen
	 * (a partner digest other than the last-synced one); such a scope is
	 * a conflict (ABORTED with partner_changed), nothing is sent. */
	bool auto_mode;
	/* The x-request-id of its partner calls and the request_id of its
	 * audit records: the running call's, or one made for an attempt no
	 * call asked for (auto-sync). */
	char request_id[RPC_REQUEST_ID_MAX + 1];
} relctx;

/* Reads relationship name with its secrets into *c (zeroed first), and
 * the request id (see relctx); NOT_FOUND if unknown. Release with
 * replication__relctx_fini. */
frep_code replication__relctx_init(replication *r, const char *name, relctx *c, frep_status *st);
void      replication__relctx_fini(relctx *c);

/* The partner's digest of scope i of a GetScopeDigests reply d as the
 * source's logic reads it: "" when missing there (or d has no entry i);
 * REPLICATION_WITHHELD when the partner holds it in another relationship
 * (ScopeDigest.withheld): present there and unlike any digest here, so
 * AddFailoverScope says ALREADY_EXISTS, a replication's expected digest
 * makes the partner refuse it FAILED_PRECONDITION naming the owner, and a
 * status shows a conflict, as when partners showed every digest. */
#define REPLICATION_WITHHELD "withheld"
static inline const char *
replication__partner_digest(const Frep__V1__GetScopeDigestsResponse *d, size_t i)
{
	if (d == NULL || i >= d->n_digests || d->digests[i] == NULL) {
		return "";
	}
	return d->digests[i]->withheld ? REPLICATION_WITHHELD : d->digests[i]->digest;
}

/* One Partner call for c's relationship, signed with its secret (and, if
 * refused as UNAUTHENTICATED within a rotation's grace window, with the
 * previous one). On success *out is the partner's reply (the caller frees
 * it with protobuf_c_message_free_unpacked); every failure names the
 * partner. */
frep_code replication__rel_call(replication *r, const relctx *c, const char *method,
    const ProtobufCMessage *in, ProtobufCMessage **out, frep_status *st);

/* "partner <url>: " in front of st's message unless it names url
 * already: a refusal read on this server is the partner's. Returns
 * st->code. */
frep_code replication__prefix_partner(frep_status *st, const char *url);

/* INVALID_ARGUMENT naming the item if names (a request's relationship
 * names) has more than NAMES_MAX, an empty or too long name, or a repeat. */
frep_code replication__check_names(char *const *names, size_t n, frep_status *st);

/* The GetReplicationStatus and ReplicateServerSettings handlers
 * (replication_status.c). */
void replication__get_replication_status(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__GetReplicationStatusRequest                                *in,
    Frep__V1__GetReplicationStatusResponse_Closure closure, void *closure_data);
void replication__replicate_server_settings(Frep__V1__FailoverReplication_Service *service,
    const Frep__V1__ReplicateServerSettingsRequest                                *in,
    Frep__V1__ReplicateServerSettingsResponse_Closure closure, void *closure_data);

#endif /* FREP_RPC_REPLICATION_INTERNAL_H */
