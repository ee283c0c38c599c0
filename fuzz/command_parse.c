/*
 * fuzz/command_parse.c - the command-line helpers of src/session.c (static,
 * so session.c is #included here), the codecs of src/xtext.c and
 * src/header.c, and io_getline() of src/io.c.
 *
 * The input is a client command line and, repeated, a client stream:
 *
 *   - line_is_clean() refuses exactly the lines with control bytes (TAB
 *     aside) and DEL;
 *   - of a clean line split as handle_command() does, esmtp_parse() (FROM:
 *     and TO:, any output size, exact buffers) returns a NUL-terminated
 *     piece of the arguments without TAB, empty only for "<>" after FROM:,
 *     and parameters that lie in the line, with valid keywords and
 *     values, or a reason;
 *   - the XFORWARD attributes decoded as cmd_xforward() does it with
 *     xtext_decode() fit and hold no control byte but TAB; xtext_encode()
 *     gives xtext (RFC 3461) that decodes back to the same text;
 *   - header_expand() of the input as a Header setting gives lines that
 *     end in CRLF only, no bare CR or LF, NUL-terminated;
 *   - io_getline() over the stream (read in random chunks) returns every
 *     line shorter than its limit exactly, with the right "bare" flag, and
 *     IO_TOOLONG for the others, whatever the limit.
 */
#include "common.h"

#include <ctype.h>
#include <setjmp.h>

static jmp_buf exit_jmp;

/* session.c's exits (die(), finish()) come back here instead. */
__attribute__((noreturn)) static void
fz_exit(int status)
{
	(void)status;
	longjmp(exit_jmp, 1);
}

