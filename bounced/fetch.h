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
	   mailbox's action.  Returns 0, or -1 and *error_r. */
	int (*ack)(struct fetch *f, const struct raw_msg *msg,
		   enum fetch_dest dest, char **error_r);
	/* Logs out and frees *f; sets it to NULL.  NULL is a no-op. */
	void (*close)(struct fetch **f);
};

extern const struct fetch_ops fetch_imap_ops;
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
