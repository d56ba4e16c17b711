/*
 * test_addr.c - address normalisation (IDN, case) and sender-domain
 * attribution (issue 3 §3, §4), and the pure rule classification.
 */
#include "config.h"

#include <glib.h>

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
	test_domains();
	test_from_header();
	test_classify();
	return test_exit();
}
