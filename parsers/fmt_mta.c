/*
 * fmt_mta.c - plain-text bounces of MTAs and mail filters: qmail, Exim,
 * Postfix, Sendmail, Courier, OpenSMTPD, Apache James, Messaging Server,
 * IMail, PowerMTA, the filtering appliances (InterScan, MailMarshal,
 * McAfee, ...) and a few unnamed MTAs.
 *
 * Each format is one row of formats[]: how to recognise it (From,
 * Subject, a distinctive header, a marker line in the text; narrow enough
 * that a normal mail or another vendor's bounce is never claimed) and how
 * its error section is laid out (where it begins and ends, what a
 * recipient line looks like, which line carries the server's reply).  One
 * shared scanner reads every format.  Only the registry-facing wrappers
 * differ per format.  Standard multipart/report bounces of these MTAs are
 * taken earlier by dsn.c; the rows here are for the non-RFC-3464 forms.
 * Like every parser, this file never classifies and never does I/O.
 */
#include <string.h>

#include "formats.h"
#include "input.h"
#include "textscan.h"

/* What a recipient line looks like (bit set). */
#define SHAPE_LEAD  0x01 /* the address opens the line: "<a@b>: ...", "  a@b" */
#define SHAPE_LABEL 0x02 /* the address follows a label from labels[] */
#define SHAPE_CODE  0x04 /* "550 [5.1.1] <a@b>... text" (sendmail transcript) */
#define SHAPE_ANY   0x08 /* an address anywhere on the line */

/* Behaviour flags. */
#define MTA_ENV_ALL    0x01 /* every given envelope list must match, not any */
#define MTA_KEEP_BLANK 0x02 /* blank lines do not end a diagnostic */
#define MTA_DIAG_LINE  0x04 /* the whole recipient line is diagnostic text */
#define MTA_FAILED_HDR 0x08 /* X-Failed-Recipients when the text names none */
#define MTA_ORIG_TO    0x10 /* To of the returned original as a last resort */
#define MTA_NO_BLOCK   0x20 /* recipient lines carry no diagnostic block */
#define MTA_HOST_BODY  0x40 /* remote host from anywhere in the section */

struct mta_format {
	/* Envelope tests: From contains, Subject contains, headers
	   ("Name" = present, "Name:text" = value contains text).  Any one
	   match suffices (all lists must match with MTA_ENV_ALL). */
	const char *const *from;
	const char *const *subject;
	const char *const *headers;
	/* The body must contain one of these (NULL: no body test). */
	const char *const *marker;
	/* The error section: after a begin line, up to an end line. */
	const char *const *begin;
	const char *const *end;
	unsigned shape;
	const char *const *labels;  /* SHAPE_LABEL prefixes */
	const char *const *ignore;  /* lines never holding a recipient */
	const char *const *need;    /* a recipient line holds one of these */
	/* A line of a recipient's block starting with one of these is its
	   diagnostic (the earlier label wins); else the whole block is. */
	const char *const *diag_labels;
	/* When the diagnostic holds one of these, only the text after it
	   is kept ("... failed with: 550 ..."). */
	const char *const *diag_after;
	/* A diagnostic shared by all recipients: the lines after a
	   diag_begin line up to a diag_end line. */
	const char *const *diag_begin;
	const char *const *diag_end;
	/* Subject or body text saying this is only a delay warning. */
	const char *const *delayed;
	/* The token after one of these names the reporting MTA. */
	const char *const *mta_after;
	unsigned flags;
};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Header-block lines of a quoted original: never recipients. */
static const char *const quoted_headers[] = {"From:", "Reply-To:",
    "Return-Path:", "Sender:", "Message-ID:", "Date:", "Received:",
    "Subject:", "MAIL FROM:", NULL};

/* Prefixes after which the remote host name follows. */
static const char *const host_prefixes[] = {"host ", "while talking to ",
    "Giving up on ", "Remote system: dns;", "Server ", "Connected to ",
    "SMTP Server <", NULL};

/* --- small text helpers ------------------------------------------------ */

