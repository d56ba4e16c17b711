#!/bin/sh
# notify_auth.sh - the notifier's relay connection: TLS and SMTP AUTH
# against a real Postfix on loopback (LAB.md §4) whose SASL is the private
# Dovecot's (smtpd_sasl_type = dovecot, a passwd-file user; tests/dovecot.sh
# with DOVECOT_USERS).  Postfix offers:
#   smtps       implicit TLS (smtpd_tls_wrappermode), AUTH PLAIN and LOGIN
#   submission  STARTTLS required, AUTH only after it (smtpd_tls_auth_only)
#               and only LOGIN (smtpd_sasl_mechanism_filter)
#   badtls      STARTTLS with a certificate nobody trusts
#   badtlss     implicit TLS with that certificate
# every one relaying only for authenticated clients, to LMTP into Dovecot.
# Checked:
#   - a notice goes through implicit TLS + AUTH PLAIN (the code prefers
#     PLAIN when both are offered), the password from password_file;
#   - a notice goes through STARTTLS + AUTH LOGIN (the only mechanism
#     offered), the password from the variable password_env names; both
#     arrive in the Maildir, and Postfix logged the mechanism and user;
#   - without user the relay refuses to relay: a permanent error;
#   - a wrong password is a temporary error recorded in last_error (the
#     server's 535 and the user), retried later, given up after three
#     days (NOTIFY_GIVE_UP, docs/notify.md); an unset password variable,
#     a missing or empty password file are errors of the same kind, and
#     the relay is not even connected to;
#   - a relay whose certificate is untrusted (STARTTLS or implicit TLS,
#     or a self-signed one checked against the system CAs) is refused
#     before AUTH: Postfix saw no AUTH command on those connections;
#   - no password appears in bouncectl's output (-v) nor anywhere in the
#     database (pg_dump).
# Needs root (Postfix's master), postfix, dovecot-lmtpd, openssl and
# /usr/bin/python3; skips (77) without them.
set -u
top_srcdir=${top_srcdir:-.}
if [ "$(id -u)" != 0 ]; then
	echo "notify_auth.sh: needs root to run a private Postfix; skipped"
	exit 77
fi
for b in /usr/sbin/postfix /usr/sbin/postconf /usr/bin/doveadm /usr/bin/python3 /usr/bin/pg_dump; do
	[ -x "$b" ] || { echo "notify_auth.sh: no $b; skipped"; exit 77; }
done
command -v openssl >/dev/null 2>&1 || { echo "notify_auth.sh: no openssl; skipped"; exit 77; }
. "$top_srcdir/tests/prologue.sh"
FIX="$top_srcdir/tests/fixtures/postfix"
CHECK="/usr/bin/python3 $top_srcdir/tests/notify_check.py"
RELAY_USER=relay@notify.test
RELAY_PW=Rl4y-pw-7Qx2zK
WRONG_PW=Wr0ng-pw-9Jd4mN
chmod 755 "$T"
PF="$T/pf"
DOVECOT_DIR=
cleanup() {
	[ -f "$PF/etc/main.cf" ] && /usr/sbin/postfix -c "$PF/etc" stop >/dev/null 2>&1
	[ -n "$DOVECOT_DIR" ] && "$top_srcdir/tests/dovecot.sh" stop "$DOVECOT_DIR"
	rm -rf "$T"
}
trap cleanup EXIT

# --- Dovecot: LMTP, the relay user, an auth socket for Postfix --------------
start_dovecot 23 DOVECOT_LMTP=1 DOVECOT_USERS="$RELAY_USER:$RELAY_PW"
# Postfix's smtpd runs as postfix, Dovecot as nobody: a socket anyone
# may use, in the test's own directory
cat >>"$DOVECOT_CONF" <<EOF
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
AUTH_SOCKET="$DOVECOT_DIR/run/auth-postfix"
/usr/bin/doveadm -c "$DOVECOT_CONF" reload 2>"$T/reload.err" ||
	{ echo "doveadm reload failed:"; cat "$T/reload.err"; exit 99; }
