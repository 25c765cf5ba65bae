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
#include "rpc_server.h"

/* e is borrowed and must outlive the service. state_path (may be NULL: RAM
 * only) is the partner_auth state file: this server's id and the replay
 * horizon that survives a restart (partner_auth_replay_open). Free with
 * partner_service_free. */
frep_code partner_service_new(
    engine *e, const char *state_path, ProtobufCService **out, frep_status *st);
void partner_service_free(ProtobufCService *service);

/* The URL this server's kea-dhcp4 offers its HA peer (frepd's
 * --kea-ha-url; NULL or "" = none): what a mirror made or changed here
 * stores as its kea_ha_url and answers to the partner. Call before
 * serving. INVALID_ARGUMENT naming --kea-ha-url and the value when
 * malformed. */
frep_code partner_service_set_kea_ha_url(
    ProtobufCService *service, const char *url, frep_status *st);

/* The pre-decode check to register for the service
 * (rpc_server_set_authorizer with the service as arg): the MAC is checked
 * on the raw payload before anything is decoded. */
frep_code partner_service_authorize(void *service, rpc_call *call, frep_status *st);

#endif /* FREP_RPC_PARTNER_SERVICE_H */
