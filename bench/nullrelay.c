/*
 * NAME
 *	nullrelay - the benchmark's null relay: a byte copier, no SMTP
 * SYNOPSIS
 *	nullrelay HOST:PORT	(numeric IPv4 host; started by an inetd-style
 *				launcher with the client on fd 0 and 1)
 * DESCRIPTION
 *	Connects to HOST:PORT and copies bytes both ways between the client
 *	(reads fd 0, writes fd 1) and that socket, through one bounded buffer
 *	each way, with poll(2) and read/write. When one side reaches end of
 *	file and its buffer is written out, the other side's write half is
 *	shut down; the program exits when both directions are done (or one
 *	side fails). It parses nothing, logs nothing and has no timeouts: it
 *	is the limit of a per-connection program that relays one SMTP
 *	session, which `make bench` (bench/run, the "null" mode) measures
 *	proxsmtpd against. Built by bench/run; not installed.
 * DIAGNOSTICS
 *	Exit 0 when both directions ended cleanly, 1 on an I/O error, 2 on a
 *	usage error; one line on stderr for each failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536 /* each way: proxsmtpd's own buffers are smaller */

struct dir {
	int in, out;       /* read from in, write to out */
	char buf[BUFSZ];
	size_t rpos, wpos; /* bytes [wpos, rpos) are waiting to be written */
	int eof;           /* in reached end of file */
	int done;          /* eof and everything written; out's write half shut */
};

static int
upstream(const char *arg)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	struct sockaddr_in sa;
	char *end;
	long port;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - arg) >= sizeof host)
		return -2;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	port = strtol(colon + 1, &end, 10);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	if (*end != '\0' || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -2;
	sa.sin_port = htons((unsigned short)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Like any SMTP client: replies and commands are small writes. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One step of a direction after poll: returns -1 on an I/O error. */
static int
step(struct dir *d, short rev_in)
{
	ssize_t n;

	if (!d->eof && d->rpos < BUFSZ && (rev_in & (POLLIN | POLLHUP | POLLERR))) {
		n = read(d->in, d->buf + d->rpos, BUFSZ - d->rpos);
		/* smtp-source resets the connection once it has read 221. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			d->eof = 1;
		else if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (n > 0)
			d->rpos += (size_t)n;
	}
	/* Write at once, not after another poll: the descriptors are
	 * non-blocking, and a socket is nearly always writable. */
	if (d->wpos < d->rpos) {
		n = write(d->out, d->buf + d->wpos, d->rpos - d->wpos);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (n > 0)
			d->wpos += (size_t)n;
		if (d->wpos == d->rpos)
			d->wpos = d->rpos = 0;
	}
	if (d->eof && d->wpos == d->rpos && !d->done) {
		/* fd 1 may be a pipe under some launchers: ENOTSOCK is fine. */
		(void)shutdown(d->out, SHUT_WR);
		d->done = 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct dir up, down; /* client -> upstream, upstream -> client */
	struct pollfd p[3];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: nullrelay HOST:PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fd = upstream(argv[1]);
	if (fd == -2) {
		fprintf(stderr, "nullrelay: %s: not a numeric IPv4 HOST:PORT\n", argv[1]);
		return 2;
	}
	if (fd < 0) {
		fprintf(stderr, "nullrelay: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Non-blocking, so neither direction can stall the other. fd 0 and 1
	 * are this session's alone: the launcher keeps no use of them. */
	if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		fprintf(stderr, "nullrelay: fcntl: %s\n", strerror(errno));
		return 1;
	}
	up.in = 0, up.out = fd;
	down.in = fd, down.out = 1;
	while (!up.done || !down.done) {
		/* fd 0 and fd 1 may be the same socket: three entries, so
		 * each event is asked of the descriptor it belongs to. */
		p[0].fd = up.eof || up.rpos == BUFSZ ? -1 : 0;
		p[0].events = POLLIN;
		p[1].fd = fd;
		p[1].events = (short)((!down.eof && down.rpos < BUFSZ ? POLLIN : 0) |
		    (up.wpos < up.rpos ? POLLOUT : 0));
		p[2].fd = down.wpos < down.rpos ? 1 : -1;
		p[2].events = POLLOUT;
		if (p[1].events == 0)
			p[1].fd = -1;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nullrelay: poll: %s\n", strerror(errno));
			return 1;
		}
		if (step(&up, p[0].revents) < 0 || step(&down, p[1].revents) < 0) {
			fprintf(stderr, "nullrelay: %s\n", strerror(errno));
			return 1;
		}
	}
	return 0;
}
