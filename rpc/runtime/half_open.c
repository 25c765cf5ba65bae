#define _GNU_SOURCE
#include "half_open.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEY_MAX 48 /* "<32 hex>:<port>" */

typedef struct pipe_addr {
	uint32_t id;
	char     key[KEY_MAX];
} pipe_addr;

typedef struct pending {
	unsigned long inode;
	uint64_t      first_seen_ms;
} pending;

struct rpc_half_open {
	pthread_mutex_t mtx;
	uint64_t        deadline_ms;
	size_t          max_pending;
	pipe_addr      *pipes;
	size_t          n_pipes, cap_pipes;
	pending        *pend;
	size_t          n_pend;
	uint64_t        dropped;
	bool            stats_pipes; /* pipes from nng statistics, not callbacks */
	bool            idle_first;  /* beyond the bound, idle connections go first */
	/* Opened once and kept: at the descriptor limit (what a flood causes)
	 * an fopen or opendir per scan fails with EMFILE and leaves the guard
	 * blind just when it is needed. Re-read with rewind/rewinddir. */
	FILE *tcp4, *tcp6;
	DIR  *fd_dir;
};

/* Opens what is not open yet (a file missing now, say /proc/net/tcp6 on a
 * kernel without IPv6, is tried again at the next scan). */
static void
open_sources(rpc_half_open *h)
{
	if (h->tcp4 == NULL) {
		h->tcp4 = fopen("/proc/net/tcp", "re");
	}
	if (h->tcp6 == NULL) {
		h->tcp6 = fopen("/proc/net/tcp6", "re");
	}
	if (h->fd_dir == NULL) {
		h->fd_dir = opendir("/proc/self/fd");
	}
}

rpc_half_open *
rpc_half_open_new(uint64_t deadline_ms, size_t max_pending)
{
	rpc_half_open *h = calloc(1, sizeof(*h));
	if (h != NULL) {
		pthread_mutex_init(&h->mtx, NULL);
		h->deadline_ms = deadline_ms;
		h->max_pending = max_pending;
		open_sources(h);
	}
	return h;
}

void
rpc_half_open_free(rpc_half_open *h)
{
	if (h != NULL) {
		pthread_mutex_destroy(&h->mtx);
		if (h->tcp4 != NULL) {
			fclose(h->tcp4);
		}
		if (h->tcp6 != NULL) {
			fclose(h->tcp6);
		}
		if (h->fd_dir != NULL) {
			closedir(h->fd_dir);
		}
		free(h->pipes);
		free(h->pend);
		free(h);
	}
}

/* The remote end of a pipe as /proc/net/tcp{,6} prints it: the address's
 * raw words in hex, then the port in host order. False if unknown. */
static bool
pipe_key(nng_pipe p, char key[KEY_MAX])
{
	nng_sockaddr sa;
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
		return false;
	}
	if (sa.s_family == NNG_AF_INET) {
		snprintf(key, KEY_MAX, "%08X:%u", sa.s_in.sa_addr, ntohs(sa.s_in.sa_port));
		return true;
	}
	if (sa.s_family == NNG_AF_INET6) {
		uint32_t w[4];
		memcpy(w, sa.s_in6.sa_addr, sizeof(w));
		snprintf(key, KEY_MAX, "%08X%08X%08X%08X:%u", w[0], w[1], w[2], w[3],
		    ntohs(sa.s_in6.sa_port));
		return true;
	}
	return false;
}

void
rpc_half_open_pipe_added(rpc_half_open *h, nng_pipe p)
{
	char key[KEY_MAX];
	if (!pipe_key(p, key)) {
		return; /* not TCP (ipc://): never a candidate anyway */
	}
	pthread_mutex_lock(&h->mtx);
	if (h->n_pipes == h->cap_pipes) {
		size_t     cap = h->cap_pipes ? h->cap_pipes * 2 : 64;
		pipe_addr *np  = realloc(h->pipes, cap * sizeof(*np));
		if (np == NULL) {
			pthread_mutex_unlock(&h->mtx);
			return;
		}
		h->pipes     = np;
		h->cap_pipes = cap;
	}
	h->pipes[h->n_pipes].id = nng_pipe_id(p);
	memcpy(h->pipes[h->n_pipes].key, key, KEY_MAX);
	h->n_pipes++;
	pthread_mutex_unlock(&h->mtx);
}

void
rpc_half_open_pipe_removed(rpc_half_open *h, nng_pipe p)
{
	uint32_t id = (uint32_t) nng_pipe_id(p);
	pthread_mutex_lock(&h->mtx);
	for (size_t i = 0; i < h->n_pipes; i++) {
		if (h->pipes[i].id == id) {
			h->pipes[i] = h->pipes[--h->n_pipes];
			break;
		}
	}
	pthread_mutex_unlock(&h->mtx);
}

