# t/lib/netns.bash - network namespaces for tests that need a network of
# their own: several hosts, routing, firewall rules. Load it after helpers:
#   load helpers
#   load lib/netns
#
# Names are unique per test file run and test (pxt-<pid>-<test>-<host>), so
# test files can run side by side. veth pairs are created inside the
# namespaces and never appear in the host's namespace. Every process started
# with ns_bg is tracked by PID; ns_teardown (call it from local_teardown)
# stops them and deletes the namespaces.

# The full name of the namespace for host NAME.
ns() { echo "pxt-$$-${BATS_TEST_NUMBER:-0}-$1"; }

# nsx NAME COMMAND...: runs COMMAND inside host NAME.
nsx() {
	local n
	n=$(ns "$1")
	shift
	ip netns exec "$n" "$@"
}

# ns_new NAME...: one namespace per host, loopback up.
ns_new() {
	local h n
	for h in "$@"; do
		n=$(ns "$h")
		ip netns add "$n" || return 1
		echo "$n" >>"$T/.netns"
		ip -n "$n" link set lo up || return 1
	done
}

# ns_link HOST_A IF_A HOST_B IF_B: a veth pair between two hosts, both ends up.
ns_link() {
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$4" \
		netns "$(ns "$3")" || return 1
	ip -n "$(ns "$1")" link set "$2" up &&
		ip -n "$(ns "$3")" link set "$4" up
}

# ns_ip HOST <<EOF: ip commands (without "ip"), one a line, run inside HOST
# in one go (ip -batch: much faster than one ip process each). IPv6
# addresses should be added with "nodad": duplicate address detection would
# leave them unusable ("tentative") for a second or two.
ns_ip() {
	ip -n "$(ns "$1")" -batch -
}

# ns_sh HOST <<EOF: a shell script run inside HOST, stopping at the first
# failing command (firewall rules, sysctls).
ns_sh() {
	ip netns exec "$(ns "$1")" sh -ec "$(cat)"
}

# ns_bg HOST COMMAND...: COMMAND in the background inside HOST, tracked.
# ip netns exec execs COMMAND, so $! is the command's own PID. Output goes
# where the caller redirects ns_bg's; fd 3 (bats' own) is closed, or bats
# would wait for the process at the end of the test.
ns_bg() {
	local h=$1
	shift
	ip netns exec "$(ns "$h")" "$@" 3>&- &
	NS_PID=$!
	track "$NS_PID"
}

# ns_wait_port HOST PORT [ADDR]: waits until something listens on the TCP
# port inside HOST (without connecting, which would start a session).
ns_wait_port() {
	local i=0 f="sport = :$2"
	[ -z "${3:-}" ] || f="src $3 and $f"
	until ss -N "$(ns "$1")" -Hltn "$f" 2>/dev/null | grep -q .; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "port $2 did not open in $1" >&2; return 1; }
		sleep 0.05
	done
}

# ns_sink HOST ADDR PORT NAME [smtp-sink options...]: smtp-sink inside HOST
# on ADDR:PORT (ADDR "[V6]" for IPv6), dumping to $T/NAME/m.*. Sets
# SINK_DIR, so the harness's sink_count/sink_file read this sink.
ns_sink() {
	local h=$1 addr=$2 port=$3 name=$4
	shift 4
	SINK_DIR=$T/$name
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR"
	ns_bg "$h" smtp-sink -u postfix -d "$SINK_DIR/m." "$@" "$addr:$port" 64 \
		>"$T/$name.log" 2>&1
	ns_wait_port "$h" "$port"
}

# ns_proxy HOST LISTEN [proxsmtpd args...]: proxsmtpd under
# systemd-socket-activate --inetd inside HOST, listening on LISTEN (a port,
# ADDR:PORT or [V6]:PORT), config $CONF, log $PROXY_LOG. Sets LAUNCHER.
ns_proxy() {
	local h=$1 listen=$2
	shift 2
	ns_bg "$h" systemd-socket-activate -l "$listen" --inetd \
		-a "$PROXSMTPD" -d 4 -f "$CONF" "$@" 2>>"$PROXY_LOG"
	LAUNCHER=$NS_PID
	ns_wait_port "$h" "${listen##*:}"
}

# ns_teardown: stops the tracked processes (newest first: launchers before
# the servers their sessions talk to), then deletes the namespaces. The
# harness would stop the processes too, but only after local_teardown, and a
# namespace should not be deleted under running processes.
ns_teardown() {
	local pid n
	for pid in $(tac "$PIDFILE_LIST" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	for pid in $(cat "$PIDFILE_LIST" 2>/dev/null); do
		wait_gone "$pid" 50 || kill -9 "$pid" 2>/dev/null
	done
	for n in $(cat "$T/.netns" 2>/dev/null); do
		ip netns del "$n" 2>/dev/null
	done
	rm -f "$T/.netns"
}
