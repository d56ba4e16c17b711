/*
 * poll_status.c - records how each mailbox's polls went; see
 * poll_status.h.
 *
 * One UPDATE of the mailbox's row, so a record is never half written.
 * The error text is made valid UTF-8 (a server's reply may not be) and
 * cut to POLL_STATUS_ERROR_MAX bytes, so recording never fails on it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "db/poll_status.h"

/* $3 is the error text, NULL for an ok poll. */
static const char poll_status_sql[] =
    "UPDATE mailboxes SET last_poll_at = now(),"
    " last_poll_ok = $3::text IS NULL,"
    " last_poll_recorded = $4::int,"
    " last_success_at = CASE WHEN $3::text IS NULL THEN now()"
    "  ELSE last_success_at END,"
    " last_error = coalesce($3::text, last_error),"
    " last_error_at = CASE WHEN $3::text IS NULL THEN last_error_at"
    "  ELSE now() END,"
    " consecutive_failures = CASE WHEN $3::text IS NULL THEN 0"
    "  ELSE consecutive_failures + 1 END,"
    " polls = polls + 1,"
    " poll_errors = poll_errors + ($3::text IS NOT NULL)::int "
    "WHERE shop_id = $1 AND mailbox_id = $2";

/* The text to store for a failed poll (g_free), or NULL for an ok one. */
static char *
poll_status_text(const char *error, unsigned failed)
{
	char *t;

	if (error == NULL && failed == 0)
		return NULL;
	if (error == NULL)
		return g_strdup_printf("%u message%s not recorded or not moved",
				       failed, failed == 1 ? "" : "s");
	t = g_utf8_make_valid(error, -1);
	if (strlen(t) > POLL_STATUS_ERROR_MAX)
		*g_utf8_find_prev_char(t, t + POLL_STATUS_ERROR_MAX + 1) = '\0';
	return t;
}

int
poll_status_record(struct db *db, const char *shop_id, const char *mailbox_id,
		   const char *error, unsigned recorded, unsigned failed,
		   char **error_r)
{
	char *text = poll_status_text(error, failed), n[16];
	const char *params[4] = {shop_id, mailbox_id, text, n};
	PGresult *res;
	int ret = -1;

	g_snprintf(n, sizeof(n), "%u", MIN(recorded, (unsigned)G_MAXINT));
	res = db_query(db, "poll_status_record", poll_status_sql, 4, params,
		       error_r);
	if (res != NULL) {
		ret = atoi(PQcmdTuples(res)) > 0 ? 1 : 0;
		PQclear(res);
	}
	g_free(text);
	return ret;
}