void
rpc_half_open_idle_first(rpc_half_open *h)
{
	pthread_mutex_lock(&h->mtx);
	h->idle_first = true;
	pthread_mutex_unlock(&h->mtx);
}

/* What a connection is doing, from the kernel's counters of our own socket
 * (no descriptor opened): 0 the peer never sent a byte; 1 idle, everything
 * received was answered after (we sent data since the last data came in);
 * 2 a request in progress (data came in after our last answer, or none was
 * sent yet): a call in flight, or a request still arriving. */
static int
activity_rank(int fd)
{
	struct tcp_info ti;
	socklen_t       len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received)) {
		return 2; /* cannot tell: as if busy, the last to go */
	}
	if (ti.tcpi_bytes_received == 0) {
		return 0;
	}
	if (ti.tcpi_bytes_acked > 0 && ti.tcpi_last_data_sent <= ti.tcpi_last_data_recv) {
		return 1; /* sent no longer ago than the last data came in */
	}
	return 2;
}

void
rpc_half_open_pipes_from_stats(rpc_half_open *h)
{
	pthread_mutex_lock(&h->mtx);
	h->stats_pipes = true;
	pthread_mutex_unlock(&h->mtx);
}

/* Replaces the pipe list with the pipes nng's statistics list now (each
 * "pipe" scope's "id"; the remote address from the pipe itself). False if
 * there are no statistics to read: then nothing can be told pending. */
static bool
pipes_from_stats(rpc_half_open *h)
{
	nng_stat *root = NULL;
	if (nng_stats_get(&root) != 0 || root == NULL) {
		return false;
	}
	h->n_pipes = 0;
	for (nng_stat *sc = nng_stat_child(root); sc != NULL; sc = nng_stat_next(sc)) {
		if (nng_stat_type(sc) != NNG_STAT_SCOPE || strcmp(nng_stat_name(sc), "pipe") != 0) {
			continue;
		}
		nng_stat *id = nng_stat_child(sc);
		while (id != NULL && strcmp(nng_stat_name(id), "id") != 0) {
			id = nng_stat_next(id);
		}
		char key[KEY_MAX];
		if (id == NULL || !pipe_key((nng_pipe){.id = (uint32_t) nng_stat_value(id)}, key)) {
			continue; /* gone since the snapshot, or not TCP */
		}
		if (h->n_pipes == h->cap_pipes) {
			size_t     cap = h->cap_pipes ? h->cap_pipes * 2 : 64;
			pipe_addr *np  = realloc(h->pipes, cap * sizeof(*np));
			if (np == NULL) {
				nng_stats_free(root);
				return false;
			}
			h->pipes     = np;
			h->cap_pipes = cap;
		}
		h->pipes[h->n_pipes].id = (uint32_t) nng_stat_value(id);
		memcpy(h->pipes[h->n_pipes].key, key, KEY_MAX);
		h->n_pipes++;
	}
	nng_stats_free(root);
	return true;
}

static bool
is_pipe(const rpc_half_open *h, const char *key)
{
	for (size_t i = 0; i < h->n_pipes; i++) {
		if (strcmp(h->pipes[i].key, key) == 0) {
			return true;
		}
	}
	return false;
}

typedef struct conn {
	char          key[KEY_MAX]; /* the remote end, as pipe_key writes it */
	unsigned long inode;
	uint64_t      first_seen_ms;
	int           fd;
	size_t        port; /* index in the scan's ports */
	int           rank; /* idle_first: 0 never sent, 1 answered, 2 request in progress */
} conn;

/* Appends the established connections on the watched ports that are not
 * pipes, from one /proc/net file. */
static void
read_table(const rpc_half_open *h, FILE *f, const int *ports, size_t n_ports, conn **out, size_t *n,
    size_t *cap)
{
	char line[512];
	if (f == NULL) {
		return;
	}
	rewind(f); /* a fresh snapshot of the table, no new descriptor */
	if (fgets(line, sizeof(line), f) == NULL) { /* header */
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char          laddr[40], raddr[40], key[KEY_MAX];
		unsigned      lport, rport, state;
		unsigned long inode;
		if (sscanf(line,
			"%*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %lu",
			laddr, &lport, raddr, &rport, &state, &inode) != 6 ||
		    state != 0x01 /* ESTABLISHED */ || inode == 0) {
			continue;
		}
		size_t port = 0;
		while (port < n_ports && (unsigned) ports[port] != lport) {
			port++;
		}
		snprintf(key, sizeof(key), "%s:%u", raddr, rport);
		if (port == n_ports || is_pipe(h, key)) {
			continue;
		}
		if (*n == *cap) {
			size_t cap2 = *cap ? *cap * 2 : 64;
			conn  *nc   = realloc(*out, cap2 * sizeof(*nc));
			if (nc == NULL) {
				break;
			}
			*out = nc;
			*cap = cap2;
		}
		conn *nc = &(*out)[(*n)++];
		*nc      = (conn){.inode = inode, .fd = -1, .port = port};
		memcpy(nc->key, key, KEY_MAX);
	}
}

