/*
 * mailbox.c - what the daemon reads about a mailbox (cursor, recorded
 * keys) and its lease; see mailbox.h.
 */
#include "config.h"

#include <string.h>

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

#define MAILBOX_KEYS_CHUNK 5000 /* keys per query */

/* Runs the statement sql (name) over keys in chunks: $1 shop, $2 mailbox,
   $3 the chunk joined by newlines; adds column 0 -> kind (column 1). */
static int
mailbox_recorded(struct db *db, const char *name, const char *sql,
		 const char *shop_id, const char *mailbox_id,
		 const char *const *keys, guint n, GHashTable *recorded_r,
		 char **error_r)
{
	GString *list = g_string_new(NULL);
	guint i, j;
	int ret = 0;

	for (i = 0; ret == 0 && i < n; i += MAILBOX_KEYS_CHUNK) {
		const char *params[3] = {shop_id, mailbox_id, NULL};
		PGresult *res;
		int k;

		g_string_truncate(list, 0);
		for (j = i; j < n && j < i + MAILBOX_KEYS_CHUNK; j++) {
			if (j > i)
				g_string_append_c(list, '\n');
			g_string_append(list, keys[j]);
		}
		params[2] = list->str;
		if ((res = db_query(db, name, sql, 3, params, error_r)) ==
		    NULL) {
			ret = -1;
			break;
		}
		for (k = 0; k < PQntuples(res); k++)
			g_hash_table_replace(
			    recorded_r, g_strdup(PQgetvalue(res, k, 0)),
			    (gpointer)g_intern_string(PQgetvalue(res, k, 1)));
		PQclear(res);
	}
	g_string_free(list, TRUE);
	return ret;
}

int
mailbox_keys_recorded(struct db *db, const char *shop_id,
		      const char *mailbox_id, const char *const *keys, guint n,
		      GHashTable *recorded_r, char **error_r)
{
	return mailbox_recorded(db, "mailbox_keys_recorded",
				"SELECT msg_key, kind FROM messages WHERE "
				"shop_id = $1 AND mailbox_id = $2 AND msg_key "
				"= ANY (string_to_array($3, E'\\n'))",
				shop_id, mailbox_id, keys, n, recorded_r,
				error_r);
}

int
mailbox_shas_recorded(struct db *db, const char *shop_id,
		      const char *mailbox_id, const char *const *shas, guint n,
		      GHashTable *recorded_r, char **error_r)
{
	return mailbox_recorded(db, "mailbox_shas_recorded",
				"SELECT DISTINCT ON (sha256) sha256, kind FROM "
				"messages WHERE shop_id = $1 AND mailbox_id = "
				"$2 AND sha256 = ANY (string_to_array($3, "
				"E'\\n'))",
				shop_id, mailbox_id, shas, n, recorded_r,
				error_r);
}

int
mailbox_cursor_set(struct db *db, const char *shop_id, const char *mailbox_id,
		   gint64 uidvalidity, gint64 uid, char **error_r)
{
	char v[24], u[24];
	const char *params[4] = {shop_id, mailbox_id, v, u};

	g_snprintf(v, sizeof(v), "%" G_GINT64_FORMAT, uidvalidity);
	g_snprintf(u, sizeof(u), "%" G_GINT64_FORMAT, uid);
	return db_exec(
	    db, "mailbox_cursor_set",
	    "UPDATE mailboxes SET last_uid = CASE WHEN uidvalidity IS "
	    "DISTINCT FROM $3::bigint THEN $4::bigint ELSE greatest(last_uid, "
	    "$4::bigint) END, uidvalidity = $3::bigint, updated_at = now() "
	    "WHERE shop_id = $1 AND mailbox_id = $2",
	    4, params, error_r);
}

