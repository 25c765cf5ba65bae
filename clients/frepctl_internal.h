/*
 * frepctl's internals shared by its files: the command and flag tables, the
 * parsed command line, the call helper and the output helpers. Nothing here
 * is installed; frepctl is single-threaded.
 */
#ifndef FREP_CLIENTS_FREPCTL_INTERNAL_H
#define FREP_CLIENTS_FREPCTL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "frep_client.h"

/* Exit codes (docs/FREPCTL.md has the table). */
#define FREPCTL_EXIT_FAILED      1 /* the call failed (any other status): printed */
#define FREPCTL_EXIT_USAGE       2 /* bad command line */
#define FREPCTL_EXIT_NOT_FOUND   3 /* NOT_FOUND */
#define FREPCTL_EXIT_UNAVAILABLE 4 /* UNAVAILABLE or DEADLINE_EXCEEDED: try again later */
#define FREPCTL_EXIT_DENIED      5 /* UNAUTHENTICATED or PERMISSION_DENIED */

#define FREPCTL_MAX_FLAGS 24 /* flags of one command */
#define FREPCTL_MAX_ARGS  66 /* positional arguments: option CODE + 64 values */

/* The lease duration meaning "unlimited" on the wire. */
#define FREPCTL_UNLIMITED 4294967295u

typedef struct frepctl {
	const char         *server;
	frep_client_options copts;
	char               *token;
	bool                json;
	frep_client        *client;
} frepctl;

/* One flag of a command: "--name ARG" (arg NULL: a switch without value). */
typedef struct frepctl_flag {
	const char *name;
	const char *arg;
	const char *help;
	bool        repeat; /* may be given more than once */
} frepctl_flag;

struct frepctl_command;

/* A command line after parsing against its command's flag table. The
 * strings point into argv: nothing to free. */
typedef struct frepctl_args {
	const struct frepctl_command *cmd;
	const char                   *path; /* "scope add", for messages */
	bool                          json; /* --json given after the command */
	/* Global options given after the command (NULL: not given there). */
	const char *g_server, *g_token_file, *g_timeout, *g_tls_ca, *g_tls_cert, *g_tls_key,
	    *g_tls_server_name;
	bool        g_wait;
	int         npos;
	const char *pos[FREPCTL_MAX_ARGS];
	size_t      nval[FREPCTL_MAX_FLAGS];
	/* Values of each flag: as many as the command line holds (a
	 * repeatable flag such as --scope takes any number). */
	const char **val[FREPCTL_MAX_FLAGS];
} frepctl_args;

typedef int (*frepctl_run_fn)(frepctl *ctl, const frepctl_args *a);

/* A row of a command table: a leaf (run set) or a group (sub set). Tables
 * end with a row whose name is NULL. */
typedef struct frepctl_command {
	const char                   *name;
	const char                   *args; /* positional synopsis for --help */
	const char                   *summary;
	int                           min_args;
	int                           max_args;
	const frepctl_flag           *flags; /* terminated by {0}; NULL: none */
	frepctl_run_fn                run;
	const struct frepctl_command *sub;
	const void *data; /* what a shared run reads (an object kind's row); NULL: none */
} frepctl_command;

/* The DhcpServer command groups (frepctl_dhcp.c), terminated by {0}. */
extern const frepctl_command frepctl__dhcp_commands[];

/* frepctl replicate (frepctl_replicate.c), terminated by {0}. */
extern const frepctl_command frepctl__replicate_commands[];

/* frepctl failover status [NAME] (frepctl_replicate.c): the command and
 * its flags, for the failover group's table. */
extern const frepctl_flag frepctl__failover_status_flags[];
int                       frepctl__cmd_failover_status(frepctl *ctl, const frepctl_args *a);

/* frepctl call METHOD JSON (frepctl_call.c), terminated by {0}. */
extern const frepctl_command frepctl__call_commands[];

/* frepctl kea render / status (frepctl_kea.c), terminated by {0}. */
extern const frepctl_command frepctl__kea_commands[];

/* frepctl dns get / set (frepctl_dns.c), terminated by {0}. */
extern const frepctl_command frepctl__dns_commands[];

/* --- parsed arguments (frepctl.c) ---------------------------------------- */

/* The last value of flag name, or NULL when not given. */
const char *frepctl__arg(const frepctl_args *a, const char *name);