static const char *
skip_space(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Returns the length of the label of labels[] that s starts with, or 0
   (labels match case-insensitively, after leading white space). */
static size_t
label_len(const char *s, const char *const *labels)
{
	if (labels == NULL)
		return 0;
	for (; *labels != NULL; labels++)
		if (text_starts_ci(s, *labels))
			return strlen(*labels);
	return 0;
}

/* Returns a copy (g_free) of the host-name token at p: letters, digits,
   '-', '.', ':' (IPv6), without trailing dots; NULL if it is not dotted. */
static char *
host_token(const char *p)
{
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:");

	while (n > 0 && (p[n - 1] == '.' || p[n - 1] == ':'))
		n--;
	if (n < 3 || memchr(p, '.', n) == NULL || n > 255)
		return NULL;
	return g_ascii_strdown(p, n);
}

/* Finds a host name after one of prefixes in text (the prefix must not
   continue a word, so "localhost " is no "host ").  NULL if none. */
static char *
find_host_after(const char *text, const char *const *prefixes)
{
	const char *p;
	char *host;

	if (text == NULL || prefixes == NULL)
		return NULL;
	for (; *prefixes != NULL; prefixes++) {
		for (p = text; (p = text_find_ci(p, *prefixes)) != NULL; p++) {
			if (p > text && g_ascii_isalnum(p[-1]))
				continue;
			host = host_token(p + strlen(*prefixes));
			if (host != NULL)
				return host;
		}
	}
	return NULL;
}

/* --- detection --------------------------------------------------------- */

/* Returns true if header "Name" or "Name:text" matches the message. */
static bool
header_matches(const struct bounce_input *in, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *value = mime_headers_get_n(
	    in->msg->headers, spec,
	    colon != NULL ? (size_t)(colon - spec) : strlen(spec));

	return value != NULL &&
	       (colon == NULL || text_has_ci(value, colon + 1));
}

static bool
headers_match(const struct bounce_input *in, const char *const *specs)
{
	for (; *specs != NULL; specs++)
		if (header_matches(in, *specs))
			return true;
	return false;
}

/* Envelope test: see struct mta_format. */
static bool
envelope_matches(const struct mta_format *f, const struct bounce_input *in)
{
	bool all = (f->flags & MTA_ENV_ALL) != 0;
	int given = 0, hits = 0;

	if (f->from != NULL && ++given)
		hits += text_has_any_ci(in->from, f->from);
	if (f->subject != NULL && ++given)
		hits += text_has_any_ci(in->subject, f->subject);
	if (f->headers != NULL && ++given)
		hits += headers_match(in, f->headers);
	if (given == 0)
		return true;
	return all ? hits == given : hits > 0;
}

static bool
format_matches(const struct mta_format *f, const struct bounce_input *in)
{
	if (!envelope_matches(f, in))
		return false;
	return f->marker == NULL || text_has_any_ci(in->body, f->marker);
}

/* --- the shared scanner ------------------------------------------------ */

struct scan {
	const struct mta_format *f;
	struct bounce_report *report;
	struct bounce_rcpt *rcpt;   /* the recipient being read or NULL */
	GString *diag;              /* its block so far */
	char *labelled;             /* its diag_labels line, if any */
	size_t label_rank;          /* index of that label in diag_labels */
	int count;
};

/* Returns true if the first word at s (up to white space or e) is an
   address, maybe in <>; sets *a_r and *alen_r to it. */
static bool
lead_addr(const char *s, const char *e, const char **a_r, size_t *alen_r)
{
	size_t n = 0;

	while (s + n < e && s[n] != ' ' && s[n] != '\t' && s[n] != ',')
		n++;
	if (!text_find_addr(s, n, a_r, alen_r))
		return false;
	return *a_r == s || (*s == '<' && *a_r == s + 1);
}

/* True if the line p..e holds one of quoted_headers; each of them holds
   a colon, which most lines do not. */
static bool
quoted_header_line(const char *p, const char *e)
{
	return memchr(p, ':', e - p) != NULL &&
	       text_line_has_any(p, e, quoted_headers);
}

/* Finds the address of a recipient line per f->shape.  Returns the shape
   that matched, or 0 if the line holds no recipient. */
static unsigned
rcpt_line(const struct mta_format *f, const char *p, const char *e,
    const char **a_r, size_t *alen_r)
{
	const char *s = skip_space(p, e);
	size_t n;

	if (text_line_has_any(p, e, f->ignore) || quoted_header_line(p, e) ||
	    (f->need != NULL && !text_line_has_any(p, e, f->need)))
		return 0;
	if ((f->shape & SHAPE_ANY) && text_find_addr(s, e - s, a_r, alen_r))
		return SHAPE_ANY;
	if ((f->shape & SHAPE_LEAD) && lead_addr(s, e, a_r, alen_r))
		return SHAPE_LEAD;
	if ((f->shape & SHAPE_LABEL) && (n = label_len(s, f->labels)) > 0) {
		s = skip_space(s + n, e);
		return text_find_addr(s, e - s, a_r, alen_r) ? SHAPE_LABEL : 0;
	}
	if ((f->shape & SHAPE_CODE) && e - s > 4 && g_ascii_isdigit(s[0]) &&
	    g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) && s[3] == ' ') {
		/* "550 <a@b>..." or "550 5.1.1 <a@b>..." */
		s = skip_space(s + 4, e);
		if (g_ascii_isdigit(*s) && s[1] == '.')
			s = skip_space(s + strcspn(s, " "), e);
		if (lead_addr(s, e, a_r, alen_r))
			return SHAPE_CODE;
	}
	return 0;
}

/* Returns the text after the first of markers found in text (white
   space skipped), or text itself when none is found. */
