/*
 * reprocess.c - re-parse stored mail, replace changed results, replay the
 * rule for the addresses they name; see reprocess.h.
 *
 * Order inside the one transaction: for each message (oldest first, the
 * message row locked), compare the new parse with the recorded results
 * column by column; if anything differs, rewrite the message's parsed
 * fields and upsert its results by (shop, message, rcpt_index) so result
 * ids, and the alerts and outbox rows pointing at them, survive.  Then,
 * in (shop, address) order like store.c's locking, replay each affected
 * address.  The rule's columns (counted, fatal, decision) of results the
 * replay will visit are its to write: new rows say "pending" until then.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db/addr.h"
#include "db/reprocess.h"
#include "db/rule.h"
#include "db/store_int.h"
#include "parsers/classify.h"

#define RP_PENDING "pending: rule replay"

struct rp {
	struct store *store;
	struct db *db;
	const struct reprocess_options *opts;
	GHashTable *affected; /* "shop\naddress" -> struct reprocess_change */
	struct reprocess_result *result;
};

/* One event of an address's history, as loaded for the replay. */
struct rp_event {
	const PGresult *res;
	int row;
};

static bool
rp_same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static const char *
rp_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static gint64
rp_epoch(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void
rp_message_free(gpointer p)
{
	struct reprocess_message *m = p;

	g_free(m->shop_id);
	g_free(m->mailbox_id);
	g_free(m->msg_key);
	g_free(m->old_summary);
	g_free(m->new_summary);
	g_free(m);
}

static void
rp_change_free(gpointer p)
{
	struct reprocess_change *c = p;

	g_free(c->shop_id);
	g_free(c->address);
	g_free(c->old_reasons);
	g_free(c->new_reasons);
	g_free(c->old_suppressed);
	g_free(c->new_suppressed);
	g_free(c->old_would);
	g_free(c->new_would);
	g_free(c);
}

void
reprocess_result_free(struct reprocess_result **result)
{
	if (result == NULL || *result == NULL)
		return;
	g_ptr_array_unref((*result)->changed);
	g_ptr_array_unref((*result)->changes);
	g_free(*result);
	*result = NULL;
}

/* Appends reason to the comma-separated set *list unless it is there. */
static void
rp_add_reason(char **list, const char *reason)
{
	char **parts = g_strsplit(*list, ",", -1);
	char *n;

	if (!g_strv_contains((const char *const *)parts, reason)) {
		n = **list != '\0' ? g_strconcat(*list, ",", reason, NULL)
				   : g_strdup(reason);
		g_free(*list);
		*list = n;
	}
	g_strfreev(parts);
}

/* The change entry of (shop, address), created on first use. */
static struct reprocess_change *
rp_affect(struct rp *rp, const char *shop, const char *address)
{
	char *key = g_strconcat(shop, "\n", address, NULL);
	struct reprocess_change *c = g_hash_table_lookup(rp->affected, key);

	if (c != NULL) {
		g_free(key);
		return c;
	}
	c = g_new0(struct reprocess_change, 1);
	c->shop_id = g_strdup(shop);
	c->address = g_strdup(address);
	c->old_reasons = g_strdup("");
	c->new_reasons = g_strdup("");
	g_hash_table_insert(rp->affected, key, c);
	return c;
}

/* ------------------------------------------------------ one message */

/* "kind: recipient action reason side; ..." of recorded results res
   (columns as store_result_params()). */
static char *
rp_old_summary(const char *kind, const PGresult *res)
{
	GString *s = g_string_new(kind);
	int i;

	g_string_append_c(s, ':');
	for (i = 0; i < PQntuples(res); i++)
		g_string_append_printf(
		    s, "%s %s %s %s %s", i > 0 ? ";" : "",
		    PQgetvalue(res, i, 8), PQgetvalue(res, i, 11),
		    PQgetvalue(res, i, 17), PQgetvalue(res, i, 19));
	return g_string_free(s, FALSE);
}

static char *
rp_new_summary(const struct store_msg *m, const GArray *items)
{
	GString *s = g_string_new(store_kind_name(m->report->kind));
	guint i;

	g_string_append_c(s, ':');
	for (i = 0; i < items->len; i++) {
		const struct bounce_rcpt *rc =
		    g_array_index(items, struct store_item, i).rcpt;

		g_string_append_printf(s, "%s %s %s %s %s", i > 0 ? ";" : "",
				       rc->recipient != NULL ? rc->recipient
							     : "",
				       rc->action != NULL ? rc->action : "",
				       classify_reason_name(rc->reason),
				       classify_side_name(rc->side));
	}
	return g_string_free(s, FALSE);
}

/* True if the new parse (m, items) equals what was recorded: the
   message's parsed fields (msg, from column 4 on) and every result. */
static bool
rp_unchanged(const struct store_msg *m, const GArray *items,
	     const PGresult *msg, const PGresult *old)
{
	const char *p[STORE_RESULT_PARAMS];
	char index[16];
	guint i;
	int c;

	store_message_params(m->report, p);
	for (c = 0; c < STORE_MESSAGE_PARAMS; c++)
		if (!rp_same(p[c], rp_value(msg, 0, 4 + c)))
			return false;
	if ((guint)PQntuples(old) != items->len)
		return false;
	for (i = 0; i < items->len; i++) {
		store_result_params(
		    m, &g_array_index(items, struct store_item, i), p, index);
		for (c = 0; c < STORE_RESULT_PARAMS; c++)
			if (!rp_same(p[c], rp_value(old, (int)i, c)))
				return false;
	}
	return true;
}

/* Rewrites the parsed fields of the message row. */
static int
rp_update_message(struct rp *rp, const struct store_msg *m, char **error_r)
{
	const char *p[2 + STORE_MESSAGE_PARAMS];

	p[0] = m->message_shop;
	p[1] = m->message_id;
	store_message_params(m->report, p + 2);
	return db_exec(
	    rp->db, "rp_message",
	    "UPDATE messages SET kind = $3, "
	    "parser = $4, parse_error = $5, subject = $6, from_addr = $7, "
	    "reporting_mta = $8, report_date = $9, feedback_type = $10, "
	    "order_number = $11, mail_type = $12, orig_message_id = $13, "
	    "orig_envelope_id = $14, orig_from = $15, orig_to = $16, "
	    "orig_subject = $17, orig_date = $18, reprocessed_at = now() "
	    "WHERE shop_id = $1 AND message_id = $2",
	    2 + STORE_MESSAGE_PARAMS, p, error_r);
}

/* Deletes the recorded results of the message that the new parse does
   not keep: beyond its recipients, or attributed to another shop.  Their
   addresses are affected, with their old reasons. */
static int
rp_delete_results(struct rp *rp, const struct store_msg *m, guint n,
		  char **error_r)
{
	char count[16];
	const char *p[4] = {m->message_shop, m->message_id, count, m->shop_id};
	PGresult *res;
	int i, ret = 0;

	g_snprintf(count, sizeof(count), "%u", n);
	res = db_query(
	    rp->db, "rp_delete",
	    "DELETE FROM results WHERE "
	    "message_shop_id = $1 AND message_id = $2 AND (rcpt_index >= $3 "
	    "OR shop_id <> $4) RETURNING shop_id, result_id",
	    4, p, error_r);
	if (res == NULL)
		return -1;
	for (i = 0; ret == 0 && i < PQntuples(res); i++) {
		const char *pa[2] = {PQgetvalue(res, i, 0),
				     PQgetvalue(res, i, 1)};

		ret =
		    db_exec(rp->db, "rp_delete_alert",
			    "DELETE FROM "
			    "shop_alerts WHERE shop_id = $1 AND result_id = $2",
			    2, pa, error_r);
	}
	PQclear(res);
	return ret;
}

/* Upserts the result of item; sets result_id (24 bytes).  With replay,
   the rule's columns of an existing row are left for the replay to
   rewrite (so it can tell what really changed). */
static int
rp_upsert_result(struct rp *rp, const struct store_msg *m,
		 const struct store_item *it, bool fatal, const char *decision,
		 bool replay, char *result_id, char **error_r)
{
	const char *p[STORE_RESULT_PARAMS + 3];
	char index[16];
	PGresult *res;

	store_result_params(m, it, p, index);
	p[STORE_RESULT_PARAMS] = fatal ? "t" : "f";
	p[STORE_RESULT_PARAMS + 1] = decision;
	p[STORE_RESULT_PARAMS + 2] = replay ? "t" : "f";
	res = db_query(
	    rp->db, "rp_result",
	    "INSERT INTO results AS r ("
	    "shop_id, message_shop_id, message_id, rcpt_index, attribution, "
	    "occurred_at, kind, parser, recipient, address, "
	    "original_recipient, action, status, replycode, diagnostic, "
	    "remote_mta, last_attempt, reason, hardbounce, side, rule, "
	    "order_number, mail_type, orig_key, counted, fatal, decision) "
	    "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8), $7, $8, $9, "
	    "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, "
	    "$23, $24, false, $25, $26) ON CONFLICT (shop_id, message_shop_id, "
	    "message_id, rcpt_index) DO UPDATE SET attribution = "
	    "EXCLUDED.attribution, occurred_at = EXCLUDED.occurred_at, "
	    "kind = EXCLUDED.kind, parser = EXCLUDED.parser, recipient = "
	    "EXCLUDED.recipient, address = EXCLUDED.address, "
	    "original_recipient = EXCLUDED.original_recipient, action = "
	    "EXCLUDED.action, status = EXCLUDED.status, replycode = "
	    "EXCLUDED.replycode, diagnostic = EXCLUDED.diagnostic, "
	    "remote_mta = EXCLUDED.remote_mta, last_attempt = "
	    "EXCLUDED.last_attempt, reason = EXCLUDED.reason, hardbounce = "
	    "EXCLUDED.hardbounce, side = EXCLUDED.side, rule = EXCLUDED.rule, "
	    "order_number = EXCLUDED.order_number, mail_type = "
	    "EXCLUDED.mail_type, orig_key = EXCLUDED.orig_key, counted = "
	    "CASE WHEN $27::boolean THEN r.counted ELSE false END, fatal = "
	    "CASE WHEN $27::boolean THEN r.fatal ELSE EXCLUDED.fatal END, "
	    "decision = CASE WHEN $27::boolean THEN r.decision ELSE "
	    "EXCLUDED.decision END RETURNING result_id",
	    STORE_RESULT_PARAMS + 3, p, error_r);
	if (res == NULL)
		return -1;
	g_strlcpy(result_id, PQgetvalue(res, 0, 0), 24);
	PQclear(res);
	return 0;
}

/* Keeps the shop alert of a result in step with its side: an alert for
   a sender-side result (raised once), none otherwise. */
static int
rp_alert(struct rp *rp, struct store_msg *m, const struct store_item *it,
	 bool sender, const char *result_id, const char *why, char **error_r)
{
	const char *p[2] = {m->shop_id, result_id};
	PGresult *res;
	bool have;

	if (!sender || m->shop == NULL)
		return db_exec(
		    rp->db, "rp_delete_alert",
		    "DELETE FROM "
		    "shop_alerts WHERE shop_id = $1 AND result_id = $2",
		    2, p, error_r);
	res = db_query(rp->db, "rp_have_alert",
		       "SELECT 1 FROM shop_alerts "
		       "WHERE shop_id = $1 AND result_id = $2",
		       2, p, error_r);
	if (res == NULL)
		return -1;
	have = PQntuples(res) > 0;
	PQclear(res);
	return have ? 0 : store_alert(m, it, result_id, why, error_r);
}

/* Writes the new results of a changed message. */
static int
rp_write_results(struct rp *rp, struct store_msg *m, const GArray *items,
		 char **error_r)
{
	guint i;

	if (rp_delete_results(rp, m, items->len, error_r) < 0)
		return -1;
	for (i = 0; i < items->len; i++) {
		const struct store_item *it =
		    &g_array_index(items, struct store_item, i);
		char result_id[24], *d;
		const char *why;
		bool fatal;
		enum rule_event ev = store_classify(m, it, &fatal, &why);
		bool replay = it->address != NULL && m->shop != NULL;
		int ret;

		d = replay ? g_strdup(RP_PENDING)
		    : ev == RULE_IGNORE
			? g_strconcat("not counted: ", why, NULL)
			: g_strdup(why);
		ret = rp_upsert_result(rp, m, it, fatal, d, replay, result_id,
				       error_r);
		if (ret == 0)
			ret = rp_alert(rp, m, it, ev == RULE_SENDER, result_id,
				       why, error_r);
		g_free(d);
		if (ret < 0)
			return -1;
		if (it->address != NULL)
			rp_add_reason(&rp_affect(rp, m->shop_id, it->address)
					   ->new_reasons,
				      classify_reason_name(it->rcpt->reason));
	}
	return 0;
}

/* Loads the message row (locked) and its recorded results. */
static int
rp_load(struct rp *rp, const char *shop, const char *id, PGresult **msg_r,
	PGresult **old_r, char **error_r)
{
	const char *p[2] = {shop, id};

	*msg_r = db_query(
	    rp->db, "rp_load_message",
	    "SELECT raw, "
	    "floor(extract(epoch FROM occurred_at))::bigint, mailbox_id, "
	    "msg_key, kind, parser, parse_error, subject, from_addr, "
	    "reporting_mta, report_date, feedback_type, order_number, "
	    "mail_type, orig_message_id, orig_envelope_id, orig_from, orig_to, "
	    "orig_subject, orig_date, sha256 FROM messages WHERE shop_id = $1 "
	    "AND message_id = $2 FOR UPDATE",
	    2, p, error_r);
	if (*msg_r == NULL)
		return -1;
	*old_r = db_query(
	    rp->db, "rp_load_results",
	    "SELECT shop_id, "
	    "message_shop_id, message_id, rcpt_index, attribution, "
	    "floor(extract(epoch FROM occurred_at))::bigint, kind, parser, "
	    "recipient, address, original_recipient, action, status, "
	    "replycode, diagnostic, remote_mta, last_attempt, reason, "
	    "hardbounce, side, rule, order_number, mail_type, orig_key "
	    "FROM results WHERE message_shop_id = $1 AND message_id = $2 "
	    "ORDER BY rcpt_index FOR UPDATE",
	    2, p, error_r);
	if (*old_r == NULL) {
		PQclear(*msg_r);
		return -1;
	}
	return 0;
}

/* Records the message in the result list and its old reasons. */
static void
rp_note_changed(struct rp *rp, const struct store_msg *m, const GArray *items,
		const PGresult *msg, const PGresult *old)
{
	struct reprocess_message *c = g_new0(struct reprocess_message, 1);
	int i;

	c->shop_id = g_strdup(m->message_shop);
	c->message_id = g_ascii_strtoll(m->message_id, NULL, 10);
	c->mailbox_id = g_strdup(PQgetvalue(msg, 0, 2));
	c->msg_key = g_strdup(PQgetvalue(msg, 0, 3));
	c->old_summary = rp_old_summary(PQgetvalue(msg, 0, 4), old);
	c->new_summary = rp_new_summary(m, items);
	g_ptr_array_add(rp->result->changed, c);
	for (i = 0; i < PQntuples(old); i++)
		if (!PQgetisnull(old, i, 9))
			rp_add_reason(&rp_affect(rp, PQgetvalue(old, i, 0),
						 PQgetvalue(old, i, 9))
					   ->old_reasons,
				      PQgetvalue(old, i, 17));
}

/* Re-parses one message and, if the outcome differs, rewrites it. */
static int
rp_message(struct rp *rp, const char *shop, const char *id, char **error_r)
{
	struct store_msg m = {0};
	PGresult *msg = NULL, *old = NULL;
	struct bounce_report *report = NULL;
	GArray *items = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	int ret = -1;

	if (rp_load(rp, shop, id, &msg, &old, error_r) < 0)
		return -1;
	if (PQntuples(msg) == 0) { /* gone since listed */
		ret = 0;
		goto out;
	}
	raw =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(msg, 0, 0), &len);
	if (raw == NULL) {
		*error_r = g_strdup("out of memory unescaping a message");
		goto out;
	}
	report = rp->opts->parse((const char *)raw, len, rp->opts->parse_ctx);
	rp->result->messages++;
	m.store = rp->store;
	m.report = report;
	m.message_shop = shop;
	g_strlcpy(m.message_id, id, sizeof(m.message_id));
	/* the event time stays as recorded: re-deriving it would move
	   undated messages to now and make every run differ */
	m.when_s = rp_epoch(msg, 0, 1);
	g_snprintf(m.when, sizeof(m.when), "%" G_GINT64_FORMAT, m.when_s);
	m.orig_key = store_orig_key(report, PQgetvalue(msg, 0, 20));
	store_attribute(&m, shop);
	items = store_items_new(report);
	if (rp_unchanged(&m, items, msg, old)) {
		ret = 0;
		goto out;
	}
	rp_note_changed(rp, &m, items, msg, old);
	if (rp_update_message(rp, &m, error_r) == 0 &&
	    rp_write_results(rp, &m, items, error_r) == 0)
		ret = 0;
out:
	if (items != NULL)
		store_items_free(items);
	g_free(m.orig_key);
	report_free(&report);
	PQfreemem(raw);
	PQclear(msg);
	PQclear(old);
	return ret;
}

