/*
 * json_codec_tool: drives proto/frep_json.c for tests/python/test_json_codec.py,
 * which compares it with protoc's Python json_format on every message of
 * the contract. One request a line on stdin, one answer a line on stdout:
 *
 *   list                      -> every message type the tool knows, one a line, then "."
 *   to-json NAME HEX          -> "ok JSON" (canonical) or "err CODE message"
 *   from-json NAME JSON       -> "ok HEX" (the serialized message) or "err CODE message"
 *
 * Messages are found by walking every frep service's inputs and outputs,
 * plus tests/proto/frep_test.proto's JsonOneofProbe (the contract has no
 * oneof with two members to test the codec's oneof handling on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frep/rpc/v1/envelope.pb-c.h"
#include "frep/rpc/v1/introspection.pb-c.h"
#include "frep/v1/data_plane.pb-c.h"
#include "frep/v1/dhcp_server.pb-c.h"
#include "frep/v1/health.pb-c.h"
#include "frep/v1/partner.pb-c.h"
#include "frep/v1/replication.pb-c.h"
#include "frep_json.h"
#include "frep_test.pb-c.h"

#define MAX_TYPES 256

static const ProtobufCMessageDescriptor *types[MAX_TYPES];
static size_t                            n_types;

static void
add_type(const ProtobufCMessageDescriptor *md)
{
	for (size_t i = 0; i < n_types; i++) {
		if (types[i] == md) {
			return;
		}
	}
	if (n_types == MAX_TYPES) {
		fprintf(stderr, "json_codec_tool: more than %d message types\n", MAX_TYPES);
		exit(1);
	}
	types[n_types++] = md;
	for (unsigned i = 0; i < md->n_fields; i++) {
		if (md->fields[i].type == PROTOBUF_C_TYPE_MESSAGE) {
			add_type(md->fields[i].descriptor);
		}
	}
}

static void
collect(void)
{
	static const ProtobufCServiceDescriptor *const services[] = {
	    &frep__v1__data_plane__descriptor,
	    &frep__v1__dhcp_server__descriptor,
	    &frep__v1__health__descriptor,
	    &frep__v1__partner__descriptor,
	    &frep__v1__failover_replication__descriptor,
	    &frep__rpc__v1__introspection__descriptor,
	    NULL,
	};
	for (size_t s = 0; services[s] != NULL; s++) {
		for (unsigned m = 0; m < services[s]->n_methods; m++) {
			add_type(services[s]->methods[m].input);
			add_type(services[s]->methods[m].output);
		}
	}
	add_type(&frep__rpc__v1__request__descriptor);
	add_type(&frep__rpc__v1__response__descriptor);
	add_type(&frep__test__v1__json_oneof_probe__descriptor);
}

static const ProtobufCMessageDescriptor *
find_type(const char *name)
{
	for (size_t i = 0; i < n_types; i++) {
		if (strcmp(types[i]->name, name) == 0) {
			return types[i];
		}
	}
	return NULL;
}

static void
to_json(const ProtobufCMessageDescriptor *md, const char *hex)
{
	size_t   len  = strlen(hex) / 2;
	uint8_t *data = malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned v = 0;
		sscanf(hex + 2 * i, "%2x", &v);
		data[i] = (uint8_t) v;
	}
	ProtobufCMessage *msg = protobuf_c_message_unpack(md, NULL, len, data);
	free(data);
	if (msg == NULL) {
		printf("err INVALID_ARGUMENT does not decode as %s\n", md->name);
		return;
	}
	json_t *j = frep_json_from_message(msg, NULL);
	char   *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	printf("ok %s\n", s);
	free(s);
	json_decref(j);
	protobuf_c_message_free_unpacked(msg, NULL);
}

static void
from_json(const ProtobufCMessageDescriptor *md, const char *text)
{
	ProtobufCMessage *msg = NULL;
	frep_status       st;
	if (frep_json_parse_message(md, text, strlen(text), &msg, &st) != FREP_OK) {
		printf("err %s %s\n", frep_code_name(st.code), st.message);
		return;
	}
	size_t   len  = protobuf_c_message_get_packed_size(msg);
	uint8_t *data = malloc(len + 1);
	protobuf_c_message_pack(msg, data);
	printf("ok ");
	for (size_t i = 0; i < len; i++) {
		printf("%02x", data[i]);
	}
	printf("\n");
	free(data);
	protobuf_c_message_free_unpacked(msg, NULL);
}

int
main(void)
{
	char  *line = NULL;
	size_t cap  = 0;
	collect();
	while (getline(&line, &cap, stdin) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "list") == 0) {
			for (size_t i = 0; i < n_types; i++) {
				printf("%s\n", types[i]->name);
			}
			printf(".\n");
			fflush(stdout);
			continue;
		}
		char                             *cmd  = strtok(line, " ");
		char                             *name = strtok(NULL, " ");
		char                             *arg  = strtok(NULL, "");
		const ProtobufCMessageDescriptor *md   = name != NULL ? find_type(name) : NULL;
		if (cmd == NULL || md == NULL) {
			printf(
			    "err NOT_FOUND no message type %s\n", name != NULL ? name : "(none)");
		} else if (strcmp(cmd, "to-json") == 0) {
			to_json(md, arg != NULL ? arg : "");
		} else if (strcmp(cmd, "from-json") == 0) {
			from_json(md, arg != NULL ? arg : "");
		} else {
			printf("err INVALID_ARGUMENT unknown command %s\n", cmd);
		}
		fflush(stdout);
	}
	free(line);
	return 0;
}
