/*
 * test_textscan.c - unit tests of the linear-time text helpers, the
 * charset detection and the report string helpers.
 */
#include <gmime/gmime.h>

#include "parsers/charset.h"
#include "parsers/dsn.h"
#include "parsers/original.h"
#include "parsers/textscan.h"
#include "tests/test.h"

static void
test_find_addr(void)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
	    {"<user@example.jp>: host said: 550", "user@example.jp"},
	    {"  user@Example.JP", "user@example.jp"},
	    {"To: \"Name\" <a.b+c@sub.example.co.jp>",
	     "a.b+c@sub.example.co.jp"},
	    {"mail for x@localhost failed", NULL},
	    {"no address here", NULL},
	    {"user@example.jp.", "user@example.jp"},
	    {"first@a.example: 550 <second@b.example>", "first@a.example"},
	    {"'quoted@example.com'", "quoted@example.com"},
	    {"ユーザ@例え.jp", "ユーザ@例え.jp"},
	    {"user@[192.0.2.1]", "user@[192.0.2.1]"},
	    {"@@@...", NULL},
	};
	size_t i;

	test_begin("text_find_addr + text_clean_addr");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *a;
		size_t n;
		char *got = NULL;

		if (text_find_addr(cases[i].line, strlen(cases[i].line), &a,
				   &n))
			got = text_clean_addr(a, n);
		test_assert_str(got, cases[i].want);
		g_free(got);
	}
	test_end();
}

static void
test_find_ci(void)
{
	static const char *const markers[] = {"original message", "xyz", NULL};

	test_begin("text_find_ci");
	test_assert(
	    text_has_ci("The ORIGINAL Message follows", "original message"));
	test_assert(!text_has_ci("origina", "original"));
	test_assert(text_has_any_ci("a xyZ b", markers));
	test_assert(!text_has_any_ci(NULL, markers));
	test_assert(text_starts_ci("Final-Recipient: x", "final-recipient:"));
	test_assert(!text_starts_ci("Final", "final-recipient:"));
	test_assert(!text_starts_ci("", "final-recipient:"));
	test_assert(text_starts_ci("x", ""));
	test_end();
}

/* charset_has_8bit() reads 8 bytes at a time: every length and position
   around the word size. */
static void
test_has_8bit(void)
{
	char buf[40];
	size_t len, at;

	test_begin("charset_has_8bit");
	memset(buf, 'a', sizeof(buf));
	for (len = 0; len <= 24; len++) {
		test_assert(!charset_has_8bit(buf + 1, len));
		for (at = 0; at < len; at++) {
			buf[1 + at] = (char)0x80;
			test_assert(charset_has_8bit(buf + 1, len));
			buf[1 + at] = 'a';
		}
		/* a byte just past len does not count */
		buf[1 + len] = (char)0xff;
		test_assert(!charset_has_8bit(buf + 1, len));
		buf[1 + len] = 'a';
	}
	test_end();
}

/* dsn_parse_fields() over CRLF lines, folded values, unknown fields
   (also folded) and a field name with blanks before the colon. */
static void
test_dsn_fields(void)
{
	static const char text[] = "Reporting-MTA: dns; mx.example.jp\r\n"
				   "\r\n"
				   "Final-Recipient: rfc822; a@B.example.jp\r\n"
				   "X-Unknown: 1\r\n"
				   "  Status: 4.4.4\r\n"
				   "Action : Failed\r\n"
				   "Status: 5.1.1\r\n"
				   "Diagnostic-Code: smtp; 550\r\n"
				   "\t user unknown\r\n"
				   "\r\n"
				   "Final-Recipient: rfc822; c@d.example.jp\n"
				   "Status: 4.2.2";
	struct bounce_report *r = report_new();
	struct bounce_rcpt *a, *c;

	test_begin("dsn_parse_fields");
	test_assert(dsn_parse_fields(text, r) == 2);
	test_assert_str(r->reporting_mta, "mx.example.jp");
	a = g_ptr_array_index(r->rcpts, 0);
	c = g_ptr_array_index(r->rcpts, 1);
	test_assert_str(a->recipient, "a@b.example.jp");
	test_assert_str(a->action, "failed");
	test_assert_str(a->status, "5.1.1");
	test_assert_str(a->diagnostic, "550 user unknown");
	test_assert_str(c->recipient, "c@d.example.jp");
	test_assert_str(c->status, "4.2.2");
	report_free(&r);
	test_end();
}

