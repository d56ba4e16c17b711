/*
 * store.c - record one message and apply the rule; see store.h.
 *
 * Order inside the transaction (the same in every process, so concurrent
 * recorders cannot deadlock on each other's rows except by a rare index
 * race, which is retried): mailbox row with its cursor and the message
 * row, in one statement (the unique key makes a replay stop here), then per
 * recipient in address order: lock the recipient state (an upsert that
 * returns the row), decide, insert the result, update the state, alerts
 * and outbox.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db/addr.h"
#include "db/rule.h"
#include "db/store.h"
#include "db/store_int.h"
#include "parsers/classify.h"

#define STORE_RETRIES 5

const char *
store_kind_name(enum bounce_kind kind)
{
	static const char *const names[] = {"none",      "dsn",      "bounce",
					    "autoreply", "feedback", "error"};

	return (unsigned)kind < G_N_ELEMENTS(names) ? names[kind] : "error";
}

char *
store_sha256(const char *data, size_t len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					   (const guchar *)data, len);
}

static void
store_shop_free(gpointer p)
{
	struct store_shop *s = p;

	g_free(s->id);
	g_free(s->domains);
	g_free(s->fatal);
	g_strfreev(s->rule.fatal_reasons);
	g_free(s);
}

struct store *
store_new(struct db *db)
{
	struct store *store = g_new0(struct store, 1);

	store->db = db;
	return store;
}

void
store_reload_shops(struct store *store)
{
	if (store->shops != NULL)
		g_ptr_array_unref(store->shops);
	store->shops = NULL;
}

void
store_free(struct store **store)
{
	if (store == NULL || *store == NULL)
		return;
	store_reload_shops(*store);
	g_free(*store);
	*store = NULL;
}

void
store_outcome_clear(struct store_outcome *out)
{
	g_free(out->shop_id);
	memset(out, 0, sizeof(*out));
}

int
store_load_shops(struct store *store, char **error_r)
{
	PGresult *res;
	int i;

	if (store->shops != NULL)
		return 0;
	res = db_query(
	    store->db, NULL,
	    "SELECT shop_id, sender_domains, "
	    "strike_limit, grace_days, stale_days, dry_run, "
	    "array_to_string(fatal_reasons, ',') FROM shops ORDER BY shop_id",
	    0, NULL, error_r);
	if (res == NULL)
		return -1;
	store->shops = g_ptr_array_new_with_free_func(store_shop_free);
	for (i = 0; i < PQntuples(res); i++) {
		struct store_shop *s = g_new0(struct store_shop, 1);

		s->id = g_strdup(PQgetvalue(res, i, 0));
		s->domains = g_strdup(PQgetvalue(res, i, 1));
		s->rule.strike_limit = atoi(PQgetvalue(res, i, 2));
		s->rule.grace_days = atoi(PQgetvalue(res, i, 3));
		s->rule.stale_days = atoi(PQgetvalue(res, i, 4));
		s->rule.dry_run = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		s->fatal = g_strdup(PQgetvalue(res, i, 6));
		s->rule.fatal_reasons = g_strsplit(s->fatal, ",", -1);
		g_ptr_array_add(store->shops, s);
	}
	PQclear(res);
	return 0;
}

const struct store_shop *
store_find_shop(struct store *store, const char *id)
{
	guint i;

	for (i = 0; id != NULL && i < store->shops->len; i++) {
		const struct store_shop *s = store->shops->pdata[i];

		if (strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

int
store_shop_exists(struct store *store, const char *shop_id, char **error_r)
{
	if (store_load_shops(store, error_r) < 0)
		return -1;
	if (store_find_shop(store, shop_id) != NULL &&
	    strcmp(shop_id, STORE_UNATTRIBUTED) != 0)
		return 0;
	*error_r = g_strdup_printf(
	    "shop '%s' does not exist: add it to "
	    "bounced.conf and run 'bouncectl db migrate', or run 'bouncectl "
	    "shop add %s'",
	    shop_id, shop_id);
	return -1;
}

/* Attribution (issue 3 §4): the original's From against every shop's
   sender domains, most specific match first; else the mailbox's shop;
   else none. */
