/*
 * half_open: a deadline for connections to ws:// and wss:// listeners that
 * never finish the HTTP upgrade.
 *
 * nng 1.5.2 gives tcp://, tls+tcp:// and ipc:// peers 10 s to complete the
 * SP handshake, but its HTTP server reads a request with no deadline at
 * all: a peer that connects to a ws:// listener and stays silent holds a
 * descriptor for ever, and a few hundred of them exhaust frepd's
 * descriptors, stopping every listener. nng exposes no option for it, and
 * a connection only becomes visible (as a pipe) after the upgrade. So the
 * guard looks from outside: every scan it lists this process's TCP
 * connections on each watched port (/proc/net/tcp{,6} joined with
 * /proc/self/fd), leaves out those that became pipes (their remote
 * addresses are recorded by the pipe callbacks), and shuts down (shutdown(2),
 * which nng then sees as the peer going away) each one still pending after
 * the deadline, and on each port the oldest ones beyond max_pending at
 * once (each listener has its bound: one flooded listener does not make
 * another's peers go early).
 *
 * The same guard bounds tcp:// and tls+tcp:// listeners (frepd runs one of
 * its own for them): nng gives those peers 10 s to finish the SP handshake
 * but does not bound how many may be waiting, so a flood of silent peers
 * took every descriptor. There the guard does not own the socket's pipe
 * callbacks: it learns the pipes from nng's statistics at each scan
 * (rpc_half_open_pipes_from_stats).
 *
 * /proc/net/tcp{,6} and /proc/self/fd are opened once and kept (re-read
 * from the start at each scan): opening them per scan failed with EMFILE
 * at the descriptor limit, the very moment the guard is needed.
 *
 * Linux only (it reads /proc); elsewhere a scan finds nothing. Thread-safe.
 */
#ifndef FREP_RPC_HALF_OPEN_H
#define FREP_RPC_HALF_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#define RPC_HALF_OPEN_DEADLINE_MS 10000 /* nng's SP handshake deadline on tcp:// */
#define RPC_HALF_OPEN_MAX         64    /* pending connections per listener (port) */

typedef struct rpc_half_open rpc_half_open;

/* NULL when out of memory. */
rpc_half_open *rpc_half_open_new(uint64_t deadline_ms, size_t max_pending);
void           rpc_half_open_free(rpc_half_open *h);

/* At each scan, take the pipes from nng's statistics (every socket's pipes)
 * instead of the pipe callbacks. A scan that cannot read the statistics
 * shuts nothing down. */
void rpc_half_open_pipes_from_stats(rpc_half_open *h);

/* Beyond the bound, close idle connections before busy ones (the HTTP
 * endpoint's guard): first those whose peer never sent a byte, then those
 * whose last request was answered, and only then those with a request in
 * progress (a call in flight looks the same as a request still arriving);
 * oldest first within each. From each socket's TCP_INFO. */
void rpc_half_open_idle_first(rpc_half_open *h);

/* Pipe callbacks: a pipe (an upgraded connection) appeared or went. */
void rpc_half_open_pipe_added(rpc_half_open *h, nng_pipe p);
void rpc_half_open_pipe_removed(rpc_half_open *h, nng_pipe p);

/* One scan of the connections on ports[0..n) at now_ms (monotonic).
 * Returns how many it shut down. */
size_t rpc_half_open_scan(rpc_half_open *h, const int *ports, size_t n, uint64_t now_ms);

/* Connections shut down so far. */
uint64_t rpc_half_open_dropped(rpc_half_open *h);

#endif /* FREP_RPC_HALF_OPEN_H */
