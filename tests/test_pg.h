/*
 * test_pg.h - for the C tests that need PostgreSQL: when no server is
 * given (PGHOST unset), run the test again under a throwaway cluster of
 * tests/pg.sh, which sets PGHOST and friends.
 */
#ifndef BOUNCED_TEST_PG_H
#define BOUNCED_TEST_PG_H

#include <stdio.h>
#include <unistd.h>
#include <glib.h>

/* Returns when PGHOST is set; else executes `sh tests/pg.sh run argv0`
   (top_srcdir from the environment) and returns 99 only if that fails,
   for main() to return. */
static inline int
test_pg_or_reexec(const char *argv0)
{
	const char *top = g_getenv("top_srcdir");
	char *pg;

	if (g_getenv("PGHOST") != NULL)
		return 0;
	pg = g_build_filename(top != NULL ? top : ".", "tests", "pg.sh", NULL);
	execl("/bin/sh", "sh", pg, "run", argv0, (char *)NULL);
	perror("exec tests/pg.sh");
	g_free(pg);
	return 99;
}

#endif
