/*
 * t/fmt-test.c - src/fmt.c against the C library's snprintf(): every
 * conversion fmt.h supports, over edge values, at every buffer size from 0
 * to past the full length (the text, the NUL, the return value, and no byte
 * written past size); and src/inet.c against inet_ntop(), for every
 * pattern of zero groups in an IPv6 address and IPv4 ones; and src/ascii.c
 * against strcasecmp(), strncasecmp(), strtol() and strtoull(). Prints one line per mismatch and the counts; exits 1
 * on any mismatch. Built by make check, run by t/86-fmt.bats.
 */
#include "../src/ascii.h"
#include "../src/fmt.h"
#include "../src/inet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned long checks, failures;

/* Both results for one case at every size; a is fmt's, b snprintf's. */
#define CASE(...) do { \
	char full[512]; \
	int want = snprintf(full, sizeof(full), __VA_ARGS__); \
	for (size_t size = 0; size <= (size_t)want + 2 && size < 400; size++) { \
		char a[512], b[512]; \
		memset(a, 0x5a, sizeof(a)); \
		memset(b, 0x5a, sizeof(b)); \
		int ra = fmt(size ? a : NULL, size, __VA_ARGS__); \
		int rb = snprintf(size ? b : NULL, size, __VA_ARGS__); \
		checks++; \
		if (ra != rb || memcmp(a, b, sizeof(a)) != 0) { \
			failures++; \
			printf("MISMATCH %s:%d size %zu: fmt %d \"%.*s\", " \
			    "snprintf %d \"%.*s\"\n", __FILE__, __LINE__, size, \
			    ra, (int)(size ? size : 1) - 1, a, rb, \
			    (int)(size ? size : 1) - 1, b); \
		} \
	} \
} while (0)

static void
ints(void)
{
	static const long long v[] = { 0, 1, -1, 7, 9, 10, -10, 99, 100, 255,
	    256, 4095, 65535, 1000000, -999999, INT_MAX, INT_MIN, INT_MAX - 1,
	    INT_MIN + 1, UINT_MAX, LONG_MAX, LONG_MIN, LLONG_MAX, LLONG_MIN,
	    (long long)SIZE_MAX };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int d = (int)v[i];
		unsigned u = (unsigned)v[i];
		long l = (long)v[i];
		unsigned long lu = (unsigned long)v[i];
		unsigned long long llu = (unsigned long long)v[i];
		size_t z = (size_t)v[i];

		CASE("%d", d);
		CASE("%i", d);
		CASE("%u", u);
		CASE("%x", u);
		CASE("%X", u);
		CASE("%ld", l);
		CASE("%lu", lu);
		CASE("%lx", lu);
		CASE("%lld", v[i]);
		CASE("%llu", llu);
		CASE("%llx", llu);
		CASE("%zu", z);
		CASE("%zx", z);
		CASE("%zd", (ssize_t)z);
		CASE("%03d", d);
		CASE("%05d", d);
		CASE("%02x", u & 0xff);
		CASE("%02X", u & 0xff);
		CASE("%8d|%-8d|%08u|%-3x|", d, d, u, u);
		CASE("%1d%0d%20lld", d, d, v[i]);
		CASE("proxsmtpd[%ld]: %d to %d\n", l, d, d == INT_MIN ? d : -d);
	}
}

static void
strings(void)
{
	static const char *s[] = { "", "a", "abc", "hello, world",
	    "a longer string of some sixty characters, to cut at many places" };
	const char *volatile null = NULL;

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		CASE("%s", s[i]);
		CASE("<%s>", s[i]);
		CASE("%s%s/%u", s[i], s[i], 24u);
		CASE("%.3s|%.0s|%.150s", s[i], s[i], s[i]);
		CASE("%10s|%-10s|%1s", s[i], s[i], s[i]);
		for (int p = -2; p < 70; p += 3)
			CASE("%.*s|", p, s[i]);
	}
	CASE("%s", null);
	CASE("%.3s|%.6s|%.*s", null, null, 10, null);
	for (int c = 1; c < 256; c++)
		CASE("%c|%3c|%-3c", c, c, c);
	CASE("100%% %s %%%d", "sure", 5);
	CASE("%03d%c%s\r\n", 250, '-', "line");
	CASE("%s", "");
	CASE("no conversions at all");
	CASE("%450d|%s", -5, "past the sizes tried");
	CASE("%s", "");
}

/* What fmt does that snprintf does not: a marker for what it does not
 * support, and the NUL when size is 1. */
