/*
 * reply.h - SMTP replies: reading and checking the upstream's, writing them
 * to the client, and reading a verdict from a filter's last stderr line.
 */
#ifndef PROXSMTPD_REPLY_H
#define PROXSMTPD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

#define REPLY_LINE_MAX 1024	/* RFC 5321 says 512; be liberal */
#define REPLY_LINES_MAX 64
#define REPLY_BAD -10		/* upstream sent something that is no reply */

struct reply {
	int	code;
	int	nlines;
	/* Each line's text after "NNN" and its separator, printable only. */
	char	text[REPLY_LINES_MAX][REPLY_LINE_MAX];
};

/* Reads one (multi-line) reply; IO_* status, or REPLY_BAD. */
int	reply_read(struct io *, struct reply *);
/* Queues the reply on io with correct separators. */
int	reply_write(struct io *, const struct reply *);
/* Builds a one-line reply "NNN text". */
void	reply_set(struct reply *, int code, const char *text);
/* The first line as "NNN text" for logs. */
void	reply_summary(const struct reply *, char *buf, size_t len);
/* Finds an EHLO keyword (case-insensitive); returns the line or -1. */
int	reply_find_keyword(const struct reply *, const char *keyword);
void	reply_remove_line(struct reply *, int index);

/*
 * Parses a verdict line such as a filter's last stderr line or FilterReject:
 * "550 5.7.1 text" is kept; plain text gets "550 " in front; an empty line
 * gets def. Control bytes are replaced. Returns the code.
 */
int	reply_parse_verdict(const char *line, const char *def, char *out,
	    size_t outlen);

#endif
