#!/bin/bash
# demo.sh - see bounced work end to end on this machine (the README's first
# command):
#
#   sudo tools/demo.sh [--keep] [--no-install]
#
# 1. installs the Debian 12 packages that are missing (apt-get);
# 2. builds bounced out of tree in build/demo;
# 3. starts, in a temporary directory on 127.0.0.1, a throwaway PostgreSQL
#    (tests/pg.sh), a private Dovecot with the shop's mailbox
#    shop@bounce.test (tests/dovecot.sh, IMAPS + LMTP), a scripted remote
#    SMTP server (tools/fixturegen/responder.py) and a private Postfix
#    (tools/lib/postfix.sh) that relays to it and delivers DSNs into the
#    shop's mailbox over LMTP;
# 4. sends five Japanese order mails through Postfix: to an unknown user, an
#    unknown domain, a full mailbox, Gmail rejecting the shop's mail as
#    unauthenticated (5.7.26), and someone on holiday (an auto-reply);
# 5. writes a bounced.conf for the shop, runs `bounced --once`, and shows
#    the undeliverable report, the suppression list, a lookup by order
#    number, the statistics and the notification mail (メールエラー通知) as
#    the shop owner receives it;
# 6. stops and removes everything (--keep: leaves it running and says how
#    to use and stop it).
#
# Needs root: Postfix's master runs as root (PostgreSQL, Dovecot and the
# responder run as nobody).  Leaves the system's own Postfix, Dovecot and
# PostgreSQL alone; the only lasting changes are the installed packages and
# build/demo.  Ports: BASE_PORT (default 27100) to BASE_PORT+900 on
# 127.0.0.1 (it stops if one is in use).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
KEEP=0 INSTALL=1
for a in "$@"; do
	case $a in
	--keep) KEEP=1 ;;
	--no-install) INSTALL=0 ;;
	-h|--help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0 ;;
	*) echo "usage: tools/demo.sh [--keep] [--no-install] [--help]" >&2; exit 2 ;;
	esac
done

START=$SECONDS
if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B= N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
STEP=starting
die() {
	printf '\n%sdemo.sh: FAILED while %s:%s %s\n' "$B" "$STEP" "$N" "$*" >&2
	exit 1
}
# run CMD...: show and run a command the way a user would type it
run() {
	printf '\n%s$ %s%s\n' "$B" "$*" "$N"
	"$@"
}

[ "$(id -u)" = 0 ] || die "run it as root: sudo tools/demo.sh (Postfix needs root)"
[ -r /etc/debian_version ] || die "this demo is written for Debian 12"

# ---------------------------------------------------------------- packages
PKGS="build-essential autoconf automake libtool pkg-config libgmime-3.0-dev
libjson-glib-dev libidn2-dev libpq-dev libconfig-dev libetpan-dev nettle-dev
postgresql-15 postgresql-client-15 dovecot-core dovecot-imapd dovecot-lmtpd
postfix openssl python3 util-linux"
STEP="installing packages"
step "Debian packages"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	say "all installed"
elif [ $INSTALL = 0 ]; then
	die "missing:$missing (run without --no-install to apt-get them)"
else
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# no system mail configuration: the demo runs its own Postfix
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -q >/dev/null || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >"${TMPDIR:-/tmp}/bounced-demo-apt.log" 2>&1 ||
		{ tail -20 "${TMPDIR:-/tmp}/bounced-demo-apt.log" >&2; die "apt-get install failed"; }
	say "done"
fi

# ------------------------------------------------------------------- build
STEP="building bounced"
step "Building bounced (out of tree, in build/demo)"
t0=$SECONDS
BUILD=$top/build/demo
mkdir -p "$BUILD"
if [ ! -x "$top/configure" ]; then
	(cd "$top" && ./autogen.sh) >"$BUILD/autogen.out" 2>&1 ||
		{ cat "$BUILD/autogen.out" >&2; die "autogen.sh failed"; }
