/*
 * test_parse.c - end-to-end tests of bounce_parse() on messages built in
 * memory: line-end equivalence, limits, hostile structure, correlation.
 * Format-by-format coverage lives in the golden fixtures (golden.sh).
 */
#include <gmime/gmime.h>

#include "parsers/bounce.h"
#include "parsers/charset.h"
#include "parsers/classify.h"
#include "parsers/dsn.h"
#include "parsers/mime.h"
#include "tests/test.h"

static const char dsn_lf[] =
    "From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)\n"
    "To: shop@shop.example\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0900\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"B1\"\n"
    "\n"
    "--B1\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n"
    "\n"
    "<taro@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1\n"
    "    <taro@example.jp>: Recipient address rejected: User unknown\n"
    "\n"
    "--B1\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.shop.example\n"
    "Original-Envelope-Id: ENV-1\n"
    "Arrival-Date: Mon, 23 Nov 2026 09:59:58 +0900\n"
    "\n"
    "Final-Recipient: rfc822; taro@example.jp\n"
    "Original-Recipient: rfc822;taro@example.jp\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.jp\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <taro@example.jp>: Recipient address\n"
    "    rejected: User unknown\n"
    "\n"
    "Final-Recipient: rfc822; hanako@example.jp\n"
    "Action: delayed\n"
    "Status: 4.2.2\n"
    "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n"
    "\n"
    "--B1\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: shop@shop.example\n"
    "To: taro@example.jp\n"
    "Subject: =?UTF-8?B?44GU5rOo5paH?=\n"
    "Message-ID: <order-1@shop.example>\n"
    "X-Order-Number: ORD-1\n"
    "X-Mail-Type: thanks\n"
    "\n"
    "--B1--\n";

static char *
with_line_ends(const char *lf, const char *eol)
{
	GString *s = g_string_new(NULL);
	const char *p;

	for (p = lf; *p != '\0'; p++) {
		if (*p == '\n')
			g_string_append(s, eol);
		else
			g_string_append_c(s, *p);
	}
	return g_string_free(s, FALSE);
}

static struct bounce_report *
parse_str(const char *s)
{
	return bounce_parse(s, strlen(s), NULL);
}

static struct bounce_rcpt *
rcpt_at(struct bounce_report *r, guint i)
{
	return i < r->rcpts->len ? g_ptr_array_index(r->rcpts, i) : NULL;
}

static void
check_dsn(struct bounce_report *r)
{
	struct bounce_rcpt *a = rcpt_at(r, 0), *b = rcpt_at(r, 1);

	test_assert_int(r->kind, BOUNCE_KIND_DSN);
	test_assert_str(r->parser, "rfc3464");
	test_assert_int(r->rcpts->len, 2);
	if (a == NULL || b == NULL)
		return;
	test_assert_str(a->recipient, "taro@example.jp");
	test_assert_str(a->action, "failed");
	test_assert_str(a->status, "5.1.1");
	test_assert_str(a->replycode, "550");
	test_assert_str(a->diagnostic,
			"550 5.1.1 <taro@example.jp>: "
			"Recipient address rejected: User unknown");
	test_assert_str(a->remote_mta, "mx.example.jp");
	test_assert_str(classify_reason_name(a->reason), "userunknown");
	test_assert(a->hardbounce);
	test_assert_int(a->side, BOUNCE_SIDE_RECIPIENT);
	test_assert_str(b->action, "delayed");
	test_assert(!b->hardbounce);
	test_assert_str(r->reporting_mta, "mx.shop.example");
	test_assert_str(r->original.envelope_id, "ENV-1");
	test_assert_str(r->original.message_id, "<order-1@shop.example>");
	test_assert_str(r->original.subject, "ご注文");
	test_assert_str(r->original.to, "taro@example.jp");
	test_assert_str(r->order_number, "ORD-1");
	test_assert_str(r->mail_type, "thanks");
	test_assert_str(r->date, "2026-11-23T10:00:00+09:00");
}

static void
test_line_ends(void)
{
	static const char *const eols[] = {"\n", "\r\n", "\r"};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(eols); i++) {
		char *msg = with_line_ends(dsn_lf, eols[i]);
		struct bounce_report *r = parse_str(msg);

		test_begin(i == 0   ? "DSN with LF"
			   : i == 1 ? "DSN with CRLF"
				    : "DSN with CR only");
		check_dsn(r);
		test_end();
		report_free(&r);
		g_free(msg);
	}
}

