/*
 * NAME
 *	pipegen - the benchmark's pipelining SMTP client (RFC 2920)
 * SYNOPSIS
 *	pipegen [-m messages] [-l bytes] [-r recipients] [-t seconds] HOST:PORT
 *				(numeric IPv4 host)
 * DESCRIPTION
 *	Opens one connection to HOST:PORT, reads the greeting, sends EHLO and
 *	requires PIPELINING in its reply. Then it sends the messages one
 *	after another on that connection, as a pipelining client does: for
 *	each, MAIL FROM, the RCPT TOs and DATA in one write (one group in
 *	RFC 2920's sense: DATA last), then it reads their replies in order;
 *	then the header, a body of about -l bytes and the closing "." in
 *	one write, and it reads the end-of-data reply. No RSET between
 *	messages. Last, QUIT.
 *
 *	Every reply's code is checked: 220 for the greeting, 250 for EHLO,
 *	MAIL, each RCPT and the end of data, 354 for DATA, 221 for QUIT. A
 *	message whose DATA is not answered 354 sends no body and is ended
 *	with RSET (250 expected). smtp-source does not pipeline, so `make
 *	bench` (bench/run, workload W2p) measures a pipelining client with
 *	this. Built by bench/run; not installed.
 *
 *	On success it prints one line on stdout:
 *	  pipegen: N messages in S s: X ms/msg, Y msg/s
 *	S runs from the first MAIL to the last end-of-data reply: connecting,
 *	the greeting, EHLO and QUIT are not in it.
 * DIAGNOSTICS
 *	Exit 0 when every reply had its expected code. Exit 1 when any did
 *	not (the first ten are reported on stderr with the message number,
 *	the command and the reply, then a count of them all), or on an I/O
 *	error, a malformed reply or a timeout (-t, per reply; default 60 s).
 *	Exit 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF		16384	/* replies read ahead */
#define LINE_MAX_REPLY	2048	/* one reply line; RFC 5321 says 512 */
#define TEXT_MAX	256	/* the reply text kept for a report */
#define RCPT_MAX	100
#define BODY_MAX	(64L * 1024 * 1024)
#define REPORT_MAX	10	/* bad replies reported one by one */

struct conn {
	int fd;
	int timeout_ms;
	char buf[RBUF];
	size_t start, end;	/* bytes [start, end) are not read yet */
};

static unsigned long bad;	/* replies with an unexpected code */

__attribute__((noreturn, format(printf, 1, 2))) static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("pipegen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: pipegen [-m messages] [-l bytes] "
	    "[-r recipients] [-t seconds] HOST:PORT\n");
	exit(2);
}

