/*
 * bounce.h - the parsers/ entry point: bytes in, struct bounce_report out.
 *
 * bounce_parse() normalises line ends, enforces the size cap, parses the
 * MIME structure with GMime, tries every format parser of the registry in
 * order, recovers the original message's headers and the order number,
 * then classifies every recipient.  It never does I/O and never logs.
 * Call g_mime_init() once before the first call.
 */
#ifndef BOUNCED_BOUNCE_H
#define BOUNCED_BOUNCE_H

#include "report.h"

#define BOUNCE_DEFAULT_MAX_SIZE     ((size_t)64 * 1024 * 1024)
#define BOUNCE_DEFAULT_ORDER_HEADER "X-Order-Number"
#define BOUNCE_DEFAULT_TYPE_HEADER  "X-Mail-Type"

struct bounce_options {
	size_t max_size;          /* bigger input is kind error; 0 = default */
	const char *order_header; /* NULL = BOUNCE_DEFAULT_ORDER_HEADER */
	const char *type_header;  /* NULL = BOUNCE_DEFAULT_TYPE_HEADER */
};

/* Parses len bytes of one message.  Always returns a report (never NULL):
   kind ERROR with report->error set when the input cannot be parsed
   (too big, empty, not MIME at all), kind NONE when it is an ordinary mail.
   opts may be NULL for the defaults.  The caller owns the report and frees
   it with report_free(). */
struct bounce_report *bounce_parse(const char *data, size_t len,
				   const struct bounce_options *opts);

/* Returns the error report bounce_parse() gives for a message of len
   bytes over the limit max, for callers that know the size before reading
   (so a huge file is never read).  Caller owns it. */
struct bounce_report *bounce_too_large(size_t len, size_t max);

/* Returns the shared GMime parser options bounced uses (Japanese charset
   fallbacks).  Owned by the module; valid until bounce_shutdown(). */
struct _GMimeParserOptions *bounce_parser_options(void);

/* Frees module state; call before g_mime_shutdown(). */
void bounce_shutdown(void);

#endif
