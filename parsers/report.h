/*
 * report.h - the result of parsing one message: struct bounce_report.
 *
 * Everything in a report is a plain C string in UTF-8 owned by the report;
 * there are no GMime pointers in it, so it outlives the parsed message and
 * can be handed to db/ and the notifier.  Parsers fill it with the
 * report_* helpers below; classify.c sets the reason fields.
 */
#ifndef BOUNCED_REPORT_H
#define BOUNCED_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

enum bounce_kind {
	BOUNCE_KIND_NONE = 0,  /* not a bounce: a normal mail */
	BOUNCE_KIND_DSN,       /* RFC 3464 / RFC 6533 delivery status report */
	BOUNCE_KIND_BOUNCE,    /* a non-standard bounce text */
	BOUNCE_KIND_AUTOREPLY, /* RFC 3834 auto-reply, vacation */
	BOUNCE_KIND_FEEDBACK,  /* RFC 5965 ARF complaint */
	BOUNCE_KIND_ERROR,     /* could not be parsed; report->error says why */
};

/* Sisimai-compatible reason vocabulary (DESIGN.md).  Keep the order in
   sync with reason_names[] in classify.c. */
enum bounce_reason {
	REASON_UNDEFINED = 0,
	REASON_AUTHFAILURE,
	REASON_BADREPUTATION,
	REASON_BLOCKED,
	REASON_CONTENTERROR,
	REASON_DELIVERED,
	REASON_EMAILTOOLARGE,
	REASON_EXCEEDLIMIT,
	REASON_EXPIRED,
	REASON_FAILEDSTARTTLS,
	REASON_FEEDBACK,
	REASON_FILTERED,
	REASON_HASMOVED,
	REASON_HOSTUNKNOWN,
	REASON_MAILBOXFULL,
	REASON_MAILERERROR,
	REASON_NETWORKERROR,
	REASON_NORELAYING,
	REASON_NOTACCEPT,
	REASON_NOTCOMPLIANTRFC,
	REASON_ONHOLD,
	REASON_POLICYVIOLATION,
	REASON_RATELIMITED,
	REASON_REJECTED,
	REASON_REQUIREPTR,
	REASON_SECURITYERROR,
	REASON_SPAMDETECTED,
	REASON_SUPPRESSED,
	REASON_SUSPEND,
	REASON_SYNTAXERROR,
	REASON_SYSTEMERROR,
	REASON_SYSTEMFULL,
	REASON_USERUNKNOWN,
	REASON_VACATION,
	REASON_VIRUSDETECTED,
	REASON_COUNT
};

/* Whose problem a failure is. */
enum bounce_side {
	BOUNCE_SIDE_NONE = 0,  /* not a failure, or cannot tell */
	BOUNCE_SIDE_RECIPIENT, /* the customer's address */
	BOUNCE_SIDE_SENDER,    /* the shop's own sending setup */
};

/* One recipient of a report.  action is "failed", "delayed", "delivered",
   "relayed", "expanded" or NULL when unknown.  status is an RFC 3463 code
   ("5.1.1") or "".  replycode is a 3-digit SMTP reply code or "". */
struct bounce_rcpt {
	char *recipient; /* addr-spec, domain lowercased; NULL if unknown */
	char *original_recipient;
	char *action;
	char status[16];
	char replycode[4];
	char *diagnostic; /* one line, UTF-8, whitespace collapsed */
	char *remote_mta;
	char *last_attempt; /* ISO 8601 or NULL */

	/* set by classify_report() */
	enum bounce_reason reason;
	bool hardbounce;
	enum bounce_side side;
	char *rule; /* which rule decided, e.g. "status:5.1.1" */
};

/* Headers of the returned original message (or of the complained-about or
   auto-replied-to message), as far as they could be recovered. */
struct bounce_original {
	char *message_id;
	char *envelope_id;
	char *from;
	char *to;
	char *subject;
	char *date; /* ISO 8601 when parseable, else as given */
};

struct bounce_report {
	enum bounce_kind kind;
	const char *parser; /* static name of the format parser */
	char *error;        /* kind == BOUNCE_KIND_ERROR: why */
	char *reporting_mta;
	char *date;          /* ISO 8601 date of the report */
	char *subject;       /* the bounce's own subject, UTF-8 */
	char *from;          /* the bounce's own From address */
	char *feedback_type; /* ARF Feedback-Type */
	char *order_number;
	char *mail_type;
	struct bounce_original original;
	GPtrArray *rcpts; /* of struct bounce_rcpt *, owned */
};

/* Returns a new empty report of kind NONE.  Free with report_free(). */
struct bounce_report *report_new(void);

/* Frees *report and everything it owns; sets *report to NULL.  NULL and
 *report == NULL are no-ops. */
void report_free(struct bounce_report **report);

/* Appends a new zeroed recipient to report and returns it (owned by the
   report). */
struct bounce_rcpt *report_add_rcpt(struct bounce_report *report);

/* Returns the recipient whose address equals addr (case-insensitively), or
   NULL. */
struct bounce_rcpt *report_find_rcpt(const struct bounce_report *report,
				     const char *addr);

/* Replaces *field with a copy of value (NULL clears it).  The copy is
   made valid UTF-8, control characters become spaces and runs of white
   space collapse to one space, so every report string is one clean line. */
void report_set(char **field, const char *value);

/* Like report_set() but only when *field is still NULL or empty. */
void report_set_default(char **field, const char *value);

/* Sets the recipient's status from text if it holds an RFC 3463 code of
   the form class.subject.detail (class 2, 4 or 5).  Returns true if set. */
bool report_set_status(struct bounce_rcpt *rcpt, const char *text);

/* Sets the reply code from the first SMTP reply code (2xx/4xx/5xx followed
   by space, '-' or end) in text.  Returns true if set. */
bool report_set_replycode(struct bounce_rcpt *rcpt, const char *text);

/* Removes (and frees) the recipients whose address is unknown. */
void report_drop_nameless(struct bounce_report *report);

/* Marks report as an error with a copy of why, dropping any recipients. */
void report_set_error(struct bounce_report *report, const char *why);

#endif
