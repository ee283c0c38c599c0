#!/usr/bin/env bats
# Where the log goes and what it says: stderr with -d and its levels,
# stderr without -d only where neither journal nor syslog exists and fd 2 is
# not a socket, one info line per message with its fields, syslog facility
# mail when there is no journal, and the journal's structured fields. syslog and journal are captured in private namespaces
# (t/lib/logcapture.bash).

bats_require_minimum_version 1.5.0

load helpers
load lib/logcapture

local_setup() {
	start_sink
}

# --- local helpers ---------------------------------------------------------

# A session that makes the proxy log at every level (replayed from a file,
# it ends without QUIT in the middle of a transaction):
#   err      the filter cannot be run ("filter could not be run")
#   warning  the client is lost mid-transaction ("lost connection")
#   notice   XCLIENT is refused ("refused XCLIENT")
#   info     the message's line ("outcome=tempfail")
#   debug    "connection from", "reply to"
levels_session() {
	printf 'EHLO c.test\r\nXCLIENT ADDR=10.1.1.1\r\n'
	printf 'MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n'
	printf 'Subject: levels\r\n\r\nx\r\n.\r\n'
	printf 'MAIL FROM:<late@b.test>\r\n'
}
LEVEL_LINES=('filter could not be run' 'lost connection' 'refused XCLIENT'
	'outcome=tempfail' 'connection from 127.0.0.1')

# A filter whose verdict comes from the sender: fwd forwarded, rej
# rejected, drop dropped, tmp killed (a temporary failure).
outcome_filter() {
	write_filter outcome.sh 'case "$SENDER" in' \
		'fwd@*) cat ;;' \
		"rej@*) cat >/dev/null; echo '550 5.7.1 Not wanted here' >&2; exit 1 ;;" \
		"drop@*) cat >/dev/null; echo '250 2.0.0 Ok: dropped' >&2; exit 1 ;;" \
		'tmp@*) cat >/dev/null; kill -9 $$ ;;' \
		'esac'
}

# One message: SENDER BODY-WORD [RECIPIENTS...]
one_message() {
	local from=$1 word=$2 r
	shift 2
	printf 'MAIL FROM:<%s>\r\n' "$from"
	for r in "$@"; do printf 'RCPT TO:<%s>\r\n' "$r"; done
	printf 'DATA\r\nSubject: %s\r\n\r\n%s\r\n.\r\n' "$word" "$word"
}

# A session with one message of each outcome, and a transaction that is
# abandoned before DATA (no line for it).
outcomes_session() {
	printf 'EHLO c.test\r\n'
	one_message fwd@a.test forwarded r1@b.test r2@b.test
	one_message rej@a.test rejected r1@b.test
	printf 'MAIL FROM:<abandoned@a.test>\r\nRCPT TO:<r1@b.test>\r\nRSET\r\n'
	one_message drop@a.test dropped r3@b.test
	one_message tmp@a.test tempfail r4@b.test
	printf 'QUIT\r\n'
}

# The size the proxy logs for a message of one_message: its bytes as
# spooled (CRLF line ends, no dot-stuffing).
message_size() { printf 'Subject: %s\r\n\r\n%s\r\n' "$1" "$1" | wc -c; }

# The info lines of FILE must be exactly the four outcomes, with all their
# fields, in order. PREFIX is what comes before "client=" in the file.
check_outcome_lines() { # FILE PREFIX-REGEX
	local f=$1 p=$2 sz
	grep -E 'outcome=' "$f"
	[ "$(grep -c 'outcome=' "$f")" -eq 4 ]
	sz=$(message_size forwarded)
	grep -Eq "${p}client=127\.0\.0\.1 from=<fwd@a\.test> to=<r1@b\.test>,<r2@b\.test> nrcpt=2 size=$sz outcome=forwarded reply=\"250 2\.0\.0 Ok\" filter_ms=[0-9]+\$" "$f"
	sz=$(message_size rejected)
	grep -Eq "${p}client=127\.0\.0\.1 from=<rej@a\.test> to=<r1@b\.test> nrcpt=1 size=$sz outcome=rejected reply=\"550 5\.7\.1 Not wanted here\"( detail=\"[^\"]*\")? filter_ms=[0-9]+\$" "$f"
	sz=$(message_size dropped)
	grep -Eq "${p}client=127\.0\.0\.1 from=<drop@a\.test> to=<r3@b\.test> nrcpt=1 size=$sz outcome=dropped reply=\"250 2\.0\.0 Ok: dropped\"( detail=\"[^\"]*\")? filter_ms=[0-9]+\$" "$f"
	sz=$(message_size tempfail)
	grep -Eq "${p}client=127\.0\.0\.1 from=<tmp@a\.test> to=<r4@b\.test> nrcpt=1 size=$sz outcome=tempfail reply=\"451 4\.[0-9.]+ [^\"]*\"( detail=\"[^\"]*\")? filter_ms=[0-9]+\$" "$f"
	! grep -q 'abandoned' "$f" || false
}