/* The line-by-line reference of text_first_line_with_any(). */
static const char *
first_line_by_line(const char *p, const char *const *needles)
{
	const char *e;

	for (; *p != '\0'; p = text_next_line(e)) {
		e = text_line_end(p);
		if (text_line_has_any(p, e, needles))
			return p;
	}
	return NULL;
}

/* A naive reference of text_find_ci(). */
static const char *
find_ci_naive(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (g_ascii_strncasecmp(hay, needle, n) == 0)
			return hay;
	return n == 0 ? hay : NULL;
}

/* True if any needle of the NULL-terminated list occurs in text, by the
   naive reference. */
static bool
has_any_naive(const char *text, const char *const *needles)
{
	for (; *needles != NULL; needles++)
		if (find_ci_naive(text, *needles) != NULL)
			return true;
	return false;
}

/* Checks the line search, the substring search (of the first needle) and
   the any-needle search of text against the references. */
static void
assert_searches_agree(const char *text, const char *const *needles)
{
	test_assert(text_first_line_with_any(text, needles) ==
		    first_line_by_line(text, needles));
	test_assert(text_find_ci(text, needles[0]) ==
		    find_ci_naive(text, needles[0]));
	test_assert(text_has_any_ci(text, needles) ==
		    has_any_naive(text, needles));
}

/* Checks the searches of rounds random texts against the references,
   for every needle list: text i has min_pieces + i % spread pieces of
   bits, picked from seed. */
static void
assert_random_searches_agree(const char *const *bits, size_t nbits,
			     const char *const (*needles)[4], size_t nneedles,
			     guint32 seed, size_t rounds, size_t min_pieces,
			     size_t spread)
{
	GString *text = g_string_new(NULL);
	size_t i, k;

	for (i = 0; i < rounds; i++) {
		g_string_truncate(text, 0);
		test_append_pieces(text, bits, nbits, min_pieces + i % spread,
				   &seed);
		for (k = 0; k < nneedles; k++)
			assert_searches_agree(text->str, needles[k]);
	}
	g_string_free(text, TRUE);
}

/* The searches against line-by-line and naive references over random
   texts of short words, case variants, blanks and line breaks. */
static void
test_search_random(void)
{
	static const char *const bits[] = {"ab", "AB",   "aB", "b",  "a", " ",
					   "\n", "\n\n", "ba", "Ba", "x"};
	static const char *const needles[][4] = {{"ab", NULL},
						 {"ba", "xa", NULL},
						 {"A", NULL},
						 {"bab", "b a", NULL},
						 {"", NULL},
						 {"x", "", NULL},
						 {"aba", "ABB", "xb", NULL},
						 {"abx", "a x", NULL},
						 {"bax", "xab", "b x", NULL},
						 {"ab ba", NULL}};

	test_begin("line and substring searches agree with naive ones");
	assert_random_searches_agree(bits, G_N_ELEMENTS(bits), needles,
				     G_N_ELEMENTS(needles), 17, 20000, 0, 14);
	test_end();
}

/* The same over texts long enough (64 bytes and up) that the searches
   anchor on a needle's rarest byte ('q', ':', '-', '@' or UTF-8) rather
   than its first: matches at the start, the end, overlapping and
   repeated. */
