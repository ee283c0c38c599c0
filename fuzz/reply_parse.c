/*
 * fuzz/reply_parse.c - SMTP replies and filter verdicts (src/reply.c, and
 * the last-stderr-line keeping of src/filter.c, included for its statics).
 *
 * The same input is used three ways:
 *
 *   1. As what the upstream sends: reply_read() (struct io on a memfd)
 *      until it fails. Each accepted reply has a code 200..599, 1..64 lines
 *      of printable text; reply_write() of it gives one well-formed reply
 *      (every line "NNN-", the last "NNN ", CRLF, the same code,
 *      printable) that reads back identically; after the EHLO treatment of
 *      session.c (extensions removed) it is still well-formed.
 *   2. Each line as a verdict: reply_parse_verdict() with output buffers
 *      of exact size gives "NNN text", 250/4xx/5xx, space or end after the
 *      code, no CR/LF/control bytes, NUL-terminated within outlen; a line
 *      that starts with a verdict code keeps it, anything else is 550.
 *   3. As a filter's stderr, in random chunks: take_stderr() keeps the last
 *      non-empty line (as a reference computes it), whatever the chunking,
 *      and judge()'s reply_parse_verdict() of it is a well-formed verdict.
 */
#include "common.h"

#include "../src/filter.c"

#include <ctype.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in_fd = -1, sink_fd = -1;
static struct io rio, wio;
static struct reply back;
static struct run runs[2];
static struct fz_buf out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	in_fd = fz_memfd("fuzz-upstream");
	sink_fd = fz_memfd("fuzz-client");
	return 0;
}

struct count {
	int	replies;
	struct fz_reply_info last;
};

static void
count_reply(void *arg, const struct fz_reply_info *ri,
    const unsigned char *p, size_t n)
{
	struct count *c = arg;

	(void)p;
	(void)n;
	c->replies++;
	c->last = *ri;
}

static void
check_struct(const struct reply *r)
{
	int i;

	FZ_CHECK(r->code >= 200 && r->code <= 599, "code %d", r->code);
	FZ_CHECK(r->nlines >= 1 && r->nlines <= REPLY_LINES_MAX, "nlines %d",
	    r->nlines);
	for (i = 0; i < r->nlines; i++) {
		size_t len = strnlen(r->text[i], REPLY_LINE_MAX);

		FZ_CHECK(len < REPLY_LINE_MAX, "line %d not terminated", i);
		FZ_CHECK(fz_printable((const unsigned char *)r->text[i], len),
		    "line %d not printable", i);
	}
}

/* Writes r as the client would get it; checks it is exactly one reply. */
static void
write_and_check(const struct reply *r)
{
	struct count c = { 0, { 0, 0 } };

	fz_memfd_set(sink_fd, "", 0);
	io_init(&wio, -1, sink_fd, 1000);
	FZ_CHECK(reply_write(&wio, r) == IO_OK, "reply_write");
	FZ_CHECK(io_flush(&wio) == IO_OK, "io_flush");
	fz_memfd_get(sink_fd, &out);
	fz_check_replies(out.p, out.len, count_reply, &c);
	FZ_CHECK(c.replies == 1 && c.last.code == r->code &&
	    c.last.nlines == r->nlines, "reply_write wrote %d replies, "
	    "code %d (not %d), %d lines (not %d)", c.replies, c.last.code,
	    r->code, c.last.nlines, r->nlines);
}

/* What it reads back is what was written. */
static void
check_reread(const struct reply *r)
{
	struct io *io = &rio;
	int i, st;

	fz_memfd_set(in_fd, out.p, out.len);
	io_init(io, in_fd, -1, 1000);
	st = reply_read(io, &back);
	FZ_CHECK(st == IO_OK, "re-reading our own reply: %d", st);
	FZ_CHECK(back.code == r->code && back.nlines == r->nlines,
	    "re-read reply differs");
	for (i = 0; i < r->nlines; i++)
		FZ_CHECK(strcmp(back.text[i], r->text[i]) == 0,
		    "re-read line %d differs", i);
}

static void
upstream_replies(const uint8_t *data, size_t size, uint64_t seed)
{
	static const char *const stripped[] = {
		"PIPELINING", "STARTTLS", "CHUNKING", "BINARYMIME",
		"CHECKPOINT", "XCLIENT", "XEXCH50",
	};
	static struct reply all[16];
	int n = 0, st, i, k;
	size_t s;

	fz_memfd_set(in_fd, data, size);
	io_init(&rio, in_fd, -1, 1000);
	while (n < 16) {
		st = reply_read(&rio, &all[n]);
		if (st != IO_OK) {
			FZ_CHECK(st == IO_EOF || st == REPLY_BAD,
			    "reply_read: %d", st);
			break;
		}
		n++;
	}
	/* Each check rewinds the memfd, so they come after reading. */
	for (i = 0; i < n; i++) {
		struct reply *r = &all[i];
		char sum[REPLY_LINE_MAX + 8];
		size_t sumlen;

		check_struct(r);
		write_and_check(r);
		check_reread(r);

		/* The EHLO treatment of session.c's cmd_helo(). */
		for (s = 0; s < sizeof(stripped) / sizeof(stripped[0]); s++) {
			while ((k = reply_find_keyword(r, stripped[s])) > 0)
				reply_remove_line(r, k);
			FZ_CHECK(reply_find_keyword(r, stripped[s]) < 0,
			    "%s still there", stripped[s]);
		}
		for (k = r->nlines - 1; k > 0; k--)
			if (r->text[k][0] == '\0')
				reply_remove_line(r, k);
		check_struct(r);
		write_and_check(r);

		/* reply_summary into any size of buffer. */
		sumlen = 1 + (size_t)(fz_rand(&seed) % sizeof(sum));
		memset(sum, 'Z', sizeof(sum));
		reply_summary(r, sum, sumlen);
		FZ_CHECK(memchr(sum, '\0', sumlen) != NULL,
		    "reply_summary not terminated in %zu", sumlen);
	}
}

