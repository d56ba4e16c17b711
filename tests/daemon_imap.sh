#!/bin/sh
# daemon_imap.sh - bounced end to end against a private Dovecot
# (tests/dovecot.sh) and a throwaway PostgreSQL (tests/pg.sh):
#   - IMAPS: 30 real Postfix/Exim DSNs, a non-bounce, an empty
#     (unparseable) and an oversized message: every bounce recorded once
#     and moved to the processed folder, the others to their folders, the
#     oversized one recorded without its body, INBOX empty; a second
#     --once records nothing;
#   - STARTTLS next to a wrong password: the bad mailbox fails with a
#     clear line and exit 1 while the good one is processed;
#   - a certificate not trusted (no ca_file) is refused;
#   - Maildir: the same, with keys = base file names;
#   - -t on a good and a bad configuration; startup errors (bad config,
#     unmigrated database) exit 3 with one clear line;
#   - the scheduled loop: polls, SIGHUP with an invalid file keeps the old
#     configuration, SIGTERM exits 0.
# Skips (77) only when the Dovecot or PostgreSQL binaries are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
DOVECOT_DIR=
cleanup() {
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

start_dovecot 13

new_database daemon

fails=0
n=0
# deliver MAILDIR FILE...: writes each file into MAILDIR/new
seq=0

MD1="$DOVECOT_DIR/home/test@example.jp/Maildir"
MD2="$DOVECOT_DIR/home/other@example.jp/Maildir"
printf 'secret\n' >"$T/pw1"
printf 'wrong\n' >"$T/pwbad"
OTHER_PW=secret2
export OTHER_PW

# conf FILE MAILBOXES...: a configuration with shop1 and these mailboxes
conf() {
	file=$1
	shift
	{
		echo 'log = "stderr";'
		echo 'defaults = { max_message_size = 1048576; };'
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
IMAPS="{ name = \"imaps\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAPS_PORT; tls = \"implicit\"; ca_file = \"$DOVECOT_CERT\";
  user = \"test@example.jp\"; password_file = \"$T/pw1\"; }"
BAD="{ name = \"bad\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAPS_PORT; tls = \"implicit\"; ca_file = \"$DOVECOT_CERT\";
  user = \"test@example.jp\"; password_file = \"$T/pwbad\"; }"
STARTTLS="{ name = \"starttls\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAP_PORT; tls = \"starttls\"; ca_file = \"$DOVECOT_CERT\";
  user = \"other@example.jp\"; password_env = \"OTHER_PW\"; }"
UNTRUSTED="{ name = \"untrusted\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAPS_PORT; tls = \"implicit\";
  user = \"test@example.jp\"; password_file = \"$T/pw1\"; }"
MAILDIR="{ name = \"local\"; protocol = \"maildir\"; path = \"$T/md\"; }"

# --- -t and startup errors ------------------------------------------------
conf "$T/imaps.conf" "$IMAPS"
check "-t good" 0 "configuration OK (1 shop, 1 mailbox)" "$BD" -t -c "$T/imaps.conf"
sed 's/tls = "implicit"/tls = "none"/' "$T/imaps.conf" >"$T/bad.conf"
check "-t bad" 1 "$T/bad.conf:5: shops.[0].mailboxes.[0]" "$BD" -t -c "$T/bad.conf"
check "-t bad says why" 1 "set allow_plaintext = true" "$BD" -t -c "$T/bad.conf"
check "-t missing file" 1 "$T/none.conf" "$BD" -t -c "$T/none.conf"
check "bad config exits 3" 3 "allow_plaintext" "$BD" --once -c "$T/bad.conf"
check "unmigrated database exits 3" 3 "run 'bouncectl db migrate'" \
    "$BD" --once -c "$T/imaps.conf"
check "usage" 2 "usage: bounced" "$BD" --bogus
check "help documents exit codes" 0 "Exit status:" "$BD" --help
check "migrate" 0 "schema version" "$BC" db migrate

# --- IMAPS ------------------------------------------------------------------
bounces=$(ls "$FIX"/postfix/*.eml | LC_ALL=C sort | head -15; ls "$FIX"/exim/*.eml | LC_ALL=C sort | head -15)
# shellcheck disable=SC2086
deliver "$MD1" $bounces "$FIX/core/attached-eml-not-bounce.eml" "$FIX/core/empty.eml"
# a message over max_message_size (1 MiB): recorded, never fetched
{ printf 'From: a@example.jp\nSubject: big\n\n'; head -c 1200000 /dev/zero | tr '\0' 'x' | fold -w 76; } >"$T/big.eml"
deliver "$MD1" "$T/big.eml"
check "imaps --once" 0 "shop1/imaps: 33 messages: 33 recorded, 0 already recorded, 0 failed" \
    "$BD" --once -c "$T/imaps.conf"
same "imaps: 30 bounces recorded" 30 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps' AND kind = 'dsn'")"
same "imaps: each once" 30 "$(sql "SELECT count(DISTINCT sha256) FROM messages WHERE mailbox_id = 'imaps' AND kind = 'dsn'")"
same "imaps: non-bounce recorded" 1 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps' AND kind = 'none'")"
same "imaps: unparseable recorded" 2 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps' AND kind = 'error'")"
same "imaps: oversized kept without body" "0|limit 1048576" "$(sql "SELECT length(raw) || '|' || substring(parse_error from 'limit [0-9]+') FROM messages WHERE mailbox_id = 'imaps' AND parse_error LIKE 'message too large: 12%'")"
same "imaps: results recorded" 30 "$(sql "SELECT count(DISTINCT message_id) FROM results WHERE message_shop_id = 'shop1'")"
same "imaps: cursor" "33" "$(sql "SELECT last_uid FROM mailboxes WHERE mailbox_id = 'imaps'")"
same "imaps: keys are UIDVALIDITY:UID" 33 "$(sql "SELECT count(*) FROM messages m JOIN mailboxes b USING (shop_id, mailbox_id) WHERE mailbox_id = 'imaps' AND msg_key = b.uidvalidity || ':' || split_part(msg_key, ':', 2)")"
same "imaps: processed folder" 30 "$(files "$MD1/.bounced.processed")"
same "imaps: not-a-bounce folder" 1 "$(files "$MD1/.bounced.not-a-bounce")"
same "imaps: unparseable folder" 2 "$(files "$MD1/.bounced.unparseable")"
same "imaps: INBOX empty" 0 "$(files "$MD1")"
check "imaps again" 0 "" "$BD" --once -c "$T/imaps.conf"
same "imaps again: nothing new" 33 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps'")"
if grep -q "messages:" "$T/out"; then
	echo "FAIL imaps again: messages were seen"; cat "$T/out"; fails=$((fails + 1))
fi
# replayed (cursor lost, e.g. a crash before the cursor existed): no-ops
deliver "$MD1" "$FIX/postfix/au-unknown-failed.eml"
sql "UPDATE mailboxes SET last_uid = 0 WHERE mailbox_id = 'imaps'" >/dev/null
check "new message after replay reset" 0 "1 message: 1 recorded" "$BD" --once -c "$T/imaps.conf"

# --- untrusted certificate ------------------------------------------------
conf "$T/untrusted.conf" "$UNTRUSTED"
deliver "$MD1" "$FIX/postfix/au-filtered-failed.eml"
check "untrusted certificate refused" 1 "shop1/untrusted: imap 127.0.0.1:$IMAPS_PORT: TLS: the certificate of 127.0.0.1 is not trusted" \
    "$BD" --once -c "$T/untrusted.conf"
same "untrusted: message left in INBOX" 1 "$(files "$MD1")"
rm -f "$MD1"/new/* "$MD1"/cur/*

# --- STARTTLS next to a wrong password ------------------------------------
starttls=$(ls "$FIX"/postfix/*.eml | LC_ALL=C sort | sed -n '16,25p')
# shellcheck disable=SC2086
deliver "$MD2" $starttls
conf "$T/two.conf" "$BAD" "$STARTTLS"
check "wrong password fails the run" 1 "shop1/bad: imap 127.0.0.1:$IMAPS_PORT: LOGIN: login refused" \
    "$BD" --once -c "$T/two.conf"
cp "$T/out" "$T/two.log"
check "good mailbox still processed" 0 "shop1/starttls: 10 messages: 10 recorded" \
    cat "$T/two.log"
if grep -q "secret\|wrong" "$T/two.log"; then
	echo "FAIL a password reached the log"; fails=$((fails + 1))
fi
same "starttls: 10 recorded" 10 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'starttls' AND kind = 'dsn'")"
same "starttls: processed folder" 10 "$(files "$MD2/.bounced.processed")"
same "starttls: INBOX empty" 0 "$(files "$MD2")"
conf "$T/starttls.conf" "$STARTTLS"
check "starttls again" 0 "" "$BD" --once -c "$T/starttls.conf"
same "starttls again: nothing new" 10 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'starttls'")"

# --- Maildir --------------------------------------------------------------
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
mdfix=$(ls "$FIX"/exim/*.eml | LC_ALL=C sort | sed -n '16,25p')
# shellcheck disable=SC2086
deliver "$T/md" $mdfix "$FIX/core/attached-eml-not-bounce.eml" "$FIX/core/empty.eml"
mv "$T/md/new/$seq.M$seq.bounced-test" "$T/md/cur/$seq.M$seq.bounced-test:2,S"
conf "$T/maildir.conf" "$MAILDIR"
check "maildir --once" 0 "shop1/local: 12 messages: 12 recorded, 0 already recorded, 0 failed" \
    "$BD" --once -c "$T/maildir.conf"
same "maildir: 10 bounces recorded" 10 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'local' AND kind = 'dsn'")"
same "maildir: key is the base name" 1 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'local' AND msg_key = '$seq.M$seq.bounced-test'")"
same "maildir: processed folder" 10 "$(files "$T/md/.bounced.processed")"
same "maildir: not-a-bounce folder" 1 "$(files "$T/md/.bounced.not-a-bounce")"
same "maildir: unparseable folder" 1 "$(files "$T/md/.bounced.unparseable")"
same "maildir: flags kept" 1 "$(ls "$T/md/.bounced.unparseable/cur" | grep -c ':2,S$')"
same "maildir: inbox empty" 0 "$(files "$T/md")"
# the same files again (as if an ack had been lost): replays, no new rows
cp "$T/md/.bounced.processed/cur/"* "$T/md/new/"
check "maildir replay" 0 "10 messages: 0 recorded, 10 already recorded" \
    "$BD" --once -c "$T/maildir.conf"
same "maildir replay: nothing new" 12 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'local'")"

# --- PostgreSQL stopped under a running daemon: nothing acked -----------
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
conf "$T/down.conf" "$MAILDIR"
sed -i 's/name = "local";/name = "local"; poll_interval = 10;/' "$T/down.conf"
"$BD" -f -c "$T/down.conf" 2>"$T/down.log" &
pid=$!
waited=0
until grep -q "started" "$T/down.log" || [ $waited -ge 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
sleep 3 # the first (empty) poll is done
as_pg "$PGBIN/pg_ctl" -D "$BOUNCED_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
downfix=$(ls "$FIX"/exim/*.eml | LC_ALL=C sort | sed -n '26,30p')
# shellcheck disable=SC2086
deliver "$T/md" $downfix
waited=0
until grep -q "failed 1 time in a row" "$T/down.log" || [ $waited -ge 150 ]; do
	sleep 0.1; waited=$((waited + 1))
done
check "database down: mailbox fails and backs off" 0 "shop1/local: failed 1 time in a row" cat "$T/down.log"
same "database down: nothing acked" 5 "$(files "$T/md")"
as_pg "$PGBIN/pg_ctl" -D "$BOUNCED_PG_DIR/data" -l "$BOUNCED_PG_DIR/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PGPORT -k $BOUNCED_PG_DIR -c fsync=off" start >/dev/null 2>&1
kill -TERM $pid
wait $pid
same "database down: TERM exits 0" 0 $?
check "database back: recorded" 0 "shop1/local: 5 messages: 5 recorded" \
    "$BD" --once -c "$T/maildir.conf"
same "database back: moved" 0 "$(files "$T/md")"

# --- the scheduled loop: SIGHUP, SIGTERM ------------------------------------
conf "$T/loop.conf" "$MAILDIR"
sed -i 's/name = "local";/name = "local"; poll_interval = 10;/' "$T/loop.conf"
deliver "$T/md" "$FIX/postfix/au-unknown-failed.eml"
"$BD" -f -c "$T/loop.conf" 2>"$T/loop.log" &
pid=$!
waited=0
until grep -q "1 message: 1 recorded" "$T/loop.log" || [ $waited -ge 100 ]; do
	sleep 0.1; waited=$((waited + 1))
done
check "loop polled" 0 "shop1/local: 1 message: 1 recorded" cat "$T/loop.log"
cp "$T/loop.conf" "$T/loop.good"
echo 'log = 5;' >>"$T/loop.conf"
kill -HUP $pid
waited=0
until grep -q "keeping the current configuration" "$T/loop.log" || [ $waited -ge 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
check "HUP with a bad file keeps the old one" 0 "reload: $T/loop.conf:" cat "$T/loop.log"
cp "$T/loop.good" "$T/loop.conf"
kill -HUP $pid
waited=0
until grep -q "configuration reloaded" "$T/loop.log" || [ $waited -ge 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
check "HUP reloads a good file" 0 "configuration reloaded from $T/loop.conf: 1 shop, 1 mailbox" cat "$T/loop.log"
kill -TERM $pid
waited=0
while kill -0 $pid 2>/dev/null && [ $waited -lt 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
wait $pid
same "TERM exits 0" 0 $?
check "TERM logged" 0 "stopping on signal" cat "$T/loop.log"

finish
