/*
 * outaddr.c - OutAddress: host:port, [v6]:port, a bare port (loopback) or
 * an absolute socket path.
 */
#include "outaddr.h"
#include "ascii.h"
#include "fmt.h"
#include "span.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int
out_port_parse(const char *s, in_port_t *port)
{
	char *end;
	long n;

	errno = 0;
	n = dec_strtol(s, &end);
	if (errno != 0 || end == s || *end != '\0' || n < 1 || n > 65535)
		return -1;
	*port = htons((in_port_t)n);
	return 0;
}

static const char *
port_check(const char *port)
{
	in_port_t p;

	if (port[0] == '\0')
		return "no port";
	if (port[span(port, "0123456789")] == '\0')
		return out_port_parse(port, &p) == 0 ? NULL : "port out of range";
	if (strlen(port) >= sizeof(((struct out_address *)0)->port) ||
	    getservbyname(port, "tcp") == NULL)
		return "unknown port name";
	return NULL;
}

const char *
out_address_parse(const char *text, struct out_address *oa)
{
	const char *close, *colon, *bad;
	size_t hostlen;

	memset(oa, 0, sizeof(*oa));
	if (text[0] == '/') {
		if (strlen(text) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return "socket path too long";
		oa->kind = OUT_UNIX;
		fmt(oa->host, sizeof(oa->host), "%s", text);
		return NULL;
	}
	if (text[0] != '\0' && text[span(text, "0123456789")] == '\0') {
		oa->kind = OUT_LOOPBACK;
		fmt(oa->port, sizeof(oa->port), "%s", text);
		return port_check(text);
	}
	oa->kind = OUT_HOST;
	if (text[0] == '[') {
		close = strchr(text, ']');
		if (close == NULL)
			return "no closing ]";
		if (close[1] != ':')
			return "expected [address]:port";
		if (close == text + 1)
			return "empty address";
		hostlen = (size_t)(close - text - 1);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return "expected host:port, [address]:port, a port "
			    "or an absolute socket path";
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return "an IPv6 address needs brackets: [address]:port";
		if (colon == text)
			return "empty host";
		hostlen = (size_t)(colon - text);
	}
	if (hostlen >= sizeof(oa->host))
		return "host too long";
	memcpy(oa->host, text + (text[0] == '['), hostlen);
	oa->host[hostlen] = '\0';
	if ((bad = port_check(colon + 1)) != NULL)
		return bad;
	fmt(oa->port, sizeof(oa->port), "%s", colon + 1);
	return NULL;
}
