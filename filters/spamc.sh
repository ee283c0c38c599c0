#!/bin/sh
# spamc.sh - proxsmtpd filter that checks mail with SpamAssassin's spamc
# (FilterType: pipe).
#
#   FilterType: pipe
#   FilterCommand: /path/to/spamc.sh
#   FilterCommand: /path/to/spamc.sh -d spamd.example.org -u filter
#
# Arguments are passed on to spamc. The message is read from standard
# input; spamd's version of it (with its X-Spam-* headers) is written to
# standard output and forwarded.
#
#   spamc exit 0         not spam: forward spamd's output
#   spamc exit 1         spam: reject with 550 5.7.1
#   spamc exit 2 or more spamc or spamd failed (not installed, spamd down,
#                        timeout): temporary failure, the client retries
#
# -x (no safe fallback) makes spamc report a failure instead of passing the
# message through unchecked; -E makes it exit 1 for spam. Messages larger
# than spamc's size limit (-s, 500 KB by default) are passed through
# unchecked, with exit status 0.
#
# proxsmtpd reads the last line this script writes to standard error: a
# line that starts with a full reply code is the reply the client gets,
# whatever the non-zero exit status (75 is EX_TEMPFAIL, for readers).

spamc -E -x "$@"
status=$?

case $status in
0)
	exit 0
	;;
1)
	echo "550 5.7.1 Message looks like spam" >&2
	exit 1
	;;
*)
	echo "451 4.3.0 Spam checker unavailable, try again later (spamc exit $status)" >&2
	exit 75
	;;
esac
