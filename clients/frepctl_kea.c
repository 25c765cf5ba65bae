/*
 * frepctl kea: the data plane (frep.v1.DataPlane). `kea render` prints the
 * configuration as Kea's Dhcp4 JSON (for those who deploy by file; the
 * warnings go to stderr); `kea status` shows how pushing it to a running
 * Kea goes (frepd --kea-socket).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frep/v1/data_plane.pb-c.h"
#include "frepctl_internal.h"

static const frepctl_flag render_flags[] = {
    {.name = "with-base", .help = "merged into frepd's --kea-base file: the whole configuration"},
    {.name = "quiet", .help = "do not print the warnings on stderr"},
    {0},
};

static int
cmd_kea_render(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__RenderKeaConfigRequest req = FREP__V1__RENDER_KEA_CONFIG_REQUEST__INIT;
	frep_status                      st;

	req.with_base                        = frepctl__arg_has(a, "with-base");
	Frep__V1__RenderKeaConfigResponse *r = (Frep__V1__RenderKeaConfigResponse *) frepctl__call(
	    ctl, &frep__v1__data_plane__descriptor, "RenderKeaConfig", &req.base, &st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	if (ctl->json || a->json) {
		frepctl__print_json(frepctl_json_from_message(&r->base, FREPCTL_JSON_SHORT_ENUMS));
	} else {
		fputs(r->json, stdout);
		if (!frepctl__arg_has(a, "quiet")) {
			for (size_t i = 0; i < r->n_warnings; i++) {
				fprintf(stderr, "warning: %s\n", r->warnings[i]);
			}
		}
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

static int
cmd_kea_status(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__GetKeaStatusRequest req = FREP__V1__GET_KEA_STATUS_REQUEST__INIT;
	frep_status                   st;
	int                           rc = 0;

	Frep__V1__KeaStatus *r = (Frep__V1__KeaStatus *) frepctl__call(
	    ctl, &frep__v1__data_plane__descriptor, "GetKeaStatus", &req.base, &st);
	if (r == NULL) {
		return frepctl__fail_status(&st);
	}
	json_t *j = frepctl_json_from_message(&r->base, FREPCTL_JSON_SHORT_ENUMS);
	if (ctl->json || a->json) {
		frepctl__print_json(j);
	} else if (!r->enabled) {
		printf("kea: not enabled (frepd runs without --kea-socket)\n");
		json_decref(j);
	} else {
		/* Times as people read them. */
		static const frepctl_column when[] = {
		    {.header = "LAST PUSH", .key = "last_push_unix_ms", .cell = FREPCTL_CELL_TIME},
		    {.header  = "LAST ERROR AT",
			.key  = "last_error_unix_ms",
			.cell = FREPCTL_CELL_TIME},
		    {.header  = "NEXT RETRY",
			.key  = "next_retry_unix_ms",
			.cell = FREPCTL_CELL_TIME},
		    {0},
		};
		frepctl_table_print_object(stdout, j, 0);
		json_t *rows = json_pack("[O]", j);
		printf("\n");
		frepctl_table_print(stdout, rows, when, 0);
		json_decref(rows);
		json_decref(j);
		for (size_t i = 0; i < r->n_left_out; i++) {
			const Frep__V1__KeaLeftOut *l = r->left_out[i];
			printf("%sleft out: %s%s %s %s: %s\n", i == 0 ? "\n" : "",
			    l->scope[0] != '\0' ? "scope " : "server", l->scope, l->kind, l->key,
			    l->message);
		}
		if (r->ha_relationship[0] != '\0') {
			printf("\nkea HA: relationship '%s': Kea reports %s (partner: %s)\n",
			    r->ha_relationship, r->ha_state[0] != '\0' ? r->ha_state : "no state",
			    r->ha_partner_state[0] != '\0' ? r->ha_partner_state : "unknown");
			if (r->ha_error[0] != '\0') {
				printf("kea HA: %s\n", r->ha_error);
			}
		}
		for (size_t i = 0; i < r->n_ha_warnings; i++) {
			printf("%skea HA warning: %s\n",
			    i == 0 && r->ha_relationship[0] == '\0' ? "\n" : "", r->ha_warnings[i]);
		}
		if (r->left_out_total > 0) {
			printf("kea: DEGRADED: %u object(s) Kea refuses left out; the rest is "
			       "pushed\n",
			    r->left_out_total);
		}
		printf("\n%s\n", r->consecutive_failures > 0
				     ? "kea: NOT in step (the last push failed)"
				 : r->pending ? "kea: a change is on its way"
				 : strcmp(r->last_pushed_digest, r->current_digest) == 0
				     ? "kea: in step"
				     : "kea: not yet pushed");
	}
	if (r->consecutive_failures > 0) {
		rc = FREPCTL_EXIT_FAILED;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

static const frepctl_command kea_sub[] = {
    {.name       = "render",
	.args    = "",
	.summary = "print the configuration as Kea Dhcp4 JSON (warnings on stderr)",
	.flags   = render_flags,
	.run     = cmd_kea_render},
    {.name       = "status",
	.args    = "",
	.summary = "how pushing to Kea goes (exit 1 while the last push failed)",
	.run     = cmd_kea_status},
    {0},
};

const frepctl_command frepctl__kea_commands[] = {
    {.name       = "kea",
	.summary = "the ISC Kea data plane: render the configuration, push status",
	.sub     = kea_sub},
    {0},
};
