#include "grpc_health.h"

#include <stdlib.h>

#include "frep/v1/health.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc_server.h"

typedef struct grpc_health {
	Grpc__Health__V1__Health_Service base;
	ProtobufCService                *inner;
} grpc_health;

/* The inner Check answers on this thread before it returns (its service is
 * inline), so its answer is caught here and translated after. */
typedef struct caught {
	bool    answered;
	bool    ok;
	int32_t status;
} caught;

static _Thread_local caught *catching;

static void
catch_answer(const ProtobufCMessage *msg, void *closure_data)
{
	(void) closure_data;
	if (catching == NULL || catching->answered) {
		return;
	}
	catching->answered = true;
	catching->ok       = msg != NULL;
	if (msg != NULL) {
		catching->status = ((const Frep__V1__HealthCheckResponse *) msg)->status;
	}
}

static void
check(Grpc__Health__V1__Health_Service *service, const Grpc__Health__V1__HealthCheckRequest *input,
    Grpc__Health__V1__HealthCheckResponse_Closure closure, void *closure_data)
{
	grpc_health                 *self = (grpc_health *) service;
	Frep__V1__HealthCheckRequest in   = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	caught                       c    = {0};
	in.service                        = input->service;
	catching                          = &c;
	/* closure_data stays the rpc_call: a failing inner Check sets its status
	 * there (rpc_call_fail), and this closure then answers with NULL. */
	self->inner->invoke(self->inner, 0, &in.base, catch_answer, closure_data);
	catching = NULL;
	if (!c.answered) {
		rpc_call_fail(closure_data, FREP_INTERNAL, "frep.v1.Health/Check did not answer");
		closure(NULL, closure_data);
		return;
	}
	if (!c.ok) {
		closure(NULL, closure_data);
		return;
	}
	Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	/* Same numbers in both enums (UNKNOWN, SERVING, NOT_SERVING). */
	out.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus) c.status;
	closure(&out, closure_data);
}

static void
watch(Grpc__Health__V1__Health_Service *service, const Grpc__Health__V1__HealthCheckRequest *input,
    Grpc__Health__V1__HealthCheckResponse_Closure closure, void *closure_data)
{
	(void) service;
	(void) input;
	rpc_call_fail(closure_data, FREP_UNIMPLEMENTED,
	    "grpc.health.v1.Health/Watch is a stream; frep's calls are unary: poll Check");
	closure(NULL, closure_data);
}

frep_code
grpc_health_new(ProtobufCService *inner, ProtobufCService **out, frep_status *st)
{
	grpc_health *self = calloc(1, sizeof(*self));
	if (self == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Grpc__Health__V1__Health_Service init = GRPC__HEALTH__V1__HEALTH__INIT();
	self->base                            = init;
	self->inner                           = inner;
	*out                                  = &self->base.base;
	return FREP_OK;
}

void
grpc_health_free(ProtobufCService *service)
{
	free(service);
}
