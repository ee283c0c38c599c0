/*
 * ascii.h - strcasecmp(), strncasecmp(), and base-10 strtol() and
 * strtoull(), for the C locale, as small loops.
 *
 * Why: glibc's versions read tables in libc's read-only data (the AVX2
 * strcasecmp's constants, strtol's) that lie in 64 KiB windows nothing
 * else a session touches; the kernel maps libc 64 KiB at a time around
 * each page read, so they cost every session up to 128 KiB of RSS
 * (bench/libc-windows, bench/results.md "Peak RSS"). Same results as
 * glibc's in the C locale (t/fmt-test.c compares them).
 */
#ifndef PROXSMTPD_ASCII_H
#define PROXSMTPD_ASCII_H

#include <stddef.h>

int	ascii_casecmp(const char *, const char *);
int	ascii_ncasecmp(const char *, const char *, size_t);
/* strtol(s, end, 10) and strtoull(s, end, 10): leading white space, a
 * sign, ERANGE on overflow, *end (if end is not NULL) past the digits or
 * at s if there are none. */
long	dec_strtol(const char *s, char **end);
unsigned long long dec_strtoull(const char *s, char **end);

#endif
