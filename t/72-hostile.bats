#!/usr/bin/env bats
# The holes of issue 11, each tried from outside the way it was found: a
# hostile client (raw bytes through socat, from its own loopback address),
# real upstreams (smtp-sink, aiosmtpd) made to misbehave with their own
# options, a filter that leaves traps behind, and signals. Every test here
# failed on the commit before the fix (SECURITY.md lists them).

load helpers

# raw_from ADDR: stdin to the proxy from source address ADDR, replies out.
raw_from() {
	socat -t 30 -T 30 - "TCP:127.0.0.1:$PORT,bind=$1"
}

codes() { grep -o '^[0-9][0-9][0-9] ' "$1" | tr -d ' ' | tr '\n' ' '; }
# The code of each reply in $T/out, one a reply (EHLO's 250- lines left out).
replies() { grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }'; }

# --- XClient: the upstream is told who the client is before anything ---------

# smtp-sink -v logs every command it gets to $T/sink.log: "smtp-sink: CMD".
sink_commands() { sed -n 's/^smtp-sink: \([A-Z][A-Z]* \)/\1/p; s/^smtp-sink: \([A-Z][A-Z]*\)$/\1/p' "$T/sink.log"; }

@test "XClient: a client that skips HELO still has XCLIENT sent before its MAIL" {
	start_sink -v
	write_conf "XClient: on"
	start_proxy
	printf 'MAIL FROM:<spam@evil.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n' |
		raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes "$T/out")" = "220 250 250 354 250 221 " ]
	sink_commands
	# Our EHLO, then XCLIENT with the client's address, then its MAIL.
	[ "$(sink_commands | head -3 | cut -c1-4 | tr '\n' ' ')" = "EHLO XCLI MAIL " ]
	sink_commands | grep -qx 'XCLIENT ADDR=127.0.0.9 NAME=\[UNAVAILABLE\] HELO=\[UNAVAILABLE\]'
}

@test "XClient: an upstream that does not offer XCLIENT gets nothing relayed: 421, logged" {
	start_sink -C
	write_conf "XClient: on"
	start_proxy
	printf 'MAIL FROM:<spam@evil.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes "$T/out")" = "220 421 " ]
	grep -q "^421 4.3.0 $HOSTNAME_NOW Service not available" "$T/out"
	[ "$(sink_count)" -eq 0 ]
	grep -q 'XClient is on but upstream .* does not offer XCLIENT.*nothing relayed' "$PROXY_LOG"
	[ "$(session_status)" = 111 ]
}

@test "XClient: an upstream that refuses XCLIENT gets nothing relayed: 421, logged" {
	# smtp-sink -f XCLIENT offers it and then refuses it with 5xx.
	start_sink -f XCLIENT
	write_conf "XClient: on"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<spam@evil.test>\r\nQUIT\r\n' |
		raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes "$T/out")" = "220 421 " ]
	[ "$(sink_count)" -eq 0 ]
	grep -q 'upstream .* refused XCLIENT: 5.. .*nothing relayed' "$PROXY_LOG"
}

@test "XClient: QUIT as the first command needs no XCLIENT" {
	start_sink -C
	write_conf "XClient: on"
	start_proxy
	printf 'QUIT\r\n' | raw_from 127.0.0.9 | tr -d '\r' >"$T/out"
	[ "$(codes "$T/out")" = "220 221 " ]
}

# --- XFORWARD only from AuthorizedXForwardHosts ------------------------------

