/*
 * test.h - a tiny test harness in the style of Dovecot's test-common.
 *
 *	test_begin("name");
 *	test_assert_str(got, want);
 *	test_end();
 *	return test_exit();
 *
 * Failures print file:line with "got ... want ...".  The exit status
 * follows automake's test driver: 0 pass, 1 fail.
 */
#ifndef BOUNCED_TEST_H
#define BOUNCED_TEST_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_name = "";
static bool test_failed_here;

static inline void
test_begin(const char *name)
{
	test_name = name;
	test_failed_here = false;
}

static inline void
test_end(void)
{
	printf("%s %s\n", test_failed_here ? "FAIL" : "ok  ", test_name);
}

static inline void
test_fail(const char *file, int line, const char *what)
{
	test_failures++;
	test_failed_here = true;
	fprintf(stderr, "%s:%d: %s: %s\n", file, line, test_name, what);
}

static inline void
test_check(bool ok, const char *file, int line, const char *expr)
{
	test_checks++;
	if (!ok)
		test_fail(file, line, expr);
}

static inline void
test_check_str(const char *got, const char *want, const char *file, int line)
{
	char buf[1024];

	test_checks++;
	if ((got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0))
		return;
	snprintf(buf, sizeof(buf), "got \"%s\", want \"%s\"",
		 got ? got : "(null)", want ? want : "(null)");
	test_fail(file, line, buf);
}

static inline void
test_check_int(long got, long want, const char *file, int line)
{
	char buf[128];

	test_checks++;
	if (got == want)
		return;
	snprintf(buf, sizeof(buf), "got %ld, want %ld", got, want);
	test_fail(file, line, buf);
}

#define test_assert(expr) test_check((expr), __FILE__, __LINE__, #expr)
#define test_assert_str(got, want)                                             \
	test_check_str((got), (want), __FILE__, __LINE__)
#define test_assert_int(got, want)                                             \
	test_check_int((long)(got), (long)(want), __FILE__, __LINE__)

/* Returns a pseudo-random number below n, advancing *seed (a plain
   linear congruential step: the tests want repeatable cases, not good
   randomness). */
static inline size_t
test_pick(guint32 *seed, size_t n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* Appends count of the n pieces to out, each picked by test_pick(). */
static inline void
test_append_pieces(GString *out, const char *const *pieces, size_t n,
		   size_t count, guint32 *seed)
{
	size_t i;

	for (i = 0; i < count; i++)
		g_string_append(out, pieces[test_pick(seed, n)]);
}

/* Returns the process exit status and prints the totals. */
static inline int
test_exit(void)
{
	printf("%d checks, %d failed\n", test_checks, test_failures);
	if (test_checks == 0)
		return 99;
	return test_failures == 0 ? 0 : 1;
}

#endif
