#!/usr/bin/env bats
# The command line and proxsmtpd.conf: -v, the -t check (effective settings
# or the first error with file:line, exit 100), every setting of the table
# parsed, names case-insensitive, comments, white space, the 1.10 daemon
# settings accepted and ignored, the default and the -f config file, -p.

bats_require_minimum_version 1.5.0

load helpers

# --- local helpers ---------------------------------------------------------

# conf LINES...: $T/c.conf holding exactly these lines; its path in $C.
conf() {
	C=$T/c.conf
	printf '%s\n' "$@" >"$C"
}

# check [args...]: proxsmtpd -t -f $C; $output is stdout, $stderr stderr.
check() {
	run --separate-stderr "$PROXSMTPD" -t -f "$C" "$@"
	echo "status: $status"
	echo "stdout:"
	echo "$output"
	echo "stderr:"
	echo "$stderr"
}

# The settings -t printed, without its comment line.
settings() { grep -v '^#' <<<"$output"; }

# An error run: exit 100, nothing on stdout, the message on stderr names
# file:line (or just the file when no line is given) and contains TEXT.
config_error() { # LINE TEXT
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	if [ -n "$1" ]; then
		grep -qF "$C:$1: " <<<"$stderr"
	else
		grep -qF "$C: " <<<"$stderr"
	fi
	grep -qiF -- "$2" <<<"$stderr"
}

# The configuration path compiled into the binary.
default_config_path() {
	grep -ao '/[[:print:]]*/proxsmtpd\.conf' "$PROXSMTPD" | head -1
}

# --- -v, -t and the defaults ------------------------------------------------

@test "-v prints the version and exits 0" {
	run --separate-stderr "$PROXSMTPD" -v
	echo "$output"
	[ "$status" -eq 0 ]
	want=$(sed -n 's/^VERSION *= *//p' "$BATS_TEST_DIRNAME/../Makefile")
	[ "$output" = "proxsmtpd $want" ]
	[ -z "$stderr" ]
}

@test "-V and --version print the version too, and exit 0" {
	want=$(sed -n 's/^VERSION *= *//p' "$BATS_TEST_DIRNAME/../Makefile")
	for opt in -V --version; do
		run --separate-stderr "$PROXSMTPD" "$opt" </dev/null
		echo "$opt: $status / $output / $stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "proxsmtpd $want" ]
		[ -z "$stderr" ]
	done
}

@test "-h and --help print the usage and every option on stdout, and exit 0" {
	for opt in -h --help; do
		run --separate-stderr "$PROXSMTPD" "$opt" </dev/null
		echo "$opt: $status / $output / $stderr"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[ "$(head -1 <<<"$output")" = \
			'usage: proxsmtpd [-d level] [-f configfile] [-p pidfile] [-S] [-t] [-v]' ]
		for o in '-d level' '-f configfile' '-p pidfile' '-S ' '-t ' '-V, -v, --version' '-h, --help'; do
			grep -qF -- "  $o" <<<"$output"
		done
		# The default configuration path compiled in.
		grep -qF "$(default_config_path)" <<<"$output"
	done
}

@test "-d out of range, or not a number, says the range 0 to 4 and exits 100" {
	conf 'OutAddress: 127.0.0.1:25'
	for l in 9 5 -1 abc 3x ''; do
		run --separate-stderr "$PROXSMTPD" -d "$l" -f "$C" </dev/null
		echo "-d '$l': $status / $output / $stderr"
		[ "$status" -eq 100 ]
		[ -z "$output" ]
		grep -qxF "proxsmtpd: -d $l: the level is a number from 0 to 4" <<<"$stderr"
		grep -q '^usage: proxsmtpd ' <<<"$stderr"
	done
}

