#!/bin/sh
# db_cli.sh - the bouncectl database subcommands end to end against a
# throwaway PostgreSQL (tests/pg.sh): db migrate/status, shop add/list,
# config sync, ingest (files, stdin, replay, unparseable), lookup, report
# in three formats, suppression list/check/remove (audited), and the
# error messages for a bad connection, a missing shop, a bad address.
set -u
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/prologue.sh"
FIX="$top_srcdir/tests/fixtures/postfix"
trap 'rm -rf "$T"' EXIT
new_database cli

fails=0
n=0

cat >"$T/bounced.conf" <<CONF
shops = (
	{ id = "shop1"; name = "ショップ1"; sender_domains = "bounce.test";
	  notify = [ "owner@shop1.jp" ]; },
	{ id = "shop9"; sender_domains = [ "nine.jp" ]; dry_run = true; }
);
CONF

check "status before migrate" 1 "run 'bouncectl db migrate'" "$BC" db status
check "lookup before migrate" 1 "run 'bouncectl db migrate'" \
    "$BC" lookup --order X
check "migrate with config" 0 "2 shops synchronised" \
    "$BC" db migrate -c "$T/bounced.conf"
check "migrate again" 0 "0 migrations applied" "$BC" db migrate
check "status" 0 "database schema version 9, bouncectl knows 9" \
    "$BC" db status
check "bad config" 1 "strike_limit: 0 is out of range" sh -c \
    "echo 'shops = ( { id = \"a\"; strike_limit = 0; } );' > $T/bad.conf; \
    \"$BC\" db migrate -c $T/bad.conf"
check "shop add" 0 "shop shop2 added" \
    "$BC" shop add shop2 --name "Two" --domains "two.jp, info@three.jp"
check "shop add again updates" 0 "shop shop2 updated" \
    "$BC" shop add shop2 --strike-limit 3
check "shop add bad id" 2 "not a valid shop id" "$BC" shop add "a b"
check "shop list" 0 "two.jp,info@three.jp" "$BC" shop list
check "shop list json" 0 '"strike_limit" : 3' "$BC" shop list --format json
check "shop sync audited" 0 "3" sql \
    "SELECT count(*) FROM audit_log WHERE action IN ('shop add', 'shop update') AND shop_id IN ('shop1','shop9','shop2') AND action = 'shop add'"

check "ingest unknown shop" 1 "shop 'nosuch' does not exist" \
    "$BC" ingest --shop nosuch "$FIX/au-unknown-failed.eml"
check "ingest" 0 "1 suppressed" \
    "$BC" ingest --shop shop1 "$FIX/au-unknown-failed.eml"
check "ingest replay" 0 "already recorded" \
    "$BC" ingest --shop shop1 "$FIX/au-unknown-failed.eml"
check "ingest stdin" 0 "dsn, shop shop1" sh -c \
    "\"$BC\" ingest --shop shop1 - < \"$FIX/gmail-auth-5.7.26-failed.eml\""
