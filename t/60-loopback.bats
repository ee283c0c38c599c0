#!/usr/bin/env bats
# Loopback: "OutAddress: PORT" (a port and nothing else) sends each message
# back to that port on the address the connection came from, so that one
# filter host serves several mail servers.
#
# Everything runs in a network namespace of the test's own, where the mail
# servers and the proxy have different addresses:
#   127.0.0.2, 127.0.0.4, 2001:db8::2, 2001:db8::4   mail servers (clients
#                                                     of the proxy), each with
#                                                     an smtp-sink on :10026
#   127.0.0.3, 2001:db8::3                           the proxy, :10025
# and decoy smtp-sinks listen on :10026 of the proxy's own address and of
# 127.0.0.1 / ::1: a proxy that sent the mail anywhere but back to its
# client would deliver it to one of them.

load helpers
load lib/netns

local_setup() {
	ns_new lb
	ns_ip lb <<-EOF
	addr add 2001:db8::2/128 dev lo nodad
	addr add 2001:db8::3/128 dev lo nodad
	addr add 2001:db8::4/128 dev lo nodad
	EOF
	F=$(write_filter tag.sh \
		'echo "X-Filtered: client=$CLIENT server=$SERVER"' 'exec cat')
	write_conf "OutAddress: 10026" "FilterCommand: $F"
}

local_teardown() { ns_teardown; }

# Mail servers at the given addresses and decoys everywhere else.
sinks() { # ADDR...
	local a
	for a in "$@"; do
		ns_sink lb "$(bracket "$a")" 10026 "sink-$a"
	done
}
decoys() { # ADDR...
	local a
	for a in "$@"; do
		ns_sink lb "$(bracket "$a")" 10026 "decoy-$a"
	done
}
bracket() { if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi; }

# Messages received by the sink of ADDR (a mail server or a decoy).
got() { find "$T/sink-$1" "$T/decoy-$1" -type f -name 'm.*' 2>/dev/null | wc -l; }
got_file() { find "$T/sink-$1" -type f -name 'm.*' | head -1; }

