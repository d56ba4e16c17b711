/*
 * test_addr.c - address normalisation (IDN, case) and sender-domain
 * attribution (issue 3 §3, §4), and the pure rule classification.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <idn2.h>

#include "db/addr.h"
#include "db/rule.h"
#include "tests/test.h"

static void
test_normalize(void)
{
	static const struct {
		const char *in, *ascii, *utf8; /* ascii NULL: rejected */
	} cases[] = {
		{"a@example.jp", "a@example.jp", "a@example.jp"},
		{"Taro@EXAMPLE.JP", "Taro@example.jp", "Taro@example.jp"},
		{"<taro@Example.Co.Jp>", "taro@example.co.jp",
		    "taro@example.co.jp"},
		{"user@例え.jp", "user@xn--r8jz45g.jp", "user@例え.jp"},
		{"user@XN--R8JZ45G.JP", "user@xn--r8jz45g.jp", "user@例え.jp"},
		{"user@xn--r8jz45g.jp", "user@xn--r8jz45g.jp", "user@例え.jp"},
		{"user@example.jp.", "user@example.jp", "user@example.jp"},
		{"no-at-sign", NULL, NULL},
		{"@example.jp", NULL, NULL},
		{"user@", NULL, NULL},
		{"a b@example.jp", NULL, NULL},
		{"", NULL, NULL},
	};
	size_t i;

	test_begin("addr_normalize");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *ascii = NULL, *utf8 = NULL, *err = NULL;
		int ret = addr_normalize(cases[i].in, &ascii, &utf8, &err);

		test_assert_int(ret, cases[i].ascii != NULL ? 0 : -1);
		test_assert_str(ascii, cases[i].ascii);
		test_assert_str(utf8, cases[i].utf8);
		test_assert((ret < 0) == (err != NULL));
		g_free(ascii);
		g_free(utf8);
		g_free(err);
	}
	test_end();
}

/* What addr_normalize() gives for "u@" + domain when every domain goes
   through libidn2 (the code before its plain-domain shortcut): returns
   false if the domain is invalid. */
static bool
reference_normalize(const char *domain, char **ascii_r, char **utf8_r)
{
	char *d = g_strdup(domain), *out = NULL, *u = NULL;
	size_t len = strlen(d);
	int rc;

	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = '\0';
	rc = idn2_to_ascii_8z(d, &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		idn2_free(out);
		out = NULL;
		rc = idn2_to_ascii_8z(d, &out,
		    IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
	}
	g_free(d);
	if (rc != IDN2_OK) {
		idn2_free(out);
		return false;
	}
	d = g_ascii_strdown(out, -1);
	idn2_free(out);
	*ascii_r = g_strconcat("u@", d, NULL);
	if (idn2_to_unicode_8z8z(d, &u, 0) == IDN2_OK) {
		char *down = g_utf8_strdown(u, -1);

		*utf8_r = g_strconcat("u@", down, NULL);
		g_free(down);
	} else
		*utf8_r = g_strconcat("u@", d, NULL);
	idn2_free(u);
	g_free(d);
	return true;
}

/* Checks that addr_normalize() of addr ("u@" + domain) agrees with
   reference_normalize(); returns whether the domain is valid. */
static bool
assert_agrees_with_idn2(const char *addr)
{
	char *ascii = NULL, *utf8 = NULL, *err = NULL;
	char *want_ascii = NULL, *want_utf8 = NULL;
	bool ok = reference_normalize(addr + 2, &want_ascii, &want_utf8);
	int ret = addr_normalize(addr, &ascii, &utf8, &err);

	test_assert_int(ret, ok ? 0 : -1);
	test_assert_str(ascii, want_ascii);
	test_assert_str(utf8, want_utf8);
	if (ret != (ok ? 0 : -1) || g_strcmp0(ascii, want_ascii) != 0)
		fprintf(stderr, "  domain: %s\n", addr + 2);
	g_free(ascii);
	g_free(utf8);
	g_free(err);
	g_free(want_ascii);
	g_free(want_utf8);
	return ok;
}

/* addr_normalize() agrees with libidn2 on 30,000 random domains, mostly
   plain ASCII (the shortcut) with hyphens, dots, A-labels, long labels
   and a few non-ASCII letters at the edges of what the shortcut takes,
   and on domains around the 253 bytes a domain may have. */
static void
test_normalize_random(void)
{
	static const char *const pieces[] = {
	    "a", "b", "Z", "k", "0", "9", "-", "-", ".", "xn--",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ab--", "A1-b2", ".jp",
	    "é", "例", "_", "--"};
	guint32 seed = 20261206;
	unsigned i, valid = 0;

	test_begin("addr_normalize agrees with libidn2 (random domains)");
	for (i = 0; i < 30000; i++) {
		GString *addr = g_string_new("u@");

		test_append_pieces(addr, pieces, i % 3 == 0 ? 6 : 14,
				   1 + test_pick(&seed, i % 7 == 0 ? 24 : 10),
				   &seed);
		valid += assert_agrees_with_idn2(addr->str);
		g_string_free(addr, TRUE);
	}
	/* both kinds were tried in numbers */
	test_assert(valid > 5000 && valid < 25000);
	/* labels of 63 up to 248..258 bytes in all */
	for (i = 248; i <= 258; i++) {
		GString *addr = g_string_new("u@");

		while (addr->len - 2 < i)
			g_string_append_c(addr, (addr->len - 2) % 64 == 63
						    ? '.' : 'b');
		test_assert(assert_agrees_with_idn2(addr->str) == (i <= 253));
		g_string_free(addr, TRUE);
	}
	test_end();
}

static void
test_domains(void)
{
	static const struct {
		const char *sender, *domains;
		bool match;
	} cases[] = {
		{"a@example.co.jp", "example.co.jp", true},
		{"a@m.example.co.jp", "example.co.jp", true},
		{"a@xexample.co.jp", "example.co.jp", false},
		{"a@example.co.jp.evil.jp", "example.co.jp", false},
		{"a@co.jp", "example.co.jp", false},
		{"a@example.co.jp", "EXAMPLE.CO.JP", true},
		{"info@shop.jp", "info@shop.jp", true},
		{"sales@shop.jp", "info@shop.jp", false},
		{"info@m.shop.jp", "info@shop.jp", false},
		{"a@two.jp", "one.jp,two.jp", true},
		{"a@two.jp", "one.jp\ntwo.jp", true},
		{"a@two.jp", " one.jp ,\n two.jp ", true},
		{"a@two.jp", "", false},
		{"a@xn--r8jz45g.jp", "例え.jp", true},
		{"a@m.xn--r8jz45g.jp", "例え.jp", true},
		{"a@xn--r8jz45g.jp", "xn--r8jz45g.jp", true},
	};
	size_t i;

	test_begin("addr_match_domains");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		bool got = addr_match_domains(cases[i].sender,
		    cases[i].domains, NULL);

		if (got != cases[i].match)
			fprintf(stderr, "case %zu: %s vs \"%s\"\n", i,
			    cases[i].sender, cases[i].domains);
		test_assert_int(got, cases[i].match);
	}
	test_end();

	test_begin("addr_match_domains specificity");
	{
		int a, b;

		addr_match_domains("info@m.shop.jp", "shop.jp", &a);
		addr_match_domains("info@m.shop.jp", "m.shop.jp", &b);
		test_assert(b > a);
		addr_match_domains("info@shop.jp", "info@shop.jp", &a);
		addr_match_domains("info@shop.jp", "shop.jp", &b);
		test_assert(a > b);
	}
	test_end();
}

