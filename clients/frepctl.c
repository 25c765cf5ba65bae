/*
 * frepctl: the command-line client of frepd, on the shipped C client and
 * the generated stubs. Tables for people, --json for programs. On failure
 * it prints "frepctl: <STATUS_NAME>: <message>" and exits 1; a bad command
 * line exits 2. This file holds the global options, the command tree and
 * its parser, health and describe; frepctl_dhcp.c the DhcpServer commands.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "frep_secret_file.h"
#include "frepctl_internal.h"
#include "google/protobuf/descriptor.pb-c.h"

#define EXIT_FAILED FREPCTL_EXIT_FAILED
#define EXIT_USAGE  FREPCTL_EXIT_USAGE

/* resolve() found help to print: exit 0 without running anything. */
#define RESOLVED_HELP (-1)
/* resolve() found a leaf to run. */
#define RESOLVED_RUN (-2)

/* --- output helpers ------------------------------------------------------- */

/* With --json, errors are JSON on stderr too (set once the command line
 * is parsed). */
static bool json_errors;

int
frepctl__exit_code(frep_code code)
{
	switch (code) {
	case FREP_OK:
		return 0;
	case FREP_NOT_FOUND:
		return FREPCTL_EXIT_NOT_FOUND;
	case FREP_UNAVAILABLE:
	case FREP_DEADLINE_EXCEEDED:
		return FREPCTL_EXIT_UNAVAILABLE;
	case FREP_UNAUTHENTICATED:
	case FREP_PERMISSION_DENIED:
		return FREPCTL_EXIT_DENIED;
	default:
		return EXIT_FAILED;
	}
}

int
frepctl__fail_status(const frep_status *st)
{
	if (json_errors) {
		json_t *j = json_pack(
		    "{s:s, s:s}", "code", frep_code_name(st->code), "message", st->message);
		char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		fprintf(stderr, "%s\n", s != NULL ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		fprintf(stderr, "frepctl: %s: %s\n", frep_code_name(st->code), st->message);
	}
	return frepctl__exit_code(st->code);
}

int
frepctl__confirm(const frepctl_args *a, bool skip, const char *question)
{
	char line[32];
	if (skip) {
		return 0;
	}
	if (!isatty(STDIN_FILENO)) {
		return frepctl__usage_error(
		    "%s cannot be undone: not on a terminal, so confirm with --yes", a->path);
	}
	fprintf(stderr, "%s [y/N] ", question);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (strcasecmp(line, "y\n") != 0 && strcasecmp(line, "yes\n") != 0)) {
		fprintf(stderr, "frepctl: not confirmed; nothing changed\n");
		return FREPCTL_EXIT_FAILED;
	}
	return 0;
}

int
frepctl__usage_error(const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_errors) {
		json_t *j = json_pack("{s:s, s:s}", "code", "INVALID_ARGUMENT", "message", msg);
		char   *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		fprintf(stderr, "%s\n", s != NULL ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		fprintf(stderr, "frepctl: INVALID_ARGUMENT: %s (see --help)\n", msg);
	}
	return EXIT_USAGE;
}

/* A deadline: plain milliseconds, or a number with a unit: 500ms, 5s, 2m,
 * 1h. 0 and -1 on error. */
static int
parse_deadline_ms(const char *text, uint32_t *out)
{
	char              *end = NULL;
	unsigned long long v;
	if (text[0] < '0' || text[0] > '9') {
		return -1;
	}
	errno = 0;
	v     = strtoull(text, &end, 10);
	if (errno != 0) {
		return -1;
	}
	static const struct {
		const char *unit;
		unsigned    ms;
	} units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
	for (size_t i = 0; units[i].unit != NULL; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v == 0 || v > 3600000ull / units[i].ms) {
				return -1;
			}
			*out = (uint32_t) (v * units[i].ms);
			return 0;
		}
	}
	return -1;
}

void
frepctl__print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

/* Connects on first use, so --help never needs a server. */
static frep_client *
client(frepctl *ctl, frep_status *st)
{
	if (ctl->client == NULL &&
	    frep_client_open(ctl->server, &ctl->copts, &ctl->client, st) != FREP_OK) {
		return NULL;
	}
	return ctl->client;
}

