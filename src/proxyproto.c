/*
 * proxyproto.c - the PROXY protocol header, v1 (a text line) and v2
 * (binary), as haproxy's proxy-protocol.txt describes them.
 */
#include "proxyproto.h"
#include "fmt.h"
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define V1_PREFIX "PROXY "
#define V1_PREFIX_LEN 6
#define V1_MIN 15	/* "PROXY UNKNOWN\r\n": no valid header is shorter */

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* ---- v1 --------------------------------------------------------------- */

/* A port: 0-65535 in decimal, no sign, no leading zero. */
static int
v1_port(const char *p, in_port_t *port)
{
	unsigned long v = 0;
	size_t i, n = strlen(p);

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

/* One address of the family that the protocol word named. */
static int
v1_addr(int family, const char *text, const char *port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	in_port_t p;

	memset(ss, 0, sizeof(*ss));
	if (v1_port(port, &p) < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = p;
		*len = sizeof(*sin);
		return inet_pton(AF_INET, text, &sin->sin_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = p;
		*len = sizeof(*sin6);
		return inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1 ?
		    0 : -1;
	}
}

static int
parse_v1(const unsigned char *buf, size_t len, struct proxy_header *h,
    char *why, size_t whylen)
{
	char line[PROXY_V1_MAX + 1], *field[6], *p;
	size_t i, n, end;
	int family;

	/* Up to the CRLF, within 107 bytes; nothing but printable ASCII. */
	n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	for (end = 0; end < n; end++) {
		if (buf[end] == '\r')
			break;
		if (buf[end] < 0x20 || buf[end] > 0x7e) {
			fmt(why, whylen, "v1 header with a control or "
			    "8-bit byte");
			return -1;
		}
	}
	if (end == n) {
		if (len >= PROXY_V1_MAX) {
			fmt(why, whylen, "v1 header without CRLF in its "
			    "first %d bytes", PROXY_V1_MAX);
			return -1;
		}
		return 0;
	}
	if (end + 1 >= PROXY_V1_MAX) {
		fmt(why, whylen, "v1 header without CRLF in its first "
		    "%d bytes", PROXY_V1_MAX);
		return -1;
	}
	if (end + 1 >= len)
		return 0;
	if (buf[end + 1] != '\n') {
		fmt(why, whylen, "v1 header with a CR not followed by LF");
		return -1;
	}
	memcpy(line, buf, end);
	line[end] = '\0';
	/* The fields are separated by exactly one space. */
	for (i = 0, p = line; i < 6; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if (p == NULL) {
			i++;
			break;
		}
		*p++ = '\0';
	}
	h->version = 1;
	if (i >= 2 && strcmp(field[1], "UNKNOWN") == 0) {
		/* The rest of the line is to be ignored. */
		h->local = true;
		return (int)end + 2;
	}
	if (i >= 2 && strcmp(field[1], "TCP4") == 0)
		family = AF_INET;
	else if (i >= 2 && strcmp(field[1], "TCP6") == 0)
		family = AF_INET6;
	else {
		fmt(why, whylen, "v1 header with an unknown protocol "
		    "(not TCP4, TCP6 or UNKNOWN)");
		return -1;
	}
	if (i != 6 || p != NULL) {
		fmt(why, whylen, "v1 header without exactly four fields "
		    "after %s", field[1]);
		return -1;
	}
	if (v1_addr(family, field[2], field[4], &h->src, &h->addr_len) < 0 ||
	    v1_addr(family, field[3], field[5], &h->dst, &h->addr_len) < 0) {
		fmt(why, whylen, "v1 header with a bad %s address or "
		    "port", field[1]);
		return -1;
	}
	h->local = false;
	return (int)end + 2;
}

/* ---- v2 --------------------------------------------------------------- */

static int
parse_v2(const unsigned char *buf, size_t len, struct proxy_header *h,
    char *why, size_t whylen)
{
	size_t blen, alen, off;
	unsigned cmd, family, transport;

	if (len < PROXY_V2_HEAD)
		return 0;
	if (buf[12] >> 4 != 2) {
		fmt(why, whylen, "v2 header of version %u",
		    (unsigned)(buf[12] >> 4));
		return -1;
	}
	cmd = buf[12] & 0x0f;
	if (cmd > 1) {
		fmt(why, whylen, "v2 header with unknown command %u", cmd);
		return -1;
	}
	blen = (size_t)buf[14] << 8 | buf[15];
	if (blen > PROXY_V2_LEN_MAX) {
		fmt(why, whylen, "v2 header of %zu bytes (at most %d "
		    "taken)", blen, PROXY_V2_LEN_MAX);
		return -1;
	}
	if (len < PROXY_V2_HEAD + blen)
		return 0;
	h->version = 2;
	family = buf[13] >> 4;
	transport = buf[13] & 0x0f;
	if (cmd == 0 || family == 0) {
		/* LOCAL (the balancer's own health check), or addresses the
		 * balancer cannot tell: the block is to be skipped and the
		 * connection's own addresses used. */
		h->local = true;
		return (int)(PROXY_V2_HEAD + blen);
	}
	if (family == 1)
		alen = 12;
	else if (family == 2)
		alen = 36;
	else {
		fmt(why, whylen, "v2 header with address family %u (only "
		    "IPv4 and IPv6 name a client)", family);
		return -1;
	}
	if (transport != 1) {
		fmt(why, whylen, "v2 header with transport %u (not a "
		    "stream)", transport);
		return -1;
	}
	if (blen < alen) {
		fmt(why, whylen, "v2 header of %zu bytes, too short for "
		    "its addresses", blen);
		return -1;
	}
	/* TLVs: type, 2 bytes of length, value; skipped, but each one must
	 * end within the block. */
	for (off = alen; off < blen;) {
		size_t tlen;

		if (blen - off < 3) {
			fmt(why, whylen, "v2 header with a truncated TLV");
			return -1;
		}
		tlen = (size_t)buf[PROXY_V2_HEAD + off + 1] << 8 |
		    buf[PROXY_V2_HEAD + off + 2];
		if (tlen > blen - off - 3) {
			fmt(why, whylen, "v2 header with a TLV running "
			    "past its end");
			return -1;
		}
		off += 3 + tlen;
	}
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	buf += PROXY_V2_HEAD;
	if (family == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, buf, 4);
		memcpy(&d->sin_addr, buf + 4, 4);
		memcpy(&s->sin_port, buf + 8, 2);	/* network order */
		memcpy(&d->sin_port, buf + 10, 2);
		h->addr_len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, buf, 16);
		memcpy(&d->sin6_addr, buf + 16, 16);
		memcpy(&s->sin6_port, buf + 32, 2);
		memcpy(&d->sin6_port, buf + 34, 2);
		h->addr_len = sizeof(*s);
	}
	h->local = false;
	return (int)(PROXY_V2_HEAD + blen);
}

