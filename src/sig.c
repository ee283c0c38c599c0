/*
 * sig.c - terminating signals are blocked and only delivered inside ppoll().
 *
 * The one piece of process-wide state in the program lives here: the signal
 * handler has nowhere else to put what it saw.
 */
#include "sig.h"

#include <string.h>

static volatile sig_atomic_t caught_signal;
static sigset_t wait_mask;

static void
on_terminate(int signo)
{
	caught_signal = signo;
}

void
sig_init(void)
{
	static const int terminating[] = { SIGTERM, SIGHUP, SIGINT };
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_terminate;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(terminating) / sizeof(terminating[0]); i++) {
		sigaction(terminating[i], &sa, NULL);
		sigaddset(&block, terminating[i]);
	}
	/* A peer that goes away must be an EPIPE, not a silent death. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	for (i = 0; i < sizeof(terminating) / sizeof(terminating[0]); i++)
		sigdelset(&wait_mask, terminating[i]);
}

const sigset_t *
sig_waitmask(void)
{
	return &wait_mask;
}

int
sig_caught(void)
{
	return caught_signal;
}

void
sig_child_defaults(sigset_t *mask, sigset_t *defaults)
{
	sigemptyset(mask);
	sigemptyset(defaults);
	sigaddset(defaults, SIGTERM);
	sigaddset(defaults, SIGHUP);
	sigaddset(defaults, SIGINT);
	sigaddset(defaults, SIGPIPE);
}
