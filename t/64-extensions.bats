#!/usr/bin/env bats
# ESMTP extensions that pass through the proxy today and must keep doing so
# (issue 12, "Already working"): 8BITMIME and SMTPUTF8 byte for byte when the
# upstream offers them, DSN parameters unchanged, AUTH in the clear relayed
# without the credentials reaching the proxy's log.
#
# Peers: aiosmtpd storing the bytes of DATA as they arrived
# (t/lib/aiosmtpd-store), aiosmtpd with AUTH (t/lib/aiosmtpd-auth),
# smtp-sink (its dump records the MAIL and RCPT parameters) and a real
# Postfix (t/lib/postfix-up, started once for the file; the proxy forwards
# to its PF_BACK smtpd, which delivers @example.test to a Maildir).
#
# Each test names the regression it catches ("Fails if ...").

load helpers

setup_file() { postfix_start "$BATS_FILE_TMPDIR/pf"; }
teardown_file() { postfix_stop; }

local_setup() {
	# Unique text for this test's messages: the Postfix mailbox is shared.
	MARK="mark-$BATS_TEST_NUMBER-$RANDOM$RANDOM"
}

local_teardown() {
	[ -z "${LAUNCHER:-}" ] || wait_sessions || true
}

# --- peers and messages ----------------------------------------------------------

# The EHLO reply the client of the proxy sees, CR removed.
ehlo_reply() {
	printf 'EHLO client.test\r\nQUIT\r\n' | smtp_raw | tr -d '\r' >"$T/ehlo"
	cat "$T/ehlo"
}

# eight_bit_message FILE: a message with 8-bit bytes in headers and body:
# UTF-8, raw \xff \xfe \x80 (not UTF-8 at all), a NUL-free line that starts
# with a dot (stuffed on the wire, one dot in the store) and a line of one
# dot followed by text. CRLF line ends, as it must be stored.
eight_bit_message() {
	printf '%s\r\n' \
		"Message-ID: <$MARK@sender.test>" \
		'Date: Wed, 02 Dec 2026 10:00:00 +0000' \
		'From: Jöran <alice@sender.test>' \
		'To: bob@example.test' \
		"Subject: Grüße $MARK" \
		'' \
		'Grüße aus Köln — ünïcödé ✓' \
		"$(printf 'raw bytes: \xff\xfe\x80 end')" \
		'.a line that starts with a dot' \
		'..two dots' \
		'' \
		"last line $MARK" >"$1"
}

# smtp_session FILE MAIL-ARGS RCPT-ARGS: one whole session from a client
# that writes exactly these bytes: EHLO, MAIL, RCPT, DATA, FILE
# dot-stuffed, QUIT. The replies are in $T/replies (CR removed).
smtp_session() {
	{
		printf 'EHLO client.test\r\nMAIL FROM:%s\r\nRCPT TO:%s\r\nDATA\r\n' "$2" "$3"
		sed 's/^\./../' "$1"
		printf '.\r\nQUIT\r\n'
	} | smtp_raw | tr -d '\r' >"$T/replies"
	cat "$T/replies"
}

# The reply codes of the last smtp_session, last line of each reply.
reply_codes() { grep -o '^[0-9][0-9][0-9] ' "$T/replies" | tr -d ' ' | tr '\n' ' '; }

# A filter that records SENDER and RECIPIENTS byte for byte, then passes the
# message on unchanged.
env_filter() {
	write_filter env.sh "printf '%s\n' \"\$SENDER\" >'$T/filter.sender'" \
		"printf '%s\n' \"\$RECIPIENTS\" >'$T/filter.rcpts'" 'exec cat'
}

