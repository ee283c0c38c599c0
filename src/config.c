/*
 * config.c - parse proxsmtpd.conf.
 *
 * One setting a line, "Name: value"; names are case-insensitive; '#' starts a
 * comment line; white space around the colon and at both ends is ignored. An
 * unknown name, a bad value or a repeated name is an error naming file:line.
 */
#include "config.h"
#include "ascii.h"
#include "fmt.h"
#include "outaddr.h"
#include "span.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef TLS_MODULE
#define TLS_MODULE "/usr/local/lib/proxsmtpd/proxsmtpd-tls.so"
#endif

/* An OutAddress value always fits the parsed host. */
_Static_assert(OUT_HOST_MAX >= CONFIG_VALUE_MAX, "OUT_HOST_MAX too small");

#define CONFIG_LINE_MAX 4096

enum setting {
	S_FILTER_COMMAND, S_FILTER_TYPE, S_FILTER_REJECT, S_FILTER_TIMEOUT,
	S_HEADER, S_KEEPALIVES, S_OUT_ADDRESS, S_SKIP, S_TEMP_DIRECTORY,
	S_TIMEOUT, S_TRANSPARENT_PROXY, S_USER, S_XCLIENT, S_BARE_NEWLINE,
	S_XFORWARD_HOSTS, S_MAX_RECIPIENTS, S_MAX_LINE_LENGTH, S_MAX_ERRORS,
	S_MAX_JUNK_COMMANDS, S_MAX_MESSAGE_SIZE, S_PROXY_PROTOCOL, S_PROXY_HOSTS,
	S_TLS_CERT, S_TLS_KEY, S_TLS_PROTOCOLS, S_TLS_CIPHERS, S_TLS_REQUIRE,
	S_OUT_TLS, S_OUT_TLS_CA_FILE, S_OUT_TLS_NAME, S_TLS_MODULE,
	S_LISTEN, S_MAX_CONNECTIONS, S_PID_FILE,
	S_COUNT
};

