#!/usr/bin/env bats
# STARTTLS on both legs (issue 13). Certificates are made for each file by
# t/lib/tls-certs (a test CA, mx.example.test, wrong.example.test). Clients:
# swaks --tls and Python's ssl module (t/lib/starttls-client, which also
# sends the CVE-2011-0411 bytes); upstreams: smtp-sink (plaintext),
# aiosmtpd with STARTTLS (t/lib/aiosmtpd-tls) and Postfix with
# smtpd_tls_security_level=may (t/lib/postfix-up PF_TLS).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	"$BATS_TEST_DIRNAME/lib/tls-certs" "$BATS_FILE_TMPDIR/certs"
	chmod o+x "$BATS_FILE_TMPDIR"
}

local_setup() {
	CERTS=$BATS_FILE_TMPDIR/certs
	MODULE=$(tls_module)
	CLIENT=$BATS_TEST_DIRNAME/lib/starttls-client
}

# tls_conf [SETTING-LINES...]: write_conf with STARTTLS offered to clients.
tls_conf() {
	write_conf "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/server.key" \
		"TLSModule: $MODULE" "$@"
}

env_filter() { write_filter env.sh 'env >"$TMPDIR/../env.out"' 'cat'; }

# start_aio_tls [require|notls]: aiosmtpd with STARTTLS on $AIO_PORT,
# messages in $T/aio/N.msg and N.env (its "TLS ..." line).
start_aio_tls() {
	AIO_PORT=$(free_port)
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-tls" 127.0.0.1 "$AIO_PORT" "$T/aio" \
		"$CERTS/server.pem" "$CERTS/server.key" "$@" >"$T/aio.log" 2>&1 &
	track $!
	wait_port "$AIO_PORT"
}
aio_count() { find "$T/aio" -name '*.msg' 2>/dev/null | wc -l; }

# out_conf LEVEL [SETTING-LINES...]: to aiosmtpd with OutTLS LEVEL.
out_conf() {
	local level=$1
	shift
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT" "OutTLS: $level" \
		"TLSModule: $MODULE" "$@"
}

# ---- inbound ---------------------------------------------------------------

@test "EHLO offers our STARTTLS once, never the upstream's, and none without TLSCertificate" {
	start_aio_tls
	write_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
	printf 'EHLO client.test\r\nQUIT\r\n' | smtp_raw >"$T/plain"
	! grep -q STARTTLS "$T/plain"
	stop_tracked
	start_aio_tls
	tls_conf "OutAddress: 127.0.0.1:$AIO_PORT"
	start_proxy
	printf 'EHLO client.test\r\nQUIT\r\n' | smtp_raw >"$T/tls"
	cat "$T/tls"
	[ "$(grep -c STARTTLS "$T/tls")" -eq 1 ]
	grep -q '^250 ' "$T/tls"
}

@test "swaks --tls: the message goes through, the log names protocol and cipher" {
	start_sink
	tls_conf
	start_proxy
	run swaks_send --tls
	[ "$status" -eq 0 ]
	# After " ~> ." (inside TLS) the reply to the end of data.
	sed -n '/^ ~> \.\r*$/{n;p;}' "$T/swaks.out" | grep -q '^<~  250 '
	[ "$(sink_count)" -eq 1 ]
	grep -q 'STARTTLS from 127.0.0.1: TLSv1.[23] with cipher ' "$PROXY_LOG"
	[ "$(session_status)" = 0 ]
}

@test "a session that never says STARTTLS does not load the TLS module" {
	start_sink
	tls_conf
	start_proxy
	# An idle session, held open while its memory map is read.
	{ printf 'EHLO client.test\r\n'; sleep 2; printf 'QUIT\r\n'; } | smtp_raw >"$T/out" &
	client=$!
	pid=$(session_pid)
	sleep 0.5
	cat "/proc/$pid/maps" >"$T/maps"
	grep -q proxsmtpd "$T/maps"
	! grep -E 'libssl|libcrypto|proxsmtpd-tls' "$T/maps"
	wait "$client"
	grep -q '^221' "$T/out"
}

