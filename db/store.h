/*
 * store.h - recording parsed messages: one mailbox message, its
 * per-recipient results, the rule's state changes, shop alerts, the
 * notification outbox and the mailbox cursor, all in one transaction.
 *
 * Recording the same (shop, mailbox, msg_key) again is a no-op, so a
 * mailbox can be replayed safely; concurrent recorders are serialised by
 * the message's unique key and by row locks on the recipient state taken
 * in address order (deadlocks are retried).  Never logs; see db.h.
 */
#ifndef BOUNCED_STORE_H
#define BOUNCED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "db/db.h"
#include "parsers/report.h"

#define STORE_UNATTRIBUTED "_unattributed"

struct store;

/* Where a message came from. */
struct store_source {
	const char *shop_id;    /* shop owning the mailbox; NULL: none */
	const char *mailbox_id; /* e.g. "imap:INBOX", "ingest" */
	const char *protocol;   /* "imap", "pop3", "maildir", "ingest" */
	const char *msg_key;    /* unique per mailbox; NULL: "sha256:HEX" */
	gint64 uidvalidity;     /* cursor to advance with the message ... */
	gint64 uid;             /* ... when uid > 0 */
};

/* What recording one message did. */
struct store_outcome {
	bool duplicate;     /* already recorded: nothing changed */
	gint64 message_id;
	char *shop_id;      /* attributed shop (g_free'd by store_outcome_clear) */
	unsigned results;
	unsigned counted;
	unsigned suppressed; /* or would be, in dry run */
	unsigned alerts;
};

/* Returns a recorder on db (borrowed; must outlive the store). */
struct store *store_new(struct db *db);

/* Frees *store and sets it to NULL. */
void store_free(struct store **store);

/* Forgets the cached shop list (after shops changed). */
void store_reload_shops(struct store *store);

/* Returns 0 if shop_id exists, else -1 and *error_r saying what to do. */
int store_shop_exists(struct store *store, const char *shop_id,
    char **error_r);

/* Records raw (len bytes) and its parsed report.  Returns 0 and fills
   *out (clear it with store_outcome_clear()), or -1 and *error_r; on
   error nothing was recorded.  A batch of one. */
int store_record(struct store *store, const struct store_source *src,
    const char *raw, size_t len, const struct bounce_report *report,
    struct store_outcome *out, char **error_r);

/* One message of a batch: src, raw and report are borrowed; out is
   filled by store_record_batch() (clear it with store_outcome_clear()). */
struct store_input {
	struct store_source src;
	const char *raw;
	size_t len;
	const struct bounce_report *report;
	struct store_outcome out;
};

/* Records in[0..n-1], all from the same mailbox (same shop_id,
   mailbox_id and protocol), in one transaction, with the outcome of
   recording them one by one in that order (the same rows, values and id
   order); the cursor moves to the highest uid among them.  A few
   set-based statements per batch instead of several per recipient.
   Returns 0 with every in[i].out filled (a replay: duplicate), or -1 and
   *error_r: nothing was recorded (then record them one by one to learn
   which message fails). */
int store_record_batch(struct store *store, struct store_input *in, guint n,
    char **error_r);

void store_outcome_clear(struct store_outcome *out);

/* Returns the lowercase name of a report kind ("dsn"); static. */
const char *store_kind_name(enum bounce_kind kind);

/* Hex SHA-256 of data; g_free. */
char *store_sha256(const char *data, size_t len);

#endif
