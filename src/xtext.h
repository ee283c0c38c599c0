/*
 * xtext.h - the xtext encoding of XFORWARD and XCLIENT values (RFC 3461),
 * and the attributes of an XFORWARD command.
 */
#ifndef PROXSMTPD_XTEXT_H
#define PROXSMTPD_XTEXT_H

#include <stddef.h>

/* in as xtext into out (outlen bytes, always NUL-terminated; cut short). */
void	xtext_encode(const char *in, char *out, size_t outlen);
/* The n bytes of in decoded into out; a control byte becomes '?'. */
void	xtext_decode(const char *in, size_t n, char *out, size_t outlen);
/*
 * The ADDR and HELO of XFORWARD's arguments, xtext-decoded into remote and
 * helo (each len bytes; empty when absent).
 */
void	xforward_parse(const char *args, char *remote, char *helo, size_t len);

#endif