static void
own(void)
{
	char buf[32];

	checks++;
	if (fmt(buf, sizeof(buf), "a%fb", 1.5) != 3 || strcmp(buf, "a%?") != 0) {
		failures++;
		printf("MISMATCH unsupported %%f: \"%s\"\n", buf);
	}
	/* A size far past the buffer, as callers pass sizeof() of a bigger
	 * one: only the text and its NUL are written. */
	for (int i = 0; i < 2; i++) {
		volatile size_t huge = i ? SIZE_MAX : (size_t)INT_MAX + 2;
		char a[32], b[32];

		memset(a, 'x', sizeof(a));
		memset(b, 'x', sizeof(b));
		checks++;
		if (fmt(a, huge, "%d-%s", INT_MIN, "z") !=
		    snprintf(b, huge, "%d-%s", INT_MIN, "z") ||
		    memcmp(a, b, sizeof(a)) != 0) {
			failures++;
			printf("MISMATCH huge size %zu\n", (size_t)huge);
		}
	}
	checks++;
	memset(buf, 'x', sizeof(buf));
	if (fmt(buf, 1, "%s", "abc") != 3 || buf[0] != '\0' || buf[1] != 'x') {
		failures++;
		printf("MISMATCH size 1\n");
	}
}

static void
inet_one(int family, const unsigned char *a)
{
	char want[64], got[64];

	checks++;
	inet_ntop(family, a, want, sizeof(want));
	inet_text(family, a, got, sizeof(got));
	if (strcmp(want, got) != 0) {
		failures++;
		printf("MISMATCH inet: inet_ntop %s, inet_text %s\n", want, got);
	}
}

static void
inet(void)
{
	static const unsigned vals[] = { 1, 0xffff, 0x2001, 0xdb8, 0xa };
	unsigned char a[16];
	unsigned long seed = 1;

	/* Every pattern of zero groups, with a few values for the others
	 * and ::ffff: and ::0:0 before an IPv4 address among them. */
	for (unsigned mask = 0; mask < 256; mask++)
		for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
			for (int i = 0; i < 8; i++) {
				unsigned w = mask & 1u << i ? 0 :
				    vals[(v + (size_t)i) % 5];

				a[2 * i] = (unsigned char)(w >> 8);
				a[2 * i + 1] = (unsigned char)w;
			}
			inet_one(AF_INET6, a);
			a[10] = a[11] = 0xff;
			inet_one(AF_INET6, a);
		}
	for (int n = 0; n < 20000; n++) {
		for (int i = 0; i < 16; i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			a[i] = (unsigned char)(seed >> 56);
			if (seed >> 20 & 1)	/* many zero bytes */
				a[i] = 0;
		}
		inet_one(AF_INET6, a);
		inet_one(AF_INET, a);
	}
	memset(a, 0, sizeof(a));
	inet_one(AF_INET, a);
	inet_one(AF_INET6, a);
	memset(a, 0xff, sizeof(a));
	inet_one(AF_INET, a);
	inet_one(AF_INET6, a);
}

static int
sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static void
ascii(void)
{
	static const char *w[] = { "", "a", "A", "ehlo", "EHLO", "EhLo", "ehl",
	    "ehlox", "LAST", "last ", "[", "`", "@", "{", "\x80", "\xc3\xa9",
	    "Z", "z", "_", "ADDR=", "addr=1" };
	static const char *nums[] = { "", "0", "1", "-1", "+1", " 42", "\t\n7",
	    "- 1", "+", "-", "12abc", "abc", "9223372036854775807",
	    "9223372036854775808", "-9223372036854775808",
	    "-9223372036854775809", "18446744073709551615",
	    "18446744073709551616", "-18446744073709551615",
	    "99999999999999999999999", "-99999999999999999999999",
	    "0000000000000000000000012", "2048", "65536", " \v\f\r-3x" };

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		for (size_t j = 0; j < sizeof(w) / sizeof(w[0]); j++) {
			checks++;
			if (sign(ascii_casecmp(w[i], w[j])) !=
			    sign(strcasecmp(w[i], w[j]))) {
				failures++;
				printf("MISMATCH casecmp %s %s\n", w[i], w[j]);
			}
			for (size_t n = 0; n < 7; n++) {
				checks++;
				if (sign(ascii_ncasecmp(w[i], w[j], n)) !=
				    sign(strncasecmp(w[i], w[j], n))) {
					failures++;
					printf("MISMATCH ncasecmp %s %s %zu\n",
					    w[i], w[j], n);
				}
			}
		}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char *e1, *e2;
		int err1, err2;
		long l1, l2;
		unsigned long long u1, u2;

		errno = 0;
		l1 = dec_strtol(nums[i], &e1);
		err1 = errno;
		errno = 0;
		l2 = strtol(nums[i], &e2, 10);
		err2 = errno;
		checks++;
		if (l1 != l2 || e1 != e2 || err1 != err2) {
			failures++;
			printf("MISMATCH strtol \"%s\": %ld %d, %ld %d\n",
			    nums[i], l1, err1, l2, err2);
		}
		errno = 0;
		u1 = dec_strtoull(nums[i], &e1);
		err1 = errno;
		errno = 0;
		u2 = strtoull(nums[i], &e2, 10);
		err2 = errno;
		checks++;
		if (u1 != u2 || e1 != e2 || err1 != err2) {
			failures++;
			printf("MISMATCH strtoull \"%s\": %llu %d, %llu %d\n",
			    nums[i], u1, err1, u2, err2);
		}
	}
}

int
main(void)
{
	ints();
	strings();
	own();
	inet();
	ascii();
	printf("fmt-test: %lu checks, %lu failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
