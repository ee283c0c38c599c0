/*
 * esmtp.c - the path and the ESMTP parameters of MAIL and RCPT.
 */
#include "esmtp.h"
#include "ascii.h"
#include "span.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/*
 * The end of the path starting at p: after its '>' when bracketed, else
 * at the first blank. A quoted local part may hold '>' and blanks, and a
 * backslash quotes the next byte inside it. NULL when there is no end.
 */
static const char *
path_end(const char *p, bool bracketed)
{
	bool quoted = false;

	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && bracketed && *p == '>')
			return p;
		else if (!quoted && bracketed && *p == '<')
			return NULL;	/* "<a<b>": no valid path */
		else if (!quoted && !bracketed && (*p == ' ' || *p == '\t'))
			return p;
	}
	return bracketed || quoted ? NULL : p;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
keyword_valid(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || !isalnum((unsigned char)k[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-')
			return false;
	return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126): printable, no "=". */
static bool
value_valid(const char *v, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126 ||
		    v[i] == '=')
			return false;
	return true;
}

static const char *
parse_params(const char *p, struct esmtp_args *a)
{
	while (*p != '\0') {
		size_t n = cspan(p, " \t");
		const char *eq = memchr(p, '=', n);
		struct esmtp_param *pm;

		if (a->nparams == ESMTP_PARAMS_MAX)
			return "too many parameters";
		pm = &a->params[a->nparams++];
		pm->key = p;
		pm->klen = eq != NULL ? (size_t)(eq - p) : n;
		pm->value = eq != NULL ? eq + 1 : NULL;
		pm->vlen = eq != NULL ? (size_t)(p + n - eq - 1) : 0;
		if (!keyword_valid(pm->key, pm->klen) ||
		    (pm->value != NULL && !value_valid(pm->value, pm->vlen)))
			return "bad parameter syntax";
		p += n;
		p += span(p, " \t");
	}
	return NULL;
}

const char *
esmtp_parse(const char *args, const char *keyword, bool allow_null,
    char *addr, size_t addrlen, struct esmtp_args *a)
{
	size_t klen = strlen(keyword), n;
	const char *p, *end;
	bool bracketed;

	memset(a, 0, sizeof(*a));
	a->addr = addr;
	addr[0] = '\0';
	if (ascii_ncasecmp(args, keyword, klen) != 0)
		return "no path";
	p = args + klen;
	p += span(p, " \t");
	if (*p == '\0')
		return "empty path";
	bracketed = *p == '<';
	p += bracketed;
	if ((end = path_end(p, bracketed)) == NULL)
		return "unterminated path";
	n = (size_t)(end - p);
	if (n == 0 && !(bracketed && allow_null))
		return "empty path";
	if (n >= addrlen)
		return "path too long";
	/* RFC 5321 has no TAB in an address, quoted or not: refused, so
	 * that none reaches SENDER or RECIPIENTS either. */
	if (memchr(p, '\t', n) != NULL)
		return "TAB in path";
	memcpy(addr, p, n);
	addr[n] = '\0';
	a->addrlen = n;
	p = end + bracketed;
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return "junk after path";
	p += span(p, " \t");
	return parse_params(p, a);
}

const struct esmtp_param *
esmtp_param(const struct esmtp_args *a, const char *key)
{
	size_t n = strlen(key);
	unsigned i;

	for (i = 0; i < a->nparams; i++)
		if (a->params[i].klen == n &&
		    ascii_ncasecmp(a->params[i].key, key, n) == 0)
			return &a->params[i];
	return NULL;
}

bool
esmtp_value_is(const struct esmtp_param *p, const char *word)
{
	size_t n = strlen(word);

	return p != NULL && p->value != NULL && p->vlen == n &&
	    ascii_ncasecmp(p->value, word, n) == 0;
}
