#!/bin/sh
# readme_commands.sh - every command README.md shows is run, so the README
# cannot go stale.
#
# Fenced blocks of README.md, by tag:
#   ```sh    each command line (backslash continuations joined) is run, in
#            document order, in a scratch directory against a throwaway
#            PostgreSQL (tests/pg.sh) in which the configuration's shop1
#            has polled a Maildir of real Postfix bounces; it must exit 0.
#            Paths: /etc/bounced.conf is the scratch configuration,
#            tests/ is the source tree's; "sudo -u postgres|bounced" is
#            dropped.  Commands that cannot run here are replaced by the
#            equivalent check in equivalent() below; any other sudo
#            command fails the test (add its equivalent).
#   ```conf  must pass `bounced -t`;
#   ```sql   runs with psql (ON_ERROR_STOP);
#   ```text  is not a command (usage lines, a file tree);
# a block with any other tag, or none, fails the test.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
if [ -z "${PGHOST:-}" ]; then
	exec "$top_srcdir/tests/pg.sh" run "$0" "$@"
fi
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
README="$top_srcdir/README.md"
BD="$top_builddir/bounced/bounced"
BC="$top_builddir/bouncectl"
T=$(mktemp -d) || exit 99
trap 'rm -rf "$T"' EXIT
PGDATABASE=readme_$$
export PGDATABASE
psql -q -d postgres -c "CREATE DATABASE $PGDATABASE" || exit 99
PATH="$top_builddir:$top_builddir/bounced:$PATH"
export PATH

fails=0
n=0
fail() {
	echo "FAIL $1"
	fails=$((fails + 1))
}

