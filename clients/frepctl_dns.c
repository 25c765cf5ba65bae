/*
 * frepctl dns: DNS dynamic-update settings (frep.v1.DhcpServer
 * SetDnsSetting / GetDnsSetting), as Set-DhcpServerv4DnsSetting /
 * Get-DhcpServerv4DnsSetting: of the server, a scope (--scope) or a
 * reservation (--scope and --reservation). `dns set` changes only the
 * fields given, starting from the setting in force there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frepctl_internal.h"

#define DNS_TARGET_FLAGS                                                                           \
	{.name = "scope", .arg = "SCOPE", .help = "a scope's setting (default: the server's)"},    \
	{                                                                                          \
		.name = "reservation", .arg = "IP",                                                \
		.help = "a reservation's setting (with --scope)"                                   \
	}

static const frepctl_flag get_flags[] = {DNS_TARGET_FLAGS, {0}};

static const frepctl_flag set_flags[] = {DNS_TARGET_FLAGS,
    {.name    = "dynamic-updates",
	.arg  = "WHEN",
	.help = "always, on-client-request or never (DynamicUpdates)"},
    {.name    = "delete-on-expiry",
	.arg  = "BOOL",
	.help = "delete A and PTR records when the lease expires (DeleteDnsRROnLeaseExpiry)"},
    {.name    = "update-older-clients",
	.arg  = "BOOL",
	.help = "register clients that do not ask (UpdateDnsRRForOlderClients)"},
    {.name = "name-protection", .arg = "BOOL", .help = "DHCID name protection (NameProtection)"},
    {.name    = "disable-ptr-update",
	.arg  = "BOOL",
	.help = "do not register PTR records (DisableDnsPtrRRUpdate)"},
    {0}};

static int
target_from_flags(const frepctl_args *a, Frep__V1__OptionTarget *t)
{
	const char *scope = frepctl__arg(a, "scope");
	const char *res   = frepctl__arg(a, "reservation");
	if (res != NULL && scope == NULL) {
		return frepctl__usage_error("%s: --reservation %s needs --scope", a->path, res);
	}
	t->scope_id    = scope != NULL ? (char *) scope : "";
	t->reserved_ip = res != NULL ? (char *) res : "";
	t->policy_name = "";
	return 0;
}

/* 0, or a usage error naming the flag and the value. */
static int
bool_flag(const frepctl_args *a, const char *name, protobuf_c_boolean *out)
{
	static const char *const yes[] = {"true", "yes", "on", NULL};
	static const char *const no[]  = {"false", "no", "off", NULL};
	const char              *v     = frepctl__arg(a, name);
	if (v == NULL) {
		return 0;
	}
	for (int i = 0; yes[i] != NULL; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return frepctl__usage_error(
	    "%s: --%s '%s' is not a boolean (true, false, yes, no, on, off)", a->path, name, v);
}

static int
print_setting(frepctl *ctl, const frepctl_args *a, Frep__V1__DnsSettingResponse *r)
{
	json_t *j = frepctl_json_from_message(&r->base, FREPCTL_JSON_SHORT_ENUMS);
	if (ctl->json || a->json) {
		frepctl__print_json(j);
	} else {
		json_t *flat = json_deep_copy(json_object_get(j, "setting"));
		if (flat == NULL) {
			flat = json_object();
		}
		json_object_set(flat, "source", json_object_get(j, "source"));
		frepctl_table_print_object(stdout, flat, 0);
		json_decref(flat);
		json_decref(j);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

static Frep__V1__DnsSettingResponse *
get_setting(frepctl *ctl, Frep__V1__OptionTarget *t, frep_status *st)
{
	Frep__V1__GetDnsSettingRequest req = FREP__V1__GET_DNS_SETTING_REQUEST__INIT;
	req.target                         = t;
	return (Frep__V1__DnsSettingResponse *) frepctl__call(
	    ctl, &frep__v1__dhcp_server__descriptor, "GetDnsSetting", &req.base, st);
}

static int
cmd_dns_get(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__OptionTarget t = FREP__V1__OPTION_TARGET__INIT;
	frep_status            st;
	int                    rc;
	if ((rc = target_from_flags(a, &t)) != 0) {
		return rc;
	}
	Frep__V1__DnsSettingResponse *r = get_setting(ctl, &t, &st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	return print_setting(ctl, a, r);
}

static int
cmd_dns_set(frepctl *ctl, const frepctl_args *a)
{
	static const struct {
		const char                 *name;
		Frep__V1__DnsDynamicUpdates value;
	} whens[] = {
	    {"always", FREP__V1__DNS_DYNAMIC_UPDATES__DNS_UPDATES_ALWAYS},
	    {"on-client-request", FREP__V1__DNS_DYNAMIC_UPDATES__DNS_UPDATES_ON_CLIENT_REQUEST},
	    {"onclientrequest", FREP__V1__DNS_DYNAMIC_UPDATES__DNS_UPDATES_ON_CLIENT_REQUEST},
	    {"never", FREP__V1__DNS_DYNAMIC_UPDATES__DNS_UPDATES_NEVER},
	};
	Frep__V1__OptionTarget         t   = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__SetDnsSettingRequest req = FREP__V1__SET_DNS_SETTING_REQUEST__INIT;
	Frep__V1__DnsSetting           s   = FREP__V1__DNS_SETTING__INIT;
	frep_status                    st;
	int                            rc;
	const char                    *when = frepctl__arg(a, "dynamic-updates");

	if ((rc = target_from_flags(a, &t)) != 0) {
		return rc;
	}
	/* Start from the setting in force here; the flags change fields. */
	Frep__V1__DnsSettingResponse *cur = get_setting(ctl, &t, &st);
	if (cur == NULL) {
		return frepctl__fail_status(&st);
	}
	if (cur->setting != NULL) {
		s.dynamic_updates                 = cur->setting->dynamic_updates;
		s.delete_dns_rr_on_lease_expiry   = cur->setting->delete_dns_rr_on_lease_expiry;
		s.update_dns_rr_for_older_clients = cur->setting->update_dns_rr_for_older_clients;
		s.name_protection                 = cur->setting->name_protection;
		s.disable_dns_ptr_rr_update       = cur->setting->disable_dns_ptr_rr_update;
	}
	protobuf_c_message_free_unpacked(&cur->base, NULL);
	if (when != NULL) {
		size_t i;
		for (i = 0; i < sizeof(whens) / sizeof(whens[0]); i++) {
			if (strcasecmp(when, whens[i].name) == 0) {
				s.dynamic_updates = whens[i].value;
				break;
			}
		}
		if (i == sizeof(whens) / sizeof(whens[0])) {
			return frepctl__usage_error(
			    "%s: --dynamic-updates '%s' is not always, on-client-request or never",
			    a->path, when);
		}
	}
	if ((rc = bool_flag(a, "delete-on-expiry", &s.delete_dns_rr_on_lease_expiry)) != 0 ||
	    (rc = bool_flag(a, "update-older-clients", &s.update_dns_rr_for_older_clients)) != 0 ||
	    (rc = bool_flag(a, "name-protection", &s.name_protection)) != 0 ||
	    (rc = bool_flag(a, "disable-ptr-update", &s.disable_dns_ptr_rr_update)) != 0) {
		return rc;
	}
	req.target                      = &t;
	req.setting                     = &s;
	Frep__V1__DnsSettingResponse *r = (Frep__V1__DnsSettingResponse *) frepctl__call(
	    ctl, &frep__v1__dhcp_server__descriptor, "SetDnsSetting", &req.base, &st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	return print_setting(ctl, a, r);
}

static const frepctl_command dns_sub[] = {
    {.name       = "get",
	.args    = "",
	.summary = "the DNS update setting in force (and where it comes from)",
	.flags   = get_flags,
	.run     = cmd_dns_get},
    {.name       = "set",
	.args    = "",
	.summary = "change DNS update settings (only the fields given)",
	.flags   = set_flags,
	.run     = cmd_dns_set},
    {0},
};

const frepctl_command frepctl__dns_commands[] = {
    {.name       = "dns",
	.summary = "DNS dynamic-update settings of the server, a scope or a reservation",
	.sub     = dns_sub},
    {0},
};