/* ------------------------------------------------------------ replay */

/* The replay of one address: the rule's state and what it wrote. */
struct rp_replay {
	const struct store_shop *shop;
	struct reprocess_change *c;
	char *address_utf8;
	struct rule_state st;
	gint64 first_failure, last_success;
	const char *success_why; /* static or from the history result */
	char *supp_rule, *would_rule;
	char supp_result[24];
	bool any_failure;
	GHashTable *origs; /* orig_key -> result_id, borrowed from history */
};

/* Locks (creating) the state row and reads the old state into c.  Sets
 *created_r if the row did not exist. */
static int
rp_lock_state(struct rp *rp, struct reprocess_change *c, bool *created_r,
	      char **error_r)
{
	const char *p[2] = {c->shop_id, c->address};
	PGresult *res;

	res = db_query(
	    rp->db, "rp_lock_state",
	    "INSERT INTO recipient_state "
	    "AS s (shop_id, address) VALUES ($1, $2) ON CONFLICT (shop_id, "
	    "address) DO UPDATE SET updated_at = s.updated_at RETURNING "
	    "(xmax = 0), consecutive, CASE WHEN suppressed_at IS NOT NULL "
	    "THEN coalesce(suppressed_rule, 'manual') END, CASE WHEN "
	    "would_suppress_at IS NOT NULL THEN coalesce(would_suppress_rule, "
	    "'') END",
	    2, p, error_r);
	if (res == NULL)
		return -1;
	*created_r = *PQgetvalue(res, 0, 0) == 't';
	c->old_consecutive = atoi(PQgetvalue(res, 0, 1));
	c->old_suppressed = g_strdup(rp_value(res, 0, 2));
	c->old_would = g_strdup(rp_value(res, 0, 3));
	PQclear(res);
	return 0;
}

