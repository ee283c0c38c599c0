#!/usr/bin/env bats
# The PROXY protocol (issue 13): real haproxy in front with send-proxy and
# send-proxy-v2, the client (swaks) on its own loopback address, and the
# filter, the upstream and the log seeing that address. Then hand-made
# headers through socat: each bad one ends the session before the greeting,
# with not one byte to the client, a log line saying why, exit 1, and no
# connection upstream.

load helpers

# start_haproxy OPTIONS: haproxy on $HA_PORT relaying to the proxy on $PORT,
# telling it the client with OPTIONS (send-proxy, send-proxy-v2, ...).
start_haproxy() {
	HA_PORT=$(free_port)
	cat >"$T/haproxy.cfg" <<-EOF
	global
		maxconn 64
	defaults
		mode tcp
		timeout connect 10s
		timeout client 60s
		timeout server 60s
	frontend smtp
		bind 127.0.0.1:$HA_PORT
		default_backend filter
	backend filter
		option smtpchk
		server proxsmtpd 127.0.0.1:$PORT $*
	EOF
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	track $!
	wait_port "$HA_PORT"
}

# raw_from ADDR: stdin to the proxy from source address ADDR, replies out.
raw_from() {
	socat -t 10 -T 30 - "TCP:127.0.0.1:$PORT,bind=$1"
}

# hostile ADDR: the same for a session that is to be refused: the proxy may
# close while socat still writes (EPIPE), which is not a failure here.
hostile() { raw_from "$1" >"$T/out" || true; }

env_filter() { write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat'; }

# sink_commands: what smtp-sink -v got, one command a line.
sink_commands() { sed -n 's/^smtp-sink: \([A-Z][A-Z]* \)/\1/p; s/^smtp-sink: \([A-Z][A-Z]*\)$/\1/p' "$T/sink.log"; }

# refused WHY: the session that just ran sent nothing, logged WHY, exited
# 1, and never reached the upstream.
refused() {
	[ ! -s "$T/out" ] || { echo "the client got:"; cat -A "$T/out"; return 1; }
	[ "$(session_status)" = 1 ]
	grep "PROXY protocol: " "$PROXY_LOG"
	grep -q "PROXY protocol: $1" "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^smtp-sink: connect' "$T/sink.log" || false
}

# The code of each reply in $T/out (EHLO's 250- lines left out).
codes() { grep -o '^[0-9][0-9][0-9] ' "$T/out" | tr -d ' ' | tr '\n' ' '; }
# What SMTP_SESSION gets when every byte after the header arrived.
ALL_ANSWERED='220 250 250 250 354 250 221 '

SMTP_SESSION='EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: pp\r\n\r\nx\r\n.\r\nQUIT\r\n'

# --- real haproxy in front ----------------------------------------------------

@test "haproxy send-proxy (v1): the filter, XCLIENT and the log see the real client" {
	start_sink -v
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v1" "XClient: on"
	start_proxy
	start_haproxy send-proxy
	SEND_PORT=$HA_PORT swaks_send --local-interface 127.0.0.5
	[ "$(data_reply | cut -c1-3)" = 250 ]
	[ "$(sink_count)" -eq 1 ]
	grep -x 'CLIENT=127.0.0.5' "$T/env.out"
	sink_commands | grep -q '^XCLIENT ADDR=127.0.0.5 '
	grep -q 'client=127.0.0.5 .*outcome=' "$PROXY_LOG"
	grep -q 'PROXY v1 header from 127.0.0.1: client 127.0.0.5' "$PROXY_LOG"
	[ "$(session_status)" = 0 ]
}

@test "haproxy send-proxy-v2: the filter, XCLIENT and the log see the real client" {
	start_sink -v
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v2" "XClient: on"
	start_proxy
	start_haproxy send-proxy-v2
	SEND_PORT=$HA_PORT swaks_send --local-interface 127.0.0.6
	[ "$(data_reply | cut -c1-3)" = 250 ]
	[ "$(sink_count)" -eq 1 ]
	grep -x 'CLIENT=127.0.0.6' "$T/env.out"
	sink_commands | grep -q '^XCLIENT ADDR=127.0.0.6 '
	grep -q 'client=127.0.0.6 .*outcome=' "$PROXY_LOG"
	grep -q 'PROXY v2 header from 127.0.0.1: client 127.0.0.6' "$PROXY_LOG"
	[ "$(session_status)" = 0 ]
}

@test "ProxyProtocol any takes both versions from haproxy; Header %i is the real client" {
	start_sink
	write_conf "ProxyProtocol: any" 'Header: X-Client: %i'
	start_proxy
	start_haproxy send-proxy
	SEND_PORT=$HA_PORT swaks_send --local-interface 127.0.0.7
	grep -q '^X-Client: 127.0.0.7' "$(sink_file)"
	stop_tracked
	rm -f "$SINK_DIR"/m.*
	start_sink
	write_conf "ProxyProtocol: any" 'Header: X-Client: %i'
	start_proxy
	start_haproxy send-proxy-v2
	SEND_PORT=$HA_PORT swaks_send --local-interface 127.0.0.8
	grep -q '^X-Client: 127.0.0.8' "$(sink_file)"
}

@test "haproxy health checks (check-send-proxy, smtpchk) send LOCAL: they get a session, the server stays up" {
	start_sink
	write_conf "ProxyProtocol: v2"
	start_proxy
	start_haproxy send-proxy-v2 check check-send-proxy inter 300
	i=0
	until [ "$(grep -c 'PROXY v2 header from 127.0.0.1: client 127.0.0.1 (the connection.s own address: LOCAL' "$PROXY_LOG")" -ge 2 ]; do
		i=$((i + 1)); [ "$i" -lt 100 ] || false
		sleep 0.1
	done
	cat "$T/haproxy.log"
	! grep -q 'is DOWN' "$T/haproxy.log" || false
	! grep -q 'PROXY protocol: ' "$PROXY_LOG" || false
}

@test "haproxy send-proxy-v2 when the proxy expects v1: no greeting, logged, nothing relayed" {
	start_sink -v
	write_conf "ProxyProtocol: v1"
	start_proxy
	start_haproxy send-proxy-v2
	printf 'QUIT\r\n' | { socat -t 10 - "TCP:127.0.0.1:$HA_PORT" >"$T/out" || true; }
	refused 'no PROXY v1 header'
}

# --- hand-made headers, byte-exact --------------------------------------------

@test "v1 header and the session in one write: every command after it is answered" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v1"
	start_proxy
	printf "PROXY TCP4 192.0.2.10 198.51.100.1 40000 25\r\n$SMTP_SESSION" |
		raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=192.0.2.10' "$T/env.out"
	[ "$(sink_count)" -eq 1 ]
}

