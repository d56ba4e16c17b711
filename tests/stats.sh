#!/bin/sh
# stats.sh - `bouncectl stats` against a throwaway PostgreSQL (tests/pg.sh):
# the Postfix fixtures ingested into shop1 and a Maildir mailbox polled by
# bounced; every count of the table, CSV and JSON output is checked
# against the SQL views the platform reads; how the polls went (an ok
# poll, a failed one with the Maildir gone, an ok one again); the Prometheus output is
# checked line by line against the text exposition format (HELP/TYPE
# before the samples, one group per metric, escaped label values) and
# written atomically with --output; --shop, bad usage, an unwritable
# --output.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
trap 'rm -rf "$T"' EXIT
new_database stats

fails=0
n=0
PY=/usr/bin/python3
# json EXPR: evaluates EXPR over the stats JSON (bound to s) in Python
json() {
	$PY -c "import json,sys; s = json.load(open('$T/stats.json')); print($1)"
}

mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
cat >"$T/bounced.conf" <<CONF
log = "stderr";
shops = (
	{ id = "shop1"; name = "Shop One"; sender_domains = "bounce.test";
	  mailboxes = ( { name = "local"; protocol = "maildir"; path = "$T/md"; } ); },
	{ id = "shop2"; sender_domains = "two.example"; dry_run = true; }
);
CONF
check "stats before migrate" 1 "run 'bouncectl db migrate'" "$BC" stats
check "migrate" 0 "2 shops synchronised" "$BC" db migrate -c "$T/bounced.conf"
check "stats on an empty database" 0 "(2 rows)" "$BC" stats
check "ingest" 0 "" "$BC" ingest --shop shop1 "$FIX"/postfix/*.eml
i=0
for f in "$FIX"/exim/*.eml "$FIX/core/attached-eml-not-bounce.eml" "$FIX/core/empty.eml"; do
	i=$((i + 1))
	cp "$f" "$T/md/new/$i.M$i.stats-test"
done
check "bounced --once" 0 "shop1/local: $i messages: $i recorded" \
    "$BD" --once -c "$T/bounced.conf"
# a lease and an awkward mailbox name, as another instance might leave them
sql "INSERT INTO mailboxes (shop_id, mailbox_id, protocol, lease_owner, lease_until) VALUES ('shop2', 'we\"ird box', 'imap', 'host-b:123', now() + interval '1 minute')" >/dev/null

check "table" 0 "(5 rows)" "$BC" stats
check "table: the Maildir mailbox" 0 "" sh -c "\"$BC\" stats | grep -q '^shop1  *local  *maildir  *20[0-9-]* [0-9:]*  *$i  '"
check "csv" 0 "shop,mailbox,protocol,last_recorded,messages,bounces" \
    "$BC" stats --format csv
check "json" 0 "" sh -c "\"$BC\" stats --format json >\"$T/stats.json\""
same "json: a row per shop and mailbox" \
    "shop1/,shop1/ingest,shop1/local,shop2/,shop2/we\"ird box" \
    "$(json "','.join(r['shop'] + '/' + r['mailbox'] for r in s)")"
want=$(sql "SELECT count(*) FROM messages WHERE shop_id = 'shop1' AND mailbox_id = 'local'")
same "json: messages of the Maildir mailbox" "$want" \
    "$(json "[r['messages'] for r in s if r['mailbox'] == 'local'][0]")"
same "json: bounces + autoreplies + complaints + not_bounce + unparseable = messages" \
    "True" "$(json "all(r['bounces'] + r['autoreplies'] + r['complaints'] + r['not_bounce'] + r['unparseable'] == r['messages'] for r in s)")"
same "json: Maildir not-a-bounce and unparseable" "1 1" \
    "$(json "' '.join(str(r[k]) for r in s if r['mailbox'] == 'local' for k in ('not_bounce', 'unparseable'))")"
want=$(sql "SELECT count(*) FROM undeliverable_report WHERE shop_id = 'shop1'")
same "json: shop failures = the undeliverable report" "$want" \
    "$(json "[r['failures'] for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
same "json: shop failures = sum of failures_by_reason" "True" \
    "$(json "all(r['failures'] == sum(r['failures_by_reason'].values()) for r in s)")"
want=$(sql "SELECT count(*) FROM undeliverable_report WHERE shop_id = 'shop1' AND reason = 'userunknown'")
same "json: userunknown failures" "$want" \
    "$(json "[r['failures_by_reason'].get('userunknown', 0) for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
want=$(sql "SELECT count(*) FROM suppression_list WHERE shop_id = 'shop1'")
same "json: suppressed = the suppression list" "$want" \
    "$(json "[r['suppressed'] for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
want=$(sql "SELECT count(*) FROM shop_alerts WHERE shop_id = 'shop1'")
same "json: sender alerts" "$want" \
    "$(json "[r['sender_alerts'] for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
# backlog: not sent and not given up (failed_at, from 003_notify on);
# errors: given up, or waiting for a retry after an error
want=$(sql "SELECT count(*) FROM notify_outbox o WHERE shop_id = 'shop1' AND sent_at IS NULL AND (to_jsonb(o) ->> 'failed_at') IS NULL")
same "json: notification backlog" "$want" \
    "$(json "[r['notify_backlog'] for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
want=$(sql "SELECT count(*) FROM notify_outbox o WHERE shop_id = 'shop1' AND sent_at IS NULL AND (last_error IS NOT NULL OR (to_jsonb(o) ->> 'failed_at') IS NOT NULL)")
same "json: notification errors" "$want" \
    "$(json "[r['notify_errors'] for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]")"
same "json: shop totals = sum of its mailboxes" "True" \
    "$(json "all(sh['messages'] == sum(r['messages'] for r in s if r['shop'] == sh['shop'] and r['mailbox']) for sh in s if not sh['mailbox'])")"
same "json: lease holder" "host-b:123" \
    "$(json "[r['lease_owner'] for r in s if r['shop'] == 'shop2' and r['mailbox']][0]")"
check "--shop" 0 "(2 rows)" "$BC" stats --shop shop2
check "--shop unknown" 0 "(0 rows)" "$BC" stats --shop nosuch

# --- how the polls went (db/poll_status.h, recorded by bounced) -------------
# the first poll above was ok; then the Maildir goes away, then comes back
LOCAL="[r for r in s if r['mailbox'] == 'local'][0]"
SHOP1="[r for r in s if r['shop'] == 'shop1' and r['mailbox'] == ''][0]"
same "poll 1: ok, what it recorded, counters" "ok $i 1 0 0 None" \
    "$(json "' '.join(str($LOCAL[k]) for k in ('last_poll_result', 'last_poll_recorded', 'polls', 'poll_errors', 'consecutive_failures', 'last_error'))")"
same "poll 1: last poll = last success, a JST time" "True True" \
    "$(json "$LOCAL['last_poll'] == $LOCAL['last_success'], len($LOCAL['last_poll']) == 19")"
same "never polled: no poll columns" "None None 0" \
    "$(json "' '.join(str(r[k]) for r in s if r['shop'] == 'shop2' and r['mailbox'] for k in ('last_poll', 'last_poll_result', 'polls'))")"
check "table: poll columns" 0 "last_poll_result" "$BC" stats
mv "$T/md" "$T/md.away"
check "bounced --once: the Maildir is gone" 1 "shop1/local: maildir $T/md:" \
    "$BD" --once -c "$T/bounced.conf"
check "json" 0 "" sh -c "\"$BC\" stats --format json >\"$T/stats.json\""
same "poll 2: error, counters" "error 0 2 1 1" \
    "$(json "' '.join(str($LOCAL[k]) for k in ('last_poll_result', 'last_poll_recorded', 'polls', 'poll_errors', 'consecutive_failures'))")"
same "poll 2: the error is the log's" "maildir $T/md:" \
    "$(json "$LOCAL['last_error'][:len('maildir $T/md:')]")"
same "poll 2: the last success is the first poll" "True True" \
    "$(json "$LOCAL['last_success'] is not None, $LOCAL['last_error_at'] == $LOCAL['last_poll']")"
same "poll 2: the shop's row shows it" "error 1 True" \
    "$(json "$SHOP1['last_poll_result'], $SHOP1['consecutive_failures'], $SHOP1['last_error'] == $LOCAL['last_error']")"
mv "$T/md.away" "$T/md"
check "bounced --once: the Maildir is back" 0 "" "$BD" --once -c "$T/bounced.conf"
check "json" 0 "" sh -c "\"$BC\" stats --format json >\"$T/stats.json\""
same "poll 3: ok again, the run of failures reset" "ok 0 3 1 0" \
    "$(json "' '.join(str($LOCAL[k]) for k in ('last_poll_result', 'last_poll_recorded', 'polls', 'poll_errors', 'consecutive_failures'))")"
same "poll 3: the error is kept, older than the success" "True True" \
    "$(json "$LOCAL['last_error'].startswith('maildir'), $LOCAL['last_error_at'] <= $LOCAL['last_success']")"
want=$(sql "SELECT last_poll_recorded || ' ' || polls || ' ' || poll_errors FROM mailboxes WHERE mailbox_id = 'local'")
same "poll 3: stats = the mailbox row" "$want" \
    "$(json "' '.join(str($LOCAL[k]) for k in ('last_poll_recorded', 'polls', 'poll_errors'))")"

# --- Prometheus ------------------------------------------------------------
check "prometheus" 0 "" sh -c "\"$BC\" stats --format prometheus >\"$T/stats.prom\""
# the exposition format: comments '# HELP name text' then '# TYPE name
# counter|gauge' for a metric before its samples, each metric in one
# group, samples 'name{label="value",...} number' with \\ \" \n escapes
if awk '
	function bad(why) { printf("line %d: %s: %s\n", NR, why, $0); err = 1 }
	/^# HELP / { if ($3 in done) bad("metric twice"); help = $3; next }
	/^# TYPE / {
		if ($3 != help) bad("TYPE without HELP")
		if ($4 != "counter" && $4 != "gauge") bad("type")
		cur = $3; done[cur] = 1; next
	}
	/^#/ { bad("comment"); next }
	{
		name = $0; sub(/[{ ].*/, "", name)
		if (name != cur) bad("sample outside its group")
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*",?)*\} -?[0-9.e+]+$/)
			bad("sample syntax")
		samples++
	}
	END { if (samples < 20) { print "only " samples " samples"; err = 1 }; exit err }
    ' "$T/stats.prom"; then
	echo "ok   prometheus: valid text format"
