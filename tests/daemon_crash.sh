#!/bin/sh
# daemon_crash.sh - kill -9 at random moments (issue 4 §7): bounced polls
# a Maildir of 2,000 messages in its scheduled loop and is killed with
# SIGKILL at least 20 times while it works (each time some random
# milliseconds after it recorded something; recording is slowed to at
# most ~500 messages/s by a trigger), and restarted each time,
# until every message is processed.  Then:
#   - every message is recorded exactly once (keys = file names);
#   - none was moved without its record: every file in the processed
#     folders has a row, and the inbox is empty;
#   - the restarted instances took over the dead ones' leases.
# The lease is 1 s (--lease 1), so a restart waits about that long.
# Skips (77) only when the PostgreSQL binaries are missing.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
TOTAL=${CRASH_MESSAGES:-2000}
KILLS=${CRASH_KILLS:-20}
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

new_database crash
"$BC" db migrate >/dev/null || exit 99
# 2 ms per recorded message (a trigger), so the kills land while work
# remains however fast the machine is, and often inside a transaction
psql -qX -c "CREATE FUNCTION crash_slow() RETURNS trigger LANGUAGE plpgsql
    AS \$\$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END \$\$;
CREATE TRIGGER crash_slow BEFORE INSERT ON messages FOR EACH ROW
    EXECUTE FUNCTION crash_slow();" || exit 99

fails=0
n=0
recorded() {
	sql "SELECT count(*) FROM messages"
}

MD="$T/md"
mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
# TOTAL messages, four real DSNs in turn, written directly (cheap)
i=0
for f in $(ls "$FIX"/postfix/*.eml "$FIX"/exim/*.eml | LC_ALL=C sort | head -4); do
	awk -v dir="$MD/new" -v from=$i -v total="$TOTAL" '
	    { line[NR] = $0 }
	    END {
		for (k = from + 1; k <= total; k += 4) {
			f = sprintf("%s/%05d.crash-test", dir, k)
			for (j = 1; j <= NR; j++)
				print line[j] > f
			close(f)
		}
	    }' "$f"
	i=$((i + 1))
done
same "messages written" "$TOTAL" "$(ls "$MD/new" | wc -l | tr -d ' ')"
# batches of 10 messages (one transaction each), so that each kill,
# which waits for some progress, leaves work for the next instance
printf 'log = "stderr";\nshops = ( { id = "shop1"; name = "Shop 1"; mailboxes = (\n{ name = "crash"; protocol = "maildir"; path = "%s"; poll_interval = 10; batch_size = 10; }\n); } );\n' \
    "$MD" >"$T/bounced.conf"

# kill -9 a moment after the instance made progress, restart, again
start=$(date +%s)
kills=0
while [ $kills -lt "$KILLS" ] && [ "$(recorded)" -lt "$TOTAL" ]; do
	before=$(recorded)
	"$BD" -f --lease 1 -c "$T/bounced.conf" 2>>"$T/bounced.log" &
	PID=$!
	waited=0
	while [ "$(recorded)" -le "$before" ] && [ $waited -lt 100 ]; do
		sleep 0.05; waited=$((waited + 1))
	done
	sleep "0.$(awk -v s="$$$kills" 'BEGIN { srand(s); printf "%03d", int(rand() * 80) }')"
	kill -9 $PID
	wait $PID 2>/dev/null
	PID=
	kills=$((kills + 1))
done
echo "     $kills kills after $(($(date +%s) - start)) s, $(recorded) of $TOTAL recorded"
n=$((n + 1))
if [ $kills -ge "$KILLS" ]; then
	echo "ok   killed $kills times while working"
else
	echo "FAIL only $kills kills before the work was done (too fast?)"; fails=$((fails + 1))
fi
# the last run, not killed, at full speed: until everything is processed
psql -qX -c "DROP TRIGGER crash_slow ON messages" || exit 99
"$BD" -f --lease 1 -c "$T/bounced.conf" 2>>"$T/bounced.log" &
PID=$!
waited=0
while { [ "$(recorded)" -lt "$TOTAL" ] ||
    [ -n "$(find "$MD/new" "$MD/cur" -type f | head -1)" ]; } && [ $waited -lt 300 ]; do
	sleep 0.1; waited=$((waited + 1))
done
kill -TERM $PID
wait $PID
PID=

same "every message recorded" "$TOTAL" "$(recorded)"
same "each exactly once" "$TOTAL" "$(sql "SELECT count(DISTINCT msg_key) FROM messages WHERE msg_key ~ '^[0-9]{5}[.]crash-test\$'")"
same "inbox empty" 0 "$(find "$MD/new" "$MD/cur" -type f | wc -l | tr -d ' ')"
ls "$MD/.bounced.processed/cur" "$MD/.bounced.not-a-bounce/cur" \
    "$MD/.bounced.unparseable/cur" 2>/dev/null | sed -n 's/^\([0-9]*[.]crash-test\).*/\1/p' >"$T/moved"
same "every message moved once" "$TOTAL" "$(sort -u "$T/moved" | wc -l | tr -d ' ')"
same "no message moved without its record" 0 \
    "$(sql "SELECT count(*) FROM unnest(string_to_array('$(tr '\n' ' ' <"$T/moved")', ' ')) k WHERE k <> '' AND k NOT IN (SELECT msg_key FROM messages)")"
n=$((n + 1))
if grep -q "expired: taken over" "$T/bounced.log"; then
	echo "ok   dead instances' leases taken over"
else
	echo "FAIL no lease take-over logged"; fails=$((fails + 1))
fi
finish
