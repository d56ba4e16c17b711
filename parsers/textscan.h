/*
 * textscan.h - linear-time helpers for reading plain-text bounce bodies.
 *
 * Non-standard bounces (qmail, Exim, Sendmail, Exchange, carriers, ...)
 * are text: a preamble, then per recipient an address line followed by
 * the server's reply, then the returned message.  These helpers find those
 * pieces without backtracking regular expressions: every function runs in
 * time linear in its input.  All matching of markers is ASCII
 * case-insensitive substring matching.
 */
#ifndef BOUNCED_TEXTSCAN_H
#define BOUNCED_TEXTSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "report.h"

/* True if the n bytes at a and b are equal, ignoring ASCII case (as
   g_ascii_strncasecmp() for bytes without NUL); inline, cheaper than a
   library call for the short compares of header names and searches.
   Stops at the first difference. */
static inline bool
text_same_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i] &&
		    (a[i] >= 'A' && a[i] <= 'Z' ? a[i] - 'A' + 'a' : a[i]) !=
			(b[i] >= 'A' && b[i] <= 'Z' ? b[i] - 'A' + 'a' : b[i]))
			return false;
	return true;
}

/* Returns a pointer to the first occurrence of needle in hay, ignoring
   ASCII case, or NULL.  An empty needle matches at hay. */
const char *text_find_ci(const char *hay, const char *needle);

/* Returns true if hay contains needle, ignoring ASCII case. */
bool text_has_ci(const char *hay, const char *needle);

/* Returns true if hay contains any of the NULL-terminated list needles. */
bool text_has_any_ci(const char *hay, const char *const *needles);

/* Returns true if s starts with prefix, ignoring ASCII case.  Inline:
   the callers pass literals, whose length the compiler then knows. */
static inline bool
text_starts_ci(const char *s, const char *prefix)
{
	/* text_same_ci() stops at the first difference, so it never reads past
	   the NUL of a shorter s */
	return s != NULL && text_same_ci(s, prefix, strlen(prefix));
}

/* Finds the first addr-spec (local@domain) in the n bytes at s, bare or
   in <...>: in "a@b.jp: 550 <a@b.jp>..." the first one starts the line's
   meaning.  Sets *start_r and *len_r and
   returns true, or returns false.  Does not accept addresses whose domain
   has no dot unless it is in brackets. */
bool text_find_addr(const char *s, size_t n, const char **start_r,
		    size_t *len_r);

/* Returns a newly allocated (g_free) copy of the addr-spec at s/n with the
   domain lowercased and surrounding <>, quotes and trailing dots removed,
   or NULL if it is not plausibly an address. */
char *text_clean_addr(const char *s, size_t n);

/* Line walking over LF text: text_line_end() returns the end of the line
   starting at p (its '\n' or the final '\0'); text_next_line() the start
   of the next line given that end. */
const char *text_line_end(const char *p);
const char *text_next_line(const char *e);

/* True if the line p..e is empty or white space only. */
bool text_line_blank(const char *p, const char *e);

/* True if the line p..e contains one of needles (NULL-terminated, may be
   NULL), ignoring ASCII case.  Does not allocate. */
bool text_line_has_any(const char *p, const char *e,
		       const char *const *needles);

/* Returns the start of the first line of the text at p that
   text_line_has_any() would match with needles, or NULL (also when
   needles is NULL): one pass per needle over the text instead of one
   per line.  Needles must not hold '\n' (a line never does). */
const char *text_first_line_with_any(const char *p,
				     const char *const *needles);

/* True if the address at a/alen is rcpt's own address (a reply line that
   quotes it).  rcpt may be NULL. */
bool text_is_rcpt(const struct bounce_rcpt *rcpt, const char *a, size_t alen);

/* Adds each address of a comma-separated list (the X-Failed-Recipients
   header) to report as a failed recipient, skipping ones already there.
   value may be NULL.  Returns the number added. */
int textscan_failed_list(const char *value, struct bounce_report *report);

/* Where the error section of a text bounce starts and ends. */
struct textscan_spec {
	/* Scanning starts after the first line containing one of these;
	   NULL or no match = from the top (when begin_required is false). */
	const char *const *begin;
	bool begin_required;
	/* Scanning stops at the first line (after the start) containing one
	   of these: usually the marker before the returned message. */
	const char *const *end;
	/* Lines containing one of these never start a recipient (e.g. the
	   postmaster address in a signature). */
	const char *const *ignore;
};

/* Scans body (UTF-8, LF line ends) as described by spec: every line with
   an addr-spec starts a recipient; the following non-blank lines, up to a
   blank line or the next address line, plus any text on the address line
   after the address, form its diagnostic.  Recipients already in report
   get their diagnostic filled instead of being added twice.  Sets status
   and reply code when the diagnostic holds them.  Returns the number of
   recipients found. */
int textscan_recipients(const char *body, const struct textscan_spec *spec,
			struct bounce_report *report);

/* Returns a newly allocated copy (g_free) of the text of body between the
   first line containing a begin marker and the first later line
   containing an end marker, or NULL if no begin marker matches.  end may
   be NULL (to the end). */
char *text_section(const char *body, const char *const *begin,
		   const char *const *end);

#endif
