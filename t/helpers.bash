# t/helpers.bash - the harness every test file loads.
#
# Real peers only: the proxy runs under a real launcher
# (systemd-socket-activate, xinetd, tcpserver), the client is swaks or raw
# bytes through socat, the upstream is Postfix's smtp-sink (its dump shows
# exactly what arrived) or aiosmtpd. Everything a test starts is recorded by
# PID and stopped in teardown; every file lives under $T.

PROXSMTPD=${PROXSMTPD:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/proxsmtpd}
HOSTNAME_NOW=$(hostname)

setup() {
	T=$BATS_TEST_TMPDIR
	# smtp-sink and Postfix run as postfix and write below $T: every
	# directory on the way must be traversable (bats makes them 0700).
	local d=$T
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	PIDFILE_LIST=$T/.pids
	: >"$PIDFILE_LIST"
	mkdir -p "$T/spool"
	chmod 700 "$T/spool"
	SPOOL=$T/spool
	PROXY_LOG=$T/proxy.log
	: >"$PROXY_LOG"
	if declare -F local_setup >/dev/null; then local_setup; fi
}

teardown() {
	if declare -F local_teardown >/dev/null; then local_teardown; fi
	local pid
	# Newest first: launchers before the servers their children talk to.
	for pid in $(tac "$PIDFILE_LIST" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	for pid in $(cat "$PIDFILE_LIST" 2>/dev/null); do
		wait_gone "$pid" 50 || kill -9 "$pid" 2>/dev/null
	done
	if [ -n "${BATS_TEST_COMPLETED:-}" ] && [ "${BATS_TEST_COMPLETED}" = 1 ]; then
		return 0
	fi
	# A failed test: show what the proxy logged.
	echo "--- proxy log ($PROXY_LOG)"
	tail -n 40 "$PROXY_LOG" 2>/dev/null
}

track() { echo "$1" >>"$PIDFILE_LIST"; }

wait_gone() { # PID [tenths]
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt "${2:-100}" ] || return 1
		sleep 0.1
	done
}

# A TCP port nobody listens on, chosen at random so that test files and
# other users of the machine do not collide.
free_port() {
	local p
	while :; do
		# Below the kernel's ephemeral range (32768-), so that no
		# outgoing connection holds it either.
		p=$((10000 + RANDOM % 22000))
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . || break
	done
	echo "$p"
}

# Waits until something listens on the TCP port. It does not connect: a
# connection to a launcher would start a session.
wait_port() { # PORT
	local i=0
	until ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "port $1 did not open" >&2; return 1; }
		sleep 0.05
	done
}

# --- upstream servers --------------------------------------------------------

# start_sink [smtp-sink options...]: smtp-sink on 127.0.0.1:$SINK_PORT that
# dumps every transaction to $T/sink/m.*; options e.g. -R (reject) go first.
start_sink() {
	SINK_PORT=$(free_port)
	SINK_DIR=$T/sink
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR"
	smtp-sink -u postfix -d "$SINK_DIR/m." "$@" "127.0.0.1:$SINK_PORT" 64 \
		>"$T/sink.log" 2>&1 &
	track $!
	wait_port "$SINK_PORT"
}

# Messages smtp-sink received, one file each.
sink_count() { find "$SINK_DIR" -type f -name 'm.*' | wc -l; }
sink_file() { find "$SINK_DIR" -type f -name 'm.*' | head -1; }
# The message body as received: smtp-sink's own headers (X-Client-*,
# X-Helo/Mail/Rcpt-Args and its Received: line) taken off.
sink_message() {
	awk 'done { print; next }
	     /^X-(Client|Helo|Mail|Rcpt)-/ { next }
	     /^Received: .*/ { skip = 1; next }
	     skip && /^[ \t]/ { next }
	     { done = 1; print }' "${1:-$(sink_file)}"
}

