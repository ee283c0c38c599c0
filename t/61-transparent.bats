#!/usr/bin/env bats
# Transparent proxy, built for real: three network namespaces joined by veth
# pairs,
#
#   client 192.0.2.2      --  192.0.2.1    gateway  198.51.100.1  --  198.51.100.2    server
#          2001:db8:1::2  --  2001:db8:1::1         2001:db8:2::1 --  2001:db8:2::2
#
# The client sends to the server's address, port 25, and has no idea a proxy
# exists. The gateway routes between the two and diverts port 25 to
# proxsmtpd (systemd-socket-activate, port 10025) with the rules an operator
# writes, in iptables or native nftables: nat REDIRECT/DNAT (the proxy reads
# SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST) or mangle TPROXY (the accepted
# socket's own address is the destination). The server runs smtp-sink, whose
# dump records the address it saw the connection come from (X-Client-Addr).
#
# TransparentProxy: on -> the server sees the gateway's address;
# TransparentProxy: full -> the server sees the client's address, which needs
# IP_TRANSPARENT (CAP_NET_ADMIN or CAP_NET_RAW) and the policy routing below
# on the gateway.

load helpers
load lib/netns

C4=192.0.2.2 GC4=192.0.2.1 GS4=198.51.100.1 S4=198.51.100.2
C6=2001:db8:1::2 GC6=2001:db8:1::1 GS6=2001:db8:2::1 S6=2001:db8:2::2

local_setup() {
	ns_new client gw server
	ns_link client eth0 gw eth-c
	ns_link gw eth-s server eth0
	ns_ip client <<-EOF
	addr add $C4/24 dev eth0
	addr add $C6/64 dev eth0 nodad
	route add default via $GC4
	route add default via $GC6
	EOF
	ns_ip gw <<-EOF
	addr add $GC4/24 dev eth-c
	addr add $GC6/64 dev eth-c nodad
	addr add $GS4/24 dev eth-s
	addr add $GS6/64 dev eth-s nodad
	EOF
	ns_ip server <<-EOF
	addr add $S4/24 dev eth0
	addr add $S6/64 dev eth0 nodad
	route add default via $GS4
	route add default via $GS6
	EOF
	ns_sh gw <<-EOF
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	EOF
	# The mail server: one smtp-sink per address family.
	ns_sink server "[$S6]" 25 sink6 -h mx.server.test
	SINK6=$SINK_DIR
	ns_sink server $S4 25 sink4 -h mx.server.test
	SINK4=$SINK_DIR
	# The filter says who it saw and where the mail was going.
	FILTER=$(write_filter tag.sh \
		'echo "X-Filtered: client=$CLIENT server=$SERVER"' 'exec cat')
}

local_teardown() { ns_teardown; }

# --- the gateway's rules, as an operator writes them ----------------------

# nat REDIRECT: port 25 from the client side goes to the local port 10025.
redirect_rules() {
	ns_sh gw <<-EOF
	iptables -t nat -A PREROUTING -i eth-c -p tcp --dport 25 -j REDIRECT --to-ports 10025
	ip6tables -t nat -A PREROUTING -i eth-c -p tcp --dport 25 -j REDIRECT --to-ports 10025
	EOF
}

# Full mode: the server answers the client's address; those packets belong
# to the proxy's socket and must be delivered locally, not forwarded on to
# the client: mark packets of local sockets, route marked ones to lo.
full_mode_routing() {
	ns_sh gw <<-EOF
	iptables -t mangle -A PREROUTING -p tcp -m socket -j MARK --set-mark 1
	ip rule add fwmark 1 lookup 100
	ip route add local 0.0.0.0/0 dev lo table 100
	ip6tables -t mangle -A PREROUTING -p tcp -m socket -j MARK --set-mark 1
	ip -6 rule add fwmark 1 lookup 100
	ip -6 route add local ::/0 dev lo table 100
	EOF
}

