#include "data_plane_service.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "frep/v1/data_plane.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "kea_ha.h"
#include "kea_render.h"
#include "rpc_server.h"

typedef struct data_plane_service {
	Frep__V1__DataPlane_Service base;
	engine                     *e;
	kea_push                   *push;
	char                       *base_path;
	kea_render_cache *cache; /* RenderKeaConfig's: an unchanged scope is not rendered again */
} data_plane_service;

static void
render_kea_config(Frep__V1__DataPlane_Service *service,
    const Frep__V1__RenderKeaConfigRequest    *input,
    Frep__V1__RenderKeaConfigResponse_Closure closure, void *closure_data)
{
	data_plane_service               *self  = (data_plane_service *) service;
	Frep__V1__RenderKeaConfigResponse reply = FREP__V1__RENDER_KEA_CONFIG_RESPONSE__INIT;
	kea_render_result                 r     = {0};
	json_t                           *base = NULL, *all = NULL;
	char                             *text = NULL;
	frep_status                       st;
	frep_code                         rc;

	if (input->with_base && self->base_path == NULL) {
		rpc_call_fail(closure_data, FREP_FAILED_PRECONDITION,
		    "with_base: frepd runs without --kea-base");
		closure(NULL, closure_data);
		return;
	}
	if ((rc = kea_render_cached(self->e, self->cache, &r, &st)) != FREP_OK ||
	    (input->with_base &&
		(rc = kea_render_load_base(self->base_path, &base, &st)) != FREP_OK)) {
		goto out;
	}
	all  = input->with_base ? kea_render_merge(base, r.dhcp4) : kea_render_wrap(r.dhcp4);
	text = all != NULL ? kea_render_dump(all, 1) : NULL;
	if (text == NULL) {
		rc = frep_status_set(&st, FREP_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	reply.json       = text;
	reply.warnings   = r.warnings;
	reply.n_warnings = r.n_warnings;
	reply.digest     = r.digest;
out:
	if (rc == FREP_OK) {
		closure(&reply, closure_data);
	} else {
		rpc_call_fail_status(closure_data, &st);
		closure(NULL, closure_data);
	}
	free(text);
	json_decref(all);
	json_decref(base);
	kea_render_result_fini(&r);
}

static void
get_kea_status(Frep__V1__DataPlane_Service *service, const Frep__V1__GetKeaStatusRequest *input,
    Frep__V1__KeaStatus_Closure closure, void *closure_data)
{
	data_plane_service *self  = (data_plane_service *) service;
	Frep__V1__KeaStatus reply = FREP__V1__KEA_STATUS__INIT;
	kea_push_status     s;

	(void) input;
	if (self->push == NULL) {
		closure(&reply, closure_data);
		return;
	}
	kea_push_get_status(self->push, &s);
	reply.enabled              = true;
	reply.socket_path          = (char *) kea_push_socket_path(self->push);
	reply.base_path            = (char *) kea_push_base_path(self->push);
	reply.last_pushed_digest   = s.last_pushed_digest;
	reply.last_push_unix_ms    = s.last_push_unix_ms;
	reply.last_error           = s.last_error;
	reply.last_error_unix_ms   = s.last_error_unix_ms;
	reply.consecutive_failures = s.consecutive_failures;
	reply.pushes               = s.pushes;
	reply.failures             = s.failures;
	reply.pending              = s.pending;
	reply.next_retry_unix_ms   = s.next_retry_unix_ms;
	reply.warnings             = s.warnings;
	reply.left_out_total       = s.left_out_total;
	Frep__V1__KeaLeftOut  lo[KEA_PUSH_LEFT_OUT_MAX];
	Frep__V1__KeaLeftOut *lop[KEA_PUSH_LEFT_OUT_MAX];
	for (uint32_t i = 0; i < s.n_left_out && i < KEA_PUSH_LEFT_OUT_MAX; i++) {
		frep__v1__kea_left_out__init(&lo[i]);
		lo[i].scope   = s.left_out[i].scope;
		lo[i].kind    = s.left_out[i].kind;
		lo[i].key     = s.left_out[i].key;
		lo[i].message = s.left_out[i].message;
		lop[i]        = &lo[i];
	}
	reply.n_left_out = s.n_left_out;
	reply.left_out   = lop;
	/* The digest of the worker's last rendering when nothing was committed
	 * since it began; else "" until the worker (woken by that commit) has
	 * rendered: a status never renders the configuration (pollers call it
	 * often, and a full rendering would compete with the push it waits
	 * for). The HA fields below are the exception, derived on each call. */
	if (!s.pending || s.rendered_current) {
		reply.current_digest = s.rendered_digest;
	}
	/* Kea's HA hook, on each call: which relationship is rendered and what
	 * could not be (kea_ha_render_named reads the relationships and the
	 * scope list from the store and builds the HA block alone, not the
	 * configuration; as the store is now, so ahead of Kea while a push is
	 * pending), then the state Kea reports: status-get on its control
	 * socket, waited for up to 2 s, so a status can take that long while
	 * Kea is busy (a config-set) or hung; a Kea that is not running fails
	 * at once (ha_error). Not cached by the push worker: the state is
	 * Kea's live one, and the name and warnings cost a few store reads. */
	frep_status       st;
	kea_render_result ha                       = {.dhcp4 = json_object()};
	char rel[ENGINE_RELATIONSHIP_NAME_MAX + 1] = "", state[64] = "", partner[64] = "",
						ha_error[600] = "";
	if (ha.dhcp4 != NULL &&
	    kea_ha_render_named(self->e, &ha, rel, sizeof(rel), &st) == FREP_OK && rel[0] != '\0') {
		frep_status     hst;
		engine_failover rel_now = {0};
		if (kea_push_ha_status(kea_push_socket_path(self->push), 2000, state, partner,
			sizeof(state), &hst) != FREP_OK) {
			frep_status e;
			frep_status_set(
			    &e, hst.code, "%s: %.500s", frep_code_name(hst.code), hst.message);
			snprintf(ha_error, sizeof(ha_error), "%s", e.message);
		} else if (engine_failover_get(self->e, rel, &rel_now, &hst) == FREP_OK &&
			   rel_now.kea_ha_url != NULL && rel_now.kea_ha_url[0] != '\0' &&
			   kea_ha_listener_probe(rel_now.kea_ha_url, 1000, &hst) != FREP_OK) {
			/* Kea runs HA (it has a state) but its partner cannot reach
			 * it: Kea 2.2 only logs a listener it could not bind, and its
			 * state stays "waiting" or "ready". */
			frep_status e;
			frep_status_set(&e, hst.code,
			    "%s: Kea reports HA state '%s', but the partner cannot reach it: "
			    "%.400s",
			    frep_code_name(hst.code), state, hst.message);
			snprintf(ha_error, sizeof(ha_error), "%s", e.message);
		}
		engine_failover_fini(&rel_now);
	}
	reply.ha_relationship  = rel;
	reply.ha_state         = state;
	reply.ha_partner_state = partner;
	reply.ha_error         = ha_error;
	reply.ha_warnings      = ha.warnings;
	reply.n_ha_warnings    = ha.n_warnings;
	closure(&reply, closure_data);
	kea_render_result_fini(&ha);
}

frep_code
data_plane_service_new(
    engine *e, kea_push *push, const char *base_path, ProtobufCService **out, frep_status *st)
{
	data_plane_service *self = calloc(1, sizeof(*self));
	if (self == NULL || (base_path != NULL && (self->base_path = strdup(base_path)) == NULL) ||
	    (self->cache = kea_render_cache_new()) == NULL) {
		if (self != NULL) {
			free(self->base_path);
		}
		free(self);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__V1__DataPlane_Service init = FREP__V1__DATA_PLANE__INIT();
	self->base                       = init;
	self->e                          = e;
	self->push                       = push;
	*out                             = &self->base.base;
	frep_status_clear(st);
	return FREP_OK;
}

void
data_plane_service_free(ProtobufCService *service)
{
	data_plane_service *self = (data_plane_service *) service;
	if (self == NULL) {
		return;
	}
	kea_render_cache_free(self->cache);
	free(self->base_path);
	free(self);
}

/* --- Health ------------------------------------------------------------- */

typedef struct dp_health {
	Frep__V1__Health_Service  base;
	Frep__V1__Health_Service *inner;
	kea_push                 *push;
} dp_health;

static void
dp_check(Frep__V1__Health_Service *service, const Frep__V1__HealthCheckRequest *input,
    Frep__V1__HealthCheckResponse_Closure closure, void *closure_data)
{
	dp_health *self = (dp_health *) service;
	if (strcmp(input->service, "frep.v1.DataPlane") != 0) {
		self->inner->check(self->inner, input, closure, closure_data);
		return;
	}
	Frep__V1__HealthCheckResponse out = FREP__V1__HEALTH_CHECK_RESPONSE__INIT;
	frep_status                   detail; /* the text: frep_status keeps it UTF-8 where cut */
	out.status = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	if (!rpc_server_serving(rpc_call_server(closure_data))) {
		out.status = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	} else if (self->push != NULL) {
		kea_push_status s;
		kea_push_get_status(self->push, &s);
		if (!s.attempted) {
			out.status = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__UNKNOWN;
		} else if (s.consecutive_failures > 0) {
			out.status = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
			frep_status_set(&detail, FREP_UNAVAILABLE, "the last push failed: %.400s",
			    s.last_error);
			out.detail = detail.message;
		} else if (s.left_out_total > 0) {
			/* Kea serves everything else: degraded, not down. */
			const kea_push_left_out *l = &s.left_out[0];
			out.status = FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__DEGRADED;
			frep_status_set(&detail, FREP_OK,
			    "%u object(s) left out of Kea's configuration: %s%s%s %s %s: %.200s",
			    s.left_out_total, l->scope[0] != '\0' ? "scope " : "server", l->scope,
			    "", l->kind, l->key, l->message);
			out.detail = detail.message;
		}
	}
	closure(&out, closure_data);
}

frep_code
data_plane_health_new(
    ProtobufCService *inner, kea_push *push, ProtobufCService **out, frep_status *st)
{
	dp_health *self = calloc(1, sizeof(*self));
	if (self == NULL) {
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	Frep__V1__Health_Service init = FREP__V1__HEALTH__INIT(dp_);
	self->base                    = init;
	self->inner                   = (Frep__V1__Health_Service *) inner;
	self->push                    = push;
	*out                          = &self->base.base;
	frep_status_clear(st);
	return FREP_OK;
}

void
data_plane_health_free(ProtobufCService *service)
{
	free(service);
}
