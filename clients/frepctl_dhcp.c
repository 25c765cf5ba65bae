/*
 * frepctl_dhcp: the frep.v1.DhcpServer commands, shaped after the Windows
 * DHCP cmdlets (Add-/Set-/Get-/Remove-DhcpServerv4Scope, ...). Each command
 * builds one request, makes one call and prints the response: a table for
 * people, the whole message for --json.
 *
 * The client checks only what the server cannot see (flag syntax, numbers,
 * durations, enum words); addresses, client ids and option values go to the
 * server as typed, so the rules live in one place (engine/validate.c) and a
 * bad address fails with the server's INVALID_ARGUMENT naming it.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frep/v1/dhcp_server.pb-c.h"
#include "frep_secret_file.h"
#include "frepctl_internal.h"

#define EXIT_USAGE FREPCTL_EXIT_USAGE

static const ProtobufCServiceDescriptor *const dhcp = &frep__v1__dhcp_server__descriptor;

/* --- scratch memory -------------------------------------------------------- */

/* Split flag values (ranges, lists, prefixes) live until the process ends:
 * one run makes one call, so a list freed at exit is simpler than an owner
 * per request field. */
static void **scratch_ptrs;
static size_t scratch_n, scratch_cap;

static void
scratch_free_all(void)
{
	for (size_t i = 0; i < scratch_n; i++) {
		free(scratch_ptrs[i]);
	}
	free(scratch_ptrs);
	scratch_ptrs = NULL;
	scratch_n = scratch_cap = 0;
}

static void *
scratch(size_t size)
{
	if (scratch_n == scratch_cap) {
		size_t cap = scratch_cap == 0 ? 32 : scratch_cap * 2;
		void **p   = realloc(scratch_ptrs, cap * sizeof(*p));
		if (p == NULL) {
			fprintf(stderr, "frepctl: RESOURCE_EXHAUSTED: out of memory\n");
			exit(FREPCTL_EXIT_FAILED);
		}
		if (scratch_ptrs == NULL) {
			atexit(scratch_free_all);
		}
		scratch_ptrs = p;
		scratch_cap  = cap;
	}
	void *m = calloc(1, size);
	if (m == NULL) {
		fprintf(stderr, "frepctl: RESOURCE_EXHAUSTED: out of memory\n");
		exit(FREPCTL_EXIT_FAILED);
	}
	scratch_ptrs[scratch_n++] = m;
	return m;
}

static char *
scratch_strndup(const char *s, size_t n)
{
	char *d = scratch(n + 1);
	memcpy(d, s, n);
	return d;
}

/* --- words, numbers, durations, ranges ------------------------------------ */

/* A word the command line accepts for an enum value. Tables end with {0}. */
typedef struct name_value {
	const char *name;
	int         value;
} name_value;

static const name_value scope_states[] = {
    {"active", FREP__V1__SCOPE_STATE__SCOPE_STATE_ACTIVE},
    {"inactive", FREP__V1__SCOPE_STATE__SCOPE_STATE_INACTIVE},
    {0},
};

static const name_value client_types[] = {
    {"dhcp", FREP__V1__CLIENT_TYPE__CLIENT_TYPE_DHCP},
    {"bootp", FREP__V1__CLIENT_TYPE__CLIENT_TYPE_BOOTP},
    {"both", FREP__V1__CLIENT_TYPE__CLIENT_TYPE_BOTH},
    {0},
};

static const name_value option_types[] = {
    {"byte", FREP__V1__OPTION_TYPE__OPTION_TYPE_BYTE},
    {"word", FREP__V1__OPTION_TYPE__OPTION_TYPE_WORD},
    {"dword", FREP__V1__OPTION_TYPE__OPTION_TYPE_DWORD},
    {"dword-dword", FREP__V1__OPTION_TYPE__OPTION_TYPE_DWORD_DWORD},
    {"ipv4", FREP__V1__OPTION_TYPE__OPTION_TYPE_IPV4_ADDRESS},
    {"ipv4-address", FREP__V1__OPTION_TYPE__OPTION_TYPE_IPV4_ADDRESS},
    {"string", FREP__V1__OPTION_TYPE__OPTION_TYPE_STRING},
    {"binary", FREP__V1__OPTION_TYPE__OPTION_TYPE_BINARY_DATA},
    {"binary-data", FREP__V1__OPTION_TYPE__OPTION_TYPE_BINARY_DATA},
    {"encapsulated", FREP__V1__OPTION_TYPE__OPTION_TYPE_ENCAPSULATED_DATA},
    {"encapsulated-data", FREP__V1__OPTION_TYPE__OPTION_TYPE_ENCAPSULATED_DATA},
    {"ipv6", FREP__V1__OPTION_TYPE__OPTION_TYPE_IPV6_ADDRESS},
    {"ipv6-address", FREP__V1__OPTION_TYPE__OPTION_TYPE_IPV6_ADDRESS},
    {0},
};

static const name_value class_types[] = {
    {"vendor", FREP__V1__CLASS_TYPE__CLASS_TYPE_VENDOR},
    {"user", FREP__V1__CLASS_TYPE__CLASS_TYPE_USER},
    {0},
};

static const name_value conditions[] = {
    {"and", FREP__V1__POLICY_CONDITION__POLICY_CONDITION_AND},
    {"or", FREP__V1__POLICY_CONDITION__POLICY_CONDITION_OR},
    {0},
};

static const name_value criterion_types[] = {
    {"vendor-class", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_VENDOR_CLASS},
    {"user-class", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_USER_CLASS},
    {"mac", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS},
    {"mac-address", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_MAC_ADDRESS},
    {"client-id", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_CLIENT_ID},
    {"relay-agent", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_RELAY_AGENT},
    {"circuit-id", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_CIRCUIT_ID},
    {"remote-id", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_REMOTE_ID},
    {"subscriber-id", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_SUBSCRIBER_ID},
    {"fqdn", FREP__V1__CRITERION_TYPE__CRITERION_TYPE_FQDN},
    {0},
};

static const name_value comparators[] = {
    {"eq", FREP__V1__COMPARATOR__COMPARATOR_EQ},
    {"ne", FREP__V1__COMPARATOR__COMPARATOR_NE},
    {0},
};

static const name_value failover_modes[] = {
    {"load-balance", FREP__V1__FAILOVER_MODE__FAILOVER_MODE_LOAD_BALANCE},
    {"hot-standby", FREP__V1__FAILOVER_MODE__FAILOVER_MODE_HOT_STANDBY},
    {0},
};

static const name_value server_roles[] = {
    {"active", FREP__V1__SERVER_ROLE__SERVER_ROLE_ACTIVE},
    {"standby", FREP__V1__SERVER_ROLE__SERVER_ROLE_STANDBY},
    {0},
};

static const name_value auto_sync_values[] = {
    {"on", FREP__V1__AUTO_SYNC__AUTO_SYNC_ON},
    {"off", FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF},
    {0},
};

static const name_value yes_no[] = {
    {"yes", 1},
    {"no", 0},
    {"true", 1},
    {"false", 0},
    {"on", 1},
    {"off", 0},
    {0},
};

/* what: "--state" or "TYPE", for the message. */
static int
parse_word(
    const frepctl_args *a, const char *what, const char *text, const name_value *table, int *out)
{
	char   list[512];
	size_t used = 0;
	for (const name_value *n = table; n->name != NULL; n++) {
		if (strcmp(n->name, text) == 0) {
			*out = n->value;
			return 0;
		}
		int k = snprintf(
		    list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "", n->name);
		used += k > 0 && (size_t) k < sizeof(list) - used ? (size_t) k : 0;
	}
	list[used] = '\0';
	return frepctl__usage_error("%s: %s \"%s\" is not one of %s", a->path, what, text, list);
}

static int
parse_u32(const frepctl_args *a, const char *what, const char *text, uint32_t min, uint32_t max,
    uint32_t *out)
{
	char              *end = NULL;
	unsigned long long v;
	errno = 0;
	v     = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
		return frepctl__usage_error(
		    "%s: %s \"%s\" is not a number in %u..%u", a->path, what, text, min, max);
	}
	*out = (uint32_t) v;
	return 0;
}

/* "unlimited", plain seconds, or a sum of <n>d <n>h <n>m <n>s ("1d12h"). */
static int
parse_duration(const frepctl_args *a, const char *what, const char *text, uint32_t *out)
{
	unsigned long long total = 0;
	const char        *p     = text;
	if (strcmp(text, "unlimited") == 0 || strcmp(text, "infinite") == 0) {
		*out = FREPCTL_UNLIMITED;
		return 0;
	}
	if (*p == '\0') {
		goto bad;
	}
	while (*p != '\0') {
		char              *end = NULL;
		unsigned long long n, unit = 1;
		if (*p < '0' || *p > '9') {
			goto bad;
		}
		errno = 0;
		n     = strtoull(p, &end, 10);
		if (errno != 0 || n > FREPCTL_UNLIMITED) {
			goto bad;
		}
		switch (*end) {
		case 'd':
			unit = 86400;
			end++;
			break;
		case 'h':
			unit = 3600;
			end++;
			break;
		case 'm':
			unit = 60;
			end++;
			break;
		case 's':
			end++;
			break;
		case '\0':
			break;
		default:
			goto bad;
		}
		total += n * unit;
		if (total >= FREPCTL_UNLIMITED) {
			goto bad;
		}
		p = end;
	}
	*out = (uint32_t) total;
	return 0;
bad:
	return frepctl__usage_error("%s: %s \"%s\" is not a duration (8d, 12h, 30m, 3600, 1d12h or "
				    "unlimited)",
	    a->path, what, text);
}

/* "A-B" into two strings; the addresses themselves are the server's to judge. */
static int
parse_range(const frepctl_args *a, const char *what, const char *text, char **start, char **end)
{
	const char *dash = strchr(text, '-');
	if (dash == NULL || dash == text || dash[1] == '\0' || strchr(dash + 1, '-') != NULL) {
		return frepctl__usage_error(
		    "%s: %s \"%s\" is not a range START-END (10.0.0.10-10.0.0.200)", a->path, what,
		    text);
	}
	*start = scratch_strndup(text, (size_t) (dash - text));
	*end   = scratch_strndup(dash + 1, strlen(dash + 1));
	return 0;
}

