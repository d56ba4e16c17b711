#!/bin/sh
# notify_smtp.sh - the notifier end to end: bounces are ingested into a
# throwaway PostgreSQL (tests/pg.sh), `bouncectl notify --once` submits
# the メールエラー通知 over STARTTLS to a private Postfix on loopback
# (LAB.md §4), which delivers them over LMTP into a private Dovecot
# (tests/dovecot.sh with DOVECOT_LMTP=1); tests/notify_check.py reads them
# back from the Maildir with Python's own MIME parser.  Checked:
#   - per failure: every header (From/To display names with [ ] " ; .,
#     RFC 2047 Subject, Date, Message-ID, Auto-Submitted, the marker,
#     null envelope sender), the decoded Japanese body fields; a second
#     drain sends nothing;
#   - digest mode (English shop, UTC): one digest, then nothing until the
#     interval has passed, then a digest of the rest;
#   - the cap per hour: the first notices singly, the rest in a digest;
#   - sender-side alerts: one per provider and reason per period, with
#     the number of customers and what to change;
#   - a shop without notify address: its rows are given up;
#   - a permanent SMTP error is recorded and never retried; a temporary
#     one is retried later;
#   - exactly once across a kill -9 of the notifier in the middle of a
#     drain;
#   - a bounce of a notice causes no new notice;
#   - the daemon (bounced --once) sends notices after its poll cycle.
# Needs root (Postfix's master), postfix, dovecot-lmtpd and /usr/bin/python3;
# skips (77) without them.
set -u
top_srcdir=${top_srcdir:-.}
if [ "$(id -u)" != 0 ]; then
	echo "notify_smtp.sh: needs root to run a private Postfix; skipped"
	exit 77
fi
for b in /usr/sbin/postfix /usr/sbin/postconf /usr/bin/python3; do
	[ -x "$b" ] || { echo "notify_smtp.sh: no $b; skipped"; exit 77; }