ProtobufCMessage *
frepctl__call(frepctl *ctl, const ProtobufCServiceDescriptor *sd, const char *method,
    const ProtobufCMessage *input, frep_status *st)
{
	frep_client *c = client(ctl, st);
	if (c == NULL) {
		return NULL;
	}
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(sd, method);
	char              path[256];
	ProtobufCMessage *out = NULL;
	if (m == NULL) {
		frep_status_set(
		    st, FREP_INTERNAL, "frepctl knows no method %s.%s", sd->name, method);
		return NULL;
	}
	snprintf(path, sizeof(path), "/%s/%s", sd->name, method);
	if (frep_client_call(c, path, input, m->output, &out, NULL, st) != FREP_OK) {
		return NULL;
	}
	return out;
}

/* --- parsed arguments ---------------------------------------------------- */

static int
flag_index(const frepctl_command *cmd, const char *name, size_t len)
{
	for (int i = 0; cmd->flags != NULL && cmd->flags[i].name != NULL; i++) {
		if (strlen(cmd->flags[i].name) == len &&
		    strncmp(cmd->flags[i].name, name, len) == 0) {
			return i;
		}
	}
	return -1;
}

const char *
frepctl__arg(const frepctl_args *a, const char *name)
{
	int i = flag_index(a->cmd, name, strlen(name));
	return i >= 0 && a->nval[i] > 0 ? a->val[i][a->nval[i] - 1] : NULL;
}

size_t
frepctl__arg_all(const frepctl_args *a, const char *name, const char *const **vals)
{
	int i = flag_index(a->cmd, name, strlen(name));
	if (i < 0) {
		*vals = NULL;
		return 0;
	}
	*vals = a->val[i];
	return a->nval[i];
}

bool
frepctl__arg_has(const frepctl_args *a, const char *name)
{
	int i = flag_index(a->cmd, name, strlen(name));
	return i >= 0 && a->nval[i] > 0;
}

/* --- health --------------------------------------------------------------- */

typedef struct health_answer {
	int  status;
	char detail[512];
} health_answer;

static void
health_closure(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	health_answer *h = data;
	h->status        = msg != NULL ? (int) msg->status : -1;
	snprintf(h->detail, sizeof(h->detail), "%s",
	    msg != NULL && msg->detail != NULL ? msg->detail : "");
}

static int
cmd_health(frepctl *ctl, const frepctl_args *a)
{
	frep_status  st;
	frep_client *c = client(ctl, &st);
	if (c == NULL) {
		return frepctl__fail_status(&st);
	}
	/* Through the generated stub, as any C program would call it. */
	ProtobufCService            *svc = frep_client_service(c, &frep__v1__health__descriptor);
	Frep__V1__HealthCheckRequest req = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	health_answer                h   = {.status = -1};
	req.service                      = a->npos == 1 ? (char *) a->pos[0] : "";
	frep__v1__health__check(svc, &req, health_closure, &h);
	int status = h.status;
	if (status < 0) {
		frep_client_last_status(c, &st);
		if (ctl->json) {
			frepctl__print_json(json_pack(
			    "{s:s, s:s}", "code", frep_code_name(st.code), "message", st.message));
		}
		return frepctl__fail_status(&st);
	}
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
	    &frep__v1__health_check_response__serving_status__descriptor, status);
	const char *name = ev != NULL ? ev->name : "UNKNOWN";
	if (ctl->json) {
		frepctl__print_json(json_pack(
		    "{s:s, s:s, s:s}", "service", req.service, "status", name, "detail", h.detail));
	} else if (h.detail[0] != '\0') {
		printf("%s: %s\n", name, h.detail);
	} else {
		puts(name);
	}
	return status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0 : EXIT_FAILED;
}

/* --- describe ------------------------------------------------------------- */

static const char *
short_type(const char *t)
{
	const char *dot = strrchr(t, '.');
	return dot != NULL ? dot + 1 : t;
}

