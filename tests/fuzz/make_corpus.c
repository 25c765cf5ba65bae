/*
 * make_corpus: writes the seed corpora of the fuzz targets, all made of
 * valid requests, into OUTDIR/<target>/:
 *   fuzz_envelope      a Request envelope per method, a few Responses
 *   fuzz_request       the method's index byte + that Request envelope
 *   fuzz_apply         the sample ScopeConfig and variants of it
 *   fuzz_partner_auth  signed and unsigned partner metadata
 *   fuzz_partner_predecode  flags, a Partner method's index, its sample input
 *   fuzz_http_json     the method's index byte + its sample input as JSON
 * Usage: fuzz_make_corpus OUTDIR. Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert.h"
#include "engine.h"
#include "frep/v1/partner.pb-c.h"
#include "frep_envelope.h"
#include "frep_json.h"
#include "fuzz_methods.h"
#include "fuzz_samples.h"
#include "partner_auth.h"

static const char *outdir;

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_make_corpus: %s: %s\n", what, detail);
	exit(1);
}

static void
make_dir(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		die(path, strerror(errno));
	}
}

static void
write_seed(const char *target, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		die(path, strerror(errno));
	}
}

static uint8_t *
pack_message(const ProtobufCMessage *m, size_t *len)
{
	*len         = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len + 1);
	if (buf == NULL) {
		die("pack", "out of memory");
	}
	protobuf_c_message_pack(m, buf);
	return buf;
}

/* --- envelopes ----------------------------------------------------------- */

static void
request_seeds(void)
{
	size_t n = fuzz_method_count();
	for (size_t i = 0; i < n; i++) {
		const ProtobufCServiceDescriptor *svc;
		const ProtobufCMethodDescriptor  *m = fuzz_method_at(i, &svc);
		char                              path[256];
		char                              nonce[33];
		char                              mac[PARTNER_AUTH_MAC_HEXLEN];
		char                              ts[32];
		fuzz_method_path(i, path, sizeof(path));

		const ProtobufCMessage *payload = fuzz_sample_input(m->input);
		bool                    partner = strcmp(svc->name, "frep.v1.Partner") == 0;
		int64_t                 now     = partner_auth_now_ms();
		snprintf(ts, sizeof(ts), "%" PRId64, now);
		partner_auth_nonce(nonce);
		size_t   plen   = 0;
		uint8_t *pbytes = payload != NULL ? pack_message(payload, &plen) : NULL;
		partner_auth_mac("s3cret", path, "pair", "0123456789abcdef0123456789abcdef", now,
		    nonce, pbytes, plen, mac);
		free(pbytes);

		frep_metadata md[] = {
		    {"authorization", "Bearer admin-token"},
		    {PARTNER_AUTH_KEY_RELATIONSHIP, "pair"},
		    {PARTNER_AUTH_KEY_SENDER, "0123456789abcdef0123456789abcdef"},
		    {PARTNER_AUTH_KEY_TIMESTAMP, ts},
		    {PARTNER_AUTH_KEY_NONCE, nonce},
		    {PARTNER_AUTH_KEY_MAC, mac},
		};
		frep_request_fields f = {
		    .method     = path,
		    .payload    = payload,
		    .timeout_ms = 5000,
		    .metadata   = md,
		    .n_metadata = partner ? 6 : 1,
		    .call_id    = 1000 + i,
		};
		size_t   size = frep_envelope_request_size(&f);
		uint8_t *buf  = malloc(size + 1);
		if (buf == NULL) {
			die("request", "out of memory");
		}
		buf[0] = (uint8_t) i;
		frep_envelope_request_pack(&f, buf + 1);

		char name[160];
		snprintf(name, sizeof(name), "%s.%s", svc->name, m->name);
		write_seed("fuzz_request", name, buf, size + 1);
		write_seed("fuzz_envelope", name, buf + 1, size);
		free(buf);
	}
}

