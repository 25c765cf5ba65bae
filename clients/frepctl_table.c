/*
 * frepctl_table: output for people, drawn from the same JSON that --json
 * prints (built with short enum names), so the two never disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libsmartcols/libsmartcols.h>

#include "frepctl_internal.h"

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

/* Tables through util-linux's libsmartcols, which aligns by display width
 * (multi-byte and wide characters), not by bytes. Two spaces between
 * columns, no padding after the last one, no truncation to the terminal's
 * width (the same text on a terminal and in a pipe). */
void
frepctl_table_print(FILE *out, const json_t *rows, const frepctl_column *cols, int indent)
{
	struct libscols_table *tb;
	size_t                 ncols = 0;
	size_t                 nrows = json_array_size(rows);
	char                  *text  = NULL;

	if (nrows == 0) {
		fprintf(out, "%*s(none)\n", indent, "");
		return;
	}
	if ((tb = scols_new_table()) == NULL) {
		fprintf(stderr, "frepctl: out of memory printing a table\n");
		return;
	}
	scols_table_set_column_separator(tb, "  ");
	scols_table_set_termforce(tb, SCOLS_TERMFORCE_NEVER);
	while (cols[ncols].header != NULL) {
		if (scols_table_new_column(tb, cols[ncols].header, 0, 0) == NULL) {
			goto fail;
		}
		ncols++;
	}
	for (size_t r = 0; r < nrows; r++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		if (ln == NULL) {
			goto fail;
		}
		for (size_t c = 0; c < ncols; c++) {
			char *cell = cell_text(json_array_get(rows, r), &cols[c]);
			/* The line takes the string (freed with the table). */
			if (cell == NULL || scols_line_refer_data(ln, c, cell) != 0) {
				free(cell);
				goto fail;
			}
		}
	}
	if (scols_print_table_to_string(tb, &text) != 0 || text == NULL) {
		goto fail;
	}
	for (char *line = text, *nl; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL) {
			fprintf(out, "%*s%s\n", indent, "", line);
			break;
		}
		fprintf(out, "%*s%.*s\n", indent, "", (int) (nl - line), line);
	}
	free(text);
	scols_unref_table(tb);
	return;
fail:
	fprintf(stderr, "frepctl: out of memory printing a table\n");
	scols_unref_table(tb);
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
