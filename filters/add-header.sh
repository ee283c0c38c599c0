#!/bin/sh
# add-header.sh - example proxsmtpd filter (FilterType: pipe).
#
# Copies the message from standard input to standard output with one header
# line added at the top:
#
#   FilterType: pipe
#   FilterCommand: /path/to/add-header.sh
#   FilterCommand: /path/to/add-header.sh 'X-Scanned: yes'
#
# The header line is the first argument, "X-Filtered-By: proxsmtpd" without
# one. The line ending of the message is kept: the new line ends in CRLF
# when the message's first line does, in LF otherwise.
#
# Exit status 0 tells proxsmtpd to forward the output. If awk fails, the
# non-zero status with awk's message on standard error makes proxsmtpd
# reject the message with that text; use a reply code there for anything
# else (see FILTERING in proxsmtpd(8)).
#
# (The Header setting of proxsmtpd.conf adds a header without any filter;
# this script is a starting point for filters of your own.)

header=${1:-X-Filtered-By: proxsmtpd}

case $header in
*[![:print:][:blank:]]*)
	# Printable characters and tabs only: a CR or LF would start a new
	# header line, or end the header block.
	echo "451 4.3.0 add-header.sh: header contains control characters" >&2
	exit 75
	;;
esac

# The header is passed through the environment: awk -v would expand
# backslash escapes in it.
PROXSMTPD_HEADER=$header exec awk '
	NR == 1 {
		eol = ""
		if ($0 ~ /\r$/)
			eol = "\r"
		printf "%s%s\n", ENVIRON["PROXSMTPD_HEADER"], eol
	}
	{ print }
	END {
		if (NR == 0)	# an empty message: it gets the header alone
			printf "%s\r\n", ENVIRON["PROXSMTPD_HEADER"]
	}
'