@test "-t prints every setting with its default when only OutAddress is set" {
	conf 'OutAddress: 127.0.0.1:10026'
	check
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	grep -q "^# effective settings of $C\$" <<<"$output"
	diff -u - <(settings) <<-'EOF'
	FilterCommand: 
	FilterType: pipe
	FilterReject: 530 Email Rejected
	FilterTimeout: 30
	Header: 
	KeepAlives: 0
	OutAddress: 127.0.0.1:10026
	Skip: none
	TempDirectory: /tmp
	TimeOut: 180
	TransparentProxy: off
	User: 
	XClient: off
	BareNewline: normalize
	AuthorizedXForwardHosts: 127.0.0.0/8, ::1/128
	MaxRecipients: 1000
	MaxLineLength: 2048
	MaxErrors: 20
	MaxJunkCommands: 100
	MaxMessageSize: 52428800
	ProxyProtocol: off
	ProxyProtocolHosts: 127.0.0.0/8, ::1/128
	TLSCertificate: 
	TLSKey: 
	TLSProtocols: 
	TLSCiphers: 
	TLSRequire: off
	OutTLS: none
	OutTLSCAFile: 
	OutTLSName: 
	TLSModule: /usr/local/lib/proxsmtpd/proxsmtpd-tls.so
	EOF
}

@test "-t shows every setting of the table set to a value that is not its default" {
	# The TLS files are read by -t: real ones, made here.
	"$BATS_TEST_DIRNAME/lib/tls-certs" "$T/certs"
	module=$(tls_module)
	conf 'FilterCommand: /usr/bin/my-filter --flag "a b"' \
		'FilterType: file' \
		'FilterReject: 554 5.7.0 Go away' \
		'FilterTimeout: 7' \
		'Header: X-Proxied: by %i at %d\r\nX-Second: two\tparts' \
		'KeepAlives: 5' \
		'OutAddress: mail.example.test:2525' \
		'Skip: authenticated' \
		'TempDirectory: /var/spool/proxsmtpd' \
		'TimeOut: 42' \
		'User: nobody' \
		'XClient: on' \
		'BareNewline: reject' \
		'AuthorizedXForwardHosts: 192.0.2.0/24 2001:db8::7' \
		'MaxRecipients: 50' \
		'MaxLineLength: 1000' \
		'MaxErrors: 3' \
		'MaxJunkCommands: 7' \
		'MaxMessageSize: 0' \
		'ProxyProtocol: v2' \
		'ProxyProtocolHosts: 10.1.0.0/16, 2001:db8::/32' \
		"TLSCertificate: $T/certs/server.pem" \
		"TLSKey: $T/certs/server.key" \
		'TLSProtocols: >=TLSv1.2, !TLSv1.1' \
		'TLSCiphers: HIGH:!aNULL' \
		'TLSRequire: on' \
		'OutTLS: verify' \
		"OutTLSCAFile: $T/certs/ca.pem" \
		'OutTLSName: mx.example.test' \
		"TLSModule: $module"
	check
	[ "$status" -eq 0 ]
	# The paths of the run's files (-t reads them) as placeholders.
	diff -u - <(settings | sed "s|$T/|T/|; s|$module|MODULE|") <<-'EOF'
	FilterCommand: /usr/bin/my-filter --flag "a b"
	FilterType: file
	FilterReject: 554 5.7.0 Go away
	FilterTimeout: 7
	Header: X-Proxied: by %i at %d\r\nX-Second: two\tparts
	KeepAlives: 5
	OutAddress: mail.example.test:2525
	Skip: authenticated
	TempDirectory: /var/spool/proxsmtpd
	TimeOut: 42
	TransparentProxy: off
	User: nobody
	XClient: on
	BareNewline: reject
	AuthorizedXForwardHosts: 192.0.2.0/24, 2001:db8::7/128
	MaxRecipients: 50
	MaxLineLength: 1000
	MaxErrors: 3
	MaxJunkCommands: 7
	MaxMessageSize: 0
	ProxyProtocol: v2
	ProxyProtocolHosts: 10.1.0.0/16, 2001:db8::/32
	TLSCertificate: T/certs/server.pem
	TLSKey: T/certs/server.key
	TLSProtocols: >=TLSv1.2, !TLSv1.1
	TLSCiphers: HIGH:!aNULL
	TLSRequire: on
	OutTLS: verify
	OutTLSCAFile: T/certs/ca.pem
	OutTLSName: mx.example.test
	TLSModule: MODULE
	EOF
}