waited=0
while [ ! -S "$AUTH_SOCKET" ] && [ $waited -lt 50 ]; do
	sleep 0.1; waited=$((waited + 1))
done
[ -S "$AUTH_SOCKET" ] || { echo "no $AUTH_SOCKET"; cat "$DOVECOT_DIR/dovecot.log"; exit 99; }

# --- Postfix: four listeners, relaying for authenticated clients only -------
SMTPS_PORT=$((BASE_PORT + 856))
SUBMISSION_PORT=$((BASE_PORT + 857))
BADTLS_PORT=$((BASE_PORT + 858))
BADTLSS_PORT=$((BASE_PORT + 859))
postfix_config mta.auth.test
# the same names, but a key and certificate nobody was told to trust
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$PF/bad-key.pem" -out "$PF/bad-cert.pem" >"$T/openssl.log" 2>&1 ||
	{ cat "$T/openssl.log"; exit 99; }
chmod 600 "$PF/bad-key.pem"
cat >>"$PF/etc/main.cf" <<EOF
smtpd_sasl_type = dovecot
smtpd_sasl_path = $AUTH_SOCKET
smtpd_sasl_auth_enable = yes
smtpd_client_restrictions =
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
EOF
# service PORT NAME PARAM=VALUE...: an smtpd on PORT logging as
# postfix/NAME, with these overrides
service() {
	port=$1 name=$2
	shift 2
	postconf -c "$PF/etc" -M "$port/inet=$port inet n - n - - smtpd" >/dev/null
	postconf -c "$PF/etc" -P "$port/inet/syslog_name=postfix/$name" >/dev/null
	for p in "$@"; do
		postconf -c "$PF/etc" -P "$port/inet/$p" >/dev/null
	done
}
service "$SMTPS_PORT" smtps smtpd_tls_wrappermode=yes
service "$SUBMISSION_PORT" submission smtpd_tls_security_level=encrypt \
    smtpd_tls_auth_only=yes smtpd_sasl_mechanism_filter=login
service "$BADTLS_PORT" badtls smtpd_tls_cert_file="$PF/bad-cert.pem" \
    smtpd_tls_key_file="$PF/bad-key.pem"
service "$BADTLSS_PORT" badtlss smtpd_tls_wrappermode=yes \
    smtpd_tls_cert_file="$PF/bad-cert.pem" smtpd_tls_key_file="$PF/bad-key.pem"
if ! /usr/sbin/postfix -c "$PF/etc" start >/dev/null 2>&1; then
	echo "notify_auth.sh: postfix did not start:"; cat "$PF/maillog" 2>/dev/null
	exit 99
fi
/usr/bin/python3 - "$SMTPS_PORT" "$SUBMISSION_PORT" "$BADTLS_PORT" "$BADTLSS_PORT" <<'EOF' ||
import socket, sys, time
for port in sys.argv[1:]:
    for i in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(port)), 1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(1)
EOF
	{ echo "no SMTP listeners"; cat "$PF/maillog"; exit 99; }

# what each listener offers: AUTH PLAIN and LOGIN over implicit TLS;
# on submission no AUTH before STARTTLS, then only LOGIN
/usr/bin/python3 - "$SMTPS_PORT" "$SUBMISSION_PORT" >"$T/ehlo" 2>&1 <<'EOF'
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
s.ehlo("probe.test")
print("smtps:", s.esmtp_features.get("auth", "-").strip())
s.quit()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=10)
s.ehlo("probe.test")
print("submission before STARTTLS:", s.esmtp_features.get("auth", "-").strip())
s.starttls(context=ctx)
s.ehlo("probe.test")
print("submission after STARTTLS:", s.esmtp_features.get("auth", "-").strip())
s.quit()
EOF
new_database notify_auth

