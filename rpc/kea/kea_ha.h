/*
 * kea_ha: a failover relationship rendered as Kea's High Availability hook
 * (kea-dhcp4 2.2's libdhcp_ha.so with libdhcp_lease_cmds.so), mirrored on
 * both servers: this server's name, the mode, both peers with their HA
 * URLs and roles, the timers the relationship has a counterpart for.
 * docs/KEA.md ("High availability") has the mapping table; in short:
 *  - peer name = its HA URL's IPV4:PORT (each side knows both URLs, so
 *    both render the same two peers);
 *  - hot standby: ACTIVE -> "primary", STANDBY -> "standby"; load balance:
 *    frep's role does not tell the two servers apart (both are active, as
 *    on Windows), so the peer whose URL sorts first is "primary";
 *  - auto_state_transition -> each peer's auto-failover; with it, a
 *    state_switch_interval_s of N -> max-response-delay N s with
 *    max-unacked-clients 0 (partner-down on the timer alone, as Windows'
 *    state switch), heartbeat-delay N/2 s (at most Kea's 10 s); N above
 *    65 s is rendered as Kea 2.2's longest, 65535 ms, with a warning;
 *  - HA traffic on Kea's own listener (multi-threading with
 *    http-dedicated-listener), so no kea-ctrl-agent is needed.
 * What Kea 2.2 cannot express is a warning: a load-balance percent other
 * than 50, MCLT, a standby's reserve percent, a second relationship (Kea
 * 2.2 runs one HA relationship per server: the first by name is
 * rendered), a relationship whose HA URLs are not both known.
 *
 * Thread-safe (no shared state). JSON with libjansson.
 */
#ifndef FREP_RPC_KEA_KEA_HA_H
#define FREP_RPC_KEA_KEA_HA_H

#include <jansson.h>

#include "engine.h"
#include "frep_status.h"
#include "kea_result.h"

/* The directory of Kea's hook libraries (CMake's FREP_KEA_HOOKS_DIR). */
extern const char kea_ha_hooks_dir[];

/* Renders e's failover relationships into out: sets out->dhcp4's
 * "hooks-libraries" (lease_cmds and ha) when one is rendered, and appends
 * a warning to out for each thing Kea cannot express. Statuses: the
 * engine's, RESOURCE_EXHAUSTED; out keeps what it had on error (the caller
 * releases it). */
frep_code kea_ha_render(engine *e, kea_render_result *out, frep_status *st);

/* kea_ha_render, also writing the name of the relationship rendered into
 * rendered_name (cap bytes; "" when none is). */
frep_code kea_ha_render_named(
    engine *e, kea_render_result *out, char *rendered_name, size_t cap, frep_status *st);

/* The HA hook block (the one "high-availability" entry) for rel as seen
 * from this server, appending warnings to out (may be NULL: none kept).
 * A new reference, or NULL when rel cannot be rendered (its reason is a
 * warning) or out of memory (*oom set). */
json_t *kea_ha_block(const engine_failover *rel, kea_render_result *out, bool *oom);

/* Asks the Kea HA listener at url (http://IPV4:PORT/, as
 * engine_ha_url_check takes it) for an ha-heartbeat, as its partner does,
 * waiting up to timeout_ms (a refused connection is tried once more 200 ms
 * later, as Kea re-creates the listener at each config-set: then up to
 * twice that and 200 ms). FREP_OK if it answers as Kea does
 * (HTTP 200 with a JSON list whose first element has an integer
 * "result", whatever its value); else UNAVAILABLE saying what happened:
 * the connection refused (nothing listens: Kea could not bind the port),
 * no answer in time, or an answer that is not Kea's (another process holds
 * the port). INVALID_ARGUMENT for a URL not of that form (as
 * engine_ha_url_parse says). */
frep_code kea_ha_listener_probe(const char *url, unsigned timeout_ms, frep_status *st);

/* Merges the rendered hooks into merged (a Dhcp4 object, base's copy):
 * hooks-libraries = frep's (when rendered) then base_dhcp4's other hooks
 * (any lease_cmds or ha entry of the base dropped: frep's replaces it);
 * when frep renders HA, Dhcp4 multi-threading is enabled whatever the
 * base says (HA's own listener needs it; the base's other
 * multi-threading keys stay). 0, or -1 when out of memory. */
int kea_ha_merge(json_t *merged, const json_t *base_dhcp4, const json_t *rendered);

/* Whether a push of rendered over base needs a second config-set: frep
 * renders HA and base's Dhcp4 does not enable multi-threading (Kea loads
 * hooks before it applies multi-threading, so the first config-set leaves
 * the HA hook without its own listener). */
bool kea_ha_needs_second_set(const json_t *base, const json_t *rendered);

#endif /* FREP_RPC_KEA_KEA_HA_H */
