/*
 * upstream.h - who the client is, and the connection to the real server:
 * OutAddress (host:port, [v6]:port, /unix/path), loopback (a bare port on
 * the client's own address) or the original destination (transparent).
 */
#ifndef PROXSMTPD_UPSTREAM_H
#define PROXSMTPD_UPSTREAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"

#define ADDR_TEXT_MAX 128

struct endpoints {
	bool	is_socket;	/* the client fd is a socket */
	struct sockaddr_storage peer;	/* valid if peer_len > 0 */
	socklen_t peer_len;
	struct sockaddr_storage local;
	socklen_t local_len;
	char	client_ip[ADDR_TEXT_MAX];	/* "1.2.3.4", "::1" */
	char	local_ip[ADDR_TEXT_MAX];
};

/*
 * Learns the client's and local addresses from the socket, or from
 * TCPREMOTEIP/TCPLOCALIP (tcpserver, replay), else 127.0.0.1.
 */
void	endpoints_get(struct endpoints *, int client_fd);

/*
 * Connects to the upstream chosen by cfg within timeout_ms. On success
 * returns the fd and fills server (text for SERVER and logs); on failure
 * returns -1 with why filled in.
 */
int	upstream_connect(const struct config *, const struct endpoints *,
	    int client_fd, int timeout_ms, char *server, size_t serverlen,
	    char *why, size_t whylen);

/* What an OutAddress says, read once by the same rules everywhere. */
enum out_kind {
	OUT_UNIX,	/* /path/to/socket: in host */
	OUT_LOOPBACK,	/* bare port: that port on the client's address */
	OUT_HOST,	/* host:port or [v6]:port */
};

struct out_address {
	enum out_kind kind;
	char	host[CONFIG_VALUE_MAX];
	char	port[32];	/* a number 1-65535 or a service name */
};

/*
 * Parses text as an OutAddress; returns NULL, or why it is none (for the
 * configuration check, which runs it on the value as written).
 */
const char *out_address_parse(const char *text, struct out_address *);

/* Formats an address as "ip" (IPv4-mapped shown as IPv4). */
void	addr_to_text(const struct sockaddr *, char *buf, size_t len);

#endif
