/*
 * fuzz/data_roundtrip.c - the DATA decoder and encoder (src/data.c).
 *
 * The input is what a client sends after DATA. It goes through the decoder
 * in three chunkings (all at once, byte by byte, random chunks derived from
 * the input) which must agree with each other and with a line-based
 * reference decoder written from the spec:
 *
 *   - the decoder stops exactly once, at the first CRLF "." CRLF (or a
 *     ".\r\n" at the very start), never at \n.\n, \n.\r\n, \r.\r, \r\n.\r,
 *     \r\n.\n (the 2023 SMTP smuggling variants); consumed <= input;
 *   - its output has CRLF line ends only and fits DATA_DECODE_ROOM;
 *   - bare_newline is set exactly when a bare CR or LF was consumed.
 *
 * Then the decoded message, and the raw input as if a filter had written it,
 * are encoded with data_encode() (file in a memfd, struct io writing to
 * another memfd), with and without a Header:
 *
 *   - the stream has CRLF line ends only and exactly one terminator, at its
 *     very end (decoding it again ends exactly at its last byte);
 *   - decoding it gives back the message byte for byte, line ends
 *     normalized, with the Header right before the first empty line (or at
 *     the end when there is none).
 *
 * The relay (data_relay(), the streamed path: decoder and encoder in one
 * pass) is fed the input in random chunks with random output room (from
 * data_relay_room() up) and must write exactly what data_encode() makes of
 * the decoded message, stop where the decoder stops, and count as message
 * exactly the decoded bytes.
 */
#include "common.h"

#include "../src/data.h"
#include "../src/io.h"

static int file_fd = -1, sink_fd = -1;
static struct io enc_io;
static struct fz_buf bufs[8];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	file_fd = fz_memfd("fuzz-file");
	sink_fd = fz_memfd("fuzz-sink");
	return 0;
}

struct decoded {
	struct fz_buf *out;
	size_t	consumed;
	bool	done;
	bool	bare;
};

enum chunking { ONE_CHUNK, BYTEWISE, RANDOM };

static void
decode(const uint8_t *in, size_t n, enum chunking how, uint64_t seed,
    struct decoded *d)
{
	struct data_decoder dec;
	size_t pos = 0;
	/* Byte by byte, one exact buffer does for every call. */
	unsigned char *one = how == BYTEWISE ? malloc(DATA_DECODE_ROOM(1)) :
	    NULL;

	data_decoder_init(&dec);
	FZ_CHECK(!data_done(&dec), "decoder done before any input");
	fz_buf_reset(d->out);
	while (pos < n) {
		size_t c = how == ONE_CHUNK ? n - pos : how == BYTEWISE ? 1 :
		    fz_chunk(&seed);
		size_t room, used, olen = (size_t)-1;
		unsigned char *out;

		if (c > n - pos)
			c = n - pos;
		/* Exactly the room the header promises: ASan checks it. */
		room = DATA_DECODE_ROOM(c);
		out = one != NULL ? one : malloc(room);
		used = data_decode(&dec, in + pos, c, out, &olen);
		FZ_CHECK(used <= c, "consumed %zu of a %zu-byte chunk", used, c);
		FZ_CHECK(olen <= room, "output %zu > room %zu", olen, room);
		if (!data_done(&dec))
			FZ_CHECK(used == c, "decoder stopped (%zu of %zu) "
			    "without reaching the end", used, c);
		fz_buf_add(d->out, out, olen);
		if (out != one)
			free(out);
		pos += used;
		if (data_done(&dec))
			break;
	}
	free(one);
	d->consumed = pos;
	d->done = data_done(&dec);
	d->bare = dec.bare_newline;
	if (d->done) {
		/* It stops once: more input is neither taken nor output. */
		static const unsigned char more[] = ".\r\nMAIL FROM:<x>\r\n";
		unsigned char out[DATA_DECODE_ROOM(sizeof(more))];
		size_t olen = (size_t)-1;

		FZ_CHECK(data_decode(&dec, more, sizeof(more) - 1, out,
		    &olen) == 0 && olen == 0, "decoder went on after the end");
		FZ_CHECK(data_done(&dec), "decoder left the end state");
	}
}

/* Only CRLF line ends: every CR is followed by LF and every LF preceded. */
static bool
crlf_only(const unsigned char *p, size_t n, size_t *bad)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			break;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			break;
	}
	*bad = i;
	return i == n;
}

