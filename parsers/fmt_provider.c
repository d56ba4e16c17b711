/*
 * fmt_provider.c - plain-text bounces of mailbox providers (Gmail and
 * Google Workspace, Google Groups, Yahoo, GMX / 1&1 / web.de, Mail.ru,
 * Zoho, Amazon WorkMail and SES) and Amazon SES notifications delivered
 * as JSON in a mail (SNS e-mail subscriptions).
 *
 * Most providers send RFC 3464 reports, which dsn.c reads before us; the
 * parsers here only see the forms without a message/delivery-status part.
 * Each text format is one row of data (struct fmt_text): how to recognise
 * it (From, Subject, headers, a body marker) and where its error section
 * is; fmt_text_parse() reads every row the same way.  It is exported for
 * fmt_jp.c, which uses the same engine.  Nothing here classifies.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "formats.h"
#include "dsn.h"
#include "fmt_text.h"
#include "input.h"
#include "textscan.h"

/* Lines that start the returned original: the error section ends there. */
static const char *const default_end[] = {"----- Original message -----",
    "--- Below this line is a copy of the message",
    "------ This is a copy of the message",
    "--- The header of the original message is following",
    "Content-Type: message/rfc822", "Content-Type: text/rfc822-headers",
    "-----Original Message-----", "------ Original message ------",
    "--------------------------------------------------", NULL};

/* Words that may stand before an address on a recipient line. */
static const char *const rcpt_labels[] = {"Recipient:", "RCPT TO:",
    "Could not be delivered to:", "Address:", NULL};

/* Reading state of one body. */
struct scan {
	const struct fmt_text *fmt;
	const char *self;         /* the bounce's own To: never a recipient */
	struct bounce_report *tmp;
	GString *pre;             /* text before the first recipient */
	GPtrArray *texts;         /* GString per recipient of tmp */
	struct bounce_rcpt *cur;  /* the current recipient or NULL */
	GString *text;            /* its text */
};

/* --- detection ----------------------------------------------------------- */

/* True if msg has a header named like spec ("Name") or, for "Name: x", a
   header of that name whose value contains x (any occurrence, so every
   Received header is tried). */
static bool
header_matches(struct mime_headers *list, const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	const char *needle = colon != NULL ? colon + 1 : NULL;
	size_t i, n = mime_headers_count(list);
	bool found = false;

	while (needle != NULL && *needle == ' ')
		needle++;
	for (i = 0; i < n && !found; i++) {
		if (!mime_headers_name_is_n(list, i, spec, len))
			continue;
		found = needle == NULL ||
			text_has_ci(mime_headers_value(list, i), needle);
	}
	return found;
}

static bool
headers_match(const struct bounce_input *in, const char *const *specs)
{
	for (; *specs != NULL; specs++)
		if (header_matches(in->msg->headers, *specs))
			return true;
	return false;
}

/* Every list the format sets must have a hit (AND of ORs). */
static bool
fmt_detect(const struct fmt_text *fmt, const struct bounce_input *in)
{
	if (fmt->from != NULL && !text_has_any_ci(in->from, fmt->from))
		return false;
	if (fmt->subject != NULL && !text_has_any_ci(in->subject, fmt->subject))
		return false;
	if (fmt->headers != NULL && !headers_match(in, fmt->headers))
		return false;
	if (fmt->body != NULL && !text_has_any_ci(in->body, fmt->body))
		return false;
	return true;
}

/* --- the error section ------------------------------------------------- */

static const char *
line_end(const char *p)
{
	const char *e = strchr(p, '\n');

	return e != NULL ? e : p + strlen(p);
}

/* Returns a copy of body from the top up to the first line holding an
   end marker. */
static char *
cut_at_end(const char *body, const char *const *end)
{
	const char *p, *e;

	for (p = body; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		char *line;
		bool hit;

		e = line_end(p);
		line = g_strndup(p, e - p);
		hit = text_has_any_ci(line, end);
		g_free(line);
		if (hit)
			break;
	}
	return g_strndup(body, p - body);
}

