#!/usr/bin/env bats
# MaxMessageSize and the SIZE extension (RFC 1870), issue 12: what EHLO
# advertises with real upstreams (smtp-sink offers no SIZE, aiosmtpd offers
# its -s), SIZE= at MAIL, and a message that grows past the limit in DATA,
# in the spooled path (a filter) and the streaming path (none). The edges
# are byte-exact through socat: the size counted is the message as the
# client meant it (dot-stuffing and the terminator not counted, RFC 1870).

load helpers

# The code of each reply in $T/out, one a reply (EHLO's 250- lines left out).
replies() { grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }'; }
# The SIZE keyword line of the EHLO reply in $T/out, or nothing.
size_line() { grep -i '^250[- ]SIZE' "$T/out" | cut -c5-; }

# aiosmtpd advertising SIZE $1 (0: no SIZE line), storing to the Maildir
# $AIO_MBOX.
start_aiosmtpd_size() {
	AIO_PORT=$(free_port)
	AIO_MBOX=$T/aio.mbox
	/usr/bin/python3 -m aiosmtpd -n -s "$1" -l "127.0.0.1:$AIO_PORT" \
		-c aiosmtpd.handlers.Mailbox "$AIO_MBOX" >"$T/aio.log" 2>&1 &
	track $!
	wait_port "$AIO_PORT"
}

aio_count() { find "$AIO_MBOX/new" -type f 2>/dev/null | wc -l; }

ehlo() {
	printf 'EHLO client.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
}

