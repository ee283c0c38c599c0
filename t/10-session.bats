#!/usr/bin/env bats
# The session as a client and the upstream see it: greeting and EHLO
# rewriting, extensions stripped, commands passed through or refused,
# several messages, RSET after a rejection.

load helpers

local_setup() {
	start_sink -h upstream.internal.test
	write_conf
	start_proxy
}

@test "a message passes through unfiltered and the client gets the upstream's 250" {
	run swaks_send --header 'Subject: plain' --body 'hello world'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^Subject: plain$' "$(sink_file)"
	grep -q '^hello world$' "$(sink_file)"
	grep -q '^X-Mail-Args: <alice@sender.test>$' "$(sink_file)"
	grep -q '^X-Rcpt-Args: <bob@example.test>$' "$(sink_file)"
	[ "$(session_status)" = 0 ]
	no_temp_files
	[ "$(message_lines)" -eq 1 ]
}

@test "greeting and EHLO reply carry our name, never the upstream's" {
	run swaks_send --quit-after EHLO
	[ "$status" -eq 0 ]
	! grep -q 'upstream.internal.test' "$T/swaks.out" || false
	grep -q "^<-  220 $HOSTNAME_NOW ESMTP proxsmtpd" "$T/swaks.out"
	grep -q "^<-  250-$HOSTNAME_NOW" "$T/swaks.out"
}

@test "EHLO reply loses the extensions the proxy cannot carry, and stays well-formed" {
	out=$(printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw)
	echo "$out"
	! grep -Eiq '^250[- ](STARTTLS|BINARYMIME|CHECKPOINT|XCLIENT|XEXCH50)' <<<"$out" || false
	grep -q '^250[- ]8BITMIME' <<<"$out"
	# CHUNKING is the proxy's own (t/66-chunking.bats).
	grep -q '^250[- ]CHUNKING' <<<"$out"
	# smtp-sink offers PIPELINING: carried through (t/65-pipelining.bats).
	grep -q '^250[- ]PIPELINING' <<<"$out"
	# Exactly one final line, with text; every other 250 line is a continuation.
	[ "$(grep -c '^250 ' <<<"$out")" -eq 1 ]
	! grep -q $'^250 \r\?$' <<<"$out" || false
	grep -q '^221 ' <<<"$out"
}

@test "an EHLO reply whose last line is stripped ends with a proper final line" {
	# smtp-sink sends an empty last keyword line; strip it from the end
	# of the reply: the final line must move up.
	out=$(printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	last=$(grep '^250' <<<"$out" | tail -1)
	[[ "$last" =~ ^250\ [A-Z0-9] ]]
}

@test "commands for stripped extensions get 502, XCLIENT gets 554" {
	out=$(printf 'EHLO c.test\r\nSTARTTLS\r\nXEXCH50 10 2\r\nXCLIENT ADDR=10.0.0.1\r\nNOOP\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	[ "$(grep -c '^502 ' <<<"$out")" -eq 2 ]
	grep -q '^554 ' <<<"$out"
	grep -q '^250 .*' <<<"$(sed -n '/^554/,$p' <<<"$out")"
	grep -q '^221 ' <<<"$out"
}

@test "MAIL with BODY=BINARYMIME is refused, since the extension is not offered" {
	out=$(printf 'EHLO c.test\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	grep -q '^504 ' <<<"$out"
}

@test "DATA without an accepted recipient is refused by the proxy" {
	out=$(printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nDATA\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	grep -q '^503 5.5.1 ' <<<"$out"
	[ "$(sink_count)" -eq 0 ]
}

@test "several messages in one session, each forwarded and logged once" {
	{
		printf 'EHLO c.test\r\n'
		for i in 1 2 3; do
			printf 'MAIL FROM:<s%s@a.test>\r\nRCPT TO:<r%s@b.test>\r\nRCPT TO:<x%s@b.test>\r\nDATA\r\n' $i $i $i
			printf 'Subject: m%s\r\n\r\nbody %s\r\n.\r\n' $i $i
		done
		printf 'QUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(grep -c '^354 ' "$T/out")" -eq 3 ]
	[ "$(grep -c '^250 2.0.0 Ok' "$T/out")" -eq 3 ]
	[ "$(sink_count)" -eq 3 ]
	for i in 1 2 3; do grep -l "^Subject: m$i\$" "$SINK_DIR"/m.* >/dev/null; done
	wait_sessions
	[ "$(message_lines)" -eq 3 ]
	grep -q 'to=<r2@b.test>,<x2@b.test> nrcpt=2 .*outcome=forwarded' "$PROXY_LOG"
}

@test "RSET, NOOP, VRFY and HELP pass through to the upstream" {
	# An upstream that refuses VRFY with 450 (smtp-sink -r), so that its
	# reply cannot be mistaken for one the proxy made up; smtp-sink knows
	# no HELP and says so with its own 500.
	stop_tracked
	start_sink -v -h upstream.internal.test -r VRFY
	write_conf
	start_proxy
	out=$(printf 'HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRSET\r\nNOOP\r\nVRFY bob\r\nHELP\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	# One reply per command, each the upstream's, in order.
	[ "$out" = "$(printf '%s\n' "220 $HOSTNAME_NOW ESMTP proxsmtpd" \
	    "250 $HOSTNAME_NOW" '250 2.1.0 Ok' '250 2.1.0 Ok' '250 2.0.0 Ok' \
	    '450 4.3.0 Error: command failed' '500 5.5.1 Error: unknown command' \
	    '221 Bye')" ]
	# And the upstream got each of them.
	sed -n 's/^smtp-sink: //p' "$T/sink.log" >"$T/cmds"
	for c in 'HELO c.test' 'MAIL FROM:<a@b.test>' RSET NOOP 'VRFY bob' HELP QUIT; do
		grep -qx "$c" "$T/cmds"
	done
}

@test "a line longer than the limit is refused and the session goes on" {
	long=$(head -c 3000 /dev/zero | tr '\0' x)
	out=$(printf 'EHLO c.test\r\nNOOP %s\r\nNOOP\r\nQUIT\r\n' "$long" | smtp_raw | tr -d '\r')
	echo "$out"
	grep -q '^500 5.5.2 ' <<<"$out"
	grep -q '^221 ' <<<"$out"
}
