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
		! grep -q '^X-Rcpt-Args: <victim' "$f"
		grep -q '^MAIL FROM:<ceo@bank.test>$' "$f"
		grep -q '^send money$' "$f"
		# No bare CR survived in what the upstream received.
		! grep -q $'\r' "$f"
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
	! grep -q $'\r' "$f"
}

@test "a message starting with a dot line and ending without a final CRLF before the dot" {
	start_sink
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n..leading\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
	grep -qx '\.leading' "$(sink_file)"
}
