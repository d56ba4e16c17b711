#!/bin/bash
# Generate real DSN fixtures from real MTAs (Postfix, Exim, OpenSMTPD).
#
#   sudo tools/fixturegen/gen.sh [postfix|exim|opensmtpd|all]     (default: all)
#
# Env: BASE_PORT (default 32500), KEEP=1 keeps the temp dir,
#      FIXTUREGEN_CACHE (default /var/tmp/bounced-fixturegen: extracted Exim/OpenSMTPD .debs)
# See tools/fixturegen/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
BASE_PORT=${BASE_PORT:-32500}
P_LMTP=$((BASE_PORT + 24))
P_POSTFIX=$((BASE_PORT + 25))
P_RESP=$((BASE_PORT + 26))
P_STALL=$((BASE_PORT + 27))
P_EXIM=$((BASE_PORT + 30))
P_SMTPD=$((BASE_PORT + 35))
CACHE=${FIXTUREGEN_CACHE:-/var/tmp/bounced-fixturegen}
MTA_HOST=mta.bounce.test
WAIT_MAX=${WAIT_MAX:-180}
# OpenSMTPD has no connect/greeting timeout setting: against the stall
# responder it produced no DSN within 180 s, so that case is skipped there
# unless OPENSMTPD_SKIP is set (e.g. OPENSMTPD_SKIP= WAIT_MAX=600).
OPENSMTPD_SKIP=${OPENSMTPD_SKIP-timeout-stall}
RUN_USER=nobody
RUN_GROUP=nogroup

[ "$(id -u)" = 0 ] || { echo "gen.sh: must run as root (MTAs need it)" >&2; exit 1; }
WHAT=${1:-all}
case "$WHAT" in postfix|exim|opensmtpd|all) ;; *) echo "usage: $0 [postfix|exim|opensmtpd|all]" >&2; exit 2;; esac

T=$(mktemp -d /tmp/fixturegen.XXXXXX)
chmod 755 "$T"
PIDS=()
STOP_CMDS=()
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