/* The results of the address and its manual un-suppressions, in time
   order (a result before an un-suppression of the same instant). */
static PGresult *
rp_history(struct rp *rp, const struct reprocess_change *c, char **error_r)
{
	const char *p[2] = {c->shop_id, c->address};

	return db_query(
	    rp->db, "rp_history",
	    "SELECT ev, id, "
	    "floor(extract(epoch FROM t))::bigint, kind, action, reason, "
	    "hardbounce, side, orig_key, counted, fatal, decision FROM ("
	    "SELECT 'r' AS ev, result_id AS id, occurred_at AS t, kind, "
	    "action, reason, hardbounce, side, orig_key, counted, fatal, "
	    "decision FROM results WHERE shop_id = $1 AND address = $2 "
	    "UNION ALL SELECT 'u', audit_id, at, NULL::text, NULL::text, "
	    "NULL::text, NULL::boolean, NULL::text, NULL::text, "
	    "NULL::boolean, NULL::boolean, NULL::text FROM audit_log WHERE "
	    "shop_id = $1 AND address = $2 AND action = 'unsuppress') h "
	    "ORDER BY t, ev, id",
	    2, p, error_r);
}

/* A manual un-suppression, as query_suppression_remove() applies it. */
static void
rp_unsuppress(struct rp_replay *r, gint64 at)
{
	r->st.suppressed_at = 0;
	r->st.would_suppress_at = 0;
	r->st.consecutive = 0;
	g_clear_pointer(&r->supp_rule, g_free);
	g_clear_pointer(&r->would_rule, g_free);
	r->supp_result[0] = '\0';
	r->last_success = MAX(r->last_success, at);
	r->success_why = "removed from the suppression list";
}

