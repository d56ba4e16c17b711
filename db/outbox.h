/*
 * outbox.h - the notifier's side of the database: reading the outbox
 * (notify_outbox, written by store.c in the recording transaction),
 * storing composed notices (notify_notices, 003_notify.sql) and their
 * delivery state.
 *
 * Two phases, each its own transaction, so several notifiers (and
 * several bounced instances) can share one database:
 *   compose: outbox_pending() locks a shop's unassigned rows FOR UPDATE
 *            SKIP LOCKED; outbox_notice_add() stores the finished mail
 *            and assigns the rows to it; COMMIT.
 *   send:    outbox_notice_next() locks one due notice FOR UPDATE SKIP
 *            LOCKED; the caller sends it; outbox_notice_sent() (or
 *            _retry/_failed) records the outcome; COMMIT.
 * Never logs; errors as in db.h.
 */
#ifndef BOUNCED_OUTBOX_H
#define BOUNCED_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "db/db.h"

/* A shop with outbox rows waiting to be composed. */
struct outbox_shop {
	char *id;
	char *name;
	char **notify; /* NULL-terminated, from the shops table */
};

/* One outbox row with the facts of its result. */
struct outbox_row {
	gint64 outbox_id;
	char *kind; /* failure, suppressed, would_suppress, sender_alert */
	gint64 result_id;
	gint64 created_at; /* unix seconds */
	char *recipient, *address, *reason, *side, *status, *diagnostic;
	char *remote_mta, *order_number, *mail_type, *decision;
	char *orig_subject, *orig_from, *provider; /* provider: shop_alerts */
	gint64 occurred_at;
};

/* A stored notice, as the sender needs it. */
struct outbox_notice {
	char *shop_id;
	gint64 notice_id;
	char *message_id;
	char **rcpts; /* NULL-terminated */
	char *env_from;
	char *data;
	size_t len;
	int attempts;
	gint64 created_at;
};

/* The shops with uncomposed rows (GPtrArray of struct outbox_shop *,
   owning; g_ptr_array_unref). */
int outbox_shops(struct db *db, GPtrArray **shops_r, char **error_r);

/* In a transaction: locks and returns up to limit uncomposed rows of
   shop, oldest first (GPtrArray of struct outbox_row *, owning). */
int outbox_pending(struct db *db, const char *shop_id, int limit,
		   GPtrArray **rows_r, char **error_r);

/* Per-failure notices of shop created in the last hour; and seconds since
   its last digest (-1: never). */
int outbox_recent(struct db *db, const char *shop_id, int *failures_r,
		  gint64 *since_digest_r, char **error_r);

/* True in *recent_r if an alert with key was created for shop in the
   last minutes. */
int outbox_alert_recent(struct db *db, const char *shop_id, const char *key,
			int minutes, bool *recent_r, char **error_r);

/* Stores a composed notice and assigns rows ids[0..n) to it.  rcpts is
   NULL-terminated; env_from "" is the null sender. */
int outbox_notice_add(struct db *db, const char *shop_id, const char *kind,
		      const char *alert_key, const char *const *rcpts,
		      const char *env_from, const char *from_addr,
		      const char *message_id, const char *data, size_t len,
		      const gint64 *ids, size_t n, char **error_r);

/* Gives up rows ids[0..n) of shop for good (failed_at, last_error). */
int outbox_drop(struct db *db, const char *shop_id, const gint64 *ids, size_t n,
		const char *why, char **error_r);

/* In a transaction: locks the next due queued notice.  Returns 1 and
 *notice_r (outbox_notice_free), 0 if none is due, -1. */
int outbox_notice_next(struct db *db, struct outbox_notice **notice_r,
		       char **error_r);

/* The relay accepted n: it and its rows are sent.  warning (or NULL)
   is kept as last_error, e.g. recipients the relay refused. */
int outbox_notice_sent(struct db *db, const struct outbox_notice *n,
		       const char *warning, char **error_r);

/* A temporary failure: try again in delay seconds. */
int outbox_notice_retry(struct db *db, const struct outbox_notice *n, int delay,
			const char *why, char **error_r);

/* A permanent failure: never retried; its rows get failed_at. */
int outbox_notice_failed(struct db *db, const struct outbox_notice *n,
			 const char *why, char **error_r);

void outbox_shop_free(gpointer p);
void outbox_row_free(gpointer p);
void outbox_notice_free(struct outbox_notice **n);

#endif