cleanup() {
    local rc=$?
    set +e
    for ((i=${#STOP_CMDS[@]}-1; i>=0; i--)); do eval "${STOP_CMDS[$i]}" >/dev/null 2>&1; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then log "temp dir kept: $T"; else rm -rf "$T"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port, postfix_start, postfix_stop, postfix_queue_length
. "$ROOT/tools/lib/postfix.sh"

bg_as_user() {  # run CMD unprivileged in the background; $! is the real pid
    setpriv --reuid=$RUN_USER --regid=$RUN_GROUP --clear-groups "$@" &
    PIDS+=($!)
}

# ------------------------------------------------------------------ Dovecot
start_dovecot() {
    local D=$T/dovecot
    mkdir -p "$D/home" "$D/run" "$D/state"
    echo "shop@bounce.test:{PLAIN}secret::::::" > "$D/passwd"
    cat > "$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
hostname = mx.bounce.test
protocols = lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
default_internal_user = $RUN_USER
default_internal_group = $RUN_GROUP
default_login_user = $RUN_USER
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/passwd
}
userdb {
  driver = static
  args = uid=$(id -u $RUN_USER) gid=$(getent group $RUN_GROUP | cut -d: -f3) home=$D/home/%u allow_all_users=yes
}
service anvil {
  chroot =
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $P_LMTP
  }
}
EOF
    chown -R $RUN_USER:$RUN_GROUP "$D"
    setpriv --reuid=$RUN_USER --regid=$RUN_GROUP --clear-groups dovecot -c "$D/dovecot.conf"
    STOP_CMDS+=("setpriv --reuid=$RUN_USER --regid=$RUN_GROUP --clear-groups dovecot -c '$D/dovecot.conf' stop")
    wait_port 127.0.0.1 $P_LMTP
    MAILDIR=$D/home/shop@bounce.test/Maildir
    log "dovecot LMTP on 127.0.0.1:$P_LMTP"
}

start_responders() {
    bg_as_user $PY "$HERE/responder.py" --host 127.0.0.1 $P_RESP >"$T/responder.log" 2>&1
    bg_as_user $PY "$HERE/responder.py" --host 127.0.0.2 $P_STALL stall >"$T/stall.log" 2>&1
    wait_port 127.0.0.1 $P_RESP
    wait_port 127.0.0.2 $P_STALL
    log "responder on 127.0.0.1:$P_RESP, stall on 127.0.0.2:$P_STALL"
}

reset_maildir() {
    rm -rf "$T/dovecot/home/shop@bounce.test" "$T/dovecot/home/customer@bounce.test"
}

# wait_queue NAME CMD-THAT-PRINTS-QUEUE-LENGTH
wait_queue() {
    local name=$1 cmd=$2 start=$SECONDS n last=-1 stable=0
    while :; do
        n=$(eval "$cmd" 2>/dev/null || echo "?")
        [ "$n" != "$last" ] && log "$name: $n message(s) in queue, $(ls "$MAILDIR/new" 2>/dev/null | wc -l) DSN(s) so far"
        last=$n
        if [ "$n" = 0 ]; then
            stable=$((stable + 1)); [ $stable -ge 3 ] && break
        else
            stable=0
        fi
        if [ $((SECONDS - start)) -ge $WAIT_MAX ]; then log "$name: giving up after ${WAIT_MAX}s"; break; fi
        sleep 1
    done
}

collect() {  # mta
    local out=$ROOT/tests/fixtures/$1
    mkdir -p "$out"
    rm -f "$out"/*.eml
    $PY "$HERE/collect.py" "$MAILDIR" "$T/$1.cases.tsv" "$out" "$T=/tmp/fixturegen"
    local h; h=$(hostname)
    if grep -lw -F -- "$h" "$out"/*.eml >/dev/null 2>&1; then
        log "WARNING: build host name '$h' appears in: $(grep -lw -F -- "$h" "$out"/*.eml | xargs -n1 basename | tr '\n' ' ')"
    fi
}

# ------------------------------------------------------------------ Postfix
run_postfix() {
    local P=$T/postfix
    postfix_start "$P" "$MTA_HOST" $P_POSTFIX "smtp:[127.0.0.1]:$P_RESP" \
        "bounce.test=lmtp:inet:127.0.0.1:$P_LMTP, stall.example.jp=smtp:[127.0.0.2]:$P_STALL, no-such-domain.invalid=smtp:[no-such-domain.invalid]"
    STOP_CMDS+=("postfix_stop '$P'")
    log "postfix $(postconf -d -h mail_version) on 127.0.0.1:$P_POSTFIX"
    reset_maildir
    $PY "$HERE/inject.py" 127.0.0.1 $P_POSTFIX "$T/postfix.cases.tsv" postfix
    wait_queue postfix "postfix_queue_length '$P'"
    postfix_stop "$P"
    collect postfix
}

# -------------------------------------------------- .deb extraction (cached)
fetch_deb() {  # package -> prints extracted root
    local pkg=$1 dir=$CACHE/x-$1
    if [ ! -d "$dir" ]; then
        mkdir -p "$CACHE"; chmod 755 "$CACHE"
        (cd "$CACHE" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >/dev/null 2>&1) \
            || { apt-get update >/dev/null && (cd "$CACHE" && apt-get download "$pkg" >/dev/null); }
        mkdir -p "$dir.tmp" && dpkg-deb -x "$CACHE/${pkg}"_*.deb "$dir.tmp" && mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# --------------------------------------------------------------------- Exim
run_exim() {
    local X=$T/exim XR BIN
    XR=$(fetch_deb exim4-daemon-light)
    BIN=$XR/usr/sbin/exim4
    dpkg -s libidn12 >/dev/null 2>&1 || apt-get install -y --no-install-recommends libidn12 >/dev/null
    if ! id Debian-exim >/dev/null 2>&1; then
        useradd -r -U -M -d /nonexistent -s /usr/sbin/nologin Debian-exim
        log "created system user Debian-exim"
    fi
    mkdir -p "$X/spool" "$X/log"
    chown -R Debian-exim:Debian-exim "$X/spool" "$X/log"
    cat > "$X/exim.conf" <<EOF
primary_hostname = $MTA_HOST
qualify_domain = bounce.test
exim_path = $BIN
keep_environment =
spool_directory = $X/spool
log_file_path = $X/log/%slog
pid_file_path = $X/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
daemon_smtp_ports = $P_EXIM
local_interfaces = 127.0.0.1
host_lookup =
rfc1413_hosts =
dsn_advertise_hosts = *
smtp_accept_queue_per_connection = 0
delay_warning = 15s
acl_smtp_rcpt = acl_check_rcpt
tls_advertise_hosts =

begin acl
acl_check_rcpt:
  accept hosts = 127.0.0.0/8
  deny   message = relay not permitted

begin routers
dovecot:
  driver = manualroute
  domains = bounce.test
  transport = dovecot_lmtp
  route_list = * 127.0.0.1
  self = send
stall:
  driver = manualroute
  domains = stall.example.jp
  transport = smtp_stall
  route_list = * 127.0.0.2
  self = send
nxdomain:
  driver = manualroute
  domains = no-such-domain.invalid
  transport = smtp_remote
  route_list = * no-such-domain.invalid byname
  host_find_failed = fail
responder:
  driver = manualroute
  transport = smtp_responder
  route_list = * 127.0.0.1
  self = send

begin transports
smtp_responder:
  driver = smtp
  port = $P_RESP
  allow_localhost
  hosts_avoid_tls = *
smtp_stall:
  driver = smtp
  port = $P_STALL
  allow_localhost
  connect_timeout = 3s
  command_timeout = 3s
  hosts_avoid_tls = *
smtp_remote:
  driver = smtp
  hosts_avoid_tls = *
dovecot_lmtp:
  driver = smtp
  protocol = lmtp
  port = $P_LMTP
  allow_localhost

begin retry
*   *   F,40s,5s

begin rewrite
EOF
    "$BIN" -C "$X/exim.conf" -bV >/dev/null 2>&1 || { "$BIN" -C "$X/exim.conf" -bV; return 1; }
    "$BIN" -C "$X/exim.conf" -bdf -q5s >"$X/daemon.out" 2>&1 &
    PIDS+=($!)
    wait_port 127.0.0.1 $P_EXIM
    log "exim $("$BIN" -C "$X/exim.conf" -bV 2>/dev/null | sed -n '1s/Exim version \([^ ]*\).*/\1/p') on 127.0.0.1:$P_EXIM"
    reset_maildir
    $PY "$HERE/inject.py" 127.0.0.1 $P_EXIM "$T/exim.cases.tsv" exim
    wait_queue exim "'$BIN' -C '$X/exim.conf' -bpc"
    kill "${PIDS[-1]}" 2>/dev/null || true
    collect exim
}

# ---------------------------------------------------------------- OpenSMTPD
# OpenSMTPD has compiled-in paths: queue /var/spool/smtpd, control socket
# /var/run/smtpd.sock, chroot /var/lib/opensmtpd/empty, helpers under
# /usr/libexec/opensmtpd, host name from /etc/mailname.  Whatever of these
# did not exist before is created here and removed again at exit.
tmp_system_path() {  # path [symlink-target]: create if absent, remove at exit
    local p=$1
    [ -e "$p" ] || [ -L "$p" ] && return 0
    if [ $# -ge 2 ]; then ln -s "$2" "$p"; else mkdir -p "$p"; fi
    STOP_CMDS+=("rm -rf '$p'")
}

run_opensmtpd() {
    local O=$T/opensmtpd XR SMTPD CTL
    XR=$(fetch_deb opensmtpd)
    SMTPD=$XR/usr/sbin/smtpd CTL=$XR/usr/sbin/smtpctl
    if [ -e /var/run/smtpd.sock ]; then
        "$CTL" show status >/dev/null 2>&1 && { echo "an OpenSMTPD is already running (/var/run/smtpd.sock)" >&2; return 1; }
        rm -f /var/run/smtpd.sock     # stale socket of a killed instance
    fi
    STOP_CMDS+=("rm -f /var/run/smtpd.sock")
    for u in opensmtpd opensmtpq; do
        if ! id $u >/dev/null 2>&1; then
            useradd -r -U -M -d /var/lib/opensmtpd -s /usr/sbin/nologin $u
            log "created system user $u"
        fi
    done
    chgrp opensmtpq "$CTL" && chmod 2555 "$CTL"     # "smtpctl: this program must be setgid opensmtpq"
    tmp_system_path /var/lib/opensmtpd
    mkdir -p /var/lib/opensmtpd/empty
    tmp_system_path /usr/libexec/opensmtpd "$XR/usr/libexec/opensmtpd"
    [ -e /var/spool/smtpd ] || STOP_CMDS+=("rm -rf /var/spool/smtpd")   # smtpd creates it (mode 711)
    if [ ! -e /etc/mailname ]; then
        echo "$MTA_HOST" > /etc/mailname
        STOP_CMDS+=("rm -f /etc/mailname")
    fi
    mkdir -p "$O"
    cat > "$O/smtpd.conf" <<EOF
queue ttl 40s
bounce warn-interval 15s
table vusers { "shop@bounce.test" = "$RUN_USER", "customer@bounce.test" = "$RUN_USER" }
listen on 127.0.0.1 port $P_SMTPD hostname $MTA_HOST
action "dovecot" lmtp "127.0.0.1:$P_LMTP" rcpt-to virtual <vusers>
action "responder" relay host smtp://127.0.0.1:$P_RESP helo $MTA_HOST
action "stall" relay host smtp://127.0.0.2:$P_STALL helo $MTA_HOST
action "mx" relay helo $MTA_HOST
match from any for domain "bounce.test" action "dovecot"
match from local for domain "stall.example.jp" action "stall"
match from local for domain "no-such-domain.invalid" action "mx"
match from local for any action "responder"
EOF
    chmod 644 "$O/smtpd.conf"
    "$SMTPD" -n -f "$O/smtpd.conf" >/dev/null
    "$SMTPD" -d -f "$O/smtpd.conf" >"$O/smtpd.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    STOP_CMDS+=("kill $pid; sleep 1")
    wait_port 127.0.0.1 $P_SMTPD
    log "opensmtpd $("$SMTPD" -h 2>&1 | sed -n 's/^version: //p') on 127.0.0.1:$P_SMTPD"
    reset_maildir
    $PY "$HERE/inject.py" 127.0.0.1 $P_SMTPD "$T/opensmtpd.cases.tsv" opensmtpd "$OPENSMTPD_SKIP"
    wait_queue opensmtpd "'$CTL' show queue | wc -l"
    kill $pid 2>/dev/null || true
    collect opensmtpd
}

# --------------------------------------------------------------------- main
START=$SECONDS
start_dovecot
start_responders
case "$WHAT" in
    postfix) run_postfix ;;
    exim) run_exim ;;
    opensmtpd) run_opensmtpd ;;
    all) run_postfix; run_exim; run_opensmtpd ;;
esac
log "done in $((SECONDS - START))s"
