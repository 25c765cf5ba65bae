#include "payload_check.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* A varint of at most 10 bytes; false if cut or too long. */
static bool
read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (*pos >= len) {
			return false;
		}
		uint8_t b = p[(*pos)++];
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return true;
		}
	}
	return false;
}

typedef struct walk {
	frep_status *st;
	char         path[256];
	size_t       path_len;
	size_t       base; /* offset of the payload being walked */
} walk;

static frep_code walk_message(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, size_t origin, unsigned depth);

/* Appends ".name" or ".name[i]" to the path; returns the old length. */
static size_t
path_push(walk *w, const ProtobufCFieldDescriptor *f, size_t index)
{
	size_t old  = w->path_len;
	size_t room = sizeof(w->path) - w->path_len;
	int    n =
            f->label == PROTOBUF_C_LABEL_REPEATED
		   ? snprintf(w->path + w->path_len, room, "%s%s[%zu]", old ? "." : "", f->name, index)
		   : snprintf(w->path + w->path_len, room, "%s%s", old ? "." : "", f->name);
	if (n > 0) {
		w->path_len = (size_t) n < room ? w->path_len + (size_t) n : sizeof(w->path) - 1;
	}
	return old;
}

static void
path_pop(walk *w, size_t old)
{
	w->path_len  = old;
	w->path[old] = '\0';
}

static frep_code
check_string(walk *w, const uint8_t *s, size_t n, size_t at)
{
	const uint8_t *nul = memchr(s, 0, n);
	size_t         ok  = frep_utf8_valid_prefix(s, nul != NULL ? (size_t) (nul - s) : n);
	if (nul != NULL && ok == (size_t) (nul - s)) {
		return frep_status_set(w->st, FREP_INVALID_ARGUMENT,
		    "%s: byte %zu of %zu is a NUL (payload offset %zu); string fields are text "
		    "without NUL",
		    w->path, ok, n, at + ok);
	}
	if (ok < n) {
		return frep_status_set(w->st, FREP_INVALID_ARGUMENT,
		    "%s: byte %zu of %zu (0x%02x, payload offset %zu) is not valid UTF-8; string "
		    "fields must be UTF-8",
		    w->path, ok, n, s[ok], at + ok);
	}
	return FREP_OK;
}

static frep_code
walk_message(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    size_t origin, unsigned depth)
{
	if (depth > MAX_DEPTH) {
		return frep_status_set(w->st, FREP_INVALID_ARGUMENT,
		    "%s: messages nested deeper than %d levels", w->path[0] ? w->path : "payload",
		    MAX_DEPTH);
	}
	/* Occurrences so far of each repeated field, for the path's index. */
	size_t  counts_small[32] = {0};
	size_t *counts           = counts_small;
	if (d->n_fields > 32 && (counts = calloc(d->n_fields, sizeof(*counts))) == NULL) {
		return frep_status_set(w->st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	frep_code code = FREP_OK;
	size_t    pos  = 0;
	while (pos < len && code == FREP_OK) {
		uint64_t tag;
		if (!read_varint(p, len, &pos, &tag)) {
			break; /* malformed: the decoder says so */
		}
		unsigned wire = (unsigned) (tag & 7);
		uint64_t num  = tag >> 3;
		uint64_t v;
		if (wire == 0) {
			if (!read_varint(p, len, &pos, &v)) {
				break;
			}
			continue;
		}
		if (wire == 1 || wire == 5) {
			size_t skip = wire == 1 ? 8 : 4;
			if (len - pos < skip) {
				break;
			}
			pos += skip;
			continue;
		}
		if (wire != 2 || !read_varint(p, len, &pos, &v) || v > len - pos) {
			break; /* groups, bad types, cut lengths: the decoder's job */
		}
		size_t                          n = (size_t) v;
		const ProtobufCFieldDescriptor *f =
		    num <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned) num)
				      : NULL;
		if (f != NULL &&
		    (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)) {
			size_t fi  = (size_t) (f - d->fields);
			size_t old = path_push(w, f, counts[fi]++);
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				code = check_string(w, p + pos, n, origin + pos);
			} else {
				code = walk_message(
				    w, f->descriptor, p + pos, n, origin + pos, depth + 1);
			}
			path_pop(w, old);
		}
		pos += n;
	}
	if (counts != counts_small) {
		free(counts);
	}
	return code;
}

frep_code
rpc_payload_check_text(
    const ProtobufCMessageDescriptor *d, const uint8_t *payload, size_t len, frep_status *st)
{
	walk w = {.st = st};
	return walk_message(&w, d, payload, len, 0, 0);
}

static void *
budget_alloc(void *data, size_t size)
{
	rpc_budget_allocator *a = data;
	if (a->used >= a->limit) {
		a->exceeded = true;
		return NULL;
	}
	void *p = malloc(size);
	if (p == NULL) {
		return NULL;
	}
	/* What the allocation really costs: its chunk, header included. */
	size_t cost = malloc_usable_size(p) + sizeof(size_t);
	if (a->used + cost > a->limit) {
		free(p);
		a->exceeded = true;
		return NULL;
	}
	a->used += cost;
	if (a->used > a->peak) {
		a->peak = a->used;
	}
	return p;
}

static void
budget_free(void *data, void *p)
{
	rpc_budget_allocator *a = data;
	if (p != NULL) {
		a->used -= malloc_usable_size(p) + sizeof(size_t);
		free(p);
	}
}

void
rpc_budget_allocator_init(rpc_budget_allocator *a, size_t payload_len)
{
	size_t limit = payload_len > SIZE_MAX / RPC_DECODE_BUDGET_FACTOR
			   ? SIZE_MAX
			   : payload_len * RPC_DECODE_BUDGET_FACTOR;
	*a           = (rpc_budget_allocator){
		      .base  = {.alloc = budget_alloc, .free = budget_free, .allocator_data = a},
		      .limit = limit < RPC_DECODE_BUDGET_MIN ? RPC_DECODE_BUDGET_MIN : limit,
        };
}
