/*
 * upstream.c - client endpoints and the upstream connection.
 */
#include "upstream.h"
#include "fmt.h"
#include "inet.h"
#include "outaddr.h"
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

void
addr_to_text(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_text(AF_INET, &in->sin_addr, buf, len);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_text(AF_INET, &in6->sin6_addr.s6_addr[12], buf,
			    len);
		else
			inet_text(AF_INET6, &in6->sin6_addr, buf, len);
	} else if (sa->sa_family == AF_UNIX) {
		fmt(buf, len, "localhost");
	} else {
		fmt(buf, len, "unknown");
	}
}

static void
text_from_env(char *buf, size_t len, const char *var)
{
	const char *v = getenv(var);
	struct in6_addr a6;
	struct in_addr a4;

	/* Only a well-formed address is believed. */
	if (v != NULL && (inet_pton(AF_INET, v, &a4) == 1 ||
	    inet_pton(AF_INET6, v, &a6) == 1))
		fmt(buf, len, "%s", v);
	else
		fmt(buf, len, "127.0.0.1");
}

/*
 * A dual-stack listener (systemd's "ListenStream=10025", [::] with
 * IPV6_V6ONLY off) hands IPv4 clients over as ::ffff:a.b.c.d. Everything
 * done with the address afterwards is IPv4: the original destination is in
 * the IPv4 conntrack table (SO_ORIGINAL_DST, not IP6T_SO_ORIGINAL_DST), and
 * the upstream socket of loopback and full transparent mode is AF_INET. So
 * such an address is stored as the AF_INET address it is.
 */
static void
unmap_v4(struct sockaddr_storage *ss, socklen_t *len)
{
	const struct sockaddr_in6 *in6 = (const void *)ss;
	struct sockaddr_in in = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return;
	in.sin_port = in6->sin6_port;
	memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], sizeof(in.sin_addr));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &in, sizeof(in));
	*len = sizeof(in);
}

void
endpoints_get(struct endpoints *ep, int fd)
{
	memset(ep, 0, sizeof(*ep));
	ep->peer_len = sizeof(ep->peer);
	ep->local_len = sizeof(ep->local);
	if (getpeername(fd, (struct sockaddr *)&ep->peer, &ep->peer_len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ep->local, &ep->local_len) == 0) {
		ep->is_socket = true;
		unmap_v4(&ep->peer, &ep->peer_len);
		unmap_v4(&ep->local, &ep->local_len);
		addr_to_text((struct sockaddr *)&ep->peer, ep->client_ip,
		    sizeof(ep->client_ip));
		addr_to_text((struct sockaddr *)&ep->local, ep->local_ip,
		    sizeof(ep->local_ip));
		return;
	}
	ep->peer_len = ep->local_len = 0;
	text_from_env(ep->client_ip, sizeof(ep->client_ip), "TCPREMOTEIP");
	text_from_env(ep->local_ip, sizeof(ep->local_ip), "TCPLOCALIP");
}

static void
sockaddr_set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port;
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = port;
}

static void
endpoint_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[ADDR_TEXT_MAX];
	unsigned port = 0;

	if (sa->sa_family == AF_UNIX) {
		fmt(buf, len, "%s", ((const struct sockaddr_un *)
		    (const void *)sa)->sun_path);
		return;
	}
	addr_to_text(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	if (strchr(ip, ':') != NULL)
		fmt(buf, len, "[%s]:%u", ip, port);
	else
		fmt(buf, len, "%s:%u", ip, port);
}

/*
 * Full transparency: the server sees the client's address. The kernel
 * allows IP_TRANSPARENT with CAP_NET_ADMIN or CAP_NET_RAW; the systemd
 * drop-in grants the first.
 */
static int
bind_from(int fd, const struct sockaddr *from, socklen_t fromlen, char *why,
    size_t whylen)
{
	int level = from->sa_family == AF_INET6 ? SOL_IPV6 : SOL_IP;
	int opt = from->sa_family == AF_INET6 ? IPV6_TRANSPARENT :
	    IP_TRANSPARENT;
	int one = 1, e;

	if (setsockopt(fd, level, opt, &one, sizeof(one)) == 0 &&
	    bind(fd, from, fromlen) == 0)
		return 0;
	e = errno;
	fmt(why, whylen, "cannot connect from the client's address%s: %s",
	    e == EPERM ? " (needs CAP_NET_ADMIN or CAP_NET_RAW)" : "",
	    strerror(e));
	return -1;
}

