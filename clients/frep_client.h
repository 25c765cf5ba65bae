/*
 * frep_client: the C client of the frep contract.
 *
 * frep_client_service() returns a ProtobufCService for any protoc-c service
 * descriptor, so the stubs protoc-c generated from proto/ work unchanged:
 *
 *     ProtobufCService *health = frep_client_service(c, &frep__v1__health__descriptor);
 *     frep__v1__health__check(health, &req, on_reply, &result);
 *
 * A stub call is synchronous: the closure runs before the stub returns,
 * with the output message (freed after the closure returns: copy what you
 * keep) or with NULL on failure; frep_client_last_status() then tells why.
 *
 * Threads: a client may be shared by any number of threads; each call uses
 * its own nng context. The last status and the per-call timeout are per
 * thread. The client redials a restarted server by itself.
 *
 * Retries: a call whose method only reads (name starts with Get, List,
 * Check or Diff) may be resent by nng when its connection drops; any other
 * call in flight when its connection drops fails with UNAVAILABLE, because
 * it may or may not have run. Every call carries a fresh call id, so a
 * server that sees one twice answers from its cache instead of running it.
 *
 * Keepalive: a call that has waited 5 s for its reply (none having come on
 * any call meanwhile) makes the client ping the server over its connection;
 * with no answer within 10 s, and no reply to any other call meanwhile, the
 * connection is closed and its calls end as for a dropped connection
 * (docs/PROTOCOL.md §9). A thread of the client's own ("frep-keepalive")
 * does this: started by a call sent when none runs, it ends after 10 s with
 * no call waiting (an idle client holds no thread) and is joined by the next
 * call or by frep_client_close.
 */
#ifndef FREP_CLIENTS_FREP_CLIENT_H
#define FREP_CLIENTS_FREP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frep_status.h"

/* Only what this header declares is exported by libfrep-client (and the
 * protoc-c generated code of the contract); everything else is hidden. */
#if defined(__GNUC__)
#define FREP_CLIENT_API __attribute__((visibility("default")))
#else
#define FREP_CLIENT_API
#endif

/* One metadata pair (also declared, identically, by frep_envelope.h). */
#ifndef FREP_METADATA_DEFINED
#define FREP_METADATA_DEFINED
typedef struct frep_metadata {
	const char *key;
	const char *value;
} frep_metadata;
#endif

typedef struct frep_client frep_client;

typedef struct frep_client_options {
	uint32_t    timeout_ms;    /* default per-call deadline; 0: 30000 */
	const char *token;         /* admin bearer token, copied; NULL: none */
	const char *tls_ca_file;   /* tls+tcp:// and wss://: CA to verify the server */
	const char *tls_cert_file; /* client certificate (if the server asks for one) */
	const char *tls_key_file;
	const char *tls_server_name; /* name to verify; default: the URL's host,
				      * none when it is an IP address */
	size_t max_recv_bytes;       /* largest reply accepted; 0: 256 MiB */
	/* Calls wait for a connection up to their deadline (gRPC's
	 * wait-for-ready). Otherwise (the default) a call with no connection
	 * fails fast with UNAVAILABLE: at once when the connection is refused
	 * or fails, after about a second when nothing answers. */
	bool wait_for_ready;
} frep_client_options;

/* Opens a client for url (tcp://, ipc://, ws://, tls+tcp://, wss://). The
 * connection is made in the background: opening succeeds while the server
 * is down; calls then fail fast with UNAVAILABLE, or wait for it up to their
 * deadline with wait_for_ready. INVALID_ARGUMENT
 * for a bad URL or TLS file. On success the caller owns *out. */
FREP_CLIENT_API frep_code frep_client_open(
    const char *url, const frep_client_options *opts, frep_client **out, frep_status *st);

/* Closes the client; calls in flight fail with CANCELLED. Services from
 * frep_client_service() are freed with it. NULL is a no-op. Each thread's
 * own state (frep_client_last_status, frep_client_set_call_timeout) is freed when
 * that thread exits, or here for the threads still running; a thread that
 * used the client must not be exiting while this runs. */
FREP_CLIENT_API void frep_client_close(frep_client *c);

/* A ProtobufCService that calls desc's methods on the server. Owned by the
 * client (the same pointer for the same descriptor); NULL only when out of
 * memory. */
