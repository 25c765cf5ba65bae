/*
 * frepctl replicate: Invoke-DhcpServerv4FailoverReplication from the
 * command line — by relationship name, by scope id, or every failover
 * scope; --what-if is -WhatIf (the partner's diff, nothing changed);
 * without --force (or --yes) it asks for confirmation on a terminal, as
 * the cmdlet does, and refuses to proceed off a terminal. --force only
 * skips the question: scopes whose digest the partner already holds are
 * skipped unless --full asks for a full resend. --server-settings pushes
 * the server-level settings instead (ReplicateServerSettings).
 *
 * Also frepctl failover status (GetReplicationStatus): is the pair in
 * step, scope by scope, and do the server-level settings differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/rpc/v1/envelope.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frepctl_internal.h"

/* More scopes than this, on a terminal: replicate in batches and show
 * progress between them. */
#define PROGRESS_BATCH 10

static const frepctl_flag replicate_flags[] = {
    {.name      = "name",
	.arg    = "NAME",
	.help   = "a relationship whose scopes to replicate",
	.repeat = true},
    {.name = "scope", .arg = "SCOPE_ID", .help = "a scope to replicate", .repeat = true},
    {.name = "what-if", .help = "show what would change on the partner; change nothing"},
    {.name = "force", .help = "do not ask for confirmation (as the cmdlet's -Force)"},
    {.name = "yes", .help = "the same as --force"},
    {.name = "full", .help = "also send scopes whose digest the partner already holds"},
    {.name    = "server-settings",
	.help = "push the server-level settings (option definitions, classes, server options "
		"and policies) instead of scopes; --name limits the partners"},
    {.name      = "kind",
	.arg    = "KIND",
	.help   = "with --server-settings: option_definitions, classes, options or policies "
		  "(default all)",
	.repeat = true},
    {0},
};

static const frepctl_column result_cols[] = {
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "RELATIONSHIP", .key = "relationship"},
    {.header = "PARTNER", .key = "partner"},
    {.header = "STATUS", .key = "code", .cell = FREPCTL_CELL_STATUS},
    {.header = "SENT", .key = "sent"},
    {.header = "ADDED", .key = "added"},
    {.header = "UPDATED", .key = "updated"},
    {.header = "REMOVED", .key = "removed"},
    {.header = "MESSAGE", .key = "message"},
    {0},
};

static const frepctl_column error_cols[] = {
    {.header = "ITEM", .key = "item"},
    {.header = "STATUS", .key = "code", .cell = FREPCTL_CELL_STATUS},
    {.header = "MESSAGE", .key = "message"},
    {0},
};

static void
sum_changes(const Frep__V1__ScopeChanges *c, unsigned *added, unsigned *updated, unsigned *removed)
{
	const Frep__V1__ObjectChanges *k[5] = {0};
	*added = *updated = *removed = 0;
	if (c == NULL) {
		return;
	}
	k[0] = c->scope;
	k[1] = c->exclusions;
	k[2] = c->reservations;
	k[3] = c->options;
	k[4] = c->policies;
	for (size_t i = 0; i < 5; i++) {
		if (k[i] != NULL) {
			*added += k[i]->added;
			*updated += k[i]->updated;
			*removed += k[i]->removed;
		}
	}
}

/* Accumulates the replies of one or more calls for the summary. */
typedef struct summary {
	json_t  *results; /* rows for people */
	json_t  *errors;
	json_t  *raw; /* the replies as JSON, for --json */
	unsigned ok, failed, unchanged;
} summary;

