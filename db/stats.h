/*
 * stats.h - how bounced is doing, per shop and per mailbox, for
 * `bouncectl stats`: messages recorded (by kind), failures by reason,
 * suppressions, sender-side alerts, the notification backlog and its
 * errors, each mailbox's lease and how its polls went (poll_status.h).
 * Read-only; everything is derived from the tables the daemon and
 * bouncectl already write.  Never logs; see db.h.
 */
#ifndef BOUNCED_STATS_H
#define BOUNCED_STATS_H

#include <stdbool.h>

#include "db/db.h"

/* Column numbers of the query_stats() result. */
enum stats_col {
	STATS_SHOP,           /* shop id */
	STATS_MAILBOX,        /* "" on the shop's summary row */
	STATS_PROTOCOL,       /* imap, pop3, maildir, ingest; "" on shop */
	STATS_LAST_RECORDED,  /* newest message recorded (see epoch) */
	STATS_MESSAGES,       /* every message recorded */
	STATS_BOUNCES,        /* kind dsn or bounce */
	STATS_AUTOREPLIES,    /* kind autoreply */
	STATS_COMPLAINTS,     /* kind feedback (ARF) */
	STATS_NOT_BOUNCE,     /* kind none: moved to not-a-bounce */
	STATS_UNPARSEABLE,    /* kind error: kept, moved to unparseable */
	STATS_FAILURES,       /* failed recipients (and complaints) */
	STATS_BY_REASON,      /* see enum stats_style */
	STATS_SUPPRESSED,     /* shop rows: addresses suppressed now */
	STATS_WOULD_SUPPRESS, /* shop rows: dry run, would be suppressed */
	STATS_SENDER_ALERTS,  /* shop rows: sender-side failures */
	STATS_NOTIFY_BACKLOG, /* shop rows: notifications not yet sent */
	STATS_NOTIFY_ERRORS,  /* shop rows: of those, with an error */
	STATS_LEASE_OWNER,    /* mailbox rows: instance holding it, or "" */
	STATS_LEASE_UNTIL,    /* mailbox rows: lease expiry, or with no
				 owner the end of the rest after a poll */
	/* how the polls went; on shop rows over its mailboxes */
	STATS_LAST_POLL,            /* when the last poll ended (newest) */
	STATS_LAST_POLL_RESULT,     /* "ok" or "error" (shop: any failed);
				       NULL: never polled */
	STATS_LAST_POLL_RECORDED,   /* messages newly recorded by it (sum) */
	STATS_LAST_SUCCESS,         /* when the last ok poll ended (newest) */
	STATS_CONSECUTIVE_FAILURES, /* failed polls since the last ok one
				       (shop: the highest) */
	STATS_POLLS,                /* poll cycles (counter, sum) */
	STATS_POLL_ERRORS,          /* failed ones (counter, sum) */
	STATS_LAST_ERROR,           /* the newest poll error, kept after a
				       success; NULL: none ever */
	STATS_LAST_ERROR_AT,        /* when it happened */
	STATS_NCOLS
};

enum stats_style {
	STATS_TEXT,    /* JST times; failures_by_reason "userunknown 3, ..." */
	STATS_JSON,    /* JST times; failures_by_reason jsonb {"reason": n} */
	STATS_METRICS, /* Unix times; failures_by_reason jsonb */
};

/* One row per shop (mailbox "": its totals and the shop-wide counts) and
   one per mailbox recorded in the database, ordered by shop, then
   mailbox; shop NULL: every shop (the reserved '_unattributed' only when
   something was recorded there).  Counts are numbers; on mailbox rows
   the shop-wide columns are NULL and on shop rows the lease columns are
   NULL.  Times and failures_by_reason are written as style says.
   The caller PQclear()s the result; NULL and
   *error_r on failure. */
PGresult *query_stats(struct db *db, const char *shop, enum stats_style style,
		      char **error_r);

#endif
