/*
 * original.c - headers of the returned original and order correlation.
 *
 * Bounces return the original in three ways: as an attached message
 * (message/rfc822, message/global), as its header block alone
 * (text/rfc822-headers, message/global-headers, RFC 6533), or quoted in
 * the text (qmail, many providers).  The quoted form is found by the
 * first run of at least two header lines whose names a returned message
 * carries.
 */
#include <string.h>

#include "original.h"
#include "charset.h"
#include "dsn.h"
#include "input.h"
#include "textscan.h"

/* Longer than any name is_original_header_line() knows. */
#define ORIGINAL_NAME_MAX 32

struct mime_headers *
original_parse_headers(const char *text)
{
	return mime_headers_parse(text, strlen(text), bounce_parser_options());
}

/* Returns the length of the line's text before its first colon, or a
   length no name in is_original_header_line() has when there is none in
   the first bytes. */
static size_t
name_len(const char *line)
{
	size_t n = 0;

	while (n < ORIGINAL_NAME_MAX && line[n] != ':' && line[n] != '\0')
		n++;
	return n;
}

static bool
is_original_header_line(const char *line)
{
	static const char *const names[] = {"Return-Path:",
					    "Received:",
					    "Message-ID:",
					    "Message-Id:",
					    "From:",
					    "To:",
					    "Subject:",
					    "Date:",
					    "MIME-Version:",
					    "Content-Type:",
					    "X-Order-Number:",
					    "X-Mail-Type:",
					    "Reply-To:",
					    "DKIM-Signature:",
					    "Content-Transfer-Encoding:",
					    "Delivered-To:",
					    "X-Mailer:",
					    "Sender:",
					    NULL};
	size_t i, n = name_len(line);

	/* A name in the list has its only colon at its end: it matches the
	   line's first n + 1 bytes only if it is n + 1 bytes long, and a
	   shorter one differs at its colon, so no byte past it is read. */
	for (i = 0; names[i] != NULL; i++)
		if (text_same_ci(line, names[i], n + 1))
			return true;
	return false;
}

/* Returns a pointer to the first quoted header block in body (two
   consecutive recognised header lines, the second possibly after
   continuation lines), or NULL. */
static const char *
find_quoted_headers(const char *body)
{
	const char *p = body, *nl;

	while (*p != '\0') {
		const char *q;

		while (*p == ' ' || *p == '\t' || *p == '>')
			p++;
		nl = strchr(p, '\n');
		if (nl == NULL)
			return NULL;
		if (is_original_header_line(p)) {
			q = nl + 1;
			while (*q == ' ' || *q == '\t') {
				if ((nl = strchr(q, '\n')) == NULL)
					return NULL;
				q = nl + 1;
			}
			if (is_original_header_line(q))
				return p;
		}
		p = strchr(p, '\n') + 1;
	}
	return NULL;
}

/* Returns the original's header fields, or NULL; *owned_r tells whether
   the caller must free them. */
static struct mime_headers *
original_message(const struct bounce_input *in, bool *owned_r)
{
	const char *quoted;

	*owned_r = in->attached == NULL;
	if (in->attached != NULL)
		return in->attached;
	if (in->attached_headers != NULL)
		return original_parse_headers(in->attached_headers);
	if (in->body != NULL &&
	    (quoted = find_quoted_headers(in->body)) != NULL)
		return original_parse_headers(quoted);
	return NULL;
}

static void
set_header(char **field, struct mime_headers *msg, const char *name)
{
	const char *value = mime_headers_get(msg, name);
	char *fixed;

	if (value == NULL)
		return;
	fixed = charset_fix_header_if_needed(value);
	report_set_default(field, fixed != NULL ? fixed : value);
	g_free(fixed);
}

static void
set_addr_header(char **field, struct mime_headers *msg, const char *name)
{
	char *addr = input_first_addr(mime_headers_get(msg, name));

	if (addr != NULL)
		report_set_default(field, addr);
	g_free(addr);
}

static void
fill_original(struct mime_headers *msg, const struct bounce_options *opts,
	      struct bounce_report *report)
{
	struct bounce_original *o = &report->original;
	const char *date = mime_headers_get(msg, "Date");
	char *iso = dsn_iso_date(date);

	set_header(&o->message_id, msg, "Message-ID");
	set_addr_header(&o->from, msg, "From");
	set_addr_header(&o->to, msg, "To");
	set_header(&o->subject, msg, "Subject");
	report_set_default(&o->date, iso != NULL ? iso : date);
	g_free(iso);
	set_header(&report->order_number, msg, opts->order_header);
	set_header(&report->mail_type, msg, opts->type_header);
}

static bool
token_chars(const char *s, size_t n, size_t max, bool upper_ok)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!(g_ascii_isdigit(s[i]) || g_ascii_islower(s[i]) ||
		      s[i] == '_' ||
		      (upper_ok && (g_ascii_isupper(s[i]) || s[i] == '-'))))
			return false;
	return true;
}

bool
original_verp_token(const char *addr, char **order_r, char **type_r)
{
	const char *plus, *at, *dot;

	*order_r = *type_r = NULL;
	if (addr == NULL || (plus = strchr(addr, '+')) == NULL ||
	    (at = strchr(plus, '@')) == NULL)
		return false;
	plus++;
	dot = memchr(plus, '.', at - plus);
	if (!token_chars(plus, (dot != NULL ? dot : at) - plus, 64, true))
		return false;
	if (dot != NULL && !token_chars(dot + 1, at - dot - 1, 32, false))
		return false;
	*order_r = g_strndup(plus, (dot != NULL ? dot : at) - plus);
	if (dot != NULL)
		*type_r = g_strndup(dot + 1, at - dot - 1);
	return true;
}

/* The bounce's own envelope recipient: where VERP puts its token. */
static void
verp_from_envelope(const struct bounce_input *in, struct bounce_report *report)
{
	static const char *const names[] = {"X-Original-To", "Delivered-To",
					    "Envelope-To", "To", NULL};
	char *order = NULL, *type = NULL;
	size_t i;

	for (i = 0; names[i] != NULL && order == NULL; i++) {
		char *addr = input_first_addr(input_header(in, names[i]));

		original_verp_token(addr, &order, &type);
		g_free(addr);
	}
	report_set_default(&report->order_number, order);
	report_set_default(&report->mail_type, type);
	g_free(order);
	g_free(type);
}

void
original_extract(const struct bounce_input *in,
		 const struct bounce_options *opts,
		 struct bounce_report *report)
{
	bool owned;
	struct mime_headers *msg = original_message(in, &owned);

	if (msg != NULL) {
		fill_original(msg, opts, report);
		if (owned)
			mime_headers_free(&msg);
	}
	if (report->order_number == NULL)
		verp_from_envelope(in, report);
}
