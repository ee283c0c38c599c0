/*
 * tls.h - what the TLS module (proxsmtpd-tls.so, built from src/tls.c
 * with OpenSSL) offers the program, which loads it with dlopen() only
 * when a session needs TLS (src/tlsmod.c).
 *
 * proxsmtpd is started once per connection: linking libssl would cost every
 * session ~0.9 ms of loading and relocation, TLS or not (bench/results.md,
 * STARTTLS). The module does no waiting of its own: every call is
 * non-blocking and says what it waits for; the program waits
 * (io_wait_until()).
 */
#ifndef PROXSMTPD_TLS_H
#define PROXSMTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* Raised whenever struct tls_api or struct tls_settings change. */
#define TLS_API_VERSION 2
#define TLS_API_SYMBOL "proxsmtpd_tls_api"
#define TLS_WHY_MAX 256

/* What a call that did not finish waits for. */
enum tls_want {
	TLS_DONE = 0,
	TLS_WANT_READ = 1,
	TLS_WANT_WRITE = 2,
	TLS_FAILED = -1,	/* why says it */
};

struct tls_settings {
	const char *cert_file, *key_file;	/* server: PEM chain, key */
	/* Postfix's smtpd_tls_protocols syntax (">=TLSv1.2", "!TLSv1
	 * !TLSv1.1"); "" = OpenSSL's defaults. */
	const char *protocols;
	const char *ciphers;	/* OpenSSL cipher list (TLS <= 1.2); "" */
	const char *ca_file;	/* client, verifying: "" = the system's */
	bool	verify;		/* client: check the chain and the name */
};

struct tls_info {
	char	protocol[32];	/* "TLSv1.3" */
	char	cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	int	bits;
};

struct tls_api {
	unsigned version;	/* TLS_API_VERSION */
	/* A context for the server (inbound) or client (outbound) side;
	 * NULL with why. */
	void	*(*ctx_new)(bool server, const struct tls_settings *,
		    char *why);
	void	(*ctx_free)(void *ctx);
	/* A connection over rfd/wfd. name (client side): sent as SNI and,
	 * when the context verifies, the name the certificate must have. */
	void	*(*conn_new)(void *ctx, int rfd, int wfd, const char *name,
		    char *why);
	int	(*handshake)(void *conn, char *why);	/* enum tls_want */
	/* > 0 bytes, 0 at the end of the stream, -1 with *want set
	 * (TLS_FAILED: why says it). */
	long	(*read)(void *conn, void *buf, size_t n, int *want, char *why);
	long	(*write)(void *conn, const void *buf, size_t n, int *want,
		    char *why);
	void	(*info)(void *conn, struct tls_info *);
	/* Sends close_notify if it can without waiting. */
	void	(*shutdown)(void *conn);
};

#endif
