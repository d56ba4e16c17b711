/*
 * notify.c - composes notices from the outbox and sends them; see
 * notify.h for the delivery guarantee.
 *
 * Composing, per shop, in one transaction over the shop's unassigned
 * outbox rows (locked FOR UPDATE SKIP LOCKED):
 *   - the rows of one result (a failure, and "suppressed" when it
 *     suppressed the address) make one item;
 *   - per-failure mode: one notice per item while the shop is under its
 *     cap of notices per hour; the rest, and every item in digest mode,
 *     wait for the digest, which is composed when the shop's last digest
 *     is at least digest_interval old (the first one at once);
 *   - sender-side rows are grouped by provider and reason; a group gets
 *     an alert unless one for the same provider and reason was composed
 *     within alert_period, in which case its rows wait for the next one.
 * Shops without a notify address have their rows given up (failed_at);
 * with no relay configured, rows wait in the outbox.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounced/log.h"
#include "bounced/notice.h"
#include "bounced/notify.h"
#include "db/outbox.h"

#define NOTIFY_BATCH     500 /* outbox rows per shop per drain */
#define NOTIFY_MAX_SENDS 500 /* notices per drain */

/* One item: the rows of one result. */
struct notify_item {
	struct notice_item it;
	const struct outbox_row *row; /* the first row (facts) */
	GArray *ids;                  /* gint64 outbox ids */
};

/* The state of composing one shop. */
struct notify_shop {
	struct notify_ctx *ctx;
	const struct outbox_shop *shop;
	const struct config_notify *cfg;
	struct notice_shop ns;
	struct notify_stats *st;
};

void
notify_init(struct notify_ctx *ctx, struct db *db,
	    const struct bounced_config *cfg, volatile sig_atomic_t *stop)
{
	const char *slow = g_getenv("BOUNCED_NOTIFY_SLOW");

	memset(ctx, 0, sizeof(*ctx));
	ctx->db = db;
	ctx->cfg = cfg;
	ctx->stop = stop;
	ctx->slow_ms = slow != NULL ? atoi(slow) : 0;
}

static const struct config_notify *
notify_settings(const struct bounced_config *cfg, const char *shop_id)
{
	const struct bounced_shop *s = config_find_shop(cfg, shop_id);

	return s != NULL ? &s->notice : &cfg->notice;
}

static bool
notify_ja(const struct config_notify *cfg)
{
	return strcmp(cfg->language, "en") != 0;
}

static void
notify_item_free(gpointer p)
{
	struct notify_item *i = p;

	g_array_free(i->ids, TRUE);
	g_free(i);
}

/* Groups the recipient-side rows by result into items. */
static GPtrArray *
notify_items(GPtrArray *rows)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(notify_item_free);
	GHashTable *by = g_hash_table_new(g_int64_hash, g_int64_equal);
	guint i;

	for (i = 0; i < rows->len; i++) {
		const struct outbox_row *r = rows->pdata[i];
		struct notify_item *it;

		if (strcmp(r->kind, "sender_alert") == 0)
			continue;
		if ((it = g_hash_table_lookup(by, &r->result_id)) == NULL) {
			it = g_new0(struct notify_item, 1);
			it->row = r;
			it->ids = g_array_new(FALSE, FALSE, sizeof(gint64));
			it->it.recipient =
			    r->recipient != NULL ? r->recipient : r->address;
			it->it.mail_type = r->mail_type;
			it->it.order_number = r->order_number;
			it->it.occurred_at = r->occurred_at;
			it->it.reason = r->reason;
			it->it.status = r->status;
			it->it.diagnostic = r->diagnostic;
			it->it.orig_subject = r->orig_subject;
			it->it.orig_from = r->orig_from;
			it->it.decision = r->decision;
			it->it.sender_side = g_strcmp0(r->side, "sender") == 0;
			g_hash_table_insert(by, (gpointer)&r->result_id, it);
			g_ptr_array_add(items, it);
		}
		if (strcmp(r->kind, "suppressed") == 0)
			it->it.suppressed = true;
		else if (strcmp(r->kind, "would_suppress") == 0)
			it->it.would_suppress = true;
		g_array_append_val(it->ids, r->outbox_id);
	}
	g_hash_table_destroy(by);
	return items;
}

/* Stores a built mail for rows ids[0..n).  Returns 0 or -1. */
static int
notify_store(struct notify_shop *ns, const char *kind, const char *key,
	     struct notice_mail *mail, const gint64 *ids, size_t n)
{
	char *error = NULL;

