/*
 * bdat.c - BDAT arguments and chunk reading (RFC 3030).
 */
#include "bdat.h"
#include "ascii.h"
#include "span.h"

#include <string.h>
#include <strings.h>

/* Chunk bytes taken from the input buffer at a time. */
#define BDAT_SLICE (IO_BUFSIZE / 4)

int
bdat_parse(const char *args, unsigned long long *n, bool *last)
{
	const char *p = args;
	unsigned long long v = 0;
	size_t digits = 0;

	p += span(p, " \t");
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (v > (~0ULL - 9) / 10)
			return -1;	/* cannot be counted */
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (digits == 0 || digits > BDAT_SIZE_DIGITS)
		return -1;
	*last = false;
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return -1;	/* "5x", "5-" */
	p += span(p, " \t");
	if (ascii_ncasecmp(p, "LAST", 4) == 0 && (p[4] == '\0' || p[4] == ' ' ||
	    p[4] == '\t')) {
		*last = true;
		p += 4;
		p += span(p, " \t");
	}
	if (*p != '\0')
		return -1;
	*n = v;
	return 0;
}

void
bdat_body_init(struct bdat_body *b, bool binary)
{
	b->binary = binary;
	b->cr = false;
	b->bare_newline = false;
	b->size = 0;
	b->chunks = 0;
}

/*
 * Text: line ends made CRLF into out (room for 2 * n + 2). A CR at the end
 * stays pending: the next chunk may start with its LF.
 */
static size_t
canonical(struct bdat_body *b, const unsigned char *in, size_t n,
    unsigned char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = in[i];

		if (b->cr) {
			b->cr = false;
			out[o++] = '\r';
			out[o++] = '\n';
			if (c == '\n')
				continue;
			b->bare_newline = true;	/* a bare CR */
		}
		if (c == '\r') {
			b->cr = true;
		} else if (c == '\n') {
			b->bare_newline = true;
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = c;
		}
	}
	return o;
}

/* Adds n bytes to the message: spooled within the limit, counted. */
static void
spool_within(struct bdat_body *b, struct spool *sp, const unsigned char *p,
    size_t n, unsigned long long limit)
{
	size_t keep = n;

	if (limit != 0 && b->size + n > limit)
		keep = b->size >= limit ? 0 : (size_t)(limit - b->size);
	spool_put(sp, p, keep);
	b->size += n;
}

int
bdat_receive(struct io *io, unsigned long long n, struct bdat_body *b,
    struct spool *sp, unsigned long long limit)
{
	unsigned char out[2 * BDAT_SLICE + 2];
	const unsigned char *p;
	size_t avail, take;
	int r;

	while (n > 0) {
		if ((r = io_peek(io, &p, &avail)) != IO_OK)
			return r;
		take = avail < BDAT_SLICE ? avail : BDAT_SLICE;
		if (take > n)
			take = (size_t)n;
		if (sp != NULL && b->binary)
			spool_within(b, sp, p, take, limit);
		else if (sp != NULL)
			spool_within(b, sp, out, canonical(b, p, take, out),
			    limit);
		io_consume(io, take);
		n -= take;
	}
	if (sp != NULL)
		b->chunks++;
	return IO_OK;
}

void
bdat_body_end(struct bdat_body *b, struct spool *sp, unsigned long long limit)
{
	static const unsigned char crlf[2] = { '\r', '\n' };

	if (b->binary || !b->cr)
		return;
	b->cr = false;
	b->bare_newline = true;
	spool_within(b, sp, crlf, sizeof(crlf), limit);
}
