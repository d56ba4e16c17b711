#!/bin/sh
# daemon_lease.sh - three bounced over thirty Maildir mailboxes sharing
# one PostgreSQL (tests/pg.sh), issue 4 §6:
#   - every message is recorded exactly once and moved, no poll sees a
#     message another instance recorded ("0 already recorded" everywhere);
#   - database traces (triggers installed by this test): every message was
#     inserted by the instance holding its mailbox's lease at that moment
#     (application_name = the instance), and a lease only ever changed
#     hands when it was free, resting or expired;
#   - a lease left by a dead instance blocks its mailbox until it expires,
#     then is taken over (and logged).
# Skips (77) only when the PostgreSQL binaries are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
PIDS=
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

new_database lease

fails=0
n=0

MB=30
fixtures=$(ls "$FIX"/postfix/*.eml "$FIX"/exim/*.eml | LC_ALL=C sort | head -10)
# fill BATCH COUNT: COUNT messages into each mailbox
fill() {
	for i in $(seq -w 1 $MB); do
		k=0
		while [ $k -lt "$2" ]; do
			for f in $fixtures; do
				[ $k -ge "$2" ] && break
				k=$((k + 1))
				cp "$f" "$T/mb/$i/new/$1.$k.lease-test"
			done
		done
	done
}
{
	echo 'log = "stderr";'
	echo 'shops = ( { id = "shop1"; name = "Shop 1"; mailboxes = ('
	sep=
	for i in $(seq -w 1 $MB); do
		mkdir -p "$T/mb/$i/new" "$T/mb/$i/cur" "$T/mb/$i/tmp"
		printf '%s{ name = "mb%s"; protocol = "maildir"; path = "%s"; poll_interval = 10; }\n' \
		    "$sep" "$i" "$T/mb/$i"
		sep=,
	done
	echo '); } );'
} >"$T/bounced.conf"
"$BC" db migrate >/dev/null || exit 99

# the traces: who inserted each message under whose lease; lease changes
sql "CREATE TABLE msg_trace (mailbox_id text, msg_key text, inserter text, lease_owner text);
CREATE TABLE lease_trace (mailbox_id text, old_owner text, new_owner text,
    old_until timestamptz, at timestamptz);
CREATE FUNCTION msg_trace() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO msg_trace SELECT NEW.mailbox_id, NEW.msg_key,
	    current_setting('application_name'), b.lease_owner
	FROM mailboxes b WHERE b.shop_id = NEW.shop_id AND b.mailbox_id = NEW.mailbox_id;
	RETURN NEW;
END \$\$;
CREATE TRIGGER msg_trace AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION msg_trace();
CREATE FUNCTION lease_trace() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.lease_owner IS NOT NULL AND NEW.lease_owner IS DISTINCT FROM OLD.lease_owner THEN
		INSERT INTO lease_trace VALUES (NEW.mailbox_id, OLD.lease_owner,
		    NEW.lease_owner, OLD.lease_until, clock_timestamp());
	END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER lease_trace BEFORE UPDATE ON mailboxes FOR EACH ROW EXECUTE FUNCTION lease_trace();" >/dev/null || exit 99

# --- three instances, two batches -------------------------------------------
fill a 30
for inst in 1 2 3; do
	PGAPPNAME=inst$inst "$BD" -f --lease 30 -c "$T/bounced.conf" 2>"$T/inst$inst.log" &
	PIDS="$PIDS $!"
done
wait_recorded() {
	waited=0
	while [ "$(sql "SELECT count(*) FROM messages")" -lt "$1" ] && [ $waited -lt 300 ]; do
		sleep 0.1; waited=$((waited + 1))
	done
}
wait_recorded 900
fill b 10
wait_recorded 1200
sleep 1 # the last acks
for p in $PIDS; do kill -TERM "$p"; done
for p in $PIDS; do wait "$p"; done
PIDS=

same "1200 messages recorded" 1200 "$(sql "SELECT count(*) FROM messages")"
same "each exactly once" 1200 "$(sql "SELECT count(DISTINCT (mailbox_id, msg_key)) FROM messages")"
inbox=0 processed=0
for i in $(seq -w 1 $MB); do
	inbox=$((inbox + $(files "$T/mb/$i")))
	processed=$((processed + $(files "$T/mb/$i/.bounced.processed")))
done
same "inboxes empty" 0 "$inbox"
same "all moved to processed" 1200 "$processed"
same "no poll saw another's message or failed" 0 \
    "$(cat "$T"/inst*.log | grep ' recorded, ' | grep -cv ' recorded, 0 already recorded, 0 failed')"
# map application_name -> the instance id each logged at start
for inst in 1 2 3; do
	id=$(sed -n 's/.*started as \([^:]*:[0-9]*\):.*/\1/p' "$T/inst$inst.log")
	sql "UPDATE msg_trace SET inserter = '$id' WHERE inserter = 'inst$inst'" >/dev/null
done
same "every message inserted under its inserter's lease" "0" \
    "$(sql "SELECT count(*) FROM msg_trace WHERE lease_owner IS DISTINCT FROM inserter")"
same "leases changed hands only when free or expired" 0 \
    "$(sql "SELECT count(*) FROM lease_trace WHERE old_owner IS NOT NULL AND old_until > at")"
busy=$(sql "SELECT count(DISTINCT inserter) FROM msg_trace")
n=$((n + 1))
if [ "$busy" -ge 2 ]; then
	echo "ok   the work was shared ($busy instances recorded messages)"
else
	echo "FAIL only $busy instance recorded messages"; fails=$((fails + 1))
fi

# --- a dead instance's lease: blocks until it expires, then taken over ----
sql "UPDATE mailboxes SET lease_owner = 'deadhost:1', lease_until = now() + interval '3 seconds' WHERE mailbox_id = 'mb07'" >/dev/null
cp "$FIX/postfix/au-unknown-failed.eml" "$T/mb/07/new/dead.1.lease-test"
cp "$FIX/postfix/au-unknown-failed.eml" "$T/mb/08/new/dead.2.lease-test"
"$BD" --once -v -c "$T/bounced.conf" >"$T/once1.log" 2>&1
same "--once while leased elsewhere: exit 0" 0 $?
same "leased mailbox skipped" 1 "$(grep -c 'shop1/mb07: leased by deadhost:1' "$T/once1.log")"
same "the other mailbox polled" 1 "$(grep -c 'shop1/mb08: 1 message: 1 recorded' "$T/once1.log")"
same "leased mailbox untouched" 1 "$(files "$T/mb/07")"
sleep 3.5
"$BD" --once -c "$T/bounced.conf" >"$T/once2.log" 2>&1
same "after expiry: exit 0" 0 $?
same "after expiry: taken over" 1 "$(grep -c 'shop1/mb07: the lease of deadhost:1 expired: taken over by' "$T/once2.log")"
same "after expiry: recorded" 1 "$(grep -c 'shop1/mb07: 1 message: 1 recorded' "$T/once2.log")"
same "leases released" 0 "$(sql "SELECT count(*) FROM mailboxes WHERE lease_owner IS NOT NULL")"

finish
