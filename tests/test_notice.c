/*
 * test_notice.c - bounced/notice.c: build notices, parse them back with
 * GMime and check every header and the decoded body, Japanese included;
 * display names and subjects with [ ] " ; . survive the round trip.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "bounced/notice.h"
#include "tests/test.h"

#define T_EVENT 1763892303 /* 2025-11-23 10:05:03 UTC = 19:05:03 JST */
#define T_NOW   1763895600 /* 2025-11-23 11:00:00 UTC */

static struct config_notify
cfg_ja(void)
{
	static char *types[] = {NULL};
	struct config_notify n = {0};

	n.from = (char *)"notice@platform.example";
	n.from_name = (char *)"配信エラー通知 [bounced]; \"system\".";
	n.envelope_from = (char *)"";
	n.language = (char *)"ja";
	n.time_zone = (char *)"Asia/Tokyo";
	n.alert_period = 1440;
	n.mail_types = types;
	return n;
}

/* Parses data; the caller unrefs. */
static GMimeMessage *
parse(const char *data)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, strlen(data));
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* The decoded text of the message's body; g_free. */
static char *
body_of(GMimeMessage *m)
{
	GMimeObject *part = g_mime_message_get_mime_part(m);

	if (!GMIME_IS_TEXT_PART(part))
		return g_strdup("");
	return g_mime_text_part_get_text((GMimeTextPart *)part);
}

static bool
has(const char *hay, const char *needle)
{
	bool ok = hay != NULL && strstr(hay, needle) != NULL;

	if (!ok)
		fprintf(stderr, "  missing: %s\n", needle);
	return ok;
}