static void
test_search_random_long(void)
{
	static const char *const bits[] = {
	    "qu", "QU", "e:", "E", "-", "@", " ", "\n", "e", "t", "\xc3\xa9"};
	static const char *const needles[][4] = {{"equ", NULL},
						 {"ee:", "t-", NULL},
						 {"te-@", "q", NULL},
						 {"e\xc3\xa9"
						  "e",
						  NULL},
						 {"uE:", "tt", NULL},
						 {"--", "@ ", NULL},
						 {"e e e", "qUe:", NULL},
						 {"et@", "-e", "u-", NULL}};

	test_begin("searches of long texts agree with naive ones");
	assert_random_searches_agree(bits, G_N_ELEMENTS(bits), needles,
				     G_N_ELEMENTS(needles), 23, 4000, 40, 120);
	test_end();
}

static void
test_recipients(void)
{
	static const char *const end[] = {"--- Below this line", NULL};
	static const char body[] =
	    "Hi. This is the qmail-send program at mx.example.jp.\n"
	    "I'm afraid I wasn't able to deliver your message.\n\n"
	    "<taro@example.jp>:\n"
	    "192.0.2.1 does not like recipient.\n"
	    "Remote host said: 550 5.1.1 <taro@example.jp>... User unknown\n"
	    "Giving up on 192.0.2.1.\n\n"
	    "<hanako@example.jp>:\n"
	    "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
	    "--- Below this line is a copy of the message.\n\n"
	    "From: shop@shop.example\n";
	struct textscan_spec spec = {NULL, false, end, NULL};
	struct bounce_report *r = report_new();
	struct bounce_rcpt *a, *b;

	test_begin("textscan_recipients (qmail shape)");
	test_assert_int(textscan_recipients(body, &spec, r), 2);
	test_assert_int(r->rcpts->len, 2);
	a = g_ptr_array_index(r->rcpts, 0);
	b = g_ptr_array_index(r->rcpts, 1);
	test_assert_str(a->recipient, "taro@example.jp");
	test_assert_str(a->status, "5.1.1");
	test_assert_str(a->replycode, "550");
	test_assert(text_has_ci(a->diagnostic, "user unknown"));
	test_assert_str(b->recipient, "hanako@example.jp");
	test_assert_str(b->status, "5.1.1");
	test_assert_str(b->replycode, "");
	report_free(&r);
	test_assert(r == NULL);
	test_end();
}

static void
test_status_replycode(void)
{
	static const struct {
		const char *text, *status, *code;
	} cases[] = {
	    {"550 5.1.1 <a@b.jp>: User unknown", "5.1.1", "550"},
	    {"smtp; 550-5.7.26 This mail", "5.7.26", "550"},
	    {"host 192.0.2.1 said 452 4.2.2 full", "4.2.2", "452"},
	    {"version 10.5.1.2 build", "", ""},
	    {"4.4.7 expired", "4.4.7", ""},
	    {"error 5501 nothing", "", ""},
	    {"#5.1.1 user", "5.1.1", ""},
	    {"code 600 5.9.9", "5.9.9", ""},
	};
	size_t i;

	test_begin("report_set_status / report_set_replycode");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct bounce_rcpt r = {0};

		report_set_status(&r, cases[i].text);
		report_set_replycode(&r, cases[i].text);
		test_assert_str(r.status, cases[i].status);
		test_assert_str(r.replycode, cases[i].code);
	}
	test_end();
}

static void
test_report_set(void)
{
	char *field = NULL;
	GString *big = g_string_new(NULL);
	int i;

	test_begin("report_set cleans strings");
	report_set(&field, "  a\tb\r\n  c\x01 ");
	test_assert_str(field, "a b c");
	report_set(&field, "bad \xff byte");
	test_assert(g_utf8_validate(field, -1, NULL));
	report_set_default(&field, "ignored");
	test_assert(strncmp(field, "bad", 3) == 0);
	for (i = 0; i < 100000; i++)
		g_string_append(big, "あ");
	report_set(&field, big->str);
	test_assert(strlen(field) <= 4003);
	test_assert(g_utf8_validate(field, -1, NULL));
	/* the cut of printable ASCII runs: at 4000 bytes, the character
	   after a space kept whole */
	g_string_assign(big, "  ");
	for (i = 0; i < 5000; i++)
		g_string_append_c(big, 'a');
	report_set(&field, big->str);
	test_assert(strlen(field) == 4000);
	g_string_truncate(big, 0);
	for (i = 0; i < 3000; i++)
		g_string_append(big, "ab ");
	report_set(&field, big->str);
	test_assert(strlen(field) == 4000);
	test_assert(strncmp(field, "ab ab", 5) == 0);
	g_string_truncate(big, 0);
	for (i = 0; i < 3000; i++)
		g_string_append(big, "a ");
	report_set(&field, big->str);
	test_assert(strlen(field) == 4001);
	report_set(&field, NULL);
	test_assert(field == NULL);
	g_string_free(big, TRUE);
	test_end();
}