# mangle TPROXY (the kernel's tproxy recipe): connections to port 25 from
# the client side are delivered, unchanged, to the transparent listener on
# port 10025; packets of existing local sockets are marked and routed
# locally (which full mode needs as well).
tproxy_rules() {
	ns_sh gw <<-EOF
	iptables -t mangle -N DIVERT
	iptables -t mangle -A PREROUTING -p tcp -m socket -j DIVERT
	iptables -t mangle -A DIVERT -j MARK --set-mark 1
	iptables -t mangle -A DIVERT -j ACCEPT
	iptables -t mangle -A PREROUTING -i eth-c -p tcp --dport 25 -j TPROXY --on-port 10025 --tproxy-mark 1
	ip rule add fwmark 1 lookup 100
	ip route add local 0.0.0.0/0 dev lo table 100
	ip6tables -t mangle -N DIVERT
	ip6tables -t mangle -A PREROUTING -p tcp -m socket -j DIVERT
	ip6tables -t mangle -A DIVERT -j MARK --set-mark 1
	ip6tables -t mangle -A DIVERT -j ACCEPT
	ip6tables -t mangle -A PREROUTING -i eth-c -p tcp --dport 25 -j TPROXY --on-port 10025 --tproxy-mark 1
	ip -6 rule add fwmark 1 lookup 100
	ip -6 route add local ::/0 dev lo table 100
	EOF
}

# The same with a native nftables ruleset (one inet table for both
# families), as "nft -f" reads it from /etc/nftables.conf.
nft_dnat_rules() {
	nsx gw nft -f - <<-EOF
	table inet proxsmtpd {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			iifname "eth-c" tcp dport 25 dnat ip to $GC4:10025
			iifname "eth-c" tcp dport 25 dnat ip6 to [$GC6]:10025
		}
	}
	EOF
}
nft_tproxy_rules() {
	nsx gw nft -f - <<-EOF
	table inet proxsmtpd {
		chain prerouting {
			type filter hook prerouting priority mangle; policy accept;
			meta l4proto tcp socket transparent 1 meta mark set 1 accept
			iifname "eth-c" tcp dport 25 tproxy to :10025 meta mark set 1 accept
		}
	}
	EOF
	ns_sh gw <<-EOF
	ip rule add fwmark 1 lookup 100
	ip route add local 0.0.0.0/0 dev lo table 100
	ip -6 rule add fwmark 1 lookup 100
	ip -6 route add local ::/0 dev lo table 100
	EOF
}

# --- the proxy on the gateway ----------------------------------------------

# proxsmtpd on port 10025 of every address, IPv4 and IPv6 on one socket, as
# systemd's "ListenStream=10025" makes it (IPv4 clients arrive as
# ::ffff:a.b.c.d).
gw_proxy() {
	ns_proxy gw 10025
}

# For TPROXY the listening socket needs IP_TRANSPARENT, which a socket unit
# gets with Transparent=yes; t/lib/tproxy-listen makes that socket and hands
# it to systemd-socket-activate as systemd would.
gw_proxy_tproxy() {
	ns_bg gw "$BATS_TEST_DIRNAME/lib/tproxy-listen" :: 10025 \
		systemd-socket-activate --inetd -a "$PROXSMTPD" -d 4 -f "$CONF" \
		2>>"$PROXY_LOG"
	LAUNCHER=$NS_PID
	ns_wait_port gw 10025
}

# --- the client ------------------------------------------------------------

