/*
 * kea_result: the warning list both renderers append to (kea_result.h).
 */
#define _GNU_SOURCE
#include "kea_result.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload_check.h"

bool
kea_result_vwarn(kea_render_result *out, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0) {
		return false;
	}
	/* Warnings go back on the wire as proto3 strings: text quoted from a
	 * store written before strings were checked is escaped. */
	size_t len = strlen(msg);
	if (frep_utf8_valid_prefix((const uint8_t *) msg, len) != len) {
		char *clean = malloc(4 * len + 1);
		if (clean == NULL) {
			free(msg);
			return false;
		}
		frep_utf8_sanitize(msg, clean, 4 * len + 1);
		free(msg);
		msg = clean;
	}
	char **w = realloc(out->warnings, (out->n_warnings + 1) * sizeof(*w));
	if (w == NULL) {
		free(msg);
		return false;
	}
	w[out->n_warnings++] = msg;
	out->warnings        = w;
	return true;
}