static char *
fmt_section(const struct fmt_text *fmt, const char *body)
{
	const char *const *end = fmt->end != NULL ? fmt->end : default_end;

	if (fmt->begin == NULL)
		return cut_at_end(body, end);
	return text_section(body, fmt->begin, end);
}

/* --- recipients -------------------------------------------------------- */

/* True if nothing but white space, <, quotes and one label stand before
   the address at a in line. */
static bool
addr_leads(const char *line, const char *a)
{
	const char *p = line;
	size_t i;

	while (p < a && strchr(" \t<\"'", *p) != NULL)
		p++;
	if (p == a)
		return true;
	for (i = 0; rcpt_labels[i] != NULL; i++) {
		if (!text_starts_ci(p, rcpt_labels[i]))
			continue;
		p += strlen(rcpt_labels[i]);
		while (p < a && strchr(" \t<\"'", *p) != NULL)
			p++;
		return p == a;
	}
	return false;
}

static void
text_add(GString *to, const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (to->len > 0)
		g_string_append_c(to, '\n');
	g_string_append(to, s);
}

/* Starts a recipient (or returns to one already seen). */
static void
scan_start_rcpt(struct scan *sc, char *addr)
{
	struct bounce_rcpt *r = report_find_rcpt(sc->tmp, addr);
	guint i;

	if (r != NULL) {
		for (i = 0; g_ptr_array_index(sc->tmp->rcpts, i) != r; i++)
			;
		sc->text = g_ptr_array_index(sc->texts, i);
		sc->cur = r;
		g_free(addr);
		return;
	}
	r = report_add_rcpt(sc->tmp);
	r->recipient = addr;
	sc->cur = r;
	sc->text = g_string_new(NULL);
	g_ptr_array_add(sc->texts, sc->text);
}

/* Returns the address starting a recipient in line, or NULL. */
static char *
line_rcpt(struct scan *sc, const char *line)
{
	const char *a;
	size_t alen;
	char *addr;

	if (!text_find_addr(line, strlen(line), &a, &alen))
		return NULL;
	if (!(sc->fmt->flags & FMT_ADDR_ANYWHERE) && !addr_leads(line, a))
		return NULL;
	if ((addr = text_clean_addr(a, alen)) == NULL)
		return NULL;
	if ((sc->self != NULL && g_ascii_strcasecmp(addr, sc->self) == 0) ||
	    (sc->cur != NULL &&
		g_ascii_strcasecmp(addr, sc->cur->recipient) == 0)) {
		g_free(addr);
		return NULL;
	}
	return addr;
}

static void
scan_line(struct scan *sc, const char *line)
{
	char *addr = line_rcpt(sc, line);
	const char *rest;

	if (addr == NULL) {
		text_add(sc->text != NULL ? sc->text : sc->pre, line);
		return;
	}
	rest = strstr(line, strchr(addr, '@'));
	rest = rest != NULL ? rest + strlen(strchr(addr, '@')) : "";
	scan_start_rcpt(sc, addr);
	if (sc->fmt->flags & FMT_ADDR_ANYWHERE) {
		text_add(sc->text, line);
		return;
	}
	while (*rest != '\0' && strchr(">\"': \t", *rest) != NULL)
		rest++;
	if (*rest != '\0')
		text_add(sc->text, rest);
}

static void
scan_section(struct scan *sc, const char *section)
{
	char **lines = g_strsplit(section, "\n", -1);
	size_t i;

	for (i = 0; lines[i] != NULL; i++)
		scan_line(sc, g_strstrip(lines[i]));
	g_strfreev(lines);
}

/* --- diagnostics ------------------------------------------------------- */

/* Returns the first paragraph (up to a blank line) at p, newly
   allocated. */
