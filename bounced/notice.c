/*
 * notice.c - builds メールエラー通知 mails; see notice.h.
 *
 * The words (reasons, what to do, what to fix) are tables here, in
 * Japanese and English; the layout is the templates'.  Values are
 * inserted as plain text: a template is never executed, and control
 * characters other than newline and tab are removed from every value so
 * a hostile diagnostic cannot forge headers or terminal escapes.
 */
#include "config.h"

#include <string.h>
#include <gmime/gmime.h>

#include "bounced/notice.h"

#define NOTICE_TEMPLATE_MAX (64 * 1024)
#define NOTICE_VALUE_MAX    2000 /* characters of one inserted value */

/* ------------------------------------------------------------------ words */

struct notice_words {
	const char *reason; /* NULL: the default row */
	const char *ja, *en;
	const char *ja_do, *en_do;
};

static const struct notice_words notice_reasons[] = {
    {"userunknown",
     "このメールアドレスは受信側のサーバーに存在しません（宛先不明）。",
     "The address does not exist at the receiving server (unknown user).",
     "お客様にメールアドレスが正しいか確認し、正しいアドレスが分かったら会員情"
     "報を修正してください。",
     "Ask the customer for the correct address and fix it in their account."},
    {"hostunknown",
     "メールアドレスの @ "
     "より後ろ（ドメイン）が存在しないか、メールを受け取る設定がありません。",
     "The domain of the address (after the @) does not exist or receives no "
     "mail.",
     "アドレスの @ より後ろに入力間違いがないか確認してください（例: "
     "gmail.co.jp → gmail.com）。お客様に正しいアドレスを確認してください。",
     "Check the part after the @ for typos (e.g. gmial.com -> gmail.com) and "
     "ask the customer for the correct address."},
    {"notaccept", "このドメインはメールを受け付けていません。",
     "This domain does not accept mail.",
     "アドレスの @ "
     "より後ろに入力間違いがないか確認し、お客様に正しいアドレスを確認してくだ"
     "さい。",
     "Check the domain for typos and ask the customer for the correct "
     "address."},
    {"hasmoved",
     "このメールアドレスは使われなくなり、別のアドレスに移転しました。",
     "The address has moved to another address.",
     "お客様に新しいメールアドレスを確認してください。",
     "Ask the customer for their new address."},
    {"mailboxfull",
     "お客様のメールボックスが満杯のため、受け取れませんでした。",
     "The customer's mailbox is full.",
     "お客様に、メールボックスの不要なメールを削除して空きを作っていただくよう"
     "、電話など別の方法でお伝えください。空きができれば届くようになります。",
     "Tell the customer by another way (e.g. phone) to make room in their "
     "mailbox; mail will arrive again then."},
    {"filtered",
     "受信側の設定（受信拒否・迷惑メールフィルター）によってメールが拒否されま"
     "した。",
     "The receiving side refused the mail because of its filter settings.",
     "お客様に、ショップのドメイン（{domain}"
     "）からのメールを受け取れるよう、受信設定の見直しをお願いしてください。",
     "Ask the customer to allow mail from your shop's domain ({domain}) in "
     "their filter settings."},
    {"rejected", "受信側のサーバーがこのメールの受け取りを拒否しました。",
     "The receiving server refused the mail.",
     "お客様に、ショップのドメイン（{domain}"
     "）からのメールを受け取れるよう設定をお願いしてください。",
     "Ask the customer to allow mail from your shop's domain ({domain})."},
    {"blocked", "受信側のサーバーがこのメールの受け取りを拒否しました。",
     "The receiving server blocked the mail.",
     "お客様に、ショップのドメイン（{domain}"
     "）からのメールを受け取れるよう設定をお願いしてください。",
     "Ask the customer to allow mail from your shop's domain ({domain})."},
    {"suspend", "このメールアドレスは現在利用停止中です。",
     "The address is suspended at the moment.",
     "お客様に、このアドレスが使えるか、別のアドレスがないか確認してください。",
     "Ask the customer whether the address still works or for another one."},
    {"expired", "受信側のサーバーに長い間つながらず、配送をあきらめました。",
     "The receiving server could not be reached for a long time; delivery was "
     "given up.",
     "一時的な障害のことがあります。続く場合はお客様にアドレスを確認してくださ"
     "い。",
     "This can be temporary; if it repeats, ask the customer to check the "
     "address."},
    {"feedback", "お客様がこのメールを迷惑メールとして報告しました。",
     "The customer reported this mail as spam.",
     "このお客様にはメールマガジンなどを送らないでください。",
     "Do not send newsletters to this customer any more."},
    {"emailtoolarge", "メールが大きすぎるため受け取れませんでした。",
     "The mail was too large for the receiving server.",
     "添付ファイルや画像を小さくして送り直してください。",
     "Make attachments or images smaller and send again."},
    {"mesgtoobig", "メールが大きすぎるため受け取れませんでした。",
     "The mail was too large for the receiving server.",
     "添付ファイルや画像を小さくして送り直してください。",
     "Make attachments or images smaller and send again."},
    {"authfailure",
     "ショップのメールが送信元の認証（SPF・DKIM・DMARC）に失敗したため、受信側"
     "が拒否しました。",
     "Your shop's mail failed sender authentication (SPF, DKIM, DMARC) and was "
     "refused.",
     NULL, NULL},
    {"badreputation",
     "送信元（ショップのドメインや送信サーバー）の評価が低いため、受信側が拒否"
     "しました。",
     "The receiving side refused the mail because of the sender's reputation.",
     NULL, NULL},
    {"ratelimited",
     "短い時間に送ったメールが多すぎるため、受信側が受け取りを制限しました。",
     "Too much mail was sent in a short time; the receiving side limited it.",
     NULL, NULL},
    {"requireptr",
     "送信サーバーの IP "
     "アドレスに逆引き（PTR）が設定されていないため拒否されました。",
     "The sending server's IP address has no reverse DNS (PTR) record.", NULL,
     NULL},
    {"spamdetected", "受信側がこのメールを迷惑メールと判定しました。",
     "The receiving side classified the mail as spam.", NULL, NULL},
    {"contenterror", "メールの内容や形式が受信側の基準に合いませんでした。",
     "The content or format of the mail was not accepted.", NULL, NULL},
    {"notcompliantrfc",
     "メールの形式がインターネットの標準（RFC）に合っていません。",
     "The mail does not follow the Internet mail standards (RFC).", NULL, NULL},
    {"policyviolation", "受信側のポリシーに反するため拒否されました。",
     "The mail violated the receiving side's policy.", NULL, NULL},
    {"securityerror",
     "暗号化や認証など、安全のための条件を満たしていませんでした。",
     "A security requirement (encryption, authentication) was not met.", NULL,
     NULL},
    {"failedstarttls", "暗号化（STARTTLS）した通信ができませんでした。",
     "An encrypted (STARTTLS) connection could not be made.", NULL, NULL},
    {"norelaying",
     "送信に使ったサーバーが、このメールの中継を許可していません。",
     "The server used for sending does not relay this mail.", NULL, NULL},
    {"virusdetected", "メールにウイルスが見つかったとして拒否されました。",
     "The mail was refused as containing a virus.", NULL, NULL},
    {NULL, "受信側の一時的な問題などで、メールをお届けできませんでした。",
     "The mail could not be delivered (a problem at the receiving side).",
     "しばらくすると届くことがあります。続く場合は、お客様にアドレスを確認して"
     "ください。",
     "It may work again later; if it repeats, ask the customer to check the "
     "address."},
};