/* Appends text split at commas to a growing string array. */
static void
split_append(const char *text, char ***arr, size_t *n)
{
	size_t      count = 1;
	const char *p;
	for (p = text; *p != '\0'; p++) {
		count += *p == ',';
	}
	char **grown = scratch((*n + count) * sizeof(char *));
	if (*n > 0) {
		memcpy(grown, *arr, *n * sizeof(char *));
	}
	p = text;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t      len   = comma != NULL ? (size_t) (comma - p) : strlen(p);
		grown[(*n)++]     = scratch_strndup(p, len);
		if (comma == NULL) {
			break;
		}
		p = comma + 1;
	}
	*arr = grown;
}

/* "10.0.0.0/24": the network into *id and, when a prefix is given, the
 * dotted mask into *mask (left alone otherwise). */
static int
parse_network(const frepctl_args *a, const char *text, char **id, char **mask)
{
	const char *slash = strchr(text, '/');
	uint32_t    prefix;
	if (slash == NULL) {
		*id = (char *) text;
		return 0;
	}
	if (slash[1] == '0' && slash[2] != '\0') {
		/* "/08" is a typo or an octal habit: refuse, as inet_pton does. */
		return frepctl__usage_error(
		    "%s: prefix length \"%s\" has a leading zero", a->path, slash + 1);
	}
	if (parse_u32(a, "prefix length", slash + 1, 1, 32, &prefix) != 0) {
		return EXIT_USAGE;
	}
	uint32_t m = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	*id        = scratch_strndup(text, (size_t) (slash - text));
	*mask      = scratch(16);
	snprintf(*mask, 16, "%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
	return 0;
}

/* --mask accepts a dotted mask or a prefix length ("24" or "/24"). */
static int
parse_mask_flag(const frepctl_args *a, const char *text, char **mask)
{
	char *ignored = NULL;
	if (text[0] == '/' || strchr(text, '.') == NULL) {
		char buf[40];
		snprintf(buf, sizeof(buf), "0.0.0.0/%s", text[0] == '/' ? text + 1 : text);
		return parse_network(a, buf, &ignored, mask);
	}
	*mask = (char *) text;
	return 0;
}

/* --- flags → message fields ------------------------------------------------ */

typedef enum field_kind {
	F_STRING = 0, /* the text as is */
	F_UINT,       /* decimal in min..max */
	F_DURATION,   /* parse_duration */
	F_ENUM,       /* a word of names */
	F_YESNO,      /* yes/no into a bool */
	F_SET_TRUE,   /* a switch setting a bool true */
	F_SET_FALSE,  /* a switch setting a bool false */
	F_LIST,       /* every value, split at commas, into a repeated string */
	F_RANGE,      /* START-END into field (start) and field2 (end) */
} field_kind;

/* How one flag fills one field of a message (found by its proto name, which
 * is also its update_mask entry). Tables end with {0}. */
typedef struct field_map {
	const char       *flag;
	const char       *field;
	field_kind        kind;
	const name_value *names;  /* F_ENUM */
	uint32_t          min;    /* F_UINT */
	uint32_t          max;    /* F_UINT */
	const char       *field2; /* F_RANGE */
} field_map;

/* The update_mask a set sends: the fields its flags touched. */
typedef struct mask_list {
	char  *f[FREPCTL_MAX_FLAGS + 2];
	size_t n;
} mask_list;

static int
mask_add(const frepctl_args *a, mask_list *mask, const char *field, const char *flag)
{
	for (size_t i = 0; i < mask->n; i++) {
		if (strcmp(mask->f[i], field) == 0) {
			return frepctl__usage_error(
			    "%s: --%s sets %s, which another flag already sets", a->path, flag,
			    field);
		}
	}
	assert(mask->n < sizeof(mask->f) / sizeof(mask->f[0]));
	mask->f[mask->n++] = (char *) field;
	return 0;
}

static int
field_set(const frepctl_args *a, const field_map *m, ProtobufCMessage *msg, mask_list *mask)
{
	const char *const              *vals;
	size_t                          n = frepctl__arg_all(a, m->flag, &vals);
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, m->field);
	char       *base = (char *) msg;
	char       *p;
	const char *v;
	char        what[64];
	int         e;
	uint32_t    u = 0;

	if (n == 0) {
		return 0;
	}
	assert(f != NULL); /* the table names a field the contract lacks */
	p = base + f->offset;
	v = vals[n - 1];
	snprintf(what, sizeof(what), "--%s", m->flag);
	switch (m->kind) {
	case F_STRING:
		*(char **) p = (char *) v;
		break;
	case F_UINT:
		if (parse_u32(a, what, v, m->min, m->max, &u) != 0) {
			return EXIT_USAGE;
		}
		*(uint32_t *) p = u;
		break;
	case F_DURATION:
		if (parse_duration(a, what, v, &u) != 0) {
			return EXIT_USAGE;
		}
		*(uint32_t *) p = u;
		break;
	case F_ENUM:
		if (parse_word(a, what, v, m->names, &e) != 0) {
			return EXIT_USAGE;
		}
		*(int *) p = e;
		break;
	case F_YESNO:
		if (parse_word(a, what, v, yes_no, &e) != 0) {
			return EXIT_USAGE;
		}
		*(protobuf_c_boolean *) p = e != 0;
		break;
	case F_SET_TRUE:
	case F_SET_FALSE:
		*(protobuf_c_boolean *) p = m->kind == F_SET_TRUE;
		break;
	case F_LIST: {
		char **arr   = NULL;
		size_t count = 0;
		for (size_t i = 0; i < n; i++) {
			split_append(vals[i], &arr, &count);
		}
		*(char ***) p                             = arr;
		*(size_t *) (base + f->quantifier_offset) = count;
		break;
	}
	case F_RANGE: {
		const ProtobufCFieldDescriptor *f2 =
		    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, m->field2);
		assert(f2 != NULL);
		if (parse_range(a, what, v, (char **) p, (char **) (base + f2->offset)) != 0) {
			return EXIT_USAGE;
		}
		if (mask_add(a, mask, m->field2, m->flag) != 0) {
			return EXIT_USAGE;
		}
		break;
	}
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		*(uint32_t *) (base + f->quantifier_offset) = f->id;
	}
	return mask_add(a, mask, m->field, m->flag);
}

/* Fills msg from every flag of map that was given; mask collects the
 * fields set. */
static int
fields_from_flags(
    const frepctl_args *a, const field_map *map, ProtobufCMessage *msg, mask_list *mask)
{
	for (const field_map *m = map; m->flag != NULL; m++) {
		if (field_set(a, m, msg, mask) != 0) {
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int
require_flag(const frepctl_args *a, const char *flag)
{
	if (!frepctl__arg_has(a, flag)) {
		return frepctl__usage_error("%s: --%s is required", a->path, flag);
	}
	return 0;
}

static int
require_change(const frepctl_args *a, const mask_list *mask)
{
	if (mask->n == 0) {
		/* An empty mask means "every field" on the wire: never send one by
		 * accident. */
		return frepctl__usage_error(
		    "%s: nothing to change: give at least one flag", a->path);
	}
	return 0;
}

/* --- calls and output ------------------------------------------------------ */

typedef enum out_kind {
	OUT_ROW,    /* the response is one object: a one-row table */
	OUT_LIST,   /* the response's one repeated field: a table */
	OUT_OBJECT, /* every field as key: value */
	OUT_NONE,   /* Empty: nothing for people */
} out_kind;

/* Calls method with in and prints the response. */
static int
run_call(frepctl *ctl, const char *method, const ProtobufCMessage *in, out_kind kind,
    const frepctl_column *cols)
{
	frep_status       st;
	ProtobufCMessage *out = frepctl__call(ctl, dhcp, method, in, &st);
	if (out == NULL) {
		return frepctl__fail_status(&st);
	}
	if (ctl->json) {
		frepctl__print_json(frepctl_json_from_message(out, 0));
	} else if (kind != OUT_NONE) {
		json_t *j = frepctl_json_from_message(out, FREPCTL_JSON_SHORT_ENUMS);
		if (kind == OUT_ROW) {
			json_t *rows = json_pack("[O]", j);
			frepctl_table_print(stdout, rows, cols, 0);
			json_decref(rows);
		} else if (kind == OUT_LIST) {
			/* A List response holds exactly one repeated field. */
			void   *iter = json_object_iter(j);
			json_t *rows = iter != NULL ? json_object_iter_value(iter) : NULL;
			frepctl_table_print(stdout, rows != NULL ? rows : json_array(), cols, 0);
		} else {
			frepctl_table_print_object(stdout, j, 0);
		}
		json_decref(j);
	}
	protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

static const frepctl_column scope_cols[] = {
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "MASK", .key = "subnet_mask"},
    {.header = "NAME", .key = "name"},
    {.header = "RANGE", .cell = FREPCTL_CELL_RANGE},
    {.header = "STATE", .key = "state"},
    {.header = "TYPE", .key = "type"},
    {.header = "LEASE", .key = "lease_duration_s", .cell = FREPCTL_CELL_DURATION},
    {.header = "POLICIES", .key = "activate_policies", .cell = FREPCTL_CELL_BOOL},
    {.header = "DESCRIPTION", .key = "description"},
    {0},
};

static const frepctl_column exclusion_cols[] = {
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "RANGE", .cell = FREPCTL_CELL_RANGE},
    {0},
};

static const frepctl_column reservation_cols[] = {
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "IP", .key = "ip_address"},
    {.header = "CLIENT-ID", .key = "client_id"},
    {.header = "NAME", .key = "name"},
    {.header = "TYPE", .key = "type"},
    {.header = "OPTIONS", .key = "options", .cell = FREPCTL_CELL_COUNT},
    {.header = "DESCRIPTION", .key = "description"},
    {0},
};

static const frepctl_column optiondef_cols[] = {
    {.header = "ID", .key = "option_id"},
    {.header = "VENDOR-CLASS", .key = "vendor_class"},
    {.header = "NAME", .key = "name"},
    {.header = "TYPE", .key = "type"},
    {.header = "MULTI", .key = "multi_valued"},
    {.header = "DEFAULT", .key = "default_value"},
    {.header = "PREDEFINED", .key = "predefined"},
    {0},
};

static const frepctl_column option_cols[] = {
    {.header = "ID", .key = "option_id"},
    {.header = "VENDOR-CLASS", .key = "vendor_class"},
    {.header = "USER-CLASS", .key = "user_class"},
    {.header = "VALUES", .key = "values"},
    {0},
};

static const frepctl_column class_cols[] = {
    {.header = "TYPE", .key = "type"},
    {.header = "NAME", .key = "name"},
    {.header = "DATA", .key = "data"},
    {.header = "DESCRIPTION", .key = "description"},
    {0},
};

static const frepctl_column policy_cols[] = {
    {.header = "NAME", .key = "name"},
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "ORDER", .key = "processing_order"},
    {.header = "ENABLED", .key = "enabled", .cell = FREPCTL_CELL_BOOL},
    {.header = "CONDITION", .key = "condition"},
    {.header = "CRITERIA", .key = "criteria", .cell = FREPCTL_CELL_CRITERIA},
    {.header = "RANGES", .key = "ip_ranges", .cell = FREPCTL_CELL_RANGES},
    {.header = "LEASE", .key = "lease_duration_s", .cell = FREPCTL_CELL_DURATION},
    {.header = "OPTIONS", .key = "options", .cell = FREPCTL_CELL_COUNT},
    {0},
};

