#!/usr/bin/env bats
# The filter contract: pipe and file filters, FilterType reject, verdicts
# from the last stderr line, silent drops, broken filters (cannot start,
# signals, shell exit codes, timeouts, empty output) as temporary failures,
# no deadlock whatever the sizes, canonical output on the wire, RSET after
# a message that was not forwarded, one log line per message.

load helpers

local_setup() {
	# -v: smtp-sink writes every command it gets to $T/sink.log, so a test
	# can see the RSET after a rejection and prove that no body line ever
	# reached it as a command. (Message contents are not logged there.)
	start_sink -v
}

# --- local helpers ---------------------------------------------------------

# The SMTP commands the upstream received, in order, one a line.
sink_commands() {
	sed -n 's/^smtp-sink: //p' "$T/sink.log" |
		grep -E '^(HELO|EHLO|MAIL|RCPT|DATA|RSET|NOOP|QUIT|VRFY|XFORWARD|\.)( |$)'
}

# One transaction for a raw session: FROM TO LINES... (message lines, CRLF
# added here; dot-stuffing is the caller's business).
raw_msg() {
	printf 'MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' "$1" "$2"
	shift 2
	printf '%s\r\n' "$@"
	printf '.\r\n'
}

# The replies to each end of data in a raw transcript (the line after 354).
data_replies() { # FILE
	tr -d '\r' <"$1" | awk 'want { print; want = 0 } /^354 / { want = 1 }'
}

# A raw session that may take long (big messages): like smtp_raw, but
# waits up to 120 s for the proxy after the last byte is sent.
smtp_raw_slow() {
	socat -t 120 -T 120 - "TCP:127.0.0.1:${SEND_PORT:-$PORT}"
}

# The upstream got no message at all.
nothing_forwarded() {
	[ "$(sink_count)" -eq 0 ]
	! grep -qx 'DATA' <(sink_commands) || false
}

# A filter that decides by a keyword in the message.
keyword_filter() {
	write_filter judge.sh \
		'body=$(cat)' \
		'case $body in' \
		'*REJECTME*) echo "550 5.7.1 Rejected by test" >&2; exit 1 ;;' \
		'*DROPME*) echo "250 2.0.0 Dropped by test" >&2; exit 1 ;;' \
		'*CRASHME*) kill -9 $$ ;;' \
		'*TRYLATER*) echo "451 4.7.1 Try later" >&2; exit 1 ;;' \
		'esac' \
		'printf "%s\n" "$body"'
}

# --- forwarding ------------------------------------------------------------

@test "pipe filter: the body altered by the filter is what reaches the upstream" {
	write_conf "FilterCommand: sed 's/hello/HELLO-FILTERED/'"
	start_proxy
	run swaks_send --header 'Subject: pipe' --body 'hello world'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^HELLO-FILTERED world$' "$(sink_file)"
	! grep -q '^hello world$' "$(sink_file)" || false
	grep -q '^Subject: pipe$' "$(sink_file)"
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=forwarded reply="250 2.0.0 Ok' "$PROXY_LOG"
	no_temp_files
}

@test "file filter: \$EMAIL replaced by the filter (sed -i) is what is forwarded" {
	write_conf 'FilterType: file' \
		"FilterCommand: sed -i 's/hello/HELLO-FILE/' \"\$EMAIL\""
	start_proxy
	run swaks_send --header 'Subject: file' --body 'hello world'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^HELLO-FILE world$' "$(sink_file)"
	! grep -q '^hello world$' "$(sink_file)" || false
	wait_sessions
	no_temp_files
}

@test "file filter: \$EMAIL rewritten in place (same file) is what is forwarded" {
	write_conf 'FilterType: file' \
		"FilterCommand: sed 's/hello/HELLO-INPLACE/' \"\$EMAIL\" >$T/edited && cat $T/edited >\"\$EMAIL\""
	start_proxy
	run swaks_send --header 'Subject: inplace' --body 'hello world'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^HELLO-INPLACE world$' "$(sink_file)"
	! grep -q '^hello world$' "$(sink_file)" || false
	wait_sessions
	no_temp_files
}

