/*
 * log.c - log lines to the journal, syslog or stderr.
 *
 * The journal is used when its socket exists; its entries carry the session
 * id and, for the per-message line, the message's fields, so that
 * "journalctl SESSION_ID=..." shows one session.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#define LOG_LINE_MAX 4096
#define LOG_RCPT_MAX 2048	/* recipients shown in one line */

static const int syslog_priority[] = {
	[L_ERR] = LOG_ERR,
	[L_WARNING] = LOG_WARNING,
	[L_NOTICE] = LOG_NOTICE,
	[L_INFO] = LOG_INFO,
	[L_DEBUG] = LOG_DEBUG,
};

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
	if (access("/run/systemd/journal/socket", W_OK) == 0) {
		lg->target = LOG_TO_JOURNAL;
	} else {
		lg->target = LOG_TO_SYSLOG;
		openlog("proxsmtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
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
	int n = 0, len;

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
	sd_journal_sendv(iov, n);
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
