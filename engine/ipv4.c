#include "ipv4.h"

#include <stdio.h>

frep_code
engine_ipv4_parse(const char *text, const char *field, uint32_t *out, frep_status *st)
{
	uint32_t    addr = 0;
	const char *p    = text;

	if (field == NULL) {
		field = "address";
	}
	if (text == NULL || *text == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s is empty: an IPv4 address (a.b.c.d) is required", field);
	}
	for (int octet = 0; octet < 4; octet++) {
		unsigned value  = 0;
		int      digits = 0;

		if (octet > 0) {
			if (*p != '.') {
				goto bad;
			}
			p++;
		}
		if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.64s' is not an IPv4 address: octet %d has a "
			    "leading zero",
			    field, text, octet + 1);
		}
		while (*p >= '0' && *p <= '9') {
			value = value * 10 + (unsigned) (*p - '0');
			digits++;
			p++;
			if (digits > 3) {
				goto bad;
			}
		}
		if (digits == 0) {
			goto bad;
		}
		if (value > 255) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.64s' is not an IPv4 address: octet %d is "
			    "above 255",
			    field, text, octet + 1);
		}
		addr = (addr << 8) | value;
	}
	if (*p != '\0') {
		goto bad;
	}
	*out = addr;
	return FREP_OK;

bad:
	return frep_status_set(st, FREP_INVALID_ARGUMENT,
	    "%s '%.64s' is not an IPv4 address (expected four decimal octets "
	    "a.b.c.d)",
	    field, text);
}

frep_code
engine_ipv4_parse_mask(const char *text, const char *field, uint32_t *out, frep_status *st)
{
	uint32_t  mask;
	frep_code rc;

	if (field == NULL) {
		field = "subnet_mask";
	}
	if ((rc = engine_ipv4_parse(text, field, &mask, st)) != FREP_OK) {
		return rc;
	}
	if (!engine_ipv4_mask_valid(mask)) {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s %s is not a contiguous subnet mask", field, text);
	}
	*out = mask;
	return FREP_OK;
}

char *
engine_ipv4_format(uint32_t addr, char buf[ENGINE_IPV4_STRLEN])
{
	/* By hand: it runs for every reservation of every replicated scope. */
	char *p = buf;
	for (int shift = 24; shift >= 0; shift -= 8) {
		unsigned v = (addr >> shift) & 0xffu;
		if (v >= 100) {
			*p++ = (char) ('0' + v / 100);
		}
		if (v >= 10) {
			*p++ = (char) ('0' + (v / 10) % 10);
		}
		*p++ = (char) ('0' + v % 10);
		*p++ = shift > 0 ? '.' : '\0';
	}
	return buf;
}

bool
engine_ipv4_mask_valid(uint32_t mask)
{
	/* Ones then zeros: the inverted mask plus one is a power of two. */
	uint32_t inv = ~mask;
	return (inv & (inv + 1u)) == 0;
}

int
engine_ipv4_prefix_len(uint32_t mask)
{
	int n = 0;

	if (!engine_ipv4_mask_valid(mask)) {
		return -1;
	}
	while (mask & 0x80000000u) {
		n++;
		mask <<= 1;
	}
	return n;
}

uint32_t
engine_ipv4_mask_from_prefix(int prefix_len)
{
	if (prefix_len <= 0) {
		return 0;
	}
	if (prefix_len >= 32) {
		return 0xffffffffu;
	}
	return ~(0xffffffffu >> prefix_len);
}
