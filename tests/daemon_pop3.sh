#!/bin/sh
# daemon_pop3.sh - bounced's POP3 fetcher against a private Dovecot
# (tests/dovecot.sh) and a throwaway PostgreSQL (tests/pg.sh):
#   - POP3S (implicit TLS): real Postfix/Exim DSNs, a non-bounce and an
#     empty message are each recorded once under "uidl:UIDL" and nothing
#     on the server changes (action move: POP3 has no folders); a second
#     --once records nothing;
#   - STLS with action delete: a recognised bounce is deleted only after
#     its record was committed (a message the database refuses stays on
#     the server), ordinary mail is never deleted, a rerun records nothing;
#   - a wrong password fails that mailbox alone and backs it off in the
#     scheduled loop, and no password reaches the log;
#   - an untrusted certificate is refused;
#   - a server without UIDL, with an invalid UIDL, or with one UIDL twice
#     (tests/pop3_fake.py) is refused with a clear line.
# Skips (77) when Dovecot, its pop3d or PostgreSQL are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
DOVECOT_DIR=
FAKE=
cleanup() {
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

start_dovecot 17
if [ -z "$POP3_PORT" ]; then
	echo "no dovecot-pop3d: skipped"
	exit 77
fi

new_database pop3

fails=0
n=0
seq=0
conf() {
	file=$1
	shift
	{
		echo 'log = "stderr";'
		echo 'shops = ( { id = "shop1"; name = "Shop 1";'
		echo '  sender_domains = "bounce.test"; mailboxes = ('
		sep=
		for m in "$@"; do
			printf '%s%s\n' "$sep" "$m"
			sep=,
		done
		echo '  ); } );'
	} >"$file"
}
MD1="$DOVECOT_DIR/home/test@example.jp/Maildir"
MD2="$DOVECOT_DIR/home/other@example.jp/Maildir"
printf 'secret\n' >"$T/pw1"
printf 'wrong-pw-42\n' >"$T/pwbad"
OTHER_PW=secret2
export OTHER_PW
POP3S="{ name = \"pop3s\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $POP3S_PORT; tls = \"implicit\"; ca_file = \"$DOVECOT_CERT\";
  user = \"test@example.jp\"; password_file = \"$T/pw1\"; }"
STLS="{ name = \"stls\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $POP3_PORT; tls = \"starttls\"; ca_file = \"$DOVECOT_CERT\";
  user = \"other@example.jp\"; password_env = \"OTHER_PW\"; action = \"delete\"; }"
BAD="{ name = \"bad\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $POP3S_PORT; tls = \"implicit\"; ca_file = \"$DOVECOT_CERT\";
  user = \"test@example.jp\"; password_file = \"$T/pwbad\"; poll_interval = 10; }"
UNTRUSTED="{ name = \"untrusted\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $POP3S_PORT; tls = \"implicit\";
  user = \"test@example.jp\"; password_file = \"$T/pw1\"; }"

check "migrate" 0 "schema version" "$BC" db migrate

# --- POP3S: records once, changes nothing on the server -------------------
bounces=$(ls "$FIX"/postfix/*.eml | LC_ALL=C sort | head -8; ls "$FIX"/exim/*.eml | LC_ALL=C sort | head -7)
# shellcheck disable=SC2086
deliver "$MD1" $bounces "$FIX/core/attached-eml-not-bounce.eml" "$FIX/core/empty.eml"
conf "$T/pop3s.conf" "$POP3S"
check "pop3s --once" 0 "shop1/pop3s: 17 messages: 17 recorded, 0 already recorded, 0 failed" \
    "$BD" --once -c "$T/pop3s.conf"
same "pop3s: 15 bounces recorded" 15 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'pop3s' AND kind = 'dsn'")"
same "pop3s: non-bounce and unparseable recorded" "none:1 error:1" \
    "$(sql "SELECT string_agg(kind || ':' || n, ' ' ORDER BY kind DESC) FROM (SELECT kind, count(*) n FROM messages WHERE mailbox_id = 'pop3s' AND kind IN ('none','error') GROUP BY kind) k")"
same "pop3s: keys are uidl:UIDL" 17 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'pop3s' AND msg_key ~ '^uidl:[!-~]{1,70}\$'")"
same "pop3s: each message once" 17 "$(sql "SELECT count(DISTINCT sha256) FROM messages WHERE mailbox_id = 'pop3s'")"
same "pop3s: nothing deleted on the server" 17 "$(files "$MD1")"
check "pop3s again" 0 "" "$BD" --once -c "$T/pop3s.conf"
if grep -q "messages\?:" "$T/out"; then
	echo "FAIL pop3s again: messages were fetched"; cat "$T/out"; fails=$((fails + 1))
fi
same "pop3s again: nothing new" 17 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'pop3s'")"
deliver "$MD1" "$FIX/postfix/au-unknown-failed.eml"
check "pop3s: only the new message" 0 "shop1/pop3s: 1 message: 1 recorded, 0 already recorded" \
    "$BD" --once -c "$T/pop3s.conf"

# --- STLS, action delete: DELE only after COMMIT ----------------------------
# the database refuses one bounce (a trigger): it must stay on the server
sql "CREATE FUNCTION pop3_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF position('X-Test-Refuse-Record'::bytea IN NEW.raw) > 0 THEN
		RAISE EXCEPTION 'refused by the test';
	END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER pop3_refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION pop3_refuse();" >/dev/null
{ printf 'X-Test-Refuse-Record: yes\n'; cat "$FIX/postfix/au-filtered-failed.eml"; } >"$T/refused.eml"
stls=$(ls "$FIX"/postfix/*.eml | LC_ALL=C sort | sed -n '9,14p')
# shellcheck disable=SC2086
deliver "$MD2" $stls "$FIX/core/attached-eml-not-bounce.eml" "$T/refused.eml"
conf "$T/stls.conf" "$STLS"
check "stls --once: the refused record fails the run" 1 "shop1/stls: 8 messages: 7 recorded, 0 already recorded, 1 failed" \
    "$BD" --once -c "$T/stls.conf"
cp "$T/out" "$T/stls.log"
check "stls: the refused message is named" 0 "not recorded, left on the server: " cat "$T/stls.log"
same "stls: 6 bounces recorded" 6 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'stls' AND kind = 'dsn'")"
same "stls: left on the server: non-bounce + unrecorded" 2 "$(files "$MD2")"
same "stls: the refused one is still there" 1 "$(grep -l X-Test-Refuse-Record "$MD2"/new/* "$MD2"/cur/* 2>/dev/null | wc -l | tr -d ' ')"
sql "DROP TRIGGER pop3_refuse ON messages" >/dev/null
check "stls again: the refused one now recorded and deleted" 0 "shop1/stls: 1 message: 1 recorded" \
    "$BD" --once -c "$T/stls.conf"
same "stls: only the non-bounce left" 1 "$(files "$MD2")"
same "stls: every deleted message has its record" 7 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'stls' AND kind = 'dsn'")"
check "stls third run: nothing" 0 "" "$BD" --once -c "$T/stls.conf"
same "stls third run: nothing new" 8 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'stls'")"

# --- untrusted certificate --------------------------------------------------
conf "$T/untrusted.conf" "$UNTRUSTED"
check "untrusted certificate refused" 1 "shop1/untrusted: pop3 127.0.0.1:$POP3S_PORT: TLS: the certificate of 127.0.0.1 is not trusted" \
    "$BD" --once -c "$T/untrusted.conf"

# --- wrong password: that mailbox backs off, the other goes on ------------
deliver "$MD1" "$FIX/exim/$(ls "$FIX"/exim | LC_ALL=C sort | sed -n '20p')"
conf "$T/two.conf" "$BAD" "$(echo "$POP3S" | sed 's/port = /poll_interval = 10; port = /')"
"$BD" -f -c "$T/two.conf" 2>"$T/two.log" &
pid=$!
waited=0
until { grep -q "shop1/bad: failed 1 time in a row" "$T/two.log" &&
    grep -q "shop1/pop3s: 1 message" "$T/two.log"; } || [ $waited -ge 100 ]; do
	sleep 0.1; waited=$((waited + 1))
done
kill -TERM $pid
wait $pid
check "wrong password: clear line" 0 "shop1/bad: pop3 127.0.0.1:$POP3S_PORT: PASS: login refused" cat "$T/two.log"
check "wrong password: backs off" 0 "shop1/bad: failed 1 time in a row; next attempt in about 60 s" cat "$T/two.log"
check "wrong password: the other mailbox is polled" 0 "shop1/pop3s: 1 message: 1 recorded" cat "$T/two.log"
n=$((n + 1))
if grep -q "secret\|wrong-pw-42" "$T/two.log"; then
	echo "FAIL a password reached the log"; fails=$((fails + 1))
else
	echo "ok   no password in the log"
fi

# --- broken servers (tests/pop3_fake.py, plaintext on loopback) ------------
FAKE_PORT=$((POP3_PORT + 7))
for mode in nouidl baduidl dupuidl; do
	/usr/bin/python3 "$top_srcdir/tests/pop3_fake.py" $FAKE_PORT $mode >"$T/fake.out" 2>&1 &
	FAKE=$!
	waited=0
	until grep -q ready "$T/fake.out" || [ $waited -ge 50 ]; do
		sleep 0.1; waited=$((waited + 1))
	done
	conf "$T/fake.conf" "{ name = \"$mode\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $FAKE_PORT; tls = \"none\"; allow_plaintext = true;
  user = \"u\"; password_file = \"$T/pw1\"; action = \"delete\"; }"
	case $mode in
	nouidl) want="does not offer UIDL" ;;
	baduidl) want="message 1: the server sent an invalid UIDL" ;;
	dupuidl) want="message 2: the server sent the UIDL of another message again" ;;
	esac
	check "$mode refused" 1 "shop1/$mode: pop3 127.0.0.1:$FAKE_PORT: " "$BD" --once -c "$T/fake.conf"
	cp "$T/out" "$T/fake.log"
	check "$mode: says why" 0 "$want" cat "$T/fake.log"
	same "$mode: nothing recorded" 0 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = '$mode'")"
	kill $FAKE 2>/dev/null
	wait $FAKE 2>/dev/null
	FAKE=
done

finish
