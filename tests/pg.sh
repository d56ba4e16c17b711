#!/bin/sh
# pg.sh - a throwaway PostgreSQL 15 cluster for the tests (LAB.md §2).
#
#   pg.sh start         start a cluster in a new temp dir on 127.0.0.1 and
#                       print its environment as shell assignments
#                       (PGHOST PGPORT PGUSER PGDATABASE BOUNCED_PG_DIR)
#   pg.sh stop DIR      stop the cluster started in DIR and remove DIR
#   pg.sh run CMD...    start, run CMD with that environment, stop; exits
#                       with CMD's status
#
# The server runs as 'nobody' when started as root (initdb refuses root),
# with fsync off: test data only.  Exits 77 (automake: skipped) only when
# the server binaries are absent; any other failure is 99 (hard error).
set -u
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_server() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
		echo "pg.sh: no PostgreSQL server binaries in $PGBIN; install postgresql-15" >&2
		exit 77
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/bounced-pg.XXXXXX") || exit 99
	chmod 755 "$T"
	[ "$(id -u)" = 0 ] && chown nobody "$T"
	if ! as_server "$PGBIN/initdb" -D "$T/data" -U postgres -A trust -E UTF8 \
	    --no-locale --no-sync >"$T/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		cat "$T/initdb.log" >&2
		rm -rf "$T"
		exit 99
	fi
	tries=0
	while :; do
		port=$(( 20000 + ($$ * 7 + tries * 131 + $(date +%N | sed 's/^0*//;s/^$/0/') % 1000) % 30000 ))
		if as_server "$PGBIN/pg_ctl" -D "$T/data" -l "$T/log" -w -t 30 -o \
		    "-c listen_addresses=127.0.0.1 -p $port -k $T -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
		    start >/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		if [ $tries -ge 5 ]; then
			echo "pg.sh: could not start PostgreSQL:" >&2
			cat "$T/log" >&2
			rm -rf "$T"
			exit 99
		fi
	done
	echo "PGHOST=127.0.0.1; export PGHOST"
	echo "PGPORT=$port; export PGPORT"
	echo "PGUSER=postgres; export PGUSER"
	echo "PGDATABASE=postgres; export PGDATABASE"
	echo "BOUNCED_PG_DIR=$T; export BOUNCED_PG_DIR"
}

pg_stop() {
	T=$1
	[ -d "$T/data" ] || { echo "pg.sh: $T is not a cluster dir" >&2; exit 99; }
	as_server "$PGBIN/pg_ctl" -D "$T/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$T"
}

case "${1:-}" in
start)
	pg_start
	;;
stop)
	[ $# -eq 2 ] || { echo "usage: pg.sh stop DIR" >&2; exit 2; }
	pg_stop "$2"
	;;
run)
	shift
	[ $# -ge 1 ] || { echo "usage: pg.sh run CMD..." >&2; exit 2; }
	envs=$(pg_start) || exit $?
	eval "$envs"
	"$@"
	rc=$?
	pg_stop "$BOUNCED_PG_DIR"
	exit $rc
	;;
*)
	echo "usage: pg.sh start | stop DIR | run CMD..." >&2
	exit 2
	;;
esac
