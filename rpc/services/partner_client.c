#include "partner_client.h"

#include <inttypes.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "frep/v1/partner.pb-c.h"
#include "frep_client.h"
#include "log.h"
#include "payload_check.h"
#include "partner_auth.h"
#include "rpc_server.h"

#define MAX_PARTNERS 64

typedef struct partner_entry {
	char        *url;
	frep_client *client;
} partner_entry;

struct partner_pool {
	pthread_mutex_t mtx;
	partner_entry   partners[MAX_PARTNERS];
	size_t          n;
	char           *token_header; /* "Bearer <token>": MirrorRelationship only */
	char           *tls_ca, *tls_cert, *tls_key;
	uint32_t        timeout_ms;
};

static bool
dup_opt(char **dst, const char *src)
{
	return src == NULL || (*dst = strdup(src)) != NULL;
}

partner_pool *
partner_pool_new(const char *token, const partner_tls *tls, uint32_t default_timeout_ms)
{
	partner_pool *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	pthread_mutex_init(&p->mtx, NULL);
	p->timeout_ms = default_timeout_ms != 0 ? default_timeout_ms : 10000;
	if (token != NULL) {
		size_t n = strlen(token) + sizeof("Bearer ");
		if ((p->token_header = malloc(n)) == NULL) {
			partner_pool_free(p);
			return NULL;
		}
		snprintf(p->token_header, n, "Bearer %s", token);
	}
	if ((tls != NULL &&
		(!dup_opt(&p->tls_ca, tls->ca_file) || !dup_opt(&p->tls_cert, tls->cert_file) ||
		    !dup_opt(&p->tls_key, tls->key_file)))) {
		partner_pool_free(p);
		return NULL;
	}
	return p;
}

void
partner_pool_free(partner_pool *p)
{
	if (p == NULL) {
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		frep_client_close(p->partners[i].client);
		free(p->partners[i].url);
	}
	if (p->token_header != NULL) {
		explicit_bzero(p->token_header, strlen(p->token_header));
		free(p->token_header);
	}
	free(p->tls_ca);
	free(p->tls_cert);
	free(p->tls_key);
	pthread_mutex_destroy(&p->mtx);
	free(p);
}

/* The client for url, opened on first use and kept. */
static frep_client *
client_for(partner_pool *p, const char *url, frep_status *st)
{
	frep_client *c = NULL;
	pthread_mutex_lock(&p->mtx);
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->partners[i].url, url) == 0) {
			c = p->partners[i].client;
			break;
		}
	}
	if (c == NULL) {
		frep_client_options o = {
		    .timeout_ms    = p->timeout_ms,
		    .tls_ca_file   = p->tls_ca,
		    .tls_cert_file = p->tls_cert,
		    .tls_key_file  = p->tls_key,
		};
		if (p->n == MAX_PARTNERS) {
			frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
			    "partner %s: at most %d partners", url, MAX_PARTNERS);
		} else if (frep_client_open(url, &o, &c, st) == FREP_OK) {
			char *u = strdup(url);
			if (u == NULL) {
				frep_client_close(c);
				c = NULL;
				frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
			} else {
				p->partners[p->n++] = (partner_entry){.url = u, .client = c};
			}
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return c;
}

/* Every refused or failed partner call is logged, with the caller's request
 * id (the partner logs the same id with its side of the call). */
static void
log_failure(const char *path, const char *url, const char *rid, const frep_status *st)
{
	rpc_log_event(RPC_LOG_WARN, &(rpc_log_fields){
					.event       = "partner_call",
					.method      = path,
					.status      = frep_code_name(st->code),
					.duration_ms = -1,
					.request_id  = rid,
					.peer        = url,
					.message     = st->message,
				    });
}

/* A partner's reply is not signed: its strings are checked as a request's
 * are (proto3 strings are UTF-8, no NUL) before anything of it goes on
 * into this server's replies, its audit or the next partner call. A reply
 * that fails is INTERNAL naming the field (gRPC's status for a reply that
 * cannot be parsed) and is dropped. */
static frep_code
check_reply_text(const char *url, const char *path, ProtobufCMessage **out, frep_status *st)
{
	size_t   len = protobuf_c_message_get_packed_size(*out);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL) {
		protobuf_c_message_free_unpacked(*out, NULL);
		*out = NULL;
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	protobuf_c_message_pack(*out, buf);
	frep_status cst;
	frep_code   code = rpc_payload_check_text((*out)->descriptor, buf, len, &cst);
	free(buf);
	if (code == FREP_OK) {
		return FREP_OK;
	}
	protobuf_c_message_free_unpacked(*out, NULL);
	*out = NULL;
	return frep_status_set(
	    st, FREP_INTERNAL, "partner %s: its %s reply is refused: %s", url, path, cst.message);
}

