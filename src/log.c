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
#include "fmt.h"
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
	fmt(lg->session_id, sizeof(lg->session_id), "%s", id);
}

/* Log text never carries control bytes: a peer could forge lines. */
static void
make_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			*s = '?';
}

/* A journal entry being built: the short fields in buffers of its own. */
struct entry {
	char	field[10][256];
	struct iovec iov[12];	/* the fields, MESSAGE, RECIPIENTS */
	int	n;
};

static void __attribute__((format(printf, 2, 3)))
entry_field(struct entry *e, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vfmt(e->field[e->n], sizeof(e->field[e->n]), fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof(e->field[e->n]))
		len = (int)sizeof(e->field[e->n]) - 1;
	e->iov[e->n].iov_base = e->field[e->n];
	e->iov[e->n].iov_len = (size_t)len;
	e->n++;
}

/* A long field, in buf (size bytes) of the caller's. */
static void
entry_long(struct entry *e, char *buf, size_t size, const char *name,
    const char *value)
{
	int len = fmt(buf, size, "%s=%s", name, value);

	if (len >= (int)size)
		len = (int)size - 1;
	e->iov[e->n].iov_base = buf;
	e->iov[e->n++].iov_len = (size_t)len;
}

static void
emit_journal(struct logger *lg, enum log_level level, const char *text,
    const struct log_message *m, const char *rcpts)
{
	struct entry e;
	char msgfield[LOG_LINE_MAX + 16];
	char rcptfield[LOG_RCPT_MAX + 48];
	int i;

	e.n = 0;
	entry_field(&e, "PRIORITY=%d", syslog_priority[level]);
	entry_field(&e, "SYSLOG_FACILITY=%d", LOG_MAIL >> 3);
	entry_field(&e, "SYSLOG_IDENTIFIER=proxsmtpd");
	if (lg->session_id[0])
		entry_field(&e, "SESSION_ID=%s", lg->session_id);
	if (m != NULL) {
		entry_field(&e, "CLIENT=%s", m->client);
		entry_field(&e, "SENDER=%s", m->sender);
		entry_field(&e, "SIZE=%llu", m->size);
		entry_field(&e, "OUTCOME=%s", m->outcome);
		entry_field(&e, "REPLY=%s", m->reply);
		if (m->filter_ms >= 0)
			entry_field(&e, "FILTER_MS=%ld", m->filter_ms);
	}
	entry_long(&e, msgfield, sizeof(msgfield), "MESSAGE", text);
	if (rcpts != NULL)
		entry_long(&e, rcptfield, sizeof(rcptfield), "RECIPIENTS",
		    rcpts);
	/* Each field is a line of the native protocol: a newline inside a
	 * value would start a new field, so none may remain (values are
	 * printable already). */
	for (i = 0; i < e.n; i++) {
		char *v = e.iov[i].iov_base;
		size_t k;

		for (k = 0; k < e.iov[i].iov_len; k++)
			if (v[k] == '\n')
				v[k] = '?';
	}
	/* Logging must never stop a session: a lost entry is all we risk. */
	sysd_journal_send(lg->journal_fd, e.iov, e.n);
}

static void
emit(struct logger *lg, enum log_level level, const char *text,
    const struct log_message *m, const char *rcpts)
{
	switch (lg->target) {
	case LOG_TO_STDERR:
		/* One write(2), as unbuffered stderr did. */
		(void)fmt_write(STDERR_FILENO, "proxsmtpd[%ld]: %s%s%s\n",
		    (long)getpid(), lg->session_id[0] ? lg->session_id : "",
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
		emit_journal(lg, level, text, m, rcpts);
		return;
	}
}

void
log_msg(struct logger *lg, enum log_level level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;

	if ((int)level > lg->level)
		return;
	va_start(ap, fmt);
	vfmt(text, sizeof(text), fmt, ap);
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
			o += (size_t)fmt(rcpts + o, sizeof(rcpts) - o,
			    "%s<%.*s>", shown ? "," : "", (int)len, p);
			shown++;
		}
		p = nl ? nl + 1 : p + len;
	}
	if (shown < total)
		fmt(rcpts + o, sizeof(rcpts) - o, ",...(%u more)",
		    total - shown);
	else
		rcpts[o] = '\0';
	if (total == 0)
		rcpts[0] = '\0';
	/* A message that no filter saw says so rather than show a time. */
	if (m->filter_ms >= 0)
		fmt(ms, sizeof(ms), "%ld", m->filter_ms);
	else
		fmt(ms, sizeof(ms), "none");
	fmt(text, sizeof(text),
	    "client=%s from=<%s> to=%s nrcpt=%u size=%llu outcome=%s "
	    "reply=\"%s\"%s%s%s filter_ms=%s",
	    m->client, m->sender, rcpts, total, m->size, m->outcome, m->reply,
	    m->detail ? " detail=\"" : "", m->detail ? m->detail : "",
	    m->detail ? "\"" : "", ms);
	make_printable(text);
	emit(lg, L_INFO, text, m, rcpts);
}