FREP_CLIENT_API ProtobufCService *frep_client_service(
    frep_client *c, const ProtobufCServiceDescriptor *desc);

/* The status of the calling thread's last call on c (OK before any). */
FREP_CLIENT_API frep_code frep_client_last_status(frep_client *c, frep_status *out);

/* Sets the deadline of the calling thread's next calls on c; 0 restores the
 * client's default. */
FREP_CLIENT_API void frep_client_set_call_timeout(frep_client *c, uint32_t timeout_ms);

/* One typed error detail of a reply (google.protobuf.Any's shape). */
typedef struct frep_detail {
	char    *type_url;
	uint8_t *value;
	size_t   len;
} frep_detail;

/* What a reply carried besides its status and message: filled when a call's
 * options point at one. The frep envelope has no response metadata, so
 * there is none to read; details are the server's typed error details (none
 * are sent today). Release with frep_reply_info_fini. */
typedef struct frep_reply_info {
	uint64_t     call_id; /* echoed by the server */
	frep_detail *details; /* n_details of them */
	size_t       n_details;
} frep_reply_info;

/* Frees what info holds (not info itself); NULL is a no-op. */
FREP_CLIENT_API void frep_reply_info_fini(frep_reply_info *info);

/* Per-call options of the generic calls below, gRPC's CallOptions: the
 * deadline, metadata, wait-for-ready; and where to put the reply's info. */
typedef struct frep_call_options {
	uint32_t             timeout_ms; /* 0: the thread's or client's default */
	const frep_metadata *metadata;   /* extra metadata pairs */
	size_t               n_metadata;
	bool                 wait_for_ready; /* this call waits for a connection */
	frep_reply_info     *reply;          /* non-NULL: filled (success or failure) */
} frep_call_options;

/* Calls method_path ("/frep.v1.Health/Check") with input, decoding the reply
 * as output_desc into *output (caller frees with
 * protobuf_c_message_free_unpacked). Returns the call's status; also
 * recorded as the thread's last status. A read-only method (Get*, List*,
 * Check*, Diff*) whose connection drops is sent again until its deadline,
 * unless its metadata holds x-frep-mac (a signed partner call, single-use:
 * PROTOCOL.md §6.1), which then fails UNAVAILABLE like any other call. */
FREP_CLIENT_API frep_code frep_client_call(frep_client *c, const char *method_path,
    const ProtobufCMessage *input, const ProtobufCMessageDescriptor *output_desc,
    ProtobufCMessage **output, const frep_call_options *opts, frep_status *st);

/* The typed call path: calls service->methods[method_index] with input (of
 * the method's input type) and sets *output to a message of its output
 * type, e.g.
 *
 *     Frep__V1__Scope *scope = NULL;
 *     frep_code code = frep_client_invoke(c, &frep__v1__dhcp_server__descriptor,
 *         FREP_METHOD_INDEX(Frep__V1__DhcpServer_Service, get_scope), &key.base,
 *         (ProtobufCMessage **) &scope, &opts, &st);
 *
 * Returns the call's status (INVALID_ARGUMENT for a method index out of
 * range or an input of another type). The caller frees *output with
 * protobuf_c_message_free_unpacked. */
FREP_CLIENT_API frep_code frep_client_invoke(frep_client *c,
    const ProtobufCServiceDescriptor *service, unsigned method_index, const ProtobufCMessage *input,
    ProtobufCMessage **output, const frep_call_options *opts, frep_status *st);

/* The index of a method in its service's descriptor, from protoc-c's
 * generated service struct, which lists the methods in descriptor order
 * after its base: FREP_METHOD_INDEX(Frep__V1__DhcpServer_Service, get_scope). */
#define FREP_METHOD_INDEX(service_type, method)                                                    \
	((unsigned) ((offsetof(service_type, method) - sizeof(ProtobufCService)) /                 \
		     sizeof(void (*)(void))))

/* The largest request envelope the server accepts, in bytes (its
 * Introspection/GetServerInfo max_message_bytes: asked once per connection,
 * then remembered), within the calling thread's call timeout
 * (frep_client_set_call_timeout) or the client's; 0 with a status if the
 * server cannot be asked. A call whose request is over 64 KiB asks it first
 * itself, within that call's own deadline. */
FREP_CLIENT_API size_t frep_client_server_max_message_bytes(frep_client *c, frep_status *st);

#endif /* FREP_CLIENTS_FREP_CLIENT_H */