static const char notice_sender_ja[] =
    "お客様のアドレスの問題ではありません。ショップのメール送信設定を見直してく"
    "ださい"
    "（設定の直し方は、別にお送りする「重要」のお知らせをご覧ください）。";
static const char notice_sender_en[] =
    "This is not a problem of the customer's address: fix your shop's "
    "sending setup (see the separate \"Important\" notice on what to "
    "change).";

static const struct notice_words *
notice_words_of(const char *reason)
{
	size_t i;

	for (i = 0; notice_reasons[i].reason != NULL; i++)
		if (reason != NULL &&
		    g_ascii_strcasecmp(reason, notice_reasons[i].reason) == 0)
			return &notice_reasons[i];
	return &notice_reasons[i];
}

static bool
notice_ja(const char *lang)
{
	return lang == NULL || strcmp(lang, "en") != 0;
}

/* The Japanese carrier of an address ("docomo"), or NULL. */
static const char *
notice_carrier(const char *addr)
{
	static const struct {
		const char *domain, *name;
	} carriers[] = {
	    {"docomo.ne.jp", "docomo"},
	    {"ezweb.ne.jp", "au"},
	    {"au.com", "au"},
	    {"softbank.ne.jp", "SoftBank"},
	    {"i.softbank.jp", "SoftBank"},
	    {"vodafone.ne.jp", "SoftBank"},
	    {"disney.ne.jp", "SoftBank"},
	    {"ymobile.ne.jp", "Y!mobile"},
	    {"yahoo.ne.jp", "Y!mobile"},
	    {"rakumail.jp", "Rakuten Mobile"},
	};
	const char *d = addr != NULL ? strrchr(addr, '@') : NULL;
	size_t i, n, dl;

	if (d == NULL)
		return NULL;
	d++;
	dl = strlen(d);
	for (i = 0; i < G_N_ELEMENTS(carriers); i++) {
		n = strlen(carriers[i].domain);
		if (dl >= n &&
		    g_ascii_strcasecmp(d + dl - n, carriers[i].domain) == 0 &&
		    (dl == n || d[dl - n - 1] == '.'))
			return carriers[i].name;
	}
	return NULL;
}

static const char *
notice_domain(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
	const char *gt;

	if (at == NULL || at[1] == '\0')
		return NULL;
	gt = strchr(at, '>');
	return gt == NULL ? at + 1 : NULL; /* callers pass bare addresses */
}

