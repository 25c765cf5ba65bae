/*
 * kea_push: keeps a running kea-dhcp4 in step with frep's configuration.
 * After every committed change (kea_push_commit_hook, installed with
 * engine_set_commit_hook) a worker thread pushes: at once after a quiet
 * spell, else debounce_ms after the last push began (so the commits of a
 * burst become one push); it renders the configuration (kea_render_cached:
 * a scope unchanged since the last push is not rendered again), merges it
 * into the operator's base file (re-read each time: it owns interfaces,
 * lease database, control socket, hooks, loggers; parsed again only when
 * its bytes changed, and parsed after each config-write, between changes),
 * and sends Kea
 * `config-set` and `config-write` over its unix control socket, checking
 * each answer's result (config-set checks the whole configuration and
 * keeps the running one when it refuses it). A rendering whose digest Kea
 * already has is not sent again. When Kea refuses the rendering, the objects it refuses are found
 * by bisection (scopes, server options and classes; then the option data and reservations inside a
 * refused scope), left out, listed in the status and the log, and the rest
 * is pushed. Any other failure is logged, kept for kea_push_get_status, and
 * retried with exponential backoff.
 */
#ifndef FREP_RPC_KEA_PUSH_H
#define FREP_RPC_KEA_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "frep_status.h"

typedef struct kea_push kea_push;

typedef struct kea_push_options {
	const char *socket_path;  /* Kea's control socket (required) */
	const char *base_path;    /* the operator's base file (required) */
	unsigned    debounce_ms;  /* least time between pushes; 0 = 200 */
	unsigned    timeout_ms;   /* per command; 0 = 30000 */
	unsigned    retry_min_ms; /* first retry; 0 = 500 */
	unsigned    retry_max_ms; /* backoff cap; 0 = 30000 */
} kea_push_options;

/* Objects listed in a status (left_out_total counts them all). */
#define KEA_PUSH_LEFT_OUT_MAX 64

/* One object Kea refused, left out of the pushed configuration. */
typedef struct kea_push_left_out {
	char scope[16];    /* "10.0.1.0", "" at server level */
	char kind[16];     /* "scope", "reservation", "option", "class" */
	char key[96];      /* the reservation IP, "15", "pool A-B option 15", ... */
	char message[256]; /* Kea's config-test answer */
} kea_push_left_out;

/* A snapshot of the pusher's state (kea_push_get_status). */
typedef struct kea_push_status {
	char     last_pushed_digest[65]; /* "" = nothing accepted yet */
	int64_t  last_push_unix_ms;
	char     last_error[512]; /* "" after a success */
	int64_t  last_error_unix_ms;
	uint32_t consecutive_failures;
	uint64_t pushes;
	uint64_t failures;
	bool     pending;
	int64_t  next_retry_unix_ms;
	uint32_t warnings;
	bool     attempted; /* at least one push was tried */
	/* The digest of the last rendering (the current configuration's
	 * whenever pending is false or rendered_current is true). */
	char rendered_digest[65];
	/* No commit since the last rendering began: rendered_digest is the
	 * current configuration's (set as soon as the worker has rendered, before
	 * it pushes; cleared by every commit). */
	bool rendered_current;
	/* Left out of the last push (Kea refused them; the rest was pushed). */
	uint32_t          left_out_total;
	uint32_t          n_left_out; /* listed: min(total, KEA_PUSH_LEFT_OUT_MAX) */
	kea_push_left_out left_out[KEA_PUSH_LEFT_OUT_MAX];
} kea_push_status;

/* Starts the worker over e (borrowed: it must outlive the pusher); the
 * first push happens at once. The option strings are copied. Does NOT
 * install the commit hook (the caller does, with kea_push_commit_hook).
 * INVALID_ARGUMENT for missing paths, INTERNAL if the thread cannot
 * start. Free with kea_push_free. */
frep_code kea_push_new(engine *e, const kea_push_options *options, kea_push **out, frep_status *st);

/* Stops the worker (a push in flight finishes first) and frees. Clear the
 * engine's commit hook before. NULL is a no-op. */
void kea_push_free(kea_push *p);

/* The engine commit hook: arg is the kea_push. Marks the configuration
 * changed and wakes the worker; never blocks on I/O. Thread-safe. */
void kea_push_commit_hook(void *arg);

/* Copies the current state into *out. Thread-safe. */
void kea_push_get_status(kea_push *p, kea_push_status *out);

/* The socket and base paths given at start (owned by p). */
const char *kea_push_socket_path(const kea_push *p);
const char *kea_push_base_path(const kea_push *p);

/* Sends one command ({"command": command, "arguments": arguments}, with
 * arguments borrowed and omitted when NULL) to Kea's control socket and
 * reads the whole answer. *answer (new reference) is the answer object
 * (the first element when Kea answers with a list). UNAVAILABLE if the
 * socket cannot be reached or the answer is cut short, DEADLINE_EXCEEDED
 * after timeout_ms, INTERNAL for an answer that is not JSON. The answer's
 * own result is not checked. */
frep_code kea_control_command(const char *socket_path, const char *command, const json_t *arguments,
    unsigned timeout_ms, json_t **answer, frep_status *st);

/* kea_control_command with the arguments already as compact JSON text
 * (sorted keys, borrowed): the same request bytes without a dump of them.
 * command is plain ASCII (not escaped). */
frep_code kea_control_command_text(const char *socket_path, const char *command,
    const char *arguments, unsigned timeout_ms, json_t **answer, frep_status *st);

/* Kea's HA state for the pair, as its control socket reports it
 * (status-get's "high-availability"): e.g. "load-balancing",
 * "hot-standby", "partner-down", "waiting". Writes into state (and the
 * partner's last known state into partner_state, "" unknown) at most cap
 * bytes each. UNAVAILABLE when Kea cannot be asked, NOT_FOUND when Kea runs
 * no HA service; the kea_control_command statuses otherwise. */
frep_code kea_push_ha_status(const char *socket_path, unsigned timeout_ms, char *state,
    char *partner_state, size_t cap, frep_status *st);

#endif /* FREP_RPC_KEA_PUSH_H */
