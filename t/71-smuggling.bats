#!/usr/bin/env bats
# SMTP smuggling (2023): a client hides a second message behind an
# end-of-data sequence that the proxy and the upstream might read
# differently. Whatever the client sends, the proxy's output is canonical
# (CRLF line ends, dot-stuffed, one terminator): the upstream receives
# exactly one message, with the would-be second one inside its body.

load helpers

# Every end-of-data variant of the research, and a few more.
VARIANTS=(
	'\n.\n' '\n.\r\n' '\r.\r' '\r\n.\r' '\r\n.\n' '\r.\r\n' '\n.\r'
	'\r\n.\r\r\n' '\r\n\x00.\r\n' '\r\n.\x00\r\n' '\r\n .\r\n'
)

smuggle() { # VARIANT -> raw session replies in $T/out
	{
		printf 'EHLO c.test\r\nMAIL FROM:<user@sender.test>\r\nRCPT TO:<friend@example.test>\r\nDATA\r\n'
		printf 'Subject: innocent\r\n\r\nfirst body'
		printf "$1"
		printf 'MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsend money\r\n'
		printf '\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
}

@test "normalize (default): every smuggling variant gives one message, the second stays body" {
	start_sink
	write_conf "FilterCommand: cat"
	start_proxy
	for v in "${VARIANTS[@]}"; do
		rm -f "$SINK_DIR"/m.*
		smuggle "$v"
		echo "variant $v: $(grep -c '^354' "$T/out") x 354, end: $(sed -n '/^354/{n;p;q}' "$T/out")"
		[ "$(grep -c '^354 ' "$T/out")" -eq 1 ]
		[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
		[ "$(sink_count)" -eq 1 ]
		f=$(sink_file)
		# One envelope, the innocent one; the smuggled commands are text.
		[ "$(grep -c '^X-Mail-Args:' "$f")" -eq 1 ]
		grep -q '^X-Mail-Args: <user@sender.test>$' "$f"
		! grep -q '^X-Rcpt-Args: <victim' "$f" || false
		grep -q '^MAIL FROM:<ceo@bank.test>$' "$f"
		grep -q '^send money$' "$f"
		# No bare CR survived in what the upstream received.
		! grep -q $'\r' "$f" || false
	done
	wait_sessions
	no_temp_files
}

@test "BareNewline: reject refuses every variant that has a bare CR or LF, and forwards nothing" {
	start_sink
	write_conf "FilterCommand: cat" "BareNewline: reject"
	start_proxy
	for v in "${VARIANTS[@]}"; do
		# Those with CRLFs only are the next test's.
		case $v in '\r\n\x00.\r\n'|'\r\n.\x00\r\n'|'\r\n .\r\n') continue ;; esac
		rm -f "$SINK_DIR"/m.*
		smuggle "$v"
		echo "variant $v: $(sed -n '/^354/{n;p;q}' "$T/out")"
		[ "$(sed -n '/^354/{n;p;q}' "$T/out")" = "550 5.6.0 Error: bare CR or LF in message; lines must end in CRLF" ]
		[ "$(sink_count)" -eq 0 ]
		grep -q '^221 ' "$T/out"
	done
	wait_sessions
	grep -q 'outcome=rejected.*detail="bare newline"' "$PROXY_LOG"
}

@test "variants with only CRLF still end at CRLF.CRLF and nowhere else" {
	start_sink
	write_conf "BareNewline: reject"
	start_proxy
	smuggle '\r\n\x00.\r\n'
	[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^send money$' "$(sink_file)"
}

@test "a filter that writes bare LF, bare CR and dot lines: the output is canonical, one message" {
	start_sink
	filter=$(write_filter f.sh 'cat >/dev/null' \
		"printf 'Subject: from filter\\n\\nline\\n.\\nMAIL FROM:<x@y>\\r.\\r\\n..two dots\\n.'")
	write_conf "FilterCommand: $filter"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
	[ "$(sink_count)" -eq 1 ]
	f=$(sink_file)
	sink_message "$f" >"$T/body"
	cat -A "$T/body"
	# Lines as the filter meant them; the upstream un-stuffed our dots.
	grep -qx '\.' "$T/body"
	grep -qx '\.\.two dots' "$T/body"
	grep -qx 'MAIL FROM:<x@y>' "$T/body"
	! grep -q $'\r' "$f" || false
}

@test "a message that is one dot-stuffed line: un-stuffed once, stuffed again for the upstream" {
	# The line follows DATA's own CRLF, and the terminator follows it:
	# neither is a CRLF of the message.
	start_sink
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n..leading\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
	[ "$(sink_count)" -eq 1 ]
	# smtp-sink un-stuffed what the proxy sent, and adds an empty line.
	[ "$(sink_message | sed '$d')" = ".leading" ]
}

# --- found by fuzzing (fuzz/crashes/ holds the inputs) -----------------------

@test "DATA followed by a TAB is our DATA: the proxy's 354, the filter runs" {
	start_sink
	write_conf "FilterType: reject"
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\t\r\nx\r\n.\r\n\tDATA\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	grep -q '^354 End data with' "$T/out"
	grep -q '^530 Email Rejected' "$T/out"
	grep -q '^500 5.5.2 Error: bad syntax' "$T/out"
	grep -q 'refused a command starting with a blank from 127.0.0.1' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
}

@test "a Header line that starts with a dot is dot-stuffed, and cannot end the message" {
	start_sink
	write_conf 'Header: X-One: 1\n.X-Two: 2'
	start_proxy
	run swaks_send --body 'body after the header'
	[[ "$(data_reply)" == 250* ]]
	grep -qx '\.X-Two: 2' "$(sink_file)"
	grep -qx 'body after the header' "$(sink_file)"
}

@test "a Header with an empty line in it is refused by the configuration check" {
	printf 'OutAddress: 127.0.0.1:25\nHeader: X-One: 1\\n\\n.\n' >"$T/c.conf"
	run "$PROXSMTPD" -t -f "$T/c.conf"
	echo "$output"
	[ "$status" -eq 100 ]
	grep -q 'c.conf:2:.*Header' <<<"$output"
}

@test "a long expanded Header still ends its line before the terminator" {
	start_sink
	write_conf "Header: X-D: $(printf '%%d %.0s' $(seq 70))"
	start_proxy
	run swaks_send --body 'after a long header'
	[[ "$(data_reply)" == 250* ]]
	# The header, cut at its limit, is one line; the empty line and the
	# body follow it as they were (a header without its line end would
	# swallow the empty line and turn the body into a header).
	sink_message >"$T/got"
	cat "$T/got"
	[ "$(grep -c '^X-D: ' "$T/got")" -eq 1 ]
	[ "$(grep -A2 '^X-D: ' "$T/got" | tail -2 | tr '\n' '|')" = "|after a long header|" ]
}

@test "11,000 commands in a replay file: none is taken for a too-long line" {
	start_sink
	write_conf "MaxJunkCommands: 20000"
	{ printf 'EHLO c.test\r\n'; for i in $(seq 11000); do printf 'NOOP\r\n'; done; printf 'QUIT\r\n'; } >"$T/s.txt"
	replay "$CONF" <"$T/s.txt" | tr -d '\r' >"$T/out"
	! grep -q 'too long' "$T/out" || false
	[ "$(grep -c '^250 ' "$T/out")" -ge 11000 ]
}

@test "a bare CR in an AUTH answer is refused (501), never relayed" {
	# aiosmtpd with AUTH LOGIN: it asks with 334 for the user name.
	AIO_PORT=$(free_port)
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-auth" 127.0.0.1 "$AIO_PORT" "$T/aio" \
		>"$T/aio.log" 2>&1 3>&- &
	track $!
	wait_port "$AIO_PORT"
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nAUTH LOGIN\r\nx\rMAIL FROM:<evil@x.test>\r\nNOOP\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	# One reply per command (EHLO's 250- lines left out).
	[ "$(grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }')" = "220 250 334 501 250 221 " ]
	grep -qx '501 5.5.2 Error: invalid character in authentication exchange' "$T/out"
	# aiosmtpd logs every line it reads: the answer never reached it, the
	# exchange was cancelled with "*", the session went on with NOOP.
	wait_sessions
	cat "$T/aio.log"
	! grep -q 'evil' "$T/aio.log" || false
	grep -q "aborted AUTH with '\\*'" "$T/aio.log"
	grep -q ">> b'NOOP'" "$T/aio.log"
}
