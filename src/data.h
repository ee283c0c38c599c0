/*
 * data.h - the message body on the wire and on disk.
 *
 * The decoder turns what the client sends after DATA into the message
 * itself: dot-stuffing removed, every line ending in CRLF. Only CRLF.CRLF
 * ends the data; a bare CR or bare LF is a line end in the spooled copy and
 * is remembered (BareNewline decides whether that is acceptable), but a "."
 * line after one never ends the message.
 *
 * The encoder turns any file (our spool, or whatever a filter wrote) into
 * canonical SMTP data: CRLF line ends, dot-stuffed, one terminator, with an
 * optional header inserted at the end of the header block. For one BDAT
 * chunk (RFC 3030) it writes the same without dot-stuffing and terminator,
 * or, for a BODY=BINARYMIME message, the bytes as they are with only the
 * header inserted; its byte count is measured first, since it goes before
 * the bytes.
 */
#ifndef PROXSMTPD_DATA_H
#define PROXSMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "io.h"

enum data_state {
	D_BOL,		/* after CRLF, or at the start */
	D_BOL_LOOSE,	/* after a bare CR or LF */
	D_DOT,		/* "." at D_BOL */
	D_DOT_CR,	/* ".\r" at D_BOL */
	D_DOT_LOOSE,	/* "." at D_BOL_LOOSE */
	D_MID,		/* inside a line */
	D_CR,		/* CR inside a line */
	D_END,		/* CRLF.CRLF seen */
};

struct data_decoder {
	enum data_state state;
	bool	bare_newline;	/* a bare CR or LF was seen */
	bool	out_bol;	/* the output is at the start of a line */
	/* Relay mode (data_relay_init): the output is what goes upstream,
	 * dot-stuffed again, the header before the first empty line, the
	 * terminator at the end; the data_encoder's work in the same pass. */
	bool	relay;
	bool	in_headers;	/* relay: no empty line output yet */
	const char *header;
	size_t	header_room;	/* its length once stuffed */
};

void	data_decoder_init(struct data_decoder *);
/*
 * Decodes up to inlen bytes of in, appending output to out (room for
 * DATA_DECODE_ROOM(inlen) bytes). Stops at the end of data. Returns the
 * number of input bytes consumed; *outlen is set.
 */
#define DATA_DECODE_ROOM(n) (3 * (n) + 8)
size_t	data_decode(struct data_decoder *, const unsigned char *in,
	    size_t inlen, unsigned char *out, size_t *outlen);
bool	data_done(const struct data_decoder *);
/*
 * Relay mode: a streamed message decoded straight into the upstream's
 * queue, with no copy between (what data_encode_chunk() and
 * data_encode_end() would make of the decoder's output, byte for byte).
 * header as for data_encoder_init(). data_relay() decodes up to inlen
 * bytes of in into out (room bytes, at least data_relay_room()), stopping
 * at the end of data (the terminator written) or when room runs short.
 * Returns the input bytes consumed; *outlen the bytes written, *msglen
 * those of them that are the message (no stuffing, header, terminator).
 */
void	data_relay_init(struct data_decoder *, const char *header);
size_t	data_relay_room(const struct data_decoder *);
size_t	data_relay(struct data_decoder *, const unsigned char *in,
	    size_t inlen, unsigned char *out, size_t room, size_t *outlen,
	    size_t *msglen);

enum enc_state {
	E_BOL,
	E_MID,
	E_CR,
};

/* The three ways a message goes upstream. */
enum enc_mode {
	ENC_DATA,	/* after DATA: CRLF, dot-stuffed, ".\r\n" at the end */
	ENC_CHUNK,	/* one BDAT chunk: CRLF, nothing stuffed, no terminator */
	ENC_BINARY,	/* BDAT, BODY=BINARYMIME: the bytes as they are */
};

struct data_encoder {
	enum enc_state state;
	enum enc_mode mode;
	bool	in_headers;
	const char *header;
	/* Bytes written so far (a NULL io only counts them). */
	unsigned long long total;
	/* If not 0, exactly this many bytes may be written (a BDAT count
	 * already sent): one more is an error, and the last one is held
	 * back until data_encode_end() finds the total right, so that no
	 * chunk is ever complete with the wrong bytes in it. */
	unsigned long long cap;
	unsigned char held;
	size_t	o;
	unsigned char out[IO_BUFSIZE];
};

/*
 * The encoder a piece at a time, for a message that is sent as it arrives:
 * init, any number of chunks (canonical or not), then end, which completes
 * the last line, inserts the header if no empty line came, and sends the
 * terminator.
 */
void	data_encoder_init(struct data_encoder *, const char *header);
/* After init: another mode than ENC_DATA, and the cap (0: none). */
void	data_encoder_mode(struct data_encoder *, enum enc_mode,
	    unsigned long long cap);
int	data_encode_chunk(struct data_encoder *, struct io *,
	    const unsigned char *in, size_t n);
int	data_encode_end(struct data_encoder *, struct io *);
/*
 * Sends the file fd (from its start) to io as SMTP data, then ".\r\n".
 * header (may be NULL/empty) ends in CRLF and goes before the first empty
 * line, or at the end when there is none. Returns IO_OK or an IO_* status;
 * read errors return IO_ERROR with errno. *sent counts message bytes.
 */
int	data_encode(int fd, struct io *, const char *header, off_t *sent);
/*
 * data_encode() in any mode, with a cap (see struct data_encoder). A NULL
 * io writes nothing and only counts. *total: the bytes written (counted).
 */
int	data_encode_as(int fd, struct io *, const char *header, enum enc_mode,
	    unsigned long long cap, unsigned long long *total);

#endif
