#!/usr/bin/env bats
# One full session under valgrind memcheck: zero errors, zero leaks. The
# session forwards a message through a pipe filter, rejects one, drops one
# and forwards another, in replay mode against
# smtp-sink, so that valgrind sees the whole life of the process.

load helpers

@test "a full session under valgrind memcheck: no errors, no leaks" {
	command -v valgrind
	start_sink
	filter=$(write_filter f.sh 'case $SENDER in' \
		'reject@*) cat >/dev/null; echo "550 5.7.1 no" >&2; exit 1 ;;' \
		'drop@*) cat >/dev/null; echo "250 dropped" >&2; exit 1 ;;' \
		'esac' 'sed "s/hello/HELLO/"')
	write_conf "FilterCommand: $filter" "Header: X-Checked: %i on %d" "TimeOut: 20"
	{
		printf 'EHLO c.test\r\nXFORWARD ADDR=10.1.2.3 HELO=far.test\r\n'
		for who in fwd reject drop fwd2; do
			printf 'MAIL FROM:<%s@a.test>\r\nRCPT TO:<x@b.test>\r\nRCPT TO:<y@b.test>\r\nDATA\r\n' "$who"
			printf 'Subject: %s\r\n\r\nhello\r\n..dot\r\nbare\nlf\r\n.\r\n' "$who"
		done
		printf 'RSET\r\nNOOP\r\nSTARTTLS\r\nXCLIENT ADDR=1.2.3.4\r\nQUIT\r\n'
	} >"$T/session.txt"
	# The plain build: a sanitizer's build cannot run under valgrind.
	bin=$(cd "$BATS_TEST_DIRNAME/.." && pwd)/proxsmtpd
	run valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
		--errors-for-leak-kinds=all --track-fds=no --trace-children=no \
		"$bin" -d 4 -f "$CONF" <"$T/session.txt"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q '^==[0-9]*==' <<<"$output" || false
	# The reply to each end of data, in order.
	[ "$(grep -v '^proxsmtpd\[\|^--' <<<"$output" | tr -d '\r' |
		awk 'want { printf "%s|", $0; want = 0 } /^354 / { want = 1 }')" = \
		"250 2.0.0 Ok|550 5.7.1 no|250 dropped|250 2.0.0 Ok|" ]
	[ "$(sink_count)" -eq 2 ]
	grep -q '^HELLO$' "$(sink_file)"
}