static int
cmd_describe(frepctl *ctl, const frepctl_args *a)
{
	frep_status st;
	(void) a;
	Frep__Rpc__V1__GetServerInfoRequest    ireq = FREP__RPC__V1__GET_SERVER_INFO_REQUEST__INIT;
	Frep__Rpc__V1__GetDescriptorSetRequest dreq =
	    FREP__RPC__V1__GET_DESCRIPTOR_SET_REQUEST__INIT;
	Frep__Rpc__V1__ServerInfo *info = (Frep__Rpc__V1__ServerInfo *) frepctl__call(
	    ctl, &frep__rpc__v1__introspection__descriptor, "GetServerInfo", &ireq.base, &st);
	if (info == NULL) {
		return frepctl__fail_status(&st);
	}
	Frep__Rpc__V1__DescriptorSet *ds = (Frep__Rpc__V1__DescriptorSet *) frepctl__call(
	    ctl, &frep__rpc__v1__introspection__descriptor, "GetDescriptorSet", &dreq.base, &st);
	if (ds == NULL) {
		protobuf_c_message_free_unpacked(&info->base, NULL);
		return frepctl__fail_status(&st);
	}
	Google__Protobuf__FileDescriptorSet *fds = google__protobuf__file_descriptor_set__unpack(
	    NULL, ds->file_descriptor_set.len, ds->file_descriptor_set.data);
	if (fds == NULL) {
		frep_status_set(&st, FREP_DATA_LOSS,
		    "the server's descriptor set (%zu bytes) does not decode",
		    ds->file_descriptor_set.len);
		protobuf_c_message_free_unpacked(&info->base, NULL);
		protobuf_c_message_free_unpacked(&ds->base, NULL);
		return frepctl__fail_status(&st);
	}

	json_t *jservices = json_array();
	if (!ctl->json) {
		printf("server:            %s\n", info->version);
		printf("max message bytes: %llu\n", (unsigned long long) info->max_message_bytes);
		printf("worker threads:    %u\n", info->worker_threads);
		printf("served:           ");
		for (size_t i = 0; i < info->n_services; i++) {
			printf(" %s", info->services[i]);
		}
		printf("\n");
	}
	for (size_t f = 0; f < fds->n_file; f++) {
		Google__Protobuf__FileDescriptorProto *file = fds->file[f];
		for (size_t s = 0; s < file->n_service; s++) {
			Google__Protobuf__ServiceDescriptorProto *svc = file->service[s];
			char                                      full[256];
			snprintf(full, sizeof(full), "%s%s%s",
			    file->package != NULL ? file->package : "",
			    file->package != NULL ? "." : "", svc->name);
			bool served = false;
			for (size_t i = 0; i < info->n_services; i++) {
				served = served || strcmp(info->services[i], full) == 0;
			}
			json_t *jmethods = json_array();
			if (!ctl->json) {
				printf("\nservice %s%s  (%s)\n", full,
				    served ? "" : " [not served]", file->name);
			}
			for (size_t m = 0; m < svc->n_method; m++) {
				Google__Protobuf__MethodDescriptorProto *md = svc->method[m];
				if (ctl->json) {
					json_array_append_new(jmethods,
					    json_pack("{s:s, s:s, s:s, s:s}", "name", md->name,
						"path", "", "input", md->input_type, "output",
						md->output_type));
					char path[512];
					snprintf(path, sizeof(path), "/%s/%s", full, md->name);
					json_object_set_new(
					    json_array_get(jmethods, json_array_size(jmethods) - 1),
					    "path", json_string(path));
				} else {
					printf("  /%s/%s(%s) returns (%s)\n", full, md->name,
					    short_type(md->input_type),
					    short_type(md->output_type));
				}
			}
			if (ctl->json) {
				json_array_append_new(jservices,
				    json_pack("{s:s, s:s, s:b, s:o}", "name", full, "file",
					file->name, "served", served, "methods", jmethods));
			} else {
				json_decref(jmethods);
			}
		}
	}
	if (ctl->json) {
		json_t *jnames = json_array();
		for (size_t i = 0; i < info->n_services; i++) {
			json_array_append_new(jnames, json_string(info->services[i]));
		}
		frepctl__print_json(json_pack("{s:s, s:I, s:i, s:o, s:o}", "version", info->version,
		    "max_message_bytes", (json_int_t) info->max_message_bytes, "worker_threads",
		    (int) info->worker_threads, "served", jnames, "services", jservices));
	} else {
		json_decref(jservices);
	}
	google__protobuf__file_descriptor_set__free_unpacked(fds, NULL);
	protobuf_c_message_free_unpacked(&info->base, NULL);
	protobuf_c_message_free_unpacked(&ds->base, NULL);
	return 0;
}