# --- stderr with -d ------------------------------------------------------------

@test "-d N shows the lines of level N and below, and none above" {
	write_conf 'FilterCommand: /nonexistent/filter'
	levels_session >"$T/levels.in"
	local d i
	for d in 0 1 2 3 4; do
		run --separate-stderr "$PROXSMTPD" -d "$d" -f "$CONF" <"$T/levels.in"
		echo "== -d $d: exit $status"
		echo "$stderr"
		[ "$status" -eq 1 ]
		grep -q '^451 4.3.0 ' <<<"$output"
		for i in 0 1 2 3 4; do
			if [ "$i" -le "$d" ]; then
				grep -qF "${LEVEL_LINES[$i]}" <<<"$stderr"
			else
				! grep -qF "${LEVEL_LINES[$i]}" <<<"$stderr" || false
			fi
		done
		# Every line is the proxy's, with its pid and the session id.
		! grep -Ev '^proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: ' <<<"$stderr" || false
	done
}

@test "-d 0 shows only errors, -d 3 the info line but no debug, -d 4 debug" {
	write_conf "FilterCommand: $(outcome_filter)"
	outcomes_session >"$T/in"
	run --separate-stderr "$PROXSMTPD" -d 0 -f "$CONF" <"$T/in"
	echo "$stderr"
	[ "$status" -eq 0 ]
	# The killed filter is the only error of this session.
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	grep -q 'killed by signal 9' <<<"$stderr"
	run --separate-stderr "$PROXSMTPD" -d 3 -f "$CONF" <"$T/in"
	echo "$stderr"
	[ "$(grep -c 'outcome=' <<<"$stderr")" -eq 4 ]
	! grep -q 'connection from\|session closed\|reply to' <<<"$stderr" || false
	run --separate-stderr "$PROXSMTPD" -d 4 -f "$CONF" <"$T/in"
	echo "$stderr"
	grep -q 'connection from 127.0.0.1' <<<"$stderr"
	grep -q 'session closed after QUIT' <<<"$stderr"
	[ "$(grep -c 'outcome=' <<<"$stderr")" -eq 4 ]
}

# --- without -d: no journal, no syslog ----------------------------------------------

@test "without -d, with neither journal nor syslog socket, the log goes to stderr (info and above)" {
	write_conf 'FilterCommand: /nonexistent/filter' 'Listen: 0.0.0.0:25'
	levels_session >"$T/levels.in"
	cat >"$T/run.sh" <<-EOF
	"$PROXSMTPD" -f "$CONF" <"$T/levels.in" >"$T/out" 2>"$T/err"
	echo "\$?" >"$T/rc"
	"$PROXSMTPD" -f "$T/missing.conf" </dev/null >"$T/out2" 2>"$T/err2"
	echo "\$?" >"$T/rc2"
	EOF
	run in_log_ns none "$T/unused" sh "$T/run.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$T/out" "$T/err"
	[ "$(cat "$T/rc")" = 1 ]
	grep -q '^451 4.3.0 ' "$T/out"
	# err, warning, notice and info, as with -d 3; debug only with -d 4.
	local i
	for i in 0 1 2 3; do
		grep -qF "${LEVEL_LINES[$i]}" "$T/err"
	done
	! grep -qF "${LEVEL_LINES[4]}" "$T/err" || false
	! grep -q 'ignored (the launcher does that job)' "$T/err" || false
	! grep -Ev '^proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: ' "$T/err" || false
	# Nothing of the log on stdout, the client's side.
	! grep -v '^[0-9][0-9][0-9][ -]' "$T/out" || false
	# A configuration error, no -d: exit 100, the reason on stderr.
	cat "$T/err2"
	[ "$(cat "$T/rc2")" = 100 ]
	grep -q "^proxsmtpd\[[0-9]*\]: .*missing.conf" "$T/err2"
	[ ! -s "$T/out2" ]
}

