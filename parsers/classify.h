/*
 * classify.h - recipient -> reason, hard/soft and side.
 *
 * A pure function of what the parser recovered: the action, the RFC 3463
 * status, the SMTP reply code and the diagnostic text (and the report kind).
 * Provider texts (Gmail, Yahoo, Microsoft, docomo, au, SoftBank, ...) decide
 * where codes are vague.  Matching is linear-time substring search over a
 * normalised copy of the text.  Every decision records its rule.
 */
#ifndef BOUNCED_CLASSIFY_H
#define BOUNCED_CLASSIFY_H

#include "report.h"

/* Sets reason, hardbounce, side and rule of every recipient of report
   according to DESIGN.md.  Recipients whose reason a parser already set
   (reason != REASON_UNDEFINED, e.g. ARF feedback) keep it, but still get
   hardbounce, side and a rule. */
void classify_report(struct bounce_report *report);

/* Classifies one recipient; see classify_report(). */
void classify_rcpt(enum bounce_kind kind, struct bounce_rcpt *rcpt);

/* Returns the lowercase name of reason ("userunknown"); static. */
const char *classify_reason_name(enum bounce_reason reason);

/* Returns the reason named name (also accepts the alias "mesgtoobig"),
   or REASON_COUNT if the name is unknown. */
enum bounce_reason classify_reason_from_name(const char *name);

/* Returns "recipient", "sender" or "none"; static. */
const char *classify_side_name(enum bounce_side side);

/* Returns true if reason (with the given status / reply code) is a hard
   bounce: userunknown, hostunknown, hasmoved, and notaccept when 5xx. */
bool classify_is_hard(enum bounce_reason reason, const char *status,
		      const char *replycode);

/* Frees the pattern index classify_rcpt() builds on first use.  Call
   once at exit (bounce_shutdown() does); a later classify_rcpt() builds
   it again. */
void classify_shutdown(void);

#endif
