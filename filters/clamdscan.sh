#!/bin/sh
# clamdscan.sh - proxsmtpd filter that scans mail with ClamAV's clamdscan
# (FilterType: file).
#
#   FilterType: file
#   FilterCommand: /path/to/clamdscan.sh
#   FilterCommand: /path/to/clamdscan.sh --config-file=/etc/clamav/clamd-mail.conf
#
# Arguments are passed on to clamdscan (before the file name).
#
# proxsmtpd names the message file in $EMAIL. The file is private to the
# session (mode 0600), so it is handed to clamd as an open descriptor
# (--fdpass) rather than by name: clamd runs as another user.
#
#   clamdscan exit 0     clean: forward the message unchanged
#   clamdscan exit 1     virus found: reject with 550 5.7.1 and its name
#   anything else        clamd down, clamdscan missing, scan error:
#                        temporary failure, the client retries
#
# proxsmtpd reads the last line this script writes to standard error: a
# line that starts with a full reply code is the reply the client gets,
# whatever the non-zero exit status (75 is EX_TEMPFAIL, for readers).

if [ -z "${EMAIL:-}" ]; then
	echo "451 4.3.0 clamdscan.sh: EMAIL is not set (needs FilterType: file)" >&2
	exit 75
fi

# clamdscan reports "FILE: NAME FOUND" on standard output.
report=$(clamdscan --no-summary --fdpass "$@" "$EMAIL" 2>&1)
status=$?

case $status in
0)
	exit 0
	;;
1)
	# The virus name: what comes between the last ": " and " FOUND",
	# kept to characters that are safe in a reply line.
	name=$(printf '%s\n' "$report" |
	    sed -n 's/^.*: \(.*\) FOUND$/\1/p' | head -n 1 |
	    tr -cd 'A-Za-z0-9._:/+_-')
	echo "550 5.7.1 Virus found: ${name:-unknown}" >&2
	exit 1
	;;
*)
	echo "451 4.3.0 Virus scanner unavailable" >&2
	exit 75
	;;
esac
