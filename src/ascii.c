/*
 * ascii.c - case-blind comparison and decimal numbers in the C locale,
 * without glibc's tables: see ascii.h for why.
 */
#include "ascii.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	int d;

	for (; n > 0; n--, x++, y++) {
		d = lower(*x) - lower(*y);
		if (d != 0 || *x == '\0')
			return d;
	}
	return 0;
}

int
ascii_casecmp(const char *a, const char *b)
{
	return ascii_ncasecmp(a, b, (size_t)-1);
}

/* The magnitude of the digits at s (saturated at ULLONG_MAX, *over set),
 * its sign, and the end; *end is s if there are no digits. */
static unsigned long long
magnitude(const char *s, const char **end, bool *neg, bool *over)
{
	const char *p = s;
	unsigned long long v = 0;
	unsigned d;

	*neg = *over = false;
	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p == '-' || *p == '+')
		*neg = *p++ == '-';
	if (*p < '0' || *p > '9') {
		*end = s;
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		d = (unsigned)(*p - '0');
		if (v > (ULLONG_MAX - d) / 10)
			*over = true;
		else
			v = v * 10 + d;
	}
	*end = p;
	return *over ? ULLONG_MAX : v;
}

long
dec_strtol(const char *s, char **end)
{
	const char *e;
	bool neg, over;
	unsigned long long v = magnitude(s, &e, &neg, &over);
	unsigned long long lim = neg ? (unsigned long long)LONG_MAX + 1 :
	    (unsigned long long)LONG_MAX;

	if (end != NULL)
		*end = (char *)e;
	if (over || v > lim) {
		errno = ERANGE;
		return neg ? LONG_MIN : LONG_MAX;
	}
	return neg ? (long)(0 - v) : (long)v;
}

unsigned long long
dec_strtoull(const char *s, char **end)
{
	const char *e;
	bool neg, over;
	unsigned long long v = magnitude(s, &e, &neg, &over);

	if (end != NULL)
		*end = (char *)e;
	if (over) {
		errno = ERANGE;
		return ULLONG_MAX;
	}
	return neg ? 0 - v : v;
}
