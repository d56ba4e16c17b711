/*
 * fmt_autoreply.c - auto-replies: RFC 3834 (Auto-Submitted: auto-replied)
 * and the vacation / out-of-office forms that predate it (X-Autoreply,
 * X-Autorespond, Precedence: auto_reply, X-Apple-Action: vacation,
 * Exchange's "Automatic reply:" with Auto-Submitted: auto-generated,
 * "Out of Office", "自動返信", "不在" subjects).
 *
 * An auto-reply proves the customer's mailbox exists: it is never a
 * failure.  The one recipient is the replying address (the From), with
 * reason vacation and no action.  A bounce must never be taken for one:
 * MTAs mark their bounces auto-replied too (Postfix, Exim), so mail from
 * MAILER-DAEMON / postmaster, mail with X-Failed-Recipients or a
 * delivery-status part, and bounce subjects are left to the bounce
 * parsers.
 */
#include <string.h>

#include "formats.h"
#include "input.h"
#include "textscan.h"

/* Senders and subjects of bounces and system mail, never auto-replies. */
static const char *const not_senders[] = {"mailer-daemon", "postmaster@",
    "root@", "mail delivery", "mail administrator", NULL};
static const char *const not_subjects[] = {"undeliver", "delivery status",
    "returned mail", "failure notice", "mail delivery failed",
    "delivery failure", "delivery has failed", "non-delivery",
    "nondeliverable", "could not be delivered", "mail system error",
    "mail failure", "delayed mail", "warning: message", "delivery report",
    "security information for", "配信エラー", "配送エラー", "送信エラー",
    "エラーメール", "届きませんでした", "配信できません", "不達",
    "配送できません", NULL};

/* Subject prefixes that alone make an auto-reply (matched at the start,
   after "Re:" and bracket decoration). */
static const char *const reply_subjects[] = {"auto response",
    "auto reply", "auto-reply", "autoreply", "automatic reply",
    "automatic response", "auto-response", "autoresponse",
    "out of office", "out of the office", "out-of-office",
    "abwesenheitsnotiz", "réponse automatique", "respuesta automática",
    "risposta automatica", "automatisch antwoord", "自動返信", "自動応答",
    "オートリプライ", NULL};

/* Prefixes too vague alone ("不在" also starts parcel-delivery phishing):
   they need an automation header as well. */
static const char *const weak_subjects[] = {"auto:", "vacation", "away",
    "on leave", "不在", "休暇", "自動送信", "お休み", NULL};

/* Auto-Submitted values of automatic mail (RFC 3834 section 5, IANA
   auto-submitted keywords); "no" is a human. */
static const char *const auto_values[] = {"auto-generated", "auto-notified",
    NULL};
static const char *const replied_values[] = {"auto-replied", NULL};
static const char *const precedence_values[] = {"auto_reply", NULL};
static const char *const weak_precedence[] = {"bulk", "junk", NULL};
static const char *const vacation_values[] = {"vacation", NULL};

/* True if some header name holds a value containing one of needles.
   needles NULL: the header's presence is enough. */
static bool
header_has(const struct bounce_input *in, const char *name,
    const char *const *needles)
{
	const char *value = input_header(in, name);

	if (value == NULL)
		return false;
	return needles == NULL || text_has_any_ci(value, needles);
}

/* A bounce or system mail, whatever its headers say. */
static bool
is_excluded(const struct bounce_input *in)
{
	return in->delivery_status != NULL || in->from_addr[0] == '\0' ||
	    text_has_any_ci(in->from, not_senders) ||
	    text_has_any_ci(in->subject, not_subjects) ||
	    input_header(in, "X-Failed-Recipients") != NULL ||
	    input_header(in, "X-MS-Exchange-Message-Is-Ndr") != NULL;
}

/* Skips "Re:", "Fwd:", "[", "【" and white space at the start of s. */
static const char *
skip_decoration(const char *s)
{
	for (;;) {
		s += strspn(s, " \t");
		if (text_starts_ci(s, "re:") || text_starts_ci(s, "aw:"))
			s += 3;
		else if (text_starts_ci(s, "fwd:"))
			s += 4;
		else if (*s == '[')
			s++;
		else if (g_str_has_prefix(s, "【"))
			s += strlen("【");
		else
			return s;
	}
}