/* The shop's sending domain from the original's From ("Shop <a@b>"). */
static char *
notice_from_domain(const char *from)
{
	const char *lt, *at;
	char *d;

	if (from == NULL)
		return NULL;
	lt = strrchr(from, '<');
	at = strrchr(lt != NULL ? lt : from, '@');
	if (at == NULL)
		return NULL;
	d = g_strdup(at + 1);
	d[strcspn(d, "> \t")] = '\0';
	if (*d == '\0') {
		g_free(d);
		return NULL;
	}
	{
		char *low = g_ascii_strdown(d, -1);

		g_free(d);
		return low;
	}
}

/* What to do about a recipient-side failure.  g_free. */
static char *
notice_action(const struct notice_item *it, const char *lang)
{
	const struct notice_words *w = notice_words_of(it->reason);
	const char *carrier = notice_carrier(it->recipient);
	char *domain = notice_from_domain(it->orig_from);
	const char *dom = domain != NULL    ? domain
			  : notice_ja(lang) ? "ショップのドメイン"
					    : "your domain";
	char *s, **parts;
	bool filtering = g_strcmp0(w->reason, "filtered") == 0 ||
			 g_strcmp0(w->reason, "rejected") == 0 ||
			 g_strcmp0(w->reason, "blocked") == 0 ||
			 g_strcmp0(w->reason, "userunknown") == 0;

	if (it->sender_side || w->ja_do == NULL) {
		g_free(domain);
		return g_strdup(notice_ja(lang) ? notice_sender_ja
						: notice_sender_en);
	}
	if (carrier != NULL && filtering)
		s = notice_ja(lang)
			? g_strdup_printf("%s%s "
					  "の携帯電話では、迷惑メール設定で受信"
					  "を拒否していると"
					  "このエラーになることがあります。お客"
					  "様に、%s の「受信リスト設定"
					  "（指定受信）」で %s "
					  "を受信できるよう登録していただくよう"
					  "お願いしてください。",
					  g_strcmp0(w->reason, "userunknown") ==
						  0
					      ? "アドレスの間違いのほか、"
					      : "",
					  carrier, carrier, dom)
			: g_strdup_printf(
			      "%s%s phones report this when the customer's "
			      "spam "
			      "settings refuse the mail: ask the customer to "
			      "allow %s in %s's receiving settings (指定受信).",
			      g_strcmp0(w->reason, "userunknown") == 0
				  ? "Besides a wrong address: "
				  : "",
			      carrier, dom, carrier);
	else {
		parts = g_strsplit(notice_ja(lang) ? w->ja_do : w->en_do,
				   "{domain}", -1);
		s = g_strjoinv(dom, parts);
		g_strfreev(parts);
	}
	g_free(domain);
	return s;
}

/* Parses "strike N of M" out of the rule's decision. */
static bool
notice_strikes(const char *decision, int *n, int *m)
{
	const char *p = decision != NULL ? strstr(decision, "strike ") : NULL;

	return p != NULL && sscanf(p, "strike %d of %d", n, m) == 2;
}

/* The state of the address after this failure.  g_free. */
static char *
notice_state(const struct notice_item *it, const char *lang)
{
	bool ja = notice_ja(lang);
	int n, m;

	if (it->sender_side)
		return g_strdup(
		    ja ? "お客様のアドレスの問題ではないため、配信停止の回数に"
			 "は数えていません。"
		       : "Not counted against the customer's address: the "
			 "cause is on your side.");
	if (it->suppressed)
		return g_strdup(
		    ja ? "このアドレスは配信停止にしました。今後このアドレスに"
			 "はメールを送りません。"
		       : "The address is now suppressed: no more mail will "
			 "be sent to it.");
	if (it->would_suppress)
		return g_strdup(
		    ja ? "試験運用（ドライラン）中のため配信停止にはしていませ"
			 "んが、"
			 "本番なら配信停止になる状態です。"
		       : "Dry run: the address would now be suppressed, but "
			 "nothing was changed.");
	if (notice_strikes(it->decision, &n, &m))
		return ja ? g_strdup_printf("このアドレスへの配信エラーは連続 "
					    "%d 回目です（連続 %d "
					    "回で配信停止になります）。",
					    n, m)
			  : g_strdup_printf(
				"This is failure %d of the %d allowed in a row "
				"before the address is suppressed.",
				n, m);
	return g_strdup(ja ? "配信エラーとして記録しました。"
			   : "The failure was recorded.");
}

