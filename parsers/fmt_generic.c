/*
 * fmt_generic.c - the last resort for bounces no specific parser knows.
 *
 * A message is taken as a bounce only when its sender or subject says so
 * (MAILER-DAEMON, postmaster, "Undelivered Mail", "配信エラー", ...) and
 * a failed recipient can be named: from an address line in the text, from
 * X-Failed-Recipients, or from the To of the returned original.  A mail
 * that merely attaches an .eml has neither and stays kind none.
 */
#include <string.h>

#include "formats.h"
#include "input.h"
#include "original.h"
#include "textscan.h"

static const char *const bounce_senders[] = {
    "mailer-daemon",           "postmaster",      "mail delivery",
    "mail administrator",      "mailadmin",       "mail delivery system",
    "mail delivery subsystem", "no-reply-bounce", NULL};

static const char *const bounce_subjects[] = {"undeliver",
					      "undelivered",
					      "delivery status notification",
					      "returned mail",
					      "failure notice",
					      "delivery failure",
					      "mail delivery failed",
					      "delivery failed",
					      "could not be delivered",
					      "non-delivery",
					      "nondeliverable",
					      "non delivery",
					      "delivery has failed",
					      "failed delivery",
					      "mail system error",
					      "returned to sender",
					      "rejected:",
					      "配信エラー",
					      "配送エラー",
					      "送信エラー",
					      "エラーメール",
					      "届きませんでした",
					      "配信できません",
					      "配送できません",
					      "メール不達",
					      "不達",
					      NULL};

/* Lines of the quoted original or the signature: never recipients. */
static const char *const end_markers[] = {"-- original message",
    "original message follows", "returned message follows",
    "message headers follow", "------ This is a copy",
    "--- Below this line is a copy", "Below is a copy of the original",
    "Received: from", "-----Original",
    "元のメッセージ", NULL};

static const char *const ignore_lines[] = {
    "From:", "Reply-To:", "Return-Path:", "Sender:", "Message-ID:",
    "Date:", NULL};

static bool
looks_like_bounce(const struct bounce_input *in)
{
	return text_has_any_ci(in->from, bounce_senders) ||
	       text_has_any_ci(in->subject, bounce_subjects) ||
	       input_header(in, "X-Failed-Recipients") != NULL;
}

/* The To of the returned original, when nothing else names a recipient. */
static int
original_to(const struct bounce_input *in, struct bounce_report *report)
{
	char *addr = NULL;
	struct bounce_rcpt *r;

	if (in->attached != NULL)
		addr = input_first_addr(
		    mime_headers_get(in->attached, "To"));
	if (addr == NULL)
		return 0;
	r = report_add_rcpt(report);
	r->recipient = addr;
	r->action = g_strdup("failed");
	report_set(&r->diagnostic, in->body);
	return 1;
}

static int
parse(const struct bounce_input *in, struct bounce_report *report)
{
	struct textscan_spec spec = {NULL, false, end_markers, ignore_lines};

	if (!looks_like_bounce(in))
		return 0;
	if (textscan_failed_list(input_header(in, "X-Failed-Recipients"),
				 report) +
		    textscan_recipients(in->body, &spec, report) ==
		0 &&
	    original_to(in, report) == 0)
		return 0;
	report->kind = BOUNCE_KIND_BOUNCE;
	return 1;
}

const struct bounce_parser fmt_generic = {"generic", parse};
