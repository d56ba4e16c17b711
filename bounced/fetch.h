/*
 * fetch.h - one interface over the mail stores bounced polls (IMAP,
 * POP3, Maildir): open a mailbox, lend its new messages one at a time, ack each
 * one after it was committed to the database, close.
 *
 * A fetcher never touches the database and never parses: the poller
 * (poll.c) gives it the cursor read from the database and tells it where
 * each message goes.  Errors are tier 3 (STYLE.md): -1 plus a one-line
 * *error_r (g_free) that never contains a password or message text.
 */
#ifndef BOUNCED_FETCH_H
#define BOUNCED_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "config/config.h"

/* One message lent by next(): valid until the next call of next() or
   close() on the same fetcher. */
struct raw_msg {
	const char *data; /* NULL when too_large (never fetched) */
	size_t len;
	const char *key; /* unique in the mailbox: "UIDVALIDITY:UID", ... */
	size_t size;     /* size the server announced */
	bool too_large;  /* over max_size: record as unparseable, unfetched */
	gint64 uidvalidity; /* IMAP cursor of this message; 0 otherwise */
	gint64 uid;
	/* The fetcher's own handle of the message, for ack() (pop3: its
	   message number; maildir: its place in the listing). */
	gint64 ref;
	/* Non-NULL: the message is already recorded, with this kind ("dsn",
	   "none", ...): an earlier ack failed after its COMMIT (or the
	   folder's UIDVALIDITY changed).  Do not record it again; only ack
	   it.  data may be NULL. */
	const char *recorded_kind;
};

/* Where an acked message goes (the mailbox's folders, per its action). */
enum fetch_dest {
	FETCH_PROCESSED,   /* a bounce, auto-reply or complaint */
	FETCH_NOT_BOUNCE,  /* an ordinary mail */
	FETCH_UNPARSEABLE, /* could not be parsed, or too large */
};

struct fetch_params {
	const struct bounced_mailbox *mbox;
	const char *password; /* imap, pop3 */
	size_t max_size;      /* larger messages are not fetched */
	gint64 uidvalidity;   /* cursor from the database; 0: none */
	gint64 last_uid;
	/* Which of keys (n) are already recorded: adds them to recorded_r
	   (key -> the kind recorded, "dsn", "none", "error", ...).  The
	   poller answers from the database, so the fetcher never touches it.
	   Returns 0 or -1 and *error_r.  Used by pop3 to skip seen UIDLs. */
	int (*recorded)(void *arg, const char *const *keys, guint n,
			GHashTable *recorded_r, char **error_r);
	/* The same for the SHA-256s (lowercase hex) of message bytes: used
	   by imap when keys cannot tell (a changed UIDVALIDITY). */
	int (*recorded_shas)(void *arg, const char *const *shas, guint n,
			     GHashTable *recorded_r, char **error_r);
	void *recorded_arg;
};

struct fetch;

struct fetch_ops {
	const char *name;
	/* Connects, logs in, selects the folder.  Returns 0 and sets *f_r,
	   or -1 and *error_r. */
	int (*open)(const struct fetch_params *params, struct fetch **f_r,
		    char **error_r);
	/* Lends the next new message in *msg_r.  Returns 1, 0 at the end,
	   -1 and *error_r when the mailbox failed (stop polling it). */
	int (*next)(struct fetch *f, struct raw_msg *msg_r, char **error_r);
	/* Moves, flags or deletes msg (lent by the last next()) per the
	   mailbox's action, or queues that for flush().  Returns 0, or -1
	   and *error_r. */
	int (*ack)(struct fetch *f, const struct raw_msg *msg,
		   enum fetch_dest dest, char **error_r);
	/* Carries out the queued acks (NULL: ack() never queues).  Returns
	   the number of messages that could not be acked (they stay on the
	   server, to be found again as already recorded), with *error_r
	   when not 0. */
	unsigned (*flush)(struct fetch *f, char **error_r);
	/* Logs out and frees *f; sets it to NULL.  NULL is a no-op. */
	void (*close)(struct fetch **f);
	/* true: ack() takes any message lent since open(), not only the
	   last one (it needs only msg->uid or msg->ref, which the poller
	   keeps with its copy of the message), so the poller may record
	   several messages in one transaction before it acks them; false:
	   ack() before the next next(). */
	bool ack_any;
};

extern const struct fetch_ops fetch_imap_ops;

/* --- IDLE (RFC 2177) on an IMAP folder, between polls ---
   A watch is a second IMAP connection, logged in with the folder
   selected and waiting in IDLE; the daemon polls its descriptor while it
   sleeps and polls the mailbox when the server reports new mail.  The
   watch never fetches or changes anything. */
struct fetch_idle;

/* Connects as open() does (params: mbox, password) and enters IDLE.
   Returns 1 and *w_r, 0 when the server does not offer IDLE (*w_r NULL:
   poll on the interval), or -1 and *error_r. */
int fetch_idle_open(const struct fetch_params *params, struct fetch_idle **w_r,
		    char **error_r);

/* The descriptor to wait on for reading, and whether bytes are already
   buffered (then do not wait: call fetch_idle_check() at once). */
int fetch_idle_fd(const struct fetch_idle *w);
bool fetch_idle_pending(const struct fetch_idle *w);

/* Monotonic seconds when the current IDLE began. */
gint64 fetch_idle_since(const struct fetch_idle *w);

/* Ends the current IDLE (DONE), reads what the server said and enters
   IDLE again; call it when the descriptor is readable and to renew an
   IDLE before the server's limit (RFC 2177: at most 29 minutes).
   Returns 1 if the server reported messages (EXISTS), 0 if not, or -1
   and *error_r (the watch is broken: close it). */
int fetch_idle_check(struct fetch_idle *w, char **error_r);

/* Logs out (when the connection is fine) and frees *w; sets it to NULL.
   NULL is a no-op. */
void fetch_idle_close(struct fetch_idle **w);
extern const struct fetch_ops fetch_maildir_ops;
extern const struct fetch_ops fetch_pop3_ops;

/* Where a message recorded with kind ("dsn", "none", "error", ...) goes. */
enum fetch_dest fetch_dest_of_kind(const char *kind);

/* The folder configured for dest; borrowed from mbox. */
const char *fetch_dest_folder(const struct bounced_mailbox *mbox,
			      enum fetch_dest dest);

/* Checks the server's certificate chain on a TLS stream (a libetpan
   mailstream *) against ca_file (NULL: the system's CAs) and host.
   Returns 0, or -1 and *error_r. */
int fetch_tls_verify(void *stream, const char *host, const char *ca_file,
		     char **error_r);

#endif
