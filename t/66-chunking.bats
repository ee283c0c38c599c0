#!/usr/bin/env bats
# CHUNKING and BINARYMIME (RFC 3030) through the proxy, issue 12. The proxy
# offers CHUNKING to every EHLO client and answers BDAT itself, as it
# answers DATA: the chunks are read by their counts and spooled, the
# message is filtered and goes on by BDAT where the upstream offers
# CHUNKING (Postfix, PF_PIPE), else by DATA (Postfix without it,
# PF_NOCHUNK; smtp-sink; aiosmtpd, whose store shows every byte).
# BINARYMIME only where the message goes on byte for byte. The client is
# byte-exact: bash strings sent by socat, each chunk's count taken from
# its bytes (LC_ALL=C: ${#s} counts bytes).

load helpers

export LC_ALL=C

setup_file() { postfix_start "$BATS_FILE_TMPDIR/pf" PF_PIPE PF_NOCHUNK; }
teardown_file() { postfix_stop; }

local_setup() { MARK="mark-$BATS_TEST_NUMBER-$RANDOM$RANDOM"; }
local_teardown() { [ -z "${LAUNCHER:-}" ] || wait_sessions || true; }

# chunk BYTES [LAST]: adds "BDAT n[ LAST]" for BYTES, then BYTES, to $S
# (not printed: a command substitution would drop trailing newlines).
chunk() { local c; printf -v c 'BDAT %d%s\r\n' "${#1}" "${2:+ LAST}"; S+=$c$1; }
ENVELOPE=$'EHLO c.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n'
# Reply codes in order, the EHLO reply's continuation lines left out.
replies() { grep -v '^250-' "$T/out" | awk '{ printf "%s ", $1 }'; }
send() { printf '%s' "$1" | smtp_raw | tr -d '\r' >"$T/out"; cat "$T/out"; }

# Messages aiosmtpd has stored.
stored() { find "$STORE" -name '*.msg' 2>/dev/null | wc -l; }
wait_stored() { # N
	local i=0
	until [ "$(stored)" -ge "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "not stored" >&2; return 1; }
		sleep 0.05
	done
}

# A message whose chunks hold what would end a DATA message or start
# commands, a CRLF split between two chunks and lines starting with dots.
C1=$'Subject: chunks\r\n\r\nline one\r'
C2=$'\n.\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n..two dots\r\n'
C3=$'.\r\nlast line\r\n'
MESSAGE=$C1$C2$C3

# --- what is offered -----------------------------------------------------------

@test "EHLO offers CHUNKING, also where the upstream does not; BINARYMIME only where it goes on byte for byte" {
	start_sink
	write_conf
	start_proxy
	send $'EHLO c.test\r\nQUIT\r\n'
	grep -qx '250-CHUNKING\|250 CHUNKING' "$T/out"
	! grep -q 'BINARYMIME' "$T/out" || false
	stop_tracked
	# An upstream offering CHUNKING and BINARYMIME, no filter: both.
	unset SINK_PORT
	start_store binarymime
	write_conf
	start_proxy
	send $'EHLO c.test\r\nQUIT\r\n'
	[ "$(grep -c '^250.CHUNKING$' "$T/out")" -eq 1 ]
	grep -q '^250.BINARYMIME$' "$T/out"
	stop_tracked
	# The same with a FilterCommand: the filter's output is CRLF text.
	start_store binarymime
	write_conf "FilterCommand: cat"
	start_proxy
	send $'EHLO c.test\r\nQUIT\r\n'
	grep -q '^250.CHUNKING$' "$T/out"
	! grep -q 'BINARYMIME' "$T/out" || false
	[ "$(grep -c '^250 ' "$T/out")" -eq 1 ]
}

@test "BDAT after HELO (CHUNKING not offered): 554, the session ends, the chunk's bytes are never commands" {
	start_sink
	write_conf
	start_proxy
	send $'HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 29 LAST\r\nMAIL FROM:<chunk@evil.test>\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 250 554 " ]
	grep -q "^554 5.5.1 $HOSTNAME_NOW Error: BDAT without CHUNKING" "$T/out"
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 1 ]
	no_temp_files
}

# --- BDAT to DATA, byte for byte ------------------------------------------------

@test "aiosmtpd (no CHUNKING): the chunks arrive as one DATA message, byte for byte" {
	start_store
	write_conf
	start_proxy
	S="$ENVELOPE"; chunk "$C1"; chunk "$C2"; chunk "$C3" LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 250 250 221 " ]
	grep -qx "250 2.0.0 Ok: ${#C1} bytes" "$T/out"
	grep -qx '250 2.0.0 Ok: stored as 1' "$T/out"
	wait_stored 1
	[ "$(stored)" -eq 1 ]
	cmp "$STORE/1.msg" <(printf '%s' "$MESSAGE")
	grep -qx 'RCPT <bob@example.test>' "$STORE/1.env"
	no_temp_files
}

