#!/usr/bin/python3
"""Inject sample Japanese order mail into an MTA over SMTP.

Usage: inject.py HOST PORT CASES_TSV [MTA-NAME [SKIP-CASE,... [ONLY-CASE,...]]]

Every case is one message from shop@bounce.test (the shop's own sending
mailbox, where the DSNs come back) with X-Order-Number / X-Mail-Type headers
and a Japanese subject and body.  The responder decides the outcome from the
recipient's local part.  CASES_TSV gets "order-number<TAB>case-name" lines so
that collect.py can name the DSNs.  With ONLY-CASE,... only those cases
are sent (tools/demo.sh); EXTRA_CASES are sent only when named there.
Order numbers stay the same whichever cases are sent.
"""
import base64
import email.utils
import smtplib
import sys
from email.header import Header

SENDER = "shop@bounce.test"
SHOP = "サンプル茶舗オンラインショップ"

# Routing conventions shared with gen.sh:
#   *@bounce.test            -> Dovecot LMTP (local delivery: the shop and customer@)
#   *@stall.example.jp       -> stall responder on 127.0.0.2 (never sends a banner)
#   *@no-such-domain.invalid -> unresolvable host
#   everything else          -> scripted responder (reply picked by local part)
ALL = "SUCCESS,DELAY,FAILURE"

