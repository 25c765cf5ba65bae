/* The wire format of standard DHCPv4 options: an option value is valid
 * only if its payload is one the standard format of its code accepts, so
 * no value frep stores can be refused by a DHCP server (ISC Kea parses
 * every configured option against these formats and refuses the whole
 * configuration otherwise). The table below is the format of every code
 * Kea 2.2 defines in its dhcp4 space (its std_option_defs.h; the rules were
 * checked code by code with `kea-dhcp4 -t`, and
 * tests/kea_option_matrix_test.c re-checks every accepted edge value). A
 * code without a standard format takes its definition's own format (the
 * type frep renders as an option-def). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "hexid.h"

typedef enum wire_kind {
	WIRE_NONE = 0,    /* terminator */
	WIRE_ANY,         /* opaque bytes */
	WIRE_FIXED,       /* at least n bytes (one fixed-size field or record) */
	WIRE_BOOL,        /* at least 1 byte, the first 0 or 1 */
	WIRE_ADDRS,       /* IPv4 addresses: a multiple of 4 bytes (none allowed) */
	WIRE_INTS,        /* an array of n-byte integers: at least one, a multiple of n */
	WIRE_STRING,      /* text: at least one byte that is not NUL */
	WIRE_NAMES,       /* one or more uncompressed DNS names */
	WIRE_NAME,        /* exactly one uncompressed DNS name */
	WIRE_FIXED_NAME,  /* n fixed bytes, then one uncompressed DNS name */
	WIRE_FIXED_ADDRS, /* n fixed bytes, then one or more IPv4 addresses */
	WIRE_VIVCO,       /* enterprise number, then (1-byte length, data) tuples */
	WIRE_VIVSO,       /* enterprise number, then (code, length, data) suboptions */
	WIRE_SETTINGS,    /* option 81: DNS update settings, never sent as option data */
} wire_kind;

typedef struct wire_format {
	uint8_t     code;
	wire_kind   kind;
	uint8_t     n;
	bool        flag; /* the first byte is a boolean: 0 or 1 */
	const char *what; /* for messages */
} wire_format;

#define FIX(c, len, w)                                                                             \
	{                                                                                          \
		.code = c, .kind = WIRE_FIXED, .n = len, .what = w                                 \
	}
#define ADDRS(c)                                                                                   \
	{                                                                                          \
		.code = c, .kind = WIRE_ADDRS, .what = "a list of IPv4 addresses"                  \
	}
#define STR(c)                                                                                     \
	{                                                                                          \
		.code = c, .kind = WIRE_STRING, .what = "a non-empty string"                       \
	}
#define BOOL(c)                                                                                    \
	{                                                                                          \
		.code = c, .kind = WIRE_BOOL, .what = "a boolean (0 or 1)"                         \
	}
#define ANY(c)                                                                                     \
	{                                                                                          \
		.code = c, .kind = WIRE_ANY, .what = "opaque bytes"                                \
	}
#define INTS(c, len, w)                                                                            \
	{                                                                                          \
		.code = c, .kind = WIRE_INTS, .n = len, .what = w                                  \
	}
#define NAMES(c)                                                                                   \
	{                                                                                          \
		.code = c, .kind = WIRE_NAMES, .what = "one or more uncompressed DNS names"        \
	}

