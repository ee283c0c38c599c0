#!/usr/bin/env bats
# One message through every way proxsmtpd can be started: systemd
# (StandardInput=socket and sd_listen_fds), xinetd, tcpserver and replay
# from a file; golden transcripts of replayed sessions (t/replay/), replay
# and live sessions giving the same replies, the client address from
# TCPREMOTEIP, an unreachable upstream, SIGTERM and SIGHUP mid-filter.

bats_require_minimum_version 1.5.0

load helpers

REPLAY_DIR=$BATS_TEST_DIRNAME/replay

# --- local helpers ---------------------------------------------------------

# A filter that records its environment and adds a header.
env_filter() {
	write_filter env.sh "env >$T/filter.env" 'echo "X-Filtered: yes"' 'cat'
}

# The message every launcher test sends, and what must arrive.
send_one() {
	run swaks_send --header 'Subject: via launcher' --body 'launcher body'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == "250 2.0.0 Ok"* ]]
}

delivered_one() {
	[ "$(sink_count)" -eq 1 ]
	sink_message | grep -qx 'X-Filtered: yes'
	sink_message | grep -qx 'Subject: via launcher'
	sink_message | grep -qx 'launcher body'
	# The filter saw the client's address, and none of the launcher's
	# variables (LISTEN_*, TCP*, PROTO...) reached it.
	grep -qx 'CLIENT=127.0.0.1' "$T/filter.env"
	! grep -Eq '^(LISTEN_|TCP|PROTO=|REMOTE_HOST=|INSTANCES=)' "$T/filter.env" || false
	no_temp_files
}

# The local host name and anything an upstream makes up per run (queue ids,
# dates) replaced by fixed words, so that transcripts can be compared.
normalize() {
	local h
	h=$(sed 's/[.[\*^$/]/\\&/g' <<<"$HOSTNAME_NOW")
	sed -e "s/\\b$h\\b/HOSTNAME/g" \
		-e 's/queued as [0-9A-Za-z]\+/queued as QUEUEID/' \
		-e 's/[A-Z][a-z][a-z], [ 0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} [-+][0-9]\{4\}/DATE/g'
}

# replay_conf NAME: $CONF for case NAME: the sink, plus t/replay/NAME.conf.
replay_conf() {
	local lines=()
	if [ -f "$REPLAY_DIR/$1.conf" ]; then
		mapfile -t lines <"$REPLAY_DIR/$1.conf"
	fi
	write_conf "${lines[@]}"
}

# replay_case NAME: replays t/replay/NAME.in against a fresh smtp-sink; the
# replies, normalized, must be t/replay/NAME.ref byte for byte.
replay_case() {
	start_sink
	replay_conf "$1"
	env -u TCPREMOTEIP -u TCPLOCALIP "$PROXSMTPD" -d 4 -f "$CONF" \
		<"$REPLAY_DIR/$1.in" >"$T/$1.out" 2>>"$PROXY_LOG"
	echo "exit $?" >"$T/$1.rc"
	cat -A "$T/$1.out"
	[ "$(cat "$T/$1.rc")" = "exit 0" ]
	normalize <"$T/$1.out" | diff -u "$REPLAY_DIR/$1.ref" -
	no_temp_files
}

# A message for raw sessions.
raw_message() {
	printf 'EHLO client.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n'
	printf 'Subject: via launcher\r\n\r\nlauncher body\r\n.\r\nQUIT\r\n'
}

# --- the launchers ------------------------------------------------------------

@test "systemd-socket-activate --inetd (StandardInput=socket): the connection on stdin/stdout" {
	start_sink
	write_conf "FilterCommand: $(env_filter)"
	start_proxy
	send_one
	delivered_one
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
}

