/*
 * object_kinds: the frep.v1.DhcpServer methods that add / set / get / list
 * / remove one object kind, served from one table row per kind (STYLE
 * rules 8 and 16). A row names the kind's engine struct, its proto <->
 * model conversions (convert.h), its engine calls, and per method the
 * request fields that form its key and where the object sits in the
 * request. One generic handler runs every such method: key fields first
 * (in the row's order, so the first bad one is the one named), then the
 * object, then the engine call, then the reply. Statuses are the
 * converters' and the engine's, unchanged.
 *
 * What is specific to one kind (the policy IP ranges, a relationship's
 * scopes, whole scopes, audit and DNS settings) stays explicit in
 * dhcp_service.c.
 */
#ifndef FREP_RPC_OBJECT_KINDS_H
#define FREP_RPC_OBJECT_KINDS_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "dhcp_service_hooks.h"
#include "engine.h"

struct object_kind;

/* Which kind and operation serve one method (filled by object_kinds_find;
 * the fields are object_kinds.c's to read). */
typedef struct object_kinds_route {
	const struct object_kind         *kind;
	int                               op;
	const ProtobufCMessageDescriptor *output; /* the method's reply */
} object_kinds_route;

/* Fills *out with the row serving the DhcpServer method `method` and
 * returns true, or returns false when no object kind serves it (the
 * service's explicit handler does). Checks, by assert (a programmer's
 * mistake), that the row's field names exist in the method's request and
 * reply descriptors with the types the row reads. */
bool object_kinds_find(const ProtobufCMethodDescriptor *method, object_kinds_route *out);

/* Serves one call routed by r over e (with the failover hooks, borrowed,
 * for the methods whose row calls them): input is the decoded request
 * (borrowed for the call); closure receives the reply, or NULL after the
 * status (the converters' or the engine's, unchanged) has been set on the
 * call (closure_data is the rpc_call). Runs on a worker thread; it touches
 * the disk. */
void object_kinds_serve(const object_kinds_route *r, engine *e,
    const dhcp_service_failover_hooks *hooks, const ProtobufCMessage *input,
    ProtobufCClosure closure, void *closure_data);

#endif /* FREP_RPC_OBJECT_KINDS_H */