@test "swaks --tls-on-connect fails: the proxy speaks SMTP first, nothing is relayed" {
	start_sink
	tls_conf "TimeOut: 5"
	start_proxy
	run swaks_send --tls-on-connect
	[ "$status" -ne 0 ]
	[ "$(sink_count)" -eq 0 ]
	# The ClientHello is read as a line of junk: refused, the client
	# gives up, the session ends as a lost connection.
	[ "$(session_status)" = 1 ]
	grep -q 'refused a command with a control character' "$PROXY_LOG"
}

@test "Python ssl client: the filter sees TLS_PROTOCOL and TLS_CIPHER, Header %t has them" {
	start_sink -d "$T/sink/m."
	tls_conf "FilterCommand: $(env_filter)" 'Header: X-TLS: %t'
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send
	echo "$output"
	[ "$status" -eq 0 ]
	read -r _ proto cipher <<<"$(grep '^tls ' <<<"$output")"
	[ -n "$proto" ] && [ -n "$cipher" ]
	grep -qx "TLS_PROTOCOL=$proto" "$T/env.out"
	grep -qx "TLS_CIPHER=$cipher" "$T/env.out"
	sink_message | tr -d '\r' | grep -qx "X-TLS: $proto $cipher"
}

@test "a plaintext session: no TLS_ variables, Header %t says none" {
	start_sink
	tls_conf "FilterCommand: $(env_filter)" 'Header: X-TLS: %t'
	start_proxy
	swaks_send
	! grep -q '^TLS_' "$T/env.out"
	sink_message | tr -d '\r' | grep -qx "X-TLS: none"
}

@test "TLSProtocols: a client capped below the minimum cannot connect; <=TLSv1.2 gives TLSv1.2" {
	start_sink
	tls_conf "TLSProtocols: >=TLSv1.3"
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send TLSv1.2
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(sink_count)" -eq 0 ]
	grep -q 'STARTTLS: handshake with 127.0.0.1 failed' "$PROXY_LOG"
	stop_tracked
	start_sink
	tls_conf "TLSProtocols: <=TLSv1.2" "FilterCommand: $(env_filter)"
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send
	echo "$output"
	grep -q '^tls TLSv1.2 ' <<<"$output"
	grep -qx 'TLS_PROTOCOL=TLSv1.2' "$T/env.out"
}

@test "CVE-2011-0411: commands sent with STARTTLS in plaintext are discarded, never run inside TLS" {
	start_sink
	tls_conf
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" cve
	echo "$output"
	# Inside TLS the only reply is QUIT's: none for the injected RSET.
	[ "$(sed -n '/^> QUIT$/,$p' <<<"$output" | grep -c '^< ')" -eq 1 ]
	sed -n '/^> QUIT$/,$p' <<<"$output" | grep -q '^< 221'
	grep -q 'discarded 6 bytes 127.0.0.1 sent after STARTTLS' "$PROXY_LOG"
}

@test "TLSRequire: MAIL and AUTH before STARTTLS get 530 5.7.0, after it mail flows" {
	start_sink
	tls_conf "TLSRequire: on"
	start_proxy
	printf 'EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nAUTH PLAIN AGFAYg==\r\nQUIT\r\n' |
		smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(grep -c '^530 5.7.0 Must issue a STARTTLS command first' "$T/out")" -eq 2 ]
	# smtp-sink offers AUTH: hidden before TLS.
	! grep -q AUTH "$T/out"
	[ "$(sink_count)" -eq 0 ]
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send
	echo "$output"
	grep -q '^< 250-AUTH' <<<"$output"
	grep -q '^< 250 2.0.0' <<<"$output" || grep -q '^< 250 Ok' <<<"$output"
	[ "$(sink_count)" -eq 1 ]
}