static void
summary_add(summary *s, const Frep__V1__ReplicateResponse *r, bool what_if)
{
	json_array_append_new(s->raw, frepctl_json_from_message(&r->base, 0));
	for (size_t i = 0; i < r->n_results; i++) {
		const Frep__V1__ScopeResult *res = r->results[i];
		unsigned                     a, u, d;
		sum_changes(res->changes, &a, &u, &d);
		char sent[32] = "-";
		if (res->sent != NULL) {
			snprintf(sent, sizeof(sent), "%u",
			    res->sent->exclusions + res->sent->reservations + res->sent->options +
				res->sent->policies + 1);
		}
		char msg[700];
		snprintf(msg, sizeof(msg), "%s%s%s", res->message,
		    res->partner_changed && res->message[0] != '\0' ? "; " : "",
		    !res->partner_changed ? ""
		    : what_if             ? "edited on the partner since the last replication: "
					    "those edits will be overwritten"
		    : res->code == FREP__RPC__V1__CODE__OK ? ""
							   : "edited on the partner since the last "
							     "replication");
		json_array_append_new(s->results,
		    json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:i, s:s}", "scope_id",
			res->scope_id, "relationship", res->relationship, "partner", res->partner,
			"code", res->code, "sent", res->unchanged ? "0 (same digest)" : sent,
			"added", a, "updated", u, "removed", d, "message", msg));
		if (res->code != FREP__RPC__V1__CODE__OK) {
			s->failed++;
		} else if (res->unchanged) {
			s->unchanged++;
		} else {
			s->ok++;
		}
		if (what_if) {
			for (size_t k = 0; k < res->n_diff; k++) {
				static const char *const actions[] = {
				    "?", "add", "update", "remove"};
				int act = (int) res->diff[k]->action;
				printf("what-if: %s %s %s %s on %s%s\n", res->scope_id,
				    act >= 0 && act <= 3 ? actions[act] : "?", res->diff[k]->kind,
				    res->diff[k]->key, res->partner,
				    res->partner_changed && act != 1
					? " (overwrites the partner's own edit since the last "
					  "replication)"
					: "");
			}
		}
	}
	for (size_t i = 0; i < r->n_errors; i++) {
		json_array_append_new(
		    s->errors, json_pack("{s:s, s:i, s:s}", "item", r->errors[i]->item, "code",
				   r->errors[i]->code, "message", r->errors[i]->message));
	}
}

/* Asks on the terminal; true for y/yes. */
static bool
confirm(const frepctl_args *a, bool by_name, bool by_scope)
{
	char line[32];
	fprintf(stderr,
	    "Replicate the configuration of %s to the failover partner, replacing the "
	    "partner's copy? [y/N] ",
	    by_name    ? "the scopes of the named relationships"
	    : by_scope ? "the listed scopes"
		       : "every failover scope of this server");
	(void) a;
	if (fgets(line, sizeof(line), stdin) == NULL) {
		return false;
	}
	return strcasecmp(line, "y\n") == 0 || strcasecmp(line, "yes\n") == 0;
}

/* The scopes of the named relationships (all when none), for progress in
 * batches; names that do not exist are left to the server to report. */
