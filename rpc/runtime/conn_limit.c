/*
 * conn_limit: the per-listener bound on finished connections (see
 * conn_limit.h). A small table per listener and one array of the admitted
 * pipes: listeners are at most 16 and pipes a few thousand, so lookups are
 * linear scans under one mutex, off any hot path (once per connection).
 */
#include "conn_limit.h"

#include <pthread.h>
#include <stdlib.h>

#define SLOTS 16

typedef struct slot {
	uint32_t    listener_id; /* 0: unused */
	const char *url;
	size_t      open;
	uint64_t    refused_since_warn;
	uint64_t    last_warn_ms;
	bool        warned;
} slot;

typedef struct admitted {
	uint32_t pipe_id;
	uint32_t slot;
} admitted;

struct rpc_conn_limit {
	pthread_mutex_t mtx;
	size_t          max;
	slot            slots[SLOTS];
	admitted       *pipes;
	size_t          n_pipes, cap_pipes;
};

rpc_conn_limit *
rpc_conn_limit_new(size_t max_per_listener)
{
	rpc_conn_limit *l = calloc(1, sizeof(*l));
	if (l != NULL) {
		pthread_mutex_init(&l->mtx, NULL);
		l->max = max_per_listener > 0 ? max_per_listener : 1;
	}
	return l;
}

void
rpc_conn_limit_free(rpc_conn_limit *l)
{
	if (l != NULL) {
		pthread_mutex_destroy(&l->mtx);
		free(l->pipes);
		free(l);
	}
}

void
rpc_conn_limit_set_listener(rpc_conn_limit *l, size_t index, uint32_t listener_id, const char *url)
{
	if (index >= SLOTS) {
		return;
	}
	pthread_mutex_lock(&l->mtx);
	/* A re-created listener's old pipes were closed with it; those still
	 * being released keep counting until their REM_POST. */
	l->slots[index].listener_id = listener_id;
	l->slots[index].url         = url;
	pthread_mutex_unlock(&l->mtx);
}

bool
rpc_conn_limit_admit(rpc_conn_limit *l, uint32_t pipe_id, uint32_t listener_id, uint64_t now_ms,
    rpc_conn_limit_refusal *why)
{
	bool ok = true;
	pthread_mutex_lock(&l->mtx);
	size_t i = 0;
	while (i < SLOTS && (listener_id == 0 || l->slots[i].listener_id != listener_id)) {
		i++;
	}
	if (i == SLOTS) {
		pthread_mutex_unlock(&l->mtx);
		return true;
	}
	slot *sl = &l->slots[i];
	if (sl->open >= l->max) {
		ok = false;
		sl->refused_since_warn++;
		*why = (rpc_conn_limit_refusal){.url = sl->url, .refused = sl->refused_since_warn};
		if (!sl->warned || now_ms - sl->last_warn_ms >= RPC_CONN_LIMIT_WARN_PERIOD) {
			why->warn              = true;
			sl->warned             = true;
			sl->last_warn_ms       = now_ms;
			sl->refused_since_warn = 0;
		}
	} else {
		if (l->n_pipes == l->cap_pipes) {
			size_t    cap = l->cap_pipes ? l->cap_pipes * 2 : 64;
			admitted *np  = realloc(l->pipes, cap * sizeof(*np));
			if (np == NULL) {
				/* Out of memory: in, uncounted, rather than refuse all. */
				pthread_mutex_unlock(&l->mtx);
				return true;
			}
			l->pipes     = np;
			l->cap_pipes = cap;
		}
		l->pipes[l->n_pipes++] = (admitted){.pipe_id = pipe_id, .slot = (uint32_t) i};
		sl->open++;
	}
	pthread_mutex_unlock(&l->mtx);
	return ok;
}

void
rpc_conn_limit_release(rpc_conn_limit *l, uint32_t pipe_id)
{
	pthread_mutex_lock(&l->mtx);
	for (size_t k = 0; k < l->n_pipes; k++) {
		if (l->pipes[k].pipe_id == pipe_id) {
			l->slots[l->pipes[k].slot].open--;
			l->pipes[k] = l->pipes[--l->n_pipes];
			break;
		}
	}
	pthread_mutex_unlock(&l->mtx);
}

size_t
rpc_conn_limit_open(rpc_conn_limit *l, size_t index)
{
	pthread_mutex_lock(&l->mtx);
	size_t n = index < SLOTS ? l->slots[index].open : 0;
	pthread_mutex_unlock(&l->mtx);
	return n;
}
