/*
 * outbox.c - notifier queries; see outbox.h.
 *
 * Lists go to PostgreSQL as text the server splits (addresses joined by
 * newlines, which valid addresses never contain; ids as an integer array
 * literal built from integers), never as SQL text.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db/outbox.h"

static char *
outbox_str(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
					  : g_strdup(PQgetvalue(res, row, col));
}

static gint64
outbox_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* "{1,2,3}"; g_free. */
static char *
outbox_ids(const gint64 *ids, size_t n)
{
	GString *s = g_string_new("{");
	size_t i;

	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "," : "",
				       ids[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

void
outbox_shop_free(gpointer p)
{
	struct outbox_shop *s = p;

	g_free(s->id);
	g_free(s->name);
	g_strfreev(s->notify);
	g_free(s);
}

void
outbox_row_free(gpointer p)
{
	struct outbox_row *r = p;

	g_free(r->kind);
	g_free(r->recipient);
	g_free(r->address);
	g_free(r->reason);
	g_free(r->side);
	g_free(r->status);
	g_free(r->diagnostic);
	g_free(r->remote_mta);
	g_free(r->order_number);
	g_free(r->mail_type);
	g_free(r->decision);
	g_free(r->orig_subject);
	g_free(r->orig_from);
	g_free(r->provider);
	g_free(r);
}

void
outbox_notice_free(struct outbox_notice **n)
{
	if (n == NULL || *n == NULL)
		return;
	g_free((*n)->shop_id);
	g_free((*n)->message_id);
	g_strfreev((*n)->rcpts);
	g_free((*n)->env_from);
	g_free((*n)->data);
	g_free(*n);
	*n = NULL;
}

int
outbox_shops(struct db *db, GPtrArray **shops_r, char **error_r)
{
	PGresult *res;
	int i;

	res = db_query(db, "outbox_shops",
		       "SELECT s.shop_id, s.name, array_to_string(s.notify, "
		       "E'\\n') FROM shops s WHERE EXISTS (SELECT 1 FROM "
		       "notify_outbox o WHERE o.shop_id = s.shop_id AND "
		       "o.notice_id IS NULL AND o.sent_at IS NULL AND "
		       "o.failed_at IS NULL) ORDER BY s.shop_id",
		       0, NULL, error_r);
	if (res == NULL)
		return -1;
	*shops_r = g_ptr_array_new_with_free_func(outbox_shop_free);
	for (i = 0; i < PQntuples(res); i++) {
		struct outbox_shop *s = g_new0(struct outbox_shop, 1);
		const char *n = PQgetvalue(res, i, 2);

		s->id = outbox_str(res, i, 0);
		s->name = outbox_str(res, i, 1);
		s->notify =
		    *n != '\0' ? g_strsplit(n, "\n", -1) : g_new0(char *, 1);
		g_ptr_array_add(*shops_r, s);
	}
	PQclear(res);
	return 0;
}

int
outbox_pending(struct db *db, const char *shop_id, int limit,
	       GPtrArray **rows_r, char **error_r)
{
	char lim[16];
	const char *params[2] = {shop_id, lim};
	PGresult *res;
	int i;

	g_snprintf(lim, sizeof(lim), "%d", limit);
	res = db_query(
	    db, "outbox_pending",
	    "SELECT o.outbox_id, o.kind, o.result_id, "
	    "floor(extract(epoch FROM o.created_at))::bigint, r.recipient, "
	    "r.address, r.reason, r.side, r.status, r.diagnostic, "
	    "r.remote_mta, r.order_number, r.mail_type, r.decision, "
	    "m.orig_subject, m.orig_from, a.provider, "
	    "floor(extract(epoch FROM r.occurred_at))::bigint "
	    "FROM notify_outbox o "
	    "LEFT JOIN results r ON r.shop_id = o.shop_id AND "
	    "r.result_id = o.result_id "
	    "LEFT JOIN messages m ON m.shop_id = r.message_shop_id AND "
	    "m.message_id = r.message_id "
	    "LEFT JOIN LATERAL (SELECT provider FROM shop_alerts x WHERE "
	    "x.shop_id = o.shop_id AND x.result_id = o.result_id LIMIT 1) a "
	    "ON true "
	    "WHERE o.shop_id = $1 AND o.notice_id IS NULL AND o.sent_at IS "
	    "NULL AND o.failed_at IS NULL ORDER BY o.outbox_id "
	    "LIMIT $2::int FOR UPDATE OF o SKIP LOCKED",
	    2, params, error_r);
	if (res == NULL)
		return -1;
	*rows_r = g_ptr_array_new_with_free_func(outbox_row_free);
	for (i = 0; i < PQntuples(res); i++) {
		struct outbox_row *r = g_new0(struct outbox_row, 1);

		r->outbox_id = outbox_int(res, i, 0);
		r->kind = outbox_str(res, i, 1);
		r->result_id = outbox_int(res, i, 2);
		r->created_at = outbox_int(res, i, 3);
		r->recipient = outbox_str(res, i, 4);
		r->address = outbox_str(res, i, 5);
		r->reason = outbox_str(res, i, 6);
		r->side = outbox_str(res, i, 7);
		r->status = outbox_str(res, i, 8);
		r->diagnostic = outbox_str(res, i, 9);
		r->remote_mta = outbox_str(res, i, 10);
		r->order_number = outbox_str(res, i, 11);
		r->mail_type = outbox_str(res, i, 12);
		r->decision = outbox_str(res, i, 13);
		r->orig_subject = outbox_str(res, i, 14);
		r->orig_from = outbox_str(res, i, 15);
		r->provider = outbox_str(res, i, 16);
		r->occurred_at = outbox_int(res, i, 17);
		if (r->occurred_at == 0)
			r->occurred_at = r->created_at;
		g_ptr_array_add(*rows_r, r);
	}
	PQclear(res);
	return 0;
}

int
outbox_recent(struct db *db, const char *shop_id, int *failures_r,
	      gint64 *since_digest_r, char **error_r)
{
	const char *params[1] = {shop_id};
	PGresult *res;

	res = db_query(
	    db, "outbox_recent",
	    /* two lookups in notify_notices_recent (shop_id, kind,
	       created_at), not a scan of every notice the shop had */
	    "SELECT (SELECT count(*) FROM notify_notices WHERE shop_id = $1 "
	    "AND kind = 'failure' AND created_at > now() - interval "
	    "'1 hour'), floor(extract(epoch FROM now() - (SELECT "
	    "max(created_at) FROM notify_notices WHERE shop_id = $1 AND "
	    "kind = 'digest')))::bigint",
	    1, params, error_r);
	if (res == NULL)
		return -1;
	*failures_r = (int)outbox_int(res, 0, 0);
	*since_digest_r = PQgetisnull(res, 0, 1) ? -1 : outbox_int(res, 0, 1);
	PQclear(res);
	return 0;
}

int
outbox_alert_recent(struct db *db, const char *shop_id, const char *key,
		    int minutes, bool *recent_r, char **error_r)
{
	char m[16];
	const char *params[3] = {shop_id, key, m};
	PGresult *res;

	g_snprintf(m, sizeof(m), "%d", minutes);
	res = db_query(db, "outbox_alert_recent",
		       "SELECT 1 FROM notify_notices WHERE shop_id = $1 AND "
		       "kind = 'alert' AND alert_key = $2 AND created_at > "
		       "now() - make_interval(mins => $3::int) LIMIT 1",
		       3, params, error_r);
	if (res == NULL)
		return -1;
	*recent_r = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int
outbox_notice_add(struct db *db, const char *shop_id, const char *kind,
		  const char *alert_key, const char *const *rcpts,
		  const char *env_from, const char *from_addr,
		  const char *message_id, const char *data, size_t len,
		  const gint64 *ids, size_t n, char **error_r)
{
	char *to = g_strjoinv("\n", (char **)rcpts), *idl = outbox_ids(ids, n);
	char *from = g_ascii_strdown(from_addr, -1), items[16];
	const char *params[10] = {shop_id, message_id, kind, alert_key, items,
				  to,      env_from,   from, data,      idl};
	int lengths[10] = {0}, formats[10] = {0};
	PGresult *res;
	int ret = -1;

	g_snprintf(items, sizeof(items), "%zu", n);
	lengths[8] = (int)len;
	formats[8] = 1;
	res = db_query_bin(
	    db, "outbox_notice_add",
	    "WITH n AS (INSERT INTO notify_notices (shop_id, message_id, "
	    "kind, alert_key, items, rcpts, env_from, from_addr, raw) VALUES "
	    "($1, $2, $3, $4, $5::int, string_to_array($6, E'\\n'), $7, $8, "
	    "$9) RETURNING notice_id) UPDATE notify_outbox o SET notice_id = "
	    "n.notice_id FROM n WHERE o.shop_id = $1 AND o.outbox_id = "
	    "ANY($10::bigint[]) RETURNING o.outbox_id",
	    10, params, lengths, formats, error_r);
	if (res != NULL) {
		if ((size_t)PQntuples(res) == n)
			ret = 0;
		else
			*error_r = g_strdup_printf(
			    "notice %s: %d of %zu outbox rows assigned",
			    message_id, PQntuples(res), n);
		PQclear(res);
	}
	g_free(to);
	g_free(idl);
	g_free(from);
	return ret;
}

int
outbox_drop(struct db *db, const char *shop_id, const gint64 *ids, size_t n,
	    const char *why, char **error_r)
{
	char *idl = outbox_ids(ids, n);
	const char *params[3] = {shop_id, idl, why};
	int ret;

	ret = db_exec(db, "outbox_drop",
		      "UPDATE notify_outbox SET failed_at = now(), last_error "
		      "= $3 WHERE shop_id = $1 AND outbox_id = "
		      "ANY($2::bigint[])",
		      3, params, error_r);
	g_free(idl);
	return ret;
}

int
outbox_notice_next(struct db *db, struct outbox_notice **notice_r,
		   char **error_r)
{
	struct outbox_notice *n;
	PGresult *res;
	unsigned char *raw;
	size_t len = 0;

	*notice_r = NULL;
	res = db_query(
	    db, "outbox_notice_next",
	    "SELECT shop_id, notice_id, message_id, array_to_string(rcpts, "
	    "E'\\n'), env_from, raw, attempts, "
	    "floor(extract(epoch FROM created_at))::bigint "
	    "FROM notify_notices WHERE state = 'queued' AND next_attempt_at "
	    "<= now() ORDER BY next_attempt_at, notice_id LIMIT 1 "
	    "FOR UPDATE SKIP LOCKED",
	    0, NULL, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	raw =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 5), &len);
	n = g_new0(struct outbox_notice, 1);
	n->shop_id = outbox_str(res, 0, 0);
	n->notice_id = outbox_int(res, 0, 1);
	n->message_id = outbox_str(res, 0, 2);
	n->rcpts = g_strsplit(PQgetvalue(res, 0, 3), "\n", -1);
	n->env_from = outbox_str(res, 0, 4);
	n->data = g_strndup(raw != NULL ? (const char *)raw : "", len);
	n->len = raw != NULL ? len : 0;
	n->attempts = (int)outbox_int(res, 0, 6);
	n->created_at = outbox_int(res, 0, 7);
	PQfreemem(raw);
	PQclear(res);
	*notice_r = n;
	return 1;
}

/* Updates the notice and its rows with one of three outcomes. */
static int
outbox_outcome(struct db *db, const struct outbox_notice *n, const char *state,
	       int delay, const char *why, char **error_r)
{
	char id[24], d[16];
	const char *params[5] = {n->shop_id, id, state, d, why};

	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, n->notice_id);
	g_snprintf(d, sizeof(d), "%d", delay);
	if (db_exec(db, "outbox_outcome_notice",
		    "UPDATE notify_notices SET state = $3, attempts = "
		    "attempts + 1, last_error = $5, next_attempt_at = now() + "
		    "make_interval(secs => $4::int), sent_at = CASE WHEN $3 = "
		    "'sent' THEN now() END WHERE shop_id = $1 AND notice_id = "
		    "$2::bigint",
		    5, params, error_r) < 0)
		return -1;
	return db_exec(
	    db, "outbox_outcome_rows",
	    "UPDATE notify_outbox SET attempts = attempts + 1, "
	    "last_error = $5, sent_at = CASE WHEN $3 = 'sent' THEN "
	    "now() END, failed_at = CASE WHEN $3 = 'failed' THEN "
	    "now() END WHERE shop_id = $1 AND notice_id = $2::bigint "
	    "AND $4::int >= 0",
	    5, params, error_r);
}

int
outbox_notice_sent(struct db *db, const struct outbox_notice *n,
		   const char *warning, char **error_r)
{
	return outbox_outcome(db, n, "sent", 0, warning, error_r);
}

int
outbox_notice_retry(struct db *db, const struct outbox_notice *n, int delay,
		    const char *why, char **error_r)
{
	return outbox_outcome(db, n, "queued", delay, why, error_r);
}

int
outbox_notice_failed(struct db *db, const struct outbox_notice *n,
		     const char *why, char **error_r)
{
	return outbox_outcome(db, n, "failed", 0, why, error_r);
}
