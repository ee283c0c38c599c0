/*
 * fuzz/session_relay.c - a whole session through session_run(), between a
 * client script and a fake upstream server, with the invariants of the
 * spec checked on both sides.
 *
 * src/session.c and src/io.c are #included: session.c's exit() comes back
 * here by longjmp, and io.c's read()/write() on the upstream fd go to an
 * in-process fake server (the fd itself is /dev/null, so ppoll() is always
 * ready); reads of the client memfd come in random chunk sizes.
 *
 * Input: FLAGS CLIENT-BYTES [SEPARATOR UPSTREAM-REPLIES]
 *   FLAGS, one byte: 0x01 XClient on, 0x06 Header (none, plain, with %d and
 *   a folded line, empty field), 0x08 BareNewline reject, 0x10 FilterType
 *   reject, 0x20 FilterReject "250 ..." instead of 530, 0x40 Skip
 *   authenticated, 0x80 the upstream closes once its script is used up.
 *   SEPARATOR is "\n~~UPSTREAM~~\n". The replies are used one per command
 *   (greeting first), a reply being lines up to one without '-' after the
 *   code; when they run out the fake answers like a normal server (EHLO
 *   offers PIPELINING, STARTTLS, XCLIENT, AUTH, CHUNKING, BINARYMIME...;
 *   DATA 354; AUTH 334; BDAT reads its count of bytes, then answers).
 *   No FilterCommand: the filter runner is not fuzzed here. A quarter of
 *   the inputs (by hash) run with MaxMessageSize 1 to 512.
 *
 * Invariants:
 *   - the client gets well-formed replies only (fz_check_replies);
 *   - the upstream gets CRLF lines only, commands without control bytes,
 *     messages dot-stuffed with their terminator; the proxy never waits
 *     for a reply while a command or a message is unfinished;
 *   - BDAT upstream: "BDAT n LAST" only (one chunk), exactly n bytes; a
 *     text message (no BODY=BINARYMIME) in CRLF lines, ending in CRLF;
 *     the proxy never waits for a reply inside a chunk;
 *   - no smuggling: the upstream never sees more messages than the client
 *     was given 354s plus the BDAT messages the proxy logged (nor DATA
 *     commands, where the message is spooled; a streamed message asks the
 *     upstream's DATA before the 354);
 *   - every message the proxy logs as forwarded with a 2xx was taken by
 *     the upstream with a 2xx (log_message() is caught for this);
 *   - the client gets 2xx to an end of data only if the upstream gave 2xx
 *     to a message, or FilterType reject's FilterReject is a 250 (drop);
 *   - the session ends through exit with 0, 1 or 111; no fd is leaked, no
 *     spool file is left.
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "../src/io.h"
#include "../src/session.h"
#include "../src/sig.h"

static struct session sess;

static ssize_t fz_read(int fd, void *buf, size_t n);
static ssize_t fz_write(int fd, const void *buf, size_t n);

#define read(fd, buf, n) fz_read(fd, buf, n)
#define write(fd, buf, n) fz_write(fd, buf, n)
#include "../src/io.c"
#undef read
#undef write

static jmp_buf exit_jmp;
static volatile int exit_status;

__attribute__((noreturn)) static void
fz_exit(int status)
{
	exit_status = status;
	longjmp(exit_jmp, 1);
}

#include "../src/log.h"

/* What the proxy logged of each message (see fz_log_message()). */
static struct {
	unsigned messages, bdat, forwarded_2xx, dropped;
} lv;

static void fz_log_message(struct logger *, const struct log_message *);

#define exit(status) fz_exit(status)
#define log_message(lg, m) fz_log_message(lg, m)
#include "../src/session.c"
#undef log_message
#undef exit

