#!/usr/bin/env bats
# Options that change how the proxy is deployed: User (privileges),
# OutAddress as a Unix socket and as [v6]:port, KeepAlives while a slow
# filter runs, Skip: authenticated.

load helpers
load lib/netns

local_teardown() { ns_teardown; }

# --- User ----------------------------------------------------------------------

# The uid of the one session the launcher runs, from /proc: real, effective,
# saved and file-system uid, e.g. "65534 65534 65534 65534".
session_uids() {
	local pid
	pid=$(pgrep -P "$LAUNCHER" | head -1)
	[ -n "$pid" ] || { echo "no session running" >&2; return 1; }
	awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status"
}

@test "User: started as root, the session is that user before the first command" {
	start_sink
	chown nobody "$SPOOL"
	write_conf "User: nobody"
	start_proxy
	nobody=$(id -u nobody)
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 20 -u 5 greeting
	echo "$greeting"
	[[ "$greeting" == 220* ]]
	# Connected, greeted, not a command read yet: no trace of root left.
	[ "$(session_uids)" = "$nobody $nobody $nobody $nobody" ]
	printf 'QUIT\r\n' >&5
	read -r -t 20 -u 5 bye
	exec 5<&-
	[[ "$bye" == 221* ]]
	[ "$(session_status)" = 0 ]
}