/* A bare CR or LF in p[0..n); a CR at the very end counts as undecided. */
static bool
has_bare(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
			return true;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return true;
	}
	return false;
}

/* Where the data ends by the spec: after the first CRLF.CRLF, or ".\r\n"
 * at the very start. 0 when it does not end. */
static size_t
spec_end(const unsigned char *p, size_t n)
{
	const unsigned char *e;

	if (n >= 3 && memcmp(p, ".\r\n", 3) == 0)
		return 3;
	e = memmem(p, n, "\r\n.\r\n", 5);
	return e == NULL ? 0 : (size_t)(e - p) + 5;
}

enum term { T_NONE, T_CRLF, T_CR, T_LF };

/*
 * The next line of p[0..n) from *pos: its length and what ended it. A CR
 * as the very last byte ends the line when cr_ends (the encoder at end of
 * file), else its meaning is still open (T_NONE, the decoder).
 */
static size_t
next_line(const unsigned char *p, size_t n, size_t *pos, enum term *t,
    bool cr_ends)
{
	size_t s = *pos, i;

	for (i = s; i < n; i++) {
		if (p[i] == '\r') {
			if (i + 1 < n && p[i + 1] == '\n') {
				*t = T_CRLF;
				*pos = i + 2;
			} else if (i + 1 < n || cr_ends) {
				*t = T_CR;
				*pos = i + 1;
			} else {
				*t = T_NONE;
				*pos = n;
			}
			return i - s;
		}
		if (p[i] == '\n') {
			*t = T_LF;
			*pos = i + 1;
			return i - s;
		}
	}
	*t = T_NONE;
	*pos = n;
	return n - s;
}

/*
 * The spec's decoder, line by line: lines end in CRLF, bare CR or bare LF
 * and all become CRLF; a "." line ends the data only when it and the line
 * before it end in CRLF; otherwise a leading dot is removed, except that a
 * lone "." line that does not end the data is content. Complete lines only;
 * returns true when the end was found.
 */
static bool
ref_decode(const unsigned char *p, size_t n, struct fz_buf *out)
{
	size_t pos = 0, len, start;
	enum term t, prev = T_CRLF;

	fz_buf_reset(out);
	while (pos < n) {
		start = pos;
		len = next_line(p, n, &pos, &t, false);
		if (t == T_NONE)
			break;
		if (len == 1 && p[start] == '.') {
			if (t == T_CRLF && prev == T_CRLF)
				return true;
			fz_buf_add(out, ".", 1);
		} else if (len > 0 && p[start] == '.') {
			fz_buf_add(out, p + start + 1, len - 1);
		} else {
			fz_buf_add(out, p + start, len);
		}
		fz_buf_add(out, "\r\n", 2);
		prev = t;
	}
	return false;
}

/* What data_encode must send, undotted: every line end (CRLF, bare CR,
 * bare LF) made CRLF, the last line completed, the header before the first
 * empty line or at the end. */
static void
ref_encode(const unsigned char *p, size_t n, const char *hdr,
    struct fz_buf *out)
{
	size_t pos = 0, len, start;
	enum term t;
	bool in_headers = true;

	fz_buf_reset(out);
	while (pos < n) {
		start = pos;
		len = next_line(p, n, &pos, &t, true);
		if (len == 0 && t != T_NONE && in_headers) {
			in_headers = false;
			if (hdr != NULL)
				fz_buf_add(out, hdr, strlen(hdr));
		}
		fz_buf_add(out, p + start, len);
		fz_buf_add(out, "\r\n", 2);
	}
	if (in_headers && hdr != NULL)
		fz_buf_add(out, hdr, strlen(hdr));
}

static void
encode(const unsigned char *msg, size_t n, const char *hdr,
    struct fz_buf *out)
{
	off_t sent = -1;
	int r;

	fz_memfd_set(file_fd, msg, n);
	fz_memfd_set(sink_fd, "", 0);
	io_init(&enc_io, -1, sink_fd, 1000);
	r = data_encode(file_fd, &enc_io, hdr, &sent);
	FZ_CHECK(r == IO_OK, "data_encode: %d", r);
	FZ_CHECK(io_flush(&enc_io) == IO_OK, "io_flush");
	FZ_CHECK(sent == (off_t)n, "sent %lld of %zu", (long long)sent, n);
	fz_memfd_get(sink_fd, out);
}

