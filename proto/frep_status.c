#include "frep_status.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const code_names[] = {
#define FREP__CODE_NAME(name, num, str) [num] = #name,
    FREP_CODE_LIST(FREP__CODE_NAME)
#undef FREP__CODE_NAME
};

static const char *const code_strs[] = {
#define FREP__CODE_STR(name, num, str) [num] = str,
    FREP_CODE_LIST(FREP__CODE_STR)
#undef FREP__CODE_STR
};

const char *
frep_code_name(int code)
{
	if (code < 0 || code > FREP_CODE_MAX) {
		return "UNKNOWN_CODE";
	}
	return code_names[code];
}

const char *
frep_code_str(int code)
{
	if (code < 0 || code > FREP_CODE_MAX) {
		return "unknown status code";
	}
	return code_strs[code];
}

int
frep_code_parse(const char *name, frep_code *code)
{
	if (name == NULL) {
		return -1;
	}
	for (int i = 0; i <= FREP_CODE_MAX; i++) {
		if (strcasecmp(name, code_names[i]) == 0) {
			*code = (frep_code) i;
			return 0;
		}
	}
	return -1;
}

size_t
frep_utf8_valid_prefix(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = p[i];
		size_t  n;
		uint8_t lo = 0x80, hi = 0xbf; /* bounds of the second byte */
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0) {
				lo = 0xa0; /* overlong */
			} else if (c == 0xed) {
				hi = 0x9f; /* surrogates */
			}
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0) {
				lo = 0x90; /* overlong */
			} else if (c == 0xf4) {
				hi = 0x8f; /* above U+10FFFF */
			}
		} else {
			return i; /* 80..c1 (continuation, overlong lead), f5..ff */
		}
		if (i + n > len || p[i + 1] < lo || p[i + 1] > hi) {
			return i;
		}
		for (size_t k = 2; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				return i;
			}
		}
		i += n;
	}
	return len;
}

void
frep_utf8_sanitize(const char *text, char *out, size_t cap)
{
	const uint8_t *p   = (const uint8_t *) text;
	size_t         len = strlen(text), i = 0, o = 0;
	while (i < len) {
		size_t ok = frep_utf8_valid_prefix(p + i, len - i);
		/* Whole characters only: step back to a lead byte if cut. */
		size_t take = ok;
		if (take > cap - 1 - o) {
			take = cap - 1 - o;
			while (take > 0 && (p[i + take] & 0xc0) == 0x80) {
				take--;
			}
		}
		memcpy(out + o, p + i, take);
		o += take;
		i += take;
		if (take < ok || i == len || cap - 1 - o < 4) {
			break;
		}
		snprintf(out + o, cap - o, "\\x%02x", p[i]);
		o += 4;
		i++;
	}
	out[o] = '\0';
}

frep_code
frep_status_setv(frep_status *st, frep_code code, const char *fmt, va_list ap)
{
	if (st == NULL) {
		return code;
	}
	st->code = code;
	if (fmt == NULL) {
		st->message[0] = '\0';
		return code;
	}
	char raw[FREP_STATUS_MESSAGE_MAX];
	int  n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n >= (int) sizeof(raw)) {
		/* Cut by vsnprintf: drop a character left incomplete at the end. */
		size_t end = sizeof(raw) - 1, lead = end;
		while (
		    lead > 0 && end - lead < 4 && ((unsigned char) raw[lead - 1] & 0xc0) == 0x80) {
			lead--;
		}
		if (lead > 0 && ((unsigned char) raw[lead - 1] & 0xc0) == 0xc0) {
			unsigned char c    = (unsigned char) raw[lead - 1];
			size_t        want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (end - (lead - 1) < want) {
				raw[lead - 1] = '\0';
			}
		}
	}
	/* Messages quote values cut at a byte count ("'%.64s'"): what the cut or
	 * the value itself left invalid is escaped, so every message is text. */
	frep_utf8_sanitize(raw, st->message, sizeof(st->message));
	return code;
}

frep_code
frep_status_set(frep_status *st, frep_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	frep_status_setv(st, code, fmt, ap);
	va_end(ap);
	return code;
}

void
frep_status_clear(frep_status *st)
{
	if (st != NULL) {
		st->code       = FREP_OK;
		st->message[0] = '\0';
	}
}

void
frep_status_copy(frep_status *dst, const frep_status *src)
{
	if (dst != NULL && src != NULL && dst != src) {
		dst->code = src->code;
		memcpy(dst->message, src->message, sizeof(dst->message));
	}
}