static void
test_limits(void)
{
	struct bounce_options small = {100, NULL, NULL};
	struct bounce_report *r;

	test_begin("empty, oversized and headerless input are errors");
	r = bounce_parse("", 0, NULL);
	test_assert_int(r->kind, BOUNCE_KIND_ERROR);
	test_assert_str(r->error, "empty message");
	report_free(&r);
	r = bounce_parse(dsn_lf, strlen(dsn_lf), &small);
	test_assert_int(r->kind, BOUNCE_KIND_ERROR);
	test_assert(strstr(r->error, "too large") != NULL);
	report_free(&r);
	r = bounce_parse("\x00\xff\xfe garbage", 12, NULL);
	test_assert_int(r->kind, BOUNCE_KIND_ERROR);
	report_free(&r);
	test_end();
}

static void
test_truncated(void)
{
	size_t len = strlen(dsn_lf), cut;

	test_begin("every truncation of a DSN parses without crashing");
	for (cut = 1; cut < len; cut += 7) {
		struct bounce_report *r = bounce_parse(dsn_lf, cut, NULL);

		test_assert(r != NULL);
		test_assert(r->kind != BOUNCE_KIND_DSN || r->rcpts->len > 0);
		report_free(&r);
	}
	test_end();
}

static void
test_deep_nesting(void)
{
	GString *s = g_string_new("From: MAILER-DAEMON@x.example\n"
				  "Subject: Undelivered Mail\n");
	struct bounce_report *r;
	int i;

	for (i = 0; i < 2000; i++)
		g_string_append_printf(s,
				       "Content-Type: multipart/mixed; "
				       "boundary=\"b%d\"\n\n--b%d\n",
				       i, i);
	g_string_append(s, "Content-Type: text/plain\n\nhello\n");
	test_begin("2000 nested multiparts");
	r = bounce_parse(s->str, s->len, NULL);
	test_assert(r != NULL);
	report_free(&r);
	test_end();
	g_string_free(s, TRUE);
}

static void
test_huge_header(void)
{
	GString *s = g_string_new("Subject: ");
	struct bounce_report *r;
	int i;

	for (i = 0; i < 200000; i++)
		g_string_append(s, "x@y.jp ");
	g_string_append(s, "\nFrom: MAILER-DAEMON@x.example\n\nbody\n");
	test_begin("1.4 MB header line");
	r = bounce_parse(s->str, s->len, NULL);
	test_assert(r != NULL);
	test_assert(r->subject == NULL || strlen(r->subject) <= 4003);
	report_free(&r);
	test_end();
	g_string_free(s, TRUE);
}

static void
test_not_a_bounce(void)
{
	static const char msg[] =
	    "From: friend@example.jp\n"
	    "To: shop@shop.example\n"
	    "Subject: Fwd: old mail\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=X\n\n"
	    "--X\nContent-Type: text/plain\n\nSee the attached mail.\n"
	    "--X\nContent-Type: message/rfc822\n\n"
	    "From: a@example.jp\nTo: b@example.jp\nSubject: hi\n\nhello\n"
	    "--X--\n";
	struct bounce_report *r = parse_str(msg);

	test_begin("a mail that attaches an .eml is kind none");
	test_assert_int(r->kind, BOUNCE_KIND_NONE);
	test_assert_int(r->rcpts->len, 0);
	report_free(&r);
	test_end();
}

/* Appends a one-line picture of part: type, then [children], "msg" for
   an attached message, or the decoded text in braces. */
static void
describe_part(GString *out, const struct mime_part *part)
{
	char *type =
	    g_strdup_printf("%s/%s", part->type.type, part->type.subtype);
	guint i;

	g_string_append(out, type);
	g_free(type);
	if (part->children != NULL) {
		g_string_append(out, "[");
		for (i = 0; i < part->children->len; i++) {
			if (i > 0)
				g_string_append(out, " ");
			describe_part(out,
				      g_ptr_array_index(part->children, i));
		}
		g_string_append(out, "]");
	} else if (part->message != NULL) {
		g_string_append(out, " msg");
	} else if (part->content != NULL) {
		char *text = mime_part_text(part, 1024);

		g_string_append_printf(out, "{%s}", text);
		g_free(text);
	}
}

static char *
describe(const char *text)
{
	struct mime_message *msg = mime_message_parse(
	    text, strlen(text), strncmp(text, "From ", 5) == 0,
	    bounce_parser_options());
	GString *out = g_string_new(NULL);

	if (msg == NULL)
		return g_string_free(out, TRUE);
	describe_part(out, msg->body);
	mime_message_free(&msg);
	return g_string_free(out, FALSE);
}

/* The structure rules mime.c shares with GMime 3.2's parser; every want
   was read from g_mime_parser_construct_message() on the same input. */