@test "the limits refuse values past their documented bounds, naming the bounds" {
	for bad in 'MaxRecipients: 0' 'MaxRecipients: 100001' 'MaxLineLength: 511' \
		'MaxLineLength: 8193' 'MaxErrors: 0' 'MaxJunkCommands: 0' \
		'MaxErrors: many' 'AuthorizedXForwardHosts: 10.0.0.0/33' \
		'AuthorizedXForwardHosts: example.org' 'AuthorizedXForwardHosts: ::1/129' \
		'MaxMessageSize: -1' 'MaxMessageSize: 1099511627777' 'MaxMessageSize: 10M' \
		'MaxMessageSize: 18446744073709551616' 'MaxMessageSize: +5'; do
		conf 'OutAddress: 127.0.0.1:25' "$bad"
		check
		echo "$bad -> $status $stderr"
		[ "$status" -eq 100 ]
		grep -q "c.conf:2: ${bad%%:*}: " <<<"$stderr"
	done
	for good in 'MaxRecipients: 1' 'MaxRecipients: 100000' 'MaxLineLength: 512' \
		'MaxLineLength: 8192' 'AuthorizedXForwardHosts: ' 'MaxErrors: 1' \
		'MaxMessageSize: 0' 'MaxMessageSize: 1' 'MaxMessageSize: 1099511627776'; do
		conf 'OutAddress: 127.0.0.1:25' "$good"
		check
		echo "$good -> $status $stderr"
		[ "$status" -eq 0 ]
	done
	conf 'OutAddress: 127.0.0.1:25' 'AuthorizedXForwardHosts:'
	check
	grep -qx 'AuthorizedXForwardHosts: ' <<<"$output"
}

@test "ProxyProtocol takes off, v1, v2 and any; ProxyProtocolHosts a network list" {
	for v in off v1 v2 any V2; do
		conf 'OutAddress: 127.0.0.1:25' "ProxyProtocol: $v"
		check
		[ "$status" -eq 0 ]
		grep -qx "ProxyProtocol: ${v,,}" <<<"$output"
	done
	for bad in 'ProxyProtocol: on' 'ProxyProtocol: v3' 'ProxyProtocol: ' \
		'ProxyProtocolHosts: 10.0.0.0/33' 'ProxyProtocolHosts: lb.example.org'; do
		conf 'OutAddress: 127.0.0.1:25' "$bad"
		check
		echo "$bad -> $status $stderr"
		[ "$status" -eq 100 ]
		grep -q "c.conf:2: ${bad%%:*}: " <<<"$stderr"
	done
	conf 'OutAddress: 127.0.0.1:25' 'ProxyProtocolHosts:'
	check
	[ "$status" -eq 0 ]
	grep -qx 'ProxyProtocolHosts: ' <<<"$output"
}

@test "FilterType takes pipe, file and reject" {
	for v in pipe file reject; do
		conf 'OutAddress: 127.0.0.1:25' 'FilterCommand: cat' "FilterType: $v"
		check
		[ "$status" -eq 0 ]
		grep -qx "FilterType: $v" <<<"$output"
	done
}

@test "OutAddress takes host:port, [v6]:port, a socket path and a bare port" {
	for v in 'mx.example.test:25' '192.0.2.7:10025' '[::1]:25' \
		'/run/postfix/filter.sock' '10026'; do
		conf "OutAddress: $v"
		check
		[ "$status" -eq 0 ]
		grep -qxF "OutAddress: $v" <<<"$output"
	done
}

@test "TransparentProxy takes off, on, client and full" {
	for pair in on:client client:client full:full; do
		conf "TransparentProxy: ${pair%%:*}"
		check
		[ "$status" -eq 0 ]
		grep -qx "TransparentProxy: ${pair#*:}" <<<"$output"
		# Unset, shown as a comment so that the output loads back.
		grep -qx '#OutAddress: ' <<<"$output"
		sed 1d <<<"$output" >"$T/again.conf"
		run "$PROXSMTPD" -t -f "$T/again.conf"
		[ "$status" -eq 0 ]
	done
	conf 'TransparentProxy: off' 'OutAddress: 127.0.0.1:25'
	check
	[ "$status" -eq 0 ]
	grep -qx 'TransparentProxy: off' <<<"$output"
}

@test "XClient takes on and off, BareNewline normalize and reject, Skip authenticated" {
	for v in on off; do
		conf 'OutAddress: 127.0.0.1:25' "XClient: $v"
		check
		[ "$status" -eq 0 ]
		grep -qx "XClient: $v" <<<"$output"
	done
	for v in normalize reject; do
		conf 'OutAddress: 127.0.0.1:25' "BareNewline: $v"
		check
		[ "$status" -eq 0 ]
		grep -qx "BareNewline: $v" <<<"$output"
	done
	conf 'OutAddress: 127.0.0.1:25' 'Skip: authenticated'
	check
	[ "$status" -eq 0 ]
	grep -qx 'Skip: authenticated' <<<"$output"
}

