/*
 * idle_trim: gives the heap's free memory back to the kernel once the
 * process has been idle for a while, instead of after every large call.
 *
 * glibc gives memory back as it is freed (an arena's free top over
 * M_TRIM_THRESHOLD, a block over M_MMAP_THRESHOLD unmapped), and the next
 * call touches fresh pages again; on a VM each page fault costs
 * microseconds, and a 100,000-reservation scope's transfer touches tens of
 * MB (docs/PERFORMANCE.md, "Memory kept while busy"). frepd raises both
 * thresholds, so a burst of calls reuses its pages, and starts this: once
 * no work has run for idle_ms (rpc_idle_trim_enter / _leave), one
 * malloc_trim(0) gives back what the burst left, at most once per idle
 * period, if the process is then over keep_bytes resident (a smaller one
 * keeps its free heap warm for the next burst).
 *
 * Process-wide, as malloc is. Every function is thread-safe; before
 * rpc_idle_trim_start (or after rpc_idle_trim_stop) enter and leave only
 * count.
 */
#ifndef FREP_RPC_IDLE_TRIM_H
#define FREP_RPC_IDLE_TRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts the trimming thread: idle_ms (at least 10) after the last
 * rpc_idle_trim_leave of a burst, none while work runs, one
 * malloc_trim(0) if the process's resident memory (/proc/self/statm) is
 * over keep_bytes (0: always). A process within keep_bytes keeps its free
 * heap warm for the next burst, which would otherwise fault each page in
 * again; one over it gives back all its free heap. false if the thread
 * cannot be started or one runs already. */
bool rpc_idle_trim_start(unsigned idle_ms, size_t keep_bytes);

/* Work that allocates begins (a call on a worker thread, an auto-sync
 * push, a Kea push; not inline calls such as the ipc watchdog's probes,
 * which would keep an idle server trimming): no trim starts while any such
 * work runs, so a long call is not trimmed under its feet (work that
 * begins just as a trim starts runs beside it: malloc_trim is
 * thread-safe, and the work's first mallocs wait for it). Each enter has
 * its leave. */
void rpc_idle_trim_enter(void);

/* That work ended: the idle time counts from now. A few atomic
 * operations; a lock only for the first after a trim. */
void rpc_idle_trim_leave(void);

/* Stops and joins the thread (no trim on the way out). */
void rpc_idle_trim_stop(void);

/* How many trims the thread has made since the process started (not
 * counting idle periods of a process within keep_bytes, which trim
 * nothing). */
uint64_t rpc_idle_trim_count(void);

#endif
