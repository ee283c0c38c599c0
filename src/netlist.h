/*
 * netlist.h - lists of networks ("127.0.0.0/8, ::1, 192.0.2.7") that a
 * setting trusts, and whether a client address is in one.
 */
#ifndef PROXSMTPD_NETLIST_H
#define PROXSMTPD_NETLIST_H

#include <stdbool.h>
#include <stddef.h>

#define NETLIST_MAX 32

struct network {
	int	family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;		/* bits */
};

struct netlist {
	unsigned n;
	struct network net[NETLIST_MAX];
};

/*
 * Parses networks separated by commas and/or blanks; "" is the empty list
 * (nobody). Returns NULL, or what is wrong.
 */
const char *netlist_parse(const char *text, struct netlist *);
/* Whether the address (text, IPv4 or IPv6) is in one of the networks. */
bool	netlist_match(const struct netlist *, const char *addr);
/* The list written back as text, for proxsmtpd -p. */
void	netlist_format(const struct netlist *, char *buf, size_t len);

#endif
