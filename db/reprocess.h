/*
 * reprocess.h - re-parse stored raw mail with the current parser, replace
 * the recorded results that changed, and re-evaluate the rule for every
 * address those results name by replaying its history.
 *
 * One run is one transaction: either every changed message, every
 * replayed address and the audit rows commit together, or nothing does
 * (and with dry_run nothing ever does, but the outcome is reported as if
 * it had).  The parser is passed in as a function, so db/ does not
 * sequence the pipeline and tests can supply their own.  Never logs.
 *
 * Replay: the results of (shop, address), in occurred_at order, merged
 * with the manual un-suppressions of the audit log, are fed through the
 * pure rule (rule.h) from an empty state with the shop's current
 * settings; each result's counted/fatal/decision, the counted originals
 * and the recipient state are rewritten from that.  So a result counts
 * once however often a run is repeated, and a second run over the same
 * mail with the same parser changes nothing.
 */
#ifndef BOUNCED_REPROCESS_H
#define BOUNCED_REPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "db/store.h"
#include "parsers/report.h"

/* Parses len bytes of raw mail; returns a report the caller frees with
   report_free() (never NULL). */
typedef struct bounce_report *(*reprocess_parse_fn)(const char *raw, size_t len,
						    void *ctx);

struct reprocess_options {
	const char *shop_id; /* messages owned by or attributed to it */
	const char *since;   /* occurred_at >= since (timestamptz text) */
	const char *actor;   /* for the audit rows */
	bool dry_run;        /* roll back at the end */
	reprocess_parse_fn parse;
	void *parse_ctx;
};

/* A message whose re-parse differed from what was recorded. */
struct reprocess_message {
	char *shop_id; /* owning the mailbox */
	gint64 message_id;
	char *mailbox_id;
	char *msg_key;
	char *old_summary; /* "kind: recipient action reason side; ..." */
	char *new_summary;
};

/* What the run did to one (shop, address). */
struct reprocess_change {
	char *shop_id;
	char *address;
	char *old_reasons; /* of its replaced results, "a,b" ("" none) */
	char *new_reasons; /* of its new results */
	bool replayed;     /* false: unattributed, no rule state */
	int old_consecutive, new_consecutive;
	char *old_suppressed; /* suppressed_rule, NULL: not suppressed */
	char *new_suppressed;
	char *old_would; /* would_suppress_rule (dry run), or NULL */
	char *new_would;
	unsigned decisions; /* results whose counted/decision changed */
};

/* changes holds only the addresses where reasons, state or decisions
   changed. */
struct reprocess_result {
	unsigned messages;  /* re-parsed */
	GPtrArray *changed; /* of struct reprocess_message *, in order */
	GPtrArray *changes; /* of struct reprocess_change *, by shop, address */
	unsigned suppressed;   /* newly suppressed (or would be) */
	unsigned unsuppressed; /* no longer suppressed */
	bool committed;        /* false with dry_run */
};

/* Runs a reprocess over store's database.  Returns 0 and *result_r
   (free with reprocess_result_free()), or -1 and *error_r (g_free); on
   error nothing was changed. */
int reprocess_run(struct store *store, const struct reprocess_options *opts,
		  struct reprocess_result **result_r, char **error_r);

/* Frees *result and sets it to NULL; NULL is a no-op. */
void reprocess_result_free(struct reprocess_result **result);

#endif
