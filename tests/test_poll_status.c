/*
 * test_poll_status.c - poll_status_record() (db/poll_status.h) and what
 * query_stats() (db/stats.h) makes of it, against a real PostgreSQL
 * (tests/pg.sh starts a throwaway cluster when PGHOST is not given; exit
 * 77 only when the server binaries are absent): ok polls, failed polls,
 * per-message failures, the run of failures and its reset, the error
 * kept after a success, text that is not UTF-8 or too long, a mailbox
 * without a row, a shop's row over its mailboxes, and the column names
 * the enum stats_col promises.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "db/db.h"
#include "db/poll_status.h"
#include "db/stats.h"
#include "tests/test.h"
#include "tests/test_pg.h"

static struct db *db;

static void
die(const char *what, char *error)
{
	fprintf(stderr, "test_poll_status: %s: %s\n", what, error);
	g_free(error);
	exit(99);
}

static void
sql(const char *text)
{
	char *error = NULL;

	if (db_exec(db, NULL, text, 0, NULL, &error) < 0)
		die(text, error);
}

/* One value of the mailbox's row as SQL text ("" for NULL; g_free). */
static char *
column(const char *mailbox, const char *expr)
{
	const char *params[1] = {mailbox};
	char *q = g_strdup_printf("SELECT coalesce((%s)::text, '') FROM "
				  "mailboxes WHERE shop_id = 'shop1' AND "
				  "mailbox_id = $1",
				  expr);
	char *error = NULL, *v;
	PGresult *res = db_query(db, NULL, q, 1, params, &error);

	if (res == NULL)
		die(q, error);
	v = g_strdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "(no row)");
	PQclear(res);
	g_free(q);
	return v;
}

#define test_column(mailbox, expr, want)                                       \
	do {                                                                   \
		char *v_ = column(mailbox, expr);                              \
		test_assert_str(v_, want);                                     \
		g_free(v_);                                                    \
	} while (0)

/* Records and checks that the row was there. */
static void
record(const char *mailbox, const char *error, unsigned recorded,
       unsigned failed)
{
	char *e = NULL;

	test_assert_int(poll_status_record(db, "shop1", mailbox, error,
					   recorded, failed, &e),
			1);
	if (e != NULL)
		die("poll_status_record", e);
}

static void
test_never_polled(void)
{
	test_begin("a mailbox never polled");
	test_column("box", "last_poll_at", "");
	test_column("box", "last_poll_ok", "");
	test_column("box", "polls || '/' || poll_errors", "0/0");
	test_column("box", "consecutive_failures", "0");
	test_end();
}

static void
test_ok_then_errors(void)
{
	test_begin("ok, failed, failed messages, ok again");
	record("box", NULL, 3, 0);
	test_column("box", "last_poll_ok", "true");
	test_column("box", "last_poll_recorded", "3");
	test_column("box", "last_poll_at = last_success_at", "true");
	test_column("box", "last_poll_at > now() - interval '1 minute'",
		    "true");
	test_column("box", "last_error", "");
	record("box", "LOGIN: NO [AUTHENTICATIONFAILED] (user shop@x)", 0, 0);
	test_column("box", "last_poll_ok", "false");
	test_column("box", "last_error",
		    "LOGIN: NO [AUTHENTICATIONFAILED] (user shop@x)");
	test_column("box", "last_error_at = last_poll_at", "true");
	test_column("box", "consecutive_failures", "1");
	test_column("box", "last_success_at IS NOT NULL", "true");
	record("box", NULL, 5, 2);
	test_column("box", "last_poll_ok", "false");
	test_column("box", "last_poll_recorded", "5");
	test_column("box", "last_error",
		    "2 messages not recorded or not moved");
	test_column("box", "consecutive_failures", "2");
	record("box", NULL, 0, 1);
	test_column("box", "last_error", "1 message not recorded or not moved");
	record("box", NULL, 0, 0);
	test_column("box", "last_poll_ok", "true");
	test_column("box", "consecutive_failures", "0");
	test_column("box", "polls || '/' || poll_errors", "5/3");
	test_column("box", "last_error", "1 message not recorded or not moved");
	test_column("box", "last_error_at < last_success_at", "true");
	test_end();
}

static void
test_text(void)
{
	GString *long_text = g_string_new("\xff garbled: ");
	char *e = NULL;

	test_begin("error text: made UTF-8, cut at a character");
	while (long_text->len < 3 * POLL_STATUS_ERROR_MAX)
		g_string_append(long_text, "あ");
	record("box2", long_text->str, 0, 0);
	test_column("box2", "octet_length(last_error) <= 1000", "true");
	test_column("box2", "octet_length(last_error) > 990", "true");
	test_column("box2", "last_error LIKE '\uFFFD garbled: あああ%'",
		    "true");
	test_column("box2", "right(last_error, 1)", "あ");
	test_end();
	g_string_free(long_text, TRUE);

	test_begin("a mailbox without a row");
	test_assert_int(
	    poll_status_record(db, "shop1", "nosuch", NULL, 0, 0, &e), 0);
	test_assert(e == NULL);
	test_end();
}

/* The row of query_stats() for mailbox ("" for the shop's). */
static int
stats_row(const PGresult *res, const char *mailbox)
{
	int r;

	for (r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, STATS_MAILBOX), mailbox) == 0)
			return r;
	return -1;
}

