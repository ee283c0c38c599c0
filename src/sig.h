/*
 * sig.h - the signals that end a session (SIGTERM, SIGHUP, SIGINT).
 *
 * They stay blocked except inside ppoll(), so a signal can only be noticed
 * where the program is waiting, and every wait reports it the same way.
 */
#ifndef PROXSMTPD_SIG_H
#define PROXSMTPD_SIG_H

#include <signal.h>

void	sig_init(void);
/* The mask to hand to ppoll(): the terminating signals unblocked. */
const sigset_t *sig_waitmask(void);
/* The terminating signal caught so far, or 0. */
int	sig_caught(void);
/* What a freshly spawned child must have: default dispositions, no mask. */
void	sig_child_defaults(sigset_t *mask, sigset_t *defaults);

#endif