static const frepctl_column failover_cols[] = {
    {.header = "NAME", .key = "name"},
    {.header = "PARTNER", .key = "partner_server"},
    {.header = "MODE", .key = "mode"},
    {.header = "ROLE", .key = "server_role"},
    {.header = "LB%", .key = "load_balance_percent"},
    {.header = "RESERVE%", .key = "reserve_percent"},
    {.header = "MCLT", .key = "max_client_lead_time_s", .cell = FREPCTL_CELL_DURATION},
    {.header = "STATE", .key = "state"},
    {.header = "AUTO-SYNC", .key = "auto_sync"},
    {.header = "SCOPES", .key = "scope_ids"},
    {0},
};

static const frepctl_column audit_cols[] = {
    {.header = "ID", .key = "id"},
    {.header = "TIME", .key = "time_unix_ms", .cell = FREPCTL_CELL_TIME},
    {.header = "DIRECTION", .key = "direction"},
    {.header = "SOURCE", .key = "source"},
    {.header = "RELATIONSHIP", .key = "relationship"},
    {.header = "SCOPE", .key = "scope_id"},
    {.header = "ADDED", .key = "added"},
    {.header = "UPDATED", .key = "updated"},
    {.header = "REMOVED", .key = "removed"},
    {.header = "CODE", .key = "code", .cell = FREPCTL_CELL_STATUS},
    {.header = "REQUEST-ID", .key = "request_id"},
    {.header = "MESSAGE", .key = "message"},
    {0},
};

/* DHCPv4 options by their IANA names (RFC 2132 and later), so "router"
 * works where 3 does. The server knows options by number only. */
static const struct {
	const char *name;
	uint32_t    code;
} option_names[] = {
    {"subnet-mask", 1},
    {"time-offset", 2},
    {"router", 3},
    {"routers", 3},
    {"time-servers", 4},
    {"name-servers", 5},
    {"domain-name-servers", 6},
    {"dns-servers", 6},
    {"log-servers", 7},
    {"host-name", 12},
    {"boot-size", 13},
    {"domain-name", 15},
    {"swap-server", 16},
    {"root-path", 17},
    {"ip-forwarding", 19},
    {"default-ip-ttl", 23},
    {"interface-mtu", 26},
    {"broadcast-address", 28},
    {"static-routes", 33},
    {"ntp-servers", 42},
    {"vendor-encapsulated-options", 43},
    {"netbios-name-servers", 44},
    {"netbios-node-type", 46},
    {"netbios-scope", 47},
    {"dhcp-lease-time", 51},
    {"dhcp-server-identifier", 54},
    {"dhcp-renewal-time", 58},
    {"dhcp-rebinding-time", 59},
    {"vendor-class-identifier", 60},
    {"tftp-server-name", 66},
    {"boot-file-name", 67},
    {"user-class", 77},
    {"domain-search", 119},
    {"classless-static-route", 121},
    {"wpad", 252},
    {NULL, 0},
};

static int
parse_option_id(const frepctl_args *a, const char *text, uint32_t *out)
{
	if (text[0] < '0' || text[0] > '9') {
		for (size_t i = 0; option_names[i].name != NULL; i++) {
			if (strcasecmp(option_names[i].name, text) == 0) {
				*out = option_names[i].code;
				return 0;
			}
		}
		return frepctl__usage_error(
		    "%s: option \"%s\" is neither a number in 0..255 nor an "
		    "option name frepctl knows (router, domain-name-servers, "
		    "domain-name, ntp-servers, ...; see FREPCTL.md)",
		    a->path, text);
	}
	return parse_u32(a, "option id", text, 0, 255, out);
}

/* --- object kinds as rows ------------------------------------------------- */

/* How a positional argument fills a key field of any message of its kind
 * (the object, its key, its Remove or List request: the field names are
 * the same in each; a message without the field skips it). */
typedef enum key_parse {
	K_TEXT = 0,   /* the text as is */
	K_OPTION_ID,  /* an option code, 0..255 */
	K_CLASS_TYPE, /* vendor|user */
	K_RANGE,      /* START-END into start_range and end_range */
} key_parse;

typedef struct key_arg {
	const char *field; /* NULL: no more positionals */
	key_parse   parse;
} key_arg;

/* One object kind's commands (STYLE rule 16): add / set / get / list /
 * remove share the runs below, which read this row from the command's
 * data. */
typedef struct object_cli {
	const ProtobufCMessageDescriptor *object;
	const char                       *add, *set, *get, *list, *remove; /* DhcpServer methods */
	const char                       *set_field; /* the object's field in the Set request */
	/* the part of the key read before the positionals (flags into a
	 * nested message); NULL none */
	int (*key_first)(const frepctl_args *a, ProtobufCMessage *msg);
	key_arg          key[3];        /* positionals, in order */
	const field_map *key_flags;     /* flags every command reads into the key */
	const field_map *fields;        /* add / set flags, which set's mask names */
	const field_map *request_flags; /* list / remove flags (force, all) */
	const char      *required[3];   /* add: flags checked before anything else */
	/* add / set: what is specific to the kind (after the key); NULL none */
	int (*fill)(const frepctl_args *a, ProtobufCMessage *obj, mask_list *mask);
	/* add / set: what is specific to the kind, after the flags; NULL none */
	int (*fill_after)(const frepctl_args *a, ProtobufCMessage *obj, mask_list *mask);
	/* add: what is specific to the kind, checked last; NULL none */
	int (*check_add)(const frepctl_args *a, const ProtobufCMessage *obj);
	const frepctl_column *cols;
	out_kind              get_out;
	/* remove: the question asked first (printf format taking the first
	 * positional), answered by --yes or --force off a terminal; NULL
	 * removes at once */
	const char *confirm_remove;
} object_cli;

static ProtobufCMessage *
new_message(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = scratch(d->sizeof_message);
	protobuf_c_message_init(d, m);
	return m;
}

static ProtobufCMessage *
new_request(const char *method)
{
	const ProtobufCMethodDescriptor *md =
	    protobuf_c_service_descriptor_get_method_by_name(dhcp, method);
	assert(md != NULL); /* a row names a method the contract lacks */
	return new_message(md->input);
}

/* The key of k from the positionals and key flags into msg. */
static int
key_from_args(const frepctl_args *a, const object_cli *k, ProtobufCMessage *msg)
{
	mask_list unused = {0};

	if (k->key_first != NULL && k->key_first(a, msg) != 0) {
		return EXIT_USAGE;
	}
	for (int i = 0; i < 3 && k->key[i].field != NULL && i < a->npos; i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
		    msg->descriptor, k->key[i].field);
		char *p = f != NULL ? (char *) msg + f->offset : NULL;
		int   type;
		if (f == NULL) {
			continue;
		}
		switch (k->key[i].parse) {
		case K_TEXT:
			*(char **) p = (char *) a->pos[i];
			break;
		case K_OPTION_ID:
			if (parse_option_id(a, a->pos[i], (uint32_t *) p) != 0) {
				return EXIT_USAGE;
			}
			break;
		case K_CLASS_TYPE:
			if (parse_word(a, "class type", a->pos[i], class_types, &type) != 0) {
				return EXIT_USAGE;
			}
			*(int *) p = type;
			break;
		case K_RANGE: {
			const ProtobufCFieldDescriptor *f2 =
			    protobuf_c_message_descriptor_get_field_by_name(
				msg->descriptor, "end_range");
			if (parse_range(a, "range", a->pos[i], (char **) p,
				(char **) ((char *) msg + f2->offset)) != 0) {
				return EXIT_USAGE;
			}
			break;
		}
		}
	}
	return k->key_flags != NULL ? fields_from_flags(a, k->key_flags, msg, &unused) : 0;
}

/* add and set: the object from the key, the kind's own part and the
 * flags. */
static int
object_from_args(const frepctl_args *a, const object_cli *k, ProtobufCMessage *obj, mask_list *mask)
{
	if (key_from_args(a, k, obj) != 0 || (k->fill != NULL && k->fill(a, obj, mask) != 0)) {
		return EXIT_USAGE;
	}
	if (k->fields != NULL && fields_from_flags(a, k->fields, obj, mask) != 0) {
		return EXIT_USAGE;
	}
	return k->fill_after != NULL ? k->fill_after(a, obj, mask) : 0;
}

static int
cmd_object_add(frepctl *ctl, const frepctl_args *a)
{
	const object_cli *k    = a->cmd->data;
	ProtobufCMessage *obj  = new_message(k->object);
	mask_list         mask = {0};
	for (size_t i = 0; i < 3 && k->required[i] != NULL; i++) {
		if (require_flag(a, k->required[i]) != 0) {
			return EXIT_USAGE;
		}
	}
	if (object_from_args(a, k, obj, &mask) != 0 ||
	    (k->check_add != NULL && k->check_add(a, obj) != 0)) {
		return EXIT_USAGE;
	}
	return run_call(ctl, k->add, obj, OUT_ROW, k->cols);
}

