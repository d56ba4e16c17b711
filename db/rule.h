/*
 * rule.h - the unsubscribe rule: 4 consecutive failures or 1 fatal failure
 * and the address is suppressed (issue 3 §3, DESIGN.md).  Pure functions
 * over plain values, so the rule is testable without a database; store.c
 * loads the state, asks the rule, and writes the outcome.
 *
 * Only action "failed" counts (and ARF complaints, which have no action).
 * delayed, delivered, auto-replies and sender-side results never count;
 * delivered and auto-replies are successes that break the run, sender-side
 * results raise a shop alert.  A failure whose reason is in the shop's
 * fatal list (hard bounces and complaints by default) suppresses at once;
 * otherwise the strike_limit-th consecutive counted failure does.
 */
#ifndef BOUNCED_RULE_H
#define BOUNCED_RULE_H

#include <stdbool.h>
#include <glib.h>

#define RULE_DEFAULT_STRIKES    4
#define RULE_DEFAULT_GRACE_DAYS 5
#define RULE_DEFAULT_STALE_DAYS 30
#define RULE_DEFAULT_FATAL      "userunknown,hostunknown,hasmoved,notaccept,feedback"

struct rule_settings {
	int strike_limit;
	int grace_days;
	int stale_days;
	bool dry_run;
	char *
	    *fatal_reasons; /* NULL-terminated reason names, owned by caller */
};

/* The canonical name of a reason as fatal_reasons lists it
   ("UserUnknown", "mesgtoobig" -> "userunknown", "emailtoolarge"; static),
   or NULL if name is not a reason of parsers/classify.h.  Pass it to
   config_load(). */
const char *rule_reason_name(const char *name);

/* What one recipient result is to the rule. */
enum rule_event {
	RULE_IGNORE = 0, /* recorded, never counts (delayed, no address...) */
	RULE_SUCCESS,    /* breaks the run (delivered, auto-reply) */
	RULE_FAILURE,    /* counts */
	RULE_SENDER,     /* the shop's problem: alert, never counts */
};

/* One recipient result as recorded (names as in classify.h). */
struct rule_input {
	const char *kind;   /* "dsn", "bounce", "autoreply", "feedback", ... */
	const char *action; /* may be NULL */
	const char *reason; /* "userunknown" */
	bool hardbounce;
	const char *side; /* "recipient", "sender", "none" */
	bool has_address;
	bool attributed;
};

/* Classifies in.  Sets *fatal_r for failures whose reason is fatal under
   settings and returns the event; *why_r gets a static explanation for
   everything that is not RULE_FAILURE. */
enum rule_event rule_classify(const struct rule_settings *settings,
			      const struct rule_input *in, bool *fatal_r,
			      const char **why_r);

/* The rule state of one (shop, address). Times are Unix seconds, 0 = never. */
struct rule_state {
	int consecutive;
	gint64 last_failure_at;
	gint64 suppressed_at;
	gint64 would_suppress_at;
};

/* Facts store.c looked up for one counted failure. */
struct rule_facts {
	gint64 when; /* the failure's time */
	bool fatal;
	bool orig_counted;    /* this original mail already counted */
	gint64 quiet_send_at; /* a send since the last failure that drew no
				 failure within the grace window, or 0 */
};

/* Applies one failure to *state.  Returns true if it counted; *decision_r
   (g_free) explains the outcome in words; *suppress_r is set when the
   address is to be suppressed now (in dry-run: would be). */
bool rule_apply_failure(const struct rule_settings *settings,
			struct rule_state *state,
			const struct rule_facts *facts, bool *suppress_r,
			char **decision_r);

/* The rule that suppressed (or would have): "fatal:userunknown" or
   "strikes:4"; g_free. */
char *rule_suppress_name(const struct rule_settings *settings,
			 const struct rule_facts *facts, const char *reason);

#endif
