/*
 * esmtp.h - the arguments of MAIL FROM: and RCPT TO: (RFC 5321 4.1.2).
 *
 * A path, then ESMTP parameters as "KEYWORD[=value]" tokens. They are
 * parsed once, here, and every check of a parameter (BODY, SIZE, SMTPUTF8,
 * DSN's...) asks the parsed list, never the raw line: "BODY=BINARYMIME"
 * inside an address is an address.
 */
#ifndef PROXSMTPD_ESMTP_H
#define PROXSMTPD_ESMTP_H

#include <stdbool.h>
#include <stddef.h>

#define ESMTP_PARAMS_MAX 16	/* more than any extension set uses */

struct esmtp_param {
	const char *key;	/* points into the parsed line */
	size_t	klen;
	const char *value;	/* NULL when the keyword has no "=" */
	size_t	vlen;
};

struct esmtp_args {
	/* The address without its angle brackets; "" for "<>". */
	char	*addr;
	size_t	addrlen;
	unsigned nparams;
	struct esmtp_param params[ESMTP_PARAMS_MAX];
};

/*
 * Parses "KEYWORD <path> params" (keyword "FROM:" or "TO:", blanks after
 * the colon tolerated, brackets optional as Postfix allows) into a, the
 * address copied into addr (addrlen bytes). allow_null: "<>" is valid (the
 * null sender). Returns NULL, or the reason it is refused.
 */
const char *esmtp_parse(const char *args, const char *keyword, bool allow_null,
	    char *addr, size_t addrlen, struct esmtp_args *a);
/* The parameter named key (case-insensitive), or NULL. */
const struct esmtp_param *esmtp_param(const struct esmtp_args *,
	    const char *key);
/* Whether p's value is word (case-insensitive). */
bool	esmtp_value_is(const struct esmtp_param *p, const char *word);

#endif
