/*
 * xtext.c - XFORWARD and XCLIENT values are xtext (RFC 3461): "+XX" is a
 * byte.
 */
#include "xtext.h"
#include "ascii.h"
#include "fmt.h"
#include "span.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
xtext_encode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in != '\0' && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			o += (size_t)fmt(out + o, outlen - o, "+%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* A hex digit's value (isxdigit() said it is one). */
static int
hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

void
xtext_decode(const char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		if (in[i] == '+' && i + 2 < n && isxdigit((unsigned char)in[i + 1])
		    && isxdigit((unsigned char)in[i + 2])) {
			int c = hexval(in[i + 1]) << 4 | hexval(in[i + 2]);

			/* Control bytes never reach a filter's environment. */
			out[o++] = c < 32 || c == 127 ? '?' : (char)c;
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

/* Attributes are separated by any blank, as the command's words are. */
void
xforward_parse(const char *args, char *remote, char *helo, size_t len)
{
	const char *p = args;

	remote[0] = helo[0] = '\0';
	while (*p != '\0') {
		size_t n = cspan(p, " \t");
		const char *eq = memchr(p, '=', n);

		if (eq != NULL && ascii_ncasecmp(p, "ADDR=", 5) == 0) {
			const char *v = eq + 1;

			if (ascii_ncasecmp(v, "IPV6:", 5) == 0)
				v += 5;
			xtext_decode(v, (size_t)(p + n - v), remote, len);
		} else if (eq != NULL && ascii_ncasecmp(p, "HELO=", 5) == 0) {
			xtext_decode(eq + 1, (size_t)(p + n - eq - 1), helo,
			    len);
		}
		p += n;
		p += span(p, " \t");
	}
}
