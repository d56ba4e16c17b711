#!/bin/sh
# check.sh - build bounced with warnings as errors and run every test.
#
#   tools/check.sh              the README's test command: out-of-tree
#                               build in build/check, then `make check`
#   tools/check.sh sanitizers   the same with ASan+UBSan (clang)
#   tools/check.sh valgrind     unit tests and all fixtures under valgrind
#   tools/check.sh fuzz [SECS]  libFuzzer over the parse path (default 60 s)
#   tools/check.sh distcheck    `make distcheck`: the tarball builds, passes
#                               make check, installs and uninstalls cleanly
#   tools/check.sh demo         the README's first command, tools/demo.sh
#                               (needs root), and what it must show
#
# Each mode appends "MODE: N passed, N failed" to build/results and exits
# non-zero on a failure.  Needs the build dependencies (see README).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-check}
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$top/build"

[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null)

# configure_in DIR ARGS...: a fresh out-of-tree build directory.
configure_in() {
	dir=$1; shift
	mkdir -p "$dir"
	cd "$dir"
	[ -f Makefile ] || "$top/configure" --enable-werror "$@" >configure.out
}

# record MODE PASS FAIL
record() {
	echo "$1: $2 passed, $3 failed" | tee -a "$top/build/results"
	[ "$3" -eq 0 ]
}

# automake_counts: prints "PASS FAIL" from test-suite.log
automake_counts() {
	p=$(sed -n 's/^# PASS: *//p' test-suite.log)
	f=$(sed -n 's/^# FAIL: *//p;s/^# ERROR: *//p;s/^# XPASS: *//p' test-suite.log |
		awk '{s += $1} END {print s + 0}')
	echo "${p:-0} $f"
}

run_check() {
	name=$1; shift
	configure_in "$top/build/$name" "$@"
	make -j"$jobs" >make.out 2>&1 || { cat make.out; record "$name" 0 1; }
	status=0
	make -j"$jobs" check >check.out 2>&1 || status=$?
	[ $status -eq 0 ] || { cat check.out; cat tests/*.log 2>/dev/null | tail -50; }
	set -- $(automake_counts)
	record "$name" "$1" "$2"
}

run_valgrind() {
	configure_in "$top/build/valgrind"
	units="tests/test_textscan tests/test_classify tests/test_parse tests/test_notice"
	make -j"$jobs" bouncectl $units >make.out 2>&1 || { cat make.out; record valgrind 0 1; }
	vg="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$top/tests/valgrind.supp"
	pass=0 fail=0
	for t in $units; do
		if G_SLICE=always-malloc $vg ./$t >/dev/null 2>vg.err; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1)); echo "valgrind: $t"; cat vg.err
		fi
	done
	find "$top/tests/fixtures" -name '*.eml' | LC_ALL=C sort >fixtures.list
	if G_SLICE=always-malloc xargs $vg ./bouncectl parse <fixtures.list >/dev/null 2>vg.err; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "valgrind: bouncectl parse over fixtures"; cat vg.err
	fi
	record valgrind "$pass" "$fail"
}

run_fuzz() {
	secs=${1:-60}
	configure_in "$top/build/fuzz" CC=clang --enable-fuzzing \
	    CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined"
	make -j"$jobs" libparsers.a tests/fuzz/fuzz_parse >make.out 2>&1 || { cat make.out; record fuzz 0 1; }
	rm -rf corpus && mkdir corpus
	find "$top/tests/fixtures" -name '*.eml' -size -256k -exec cp {} corpus/ \;
	if ./tests/fuzz/fuzz_parse -max_total_time="$secs" -max_len=65536 \
	    -dict="$top/tests/fuzz/fuzz_parse.dict" -print_final_stats=1 \
	    corpus >fuzz.out 2>&1; then
		tail -5 fuzz.out; record fuzz 1 0
	else
		tail -40 fuzz.out; record fuzz 0 1
	fi
}

# make distcheck in build/distcheck; the counts are those of the make
# check it runs on the unpacked tarball, plus one failure if distcheck
# itself failed (a file missing from the tarball, install, uninstall).
# The tarball's make check runs the tests that need every kind of
# distributed file (sources, fixtures, migrations, templates, man pages,
# the README, the PostgreSQL harness) but not the long daemon and SMTP
# runs, which `check` and `sanitizers` already run on the same sources;
# DISTCHECK_TESTS="" runs them all.
DISTCHECK_TESTS=${DISTCHECK_TESTS-"tests/test_textscan tests/test_classify \
tests/test_parse tests/test_addr tests/test_config tests/test_notice \
tests/golden.sh tests/db_cli.sh tests/docs_sql.sh tests/man_pages.sh \
tests/readme_commands.sh"}

run_distcheck() {
	configure_in "$top/build/distcheck"
	status=0
	if [ -n "$DISTCHECK_TESTS" ]; then
		set -- TESTS="$DISTCHECK_TESTS"
	else
		set --
	fi
	make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
	    "$@" >distcheck.out 2>&1 || status=$?
	p=$(sed -n 's/^# PASS: *//p' distcheck.out | tail -n 1)
	f=$(sed -n 's/^# FAIL: *//p;s/^# ERROR: *//p;s/^# XPASS: *//p' distcheck.out |
		awk '{s += $1} END {print s + 0}')
	if [ $status -ne 0 ]; then
		tail -60 distcheck.out
		[ "$f" -eq 0 ] && f=1
	else
		grep -A3 'archives ready for distribution' distcheck.out
	fi
	record distcheck "${p:-0}" "$f"
}

# The README's first command as a new user runs it (packages already
# installed): it must exit 0 and show the report, the suppression, the
# lookup and the notification mail with its fields.
run_demo() {
	cd "$top/build"
	status=0
	"$top/tools/demo.sh" --no-install >demo.out 2>&1 || status=$?
	pass=0 fail=0
	for want in "fatal:userunknown" "fatal:hostunknown" \
	    '"order_number" : "ORD-2026-000104"' \
	    "メールアドレス: unknown@example.jp" "メールの種類: サンクスメール" \
	    "注文番号: ORD-2026-000101" "エラーが発生した時間: "; do
		if [ $status -eq 0 ] && grep -qF -- "$want" demo.out; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1)); echo "demo: exit $status, or no \"$want\""
		fi
	done
	[ $fail -eq 0 ] || tail -40 demo.out
	record demo "$pass" "$fail"
}

case $mode in
check) run_check check ;;
sanitizers) run_check sanitizers CC=clang --enable-sanitizers ;;
valgrind) run_valgrind ;;
fuzz) run_fuzz "${2:-60}" ;;
distcheck) run_distcheck ;;
demo) run_demo ;;
*) echo "usage: tools/check.sh [check|sanitizers|valgrind|fuzz [SECS]|distcheck|demo]" >&2; exit 2 ;;
esac