@test "systemd-socket-activate without --inetd: the connection is the fd of sd_listen_fds()" {
	start_sink
	write_conf "FilterCommand: $(env_filter)"
	start_proxy_listenfd
	send_one
	delivered_one
	[ "$(session_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	grep -q 'connection from 127.0.0.1 to 127.0.0.1' "$PROXY_LOG"
}

@test "xinetd: the connection on stdin/stdout, nothing of the log on the socket, EXIT status 0" {
	start_sink
	write_conf "FilterCommand: $(env_filter)"
	start_proxy_xinetd
	send_one
	delivered_one
	[ "$(xinetd_status)" = 0 ]
	grep -q ' START: proxsmtpd-test ' "$T/xinetd.log"
	# No -d: stderr is the client's socket, and nothing may appear there.
	! grep -q 'proxsmtpd\[' "$T/swaks.out" || false
	! grep -q 'outcome=' "$T/swaks.out" || false
}

@test "tcpserver: the connection on stdin/stdout, CLIENT from the socket, exit status 0" {
	start_sink
	write_conf "FilterCommand: $(env_filter)"
	start_proxy_tcpserver
	send_one
	delivered_one
	[ "$(tcpserver_status)" = 0 ]
	[ "$(message_lines)" -eq 1 ]
	grep -q 'client=127.0.0.1 from=<alice@sender.test>' "$PROXY_LOG"
}

@test "replay: proxsmtpd -f conf < session gives the replies on stdout and delivers the message" {
	start_sink
	write_conf "FilterCommand: $(env_filter)"
	raw_message >"$T/session.in"
	env -u TCPREMOTEIP "$PROXSMTPD" -d 4 -f "$CONF" <"$T/session.in" \
		>"$T/out" 2>>"$PROXY_LOG"
	echo "exit $?" >"$T/rc"
	cat "$T/out"
	[ "$(cat "$T/rc")" = "exit 0" ]
	grep -q "^220 $HOSTNAME_NOW ESMTP" "$T/out"
	grep -q '^250 2.0.0 Ok' "$T/out"
	grep -q '^221 ' "$T/out"
	delivered_one
	[ "$(message_lines)" -eq 1 ]
}

# --- golden transcripts ----------------------------------------------------------

@test "replay golden transcript: a plain forward" {
	replay_case plain
	[ "$(sink_count)" -eq 1 ]
	# The client's dot-stuffing is undone on the way in and redone on the
	# way out: the upstream sees one dot.
	sink_message | grep -qx '.a line that starts with a dot (stuffed by the client)'
	[ "$(message_lines)" -eq 1 ]
}

@test "replay golden transcript: a rejection by the filter" {
	replay_case reject
	[ "$(sink_count)" -eq 0 ]
	grep -q 'outcome=rejected reply="550 5.7.1 Rejected by the test filter"' "$PROXY_LOG"
}

@test "replay golden transcript: a silent drop" {
	replay_case drop
	[ "$(sink_count)" -eq 0 ]
	grep -q 'outcome=dropped' "$PROXY_LOG"
}

@test "replay golden transcript: several messages, an abandoned transaction and RSET" {
	replay_case multi
	[ "$(sink_count)" -eq 3 ]
	[ "$(message_lines)" -eq 3 ]
	! grep -l 'abandoned' "$SINK_DIR"/m.* || false
}

@test "replay golden transcript: commands of stripped extensions" {
	replay_case extensions
	[ "$(sink_count)" -eq 0 ]
}

@test "replay golden transcript: XCLIENT from the client is refused" {
	replay_case xclient
	[ "$(sink_count)" -eq 1 ]
	# The upstream never learnt the forged address.
	! grep -q '10\.0\.0\.1\|spoofed' "$(sink_file)" || false
}

@test "replay golden transcript: bare LF line ends in the body (normalized)" {
	replay_case bare-lf
	[ "$(sink_count)" -eq 1 ]
	# A bare-LF "." line is data, never the end of it.
	sink_message | grep -qx '.'
	sink_message | grep -qx 'still data after a bare-LF dot'
	sink_message | grep -qx 'last line'
}

@test "replay golden transcript: bare LF line ends with BareNewline: reject" {
	replay_case bare-lf-reject
	[ "$(sink_count)" -eq 0 ]
	grep -q 'outcome=rejected reply="550 5.6.0 ' "$PROXY_LOG"
}

@test "every golden case: replay gives the same replies as a live session" {
	local f name n=0
	for f in "$REPLAY_DIR"/*.in; do
		name=$(basename "$f" .in)
		n=$((n + 1))
		start_sink
		replay_conf "$name"
		env -u TCPREMOTEIP "$PROXSMTPD" -d 4 -f "$CONF" <"$f" \
			>"$T/$name.replay" 2>>"$PROXY_LOG"
		start_proxy
		smtp_raw <"$f" >"$T/$name.live"
		echo "== $name"
		cat "$T/$name.live"
		cmp "$T/$name.replay" "$T/$name.live"
		[ "$(session_status)" = 0 ]
	done
	[ "$n" -ge 8 ]
	no_temp_files
}

# --- the client's address ----------------------------------------------------------

@test "replay with TCPREMOTEIP set: CLIENT and the log carry that address" {
	start_sink
	f=$(write_filter client.sh "echo \"\$CLIENT\" >>$T/clients" 'cat')
	write_conf "FilterCommand: $f"
	raw_message >"$T/session.in"
	TCPREMOTEIP=10.9.8.7 "$PROXSMTPD" -d 4 -f "$CONF" <"$T/session.in" >"$T/out" 2>>"$PROXY_LOG"
	grep -q '^250 2.0.0 Ok' "$T/out"
	[ "$(tail -1 "$T/clients")" = 10.9.8.7 ]
	grep -q 'client=10.9.8.7 from=<alice@sender.test>' "$PROXY_LOG"
	TCPREMOTEIP=2001:db8::7 "$PROXSMTPD" -d 4 -f "$CONF" <"$T/session.in" >"$T/out" 2>>"$PROXY_LOG"
	[ "$(tail -1 "$T/clients")" = 2001:db8::7 ]
	# Only a well-formed address is believed.
	TCPREMOTEIP='10.9.8.7; rm -rf /' "$PROXSMTPD" -d 4 -f "$CONF" <"$T/session.in" >"$T/out" 2>>"$PROXY_LOG"
	grep -q '^250 2.0.0 Ok' "$T/out"
	[ "$(tail -1 "$T/clients")" = 127.0.0.1 ]
	[ "$(wc -l <"$T/clients")" -eq 3 ]
}

@test "on a real socket the peer's address wins over a TCPREMOTEIP in the environment" {
	start_sink
	f=$(write_filter client.sh "echo \"\$CLIENT\" >$T/client" 'cat')
	write_conf "FilterCommand: $f"
	TCPREMOTEIP=10.9.8.7 start_proxy
	send_one
	[ "$(cat "$T/client")" = 127.0.0.1 ]
	grep -q 'client=127.0.0.1 ' "$PROXY_LOG"
}

# --- failures ------------------------------------------------------------------------

@test "upstream unreachable: the client gets 421 4.4.0 and nothing else, the session exits 111" {
	write_conf "OutAddress: 127.0.0.1:$(free_port)" "FilterCommand: touch $T/filter-ran; cat"
	start_proxy
	raw_message | smtp_raw >"$T/out"
	cat -A "$T/out"
	[ "$(wc -l <"$T/out")" -eq 1 ]
	grep -q "^421 4.4.0 $HOSTNAME_NOW .*"$'\r$' "$T/out"
	[ "$(session_status)" = 111 ]
	[ ! -e "$T/filter-ran" ]
	[ "$(message_lines)" -eq 0 ]
	no_temp_files
	# The same in replay mode.
	raw_message >"$T/session.in"
	run --separate-stderr "$PROXSMTPD" -d 4 -f "$CONF" <"$T/session.in"
	[ "$status" -eq 111 ]
	[[ "$output" == "421 4.4.0 $HOSTNAME_NOW "* ]]
	[ "$(wc -l <<<"$output")" -eq 1 ]
}

# signal_mid_filter SIGNAL: a session whose filter runs long gets SIGNAL.
signal_mid_filter() {
	start_sink
	# File mode, so that the message is a named file while the filter runs.
	f=$(write_filter slow.sh "echo \"\$EMAIL\" >$T/filter.email" \
		"ps -o pgid= -p \$\$ | tr -d ' ' >$T/pgid.tmp && mv $T/pgid.tmp $T/filter.pgid" \
		'sleep 10')
	write_conf "FilterCommand: $f" 'FilterType: file'
	start_proxy
	raw_message | smtp_raw >"$T/out" &
	client=$!
	track "$client"
	wait_file "$T/filter.pgid"
	pgid=$(cat "$T/filter.pgid")
	[ -n "$pgid" ]
	pgrep -g "$pgid" >/dev/null
	email=$(cat "$T/filter.email")
	[[ "$email" == "$SPOOL"/* ]]
	[ -f "$email" ]
	pid=$(session_pid)
	kill "-$1" "$pid"
	wait "$client"
	cat -A "$T/out"
	# The client is told, with our name.
	tail -1 "$T/out" | grep -q "^421 4\.[0-9.]* $HOSTNAME_NOW "
	! grep -q '^250 2.0.0 Ok' "$T/out" || false
	st=$(session_status)
	echo "exit status $st"
	[ -n "$st" ] && [ "$st" != 0 ]
	# The filter's whole process group is gone.
	i=0
	while pgrep -g "$pgid" >/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 40 ] || { pgrep -a -g "$pgid"; false; }
		sleep 0.05
	done
	[ ! -e "$email" ]
	no_temp_files
	[ "$(sink_count)" -eq 0 ]
	grep -q "terminated by signal" "$PROXY_LOG"
	# The message's one log line, with the time its filter had run.
	[ "$(grep -c 'outcome=' "$PROXY_LOG")" -eq 1 ]
	grep -Eq 'outcome=tempfail .*filter_ms=[0-9]+$' "$PROXY_LOG"
}

@test "SIGTERM to a session mid-filter: 421, the filter's process group killed, no temp file, exit non-zero" {
	signal_mid_filter TERM
}

@test "SIGHUP to a session mid-filter: 421, the filter's process group killed, no temp file, exit non-zero" {
	signal_mid_filter HUP
}
