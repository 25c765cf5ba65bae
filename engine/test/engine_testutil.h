/*
 * engine_testutil: helpers shared by the engine's cmocka tests (header
 * only, static functions). Include after <cmocka.h>'s prerequisites.
 */
#ifndef FREP_ENGINE_TEST_ENGINE_TESTUTIL_H
#define FREP_ENGINE_TEST_ENGINE_TESTUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "engine.h"
#include "frep_status.h"

#define IP4(a, b, c, d)                                                                            \
	((uint32_t) (a) << 24 | (uint32_t) (b) << 16 | (uint32_t) (c) << 8 | (uint32_t) (d))

/* A temporary directory holding one store. */
typedef struct testdb {
	char    dir[128];
	char    path[160];
	engine *e;
} testdb;

static inline void
testdb_remove_files(testdb *t)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char                     p[192];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, suffixes[i]);
		unlink(p);
	}
}

/* Creates the directory and opens the store; fails the test otherwise. */
static inline testdb *
testdb_open(void)
{
	testdb     *t = calloc(1, sizeof(*t));
	frep_status st;

	assert_non_null(t);
	/* Under $TMPDIR, as every test's temp dir (make test checks that a
	 * run leaves none behind there). */
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	if (snprintf(t->dir, sizeof(t->dir), "%s/frep-engine-XXXXXX", base) >=
	    (int) sizeof(t->dir)) {
		fail_msg("TMPDIR %s: path too long", base);
	}
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/frep.db", t->dir);
	if (engine_open(t->path, NULL, &t->e, &st) != FREP_OK) {
		fail_msg("engine_open: %s: %s", frep_code_name(st.code), st.message);
	}
	return t;
}

static inline void
testdb_reopen(testdb *t)
{
	frep_status st;

	engine_close(t->e);
	t->e = NULL;
	if (engine_open(t->path, NULL, &t->e, &st) != FREP_OK) {
		fail_msg("engine_open: %s: %s", frep_code_name(st.code), st.message);
	}
}

static inline void
testdb_close(testdb *t)
{
	if (t == NULL) {
		return;
	}
	engine_close(t->e);
	testdb_remove_files(t);
	/* Whatever else a test left there too (kea-dhcp4's logger_lockfile,
	 * exported files): the directory must go, or /tmp fills up with
	 * frep-engine-* (issue 11). One level: tests create no subdirectories. */
	DIR *d = opendir(t->dir);
	if (d != NULL) {
		struct dirent *ent;
		while ((ent = readdir(d)) != NULL) {
			if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
				unlinkat(dirfd(d), ent->d_name, 0);
			}
		}
		closedir(d);
	}
	rmdir(t->dir);
	free(t);
}

/* Fails the test unless rc is OK, printing the status. */
#define CHECK_OK(rc, st)                                                                           \
	do {                                                                                       \
		if ((rc) != FREP_OK) {                                                             \
			fail_msg("%s:%d: expected OK, got %s: %s", __FILE__, __LINE__,             \
			    frep_code_name((st).code), (st).message);                              \
		}                                                                                  \
	} while (0)

/* Fails unless rc == code and the message contains each of the given
 * substrings (NULL-terminated list). */
static inline void
check_status_(const char *file, int line, frep_code rc, const frep_status *st, frep_code code, ...)
{
	va_list     ap;
	const char *sub;

	if (rc != code || st->code != code) {
		fail_msg("%s:%d: expected %s, got %s (status %s): %s", file, line,
		    frep_code_name(code), frep_code_name(rc), frep_code_name(st->code),
		    st->message);
	}
	va_start(ap, code);
	while ((sub = va_arg(ap, const char *)) != NULL) {
		if (strstr(st->message, sub) == NULL) {
			va_end(ap);
			fail_msg(
			    "%s:%d: message \"%s\" lacks \"%s\"", file, line, st->message, sub);
		}
	}
	va_end(ap);
}
#define CHECK_STATUS(rc, st, code, ...)                                                            \
	check_status_(__FILE__, __LINE__, (rc), &(st), (code), __VA_ARGS__, (const char *) NULL)

/* Every row of every table of the store at path, as one string, read
 * through a separate connection: equal before and after a refused write
 * proves nothing changed. Caller frees. */
static inline char *
store_dump(const char *path)
{
	sqlite3      *db;
	sqlite3_stmt *tables;
	char         *buf  = NULL;
	size_t        size = 0;
	FILE         *f    = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
			     "SELECT name FROM sqlite_master WHERE type = "
			     "'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
			     -1, &tables, NULL),
	    SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		char          sql[128];
		sqlite3_stmt *rows;
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"",
		    (const char *) sqlite3_column_text(tables, 0));
		fprintf(f, "[%s]\n", sqlite3_column_text(tables, 0));
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
		while (sqlite3_step(rows) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(rows); c++) {
				const unsigned char *v = sqlite3_column_text(rows, c);
				fprintf(f, "%s|", v != NULL ? (const char *) v : "NULL");
			}
			fputc('\n', f);
		}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	fclose(f);
	return buf;
}

/* A /24 scope 10.0.<n>.0 with range .10-.200. */
static inline engine_scope
scope24(int n, const char *name)
{
	engine_scope s = {
	    .scope_id    = IP4(10, 0, n, 0),
	    .subnet_mask = IP4(255, 255, 255, 0),
	    .name        = (char *) name,
	    .start_range = IP4(10, 0, n, 10),
	    .end_range   = IP4(10, 0, n, 200),
	};
	return s;
}

static inline void
add_scope24(engine *e, int n, const char *name)
{
	engine_scope s = scope24(n, name);
	frep_status  st;
	frep_code    rc = engine_scope_add(e, &s, NULL, &st);
	CHECK_OK(rc, st);
}

#endif /* FREP_ENGINE_TEST_ENGINE_TESTUTIL_H */