/* --- the command tree ------------------------------------------------------ */

static const frepctl_command base_commands[] = {
    {.name        = "health",
	.args     = "[SERVICE]",
	.summary  = "check that the server (or one of its services) is SERVING",
	.max_args = 1,
	.run      = cmd_health},
    {.name       = "describe",
	.args    = "",
	.summary = "list the server's limits, services and methods (from its descriptors)",
	.run     = cmd_describe},
    {0},
};

/* The top level: frepctl's own commands, then the DhcpServer groups. */
static const frepctl_command *const top_tables[] = {base_commands, frepctl__dhcp_commands,
    frepctl__replicate_commands, frepctl__kea_commands, frepctl__dns_commands,
    frepctl__call_commands, NULL};

static void
print_rows(FILE *out, const frepctl_command *table)
{
	for (const frepctl_command *c = table; c->name != NULL; c++) {
		const char *args = c->args != NULL ? c->args : "";
		/* A long synopsis gets its own line rather than a ragged column. */
		if (strlen(args) > 30) {
			fprintf(out, "  %-12s %s\n  %-12s %-30s %s\n", c->name, args, "", "",
			    c->summary);
		} else {
			fprintf(out, "  %-12s %-30s %s\n", c->name, args, c->summary);
		}
	}
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: frepctl [options] COMMAND [ARGS]\n"
		     "\n"
		     "options:\n"
		     "  --server URL        frepd to talk to (default $FREP_SERVER or "
		     "tcp://127.0.0.1:6470)\n"
		     "  --token-file FILE   admin bearer token (default $FREP_TOKEN_FILE)\n"
		     "  --timeout T         per-call deadline: ms, or 500ms, 5s, 2m (default 30s)\n"
		     "  --wait              wait for the server up to the deadline (default: fail\n"
		     "                      at once with UNAVAILABLE when nothing listens)\n"
		     "  --json              machine-readable output: the full response as JSON\n"
		     "  --tls-ca FILE       CA to verify a tls+tcp:// server\n"
		     "  --tls-cert FILE     client certificate; --tls-key FILE its key\n"
		     "  --tls-server-name N name the server's certificate must carry (default:\n"
		     "                      the --server URL's host, unless an IP address)\n"
		     "  --help, --version\n"
		     "\n"
		     "commands (\"frepctl COMMAND --help\" for each):\n");
	for (size_t t = 0; top_tables[t] != NULL; t++) {
		print_rows(out, top_tables[t]);
	}
	fprintf(out,
	    "\nGlobal options may also follow the command. On failure frepctl prints\n"
	    "\"frepctl: STATUS: message\" (with --json: {\"code\": ..., \"message\": ...}) on\n"
	    "stderr and exits 1; 2 for a bad command line, 3 NOT_FOUND, 4 UNAVAILABLE or\n"
	    "DEADLINE_EXCEEDED, 5 UNAUTHENTICATED or PERMISSION_DENIED.\n");
}

static void
group_help(FILE *out, const frepctl_command *g, const char *path)
{
	fprintf(out, "usage: frepctl [options] %s COMMAND [ARGS]\n\n%s\n\ncommands:\n", path,
	    g->summary);
	print_rows(out, g->sub);
	fprintf(out, "\n\"frepctl %s COMMAND --help\" describes each.\n", path);
}

