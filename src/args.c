/*
 * args.c - the command line, as glibc's getopt_long() parses it: see
 * args.h. Messages go to stderr in one write(2) each, word for word as
 * glibc's (the tests and the users' scripts read them).
 */
#include "args.h"
#include "fmt.h"
#include "span.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
args_init(struct args *a, int argc, char **argv)
{
	*a = (struct args){ .argc = argc, .argv = argv, .i = 1,
	    .posix = getenv("POSIXLY_CORRECT") != NULL };
}

/* "ambiguous; possibilities: '--a' '--b'" for the names with this prefix. */
static void
ambiguous(const struct args *a, const char *word, size_t len,
    const struct args_long *longs)
{
	char list[512];
	size_t o = 0;

	list[0] = '\0';
	for (; longs->name != NULL; longs++)
		if (strncmp(longs->name, word, len) == 0 && o < sizeof(list))
			o += (size_t)fmt(list + o, sizeof(list) - o, " '--%s'",
			    longs->name);
	(void)fmt_write(STDERR_FILENO,
	    "%s: option '--%s' is ambiguous; possibilities:%s\n", a->argv[0],
	    word, list);
}

/* A word "--name[=value]": its option, or '?' after the message. */
static int
long_option(struct args *a, const char *word, const struct args_long *longs)
{
	size_t len = cspan(word, "=");
	const struct args_long *l, *found = NULL;
	int matches = 0;

	for (l = longs; l->name != NULL; l++) {
		if (strncmp(l->name, word, len) != 0)
			continue;
		if (l->name[len] == '\0') {	/* exact: no other counts */
			found = l;
			matches = 1;
			break;
		}
		found = l;
		matches++;
	}
	if (matches == 0) {
		(void)fmt_write(STDERR_FILENO, "%s: unrecognized option '--%s'\n",
		    a->argv[0], word);
		return '?';
	}
	if (matches > 1) {
		ambiguous(a, word, len, longs);
		return '?';
	}
	if (word[len] == '=') {
		(void)fmt_write(STDERR_FILENO,
		    "%s: option '--%s' doesn't allow an argument\n", a->argv[0],
		    found->name);
		return '?';
	}
	a->arg = NULL;
	return found->ch;
}

/* The next letter of a word of short options. */
static int
short_option(struct args *a, const char *shorts)
{
	int ch = (unsigned char)*a->bundle++;
	const char *spec = ch != ':' ? strchr(shorts, ch) : NULL;

	a->arg = NULL;
	if (spec == NULL) {
		(void)fmt_write(STDERR_FILENO, "%s: invalid option -- '%c'\n",
		    a->argv[0], ch);
		ch = '?';
	} else if (spec[1] == ':') {
		if (*a->bundle != '\0') {
			a->arg = a->bundle;
		} else if (a->i < a->argc) {
			a->arg = a->argv[a->i++];
		} else {
			(void)fmt_write(STDERR_FILENO,
			    "%s: option requires an argument -- '%c'\n",
			    a->argv[0], ch);
			ch = '?';
		}
		a->bundle = "";
	}
	if (*a->bundle == '\0')
		a->bundle = NULL;
	return ch;
}

int
args_next(struct args *a, const char *shorts, const struct args_long *longs)
{
	const char *word;

	if (a->bundle != NULL)
		return short_option(a, shorts);
	while (a->i < a->argc) {
		word = a->argv[a->i++];
		if (strcmp(word, "--") == 0)
			break;
		if (word[0] == '-' && word[1] == '-')
			return long_option(a, word + 2, longs);
		if (word[0] == '-' && word[1] != '\0') {
			a->bundle = word + 1;
			return short_option(a, shorts);
		}
		a->operands++;
		if (a->posix)
			break;
	}
	a->operands += a->argc - a->i;	/* after "--" or POSIXLY_CORRECT */
	a->i = a->argc;
	return -1;
}