# Postfix side: delivered messages containing the text; the wait for one.
delivered() { grep -lF -- "$1" "$PF_DIR"/mail/inbox/new/* 2>/dev/null; }
wait_delivered() { # TEXT [N]
	local i=0
	until [ "$(delivered "$1" | wc -l)" -ge "${2:-1}" ]; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || { echo "not delivered: $1" >&2; return 1; }
		sleep 0.1
	done
}

# --- 8BITMIME ------------------------------------------------------------------------

# eight_bit_to_store: with $CONF pointing at a running start_store, the
# proxy offers 8BITMIME, passes BODY=8BITMIME on and the message arrives
# byte for byte.
# Fails if: the proxy drops 8BITMIME from the EHLO reply, drops or changes
# BODY=8BITMIME, or changes any byte of the message (8-bit bytes masked,
# stripped or re-encoded, dots not unstuffed, line ends rewritten) on its
# way through the spool and the filter.
eight_bit_to_store() {
	start_proxy
	run ehlo_reply
	grep -qx '250-8BITMIME' "$T/ehlo"
	eight_bit_message "$T/msg"
	run smtp_session "$T/msg" '<a@b> BODY=8BITMIME' '<c@d>'
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	grep -qx '250 2.0.0 Ok: stored as 1' "$T/replies"
	cmp "$T/msg" "$STORE/1.msg"
	grep -qx 'MAIL-PARAM BODY=8BITMIME' "$STORE/1.env"
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "8BITMIME to aiosmtpd: offered, BODY=8BITMIME passed on, the 8-bit message stored byte for byte" {
	start_store
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	eight_bit_to_store
}

@test "8BITMIME to aiosmtpd through FilterCommand cat: the same bytes stored" {
	start_store
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT" "FilterCommand: cat"
	eight_bit_to_store
	grep -q 'outcome=' "$PROXY_LOG"
}

# eight_bit_to_postfix: the same through Postfix's PF_BACK smtpd to its
# Maildir. Postfix puts Return-Path, Delivered-To and Received above the
# message and stores LF line ends; from our first header on, the file must
# be the message exactly.
# Fails if: as above, with a real MTA, except that Postfix takes the
# message alike with or without BODY=8BITMIME (the aiosmtpd tests check
# that parameter).
eight_bit_to_postfix() {
	start_proxy
	run ehlo_reply
	grep -qx '250-8BITMIME' "$T/ehlo"
	eight_bit_message "$T/msg"
	run smtp_session "$T/msg" '<alice@sender.test> BODY=8BITMIME' '<bob@example.test>'
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	wait_delivered "$MARK"
	m=$(delivered "$MARK")
	[ "$(wc -l <<<"$m")" -eq 1 ]
	awk -v first="Message-ID: <$MARK@sender.test>" \
		'$0 == first { on = 1 } on' "$m" >"$T/delivered"
	tr -d '\r' <"$T/msg" | cmp - "$T/delivered"
	[ "$(session_status)" = 0 ]
	no_temp_files
}

@test "8BITMIME to Postfix: offered, the 8-bit message delivered byte for byte" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK"
	eight_bit_to_postfix
}

@test "8BITMIME to Postfix through FilterCommand cat: delivered byte for byte" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "FilterCommand: cat"
	eight_bit_to_postfix
}

# Fails if: the proxy offers 8BITMIME of its own accord (or keeps an old
# list) when the upstream does not.
@test "8BITMIME: not offered when the upstream does not offer it (smtp-sink -8)" {
	start_sink -8
	write_conf
	start_proxy
	run ehlo_reply
	grep -q '^250 ' "$T/ehlo"
	grep -qx '250[- ]ENHANCEDSTATUSCODES' "$T/ehlo"
	! grep -qi '8BITMIME' "$T/ehlo" || false
}

# --- SMTPUTF8 -------------------------------------------------------------------------

# Fails if: SMTPUTF8 disappears from the EHLO reply, the SMTPUTF8
# parameter is dropped, the UTF-8 addresses or headers lose or change a
# byte (e.g. octets above 0x7f refused or replaced as "control
# characters"), or the filter's SENDER/RECIPIENTS are mangled.
@test "SMTPUTF8 to aiosmtpd: offered; UTF-8 addresses and headers arrive byte for byte, and reach the filter as sent" {
	start_store smtputf8
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT" "FilterCommand: $(env_filter)"
	start_proxy
	run ehlo_reply
	grep -qx '250-SMTPUTF8' "$T/ehlo"
	printf '%s\r\n' \
		"Message-ID: <$MARK@exämple.test>" \
		'From: Jöran Øster <jöran@exämple.test>' \
		'To: Δοκιμή <δοκιμή@παράδειγμα.test>' \
		'Subject: 测试 — Grüße' \
		'' \
		'Καλημέρα κόσμε, こんにちは' >"$T/msg"
	run smtp_session "$T/msg" '<jöran@exämple.test> SMTPUTF8' '<δοκιμή@παράδειγμα.test>'
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	cmp "$T/msg" "$STORE/1.msg"
	printf '%s\n' 'MAIL <jöran@exämple.test>' 'MAIL-PARAM SMTPUTF8' \
		'RCPT <δοκιμή@παράδειγμα.test>' | cmp - "$STORE/1.env"
	printf '%s\n' 'jöran@exämple.test' | cmp - "$T/filter.sender"
	printf '%s\n' 'δοκιμή@παράδειγμα.test' | cmp - "$T/filter.rcpts"
	[ "$(session_status)" = 0 ]
	no_temp_files
}

# Fails if: the proxy offers SMTPUTF8 although the upstream cannot take it
# (a UTF-8 sender would then be refused only after the client committed).
@test "SMTPUTF8: not offered when the upstream does not offer it (aiosmtpd without it, smtp-sink)" {
	start_store
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
	run ehlo_reply
	grep -qx '250-8BITMIME' "$T/ehlo"
	! grep -qi 'SMTPUTF8' "$T/ehlo" || false
	stop_tracked
	start_sink
	write_conf
	start_proxy
	run ehlo_reply
	grep -qx '250[- ]DSN' "$T/ehlo"
	! grep -qi 'SMTPUTF8' "$T/ehlo" || false
}

# --- DSN -------------------------------------------------------------------------------

# dsn_to_sink: RET/ENVID and NOTIFY/ORCPT reach smtp-sink exactly.
# Fails if: DSN is dropped from the EHLO reply, or any of the four
# parameters is dropped, reordered, re-cased or re-encoded (ORCPT is xtext)
# on the way.
dsn_to_sink() {
	start_proxy
	run ehlo_reply
	grep -qx '250[- ]DSN' "$T/ehlo"
	printf '%s\r\n' 'Subject: dsn' '' 'body' >"$T/msg"
	run smtp_session "$T/msg" '<a@b> RET=HDRS ENVID=QQ314159' \
		'<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d'
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	[ "$(sink_count)" -eq 1 ]
	grep -x 'X-Mail-Args: .*' "$(sink_file)" >"$T/args"
	grep -x 'X-Rcpt-Args: .*' "$(sink_file)" >>"$T/args"
	printf '%s\n' 'X-Mail-Args: <a@b> RET=HDRS ENVID=QQ314159' \
		'X-Rcpt-Args: <c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d' |
		diff - "$T/args"
	[ "$(session_status)" = 0 ]
}

@test "DSN to smtp-sink: RET, ENVID, NOTIFY and ORCPT arrive exactly" {
	start_sink
	write_conf
	dsn_to_sink
}

@test "DSN to smtp-sink through FilterCommand cat: the parameters arrive exactly" {
	start_sink
	write_conf "FilterCommand: cat"
	dsn_to_sink
	grep -q 'outcome=' "$PROXY_LOG"
}

# dsn_to_postfix: Postfix acts on the parameters: NOTIFY=SUCCESS makes it
# send the sender a delivery report, which carries ENVID and ORCPT back and,
# with RET=HDRS, only the headers of the message. The ORCPT differs from
# the recipient, so that it can only have come from the parameter.
# Fails if: DSN is not offered to the client (Postfix takes the parameters
# anyway, so only the EHLO check sees that), or any parameter is lost (no
# report at all without NOTIFY; no Original-Envelope-Id or a different
# Original-Recipient; the whole message returned without RET=HDRS).
dsn_to_postfix() {
	start_proxy
	run ehlo_reply
	grep -qx '250[- ]DSN' "$T/ehlo"
	printf '%s\r\n' "Message-ID: <$MARK@example.test>" "Subject: dsn $MARK" '' \
		"secret body $MARK" >"$T/msg"
	run smtp_session "$T/msg" "<alice@example.test> RET=HDRS ENVID=QQ$MARK" \
		'<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig-bob@example.test'
	[ "$(reply_codes)" = "220 250 250 250 354 250 221 " ]
	# The message, and the report that names its Message-ID.
	wait_delivered "$MARK" 2
	report=$(grep -l '^Original-Envelope-Id: ' $(delivered "$MARK"))
	[ "$(wc -l <<<"$report")" -eq 1 ]
	cat "$report"
	grep -qx "Original-Envelope-Id: QQ$MARK" "$report"
	grep -qx 'Original-Recipient: rfc822;orig-bob@example.test' "$report"
	grep -qx 'Final-Recipient: rfc822; bob@example.test' "$report"
	grep -qx 'Action: delivered' "$report"
	grep -q '^Content-Type: text/rfc822-headers' "$report"
	! grep -q "secret body $MARK" "$report" || false
	[ "$(session_status)" = 0 ]
}

@test "DSN to Postfix: it honours RET, ENVID, NOTIFY and ORCPT in its delivery report" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK"
	dsn_to_postfix
}

@test "DSN to Postfix through FilterCommand cat: the report still carries every parameter" {
	write_conf "OutAddress: 127.0.0.1:$PF_BACK" "FilterCommand: cat"
	dsn_to_postfix
}

# --- AUTH in the clear ------------------------------------------------------------------

# aiosmtpd offering AUTH PLAIN and LOGIN; accepts any password but
# $AIOSMTPD_AUTH_REFUSE.
start_auth() {
	AIO_PORT=$(free_port)
	AIO_DIR=$T/aio
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-auth" 127.0.0.1 "$AIO_PORT" "$AIO_DIR" \
		>"$T/aio.log" 2>&1 3>&- &
	track $!
	wait_port "$AIO_PORT"
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
}
aio_count() { find "$AIO_DIR/new" -type f 2>/dev/null | wc -l; }

# not_logged SECRET...: no SECRET in the proxy's log (which has lines of
# this session, so the search is over something). aiosmtpd masks AUTH
# answers in its own log ("AUTH PLAIN ********"), so that the credentials
# did cross the proxy is shown by the upstream's decision instead: it
# refuses exactly one password (last test below).
not_logged() {
	local x
	grep -q 'connection from 127.0.0.1' "$PROXY_LOG"
	for x in "$@"; do
		! grep -qF -- "$x" "$PROXY_LOG" || false
	done
}

# Fails if: AUTH is not offered or not relayed, the 235 is not the
# upstream's, or the proxy logs the exchange (the base64 answer or the
# password in it).
@test "AUTH PLAIN in the clear: relayed to aiosmtpd, 235 relayed, the credentials never logged" {
	start_auth
	run ehlo_reply
	grep -qx '250-AUTH LOGIN PLAIN' "$T/ehlo" || grep -qx '250-AUTH PLAIN LOGIN' "$T/ehlo"
	run swaks_send --auth PLAIN --auth-user juser --auth-password "Pw-$MARK" \
		--body "auth plain $MARK"
	[ "$status" -eq 0 ]
	grep -qx '<-  235 2.7.0 Authentication successful' "$T/swaks.out"
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(aio_count)" -eq 1 ]
	grep -q "auth plain $MARK" "$AIO_DIR"/new/*
	[ "$(session_status)" = 0 ]
	b64=$(printf '\0juser\0Pw-%s' "$MARK" | base64 -w0)
	not_logged "$b64" "Pw-$MARK"
}

# Fails if: the 334 challenges are not relayed both ways, or either answer
# (user name or password, each base64) is logged by the proxy.
@test "AUTH LOGIN in the clear: both challenges relayed, 235 relayed, the credentials never logged" {
	start_auth
	run swaks_send --auth LOGIN --auth-user juser --auth-password "Pw-$MARK" \
		--body "auth login $MARK"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^<-  334 ' "$T/swaks.out")" -eq 2 ]
	grep -qx '<-  235 2.7.0 Authentication successful' "$T/swaks.out"
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(aio_count)" -eq 1 ]
	[ "$(session_status)" = 0 ]
	not_logged "$(printf 'Pw-%s' "$MARK" | base64 -w0)" "Pw-$MARK" \
		"$(printf juser | base64 -w0)"
}

# Fails if: the upstream's refusal is not relayed as it is (code, enhanced
# code, text), the proxy turns it into a success, or logs the password.
@test "AUTH refused by the upstream: its 535 relayed, nothing delivered, the credentials never logged" {
	export AIOSMTPD_AUTH_REFUSE="Wrong-$MARK"
	start_auth
	run swaks_send --auth PLAIN --auth-user juser --auth-password "Wrong-$MARK" \
		--body "refused $MARK"
	[ "$status" -ne 0 ]
	grep -qx '<\*\* 535 5.7.8 Authentication credentials invalid' "$T/swaks.out"
	! grep -q '^<-  235' "$T/swaks.out" || false
	[ "$(aio_count)" -eq 0 ]
	b64=$(printf '\0juser\0Wrong-%s' "$MARK" | base64 -w0)
	not_logged "$b64" "Wrong-$MARK"
}