static const char *
after_marker(const char *text, const char *const *markers)
{
	const char *p, *rest;

	for (; markers != NULL && *markers != NULL; markers++) {
		if ((p = text_find_ci(text, *markers)) == NULL)
			continue;
		rest = p + strlen(*markers);
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest != '\0')
			return rest;
	}
	return text;
}

/* Returns a copy (g_free) of text without one pair of brackets or
   parentheses around all of it ("[User unknown]", "(User unknown a@b)"). */
static char *
unwrap(const char *text)
{
	size_t n = strlen(text);

	if (n > 2 && ((text[0] == '(' && text[n - 1] == ')') ||
	    (text[0] == '[' && text[n - 1] == ']')) &&
	    memchr(text + 1, text[n - 1], n - 2) == NULL)
		return g_strndup(text + 1, n - 2);
	return g_strdup(text);
}

/* Stores the block read for the current recipient.  A later block
   replaces an earlier one only if it carries a reply code the earlier
   lacks (sendmail: the "(reason: ...)" line, then the transcript). */
static void
scan_finish(struct scan *st)
{
	struct bounce_rcpt *r = st->rcpt;
	char *bare = unwrap(after_marker(st->labelled != NULL ? st->labelled :
	    st->diag->str, st->f->diag_after));
	const char *text = bare;
	struct bounce_rcpt probe = {0};

	if (r != NULL && *text != '\0') {
		if (r->diagnostic == NULL || (r->replycode[0] == '\0' &&
		    report_set_replycode(&probe, text))) {
			report_set(&r->diagnostic, text);
			r->replycode[0] = '\0';
			r->status[0] = '\0';
		}
		if (r->status[0] == '\0')
			report_set_status(r, r->diagnostic);
		if (r->replycode[0] == '\0')
			report_set_replycode(r, r->diagnostic);
	}
	if (r != NULL && r->remote_mta == NULL)
		r->remote_mta = find_host_after(st->diag->str, host_prefixes);
	g_free(bare);
	st->rcpt = NULL;
	g_string_truncate(st->diag, 0);
	g_clear_pointer(&st->labelled, g_free);
	st->label_rank = 0;
}

/* Appends a line of text to the current block, noting a labelled one. */
static void
scan_append(struct scan *st, const char *p, const char *e)
{
	const char *const *labels = st->f->diag_labels;
	size_t i, n;

	p = skip_space(p, e);
	while (e > p && g_ascii_isspace(e[-1]))
		e--;
	if (p >= e)
		return;
	for (i = 0; labels != NULL && labels[i] != NULL; i++) {
		n = strlen(labels[i]);
		if ((size_t)(e - p) < n || g_ascii_strncasecmp(p, labels[i], n))
			continue;
		if (st->labelled == NULL || i < st->label_rank) {
			g_free(st->labelled);
			/* "(reason: ...)" loses its closing parenthesis */
			st->labelled = g_strndup(p + n, e - p - n -
			    (labels[i][0] == '(' && e[-1] == ')'));
			g_strstrip(st->labelled);
			st->label_rank = i;
		}
		break;
	}
	if (st->diag->len > 0)
		g_string_append_c(st->diag, ' ');
	g_string_append_len(st->diag, p, e - p);
}

/* Returns true if rest..e is nothing but r's address again, maybe in
   <> (Active!hunter: ">>> a@b <a@b>"). */
static bool
only_same_addr(const struct bounce_rcpt *r, const char *rest, const char *e)
{
	const char *a;
	size_t alen;

	while (e > rest && g_ascii_isspace(e[-1]))
		e--;
	if (rest >= e || !text_find_addr(rest, e - rest, &a, &alen) ||
	    !text_is_rcpt(r, a, alen))
		return false;
	return (a == rest || (a == rest + 1 && *rest == '<')) &&
	    (a + alen == e || (a + alen + 1 == e && a[alen] == '>'));
}

/* Skips Postfix's "(expanded from <alias>):" after a recipient, keeping
   the alias as the original recipient. */
static const char *
skip_expanded(struct bounce_rcpt *r, const char *rest, const char *e)
{
	const char *close, *a;
	size_t alen;

	if (rest >= e || !text_starts_ci(rest, "(expanded from") ||
	    (close = memchr(rest, ')', (size_t)(e - rest))) == NULL)
		return rest;
	if (r->original_recipient == NULL &&
	    text_find_addr(rest, close - rest, &a, &alen))
		r->original_recipient = text_clean_addr(a, alen);
	return close + 1;
}