@test "User: the filter runs as that user and the spool file belongs to it (pipe mode)" {
	start_sink
	chown nobody "$SPOOL"
	# The message arrives on the filter's stdin: the spool file itself.
	F=$(write_filter who.sh \
		'echo "X-Filter-User: $(id -un) $(id -u)"' \
		'echo "X-Spool-Owner: $(stat -L -c "%U %a" /dev/stdin)"' \
		'exec cat')
	write_conf "User: nobody" "FilterCommand: $F"
	start_proxy
	run swaks_send
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qx "X-Filter-User: nobody $(id -u nobody)" "$(sink_file)"
	grep -qx 'X-Spool-Owner: nobody 600' "$(sink_file)"
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "User: the filter runs as that user and the spool file belongs to it (file mode)" {
	start_sink
	chown nobody "$SPOOL"
	F=$(write_filter who.sh \
		'{ echo "X-Filter-User: $(id -un)"' \
		'  echo "X-Spool-Owner: $(stat -c "%U %a" "$EMAIL")"' \
		'  cat "$EMAIL"; } >"$EMAIL.new" && mv "$EMAIL.new" "$EMAIL"')
	write_conf "User: nobody" "FilterType: file" "FilterCommand: $F"
	start_proxy
	run swaks_send
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'X-Filter-User: nobody' "$(sink_file)"
	grep -qx 'X-Spool-Owner: nobody 600' "$(sink_file)"
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "User naming no account: the client gets 421, nothing is forwarded" {
	start_sink
	write_conf "User: no-such-user-pxt"
	start_proxy
	run swaks_send
	grep -q '^<\*\* *421 ' "$T/swaks.out"
	! grep -q '^<- *250 ' "$T/swaks.out" || false
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 111 ]
	grep -q 'no-such-user-pxt' "$PROXY_LOG"
}

# --- OutAddress ------------------------------------------------------------------

@test "OutAddress as a Unix socket path: smtp-sink on unix:PATH gets the mail" {
	SINK_DIR=$T/sink
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR"
	smtp-sink -u postfix -d "$SINK_DIR/m." "unix:$T/sink.sock" 64 \
		>"$T/sink.log" 2>&1 3>&- &
	track $!
	i=0
	until [ -S "$T/sink.sock" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ]
		sleep 0.05
	done
	F=$(write_filter tag.sh 'echo "X-Server: $SERVER"' 'exec cat')
	write_conf "OutAddress: $T/sink.sock" "FilterCommand: $F"
	start_proxy
	run swaks_send --body 'over a unix socket'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qxF "X-Server: $T/sink.sock" "$(sink_file)"
	grep -q '^over a unix socket' "$(sink_file)"
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
}

# A host of its own (network namespace) that has one address family only:
# besides 127.0.0.1 and ::1 it has 192.0.2.1 (IPv4-only host) or
# 2001:db8::1 (IPv6-only host). getaddrinfo's AI_ADDRCONFIG counts no
# loopback address, so it would refuse [::1] on the first and 127.0.0.1 or
# localhost on the second; the proxy must connect all the same.
one_family_host() { # 4|6
	ns_new lo
	if [ "$1" = 4 ]; then
		echo 'addr add 192.0.2.1/32 dev lo' | ns_ip lo
	else
		echo 'addr add 2001:db8::1/128 dev lo nodad' | ns_ip lo
	fi
	F=$(write_filter tag.sh 'echo "X-Server: $SERVER"' 'exec cat')
}
send_in_ns() { # PROXY-ADDR
	nsx lo swaks --server "$1" --port 10025 --helo client.test \
		--from alice@sender.test --to bob@example.test --timeout 20 \
		>"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

@test "OutAddress [::1]:port on an IPv4-only host" {
	one_family_host 4
	ns_sink lo "[::1]" 10026 sink
	write_conf "OutAddress: [::1]:10026" "FilterCommand: $F"
	ns_proxy lo 127.0.0.1:10025
	run send_in_ns 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qxF 'X-Server: [::1]:10026' "$(sink_file)"
	# smtp-sink saw the connection come from ::1.
	grep -qx 'X-Client-Addr: ipv6:::1' "$(sink_file)"
	[ "$(session_status)" = 0 ]
}

@test "OutAddress 127.0.0.1:port on an IPv6-only host" {
	one_family_host 6
	ns_sink lo 127.0.0.1 10026 sink
	write_conf "OutAddress: 127.0.0.1:10026" "FilterCommand: $F"
	ns_proxy lo "[::1]:10025"
	run send_in_ns ::1
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qxF 'X-Server: 127.0.0.1:10026' "$(sink_file)"
	[ "$(session_status)" = 0 ]
}

@test "OutAddress localhost:port on an IPv6-only host" {
	one_family_host 6
	# localhost is 127.0.0.1 in this machine's /etc/hosts.
	ns_sink lo 127.0.0.1 10026 sink
	write_conf "OutAddress: localhost:10026" "FilterCommand: $F"
	ns_proxy lo "[::1]:10025"
	run send_in_ns ::1
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qxF 'X-Server: 127.0.0.1:10026' "$(sink_file)"
	[ "$(session_status)" = 0 ]
}

# --- KeepAlives --------------------------------------------------------------------

# The upstream gives up on a client silent for 2 s; the filter takes 4 s.
# smtp-sink -v logs the commands it gets to $T/sink.log.
slow_filter_setup() {
	start_sink -t 2 -v
	F=$(write_filter slow.sh 'sleep 4' 'exec cat')
}

@test "KeepAlives: 1 keeps the upstream waiting through a filter slower than its timeout" {
	slow_filter_setup
	write_conf "FilterCommand: $F" "KeepAlives: 1" "FilterTimeout: 20"
	start_proxy
	run swaks_send --body 'slowly filtered'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^slowly filtered' "$(sink_file)"
	# NOOPs kept it waiting while the filter ran.
	[ "$(grep -c '^smtp-sink: NOOP$' "$T/sink.log")" -ge 2 ]
	[ "$(session_status)" = 0 ]
	grep -q 'outcome=forwarded' "$PROXY_LOG"
	no_temp_files
}

@test "without KeepAlives the upstream times out: the client gets 4xx, never 250" {
	slow_filter_setup
	write_conf "FilterCommand: $F" "FilterTimeout: 20"
	start_proxy
	run swaks_send --body 'slowly filtered'
	echo "reply: $(data_reply)"
	[[ "$(data_reply)" == 4* ]]
	! grep -q '^<- *250 .*' <<<"$(sed -n '/^ -> \.\r\{0,1\}$/,$p' "$T/swaks.out")" || false
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

# --- Skip: authenticated --------------------------------------------------------------

# aiosmtpd offering AUTH PLAIN/LOGIN, accepting anyone with 235; a filter
# that leaves a mark and rejects everything.
auth_setup() {
	AIO_PORT=$(free_port)
	AIO_DIR=$T/aio
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-auth" 127.0.0.1 "$AIO_PORT" "$AIO_DIR" \
		>"$T/aio.log" 2>&1 3>&- &
	track $!
	wait_port "$AIO_PORT"
	F=$(write_filter refuse.sh "touch '$T/filter-ran'" 'cat >/dev/null' \
		'echo "550 5.7.1 Refused by the filter" >&2' 'exit 1')
}
aio_count() { find "$AIO_DIR/new" -type f 2>/dev/null | wc -l; }

@test "Skip: authenticated: mail of a client that authenticated is forwarded unfiltered" {
	auth_setup
	write_conf "FilterCommand: $F" "Skip: authenticated"
	start_proxy
	run swaks_send --auth PLAIN --auth-user u --auth-password p \
		--body 'authenticated mail'
	[ "$status" -eq 0 ]
	grep -q '^<- *235 ' "$T/swaks.out"
	[[ "$(data_reply)" == "250 "* ]]
	[ ! -e "$T/filter-ran" ]
	[ "$(aio_count)" -eq 1 ]
	grep -q '^authenticated mail' "$AIO_DIR"/new/*
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "Skip: authenticated: without AUTH the filter runs" {
	auth_setup
	write_conf "FilterCommand: $F" "Skip: authenticated"
	start_proxy
	run swaks_send --body 'anonymous mail'
	[ "$(data_reply)" = "550 5.7.1 Refused by the filter" ]
	[ -e "$T/filter-ran" ]
	[ "$(aio_count)" -eq 0 ]
}

@test "without Skip, an authenticated client's mail is filtered too" {
	auth_setup
	write_conf "FilterCommand: $F"
	start_proxy
	run swaks_send --auth PLAIN --auth-user u --auth-password p
	grep -q '^<- *235 ' "$T/swaks.out"
	[ "$(data_reply)" = "550 5.7.1 Refused by the filter" ]
	[ -e "$T/filter-ran" ]
	[ "$(aio_count)" -eq 0 ]
}

@test "Skip: authenticated: a 250 to AUTH (smtp-sink) is not an authentication" {
	# smtp-sink offers AUTH PLAIN LOGIN and says "250 2.0.0 Ok" to it;
	# only 235 means authenticated (RFC 4954).
	start_sink
	F=$(write_filter refuse.sh "touch '$T/filter-ran'" 'cat >/dev/null' \
		'echo "550 5.7.1 Refused by the filter" >&2' 'exit 1')
	write_conf "FilterCommand: $F" "Skip: authenticated"
	start_proxy
	run swaks_send --auth-optional PLAIN --auth-user u --auth-password p
	grep -q '^<[-*]* *250 2.0.0 Ok' <<<"$(sed -n '/AUTH PLAIN/,$p' "$T/swaks.out")"
	[ "$(data_reply)" = "550 5.7.1 Refused by the filter" ]
	[ -e "$T/filter-ran" ]
	[ "$(sink_count)" -eq 0 ]
}
