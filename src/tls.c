/*
 * tls.c - the TLS module: STARTTLS on either leg with OpenSSL, built as
 * proxsmtpd-tls.so and loaded by the program only when a session needs it
 * (src/tlsmod.c). It exports one symbol, proxsmtpd_tls_api.
 *
 * Certificates, keys and cipher lists are OpenSSL's (PEM files, OpenSSL
 * cipher strings), as Postfix reads them, so that an operator can name the
 * files Postfix uses. Every call is non-blocking: what it waits for goes
 * back to the program, which does the waiting.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* The first error OpenSSL queued (the queue is emptied), after what. */
static void
ssl_why(char *why, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	if (e == 0)
		snprintf(why, TLS_WHY_MAX, "%s", what);
	else {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(why, TLS_WHY_MAX, "%s: %s", what, buf);
	}
	ERR_clear_error();
}

static int
version_of(const char *v, size_t n)
{
	static const struct { const char *name; int v; } names[] = {
		{ "SSLv3", SSL3_VERSION }, { "TLSv1", TLS1_VERSION },
		{ "TLSv1.1", TLS1_1_VERSION }, { "TLSv1.2", TLS1_2_VERSION },
		{ "TLSv1.3", TLS1_3_VERSION },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(v, names[i].name, n) == 0)
			return names[i].v;
	return -1;
}

static long
no_option_of(int v)
{
	switch (v) {
	case SSL3_VERSION: return SSL_OP_NO_SSLv3;
	case TLS1_VERSION: return SSL_OP_NO_TLSv1;
	case TLS1_1_VERSION: return SSL_OP_NO_TLSv1_1;
	case TLS1_2_VERSION: return SSL_OP_NO_TLSv1_2;
	default: return SSL_OP_NO_TLSv1_3;
	}
}

/*
 * Postfix's protocol list: ">=V", "<=V", "!V" (excluded) or "V" (the
 * lowest and highest named bound it), separated by blanks, commas or
 * colons.
 */
static int
set_protocols(SSL_CTX *ctx, const char *list, char *why)
{
	int min = 0, max = 0, lo = 0, hi = 0, v;
	const char *p = list;
	size_t n;

	while (*(p += strspn(p, " \t,:")) != '\0') {
		n = strcspn(p, " \t,:");
		if (n > 2 && (p[0] == '>' || p[0] == '<') && p[1] == '=')
			v = version_of(p + 2, n - 2);
		else if (n > 1 && p[0] == '!')
			v = version_of(p + 1, n - 1);
		else
			v = version_of(p, n);
		if (v < 0) {
			snprintf(why, TLS_WHY_MAX, "TLSProtocols: unknown "
			    "protocol '%.*s'", (int)n, p);
			return -1;
		}
		if (p[0] == '>')
			min = v;
		else if (p[0] == '<')
			max = v;
		else if (p[0] == '!')
			SSL_CTX_set_options(ctx, no_option_of(v));
		else {
			lo = lo == 0 || v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		p += n;
	}
	if ((min = min ? min : lo) != 0 && !SSL_CTX_set_min_proto_version(ctx,
	    min)) {
		ssl_why(why, "TLSProtocols");
		return -1;
	}
	if ((max = max ? max : hi) != 0 && !SSL_CTX_set_max_proto_version(ctx,
	    max)) {
		ssl_why(why, "TLSProtocols");
		return -1;
	}
	return 0;
}

/* The certificate chain and key of the server side. */
static int
load_identity(SSL_CTX *ctx, const struct tls_settings *ts, char *why)
{
	char what[TLS_WHY_MAX];

	snprintf(what, sizeof(what), "TLSCertificate %s", ts->cert_file);
	if (SSL_CTX_use_certificate_chain_file(ctx, ts->cert_file) != 1) {
		ssl_why(why, what);
		return -1;
	}
	snprintf(what, sizeof(what), "TLSKey %s", ts->key_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, ts->key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ssl_why(why, what);
		return -1;
	}
	return 0;
}

/* The client side: what it trusts when it verifies. */
static int
load_trust(SSL_CTX *ctx, const struct tls_settings *ts, char *why)
{
	char what[TLS_WHY_MAX];

	if (!ts->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	snprintf(what, sizeof(what), "OutTLSCAFile %s", ts->ca_file);
	if (ts->ca_file[0] != '\0' ?
	    SSL_CTX_load_verify_locations(ctx, ts->ca_file, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ssl_why(why, ts->ca_file[0] ? what : "the system's CA store");
		return -1;
	}
	return 0;
}

static void *
ctx_new(bool server, const struct tls_settings *ts, char *why)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());

	if (ctx == NULL) {
		ssl_why(why, "SSL_CTX_new");
		return NULL;
	}
	/* One process, one connection: no session to resume later, no
	 * renegotiation, and a peer's missing close_notify is an end of
	 * stream (SMTP has its own). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (set_protocols(ctx, ts->protocols, why) < 0)
		goto fail;
	if (ts->ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, ts->ciphers) != 1) {
		ssl_why(why, "TLSCiphers");
		goto fail;
	}
	if (server ? load_identity(ctx, ts, why) : load_trust(ctx, ts, why))
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The name the client side sends (SNI) and, verifying, checks. */
static int
set_peer_name(SSL *ssl, const char *name, char *why)
{
	unsigned char addr[sizeof(struct in6_addr)];
	bool ip = inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1;
	bool verify = SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE;

	/* RFC 6066: SNI is a host name, never an address. */
	if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
		ssl_why(why, "server name");
		return -1;
	}
	if (!verify)
		return 0;
	if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1 :
	    SSL_set1_host(ssl, name) != 1) {
		ssl_why(why, "OutTLSName");
		return -1;
	}
	return 0;
}