done
. "$top_srcdir/tests/prologue.sh"
FIX="$top_srcdir/tests/fixtures/postfix"
CHECK="/usr/bin/python3 $top_srcdir/tests/notify_check.py"
chmod 755 "$T"
PF="$T/pf"
DOVECOT_DIR=
cleanup() {
	[ -f "$PF/etc/main.cf" ] && /usr/sbin/postfix -c "$PF/etc" stop >/dev/null 2>&1
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

# --- Dovecot with LMTP, Postfix relaying to it -------------------------------
start_dovecot 17 DOVECOT_LMTP=1
SMTP_PORT=$((BASE_PORT + 854))
CLOSED_PORT=$((BASE_PORT + 855))

postfix_config mta.notify.test
cat >>"$PF/etc/main.cf" <<EOF
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_recipient_access inline:{ { reject.test = REJECT no such shop address } }, permit_mynetworks, reject
EOF
postconf -c "$PF/etc" -M "$SMTP_PORT/inet=$SMTP_PORT inet n - n - - smtpd" >/dev/null
if ! /usr/sbin/postfix -c "$PF/etc" start >/dev/null 2>&1; then
	echo "notify_smtp.sh: postfix did not start:"; cat "$PF/maillog" 2>/dev/null
	exit 99
fi
/usr/bin/python3 - "$SMTP_PORT" <<'EOF' || { echo "no SMTP on $SMTP_PORT"; cat "$PF/maillog"; exit 99; }
import socket, sys, time
for i in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF

new_database notify

fails=0
n=0
# has NAME FILE STRING: FILE contains the fixed STRING
has() {
	n=$((n + 1))
	if grep -qF -- "$3" "$2"; then
		echo "ok   $1"
	else
		echo "FAIL $1: lacks '$3'"; fails=$((fails + 1))
	fi
}
MD1="$DOVECOT_DIR/home/test@example.jp/Maildir"
MD2="$DOVECOT_DIR/home/other@example.jp/Maildir"
# arrived SHOP: how many notices of SHOP are in the Maildirs (raw count)
arrived() {
	grep -lx "X-Bounced-Notice: [a-z]*; shop=$1" "$MD1"/new/* "$MD1"/cur/* \
	    "$MD2"/new/* "$MD2"/cur/* 2>/dev/null | wc -l | tr -d ' '
}
# mails SHOP OUT: the checker's blocks of SHOP's notices into OUT; prints
# how many
mails() {
	$CHECK "$MD1" "$MD2" | awk -v shop="shop=$1" '
		/^== / { if (blk != "" && keep) printf "%s", blk; blk = ""; keep = 0 }
		{ blk = blk $0 "\n" }
		/^x-bounced-notice: / && index($0, shop) && substr($0, index($0, shop) + length(shop)) == "" { keep = 1 }
		END { if (blk != "" && keep) printf "%s", blk }' >"$2"
	grep -c '^== ' "$2"
}
# wait_mails SHOP N: until N notices of SHOP arrived (20 s at most)
wait_mails() {
	waited=0
	while [ "$(arrived "$1")" -lt "$2" ] && [ $waited -lt 200 ]; do
		sleep 0.1; waited=$((waited + 1))
	done
}
ingest() {
	shop=$1
	shift
	for f in "$@"; do
		"$BC" ingest -c "$T/bounced.conf" --shop "$shop" "$FIX/$f.eml" >>"$T/ingest.log" 2>&1 ||
			{ echo "ingest $f failed:"; cat "$T/ingest.log"; }
	done
}

cat >"$T/bounced.conf" <<EOF
log = "stderr";
notifier = {
	from = "notice@platform.test";
	from_name = "配信エラー通知 [bounced]";
	envelope_from = "";
	smtp = { host = "127.0.0.1"; port = $SMTP_PORT; tls = "starttls";
	         ca_file = "$DOVECOT_CERT"; };
	cap_per_hour = 100;
};
shops = (
	{ id = "shop1"; name = "[テスト]ショップ; \"A.B\"."; notify = [ "test@example.jp" ]; },
	{ id = "shop2"; name = "Shop Two"; notify = [ "other@example.jp" ];
	  notifier = { language = "en"; time_zone = "UTC"; mode = "digest";
	               digest_interval = 60; mail_types = { register = "Sign-up mail"; }; }; },
	{ id = "shop3"; name = "Shop 3"; notify = [ "test@example.jp" ];
	  notifier = { cap_per_hour = 2; }; },
	{ id = "shop4"; name = "Shop 4"; notify = [ "other@example.jp" ]; },
	{ id = "shop5"; name = "Shop 5"; notify = [ "test@example.jp" ]; },
	{ id = "shop6"; name = "Nobody"; },
	{ id = "shop7"; name = "Shop 7"; notify = [ "owner@reject.test" ]; },
	{ id = "shop8"; name = "Shop 8"; notify = [ "test@example.jp" ];
	  notifier = { smtp = { host = "127.0.0.1"; port = $CLOSED_PORT; tls = "none"; }; }; },
	{ id = "shop9"; name = "Shop 9"; notify = [ "other@example.jp" ];
	  mailboxes = ( { name = "local"; protocol = "maildir"; path = "$T/md"; } ); }
);
EOF
check "config" 0 "configuration OK" "$BD" -t -c "$T/bounced.conf"
check "migrate" 0 "" "$BC" db migrate -c "$T/bounced.conf"
check "nothing to send" 0 "0 composed, 0 sent" "$BC" notify --once -c "$T/bounced.conf"

# --- per failure, Japanese ------------------------------------------------------
ingest shop1 au-filtered-failed docomo-unknown-failed mailbox-full-5.2.2-failed
check "shop1: 3 notices" 0 "3 composed, 3 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop1 3
same "shop1: 3 mails arrived" 3 "$(mails shop1 "$T/s1")"
same "shop1: every outbox row sent" "0" "$(sql "SELECT count(*) FROM notify_outbox WHERE shop_id = 'shop1' AND sent_at IS NULL")"
same "shop1: the suppressed row rides on its failure's notice" 3 "$(sql "SELECT count(DISTINCT notice_id) FROM notify_outbox WHERE shop_id = 'shop1'")"
has "shop1: To display name" "$T/s1" 'to: [テスト]ショップ; "A.B". 様 <test@example.jp>'
has "shop1: From display name" "$T/s1" "from: 配信エラー通知 [bounced] <notice@platform.test>"
has "shop1: Subject" "$T/s1" "subject: 【メールエラー通知】会員登録メールをお届けできませんでした（注文番号 ORD-2026-000120）"
has "shop1: Auto-Submitted" "$T/s1" "auto-submitted: auto-generated"
has "shop1: marker" "$T/s1" "x-bounced-notice: failure; shop=shop1"
has "shop1: null envelope sender" "$T/s1" "return-path: <>"
has "shop1: UTF-8 base64 body" "$T/s1" "content-type: text/plain; charset=utf-8 (cte base64)"
same "shop1: headers are 7-bit" 0 "$(grep -c 'headers-7bit: no' "$T/s1")"
same "shop1: Message-IDs are the stored ones" "$(sql "SELECT string_agg('== <' || message_id || '>', ' ' ORDER BY message_id) FROM notify_notices WHERE shop_id = 'shop1'")" \
    "$(grep '^== ' "$T/s1" | sort | tr '\n' ' ' | sed 's/ $//')"
has "shop1: date" "$T/s1" "date: 2026-"
has "shop1: address" "$T/s1" "メールアドレス: au-filtered@au.com"
has "shop1: mail type" "$T/s1" "メールの種類: サンクスメール"
has "shop1: order number" "$T/s1" "注文番号: ORD-2026-000118"
has "shop1: time in JST" "$T/s1" "エラーが発生した時間: 2026年11月23日 19:51:25（JST）"
has "shop1: reason" "$T/s1" "メールボックスが満杯のため"
has "shop1: suppressed" "$T/s1" "このアドレスは配信停止にしました"
has "shop1: strikes" "$T/s1" "連続 1 回目です（連続 4 回で配信停止"
has "shop1: carrier advice" "$T/s1" "au の「受信リスト設定（指定受信）」で bounce.test を受信できるよう"
has "shop1: original subject" "$T/s1" "【会員登録】"
has "shop1: diagnostic" "$T/s1" "550 : User unknown"
check "shop1: a second drain sends nothing" 0 "0 composed, 0 sent" "$BC" notify --once -c "$T/bounced.conf"

# --- digest mode, English -------------------------------------------------------
ingest shop2 au-filtered-failed gmail-unknown-failed icloud-unknown-failed
check "shop2: one digest" 0 "1 composed, 1 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop2 1
same "shop2: 1 mail" 1 "$(mails shop2 "$T/s2")"
has "shop2: subject" "$T/s2" "subject: [Mail error] 3 mails could not be delivered"
has "shop2: greeting" "$T/s2" "Dear Shop Two,"
has "shop2: entry 3" "$T/s2" "3. Address: "
has "shop2: mail type override" "$T/s2" "Mail type: Sign-up mail"
has "shop2: time in UTC" "$T/s2" "Time of the error: 2026-11-23 10:51:2"
has "shop2: marker" "$T/s2" "x-bounced-notice: digest; shop=shop2"
ingest shop2 softbank-unknown-failed yahoo-unknown-failed
check "shop2: no digest before the interval" 0 "0 composed, 0 sent" "$BC" notify --once -c "$T/bounced.conf"
sql "UPDATE notify_notices SET created_at = created_at - interval '61 minutes' WHERE shop_id = 'shop2'" >/dev/null
check "shop2: the next digest after it" 0 "1 composed, 1 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop2 2
mails shop2 "$T/s2" >/dev/null
has "shop2: second digest has the rest" "$T/s2" "subject: [Mail error] 2 mails could not be delivered"
same "shop2: all rows sent" 0 "$(sql "SELECT count(*) FROM notify_outbox WHERE shop_id = 'shop2' AND sent_at IS NULL")"

# --- cap per hour ---------------------------------------------------------------
ingest shop3 au-filtered-failed docomo-unknown-failed gmail-unknown-failed icloud-unknown-failed unknown-failed
check "shop3: 2 single notices and a digest" 0 "3 composed, 3 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop3 3
same "shop3: 3 mails" 3 "$(mails shop3 "$T/s3")"
same "shop3: 2 per-failure notices" 2 "$(grep -c 'x-bounced-notice: failure; shop=shop3' "$T/s3")"
has "shop3: digest of the rest" "$T/s3" "subject: 【メールエラー通知】お届けできなかったメール 3 件のお知らせ"
has "shop3: digest says why" "$T/s3" "1 時間あたりの通知の上限（2 通）を超えたため"

# --- sender-side alerts ---------------------------------------------------------
ingest shop4 gmail-auth-5.7.26-failed gmail-dmarc-5.7.26-failed
check "shop4: one alert" 0 "1 composed, 1 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop4 1
same "shop4: 1 mail" 1 "$(mails shop4 "$T/s4")"
has "shop4: subject" "$T/s4" "subject: 【重要】Gmail (Google) がショップのメールを受け取っていません（authfailure、2 名に影響）"
has "shop4: customers" "$T/s4" "影響を受けたお客様: 2 名（2 通）"
has "shop4: SPF" "$T/s4" 'bounce.test. TXT "v=spf1 include:'
has "shop4: DMARC" "$T/s4" '_dmarc.bounce.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc@bounce.test"'
has "shop4: DKIM" "$T/s4" "DKIM: 送信サービスで bounce.test の署名"
has "shop4: not the customers' fault" "$T/s4" "お客様のアドレスは配信停止にしていません"
has "shop4: marker" "$T/s4" "x-bounced-notice: alert; shop=shop4"
same "shop4: nobody suppressed" 0 "$(sql "SELECT count(*) FROM suppression_list WHERE shop_id = 'shop4'")"
ingest shop4 ret-hdrs-gmail-auth-failed
check "shop4: one alert per period" 0 "0 composed, 0 sent" "$BC" notify --once -c "$T/bounced.conf"
sql "UPDATE notify_notices SET created_at = created_at - interval '25 hours' WHERE shop_id = 'shop4'" >/dev/null
check "shop4: the next period's alert" 0 "1 composed, 1 sent" "$BC" notify --once -c "$T/bounced.conf"
wait_mails shop4 2
mails shop4 "$T/s4" >/dev/null
has "shop4: second alert counts the new one" "$T/s4" "影響を受けたお客様: 1 名（1 通）"

# --- no notify address; permanent and temporary SMTP errors -------------------
ingest shop6 unknown-failed
check "shop6: given up" 0 "dropped" "$BC" notify --once -c "$T/bounced.conf"
same "shop6: rows failed, with why" "1|the shop has no notify address" "$(sql "SELECT count(*), max(last_error) FROM notify_outbox WHERE shop_id = 'shop6' AND failed_at IS NOT NULL AND kind = 'failure'")"
ingest shop7 unknown-failed
check "shop7: permanent error" 0 "1 given up" "$BC" notify --once -c "$T/bounced.conf"
same "shop7: notice failed with the reply" "failed|1" "$(sql "SELECT state, (last_error LIKE '%554 5.7.1%no such shop address%')::int FROM notify_notices WHERE shop_id = 'shop7'")"
check "shop7: never retried" 0 "0 composed, 0 sent, 0 to retry, 0 given up" "$BC" notify --once -c "$T/bounced.conf"
ingest shop8 unknown-failed
check "shop8: temporary error" 0 "1 to retry" "$BC" notify --once -c "$T/bounced.conf"
same "shop8: queued for later" "queued|1|t" "$(sql "SELECT state, attempts, next_attempt_at > now() + interval '50 seconds' FROM notify_notices WHERE shop_id = 'shop8'")"
check "shop8: not due yet" 0 "0 composed, 0 sent, 0 to retry" "$BC" notify --once -c "$T/bounced.conf"
sql "UPDATE notify_notices SET next_attempt_at = now() WHERE shop_id = 'shop8'" >/dev/null
check "--strict fails while a notice waits" 1 "1 to retry" "$BC" notify --once --strict -c "$T/bounced.conf"
check "status" 0 "shop8" "$BC" notify --status -c "$T/bounced.conf"

# --- exactly once across kill -9 ------------------------------------------------
ingest shop5 au-filtered-failed docomo-unknown-failed gmail-unknown-failed icloud-unknown-failed \
    unknown-failed softbank-unknown-failed yahoo-unknown-failed hostunknown-failed
BOUNCED_NOTIFY_SLOW=300 "$BC" notify --once -c "$T/bounced.conf" >"$T/kill.log" 2>&1 &
pid=$!
waited=0
until [ "$(sql "SELECT count(*) FROM notify_notices WHERE shop_id = 'shop5' AND state = 'sent'")" -ge 2 ] || [ $waited -ge 150 ]; do
	sleep 0.1; waited=$((waited + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
total=$(sql "SELECT count(*) FROM notify_notices WHERE shop_id = 'shop5'")
before=$(sql "SELECT count(*) FROM notify_notices WHERE shop_id = 'shop5' AND state = 'sent'")
same "kill -9: 8 notices composed" 8 "$total"
n=$((n + 1))
if [ "$before" -ge 2 ] && [ "$before" -lt "$total" ]; then
	echo "ok   kill -9 landed mid-drain ($before of $total sent)"
else
	echo "FAIL kill -9 did not land mid-drain ($before of $total sent)"; fails=$((fails + 1))
fi
check "kill -9: the rest is sent" 0 "0 composed" "$BC" notify --once -c "$T/bounced.conf"
same "kill -9: every notice sent" "$total" "$(sql "SELECT count(*) FROM notify_notices WHERE shop_id = 'shop5' AND state = 'sent'")"
same "kill -9: every row sent" 0 "$(sql "SELECT count(*) FROM notify_outbox WHERE shop_id = 'shop5' AND sent_at IS NULL")"
wait_mails shop5 "$total"
sleep 1 # a duplicate would arrive with the others
got=$(mails shop5 "$T/s5")
distinct=$(grep '^== ' "$T/s5" | sort -u | wc -l | tr -d ' ')
same "kill -9: every notice arrived" "$total" "$distinct"
same "kill -9: the arrived ones are the stored ones" "$(sql "SELECT string_agg('== <' || message_id || '>', ' ' ORDER BY message_id) FROM notify_notices WHERE shop_id = 'shop5'")" \
    "$(grep '^== ' "$T/s5" | sort -u | tr '\n' ' ' | sed 's/ $//')"
# The one window where a notice can arrive twice: killed between the
# relay's 250 and our COMMIT; the copy then has the same Message-ID.
n=$((n + 1))
if [ "$got" -eq "$distinct" ]; then
	echo "ok   kill -9: no notice arrived twice"
elif [ "$got" -eq $((distinct + 1)) ]; then
	echo "ok   kill -9: one identical copy (killed between 250 and COMMIT, documented)"
else
	echo "FAIL kill -9: $got mails for $distinct notices"; fails=$((fails + 1))
fi

# --- a notice that bounces causes no new notice ---------------------------------
mid=$(sql "SELECT message_id FROM notify_notices WHERE shop_id = 'shop1' ORDER BY notice_id LIMIT 1")
orig=$("$BC" parse "$FIX/unknown-failed.eml" | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["original"]["message_id"])')
sed "s|$orig|<$mid>|" "$FIX/unknown-failed.eml" >"$T/notice-bounce.eml"
"$BC" ingest -c "$T/bounced.conf" --shop shop1 "$T/notice-bounce.eml" >"$T/out" 2>&1
has "notice bounce recorded" "$T/out" "1 result"
check "notice bounce: no new notice" 0 "0 composed, 0 sent" "$BC" notify --once -c "$T/bounced.conf"
same "notice bounce: the notice is marked bounced" 1 "$(sql "SELECT count(*) FROM notify_notices WHERE message_id = '$mid' AND bounced_at IS NOT NULL")"

# --- the daemon sends after its poll cycle --------------------------------------
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
cp "$FIX/gmail-unknown-failed.eml" "$T/md/new/1.M1.notify-test"
check "daemon: polls and notifies" 0 "notifier: 1 composed, 1 sent" "$BD" --once -c "$T/bounced.conf"
wait_mails shop9 1
same "daemon: the notice arrived" 1 "$(mails shop9 "$T/s9")"

finish
