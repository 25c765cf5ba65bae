/*
 * metrics: see metrics.h. Series live in small arrays searched linearly:
 * their number is bounded by the methods served (unknown methods share one
 * label) and by what services count, a few dozen in all.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLLECTORS 16
#define MAX_SERIES     512

/* Call latency buckets, in seconds. */
static const double buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct call_series {
	char    *method;
	uint64_t by_code[FREP_CODE_MAX + 1];
	uint64_t bucket[N_BUCKETS];
	uint64_t count;
	uint64_t sum_micros;
} call_series;

typedef struct counter {
	char    *name;
	char    *help;
	char    *label_name;
	char    *label_value;
	uint64_t value;
} counter;

typedef struct collector {
	rpc_metrics_collect_fn fn;
	void                  *arg;
} collector;

struct rpc_metrics {
	pthread_mutex_t mtx;
	call_series     calls[MAX_SERIES];
	size_t          n_calls;
	counter         counters[MAX_SERIES];
	size_t          n_counters;
	collector       collectors[MAX_COLLECTORS];
	size_t          n_collectors;
};

struct rpc_metrics_writer {
	char  *buf;
	size_t len;
	size_t cap;
	bool   failed;
};

rpc_metrics *
rpc_metrics_new(void)
{
	rpc_metrics *m = calloc(1, sizeof(*m));
	if (m != NULL) {
		pthread_mutex_init(&m->mtx, NULL);
	}
	return m;
}

void
rpc_metrics_free(rpc_metrics *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n_calls; i++) {
		free(m->calls[i].method);
	}
	for (size_t i = 0; i < m->n_counters; i++) {
		free(m->counters[i].name);
		free(m->counters[i].help);
		free(m->counters[i].label_name);
		free(m->counters[i].label_value);
	}
	pthread_mutex_destroy(&m->mtx);
	free(m);
}

uint64_t
rpc_metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void
rpc_metrics_call_done(rpc_metrics *m, const char *method, frep_code code, uint64_t micros)
{
	if (m == NULL) {
		return;
	}
	if (method == NULL) {
		method = "unknown";
	}
	pthread_mutex_lock(&m->mtx);
	call_series *c = NULL;
	for (size_t i = 0; i < m->n_calls && c == NULL; i++) {
		if (strcmp(m->calls[i].method, method) == 0) {
			c = &m->calls[i];
		}
	}
	if (c == NULL && m->n_calls < MAX_SERIES) {
		char *copy = strdup(method);
		if (copy != NULL) {
			c         = &m->calls[m->n_calls++];
			c->method = copy;
		}
	}
	if (c != NULL) {
		c->by_code[(int) code >= 0 && code <= FREP_CODE_MAX ? code : FREP_UNKNOWN]++;
		c->count++;
		c->sum_micros += micros;
		double s = (double) micros / 1e6;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			if (s <= buckets[b]) {
				c->bucket[b]++;
			}
		}
	}
	pthread_mutex_unlock(&m->mtx);
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void
rpc_metrics_count(rpc_metrics *m, const char *name, const char *help, const char *label_name,
    const char *label_value, uint64_t n)
{
	if (m == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mtx);
	for (size_t i = 0; i < m->n_counters; i++) {
		counter *c = &m->counters[i];
		if (strcmp(c->name, name) == 0 && same(c->label_name, label_name) &&
		    same(c->label_value, label_value)) {
			c->value += n;
			pthread_mutex_unlock(&m->mtx);
			return;
		}
	}
	if (m->n_counters < MAX_SERIES) {
		counter c = {
		    .name        = strdup(name),
		    .help        = strdup(help != NULL ? help : name),
		    .label_name  = dup_or_null(label_name),
		    .label_value = dup_or_null(label_value),
		    .value       = n,
		};
		if (c.name != NULL && c.help != NULL && same(c.label_name, label_name) == true &&
		    (label_value == NULL || c.label_value != NULL)) {
			m->counters[m->n_counters++] = c;
		} else {
			free(c.name);
			free(c.help);
			free(c.label_name);
			free(c.label_value);
		}
	}
	pthread_mutex_unlock(&m->mtx);
}

frep_code
rpc_metrics_add_collector(rpc_metrics *m, rpc_metrics_collect_fn fn, void *arg, frep_status *st)
{
	pthread_mutex_lock(&m->mtx);
	if (m->n_collectors == MAX_COLLECTORS) {
		pthread_mutex_unlock(&m->mtx);
		return frep_status_set(
		    st, FREP_RESOURCE_EXHAUSTED, "at most %d metrics collectors", MAX_COLLECTORS);
	}
	m->collectors[m->n_collectors++] = (collector){.fn = fn, .arg = arg};
	pthread_mutex_unlock(&m->mtx);
	return FREP_OK;
}

/* --- rendering ----------------------------------------------------------- */