	if (mail->warning != NULL)
		log_warnx("%s: %s; the built-in template was used",
			  ns->shop->id, mail->warning);
	if (outbox_notice_add(ns->ctx->db, ns->shop->id, kind, key,
			      (const char *const *)ns->shop->notify,
			      ns->cfg->envelope_from, ns->cfg->from,
			      mail->message_id, mail->data, mail->len, ids, n,
			      &error) < 0) {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
		return -1;
	}
	ns->st->composed++;
	log_debug("%s: %s notice <%s> composed for %zu outbox row%s",
		  ns->shop->id, kind, mail->message_id, n, n == 1 ? "" : "s");
	return 0;
}

static int
notify_one_failure(struct notify_shop *ns, struct notify_item *it)
{
	struct notice_mail mail;
	char *error = NULL;
	int ret;

	if (notice_build_failure(&ns->ns, &it->it,
				 g_get_real_time() / G_USEC_PER_SEC, &mail,
				 &error) < 0) {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
		return -1;
	}
	ret = notify_store(ns, "failure", NULL, &mail,
			   (const gint64 *)(void *)it->ids->data, it->ids->len);
	notice_mail_clear(&mail);
	return ret;
}

/* One digest of items (those with digest set). */
static int
notify_digest(struct notify_shop *ns, GPtrArray *items, bool capped)
{
	GArray *its = g_array_new(FALSE, FALSE, sizeof(struct notice_item));
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	struct notice_mail mail;
	char *note, *error = NULL;
	guint i;
	int ret = -1;

	for (i = 0; i < items->len; i++) {
		struct notify_item *it = items->pdata[i];

		g_array_append_val(its, it->it);
		g_array_append_vals(ids, it->ids->data, it->ids->len);
	}
	if (capped)
		note = g_strdup_printf(
		    notify_ja(ns->cfg)
			? "\n1 時間あたりの通知の上限（%d "
			  "通）を超えたため、まとめてお送りします。\n"
			: "\nThe limit of %d notices per hour was reached, so "
			  "these come together.\n",
		    ns->cfg->cap_per_hour);
	else
		note = g_strdup("");
	if (notice_build_digest(
		&ns->ns, (struct notice_item *)(void *)its->data, its->len,
		note, g_get_real_time() / G_USEC_PER_SEC, &mail, &error) == 0) {
		ret = notify_store(ns, "digest", NULL, &mail,
				   (const gint64 *)(void *)ids->data, ids->len);
		notice_mail_clear(&mail);
	} else {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
	}
	g_free(note);
	g_array_free(its, TRUE);
	g_array_free(ids, TRUE);
	return ret;
}

/* Per-failure notices up to the cap, then the digest if it is due. */
static int
notify_failures(struct notify_shop *ns, GPtrArray *rows)
{
	GPtrArray *items = notify_items(rows);
	GPtrArray *later = g_ptr_array_new();
	gint64 since_digest;
	int sent_hour, ret = 0;
	char *error = NULL;
	guint i;

	if (outbox_recent(ns->ctx->db, ns->shop->id, &sent_hour, &since_digest,
			  &error) < 0) {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
		ret = -1;
		goto out;
	}
	for (i = 0; ret == 0 && i < items->len; i++) {
		struct notify_item *it = items->pdata[i];

		if (ns->cfg->mode == CONFIG_NOTIFY_DIGEST ||
		    (ns->cfg->cap_per_hour > 0 &&
		     sent_hour >= ns->cfg->cap_per_hour))
			g_ptr_array_add(later, it);
		else if ((ret = notify_one_failure(ns, it)) == 0)
			sent_hour++;
	}
	if (ret == 0 && later->len > 0 &&
	    (since_digest < 0 ||
	     since_digest >= (gint64)ns->cfg->digest_interval * 60))
		ret = notify_digest(ns, later,
				    ns->cfg->mode != CONFIG_NOTIFY_DIGEST);
out:
	g_ptr_array_unref(later);
	g_ptr_array_unref(items);
	return ret;
}

/* Builds and stores one alert for the rows of one provider and reason. */
static int
notify_alert(struct notify_shop *ns, const char *key, GPtrArray *rows)
{
	GPtrArray *ex = g_ptr_array_new();
	GHashTable *who = g_hash_table_new(g_str_hash, g_str_equal);
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	const struct outbox_row *last = rows->pdata[rows->len - 1];
	struct notice_alert a = {0};
	struct notice_mail mail;
	char *provider = g_strndup(key, strcspn(key, "/")), *error = NULL;
	guint i;
	int ret = -1;

	a.first_at = G_MAXINT64;
	for (i = 0; i < rows->len; i++) {
		const struct outbox_row *r = rows->pdata[i];
		const char *addr = r->address != NULL ? r->address : "";

		g_array_append_val(ids, r->outbox_id);
		a.first_at = MIN(a.first_at, r->occurred_at);
		a.last_at = MAX(a.last_at, r->occurred_at);
		if (!g_hash_table_add(who, (gpointer)addr) || ex->len >= 5)
			continue;
		g_ptr_array_add(ex, (gpointer)addr);
	}
	g_ptr_array_add(ex, NULL);
	a.provider = provider;
	a.reason = last->reason;
	a.status = last->status;
	a.diagnostic = last->diagnostic;
	a.orig_from = last->orig_from;
	a.customers = g_hash_table_size(who);
	a.count = rows->len;
	a.examples = (const char *const *)ex->pdata;
	if (notice_build_alert(&ns->ns, &a, g_get_real_time() / G_USEC_PER_SEC,
			       &mail, &error) == 0) {
		ret = notify_store(ns, "alert", key, &mail,
				   (const gint64 *)(void *)ids->data, ids->len);
		notice_mail_clear(&mail);
	} else {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
	}
	g_free(provider);
	g_array_free(ids, TRUE);
	g_hash_table_destroy(who);
	g_ptr_array_unref(ex);
	return ret;
}