static void
leaf_help(FILE *out, const frepctl_command *c, const char *path)
{
	bool has_flags = c->flags != NULL && c->flags[0].name != NULL;
	fprintf(out, "usage: frepctl [options] %s%s%s%s\n\n%s\n", path,
	    c->args != NULL && *c->args ? " " : "", c->args != NULL ? c->args : "",
	    has_flags ? " [flags]" : "", c->summary);
	if (has_flags) {
		fprintf(out, "\nflags:\n");
		for (const frepctl_flag *f = c->flags; f->name != NULL; f++) {
			char left[64];
			snprintf(left, sizeof(left), "--%s%s%s", f->name, f->arg != NULL ? " " : "",
			    f->arg != NULL ? f->arg : "");
			const char *rep = f->repeat ? " (repeatable)" : "";
			/* A long flag gets its help on the next line, keeping one column. */
			if (strlen(left) > 28) {
				fprintf(out, "  %s\n  %-28s %s%s\n", left, "", f->help, rep);
			} else {
				fprintf(out, "  %-28s %s%s\n", left, f->help, rep);
			}
		}
	}
}

/* Every command's help, groups before their commands, depth first, each
 * starting with its "usage:" line: the COMMANDS section of frepctl(8)
 * (the hidden --help-tree; man/CMakeLists.txt). */
static void
help_tree(FILE *out, const frepctl_command *table, const char *path)
{
	for (const frepctl_command *c = table; c->name != NULL; c++) {
		char sub[128];
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? " " : "", c->name);
		fputc('\n', out);
		if (c->sub != NULL) {
			group_help(out, c, sub);
			help_tree(out, c->sub, sub);
		} else {
			leaf_help(out, c, sub);
		}
	}
}

/* Parses a leaf's arguments (argv after its name) against its flag table:
 * "--flag VALUE", "--flag=VALUE", switches, "--" ending the flags, anything
 * else positional. RESOLVED_HELP for --help, EXIT_USAGE after printing why. */
