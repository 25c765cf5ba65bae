#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = RPC_LOG_INFO;

static const char *const level_names[] = {
    [RPC_LOG_ERROR] = "error",
    [RPC_LOG_WARN]  = "warn",
    [RPC_LOG_INFO]  = "info",
    [RPC_LOG_DEBUG] = "debug",
};

void
rpc_log_set_level(rpc_log_level level)
{
	atomic_store(&log_level, (int) level);
}

int
rpc_log_level_parse(const char *name, rpc_log_level *level)
{
	for (int i = RPC_LOG_ERROR; i <= RPC_LOG_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (rpc_log_level) i;
			return 0;
		}
	}
	return -1;
}

void
rpc_log(rpc_log_level level, const char *fmt, ...)
{
	if ((int) level > atomic_load(&log_level)) {
		return;
	}
	struct timeval tv;
	struct tm      tm;
	char           line[1024];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ frepd[%ld] %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (long) (tv.tv_usec / 1000), (long) getpid(), level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps lines whole between threads. */
	size_t len = strlen(line);
	if (len < sizeof(line) - 1) {
		line[len++] = '\n';
		line[len]   = '\0';
	}
	fputs(line, stderr);
}