/* Sender-side rows: one alert per provider and reason and period. */
static int
notify_alerts(struct notify_shop *ns, GPtrArray *rows)
{
	GHashTable *groups = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
	GPtrArray *keys = g_ptr_array_new();
	char *error = NULL;
	guint i;
	int ret = 0;

	for (i = 0; i < rows->len; i++) {
		const struct outbox_row *r = rows->pdata[i];
		char *p, *key;
		GPtrArray *g;

		if (strcmp(r->kind, "sender_alert") != 0)
			continue;
		p = notice_provider(r->provider != NULL ? r->provider
							: r->remote_mta,
				    r->recipient);
		key = g_strdup_printf("%s/%s", p, r->reason);
		g_free(p);
		if ((g = g_hash_table_lookup(groups, key)) == NULL) {
			g = g_ptr_array_new();
			g_hash_table_insert(groups, key, g);
			g_ptr_array_add(keys, key);
		} else
			g_free(key);
		g_ptr_array_add(g, (gpointer)r);
	}
	for (i = 0; ret == 0 && i < keys->len; i++) {
		bool recent;

		if (outbox_alert_recent(ns->ctx->db, ns->shop->id,
					keys->pdata[i], ns->cfg->alert_period,
					&recent, &error) < 0) {
			log_warnx("%s: %s", ns->shop->id, error);
			g_free(error);
			ret = -1;
		} else if (!recent)
			ret = notify_alert(
			    ns, keys->pdata[i],
			    g_hash_table_lookup(groups, keys->pdata[i]));
	}
	g_ptr_array_unref(keys);
	g_hash_table_destroy(groups);
	return ret;
}

/* Gives up every pending row of a shop that has nobody to tell. */
static int
notify_drop(struct notify_shop *ns, GPtrArray *rows)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	char *error = NULL;
	guint i;
	int ret;

	for (i = 0; i < rows->len; i++)
		g_array_append_val(
		    ids, ((struct outbox_row *)rows->pdata[i])->outbox_id);
	ret = outbox_drop(ns->ctx->db, ns->shop->id,
			  (const gint64 *)(void *)ids->data, ids->len,
			  "the shop has no notify address", &error);
	if (ret < 0) {
		log_warnx("%s: %s", ns->shop->id, error);
		g_free(error);
	} else
		ns->st->dropped += ids->len;
	g_array_free(ids, TRUE);
	return ret;
}

/* Composes the notices of one shop in one transaction. */
static int
notify_compose_shop(struct notify_ctx *ctx, const struct outbox_shop *shop,
		    struct notify_stats *st)
{
	struct notify_shop ns = {
	    ctx, shop, notify_settings(ctx->cfg, shop->id), {0}, st};
	GPtrArray *rows = NULL;
	char *error = NULL;
	int ret;

	ns.ns.id = shop->id;
	ns.ns.name = shop->name != NULL && *shop->name ? shop->name : shop->id;
	ns.ns.to = (const char *const *)shop->notify;
	ns.ns.cfg = ns.cfg;
	if (ns.cfg->smtp.host == NULL && shop->notify[0] != NULL)
		return 0; /* no relay: the rows wait */
	if (db_begin(ctx->db, &error) < 0 ||
	    outbox_pending(ctx->db, shop->id, NOTIFY_BATCH, &rows, &error) <
		0) {
		log_warnx("notifier: %s: %s", shop->id, error);
		g_free(error);
		db_rollback(ctx->db);
		return -1;
	}
	if (shop->notify[0] == NULL)
		ret = notify_drop(&ns, rows);
	else if ((ret = notify_failures(&ns, rows)) == 0)
		ret = notify_alerts(&ns, rows);
	if (ret == 0 && db_commit(ctx->db, &error) < 0) {
		log_warnx("notifier: %s: %s", shop->id, error);
		g_free(error);
		ret = -1;
	}
	if (ret < 0)
		db_rollback(ctx->db);
	g_ptr_array_unref(rows);
	return ret;
}

