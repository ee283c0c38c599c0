#!/usr/bin/env bats
# proxsmtpd between two real Postfix services, as the README tells operators
# to set it up: a throw-away Postfix instance (t/lib/postfix-up: its own
# config, queue, log and mailboxes under a temp dir, loopback only), started
# once for the file.
#
#   before-queue:  swaks -> PF_FRONT (smtpd_proxy_filter) -> proxsmtpd
#                  (PF_FILTER) -> PF_BACK (reinjection smtpd) -> Maildir
#   after-queue:   swaks -> PF_AQ_FRONT (content_filter) -> queue -> smtp
#                  client -> proxsmtpd (PF_AQ_FILTER) -> PF_AQ_BACK -> Maildir
#   XClient:       swaks -> proxsmtpd -> PF_BACK, which allows XCLIENT
#
# The sending client connects from its own loopback address (127.0.0.5 /
# 127.0.0.7) so that forwarded client data can be told from the proxy's own
# 127.0.0.1.

load helpers

setup_file() { postfix_start "$BATS_FILE_TMPDIR/pf" PF_REFUSE PF_XCLIENT; }
teardown_file() { postfix_stop; }

local_setup() {
	# Unique text for this test's messages: the mailbox is shared.
	MARK="mark-$BATS_TEST_NUMBER-$RANDOM$RANDOM"
	FROM=alice@sender.test
}

# Sessions a cached Postfix connection might keep open must not outlive
# the test (they run with this test's configuration).
local_teardown() {
	[ -z "${LAUNCHER:-}" ] || wait_sessions || true
}

