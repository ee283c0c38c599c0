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

/* Formats an address as "ip" (IPv4-mapped shown as IPv4). */
void	addr_to_text(const struct sockaddr *, char *buf, size_t len);

#endif
