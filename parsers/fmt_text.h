/*
 * fmt_text.h - the table-driven reader of plain-text provider and carrier
 * bounces, shared by fmt_provider.c and fmt_jp.c (defined in
 * fmt_provider.c).
 *
 * A format is data: how to recognise it and where its error section is.
 * In the section, a line that starts with an address (after white space,
 * <, quotes, or a label such as "Recipient:") starts a recipient; the
 * lines after it, up to the next recipient, are its text.  The diagnostic
 * is the paragraph after the last diag_after marker in that text, else the
 * text's first paragraph, else the text before the first recipient.
 */
#ifndef BOUNCED_FMT_TEXT_H
#define BOUNCED_FMT_TEXT_H

#include "registry.h"

/* flags of struct fmt_text */
#define FMT_ADDR_ANYWHERE                                                      \
	0x01 /* an address anywhere in a line starts a                         \
		recipient ("Your message wasn't delivered                      \
		to x because ...") */
#define FMT_PREAMBLE                                                           \
	0x02 /* the text before the first recipient                            \
		leads every diagnostic (the reason is                          \
		stated once, above the addresses) */
#define FMT_HEADER_RCPTS                                                       \
	0x04 /* recipients from X-Failed-Recipients when                       \
		the text names none */
#define FMT_DSN_FIELDS                                                         \
	0x08 /* the section holds RFC 3464 fields in                           \
		plain text */

struct fmt_text {
	/* Detection: every list that is set must have a hit (any needle,
	   ASCII case-insensitive substring). */
	const char *const *from;    /* in the From header */
	const char *const *subject; /* in the Subject */
	const char *const *headers; /* "Name" (present) or "Name: needle"
				       (some header of that name holds
				       needle; every Received is tried) */
	const char *const *body;    /* in the human-readable text */
	/* The error section: from the first line holding a begin marker
	   (NULL: from the top) to the first line holding an end marker
	   (NULL: the usual "original message follows" lines). */
	const char *const *begin;
	const char *const *end;
	const char *const *diag_after; /* "The response was:" */
	const char *const *delayed;    /* body text of a delay warning */
	unsigned flags;
};

/* Reads in as the format fmt.  Returns 1 and adds the recipients to
   report (kind BOUNCE_KIND_BOUNCE, action "failed" or "delayed") if in is
   in that format and names at least one recipient; otherwise returns 0
   and leaves report untouched. */
int fmt_text_parse(const struct fmt_text *fmt, const struct bounce_input *in,
		   struct bounce_report *report);

/* Defines parse_<id>() and the registry entry fmt_<id> named "<id>" for
   the struct fmt_text text_<id>. */
#define FMT_TEXT_PARSER(id)                                                    \
	static int parse_##id(const struct bounce_input *in,                   \
			      struct bounce_report *report)                    \
	{                                                                      \
		return fmt_text_parse(&text_##id, in, report);                 \
	}                                                                      \
	static const struct bounce_parser fmt_##id = {#id, parse_##id}

#endif
