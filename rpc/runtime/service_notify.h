/*
 * service_notify: readiness notification to a service manager (systemd
 * Type=notify) over $NOTIFY_SOCKET.
 *
 * The sd_notify protocol, not libsystemd: one datagram of newline-separated
 * VARIABLE=value assignments sent to the AF_UNIX socket named by the
 * NOTIFY_SOCKET environment variable (a path, or "@name" for the abstract
 * namespace). systemd documents the protocol as stable and meant to be
 * spoken without its library (sd_notify(3), "Notes"; systemd.service(5),
 * Type=notify). frep speaks it directly because linking libsystemd
 * (with libgcrypt, liblz4, libzstd, liblzma, libcap) costs an idle frepd
 * about 1 MB of RSS (docs/PERFORMANCE.md), a tenth of its budget, for one
 * sendto().
 */
#ifndef FREP_RPC_SERVICE_NOTIFY_H
#define FREP_RPC_SERVICE_NOTIFY_H

/* Sends state (e.g. "READY=1", "STOPPING=1") to $NOTIFY_SOCKET.
 * Returns 1 when sent, 0 when NOTIFY_SOCKET is unset or empty (not run by
 * a service manager), -1 with errno set when it names no usable socket or
 * the send failed (a too-long path is EINVAL). Never blocks (the datagram
 * socket is non-blocking); thread-safe; leaves the environment as it is. */
int rpc_service_notify(const char *state);

#endif
