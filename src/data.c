/*
 * data.c - DATA decoder (client to spool) and encoder (file to upstream).
 */
#include "data.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void
data_decoder_init(struct data_decoder *d)
{
	d->state = D_BOL;
	d->bare_newline = false;
}

bool
data_done(const struct data_decoder *d)
{
	return d->state == D_END;
}

size_t
data_decode(struct data_decoder *d, const unsigned char *in, size_t inlen,
    unsigned char *out, size_t *outlen)
{
	/* Offsets of the next CR and of the next LF at or after i (inlen: none
	 * left), each searched for again only once i has passed it: every byte
	 * is scanned at most once per character, whatever the line lengths. */
	size_t i = 0, o = 0, next_cr = SIZE_MAX, next_lf = SIZE_MAX, run;

	while (i < inlen && d->state != D_END) {
		unsigned char c = in[i];
		const unsigned char *hit;

		switch (d->state) {
		case D_MID:
			/* Fast path: copy the plain run of the line at once. */
			if (next_cr == SIZE_MAX || next_cr < i) {
				hit = memchr(in + i, '\r', inlen - i);
				next_cr = hit != NULL ? (size_t)(hit - in) : inlen;
			}
			if (next_lf == SIZE_MAX || next_lf < i) {
				hit = memchr(in + i, '\n', inlen - i);
				next_lf = hit != NULL ? (size_t)(hit - in) : inlen;
			}
			run = (next_cr < next_lf ? next_cr : next_lf) - i;
			memcpy(out + o, in + i, run);
			o += run;
			i += run;
			if (i == inlen)
				goto out;
			c = in[i];
			if (c == '\r') {
				d->state = D_CR;
			} else {
				d->bare_newline = true;
				out[o++] = '\r';
				out[o++] = '\n';
				d->state = D_BOL_LOOSE;
			}
			i++;
			break;
		case D_CR:
			out[o++] = '\r';
			out[o++] = '\n';
			if (c == '\n') {
				d->state = D_BOL;
				i++;
			} else {
				/* Bare CR: a line end here, reprocess c. */
				d->bare_newline = true;
				d->state = D_BOL_LOOSE;
			}
			break;
		case D_BOL:
		case D_BOL_LOOSE:
			if (c == '.') {
				d->state = d->state == D_BOL ? D_DOT :
				    D_DOT_LOOSE;
				i++;
			} else {
				d->state = D_MID;
			}
			break;
		case D_DOT:
			if (c == '\r') {
				d->state = D_DOT_CR;
				i++;
			} else if (c == '\n') {
				/* ".\n": a lone dot, but not the end. */
				d->bare_newline = true;
				out[o++] = '.';
				d->state = D_MID;
			} else {
				d->state = D_MID;	/* stuffed dot dropped */
			}
			break;
		case D_DOT_CR:
			if (c == '\n') {
				d->state = D_END;
				i++;
			} else {
				/* ".\r" then more: the dot was content. */
				d->bare_newline = true;
				out[o++] = '.';
				out[o++] = '\r';
				out[o++] = '\n';
				d->state = D_BOL_LOOSE;
			}
			break;
		case D_DOT_LOOSE:
			/* A dot after a bare line end: unstuff it, but a lone
			 * dot is content, never the end. */
			if (c == '\r' || c == '\n')
				out[o++] = '.';
			d->state = D_MID;
			break;
		case D_END:
			break;
		}
	}
out:
	*outlen = o;
	return i;
}

static int
enc_flush(struct data_encoder *e, struct io *io)
{
	int r = io_write(io, e->out, e->o);

	e->o = 0;
	return r;
}

static void
enc_header(struct data_encoder *e, struct io *io, int *r)
{
	e->in_headers = false;
	if (e->header == NULL || e->header[0] == '\0')
		return;
	if (*r == IO_OK)
		*r = enc_flush(e, io);
	/* CRLF lines already (header_expand); a line starting with a dot
	 * is stuffed like any other, or it could end the message. */
	for (const char *line = e->header; *r == IO_OK && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) + 1 : strlen(line);

		if (*line == '.')
			*r = io_write(io, ".", 1);
		if (*r == IO_OK)
			*r = io_write(io, line, len);
		line += len;
	}
}

void
data_encoder_init(struct data_encoder *e, const char *header)
{
	e->state = E_BOL;
	e->in_headers = true;
	e->header = header;
	e->o = 0;
}

int
data_encode_chunk(struct data_encoder *e, struct io *io,
    const unsigned char *in, size_t n)
{
	int r = IO_OK;

	for (size_t i = 0; i < n && r == IO_OK; i++) {
		unsigned char c = in[i];

		if (e->state == E_CR) {
			/* CRLF, or a bare CR: both end the line. */
			e->out[e->o++] = '\r';
			e->out[e->o++] = '\n';
			e->state = E_BOL;
			if (c == '\n')
				continue;
		}
		if (e->state == E_BOL) {
			if (e->in_headers && (c == '\r' || c == '\n'))
				enc_header(e, io, &r);
			if (c == '.')
				e->out[e->o++] = '.';
			e->state = E_MID;
		}
		if (c == '\r') {
			e->state = E_CR;
		} else if (c == '\n') {
			e->out[e->o++] = '\r';
			e->out[e->o++] = '\n';
			e->state = E_BOL;
		} else {
			/* The bulk of a line: copy it up to its end in one go
			 * (room >= 1: see the flush below). */
			size_t len = n - i;
			size_t room = sizeof(e->out) - 4 - e->o;
			const unsigned char *p = in + i, *end;

			if (len > room)
				len = room;
			if ((end = memchr(p, '\n', len)) != NULL)
				len = (size_t)(end - p);
			if ((end = memchr(p, '\r', len)) != NULL)
				len = (size_t)(end - p);
			memcpy(e->out + e->o, p, len);
			e->o += len;
			i += len - 1;
		}
		if (e->o >= sizeof(e->out) - 8)
			r = enc_flush(e, io);
	}
	return r;
}

int
data_encode_end(struct data_encoder *e, struct io *io)
{
	int r = IO_OK;

	if (e->state != E_BOL) {
		/* Complete the last line (the filter may not have). */
		e->out[e->o++] = '\r';
		e->out[e->o++] = '\n';
	}
	if (e->in_headers)
		enc_header(e, io, &r);
	if (r == IO_OK) {
		e->out[e->o++] = '.';
		e->out[e->o++] = '\r';
		e->out[e->o++] = '\n';
		r = enc_flush(e, io);
	}
	return r;
}

int
data_encode(int fd, struct io *io, const char *header, off_t *sent)
{
	static const size_t slice = IO_BUFSIZE / 2 - 8;
	unsigned char in[IO_BUFSIZE / 2];
	struct data_encoder e;
	ssize_t n;
	int r = IO_OK;

	data_encoder_init(&e, header);
	*sent = 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return IO_ERROR;
	while (r == IO_OK) {
		n = read(fd, in, slice);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return IO_ERROR;
		if (n == 0)
			break;
		*sent += n;
		r = data_encode_chunk(&e, io, in, (size_t)n);
	}
	return r != IO_OK ? r : data_encode_end(&e, io);
}