static int
cmd_object_set(frepctl *ctl, const frepctl_args *a)
{
	const object_cli               *k    = a->cmd->data;
	ProtobufCMessage               *obj  = new_message(k->object);
	ProtobufCMessage               *req  = new_request(k->set);
	mask_list                       mask = {0};
	const ProtobufCFieldDescriptor *of =
	    protobuf_c_message_descriptor_get_field_by_name(req->descriptor, k->set_field);
	const ProtobufCFieldDescriptor *mf =
	    protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "update_mask");
	if (object_from_args(a, k, obj, &mask) != 0 || require_change(a, &mask) != 0) {
		return EXIT_USAGE;
	}
	*(ProtobufCMessage **) ((char *) req + of->offset) = obj;
	*(char ***) ((char *) req + mf->offset)            = mask.f;
	*(size_t *) ((char *) req + mf->quantifier_offset) = mask.n;
	return run_call(ctl, k->set, req, OUT_ROW, k->cols);
}

/* get, list and remove: a request of the key (and the request flags). */
static int
object_key_call(frepctl *ctl, const frepctl_args *a, const char *method, out_kind kind)
{
	const object_cli *k      = a->cmd->data;
	ProtobufCMessage *req    = new_request(method);
	mask_list         unused = {0};
	if (key_from_args(a, k, req) != 0 ||
	    (k->request_flags != NULL &&
		fields_from_flags(a, k->request_flags, req, &unused) != 0)) {
		return EXIT_USAGE;
	}
	return run_call(ctl, method, req, kind, k->cols);
}

static int
cmd_object_get(frepctl *ctl, const frepctl_args *a)
{
	const object_cli *k = a->cmd->data;
	return object_key_call(ctl, a, k->get, k->get_out);
}

static int
cmd_object_list(frepctl *ctl, const frepctl_args *a)
{
	const object_cli *k = a->cmd->data;
	return object_key_call(ctl, a, k->list, OUT_LIST);
}

static int
cmd_object_remove(frepctl *ctl, const frepctl_args *a)
{
	const object_cli *k = a->cmd->data;
	if (k->confirm_remove != NULL) {
		char q[300];
		snprintf(q, sizeof(q), k->confirm_remove, a->pos[0]);
		int rc = frepctl__confirm(
		    a, frepctl__arg_has(a, "force") || frepctl__arg_has(a, "yes"), q);
		if (rc != 0) {
			return rc;
		}
	}
	return object_key_call(ctl, a, k->remove, OUT_NONE);
}

/* --- scope ------------------------------------------------------------------ */

static const field_map scope_fields[] = {
    {.flag = "range", .field = "start_range", .field2 = "end_range", .kind = F_RANGE},
    {.flag = "name", .field = "name"},
    {.flag = "description", .field = "description"},
    {.flag = "lease", .field = "lease_duration_s", .kind = F_DURATION},
    {.flag = "state", .field = "state", .kind = F_ENUM, .names = scope_states},
    {.flag = "type", .field = "type", .kind = F_ENUM, .names = client_types},
    {.flag = "superscope", .field = "superscope_name"},
    {.flag = "max-bootp", .field = "max_bootp_clients", .kind = F_UINT, .max = FREPCTL_UNLIMITED},
    {.flag = "delay-ms", .field = "delay_ms", .kind = F_UINT, .max = 65535},
    {.flag = "activate-policies", .field = "activate_policies", .kind = F_YESNO},
    {0},
};

#define SCOPE_FLAGS                                                                                \
	{.name = "range", .arg = "START-END", .help = "the addresses the scope leases"},           \
	    {.name = "name", .arg = "NAME", .help = "the scope's name"},                           \
	    {.name = "description", .arg = "TEXT", .help = "free text"},                           \
	    {.name = "mask", .arg = "MASK", .help = "subnet mask, dotted or a prefix length"},     \
	    {.name = "lease", .arg = "DURATION", .help = "8d, 12h, 30m, 3600 or unlimited"},       \
	    {.name = "state", .arg = "active|inactive", .help = "whether the scope serves"},       \
	    {.name = "type", .arg = "dhcp|bootp|both", .help = "which clients it serves"},         \
	    {.name = "superscope", .arg = "NAME", .help = "superscope it belongs to"},             \
	    {.name = "max-bootp", .arg = "N", .help = "most BOOTP clients"},                       \
	    {.name = "delay-ms", .arg = "N", .help = "delay before offering, in ms"},              \
	{                                                                                          \
		.name = "activate-policies", .arg = "yes|no", .help = "whether policies apply"     \
	}

static const frepctl_flag scope_add_flags[] = {SCOPE_FLAGS, {0}};
static const frepctl_flag scope_set_flags[] = {SCOPE_FLAGS, {0}};
static const frepctl_flag force_flags[]     = {
	{.name    = "force",
	    .help = "even when it belongs to a failover relationship: it leaves the relationship on "
			"both servers and the partner deletes its copy (no confirmation)"},
	{.name = "yes", .help = "do not ask for confirmation"}, {0}};

