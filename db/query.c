/*
 * query.c - lookups, reports, suppression list, shops; see query.h.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "db/addr.h"
#include "db/query.h"

PGresult *
query_lookup_order(struct db *db, const char *order, const char *shop,
		   char **error_r)
{
	const char *params[2] = {order, shop};

	return db_query(
	    db, NULL,
	    "SELECT shop_id, order_number, mail_type, "
	    "recipient, to_char(occurred_at AT TIME ZONE 'Asia/Tokyo', "
	    "'YYYY-MM-DD HH24:MI:SS') AS time_jst, kind, action, reason, side, "
	    "status, replycode, diagnostic, remote_mta, counted, decision, "
	    "consecutive, suppressed_at, suppressed_rule, would_suppress_at "
	    "FROM failures_by_order WHERE order_number = $1 AND "
	    "($2::text IS NULL OR shop_id = $2) ORDER BY occurred_at, "
	    "result_id",
	    2, params, error_r);
}

PGresult *
query_report(struct db *db, const char *shop, const char *since,
	     const char *until, char **error_r)
{
	const char *params[3] = {shop, since, until};

	return db_query(
	    db, NULL,
	    "SELECT to_char(occurred_at AT TIME ZONE "
	    "'Asia/Tokyo', 'YYYY-MM-DD HH24:MI:SS') AS time_jst, "
	    "order_number, mail_type, recipient, reason, side, status, "
	    "replycode, diagnostic, counted, decision, consecutive, "
	    "suppressed_at IS NOT NULL AS suppressed, suppressed_rule "
	    "FROM undeliverable_report WHERE shop_id = $1 AND "
	    "($2::timestamptz IS NULL OR occurred_at >= $2::timestamptz) AND "
	    "($3::timestamptz IS NULL OR occurred_at < $3::timestamptz) "
	    "ORDER BY occurred_at, result_id",
	    3, params, error_r);
}

PGresult *
query_suppression_list(struct db *db, const char *shop, char **error_r)
{
	const char *params[1] = {shop};

	return db_query(
	    db, NULL,
	    "SELECT shop_id, address, suppressed_at, "
	    "suppressed_rule, reason, status, order_number, mail_type, "
	    "diagnostic FROM suppression_list WHERE ($1::text IS NULL OR "
	    "shop_id = $1) ORDER BY shop_id, suppressed_at, address",
	    1, params, error_r);
}

PGresult *
query_suppression_check(struct db *db, const char *address, const char *shop,
			char **error_r)
{
	char *norm = NULL;
	PGresult *res;

	if (addr_normalize(address, &norm, NULL, error_r) < 0)
		return NULL;
	{
		const char *params[2] = {norm, shop};

		res = db_query(
		    db, NULL,
		    "SELECT shop_id, address, "
		    "suppressed_at IS NOT NULL AS suppressed, suppressed_at, "
		    "suppressed_rule, consecutive, last_failure_at, "
		    "last_success_at, would_suppress_at FROM recipient_state "
		    "WHERE address = $1 AND ($2::text IS NULL OR shop_id = $2) "
		    "ORDER BY shop_id",
		    2, params, error_r);
	}
	g_free(norm);
	return res;
}

int
query_suppression_remove(struct db *db, const char *address, const char *shop,
			 const char *reason, const char *actor, char **error_r)
{
	char *norm = NULL;
	PGresult *res;
	int n;

	if (reason == NULL || *reason == '\0') {
		*error_r = g_strdup("a reason is required (--reason TEXT): it "
				    "goes into the audit log");
		return -1;
	}
	if (addr_normalize(address, &norm, NULL, error_r) < 0)
		return -1;
	{
		const char *params[4] = {norm, shop, actor, reason};

		/* one statement: the update and its audit rows commit
		   together */
		res = db_query(
		    db, NULL,
		    "WITH old AS (SELECT shop_id, address, "
		    "suppressed_at, suppressed_rule, suppressed_result, "
		    "consecutive FROM recipient_state WHERE address = $1 AND "
		    "($2::text IS NULL OR shop_id = $2) AND suppressed_at IS "
		    "NOT NULL FOR UPDATE), upd AS (UPDATE recipient_state s "
		    "SET "
		    "suppressed_at = NULL, suppressed_rule = NULL, "
		    "suppressed_result = NULL, would_suppress_at = NULL, "
		    "would_suppress_rule = NULL, consecutive = 0, "
		    "last_success_at = now(), last_success_why = "
		    "'removed from the suppression list', updated_at = now() "
		    "FROM old WHERE s.shop_id = old.shop_id AND "
		    "s.address = old.address RETURNING s.shop_id) "
		    "INSERT INTO audit_log (shop_id, actor, action, address, "
		    "reason, details) SELECT old.shop_id, $3, 'unsuppress', "
		    "old.address, $4, jsonb_build_object('suppressed_at', "
		    "old.suppressed_at, 'suppressed_rule', "
		    "old.suppressed_rule, "
		    "'suppressed_result', old.suppressed_result, "
		    "'consecutive', "
		    "old.consecutive) FROM old JOIN upd ON upd.shop_id = "
		    "old.shop_id RETURNING shop_id",
		    4, params, error_r);
	}
	g_free(norm);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

