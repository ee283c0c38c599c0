/*
 * reply.c - SMTP replies.
 *
 * An upstream reply is accepted only if every line is "NNN", then '-' (more
 * lines follow) or ' ' or nothing (last line), all with the same code, the
 * first digit 2 to 5. Text is made printable before anyone relays it.
 */
#include "reply.h"
#include "ascii.h"
#include "fmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool
is_code(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]);
}

static void
copy_printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	if (n >= dstlen)
		n = dstlen - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 32 && c != '\t') || c >= 127 ? '?' : (char)c;
	}
	dst[n] = '\0';
}

int
reply_read(struct io *io, struct reply *r)
{
	char line[REPLY_LINE_MAX + 8];
	size_t len;
	bool bare;
	int code, status;

	r->nlines = 0;
	r->code = 0;
	for (;;) {
		status = io_getline(io, line, sizeof(line), &len, &bare);
		if (status == IO_TOOLONG)
			return REPLY_BAD;
		if (status != IO_OK)
			return status;
		if (len < 3 || !is_code(line) ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			return REPLY_BAD;
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (r->nlines > 0 && code != r->code)
			return REPLY_BAD;
		if (r->nlines == REPLY_LINES_MAX)
			return REPLY_BAD;
		r->code = code;
		copy_printable(r->text[r->nlines], REPLY_LINE_MAX,
		    len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
		r->nlines++;
		if (len == 3 || line[3] == ' ')
			return IO_OK;
	}
}

int
reply_write(struct io *io, const struct reply *r)
{
	char line[REPLY_LINE_MAX + 16];
	int i, n, status;

	for (i = 0; i < r->nlines; i++) {
		n = fmt(line, sizeof(line), "%03d%c%s\r\n", r->code,
		    i + 1 < r->nlines ? '-' : ' ', r->text[i]);
		if (n >= (int)sizeof(line))
			n = (int)sizeof(line) - 1;
		if ((status = io_write(io, line, (size_t)n)) != IO_OK)
			return status;
	}
	return IO_OK;
}

void
reply_set(struct reply *r, int code, const char *text)
{
	r->code = code;
	r->nlines = 1;
	copy_printable(r->text[0], REPLY_LINE_MAX, text, strlen(text));
}

void
reply_summary(const struct reply *r, char *buf, size_t len)
{
	fmt(buf, len, "%03d %s", r->code, r->nlines > 0 ? r->text[0] : "");
}

int
reply_find_keyword(const struct reply *r, const char *keyword)
{
	size_t klen = strlen(keyword);
	int i;

	/* Line 0 is the greeting line of an EHLO reply, not a keyword. */
	for (i = 1; i < r->nlines; i++) {
		const char *t = r->text[i];

		if (ascii_ncasecmp(t, keyword, klen) == 0 &&
		    (t[klen] == '\0' || t[klen] == ' ' || t[klen] == '='))
			return i;
	}
	return -1;
}

void
reply_remove_line(struct reply *r, int index)
{
	int i;

	for (i = index; i + 1 < r->nlines; i++)
		memcpy(r->text[i], r->text[i + 1], REPLY_LINE_MAX);
	r->nlines--;
}

int
reply_parse_verdict(const char *line, const char *def, char *out,
    size_t outlen)
{
	char clean[REPLY_LINE_MAX];
	const char *p;
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	n = strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	copy_printable(clean, sizeof(clean), line, n);
	if (clean[0] == '\0')
		return reply_parse_verdict(def, "550 5.7.1 Message rejected",
		    out, outlen);
	p = clean;
	if (is_code(p) && (p[3] == '\0' || p[3] == ' ' || p[3] == '-')) {
		int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 +
		    (p[2] - '0');

		/* Only a rejection or a drop is a verdict; "354 ..." is text. */
		if (code == 250 || p[0] == '4' || p[0] == '5') {
			const char *text = p[3] ? p + 4 : "";

			while (*text == ' ')
				text++;
			if (*text == '\0')
				text = code == 250 ? "2.0.0 Ok" :
				    p[0] == '4' ? "4.7.1 Message rejected" :
				    "5.7.1 Message rejected";
			fmt(out, outlen, "%03d %s", code, text);
			return code;
		}
	}
	fmt(out, outlen, "550 %s", clean);
	return 550;
}
