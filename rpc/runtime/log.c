#include "log.h"

#include "frep_status.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static atomic_int log_level  = RPC_LOG_INFO;
static atomic_int log_format = RPC_LOG_TEXT;

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
rpc_log_set_format(rpc_log_format format)
{
	atomic_store(&log_format, (int) format);
}

int
rpc_log_format_parse(const char *name, rpc_log_format *format)
{
	if (strcmp(name, "text") == 0) {
		*format = RPC_LOG_TEXT;
		return 0;
	}
	if (strcmp(name, "json") == 0) {
		*format = RPC_LOG_JSON;
		return 0;
	}
	return -1;
}

bool
rpc_log_enabled(rpc_log_level level)
{
	return (int) level <= atomic_load(&log_level);
}

static void
timestamp(char *buf, size_t size)
{
	struct timeval tv;
	struct tm      tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000) % 1000);
}

/* One fputs per line keeps lines whole between threads. Text that came
 * from a peer (a method path, metadata, a name quoted in a message) must
 * not make lines of its own or forge one: bytes that are not UTF-8 and
 * control characters (a newline, a carriage return, an escape sequence
 * for the terminal) are written "\xNN". Lines are at most LINE_MAX_IN
 * bytes (the callers' buffers), so the work is done on the stack. */
#define LINE_MAX_IN    1536
#define LOG_METHOD_MAX 256

static void
put_line(const char *line)
{
	char utf8[4 * LINE_MAX_IN + 1];   /* each byte at worst "\xNN" */
	char clean[4 * sizeof(utf8) + 2]; /* each of those at worst "\xNN" */
	frep_utf8_sanitize(line, utf8, sizeof(utf8));
	static const char hex[] = "0123456789abcdef";
	size_t            o     = 0;
	for (const unsigned char *p = (const unsigned char *) utf8; *p != '\0'; p++) {
		/* Also the C1 controls U+0080..U+009F (NEL, CSI: c2 80..c2 9f)
		 * and the line and paragraph separators U+2028/U+2029 (e2 80
		 * a8/a9), which some readers take for line ends. */
		size_t k = *p < 0x20 || *p == 0x7f                                          ? 1
			   : p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f                   ? 2
			   : p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9) ? 3
											    : 0;
		if (k == 0) {
			clean[o++] = (char) *p;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			clean[o++] = '\\';
			clean[o++] = 'x';
			clean[o++] = hex[p[j] >> 4];
			clean[o++] = hex[p[j] & 0xf];
		}
		p += k - 1;
	}
	clean[o++] = '\n';
	clean[o]   = '\0';
	fputs(clean, stderr);
}

/* Appends " key=value" to line (of size cap, n bytes used) in logfmt: the
 * value bare if it is not empty and has no space, '=', '"' or '\\', else
 * in double quotes with '"' and '\\' escaped by a backslash, so that a
 * value cannot end early and make fields of its own. Returns the new n
 * (at most cap - 1; a value that does not fit is cut). */
static size_t
put_field(char *line, size_t cap, size_t n, const char *key, const char *v, bool quote)
{
	if (n + 1 >= cap) {
		return n;
	}
	for (const char *p = v; !quote && *p != '\0'; p++) {
		quote = *p == ' ' || *p == '=' || *p == '"' || *p == '\\';
	}
	quote = quote || *v == '\0';
	int k = snprintf(line + n, cap - n, " %s=%s", key, quote ? "\"" : "");
	n     = k < 0 || (size_t) k >= cap - n ? cap - 1 : n + (size_t) k;
	for (const char *p = v; *p != '\0' && n + 2 < cap; p++) {
		if (quote && (*p == '"' || *p == '\\')) {
			if (n + 3 >= cap) {
				break;
			}
			line[n++] = '\\';
		}
		line[n++] = *p;
	}
	if (quote && n + 1 < cap) {
		line[n++] = '"';
	}
	line[n] = '\0';
	return n;
}

static void
put_json(json_t *obj)
{
	char *s = obj != NULL
		      ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
		      : NULL;
	if (s != NULL) {
		size_t n    = strlen(s);
		char  *line = malloc(n + 2);
		if (line != NULL) {
			memcpy(line, s, n);
			line[n]     = '\n';
			line[n + 1] = '\0';
			fputs(line, stderr);
			free(line);
		}
		free(s);
	}
	json_decref(obj);
}

