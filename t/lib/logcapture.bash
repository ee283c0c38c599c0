# t/lib/logcapture.bash - see what proxsmtpd logs when it has no -d: to
# syslog(3) (/dev/log) or to the journal (/run/systemd/journal/socket).
# Load it after helpers:
#   load helpers
#   load lib/logcapture
#
# Both run a command in a private mount and PID namespace (unshare -m -p -f
# --kill-child --mount-proc): whatever is mounted there is gone when the
# command ends, and every process started there (socat, journald) is killed
# by the kernel when the namespace's first process exits, so nothing outlives
# the test. The host's /dev, /run and /var/log are never written.

# in_log_ns MODE OUT CMD...: runs CMD in a namespace where
#   MODE=none     neither /dev/log nor a journal socket exists;
#   MODE=syslog   /dev/log is a datagram socket read by socat; at the end
#                 OUT holds the datagrams, one a line, as they arrived
#                 ("<PRI>Mmm dd hh:mm:ss ident[pid]: text");
#   MODE=journal  a systemd-journald of its own runs on tmpfs; at the end the
#                 entries of SYSLOG_IDENTIFIER=proxsmtpd are written to OUT as
#                 journalctl -o json lines.
# CMD's exit status is returned; the namespace's own failures exit 99 with
# the reason on stderr.
in_log_ns() {
	local mode=$1 out=$2
	shift 2
	mkdir -p "$T/ns-dev"
	cat >"$T/ns.sh" <<-'EOF'
	#!/bin/sh
	mode=$1 out=$2 nsdev=$3
	shift 3
	fail() { echo "in_log_ns: $*" >&2; exit 99; }
	waitfor() { # TEST-ARGS...: up to 10 s
		i=0
		until test "$@"; do
			i=$((i + 1)); [ "$i" -lt 500 ] || return 1
			sleep 0.02
		done
	}
	# No journal socket, whatever the host has.
	mount -t tmpfs -o mode=755 ns-run-systemd /run/systemd || fail "tmpfs on /run/systemd"
	# A /dev of our own: the real null, zero, ..., and (syslog) our log
	# socket, nothing else. /dev/log does not exist on the host, and a
	# socket cannot be bind-mounted to a path that does not exist, so the
	# whole directory replaces /dev.
	mount -t tmpfs -o mode=755 ns-dev "$nsdev" || fail "tmpfs on $nsdev"
	for n in null zero full random urandom tty; do
		: >"$nsdev/$n" && mount --bind "/dev/$n" "$nsdev/$n" || fail "bind /dev/$n"
	done
	ln -s /proc/self/fd "$nsdev/fd"
	ln -s /proc/self/fd/0 "$nsdev/stdin"
	ln -s /proc/self/fd/1 "$nsdev/stdout"
	ln -s /proc/self/fd/2 "$nsdev/stderr"
	if [ "$mode" = syslog ]; then
		: >"$out.raw"
		socat -u UNIX-RECV:"$nsdev/log" OPEN:"$out.raw",append &
		waitfor -S "$nsdev/log" || fail "socat made no socket"
	fi
	mount --rbind "$nsdev" /dev || fail "bind $nsdev on /dev"
	if [ "$mode" = journal ]; then
		mkdir /run/systemd/journal
		mount -t tmpfs ns-run-log /run/log || fail "tmpfs on /run/log"
		mkdir /run/log/journal
		if [ -d /var/log/journal ]; then
			mount -t tmpfs ns-var-log-journal /var/log/journal || fail "tmpfs on /var/log/journal"
		fi
		/lib/systemd/systemd-journald >"$out.journald" 2>&1 &
		jd=$!
		waitfor -S /run/systemd/journal/socket ||
			fail "systemd-journald did not start: $(cat "$out.journald")"
		kill -0 "$jd" || fail "systemd-journald exited: $(cat "$out.journald")"
	fi
	"$@"
	rc=$?
	# A last entry through the same channel; when it has arrived, so has
	# everything the command logged before it.
	case $mode in
	syslog)
		logger -u /dev/log --socket-errors=on -t ns-marker END-OF-CAPTURE
		i=0
		until grep -q END-OF-CAPTURE "$out.raw"; do
			i=$((i + 1)); [ "$i" -lt 500 ] || fail "syslog marker lost"
			sleep 0.02
		done
		# The datagrams carry no newline: one a line, split where the
		# next "<PRI>Mmm dd hh:mm:ss " begins.
		sed -E 's/<([0-9]{1,3})>([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} )/\n<\1>\2/g' \
			"$out.raw" | sed '/^$/d' >"$out"
		;;
	journal)
		echo END-OF-CAPTURE | systemd-cat -t ns-marker
		i=0
		until journalctl -D /run/log/journal -o cat --no-pager \
			SYSLOG_IDENTIFIER=ns-marker 2>/dev/null | grep -q END-OF-CAPTURE; do
			i=$((i + 1)); [ "$i" -lt 500 ] || fail "journal marker lost"
			sleep 0.02
		done
		journalctl -D /run/log/journal -o json --no-pager \
			SYSLOG_IDENTIFIER=proxsmtpd >"$out" || fail "journalctl failed"
		;;
	esac
	exit "$rc"
	EOF
	timeout 60 unshare -m -p -f --kill-child --mount-proc --propagation private \
		sh "$T/ns.sh" "$mode" "$out" "$T/ns-dev" "$@"
}

# jfield OUT SELECTOR FIELD: the value of FIELD in the journal entries of OUT
# (journalctl -o json lines) that have SELECTOR (NAME=VALUE), one a line.
jfield() {
	/usr/bin/python3 - "$@" <<-'EOF'
	import json, sys
	path, sel, field = sys.argv[1:4]
	name, _, value = sel.partition("=")
	for line in open(path):
	    e = json.loads(line)
	    if e.get(name) == value and field in e:
	        print(e[field])
	EOF
}
