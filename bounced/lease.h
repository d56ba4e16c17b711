/*
 * lease.h - one instance's lease on one mailbox, so that several bounced
 * on several machines can share one database (DESIGN.md "Scale").
 *
 * An instance is named "HOST:PID".  Before polling a mailbox it takes
 * the mailbox's lease (db/mailbox.h: SELECT ... FOR UPDATE SKIP LOCKED,
 * with an expiry in database time); while polling it renews the lease
 * whenever a third of it has passed; after polling it releases it.  An
 * instance that dies keeps its lease until it expires, then another
 * instance takes the mailbox over.  Nothing here logs; poll.c does.
 */
#ifndef BOUNCED_LEASE_H
#define BOUNCED_LEASE_H

#include <stdbool.h>
#include <glib.h>

#include "db/db.h"

/* The length of a lease is the mailbox's lease_seconds (bounced.conf,
   default CONFIG_DEFAULT_LEASE) unless bounced --lease overrides it. */

struct lease {
	struct db *db;          /* borrowed */
	const char *owner;      /* borrowed: "HOST:PID" */
	int seconds;            /* length of the lease */
	const char *shop_id;    /* borrowed */
	const char *mailbox_id; /* borrowed */
	gint64 renewed;         /* monotonic microseconds */
	bool held;
};

/* "HOST:PID" of this process; g_free. */
char *lease_instance_id(void);

/* Takes the lease of (shop_id, mailbox_id) into *l (which borrows every
   string); ignore_rest takes a mailbox that rests after another
   instance's poll (--once).  Returns 1 when taken (*previous_r: the instance whose expired
   lease was taken over, or NULL), 0 when another instance holds it or
   it rests after a poll (*previous_r: who), or -1 and *error_r.  A dead
   database connection is reconnected once. */
int lease_take(struct lease *l, struct db *db, const char *owner,
	       int seconds, const char *shop_id, const char *mailbox_id,
	       const char *protocol, bool ignore_rest, char **previous_r,
	       char **error_r);

/* Renews l if a third of it has passed.  Returns 1 while held, 0 when it
   was lost (another instance took it after it expired: stop polling), or
   -1 and *error_r. */
int lease_keep(struct lease *l, char **error_r);

/* Releases l if held; nobody takes the mailbox for rest seconds.
   Returns 0 or -1 and *error_r (the lease then simply expires). */
int lease_release(struct lease *l, int rest, char **error_r);

#endif
