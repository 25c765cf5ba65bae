#include "payload_check.h"

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
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

/* Where the walk is: the fields it went through (one per nesting level,
 * with the occurrence's index for a repeated one). The path text
 * ("config.reservations[3].name") is built only for an error message: a
 * 100,000-reservation request has half a million strings and messages,
 * and formatting each one's path cost as much as the rest of the walk. */
typedef struct walk {
	frep_status                    *st;
	const ProtobufCFieldDescriptor *field[MAX_DEPTH + 2];
	size_t                          index[MAX_DEPTH + 2];
	unsigned                        n;
	char                            path[256]; /* path_text's output */
} walk;

static frep_code walk_message(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, size_t origin, unsigned depth);

static void
path_push(walk *w, const ProtobufCFieldDescriptor *f, size_t index)
{
	w->field[w->n] = f;
	w->index[w->n] = index;
	w->n++;
}

static void
path_pop(walk *w)
{
	w->n--;
}

/* The path as text in w->path: ".name" or ".name[i]" per level, cut at
 * 255 bytes. */
static const char *
path_text(walk *w)
{
	size_t len = 0;
	w->path[0] = '\0';
	for (unsigned i = 0; i < w->n && len < sizeof(w->path) - 1; i++) {
		const ProtobufCFieldDescriptor *f    = w->field[i];
		size_t                          room = sizeof(w->path) - len;
		int                             n    = f->label == PROTOBUF_C_LABEL_REPEATED
							   ? snprintf(w->path + len, room, "%s%s[%zu]", i ? "." : "", f->name,
								 w->index[i])
							   : snprintf(w->path + len, room, "%s%s", i ? "." : "", f->name);
		if (n > 0) {
			len = (size_t) n < room ? len + (size_t) n : sizeof(w->path) - 1;
		}
	}
	return w->path;
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
		    path_text(w), ok, n, at + ok);
	}
	if (ok < n) {
		return frep_status_set(w->st, FREP_INVALID_ARGUMENT,
		    "%s: byte %zu of %zu (0x%02x, payload offset %zu) is not valid UTF-8; string "
		    "fields must be UTF-8",
		    path_text(w), ok, n, s[ok], at + ok);
	}
	return FREP_OK;
}

