/*
 * inet.c - an address as text, as glibc's inet_ntop() writes it (see
 * inet.h for why): IPv6 with the longest run of two or more zero groups,
 * the first of equals, as "::", and ::a.b.c.d and ::ffff:a.b.c.d with the
 * IPv4 address dotted.
 */
#include "inet.h"
#include "fmt.h"

#include <sys/socket.h>

static void
ipv4_text(const unsigned char *a, char *buf, size_t len)
{
	fmt(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* The longest run of zero groups (the first of equals); *base -1 if none
 * is two groups long. */
static void
zero_run(const unsigned *w, int *base, int *len)
{
	int i, cur = -1;

	*base = -1;
	*len = 0;
	for (i = 0; i <= 8; i++) {
		if (i < 8 && w[i] == 0) {
			if (cur < 0)
				cur = i;
			continue;
		}
		if (cur >= 0 && i - cur > *len) {
			*base = cur;
			*len = i - cur;
		}
		cur = -1;
	}
	if (*len < 2)
		*base = -1;
}

static void
ipv6_text(const unsigned char *a, char *buf, size_t len)
{
	char tmp[64];
	unsigned w[8];
	size_t o = 0;
	int i, base, run;

	for (i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	zero_run(w, &base, &run);
	for (i = 0; i < 8; i++) {
		if (base >= 0 && i >= base && i < base + run) {
			if (i == base)
				tmp[o++] = ':';
			continue;
		}
		if (i != 0)
			tmp[o++] = ':';
		if (i == 6 && base == 0 && (run == 6 ||
		    (run == 5 && w[5] == 0xffff))) {
			ipv4_text(a + 12, tmp + o, sizeof(tmp) - o);
			fmt(buf, len, "%s", tmp);
			return;
		}
		o += (size_t)fmt(tmp + o, sizeof(tmp) - o, "%x", w[i]);
	}
	if (base >= 0 && base + run == 8)
		tmp[o++] = ':';
	tmp[o] = '\0';
	fmt(buf, len, "%s", tmp);
}

void
inet_text(int family, const void *addr, char *buf, size_t len)
{
	if (family == AF_INET)
		ipv4_text(addr, buf, len);
	else if (family == AF_INET6)
		ipv6_text(addr, buf, len);
	else
		fmt(buf, len, "?");
}
