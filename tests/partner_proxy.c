/* The tests' proxy in front of a real frepd (partner_proxy.h). */
#include "partner_proxy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

static void *
proxy_main(void *arg)
{
	tp_proxy *p = arg;
	nng_msg  *m;
	while (nng_recvmsg(p->sock, &m, 0) == 0) {
		frep_request_view v;
		frep_status       st;
		nng_msg          *fwd = NULL, *reply = NULL;
		if (frep_envelope_request_view(nng_msg_body(m), nng_msg_len(m), &v, &st) !=
		    FREP_OK) {
			nng_msg_free(m);
			continue;
		}
		tp_action act = p->hook != NULL ? p->hook(p->arg, &v, &reply) : TP_FORWARD;
		frep_envelope_request_view_fini(&v);
		if (act == TP_FORWARD && nng_msg_dup(&fwd, m) == 0) {
			if (nng_sendmsg(p->up, fwd, 0) == 0) {
				nng_recvmsg(p->up, &reply, 0);
			} else {
				nng_msg_free(fwd);
			}
		}
		if (reply != NULL && (act == TP_DROP || nng_sendmsg(p->sock, reply, 0) != 0)) {
			nng_msg_free(reply);
		}
		nng_msg_free(m);
	}
	return NULL;
}

void
tp_proxy_start(
    tp_proxy *p, const char *listen_url, const char *upstream_url, tp_hook hook, void *arg)
{
	snprintf(p->url, sizeof(p->url), "%s", listen_url);
	p->hook = hook;
	p->arg  = arg;
	assert_int_equal(nng_req0_open(&p->up), 0);
	/* A frepd behind that never answers (stopped, killed) does not hold
	 * the proxy, nor its stop, for ever. */
	assert_int_equal(nng_socket_set_ms(p->up, NNG_OPT_RECVTIMEO, 60000), 0);
	assert_int_equal(nng_dial(p->up, upstream_url, NULL, 0), 0);
	assert_int_equal(nng_rep0_open(&p->sock), 0);
	assert_int_equal(nng_listen(p->sock, p->url, NULL, 0), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, proxy_main, p), 0);
}

void
tp_proxy_stop(tp_proxy *p)
{
	nng_close(p->sock);
	nng_close(p->up); /* ends a forward in progress */
	pthread_join(p->thread, NULL);
}