static void
test_mime_rules(void)
{
	static const struct {
		const char *name, *text, *want; /* want NULL: refused */
	} cases[] = {
	    {"boundary with trailing blanks; --b--junk is text",
	     "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
	     "pre\n--b  \nContent-Type: text/plain\n\npart1\n\n--b--junk\n"
	     "\n--b\n\nlast\n--b--\nepi\n",
	     "multipart/mixed[text/plain{part1\n\n--b--junk\n} "
	     "text/plain{last}]"},
	    {"a child whose fields meet a boundary without one is dropped",
	     "Subject: s\nContent-Type: multipart/mixed; boundary=a\n\n"
	     "--a\nhello\n--a\nX: y\n--a--\n",
	     "multipart/mixed[text/plain]"},
	    {"an empty message/rfc822 has no message",
	     "Subject: s\nContent-Type: multipart/mixed; boundary=a\n\n"
	     "--a\nContent-Type: message/rfc822\n\n--a--\n",
	     "multipart/mixed[message/rfc822]"},
	    {"a cut field name refuses the message", "Subject: s\nbad", NULL},
	    {"mbox: first line after From is no field", "From M\nbad\n", NULL},
	    {"mbox: a second From line ends the message",
	     "From a\nFrom b\nSubject: x\n\nbody\n", "text/plain"},
	    {"a child at the end after a line is kept",
	     "Subject: s\nContent-Type: multipart/mixed; boundary=a\n\n"
	     "--a\n\nbody\n--a\nbad\n",
	     "multipart/mixed[text/plain{body} text/plain]"},
	    {"a child cut inside a field name is dropped",
	     "Subject: s\nContent-Type: multipart/mixed; boundary=a\n\n"
	     "--a\nX: y\nbad",
	     "multipart/mixed[]"},
	    {"digest parts default to message/rfc822",
	     "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
	     "Subject: d1\n\nbody\n--d--\n",
	     "multipart/digest[message/rfc822 msg]"},
	    {"a base64 message/rfc822 is a leaf",
	     "Subject: s\nContent-Type: message/rfc822\n"
	     "Content-Transfer-Encoding: base64\n\naGVsbG8=\n",
	     "message/rfc822{hello}"},
	    {"uuencode without a begin line decodes to nothing",
	     "Subject: s\nContent-Transfer-Encoding: x-uuencode\n\nabc\n",
	     "text/plain{}"},
	    {"the last Content-Type wins",
	     "Subject: s\nContent-Type: text/html\nContent-type: text/plain\n"
	     "\nx\n",
	     "text/plain{x\n}"},
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = describe(cases[i].text);

		test_begin(cases[i].name);
		test_assert_str(got, cases[i].want);
		test_end();
		g_free(got);
	}
}

static void
test_mime_fields(void)
{
	static const char text[] =
	    "Subject: one\nName : v\nbad line\n"
	    "Subject: =?utf-8?q?=3D=3Futf-8=3Fq=3Fabc=3F=3D?=\n"
	    "X-C:    \n  folded\n   more  \n"
	    "Content-Type: text/plain\n\nbody\n";
	struct mime_message *msg = mime_message_parse(text, strlen(text), false,
						      bounce_parser_options());

	test_begin("header fields as GMime reads them");
	test_assert_str(mime_headers_get(msg->headers, "subject"), "one");
	test_assert_str(mime_headers_get_last(msg->headers, "Subject"),
			"=?utf-8?q?abc?=");
	test_assert_str(mime_headers_get(msg->headers, "Name"), "v");
	test_assert_str(mime_headers_get(msg->headers, "X-C"), "folded   more");
	test_assert(mime_headers_get(msg->headers, "Content-Type") == NULL);
	test_assert_str(mime_headers_get(msg->body->headers, "Content-Type"),
			"text/plain");
	test_assert_int(mime_headers_count(msg->headers), 4);
	mime_message_free(&msg);
	test_end();
}

/* Asserts that a Subject field with value comes out of
   mime_headers_value() as GMime decodes it. */
static void
check_header_value(GMimeParserOptions *options, const char *value)
{
	char *text = g_strdup_printf("Subject: %s\n\nbody\n", value);
	struct mime_message *msg =
	    mime_message_parse(text, strlen(text), false, options);
	char *unfolded = g_mime_utils_header_unfold(value);
	char *want = g_mime_utils_header_decode_text(options, unfolded);

	test_assert(msg != NULL);
	if (msg != NULL)
		test_assert_str(mime_headers_get(msg->headers, "Subject"),
				want);
	mime_message_free(&msg);
	g_free(want);
	g_free(unfolded);
	g_free(text);
}

/* mime_headers_value() skips GMime's decoder for valid UTF-8 without an
   encoded word; compares it with g_mime_utils_header_decode_text() over
   a table of 8-bit values and random UTF-8 words and separators. */
