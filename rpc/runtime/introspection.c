#include "introspection.h"

#include <stdlib.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "server_internal.h"

typedef struct introspection {
	Frep__Rpc__V1__Introspection_Service base;
	rpc_server                          *server;
	const uint8_t                       *descriptor_set;
	size_t                               descriptor_set_len;
} introspection;

static void
get_server_info(Frep__Rpc__V1__Introspection_Service *service,
    const Frep__Rpc__V1__GetServerInfoRequest *input, Frep__Rpc__V1__ServerInfo_Closure closure,
    void *closure_data)
{
	(void) input;
	introspection            *self = (introspection *) service;
	Frep__Rpc__V1__ServerInfo info = FREP__RPC__V1__SERVER_INFO__INIT;
	const char               *names[32];

	info.version               = (char *) rpc_server__version(self->server);
	info.max_message_bytes     = rpc_server_max_message_bytes(self->server);
	info.n_services            = rpc_server__service_names(self->server, names, 32);
	info.services              = (char **) names;
	info.worker_threads        = rpc_server__worker_threads(self->server);
	info.max_metadata_pairs    = RPC_MAX_METADATA_PAIRS;
	info.call_id_cache_seconds = rpc_server__call_id_cache_seconds(self->server);
	closure(&info, closure_data);
}

static void
get_descriptor_set(Frep__Rpc__V1__Introspection_Service *service,
    const Frep__Rpc__V1__GetDescriptorSetRequest        *input,
    Frep__Rpc__V1__DescriptorSet_Closure closure, void *closure_data)
{
	(void) input;
	introspection               *self = (introspection *) service;
	Frep__Rpc__V1__DescriptorSet ds   = FREP__RPC__V1__DESCRIPTOR_SET__INIT;

	if (self->descriptor_set == NULL) {
		rpc_call_fail(closure_data, FREP_UNIMPLEMENTED,
		    "this server was built without a descriptor set");
		closure(NULL, closure_data);
		return;
	}
	ds.file_descriptor_set.data = (uint8_t *) self->descriptor_set;
	ds.file_descriptor_set.len  = self->descriptor_set_len;
	closure(&ds, closure_data);
}

frep_code
rpc_introspection_new(rpc_server *s, const uint8_t *descriptor_set, size_t len,
    ProtobufCService **out, frep_status *st)
{
	introspection *self = calloc(1, sizeof(*self));
	if (self == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__Rpc__V1__Introspection_Service init =
	    FREP__RPC__V1__INTROSPECTION__INIT(/* prefix */);
	self->base                    = init;
	self->base.get_server_info    = get_server_info;
	self->base.get_descriptor_set = get_descriptor_set;
	self->server                  = s;
	self->descriptor_set          = descriptor_set;
	self->descriptor_set_len      = len;
	*out                          = &self->base.base;
	return FREP_OK;
}

void
rpc_introspection_free(ProtobufCService *service)
{
	free(service);
}