/* What to change for a sender-side reason.  g_free. */
static char *
notice_fix(const char *reason, const char *from_domain, const char *lang)
{
	static const char *const freemail[] = {
	    "gmail.com", "googlemail.com", "yahoo.co.jp", "yahoo.com",
	    "ybb.ne.jp", "hotmail.com",    "outlook.com", "outlook.jp",
	    "live.jp",   "icloud.com",     "me.com",      "aol.com",
	    NULL};
	const char *d = from_domain != NULL ? from_domain : "example.co.jp";
	bool ja = notice_ja(lang);
	GString *s = g_string_new(NULL);

	if (from_domain != NULL && g_strv_contains(freemail, from_domain))
		g_string_append_printf(
		    s,
		    ja ? "- "
			 "送信元（From）がフリーメール（%"
			 "s）になっています。Gmail や Yahoo! は、"
			 "他のサーバーから送られたフリーメールアドレスのメール"
			 "を拒否します。"
			 "ショップ独自のドメイン（例: info@shop.example.jp）を "
			 "From にしてください。\n"
		       : "- Your From address is a free-mail address (%s). "
			 "Gmail and Yahoo refuse free-mail From addresses sent "
			 "through other servers: use an address at your own "
			 "domain (e.g. info@shop.example).\n",
		    from_domain);
	if (g_strcmp0(reason, "ratelimited") == 0)
		g_string_append(
		    s,
		    ja ? "- "
			 "一度に送る量を減らし、時間を分けて送ってください。\n"
		       : "- Send less at once and spread sending over "
			 "time.\n");
	else if (g_strcmp0(reason, "requireptr") == 0)
		g_string_append(
		    s, ja ? "- 送信サーバーの IP "
			    "アドレスに逆引き（PTR）レコードを設定し、"
			    "その名前が正引きでも同じ IP "
			    "になるようにしてください。\n"
			  : "- Give the sending server's IP address a PTR "
			    "record whose name resolves back to it.\n");
	else if (g_strcmp0(reason, "failedstarttls") == 0 ||
		 g_strcmp0(reason, "securityerror") == 0)
		g_string_append(
		    s,
		    ja ? "- 送信サーバーで "
			 "TLS（STARTTLS）による暗号化を有効にしてください。\n"
		       : "- Enable TLS (STARTTLS) on the sending "
			 "server.\n");
	g_string_append_printf(
	    s,
	    ja ? "- SPF: %s の TXT "
		 "レコードに送信サービスを含めてください。例:\n"
		 "    %s. TXT \"v=spf1 include:_spf.送信サービス.example "
		 "~all\"\n"
		 "- DKIM: 送信サービスで %s "
		 "の署名（DKIM）を有効にし、指定された公開鍵を DNS "
		 "に登録してください。\n"
		 "- DMARC: 次のような TXT レコードを登録してください。例:\n"
		 "    _dmarc.%s. TXT \"v=DMARC1; p=none; "
		 "rua=mailto:dmarc@%s\"\n"
		 "- From のドメインは、SPF か DKIM "
		 "で認証されたドメインと一致させてください。\n"
	       : "- SPF: include your sending service in the TXT record of "
		 "%s, e.g.\n"
		 "    %s. TXT \"v=spf1 include:_spf.your-sender.example "
		 "~all\"\n"
		 "- DKIM: turn on DKIM signing for %s at your sending service "
		 "and publish its public key in DNS.\n"
		 "- DMARC: publish a record such as\n"
		 "    _dmarc.%s. TXT \"v=DMARC1; p=none; "
		 "rua=mailto:dmarc@%s\"\n"
		 "- Make the From domain match the domain SPF or DKIM "
		 "authenticates.\n",
	    d, d, d, d, d);
	if (g_strcmp0(reason, "authfailure") != 0)
		g_string_append(
		    s, ja ? "- "
			    "存在しないアドレス（配信停止リスト）には送らないで"
			    "ください。"
			    "メールマガジンにはワンクリックの配信停止（List-"
			    "Unsubscribe）を付けてください。\n"
			  : "- Do not send to suppressed addresses; give "
			    "newsletters one-click unsubscribe "
			    "(List-Unsubscribe).\n");
	return g_string_free(s, FALSE);
}

/* -------------------------------------------------------------- helpers */

const char *
notice_mail_type_name(const struct config_notify *cfg, const char *lang,
		      const char *code)
{
	static const struct {
		const char *code, *ja, *en;
	} names[] = {
	    {"thanks", "サンクスメール", "order confirmation (thank-you mail)"},
	    {"shipping", "発送完了メール", "shipping notice"},
	    {"register", "会員登録メール", "registration mail"},
	    {"password", "パスワード再設定メール", "password reset mail"},
	    {"news", "お知らせメール", "newsletter"},
	};
	size_t i, n;

	if (code == NULL || *code == '\0')
		return notice_ja(lang) ? "メール" : "mail";
	n = strlen(code);
	for (char **m = cfg != NULL ? cfg->mail_types : NULL;
	     m != NULL && *m != NULL; m++)
		if (strncmp(*m, code, n) == 0 && (*m)[n] == '=')
			return *m + n + 1;
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (g_ascii_strcasecmp(names[i].code, code) == 0)
			return notice_ja(lang) ? names[i].ja : names[i].en;
	return code;
}

char *
notice_format_time(gint64 t, const char *tz, const char *lang)
{
	GTimeZone *zone =
	    g_time_zone_new_identifier(tz != NULL ? tz : "Asia/Tokyo");
	GDateTime *utc, *dt;
	char *s;

	if (zone == NULL)
		zone = g_time_zone_new_utc();
	utc = g_date_time_new_from_unix_utc(t);
	dt = g_date_time_to_timezone(utc, zone);
	s = g_date_time_format(dt, notice_ja(lang)
				       ? "%Y年%m月%d日 %H:%M:%S（%Z）"
				       : "%Y-%m-%d %H:%M:%S %Z (UTC%:z)");
	g_date_time_unref(dt);
	g_date_time_unref(utc);
	g_time_zone_unref(zone);
	return s;
}