/* Starts the block of the recipient at a/alen on the line p..e. */
static void
scan_start(struct scan *st, const char *p, const char *e, const char *a,
    size_t alen, unsigned shape)
{
	char *addr = text_clean_addr(a, alen);
	const char *rest = a + alen;

	scan_finish(st);
	if (addr == NULL)
		return;
	if ((st->rcpt = report_find_rcpt(st->report, addr)) == NULL) {
		st->rcpt = report_add_rcpt(st->report);
		st->rcpt->recipient = addr;
		st->rcpt->action = g_strdup("failed");
		st->count++;
	} else {
		g_free(addr);
	}
	if ((st->f->flags & MTA_DIAG_LINE) || shape == SHAPE_CODE) {
		scan_append(st, p, e);
		return;
	}
	while (rest < e && strchr(">:.,; \t", *rest) != NULL)
		rest++;
	rest = skip_expanded(st->rcpt, rest, e);
	while (rest < e && strchr(":; \t", *rest) != NULL)
		rest++;
	if (!only_same_addr(st->rcpt, rest, e))
		scan_append(st, rest, e);
}

/* Returns the start of the error section, or NULL if a begin marker is
   required and missing. */
static const char *
section_start(const struct mta_format *f, const char *body)
{
	const char *p;

	if (f->begin == NULL)
		return body;
	if ((p = text_first_line_with_any(body, f->begin)) == NULL)
		return NULL;
	return text_next_line(text_line_end(p));
}

/* Reads the recipients of the error section.  Returns how many. */
static int
scan_body(const struct mta_format *f, const char *body,
    struct bounce_report *report)
{
	struct scan st = {f, report, NULL, g_string_new(NULL), NULL, 0, 0};
	const char *p, *e, *a, *stop;
	size_t alen;
	unsigned shape;

	if ((p = section_start(f, body)) == NULL)
		goto out;
	stop = text_first_line_with_any(p, f->end);
	for (; *p != '\0' && p != stop; p = text_next_line(e)) {
		e = text_line_end(p);
		shape = rcpt_line(f, p, e, &a, &alen);
		if (shape != 0 && text_is_rcpt(st.rcpt, a, alen)) {
			scan_append(&st, p, e); /* a folded reply */
		} else if (shape != 0) {
			scan_start(&st, p, e, a, alen, shape);
			if (f->flags & MTA_NO_BLOCK)
				scan_finish(&st);
		} else if (text_line_blank(p, e) && !(f->flags & MTA_KEEP_BLANK)) {
			if (st.diag->len > 0)
				scan_finish(&st);
		} else if (st.rcpt != NULL) {
			scan_append(&st, p, e);
		}
	}
	scan_finish(&st);
out:
	g_string_free(st.diag, TRUE);
	return st.count;
}

/* --- recipients from elsewhere ----------------------------------------- */

static struct bounce_rcpt *
add_rcpt(struct bounce_report *report, char *addr)
{
	struct bounce_rcpt *r;

	if (addr == NULL || report_find_rcpt(report, addr) != NULL) {
		g_free(addr);
		return NULL;
	}
	r = report_add_rcpt(report);
	r->recipient = addr;
	r->action = g_strdup("failed");
	return r;
}

static int
original_to(const struct bounce_input *in, struct bounce_report *report)
{
	const char *to;

	if (in->attached == NULL)
		return 0;
	to = mime_headers_get(in->attached, "To");
	return add_rcpt(report, input_first_addr(to)) != NULL;
}

/* --- completing the report --------------------------------------------- */

/* Returns the shared diagnostic: after the first line holding a
   diag_begin marker, the next non-blank lines up to a blank line or a
   diag_end line, joined; NULL if there is none.  g_free. */
