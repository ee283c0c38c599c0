/*
 * header.c - the Header setting expanded for one message.
 */
#include "header.h"

#include <string.h>
#include <time.h>

void
header_expand(const char *tmpl, const char *client_ip, const char *local_ip,
    const char *tls, char *out, size_t outlen)
{
	const char *h = tmpl;
	char date[64] = "";
	size_t o = 0;
	struct tm tm;

	/* Only when asked for: the time zone's code and file (localtime
	 * reads /etc/localtime through stdio) cost every session about
	 * 0.1 MiB of resident memory and several syscalls. */
	if (strstr(tmpl, "%d") != NULL) {
		time_t now = time(NULL);

		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	}
	/* Room is kept for the final CRLF and the NUL: a header cut short
	 * must still end its line, or the terminator would join it. */
	const size_t max = outlen - 3;

	out[0] = '\0';
	for (; *h != '\0' && o + 2 <= max; h++) {
		const char *ins = NULL;

		if (*h == '%' && h[1] != '\0') {
			h++;
			switch (*h) {
			case 'i': ins = client_ip; break;
			case 'l': ins = local_ip; break;
			case 'd': ins = date; break;
			case 't': ins = tls; break;
			case '%': ins = "%"; break;
			default: h--; break;
			}
		}
		if (ins != NULL) {
			size_t n = strlen(ins);

			if (n > max - o)
				n = max - o;
			memcpy(out + o, ins, n);
			o += n;
			continue;
		}
		if (*h == '\r' || *h == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (*h == '\r' && h[1] == '\n')
				h++;
			continue;
		}
		out[o++] = *h;
	}
	if (o > 0 && (o < 2 || out[o - 2] != '\r' || out[o - 1] != '\n')) {
		if (out[o - 1] == '\r')
			o--;	/* half a line end, cut by the limit */
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
}