fails=0
n=0
# every output of bouncectl, to look for a password in it
: >"$T/all.log"
CHECK_LOG=$T/all.log
# lacks NAME FILE STRING: FILE does not contain the fixed STRING
lacks() {
	n=$((n + 1))
	if grep -qF -- "$3" "$2"; then
		echo "FAIL $1: has '$3':"; grep -F -- "$3" "$2" | head -3
		fails=$((fails + 1))
	else
		echo "ok   $1"
	fi
}
# state SHOP: "state|attempts" of the shop's notice
state() {
	sql "SELECT state || '|' || attempts FROM notify_notices WHERE shop_id = '$1'"
}
# error SHOP: the shop's notice's last_error
error() {
	sql "SELECT coalesce(last_error, '') FROM notify_notices WHERE shop_id = '$1'"
}
# smtpd NAME: Postfix's log lines of the service NAME
smtpd() {
	grep " postfix/$1/smtpd\[" "$PF/maillog"
}
# settle: until Postfix's log (written by postlogd, a moment later) has
# stopped growing, 5 s at most
settle() {
	waited=0 size=-1
	while [ "$size" != "$(wc -c <"$PF/maillog")" ] && [ $waited -lt 10 ]; do
		size=$(wc -c <"$PF/maillog")
		sleep 0.5; waited=$((waited + 1))
	done
}
MD="$DOVECOT_DIR/home/test@example.jp/Maildir"
arrived() {
	grep -lx "X-Bounced-Notice: failure; shop=$1" "$MD"/new/* "$MD"/cur/* 2>/dev/null |
	    wc -l | tr -d ' '
}
wait_mail() {
	waited=0
	while [ "$(arrived "$1")" -lt 1 ] && [ $waited -lt 200 ]; do
		sleep 0.1; waited=$((waited + 1))
	done
}

printf '%s\n' "$RELAY_PW" >"$T/relay.pw"
printf '%s\n' "$WRONG_PW" >"$T/wrong.pw"
echo >"$T/empty.pw"
chmod 600 "$T/relay.pw" "$T/wrong.pw"
BOUNCED_RELAY_PW=$RELAY_PW
BOUNCED_UNSET_PW=
export BOUNCED_RELAY_PW
unset BOUNCED_UNSET_PW
# relay PORT TLS [SETTINGS]: a shop's notifier.smtp group
relay() {
	echo "notifier = { smtp = { host = \"127.0.0.1\"; port = $1; tls = \"$2\"; $3 }; };"
}
CA="ca_file = \"$DOVECOT_CERT\";"
AUTH_FILE="user = \"$RELAY_USER\"; password_file = \"$T/relay.pw\";"
cat >"$T/bounced.conf" <<EOF
log = "stderr";
notifier = { from = "notice@platform.test"; };
shops = (
	{ id = "plain"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA $AUTH_FILE") },
	{ id = "login"; notify = [ "test@example.jp" ];
	  $(relay "$SUBMISSION_PORT" starttls "$CA user = \"$RELAY_USER\"; password_env = \"BOUNCED_RELAY_PW\";") },
	{ id = "noauth"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA") },
	{ id = "wrongpw"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA user = \"$RELAY_USER\"; password_file = \"$T/wrong.pw\";") },
	{ id = "unsetenv"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA user = \"$RELAY_USER\"; password_env = \"BOUNCED_UNSET_PW\";") },
	{ id = "nofile"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA user = \"$RELAY_USER\"; password_file = \"$T/missing.pw\";") },
	{ id = "emptyfile"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$CA user = \"$RELAY_USER\"; password_file = \"$T/empty.pw\";") },
	{ id = "badtls"; notify = [ "test@example.jp" ];
	  $(relay "$BADTLS_PORT" starttls "$CA $AUTH_FILE") },
	{ id = "badtlss"; notify = [ "test@example.jp" ];
	  $(relay "$BADTLSS_PORT" implicit "$CA $AUTH_FILE") },
	{ id = "systemca"; notify = [ "test@example.jp" ];
	  $(relay "$SMTPS_PORT" implicit "$AUTH_FILE") }
);
EOF
SHOPS="plain login noauth wrongpw unsetenv nofile emptyfile badtls badtlss systemca"
same "the listeners offer what they should" \
    "smtps: PLAIN LOGIN|submission before STARTTLS: -|submission after STARTTLS: LOGIN" \
    "$(paste -sd'|' "$T/ehlo")"
check "config" 0 "" "$BC" db migrate -c "$T/bounced.conf"
for s in $SHOPS; do
	"$BC" ingest -c "$T/bounced.conf" --shop "$s" "$FIX/unknown-failed.eml" >>"$T/ingest.log" 2>&1 ||
		{ echo "ingest into $s failed:"; cat "$T/ingest.log"; exit 99; }
done
check "one drain: 2 sent, 7 to retry, 1 given up" 0 \
    "10 composed, 2 sent, 7 to retry, 1 given up" \
    "$BC" notify --once -v -c "$T/bounced.conf"

# --- the two mechanisms, over the two kinds of TLS ------------------------------
same "implicit TLS + PLAIN: sent" "sent|1" "$(state plain)"
same "STARTTLS + LOGIN: sent" "sent|1" "$(state login)"
wait_mail plain
wait_mail login
same "implicit TLS + PLAIN: arrived" 1 "$(arrived plain)"
same "STARTTLS + LOGIN: arrived" 1 "$(arrived login)"
$CHECK "$MD" >"$T/mails"
settle
same "both arrived with their stored Message-IDs" \
    "$(sql "SELECT string_agg('== <' || message_id || '>', ' ' ORDER BY message_id) FROM notify_notices WHERE state = 'sent'")" \
    "$(grep '^== ' "$T/mails" | sort | tr '\n' ' ' | sed 's/ $//')"
same "smtps: Postfix authenticated the user with PLAIN" 1 \
    "$(smtpd smtps | grep -c "sasl_method=PLAIN, sasl_username=$RELAY_USER")"
same "submission: Postfix authenticated the user with LOGIN" 1 \
    "$(smtpd submission | grep -c "sasl_method=LOGIN, sasl_username=$RELAY_USER")"
same "submission: TLS before AUTH" 1 \
    "$(smtpd submission | grep -c 'disconnect from .* starttls=1 auth=1 mail=1 rcpt=1 data=1')"

# --- refused -------------------------------------------------------------------
same "no AUTH: the relay refuses, a permanent error" "failed|1" "$(state noauth)"
n=$((n + 1))
case $(error noauth) in
*"RCPT TO:<test@example.jp>: 554 5.7.1 "*"Access denied"*) echo "ok   no AUTH: the reply recorded" ;;
*) echo "FAIL no AUTH: last_error '$(error noauth)'"; fails=$((fails + 1)) ;;
esac
same "wrong password: to retry" "queued|1" "$(state wrongpw)"
n=$((n + 1))
case $(error wrongpw) in
"AUTH: 535 5.7.8 "*"(user $RELAY_USER)") echo "ok   wrong password: the 535 and the user recorded" ;;
*) echo "FAIL wrong password: last_error '$(error wrongpw)'"; fails=$((fails + 1)) ;;
esac
same "wrong password: retried in a minute" "t" \
    "$(sql "SELECT next_attempt_at BETWEEN now() + interval '50 seconds' AND now() + interval '70 seconds' FROM notify_notices WHERE shop_id = 'wrongpw'")"
same "unset password_env: to retry" "queued|1" "$(state unsetenv)"
same "unset password_env: why" "smtp password_env: the environment variable BOUNCED_UNSET_PW is not set" "$(error unsetenv)"
same "missing password_file: to retry" "queued|1" "$(state nofile)"
n=$((n + 1))
case $(error nofile) in
"smtp password_file: "*"missing.pw"*) echo "ok   missing password_file: why" ;;
*) echo "FAIL missing password_file: last_error '$(error nofile)'"; fails=$((fails + 1)) ;;
esac
same "empty password_file: to retry" "queued|1" "$(state emptyfile)"
same "empty password_file: why" "smtp password_file $T/empty.pw: the first line is empty" "$(error emptyfile)"
# the wait for the port, the EHLO probe, plain, noauth, wrongpw and
# systemca: without a password there is no connection
same "smtps: no connection without a password" 6 \
    "$(smtpd smtps | grep -c ': connect from ')"
for s in badtls badtlss systemca; do
	same "$s: untrusted certificate refused, to retry" "queued|1" "$(state $s)"
	n=$((n + 1))
	case $(error $s) in
	*"TLS"*"certificate"*) echo "ok   $s: why" ;;
	*) echo "FAIL $s: last_error '$(error $s)'"; fails=$((fails + 1)) ;;
	esac
done
same "badtls: Postfix saw STARTTLS and no AUTH" "1 0" \
    "$(smtpd badtls | grep -c 'disconnect from .*starttls=1') $(smtpd badtls | grep -c 'auth=')"
same "badtlss: Postfix saw no AUTH" "0" "$(smtpd badtlss | grep -c 'auth=')"
same "only the sent ones arrived" 2 "$(find "$MD/new" "$MD/cur" -type f | grep -c .)"

# --- retry and give up, per docs/notify.md --------------------------------------
check "not due yet: nothing sent" 0 "0 composed, 0 sent, 0 to retry, 0 given up" \
    "$BC" notify --once -c "$T/bounced.conf"
sql "UPDATE notify_notices SET next_attempt_at = now() WHERE shop_id = 'wrongpw'" >/dev/null
check "wrong password: retried" 0 "0 sent, 1 to retry, 0 given up" \
    "$BC" notify --once -v -c "$T/bounced.conf"
same "wrong password: second attempt, two minutes later" "queued|2|1" \
    "$(sql "SELECT state || '|' || attempts || '|' || (next_attempt_at > now() + interval '110 seconds')::int FROM notify_notices WHERE shop_id = 'wrongpw'")"
sql "UPDATE notify_notices SET next_attempt_at = now(), created_at = now() - interval '3 days 1 minute' WHERE shop_id = 'wrongpw'" >/dev/null
check "wrong password: given up after three days" 0 "0 sent, 0 to retry, 1 given up" \
    "$BC" notify --once -v -c "$T/bounced.conf"
same "wrong password: failed, with why" "failed|3" "$(state wrongpw)"
same "wrong password: its outbox rows failed" "0|1" \
    "$(sql "SELECT count(*) FILTER (WHERE failed_at IS NULL) || '|' || (count(*) > 0)::int FROM notify_outbox WHERE shop_id = 'wrongpw'")"
settle
same "smtps: Postfix saw 3 failed AUTH" 3 \
    "$(smtpd smtps | grep -c "authentication failed")"

# --- no secret anywhere ------------------------------------------------------------
pg_dump --data-only >"$T/dump.sql" || { echo "pg_dump failed"; exit 99; }
lacks "no password in bouncectl's output" "$T/all.log" "$RELAY_PW"
lacks "no wrong password in bouncectl's output" "$T/all.log" "$WRONG_PW"
lacks "no password in the database" "$T/dump.sql" "$RELAY_PW"
lacks "no wrong password in the database" "$T/dump.sql" "$WRONG_PW"
n=$((n + 1))
if grep -qF "AUTH: 535" "$T/all.log"; then
	echo "ok   the AUTH failure was logged"
else
	echo "FAIL the AUTH failure was not logged"; fails=$((fails + 1))
fi

finish