# start_aiosmtpd: aiosmtpd (Debian's python3-aiosmtpd) on $AIO_PORT that
# stores messages byte for byte in the mbox $T/aio.mbox.
start_aiosmtpd() {
	AIO_PORT=$(free_port)
	AIO_MBOX=$T/aio.mbox
	/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$AIO_PORT" \
		-c aiosmtpd.handlers.Mailbox "$AIO_MBOX" >"$T/aio.log" 2>&1 &
	track $!
	wait_port "$AIO_PORT"
}

# --- the proxy -----------------------------------------------------------------

# write_conf [SETTING-LINES...]: $T/proxsmtpd.conf pointing at the sink
# (unless an OutAddress line is given), spooling to $SPOOL.
write_conf() {
	CONF=$T/proxsmtpd.conf
	{
		printf '%s\n' "$@" | grep -qi '^OutAddress:\|^TransparentProxy:' ||
			echo "OutAddress: 127.0.0.1:${SINK_PORT:-${AIO_PORT:?no upstream}}"
		grep -qi '^TempDirectory:' <<<"$(printf '%s\n' "$@")" ||
			echo "TempDirectory: $SPOOL"
		printf '%s\n' "$@"
	} >"$CONF"
}

# A filter script from the lines given; prints its path.
write_filter() { # NAME LINES...
	local f=$T/$1
	shift
	{ echo '#!/bin/sh'; printf '%s\n' "$@"; } >"$f"
	chmod 755 "$f"
	echo "$f"
}