/* Who holds the lease of (shop_id, mailbox_id): "OWNER" or "(resting)". */
static char *
mailbox_lease_holder(struct db *db, const char *const *params)
{
	char *error = NULL, *who;
	PGresult *res;

	res = db_query(db, "mailbox_lease_holder",
		       "SELECT coalesce(lease_owner, '(resting)') FROM "
		       "mailboxes WHERE shop_id = $1 AND mailbox_id = $2",
		       2, params, &error);
	if (res == NULL) {
		g_free(error);
		return g_strdup("(unknown)");
	}
	who = g_strdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)
					   : "(unknown)");
	PQclear(res);
	return who;
}

int
mailbox_lease_take(struct db *db, const char *shop_id, const char *mailbox_id,
		   const char *protocol, const char *owner, int seconds,
		   bool ignore_rest, char **holder_r, char **error_r)
{
	char secs[16];
	const char *params[5] = {shop_id, mailbox_id, protocol, owner,
				 ignore_rest ? "t" : "f"};
	PGresult *res;
	int got;

	*holder_r = NULL;
	if (db_exec(db, "mailbox_lease_row",
		    "INSERT INTO mailboxes (shop_id, mailbox_id, protocol) "
		    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		    3, params, error_r) < 0)
		return -1;
	g_snprintf(secs, sizeof(secs), "%d", seconds);
	params[2] = owner;
	params[3] = secs;
	/* The row lock of FOR UPDATE is re-checked against the latest
	   committed version (READ COMMITTED), and SKIP LOCKED passes over a
	   row another instance is taking right now. */
	res = db_query(
	    db, "mailbox_lease_take",
	    "UPDATE mailboxes m SET lease_owner = $3, lease_until = now() + "
	    "$4::int * interval '1 second' FROM (SELECT shop_id, mailbox_id, "
	    "lease_owner AS old FROM mailboxes WHERE shop_id = $1 AND "
	    "mailbox_id = $2 AND (lease_owner = $3 OR lease_until IS NULL OR "
	    "lease_until < now() OR ($5::boolean AND lease_owner IS NULL)) "
	    "FOR UPDATE SKIP LOCKED) f WHERE m.shop_id = f.shop_id AND "
	    "m.mailbox_id = f.mailbox_id RETURNING coalesce(f.old, '')",
	    5, params, error_r);
	if (res == NULL)
		return -1;
	got = PQntuples(res) == 1;
	if (got && *PQgetvalue(res, 0, 0) != '\0' &&
	    strcmp(PQgetvalue(res, 0, 0), owner) != 0)
		*holder_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!got)
		*holder_r = mailbox_lease_holder(db, params);
	return got;
}

int
mailbox_lease_renew(struct db *db, const char *shop_id, const char *mailbox_id,
		    const char *owner, int seconds, char **error_r)
{
	char secs[16];
	const char *params[4] = {shop_id, mailbox_id, owner, secs};
	PGresult *res;
	int got;

	g_snprintf(secs, sizeof(secs), "%d", seconds);
	res = db_query(db, "mailbox_lease_renew",
		       "UPDATE mailboxes SET lease_until = now() + $4::int * "
		       "interval '1 second' WHERE shop_id = $1 AND "
		       "mailbox_id = $2 AND lease_owner = $3 RETURNING 1",
		       4, params, error_r);
	if (res == NULL)
		return -1;
	got = PQntuples(res) == 1;
	PQclear(res);
	return got;
}

int
mailbox_lease_release(struct db *db, const char *shop_id,
		      const char *mailbox_id, const char *owner, int rest,
		      char **error_r)
{
	char secs[16];
	const char *params[4] = {shop_id, mailbox_id, owner, secs};

	g_snprintf(secs, sizeof(secs), "%d", rest);
	return db_exec(db, "mailbox_lease_release",
		       "UPDATE mailboxes SET lease_owner = NULL, lease_until = "
		       "now() + $4::int * interval '1 second' WHERE shop_id = "
		       "$1 AND mailbox_id = $2 AND lease_owner = $3",
		       4, params, error_r);
}