@test "aiosmtpd through FilterCommand: the filter gets the assembled message, its output goes on as DATA" {
	start_store
	f=$(write_filter seen.sh 'tee "$TMPDIR/../seen"')
	write_conf "FilterCommand: $f" "Header: X-Filtered: yes"
	start_proxy
	S="$ENVELOPE"; chunk "$C1"; chunk "$C2"; chunk "$C3" LAST; S+=$'QUIT\r\n'; send "$S"
	grep -qx '250 2.0.0 Ok: stored as 1' "$T/out"
	cmp "$T/seen" <(printf '%s' "$MESSAGE")
	wait_stored 1
	cmp "$STORE/1.msg" <(printf 'Subject: chunks\r\nX-Filtered: yes\r\n%s' "${MESSAGE#*$'\r\n'}")
	no_temp_files
}

@test "bare CR and LF in a text chunk become CRLF (BareNewline normalize), or the message is refused (reject)" {
	start_store
	write_conf
	start_proxy
	S="$ENVELOPE"; chunk $'Subject: bare\n\nan LF\nand a CR\r'; chunk 'x' LAST; S+=$'QUIT\r\n'; send "$S"
	wait_stored 1
	cmp "$STORE/1.msg" <(printf 'Subject: bare\r\n\r\nan LF\r\nand a CR\r\nx\r\n')
	stop_tracked
	rm -rf "$STORE"
	start_store
	write_conf "BareNewline: reject"
	start_proxy
	S="$ENVELOPE"; chunk $'Subject: bare\n\nx\n' LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 550 221 " ]
	grep -q '^550 5.6.0' "$T/out"
	[ "$(stored)" -eq 0 ]
	no_temp_files
}

# --- Postfix, with and without CHUNKING -------------------------------------------

