/*
 * notify.h - the notifier: drains the notification outbox into
 * メールエラー通知 mails and submits them to the configured SMTP relay.
 *
 * The recording transaction (db/store.c) writes outbox rows; the
 * notifier, separately, composes notices from them (one per failure, a
 * digest, or a sender-side alert; see notice.h) and stores each finished
 * mail before sending it, then sends the stored bytes (db/outbox.h).
 * Delivery guarantee: a notice is marked sent in the same transaction
 * that holds its row lock during the SMTP exchange, after the relay's
 * final 250.  A crash before that COMMIT leaves it queued and it is sent
 * again, byte for byte with the same Message-ID; that window (the time
 * between the relay's 250 and our COMMIT, normally milliseconds) is the
 * only way a notice can arrive twice, and the copies are identical.
 * A permanent SMTP error (5xx) is recorded and never retried; temporary
 * ones are retried with exponential backoff (1 minute to 1 hour) for up
 * to NOTIFY_GIVE_UP seconds.
 */
#ifndef BOUNCED_NOTIFY_H
#define BOUNCED_NOTIFY_H

#include <signal.h>
#include <stdbool.h>
#include <glib.h>

#include "config/config.h"
#include "db/db.h"

#define NOTIFY_GIVE_UP (3 * 86400)

struct notify_ctx {
	struct db *db;                    /* borrowed */
	const struct bounced_config *cfg; /* borrowed; swap on reload */
	volatile sig_atomic_t *stop;      /* set: stop after this notice */
	gint64 due;                       /* monotonic seconds */
	bool told_no_relay;
	int slow_ms; /* tests: pause before each send (BOUNCED_NOTIFY_SLOW) */
};

struct notify_stats {
	unsigned composed; /* notices composed */
	unsigned sent;
	unsigned retried; /* temporary failures, to be retried */
	unsigned failed;  /* permanent failures, given up */
	unsigned dropped; /* outbox rows of shops without a notify address */
};

/* Sets up ctx (zeroes it first). */
void notify_init(struct notify_ctx *ctx, struct db *db,
		 const struct bounced_config *cfg, volatile sig_atomic_t *stop);

/* Composes and sends everything due once.  Returns 0, or -1 when the
   database failed (logged). */
int notify_drain(struct notify_ctx *ctx, struct notify_stats *st);

/* For the daemon loop: drains when polled (a poll cycle just ran) or
   when the notifier's own timer (notifier.interval) is due.  Returns the
   monotonic time of the next timer. */
gint64 notify_tick(struct notify_ctx *ctx, bool polled);

/* The result of one SMTP submission (notify_smtp.c). */
enum notify_smtp_result {
	NOTIFY_SMTP_SENT,
	NOTIFY_SMTP_TEMP,
	NOTIFY_SMTP_PERM
};

/* Submits data (len bytes, LF or CRLF line ends) from env_from ("" is
   <>) to rcpts through relay.  On SENT, *warning_r may name recipients
   the relay refused; otherwise *error_r says what failed (g_free). */
enum notify_smtp_result notify_smtp_send(const struct config_smtp *relay,
					 const char *env_from,
					 const char *const *rcpts,
					 const char *data, size_t len,
					 char **warning_r, char **error_r);

#endif
