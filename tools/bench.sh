#!/bin/sh
# bench.sh - parse throughput and peak memory of `bouncectl parse`.
#
# Copies every fixture into a scratch directory until there are at least
# BENCH_COUNT (default 10000) messages, parses them all with one
# `bouncectl parse` command (which forks one worker per CPU by default; its
# parent's peak RSS is what GNU time reports) and prints messages/s, MB/s
# and peak RSS.  When libsisimai-perl is
# installed the same directory goes through Sisimai in the same run and the
# ratio is printed.  Run with `make bench`.
set -eu
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
bouncectl=$(cd "$builddir" && pwd)/bouncectl
count=${BENCH_COUNT:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find "$srcdir/tests/fixtures" -name '*.eml' -size -1024k | LC_ALL=C sort >"$work/list"
n=$(wc -l <"$work/list")
[ "$n" -gt 0 ] || { echo "bench: no fixtures" >&2; exit 1; }
mkdir "$work/mail"
i=0
while [ "$i" -lt "$count" ]; do
	while read -r f && [ "$i" -lt "$count" ]; do
		i=$((i + 1))
		cp "$f" "$work/mail/$(printf %06d "$i").eml"
	done <"$work/list"
done
bytes=$(cat "$work/mail"/*.eml | wc -c)
# the copies reach the disk before anything is timed, so write-back does
# not compete with whichever parser runs first
sync

# now_ns: wall clock in nanoseconds
now_ns() { date +%s%N; }

# The clock is read by a `date` process before and after a command, so
# each interval also holds one `date` ending and the next starting
# (~5-10 ms on a small VM, 3-6 % of bounced's figure, nothing of
# Sisimai's): the least of a few empty intervals is measured here and
# taken off both figures.
overhead=
for i in 1 2 3 4 5; do
	t0=$(now_ns)
	t1=$(now_ns)
	d=$((t1 - t0))
	[ -z "$overhead" ] || [ "$d" -lt "$overhead" ] && overhead=$d
done
# elapsed_ms T0 T1: milliseconds between two clock readings, less the
# clock's own overhead (at least 1)
elapsed_ms() {
	e=$(( ($2 - $1 - overhead) / 1000000 ))
	echo $(( e > 0 ? e : 1 ))
}

cd "$work/mail"
t0=$(now_ns)
/usr/bin/time -f "%M" -o "$work/rss" "$bouncectl" parse -- *.eml >"$work/out.jsonl"
t1=$(now_ns)
ms=$(elapsed_ms "$t0" "$t1")
rss=$(cat "$work/rss")
rate=$((count * 1000 / ms))
echo "bounced:  $count messages ($((bytes / 1024)) KiB, $n distinct fixtures) in ${ms} ms (clock overhead of $((overhead / 1000)) us taken off)"
echo "bounced:  $rate messages/s, $(awk "BEGIN {printf \"%.1f\", $bytes / 1048576 / ($ms / 1000)}") MB/s, peak RSS $((rss / 1024)) MiB ($rss KiB)"

if perl -MSisimai -e 1 2>/dev/null; then
	t0=$(now_ns)
	/usr/bin/time -f "%M" -o "$work/rss2" perl -MSisimai -e \
	    'my $v = Sisimai->make($ARGV[0]); printf "%d\n", scalar @{$v || []}' \
	    "$work/mail" >"$work/sisimai.out" 2>/dev/null
	t1=$(now_ns)
	sms=$(elapsed_ms "$t0" "$t1")
	srate=$((count * 1000 / sms))
	echo "sisimai:  $srate messages/s, peak RSS $(( $(cat "$work/rss2") / 1024 )) MiB ($(cat "$work/sisimai.out") results)"
	echo "ratio:    bounced is $(awk "BEGIN {printf \"%.1f\", $rate / ($srate > 0 ? $srate : 1)}")x Sisimai"
else
	echo "sisimai:  libsisimai-perl not installed; no comparison"
fi