fi
( cd "$BUILD" && { [ -f Makefile ] || "$top/configure" >configure.out 2>&1; } &&
	make -j"$(nproc 2>/dev/null || echo 2)" >make.out 2>&1 ) ||
	{ tail -30 "$BUILD/configure.out" "$BUILD/make.out" >&2 2>/dev/null; die "the build failed (logs in $BUILD)"; }
BD=$BUILD/bounced/bounced BC=$BUILD/bouncectl
say "$("$BD" --version), $("$BC" --version) in $((SECONDS - t0)) s"

# ----------------------------------------------------------------- servers
T=$(mktemp -d /tmp/bounced-demo.XXXXXX)
chmod 755 "$T"
PIDS=() PG_DIR= DOVECOT_DIR= POSTFIX_DIR=
# shellcheck source=lib/postfix.sh
. "$top/tools/lib/postfix.sh"
stop_all() {
	set +e
	[ -n "$POSTFIX_DIR" ] && postfix_stop "$POSTFIX_DIR"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$DOVECOT_DIR" ] && "$top/tests/dovecot.sh" stop "$DOVECOT_DIR"
	[ -n "$PG_DIR" ] && "$top/tests/pg.sh" stop "$PG_DIR"
	rm -rf "$T"
}
on_exit() {
	rc=$?
	if [ $rc != 0 ] && [ -n "${POSTFIX_DIR:-}" ] && [ -f "$POSTFIX_DIR/maillog" ]; then
		echo "--- last lines of the Postfix log:" >&2
		tail -15 "$POSTFIX_DIR/maillog" >&2
	fi
	if [ $KEEP = 1 ]; then
		write_stop
		printf '\nKept (--keep). To stop and remove everything: sh %s/stop.sh\n' "$T"
	else
		stop_all >/dev/null 2>&1
	fi
	exit $rc
}
write_stop() {
	{
		echo "#!/bin/sh"
		echo "# stops what tools/demo.sh --keep left running and removes $T"
		[ -n "$POSTFIX_DIR" ] && echo "postfix -c '$POSTFIX_DIR/etc' stop"
		for p in "${PIDS[@]}"; do echo "kill $p"; done
		[ -n "$DOVECOT_DIR" ] && echo "'$top/tests/dovecot.sh' stop '$DOVECOT_DIR'"
		[ -n "$PG_DIR" ] && echo "'$top/tests/pg.sh' stop '$PG_DIR'"
		echo "rm -rf '$T'"
	} >"$T/stop.sh"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

BASE_PORT=${BASE_PORT:-27100}
P_SMTPD=$((BASE_PORT + 25)) P_RESP=$((BASE_PORT + 26))
SHOP_PW=shop-secret-$$ OWNER_PW=owner-secret-$$

STEP="checking the ports"
DB=$((BASE_PORT + 43)) # Dovecot's BASE_PORT (tests/dovecot.sh)
for p in $P_SMTPD $P_RESP $DB $((DB + 850)) $((DB - 33)) $((DB + 852)) $((DB + 853)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		die "127.0.0.1:$p is in use; run with another BASE_PORT (now $BASE_PORT), e.g. BASE_PORT=$((BASE_PORT + 1000)) tools/demo.sh"
	fi
done

STEP="starting PostgreSQL"
step "Starting a throwaway PostgreSQL, Dovecot, SMTP responder and Postfix in $T"
env=$("$top/tests/pg.sh" start) || die "tests/pg.sh could not start PostgreSQL"
eval "$env"
PG_DIR=$BOUNCED_PG_DIR
psql -qX -d postgres -c "CREATE DATABASE bounced" >/dev/null || die "CREATE DATABASE failed"
say "PostgreSQL 15 on 127.0.0.1:$PGPORT, database bounced"

STEP="starting Dovecot"
env=$(BASE_PORT=$DB DOVECOT_LMTP=1 \
	DOVECOT_USERS="shop@bounce.test:$SHOP_PW owner@bounce.test:$OWNER_PW" \
	"$top/tests/dovecot.sh" start) || die "tests/dovecot.sh could not start Dovecot"
eval "$env"
SHOP_MD=$DOVECOT_DIR/home/shop@bounce.test/Maildir
OWNER_MD=$DOVECOT_DIR/home/owner@bounce.test/Maildir
say "Dovecot: IMAPS on 127.0.0.1:$IMAPS_PORT, LMTP on 127.0.0.1:$LMTP_PORT; mailboxes shop@bounce.test (the shop's sending mailbox) and owner@bounce.test (the shop owner)"

STEP="starting the SMTP responder"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 \
	"$top/tools/fixturegen/responder.py" --host 127.0.0.1 \
	--reply-via "127.0.0.1:$P_SMTPD" "$P_RESP" >"$T/responder.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$P_RESP" && kill -0 "${PIDS[-1]}" 2>/dev/null ||
	die "the responder did not start: $(cat "$T/responder.log")"
say "the \"Internet\": a scripted SMTP server on 127.0.0.1:$P_RESP answering like Gmail and other providers"

STEP="starting Postfix"
POSTFIX_DIR=$T/postfix
postfix_start "$POSTFIX_DIR" mta.bounce.test "$P_SMTPD" "smtp:[127.0.0.1]:$P_RESP" \
	"bounce.test=lmtp:inet:127.0.0.1:$LMTP_PORT, no-such-domain.invalid=smtp:[no-such-domain.invalid]" ||
	die "Postfix did not start (see above)"
say "Postfix $(postconf -d -h mail_version) on 127.0.0.1:$P_SMTPD: relays to the responder, delivers bounce.test over LMTP"

# ---------------------------------------------------------------- the mail
STEP="sending the sample order mail"
step "The shop sends five order mails (From: shop@bounce.test, X-Order-Number, X-Mail-Type)"
CASES=unknown,hostunknown,mailbox-full-5.2.2,gmail-auth-5.7.26,autoreply-vacation
/usr/bin/python3 "$top/tools/fixturegen/inject.py" 127.0.0.1 "$P_SMTPD" "$T/cases.tsv" \
	postfix "" "$CASES" | sed 's/^/    /' || die "inject.py could not submit the mail"
order_of() { awk -v c="$1" '$2 == c {print $1}' "$T/cases.tsv"; }

STEP="waiting for the bounces"
step "Waiting for Postfix to bounce them back into the shop's mailbox"
want=5 waited=0 last=-1
while :; do
	got=$(find "$SHOP_MD/new" "$SHOP_MD/cur" -type f 2>/dev/null | wc -l)
	q=$(postfix_queue_length "$POSTFIX_DIR")
	[ "$got" != "$last" ] && say "$got of $want messages in shop@bounce.test's INBOX ($q in Postfix's queue)"
	last=$got
	[ "$got" -ge $want ] && [ "$q" = 0 ] && break
	[ $waited -ge 120 ] && die "only $got of $want messages arrived within 60 s"
	sleep 0.5
	waited=$((waited + 1))
done
/usr/bin/python3 - "$SHOP_MD" <<'EOF'
import email, email.policy, glob, sys
for f in sorted(glob.glob(sys.argv[1] + "/new/*") + glob.glob(sys.argv[1] + "/cur/*")):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    print(f"      From: {m['From']}\n        Subject: {m['Subject']}")
EOF

# -------------------------------------------------------------- bounced
STEP="configuring bounced"
step "bounced.conf for the shop: its IMAP mailbox and the database"
printf '%s\n' "$SHOP_PW" >"$T/shop.password"
chmod 600 "$T/shop.password"
NOTIFY=0
"$BC" --help | grep -q '^  notify ' && NOTIFY=1
{
	cat <<EOF
# written by tools/demo.sh
database = { conninfo = "host=127.0.0.1 port=$PGPORT user=postgres dbname=bounced"; };
log = "stderr";
EOF
	[ $NOTIFY = 1 ] && cat <<EOF
notifier = {
	smtp = { host = "127.0.0.1"; port = $P_SMTPD; tls = "none"; };
	from = "bounced-notice@notify.bounce.test";
	from_name = "バウンス通知";
};
EOF
	cat <<EOF
shops = (
	{
		id = "demo-shop";
		name = "サンプル茶舗オンラインショップ";
		notify = [ "owner@bounce.test" ];
		sender_domains = [ "bounce.test" ];
		mailboxes = (
			{
				name = "main";
				protocol = "imap";
				host = "127.0.0.1";
				port = $IMAPS_PORT;
				tls = "implicit";
				ca_file = "$DOVECOT_CERT";
				user = "shop@bounce.test";
				password_file = "$T/shop.password";
			}
		);
	}
);
EOF
} >"$T/bounced.conf"
sed 's/^/    /' "$T/bounced.conf"
CONF=$T/bounced.conf
STEP="checking the configuration"
run "$BD" -t -c "$CONF" || die "bounced -t rejected the configuration"
STEP="creating the schema"
run "$BC" db migrate -c "$CONF" || die "bouncectl db migrate failed"

STEP="running bounced --once"
step "bounced polls the mailbox once: records every message in PostgreSQL, then moves it"
run "$BD" --once -c "$CONF" || die "bounced --once failed (exit $?)"
# count FOLDER: messages in a Maildir folder
count() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }
say "INBOX now holds $(count "$SHOP_MD") messages; bounced/processed holds $(count "$SHOP_MD/.bounced.processed")"

STEP="showing the results"
step "The undeliverable report (what the shop and the platform read)"
run "$BC" report -c "$CONF" --shop demo-shop
step "The suppression list: addresses the platform must not mail any more"
run "$BC" suppression list -c "$CONF" --shop demo-shop
step "Support: \"I never got my order mail\" -> lookup by order number"
run "$BC" lookup -c "$CONF" --order "$(order_of unknown)"
run "$BC" lookup -c "$CONF" --order "$(order_of gmail-auth-5.7.26)" --format json
step "How bounced is doing (bouncectl stats)"
run "$BC" stats -c "$CONF" --shop demo-shop

if [ $NOTIFY = 1 ]; then
	STEP="sending the notification"
	step "The mail error notification (メールエラー通知) the shop owner receives"
	run "$BC" notify --once -c "$CONF" || die "bouncectl notify --once failed"
	waited=0
	until [ "$(find "$OWNER_MD/new" "$OWNER_MD/cur" -type f 2>/dev/null | wc -l)" -gt 0 ]; do
		[ $waited -ge 60 ] && die "no notification reached owner@bounce.test within 30 s"
		sleep 0.5
		waited=$((waited + 1))
	done
	sleep 1 # let the other notices of this run arrive too
	say "$(find "$OWNER_MD/new" "$OWNER_MD/cur" -type f | wc -l) notification(s) in owner@bounce.test's INBOX; the one about the first order sent:"
	# notices arrive in the order their bounces were polled, which
	# depends on the MTAs' timing: show the one with the lowest order
	# number (the first mail sent)
	/usr/bin/python3 - $(find "$OWNER_MD/new" "$OWNER_MD/cur" -type f | sort) <<'EOF'
import email, email.policy, re, sys
def load(path):
    return email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
def order(m):
    found = re.findall(r"ORD-\d{4}-\d+", str(m["Subject"] or ""))
    return min(found) if found else "~"
m = min((load(p) for p in sys.argv[1:]), key=order)
print()
for h in ("From", "To", "Subject", "Date", "Auto-Submitted"):
    if m[h] is not None:
        print(f"    {h}: {m[h]}")
body = m.get_body(preferencelist=("plain",))
print()
for line in (body.get_content() if body else "(no text part)").splitlines():
    print("    " + line)
EOF
else
	step "The notification mail"
	say "this build has no 'bouncectl notify' yet: the notifications wait in the outbox"
fi

STEP="finishing"
step "Done in $((SECONDS - START)) s"
if [ $KEEP = 1 ]; then
	cat <<EOF
    Everything is still running. To look around:
      export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=postgres PGDATABASE=bounced
      $BC report -c $CONF --shop demo-shop --format csv
      psql -c 'SELECT * FROM suppression_list'
      ls $SHOP_MD/.bounced.processed/cur
EOF
else
	say "stopping the servers and removing $T (use --keep to look around)"
fi
