/*
 * log: leveled, line-buffered logging to stderr for frepd and the runtime.
 * Thread-safe. Never pass a secret to it: callers log names, not values.
 */
#ifndef FREP_RPC_LOG_H
#define FREP_RPC_LOG_H

#include <stdbool.h>

typedef enum rpc_log_level {
	RPC_LOG_ERROR = 0,
	RPC_LOG_WARN  = 1,
	RPC_LOG_INFO  = 2,
	RPC_LOG_DEBUG = 3,
} rpc_log_level;

/* Sets the most verbose level printed (default INFO). */
void rpc_log_set_level(rpc_log_level level);

/* Parses "error", "warn", "info", "debug"; 0 on success, -1 otherwise. */
int rpc_log_level_parse(const char *name, rpc_log_level *level);

/* Line format: text (default) or one JSON object a line. */
typedef enum rpc_log_format {
	RPC_LOG_TEXT = 0,
	RPC_LOG_JSON = 1,
} rpc_log_format;

/* Sets the format; "text" or "json" parse with rpc_log_format_parse (0, or
 * -1 for another name). */
void rpc_log_set_format(rpc_log_format format);
int  rpc_log_format_parse(const char *name, rpc_log_format *format);

/* Prints one line: "2026-11-25T08:00:00.123Z frepd[pid] LEVEL message", or
 * {"time":..., "level":..., "pid":..., "event":"log", "message":...}. */
void rpc_log(rpc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One structured event (an answered call, a failed replication). NULL
 * fields and a negative duration are left out. */
typedef struct rpc_log_fields {
	const char *event;  /* "call", "replication", "partner_call", ... */
	const char *method; /* "/frep.v1.Health/Check" */
	const char *status; /* "OK", "NOT_FOUND" */
	double      duration_ms;
	const char *request_id;
	const char *peer; /* "tcp://127.0.0.1:50312", "inproc" (HTTP) */
	const char *message;
} rpc_log_fields;

/* Prints f as "... LEVEL EVENT key=value ..." or as one JSON object. */
void rpc_log_event(rpc_log_level level, const rpc_log_fields *f);

/* True when a line at level would be printed (skip building it if not). */
bool rpc_log_enabled(rpc_log_level level);

#endif /* FREP_RPC_LOG_H */