static json_t *
json_head(rpc_log_level level, const char *event)
{
	char ts[80];
	timestamp(ts, sizeof(ts));
	json_t *o = json_object();
	if (o != NULL) {
		json_object_set_new(o, "time", json_string(ts));
		json_object_set_new(o, "level", json_string(level_names[level]));
		json_object_set_new(o, "pid", json_integer((json_int_t) getpid()));
		json_object_set_new(o, "event", json_string(event));
	}
	return o;
}

/* A string that may not be valid UTF-8 (a peer's bytes): jansson refuses
 * those, so they are written "\xNN" (control characters jansson escapes
 * itself). */
static json_t *
json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j != NULL) {
		return j;
	}
	size_t cap  = 4 * strlen(s) + 1;
	char  *copy = malloc(cap);
	if (copy == NULL) {
		return json_string("");
	}
	frep_utf8_sanitize(s, copy, cap);
	j = json_string(copy);
	free(copy);
	return j;
}

void
rpc_log(rpc_log_level level, const char *fmt, ...)
{
	if (!rpc_log_enabled(level)) {
		return;
	}
	char    line[LINE_MAX_IN];
	char    msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (atomic_load(&log_format) == RPC_LOG_JSON) {
		json_t *o = json_head(level, "log");
		if (o != NULL) {
			json_object_set_new(o, "message", json_text(msg));
		}
		put_json(o);
		return;
	}
	char ts[80];
	timestamp(ts, sizeof(ts));
	snprintf(line, sizeof(line), "%s frepd[%ld] %s %s", ts, (long) getpid(), level_names[level],
	    msg);
	put_line(line);
}

void
rpc_log_event(rpc_log_level level, const rpc_log_fields *f)
{
	if (!rpc_log_enabled(level)) {
		return;
	}
	if (atomic_load(&log_format) == RPC_LOG_JSON) {
		json_t *o = json_head(level, f->event != NULL ? f->event : "event");
		if (o == NULL) {
			return;
		}
		if (f->method != NULL) {
			json_object_set_new(o, "method", json_text(f->method));
		}
		if (f->status != NULL) {
			json_object_set_new(o, "status", json_string(f->status));
		}
		if (f->duration_ms >= 0) {
			json_object_set_new(o, "duration_ms", json_real(f->duration_ms));
		}
		if (f->request_id != NULL) {
			json_object_set_new(o, "request_id", json_text(f->request_id));
		}
		if (f->peer != NULL) {
			json_object_set_new(o, "peer", json_text(f->peer));
		}
		if (f->message != NULL) {
			json_object_set_new(o, "message", json_text(f->message));
		}
		put_json(o);
		return;
	}
	char   line[LINE_MAX_IN];
	char   ts[40];
	size_t n;
	timestamp(ts, sizeof(ts));
	snprintf(line, sizeof(line), "%s frepd[%ld] %s %s", ts, (long) getpid(), level_names[level],
	    f->event != NULL ? f->event : "event");
	n = strlen(line);
	if (f->method != NULL) {
		/* A caller's path: at most LOG_METHOD_MAX bytes of it, so that the
		 * fields after it always fit the line. */
		char method[LOG_METHOD_MAX + 4];
		int  len = (int) strlen(f->method);
		snprintf(method, sizeof(method), "%.*s%s",
		    len > LOG_METHOD_MAX ? LOG_METHOD_MAX : len, f->method,
		    len > LOG_METHOD_MAX ? "..." : "");
		n = put_field(line, sizeof(line), n, "method", method, false);
	}
	if (f->status != NULL) {
		n = put_field(line, sizeof(line), n, "status", f->status, false);
	}
	if (f->duration_ms >= 0) {
		char ms[32];
		snprintf(ms, sizeof(ms), "%.3f", f->duration_ms);
		n = put_field(line, sizeof(line), n, "duration_ms", ms, false);
	}
	if (f->request_id != NULL) {
		n = put_field(line, sizeof(line), n, "request_id", f->request_id, false);
	}
	if (f->peer != NULL) {
		n = put_field(line, sizeof(line), n, "peer", f->peer, false);
	}
	if (f->message != NULL) {
		n = put_field(line, sizeof(line), n, "message", f->message, true);
	}
	(void) n;
	put_line(line);
}
