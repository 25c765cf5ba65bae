#include "hexid.h"

#include <stdio.h>
#include <string.h>

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

frep_code
engine_hex_parse(
    const char *text, const char *field, uint8_t *out, size_t cap, size_t *n, frep_status *st)
{
	const char *p;
	char        sep   = '\0';
	size_t      count = 0;

	if (field == NULL) {
		field = "client_id";
	}
	if (text == NULL || *text == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s is empty: hex bytes such as 00-11-22-33-44-55 are "
		    "required",
		    field);
	}
	for (p = text; *p != '\0'; p++) {
		if (*p == ':' || *p == '-') {
			if (sep != '\0' && *p != sep) {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%s '%.96s' mixes ':' and '-' separators", field, text);
			}
			sep = *p;
		} else if (hex_digit(*p) < 0) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.96s' is not hex bytes: unexpected character "
			    "at offset %zu",
			    field, text, (size_t) (p - text));
		}
	}
	p = text;
	while (*p != '\0') {
		int    value  = 0;
		size_t digits = 0;

		while (hex_digit(*p) >= 0 && digits < 2) {
			value = value * 16 + hex_digit(*p);
			digits++;
			p++;
		}
		if (digits == 0 || (sep == '\0' && digits != 2)) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.96s' is not hex bytes: %s at offset %zu", field, text,
			    sep == '\0' ? "odd number of hex digits" : "empty byte group",
			    (size_t) (p - text));
		}
		if (digits == 1) {
			/* "00-11-2" is a typo, not byte 0x02: never pad. */
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.96s' is not hex bytes: one-digit byte group at offset %zu "
			    "(each byte is two hex digits)",
			    field, text, (size_t) (p - 1 - text));
		}
		if (count >= cap) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.96s' is longer than %zu bytes", field, text, cap);
		}
		out[count++] = (uint8_t) value;
		if (sep != '\0') {
			if (*p == sep) {
				p++;
				if (*p == '\0') {
					return frep_status_set(st, FREP_INVALID_ARGUMENT,
					    "%s '%.96s' ends with a separator", field, text);
				}
			} else if (*p != '\0') {
				return frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "%s '%.96s' is not hex bytes: byte group "
				    "longer than two digits at offset %zu",
				    field, text, (size_t) (p - text));
			}
		}
	}
	*n = count;
	return FREP_OK;
}

void
engine_hex_format(const uint8_t *bytes, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";
	size_t            pos      = 0;

	if (outsz == 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pos + (i > 0 ? 3 : 2) >= outsz) {
			break;
		}
		if (i > 0) {
			out[pos++] = '-';
		}
		out[pos++] = digits[bytes[i] >> 4];
		out[pos++] = digits[bytes[i] & 0xf];
	}
	out[pos] = '\0';
}

frep_code
engine_hexid_normalize(
    const char *text, const char *field, char out[ENGINE_HEXID_STRLEN], frep_status *st)
{
	uint8_t   bytes[ENGINE_HEXID_MAX_BYTES];
	size_t    n = 0;
	frep_code rc;

	rc = engine_hex_parse(text, field, bytes, sizeof(bytes), &n, st);
	if (rc != FREP_OK) {
		return rc;
	}
	engine_hex_format(bytes, n, out, ENGINE_HEXID_STRLEN);
	return FREP_OK;
}
