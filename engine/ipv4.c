#include "ipv4.h"

#include <arpa/inet.h>
#include <stdio.h>

/* Why inet_pton refused text: the first octet that is empty, too long, has
 * a leading zero or is above 255, for a message that says which. Only runs
 * on refused input; the decision itself is inet_pton's. */
static frep_code
ipv4_explain(const char *text, const char *field, frep_status *st)
{
	const char *p = text;

	for (int octet = 0; octet < 4; octet++) {
		unsigned value  = 0;
		int      digits = 0;

		if (octet > 0) {
			if (*p != '.') {
				break;
			}
			p++;
		}
		if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.64s' is not an IPv4 address: octet %d has a "
			    "leading zero",
			    field, text, octet + 1);
		}
		while (*p >= '0' && *p <= '9' && digits <= 3) {
			value = value * 10 + (unsigned) (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0 || digits > 3) {
			break;
		}
		if (value > 255) {
			return frep_status_set(st, FREP_INVALID_ARGUMENT,
			    "%s '%.64s' is not an IPv4 address: octet %d is "
			    "above 255",
			    field, text, octet + 1);
		}
	}
	return frep_status_set(st, FREP_INVALID_ARGUMENT,
	    "%s '%.64s' is not an IPv4 address (expected four decimal octets "
	    "a.b.c.d)",
	    field, text);
}

frep_code
engine_ipv4_parse(const char *text, const char *field, uint32_t *out, frep_status *st)
{
	struct in_addr a;

	if (field == NULL) {
		field = "address";
	}
	if (text == NULL || *text == '\0') {
		return frep_status_set(st, FREP_INVALID_ARGUMENT,
		    "%s is empty: an IPv4 address (a.b.c.d) is required", field);
	}
	/* POSIX inet_pton(AF_INET): exactly four decimal octets 0..255, no
	 * sign, spaces, hex, octal or shorthand; glibc also refuses leading
	 * zeros, which frep relies on (test_engine_ipv4_*). */
	if (inet_pton(AF_INET, text, &a) != 1) {
		return ipv4_explain(text, field, st);
	}
	*out = ntohl(a.s_addr);
	return FREP_OK;
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
