# prologue.sh - how every integration test that needs PostgreSQL starts.
# Sourced right after `set -u` and top_srcdir (and any skip checks that
# need no server): runs the script again under a private PostgreSQL
# (tests/pg.sh) unless PGHOST is set, then sets top_builddir, BD and BC
# (the built daemon and CLI), FIX (the fixtures; a script may narrow it),
# T (a fresh scratch directory; the script removes it) and sources
# tests/lib.sh.
top_builddir=${top_builddir:-.}
if [ -z "${PGHOST:-}" ]; then
	exec "$top_srcdir/tests/pg.sh" run "$0" "$@"
fi
BD="$top_builddir/bounced/bounced"
BC="$top_builddir/bouncectl"
FIX="$top_srcdir/tests/fixtures"
T=$(mktemp -d) || exit 99
. "$top_srcdir/tests/lib.sh"
