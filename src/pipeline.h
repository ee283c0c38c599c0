/*
 * pipeline.h - RFC 2920: the MAIL and RCPT commands sent upstream ahead of
 * their replies.
 *
 * The queue holds, in the order they were sent, what completing each
 * command needs once its reply comes (its kind and address). It knows
 * nothing of the wire: the session sends the commands, and reads the
 * replies when it drains the queue. Bounded: PIPELINE_MAX commands, after
 * which the session must drain before it sends more.
 */
#ifndef PROXSMTPD_PIPELINE_H
#define PROXSMTPD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#define PIPELINE_MAX 32
#define PIPELINE_ADDR_MAX 1024	/* session.h's PATH_ADDR_MAX */

enum pending_kind { PEND_MAIL, PEND_RCPT };

#define PEND_BINARYMIME 0x1	/* MAIL with BODY=BINARYMIME */

struct pending {
	enum pending_kind kind;
	unsigned flags;
	size_t	len;
	char	addr[PIPELINE_ADDR_MAX];
};

struct pipeline {
	unsigned n;		/* commands owed a reply */
	struct pending q[PIPELINE_MAX];
};

void	pipeline_init(struct pipeline *);
/*
 * Queues a command just sent (addr: len bytes, cut to fit; flags: PEND_*
 * for its completion). Returns true
 * when the queue is now full: it must be drained before the next one.
 */
bool	pipeline_push(struct pipeline *, enum pending_kind, unsigned flags,
	    const char *addr, size_t len);
/* Commands owed a reply. */
unsigned pipeline_owed(const struct pipeline *);
/* Whether a command of this kind is owed a reply. */
bool	pipeline_has(const struct pipeline *, enum pending_kind);
/* Whether a command owed a reply has that PEND_* flag. */
bool	pipeline_has_flag(const struct pipeline *, unsigned flag);
/*
 * The RCPTs owed a reply: how many, and how many bytes they would add to
 * the recipient list (each address and its separator).
 */
void	pipeline_owed_rcpts(const struct pipeline *, unsigned *n,
	    size_t *bytes);

/* Completes one command: reads its reply and acts on it. */
typedef void (*pipeline_complete_fn)(void *arg, const struct pending *);
/*
 * Empties the queue, then calls complete for each command in the order
 * they were sent. The queue is empty while complete runs, so a drain
 * started from inside it (a reply said on the way) owes nothing.
 */
void	pipeline_drain(struct pipeline *, pipeline_complete_fn complete,
	    void *arg);

#endif