static char *
paragraph(const char *p)
{
	const char *e;

	while (*p == '\n' || *p == ' ' || *p == '\t')
		p++;
	e = strstr(p, "\n\n");
	return g_strndup(p, e != NULL ? (size_t)(e - p) : strlen(p));
}

/* Returns the end of the last occurrence of any marker in text, or
   NULL. */
static const char *
after_last_marker(const char *text, const char *const *markers)
{
	const char *best = NULL, *p;

	for (; markers != NULL && *markers != NULL; markers++)
		for (p = text; (p = text_find_ci(p, *markers)) != NULL;
		     p += strlen(*markers))
			if (best == NULL || p + strlen(*markers) > best)
				best = p + strlen(*markers);
	return best;
}

static char *
pick_diag(const struct scan *sc, const GString *text)
{
	const char *after = after_last_marker(text->str, sc->fmt->diag_after);
	char *diag = paragraph(after != NULL ? after : text->str);
	char *pre;

	if (*diag == '\0' && (after = after_last_marker(sc->pre->str,
	    sc->fmt->diag_after)) != NULL) {
		g_free(diag);
		diag = paragraph(after);
	}
	if (*diag != '\0' && !(sc->fmt->flags & FMT_PREAMBLE))
		return diag;
	pre = paragraph(sc->pre->str);
	if (*diag == '\0') {
		g_free(diag);
		return pre;
	}
	if (*pre != '\0') {
		char *both = g_strconcat(pre, " ", diag, NULL);

		g_free(diag);
		diag = both;
	}
	g_free(pre);
	return diag;
}

/* Remote MTA from a "host: mx.example.jp" or "host mx.example.jp [ip]"
   line of text. */
static void
set_remote(struct bounce_rcpt *r, const char *text)
{
	const char *p = text;
	size_t n;

	while ((p = text_find_ci(p, "host")) != NULL) {
		bool line_start = p == text || p[-1] == '\n';

		p += 4;
		if (!line_start || (*p != ':' && *p != ' '))
			continue;
		p += strspn(p, ": ");
		n = strcspn(p, " \n[(");
		if (n > 0 && n < 256 && memchr(p, '.', n) != NULL) {
			char *host = g_strndup(p, n);

			report_set(&r->remote_mta, host);
			g_free(host);
			return;
		}
	}
}

static void
finish_rcpts(struct scan *sc, const struct bounce_input *in)
{
	bool delayed = sc->fmt->delayed != NULL &&
	    text_has_any_ci(in->body, sc->fmt->delayed);
	guint i;

	for (i = 0; i < sc->tmp->rcpts->len; i++) {
		struct bounce_rcpt *r = g_ptr_array_index(sc->tmp->rcpts, i);
		GString *text = i < sc->texts->len
		    ? g_ptr_array_index(sc->texts, i) : sc->pre;
		char *diag;

		if (r->diagnostic == NULL || *r->diagnostic == '\0') {
			diag = pick_diag(sc, text);
			report_set(&r->diagnostic, diag);
			g_free(diag);
		}
		if (r->status[0] == '\0')
			report_set_status(r, r->diagnostic);
		if (r->replycode[0] == '\0')
			report_set_replycode(r, r->diagnostic);
		if (r->remote_mta == NULL)
			set_remote(r, text->str);
		if (r->action == NULL || *r->action == '\0')
			report_set(&r->action, delayed ? "delayed" : "failed");
	}
}

/* --- the engine -------------------------------------------------------- */

static void
text_free(gpointer text)
{
	g_string_free(text, TRUE);
}

/* Moves what sc->tmp collected into report. */
static void
move_rcpts(struct bounce_report *tmp, struct bounce_report *report)
{
	guint i;

	for (i = 0; i < tmp->rcpts->len; i++)
		g_ptr_array_add(report->rcpts, g_ptr_array_index(tmp->rcpts, i));
	g_ptr_array_set_size(tmp->rcpts, 0);
	if (tmp->reporting_mta != NULL)
		report_set_default(&report->reporting_mta, tmp->reporting_mta);
	if (tmp->original.envelope_id != NULL)
		report_set_default(&report->original.envelope_id,
		    tmp->original.envelope_id);
}