#define exit(status) fz_exit(status)
#include "../src/session.c"
#undef exit

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct session sess;
static struct config cfg;
static struct logger lg;
static struct io gio;
static int stream_fd = -1;
static struct fz_buf stream;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stream_fd = fz_memfd("fuzz-client");
	config_defaults(&cfg);
	memset(&lg, 0, sizeof(lg));
	lg.target = LOG_TO_STDERR;
	lg.level = -1;			/* silent */
	sess.cfg = &cfg;
	sess.log = &lg;
	snprintf(sess.hostname, sizeof(sess.hostname), "proxy.example");
	/* The longest addresses text can hold. */
	snprintf(sess.ep.client_ip, sizeof(sess.ep.client_ip),
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	snprintf(sess.ep.local_ip, sizeof(sess.ep.local_ip),
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	return 0;
}

static bool
ref_clean(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((p[i] < 32 && p[i] != '\t') || p[i] == 127)
			return false;
	return true;
}

/* Inside args: a pointer the parser handed out. */
static bool
within(const char *args, const char *p, size_t n)
{
	return p >= args && p + n <= args + strlen(args);
}

static void
check_path(const char *args, const char *kw, size_t outlen)
{
	char *out = malloc(outlen);
	struct esmtp_args a;
	const char *bad;
	unsigned i, j;

	memset(out, 'Z', outlen);
	bad = esmtp_parse(args, kw, strcmp(kw, "FROM:") == 0, out, outlen, &a);
	FZ_CHECK(strnlen(out, outlen) < outlen, "esmtp_parse: not terminated");
	if (bad == NULL) {
		size_t len = strlen(out);

		FZ_CHECK(len == a.addrlen, "esmtp_parse: addrlen %zu, not %zu",
		    a.addrlen, len);
		FZ_CHECK(strncasecmp(args, kw, strlen(kw)) == 0,
		    "esmtp_parse accepted without %s", kw);
		FZ_CHECK(len == 0 || memmem(args, strlen(args), out, len),
		    "esmtp_parse made up an address");
		/* Only the null sender is empty, and only "<>". */
		FZ_CHECK(len > 0 || (strcmp(kw, "FROM:") == 0 &&
		    strstr(args, "<>") != NULL), "empty path accepted for %s",
		    kw);
		FZ_CHECK(strchr(out, '\t') == NULL, "esmtp_parse: TAB in %s",
		    kw);
		FZ_CHECK(a.nparams <= ESMTP_PARAMS_MAX, "too many params");
		for (i = 0; i < a.nparams; i++) {
			const struct esmtp_param *pm = &a.params[i];

			FZ_CHECK(within(args, pm->key, pm->klen) && pm->klen > 0,
			    "param %u key outside the line", i);
			for (j = 0; j < pm->klen; j++)
				FZ_CHECK(isalnum((unsigned char)pm->key[j]) ||
				    (j > 0 && pm->key[j] == '-'),
				    "param %u: bad keyword byte", i);
			if (pm->value == NULL)
				continue;
			FZ_CHECK(within(args, pm->value, pm->vlen) &&
			    pm->vlen > 0, "param %u value outside", i);
			for (j = 0; j < pm->vlen; j++)
				FZ_CHECK(pm->value[j] > 32 && pm->value[j] < 127 &&
				    pm->value[j] != '=', "param %u: bad value "
				    "byte", i);
		}
		/* The lookup finds the first of each keyword. */
		for (i = 0; i < a.nparams; i++) {
			char key[64];

			if (a.params[i].klen >= sizeof(key))
				continue;
			memcpy(key, a.params[i].key, a.params[i].klen);
			key[a.params[i].klen] = '\0';
			FZ_CHECK(esmtp_param(&a, key) != NULL &&
			    esmtp_param(&a, key) <= &a.params[i],
			    "esmtp_param lost %s", key);
		}
	} else {
		FZ_CHECK(bad[0] != '\0', "empty reason");
	}
	free(out);
}

/* No control byte but TAB (a line that got here was clean). */
static void
check_value(const char *v, size_t size)
{
	size_t len = strnlen(v, size);

	FZ_CHECK(len < size, "value not terminated");
	FZ_CHECK(ref_clean((const uint8_t *)v, len), "control byte in value");
}

/* XFORWARD's attributes as cmd_xforward() reads them, without the
 * upstream: the values are terminated and clean. */
static void
xforward_args(const char *args)
{
	char remote[PATH_ADDR_MAX], helo[PATH_ADDR_MAX];

	xforward_parse(args, remote, helo, sizeof(remote));
	check_value(remote, sizeof(remote));
	check_value(helo, sizeof(helo));
}

static void
xtext_roundtrip(const char *text, size_t outlen)
{
	char *enc = malloc(outlen), dec[CMD_LINE_MAX * 3 + 8];
	size_t i, len = strlen(text);

	xtext_encode(text, enc, outlen);
	FZ_CHECK(memchr(enc, '\0', outlen) != NULL, "xtext_encode: no NUL");
	for (i = 0; enc[i] != '\0'; i++) {
		unsigned char c = (unsigned char)enc[i];

		FZ_CHECK(c >= 33 && c <= 126 && c != '=', "xtext byte %02x", c);
		if (c == '+')
			FZ_CHECK(isxdigit((unsigned char)enc[i + 1]) &&
			    isxdigit((unsigned char)enc[i + 2]),
			    "xtext: '+' without two hex digits");
	}
	if (len * 3 + 5 <= outlen) {
		xtext_decode(enc, strlen(enc), dec, sizeof(dec));
		/* Control bytes come back as '?': the line had none but TAB. */
		for (i = 0; i < len; i++)
			FZ_CHECK(dec[i] == text[i] || (text[i] == '\t' &&
			    dec[i] == '?'), "xtext round trip differs at %zu",
			    i);
		FZ_CHECK(dec[len] == '\0', "xtext round trip longer");
	}
	free(enc);
}

static void
header(const uint8_t *data, size_t size)
{
	char out[CONFIG_VALUE_MAX * 2];
	size_t i, n = size < CONFIG_VALUE_MAX - 1 ? size : CONFIG_VALUE_MAX - 1;
	size_t len;

	/* What config.c can store: any byte but NUL, at most 1023. */
	for (i = 0; i < n; i++)
		cfg.header[i] = data[i] ? (char)data[i] : ' ';
	cfg.header[n] = '\0';
	memset(out, 'Z', sizeof(out));
	header_expand(cfg.header, sess.ep.client_ip, sess.ep.local_ip, "none", out,
	    sizeof(out));
	len = strnlen(out, sizeof(out));
	FZ_CHECK(len < sizeof(out), "header_expand: not terminated");
	for (i = 0; i < len; i++) {
		FZ_CHECK(out[i] != '\r' || (i + 1 < len && out[i + 1] == '\n'),
		    "header_expand: bare CR at %zu", i);
		FZ_CHECK(out[i] != '\n' || (i > 0 && out[i - 1] == '\r'),
		    "header_expand: bare LF at %zu", i);
	}
	FZ_CHECK(len == 0 || (len >= 2 && out[len - 1] == '\n'),
	    "header_expand: %zu bytes not ending in CRLF", len);
	/* A line starting with '.' is fine here: the encoder stuffs it
	 * (data_roundtrip checks that with every Header variant). */
}

/* io_getline() against the lines of the stream, with limit max. */
static void
getline_stream(const unsigned char *p, size_t n, size_t max, uint64_t seed)
{
	char *line = malloc(max + 1);
	size_t pos = 0, len;
	bool bare;
	int r;

	(void)seed;
	fz_memfd_set(stream_fd, p, n);
	io_init(&gio, stream_fd, -1, 1000);
	for (;;) {
		const unsigned char *lf = pos < n ? memchr(p + pos, '\n',
		    n - pos) : NULL;
		size_t ln = lf ? (size_t)(lf - (p + pos)) : 0;

		len = (size_t)-1;
		r = io_getline(&gio, line, max, &len, &bare);
		if (lf == NULL) {
			/* The last line has no LF: it is never returned. */
			FZ_CHECK(r == IO_EOF, "io_getline: %d at the end", r);
			break;
		}
		if (ln >= max) {
			FZ_CHECK(r == IO_TOOLONG, "io_getline: %d for a "
			    "%zu-byte line, limit %zu", r, ln, max);
		} else {
			bool want_bare = !(ln > 0 && p[pos + ln - 1] == '\r');
			size_t want = want_bare ? ln : ln - 1;

			if (r != IO_OK)
				fz_dump("line", p + pos, ln);
			FZ_CHECK(r == IO_OK, "io_getline: %d for a %zu-byte "
			    "line at %zu, limit %zu", r, ln, pos, max);
			FZ_CHECK(len == want && bare == want_bare &&
			    memcmp(line, p + pos, want) == 0 &&
			    line[want] == '\0', "io_getline: wrong line");
		}
		pos += ln + 1;
	}
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = fz_hash(data, size);
	char *line;
	const char *args;
	size_t vlen, stop, max;

	if (setjmp(exit_jmp) != 0)
		FZ_CHECK(0, "a helper ended the session");

	/* A command line as io_getline() hands it over. */
	stop = size;
	if (memchr(data, '\n', size))
		stop = (size_t)((const uint8_t *)memchr(data, '\n', size) -
		    data);
	if (stop > CMD_LINE_MAX - 1)
		stop = CMD_LINE_MAX - 1;
	line = malloc(stop + 1);
	memcpy(line, data, stop);
	line[stop] = '\0';
	FZ_CHECK(line_is_clean(line, stop) == ref_clean(data, stop),
	    "line_is_clean is wrong");
	if (line_is_clean(line, stop)) {
		vlen = strcspn(line, " \t");
		args = line + vlen;
		args += strspn(args, " \t");
		check_path(args, "FROM:", PATH_ADDR_MAX);
		check_path(args, "TO:", PATH_ADDR_MAX);
		check_path(args, "FROM:", 1 + (size_t)(fz_rand(&seed) % 64));
		check_path(args, "TO:", 1 + (size_t)(fz_rand(&seed) % 64));
		xforward_args(args);
		xtext_roundtrip(line, PATH_ADDR_MAX * 3);
		xtext_roundtrip(line, 5 + (size_t)(fz_rand(&seed) % 64));
	}
	free(line);

	header(data, size);

	/* The input as a client stream. */
	fz_buf_reset(&stream);
	fz_buf_add(&stream, data, size);
	/* Past the 64 KiB read buffer: lines straddle its end. */
	while (size > 0 && stream.len < IO_BUFSIZE + 4096)
		fz_buf_add(&stream, data, size);
	max = (fz_rand(&seed) & 1) ? CMD_LINE_MAX :
	    1 + (size_t)(fz_rand(&seed) % 300);
	getline_stream(stream.p, stream.len, max, seed);
	return 0;
}
