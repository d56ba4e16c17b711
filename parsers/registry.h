/*
 * registry.h - the table of format parsers and what each one is handed.
 *
 * A format parser looks at one parsed message (struct bounce_input) and,
 * if the message is in its format, fills the report's recipients and
 * returns 1.  It returns 0 when the message is not its format, leaving
 * the report untouched.  Parsers never classify (classify.c does that
 * afterwards from status, reply code and diagnostic) and never allocate
 * outside the report.
 */
#ifndef BOUNCED_REGISTRY_H
#define BOUNCED_REGISTRY_H

#include "mime.h"
#include "report.h"

struct bounce_input {
	struct mime_message *msg; /* the bounce, parsed by mime.c */
	const char *subject;   /* decoded UTF-8, "" if none */
	const char *from;      /* From header, decoded, "" if none */
	const char *from_addr; /* the From addr-spec, lowercased, "" if none */
	/* The human-readable text of the bounce in UTF-8 with LF line ends:
	   every text/plain part (or text/html with tags stripped when no
	   text/plain exists) outside attached messages, concatenated.  "" if
	   none. */
	const char *body;
	/* The header fields of the attached original message
	   (message/rfc822, message/global) or NULL.  Borrowed from msg. */
	struct mime_headers *attached;
	/* Raw text of a text/rfc822-headers or message/global-headers part,
	   UTF-8, or NULL. */
	const char *attached_headers;
	/* The message/delivery-status (or global-delivery-status) part's
	   decoded text, or NULL. */
	const char *delivery_status;
};

struct bounce_parser {
	const char *name;
	/* See the top of this file.  report->kind is set by the parser. */
	int (*parse)(const struct bounce_input *in,
		     struct bounce_report *report);
};

/* Runs the parsers in order until one returns 1; sets report->parser to
   its name.  Returns 1 if a parser claimed the message, else 0. */
int registry_parse(const struct bounce_input *in, struct bounce_report *report);

/* Returns a header of msg (decoded, UTF-8) or NULL.  Borrowed. */
const char *input_header(const struct bounce_input *in, const char *name);

#endif
