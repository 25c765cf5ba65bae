/*
 * kea_result: what one rendering of Kea's Dhcp4 configuration holds, shared
 * by the renderer (kea_render) and the HA hook's renderer (kea_ha), which
 * kea_render calls: a header of its own so that kea_ha needs nothing of
 * kea_render's.
 */
#ifndef FREP_RPC_KEA_RESULT_H
#define FREP_RPC_KEA_RESULT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* One key of a rendering's dhcp4 and its value as compact JSON text
 * (sorted keys, as kea_render_dump gives it). */
typedef struct kea_render_part {
	char *key;
	char *text;
} kea_render_part;

/* One rendering. Owns everything it points to. */
typedef struct kea_render_result {
	json_t *dhcp4;    /* object: only the keys frep owns */
	char  **warnings; /* what Kea cannot express, in rendering order */
	size_t  n_warnings;
	char    digest[65]; /* SHA-256 hex of kea_render_dump(dhcp4, compact) */
	/* dhcp4's keys with their texts, by key (what the digest is computed
	 * over; kea_render_merged_dump reuses them). */
	kea_render_part *parts;
	size_t           n_parts;
} kea_render_result;

/* Appends the warning fmt makes (vprintf) to out->warnings; bytes that are
 * not UTF-8 (text quoted from a store written before strings were checked)
 * are escaped "\xNN", the warnings being proto3 strings on the wire. False
 * when out of memory (nothing appended). */
bool kea_result_vwarn(kea_render_result *out, const char *fmt, va_list ap);

#endif /* FREP_RPC_KEA_RESULT_H */
