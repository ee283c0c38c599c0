/*
 * fuzz/common.h - helpers shared by the libFuzzer targets.
 *
 * Header-only on purpose: every target is one translation unit, built by
 * fuzz/run against the objects of src/ (minus main.c, and minus whatever
 * file a target #includes to reach its static functions).
 */
#ifndef PROXSMTPD_FUZZ_COMMON_H
#define PROXSMTPD_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A broken invariant is a crash: libFuzzer saves the input. */
__attribute__((noreturn, format(printf, 3, 4))) static inline void
fz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==FUZZ== invariant broken at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FZ_CHECK(cond, ...) do { \
		if (!(cond)) \
			fz_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

/* Prints at most max bytes of p, escaped, for failure messages. */
static inline void
fz_dump(const char *what, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i, max = 400;

	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (i = 0; i < n && i < max; i++) {
		if (s[i] == '\r')
			fputs("\\r", stderr);
		else if (s[i] == '\n')
			fputs("\\n", stderr);
		else if (s[i] == '\\')
			fputs("\\\\", stderr);
		else if (s[i] < 32 || s[i] >= 127)
			fprintf(stderr, "\\x%02x", s[i]);
		else
			fputc(s[i], stderr);
	}
	fprintf(stderr, "\"%s\n", n > max ? "..." : "");
}

/* ---- deterministic pseudo-randomness derived from the input --------- */

static inline uint64_t
fz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static inline uint64_t
fz_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);	/* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A chunk size: mostly tiny (state machine edges), sometimes large. */
static inline size_t
fz_chunk(uint64_t *state)
{
	uint64_t r = fz_rand(state);

	switch (r & 3) {
	case 0: return 1;
	case 1: return 1 + (size_t)((r >> 8) % 4);
	case 2: return 1 + (size_t)((r >> 8) % 64);
	default: return 1 + (size_t)((r >> 8) % 20000);
	}
}

/* ---- growable byte buffers ------------------------------------------ */

struct fz_buf {
	unsigned char *p;
	size_t	len, cap;
};

static inline void
fz_buf_add(struct fz_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void
fz_buf_reset(struct fz_buf *b)
{
	b->len = 0;
	if (b->p == NULL)
		fz_buf_add(b, "", 0);	/* never NULL, even when empty */
	b->p[0] = '\0';
}

/* ---- memfds: files without a file system ---------------------------- */

static inline int
fz_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	return fd;
}

/* Makes fd hold exactly data, with the offset at 0. */
static inline void
fz_memfd_set(int fd, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t off = 0;
	ssize_t w;

	if (ftruncate(fd, 0) < 0)
		abort();
	while (off < n) {
		w = pwrite(fd, p + off, n - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
}

/* Appends the whole content of fd to b (offset is left at the end). */
static inline void
fz_memfd_get(int fd, struct fz_buf *b)
{
	unsigned char tmp[65536];
	off_t off = 0;
	ssize_t n;

	fz_buf_reset(b);
	while ((n = pread(fd, tmp, sizeof(tmp), off)) > 0) {
		fz_buf_add(b, tmp, (size_t)n);
		off += n;
	}
	if (n < 0)
		abort();
}

/* ---- SMTP reply streams --------------------------------------------- */

/* Text of a reply line: TAB and 32..126 only (RFC 5321 textstring). */
static inline bool
fz_printable(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((p[i] < 32 && p[i] != '\t') || p[i] >= 127)
			return false;
	return true;
}

struct fz_reply_info {
	int	code;
	int	nlines;
};

/*
 * Checks that buf[0..n) is a sequence of well-formed replies: every line
 * "NNN-text\r\n" except the last of each reply "NNN text\r\n" or
 * "NNN\r\n", one code per reply, 200..599, printable text. Calls cb for
 * each reply (may be NULL). Fails the run on anything else.
 */
static inline void
fz_check_replies(const unsigned char *buf, size_t n,
    void (*cb)(void *, const struct fz_reply_info *, const unsigned char *,
    size_t), void *arg)
{
	size_t pos = 0, start = 0;
	struct fz_reply_info ri = { 0, 0 };

	while (pos < n) {
		const unsigned char *l = buf + pos;
		const unsigned char *lf = memchr(l, '\n', n - pos);
		size_t len;
		int code;

		FZ_CHECK(lf != NULL, "reply stream ends without a line end");
		len = (size_t)(lf - l);
		FZ_CHECK(len >= 4 && l[len - 1] == '\r',
		    "reply line without CRLF or too short (len %zu)", len);
		len--;	/* without CR */
		FZ_CHECK(l[0] >= '2' && l[0] <= '5',
		    "reply code does not start with 2-5");
		FZ_CHECK(l[1] >= '0' && l[1] <= '9' && l[2] >= '0' &&
		    l[2] <= '9', "reply code is not 3 digits");
		FZ_CHECK(len == 3 || l[3] == ' ' || l[3] == '-',
		    "no separator after the reply code");
		FZ_CHECK(fz_printable(l, len),
		    "control or 8-bit byte in a reply line");
		FZ_CHECK(memchr(l, '\r', len) == NULL, "bare CR in a reply");
		code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (ri.nlines == 0) {
			ri.code = code;
			start = pos;
		}
		FZ_CHECK(code == ri.code, "reply changes code from %d to %d",
		    ri.code, code);
		ri.nlines++;
		pos += (size_t)(lf - l) + 1;
		if (len == 3 || l[3] == ' ') {
			if (cb != NULL)
				cb(arg, &ri, buf + start, pos - start);
			ri.nlines = 0;
		}
	}
	FZ_CHECK(ri.nlines == 0, "reply stream ends inside a multi-line reply");
}

#endif