/* Applies one failure result (row of h); sets *counted_r, *decision_r. */
static int
rp_failure(struct rp *rp, struct rp_replay *r, const PGresult *h, int row,
	   bool fatal, bool *counted_r, char **decision_r, char **error_r)
{
	const struct rule_settings *rs = &r->shop->rule;
	const char *orig = PQgetvalue(h, row, 8), *id = PQgetvalue(h, row, 1);
	struct rule_facts f = {0};
	bool suppress;

	f.when = rp_epoch(h, row, 2);
	f.fatal = fatal;
	f.orig_counted = g_hash_table_contains(r->origs, orig);
	r->any_failure = true;
	if (r->st.consecutive > 0 && !f.orig_counted &&
	    store_quiet_send(rp->db, r->c->shop_id, r->c->address,
			     r->address_utf8, r->st.last_failure_at, f.when,
			     rs->grace_days, orig, &f.quiet_send_at,
			     error_r) < 0)
		return -1;
	*counted_r = rule_apply_failure(rs, &r->st, &f, &suppress, decision_r);
	if (!*counted_r)
		return 0;
	if (r->first_failure == 0)
		r->first_failure = f.when;
	g_hash_table_insert(r->origs, (gpointer)orig, (gpointer)id);
	if (!suppress)
		return 0;
	if (rs->dry_run) {
		r->st.would_suppress_at = f.when;
		g_free(r->would_rule);
		r->would_rule =
		    rule_suppress_name(rs, &f, PQgetvalue(h, row, 5));
	} else {
		r->st.suppressed_at = f.when;
		g_free(r->supp_rule);
		r->supp_rule =
		    rule_suppress_name(rs, &f, PQgetvalue(h, row, 5));
		g_strlcpy(r->supp_result, id, sizeof(r->supp_result));
	}
	return 0;
}