/* The registrable domain of a host name: the last two labels, three
   under a two-letter country code with a second-level label of 2 or 3
   letters (co.jp, ne.jp, com.au). */
static char *
notice_registrable(const char *host)
{
	char *h = g_ascii_strdown(host, -1), **l, *r;
	guint n, keep = 2;

	g_strstrip(h);
	while (*h != '\0' && h[strlen(h) - 1] == '.')
		h[strlen(h) - 1] = '\0';
	l = g_strsplit(h, ".", -1);
	n = g_strv_length(l);
	if (n >= 3 && strlen(l[n - 1]) == 2 && strlen(l[n - 2]) <= 3)
		keep = 3;
	r = n <= keep ? g_strdup(h) : g_strjoinv(".", l + (n - keep));
	g_strfreev(l);
	g_free(h);
	return r;
}

char *
notice_provider(const char *remote_mta, const char *recipient)
{
	const char *d;
	char *host, *r;

	if (remote_mta != NULL && *remote_mta != '\0') {
		host = g_strdup(remote_mta);
		/* "dns; mx.example.com" or "mx.example.com [192.0.2.1]" */
		if (strchr(host, ';') != NULL)
			memmove(host, strchr(host, ';') + 1,
				strlen(strchr(host, ';') + 1) + 1);
		g_strstrip(host);
		host[strcspn(host, " [(")] = '\0';
		if (strchr(host, '.') != NULL &&
		    !g_ascii_isdigit(host[strlen(host) - 1])) {
			r = notice_registrable(host);
			g_free(host);
			return r;
		}
		g_free(host);
	}
	if ((d = notice_domain(recipient)) != NULL)
		return notice_registrable(d);
	return g_strdup("unknown");
}

const char *
notice_provider_name(const char *key)
{
	static const struct {
		const char *key, *name;
	} names[] = {
	    {"google.com", "Gmail (Google)"},
	    {"gmail.com", "Gmail (Google)"},
	    {"googlemail.com", "Gmail (Google)"},
	    {"yahoodns.net", "Yahoo"},
	    {"yahoo.com", "Yahoo"},
	    {"yahoo.co.jp", "Yahoo! JAPAN"},
	    {"outlook.com", "Microsoft (Outlook)"},
	    {"hotmail.com", "Microsoft (Outlook)"},
	    {"icloud.com", "iCloud (Apple)"},
	    {"me.com", "iCloud (Apple)"},
	    {"docomo.ne.jp", "docomo"},
	    {"ezweb.ne.jp", "au (KDDI)"},
	    {"au.com", "au (KDDI)"},
	    {"softbank.ne.jp", "SoftBank"},
	};
	size_t i;

	for (i = 0; key != NULL && i < G_N_ELEMENTS(names); i++)
		if (strcmp(names[i].key, key) == 0)
			return names[i].name;
	return key;
}

/* A value cleaned for insertion: no control characters but \n and \t,
   valid UTF-8, at most NOTICE_VALUE_MAX characters; "" for NULL. */
static char *
notice_clean(const char *v)
{
	char *s = g_utf8_make_valid(v != NULL ? v : "", -1), *p;
	glong n = g_utf8_strlen(s, -1);

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
			*p = ' ';
		else if (*p == 0x7f)
			*p = ' ';
	if (n > NOTICE_VALUE_MAX) {
		char *cut = g_utf8_substring(s, 0, NOTICE_VALUE_MAX);

		g_free(s);
		s = g_strconcat(cut, "…", NULL);
		g_free(cut);
	}
	return s;
}

