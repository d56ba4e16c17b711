/*
 * test_config.c - bounced.conf validation: every error names file:line,
 * the setting, what is wrong and what is allowed; values and defaults are
 * copied into the struct.  Also loads config/bounced.conf.sample.
 * Reason names are checked by the function passed in (db/rule.h's
 * rule_reason_name(), as bouncectl does).
 */
#include "config.h"

#include <stdlib.h>
#include <glib.h>

#include "config/config.h"
#include "db/rule.h"
#include "tests/test.h"

static const char good[] =
    "database = { conninfo = \"dbname=bounced\"; };\n"
    "defaults = { strike_limit = 3; grace_days = 7; lease_seconds = 300; };\n"
    "shops = (\n"
    "  { id = \"shop1\"; name = \"ショップ\";\n"
    "    notify = [\"owner@shop1.jp\"];\n"
    "    sender_domains = \"shop1.jp, info@other.jp\";\n"
    "    mailboxes = ( { name = \"main\"; protocol = \"imap\";\n"
    "      host = \"imap.shop1.jp\"; user = \"u\"; password_env = \"PW\"; } );\n"
    "  },\n"
    "  { id = \"shop2\"; strike_limit = 5; dry_run = true;\n"
    "    sender_domains = [\"shop2.jp\"];\n"
    "    fatal_reasons = [\"userunknown\"];\n"
    "    mailboxes = ( { name = \"md\"; protocol = \"maildir\";\n"
    "      path = \"/var/mail/b\"; lease_seconds = 45; idle = false; } );\n"
    "  }\n"
    ");\n";

static void
test_good(void)
{
	struct bounced_config *cfg = NULL;
	char *error = NULL;
	const struct bounced_shop *s;

	test_begin("config good");
	test_assert_int(config_load_string(good, "t.conf",
	    rule_reason_name, &cfg, &error), 0);
	test_assert_str(error, NULL);
	if (cfg == NULL) {
		test_end();
		return;
	}
	test_assert_str(cfg->conninfo, "dbname=bounced");
	test_assert_int(cfg->n_shops, 2);
	s = config_find_shop(cfg, "shop1");
	test_assert(s != NULL);
	if (s != NULL) {
		test_assert_str(s->name, "ショップ");
		test_assert_int(s->strike_limit, 3);  /* from defaults */
		test_assert_int(s->grace_days, 7);
		test_assert_int(s->stale_days, 30);   /* built-in default */
		test_assert_str(s->sender_domains, "shop1.jp\ninfo@other.jp");
		test_assert_str(s->notify[0], "owner@shop1.jp");
		test_assert_int(s->n_mailboxes, 1);
		test_assert_int(s->mailboxes[0].port, 993);
		test_assert_str(s->mailboxes[0].folder, "INBOX");
		test_assert_int(s->mailboxes[0].lease_seconds, 300);
		test_assert(s->mailboxes[0].idle); /* built-in default */
		test_assert_int(g_strv_length(s->fatal_reasons), 5);
	}
	s = config_find_shop(cfg, "shop2");
	test_assert(s != NULL);
	if (s != NULL) {
		test_assert_int(s->strike_limit, 5);
		test_assert(s->dry_run);
		test_assert_str(s->fatal_reasons[0], "userunknown");
		test_assert_str(s->fatal_reasons[1], NULL);
		test_assert_str(s->mailboxes[0].path, "/var/mail/b");
		test_assert_int(s->mailboxes[0].lease_seconds, 45);
		test_assert(!s->mailboxes[0].idle);
	}
	config_free(&cfg);
	test_assert(cfg == NULL);
	test_end();
}