@test "STARTTLS with a parameter 501, in a transaction 503, twice 503, MAIL before a new EHLO 503" {
	start_sink
	tls_conf
	start_proxy
	printf 'EHLO client.test\r\nSTARTTLS now\r\nMAIL FROM:<a@sender.test>\r\nSTARTTLS\r\nQUIT\r\n' |
		smtp_raw >"$T/out"
	cat "$T/out"
	grep -q '^501 5.5.4 Syntax: STARTTLS' "$T/out"
	grep -q '^503 5.5.1 Error: MAIL transaction in progress' "$T/out"
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" twice
	echo "$output"
	grep -q '^< 503 5.5.1 Error: TLS already active' <<<"$output"
	grep -q '^< 221' <<<"$output"
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" nohelo
	echo "$output"
	grep -q '^< 503 5.5.1 Error: send HELO/EHLO first' <<<"$output"
	[ "$(sink_count)" -eq 0 ]
}

@test "a failed handshake (plaintext after 220) ends the session, logged, nothing relayed" {
	start_sink
	tls_conf
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" garbage
	echo "$output"
	grep -q '^closed' <<<"$output"
	[ "$(session_status)" = 1 ]
	grep -q 'STARTTLS: handshake with 127.0.0.1 failed: handshake: ' "$PROXY_LOG"
	[ "$(sink_count)" -eq 0 ]
}

@test "a handshake that never comes ends at TimeOut, logged" {
	start_sink
	tls_conf "TimeOut: 2"
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" silent
	echo "$output"
	grep -q '^closed' <<<"$output"
	[ "$(session_status)" = 1 ]
	grep -q 'STARTTLS: handshake with 127.0.0.1 failed: timeout' "$PROXY_LOG"
}

@test "no TLS module, or a key that does not fit: 454 4.7.0 and a log line, the session goes on" {
	start_sink
	write_conf "TLSCertificate: $CERTS/server.pem" "TLSModule: /nonexistent/proxsmtpd-tls.so"
	start_proxy
	printf 'EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n' | smtp_raw >"$T/out"
	cat "$T/out"
	grep -q '^454 4.7.0 TLS not available due to local problem' "$T/out"
	grep -q '^221' "$T/out"
	grep -q 'STARTTLS: cannot load TLS module: /nonexistent/proxsmtpd-tls.so' "$PROXY_LOG"
	stop_tracked
	start_sink
	tls_conf
	sed -i "s|^TLSKey: .*|TLSKey: $CERTS/wrong.key|" "$CONF"
	start_proxy
	printf 'EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n' | smtp_raw >"$T/out"
	grep -q '^454 4.7.0' "$T/out"
	grep -q "STARTTLS: TLSKey $CERTS/wrong.key" "$PROXY_LOG"
}

@test "certificate and key in one file (TLSKey unset), under the -S sandbox" {
	start_sink
	write_conf "TLSCertificate: $CERTS/combined.pem" "TLSModule: $MODULE"
	start_proxy -S
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "configuration: TLSKey or TLSRequire without TLSCertificate, a bad TLSProtocols, verify without a name" {
	start_sink
	write_conf "TLSKey: $CERTS/server.key"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 100 ]
	[[ "$output" == *"TLSKey needs a TLSCertificate"* ]]
	write_conf "TLSRequire: on"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 100 ]
	write_conf "TLSCertificate: $CERTS/server.pem" "TLSProtocols: >=TLSv9"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 100 ]
	[[ "$output" == *":4: TLSProtocols: expected"* ]]
	write_conf "OutAddress: 2525" "OutTLS: verify"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 100 ]
	[[ "$output" == *"OutTLS verify needs OutTLSName"* ]]
	write_conf "OutTLS: sometimes"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 100 ]
	# (-t reads the files: certificate and key in one, the module at hand)
	write_conf "TLSCertificate: $CERTS/combined.pem" "TLSProtocols: !SSLv3, !TLSv1 >=TLSv1.2" \
		"OutTLS: may" "TLSModule: $MODULE"
	run "$PROXSMTPD" -t -f "$CONF"
	[ "$status" -eq 0 ]
	grep -qx "OutTLS: may" <<<"$output"
	grep -qx "TLSProtocols: !SSLv3, !TLSv1 >=TLSv1.2" <<<"$output"
}

# ---- outbound --------------------------------------------------------------