/* Every value of flag name (in command-line order); the count. */
size_t frepctl__arg_all(const frepctl_args *a, const char *name, const char *const **vals);

/* Whether flag name was given. */
bool frepctl__arg_has(const frepctl_args *a, const char *name);

/* --- errors and calls (frepctl.c) ---------------------------------------- */

/* Confirmation of a command that deletes: 0 to go on when skip (--yes /
 * --force) or when the user answers y on a terminal; otherwise an exit
 * code (off a terminal: FREPCTL_EXIT_USAGE, asking for --yes). */
int frepctl__confirm(const frepctl_args *a, bool skip, const char *question);

/* Prints "frepctl: STATUS: message" (with --json: {"code": "STATUS",
 * "message": ...} on stderr); returns the exit code for the status. */
int frepctl__fail_status(const frep_status *st);

/* The exit code for a failed call's status. */
int frepctl__exit_code(frep_code code);

/* Prints "frepctl: INVALID_ARGUMENT: <formatted>" for a bad command line;
 * returns FREPCTL_EXIT_USAGE. */
int frepctl__usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Calls sd's method synchronously: its output (caller frees with
 * protobuf_c_message_free_unpacked) or NULL with *st set. */
ProtobufCMessage *frepctl__call(frepctl *ctl, const ProtobufCServiceDescriptor *sd,
    const char *method, const ProtobufCMessage *input, frep_status *st);

/* Prints j indented and drops the reference. */
void frepctl__print_json(json_t *j);

/* --- message → JSON (frepctl_json.c) -------------------------------------- */

enum {
	/* Enums as people read them ("active", not "SCOPE_STATE_ACTIVE"). */
	FREPCTL_JSON_SHORT_ENUMS = 1u << 0,
};

/* Builds the JSON of any protobuf-c message from its descriptor: fields by
 * their proto name, enums by name, repeated fields as arrays, messages as
 * objects, bytes as lower-case hex, 64-bit integers as numbers; proto3
 * scalars always present, a oneof member only when set, an unset message
 * omitted. Input-only secrets (shared_secret) are never emitted. Returns a
 * new reference (NULL only when out of memory). */
json_t *frepctl_json_from_message(const ProtobufCMessage *msg, unsigned flags);

/* The short, lower-case name of an enum value ("ipv4-address" for
 * OPTION_TYPE_IPV4_ADDRESS) into buf. */
const char *frepctl_json_enum_short(
    const ProtobufCEnumDescriptor *ed, int value, char *buf, size_t size);

/* --- people's output (frepctl_table.c) ----------------------------------- */

/* How a table cell shows a JSON value. */
typedef enum frepctl_cell {
	FREPCTL_CELL_TEXT = 0, /* scalars as text, arrays joined by "," */
	FREPCTL_CELL_DURATION, /* seconds as 8d / 12h / unlimited */
	FREPCTL_CELL_RANGE,    /* the object's start_range-end_range (key ignored) */
	FREPCTL_CELL_COUNT,    /* the size of an array */
	FREPCTL_CELL_BOOL,     /* yes / no; an absent oneof bool reads as yes */
	FREPCTL_CELL_CRITERIA, /* policy criteria as TYPE:eq:V,V AND/OR ... */
	FREPCTL_CELL_RANGES,   /* an array of IpRange as A-B A-B */
	FREPCTL_CELL_TIME,     /* Unix milliseconds as UTC 2024-05-01T12:00:00Z */
	FREPCTL_CELL_STATUS,   /* a frep_code number by name */
} frepctl_cell;

/* One column of a table: header, the JSON key it shows, how. Column lists
 * end with a row whose header is NULL. */
typedef struct frepctl_column {
	const char  *header;
	const char  *key;
	frepctl_cell cell;
} frepctl_column;

/* Prints one row per object of the JSON array rows, aligned, with a header
 * line; "(none)" for an empty array. indent spaces before each line. */
void frepctl_table_print(FILE *out, const json_t *rows, const frepctl_column *cols, int indent);

/* Prints a JSON object as "key: value" lines, nested objects and arrays of
 * objects indented below their key. */
void frepctl_table_print_object(FILE *out, const json_t *obj, int indent);

/* Formats seconds as "8d", "1d12h", "30m", "45s", "unlimited", "0". */
const char *frepctl_duration_format(uint32_t seconds, char *buf, size_t size);

#endif /* FREP_CLIENTS_FREPCTL_INTERNAL_H */
