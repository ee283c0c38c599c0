/*
 * filter.h - running the operator's FilterCommand on one message.
 *
 * The command runs as /bin/sh -c in a process group of its own, with only
 * the environment it is given and fds 0, 1, 2. In pipe mode the message is
 * written to its stdin while its stdout and stderr are read, all at once,
 * so no size can deadlock it. It is waited for through a pidfd, never by
 * sleeping. When it exits, times out or the session ends, its whole process
 * group is killed.
 */
#ifndef PROXSMTPD_FILTER_H
#define PROXSMTPD_FILTER_H

#include <sys/types.h>

#include "config.h"
#include "reply.h"
#include "spool.h"

enum filter_outcome {
	VERDICT_FORWARD,		/* exit 0: forward the output */
	VERDICT_REJECT,		/* exit != 0 with a verdict: reply holds it */
	VERDICT_DROP,		/* verdict 250: say 250, forward nothing */
	VERDICT_TEMPFAIL,	/* could not run, crashed, timed out */
	VERDICT_SIGNALLED,	/* we were told to stop */
};

struct filter_result {
	enum filter_outcome outcome;
	char	reply[REPLY_LINE_MAX];	/* for REJECT and DROP */
	char	why[256];		/* for logs */
	long	ms;
	off_t	output_size;		/* pipe mode */
};

/* Called every KeepAlives seconds while the filter runs. */
typedef void (*filter_tick_fn)(void *arg);

/*
 * in_fd: the message to feed (pipe mode), -1 in file mode. out: where its
 * stdout goes (pipe mode), NULL in file mode. *running holds the filter's
 * process group while it runs, 0 otherwise, for the session's exit paths.
 */
void	filter_run(const struct config *, char *const envp[], int in_fd,
	    struct spool *out, pid_t *running, filter_tick_fn tick, void *arg,
	    struct filter_result *);
/* Kills a running filter's process group and reaps it. */
void	filter_kill(pid_t *running);

#endif