# name, [(rcpt, NOTIFY or None)], RET, ENVID?, mail type, body charset
CASES = [
    ("unknown",             [("unknown@example.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("gmail-unknown",       [("gmail-unknown@gmail.com", None)], None, False, "thanks", "iso-2022-jp"),
    ("gmail-disabled",      [("gmail-disabled@gmail.com", None)], None, False, "shipping", "utf-8-b64"),
    ("gmail-auth-5.7.26",   [("gmail-auth@gmail.com", None)], None, False, "thanks", "iso-2022-jp"),
    ("gmail-dmarc-5.7.26",  [("gmail-dmarc@gmail.com", None)], None, False, "register", "utf-8-8bit"),
    ("gmail-rate-4.7.28",   [("gmail-rate@gmail.com", None)], None, False, "news", "iso-2022-jp"),
    ("gmail-full-4.2.2",    [("gmail-full@gmail.com", None)], None, False, "shipping", "iso-2022-jp"),
    ("gmail-spam-5.7.1",    [("gmail-block@gmail.com", None)], None, False, "news", "utf-8-b64"),
    ("gmail-ptr-5.7.25",    [("gmail-ptr@gmail.com", None)], None, False, "password", "iso-2022-jp"),
    ("yahoo-auth-5.7.9",    [("yahoo-auth@yahoo.com", None)], None, False, "thanks", "iso-2022-jp"),
    ("yahoo-tss04",         [("yahoo-tss04@yahoo.com", None)], None, False, "news", "utf-8-8bit"),
    ("yahoo-unknown",       [("yahoo-unknown@yahoo.com", None)], None, False, "register", "iso-2022-jp"),
    ("ms-auth-5.7.515",     [("ms-auth@outlook.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("ms-unknown-5.1.10",   [("ms-unknown@outlook.jp", None)], None, False, "shipping", "shift_jis"),
    ("outlook-unavailable-5.5.0", [("outlook-unavailable@hotmail.co.jp", None)], None, False, "password", "iso-2022-jp"),
    ("outlook-blocklist-s3150",   [("outlook-blocklist@outlook.com", None)], None, False, "news", "iso-2022-jp"),
    ("icloud-unknown",      [("icloud-unknown@icloud.com", None)], None, False, "thanks", "utf-8-b64"),
    ("docomo-unknown",      [("docomo-unknown@docomo.ne.jp", None)], None, False, "thanks", "shift_jis"),
    ("au-unknown",          [("au-unknown@ezweb.ne.jp", None)], None, False, "shipping", "iso-2022-jp"),
    ("au-filtered",         [("au-filtered@au.com", None)], None, False, "register", "iso-2022-jp"),
    ("softbank-unknown",    [("softbank-unknown@softbank.ne.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("mailbox-full-4.2.2",  [("full@example.jp", None)], None, False, "shipping", "iso-2022-jp"),
    ("mailbox-full-5.2.2",  [("full552@example.jp", None)], None, False, "thanks", "utf-8-8bit"),
    ("greylist-notify-failure", [("greylist@example.jp", "FAILURE")], None, False, "password", "iso-2022-jp"),
    ("spam-5.7.1",          [("spam@example.jp", None)], None, False, "news", "iso-2022-jp"),
    ("toolarge-5.3.4",      [("toolarge@example.jp", None)], None, False, "shipping", "utf-8-b64"),
    ("ptr-5.7.25",          [("ptr@example.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("relay-denied",        [("relay@example.jp", None)], None, False, "register", "iso-2022-jp"),
    ("disabled-5.2.1",      [("disabled@example.jp", None)], None, False, "news", "iso-2022-jp"),
    ("rbl-spamhaus",        [("rbl@example.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("hostunknown",         [("taro@no-such-domain.invalid", None)], None, False, "thanks", "iso-2022-jp"),
    ("timeout-stall",       [("hanako@stall.example.jp", None)], None, False, "shipping", "iso-2022-jp"),
    ("multi-carriers",      [("unknown+a@example.jp", None), ("docomo-unknown@docomo.ne.jp", None),
                             ("au-unknown@ezweb.ne.jp", None), ("softbank-unknown@i.softbank.jp", None)],
                            None, False, "news", "iso-2022-jp"),
    ("multi-mixed",         [("ok@gmail.com", None), ("gmail-unknown@gmail.com", None),
                             ("full@example.jp", None)], None, False, "thanks", "iso-2022-jp"),
    ("ret-hdrs-gmail-auth", [("gmail-auth@gmail.com", None)], "HDRS", True, "thanks", "iso-2022-jp"),
    ("ret-hdrs-unknown",    [("unknown@example.jp", "FAILURE")], "HDRS", True, "shipping", "utf-8-b64"),
    ("success-relayed",     [("ok@gmail.com", ALL)], "HDRS", True, "thanks", "iso-2022-jp"),
    ("success-lmtp",        [("customer@bounce.test", ALL)], "FULL", True, "register", "iso-2022-jp"),
]

# Sent only when named in ONLY-CASE (not fixtures: the reply is an
# auto-reply, not a DSN).  "vacation" is a vacation responder in
# responder.py (with --reply-via).
EXTRA_CASES = [
    ("autoreply-vacation",  [("vacation@example.jp", None)], None, False, "shipping", "iso-2022-jp"),
]

SUBJECTS = {
    "thanks":   "【サンクスメール】ご注文ありがとうございます",
    "shipping": "【発送完了メール】ご注文の商品を発送いたしました",
    "register": "【会員登録】会員登録が完了しました",
    "password": "【パスワード再設定】パスワード再設定のご案内",
    "news":     "【お知らせメール】冬の新茶セット入荷のお知らせ",
}

BODIES = {
    "thanks": """山田 太郎 様

この度は「{shop}」をご利用いただき、誠にありがとうございます。
以下の内容でご注文を承りました。

【ご注文番号】{order}
【ご注文日時】2026年1月15日 10:23
【お支払い方法】クレジットカード
------------------------------------------------------------
商品名：有機ほうじ茶 100g × 2
小計：1,620円（税込）
送料：550円
合計：2,170円（税込）
------------------------------------------------------------
商品の発送時に、改めて発送完了メールをお送りいたします。
""",
    "shipping": """山田 太郎 様

ご注文いただいた商品を本日発送いたしました。

【ご注文番号】{order}
【配送業者】ヤマト運輸
【お問い合わせ伝票番号】1234-5678-9012
お届けまで今しばらくお待ちください。
""",
    "register": """山田 太郎 様

{shop}への会員登録が完了しました。
ログインID：このメールアドレス
今後ともよろしくお願いいたします。
（受付番号：{order}）
""",
    "password": """山田 太郎 様

パスワード再設定のご依頼を受け付けました。
以下のURLから24時間以内に新しいパスワードを設定してください。
https://shop.bounce.test/reset?token=8f14e45fceea167a
（受付番号：{order}）
お心当たりのない場合は、このメールを破棄してください。
""",
    "news": """いつも{shop}をご利用いただきありがとうございます。

冬の新茶セットが入荷しました。会員様限定で送料無料です。
https://shop.bounce.test/news/2026winter
（配信番号：{order}）
配信停止はこちら：https://shop.bounce.test/unsubscribe
""",
}


def hdr(text, charset):
    cs = "iso-2022-jp" if charset in ("iso-2022-jp", "shift_jis") else "utf-8"
    return Header(text, cs).encode(maxlinelen=76)


def build(case, idx, order, rcpts, mtype, charset, mta):
    subject = SUBJECTS[mtype]
    body = BODIES[mtype].format(shop=SHOP, order=order).replace("\n", "\r\n")
    if charset == "iso-2022-jp":
        ctype, cte, payload = 'text/plain; charset="ISO-2022-JP"', "7bit", body.encode("iso2022_jp")
    elif charset == "shift_jis":
        ctype, cte, payload = 'text/plain; charset="Shift_JIS"', "8bit", body.encode("cp932")
    elif charset == "utf-8-8bit":
        ctype, cte, payload = 'text/plain; charset="UTF-8"', "8bit", body.encode("utf-8")
    else:
        b = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
        ctype, cte, payload = 'text/plain; charset="UTF-8"', "base64", b
    h = [
        ("From", f"{hdr(SHOP, charset)} <{SENDER}>"),
        ("To", ", ".join(r for r, _ in rcpts)),
        ("Subject", hdr(subject, charset)),
        ("Date", email.utils.formatdate(localtime=True)),
        ("Message-ID", f"<{order.lower()}.{mtype}.{idx}@shop.bounce.test>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", ctype),
        ("Content-Transfer-Encoding", cte),
        ("X-Order-Number", order),
        ("X-Mail-Type", mtype),
        ("X-Mailer", "ShopMailer/2.4"),
    ]
    head = "".join(f"{k}: {v}\r\n" for k, v in h).encode()
    return head + b"\r\n" + payload, cte == "8bit"


def main():
    host, port, tsv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    mta = sys.argv[4] if len(sys.argv) > 4 else "mta"
    skip = set(sys.argv[5].split(",")) if len(sys.argv) > 5 and sys.argv[5] else set()
    only = set(sys.argv[6].split(",")) if len(sys.argv) > 6 and sys.argv[6] else None
    unknown = (only or set()) - {c[0] for c in CASES + EXTRA_CASES}
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
    out = open(tsv, "w")
    s = smtplib.SMTP(host, port, local_hostname="app1.shop.bounce.test", timeout=30)
    s.ehlo()
    for idx, (case, rcpts, ret, envid, mtype, charset) in enumerate(CASES + EXTRA_CASES, 1):
        if (only is None and idx > len(CASES)) or (only is not None and case not in only):
            continue
        if case in skip:
            print(f"skipped  {case}", flush=True)
            continue
        order = f"ORD-2026-{idx + 100:06d}"
        msg, eight = build(case, idx, order, rcpts, mtype, charset, mta)
        mopts = []
        if eight:
            mopts.append("BODY=8BITMIME")
        if ret:
            mopts.append(f"RET={ret}")
        if envid:
            mopts.append(f"ENVID={order}")
        code, resp = s.mail(SENDER, mopts)
        if code != 250:
            raise SystemExit(f"{case}: MAIL {code} {resp!r}")
        for r, notify in rcpts:
            ropts = [f"NOTIFY={notify}"] if notify else []
            code, resp = s.rcpt(r, ropts)
            if code not in (250, 251):
                raise SystemExit(f"{case}: RCPT {r} {code} {resp!r}")
        code, resp = s.data(msg)
        if code != 250:
            raise SystemExit(f"{case}: DATA {code} {resp!r}")
        out.write(f"{order}\t{case}\n")
        print(f"injected {case:28s} {order} -> {', '.join(r for r, _ in rcpts)}", flush=True)
    s.quit()
    out.close()


if __name__ == "__main__":
    main()
