/*
 * frepctl call: any method of the contract by name with a JSON request — a
 * grpcurl for frep. The request and the response go through the shared
 * descriptor-driven codec (proto/frep_json.c) in proto3's JSON mapping, so
 * what works here works as the body of an HTTP call (docs/PROTOCOL.md §15).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/data_plane.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_json.h"
#include "frepctl_internal.h"
#include "grpc/health/v1/health.pb-c.h"

/* The services frepctl can call by name (compiled in). */
static const ProtobufCServiceDescriptor *const services[] = {
    &frep__v1__dhcp_server__descriptor,
    &frep__v1__failover_replication__descriptor,
    &frep__v1__data_plane__descriptor,
    &frep__v1__health__descriptor,
    &frep__v1__partner__descriptor,
    &frep__rpc__v1__introspection__descriptor,
    &grpc__health__v1__health__descriptor,
    NULL,
};

/* Finds METHOD given as /pkg.Service/Method, pkg.Service/Method,
 * pkg.Service.Method, or Service/Method (short name, when unique). */
static const ProtobufCMethodDescriptor *
find_method(const char *text, const ProtobufCServiceDescriptor **svc_out, int *ambiguous)
{
	char buf[256];
	*ambiguous = 0;
	snprintf(buf, sizeof(buf), "%s", text[0] == '/' ? text + 1 : text);
	char *sep = strrchr(buf, '/');
	if (sep == NULL) {
		sep = strrchr(buf, '.');
	}
	if (sep == NULL) {
		return NULL;
	}
	*sep                                   = '\0';
	const char                      *mname = sep + 1;
	const ProtobufCMethodDescriptor *found = NULL;
	for (size_t i = 0; services[i] != NULL; i++) {
		const ProtobufCServiceDescriptor *sd = services[i];
		bool match = strcmp(sd->name, buf) == 0 || strcmp(sd->short_name, buf) == 0;
		if (!match) {
			continue;
		}
		const ProtobufCMethodDescriptor *m =
		    protobuf_c_service_descriptor_get_method_by_name(sd, mname);
		if (m == NULL) {
			continue;
		}
		if (strcmp(sd->name, buf) == 0) {
			*svc_out   = sd;
			*ambiguous = 0;
			return m;
		}
		if (found != NULL) {
			(*ambiguous)++;
		}
		found    = m;
		*svc_out = sd;
	}
	return *ambiguous ? NULL : found;
}

static char *
read_stdin(void)
{
	size_t cap = 4096, len = 0;
	char  *buf = malloc(cap);
	while (buf != NULL) {
		size_t n = fread(buf + len, 1, cap - len - 1, stdin);
		len += n;
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	return NULL;
}

static int
cmd_call(frepctl *ctl, const frepctl_args *a)
{
	const ProtobufCServiceDescriptor *sd = NULL;
	int                               ambiguous;
	const ProtobufCMethodDescriptor  *m = find_method(a->pos[0], &sd, &ambiguous);
	if (m == NULL) {
		return frepctl__usage_error(
		    "call: %s \"%s\" (give /package.Service/Method, e.g. "
		    "/frep.v1.DhcpServer/ListScopes; frepctl describe lists them)",
		    ambiguous ? "ambiguous method" : "no method", a->pos[0]);
	}
	const char *text  = a->npos > 1 ? a->pos[1] : "{}";
	char       *owned = NULL;
	if (strcmp(text, "-") == 0) {
		if ((owned = read_stdin()) == NULL) {
			return frepctl__usage_error("call: cannot read the request from stdin");
		}
		text = owned;
	}
	ProtobufCMessage *in = NULL;
	frep_status       st;
	if (frep_json_parse_message(m->input, text, strlen(text), &in, &st) != FREP_OK) {
		free(owned);
		return frepctl__usage_error("call: %s: %s", m->input->name, st.message);
	}
	free(owned);
	ProtobufCMessage *out = frepctl__call(ctl, sd, m->name, in, &st);
	protobuf_c_message_free_unpacked(in, NULL);
	if (out == NULL) {
		return frepctl__fail_status(&st);
	}
	json_t *j = frep_json_from_message(out, NULL);
	protobuf_c_message_free_unpacked(out, NULL);
	frepctl__print_json(j);
	return 0;
}

const frepctl_command frepctl__call_commands[] = {
    {.name        = "call",
	.args     = "METHOD [JSON|-]",
	.summary  = "call any method with a JSON request (proto3 JSON; - reads stdin)",
	.min_args = 1,
	.max_args = 2,
	.run      = cmd_call},
    {0},
};
