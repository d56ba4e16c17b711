/*
 * stats.c - the numbers behind `bouncectl stats`; see stats.h.
 *
 * One query: a row per mailbox (what was recorded from it and the
 * failures among it, by reason) and a summary row per shop (its
 * mailboxes' totals, the failures attributed to it, and the shop-wide
 * state: suppression list, sender-side alerts, notification outbox).
 * The poll columns are what the daemon records after each poll cycle
 * (poll_status.h).  notify_outbox.failed_at is read through
 * to_jsonb(row), which works with or without that column.
 */
#include "config.h"

#include "db/stats.h"

/* $1 shop or NULL, $2 (boolean) times as Unix seconds. */
#define STATS_TIME(x)                                                          \
	"CASE WHEN $2::boolean THEN extract(epoch FROM " x                     \
	")::bigint::text ELSE to_char(" x " AT TIME ZONE 'Asia/Tokyo', "       \
	"'YYYY-MM-DD HH24:MI:SS') END"

/* clang-format off */
/* mb: per mailbox, what was recorded and how its polls went (the
   mailbox row, 005_poll_status.sql); fail: failed recipients and
   complaints (as undeliverable_report counts them) by the mailbox they
   came from and the shop they are attributed to; mbfail, shopfail: those
   summed by mailbox and by shop; sh: the shops to report.  A shop's row
   sums its mailboxes; its poll columns are those of its newest poll and
   error, its result "error" when any mailbox's last poll failed. */