int
query_shop_upsert(struct db *db, const struct query_shop *s, const char *actor,
		  bool *created_r, char **error_r)
{
	char strike[16], grace[16], stale[16];
	const char *params[11];
	PGresult *res;

	g_snprintf(strike, sizeof(strike), "%d", s->strike_limit);
	g_snprintf(grace, sizeof(grace), "%d", s->grace_days);
	g_snprintf(stale, sizeof(stale), "%d", s->stale_days);
	params[0] = s->id;
	params[1] = s->name;
	params[2] = s->notify;
	params[3] = s->domains;
	params[4] = s->fatal_reasons;
	params[5] = s->strike_limit > 0 ? strike : NULL;
	params[6] = s->grace_days >= 0 ? grace : NULL;
	params[7] = s->stale_days > 0 ? stale : NULL;
	params[8] = s->dry_run < 0 ? NULL : s->dry_run ? "t" : "f";
	params[9] = actor;
	params[10] = NULL;
	res = db_query(
	    db, NULL,
	    "WITH up AS (INSERT INTO shops AS s (shop_id, "
	    "name, notify, sender_domains, fatal_reasons, strike_limit, "
	    "grace_days, stale_days, dry_run) VALUES ($1, coalesce($2, $1), "
	    "coalesce(string_to_array($3, E'\\n'), '{}'), coalesce($4, ''), "
	    "coalesce(string_to_array($5, E'\\n'), '{userunknown,hostunknown,"
	    "hasmoved,notaccept,feedback}'), coalesce($6::int, 4), "
	    "coalesce($7::int, 5), coalesce($8::int, 30), "
	    "coalesce($9::boolean, false)) ON CONFLICT (shop_id) DO UPDATE SET "
	    "name = coalesce($2, s.name), notify = coalesce(string_to_array("
	    "$3, E'\\n'), s.notify), sender_domains = coalesce($4, "
	    "s.sender_domains), fatal_reasons = coalesce(string_to_array($5, "
	    "E'\\n'), s.fatal_reasons), strike_limit = coalesce($6::int, "
	    "s.strike_limit), grace_days = coalesce($7::int, s.grace_days), "
	    "stale_days = coalesce($8::int, s.stale_days), dry_run = "
	    "coalesce($9::boolean, s.dry_run), updated_at = now() "
	    "RETURNING (xmax = 0) AS created, to_jsonb(s) AS settings) "
	    "INSERT INTO audit_log (shop_id, actor, action, reason, details) "
	    "SELECT $1, $10, CASE WHEN created THEN 'shop add' ELSE "
	    "'shop update' END, 'shop settings', settings FROM up "
	    "RETURNING action",
	    10, params, error_r);
	if (res == NULL) {
		if (strcmp(db_last_sqlstate(db), "23514") == 0) {
			g_free(*error_r);
			*error_r = g_strdup_printf(
			    "shop '%s': invalid "
			    "setting (id: letters, digits, _ . -; "
			    "strike_limit 1-100, grace_days 0-365, stale_days "
			    "1-3650)",
			    s->id);
		}
		return -1;
	}
	if (created_r != NULL)
		*created_r = strcmp(PQgetvalue(res, 0, 0), "shop add") == 0;
	PQclear(res);
	return 0;
}

PGresult *
query_shop_list(struct db *db, char **error_r)
{
	return db_query(
	    db, NULL,
	    "SELECT shop_id, name, "
	    "replace(sender_domains, E'\\n', ',') AS sender_domains, "
	    "array_to_string(notify, ',') AS notify, strike_limit, "
	    "grace_days, stale_days, dry_run, "
	    "array_to_string(fatal_reasons, ',') AS fatal_reasons "
	    "FROM shops WHERE shop_id <> '_unattributed' ORDER BY shop_id",
	    0, NULL, error_r);
}

char *
query_actor(void)
{
	const char *u = g_getenv("SUDO_USER");

	if (u == NULL || *u == '\0')
		u = g_getenv("USER");
	if (u == NULL || *u == '\0')
		return g_strdup_printf("uid %u", (unsigned)getuid());
	return g_strdup(u);
}