static void
test_header_8bit(void)
{
	static const char *const cases[] = {
	    "caf\xc3\xa9",
	    "\xe3\x81\x82 \xe3\x81\x84\t\xe3\x81\x86",
	    "  lead \xc2\xa0 trail  ",
	    "a\x01\xc3\xa9\x7f b",
	    "\xef\xbf\xbe\xef\xbf\xbf",
	    "\xf4\x8f\xbf\xbf x",
	    "= ? \xc3\xa9 ?=",
	    "x =\xc3\xa9?",
	    "\xa4\xa2\xa4\xa4 euc",
	    "\x82\xa0 sjis",
	    "\xe9t\xe9",
	    "\xed\xa0\x80 surrogate",
	    "\xc0\xaf overlong",
	    "\xf4\x90\x80\x80 big",
	    "tail \xe3\x81",
	    "=?utf-8?b?w6k=?= \xc3\xa9",
	    "\xc3\xa9=?x",
	    NULL};
	static const char *const words[] = {
	    "a",        "\xc3\xa9", "\xe3\x81\x82", "\xf0\x9f\x98\x80",
	    "=",        "?",        "\x01",         "\x7f",
	    "\xc2\xa0", "(",        "\"",           "x\xe2\x80\x8by"};
	static const char *const seps[] = {"", " ", "\t", "  ", " \t "};
	GMimeParserOptions *options = bounce_parser_options();
	GString *text = g_string_new(NULL);
	guint32 seed = 1;
	size_t i, j;

	test_begin("8-bit header values decode as GMime does");
	for (i = 0; i < 3000 || cases[i - 3000] != NULL; i++) {
		if (i < 3000) {
			g_string_truncate(text, 0);
			for (j = 0; j < 1 + i % 7; j++) {
				seed = seed * 1103515245 + 12345;
				g_string_append(text, seps[(seed >> 8) % 5]);
				g_string_append(text, words[(seed >> 16) % 12]);
			}
		} else {
			g_string_assign(text, cases[i - 3000]);
		}
		check_header_value(options, text->str);
	}
	test_end();
	g_string_free(text, TRUE);
}

/* What dsn_iso_date() returns through GMime alone. */
static char *
gmime_iso_date(const char *date)
{
	GDateTime *dt = g_mime_utils_header_decode_date(date);
	char *iso;

	if (dt == NULL)
		return NULL;
	iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");
	g_date_time_unref(dt);
	return iso;
}

/* dsn_iso_date() reads the plain RFC 5322 form itself; compares it with
   GMime over generated dates, valid and not, in and around that form. */
static void
test_iso_date(void)
{
	static const char *const wdays[] = {"", "Mon, ", "tue,", "WED ",
					    "Thu,  ", "Fri ,", "Xyz, ",
					    "Saturday, ", "Sun\t"};
	static const char *const days[] = {"0",  "1",  "01", "7",  "28",
					   "29", "30", "31", "32", "001",
					   "+5", "9x"};
	static const char *const months[] = {"Jan", "feb", "MAR", "Apr",
					     "Jun", "Sep", "Nov", "Dec",
					     "November", "Foo", "Ja"};
	static const char *const years[] = {"1900", "1968", "1969", "2000",
					    "2024", "2026", "2100", "9999",
					    "26",   "70",   "20260"};
	static const char *const times[] = {"00:00:00", "23:59:59", "10:15:02",
					    "24:00:00", "12:60:00", "12:00:60",
					    "1:02:03",  "10:15",    "10:15:02:01",
					    "aa:bb:cc"};
	static const char *const zones[] = {
	    "+0000", "-0000", "+0900", "-0330", "+1400", "+2359", "+2400",
	    "+0960", "-1200", "+0900 (JST)", "+0900(JST)", "GMT", "",
	    "+09:00", "+900", "EST", "-0800\t"};
	static const char *const seps[] = {" ", "  ", "\t", "-"};
	GString *date = g_string_new(NULL);
	guint32 seed = 7;
	int i;

	static const char *const cut[] = {
	    "",    "Mon",   "Mon,",        "Mon, ",          "1",
	    "1 ",  "Mon, 1", "1 Jan",      "1 Jan 2026",     "1 Jan 2026 ",
	    "1 Jan 2026 10", "1 Jan 2026 10:00:00", "1 Jan 2026 10:00:00 +",
	    "1 Jan 2026 10:00:00 +09"};

	test_begin("plain dates convert as GMime does");
	for (i = 0; i < (int)G_N_ELEMENTS(cut); i++) {
		/* an exact-size copy, so a read past the end shows */
		char *date_cut = g_strdup(cut[i]), *got, *want;

		got = dsn_iso_date(date_cut);
		want = gmime_iso_date(date_cut);
		test_assert_str(got, want);
		g_free(got);
		g_free(want);
		g_free(date_cut);
	}
	for (i = 0; i < 40000; i++) {
		char *got, *want;

		g_string_assign(date, i % 3 ? "" : " ");
		g_string_append(date, wdays[test_pick(&seed, G_N_ELEMENTS(wdays))]);
		g_string_append(date, days[test_pick(&seed, G_N_ELEMENTS(days))]);
		g_string_append(date, seps[test_pick(&seed, i % 5 ? 1 : 4)]);
		g_string_append(date, months[test_pick(&seed, G_N_ELEMENTS(months))]);
		g_string_append(date, seps[test_pick(&seed, i % 7 ? 1 : 4)]);
		g_string_append(date, years[test_pick(&seed, G_N_ELEMENTS(years))]);
		g_string_append_c(date, ' ');
		g_string_append(date, times[test_pick(&seed, G_N_ELEMENTS(times))]);
		g_string_append(date, seps[test_pick(&seed, i % 11 ? 1 : 4)]);
		g_string_append(date, zones[test_pick(&seed, G_N_ELEMENTS(zones))]);
		got = dsn_iso_date(date->str);
		want = gmime_iso_date(date->str);
		test_assert_str(got, want);
		g_free(got);
		g_free(want);
	}
	for (i = 0; i < 12 * 32 * 4 + 2 * 26 * 62; i++) {
		char *got, *want;
		int z = i - 12 * 32 * 4;

		if (z < 0)
			g_string_printf(date, "%d %s %d 23:59:59 +0900",
					i % 32, months[i / 32 % 8],
					2024 + i / (12 * 32) * 38);
		else
			g_string_printf(date, "1 Jan 2026 00:00:00 %c%02d%02d",
					z % 2 ? '-' : '+', z / 2 / 62,
					z / 2 % 62);
		got = dsn_iso_date(date->str);
		want = gmime_iso_date(date->str);
		test_assert_str(got, want);
		g_free(got);
		g_free(want);
	}
	test_end();
	g_string_free(date, TRUE);
}