static const wire_format standard_formats[] = {
    FIX(1, 4, "an IPv4 address"), FIX(2, 4, "a 32-bit integer"), ADDRS(3), ADDRS(4), ADDRS(5),
    ADDRS(6), ADDRS(7), ADDRS(8), ADDRS(9), ADDRS(10), ADDRS(11), STR(12),
    FIX(13, 2, "a 16-bit integer"), STR(14), STR(15), FIX(16, 4, "an IPv4 address"), STR(17),
    STR(18), BOOL(19), BOOL(20), ADDRS(21), FIX(22, 2, "a 16-bit integer"),
    FIX(23, 1, "an 8-bit integer"), FIX(24, 4, "a 32-bit integer"),
    INTS(25, 2, "one or more 16-bit integers"), FIX(26, 2, "a 16-bit integer"), BOOL(27),
    FIX(28, 4, "an IPv4 address"), BOOL(29), BOOL(30), BOOL(31), FIX(32, 4, "an IPv4 address"),
    ADDRS(33), BOOL(34), FIX(35, 4, "a 32-bit integer"), BOOL(36), FIX(37, 1, "an 8-bit integer"),
    FIX(38, 4, "a 32-bit integer"), BOOL(39), STR(40), ADDRS(41), ADDRS(42), ADDRS(44), ADDRS(45),
    FIX(46, 1, "an 8-bit integer"), STR(47), ADDRS(48), ADDRS(49), FIX(50, 4, "an IPv4 address"),
    FIX(51, 4, "a 32-bit integer"), FIX(52, 1, "an 8-bit integer"), FIX(53, 1, "an 8-bit integer"),
    FIX(54, 4, "an IPv4 address"), INTS(55, 1, "one or more option codes"), STR(56),
    FIX(57, 2, "a 16-bit integer"), FIX(58, 4, "a 32-bit integer"), FIX(59, 4, "a 32-bit integer"),
    STR(60), ANY(61), STR(62), ANY(63), STR(64), ADDRS(65), STR(66), STR(67), ADDRS(68), ADDRS(69),
    ADDRS(70), ADDRS(71), ADDRS(72), ADDRS(73), ADDRS(74), ADDRS(75), ADDRS(76), ANY(77),
    {.code    = 78,
	.kind = WIRE_FIXED_ADDRS,
	.n    = 1,
	.flag = true,
	.what = "a mandatory flag byte and one or more IPv4 addresses"},
    {.code    = 79,
	.kind = WIRE_FIXED,
	.n    = 1,
	.flag = true,
	.what = "a mandatory flag byte and a scope list"},
    {.code = 81, .kind = WIRE_SETTINGS, .what = "DNS update settings"}, ANY(82), ADDRS(85), STR(86),
    STR(87), NAMES(88), ADDRS(89), ANY(90), FIX(91, 4, "a 32-bit integer"), ADDRS(92),
    INTS(93, 2, "one or more 16-bit integers"), FIX(94, 3, "three bytes (type, major, minor)"),
    FIX(97, 1, "a type byte and an identifier"), STR(98), ANY(99), STR(100), STR(101),
    FIX(108, 4, "a 32-bit integer"), ADDRS(112), STR(113), STR(114),
    FIX(116, 1, "an 8-bit integer"), INTS(117, 2, "one or more 16-bit integers"),
    FIX(118, 4, "an IPv4 address"), NAMES(119),
    {.code = 124, .kind = WIRE_VIVCO, .what = "an enterprise number and vendor classes"},
    {.code = 125, .kind = WIRE_VIVSO, .what = "an enterprise number and suboptions"}, ADDRS(136),
    {.code = 137, .kind = WIRE_NAME, .what = "one uncompressed DNS name"}, ADDRS(138), NAMES(141),
    {.code    = 146,
	.kind = WIRE_FIXED_NAME,
	.n    = 9,
	.what = "a preference byte, two IPv4 addresses and a DNS name"},
    FIX(159, 4, "PSID offset, length and PSID"),
    {.code    = 212,
	.kind = WIRE_FIXED_ADDRS,
	.n    = 18,
	.what = "mask lengths, an IPv6 prefix and one or more IPv4 addresses"},
    {.code = 213, .kind = WIRE_NAME, .what = "one uncompressed DNS name"},
    {.code = 0, .kind = WIRE_NONE}, /* terminator */
};

#undef FIX
#undef ADDRS
#undef STR
#undef BOOL
#undef ANY
#undef INTS
#undef NAMES

static const wire_format *
standard_format(uint32_t code)
{
	for (const wire_format *f = standard_formats; f->kind != WIRE_NONE; f++) {
		if (f->code == code) {
			return f;
		}
	}
	return NULL;
}

bool
engine_option_code_is_standard(uint32_t option_id)
{
	return standard_format(option_id) != NULL;
}

/* The format a definition of type gives a code without a standard one
 * (what a custom option-def of that type accepts). */
static wire_format
own_format(uint32_t code, engine_option_type type, bool multi)
{
	wire_format f = {.code = (uint8_t) code, .kind = WIRE_ANY, .what = "opaque bytes"};
	size_t      n = 0;
	switch (type) {
	case ENGINE_OPTION_TYPE_BYTE:
		n = 1;
		break;
	case ENGINE_OPTION_TYPE_WORD:
		n = 2;
		break;
	case ENGINE_OPTION_TYPE_DWORD:
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS:
		n = 4;
		break;
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS:
		n = 16;
		break;
	case ENGINE_OPTION_TYPE_STRING:
		f.kind = WIRE_STRING;
		f.what = "a non-empty string";
		return f;
	default: /* DWORD_DWORD, BINARY, ENCAPSULATED: binary */
		return f;
	}
	f.kind = multi ? WIRE_INTS : WIRE_FIXED;
	f.n    = (uint8_t) n;
	f.what = multi ? "one or more fixed-size values" : "one fixed-size value";
	return f;
}