static void
test_charset(void)
{
	/* "配信" in ISO-2022-JP, Shift_JIS and EUC-JP */
	static const char jis[] = "\x1b$BG[?.\x1b(B";
	static const char sjis[] = "\x94\x7a\x90\x4d";
	static const char eucjp[] = "\xc7\xdb\xbf\xae";
	char *s;

	test_begin("charset_to_utf8 detection");
	s = charset_to_utf8(jis, strlen(jis), NULL);
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8(jis, strlen(jis), "us-ascii");
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8(sjis, strlen(sjis), "shift_jis");
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8(sjis, strlen(sjis), NULL);
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8(eucjp, strlen(eucjp), NULL);
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8(eucjp, strlen(eucjp), "iso-8859-1");
	test_assert_str(s, "配信");
	g_free(s);
	s = charset_to_utf8("caf\xe9", 4, "iso-8859-1");
	test_assert_str(s, "café");
	g_free(s);
	s = charset_fix_header("Re: \x1b$BG[?.\x1b(B error");
	test_assert_str(s, "Re: 配信 error");
	g_free(s);
	test_end();
}

static void
test_dsn_helpers(void)
{
	char *s;

	test_begin("dsn helpers");
	test_assert_str(dsn_strip_type("rfc822; a@b.jp"), "a@b.jp");
	test_assert_str(dsn_strip_type("smtp;550 x"), "550 x");
	test_assert_str(dsn_strip_type("no type here"), "no type here");
	s = dsn_decode_xtext("\\x{30E6}\\x{30FC}@example.jp");
	test_assert_str(s, "ユー@example.jp");
	g_free(s);
	s = dsn_decode_xtext("a+2Bb@example.jp");
	test_assert_str(s, "a+b@example.jp");
	g_free(s);
	s = dsn_iso_date("Mon, 23 Nov 2026 10:00:00 +0900");
	test_assert_str(s, "2026-11-23T10:00:00+09:00");
	g_free(s);
	test_assert(dsn_iso_date("yesterday") == NULL);
	test_end();
}

static void
test_verp(void)
{
	static const struct {
		const char *addr, *order, *type;
		bool ok;
	} cases[] = {
	    {"bounce+ORD-2026-0001.thanks@shop.jp", "ORD-2026-0001", "thanks",
	     true},
	    {"bounce+12345@shop.jp", "12345", NULL, true},
	    {"bounce+user=example.com@shop.jp", NULL, NULL, false},
	    {"bounce@shop.jp", NULL, NULL, false},
	    {"bounce+A.Bad@shop.jp", NULL, NULL, false},
	};
	size_t i;

	test_begin("original_verp_token");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *order, *type;

		test_assert_int(
		    original_verp_token(cases[i].addr, &order, &type),
		    cases[i].ok);
		test_assert_str(order, cases[i].order);
		test_assert_str(type, cases[i].type);
		g_free(order);
		g_free(type);
	}
	test_end();
}

int
main(void)
{
	g_mime_init();
	test_find_addr();
	test_find_ci();
	test_has_8bit();
	test_search_random();
	test_search_random_long();
	test_recipients();
	test_status_replycode();
	test_report_set();
	test_charset();
	test_dsn_helpers();
	test_dsn_fields();
	test_verp();
	bounce_shutdown();
	g_mime_shutdown();
	return test_exit();
}