static int
parse_leaf(const frepctl_command *cmd, const char *path, int argc, char **argv, frepctl_args *a)
{
	bool flags_done = false;
	memset(a, 0, sizeof(*a));
	a->cmd  = cmd;
	a->path = path;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!flags_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			leaf_help(stdout, cmd, path);
			return RESOLVED_HELP;
		}
		/* The global --json is also taken after the command, where
		 * operators tend to type it. */
		if (!flags_done && strcmp(arg, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (!flags_done && strcmp(arg, "--wait") == 0) {
			a->g_wait = true;
			continue;
		}
		/* The other global options too, unless the command has a flag of
		 * that name: "frepctl scope list --server URL" works. */
		if (!flags_done && strncmp(arg, "--", 2) == 0) {
			static const char *const globals[] = {"server", "token-file", "timeout",
			    "tls-ca", "tls-cert", "tls-key", "tls-server-name", NULL};
			const char              *gname     = arg + 2;
			const char              *geq       = strchr(gname, '=');
			size_t glen = geq != NULL ? (size_t) (geq - gname) : strlen(gname);
			int    g    = -1;
			for (int k = 0; globals[k] != NULL && flag_index(cmd, gname, glen) < 0;
			     k++) {
				if (strlen(globals[k]) == glen &&
				    strncmp(globals[k], gname, glen) == 0) {
					g = k;
				}
			}
			if (g >= 0) {
				const char *v = geq != NULL    ? geq + 1
						: i + 1 < argc ? argv[++i]
							       : NULL;
				if (v == NULL) {
					return frepctl__usage_error(
					    "%s: --%s needs a value", path, globals[g]);
				}
				const char **slot[] = {&a->g_server, &a->g_token_file,
				    &a->g_timeout, &a->g_tls_ca, &a->g_tls_cert, &a->g_tls_key,
				    &a->g_tls_server_name};
				*slot[g]            = v;
				continue;
			}
		}
		if (!flags_done && strcmp(arg, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (flags_done || strncmp(arg, "--", 2) != 0) {
			if (a->npos >= FREPCTL_MAX_ARGS) {
				return frepctl__usage_error(
				    "%s: too many arguments at \"%s\"", path, arg);
			}
			a->pos[a->npos++] = arg;
			continue;
		}
		const char *name = arg + 2;
		const char *eq   = strchr(name, '=');
		size_t      len  = eq != NULL ? (size_t) (eq - name) : strlen(name);
		int         fi   = flag_index(cmd, name, len);
		if (fi < 0) {
			return frepctl__usage_error("%s: unknown flag \"%s\"", path, arg);
		}
		const frepctl_flag *f     = &cmd->flags[fi];
		const char         *value = "";
		if (f->arg == NULL) {
			if (eq != NULL) {
				return frepctl__usage_error(
				    "%s: --%s takes no value, got \"%s\"", path, f->name, eq + 1);
			}
		} else if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return frepctl__usage_error(
			    "%s: --%s needs a value (%s)", path, f->name, f->arg);
		}
		if (a->nval[fi] > 0 && !f->repeat) {
			return frepctl__usage_error(
			    "%s: --%s given twice (\"%s\")", path, f->name, value);
		}
		if (a->val[fi] == NULL &&
		    (a->val[fi] = calloc((size_t) argc + 1, sizeof(*a->val[fi]))) == NULL) {
			return frepctl__usage_error("%s: out of memory", path);
		}
		a->val[fi][a->nval[fi]++] = value;
	}
	if (a->npos < cmd->min_args) {
		return frepctl__usage_error(
		    "%s: missing argument: %s %s", path, path, cmd->args != NULL ? cmd->args : "");
	}
	if (a->npos > cmd->max_args) {
		return frepctl__usage_error(
		    "%s: unexpected argument \"%s\"", path, a->pos[cmd->max_args]);
	}
	return RESOLVED_RUN;
}

static const frepctl_command *
find_row(const frepctl_command *table, const char *name)
{
	for (const frepctl_command *c = table; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

/* Walks the command tree along argv (argv[0] is a word of the given table,
 * or of the top tables when table is NULL) down to a leaf, printing help
 * where asked. RESOLVED_RUN with *a filled, RESOLVED_HELP, or EXIT_USAGE. */
static int
resolve(const frepctl_command *table, char *path, size_t path_size, int argc, char **argv,
    frepctl_args *a)
{
	const frepctl_command *row = NULL;
	size_t                 n   = strlen(path);
	if (table == NULL) {
		for (size_t t = 0; top_tables[t] != NULL && row == NULL; t++) {
			row = find_row(top_tables[t], argv[0]);
		}
	} else {
		row = find_row(table, argv[0]);
	}
	if (row == NULL) {
		return frepctl__usage_error(
		    "unknown command \"%s%s%s\"", path, n > 0 ? " " : "", argv[0]);
	}
	snprintf(path + n, path_size - n, "%s%s", n > 0 ? " " : "", row->name);
	if (row->sub == NULL) {
		return parse_leaf(row, path, argc - 1, argv + 1, a);
	}
	if (argc < 2) {
		group_help(stderr, row, path);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		group_help(stdout, row, path);
		return RESOLVED_HELP;
	}
	return resolve(row->sub, path, path_size, argc - 1, argv + 1, a);
}

static int
read_token_file(const char *path, char **out)
{
	frep_secret_file_warn_if_open(stderr, "frepctl", "--token-file", path);
	return frep_secret_file_read_token(stderr, "frepctl", path, out) == 0 ? 0 : EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_SERVER = 256,
		OPT_TOKEN,
		OPT_TIMEOUT,
		OPT_JSON,
		OPT_CA,
		OPT_CERT,
		OPT_KEY,
		OPT_SERVER_NAME,
		OPT_WAIT,
		OPT_HELP,
		OPT_HELP_TREE,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {.name = "server", .has_arg = required_argument, .val = OPT_SERVER},
	    {.name = "token-file", .has_arg = required_argument, .val = OPT_TOKEN},
	    {.name = "timeout", .has_arg = required_argument, .val = OPT_TIMEOUT},
	    {.name = "json", .has_arg = no_argument, .val = OPT_JSON},
	    {.name = "tls-ca", .has_arg = required_argument, .val = OPT_CA},
	    {.name = "tls-cert", .has_arg = required_argument, .val = OPT_CERT},
	    {.name = "tls-key", .has_arg = required_argument, .val = OPT_KEY},
	    {.name = "tls-server-name", .has_arg = required_argument, .val = OPT_SERVER_NAME},
	    {.name = "wait", .has_arg = no_argument, .val = OPT_WAIT},
	    {.name = "help", .has_arg = no_argument, .val = OPT_HELP},
	    {.name = "help-tree", .has_arg = no_argument, .val = OPT_HELP_TREE},
	    {.name = "version", .has_arg = no_argument, .val = OPT_VERSION},
	    {0},
	};
	frepctl     ctl        = {0};
	const char *token_file = getenv("FREP_TOKEN_FILE");
	int         c, rc;

	/* frep's strings are UTF-8 (proto3): tables measure them by display
	 * width in the caller's locale, or in C.UTF-8 when that is not UTF-8
	 * (a plain C locale would print \xNN escapes). */
	setlocale(LC_CTYPE, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
		setlocale(LC_CTYPE, "C.UTF-8");
	}
	ctl.server = getenv("FREP_SERVER") != NULL ? getenv("FREP_SERVER") : "tcp://127.0.0.1:6470";
	opterr     = 0;
	/* --json anywhere makes even a bad command line's error JSON. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		json_errors = json_errors || strcmp(argv[i], "--json") == 0;
	}
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			ctl.server = optarg;
			break;
		case OPT_TOKEN:
			token_file = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_deadline_ms(optarg, &ctl.copts.timeout_ms) != 0) {
				return frepctl__usage_error("--timeout \"%s\" is not a deadline of "
							    "1 ms to 1 h (5000, 500ms, "
							    "5s, 2m)",
				    optarg);
			}
			break;
		case OPT_JSON:
			ctl.json = true;
			break;
		case OPT_CA:
			ctl.copts.tls_ca_file = optarg;
			break;
		case OPT_CERT:
			ctl.copts.tls_cert_file = optarg;
			break;
		case OPT_KEY:
			ctl.copts.tls_key_file = optarg;
			break;
		case OPT_SERVER_NAME:
			ctl.copts.tls_server_name = optarg;
			break;
		case OPT_WAIT:
			ctl.copts.wait_for_ready = true;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_HELP_TREE:
			/* Not in --help: it feeds the man page (man/CMakeLists.txt). */
			for (size_t t = 0; top_tables[t] != NULL; t++) {
				help_tree(stdout, top_tables[t], "");
			}
			return 0;
		case OPT_VERSION:
			printf("frepctl %s\n", FREP_VERSION);
			return 0;
		default:
			return frepctl__usage_error(
			    "unknown or incomplete option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Both live for the whole run: args points into argv, path names the
	 * command in messages. */
	static frepctl_args args;
	static char         path[128];
	rc = resolve(NULL, path, sizeof(path), argc - optind, argv + optind, &args);
	if (rc == RESOLVED_HELP) {
		return 0;
	}
	if (rc != RESOLVED_RUN) {
		return rc;
	}
	/* Global options given after the command win over those before it. */
	ctl.server            = args.g_server != NULL ? args.g_server : ctl.server;
	token_file            = args.g_token_file != NULL ? args.g_token_file : token_file;
	ctl.copts.tls_ca_file = args.g_tls_ca != NULL ? args.g_tls_ca : ctl.copts.tls_ca_file;
	ctl.copts.tls_cert_file =
	    args.g_tls_cert != NULL ? args.g_tls_cert : ctl.copts.tls_cert_file;
	ctl.copts.tls_key_file = args.g_tls_key != NULL ? args.g_tls_key : ctl.copts.tls_key_file;
	ctl.copts.tls_server_name =
	    args.g_tls_server_name != NULL ? args.g_tls_server_name : ctl.copts.tls_server_name;
	ctl.copts.wait_for_ready = ctl.copts.wait_for_ready || args.g_wait;
	if (args.g_timeout != NULL &&
	    parse_deadline_ms(args.g_timeout, &ctl.copts.timeout_ms) != 0) {
		return frepctl__usage_error(
		    "--timeout \"%s\" is not a deadline of 1 ms to 1 h (5000, 500ms, 5s, 2m)",
		    args.g_timeout);
	}
	if (token_file != NULL && token_file[0] != '\0') {
		if ((rc = read_token_file(token_file, &ctl.token)) != 0) {
			return rc;
		}
		ctl.copts.token = ctl.token;
	}
	ctl.json = ctl.json || args.json;
	rc       = args.cmd->run(&ctl, &args);
	frep_client_close(ctl.client);
	free(ctl.token);
	return rc;
}
