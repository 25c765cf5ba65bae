/*
 * frepctl_table: output for people, drawn from the same JSON that --json
 * prints (built with short enum names), so the two never disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frepctl_internal.h"

#define MAX_COLUMNS 16

const char *
frepctl_duration_format(uint32_t seconds, char *buf, size_t size)
{
	static const struct {
		char     unit;
		uint32_t s;
	} units[]   = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	size_t used = 0;
	if (seconds == FREPCTL_UNLIMITED) {
		snprintf(buf, size, "unlimited");
		return buf;
	}
	if (seconds == 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < size; i++) {
		if (seconds >= units[i].s) {
			int n = snprintf(
			    buf + used, size - used, "%u%c", seconds / units[i].s, units[i].unit);
			used += n > 0 ? (size_t) n : 0;
			seconds %= units[i].s;
		}
	}
	return buf;
}

/* A scalar as text: strings as they are, numbers in decimal, booleans as
 * yes/no. */
static void
scalar_text(FILE *m, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), m);
		break;
	case JSON_INTEGER:
		fprintf(m, "%lld", (long long) json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(m, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("yes", m);
		break;
	case JSON_FALSE:
		fputs("no", m);
		break;
	case JSON_ARRAY: {
		size_t  i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (i > 0) {
				fputc(',', m);
			}
			scalar_text(m, e);
		}
		break;
	}
	default:
		break;
	}
}

static void
range_text(FILE *m, const json_t *obj)
{
	const char *a = json_string_value(json_object_get(obj, "start_range"));
	const char *b = json_string_value(json_object_get(obj, "end_range"));
	fprintf(m, "%s-%s", a != NULL ? a : "", b != NULL ? b : "");
}

/* One cell as a new string (caller frees). */
static char *
cell_text(const json_t *row, const frepctl_column *col)
{
	char   *s   = NULL;
	size_t  len = 0;
	FILE   *m   = open_memstream(&s, &len);
	json_t *v   = col->key != NULL ? json_object_get(row, col->key) : NULL;
	char    buf[64];
	size_t  i;
	json_t *e;
	if (m == NULL) {
		return strdup("?");
	}
	switch (col->cell) {
	case FREPCTL_CELL_TEXT:
		if (v != NULL) {
			scalar_text(m, v);
		}
		break;
	case FREPCTL_CELL_DURATION:
		if (json_is_integer(v)) {
			fputs(frepctl_duration_format(
				  (uint32_t) json_integer_value(v), buf, sizeof(buf)),
			    m);
		}
		break;
	case FREPCTL_CELL_RANGE:
		range_text(m, row);
		break;
	case FREPCTL_CELL_COUNT:
		fprintf(m, "%zu", json_array_size(v));
		break;
	case FREPCTL_CELL_BOOL:
		/* proto3 oneof booleans are omitted when unset, which the
		 * contract reads as their add-time default, true. */
		fputs(v == NULL || json_is_true(v) ? "yes" : "no", m);
		break;
	case FREPCTL_CELL_CRITERIA:
		json_array_foreach(v, i, e)
		{
			fprintf(m, "%s", i > 0 ? " " : "");
			scalar_text(m, json_object_get(e, "type"));
			fputc(':', m);
			scalar_text(m, json_object_get(e, "comparator"));
			fputc(':', m);
			scalar_text(m, json_object_get(e, "values"));
		}
		break;
	case FREPCTL_CELL_TIME:
		if (json_is_integer(v)) {
			time_t    t = (time_t) (json_integer_value(v) / 1000);
			struct tm tm;
			if (gmtime_r(&t, &tm) != NULL) {
				strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
				fputs(buf, m);
			}
		}
		break;
	case FREPCTL_CELL_STATUS:
		if (json_is_integer(v)) {
			fputs(frep_code_name((frep_code) json_integer_value(v)), m);
		}
		break;
	case FREPCTL_CELL_RANGES:
		json_array_foreach(v, i, e)
		{
			fprintf(m, "%s", i > 0 ? " " : "");
			range_text(m, e);
		}
		break;
	}
	fclose(m);
	if (s != NULL && s[0] == '\0') {
		free(s);
		s = strdup("-");
	}
	return s;
}

void
frepctl_table_print(FILE *out, const json_t *rows, const frepctl_column *cols, int indent)
{
	size_t ncols = 0;
	size_t width[MAX_COLUMNS];
	size_t nrows = json_array_size(rows);
	while (cols[ncols].header != NULL && ncols < MAX_COLUMNS) {
		width[ncols] = strlen(cols[ncols].header);
		ncols++;
	}
	if (nrows == 0) {
		fprintf(out, "%*s(none)\n", indent, "");
		return;
	}
	char **cells = calloc(nrows * ncols, sizeof(char *));
	if (cells == NULL) {
		return;
	}
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			char *s              = cell_text(json_array_get(rows, r), &cols[c]);
			cells[r * ncols + c] = s;
			if (s != NULL && strlen(s) > width[c]) {
				width[c] = strlen(s);
			}
		}
	}
	for (size_t r = 0; r <= nrows; r++) {
		fprintf(out, "%*s", indent, "");
		for (size_t c = 0; c < ncols; c++) {
			const char *s = r == 0 ? cols[c].header : cells[(r - 1) * ncols + c];
			s             = s != NULL ? s : "?";
			/* No padding after the last column: no trailing blanks. */
			if (c + 1 == ncols) {
				fprintf(out, "%s\n", s);
			} else {
				fprintf(out, "%-*s  ", (int) width[c], s);
			}
		}
	}
	for (size_t k = 0; k < nrows * ncols; k++) {
		free(cells[k]);
	}
	free(cells);
}

static bool
key_is_seconds(const char *key)
{
	size_t n = strlen(key);
	return n > 2 && strcmp(key + n - 2, "_s") == 0;
}

void
frepctl_table_print_object(FILE *out, const json_t *obj, int indent)
{
	const char *key;
	json_t     *v;
	json_object_foreach((json_t *) obj, key, v)
	{
		if (json_is_object(v)) {
			fprintf(out, "%*s%s:\n", indent, "", key);
			frepctl_table_print_object(out, v, indent + 2);
		} else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
			fprintf(out, "%*s%s:\n", indent, "", key);
			size_t  i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				fprintf(out, "%*s-\n", indent + 2, "");
				frepctl_table_print_object(out, e, indent + 4);
			}
		} else if (json_is_integer(v) && key_is_seconds(key)) {
			char buf[64];
			fprintf(out, "%*s%s: %s\n", indent, "", key,
			    frepctl_duration_format(
				(uint32_t) json_integer_value(v), buf, sizeof(buf)));
		} else {
			char  *s   = NULL;
			size_t len = 0;
			FILE  *m   = open_memstream(&s, &len);
			if (m == NULL) {
				continue;
			}
			scalar_text(m, v);
			fclose(m);
			fprintf(out, "%*s%s: %s\n", indent, "", key, s[0] != '\0' ? s : "-");
			free(s);
		}
	}
}