static void *
conn_new(void *ctx, int rfd, int wfd, const char *name, char *why)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL) {
		ssl_why(why, "SSL_new");
		return NULL;
	}
	if (SSL_set_rfd(ssl, rfd) != 1 || SSL_set_wfd(ssl, wfd) != 1) {
		ssl_why(why, "SSL_set_fd");
		SSL_free(ssl);
		return NULL;
	}
	if (name == NULL) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_set_connect_state(ssl);
	if (name[0] != '\0' && set_peer_name(ssl, name, why) < 0) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* What an unfinished call (its result r) waits for, or why it failed. */
static int
want_of(SSL *ssl, int r, const char *what, char *why)
{
	int e = SSL_get_error(ssl, r);
	long vr;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			snprintf(why, TLS_WHY_MAX, "%s: %s", what, errno != 0 ?
			    strerror(errno) : "connection closed");
			return TLS_FAILED;
		}
		break;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(why, TLS_WHY_MAX, "%s: connection closed", what);
		return TLS_FAILED;
	default:
		break;
	}
	vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(why, TLS_WHY_MAX, "%s: certificate verification "
		    "failed: %s", what, X509_verify_cert_error_string(vr));
		return TLS_FAILED;
	}
	ssl_why(why, what);
	return TLS_FAILED;
}

static int
handshake(void *conn, char *why)
{
	SSL *ssl = conn;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(ssl);
	return r == 1 ? TLS_DONE : want_of(ssl, r, "handshake", why);
}

static long
tls_read(void *conn, void *buf, size_t n, int *want, char *why)
{
	SSL *ssl = conn;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	*want = want_of(ssl, r, "read", why);
	return -1;
}

static long
tls_write(void *conn, const void *buf, size_t n, int *want, char *why)
{
	SSL *ssl = conn;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	*want = want_of(ssl, r, "write", why);
	return -1;
}

static void
info(void *conn, struct tls_info *ti)
{
	SSL *ssl = conn;
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	snprintf(ti->protocol, sizeof(ti->protocol), "%s", SSL_get_version(ssl));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s", c != NULL ?
	    SSL_CIPHER_get_name(c) : "none");
	ti->bits = c != NULL ? SSL_CIPHER_get_bits(c, NULL) : 0;
}

static void
ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

static void
shutdown_conn(void *conn)
{
	ERR_clear_error();
	(void)SSL_shutdown(conn);
	ERR_clear_error();
}

__attribute__((visibility("default"))) const struct tls_api
    proxsmtpd_tls_api = {
	.version = TLS_API_VERSION,
	.ctx_new = ctx_new,
	.ctx_free = ctx_free,
	.conn_new = conn_new,
	.handshake = handshake,
	.read = tls_read,
	.write = tls_write,
	.info = info,
	.shutdown = shutdown_conn,
};