@test "v1 TCP6 header: the IPv6 client is named" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v1"
	start_proxy
	printf "PROXY TCP6 2001:db8::7 2001:db8::1 40000 25\r\n$SMTP_SESSION" |
		raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=2001:db8::7' "$T/env.out"
}

@test "v2 header and the session in one write, with TLVs skipped" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v2"
	start_proxy
	# PROXY, TCP over IPv4, 12 address bytes + a NOOP TLV (4) + an
	# authority TLV (3 + 6): 25 bytes.
	{ printf '\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x19'
	  printf '\xc0\x00\x02\x0b\xc6\x33\x64\x01\x9c\x40\x00\x19'
	  printf '\x04\x00\x01\x00\x02\x00\x06mx.foo'
	  printf "$SMTP_SESSION"; } | raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=192.0.2.11' "$T/env.out"
	grep -q 'client=192.0.2.11 .*outcome=' "$PROXY_LOG"
}

@test "v2 LOCAL command: the connection's own address is the client" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v2"
	start_proxy
	# LOCAL with an IPv4 block that must be ignored.
	{ printf '\r\n\r\n\0\r\nQUIT\n\x20\x11\x00\x0c'
	  printf '\xc0\x00\x02\x0b\xc6\x33\x64\x01\x9c\x40\x00\x19'
	  printf "$SMTP_SESSION"; } | raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=127.0.0.9' "$T/env.out"
	grep -q 'PROXY v2 header from 127.0.0.9: client 127.0.0.9 (the connection.s own address' "$PROXY_LOG"
}

@test "v1 UNKNOWN: the connection's own address is the client" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: any"
	start_proxy
	printf "PROXY UNKNOWN ignored stuff\r\n$SMTP_SESSION" | raw_from 127.0.0.9 |
		tr -d '\r' >"$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=127.0.0.9' "$T/env.out"
}

