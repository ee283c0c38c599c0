/*
 * tlsmod.h - TLS on a peer's connection, through the module loaded on
 * demand (tls.h): the program itself never links libssl, so a session that
 * does not use TLS does not pay for it.
 */
#ifndef PROXSMTPD_TLSMOD_H
#define PROXSMTPD_TLSMOD_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"
#include "tls.h"

/* One leg's TLS: the connection, its io stream, what was agreed. */
struct tls_side {
	const struct tls_api *api;
	void	*conn;
	struct io_stream stream;
	struct tls_info info;
	bool	active;		/* the handshake is done */
	char	why[TLS_WHY_MAX];	/* why the last call failed */
};

/*
 * Loads the module at path (dlopen) and returns its functions; NULL with
 * why (the loader's words) when it cannot be loaded or is of another
 * version.
 */
const struct tls_api *tlsmod_load(const char *path, char *why, size_t whylen);

struct config;
/*
 * One leg's context from the configuration: the server's (inbound:
 * TLSCertificate, TLSKey, TLSProtocols, TLSCiphers) or the client's
 * (outbound: OutTLS, OutTLSCAFile), in *ctx: 0, or -1 with why.
 */
int	tlsmod_context(const struct tls_api *, const struct config *,
	    bool server, void **ctx, char *why, size_t whylen);
/*
 * What -t checks before a session would find out: the module loads and
 * the context of every leg the configuration turns TLS on for can be made
 * (the certificate chain and key read and matching, the CA file read).
 * 0, or -1 with why.
 */
int	tlsmod_check(const struct config *, char *why, size_t whylen);

/*
 * The handshake on io's fds within one TimeOut (io->timeout_ms), as the
 * server (name NULL) or the client (name: SNI, and what a verifying ctx
 * checks). On success io's bytes go through TLS from now on: IO_OK.
 * Else IO_TIMEOUT, IO_SIGNAL or IO_TLS (side->why says why).
 */
int	tls_start(struct tls_side *, const struct tls_api *, void *ctx,
	    struct io *io, const char *name);
/* Sends close_notify if it can at once. */
void	tls_close(struct tls_side *);

#endif