@test "file filter: a non-zero exit rejects with the last stderr line" {
	write_conf 'FilterType: file' \
		'FilterCommand: echo "554 5.7.1 File filter says no" >&2; exit 3'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "554 5.7.1 File filter says no" ]
	nothing_forwarded
	wait_sessions
	no_temp_files
}

# --- FilterType: reject ----------------------------------------------------

@test "FilterType reject: default reply 530 Email Rejected, nothing forwarded, no filter run" {
	write_conf 'FilterType: reject' "FilterCommand: touch $T/filter-ran; cat"
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "530 Email Rejected" ]
	nothing_forwarded
	[ ! -e "$T/filter-ran" ]
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=rejected reply="530 Email Rejected"' "$PROXY_LOG"
	# The upstream was told the transaction is over.
	sink_commands | grep -qx RSET
	no_temp_files
}

@test "FilterType reject: a custom FilterReject is the reply" {
	write_conf 'FilterType: reject' 'FilterReject: 554 5.7.1 No mail accepted here' \
		"FilterCommand: touch $T/filter-ran; cat"
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "554 5.7.1 No mail accepted here" ]
	nothing_forwarded
	[ ! -e "$T/filter-ran" ]
	wait_sessions
	grep -q 'outcome=rejected reply="554 5.7.1 No mail accepted here"' "$PROXY_LOG"
}

@test "FilterType reject without any FilterCommand still rejects" {
	write_conf 'FilterType: reject'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "530 Email Rejected" ]
	nothing_forwarded
}

# --- verdicts from stderr ----------------------------------------------------

@test "reject: a full reply code on stderr is used as is (550 5.7.1 Bad Email)" {
	write_conf 'FilterCommand: cat >/dev/null; echo "550 5.7.1 Bad Email" >&2; exit 1'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "550 5.7.1 Bad Email" ]
	nothing_forwarded
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=rejected reply="550 5.7.1 Bad Email"' "$PROXY_LOG"
	no_temp_files
}

@test "reject: plain text on stderr gets 550 in front" {
	write_conf 'FilterCommand: cat >/dev/null; echo "Bad Email, go away" >&2; exit 1'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "550 Bad Email, go away" ]
	nothing_forwarded
}

@test "reject: a 4xx line on stderr is a temporary rejection (451 4.7.1 Try later)" {
	write_conf 'FilterCommand: cat >/dev/null; echo "451 4.7.1 Try later" >&2; exit 1'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "451 4.7.1 Try later" ]
	nothing_forwarded
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'reply="451 4.7.1 Try later"' "$PROXY_LOG"
	sink_commands | grep -qx RSET
}

@test "reject: only the last stderr line counts" {
	f=$(write_filter f.sh 'cat >/dev/null' \
		'echo "550 5.7.1 first line, not this one" >&2' \
		'echo "some diagnostic noise" >&2' \
		'echo "451 4.3.0 not this one either" >&2' \
		'echo "554 5.7.1 The last word" >&2' \
		'exit 1')
	write_conf "FilterCommand: $f"
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "554 5.7.1 The last word" ]
	nothing_forwarded
}

@test "reject: a last stderr line without its newline still counts" {
	write_conf 'FilterCommand: cat >/dev/null; echo "550 5.7.1 earlier" >&2; printf "553 5.7.1 No newline here" >&2; exit 1'
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "553 5.7.1 No newline here" ]
	nothing_forwarded
}

@test "exit 0 forwards the output even when the filter wrote a reply-like line to stderr" {
	write_conf 'FilterCommand: echo "550 5.7.1 only a warning" >&2; cat'
	start_proxy
	run swaks_send --body 'kept'
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^kept$' "$(sink_file)"
	wait_sessions
	grep -q 'outcome=forwarded' "$PROXY_LOG"
}

@test "reject: empty stderr and a non-zero exit give the default 550" {
	write_conf 'FilterCommand: cat >/dev/null; exit 1'
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" == "550 "* ]]
	nothing_forwarded
	wait_sessions
	grep -q 'outcome=rejected reply="550 ' "$PROXY_LOG"
}