static void wprintf(rpc_metrics_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
wprintf(rpc_metrics_writer *w, const char *fmt, ...)
{
	if (w->failed) {
		return;
	}
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			w->failed = true;
			return;
		}
		if ((size_t) n < w->cap - w->len) {
			w->len += (size_t) n;
			return;
		}
		size_t cap = w->cap * 2 + (size_t) n;
		char  *nb  = realloc(w->buf, cap);
		if (nb == NULL) {
			w->failed = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
}

/* A label value with \, " and newlines escaped, as the format requires. */
static void
write_label(rpc_metrics_writer *w, const char *name, const char *value)
{
	wprintf(w, "%s=\"", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"') {
			wprintf(w, "\\%c", *p);
		} else if (*p == '\n') {
			wprintf(w, "\\n");
		} else {
			wprintf(w, "%c", *p);
		}
	}
	wprintf(w, "\"");
}

void
rpc_metrics_family(rpc_metrics_writer *w, const char *name, const char *type, const char *help)
{
	wprintf(w, "# HELP %s ", name);
	for (const char *p = help; *p != '\0'; p++) {
		if (*p == '\\') {
			wprintf(w, "\\\\");
		} else if (*p == '\n') {
			wprintf(w, "\\n");
		} else {
			wprintf(w, "%c", *p);
		}
	}
	wprintf(w, "\n# TYPE %s %s\n", name, type);
}

void
rpc_metrics_sample(rpc_metrics_writer *w, const char *name, const char *label_name,
    const char *label_value, double value)
{
	wprintf(w, "%s", name);
	if (label_name != NULL) {
		wprintf(w, "{");
		write_label(w, label_name, label_value != NULL ? label_value : "");
		wprintf(w, "}");
	}
	wprintf(w, " %.17g\n", value);
}

static void
render_calls(rpc_metrics *m, rpc_metrics_writer *w)
{
	rpc_metrics_family(w, "frep_rpc_calls_total", "counter",
	    "Calls answered, by method path and status code (nng and HTTP alike).");
	for (size_t i = 0; i < m->n_calls; i++) {
		const call_series *c = &m->calls[i];
		for (int code = 0; code <= FREP_CODE_MAX; code++) {
			if (c->by_code[code] == 0) {
				continue;
			}
			wprintf(w, "frep_rpc_calls_total{");
			write_label(w, "method", c->method);
			wprintf(w, ",code=\"%s\"} %llu\n", frep_code_name(code),
			    (unsigned long long) c->by_code[code]);
		}
	}
	rpc_metrics_family(w, "frep_rpc_call_duration_seconds", "histogram",
	    "Time from a request's arrival to its answer, by method path.");
	for (size_t i = 0; i < m->n_calls; i++) {
		const call_series *c = &m->calls[i];
		for (size_t b = 0; b < N_BUCKETS; b++) {
			wprintf(w, "frep_rpc_call_duration_seconds_bucket{");
			write_label(w, "method", c->method);
			wprintf(
			    w, ",le=\"%g\"} %llu\n", buckets[b], (unsigned long long) c->bucket[b]);
		}
		wprintf(w, "frep_rpc_call_duration_seconds_bucket{");
		write_label(w, "method", c->method);
		wprintf(w, ",le=\"+Inf\"} %llu\n", (unsigned long long) c->count);
		wprintf(w, "frep_rpc_call_duration_seconds_sum{");
		write_label(w, "method", c->method);
		wprintf(w, "} %.6f\n", (double) c->sum_micros / 1e6);
		wprintf(w, "frep_rpc_call_duration_seconds_count{");
		write_label(w, "method", c->method);
		wprintf(w, "} %llu\n", (unsigned long long) c->count);
	}
}

static void
render_counters(rpc_metrics *m, rpc_metrics_writer *w)
{
	for (size_t i = 0; i < m->n_counters; i++) {
		bool first = true;
		for (size_t k = 0; k < i && first; k++) {
			first = strcmp(m->counters[k].name, m->counters[i].name) != 0;
		}
		if (!first) {
			continue;
		}
		rpc_metrics_family(w, m->counters[i].name, "counter", m->counters[i].help);
		for (size_t k = i; k < m->n_counters; k++) {
			const counter *c = &m->counters[k];
			if (strcmp(c->name, m->counters[i].name) != 0) {
				continue;
			}
			rpc_metrics_sample(
			    w, c->name, c->label_name, c->label_value, (double) c->value);
		}
	}
}

char *
rpc_metrics_render(rpc_metrics *m, size_t *len)
{
	rpc_metrics_writer w = {.cap = 8192};
	if ((w.buf = malloc(w.cap)) == NULL) {
		return NULL;
	}
	w.buf[0] = '\0';
	collector cs[MAX_COLLECTORS];
	size_t    n_cs;
	pthread_mutex_lock(&m->mtx);
	render_calls(m, &w);
	render_counters(m, &w);
	n_cs = m->n_collectors;
	memcpy(cs, m->collectors, n_cs * sizeof(cs[0]));
	pthread_mutex_unlock(&m->mtx);
	for (size_t i = 0; i < n_cs; i++) {
		cs[i].fn(cs[i].arg, &w);
	}
	if (w.failed) {
		free(w.buf);
		return NULL;
	}
	*len = w.len;
	return w.buf;
}
