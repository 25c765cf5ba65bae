/*
 * A proxy for tests in front of a real frepd (rep0 in, req0 out): every
 * call is passed on and its answer passed back, unless the test's hook
 * answers it itself or leaves it unanswered. One call at a time, on a
 * thread of its own.
 */
#ifndef FREP_TESTS_PARTNER_PROXY_H
#define FREP_TESTS_PARTNER_PROXY_H

#include <pthread.h>

#include <nng/nng.h>

#include "frep_envelope.h"

typedef enum tp_action {
	TP_FORWARD, /* pass the call on to the frepd behind */
	TP_DROP,    /* leave it unanswered */
	TP_REPLY,   /* answer with *reply (the hook made it) */
} tp_action;

/* Called for each call that decodes as a request envelope, on the proxy's
 * thread; may block (the next call waits). A reply made for TP_DROP or
 * TP_FORWARD is freed. */
typedef tp_action (*tp_hook)(void *arg, const frep_request_view *v, nng_msg **reply);

typedef struct tp_proxy {
	char       url[600]; /* where it listens */
	nng_socket sock, up;
	tp_hook    hook; /* NULL: forward everything */
	void      *arg;
	pthread_t  thread;
} tp_proxy;

/* Listens on listen_url, dials upstream_url, starts the thread; fails the
 * test if any of it fails. */
void tp_proxy_start(
    tp_proxy *p, const char *listen_url, const char *upstream_url, tp_hook hook, void *arg);

/* Closes both sockets (ending a forward in progress) and joins the thread. */
void tp_proxy_stop(tp_proxy *p);

#endif /* FREP_TESTS_PARTNER_PROXY_H */