#define STATS_SQL(REASONS)                                                     \
	"WITH mb AS ("                                                         \
	" SELECT b.shop_id, b.mailbox_id, b.protocol, b.lease_owner,"          \
	"  b.lease_until, max(m.received_at) AS last_recorded,"                \
	"  count(m.message_id) AS messages,"                                   \
	"  count(m.message_id) FILTER (WHERE m.kind IN ('dsn', 'bounce'))"     \
	"   AS bounces,"                                                       \
	"  count(m.message_id) FILTER (WHERE m.kind = 'autoreply')"            \
	"   AS autoreplies,"                                                   \
	"  count(m.message_id) FILTER (WHERE m.kind = 'feedback')"             \
	"   AS complaints,"                                                    \
	"  count(m.message_id) FILTER (WHERE m.kind = 'none') AS not_bounce,"  \
	"  count(m.message_id) FILTER (WHERE m.kind = 'error') AS unparseable,"\
	"  b.last_poll_at, b.last_poll_ok, b.last_poll_recorded,"              \
	"  b.last_success_at, b.consecutive_failures, b.polls, b.poll_errors," \
	"  b.last_error, b.last_error_at"                                      \
	" FROM mailboxes b LEFT JOIN messages m ON m.shop_id = b.shop_id"      \
	"  AND m.mailbox_id = b.mailbox_id"                                    \
	" WHERE $1::text IS NULL OR b.shop_id = $1"                            \
	" GROUP BY b.shop_id, b.mailbox_id),"                                  \
	"fail AS ("                                                            \
	" SELECT m.shop_id, m.mailbox_id, r.shop_id AS attributed, r.reason,"  \
	"  count(*) AS n"                                                      \
	" FROM results r JOIN messages m ON m.shop_id = r.message_shop_id"     \
	"  AND m.message_id = r.message_id"                                    \
	" WHERE (r.action = 'failed' OR r.kind = 'feedback')"                  \
	"  AND ($1::text IS NULL OR m.shop_id = $1 OR r.shop_id = $1)"         \
	" GROUP BY 1, 2, 3, 4),"                                               \
	"mbfail AS ("                                                          \
	" SELECT shop_id, mailbox_id, sum(n)::bigint AS n,"                    \
	"  jsonb_object_agg(reason, n) AS by_reason"                           \
	" FROM (SELECT shop_id, mailbox_id, reason, sum(n)::bigint AS n"       \
	"  FROM fail GROUP BY 1, 2, 3) x GROUP BY 1, 2),"                      \
	"shopfail AS ("                                                        \
	" SELECT attributed AS shop_id, sum(n)::bigint AS n,"                  \
	"  jsonb_object_agg(reason, n) AS by_reason"                           \
	" FROM (SELECT attributed, reason, sum(n)::bigint AS n"                \
	"  FROM fail GROUP BY 1, 2) x GROUP BY 1),"                            \
	"sh AS ("                                                              \
	" SELECT s.shop_id FROM shops s"                                       \
	" WHERE ($1::text IS NULL OR s.shop_id = $1)"                          \
	"  AND (s.shop_id <> '_unattributed'"                                  \
	"   OR EXISTS (SELECT 1 FROM mb WHERE mb.shop_id = s.shop_id)"         \
	"   OR EXISTS (SELECT 1 FROM shopfail f WHERE f.shop_id = s.shop_id)))"\
	"SELECT shop_id AS shop, mailbox, protocol,"                           \
	" " STATS_TIME("t") " AS last_recorded, messages, bounces,"            \
	" autoreplies, complaints, not_bounce, unparseable, failures,"         \
	" " REASONS " AS failures_by_reason,"                                  \
	" suppressed, would_suppress, sender_alerts, notify_backlog,"          \
	" notify_errors, lease_owner, " STATS_TIME("lu") " AS lease_until,"    \
	" " STATS_TIME("lp") " AS last_poll,"                                  \
	" CASE WHEN lp IS NULL THEN NULL WHEN lok THEN 'ok' ELSE 'error' END"  \
	"  AS last_poll_result,"                                               \
	" last_poll_recorded, " STATS_TIME("ls") " AS last_success,"           \
	" consecutive_failures, polls, poll_errors, last_error,"               \
	" " STATS_TIME("le") " AS last_error_at "                              \
	"FROM ("                                                               \
	" SELECT mb.shop_id, mb.mailbox_id AS mailbox, mb.protocol,"           \
	"  mb.last_recorded AS t, mb.messages, mb.bounces, mb.autoreplies,"    \
	"  mb.complaints, mb.not_bounce, mb.unparseable,"                      \
	"  coalesce(f.n, 0) AS failures,"                                      \
	"  coalesce(f.by_reason, '{}'::jsonb) AS fbr,"                         \
	"  NULL::bigint AS suppressed, NULL::bigint AS would_suppress,"        \
	"  NULL::bigint AS sender_alerts, NULL::bigint AS notify_backlog,"     \
	"  NULL::bigint AS notify_errors,"                                     \
	"  coalesce(mb.lease_owner, '') AS lease_owner, mb.lease_until AS lu," \
	"  mb.last_poll_at AS lp, mb.last_poll_ok AS lok,"                     \
	"  mb.last_poll_recorded::bigint AS last_poll_recorded,"               \
	"  mb.last_success_at AS ls,"                                          \
	"  mb.consecutive_failures::bigint AS consecutive_failures,"           \
	"  mb.polls, mb.poll_errors, mb.last_error, mb.last_error_at AS le"    \
	" FROM mb LEFT JOIN mbfail f USING (shop_id, mailbox_id)"              \
	" UNION ALL"                                                           \
	" SELECT sh.shop_id, '', NULL, t.t, coalesce(t.messages, 0),"          \
	"  coalesce(t.bounces, 0), coalesce(t.autoreplies, 0),"                \
	"  coalesce(t.complaints, 0), coalesce(t.not_bounce, 0),"              \
	"  coalesce(t.unparseable, 0), coalesce(f.n, 0),"                      \
	"  coalesce(f.by_reason, '{}'::jsonb),"                                \
	"  (SELECT count(*) FROM recipient_state r WHERE r.shop_id = sh.shop_id"\
	"   AND r.suppressed_at IS NOT NULL),"                                 \
	"  (SELECT count(*) FROM recipient_state r WHERE r.shop_id = sh.shop_id"\
	"   AND r.suppressed_at IS NULL AND r.would_suppress_at IS NOT NULL)," \
	"  (SELECT count(*) FROM shop_alerts a WHERE a.shop_id = sh.shop_id)," \
	"  (SELECT count(*) FROM notify_outbox o WHERE o.shop_id = sh.shop_id" \
	"   AND o.sent_at IS NULL AND (to_jsonb(o) ->> 'failed_at') IS NULL)," \
	"  (SELECT count(*) FROM notify_outbox o WHERE o.shop_id = sh.shop_id" \
	"   AND o.sent_at IS NULL AND (o.last_error IS NOT NULL"               \
	"    OR (to_jsonb(o) ->> 'failed_at') IS NOT NULL)),"                  \
	"  NULL, NULL, t.lp, t.lok, t.last_poll_recorded, t.ls,"               \
	"  t.consecutive_failures, t.polls, t.poll_errors, t.last_error, t.le" \
	" FROM sh"                                                             \
	" LEFT JOIN (SELECT shop_id, max(last_recorded) AS t,"                 \
	"   sum(messages)::bigint AS messages, sum(bounces)::bigint AS bounces,"\
	"   sum(autoreplies)::bigint AS autoreplies,"                          \
	"   sum(complaints)::bigint AS complaints,"                            \
	"   sum(not_bounce)::bigint AS not_bounce,"                            \
	"   sum(unparseable)::bigint AS unparseable,"                          \
	"   max(last_poll_at) AS lp, bool_and(last_poll_ok) AS lok,"           \
	"   sum(last_poll_recorded)::bigint AS last_poll_recorded,"            \
	"   max(last_success_at) AS ls,"                                       \
	"   max(consecutive_failures)::bigint AS consecutive_failures,"        \
	"   sum(polls)::bigint AS polls, sum(poll_errors)::bigint AS poll_errors,"\
	"   (array_agg(last_error ORDER BY last_error_at DESC NULLS LAST))[1]" \
	"    AS last_error, max(last_error_at) AS le"                          \
	"  FROM mb GROUP BY shop_id) t USING (shop_id)"                         \
	" LEFT JOIN shopfail f USING (shop_id)"                                \
	") u ORDER BY shop_id, mailbox"
/* clang-format on */

/* failures_by_reason as jsonb, or as text "reason N, ..." by count. */
static const char stats_sql_json[] = STATS_SQL("fbr");
static const char stats_sql_text[] =
    STATS_SQL("(SELECT coalesce(string_agg(key || ' ' || value, ', ' ORDER BY "
	      "value::bigint DESC, key), '') FROM jsonb_each_text(fbr))");

PGresult *
query_stats(struct db *db, const char *shop, enum stats_style style,
	    char **error_r)
{
	const char *params[2] = {shop,
				 style == STATS_METRICS ? "true" : "false"};

	return db_query(db, NULL,
			style == STATS_TEXT ? stats_sql_text : stats_sql_json,
			2, params, error_r);
}
