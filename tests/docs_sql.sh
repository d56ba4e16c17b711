#!/bin/sh
# docs_sql.sh - every ```sql block of docs/database.md, run against a
# throwaway PostgreSQL (tests/pg.sh) with the schema migrated and the
# Postfix fixtures ingested into shop1, in document order, each in its own
# psql with ON_ERROR_STOP: any SQL error fails the test.  Then a few
# checks that the examples answer what the text says they answer, and
# that the privileges the document grants are enough for the platform.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
if [ -z "${PGHOST:-}" ]; then
	exec "$top_srcdir/tests/pg.sh" run "$0" "$@"
fi
BC="$top_builddir/bouncectl"
DOC="$top_srcdir/docs/database.md"
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
PGDATABASE=docs_$$
export PGDATABASE
psql -X -q -d postgres -c "CREATE DATABASE $PGDATABASE" || exit 99

# the data the examples talk about: shop1, the Postfix fixtures (among
# them au-unknown@ezweb.ne.jp, a user-unknown bounce of order
# ORD-2026-000119)
cat >"$T/bounced.conf" <<CONF
shops = ( { id = "shop1"; name = "Shop One"; sender_domains = "bounce.test";
	    notify = [ "owner@shop1.example" ]; } );
CONF
"$BC" db migrate -c "$T/bounced.conf" >"$T/setup" 2>&1 &&
    "$BC" ingest --shop shop1 "$top_srcdir"/tests/fixtures/postfix/*.eml \
    >>"$T/setup" 2>&1 || { cat "$T/setup"; exit 99; }

# blockNN.sql per ```sql block; the first line names its place in the doc
if ! awk -v dir="$T" '
	/^```sql[ \t]*$/ {
		n++; f = sprintf("%s/block%02d.sql", dir, n); inblk = 1
		printf("-- docs/database.md:%d\n", NR + 1) > f
		next
	}
	inblk && /^```[ \t]*$/ { inblk = 0; close(f); next }
	inblk { print > f }
	END { if (inblk) { print "unterminated sql block" > "/dev/stderr"; exit 1 } }
    ' "$DOC"; then
	exit 1
fi

fails=0
n=0
for f in "$T"/block*.sql; do
	[ -e "$f" ] || break
	n=$((n + 1))
	where=$(head -n 1 "$f" | sed 's/^-- //')
	if psql -X -q -A -t -v ON_ERROR_STOP=1 -f "$f" >"$f.out" 2>&1; then
		echo "ok   $where"
	else
		echo "FAIL $where"
		sed 's/^/	/' "$f.out"
		fails=$((fails + 1))
	fi
done
if [ "$n" -lt 10 ]; then
	echo "FAIL only $n sql blocks found in $DOC"
	fails=$((fails + 1))
fi

# expect MARKER WANT: the output of the block containing MARKER (a fixed
# string) contains WANT
expect() {
	f=$(grep -lF -- "$1" "$T"/block*.sql | head -n 1)
	if [ -z "$f" ]; then
		echo "FAIL no sql block contains '$1'"
		fails=$((fails + 1))
	elif ! grep -qF -- "$2" "$f.out"; then
		echo "FAIL block with '$1': output lacks '$2'"
		sed 's/^/	/' "$f.out"
		fails=$((fails + 1))
	else
		echo "ok   block with '$1' answers '$2'"
	fi
}
expect "AS suppressed;" "t"
expect "unnest(ARRAY" "au-unknown@ezweb.ne.jp|fatal:userunknown|userunknown"
expect "LIMIT 20" "fatal:userunknown"
expect "'customer@example.jp', '<ord-2026-000200" "1"
expect "WHERE shop_id = 'shop1' AND order_number = 'ORD-2026-000119'" \
    "au-unknown@ezweb.ne.jp"
expect "GROUP BY reason, side" "userunknown|recipient|"
expect "FROM shops" "shop1|Shop One|4|{userunknown,hostunknown,hasmoved,notaccept,feedback}|5|30|f|bounce.test"
expect "FROM shop_alerts" "authfailure"

# the sends were logged with the shop's own normalisation
got=$(psql -X -A -t -c "SELECT string_agg(address || ' ' || coalesce(message_id, '-') || ' ' || coalesce(envelope_id, '-'), ',' ORDER BY send_id) FROM send_log")
want="customer@example.jp ord-2026-000200.thanks@shop1.example -,customer@example.jp - env-20261123-0001"
if [ "$got" = "$want" ]; then
	echo "ok   sends logged"
else
	echo "FAIL send_log: got '$got', want '$want'"
	fails=$((fails + 1))
fi

# what the document grants the platform role is enough
if psql -X -q -A -t -v ON_ERROR_STOP=1 -c "SET ROLE platform" \
    -c "SELECT bounced_log_send('shop1', 'ORD-X', 'thanks', 'x@example.jp', '<x@shop1.example>')" \
    -c "SELECT count(*) FROM suppression_list" \
    -c "SELECT count(*) FROM undeliverable_report" \
    -c "SELECT count(*) FROM failures_by_order" \
    -c "SELECT count(*) FROM shops" >"$T/role.out" 2>&1; then
	echo "ok   the platform role can do what the document says"
else
	echo "FAIL the platform role:"
	sed 's/^/	/' "$T/role.out"
	fails=$((fails + 1))
fi

echo "$n sql blocks, $fails failed"
[ "$fails" -eq 0 ]