/* Replays one result (row of h) and rewrites its decision if it moved. */
static int
rp_result(struct rp *rp, struct rp_replay *r, const PGresult *h, int row,
	  char **error_r)
{
	struct rule_input in = {0};
	const char *why;
	char *decision = NULL;
	bool fatal, counted = false;
	int ret = 0;

	in.kind = PQgetvalue(h, row, 3);
	in.action = rp_value(h, row, 4);
	in.reason = PQgetvalue(h, row, 5);
	in.hardbounce = *PQgetvalue(h, row, 6) == 't';
	in.side = PQgetvalue(h, row, 7);
	in.has_address = true;
	in.attributed = true;
	switch (rule_classify(&r->shop->rule, &in, &fatal, &why)) {
	case RULE_SUCCESS:
		decision = g_strdup(why);
		r->st.consecutive = 0;
		r->last_success = MAX(r->last_success, rp_epoch(h, row, 2));
		r->success_why = why;
		break;
	case RULE_SENDER:
		decision = g_strdup(why);
		break;
	case RULE_FAILURE:
		ret = rp_failure(rp, r, h, row, fatal, &counted, &decision,
				 error_r);
		break;
	case RULE_IGNORE:
	default:
		decision = g_strconcat("not counted: ", why, NULL);
		break;
	}
	if (ret == 0 && (counted != (*PQgetvalue(h, row, 9) == 't') ||
			 fatal != (*PQgetvalue(h, row, 10) == 't') ||
			 !rp_same(decision, PQgetvalue(h, row, 11)))) {
		const char *p[5] = {r->c->shop_id, PQgetvalue(h, row, 1),
				    counted ? "t" : "f", fatal ? "t" : "f",
				    decision};

		r->c->decisions++;
		ret = db_exec(rp->db, "rp_decision",
			      "UPDATE results SET "
			      "counted = $3, fatal = $4, decision = $5 WHERE "
			      "shop_id = $1 "
			      "AND result_id = $2",
			      5, p, error_r);
	}
	g_free(decision);
	return ret;
}

