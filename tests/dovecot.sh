#!/bin/sh
# dovecot.sh - a private, unprivileged Dovecot for the tests (LAB.md §3).
#
#   dovecot.sh start      write and start a Dovecot in a new temp dir on
#                         127.0.0.1 and print its environment as shell
#                         assignments (see below)
#   dovecot.sh stop DIR   stop the Dovecot started in DIR and remove DIR
#   dovecot.sh halt DIR   kill it at once, as in a crash (the master and
#                         every process of its session, SIGKILL), but keep
#                         DIR (mail, certificate, ports)
#   dovecot.sh resume DIR start the Dovecot of DIR again after a halt
#
# Listeners (BASE_PORT, default 20143): IMAP with STARTTLS on BASE_PORT,
# IMAPS on BASE_PORT+850 (20993), and when dovecot-pop3d is installed POP3
# on BASE_PORT-33 (20110) and POP3S on BASE_PORT+852 (20995).  The
# certificate is self-signed for localhost and 127.0.0.1 (openssl); trust
# it with ca_file = $DOVECOT_CERT.  Users come from a passwd-file:
#   test@example.jp / secret     other@example.jp / secret2
# with Maildir++ mail in $DOVECOT_DIR/home/USER/Maildir ("a/b" is the
# folder .a.b).  Started as root, Dovecot runs as nobody (setpriv), else as
# the invoking user.  Printed: DOVECOT_DIR DOVECOT_CONF DOVECOT_CERT
# IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT (POP3 ports empty without
# pop3d).  With DOVECOT_LMTP=1 (and dovecot-lmtpd installed) LMTP also
# listens on 127.0.0.1:BASE_PORT+853, printed as LMTP_PORT (else empty).
# DOVECOT_USERS="user@domain:password ..." adds users (tools/demo.sh).
# Exits 77 (automake: skipped) only when the dovecot or openssl
# binaries are missing; any other failure is 99.
set -u
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
LIBEXEC=${DOVECOT_LIBEXEC:-/usr/lib/dovecot}

as_server() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		"$@"
	fi
}

dc_fail() {
	echo "dovecot.sh: $1" >&2
	[ -f "$T/dovecot.log" ] && cat "$T/dovecot.log" >&2
	rm -rf "$T"
	exit 99
}

dc_conf() {
	user=$1 group=$2 pop3=$3
	if [ -n "$pop3" ]; then protocols="imap pop3"; else protocols=imap; fi
	[ -n "$LMTP_PORT" ] && protocols="$protocols lmtp"
	cat <<EOF
base_dir = $T/run
state_dir = $T/state
log_path = $T/dovecot.log
protocols = $protocols
listen = 127.0.0.1
ssl = yes
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN $T/passwd
}
userdb {
  driver = static
  args = uid=$(id -u "$user") gid=$(id -g "$user") home=$T/home/%u
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
EOF
	[ -n "$LMTP_PORT" ] && cat <<EOF
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
EOF
	[ -n "$pop3" ] && cat <<EOF
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
EOF
	return 0
}