@test "without -d, with fd 2 a socket (inetd, xinetd), nothing of the log is written to it" {
	write_conf 'FilterCommand: /nonexistent/filter'
	levels_session >"$T/levels.in"
	# socat gives the proxy one socket as stdin, stdout and stderr, as
	# xinetd does; what comes back is all the client would see.
	cat >"$T/run.sh" <<-EOF
	# The session ends lost mid-transaction: exit 1, which socat reports.
	socat -t 30 - EXEC:"$PROXSMTPD -f $CONF",stderr <"$T/levels.in" >"$T/out"
	socat -t 30 - EXEC:"$PROXSMTPD -d 4 -f $CONF",stderr <"$T/levels.in" >"$T/out-d4"
	exit 0
	EOF
	run in_log_ns none "$T/unused" sh "$T/run.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$T/out"
	grep -q '^451 4.3.0 ' "$T/out"
	# Only SMTP replies.
	! grep -v $'^[0-9][0-9][0-9][ -].*\r$' "$T/out" || false
	# The harness can see stderr: with -d 4 (which the manual warns
	# against here) the log lines do arrive on the socket.
	grep -q '^proxsmtpd\[[0-9]*\]: .*filter could not be run' "$T/out-d4"
}

# --- the per-message line ----------------------------------------------------------