static void
test_errors(void)
{
	static const struct {
		const char *text, *want; /* want: the whole message */
	} cases[] = {
		{"shops = ( { id = \"a\"; strike_limit = 0; } );",
		    "t.conf:1: shops.[0].strike_limit: 0 is out of range "
		    "(allowed: 1 to 100)"},
		{"shops = ( { id = \"a\";\n strike_limt = 4; } );",
		    "t.conf:2: shops.[0].strike_limt: unknown setting "
		    "(allowed: id, name, notify, sender_domains, strike_limit, "
		    "grace_days, stale_days, dry_run, fatal_reasons, mailboxes, "
		    "notifier)"},
		{"shops = ( { name = \"a\"; } );",
		    "t.conf:1: shops.[0].id: missing (a string is required)"},
		{"shops = ( { id = \"a b\"; } );",
		    "t.conf:1: shops.[0].id: \"a b\" is not a valid shop id "
		    "(allowed: letters, digits, '_', '.', '-', starting with a "
		    "letter or digit, up to 64)"},
		{"shops = ( { id = \"a\"; }, { id = \"a\"; } );",
		    "t.conf:1: shops.[1]: duplicate shop id \"a\""},
		{"shops = ( { id = \"a\"; dry_run = 1; } );",
		    "t.conf:1: shops.[0].dry_run: must be true or false"},
		{"shops = ( { id = \"a\"; fatal_reasons = [\"nosuch\"]; } );",
		    "t.conf:1: shops.[0].fatal_reasons: unknown reason \"nosuch\" "
		    "(allowed: the reason names of DESIGN.md, e.g. userunknown, "
		    "mailboxfull)"},
		{"shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " protocol = \"smtp\"; } ); } );",
		    "t.conf:2: shops.[0].mailboxes.[0].protocol: \"smtp\" is not "
		    "allowed (allowed: imap | pop3 | maildir)"},
		{"shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " host = \"h\"; user = \"u\"; password_env = \"P\";\n"
		    " tls = \"none\"; } ); } );",
		    "t.conf:1: shops.[0].mailboxes.[0]: tls = \"none\" sends the "
		    "password in clear text: set allow_plaintext = true to allow "
		    "it"},
		{"shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " host = \"h\"; user = \"u\"; } ); } );",
		    "t.conf:1: shops.[0].mailboxes.[0]: give exactly one of "
		    "password_file (a file holding the password) or password_env "
		    "(the name of an environment variable)"},
		{"database = { conninfo = 5; };",
		    "t.conf:1: database.conninfo: must be a string in double "
		    "quotes"},
		{"shops = ( { id = \"a\"; } ;",
		    "t.conf:1: syntax error"},
		{"defaults = {\n lease_seconds = 0; };",
		    "t.conf:2: defaults.lease_seconds: 0 is out of range "
		    "(allowed: 1 to 86400)"},
		{"shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " protocol = \"maildir\"; path = \"/m\";\n"
		    " lease_seconds = \"2m\"; } ); } );",
		    "t.conf:3: shops.[0].mailboxes.[0].lease_seconds: must be an "
		    "integer from 1 to 86400"},
		{"shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " protocol = \"imap\"; host = \"h\"; user = \"u\";\n"
		    " password_env = \"P\"; idle = \"yes\"; } ); } );",
		    "t.conf:3: shops.[0].mailboxes.[0].idle: must be true or "
		    "false"},
		{"defaults = { grace_days = 400; };",
		    "t.conf:1: defaults.grace_days: 400 is out of range (allowed: "
		    "0 to 365)"},
		{"defaults = {\n fatal_reasons = \"userunknown, nosuch\"; };",
		    "t.conf:2: defaults.fatal_reasons: unknown reason \"nosuch\" "
		    "(allowed: the reason names of DESIGN.md, e.g. userunknown, "
		    "mailboxfull)"},
		{"shops = ( { id = \"a\";\n notify = [\"owner\"]; } );",
		    "t.conf:2: shops.[0].notify: \"owner\" is not an e-mail "
		    "address (allowed: plain addresses like owner@shop.example, "
		    "no names or <>)"},
		{"shops = ( { id = \"a\"; notify = \"a@b.jp, Owner "
		    "<o@b.jp>\"; } );",
		    "t.conf:1: shops.[0].notify: \"Owner <o@b.jp>\" is not an "
		    "e-mail address (allowed: plain addresses like "
		    "owner@shop.example, no names or <>)"},
		{"shops = ( { id = \"a\"; notify = [\"o@shop..jp\"]; } );",
		    "t.conf:1: shops.[0].notify: \"o@shop..jp\" is not an e-mail "
		    "address (allowed: plain addresses like owner@shop.example, "
		    "no names or <>)"},
	};
	size_t i;

	test_begin("config errors");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct bounced_config *cfg = NULL;
		char *error = NULL;

		test_assert_int(config_load_string(cases[i].text, "t.conf",
		    rule_reason_name, &cfg, &error), -1);
		test_assert(cfg == NULL);
		test_assert_str(error, cases[i].want);
		g_free(error);
	}
	test_end();
}