# --- the scratch world the README's commands talk about -------------------
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp" "$T/w"
i=0
for f in "$top_srcdir"/tests/fixtures/postfix/*.eml; do
	i=$((i + 1))
	cp "$f" "$T/md/new/$i.M$i.readme"
done
cat >"$T/bounced.conf" <<CONF
log = "stderr";
shops = ( { id = "shop1"; name = "Shop One"; sender_domains = "bounce.test";
	    notify = [ "owner@shop1.example" ];
	    mailboxes = ( { name = "main"; protocol = "maildir"; path = "$T/md"; } ); } );
CONF
cp "$T/bounced.conf" "$T/w/bounced.conf"
cp "$top_srcdir/tests/fixtures/postfix/unknown-failed.eml" "$T/w/bounce1.eml"
cp "$top_srcdir/tests/fixtures/postfix/gmail-auth-5.7.26-failed.eml" "$T/w/bounce2.eml"
ln -s "$top_srcdir/tests" "$T/w/tests"

# --- equivalents of what cannot run in make check -------------------------
# sh_ok NAME CMD...: a check that must exit 0
sh_ok() {
	name=$1
	shift
	if "$@" >"$T/eq.out" 2>&1; then
		return 0
	fi
	fail "$name: $*"
	sed 's/^/	/' "$T/eq.out"
	return 1
}

eq_demo() {
	sh_ok "demo.sh parses" bash -n "$top_srcdir/tools/demo.sh" &&
	    sh_ok "demo.sh --help" sh -c "'$top_srcdir/tools/demo.sh' --help | grep -q -- --keep"
}

eq_check() {
	sh_ok "check.sh parses" sh -n "$top_srcdir/tools/check.sh" &&
	    sh_ok "check.sh knows its modes" sh -c \
	    "'$top_srcdir/tools/check.sh' bogus 2>&1 | grep -q 'check|sanitizers|valgrind|fuzz .SECS.|distcheck'"
}

eq_build() {
	sh_ok "autogen.sh" test -x "$top_srcdir/autogen.sh" &&
	    sh_ok "configure has the install options" sh -c \
	    "'$top_srcdir/configure' --help | grep -q -- --with-systemdsystemunitdir"
}

# make install into a DESTDIR; the files the README promises are there
INST=$T/inst
eq_install() {
	sh_ok "make install" make -C "$top_builddir" install DESTDIR="$INST" || return
	prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
	# (a make of its own: not the jobserver or -w of the make check above)
	sysconfdir=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s \
	    --no-print-directory -C "$top_builddir" -f - print <<'MK' 2>/dev/null
include Makefile
print:
	@echo $(sysconfdir) $(systemdsystemunitdir) $(sysusersdir) $(mandir)
MK
)
	set -- $sysconfdir
	SYSCONF=$INST$1 UNITDIR=$INST$2 SYSUSERS=$INST$3 MANDIR=$INST$4
	for f in "$INST$prefix/sbin/bounced" "$INST$prefix/bin/bouncectl" \
	    "$SYSCONF/bounced.conf.sample" "$UNITDIR/bounced.service" \
	    "$UNITDIR/bounced-stats.service" "$UNITDIR/bounced-stats.timer" \
	    "$SYSUSERS/bounced.conf" "$MANDIR/man8/bounced.8" \
	    "$MANDIR/man1/bouncectl.1" "$MANDIR/man5/bounced.conf.5"; do
		sh_ok "installed" test -s "$f"
	done
	sh_ok "the unit runs the installed bounced" \
	    grep -q "^ExecStart=$prefix/sbin/bounced -f" "$UNITDIR/bounced.service"
}

# the sample configuration is valid as installed
eq_sample() {
	sh_ok "the installed sample passes bounced -t" "$BD" -t -c "$SYSCONF/bounced.conf.sample"
}

eq_sysusers() {
	mkdir -p "$T/root/etc"
	sh_ok "systemd-sysusers creates bounced" sh -c \
	    "systemd-sysusers --root='$T/root' '$SYSUSERS/bounced.conf' && grep -q '^bounced:' '$T/root/etc/passwd'"
}

# systemd-analyze verify, with the installed paths inside DESTDIR
eq_unit() {
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		sh_ok "the unit is hardened" grep -q '^ProtectSystem=strict' "$UNITDIR/bounced.service"
		return
	fi
	mkdir -p "$T/units"
	for u in bounced.service bounced-stats.service bounced-stats.timer; do
		sed "s|=$prefix/|=$INST$prefix/|g; s|-c $prefix|-c $INST$prefix|g" \
		    "$UNITDIR/$u" >"$T/units/$u"
	done
	sh_ok "systemd-analyze verify" systemd-analyze verify --man=no \
	    "$T/units/bounced.service" "$T/units/bounced-stats.service" \
	    "$T/units/bounced-stats.timer"
	for d in User=bounced NoNewPrivileges=yes ProtectSystem=strict \
	    ProtectHome=yes PrivateTmp=yes StateDirectory=bounced \
	    Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID'; do
		sh_ok "bounced.service: $d" grep -qxF "$d" "$UNITDIR/bounced.service"
	done
}

# every package named exists in Debian (installed, or known to apt)
eq_packages() {
	for p in $(echo "$1" | sed 's/.*--no-install-recommends//'); do
		dpkg-query -W "$p" >/dev/null 2>&1 ||
		    apt-cache show "$p" >/dev/null 2>&1 ||
		    fail "apt-get install: no Debian package '$p'"
	done
}

# bounced -f: starts, polls, exits 0 on SIGTERM
eq_foreground() {
	"$BD" -f -c "$T/bounced.conf" >"$T/fg.log" 2>&1 &
	pid=$!
	waited=0
	until grep -q "started" "$T/fg.log" || [ $waited -ge 100 ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc -eq 0 ] && grep -q "started" "$T/fg.log" ||
		{ fail "bounced -f: exit $rc"; cat "$T/fg.log"; }
}

# equivalent LINE: runs the replacement of LINE; 1 if LINE has none
equivalent() {
	case $1 in
	"sudo tools/demo.sh"*) eq_demo ;;
	"tools/check.sh") eq_check ;;
	"./autogen.sh && ./configure"*) eq_build ;;
	"sudo make install") eq_install ;;
	"sudo cp /etc/bounced.conf.sample /etc/bounced.conf"*) eq_sample ;;
	"sudo systemd-sysusers") eq_sysusers ;;
	"sudo systemctl enable --now bounced") eq_unit ;;
	"apt-get install "*) eq_packages "$1" ;;
	"bounced -f "*) eq_foreground ;;
	*) return 1 ;;
	esac
	return 0
}

# --- the blocks -----------------------------------------------------------
# block files NNN.TAG whose first line is "# README.md:LINE" ("--" in sql)
if ! awk -v dir="$T" '
	/^```/ && !inblk {
		tag = substr($0, 4); sub(/[ \t]+$/, "", tag)
		n++; f = sprintf("%s/%03d.%s", dir, n, tag == "" ? "none" : tag)
		printf("%s README.md:%d\n", tag == "sql" ? "--" : "#", NR + 1) > f
		inblk = 1; next
	}
	/^```[ \t]*$/ && inblk { inblk = 0; close(f); next }
	inblk { print > f }
	END { if (inblk) { print "unterminated block" > "/dev/stderr"; exit 1 } }
    ' "$README"; then
	exit 1
fi

run_sh() {
	where=$(head -n 1 "$1" | sed 's/^# //')  # sh blocks: "#"
	start=${where#README.md:}
	# join continuation lines; one command per line with its line number
	awk -v l="$start" 'NR > 1 {
		line = NR - 2 + l
		if (cont != "") { $0 = cont " " $0; line = cl }
		if (sub(/\\$/, "")) { cont = $0; cl = line; next }
		cont = ""
		if ($0 ~ /^[ \t]*(#|$)/) next
		print line "\t" $0
	}' "$1" >"$1.cmds"
	while IFS='	' read -r line cmd; do
		n=$((n + 1))
		c=$(printf '%s\n' "$cmd" | sed 's/^sudo -u postgres //; s/^sudo -u bounced //')
		if equivalent "$c" </dev/null; then
			echo "ok   README.md:$line (equivalent) $cmd"
			continue
		fi
		case $c in
		sudo*) fail "README.md:$line: no equivalent for '$cmd' in tests/readme_commands.sh"; continue ;;
		esac
		c=$(printf '%s\n' "$c" | sed "s|/etc/bounced.conf|$T/bounced.conf|g")
		if (cd "$T/w" && sh -c "$c") >"$T/cmd.out" 2>&1 </dev/null; then
			echo "ok   README.md:$line $cmd"
		else
			fail "README.md:$line: exit $?: $cmd"
			sed 's/^/	/' "$T/cmd.out"
		fi
	done <"$1.cmds"
}

for f in "$T"/[0-9][0-9][0-9].*; do
	where=$(head -n 1 "$f" | sed 's/^\(#\|--\) //')
	case $f in
	*.sh) run_sh "$f" ;;
	*.conf)
		n=$((n + 1))
		if "$BD" -t -c "$f" >"$T/cmd.out" 2>&1; then
			echo "ok   $where conf passes bounced -t"
		else
			fail "$where: conf block rejected: $(cat "$T/cmd.out")"
		fi ;;
	*.sql)
		n=$((n + 1))
		if psql -X -q -v ON_ERROR_STOP=1 -f "$f" >"$T/cmd.out" 2>&1; then
			echo "ok   $where sql"
		else
			fail "$where: sql block failed"; sed 's/^/	/' "$T/cmd.out"
		fi ;;
	*.text) ;;
	*) fail "$where: a block tagged '${f##*.}': tag it sh, conf, sql or text" ;;
	esac
done

# what the commands did is what the README says they do
n=$((n + 1))
[ -s "$T/w/bounced.prom" ] && grep -q '^bounced_suppressed_addresses{shop="shop1"}' "$T/w/bounced.prom" ||
	fail "stats --output did not write bounced.prom"
n=$((n + 1))
[ "$(psql -qAtX -c "SELECT count(*) FROM audit_log WHERE address = 'unknown@example.jp' AND reason = 'customer fixed the mailbox'")" = 1 ] ||
	fail "suppression remove left no audit row"
[ "$n" -ge 30 ] || fail "only $n README commands found"
echo "$n checks, $fails failed"
[ "$fails" -eq 0 ]