static frep_code
walk_message(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    size_t origin, unsigned depth)
{
	if (depth > MAX_DEPTH) {
		return frep_status_set(w->st, FREP_INVALID_ARGUMENT,
		    "%s: messages nested deeper than %d levels",
		    w->n > 0 ? path_text(w) : "payload", MAX_DEPTH);
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
			size_t fi = (size_t) (f - d->fields);
			path_push(w, f, counts[fi]++);
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				code = check_string(w, p + pos, n, origin + pos);
			} else {
				code = walk_message(
				    w, f->descriptor, p + pos, n, origin + pos, depth + 1);
			}
			path_pop(w);
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

static void
budget_count(rpc_budget_allocator *a, size_t cost)
{
	a->used += cost;
	if (a->used > a->peak) {
		a->peak = a->used;
	}
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
	budget_count(a, cost);
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

/* --- the decode arena ---------------------------------------------------- */

struct rpc_decode_arena_big {
	rpc_decode_arena_big *next;
	max_align_t           data[]; /* aligned like malloc's */
};

#define ARENA_ALIGN (sizeof(max_align_t))

/* What budget_alloc charges for malloc(size): malloc_usable_size + 8. On
 * glibc (x86-64) that is the chunk, header included, at least 32 bytes;
 * under ASan, whose malloc_usable_size is the size asked for, size + 8
 * (so a sanitizer build refuses exactly what it refused before). */
static size_t
malloc_chunk_cost(size_t size)
{
	if (size > SIZE_MAX - 64) {
		return SIZE_MAX;
	}
#ifdef __SANITIZE_ADDRESS__
	return size + sizeof(size_t);
#else
	size_t chunk = (size + sizeof(size_t) + 15) & ~(size_t) 15;
	return chunk < 32 ? 32 : chunk;
#endif
}

/* What does not fit the kept buffer: bumped through chunks of
 * ARENA_CHUNK_MIN doubling to ARENA_CHUNK_MAX bytes (below frepd's 8 MiB
 * mmap threshold, so they come from the heap), the head of a->big being
 * the chunk in use; an allocation over a quarter of the largest chunk gets
 * a block of its own, linked behind the head. One malloc per chunk, not
 * per field: a 100,000-reservation scope decodes in about 100 mallocs
 * instead of 500,000. */
#define ARENA_CHUNK_MIN ((size_t) 64 * 1024)
#define ARENA_CHUNK_MAX ((size_t) 512 * 1024)

static void *
arena_overflow(rpc_decode_arena *a, size_t aligned)
{
	if (a->big != NULL && aligned <= a->big_cap - a->big_off) {
		void *p = (uint8_t *) a->big->data + a->big_off;
		a->big_off += aligned;
		return p;
	}
	bool   own  = aligned > ARENA_CHUNK_MAX / 4;
	size_t size = a->big_next < ARENA_CHUNK_MIN ? ARENA_CHUNK_MIN : a->big_next;
	if (own || size < aligned) {
		size = aligned; /* own: exactly; else at most ARENA_CHUNK_MAX / 4 */
	}
	if (size > SIZE_MAX - sizeof(rpc_decode_arena_big)) {
		return NULL;
	}
	rpc_decode_arena_big *b = malloc(sizeof(*b) + size);
	if (b == NULL) {
		return NULL;
	}
	if (own && a->big != NULL) {
		b->next      = a->big->next; /* the head stays the chunk in use */
		a->big->next = b;
		return b->data;
	}
	b->next    = a->big;
	a->big     = b;
	a->big_cap = own ? 0 : size;
	a->big_off = own ? 0 : aligned;
	if (!own) {
		a->big_next = size * 2 > ARENA_CHUNK_MAX ? ARENA_CHUNK_MAX : size * 2;
	}
	return b->data;
}

static void *
arena_alloc(rpc_decode_arena *a, size_t size)
{
	size_t aligned = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (aligned < size) {
		return NULL;
	}
	a->demand += aligned;
	if (a->buf != NULL && aligned <= a->cap - a->off) {
		void *p = a->buf + a->off;
		a->off += aligned;
		return p;
	}
	return arena_overflow(a, aligned);
}

void
rpc_decode_arena_reset(rpc_decode_arena *a)
{
	while (a->big != NULL) {
		rpc_decode_arena_big *next = a->big->next;
		free(a->big);
		a->big = next;
	}
	a->big_cap  = 0;
	a->big_off  = 0;
	a->big_next = 0;
	if (a->demand > a->window_max) {
		a->window_max = a->demand;
	}
	size_t want = 0;
	if (a->demand > a->cap && a->demand <= RPC_DECODE_ARENA_KEEP) {
		want = a->demand; /* grow: the next such call fits */
	} else if (++a->window_calls >= RPC_DECODE_ARENA_WINDOW) {
		if (a->window_max <= RPC_DECODE_ARENA_KEEP && a->window_max < a->cap / 4) {
			want = a->window_max; /* shrink (0: let it go) */
			if (want == 0) {
				free(a->buf);
				a->buf = NULL;
				a->cap = 0;
			}
		}
		a->window_calls = 0;
		a->window_max   = 0;
	}
	if (want > 0) {
		want       = (want + 4095) & ~(size_t) 4095;
		uint8_t *b = malloc(want);
		if (b != NULL) {
			free(a->buf);
			a->buf = b;
			a->cap = want;
		}
	}
	a->off    = 0;
	a->demand = 0;
	a->in_use = false;
}

void
rpc_decode_arena_fini(rpc_decode_arena *a)
{
	rpc_decode_arena_reset(a);
	free(a->buf);
	*a = (rpc_decode_arena){0};
}

size_t
rpc_decode_arena_blocks(const rpc_decode_arena *a)
{
	size_t n = 0;
	for (const rpc_decode_arena_big *b = a->big; b != NULL; b = b->next) {
		n++;
	}
	return n;
}

static void *
budget_arena_alloc(void *data, size_t size)
{
	rpc_budget_allocator *a    = data;
	size_t                cost = malloc_chunk_cost(size);
	if (a->used >= a->limit || cost > a->limit - a->used) {
		a->exceeded = true;
		return NULL;
	}
	void *p = arena_alloc(a->arena, size);
	if (p == NULL) {
		return NULL;
	}
	budget_count(a, cost);
	return p;
}

static void
budget_arena_free(void *data, void *p)
{
	(void) data;
	(void) p; /* given back all at once by rpc_decode_arena_reset */
}

void
rpc_budget_allocator_init_arena(
    rpc_budget_allocator *a, size_t payload_len, rpc_decode_arena *arena)
{
	rpc_budget_allocator_init(a, payload_len);
	a->base.alloc = budget_arena_alloc;
	a->base.free  = budget_arena_free;
	a->arena      = arena;
	arena->in_use = true;
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
