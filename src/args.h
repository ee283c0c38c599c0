/*
 * args.h - the command line, parsed as getopt_long() parses it, without
 * it (a session need not pull that part of libc in: bench/libc-windows).
 *
 * The same grammar and the same messages on stderr as glibc's getopt_long:
 * bundled short options (-tv), an option's argument attached or the next
 * word (-d9, -d 9), long options by any unambiguous prefix (--ver), none of
 * which takes an argument, "--" ends the options, and words that are not
 * options are skipped and counted (unless POSIXLY_CORRECT is set: then the
 * first one ends the options).
 */
#ifndef PROXSMTPD_ARGS_H
#define PROXSMTPD_ARGS_H

#include <stdbool.h>

/* A long option (without an argument) and the short option it stands for. */
struct args_long {
	const char *name;
	int	ch;
};

struct args {
	int	 argc;
	char	**argv;
	int	 i;		/* the next word */
	const char *bundle;	/* the rest of a word of short options */
	bool	 posix;		/* POSIXLY_CORRECT */
	int	 operands;	/* words that are not options */
	const char *arg;	/* the argument of the option just returned */
};

void	args_init(struct args *, int argc, char **argv);
/*
 * The next option's letter (a long option's short one), with its argument
 * in a->arg; -1 at the end; '?' for an unknown option, a missing argument
 * or an argument to a long option, after the message on stderr.
 * shorts is getopt's string: a letter, followed by ':' if it takes an
 * argument. longs ends with a NULL name.
 */
int	args_next(struct args *, const char *shorts, const struct args_long *);

#endif