/* fatal_reasons are canonicalised (the rule compares names exactly);
   without a checker they are taken as written. */
static void
test_reasons(void)
{
	static const char text[] = "shops = ( { id = \"a\"; fatal_reasons = "
	    "[\"UserUnknown\", \"mesgtoobig\", \"HostUnknown\"];\n"
	    "notify = [\"o@ショップ.jp\", \"x.y+z@a.example\"]; } );";
	struct bounced_config *cfg = NULL;
	char *error = NULL;

	test_begin("config reason names and notify addresses");
	test_assert_int(config_load_string(text, "t.conf", rule_reason_name,
	    &cfg, &error), 0);
	test_assert_str(error, NULL);
	if (cfg != NULL) {
		char *j = g_strjoinv(",", cfg->shops[0].fatal_reasons);

		test_assert_str(j, "userunknown,emailtoolarge,hostunknown");
		test_assert_str(cfg->shops[0].notify[1], "x.y+z@a.example");
		g_free(j);
	}
	config_free(&cfg);
	test_assert_int(config_load_string("shops = ( { id = \"a\"; "
	    "fatal_reasons = [\"whatever\"]; } );", "t.conf", NULL, &cfg,
	    &error), 0);
	test_assert(cfg != NULL &&
	    g_strcmp0(cfg->shops[0].fatal_reasons[0], "whatever") == 0);
	config_free(&cfg);
	test_assert(config_valid_address("a@b"));
	test_assert(!config_valid_address("@b.jp"));
	test_assert(!config_valid_address("a@"));
	test_assert(!config_valid_address("a@b@c"));
	test_assert(!config_valid_address("a@.b"));
	test_assert(!config_valid_address("a@b."));
	test_assert(!config_valid_address("a b@c"));
	test_end();
}

static void
test_files(void)
{
	const char *top = g_getenv("top_srcdir");
	struct bounced_config *cfg = NULL;
	char *path, *error = NULL;

	test_begin("config sample and missing file");
	path = g_build_filename(top != NULL ? top : ".", "config",
	    "bounced.conf.sample", NULL);
	test_assert_int(config_load(path, rule_reason_name, &cfg, &error), 0);
	test_assert_str(error, NULL);
	test_assert(cfg != NULL && cfg->n_shops >= 1);
	config_free(&cfg);
	g_free(path);
	test_assert_int(config_load("/nonexistent/bounced.conf",
	    rule_reason_name, &cfg, &error), -1);
	test_assert_str(error, "/nonexistent/bounced.conf:0: cannot read "
	    "the file");
	g_free(error);
	test_end();
}