char *
notice_render(const char *tmpl, const char *const *vars)
{
	GString *out = g_string_sized_new(strlen(tmpl) + 256);
	const char *p = tmpl, *open, *close;
	size_t i;

	while ((open = strstr(p, "{{")) != NULL &&
	       (close = strstr(open + 2, "}}")) != NULL) {
		bool found = false;

		g_string_append_len(out, p, open - p);
		for (i = 0; vars[i] != NULL; i += 2)
			if (strlen(vars[i]) == (size_t)(close - open - 2) &&
			    strncmp(vars[i], open + 2, close - open - 2) == 0) {
				char *v = notice_clean(vars[i + 1]);

				g_string_append(out, v);
				g_free(v);
				found = true;
				break;
			}
		if (!found)
			g_string_append_len(out, open, close + 2 - open);
		p = close + 2;
	}
	g_string_append(out, p);
	return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------ templates */

static const char *
notice_builtin_get(const char *lang, const char *name)
{
	char *key =
	    g_strdup_printf("%s/%s", notice_ja(lang) ? "ja" : "en", name);
	const char *text = NULL;
	size_t i;

	for (i = 0; notice_builtin[i].name != NULL; i++)
		if (strcmp(notice_builtin[i].name, key) == 0)
			text = notice_builtin[i].text;
	g_free(key);
	g_assert(text != NULL);
	return text;
}

/* Reads an override file if there is one.  Returns it (g_free), or NULL
   (none, or unusable: *warning_r says why). */
static char *
notice_template_file(const struct notice_shop *shop, const char *lang,
		     const char *name, char **warning_r)
{
	const char *dir = shop->cfg != NULL ? shop->cfg->template_dir : NULL;
	char *paths[2], *text = NULL;
	GError *err = NULL;
	gsize len = 0;
	int i;

	if (dir == NULL)
		return NULL;
	paths[0] =
	    g_strdup_printf("%s/%s/%s/%s.txt", dir, shop->id, lang, name);
	paths[1] = g_strdup_printf("%s/%s/%s.txt", dir, lang, name);
	for (i = 0; i < 2 && text == NULL; i++) {
		if (!g_file_test(paths[i], G_FILE_TEST_EXISTS))
			continue;
		if (!g_file_get_contents(paths[i], &text, &len, &err)) {
			*warning_r = g_strdup_printf("template %s: %s",
						     paths[i], err->message);
			g_clear_error(&err);
			break;
		}
		if (len > NOTICE_TEMPLATE_MAX || strlen(text) != len ||
		    !g_utf8_validate(text, len, NULL)) {
			*warning_r = g_strdup_printf(
			    "template %s: not used: it must be UTF-8 text "
			    "of at most %d bytes",
			    paths[i], NOTICE_TEMPLATE_MAX);
			g_clear_pointer(&text, g_free);
			break;
		}
	}
	g_free(paths[0]);
	g_free(paths[1]);
	return text;
}

/* Splits a template into its subject (NULL if it has no Subject: line)
   and body (both g_free). */
static void
notice_template_split(const char *text, char **subject_r, char **body_r)
{
	const char *nl;

	*subject_r = NULL;
	if (g_str_has_prefix(text, "Subject:") &&
	    (nl = strchr(text, '\n')) != NULL) {
		*subject_r = g_strstrip(g_strndup(text + 8, nl - text - 8));
		nl++;
		if (*nl == '\r')
			nl++;
		if (*nl == '\n')
			nl++;
		*body_r = g_strdup(nl);
		return;
	}
	*body_r = g_strdup(text);
}

/* The subject and body templates of name for shop. */
static void
notice_template(const struct notice_shop *shop, const char *name,
		char **subject_r, char **body_r, char **warning_r)
{
	const char *lang = shop->cfg != NULL ? shop->cfg->language : "ja";
	const char *builtin = notice_builtin_get(lang, name);
	char *file = notice_template_file(shop, notice_ja(lang) ? "ja" : "en",
					  name, warning_r);
	char *bs = NULL, *bb = NULL;

	notice_template_split(builtin, &bs, &bb);
	if (file == NULL) {
		*subject_r = bs;
		*body_r = bb;
		return;
	}
	notice_template_split(file, subject_r, body_r);
	if (*subject_r == NULL)
		*subject_r = g_strdup(bs);
	g_free(bs);
	g_free(bb);
	g_free(file);
}

/* --------------------------------------------------------------- building */

static char *
notice_message_id(const struct notice_shop *shop, gint64 now)
{
	const char *at = shop->cfg != NULL && shop->cfg->from != NULL
			     ? strrchr(shop->cfg->from, '@')
			     : NULL;

	return g_strdup_printf(NOTICE_MSGID_PREFIX "%s.%" G_GINT64_FORMAT
						   ".%08x%08x@%s",
			       shop->id, now, g_random_int(), g_random_int(),
			       at != NULL ? at + 1 : "localhost");
}

/* Builds the MIME message around subject and body. */
static int
notice_mime(const struct notice_shop *shop, const char *kind,
	    const char *subject, const char *body, gint64 now,
	    struct notice_mail *out, char **error_r)
{
	const struct config_notify *cfg = shop->cfg;
	const char *lang = cfg != NULL ? cfg->language : "ja";
	GMimeMessage *msg = g_mime_message_new(TRUE);
	GMimeTextPart *part;
	GTimeZone *tz = g_time_zone_new_identifier(
	    cfg != NULL && cfg->time_zone ? cfg->time_zone : "Asia/Tokyo");
	GDateTime *utc = g_date_time_new_from_unix_utc(now), *dt;
	GMimeFormatOptions *fo = g_mime_format_options_new();
	char *to_name, *marker, *clean_subject;
	size_t i;

	if (shop->to == NULL || shop->to[0] == NULL) {
		*error_r = g_strdup("the shop has no notify address");
		g_object_unref(msg);
		g_date_time_unref(utc);
		g_clear_pointer(&tz, g_time_zone_unref);
		g_mime_format_options_free(fo);
		return -1;
	}
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	dt = g_date_time_to_timezone(utc, tz);
	g_mime_message_add_mailbox(
	    msg, GMIME_ADDRESS_TYPE_FROM,
	    cfg != NULL && cfg->from_name ? cfg->from_name : "bounced",
	    cfg != NULL && cfg->from ? cfg->from : "bounced@localhost");
	to_name = notice_ja(lang) ? g_strconcat(shop->name, " 様", NULL)
				  : g_strdup(shop->name);
	for (i = 0; shop->to[i] != NULL; i++)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, to_name,
					   shop->to[i]);
	g_free(to_name);
	clean_subject = g_strdelimit(notice_clean(subject), "\r\n\t", ' ');
	g_mime_message_set_subject(msg, clean_subject, "utf-8");
	g_mime_message_set_date(msg, dt);
	out->message_id = notice_message_id(shop, now);
	g_mime_message_set_message_id(msg, out->message_id);
	g_mime_object_set_header((GMimeObject *)msg, "Auto-Submitted",
				 "auto-generated", NULL);
	g_mime_object_set_header((GMimeObject *)msg, "X-Auto-Response-Suppress",
				 "All", NULL);
	marker = g_strdup_printf("%s; shop=%s", kind, shop->id);
	g_mime_object_set_header((GMimeObject *)msg, NOTICE_MARKER, marker,
				 NULL);
	g_free(marker);
	part = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(part, body);
	g_mime_text_part_set_charset(part, "utf-8");
	g_mime_part_set_content_encoding((GMimePart *)part,
					 GMIME_CONTENT_ENCODING_BASE64);
	g_mime_message_set_mime_part(msg, (GMimeObject *)part);
	g_object_unref(part);
	out->subject = clean_subject;
	out->data = g_mime_object_to_string((GMimeObject *)msg, fo);
	out->len = strlen(out->data);
	g_mime_format_options_free(fo);
	g_date_time_unref(dt);
	g_date_time_unref(utc);
	g_time_zone_unref(tz);
	g_object_unref(msg);
	return 0;
}