static long
number(const char *arg, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static int
dial(const char *arg)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	struct sockaddr_in sa;
	int fd, one = 1;
	long port;

	if (colon == NULL || (size_t)(colon - arg) >= sizeof host)
		usage();
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	port = number(colon + 1, 1, 65535);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		usage();
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	/* Each group leaves in one write(); no write waits for Nagle. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("%s: %s", arg, strerror(errno));
	return fd;
}

static void
send_all(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", w < 0 ? strerror(errno) : "no progress");
		p += w;
		n -= (size_t)w;
	}
}

/* The next reply line (without CRLF), read within the timeout. */
static char *
next_line(struct conn *c, size_t *len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char *lf, *line;
	ssize_t n;
	int r;

	while ((lf = memchr(c->buf + c->start, '\n', c->end - c->start)) ==
	    NULL) {
		if (c->end - c->start >= LINE_MAX_REPLY)
			die("a reply line over %d bytes", LINE_MAX_REPLY);
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
		r = poll(&pfd, 1, c->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("%s", r == 0 ? "timeout waiting for a reply" :
			    strerror(errno));
		n = read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s", n == 0 ? "connection closed by the server" :
			    strerror(errno));
		c->end += (size_t)n;
	}
	line = c->buf + c->start;
	*len = (size_t)(lf - line);
	c->start += *len + 1;
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	return line;
}

/* Whether a reply line (after "250-") is the EHLO keyword word. */
static bool
is_keyword(const char *p, size_t n, const char *word)
{
	size_t wl = strlen(word);

	return n >= wl && strncasecmp(p, word, wl) == 0 &&
	    (n == wl || p[wl] == ' ');
}

/*
 * Reads one reply, all its lines; returns its code and keeps its first
 * line in text. *found (if not NULL) tells whether a line after the
 * first is the EHLO keyword word.
 */
static int
read_reply(struct conn *c, char *text, const char *word, bool *found)
{
	size_t len, i;
	char *line;
	int code = -1, lc;

	for (i = 0;; i++) {
		line = next_line(c, &len);
		if (len < 3 || (len > 3 && line[3] != ' ' && line[3] != '-') ||
		    line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
			die("malformed reply line: %.*s", (int)(len > 80 ? 80 : len),
			    line);
		lc = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
		if (i == 0) {
			code = lc;
			snprintf(text, TEXT_MAX, "%.*s", (int)len, line);
		} else if (lc != code) {
			die("a reply changed its code: %.*s", (int)len, line);
		}
		if (word != NULL && found != NULL && i > 0 && len > 4)
			*found = *found || is_keyword(line + 4, len - 4, word);
		if (len == 3 || line[3] == ' ')
			return code;
	}
}

/* Reads a reply and counts it as bad unless its code is want. */
static bool
expect(struct conn *c, int want, const char *what, long msg)
{
	char text[TEXT_MAX];
	int code = read_reply(c, text, NULL, NULL);

	if (code == want)
		return true;
	if (bad++ < REPORT_MAX)
		fprintf(stderr, "pipegen: message %ld: %s: expected %d, got: %s\n",
		    msg, what, want, text);
	return false;
}

/* MAIL, the RCPTs and DATA: one group. */
static char *
make_group(int nrcpt, size_t *len)
{
	size_t cap = 64 + (size_t)nrcpt * 48, n;
	char *g = malloc(cap);
	int i;

	if (g == NULL)
		die("out of memory");
	n = (size_t)snprintf(g, cap, "MAIL FROM:<pipegen@example.org>\r\n");
	for (i = 1; i <= nrcpt; i++)
		n += (size_t)snprintf(g + n, cap - n,
		    "RCPT TO:<rcpt%d@example.org>\r\n", i);
	n += (size_t)snprintf(g + n, cap - n, "DATA\r\n");
	*len = n;
	return g;
}

/* The header, about size bytes of body in 78-byte lines, and ".". */
static char *
make_message(long size, size_t *len)
{
	static const char hdr[] = "From: <pipegen@example.org>\r\n"
	    "To: <rcpt1@example.org>\r\nSubject: pipegen\r\n\r\n";
	size_t cap = sizeof hdr + (size_t)size + 8, n = sizeof hdr - 1, k, i;
	char *m = malloc(cap);
	long left = size;

	if (m == NULL)
		die("out of memory");
	memcpy(m, hdr, n);
	while (left > 0) {
		k = left >= 78 ? 76 : left > 2 ? (size_t)left - 2 : 1;
		for (i = 0; i < k; i++)
			m[n++] = (char)('a' + (i % 26));
		m[n++] = '\r';
		m[n++] = '\n';
		left -= (long)k + 2;
	}
	memcpy(m + n, ".\r\n", 3);
	*len = n + 3;
	return m;
}

static void
greet(struct conn *c)
{
	char text[TEXT_MAX];
	bool pipelining = false;

	if (read_reply(c, text, NULL, NULL) != 220)
		die("greeting: %s", text);
	send_all(c, "EHLO pipegen.example.org\r\n", 26);
	if (read_reply(c, text, "PIPELINING", &pipelining) != 250)
		die("EHLO: %s", text);
	if (!pipelining)
		die("the server does not offer PIPELINING");
}

/* One message; false when a reply was not the expected one. */
static bool
one_message(struct conn *c, long msg, const char *group, size_t glen,
    const char *body, size_t blen, int nrcpt)
{
	bool ok;
	int i;

	send_all(c, group, glen);
	ok = expect(c, 250, "MAIL FROM", msg);
	for (i = 0; i < nrcpt; i++)
		ok = expect(c, 250, "RCPT TO", msg) && ok;
	if (!expect(c, 354, "DATA", msg)) {
		send_all(c, "RSET\r\n", 6);
		expect(c, 250, "RSET", msg);
		return false;
	}
	send_all(c, body, blen);
	return expect(c, 250, "end of data", msg) && ok;
}

int
main(int argc, char **argv)
{
	static struct conn c;
	long messages = 100, size = 4096, msg;
	int nrcpt = 1, opt;
	size_t glen, blen;
	char *group, *body;
	struct timespec t0, t1;
	double s;

	while ((opt = getopt(argc, argv, "m:l:r:t:")) != -1) {
		switch (opt) {
		case 'm': messages = number(optarg, 1, 10000000); break;
		case 'l': size = number(optarg, 0, BODY_MAX); break;
		case 'r': nrcpt = (int)number(optarg, 1, RCPT_MAX); break;
		case 't': c.timeout_ms = (int)number(optarg, 1, 3600) * 1000; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (c.timeout_ms == 0)
		c.timeout_ms = 60000;
	signal(SIGPIPE, SIG_IGN);
	group = make_group(nrcpt, &glen);
	body = make_message(size, &blen);
	c.fd = dial(argv[optind]);
	greet(&c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (msg = 1; msg <= messages; msg++)
		one_message(&c, msg, group, glen, body, blen, nrcpt);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	send_all(&c, "QUIT\r\n", 6);
	expect(&c, 221, "QUIT", messages);
	close(c.fd);
	if (bad > 0) {
		fprintf(stderr, "pipegen: %lu repl%s not the expected code\n",
		    bad, bad == 1 ? "y was" : "ies were");
		return 1;
	}
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("pipegen: %ld messages in %.6f s: %.4f ms/msg, %.1f msg/s\n",
	    messages, s, s * 1000 / (double)messages, (double)messages / s);
	return 0;
}