/* Appends value's wire encoding (normal form of type) to buf. False when it
 * does not fit or is not of the type (a normalised value always is). */
static bool
encode(engine_option_type type, const char *value, uint8_t *buf, size_t cap, size_t *len)
{
	size_t             width = 0;
	unsigned long long v     = 0;
	size_t             n;

	switch (type) {
	case ENGINE_OPTION_TYPE_BYTE:
		width = 1;
		break;
	case ENGINE_OPTION_TYPE_WORD:
		width = 2;
		break;
	case ENGINE_OPTION_TYPE_DWORD:
		width = 4;
		break;
	case ENGINE_OPTION_TYPE_DWORD_DWORD:
		width = 8;
		break;
	case ENGINE_OPTION_TYPE_IPV4_ADDRESS: {
		uint32_t a;
		if (engine_ipv4_parse(value, "value", &a, NULL) != FREP_OK || *len + 4 > cap) {
			return false;
		}
		for (int i = 0; i < 4; i++) {
			buf[(*len)++] = (uint8_t) (a >> (24 - 8 * i));
		}
		return true;
	}
	case ENGINE_OPTION_TYPE_IPV6_ADDRESS:
		if (*len + 16 > cap || inet_pton(AF_INET6, value, buf + *len) != 1) {
			return false;
		}
		*len += 16;
		return true;
	case ENGINE_OPTION_TYPE_STRING:
		n = strlen(value);
		if (*len + n > cap) {
			return false;
		}
		memcpy(buf + *len, value, n);
		*len += n;
		return true;
	case ENGINE_OPTION_TYPE_BINARY_DATA:
	case ENGINE_OPTION_TYPE_ENCAPSULATED_DATA:
		if (engine_hex_parse(value, "value", buf + *len, cap - *len, &n, NULL) != FREP_OK) {
			return false;
		}
		*len += n;
		return true;
	default:
		return false;
	}
	for (const char *p = value; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned) (*p - '0');
	}
	if (*len + width > cap) {
		return false;
	}
	for (size_t i = 0; i < width; i++) {
		buf[(*len)++] = (uint8_t) (v >> (8 * (width - 1 - i)));
	}
	return true;
}

/* Reads one uncompressed DNS name at b[*pos]; NULL or the reason. */
static const char *
read_name(const uint8_t *b, size_t len, size_t *pos)
{
	size_t start = *pos, labels = 0;
	for (;;) {
		if (*pos >= len) {
			return "a name is cut short (no terminating zero label)";
		}
		uint8_t l = b[*pos];
		if ((l & 0xc0) != 0) {
			return "it holds a compression pointer or reserved label type (write names "
			       "uncompressed: length-prefixed labels ending with a zero byte)";
		}
		if (l == 0) {
			(*pos)++;
			if (labels == 0) {
				return "it holds an empty (root) name";
			}
			if (*pos - start > 255) {
				return "a name is longer than 255 bytes";
			}
			return NULL;
		}
		if (*pos + 1 + l > len) {
			return "a label is cut short";
		}
		*pos += 1 + (size_t) l;
		labels++;
	}
}