/* Rewrites the counted originals of the address from the replay. */
static int
rp_write_origs(struct rp *rp, struct rp_replay *r, char **error_r)
{
	const char *p[2] = {r->c->shop_id, r->c->address};
	GHashTableIter iter;
	gpointer k, v;

	if (db_exec(rp->db, "rp_origs_clear",
		    "DELETE FROM counted_originals "
		    "WHERE shop_id = $1 AND address = $2",
		    2, p, error_r) < 0)
		return -1;
	g_hash_table_iter_init(&iter, r->origs);
	while (g_hash_table_iter_next(&iter, &k, &v)) {
		const char *pi[4] = {r->c->shop_id, r->c->address, k, v};

		if (db_exec(rp->db, "rp_origs_add",
			    "INSERT INTO "
			    "counted_originals (shop_id, address, orig_key, "
			    "result_id) "
			    "VALUES ($1, $2, $3, $4)",
			    4, pi, error_r) < 0)
			return -1;
	}
	return 0;
}

static char *
rp_time(gint64 t)
{
	return t != 0 ? g_strdup_printf("%" G_GINT64_FORMAT, t) : NULL;
}

/* Writes the replayed state (or drops a row the replay created for an
   address that never failed). */
static int
rp_write_state(struct rp *rp, struct rp_replay *r, bool created, char **error_r)
{
	char cons[16], *first = rp_time(r->first_failure);
	char *lastf = rp_time(r->st.last_failure_at);
	char *lasts = rp_time(r->last_success);
	char *supp = rp_time(r->st.suppressed_at);
	char *would = rp_time(r->st.would_suppress_at);
	const char *p[12] = {r->c->shop_id,
			     r->c->address,
			     cons,
			     first,
			     lastf,
			     lasts,
			     lasts != NULL ? r->success_why : NULL,
			     supp,
			     r->supp_rule,
			     supp != NULL ? r->supp_result : NULL,
			     would,
			     r->would_rule};
	int ret;

	g_snprintf(cons, sizeof(cons), "%d", r->st.consecutive);
	if (created && !r->any_failure)
		ret = db_exec(
		    rp->db, "rp_state_drop",
		    "DELETE FROM "
		    "recipient_state WHERE shop_id = $1 AND address = $2",
		    2, p, error_r);
	else
		ret = db_exec(
		    rp->db, "rp_state",
		    "UPDATE recipient_state SET "
		    "consecutive = $3, first_failure_at = "
		    "to_timestamp($4::float8), last_failure_at = "
		    "to_timestamp($5::float8), last_success_at = "
		    "to_timestamp($6::float8), last_success_why = $7, "
		    "suppressed_at = to_timestamp($8::float8), suppressed_rule "
		    "= $9, suppressed_result = $10::bigint, would_suppress_at "
		    "= "
		    "to_timestamp($11::float8), would_suppress_rule = $12, "
		    "updated_at = now() WHERE shop_id = $1 AND address = $2",
		    12, p, error_r);
	g_free(first);
	g_free(lastf);
	g_free(lasts);
	g_free(supp);
	g_free(would);
	return ret;
}

