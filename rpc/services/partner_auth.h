/*
 * partner_auth: the HMAC that authenticates server-to-server (Partner)
 * calls with a relationship's shared secret.
 *
 *   mac = HMAC-SHA256(secret, "frep-partner-v2\n" method "\n" relationship
 *                     "\n" sender "\n" timestamp_ms "\n" nonce "\n" payload)
 *
 * carried as metadata x-frep-relationship, x-frep-sender (the signing
 * server's id: 32 lower-case hex digits, random, kept in its state file),
 * x-frep-timestamp (Unix ms, decimal), x-frep-nonce (1..64 characters,
 * fresh per call: two identical calls in the same millisecond still
 * differ) and x-frep-mac (64 lower-case hex digits). A verifier accepts a
 * timestamp within the window of its own clock, each MAC only once, never
 * a call signed by itself (a reflected call: a relationship has two ends,
 * so a valid MAC not made here was made by the partner), and — with a state
 * file — never a timestamp at or below the last one it accepted for that
 * relationship before it (re)started. Thread-safe.
 */
#ifndef FREP_RPC_PARTNER_AUTH_H
#define FREP_RPC_PARTNER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frep_status.h"

#define PARTNER_AUTH_MAC_HEXLEN 65
#define PARTNER_AUTH_WINDOW_MS  60000
#define PARTNER_AUTH_REPLAY_MAX 65536 /* MACs remembered against replay */
#define PARTNER_AUTH_LEASE_MS   1000  /* how far ahead the replay horizon is written */

/* In the UNAUTHENTICATED message of a call signed at or below the bound
 * kept from before the receiver's start, followed by " (bound N" (ms): a
 * call signed before a restart (or in the last lease before it) and
 * delivered after it. The sender signs it afresh and sends it once more
 * (partner_call). */
#define PARTNER_AUTH_BEFORE_START "before this server started"
#define PARTNER_AUTH_BOUND_TEXT   " (bound "

/* True when message is such a refusal; *bound_ms is the bound it names. */
bool partner_auth_refused_before_start(const char *message, int64_t *bound_ms);

#define PARTNER_AUTH_KEY_RELATIONSHIP "x-frep-relationship"
#define PARTNER_AUTH_KEY_TIMESTAMP    "x-frep-timestamp"
#define PARTNER_AUTH_KEY_MAC          "x-frep-mac"
#define PARTNER_AUTH_KEY_NONCE        "x-frep-nonce"
#define PARTNER_AUTH_KEY_SENDER       "x-frep-sender"
#define PARTNER_AUTH_NONCE_MAX        64
#define PARTNER_AUTH_SENDER_LEN       32

/* HMAC-SHA256 of the message above into mac_hex. */
void partner_auth_mac(const char *secret, const char *method, const char *relationship,
    const char *sender, int64_t timestamp_ms, const char *nonce, const uint8_t *payload, size_t len,
    char mac_hex[PARTNER_AUTH_MAC_HEXLEN]);

/* This server's id (PARTNER_AUTH_SENDER_LEN hex digits): the one loaded
 * by partner_auth_replay_open, else a random one made once per process. */
const char *partner_auth_server_id(void);

/* A fresh random nonce: 32 hex digits and a NUL. */
void partner_auth_nonce(char out[33]);

/* Current Unix time in ms. */
int64_t partner_auth_now_ms(void);

typedef struct partner_auth_replay partner_auth_replay;

/* A memory of MACs seen within the window (bounded), in RAM only. */
partner_auth_replay *partner_auth_replay_new(void);

/* The same, backed by the state file path (created 0600 if missing): it
 * holds this server's id (which becomes partner_auth_server_id()) and,
 * per relationship, a bound on the timestamps accepted, written (fsync'd)
 * before a call above the current bound is accepted, and then set
 * PARTNER_AUTH_LEASE_MS ahead of that call's timestamp: one write per
 * relationship and lease, not per call. After a restart, a call signed at
 * or before the bound is refused. A process started within a lease of
 * the last write waits until that lease has ended on its clock (at most
 * PARTNER_AUTH_LEASE_MS), so that what the partner signs once it is up is
 * above the bound. Statuses: INVALID_ARGUMENT for an unreadable or
 * malformed file, RESOURCE_EXHAUSTED. */
frep_code partner_auth_replay_open(const char *path, partner_auth_replay **out, frep_status *st);
void      partner_auth_replay_free(partner_auth_replay *r);

/* Checks a call: UNAUTHENTICATED (naming what is wrong, never the secret
 * or the expected MAC) if the sender is missing, malformed or this server,
 * the timestamp text is malformed, outside the window or from before a
 * restart, the MAC does not match, or the MAC was seen before; OK records
 * it as seen. UNAVAILABLE if the state file cannot be written (the call is
 * then refused: accepting it could not be remembered). RESOURCE_EXHAUSTED
 * when PARTNER_AUTH_REPLAY_MAX accepted MACs are remembered and none has
 * expired (a MAC is kept until its timestamp is out of the window, up to
 * twice the window; about 1,092 calls/s sustained): forgetting one could let
 * its call be replayed, so the new call is refused instead (the sender
 * signs it afresh and retries). *replayed (may be NULL) is set when the
 * only fault is that the MAC was accepted before. */
frep_code partner_auth_verify(partner_auth_replay *r, const char *secret, const char *method,
    const char *relationship, const char *sender, const char *timestamp_text, const char *nonce,
    const char *mac_hex, const uint8_t *payload, size_t len, bool *replayed, frep_status *st);

#endif /* FREP_RPC_PARTNER_AUTH_H */
