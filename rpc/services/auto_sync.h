/*
 * auto_sync: change-triggered replication (issue 15). A worker thread
 * wakes on every committed write of the store (auto_sync_commit_hook),
 * waits for the debounce, then, for each relationship with auto_sync ON,
 * finds the scopes whose digest differs from the pair's last-synced one
 * (changed here since the last replication) and replicates them through
 * the path of ReplicateByScopeId in auto mode (replication_auto_sync_scopes):
 * digests, versioned apply, audit, and never over a partner edit it has
 * not seen (such a scope is a conflict). Scopes applied from the partner
 * already hold their last-synced digest, so they are never sent back.
 * Because the work is computed from digests, pending work survives a
 * restart: the worker scans once at start. A partner that fails is
 * retried with capped exponential backoff.
 */
#ifndef FREP_RPC_AUTO_SYNC_H
#define FREP_RPC_AUTO_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "frep_status.h"

typedef struct auto_sync   auto_sync;
typedef struct replication replication;
struct replication_auto_outcome; /* replication_service.h */

typedef struct auto_sync_options {
	/* Quiet time after the last change before a scan (0 = at once). */
	uint32_t debounce_ms;
	/* A burst that never goes quiet is scanned this long after its first
	 * change anyway (0 = 10 x debounce, at least 1000 ms). */
	uint32_t max_delay_ms;
	/* Retry after a failure: first after backoff_min_ms, doubling up to
	 * backoff_max_ms (0 = 250 ms and 30,000 ms). */
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	/* How the worker replicates a relationship's changed scopes:
	 * replication_auto_sync_scopes (replication_service.h), which frepd
	 * passes. A function pointer, so that this worker does not call into
	 * the replication service that reads its state (no module cycle,
	 * tests/cycle_check.py). Required. */
	frep_code (*send)(replication *r, const char *name, const uint32_t *ids, size_t n,
	    engine_scope_config **snaps, struct replication_auto_outcome *out, frep_status *st);
} auto_sync_options;

#define AUTO_SYNC_DEBOUNCE_MS_DEFAULT    200
#define AUTO_SYNC_BACKOFF_MIN_MS_DEFAULT 250
#define AUTO_SYNC_BACKOFF_MAX_MS_DEFAULT 30000

/* Starts the worker (it scans once at start). e and r are borrowed and
 * must outlive the worker. INVALID_ARGUMENT without options->send;
 * RESOURCE_EXHAUSTED / INTERNAL if the thread or memory cannot be had. */
frep_code auto_sync_new(
    engine *e, replication *r, const auto_sync_options *options, auto_sync **out, frep_status *st);

/* Stops the worker (an attempt in progress ends first) and frees it; NULL
 * is a no-op. Clear the engine's commit hook first. */
void auto_sync_free(auto_sync *as);

/* The engine commit hook: marks the store changed and wakes the worker.
 * Quick, never blocks on I/O. arg is the auto_sync. */
void auto_sync_commit_hook(void *arg);

/* What the worker knows of one scope of a relationship. */
typedef struct auto_sync_scope_info {
	bool    pending;         /* queued or waiting for a retry */
	int32_t last_error_code; /* of the last failed attempt, 0 if none */
	char    last_error[FREP_STATUS_MESSAGE_MAX];
	int64_t last_attempt_unix_ms;
} auto_sync_scope_info;

/* Fills *out for (relationship, scope_id) (all zero if the worker knows
 * nothing of it). Thread-safe. */
void auto_sync_scope_get(
    auto_sync *as, const char *relationship, uint32_t scope_id, auto_sync_scope_info *out);

/* Keeps the worker off relationship while the caller changes it on both
 * servers (AddFailover, AddFailoverScope, RemoveFailover(Scope),
 * SetFailover, a forced RemoveScope): until the partner's side is done
 * the two disagree — the relationship or a scope not there yet, a secret
 * or URL not mirrored — and an attempt then would only fail (audited,
 * backed off) or race the change's own push. An attempt already running goes on. Holds nest;
 * auto_sync_release marks the store changed, so that the worker looks at
 * the relationship again. Thread-safe; as or relationship NULL: no-op. */
void auto_sync_hold(auto_sync *as, const char *relationship);
void auto_sync_release(auto_sync *as, const char *relationship);

/* The last successful call to relationship's partner (0 = none), and
 * recording one (the status call reaches partners too). Thread-safe. */
int64_t auto_sync_last_contact(auto_sync *as, const char *relationship);
void    auto_sync_contact(auto_sync *as, const char *relationship, int64_t unix_ms);

/* How many scans and sends the worker has made (tests, metrics), and how
 * many scopes wait now. */
typedef struct auto_sync_counters {
	uint64_t scans;
	uint64_t scopes_sent;
	uint64_t conflicts;
	uint64_t failures;
	uint64_t pending; /* scopes queued or waiting for a retry, now */
	uint64_t errored; /* scopes whose last attempt failed (conflicts too), now */
} auto_sync_counters;
void auto_sync_counters_get(auto_sync *as, auto_sync_counters *out);

#endif /* FREP_RPC_AUTO_SYNC_H */