/* The placeholder values of one failure, into vars (30 slots) and the
   strings to free into owned.  Returns the number of slots used. */
static int
notice_item_vars(const struct notice_shop *shop, const struct notice_item *it,
		 const char **vars, GPtrArray *owned)
{
	const char *lang = shop->cfg != NULL ? shop->cfg->language : "ja";
	const char *tz = shop->cfg != NULL ? shop->cfg->time_zone : NULL;
	const struct notice_words *w = notice_words_of(it->reason);
	bool ja = notice_ja(lang);
	const char *none = ja ? "（不明）" : "(unknown)";
	char *time = notice_format_time(it->occurred_at, tz, lang);
	char *state = notice_state(it, lang), *action = notice_action(it, lang);
	int n = 0;

	g_ptr_array_add(owned, time);
	g_ptr_array_add(owned, state);
	g_ptr_array_add(owned, action);
	vars[n++] = "address";
	vars[n++] = it->recipient != NULL ? it->recipient : none;
	vars[n++] = "mail_type";
	vars[n++] = notice_mail_type_name(shop->cfg, lang, it->mail_type);
	vars[n++] = "mail_type_code";
	vars[n++] = it->mail_type;
	vars[n++] = "order_number";
	vars[n++] = it->order_number != NULL && *it->order_number != '\0'
			? it->order_number
			: none;
	vars[n++] = "time";
	vars[n++] = time;
	vars[n++] = "reason";
	vars[n++] = ja ? w->ja : w->en;
	vars[n++] = "reason_code";
	vars[n++] = it->reason;
	vars[n++] = "status";
	vars[n++] = it->status;
	vars[n++] = "state";
	vars[n++] = state;
	vars[n++] = "action";
	vars[n++] = action;
	vars[n++] = "original_subject";
	vars[n++] = it->orig_subject != NULL ? it->orig_subject : none;
	vars[n++] = "diagnostic";
	vars[n++] = it->diagnostic != NULL ? it->diagnostic : none;
	vars[n] = NULL;
	return n;
}

/* Adds shop_name, shop_id, system_name to vars at *n. */
static void
notice_shop_vars(const struct notice_shop *shop, const char **vars, int *n)
{
	vars[(*n)++] = "shop_name";
	vars[(*n)++] = shop->name;
	vars[(*n)++] = "shop_id";
	vars[(*n)++] = shop->id;
	vars[(*n)++] = "system_name";
	vars[(*n)++] = shop->cfg != NULL && shop->cfg->from_name != NULL
			   ? shop->cfg->from_name
			   : "bounced";
	vars[*n] = NULL;
}

/* Renders template name with vars and builds the mail. */
static int
notice_finish(const struct notice_shop *shop, const char *name,
	      const char *kind, const char *const *vars, gint64 now,
	      struct notice_mail *out, char **error_r)
{
	char *st = NULL, *bt = NULL, *subject, *body;
	int ret;

	memset(out, 0, sizeof(*out));
	notice_template(shop, name, &st, &bt, &out->warning);
	subject = notice_render(st, vars);
	body = notice_render(bt, vars);
	ret = notice_mime(shop, kind, subject, body, now, out, error_r);
	g_free(st);
	g_free(bt);
	g_free(subject);
	g_free(body);
	if (ret < 0)
		notice_mail_clear(out);
	return ret;
}

int
notice_build_failure(const struct notice_shop *shop,
		     const struct notice_item *it, gint64 now,
		     struct notice_mail *out, char **error_r)
{
	const char *vars[40];
	GPtrArray *owned = g_ptr_array_new_with_free_func(g_free);
	int n, ret;

	n = notice_item_vars(shop, it, vars, owned);
	notice_shop_vars(shop, vars, &n);
	ret =
	    notice_finish(shop, "failure", "failure", vars, now, out, error_r);
	g_ptr_array_unref(owned);
	return ret;
}