static int
notify_compose(struct notify_ctx *ctx, struct notify_stats *st)
{
	GPtrArray *shops = NULL;
	char *error = NULL;
	guint i;

	if (db_ensure(ctx->db, &error) < 0 ||
	    outbox_shops(ctx->db, &shops, &error) < 0) {
		log_warnx("notifier: %s", error);
		g_free(error);
		return -1;
	}
	for (i = 0; i < shops->len; i++) {
		const struct outbox_shop *s = shops->pdata[i];

		if (notify_settings(ctx->cfg, s->id)->smtp.host == NULL &&
		    s->notify[0] != NULL && !ctx->told_no_relay) {
			log_info("notifier: no smtp relay configured "
				 "(notifier.smtp): notifications wait in the "
				 "outbox");
			ctx->told_no_relay = true;
		}
		/* one shop failing (e.g. a bad template) does not stop the
		   others; a lost connection does */
		if (notify_compose_shop(ctx, s, st) < 0 &&
		    PQstatus(db_conn(ctx->db)) != CONNECTION_OK)
			break;
	}
	g_ptr_array_unref(shops);
	return PQstatus(db_conn(ctx->db)) == CONNECTION_OK ? 0 : -1;
}

/* Sends n (locked by the caller's transaction) and records the outcome. */
static int
notify_send_one(struct notify_ctx *ctx, const struct outbox_notice *n,
		struct notify_stats *st, char **error_r)
{
	const struct config_notify *cfg = notify_settings(ctx->cfg, n->shop_id);
	char *warning = NULL, *why = NULL;
	enum notify_smtp_result r;
	gint64 age = g_get_real_time() / G_USEC_PER_SEC - n->created_at;
	int delay, ret;

	if (cfg->smtp.host == NULL) {
		why = g_strdup("no smtp relay configured");
		r = NOTIFY_SMTP_TEMP;
	} else
		r = notify_smtp_send(&cfg->smtp, n->env_from,
				     (const char *const *)n->rcpts, n->data,
				     n->len, &warning, &why);
	if (r == NOTIFY_SMTP_SENT) {
		ret = outbox_notice_sent(ctx->db, n, warning, error_r);
		st->sent++;
		log_info("%s: notice <%s> sent to %s%s%s", n->shop_id,
			 n->message_id, n->rcpts[0], warning ? "; " : "",
			 warning ? warning : "");
	} else if (r == NOTIFY_SMTP_PERM || age > NOTIFY_GIVE_UP) {
		ret = outbox_notice_failed(ctx->db, n, why, error_r);
		st->failed++;
		log_warnx("%s: notice <%s> not sent, given up: %s", n->shop_id,
			  n->message_id, why);
	} else {
		delay = 60 << MIN(n->attempts, 6);
		delay = MIN(delay, 3600);
		ret = outbox_notice_retry(ctx->db, n, delay, why, error_r);
		st->retried++;
		log_warnx("%s: notice <%s> not sent, retry in %d s: %s",
			  n->shop_id, n->message_id, delay, why);
	}
	g_free(warning);
	g_free(why);
	return ret;
}

static int
notify_send(struct notify_ctx *ctx, struct notify_stats *st)
{
	struct outbox_notice *n = NULL;
	char *error = NULL;
	bool in_tx = false;
	int i, r;

	for (i = 0; i < NOTIFY_MAX_SENDS && !(ctx->stop && *ctx->stop); i++) {
		if (db_begin(ctx->db, &error) < 0)
			break;
		in_tx = true;
		if ((r = outbox_notice_next(ctx->db, &n, &error)) <= 0)
			break;
		if (ctx->slow_ms > 0)
			g_usleep((gulong)ctx->slow_ms * 1000);
		r = notify_send_one(ctx, n, st, &error);
		outbox_notice_free(&n);
		if (r < 0 || db_commit(ctx->db, &error) < 0)
			break;
		in_tx = false;
	}
	if (in_tx)
		db_rollback(ctx->db);
	if (error != NULL) {
		log_warnx("notifier: %s", error);
		g_free(error);
		return -1;
	}
	return 0;
}

int
notify_drain(struct notify_ctx *ctx, struct notify_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (notify_compose(ctx, st) < 0)
		return -1;
	return notify_send(ctx, st);
}

gint64
notify_tick(struct notify_ctx *ctx, bool polled)
{
	gint64 now = g_get_monotonic_time() / G_USEC_PER_SEC;
	struct notify_stats st;

	if (polled || now >= ctx->due) {
		if (notify_drain(ctx, &st) == 0 &&
		    (st.composed || st.sent || st.failed || st.retried))
			log_info("notifier: %u composed, %u sent, %u to "
				 "retry, %u given up",
				 st.composed, st.sent, st.retried, st.failed);
		ctx->due = now + ctx->cfg->notice.interval;
	}
	return ctx->due;
}