static void
fz_log_message(struct logger *l, const struct log_message *m)
{
	(void)l;
	lv.messages++;
	lv.bdat += sess.tx.bdat;
	if (strcmp(m->outcome, "forwarded") == 0 && m->reply[0] == '2')
		lv.forwarded_2xx++;
	if (strcmp(m->outcome, "dropped") == 0)
		lv.dropped++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n~~UPSTREAM~~\n"

/* ---- the fake upstream server ---------------------------------------- */

enum fmode { F_CMD, F_DATA, F_AUTH, F_CHUNK };

static struct fake {
	int	fd;		/* /dev/null: always ready to poll */
	const uint8_t *script;
	size_t	slen, spos;
	bool	close_at_end;
	bool	closed;		/* reads give EOF once pending is sent */
	struct fz_buf pending;
	size_t	ppos;
	struct fz_buf line;	/* command or data line being received */
	enum fmode mode;
	size_t	data_bytes;	/* received since the 354 */
	bool	binary;		/* the transaction's MAIL said BINARYMIME */
	unsigned long long chunk_left;	/* BDAT bytes still to come */
	unsigned char chunk_prev;	/* the chunk's last byte so far */
	uint64_t seed;		/* read chunk sizes */
	/* What it saw. */
	unsigned commands, data_cmds, messages, messages_2xx;
} fk;

static int client_fd = -1, client_out_fd = -1, null_probe = -1;
static char spool_dir[PATH_MAX];
static uint64_t client_seed;
static struct config cfg;
static struct logger lg;
static struct fz_buf client_out;

/* The next scripted reply, or NULL when the script is used up. */
static const uint8_t *
script_reply(size_t *len, int *code)
{
	const uint8_t *start, *p, *lf;

	if (fk.spos >= fk.slen)
		return NULL;
	start = p = fk.script + fk.spos;
	for (;;) {
		size_t left = fk.slen - (size_t)(p - fk.script);

		lf = memchr(p, '\n', left);
		if (lf == NULL) {
			p += left;
			break;
		}
		if (!((size_t)(lf - p) >= 4 && p[3] == '-')) {
			p = lf + 1;
			break;
		}
		p = lf + 1;
	}
	*len = (size_t)(p - start);
	fk.spos += *len;
	*code = *len >= 3 && start[0] >= '0' && start[0] <= '9' &&
	    start[1] >= '0' && start[1] <= '9' && start[2] >= '0' &&
	    start[2] <= '9' ? (start[0] - '0') * 100 + (start[1] - '0') * 10 +
	    (start[2] - '0') : -1;
	return start;
}

/* Answers: the script first, then what a normal server says. */
static int
respond(const char *dflt)
{
	const uint8_t *r;
	size_t len;
	int code;

	r = script_reply(&len, &code);
	if (r != NULL) {
		fz_buf_add(&fk.pending, r, len);
		return code;
	}
	if (fk.close_at_end) {
		fk.closed = true;
		return -1;
	}
	fz_buf_add(&fk.pending, dflt, strlen(dflt));
	return atoi(dflt);
}

static void fake_chunk_end(void);

/* "BDAT n LAST" from the proxy: the only form it sends. */
static void
fake_bdat(const char *args)
{
	unsigned long long n;
	bool last;

	FZ_CHECK(bdat_parse(args, &n, &last) == 0 && last,
	    "upstream got BDAT%s: not one chunk with LAST", args);
	fk.data_cmds++;
	fk.chunk_left = n;
	fk.chunk_prev = '\n';
	fk.mode = F_CHUNK;
	fk.data_bytes = 0;
	if (n == 0)
		fake_chunk_end();
}

static void
fake_command(const char *l, size_t len)
{
	char verb[16];
	const char *word;
	size_t vlen;
	int code;

	/* AUTH answers too: they reach the upstream as lines of their own. */
	for (size_t i = 0; i < len; i++)
		FZ_CHECK(((unsigned char)l[i] >= 32 || l[i] == '\t') &&
		    l[i] != 127, "upstream got a control byte %02x in a "
		    "command", (unsigned char)l[i]);
	fk.commands++;
	if (fk.mode == F_AUTH) {
		code = respond(strcmp(l, "*") == 0 ?
		    "501 5.7.0 Authentication cancelled\r\n" :
		    "235 2.7.0 Authentication successful\r\n");
		fk.mode = code == 334 ? F_AUTH : F_CMD;
		return;
	}
	/* Words split at any white space, leading white space skipped: as
	 * Postfix's smtpd_token() does. */
	word = l + strspn(l, " \t");
	vlen = strcspn(word, " \t");
	snprintf(verb, sizeof(verb), "%.*s", (int)(vlen < 15 ? vlen : 15),
	    word);
	if (strcasecmp(verb, "EHLO") == 0) {
		respond("250-upstream.example\r\n250-PIPELINING\r\n"
		    "250-SIZE 10240000\r\n250-XCLIENT ADDR NAME HELO PROTO\r\n"
		    "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n"
		    "250-BINARYMIME\r\n250-8BITMIME\r\n"
		    "250 XFORWARD NAME ADDR HELO\r\n");
	} else if (strcasecmp(verb, "HELO") == 0) {
		respond("250 upstream.example\r\n");
	} else if (strcasecmp(verb, "DATA") == 0) {
		/* Any spelling: "DATA\t" and "\tDATA" are DATA to Postfix, and
		 * must be DATA to the proxy too, never relayed. */
		fk.data_cmds++;
		if (respond("354 upstream: go ahead\r\n") == 354) {
			fk.mode = F_DATA;
			fk.data_bytes = 0;
		}
	} else if (strcasecmp(verb, "BDAT") == 0) {
		fake_bdat(word + vlen);
	} else if (strcasecmp(verb, "AUTH") == 0) {
		if (respond("334 VXNlcm5hbWU6\r\n") == 334)
			fk.mode = F_AUTH;
	} else if (strcasecmp(verb, "QUIT") == 0) {
		respond("221 2.0.0 Bye\r\n");
		fk.closed = true;
	} else if (strcasecmp(verb, "XCLIENT") == 0) {
		respond("220 upstream.example ESMTP\r\n");
	} else if (strcasecmp(verb, "MAIL") == 0) {
		const char *gt = strrchr(word, '>');

		fk.binary = gt != NULL && strcasestr(gt, "BODY=BINARYMIME");
		respond("250 2.0.0 Ok\r\n");
	} else if (
	    strcasecmp(verb, "RCPT") == 0 || strcasecmp(verb, "RSET") == 0 ||
	    strcasecmp(verb, "NOOP") == 0 ||
	    strcasecmp(verb, "XFORWARD") == 0) {
		respond("250 2.0.0 Ok\r\n");
	} else {
		respond("502 5.5.2 Error: command not recognized\r\n");
	}
}

static void
fake_data_line(const char *l, size_t len)
{
	int code;

	if (len == 1 && l[0] == '.') {
		fk.messages++;
		fk.mode = F_CMD;
		code = respond("250 2.0.0 Ok: queued as FAKE\r\n");
		if (code / 100 == 2)
			fk.messages_2xx++;
		return;
	}
	FZ_CHECK(memchr(l, '\r', len) == NULL,
	    "upstream got a bare CR in a message");
}

/* The BDAT chunk is in: a message, answered like an end of data. */
static void
fake_chunk_end(void)
{
	int code;

	FZ_CHECK(fk.binary || fk.data_bytes == 0 || fk.chunk_prev == '\n',
	    "upstream got a BDAT text message not ending in CRLF");
	fk.messages++;
	fk.mode = F_CMD;
	code = respond("250 2.0.0 Ok: queued as FAKEB\r\n");
	if (code / 100 == 2)
		fk.messages_2xx++;
}

/* One byte of a BDAT chunk; a text one has CRLF line ends only. */
static void
fake_chunk_byte(unsigned char c)
{
	if (!fk.binary) {
		FZ_CHECK(c != '\n' || fk.chunk_prev == '\r',
		    "upstream got a bare LF in a BDAT text message");
		FZ_CHECK(fk.chunk_prev != '\r' || c == '\n',
		    "upstream got a bare CR in a BDAT text message");
	}
	fk.chunk_prev = c;
	fk.data_bytes++;
	if (--fk.chunk_left == 0)
		fake_chunk_end();
}

static void
fake_feed(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fk.mode == F_CHUNK) {
			fake_chunk_byte(p[i]);
			continue;
		}
		if (fk.mode == F_DATA)
			fk.data_bytes++;
		if (p[i] != '\n') {
			fz_buf_add(&fk.line, p + i, 1);
			continue;
		}
		if (fk.line.len == 0 || fk.line.p[fk.line.len - 1] != '\r') {
			fz_dump("line", fk.line.p, fk.line.len);
			FZ_CHECK(0, "upstream got a bare LF (%s)",
			    fk.mode == F_DATA ? "message" : "command");
		}
		fk.line.len--;
		fk.line.p[fk.line.len] = '\0';
		if (fk.mode == F_DATA)
			fake_data_line((char *)fk.line.p, fk.line.len);
		else
			fake_command((char *)fk.line.p, fk.line.len);
		fz_buf_reset(&fk.line);
	}
}

