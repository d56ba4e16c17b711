/*
 * query.h - what support staff, shops and the platform read and change:
 * failures by order, the undeliverable report, the suppression list,
 * un-suppressing (audited), shops.
 *
 * Reading functions return a PGresult (caller PQclear()s it) whose
 * columns are meant to be printed as they are, in order; they read the
 * SQL views of the schema, so the CLI shows what the platform sees.
 * Addresses given by users are normalised (addr.h) first.  Never logs;
 * returns NULL / -1 with *error_r (g_free).
 */
#ifndef BOUNCED_QUERY_H
#define BOUNCED_QUERY_H

#include <stdbool.h>

#include "db/db.h"

/* Every result of order (failed, delayed, sender-side) with the
   recipient's state; shop may be NULL for all shops. */
PGresult *query_lookup_order(struct db *db, const char *order, const char *shop,
			     char **error_r);

/* The undeliverable report of shop, since/until ("YYYY-MM-DD" or any
   timestamptz text; NULL: open). */
PGresult *query_report(struct db *db, const char *shop, const char *since,
		       const char *until, char **error_r);

/* The suppression list (shop NULL: all shops). */
PGresult *query_suppression_list(struct db *db, const char *shop,
				 char **error_r);

/* The state of address in every shop (or shop). */
PGresult *query_suppression_check(struct db *db, const char *address,
				  const char *shop, char **error_r);

/* Un-suppresses address (in shop, or in every shop) and writes one audit
   row per shop with actor and reason, atomically.  Returns the number of
   shops it was removed from (0: it was not suppressed), or -1. */
int query_suppression_remove(struct db *db, const char *address,
			     const char *shop, const char *reason,
			     const char *actor, char **error_r);

/* A shop's settings, as synchronised from bounced.conf or set by
   'bouncectl shop add'. NULL fields keep the stored (or default) value. */
struct query_shop {
	const char *id;
	const char *name;
	const char *notify;        /* newline-separated */
	const char *domains;       /* newline/comma-separated */
	const char *fatal_reasons; /* newline-separated */
	int strike_limit;          /* 0: keep */
	int grace_days;            /* -1: keep */
	int stale_days;            /* 0: keep */
	int dry_run;               /* -1: keep, 0, 1 */
};

/* Inserts or updates a shop and audits the change by actor.  *created_r
   (optional) tells whether it was new. */
int query_shop_upsert(struct db *db, const struct query_shop *shop,
		      const char *actor, bool *created_r, char **error_r);

/* Every shop with its settings. */
PGresult *query_shop_list(struct db *db, char **error_r);

/* The user to put in audit rows: $SUDO_USER, $USER or the uid. */
char *query_actor(void);

#endif
