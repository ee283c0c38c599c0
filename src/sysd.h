/*
 * sysd.h - the two things proxsmtpd takes from systemd: journal entries and
 * the socket passed by socket activation (LISTEN_FDS).
 *
 * Two implementations of one interface, and the Makefile links one:
 * sysd.c speaks both protocols itself (the default: no library but libc, so
 * a session starts fast and small), sysd-libsystemd.c calls libsystemd
 * (make LIBSYSTEMD=1, for distributions that prefer the library).
 */
#ifndef PROXSMTPD_SYSD_H
#define PROXSMTPD_SYSD_H

#include <sys/uio.h>

#define SYSD_JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define SYSD_LISTEN_FDS_START	3	/* passed sockets: fds from 3 on */

/* A channel to the journal (>= 0), or -1 when none can be opened; called
 * once its socket SYSD_JOURNAL_SOCKET is known to exist. */
int	sysd_journal_open(void);
/* One entry: n "FIELD=value" iovecs, no newline in any value. Never fails
 * the caller: an entry that cannot be sent is lost. (sysd.c never blocks
 * either; libsystemd's sd_journal_sendv() may wait for a full journal.) */
void	sysd_journal_send(int journal, const struct iovec *fields, int n);
/* The number of sockets systemd passed to this process (0 when none, or
 * the variables are for another process), -1 on error. The variables are
 * removed, so that no filter sees them, and the fds are close-on-exec. */
int	sysd_listen_fds(void);

#endif
