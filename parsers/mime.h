/*
 * mime.h - a lean MIME structure scanner: bytes -> headers and a part tree.
 *
 * GMime's parser builds a GObject tree (header lists, events, streams,
 * data wrappers) that costs far more than reading a bounce.  This module
 * walks the bytes once and keeps pointers into them; GMime still does the
 * RFC work on the small pieces: header decoding
 * (g_mime_utils_header_decode_text), Content-Type and Content-Disposition
 * parsing, and base64 / quoted-printable / uuencode decoding.  The rules
 * follow GMime 3.2's parser (checked by tests/test_parse.c), so results are
 * the same as from g_mime_parser_construct_message():
 *   - a header line is NAME [WSP] ":" VALUE; invalid lines are skipped,
 *     lines starting with white space continue the previous field;
 *   - a message's Content-* fields belong to its body part, the others
 *     to the message;
 *   - Content-Type and Content-Transfer-Encoding: the last field wins;
 *     no Content-Type means text/plain (message/rfc822 in a digest);
 *   - a boundary line is "--" BOUNDARY [WSP], the end "--" BOUNDARY "--"
 *     [WSP]; a boundary of any enclosing multipart ends inner parts; the
 *     line break before a boundary belongs to the boundary;
 *   - message/rfc822, rfc2822, news and global are parsed as messages
 *     unless transfer-encoded; multipart nesting is capped at
 *     MIME_MAX_DEPTH (deeper multiparts are leaves).
 * The input must have LF line ends only and must outlive the result.
 * Pure: no I/O, no logging, linear time.
 */
#ifndef BOUNCED_MIME_H
#define BOUNCED_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <gmime/gmime.h>

#define MIME_MAX_DEPTH 32

struct mime_headers;

/* A parsed Content-Type.  Simple values (token/token and token or
   quoted-string parameters, see mime_ctype_parse()) are split into buf;
   anything else is kept as GMime parses it, in gm. */
struct mime_ctype {
	const char *type, *subtype; /* never NULL; in buf, gm or static */
	char *buf;                  /* owned: type, subtype, then nparams
				       "name\0value\0" pairs; or NULL */
	const char *params;         /* the first pair in buf */
	size_t nparams;
	GMimeContentType *gm; /* owned reference, or NULL */
};

struct mime_part {
	struct mime_headers *headers;  /* the part's fields; a message's
					  Content-* fields are its body's */
	struct mime_ctype type;        /* from the last Content-Type */
	GMimeContentEncoding encoding; /* Content-Transfer-Encoding */
	const char *content;           /* raw body, not decoded; NULL if */
	size_t content_len;            /* the part has none */
	GPtrArray *children;           /* multipart: struct mime_part *,
					  else NULL */
	struct mime_message *message;  /* message/rfc822 etc.: the
					  attached message, or NULL */
};

struct mime_message {
	struct mime_headers *headers; /* all but the Content-* fields */
	struct mime_part *body;       /* never NULL */
};

/* Parses len bytes (LF line ends) as a message; mbox skips a leading
   "From " line and ends the message at the next one, as
   GMIME_FORMAT_MBOX does.  options are used for header decoding and must
   outlive the result.  Returns a new message (mime_message_free()) that
   points into data, or NULL where GMime refuses the message too: the
   first header line is no field, the input ends inside a field name, or
   it ends before any field. */
struct mime_message *mime_message_parse(const char *data, size_t len, bool mbox,
					GMimeParserOptions *options);

/* Parses a header block alone (up to a blank line or the end, which
   ends it cleanly) as a message's header fields (no Content-* ones), as
   original_parse_headers() needs.  Returns new headers pointing into
   data (mime_headers_free()); empty when the first line is no field
   (GMime refuses such a message). */
struct mime_headers *mime_headers_parse(const char *data, size_t len,
					GMimeParserOptions *options);

/* Frees *msg and everything under it; sets *msg to NULL.  NULL is a
   no-op. */
void mime_message_free(struct mime_message **msg);

/* Frees *headers; sets it to NULL.  NULL is a no-op. */
void mime_headers_free(struct mime_headers **headers);

/* Returns the decoded (unfolded, RFC 2047, UTF-8 or fallback charset)
   value of the first field named name (ASCII case-insensitive), or NULL.
   Borrowed from headers; decoded once, on first use. */
const char *mime_headers_get(struct mime_headers *headers, const char *name);

/* As mime_headers_get(), for the last field named name (GMime keeps the
   last Subject as the message subject). */
const char *mime_headers_get_last(struct mime_headers *headers,
				  const char *name);

/* Returns the number of fields. */
size_t mime_headers_count(const struct mime_headers *headers);

/* True if field i is named name (ASCII case-insensitive). */
bool mime_headers_name_is(const struct mime_headers *headers, size_t i,
			  const char *name);

/* As mime_headers_name_is() for the name of n bytes at name (the rest of
   a "Name: needle" spec, say, is not looked at). */
bool mime_headers_name_is_n(const struct mime_headers *headers, size_t i,
			    const char *name, size_t n);

/* As mime_headers_get() for the name of n bytes at name. */
const char *mime_headers_get_n(struct mime_headers *headers, const char *name,
			       size_t n);

/* Returns the decoded value of field i (see mime_headers_get()). */
const char *mime_headers_value(struct mime_headers *headers, size_t i);

/* True if part's type is type/subtype ("*" matches any subtype). */
bool mime_part_is(const struct mime_part *part, const char *type,
		  const char *subtype);

/* Returns the Content-Type parameter name of part, or NULL.  Borrowed. */
const char *mime_part_param(const struct mime_part *part, const char *name);

/* Parses a Content-Type value into *ct as g_mime_content_type_parse()
   with options would, splitting simple values itself and leaving the
   rest to GMime.  Release with mime_ctype_clear(). */
void mime_ctype_parse(struct mime_ctype *ct, const char *value,
		      GMimeParserOptions *options);

/* Frees what ct owns and zeroes it. */
void mime_ctype_clear(struct mime_ctype *ct);

/* As g_mime_content_type_is_type(): case-insensitive, "*" matches any
   type or subtype. */
bool mime_ctype_is(const struct mime_ctype *ct, const char *type,
		   const char *subtype);

/* As g_mime_content_type_get_parameter(): the first parameter named
   name (ignoring case), or NULL.  Borrowed from ct. */
const char *mime_ctype_param(const struct mime_ctype *ct, const char *name);

/* True if part has Content-Disposition: attachment. */
bool mime_part_is_attachment(const struct mime_part *part);

/* Returns part's content with the transfer encoding undone, at most max
   bytes of it, converted to UTF-8 from its charset parameter (or by
   detection, charset.c).  Newly allocated (g_free); never NULL. */
char *mime_part_text(const struct mime_part *part, size_t max);

#endif
