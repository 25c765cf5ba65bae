/*
 * metrics: a small registry rendered in Prometheus' text format (version
 * 0.0.4) for GET /metrics. Generic: the runtime records every call (by
 * method and status, and its latency in a histogram); services add
 * counters by name and label, and collectors that write gauges when the
 * registry is scraped (the Kea pusher's state, the store's size).
 *
 * Names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*); label values
 * are escaped here. Thread-safe: one mutex; a scrape holds it while it
 * renders the runtime's own series, then runs collectors without it.
 */
#ifndef FREP_RPC_METRICS_H
#define FREP_RPC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "frep_status.h"

typedef struct rpc_metrics rpc_metrics;

/* A scrape's output buffer, handed to collectors. */
typedef struct rpc_metrics_writer rpc_metrics_writer;

/* NULL when out of memory. Free with rpc_metrics_free (NULL is a no-op). */
rpc_metrics *rpc_metrics_new(void);
void         rpc_metrics_free(rpc_metrics *m);

/* The clock call durations are measured with: CLOCK_MONOTONIC, in µs. */
uint64_t rpc_metrics_now_us(void);

/* Records one answered call: method is its path ("/frep.v1.Health/Check")
 * or NULL for a request that named no method served here. m may be NULL. */
void rpc_metrics_call_done(rpc_metrics *m, const char *method, frep_code code, uint64_t micros);

/* Adds n to the counter name{label_name="label_value"} (label_name NULL: no
 * label). help is written once per name. The strings are copied on first
 * use. m may be NULL. Out of memory: the increment is lost. */
void rpc_metrics_count(rpc_metrics *m, const char *name, const char *help, const char *label_name,
    const char *label_value, uint64_t n);

/* A collector writes its series when the registry is scraped. */
typedef void (*rpc_metrics_collect_fn)(void *arg, rpc_metrics_writer *w);

/* Adds a collector (arg borrowed until rpc_metrics_free). RESOURCE_EXHAUSTED
 * beyond 16. */
frep_code rpc_metrics_add_collector(
    rpc_metrics *m, rpc_metrics_collect_fn fn, void *arg, frep_status *st);

/* For collectors: "# HELP" and "# TYPE" lines ("gauge", "counter"), then
 * one sample per call of rpc_metrics_sample (label_name may be NULL). */
void rpc_metrics_family(
    rpc_metrics_writer *w, const char *name, const char *type, const char *help);
void rpc_metrics_sample(rpc_metrics_writer *w, const char *name, const char *label_name,
    const char *label_value, double value);

/* Renders everything; the caller frees the text. NULL when out of memory. */
char *rpc_metrics_render(rpc_metrics *m, size_t *len);

#endif /* FREP_RPC_METRICS_H */
