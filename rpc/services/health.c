#include "health.h"

#include <stdlib.h>

#include "frep/v1/health.pb-c.h"

typedef struct health {
	Frep__V1__Health_Service base;
	rpc_server              *server;
} health;

static void
check(Frep__V1__Health_Service *service, const Frep__V1__HealthCheckRequest *input,
    Frep__V1__HealthCheckResponse_Closure closure, void *closure_data)
{
	health                       *self = (health *) service;
	Frep__V1__HealthCheckResponse out  = FREP__V1__HEALTH_CHECK_RESPONSE__INIT;

	if (input->service[0] != '\0' && !rpc_server_has_service(self->server, input->service)) {
		rpc_call_fail(closure_data, FREP_NOT_FOUND, "service \"%.200s\" is not served here",
		    input->service);
		closure(NULL, closure_data);
		return;
	}
	out.status = rpc_server_serving(self->server)
			 ? FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
			 : FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	closure(&out, closure_data);
}

frep_code
rpc_health_new(rpc_server *s, ProtobufCService **out, frep_status *st)
{
	health *self = calloc(1, sizeof(*self));
	if (self == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__V1__Health_Service init = FREP__V1__HEALTH__INIT();
	self->base                    = init;
	self->server                  = s;
	*out                          = &self->base.base;
	return FREP_OK;
}

void
rpc_health_free(ProtobufCService *service)
{
	free(service);
}