void
store_attribute(struct store_msg *m, const char *mailbox_shop)
{
	const struct store_shop *best = NULL;
	char *from, *norm = NULL, *err = NULL;
	int score, best_score = 0;
	guint i;

	from = addr_from_header(m->report->original.from);
	if (from != NULL && addr_normalize(from, &norm, NULL, &err) == 0) {
		for (i = 0; i < m->store->shops->len; i++) {
			const struct store_shop *s = m->store->shops->pdata[i];

			if (addr_match_domains(norm, s->domains, &score) &&
			    score > best_score &&
			    strcmp(s->id, STORE_UNATTRIBUTED) != 0) {
				best = s;
				best_score = score;
			}
		}
	}
	g_free(from);
	g_free(norm);
	g_free(err);
	if (best != NULL) {
		m->shop = best;
		m->attribution = "sender domain";
	} else if ((m->shop = store_find_shop(m->store, mailbox_shop)) !=
		       NULL &&
		   strcmp(mailbox_shop, STORE_UNATTRIBUTED) != 0) {
		m->attribution = "mailbox";
	} else {
		m->shop = NULL;
		m->attribution = "none";
	}
	m->shop_id = m->shop != NULL ? m->shop->id : STORE_UNATTRIBUTED;
}

/* The event time: the report's date if sane, else now. */
static gint64
store_event_time(const struct bounce_report *report)
{
	GTimeZone *utc = g_time_zone_new_utc();
	GDateTime *dt = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, t = now;

	if (report->date != NULL && *report->date != '\0')
		dt = g_date_time_new_from_iso8601(report->date, utc);
	if (dt != NULL) {
		t = g_date_time_to_unix(dt);
		if (t > now + 86400 || t < 946684800) /* future, or < 2000 */
			t = now;
		g_date_time_unref(dt);
	}
	g_time_zone_unref(utc);
	return t;
}

char *
store_orig_key(const struct bounce_report *report, const char *sha)
{
	const char *mid = report->original.message_id;
	const char *env = report->original.envelope_id;
	char *s;

	if (mid != NULL && *mid != '\0') {
		s = g_strdup(mid + (*mid == '<'));
		if (*s != '\0' && s[strlen(s) - 1] == '>')
			s[strlen(s) - 1] = '\0';
		if (*s != '\0') {
			char *k = g_strconcat("mid:", s, NULL);

			g_free(s);
			return k;
		}
		g_free(s);
	}
	if (env != NULL && *env != '\0')
		return g_strconcat("env:", env, NULL);
	return g_strconcat("msg:", sha, NULL);
}