@test "exactly one info line per message, with client= from= to= nrcpt= size= outcome= reply= filter_ms=" {
	write_conf "FilterCommand: $(outcome_filter)"
	outcomes_session >"$T/in"
	replay "$CONF" <"$T/in" >"$T/out"
	cat "$T/out"
	[ "$(grep -c '^354 ' "$T/out")" -eq 4 ]
	check_outcome_lines "$PROXY_LOG" '^proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: '
	[ "$(message_lines)" -eq 4 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "the info line of a message that no filter saw says filter_ms=none" {
	write_conf
	{
		printf 'EHLO c.test\r\n'
		one_message plain@a.test plain r1@b.test
		printf 'QUIT\r\n'
	} | replay "$CONF" >"$T/out"
	cat "$T/out"
	grep -Eq 'client=127\.0\.0\.1 from=<plain@a\.test> to=<r1@b\.test> nrcpt=1 size=[0-9]+ outcome=forwarded reply="250 2\.0\.0 Ok" filter_ms=none$' "$PROXY_LOG"
	[ "$(message_lines)" -eq 1 ]
}

# --- syslog ------------------------------------------------------------------------

@test "no journal: syslog(3) to /dev/log, facility mail, identifier proxsmtpd[pid]" {
	write_conf "FilterCommand: $(outcome_filter)"
	outcomes_session >"$T/in"
	levels_session >"$T/levels.in"
	# Two sessions: the four outcomes, and one with a line of every level
	# (its filter cannot be run).
	{
		sed 's/^FilterCommand: .*/FilterCommand: \/nonexistent\/filter/' "$CONF"
	} >"$T/levels.conf"
	cat >"$T/run.sh" <<-EOF
	"$PROXSMTPD" -f "$CONF" <"$T/in" >"$T/out" 2>"$T/err" &
	echo \$! >"$T/pid1"
	wait \$!
	echo "\$?" >"$T/rc1"
	"$PROXSMTPD" -f "$T/levels.conf" <"$T/levels.in" >"$T/out2" 2>"$T/err2" &
	echo \$! >"$T/pid2"
	wait \$!
	echo "\$?" >"$T/rc2"
	EOF
	run in_log_ns syslog "$T/syslog" sh "$T/run.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$T/syslog"
	[ "$(cat "$T/rc1")" = 0 ]
	[ "$(cat "$T/rc2")" = 1 ]
	[ ! -s "$T/err" ]
	[ ! -s "$T/err2" ]
	pid1=$(cat "$T/pid1")
	pid2=$(cat "$T/pid2")
	# Every line of ours: facility mail (2), identifier proxsmtpd[pid].
	grep 'proxsmtpd' "$T/syslog" >"$T/ours"
	[ -s "$T/ours" ]
	! grep -Ev "^<(1[6-9]|2[0-3])>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} proxsmtpd\[($pid1|$pid2)\]: [0-9a-f]{12}: " "$T/ours" || false
	# The message lines: LOG_MAIL|LOG_INFO = <22>, from the first session.
	grep "proxsmtpd\[$pid1\]" "$T/ours" >"$T/ours1"
	check_outcome_lines "$T/ours1" "^<22>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} proxsmtpd\\[$pid1\\]: [0-9a-f]{12}: "
	# One session id per session.
	[ "$(sed -En 's/.* proxsmtpd\[[0-9]+\]: ([0-9a-f]{12}): .*/\1/p' "$T/ours1" | sort -u | wc -l)" -eq 1 ]
	# The levels: err <19>, warning <20>, notice <21>, info <22>; debug
	# (<23>) is not logged without -d.
	grep -q "^<19>.* proxsmtpd\[$pid2\]: .*filter could not be run" "$T/ours"
	grep -q "^<20>.* proxsmtpd\[$pid2\]: .*lost connection" "$T/ours"
	grep -q "^<21>.* proxsmtpd\[$pid2\]: .*refused XCLIENT" "$T/ours"
	grep -q "^<22>.* proxsmtpd\[$pid2\]: .*outcome=tempfail" "$T/ours"
	! grep -q '^<23>' "$T/ours" || false
	! grep -q 'connection from' "$T/ours" || false
}

# --- the journal ------------------------------------------------------------------

@test "journal socket present: structured fields on the message entry" {
	write_conf "FilterCommand: $(outcome_filter)"
	outcomes_session >"$T/in"
	cat >"$T/run.sh" <<-EOF
	"$PROXSMTPD" -f "$CONF" <"$T/in" >"$T/out" 2>"$T/err" &
	echo \$! >"$T/pid"
	wait \$!
	echo "\$?" >"$T/rc"
	EOF
	run in_log_ns journal "$T/journal.json" sh "$T/run.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/rc")" = 0 ]
	[ ! -s "$T/err" ]
	J=$T/journal.json
	pid=$(cat "$T/pid")
	jf() { jfield "$J" "$@"; }
	# The four message entries.
	[ "$(jf SYSLOG_IDENTIFIER=proxsmtpd OUTCOME | sort | tr '\n' ' ')" = \
		"dropped forwarded rejected tempfail " ]
	# The forwarded one, field by field.
	[ "$(jf OUTCOME=forwarded SYSLOG_IDENTIFIER)" = proxsmtpd ]
	[ "$(jf OUTCOME=forwarded PRIORITY)" = 6 ]
	[ "$(jf OUTCOME=forwarded SYSLOG_FACILITY)" = 2 ]
	[[ "$(jf OUTCOME=forwarded SESSION_ID)" =~ ^[0-9a-f]{12}$ ]]
	[ "$(jf OUTCOME=forwarded CLIENT)" = 127.0.0.1 ]
	[ "$(jf OUTCOME=forwarded SENDER)" = fwd@a.test ]
	[ "$(jf OUTCOME=forwarded RECIPIENTS)" = '<r1@b.test>,<r2@b.test>' ]
	[ "$(jf OUTCOME=forwarded SIZE)" = "$(message_size forwarded)" ]
	[ "$(jf OUTCOME=forwarded REPLY)" = '250 2.0.0 Ok' ]
	[[ "$(jf OUTCOME=forwarded FILTER_MS)" =~ ^[0-9]+$ ]]
	[ "$(jf OUTCOME=forwarded _PID)" = "$pid" ]
	jf OUTCOME=forwarded MESSAGE | grep -q '^client=127.0.0.1 from=<fwd@a.test> to=<r1@b.test>,<r2@b.test> nrcpt=2 .*outcome=forwarded'
	# The others.
	[ "$(jf OUTCOME=rejected REPLY)" = '550 5.7.1 Not wanted here' ]
	[ "$(jf OUTCOME=rejected SENDER)" = rej@a.test ]
	[ "$(jf OUTCOME=dropped REPLY)" = '250 2.0.0 Ok: dropped' ]
	[ "$(jf OUTCOME=dropped RECIPIENTS)" = '<r3@b.test>' ]
	[[ "$(jf OUTCOME=tempfail REPLY)" == "451 4."* ]]
	# Every entry of the session carries the same SESSION_ID, so that
	# "journalctl SESSION_ID=..." shows the session.
	sid=$(jf OUTCOME=forwarded SESSION_ID)
	[ "$(jf SYSLOG_IDENTIFIER=proxsmtpd SESSION_ID | sort -u)" = "$sid" ]
	# The error (the killed filter) has PRIORITY 3; nothing at debug (7).
	jf PRIORITY=3 MESSAGE | grep -q 'killed by signal 9'
	[ -z "$(jf PRIORITY=7 MESSAGE)" ]
}

# --- INTERFACE.md against a real run ------------------------------------------------

@test "the documented interface (INTERFACE.md): journal fields, session id, the SIGTERM reply" {
	doc=$BATS_TEST_DIRNAME/../INTERFACE.md
	# What INTERFACE.md promises, read from it so that the two cannot
	# drift apart.
	every=$(sed -n 's/^Journal fields of every entry: //p' "$doc" | grep -oE '\b[A-Z][A-Z_]+\b' | sort)
	also=$(sed -n "s/^the message's entry also: //p" "$doc" | grep -oE '\b[A-Z][A-Z_]+\b' | sort)
	sigterm=$(sed -n 's/^- SIGTERM\/SIGHUP\/SIGINT: `\(.*\)` then exit 1$/\1/p' "$doc")
	echo "every entry: $every"; echo "message entry also: $also"; echo "SIGTERM: $sigterm"
	[ "$(wc -l <<<"$every")" -ge 5 ] && [ "$(wc -l <<<"$also")" -ge 7 ]
	[[ "$sigterm" == "421 "*"<host>"* ]]
	grep -qx 'RECIPIENTS' <<<"$also"

	# A session with a message of each outcome, and one that gets SIGTERM
	# while its filter runs; the journal of a namespace of our own
	# records both.
	write_conf "FilterCommand: $(outcome_filter)"
	outcomes_session >"$T/in"
	slow=$(write_filter slow.sh "touch '$T/started'" 'sleep 30' 'cat')
	sed "s|^FilterCommand: .*|FilterCommand: $slow|" "$CONF" >"$T/slow.conf"
	{
		printf 'EHLO c.test\r\n'
		one_message term@a.test term r1@b.test
		printf 'QUIT\r\n'
	} >"$T/in2"
	grep -v '^FilterCommand:' "$CONF" >"$T/nofilter.conf"
	{
		printf 'EHLO c.test\r\n'
		one_message plain@a.test plain r1@b.test
		printf 'QUIT\r\n'
	} >"$T/in3"
	cat >"$T/run.sh" <<-EOF
	"$PROXSMTPD" -f "$CONF" <"$T/in" >"$T/out" 2>"$T/err"
	echo "\$?" >"$T/rc"
	"$PROXSMTPD" -f "$T/nofilter.conf" <"$T/in3" >"$T/out3" 2>"$T/err3"
	"$PROXSMTPD" -f "$T/slow.conf" <"$T/in2" >"$T/out2" 2>"$T/err2" &
	p=\$!
	i=0
	until [ -e "$T/started" ]; do i=\$((i + 1)); [ \$i -lt 500 ] || break; sleep 0.02; done
	kill -TERM \$p
	wait \$p
	echo "\$?" >"$T/rc2"
	EOF
	run in_log_ns journal "$T/journal.json" sh "$T/run.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/rc")" = 0 ]
	[ -e "$T/started" ]
	[ ! -s "$T/err" ] && [ ! -s "$T/err2" ]

	# Every entry has exactly the documented fields (those journald adds
	# itself begin with "_"), the message entries the others as well, each
	# field once (a repeated field would be a JSON list).
	/usr/bin/python3 - "$T/journal.json" >"$T/fields" <<-'EOF'
	import json, sys
	for line in open(sys.argv[1]):
	    e = json.loads(line)
	    mine = sorted(k for k in e if not k.startswith("_"))
	    lists = [k for k in mine if isinstance(e[k], list)]
	    print(e.get("OUTCOME", "-"), "repeated:" + ",".join(lists) if lists else "once", " ".join(mine))
	EOF
	cat "$T/fields"
	want_every=$(tr '\n' ' ' <<<"$every" | sed 's/ $//')
	want_msg=$(sort <<<"$every"$'\n'"$also" | tr '\n' ' ' | sed 's/ $//')
	want_nofilter=$(sort <<<"$every"$'\n'"$also" | grep -vx FILTER_MS | tr '\n' ' ' | sed 's/ $//')
	! grep -v ' once ' "$T/fields" || false
	# The lines that are not a message's (the killed filter's error, the
	# SIGTERM warning).
	[ "$(grep -c '^- ' "$T/fields")" -ge 2 ]
	! grep '^- ' "$T/fields" | grep -vx -- "- once $want_every" || false
	# forwarded, rejected, dropped, tempfail of the first session, and the
	# message cut short by SIGTERM: a filter ran for each.
	[ "$(grep -cx -- "[a-z]* once $want_msg" "$T/fields")" -eq 5 ]
	# No filter ran: no FILTER_MS.
	[ "$(grep -cx -- "forwarded once $want_nofilter" "$T/fields")" -eq 1 ]
	[ "$(jfield "$T/journal.json" SENDER=plain@a.test OUTCOME)" = forwarded ]
	[ -z "$(jfield "$T/journal.json" SENDER=plain@a.test FILTER_MS)" ]

	# The session id: 12 hexadecimal digits in SESSION_ID, one per
	# session, the same on all of a session's entries.
	jfield "$T/journal.json" SYSLOG_IDENTIFIER=proxsmtpd SESSION_ID | sort -u >"$T/ids"
	cat "$T/ids"
	[ "$(wc -l <"$T/ids")" -eq 3 ]
	! grep -Evx '[0-9a-f]{12}' "$T/ids" || false
	# The message line's text, as documented.
	jfield "$T/journal.json" SENDER=fwd@a.test MESSAGE |
		grep -Ex 'client=127\.0\.0\.1 from=<fwd@a\.test> to=<r1@b\.test>,<r2@b\.test> nrcpt=2 size=[0-9]+ outcome=forwarded reply="250 2\.0\.0 Ok" filter_ms=[0-9]+'
	[ "$(jfield "$T/journal.json" SENDER=fwd@a.test RECIPIENTS)" = '<r1@b.test>,<r2@b.test>' ]

	# SIGTERM: the documented reply, our host name in it, exit 1; the
	# message's entry says so.
	want="${sigterm/<host>/$HOSTNAME_NOW}"
	cat "$T/out2"
	[ "$(tail -1 "$T/out2")" = "$want"$'\r' ]
	[ "$(cat "$T/rc2")" = 1 ]
	[ "$(jfield "$T/journal.json" SENDER=term@a.test REPLY)" = "$want" ]
	[ "$(jfield "$T/journal.json" SENDER=term@a.test OUTCOME)" = tempfail ]

	# The same session on stderr (-d 3): "proxsmtpd[PID]: SESSION: text".
	run --separate-stderr "$PROXSMTPD" -d 3 -f "$CONF" <"$T/in"
	echo "$stderr"
	! grep -Evx 'proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: .+' <<<"$stderr" || false
	grep -Ex 'proxsmtpd\[[0-9]+\]: [0-9a-f]{12}: client=127\.0\.0\.1 from=<fwd@a\.test> .* outcome=forwarded .*' <<<"$stderr"
}
