/*
 * store.c - what recording needs besides the transaction itself: the
 * shop list, attribution, the column values of message and result rows,
 * the send-log fact of the rule, and the row writers reprocess.c shares;
 * see store.h.  The transaction (one message or many) is in
 * store_batch.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <nettle/sha2.h>

#include "db/addr.h"
#include "db/rule.h"
#include "db/store.h"
#include "db/store_int.h"
#include "parsers/classify.h"

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
	static const char hex[] = "0123456789abcdef";
	guint8 md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	char *out = g_malloc(2 * sizeof(md) + 1);
	size_t i;

	/* nettle uses the CPU's SHA instructions where there are: several
	   times glib's speed, and every recorded message is hashed */
	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)data);
	sha256_digest(&ctx, sizeof(md), md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * sizeof(md)] = '\0';
	return out;
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
gint64
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

const char *
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

const char *
store_orig_message_id(const struct bounce_report *report)
{
	return report->original.message_id != NULL
		   ? report->original.message_id
		   : "";
}

void
store_outbox_params(const struct store_msg *m, const char *kind,
		    const char *result_id, const struct store_item *it,
		    const char *decision, const char **params)
{
	int n = 0;

	params[n++] = m->shop_id;
	params[n++] = kind;
	params[n++] = result_id;
	params[n++] = it->address;
	params[n++] = classify_reason_name(it->rcpt->reason);
	params[n++] = store_nz(m->report->order_number);
	params[n++] = store_nz(m->report->mail_type);
	params[n++] = decision;
	params[n++] = store_orig_message_id(m->report);
	g_assert(n == STORE_OUTBOX_PARAMS);
}

int
store_outbox(struct store_msg *m, const char *kind, const char *result_id,
	     const struct store_item *it, const char *decision, char **error_r)
{
	const char *params[STORE_OUTBOX_PARAMS];

	store_outbox_params(m, kind, result_id, it, decision, params);
	return db_exec(
	    m->store->db, "store_outbox",
	    "INSERT INTO notify_outbox (shop_id, kind, result_id, payload, "
	    "orig_message_id) VALUES ($1, $2, $3, jsonb_strip_nulls("
	    "jsonb_build_object('address', $4::text, 'reason', $5::text, "
	    "'order_number', $6::text, 'mail_type', $7::text, 'decision', "
	    "$8::text)), $9)",
	    STORE_OUTBOX_PARAMS, params, error_r);
}

void
store_alert_params(const struct store_msg *m, const struct store_item *it,
		   const char *result_id, const char **params)
{
	const struct bounce_rcpt *rc = it->rcpt;
	int n = 0;

	params[n++] = m->shop_id;
	params[n++] = result_id;
	params[n++] =
	    rc->remote_mta != NULL ? rc->remote_mta : m->report->reporting_mta;
	params[n++] = classify_reason_name(rc->reason);
	params[n++] = store_nz(rc->status);
	params[n++] = rc->diagnostic;
	g_assert(n == STORE_ALERT_PARAMS);
}

int
store_alert(struct store_msg *m, const struct store_item *it,
	    const char *result_id, const char *why, char **error_r)
{
	const char *params[STORE_ALERT_PARAMS];

	store_alert_params(m, it, result_id, params);
	if (db_exec(m->store->db, "store_alert",
		    "INSERT INTO shop_alerts (shop_id, result_id, provider, "
		    "reason, status, diagnostic) VALUES ($1, $2, $3, $4, $5, "
		    "$6)",
		    STORE_ALERT_PARAMS, params, error_r) < 0 ||
	    store_outbox(m, "sender_alert", result_id, it, why, error_r) < 0)
		return -1;
	if (m->out != NULL)
		m->out->alerts++;
	return 0;
}

static gint64
store_epoch(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
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

int
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

int
store_record(struct store *store, const struct store_source *src,
	     const char *raw, size_t len, const struct bounce_report *report,
	     struct store_outcome *out, char **error_r)
{
	struct store_input in = {*src, raw, len, report, {0}};
	int ret = store_record_batch(store, &in, 1, error_r);

	*out = in.out;
	return ret;
}
