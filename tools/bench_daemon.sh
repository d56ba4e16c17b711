#!/bin/sh
# bench_daemon.sh - the end-to-end figure of `make bench` (issue 4 §8):
# bounces in a Dovecot mailbox -> all recorded in PostgreSQL.
#
# Starts a private PostgreSQL (tests/pg.sh) and Dovecot (tests/dovecot.sh),
# writes COUNT bounces (copies of tests/fixtures/**/*.eml, each made
# unique by an X-Bench-Seq header) straight into the Maildir, then in the
# same run:
#   1. raw: one IMAPS connection, UID FETCH 1:* (BODY.PEEK[]) of the whole
#      mailbox (Python imaplib): the physical limit of a poller;
#   2. bounced --once over the same mailbox (IMAPS, default settings):
#      every message fetched, parsed, recorded and moved;
#   3. for scale, a raw UID MOVE 1:* of each folder bounced moved the
#      messages to back to the INBOX: what moving them once costs Dovecot
#      itself (bounced must move them too, the raw fetch does not);
# and prints messages/s of both, their ratio and the peak RSS of bounced
# (GNU time).  Both runs find the mailbox as a real one is once any
# client has opened it: an untimed read-write SELECT (Dovecot moves new/
# to cur/) and FETCH of the sizes come first.  The files are named as
# Dovecot names delivered mail.  It checks that every message was
# recorded once and the INBOX is empty.
#
# Sizes: 20,000 by default (about a minute and a half on 2 cores);
# BENCH_DAEMON_LARGE=1 adds the 100,000 run (opt-in: about 5 to 6
# minutes, most of it bounced recording one transaction per message),
# BENCH_DAEMON_COUNTS="N ..." picks other sizes.  BENCH_DAEMON_PROFILE=1
# loads pg_stat_statements (statements of triggers too) and prints, after
# each bounced run, its CPU time and the statements that took the most
# server time.  Needs dovecot-imapd, postgresql-15, GNU time.
set -eu
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "$builddir" && pwd)
BD=$builddir/bounced/bounced
BC=$builddir/bouncectl
PY=/usr/bin/python3
if [ "${BENCH_DAEMON_LARGE:-0}" = 1 ]; then
	counts=${BENCH_DAEMON_COUNTS:-20000 100000}
else
	counts=${BENCH_DAEMON_COUNTS:-20000}
fi
for need in "$BD" "$BC" /usr/bin/time "$PY"; do
	[ -x "$need" ] || { echo "daemon:   $need missing: end-to-end figure skipped"; exit 0; }
done

work=$(mktemp -d)
chmod 755 "$work"
PG_DIR=
DOVECOT_DIR=
cleanup() {
	[ -n "$DOVECOT_DIR" ] && "$srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	[ -n "$PG_DIR" ] && "$srcdir/tests/pg.sh" stop "$PG_DIR"
	rm -rf "$work"
}
trap cleanup EXIT

env=$("$srcdir/tests/pg.sh" start) || {
	echo "daemon:   no PostgreSQL (tests/pg.sh): end-to-end figure skipped"; exit 0; }
eval "$env"
PG_DIR=$BOUNCED_PG_DIR
if [ "${BENCH_DAEMON_PROFILE:-0}" = 1 ]; then
	printf '%s\n' "shared_preload_libraries = 'pg_stat_statements'" \
	    "pg_stat_statements.track = all" >>"$PG_DIR/data/postgresql.conf"
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "${PGBIN:-/usr/lib/postgresql/15/bin}/pg_ctl" \
		    -D "$PG_DIR/data" -w restart >/dev/null
	else
		"${PGBIN:-/usr/lib/postgresql/15/bin}/pg_ctl" -D "$PG_DIR/data" \
		    -w restart >/dev/null
	fi
fi
BASE_PORT=$((22000 + $$ % 5000))
export BASE_PORT
env=$("$srcdir/tests/dovecot.sh" start) || {
	echo "daemon:   no Dovecot (tests/dovecot.sh): end-to-end figure skipped"; exit 0; }
eval "$env"
MD="$DOVECOT_DIR/home/test@example.jp/Maildir"
printf 'secret\n' >"$work/pw"

cat >"$work/bench.conf" <<EOF
log = "stderr";
shops = ( { id = "bench"; sender_domains = "bounce.test"; mailboxes = (
  { name = "inbox"; protocol = "imap"; host = "127.0.0.1";
    port = $IMAPS_PORT; ca_file = "$DOVECOT_CERT";
    user = "test@example.jp"; password_file = "$work/pw"; }
); } );
EOF