@test "OutTLS verify to aiosmtpd (require_starttls): a plaintext client's mail goes over TLS" {
	start_aio_tls require
	out_conf verify "OutTLSCAFile: $CERTS/ca.pem" "OutTLSName: mx.example.test"
	start_proxy
	run swaks_send --server "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[ "$(aio_count)" -eq 1 ]
	grep -q '^TLS TLSv1.[23] ' "$T/aio/1.env"
	grep -q 'TLS to upstream 127.0.0.1:[0-9]* (OutTLS verify): TLSv1' "$PROXY_LOG"
}

@test "OutTLS verify: the name defaults to OutAddress's host (127.0.0.1 is in the certificate)" {
	start_aio_tls
	out_conf verify "OutTLSCAFile: $CERTS/ca.pem"
	start_proxy
	swaks_send
	[ "$(aio_count)" -eq 1 ]
	grep -q '^TLS TLSv1' "$T/aio/1.env"
}

@test "both legs: a TLS client relayed over TLS" {
	start_aio_tls require
	out_conf encrypt "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/server.key"
	start_proxy
	run "$CLIENT" "$PORT" "$CERTS/ca.pem" send
	echo "$output"
	[ "$(aio_count)" -eq 1 ]
	grep -q '^TLS TLSv1' "$T/aio/1.env"
	grep -q 'STARTTLS from 127.0.0.1' "$PROXY_LOG"
	grep -q 'TLS to upstream' "$PROXY_LOG"
}

@test "OutTLS verify with a wrong name: 421 4.7.0, logged, nothing delivered" {
	start_aio_tls
	out_conf verify "OutTLSCAFile: $CERTS/ca.pem" "OutTLSName: wrong.example.test"
	start_proxy
	run swaks_send
	[ "$status" -ne 0 ]
	grep -q '^<\*\* 421 4.7.0 ' "$T/swaks.out"
	[ "$(aio_count)" -eq 0 ]
	grep -q 'OutTLS verify: handshake with upstream .* failed: .*certificate verification failed: hostname mismatch: nothing relayed' "$PROXY_LOG"
	[ "$(session_status)" = 111 ]
}

@test "OutTLS verify with a certificate of an unknown CA: 421 4.7.0, nothing delivered" {
	start_aio_tls
	out_conf verify "OutTLSCAFile: $CERTS/other-ca.pem" "OutTLSName: mx.example.test"
	start_proxy
	run swaks_send
	grep -q '^<\*\* 421 4.7.0 ' "$T/swaks.out"
	[ "$(aio_count)" -eq 0 ]
	grep -q 'certificate verification failed: unable to get local issuer certificate' "$PROXY_LOG"
}

@test "OutTLS encrypt, STARTTLS not offered: 421 4.7.0, nothing delivered; may: plaintext" {
	start_aio_tls notls
	out_conf encrypt
	start_proxy
	run swaks_send
	grep -q '^<\*\* 421 4.7.0 ' "$T/swaks.out"
	[ "$(aio_count)" -eq 0 ]
	grep -q 'OutTLS encrypt: upstream .* does not offer STARTTLS .*: nothing relayed' "$PROXY_LOG"
	out_conf may
	run swaks_send
	[ "$status" -eq 0 ]
	[ "$(aio_count)" -eq 1 ]
	grep -qx 'TLS none' "$T/aio/1.env"
}

@test "OutTLS may to Postfix (smtpd_tls_security_level=may): Postfix logs the TLS connection, XCLIENT after it" {
	postfix_start "$T/pf" PF_TLS
	write_conf "OutAddress: 127.0.0.1:$PF_TLS" "OutTLS: may" "TLSModule: $MODULE" \
		"XClient: on"
	start_proxy
	run swaks_send
	postfix_stop
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$PF_DIR/maillog"
	grep -q 'postfix/smtpd\[[0-9]*\]: Anonymous TLS connection established from localhost\[127.0.0.1\]' "$PF_DIR/maillog"
	# XCLIENT went inside TLS and held: the client is the one it named
	# (NAME=[UNAVAILABLE]: "unknown"), not the proxy's own "localhost".
	grep -q 'postfix/smtpd\[[0-9]*\]: [0-9A-F]*: client=unknown\[127.0.0.1\]' "$PF_DIR/maillog"
	grep -q 'disconnect from .* ehlo=3 xclient=[0-9/]* starttls=1 ' "$PF_DIR/maillog"
	ls "$PF_DIR/mail/inbox/new" | grep -q .
	grep -q 'TLS to upstream 127.0.0.1:[0-9]* (OutTLS may)' "$PROXY_LOG"
}