static void
scan_run(struct scan *sc, const struct bounce_input *in, const char *section)
{
	if (sc->fmt->flags & FMT_DSN_FIELDS) {
		dsn_parse_fields(section, sc->tmp);
		g_string_assign(sc->pre, section);
	} else {
		scan_section(sc, section);
	}
	if (sc->tmp->rcpts->len == 0 && (sc->fmt->flags & FMT_HEADER_RCPTS))
		textscan_failed_list(
		    input_header(in, "X-Failed-Recipients"), sc->tmp);
}

int
fmt_text_parse(const struct fmt_text *fmt, const struct bounce_input *in,
    struct bounce_report *report)
{
	struct scan sc = {fmt, NULL, NULL, NULL, NULL, NULL, NULL};
	char *section, *self;
	int n;

	if (!fmt_detect(fmt, in) || (section = fmt_section(fmt, in->body)) == NULL)
		return 0;
	self = input_first_addr(input_header(in, "To"));
	sc.self = self;
	sc.tmp = report_new();
	sc.pre = g_string_new(NULL);
	sc.texts = g_ptr_array_new_with_free_func(text_free);
	scan_run(&sc, in, section);
	finish_rcpts(&sc, in);
	n = (int)sc.tmp->rcpts->len;
	if (n > 0) {
		move_rcpts(sc.tmp, report);
		report->kind = BOUNCE_KIND_BOUNCE;
	}
	g_ptr_array_free(sc.texts, TRUE);
	g_string_free(sc.pre, TRUE);
	report_free(&sc.tmp);
	g_free(section);
	g_free(self);
	return n > 0;
}

/* --- provider text formats --------------------------------------------- */

static const char *const google_from[] = {"mailer-daemon@googlemail.com",
    "mailer-daemon@google.com", NULL};
static const char *const google_subject[] = {"Delivery Status Notification",
    NULL};

/* Google Groups: the group does not exist or refuses the poster; the
   addresses are only in X-Failed-Recipients. */
static const char *const groups_headers[] = {"X-Failed-Recipients", NULL};
static const char *const groups_begin[] = {"the group you tried to contact",
    NULL};
static const struct fmt_text text_googlegroups = {google_from,
    google_subject, groups_headers, NULL, groups_begin, NULL, NULL, NULL,
    FMT_HEADER_RCPTS};
FMT_TEXT_PARSER(googlegroups);

/* Gmail and Google Workspace without a delivery-status part: the legacy
   "Delivery to the following recipient failed permanently" text and the
   "** Address not found **" text. */
static const char *const gmail_begin[] = {"Delivery to the following recipient",
    "** Address not found **", "** Message not delivered **",
    "** Message blocked **", "** Delivery incomplete **",
    "** Domain not found **", "There was a temporary problem delivering",
    "Your message wasn't delivered to", NULL};
static const char *const gmail_after[] = {
    "The error that the other server returned was:",
    "The response from the remote server was:", "The response was:", NULL};
static const char *const gmail_delayed[] = {"has been delayed",
    "THIS IS A WARNING MESSAGE ONLY", "Delivery incomplete",
    "There was a temporary problem delivering", "will retry for",
    "will be retried for", NULL};
static const struct fmt_text text_gmail = {google_from, google_subject, NULL,
    NULL, gmail_begin, NULL, gmail_after, gmail_delayed, FMT_ADDR_ANYWHERE};
FMT_TEXT_PARSER(gmail);

/* Yahoo! Mail (the US service; Yahoo! JAPAN is another system). */
static const char *const yahoo_headers[] = {"X-YMailISG", "X-YMail-OSG",
    "From: @yahoo.com", "From: yahoo-inc.com", "Received: .yahoo.com", NULL};
