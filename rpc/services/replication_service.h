/*
 * replication_service: frep.v1.FailoverReplication — the counterpart of
 * Invoke-DhcpServerv4FailoverReplication. Resolves the request to scopes,
 * compares each scope's digest with the partner's (one call per
 * relationship), sends the snapshots that differ to the partner's Partner
 * service, and reports one result per scope and one error per request item
 * that named nothing replicable. Handlers call partners: register without
 * RPC_SERVICE_INLINE (they run on worker threads).
 *
 * Also the failover operations that need the partner (used as the
 * DhcpServer service's hooks): create / remove a relationship on both
 * servers, add / remove scopes on both.
 */
#ifndef FREP_RPC_REPLICATION_SERVICE_H
#define FREP_RPC_REPLICATION_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dhcp_service.h"
#include "engine.h"
#include "frep_status.h"
#include "auto_sync.h"
#include "partner_client.h"
#include "rpc_server.h"

typedef struct replication replication;

/* local_url: how partners reach this server (sent as source_server and as
 * the mirror's partner_server when a relationship does not say). e and
 * pool are borrowed. */
frep_code replication_new(engine *e, partner_pool *pool, const char *local_url,
    uint32_t partner_timeout_ms, replication **out, frep_status *st);
void      replication_free(replication *r);

/* Replaces local_url (frepd: the first listener's bound URL once the
 * server has started, when it listens on port 0 and --advertise-url was
 * not given: ":0" reaches nobody). Thread-safe against calls running;
 * meant to be called once. RESOURCE_EXHAUSTED if out of memory. */
frep_code replication_set_local_url(replication *r, const char *url, frep_status *st);

/* The URL this server's kea-dhcp4 offers its HA peer (frepd's
 * --kea-ha-url; NULL or "" = none): stored as kea_ha_url in relationships
 * this server creates or changes, and sent to the partner. Call before
 * serving. INVALID_ARGUMENT naming --kea-ha-url and the value for a
 * malformed URL (engine_ha_url_check). */
frep_code replication_set_kea_ha_url(replication *r, const char *url, frep_status *st);

/* Sets every relationship's kea_ha_url here to the URL given to
 * replication_set_kea_ha_url where it differs (frepd started with another
 * --kea-ha-url). The partners learn it from the next SetFailover. */
frep_code replication_refresh_kea_ha_url(replication *r, frep_status *st);

/* The FailoverReplication service (owned by r). */
ProtobufCService *replication_service(replication *r);

/* Creates rel here and its mirror on the partner (role inverted, percent
 * complemented), then replicates its scopes once. Nothing changes on
 * either side if the partner is unreachable, has the name, or has one of
 * the scopes (unless force). out (may be NULL) gets the stored
 * relationship (no secret). */
frep_code replication_failover_add(
    replication *r, const engine_failover *rel, bool force, engine_failover *out, frep_status *st);

/* Removes the relationship on the partner (which deletes its copies of the
 * scopes, as Windows does) and then here (scopes stay here). */
frep_code replication_failover_remove(replication *r, const char *name, frep_status *st);

/* Adds scopes to the relationship here and replicates them to the partner
 * (which creates them); all or nothing here if the partner refuses. */
frep_code replication_failover_add_scopes(replication *r, const char *name,
    const uint32_t *scope_ids, size_t n, bool force, engine_failover *out, frep_status *st);

/* Removes scopes from the relationship here and on the partner (which
 * deletes its copies). */
frep_code replication_failover_remove_scopes(replication *r, const char *name,
    const uint32_t *scope_ids, size_t n, engine_failover *out, frep_status *st);

/* RemoveScope (DhcpServer, engine_scope_remove's rules): with force, a
 * scope of a relationship first leaves it here and on the partner, which
 * deletes its copy (replication_failover_remove_scopes); partner down or
 * refusing = nothing removed on either side. */
frep_code replication_scope_remove(replication *r, uint32_t scope_id, bool force, frep_status *st);

/* Changes the relationship here and its mirror on the partner in one
 * operation (MirrorRelationship with an update mask, signed with the
 * secret the partner holds now): role inverted, percent complemented,
 * MCLT, reserve percent, state switch interval, auto state transition
 * and a new shared secret as given. Partner down or refusing: this
 * server is set back and the partner's status returned. */
frep_code replication_failover_set(replication *r, const engine_failover *rel,
    const char *const *mask, size_t n_mask, engine_failover *out, frep_status *st);

/* Fills hooks so that the DhcpServer service's AddFailover,
 * RemoveFailover, AddFailoverScope, RemoveFailoverScope, SetFailover and
 * RemoveScope (of a relationship's scope) act on both servers through r. */
void replication_failover_hooks(replication *r, dhcp_service_failover_hooks *hooks);

/* --- auto-sync (auto_sync.h) ---------------------------------------------- */

/* One scope's outcome of replication_auto_sync_scopes. */
typedef struct replication_auto_outcome {
	uint32_t  scope_id;
	frep_code code;     /* OK: the partner holds this server's version now */
	bool      sent;     /* applied on the partner by this call */
	bool      conflict; /* edited on both servers: nothing sent (code ABORTED) */
	/* The partner was not reached (UNAVAILABLE, DEADLINE_EXCEEDED before
	 * anything was applied). */
	bool unreachable;
	char message[FREP_STATUS_MESSAGE_MAX];
	char request_id[RPC_REQUEST_ID_MAX + 1]; /* the attempt's (its audit records') */
} replication_auto_outcome;

/* Replicates n scopes of relationship name as ReplicateByScopeId does
 * (digests, versioned apply, audit), except that a scope whose partner
 * digest is neither this server's nor the last-synced one is not sent
 * (out[i].conflict). A scope the partner already holds gets its
 * last-synced state recorded. snaps: NULL, or n snapshots (snaps[i] of
 * ids[i], or NULL) from engine_scope_digests_outgoing, sent instead of
 * reading those scopes again; all of them are taken over (ended and
 * freed) and the array left all NULL, whatever the outcome. out is the
 * caller's array of n. Returns FREP_OK when each scope has its outcome in
 * out; otherwise (unknown relationship, no memory) the status, and out
 * says nothing. */
frep_code replication_auto_sync_scopes(replication *r, const char *name, const uint32_t *ids,
    size_t n, engine_scope_config **snaps, replication_auto_outcome *out, frep_status *st);

/* Lets the status method report what the auto-sync worker knows (as may
 * be NULL: none). Call before serving. */
void replication_set_auto_sync(replication *r, auto_sync *as);

#endif /* FREP_RPC_REPLICATION_SERVICE_H */