@test "a 4 MB message through TLS on both legs arrives whole" {
	start_aio_tls require
	out_conf encrypt "TLSCertificate: $CERTS/combined.pem"
	start_proxy
	head -c 3000000 /dev/urandom | base64 -w 76 >"$T/body"
	run swaks_send --tls --body "$T/body"
	[ "$status" -eq 0 ]
	[ "$(aio_count)" -eq 1 ]
	grep -q '^TLS TLSv1' "$T/aio/1.env"
	# The body as aiosmtpd stored it, after the header swaks wrote, is
	# the body sent, byte for byte (line ends aside), then the empty
	# line swaks ends it with.
	tr -d '\r' <"$T/aio/1.msg" | sed '1,/^$/d' >"$T/got"
	size=$(stat -c %s "$T/body")
	cmp <(head -c "$size" "$T/got") "$T/body"
	[ -z "$(tail -c +"$((size + 1))" "$T/got" | tr -d '\n')" ]
}

# ---- proxsmtpd -t ------------------------------------------------------------

# tcheck SETTING-LINES...: proxsmtpd -t on a configuration with them.
tcheck() {
	SINK_PORT=25 write_conf "$@"
	run --separate-stderr "$PROXSMTPD" -t -f "$CONF"
	echo "status $status"; echo "stdout: $output"; echo "stderr: $stderr"
}

@test "-t loads the module and reads the certificate and key, as a session's STARTTLS would" {
	tcheck "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/server.key" "TLSModule: $MODULE"
	[ "$status" -eq 0 ]
	grep -qx "TLSCertificate: $CERTS/server.pem" <<<"$output"
	# certificate and key in one file
	tcheck "TLSCertificate: $CERTS/combined.pem" "TLSModule: $MODULE"
	[ "$status" -eq 0 ]
}

@test "-t refuses a missing key, a key of another certificate, a cipher list OpenSSL refuses, a module that cannot load" {
	tcheck "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/nonexistent.key" "TLSModule: $MODULE"
	[ "$status" -ne 0 ] && [ -z "$output" ]
	grep -q "TLS: .*$CERTS/nonexistent.key" <<<"$stderr"
	tcheck "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/wrong.key" "TLSModule: $MODULE"
	[ "$status" -ne 0 ] && [ -z "$output" ]
	grep -q "TLS: .*$CERTS/wrong.key" <<<"$stderr"
	tcheck "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/server.key" \
		"TLSCiphers: NO-SUCH-CIPHER" "TLSModule: $MODULE"
	[ "$status" -ne 0 ] && [ -z "$output" ]
	grep -q "TLS: TLSCiphers: .*no cipher match" <<<"$stderr"
	tcheck "TLSCertificate: $CERTS/server.pem" "TLSKey: $CERTS/server.key" \
		"TLSModule: $T/no-such-module.so"
	[ "$status" -ne 0 ] && [ -z "$output" ]
	grep -q "TLS: cannot load TLS module: .*no-such-module.so" <<<"$stderr"
}

@test "-t checks OutTLS's CA file; without any TLS setting it never loads the module" {
	tcheck "OutTLS: verify" "OutTLSCAFile: $CERTS/ca.pem" "TLSModule: $MODULE"
	[ "$status" -eq 0 ]
	tcheck "OutTLS: verify" "OutTLSCAFile: $CERTS/no-such-ca.pem" "TLSModule: $MODULE"
	[ "$status" -ne 0 ] && [ -z "$output" ]
	grep -q "TLS: .*no-such-ca.pem" <<<"$stderr"
	# No TLS asked for: a module that is not there does not matter.
	tcheck "TLSModule: $T/no-such-module.so"
	[ "$status" -eq 0 ]
}
