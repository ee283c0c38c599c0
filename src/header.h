/*
 * header.h - the Header setting as it is added to each forwarded message.
 */
#ifndef PROXSMTPD_HEADER_H
#define PROXSMTPD_HEADER_H

#include <stddef.h>

/*
 * tmpl with %i (client_ip), %l (local_ip), %d (the date), %t (tls: the
 * client's TLS protocol and cipher, or "none") and %% expanded into out,
 * its lines ending in CRLF; cut at outlen, still ending its line.
 */
void	header_expand(const char *tmpl, const char *client_ip,
	    const char *local_ip, const char *tls, char *out, size_t outlen);

#endif
