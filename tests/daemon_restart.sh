#!/bin/sh
# daemon_restart.sh - bounced recovers from what goes wrong around it,
# against a private Dovecot (tests/dovecot.sh) and PostgreSQL (tests/pg.sh):
#   - the IMAP server killed (as in a crash) and started again while bounced runs its
#     scheduled loop over 4,000 messages (stopped as soon as the first
#     ones are recorded, 50 more delivered while it is down): the mailbox
#     fails and backs off, works again when Dovecot is back, and every
#     message is recorded exactly once and moved, none lost;
#   - an ack that fails after the COMMIT (the processed folder cannot be
#     created, DELE refused) over IMAP, Maildir and POP3: that cycle ends
#     at the first such message (after the batch it was recorded with),
#     and the next poll finds them again as already recorded
#     and acks them then, with no second row;
#   - a folder deleted and created again (a new UIDVALIDITY) with the same
#     messages in it: the cursor is reset, the new UIDVALIDITY recorded,
#     the old messages are only acked and the new one recorded.
# Skips (77) only when the Dovecot or PostgreSQL binaries are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
PY=/usr/bin/python3
DOVECOT_DIR=
pid=
fpid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

start_dovecot 17

new_database restart
"$BC" db migrate >/dev/null || exit 99

fails=0
n=0
owned() {
	[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$DOVECOT_DIR/home" 2>/dev/null
	return 0
}
# fill DIR FROM TO: bounces numbered FROM..TO (each unique: X-Test-Seq)
# written into the Maildir folder DIR
fill() {
	ls "$FIX"/postfix/*.eml "$FIX"/exim/*.eml | LC_ALL=C sort >"$T/fixtures"
	nfix=$(wc -l <"$T/fixtures")
	i=$2
	while [ "$i" -le "$3" ]; do
		f=$(sed -n "$(( (i % nfix) + 1 ))p" "$T/fixtures")
		{ printf 'X-Test-Seq: %d\n' "$i"; cat "$f"; } >"$1/tmp/t$i"
		mv "$1/tmp/t$i" "$1/new/$i.M$i.restart-test"
		i=$((i + 1))
	done
	owned
}
# wait_for FILE PATTERN TENTHS
wait_for() {
	waited=0
	until grep -qF -- "$2" "$1" || [ $waited -ge "$3" ]; do
		sleep 0.1; waited=$((waited + 1))
	done
}
# seqs DIR...: the distinct X-Test-Seq numbers in the folders
seqs() {
	for d in "$@"; do
		find "$d/new" "$d/cur" -type f 2>/dev/null
	done | xargs -r grep -h '^X-Test-Seq:' | sort -u | wc -l | tr -d ' '
}
conf() {
	file=$1
	shift
	{
		echo 'log = "stderr";'
		echo 'shops = ( { id = "shop1"; sender_domains = "bounce.test";'
		echo '  mailboxes = ('
		sep=
		for m in "$@"; do
			printf '%s%s\n' "$sep" "$m"
			sep=,
		done
		echo '  ); } );'
	} >"$file"
}
printf 'secret\n' >"$T/pw1"
OTHER_PW=secret2
export OTHER_PW
MD1="$DOVECOT_DIR/home/test@example.jp/Maildir"
MD2="$DOVECOT_DIR/home/other@example.jp/Maildir"

# --- the IMAP server restarted under the scheduled loop -------------------
conf "$T/loop.conf" "{ name = \"loop\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAPS_PORT; ca_file = \"$DOVECOT_CERT\"; user = \"test@example.jp\";
  password_file = \"$T/pw1\"; poll_interval = 10; batch_size = 50; }"
fill "$MD1" 1 4000
"$BD" -f -c "$T/loop.conf" 2>"$T/loop.log" &
pid=$!
waited=0
until [ "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'loop'")" -gt 0 ] ||
    [ $waited -ge 300 ]; do
	sleep 0.05; waited=$((waited + 1))
done
t_halt=$(date +%s%N)
before=$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'loop'")
"$top_srcdir/tests/dovecot.sh" halt "$DOVECOT_DIR" || exit 99
at_stop=$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'loop'")
inbox=$(files "$MD1")
t_halt=$(( ($(date +%s%N) - t_halt) / 1000000 ))
echo "     Dovecot killed: $before recorded when killed, $at_stop when gone, $inbox still in INBOX (kill took $t_halt ms)"
n=$((n + 1))
if [ "$at_stop" -lt 4000 ] && [ "$inbox" -gt 0 ]; then
	echo "ok   restart: Dovecot killed in the middle of the cycle"
else
	echo "FAIL restart: the cycle was over before Dovecot stopped"; fails=$((fails + 1))
fi
fill "$MD1" 4001 4050
wait_for "$T/loop.log" "shop1/loop: failed 1 time in a row" 300
check "restart: the mailbox fails and backs off" 0 "shop1/loop: failed 1 time in a row; next attempt in about" cat "$T/loop.log"
"$top_srcdir/tests/dovecot.sh" resume "$DOVECOT_DIR" || exit 99
wait_for "$T/loop.log" "shop1/loop: working again after" 900
check "restart: works again when Dovecot is back" 0 "shop1/loop: working again after" cat "$T/loop.log"
waited=0
until [ "$(files "$MD1")" = 0 ] || [ $waited -ge 600 ]; do
	sleep 0.1; waited=$((waited + 1))
done
kill -TERM $pid
wait $pid
same "restart: TERM exits 0" 0 $?
pid=
same "restart: every message recorded" 4050 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'loop'")"
same "restart: each exactly once" 4050 "$(sql "SELECT count(DISTINCT sha256) FROM messages WHERE mailbox_id = 'loop'")"
same "restart: cursor at the last UID" 4050 "$(sql "SELECT last_uid FROM mailboxes WHERE mailbox_id = 'loop'")"
same "restart: INBOX empty" 0 "$(files "$MD1")"
same "restart: every message moved, none lost" 4050 \
    "$(seqs "$MD1/.bounced.processed" "$MD1/.bounced.not-a-bounce" "$MD1/.bounced.unparseable")"
rm -rf "$MD1/.bounced.processed" "$MD1/.bounced.not-a-bounce" "$MD1/.bounced.unparseable"

# --- an ack that fails after the COMMIT: acked at the next poll ----------
IMAPS="{ name = \"imaps\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAPS_PORT; ca_file = \"$DOVECOT_CERT\"; user = \"test@example.jp\";
  password_file = \"$T/pw1\"; processed_folder = \"blocked\"; }"
conf "$T/imaps.conf" "$IMAPS"
fill "$MD1" 2001 2003
# a file where Dovecot would create the folder: CREATE and MOVE fail
: >"$MD1/.blocked"
owned
check "imap: move fails after the COMMIT" 1 "recorded but not moved" "$BD" --once -c "$T/imaps.conf"
# the three are recorded in one transaction (a batch), then acked
same "imap: the batch recorded, the cycle ended" 3 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps'")"
same "imap: left in INBOX" 3 "$(files "$MD1")"
rm -f "$MD1/.blocked"
check "imap: acked at the next poll" 0 "shop1/imaps: 3 messages: 0 recorded, 3 already recorded, 0 failed" \
    "$BD" --once -c "$T/imaps.conf"
same "imap: no second row" 3 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'imaps'")"
same "imap: moved now" 3 "$(files "$MD1/.blocked")"
same "imap: INBOX empty" 0 "$(files "$MD1")"
check "imap: then nothing to do" 0 "" "$BD" --once -c "$T/imaps.conf"
if grep -q "messages\?:" "$T/out"; then
	echo "FAIL imap: a message was seen again"; cat "$T/out"; fails=$((fails + 1))
fi

mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
conf "$T/md.conf" "{ name = \"local\"; protocol = \"maildir\"; path = \"$T/md\"; }"
fill "$T/md" 3001 3002
: >"$T/md/.bounced.processed"
check "maildir: move fails after the COMMIT" 1 "recorded but not moved" "$BD" --once -c "$T/md.conf"
same "maildir: the batch recorded, the cycle ended" 2 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'local'")"
rm -f "$T/md/.bounced.processed"
check "maildir: acked at the next poll" 0 "shop1/local: 2 messages: 0 recorded, 2 already recorded, 0 failed" \
    "$BD" --once -c "$T/md.conf"
same "maildir: no second row" 2 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'local'")"
same "maildir: moved now" 2 "$(files "$T/md/.bounced.processed")"
same "maildir: inbox empty" 0 "$(files "$T/md")"

FAKE_PORT=$((BASE_PORT + 900))
fill "$T/md" 4001 4001 # just to get a numbered bounce file
mv "$T/md/new/4001.M4001.restart-test" "$T/pop3.eml"
: >"$T/dele.refused"
$PY "$top_srcdir/tests/pop3_fake.py" $FAKE_PORT deletefail "$T/pop3.eml" "$T/dele.refused" >"$T/fake.out" 2>&1 &
fpid=$!
wait_for "$T/fake.out" ready 50
conf "$T/pop3.conf" "{ name = \"pop\"; protocol = \"pop3\"; host = \"127.0.0.1\";
  port = $FAKE_PORT; tls = \"none\"; allow_plaintext = true; user = \"u\";
  password_env = \"OTHER_PW\"; action = \"delete\"; }"
check "pop3: DELE fails after the COMMIT" 1 "recorded but not moved" "$BD" --once -c "$T/pop3.conf"
same "pop3: recorded" 1 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'pop' AND kind = 'dsn'")"
rm -f "$T/dele.refused"
check "pop3: deleted at the next poll" 0 "" "$BD" --once -c "$T/pop3.conf"
same "pop3: the server deleted it" 1 "$(grep -c '^deleted msg-1' "$T/fake.out")"
same "pop3: no second row" 1 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'pop'")"
kill $fpid
fpid=

# --- a new UIDVALIDITY: cursor reset, nothing recorded twice --------------
mkdir -p "$T/src"
fill "$T/md" 5001 5004
mv "$T/md/new/"500* "$T/src/"
mkdir -p "$MD2/.Bounces/new" "$MD2/.Bounces/cur" "$MD2/.Bounces/tmp"
cp "$T/src/5001."* "$T/src/5002."* "$T/src/5003."* "$MD2/.Bounces/new/"
owned
FLAG="{ name = \"flag\"; protocol = \"imap\"; host = \"127.0.0.1\";
  port = $IMAP_PORT; tls = \"starttls\"; ca_file = \"$DOVECOT_CERT\";
  user = \"other@example.jp\"; password_env = \"OTHER_PW\";
  folder = \"Bounces\"; action = \"flag\"; }"
conf "$T/flag.conf" "$FLAG"
check "uidvalidity: first poll" 0 "shop1/flag: 3 messages: 3 recorded" "$BD" --once -c "$T/flag.conf"
v1=$(sql "SELECT uidvalidity FROM mailboxes WHERE mailbox_id = 'flag'")
sleep 1 # Dovecot's UIDVALIDITY is a time stamp
# delete the folder and create it again with the same three and a new one
$PY - "$IMAP_PORT" "$T/src" >"$T/recreate.out" 2>&1 <<'EOF'
import imaplib, os, sys
port, src = int(sys.argv[1]), sys.argv[2]
m = imaplib.IMAP4("127.0.0.1", port)
m.login("other@example.jp", "secret2")
m.delete("Bounces")
m.create("Bounces")
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as fp:
        m.append("Bounces", None, None, fp.read())
typ, data = m.select("Bounces")
typ, data = m.response("UIDVALIDITY")
print("uidvalidity", data[0].decode())
m.logout()
EOF
v2=$(sed -n 's/^uidvalidity //p' "$T/recreate.out")
n=$((n + 1))
if [ -n "$v2" ] && [ "$v2" != "$v1" ]; then
	echo "ok   uidvalidity: the folder has a new UIDVALIDITY ($v1 -> $v2)"
else
	echo "FAIL uidvalidity: not changed ($v1 -> '$v2')"; cat "$T/recreate.out"
	fails=$((fails + 1))
fi
check "uidvalidity: old ones only acked, the new one recorded" 0 \
    "shop1/flag: 4 messages: 1 recorded, 3 already recorded, 0 failed" "$BD" --once -c "$T/flag.conf"
cp "$T/out" "$T/uidv.log"
check "uidvalidity: the change is logged" 0 "shop1/flag: UIDVALIDITY changed from $v1 to $v2: cursor reset" cat "$T/uidv.log"
same "uidvalidity: nothing recorded twice" 4 "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'flag'")"
same "uidvalidity: new cursor recorded" "$v2|4" "$(sql "SELECT uidvalidity || '|' || last_uid FROM mailboxes WHERE mailbox_id = 'flag'")"
same "uidvalidity: all flagged seen" 4 "$(find "$MD2/.Bounces/cur" -name '*:2,*S*' | wc -l | tr -d ' ')"
check "uidvalidity: then nothing to do" 0 "" "$BD" --once -c "$T/flag.conf"
if grep -q "messages\?:" "$T/out"; then
	echo "FAIL uidvalidity: a message was seen again"; cat "$T/out"; fails=$((fails + 1))
fi

finish
