#define _GNU_SOURCE /* asprintf, vasprintf */
#include "kea_render.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kea_ha.h"
#include "payload_check.h"
#include "sha256.h"

const char *const kea_render_owned_keys[] = {
    "client-classes", "option-data", "option-def", "shared-networks", "subnet4", NULL};

/* Windows keeps a scope's DNS dynamic-update settings as option 81's
 * value; frep renders them as ddns-* parameters (render_dns_settings). */
#define KEA_DNS_SETTINGS_OPTION 81

/* Kea's largest lease lifetime (its uint32 maximum). */
#define KEA_LIFETIME_MAX 4294967295u

/* Codes kea-dhcp4 2.2 defines in the dhcp4 space (an option-def with one of
 * them is refused). Found by asking `kea-dhcp4 -t` for each code 1..254. */
static const uint8_t kea_std_codes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66,
    67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 81, 82, 85, 86, 87, 88, 89, 90, 91, 92, 93,
    94, 97, 98, 99, 100, 101, 108, 112, 113, 114, 116, 117, 118, 119, 124, 125, 136, 137, 138, 141,
    146, 159, 212, 213, 0};

/* Standard options whose Kea type reads frep's text form as CSV unchanged
 * (when the definition has this type); every other value travels as hex. */
typedef struct kea_csv_code {
	uint8_t            code;
	engine_option_type type;
} kea_csv_code;