/* Field values are unfolded as g_mime_utils_header_unfold() does:
   random values of blanks, CR, folds and words. */
static void
test_header_unfold(void)
{
	static const char *const bits[] = {"a", " ", "\t", "\r", "\n ",
					   "\n\t", "b", "\xc3\xa9"};
	GMimeParserOptions *options = bounce_parser_options();
	GString *value = g_string_new(NULL);
	guint32 seed = 5;
	size_t i;

	test_begin("field values unfold as GMime does");
	for (i = 0; i < 5000; i++) {
		struct mime_headers *h;
		char *text, *unfolded, *want;

		g_string_truncate(value, 0);
		test_append_pieces(value, bits, G_N_ELEMENTS(bits), 1 + i % 10,
				   &seed);
		text = g_strdup_printf("X:%s\n", value->str);
		h = mime_headers_parse(text, strlen(text), options);
		unfolded = g_mime_utils_header_unfold(value->str);
		want = g_mime_utils_header_decode_text(options, unfolded);
		test_assert_str(mime_headers_get(h, "X"), want);
		mime_headers_free(&h);
		g_free(want);
		g_free(unfolded);
		g_free(text);
	}
	test_end();
	g_string_free(value, TRUE);
}

/* mime_headers_value() decodes simple base64 encoded words itself;
   compares it with GMime over random values built from encoded words
   (whole, split across words, padded, broken, other charsets and
   encodings), plain words, blanks and folds. */