@test "the Header escapes are decoded: one setting gives two header lines upstream" {
	start_sink
	write_conf 'Header: X-One: first %i\r\nX-Two: second\tafter tab'
	printf 'HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: h\r\n\r\nbody\r\n.\r\nQUIT\r\n' |
		replay "$CONF" >"$T/out"
	cat "$T/out"
	grep -q '^250 2.0.0 Ok' "$T/out"
	[ "$(sink_count)" -eq 1 ]
	sink_message
	grep -qx 'X-One: first 127.0.0.1' <(sink_message)
	grep -qx $'X-Two: second\tafter tab' <(sink_message)
	# Both in the header block, before the blank line and the body.
	sink_message | awk '/^$/ { exit } { print }' | grep -q '^X-Two: '
	! grep -q 'X-One:.*X-Two' "$(sink_file)" || false
}

# --- the syntax of the file --------------------------------------------------

@test "setting names are case-insensitive" {
	conf 'outaddress: 127.0.0.1:25' 'FILTERTIMEOUT: 9' 'filterType: reject' \
		'bArEnEwLiNe: reject' 'xclient: on' 'KEEPALIVES: 3' 'timeout: 11'
	check
	[ "$status" -eq 0 ]
	grep -qx 'OutAddress: 127.0.0.1:25' <<<"$output"
	grep -qx 'FilterTimeout: 9' <<<"$output"
	grep -qx 'FilterType: reject' <<<"$output"
	grep -qx 'BareNewline: reject' <<<"$output"
	grep -qx 'XClient: on' <<<"$output"
	grep -qx 'KeepAlives: 3' <<<"$output"
	grep -qx 'TimeOut: 11' <<<"$output"
}

@test "comment lines and blank lines are ignored" {
	conf '# a comment: FilterTimeout: 5' \
		'' \
		'   # an indented comment' \
		$'\t' \
		'OutAddress: 127.0.0.1:25' \
		'#FilterType: bogus' \
		'' \
		'FilterTimeout: 12'
	check
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	grep -qx 'FilterTimeout: 12' <<<"$output"
	grep -qx 'FilterType: pipe' <<<"$output"
}

@test "white space around the colon and at both ends of the line is ignored" {
	conf '   OutAddress   :   127.0.0.1:2525   ' \
		$'\tFilterTimeout\t:\t45\t' \
		'FilterReject:550 5.7.1 No thanks' \
		'TempDirectory :/var/tmp  '
	check
	[ "$status" -eq 0 ]
	grep -qx 'OutAddress: 127.0.0.1:2525' <<<"$output"
	grep -qx 'FilterTimeout: 45' <<<"$output"
	grep -qx 'FilterReject: 550 5.7.1 No thanks' <<<"$output"
	grep -qx 'TempDirectory: /var/tmp' <<<"$output"
}

@test "a file with CRLF line ends parses like one with LF" {
	printf 'OutAddress: 127.0.0.1:25\r\nFilterTimeout: 8\r\n' >"$T/c.conf"
	C=$T/c.conf
	check
	[ "$status" -eq 0 ]
	grep -qx 'OutAddress: 127.0.0.1:25' <<<"$output"
	grep -qx 'FilterTimeout: 8' <<<"$output"
}

# --- errors -------------------------------------------------------------------

@test "an unknown setting is an error naming file and line, exit 100" {
	conf '# comment' '' 'OutAddress: 127.0.0.1:25' 'FilterFoo: 1'
	check
	config_error 4 "FilterFoo"
}

@test "bad values are errors naming file and line, exit 100" {
	local bad
	for bad in 'FilterType: bogus' 'FilterTimeout: -1' 'FilterTimeout: abc' \
		'FilterTimeout: 99999999999' 'FilterTimeout: 0' \
		'FilterTimeout: 10s' 'TimeOut: 0' 'TimeOut: -5' \
		'KeepAlives: -1' 'KeepAlives: x' 'TransparentProxy: maybe' \
		'XClient: perhaps' 'BareNewline: keep' 'Skip: everything' \
		'TempDirectory: relative/dir' 'Header: no colon here' \
		'Header: X-Bad: \q' 'FilterReject:' 'OutAddress:'; do
		conf '# leading comment' 'OutAddress: 127.0.0.1:25' "$bad"
		# A second OutAddress would be "given twice": test it alone.
		[ "$bad" = 'OutAddress:' ] && conf '# leading comment' '' "$bad"
		check
		config_error 3 "${bad%%:*}"
	done
}

