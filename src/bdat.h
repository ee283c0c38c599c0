/*
 * bdat.h - CHUNKING (RFC 3030): the BDAT command and its chunks.
 *
 * "BDAT n [LAST]" is followed by exactly n bytes of message, with nothing
 * in them that ends or escapes anything: the count alone says where the
 * chunk ends. So a chunk is read by its count, whatever its bytes, through
 * a fixed buffer, and a count that cannot be read ends the session (the
 * bytes after it could not be told from commands).
 *
 * What is spooled is the message as the filter contract has it (the same
 * as after DATA): the chunks' bytes one after the other, line ends CRLF. A
 * text body's bare CR or LF becomes CRLF and is remembered (BareNewline
 * decides whether that is acceptable); a BODY=BINARYMIME body is spooled
 * byte for byte. Nothing is dot-stuffed or unstuffed: chunks have no dots.
 */
#ifndef PROXSMTPD_BDAT_H
#define PROXSMTPD_BDAT_H

#include <stdbool.h>

#include "io.h"
#include "spool.h"

#define BDAT_SIZE_DIGITS 20	/* a count of more cannot be a real one */

/* The message being assembled from chunks. */
struct bdat_body {
	bool	binary;		/* BODY=BINARYMIME: spooled as it comes */
	bool	cr;		/* text: the last byte was a CR, its line end
				 * decided by the next byte */
	bool	bare_newline;	/* text: a bare CR or LF was seen */
	/* Bytes of the message as spooled, also those past the limit,
	 * which are counted and not spooled. */
	unsigned long long size;
	unsigned chunks;
};

/*
 * Parses BDAT's arguments: a count of 1 to BDAT_SIZE_DIGITS digits, then
 * optionally LAST (any case), blanks between and after. Returns 0, or -1
 * when they are not that (nothing can be read then).
 */
int	bdat_parse(const char *args, unsigned long long *n, bool *last);
void	bdat_body_init(struct bdat_body *, bool binary);
/*
 * Reads exactly n chunk bytes from io, through a fixed buffer. With a
 * spool, they are added to the message, which is spooled up to limit bytes
 * (0: no limit) and only counted past it; without one, they are read and
 * thrown away. Returns IO_OK, or the status of a client that went.
 */
int	bdat_receive(struct io *, unsigned long long n, struct bdat_body *,
	    struct spool *, unsigned long long limit);
/* After the LAST chunk: a CR left at the end is a (bare) line end. */
void	bdat_body_end(struct bdat_body *, struct spool *,
	    unsigned long long limit);

#endif
