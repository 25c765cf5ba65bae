/*
 * conn_limit: at most so many connections per listener among those that
 * finished their handshake (nng pipes).
 *
 * nng bounds a connection's handshake (10 s on tcp://, half_open.c for
 * ws://) but not how many finished ones a listener keeps: a peer that
 * completes the SP handshake and then says nothing holds a descriptor for
 * ever, and enough of them exhaust frepd's descriptors, stopping every
 * listener. The server's pipe callback asks rpc_conn_limit_admit at
 * NNG_PIPE_EV_ADD_PRE and closes the pipe when it answers false; the
 * count goes down at NNG_PIPE_EV_REM_POST (rpc_conn_limit_release). Pipes
 * are recorded by id, so a pipe refused or never admitted is never
 * released twice. Thread-safe.
 */
#ifndef FREP_RPC_CONN_LIMIT_H
#define FREP_RPC_CONN_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_CONN_LIMIT_DEFAULT     256   /* per listener */
#define RPC_CONN_LIMIT_MAX         65536 /* what can be asked for */
#define RPC_CONN_LIMIT_WARN_PERIOD 10000 /* ms between warnings of one listener */

typedef struct rpc_conn_limit rpc_conn_limit;

/* max connections per listener (at least 1). NULL when out of memory.
 * The caller frees it with rpc_conn_limit_free (NULL: no-op). */
rpc_conn_limit *rpc_conn_limit_new(size_t max_per_listener);
void            rpc_conn_limit_free(rpc_conn_limit *l);

/* Tells the limit that listener number index (0 .. 15) is now the nng
 * listener listener_id, named url (borrowed; it must outlive l). Called
 * when a listener is created or re-created. */
void rpc_conn_limit_set_listener(
    rpc_conn_limit *l, size_t index, uint32_t listener_id, const char *url);

/* What rpc_conn_limit_admit says about a refusal the caller should log. */
typedef struct rpc_conn_limit_refusal {
	const char *url;     /* the listener's */
	uint64_t    refused; /* refused on it since the last warning, this one included */
	bool        warn;    /* true at most once per RPC_CONN_LIMIT_WARN_PERIOD per listener */
} rpc_conn_limit_refusal;

/* A pipe of listener_id is about to be added (now_ms: monotonic). True:
 * it is recorded and counted. False: its listener has its maximum already;
 * the caller closes it, and *why says what to log. A pipe of no known
 * listener (a dialer's) is always admitted and never counted. */
bool rpc_conn_limit_admit(rpc_conn_limit *l, uint32_t pipe_id, uint32_t listener_id,
    uint64_t now_ms, rpc_conn_limit_refusal *why);

/* A pipe went away: if it was admitted, its listener's count goes down. */
void rpc_conn_limit_release(rpc_conn_limit *l, uint32_t pipe_id);

/* Connections admitted and open now on listener number index. */
size_t rpc_conn_limit_open(rpc_conn_limit *l, size_t index);

#endif /* FREP_RPC_CONN_LIMIT_H */
