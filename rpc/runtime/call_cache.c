#include "call_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
	rpc_call_cache_key key;
	uint64_t           born_ms; /* begun, then finished: the time to live counts from here */
	bool               done;
	uint8_t           *reply; /* NULL when done and too large */
	size_t             reply_len;
	struct entry      *hash_next;
	struct entry      *age_next; /* oldest first */
} entry;

struct rpc_call_cache {
	pthread_mutex_t mtx;
	entry         **buckets;
	size_t          n_buckets;
	size_t          n_entries;
	size_t          reply_bytes; /* held by finished entries' replies */
	size_t          max_entries;
	size_t          max_reply_bytes;
	uint64_t        ttl_ms;
	entry          *oldest;
	entry          *newest;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static size_t
bucket_of(const rpc_call_cache *c, uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t) (id & (c->n_buckets - 1));
}

int
rpc_call_cache_new(
    size_t max_entries, size_t max_reply_bytes, uint64_t ttl_ms, rpc_call_cache **out)
{
	rpc_call_cache *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return -1;
	}
	c->n_buckets = 1;
	while (c->n_buckets < max_entries * 2) {
		c->n_buckets <<= 1;
	}
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return -1;
	}
	c->max_entries     = max_entries;
	c->max_reply_bytes = max_reply_bytes;
	c->ttl_ms          = ttl_ms;
	pthread_mutex_init(&c->mtx, NULL);
	*out = c;
	return 0;
}

static void
unlink_hash(rpc_call_cache *c, entry *e)
{
	entry **pp = &c->buckets[bucket_of(c, e->key.call_id)];
	while (*pp != e) {
		pp = &(*pp)->hash_next;
	}
	*pp = e->hash_next;
}

/* Drops the oldest finished entries that are expired or over the bound.
 * A running entry is never dropped: rpc_call_cache_finish and _abandon
 * find it by its id, so an id freed while its call runs could be taken by
 * another caller, whose entry would then get the first call's reply (or
 * have its own answered for it). Running entries are bounded by the calls
 * a server runs at once (its contexts), so the bound is exceeded by at
 * most that many. */
static void
evict(rpc_call_cache *c, uint64_t now)
{
	entry **pp = &c->oldest, *prev = NULL;
	while (*pp != NULL) {
		entry *e       = *pp;
		bool   expired = now - e->born_ms > c->ttl_ms;
		if (!expired && c->n_entries < c->max_entries &&
		    c->reply_bytes <= RPC_CALL_CACHE_REPLY_BYTES_FACTOR * c->max_reply_bytes) {
			break; /* the rest began later (a few may have finished
				* earlier: they go at a later scan) */
		}
		if (!e->done) {
			prev = e;
			pp   = &e->age_next;
			continue;
		}
		*pp = e->age_next;
		if (c->newest == e) {
			c->newest = prev;
		}
		unlink_hash(c, e);
		c->reply_bytes -= e->reply != NULL ? e->reply_len : 0;
		free(e->reply);
		free(e);
		c->n_entries--;
	}
}

static entry *
find(rpc_call_cache *c, uint64_t id)
{
	for (entry *e = c->buckets[bucket_of(c, id)]; e != NULL; e = e->hash_next) {
		if (e->key.call_id == id) {
			return e;
		}
	}
	return NULL;
}

rpc_call_cache_result
rpc_call_cache_begin(
    rpc_call_cache *c, const rpc_call_cache_key *key, uint8_t **reply, size_t *reply_len)
{
	uint64_t              now     = now_ms();
	uint64_t              call_id = key->call_id;
	rpc_call_cache_result r       = RPC_CALL_CACHE_NEW;

	pthread_mutex_lock(&c->mtx);
	evict(c, now);
	entry *e = find(c, call_id);
	if (e != NULL) {
		if (memcmp(e->key.caller, key->caller, sizeof(key->caller)) != 0 ||
		    memcmp(e->key.request, key->request, sizeof(key->request)) != 0) {
			r = RPC_CALL_CACHE_CONFLICT;
		} else if (!e->done) {
			r = RPC_CALL_CACHE_RUNNING;
		} else if (e->reply == NULL) {
			r = RPC_CALL_CACHE_FORGOTTEN;
		} else if ((*reply = malloc(e->reply_len)) != NULL) {
			memcpy(*reply, e->reply, e->reply_len);
			*reply_len = e->reply_len;
			r          = RPC_CALL_CACHE_DONE;
		} else {
			r = RPC_CALL_CACHE_FORGOTTEN;
		}
		pthread_mutex_unlock(&c->mtx);
		return r;
	}
	if ((e = calloc(1, sizeof(*e))) != NULL) {
		size_t b      = bucket_of(c, call_id);
		e->key        = *key;
		e->born_ms    = now;
		e->hash_next  = c->buckets[b];
		c->buckets[b] = e;
		if (c->newest != NULL) {
			c->newest->age_next = e;
		} else {
			c->oldest = e;
		}
		c->newest = e;
		c->n_entries++;
	}
	pthread_mutex_unlock(&c->mtx);
	return r;
}

bool
rpc_call_cache_holds(rpc_call_cache *c, const rpc_call_cache_key *key)
{
	pthread_mutex_lock(&c->mtx);
	evict(c, now_ms());
	entry *e    = find(c, key->call_id);
	bool   held = e != NULL && memcmp(e->key.caller, key->caller, sizeof(key->caller)) == 0 &&
		    memcmp(e->key.request, key->request, sizeof(key->request)) == 0;
	pthread_mutex_unlock(&c->mtx);
	return held;
}

void
rpc_call_cache_finish(rpc_call_cache *c, uint64_t call_id, const uint8_t *reply, size_t len)
{
	pthread_mutex_lock(&c->mtx);
	entry *e = find(c, call_id);
	if (e != NULL && !e->done) {
		e->done    = true;
		e->born_ms = now_ms();
		if (len <= c->max_reply_bytes && (e->reply = malloc(len > 0 ? len : 1)) != NULL) {
			memcpy(e->reply, reply, len);
			e->reply_len = len;
			c->reply_bytes += len;
		}
	}
	pthread_mutex_unlock(&c->mtx);
}

void
rpc_call_cache_abandon(rpc_call_cache *c, uint64_t call_id)
{
	pthread_mutex_lock(&c->mtx);
	entry *e = find(c, call_id);
	if (e != NULL && !e->done) {
		unlink_hash(c, e);
		/* Unlink from the age list too (it is singly linked: walk). */
		entry **pp   = &c->oldest;
		entry  *prev = NULL;
		while (*pp != e) {
			prev = *pp;
			pp   = &(*pp)->age_next;
		}
		*pp = e->age_next;
		if (c->newest == e) {
			c->newest = prev;
		}
		free(e->reply);
		free(e);
		c->n_entries--;
	}
	pthread_mutex_unlock(&c->mtx);
}

void
rpc_call_cache_free(rpc_call_cache *c)
{
	if (c == NULL) {
		return;
	}
	entry *e = c->oldest;
	while (e != NULL) {
		entry *next = e->age_next;
		free(e->reply);
		free(e);
		e = next;
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}