static char *
shared_text(const struct mta_format *f, const char *body)
{
	GString *out = g_string_new(NULL);
	const char *p = body, *e;
	bool on = false;

	for (; *p != '\0'; p = text_next_line(e)) {
		e = text_line_end(p);
		if (!on) {
			on = text_line_has_any(p, e, f->diag_begin);
			continue;
		}
		if (text_line_has_any(p, e, f->diag_end))
			break;
		if (text_line_blank(p, e)) {
			if (out->len > 0)
				break;
			continue;
		}
		if (out->len > 0)
			g_string_append_c(out, ' ');
		g_string_append_len(out, p, e - p);
	}
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* Applies the shared diagnostic where a recipient has none. */
static void
shared_diag(const struct mta_format *f, const char *body,
    struct bounce_report *report)
{
	char *text;
	guint i;

	if (f->diag_begin == NULL || (text = shared_text(f, body)) == NULL)
		return;
	for (i = 0; i < report->rcpts->len; i++) {
		struct bounce_rcpt *r = g_ptr_array_index(report->rcpts, i);

		if (r->diagnostic != NULL && *r->diagnostic != '\0')
			continue;
		report_set(&r->diagnostic, text);
		report_set_status(r, r->diagnostic);
		report_set_replycode(r, r->diagnostic);
		if (r->remote_mta == NULL)
			r->remote_mta = find_host_after(text, host_prefixes);
	}
	g_free(text);
}

static bool
is_delayed(const struct mta_format *f, const struct bounce_input *in)
{
	return text_has_any_ci(in->subject, f->delayed) ||
	    text_has_any_ci(in->body, f->delayed);
}

static void
finish_report(const struct mta_format *f, const struct bounce_input *in,
    struct bounce_report *report)
{
	bool delayed = is_delayed(f, in);
	guint i;

	shared_diag(f, in->body, report);
	for (i = 0; i < report->rcpts->len; i++) {
		struct bounce_rcpt *r = g_ptr_array_index(report->rcpts, i);

		if (delayed)
			report_set(&r->action, "delayed");
		if (r->remote_mta == NULL && (f->flags & MTA_HOST_BODY))
			r->remote_mta = find_host_after(in->body, host_prefixes);
	}
	if (report->reporting_mta == NULL)
		report->reporting_mta = find_host_after(in->body, f->mta_after);
	report->kind = BOUNCE_KIND_BOUNCE;
}

/* Parses in as format f.  See registry.h for the contract. */
static int
parse_format(const struct mta_format *f, const struct bounce_input *in,
    struct bounce_report *report)
{
	int n;

	if (!format_matches(f, in))
		return 0;
	n = scan_body(f, in->body, report);
	if (n == 0 && (f->flags & MTA_FAILED_HDR))
		n = textscan_failed_list(
		    input_header(in, "X-Failed-Recipients"), report);
	if (n == 0 && (f->flags & MTA_ORIG_TO))
		n = original_to(in, report);
	if (n == 0)
		return 0;
	finish_report(f, in, report);
	return 1;
}

/* --- the formats ------------------------------------------------------- */

/* qmail-send(8): "Hi. This is the qmail-send program at HOST.", then
   per recipient "<a@b>:" and the reasons, up to "--- Below this line". */
static const struct mta_format qmail = {
	.marker = L("This is the qmail-send program"),
	.begin = L("This is the qmail-send program", "Hi. This is the qmail"),
	.end = L("--- Below this line is a copy of the message",
	    "--- Enclosed are the original headers of the message"),
	.shape = SHAPE_LEAD,
	.mta_after = L("program at "),
};

/* qmail clones and patched qmail (Sisimai X4): other intro lines. */
static const char *const qmail_clone_intro[] = {"He/Her is not ",
    "unable to deliver your message to the following addresses",
    "Su mensaje no pudo ser entregado",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    "Unable to deliver message to the following address",
    "Unfortunately, your mail was not delivered to the following address",
    "Your mail message to the following address",
    "Your message to the following addresses", "We're sorry.", NULL};

static const struct mta_format qmail_clone = {
	.subject = L("failure notice", "Permanent Delivery Failure"),
	.marker = qmail_clone_intro,
	.begin = qmail_clone_intro,
	.end = L("--- Below this line is a copy of the message",
	    "--- Original message follows"),
	.shape = SHAPE_LEAD,
	.mta_after = L("mail delivery agent at "),
};

/* Exim deliver.c texts; the same wording is used by MXLogic. */
static const char *const exim_intro[] = {
    "This message was created automatically by mail delivery software",
    "A message that you sent could not be delivered",
    "A message that you sent contained one or more recipient addresses",
    "router encountered the following error(s)", NULL};
static const char *const exim_begin[] = {"address(es) failed",
    "addresses failed:", "following address failed:", "incorrectly constructed", "delivered is:",
    "delivered are:", "router encountered the following error(s)", NULL};
static const char *const exim_delayed[] = {"has not yet been delivered",
    "have not yet been delivered", "Warning: message", NULL};

static const struct mta_format mxlogic = {
	.headers = L("X-MX-Bounce", "X-MXL-Hash", "X-MXL-NoteHash"),
	.marker = exim_intro,
	.begin = exim_begin,
	.end = L("Included is a copy of the message header",
	    "------ This is a copy of"),
	.shape = SHAPE_LEAD,
	.delayed = exim_delayed,
	.flags = MTA_FAILED_HDR,
};

static const struct mta_format exim = {
	.from = L("Mail Delivery System", "Mailer-Daemon"),
	.subject = L("Mail delivery failed", "Warning: message", "Mail failure",
	    "Message frozen", "error(s) in forwarding or filtering"),
	.headers = L("X-Failed-Recipients"),
	.marker = exim_intro,
	.begin = exim_begin,
	.end = L("------ This is a copy of", "No action is required on your part",
	    "Reporting-MTA:", "Content-Type: message/"),
	.ignore = L("(generated from", "generated by"),
	.shape = SHAPE_LEAD,
	.delayed = exim_delayed,
	.flags = MTA_FAILED_HDR,
};

/* Postfix bounce(8) text without a delivery-status part. */
static const struct mta_format postfix = {
	.from = L("Mail Delivery System", "MAILER-DAEMON"),
	.subject = L("Undelivered Mail Returned to Sender",
	    "Delayed Mail (still being retried)"),
	.marker = L("This is the mail system at host",
	    "This is the Postfix program", "The Postfix program"),
	.begin = L("This is the mail system at host",
	    "This is the Postfix program", "The Postfix program"),
	.end = L("Reporting-MTA:", "Content-Description:", "Content-Type:",
	    "Received: from", "Undelivered message follows"),
	.shape = SHAPE_LEAD,
	.delayed = L("Delayed Mail", "THIS IS A WARNING ONLY"),
	.mta_after = L("mail system at host ", "program at host "),
};

/* sendmail without DSN (and V5 sendmail): the "following addresses had
   permanent fatal errors" list, then the session transcript. */
static const struct mta_format sendmail = {
	.subject = L("Returned mail:", "Warning: could not send message"),
	.marker = L("----- Transcript of session follows -----",
	    "----- The following addresses had permanent fatal errors -----"),
	.begin = L("----- The following addresses had",
	    "----- Transcript of session follows -----"),
	.end = L("----- Original message follows", "----- Unsent message follows",
	    "----- No message was collected", "----- Message header follows",
	    "Reporting-MTA:", "Content-Type: message/"),
	.ignore = L("while talking to", ">>>", "<<<"),
	.shape = SHAPE_LEAD | SHAPE_CODE,
	.diag_labels = L("(reason:"),
	.delayed = L("Warning: could not send message for past",
	    "THIS IS A WARNING MESSAGE ONLY"),
	.flags = MTA_HOST_BODY,
};

/* Courier courierdsn(8) text. */
static const struct mta_format courier = {
	.from = L("Courier mail server at"),
	.subject = L("NOTICE: mail delivery status.", "WARNING: delayed mail."),
	.headers = L("Message-ID:<courier."),
	.marker = L("UNDELIVERABLE MAIL", "DELAYS IN DELIVERING YOUR MESSAGE"),
	.begin = L("UNDELIVERABLE MAIL", "DELAYS IN DELIVERING YOUR MESSAGE"),
	.end = L("-----------------------------------", "Reporting-MTA:"),
	.shape = SHAPE_LEAD,
	.diag_labels = L("<<< "),
	.delayed = L("DELAYS IN DELIVERING YOUR MESSAGE", "WARNING: delayed mail"),
	.mta_after = L("delivery status notification from "),
};

/* OpenSMTPD bounce.c: multipart/mixed, text then text/rfc822-headers. */
static const struct mta_format opensmtpd = {
	.subject = L("Delivery status notification"),
	.marker = L("This is the MAILER-DAEMON, please DO NOT REPLY to this"),
	.begin = L("list of recipients:"),
	.end = L("Below is a copy of the original message",
	    "Please note that this is only a temporary failure report"),
	.shape = SHAPE_LEAD,
	.delayed = L("A message is delayed for more than",
	    "only a temporary failure report"),
};

/* Apache James: AbstractNotify ("Error message below:" / "Message
   details:") and DSNBounce ("Failed recipient(s):" / "Error message:"). */
static const struct mta_format james = {
	.subject = L("[BOUNCE]"),
	.headers = L("Message-ID:.JavaMail."),
	.marker = L("Error message below:", "This is the James mail server",
	    "Failed recipient(s):"),
	.begin = L("Message details:", "Failed recipient(s):"),
	.end = L("Error message:"),
	.shape = SHAPE_LEAD | SHAPE_LABEL,
	.labels = L("RCPT TO:"),
	.diag_begin = L("Error message below:", "Error message:"),
	.diag_end = L("Message details:"),
	.mta_after = L("James mail server at "),
	.flags = MTA_NO_BLOCK,
};

/* Sun / Oracle Communications Messaging Server. */
static const struct mta_format messaging_server = {
	.subject = L("Delivery Notification: "),
	.headers = L("Content-Type:Boundary_(ID_"),
	.marker = L("This report relates to a message you sent"),
	.begin = L("cannot be delivered to the following recipients",
	    "awaiting delivery to the following recipients",
	    "could not be delivered to the following recipients"),
	.shape = SHAPE_LABEL,
	.labels = L("Recipient address:"),
	.diag_labels = L("Diagnostic code: smtp;", "Diagnostic code:", "Reason:"),
	.delayed = L("awaiting delivery to the following recipients"),
};

/* Ipswitch IMail (X-Mailer: <SMTP32 vN>). */
static const struct mta_format imail = {
	.subject = L("Undeliverable Mail"),
	.headers = L("X-Mailer:<SMTP32 v"),
	.marker = L("Original message follows.",
	    "Body of message generated response:", "undeliverable to "),
	.end = L("Original message follows."),
	.shape = SHAPE_ANY,
	.ignore = L("generated response:"),
	.flags = MTA_DIAG_LINE,
};

/* PowerMTA's text part (its delivery-status part goes to dsn.c). */
static const struct mta_format powermta = {
	.subject = L("Delivery report"),
	.marker = L("Hello, this is the mail server on "),
	.begin = L("Hello, this is the mail server on "),
	.end = L("Reporting-MTA:", "Content-Type:"),
	.shape = SHAPE_LEAD,
	.mta_after = L("mail server on "),
};

/* Trend Micro InterScan MSS: a session transcript with <<< and >>>. */
static const struct mta_format interscan = {
	.from = L("InterScan MSS", "InterScan Notification"),
	.subject = L("Mail could not be delivered",
	    "メッセージを配信できません。", "メール配信に失敗しました"),
	.shape = SHAPE_ANY,
	.need = L("<<<", ">>>", "Unable to deliver message to"),
	.flags = MTA_DIAG_LINE | MTA_NO_BLOCK,
};

/* MailMarshal (Marshal / Trustwave SEG). */
static const struct mta_format mailmarshal = {
	.subject = L("Undeliverable Mail: \""),
	.marker = L("The following recipients were affected:"),
	.begin = L("The following recipients were affected:"),
	.end = L("Additional Information", "======"),
	.shape = SHAPE_LEAD,
	.diag_begin = L("Could not be delivered because of"),
	.diag_end = L("The following recipients were affected"),
	.flags = MTA_NO_BLOCK,
};

static const struct mta_format mailfoundry = {
	.subject = L("Message delivery has failed"),
	.marker = L("Unable to deliver message to:"),
	.end = L("This has been a permanent failure"),
	.shape = SHAPE_LABEL,
	.labels = L("Unable to deliver message to:"),
	.diag_labels = L("Server "),
	.diag_after = L("failed with:"),
	.flags = MTA_KEEP_BLANK,
};

static const struct mta_format mcafee = {
	.subject = L("Delivery Status"),
	.headers = L("X-NAI-Header:Modified by McAfee"),
	.begin = L("--- The following addresses had delivery problems ---"),
	.end = L("Reporting-MTA:", "Content-Type:"),
	.shape = SHAPE_LEAD,
	.flags = MTA_ENV_ALL,
};

/* MessageLabs / Symantec Email Security.cloud. */
static const struct mta_format messagelabs = {
	.from = L("MAILER-DAEMON@messagelabs.com"),
	.subject = L("Mail Delivery Failure"),
	.headers = L("X-Msg-Ref"),
	.begin = L("to deliver your message to the following address"),
	.end = L("The message subject was:", "Reporting-MTA:", "Content-Type:",
	    "Received: from"),
	.shape = SHAPE_LEAD,
	.diag_labels = L("Reason:"),
	.mta_after = L("mail delivery agent at "),
	.flags = MTA_ENV_ALL | MTA_ORIG_TO,
};

static const struct mta_format surfcontrol = {
	.headers = L("X-Mailer:SurfControl E-mail Filter"),
	.marker = L("Your message could not be sent."),
	.begin = L("Your message could not be sent."),
	.end = L("--- Message non-deliverable", "Reporting-MTA:"),
	.shape = SHAPE_LABEL,
	.labels = L("Addressed To:"),
	.diag_after = L("], "),
	.flags = MTA_KEEP_BLANK,
};

/* Barracuda: "**Message you sent blocked by our bulk email filter**";
   "Your message to: ADDR" then "was blocked by our Spam Firewall...". */
static const struct mta_format barracuda = {
	.subject = L("our bulk email filter"),
	.marker = L("Your message to:"),
	.end = L("Reporting-MTA:", "Content-Type:"),
	.shape = SHAPE_LABEL,
	.labels = L("Your message to:"),
	.flags = MTA_ORIG_TO,
};

/* TransWARE Active!hunter (X-AHMAILID). */
static const struct mta_format activehunter = {
	.headers = L("X-AHMAILID"),
	.begin = L("----- The following addresses had permanent fatal errors"),
	.end = L("----- Transcript of session follows"),
	.shape = SHAPE_LABEL,
	.labels = L(">>>"),
	.diag_begin = L("----- Transcript of session follows"),
	.flags = MTA_NO_BLOCK,
};

/* amavisd-new nondelivery reports without a delivery-status part. */
static const struct mta_format amavis = {
	.from = L("Content-filter at "),
	.marker = L("amavisd", "Content-filter"),
	.end = L("Reporting-MTA:", "Content-Type:"),
	.shape = SHAPE_LEAD,
	.diag_labels = L("because:"),
	.mta_after = L("at host "),
	.flags = MTA_ORIG_TO,
};

/* DigitalArts m-FILTER. */
static const struct mta_format mfilter = {
	.subject = L("failure notice"),
	.headers = L("X-Mailer:m-FILTER"),
	.end = L("-------server message", "-------original message",
	    "-------original mail info"),
	.shape = SHAPE_LEAD,
	.diag_begin = L("-------server message"),
	.diag_end = L("-------SMTP command"),
	.flags = MTA_ENV_ALL | MTA_NO_BLOCK,
};

/* fml mailing-list manager error notices. */
static const struct mta_format fml = {
	.from = L("-admin@"),
	.headers = L("X-MLServer"),
	.end = L("Original mail as follows:"),
	.shape = SHAPE_ANY,
	.need = L(">."),
	.flags = MTA_ENV_ALL | MTA_DIAG_LINE | MTA_NO_BLOCK,
};

static const struct mta_format bigfoot = {
	.from = L("@bigfoot.com"),
	.begin = L("Transcript of session follows"),
	.end = L("Reporting-MTA:", "Content-Type:"),
	.shape = SHAPE_LABEL,
	.labels = L(">>> RCPT TO:"),
	.diag_labels = L("<<< "),
};

/* Unnamed MTAs (Sisimai X1, X2, X3, X6). */
static const struct mta_format x1 = {
	.from = L("Mail Deliver System"),
	.subject = L("Returned Mail: "),
	.begin = L("The following addresses had delivery errors"),
	.end = L("Received: from"),
	.shape = SHAPE_LEAD,
	.flags = MTA_ENV_ALL,
};

static const struct mta_format x2 = {
	.from = L("MAILER-DAEMON@"),
	.subject = L("Delivery failure", "failure delivery", "failed delivery"),
	.begin = L("Unable to deliver message to the following address"),
	.end = L("--- Original message follows"),
	.shape = SHAPE_LEAD,
	.flags = MTA_ENV_ALL,
};

static const struct mta_format x3 = {
	.from = L("Mail Delivery System"),
	.subject = L("Delivery status notification"),
	.marker = L("This is an automatically generated Delivery Status "
		    "Notification."),
	.begin = L("Delivery to the following recipients"),
	.end = L("Technical details:"),
	.shape = SHAPE_LABEL,
	.labels = L("* "),
	.diag_begin = L("Technical details:"),
	.delayed = L("Delivery to the following recipients has been delayed"),
	.flags = MTA_ENV_ALL | MTA_NO_BLOCK,
};

static const struct mta_format x6 = {
	.subject = L("There was an error sending your mail"),
	.begin = L("error(s):"),
	.end = L("The attachment contains the original mail headers"),
	.shape = SHAPE_ANY,
	.need = L("rejected recipient", "returned permanent errors"),
	.diag_after = L("responded as follows:"),
	.flags = MTA_DIAG_LINE,
};

/* One registry entry per format: a wrapper binding the row. */
#define MTA_PARSER(id, label)                                              \
	static int parse_##id(const struct bounce_input *in,                \
	    struct bounce_report *report)                                   \
	{                                                                   \
		return parse_format(&id, in, report);                       \
	}                                                                   \
	static const struct bounce_parser fmt_##id = {label, parse_##id}