static void
test_header_rfc2047(void)
{
	static const char *const words[] = {
	    "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=",
	    "=?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=",
	    "=?ISO-2022-JP?B?GyRCJDMkcw==?=",
	    "=?ISO-2022-JP?B?JEskQSRPGyhC?=",
	    "=?ISO-2022-JP?B?GyRCfn4bKEI=?=",
	    "=?ISO-2022-JP?B?Gw==?=",
	    "=?ISO-2022-JP?Q?=1B$B$3$s=1B(B?=",
	    "=?UTF-8?B?44GC?=",
	    "=?utf-8?b?5pel5pys6Kqe44Gn44GZ?=",
	    "=?UTF-8?B?44GC4w==?=",
	    "=?UTF-8?B?gYQ=?=",
	    "=?UTF-8?B?/w==?=",
	    "=?UTF-8?B?AA==?=",
	    "=?UTF-8?B?Cg==?=",
	    "=?UTF-8?B?QR==?=",
	    "=?UTF-8?B?QUJD?=",
	    "=?UTF-8?B?QUI?=",
	    "=?UTF-8?B?QU=J?=",
	    "=?UTF-8?B?Q===?=",
	    "=?UTF-8?B?\?=", /* \? keeps "??=" from being a trigraph */
	    "=?UTF-8?Q?caf=C3=A9_x?=",
	    "=?UTF-8*ja?B?44GC?=",
	    "=?Shift_JIS?B?gqA=?=",
	    "=?UTF-8?B?44GC?=x",
	    "x=?UTF-8?B?44GC?=",
	    "=?UTF-8?X?44GC?=",
	    "<shop@example.jp>",
	    "\"Shop\"",
	    "(c)",
	    "a=?b",
	    "caf\xc3\xa9",
	    "plain",
	    "?=",
	    "=?"};
	static const char *const simple[] = {
	    "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=",
	    "=?ISO-2022-JP?B?JEskQSRPGyhC?=", "=?ISO-2022-JP?B?GyRCJDMkcw==?=",
	    "=?UTF-8?B?44GC?=", "=?UTF-8?B?QUJD?=", "<shop@example.jp>",
	    "plain"};
	static const char *const seps[] = {" ",  " ",   "\t", "  ",
					   " \t ", "\n ", "\n\t", ""};
	GMimeParserOptions *options = bounce_parser_options();
	GString *text = g_string_new(NULL);
	guint32 seed = 11;
	size_t i, j;

	test_begin("encoded words decode as GMime does");
	for (i = 0; i < 20000; i++) {
		g_string_truncate(text, 0);
		for (j = 0; j < 1 + i % 6; j++) {
			if (j > 0 || i % 4 == 0)
				g_string_append(
				    text, seps[test_pick(&seed, G_N_ELEMENTS(seps))]);
			if (i % 3 == 2)
				g_string_append(
				    text,
				    simple[test_pick(&seed, G_N_ELEMENTS(simple))]);
			else
				g_string_append(
				    text, words[test_pick(&seed, i % 3 == 0
								? G_N_ELEMENTS(words)
								: 12)]);
		}
		if (i % 5 == 0)
			g_string_append(text, seps[test_pick(&seed, 5)]);
		check_header_value(options, text->str);
	}
	test_end();
	g_string_free(text, TRUE);
}

/* True if utf8 holds a C1 control (U+0080-U+009F). */
static bool
has_c1(const char *utf8)
{
	const unsigned char *p;

	for (p = (const unsigned char *)utf8; *p != '\0'; p++)
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
	return false;
}

/* What iconv makes of ISO-2022-JP text, as charset.c's variant chain
   would try it (with its checks), or NULL if no variant converts it. */
static char *
iconv_iso2022jp(const char *data, size_t len)
{
	static const char *const variants[] = {"ISO-2022-JP", "CP50221",
					       "ISO-2022-JP-2", "ISO-2022-JP-3"};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(variants); i++) {
		gsize written = 0;
		char *out = g_convert(data, len, "UTF-8", variants[i], NULL,
				      &written, NULL);

		if (out != NULL && g_utf8_validate(out, written, NULL) &&
		    memchr(out, '\0', written) == NULL && !has_c1(out))
			return out;
		g_free(out);
	}
	return NULL;
}

static void
check_iso2022jp(const char *data, size_t len)
{
	char *want = iconv_iso2022jp(data, len);
	char *got;

	if (want == NULL)
		return;
	got = charset_to_utf8(data, len, "iso-2022-jp");
	test_assert_str(got, want);
	g_free(got);
	g_free(want);
}

/* charset.c converts plain ISO-2022-JP without gconv; compares it with
   iconv over every JIS X 0208 code and over random texts mixing ASCII,
   escapes (covered and not), codes, controls and 8-bit bytes. */
static void
test_iso2022jp(void)
{
	static const char *const bits[] = {
	    "\x1b$B", "\x1b(B", "\x1b(J", "\x1b$@", "\x1b(I", "\x1b$(D",
	    "$3", "$s", "%F", "-!", "~~", "0!", "a", " ", "\n", "\t",
	    "\x01", "\x7f", "\xa4\xa2", "\x1b", "\\~"};
	GString *text = g_string_new(NULL);
	guint32 seed = 13;
	int c1, c2;
	size_t i;

	test_begin("ISO-2022-JP converts as iconv does");
	for (c1 = 0x21; c1 <= 0x7e; c1++) {
		for (c2 = 0x21; c2 <= 0x7e; c2++) {
			g_string_printf(text, "a\x1b$B%c%c%c%c\x1b(Bb\n", c1,
					c2, c2, c1);
			check_iso2022jp(text->str, text->len);
		}
	}
	for (i = 0; i < 20000; i++) {
		g_string_truncate(text, 0);
		test_append_pieces(text, bits, G_N_ELEMENTS(bits), 1 + i % 12,
				   &seed);
		check_iso2022jp(text->str, text->len);
	}
	test_end();
	g_string_free(text, TRUE);
}

/* Asserts that charset.c's UTF-8 validator and repair answer as glib's
   do for the len bytes at s. */
