/*
 * fmt_arf.c - complaint reports: RFC 5965 ARF (multipart/report;
 * report-type=feedback-report) and the older forms without the report
 * type: any message with a message/feedback-report part, and Microsoft's
 * JMRP / Amazon SES complaint forwarding ("complaint about message from
 * <ip>", the complainer in X-HmXmrOriginalRecipient of the returned copy).
 *
 * The complainer is the recipient: Original-Rcpt-To (RFC 5965 section
 * 3.2, any number), else the To of the returned original.  Every
 * recipient gets reason feedback here, so classify.c keeps it.  The
 * original's Message-ID and order number are recovered afterwards by
 * original.c from the attached message.
 */
#include <string.h>

#include "formats.h"
#include "dsn.h"
#include "input.h"
#include "original.h"
#include "textscan.h"

/* The fields of the message/feedback-report part we use. */
struct arf_fields {
	char *feedback_type;
	char *user_agent;
	char *mail_from;
	char *reporting_mta;
	char *source_ip;
	char *auth_results;
	GPtrArray *rcpt_to; /* Original-Rcpt-To values, owned */
};

/* Senders of the multipart/mixed complaint forms (JMRP, SES). */
static const char *const complaint_senders[] = {"staff@hotmail.com",
    "complaints@email-abuse.amazonses.com", NULL};

/* Returns the first message/feedback-report part at or under part (never
   inside an attached message), or NULL.  Borrowed. */
static const struct mime_part *
find_report_part(const struct mime_part *part)
{
	const struct mime_part *found;
	guint i;

	if (part->children != NULL) {
		for (i = 0; i < part->children->len; i++)
			if ((found = find_report_part(
				 g_ptr_array_index(part->children, i))) != NULL)
				return found;
		return NULL;
	}
	if (part->message == NULL &&
	    mime_part_is(part, "message", "feedback-report"))
		return part;
	return NULL;
}

static void
arf_field(struct arf_fields *f, const char *name, const char *value)
{
	static const struct {
		const char *name;
		size_t offset;
	} map[] = {
	    {"Feedback-Type", G_STRUCT_OFFSET(struct arf_fields, feedback_type)},
	    {"User-Agent", G_STRUCT_OFFSET(struct arf_fields, user_agent)},
	    {"Original-Mail-From", G_STRUCT_OFFSET(struct arf_fields, mail_from)},
	    {"Reporting-MTA", G_STRUCT_OFFSET(struct arf_fields, reporting_mta)},
	    {"Source-IP", G_STRUCT_OFFSET(struct arf_fields, source_ip)},
	    {"Authentication-Results",
		G_STRUCT_OFFSET(struct arf_fields, auth_results)},
	};
	size_t i;

	if (g_ascii_strcasecmp(name, "Original-Rcpt-To") == 0) {
		g_ptr_array_add(f->rcpt_to, g_strdup(value));
		return;
	}
	for (i = 0; i < G_N_ELEMENTS(map); i++) {
		char **field = G_STRUCT_MEMBER_P(f, map[i].offset);

		if (g_ascii_strcasecmp(name, map[i].name) == 0 && *field == NULL)
			*field = g_strdup(value);
	}
}

/* Splits the report part's text (header-like fields, RFC 5965 section
   3.1; continuation lines start with white space). */
static void
arf_parse_fields(const char *text, struct arf_fields *f)
{
	char **lines = g_strsplit(text, "\n", -1);
	GString *value = g_string_new(NULL);
	char *name = NULL;
	size_t i;

	for (i = 0;; i++) {
		const char *l = lines[i], *colon;

		if (l != NULL && (*l == ' ' || *l == '\t') && name != NULL) {
			g_string_append_printf(value, " %s", g_strstrip(lines[i]));
			continue;
		}
		if (name != NULL)
			arf_field(f, name, g_strstrip(value->str));
		g_clear_pointer(&name, g_free);
		if (l == NULL)
			break;
		if ((colon = strchr(l, ':')) == NULL || colon == l)
			continue;
		name = g_strstrip(g_strndup(l, colon - l));
		g_string_assign(value, colon + 1);
	}
	g_string_free(value, TRUE);
	g_strfreev(lines);
}

static void
arf_fields_clear(struct arf_fields *f)
{
	g_free(f->feedback_type);
	g_free(f->user_agent);
	g_free(f->mail_from);
	g_free(f->reporting_mta);
	g_free(f->source_ip);
	g_free(f->auth_results);
	g_ptr_array_free(f->rcpt_to, TRUE);
}

static bool
is_feedback_multipart(const struct bounce_input *in)
{
	const char *type = mime_part_param(in->msg->body, "report-type");

	return type != NULL && g_ascii_strcasecmp(type, "feedback-report") == 0;
}