static const char *const yahoo_begin[] = {
    "Sorry, we were unable to deliver your message", NULL};
static const char *const yahoo_after[] = {"Remote host said:", NULL};
static const struct fmt_text text_yahoo = {NULL, NULL, yahoo_headers, NULL,
    yahoo_begin, NULL, yahoo_after, NULL, 0};
FMT_TEXT_PARSER(yahoo);

/* GMX, web.de, 1&1 (United Internet).  Their begin line is Exim's, so a
   marker only they write is required. */
static const char *const gmx_headers[] = {"X-GMX-Antispam",
    "X-UI-Out-Filterresults", "X-UI-Filterresults",
    "From: Mail Delivery System", "From: mailer-daemon@gmx",
    "From: mailer-daemon@web.de", "From: kundenserver.de", NULL};
static const char *const gmx_body[] = {
    "--- The header of the original message is following", NULL};
static const char *const created_begin[] = {
    "This message was created automatically by mail delivery", NULL};
static const char *const gmx_after[] = {"For the following reason:",
    "Reason:", NULL};
static const struct fmt_text text_gmx = {NULL, NULL, gmx_headers, gmx_body,
    created_begin, NULL, gmx_after, NULL, 0};
FMT_TEXT_PARSER(gmx);

/* Mail.ru: Exim with a Russian preface. */
static const char *const mailru_from[] = {"mail.ru", NULL};
static const char *const mailru_headers[] = {"Message-ID: .mail.ru>",
    "Message-ID: smailru.net>", NULL};
static const char *const exim_delayed[] = {"No action is required on your part",
    "Delivery attempts will continue", NULL};
static const struct fmt_text text_mailru = {mailru_from, NULL, mailru_headers,
    NULL, created_begin, NULL, NULL, exim_delayed, 0};
FMT_TEXT_PARSER(mailru);

/* Zoho Mail: "addr Invalid Address, ERROR_CODE :550, ..." or
   "[Status: Error, Address: <addr>, ResponseCode 421, ...]". */
static const char *const zoho_headers[] = {"X-ZohoMail", NULL};
static const char *const zoho_end[] = {"Received: from mail.zoho.com",
    "Content-Type: message/rfc822", "-----Original Message-----", NULL};
static const struct fmt_text text_zoho = {NULL, NULL, zoho_headers, NULL,
    created_begin, zoho_end, NULL, NULL, FMT_ADDR_ANYWHERE};
FMT_TEXT_PARSER(zoho);

/* Amazon WorkMail: RFC 3464 fields after "Technical report:" in the text
   (then an HTML copy of the text). */
static const char *const workmail_headers[] = {
    "X-Mailer: Amazon WorkMail", "X-Original-Mailer: Amazon WorkMail", NULL};
static const char *const workmail_begin[] = {"Technical report:", NULL};
static const char *const workmail_end[] = {"<!DOCTYPE HTML",
    "Content-Type: message/rfc822", NULL};
static const struct fmt_text text_workmail = {NULL, NULL, workmail_headers,
    NULL, workmail_begin, workmail_end, NULL, NULL, FMT_DSN_FIELDS};
FMT_TEXT_PARSER(workmail);

/* Amazon SES (sending and receiving) with its fields in the text. */
static const char *const ses_headers[] = {"X-SES-Outgoing", "X-AWS-Outgoing",
    NULL};
static const char *const ses_begin[] = {"The following message to <",
    "An error occurred while trying to deliver the mail",
    "This message could not be delivered.", NULL};
static const struct fmt_text text_amazonses = {NULL, NULL, ses_headers, NULL,
    ses_begin, NULL, NULL, NULL, FMT_DSN_FIELDS};
FMT_TEXT_PARSER(amazonses);

/* --- Amazon SES notifications as JSON ---------------------------------- */

