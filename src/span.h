/*
 * span.h - strspn() and strcspn() as small loops.
 *
 * Why: glibc picks SSE4.2 versions of these at run time, and they live in
 * a 64 KiB window of libc that nothing else a session runs uses; the kernel
 * maps libc's code 64 KiB at a time, so calling them cost every session up
 * to 64 KiB of RSS (bench/libc-windows). The strings here are short.
 */
#ifndef PROXSMTPD_SPAN_H
#define PROXSMTPD_SPAN_H

#include <stddef.h>

/* The length of the prefix of s made of bytes in set (strspn). */
static inline size_t
span(const char *s, const char *set)
{
	size_t n = 0;
	const char *c;

	for (;; n++) {
		for (c = set; *c != '\0' && *c != s[n]; c++)
			;
		if (*c == '\0' || s[n] == '\0')
			return n;
	}
}

/* The length of the prefix of s made of bytes not in set (strcspn). */
static inline size_t
cspan(const char *s, const char *set)
{
	size_t n = 0;
	const char *c;

	for (; s[n] != '\0'; n++)
		for (c = set; *c != '\0'; c++)
			if (*c == s[n])
				return n;
	return n;
}

#endif
