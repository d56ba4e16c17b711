/*
 * original.h - recovers the headers of the mail that bounced and, from
 * them, the shop's order number and mail type.
 */
#ifndef BOUNCED_ORIGINAL_H
#define BOUNCED_ORIGINAL_H

#include "bounce.h"
#include "registry.h"

/* Fills report->original, report->order_number and report->mail_type
   from the attached original (message/rfc822), the text/rfc822-headers
   part, or a header block quoted in the body, in that order of trust; then
   from a VERP token in the bounce's own recipient (local+ORDER[.TYPE]@...)
   when the headers gave no order number.  Never overwrites fields a
   parser already set. */
void original_extract(const struct bounce_input *in,
		      const struct bounce_options *opts,
		      struct bounce_report *report);

/* Parses text as a header block (what follows a blank line is ignored)
   and returns new header fields (mime_headers_free()) that point into
   text: keep text alive.  A block whose first line is no field has no
   fields (GMime refuses such a message). */
struct mime_headers *original_parse_headers(const char *text);

/* Parses a VERP token "ORDER" or "ORDER.TYPE" from the local part of
   addr after its first '+'.  ORDER is 1-64 of [A-Za-z0-9_-] and TYPE
   1-32 of [a-z0-9_].  Returns true and sets newly allocated *order_r and
   *type_r (NULL when absent) on success. */
bool original_verp_token(const char *addr, char **order_r, char **type_r);

#endif