static const char *const setting_names[S_COUNT] = {
	[S_FILTER_COMMAND] = "FilterCommand",
	[S_FILTER_TYPE] = "FilterType",
	[S_FILTER_REJECT] = "FilterReject",
	[S_FILTER_TIMEOUT] = "FilterTimeout",
	[S_HEADER] = "Header",
	[S_KEEPALIVES] = "KeepAlives",
	[S_OUT_ADDRESS] = "OutAddress",
	[S_SKIP] = "Skip",
	[S_TEMP_DIRECTORY] = "TempDirectory",
	[S_TIMEOUT] = "TimeOut",
	[S_TRANSPARENT_PROXY] = "TransparentProxy",
	[S_USER] = "User",
	[S_XCLIENT] = "XClient",
	[S_BARE_NEWLINE] = "BareNewline",
	[S_XFORWARD_HOSTS] = "AuthorizedXForwardHosts",
	[S_MAX_RECIPIENTS] = "MaxRecipients",
	[S_MAX_LINE_LENGTH] = "MaxLineLength",
	[S_MAX_ERRORS] = "MaxErrors",
	[S_MAX_JUNK_COMMANDS] = "MaxJunkCommands",
	[S_MAX_MESSAGE_SIZE] = "MaxMessageSize",
	[S_PROXY_PROTOCOL] = "ProxyProtocol",
	[S_PROXY_HOSTS] = "ProxyProtocolHosts",
	[S_TLS_CERT] = "TLSCertificate",
	[S_TLS_KEY] = "TLSKey",
	[S_TLS_PROTOCOLS] = "TLSProtocols",
	[S_TLS_CIPHERS] = "TLSCiphers",
	[S_TLS_REQUIRE] = "TLSRequire",
	[S_OUT_TLS] = "OutTLS",
	[S_OUT_TLS_CA_FILE] = "OutTLSCAFile",
	[S_OUT_TLS_NAME] = "OutTLSName",
	[S_TLS_MODULE] = "TLSModule",
	[S_LISTEN] = "Listen",
	[S_MAX_CONNECTIONS] = "MaxConnections",
	[S_PID_FILE] = "PidFile",
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->filter_type = FILTER_PIPE;
	fmt(cfg->filter_reject, sizeof(cfg->filter_reject),
	    "530 Email Rejected");
	cfg->filter_timeout = 30;
	/*
	 * Under systemd's RuntimeDirectory= (the shipped unit gives each
	 * session its own, removed when the session ends, even after a
	 * SIGKILL) spool there unless TempDirectory says otherwise.
	 */
	const char *rt = getenv("RUNTIME_DIRECTORY");
	fmt(cfg->temp_directory, sizeof(cfg->temp_directory), "%s",
	    rt != NULL && rt[0] == '/' && strlen(rt) < sizeof(cfg->temp_directory) ?
	    rt : "/tmp");
	cfg->timeout = 180;
	cfg->transparent = TRANSPARENT_OFF;
	cfg->bare_newline = BARE_NEWLINE_NORMALIZE;
	/* Postfix's defaults: smtpd_authorized_xforward_hosts aside (it
	 * trusts nobody), whose closest safe value here is the host itself,
	 * where a local MTA in front of us runs; smtpd_recipient_limit,
	 * line_length_limit, smtpd_hard_error_limit and
	 * smtpd_junk_command_limit. */
	(void)netlist_parse("127.0.0.0/8, ::1", &cfg->xforward_hosts);
	cfg->max_recipients = 1000;
	cfg->max_line_length = 2048;
	cfg->max_errors = 20;
	cfg->max_junk_commands = 100;
	/* Not Postfix's message_size_limit (10240000): the upstream says
	 * its own limit and we advertise the smaller. Ours bounds what one
	 * session may spool to TempDirectory; 50 MiB is above what the big
	 * providers accept, so it refuses nothing they would take. */
	cfg->max_message_size = 52428800;
	cfg->proxy_protocol = PROXY_OFF;
	(void)netlist_parse("127.0.0.0/8, ::1", &cfg->proxy_hosts);
	cfg->out_tls = OUT_TLS_NONE;
	fmt(cfg->tls_module, sizeof(cfg->tls_module), "%s", TLS_MODULE);
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfmt(err, errlen, fmt, ap);
	va_end(ap);
}

static int
parse_seconds(const char *v, int min, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = dec_strtol(v, &end);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > 86400)
		return -1;
	*out = (int)n;
	return 0;
}