static void
check_utf8(const char *s, size_t len)
{
	const char *end = NULL;
	size_t want;
	char *got, *ref;

	want = g_utf8_validate(s, len, &end) ? len : (size_t)(end - s);
	test_assert(charset_utf8_valid_len(s, len) == want);
	if (len == 0)
		return;
	got = charset_utf8_make_valid(s, len);
	ref = g_utf8_make_valid(s, len);
	test_assert_str(got, ref);
	g_free(got);
	g_free(ref);
}

/* charset_utf8_valid_len() and charset_utf8_make_valid() against glib:
   every two-byte sequence, every lead with every second byte and edge
   continuations, and random texts of ASCII runs (around the 16-byte
   stride), boundary characters, invalid bytes and NULs at every
   alignment. */
static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
	} bits[] = {{"a", 1},
		    {"abcdefg", 7},
		    {"abcdefghijklmnop", 16},
		    {"\0", 1},
		    {"\x01", 1},
		    {"\x7f", 1},
		    {"\x80", 1},
		    {"\xbf", 1},
		    {"\xc0\x80", 2},
		    {"\xc1\xbf", 2},
		    {"\xc2\x80", 2},
		    {"\xc2\x9f", 2},
		    {"\xdf\xbf", 2},
		    {"\xe0\x9f\xbf", 3},
		    {"\xe0\xa0\x80", 3},
		    {"\xed\x9f\xbf", 3},
		    {"\xed\xa0\x80", 3},
		    {"\xef\xbf\xbe", 3},
		    {"\xef\xbf\xbf", 3},
		    {"\xf0\x8f\xbf\xbf", 4},
		    {"\xf0\x90\x80\x80", 4},
		    {"\xf4\x8f\xbf\xbf", 4},
		    {"\xf4\x90\x80\x80", 4},
		    {"\xf5\x80\x80\x80", 4},
		    {"\xe3\x81", 2},
		    {"\xf0\x9f", 2},
		    {"\xfe", 1},
		    {"\xff", 1},
		    {"\xe3\x81\x82\xe3\x81\x84", 6}};
	static const unsigned char tails[] = {
	    0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
	unsigned char buf[8];
	GString *text = g_string_new(NULL);
	guint32 seed = 29;
	size_t i, j, k, off;

	test_begin("UTF-8 validates and repairs as glib does");
	for (i = 0; i < 65536; i++) {
		buf[0] = (unsigned char)(i >> 8);
		buf[1] = (unsigned char)i;
		check_utf8((const char *)buf, 2);
	}
	for (i = 0xc0; i < 0x100; i++) {
		for (j = 0; j < 256; j++) {
			for (k = 0; k < G_N_ELEMENTS(tails); k++) {
				buf[0] = (unsigned char)i;
				buf[1] = (unsigned char)j;
				buf[2] = buf[3] = 0x80;
				buf[k % 2 + 2] = tails[k];
				check_utf8((const char *)buf, 3);
				check_utf8((const char *)buf, 4);
			}
		}
	}
	for (i = 0; i < 20000; i++) {
		g_string_truncate(text, 0);
		for (j = 0; j < 1 + i % 24; j++) {
			k = test_pick(&seed, G_N_ELEMENTS(bits));
			g_string_append_len(text, bits[k].s, bits[k].len);
		}
		for (off = 0; off < 4 && off < text->len; off++)
			check_utf8(text->str + off, text->len - off);
	}
	test_end();
	g_string_free(text, TRUE);
}

/* Asserts that ct answers as GMime's own parse of value does. */
static void
check_ctype(const struct mime_ctype *ct, GMimeContentType *gm)
{
	static const char *const names[] = {
	    "charset", "boundary", "report-type", "name",  "format", "a",
	    "b",       "CHARSET",  "x",           "delsp", NULL};
	GMimeParamList *list = g_mime_content_type_get_parameters(gm);
	int i;

	test_assert_str(ct->type, g_mime_content_type_get_media_type(gm));
	test_assert_str(ct->subtype, g_mime_content_type_get_media_subtype(gm));
	test_assert(mime_ctype_is(ct, "text", "*") ==
		    g_mime_content_type_is_type(gm, "text", "*"));
	test_assert(mime_ctype_is(ct, "*", "plain") ==
		    g_mime_content_type_is_type(gm, "*", "plain"));
	test_assert(mime_ctype_is(ct, "MULTIPART", "Report") ==
		    g_mime_content_type_is_type(gm, "MULTIPART", "Report"));
	for (i = 0; names[i] != NULL; i++)
		test_assert_str(
		    mime_ctype_param(ct, names[i]),
		    g_mime_content_type_get_parameter(gm, names[i]));
	for (i = 0; i < g_mime_param_list_length(list); i++) {
		GMimeParam *param = g_mime_param_list_get_parameter_at(list, i);
		const char *name = g_mime_param_get_name(param);

		test_assert_str(mime_ctype_param(ct, name),
				g_mime_content_type_get_parameter(gm, name));
	}
}

