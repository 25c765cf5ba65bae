/*
 * frepctl: the command-line client of frepd, on the shipped C client and
 * the generated stubs. Tables for people, --json for programs. On failure
 * it prints "frepctl: <STATUS_NAME>: <message>" and exits non-zero.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep_client.h"
#include "google/protobuf/descriptor.pb-c.h"

#define EXIT_FAILED 1 /* the call failed: status printed */
#define EXIT_USAGE 2  /* bad command line */

typedef struct frepctl {
	const char         *server;
	frep_client_options copts;
	char               *token;
	bool                json;
	frep_client        *client;
} frepctl;

typedef int (*command_fn)(frepctl *ctl, int argc, char **argv);

typedef struct command {
	const char           *name;
	const char           *args;
	const char           *summary;
	command_fn            run;
	const struct command *sub; /* subcommands, terminated by {0} */
} command;

/* --- output helpers ------------------------------------------------------- */

static int
fail_status(const frep_status *st)
{
	fprintf(stderr, "frepctl: %s: %s\n", frep_code_name(st->code), st->message);
	return EXIT_FAILED;
}

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "frepctl: INVALID_ARGUMENT: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see frepctl --help)\n");
	return EXIT_USAGE;
}

static void
print_json(json_t *j)
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
	if (ctl->client == NULL && frep_client_open(ctl->server, &ctl->copts, &ctl->client, st) != FREP_OK) {
		return NULL;
	}
	return ctl->client;
}

/* Calls a generated stub's method synchronously and hands back its output
 * (caller frees) or NULL with *st set. */
static ProtobufCMessage *
call(frepctl *ctl, const ProtobufCServiceDescriptor *sd, const char *method,
    const ProtobufCMessage *input, frep_status *st)
{
	frep_client *c = client(ctl, st);
	if (c == NULL) {
		return NULL;
	}
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(sd, method);
	char                             path[256];
	ProtobufCMessage                *out = NULL;
	snprintf(path, sizeof(path), "/%s/%s", sd->name, method);
	if (frep_client_call(c, path, input, m->output, &out, NULL, st) != FREP_OK) {
		return NULL;
	}
	return out;
}

/* --- health --------------------------------------------------------------- */

static void
health_closure(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	int *status = data;
	*status     = msg != NULL ? (int) msg->status : -1;
}

