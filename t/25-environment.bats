#!/usr/bin/env bats
# What the filter sees: exactly the documented environment (PATH, CLIENT,
# EMAIL, RECIPIENTS, REMOTE, REMOTE_HELO, SENDER, SERVER, TMPDIR), values
# taken from the session, hostile values never executed, control bytes kept
# out, fds 0-2 only, its own process group; and the Header setting.

load helpers

local_setup() {
	start_sink -v
}

# --- local helpers ---------------------------------------------------------

# A FilterCommand that records its environment (NUL-separated, since
# RECIPIENTS holds newlines) in $T/env0 and passes the message on.
env_filter() { echo "FilterCommand: env -0 >$T/env0; cat"; }

# The names in $T/env0, sorted, one a line.
env_names() {
	local kv
	while IFS= read -r -d '' kv; do echo "${kv%%=*}"; done <"$T/env0" | sort
}

# The value of NAME in $T/env0; status 1 when it is absent.
env_val() {
	local kv
	while IFS= read -r -d '' kv; do
		if [[ "$kv" == "$1="* ]]; then
			printf '%s' "${kv#*=}"
			return 0
		fi
	done <"$T/env0"
	return 1
}

sink_commands() {
	sed -n 's/^smtp-sink: //p' "$T/sink.log" |
		grep -E '^(HELO|EHLO|MAIL|RCPT|DATA|RSET|NOOP|QUIT|VRFY|XFORWARD|\.)( |$)'
}

raw_msg() { # FROM TO LINES...
	printf 'MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' "$1" "$2"
	shift 2
	printf '%s\r\n' "$@"
	printf '.\r\n'
}

data_replies() { # FILE
	tr -d '\r' <"$1" | awk 'want { print; want = 0 } /^354 / { want = 1 }'
}

# The proxy listening on another loopback address, so that the client's
# address (%i, CLIENT) and the local one (%l) differ.
start_proxy_at() { # ADDR
	PORT=$(free_port)
	systemd-socket-activate -l "$1:$PORT" --inetd \
		-a "$PROXSMTPD" -d 4 -f "$CONF" 2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# The message as the upstream got it, without smtp-sink's own headers and
# without the empty line smtp-sink adds after each message.
got_message() { sink_message | sed '$d'; }

# --- the environment -----------------------------------------------------------

@test "pipe filter environment: exactly PATH CLIENT RECIPIENTS SENDER SERVER TMPDIR (+ the shell's PWD)" {
	# The proxy itself runs with the launcher's and the test's environment
	# (LISTEN_*, BATS_*, HOME...): none of it may reach the filter.
	# PWD is not the proxy's: POSIX requires sh to set it at start-up and
	# dash (Debian's /bin/sh) exports it, so every `sh -c` filter sees it.
	write_conf "$(env_filter)"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	env_names >"$T/names"
	cat "$T/names"
	[ "$(tr '\n' ' ' <"$T/names")" = "CLIENT PATH PWD RECIPIENTS SENDER SERVER TMPDIR " ]
	[[ ":$(env_val PATH):" == *:/usr/bin:* ]]
}

@test "file filter environment: EMAIL in addition, naming a 0600 file in TempDirectory holding the message" {
	write_conf 'FilterType: file' \
		"FilterCommand: env -0 >$T/env0; stat -c %a \"\$EMAIL\" >$T/mode; cp \"\$EMAIL\" $T/copy"
	start_proxy
	run swaks_send --header 'Subject: file mode' --body 'the body'
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(env_names | tr '\n' ' ')" = "CLIENT EMAIL PATH PWD RECIPIENTS SENDER SERVER TMPDIR " ]
	email=$(env_val EMAIL)
	echo "EMAIL=$email"
	[ "$(dirname "$email")" = "$SPOOL" ]
	[ "$(cat "$T/mode")" = 600 ]
	grep -q '^Subject: file mode' "$T/copy"
	grep -q '^the body' "$T/copy"
	wait_sessions
	[ ! -e "$email" ]
	no_temp_files
}

@test "CLIENT is the client's address, SERVER the upstream's ip:port" {
	write_conf "$(env_filter)"
	start_proxy
	run swaks_send
	[ "$(env_val CLIENT)" = 127.0.0.1 ]
	[ "$(env_val SERVER)" = "127.0.0.1:$SINK_PORT" ]
}

@test "CLIENT follows the real client address (client 127.0.0.3 to a proxy on 127.0.0.2)" {
	write_conf "$(env_filter)"
	start_proxy_at 127.0.0.2
	swaks --server "127.0.0.2:$PORT" --local-interface 127.0.0.3 --helo c.test \
		--from a@s.test --to b@r.test --timeout 20 >"$T/swaks.out" 2>&1
	cat "$T/swaks.out"
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(env_val CLIENT)" = 127.0.0.3 ]
}

@test "TMPDIR is the TempDirectory setting" {
	mkdir -m 700 "$T/other-tmp"
	write_conf "$(env_filter)" "TempDirectory: $T/other-tmp"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	[ "$(env_val TMPDIR)" = "$T/other-tmp" ]
}

@test "SENDER is the envelope sender without brackets" {
	write_conf "$(env_filter)"
	start_proxy
	FROM=alice@sender.test run swaks_send
	[ "$(env_val SENDER)" = alice@sender.test ]
	[ "$(env_val RECIPIENTS)" = bob@example.test ]
}

@test "SENDER is present and empty for the null sender <>" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg '' bob@r.test 'Subject: bounce' '' 'a bounce'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	env_val SENDER >"$T/sender"
	[ ! -s "$T/sender" ]
	grep -qz '^SENDER=$' "$T/env0"
}