else
	echo "FAIL prometheus: not the text format"; fails=$((fails + 1))
fi
n=$((n + 1))
want=$(sql "SELECT count(*) FROM suppression_list WHERE shop_id = 'shop1'")
check "prometheus: suppressed" 0 "bounced_suppressed_addresses{shop=\"shop1\"} $want" cat "$T/stats.prom"
want=$(sql "SELECT count(*) FROM undeliverable_report u JOIN messages m ON m.shop_id = u.shop_id AND m.mailbox_id = u.mailbox_id AND m.msg_key = u.msg_key WHERE u.mailbox_id = 'local' AND u.reason = 'userunknown'")
check "prometheus: failures by reason" 0 "bounced_failures_total{shop=\"shop1\",mailbox=\"local\",reason=\"userunknown\"} $want" cat "$T/stats.prom"
check "prometheus: messages by kind" 0 "bounced_messages_total{shop=\"shop1\",mailbox=\"local\",kind=\"unparseable\"} 1" cat "$T/stats.prom"
check "prometheus: label escaping" 0 "mailbox=\"we\\\"ird box\"" cat "$T/stats.prom"
check "prometheus: last poll ok" 0 "bounced_mailbox_last_poll_ok{shop=\"shop1\",mailbox=\"local\"} 1" cat "$T/stats.prom"
check "prometheus: polls" 0 "bounced_mailbox_polls_total{shop=\"shop1\",mailbox=\"local\"} 3" cat "$T/stats.prom"
check "prometheus: poll errors" 0 "bounced_mailbox_poll_errors_total{shop=\"shop1\",mailbox=\"local\"} 1" cat "$T/stats.prom"
check "prometheus: consecutive failures" 0 "bounced_mailbox_consecutive_poll_failures{shop=\"shop1\",mailbox=\"local\"} 0" cat "$T/stats.prom"
check "prometheus: never polled has counters, no last poll" 0 "bounced_mailbox_polls_total{shop=\"shop2\",mailbox=\"we\\\"ird box\"} 0" cat "$T/stats.prom"
same "prometheus: no last poll time for it" 0 "$(grep -c '^bounced_mailbox_last_poll_timestamp_seconds{shop="shop2"' "$T/stats.prom")"
check "prometheus: lease" 0 "bounced_mailbox_lease_until_timestamp_seconds{shop=\"shop2\",mailbox=\"we\\\"ird box\",owner=\"host-b:123\"} 1" cat "$T/stats.prom"
now=$(date +%s)
last=$(sed -n 's/^bounced_last_recorded_timestamp_seconds{shop="shop1",mailbox="local"} //p' "$T/stats.prom")
same "prometheus: last recorded is Unix time" "yes" \
    "$([ -n "$last" ] && [ "$last" -le "$now" ] && [ "$last" -gt $((now - 600)) ] && echo yes)"