@test "silent drop: a 250 line tells the client 250, forwards nothing, RSETs, and the session goes on" {
	f=$(keyword_filter)
	write_conf "FilterCommand: $f"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: first' '' 'DROPME please'
		raw_msg a@s.test b@r.test 'Subject: second' '' 'keep me'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	data_replies "$T/out" >"$T/replies"
	cat "$T/replies"
	[ "$(sed -n 1p "$T/replies")" = "250 2.0.0 Dropped by test" ]
	[[ "$(sed -n 2p "$T/replies")" == "250 2.0.0 Ok"* ]]
	grep -q '^221 ' "$T/out"
	# Only the second message arrived.
	[ "$(sink_count)" -eq 1 ]
	grep -q '^Subject: second$' "$(sink_file)"
	! grep -rq 'DROPME' "$SINK_DIR" || false
	# The upstream saw MAIL, RCPT, RSET (the drop), then the second message.
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	[ "$(grep -v '^EHLO' "$T/cmds" | tr '\n' '|' | sed 's/<[^>]*>//g')" = \
		"MAIL FROM:|RCPT TO:|RSET|MAIL FROM:|RCPT TO:|DATA|.|QUIT|" ]
	wait_sessions
	[ "$(message_lines)" -eq 2 ]
	[ "$(grep -c 'outcome=dropped reply="250 2.0.0 Dropped by test"' "$PROXY_LOG")" -eq 1 ]
	[ "$(grep -c 'outcome=forwarded' "$PROXY_LOG")" -eq 1 ]
	no_temp_files
}

# --- broken filters: temporary failures, never 5xx ---------------------------

@test "a filter that cannot start (FilterCommand: /nonexistent) is a 451, never a 5xx" {
	write_conf 'FilterCommand: /nonexistent'
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\.[0-9]+\.[0-9]+\  ]]
	nothing_forwarded
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	sink_commands | grep -qx RSET
	no_temp_files
}

@test "a filter that is not executable (shell exit 126) is a 451" {
	f=$(write_filter noexec.sh 'cat')
	chmod 644 "$f"
	write_conf "FilterCommand: $f"
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	wait_sessions
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	# The log says why (a bare "126" could be a port or a pid).
	grep -q 'filter could not be run (exit 126)' "$PROXY_LOG"
}

@test "a filter killed by a signal (kill -9 \$\$) is a 451" {
	write_conf 'FilterCommand: cat >/dev/null; echo "550 5.7.1 not a verdict" >&2; kill -9 $$'
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	wait_sessions
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	no_temp_files
}

@test "a filter whose shell exits 128+N (a process killed by SIGKILL inside) is a 451" {
	# The inner shell is killed; the outer one reports 137 and prints what
	# a shell prints then. That is a crash, not a verdict on the mail.
	f=$(write_filter killed.sh 'cat >/dev/null' \
		"sh -c 'kill -KILL \$\$'" \
		'rc=$?' \
		'echo "Killed" >&2' \
		'exit $rc')
	write_conf "FilterCommand: $f"
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	wait_sessions
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	grep -q 'a filter process was killed by signal 9 (exit 137)' "$PROXY_LOG"
}

@test "FilterTimeout: a slow filter is a 451 and its whole process group is killed" {
	f=$(write_filter slow.sh \
		"sleep 300 & echo \$! >$T/grandchild.pid" \
		"echo \$\$ >$T/shell.pid" \
		'exec sleep 300')
	write_conf "FilterCommand: $f" 'FilterTimeout: 1'
	start_proxy
	run swaks_send
	# Recorded first, so that the harness stops them whatever happens.
	gc=$(cat "$T/grandchild.pid")
	sh=$(cat "$T/shell.pid")
	track "$gc"
	track "$sh"
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	proc_gone "$sh"
	proc_gone "$gc"
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	grep -q 'timed out' "$PROXY_LOG"
	no_temp_files
}

@test "a filter that exits 0 with empty output is a 451 and nothing is forwarded" {
	write_conf 'FilterCommand: cat >/dev/null; exit 0'
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	wait_sessions
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	no_temp_files
}

