#!/bin/sh
# golden.sh - golden-file test of `bouncectl parse` over tests/fixtures.
#
# Every tests/fixtures/<source>/<case>.eml has a <case>.expected beside it:
# the JSON Lines `bouncectl parse` prints for it, run from tests/fixtures
# so the "file" field is the relative path.  Any difference fails.
#
#   tests/golden.sh [FIXTURE.eml...]        compare (default: all)
# Each fixture is also parsed with CRLF and with CR-only line ends (from
# standard input) and must give the same output as with LF; fixtures with
# an .args file are exempt (the size-limit case reports its byte count,
# which CRLF changes).
#
#   UPDATE=1 tests/golden.sh [FIXTURE...]   rewrite .expected files; review
#                                           the diff before committing
# A <case>.args file beside a fixture holds extra `bouncectl parse`
# options for it (e.g. --max-size 2048 for the oversized case).
# Exit: 0 all equal, 1 a difference, 99 setup error.
set -u
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
bouncectl=$(cd "$builddir" && pwd)/bouncectl
fixtures=$(cd "$srcdir/tests/fixtures" && pwd)
[ -x "$bouncectl" ] || { echo "golden.sh: no $bouncectl; run make" >&2; exit 99; }

if [ $# -gt 0 ]; then
	list=$(for f in "$@"; do
		case $f in /*) ;; *) f=$(pwd)/$f ;; esac
		echo "${f#"$fixtures"/}"
	done)
else
	list=$(cd "$fixtures" && find . -name '*.eml' | sed 's|^\./||' | LC_ALL=C sort)
fi

pass=0 fail=0
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.eol"' EXIT
for rel in $list; do
	expected="$fixtures/${rel%.eml}.expected"
	args=$(cat "$fixtures/${rel%.eml}.args" 2>/dev/null || true)
	# shellcheck disable=SC2086 # args are whitespace-separated options
	(cd "$fixtures" && "$bouncectl" parse $args "$rel") >"$tmp" 2>&1
	if [ "${UPDATE:-}" = 1 ]; then
		cp "$tmp" "$expected"
		echo "updated $rel"
		continue
	fi
	if [ -f "$expected" ] && cmp -s "$tmp" "$expected"; then
		pass=$((pass + 1))
		[ -n "$args" ] && continue
		for eol in '\r\n' '\r'; do
			# shellcheck disable=SC2086
			perl -pe "s/\r?\n/$eol/" "$fixtures/$rel" |
				"$bouncectl" parse $args - 2>&1 |
				sed "s|^{\"file\":\"-\"|{\"file\":\"$rel\"|" >"$tmp.eol"
			if ! cmp -s "$tmp" "$tmp.eol"; then
				fail=$((fail + 1))
				echo "FAIL $rel with line ends $eol differs from LF"
				diff -u "$tmp" "$tmp.eol" | head -10
			fi
		done
	else
		fail=$((fail + 1))
		echo "FAIL $rel"
		if [ -f "$expected" ]; then
			diff -u "$expected" "$tmp" | head -20
		else
			echo "  no ${rel%.eml}.expected"
		fi
	fi
done
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