dc_start() {
	if [ ! -x "$DOVECOT" ] || [ ! -x "$LIBEXEC/imap" ]; then
		echo "dovecot.sh: no Dovecot ($DOVECOT, $LIBEXEC/imap); install dovecot-core dovecot-imapd" >&2
		exit 77
	fi
	command -v openssl >/dev/null 2>&1 || {
		echo "dovecot.sh: no openssl binary; install openssl" >&2
		exit 77
	}
	base=${BASE_PORT:-20143}
	IMAP_PORT=$base IMAPS_PORT=$((base + 850))
	POP3_PORT= POP3S_PORT= pop3=
	if [ -x "$LIBEXEC/pop3" ]; then
		pop3=1 POP3_PORT=$((base - 33)) POP3S_PORT=$((base + 852))
	fi
	LMTP_PORT=
	if [ "${DOVECOT_LMTP:-}" = 1 ]; then
		[ -x "$LIBEXEC/lmtp" ] || {
			echo "dovecot.sh: no $LIBEXEC/lmtp; install dovecot-lmtpd" >&2
			exit 77
		}
		LMTP_PORT=$((base + 853))
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/bounced-dovecot.XXXXXX") || exit 99
	chmod 755 "$T"
	if [ "$(id -u)" = 0 ]; then
		user=nobody group=nogroup
	else
		user=$(id -un) group=$(id -gn)
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout "$T/key.pem" -out "$T/cert.pem" >"$T/openssl.log" 2>&1 ||
		dc_fail "openssl could not make a certificate: $(cat "$T/openssl.log")"
	printf '%s\n' 'test@example.jp:{PLAIN}secret::::::' \
	    'other@example.jp:{PLAIN}secret2::::::' >"$T/passwd"
	users="test@example.jp other@example.jp"
	for up in ${DOVECOT_USERS:-}; do
		printf '%s:{PLAIN}%s::::::\n' "${up%%:*}" "${up#*:}" >>"$T/passwd"
		users="$users ${up%%:*}"
	done
	for u in $users; do
		mkdir -p "$T/home/$u/Maildir/new" "$T/home/$u/Maildir/cur" \
		    "$T/home/$u/Maildir/tmp"
	done
	mkdir -p "$T/run" "$T/state"
	dc_conf "$user" "$group" "$pop3" >"$T/dovecot.conf"
	chmod 600 "$T/key.pem"
	[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$T"
	as_server "$DOVECOT" -c "$T/dovecot.conf" >"$T/start.log" 2>&1 ||
		dc_fail "dovecot did not start: $(cat "$T/start.log")"
	tries=0
	while [ ! -s "$T/run/master.pid" ]; do
		tries=$((tries + 1))
		[ $tries -gt 50 ] && dc_fail "dovecot wrote no master.pid"
		sleep 0.1
	done
	echo "DOVECOT_DIR=$T; export DOVECOT_DIR"
	echo "DOVECOT_CONF=$T/dovecot.conf; export DOVECOT_CONF"
	echo "DOVECOT_CERT=$T/cert.pem; export DOVECOT_CERT"
	echo "IMAP_PORT=$IMAP_PORT; export IMAP_PORT"
	echo "IMAPS_PORT=$IMAPS_PORT; export IMAPS_PORT"
	echo "POP3_PORT=$POP3_PORT; export POP3_PORT"
	echo "POP3S_PORT=$POP3S_PORT; export POP3S_PORT"
	echo "LMTP_PORT=$LMTP_PORT; export LMTP_PORT"
}

# dc_master DIR: checks that DIR is a dovecot dir; sets pid to the
# pid of its master (empty when none runs).
dc_master() {
	[ -f "$1/dovecot.conf" ] || { echo "dovecot.sh: $1 is not a dovecot dir" >&2; exit 99; }
	pid=$(cat "$1/run/master.pid" 2>/dev/null)
}

# dc_wait_gone PID: waits (at most 5 s) until process PID is gone.
dc_wait_gone() {
	tries=0
	while [ -n "$1" ] && kill -0 "$1" 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -gt 50 ] && break
		sleep 0.1
	done
}

# dc_halt DIR: kills the server of DIR at once (SIGKILL to the master's
# session: the master daemonizes as a session leader, its children stay in
# it) and waits until it is gone.  A graceful stop would let the IMAP
# processes finish what their clients asked first.
dc_halt() {
	dc_master "$1"
	[ -n "$pid" ] && pkill -KILL -s "$pid" 2>/dev/null
	dc_wait_gone "$pid"
	rm -f "$1/run/master.pid"
}

# dc_graceful DIR: stops the server of DIR and waits until it is gone.
dc_graceful() {
	dc_master "$1"
	as_server "$DOVECOT" -c "$1/dovecot.conf" stop >/dev/null 2>&1
	dc_wait_gone "$pid"
}

dc_stop() {
	dc_graceful "$1"
	rm -rf "$1"
}

# dc_resume DIR: starts the server of DIR again (same ports, same mail).
dc_resume() {
	T=$1
	[ -f "$T/dovecot.conf" ] || { echo "dovecot.sh: $T is not a dovecot dir" >&2; exit 99; }
	rm -f "$T/run/master.pid"
	tries=0
	until as_server "$DOVECOT" -c "$T/dovecot.conf" >"$T/start.log" 2>&1; do
		# the old listeners may linger for a moment
		tries=$((tries + 1))
		[ $tries -gt 30 ] && { echo "dovecot.sh: dovecot did not start again: $(cat "$T/start.log")" >&2; exit 99; }
		sleep 0.2
	done
	tries=0
	while [ ! -s "$T/run/master.pid" ]; do
		tries=$((tries + 1))
		[ $tries -gt 50 ] && { echo "dovecot.sh: dovecot wrote no master.pid" >&2; exit 99; }
		sleep 0.1
	done
}

case "${1:-}" in
start)
	dc_start
	;;
stop | halt | resume)
	[ $# -eq 2 ] || { echo "usage: dovecot.sh $1 DIR" >&2; exit 2; }
	"dc_$1" "$2"
	;;
*)
	echo "usage: dovecot.sh start | stop DIR | halt DIR | resume DIR" >&2
	exit 2
	;;
esac