static ssize_t
fz_read(int fd, void *buf, size_t n)
{
	size_t c;

	if (fd == fk.fd) {
		size_t avail = fk.pending.len - fk.ppos;

		if (avail == 0) {
			/* A server answers complete commands and messages:
			 * waiting for more would hang a real session. */
			FZ_CHECK(fk.closed || fk.line.len == 0,
			    "proxy waits for a reply to an unfinished %s",
			    fk.mode == F_DATA ? "message" : "command line");
			FZ_CHECK(fk.closed || fk.mode != F_DATA ||
			    fk.data_bytes == 0,
			    "proxy waits for a reply inside a message "
			    "(no terminator sent)");
			FZ_CHECK(fk.closed || fk.mode != F_CHUNK,
			    "proxy waits for a reply inside a BDAT chunk");
			return 0;
		}
		c = fz_chunk(&fk.seed);
		if (c > n)
			c = n;
		if (c > avail)
			c = avail;
		memcpy(buf, fk.pending.p + fk.ppos, c);
		fk.ppos += c;
		return (ssize_t)c;
	}
	if (fd == client_fd) {
		c = fz_chunk(&client_seed);
		if (c < n)
			n = c;
	}
	return read(fd, buf, n);
}

static ssize_t
fz_write(int fd, const void *buf, size_t n)
{
	if (fd == fk.fd) {
		fake_feed(buf, n);
		return (ssize_t)n;
	}
	return write(fd, buf, n);
}

