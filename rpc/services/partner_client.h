/*
 * partner_client: how one frepd calls its failover partners' Partner
 * service — a frep_client per partner URL (kept and reused), every call
 * signed with the relationship's shared secret (partner_auth.h).
 * Thread-safe.
 */
#ifndef FREP_RPC_PARTNER_CLIENT_H
#define FREP_RPC_PARTNER_CLIENT_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

typedef struct partner_pool partner_pool;

/* TLS material for tls+tcp:// partner URLs (PEM file paths; NULL fields
 * are unused): the CA that signed the partners' certificates, and this
 * server's own certificate when partners require client certificates. */
typedef struct partner_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
} partner_tls;

/* token (may be NULL) is sent as the partner's admin bearer token on
 * MirrorRelationship calls only (creating, taking over or removing the
 * relationship there: the partner asks for it there alone), never on the
 * others, which their MAC proves; token and tls (may be NULL) are copied. */
partner_pool *partner_pool_new(
    const char *token, const partner_tls *tls, uint32_t default_timeout_ms);
void partner_pool_free(partner_pool *p);

/* Calls method ("MirrorRelationship") of frep.v1.Partner on url, signed
 * for relationship with secret, with request_id as its x-request-id (NULL:
 * the request id of the call whose handler runs on this thread, if any).
 * On success *out is the decoded reply (caller frees with
 * protobuf_c_message_free_unpacked). timeout_ms 0 uses the pool's default.
 * Statuses are the partner's, or the transport's (UNAVAILABLE,
 * DEADLINE_EXCEEDED) naming the partner's URL. */
frep_code partner_call(partner_pool *p, const char *url, const char *relationship,
    const char *secret, const char *request_id, const char *method, const ProtobufCMessage *input,
    ProtobufCMessage **out, uint32_t timeout_ms, frep_status *st);

/* The largest request envelope the partner at url accepts, in bytes (its
 * ServerInfo.max_message_bytes, frepd --max-message-bytes): asked once per
 * connection (Introspection/GetServerInfo, no MAC) and remembered until it
 * drops. The question waits at most the pool's timeout and at most a
 * quarter of what is left of the deadline of the call whose handler runs
 * on this thread. 0 with a status if it cannot be asked (DEADLINE_EXCEEDED
 * when that deadline has passed, or the client's status). */
size_t partner_max_request(partner_pool *p, const char *url, frep_status *st);

#endif /* FREP_RPC_PARTNER_CLIENT_H */