/* The JSON of an SNS notification mail: the body up to the "--" line of
   the unsubscribe footer, lines joined.  A line ending in '!' continues on
   the next one after a space (how SNS mail wraps long lines). */
static char *
sns_json_text(const char *body)
{
	char **lines = g_strsplit(body, "\n", -1);
	GString *out = g_string_new(NULL);
	bool folded = false;
	size_t i, n;

	for (i = 0; lines[i] != NULL; i++) {
		const char *l = lines[i];

		if (strcmp(l, "--") == 0 || strcmp(l, "-- ") == 0)
			break;
		if (folded && *l == ' ')
			l++;
		n = strlen(l);
		folded = n > 0 && l[n - 1] == '!';
		g_string_append_len(out, l, folded ? n - 1 : n);
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

static JsonNode *
member(JsonObject *o, const char *name)
{
	return o != NULL && json_object_has_member(o, name)
	    ? json_object_get_member(o, name) : NULL;
}

static const char *
obj_str(JsonObject *o, const char *name)
{
	JsonNode *n = member(o, name);

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) &&
		json_node_get_value_type(n) == G_TYPE_STRING
	    ? json_node_get_string(n) : NULL;
}

static JsonObject *
obj_obj(JsonObject *o, const char *name)
{
	JsonNode *n = member(o, name);

	return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n)
						      : NULL;
}

static JsonArray *
obj_arr(JsonObject *o, const char *name)
{
	JsonNode *n = member(o, name);

	return n != NULL && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n)
						     : NULL;
}

/* Returns the string at index i of a, or NULL. */
static const char *
arr_str(JsonArray *a, guint i)
{
	JsonNode *n = json_array_get_element(a, i);

	return JSON_NODE_HOLDS_VALUE(n) &&
		json_node_get_value_type(n) == G_TYPE_STRING
	    ? json_node_get_string(n) : NULL;
}

static struct bounce_rcpt *
ses_rcpt(struct bounce_report *report, const char *addr)
{
	char *clean = addr != NULL ? input_first_addr(addr) : NULL;
	struct bounce_rcpt *r;

	if (clean == NULL)
		return NULL;
	r = report_add_rcpt(report);
	r->recipient = clean;
	return r;
}

/* What SES's bounce subtypes mean, for bounces without a reply text
   (SES documentation, "Amazon SES notification contents"). */
static const char *
ses_subtype_text(const char *subtype)
{
	static const char *const map[][2] = {
	    {"NoEmail", "the recipient address does not exist"},
	    {"Suppressed", "the address is on the suppression list"},
	    {"OnAccountSuppressionList",
		"the address is on the account-level suppression list"},
	    {"MailboxFull", "the mailbox is full"},
	    {"MessageTooLarge", "the message is too large"},
	    {"ContentRejected", "the content was rejected"},
	    {"AttachmentRejected", "the attachment was rejected"},
	    {NULL, NULL}};
	size_t i;

	for (i = 0; subtype != NULL && map[i][0] != NULL; i++)
		if (strcmp(subtype, map[i][0]) == 0)
			return map[i][1];
	return "undeliverable";
}

static void
ses_bounce_rcpt(JsonObject *b, JsonObject *e, struct bounce_rcpt *r)
{
	const char *code = obj_str(e, "diagnosticCode");

	report_set(&r->action, obj_str(e, "action") != NULL
	    ? obj_str(e, "action") : "failed");
	report_set_status(r, obj_str(e, "status"));
	if (code != NULL && *code != '\0') {
		report_set(&r->diagnostic, dsn_strip_type(code));
	} else {
		char *text = g_strdup_printf("Amazon SES: %s (%s/%s)",
		    ses_subtype_text(obj_str(b, "bounceSubType")),
		    obj_str(b, "bounceType") ? obj_str(b, "bounceType") : "",
		    obj_str(b, "bounceSubType") ? obj_str(b, "bounceSubType")
						: "");

		report_set(&r->diagnostic, text);
		g_free(text);
	}
	report_set_replycode(r, r->diagnostic);
	if (obj_str(b, "remoteMtaIp") != NULL)
		report_set(&r->remote_mta, obj_str(b, "remoteMtaIp"));
}

