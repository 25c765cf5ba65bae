/*
 * ipv4: IPv4 addresses as the engine holds them (uint32_t, host order) and
 * their dotted text form. The RPC layer parses text at the edge with these;
 * the engine API itself takes uint32_t.
 */
#ifndef FREP_ENGINE_IPV4_H
#define FREP_ENGINE_IPV4_H

#include <stdbool.h>
#include <stdint.h>

#include "frep_status.h"

/* Room for "255.255.255.255" and its NUL. */
#define ENGINE_IPV4_STRLEN 16

/* Parses dotted text strictly: exactly four decimal octets 0..255 separated
 * by '.', no sign, no spaces, no leading zeros ("010" is refused, "0" is
 * fine). On success stores the address (host order) in *out and returns
 * FREP_OK; otherwise INVALID_ARGUMENT with a message naming `field` and the
 * text, and *out is untouched. text may be NULL (refused). Thread-safe. */
frep_code engine_ipv4_parse(const char *text, const char *field, uint32_t *out, frep_status *st);

/* Parses a subnet mask: engine_ipv4_parse plus contiguity (ones then
 * zeros). INVALID_ARGUMENT names `field` and the text. Thread-safe. */
frep_code engine_ipv4_parse_mask(
    const char *text, const char *field, uint32_t *out, frep_status *st);

/* Writes the dotted form of addr (host order) into buf, NUL-terminated;
 * returns buf. Thread-safe. */
char *engine_ipv4_format(uint32_t addr, char buf[ENGINE_IPV4_STRLEN]);

/* True if mask is contiguous: some ones followed only by zeros (0.0.0.0 and
 * 255.255.255.255 included). */
bool engine_ipv4_mask_valid(uint32_t mask);

/* The prefix length of a contiguous mask (0..32), or -1 if it is not
 * contiguous. */
int engine_ipv4_prefix_len(uint32_t mask);

/* The mask of a prefix length 0..32 (values above 32 give 32). */
uint32_t engine_ipv4_mask_from_prefix(int prefix_len);

#endif /* FREP_ENGINE_IPV4_H */