static int
cmd_health(frepctl *ctl, int argc, char **argv)
{
	frep_status st;
	if (argc > 2) {
		return usage_error("health takes at most one SERVICE, got \"%s\"", argv[2]);
	}
	frep_client *c = client(ctl, &st);
	if (c == NULL) {
		return fail_status(&st);
	}
	/* Through the generated stub, as any C program would call it. */
	ProtobufCService            *svc = frep_client_service(c, &frep__v1__health__descriptor);
	Frep__V1__HealthCheckRequest req = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	int                          status = -1;
	req.service                         = argc == 2 ? argv[1] : "";
	frep__v1__health__check(svc, &req, health_closure, &status);
	if (status < 0) {
		frep_client_last_status(c, &st);
		if (ctl->json) {
			print_json(json_pack("{s:s, s:s}", "code", frep_code_name(st.code), "message",
			    st.message));
		}
		return fail_status(&st);
	}
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
	    &frep__v1__health_check_response__serving_status__descriptor, status);
	const char *name = ev != NULL ? ev->name : "UNKNOWN";
	if (ctl->json) {
		print_json(json_pack("{s:s, s:s}", "service", req.service, "status", name));
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
cmd_describe(frepctl *ctl, int argc, char **argv)
{
	frep_status st;
	(void) argv;
	if (argc > 1) {
		return usage_error("describe takes no argument, got \"%s\"", argv[1]);
	}
	Frep__Rpc__V1__GetServerInfoRequest    ireq = FREP__RPC__V1__GET_SERVER_INFO_REQUEST__INIT;
	Frep__Rpc__V1__GetDescriptorSetRequest dreq = FREP__RPC__V1__GET_DESCRIPTOR_SET_REQUEST__INIT;
	Frep__Rpc__V1__ServerInfo *info = (Frep__Rpc__V1__ServerInfo *) call(ctl,
	    &frep__rpc__v1__introspection__descriptor, "GetServerInfo", &ireq.base, &st);
	if (info == NULL) {
		return fail_status(&st);
	}
	Frep__Rpc__V1__DescriptorSet *ds = (Frep__Rpc__V1__DescriptorSet *) call(ctl,
	    &frep__rpc__v1__introspection__descriptor, "GetDescriptorSet", &dreq.base, &st);
	if (ds == NULL) {
		protobuf_c_message_free_unpacked(&info->base, NULL);
		return fail_status(&st);
	}
	Google__Protobuf__FileDescriptorSet *fds = google__protobuf__file_descriptor_set__unpack(
	    NULL, ds->file_descriptor_set.len, ds->file_descriptor_set.data);
	if (fds == NULL) {
		frep_status_set(&st, FREP_DATA_LOSS, "the server's descriptor set (%zu bytes) does not decode",
		    ds->file_descriptor_set.len);
		protobuf_c_message_free_unpacked(&info->base, NULL);
		protobuf_c_message_free_unpacked(&ds->base, NULL);
		return fail_status(&st);
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
			char full[256];
			snprintf(full, sizeof(full), "%s%s%s", file->package != NULL ? file->package : "",
			    file->package != NULL ? "." : "", svc->name);
			bool served = false;
			for (size_t i = 0; i < info->n_services; i++) {
				served = served || strcmp(info->services[i], full) == 0;
			}
			json_t *jmethods = json_array();
			if (!ctl->json) {
				printf("\nservice %s%s  (%s)\n", full, served ? "" : " [not served]", file->name);
			}
			for (size_t m = 0; m < svc->n_method; m++) {
				Google__Protobuf__MethodDescriptorProto *md = svc->method[m];
				if (ctl->json) {
					json_array_append_new(jmethods,
					    json_pack("{s:s, s:s, s:s, s:s}", "name", md->name, "path",
					        "", "input", md->input_type, "output", md->output_type));
					char path[512];
					snprintf(path, sizeof(path), "/%s/%s", full, md->name);
					json_object_set_new(json_array_get(jmethods, json_array_size(jmethods) - 1),
					    "path", json_string(path));
				} else {
					printf("  /%s/%s(%s) returns (%s)\n", full, md->name,
					    short_type(md->input_type), short_type(md->output_type));
				}
			}
			if (ctl->json) {
				json_array_append_new(jservices, json_pack("{s:s, s:s, s:b, s:o}", "name", full,
				    "file", file->name, "served", served, "methods", jmethods));
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
		print_json(json_pack("{s:s, s:I, s:i, s:o, s:o}", "version", info->version,
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

/* --- the command table ----------------------------------------------------- */

static const command commands[] = {
    {.name = "health", .args = "[SERVICE]",
     .summary = "check that the server (or one of its services) is SERVING", .run = cmd_health},
    {.name = "describe", .args = "",
     .summary = "list the server's limits, services and methods (from its descriptors)",
     .run = cmd_describe},
    {0},
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: frepctl [options] COMMAND [ARGS]\n"
	    "\n"
	    "options:\n"
	    "  --server URL        frepd to talk to (default $FREP_SERVER or tcp://127.0.0.1:6470)\n"
	    "  --token-file FILE   admin bearer token (default $FREP_TOKEN_FILE)\n"
	    "  --timeout MS        per-call deadline (default 30000)\n"
	    "  --json              machine-readable output\n"
	    "  --tls-ca FILE       CA to verify a tls+tcp:// server\n"
	    "  --tls-cert FILE     client certificate; --tls-key FILE its key\n"
	    "  --help, --version\n"
	    "\n"
	    "commands:\n");
	for (const command *c = commands; c->name != NULL; c++) {
		fprintf(out, "  %-10s %-12s %s\n", c->name, c->args, c->summary);
	}
	fprintf(out, "\nOn failure frepctl prints \"frepctl: STATUS: message\" and exits 1 "
	             "(2 for a bad command line).\n");
}

static int
read_token_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "frepctl: INVALID_ARGUMENT: --token-file %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	char   *line = NULL;
	size_t  cap  = 0;
	ssize_t n    = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) {
		line[--n] = '\0';
	}
	if (n <= 0) {
		free(line);
		fprintf(stderr, "frepctl: INVALID_ARGUMENT: --token-file %s holds no token\n", path);
		return EXIT_USAGE;
	}
	*out = line;
	return 0;
}

int
main(int argc, char **argv)
{
	enum { OPT_SERVER = 256, OPT_TOKEN, OPT_TIMEOUT, OPT_JSON, OPT_CA, OPT_CERT, OPT_KEY,
		OPT_HELP, OPT_VERSION };
	static const struct option longopts[] = {
	    {.name = "server", .has_arg = required_argument, .val = OPT_SERVER},
	    {.name = "token-file", .has_arg = required_argument, .val = OPT_TOKEN},
	    {.name = "timeout", .has_arg = required_argument, .val = OPT_TIMEOUT},
	    {.name = "json", .has_arg = no_argument, .val = OPT_JSON},
	    {.name = "tls-ca", .has_arg = required_argument, .val = OPT_CA},
	    {.name = "tls-cert", .has_arg = required_argument, .val = OPT_CERT},
	    {.name = "tls-key", .has_arg = required_argument, .val = OPT_KEY},
	    {.name = "help", .has_arg = no_argument, .val = OPT_HELP},
	    {.name = "version", .has_arg = no_argument, .val = OPT_VERSION},
	    {0},
	};
	frepctl     ctl        = {0};
	const char *token_file = getenv("FREP_TOKEN_FILE");
	int         c, rc;

	ctl.server = getenv("FREP_SERVER") != NULL ? getenv("FREP_SERVER") : "tcp://127.0.0.1:6470";
	opterr     = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			ctl.server = optarg;
			break;
		case OPT_TOKEN:
			token_file = optarg;
			break;
		case OPT_TIMEOUT: {
			char         *end = NULL;
			unsigned long v   = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v == 0 || v > 3600000) {
				return usage_error("--timeout \"%s\" is not a number of ms in 1..3600000", optarg);
			}
			ctl.copts.timeout_ms = (uint32_t) v;
			break;
		}
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
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("frepctl %s\n", FREP_VERSION);
			return 0;
		default:
			return usage_error("unknown or incomplete option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const command *cmd = NULL;
	for (const command *k = commands; k->name != NULL; k++) {
		if (strcmp(k->name, argv[optind]) == 0) {
			cmd = k;
		}
	}
	if (cmd == NULL) {
		return usage_error("unknown command \"%s\"", argv[optind]);
	}
	if (argc - optind > 1 && strcmp(argv[optind + 1], "--help") == 0) {
		printf("usage: frepctl [options] %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
		return 0;
	}
	if (token_file != NULL && token_file[0] != '\0') {
		if ((rc = read_token_file(token_file, &ctl.token)) != 0) {
			return rc;
		}
		ctl.copts.token = ctl.token;
	}
	rc = cmd->run(&ctl, argc - optind, argv + optind);
	frep_client_close(ctl.client);
	free(ctl.token);
	return rc;
}
