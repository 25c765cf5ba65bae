/*
 * partner_service: frep.v1.Partner, the server-to-server side of failover
 * replication — apply or diff a scope snapshot, report scope digests,
 * create / update / remove the mirror of a relationship. Every call is
 * authenticated with the relationship's shared secret (partner_auth.h);
 * register it with RPC_SERVICE_OWN_AUTH. Creating a mirror also needs this
 * server's admin token when it has one.
 */
#ifndef FREP_RPC_PARTNER_SERVICE_H
#define FREP_RPC_PARTNER_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "engine.h"
#include "frep_status.h"

/* e is borrowed and must outlive the service. Free with
 * partner_service_free. */
frep_code partner_service_new(engine *e, ProtobufCService **out, frep_status *st);
void      partner_service_free(ProtobufCService *service);

#endif /* FREP_RPC_PARTNER_SERVICE_H */