/* The notifier settings (issue 5): defaults, inheritance, errors. */
static void
test_notifier(void)
{
	static const char text[] =
	    "notifier = { from = \"notice@platform.example\";\n"
	    "  from_name = \"通知 [bounced]\"; cap_per_hour = 5;\n"
	    "  smtp = { host = \"smtp.example\"; user = \"u\";\n"
	    "           password_env = \"P\"; };\n"
	    "  mail_types = { thanks = \"ご注文確認\"; }; };\n"
	    "shops = ( { id = \"a\"; },\n"
	    "  { id = \"b\"; notifier = { language = \"en\";\n"
	    "    time_zone = \"UTC\"; mode = \"digest\"; digest_interval = 30;\n"
	    "    smtp = { host = \"127.0.0.1\"; port = 2525; tls = \"none\"; };\n"
	    "    mail_types = { news = \"News\"; }; }; } );\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"notifier = { language = \"fr\"; };",
		    "t.conf:1: notifier.language: \"fr\" is not allowed "
		    "(allowed: ja | en)"},
		{"notifier = { time_zone = \"Mars/Olympus\"; };",
		    "t.conf:1: notifier: time_zone: \"Mars/Olympus\" is not a "
		    "known time zone (e.g. \"Asia/Tokyo\", \"UTC\")"},
		{"notifier = { from = \"a@b.jp\"; smtp = { host = \"relay.jp\";"
		    " tls = \"none\"; }; };",
		    "t.conf:1: notifier.smtp: tls = \"none\" to relay.jp sends "
		    "mail in clear text: use a loopback relay or set "
		    "allow_plaintext = true"},
		{"notifier = { smtp = { host = \"relay.jp\"; }; };\n"
		    "shops = ( { id = \"a\"; } );",
		    "t.conf:2: shops.[0]: has an smtp relay (notifier.smtp) but "
		    "no From address: set notifier.from"},
		{"notifier = { envelope_from = \"b@shop.jp\"; };\n"
		    "shops = ( { id = \"a\"; mailboxes = ( { name = \"m\";\n"
		    " host = \"h\"; user = \"B@shop.jp\"; password_env = "
		    "\"P\"; } ); } );",
		    "t.conf:2: shops.[0]: notifier.envelope_from \"b@shop.jp\" "
		    "is the polled mailbox a/m: a notice that bounces would "
		    "come back to it (use \"\", the null sender, or an address "
		    "nobody polls)"},
		{"notifier = { mode = \"weekly\"; };",
		    "t.conf:1: notifier.mode: \"weekly\" is not allowed "
		    "(allowed: per-failure | digest)"},
	};
	struct bounced_config *cfg = NULL;
	const struct bounced_shop *a, *b;
	char *error = NULL;
	size_t i;

	test_begin("config notifier");
	test_assert_int(config_load_string(text, "t.conf", rule_reason_name,
	    &cfg, &error), 0);
	test_assert_str(error, NULL);
	a = config_find_shop(cfg, "a");
	b = config_find_shop(cfg, "b");
	test_assert(a != NULL && b != NULL);
	if (a != NULL && b != NULL) {
		test_assert_str(a->notice.language, "ja");
		test_assert_str(a->notice.time_zone, "Asia/Tokyo");
		test_assert_str(a->notice.envelope_from, "");
		test_assert_int(a->notice.mode, CONFIG_NOTIFY_PER_FAILURE);
		test_assert_int(a->notice.cap_per_hour, 5);
		test_assert_int(a->notice.digest_interval, 60);
		test_assert_str(a->notice.smtp.host, "smtp.example");
		test_assert_int(a->notice.smtp.port, 587);
		test_assert_int(a->notice.smtp.tls, CONFIG_TLS_STARTTLS);
		test_assert_str(a->notice.smtp.password_env, "P");
		test_assert_str(a->notice.mail_types[0], "thanks=ご注文確認");
		test_assert_str(b->notice.language, "en");
		test_assert_str(b->notice.time_zone, "UTC");
		test_assert_int(b->notice.mode, CONFIG_NOTIFY_DIGEST);
		test_assert_int(b->notice.digest_interval, 30);
		test_assert_str(b->notice.from, "notice@platform.example");
		test_assert_str(b->notice.smtp.host, "127.0.0.1");
		test_assert_str(b->notice.smtp.user, NULL); /* replaced whole */
		test_assert_str(b->notice.mail_types[0], "news=News");
		test_assert_str(b->notice.mail_types[1], "thanks=ご注文確認");
	}
	config_free(&cfg);
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		test_assert_int(config_load_string(bad[i].text, "t.conf",
		    rule_reason_name, &cfg, &error), -1);
		test_assert_str(error, bad[i].want);
		g_free(error);
		error = NULL;
	}
	test_end();
}

int
main(void)
{
	test_notifier();
	test_good();
	test_errors();
	test_reasons();
	test_files();
	return test_exit();
}
