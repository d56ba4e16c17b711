#!/bin/sh
# daemon_idle.sh - IDLE (RFC 2177) between polls, against a private
# Dovecot (tests/dovecot.sh) and PostgreSQL (tests/pg.sh).  Two IMAP
# mailboxes with a 300 s poll interval, one with idle = false:
#   - a message delivered into the watched mailbox is recorded and moved
#     within seconds, again for a second message (the watch goes on);
#   - the same delivered into the idle = false mailbox waits for its
#     interval: not recorded meanwhile;
#   - SIGHUP reloads and the watch is opened again (a third message is
#     again recorded within seconds); SIGTERM still exits at once, 0.
# Skips (77) only when the Dovecot or PostgreSQL binaries are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
DOVECOT_DIR=
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

start_dovecot 19

new_database idle
"$BC" db migrate >/dev/null || exit 99

fails=0
n=0
# ok NAME CONDITION-STATUS DETAIL
ok() {
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: $3"
		fails=$((fails + 1))
	fi
}
seq=0
# count_lines FILE PATTERN: lines of FILE containing PATTERN
count_lines() {
	grep -cF -- "$2" "$1"
}
# wait_lines FILE PATTERN N TENTHS: waits until N lines match; prints the
# tenths of a second it took
wait_lines() {
	waited=0
	until [ "$(count_lines "$1" "$2")" -ge "$3" ] || [ $waited -ge "$4" ]; do
		sleep 0.1; waited=$((waited + 1))
	done
	echo $waited
}
printf 'secret\n' >"$T/pw1"
OTHER_PW=secret2
export OTHER_PW
MD1="$DOVECOT_DIR/home/test@example.jp/Maildir"
MD2="$DOVECOT_DIR/home/other@example.jp/Maildir"
cat >"$T/idle.conf" <<EOF
log = "stderr";
defaults = { poll_interval = 300; };
shops = ( { id = "shop1"; sender_domains = "bounce.test"; mailboxes = (
  { name = "watched"; protocol = "imap"; host = "127.0.0.1";
    port = $IMAPS_PORT; ca_file = "$DOVECOT_CERT";
    user = "test@example.jp"; password_file = "$T/pw1"; },
  { name = "plain"; protocol = "imap"; host = "127.0.0.1";
    port = $IMAP_PORT; tls = "starttls"; ca_file = "$DOVECOT_CERT";
    user = "other@example.jp"; password_env = "OTHER_PW"; idle = false; }
); } );
EOF
"$BD" -f -c "$T/idle.conf" 2>"$T/idle.log" &
pid=$!
t=$(wait_lines "$T/idle.log" "shop1/watched: watching the folder with IDLE" 1 100)
[ "$t" -lt 100 ]
ok "the IMAP mailbox is watched with IDLE" $? "$(cat "$T/idle.log")"
sleep 3 # both first polls (spread over 0-2 s) are done
same "the idle = false mailbox is not" 0 "$(count_lines "$T/idle.log" "shop1/plain: watching")"

postfix=$(ls "$FIX"/postfix/*.eml | LC_ALL=C sort | head -3)
set -- $postfix
deliver "$MD1" "$1"
deliver "$MD2" "$1"
t=$(wait_lines "$T/idle.log" "shop1/watched: 1 message: 1 recorded" 1 150)
[ "$t" -lt 100 ]
ok "IDLE: a new message is recorded within 10 s (poll interval 300 s)" $? \
    "took $t tenths: $(cat "$T/idle.log")"
echo "     recorded after $t tenths of a second"
same "IDLE: and moved" 0 "$(files "$MD1")"
sleep 2
same "idle = false: not recorded before its interval" 0 \
    "$(sql "SELECT count(*) FROM messages WHERE mailbox_id = 'plain'")"
same "idle = false: still in its INBOX" 1 "$(files "$MD2")"

deliver "$MD1" "$2"
t=$(wait_lines "$T/idle.log" "shop1/watched: 1 message: 1 recorded" 2 150)
[ "$t" -lt 100 ]
ok "IDLE: the watch goes on (a second message within 10 s)" $? "took $t tenths"

kill -HUP $pid
t=$(wait_lines "$T/idle.log" "configuration reloaded" 1 50)
t=$(wait_lines "$T/idle.log" "shop1/watched: watching the folder with IDLE" 2 100)
[ "$t" -lt 100 ]
ok "HUP: reloaded, the watch opened again" $? "$(cat "$T/idle.log")"
deliver "$MD1" "$3"
t=$(wait_lines "$T/idle.log" "shop1/watched: 1 message: 1 recorded" 3 150)
[ "$t" -lt 100 ]
ok "HUP: a third message within 10 s" $? "took $t tenths"
same "IDLE: three recorded, each once" 3 \
    "$(sql "SELECT count(DISTINCT msg_key) || '' FROM messages WHERE mailbox_id = 'watched'")"

kill -TERM $pid
waited=0
while kill -0 $pid 2>/dev/null && [ $waited -lt 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
wait $pid
same "TERM exits 0 within 5 s while watching" "0 yes" "$? $([ $waited -lt 50 ] && echo yes)"
pid=
same "TERM logged" 1 "$(count_lines "$T/idle.log" "stopping on signal")"
same "no password in the log" 0 "$(grep -c 'secret' "$T/idle.log")"

finish
