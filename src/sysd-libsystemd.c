/*
 * sysd-libsystemd.c - journal entries and passed sockets through
 * libsystemd: sd_journal_sendv() and sd_listen_fds(). Built with
 * "make LIBSYSTEMD=1" in place of sysd.c, for distributions that prefer the
 * library to our own implementation of its protocols; what it costs each
 * session is measured in bench/results.md ("libsystemd build option").
 */
#include "sysd.h"

/* The entries carry the fields we give, not CODE_FILE/CODE_LINE of this
 * file: the same entries as the default build's. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/* libsystemd keeps its own connection to the journal, opened at the first
 * entry: there is no fd of ours. The caller has found the socket already
 * (both builds choose the journal under the same condition). */
int
sysd_journal_open(void)
{
	return 0;
}

void
sysd_journal_send(int journal, const struct iovec *fields, int n)
{
	(void)journal;
	(void)sd_journal_sendv(fields, n);
}

int
sysd_listen_fds(void)
{
	/* 1: unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES; the fds are
	 * made close-on-exec. Errors are negative errno values. */
	int n = sd_listen_fds(1);

	return n < 0 ? -1 : n;
}