@test "v1 header over a pipe (TCPREMOTEIP, no socket to peek): read a byte at a time, nothing lost" {
	start_sink
	f=$(env_filter)
	write_conf "FilterCommand: $f" "ProxyProtocol: v1"
	printf "PROXY TCP4 192.0.2.12 198.51.100.1 40000 25\r\n$SMTP_SESSION" >"$T/s"
	TCPREMOTEIP=127.0.0.1 replay "$CONF" <"$T/s" | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes)" = "$ALL_ANSWERED" ]
	grep -x 'CLIENT=192.0.2.12' "$T/env.out"
}

# --- hostile headers: no greeting, logged, nothing relayed --------------------

@test "truncated v1 header" {
	start_sink -v
	write_conf "ProxyProtocol: v1"
	start_proxy
	printf 'PROXY TCP4 192.0.2.1 198.51' | hostile 127.0.0.9
	refused 'truncated PROXY header (connection closed after 27 bytes)'
}

@test "v1 header over 107 bytes" {
	start_sink -v
	write_conf "ProxyProtocol: v1"
	start_proxy
	{ printf 'PROXY UNKNOWN '; head -c 200 /dev/zero | tr '\0' x; printf '\r\n'; } |
		hostile 127.0.0.9
	refused 'v1 header without CRLF in its first 107 bytes'
}

@test "v1 header with a wrong family (TCP4 with an IPv6 address)" {
	start_sink -v
	write_conf "ProxyProtocol: v1"
	start_proxy
	printf 'PROXY TCP4 2001:db8::1 198.51.100.1 1 25\r\nQUIT\r\n' |
		hostile 127.0.0.9
	refused 'v1 header with a bad TCP4 address or port'
}

@test "truncated v2 header" {
	start_sink -v
	write_conf "ProxyProtocol: v2"
	start_proxy
	printf '\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02' | hostile 127.0.0.9
	refused 'truncated PROXY header (connection closed after 19 bytes)'
}

@test "v2 header with an oversized length: refused before it is read" {
	start_sink -v
	write_conf "ProxyProtocol: v2"
	start_proxy
	printf '\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff' | hostile 127.0.0.9
	refused 'v2 header of 65535 bytes (at most 2048 taken)'
}

@test "v2 header with a TLV running past the block" {
	start_sink -v
	write_conf "ProxyProtocol: v2"
	start_proxy
	{ printf '\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x13'
	  printf '\xc0\x00\x02\x0b\xc6\x33\x64\x01\x9c\x40\x00\x19'
	  printf '\x04\x00\x64abcd'
	  printf 'QUIT\r\n'; } | hostile 127.0.0.9
	refused 'v2 header with a TLV running past its end'
}

@test "v2 header with a wrong family (AF_UNIX, and an unknown one)" {
	start_sink -v
	write_conf "ProxyProtocol: v2"
	start_proxy
	{ printf '\r\n\r\n\0\r\nQUIT\n\x21\x31\x00\x0c'
	  head -c 12 /dev/zero; } | hostile 127.0.0.9
	refused 'v2 header with address family 3'
	start_proxy
	: >"$PROXY_LOG"
	{ printf '\r\n\r\n\0\r\nQUIT\n\x21\x51\x00\x0c'
	  head -c 12 /dev/zero; } | hostile 127.0.0.9
	refused 'v2 header with address family 5'
}

@test "a header from a peer not in ProxyProtocolHosts" {
	start_sink -v
	write_conf "ProxyProtocol: any" "ProxyProtocolHosts: 127.0.0.1, 10.0.0.0/8"
	start_proxy
	printf "PROXY TCP4 192.0.2.1 198.51.100.1 40000 25\r\n$SMTP_SESSION" |
		hostile 127.0.0.9
	refused '127.0.0.9 is not in ProxyProtocolHosts'
}

@test "no header when one is required: the client's own EHLO" {
	start_sink -v
	write_conf "ProxyProtocol: any"
	start_proxy
	{ printf 'EHLO c.test\r\n'; sleep 2; } | hostile 127.0.0.9
	refused 'no PROXY v1 or v2 header'
}

@test "no header when one is required: a client that waits for the greeting gets none (TimeOut)" {
	start_sink -v
	write_conf "ProxyProtocol: v2" "TimeOut: 2"
	start_proxy
	sleep 4 | hostile 127.0.0.9
	refused 'no complete PROXY header within TimeOut (0 bytes came)'
}