int
proxy_parse(const unsigned char *buf, size_t len, enum proxy_mode mode,
    struct proxy_header *h, char *why, size_t whylen)
{
	size_t n;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return 0;
	if (buf[0] == 'P' && (mode == PROXY_V1 || mode == PROXY_ANY)) {
		n = len < V1_PREFIX_LEN ? len : V1_PREFIX_LEN;
		if (memcmp(buf, V1_PREFIX, n) != 0)
			goto none;
		return n < V1_PREFIX_LEN ? 0 : parse_v1(buf, len, h, why,
		    whylen);
	}
	if (buf[0] == v2_sig[0] && (mode == PROXY_V2 || mode == PROXY_ANY)) {
		n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
		if (memcmp(buf, v2_sig, n) != 0)
			goto none;
		return n < sizeof(v2_sig) ? 0 : parse_v2(buf, len, h, why,
		    whylen);
	}
none:
	fmt(why, whylen, "no PROXY %s header", mode == PROXY_V1 ? "v1" :
	    mode == PROXY_V2 ? "v2" : "v1 or v2");
	return -1;
}

/* ---- reading it off the connection ------------------------------------ */

/*
 * Reads at most n bytes (at least one) when fd is readable, until
 * deadline. peek: look without taking them. Returns the count, 0 at EOF,
 * or an IO_* status.
 */
static ssize_t
read_some(int fd, bool peek, void *buf, size_t n, long deadline)
{
	ssize_t r;
	int w;

	for (;;) {
		r = peek ? recv(fd, buf, n, MSG_PEEK | MSG_DONTWAIT) :
		    read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return IO_ERROR;
		w = io_wait_until(fd, POLLIN, deadline);
		if (w < 0)
			return w;
	}
}

int
proxy_read(int fd, bool is_socket, enum proxy_mode mode, long deadline,
    struct proxy_header *h, char *why, size_t whylen)
{
	unsigned char buf[PROXY_HEADER_MAX];
	size_t got = 0, want;
	ssize_t n;
	int r = 0, st = IO_OK;

	while (r == 0) {
		if (got < V1_MIN) {
			/* No valid header of either version is shorter, so
			 * these bytes are the header's, whatever it is. */
			want = V1_MIN - got;
		} else if (buf[0] != 'P') {
			/* v2: the fixed part, then the length it gives. */
			want = got < PROXY_V2_HEAD ? PROXY_V2_HEAD - got :
			    PROXY_V2_HEAD + ((size_t)buf[14] << 8 | buf[15]) -
			    got;
		} else if (is_socket) {
			/* v1: what has come up to the LF, never past it. */
			const unsigned char *lf;

			n = read_some(fd, true, buf + got, PROXY_V1_MAX - got,
			    deadline);
			if (n <= 0) {
				st = n == 0 ? IO_EOF : (int)n;
				break;
			}
			lf = memchr(buf + got, '\n', (size_t)n);
			want = lf != NULL ? (size_t)(lf - (buf + got)) + 1 :
			    (size_t)n;
		} else
			want = 1;	/* a pipe cannot be peeked */
		n = read_some(fd, false, buf + got, want, deadline);
		if (n <= 0) {
			st = n == 0 ? IO_EOF : (int)n;
			break;
		}
		got += (size_t)n;
		r = proxy_parse(buf, got, mode, h, why, whylen);
	}
	if (st != IO_OK) {
		if (st == IO_EOF && got == 0)
			fmt(why, whylen, "no PROXY header (connection "
			    "closed)");
		else if (st == IO_EOF)
			fmt(why, whylen, "truncated PROXY header "
			    "(connection closed after %zu bytes)", got);
		else if (st == IO_TIMEOUT)
			fmt(why, whylen, "no complete PROXY header within "
			    "TimeOut (%zu bytes came)", got);
		else
			fmt(why, whylen, "reading the PROXY header: %s",
			    io_strstatus(st));
		return -1;
	}
	return r < 0 ? -1 : 0;
}