/* Encodes msg and checks the stream against the reference. */
static void
check_encoding(const unsigned char *msg, size_t n, const char *hdr,
    uint64_t seed, const char *what)
{
	struct fz_buf *enc = &bufs[4], *ref = &bufs[5];
	struct decoded d = { .out = &bufs[6] };
	size_t bad;

	encode(msg, n, hdr, enc);
	if (!crlf_only(enc->p, enc->len, &bad)) {
		fz_dump("message", msg, n);
		fz_dump("encoded", enc->p, enc->len);
		FZ_CHECK(0, "%s: bare CR or LF at %zu of the encoded stream",
		    what, bad);
	}
	FZ_CHECK(enc->len >= 3 && memcmp(enc->p + enc->len - 3, ".\r\n", 3)
	    == 0 && (enc->len == 3 || enc->p[enc->len - 4] == '\n'),
	    "%s: the stream does not end in a terminator", what);
	decode(enc->p, enc->len, RANDOM, seed, &d);
	if (!d.done || d.consumed != enc->len) {
		fz_dump("message", msg, n);
		fz_dump("header", hdr ? hdr : "", hdr ? strlen(hdr) : 0);
		fz_dump("encoded", enc->p, enc->len);
		FZ_CHECK(0, "%s: the encoded stream ends at %zu, not at its "
		    "last byte %zu (a second message could follow)", what,
		    d.done ? d.consumed : 0, enc->len);
	}
	FZ_CHECK(!d.bare, "%s: bare line end in the encoded stream", what);
	ref_encode(msg, n, hdr, ref);
	if (ref->len != d.out->len || memcmp(ref->p, d.out->p, ref->len)) {
		fz_dump("message", msg, n);
		fz_dump("header", hdr ? hdr : "", hdr ? strlen(hdr) : 0);
		fz_dump("expected", ref->p, ref->len);
		fz_dump("got", d.out->p, d.out->len);
		FZ_CHECK(0, "%s: round trip changed the message", what);
	}
}

/* The relay against decode-then-encode (d: the decoder's result). */
static void
check_relay(const uint8_t *in, size_t n, const char *hdr, uint64_t seed,
    const struct decoded *d)
{
	struct fz_buf *got = &bufs[7], *enc = &bufs[4];
	struct data_decoder dec;
	size_t pos = 0, msg = 0;

	data_relay_init(&dec, hdr);
	fz_buf_reset(got);
	while (pos < n && !data_done(&dec)) {
		size_t c = fz_chunk(&seed), need = data_relay_room(&dec);
		size_t room = need + fz_chunk(&seed) % 64, olen, mlen, used;
		unsigned char *out = malloc(room);

		if (c > n - pos)
			c = n - pos;
		used = data_relay(&dec, in + pos, c, out, room, &olen, &mlen);
		FZ_CHECK(used <= c && olen <= room && mlen <= olen,
		    "relay: used %zu of %zu, wrote %zu (%zu) in %zu", used, c,
		    olen, mlen, room);
		FZ_CHECK(used > 0 || olen > 0 || c == 0 || data_done(&dec),
		    "relay made no progress with room %zu", room);
		fz_buf_add(got, out, olen);
		free(out);
		pos += used;
		msg += mlen;
	}
	FZ_CHECK(data_done(&dec) == d->done && pos == d->consumed &&
	    dec.bare_newline == d->bare, "relay: done %d at %zu, decoder: "
	    "done %d at %zu", data_done(&dec), pos, d->done, d->consumed);
	FZ_CHECK(msg == d->out->len, "relay counted %zu message bytes, the "
	    "decoder output %zu", msg, d->out->len);
	if (!d->done)
		return;
	encode(d->out->p, d->out->len, hdr, enc);
	if (enc->len != got->len || memcmp(enc->p, got->p, enc->len) != 0) {
		fz_dump("input", in, n);
		fz_dump("header", hdr ? hdr : "", hdr ? strlen(hdr) : 0);
		fz_dump("encoded", enc->p, enc->len);
		fz_dump("relayed", got->p, got->len);
		FZ_CHECK(0, "relay differs from decode + encode");
	}
}

