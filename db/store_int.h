/*
 * store_int.h - store.c's internals shared with reprocess.c, which
 * rewrites recorded results with the same attribution, address
 * normalisation and column values as recording does.  Not for use
 * outside db/.
 */
#ifndef BOUNCED_STORE_INT_H
#define BOUNCED_STORE_INT_H

#include "db/rule.h"
#include "db/store.h"

/* A shop as the rule sees it (loaded once per store, see
   store_reload_shops()). */
struct store_shop {
	char *id;
	char *domains;
	char *fatal;
	struct rule_settings rule;
};

struct store {
	struct db *db;
	GPtrArray *shops; /* of struct store_shop *, NULL until loaded */
};

/* One recipient on its way into the database. */
struct store_item {
	unsigned index;
	const struct bounce_rcpt *rcpt;
	char *address; /* normalised, NULL if not an address */
	char *address_utf8;
};

/* Per-message context. */
struct store_msg {
	struct store *store;
	const struct bounce_report *report;
	const struct store_shop *shop; /* attributed, NULL: unattributed */
	const char *shop_id;
	const char *message_shop;
	char message_id[24];
	char when[32]; /* Unix seconds of the event */
	gint64 when_s;
	char *orig_key;
	const char *attribution;
	struct store_outcome *out;
};

/* Number of values store_result_params() fills; the columns, in order:
   shop_id, message_shop_id, message_id, rcpt_index, attribution,
   occurred_at (Unix seconds), kind, parser, recipient, address,
   original_recipient, action, status, replycode, diagnostic, remote_mta,
   last_attempt, reason, hardbounce, side, rule, order_number, mail_type,
   orig_key. */
#define STORE_RESULT_PARAMS 24

/* Number of values store_message_params() fills; the columns of
   messages, in order: kind, parser, parse_error, subject, from_addr,
   reporting_mta, report_date, feedback_type, order_number, mail_type,
   orig_message_id, orig_envelope_id, orig_from, orig_to, orig_subject,
   orig_date. */
#define STORE_MESSAGE_PARAMS 16

/* Loads the shop list if not loaded yet.  Returns 0 or -1. */
int store_load_shops(struct store *store, char **error_r);

/* The loaded shop with id, or NULL. */
const struct store_shop *store_find_shop(struct store *store, const char *id);

/* Sets m->shop, m->shop_id and m->attribution (issue 3 §4). */
void store_attribute(struct store_msg *m, const char *mailbox_shop);

/* The event time of report (Unix seconds): its date if sane, else now. */
gint64 store_event_time(const struct bounce_report *report);

/* s, or NULL when s is NULL or empty. */
const char *store_nz(const char *s);

/* Orders items by address (C order), those without one last. */
int store_item_cmp(gconstpointer a, gconstpointer b);

/* "mid:<id>" / "env:<id>" / "msg:<sha256>": one original mail; g_free. */
char *store_orig_key(const struct bounce_report *report, const char *sha);

/* The recipients of report with their normalised addresses, in report
   order; free with store_items_free(). */
GArray *store_items_new(const struct bounce_report *report);
void store_items_free(GArray *items);

/* What the rule makes of item in m (see rule_classify()). */
enum rule_event store_classify(const struct store_msg *m,
			       const struct store_item *it, bool *fatal_r,
			       const char **why_r);

/* Fills params[0..STORE_RESULT_PARAMS-1] for item; index_buf (16 bytes)
   holds the index.  The strings are borrowed from m, it and the report. */
void store_result_params(const struct store_msg *m, const struct store_item *it,
			 const char **params, char *index_buf);

/* Fills params[0..STORE_MESSAGE_PARAMS-1] from report (borrowed). */
void store_message_params(const struct bounce_report *report,
			  const char **params);

/* Sets *at_r to the latest send to address (or its UTF-8 form) of shop
   after last_failure_at and at least grace_days before when that is not
   the original orig_key and drew no failure of its own, or 0. */
int store_quiet_send(struct db *db, const char *shop_id, const char *address,
		     const char *address_utf8, gint64 last_failure_at,
		     gint64 when, int grace_days, const char *orig_key,
		     gint64 *at_r, char **error_r);

/* Number of values store_alert_params() fills; the columns of
   shop_alerts, in order: shop_id, result_id, provider (the remote MTA,
   else the reporting MTA), reason, status, diagnostic. */
#define STORE_ALERT_PARAMS 6

/* Fills params[0..STORE_ALERT_PARAMS-1] for the alert of item (result
   result_id); borrowed strings. */
void store_alert_params(const struct store_msg *m, const struct store_item *it,
			const char *result_id, const char **params);

/* Number of values store_outbox_params() fills: shop_id, kind,
   result_id, then the payload's address, reason, order_number,
   mail_type and decision, then orig_message_id. */
#define STORE_OUTBOX_PARAMS 9

/* Fills params[0..STORE_OUTBOX_PARAMS-1] for an outbox row of kind for
   item (result result_id); borrowed strings. */
void store_outbox_params(const struct store_msg *m, const char *kind,
			 const char *result_id, const struct store_item *it,
			 const char *decision, const char **params);

/* Inserts a shop alert and its outbox row for the sender-side result
   result_id of item. */
int store_alert(struct store_msg *m, const struct store_item *it,
		const char *result_id, const char *why, char **error_r);

/* The original's Message-ID as outbox rows carry it for the notice
   guard (007_outbox_guard_set.sql): "" when it has none; static or
   borrowed from report. */
const char *store_orig_message_id(const struct bounce_report *report);

/* Writes an outbox row of kind for result_id. */
int store_outbox(struct store_msg *m, const char *kind, const char *result_id,
		 const struct store_item *it, const char *decision,
		 char **error_r);

#endif