check "ingest all fixtures" 0 "" "$BC" ingest --shop shop1 "$FIX"/*.eml
check "one row per message" 0 "$(ls "$FIX"/*.eml | wc -l)" sql \
    "SELECT count(*) FROM messages WHERE shop_id = 'shop1'"
check "sender side alert" 0 "authfailure" sql \
    "SELECT reason FROM shop_alerts WHERE shop_id = 'shop1'"
check "ingest empty" 0 "kept unparsed" \
    "$BC" ingest "$top_srcdir/tests/fixtures/core/empty.eml"
check "unparsed stored" 0 "1" sql \
    "SELECT count(*) FROM messages WHERE kind = 'error' AND parse_error <> '' AND shop_id = '_unattributed'"
check "ingest missing file" 1 "No such file" "$BC" ingest /nonexistent.eml
# 250 new messages in one command (three transactions), the first again
# at the end: one line each, in order, the last a replay
mkdir "$T/many"
first=$(ls "$FIX"/*.eml | head -1)
i=0
while [ $i -lt 250 ]; do
	{ echo "X-Ingest-Seq: $i"; cat "$first"; } >"$T/many/$(printf %03d $i).eml"
	i=$((i + 1))
done
check "ingest 250 files" 0 "" "$BC" ingest --shop shop1 "$T"/many/*.eml "$T/many/000.eml"
same "one line per file, in order" "$(ls "$T"/many/*.eml; echo "$T/many/000.eml")" \
    "$(cut -d: -f1 "$T/out")"
same "the last one a replay" "$T/many/000.eml: already recorded" "$(tail -1 "$T/out")"
same "250 rows" 250 "$(sql "SELECT count(*) FROM messages WHERE raw LIKE 'X-Ingest-Seq:%'")"
# a file that cannot be read stops the command after the ones before it
for i in 1 2 3; do { echo "X-Ingest-Stop: $i"; cat "$first"; } >"$T/stop$i.eml"; done
check "ingest stops at a missing file" 1 "No such file" \
    "$BC" ingest --shop shop1 "$T/stop1.eml" "$T/stop2.eml" /nonexistent.eml "$T/stop3.eml"
same "the files before it recorded, not the one after" 2 \
    "$(sql "SELECT count(*) FROM messages WHERE raw LIKE 'X-Ingest-Stop:%'")"

check "lookup" 0 "au-unknown@ezweb.ne.jp" \
    "$BC" lookup --order ORD-2026-000119
check "lookup shop" 0 "counted: fatal failure" \
    "$BC" lookup --order ORD-2026-000119 --shop shop1
check "lookup json" 0 '"reason" : "userunknown"' \
    "$BC" lookup --order ORD-2026-000119 --format json
check "lookup none" 0 "no failure recorded for order NOPE" \
    "$BC" lookup --order NOPE
check "lookup usage" 2 "usage" "$BC" lookup
check "report csv" 0 "time_jst,order_number,mail_type,recipient" \
    "$BC" report --shop shop1 --format csv
check "report json parses" 0 "" sh -c \
    "\"$BC\" report --shop shop1 --format json | /usr/bin/python3 -c 'import json,sys; assert len(json.load(sys.stdin)) > 0'"
check "report table" 0 "au-unknown@ezweb.ne.jp" "$BC" report --shop shop1
check "report since future" 0 "(0 rows)" \
    "$BC" report --shop shop1 --since 2999-01-01
check "report bad date" 1 "invalid input syntax" \
    "$BC" report --shop shop1 --since yesterday-ish

check "suppression list" 0 "au-unknown@ezweb.ne.jp" \
    "$BC" suppression list --shop shop1
check "suppression check" 0 "fatal:userunknown" \
    "$BC" suppression check au-unknown@EZWEB.NE.JP --shop shop1
check "suppression check bad" 1 "is not an e-mail address" \
    "$BC" suppression check not-an-address
check "remove needs reason" 2 "needs --reason" \
    "$BC" suppression remove au-unknown@ezweb.ne.jp
check "remove" 0 "removed from the suppression list of 1 shop" \
    "$BC" suppression remove au-unknown@ezweb.ne.jp --reason "customer fixed it"
check "remove audited" 0 "unsuppress|au-unknown@ezweb.ne.jp|customer fixed it" \
    sql "SELECT action || '|' || address || '|' || reason FROM audit_log WHERE action = 'unsuppress'"
check "remove again" 1 "is not suppressed" \
    "$BC" suppression remove au-unknown@ezweb.ne.jp --reason "again"

check "reprocess unchanged" 0 "re-parsed, 0 changed, 0 addresses" \
    "$BC" reprocess --shop shop1 --since 2000-01-01
# as if an older parser had called the hard bounce a full mailbox
sql "UPDATE results SET reason = 'mailboxfull', hardbounce = false WHERE recipient = 'au-unknown@ezweb.ne.jp'" >/dev/null
check "reprocess dry run" 0 "(dry run: nothing was changed)" \
    "$BC" reprocess --shop shop1 --since 2000-01-01 --dry-run
check "dry run changed nothing" 0 "mailboxfull" sql \
    "SELECT reason FROM results WHERE recipient = 'au-unknown@ezweb.ne.jp'"
check "reprocess shows the message" 0 \
    "now:      dsn: au-unknown@ezweb.ne.jp failed userunknown recipient" \
    "$BC" reprocess --shop shop1 --since 2000-01-01 --dry-run
# the removal above came after the bounce: the replay keeps it removed
check "reprocess applies" 0 \
    "shop1 au-unknown@ezweb.ne.jp: reason mailboxfull -> userunknown; strikes 0 -> 0; suppressed no -> no" \
    "$BC" reprocess --shop shop1 --since 2000-01-01
check "reprocess replaced the result" 0 "userunknown|true|true" sql \
    "SELECT reason || '|' || hardbounce || '|' || counted FROM results WHERE recipient = 'au-unknown@ezweb.ne.jp' AND order_number = 'ORD-2026-000119'"
check "reprocess audited" 0 "mailboxfull|userunknown" sql \
    "SELECT (details->>'old_reasons') || '|' || (details->>'new_reasons') FROM audit_log WHERE action = 'reprocess'"
check "reprocess again changes nothing" 0 "re-parsed, 0 changed, 0 addresses" \
    "$BC" reprocess --shop shop1 --since 2000-01-01
check "reprocess unknown shop" 1 "shop 'nosuch' does not exist" \
    "$BC" reprocess --shop nosuch --since 2000-01-01
check "reprocess bad date" 1 "invalid input syntax" \
    "$BC" reprocess --shop shop1 --since someday
check "reprocess usage" 2 "usage" "$BC" reprocess --shop shop1

check "bad conninfo" 1 "cannot connect to the database" \
    "$BC" shop list --db "host=127.0.0.1 port=1 connect_timeout=2"
check "missing database" 1 "does not exist" \
    "$BC" shop list --db "dbname=no_such_db_$$"
check "bad format" 2 "unknown format" "$BC" shop list --format xml

finish