static int
parse_count(const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	long n;

	errno = 0;
	n = dec_strtol(v, &end);
	if (errno != 0 || end == v || *end != '\0' || n < (long)min ||
	    n > (long)max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* A byte count: digits only, min to max. */
static int
parse_bytes(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return -1;	/* strtoull would take "-1" and " 1" */
	errno = 0;
	n = dec_strtoull(v, &end);
	if (errno != 0 || *end != '\0' || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
parse_bool(const char *v, bool *out)
{
	if (ascii_casecmp(v, "on") == 0 || ascii_casecmp(v, "yes") == 0 ||
	    ascii_casecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = true;
		return 0;
	}
	if (ascii_casecmp(v, "off") == 0 || ascii_casecmp(v, "no") == 0 ||
	    ascii_casecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

/* Decodes the \r \n \t \\ escapes of the Header setting. */
static int
decode_escapes(const char *v, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *v != '\0'; v++) {
		char c = *v;

		if (c == '\\') {
			v++;
			switch (*v) {
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '\\': c = '\\'; break;
			default: return -1;
			}
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * A Header is header lines (RFC 5322 2.2): each one a field name and a
 * colon, or a folded continuation (space or tab, then text). No empty
 * line: that would end the header block and push the rest into the body.
 */
static int
header_valid(const char *h)
{
	const char *p = h, *name;

	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			if (p == h)
				return 0;	/* nothing to continue */
			p += span(p, " \t");
			if (*p == '\r' || *p == '\n' || *p == '\0')
				return 0;	/* a blank line */
		} else {
			for (name = p; *p > 32 && *p < 127 && *p != ':'; p++)
				;
			if (p == name || *p != ':')
				return 0;
		}
		p += cspan(p, "\r\n");
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p != '\0')
			p++;
	}
	return 1;
}

static int
copy_value(char *dst, size_t dstlen, const char *v)
{
	if (strlen(v) >= dstlen)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/*
 * Postfix's protocol list, as the TLS module reads it: ">=V", "<=V", "!V"
 * or "V", V one of SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3, separated by
 * blanks, commas or colons.
 */
static int
protocols_valid(const char *p)
{
	static const char *const names[] = { "SSLv3", "TLSv1", "TLSv1.1",
	    "TLSv1.2", "TLSv1.3", NULL };
	size_t n, skip;
	int i;

	while (*(p += span(p, " \t,:")) != '\0') {
		n = cspan(p, " \t,:");
		skip = (p[0] == '>' || p[0] == '<') && p[1] == '=' ? 2 :
		    p[0] == '!' ? 1 : 0;
		for (i = 0; names[i] != NULL; i++)
			if (strlen(names[i]) == n - skip &&
			    ascii_ncasecmp(p + skip, names[i], n - skip) == 0)
				break;
		if (names[i] == NULL)
			return 0;
		p += n;
	}
	return 1;
}

/* The TLS settings whose value is text: files, lists, a name. */
static const char *
apply_tls_text(struct config *cfg, enum setting s, const char *v)
{
	static const char abs_path[] = "expected an absolute path";
	char *dst;
	size_t len;

	switch (s) {
	case S_TLS_CERT: dst = cfg->tls_cert; len = sizeof(cfg->tls_cert);
		break;
	case S_TLS_KEY: dst = cfg->tls_key; len = sizeof(cfg->tls_key); break;
	case S_TLS_PROTOCOLS:
		if (!protocols_valid(v))
			return "expected e.g. '>=TLSv1.2' or '!SSLv3, !TLSv1' "
			    "(SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)";
		dst = cfg->tls_protocols;
		len = sizeof(cfg->tls_protocols);
		break;
	case S_TLS_CIPHERS: dst = cfg->tls_ciphers;
		len = sizeof(cfg->tls_ciphers); break;
	case S_OUT_TLS_CA_FILE: dst = cfg->out_tls_ca_file;
		len = sizeof(cfg->out_tls_ca_file); break;
	case S_OUT_TLS_NAME: dst = cfg->out_tls_name;
		len = sizeof(cfg->out_tls_name); break;
	case S_TLS_MODULE: dst = cfg->tls_module;
		len = sizeof(cfg->tls_module); break;
	default:
		return "internal error";
	}
	/* Files are read later, maybe after a chdir or as another user. */
	if ((s == S_TLS_CERT || s == S_TLS_KEY || s == S_OUT_TLS_CA_FILE ||
	    s == S_TLS_MODULE) && v[0] != '\0' && v[0] != '/')
		return abs_path;
	if (s == S_TLS_MODULE && v[0] == '\0')
		return abs_path;
	return copy_value(dst, len, v) ? "value too long" : NULL;
}

#define TOO_LONG(dst, v) (copy_value(dst, sizeof(dst), v) ? "value too long" : NULL)

/* The settings whose value is text: paths, commands, replies, Header. */
static const char *
apply_text(struct config *cfg, enum setting s, const char *v)
{
	struct out_address oa;
	const char *bad;

	switch (s) {
	case S_FILTER_COMMAND:
		return TOO_LONG(cfg->filter_command, v);
	case S_FILTER_REJECT:
		return *v == '\0' ? "empty reply" :
		    TOO_LONG(cfg->filter_reject, v);
	case S_HEADER:
		if (decode_escapes(v, cfg->header, sizeof(cfg->header)))
			return "bad escape (only \\r \\n \\t \\\\) or too long";
		if (!header_valid(cfg->header))
			return "expected 'Field-Name: value'";
		return NULL;
	case S_OUT_ADDRESS:
		if (*v == '\0')
			return "empty address";
		if ((bad = out_address_parse(v, &oa)) != NULL)
			return bad;
		return TOO_LONG(cfg->out_address, v);
	case S_TEMP_DIRECTORY:
		return *v != '/' ? "expected an absolute path" :
		    TOO_LONG(cfg->temp_directory, v);
	case S_USER:
		return TOO_LONG(cfg->user, v);
	default:
		return apply_tls_text(cfg, s, v);
	}
}

/* The settings whose value is a number of seconds or of things. */
static const char *
apply_number(struct config *cfg, enum setting s, const char *v)
{
	static const char seconds1[] = "expected seconds (1-86400)";
	static const char count[] = "expected a number (1-100000)";

	switch (s) {
	case S_FILTER_TIMEOUT:
		return parse_seconds(v, 1, &cfg->filter_timeout) ? seconds1 :
		    NULL;
	case S_KEEPALIVES:
		return parse_seconds(v, 0, &cfg->keepalives) ?
		    "expected seconds (0-86400)" : NULL;
	case S_TIMEOUT:
		return parse_seconds(v, 1, &cfg->timeout) ? seconds1 : NULL;
	case S_MAX_RECIPIENTS:
		return parse_count(v, 1, 100000, &cfg->max_recipients) ?
		    count : NULL;
	case S_MAX_LINE_LENGTH:
		return parse_count(v, LINE_LENGTH_MIN, LINE_LENGTH_MAX,
		    &cfg->max_line_length) ? "expected bytes (512-8192)" : NULL;
	case S_MAX_ERRORS:
		return parse_count(v, 1, 100000, &cfg->max_errors) ? count :
		    NULL;
	case S_MAX_JUNK_COMMANDS:
		return parse_count(v, 1, 100000, &cfg->max_junk_commands) ?
		    count : NULL;
	case S_MAX_MESSAGE_SIZE:
		return parse_bytes(v, MESSAGE_SIZE_MAX, &cfg->max_message_size) ?
		    "expected bytes (0-1099511627776, 0 = no limit)" : NULL;
	default:
		return "internal error";
	}
}

/* Which of the words (case-insensitive) v is, or -1. */
static int
parse_choice(const char *v, const char *const *words)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (ascii_casecmp(v, words[i]) == 0)
			return i;
	return -1;
}

/* The settings whose value is one of a few words. */
static const char *
apply_choice(struct config *cfg, enum setting s, const char *v)
{
	static const char *const types[] = { "pipe", "file", "reject", NULL };
	static const char *const skips[] = { "none", "", "authenticated",
	    NULL };
	static const char *const bare[] = { "normalize", "reject", NULL };
	static const char *const modes[] = { "full", "client", NULL };
	int k;
	bool b;

	switch (s) {
	case S_FILTER_TYPE:
		if ((k = parse_choice(v, types)) < 0)
			return "expected pipe, file or reject";
		cfg->filter_type = k == 0 ? FILTER_PIPE : k == 1 ? FILTER_FILE :
		    FILTER_REJECT;
		return NULL;
	case S_SKIP:
		if ((k = parse_choice(v, skips)) < 0)
			return "expected authenticated or none";
		cfg->skip_authenticated = k == 2;
		return NULL;
	case S_TRANSPARENT_PROXY:
		if ((k = parse_choice(v, modes)) >= 0)
			cfg->transparent = k == 0 ? TRANSPARENT_FULL :
			    TRANSPARENT_CLIENT;
		else if (parse_bool(v, &b) == 0)
			cfg->transparent = b ? TRANSPARENT_CLIENT :
			    TRANSPARENT_OFF;
		else
			return "expected off, on, client or full";
		return NULL;
	case S_XCLIENT:
		return parse_bool(v, &cfg->xclient) ? "expected on or off" :
		    NULL;
	case S_TLS_REQUIRE:
		return parse_bool(v, &cfg->tls_require) ? "expected on or off" :
		    NULL;
	case S_OUT_TLS: {
		/* In the order of enum out_tls. */
		static const char *const levels[] = { "none", "may",
		    "encrypt", "verify", NULL };

		if ((k = parse_choice(v, levels)) < 0)
			return "expected none, may, encrypt or verify";
		cfg->out_tls = (enum out_tls)k;
		return NULL;
	}
	case S_BARE_NEWLINE:
		if ((k = parse_choice(v, bare)) < 0)
			return "expected normalize or reject";
		cfg->bare_newline = k == 0 ? BARE_NEWLINE_NORMALIZE :
		    BARE_NEWLINE_REJECT;
		return NULL;
	default:
		return "internal error";
	}
}

/* Returns NULL or a description of what is wrong with the value. */
static const char *
apply_setting(struct config *cfg, enum setting s, const char *v)
{
	switch (s) {
	case S_FILTER_COMMAND:
	case S_FILTER_REJECT:
	case S_HEADER:
	case S_OUT_ADDRESS:
	case S_TEMP_DIRECTORY:
	case S_USER:
	case S_TLS_CERT:
	case S_TLS_KEY:
	case S_TLS_PROTOCOLS:
	case S_TLS_CIPHERS:
	case S_OUT_TLS_CA_FILE:
	case S_OUT_TLS_NAME:
	case S_TLS_MODULE:
		return apply_text(cfg, s, v);
	case S_FILTER_TIMEOUT:
	case S_KEEPALIVES:
	case S_TIMEOUT:
	case S_MAX_RECIPIENTS:
	case S_MAX_LINE_LENGTH:
	case S_MAX_ERRORS:
	case S_MAX_JUNK_COMMANDS:
	case S_MAX_MESSAGE_SIZE:
		return apply_number(cfg, s, v);
	case S_FILTER_TYPE:
	case S_SKIP:
	case S_TRANSPARENT_PROXY:
	case S_XCLIENT:
	case S_BARE_NEWLINE:
	case S_TLS_REQUIRE:
	case S_OUT_TLS:
		return apply_choice(cfg, s, v);
	case S_XFORWARD_HOSTS:
		return netlist_parse(v, &cfg->xforward_hosts);
	case S_PROXY_PROTOCOL: {
		/* In the order of enum proxy_mode. */
		static const char *const modes[] = { "off", "v1", "v2", "any",
		    NULL };
		int k = parse_choice(v, modes);

		if (k < 0)
			return "expected off, v1, v2 or any";
		cfg->proxy_protocol = (enum proxy_mode)k;
		return NULL;
	}
	case S_PROXY_HOSTS:
		return netlist_parse(v, &cfg->proxy_hosts);
	case S_LISTEN:
	case S_MAX_CONNECTIONS:
	case S_PID_FILE:
		/* The launcher does these jobs now; main logs that. */
		fmt(cfg->ignored + strlen(cfg->ignored),
		    sizeof(cfg->ignored) - strlen(cfg->ignored), "%s%s",
		    cfg->ignored[0] ? ", " : "", setting_names[s]);
		return NULL;
	case S_COUNT:
		break;
	}
	return "internal error";
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Line lineno of the file: blank, a comment, or a setting not given
 * before, applied. -1 with err filled in.
 */
static int
config_line(struct config *cfg, char *line, bool seen[S_COUNT],
    const char *path, int lineno, char *err, size_t errlen)
{
	char *name = trim(line), *value, *colon;
	const char *why;
	int s;

	if (*name == '\0' || *name == '#')
		return 0;
	colon = strchr(name, ':');
	if (colon == NULL) {
		seterr(err, errlen, "%s:%d: expected 'Name: value'", path,
		    lineno);
		return -1;
	}
	*colon = '\0';
	name = trim(name);
	value = trim(colon + 1);
	for (s = 0; s < S_COUNT; s++)
		if (ascii_casecmp(name, setting_names[s]) == 0)
			break;
	if (s == S_COUNT) {
		seterr(err, errlen, "%s:%d: unknown setting '%s'", path, lineno,
		    name);
		return -1;
	}
	if (seen[s]) {
		seterr(err, errlen, "%s:%d: %s given twice", path, lineno,
		    setting_names[s]);
		return -1;
	}
	seen[s] = true;
	why = apply_setting(cfg, (enum setting)s, value);
	if (why != NULL) {
		seterr(err, errlen, "%s:%d: %s: %s", path, lineno,
		    setting_names[s], why);
		return -1;
	}
	return 0;
}

/* The configuration file, read in chunks with read(2): what fgets() did,
 * without stdio (a session need not pull that part of libc in). */
struct reader {
	int	fd;
	bool	eof, error;
	size_t	pos, end;
	char	buf[4096];
};

/* The next byte, or -1 at the end of the file or on an error. */
static int
next_byte(struct reader *r)
{
	ssize_t n;

	if (r->pos == r->end) {
		if (r->eof || r->error)
			return -1;
		do
			n = read(r->fd, r->buf, sizeof(r->buf));
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			r->error = n < 0;
			r->eof = n == 0;
			return -1;
		}
		r->pos = 0;
		r->end = (size_t)n;
	}
	return (unsigned char)r->buf[r->pos++];
}

/* As fgets(): up to max - 1 bytes, through the first LF, NUL-terminated;
 * false at the end of the file or on an error. */
static bool
read_line(struct reader *r, char *line, size_t max)
{
	size_t n = 0;
	int c;

	while (n + 1 < max && (c = next_byte(r)) >= 0) {
		line[n++] = (char)c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return n > 0 && !r->error;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	char line[CONFIG_LINE_MAX];
	bool seen[S_COUNT] = { false };
	struct reader r = { .fd = -1 };
	int lineno = 0;
	int rc = 0;

	if (copy_value(cfg->path, sizeof(cfg->path), path)) {
		seterr(err, errlen, "%s: path too long", path);
		return -1;
	}
	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? -2 : -1;
	}
	while (rc == 0 && read_line(&r, line, sizeof(line))) {
		lineno++;
		/* A NUL before the LF counts as no LF, as it did with fgets. */
		if (strchr(line, '\n') == NULL && !r.eof) {
			seterr(err, errlen, "%s:%d: line too long", path,
			    lineno);
			rc = -1;
			break;
		}
		rc = config_line(cfg, line, seen, path, lineno, err, errlen);
	}
	if (rc == 0 && r.error) {
		seterr(err, errlen, "%s: read error", path);
		rc = -1;
	}
	close(r.fd);
	return rc;
}

int
config_validate(const struct config *cfg, char *err, size_t errlen)
{
	struct out_address oa;

	if (cfg->transparent == TRANSPARENT_OFF && cfg->out_address[0] == '\0') {
		seterr(err, errlen,
		    "%s: OutAddress is required unless TransparentProxy is on",
		    cfg->path);
		return -1;
	}
	if (cfg->transparent != TRANSPARENT_OFF && cfg->out_address[0] != '\0') {
		seterr(err, errlen,
		    "%s: OutAddress and TransparentProxy exclude each other",
		    cfg->path);
		return -1;
	}
	if (cfg->tls_cert[0] == '\0' && (cfg->tls_key[0] != '\0' ||
	    cfg->tls_require)) {
		seterr(err, errlen, "%s: %s needs a TLSCertificate", cfg->path,
		    cfg->tls_require ? "TLSRequire" : "TLSKey");
		return -1;
	}
	if (cfg->out_tls == OUT_TLS_VERIFY && cfg->out_tls_name[0] == '\0' &&
	    (cfg->out_address[0] == '\0' || out_address_parse(cfg->out_address,
	    &oa) != NULL || oa.kind != OUT_HOST)) {
		/* Without a name only the chain would be checked: any
		 * certificate of that CA would do. */
		seterr(err, errlen, "%s: OutTLS verify needs OutTLSName: "
		    "OutAddress names no host", cfg->path);
		return -1;
	}
	if (cfg->filter_type == FILTER_FILE && cfg->filter_command[0] == '\0') {
		seterr(err, errlen, "%s: FilterType file needs a FilterCommand",
		    cfg->path);
		return -1;
	}
	return 0;
}

/* Text built line by line into a buffer, counted in full as fmt() does. */
struct text {
	char	*buf;
	size_t	 size, len;
};

static void __attribute__((format(printf, 2, 3)))
add(struct text *t, const char *format, ...)
{
	size_t at = t->len < t->size ? t->len : t->size;
	va_list ap;

	va_start(ap, format);
	t->len += (size_t)vfmt(t->buf + at, t->size - at, format, ap);
	va_end(ap);
}

static void
add_escaped(struct text *t, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			add(t, "\\r");
		else if (*s == '\n')
			add(t, "\\n");
		else if (*s == '\t')
			add(t, "\\t");
		else if (*s == '\\')
			add(t, "\\\\");
		else
			add(t, "%c", *s);
	}
}

size_t
config_format(const struct config *cfg, char *buf, size_t size)
{
	static const char *const types[] = { "pipe", "file", "reject" };
	static const char *const tp[] = { "off", "client", "full" };
	static const char *const pp[] = { "off", "v1", "v2", "any" };
	static const char *const ot[] = { "none", "may", "encrypt", "verify" };
	char nets[NETLIST_MAX * 48];
	struct text t = { .buf = buf, .size = size };
	struct text *out = &t;

	add(out, "# effective settings of %s\n", cfg->path);
	add(out, "FilterCommand: %s\n", cfg->filter_command);
	add(out, "FilterType: %s\n", types[cfg->filter_type]);
	add(out, "FilterReject: %s\n", cfg->filter_reject);
	add(out, "FilterTimeout: %d\n", cfg->filter_timeout);
	add(out, "Header: ");
	add_escaped(out, cfg->header);
	add(out, "\n");
	add(out, "KeepAlives: %d\n", cfg->keepalives);
	/* Unset (TransparentProxy): a comment, so the output loads back. */
	add(out, "%sOutAddress: %s\n", cfg->out_address[0] ? "" : "#",
	    cfg->out_address);
	add(out, "Skip: %s\n", cfg->skip_authenticated ? "authenticated" :
	    "none");
	add(out, "TempDirectory: %s\n", cfg->temp_directory);
	add(out, "TimeOut: %d\n", cfg->timeout);
	add(out, "TransparentProxy: %s\n", tp[cfg->transparent]);
	add(out, "User: %s\n", cfg->user);
	add(out, "XClient: %s\n", cfg->xclient ? "on" : "off");
	add(out, "BareNewline: %s\n",
	    cfg->bare_newline == BARE_NEWLINE_REJECT ? "reject" : "normalize");
	netlist_format(&cfg->xforward_hosts, nets, sizeof(nets));
	add(out, "AuthorizedXForwardHosts: %s\n", nets);
	add(out, "MaxRecipients: %u\n", cfg->max_recipients);
	add(out, "MaxLineLength: %u\n", cfg->max_line_length);
	add(out, "MaxErrors: %u\n", cfg->max_errors);
	add(out, "MaxJunkCommands: %u\n", cfg->max_junk_commands);
	add(out, "MaxMessageSize: %llu\n", cfg->max_message_size);
	add(out, "ProxyProtocol: %s\n", pp[cfg->proxy_protocol]);
	netlist_format(&cfg->proxy_hosts, nets, sizeof(nets));
	add(out, "ProxyProtocolHosts: %s\n", nets);
	add(out, "TLSCertificate: %s\n", cfg->tls_cert);
	add(out, "TLSKey: %s\n", cfg->tls_key);
	add(out, "TLSProtocols: %s\n", cfg->tls_protocols);
	add(out, "TLSCiphers: %s\n", cfg->tls_ciphers);
	add(out, "TLSRequire: %s\n", cfg->tls_require ? "on" : "off");
	add(out, "OutTLS: %s\n", ot[cfg->out_tls]);
	add(out, "OutTLSCAFile: %s\n", cfg->out_tls_ca_file);
	add(out, "OutTLSName: %s\n", cfg->out_tls_name);
	add(out, "TLSModule: %s\n", cfg->tls_module);
	return t.len;
}