/* Returns the prefix of list that subject starts with, or NULL. */
static const char *
subject_prefix(const char *subject, const char *const *list)
{
	const char *p = skip_decoration(subject);

	for (; *list != NULL; list++)
		if (text_starts_ci(p, *list))
			return *list;
	return NULL;
}

static bool
is_autoreply(const struct bounce_input *in)
{
	bool weak_header = header_has(in, "Auto-Submitted", auto_values) ||
	    header_has(in, "Precedence", weak_precedence) ||
	    header_has(in, "X-Auto-Response-Suppress", NULL) ||
	    header_has(in, "X-MS-Exchange-Inbox-Rules-Loop", NULL);

	if (is_excluded(in))
		return false;
	return header_has(in, "Auto-Submitted", replied_values) ||
	    header_has(in, "X-Autoreply", NULL) ||
	    header_has(in, "X-Autorespond", NULL) ||
	    header_has(in, "X-Autoresponder", NULL) ||
	    header_has(in, "Precedence", precedence_values) ||
	    header_has(in, "X-Apple-Action", vacation_values) ||
	    subject_prefix(in->subject, reply_subjects) != NULL ||
	    (weak_header && subject_prefix(in->subject, weak_subjects) != NULL);
}

/* Where the quoted original starts in a reply: a line starting with one
   of quote_starts or holding one of quote_has. */
static const char *const quote_starts[] = {"From:", "差出人:", "Sent:",
    "送信日時:", "-----", "_____", NULL};
static const char *const quote_has[] = {"Original Message", "元のメッセージ",
    NULL};

static bool
starts_any(const char *s, const char *const *prefixes)
{
	for (; *prefixes != NULL; prefixes++)
		if (text_starts_ci(s, *prefixes))
			return true;
	return false;
}

/* The reply's own words: up to five non-blank lines before the quoted
   original, as one line. */
static char *
reply_text(const char *body)
{
	char **lines = g_strsplit(body, "\n", -1);
	GString *out = g_string_new(NULL);
	size_t i, count = 0;

	for (i = 0; lines[i] != NULL && count < 5 && out->len < 400; i++) {
		const char *l = g_strstrip(lines[i]);

		if (*l == '\0' || *l == '>')
			continue;
		if (text_starts_ci(l, "On ") && text_has_ci(l, " wrote:"))
			break;
		if (starts_any(l, quote_starts) || text_has_any_ci(l, quote_has))
			break;
		if (out->len > 0)
			g_string_append_c(out, ' ');
		g_string_append(out, l);
		count++;
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

/* The replied-to mail's subject: the reply's subject after the
   auto-reply prefix ("Automatic reply: X" -> "X"), or NULL. */
static const char *
original_subject(const char *subject)
{
	const char *prefix = subject_prefix(subject, reply_subjects);
	const char *p;

	if (prefix == NULL)
		prefix = subject_prefix(subject, weak_subjects);
	if (prefix != NULL)
		p = text_find_ci(subject, prefix) + strlen(prefix);
	else if (text_starts_ci(subject, "re:"))
		p = subject;	/* "Re: <original subject>" */
	else
		return NULL;
	for (;;) {
		p += strspn(p, ":] \t");
		if (g_str_has_prefix(p, "】"))
			p += strlen("】");
		else if (g_str_has_prefix(p, "："))
			p += strlen("：");
		else if (text_starts_ci(p, "re:"))
			p += 3;
		else
			break;
	}
	return *p != '\0' ? p : NULL;
}

static void
fill_original(const struct bounce_input *in, struct bounce_report *report)
{
	const char *irt = input_header(in, "In-Reply-To");
	const char *lt, *gt;

	if (irt != NULL && (lt = strchr(irt, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL) {
		char *id = g_strndup(lt, gt - lt + 1);

		report_set_default(&report->original.message_id, id);
		g_free(id);
	}
	report_set_default(&report->original.subject,
	    original_subject(in->subject));
}

static int
parse(const struct bounce_input *in, struct bounce_report *report)
{
	struct bounce_rcpt *r;
	char *text;

	if (!is_autoreply(in))
		return 0;
	r = report_add_rcpt(report);
	r->recipient = g_strdup(in->from_addr);
	r->reason = REASON_VACATION;
	text = reply_text(in->body);
	report_set(&r->diagnostic, *text != '\0' ? text : in->subject);
	g_free(text);
	fill_original(in, report);
	report->kind = BOUNCE_KIND_AUTOREPLY;
	return 1;
}

const struct bounce_parser fmt_autoreply = {"autoreply", parse};
