#include "fuzz_methods.h"

#include <stdio.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"

const ProtobufCServiceDescriptor *const fuzz_services[] = {
    &frep__v1__dhcp_server__descriptor,
    &frep__v1__failover_replication__descriptor,
    &frep__v1__partner__descriptor,
    &frep__v1__health__descriptor,
    &frep__rpc__v1__introspection__descriptor,
};
const size_t fuzz_n_services = sizeof(fuzz_services) / sizeof(fuzz_services[0]);

size_t
fuzz_method_count(void)
{
	size_t n = 0;
	for (size_t s = 0; s < fuzz_n_services; s++) {
		n += fuzz_services[s]->n_methods;
	}
	return n;
}

const ProtobufCMethodDescriptor *
fuzz_method_at(size_t i, const ProtobufCServiceDescriptor **svc)
{
	for (size_t s = 0; s < fuzz_n_services; s++) {
		if (i < fuzz_services[s]->n_methods) {
			*svc = fuzz_services[s];
			return &fuzz_services[s]->methods[i];
		}
		i -= fuzz_services[s]->n_methods;
	}
	*svc = NULL;
	return NULL;
}

void
fuzz_method_path(size_t i, char *buf, size_t cap)
{
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor  *m = fuzz_method_at(i, &svc);
	if (m == NULL) {
		snprintf(buf, cap, "/none/None");
		return;
	}
	snprintf(buf, cap, "/%s/%s", svc->name, m->name);
}
