/*
 * data.c - DATA decoder (client to spool) and encoder (file to upstream).
 */
#include "data.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
data_decoder_init(struct data_decoder *d)
{
	d->state = D_BOL;
	d->bare_newline = false;
	d->out_bol = true;
	d->relay = false;
	d->in_headers = false;
	d->header = NULL;
	d->header_room = 0;
}

/*
 * The header (CRLF lines already: header_expand) with a dot stuffed before
 * each line that starts with one, into out (NULL: only counted); its
 * length.
 */
static size_t
stuff_header(const char *header, unsigned char *out)
{
	size_t n = 0;

	for (const char *line = header; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) + 1 :
		    strlen(line);

		if (*line == '.' && out != NULL)
			out[n] = '.';
		n += *line == '.';
		if (out != NULL)
			memcpy(out + n, line, len);
		n += len;
		line += len;
	}
	return n;
}

void
data_relay_init(struct data_decoder *d, const char *header)
{
	data_decoder_init(d);
	d->relay = true;
	d->in_headers = true;
	d->header = header != NULL && header[0] != '\0' ? header : NULL;
	d->header_room = stuff_header(d->header, NULL);
}

bool
data_done(const struct data_decoder *d)
{
	return d->state == D_END;
}

/* Where one call of data_decode() is: input read to i, output up to o. */
struct cursor {
	const unsigned char *in;
	size_t	inlen, i;
	unsigned char *out;
	size_t	o;
	size_t	room;	/* of out; SIZE_MAX: DATA_DECODE_ROOM promised */
	size_t	extra;	/* relay: bytes of out that are not the message */
	/* Offsets of the next CR and of the next LF at or after i (inlen:
	 * none left), each searched for again only once i has passed it:
	 * every byte is scanned at most once per character, whatever the
	 * line lengths. */
	size_t	next_cr, next_lf;
};

/* What one step past a plain run may write at most: a stuffed dot, a line
 * end, the header, the terminator. */
static size_t
margin(const struct data_decoder *d)
{
	return 16 + (d->in_headers ? d->header_room : 0);
}

/* Relay: the header, stuffed, where data_encoder would put it. */
static void
put_header(struct data_decoder *d, struct cursor *k)
{
	d->in_headers = false;
	k->o += stuff_header(d->header, k->out + k->o);
	k->extra += d->header_room;
}

static void
put_crlf(struct data_decoder *d, struct cursor *k)
{
	if (d->out_bol && d->in_headers)
		put_header(d, k);	/* the first empty line */
	k->out[k->o++] = '\r';
	k->out[k->o++] = '\n';
	d->out_bol = true;
}

/* A dot of the message: stuffed again when relaying, at a line start. */
static void
put_dot(struct data_decoder *d, struct cursor *k)
{
	if (d->relay && d->out_bol) {
		k->out[k->o++] = '.';
		k->extra++;
	}
	k->out[k->o++] = '.';
	d->out_bol = false;
}

/* CRLF.CRLF: relaying, the header if no empty line came, the terminator. */
static void
put_end(struct data_decoder *d, struct cursor *k)
{
	d->state = D_END;
	if (!d->relay)
		return;
	if (d->in_headers)
		put_header(d, k);
	memcpy(k->out + k->o, ".\r\n", 3);
	k->o += 3;
	k->extra += 3;
}

static size_t
next_of(const struct cursor *k, size_t next, int ch)
{
	const unsigned char *hit;

	if (next != SIZE_MAX && next >= k->i)
		return next;
	hit = memchr(k->in + k->i, ch, k->inlen - k->i);
	return hit != NULL ? (size_t)(hit - k->in) : k->inlen;
}

/* D_MID: the plain run of the line copied at once (as far as room
 * allows), then its line end. */
static void
decode_mid(struct data_decoder *d, struct cursor *k)
{
	size_t run, limit;
	bool cut;

	k->next_cr = next_of(k, k->next_cr, '\r');
	k->next_lf = next_of(k, k->next_lf, '\n');
	run = (k->next_cr < k->next_lf ? k->next_cr : k->next_lf) - k->i;
	limit = k->room - k->o - margin(d);
	if ((cut = run > limit))
		run = limit;
	if (run > 0) {
		if (d->relay && d->out_bol && k->in[k->i] == '.') {
			k->out[k->o++] = '.';
			k->extra++;
		}
		memcpy(k->out + k->o, k->in + k->i, run);
		k->o += run;
		k->i += run;
		d->out_bol = false;
	}
	if (cut || k->i == k->inlen)
		return;
	if (k->in[k->i] == '\r') {
		d->state = D_CR;
	} else {
		d->bare_newline = true;
		put_crlf(d, k);
		d->state = D_BOL_LOOSE;
	}
	k->i++;
}

