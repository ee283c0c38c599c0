/*
 * config.h - proxsmtpd.conf: the settings of one run.
 *
 * The file is parsed once at start-up into a struct config that the rest of
 * the program reads and never changes.
 */
#ifndef PROXSMTPD_CONFIG_H
#define PROXSMTPD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "netlist.h"
#include "proxyproto.h"

#define CONFIG_VALUE_MAX 1024	/* longest value of any setting */
/* The bounds of the limits an operator may set; the buffers have the size
 * of the upper bound. */
#define LINE_LENGTH_MIN 512	/* RFC 5321 4.5.3.1.4 */
#define LINE_LENGTH_MAX 8192
#define MESSAGE_SIZE_MAX 1099511627776ULL	/* 1 TiB: more is a typo */

enum filter_type {
	FILTER_PIPE,
	FILTER_FILE,
	FILTER_REJECT,
};

enum transparent_mode {
	TRANSPARENT_OFF,
	TRANSPARENT_CLIENT,	/* upstream = original destination */
	TRANSPARENT_FULL,	/* ... and connect from the client's address */
};

enum bare_newline {
	BARE_NEWLINE_NORMALIZE,	/* bare CR / LF in DATA become CRLF */
	BARE_NEWLINE_REJECT,	/* a message holding one is refused */
};

/* STARTTLS to the upstream: Postfix's smtp_tls_security_level words. */
enum out_tls {
	OUT_TLS_NONE,
	OUT_TLS_MAY,		/* when offered; plaintext otherwise */
	OUT_TLS_ENCRYPT,	/* required, the certificate not checked */
	OUT_TLS_VERIFY,		/* required, chain and name checked */
};

struct config {
	char	path[CONFIG_VALUE_MAX];
	char	filter_command[CONFIG_VALUE_MAX];	/* empty: no filter */
	enum filter_type filter_type;
	char	filter_reject[CONFIG_VALUE_MAX];
	int	filter_timeout;		/* seconds */
	char	header[CONFIG_VALUE_MAX];	/* escapes \r \n already decoded */
	int	keepalives;		/* seconds, 0 = off */
	char	out_address[CONFIG_VALUE_MAX];
	bool	skip_authenticated;
	char	temp_directory[CONFIG_VALUE_MAX];
	int	timeout;		/* seconds */
	enum transparent_mode transparent;
	char	user[CONFIG_VALUE_MAX];
	bool	xclient;
	enum bare_newline bare_newline;
	/* Whose XFORWARD is believed and relayed. */
	struct netlist xforward_hosts;
	/* A PROXY protocol header expected first, and from whom. */
	enum proxy_mode proxy_protocol;
	struct netlist proxy_hosts;
	unsigned max_recipients;	/* RCPTs accepted in one transaction */
	unsigned max_line_length;	/* a command line, CRLF included */
	unsigned max_errors;		/* 4xx/5xx replies before we hang up */
	unsigned max_junk_commands;	/* commands between deliveries */
	/* Bytes of one message as the client sends it (RFC 1870), 0 = no
	 * limit of our own. */
	unsigned long long max_message_size;
	/* STARTTLS offered to clients when tls_cert is set (tls.h). */
	char	tls_cert[CONFIG_VALUE_MAX];
	char	tls_key[CONFIG_VALUE_MAX];	/* empty: in tls_cert */
	char	tls_protocols[CONFIG_VALUE_MAX];
	char	tls_ciphers[CONFIG_VALUE_MAX];
	bool	tls_require;		/* 530 to MAIL and AUTH before TLS */
	enum out_tls out_tls;
	char	out_tls_ca_file[CONFIG_VALUE_MAX];
	char	out_tls_name[CONFIG_VALUE_MAX];	/* empty: OutAddress's */
	char	tls_module[CONFIG_VALUE_MAX];	/* proxsmtpd-tls.so */
	char	ignored[128];	/* daemon settings of 1.10 that were given */
};

void	config_defaults(struct config *);
/*
 * Reads path into cfg. On failure writes "file:line: reason" into err and
 * returns -1. A missing file returns -2 (err says so) so that the caller can
 * decide whether that is fatal.
 */
int	config_load(struct config *, const char *path, char *err, size_t errlen);
/* Checks that the settings work together (e.g. an OutAddress is given). */
int	config_validate(const struct config *, char *err, size_t errlen);
/* What -t prints, as fmt() would: the length it needs, at most size - 1
 * bytes of it in buf. CONFIG_TEXT_MAX holds any configuration. */
#define CONFIG_TEXT_MAX (40 * CONFIG_VALUE_MAX + 2 * NETLIST_MAX * 48)
size_t	config_format(const struct config *, char *buf, size_t size);

#endif
