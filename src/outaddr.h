/*
 * outaddr.h - what an OutAddress says, read once by the same rules for the
 * configuration check (config.c) and the connection (upstream.c).
 */
#ifndef PROXSMTPD_OUTADDR_H
#define PROXSMTPD_OUTADDR_H

#include <netinet/in.h>

#define OUT_HOST_MAX 1024	/* CONFIG_VALUE_MAX: a value holds it */

enum out_kind {
	OUT_UNIX,	/* /path/to/socket: in host */
	OUT_LOOPBACK,	/* bare port: that port on the client's address */
	OUT_HOST,	/* host:port or [v6]:port */
};

struct out_address {
	enum out_kind kind;
	char	host[OUT_HOST_MAX];
	char	port[32];	/* a number 1-65535 or a service name */
};

/*
 * Parses text as an OutAddress; returns NULL, or why it is none (for the
 * configuration check, which runs it on the value as written).
 */
const char *out_address_parse(const char *text, struct out_address *);

/* A port number 1-65535 into *port (network order); -1 if it is none. */
int	out_port_parse(const char *s, in_port_t *port);

#endif