static const kea_csv_code kea_csv_codes[] = {
    {1, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {3, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {4, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {5, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {6, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {7, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {8, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {9, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {10, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {11, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {12, ENGINE_OPTION_TYPE_STRING},
    {13, ENGINE_OPTION_TYPE_WORD},
    {14, ENGINE_OPTION_TYPE_STRING},
    {15, ENGINE_OPTION_TYPE_STRING},
    {16, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {17, ENGINE_OPTION_TYPE_STRING},
    {18, ENGINE_OPTION_TYPE_STRING},
    {19, ENGINE_OPTION_TYPE_BYTE},
    {20, ENGINE_OPTION_TYPE_BYTE},
    {22, ENGINE_OPTION_TYPE_WORD},
    {23, ENGINE_OPTION_TYPE_BYTE},
    {24, ENGINE_OPTION_TYPE_DWORD},
    {26, ENGINE_OPTION_TYPE_WORD},
    {27, ENGINE_OPTION_TYPE_BYTE},
    {28, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {29, ENGINE_OPTION_TYPE_BYTE},
    {30, ENGINE_OPTION_TYPE_BYTE},
    {31, ENGINE_OPTION_TYPE_BYTE},
    {32, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {34, ENGINE_OPTION_TYPE_BYTE},
    {35, ENGINE_OPTION_TYPE_DWORD},
    {36, ENGINE_OPTION_TYPE_BYTE},
    {37, ENGINE_OPTION_TYPE_BYTE},
    {38, ENGINE_OPTION_TYPE_DWORD},
    {39, ENGINE_OPTION_TYPE_BYTE},
    {40, ENGINE_OPTION_TYPE_STRING},
    {41, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {42, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {44, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {45, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {46, ENGINE_OPTION_TYPE_BYTE},
    {47, ENGINE_OPTION_TYPE_STRING},
    {48, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {49, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {57, ENGINE_OPTION_TYPE_WORD},
    {58, ENGINE_OPTION_TYPE_DWORD},
    {59, ENGINE_OPTION_TYPE_DWORD},
    {64, ENGINE_OPTION_TYPE_STRING},
    {65, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {66, ENGINE_OPTION_TYPE_STRING},
    {67, ENGINE_OPTION_TYPE_STRING},
    {68, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {69, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {70, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {71, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {72, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {73, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {74, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {75, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {76, ENGINE_OPTION_TYPE_IPV4_ADDRESS},
    {0, 0},
};

/* What one rendering accumulates. */
typedef struct render_ctx {
	kea_render_result *out;
	engine_option_def *defs; /* every definition, every space */
	size_t             n_defs;
	engine_class      *classes;
	size_t             n_classes;
	json_t            *client_classes; /* array being built */
	bool               oom;
	/* The first text found not to be UTF-8 (escaped), and what it is
	 * ("option definition 200: name"): jansson takes only UTF-8. */
	char not_text[160];
	char not_text_of[200];
	/* The server's DNS update settings (option 81), NULL for none. */
	const engine_option_value *server_dns;
	bool dns_here; /* option 81 is rendered as ddns-* parameters where we are */
} render_ctx;

/* --- small helpers ------------------------------------------------------ */

static void warn(render_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(render_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!kea_result_vwarn(c->out, fmt, ap)) {
		c->oom = true;
	}
	va_end(ap);
}

static const char *
ip_text(uint32_t addr, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = {.s_addr = htonl(addr)};
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

/* Appends to arr, taking the reference (NULL v marks the context OOM). */
static void
append(render_ctx *c, json_t *arr, json_t *v)
{
	if (v == NULL || json_array_append_new(arr, v) != 0) {
		c->oom = true;
	}
}

/* True when text is UTF-8 (jansson takes nothing else). Otherwise the
 * rendering fails: the first such text is kept, escaped, with what it is
 * (of, e.g. "option definition 200: name"; NULL: "a name"), to be said as
 * such rather than as running out of memory. */
static bool
text_ok(render_ctx *c, const char *of, const char *text)
{
	size_t len = text != NULL ? strlen(text) : 0;
	if (frep_utf8_valid_prefix((const uint8_t *) (text != NULL ? text : ""), len) == len) {
		return true;
	}
	if (c->not_text[0] == '\0') {
		frep_utf8_sanitize(text, c->not_text, sizeof(c->not_text));
		frep_utf8_sanitize(
		    of != NULL ? of : "a name", c->not_text_of, sizeof(c->not_text_of));
	}
	c->oom = true;
	return false;
}

/* A JSON string of text, which is of (see text_ok): NULL when text is not
 * UTF-8 (recorded) or out of memory. Every text that comes from the store
 * goes through here, never through json_pack's "s". */
static json_t *
jstr(render_ctx *c, const char *of, const char *text)
{
	return text_ok(c, of, text) ? json_string(text) : NULL;
}

/* "what: field" for text_ok, in buf. */
static const char *
of_field(char *buf, size_t size, const char *what, const char *field)
{
	snprintf(buf, size, "%s: %s", what, field);
	return buf;
}

static void
set(render_ctx *c, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0) {
		c->oom = true;
	}
}

/* {"description": text} (a user-context), text being what's description. */
static json_t *
description_context(render_ctx *c, const char *what, const char *text)
{
	char    of[200];
	json_t *o = json_object();
	if (o == NULL) {
		c->oom = true;
		return NULL;
	}
	set(c, o, "description", jstr(c, of_field(of, sizeof(of), what, "description"), text));
	return o;
}

/* Hex digits of text ("00-11-22", "00:11", "0011") into bytes; false if
 * the text is not hex. */
static bool
hex_bytes(const char *text, uint8_t *out, size_t cap, size_t *n)
{
	size_t k    = 0;
	int    half = -1;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '-' || *p == ':' || *p == ' ' || *p == '.') {
			if (half >= 0) {
				return false;
			}
			continue;
		}
		if (!isxdigit((unsigned char) *p)) {
			return false;
		}
		int v = isdigit((unsigned char) *p) ? *p - '0'
						    : (tolower((unsigned char) *p) - 'a' + 10);
		if (half < 0) {
			half = v;
		} else {
			if (k == cap) {
				return false;
			}
			out[k++] = (uint8_t) (half << 4 | v);
			half     = -1;
		}
	}
	*n = k;
	return half < 0 && k > 0;
}

/* A growing byte buffer, hex-formatted at the end. */
typedef struct bytes {
	uint8_t *p;
	size_t   n, cap;
	bool     bad;
} bytes;

static void
bytes_add(bytes *b, const void *data, size_t n)
{
	if (b->bad || n == 0) {
		return;
	}
	if (b->n + n > b->cap) {
		size_t   cap = (b->cap + n) * 2 + 16;
		uint8_t *q   = realloc(b->p, cap);
		if (q == NULL) {
			b->bad = true;
			return;
		}
		b->p   = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

/* b's bytes as upper-case hex without separators ("" for none). */
static char *
bytes_hex(const bytes *b)
{
	char *s = malloc(b->n * 2 + 1);
	if (s == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < b->n; i++) {
		snprintf(s + 2 * i, 3, "%02X", b->p[i]);
	}
	s[b->n * 2] = '\0';
	return s;
}

/* Encodes one value of type on the wire (network order). False if the text
 * is not of the type. */
static bool
encode_value(engine_option_type type, const char *text, bytes *b)
{
	unsigned long long v;
	char              *end;
	uint8_t            buf[255];
	size_t             n;

	switch (type) {
	case ENGINE_OPTION_TYPE_BYTE:
	case ENGINE_OPTION_TYPE_WORD:
	case ENGINE_OPTION_TYPE_DWORD:
	case ENGINE_OPTION_TYPE_DWORD_DWORD: {
		size_t width = type == ENGINE_OPTION_TYPE_BYTE    ? 1
			       : type == ENGINE_OPTION_TYPE_WORD  ? 2
			       : type == ENGINE_OPTION_TYPE_DWORD ? 4
								  : 8;
		errno        = 0;
		v            = strtoull(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0') {
			return false;
		}
		for (size_t i = 0; i < width; i++) {
			buf[i] = (uint8_t) (v >> (8 * (width - 1 - i)));
		}
		bytes_add(b, buf, width);
		return true;
	}
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS: {
		struct in_addr a;
		if (inet_pton(AF_INET, text, &a) != 1) {
			return false;
		}
		bytes_add(b, &a.s_addr, 4);
		return true;
	}
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS: {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, text, &a6) != 1) {
			return false;
		}
		bytes_add(b, &a6, 16);
		return true;
	}
	case ENGINE_OPTION_TYPE_STRING:
		bytes_add(b, text, strlen(text));
		return true;
	case ENGINE_OPTION_TYPE_BINARY_DATA:
	case ENGINE_OPTION_TYPE_ENCAPSULATED_DATA:
		if (!hex_bytes(text, buf, sizeof(buf), &n)) {
			return false;
		}
		bytes_add(b, buf, n);
		return true;
	default:
		return false;
	}
}

/* The hex expression literal of text's bytes ("0x4D53"), or of its hex
 * value when as_hex and the text is hex. NULL when out of memory. */
static char *
hex_literal(const char *text, size_t len, bool as_hex)
{
	bytes   b = {0};
	uint8_t buf[512];
	size_t  n;
	char   *tmp = strndup(text, len);
	if (tmp == NULL) {
		return NULL;
	}
	if (as_hex && len > 0 && hex_bytes(tmp, buf, sizeof(buf), &n)) {
		bytes_add(&b, buf, n);
	} else {
		bytes_add(&b, tmp, len);
	}
	free(tmp);
	char *hex = b.bad ? NULL : bytes_hex(&b);
	free(b.p);
	if (hex == NULL) {
		return NULL;
	}
	char *lit = NULL;
	if (asprintf(&lit, "0x%s", hex) < 0) {
		lit = NULL;
	}
	free(hex);
	return lit;
}

static const engine_option_def *
find_def(const render_ctx *c, uint32_t code, const char *vendor)
{
	for (size_t i = 0; i < c->n_defs; i++) {
		if (c->defs[i].option_id == code &&
		    strcmp(c->defs[i].vendor_class ? c->defs[i].vendor_class : "",
			vendor ? vendor : "") == 0) {
			return &c->defs[i];
		}
	}
	return NULL;
}

static const engine_class *
find_class(const render_ctx *c, engine_class_type type, const char *name)
{
	for (size_t i = 0; i < c->n_classes; i++) {
		if (c->classes[i].type == type && strcmp(c->classes[i].name, name) == 0) {
			return &c->classes[i];
		}
	}
	return NULL;
}

static bool
kea_defines(uint32_t code)
{
	for (const uint8_t *p = kea_std_codes; *p != 0; p++) {
		if (*p == code) {
			return true;
		}
	}
	return false;
}

/* True when frep renders an option-def for def (custom, standard space,
 * a code Kea leaves free). */
static bool
def_rendered(const engine_option_def *def)
{
	return !def->predefined && (def->vendor_class == NULL || def->vendor_class[0] == '\0') &&
	       !kea_defines(def->option_id);
}

static const char *
kea_type(engine_option_type t)
{
	switch (t) {
	case ENGINE_OPTION_TYPE_BYTE:
		return "uint8";
	case ENGINE_OPTION_TYPE_WORD:
		return "uint16";
	case ENGINE_OPTION_TYPE_DWORD:
		return "uint32";
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS:
		return "ipv4-address";
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS:
		return "ipv6-address";
	case ENGINE_OPTION_TYPE_STRING:
		return "string";
	default: /* DWORD_DWORD, BINARY_DATA, ENCAPSULATED_DATA */
		return "binary";
	}
}

static bool
fixed_size(engine_option_type t)
{
	return t == ENGINE_OPTION_TYPE_BYTE || t == ENGINE_OPTION_TYPE_WORD ||
	       t == ENGINE_OPTION_TYPE_DWORD || t == ENGINE_OPTION_TYPE_IPV4_ADDRESS ||
	       t == ENGINE_OPTION_TYPE_IPV6_ADDRESS;
}

/* A string Kea's CSV reading keeps byte for byte: printable ASCII, no
 * separator or escape character, no space at either end (Kea trims them). */
static bool
csv_safe_text(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ') {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == ',' || *p == '\\' || *p == '"' || *p == '\'') {
			return false;
		}
	}
	return true;
}

/* Whether the values can go to Kea as CSV text for this definition. */
static bool
csv_ok(const engine_option_def *def, const engine_option_value *v)
{
	if (def == NULL) {
		return false;
	}
	for (size_t i = 0; i < v->n_values; i++) {
		if (!csv_safe_text(v->values[i])) {
			return false;
		}
	}
	if (def_rendered(def)) {
		return fixed_size(def->type) ||
		       (def->type == ENGINE_OPTION_TYPE_STRING && v->n_values == 1);
	}
	for (const kea_csv_code *k = kea_csv_codes; k->code != 0; k++) {
		if (k->code == def->option_id && k->type == def->type) {
			return def->type != ENGINE_OPTION_TYPE_STRING || v->n_values == 1;
		}
	}
	return false;
}

/* One option-data entry for v, or NULL (with a warning) when Kea cannot
 * take it. `where` names the owner for warnings. */
static json_t *
option_data(render_ctx *c, const engine_option_value *v, const char *where)
{
	if (v->vendor_class != NULL && v->vendor_class[0] != '\0') {
		warn(c,
		    "%s: option %u of vendor class '%s' not rendered (Kea needs "
		    "vendor-encapsulated "
		    "option spaces frep does not map)",
		    where, v->option_id, v->vendor_class);
		return NULL;
	}
	if (v->option_id == KEA_DNS_SETTINGS_OPTION) {
		/* DNS update settings: ddns-* parameters, never client data. */
		if (!c->dns_here) {
			warn(c,
			    "%s: option 81 (DNS update settings) not rendered: Kea's ddns "
			    "parameters belong to subnets (set them on the server or a scope)",
			    where);
		}
		return NULL;
	}
	const engine_option_def *def = find_def(c, v->option_id, "");
	json_t                  *o   = json_object();
	if (o == NULL) {
		c->oom = true;
		return NULL;
	}
	set(c, o, "code", json_integer(v->option_id));
	set(c, o, "space", json_string("dhcp4"));
	if (csv_ok(def, v)) {
		size_t len = 1;
		for (size_t i = 0; i < v->n_values; i++) {
			len += strlen(v->values[i]) + 2;
		}
		char *s = calloc(1, len);
		if (s == NULL) {
			c->oom = true;
			json_decref(o);
			return NULL;
		}
		for (size_t i = 0; i < v->n_values; i++) {
			if (i > 0) {
				strcat(s, ", ");
			}
			strcat(s, v->values[i]);
		}
		char of[200];
		snprintf(of, sizeof(of), "%s: option %u: value", where, v->option_id);
		set(c, o, "csv-format", json_true());
		set(c, o, "data", jstr(c, of, s));
		free(s);
		return o;
	}
	engine_option_type type = def != NULL ? def->type : ENGINE_OPTION_TYPE_BINARY_DATA;
	if (def != NULL && type == ENGINE_OPTION_TYPE_STRING && v->n_values > 1) {
		warn(c, "%s: option %u has %zu string values; Kea gets them concatenated", where,
		    v->option_id, v->n_values);
	}
	bytes b = {0};
	for (size_t i = 0; i < v->n_values; i++) {
		if (!encode_value(type, v->values[i], &b)) {
			warn(c, "%s: option %u value '%s' cannot be encoded; option not rendered",
			    where, v->option_id, v->values[i]);
			free(b.p);
			json_decref(o);
			return NULL;
		}
	}
	char *hex = b.bad ? NULL : bytes_hex(&b);
	free(b.p);
	if (hex == NULL) {
		c->oom = true;
		json_decref(o);
		return NULL;
	}
	set(c, o, "csv-format", json_false());
	set(c, o, "data", jstr(c, NULL, hex));
	free(hex);
	return o;
}

/* An option-data array for the values without a user class; values with
 * one are left to the caller (warned about when warn_user_class). */
static json_t *
option_data_list(render_ctx *c, const engine_option_value *vals, size_t n, const char *where,
    bool warn_user_class)
{
	json_t *arr = json_array();
	if (arr == NULL) {
		c->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (vals[i].user_class != NULL && vals[i].user_class[0] != '\0') {
			if (warn_user_class) {
				warn(c,
				    "%s: option %u for user class '%s' not rendered (Kea has no "
				    "class-qualified option data at this level)",
				    where, vals[i].option_id, vals[i].user_class);
			}
			continue;
		}
		json_t *o = option_data(c, &vals[i], where);
		if (o != NULL) {
			append(c, arr, o);
		}
	}
	return arr;
}

/* --- expressions -------------------------------------------------------- */

/* A growing string. */
typedef struct sbuf {
	char  *p;
	size_t n, cap;
	bool   bad;
} sbuf;

static void
sb_add(sbuf *s, const char *text)
{
	size_t len = strlen(text);
	if (s->bad) {
		return;
	}
	if (s->n + len + 1 > s->cap) {
		size_t cap = (s->n + len + 1) * 2;
		char  *q   = realloc(s->p, cap);
		if (q == NULL) {
			s->bad = true;
			return;
		}
		s->p   = q;
		s->cap = cap;
	}
	memcpy(s->p + s->n, text, len + 1);
	s->n += len;
}

#define EXPR_TRUE  "'t' == 't'"
#define EXPR_FALSE "'t' == 'f'"

/* The Kea expression reading the field a criterion compares; NULL when Kea
 * has none. *hex_values: the criterion's values are hex bytes. */
static const char *
criterion_field(engine_criterion_type t, bool *hex_values)
{
	*hex_values = true;
	switch (t) {
	case ENGINE_CRITERION_TYPE_VENDOR_CLASS:
		*hex_values = false;
		return "option[60].hex";
	case ENGINE_CRITERION_TYPE_USER_CLASS:
		*hex_values = false;
		return "option[77].hex";
	case ENGINE_CRITERION_TYPE_MAC_ADDRESS:
		return "pkt4.mac";
	case ENGINE_CRITERION_TYPE_CLIENT_ID:
		return "option[61].hex";
	case ENGINE_CRITERION_TYPE_RELAY_AGENT:
		return "option[82].hex";
	case ENGINE_CRITERION_TYPE_CIRCUIT_ID:
		return "relay4[1].hex";
	case ENGINE_CRITERION_TYPE_REMOTE_ID:
		return "relay4[2].hex";
	case ENGINE_CRITERION_TYPE_SUBSCRIBER_ID:
		return "relay4[6].hex";
	default: /* FQDN: option 81's name is wire-encoded; Kea cannot compare it */
		return NULL;
	}
}

/* Appends one comparison of field with value (a trailing '*' = prefix). */
static void
expr_compare(render_ctx *c, sbuf *s, const char *field, const char *value, bool hex_values,
    engine_class_type class_type, const char *where)
{
	size_t      len    = strlen(value);
	bool        prefix = len > 0 && value[len - 1] == '*';
	const char *data   = value;
	size_t      dlen   = prefix ? len - 1 : len;
	char       *tmp    = NULL;

	if (class_type != ENGINE_CLASS_TYPE_UNSPECIFIED) {
		/* The value names a class; the client sends the class's data. */
		tmp                     = strndup(value, dlen);
		const engine_class *cls = tmp != NULL ? find_class(c, class_type, tmp) : NULL;
		if (cls != NULL) {
			data = cls->data;
			dlen = strlen(cls->data);
		} else {
			warn(c, "%s: class '%s' unknown; compared as literal text", where, value);
		}
	}
	if (prefix && dlen == 0) {
		sb_add(s, EXPR_TRUE);
		free(tmp);
		return;
	}
	char *lit = hex_literal(data, dlen, hex_values);
	free(tmp);
	if (lit == NULL) {
		s->bad = true;
		return;
	}
	char  *e = NULL;
	int    n;
	size_t nbytes = (strlen(lit) - 2) / 2;
	if (prefix) {
		n = asprintf(&e, "substring(%s,0,%zu) == %s", field, nbytes, lit);
	} else {
		n = asprintf(&e, "%s == %s", field, lit);
	}
	free(lit);
	if (n < 0) {
		s->bad = true;
		return;
	}
	sb_add(s, e);
	free(e);
}

/* The test expression of a policy (its criteria combined by its
 * condition); a criterion Kea cannot evaluate reads as false. A new string
 * or NULL when out of memory. */
static char *
policy_test(render_ctx *c, const engine_policy *p, const char *where)
{
	sbuf        s    = {0};
	const char *join = p->condition == ENGINE_POLICY_CONDITION_AND ? " and " : " or ";

	if (p->n_criteria == 0) {
		sb_add(&s, EXPR_TRUE);
	}
	for (size_t i = 0; i < p->n_criteria; i++) {
		const engine_criterion *cr = &p->criteria[i];
		bool                    hexv;
		const char             *field = criterion_field(cr->type, &hexv);
		if (i > 0) {
			sb_add(&s, join);
		}
		if (field == NULL) {
			warn(c,
			    "%s: criterion %s has no Kea expression; it never matches (an AND "
			    "policy "
			    "never applies)",
			    where, engine_criterion_type_name(cr->type));
			sb_add(&s, "(" EXPR_FALSE ")");
			continue;
		}
		engine_class_type ct =
		    cr->type == ENGINE_CRITERION_TYPE_VENDOR_CLASS ? ENGINE_CLASS_TYPE_VENDOR
		    : cr->type == ENGINE_CRITERION_TYPE_USER_CLASS ? ENGINE_CLASS_TYPE_USER
								   : ENGINE_CLASS_TYPE_UNSPECIFIED;
		sb_add(&s, cr->comparator == ENGINE_COMPARATOR_NE ? "not (" : "(");
		for (size_t k = 0; k < cr->n_values; k++) {
			if (k > 0) {
				sb_add(&s, " or ");
			}
			sb_add(&s, "(");
			expr_compare(c, &s, field, cr->values[k], hexv, ct, where);
			sb_add(&s, ")");
		}
		sb_add(&s, ")");
	}
	if (s.bad) {
		free(s.p);
		return NULL;
	}
	return s.p;
}

/* --- classes ------------------------------------------------------------ */

static char *
class_name(engine_class_type t, const char *name)
{
	char *s = NULL;
	if (asprintf(&s, "%s:%s", t == ENGINE_CLASS_TYPE_VENDOR ? "vendor" : "user", name) < 0) {
		return NULL;
	}
	return s;
}

static void
render_classes(render_ctx *c, const engine_option_value *server_opts, size_t n_server_opts)
{
	for (size_t i = 0; i < c->n_classes; i++) {
		const engine_class *cls  = &c->classes[i];
		char               *name = class_name(cls->type, cls->name);
		char               *lit  = hex_literal(cls->data, strlen(cls->data), false);
		char               *test = NULL;
		if (name == NULL || lit == NULL ||
		    asprintf(&test, "%s == %s",
			cls->type == ENGINE_CLASS_TYPE_VENDOR ? "option[60].hex" : "option[77].hex",
			lit) < 0) {
			c->oom = true;
			free(name);
			free(lit);
			return;
		}
		json_t *o = json_object();
		if (o == NULL) {
			c->oom = true;
		} else {
			char what[160], of[200];
			snprintf(what, sizeof(what), "%s class %s",
			    cls->type == ENGINE_CLASS_TYPE_VENDOR ? "vendor" : "user", cls->name);
			set(c, o, "name", jstr(c, of_field(of, sizeof(of), what, "name"), name));
			set(c, o, "test", jstr(c, of_field(of, sizeof(of), what, "data"), test));
			if (cls->description != NULL && cls->description[0] != '\0') {
				set(c, o, "user-context",
				    description_context(c, what, cls->description));
			}
			/* Server-level option values qualified by this user class. */
			json_t *od = json_array();
			if (od == NULL) {
				c->oom = true;
			}
			for (size_t k = 0; od != NULL && k < n_server_opts; k++) {
				const engine_option_value *v = &server_opts[k];
				if (cls->type == ENGINE_CLASS_TYPE_USER && v->user_class != NULL &&
				    strcmp(v->user_class, cls->name) == 0) {
					json_t *d = option_data(c, v, "server options");
					if (d != NULL) {
						append(c, od, d);
					}
				}
			}
			if (od != NULL && json_array_size(od) > 0) {
				set(c, o, "option-data", od);
			} else {
				json_decref(od);
			}
			append(c, c->client_classes, o);
		}
		free(name);
		free(lit);
		free(test);
	}
}

/* A policy's client class; options go to the class when to_class (else
 * the caller puts them on pools). required: evaluated only where a subnet
 * requires it (scope policies without ranges). */
static void
render_policy_class(render_ctx *c, const engine_policy *p, const char *name, bool to_class,
    bool required, const char *where)
{
	char *test = policy_test(c, p, where);
	if (test == NULL) {
		c->oom = true;
		return;
	}
	json_t *o = json_object();
	if (o == NULL) {
		free(test);
		c->oom = true;
		return;
	}
	char of[200];
	set(c, o, "name", jstr(c, of_field(of, sizeof(of), where, "name"), name));
	set(c, o, "test", jstr(c, of_field(of, sizeof(of), where, "conditions"), test));
	free(test);
	if (required) {
		set(c, o, "only-if-required", json_true());
	}
	if (p->lease_duration_s != 0) {
		set(c, o, "valid-lifetime", json_integer(p->lease_duration_s));
	}
	if (p->description != NULL && p->description[0] != '\0') {
		set(c, o, "user-context", description_context(c, where, p->description));
	}
	if (to_class) {
		json_t *od = option_data_list(c, p->options, p->n_options, where, true);
		if (od != NULL && json_array_size(od) > 0) {
			set(c, o, "option-data", od);
		} else {
			json_decref(od);
		}
	}
	append(c, c->client_classes, o);
}

/* --- pools -------------------------------------------------------------- */

typedef struct range64 {
	int64_t start, end;
} range64;

static int
range_cmp(const void *a, const void *b)
{
	const range64 *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Appends to pools one {"pool": "a-b"} per piece of [start, end] left
 * after removing cuts (sorted by start), with the class and options given. */
static void
add_pools(render_ctx *c, json_t *pools, int64_t start, int64_t end, const range64 *cuts,
    size_t n_cuts, const char *cls, const json_t *opts)
{
	int64_t cur = start;
	for (size_t i = 0; i <= n_cuts && cur <= end; i++) {
		int64_t piece_end = i < n_cuts ? cuts[i].start - 1 : end;
		if (piece_end > end) {
			piece_end = end;
		}
		if (piece_end >= cur) {
			char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], text[2 * INET_ADDRSTRLEN + 2];
			snprintf(text, sizeof(text), "%s-%s", ip_text((uint32_t) cur, a),
			    ip_text((uint32_t) piece_end, b));
			json_t *p = json_pack("{s:s}", "pool", text);
			if (p != NULL && cls != NULL) {
				set(c, p, "client-class", jstr(c, NULL, cls));
			}
			if (p != NULL && opts != NULL && json_array_size(opts) > 0) {
				set(c, p, "option-data", json_deep_copy(opts));
			}
			append(c, pools, p);
		}
		if (i < n_cuts && cuts[i].end + 1 > cur) {
			cur = cuts[i].end + 1;
		}
	}
}

/* --- DNS update settings ------------------------------------------------ */

/* The scope's DNS update settings (its option 81, else the server's) as
 * the subnet's ddns-* parameters; what Kea cannot express is a warning.
 * Nothing when neither has one (Kea's defaults hold). */
static void
render_dns_settings(
    render_ctx *c, json_t *subnet, const engine_scope_config *cfg, const char *where)
{
	const engine_option_value *v = c->server_dns;
	engine_dns_setting         d;
	frep_status                st;

	for (size_t i = 0; i < cfg->n_options; i++) {
		const engine_option_value *o = &cfg->options[i];
		if (o->option_id == KEA_DNS_SETTINGS_OPTION &&
		    (o->vendor_class == NULL || o->vendor_class[0] == '\0') &&
		    (o->user_class == NULL || o->user_class[0] == '\0')) {
			v = o;
		}
	}
	if (v == NULL) {
		return;
	}
	if (engine_dns_setting_from_value(v, &d, &st) != FREP_OK) {
		warn(c, "%s: DNS update settings not rendered: %s", where, st.message);
		return;
	}
	set(c, subnet, "ddns-send-updates",
	    json_boolean(d.dynamic_updates != ENGINE_DNS_UPDATES_NEVER));
	set(c, subnet, "ddns-override-client-update",
	    json_boolean(d.dynamic_updates == ENGINE_DNS_UPDATES_ALWAYS));
	set(c, subnet, "ddns-override-no-update", json_boolean(d.update_dns_rr_for_older_clients));
	set(c, subnet, "ddns-use-conflict-resolution", json_boolean(d.name_protection));
	if (d.dynamic_updates == ENGINE_DNS_UPDATES_NEVER) {
		return;
	}
	if (!d.delete_dns_rr_on_lease_expiry) {
		warn(c,
		    "%s: DNS setting DeleteDnsRROnLeaseExpiry false has no Kea equivalent (Kea "
		    "removes the records it added when the lease expires or is released)",
		    where);
	}
	if (d.disable_dns_ptr_rr_update) {
		warn(c,
		    "%s: DNS setting DisableDnsPtrRRUpdate has no per-subnet Kea equivalent "
		    "(reverse updates follow kea-dhcp-ddns' reverse-ddns configuration)",
		    where);
	}
}

/* --- scopes ------------------------------------------------------------- */

/* A valid host name (letters, digits, '-', dots between labels). */
static bool
valid_hostname(const char *s)
{
	size_t label = 0;
	if (*s == '\0' || strlen(s) > 253) {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-') {
				return false;
			}
			label = 0;
		} else if (isalnum((unsigned char) *p) || (*p == '-' && label > 0)) {
			if (++label > 63) {
				return false;
			}
		} else {
			return false;
		}
	}
	return label > 0 && s[strlen(s) - 1] != '-';
}

static json_t *
render_reservation(render_ctx *c, const engine_reservation *r, const char *scope_text)
{
	char    where[128], ip[INET_ADDRSTRLEN];
	uint8_t id[64];
	size_t  n = 0;
	json_t *o = json_object();

	snprintf(where, sizeof(where), "scope %s reservation %s", scope_text,
	    ip_text(r->ip_address, ip));
	if (o == NULL) {
		c->oom = true;
		return NULL;
	}
	set(c, o, "ip-address", jstr(c, NULL, ip));
	if (!hex_bytes(r->client_id != NULL ? r->client_id : "", id, sizeof(id), &n)) {
		warn(c, "%s: client id '%s' is not hex; reservation not rendered", where,
		    r->client_id != NULL ? r->client_id : "");
		json_decref(o);
		return NULL;
	}
	/* One rule: an Ethernet client (a 6-byte id, or 01 and 6 bytes: the
	 * client id Windows and DHCP clients build from the MAC) is reserved
	 * by its hardware address, which Kea matches against chaddr whatever
	 * the client sends as option 61; any other id by client-id. */
	const uint8_t *b        = id;
	bool           ethernet = n == 6 || (n == 7 && id[0] == 1);
	if (n == 7 && ethernet) {
		b = id + 1;
		n = 6;
	}
	char text[64 * 3 + 1] = "";
	for (size_t i = 0; i < n; i++) {
		snprintf(text + 3 * i, 4, i + 1 < n ? "%02x:" : "%02x", b[i]);
	}
	set(c, o, ethernet ? "hw-address" : "client-id", jstr(c, NULL, text));
	if (r->name != NULL && r->name[0] != '\0') {
		if (valid_hostname(r->name)) {
			char *lower = strdup(r->name);
			if (lower == NULL) {
				c->oom = true;
			} else {
				for (char *p = lower; *p != '\0'; p++) {
					*p = (char) tolower((unsigned char) *p);
				}
				set(c, o, "hostname", jstr(c, NULL, lower));
				free(lower);
			}
		} else {
			warn(c, "%s: name '%s' is not a host name; kept in user-context only",
			    where, r->name);
		}
	}
	json_t *ctx = json_object();
	if (ctx != NULL) {
		char of[200];
		if (r->name != NULL && r->name[0] != '\0') {
			set(c, ctx, "name",
			    jstr(c, of_field(of, sizeof(of), where, "name"), r->name));
		}
		if (r->description != NULL && r->description[0] != '\0') {
			set(c, ctx, "description",
			    jstr(
				c, of_field(of, sizeof(of), where, "description"), r->description));
		}
		if (json_object_size(ctx) > 0) {
			set(c, o, "user-context", ctx);
		} else {
			json_decref(ctx);
		}
	} else {
		c->oom = true;
	}
	if (r->type == ENGINE_CLIENT_TYPE_BOOTP) {
		warn(
		    c, "%s: type BOOTP: Kea answers BOOTP only with its BOOTP hook library", where);
	}
	for (size_t i = 0; i < r->n_options; i++) {
		if (r->options[i].option_id == KEA_DNS_SETTINGS_OPTION &&
		    (r->options[i].vendor_class == NULL || r->options[i].vendor_class[0] == '\0')) {
			warn(c,
			    "%s: DNS update settings not rendered: Kea has no per-reservation ddns "
			    "parameters (the scope's apply to this client)",
			    where);
		}
	}
	c->dns_here = true;
	json_t *od  = option_data_list(c, r->options, r->n_options, where, true);
	c->dns_here = false;
	if (od != NULL && json_array_size(od) > 0) {
		set(c, o, "option-data", od);
	} else {
		json_decref(od);
	}
	return o;
}

static json_t *
render_scope(render_ctx *c, const engine_scope_config *cfg)
{
	const engine_scope *s = &cfg->scope;
	char                id[INET_ADDRSTRLEN], where[64], subnet[INET_ADDRSTRLEN + 16];
	json_t             *o    = json_object();
	int                 plen = 0;

	ip_text(s->scope_id, id);
	snprintf(where, sizeof(where), "scope %s", id);
	for (uint32_t m = s->subnet_mask; m != 0; m <<= 1) {
		plen++;
	}
	snprintf(subnet, sizeof(subnet), "%s/%d", id, plen);
	if (o == NULL) {
		c->oom = true;
		return NULL;
	}
	set(c, o, "id", json_integer(s->scope_id));
	set(c, o, "subnet", jstr(c, NULL, subnet));
	set(c, o, "valid-lifetime",
	    json_integer(s->lease_duration_s == ENGINE_LEASE_UNLIMITED ? KEA_LIFETIME_MAX
								       : s->lease_duration_s));
	json_t *ctx = json_pack("{s:s}", "scope-id", id); /* an address: ASCII */
	char    of[200];
	if (ctx != NULL && s->name != NULL && s->name[0] != '\0') {
		set(c, ctx, "name", jstr(c, of_field(of, sizeof(of), where, "name"), s->name));
	}
	if (ctx != NULL && s->description != NULL && s->description[0] != '\0') {
		set(c, ctx, "description",
		    jstr(c, of_field(of, sizeof(of), where, "description"), s->description));
	}
	set(c, o, "user-context", ctx);

	if (s->type == ENGINE_CLIENT_TYPE_BOOTP || s->type == ENGINE_CLIENT_TYPE_BOTH) {
		warn(c, "%s: type %s: Kea answers BOOTP clients only with its BOOTP hook library",
		    where, s->type == ENGINE_CLIENT_TYPE_BOOTP ? "BOOTP" : "BOTH");
	}
	if (s->type != ENGINE_CLIENT_TYPE_DHCP &&
	    s->max_bootp_clients != ENGINE_DEFAULT_MAX_BOOTP) {
		warn(c, "%s: max BOOTP clients %u has no Kea equivalent", where,
		    s->max_bootp_clients);
	}
	if (s->delay_ms != 0) {
		warn(c, "%s: offer delay %u ms has no Kea equivalent", where, s->delay_ms);
	}

	/* Policies that apply here (enabled, and the scope activates them). */
	const engine_policy *pols[ENGINE_POLICY_RANGES_MAX * 4];
	size_t               n_pols = 0;
	for (size_t i = 0; i < cfg->n_policies; i++) {
		const engine_policy *p = &cfg->policies[i];
		if (!p->enabled) {
			continue;
		}
		if (!s->activate_policies) {
			warn(c,
			    "%s: policy '%s' not rendered: the scope does not activate policies",
			    where, p->name);
			continue;
		}
		if (n_pols < sizeof(pols) / sizeof(pols[0])) {
			pols[n_pols++] = p;
		}
	}

	/* Cuts: exclusions and policy ranges, merged. */
	size_t n_cuts = cfg->n_exclusions;
	for (size_t i = 0; i < n_pols; i++) {
		n_cuts += pols[i]->n_ip_ranges;
	}
	range64 *cuts     = calloc(n_cuts + 1, sizeof(*cuts));
	range64 *excl     = calloc(cfg->n_exclusions + 1, sizeof(*excl));
	json_t  *pools    = json_array();
	json_t  *required = json_array();
	if (cuts == NULL || excl == NULL || pools == NULL || required == NULL) {
		c->oom = true;
		free(cuts);
		free(excl);
		json_decref(pools);
		json_decref(required);
		json_decref(o);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < cfg->n_exclusions; i++) {
		excl[i].start = cfg->exclusions[i].start_range;
		excl[i].end   = cfg->exclusions[i].end_range;
		cuts[k++]     = excl[i];
	}
	for (size_t i = 0; i < n_pols; i++) {
		for (size_t j = 0; j < pols[i]->n_ip_ranges; j++) {
			cuts[k].start = pols[i]->ip_ranges[j].start_range;
			cuts[k].end   = pols[i]->ip_ranges[j].end_range;
			k++;
		}
	}
	if (n_cuts > 1) {
		qsort(cuts, n_cuts, sizeof(*cuts), range_cmp);
	}
	if (cfg->n_exclusions > 1) {
		qsort(excl, cfg->n_exclusions, sizeof(*excl), range_cmp);
	}
	add_pools(c, pools, s->start_range, s->end_range, cuts, n_cuts, NULL, NULL);

	/* Policy classes: pool-restricted (ranges) or subnet-required. */
	for (size_t i = 0; i < n_pols; i++) {
		const engine_policy *p    = pols[i];
		char                *name = NULL, pwhere[160];
		snprintf(pwhere, sizeof(pwhere), "scope %s policy '%s'", id, p->name);
		if (asprintf(&name, "policy:%s:%s", id, p->name) < 0) {
			c->oom = true;
			continue;
		}
		bool ranges = p->n_ip_ranges > 0;
		render_policy_class(c, p, name, !ranges, !ranges, pwhere);
		if (ranges) {
			json_t *od = option_data_list(c, p->options, p->n_options, pwhere, true);
			range64 pr[ENGINE_POLICY_RANGES_MAX];
			size_t  npr = p->n_ip_ranges < ENGINE_POLICY_RANGES_MAX
					  ? p->n_ip_ranges
					  : ENGINE_POLICY_RANGES_MAX;
			for (size_t j = 0; j < npr; j++) {
				pr[j].start = p->ip_ranges[j].start_range;
				pr[j].end   = p->ip_ranges[j].end_range;
			}
			if (npr > 1) {
				qsort(pr, npr, sizeof(*pr), range_cmp);
			}
			for (size_t j = 0; j < npr; j++) {
				add_pools(c, pools, pr[j].start, pr[j].end, excl, cfg->n_exclusions,
				    name, od);
			}
			json_decref(od);
		} else {
			append(
			    c, required, jstr(c, of_field(of, sizeof(of), pwhere, "name"), name));
		}
		free(name);
	}
	free(cuts);
	free(excl);
	set(c, o, "pools", pools);

	/* Scope options; those for a user class go to a class the subnet
	 * requires (Kea evaluates it only for clients of this subnet). */
	c->dns_here = true;
	set(c, o, "option-data", option_data_list(c, cfg->options, cfg->n_options, where, false));
	c->dns_here = false;
	render_dns_settings(c, o, cfg, where);
	for (size_t i = 0; i < cfg->n_options; i++) {
		const engine_option_value *v = &cfg->options[i];
		if (v->user_class == NULL || v->user_class[0] == '\0') {
			continue;
		}
		const engine_class *uc = find_class(c, ENGINE_CLASS_TYPE_USER, v->user_class);
		if (uc == NULL) {
			warn(c, "%s: option %u: user class '%s' unknown; not rendered", where,
			    v->option_id, v->user_class);
			continue;
		}
		char *name = NULL, *lit = hex_literal(uc->data, strlen(uc->data), false),
		     *test = NULL;
		if (lit == NULL || asprintf(&name, "scope:%s:user:%s", id, uc->name) < 0 ||
		    asprintf(&test, "option[77].hex == %s", lit) < 0) {
			c->oom = true;
			free(lit);
			free(name);
			continue;
		}
		free(lit);
		/* One class per (scope, user class): add to it if it exists. */
		json_t *cls = NULL;
		size_t  idx;
		json_t *it;
		json_array_foreach(c->client_classes, idx, it)
		{
			if (strcmp(json_string_value(json_object_get(it, "name")), name) == 0) {
				cls = it;
			}
		}
		if (cls == NULL) {
			char what[160];
			snprintf(what, sizeof(what), "%s: user class %s", where, uc->name);
			cls = json_object();
			if (cls != NULL) {
				set(c, cls, "name",
				    jstr(c, of_field(of, sizeof(of), what, "name"), name));
				set(c, cls, "test",
				    jstr(c, of_field(of, sizeof(of), what, "data"), test));
				set(c, cls, "only-if-required", json_true());
				set(c, cls, "option-data", json_array());
			}
			append(c, c->client_classes, cls);
			append(c, required, jstr(c, of, name));
		}
		json_t *d = cls != NULL ? option_data(c, v, where) : NULL;
		if (d != NULL) {
			append(c, json_object_get(cls, "option-data"), d);
		}
		free(name);
		free(test);
	}
	if (json_array_size(required) > 0) {
		set(c, o, "require-client-classes", required);
	} else {
		json_decref(required);
	}

	json_t *res = json_array();
	if (res == NULL) {
		c->oom = true;
	}
	for (size_t i = 0; res != NULL && i < cfg->n_reservations; i++) {
		json_t *r = render_reservation(c, &cfg->reservations[i], id);
		if (r != NULL) {
			append(c, res, r);
		}
	}
	set(c, o, "reservations", res);
	return o;
}

/* One option-def entry for d, or NULL when frep renders none for it (with
 * a warning saying why). */
static json_t *
option_def_json(render_ctx *c, const engine_option_def *d)
{
	if (d->predefined) {
		return NULL;
	}
	if (d->vendor_class != NULL && d->vendor_class[0] != '\0') {
		warn(c,
		    "option definition %u of vendor class '%s' not rendered "
		    "(vendor-encapsulated "
		    "spaces are not mapped)",
		    d->option_id, d->vendor_class);
		return NULL;
	}
	if (kea_defines(d->option_id)) {
		warn(c,
		    "option definition %u '%s': Kea defines code %u itself; its values are "
		    "sent "
		    "as hex bytes",
		    d->option_id, d->name, d->option_id);
		return NULL;
	}
	char name[64];
	snprintf(name, sizeof(name), "frep-option-%u", d->option_id);
	json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:b}", "name", name, "code",
	    (json_int_t) d->option_id, "space", "dhcp4", "type", kea_type(d->type), "array",
	    d->multi_valued && fixed_size(d->type));
	if (o == NULL) {
		c->oom = true;
		return NULL;
	}
	if (d->multi_valued && !fixed_size(d->type)) {
		warn(c,
		    "option definition %u '%s': multi-valued %s is not an array type in "
		    "Kea; "
		    "values are concatenated",
		    d->option_id, d->name, engine_option_type_name(d->type));
	}
	if (d->type == ENGINE_OPTION_TYPE_DWORD_DWORD) {
		warn(c, "option definition %u '%s': DWORD_DWORD is rendered as Kea type binary",
		    d->option_id, d->name);
	}
	char what[64], of[200];
	snprintf(what, sizeof(what), "option definition %u", d->option_id);
	json_t *ctx = json_object();
	if (ctx == NULL) {
		c->oom = true;
	} else {
		set(c, ctx, "name", jstr(c, of_field(of, sizeof(of), what, "name"), d->name));
	}
	if (ctx != NULL && d->description != NULL && d->description[0] != '\0') {
		set(c, ctx, "description",
		    jstr(c, of_field(of, sizeof(of), what, "description"), d->description));
	}
	set(c, o, "user-context", ctx);
	return o;
}

static json_t *
render_option_defs(render_ctx *c)
{
	json_t *arr = json_array();
	if (arr == NULL) {
		c->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < c->n_defs; i++) {
		json_t *o = option_def_json(c, &c->defs[i]);
		if (o != NULL) {
			append(c, arr, o);
		}
	}
	return arr;
}

json_t *
kea_render_option_def(const engine_option_def *def)
{
	kea_render_result r = {0};
	render_ctx        c = {.out = &r};
	json_t           *o = option_def_json(&c, def);
	kea_render_result_fini(&r);
	if (c.oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
kea_render_option_value(
    const engine_option_def *defs, size_t n_defs, const engine_option_value *value)
{
	kea_render_result r = {0};
	render_ctx        c = {.out = &r, .defs = (engine_option_def *) defs, .n_defs = n_defs};
	json_t           *o = option_data(&c, value, "option");
	kea_render_result_fini(&r);
	if (c.oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- the per-scope cache ------------------------------------------------ */

/* What rendering one active scope produced: its subnet4 entry, the client
 * classes it added (its policies' and user classes') and its warnings.
 * Valid for the scope's digest (engine_scope_config_digest: everything of
 * the scope render_scope reads) under one context: the option definitions,
 * the classes and the server's DNS update settings, the only other things
 * render_scope reads. */
typedef struct scope_entry {
	uint32_t scope_id;
	char     digest[65];
	json_t  *subnet;  /* shared with the renderings that use it: never modified */
	json_t  *classes; /* array, likewise */
	char   **warnings;
	size_t   n_warnings;
	char    *superscope; /* the scope's superscope name, NULL for none */
	char    *text;       /* subnet's compact dump, made when first needed */
	bool     seen;       /* used by the rendering in progress */
} scope_entry;

struct kea_render_cache {
	pthread_mutex_t mu; /* one rendering at a time */
	char            context[65];
	scope_entry    *entries;
	size_t          n, cap;
};

static void
scope_entry_fini(scope_entry *en)
{
	json_decref(en->subnet);
	json_decref(en->classes);
	for (size_t i = 0; i < en->n_warnings; i++) {
		free(en->warnings[i]);
	}
	free(en->warnings);
	free(en->superscope);
	free(en->text);
	memset(en, 0, sizeof(*en));
}

kea_render_cache *
kea_render_cache_new(void)
{
	kea_render_cache *c = calloc(1, sizeof(*c));
	if (c != NULL) {
		pthread_mutex_init(&c->mu, NULL);
	}
	return c;
}

void
kea_render_cache_free(kea_render_cache *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		scope_entry_fini(&c->entries[i]);
	}
	free(c->entries);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static scope_entry *
cache_find(kea_render_cache *c, uint32_t scope_id)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->entries[i].scope_id == scope_id) {
			return &c->entries[i];
		}
	}
	return NULL;
}

/* The entry of scope_id, added (empty) when there is none; NULL when out
 * of memory. Valid until the next cache_entry or cache_sweep. */
static scope_entry *
cache_entry(kea_render_cache *c, uint32_t scope_id)
{
	scope_entry *en = cache_find(c, scope_id);
	if (en != NULL) {
		return en;
	}
	if (c->n == c->cap) {
		size_t       cap = c->cap ? c->cap * 2 : 16;
		scope_entry *v   = realloc(c->entries, cap * sizeof(*v));
		if (v == NULL) {
			return NULL;
		}
		c->entries = v;
		c->cap     = cap;
	}
	en = &c->entries[c->n++];
	memset(en, 0, sizeof(*en));
	en->scope_id = scope_id;
	return en;
}

/* Drops the entries of scopes the last rendering did not use (removed,
 * inactive) and clears the marks. */
static void
cache_sweep(kea_render_cache *c)
{
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->entries[i].seen) {
			scope_entry_fini(&c->entries[i]);
			continue;
		}
		c->entries[i].seen = false;
		c->entries[w++]    = c->entries[i];
	}
	c->n = w;
}

/* Ends a rendering with the cache (NULL: none): keeps only the entries it
 * used when it succeeded, every entry (unmarked) when it failed; unlocks. */
static void
cache_end(kea_render_cache *c, bool ok)
{
	if (c == NULL) {
		return;
	}
	if (ok) {
		cache_sweep(c);
	} else {
		for (size_t i = 0; i < c->n; i++) {
			c->entries[i].seen = false;
		}
	}
	pthread_mutex_unlock(&c->mu);
}

/* Feeds one text (NULL as "") with its length to h, so that fields cannot
 * run into each other. */
static void
ctx_str(engine_sha256 *h, const char *s)
{
	uint32_t n = s != NULL ? (uint32_t) strlen(s) : 0;
	engine_sha256_update(h, &n, sizeof(n));
	engine_sha256_update(h, s != NULL ? s : "", n);
}

static void
ctx_u32(engine_sha256 *h, uint32_t v)
{
	engine_sha256_update(h, &v, sizeof(v));
}

/* The context key: a digest of everything render_scope reads besides the
 * scope itself (every field, so that nothing it may start reading later is
 * missed). False when libcrypto fails (the cache is then not used). */
static bool
render_context_key(const render_ctx *c, char out[65])
{
	engine_sha256 h;
	engine_sha256_init(&h);
	ctx_str(&h, "kea_render scope context/1");
	ctx_u32(&h, (uint32_t) c->n_defs);
	for (size_t i = 0; i < c->n_defs; i++) {
		const engine_option_def *d = &c->defs[i];
		ctx_u32(&h, d->option_id);
		ctx_str(&h, d->vendor_class);
		ctx_str(&h, d->name);
		ctx_str(&h, d->description);
		ctx_u32(&h, (uint32_t) d->type);
		ctx_u32(&h, d->multi_valued ? 1 : 0);
		ctx_u32(&h, d->predefined ? 1 : 0);
	}
	ctx_u32(&h, (uint32_t) c->n_classes);
	for (size_t i = 0; i < c->n_classes; i++) {
		const engine_class *k = &c->classes[i];
		ctx_u32(&h, (uint32_t) k->type);
		ctx_str(&h, k->name);
		ctx_str(&h, k->data);
		ctx_str(&h, k->description);
	}
	const engine_option_value *v = c->server_dns;
	ctx_u32(&h, v != NULL ? 1 : 0);
	if (v != NULL) {
		ctx_u32(&h, v->option_id);
		ctx_u32(&h, (uint32_t) v->n_values);
		for (size_t i = 0; i < v->n_values; i++) {
			ctx_str(&h, v->values[i]);
		}
	}
	return engine_sha256_final_hex(&h, out);
}

/* Renders one scope on its own (its classes and warnings kept apart) and
 * keeps the result in en (replacing what en had). False when out of memory
 * or on text jansson refuses (c->oom and c->not_text say which). */
static bool
render_scope_entry(render_ctx *c, const engine_scope_config *cfg, scope_entry *en)
{
	kea_render_result part = {0};
	render_ctx        sc   = *c;
	sc.out                 = &part;
	sc.client_classes      = json_array();
	sc.oom                 = sc.client_classes == NULL;
	sc.not_text[0]         = '\0';
	json_t *sub            = sc.oom ? NULL : render_scope(&sc, cfg);
	if (sc.oom) {
		c->oom = true;
		if (c->not_text[0] == '\0') {
			memcpy(c->not_text, sc.not_text, sizeof(c->not_text));
			memcpy(c->not_text_of, sc.not_text_of, sizeof(c->not_text_of));
		}
		json_decref(sub);
		json_decref(sc.client_classes);
		kea_render_result_fini(&part);
		return false;
	}
	const char *ss         = cfg->scope.superscope_name;
	char       *superscope = ss != NULL && ss[0] != '\0' ? strdup(ss) : NULL;
	if (ss != NULL && ss[0] != '\0' && superscope == NULL) {
		c->oom = true;
		json_decref(sub);
		json_decref(sc.client_classes);
		kea_render_result_fini(&part);
		return false;
	}
	scope_entry_fini(en);
	en->scope_id = cfg->scope.scope_id;
	memcpy(en->digest, cfg->digest, 65);
	en->superscope = superscope;
	en->subnet     = sub; /* NULL: render_scope rendered nothing (not today) */
	en->classes    = sc.client_classes;
	en->warnings   = part.warnings;
	en->n_warnings = part.n_warnings;
	return true;
}

/* Adds a cached scope's part to the rendering in progress: its classes and
 * warnings in the order a rendering without the cache gives them. */
static void
use_scope_entry(render_ctx *c, const scope_entry *en)
{
	size_t  i;
	json_t *v;
	json_array_foreach(en->classes, i, v)
	{
		append(c, c->client_classes, json_incref(v));
	}
	for (i = 0; i < en->n_warnings; i++) {
		warn(c, "%s", en->warnings[i]);
	}
}

/* --- texts --------------------------------------------------------------- */

/* Appends v as compact JSON with sorted keys (kea_render_dump's form). */
static void
tb_dump(sbuf *b, const json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (t == NULL) {
		b->bad = true;
		return;
	}
	sb_add(b, t);
	free(t);
}

/* Appends "key": as jansson writes an object's key. */
static void
tb_key(sbuf *b, const char *key)
{
	json_t *k = json_string(key);
	if (k == NULL) {
		b->bad = true;
		return;
	}
	tb_dump(b, k);
	json_decref(k);
	sb_add(b, ":");
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* obj's keys sorted (jansson's sorted order for keys without NUL), a new
 * array of borrowed keys (*n of them); NULL when out of memory. */
static const char **
sorted_keys(const json_t *obj, size_t *n)
{
	const char  *key;
	json_t      *val;
	size_t       k    = 0;
	const char **keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
	*n                = 0;
	if (keys == NULL) {
		return NULL;
	}
	json_object_foreach((json_t *) obj, key, val)
	{
		keys[k++] = key;
	}
	if (k > 1) {
		qsort(keys, k, sizeof(*keys), cmp_key);
	}
	*n = k;
	return keys;
}

/* Appends a subnet4 array's compact text; a subnet the cache holds is
 * dumped once (en->text) and its text reused while the entry lasts (its
 * JSON never changes). */
static void
dump_subnets(sbuf *b, const json_t *arr, kea_render_cache *cache)
{
	size_t  i;
	json_t *v;
	sb_add(b, "[");
	json_array_foreach(arr, i, v)
	{
		scope_entry *en =
		    cache_find(cache, (uint32_t) json_integer_value(json_object_get(v, "id")));
		sb_add(b, i > 0 ? "," : "");
		if (en == NULL || en->subnet != v) {
			tb_dump(b, v);
			continue;
		}
		if (en->text == NULL) {
			en->text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		}
		if (en->text == NULL) {
			b->bad = true;
			return;
		}
		sb_add(b, en->text);
	}
	sb_add(b, "]");
}

/* Appends a shared-networks array's compact text: each {"name",
 * "subnet4"} object (the keys in order) with its subnets as dump_subnets
 * gives them. */
static void
dump_shared(sbuf *b, const json_t *arr, kea_render_cache *cache)
{
	size_t  i;
	json_t *net;
	sb_add(b, "[");
	json_array_foreach(arr, i, net)
	{
		json_t *name = json_object_get(net, "name"),
		       *subs = json_object_get(net, "subnet4");
		sb_add(b, i > 0 ? "," : "");
		if (json_object_size(net) != 2 || !json_is_string(name) || !json_is_array(subs)) {
			tb_dump(b, net);
			continue;
		}
		sb_add(b, "{");
		tb_key(b, "name");
		tb_dump(b, name);
		sb_add(b, ",");
		tb_key(b, "subnet4");
		dump_subnets(b, subs, cache);
		sb_add(b, "}");
	}
	sb_add(b, "]");
}

/* The compact text of dhcp4's value for key; with a cache, the subnets it
 * holds are not dumped again. NULL when out of memory. */
static char *
part_text(const json_t *dhcp4, const char *key, kea_render_cache *cache)
{
	const json_t *v       = json_object_get(dhcp4, key);
	bool          subnets = strcmp(key, "subnet4") == 0 && json_is_array(v);
	bool          shared  = strcmp(key, "shared-networks") == 0 && json_is_array(v);
	if (cache == NULL || (!subnets && !shared)) {
		return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	}
	sbuf b = {0};
	if (subnets) {
		dump_subnets(&b, v, cache);
	} else {
		dump_shared(&b, v, cache);
	}
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* Fills out->parts from out->dhcp4 and returns the compact text of the
 * whole (kea_render_dump(dhcp4, 0)'s bytes: "{" "key":text "," ... "}"),
 * NULL when out of memory. cache (may be NULL) is locked by the caller. */
static char *
render_parts(kea_render_result *out, kea_render_cache *cache)
{
	size_t       n;
	const char **keys = sorted_keys(out->dhcp4, &n);
	sbuf         b    = {0};
	if (keys == NULL || (out->parts = calloc(n + 1, sizeof(*out->parts))) == NULL) {
		free(keys);
		return NULL;
	}
	sb_add(&b, "{");
	for (size_t i = 0; i < n && !b.bad; i++) {
		kea_render_part *pt = &out->parts[out->n_parts];
		pt->key             = strdup(keys[i]);
		pt->text            = part_text(out->dhcp4, keys[i], cache);
		out->n_parts++;
		if (pt->key == NULL || pt->text == NULL) {
			b.bad = true;
			break;
		}
		sb_add(&b, i > 0 ? "," : "");
		tb_key(&b, keys[i]);
		sb_add(&b, pt->text);
	}
	sb_add(&b, "}");
	free(keys);
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static const kea_render_part *
find_part(const kea_render_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_parts; i++) {
		if (strcmp(r->parts[i].key, key) == 0) {
			return &r->parts[i];
		}
	}
	return NULL;
}

static bool
owned_key(const char *key)
{
	for (const char *const *k = kea_render_owned_keys; *k != NULL; k++) {
		if (strcmp(*k, key) == 0) {
			return true;
		}
	}
	return false;
}

/* The merged Dhcp4 object's text: base_d4's keys (not frep's) with their
 * values dumped, r's parts reused, all in key order. */
static void
merged_dhcp4_text(sbuf *b, const json_t *base_d4, const kea_render_result *r)
{
	size_t       nb    = 0;
	const char **bkeys = json_is_object(base_d4) ? sorted_keys(base_d4, &nb) : NULL;
	const char **all   = calloc(nb + r->n_parts + 1, sizeof(*all));
	size_t       n     = 0;
	if ((json_is_object(base_d4) && bkeys == NULL) || all == NULL) {
		b->bad = true;
		free(bkeys);
		free(all);
		return;
	}
	for (size_t i = 0; i < nb; i++) {
		if (!owned_key(bkeys[i]) && find_part(r, bkeys[i]) == NULL) {
			all[n++] = bkeys[i];
		}
	}
	for (size_t i = 0; i < r->n_parts; i++) {
		all[n++] = r->parts[i].key;
	}
	if (n > 1) {
		qsort(all, n, sizeof(*all), cmp_key);
	}
	sb_add(b, "{");
	for (size_t i = 0; i < n && !b->bad; i++) {
		const kea_render_part *pt = find_part(r, all[i]);
		sb_add(b, i > 0 ? "," : "");
		tb_key(b, all[i]);
		if (pt != NULL) {
			sb_add(b, pt->text);
		} else {
			tb_dump(b, json_object_get(base_d4, all[i]));
		}
	}
	sb_add(b, "}");
	free(bkeys);
	free(all);
}

char *
kea_render_merged_dump(const json_t *base, const kea_render_result *r)
{
	/* With Kea's HA hook rendered, the hooks and multi-threading are a
	 * merge of the base's and frep's (kea_ha_merge), not frep's part
	 * alone: that configuration is merged as JSON and dumped. */
	if (json_object_get(r->dhcp4, "hooks-libraries") != NULL) {
		json_t *merged = kea_render_merge(base, r->dhcp4);
		char   *text =
                    merged != NULL ? json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(merged);
		return text;
	}
	size_t       n;
	const char **keys = sorted_keys(base, &n);
	sbuf         b    = {0};
	bool         d4   = json_object_get(base, "Dhcp4") != NULL;
	if (keys == NULL) {
		return NULL;
	}
	/* kea_render_merge adds a Dhcp4 to a base without one. */
	const char **all = d4 ? keys : calloc(n + 2, sizeof(*all));
	if (all == NULL) {
		free(keys);
		return NULL;
	}
	if (!d4) {
		memcpy(all, keys, n * sizeof(*all));
		all[n++] = "Dhcp4";
		qsort(all, n, sizeof(*all), cmp_key);
	}
	sb_add(&b, "{");
	for (size_t i = 0; i < n && !b.bad; i++) {
		sb_add(&b, i > 0 ? "," : "");
		tb_key(&b, all[i]);
		if (strcmp(all[i], "Dhcp4") == 0) {
			merged_dhcp4_text(&b, json_object_get(base, "Dhcp4"), r);
		} else {
			tb_dump(&b, json_object_get(base, all[i]));
		}
	}
	sb_add(&b, "}");
	if (all != keys) {
		free(all);
	}
	free(keys);
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* --- the whole server --------------------------------------------------- */

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int
cmp_policy_order(const void *a, const void *b)
{
	const engine_policy *x = a, *y = b;
	if (x->processing_order != y->processing_order) {
		return x->processing_order < y->processing_order ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

frep_code
kea_render(engine *e, kea_render_result *out, frep_status *st)
{
	return kea_render_cached(e, NULL, out, st);
}

frep_code
kea_render_cached(engine *e, kea_render_cache *cache, kea_render_result *out, frep_status *st)
{
	render_ctx           c             = {.out = out};
	engine_scope        *scopes        = NULL;
	size_t               n_scopes      = 0;
	engine_option_value *server_opts   = NULL;
	size_t               n_server_opts = 0;
	engine_policy       *spols         = NULL;
	size_t               n_spols       = 0;
	engine_option_target server        = {0};
	json_t              *subnets = NULL, *shared = NULL;
	uint32_t            *ids = NULL;
	char(*digests)[65]       = NULL;
	bool     *stored         = NULL;
	bool      ok             = false;
	frep_code rc;

	memset(out, 0, sizeof(*out));
	if (cache != NULL) {
		pthread_mutex_lock(&cache->mu);
	}
	if ((rc = engine_option_def_list(e, NULL, true, &c.defs, &c.n_defs, st)) != FREP_OK ||
	    (rc = engine_class_list(
		 e, ENGINE_CLASS_TYPE_UNSPECIFIED, &c.classes, &c.n_classes, st)) != FREP_OK ||
	    (rc = engine_option_value_list(e, &server, &server_opts, &n_server_opts, st)) !=
		FREP_OK ||
	    (rc = engine_policy_list(e, 0, &spols, &n_spols, st)) != FREP_OK ||
	    (rc = engine_scope_list(e, &scopes, &n_scopes, st)) != FREP_OK) {
		goto fail;
	}
	out->dhcp4       = json_object();
	c.client_classes = json_array();
	subnets          = json_array();
	shared           = json_object(); /* superscope name -> subnet4 array */
	if (out->dhcp4 == NULL || c.client_classes == NULL || subnets == NULL || shared == NULL) {
		c.oom = true;
		goto done;
	}
	for (size_t i = 0; i < n_server_opts; i++) {
		const engine_option_value *v = &server_opts[i];
		if (v->option_id == KEA_DNS_SETTINGS_OPTION &&
		    (v->vendor_class == NULL || v->vendor_class[0] == '\0') &&
		    (v->user_class == NULL || v->user_class[0] == '\0')) {
			c.server_dns = v;
		}
	}
	set(&c, out->dhcp4, "option-def", render_option_defs(&c));
	render_classes(&c, server_opts, n_server_opts);

	/* Server-level policies, in processing order, before the scopes'. */
	if (n_spols > 1) {
		qsort(spols, n_spols, sizeof(*spols), cmp_policy_order);
	}
	for (size_t i = 0; i < n_spols; i++) {
		char name[ENGINE_POLICY_NAME_MAX + 16], where[ENGINE_POLICY_NAME_MAX + 32];
		if (!spols[i].enabled) {
			continue;
		}
		snprintf(name, sizeof(name), "policy:server:%s", spols[i].name);
		snprintf(where, sizeof(where), "server policy '%s'", spols[i].name);
		render_policy_class(&c, &spols[i], name, true, false, where);
	}
	c.dns_here = true;
	set(&c, out->dhcp4, "option-data",
	    option_data_list(&c, server_opts, n_server_opts, "server options", false));
	c.dns_here = false;
	for (size_t i = 0; i < n_server_opts; i++) {
		const char *uc = server_opts[i].user_class;
		if (uc != NULL && uc[0] != '\0' &&
		    find_class(&c, ENGINE_CLASS_TYPE_USER, uc) == NULL) {
			warn(&c, "server options: option %u: user class '%s' unknown; not rendered",
			    server_opts[i].option_id, uc);
		}
	}

	if (cache != NULL) {
		/* Each scope's stored digest (a lookup; a scope changed since has
		 * none: it is read, and rendered again unless its snapshot's
		 * digest is the one rendered), under the same context. */
		char context[65];
		ids     = calloc(n_scopes + 1, sizeof(*ids));
		digests = calloc(n_scopes + 1, sizeof(*digests));
		stored  = calloc(n_scopes + 1, sizeof(*stored));
		if (ids == NULL || digests == NULL || stored == NULL) {
			c.oom = true;
			goto done;
		}
		for (size_t i = 0; i < n_scopes; i++) {
			ids[i] = scopes[i].scope_id;
		}
		if ((rc = engine_scope_digests_stored(e, ids, n_scopes, digests, stored, st)) !=
		    FREP_OK) {
			goto fail;
		}
		if (!render_context_key(&c, context)) {
			memset(stored, 0, (n_scopes + 1) * sizeof(*stored));
			context[0] = '\0';
		}
		if (strcmp(context, cache->context) != 0) {
			cache_sweep(cache); /* nothing is marked: drops every entry */
			memcpy(cache->context, context, sizeof(context));
		}
	}
	for (size_t i = 0; i < n_scopes && !c.oom; i++) {
		char ip[INET_ADDRSTRLEN];
		if (scopes[i].state != ENGINE_SCOPE_STATE_ACTIVE) {
			warn(&c,
			    "scope %s is inactive: not rendered (Kea has no inactive subnet; its "
			    "clients "
			    "get no address)",
			    ip_text(scopes[i].scope_id, ip));
			continue;
		}
		engine_scope_config *cfg = NULL;
		scope_entry *en  = cache != NULL ? cache_find(cache, scopes[i].scope_id) : NULL;
		json_t      *sub = NULL;
		const char  *ss  = NULL;
		if (en != NULL && cache->context[0] != '\0' && stored[i] &&
		    strcmp(en->digest, digests[i]) == 0) {
			/* Unchanged since it was rendered: the same bytes. */
			en->seen = true;
			sub      = json_incref(en->subnet);
			ss       = en->superscope;
			use_scope_entry(&c, en);
		} else {
			if ((rc = engine_scope_snapshot(e, scopes[i].scope_id, &cfg, st)) !=
			    FREP_OK) {
				if (rc ==
				    FREP_NOT_FOUND) { /* removed meanwhile: the next push has it */
					continue;
				}
				goto fail;
			}
			if (cache == NULL) {
				sub = render_scope(&c, cfg);
			} else if (en != NULL && cache->context[0] != '\0' &&
				   strcmp(en->digest, cfg->digest) == 0) {
				/* No digest stored (never compared with a partner,
				 * or changed and changed back), but the snapshot's
				 * is the one rendered: read, not rendered again. */
				en->seen = true;
				sub      = json_incref(en->subnet);
				use_scope_entry(&c, en);
			} else if ((en = cache_entry(cache, scopes[i].scope_id)) == NULL) {
				c.oom = true;
			} else if (render_scope_entry(&c, cfg, en)) {
				en->seen = true;
				sub      = json_incref(en->subnet);
				use_scope_entry(&c, en);
			}
			ss = cfg->scope.superscope_name;
		}
		if (sub != NULL && ss != NULL && ss[0] != '\0') {
			/* A key of the shared networks: jansson checks keys too. */
			char sid[INET_ADDRSTRLEN], of[64];
			snprintf(of, sizeof(of), "scope %s: superscope name",
			    ip_text(scopes[i].scope_id, sid));
			if (!text_ok(&c, of, ss)) {
				json_decref(sub);
				sub = NULL;
			}
		}
		if (sub != NULL && ss != NULL && ss[0] != '\0') {
			json_t *arr = json_object_get(shared, ss);
			if (arr == NULL) {
				arr = json_array();
				if (arr == NULL || json_object_set_new(shared, ss, arr) != 0) {
					c.oom = true;
				}
			}
			if (arr != NULL) {
				append(&c, arr, sub);
			}
		} else if (sub != NULL) {
			append(&c, subnets, sub);
		}
		engine_scope_config_free(cfg);
	}
	set(&c, out->dhcp4, "subnet4", subnets);
	subnets = NULL;
	{
		/* Shared networks by name (jansson iterates in hash order). */
		json_t      *nets = json_array();
		const char  *key;
		json_t      *val;
		size_t       n_keys = json_object_size(shared), k = 0;
		const char **keys = calloc(n_keys + 1, sizeof(*keys));
		if (nets == NULL || keys == NULL) {
			c.oom = true;
			json_decref(nets);
			free(keys);
			goto done;
		}
		json_object_foreach(shared, key, val)
		{
			keys[k++] = key;
		}
		if (n_keys > 1) {
			qsort(keys, n_keys, sizeof(*keys), strcmp_ptr);
		}
		for (k = 0; k < n_keys; k++) {
			append(&c, nets,
			    json_pack("{s:s, s:O}", "name", keys[k], "subnet4",
				json_object_get(shared, keys[k])));
		}
		free(keys);
		set(&c, out->dhcp4, "shared-networks", nets);
	}
	set(&c, out->dhcp4, "client-classes", c.client_classes);
	c.client_classes = NULL;
	/* The failover relationship as Kea's HA hook (kea_ha.c). */
	if (!c.oom && (rc = kea_ha_render(e, out, st)) != FREP_OK) {
		goto fail;
	}

done:
	json_decref(subnets);
	json_decref(shared);
	json_decref(c.client_classes);
	if (c.oom && c.not_text[0] != '\0') {
		rc = frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s \"%s\" is not valid UTF-8 (escaped here), and jansson, which writes Kea's "
		    "configuration, takes only UTF-8: it cannot be rendered until that text is "
		    "changed",
		    c.not_text_of, c.not_text);
		goto fail_clean;
	}
	char *compact = NULL;
	if (c.oom || (compact = render_parts(out, cache)) == NULL) {
		rc = frep_status_set(
		    st, FREP_RESOURCE_EXHAUSTED, "out of memory rendering Kea's configuration");
		goto fail_clean;
	}
	engine_sha256_hex(compact, strlen(compact), out->digest);
	free(compact);
	ok = true;
	goto release;

fail:
	json_decref(subnets);
	json_decref(shared);
	json_decref(c.client_classes);
fail_clean:
release:
	cache_end(cache, ok);
	free(ids);
	free(digests);
	free(stored);
	engine_option_defs_free(c.defs, c.n_defs);
	engine_classes_free(c.classes, c.n_classes);
	engine_option_values_free(server_opts, n_server_opts);
	engine_policies_free(spols, n_spols);
	engine_scopes_free(scopes, n_scopes);
	if (ok) {
		frep_status_clear(st);
		return FREP_OK;
	}
	kea_render_result_fini(out);
	return rc;
}

void
kea_render_result_fini(kea_render_result *r)
{
	if (r == NULL) {
		return;
	}
	json_decref(r->dhcp4);
	for (size_t i = 0; i < r->n_warnings; i++) {
		free(r->warnings[i]);
	}
	free(r->warnings);
	for (size_t i = 0; i < r->n_parts; i++) {
		free(r->parts[i].key);
		free(r->parts[i].text);
	}
	free(r->parts);
	memset(r, 0, sizeof(*r));
}

char *
kea_render_dump(const json_t *j, int pretty)
{
	size_t flags = JSON_SORT_KEYS | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
	char  *s     = json_dumps(j, flags);
	if (s == NULL || !pretty) {
		return s;
	}
	size_t n = strlen(s);
	char  *t = realloc(s, n + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[n]     = '\n';
	t[n + 1] = '\0';
	return t;
}

json_t *
kea_render_wrap(const json_t *dhcp4)
{
	json_t *copy = json_deep_copy(dhcp4);
	if (copy == NULL) {
		return NULL;
	}
	return json_pack("{s:o}", "Dhcp4", copy);
}

frep_code
kea_render_read_file(const char *path, char **text, size_t *len, frep_status *st)
{
	FILE  *f   = fopen(path, "rb");
	char  *buf = NULL;
	size_t n = 0, cap = 0;

	*text = NULL;
	*len  = 0;
	if (f == NULL) {
		return frep_status_set(st, errno == ENOENT ? FREP_NOT_FOUND : FREP_UNAVAILABLE,
		    "Kea base file %s: %s", path, strerror(errno));
	}
	/* Whole blocks, not jansson's character-at-a-time json_loadf: once Kea
	 * has written its configuration there (config-write), the base file
	 * holds every reservation. */
	for (;;) {
		if (cap - n < 65536 + 1) {
			char *nb = realloc(buf, cap * 2 + 65536 + 1);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
				    "Kea base file %s: out of memory", path);
			}
			buf = nb;
			cap = cap * 2 + 65536 + 1;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			break;
		}
	}
	if (ferror(f)) {
		int err = errno;
		free(buf);
		fclose(f);
		return frep_status_set(
		    st, FREP_UNAVAILABLE, "Kea base file %s: %s", path, strerror(err));
	}
	fclose(f);
	buf[n] = '\0';
	*text  = buf;
	*len   = n;
	frep_status_clear(st);
	return FREP_OK;
}

frep_code
kea_render_parse_base(const char *path, const char *text, size_t len, json_t **out, frep_status *st)
{
	json_error_t err;
	*out      = NULL;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "Kea base file %s: line %d column %d: %s (plain JSON only: no comments)", path,
		    err.line, err.column, err.text);
	}
	if (!json_is_object(json_object_get(j, "Dhcp4"))) {
		json_decref(j);
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "Kea base file %s: no \"Dhcp4\" object at the top level", path);
	}
	*out = j;
	frep_status_clear(st);
	return FREP_OK;
}

frep_code
kea_render_load_base(const char *path, json_t **out, frep_status *st)
{
	char     *text = NULL;
	size_t    len  = 0;
	frep_code rc;

	*out = NULL;
	if ((rc = kea_render_read_file(path, &text, &len, st)) != FREP_OK) {
		return rc;
	}
	rc = kea_render_parse_base(path, text, len, out, st);
	free(text);
	return rc;
}

json_t *
kea_render_merge(const json_t *base, const json_t *dhcp4)
{
	/* Shallow copies of the two objects it changes (the top level and its
	 * Dhcp4); every value below is shared, not copied: with every
	 * reservation in the base file (Kea's config-write) a deep copy cost
	 * as much as the rendering. */
	json_t *all = json_copy((json_t *) base);
	if (all == NULL) {
		return NULL;
	}
	json_t *in = json_object_get(all, "Dhcp4");
	json_t *d  = json_is_object(in) ? json_copy(in) : json_object();
	if (d == NULL || json_object_set_new(all, "Dhcp4", d) != 0) {
		json_decref(all);
		return NULL;
	}
	for (const char *const *k = kea_render_owned_keys; *k != NULL; k++) {
		json_object_del(d, *k);
	}
	const char *key;
	json_t     *val;
	json_object_foreach((json_t *) dhcp4, key, val)
	{
		if (strcmp(key, "hooks-libraries") != 0 && json_object_set(d, key, val) != 0) {
			json_decref(all);
			return NULL;
		}
	}
	/* hooks-libraries: frep's HA hooks beside the base's others (kea_ha.c). */
	if (kea_ha_merge(d, json_object_get(base, "Dhcp4"), dhcp4) != 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}
