#include "frep_status.h"

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

frep_code
frep_status_setv(frep_status *st, frep_code code, const char *fmt, va_list ap)
{
	if (st == NULL) {
		return code;
	}
	st->code = code;
	if (fmt == NULL) {
		st->message[0] = '\0';
	} else {
		int n = vsnprintf(st->message, sizeof(st->message), fmt, ap);
		if (n >= (int) sizeof(st->message)) {
			/* Cut: never in the middle of a UTF-8 character. */
			size_t end = sizeof(st->message) - 1, lead = end;
			while (lead > 0 && end - lead < 4 &&
			       ((unsigned char) st->message[lead - 1] & 0xc0) == 0x80) {
				lead--;
			}
			if (lead > 0 && ((unsigned char) st->message[lead - 1] & 0xc0) == 0xc0) {
				unsigned char c    = (unsigned char) st->message[lead - 1];
				size_t        want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
				if (end - (lead - 1) < want) {
					st->message[lead - 1] = '\0';
				}
			}
		}
	}
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