@test "REMOTE and REMOTE_HELO come from an XFORWARD the upstream accepted" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=mx.remote.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	sink_commands | grep -qx 'XFORWARD ADDR=10.1.2.3 HELO=mx.remote.test'
	[ "$(env_val REMOTE)" = 10.1.2.3 ]
	[ "$(env_val REMOTE_HELO)" = mx.remote.test ]
	[ "$(env_names | tr '\n' ' ')" = "CLIENT PATH PWD RECIPIENTS REMOTE REMOTE_HELO SENDER SERVER TMPDIR " ]
}

@test "XFORWARD attributes given in two commands are both kept" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.9.8.7\r\nXFORWARD HELO=two.remote.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(env_val REMOTE)" = 10.9.8.7 ]
	[ "$(env_val REMOTE_HELO)" = two.remote.test ]
}

@test "an IPv6 XFORWARD ADDR gives REMOTE without the IPV6: prefix" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=IPV6:2001:db8::25 HELO=v6.remote.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(env_val REMOTE)" = 2001:db8::25 ]
}

@test "REMOTE and REMOTE_HELO are absent when the client sent no XFORWARD" {
	write_conf "$(env_filter)"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	! env_val REMOTE || false
	! env_val REMOTE_HELO || false
}

@test "REMOTE and REMOTE_HELO are absent when XFORWARD says [UNAVAILABLE]" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=[UNAVAILABLE] HELO=[UNAVAILABLE]\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	! env_val REMOTE || false
	! env_val REMOTE_HELO || false
}

@test "REMOTE and REMOTE_HELO are absent when the upstream rejected XFORWARD (smtp-sink -F)" {
	# Restart the upstream without XFORWARD support.
	kill "$(head -1 "$PIDFILE_LIST")"
	wait_gone "$(head -1 "$PIDFILE_LIST")"
	start_sink -v -F
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=mx.remote.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	# The client gets the upstream's refusal; the session goes on.
	tr -d '\r' <"$T/out" | grep -q '^5[0-9][0-9] '
	! tr -d '\r' <"$T/out" | grep -q '^250-XFORWARD' || false
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	[ -s "$T/env0" ]
	! env_val REMOTE || false
	! env_val REMOTE_HELO || false
}

@test "XFORWARD attributes apply to one transaction: the next message without XFORWARD has none" {
	write_conf "FilterCommand: env -0 >$T/env0.\$SENDER; cat"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=mx.remote.test\r\n'
		raw_msg one@s.test b@r.test 'Subject: 1' '' 'x'
		raw_msg two@s.test b@r.test 'Subject: 2' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	cp "$T/env0.one@s.test" "$T/env0"
	[ "$(env_val REMOTE)" = 10.1.2.3 ]
	cp "$T/env0.two@s.test" "$T/env0"
	! env_val REMOTE || false
	! env_val REMOTE_HELO || false
}