# body N: a message of exactly N bytes as RFC 1870 counts them (N >= 20):
# a Subject line, then lines of "x" ending in CRLF; the last line starts
# with a dot, which goes dot-stuffed on the wire and is not counted.
body() {
	local n=$1 head='Subject: size' rest
	printf '%s\r\n\r\n' "$head"
	rest=$((n - ${#head} - 4))
	while [ "$rest" -gt 100 ]; do
		printf '%078d\r\n' 0 | tr 0 x
		rest=$((rest - 80))
	done
	# The last line: a dot (stuffed: "..") and rest - 3 x's, CRLF.
	printf '..'
	printf "%0$((rest - 3))d" 0 | tr 0 x
	printf '\r\n'
}

# One transaction of a message of N bytes, then what follows ($2, e.g. a
# second transaction), then QUIT; replies in $T/out.
send_sized() {
	{
		printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n'
		printf 'RCPT TO:<b@example.test>\r\nDATA\r\n'
		body "$1"
		printf '.\r\n%bQUIT\r\n' "${2:-}"
	} | smtp_raw | tr -d '\r' >"$T/out"
	grep -v '^250-' "$T/out"
}

# --- EHLO: the smaller of ours and the upstream's -----------------------------

@test "EHLO: smtp-sink offers no SIZE: ours is advertised; 0 (no limit) advertises none" {
	start_sink
	write_conf "MaxMessageSize: 1000"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 1000" ]
	stop_tracked
	start_sink
	write_conf "MaxMessageSize: 0"
	start_proxy
	ehlo
	[ -z "$(size_line)" ]
	grep -q '^250 ' "$T/out"
}

@test "EHLO: the default MaxMessageSize (52428800) is advertised" {
	start_sink
	write_conf
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 52428800" ]
}

@test "EHLO: the upstream's smaller SIZE is kept, a larger one replaced by ours" {
	start_aiosmtpd_size 500
	write_conf "MaxMessageSize: 1000"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 500" ]
	[ "$(grep -ci '^250[- ]SIZE' "$T/out")" -eq 1 ]
	stop_tracked
	start_aiosmtpd_size 5000
	write_conf "MaxMessageSize: 1000"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 1000" ]
	[ "$(grep -ci '^250[- ]SIZE' "$T/out")" -eq 1 ]
}

@test "EHLO: with no limit of ours the upstream's SIZE stands as it said it" {
	start_aiosmtpd_size 12345
	write_conf "MaxMessageSize: 0"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 12345" ]
}

@test "HELO gets no extension lines, SIZE neither" {
	start_sink
	write_conf "MaxMessageSize: 1000"
	start_proxy
	printf 'HELO client.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 221 " ]
	[ -z "$(size_line)" ]
}

# --- MAIL FROM: SIZE= ----------------------------------------------------------

# smtp-sink -v logs every command it gets to $T/sink.log.
sink_mails() { grep -c '^smtp-sink: MAIL' "$T/sink.log" || true; }

@test "MAIL SIZE= over the limit: 552 5.3.4 before anything goes upstream; at the limit relayed" {
	start_sink -v
	write_conf "MaxMessageSize: 1000"
	start_proxy
	printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test> SIZE=1001\r\nMAIL FROM:<a@sender.test> size=99999999999999999999\r\nMAIL FROM:<a@sender.test> SIZE=1000\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 552 552 250 221 " ]
	[ "$(grep -c '^552 5.3.4 Error: message size exceeds fixed limit$' "$T/out")" -eq 2 ]
	cat "$T/sink.log"
	[ "$(sink_mails)" -eq 1 ]
	grep -q '^smtp-sink: MAIL FROM:<a@sender.test> SIZE=1000$' "$T/sink.log"
	grep -q 'refused a SIZE over MaxMessageSize from 127.0.0.1: 552 5.3.4' "$PROXY_LOG"
}

@test "MAIL SIZE= malformed: 501 5.5.4, nothing upstream; with no limit SIZE= is relayed" {
	start_sink -v
	write_conf "MaxMessageSize: 1000"
	start_proxy
	printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test> SIZE=abc\r\nMAIL FROM:<a@sender.test> SIZE=\r\nMAIL FROM:<a@sender.test> SIZE\r\nMAIL FROM:<a@sender.test> SIZE=-1\r\nMAIL FROM:<a@sender.test> SIZE=123456789012345678901\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 501 501 501 501 501 221 " ]
	# "SIZE=" (an empty value) is refused by the parameter parser already.
	[ "$(grep -c '^501 5.5.4 Bad message size syntax$' "$T/out")" -eq 4 ]
	[ "$(grep -c '^501 5.5.4 ' "$T/out")" -eq 5 ]
	[ "$(sink_mails)" -eq 0 ]
	stop_tracked
	start_sink -v
	write_conf "MaxMessageSize: 0"
	start_proxy
	printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test> SIZE=99999999999\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(replies)" = "220 250 250 221 " ]
	grep -q '^smtp-sink: MAIL FROM:<a@sender.test> SIZE=99999999999$' "$T/sink.log"
}

# --- DATA: the spooled path (a filter) ----------------------------------------

@test "spooled: a message of exactly MaxMessageSize bytes passes, one byte more gets 552; the session goes on" {
	start_sink
	marker=$T/filter-ran
	f=$(write_filter count.sh "echo x >>'$marker'" 'exec cat')
	write_conf "MaxMessageSize: 1000" "FilterCommand: $f"
	start_proxy
	send_sized 1000
	[ "$(replies)" = "220 250 250 250 354 250 221 " ]
	[ "$(sink_count)" -eq 1 ]
	grep -q ' size=1000 outcome=forwarded' "$PROXY_LOG"
	[ "$(wc -l <"$marker")" -eq 1 ]
	# One byte over, then a good message on the same connection.
	next='MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: next\r\n\r\nok\r\n.\r\n'
	send_sized 1001 "$next"
	[ "$(replies)" = "220 250 250 250 354 552 250 250 354 250 221 " ]
	grep -q '^552 5.3.4 Error: message size exceeds fixed limit$' "$T/out"
	# The oversized one never reached the filter nor the upstream.
	[ "$(wc -l <"$marker")" -eq 2 ]
	[ "$(sink_count)" -eq 2 ]
	grep -l '^Subject: next' "$SINK_DIR"/m.*
	grep -q ' size=1001 outcome=rejected reply="552 5.3.4 Error: message size exceeds fixed limit" detail="message size 1001 exceeds MaxMessageSize 1000"' "$PROXY_LOG"
	[ "$(message_lines)" -eq 3 ]
	wait_sessions
	no_temp_files
}

@test "spooled: a large message (swaks, 2 MB) over a 100000-byte limit: 552 once, nothing forwarded, no temp file" {
	start_sink
	write_conf "MaxMessageSize: 100000" "FilterCommand: cat"
	start_proxy
	head -c 1500000 /dev/urandom | base64 >"$T/big"
	run swaks_send --data "@$T/big"
	[ "$(data_reply)" = "552 5.3.4 Error: message size exceeds fixed limit" ]
	[ "$(grep -c '^<\*\* *552' "$T/swaks.out")" -eq 1 ]
	[ "$(sink_count)" -eq 0 ]
	grep -q ' outcome=rejected reply="552 5.3.4 .*detail="message size [0-9]* exceeds MaxMessageSize 100000"' "$PROXY_LOG"
	[ "$(message_lines)" -eq 1 ]
	# The upstream was told to forget the transaction; the session ended well.
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "spooled: a message under the limit from swaks passes" {
	start_sink
	write_conf "MaxMessageSize: 100000" "FilterCommand: cat"
	start_proxy
	head -c 60000 /dev/urandom | base64 >"$T/mid"
	swaks_send --data "@$T/mid"
	[ "$(data_reply | cut -c1-3)" = 250 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qF "$(tail -n 1 "$T/mid")" "$(sink_file)"
	no_temp_files
}

# --- DATA: the streaming path (no filter) -------------------------------------

@test "streamed: exactly MaxMessageSize bytes pass, dot-stuffing not counted" {
	start_aiosmtpd_size 0
	write_conf "MaxMessageSize: 1000"
	start_proxy
	send_sized 1000
	[ "$(replies)" = "220 250 250 250 354 250 221 " ]
	grep -q ' size=1000 outcome=forwarded' "$PROXY_LOG"
	# The body as aiosmtpd stored it: the dot-stuffed line unstuffed.
	[ "$(aio_count)" -eq 1 ]
	grep -q '^\.xxx' "$AIO_MBOX"/new/*
	wait_sessions
	no_temp_files
}

@test "streamed: one byte over gets 552 once, the upstream discards it, the next command gets 421" {
	start_sink
	write_conf "MaxMessageSize: 1000"
	start_proxy
	send_sized 1001 'NOOP\r\n'
	[ "$(replies)" = "220 250 250 250 354 552 421 " ]
	grep -q '^552 5.3.4 Error: message size exceeds fixed limit$' "$T/out"
	grep -q "^421 4.3.0 $HOSTNAME_NOW Error: upstream connection closed after an oversized message" "$T/out"
	[ "$(sink_count)" -eq 0 ]
	grep -q ' outcome=rejected reply="552 5.3.4 Error: message size exceeds fixed limit" detail="message size 1001 exceeds MaxMessageSize 1000"' "$PROXY_LOG"
	grep -q 'upstream .* dropped: a message over MaxMessageSize was cut off mid-DATA' "$PROXY_LOG"
	[ "$(message_lines)" -eq 1 ]
	wait_sessions
	no_temp_files
}

@test "streamed: after the 552, QUIT still gets 221 and the session ends well" {
	start_sink
	write_conf "MaxMessageSize: 1000"
	start_proxy
	send_sized 5000
	[ "$(replies)" = "220 250 250 250 354 552 221 " ]
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 0 ]
}

@test "streamed: a 2 MB message from swaks over a 100000-byte limit: 552, nothing delivered by aiosmtpd" {
	start_aiosmtpd_size 0
	write_conf "MaxMessageSize: 100000"
	start_proxy
	head -c 1500000 /dev/urandom | base64 >"$T/big"
	run swaks_send --data "@$T/big"
	[ "$(data_reply)" = "552 5.3.4 Error: message size exceeds fixed limit" ]
	[ "$(aio_count)" -eq 0 ]
	grep -q ' outcome=rejected reply="552 5.3.4' "$PROXY_LOG"
}

@test "the upstream's own smaller limit still refuses at the end of data, relayed" {
	start_aiosmtpd_size 500
	write_conf "MaxMessageSize: 1000" "FilterCommand: cat"
	start_proxy
	send_sized 800
	[ "$(replies)" = "220 250 250 250 354 552 221 " ]
	[ "$(aio_count)" -eq 0 ]
	grep -q ' size=800 outcome=rejected' "$PROXY_LOG"
}

# --- Postfix: its SIZE n, and its bare SIZE (message_size_limit = 0) ---------

@test "Postfix upstream: its SIZE 10240000 is kept under our default; its bare SIZE gets ours, or stands with 0" {
	local_teardown() { postfix_stop; }
	postfix_start "$T/pf" PF_SIZE0
	# Straight to Postfix: what it offers.
	printf 'EHLO client.test\r\nQUIT\r\n' | socat -t 20 - "TCP:127.0.0.1:$PF_SIZE0" |
		tr -d '\r' >"$T/out"
	[ "$(size_line)" = "SIZE" ]
	write_conf "OutAddress: 127.0.0.1:$PF_BACK"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 10240000" ]
	stop_tracked
	write_conf "OutAddress: 127.0.0.1:$PF_SIZE0" "MaxMessageSize: 1000"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE 1000" ]
	[ "$(grep -ci '^250[- ]SIZE' "$T/out")" -eq 1 ]
	stop_tracked
	write_conf "OutAddress: 127.0.0.1:$PF_SIZE0" "MaxMessageSize: 0"
	start_proxy
	ehlo
	[ "$(size_line)" = "SIZE" ]
}
