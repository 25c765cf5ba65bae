/*
 * hexid: client ids, MAC addresses and binary option data as hex bytes.
 * Accepted text: byte groups of one or two hex digits separated by ':' or
 * '-' (one kind of separator throughout), or an even run of hex digits with
 * no separator. Normal form: lower-case two-digit groups joined by '-'
 * ("00-11-22-aa-bb-cc").
 */
#ifndef FREP_ENGINE_HEXID_H
#define FREP_ENGINE_HEXID_H

#include <stddef.h>
#include <stdint.h>

#include "frep_status.h"

/* Longest client id the engine accepts, in bytes. */
#define ENGINE_HEXID_MAX_BYTES 64
/* Room for the normal form of ENGINE_HEXID_MAX_BYTES bytes and its NUL. */
#define ENGINE_HEXID_STRLEN (ENGINE_HEXID_MAX_BYTES * 3)

/* Parses text into at most cap bytes at out; *n receives the count.
 * INVALID_ARGUMENT (naming `field` and the text) if the text is empty, not
 * hex, badly separated or longer than cap bytes. Thread-safe. */
frep_code engine_hex_parse(
    const char *text, const char *field, uint8_t *out, size_t cap, size_t *n, frep_status *st);

/* Writes the normal form of n bytes into out (outsz >= 3*n, or 1 when
 * n == 0); truncates safely if outsz is smaller. */
void engine_hex_format(const uint8_t *bytes, size_t n, char *out, size_t outsz);

/* Parses a client id / MAC address (1..ENGINE_HEXID_MAX_BYTES bytes) and
 * writes its normal form into out. INVALID_ARGUMENT names `field` and the
 * text. Thread-safe. */
frep_code engine_hexid_normalize(
    const char *text, const char *field, char out[ENGINE_HEXID_STRLEN], frep_status *st);

#endif /* FREP_ENGINE_HEXID_H */
