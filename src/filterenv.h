/*
 * filterenv.h - the environment a filter runs with (proxsmtpd(8)).
 */
#ifndef PROXSMTPD_FILTERENV_H
#define PROXSMTPD_FILTERENV_H

/* The environment the filter sees: its strings packed one after the other
 * in vars, so that only the bytes used are touched (a slot of 4 KiB each
 * faulted in 9 pages for every message). */
#define FILTER_ENV_VARS 11
struct filter_env {
	char	*envp[FILTER_ENV_VARS + 2];	/* + RECIPIENTS, NULL */
	char	vars[FILTER_ENV_VARS * 4096];	/* PATH, paths: long */
};

/* What goes into it: "" leaves REMOTE and REMOTE_HELO out, NULL EMAIL. */
struct filter_env_values {
	const char *client, *sender, *server, *tmpdir;
	const char *remote, *remote_helo;
	/* The client's TLS (STARTTLS); "" leaves TLS_PROTOCOL and
	 * TLS_CIPHER out. */
	const char *tls_protocol, *tls_cipher;
	const char *email;
	char	*recipients;	/* "RECIPIENTS=...", used in place */
};

void	build_env(struct filter_env *, const struct filter_env_values *);

#endif