static const char *
store_nz(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

void
store_message_params(const struct bounce_report *r, const char **params)
{
	int n = 0;

	params[n++] = store_kind_name(r->kind);
	params[n++] = r->parser;
	params[n++] = r->error;
	params[n++] = r->subject;
	params[n++] = r->from;
	params[n++] = r->reporting_mta;
	params[n++] = r->date;
	params[n++] = r->feedback_type;
	params[n++] = store_nz(r->order_number);
	params[n++] = store_nz(r->mail_type);
	params[n++] = r->original.message_id;
	params[n++] = r->original.envelope_id;
	params[n++] = r->original.from;
	params[n++] = r->original.to;
	params[n++] = r->original.subject;
	params[n++] = r->original.date;
	g_assert(n == STORE_MESSAGE_PARAMS);
}

/* The message row; $1..$23 as store_insert_message() fills them. */
#define STORE_MESSAGE_INSERT                                                   \
	"INSERT INTO messages (shop_id, mailbox_id, msg_key, "                 \
	"occurred_at, raw, sha256, size, kind, parser, parse_error, "          \
	"subject, from_addr, reporting_mta, report_date, feedback_type, "      \
	"order_number, mail_type, orig_message_id, orig_envelope_id, "         \
	"orig_from, orig_to, orig_subject, orig_date) "                        \
	"VALUES ($1, $2, $3, to_timestamp($4::float8), $5, $6, $7, $8, "       \
	"$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, "     \
	"$22, $23) ON CONFLICT (shop_id, mailbox_id, msg_key) DO NOTHING "     \
	"RETURNING message_id"

/* The mailbox row, created if missing ($24: protocol), in the same
   statement as the message row: the foreign key of messages is checked
   at the end of the statement, when the row is there. */
static const char store_message_sql[] =
    "WITH mb AS (INSERT INTO mailboxes (shop_id, mailbox_id, protocol) "
    "VALUES ($1, $2, $24) ON CONFLICT DO NOTHING) " STORE_MESSAGE_INSERT;

/* The same, and the IMAP cursor advanced to ($25 UIDVALIDITY, $26 UID):
   a new UIDVALIDITY replaces the old cursor, under the same one last_uid
   only grows.  The mailbox row is thus locked first in the transaction,
   before any recipient state, by every recorder alike; a replay (the
   message already recorded) still moves the cursor. */
static const char store_message_cursor_sql[] =
    "WITH mb AS (INSERT INTO mailboxes AS x (shop_id, mailbox_id, "
    "protocol, uidvalidity, last_uid) VALUES ($1, $2, $24, $25::bigint, "
    "$26::bigint) ON CONFLICT (shop_id, mailbox_id) DO UPDATE SET "
    "last_uid = CASE WHEN x.uidvalidity IS DISTINCT FROM $25::bigint "
    "THEN $26::bigint ELSE greatest(x.last_uid, $26::bigint) END, "
    "uidvalidity = $25::bigint, updated_at = now()) " STORE_MESSAGE_INSERT;

/* Inserts the message row, with its mailbox row and cursor (one round
   trip).  Returns 1 if inserted, 0 on a replay, -1. */
static int
store_insert_message(struct store_msg *m, const struct store_source *src,
		     const char *raw, size_t len, const char *sha,
		     const char *key, char **error_r)
{
	enum { N = 7 + STORE_MESSAGE_PARAMS + 3 };
	char size[24], v[24], u[24];
	const char *params[N];
	int lengths[N] = {0};
	int formats[N] = {0};
	bool cursor = src->uid > 0;
	PGresult *res;
	int ret;

	g_snprintf(size, sizeof(size), "%zu", len);
	g_snprintf(v, sizeof(v), "%" G_GINT64_FORMAT, src->uidvalidity);
	g_snprintf(u, sizeof(u), "%" G_GINT64_FORMAT, src->uid);
	params[0] = m->message_shop;
	params[1] = src->mailbox_id;
	params[2] = key;
	params[3] = m->when;
	/* raw bytes go as a binary parameter: no escaping, NULs kept */
	params[4] = raw;
	lengths[4] = (int)len;
	formats[4] = 1;
	params[5] = sha;
	params[6] = size;
	store_message_params(m->report, params + 7);
	params[N - 3] = src->protocol != NULL ? src->protocol : "ingest";
	params[N - 2] = v;
	params[N - 1] = u;
	res = db_query_bin(
	    m->store->db, cursor ? "store_message_cursor" : "store_message",
	    cursor ? store_message_cursor_sql : store_message_sql,
	    cursor ? N : N - 2, params, lengths, formats, error_r);
	if (res == NULL)
		return -1;
	ret = PQntuples(res) == 1;
	if (ret)
		g_strlcpy(m->message_id, PQgetvalue(res, 0, 0),
			  sizeof(m->message_id));
	PQclear(res);
	return ret;
}

void
store_result_params(const struct store_msg *m, const struct store_item *it,
		    const char **params, char *index_buf)
{
	const struct bounce_rcpt *rc = it->rcpt;
	int n = 0;

	g_snprintf(index_buf, 16, "%u", it->index);
	params[n++] = m->shop_id;
	params[n++] = m->message_shop;
	params[n++] = m->message_id;
	params[n++] = index_buf;
	params[n++] = m->attribution;
	params[n++] = m->when;
	params[n++] = store_kind_name(m->report->kind);
	params[n++] = m->report->parser;
	params[n++] = rc->recipient;
	params[n++] = it->address;
	params[n++] = rc->original_recipient;
	params[n++] = rc->action;
	params[n++] = store_nz(rc->status);
	params[n++] = store_nz(rc->replycode);
	params[n++] = rc->diagnostic;
	params[n++] = rc->remote_mta;
	params[n++] = rc->last_attempt;
	params[n++] = classify_reason_name(rc->reason);
	params[n++] = rc->hardbounce ? "t" : "f";
	params[n++] = classify_side_name(rc->side);
	params[n++] = rc->rule;
	params[n++] = store_nz(m->report->order_number);
	params[n++] = store_nz(m->report->mail_type);
	params[n++] = m->orig_key;
	g_assert(n == STORE_RESULT_PARAMS);
}

/* Inserts the result row for item with the rule's outcome.  Sets
   result_id (at least 24 bytes). */
static int
store_insert_result(struct store_msg *m, const struct store_item *it,
		    bool counted, bool fatal, const char *decision,
		    char *result_id, char **error_r)
{
	char index[16];
	const char *params[STORE_RESULT_PARAMS + 3];
	PGresult *res;

	store_result_params(m, it, params, index);
	params[STORE_RESULT_PARAMS] = counted ? "t" : "f";
	params[STORE_RESULT_PARAMS + 1] = fatal ? "t" : "f";
	params[STORE_RESULT_PARAMS + 2] = decision;
	res = db_query(
	    m->store->db, "store_result",
	    "INSERT INTO results (shop_id, message_shop_id, message_id, "
	    "rcpt_index, attribution, occurred_at, kind, parser, recipient, "
	    "address, original_recipient, action, status, replycode, "
	    "diagnostic, remote_mta, last_attempt, reason, hardbounce, side, "
	    "rule, order_number, mail_type, orig_key, counted, fatal, "
	    "decision) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8), "
	    "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
	    "$20, $21, $22, $23, $24, $25, $26, $27) RETURNING result_id",
	    STORE_RESULT_PARAMS + 3, params, error_r);
	if (res == NULL)
		return -1;
	g_strlcpy(result_id, PQgetvalue(res, 0, 0), 24);
	PQclear(res);
	if (m->out != NULL)
		m->out->results++;
	return 0;
}

int
store_outbox(struct store_msg *m, const char *kind, const char *result_id,
	     const struct store_item *it, const char *decision, char **error_r)
{
	const char *params[8] = {m->shop_id,
				 kind,
				 result_id,
				 it->address,
				 classify_reason_name(it->rcpt->reason),
				 store_nz(m->report->order_number),
				 store_nz(m->report->mail_type),
				 decision};

	return db_exec(
	    m->store->db, "store_outbox",
	    "INSERT INTO notify_outbox (shop_id, kind, result_id, payload) "
	    "VALUES ($1, $2, $3, jsonb_strip_nulls(jsonb_build_object("
	    "'address', $4::text, 'reason', $5::text, 'order_number', "
	    "$6::text, 'mail_type', $7::text, 'decision', $8::text)))",
	    8, params, error_r);
}

/* A success (delivered, auto-reply) breaks the address's run. */
static int
store_success(struct store_msg *m, const struct store_item *it, const char *why,
	      char **error_r)
{
	char result_id[24];
	const char *params[4] = {m->shop_id, it->address, m->when, why};

	if (store_insert_result(m, it, false, false, why, result_id, error_r) <
	    0)
		return -1;
	if (m->shop == NULL)
		return 0;
	return db_exec(m->store->db, "store_success",
		       "UPDATE recipient_state SET consecutive = 0, "
		       "last_success_at = greatest(last_success_at, "
		       "to_timestamp($3::float8)), last_success_why = $4, "
		       "updated_at = now() WHERE shop_id = $1 AND address = $2",
		       4, params, error_r);
}

int
store_alert(struct store_msg *m, const struct store_item *it,
	    const char *result_id, const char *why, char **error_r)
{
	const struct bounce_rcpt *rc = it->rcpt;
	const char *provider =
	    rc->remote_mta != NULL ? rc->remote_mta : m->report->reporting_mta;
	const char *params[6] = {m->shop_id,
				 result_id,
				 provider,
				 classify_reason_name(rc->reason),
				 store_nz(rc->status),
				 rc->diagnostic};

	if (db_exec(m->store->db, "store_alert",
		    "INSERT INTO shop_alerts (shop_id, result_id, provider, "
		    "reason, "
		    "status, diagnostic) VALUES ($1, $2, $3, $4, $5, $6)",
		    6, params, error_r) < 0 ||
	    store_outbox(m, "sender_alert", result_id, it, why, error_r) < 0)
		return -1;
	if (m->out != NULL)
		m->out->alerts++;
	return 0;
}

/* A sender-side result: recorded, never counted, a shop alert. */
static int
store_sender(struct store_msg *m, const struct store_item *it, const char *why,
	     char **error_r)
{
	char result_id[24];

	if (store_insert_result(m, it, false, false, why, result_id, error_r) <
	    0)
		return -1;
	if (m->shop == NULL)
		return 0;
	return store_alert(m, it, result_id, why, error_r);
}

static gint64
store_epoch(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Locks and reads the address's state (creating it). */
static int
store_lock_state(struct store_msg *m, const struct store_item *it,
		 struct rule_state *st, char **error_r)
{
	const char *params[2] = {m->shop_id, it->address};
	PGresult *res;

	res =
	    db_query(m->store->db, "store_lock_state",
		     "INSERT INTO recipient_state AS s (shop_id, address) "
		     "VALUES ($1, $2) ON CONFLICT (shop_id, address) DO UPDATE "
		     "SET updated_at = s.updated_at RETURNING consecutive, "
		     "floor(extract(epoch FROM last_failure_at))::bigint, "
		     "floor(extract(epoch FROM suppressed_at))::bigint, "
		     "floor(extract(epoch FROM would_suppress_at))::bigint",
		     2, params, error_r);
	if (res == NULL)
		return -1;
	st->consecutive = atoi(PQgetvalue(res, 0, 0));
	st->last_failure_at = store_epoch(res, 0, 1);
	st->suppressed_at = store_epoch(res, 0, 2);
	st->would_suppress_at = store_epoch(res, 0, 3);
	PQclear(res);
	return 0;
}

int
store_quiet_send(struct db *db, const char *shop_id, const char *address,
		 const char *address_utf8, gint64 last_failure_at, gint64 when,
		 int grace_days, const char *orig_key, gint64 *at_r,
		 char **error_r)
{
	char last[24], now[24], grace[16];
	const char *p[7] = {shop_id,
			    address,
			    last,
			    now,
			    grace,
			    orig_key,
			    address_utf8 != NULL ? address_utf8 : address};
	PGresult *res;

	g_snprintf(last, sizeof(last), "%" G_GINT64_FORMAT, last_failure_at);
	g_snprintf(now, sizeof(now), "%" G_GINT64_FORMAT, when);
	g_snprintf(grace, sizeof(grace), "%d", grace_days);
	/* A send after the last failure, at least the grace window before
	   this one, that is not this failure's original and drew no failure
	   of its own: the mail got through, the run is broken. */
	res = db_query(
	    db, "store_quiet_send",
	    "SELECT floor(extract(epoch FROM max(l.sent_at)))::bigint "
	    "FROM send_log l WHERE l.shop_id = $1 AND "
	    "l.address IN ($2, $7) AND "
	    "l.sent_at > to_timestamp($3::float8) AND l.sent_at <= "
	    "to_timestamp($4::float8) - make_interval(days => $5::int) "
	    "AND $6 NOT IN ('mid:' || coalesce(l.message_id, ''), "
	    "'env:' || coalesce(l.envelope_id, '')) AND NOT EXISTS ("
	    "SELECT 1 FROM results r WHERE r.shop_id = l.shop_id AND "
	    "r.address = $2 AND r.action = 'failed' AND r.orig_key IN "
	    "('mid:' || l.message_id, 'env:' || l.envelope_id))",
	    7, p, error_r);
	if (res == NULL)
		return -1;
	*at_r = store_epoch(res, 0, 0);
	PQclear(res);
	return 0;
}

/* Fills the facts the rule needs from the database. */
static int
store_facts(struct store_msg *m, const struct store_item *it,
	    const struct rule_state *st, struct rule_facts *f, char **error_r)
{
	const char *p1[3] = {m->shop_id, it->address, m->orig_key};
	PGresult *res;

	res = db_query(m->store->db, "store_orig_counted",
		       "SELECT 1 FROM counted_originals WHERE shop_id = $1 AND "
		       "address = $2 AND orig_key = $3",
		       3, p1, error_r);
	if (res == NULL)
		return -1;
	f->orig_counted = PQntuples(res) > 0;
	PQclear(res);
	if (st->consecutive == 0 || f->orig_counted)
		return 0;
	return store_quiet_send(m->store->db, m->shop_id, it->address,
				it->address_utf8, st->last_failure_at,
				m->when_s, m->shop->rule.grace_days,
				m->orig_key, &f->quiet_send_at, error_r);
}

/* A failure: lock the state, decide, record, suppress. */
static int
store_failure(struct store_msg *m, const struct store_item *it, bool fatal,
	      char **error_r)
{
	const struct rule_settings *rs = &m->shop->rule;
	struct rule_state st = {0};
	struct rule_facts f = {0};
	char result_id[24], cons[16], lastf[24], *decision = NULL;
	char *rule = NULL;
	bool counted, suppress;
	int ret = -1;

	f.when = m->when_s;
	f.fatal = fatal;
	if (store_lock_state(m, it, &st, error_r) < 0 ||
	    store_facts(m, it, &st, &f, error_r) < 0)
		return -1;
	counted = rule_apply_failure(rs, &st, &f, &suppress, &decision);
	if (store_insert_result(m, it, counted, fatal, decision, result_id,
				error_r) < 0)
		goto out;
	if (!counted) {
		ret = 0;
		goto out;
	}
	m->out->counted++;
	g_snprintf(cons, sizeof(cons), "%d", st.consecutive);
	g_snprintf(lastf, sizeof(lastf), "%" G_GINT64_FORMAT,
		   st.last_failure_at);
	if (suppress) {
		rule = rule_suppress_name(
		    rs, &f, classify_reason_name(it->rcpt->reason));
		m->out->suppressed++;
	}
	{
		const char *params[9] = {m->shop_id,
					 it->address,
					 cons,
					 lastf,
					 m->when,
					 suppress && !rs->dry_run ? "t" : "f",
					 suppress && rs->dry_run ? "t" : "f",
					 rule,
					 result_id};
		const char *p2[4] = {m->shop_id, it->address, m->orig_key,
				     result_id};

		if (db_exec(
			m->store->db, "store_state",
			"UPDATE recipient_state SET consecutive = $3, "
			"last_failure_at = to_timestamp($4::float8), "
			"first_failure_at = coalesce(first_failure_at, "
			"to_timestamp($5::float8)), "
			"suppressed_at = CASE WHEN $6 THEN "
			"to_timestamp($5::float8) "
			"ELSE suppressed_at END, "
			"suppressed_rule = CASE WHEN $6 THEN $8 "
			"ELSE suppressed_rule END, "
			"suppressed_result = CASE WHEN $6 THEN $9::bigint "
			"ELSE suppressed_result END, "
			"would_suppress_at = CASE WHEN $7 THEN "
			"to_timestamp($5::float8) ELSE would_suppress_at END, "
			"would_suppress_rule = CASE WHEN $7 THEN $8 "
			"ELSE would_suppress_rule END, updated_at = now() "
			"WHERE shop_id = $1 AND address = $2",
			9, params, error_r) < 0 ||
		    db_exec(m->store->db, "store_counted_orig",
			    "INSERT INTO counted_originals (shop_id, address, "
			    "orig_key, "
			    "result_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO "
			    "NOTHING",
			    4, p2, error_r) < 0)
			goto out;
	}
	if (store_outbox(m, "failure", result_id, it, decision, error_r) < 0 ||
	    (suppress &&
	     store_outbox(m, rs->dry_run ? "would_suppress" : "suppressed",
			  result_id, it, decision, error_r) < 0))
		goto out;
	ret = 0;
out:
	g_free(decision);
	g_free(rule);
	return ret;
}

static int
store_item_cmp(gconstpointer a, gconstpointer b)
{
	const struct store_item *x = a, *y = b;

	if (x->address == NULL || y->address == NULL)
		return (x->address == NULL) - (y->address == NULL);
	return strcmp(x->address, y->address);
}

GArray *
store_items_new(const struct bounce_report *report)
{
	const GPtrArray *rcpts = report->rcpts;
	GArray *items = g_array_new(FALSE, TRUE, sizeof(struct store_item));
	guint i;

	for (i = 0; rcpts != NULL && i < rcpts->len; i++) {
		struct store_item it = {i, rcpts->pdata[i], NULL, NULL};
		char *err = NULL;
		const char *a = it.rcpt->recipient;

		/* an auto-reply names its sender, not a recipient */
		if (a == NULL && report->kind == BOUNCE_KIND_AUTOREPLY)
			a = report->from;
		if (a != NULL) {
			char *spec = addr_from_header(a);

			if (addr_normalize(spec != NULL ? spec : a, &it.address,
					   &it.address_utf8, &err) < 0)
				g_free(err);
			g_free(spec);
		}
		g_array_append_val(items, it);
	}
	return items;
}

void
store_items_free(GArray *items)
{
	guint i;

	for (i = 0; i < items->len; i++) {
		g_free(g_array_index(items, struct store_item, i).address);
		g_free(g_array_index(items, struct store_item, i).address_utf8);
	}
	g_array_free(items, TRUE);
}

enum rule_event
store_classify(const struct store_msg *m, const struct store_item *it,
	       bool *fatal_r, const char **why_r)
{
	static const struct rule_settings none = {0};
	struct rule_input in;

	in.kind = store_kind_name(m->report->kind);
	in.action = it->rcpt->action;
	in.reason = classify_reason_name(it->rcpt->reason);
	in.hardbounce = it->rcpt->hardbounce;
	in.side = classify_side_name(it->rcpt->side);
	in.has_address = it->address != NULL;
	in.attributed = m->shop != NULL;
	return rule_classify(m->shop != NULL ? &m->shop->rule : &none, &in,
			     fatal_r, why_r);
}

/* Records a result the rule ignores ("not counted: why"). */
static int
store_ignored(struct store_msg *m, const struct store_item *it, const char *why,
	      char **error_r)
{
	char rid[24], *d = g_strconcat("not counted: ", why, NULL);
	int ret = store_insert_result(m, it, false, false, d, rid, error_r);

	g_free(d);
	return ret;
}

/* Records every recipient of the message, in address order. */
static int
store_items(struct store_msg *m, char **error_r)
{
	GArray *items = store_items_new(m->report);
	const char *why;
	bool fatal;
	guint i;
	int ret = 0;

	g_array_sort(items, store_item_cmp);
	for (i = 0; ret == 0 && i < items->len; i++) {
		struct store_item *it =
		    &g_array_index(items, struct store_item, i);

		switch (store_classify(m, it, &fatal, &why)) {
		case RULE_SUCCESS:
			ret = store_success(m, it, why, error_r);
			break;
		case RULE_SENDER:
			ret = store_sender(m, it, why, error_r);
			break;
		case RULE_FAILURE:
			ret = store_failure(m, it, fatal, error_r);
			break;
		case RULE_IGNORE:
		default:
			ret = store_ignored(m, it, why, error_r);
			break;
		}
	}
	store_items_free(items);
	return ret;
}

/* One attempt at the whole transaction. */
static int
store_record_tx(struct store_msg *m, const struct store_source *src,
		const char *raw, size_t len, const char *sha, const char *key,
		char **error_r)
{
	int ins;

	m->out->results = m->out->counted = m->out->suppressed = 0;
	m->out->alerts = 0;
	if (db_begin(m->store->db, error_r) < 0)
		return -1;
	if ((ins = store_insert_message(m, src, raw, len, sha, key, error_r)) <
	    0)
		goto fail;
	m->out->duplicate = ins == 0;
	if (ins == 1 && store_items(m, error_r) < 0)
		goto fail;
	if (db_commit(m->store->db, error_r) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(m->store->db);
	return -1;
}

int
store_record(struct store *store, const struct store_source *src,
	     const char *raw, size_t len, const struct bounce_report *report,
	     struct store_outcome *out, char **error_r)
{
	struct store_msg m = {0};
	char *sha, *key;
	int attempt, ret = -1;

	memset(out, 0, sizeof(*out));
	if (store_load_shops(store, error_r) < 0)
		return -1;
	m.message_shop =
	    src->shop_id != NULL ? src->shop_id : STORE_UNATTRIBUTED;
	if (store_find_shop(store, m.message_shop) == NULL) {
		*error_r = g_strdup_printf(
		    "shop '%s' does not exist: add it "
		    "with 'bouncectl shop add %s' or in bounced.conf",
		    m.message_shop, m.message_shop);
		return -1;
	}
	m.store = store;
	m.report = report;
	m.out = out;
	sha = store_sha256(raw, len);
	key = src->msg_key != NULL ? g_strdup(src->msg_key)
				   : g_strconcat("sha256:", sha, NULL);
	m.when_s = store_event_time(report);
	g_snprintf(m.when, sizeof(m.when), "%" G_GINT64_FORMAT, m.when_s);
	m.orig_key = store_orig_key(report, sha);
	store_attribute(&m, m.message_shop);
	for (attempt = 0; attempt < STORE_RETRIES; attempt++) {
		ret = store_record_tx(&m, src, raw, len, sha, key, error_r);
		if (ret == 0 || !db_last_retryable(store->db) ||
		    attempt + 1 == STORE_RETRIES)
			break;
		g_free(*error_r);
		*error_r = NULL;
		g_usleep(1000 * (g_random_int_range(1, 20) << attempt));
	}
	if (ret == 0) {
		out->message_id = g_ascii_strtoll(m.message_id, NULL, 10);
		out->shop_id = g_strdup(m.shop_id);
	}
	g_free(m.orig_key);
	g_free(sha);
	g_free(key);
	return ret;
}