/* Tells the notifier about an address the replay newly suppressed. */
static int
rp_outbox(struct rp *rp, struct rp_replay *r, char **error_r)
{
	struct reprocess_change *c = r->c;
	bool now_supp = c->new_suppressed != NULL && c->old_suppressed == NULL;
	bool now_would = c->new_would != NULL && c->old_would == NULL;
	const char *p[5] = {c->shop_id,
			    now_supp ? "suppressed" : "would_suppress",
			    now_supp ? r->supp_result : NULL, c->address,
			    now_supp ? c->new_suppressed : c->new_would};

	if (now_supp || now_would)
		rp->result->suppressed++;
	if (c->old_suppressed != NULL && c->new_suppressed == NULL)
		rp->result->unsuppressed++;
	if (!now_supp && !now_would)
		return 0;
	return db_exec(
	    rp->db, "rp_outbox",
	    "INSERT INTO notify_outbox "
	    "(shop_id, kind, result_id, payload) VALUES ($1, $2, $3::bigint, "
	    "jsonb_build_object('address', $4::text, 'rule', $5::text, "
	    "'decision', 'suppressed when reprocessing'))",
	    5, p, error_r);
}

/* Replays the history of one (shop, address). */
static int
rp_replay(struct rp *rp, struct reprocess_change *c, char **error_r)
{
	struct rp_replay r = {0};
	PGresult *h = NULL;
	char *ascii = NULL, *err = NULL;
	bool created;
	int i, ret = -1;

	r.shop = store_find_shop(rp->store, c->shop_id);
	if (r.shop == NULL || strcmp(c->shop_id, STORE_UNATTRIBUTED) == 0)
		return 0; /* no rule without a shop */
	r.c = c;
	if (addr_normalize(c->address, &ascii, &r.address_utf8, &err) < 0)
		g_free(err);
	g_free(ascii);
	r.origs = g_hash_table_new(g_str_hash, g_str_equal);
	if (rp_lock_state(rp, c, &created, error_r) < 0 ||
	    (h = rp_history(rp, c, error_r)) == NULL)
		goto out;
	c->replayed = true;
	for (i = 0; i < PQntuples(h); i++) {
		if (*PQgetvalue(h, i, 0) == 'u')
			rp_unsuppress(&r, rp_epoch(h, i, 2));
		else if (rp_result(rp, &r, h, i, error_r) < 0)
			goto out;
	}
	c->new_consecutive = r.st.consecutive;
	c->new_suppressed =
	    r.st.suppressed_at != 0 ? g_strdup(r.supp_rule) : NULL;
	c->new_would =
	    r.st.would_suppress_at != 0 ? g_strdup(r.would_rule) : NULL;
	if (rp_write_origs(rp, &r, error_r) == 0 &&
	    rp_write_state(rp, &r, created, error_r) == 0 &&
	    rp_outbox(rp, &r, error_r) == 0)
		ret = 0;
out:
	g_hash_table_unref(r.origs);
	g_free(r.address_utf8);
	g_free(r.supp_rule);
	g_free(r.would_rule);
	PQclear(h);
	return ret;
}

/* Audits what the run did to c. */
static int
rp_audit(struct rp *rp, const struct reprocess_change *c, char **error_r)
{
	char oc[16], nc[16], *why;
	const char *p[12];
	int ret;

	g_snprintf(oc, sizeof(oc), "%d", c->old_consecutive);
	g_snprintf(nc, sizeof(nc), "%d", c->new_consecutive);
	why = g_strdup_printf("reprocess since %s", rp->opts->since);
	p[0] = c->shop_id;
	p[1] = rp->opts->actor != NULL ? rp->opts->actor : "bounced";
	p[2] = c->address;
	p[3] = why;
	p[4] = c->old_reasons;
	p[5] = c->new_reasons;
	p[6] = c->replayed ? oc : NULL;
	p[7] = c->replayed ? nc : NULL;
	p[8] = c->old_suppressed;
	p[9] = c->new_suppressed;
	p[10] = c->old_would;
	p[11] = c->new_would;
	ret = db_exec(
	    rp->db, "rp_audit",
	    "INSERT INTO audit_log (shop_id, "
	    "actor, action, address, reason, details) VALUES ($1, $2, "
	    "'reprocess', $3, $4, jsonb_build_object('old_reasons', $5::text, "
	    "'new_reasons', $6::text, 'old_consecutive', $7::int, "
	    "'new_consecutive', $8::int, 'old_suppressed', $9::text, "
	    "'new_suppressed', $10::text, 'old_would_suppress', $11::text, "
	    "'new_would_suppress', $12::text))",
	    12, p, error_r);
	g_free(why);
	return ret;
}

