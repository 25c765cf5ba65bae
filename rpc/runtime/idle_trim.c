#include "idle_trim.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static struct {
	pthread_mutex_t      mu;
	pthread_cond_t       cv;
	pthread_t            thread;
	bool                 running; /* under mu */
	bool                 stop;    /* under mu */
	unsigned             idle_ms;
	size_t               keep_bytes;
	atomic_bool          started; /* leave() looks at it without the lock */
	atomic_bool          armed;   /* a leave() since the last trim */
	atomic_long          active;  /* enters not yet left */
	atomic_uint_fast64_t last_ms;
	atomic_uint_fast64_t trims;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* The process's resident memory (/proc/self/statm), or SIZE_MAX if it
 * cannot be read (then the trim is made). */
static size_t
resident_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE         *f   = fopen("/proc/self/statm", "r");
	int           got = f != NULL ? fscanf(f, "%lu %lu", &size, &resident) : 0;
	if (f != NULL) {
		fclose(f);
	}
	long page = sysconf(_SC_PAGESIZE);
	return got == 2 && page > 0 ? (size_t) resident * (size_t) page : SIZE_MAX;
}

static void *
trim_main(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&g.mu);
	while (!g.stop) {
		if (!atomic_load(&g.armed)) {
			pthread_cond_wait(&g.cv, &g.mu);
			continue;
		}
		uint64_t due = atomic_load(&g.last_ms) + g.idle_ms, now = now_ms();
		if (atomic_load(&g.active) > 0 && now >= due) {
			due = now + g.idle_ms; /* work runs: look again later */
		}
		if (now < due) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t ns = (uint64_t) ts.tv_nsec + (due - now) * 1000000u;
			ts.tv_sec += (time_t) (ns / 1000000000u);
			ts.tv_nsec = (long) (ns % 1000000000u);
			pthread_cond_timedwait(&g.cv, &g.mu, &ts);
			continue;
		}
		atomic_store(&g.armed, false);
		size_t keep = g.keep_bytes;
		pthread_mutex_unlock(&g.mu);
		/* A process this small holds the working set of the next
		 * burst: kept, not faulted in again page by page. */
		if (keep == 0 || resident_bytes() > keep) {
			malloc_trim(0);
			atomic_fetch_add(&g.trims, 1);
		}
		pthread_mutex_lock(&g.mu);
	}
	pthread_mutex_unlock(&g.mu);
	return NULL;
}

bool
rpc_idle_trim_start(unsigned idle_ms, size_t keep_bytes)
{
	pthread_condattr_t ca;
	bool               ok = false;

	pthread_mutex_lock(&g.mu);
	if (!g.running && pthread_condattr_init(&ca) == 0) {
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (pthread_cond_init(&g.cv, &ca) == 0) {
			g.idle_ms    = idle_ms < 10 ? 10 : idle_ms;
			g.keep_bytes = keep_bytes;
			g.stop       = false;
			atomic_store(&g.armed, false);
			if (pthread_create(&g.thread, NULL, trim_main, NULL) == 0) {
				g.running = true;
				atomic_store(&g.started, true);
				ok = true;
			} else {
				pthread_cond_destroy(&g.cv);
			}
		}
		pthread_condattr_destroy(&ca);
	}
	pthread_mutex_unlock(&g.mu);
	return ok;
}

void
rpc_idle_trim_enter(void)
{
	atomic_fetch_add_explicit(&g.active, 1, memory_order_relaxed);
}

void
rpc_idle_trim_leave(void)
{
	atomic_store_explicit(&g.last_ms, now_ms(), memory_order_relaxed);
	atomic_fetch_sub_explicit(&g.active, 1, memory_order_release);
	if (!atomic_load_explicit(&g.started, memory_order_relaxed)) {
		return;
	}
	if (!atomic_exchange(&g.armed, true)) {
		/* The first since a trim: wake the thread to start the count. */
		pthread_mutex_lock(&g.mu);
		if (g.running) {
			pthread_cond_signal(&g.cv);
		}
		pthread_mutex_unlock(&g.mu);
	}
}

void
rpc_idle_trim_stop(void)
{
	pthread_mutex_lock(&g.mu);
	if (!g.running) {
		pthread_mutex_unlock(&g.mu);
		return;
	}
	atomic_store(&g.started, false);
	g.stop = true;
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(g.thread, NULL);
	pthread_mutex_lock(&g.mu);
	g.running = false;
	pthread_cond_destroy(&g.cv);
	pthread_mutex_unlock(&g.mu);
}

uint64_t
rpc_idle_trim_count(void)
{
	return atomic_load(&g.trims);
}
