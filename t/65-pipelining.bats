#!/usr/bin/env bats
# PIPELINING (RFC 2920) through the proxy, issue 12: advertised when the
# upstream offers it; a client's batch of MAIL and RCPT goes upstream in one
# write and the replies come back in order, one per command, with the
# proxy's own replies (MaxRecipients) in their place. The client side is
# byte-exact (socat); the upstreams are smtp-sink and a throw-away Postfix
# (t/lib/postfix-up): PF_PIPE offers PIPELINING and refuses
# refused@example.test, PF_NOPIPE is the same without PIPELINING. What
# went upstream in which write is read from strace(1) of the proxy.

load helpers

setup_file() { postfix_start "$BATS_FILE_TMPDIR/pf" PF_PIPE PF_NOPIPE; }
teardown_file() { postfix_stop; }

local_setup() { MARK="mark-$BATS_TEST_NUMBER-$RANDOM$RANDOM"; }
local_teardown() { [ -z "${LAUNCHER:-}" ] || wait_sessions || true; }

# The proxy under systemd-socket-activate on 127.0.0.1:PORT (default: a
# free one), run by strace: every read and write (up to 2000 bytes of
# each) goes to $T/strace.
start_traced() { # [PORT]
	PORT=${1:-$(free_port)}
	# LeakSanitizer cannot run under ptrace (it exits with a fatal error
	# at the end of the session): in the ASan run, leaks are checked by
	# every other test, not by these. (-E: the launcher passes on only
	# the variables it is told to.)
	systemd-socket-activate -l "127.0.0.1:$PORT" --inetd \
		-E ASAN_OPTIONS=detect_leaks=0 -a /usr/bin/strace \
		-f -qq -e trace=read,write -s 2000 -o "$T/strace" \
		"$PROXSMTPD" -d 4 -f "$CONF" 2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}
# Whether one write(2) of the proxy carried exactly these bytes (strace's
# escapes: \r\n as the four characters).
one_write() { grep -qF "write($2, \"$1\"" "$T/strace"; }
upstream_fd() { # the fd the proxy wrote its first MAIL to
	sed -n 's/^[0-9]* *write(\([0-9]*\), "MAIL FROM.*/\1/p' "$T/strace" | head -1
}

# The replies after the EHLO reply (from the greeting's line on, the EHLO
# reply's lines left out), CRs kept, queue ids made QUEUEID.
after_ehlo() { sed -e '2,/^250 /d' -e 's/queued as [0-9A-Za-z]*/queued as QUEUEID/' "$T/out"; }
expect() { # LINES...: after_ehlo must be these lines, each CRLF-ended
	local want
	want=$(printf '%s\r\n' "$@")
	diff -u <(printf '%s\n' "$want") <(after_ehlo)
}

BATCH='MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\nRCPT TO:<dave@example.test>\r\nDATA\r\n'
BODY='Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n'

@test "EHLO offers PIPELINING when the upstream does, and not when it does not" {
	start_sink
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw >"$T/out"
	cat -A "$T/out"
	grep -q $'^250-PIPELINING\r$' "$T/out"
	stop_tracked
	: >"$PIDFILE_LIST"
	start_sink -p
	write_conf
	start_proxy
	printf 'EHLO c.test\r\nQUIT\r\n' | smtp_raw >"$T/out"
	cat -A "$T/out"
	grep -q '^250 ' "$T/out"
	! grep -qi 'PIPELINING' "$T/out" || false
}