static int
rp_change_cmp(gconstpointer a, gconstpointer b)
{
	const struct reprocess_change *x = *(void *const *)a;
	const struct reprocess_change *y = *(void *const *)b;
	int c = strcmp(x->shop_id, y->shop_id);

	return c != 0 ? c : strcmp(x->address, y->address);
}

/* True if c changed nothing the rule looks at: same reasons, same state,
   same decisions (e.g. only a diagnostic text was re-parsed better). */
static bool
rp_change_noop(const struct reprocess_change *c)
{
	return strcmp(c->old_reasons, c->new_reasons) == 0 &&
	       c->decisions == 0 && c->old_consecutive == c->new_consecutive &&
	       rp_same(c->old_suppressed, c->new_suppressed) &&
	       (c->old_suppressed == NULL) == (c->new_suppressed == NULL) &&
	       rp_same(c->old_would, c->new_would) &&
	       (c->old_would == NULL) == (c->new_would == NULL);
}

/* Replays every affected address in (shop, address) order, the order
   store.c locks in, and audits each that changed; the others are
   dropped from the result. */
static int
rp_replay_all(struct rp *rp, char **error_r)
{
	GPtrArray *changes = rp->result->changes;
	GHashTableIter iter;
	gpointer k, v;
	guint i;

	g_hash_table_iter_init(&iter, rp->affected);
	while (g_hash_table_iter_next(&iter, &k, &v)) {
		g_ptr_array_add(changes, v);
		g_hash_table_iter_steal(&iter);
		g_free(k);
	}
	g_ptr_array_sort(changes, rp_change_cmp);
	for (i = 0; i < changes->len;) {
		if (rp_replay(rp, changes->pdata[i], error_r) < 0)
			return -1;
		if (rp_change_noop(changes->pdata[i])) {
			g_ptr_array_remove_index(changes, i);
			continue;
		}
		if (rp_audit(rp, changes->pdata[i], error_r) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* ------------------------------------------------------------- driver */

/* The messages of the run, oldest first: (shop_id, message_id). */
static PGresult *
rp_list(struct rp *rp, char **error_r)
{
	const char *p[2] = {rp->opts->shop_id, rp->opts->since};

	return db_query(
	    rp->db, NULL,
	    "SELECT m.shop_id, m.message_id FROM "
	    "messages m WHERE (m.shop_id = $1 OR EXISTS (SELECT 1 FROM results "
	    "r WHERE r.shop_id = $1 AND r.message_shop_id = m.shop_id AND "
	    "r.message_id = m.message_id)) AND m.occurred_at >= "
	    "$2::timestamptz ORDER BY m.occurred_at, m.message_id",
	    2, p, error_r);
}

static int
rp_run_tx(struct rp *rp, char **error_r)
{
	PGresult *list;
	int i;

	if (db_begin(rp->db, error_r) < 0)
		return -1;
	if ((list = rp_list(rp, error_r)) == NULL)
		goto fail;
	for (i = 0; i < PQntuples(list); i++)
		if (rp_message(rp, PQgetvalue(list, i, 0),
			       PQgetvalue(list, i, 1), error_r) < 0)
			break;
	if (i < PQntuples(list)) {
		PQclear(list);
		goto fail;
	}
	PQclear(list);
	if (rp_replay_all(rp, error_r) < 0)
		goto fail;
	if (rp->opts->dry_run) {
		db_rollback(rp->db);
		return 0;
	}
	if (db_commit(rp->db, error_r) < 0)
		goto fail;
	rp->result->committed = true;
	return 0;
fail:
	db_rollback(rp->db);
	return -1;
}

int
reprocess_run(struct store *store, const struct reprocess_options *opts,
	      struct reprocess_result **result_r, char **error_r)
{
	struct rp rp = {0};
	int ret;

	*result_r = NULL;
	if (opts->shop_id == NULL || opts->since == NULL ||
	    opts->parse == NULL) {
		*error_r = g_strdup("reprocess needs a shop, a date and a "
				    "parser");
		return -1;
	}
	/* the shop list may have changed since this store last looked */
	store_reload_shops(store);
	if (store_shop_exists(store, opts->shop_id, error_r) < 0)
		return -1;
	rp.store = store;
	rp.db = store->db;
	rp.opts = opts;
	rp.affected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    rp_change_free);
	rp.result = g_new0(struct reprocess_result, 1);
	rp.result->changed = g_ptr_array_new_with_free_func(rp_message_free);
	rp.result->changes = g_ptr_array_new_with_free_func(rp_change_free);
	ret = rp_run_tx(&rp, error_r);
	g_hash_table_unref(rp.affected);
	if (ret < 0)
		reprocess_result_free(&rp.result);
	*result_r = rp.result;
	return ret;
}
