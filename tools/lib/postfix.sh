# postfix.sh - a private Postfix on loopback, shared by
# tools/fixturegen/gen.sh and tools/demo.sh (sourced, bash; LAB.md §4).
#
#   postfix_start DIR MYHOSTNAME SMTPD_PORT RELAY TRANSPORTS
#       writes DIR/etc/main.cf and starts Postfix with its queue, data and
#       log (DIR/maillog) under DIR: smtpd on 127.0.0.1:SMTPD_PORT accepts
#       from 127.0.0.0/8 and relays everything to RELAY (a nexthop such
#       as smtp:[127.0.0.1]:2526) except the domains of TRANSPORTS (an
#       inline transport map body: "d.test=lmtp:inet:127.0.0.1:24, ...").
#       Short timers: delay warning after 15 s, queue lifetime 40 s.
#       Needs root (master drops to user postfix).  Returns non-zero with
#       the maillog on stderr if Postfix does not start.
#   postfix_stop DIR
#   postfix_queue_length DIR     messages still in the queue
#   wait_port HOST PORT [TRIES]  until HOST:PORT accepts (0.2 s per try)

wait_port() {
    local i
    for ((i = 0; i < ${3:-50}; i++)); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "port $1:$2 never opened" >&2
    return 1
}

postfix_start() {
    local P=$1 host=$2 port=$3 relay=$4 transports=$5 E=$1/etc
    mkdir -p "$E" "$P/data" "$P/spool"
    chown postfix "$P/data"
    cp /etc/postfix/master.cf "$E/master.cf"
    cat > "$E/main.cf" <<EOF_MAIN
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
maillog_file = $P/maillog
maillog_file_prefixes = $P
mail_owner = postfix
setgid_group = postdrop
myhostname = $host
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtp_host_lookup = native
default_transport = $relay
relay_transport = $relay
transport_maps = inline:{ $transports }
smtp_connect_timeout = 3s
smtp_helo_timeout = 3s
delay_warning_time = 15s
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
maximal_queue_lifetime = 40s
bounce_queue_lifetime = 40s
smtp_tls_security_level = none
biff = no
EOF_MAIN
    postconf -c "$E" -F '*/*/chroot = n' &&
        postconf -c "$E" -MX smtp/inet &&
        postconf -c "$E" -M "$port/inet=$port inet n - n - - smtpd" || return 1
    # postfix prints its errors only to a terminal (LAB.md §4): give it one
    if ! script -eqc "postfix -c '$E' start" /dev/null >"$P/start.out" 2>&1; then
        cat "$P/start.out" "$P/maillog" >&2 2>/dev/null
        return 1
    fi
    wait_port 127.0.0.1 "$port"
}

postfix_stop() {
    postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}

postfix_queue_length() {
    postqueue -c "$1/etc" -j 2>/dev/null | wc -l
}