static int
ses_bounce(JsonObject *b, struct bounce_report *report)
{
	JsonArray *a = obj_arr(b, "bouncedRecipients");
	guint i;
	int n = 0;

	for (i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonObject *e = json_array_get_object_element(a, i);
		struct bounce_rcpt *r;

		if (e == NULL || (r = ses_rcpt(report,
		    obj_str(e, "emailAddress"))) == NULL)
			continue;
		ses_bounce_rcpt(b, e, r);
		n++;
	}
	if (obj_str(b, "reportingMTA") != NULL)
		report_set(&report->reporting_mta,
		    dsn_strip_type(obj_str(b, "reportingMTA")));
	report->kind = BOUNCE_KIND_BOUNCE;
	return n;
}

/* A complaint: the recipient clicked "this is spam". */
static int
ses_complaint(JsonObject *c, struct bounce_report *report)
{
	JsonArray *a = obj_arr(c, "complainedRecipients");
	const char *type = obj_str(c, "complaintFeedbackType");
	guint i;
	int n = 0;

	for (i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonObject *e = json_array_get_object_element(a, i);
		struct bounce_rcpt *r;

		if (e == NULL || (r = ses_rcpt(report,
		    obj_str(e, "emailAddress"))) == NULL)
			continue;
		r->reason = REASON_FEEDBACK;
		report_set(&r->diagnostic, obj_str(c, "userAgent") != NULL
		    ? obj_str(c, "userAgent") : "Amazon SES complaint");
		n++;
	}
	report_set(&report->feedback_type, type != NULL ? type : "abuse");
	report->kind = BOUNCE_KIND_FEEDBACK;
	return n;
}

static int
ses_delivery(JsonObject *d, struct bounce_report *report)
{
	JsonArray *a = obj_arr(d, "recipients");
	const char *reply = obj_str(d, "smtpResponse");
	guint i;
	int n = 0;

	for (i = 0; a != NULL && i < json_array_get_length(a); i++) {
		struct bounce_rcpt *r = ses_rcpt(report, arr_str(a, i));

		if (r == NULL)
			continue;
		report_set(&r->action, "delivered");
		report_set(&r->diagnostic, reply);
		report_set_status(r, reply);
		report_set_replycode(r, reply);
		if (obj_str(d, "remoteMtaIp") != NULL)
			report_set(&r->remote_mta, obj_str(d, "remoteMtaIp"));
		n++;
	}
	if (obj_str(d, "reportingMTA") != NULL)
		report_set(&report->reporting_mta, obj_str(d, "reportingMTA"));
	report->kind = BOUNCE_KIND_BOUNCE;
	return n;
}

/* The sent mail's headers, as SES echoes them in "mail". */
static void
ses_original(JsonObject *mail, struct bounce_report *report)
{
	JsonArray *h = obj_arr(mail, "headers");
	struct bounce_original *o = &report->original;
	guint i;

	for (i = 0; h != NULL && i < json_array_get_length(h); i++) {
		JsonObject *e = json_array_get_object_element(h, i);
		const char *name = obj_str(e, "name"), *value = obj_str(e, "value");
		char *v;

		if (name == NULL || value == NULL)
			continue;
		if (g_ascii_strcasecmp(name, "Message-ID") == 0)
			report_set_default(&o->message_id, value);
		else if (g_ascii_strcasecmp(name, "Subject") == 0)
			report_set_default(&o->subject, value);
		else if (g_ascii_strcasecmp(name, "Date") == 0 &&
		    (v = dsn_iso_date(value)) != NULL) {
			report_set_default(&o->date, v);
			g_free(v);
		} else if (g_ascii_strcasecmp(name, "From") == 0 ||
		    g_ascii_strcasecmp(name, "To") == 0) {
			v = input_first_addr(value);
			report_set_default(name[0] == 'F' || name[0] == 'f'
			    ? &o->from : &o->to, v);
			g_free(v);
		}
	}
	/* SES's own Message-ID header is <messageId@email.amazonses.com>. */
	if (o->message_id == NULL && obj_str(mail, "messageId") != NULL) {
		char *id = g_strdup_printf("<%s@email.amazonses.com>",
		    obj_str(mail, "messageId"));

		report_set(&o->message_id, id);
		g_free(id);
	}
}

