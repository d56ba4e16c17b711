# lib.sh - what the integration test scripts share: starting their
# private servers and the checks.  Sourced by tests/*.sh once they have
# set T (their scratch directory; those that need PostgreSQL do both
# through tests/prologue.sh); every check counts into n and, when
# it fails, into fails (the script sets both to 0).  A script ends with
# `finish`.

# new_database PREFIX: creates the database PREFIX_<pid> on the test's
# PostgreSQL (tests/pg.sh) and selects it (PGDATABASE); exits 99 if it
# cannot.
new_database() {
	PGDATABASE=$1_$$
	export PGDATABASE
	psql -q -d postgres -c "CREATE DATABASE $PGDATABASE" || exit 99
}

# start_dovecot SALT [NAME=VALUE...]: starts a private Dovecot
# (tests/dovecot.sh, with these variables in its environment) on a
# random base port derived from the pid and SALT (a number of the
# script's own, so tests running side by side differ), retried on three
# ports; sets what dovecot.sh prints (DOVECOT_DIR, the ports, ...).
# Exits 77 when Dovecot is not installed, 99 when it cannot start.
start_dovecot() {
	salt=$1
	shift
	for try in 1 2 3; do
		BASE_PORT=$((21000 + ($$ * salt + try * 991) % 8000))
		export BASE_PORT
		dc_env=$(env "$@" "$top_srcdir/tests/dovecot.sh" start 2>"$T/dovecot.err")
		rc=$?
		[ $rc -eq 0 ] && break
		[ $rc -eq 77 ] && { cat "$T/dovecot.err"; exit 77; }
	done
	[ $rc -eq 0 ] || { cat "$T/dovecot.err"; exit 99; }
	eval "$dc_env"
}

# postfix_config HOSTNAME: configures a private Postfix in $PF (etc/,
# spool/, data/) named HOSTNAME that delivers example.jp to the private
# Dovecot's LMTP ($LMTP_PORT) and refuses every other destination, with
# Dovecot's certificate for STARTTLS, no chroot and no smtpd on port 25.
# The test appends its smtpd settings to $PF/etc/main.cf, adds its
# listeners and starts it.
postfix_config() {
	mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
	chown postfix "$PF/data"
	cp /etc/postfix/master.cf "$PF/etc/"
	cp "$DOVECOT_DIR/cert.pem" "$DOVECOT_DIR/key.pem" "$PF/"
	chmod 600 "$PF/key.pem"
	cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
mail_owner = postfix
setgid_group = postdrop
myhostname = $1
mydestination =
local_recipient_maps =
alias_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
transport_maps = inline:{ example.jp=lmtp:inet:127.0.0.1:$LMTP_PORT }
default_transport = error:only example.jp in this test
relay_transport = error:only example.jp in this test
smtpd_tls_cert_file = $PF/cert.pem
smtpd_tls_key_file = $PF/key.pem
smtpd_tls_security_level = may
EOF
	postconf -c "$PF/etc" -F '*/*/chroot = n' >/dev/null
	postconf -c "$PF/etc" -MX smtp/inet >/dev/null
}

# check NAME WANT_STATUS PATTERN CMD... : runs CMD, checks its exit status
# and that stdout+stderr contains PATTERN (a fixed string; "" = any).
# When CHECK_LOG names a file, every output is appended to it too.
check() {
	name=$1 want=$2 pat=$3
	shift 3
	n=$((n + 1))
	"$@" >"$T/out" 2>&1
	got=$?
	[ -n "${CHECK_LOG:-}" ] && cat "$T/out" >>"$CHECK_LOG"
	if [ "$got" != "$want" ]; then
		echo "FAIL $name: exit $got, want $want"; cat "$T/out"
		fails=$((fails + 1))
	elif [ -n "$pat" ] && ! grep -qF -- "$pat" "$T/out"; then
		echo "FAIL $name: output lacks '$pat'"; cat "$T/out"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

# same NAME WANT GOT
same() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: got '$3', want '$2'"
		fails=$((fails + 1))
	fi
}

# sql QUERY: one query against $PGDATABASE, unaligned, no headers
sql() {
	psql -qAtX -c "$1"
}

# files DIR: the number of messages in a Maildir folder (new + cur)
files() {
	find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l | tr -d ' '
}

# deliver MAILDIR FILE...: delivers each file into MAILDIR/new the way an
# MDA does (written in tmp/, then renamed), named $seq.M$seq.bounced-test
# with seq counting up; owned by the private Dovecot's user when root.
seq=0
deliver() {
	md=$1
	shift
	mkdir -p "$md/tmp"
	for f in "$@"; do
		seq=$((seq + 1))
		tmpf="$md/tmp/$seq.M$seq.bounced-test"
		cp "$f" "$tmpf"
		[ "$(id -u)" = 0 ] && chown nobody:nogroup "$md/tmp" "$tmpf"
		mv "$tmpf" "$md/new/"
	done
	return 0
}

# finish: prints the count and exits 0 when nothing failed, else 1
finish() {
	echo "$n checks, $fails failed"
	[ "$fails" -eq 0 ]
	exit
}