for m in last_poll last_success last_error; do
	last=$(sed -n "s/^bounced_mailbox_${m}_timestamp_seconds{shop=\"shop1\",mailbox=\"local\"} //p" "$T/stats.prom")
	same "prometheus: $m is Unix time" "yes" \
	    "$([ -n "$last" ] && [ "$last" -le "$now" ] && [ "$last" -gt $((now - 600)) ] && echo yes)"
done

# --output: atomic replacement for node_exporter's textfile collector
mkdir "$T/textfile"
echo old >"$T/textfile/bounced.prom"
check "--output" 0 "" "$BC" stats --format prometheus --output "$T/textfile/bounced.prom"
same "--output: replaced, nothing left beside it" "bounced.prom" "$(ls "$T/textfile")"
same "--output: same as stdout" "" \
    "$(grep -v '^bounced_mailbox_lease\|^bounced_last' "$T/textfile/bounced.prom" | diff - "$(grep -v '^bounced_mailbox_lease\|^bounced_last' "$T/stats.prom" >"$T/p2"; echo "$T/p2")")"
same "--output: mode 0644" "644" "$(stat -c %a "$T/textfile/bounced.prom")"
check "--output csv" 0 "" "$BC" stats --format csv --output "$T/stats.csv"
same "--output csv: the header" "shop,mailbox,protocol" "$(head -n 1 "$T/stats.csv" | cut -d, -f1-3)"
check "--output unwritable" 1 "$T/nodir/x.prom" \
    "$BC" stats --format prometheus --output "$T/nodir/x.prom"
check "bad format" 2 "unknown format" "$BC" stats --format xml
check "extra argument" 2 "usage: bouncectl stats" "$BC" stats extra
check "help" 0 "--format prometheus" "$BC" stats --help
check "bouncectl --help lists stats" 0 "stats [--shop S]" "$BC" --help

finish
