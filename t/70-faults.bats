#!/usr/bin/env bats
# The fault suite: the filter, the upstream, the client and the local
# system each fail in every way we could think of. Every case checks what
# the client saw, what the upstream received, that no temp file is left,
# and how the session ended. The invariant under all of them: the client
# gets 250 to its end of data only if the upstream took the message (or a
# filter dropped it), and nothing truncated reaches the upstream.

load helpers

# A standard message through the proxy in one raw session; replies in
# $T/out (CR removed). Extra lines after the message via $AFTER.
raw_message() {
	{
		printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n'
		printf 'Subject: fault case\r\n\r\nline one\r\nline two\r\n.\r\n'
		printf '%s' "${AFTER:-}"
		printf 'QUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
}
end_reply() { sed -n '/^354 /{n;p;q}' "$T/out"; }

# EHLO, MAIL, RCPT, DATA and QUIT without a message, for the cases where
# DATA must be refused: the body of a refused DATA would reach the
# upstream as commands (and smtp-sink answers its "." with 250). Replies
# in $T/out (CR removed).
no_body_session() {
	printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
}
# The reply codes in $T/out, one a command (EHLO's 250- lines left out).
reply_codes() { grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }'; }

# --- the filter ----------------------------------------------------------------

filter_case() { # FILTER-LINES...
	start_sink
	write_conf "FilterCommand: $(write_filter f.sh "$@")" "FilterTimeout: 2"
	start_proxy
	raw_message
	wait_sessions
}

@test "filter crashes by a signal: 451, nothing forwarded" {
	filter_case 'cat >/dev/null' 'kill -SEGV $$'
	[[ "$(end_reply)" == 451\ 4.* ]]
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
	[ "$(session_status)" = 0 ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
}

@test "filter times out: 451, its whole process group killed" {
	filter_case 'sleep 300 & echo $! >'"$BATS_TEST_TMPDIR"'/bg.pid' 'cat >/dev/null' 'sleep 300'
	[[ "$(end_reply)" == 451\ 4.* ]]
	[ "$(sink_count)" -eq 0 ]
	[ -s "$T/bg.pid" ]
	proc_gone "$(cat "$T/bg.pid")"
	no_temp_files
	grep -q 'outcome=tempfail' "$PROXY_LOG"
}

@test "filter ignores its input and writes a message of its own: forwarded" {
	filter_case 'printf "Subject: replaced\r\n\r\nnew body\r\n"'
	[[ "$(end_reply)" == 250* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^new body$' "$(sink_file)"
	! grep -q 'line one' "$(sink_file)" || false
	no_temp_files
}

@test "filter closes its output early and exits 0: 451, nothing forwarded" {
	filter_case 'exec >&-' 'cat >/dev/null' 'exit 0'
	[[ "$(end_reply)" == 451\ 4.* ]]
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "filter writes a gigabyte to stderr: no hang, the last line is the reply" {
	# One gigabyte-long line, then many short ones, then the verdict.
	start_sink
	write_conf "FilterTimeout: 120" "FilterCommand: $(write_filter f.sh 'cat >/dev/null' \
		'head -c 1073741824 /dev/zero | tr "\0" "x" >&2' \
		'head -c 104857600 /dev/zero | tr "\0" "y" | fold -w 100 >&2' 'echo >&2' \
		'echo "554 5.7.0 After a flood" >&2' 'exit 1')"
	start_proxy
	raw_message
	[ "$(end_reply)" = "554 5.7.0 After a flood" ]
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "filter writes 300 MB of output: forwarded whole, memory stays flat" {
	start_sink
	write_conf "FilterTimeout: 120" \
		"FilterCommand: $(write_filter f.sh 'cat' 'head -c 314572800 /dev/zero | tr "\0" "y" | fold -w 998' 'sleep 0.5')"
	start_proxy
	{ raw_message; } &
	client=$!
	peak=$(peak_rss_of_session)
	wait "$client"
	cat "$T/out"
	[[ "$(end_reply)" == 250* ]]
	wait_sessions
	grep -q 'outcome=forwarded' "$PROXY_LOG"
	# 300 MB of y, 998 to a line, arrived (the dump has LF line ends).
	[ "$(grep -c '^y\{998\}$' "$(sink_file)")" -eq $((314572800 / 998)) ]
	no_temp_files
	# The same proxy with a 40-byte message, for comparison: the peak
	# resident size must not grow with the message.
	rm -rf "$T/sink"; mkdir "$T/sink"; chown postfix "$T/sink"
	write_conf "FilterCommand: $(write_filter g.sh 'sleep 0.5' 'cat')"
	{ raw_message; } & client=$!
	small=$(peak_rss_of_session)
	wait "$client"
	echo "peak RSS: 300 MB message $peak KiB, small message $small KiB"
	[ "$peak" -gt 0 ] && [ "$small" -gt 0 ]
	[ "$peak" -lt $((small + $(rss_slack_kib))) ]
}

@test "filter writes invalid reply codes: the client still gets a 5xx, never 250 or a 3xx" {
	for line in '999 Not a code' '2500 Almost' '354 Go ahead' '25 short' '050 low' $'250\tno space'; do
		rm -rf "$T/sink" "$T/out"
		filter_case 'cat >/dev/null' "printf '%s\n' '$line' >&2" 'exit 1'
		echo "case <$line>: $(end_reply)"
		[[ "$(end_reply)" == 5[0-9][0-9]\ * ]]
		[ "$(sink_count)" -eq 0 ]
		stop_tracked
	done
}

@test "filter forks a child that outlives it: the message goes on, the child is killed" {
	filter_case '(sleep 300; echo late) &' 'echo $! >'"$BATS_TEST_TMPDIR"'/bg.pid' 'cat'
	[[ "$(end_reply)" == 250* ]]
	[ "$(sink_count)" -eq 1 ]
	! grep -q late "$(sink_file)" || false
	[ -s "$T/bg.pid" ]
	proc_gone "$(cat "$T/bg.pid")"
	no_temp_files
}

@test "filter exits 0 with empty output: 451, not an empty message" {
	filter_case 'cat >/dev/null'
	[[ "$(end_reply)" == 451\ 4.* ]]
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

# --- the upstream --------------------------------------------------------------

@test "upstream unreachable: 421 at once, exit status 111, nothing else" {
	write_conf "OutAddress: 127.0.0.1:$(free_port)"
	start_proxy
	out=$(printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	[[ "$out" == "421 4.4.0 $HOSTNAME_NOW "* ]]
	[ "$(wc -l <<<"$out")" -eq 1 ]
	[ "$(session_status)" = 111 ]
	grep -q 'cannot connect to upstream' "$PROXY_LOG"
}

upstream_case() { # SMTP-SINK-OPTIONS...
	start_sink "$@"
	write_conf "FilterCommand: cat" "TimeOut: 2"
	start_proxy
	raw_message
	wait_sessions
	! grep -q '^250[ -]' <(sed -n '/^354 /,$p' "$T/out" | sed -n 2p) || false
	no_temp_files
}

# smtp-sink -f/-r CONNECT greets with 500/450 but then goes on accepting
# mail, which RFC 5321 lets no server do; what follows the greeting is the
# upstream's business, so these sessions only QUIT.
greeting_case() { # SMTP-SINK-OPTION
	start_sink "$1" CONNECT
	write_conf "FilterCommand: cat" "TimeOut: 2"
	start_proxy
	printf 'QUIT\r\n' | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(session_status)" = 0 ]
}

@test "upstream refuses the connection with 5xx at its greeting: the client gets it, with our name" {
	greeting_case -f
	[ "$(cat "$T/out")" = "$(printf '%s\n' "500 5.3.0 $HOSTNAME_NOW Error: command failed" '221 Bye')" ]
}

@test "upstream refuses at greeting with 4xx: the client gets it, with our name" {
	greeting_case -r
	[ "$(cat "$T/out")" = "$(printf '%s\n' "450 4.3.0 $HOSTNAME_NOW Error: command failed" '221 Bye')" ]
}

@test "upstream refuses EHLO, MAIL, RCPT with 5xx and 4xx: each reply reaches the client; without MAIL or RCPT no DATA" {
	for opt in -f -r; do
		refusal="500 5.3.0 Error: command failed"
		[ "$opt" = -r ] && refusal="450 4.3.0 Error: command failed"
		# A refused EHLO: smtp-sink takes mail without one, and the
		# message goes through on the upstream's word.
		rm -rf "$T/sink"; : >"$PROXY_LOG"
		start_sink "$opt" EHLO
		write_conf "FilterCommand: cat" "TimeOut: 2"
		start_proxy
		raw_message
		[ "$(sed -n 2p "$T/out")" = "$refusal" ]
		[ "$(reply_codes)" = "220 ${refusal%% *} 250 250 354 250 221 " ]
		[ "$(sink_count)" -eq 1 ]
		stop_tracked
		# A refused MAIL or RCPT: DATA is refused by the proxy itself.
		for cmd in MAIL RCPT; do
			rm -rf "$T/sink"; : >"$PROXY_LOG"
			start_sink "$opt" "$cmd"
			write_conf "FilterCommand: cat" "TimeOut: 2"
			start_proxy
			no_body_session
			grep -qx "$refusal" "$T/out"
			if [ "$cmd" = MAIL ]; then
				# RCPT: smtp-sink's own 503; DATA: the proxy's.
				[ "$(reply_codes)" = "220 250 ${refusal%% *} 503 503 221 " ]
				[ "$(grep -cx '503 5.5.1 Error: need MAIL command' "$T/out")" -eq 2 ]
			else
				[ "$(reply_codes)" = "220 250 250 ${refusal%% *} 503 221 " ]
				grep -qx '503 5.5.1 Error: need RCPT command' "$T/out"
			fi
			[ "$(sink_count)" -eq 0 ]
			[ "$(session_status)" = 0 ]
			stop_tracked
		done
	done
}

@test "upstream refuses DATA after the filter ran: the client gets that reply at its end of data" {
	upstream_case -f DATA
	[[ "$(end_reply)" == 5[0-9][0-9]\ * ]]
	grep -q 'outcome=rejected' "$PROXY_LOG"
	[ "$(session_status)" = 0 ]
}

@test "upstream refuses the message at its end with 5xx and with 4xx" {
	upstream_case -f .
	[[ "$(end_reply)" == 5[0-9][0-9]\ * ]]
	stop_tracked
	rm -rf "$T/sink"
	upstream_case -r .
	[[ "$(end_reply)" == 4[0-9][0-9]\ * ]]
}

@test "upstream closes the connection at greeting, EHLO, MAIL, RCPT, DATA and end of data" {
	for cmd in CONNECT EHLO MAIL RCPT DATA .; do
		rm -rf "$T/sink"; : >"$PROXY_LOG"
		upstream_case -q "$cmd"
		echo "== $cmd"
		grep -q '^421 4.4.0 ' "$T/out"
		[ "$(session_status)" = 1 ]
		grep -q 'connection to upstream\|upstream.*after' "$PROXY_LOG"
		stop_tracked
	done
}

@test "upstream says 421 and closes at end of data: the client gets a 4xx, never 250" {
	upstream_case -Q .
	[[ "$(end_reply)" == 421\ * ]]
}

@test "upstream stalls past TimeOut at DATA and at end of data: 4xx, session ends" {
	for w in DATA:5 .:5; do
		rm -rf "$T/sink"; : >"$PROXY_LOG"
		upstream_case -W "$w"
		[[ "$(end_reply)" == 4[0-9][0-9]\ * ]]
		grep -q 'timed out\|timeout' "$PROXY_LOG"
		stop_tracked
	done
}

# --- the client ------------------------------------------------------------------

client_setup() { # [TIMEOUT]
	start_sink
	write_conf "FilterCommand: cat" "TimeOut: ${1:-2}"
	start_proxy
}

@test "client vanishes mid-command: session ends, logged, nothing sent" {
	client_setup
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.t' | smtp_raw >/dev/null
	[ "$(session_status)" = 1 ]
	grep -q 'lost connection' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
}

@test "client vanishes mid-DATA: nothing reaches the upstream, no temp file" {
	client_setup
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: cut\r\n\r\nhalf a mess' | smtp_raw
	[ "$(session_status)" = 1 ]
	grep -q 'lost connection.* after DATA' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "client idles past TimeOut: 421 timeout, session ends" {
	client_setup
	out=$( { printf 'EHLO c.test\r\n'; sleep 4; } | smtp_raw | tr -d '\r')
	echo "$out"
	grep -q '^421 4.4.2 .*timeout' <<<"$out"
	[ "$(session_status)" = 1 ]
}

@test "client idles past TimeOut in the middle of DATA: 421, nothing forwarded, no temp file" {
	client_setup
	out=$( { printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n'; sleep 4; } | smtp_raw | tr -d '\r')
	echo "$out"
	grep -q '^421 4.4.2 ' <<<"$out"
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "a client on a blocking pipe (not a socket) that idles mid-DATA still gets 421 at TimeOut" {
	start_sink
	write_conf "TimeOut: 2"
	# stdin a pipe, which the proxy leaves blocking: a read before the
	# wait would block until the writer gives up, past TimeOut.
	out=$( { printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n'; sleep 7; } |
		TCPREMOTEIP=127.0.0.1 timeout 20 "$PROXSMTPD" -d 4 -f "$CONF" 2>>"$PROXY_LOG" | tr -d '\r')
	echo "$out"
	grep -q '^421 4.4.2 .*timeout' <<<"$out"
	grep -q 'timeout' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "client floods pipelined commands it was not offered: each gets its reply, in order" {
	client_setup
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n'
		printf 'Subject: flood\r\n\r\nx\r\n.\r\nRSET\r\nNOOP\r\nMAIL FROM:<f@b.test>\r\nRCPT TO:<g@d.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	codes=$(grep -o '^[0-9][0-9][0-9] ' "$T/out" | tr -d ' ' | tr '\n' ' ')
	[ "$codes" = "220 250 250 250 250 354 250 250 250 250 250 354 250 221 " ]
	[ "$(sink_count)" -eq 2 ]
}

@test "client sends 10,000 RCPTs: accepted up to MaxRecipients (1000 by default), 452 4.5.3 beyond, delivered" {
	client_setup
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n'
		for i in $(seq 10000); do printf 'RCPT TO:<recipient-%05d@example.test>\r\n' "$i"; done
		printf 'DATA\r\nSubject: many\r\n\r\nx\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	ok=$(grep -c '^250 2.1.5' "$T/out")
	full=$(grep -c '^452 4.5.3 Error: too many recipients' "$T/out")
	echo "accepted $ok, refused $full"
	[ "$ok" -eq 1000 ]
	[ "$full" -eq 9000 ]
	# Not counted as errors (MaxErrors 20 would have ended the session).
	[[ "$(end_reply)" == 250* ]]
	[ "$(grep -c '^X-Rcpt-Args:' "$(sink_file)")" -eq 1000 ]
	[ "$(grep -c 'reached MaxRecipients (1000)' "$PROXY_LOG")" -eq 1 ]
}

@test "client sends 10,000 long RCPTs under MaxRecipients 100000: the 100 KiB RECIPIENTS list bounds it" {
	start_sink
	write_conf "FilterCommand: cat" "TimeOut: 2" "MaxRecipients: 100000"
	start_proxy
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n'
		for i in $(seq 10000); do printf 'RCPT TO:<recipient-%05d@example.test>\r\n' "$i"; done
		printf 'DATA\r\nSubject: many\r\n\r\nx\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	ok=$(grep -c '^250 2.1.5' "$T/out")
	full=$(grep -c '^452 4.5.3' "$T/out")
	echo "accepted $ok, refused $full"
	grep -v "^250 2.1.5\|^452 4.5.3" "$T/out"
	[ $((ok + full)) -eq 10000 ]
	[ "$full" -gt 0 ]
	[ "$ok" -gt 1000 ]
	[[ "$(end_reply)" == 250* ]]
	[ "$(grep -c '^X-Rcpt-Args:' "$(sink_file)")" -eq "$ok" ]
	# Logged once, not once per refused RCPT.
	[ "$(grep -c "recipient list of 127.0.0.1 full at $ok recipients" "$PROXY_LOG")" -eq 1 ]
}

@test "a 5000-byte line in DATA and 8-bit bytes arrive intact" {
	client_setup
	long=$(head -c 5000 /dev/zero | tr '\0' 'z')
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n'
		printf 'Subject: long\r\n\r\n%s\r\nGr\xc3\xbc\xc3\x9fe \xff\xfe\r\n.\r\nQUIT\r\n' "$long"
	} | smtp_raw | tr -d '\r' >"$T/out"
	[[ "$(end_reply)" == 250* ]]
	grep -q "^$long\$" "$(sink_file)"
	grep -q $'^Gr\xc3\xbc\xc3\x9fe \xff\xfe$' "$(sink_file)"
}

@test "command lines over 1000 bytes: up to 2048 relayed, longer ones refused whole and logged" {
	client_setup
	pad=$(head -c 1400 /dev/zero | tr '\0' 'p')
	long=$(head -c 5000 /dev/zero | tr '\0' 'x')
	{
		printf 'EHLO c.test\r\n'
		# 1.4 kB: over RFC 5321's 512, under Postfix's 2048: relayed.
		printf 'NOOP %s\r\n' "$pad"
		# 5 kB, with what looks like commands in its tail: refused as
		# one line, nothing of it relayed or run.
		printf 'MAIL FROM:<evil@b.test> %s RCPT TO:<evil@d.test>\r\n' "$long"
		printf 'MAIL FROM:<ok@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n'
		printf 'Subject: after\r\n\r\nbody\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	# One reply per command, in order (EHLO's 250- lines left out).
	[ "$(grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }')" = \
	    "220 250 250 500 250 250 354 250 221 " ]
	grep -qx '500 5.5.2 Error: line too long' "$T/out"
	[ "$(sink_count)" -eq 1 ]
	grep -q '^X-Mail-Args: <ok@b.test>$' "$(sink_file)"
	! grep -q evil "$(sink_file)" || false
	[ "$(grep -c 'refused a command line over MaxLineLength from 127.0.0.1: 500 5.5.2' "$PROXY_LOG")" -eq 1 ]
	no_temp_files
}

@test "refused lines are logged with the reply, but only the first ten of a session" {
	client_setup
	{
		printf 'EHLO c.test\r\n'
		for i in $(seq 15); do printf 'NOOP \001%d\r\n' "$i"; done
		printf 'NOOP\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	[ "$(grep -c '^500 5.5.2 Error: invalid character in command' "$T/out")" -eq 15 ]
	grep -q '^221 ' "$T/out"
	[ "$(grep -c 'refused a command with a control character from 127.0.0.1: 500 5.5.2 Error: invalid character in command' "$PROXY_LOG")" -eq 10 ]
	grep -q 'further refusals of this session are not logged' "$PROXY_LOG"
}

@test "NUL and control bytes in a command are refused, the session goes on" {
	client_setup
	out=$(printf 'EHLO c.test\r\nMAIL FROM:<a\0b@c.test>\r\nNOOP\x01x\r\nNOOP\r\nQUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	[ "$(grep -c '^500 5.5.2' <<<"$out")" -eq 2 ]
	grep -q '^221 ' <<<"$out"
}

@test "NUL in DATA is carried through, not a line end" {
	client_setup
	printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: nul\r\n\r\nbefore\0after\r\n.\r\nQUIT\r\n' |
		smtp_raw | tr -d '\r' >"$T/out"
	[[ "$(end_reply)" == 250* ]]
	[ "$(sink_count)" -eq 1 ]
	# The line as bytes (smtp-sink's dump has LF line ends): the NUL in
	# its place, neither dropped nor taken for a line end. A bash string
	# cannot hold a NUL, so the bytes are compared as files.
	grep -a '^before' "$(sink_file)" >"$T/line"
	od -c "$T/line"
	cmp "$T/line" <(printf 'before\0after\n')
	# No other line has one.
	[ "$(grep -caP '\x00' "$(sink_file)")" -eq 1 ]
}

# The commands smtp-sink -v received, in order.
sink_commands() {
	sed -n 's/^smtp-sink: //p' "$T/sink.log" |
		grep -E '^(HELO|EHLO|MAIL|RCPT|DATA|RSET|NOOP|QUIT|\.)( |$)'
}

@test "bare LF ending commands: a whole transaction is understood, each command relayed once" {
	# The proxy takes a bare LF for the end of a command line, as
	# Postfix does; the body's bare LFs become CRLF (BareNewline
	# normalize); only CRLF.CRLF ends the data.
	start_sink -v
	write_conf "FilterCommand: cat" "TimeOut: 10"
	start_proxy
	printf 'EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\nSubject: lf\n\nline one\nline two\r\n.\r\nQUIT\n' |
		smtp_raw >"$T/raw"
	cat -A "$T/raw"
	tr -d '\r' <"$T/raw" >"$T/out"
	# One reply per command, in order (EHLO's 250- lines left out).
	[ "$(grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }')" = \
	    "220 250 250 250 354 250 221 " ]
	[[ "$(end_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(session_status)" = 0 ]
	# One message, its envelope and lines as sent.
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'X-Mail-Args: <a@b.test>' "$(sink_file)"
	grep -qx 'X-Rcpt-Args: <c@d.test>' "$(sink_file)"
	[ "$(sink_message | sed '$d')" = "$(printf 'Subject: lf\n\nline one\nline two')" ]
	# The upstream got each command once, as the client meant it.
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	[ "$(tr '\n' '|' <"$T/cmds")" = "EHLO c.test|MAIL FROM:<a@b.test>|RCPT TO:<c@d.test>|DATA|.|QUIT|" ]
	no_temp_files
}

@test "bare CR ending commands: the line up to the LF is refused whole, nothing of it relayed" {
	# A whole transaction with CR line ends is one line with control
	# characters in it: 500, and none of its commands, nor its message,
	# may reach the upstream (a proxy that split at CR would deliver it).
	start_sink -v
	write_conf "FilterCommand: cat" "TimeOut: 10"
	start_proxy
	{
		printf 'EHLO c.test\rMAIL FROM:<a@b.test>\rRCPT TO:<c@d.test>\rDATA\r'
		printf 'Subject: cr\r\rbody\r.\r\r\n'
		# A CR just before the LF is a CRLF: the session goes on.
		printf 'NOOP\r\nMAIL FROM:<ok@b.test>\rRCPT TO:<x@d.test>\r\nDATA\r\nQUIT\r\n'
	} | smtp_raw >"$T/raw"
	cat -A "$T/raw"
	tr -d '\r' <"$T/raw" >"$T/out"
	[ "$(awk '{ printf "%s ", $1 }' "$T/out")" = "220 500 250 500 503 221 " ]
	[ "$(grep -c '^500 5.5.2 Error: invalid character in command$' "$T/out")" -eq 2 ]
	grep -qx '503 5.5.1 Error: need MAIL command' "$T/out"
	[ "$(session_status)" = 0 ]
	[ "$(sink_count)" -eq 0 ]
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	[ "$(tr '\n' '|' <"$T/cmds")" = "NOOP|QUIT|" ]
	no_temp_files
}

# --- the local system ------------------------------------------------------------

# DATA answered with 451 by the proxy itself, no 354, nothing forwarded,
# the session goes on.
spool_refused() {
	no_body_session
	[ "$(reply_codes)" = "220 250 250 250 451 221 " ]
	grep -qx '451 4.3.0 Error: cannot spool message, try again later' "$T/out"
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 0 ]
}

@test "TempDirectory missing: DATA gets 451, never 354 or 250" {
	start_sink
	write_conf "TempDirectory: $T/nonexistent" "TimeOut: 5" "FilterCommand: cat"
	start_proxy
	spool_refused
	grep -q "$T/nonexistent" "$PROXY_LOG"
}

@test "no filter: the message streams to the upstream, TempDirectory is never used (even missing)" {
	start_sink
	write_conf "TempDirectory: $T/nonexistent" "TimeOut: 5" "Header: X-Via: proxsmtpd"
	start_proxy
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n'
		printf 'Subject: streamed\r\n\r\n..dot\r\nbare\nlf\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	[ "$(sink_count)" -eq 1 ]
	# Header inserted, dot-stuffing undone and redone, bare LF made CRLF.
	sink_message >"$T/m"
	cat "$T/m"
	grep -qx 'X-Via: proxsmtpd' "$T/m"
	grep -qx '.dot' "$T/m"
	grep -qx 'bare' "$T/m"
	grep -q 'outcome=forwarded .*filter_ms=none' "$PROXY_LOG"
	grep -q 'size=' "$PROXY_LOG"
}

@test "no filter: an upstream that refuses DATA answers the client's DATA, no 354" {
	start_sink -f DATA
	write_conf
	start_proxy
	no_body_session
	# smtp-sink -f answers "500 5.3.0 Error: command failed".
	[ "$(reply_codes)" = "220 250 250 250 500 221 " ]
	grep -qx '500 5.3.0 Error: command failed' "$T/out"
	[ "$(sink_count)" -eq 0 ]
}

@test "TempDirectory world-writable without the sticky bit: refused with 451 and a loud log line" {
	start_sink
	mkdir -m 777 "$T/open"; chmod 777 "$T/open"
	write_conf "TempDirectory: $T/open" "TimeOut: 5" "FilterCommand: cat"
	start_proxy
	spool_refused
	grep -q "TempDirectory $T/open is world-writable without the sticky bit" "$PROXY_LOG"
	[ -z "$(ls -A "$T/open")" ]
}

@test "TempDirectory not writable for the user the proxy runs as: 451" {
	start_sink
	mkdir -m 700 "$T/closed"
	write_conf "TempDirectory: $T/closed" "User: nobody" "TimeOut: 5" "FilterCommand: cat"
	start_proxy
	spool_refused
	[ -z "$(ls -A "$T/closed")" ]
}

@test "TempDirectory full (a 64 KiB tmpfs): 452 4.3.1, nothing forwarded, nothing left" {
	start_sink
	mkdir -p "$T/small"
	write_conf "TempDirectory: $T/small" "FilterCommand: cat"
	PORT=$(free_port)
	# The launcher runs in a private mount namespace that has the tiny tmpfs.
	unshare -m --propagation private sh -c '
		mount -t tmpfs -o size=64k,mode=0700 tmpfs "$1" || exit 1
		exec systemd-socket-activate -l "127.0.0.1:$2" --inetd -a "$3" -d 4 -f "$4"
	' sh "$T/small" "$PORT" "$PROXSMTPD" "$CONF" 2>>"$PROXY_LOG" &
	LAUNCHER=$!; track $LAUNCHER
	wait_port "$PORT"
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: big\r\n\r\n'
		head -c 400000 /dev/zero | tr '\0' 'q' | fold -w 76 | sed 's/$/\r/'
		printf '\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: small\r\n\r\nfits\r\n.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/out"
	cat "$T/out"
	grep -q '^452 4.3.1' "$T/out"
	# The space was given back: the next, small message goes through.
	[ "$(grep -c '^250 2.0.0' "$T/out")" -eq 1 ]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^fits$' "$(sink_file)"
	[ -z "$(ls -A "$T/small")" ]
}

@test "SIGTERM and SIGHUP mid-DATA: 421 to the client, temp file removed, exit 1" {
	for sig in TERM HUP; do
		rm -rf "$T/sink" "$T/out"; : >"$PROXY_LOG"
		client_setup 30
		{ printf 'EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\npart\r\n'; sleep 10; } |
			smtp_raw >"$T/out" &
		client=$!
		# The spool file is unnamed (O_TMPFILE): wait for the 354.
		for _ in $(seq 100); do grep -q '^354 ' "$T/out" 2>/dev/null && break; sleep 0.05; done
		sleep 0.2
		pid=$(pgrep -P "$LAUNCHER")
		[ -n "$pid" ]
		kill -"$sig" "$pid"
		wait "$client" || true
		cat "$T/out"
		grep -q $'^421 4.3.2 .*\r$' "$T/out"
		[ "$(session_status)" = 1 ]
		grep -q 'terminated by signal' "$PROXY_LOG"
		no_temp_files
		[ "$(sink_count)" -eq 0 ]
		stop_tracked
	done
}