/* D_CR, D_BOL, D_BOL_LOOSE: a line ends, the next one starts. */
static void
decode_line_start(struct data_decoder *d, struct cursor *k, unsigned char c)
{
	if (d->state == D_CR) {
		put_crlf(d, k);
		if (c == '\n') {
			d->state = D_BOL;
			k->i++;
		} else {
			/* Bare CR: a line end here, reprocess c. */
			d->bare_newline = true;
			d->state = D_BOL_LOOSE;
		}
	} else if (c == '.') {
		d->state = d->state == D_BOL ? D_DOT : D_DOT_LOOSE;
		k->i++;
	} else {
		d->state = D_MID;
	}
}

/* D_DOT, D_DOT_CR, D_DOT_LOOSE: a dot at the start of a line. */
static void
decode_dot(struct data_decoder *d, struct cursor *k, unsigned char c)
{
	if (d->state == D_DOT) {
		if (c == '\r') {
			d->state = D_DOT_CR;
			k->i++;
		} else if (c == '\n') {
			/* ".\n": a lone dot, but not the end. */
			d->bare_newline = true;
			put_dot(d, k);
			d->state = D_MID;
		} else {
			d->state = D_MID;	/* stuffed dot dropped */
		}
	} else if (d->state == D_DOT_CR) {
		if (c == '\n') {
			put_end(d, k);
			k->i++;
		} else {
			/* ".\r" then more: the dot was content. */
			d->bare_newline = true;
			put_dot(d, k);
			put_crlf(d, k);
			d->state = D_BOL_LOOSE;
		}
	} else {
		/* A dot after a bare line end: unstuff it, but a lone dot is
		 * content, never the end. */
		if (c == '\r' || c == '\n')
			put_dot(d, k);
		d->state = D_MID;
	}
}

/* The state machine over k's input, while the room allows a step. */
static void
decode(struct data_decoder *d, struct cursor *k)
{
	while (k->i < k->inlen && d->state != D_END &&
	    k->room - k->o > margin(d)) {
		switch (d->state) {
		case D_MID:
			decode_mid(d, k);
			break;
		case D_CR:
		case D_BOL:
		case D_BOL_LOOSE:
			decode_line_start(d, k, k->in[k->i]);
			break;
		case D_DOT:
		case D_DOT_CR:
		case D_DOT_LOOSE:
			decode_dot(d, k, k->in[k->i]);
			break;
		case D_END:
			break;
		}
	}
}

size_t
data_decode(struct data_decoder *d, const unsigned char *in, size_t inlen,
    unsigned char *out, size_t *outlen)
{
	struct cursor k = { .in = in, .inlen = inlen, .out = out,
	    .room = SIZE_MAX, .next_cr = SIZE_MAX, .next_lf = SIZE_MAX };

	decode(d, &k);
	*outlen = k.o;
	return k.i;
}

size_t
data_relay_room(const struct data_decoder *d)
{
	return margin(d) + 1;
}

size_t
data_relay(struct data_decoder *d, const unsigned char *in, size_t inlen,
    unsigned char *out, size_t room, size_t *outlen, size_t *msglen)
{
	struct cursor k = { .in = in, .inlen = inlen, .out = out,
	    .room = room, .next_cr = SIZE_MAX, .next_lf = SIZE_MAX };

	decode(d, &k);
	*outlen = k.o;
	*msglen = k.o - k.extra;
	return k.i;
}

/*
 * Every byte the encoder writes comes through here: counted, kept within
 * the cap (the last byte held back), and written unless io is NULL.
 */
static int
enc_write(struct data_encoder *e, struct io *io, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (e->cap != 0) {
		if (n > e->cap - e->total) {
			errno = EOVERFLOW;
			return IO_ERROR;
		}
		if (n > 0 && n == e->cap - e->total) {
			e->held = b[n - 1];
			e->total++;
			n--;
		}
	}
	e->total += n;
	return io == NULL || n == 0 ? IO_OK : io_write(io, b, n);
}