static void
test_stats_columns(const PGresult *res)
{
	static const struct {
		int col;
		const char *name;
	} names[] = {{STATS_LEASE_UNTIL, "lease_until"},
		     {STATS_LAST_POLL, "last_poll"},
		     {STATS_LAST_POLL_RESULT, "last_poll_result"},
		     {STATS_LAST_POLL_RECORDED, "last_poll_recorded"},
		     {STATS_LAST_SUCCESS, "last_success"},
		     {STATS_CONSECUTIVE_FAILURES, "consecutive_failures"},
		     {STATS_POLLS, "polls"},
		     {STATS_POLL_ERRORS, "poll_errors"},
		     {STATS_LAST_ERROR, "last_error"},
		     {STATS_LAST_ERROR_AT, "last_error_at"}};
	size_t i;

	test_assert_int(PQnfields(res), STATS_NCOLS);
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		test_assert_str(PQfname(res, names[i].col), names[i].name);
}

static void
test_stats(void)
{
	char *error = NULL;
	PGresult *res;
	int b, b2, nb, shop;

	test_begin("bouncectl stats: per mailbox and per shop");
	if ((res = query_stats(db, "shop1", STATS_TEXT, &error)) == NULL)
		die("query_stats", error);
	test_stats_columns(res);
	b = stats_row(res, "box");
	b2 = stats_row(res, "box2");
	nb = stats_row(res, "never");
	shop = stats_row(res, "");
	test_assert(b >= 0 && b2 >= 0 && nb >= 0 && shop >= 0);
	if (b < 0 || b2 < 0 || nb < 0 || shop < 0) {
		PQclear(res);
		test_end();
		return;
	}
	test_assert_str(PQgetvalue(res, b, STATS_LAST_POLL_RESULT), "ok");
	test_assert_str(PQgetvalue(res, b, STATS_POLLS), "5");
	test_assert_str(PQgetvalue(res, b, STATS_POLL_ERRORS), "3");
	test_assert_str(PQgetvalue(res, b, STATS_CONSECUTIVE_FAILURES), "0");
	test_assert_str(PQgetvalue(res, b, STATS_LAST_ERROR),
			"1 message not recorded or not moved");
	test_assert_int(strlen(PQgetvalue(res, b, STATS_LAST_POLL)), 19);
	test_assert_str(PQgetvalue(res, b2, STATS_LAST_POLL_RESULT), "error");
	test_assert_str(PQgetvalue(res, b2, STATS_CONSECUTIVE_FAILURES), "1");
	test_assert(PQgetisnull(res, b2, STATS_LAST_SUCCESS));
	test_assert(PQgetisnull(res, nb, STATS_LAST_POLL));
	test_assert(PQgetisnull(res, nb, STATS_LAST_POLL_RESULT));
	test_assert_str(PQgetvalue(res, nb, STATS_POLLS), "0");
	/* the shop: any mailbox failing is an error; sums; newest error */
	test_assert_str(PQgetvalue(res, shop, STATS_LAST_POLL_RESULT), "error");
	test_assert_str(PQgetvalue(res, shop, STATS_POLLS), "6");
	test_assert_str(PQgetvalue(res, shop, STATS_POLL_ERRORS), "4");
	test_assert_str(PQgetvalue(res, shop, STATS_CONSECUTIVE_FAILURES), "1");
	test_assert_str(PQgetvalue(res, shop, STATS_LAST_ERROR),
			PQgetvalue(res, b2, STATS_LAST_ERROR));
	test_assert_str(PQgetvalue(res, shop, STATS_LAST_POLL),
			PQgetvalue(res, b2, STATS_LAST_POLL));
	PQclear(res);
	if ((res = query_stats(db, "shop1", STATS_METRICS, &error)) == NULL)
		die("query_stats", error);
	b = stats_row(res, "box");
	test_assert(b >= 0 && strspn(PQgetvalue(res, b, STATS_LAST_POLL),
				     "0123456789") == 10);
	PQclear(res);
	test_end();
}

/* Creates a fresh database, migrates it, adds shop1 and its mailboxes. */
static void
setup(void)
{
	struct db *admin = NULL;
	char *error = NULL, *name, *create, *conninfo;
	int applied;

	if (db_open("dbname=postgres", &admin, &error) < 0)
		die("connect", error);
	name = g_strdup_printf("bounced_poll_status_%d", (int)getpid());
	create = g_strdup_printf("CREATE DATABASE %s", name);
	if (db_exec(admin, NULL, create, 0, NULL, &error) < 0)
		die(create, error);
	db_close(&admin);
	conninfo = g_strdup_printf("dbname=%s", name);
	if (db_open(conninfo, &db, &error) < 0)
		die("connect", error);
	if (db_migrate(db, &applied, &error) < 0)
		die("migrate", error);
	sql("INSERT INTO shops (shop_id) VALUES ('shop1')");
	sql("INSERT INTO mailboxes (shop_id, mailbox_id, protocol) VALUES "
	    "('shop1', 'box', 'imap'), ('shop1', 'box2', 'pop3'), "
	    "('shop1', 'never', 'maildir')");
	g_free(conninfo);
	g_free(name);
	g_free(create);
}

int
main(int argc, char **argv)
{
	(void)argc;
	if (test_pg_or_reexec(argv[0]) != 0)
		return 99;
	setup();
	test_never_polled();
	test_ok_then_errors();
	test_text();
	test_stats();
	db_close(&db);
	return test_exit();
}