# fill COUNT: COUNT unique bounces into the (emptied) Maildir; prints bytes
fill() {
	rm -rf "$MD"
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	$PY - "$srcdir/tests/fixtures" "$MD/new" "$1" <<'EOF'
import os, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
fix = []
for root, _, names in os.walk(src):
    for n in sorted(names):
        p = os.path.join(root, n)
        if n.endswith(".eml") and os.path.getsize(p) < 1024 * 1024:
            with open(p, "rb") as fp:
                fix.append(fp.read())
total = 0
for i in range(count):
    body = b"X-Bench-Seq: %d\n" % i + fix[i % len(fix)]
    total += len(body)
    # named as Dovecot's LDA/LMTP names delivered files (time.MusecPpid.
    # host,S=size), ten a second: Dovecot hashes the part before ':' and
    # synthetic names such as 0000001.M1 collide in it so badly that
    # syncing the folder turns quadratic, which no real mailbox shows
    name = "%d.M%dP%d.mx.example.jp,S=%d" % (
        1764979200 + i // 10, (i * 7919) % 1000000, 1000 + i % 30000, len(body))
    with open(os.path.join(dst, name), "wb") as fp:
        fp.write(body)
print(total)
EOF
	[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$DOVECOT_DIR/home"
	return 0
}

# imap MODE: warm (SELECT, sizes) or raw (the timed whole-mailbox fetch);
# prints the number of messages fetched
imap() {
	$PY - "$IMAPS_PORT" "$1" <<'EOF'
import imaplib, ssl, sys
port, mode = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m._mode_ascii()
m.login("test@example.jp", "secret")
# warm selects read-write, as any client of a real mailbox has done
# since the mail arrived: Dovecot then moves new/ to cur/ and indexes
m.select("INBOX", readonly=(mode != "warm"))
if mode == "move":
    # the folders bounced moved the messages to, back to INBOX, one
    # command each: what moving the messages once costs the server itself
    typ, boxes = m.list()
    for b in boxes:
        flags, name = b.decode().split(") ", 1)[0], b.decode().rsplit(" ", 1)[1].strip('"')
        if "bounced" in name and "Noselect" not in flags and name.count(".") + name.count("/") > 0:
            typ, data = m.select(name)
            if int(data[0]) > 0:
                m.uid("MOVE", "1:*", "INBOX")
    typ, data = m.select("INBOX", readonly=True)
    print(int(data[0]))
    m.logout()
    sys.exit(0)
what = "(UID RFC822.SIZE)" if mode == "warm" else "(BODY.PEEK[])"
typ, data = m.uid("FETCH", "1:*", what)
n = sum(1 for d in data if isinstance(d, tuple)) if mode == "raw" else len(data)
print(n)
m.logout()
EOF
}

now_ns() { date +%s%N; }
rate() { awk "BEGIN {printf \"%.0f\", $1 * 1000 / ($2 > 0 ? $2 : 1)}"; }

# profile: bounced's CPU time and the 12 costliest statements of its run
profile() {
	[ "${BENCH_DAEMON_PROFILE:-0}" = 1 ] || return 0
	echo "daemon:     profile: bounced CPU $(cut -d' ' -f2 "$work/rss") s user, $(cut -d' ' -f3 "$work/rss") s system"
	psql -qX -c "SELECT calls, round(total_exec_time) AS ms, round((total_exec_time / nullif(calls, 0))::numeric, 3) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 12"
}

for count in $counts; do
	PGDATABASE=bench_$count
	export PGDATABASE
	psql -qX -d postgres -c "CREATE DATABASE $PGDATABASE" >/dev/null
	"$BC" db migrate >/dev/null
	[ "${BENCH_DAEMON_PROFILE:-0}" = 1 ] && psql -qX -c "CREATE EXTENSION pg_stat_statements" \
	    -c "SELECT pg_stat_statements_reset()" >/dev/null
	bytes=$(fill "$count")
	imap warm >/dev/null

	t0=$(now_ns)
	got=$(imap raw)
	t1=$(now_ns)
	raw_ms=$(( (t1 - t0) / 1000000 ))
	[ "$got" = "$count" ] || { echo "daemon:   raw fetch got $got of $count messages" >&2; exit 1; }

	t0=$(now_ns)
	/usr/bin/time -f '%M %U %S' -o "$work/rss" "$BD" --once -c "$work/bench.conf" 2>"$work/bounced.log" ||
		{ tail -5 "$work/bounced.log" >&2; exit 1; }
	t1=$(now_ns)
	bd_ms=$(( (t1 - t0) / 1000000 ))
	rss=$(tail -1 "$work/rss" | cut -d' ' -f1)
	recorded=$(psql -qAtX -c "SELECT count(*) FROM messages")
	left=$(find "$MD/new" "$MD/cur" -type f | wc -l)
	[ "$recorded" = "$count" ] && [ "$left" = 0 ] ||
		{ echo "daemon:   bounced recorded $recorded of $count, $left left in INBOX" >&2; exit 1; }

	t0=$(now_ns)
	moved=$(imap move)
	t1=$(now_ns)
	move_ms=$(( (t1 - t0) / 1000000 ))
	[ "$moved" = "$count" ] || { echo "daemon:   raw move gave $moved of $count messages" >&2; exit 1; }

	raw_rate=$(rate "$count" "$raw_ms")
	bd_rate=$(rate "$count" "$bd_ms")
	echo "daemon:   $count bounces ($((bytes / 1048576)) MiB) in a Dovecot mailbox, over IMAPS:"
	echo "daemon:     raw UID FETCH 1:* BODY.PEEK[] (imaplib): ${raw_ms} ms, $raw_rate messages/s"
	echo "daemon:     bounced --once, all recorded in PostgreSQL and moved: ${bd_ms} ms, $bd_rate messages/s, peak RSS $((rss / 1024)) MiB ($rss KiB)"
	echo "daemon:     ratio: bounced runs at $(awk "BEGIN {printf \"%.2f\", $bd_rate / $raw_rate}") of the raw fetch"
	echo "daemon:     for scale: raw UID MOVEs of the same messages back to INBOX (imaplib) take ${move_ms} ms;"
	echo "daemon:     raw fetch + raw move: $((raw_ms + move_ms)) ms, bounced runs at $(awk "BEGIN {printf \"%.2f\", ($raw_ms + $move_ms) / ($bd_ms > 0 ? $bd_ms : 1)}") of that"
	profile
	[ "$count" = 100000 ] || [ "${BENCH_DAEMON_LARGE:-0}" = 1 ] ||
		echo "daemon:     (BENCH_DAEMON_LARGE=1 adds the 100,000-message run)"
	psql -qX -d postgres -c "DROP DATABASE $PGDATABASE" >/dev/null
done
