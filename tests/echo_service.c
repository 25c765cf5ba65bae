#include "echo_service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frep_test.pb-c.h"
#include "rpc_server.h"

struct echo_service {
	Frep__Test__V1__Echo_Service base;
	atomic_uint_least64_t        echo_calls;
	atomic_uint_least64_t        sleep_calls;
	pthread_mutex_t              mtx;
	char                         last_authorization[256];
	char                         last_request_id[256];
};

static void
remember_metadata(echo_service *e, void *call)
{
	const char *auth = rpc_call_metadata(call, "authorization");
	const char *rid  = rpc_call_metadata(call, "x-request-id");
	pthread_mutex_lock(&e->mtx);
	snprintf(e->last_authorization, sizeof(e->last_authorization), "%s", auth ? auth : "");
	snprintf(e->last_request_id, sizeof(e->last_request_id), "%s", rid ? rid : "");
	pthread_mutex_unlock(&e->mtx);
}

static void
echo_svc_echo(Frep__Test__V1__Echo_Service *service, const Frep__Test__V1__EchoRequest *input,
    Frep__Test__V1__EchoResponse_Closure closure, void *closure_data)
{
	echo_service                *e   = (echo_service *) service;
	Frep__Test__V1__EchoResponse out = FREP__TEST__V1__ECHO_RESPONSE__INIT;
	atomic_fetch_add(&e->echo_calls, 1);
	remember_metadata(e, closure_data);
	out.data = input->data;
	out.tag  = input->tag;
	closure(&out, closure_data);
}

static void
echo_svc_sleep(Frep__Test__V1__Echo_Service *service, const Frep__Test__V1__SleepRequest *input,
    Frep__Test__V1__SleepResponse_Closure closure, void *closure_data)
{
	echo_service                 *e   = (echo_service *) service;
	Frep__Test__V1__SleepResponse out = FREP__TEST__V1__SLEEP_RESPONSE__INIT;
	atomic_fetch_add(&e->sleep_calls, 1);
	struct timespec ts = {
	    .tv_sec = input->ms / 1000, .tv_nsec = (long) (input->ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	out.slept_ms = input->ms;
	closure(&out, closure_data);
}

static void
echo_svc_get_counts(Frep__Test__V1__Echo_Service *service,
    const Frep__Test__V1__CountsRequest *input, Frep__Test__V1__CountsResponse_Closure closure,
    void *closure_data)
{
	(void) input;
	echo_service                  *e   = (echo_service *) service;
	Frep__Test__V1__CountsResponse out = FREP__TEST__V1__COUNTS_RESPONSE__INIT;
	char                           auth[256], rid[256];
	out.echo_calls  = atomic_load(&e->echo_calls);
	out.sleep_calls = atomic_load(&e->sleep_calls);
	pthread_mutex_lock(&e->mtx);
	memcpy(auth, e->last_authorization, sizeof(auth));
	memcpy(rid, e->last_request_id, sizeof(rid));
	pthread_mutex_unlock(&e->mtx);
	out.last_authorization = auth;
	out.last_request_id    = rid;
	closure(&out, closure_data);
}

static void
echo_svc_fail(Frep__Test__V1__Echo_Service *service, const Frep__Test__V1__FailRequest *input,
    Frep__Test__V1__FailResponse_Closure closure, void *closure_data)
{
	(void) service;
	rpc_call_fail(closure_data, (frep_code) input->code, "%s", input->message);
	closure(NULL, closure_data);
}

typedef struct later {
	Frep__Test__V1__EchoResponse_Closure closure;
	void                                *closure_data;
	uint8_t                             *data;
	size_t                               len;
	uint64_t                             tag;
} later;

static void *
later_main(void *arg)
{
	later                       *l   = arg;
	Frep__Test__V1__EchoResponse out = FREP__TEST__V1__ECHO_RESPONSE__INIT;
	struct timespec              ts  = {.tv_nsec = 20 * 1000000L};
	nanosleep(&ts, NULL);
	out.data.data = l->data;
	out.data.len  = l->len;
	out.tag       = l->tag;
	l->closure(&out, l->closure_data);
	free(l->data);
	free(l);
	return NULL;
}

static void
echo_svc_echo_later(Frep__Test__V1__Echo_Service *service, const Frep__Test__V1__EchoRequest *input,
    Frep__Test__V1__EchoResponse_Closure closure, void *closure_data)
{
	echo_service *e = (echo_service *) service;
	later        *l = calloc(1, sizeof(*l));
	pthread_t     t;
	atomic_fetch_add(&e->echo_calls, 1);
	/* The input is freed when this returns: copy it. */
	l->closure      = closure;
	l->closure_data = closure_data;
	l->data         = malloc(input->data.len + 1);
	if (input->data.len > 0) { /* data is NULL when empty */
		memcpy(l->data, input->data.data, input->data.len);
	}
	l->len = input->data.len;
	l->tag = input->tag;
	pthread_create(&t, NULL, later_main, l);
	pthread_detach(t);
}

echo_service *
echo_service_new(void)
{
	echo_service *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return NULL;
	}
	Frep__Test__V1__Echo_Service init = FREP__TEST__V1__ECHO__INIT(echo_svc_);
	e->base                           = init;
	pthread_mutex_init(&e->mtx, NULL);
	return e;
}

void
echo_service_free(echo_service *e)
{
	if (e != NULL) {
		pthread_mutex_destroy(&e->mtx);
		free(e);
	}
}

ProtobufCService *
echo_service_base(echo_service *e)
{
	return &e->base.base;
}

uint64_t
echo_service_echo_calls(echo_service *e)
{
	return atomic_load(&e->echo_calls);
}

uint64_t
echo_service_sleep_calls(echo_service *e)
{
	return atomic_load(&e->sleep_calls);
}