@test "a batch in one write to smtp-sink: replies byte for byte and in order, one write upstream" {
	start_sink
	write_conf "MaxRecipients: 2"
	start_traced
	printf "EHLO c.test\r\n$BATCH$BODY" | smtp_raw >"$T/out"
	cat -A "$T/out"
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"250 2.1.5 Ok" "452 4.5.3 Error: too many recipients" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok" "221 Bye"
	wait_sessions
	# MAIL and both RCPTs left in one write; dave, refused here, never.
	fd=$(upstream_fd)
	one_write 'MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\n' "$fd"
	! grep -q "write($fd, .*RCPT TO:<dave@" "$T/strace" || false
	# The client's replies too: those of the batch in one write.
	grep '^[0-9]* *write(1, ' "$T/strace" | grep -qF '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n354 '
	[ "$(grep -c '^X-Rcpt-Args: ' "$(sink_file)")" -eq 2 ]
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "a batch's DATA goes upstream in the batch's write when the message is streamed, not with a filter" {
	start_sink
	write_conf
	start_traced
	printf "EHLO c.test\r\n$BATCH$BODY" | smtp_raw >"$T/out"
	cat -A "$T/out"
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"250 2.1.5 Ok" "250 2.1.5 Ok" "354 End data with <CR><LF>.<CR><LF>" \
		"250 2.0.0 Ok" "221 Bye"
	wait_sessions
	fd=$(upstream_fd)
	# One write (to its closing quote): the group and DATA, no more.
	one_write "$BATCH" "$fd"
	[ "$(sink_count)" -eq 1 ]
	# With a filter, DATA waits for the filter's verdict: the group
	# leaves without it.
	stop_tracked
	: >"$PIDFILE_LIST"
	rm -rf "$T/sink"
	start_sink
	write_conf "FilterType: pipe" "FilterCommand: cat"
	start_traced
	printf "EHLO c.test\r\n$BATCH$BODY" | smtp_raw >"$T/out"
	cat -A "$T/out"
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"250 2.1.5 Ok" "250 2.1.5 Ok" "354 End data with <CR><LF>.<CR><LF>" \
		"250 2.0.0 Ok" "221 Bye"
	wait_sessions
	fd=$(upstream_fd)
	one_write "${BATCH%DATA\\r\\n}" "$fd"
	one_write 'DATA\r\n' "$fd"
	[ "$(sink_count)" -eq 1 ]
	no_temp_files
}

@test "a batch cut at every byte boundary gets the same replies" {
	start_sink
	write_conf "MaxRecipients: 2"
	start_proxy
	local batch ref k
	batch=$(printf "$BATCH"; echo x)	# $() would eat the last LF
	batch=${batch%x}
	printf "EHLO c.test\r\n$BATCH$BODY" | smtp_raw >"$T/out"
	ref=$(after_ehlo)
	[ "$(grep -c . <<<"$ref")" -eq 8 ]
	for ((k = 1; k < ${#batch}; k++)); do
		{ printf 'EHLO c.test\r\n%s' "${batch:0:k}"; sleep 0.05
		  printf '%s' "${batch:k}"; printf "$BODY"; } | smtp_raw >"$T/out"
		[ "$(after_ehlo)" = "$ref" ] || { echo "cut at $k:"; cat -A "$T/out"; false; }
	done
	wait_sessions
	[ "$(sink_count)" -eq $((${#batch})) ]
}

@test "an upstream 421 inside a batch: the client gets that one 421 with our name, then the end" {
	start_sink -Q RCPT
	write_conf
	start_proxy
	printf "EHLO c.test\r\n$BATCH$BODY" | smtp_raw >"$T/out"
	cat -A "$T/out"
	after_ehlo | grep -v '^421 ' | diff <(printf "220 $HOSTNAME_NOW ESMTP proxsmtpd\r\n250 2.1.0 Ok\r\n") -
	[ "$(after_ehlo | tail -1 | cut -c1-4)" = "421 " ]
	after_ehlo | tail -1 | grep -q "$HOSTNAME_NOW"
	[ "$(after_ehlo | wc -l)" -eq 3 ]
	wait_sessions
	[ "$(sink_count)" -eq 0 ]
	grep -q 'is closing the session: 421' "$PROXY_LOG"
}

@test "swaks --pipeline through the proxy" {
	start_sink
	write_conf
	start_traced
	run swaks_send --pipeline --to bob@example.test,carol@example.test
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	wait_sessions
	fd=$(upstream_fd)
	# swaks ends its group with DATA: the message is streamed, so DATA
	# goes in the group's write too.
	one_write 'MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n' "$fd"
	[ "$(sink_count)" -eq 1 ]
}

# --- Postfix ----------------------------------------------------------------

pf_batch() { # PORT: the batch from 127.0.0.5 (refused@ refused upstream)
	printf "EHLO c.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob+$MARK@example.test>\r\nRCPT TO:<refused@example.test>\r\nRCPT TO:<carol+$MARK@example.test>\r\nRCPT TO:<dave+$MARK@example.test>\r\nDATA\r\nSubject: $MARK\r\n\r\nbody\r\n.\r\nQUIT\r\n" |
		socat -t 120 -T 60 - "TCP:127.0.0.1:$1,bind=127.0.0.5" >"$T/out"
	cat -A "$T/out"
}
delivered() { grep -lF -- "$1" "$PF_DIR"/mail/inbox/new/* 2>/dev/null; }
wait_delivered() { # TEXT N
	local i=0
	until [ "$(delivered "$1" | wc -l)" -ge "$2" ]; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { echo "not delivered: $1" >&2; return 1; }
		sleep 0.1
	done
}
improper() { grep "improper command pipelining.*\[$1\]" "$PF_DIR/maillog"; }

@test "Postfix: a batch with a recipient refused upstream and one refused here, replies in order" {
	write_conf "OutAddress: 127.0.0.1:$PF_PIPE" "MaxRecipients: 2"
	start_traced
	pf_batch "$PORT"
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"550 5.1.1 <refused@example.test>: Recipient address rejected: no such user here" \
		"250 2.1.5 Ok" "452 4.5.3 Error: too many recipients" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok: queued as QUEUEID" \
		"221 2.0.0 Bye"
	wait_sessions
	fd=$(upstream_fd)
	# MAIL and the RCPTs up to MaxRecipients left in one write; carol, who
	# could have been one too many, waited for those replies (refused@
	# was refused, so she was not), and dave, refused here, never went.
	one_write "MAIL FROM:<alice@sender.test>\\r\\nRCPT TO:<bob+$MARK@example.test>\\r\\nRCPT TO:<refused@example.test>\\r\\n" "$fd"
	one_write "RCPT TO:<carol+$MARK@example.test>\\r\\n" "$fd"
	! grep -q "write($fd, .*RCPT TO:<dave+$MARK" "$T/strace" || false
	# Both accepted recipients get the message (one mailbox: two files).
	wait_delivered "$MARK" 2
	# Postfix offered PIPELINING, so a batch is proper.
	! improper 127.0.0.1 || false
}

@test "Postfix: a group whose DATA went ahead with every recipient refused; the next message is delivered" {
	write_conf "OutAddress: 127.0.0.1:$PF_PIPE"
	start_traced
	{ printf 'EHLO c.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<refused@example.test>\r\nDATA\r\n'
	  sleep 1	# a proper client waits for DATA's reply
	  printf "RSET\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob+$MARK@example.test>\r\nDATA\r\n"
	  sleep 1
	  printf "Subject: $MARK\r\n\r\nbody\r\n.\r\nQUIT\r\n"; } |
		socat -t 120 -T 60 - "TCP:127.0.0.1:$PORT,bind=127.0.0.5" >"$T/out"
	cat -A "$T/out"
	# Postfix's own refusal of that DATA (554) is not relayed: one reply
	# to each command, ours for DATA, and the session stays in step.
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" \
		"550 5.1.1 <refused@example.test>: Recipient address rejected: no such user here" \
		"503 5.5.1 Error: need RCPT command" "250 2.0.0 Ok" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok: queued as QUEUEID" \
		"221 2.0.0 Bye"
	wait_sessions
	fd=$(upstream_fd)
	one_write 'MAIL FROM:<alice@sender.test>\r\nRCPT TO:<refused@example.test>\r\nDATA\r\n' "$fd"
	one_write "MAIL FROM:<alice@sender.test>\\r\\nRCPT TO:<bob+$MARK@example.test>\\r\\nDATA\\r\\n" "$fd"
	# Postfix did refuse that DATA, with the 554 the client never saw.
	grep "read($fd, " "$T/strace" | grep -qF '554 5.5.1 '
	! grep -q '554 5.5.1' "$T/out" || false
	wait_delivered "$MARK" 1
	! improper 127.0.0.1 || false
}

@test "Postfix without PIPELINING: the proxy does not offer it and does not pipeline" {
	# The check can fail: the same batch straight to Postfix is improper.
	pf_batch "$PF_NOPIPE"
	improper 127.0.0.5
	write_conf "OutAddress: 127.0.0.1:$PF_NOPIPE" "MaxRecipients: 2"
	start_proxy
	pf_batch "$PORT"
	! grep -qi PIPELINING "$T/out" || false
	expect "220 $HOSTNAME_NOW ESMTP proxsmtpd" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"550 5.1.1 <refused@example.test>: Recipient address rejected: no such user here" \
		"250 2.1.5 Ok" "452 4.5.3 Error: too many recipients" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok: queued as QUEUEID" \
		"221 2.0.0 Bye"
	wait_sessions
	! improper 127.0.0.1 || false
}

@test "Postfix after-queue: its smtp client pipelines through the proxy and delivers" {
	write_conf "OutAddress: 127.0.0.1:$PF_AQ_BACK"
	start_traced "$PF_AQ_FILTER"
	swaks --server 127.0.0.1 --port "$PF_AQ_FRONT" --local-interface 127.0.0.5 \
		--from alice@sender.test --to "bob+$MARK@example.test,carol+$MARK@example.test" \
		--header "Subject: $MARK" --timeout 30 >"$T/swaks.out" 2>&1
	wait_delivered "$MARK" 2
	wait_sessions
	# Postfix's smtp client sent MAIL and RCPTs in one write; the proxy
	# passed them on in one write too.
	grep -qF "RCPT TO:<bob+$MARK@example.test>" "$T/strace"
	fd=$(upstream_fd)
	grep "write($fd, \"MAIL FROM:<alice@sender.test>" "$T/strace" |
		grep -F "RCPT TO:<bob+$MARK@example.test>" |
		grep -qF "RCPT TO:<carol+$MARK@example.test>"
	! improper 127.0.0.1 || false
}
