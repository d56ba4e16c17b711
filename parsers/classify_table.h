/*
 * classify_table.h - the data behind classify.c: diagnostic text patterns,
 * RFC 3463 status codes and the default side of every reason.
 *
 * Only data lives here; the decision logic (which source wins) is in
 * classify.c.  Patterns are lowercase, whitespace-collapsed UTF-8 and are
 * matched as plain substrings of the normalised diagnostic.  A '*' in a
 * pattern means "followed, somewhere later, by": "over *quota" matches
 * "over the allowed quota".  Matching stays linear in the text length.
 */
#ifndef BOUNCED_CLASSIFY_TABLE_H
#define BOUNCED_CLASSIFY_TABLE_H

#include "report.h"

/* Side of a pattern's verdict when it differs from the reason's default
   (e.g. "receiving mail too quickly" is a rate limit of the recipient's
   inbox, not of the shop). */
enum classify_side_override {
	CLASSIFY_SIDE_DEFAULT = 0,
	CLASSIFY_SIDE_RECIPIENT,
	CLASSIFY_SIDE_SENDER,
	CLASSIFY_SIDE_NONE,
};

struct classify_pattern {
	const char *text; /* lowercase needle, '*' = "and later" */
	enum bounce_reason reason;
	enum classify_side_override side;
	const char *tag;  /* provider rule name ("gmail:5.7.26"), or
			     NULL for a generic text rule */
	const char *code; /* only when the status (or, without one,
			     the reply code) starts with this ("5.2.3",
			     "5"); NULL = any */
};

struct classify_code {
	const char *code; /* exact RFC 3463 code, "5.1.1" */
	enum bounce_reason reason;
};

/* Provider texts: checked first, they win over any status code.  Ends
   with a { NULL } entry. */
extern const struct classify_pattern classify_provider_patterns[];

/* Generic texts, in priority order (first match wins).  Ends with a
   { NULL } entry. */
extern const struct classify_pattern classify_text_patterns[];

/* RFC 3463 / IANA enhanced status codes with a reason.  Ends with
   { NULL }. */
extern const struct classify_code classify_status_codes[];

/* Default side of every reason, indexed by enum bounce_reason. */
extern const enum bounce_side classify_reason_sides[REASON_COUNT];

#endif
