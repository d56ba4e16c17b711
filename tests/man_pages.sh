#!/bin/sh
# man_pages.sh - the man pages tell the truth and stay complete:
#   - every long option of `bounced --help` is in bounced(8), and every
#     option bounced(8) names is one bounced accepts;
#   - every command of `bouncectl --help`, and every long option of each
#     `bouncectl COMMAND --help`, is in bouncectl(1);
#   - every setting config/config.c accepts (its known[] lists) is in
#     bounced.conf(5);
#   - groff formats all three without a warning, and the configured paths
#     were filled in.
# Needs no database.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
BD="$top_builddir/bounced/bounced"
BC="$top_builddir/bouncectl"
MAN="$top_builddir/man"
fails=0
n=0
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL $1"
	fails=$((fails + 1))
}
# plain PAGE: the page as text, hyphens and quotes unescaped
plain() {
	sed -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e 's/\\f[BIRP]//g' "$MAN/$1"
}
# longopts: the --options in standard input, one per line
longopts() {
	grep -o -- '--[a-z][a-z-]*' | sort -u
}
# mentions PAGE WORD WHAT: WORD appears in PAGE as a whole word
mentions() {
	n=$((n + 1))
	if plain "$1" | grep -q -- "\(^\|[^a-z_-]\)$2\([^a-z_-]\|$\)"; then
		return 0
	fi
	fail "$1 does not mention $3 '$2'"
}

for page in bounced.8 bouncectl.1 bounced.conf.5; do
	n=$((n + 1))
	if [ ! -s "$MAN/$page" ]; then
		fail "$MAN/$page was not built"
		continue
	fi
	if groff -man -Tutf8 -k -ww -Wbreak -z "$MAN/$page" >"$T/groff" 2>&1 &&
	    [ ! -s "$T/groff" ]; then
		echo "ok   $page formats without warnings"
	else
		fail "$page: groff:"; cat "$T/groff"
	fi
	n=$((n + 1))
	if grep -q '@[a-z]*@' "$MAN/$page"; then
		fail "$page: unsubstituted $(grep -o '@[a-z]*@' "$MAN/$page" | head -n 1)"
	fi
done

# bounced(8)
"$BD" --help | longopts >"$T/bd.help"
for o in $(cat "$T/bd.help"); do
	mentions bounced.8 "$o" "bounced option"
done
plain bounced.8 | longopts >"$T/bd.man"
for o in $(cat "$T/bd.man"); do
	n=$((n + 1))
	case $o in
	--once|--lease|--config|--foreground|--test|--verbose|--help|--version)
		grep -qx -- "$o" "$T/bd.help" || fail "bounced.8 names $o, which bounced --help lacks" ;;
	--now|--db) ;; # systemctl / bouncectl in the examples
	*) fail "bounced.8 names $o, which bounced does not have" ;;
	esac
done
echo "ok   bounced.8: $(wc -l <"$T/bd.help") options checked"

# bouncectl(1)
cmds=$("$BC" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no commands in bouncectl --help"
for c in $cmds; do
	mentions bouncectl.1 "$c" "command"
	# bouncectl.c lists the commands, bouncectl_admin.c carries out all
	# but parse: a name in one list only fails here
	"$BC" "$c" --help >/dev/null 2>&1 ||
		fail "bouncectl $c --help fails: is '$c' in bouncectl_admin.c?"
	"$BC" "$c" --help 2>/dev/null | longopts >"$T/c.help"
	for o in $(cat "$T/c.help"); do
		mentions bouncectl.1 "$o" "option of '$c'"
	done
done
echo "ok   bouncectl.1: $(echo $cmds | wc -w) commands checked"

# bounced.conf(5): every name in the known[] lists of config/config.c
sed -n '/const char \*const [a-z]*known\[\] = {/,/NULL}/p' \
    "$top_srcdir/config/config.c" | grep -o '"[a-z_]*"' | tr -d '"' |
    sort -u >"$T/settings"
[ "$(wc -l <"$T/settings")" -ge 30 ] ||
	fail "only $(wc -l <"$T/settings") settings found in config/config.c"
for s in $(cat "$T/settings"); do
	mentions bounced.conf.5 "$s" "setting"
done
echo "ok   bounced.conf.5: $(wc -l <"$T/settings") settings checked"

echo "$n checks, $fails failed"
[ "$fails" -eq 0 ]