static bool
is_complaint_forward(const struct bounce_input *in)
{
	return text_has_any_ci(in->from_addr, complaint_senders) &&
	    text_has_ci(in->subject, "complaint about message from");
}

/* Adds the complainer at value (an address, possibly in <>); returns
   false if value holds no address. */
static bool
add_complainer(struct bounce_report *report, const char *value)
{
	char *addr = input_first_addr(value);
	struct bounce_rcpt *r;

	if (addr == NULL)
		return false;
	if (report_find_rcpt(report, addr) != NULL) {
		g_free(addr);
		return true;
	}
	r = report_add_rcpt(report);
	r->recipient = addr;
	r->reason = REASON_FEEDBACK;
	return true;
}

/* The complainer from the returned original: Microsoft's
   X-HmXmrOriginalRecipient, else its To. */
static void
complainer_from_original(const struct bounce_input *in,
    struct bounce_report *report)
{
	struct mime_headers *orig = NULL;

	if (in->attached != NULL)
		orig = in->attached;
	else if (in->attached_headers != NULL)
		orig = original_parse_headers(in->attached_headers);
	if (orig != NULL) {
		if (!add_complainer(report, mime_headers_get(orig,
		    "X-HmXmrOriginalRecipient")))
			add_complainer(report, mime_headers_get(orig, "To"));
		if (orig != in->attached)
			mime_headers_free(&orig);
	}
	if (report->rcpts->len == 0)
		report_add_rcpt(report)->reason = REASON_FEEDBACK;
}

/* The human-readable summary: the first paragraph of the text part. */
static char *
arf_summary(const struct bounce_input *in, const struct arf_fields *f)
{
	const char *p = in->body + strspn(in->body, " \t\n");
	const char *e = strstr(p, "\n\n");
	GString *s = g_string_new_len(p, e != NULL ? e - p : (gssize)strlen(p));

	if (s->len == 0)
		g_string_printf(s, "Feedback-Type: %s", f->feedback_type);
	if (g_ascii_strcasecmp(f->feedback_type, "auth-failure") == 0 &&
	    f->auth_results != NULL)
		g_string_append_printf(s, " Authentication-Results: %s",
		    f->auth_results);
	return g_string_free(s, FALSE);
}

/* The sending IP of the JMRP / SES form: "complaint about message from
   192.0.2.1".  Newly allocated or NULL. */
static char *
subject_ip(const char *subject)
{
	static const char marker[] = "complaint about message from ";
	const char *p = text_find_ci(subject, marker);
	size_t n;

	if (p == NULL)
		return NULL;
	p += strlen(marker);
	n = strspn(p, "0123456789abcdefABCDEF.:");
	return n > 0 ? g_strndup(p, n) : NULL;
}

static void
arf_fill(const struct bounce_input *in, struct arf_fields *f,
    struct bounce_report *report)
{
	char *summary, *type;
	guint i;

	if (f->feedback_type == NULL)
		f->feedback_type = g_strdup("abuse");
	type = g_ascii_strdown(f->feedback_type, -1);
	report_set(&report->feedback_type, type);
	g_free(type);
	for (i = 0; i < f->rcpt_to->len; i++)
		add_complainer(report, g_ptr_array_index(f->rcpt_to, i));
	if (report->rcpts->len == 0)
		complainer_from_original(in, report);
	if (f->source_ip == NULL)
		f->source_ip = subject_ip(in->subject);
	summary = arf_summary(in, f);
	for (i = 0; i < report->rcpts->len; i++) {
		struct bounce_rcpt *r = g_ptr_array_index(report->rcpts, i);

		report_set(&r->diagnostic, summary);
		report_set(&r->remote_mta, f->source_ip);
	}
	g_free(summary);
	if (f->reporting_mta != NULL)
		report_set(&report->reporting_mta,
		    dsn_strip_type(f->reporting_mta));
	if (f->mail_from != NULL && in->attached == NULL &&
	    in->attached_headers == NULL) {
		char *from = input_first_addr(f->mail_from);

		report_set_default(&report->original.from, from);
		g_free(from);
	}
	report->kind = BOUNCE_KIND_FEEDBACK;
}

static int
parse(const struct bounce_input *in, struct bounce_report *report)
{
	const struct mime_part *part = find_report_part(in->msg->body);
	struct arf_fields f = {0};

	if (part == NULL && !is_feedback_multipart(in) &&
	    !is_complaint_forward(in))
		return 0;
	f.rcpt_to = g_ptr_array_new_with_free_func(g_free);
	if (part != NULL) {
		char *text = mime_part_text(part, INPUT_MAX_TEXT);

		arf_parse_fields(text, &f);
		g_free(text);
	}
	arf_fill(in, &f, report);
	arf_fields_clear(&f);
	return 1;
}

const struct bounce_parser fmt_arf = {"arf", parse};