@test "a file filter that empties \$EMAIL and exits 0 is a 451" {
	write_conf 'FilterType: file' 'FilterCommand: : >"$EMAIL"'
	start_proxy
	run swaks_send
	reply=$(data_reply)
	echo "reply: $reply"
	[[ "$reply" =~ ^451\ 4\. ]]
	nothing_forwarded
	wait_sessions
	no_temp_files
}

# --- output handling ---------------------------------------------------------

@test "filter output without a trailing newline is completed into a proper last line" {
	write_conf 'FilterCommand: cat >/dev/null; printf "Subject: replaced\n\nfirst line\nlast line without newline"'
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	sink_message >"$T/got"
	cat -A "$T/got"
	# The dump ends with an empty line of smtp-sink's own.
	[ "$(sed '$d' "$T/got")" = "$(printf 'Subject: replaced\n\nfirst line\nlast line without newline')" ]
	[ "$(tail -n 1 "$T/got")" = "" ]
}

@test "a filter that never reads its input of 5 MB but writes 5 MB does not deadlock" {
	awk 'BEGIN { printf "Subject: big input\r\n\r\n";
	             for (i = 1; i <= 70000; i++) printf "input line %06d ....................................................\r\n", i }' \
		>"$T/body"
	# Output made without reading stdin: both pipes fill up at once.
	f=$(write_filter noread.sh \
		'printf "Subject: generated\n\n"' \
		'awk '\''BEGIN { for (i = 1; i <= 70000; i++) printf "generated line %06d ----------------------------------------------------\n", i }'\''')
	write_conf "FilterCommand: $f" 'FilterTimeout: 60'
	start_proxy
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<b@r.test>\r\nDATA\r\n'
		cat "$T/body"
		printf '.\r\nQUIT\r\n'
	} | smtp_raw_slow >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^Subject: generated$' "$(sink_file)"
	[ "$(grep -c '^generated line ' "$(sink_file)")" -eq 70000 ]
	! grep -q '^input line' "$(sink_file)" || false
	wait_sessions
	no_temp_files
}

@test "a 20 MB message through cat while the filter floods stderr arrives intact" {
	awk 'BEGIN { printf "Subject: twenty\r\n\r\n";
	             for (i = 1; i <= 300000; i++) printf "body line %07d abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNO\r\n", i }' \
		>"$T/body"
	[ "$(stat -c %s "$T/body")" -gt 20000000 ]
	tr -d '\r' <"$T/body" >"$T/body.lf"
	# stderr written in a loop, by a process that also holds stdout, while
	# cat copies the message: a proxy that reads stderr only after stdout
	# is done would wait for ever.
	f=$(write_filter flood.sh \
		'i=0' \
		'while [ $i -lt 4000 ]; do' \
		'  echo "stderr noise $i ........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................." >&2' \
		'  i=$((i + 1))' \
		'done &' \
		'cat' \
		'rc=$?' \
		'wait' \
		'exit $rc')
	write_conf "FilterCommand: $f" 'FilterTimeout: 120'
	start_proxy
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<b@r.test>\r\nDATA\r\n'
		cat "$T/body"
		printf '.\r\nQUIT\r\n'
	} | smtp_raw_slow >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	sink_message | sed '$d' | cmp - "$T/body.lf"
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "a filter that writes each chunk to stdout and stderr alike (tee) does not deadlock" {
	awk 'BEGIN { printf "Subject: tee\r\n\r\n";
	             for (i = 1; i <= 50000; i++) printf "tee line %06d ..................................................\r\n", i }' \
		>"$T/body"
	tr -d '\r' <"$T/body" >"$T/body.lf"
	write_conf 'FilterCommand: tee /dev/stderr' 'FilterTimeout: 60'
	start_proxy
	{
		printf 'EHLO c.test\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<b@r.test>\r\nDATA\r\n'
		cat "$T/body"
		printf '.\r\nQUIT\r\n'
	} | smtp_raw_slow >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 2.0.0 Ok"* ]]
	sink_message | sed '$d' | cmp - "$T/body.lf"
}