static int
enc_flush(struct data_encoder *e, struct io *io)
{
	int r = enc_write(e, io, e->out, e->o);

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

		if (*line == '.' && e->mode == ENC_DATA)
			*r = enc_write(e, io, ".", 1);
		if (*r == IO_OK)
			*r = enc_write(e, io, line, len);
		line += len;
	}
}

void
data_encoder_init(struct data_encoder *e, const char *header)
{
	e->state = E_BOL;
	e->mode = ENC_DATA;
	e->in_headers = true;
	e->header = header;
	e->total = 0;
	e->cap = 0;
	e->held = 0;
	e->o = 0;
}

void
data_encoder_mode(struct data_encoder *e, enum enc_mode mode,
    unsigned long long cap)
{
	e->mode = mode;
	e->cap = cap;
}

/* ENC_BINARY: bytes copied up to and including each LF, which starts a
 * line (the header goes before the first empty one). */
static int
encode_binary(struct data_encoder *e, struct io *io, const unsigned char *in,
    size_t n)
{
	int r = IO_OK;
	size_t len, room;
	const unsigned char *lf;

	while (n > 0 && r == IO_OK) {
		if (e->state == E_BOL && e->in_headers &&
		    (in[0] == '\r' || in[0] == '\n'))
			enc_header(e, io, &r);
		/* Room >= 1: flushed below 8 short of full, as the end
		 * needs room for a line end. */
		room = sizeof(e->out) - 8 - e->o;
		len = n < room ? n : room;
		if ((lf = memchr(in, '\n', len)) != NULL)
			len = (size_t)(lf - in) + 1;
		memcpy(e->out + e->o, in, len);
		e->o += len;
		e->state = in[len - 1] == '\n' ? E_BOL : E_MID;
		in += len;
		n -= len;
		if (e->o >= sizeof(e->out) - 8 && r == IO_OK)
			r = enc_flush(e, io);
	}
	return r;
}

int
data_encode_chunk(struct data_encoder *e, struct io *io,
    const unsigned char *in, size_t n)
{
	int r = IO_OK;

	if (e->mode == ENC_BINARY)
		return encode_binary(e, io, in, n);
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
			if (c == '.' && e->mode == ENC_DATA)
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

	/* Complete the last line (the filter may not have); a binary
	 * message only when the header must follow it. */
	if (e->state != E_BOL && (e->mode != ENC_BINARY || (e->in_headers &&
	    e->header != NULL && e->header[0] != '\0'))) {
		e->out[e->o++] = '\r';
		e->out[e->o++] = '\n';
		e->state = E_BOL;
	}
	if (e->in_headers)
		enc_header(e, io, &r);
	if (r == IO_OK && e->mode == ENC_DATA) {
		e->out[e->o++] = '.';
		e->out[e->o++] = '\r';
		e->out[e->o++] = '\n';
	}
	if (r == IO_OK)
		r = enc_flush(e, io);
	if (r == IO_OK && e->cap != 0) {
		/* All of it, or nothing completes the chunk. */
		if (e->total != e->cap) {
			errno = EOVERFLOW;
			return IO_ERROR;
		}
		if (io != NULL)
			r = io_write(io, &e->held, 1);
	}
	return r;
}

int
data_encode_as(int fd, struct io *io, const char *header, enum enc_mode mode,
    unsigned long long cap, unsigned long long *total)
{
	static const size_t slice = IO_BUFSIZE / 2 - 8;
	unsigned char in[IO_BUFSIZE / 2];
	struct data_encoder e;
	ssize_t n;
	int r = IO_OK;

	data_encoder_init(&e, header);
	data_encoder_mode(&e, mode, cap);
	*total = 0;
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
		r = data_encode_chunk(&e, io, in, (size_t)n);
	}
	if (r == IO_OK)
		r = data_encode_end(&e, io);
	*total = e.total;
	return r;
}

int
data_encode(int fd, struct io *io, const char *header, off_t *sent)
{
	unsigned long long total;
	struct stat st;
	int r = data_encode_as(fd, io, header, ENC_DATA, 0, &total);

	/* The message bytes read (what the callers log). */
	*sent = fstat(fd, &st) == 0 ? st.st_size : 0;
	return r;
}
