/*
 * sysd.c - journal entries and passed sockets without libsystemd: the
 * journal's native protocol (one datagram of "FIELD=value\n" lines) and
 * sd_listen_fds()'s convention (LISTEN_PID, LISTEN_FDS), written here.
 *
 * Linking libsystemd and the libraries it pulls in cost each session, a
 * process of its own, more start-up time and resident memory than the rest
 * of the program (bench/results.md, "libsystemd build option"); the
 * library is an option (sysd-libsystemd.c), not the default.
 */
#include "sysd.h"
#include "ascii.h"
#include "fmt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FIELDS_MAX 24

int
sysd_journal_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	fmt(sa.sun_path, sizeof(sa.sun_path), "%s", SYSD_JOURNAL_SOCKET);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
sysd_journal_send(int journal, const struct iovec *fields, int n)
{
	struct iovec iov[2 * FIELDS_MAX];
	struct msghdr mh = { .msg_iov = iov };
	int i;

	if (n > FIELDS_MAX)
		n = FIELDS_MAX;
	/* Each field a line. */
	for (i = 0; i < n; i++) {
		iov[2 * i] = fields[i];
		iov[2 * i + 1] = (struct iovec){ .iov_base = "\n", .iov_len = 1 };
	}
	mh.msg_iovlen = (size_t)(2 * n);
	(void)sendmsg(journal, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int
sysd_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n, fd;

	if (pid == NULL || fds == NULL)
		return 0;
	p = dec_strtol(pid, &end);
	if (*end != '\0' || p != (long)getpid())
		return 0;
	n = dec_strtol(fds, &end);
	if (*end != '\0' || n < 0 || n > 64)
		return 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (fd = SYSD_LISTEN_FDS_START; fd < SYSD_LISTEN_FDS_START + n; fd++)
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
			return -1;
	return (int)n;
}
