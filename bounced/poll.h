/*
 * poll.h - one poll cycle of one mailbox: fetch -> bounce_parse -> store
 * (one transaction with the cursor) -> COMMIT -> ack on the server.
 *
 * A message is acked only after its record was committed, so delivery is
 * at-least-once and replays are no-ops (the unique key per mailbox
 * message).  Per-message errors are logged once with (mailbox, key) and
 * never stop the cycle; once a message could not be recorded the cursor
 * is no longer advanced in that cycle, so the message is fetched again
 * next time.  A failing mailbox (login, network, database) is logged and
 * reported to the caller, which backs it off alone.
 */
#ifndef BOUNCED_POLL_H
#define BOUNCED_POLL_H

#include <signal.h>
#include <stdbool.h>

#include "bounced/fetch.h"
#include "config/config.h"
#include "db/db.h"
#include "db/store.h"
#include "parsers/bounce.h"

struct recorder;

struct poll_ctx {
	struct db *db;
	struct store *store;
	struct recorder *recorder; /* records batches (recorder.h) */
	struct bounce_options opts;  /* max_size, headers from the config */
	volatile sig_atomic_t *stop; /* set: finish the current message */
	const char *instance;        /* lease owner, "HOST:PID" */
	int lease_seconds; /* lease length (lease.h); 0: each mailbox's */
	bool lease_rest; /* after a poll, others wait half its interval */
	bool wake;       /* this poll was asked for (IDLE news, reload):
			    take the lease even while it rests */
};

/* What one cycle did. */
struct poll_stats {
	unsigned seen;       /* messages lent by the fetcher */
	unsigned recorded;   /* newly recorded */
	unsigned duplicates; /* already recorded (a replay) */
	unsigned failed;     /* not recorded, or recorded but not acked */
	bool busy; /* leased by another instance (or resting): not polled */
};

/* Polls mailbox m of shop s once, holding its lease (lease.h).  Returns
   0 when the mailbox was polled (per-message errors are in *st and the
   log) or when another instance holds it (st->busy), -1 when it failed
   (logged as "SHOP/MAILBOX: what went wrong"). */
int poll_mailbox(struct poll_ctx *ctx, const struct bounced_shop *s,
		 const struct bounced_mailbox *m, struct poll_stats *st);

/* The lease length for mailbox m: bounced --lease if given, else the
   mailbox's lease_seconds (bounced.conf). */
int poll_lease_seconds(const struct poll_ctx *ctx,
		       const struct bounced_mailbox *m);

/* Opens an IDLE watch (fetch.h) on m when m is an IMAP mailbox with
   idle = true.  Returns 1 and *w_r, 0 when there is nothing to watch
   (not IMAP, idle = false, or the server does not offer IDLE), or -1 and
   *error_r. */
int poll_idle_open(const struct bounced_mailbox *m, struct fetch_idle **w_r,
		   char **error_r);

/* Copies the shops of cfg into the database (as 'bouncectl db migrate'
   does) and makes the store forget its cached shops.  Returns 0, or -1
   and *error_r. */
int poll_sync_shops(struct poll_ctx *ctx, const struct bounced_config *cfg,
		    char **error_r);

/* The poll options of cfg (max message size, order and type headers);
   they borrow cfg's strings. */
void poll_options(struct poll_ctx *ctx, const struct bounced_config *cfg);

#endif