# start_proxy [proxsmtpd args...]: proxsmtpd under
# systemd-socket-activate --inetd on 127.0.0.1:$PORT, one process per
# connection. Its stderr (the proxy's -d 4 log and the launcher's lines,
# e.g. "Child N died with code C") goes to $PROXY_LOG.
start_proxy() {
	PORT=$(free_port)
	systemd-socket-activate -l "127.0.0.1:$PORT" --inetd \
		-a "$PROXSMTPD" -d 4 -f "$CONF" "$@" 2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# Like start_proxy, but the connection arrives as fd 3 (sd_listen_fds()),
# as under systemd Accept=yes without StandardInput=socket.
start_proxy_listenfd() {
	PORT=$(free_port)
	systemd-socket-activate -l "127.0.0.1:$PORT" \
		-a "$PROXSMTPD" -d 4 -f "$CONF" "$@" 2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# proxsmtpd under xinetd in the foreground. Its stderr is the client
# socket there, so no -d: the proxy logs to syslog, and the test reads what
# xinetd itself logs to $T/xinetd.log.
start_proxy_xinetd() {
	PORT=$(free_port)
	cat >"$T/xinetd.conf" <<-EOF
	defaults
	{
		log_type = FILE $T/xinetd.log
		log_on_success = PID EXIT
	}
	service proxsmtpd-test
	{
		type = UNLISTED
		socket_type = stream
		protocol = tcp
		wait = no
		port = $PORT
		bind = 127.0.0.1
		user = root
		server = $PROXSMTPD
		server_args = -f $CONF $*
		instances = 16
	}
	EOF
	xinetd -dontfork -pidfile "$T/xinetd.pid" -f "$T/xinetd.conf" \
		>>"$PROXY_LOG" 2>&1 &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# Waits until every session the launcher started has ended.
wait_sessions() {
	local i=0
	while pgrep -P "$LAUNCHER" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "sessions still running" >&2; return 1; }
		sleep 0.05
	done
}

# The exit status of the last session, as systemd-socket-activate logged it.
session_status() {
	local i=0
	wait_sessions
	# The launcher logs the status just after it reaps the session.
	until [ "$(grep -c '^Child [0-9]* died' "$PROXY_LOG")" -ge \
		"$(grep -c '^Spawned ' "$PROXY_LOG")" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "launcher logged no exit" >&2; return 1; }
		sleep 0.05
	done
	sed -n 's/^Child [0-9]* died with code \([0-9]*\)$/\1/p' "$PROXY_LOG" | tail -1
}

# --- clients -------------------------------------------------------------------

# swaks_send [swaks args...]: one message to the proxy; the transcript is
# in $T/swaks.out and on stdout. Default sender, recipient and body.
swaks_send() {
	swaks --server "127.0.0.1:${SEND_PORT:-$PORT}" --helo client.test \
		--from "${FROM:-alice@sender.test}" --to "${TO:-bob@example.test}" \
		--timeout 20 "$@" >"$T/swaks.out" 2>&1
	local rc=$?
	cat "$T/swaks.out"
	return $rc
}

# The server's reply to the end of data in the last swaks transcript.
data_reply() {
	awk '/^ -> \.\r?$/ { want = 1; next }
	     want && /^<(-|~|\*\*)/ { sub(/^<(-|~|\*\*) +/, ""); sub(/\r$/, ""); print; exit }' \
		"$T/swaks.out"
}

# smtp_raw: the bytes of stdin go to the proxy as they are (printf them
# with \r\n); the replies are printed. Ends when the proxy closes.
smtp_raw() {
	socat -t 120 -T 60 - "TCP:127.0.0.1:${SEND_PORT:-$PORT}"
}

# The proxy in replay mode: the session file on stdin, replies on stdout.
replay() { # CONF < session
	timeout 30 "$PROXSMTPD" -d 4 -f "$1" 2>>"$PROXY_LOG"
}

# --- invariants ----------------------------------------------------------------

# True while PID exists and is not a zombie (a killed process whose
# parent died stays a zombie until its new parent reaps it).
proc_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [[ "$st" != Z* ]]
}

# Waits (up to 5 s) until PID is gone or a zombie.
proc_gone() {
	local i=0
	while proc_alive "$1"; do
		i=$((i + 1))
		[ "$i" -lt 50 ] || { echo "process $1 still running" >&2; return 1; }
		sleep 0.1
	done
}

# No spool file left behind.
no_temp_files() {
	local left
	left=$(find "$SPOOL" -mindepth 1 2>/dev/null)
	[ -z "$left" ] || { echo "left in $SPOOL: $left" >&2; return 1; }
}

# The number of per-message info lines in the proxy log.
message_lines() { grep -c ' outcome=' "$PROXY_LOG"; }

# Stops everything started so far (for tests that loop over cases).
stop_tracked() {
	local pid
	for pid in $(tac "$PIDFILE_LIST"); do kill "$pid" 2>/dev/null; done
	for pid in $(cat "$PIDFILE_LIST"); do
		wait_gone "$pid" 50 || kill -9 "$pid" 2>/dev/null
	done
	: >"$PIDFILE_LIST"
}

# How much more a session may peak at with a big message than with a small
# one, in KiB, for the checks that memory does not grow with the message.
# Under AddressSanitizer the allocator's quarantine and shadow pages make
# the peak of identical sessions vary by several MiB, so there the slack is
# 64 MiB: still far below the 20-300 MB those tests send, while the gcc
# run keeps the tight 1 MiB.
rss_slack_kib() {
	if grep -qa __asan_init "$PROXSMTPD"; then echo 65536; else echo 1024; fi
}

# Waits for the launcher's next session to start, follows it to its end and
# prints its peak resident set size (VmHWM) in KiB.
peak_rss_of_session() {
	local pid= i=0 hwm=0 v
	while [ -z "$pid" ]; do
		pid=$(pgrep -P "$LAUNCHER" | head -1)
		i=$((i + 1)); [ "$i" -lt 400 ] || { echo 0; return 1; }
		[ -n "$pid" ] || sleep 0.02
	done
	while v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ]; do
		hwm=$v
		sleep 0.02
	done
	echo "$hwm"
}

# --- more launchers (t/40-launchers.bats) --------------------------------------

# start_proxy_tcpserver [proxsmtpd args...]: proxsmtpd under tcpserver
# (ucspi-tcp) on 127.0.0.1:$PORT, the connection on stdin/stdout. tcpserver
# -v logs "tcpserver: end PID status N" to $PROXY_LOG with the -d 4 lines.
start_proxy_tcpserver() {
	PORT=$(free_port)
	tcpserver -v -H -R 127.0.0.1 "$PORT" "$PROXSMTPD" -d 4 -f "$CONF" "$@" \
		2>>"$PROXY_LOG" &
	LAUNCHER=$!
	track "$LAUNCHER"
	wait_port "$PORT"
}