@test "an OutAddress that cannot be an address is an error at check time" {
	# -t is the operator's check: an OutAddress the session can never
	# connect to (no port, port out of range, relative path, unclosed
	# bracket) must be caught there, with its line.
	local bad
	for bad in 'mx.example.test' 'mx.example.test:' 'mx.example.test:0' \
		'mx.example.test:70000' '[::1]' \
		'[::1' '[::1]25' 'relative/socket' '0' '99999'; do
		conf '' "OutAddress: $bad"
		check
		config_error 2 OutAddress
	done
}

@test "a setting given twice is an error at the second line, whatever its case" {
	conf 'OutAddress: 127.0.0.1:25' 'FilterTimeout: 5' '' 'filtertimeout: 6'
	check
	config_error 4 FilterTimeout
}

@test "a line without a colon is an error naming file and line" {
	conf 'OutAddress: 127.0.0.1:25' 'FilterType pipe'
	check
	config_error 2 "Name: value"
}

@test "OutAddress and TransparentProxy together, or neither, is an error" {
	conf 'OutAddress: 127.0.0.1:25' 'TransparentProxy: on'
	check
	config_error '' 'exclude each other'
	conf 'FilterTimeout: 5'
	check
	config_error '' 'OutAddress is required'
	# TransparentProxy: off does not stand in for an OutAddress.
	conf 'TransparentProxy: off'
	check
	config_error '' 'OutAddress is required'
}

@test "FilterType file without a FilterCommand is an error" {
	conf 'OutAddress: 127.0.0.1:25' 'FilterType: file'
	check
	config_error '' 'FilterType file needs a FilterCommand'
}

@test "an empty file is an error: OutAddress is required" {
	: >"$T/c.conf"
	C=$T/c.conf
	check
	config_error '' 'OutAddress is required'
}

@test "a config error in a session run (no -t) exits 100 and says nothing to the client" {
	conf 'OutAddress: 127.0.0.1:25' 'FilterType: bogus'
	run --separate-stderr "$PROXSMTPD" -d 4 -f "$C" </dev/null
	echo "$output / $stderr"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	grep -qF "$C:2: " <<<"$stderr"
}

# --- the daemon settings of 1.10 ----------------------------------------------

@test "Listen, MaxConnections and PidFile are accepted and logged at debug level as ignored" {
	conf 'Listen: 0.0.0.0:10025' 'maxconnections: 64' 'PidFile: /run/proxsmtpd.pid' \
		'OutAddress: 127.0.0.1:25'
	check -d 4
	[ "$status" -eq 0 ]
	grep -q 'Listen, MaxConnections, PidFile: ignored' <<<"$stderr"
	! grep -qi '^\(Listen\|MaxConnections\|PidFile\):' <<<"$output" || false
	grep -qx 'OutAddress: 127.0.0.1:25' <<<"$output"
	# Debug only: at -d 3 it is not shown.
	check -d 3
	[ "$status" -eq 0 ]
	! grep -q 'ignored' <<<"$stderr" || false
	# ... and a session with them runs as usual.
	start_sink
	write_conf 'Listen: 127.0.0.1:10025' 'MaxConnections: 10' 'PidFile: /nonexistent/x.pid'
	out=$(printf 'HELO c.test\r\nQUIT\r\n' | replay "$CONF")
	echo "$out"
	grep -q '^221 ' <<<"$out"
	grep -q 'Listen, MaxConnections, PidFile: ignored' "$PROXY_LOG"
	[ ! -e /nonexistent/x.pid ]
}

# --- which file -----------------------------------------------------------------

@test "a missing -f file is fatal: message naming it, exit 100" {
	C=$T/does-not-exist.conf
	check
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	grep -qF "$C" <<<"$stderr"
	grep -q 'No such file or directory' <<<"$stderr"
	! grep -q 'using the defaults' <<<"$stderr" || false
	# The same in a session run: nothing to the client.
	run --separate-stderr "$PROXSMTPD" -d 4 -f "$C" </dev/null
	[ "$status" -eq 100 ]
	[ -z "$output" ]
}

