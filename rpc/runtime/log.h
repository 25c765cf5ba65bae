/*
 * log: leveled, line-buffered logging to stderr for frepd and the runtime.
 * Thread-safe. Never pass a secret to it: callers log names, not values.
 */
#ifndef FREP_RPC_LOG_H
#define FREP_RPC_LOG_H

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

/* Prints one line "2026-11-25T08:00:00.123Z frepd[pid] LEVEL message". */
void rpc_log(rpc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* FREP_RPC_LOG_H */
