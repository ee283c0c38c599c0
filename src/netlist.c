/*
 * netlist.c - networks in CIDR notation and matching addresses to them.
 */
#include "netlist.h"
#include "ascii.h"
#include "fmt.h"
#include "inet.h"
#include "span.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
network_parse(const char *text, size_t n, struct network *net)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max;
	long bits;

	if (n >= sizeof(buf))
		return "network too long";
	memcpy(buf, text, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else {
		return "expected an IPv4 or IPv6 address or network";
	}
	net->prefix = max;
	if (slash != NULL) {
		errno = 0;
		bits = dec_strtol(slash, &end);
		if (errno != 0 || end == slash || *end != '\0' || bits < 0 ||
		    bits > (long)max)
			return "bad prefix length";
		net->prefix = (unsigned)bits;
	}
	return NULL;
}

const char *
netlist_parse(const char *text, struct netlist *nl)
{
	const char *p = text, *bad;

	memset(nl, 0, sizeof(*nl));
	for (;;) {
		size_t n;

		p += span(p, ", \t");
		if (*p == '\0')
			return NULL;
		n = cspan(p, ", \t");
		if (nl->n == NETLIST_MAX)
			return "too many networks";
		if ((bad = network_parse(p, n, &nl->net[nl->n])) != NULL)
			return bad;
		nl->n++;
		p += n;
	}
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

bool
netlist_match(const struct netlist *nl, const char *addr)
{
	unsigned char a[16];
	int family;
	unsigned i;

	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		family = AF_INET6;
	else
		return false;
	for (i = 0; i < nl->n; i++)
		if (nl->net[i].family == family &&
		    prefix_equal(a, nl->net[i].addr, nl->net[i].prefix))
			return true;
	return false;
}

void
netlist_format(const struct netlist *nl, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	size_t o = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < nl->n && o < len; i++) {
		const struct network *net = &nl->net[i];

		inet_text(net->family, net->addr, ip, sizeof(ip));
		o += (size_t)fmt(buf + o, len - o, "%s%s/%u",
		    i ? ", " : "", ip, net->prefix);
	}
}