# send_from ADDR PROXY-ADDR [swaks args]: swaks from ADDR to the proxy.
send_from() {
	local from=$1 to=$2
	shift 2
	nsx lb swaks --server "$to" --port 10025 --local-interface "$from" \
		--helo client.test --from alice@sender.test --to bob@example.test \
		--timeout 20 "$@" >"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

# The message from CLIENT came back to CLIENT's own sink, filtered.
came_back() { # CLIENT SERVER-TEXT
	[ "$(got "$1")" -eq 1 ]
	grep -qxF "X-Filtered: client=$1 server=$2" "$(got_file "$1")"
}

@test "IPv4: the mail goes back to the port on the client's address" {
	sinks 127.0.0.2
	decoys 127.0.0.3 127.0.0.1
	ns_proxy lb 127.0.0.3:10025
	run send_from 127.0.0.2 127.0.0.3
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	came_back 127.0.0.2 127.0.0.2:10026
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "IPv4: two mail servers share one filter, each gets its own mail back" {
	sinks 127.0.0.2 127.0.0.4
	decoys 127.0.0.3 127.0.0.1
	ns_proxy lb 127.0.0.3:10025
	run send_from 127.0.0.2 127.0.0.3 --header 'Subject: from two'
	[ "$status" -eq 0 ]
	run send_from 127.0.0.4 127.0.0.3 --header 'Subject: from four'
	[ "$status" -eq 0 ]
	came_back 127.0.0.2 127.0.0.2:10026
	came_back 127.0.0.4 127.0.0.4:10026
	grep -q '^Subject: from two$' "$(got_file 127.0.0.2)"
	grep -q '^Subject: from four$' "$(got_file 127.0.0.4)"
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
	[ "$(message_lines)" -eq 2 ]
}

@test "IPv6: the mail goes back to the port on the client's address" {
	sinks 2001:db8::2
	decoys 2001:db8::3 ::1
	ns_proxy lb "[2001:db8::3]:10025"
	run send_from 2001:db8::2 2001:db8::3
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	came_back 2001:db8::2 "[2001:db8::2]:10026"
	[ "$(got 2001:db8::3)" -eq 0 ]
	[ "$(got ::1)" -eq 0 ]
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "dual-stack listener (ListenStream=PORT): an IPv4 client is sent back over IPv4" {
	sinks 127.0.0.2
	decoys 127.0.0.3 127.0.0.1
	# A bare port listens on [::] for both families; IPv4 clients arrive
	# as ::ffff:127.0.0.2.
	ns_proxy lb 10025
	run send_from 127.0.0.2 127.0.0.3
	[ "$status" -eq 0 ]
	came_back 127.0.0.2 127.0.0.2:10026
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
	grep -q 'connection from 127.0.0.2 to 127.0.0.3, upstream 127.0.0.2:10026' "$PROXY_LOG"
}

@test "nothing listens on the client's address: 421, and the mail goes nowhere else" {
	decoys 127.0.0.3 127.0.0.1
	ns_proxy lb 127.0.0.3:10025
	run send_from 127.0.0.5 127.0.0.3
	grep -q '^<\*\* *421 ' "$T/swaks.out"
	[ "$(session_status)" = 111 ]
	grep -q 'cannot connect to upstream 127.0.0.5:10026' "$PROXY_LOG"
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
}

# --- ucspi-tcp ---------------------------------------------------------------

# tcpserver on 127.0.0.3:10025 running COMMAND... for each connection; -v
# logs "tcpserver: end PID status N" to $PROXY_LOG, N being the raw wait
# status (exit code * 256). ucspi-tcp 0.88 (Debian) speaks IPv4 only.
start_tcpserver() {
	ns_bg lb tcpserver -v -R -H -l 0 127.0.0.3 10025 "$@" 2>>"$PROXY_LOG"
	LAUNCHER=$NS_PID
	ns_wait_port lb 10025
}
tcpserver_status() {
	wait_sessions
	local st
	st=$(sed -n 's/^tcpserver: end [0-9]* status \([0-9]*\)$/\1/p' "$PROXY_LOG" |
		tail -1)
	[ -n "$st" ] && echo $((st / 256))
}

@test "tcpserver: the connection is stdin, the mail goes back to the client" {
	sinks 127.0.0.2
	decoys 127.0.0.3 127.0.0.1
	start_tcpserver "$PROXSMTPD" -d 4 -f "$CONF"
	run send_from 127.0.0.2 127.0.0.3
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	came_back 127.0.0.2 127.0.0.2:10026
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
	[ "$(tcpserver_status)" = 0 ]
	no_temp_files
}

@test "tcpserver with recordio: stdin is a pipe, TCPREMOTEIP names the client" {
	sinks 127.0.0.2
	decoys 127.0.0.3 127.0.0.1
	# recordio sits between the socket and the proxy: the proxy's stdin
	# and stdout are pipes, and only tcpserver's TCPREMOTEIP/TCPLOCALIP
	# say who is connected.
	write_conf "OutAddress: 10026" "FilterCommand: $F" \
		'Header: X-Via: %i to %l'
	start_tcpserver recordio "$PROXSMTPD" -d 4 -f "$CONF"
	run send_from 127.0.0.2 127.0.0.3
	[ "$status" -eq 0 ]
	came_back 127.0.0.2 127.0.0.2:10026
	grep -qx 'X-Via: 127.0.0.2 to 127.0.0.3' "$(got_file 127.0.0.2)"
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
	# recordio's transcript shows the proxy really talked over pipes.
	grep -q '^[0-9]* > 220 .* ESMTP proxsmtpd' "$PROXY_LOG"
	[ "$(tcpserver_status)" = 0 ]
}

@test "replay mode: TCPREMOTEIP picks the address the mail goes back to" {
	sinks 127.0.0.2
	decoys 127.0.0.3 127.0.0.1
	printf '%s\r\n' 'EHLO client.test' 'MAIL FROM:<a@sender.test>' \
		'RCPT TO:<b@example.test>' DATA 'Subject: replayed' '' 'body' . QUIT \
		>"$T/session.txt"
	out=$(nsx lb env TCPREMOTEIP=127.0.0.2 TCPLOCALIP=127.0.0.3 \
		timeout 30 "$PROXSMTPD" -d 4 -f "$CONF" \
		<"$T/session.txt" 2>>"$PROXY_LOG")
	echo "$out"
	grep -q '^250 .*Ok' <<<"$(sed -n '/^354/,$p' <<<"$out")"
	came_back 127.0.0.2 127.0.0.2:10026
	grep -q '^Subject: replayed' "$(got_file 127.0.0.2)"
	[ "$(got 127.0.0.3)" -eq 0 ]
	[ "$(got 127.0.0.1)" -eq 0 ]
}