/* The code a verdict line must keep: after leading blanks, 250 or 4xx or
 * 5xx followed by space, '-' or the end. 0 if none. */
static int
expected_code(const char *line)
{
	const unsigned char *p = (const unsigned char *)line;
	int code;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9'))
		return 0;
	/* After the code: nothing left once trailing white space is cut. */
	if (p[3] != ' ' && p[3] != '-' && p[3] != '\0') {
		const unsigned char *q = p + 3;

		while (*q != '\0' && isspace(*q))
			q++;
		if (*q != '\0')
			return 0;
	}
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return code == 250 || p[0] == '4' || p[0] == '5' ? code : 0;
}

static bool
blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static void
check_verdict(const char *line, const char *def, size_t outlen)
{
	char *v = malloc(outlen);	/* exact: ASan sees any overrun */
	int code, want;

	memset(v, 'Z', outlen);
	code = reply_parse_verdict(line, def, v, outlen);
	FZ_CHECK(memchr(v, '\0', outlen) != NULL,
	    "verdict not NUL-terminated within %zu", outlen);
	FZ_CHECK(code == 250 || (code >= 400 && code <= 599),
	    "verdict code %d", code);
	if (outlen >= 4) {
		FZ_CHECK(v[0] - '0' == code / 100 &&
		    v[1] - '0' == code / 10 % 10 && v[2] - '0' == code % 10,
		    "verdict text \"%.3s\" is not its code %d", v, code);
	}
	if (outlen >= 5)
		FZ_CHECK(v[3] == ' ' || v[3] == '\0',
		    "no space after the verdict code");
	FZ_CHECK(fz_printable((unsigned char *)v, strlen(v)),
	    "control byte in verdict");
	/* A verdict code is kept; plain text and blanks are not codes. */
	want = blank(line) ? 0 : expected_code(line);
	if (!blank(line))
		FZ_CHECK(code == (want ? want : 550),
		    "verdict %d for a line that says %d", code, want);
	free(v);
}

static void
verdicts(const uint8_t *data, size_t size, uint64_t seed)
{
	char *copy = malloc(size + 1), *line, *next, *def = "";
	int lines = 0;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = copy; line != NULL && lines < 64; line = next, lines++) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		check_verdict(line, "550 5.7.1 Content rejected",
		    REPLY_LINE_MAX);
		check_verdict(line, def,
		    1 + (size_t)(fz_rand(&seed) % (REPLY_LINE_MAX + 64)));
		def = line;
	}
	free(copy);
}

/* The last non-empty stderr line, the way take_stderr() keeps it. */
static size_t
ref_last_line(const uint8_t *p, size_t n, const uint8_t **start)
{
	size_t i = 0, found = 0;

	*start = NULL;
	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t len = lf ? (size_t)(lf - (p + i)) : n - i;
		size_t keep = len < REPLY_LINE_MAX - 1 ? len :
		    REPLY_LINE_MAX - 1;

		while (keep > 0 && (p[i + keep - 1] == '\r' ||
		    p[i + keep - 1] == ' '))
			keep--;
		if (keep > 0) {
			*start = p + i;
			found = keep;
		}
		i += len + 1;
	}
	return found;
}

static void
stderr_lines(const uint8_t *data, size_t size, uint64_t seed)
{
	const uint8_t *exp;
	size_t explen = ref_last_line(data, size, &exp);
	char reply[REPLY_LINE_MAX];
	int k;

	for (k = 0; k < 2; k++) {
		struct run *rp = &runs[k];
		size_t pos = 0, c;

		rp->err_cur_len = 0;
		rp->err_last[0] = '\0';
		while (pos < size) {
			c = k == 0 ? size - pos : fz_chunk(&seed);
			if (c > size - pos)
				c = size - pos;
			take_stderr(rp, (const char *)data + pos, c);
			pos += c;
		}
		take_stderr(rp, "\n", 1);	/* as filter_run() ends */
		FZ_CHECK(memchr(rp->err_last, '\0', sizeof(rp->err_last)),
		    "err_last not terminated");
		FZ_CHECK(explen == 0 ? rp->err_last[0] == '\0' :
		    memcmp(rp->err_last, exp, explen) == 0 &&
		    rp->err_last[explen] == '\0',
		    "take_stderr kept the wrong line (chunking %d)", k);
		FZ_CHECK(strchr(rp->err_last, '\n') == NULL, "LF in err_last");
	}
	/* What judge() does with it. */
	check_verdict(runs[0].err_last, DEFAULT_REJECT, sizeof(reply));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = fz_hash(data, size);

	upstream_replies(data, size, seed);
	verdicts(data, size, seed);
	stderr_lines(data, size, seed);
	return 0;
}