delivered() { grep -lF -- "$1" "$PF_DIR"/mail/inbox/new/* 2>/dev/null; }
wait_delivered() { # TEXT
	local i=0
	until [ -n "$(delivered "$1")" ]; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { echo "not delivered: $1" >&2; return 1; }
		sleep 0.1
	done
}
# Waits for Postfix's line of the session that ended, with its command
# counts ("... mail=1 rcpt=1 bdat=1 quit=1 commands=4"), and prints it.
pf_session_line() { # COUNT-BEFORE
	local i=0
	until [ "$(grep -c ' disconnect from .* commands=' "$PF_DIR/maillog")" -gt "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "no disconnect line" >&2; return 1; }
		sleep 0.1
	done
	grep ' disconnect from .* commands=' "$PF_DIR/maillog" | tail -1
}
# The delivered message's body is the one sent (LF line ends there), and
# its header has the one sent (Postfix adds Date, From, Message-Id).
pf_check_body() { # FILE
	diff <(sed '1,/^$/d' "$1") <(printf '%s' "${MESSAGE#*$'\r\n\r\n'}" | tr -d '\r')
	grep -qx 'Subject: chunks' "$1"
	grep -qx "X-Mark: $MARK" "$1"
}

pf_bdat_session() { # PORT
	local before
	before=$(grep -c ' disconnect from .* commands=' "$PF_DIR/maillog" || true)
	write_conf "OutAddress: 127.0.0.1:$1"
	start_proxy
	printf -v S 'EHLO c.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob+%s@example.test>\r\n' "$MARK"; chunk "X-Mark: $MARK"$'\r\n'"$C1"; chunk "$C2"; chunk "$C3" LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 250 250 221 " ]
	grep -q '^250 2.0.0 Ok: .*queued as ' "$T/out"
	wait_delivered "$MARK"
	pf_check_body "$(delivered "$MARK")"
	PF_LINE=$(pf_session_line "$before")
	echo "$PF_LINE"
	! grep -q 'evil@attacker' "$PF_DIR/maillog" || false
	no_temp_files
}

@test "Postfix with CHUNKING: the message goes on by BDAT and is delivered as sent" {
	pf_bdat_session "$PF_PIPE"
	[[ $PF_LINE == *" bdat=1 "* ]]
	[[ $PF_LINE != *" data="* ]]
}

@test "Postfix without CHUNKING: the message goes on by DATA and is delivered as sent" {
	pf_bdat_session "$PF_NOCHUNK"
	[[ $PF_LINE == *" data=1 "* ]]
	[[ $PF_LINE != *" bdat="* ]]
}

@test "Postfix with CHUNKING refuses the message: its reply answers BDAT LAST, nothing delivered" {
	write_conf "OutAddress: 127.0.0.1:$PF_PIPE"
	start_proxy
	# A 552 from Postfix: its message_size_limit (10240000) is passed.
	big=$(head -c 10300000 /dev/zero | tr '\0' 'y' | fold -w 998 | sed 's/$/\r/')
	printf -v S 'EHLO c.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob+%s@example.test>\r\n' "$MARK"; chunk "Subject: $MARK"$'\r\n\r\n'"$big"$'\n' LAST; S+=$'QUIT\r\n'; send "$S" >/dev/null
	[ "$(replies)" = "220 250 250 250 552 221 " ]
	grep -q '^552 5.3.4 ' "$T/out"
	sleep 1
	[ -z "$(delivered "$MARK")" ]
	grep -q 'outcome=rejected reply="552 5.3.4' "$PROXY_LOG"
	no_temp_files
}

@test "a filter's refusal answers BDAT LAST; the session goes on" {
	write_conf "OutAddress: 127.0.0.1:$PF_PIPE" "FilterCommand: echo '550 5.7.1 no thanks' >&2; exit 1"
	start_proxy
	S="$ENVELOPE"; chunk "$C1"; chunk "$C3" LAST; S+=$'NOOP\r\nQUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 550 250 221 " ]
	grep -qx '550 5.7.1 no thanks' "$T/out"
	no_temp_files
}

# --- hostile chunks -------------------------------------------------------------------

@test "BDAT 0 is an empty chunk (250); BDAT 0 LAST alone is an empty message, refused; nothing delivered" {
	start_sink
	write_conf
	start_proxy
	send "$ENVELOPE"$'BDAT 0\r\nBDAT 0 LAST\r\nNOOP\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 250 250 554 250 221 " ]
	grep -qx '250 2.0.0 Ok: 0 bytes' "$T/out"
	grep -qx '554 5.6.0 Error: empty message' "$T/out"
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "empty chunks move no mail: they count towards MaxJunkCommands" {
	start_sink
	write_conf "MaxJunkCommands: 3"
	start_proxy
	send "$ENVELOPE"$'BDAT 0\r\nBDAT 0\r\nBDAT 0\r\nBDAT 0\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 250 250 250 250 421 " ]
	grep -q "^421 4.7.0 $HOSTNAME_NOW Error: too many commands without a delivery" "$T/out"
	[ "$(sink_count)" -eq 0 ]
	[ "$(session_status)" = 1 ]
	no_temp_files
}

@test "a BDAT count that is no count (huge, negative, not a number, trailing junk): 501 and the session ends" {
	start_sink
	write_conf
	start_proxy
	for args in 99999999999999999999 123456789012345678901 -5 +5 abc 5x '5 LASTX' \
		'5 LAST x' '5 5' '' 'LAST' '0x10 LAST'; do
		send "$ENVELOPE"$'BDAT '"$args"$'\r\nMAIL FROM:<chunk@evil.test>\r\nQUIT\r\n'
		[ "$(replies)" = "220 250 250 250 501 " ]
		grep -q "^501 5.5.4 $HOSTNAME_NOW Syntax: BDAT count \[LAST\], closing connection" "$T/out"
		[ "$(session_status)" = 1 ]
	done
	grep -q 'BDAT from 127.0.0.1 with no count of at most 20 digits' "$PROXY_LOG"
	! grep -q 'chunk@evil' "$T/sink.log" "$SINK_DIR"/* 2>/dev/null || false
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "BDAT before MAIL and before RCPT: the chunk is read and thrown away, 503, its commands never run" {
	start_sink
	write_conf
	start_proxy
	evil=$'MAIL FROM:<chunk@evil.test>\r\nRCPT TO:<x@y.test>\r\n'
	S=$'EHLO c.test\r\n'; chunk "$evil" LAST; S+=$'MAIL FROM:<a@b.test>\r\n'; chunk "$evil"; S+=$'NOOP\r\nQUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 503 250 503 250 221 " ]
	grep -qx '503 5.5.1 Error: need MAIL command' "$T/out"
	grep -qx '503 5.5.1 Error: need RCPT command' "$T/out"
	! grep -q 'chunk@evil' "$T/sink.log" "$SINK_DIR"/* 2>/dev/null || false
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "DATA after BDAT in one transaction: 503, the message is discarded, later chunks find no transaction" {
	start_sink
	write_conf
	start_proxy
	S="$ENVELOPE"; chunk "$C1"; S+=$'DATA\r\n'; chunk "$C3" LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 503 503 221 " ]
	grep -qx '503 5.5.1 Error: DATA after BDAT, the message is discarded' "$T/out"
	grep -qx '503 5.5.1 Error: need MAIL command' "$T/out"
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "the client goes mid-chunk: nothing delivered, no temp file, the log says where" {
	start_sink
	write_conf
	start_proxy
	S="$ENVELOPE"; chunk "$C1"; S+=$'BDAT 1000 LAST\r\nonly part of it'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 " ]
	[ "$(session_status)" = 1 ]
	grep -q 'lost connection (connection closed) after BDAT from 127.0.0.1' "$PROXY_LOG"
	sleep 0.5
	[ "$(sink_count)" -eq 0 ]
	no_temp_files
}

@test "chunks pipelined in one write with the envelope: one reply each, in order, one message" {
	start_sink
	write_conf
	start_proxy
	# One printf, one write: socat sends it as it is read.
	S="$ENVELOPE"; chunk "$C1"; chunk "$C2"; chunk "$C3" LAST; S+=$ENVELOPE; chunk "$C1" LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 250 250 250 250 250 250 221 " ]
	[ "$(grep -c 'outcome=forwarded reply="250 ' "$PROXY_LOG")" -eq 2 ]
	[ "$(sink_count)" -eq 2 ]
	# The chunk's "MAIL FROM" is a line of the message, not a command.
	! grep -q 'evil@attacker' "$T/sink.log" || false
	grep -lq '^MAIL FROM:<evil@attacker.test>' "$SINK_DIR"/m.*
	no_temp_files
}

@test "MaxMessageSize: chunks summing past it get 250, the LAST 552 5.3.4; the next message goes through" {
	start_store
	write_conf "MaxMessageSize: 1000"
	start_proxy
	half=$(head -c 600 /dev/zero | tr '\0' z)
	S="$ENVELOPE"; chunk "$half"; chunk "$half"; chunk "$half" LAST; S+=${ENVELOPE#*$'\r\n'}; chunk "$C1" LAST; S+=$'QUIT\r\n'; send "$S"
	[ "$(replies)" = "220 250 250 250 250 250 552 250 250 250 221 " ]
	grep -qx '552 5.3.4 Error: message size exceeds fixed limit' "$T/out"
	grep -q 'message size 1800 exceeds MaxMessageSize 1000' "$PROXY_LOG"
	wait_stored 1
	[ "$(stored)" -eq 1 ]
	cmp "$STORE/1.msg" <(printf '%s\n' "$C1")
	no_temp_files
}

@test "a 20 MB chunk is read through fixed buffers: the session's memory does not grow with it" {
	start_store
	write_conf "MaxMessageSize: 0"
	# 20 MB in lines of 998 bytes (aiosmtpd's line limit), CRLF.
	{ head -c 20000000 /dev/zero | tr '\0' m | fold -w 998; echo; } |
		sed 's/$/\r/' >"$T/big"
	printf 'small\r\n' >"$T/small"
	# A session of one message of one chunk, that file, in replay mode
	# (the session from a file: the same code, and a peak resident size
	# that GNU time measures without sampling).
	peak_of() { # FILE
		{ printf '%s' "$ENVELOPE"
		  printf 'BDAT %d LAST\r\n' "$(stat -c %s "$1")"
		  cat "$1"; printf 'QUIT\r\n'; } >"$T/session"
		/usr/bin/time -f %M -o "$T/rss" "$PROXSMTPD" -f "$CONF" \
			<"$T/session" >"$T/out" 2>>"$PROXY_LOG"
		cat "$T/rss"
	}
	big=$(peak_of "$T/big")
	grep -q '^250 2.0.0 Ok: stored as 1' "$T/out"
	small=$(peak_of "$T/small")
	grep -q '^250 2.0.0 Ok: stored as 2' "$T/out"
	cmp "$STORE/1.msg" "$T/big"
	echo "peak RSS: 20 MB chunk $big KiB, 7 bytes $small KiB"
	[ "$big" -gt 0 ] && [ "$small" -gt 0 ]
	[ "$big" -lt $((small + $(rss_slack_kib))) ]
	no_temp_files
}

# --- BINARYMIME -------------------------------------------------------------------

@test "BODY=BINARYMIME: 504 where it is not offered; where it is, MAIL passes it on" {
	start_sink
	write_conf
	start_proxy
	send $'EHLO c.test\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 504 221 " ]
	grep -qx '504 5.5.4 BINARYMIME is not supported' "$T/out"
	stop_tracked
	unset SINK_PORT
	# aiosmtpd names BINARYMIME but refuses it in MAIL (501): that
	# reply, relayed, shows the proxy passed the parameter on. (DATA
	# after an accepted BODY=BINARYMIME, 503, is in the fuzz corpus:
	# fuzz/corpus/session_relay/bdat-binarymime-data.)
	start_store binarymime
	write_conf
	start_proxy
	send $'EHLO c.test\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nQUIT\r\n'
	[ "$(replies)" = "220 250 501 221 " ]
	grep -q '^501 Error: BODY can only be one of 7BIT, 8BITMIME' "$T/out"
	no_temp_files
}