/* Parses the payload: a bounce, complaint or delivery notification. */
static int
ses_payload(JsonObject *p, struct bounce_report *report)
{
	const char *type = obj_str(p, "notificationType");
	int n = 0;

	if (type == NULL)
		type = obj_str(p, "eventType");
	if (type == NULL)
		return 0;
	if (strcmp(type, "Bounce") == 0)
		n = ses_bounce(obj_obj(p, "bounce"), report);
	else if (strcmp(type, "Complaint") == 0)
		n = ses_complaint(obj_obj(p, "complaint"), report);
	else if (strcmp(type, "Delivery") == 0)
		n = ses_delivery(obj_obj(p, "delivery"), report);
	if (n > 0)
		ses_original(obj_obj(p, "mail"), report);
	return n;
}

/* Loads text as JSON and returns its root object (owned by parser), or
   NULL. */
static JsonObject *
json_root(JsonParser *parser, const char *text)
{
	JsonNode *root;

	if (!json_parser_load_from_data(parser, text, -1, NULL) ||
	    (root = json_parser_get_root(parser)) == NULL ||
	    !JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	return json_node_get_object(root);
}

/* Moves the result of a successful parse from tmp into report. */
static void
ses_move(struct bounce_report *tmp, struct bounce_report *report)
{
	struct bounce_original *o = &report->original, *t = &tmp->original;

	move_rcpts(tmp, report);
	report->kind = tmp->kind;
	report_set_default(&report->feedback_type, tmp->feedback_type);
	report_set_default(&o->message_id, t->message_id);
	report_set_default(&o->from, t->from);
	report_set_default(&o->to, t->to);
	report_set_default(&o->subject, t->subject);
	report_set_default(&o->date, t->date);
}

static int
parse_sesjson(const struct bounce_input *in, struct bounce_report *report)
{
	JsonParser *outer, *inner = NULL;
	JsonObject *o;
	struct bounce_report *tmp;
	const char *body = in->body + strspn(in->body, " \t\n");
	char *text;
	int n = 0;

	if (*body != '{' || (input_header(in, "X-Amz-Sns-Message-Id") == NULL &&
	    !text_has_ci(in->from_addr, "@sns.amazonaws.com")))
		return 0;
	text = sns_json_text(body);
	outer = json_parser_new();
	tmp = report_new();
	if ((o = json_root(outer, text)) != NULL && obj_str(o, "Message")) {
		inner = json_parser_new();
		o = json_root(inner, obj_str(o, "Message"));
	}
	if (o != NULL && (n = ses_payload(o, tmp)) > 0)
		ses_move(tmp, report);
	report_free(&tmp);
	g_clear_object(&inner);
	g_object_unref(outer);
	g_free(text);
	return n > 0;
}

static const struct bounce_parser fmt_sesjson = {"sesjson", parse_sesjson};

const struct bounce_parser *const fmt_provider_parsers[] = {
	&fmt_sesjson,
	&fmt_googlegroups,
	&fmt_gmail,
	&fmt_yahoo,
	&fmt_gmx,
	&fmt_mailru,
	&fmt_zoho,
	&fmt_workmail,
	&fmt_amazonses,
	NULL,
};