# client_send SERVER-ADDR [swaks args]: swaks on the client host, sending to
# port 25 of the server's address. Transcript in $T/swaks.out.
client_send() {
	local to=$1
	shift
	nsx client swaks --server "$to" --port 25 --helo client.test \
		--from alice@client.test --to bob@server.test --timeout 20 "$@" \
		>"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

# The session as the client saw it went through proxsmtpd, and the one
# message reached the server filtered, with the client and server the
# filter was told about.
assert_filtered() { # SINKDIR CLIENT SERVER
	grep -q '^<-  220 .* ESMTP proxsmtpd' "$T/swaks.out"
	! grep -q 'mx.server.test' "$T/swaks.out" || false
	[[ "$(data_reply)" == "250 "* ]]
	SINK_DIR=$1
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Filtered: client=$2 server=$3" "$(sink_file)"
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

# The address the server saw the connection come from (smtp-sink writes
# IPv6 ones as "ipv6:ADDR").
server_saw() { # SINKDIR
	sed -n 's/^X-Client-Addr: \(ipv6:\)\{0,1\}//p' \
		"$(find "$1" -type f -name 'm.*' | head -1)"
}

# --- REDIRECT --------------------------------------------------------------

@test "REDIRECT, IPv4, TransparentProxy on: mail goes to the original destination through the filter" {
	redirect_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	# Not full mode: the server sees the gateway.
	[ "$(server_saw "$SINK4")" = $GS4 ]
	grep -q "connection from $C4 to $GC4, upstream $S4:25" "$PROXY_LOG"
}

@test "REDIRECT, IPv6, TransparentProxy on: IP6T_SO_ORIGINAL_DST gives the destination" {
	redirect_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S6
	[ "$status" -eq 0 ]
	assert_filtered "$SINK6" $C6 "[$S6]:25"
	[ "$(server_saw "$SINK6")" = $GS6 ]
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 0 ]
}

@test "TransparentProxy: client is the same as on" {
	redirect_rules
	write_conf "TransparentProxy: client" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	[ "$(server_saw "$SINK4")" = $GS4 ]
}

@test "REDIRECT, IPv4, TransparentProxy full: the server sees the client's address" {
	redirect_rules
	full_mode_routing
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	[ "$(server_saw "$SINK4")" = $C4 ]
}

@test "REDIRECT, IPv6, TransparentProxy full: the server sees the client's address" {
	redirect_rules
	full_mode_routing
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S6
	[ "$status" -eq 0 ]
	assert_filtered "$SINK6" $C6 "[$S6]:25"
	[ "$(server_saw "$SINK6")" = $C6 ]
}

@test "a message the filter rejects: the client gets the reply, the server nothing" {
	redirect_rules
	F=$(write_filter reject.sh 'cat >/dev/null' \
		'echo "554 5.7.1 Refused at the gateway" >&2' 'exit 1')
	write_conf "TransparentProxy: on" "FilterCommand: $F"
	gw_proxy
	run client_send $S4
	[ "$(data_reply)" = "554 5.7.1 Refused at the gateway" ]
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 0 ]
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=rejected' "$PROXY_LOG"
	no_temp_files
}

# --- TPROXY ----------------------------------------------------------------

@test "TPROXY, IPv4, TransparentProxy on: the accepted socket's address is the destination" {
	tproxy_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy_tproxy
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	[ "$(server_saw "$SINK4")" = $GS4 ]
	# Under TPROXY the proxy's socket is the server's address itself.
	grep -q "connection from $C4 to $S4, upstream $S4:25" "$PROXY_LOG"
}

@test "TPROXY, IPv6, TransparentProxy on" {
	tproxy_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy_tproxy
	run client_send $S6
	[ "$status" -eq 0 ]
	assert_filtered "$SINK6" $C6 "[$S6]:25"
	[ "$(server_saw "$SINK6")" = $GS6 ]
}

@test "TPROXY, IPv4, TransparentProxy full: neither end sees the proxy" {
	tproxy_rules
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy_tproxy
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	[ "$(server_saw "$SINK4")" = $C4 ]
}

@test "TPROXY, IPv6, TransparentProxy full: neither end sees the proxy" {
	tproxy_rules
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy_tproxy
	run client_send $S6
	[ "$status" -eq 0 ]
	assert_filtered "$SINK6" $C6 "[$S6]:25"
	[ "$(server_saw "$SINK6")" = $C6 ]
}

# --- privileges and misuse -------------------------------------------------

@test "full mode with User: the upstream connection is made before privileges are dropped" {
	redirect_rules
	full_mode_routing
	chown nobody "$SPOOL"
	F=$(write_filter who.sh 'echo "X-Filter-User: $(id -un)"' 'exec cat')
	write_conf "TransparentProxy: full" "FilterCommand: $F" "User: nobody"
	gw_proxy
	run client_send $S4
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'X-Filter-User: nobody' "$(sink_file)"
	[ "$(server_saw "$SINK4")" = $C4 ]
	[ "$(session_status)" = 0 ]
}