# The exit status of the last session under tcpserver (its "end" line,
# written once it has reaped the session).
tcpserver_status() {
	local i=0
	wait_sessions
	until [ "$(grep -c '^tcpserver: end ' "$PROXY_LOG")" -ge \
		"$(grep -c '^tcpserver: pid ' "$PROXY_LOG")" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "tcpserver logged no end" >&2; return 1; }
		sleep 0.05
	done
	sed -n 's/^tcpserver: end [0-9]* status \([0-9]*\)$/\1/p' "$PROXY_LOG" | tail -1
}

# The exit status of the last session under xinetd (its EXIT line in
# $T/xinetd.log, which it writes once it has reaped the session).
xinetd_status() {
	local i=0
	wait_sessions
	until [ "$(grep -c ' EXIT: ' "$T/xinetd.log" 2>/dev/null)" -ge \
		"$(grep -c ' START: ' "$T/xinetd.log" 2>/dev/null)" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "xinetd logged no EXIT" >&2; return 1; }
		sleep 0.05
	done
	sed -n 's/.* EXIT: .* status=\([0-9-]*\).*/\1/p' "$T/xinetd.log" | tail -1
}

# The pid of the session the launcher is running now (waits for it).
session_pid() {
	local pid= i=0
	until pid=$(pgrep -P "$LAUNCHER" | head -1) && [ -n "$pid" ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "no session running" >&2; return 1; }
		sleep 0.05
	done
	echo "$pid"
}

# Waits (up to 10 s) until FILE exists.
wait_file() {
	local i=0
	until [ -e "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "$1 did not appear" >&2; return 1; }
		sleep 0.05
	done
}

# --- a throw-away Postfix (t/lib/postfix-up) -----------------------------------

# postfix_start DIR [OPTIONAL-SERVICE-VARS...]: free ports for the standard
# services (and the optional ones named, e.g. PF_REFUSE), exported, then
# t/lib/postfix-up DIR. Every directory on the way is made traversable for
# the postfix user. Stop it with postfix_stop.
postfix_start() {
	local d p v used=" "
	PF_DIR=$1
	shift
	mkdir -p "$PF_DIR"
	d=$PF_DIR
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	for v in PF_FRONT PF_FILTER PF_BACK PF_AQ_FRONT PF_AQ_FILTER PF_AQ_BACK "$@"; do
		p=$(free_port)
		while [[ $used == *" $p "* ]]; do p=$(free_port); done
		used+="$p "
		export "$v=$p"
	done
	export PF_DIR
	"$(dirname "${BASH_SOURCE[0]}")/lib/postfix-up" "$PF_DIR"
}
postfix_stop() { "$(dirname "${BASH_SOURCE[0]}")/lib/postfix-down" "$PF_DIR"; }

# start_store [OPTIONS]: t/lib/aiosmtpd-store on $AIO_PORT, each message's
# bytes in $STORE/N.msg and its envelope in $STORE/N.env (OPTIONS, e.g.
# smtputf8 or binarymime: what it offers; see the script).
start_store() {
	AIO_PORT=$(free_port)
	STORE=$T/store
	"$BATS_TEST_DIRNAME/lib/aiosmtpd-store" 127.0.0.1 "$AIO_PORT" "$STORE" "$@" \
		>"$T/aio.log" 2>&1 3>&- &
	track $!
	wait_port "$AIO_PORT"
}

# tls_module: the TLS module beside the program under test (built if
# missing): proxsmtpd-tls.so, or proxsmtpd-tls-asan.so for proxsmtpd-asan.
tls_module() {
	local m
	m=$(dirname "$PROXSMTPD")/proxsmtpd-tls.so
	case $PROXSMTPD in
	*-asan) m=$(dirname "$PROXSMTPD")/proxsmtpd-tls-asan.so ;;
	esac
	[ -f "$m" ] || make -s -C "$BATS_TEST_DIRNAME/.." "$(basename "$m")" >&2
	echo "$m"
}
