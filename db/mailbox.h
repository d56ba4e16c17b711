/*
 * mailbox.h - what the daemon reads about a mailbox before polling it:
 * its IMAP cursor.  The cursor is written by store_record() in the same
 * transaction as the message (store.h), never here.  Never logs; see
 * db.h.
 */
#ifndef BOUNCED_MAILBOX_H
#define BOUNCED_MAILBOX_H

#include <glib.h>

#include "db/db.h"

/* Reads the cursor of (shop_id, mailbox_id): *uidvalidity_r is 0 when
   the mailbox was never polled (no row, or no UIDVALIDITY yet) and
   *last_uid_r the highest UID recorded under it.  Returns 0 or -1. */
int mailbox_cursor_get(struct db *db, const char *shop_id,
		       const char *mailbox_id, gint64 *uidvalidity_r,
		       gint64 *last_uid_r, char **error_r);

#endif