# The launcher and its sessions as an unprivileged user, with the
# capabilities given (setpriv does what systemd does for User= and
# AmbientCapabilities=).
gw_proxy_unprivileged() { # CAPS, e.g. "+net_admin" or "" for none
	local caps=-all${1:+,$1}
	chown nobody "$SPOOL"
	ns_bg gw setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps="$caps" --ambient-caps="$caps" --bounding-set="$caps" \
		systemd-socket-activate -l 10025 --inetd -a "$PROXSMTPD" -d 4 \
		-f "$CONF" 2>>"$PROXY_LOG"
	LAUNCHER=$NS_PID
	ns_wait_port gw 10025
}

@test "full mode as an unprivileged user with CAP_NET_ADMIN only (the systemd drop-in)" {
	redirect_rules
	full_mode_routing
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	# What systemd/proxsmtpd-transparent.conf grants: a user that is not
	# root, CAP_NET_ADMIN ambient, nothing else.
	gw_proxy_unprivileged +net_admin
	run client_send $S4
	[ "$status" -eq 0 ]
	assert_filtered "$SINK4" $C4 $S4:25
	[ "$(server_saw "$SINK4")" = $C4 ]
}

@test "full mode without the capability: the client gets 421 and the reason is logged" {
	redirect_rules
	full_mode_routing
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy_unprivileged ""
	run client_send $S4
	grep -q '^<\*\* *421 ' "$T/swaks.out"
	[ "$(session_status)" = 111 ]
	grep -q 'needs CAP_NET_ADMIN' "$PROXY_LOG"
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 0 ]
}

# --- nftables ----------------------------------------------------------------

@test "nftables DNAT to the gateway, IPv4 and IPv6" {
	nft_dnat_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy
	run client_send $S4
	[ "$status" -eq 0 ]
	run client_send $S6
	[ "$status" -eq 0 ]
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Filtered: client=$C4 server=$S4:25" "$(sink_file)"
	SINK_DIR=$SINK6
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Filtered: client=$C6 server=[$S6]:25" "$(sink_file)"
	[ "$(server_saw "$SINK4")" = $GS4 ]
	[ "$(server_saw "$SINK6")" = $GS6 ]
	[ "$(message_lines)" -eq 2 ]
}

@test "nftables TPROXY, TransparentProxy full, IPv4 and IPv6" {
	nft_tproxy_rules
	write_conf "TransparentProxy: full" "FilterCommand: $FILTER"
	gw_proxy_tproxy
	run client_send $S4
	[ "$status" -eq 0 ]
	run client_send $S6
	[ "$status" -eq 0 ]
	SINK_DIR=$SINK4
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Filtered: client=$C4 server=$S4:25" "$(sink_file)"
	SINK_DIR=$SINK6
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Filtered: client=$C6 server=[$S6]:25" "$(sink_file)"
	[ "$(server_saw "$SINK4")" = $C4 ]
	[ "$(server_saw "$SINK6")" = $C6 ]
	[ "$(message_lines)" -eq 2 ]
}

@test "a connection that was not diverted is refused, not looped back to the proxy" {
	redirect_rules
	write_conf "TransparentProxy: on" "FilterCommand: $FILTER"
	gw_proxy
	# Straight to the proxy's own port: conntrack knows the connection,
	# but its original destination is the proxy itself.
	for gw in $GC4 $GC6; do
		run nsx client swaks --server $gw --port 10025 --helo client.test \
			--from alice@client.test --to bob@server.test --timeout 10
		echo "$output"
		grep -q '^<\*\* *421 ' <<<"$output"
		[ "$(session_status)" = 111 ]
	done
	# Two sessions only: neither connected to the proxy itself.
	[ "$(grep -c '^Spawned ' "$PROXY_LOG")" -eq 2 ]
	[ "$(grep -c 'not redirected' "$PROXY_LOG")" -eq 2 ]
}
