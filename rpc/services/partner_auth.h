/*
 * partner_auth: the HMAC that authenticates server-to-server (Partner)
 * calls with a relationship's shared secret.
 *
 *   mac = HMAC-SHA256(secret, "frep-partner-v1\n" method "\n" relationship
 *                     "\n" timestamp_ms "\n" nonce "\n" payload)
 *
 * carried as metadata x-frep-relationship, x-frep-timestamp (Unix ms,
 * decimal), x-frep-nonce (1..64 characters, fresh per call: two identical
 * calls in the same millisecond still differ) and x-frep-mac (64 lower-case
 * hex digits). A verifier accepts a
 * timestamp within the window of its own clock and each MAC only once.
 * Thread-safe.
 */
#ifndef FREP_RPC_PARTNER_AUTH_H
#define FREP_RPC_PARTNER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "frep_status.h"

#define PARTNER_AUTH_MAC_HEXLEN 65
#define PARTNER_AUTH_WINDOW_MS  60000

#define PARTNER_AUTH_KEY_RELATIONSHIP "x-frep-relationship"
#define PARTNER_AUTH_KEY_TIMESTAMP    "x-frep-timestamp"
#define PARTNER_AUTH_KEY_MAC          "x-frep-mac"
#define PARTNER_AUTH_KEY_NONCE        "x-frep-nonce"
#define PARTNER_AUTH_NONCE_MAX        64

/* HMAC-SHA256 of the message above into mac_hex. */
void partner_auth_mac(const char *secret, const char *method, const char *relationship,
    int64_t timestamp_ms, const char *nonce, const uint8_t *payload, size_t len,
    char mac_hex[PARTNER_AUTH_MAC_HEXLEN]);

/* A fresh random nonce: 32 hex digits and a NUL. */
void partner_auth_nonce(char out[33]);

/* Current Unix time in ms. */
int64_t partner_auth_now_ms(void);

typedef struct partner_auth_replay partner_auth_replay;

/* A memory of MACs seen within the window (bounded). */
partner_auth_replay *partner_auth_replay_new(void);
void                 partner_auth_replay_free(partner_auth_replay *r);

/* Checks a call: UNAUTHENTICATED (naming what is wrong, never the secret
 * or the expected MAC) if the timestamp text is malformed or outside the
 * window, the MAC does not match, or the MAC was seen before; OK records
 * it as seen. */
frep_code partner_auth_verify(partner_auth_replay *r, const char *secret, const char *method,
    const char *relationship, const char *timestamp_text, const char *nonce, const char *mac_hex,
    const uint8_t *payload, size_t len, frep_status *st);

#endif /* FREP_RPC_PARTNER_AUTH_H */