static int
scopes_of(frepctl *ctl, const char *const *names, size_t n_names, bool *matched, char ***out,
    size_t *n_out, frep_status *st)
{
	Frep__V1__ListFailoversRequest   req  = FREP__V1__LIST_FAILOVERS_REQUEST__INIT;
	Frep__V1__ListFailoversResponse *resp = (Frep__V1__ListFailoversResponse *) frepctl__call(
	    ctl, &frep__v1__dhcp_server__descriptor, "ListFailovers", &req.base, st);
	if (resp == NULL) {
		return -1;
	}
	size_t n = 0, cap = 0;
	char **ids = NULL;
	for (size_t i = 0; i < resp->n_relationships; i++) {
		Frep__V1__FailoverRelationship *rel    = resp->relationships[i];
		bool                            wanted = n_names == 0;
		for (size_t k = 0; k < n_names; k++) {
			if (strcmp(names[k], rel->name) == 0) {
				wanted     = true;
				matched[k] = true;
			}
		}
		for (size_t k = 0; wanted && k < rel->n_scope_ids; k++) {
			if (n == cap) {
				cap       = cap == 0 ? 64 : cap * 2;
				char **nb = realloc(ids, cap * sizeof(char *));
				if (nb == NULL) {
					break;
				}
				ids = nb;
			}
			ids[n++] = strdup(rel->scope_ids[k]);
		}
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	*out   = ids;
	*n_out = n;
	return 0;
}

/* --- replicate --server-settings ------------------------------------------ */

static const char *
difference_name(int d)
{
	switch (d) {
	case FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_HERE:
		return "only-here";
	case FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_ONLY_THERE:
		return "only-there";
	case FREP__V1__SETTING_DIFFERENCE__SETTING_DIFFERENCE_DIFFERENT:
		return "different";
	default:
		return "?";
	}
}

static const frepctl_column settings_cols[] = {
    {.header = "RELATIONSHIP", .key = "relationship"},
    {.header = "KIND", .key = "kind"},
    {.header = "KEY", .key = "key"},
    {.header = "DIFFERENCE", .key = "difference"},
    {0},
};

static const frepctl_column settings_result_cols[] = {
    {.header = "RELATIONSHIP", .key = "relationship"},
    {.header = "PARTNER", .key = "partner"},
    {.header = "STATUS", .key = "code", .cell = FREPCTL_CELL_STATUS},
    {.header = "DIFFERENCES", .key = "differences"},
    {.header = "MESSAGE", .key = "message"},
    {0},
};

static int
replicate_server_settings(frepctl *ctl, const frepctl_args *a, const char *const *names,
    size_t n_names, bool what_if, bool json)
{
	const char *const                       *kinds;
	size_t                                   n_kinds = frepctl__arg_all(a, "kind", &kinds);
	frep_status                              st;
	Frep__V1__ReplicateServerSettingsRequest req =
	    FREP__V1__REPLICATE_SERVER_SETTINGS_REQUEST__INIT;
	int rc = 0;

	req.names   = (char **) names;
	req.n_names = n_names;
	req.kinds   = (char **) kinds;
	req.n_kinds = n_kinds;
	req.dry_run = what_if;
	Frep__V1__ReplicateServerSettingsResponse *r =
	    (Frep__V1__ReplicateServerSettingsResponse *) frepctl__call(ctl,
		&frep__v1__failover_replication__descriptor, "ReplicateServerSettings", &req.base,
		&st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	for (size_t i = 0; i < r->n_results; i++) {
		if (r->results[i]->code != FREP__RPC__V1__CODE__OK) {
			rc = FREPCTL_EXIT_FAILED;
		}
	}
	if (r->n_errors > 0) {
		rc = FREPCTL_EXIT_FAILED;
	}
	if (json) {
		frepctl__print_json(frepctl_json_from_message(&r->base, 0));
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return rc;
	}
	json_t *results = json_array(), *diffs = json_array(), *errors = json_array();
	for (size_t i = 0; i < r->n_results; i++) {
		const Frep__V1__ServerSettingsResult *res = r->results[i];
		json_array_append_new(
		    results, json_pack("{s:s, s:s, s:i, s:i, s:s}", "relationship",
				 res->relationship, "partner", res->partner, "code", res->code,
				 "differences", (int) res->n_diff, "message", res->message));
		for (size_t k = 0; k < res->n_diff; k++) {
			json_array_append_new(diffs,
			    json_pack("{s:s, s:s, s:s, s:s}", "relationship", res->relationship,
				"kind", res->diff[k]->kind, "key", res->diff[k]->key, "difference",
				difference_name(res->diff[k]->difference)));
		}
	}
	for (size_t i = 0; i < r->n_errors; i++) {
		json_array_append_new(
		    errors, json_pack("{s:s, s:i, s:s}", "item", r->errors[i]->item, "code",
				r->errors[i]->code, "message", r->errors[i]->message));
	}
	frepctl_table_print(stdout, results, settings_result_cols, 0);
	if (json_array_size(diffs) > 0) {
		printf("\n%s\n", what_if ? "what-if: would change on the partner (only-here: "
					   "added there, only-there: removed there)"
					 : "changed on the partner (only-here: added there, "
					   "only-there: removed there)");
		frepctl_table_print(stdout, diffs, settings_cols, 0);
	}
	if (json_array_size(errors) > 0) {
		printf("\n");
		frepctl_table_print(stdout, errors, error_cols, 0);
	}
	json_decref(results);
	json_decref(diffs);
	json_decref(errors);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

/* --- failover status ----------------------------------------------------- */

const frepctl_flag frepctl__failover_status_flags[] = {
    {.name = "no-server-settings", .help = "compare the scopes only"},
    {0},
};

static const char *
sync_state_name(int s)
{
	static const char *const names[] = {"?", "in_sync", "pending", "partner_changed",
	    "conflict", "missing_on_partner", "error", "only_on_partner"};
	return s >= 0 && s < (int) (sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

static const frepctl_column status_rel_cols[] = {
    {.header = "RELATIONSHIP", .key = "name"},
    {.header = "PARTNER", .key = "partner"},
    {.header = "REACHABLE", .key = "reachable", .cell = FREPCTL_CELL_BOOL},
    {.header = "AUTO-SYNC", .key = "auto_sync"},
    {.header = "LAST-CONTACT", .key = "last_contact", .cell = FREPCTL_CELL_TIME},
    {.header = "IN-SYNC", .key = "in_sync", .cell = FREPCTL_CELL_BOOL},
    {.header = "ERROR", .key = "error"},
    {0},
};

static const frepctl_column status_scope_cols[] = {
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "RELATIONSHIP", .key = "relationship"},
    {.header = "STATE", .key = "state"},
    {.header = "HERE", .key = "local"},
    {.header = "THERE", .key = "partner"},
    {.header = "LAST-SYNCED", .key = "synced"},
    {.header = "SYNCED-AT", .key = "synced_at", .cell = FREPCTL_CELL_TIME},
    {.header = "PENDING", .key = "pending", .cell = FREPCTL_CELL_BOOL},
    {.header = "LAST-ERROR", .key = "error"},
    {0},
};

/* A digest as the table shows it: its first 12 digits, "-" for none. */
static json_t *
short_digest(const char *d)
{
	return json_stringn(d[0] != '\0' ? d : "-", d[0] != '\0' ? strnlen(d, 12) : 1);
}

int
frepctl__cmd_failover_status(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__GetReplicationStatusRequest req  = FREP__V1__GET_REPLICATION_STATUS_REQUEST__INIT;
	char                                 *name = a->npos > 0 ? (char *) a->pos[0] : NULL;
	bool                                  json = ctl->json || a->json;
	frep_status                           st;

	req.names                = name != NULL ? &name : NULL;
	req.n_names              = name != NULL ? 1 : 0;
	req.skip_server_settings = frepctl__arg_has(a, "no-server-settings");
	Frep__V1__GetReplicationStatusResponse *r =
	    (Frep__V1__GetReplicationStatusResponse *) frepctl__call(ctl,
		&frep__v1__failover_replication__descriptor, "GetReplicationStatus", &req.base,
		&st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	int rc = r->in_sync ? 0 : FREPCTL_EXIT_FAILED;
	if (json) {
		frepctl__print_json(frepctl_json_from_message(&r->base, 0));
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return rc;
	}
	json_t *rels = json_array(), *scopes = json_array(), *diffs = json_array(),
	       *errors     = json_array();
	size_t not_in_sync = 0, n_scopes = 0;
	for (size_t i = 0; i < r->n_relationships; i++) {
		const Frep__V1__RelationshipSyncStatus *rel = r->relationships[i];
		json_array_append_new(rels,
		    json_pack("{s:s, s:s, s:b, s:s, s:I, s:b, s:s}", "name", rel->name, "partner",
			rel->partner, "reachable", rel->partner_reachable, "auto_sync",
			rel->auto_sync == FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF ? "off" : "on",
			"last_contact", (json_int_t) rel->last_contact_unix_ms, "in_sync",
			rel->in_sync, "error", rel->partner_error));
		for (size_t k = 0; k < rel->n_scopes; k++) {
			const Frep__V1__ScopeSyncStatus *s = rel->scopes[k];
			json_t *row = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:b, s:s}",
			    "scope_id", s->scope_id, "relationship", rel->name, "state",
			    sync_state_name(s->state), "local", short_digest(s->local_digest),
			    "partner", short_digest(s->partner_digest), "synced",
			    short_digest(s->last_synced_digest), "synced_at",
			    (json_int_t) s->last_synced_unix_ms, "pending", s->pending, "error",
			    s->last_error);
			json_array_append_new(scopes, row);
			n_scopes++;
			if (s->state != FREP__V1__SCOPE_SYNC_STATE__SCOPE_SYNC_STATE_IN_SYNC) {
				not_in_sync++;
			}
		}
		for (size_t k = 0; k < rel->n_server_settings; k++) {
			json_array_append_new(
			    diffs, json_pack("{s:s, s:s, s:s, s:s}", "relationship", rel->name,
				       "kind", rel->server_settings[k]->kind, "key",
				       rel->server_settings[k]->key, "difference",
				       difference_name(rel->server_settings[k]->difference)));
		}
	}
	for (size_t i = 0; i < r->n_errors; i++) {
		json_array_append_new(
		    errors, json_pack("{s:s, s:i, s:s}", "item", r->errors[i]->item, "code",
				r->errors[i]->code, "message", r->errors[i]->message));
	}
	frepctl_table_print(stdout, rels, status_rel_cols, 0);
	printf("\n");
	frepctl_table_print(stdout, scopes, status_scope_cols, 0);
	if (json_array_size(diffs) > 0) {
		printf("\nserver-level settings that differ (only-here: on this server only, "
		       "only-there: on the partner only):\n");
		frepctl_table_print(stdout, diffs, settings_cols, 0);
	}
	if (json_array_size(errors) > 0) {
		printf("\n");
		frepctl_table_print(stdout, errors, error_cols, 0);
	}
	printf("\n%s: %zu of %zu scopes in sync, %zu server-level differences\n",
	    r->in_sync ? "in sync" : "NOT in sync", n_scopes - not_in_sync, n_scopes,
	    json_array_size(diffs));
	json_decref(rels);
	json_decref(scopes);
	json_decref(diffs);
	json_decref(errors);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

static int
cmd_replicate(frepctl *ctl, const frepctl_args *a)
{
	const char *const *names    = NULL;
	const char *const *scopes   = NULL;
	size_t             n_names  = frepctl__arg_all(a, "name", &names);
	size_t             n_scopes = frepctl__arg_all(a, "scope", &scopes);
	bool               what_if  = frepctl__arg_has(a, "what-if");
	bool               force    = frepctl__arg_has(a, "force") || frepctl__arg_has(a, "yes");
	bool               full     = frepctl__arg_has(a, "full");
	bool               json     = ctl->json || a->json;
	frep_status        st;

	if (n_names > 0 && n_scopes > 0) {
		return frepctl__usage_error("replicate takes --name or --scope, not both (the "
					    "cmdlet's two parameter sets)");
	}
	if (frepctl__arg_has(a, "server-settings")) {
		if (n_scopes > 0 || full) {
			return frepctl__usage_error(
			    "replicate --server-settings takes --name, --kind and --what-if, not "
			    "--scope or --full");
		}
		if (!force && !what_if) {
			if (!isatty(STDIN_FILENO)) {
				return frepctl__usage_error("replicate --server-settings replaces "
							    "the partner's server-level "
							    "settings: not on a terminal, so "
							    "confirm with --force or --yes (or "
							    "look first with --what-if)");
			}
			if (!confirm(a, n_names > 0, false)) {
				fprintf(stderr, "frepctl: not confirmed; nothing replicated\n");
				return FREPCTL_EXIT_FAILED;
			}
		}
		return replicate_server_settings(ctl, a, names, n_names, what_if, json);
	}
	if (frepctl__arg_has(a, "kind")) {
		return frepctl__usage_error("replicate: --kind goes with --server-settings");
	}
	if (!force && !what_if) {
		if (!isatty(STDIN_FILENO)) {
			return frepctl__usage_error(
			    "replicate overwrites the partner's configuration: not on a terminal, "
			    "so "
			    "confirm with --force or --yes (or look first with --what-if)");
		}
		if (!confirm(a, n_names > 0, n_scopes > 0)) {
			fprintf(stderr, "frepctl: not confirmed; nothing replicated\n");
			return FREPCTL_EXIT_FAILED;
		}
	}

	summary s  = {.results = json_array(), .errors = json_array(), .raw = json_array()};
	int     rc = 0;

	/* Long runs on a terminal: batches by scope id, with progress. */
	bool  *matched   = NULL;
	char **batch_ids = NULL;
	size_t n_batch   = 0;
	bool   progress  = !json && isatty(STDERR_FILENO) && n_scopes == 0;
	matched          = calloc(n_names + 1, sizeof(bool));
	if (matched == NULL) {
		rc = frepctl__usage_error("replicate: out of memory");
		goto out;
	}
	if (progress && scopes_of(ctl, names, n_names, matched, &batch_ids, &n_batch, &st) != 0) {
		rc = frepctl__fail_status(&st);
		goto out;
	}
	if (progress && n_batch > PROGRESS_BATCH) {
		/* Names that match nothing: the per-item errors the server
		 * would give for them. */
		for (size_t k = 0; k < n_names; k++) {
			if (!matched[k]) {
				char msg[300];
				snprintf(msg, sizeof(msg), "no failover relationship named \"%s\"",
				    names[k]);
				json_array_append_new(
				    s.errors, json_pack("{s:s, s:i, s:s}", "item", names[k], "code",
						  FREP__RPC__V1__CODE__NOT_FOUND, "message", msg));
			}
		}
		for (size_t off = 0; off < n_batch; off += PROGRESS_BATCH) {
			size_t n = n_batch - off < PROGRESS_BATCH ? n_batch - off : PROGRESS_BATCH;
			Frep__V1__ReplicateByScopeIdRequest req =
			    FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
			req.scope_ids   = batch_ids + off;
			req.n_scope_ids = n;
			req.full_resend = full;
			req.dry_run     = what_if;
			Frep__V1__ReplicateResponse *r =
			    (Frep__V1__ReplicateResponse *) frepctl__call(ctl,
				&frep__v1__failover_replication__descriptor, "ReplicateByScopeId",
				&req.base, &st);
			if (r == NULL) {
				rc = frepctl__fail_status(&st);
				goto out;
			}
			summary_add(&s, r, what_if);
			protobuf_c_message_free_unpacked(&r->base, NULL);
			fprintf(stderr, "\rreplicated %zu/%zu scopes", off + n, n_batch);
		}
		fprintf(stderr, "\n");
	} else if (n_scopes > 0) {
		Frep__V1__ReplicateByScopeIdRequest req =
		    FREP__V1__REPLICATE_BY_SCOPE_ID_REQUEST__INIT;
		req.scope_ids                  = (char **) scopes;
		req.n_scope_ids                = n_scopes;
		req.full_resend                = full;
		req.dry_run                    = what_if;
		Frep__V1__ReplicateResponse *r = (Frep__V1__ReplicateResponse *) frepctl__call(ctl,
		    &frep__v1__failover_replication__descriptor, "ReplicateByScopeId", &req.base,
		    &st);
		if (r == NULL) {
			rc = frepctl__fail_status(&st);
			goto out;
		}
		summary_add(&s, r, what_if && !json);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	} else {
		Frep__V1__ReplicateByNameRequest req = FREP__V1__REPLICATE_BY_NAME_REQUEST__INIT;
		req.names                            = (char **) names;
		req.n_names                          = n_names;
		req.full_resend                      = full;
		req.dry_run                          = what_if;
		Frep__V1__ReplicateResponse *r = (Frep__V1__ReplicateResponse *) frepctl__call(ctl,
		    &frep__v1__failover_replication__descriptor, "ReplicateByName", &req.base, &st);
		if (r == NULL) {
			rc = frepctl__fail_status(&st);
			goto out;
		}
		summary_add(&s, r, what_if && !json);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}

	if (json) {
		frepctl__print_json(json_array_size(s.raw) == 1
					? json_incref(json_array_get(s.raw, 0))
					: json_incref(s.raw));
	} else {
		frepctl_table_print(stdout, s.results, result_cols, 0);
		if (json_array_size(s.errors) > 0) {
			printf("\n");
			frepctl_table_print(stdout, s.errors, error_cols, 0);
		}
		printf("\n%s%u replicated, %u unchanged, %u failed, %zu request items not "
		       "replicable\n",
		    what_if ? "what-if: " : "", s.ok, s.unchanged, s.failed,
		    json_array_size(s.errors));
	}
	if (s.failed > 0 || json_array_size(s.errors) > 0) {
		rc = FREPCTL_EXIT_FAILED;
	}

out:
	free(matched);
	for (size_t i = 0; i < n_batch; i++) {
		free(batch_ids[i]);
	}
	free(batch_ids);
	json_decref(s.results);
	json_decref(s.errors);
	json_decref(s.raw);
	return rc;
}

const frepctl_command frepctl__replicate_commands[] = {
    {.name       = "replicate",
	.args    = "",
	.summary = "replicate failover scopes to the partner (--name, --scope or all; --what-if)",
	.flags   = replicate_flags,
	.run     = cmd_replicate},
    {0},
};
