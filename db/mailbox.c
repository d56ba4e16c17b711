/*
 * mailbox.c - the mailbox cursor as the daemon reads it; see mailbox.h.
 */
#include "config.h"

#include "db/mailbox.h"

int
mailbox_cursor_get(struct db *db, const char *shop_id, const char *mailbox_id,
		   gint64 *uidvalidity_r, gint64 *last_uid_r, char **error_r)
{
	const char *params[2] = {shop_id, mailbox_id};
	PGresult *res;

	*uidvalidity_r = 0;
	*last_uid_r = 0;
	res = db_query(db, "mailbox_cursor_get",
		       "SELECT coalesce(uidvalidity, 0), last_uid FROM "
		       "mailboxes WHERE shop_id = $1 AND mailbox_id = $2",
		       2, params, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*uidvalidity_r =
		    g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*last_uid_r = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return 0;
}