/* Every header line is 7-bit (RFC 2047 did its job). */
static bool
headers_ascii(const char *data)
{
	const char *end = strstr(data, "\n\n");
	const char *p;

	for (p = data; end != NULL && p < end; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	return end != NULL;
}

static const char *
mailbox_name(InternetAddressList *l, int i)
{
	InternetAddress *a = internet_address_list_get_address(l, i);

	return a != NULL ? internet_address_get_name(a) : NULL;
}

static const char *
mailbox_addr(InternetAddressList *l, int i)
{
	InternetAddress *a = internet_address_list_get_address(l, i);

	return a != NULL && INTERNET_ADDRESS_IS_MAILBOX(a)
		   ? internet_address_mailbox_get_addr(
			 (InternetAddressMailbox *)a)
		   : NULL;
}

static void
test_failure_ja(void)
{
	struct config_notify cfg = cfg_ja();
	const char *to[] = {"owner@shop.example", "staff@shop.example", NULL};
	struct notice_shop shop = {"shop1", "[テスト]ショップ; \"A.B\".", to,
				   &cfg};
	struct notice_item it = {0};
	struct notice_mail mail;
	GMimeMessage *m;
	GMimeObject *part;
	GDateTime *date;
	char *error = NULL, *body, *dates;

	test_begin("failure notice, Japanese, parsed back");
	it.recipient = "taro@docomo.ne.jp";
	it.mail_type = "thanks";
	it.order_number = "ORD-2026-000119";
	it.occurred_at = T_EVENT;
	it.reason = "filtered";
	it.status = "5.7.1";
	it.diagnostic = "550 5.7.1 <taro@docomo.ne.jp>: rejected\x1b[31m";
	it.orig_subject =
	    "ご注文ありがとうございます [ORD-2026-000119]; \"確認\".";
	it.orig_from = "Shop <info@shop.example>";
	it.decision = "counted: strike 2 of 4";
	test_assert(notice_build_failure(&shop, &it, T_NOW, &mail, &error) ==
		    0);
	test_assert(mail.warning == NULL);
	test_assert(headers_ascii(mail.data));
	test_assert(
	    g_str_has_prefix(mail.message_id, NOTICE_MSGID_PREFIX "shop1."));
	test_assert(g_str_has_suffix(mail.message_id, "@platform.example"));
	m = parse(mail.data);
	test_assert(m != NULL);
	test_assert_str(
	    g_mime_message_get_subject(m),
	    "【メールエラー通知】サンクスメールをお届けできませんでした"
	    "（注文番号 ORD-2026-000119）");
	test_assert_str(mailbox_name(g_mime_message_get_from(m), 0),
			"配信エラー通知 [bounced]; \"system\".");
	test_assert_str(mailbox_addr(g_mime_message_get_from(m), 0),
			"notice@platform.example");
	test_assert_str(mailbox_name(g_mime_message_get_to(m), 0),
			"[テスト]ショップ; \"A.B\". 様");
	test_assert_str(mailbox_addr(g_mime_message_get_to(m), 1),
			"staff@shop.example");
	test_assert_str(g_mime_message_get_message_id(m), mail.message_id);
	test_assert_str(
	    g_mime_object_get_header((GMimeObject *)m, "Auto-Submitted"),
	    "auto-generated");
	test_assert_str(
	    g_mime_object_get_header((GMimeObject *)m, NOTICE_MARKER),
	    "failure; shop=shop1");
	date = g_mime_message_get_date(m);
	test_assert(date != NULL && g_date_time_to_unix(date) == T_NOW);
	dates = date != NULL ? g_date_time_format(date, "%H:%M %z") : NULL;
	test_assert_str(dates, "20:00 +0900");
	g_free(dates);
	part = g_mime_message_get_mime_part(m);
	test_assert(GMIME_IS_TEXT_PART(part));
	test_assert_str(
	    g_mime_object_get_content_type_parameter(part, "charset"), "utf-8");
	test_assert(g_mime_part_get_content_encoding((GMimePart *)part) ==
		    GMIME_CONTENT_ENCODING_BASE64);
	body = body_of(m);
	test_assert(has(body, "[テスト]ショップ; \"A.B\". 様\n"));
	test_assert(has(body, "システム"));
	test_assert(has(body, "メールアドレス: taro@docomo.ne.jp\n"));
	test_assert(has(body, "メールの種類: サンクスメール\n"));
	test_assert(has(body, "注文番号: ORD-2026-000119\n"));
	test_assert(has(
	    body, "エラーが発生した時間: 2025年11月23日 19:05:03（JST）\n"));
	test_assert(has(body, "迷惑メールフィルター"));
	test_assert(has(body, "docomo の「受信リスト設定（指定受信）」で "
			      "shop.example を受信できるよう"));
	test_assert(has(body, "連続 2 回目です（連続 4 回で配信停止"));
	test_assert(has(
	    body, "ご注文ありがとうございます [ORD-2026-000119]; \"確認\"."));
	test_assert(has(body, "550 5.7.1 <taro@docomo.ne.jp>: rejected [31m"));
	test_assert(body != NULL && strchr(body, '\x1b') == NULL);
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	test_end();
}

static void
test_failure_en(void)
{
	char *types[] = {(char *)"thanks=Order confirmation", NULL};
	struct config_notify cfg = cfg_ja();
	const char *to[] = {"owner@shop.example", NULL};
	struct notice_shop shop = {"shop-en", "Shop [EN]; \"Best\".", to, &cfg};
	struct notice_item it = {0};
	struct notice_mail mail;
	GMimeMessage *m;
	char *error = NULL, *body;

	test_begin("failure notice, English, UTC, mail type override");
	cfg.language = (char *)"en";
	cfg.time_zone = (char *)"UTC";
	cfg.mail_types = types;
	it.recipient = "nobody@gmial.com";
	it.mail_type = "thanks";
	it.occurred_at = T_EVENT;
	it.reason = "hostunknown";
	it.decision = "counted: fatal failure (strike 1 of 4)";
	it.suppressed = true;
	test_assert(notice_build_failure(&shop, &it, T_NOW, &mail, &error) ==
		    0);
	m = parse(mail.data);
	test_assert_str(g_mime_message_get_subject(m),
			"[Mail error] Your Order confirmation could not be "
			"delivered (order (unknown))");
	test_assert_str(mailbox_name(g_mime_message_get_to(m), 0),
			"Shop [EN]; \"Best\".");
	body = body_of(m);
	test_assert(has(body, "Dear Shop [EN]; \"Best\".,\n"));
	test_assert(has(body, "Address: nobody@gmial.com\n"));
	test_assert(has(body, "Mail type: Order confirmation\n"));
	test_assert(has(
	    body, "Time of the error: 2025-11-23 10:05:03 UTC (UTC+00:00)\n"));
	test_assert(has(body, "The domain of the address"));
	test_assert(has(body, "Check the part after the @ for typos"));
	test_assert(has(body, "The address is now suppressed"));
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	test_end();
}

static void
test_digest(void)
{
	struct config_notify cfg = cfg_ja();
	const char *to[] = {"owner@shop.example", NULL};
	struct notice_shop shop = {"shop1", "ショップ", to, &cfg};
	struct notice_item items[3] = {{0}};
	struct notice_mail mail;
	GMimeMessage *m;
	char *error = NULL, *body;
	int i;

	test_begin("digest of three failures");
	for (i = 0; i < 3; i++) {
		items[i].occurred_at = T_EVENT + i * 60;
		items[i].reason = i == 0 ? "mailboxfull" : "userunknown";
		items[i].mail_type = i == 1 ? "shipping" : "news";
	}
	items[0].recipient = "a@example.jp";
	items[1].recipient = "b@example.jp";
	items[2].recipient = "c@example.jp";
	items[1].order_number = "ORD-2";
	items[0].decision = "counted: strike 3 of 4";
	test_assert(notice_build_digest(&shop, items, 3, "上限のため", T_NOW,
					&mail, &error) == 0);
	m = parse(mail.data);
	test_assert_str(
	    g_mime_message_get_subject(m),
	    "【メールエラー通知】お届けできなかったメール 3 件のお知らせ");
	test_assert_str(
	    g_mime_object_get_header((GMimeObject *)m, NOTICE_MARKER),
	    "digest; shop=shop1");
	body = body_of(m);
	test_assert(has(body, "以下の 3 件のメール"));
	test_assert(has(body, "上限のため"));
	test_assert(has(body, "1. メールアドレス: a@example.jp\n"));
	test_assert(has(body, "2. メールアドレス: b@example.jp\nメールの種類: "
			      "発送完了メール\n注文番号: ORD-2\n"));
	test_assert(has(body, "3. メールアドレス: c@example.jp\nメールの種類: "
			      "お知らせメール\n注文番号: （不明）\n"));
	test_assert(has(body, "メールボックスが満杯"));
	test_assert(has(body, "電話など別の方法"));
	test_assert(
	    has(body, "エラーが発生した時間: 2025年11月23日 19:06:03（JST）"));
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	test_end();
}

static void
test_alert(void)
{
	struct config_notify cfg = cfg_ja();
	const char *to[] = {"owner@shop.example", NULL};
	const char *ex[] = {"a@gmail.com", "b@gmail.com", NULL};
	struct notice_shop shop = {"shop1", "ショップ", to, &cfg};
	struct notice_alert a = {0};
	struct notice_mail mail;
	GMimeMessage *m;
	char *error = NULL, *body;

	test_begin("sender-side alert");
	a.provider = "google.com";
	a.reason = "authfailure";
	a.status = "5.7.26";
	a.diagnostic = "550-5.7.26 Unauthenticated email from gmail.com";
	a.orig_from = "店 <myshop@gmail.com>";
	a.customers = 2;
	a.count = 3;
	a.first_at = T_EVENT;
	a.last_at = T_EVENT + 120;
	a.examples = ex;
	test_assert(notice_build_alert(&shop, &a, T_NOW, &mail, &error) == 0);
	m = parse(mail.data);
	test_assert_str(
	    g_mime_message_get_subject(m),
	    "【重要】Gmail (Google) がショップのメールを受け取っていません"
	    "（authfailure、2 名に影響）");
	test_assert_str(
	    g_mime_object_get_header((GMimeObject *)m, NOTICE_MARKER),
	    "alert; shop=shop1");
	body = body_of(m);
	test_assert(has(body, "影響を受けたお客様: 2 名（3 通）"));
	test_assert(has(body, "a@gmail.com, b@gmail.com"));
	test_assert(has(body, "SPF・DKIM・DMARC"));
	test_assert(has(body, "フリーメール（gmail.com）"));
	test_assert(has(body, "include:"));
	test_assert(has(body, "_dmarc.gmail.com. TXT \"v=DMARC1; p=none;"));
	test_assert(has(body, "DKIM"));
	test_assert(has(body, "1 日 に 1 回まで"));
	test_assert(has(body, "最後のエラー: 2025年11月23日 19:07:03（JST）"));
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	test_end();
}

static void
test_render(void)
{
	const char *vars[] = {"a", "x\r\ny\x01", "b", NULL, "long", "ü", NULL};
	char *s;

	test_begin("render: placeholders, unknown kept, values cleaned");
	s = notice_render("{{a}}|{{b}}|{{c}}|{{long}}|{{a", vars);
	test_assert_str(s, "x \ny ||{{c}}|ü|{{a");
	g_free(s);
	s = notice_render("no placeholders", vars);
	test_assert_str(s, "no placeholders");
	g_free(s);
	test_end();
}

static void
test_helpers(void)
{
	struct config_notify cfg = cfg_ja();
	char *p, *t;

	test_begin("mail types, providers, time");
	test_assert_str(notice_mail_type_name(&cfg, "ja", "password"),
			"パスワード再設定メール");
	test_assert_str(notice_mail_type_name(&cfg, "ja", "register"),
			"会員登録メール");
	test_assert_str(notice_mail_type_name(&cfg, "ja", "custom"), "custom");
	test_assert_str(notice_mail_type_name(&cfg, "ja", NULL), "メール");
	p = notice_provider("dns; gmail-smtp-in.l.google.com", "x@y.jp");
	test_assert_str(p, "google.com");
	g_free(p);
	p = notice_provider("mx01.mail.example.co.jp [192.0.2.1]", NULL);
	test_assert_str(p, "example.co.jp");
	g_free(p);
	p = notice_provider("192.0.2.1", "k@docomo.ne.jp");
	test_assert_str(p, "docomo.ne.jp");
	g_free(p);
	p = notice_provider(NULL, NULL);
	test_assert_str(p, "unknown");
	g_free(p);
	test_assert_str(notice_provider_name("google.com"), "Gmail (Google)");
	test_assert_str(notice_provider_name("example.jp"), "example.jp");
	t = notice_format_time(T_EVENT, "America/New_York", "en");
	test_assert_str(t, "2025-11-23 05:05:03 EST (UTC-05:00)");
	g_free(t);
	test_end();
}

static void
test_templates(void)
{
	struct config_notify cfg = cfg_ja();
	const char *to[] = {"owner@shop.example", NULL};
	struct notice_shop shop = {"shop1", "ショップ", to, &cfg};
	struct notice_item it = {0};
	struct notice_mail mail;
	GMimeMessage *m;
	char *dir = g_dir_make_tmp("test_notice.XXXXXX", NULL), *p, *body;
	char *error = NULL;

	test_begin("template override files");
	cfg.template_dir = dir;
	p = g_build_filename(dir, "shop1", "ja", NULL);
	g_mkdir_with_parents(p, 0755);
	g_free(p);
	p = g_build_filename(dir, "shop1", "ja", "failure.txt", NULL);
	g_file_set_contents(
	    p,
	    "Subject: 独自 {{address}} {{unknown}}\n\n"
	    "{{shop_name}} 様: {{mail_type}} {{order_number}}\n",
	    -1, NULL);
	it.recipient = "a@example.jp";
	it.mail_type = "thanks";
	it.order_number = "O-1";
	it.reason = "userunknown";
	test_assert(notice_build_failure(&shop, &it, T_NOW, &mail, &error) ==
		    0);
	test_assert(mail.warning == NULL);
	m = parse(mail.data);
	test_assert_str(g_mime_message_get_subject(m),
			"独自 a@example.jp {{unknown}}");
	body = body_of(m);
	test_assert_str(body, "ショップ 様: サンクスメール O-1\n");
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	/* not UTF-8: the built-in template, and a warning */
	g_file_set_contents(p, "Subject: \xff\xfe\n\nbad\n", -1, NULL);
	test_assert(notice_build_failure(&shop, &it, T_NOW, &mail, &error) ==
		    0);
	test_assert(mail.warning != NULL && strstr(mail.warning, "UTF-8"));
	test_assert(has(mail.data, "X-Bounced-Notice: failure; shop=shop1"));
	m = parse(mail.data);
	body = body_of(m);
	test_assert(has(body, "メールアドレス: a@example.jp"));
	g_free(body);
	g_object_unref(m);
	notice_mail_clear(&mail);
	g_unlink(p);
	g_free(p);
	p = g_build_filename(dir, "shop1", "ja", NULL);
	g_rmdir(p);
	g_free(p);
	p = g_build_filename(dir, "shop1", NULL);
	g_rmdir(p);
	g_free(p);
	g_rmdir(dir);
	g_free(dir);
	/* no notify address: an error, not a mail */
	shop.to = (const char *[]){NULL};
	cfg.template_dir = NULL;
	test_assert(notice_build_failure(&shop, &it, T_NOW, &mail, &error) < 0);
	test_assert(error != NULL);
	g_free(error);
	test_end();
}

int
main(void)
{
	g_mime_init();
	test_failure_ja();
	test_failure_en();
	test_digest();
	test_alert();
	test_render();
	test_helpers();
	test_templates();
	g_mime_shutdown();
	return test_exit();
}
