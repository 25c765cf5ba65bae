#include "introspection.h"

#include <stdlib.h>

#include "frep/rpc/v1/introspection.pb-c.h"

typedef struct introspection {
	Frep__Rpc__V1__Introspection_Service base;
	rpc_introspection_source             source;
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
	rpc_introspection_info    si   = {0};

	self->source.server_info(self->source.arg, &si);
	info.version               = (char *) (si.version != NULL ? si.version : "");
	info.max_message_bytes     = si.max_message_bytes;
	info.n_services            = si.n_services;
	info.services              = (char **) si.services;
	info.worker_threads        = si.worker_threads;
	info.max_metadata_pairs    = si.max_metadata_pairs;
	info.call_id_cache_seconds = si.call_id_cache_seconds;
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
		self->source.call_fail(closure_data, FREP_UNIMPLEMENTED,
		    "this server was built without a descriptor set");
		closure(NULL, closure_data);
		return;
	}
	ds.file_descriptor_set.data = (uint8_t *) self->descriptor_set;
	ds.file_descriptor_set.len  = self->descriptor_set_len;
	closure(&ds, closure_data);
}

frep_code
rpc_introspection_new(const rpc_introspection_source *source, const uint8_t *descriptor_set,
    size_t len, ProtobufCService **out, frep_status *st)
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
	self->source                  = *source;
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