/* The Content-Type fast path against g_mime_content_type_parse(). */
static void
test_ctype(void)
{
	static const struct {
		const char *value;
		bool fast;
	} cases[] = {
	    {"text/plain", true},
	    {"TEXT/Plain; CharSet=ISO-2022-JP", true},
	    {"  multipart/report;report-type=delivery-status;\t"
	     "boundary=\"abc def:/?\"  ",
	     true},
	    {"multipart/mixed; boundary=\"----=_Part_1_2.3\"", true},
	    {"text/plain; charset=\"\"", true},
	    {"text/plain; a=1; b=2; c=3; d=4; e=5; f=6", true},
	    {"text/plain; a=1; b=2; c=3; d=4; e=5; f=6; g=7", false},
	    {"multipart/mixed; boundary=----=_NextPart_000", false},
	    {"text/plain; charset=us-ascii (comment)", false},
	    {"text/plain; charset=a; CHARSET=b", false},
	    {"text/plain; name*=utf-8''%e2%82%ac", false},
	    {"text/plain; name*0=a; name*1=b", false},
	    {"text/plain; name=\"=?utf-8?q?x?=\"", false},
	    {"text/plain; name=\"a\\\"b\"", false},
	    {"text/plain; name=\"caf\xc3\xa9\"", false},
	    {"text/plain; name=\"open", false},
	    {"text/plain;", false},
	    {"text/plain; ; charset=x", false},
	    {"text / plain", false},
	    {"text/plain charset=x", false},
	    {"text", false},
	    {"/plain", false},
	    {"", false},
	    {";", false},
	    {"text/plain; charset =x", false},
	    {"text/plain; charset= x", false},
	    {"text/plain; charset=x y", false},
	    {"text/plain;charset=utf-8;format=flowed;delsp=yes", true},
	    {"application/octet-stream; name=\"a;b=c\"", true},
	};
	GMimeParserOptions *options = bounce_parser_options();
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mime_ctype ct;
		GMimeContentType *gm =
		    g_mime_content_type_parse(options, cases[i].value);

		test_begin(cases[i].value);
		mime_ctype_parse(&ct, cases[i].value, options);
		test_assert(cases[i].fast == (ct.gm == NULL));
		check_ctype(&ct, gm);
		mime_ctype_clear(&ct);
		g_object_unref(gm);
		test_end();
	}
}

/* What report_set() makes of ASCII text, one byte at a time: controls,
   DEL and spaces are blanks; blank runs become one space inside the text
   and vanish at its ends. */
static char *
clean_ascii_ref(const char *s)
{
	GString *out = g_string_new(NULL);
	bool blank = false;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == 0x7f) {
			blank = out->len > 0;
			continue;
		}
		if (blank)
			g_string_append_c(out, ' ');
		blank = false;
		g_string_append_c(out, (char)c);
	}
	return g_string_free(out, FALSE);
}

/* report_set() on random ASCII strings, mostly clean (the fast path)
   with blanks at every position, word edges included, against the
   byte-at-a-time reference. */
static void
test_report_set(void)
{
	static const char alphabet[] = "ab.  \t\x7f~!\x01";
	char buf[40], *field = NULL, *want;
	guint32 seed = 11;
	int i, n, j;

	test_begin("report_set clean copies");
	for (i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		n = (int)((seed >> 8) % sizeof(buf));
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			/* blanks and odd bytes rarely, so many strings are
			   clean */
			buf[j] = (seed >> 16) % 8 != 0
				     ? alphabet[(seed >> 20) % 3]
				     : alphabet[3 + (seed >> 20) % 7];
		}
		buf[n] = '\0';
		report_set(&field, buf);
		want = clean_ascii_ref(buf);
		test_assert_str(field, want);
		g_free(want);
	}
	report_set(&field, "  a  b\r\n c \xc2\xa0"
			   "d\xe3\x80\x80");
	test_assert_str(field, "a b c d");
	report_set(&field, NULL);
	test_assert(field == NULL);
	test_end();
}

int
main(void)
{
	g_mime_init();
	test_line_ends();
	test_limits();
	test_truncated();
	test_deep_nesting();
	test_huge_header();
	test_not_a_bounce();
	test_mime_rules();
	test_mime_fields();
	test_header_8bit();
	test_ctype();
	test_iso_date();
	test_header_rfc2047();
	test_header_unfold();
	test_iso2022jp();
	test_utf8();
	test_report_set();
	bounce_shutdown();
	g_mime_shutdown();
	return test_exit();
}