int
notice_build_digest(const struct notice_shop *shop,
		    const struct notice_item *items, size_t n, const char *note,
		    gint64 now, struct notice_mail *out, char **error_r)
{
	const char *lang = shop->cfg != NULL ? shop->cfg->language : "ja";
	GString *entries = g_string_new(NULL);
	char *es = NULL, *et = NULL, *count, *time, *warning = NULL;
	const char *vars[40];
	size_t i;
	int k, ret;

	memset(out, 0, sizeof(*out));
	notice_template(shop, "digest_entry", &es, &et, &warning);
	for (i = 0; i < n; i++) {
		GPtrArray *owned = g_ptr_array_new_with_free_func(g_free);
		char idx[16], *e;

		k = notice_item_vars(shop, &items[i], vars, owned);
		notice_shop_vars(shop, vars, &k);
		g_snprintf(idx, sizeof(idx), "%zu", i + 1);
		vars[k++] = "index";
		vars[k++] = idx;
		vars[k] = NULL;
		e = notice_render(et, vars);
		g_string_append(entries, e);
		if (entries->len > 0 && entries->str[entries->len - 1] != '\n')
			g_string_append_c(entries, '\n');
		g_free(e);
		g_ptr_array_unref(owned);
	}
	count = g_strdup_printf("%zu", n);
	time = notice_format_time(now, shop->cfg ? shop->cfg->time_zone : NULL,
				  lang);
	k = 0;
	notice_shop_vars(shop, vars, &k);
	vars[k++] = "count";
	vars[k++] = count;
	vars[k++] = "time";
	vars[k++] = time;
	vars[k++] = "note";
	vars[k++] = note != NULL ? note : "";
	vars[k++] = "entries";
	vars[k++] = entries->str;
	vars[k] = NULL;
	ret = notice_finish(shop, "digest", "digest", vars, now, out, error_r);
	if (ret == 0 && out->warning == NULL)
		out->warning = g_steal_pointer(&warning);
	g_free(warning);
	g_free(count);
	g_free(time);
	g_free(es);
	g_free(et);
	g_string_free(entries, TRUE);
	return ret;
}

int
notice_build_alert(const struct notice_shop *shop, const struct notice_alert *a,
		   gint64 now, struct notice_mail *out, char **error_r)
{
	const char *lang = shop->cfg != NULL ? shop->cfg->language : "ja";
	const char *tz = shop->cfg != NULL ? shop->cfg->time_zone : NULL;
	const struct notice_words *w = notice_words_of(a->reason);
	char *domain = notice_from_domain(a->orig_from);
	char *fix = notice_fix(a->reason, domain, lang);
	char *first = notice_format_time(a->first_at, tz, lang);
	char *last = notice_format_time(a->last_at, tz, lang);
	char *customers = g_strdup_printf("%u", a->customers);
	char *count = g_strdup_printf("%u", a->count);
	char *examples = a->examples != NULL
			     ? g_strjoinv(", ", (char **)a->examples)
			     : g_strdup("");
	int minutes = shop->cfg != NULL ? shop->cfg->alert_period : 1440;
	char *period =
	    minutes % 1440 == 0
		? g_strdup_printf(notice_ja(lang) ? "%d 日" : "%d day(s)",
				  minutes / 1440)
	    : minutes % 60 == 0
		? g_strdup_printf(notice_ja(lang) ? "%d 時間" : "%d hour(s)",
				  minutes / 60)
		: g_strdup_printf(notice_ja(lang) ? "%d 分" : "%d minute(s)",
				  minutes);
	const char *vars[40];
	int k = 0, ret;

	notice_shop_vars(shop, vars, &k);
	vars[k++] = "provider";
	vars[k++] = notice_provider_name(a->provider);
	vars[k++] = "reason";
	vars[k++] = notice_ja(lang) ? w->ja : w->en;
	vars[k++] = "reason_code";
	vars[k++] = a->reason;
	vars[k++] = "status";
	vars[k++] = a->status;
	vars[k++] = "customers";
	vars[k++] = customers;
	vars[k++] = "count";
	vars[k++] = count;
	vars[k++] = "first_time";
	vars[k++] = first;
	vars[k++] = "last_time";
	vars[k++] = last;
	vars[k++] = "examples";
	vars[k++] = examples;
	vars[k++] = "fix";
	vars[k++] = fix;
	vars[k++] = "diagnostic";
	vars[k++] = a->diagnostic != NULL ? a->diagnostic : "";
	vars[k++] = "period";
	vars[k++] = period;
	vars[k] = NULL;
	ret = notice_finish(shop, "alert", "alert", vars, now, out, error_r);
	g_free(domain);
	g_free(fix);
	g_free(first);
	g_free(last);
	g_free(customers);
	g_free(count);
	g_free(examples);
	g_free(period);
	return ret;
}

void
notice_mail_clear(struct notice_mail *m)
{
	g_free(m->message_id);
	g_free(m->subject);
	g_free(m->data);
	g_free(m->warning);
	memset(m, 0, sizeof(*m));
}