/* True if fd still is the socket with that inode. */
static bool
fd_is(int fd, unsigned long inode)
{
	char path[64], link[64], want[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		return false;
	}
	link[n] = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	return strcmp(link, want) == 0;
}

/* Oldest first; with idle_first, by rank before age. */
static int
by_age(const void *a, const void *b)
{
	const conn *x = a, *y = b;
	if (x->rank != y->rank) {
		return x->rank < y->rank ? -1 : 1;
	}
	return x->first_seen_ms < y->first_seen_ms ? -1 : x->first_seen_ms > y->first_seen_ms;
}

size_t
rpc_half_open_scan(rpc_half_open *h, const int *ports, size_t n_ports, uint64_t now_ms)
{
	conn  *c = NULL;
	size_t n = 0, cap = 0, dropped = 0;

	pthread_mutex_lock(&h->mtx);
	open_sources(h);
	read_table(h, h->tcp4, ports, n_ports, &c, &n, &cap);
	read_table(h, h->tcp6, ports, n_ports, &c, &n, &cap);
	if (h->stats_pipes) {
		/* After the tables: a connection that became a pipe meanwhile is
		 * in the snapshot, so it is never taken for a pending one. */
		if (!pipes_from_stats(h)) {
			pthread_mutex_unlock(&h->mtx);
			free(c);
			return 0; /* pipes unknown: nothing can be told pending */
		}
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!is_pipe(h, c[i].key)) {
				c[k++] = c[i];
			}
		}
		n = k;
	}
	/* Ours only (the table is the whole namespace's): find each one's fd. */
	DIR *d = n > 0 ? h->fd_dir : NULL;
	if (d != NULL) {
		rewinddir(d);
	}
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		int  fd = atoi(e->d_name);
		char path[300], link[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%.255s", e->d_name);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (len <= 8) {
			continue;
		}
		link[len]           = '\0';
		unsigned long inode = 0;
		if (sscanf(link, "socket:[%lu]", &inode) != 1) {
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (c[i].inode == inode) {
				c[i].fd = fd;
			}
		}
	}
	/* Ages carry over from the last scan. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].fd < 0) {
			continue;
		}
		c[i].first_seen_ms = now_ms;
		c[i].rank          = h->idle_first ? activity_rank(c[i].fd) : 0;
		for (size_t k = 0; k < h->n_pend; k++) {
			if (h->pend[k].inode == c[i].inode) {
				c[i].first_seen_ms = h->pend[k].first_seen_ms;
				break;
			}
		}
		c[kept++] = c[i];
	}
	n = kept;
	if (n > 1) {
		qsort(c, n, sizeof(*c), by_age); /* c is NULL when n is 0 */
	}
	/* On each port (each listener has its own), the oldest beyond the
	 * bound go, and any past the deadline. */
	size_t *over = n > 0 ? calloc(n_ports, sizeof(*over)) : NULL;
	for (size_t i = 0; over != NULL && i < n; i++) {
		over[c[i].port]++;
	}
	for (size_t p = 0; over != NULL && p < n_ports; p++) {
		over[p] = over[p] > h->max_pending ? over[p] - h->max_pending : 0;
	}
	free(h->pend);
	h->pend   = n > 0 ? malloc(n * sizeof(*h->pend)) : NULL;
	h->n_pend = 0;
	for (size_t i = 0; i < n; i++) {
		bool late   = now_ms - c[i].first_seen_ms >= h->deadline_ms;
		bool beyond = over != NULL && over[c[i].port] > 0;
		if (beyond) {
			over[c[i].port]--; /* c is oldest first */
		}
		if ((late || beyond) && fd_is(c[i].fd, c[i].inode)) {
			shutdown(c[i].fd, SHUT_RDWR);
			dropped++;
		} else if (h->pend != NULL) {
			h->pend[h->n_pend++] = (pending){c[i].inode, c[i].first_seen_ms};
		}
	}
	h->dropped += dropped;
	pthread_mutex_unlock(&h->mtx);
	free(over);
	free(c);
	return dropped;
}

uint64_t
rpc_half_open_dropped(rpc_half_open *h)
{
	pthread_mutex_lock(&h->mtx);
	uint64_t n = h->dropped;
	pthread_mutex_unlock(&h->mtx);
	return n;
}