@test "xtext in XFORWARD values is decoded (+2B, +3D, +20)" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=mx+2Bplus+3Dequals+20space.remote.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(env_val REMOTE_HELO)" = 'mx+plus=equals space.remote.test' ]
}

@test "xtext-encoded control bytes in XFORWARD never reach the environment (each becomes ?)" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=evil+0AREMOTE=1.2.3.4+0D+1B+00+7Fend\r\n'
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[ "$(env_val REMOTE_HELO)" = 'evil?REMOTE=1.2.3.4????end' ]
	[ "$(env_val REMOTE)" = 10.1.2.3 ]
}

# --- hostile values --------------------------------------------------------------

@test "shell metacharacters in sender and recipients are never executed" {
	# A properly quoting filter: "$SENDER", "$RECIPIENTS".
	write_conf "FilterCommand: printf '%s\\n' \"\$SENDER\" >$T/sender; printf '%s\\n' \"\$RECIPIENTS\" >$T/rcpts; cat"
	start_proxy
	sender="\"a b;\$(touch $T/pwn-sender)\`touch $T/pwn-bt\`'q'|x&y\"@x.test"
	rcpt1="\"r;\$(touch $T/pwn-rcpt)\"@r.test"
	rcpt2="\$(touch\${IFS}$T/pwn-rcpt2)@r.test"
	{
		printf 'EHLO c.test\r\n'
		printf 'MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' "$sender" "$rcpt1" "$rcpt2"
		printf 'Subject: hostile\r\n\r\nbody\r\n.\r\nQUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	[ "$(cat "$T/sender")" = "$sender" ]
	[ "$(cat "$T/rcpts")" = "$(printf '%s\n%s' "$rcpt1" "$rcpt2")" ]
	wait_sessions
	ls "$T"
	[ ! -e "$T/pwn-sender" ]
	[ ! -e "$T/pwn-bt" ]
	[ ! -e "$T/pwn-rcpt" ]
	[ ! -e "$T/pwn-rcpt2" ]
}

@test "control bytes never reach SENDER or RECIPIENTS: such commands are refused and not relayed" {
	write_conf "$(env_filter)"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		printf 'MAIL FROM:<esc\033bad@s.test>\r\n'
		printf 'MAIL FROM:<clean@s.test>\r\n'
		printf 'RCPT TO:<soh\001bad@r.test>\r\n'
		printf 'RCPT TO:<cr\rbad@r.test>\r\n'
		printf 'RCPT TO:<del\177bad@r.test>\r\n'
		printf 'RCPT TO:<nul\000bad@r.test>\r\n'
		# TAB passes the command check, but no address has one.
		printf 'RCPT TO:<tab\tbad@r.test>\r\n'
		printf 'RCPT TO:<good@r.test>\r\n'
		printf 'DATA\r\nSubject: ctl\r\n\r\nbody\r\n.\r\nQUIT\r\n'
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(tr -d '\r' <"$T/out" | grep -c '^500 5.5.2 ')" -eq 5 ]
	[ "$(tr -d '\r' <"$T/out" | grep -c '^501 5.5.4 Syntax: RCPT TO:<address>')" -eq 1 ]
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	[ "$(env_val SENDER)" = clean@s.test ]
	[ "$(env_val RECIPIENTS)" = good@r.test ]
	# No byte below 32 but NUL (the separator) and LF (RECIPIENTS is single
	# here, so none at all in fact), no DEL.
	! tr -d '\000' <"$T/env0" | LC_ALL=C grep -q '[[:cntrl:]]' || false
	! sink_commands | grep -q bad || false
}

# --- client values in the environment: sanitised as documented ----------------
#
# What a client sends and what of it the filter sees (proxsmtpd(8),
# ENVIRONMENT; src/session.c): a command line with a control byte other
# than TAB is refused whole with 500 and relayed nowhere, so none reaches
# SENDER or RECIPIENTS; so is a line over 2048 bytes with its CRLF ("line
# too long"); an address of 1024 bytes or more gets 501. XFORWARD values are
# xtext-decoded, a decoded control byte becoming "?", and kept to their
# first 1023 bytes. Everything else ("=", bytes above 127) arrives byte for
# byte. The client's own HELO/EHLO name is in no variable at all.

# A FilterCommand that keeps the environment of each message it sees in
# $T/env.1, $T/env.2... (NUL-separated) and passes the message on.
env_each_filter() {
	echo "FilterCommand: read n <$T/count || n=0; n=\$((n + 1)); echo \$n >$T/count; env -0 >$T/env.\$n; cat"
}

# The lines given, each with CRLF, their bytes as they are.
crlf() { printf '%s\r\n' "$@"; }

# N bytes of the character C.
bytes() { head -c "$2" /dev/zero | tr '\0' "$1"; }

# env_is N NAME VALUE: in the environment of message N, NAME holds exactly
# these bytes.
env_is() {
	cp "$T/env.$1" "$T/env0"
	env_val "$2" >"$T/val" || { echo "message $1: no $2" >&2; return 1; }
	printf '%s' "$3" | cmp - "$T/val"
}

# The reply codes in FILE, one a command (EHLO's 250- lines left out).
reply_codes() { tr -d '\r' <"$1" | grep -v '^250-' | awk '{ printf "%s ", $1 }'; }

# The standard set of names: nothing the client sent adds one.
names_are_standard() { # N [REMOTE REMOTE_HELO]
	cp "$T/env.$1" "$T/env0"
	[ "$(env_names | tr '\n' ' ')" = "CLIENT PATH PWD RECIPIENTS ${2:+$2 }${3:+$3 }SENDER SERVER TMPDIR " ]
}

@test "client values: the HELO/EHLO name reaches no variable, whatever its bytes; control bytes and overlong lines are refused" {
	write_conf "$(env_each_filter)"
	start_proxy
	# "EHLO " and 2041 bytes: the longest line (2046 + CRLF = 2048).
	long=$(bytes h 2041)
	{
		crlf $'EHLO soh\x01x' $'EHLO esc\x1bx' $'EHLO del\x7fx' $'HELO cr\rx'
		crlf "EHLO x$long"
		crlf "EHLO $long"
		crlf $'EHLO id=evil\xff\xfe.test'
		raw_msg a@s.test b@r.test 'Subject: helo' '' 'x'
		crlf QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(reply_codes "$T/out")" = "220 500 500 500 500 500 250 250 250 250 354 250 221 " ]
	[ "$(tr -d '\r' <"$T/out" | grep -c '^500 5.5.2 Error: invalid character in command$')" -eq 4 ]
	tr -d '\r' <"$T/out" | grep -qx '500 5.5.2 Error: line too long'
	# Only the two clean names went upstream.
	[ "$(sink_commands | grep -c '^EHLO\|^HELO')" -eq 2 ]
	# The filter sees the usual names, and no value holds either name.
	names_are_standard 1
	! grep -aq 'id=evil\|hhhhhhhh' "$T/env.1" || false
}

@test "client values: SENDER keeps '=', bytes above 127 and 1023 bytes as sent; control bytes, 1024 bytes and overlong lines are refused" {
	write_conf "$(env_each_filter)"
	start_proxy
	a1023="$(bytes s 1013)@long.test"
	{
		crlf 'EHLO c.test'
		crlf $'MAIL FROM:<soh\x01@s.test>' $'MAIL FROM:<esc\x1b@s.test>' \
			$'MAIL FROM:<del\x7f@s.test>' $'MAIL FROM:<cr\r@s.test>'
		crlf "MAIL FROM:<x$a1023>"
		crlf "MAIL FROM:<$(bytes x 2040)>"
		raw_msg 'SRS0=HHH=TT=example.org=user@fwd.test' b@r.test 'Subject: 1' '' 'x'
		raw_msg $'\xff\xfeuser@s.test' b@r.test 'Subject: 2' '' 'x'
		raw_msg "$a1023" b@r.test 'Subject: 3' '' 'x'
		crlf QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(reply_codes "$T/out")" = "220 250 500 500 500 500 501 500 $(printf '250 250 354 250 %.0s' 1 2 3)221 " ]
	[ "$(tr -d '\r' <"$T/out" | grep -c '^500 5.5.2 Error: invalid character in command$')" -eq 4 ]
	tr -d '\r' <"$T/out" | grep -q '^501 5.5.4 Syntax: MAIL FROM:<address>'
	tr -d '\r' <"$T/out" | grep -qx '500 5.5.2 Error: line too long'
	# Only the three good ones went upstream.
	[ "$(sink_commands | grep -c '^MAIL')" -eq 3 ]
	[ "${#a1023}" -eq 1023 ]
	env_is 1 SENDER 'SRS0=HHH=TT=example.org=user@fwd.test'
	env_is 2 SENDER $'\xff\xfeuser@s.test'
	env_is 3 SENDER "$a1023"
	for n in 1 2 3; do names_are_standard $n; done
}

@test "client values: RECIPIENTS keeps '=', bytes above 127 and 1023 bytes as sent; control bytes, 1024 bytes and overlong lines are refused" {
	write_conf "$(env_each_filter)"
	start_proxy
	a1023="$(bytes r 1013)@long.test"
	{
		crlf 'EHLO c.test' 'MAIL FROM:<a@s.test>'
		crlf $'RCPT TO:<soh\x01@r.test>' $'RCPT TO:<esc\x1b@r.test>' \
			$'RCPT TO:<del\x7f@r.test>' $'RCPT TO:<cr\r@r.test>'
		crlf "RCPT TO:<x$a1023>"
		crlf "RCPT TO:<$(bytes x 2040)>"
		crlf 'RCPT TO:<a=b=c@r.test>' $'RCPT TO:<\xff\xfe@r.test>' "RCPT TO:<$a1023>"
		crlf DATA 'Subject: rcpts' '' 'x' . QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(reply_codes "$T/out")" = "220 250 250 500 500 500 500 501 500 250 250 250 354 250 221 " ]
	tr -d '\r' <"$T/out" | grep -q '^501 5.5.4 Syntax: RCPT TO:<address>'
	[ "$(sink_commands | grep -c '^RCPT')" -eq 3 ]
	env_is 1 RECIPIENTS $'a=b=c@r.test\n\xff\xfe@r.test\n'"$a1023"
	names_are_standard 1
}

@test "client values: XFORWARD with raw control bytes or an overlong line is refused and relayed nowhere" {
	write_conf "$(env_each_filter)"
	start_proxy
	{
		crlf 'EHLO c.test'
		crlf $'XFORWARD HELO=soh\x01' $'XFORWARD HELO=esc\x1b' \
			$'XFORWARD ADDR=10.0.0.1\x7f' $'XFORWARD HELO=cr\rx'
		# "XFORWARD HELO=" and 2033 bytes: one too many for a line.
		crlf "XFORWARD HELO=$(bytes L 2033)"
		raw_msg a@s.test b@r.test 'Subject: xf' '' 'x'
		crlf QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(reply_codes "$T/out")" = "220 250 500 500 500 500 500 250 250 354 250 221 " ]
	tr -d '\r' <"$T/out" | grep -qx '500 5.5.2 Error: line too long'
	[ "$(sink_commands | grep -c '^XFORWARD')" -eq 0 ]
	# None of it reached the filter.
	names_are_standard 1
}

@test "client values: XFORWARD ADDR and HELO: xtext control bytes become ?, '=' and bytes above 127 are kept, other attributes reach no variable" {
	write_conf "$(env_each_filter)"
	start_proxy
	{
		crlf 'EHLO c.test'
		crlf 'XFORWARD ADDR=10.0.0.1+01+1B+7F+0D+0A+00 HELO=a+01b+1Bc+7Fd+0De+0Af+00g NAME=n+0Aname-attr.test PROTO=ESMTP+0Dproto-attr SOURCE=REMOTE IDENT=ident-attr+01'
		raw_msg a@s.test b@r.test 'Subject: 1' '' 'x'
		crlf $'XFORWARD ADDR=10.0.0.2=x HELO=eq=raw+3Dxtext\xff\xfe+FF+FEend'
		raw_msg a@s.test b@r.test 'Subject: 2' '' 'x'
		crlf QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(reply_codes "$T/out")" = "220 250 250 250 250 354 250 250 250 250 354 250 221 " ]
	# Relayed as the client sent them: the upstream decides.
	[ "$(sink_commands | grep -c '^XFORWARD')" -eq 2 ]
	env_is 1 REMOTE '10.0.0.1??????'
	env_is 1 REMOTE_HELO 'a?b?c?d?e?f?g'
	names_are_standard 1 REMOTE REMOTE_HELO
	! grep -aq 'attr' "$T/env.1" || false
	env_is 2 REMOTE '10.0.0.2=x'
	env_is 2 REMOTE_HELO $'eq=raw=xtext\xff\xfe\xff\xfeend'
	names_are_standard 2 REMOTE REMOTE_HELO
}

@test "client values: XFORWARD values are kept to their first 1023 bytes, up to the longest line" {
	write_conf "$(env_each_filter)"
	start_proxy
	{
		crlf 'EHLO c.test'
		# The longest line: "XFORWARD HELO=" and 2032 bytes.
		crlf "XFORWARD HELO=$(bytes L 1000)$(bytes M 1032)"
		raw_msg a@s.test b@r.test 'Subject: 1' '' 'x'
		# 677 xtext bytes in 2031 characters: all of them kept.
		crlf "XFORWARD ADDR=$(printf '+41%.0s' $(seq 677))"
		raw_msg a@s.test b@r.test 'Subject: 2' '' 'x'
		# Exactly 1023 bytes: whole.
		crlf "XFORWARD HELO=$(bytes N 1023)"
		raw_msg a@s.test b@r.test 'Subject: 3' '' 'x'
		crlf QUIT
	} | smtp_raw >"$T/out"
	cat -A "$T/out" | cut -c1-100
	[ "$(reply_codes "$T/out")" = "220 250 $(printf '250 250 250 354 250 %.0s' 1 2 3)221 " ]
	env_is 1 REMOTE_HELO "$(bytes L 1000)$(bytes M 23)"
	env_is 2 REMOTE "$(bytes A 677)"
	env_is 3 REMOTE_HELO "$(bytes N 1023)"
}

# --- process hygiene ---------------------------------------------------------------

@test "the filter has only fds 0, 1 and 2 open (pipe mode)" {
	# The listing is made by a child, so that no redirection of the filter's
	# own shell (dash keeps a saved copy of a redirected fd) is counted.
	write_conf "FilterCommand: sh -c 'ls /proc/\$PPID/fd >$T/fds; ls -l /proc/\$PPID/fd >$T/fds.long'; cat"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	cat "$T/fds.long"
	[ "$(sort -n "$T/fds" | tr '\n' ' ')" = "0 1 2 " ]
	grep -q ' 0 -> pipe:' "$T/fds.long"
	grep -q ' 1 -> pipe:' "$T/fds.long"
	grep -q ' 2 -> pipe:' "$T/fds.long"
}

@test "the filter has only fds 0, 1 and 2 open (file mode)" {
	write_conf 'FilterType: file' "FilterCommand: sh -c 'ls /proc/\$PPID/fd >$T/fds; ls -l /proc/\$PPID/fd >$T/fds.long'; true"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	cat "$T/fds.long"
	[ "$(sort -n "$T/fds" | tr '\n' ' ')" = "0 1 2 " ]
}

@test "the filter runs in a process group of its own" {
	write_conf "FilterCommand: echo \$\$ >$T/pid; ps -o pgid= -p \$\$ >$T/pgid; ps -o pgid= -p \$PPID >$T/ppgid; cat"
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	pid=$(tr -d ' ' <"$T/pid")
	pgid=$(tr -d ' ' <"$T/pgid")
	ppgid=$(tr -d ' ' <"$T/ppgid")
	echo "filter $pid pgid $pgid, proxy's pgid $ppgid"
	[ -n "$pid" ]
	[ "$pgid" = "$pid" ]
	[ "$ppgid" != "$pgid" ]
}

# --- Header --------------------------------------------------------------------------

@test "Header: %i is the client's address, %l the local one" {
	write_conf 'Header: X-Seen: client=%i local=%l'
	start_proxy_at 127.0.0.2
	swaks --server "127.0.0.2:$PORT" --local-interface 127.0.0.3 --helo c.test \
		--from a@s.test --to b@r.test --timeout 20 >"$T/swaks.out" 2>&1
	cat "$T/swaks.out"
	[[ "$(data_reply)" == "250 "* ]]
	grep -qx 'X-Seen: client=127.0.0.3 local=127.0.0.2' "$(sink_file)"
}

@test "Header: %d is an RFC 5322 date" {
	write_conf 'Header: X-Date: %d'
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	d=$(sed -n 's/^X-Date: //p' "$(sink_file)")
	echo "date: $d"
	[[ "$d" =~ ^(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\ [0-9]{1,2}\ (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [+-][0-9]{4}$ ]]
	date -d "$d" >/dev/null
}

@test "Header: %% is a percent sign, an unknown %x is left alone" {
	write_conf 'Header: X-Pct: 100%% sure, %x stays'
	start_proxy
	run swaks_send
	[[ "$(data_reply)" == "250 "* ]]
	grep -qx 'X-Pct: 100% sure, %x stays' "$(sink_file)"
}

@test "Header: \\r\\n makes two header lines, \\t a tab (also as a folded continuation)" {
	write_conf 'Header: X-One: 1\r\nX-Two: a\tb\r\n\tfolded'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: esc' '' 'body'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	got_message >"$T/got"
	cat -A "$T/got"
	[ "$(cat "$T/got")" = "$(printf 'Subject: esc\nX-One: 1\nX-Two: a\tb\n\tfolded\n\nbody')" ]
}

@test "Header goes in at the end of the header block, before the first empty line" {
	write_conf 'Header: X-Added: yes'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: place' 'X-Last: header' '' 'body line' '' 'X-Not: a header'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	got_message >"$T/got"
	cat "$T/got"
	[ "$(cat "$T/got")" = "$(printf 'Subject: place\nX-Last: header\nX-Added: yes\n\nbody line\n\nX-Not: a header')" ]
	[ "$(grep -c '^X-Added' "$T/got")" -eq 1 ]
}

@test "Header goes in at the end of a message that has no empty line" {
	write_conf 'Header: X-Added: yes'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: no body' 'X-Only: headers'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	got_message >"$T/got"
	cat "$T/got"
	[ "$(cat "$T/got")" = "$(printf 'Subject: no body\nX-Only: headers\nX-Added: yes')" ]
}

@test "Header goes in first when the message starts with its empty line (no headers)" {
	write_conf 'Header: X-Added: yes'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test '' 'just a body'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	got_message >"$T/got"
	cat "$T/got"
	[ "$(cat "$T/got")" = "$(printf 'X-Added: yes\n\njust a body')" ]
}

@test "Header empty: nothing is added" {
	write_conf 'Header:'
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: plain' '' 'body'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	[ "$(got_message)" = "$(printf 'Subject: plain\n\nbody')" ]
}

@test "Header with a pipe filter: added after filtering, at the end of the filtered headers" {
	write_conf 'Header: X-Proxy: added' "FilterCommand: tee $T/filter-in | sed '1i X-Filter: yes'"
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: order' '' 'body'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	[[ "$(data_replies "$T/out")" == "250 "* ]]
	# The filter did not see the header: it is added on the way out.
	! grep -q 'X-Proxy' "$T/filter-in" || false
	got_message >"$T/got"
	cat "$T/got"
	[ "$(cat "$T/got")" = "$(printf 'X-Filter: yes\nSubject: order\nX-Proxy: added\n\nbody')" ]
}

@test "Header with a file filter: added after filtering" {
	write_conf 'Header: X-Proxy: added' 'FilterType: file' \
		"FilterCommand: cp \"\$EMAIL\" $T/filter-in; sed -i '1i X-Filter: yes' \"\$EMAIL\""
	start_proxy
	{
		printf 'EHLO c.test\r\n'
		raw_msg a@s.test b@r.test 'Subject: order' '' 'body'
		printf 'QUIT\r\n'
	} | smtp_raw >"$T/out"
	cat "$T/out"
	! grep -q 'X-Proxy' "$T/filter-in" || false
	[ "$(got_message)" = "$(printf 'X-Filter: yes\nSubject: order\nX-Proxy: added\n\nbody')" ]
}