static void
test_from_header(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"Shop <info@shop.jp>", "info@shop.jp"},
		{"info@shop.jp", "info@shop.jp"},
		{"info@shop.jp (Shop)", "info@shop.jp"},
		{"=?ISO-2022-JP?B?GyRC?= <a@b.jp>", "a@b.jp"},
		{"Shop", NULL},
		{NULL, NULL},
	};
	size_t i;

	test_begin("addr_from_header");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = addr_from_header(cases[i].in);

		test_assert_str(got, cases[i].want);
		g_free(got);
	}
	test_end();
}

static void
test_classify(void)
{
	char **fatal = g_strsplit(RULE_DEFAULT_FATAL, ",", -1);
	struct rule_settings s = {4, 5, 30, false, fatal};
	static const struct {
		const char *kind, *action, *reason;
		bool hard;
		const char *side;
		enum rule_event want;
		bool fatal;
	} cases[] = {
		{"dsn", "failed", "userunknown", true, "recipient",
		    RULE_FAILURE, true},
		{"dsn", "failed", "mailboxfull", false, "recipient",
		    RULE_FAILURE, false},
		{"dsn", "failed", "notaccept", false, "recipient",
		    RULE_FAILURE, false},
		{"dsn", "failed", "notaccept", true, "recipient",
		    RULE_FAILURE, true},
		{"dsn", "delayed", "mailboxfull", false, "recipient",
		    RULE_IGNORE, false},
		{"dsn", "delayed", "userunknown", true, "recipient",
		    RULE_IGNORE, false},
		{"dsn", "failed", "authfailure", false, "sender",
		    RULE_SENDER, false},
		{"dsn", "failed", "ratelimited", false, "sender",
		    RULE_SENDER, false},
		{"dsn", "delivered", "delivered", false, "none",
		    RULE_SUCCESS, false},
		{"autoreply", NULL, "vacation", false, "none",
		    RULE_SUCCESS, false},
		{"feedback", NULL, "feedback", false, "recipient",
		    RULE_FAILURE, true},
		{"bounce", "failed", "undefined", false, "none",
		    RULE_FAILURE, false},
	};
	size_t i;

	test_begin("rule_classify");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct rule_input in = {cases[i].kind, cases[i].action,
		    cases[i].reason, cases[i].hard, cases[i].side, true, true};
		const char *why;
		bool f;

		test_assert_int(rule_classify(&s, &in, &f, &why),
		    cases[i].want);
		test_assert_int(f, cases[i].fatal);
	}
	g_strfreev(fatal);
	test_end();
}

int
main(void)
{
	test_normalize();
	test_normalize_random();
	test_domains();
	test_from_header();
	test_classify();
	return test_exit();
}
