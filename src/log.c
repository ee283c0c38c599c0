/*
 * log.c - log lines to the journal, syslog or stderr.
 *
 * The journal is used when its socket exists; its entries carry the session
 * id and, for the per-message line, the message's fields, so that
 * "journalctl SESSION_ID=..." shows one session. How an entry reaches
 * journald (our own code or libsystemd) is sysd.c's business.
 *
 * Where neither a journal nor a syslog socket exists (a replay on a bare
 * host, a container), the lines go to stderr rather than nowhere, unless
 * stderr is a socket: under inetd and xinetd it is the client's.
 */
#include "log.h"
#include "sysd.h"

#include <paths.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_RCPT_MAX 2048	/* recipients shown in one line */

static const int syslog_priority[] = {
	[L_ERR] = LOG_ERR,
	[L_WARNING] = LOG_WARNING,
	[L_NOTICE] = LOG_NOTICE,
	[L_INFO] = LOG_INFO,
	[L_DEBUG] = LOG_DEBUG,
};

static bool
path_is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool
fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
log_open(struct logger *lg, int stderr_level)
{
	memset(lg, 0, sizeof(*lg));
	if (stderr_level >= 0) {
		lg->target = LOG_TO_STDERR;
		lg->level = stderr_level > L_DEBUG ? L_DEBUG : stderr_level;
		return;
	}
	lg->level = L_INFO;
	lg->journal_fd = -1;
	if (access(SYSD_JOURNAL_SOCKET, W_OK) == 0 &&
	    (lg->journal_fd = sysd_journal_open()) >= 0) {
		lg->target = LOG_TO_JOURNAL;
	} else if (path_is_socket(_PATH_LOG) || fd_is_socket(2)) {
		/* A socket on fd 2 is the client's: syslog, even into the
		 * void, rather than the SMTP conversation. */
		lg->target = LOG_TO_SYSLOG;
		openlog("proxsmtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	} else {
		lg->target = LOG_TO_STDERR;
	}
}

void
log_set_session(struct logger *lg, const char *id)
{
	snprintf(lg->session_id, sizeof(lg->session_id), "%s", id);
}

/* Log text never carries control bytes: a peer could forge lines. */
static void
make_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			*s = '?';
}

static void
emit(struct logger *lg, enum log_level level, const char *text,
    const struct log_message *m, const char *rcpts)
{
	char field[10][256];
	char msgfield[LOG_LINE_MAX + 16];
	char rcptfield[LOG_RCPT_MAX + 48];
	struct iovec iov[12];
	int n = 0, len, i;

	switch (lg->target) {
	case LOG_TO_STDERR:
		fprintf(stderr, "proxsmtpd[%ld]: %s%s%s\n", (long)getpid(),
		    lg->session_id[0] ? lg->session_id : "",
		    lg->session_id[0] ? ": " : "", text);
		return;
	case LOG_TO_SYSLOG:
		if (lg->session_id[0])
			syslog(syslog_priority[level], "%s: %s",
			    lg->session_id, text);
		else
			syslog(syslog_priority[level], "%s", text);
		return;
	case LOG_TO_JOURNAL:
		break;
	}
#define FIELD(...) do { \
		int len_ = snprintf(field[n], sizeof(field[n]), __VA_ARGS__); \
		if (len_ >= (int)sizeof(field[n])) \
			len_ = (int)sizeof(field[n]) - 1; \
		iov[n].iov_base = field[n]; \
		iov[n].iov_len = (size_t)len_; \
		n++; \
	} while (0)
	FIELD("PRIORITY=%d", syslog_priority[level]);
	FIELD("SYSLOG_FACILITY=%d", LOG_MAIL >> 3);
	FIELD("SYSLOG_IDENTIFIER=proxsmtpd");
	if (lg->session_id[0])
		FIELD("SESSION_ID=%s", lg->session_id);
	if (m != NULL) {
		FIELD("CLIENT=%s", m->client);
		FIELD("SENDER=%s", m->sender);
		FIELD("SIZE=%llu", m->size);
		FIELD("OUTCOME=%s", m->outcome);
		FIELD("REPLY=%s", m->reply);
		if (m->filter_ms >= 0)
			FIELD("FILTER_MS=%ld", m->filter_ms);
	}
#undef FIELD
	/* The long fields get buffers of their own. */
	len = snprintf(msgfield, sizeof(msgfield), "MESSAGE=%s", text);
	if (len >= (int)sizeof(msgfield))
		len = (int)sizeof(msgfield) - 1;
	iov[n].iov_base = msgfield;
	iov[n++].iov_len = (size_t)len;
	if (rcpts != NULL) {
		len = snprintf(rcptfield, sizeof(rcptfield), "RECIPIENTS=%s",
		    rcpts);
		if (len >= (int)sizeof(rcptfield))
			len = (int)sizeof(rcptfield) - 1;
		iov[n].iov_base = rcptfield;
		iov[n++].iov_len = (size_t)len;
	}
	/* Each field is a line of the native protocol: a newline inside a
	 * value would start a new field, so none may remain (values are
	 * printable already). */
	for (i = 0; i < n; i++) {
		char *v = iov[i].iov_base;
		size_t k;

		for (k = 0; k < iov[i].iov_len; k++)
			if (v[k] == '\n')
				v[k] = '?';
	}
	/* Logging must never stop a session: a lost entry is all we risk. */
	sysd_journal_send(lg->journal_fd, iov, n);
}

void
log_msg(struct logger *lg, enum log_level level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;

	if ((int)level > lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	make_printable(text);
	emit(lg, level, text, NULL, NULL);
}

void
log_message(struct logger *lg, const struct log_message *m)
{
	char text[LOG_LINE_MAX];
	char rcpts[LOG_RCPT_MAX + 32];
	char ms[24];
	const char *p = m->recipients;
	size_t o = 0;
	unsigned shown = 0, total = 0;

	if ((int)L_INFO > lg->level)
		return;
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		total++;
		if (o + len + 3 < LOG_RCPT_MAX) {
			o += (size_t)snprintf(rcpts + o, sizeof(rcpts) - o,
			    "%s<%.*s>", shown ? "," : "", (int)len, p);
			shown++;
		}
		p = nl ? nl + 1 : p + len;
	}
	if (shown < total)
		snprintf(rcpts + o, sizeof(rcpts) - o, ",...(%u more)",
		    total - shown);
	else
		rcpts[o] = '\0';
	if (total == 0)
		rcpts[0] = '\0';
	/* A message that no filter saw says so rather than show a time. */
	if (m->filter_ms >= 0)
		snprintf(ms, sizeof(ms), "%ld", m->filter_ms);
	else
		snprintf(ms, sizeof(ms), "none");
	snprintf(text, sizeof(text),
	    "client=%s from=<%s> to=%s nrcpt=%u size=%llu outcome=%s "
	    "reply=\"%s\"%s%s%s filter_ms=%s",
	    m->client, m->sender, rcpts, total, m->size, m->outcome, m->reply,
	    m->detail ? " detail=\"" : "", m->detail ? m->detail : "",
	    m->detail ? "\"" : "", ms);
	make_printable(text);
	emit(lg, L_INFO, text, m, rcpts);
}
