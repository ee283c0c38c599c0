/*
 * log.h - where log lines go: the systemd journal (with structured fields),
 * syslog facility mail where no journal runs, or stderr with -d.
 */
#ifndef PROXSMTPD_LOG_H
#define PROXSMTPD_LOG_H

#include <stddef.h>

enum log_level {
	L_ERR = 0,
	L_WARNING = 1,
	L_NOTICE = 2,
	L_INFO = 3,
	L_DEBUG = 4,
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_JOURNAL,
	LOG_TO_SYSLOG,
};

struct logger {
	enum log_target target;
	int	level;		/* lines above it are dropped */
	int	journal_fd;	/* datagram socket to journald, or -1 */
	char	session_id[16];
};

/* What the one info line of a message says. */
struct log_message {
	const char *client;
	const char *sender;
	const char *recipients;	/* one a line */
	unsigned long long size;
	const char *outcome;	/* forwarded, rejected, dropped, tempfail */
	const char *reply;	/* what the client was told */
	const char *detail;	/* why, for tempfail; may be NULL */
	long	filter_ms;	/* -1: no filter ran */
};

/* stderr_level < 0: journal or syslog, else stderr at that level. */
void	log_open(struct logger *, int stderr_level);
void	log_set_session(struct logger *, const char *id);
void	log_msg(struct logger *, enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_message(struct logger *, const struct log_message *);

#endif