/* Whether a call refused as signed before the partner's start may be
 * signed afresh and sent again: a second signature of the same request is
 * something an attacker on the link could also deliver (after letting the
 * first one through and forging the refusal), so only for a method that
 * changes nothing (idempotency_level NO_SIDE_EFFECTS in partner.proto) or
 * ApplyScopes, whose every scope names the partner digest it replaces
 * (a second apply of the same batch is refused as stale). */
static bool
resend_safe(const char *method)
{
	static const char *const safe[] = {
	    "GetScopeDigests", "DiffScope", "GetServerSettings", "ApplyScopes", NULL};
	for (size_t i = 0; safe[i] != NULL; i++) {
		if (strcmp(method, safe[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* One signed call of path with payload (input packed): the MAC metadata
 * made now, the request id and, for MirrorRelationship, the partner's
 * admin token. */
static frep_code
signed_call(frep_client *c, const char *path, const char *relationship, const char *secret,
    const char *rid, const char *method, const uint8_t *payload, size_t len,
    const ProtobufCMessage *input, const ProtobufCMessageDescriptor *output, ProtobufCMessage **out,
    uint32_t limit, const char *token_header, frep_status *st)
{
	int64_t     ts = partner_auth_now_ms();
	char        mac[PARTNER_AUTH_MAC_HEXLEN], ts_text[32], nonce[33];
	const char *sender = partner_auth_server_id();
	partner_auth_nonce(nonce);
	partner_auth_mac(secret, path, relationship, sender, ts, nonce, payload, len, mac);
	snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);

	frep_metadata md[7] = {
	    {PARTNER_AUTH_KEY_RELATIONSHIP, relationship},
	    {PARTNER_AUTH_KEY_SENDER, sender},
	    {PARTNER_AUTH_KEY_TIMESTAMP, ts_text},
	    {PARTNER_AUTH_KEY_NONCE, nonce},
	    {PARTNER_AUTH_KEY_MAC, mac},
	};
	size_t n_md = 5;
	if (rid != NULL) {
		md[n_md++] = (frep_metadata){"x-request-id", rid}; /* to the partner's logs */
	}
	/* The partner's admin token goes only where the partner needs it:
	 * creating (or taking over) a relationship there. Every other partner
	 * call is proved by its MAC alone, and a link without TLS must not
	 * show the token to whoever listens on it. */
	if (token_header != NULL && strcmp(method, "MirrorRelationship") == 0) {
		md[n_md++] = (frep_metadata){"authorization", token_header};
	}
	frep_call_options co = {
	    .timeout_ms = limit,
	    .metadata   = md,
	    .n_metadata = n_md,
	};
	return frep_client_call(c, path, input, output, out, &co, st);
}

/* Cuts *limit (ms) to num/den of what is left of caller's deadline (at
 * least 1 ms) when that is smaller, setting *cut; caller NULL or without a
 * deadline leaves it. false: that deadline has passed (nothing is to be
 * started for it). */
static bool
caller_limit(rpc_call *caller, int64_t num, int64_t den, uint32_t *limit, bool *cut)
{
	int64_t left = caller != NULL ? rpc_call_remaining_ms(caller) : -1;
	if (left == 0) {
		return false;
	}
	if (left > 0) {
		int64_t budget = left * num / den;
		if (budget < 1) {
			budget = 1;
		}
		if ((uint64_t) budget < *limit) {
			*limit = (uint32_t) budget;
			*cut   = true;
		}
	}
	return true;
}

frep_code
partner_call(partner_pool *p, const char *url, const char *relationship, const char *secret,
    const char *request_id, const char *method, const ProtobufCMessage *input,
    ProtobufCMessage **out, uint32_t timeout_ms, frep_status *st)
{
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
	    &frep__v1__partner__descriptor, method);
	if (m == NULL) {
		return frep_status_set(st, FREP_INTERNAL, "no Partner method %s", method);
	}
	char path[128];
	snprintf(path, sizeof(path), "/frep.v1.Partner/%s", method);

	/* Deadlines propagate: the partner gets what is left of the caller's
	 * deadline (less a tenth, for the answer to travel back) when that is
	 * shorter than the partner timeout; work the caller has given up on is
	 * not started. */
	rpc_call   *caller = rpc_call_current();
	const char *rid    = request_id != NULL ? request_id
			     : caller != NULL   ? rpc_call_request_id(caller)
						: NULL;
	uint32_t    limit  = timeout_ms != 0 ? timeout_ms : p->timeout_ms;
	bool        cut    = false;
	if (!caller_limit(caller, 9, 10, &limit, &cut)) {
		frep_status_set(st, FREP_DEADLINE_EXCEEDED,
		    "partner %s: %s not started: the caller's deadline had passed", url, path);
		log_failure(path, url, rid, st);
		return st->code;
	}
	frep_client *c = client_for(p, url, st);
	if (c == NULL) {
		return st->code;
	}

	/* The MAC covers the exact payload bytes; protobuf-c packs a message
	 * the same way every time, so the client's own packing matches. */
	size_t   len     = protobuf_c_message_get_packed_size(input);
	uint8_t *payload = malloc(len > 0 ? len : 1);
	if (payload == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	protobuf_c_message_pack(input, payload);
	int64_t   started = partner_auth_now_ms();
	frep_code code    = signed_call(c, path, relationship, secret, rid, method, payload, len,
	       input, m->output, out, limit, p->token_header, st);
	int64_t   bound   = 0;
	if (code == FREP_UNAUTHENTICATED && resend_safe(method) &&
	    partner_auth_refused_before_start(st->message, &bound) &&
	    bound >= started - PARTNER_AUTH_WINDOW_MS &&
	    bound <= partner_auth_now_ms() + 2 * PARTNER_AUTH_LEASE_MS) {
		/* Signed before the partner's restart (or in its last lease) and
		 * delivered after it: refused before anything was decoded. It
		 * is signed afresh, once the partner's bound has passed (it
		 * waited for it at its start, so normally at once; at most two
		 * leases), and sent once more, within what is left of limit. */
		int64_t now  = partner_auth_now_ms();
		int64_t wait = bound - now + 1;
		if (wait < 0) {
			wait = 0;
		}
		int64_t left = (int64_t) limit - (now - started) - wait;
		if (wait <= 2 * PARTNER_AUTH_LEASE_MS && left > 0) {
			rpc_log_event(
			    RPC_LOG_INFO, &(rpc_log_fields){
					      .event       = "partner_call",
					      .method      = path,
					      .status      = frep_code_name(code),
					      .duration_ms = -1,
					      .request_id  = rid,
					      .peer        = url,
					      .message     = "signed before the partner's start: "
							     "signed afresh and sent again",
					  });
			if (wait > 0) {
				nng_msleep((nng_duration) wait);
			}
			code = signed_call(c, path, relationship, secret, rid, method, payload, len,
			    input, m->output, out, (uint32_t) left, p->token_header, st);
		}
	}
	free(payload);

	if (code == FREP_OK && *out != NULL) {
		code = check_reply_text(url, path, out, st);
	}
	if (code == FREP_UNAVAILABLE || code == FREP_DEADLINE_EXCEEDED) {
		/* Name the partner (once), what was waited for and whose limit
		 * it was: the caller reads this, not the partner's own log. */
		char msg[FREP_STATUS_MESSAGE_MAX + 300];
		if (strncmp(st->message, "partner ", 8) == 0) {
			snprintf(msg, sizeof(msg), "%s", st->message);
		} else {
			snprintf(msg, sizeof(msg), "partner %s: %s", url, st->message);
		}
		if (code == FREP_DEADLINE_EXCEEDED) {
			size_t n = strlen(msg);
			snprintf(msg + n, sizeof(msg) - n, "%s",
			    cut ? " [the limit was what remained of the caller's deadline]"
				: " [the limit was --partner-timeout-ms]");
		}
		frep_status_set(st, code, "%s", msg);
	}
	if (code != FREP_OK) {
		log_failure(path, url, rid, st);
	}
	return code;
}

size_t
partner_max_request(partner_pool *p, const char *url, frep_status *st)
{
	/* A question about sizes, asked before the work it sizes: it may take
	 * at most a quarter of what is left of the caller's deadline (and at
	 * most the partner timeout), so that a partner that does not answer it
	 * leaves the work itself most of the caller's time. */
	uint32_t limit = p->timeout_ms;
	bool     cut   = false;
	if (!caller_limit(rpc_call_current(), 1, 4, &limit, &cut)) {
		frep_status_set(st, FREP_DEADLINE_EXCEEDED,
		    "partner %s: its size limit not asked: the caller's deadline had passed", url);
		return 0;
	}
	frep_client *c = client_for(p, url, st);
	if (c == NULL) {
		return 0;
	}
	frep_client_set_call_timeout(c, limit); /* this thread's calls on c */
	size_t max = frep_client_server_max_message_bytes(c, st);
	frep_client_set_call_timeout(c, 0);
	return max;
}