/* ---- the client's view ------------------------------------------------ */

#define OWN_354 "354 End data with <CR><LF>.<CR><LF>\r\n"

static struct {
	unsigned replies, own354, foreign354, eod, eod_2xx;
	bool	after_354;
} cv;

static void
client_reply(void *arg, const struct fz_reply_info *ri,
    const unsigned char *p, size_t n)
{
	bool own = n == strlen(OWN_354) && memcmp(p, OWN_354, n) == 0;

	(void)arg;
	cv.replies++;
	if (cv.after_354) {
		cv.eod++;
		if (ri->code / 100 == 2)
			cv.eod_2xx++;
	}
	cv.after_354 = own;
	if (own)
		cv.own354++;
	else if (ri->code == 354)
		cv.foreign354++;
}

/* ---- the run ------------------------------------------------------------ */

static void
remove_spool_dir(void)
{
	rmdir(spool_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	client_fd = fz_memfd("fuzz-client-in");
	client_out_fd = fz_memfd("fuzz-client-out");
	/* fuzz/run points FUZZ_TMPDIR into fuzz/build/, so that the
	 * directories of runs that crashed are not left in /tmp. */
	const char *tmp = getenv("FUZZ_TMPDIR");

	snprintf(spool_dir, sizeof(spool_dir), "%s/proxsmtpd-fuzz-XXXXXX",
	    tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	fk.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fk.fd < 0 || mkdtemp(spool_dir) == NULL) {
		perror(spool_dir);
		abort();
	}
	atexit(remove_spool_dir);
	unsetenv("TCPREMOTEIP");
	unsetenv("TCPLOCALIP");
	return 0;
}

static void
setup(uint8_t flags, uint64_t hash)
{
	static const char *const headers[] = {
		"",
		"X-Filtered-By: proxsmtpd on %l for %i",
		"Received: from client [%i]\\n\\tby proxy [%l]; %d",
		"X-Empty:",
	};
	char err[256];

	config_defaults(&cfg);
	snprintf(cfg.out_address, sizeof(cfg.out_address), "192.0.2.25:25");
	snprintf(cfg.temp_directory, sizeof(cfg.temp_directory), "%s",
	    spool_dir);
	cfg.timeout = 5;
	cfg.xclient = flags & 0x01;
	/* The config file's escapes, decoded as config.c does. */
	snprintf(cfg.header, sizeof(cfg.header), "%s", headers[(flags >> 1) & 3]);
	for (char *h = cfg.header; (h = strstr(h, "\\")) != NULL; ) {
		*h = h[1] == 'n' ? '\n' : '\t';
		memmove(h + 1, h + 2, strlen(h + 2) + 1);
	}
	cfg.bare_newline = flags & 0x08 ? BARE_NEWLINE_REJECT :
	    BARE_NEWLINE_NORMALIZE;
	if (flags & 0x10)
		cfg.filter_type = FILTER_REJECT;
	if (flags & 0x20)
		snprintf(cfg.filter_reject, sizeof(cfg.filter_reject),
		    "250 2.0.0 Dropped");
	cfg.skip_authenticated = flags & 0x40;
	/* No flag bit left: a quarter of the inputs (by their hash) get a
	 * MaxMessageSize small enough for a fuzzed message to cross. */
	if (hash % 4 == 0)
		cfg.max_message_size = 1 + (hash >> 8) % 512;
	FZ_CHECK(config_validate(&cfg, err, sizeof(err)) == 0, "%s", err);

	memset(&lg, 0, sizeof(lg));
	lg.target = LOG_TO_STDERR;
	lg.level = -1;		/* silent; set 4 to watch a session */

	memset(&sess, 0, sizeof(sess));
	session_init(&sess, &cfg, &lg, client_fd, client_out_fd);
	snprintf(sess.hostname, sizeof(sess.hostname), "proxy.example");
	snprintf(sess.server, sizeof(sess.server), "192.0.2.25:25");
	sess.upstream_fd = fk.fd;
	io_init(&sess.upstream, fk.fd, fk.fd, cfg.timeout * 1000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep, *client;
	size_t clen;
	uint8_t flags;
	uint64_t h = fz_hash(data, size);
	int greeting, probe;
	bool streamed;

	if (size < 1)
		return 0;
	flags = data[0];
	client = data + 1;
	clen = size - 1;
	sep = memmem(client, clen, SEPARATOR, strlen(SEPARATOR));

	fk.script = NULL;
	fk.slen = fk.spos = fk.ppos = 0;
	fk.closed = false;
	fk.mode = F_CMD;
	fk.data_bytes = 0;
	fk.binary = false;
	fk.chunk_left = 0;
	fk.commands = fk.data_cmds = fk.messages = fk.messages_2xx = 0;
	memset(&lv, 0, sizeof(lv));
	if (sep != NULL) {
		fk.script = sep + strlen(SEPARATOR);
		fk.slen = (size_t)(client + clen - fk.script);
		clen = (size_t)(sep - client) + 1;	/* keep its LF */
	}
	fk.close_at_end = flags & 0x80;
	fk.seed = h;
	client_seed = h ^ 0x5555;
	fz_buf_reset(&fk.pending);
	fz_buf_reset(&fk.line);
	fz_memfd_set(client_fd, client, clen);
	fz_memfd_set(client_out_fd, "", 0);
	memset(&cv, 0, sizeof(cv));

	/* The lowest free fd now; the same one after the session. (Measured
	 * each time: libFuzzer's symbolizer may open pipes meanwhile.) */
	null_probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(null_probe);
	setup(flags, h);
	/* The greeting is there before the proxy asks. */
	greeting = respond("220 upstream.example ESMTP fake\r\n");
	(void)greeting;

	exit_status = -1;
	if (setjmp(exit_jmp) == 0)
		session_run(&sess);	/* never returns */
	/* A dropped upstream was closed by the session; the fake keeps its
	 * fd number for the next run (and the fd-leak probe below). */
	if (sess.upstream_gone && fcntl(fk.fd, F_GETFD) < 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd != fk.fd) {
			dup2(fd, fk.fd);
			close(fd);
		}
	}

	/* What the client got. */
	FZ_CHECK(exit_status == EXIT_SESSION_OK ||
	    exit_status == EXIT_SESSION_FAILED ||
	    exit_status == EXIT_TEMPORARY, "exit status %d", exit_status);
	io_flush(&sess.client);
	fz_memfd_get(client_out_fd, &client_out);
	fz_check_replies(client_out.p, client_out.len, client_reply, NULL);

	/* The client never gets the upstream's 354: its idea of where the
	 * data starts would differ from the proxy's. */
	if (cv.foreign354 > 0) {
		fz_dump("client got", client_out.p, client_out.len);
		FZ_CHECK(0, "the upstream's 354 was relayed to the client");
	}
	/* No smuggling: one message upstream per 354 the client got. A
	 * spooled message (FilterType reject, BareNewline reject) sends DATA
	 * upstream only after the client's 354; a streamed one (the rest:
	 * no filter runs here) asks the upstream first, which may refuse. */
	streamed = !(flags & 0x08) && !(flags & 0x10);
	if (fk.messages > cv.own354 + lv.bdat ||
	    (!streamed && fk.data_cmds > cv.own354 + lv.bdat)) {
		fz_dump("client got", client_out.p, client_out.len);
		FZ_CHECK(0, "upstream got %u messages (%u DATA/BDAT) for %u "
		    "354s to the client and %u BDAT messages", fk.messages,
		    fk.data_cmds, cv.own354, lv.bdat);
	}
	/* Forwarded with a 2xx only what the upstream took with a 2xx. */
	if (lv.forwarded_2xx > fk.messages_2xx) {
		fz_dump("client got", client_out.p, client_out.len);
		FZ_CHECK(0, "%u messages logged as forwarded with 2xx, the "
		    "upstream accepted %u", lv.forwarded_2xx, fk.messages_2xx);
	}
	/* 250 to the client only for a 250 from the upstream, or a drop. */
	if (!(cfg.filter_type == FILTER_REJECT && (flags & 0x20)) &&
	    cv.eod_2xx > fk.messages_2xx) {
		fz_dump("client got", client_out.p, client_out.len);
		FZ_CHECK(0, "client got %u 2xx end-of-data replies, the "
		    "upstream accepted %u messages", cv.eod_2xx,
		    fk.messages_2xx);
	}

	/* Nothing left behind. */
	FZ_CHECK(sess.msg.fd < 0 && sess.out.fd < 0, "spool file still open");
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe != null_probe) {
		char path[64], target[256] = "?";
		ssize_t tl;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", null_probe);
		tl = readlink(path, target, sizeof(target) - 1);
		target[tl > 0 ? tl : 0] = '\0';
		FZ_CHECK(0, "fd leak: next fd %d, was %d (%s)", probe,
		    null_probe, target);
	}
	close(probe);
	{
		DIR *d = opendir(spool_dir);
		struct dirent *e;
		int files = 0;

		while (d != NULL && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				files++;
		if (d != NULL)
			closedir(d);
		FZ_CHECK(files == 0, "%d files left in TempDirectory", files);
	}
	return 0;
}
