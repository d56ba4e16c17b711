#!/bin/sh
# parse_jobs.sh - `bouncectl parse` with worker processes prints exactly
# what one process prints: the same lines in the same order, the same
# messages on standard error, the same exit status; a worker killed in
# the middle loses and repeats nothing; output that cannot be written is
# an error with the reason, with and without workers.  Parsing leaves
# the files' access times alone.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
BC=$(cd "$top_builddir" && pwd)/bouncectl
FIX=$(cd "$top_srcdir/tests/fixtures" && pwd)
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
. "$top_srcdir/tests/lib.sh"
n=0 fails=0

# the fixtures three times over (well over a dozen batches of 32) with two
# files that cannot be read among them, in the first and in a late batch
(cd "$FIX" && find . -name '*.eml' | LC_ALL=C sort) >"$T/one"
{
	sed -n '1,5p' "$T/one"
	echo ./no-such-file.eml
	sed -n '6,$p' "$T/one"
	cat "$T/one"
	echo ./neither-this.eml
	cat "$T/one"
} >"$T/list"
same "list is long enough for many batches" yes \
    "$([ "$(wc -l <"$T/list")" -gt 600 ] && echo yes)"

# parse_list JOBS NAME: parses the list from tests/fixtures into NAME.out,
# NAME.err, NAME.rc
parse_list() {
	(cd "$FIX" && xargs "$BC" parse -j"$1" -- <"$T/list" \
	    >"$T/$2.out" 2>"$T/$2.err"; echo $? >"$T/$2.rc")
}

# xargs reports a command's exit 1 as its own 123: compare the raw status
# of one invocation instead
(cd "$FIX" && "$BC" parse -j1 -- $(cat "$T/list") >/dev/null 2>&1)
same "one process: exit 1 for the unreadable files" 1 "$?"
(cd "$FIX" && "$BC" parse -j2 -- $(cat "$T/list") >/dev/null 2>&1)
same "two workers: exit 1 for the unreadable files" 1 "$?"

parse_list 1 j1
for j in 2 3 7; do
	parse_list "$j" "j$j"
	n=$((n + 1))
	if cmp -s "$T/j1.out" "$T/j$j.out" && cmp -s "$T/j1.err" "$T/j$j.err"; then
		echo "ok   -j$j prints what -j1 prints"
	else
		echo "FAIL -j$j differs from -j1"
		diff "$T/j1.out" "$T/j$j.out" | head -5
		diff "$T/j1.err" "$T/j$j.err" | head -5
		fails=$((fails + 1))
	fi
done
same "-j1 names both unreadable files, in order" \
    "./no-such-file.eml ./neither-this.eml" \
    "$(sed -n 's/^bouncectl parse: \(.*\): No such file.*/\1/p' "$T/j1.err" | tr '\n' ' ' | sed 's/ $//')"
same "-j1 prints a line for every readable file" \
    "$(($(wc -l <"$T/list") - 2))" \
    "$(sed 's/^{"file":"\([^"]*\)".*/\1/' "$T/j1.out" | uniq | wc -l | tr -d ' ')"

# a worker killed in the middle: the first batch holds a FIFO, so the
# worker that took it waits in open() and nothing can be written before
# the kill; one worker is killed, and whoever reads the FIFO next (the
# other worker, or the main process parsing the batches again) gets the
# fixture through it
mkfifo "$T/fifo"
sed "3s|.*|$T/fifo|" "$T/one" >"$T/killlist"
sed "3s|.*|$T/fifo|" "$T/one" >>"$T/killlist"
cp "$FIX/$(sed -n 3p "$T/one")" "$T/fifo.eml"
(cd "$FIX" && "$BC" parse -j2 -- $(cat "$T/killlist") >"$T/kill.out" 2>"$T/kill.err") &
pid=$!
# both workers started and the FIFO is waited for
i=0
while [ "$(pgrep -P "$pid" | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do
	sleep 0.05; i=$((i + 1))
done
sleep 0.3
victim=$(pgrep -P "$pid" | head -1)
kill -9 "$victim"
# feed the FIFO to every reader until the parse ends
while kill -0 "$pid" 2>/dev/null; do
	timeout 1 sh -c "cat '$T/fifo.eml' >'$T/fifo'" 2>/dev/null
done
wait "$pid"
same "killed worker: exit status 0" 0 "$?"
check "killed worker: it is named on stderr" 0 "killed by signal 9" cat "$T/kill.err"
same "killed worker: nothing else on stderr" 1 "$(wc -l <"$T/kill.err" | tr -d ' ')"
# the same list with the FIFO's content in a plain file under the FIFO's name
rm "$T/fifo"
cp "$T/fifo.eml" "$T/fifo"
(cd "$FIX" && "$BC" parse -j1 -- $(cat "$T/killlist") >"$T/ref.out" 2>/dev/null)
n=$((n + 1))
if cmp -s "$T/ref.out" "$T/kill.out"; then
	echo "ok   killed worker: the output is complete, in order, nothing twice"
else
	echo "FAIL killed worker: the output differs from one process"
	diff "$T/ref.out" "$T/kill.out" | head -5
	fails=$((fails + 1))
fi

# access times: a file whose atime is older than its mtime is "new
# mail" to mail tools, and parsing it must not change that
cp "$FIX/$(sed -n 1p "$T/one")" "$T/atime.eml"
touch -m -d '2026-01-02 03:04:05' "$T/atime.eml"
touch -a -d '2026-01-01 00:00:00' "$T/atime.eml"
before=$(stat -c %X "$T/atime.eml")
"$BC" parse -j1 -- "$T/atime.eml" >/dev/null
same "parse leaves the access time alone" "$before" "$(stat -c %X "$T/atime.eml")"

# output that cannot be written
if [ -w /dev/full ]; then
	for j in 1 2; do
		(cd "$FIX" && "$BC" parse -j$j -- $(cat "$T/one") >/dev/full 2>"$T/full.err")
		same "-j$j to a full disk: exit 1" 1 "$?"
		check "-j$j to a full disk: says why, once" 0 \
		    "bouncectl parse: writing the output: No space left on device" \
		    cat "$T/full.err"
		same "-j$j to a full disk: one message" 1 "$(wc -l <"$T/full.err" | tr -d ' ')"
	done
fi
finish