@test "filter output lines starting with a dot are dot-stuffed on the wire; a lone dot does not end the message" {
	write_conf 'FilterCommand: cat >/dev/null; printf "Subject: dots\n\n.leading dot\n..two dots\n.\nafter the lone dot\nQUIT\nlast line\n"'
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	sink_message >"$T/got"
	cat -A "$T/got"
	# smtp-sink removed one dot from each stuffed line: the proxy added it.
	[ "$(sed '$d' "$T/got")" = "$(printf 'Subject: dots\n\n.leading dot\n..two dots\n.\nafter the lone dot\nQUIT\nlast line')" ]
	# Nothing after the lone dot was taken for a command.
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	! grep -q '^after' "$T/cmds" || false
	[ "$(grep -c '^QUIT' "$T/cmds")" -eq 1 ]
	[ "$(grep -c '^\.$' "$T/cmds")" -eq 1 ]
}

# --- the session after a message that was not forwarded ------------------------

@test "after a rejection the upstream gets RSET and the next message in the session is forwarded" {
	f=$(keyword_filter)
	write_conf "FilterCommand: $f"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: first' '' 'REJECTME'
		raw_msg c@s.test d@r.test 'Subject: second' '' 'fine'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	data_replies "$T/out" >"$T/replies"
	[ "$(sed -n 1p "$T/replies")" = "550 5.7.1 Rejected by test" ]
	[[ "$(sed -n 2p "$T/replies")" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^Subject: second$' "$(sink_file)"
	grep -q '^X-Mail-Args: <c@s.test>$' "$(sink_file)"
	[ "$(grep -c '^X-Rcpt-Args:' "$(sink_file)")" -eq 1 ]
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	[ "$(grep -v '^EHLO' "$T/cmds" | tr '\n' '|')" = \
		"MAIL FROM:<a@s.test>|RCPT TO:<b@r.test>|RSET|MAIL FROM:<c@s.test>|RCPT TO:<d@r.test>|DATA|.|QUIT|" ]
	wait_sessions
	[ "$(message_lines)" -eq 2 ]
	no_temp_files
}

@test "after a temporary failure the upstream gets RSET and the next message in the session is forwarded" {
	f=$(keyword_filter)
	write_conf "FilterCommand: $f"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: first' '' 'CRASHME'
		raw_msg c@s.test d@r.test 'Subject: second' '' 'fine'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	data_replies "$T/out" >"$T/replies"
	[[ "$(sed -n 1p "$T/replies")" =~ ^451\ 4\. ]]
	[[ "$(sed -n 2p "$T/replies")" == "250 2.0.0 Ok"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^Subject: second$' "$(sink_file)"
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	[ "$(grep -v '^EHLO' "$T/cmds" | tr '\n' '|')" = \
		"MAIL FROM:<a@s.test>|RCPT TO:<b@r.test>|RSET|MAIL FROM:<c@s.test>|RCPT TO:<d@r.test>|DATA|.|QUIT|" ]
	wait_sessions
	[ "$(message_lines)" -eq 2 ]
	grep -q 'outcome=tempfail' "$PROXY_LOG"
	no_temp_files
}

@test "several recipients: RECIPIENTS has each one on its own line" {
	write_conf "FilterCommand: printf '%s' \"\$RECIPIENTS\" >$T/rcpts; cat"
	start_proxy
	run swaks_send --to 'one@r.test,two@r.test,three@other.test'
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(cat "$T/rcpts")" = "$(printf 'one@r.test\ntwo@r.test\nthree@other.test')" ]
	[ "$(grep -c '^X-Rcpt-Args:' "$(sink_file)")" -eq 3 ]
	wait_sessions
	grep -q 'to=<one@r.test>,<two@r.test>,<three@other.test> nrcpt=3 ' "$PROXY_LOG"
}

@test "exactly one log line per message, with outcome forwarded, rejected, dropped, tempfail" {
	f=$(keyword_filter)
	write_conf "FilterCommand: $f"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg m1@s.test r@r.test 'Subject: 1' '' 'fine'
		raw_msg m2@s.test r@r.test 'Subject: 2' '' 'REJECTME'
		raw_msg m3@s.test r@r.test 'Subject: 3' '' 'DROPME'
		raw_msg m4@s.test r@r.test 'Subject: 4' '' 'CRASHME'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(data_replies "$T/out" | cut -c1-3 | tr '\n' ' ')" = "250 550 250 451 " ]
	wait_sessions
	[ "$(message_lines)" -eq 4 ]
	grep ' outcome=' "$PROXY_LOG" >"$T/lines"
	cat "$T/lines"
	[ "$(sed -n 's/.* from=<\([^>]*\)> .* outcome=\([a-z]*\) .*/\1 \2/p' "$T/lines" | tr '\n' '|')" = \
		"m1@s.test forwarded|m2@s.test rejected|m3@s.test dropped|m4@s.test tempfail|" ]
	[ "$(sink_count)" -eq 1 ]
	no_temp_files
}

@test "after a filter timeout, body lines that look like commands never reach the upstream" {
	write_conf 'FilterCommand: sleep 30' 'FilterTimeout: 1'
	start_proxy
	# (The lone dot inside the message is stuffed, as a client must.)
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: smuggle' '' \
			'RSET' 'MAIL FROM:<evil@x.test>' 'RCPT TO:<victim@x.test>' 'DATA' \
			'Subject: smuggled' '' 'smuggled body' '..' 'QUIT'
		printf 'NOOP\r\nQUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	# After 354: the 451, the NOOP's 250, QUIT's 221, and nothing else.
	[ "$(tr -d '\r' <"$T/out" | sed -n '/^354 /,$p' | cut -c1-4 | tr '\n' '|')" = "354 |451 |250 |221 |" ]
	nothing_forwarded
	sink_commands >"$T/cmds"
	cat "$T/cmds"
	! grep -q 'evil\|victim' "$T/cmds" || false
	[ "$(grep -v '^EHLO' "$T/cmds" | tr '\n' '|')" = \
		"MAIL FROM:<a@s.test>|RCPT TO:<b@r.test>|RSET|NOOP|QUIT|" ]
	wait_sessions
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "after a rejection, body lines that look like commands never reach the upstream" {
	write_conf 'FilterCommand: cat >/dev/null; echo "550 5.7.1 no" >&2; exit 1'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: smuggle' '' \
			'RSET' 'MAIL FROM:<evil@x.test>' 'RCPT TO:<victim@x.test>' 'DATA' \
			'Subject: smuggled' '' '..' 'QUIT'
		printf 'NOOP\r\nQUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(tr -d '\r' <"$T/out" | sed -n '/^354 /,$p' | cut -c1-4 | tr '\n' '|')" = "354 |550 |250 |221 |" ]
	nothing_forwarded
	sink_commands >"$T/cmds"
	! grep -q 'evil\|victim' "$T/cmds" || false
	[ "$(grep -v '^EHLO' "$T/cmds" | tr '\n' '|')" = \
		"MAIL FROM:<a@s.test>|RCPT TO:<b@r.test>|RSET|NOOP|QUIT|" ]
}

# --- plain commands run without a shell ------------------------------------

@test "a command of plain words runs directly, without a shell in between" {
	# env's output is the message: run by /bin/sh it would show the PWD
	# the shell exports; run directly, the environment is exactly ours.
	write_conf "FilterCommand: env"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == 250* ]]
	f=$(sink_file)
	grep -q '^SENDER=alice@sender.test$' "$f"
	grep -q '^RECIPIENTS=bob@example.test$' "$f"
	! grep -q '^PWD=' "$f" || false
}

@test "the same command with shell syntax runs under /bin/sh -c" {
	write_conf "FilterCommand: env | cat"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == 250* ]]
	grep -q '^PWD=' "$(sink_file)"
}

@test "a script without #! still runs (by the shell), and a builtin still works" {
	printf 'cat\necho "550 5.7.1 no shebang here" >&2\nexit 1\n' >"$T/noshebang"
	chmod 755 "$T/noshebang"
	write_conf "FilterCommand: $T/noshebang"
	start_proxy
	run swaks_send
	[ "$(data_reply)" = "550 5.7.1 no shebang here" ]
	stop_tracked; start_sink -v
	write_conf "FilterCommand: exit 1"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == 550\ * ]]
	[ "$(sink_count)" -eq 0 ]
}