@test "XFORWARD from a host outside AuthorizedXForwardHosts: 550 5.7.0, not relayed, not offered, no REMOTE" {
	start_sink -v
	f=$(write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat')
	write_conf "FilterCommand: $f" "AuthorizedXForwardHosts: 10.0.0.0/8, 192.0.2.1"
	start_proxy
	printf 'EHLO c.test\r\nXFORWARD ADDR=203.0.113.66 HELO=forged.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		raw_from 127.0.0.1 | tr -d '\r' >"$T/out"
	cat "$T/out"
	! grep -q '^250.XFORWARD' "$T/out" || false
	grep -q '^550 5.7.0 Error: XFORWARD not allowed' "$T/out"
	[ "$(sink_count)" -eq 1 ]
	! grep -qi 'XFORWARD\|forged\|203\.0\.113\.66' "$T/sink.log" || false
	! grep -q '^REMOTE' "$T/env.out" || false
	grep -q 'refused XFORWARD from a host not in AuthorizedXForwardHosts from 127.0.0.1: 550' "$PROXY_LOG"
}

@test "XFORWARD from a loopback client is believed by default (a local MTA in front)" {
	start_sink -v
	f=$(write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat')
	write_conf "FilterCommand: $f"
	start_proxy
	printf 'EHLO c.test\r\nXFORWARD ADDR=203.0.113.66 HELO=real.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		raw_from 127.0.0.5 | tr -d '\r' >"$T/out"
	grep -q '^250.XFORWARD' "$T/out"
	grep -qx 'REMOTE=203.0.113.66' "$T/env.out"
	sink_commands | grep -qx 'XFORWARD ADDR=203.0.113.66 HELO=real.test'
}

@test "XFORWARD by default from a client that is not on loopback (TCPREMOTEIP): 550 5.7.0" {
	start_sink
	write_conf
	printf 'EHLO c.test\r\nXFORWARD ADDR=203.0.113.66\r\nQUIT\r\n' >"$T/s"
	TCPREMOTEIP=192.0.2.44 replay "$CONF" <"$T/s" | tr -d '\r' >"$T/out"
	cat "$T/out"
	grep -q '^550 5.7.0' "$T/out"
	! grep -q '^250.XFORWARD' "$T/out" || false
}

# --- BDAT without CHUNKING ------------------------------------------------------

@test "BDAT when CHUNKING is not offered: 554 and the session ends; the chunk's bytes are never commands" {
	start_sink
	write_conf
	start_proxy
	# The 29-byte chunk is a command; run as one it would reach the sink.
	# (CHUNKING is offered to EHLO clients: this one said HELO.)
	printf 'HELO c.test\r\nBDAT 29 LAST\r\nMAIL FROM:<chunk@evil.test>\r\nRCPT TO:<x@y.test>\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 554 " ]
	grep -q "^554 5.5.1 $HOSTNAME_NOW Error: BDAT without CHUNKING" "$T/out"
	! grep -q 'chunk@evil' "$T/sink.log" "$SINK_DIR"/* 2>/dev/null || false
	grep -q 'BDAT from 127.0.0.1: CHUNKING is not offered' "$PROXY_LOG"
	[ "$(session_status)" = 1 ]
}

# --- an upstream 421: one reply, our name, the end ------------------------------

upstream_421_case() { # SINK-COMMAND CLIENT-BYTES
	start_sink -Q "$1"
	write_conf "FilterCommand: cat"
	start_proxy
	printf "$2" | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
}

@test "upstream 421 to RCPT: the client gets one 421 with our name, and the session ends" {
	upstream_421_case RCPT 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nNOOP\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 421 " ]
	grep -q "^421 4.0.0 $HOSTNAME_NOW Server closing connection" "$T/out"
	grep -q 'upstream .* is closing the session: 421' "$PROXY_LOG"
}

@test "upstream 421 to HELO: one reply, the session ends" {
	upstream_421_case EHLO 'EHLO c.test\r\nNOOP\r\nQUIT\r\n'
	[ "$(codes "$T/out")" = "220 421 " ]
}

@test "upstream 421 to the proxy's DATA after the filter: one 421 to the end of data, message logged tempfail" {
	upstream_421_case DATA 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 250 354 421 " ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "upstream 421 to the end of data: one 421 as its reply, never a second" {
	upstream_421_case . 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 250 354 421 " ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
}

@test "upstream 421 to the RSET after a rejected message: the client hears it at its next command, once" {
	# The filter rejects; the proxy's RSET then gets 421. The client had
	# its 550 already: its next command gets the 421, QUIT its 221.
	start_sink -Q RSET
	write_conf "FilterCommand: $(write_filter f.sh 'cat >/dev/null' 'echo "550 5.7.1 no" >&2' 'exit 1')"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nNOOP\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 250 250 354 550 421 " ]
	grep -q "^421 4.0.0 $HOSTNAME_NOW Server closing connection" "$T/out"
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out2"
	[ "$(grep -v '^250-' "$T/out2" | awk '{ printf "%s ", $1 }')" = "220 250 250 250 354 550 221 " ]
}

@test "upstream greets with 421: the client gets it with our name, the session ends" {
	start_sink -Q CONNECT
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(codes "$T/out")" = "421 " ]
	grep -q "^421 4.0.0 $HOSTNAME_NOW" "$T/out"
}

# --- the end of data answered with something that cannot end it -----------------

eod_case() { # REPLY
	AIO_PORT=$(free_port)
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-reply" 127.0.0.1 "$AIO_PORT" "$1" >"$T/aio.log" 2>&1 &
	track $!
	wait_port "$AIO_PORT"
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
}

@test "end of data answered 354 by the upstream: 451 to the client, upstream dropped, next command 421" {
	eod_case '354 again'
	[ "$(replies)" = "220 250 250 250 354 451 421 " ]
	grep -q '^451 4.3.0 Error: upstream server misbehaved' "$T/out"
	grep -q 'upstream .* dropped: upstream answered the end of data with 354' "$PROXY_LOG"
	grep -q 'outcome=tempfail' "$PROXY_LOG"
}

@test "end of data answered 1xx by the upstream: 451 to the client, QUIT still gets 221" {
	AIO_PORT=$(free_port)
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-reply" 127.0.0.1 "$AIO_PORT" '199 odd' >"$T/aio.log" 2>&1 &
	track $!
	wait_port "$AIO_PORT"
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 250 250 354 451 221 " ]
}

@test "end of data answered 421 naming the upstream host: the client sees our name only" {
	eod_case '421 4.3.2 mx.upstream.test closing down'
	[ "$(replies)" = "220 250 250 250 354 421 " ]
	grep -q "^421 4.3.2 $HOSTNAME_NOW closing down" "$T/out"
	! grep -q 'mx.upstream.test' "$T/out" || false
}

# --- paths and parameters ---------------------------------------------------------

@test "empty paths: MAIL FROM: and RCPT TO: with nothing, RCPT TO:<> get 501 5.5.4; MAIL FROM:<> is valid" {
	start_sink
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:\r\nMAIL FROM: \r\nMAIL FROM:<>\r\nRCPT TO:\r\nRCPT TO:<>\r\nRCPT TO:<postmaster>\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 501 501 250 501 501 250 221 " ]
	[ "$(grep -c '^501 5.5.4' "$T/out")" -eq 4 ]
	grep -q 'refused empty path from 127.0.0.1: 501 5.5.4' "$PROXY_LOG"
}

@test "BODY=BINARYMIME is a parameter, not a substring: an address holding it is good mail" {
	start_sink
	f=$(write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat')
	write_conf "FilterCommand: $f"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<x@y.test> BODY=BINARYMIME\r\nMAIL FROM:<body=binarymime@example.org> BODY=8BITMIME\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 504 250 250 354 250 221 " ]
	grep -qx 'SENDER=body=binarymime@example.org' "$T/env.out"
	grep -q '^X-Mail-Args: <body=binarymime@example.org> BODY=8BITMIME' "$(sink_file)"
}

@test "a quoted local part holding '>' and a blank is one address; bad parameter syntax gets 501" {
	start_sink
	f=$(write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat')
	write_conf "FilterCommand: $f"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<x@y.test> =bad\r\nMAIL FROM:<x@y.test> B@D=1\r\nMAIL FROM:<"a> b"@example.org> SIZE=10\r\nRCPT TO:<c@d.test> NOTIFY=NEVER\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 501 501 250 250 354 250 221 " ]
	grep -qx 'SENDER="a> b"@example.org' "$T/env.out"
}

# --- traps left by a file-mode filter -------------------------------------------------

@test "file-mode filter leaving a FIFO at \$EMAIL: 451 at once, the session goes on, nothing left" {
	start_sink
	f=$(write_filter f.sh 'rm -f "$EMAIL"' 'mkfifo "$EMAIL"')
	write_conf "FilterCommand: $f" "FilterType: file"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n' |
		timeout 60 socat -t 30 -T 30 - "TCP:127.0.0.1:$PORT" | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 250 250 354 451 250 221 " ]
	grep -q 'filter left something other than a regular file at \$EMAIL' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "file-mode filter leaving a symbolic link at \$EMAIL: 451, the link's target is never sent" {
	start_sink
	echo 'Subject: secret' >"$T/secret"
	f=$(write_filter f.sh 'rm -f "$EMAIL"' "ln -s $T/secret \"\$EMAIL\"")
	write_conf "FilterCommand: $f" "FilterType: file"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	grep -q '^451 ' "$T/out"
	grep -q 'symbolic link at \$EMAIL' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
}

# --- nothing hangs; every signal is heard ---------------------------------------------

@test "SIGTERM while a keepalive waits for the upstream's reply: reported as the signal (421 4.3.2)" {
	start_sink
	f=$(write_filter f.sh 'cat >/dev/null' "touch $T/filter-started" 'sleep 30')
	write_conf "FilterCommand: $f" "KeepAlives: 1" "TimeOut: 60" "FilterTimeout: 60"
	start_proxy
	mkfifo "$T/in"
	socat -t 60 -T 60 - "TCP:127.0.0.1:$PORT" <"$T/in" >"$T/out" &
	client=$!
	track $client
	exec 8>"$T/in"
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n' >&8
	pid=$(session_pid)
	# The upstream stops answering: the keepalive's NOOP waits.
	sink=$(head -1 "$PIDFILE_LIST")
	wait_file "$T/filter-started"
	kill -STOP "$sink"
	sleep 2.5	# the keepalive (every 1 s) is now waiting for its reply
	kill -TERM "$pid"
	wait_gone "$pid" 100
	kill -CONT "$sink"
	exec 8>&-
	wait "$client" || true
	tr -d '\r' <"$T/out"
	grep -q "^421 4.3.2 $HOSTNAME_NOW Service shutting down" "$T/out"
	grep -q 'terminated by signal 15' "$PROXY_LOG"
	! grep -q 'keepalive to .* failed' "$PROXY_LOG" || false
	no_temp_files
}

@test "an upstream unix socket with a full backlog: the connect waits (EAGAIN is not a failure) and the mail goes through" {
	SINK_DIR=$T/sink
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR" "$T"
	smtp-sink -u postfix -d "$SINK_DIR/m." "unix:$T/sink.sock" 1 >"$T/sink.log" 2>&1 &
	sink=$!
	track $sink
	wait_file "$T/sink.sock"
	write_conf "OutAddress: $T/sink.sock" "TimeOut: 20"
	start_proxy
	# A stopped server accepts nothing: fill its backlog (1) so that the
	# proxy's connect gets EAGAIN, then let it run again.
	kill -STOP "$sink"
	for i in 1 2 3; do
		socat -T 30 - "UNIX-CONNECT:$T/sink.sock" </dev/null >/dev/null 2>&1 &
		track $!
	done
	sleep 0.5
	( sleep 2; kill -CONT "$sink" ) &
	track $!
	run swaks_send
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == 250* ]]
	! grep -q 'Resource temporarily unavailable' "$PROXY_LOG" || false
}

@test "a name lookup that never answers is bounded by TimeOut and hears SIGTERM" {
	load lib/netns
	ns_new dns
	# Inside the namespace the resolver asks 127.0.0.53, where a UDP
	# socket takes queries and never answers; glibc would wait 5 x 30 s.
	mkdir -p "/etc/netns/$(ns dns)"
	printf 'nameserver 127.0.0.53\noptions timeout:30 attempts:5\n' >"/etc/netns/$(ns dns)/resolv.conf"
	printf 'hosts: dns\n' >"/etc/netns/$(ns dns)/nsswitch.conf"
	# ip netns exec execs socat: $! is socat itself, stopped in teardown.
	ip netns exec "$(ns dns)" socat -u UDP-RECV:53,bind=127.0.0.53 \
		"OPEN:$T/queries,creat,append" </dev/null >/dev/null 2>&1 &
	track $!
	sleep 0.3
	printf 'OutAddress: mx.lookup.test:25\nTimeOut: 2\nTempDirectory: %s\n' "$SPOOL" >"$T/c.conf"
	printf 'EHLO c.test\r\nQUIT\r\n' >"$T/s"
	nsx dns timeout 60 "$PROXSMTPD" -d 4 -f "$T/c.conf" <"$T/s" >"$T/out" 2>>"$PROXY_LOG" || true
	cat "$T/out"
	grep -q '^421 4.4.0 .*Upstream server unavailable' "$T/out"
	grep -q 'mx.lookup.test: name lookup timed out' "$PROXY_LOG"
	[ -s "$T/queries" ]
	# The same with TimeOut 60 and a SIGTERM: heard during the lookup.
	sed -i 's/^TimeOut: 2$/TimeOut: 60/' "$T/c.conf"
	: >"$T/queries"
	( sleep 30 ) | nsx dns "$PROXSMTPD" -d 4 -f "$T/c.conf" >"$T/out2" 2>>"$PROXY_LOG" &
	i=0
	until [ -s "$T/queries" ]; do
		i=$((i + 1)); [ "$i" -lt 200 ] || false
		sleep 0.1
	done
	pid=$(pgrep -n -f "^$PROXSMTPD -d 4 -f $T/c.conf")
	[ -n "$pid" ]
	kill -TERM "$pid"
	wait_gone "$pid" 100
	grep -q '^421 4.3.2 ' "$T/out2"
	ns_teardown
	rm -rf "/etc/netns/$(ns dns)"
}

# --- limits, each at its edge ------------------------------------------------------

@test "MaxRecipients 3: three accepted, the fourth gets 452 4.5.3, the message goes to three" {
	start_sink
	write_conf "MaxRecipients: 3"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<1@d.test>\r\nRCPT TO:<2@d.test>\r\nRCPT TO:<3@d.test>\r\nRCPT TO:<4@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	[ "$(replies)" = "220 250 250 250 250 250 452 354 250 221 " ]
	grep -q '^452 4.5.3 ' "$T/out"
	[ "$(grep -c '^X-Rcpt-Args:' "$(sink_file)")" -eq 3 ]
}

@test "MaxLineLength 512: a 512-byte command line (with CRLF) is relayed, 513 bytes are refused" {
	start_sink
	write_conf "MaxLineLength: 512"
	start_proxy
	ok="NOOP $(head -c 505 /dev/zero | tr '\0' a)"	# 510 + CRLF = 512
	long="NOOP $(head -c 506 /dev/zero | tr '\0' a)"
	printf 'EHLO c.test\r\n%s\r\n%s\r\nQUIT\r\n' "$ok" "$long" | smtp_raw | tr -d '\r' >"$T/out"
	[ "$(replies)" = "220 250 250 500 221 " ]
}

@test "MaxErrors 3: after three refusals the next command gets 421 4.7.0 and the session ends" {
	start_sink
	write_conf "MaxErrors: 3"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:\r\nRCPT TO:\r\nDATA\r\nNOOP\r\nNOOP\r\n' | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 501 501 503 421 " ]
	grep -q "^421 4.7.0 $HOSTNAME_NOW Error: too many errors" "$T/out"
	grep -q 'MaxErrors (3) reached' "$PROXY_LOG"
}

@test "MaxJunkCommands 4: commands that deliver nothing end the session; a delivery starts the count again" {
	start_sink
	write_conf "MaxJunkCommands: 4"
	start_proxy
	# EHLO + 3 NOOP = 4, a delivery, 4 more NOOP, then the fifth is one too many.
	printf 'EHLO c.test\r\nNOOP\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 250 250 250 250 250 354 250 250 250 250 250 421 " ]
	grep -q 'MaxJunkCommands (4) reached' "$PROXY_LOG"
}

# --- operators see why ---------------------------------------------------------------

@test "own refusals are logged at the default level (no -d) with the session id" {
	start_sink
	write_conf
	printf 'HELO c.test\r\nMAIL FROM:\r\nBDAT 1\r\n' >"$T/s"
	"$PROXSMTPD" -d 3 -f "$CONF" <"$T/s" >"$T/out" 2>"$T/log" || true
	cat "$T/log"
	grep -Eq '^proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: refused empty path from 127.0.0.1: 501 5.5.4' "$T/log"
	grep -Eq '[0-9a-f]{12}: BDAT from .*CHUNKING is not offered' "$T/log"
}