/* The network (and --mask) of scope add / set. */
static int
scope_fill(const frepctl_args *a, ProtobufCMessage *obj, mask_list *mask)
{
	Frep__V1__Scope *sc       = (Frep__V1__Scope *) obj;
	char            *net_mask = NULL;
	if (parse_network(a, a->pos[0], &sc->scope_id, &net_mask) != 0) {
		return EXIT_USAGE;
	}
	if (frepctl__arg_has(a, "mask")) {
		if (net_mask != NULL) {
			return frepctl__usage_error(
			    "%s: %s already has a prefix length; drop --mask", a->path, a->pos[0]);
		}
		if (parse_mask_flag(a, frepctl__arg(a, "mask"), &net_mask) != 0) {
			return EXIT_USAGE;
		}
	}
	if (net_mask != NULL) {
		sc->subnet_mask = net_mask;
		if (mask_add(a, mask, "subnet_mask", "mask") != 0) {
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int
scope_check_add(const frepctl_args *a, const ProtobufCMessage *obj)
{
	const Frep__V1__Scope *sc = (const Frep__V1__Scope *) obj;
	if (sc->subnet_mask == NULL || sc->subnet_mask[0] == '\0') {
		return frepctl__usage_error(
		    "%s: \"%s\" needs a prefix length (10.0.0.0/24) or --mask", a->path, a->pos[0]);
	}
	if (require_flag(a, "range") != 0 || require_flag(a, "name") != 0) {
		return EXIT_USAGE;
	}
	return 0;
}

static const field_map force_field[] = {
    {.flag = "force", .field = "force", .kind = F_SET_TRUE},
    {0},
};

static const object_cli scope_cli = {
    .object         = &frep__v1__scope__descriptor,
    .add            = "AddScope",
    .set            = "SetScope",
    .get            = "GetScope",
    .list           = "ListScopes",
    .remove         = "RemoveScope",
    .set_field      = "scope",
    .key            = {{.field = "scope_id"}},
    .fields         = scope_fields,
    .request_flags  = force_field,
    .fill           = scope_fill,
    .check_add      = scope_check_add,
    .cols           = scope_cols,
    .get_out        = OUT_OBJECT,
    .confirm_remove = "Remove scope %s with its exclusions, reservations, options and policies?",
};

/* Rows of owner → option pairs, so a table shows whose option each is. */
static json_t *
owned_options(const json_t *owners, const char *owner_key, const char *column)
{
	json_t *rows = json_array();
	size_t  i, k;
	json_t *o, *opt;
	json_array_foreach(owners, i, o)
	{
		json_array_foreach(json_object_get(o, "options"), k, opt)
		{
			json_t *row = json_deep_copy(opt);
			json_object_set(row, column, json_object_get(o, owner_key));
			json_array_append_new(rows, row);
		}
	}
	return rows;
}

static const frepctl_column reservation_option_cols[] = {
    {.header = "RESERVATION", .key = "reservation"},
    {.header = "ID", .key = "option_id"},
    {.header = "VENDOR-CLASS", .key = "vendor_class"},
    {.header = "USER-CLASS", .key = "user_class"},
    {.header = "VALUES", .key = "values"},
    {0},
};

static const frepctl_column policy_option_cols[] = {
    {.header = "POLICY", .key = "policy"},
    {.header = "ID", .key = "option_id"},
    {.header = "VENDOR-CLASS", .key = "vendor_class"},
    {.header = "USER-CLASS", .key = "user_class"},
    {.header = "VALUES", .key = "values"},
    {0},
};

static const frepctl_column optiondef_ref_cols[] = {
    {.header = "ID", .key = "option_id"},
    {.header = "VENDOR-CLASS", .key = "vendor_class"},
    {0},
};

static const frepctl_column class_ref_cols[] = {
    {.header = "TYPE", .key = "type"},
    {.header = "NAME", .key = "name"},
    {0},
};

/* Everything replicated for one scope, section by section. */
static void
print_scope_config(const json_t *cfg)
{
	json_t *rs = json_object_get(cfg, "reservations");
	json_t *ps = json_object_get(cfg, "policies");
	json_t *rows;
	printf("scope:\n");
	frepctl_table_print_object(stdout, json_object_get(cfg, "scope"), 2);
	printf("\nexclusions:\n");
	frepctl_table_print(stdout, json_object_get(cfg, "exclusions"), exclusion_cols, 2);
	printf("\nreservations:\n");
	frepctl_table_print(stdout, rs, reservation_cols, 2);
	rows = owned_options(rs, "ip_address", "reservation");
	printf("\nreservation options:\n");
	frepctl_table_print(stdout, rows, reservation_option_cols, 2);
	json_decref(rows);
	printf("\nscope options:\n");
	frepctl_table_print(stdout, json_object_get(cfg, "options"), option_cols, 2);
	printf("\npolicies:\n");
	frepctl_table_print(stdout, ps, policy_cols, 2);
	rows = owned_options(ps, "name", "policy");
	printf("\npolicy options:\n");
	frepctl_table_print(stdout, rows, policy_option_cols, 2);
	json_decref(rows);
	printf("\noption definitions used:\n");
	frepctl_table_print(
	    stdout, json_object_get(cfg, "option_definitions_used"), optiondef_ref_cols, 2);
	printf("\nclasses used:\n");
	frepctl_table_print(stdout, json_object_get(cfg, "classes_used"), class_ref_cols, 2);
	printf("\ndigest: %s\n", json_string_value(json_object_get(cfg, "digest")));
}

static int
cmd_scope_show(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__ScopeConfigRequest req = FREP__V1__SCOPE_CONFIG_REQUEST__INIT;
	frep_status                  st;
	req.scope_id          = (char *) a->pos[0];
	ProtobufCMessage *out = frepctl__call(ctl, dhcp, "GetScopeConfig", &req.base, &st);
	if (out == NULL) {
		return frepctl__fail_status(&st);
	}
	if (ctl->json) {
		frepctl__print_json(frepctl_json_from_message(out, 0));
	} else {
		json_t *j = frepctl_json_from_message(out, FREPCTL_JSON_SHORT_ENUMS);
		print_scope_config(j);
		json_decref(j);
	}
	protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

static const frepctl_command scope_commands[] = {
    {.name        = "add",
	.args     = "NETWORK/PREFIX --range A-B --name N",
	.min_args = 1,
	.max_args = 1,
	.summary  = "add a scope (Add-DhcpServerv4Scope)",
	.flags    = scope_add_flags,
	.run      = cmd_object_add,
	.data     = &scope_cli},
    {.name        = "set",
	.args     = "SCOPE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "change the given properties of a scope (Set-DhcpServerv4Scope)",
	.flags    = scope_set_flags,
	.run      = cmd_object_set,
	.data     = &scope_cli},
    {.name        = "get",
	.args     = "SCOPE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "show one scope's properties (Get-DhcpServerv4Scope)",
	.run      = cmd_object_get,
	.data     = &scope_cli},
    {.name       = "list",
	.args    = "",
	.summary = "list every scope",
	.run     = cmd_object_list,
	.data    = &scope_cli},
    {.name        = "remove",
	.args     = "SCOPE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "remove a scope and everything in it: exclusions, reservations, options, "
		    "policies (Remove-DhcpServerv4Scope; asks first)",
	.flags    = force_flags,
	.run      = cmd_object_remove,
	.data     = &scope_cli},
    {.name        = "show",
	.args     = "SCOPE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "everything in a scope as replication sees it, with its digest",
	.run      = cmd_scope_show},
    {0},
};

/* --- exclusion ranges -------------------------------------------------------- */

static const object_cli exclusion_cli = {
    .object = &frep__v1__exclusion_range__descriptor,
    .add    = "AddExclusionRange",
    .list   = "ListExclusionRanges",
    .remove = "RemoveExclusionRange",
    .key    = {{.field = "scope_id"}, {.field = "start_range", .parse = K_RANGE}},
    .cols   = exclusion_cols,
};

static const frepctl_command exclusion_commands[] = {
    {.name        = "add",
	.args     = "SCOPE START-END",
	.min_args = 2,
	.max_args = 2,
	.summary  = "exclude a range from a scope (Add-DhcpServerv4ExclusionRange)",
	.run      = cmd_object_add,
	.data     = &exclusion_cli},
    {.name        = "remove",
	.args     = "SCOPE START-END",
	.min_args = 2,
	.max_args = 2,
	.summary  = "remove an exclusion range",
	.run      = cmd_object_remove,
	.data     = &exclusion_cli},
    {.name        = "list",
	.args     = "[SCOPE]",
	.max_args = 1,
	.summary  = "list exclusion ranges (of every scope without SCOPE)",
	.run      = cmd_object_list,
	.data     = &exclusion_cli},
    {0},
};

/* --- reservations ----------------------------------------------------------- */

static const field_map reservation_fields[] = {
    {.flag = "client-id", .field = "client_id"},
    {.flag = "name", .field = "name"},
    {.flag = "description", .field = "description"},
    {.flag = "type", .field = "type", .kind = F_ENUM, .names = client_types},
    {0},
};

static const frepctl_flag reservation_flags[] = {
    {.name = "client-id", .arg = "HEX", .help = "client id or MAC, e.g. 00-11-22-33-44-55"},
    {.name = "name", .arg = "NAME", .help = "the reservation's name"},
    {.name = "description", .arg = "TEXT", .help = "free text"},
    {.name = "type", .arg = "dhcp|bootp|both", .help = "which protocol it answers"},
    {0},
};

static const object_cli reservation_cli = {
    .object    = &frep__v1__reservation__descriptor,
    .add       = "AddReservation",
    .set       = "SetReservation",
    .get       = "GetReservation",
    .list      = "ListReservations",
    .remove    = "RemoveReservation",
    .set_field = "reservation",
    .key       = {{.field = "scope_id"}, {.field = "ip_address"}},
    .fields    = reservation_fields,
    .required  = {"client-id"},
    .cols      = reservation_cols,
    .get_out   = OUT_OBJECT,
};

static const frepctl_command reservation_commands[] = {
    {.name        = "add",
	.args     = "SCOPE IP --client-id HEX",
	.min_args = 2,
	.max_args = 2,
	.summary  = "reserve an address for a client (Add-DhcpServerv4Reservation)",
	.flags    = reservation_flags,
	.run      = cmd_object_add,
	.data     = &reservation_cli},
    {.name        = "set",
	.args     = "SCOPE IP",
	.min_args = 2,
	.max_args = 2,
	.summary  = "change the given properties of a reservation",
	.flags    = reservation_flags,
	.run      = cmd_object_set,
	.data     = &reservation_cli},
    {.name        = "get",
	.args     = "SCOPE IP",
	.min_args = 2,
	.max_args = 2,
	.summary  = "show one reservation with its options",
	.run      = cmd_object_get,
	.data     = &reservation_cli},
    {.name        = "remove",
	.args     = "SCOPE IP",
	.min_args = 2,
	.max_args = 2,
	.summary  = "remove a reservation",
	.run      = cmd_object_remove,
	.data     = &reservation_cli},
    {.name        = "list",
	.args     = "[SCOPE]",
	.max_args = 1,
	.summary  = "list reservations (of every scope without SCOPE)",
	.run      = cmd_object_list,
	.data     = &reservation_cli},
    {0},
};

/* --- option definitions ------------------------------------------------------ */

static const field_map optiondef_fields[] = {
    {.flag = "name", .field = "name"},
    {.flag = "description", .field = "description"},
    {.flag = "type", .field = "type", .kind = F_ENUM, .names = option_types},
    {.flag = "multi", .field = "multi_valued", .kind = F_SET_TRUE},
    {.flag = "single", .field = "multi_valued", .kind = F_SET_FALSE},
    {.flag = "default", .field = "default_value", .kind = F_LIST},
    {0},
};

#define VENDOR_CLASS_FLAG                                                                          \
	{                                                                                          \
		.name = "vendor-class", .arg = "NAME",                                             \
		.help = "the vendor option space (default: standard)"                              \
	}

static const frepctl_flag optiondef_add_flags[] = {
    {.name = "name", .arg = "NAME", .help = "the option's name"},
    {.name    = "type",
	.arg  = "TYPE",
	.help = "byte, word, dword, dword-dword, ipv4, string, binary, encapsulated or ipv6"},
    {.name = "multi", .help = "the option holds a list of values"},
    {.name = "default", .arg = "V[,V...]", .help = "default value(s)"},
    {.name = "description", .arg = "TEXT", .help = "free text"},
    VENDOR_CLASS_FLAG,
    {0},
};

static const frepctl_flag optiondef_set_flags[] = {
    {.name = "name", .arg = "NAME", .help = "the option's name"},
    {.name    = "type",
	.arg  = "TYPE",
	.help = "byte, word, dword, dword-dword, ipv4, string, binary, encapsulated or ipv6"},
    {.name = "multi", .help = "the option holds a list of values"},
    {.name = "single", .help = "the option holds one value"},
    {.name = "default", .arg = "V[,V...]", .help = "default value(s)"},
    {.name = "description", .arg = "TEXT", .help = "free text"},
    VENDOR_CLASS_FLAG,
    {0},
};

static const frepctl_flag vendor_class_flags[] = {VENDOR_CLASS_FLAG, {0}};

static const frepctl_flag optiondef_list_flags[] = {
    VENDOR_CLASS_FLAG,
    {.name = "all", .help = "every option space"},
    {0},
};

static const field_map vendor_class_field[] = {
    {.flag = "vendor-class", .field = "vendor_class"},
    {0},
};

static const field_map all_vendors_field[] = {
    {.flag = "all", .field = "all_vendors", .kind = F_SET_TRUE},
    {0},
};

static const object_cli optiondef_cli = {
    .object        = &frep__v1__option_definition__descriptor,
    .add           = "AddOptionDefinition",
    .set           = "SetOptionDefinition",
    .get           = "GetOptionDefinition",
    .list          = "ListOptionDefinitions",
    .remove        = "RemoveOptionDefinition",
    .set_field     = "definition",
    .key           = {{.field = "option_id", .parse = K_OPTION_ID}},
    .key_flags     = vendor_class_field,
    .fields        = optiondef_fields,
    .request_flags = all_vendors_field,
    .required      = {"name", "type"},
    .cols          = optiondef_cols,
    .get_out       = OUT_OBJECT,
};

static const frepctl_command optiondef_commands[] = {
    {.name        = "add",
	.args     = "CODE --name N --type T",
	.min_args = 1,
	.max_args = 1,
	.summary  = "define an option (Add-DhcpServerv4OptionDefinition)",
	.flags    = optiondef_add_flags,
	.run      = cmd_object_add,
	.data     = &optiondef_cli},
    {.name        = "set",
	.args     = "CODE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "change the given properties of an option definition",
	.flags    = optiondef_set_flags,
	.run      = cmd_object_set,
	.data     = &optiondef_cli},
    {.name        = "get",
	.args     = "CODE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "show one option definition",
	.flags    = vendor_class_flags,
	.run      = cmd_object_get,
	.data     = &optiondef_cli},
    {.name       = "list",
	.args    = "",
	.summary = "list option definitions (standard space by default)",
	.flags   = optiondef_list_flags,
	.run     = cmd_object_list,
	.data    = &optiondef_cli},
    {.name        = "remove",
	.args     = "CODE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "remove an option definition nothing uses",
	.flags    = vendor_class_flags,
	.run      = cmd_object_remove,
	.data     = &optiondef_cli},
    {0},
};

/* --- option values ------------------------------------------------------------ */

#define TARGET_FLAGS                                                                               \
	{.name = "scope", .arg = "SCOPE", .help = "scope level (or the scope of --policy)"},       \
	    {.name = "reservation", .arg = "IP", .help = "reservation level (with --scope)"},      \
	{                                                                                          \
		.name = "policy", .arg = "NAME",                                                   \
		.help = "policy level (server-level policy "                                       \
			"without --scope)"                                                         \
	}

#define CLASS_FLAGS                                                                                \
	VENDOR_CLASS_FLAG,                                                                         \
	{                                                                                          \
		.name = "user-class", .arg = "NAME", .help = "the user class (default: none)"      \
	}

static const frepctl_flag option_set_flags[] = {
    TARGET_FLAGS,
    CLASS_FLAGS,
    {.name = "raw", .help = "take each VALUE whole (for strings holding commas)"},
    {0},
};
static const frepctl_flag option_key_flags[]  = {TARGET_FLAGS, CLASS_FLAGS, {0}};
static const frepctl_flag option_list_flags[] = {TARGET_FLAGS, {0}};

/* The level an option value sits at, from --scope / --reservation /
 * --policy; none of them: the server. */
static int
target_from_flags(const frepctl_args *a, Frep__V1__OptionTarget *t)
{
	const char *scope  = frepctl__arg(a, "scope");
	const char *res    = frepctl__arg(a, "reservation");
	const char *policy = frepctl__arg(a, "policy");
	if (res != NULL && scope == NULL) {
		return frepctl__usage_error("%s: --reservation %s needs --scope", a->path, res);
	}
	if (res != NULL && policy != NULL) {
		return frepctl__usage_error(
		    "%s: --reservation %s and --policy %s: an option sits at one level", a->path,
		    res, policy);
	}
	t->scope_id    = scope != NULL ? (char *) scope : "";
	t->reserved_ip = res != NULL ? (char *) res : "";
	t->policy_name = policy != NULL ? (char *) policy : "";
	return 0;
}

static void
classes_from_flags(const frepctl_args *a, char **vendor_class, char **user_class)
{
	const char *vc = frepctl__arg(a, "vendor-class");
	const char *uc = frepctl__arg(a, "user-class");
	*vendor_class  = vc != NULL ? (char *) vc : "";
	*user_class    = uc != NULL ? (char *) uc : "";
}

static int
cmd_option_set(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__SetOptionValueRequest req = FREP__V1__SET_OPTION_VALUE_REQUEST__INIT;
	Frep__V1__OptionTarget          t   = FREP__V1__OPTION_TARGET__INIT;
	Frep__V1__OptionValue           v   = FREP__V1__OPTION_VALUE__INIT;
	bool                            raw = frepctl__arg_has(a, "raw");
	if (target_from_flags(a, &t) != 0 || parse_option_id(a, a->pos[0], &v.option_id) != 0) {
		return EXIT_USAGE;
	}
	classes_from_flags(a, &v.vendor_class, &v.user_class);
	for (int i = 1; i < a->npos; i++) {
		if (raw) {
			char **grown = scratch((v.n_values + 1) * sizeof(char *));
			if (v.n_values > 0) {
				memcpy(grown, v.values, v.n_values * sizeof(char *));
			}
			grown[v.n_values++] = (char *) a->pos[i];
			v.values            = grown;
		} else {
			split_append(a->pos[i], &v.values, &v.n_values);
		}
	}
	req.target = &t;
	req.value  = &v;
	return run_call(ctl, "SetOptionValue", &req.base, OUT_ROW, option_cols);
}

/* The target of option get / list / remove: a nested OptionTarget. */
static int
option_target(const frepctl_args *a, ProtobufCMessage *msg)
{
	Frep__V1__OptionTarget         *t = scratch(sizeof(*t));
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "target");
	assert(f != NULL); /* every request of the kind has one */
	frep__v1__option_target__init(t);
	if (target_from_flags(a, t) != 0) {
		return EXIT_USAGE;
	}
	*(Frep__V1__OptionTarget **) ((char *) msg + f->offset) = t;
	return 0;
}

static const field_map option_class_fields[] = {
    {.flag = "vendor-class", .field = "vendor_class"},
    {.flag = "user-class", .field = "user_class"},
    {0},
};

/* option set (a target, the value, --raw) stays explicit above. */
static const object_cli option_cli = {
    .object    = &frep__v1__option_value__descriptor,
    .get       = "GetOptionValue",
    .list      = "ListOptionValues",
    .remove    = "RemoveOptionValue",
    .key_first = option_target,
    .key       = {{.field = "option_id", .parse = K_OPTION_ID}},
    .key_flags = option_class_fields,
    .cols      = option_cols,
    .get_out   = OUT_ROW,
};

static const frepctl_command option_commands[] = {
    {.name        = "set",
	.args     = "CODE VALUE[,VALUE...]",
	.min_args = 2,
	.max_args = FREPCTL_MAX_ARGS,
	.summary  = "set an option value at server, scope, reservation or policy level "
		    "(Set-DhcpServerv4OptionValue)",
	.flags    = option_set_flags,
	.run      = cmd_option_set},
    {.name        = "get",
	.args     = "CODE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "show one option value",
	.flags    = option_key_flags,
	.run      = cmd_object_get,
	.data     = &option_cli},
    {.name       = "list",
	.args    = "",
	.summary = "list the option values at one level",
	.flags   = option_list_flags,
	.run     = cmd_object_list,
	.data    = &option_cli},
    {.name        = "remove",
	.args     = "CODE",
	.min_args = 1,
	.max_args = 1,
	.summary  = "remove an option value",
	.flags    = option_key_flags,
	.run      = cmd_object_remove,
	.data     = &option_cli},
    {0},
};

/* --- classes ------------------------------------------------------------------ */

static const field_map class_fields[] = {
    {.flag = "data", .field = "data"},
    {.flag = "description", .field = "description"},
    {0},
};

static const frepctl_flag class_flags[] = {
    {.name = "data", .arg = "TEXT", .help = "the class id clients send (option 60 / 77)"},
    {.name = "description", .arg = "TEXT", .help = "free text"},
    {0},
};

static const object_cli class_cli = {
    .object    = &frep__v1__class__descriptor,
    .add       = "AddClass",
    .set       = "SetClass",
    .get       = "GetClass",
    .list      = "ListClasses",
    .remove    = "RemoveClass",
    .set_field = "class_def",
    .key       = {{.field = "type", .parse = K_CLASS_TYPE}, {.field = "name"}},
    .fields    = class_fields,
    .required  = {"data"},
    .cols      = class_cols,
    .get_out   = OUT_ROW,
};

static const frepctl_command class_commands[] = {
    {.name        = "add",
	.args     = "vendor|user NAME --data D",
	.min_args = 2,
	.max_args = 2,
	.summary  = "add a vendor or user class (Add-DhcpServerv4Class)",
	.flags    = class_flags,
	.run      = cmd_object_add,
	.data     = &class_cli},
    {.name        = "set",
	.args     = "vendor|user NAME",
	.min_args = 2,
	.max_args = 2,
	.summary  = "change a class's data or description",
	.flags    = class_flags,
	.run      = cmd_object_set,
	.data     = &class_cli},
    {.name        = "get",
	.args     = "vendor|user NAME",
	.min_args = 2,
	.max_args = 2,
	.summary  = "show one class",
	.run      = cmd_object_get,
	.data     = &class_cli},
    {.name        = "list",
	.args     = "[vendor|user]",
	.max_args = 1,
	.summary  = "list classes",
	.run      = cmd_object_list,
	.data     = &class_cli},
    {.name        = "remove",
	.args     = "vendor|user NAME",
	.min_args = 2,
	.max_args = 2,
	.summary  = "remove a class nothing uses",
	.run      = cmd_object_remove,
	.data     = &class_cli},
    {0},
};

/* --- policies ------------------------------------------------------------------ */

static const field_map policy_fields[] = {
    {.flag = "description", .field = "description"},
    {.flag = "condition", .field = "condition", .kind = F_ENUM, .names = conditions},
    {.flag = "order", .field = "processing_order", .kind = F_UINT, .max = 65535},
    {.flag = "disabled", .field = "enabled", .kind = F_SET_FALSE},
    {.flag = "enabled", .field = "enabled", .kind = F_YESNO},
    {.flag = "lease", .field = "lease_duration_s", .kind = F_DURATION},
    {0},
};

#define POLICY_FLAGS                                                                               \
	{.name = "scope", .arg = "SCOPE", .help = "the policy's scope (default: server level)"},   \
	    {.name = "condition", .arg = "and|or", .help = "how the criteria combine"},            \
	    {.name = "order", .arg = "N", .help = "processing order"},                             \
	    {.name = "disabled", .help = "the policy does not apply"},                             \
	    {.name = "description", .arg = "TEXT", .help = "free text"},                           \
	    {.name = "lease", .arg = "DURATION", .help = "lease duration of its clients"},         \
	    {.name      = "criterion",                                                             \
		.arg    = "TYPE:eq|ne:V[,V...]",                                                   \
		.help   = "TYPE: vendor-class, user-class, mac, client-id, relay-agent, "          \
			  "circuit-id, remote-id, subscriber-id, fqdn",                            \
		.repeat = true},                                                                   \
	{                                                                                          \
		.name = "range", .arg = "START-END", .help = "an address range (scope level)",     \
		.repeat = true                                                                     \
	}

static const frepctl_flag policy_add_flags[] = {POLICY_FLAGS, {0}};
static const frepctl_flag policy_set_flags[] = {
    POLICY_FLAGS,
    {.name = "enabled", .arg = "yes|no", .help = "whether the policy applies"},
    {.name = "clear-criteria", .help = "remove every criterion"},
    {.name = "clear-ranges", .help = "remove every address range"},
    {0},
};
static const frepctl_flag scope_flag[] = {
    {.name = "scope", .arg = "SCOPE", .help = "the policy's scope (default: server level)"}, {0}};
static const frepctl_flag scope_required_flag[] = {
    {.name = "scope", .arg = "SCOPE", .help = "the policy's scope (required)"}, {0}};

/* "TYPE:eq|ne:V[,V...]": only the first two colons split, so values keep
 * theirs (client ids written 00:11:22). */
static int
parse_criterion(const frepctl_args *a, const char *text, Frep__V1__Criterion *c)
{
	const char *c1 = strchr(text, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	int         type, cmp;
	if (c2 == NULL || c2[1] == '\0') {
		return frepctl__usage_error(
		    "%s: --criterion \"%s\" is not TYPE:eq|ne:VALUE[,VALUE...]", a->path, text);
	}
	char *type_word = scratch_strndup(text, (size_t) (c1 - text));
	char *cmp_word  = scratch_strndup(c1 + 1, (size_t) (c2 - c1 - 1));
	if (parse_word(a, "--criterion type", type_word, criterion_types, &type) != 0 ||
	    parse_word(a, "--criterion comparator", cmp_word, comparators, &cmp) != 0) {
		return EXIT_USAGE;
	}
	c->type       = (Frep__V1__CriterionType) type;
	c->comparator = (Frep__V1__Comparator) cmp;
	split_append(c2 + 1, &c->values, &c->n_values);
	return 0;
}

/* The criteria and ranges of policy add / set. */
static int
policy_fill(const frepctl_args *a, ProtobufCMessage *obj, mask_list *mask)
{
	Frep__V1__Policy  *p = (Frep__V1__Policy *) obj;
	const char *const *vals;
	size_t             n;
	n = frepctl__arg_all(a, "criterion", &vals);
	if (n > 0 || frepctl__arg_has(a, "clear-criteria")) {
		if (n > 0 && frepctl__arg_has(a, "clear-criteria")) {
			return frepctl__usage_error(
			    "%s: --criterion and --clear-criteria", a->path);
		}
		p->criteria   = scratch((n + 1) * sizeof(*p->criteria));
		p->n_criteria = n;
		for (size_t i = 0; i < n; i++) {
			Frep__V1__Criterion *c = scratch(sizeof(*c));
			frep__v1__criterion__init(c);
			if (parse_criterion(a, vals[i], c) != 0) {
				return EXIT_USAGE;
			}
			p->criteria[i] = c;
		}
		if (mask_add(a, mask, "criteria", "criterion") != 0) {
			return EXIT_USAGE;
		}
	}
	n = frepctl__arg_all(a, "range", &vals);
	if (n > 0 || frepctl__arg_has(a, "clear-ranges")) {
		if (n > 0 && frepctl__arg_has(a, "clear-ranges")) {
			return frepctl__usage_error("%s: --range and --clear-ranges", a->path);
		}
		p->ip_ranges   = scratch((n + 1) * sizeof(*p->ip_ranges));
		p->n_ip_ranges = n;
		for (size_t i = 0; i < n; i++) {
			Frep__V1__IpRange *r = scratch(sizeof(*r));
			frep__v1__ip_range__init(r);
			if (parse_range(a, "--range", vals[i], &r->start_range, &r->end_range) !=
			    0) {
				return EXIT_USAGE;
			}
			p->ip_ranges[i] = r;
		}
		if (mask_add(a, mask, "ip_ranges", "range") != 0) {
			return EXIT_USAGE;
		}
	}
	return 0;
}

static const field_map scope_field[] = {
    {.flag = "scope", .field = "scope_id"},
    {0},
};

static const object_cli policy_cli = {
    .object     = &frep__v1__policy__descriptor,
    .add        = "AddPolicy",
    .set        = "SetPolicy",
    .get        = "GetPolicy",
    .remove     = "RemovePolicy",
    .set_field  = "policy",
    .key        = {{.field = "name"}},
    .key_flags  = scope_field,
    .fields     = policy_fields,
    .fill_after = policy_fill,
    .cols       = policy_cols,
    .get_out    = OUT_OBJECT,
};

/* Explicit: no --scope means the server level, said as server_level. */
static int
cmd_policy_list(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__ListPoliciesRequest req   = FREP__V1__LIST_POLICIES_REQUEST__INIT;
	const char                   *scope = frepctl__arg(a, "scope");
	req.scope_id                        = scope != NULL ? (char *) scope : "";
	req.server_level                    = scope == NULL;
	return run_call(ctl, "ListPolicies", &req.base, OUT_LIST, policy_cols);
}

static int
policy_range_call(frepctl *ctl, const frepctl_args *a, const char *method)
{
	Frep__V1__PolicyIpRangeRequest req = FREP__V1__POLICY_IP_RANGE_REQUEST__INIT;
	Frep__V1__IpRange              r   = FREP__V1__IP_RANGE__INIT;
	if (require_flag(a, "scope") != 0 ||
	    parse_range(a, "range", a->pos[1], &r.start_range, &r.end_range) != 0) {
		return EXIT_USAGE;
	}
	req.scope_id    = (char *) frepctl__arg(a, "scope");
	req.policy_name = (char *) a->pos[0];
	req.range       = &r;
	return run_call(ctl, method, &req.base, OUT_ROW, policy_cols);
}

static int
cmd_policy_range_add(frepctl *ctl, const frepctl_args *a)
{
	return policy_range_call(ctl, a, "AddPolicyIpRange");
}

static int
cmd_policy_range_remove(frepctl *ctl, const frepctl_args *a)
{
	return policy_range_call(ctl, a, "RemovePolicyIpRange");
}

static const frepctl_command policy_range_commands[] = {
    {.name        = "add",
	.args     = "NAME --scope S START-END",
	.min_args = 2,
	.max_args = 2,
	.summary  = "add an address range to a scope policy (Add-DhcpServerv4PolicyIPRange)",
	.flags    = scope_required_flag,
	.run      = cmd_policy_range_add},
    {.name        = "remove",
	.args     = "NAME --scope S START-END",
	.min_args = 2,
	.max_args = 2,
	.summary  = "remove an address range from a scope policy",
	.flags    = scope_required_flag,
	.run      = cmd_policy_range_remove},
    {0},
};

static const frepctl_command policy_commands[] = {
    {.name        = "add",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "add a server or scope policy (Add-DhcpServerv4Policy)",
	.flags    = policy_add_flags,
	.run      = cmd_object_add,
	.data     = &policy_cli},
    {.name        = "set",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "change the given properties of a policy (criteria and ranges are replaced)",
	.flags    = policy_set_flags,
	.run      = cmd_object_set,
	.data     = &policy_cli},
    {.name        = "get",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "show one policy with its criteria, ranges and options",
	.flags    = scope_flag,
	.run      = cmd_object_get,
	.data     = &policy_cli},
    {.name       = "list",
	.args    = "",
	.summary = "list a scope's policies (server level without --scope)",
	.flags   = scope_flag,
	.run     = cmd_policy_list},
    {.name        = "remove",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "remove a policy",
	.flags    = scope_flag,
	.run      = cmd_object_remove,
	.data     = &policy_cli},
    {.name = "range", .summary = "a scope policy's address ranges", .sub = policy_range_commands},
    {0},
};

/* --- failover -------------------------------------------------------------------- */

static const field_map failover_fields[] = {
    {.flag = "partner", .field = "partner_server"},
    {.flag = "local", .field = "local_server"},
    {.flag = "mode", .field = "mode", .kind = F_ENUM, .names = failover_modes},
    {.flag = "role", .field = "server_role", .kind = F_ENUM, .names = server_roles},
    {.flag = "percent", .field = "load_balance_percent", .kind = F_UINT, .max = 100},
    {.flag = "reserve", .field = "reserve_percent", .kind = F_UINT, .max = 100},
    {.flag = "mclt", .field = "max_client_lead_time_s", .kind = F_DURATION},
    {.flag = "auto-state-transition", .field = "auto_state_transition", .kind = F_YESNO},
    {.flag = "switch-interval", .field = "state_switch_interval_s", .kind = F_DURATION},
    {.flag = "auto-sync", .field = "auto_sync", .kind = F_ENUM, .names = auto_sync_values},
    {0},
};

#define FAILOVER_FLAGS                                                                             \
	{.name = "partner", .arg = "URL", .help = "the partner frepd, e.g. tcp://10.0.0.2:6470"},  \
	    {.name = "local", .arg = "URL", .help = "how the partner reaches this server"},        \
	    {.name = "mode", .arg = "load-balance|hot-standby", .help = "failover mode"},          \
	    {.name = "percent", .arg = "N", .help = "load balance: this server's share, 0..100"},  \
	    {.name = "role", .arg = "active|standby", .help = "hot standby: this server's role"},  \
	    {.name = "reserve", .arg = "N", .help = "hot standby: reserve percent, 0..100"},       \
	    {.name = "mclt", .arg = "DURATION", .help = "maximum client lead time"},               \
	    {.name    = "auto-state-transition",                                                   \
		.arg  = "yes|no",                                                                  \
		.help = "move to partner-down by itself"},                                         \
	    {.name = "switch-interval", .arg = "DURATION", .help = "state switch interval"},       \
	    {.name    = "auto-sync",                                                               \
		.arg  = "on|off",                                                                  \
		.help = "replicate changed scopes to the partner by itself (default on)"},         \
	{                                                                                          \
		.name = "secret-file", .arg = "FILE",                                              \
		.help = "shared secret (first line of FILE; never on the command line)"            \
	}

static const frepctl_flag failover_add_flags[] = {
    FAILOVER_FLAGS,
    {.name = "scope", .arg = "ID", .help = "a scope of the relationship", .repeat = true},
    {.name = "force", .help = "replace scopes that already exist on the partner"},
    {.name = "no-auto-sync", .help = "the same as --auto-sync off"},
    {0},
};
static const frepctl_flag failover_set_flags[]       = {FAILOVER_FLAGS, {0}};
static const frepctl_flag failover_scope_add_flags[] = {
    {.name = "scope", .arg = "ID", .help = "a scope (required)", .repeat = true},
    {.name = "force", .help = "replace scopes that already exist on the partner"},
    {0},
};
static const frepctl_flag failover_scope_remove_flags[] = {
    {.name = "scope", .arg = "ID", .help = "a scope (required)", .repeat = true},
    {.name = "yes", .help = "do not ask for confirmation"},
    {.name = "force", .help = "the same as --yes"},
    {0},
};
static const frepctl_flag failover_remove_flags[] = {
    {.name = "yes", .help = "do not ask for confirmation"},
    {.name = "force", .help = "the same as --yes"},
    {0},
};

/* Reads the first line of path into a new buffer the caller scrubs and
 * frees (secret_free). */
static int
secret_read(const frepctl_args *a, const char *path, char **out)
{
	frep_secret_file_warn_if_open(stderr, "frepctl", "--secret-file", path);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return frepctl__usage_error(
		    "%s: --secret-file %s: %s", a->path, path, strerror(errno));
	}
	char   *line = NULL;
	size_t  cap  = 0;
	ssize_t n    = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		line[--n] = '\0';
	}
	if (n <= 0) {
		free(line);
		return frepctl__usage_error("%s: --secret-file %s holds no secret", a->path, path);
	}
	*out = line;
	return 0;
}

static void
secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int
failover_fill(
    const frepctl_args *a, Frep__V1__FailoverRelationship *rel, mask_list *mask, char **secret)
{
	const char *file = frepctl__arg(a, "secret-file");
	rel->name        = (char *) a->pos[0];
	if (fields_from_flags(a, failover_fields, &rel->base, mask) != 0) {
		return EXIT_USAGE;
	}
	if (file != NULL) {
		if (secret_read(a, file, secret) != 0) {
			return EXIT_USAGE;
		}
		rel->shared_secret = *secret;
		if (mask_add(a, mask, "shared_secret", "secret-file") != 0) {
			return EXIT_USAGE;
		}
	}
	return 0;
}

static void
scope_ids_from_flags(const frepctl_args *a, char ***ids, size_t *n)
{
	const char *const *vals;
	size_t             count = frepctl__arg_all(a, "scope", &vals);
	for (size_t i = 0; i < count; i++) {
		split_append(vals[i], ids, n);
	}
}

static int
cmd_failover_add(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__FailoverRelationship rel    = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	Frep__V1__AddFailoverRequest   req    = FREP__V1__ADD_FAILOVER_REQUEST__INIT;
	mask_list                      mask   = {0};
	char                          *secret = NULL;
	int                            rc;
	if (require_flag(a, "partner") != 0 || require_flag(a, "scope") != 0 ||
	    failover_fill(a, &rel, &mask, &secret) != 0) {
		secret_free(secret);
		return EXIT_USAGE;
	}
	scope_ids_from_flags(a, &rel.scope_ids, &rel.n_scope_ids);
	if (frepctl__arg_has(a, "no-auto-sync")) {
		if (rel.auto_sync == FREP__V1__AUTO_SYNC__AUTO_SYNC_ON) {
			secret_free(secret);
			return frepctl__usage_error(
			    "%s: --no-auto-sync contradicts --auto-sync on", a->path);
		}
		rel.auto_sync = FREP__V1__AUTO_SYNC__AUTO_SYNC_OFF;
	}
	req.relationship = &rel;
	req.force        = frepctl__arg_has(a, "force");
	rc               = run_call(ctl, "AddFailover", &req.base, OUT_ROW, failover_cols);
	secret_free(secret);
	return rc;
}

static int
cmd_failover_set(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__FailoverRelationship rel    = FREP__V1__FAILOVER_RELATIONSHIP__INIT;
	Frep__V1__SetFailoverRequest   req    = FREP__V1__SET_FAILOVER_REQUEST__INIT;
	mask_list                      mask   = {0};
	char                          *secret = NULL;
	int                            rc;
	if (failover_fill(a, &rel, &mask, &secret) != 0 || require_change(a, &mask) != 0) {
		secret_free(secret);
		return EXIT_USAGE;
	}
	req.relationship  = &rel;
	req.update_mask   = mask.f;
	req.n_update_mask = mask.n;
	rc                = run_call(ctl, "SetFailover", &req.base, OUT_ROW, failover_cols);
	secret_free(secret);
	return rc;
}

static int
failover_key_call(frepctl *ctl, const frepctl_args *a, const char *method, out_kind kind)
{
	Frep__V1__FailoverKey req = FREP__V1__FAILOVER_KEY__INIT;
	req.name                  = (char *) a->pos[0];
	return run_call(ctl, method, &req.base, kind, failover_cols);
}

static int
cmd_failover_get(frepctl *ctl, const frepctl_args *a)
{
	return failover_key_call(ctl, a, "GetFailover", OUT_OBJECT);
}

static int
cmd_failover_remove(frepctl *ctl, const frepctl_args *a)
{
	char q[300];
	snprintf(q, sizeof(q),
	    "Remove relationship %s here and on the partner, deleting the partner's copies of "
	    "its scopes (they stay here)?",
	    a->pos[0]);
	int rc = frepctl__confirm(a, frepctl__arg_has(a, "yes") || frepctl__arg_has(a, "force"), q);
	return rc != 0 ? rc : failover_key_call(ctl, a, "RemoveFailover", OUT_NONE);
}

static int
cmd_failover_list(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__ListFailoversRequest req = FREP__V1__LIST_FAILOVERS_REQUEST__INIT;
	(void) a;
	return run_call(ctl, "ListFailovers", &req.base, OUT_LIST, failover_cols);
}

static int
failover_scope_call(frepctl *ctl, const frepctl_args *a, const char *method)
{
	Frep__V1__FailoverScopeRequest req = FREP__V1__FAILOVER_SCOPE_REQUEST__INIT;
	if (require_flag(a, "scope") != 0) {
		return EXIT_USAGE;
	}
	req.name  = (char *) a->pos[0];
	req.force = frepctl__arg_has(a, "force");
	scope_ids_from_flags(a, &req.scope_ids, &req.n_scope_ids);
	return run_call(ctl, method, &req.base, OUT_ROW, failover_cols);
}

static int
cmd_failover_scope_add(frepctl *ctl, const frepctl_args *a)
{
	return failover_scope_call(ctl, a, "AddFailoverScope");
}

static int
cmd_failover_scope_remove(frepctl *ctl, const frepctl_args *a)
{
	char q[300];
	snprintf(q, sizeof(q),
	    "Take the scopes out of relationship %s, deleting the partner's copies of them (they "
	    "stay here)?",
	    a->pos[0]);
	int rc = frepctl__confirm(a, frepctl__arg_has(a, "yes") || frepctl__arg_has(a, "force"), q);
	if (rc != 0) {
		return rc;
	}
	return failover_scope_call(ctl, a, "RemoveFailoverScope");
}

static const frepctl_command failover_scope_commands[] = {
    {.name        = "add",
	.args     = "NAME --scope ID...",
	.min_args = 1,
	.max_args = 1,
	.summary  = "add scopes to a relationship (Add-DhcpServerv4FailoverScope)",
	.flags    = failover_scope_add_flags,
	.run      = cmd_failover_scope_add},
    {.name        = "remove",
	.args     = "NAME --scope ID...",
	.min_args = 1,
	.max_args = 1,
	.summary  = "take scopes out of a relationship, deleting the partner's copies "
		    "(Remove-DhcpServerv4FailoverScope; asks first)",
	.flags    = failover_scope_remove_flags,
	.run      = cmd_failover_scope_remove},
    {0},
};

static const frepctl_command failover_commands[] = {
    {.name        = "add",
	.args     = "NAME --partner URL --scope ID...",
	.min_args = 1,
	.max_args = 1,
	.summary =
	    "create a failover relationship here and on the partner (Add-DhcpServerv4Failover)",
	.flags = failover_add_flags,
	.run   = cmd_failover_add},
    {.name        = "set",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "change the given properties of a relationship here and on the partner's "
		    "mirror (all or nothing)",
	.flags    = failover_set_flags,
	.run      = cmd_failover_set},
    {.name        = "get",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "show one relationship (never its secret)",
	.run      = cmd_failover_get},
    {.name       = "list",
	.args    = "",
	.summary = "list failover relationships",
	.run     = cmd_failover_list},
    {.name        = "remove",
	.args     = "NAME",
	.min_args = 1,
	.max_args = 1,
	.summary  = "remove a relationship here and on the partner, deleting the partner's "
		    "copies of its scopes (asks first)",
	.flags    = failover_remove_flags,
	.run      = cmd_failover_remove},
    {.name = "scope", .summary = "a relationship's scopes", .sub = failover_scope_commands},
    {.name        = "status",
	.args     = "[NAME]",
	.min_args = 0,
	.max_args = 1,
	.summary  = "is the pair in step? per scope and server-level settings (exit 1 when "
		    "anything is not in_sync)",
	.flags    = frepctl__failover_status_flags,
	.run      = frepctl__cmd_failover_status},
    {0},
};

/* --- audit --------------------------------------------------------------------------- */

static const frepctl_flag audit_flags[] = {
    {.name = "scope", .arg = "SCOPE", .help = "only this scope's records"},
    {.name = "relationship", .arg = "NAME", .help = "only this relationship's records"},
    {.name = "limit", .arg = "N", .help = "at most N records (default 100)"},
    {0},
};

static int
cmd_audit(frepctl *ctl, const frepctl_args *a)
{
	Frep__V1__ListAuditRequest req   = FREP__V1__LIST_AUDIT_REQUEST__INIT;
	const char                *scope = frepctl__arg(a, "scope");
	const char                *rel   = frepctl__arg(a, "relationship");
	const char                *limit = frepctl__arg(a, "limit");
	req.scope_id                     = scope != NULL ? (char *) scope : "";
	req.relationship                 = rel != NULL ? (char *) rel : "";
	if (limit != NULL && parse_u32(a, "--limit", limit, 1, 100000, &req.limit) != 0) {
		return EXIT_USAGE;
	}
	return run_call(ctl, "ListAudit", &req.base, OUT_LIST, audit_cols);
}

/* --- the groups ------------------------------------------------------------------------ */

const frepctl_command frepctl__dhcp_commands[] = {
    {.name       = "scope",
	.args    = "add|set|get|list|remove|show",
	.summary = "DHCPv4 scopes",
	.sub     = scope_commands},
    {.name       = "exclusion",
	.args    = "add|remove|list",
	.summary = "a scope's exclusion ranges",
	.sub     = exclusion_commands},
    {.name       = "reservation",
	.args    = "add|set|get|list|remove",
	.summary = "address reservations",
	.sub     = reservation_commands},
    {.name       = "optiondef",
	.args    = "add|set|get|list|remove",
	.summary = "option definitions",
	.sub     = optiondef_commands},
    {.name       = "option",
	.args    = "set|get|list|remove",
	.summary = "option values at server, scope, reservation or policy level",
	.sub     = option_commands},
    {.name       = "class",
	.args    = "add|set|get|list|remove",
	.summary = "vendor and user classes",
	.sub     = class_commands},
    {.name       = "policy",
	.args    = "add|set|get|list|remove|range",
	.summary = "server and scope policies",
	.sub     = policy_commands},
    {.name       = "failover",
	.args    = "add|set|get|list|remove|scope",
	.summary = "failover relationships",
	.sub     = failover_commands},
    {.name       = "audit",
	.args    = "",
	.summary = "replication audit records, newest first",
	.flags   = audit_flags,
	.run     = cmd_audit},
    {0},
};
