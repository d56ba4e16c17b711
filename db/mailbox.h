/*
 * mailbox.h - what the daemon reads about a mailbox before polling it:
 * its IMAP cursor, which of a list of message keys are already recorded
 * (POP3 UIDLs, re-acks) or which messages with the same bytes are (after
 * a UIDVALIDITY change), and the mailbox's lease.  The cursor is written
 * by store_record() in the same transaction as the message (store.h);
 * mailbox_cursor_set() only advances it past a message that was already
 * recorded under an older UIDVALIDITY.  Never logs; see db.h.
 *
 * Leases (several bounced on one database): a mailbox row carries
 * lease_owner and lease_until (database time, so the instances' clocks
 * do not matter).  An instance polls a mailbox only while it holds the
 * lease; the lease is taken with SELECT ... FOR UPDATE SKIP LOCKED, so two
 * instances never both get it, renewed while polling, and released
 * after.  A lease whose owner died expires and is then taken over.
 */
#ifndef BOUNCED_MAILBOX_H
#define BOUNCED_MAILBOX_H

#include <stdbool.h>
#include <glib.h>

#include "db/db.h"

/* Reads the cursor of (shop_id, mailbox_id): *uidvalidity_r is 0 when
   the mailbox was never polled (no row, or no UIDVALIDITY yet) and
   *last_uid_r the highest UID recorded under it.  Returns 0 or -1. */
int mailbox_cursor_get(struct db *db, const char *shop_id,
		       const char *mailbox_id, gint64 *uidvalidity_r,
		       gint64 *last_uid_r, char **error_r);

/* The keys among keys (n of them) that are recorded for (shop_id,
   mailbox_id): adds each to recorded_r (a GHashTable of strings the
   caller created with g_str_hash, g_str_equal, g_free, NULL) with the
   message's kind ("dsn", "none", "error", ...; static strings) as value.
   A key must not contain a newline.  Returns 0 or -1 and *error_r. */
int mailbox_keys_recorded(struct db *db, const char *shop_id,
			  const char *mailbox_id, const char *const *keys,
			  guint n, GHashTable *recorded_r, char **error_r);

/* Like mailbox_keys_recorded(), but for messages whose raw bytes have
   one of the SHA-256 shas (lowercase hex, as store_record() computes
   them): adds each recorded sha to recorded_r with its message's kind.
   For a folder whose UIDVALIDITY changed (its keys are all new); served
   by the index of 004_sha_index.sql.  Returns 0 or -1 and *error_r. */
int mailbox_shas_recorded(struct db *db, const char *shop_id,
			  const char *mailbox_id, const char *const *shas,
			  guint n, GHashTable *recorded_r, char **error_r);

/* Sets the cursor of (shop_id, mailbox_id) to (uidvalidity, uid) the way
   store_record() does: a new UIDVALIDITY replaces the old cursor, under
   the same one last_uid only grows.  Returns 0 or -1 and *error_r. */
int mailbox_cursor_set(struct db *db, const char *shop_id,
		       const char *mailbox_id, gint64 uidvalidity, gint64 uid,
		       char **error_r);

/* Takes the lease of (shop_id, mailbox_id) for owner for seconds,
   creating the mailbox row (protocol) if missing.  The lease is free when
   it has no owner and its rest time (lease_until) passed (or ignore_rest),
   when it expired, or when owner already holds it.  Returns 1 when taken (and
   *holder_r = the other instance whose expired lease was taken over, or
   NULL), 0 when another instance holds it or it rests (*holder_r = who,
   or "(resting)"), or -1 and *error_r.  *holder_r is g_free'd by the
   caller. */
int mailbox_lease_take(struct db *db, const char *shop_id,
		       const char *mailbox_id, const char *protocol,
		       const char *owner, int seconds, bool ignore_rest,
		       char **holder_r, char **error_r);

/* Extends owner's lease to seconds from now.  Returns 1, 0 when owner no
   longer holds it (it expired and another instance took it), or -1 and
   *error_r. */
int mailbox_lease_renew(struct db *db, const char *shop_id,
			const char *mailbox_id, const char *owner,
			int seconds, char **error_r);

/* Releases owner's lease; no instance takes the mailbox for rest seconds
   (0: at once).  Returns 0 or -1 and *error_r. */
int mailbox_lease_release(struct db *db, const char *shop_id,
			  const char *mailbox_id, const char *owner, int rest,
			  char **error_r);

#endif