/* connect() on the non-blocking fd, waited for until deadline. */
static int
connect_wait(int fd, const struct sockaddr *sa, socklen_t salen,
    long deadline, char *why, size_t whylen)
{
	int err = 0, r;
	socklen_t elen = sizeof(err);

	/* A unix socket whose backlog is full says EAGAIN: the server is
	 * busy, not gone. Nothing is queued, so try again (every 20 ms,
	 * hearing signals) until the deadline. */
	while ((r = connect(fd, sa, salen)) < 0 && errno == EAGAIN &&
	    sa->sa_family == AF_UNIX) {
		long next = io_now_ms() + 20;

		r = io_wait_until(-1, 0, deadline >= 0 && deadline < next ?
		    deadline : next);
		if (r == IO_SIGNAL || (r == IO_TIMEOUT && deadline >= 0 &&
		    io_now_ms() >= deadline)) {
			fmt(why, whylen, "%s", r == IO_SIGNAL ?
			    io_strstatus(r) : "connect timed out (the "
			    "socket's backlog stayed full)");
			return -1;
		}
	}
	if (r == 0)
		return 0;
	if (errno != EINPROGRESS) {
		fmt(why, whylen, "%s", strerror(errno));
		return -1;
	}
	r = io_wait_until(fd, POLLOUT, deadline);
	if (r < 0) {
		fmt(why, whylen, "%s", r == IO_TIMEOUT ?
		    "connect timed out" : io_strstatus(r));
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
		fmt(why, whylen, "%s", strerror(err ? err : errno));
		return -1;
	}
	return 0;
}

/* Non-blocking connect bounded by timeout_ms; the fd stays non-blocking. */
static int
connect_one(const struct sockaddr *sa, socklen_t salen,
    const struct sockaddr *from, socklen_t fromlen, long deadline,
    char *why, size_t whylen)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd < 0) {
		fmt(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (from != NULL && bind_from(fd, from, fromlen, why, whylen) < 0) {
		close(fd);
		return -1;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect_wait(fd, sa, salen, deadline, why, whylen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The same address and port (other fields, e.g. sin_zero, may differ). */
static bool
same_endpoint(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr);
	return false;
}

/*
 * The destination the client meant: after a REDIRECT/DNAT conntrack knows it
 * (SO_ORIGINAL_DST); under TPROXY the socket's own address is it, and the
 * socket is marked transparent. A connection that was neither would make us
 * connect to ourselves, so it is refused.
 */
static int
original_destination(int client_fd, const struct endpoints *ep,
    struct sockaddr_storage *dst, socklen_t *dstlen, char *why, size_t whylen)
{
	int transparent = 0;
	socklen_t tlen = sizeof(transparent);
	bool v6 = ep->local.ss_family == AF_INET6;

	if (!ep->is_socket || ep->local_len == 0) {
		fmt(why, whylen, "transparent proxy needs a TCP socket");
		return -1;
	}
	memset(dst, 0, sizeof(*dst));
	*dstlen = sizeof(*dst);
	if ((v6 && getsockopt(client_fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst,
	    dstlen) == 0) || (!v6 && getsockopt(client_fd, SOL_IP,
	    SO_ORIGINAL_DST, dst, dstlen) == 0)) {
		/* The kernel fills in a sockaddr_in(6) but leaves the length
		 * as it was; the family says which one it is. */
		*dstlen = dst->ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		/* Any connection tracked by conntrack has an original
		 * destination; only one that differs from our own address
		 * was diverted to us. */
		if (!same_endpoint(dst, &ep->local))
			return 0;
	}
	if (getsockopt(client_fd, v6 ? SOL_IPV6 : SOL_IP,
	    v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &transparent, &tlen) == 0 &&
	    transparent) {
		memcpy(dst, &ep->local, ep->local_len);
		*dstlen = ep->local_len;
		return 0;
	}
	fmt(why, whylen, "connection was not redirected to us "
	    "(no original destination; connecting would loop)");
	return -1;
}

/* What the resolver thread hands back: it only writes to done_fd. */
struct lookup {
	struct gaicb	cb;
	struct addrinfo	hints;
	int		done_fd;
};

static void
lookup_done(union sigval sv)
{
	const struct lookup *lk = sv.sival_ptr;
	uint64_t one = 1;

	(void)!write(lk->done_fd, &one, sizeof(one));
}

/*
 * getaddrinfo() with a deadline that hears signals. A numeric address needs
 * no lookup and no thread. A name is looked up by glibc's resolver thread
 * (getaddrinfo_a), which wakes us through an eventfd; we wait for it in the
 * one place that waits. If the deadline or a signal comes first, the lookup
 * is abandoned: its memory is left to the thread, because the session ends
 * right after (the caller answers 421 and exits).
 */
static int
resolve(const char *host, const char *port, long deadline,
    struct addrinfo **res, char *why, size_t whylen)
{
	struct lookup *lk;
	struct gaicb *list[1];
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST };
	int r, w;

	/*
	 * No AI_ADDRCONFIG: it counts no loopback address, so on a host (or
	 * in a container) whose only IPv4 or IPv6 address is 127.0.0.1 or
	 * ::1 it refuses exactly those ("Address family for hostname not
	 * supported"). An address of a family the host cannot reach fails
	 * at once in connect_one(), and the next one is tried.
	 */
	r = getaddrinfo(host, port, &hints, res);
	if (r != EAI_NONAME)
		goto out;
	if ((lk = calloc(1, sizeof(*lk))) == NULL) {
		fmt(why, whylen, "%s: out of memory", host);
		return -1;
	}
	lk->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lk->done_fd < 0) {
		fmt(why, whylen, "eventfd: %s", strerror(errno));
		free(lk);
		return -1;
	}
	lk->hints.ai_socktype = SOCK_STREAM;
	lk->cb.ar_name = host;
	lk->cb.ar_service = port;
	lk->cb.ar_request = &lk->hints;
	list[0] = &lk->cb;
	sev.sigev_notify_function = lookup_done;
	sev.sigev_value.sival_ptr = lk;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (r != 0) {
		close(lk->done_fd);
		free(lk);
		goto out;
	}
	w = io_wait_until(lk->done_fd, POLLIN, deadline);
	if (w < 0) {
		(void)gai_cancel(&lk->cb);
		fmt(why, whylen, "%s: %s", host, w == IO_TIMEOUT ?
		    "name lookup timed out" : io_strstatus(w));
		return -1;
	}
	r = gai_error(&lk->cb);
	*res = lk->cb.ar_result;
	close(lk->done_fd);
	free(lk);
out:
	if (r != 0) {
		fmt(why, whylen, "%s:%s: %s", host, port, gai_strerror(r));
		return -1;
	}
	return 0;
}

/*
 * An IPv4 or IPv6 literal (no scope id) and a numeric port, into sa; -1 for
 * anything else. What getaddrinfo() would answer for them, without it: its
 * code is a 64 KiB window of libc a session need not touch
 * (bench/libc-windows). Other numeric forms (127.1, fe80::1%eth0) still
 * go through resolve().
 */
static int
numeric_address(const char *host, const char *port,
    struct sockaddr_storage *sa, socklen_t *salen)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	in_port_t p;

	if (out_port_parse(port, &p) < 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = p;
		*salen = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = p;
		*salen = sizeof(*in6);
		return 0;
	}
	return -1;
}