MTA_PARSER(qmail, "qmail");
MTA_PARSER(qmail_clone, "qmail-clone");
MTA_PARSER(mxlogic, "mxlogic");
MTA_PARSER(exim, "exim");
MTA_PARSER(postfix, "postfix");
MTA_PARSER(sendmail, "sendmail");
MTA_PARSER(courier, "courier");
MTA_PARSER(opensmtpd, "opensmtpd");
MTA_PARSER(james, "apachejames");
MTA_PARSER(messaging_server, "messagingserver");
MTA_PARSER(imail, "imail");
MTA_PARSER(powermta, "powermta");
MTA_PARSER(interscan, "interscan");
MTA_PARSER(mailmarshal, "mailmarshal");
MTA_PARSER(mailfoundry, "mailfoundry");
MTA_PARSER(mcafee, "mcafee");
MTA_PARSER(messagelabs, "messagelabs");
MTA_PARSER(surfcontrol, "surfcontrol");
MTA_PARSER(barracuda, "barracuda");
MTA_PARSER(activehunter, "activehunter");
MTA_PARSER(amavis, "amavis");
MTA_PARSER(mfilter, "mfilter");
MTA_PARSER(fml, "fml");
MTA_PARSER(bigfoot, "bigfoot");
MTA_PARSER(x1, "x1");
MTA_PARSER(x2, "x2");
MTA_PARSER(x3, "x3");
MTA_PARSER(x6, "x6");

/* Order: rows keyed on a vendor header or sender first, the MTAs whose
   wording others copy (Exim, qmail) after their imitators. */
const struct bounce_parser *const fmt_mta_parsers[] = {
	&fmt_mxlogic, &fmt_mcafee, &fmt_messagelabs, &fmt_surfcontrol,
	&fmt_activehunter, &fmt_mfilter, &fmt_fml, &fmt_interscan,
	&fmt_amavis, &fmt_bigfoot, &fmt_x1, &fmt_x2, &fmt_x3, &fmt_x6,
	&fmt_mailmarshal, &fmt_mailfoundry, &fmt_barracuda, &fmt_powermta,
	&fmt_james, &fmt_messaging_server, &fmt_imail, &fmt_opensmtpd,
	&fmt_courier, &fmt_qmail, &fmt_qmail_clone, &fmt_exim, &fmt_postfix,
	&fmt_sendmail,
	NULL,
};