@test "a config file that is a directory is an error, exit 100" {
	mkdir "$T/conf.d"
	C=$T/conf.d
	check
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	grep -qF "$C" <<<"$stderr"
}

@test "an unreadable config file is an error naming it, exit 100" {
	conf 'OutAddress: 127.0.0.1:25'
	chmod 000 "$C"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$PROXSMTPD" -t -f "$C"
	echo "$status / $output / $stderr"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	grep -qF "$C" <<<"$stderr"
	grep -q 'Permission denied' <<<"$stderr"
}

@test "the default config file is the build-time path; missing, it is only a warning" {
	# In a private mount namespace a tmpfs hides the real directory, so the
	# test does not depend on (or touch) what is installed there.
	def=$(default_config_path)
	echo "default: $def"
	[ -n "$def" ]
	cat >"$T/ns.sh" <<-EOF
	set -e
	mount -t tmpfs nsetc "$(dirname "$def")"
	set +e
	echo "== missing"
	"$PROXSMTPD" -t -d 4; echo "rc=\$?"
	printf 'OutAddress: 192.0.2.1:2525\nFilterTimeout: 17\n' >"$def"
	echo "== present"
	"$PROXSMTPD" -t; echo "rc=\$?"
	EOF
	run timeout 30 unshare -m --propagation private sh "$T/ns.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	missing=$(sed -n '/^== missing/,/^== present/p' <<<"$output")
	present=$(sed -n '/^== present/,$p' <<<"$output")
	# Missing default file: a warning, the defaults apply; with no
	# OutAddress among the defaults, validation then fails (exit 100).
	grep -qF "$def: No such file or directory; using the defaults" <<<"$missing"
	grep -q 'OutAddress is required' <<<"$missing"
	grep -qx 'rc=100' <<<"$missing"
	# Present: it is read without -f.
	grep -qx 'OutAddress: 192.0.2.1:2525' <<<"$present"
	grep -qx 'FilterTimeout: 17' <<<"$present"
	grep -qx 'rc=0' <<<"$present"
	# Nothing leaked out of the namespace.
	[ "$(default_config_path)" = "$def" ]
	if [ -e "$def" ]; then ! grep -q 192.0.2.1 "$def" || false; fi
}

@test "the shipped sample configuration passes the check" {
	C=$BATS_TEST_DIRNAME/../proxsmtpd.conf.sample
	check
	[ "$status" -eq 0 ]
	grep -q '^OutAddress: ' <<<"$output"
}

# --- options ----------------------------------------------------------------------

@test "bad options print the usage and exit 100" {
	conf 'OutAddress: 127.0.0.1:25'
	for args in '-x' '-d 5' '-d -1' '-d abc' '-d' '-f' '-p' "-f $C extra"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$PROXSMTPD" $args </dev/null
		echo "$args: $status / $output / $stderr"
		[ "$status" -eq 100 ]
		[ -z "$output" ]
		grep -q '^usage: proxsmtpd ' <<<"$stderr"
	done
}

@test "-p writes the session's pid while it runs and removes the file at exit" {
	start_sink
	# The filter holds the message until the test has looked.
	f=$(write_filter hold.sh "touch $T/filter-running" \
		"while [ ! -e $T/go ]; do sleep 0.05; done" 'cat')
	write_conf "FilterCommand: $f"
	printf 'HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n' >"$T/in"
	"$PROXSMTPD" -d 4 -f "$CONF" -p "$T/session.pid" <"$T/in" >"$T/out" 2>>"$PROXY_LOG" &
	pid=$!
	track "$pid"
	wait_file "$T/filter-running"
	[ "$(cat "$T/session.pid")" = "$pid" ]
	touch "$T/go"
	wait "$pid"
	cat "$T/out"
	grep -q '^250 2.0.0 Ok' "$T/out"
	[ ! -e "$T/session.pid" ]
}

@test "-p: the pid file is removed when the session fails too" {
	conf "OutAddress: 127.0.0.1:$(free_port)" "TempDirectory: $SPOOL"
	run --separate-stderr "$PROXSMTPD" -d 4 -f "$C" -p "$T/session.pid" </dev/null
	echo "$status / $output"
	[ "$status" -eq 111 ]
	[[ "$output" == "421 "* ]]
	[ ! -e "$T/session.pid" ]
}