static void
response_seeds(void)
{
	const struct {
		const char             *name;
		frep_code               code;
		const char             *message;
		const ProtobufCMessage *payload;
	} rows[] = {
	    {"response-ok-scope-config", FREP_OK, NULL, &fuzz_sample_scope_config()->base},
	    {"response-ok-empty", FREP_OK, NULL, NULL},
	    {"response-invalid-argument", FREP_INVALID_ARGUMENT,
		"config.reservations[2].ip_address '10.0.1.300' is not an IPv4 address", NULL},
	    {"response-unauthenticated", FREP_UNAUTHENTICATED,
		"method /frep.v1.DhcpServer/AddScope needs \"authorization: Bearer <token>\"",
		NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		frep_response_fields f    = {.code = rows[i].code,
		       .message                    = rows[i].message,
		       .payload                    = rows[i].payload,
		       .call_id                    = 77 + i};
		size_t               size = frep_envelope_response_size(&f);
		uint8_t             *buf  = malloc(size + 1);
		if (buf == NULL) {
			die("response", "out of memory");
		}
		frep_envelope_response_pack(&f, buf);
		write_seed("fuzz_envelope", rows[i].name, buf, size);
		free(buf);
	}
}

/* --- scope configs ------------------------------------------------------- */

static void
write_config(const char *name, const Frep__V1__ScopeConfig *cfg)
{
	size_t   len;
	uint8_t *buf = pack_message(&cfg->base, &len);
	write_seed("fuzz_apply", name, buf, len);
	free(buf);
}

static void
apply_seeds(void)
{
	Frep__V1__ScopeConfig copy  = *fuzz_sample_scope_config();
	Frep__V1__Scope       scope = *copy.scope;
	convert_arena         a;
	frep_status           st;
	engine_scope_config   cfg;
	char                  digest[65];

	write_config("sample", &copy);

	/* The same, with the digest the source would send. */
	convert_arena_init(&a);
	if (convert_scope_config_from_proto(&copy, "config", &a, &cfg, &st) != FREP_OK ||
	    engine_scope_config_digest(&cfg, digest, &st) != FREP_OK) {
		die("sample digest", st.message);
	}
	convert_arena_fini(&a);
	copy.digest = digest;
	write_config("sample-with-digest", &copy);
	copy.digest = (char *) "";

	/* Changed properties. */
	copy.scope             = &scope;
	scope.name             = (char *) "Office (renamed)";
	scope.lease_duration_s = 3600;
	scope.end_range        = (char *) "10.0.1.220";
	write_config("changed-scope", &copy);

	/* Children removed. */
	copy.n_reservations = 1;
	copy.n_policies     = 0;
	copy.n_exclusions   = 1;
	write_config("fewer-children", &copy);

	/* A new scope, bare. */
	Frep__V1__ScopeConfig bare  = FREP__V1__SCOPE_CONFIG__INIT;
	Frep__V1__Scope       other = scope;
	other.scope_id              = (char *) "10.0.2.0";
	other.start_range           = (char *) "10.0.2.10";
	other.end_range             = (char *) "10.0.2.100";
	bare.scope                  = &other;
	write_config("new-scope", &bare);
}

/* --- partner metadata ---------------------------------------------------- */

static void
auth_seed(const char *name, unsigned flags, const char *secret, const char *method,
    const char *relationship, const char *timestamp, const char *nonce, const char *mac,
    const char *payload)
{
	char buf[1024];
	int  n = snprintf(buf, sizeof(buf), "%c%s\n%s\n%s\n%s\n%s\n%s\n%s", (char) flags, secret,
	     method, relationship, timestamp, nonce, mac, payload);
	write_seed("fuzz_partner_auth", name, (const uint8_t *) buf, (size_t) n);
}

static void
partner_auth_seeds(void)
{
	const char *m    = "/frep.v1.Partner/ApplyScope";
	const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
	auth_seed("signed-now", 0x03, "s3cret", m, "pair", "0", "0123456789abcdef", "",
	    "\x0a\x02\x08\x01");
	auth_seed("signed-stale", 0x03, "s3cret", m, "pair", "-120000", "n", "", "");
	auth_seed("signed-future", 0x03,
	    "a much longer shared secret, over sixty-four bytes long, for HMAC's hashed key", m,
	    "pair", "59000", "nonce", "", "payload");
	auth_seed("wrong-mac", 0x02, "s3cret", m, "pair", "10", "nonce", zero, "");
	auth_seed(
	    "absolute-timestamp", 0x01, "s3cret", m, "pair", "1700000000000", "nonce", "", "");
	auth_seed(
	    "timestamp-max", 0x00, "s3cret", m, "pair", "9223372036854775807", "nonce", zero, "");
	auth_seed("timestamp-junk", 0x00, "s3cret", m, "pair", " 12x", "nonce", zero, "");
	auth_seed("no-metadata", 0x1c, "s3cret", m, "pair", "", "", "", "");
	auth_seed("long-nonce", 0x03, "s3cret", m, "pair", "0",
	    "0123456789012345678901234567890123456789012345678901234567890123456789", "", "");
}

/* Each Partner method's sample input, signed, from another server. */
static void
partner_predecode_seeds(void)
{
	const ProtobufCServiceDescriptor *svc = &frep__v1__partner__descriptor;
	for (unsigned i = 0; i < svc->n_methods; i++) {
		const ProtobufCMessage *in  = fuzz_sample_input(svc->methods[i].input);
		size_t                  len = 0;
		uint8_t                *p   = in != NULL ? pack_message(in, &len) : NULL;
		uint8_t                *buf = malloc(len + 2);
		if (buf == NULL) {
			die("seed", "out of memory");
		}
		buf[0] = 0x01;
		buf[1] = (uint8_t) i;
		if (len > 0) {
			memcpy(buf + 2, p, len);
		}
		write_seed("fuzz_partner_predecode", svc->methods[i].name, buf, len + 2);
		free(buf);
		free(p);
	}
}

/* Each method's sample input as the JSON body curl would send, and a few
 * bodies the endpoint must refuse cleanly. */
static void
http_json_seeds(void)
{
	size_t n = fuzz_method_count();
	for (size_t i = 0; i < n; i++) {
		const ProtobufCServiceDescriptor *svc;
		const ProtobufCMethodDescriptor  *m  = fuzz_method_at(i, &svc);
		const ProtobufCMessage           *in = fuzz_sample_input(m->input);
		json_t *j = in != NULL ? frep_json_from_message(in, NULL) : json_object();
		char   *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (s == NULL) {
			die("json seed", m->name);
		}
		size_t   len = strlen(s);
		uint8_t *buf = malloc(len + 1);
		if (buf == NULL) {
			die("json seed", "out of memory");
		}
		buf[0] = (uint8_t) i;
		memcpy(buf + 1, s, len);
		char name[160];
		snprintf(name, sizeof(name), "%s.%s", svc->name, m->name);
		write_seed("fuzz_http_json", name, buf, len + 1);
		free(buf);
		free(s);
	}
	static const char *const bad[] = {
	    "\x00{\"x\u00e9\u00e9\": 1}",
	    "\x00{\"scope\": {\"name\": \"a\\u0000b\"}}",
	    "\x00[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	    "\x00{\"scope\": {\"scopeId\": 10}}",
	    "\x00{\"scope\": null, \"scope\": {}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "refused-%zu", i);
		write_seed(
		    "fuzz_http_json", name, (const uint8_t *) bad[i], strlen(bad[i] + 1) + 1);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_make_corpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	make_dir(outdir);
	request_seeds();
	response_seeds();
	apply_seeds();
	partner_auth_seeds();
	partner_predecode_seeds();
	http_json_seeds();
	return 0;
}