/* NULL when b (len bytes) fits f, else why not. */
static const char *
fits(const wire_format *f, const uint8_t *b, size_t len, char why[96])
{
	size_t      pos;
	const char *r;

	switch (f->kind) {
	case WIRE_ANY:
		return NULL;
	case WIRE_SETTINGS:
		if (len != 4 || b[0] != 0 || b[1] != 0 || b[2] != 0 || (b[3] & 0x08) != 0) {
			return "Windows keeps them as a 4-byte flags word: 00-00-00-XX with bits "
			       "0x01 updates, 0x02 older clients, 0x04 delete on expiry, 0x10 "
			       "always, 0x20 name protection, 0x40 no PTR, 0x80 suffix";
		}
		return NULL;
	case WIRE_FIXED:
		if (len < f->n) {
			snprintf(why, 96, "it is %zu bytes, at least %u are needed", len,
			    (unsigned) f->n);
			return why;
		}
		return NULL;
	case WIRE_BOOL:
		if (len < 1) {
			return "it is empty";
		}
		if (b[0] > 1) {
			snprintf(
			    why, 96, "it starts with %u, a boolean is 0 or 1", (unsigned) b[0]);
			return why;
		}
		return NULL;
	case WIRE_ADDRS:
		if (len % 4 != 0) {
			snprintf(why, 96, "it is %zu bytes, not a multiple of 4", len);
			return why;
		}
		return NULL;
	case WIRE_INTS:
		if (len == 0 || len % f->n != 0) {
			snprintf(why, 96, "it is %zu bytes, not a positive multiple of %u", len,
			    (unsigned) f->n);
			return why;
		}
		return NULL;
	case WIRE_STRING:
		for (size_t i = 0; i < len; i++) {
			if (b[i] != 0) {
				return NULL;
			}
		}
		return len == 0 ? "it is empty" : "it holds only NUL bytes";
	case WIRE_NAMES:
		if (len == 0) {
			return "it is empty";
		}
		for (pos = 0; pos < len;) {
			if ((r = read_name(b, len, &pos)) != NULL) {
				return r;
			}
		}
		return NULL;
	case WIRE_NAME:
	case WIRE_FIXED_NAME:
		pos = f->kind == WIRE_NAME ? 0 : f->n;
		if (len < pos) {
			snprintf(why, 96, "it is %zu bytes, at least %zu are needed", len, pos + 2);
			return why;
		}
		if ((r = read_name(b, len, &pos)) != NULL) {
			return r;
		}
		return pos == len ? NULL : "bytes follow the name";
	case WIRE_FIXED_ADDRS:
		if (len < (size_t) f->n + 4 || (len - f->n) % 4 != 0) {
			snprintf(why, 96, "it is %zu bytes, not %u plus a positive multiple of 4",
			    len, (unsigned) f->n);
			return why;
		}
		return NULL;
	case WIRE_VIVCO:
	case WIRE_VIVSO:
		/* RFC 3925: blocks of enterprise number (4), data length (1) and
		 * data: 1-byte-length tuples (124) or code/length suboptions
		 * (125), filling the data exactly. Kea takes one block for 124
		 * and a lone enterprise number for 125. */
		if (len < 4 || (len == 4 && f->kind == WIRE_VIVCO)) {
			return "it is shorter than an enterprise number and a data length";
		}
		for (pos = 0; pos < len && !(pos == 0 && len == 4);) {
			if (pos + 5 > len) {
				return "a block is cut short (enterprise number and data length)";
			}
			size_t end = pos + 5 + b[pos + 4];
			if (end > len) {
				return "a block's data is cut short";
			}
			if (f->kind == WIRE_VIVCO && end != len) {
				return "bytes follow the vendor class data (one enterprise block)";
			}
			for (pos += 5; pos < end;) {
				size_t hdr = f->kind == WIRE_VIVCO ? 1 : 2;
				if (pos + hdr > end || pos + hdr + b[pos + hdr - 1] > end) {
					return f->kind == WIRE_VIVCO ? "a vendor class is cut short"
								     : "a suboption is cut short";
				}
				pos += hdr + b[pos + hdr - 1];
			}
		}
		return NULL;
	default:
		return "unknown format";
	}
}

frep_code
engine__option_values_wire_check(const char *ctx, uint32_t option_id, const char *vendor_class,
    engine_option_type type, bool multi_valued, char *const *values, size_t n_values,
    frep_status *st)
{
	uint8_t            buf[ENGINE_VALUES_MAX * 256];
	size_t             len = 0;
	const wire_format *f;
	wire_format        own;
	const char        *why;
	char               whybuf[96];

	if (*engine__str(vendor_class) != '\0') {
		return FREP_OK; /* vendor option spaces: a payload of the vendor's */
	}
	if ((f = standard_format(option_id)) == NULL) {
		own = own_format(option_id, type, multi_valued);
		f   = &own;
	}
	for (size_t i = 0; i < n_values; i++) {
		if (!encode(type, engine__str(values[i]), buf, sizeof(buf), &len)) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%svalues[%zu] '%.64s' cannot be encoded as %s", ctx, i,
			    engine__str(values[i]), engine_option_type_name(type));
		}
	}
	if (len > 255 && f->kind != WIRE_SETTINGS) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%svalues encode %zu bytes: an option carries at most 255", ctx, len);
	}
	if ((why = fits(f, buf, len, whybuf)) == NULL && f->flag && len > 0 && buf[0] > 1) {
		snprintf(whybuf, sizeof(whybuf), "it starts with %u, a boolean flag is 0 or 1",
		    (unsigned) buf[0]);
		why = whybuf;
	}
	if (why != NULL) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%svalues%s%.64s%s do not fit option %u's format (%s): %s", ctx,
		    n_values == 1 ? " '" : " (", n_values == 1 ? engine__str(values[0]) : "several",
		    n_values == 1 ? "'" : ")", option_id, f->what, why);
	}
	return FREP_OK;
}