/* Header lines such as Header + header_expand() can produce. */
static const char *
pick_header(const uint8_t *data, size_t size, uint64_t h, char *buf,
    size_t buflen)
{
	static const char *const fixed[] = {
		"X-Filtered-By: proxsmtpd\r\n",
		"X-A: 1\r\n\tfolded\r\n",
		("Received: from [192.0.2.1] by 198.51.100.2;\r\n"
		"\tMon, 1 Jan 2024 00:00:00 +0000\r\n"),
	};
	static const char *const dotted[] = {
		"X-A: 1\r\n.\r\n",
		"X-A: 1\r\n.MAIL FROM:<x>\r\n",
	};
	size_t i, o;

	switch (h % 6) {
	case 0:
		return NULL;
	case 1:
		return "";
	case 2:
		return fixed[(h >> 8) % 3];
	case 3:
		/* A header made of the input's bytes, printable. */
		o = (size_t)snprintf(buf, buflen, "X-Fuzz: ");
		for (i = 0; i < size && i < 200 && o + 3 < buflen; i++)
			buf[o++] = data[i] >= 32 && data[i] < 127 ?
			    (char)data[i] : '?';
		buf[o++] = '\r';
		buf[o++] = '\n';
		buf[o] = '\0';
		return buf;
	case 4:
		return "X-Empty:\r\n";
	default:
		return dotted[(h >> 8) % 2];
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decoded one = { .out = &bufs[0] }, bytes = { .out = &bufs[1] },
	    rnd = { .out = &bufs[2] };
	struct fz_buf *ref = &bufs[3];
	uint64_t h = fz_hash(data, size);
	char hbuf[256];
	const char *hdr;
	size_t bad, end;
	bool ref_done;

	decode(data, size, ONE_CHUNK, h, &one);
	decode(data, size, RANDOM, h, &rnd);
	if (size <= 8192)
		decode(data, size, BYTEWISE, h, &bytes);
	else
		bytes = one;

	/* Chunk boundaries change nothing. */
	FZ_CHECK(one.consumed == rnd.consumed && one.done == rnd.done &&
	    one.bare == rnd.bare && one.out->len == rnd.out->len &&
	    memcmp(one.out->p, rnd.out->p, one.out->len) == 0,
	    "random chunking changed the result");
	FZ_CHECK(one.consumed == bytes.consumed && one.done == bytes.done &&
	    one.bare == bytes.bare && one.out->len == bytes.out->len &&
	    memcmp(one.out->p, bytes.out->p, one.out->len) == 0,
	    "byte-by-byte decoding changed the result");

	/* It ends where the spec says, and only there. */
	end = spec_end(data, size);
	if (end == 0 ? one.done : !one.done || one.consumed != end) {
		fz_dump("input", data, size);
		FZ_CHECK(0, "decoder ended at %zu (done %d), the spec says %zu",
		    one.consumed, one.done, end);
	}
	FZ_CHECK(one.done || one.consumed == size, "not done, not all taken");

	/* CRLF only, and bare line ends are noticed. */
	if (!crlf_only(one.out->p, one.out->len, &bad)) {
		/* Not done: the last CR may still be waiting for its LF,
		 * but the decoder never outputs one before knowing. */
		fz_dump("input", data, size);
		FZ_CHECK(0, "bare CR or LF at %zu of the decoded output", bad);
	}
	FZ_CHECK(one.bare == has_bare(data, one.consumed),
	    "bare_newline is %d for input that %s a bare CR or LF", one.bare,
	    one.bare ? "lacks" : "has");

	/* The reference decoder agrees on complete lines. */
	ref_done = ref_decode(data, one.consumed, ref);
	FZ_CHECK(ref_done == one.done, "reference decoder done=%d", ref_done);
	if (one.done ? ref->len != one.out->len : ref->len > one.out->len ||
	    memcmp(ref->p, one.out->p, ref->len) != 0) {
		fz_dump("input", data, size);
		fz_dump("expected", ref->p, ref->len);
		fz_dump("got", one.out->p, one.out->len);
		FZ_CHECK(0, "decoded message differs from the reference");
	}
	if (one.done)
		FZ_CHECK(memcmp(ref->p, one.out->p, ref->len) == 0,
		    "decoded message differs from the reference");
	else
		FZ_CHECK(memchr(one.out->p + ref->len, '\n', one.out->len -
		    ref->len) == NULL, "partial line holds a line end");

	/* Encode what was decoded (the spool), and the raw input (what a
	 * filter may write), with and without a header. */
	hdr = pick_header(data, size, h >> 3, hbuf, sizeof(hbuf));
	check_relay(data, size, NULL, h, &one);
	check_relay(data, size, hdr, h >> 7, &one);
	if (one.done) {
		check_encoding(one.out->p, one.out->len, NULL, h, "spool");
		check_encoding(one.out->p, one.out->len, hdr, h, "spool+hdr");
	}
	check_encoding(data, size, NULL, h, "raw");
	check_encoding(data, size, hdr, h, "raw+hdr");
	return 0;
}
