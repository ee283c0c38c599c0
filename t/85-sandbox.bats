#!/usr/bin/env bats
# -S: the session confines itself once its files are open (src/sandbox.c):
# no_new_privs, and with Landlock a file system that it and its filter may
# read but change only beneath TempDirectory (and /dev/null). The shipped
# systemd unit runs proxsmtpd with -S in place of a mount namespace.

load helpers

# A filter that passes the message on and appends what it could do.
probe_filter() {
	write_filter probe.sh 'cat' \
		"if touch $T/outside 2>/dev/null; then echo OUTSIDE-WRITABLE; else echo OUTSIDE-REFUSED; fi" \
		'if echo x >"$TMPDIR/probe.$$" && rm "$TMPDIR/probe.$$"; then echo SPOOL-WRITABLE; else echo SPOOL-REFUSED; fi' \
		'echo ok >/dev/null && echo DEVNULL-WRITABLE' \
		'grep "^NoNewPrivs:" /proc/self/status'
}

landlock_abi() {
	python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))'
}

@test "-S: the filter writes beneath TempDirectory and /dev/null only, with no_new_privs" {
	# This kernel must have Landlock, or this test proves nothing.
	[ "$(landlock_abi)" -ge 1 ]
	start_sink
	write_conf "FilterCommand: $(probe_filter)"
	start_proxy -S
	run swaks_send --body 'sandboxed'
	echo "$output"
	[[ "$(data_reply)" == 250* ]]
	cat "$(sink_file)"
	grep -q '^sandboxed' "$(sink_file)"
	grep -q '^OUTSIDE-REFUSED' "$(sink_file)"
	grep -q '^SPOOL-WRITABLE' "$(sink_file)"
	grep -q '^DEVNULL-WRITABLE' "$(sink_file)"
	grep -q '^NoNewPrivs:[[:space:]]*1' "$(sink_file)"
	[ ! -e "$T/outside" ]
}

@test "without -S the same filter may write outside TempDirectory" {
	start_sink
	write_conf "FilterCommand: $(probe_filter)"
	start_proxy
	run swaks_send --body 'not sandboxed'
	[[ "$(data_reply)" == 250* ]]
	cat "$(sink_file)"
	grep -q '^OUTSIDE-WRITABLE' "$(sink_file)"
	grep -q '^NoNewPrivs:[[:space:]]*0' "$(sink_file)"
	[ -e "$T/outside" ]
}

@test "-S: a file-mode filter edits the message in place (sed -i renames in the spool)" {
	[ "$(landlock_abi)" -ge 1 ]
	start_sink
	write_conf 'FilterType: file' 'FilterCommand: sed -i "s/hello/HELLO-EDITED/" "$EMAIL"'
	start_proxy -S
	run swaks_send --body 'hello world'
	[[ "$(data_reply)" == 250* ]]
	grep -q '^HELLO-EDITED world' "$(sink_file)"
	[ "$(find "$SPOOL" -mindepth 1 | wc -l)" -eq 0 ]
}

@test "-S with -p: the pid file outside TempDirectory is still removed at exit" {
	[ "$(landlock_abi)" -ge 1 ]
	start_sink
	write_conf
	mkdir "$T/run"
	printf 'HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n' >"$T/in"
	run "$PROXSMTPD" -d 4 -S -f "$CONF" -p "$T/run/session.pid" <"$T/in"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^250 2.0.0 Ok' <<<"$output"
	[ ! -e "$T/run/session.pid" ]
}
