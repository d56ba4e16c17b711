/*
 * poll_status.h - how each mailbox's polls went: the daemon records the
 * outcome of every poll cycle in the mailbox's row (005_poll_status.sql)
 * and `bouncectl stats` (stats.h) shows it.  Never logs; see db.h.
 */
#ifndef BOUNCED_POLL_STATUS_H
#define BOUNCED_POLL_STATUS_H

#include "db/db.h"

/* The longest error text kept, in bytes (cut at a UTF-8 boundary). */
#define POLL_STATUS_ERROR_MAX 1000

/* Records one poll cycle of (shop_id, mailbox_id), which ended now.
   error is why the cycle failed (NULL: it did not); failed counts the
   messages not recorded or not moved.  The poll is ok when both are
   NULL and 0: last_success_at is set and consecutive_failures reset;
   otherwise last_error becomes error, or "N messages not recorded or not
   moved" when only messages failed, and consecutive_failures and
   poll_errors grow.  recorded is the number of messages newly recorded.
   Never call it with text that may hold a password.  Returns 1, 0 when
   the mailbox has no row (it was never leased), or -1 and *error_r. */
int poll_status_record(struct db *db, const char *shop_id,
		       const char *mailbox_id, const char *error,
		       unsigned recorded, unsigned failed, char **error_r);

#endif