static int
connect_host_port(const char *host, const char *port, long deadline,
    char *server, size_t serverlen, char *why, size_t whylen)
{
	struct addrinfo *res, *ai;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd = -1;

	if (numeric_address(host, port, &sa, &salen) == 0) {
		endpoint_text((struct sockaddr *)&sa, server, serverlen);
		return connect_one((struct sockaddr *)&sa, salen, NULL, 0,
		    deadline, why, whylen);
	}
	if (resolve(host, port, deadline, &res, why, whylen) < 0)
		return -1;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		endpoint_text(ai->ai_addr, server, serverlen);
		fd = connect_one(ai->ai_addr, ai->ai_addrlen, NULL, 0,
		    deadline, why, whylen);
	}
	freeaddrinfo(res);
	return fd;
}

int
upstream_connect(const struct config *cfg, const struct endpoints *ep,
    int client_fd, int timeout_ms, char *server, size_t serverlen,
    char *why, size_t whylen)
{
	struct out_address oa;
	struct sockaddr_storage dst, from;
	socklen_t dstlen, fromlen = 0;
	const char *bad;
	in_port_t port;
	/* One deadline for the name lookup and every address tried. */
	long deadline = io_deadline(timeout_ms);

	if (cfg->transparent != TRANSPARENT_OFF) {
		/* What the log names if there is no destination to name. */
		fmt(server, serverlen, "(original destination)");
		if (original_destination(client_fd, ep, &dst, &dstlen, why,
		    whylen) < 0)
			return -1;
		if (cfg->transparent == TRANSPARENT_FULL) {
			memcpy(&from, &ep->peer, ep->peer_len);
			fromlen = ep->peer_len;
			sockaddr_set_port(&from, 0);
		}
		endpoint_text((struct sockaddr *)&dst, server, serverlen);
		return connect_one((struct sockaddr *)&dst, dstlen,
		    fromlen ? (struct sockaddr *)&from : NULL, fromlen,
		    deadline, why, whylen);
	}
	if ((bad = out_address_parse(cfg->out_address, &oa)) != NULL) {
		fmt(why, whylen, "bad OutAddress %s: %s",
		    cfg->out_address, bad);
		return -1;
	}
	if (oa.kind == OUT_UNIX) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		memcpy(un.sun_path, oa.host, strlen(oa.host) + 1);
		fmt(server, serverlen, "%s", oa.host);
		return connect_one((struct sockaddr *)&un, sizeof(un), NULL, 0,
		    deadline, why, whylen);
	}
	if (oa.kind == OUT_LOOPBACK) {
		/* Loopback: the same port on the connecting client's address
		 * (from TCPREMOTEIP when the client is not a socket). */
		if (ep->peer_len == 0 || (ep->peer.ss_family != AF_INET &&
		    ep->peer.ss_family != AF_INET6))
			return connect_host_port(ep->client_ip, oa.port,
			    deadline, server, serverlen, why, whylen);
		(void)out_port_parse(oa.port, &port);
		memcpy(&dst, &ep->peer, ep->peer_len);
		sockaddr_set_port(&dst, port);
		endpoint_text((struct sockaddr *)&dst, server, serverlen);
		return connect_one((struct sockaddr *)&dst, ep->peer_len, NULL,
		    0, deadline, why, whylen);
	}
	return connect_host_port(oa.host, oa.port, deadline, server,
	    serverlen, why, whylen);
}
