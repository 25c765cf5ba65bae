/* DNS dynamic-update settings (Windows' Set-DhcpServerv4DnsSetting). Windows
 * keeps them as option 81's value at the server, a scope or a reservation:
 * a 4-byte flags word. frep keeps them the same way, so they are part of
 * the scope's snapshot and replicate with it; these calls read and write
 * them as named settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"

/* The flags of the value (Windows' DNS_FLAG_*). */
#define DNS_FLAG_ENABLED            0x01u
#define DNS_FLAG_UPDATE_DOWNLEVEL   0x02u
#define DNS_FLAG_CLEANUP_EXPIRED    0x04u
#define DNS_FLAG_UPDATE_BOTH_ALWAYS 0x10u
#define DNS_FLAG_UPDATE_DHCID       0x20u
#define DNS_FLAG_DISABLE_PTR_UPDATE 0x40u

/* Windows' default: updates on client request, records deleted on expiry. */
#define DNS_FLAGS_DEFAULT (DNS_FLAG_ENABLED | DNS_FLAG_CLEANUP_EXPIRED)

uint32_t
engine_dns_setting_flags(const engine_dns_setting *s)
{
	uint32_t f = 0;
	if (s->dynamic_updates != ENGINE_DNS_UPDATES_NEVER) {
		f |= DNS_FLAG_ENABLED;
	}
	if (s->dynamic_updates == ENGINE_DNS_UPDATES_ALWAYS) {
		f |= DNS_FLAG_UPDATE_BOTH_ALWAYS;
	}
	f |= s->delete_dns_rr_on_lease_expiry ? DNS_FLAG_CLEANUP_EXPIRED : 0;
	f |= s->update_dns_rr_for_older_clients ? DNS_FLAG_UPDATE_DOWNLEVEL : 0;
	f |= s->name_protection ? DNS_FLAG_UPDATE_DHCID : 0;
	f |= s->disable_dns_ptr_rr_update ? DNS_FLAG_DISABLE_PTR_UPDATE : 0;
	return f;
}

void
engine_dns_setting_from_flags(uint32_t f, engine_dns_setting *s)
{
	memset(s, 0, sizeof(*s));
	s->dynamic_updates                 = !(f & DNS_FLAG_ENABLED) ? ENGINE_DNS_UPDATES_NEVER
					     : (f & DNS_FLAG_UPDATE_BOTH_ALWAYS)
						 ? ENGINE_DNS_UPDATES_ALWAYS
						 : ENGINE_DNS_UPDATES_ON_CLIENT_REQUEST;
	s->delete_dns_rr_on_lease_expiry   = (f & DNS_FLAG_CLEANUP_EXPIRED) != 0;
	s->update_dns_rr_for_older_clients = (f & DNS_FLAG_UPDATE_DOWNLEVEL) != 0;
	s->name_protection                 = (f & DNS_FLAG_UPDATE_DHCID) != 0;
	s->disable_dns_ptr_rr_update       = (f & DNS_FLAG_DISABLE_PTR_UPDATE) != 0;
}

frep_code
engine_dns_setting_from_value(
    const engine_option_value *v, engine_dns_setting *out, frep_status *st)
{
	uint8_t b[8];
	size_t  n = 0;
	if (v == NULL || v->n_values != 1 ||
	    engine_hex_parse(engine__str(v->values[0]), "value", b, sizeof(b), &n, NULL) !=
		FREP_OK ||
	    n != 4) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "option 81 value '%.40s' is not DNS update settings (4 bytes)",
		    v != NULL && v->n_values > 0 ? engine__str(v->values[0]) : "");
	}
	engine_dns_setting_from_flags(
	    (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3], out);
	return FREP_OK;
}

const char *
engine_dns_updates_name(engine_dns_updates u)
{
	switch (u) {
	case ENGINE_DNS_UPDATES_ON_CLIENT_REQUEST:
		return "ON_CLIENT_REQUEST";
	case ENGINE_DNS_UPDATES_ALWAYS:
		return "ALWAYS";
	case ENGINE_DNS_UPDATES_NEVER:
		return "NEVER";
	default:
		return "UNSPECIFIED";
	}
}

frep_code
engine_dns_setting_set(
    engine *e, const engine_option_target *target, const engine_dns_setting *s, frep_status *st)
{
	char                text[16];
	char               *vals[] = {text};
	engine_option_value v      = {
		 .option_id = ENGINE_DNS_SETTING_OPTION, .values = vals, .n_values = 1};

	if (s == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT, "setting is NULL");
	}
	if (s->dynamic_updates < ENGINE_DNS_UPDATES_ON_CLIENT_REQUEST ||
	    s->dynamic_updates > ENGINE_DNS_UPDATES_NEVER) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "setting: dynamic_updates %d is not ON_CLIENT_REQUEST (1), ALWAYS (2) or "
		    "NEVER (3)",
		    (int) s->dynamic_updates);
	}
	snprintf(text, sizeof(text), "00-00-00-%02x", engine_dns_setting_flags(s) & 0xffu);
	return engine_option_value_set(e, target, &v, NULL, st);
}

frep_code
engine_dns_setting_get(engine *e, const engine_option_target *target, engine_dns_setting *out,
    engine_dns_source *source, frep_status *st)
{
	static const engine_option_target server = {0};
	engine_option_target              levels[3];
	size_t                            n = 0;
	frep_code                         rc;

	memset(out, 0, sizeof(*out));
	if (target == NULL) {
		target = &server;
	}
	if (target->policy_name != NULL && target->policy_name[0] != '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "target: policy_name '%s': DNS settings belong to the server, a scope or a "
		    "reservation",
		    target->policy_name);
	}
	/* Most specific first: the reservation, its scope, the server. */
	if (target->reserved_ip != 0) {
		levels[n++] = *target;
	}
	if (target->scope_id != 0) {
		levels[n++] = (engine_option_target){.scope_id = target->scope_id};
	}
	levels[n++] = server;
	for (size_t i = 0; i < n; i++) {
		engine_option_value v = {0};
		rc                    = engine_option_value_get(
				       e, &levels[i], ENGINE_DNS_SETTING_OPTION, "", "", &v, st);
		if (rc == FREP_NOT_FOUND && strstr(st->message, "option value") != NULL) {
			continue; /* none at this level (an unknown target fails) */
		}
		if (rc != FREP_OK) {
			return rc;
		}
		rc = engine_dns_setting_from_value(&v, out, st);
		engine_option_value_fini(&v);
		if (rc != FREP_OK) {
			return rc;
		}
		if (source != NULL) {
			*source = levels[i].reserved_ip != 0 ? ENGINE_DNS_SOURCE_RESERVATION
				  : levels[i].scope_id != 0  ? ENGINE_DNS_SOURCE_SCOPE
							     : ENGINE_DNS_SOURCE_SERVER;
		}
		frep_status_clear(st);
		return FREP_OK;
	}
	engine_dns_setting_from_flags(DNS_FLAGS_DEFAULT, out);
	if (source != NULL) {
		*source = ENGINE_DNS_SOURCE_DEFAULT;
	}
	frep_status_clear(st);
	return FREP_OK;
}