# proxsmtpd under systemd-socket-activate on 127.0.0.1:PORT (the port
# Postfix is configured to use) with $CONF.
start_proxy_at() { # PORT
	PORT=$1
	systemd-socket-activate -l "127.0.0.1:$PORT" --inetd \
		-a "$PROXSMTPD" -d 4 -f "$CONF" 2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# send_to PORT [swaks args]: one message from 127.0.0.5, with $MARK in the
# body, to bob@example.test.
send_to() {
	local port=$1
	shift
	swaks --server 127.0.0.1 --port "$port" --local-interface 127.0.0.5 \
		--helo real-client.test --from "$FROM" --to bob@example.test \
		--header "Subject: $MARK" --body "body $MARK" --timeout 30 "$@" \
		>"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

# Delivered messages containing the text, one file name a line.
delivered() { grep -lF -- "$1" "$PF_DIR"/mail/inbox/new/* 2>/dev/null; }
# Waits until N (default 1) delivered messages contain the text.
wait_delivered() { # TEXT [N]
	local i=0
	until [ "$(delivered "$1" | wc -l)" -ge "${2:-1}" ]; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { echo "not delivered: $1" >&2; return 1; }
		sleep 0.1
	done
}
# Postfix's log.
maillog() { cat "$PF_DIR/maillog"; }
# The queue id in the last reply to the end of data ("queued as ID").
queue_id() { data_reply | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p'; }
queue_empty() { postqueue -c "$PF_DIR/etc" -p | grep -q 'Mail queue is empty'; }

# The filter: tags the message with what it was told.
tag_filter() {
	write_filter tag.sh \
		'echo "X-Proxsmtpd-Filtered: client=$CLIENT remote=${REMOTE:-none} remote_helo=${REMOTE_HELO:-none}"' \
		'exec cat'
}
refuse_filter() {
	write_filter refuse.sh 'cat >/dev/null' \
		'echo "550 5.7.1 Refused by the filter" >&2' 'exit 1'
}

# --- before-queue ----------------------------------------------------------

@test "before-queue: the message is filtered in the SMTP session and delivered" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "FilterCommand: $(tag_filter)"
	start_proxy_at "$PF_FILTER"
	run send_to "$PF_FRONT"
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	[ "$(wc -l <<<"$m")" -eq 1 ]
	grep -q '^X-Proxsmtpd-Filtered: ' "$m"
	grep -q "^Subject: $MARK" "$m"
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
}

@test "before-queue: XFORWARD from Postfix reaches the filter as REMOTE and REMOTE_HELO" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "FilterCommand: $(tag_filter)"
	start_proxy_at "$PF_FILTER"
	run send_to "$PF_FRONT"
	[ "$status" -eq 0 ]
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	# The proxy's client is Postfix (127.0.0.1); the real client came
	# through XFORWARD, which the reinjection smtpd accepted.
	grep -qx 'X-Proxsmtpd-Filtered: client=127.0.0.1 remote=127.0.0.5 remote_helo=real-client.test' "$m"
	# The reinjection smtpd logs the original client it got by XFORWARD
	# with the message (queued as in the reply the sender saw).
	qid=$(queue_id)
	maillog | grep -q "postfix/smtpd\[[0-9]*\]: $qid: client=localhost\[127.0.0.1\], orig_client=unknown\[127.0.0.5\]"
}

@test "before-queue: a rejected message is not queued and the sender sees the filter's reply" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "FilterCommand: $(refuse_filter)"
	start_proxy_at "$PF_FILTER"
	run send_to "$PF_FRONT"
	[ "$(data_reply)" = "550 5.7.1 Refused by the filter" ]
	[ "$(session_status)" = 0 ]
	grep -q 'outcome=rejected' "$PROXY_LOG"
	queue_empty
	[ -z "$(delivered "$MARK")" ]
	maillog | grep -q 'proxy-reject: END-OF-MESSAGE: 550 5.7.1 Refused by the filter'
}

# --- after-queue ------------------------------------------------------------

@test "after-queue: the queued message goes through the filter and is delivered" {
	write_conf "OutAddress: 127.0.0.1:$PF_AQ_BACK" "FilterCommand: $(tag_filter)"
	start_proxy_at "$PF_AQ_FILTER"
	run send_to "$PF_AQ_FRONT"
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	[ "$(wc -l <<<"$m")" -eq 1 ]
	grep -q '^X-Proxsmtpd-Filtered: ' "$m"
	# Postfix's smtp client sent XFORWARD (smtp_send_xforward_command):
	# the filter saw the original client.
	grep -qx 'X-Proxsmtpd-Filtered: client=127.0.0.1 remote=127.0.0.5 remote_helo=real-client.test' "$m"
	wait_sessions
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	no_temp_files
	# Delivered to the filter by the proxsmtpd transport, then reinjected
	# as a new queue file; the reinjection smtpd logs the original queue
	# id and client it got by XFORWARD through the proxy.
	qid=$(queue_id)
	qid2=$(maillog | sed -n "s/.*: $qid: to=<bob@example.test>, relay=127.0.0.1\[127.0.0.1\]:$PF_AQ_FILTER,.*status=sent (250 .*queued as \([0-9A-Za-z]*\))$/\1/p")
	[ -n "$qid2" ]
	maillog | grep -q "postfix/smtpd\[[0-9]*\]: $qid2: client=localhost\[127.0.0.1\], orig_queue_id=$qid, orig_client=unknown\[127.0.0.5\]"
}

@test "after-queue: a rejected message bounces with the filter's reply" {
	FROM=sender@example.test
	write_conf "OutAddress: 127.0.0.1:$PF_AQ_BACK" "FilterCommand: $(refuse_filter)"
	start_proxy_at "$PF_AQ_FILTER"
	run send_to "$PF_AQ_FRONT"
	[ "$status" -eq 0 ]
	# Queued: the sending client got 250 from the front smtpd ...
	[[ "$(data_reply)" == "250 "* ]]
	# ... and Postfix, the proxy's client, got the filter's reply.
	wait_delivered "$MARK"
	maillog | grep -q "relay=127.0.0.1\[127.0.0.1\]:$PF_AQ_FILTER.*status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.7.1 Refused by the filter (in reply to end of DATA command))"
	# The only message with the text is the bounce to the sender.
	m=$(delivered "$MARK")
	[ "$(wc -l <<<"$m")" -eq 1 ]
	grep -q '^From: .*<MAILER-DAEMON@mx.example.test>' "$m"
	grep -q '550 5.7.1 Refused by the filter' "$m"
	grep -q 'outcome=rejected' "$PROXY_LOG"
}

# --- XClient ------------------------------------------------------------------

# swaks from 127.0.0.7 straight to the proxy, which forwards to PF_BACK.
xclient_send() {
	swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.7 \
		--helo seven.client.test --from "$FROM" --to bob@example.test \
		--header "Subject: $MARK" --body "body $MARK" --timeout 30 \
		>"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

@test "XClient: on: Postfix sees the client's address and HELO, the client sees nothing of it" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "XClient: on"
	start_proxy_at "$(free_port)"
	run xclient_send
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 "* ]]
	# Invisible to the client: one greeting, ours; no XCLIENT offered.
	[ "$(grep -c '^<-  220 ' "$T/swaks.out")" -eq 1 ]
	grep -q '^<-  220 .* ESMTP proxsmtpd' "$T/swaks.out"
	! grep -qi 'XCLIENT' "$T/swaks.out" || false
	! grep -q 'mx.example.test' "$T/swaks.out" || false
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	# Postfix took the client's address and HELO name from XCLIENT.
	grep -q '^Received: from seven.client.test (.*\[127.0.0.7\])' "$m"
	grep -A1 '^Received: from seven.client.test' "$m" | grep -q 'with ESMTP'
	maillog | grep -q "postfix/smtpd\[[0-9]*\]: $(queue_id): client=.*\[127.0.0.7\]"
	[ "$(session_status)" = 0 ]
}

@test "XClient: on: Postfix is not left with the proxy's own host name for the client" {
	# XCLIENT attributes that are not sent keep their value: without
	# NAME, Postfix pairs the client's address with the name of the
	# proxy's connection ("localhost"), and name-based access rules
	# would judge the client by the proxy's name. The proxy knows no
	# name for the client, so Postfix must end up with "unknown".
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "XClient: on"
	start_proxy_at "$(free_port)"
	run xclient_send
	[ "$status" -eq 0 ]
	qid=$(queue_id)
	[ -n "$qid" ]
	maillog | grep "postfix/smtpd\[[0-9]*\]: $qid: client="
	maillog | grep -q "postfix/smtpd\[[0-9]*\]: $qid: client=unknown\[127.0.0.7\]"
	wait_delivered "$MARK"
	grep -q '^Received: from seven.client.test (unknown \[127.0.0.7\])' "$(delivered "$MARK")"
}

@test "XClient: off: Postfix sees the proxy's address" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK"
	start_proxy_at "$(free_port)"
	run xclient_send
	[ "$status" -eq 0 ]
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	grep -q '^Received: from seven.client.test (.*\[127.0.0.1\])' "$m"
	! grep -q '127\.0\.0\.7' "$m" || false
}

@test "XClient: on with an upstream that does not offer XCLIENT: 421, nothing relayed, the reason logged" {
	# The after-queue reinjection smtpd does not allow XCLIENT: relaying
	# the client as the proxy's own trusted address would make an open
	# relay, so the session fails closed.
	write_conf "OutAddress: 127.0.0.1:$PF_AQ_BACK" "XClient: on"
	start_proxy_at "$(free_port)"
	before=$(maillog | wc -l)
	run xclient_send
	[ "$status" -ne 0 ]
	grep -q "^<\*\* *421 4\.[0-9.]* $HOSTNAME_NOW " "$T/swaks.out"
	! grep -q '^<.* 250 .*queued' "$T/swaks.out" || false
	[ "$(session_status)" = 111 ]
	grep -q "XClient is on but upstream 127.0.0.1:$PF_AQ_BACK does not offer XCLIENT" "$PROXY_LOG"
	# Postfix saw the proxy's EHLO and nothing of the client's mail: its
	# summary of the connection counts no MAIL, and no queue file was made.
	i=0
	until maillog | tail -n +$((before + 1)) | grep -q 'postfix/smtpd\[[0-9]*\]: disconnect from '; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "Postfix logged no disconnect" >&2; false; }
		sleep 0.1
	done
	maillog | tail -n +$((before + 1)) >"$T/maillog.new"
	cat "$T/maillog.new"
	grep -q 'disconnect from .* ehlo=1 ' "$T/maillog.new"
	! grep -q 'disconnect from .* mail=' "$T/maillog.new" || false
	! grep -q ': client=' "$T/maillog.new" || false
}

# PF_XCLIENT relays for the proxy (127.0.0.1) and for 127.0.0.7 only.
# raw_xclient ADDR: stdin to the proxy from ADDR, replies to $T/out.
raw_xclient() {
	socat -t 30 -T 30 - "TCP:127.0.0.1:$PORT,bind=$1" | tr -d '\r' >"$T/out"
	cat "$T/out"
}

@test "XClient against Postfix: a client that skips HELO is judged by its own address, not relayed" {
	write_conf "OutAddress: 127.0.0.1:$PF_XCLIENT" "XClient: on"
	start_proxy_at "$(free_port)"
	printf 'MAIL FROM:<spam@evil.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: %s\r\n\r\nspam\r\n.\r\nQUIT\r\n' "$MARK" |
		raw_xclient 127.0.0.9
	# Postfix refuses the recipient: 127.0.0.9 is not in its mynetworks.
	grep -q '^554 5.7.1 ' "$T/out"
	! grep -q '^354' "$T/out" || false
	maillog | grep -q "NOQUEUE: reject: RCPT from unknown\[127.0.0.9\]"
	sleep 1
	[ -z "$(delivered "$MARK")" ]
}

@test "XClient against Postfix: a trusted client that skips HELO is delivered under its own address" {
	write_conf "OutAddress: 127.0.0.1:$PF_XCLIENT" "XClient: on"
	start_proxy_at "$(free_port)"
	printf 'MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: %s\r\n\r\nbody\r\n.\r\nQUIT\r\n' "$MARK" |
		raw_xclient 127.0.0.7
	[ "$(grep -o '^[0-9][0-9][0-9] ' "$T/out" | tr -d ' ' | tr '\n' ' ')" = "220 250 250 354 250 221 " ]
	wait_delivered "$MARK"
	grep -q '^Received: from .*\[127.0.0.7\]' "$(delivered "$MARK")"
}

@test "XClient against Postfix: with XClient off the same client is relayed as the proxy (why XClient matters)" {
	# What the tests above guard against, shown with XClient off: Postfix
	# trusts the proxy's own address, so the proxy decides who may relay.
	write_conf "OutAddress: 127.0.0.1:$PF_XCLIENT"
	start_proxy_at "$(free_port)"
	printf 'MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nQUIT\r\n' |
		raw_xclient 127.0.0.9
	grep -q '^250 2.1.5' "$T/out"
}

@test "Postfix refuses the proxy in its greeting: the client gets the code, enhanced code and reason" {
	# PF_REFUSE answers the connection with two lines:
	# "554-5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied"
	# "554 5.7.1 Contact postmaster@refuse.example.test for help".
	# The client gets both, the first with our name in place of Postfix's.
	write_conf "OutAddress: 127.0.0.1:$PF_REFUSE"
	start_proxy_at "$(free_port)"
	out=$(printf 'QUIT\r\n' | smtp_raw | tr -d '\r')
	echo "$out"
	first=$(head -1 <<<"$out")
	[[ "$first" == "554-5.7.1 $HOSTNAME_NOW "* ]]
	[[ "$first" == *"Client host rejected: Access denied"* ]]
	[ "$(sed -n 2p <<<"$out")" = "554 5.7.1 Contact postmaster@refuse.example.test for help" ]
	! grep -q 'mx.example.test' <<<"$out" || false
}
