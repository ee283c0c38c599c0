/*
 * tlsmod.c - loads the TLS module when a session first needs it, and lays
 * its connection over a peer's io (src/io.h: struct io_stream).
 *
 * The waiting stays here, in io_wait_until(): the module's calls never
 * block, they say whether they wait to read or to write.
 */
#include "tlsmod.h"
#include "fmt.h"

#include "config.h"

#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>

const struct tls_api *
tlsmod_load(const char *path, char *why, size_t whylen)
{
	const struct tls_api *api;
	const char *err;
	void *h;

	/* RTLD_LOCAL: libssl's symbols stay the module's. */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		err = dlerror();
		fmt(why, whylen, "cannot load TLS module: %s",
		    err != NULL ? err : path);
		return NULL;
	}
	api = dlsym(h, TLS_API_SYMBOL);
	if (api == NULL || api->version != TLS_API_VERSION) {
		fmt(why, whylen, "TLS module %s: %s", path, api == NULL ?
		    "no " TLS_API_SYMBOL : "built for another version of "
		    "proxsmtpd");
		dlclose(h);
		return NULL;
	}
	return api;
}

int
tlsmod_context(const struct tls_api *api, const struct config *cfg,
    bool server, void **ctx, char *why, size_t whylen)
{
	struct tls_settings ts = {
		.cert_file = cfg->tls_cert,
		.key_file = cfg->tls_key[0] ? cfg->tls_key : cfg->tls_cert,
		.protocols = cfg->tls_protocols,
		.ciphers = cfg->tls_ciphers,
		.ca_file = cfg->out_tls_ca_file,
		.verify = cfg->out_tls == OUT_TLS_VERIFY,
	};
	char text[TLS_WHY_MAX];

	*ctx = api->ctx_new(server, &ts, text);
	if (*ctx != NULL)
		return 0;
	fmt(why, whylen, "%s", text);
	return -1;
}

int
tlsmod_check(const struct config *cfg, char *why, size_t whylen)
{
	const struct tls_api *api;
	void *ctx;

	if (cfg->tls_cert[0] == '\0' && cfg->out_tls == OUT_TLS_NONE)
		return 0;
	api = tlsmod_load(cfg->tls_module, why, whylen);
	if (api == NULL)
		return -1;
	if (cfg->tls_cert[0] != '\0') {
		if (tlsmod_context(api, cfg, true, &ctx, why, whylen) < 0)
			return -1;
		api->ctx_free(ctx);
	}
	if (cfg->out_tls != OUT_TLS_NONE) {
		if (tlsmod_context(api, cfg, false, &ctx, why, whylen) < 0)
			return -1;
		api->ctx_free(ctx);
	}
	return 0;
}

static short
events_of(int want)
{
	return want == TLS_WANT_READ ? POLLIN : want == TLS_WANT_WRITE ?
	    POLLOUT : 0;
}

static long
stream_read(void *arg, void *buf, size_t n, short *events)
{
	struct tls_side *t = arg;
	int want = TLS_FAILED;
	long r = t->api->read(t->conn, buf, n, &want, t->why);

	*events = r < 0 ? events_of(want) : 0;
	return r;
}

static long
stream_write(void *arg, const void *buf, size_t n, short *events)
{
	struct tls_side *t = arg;
	int want = TLS_FAILED;
	long r = t->api->write(t->conn, buf, n, &want, t->why);

	*events = r < 0 ? events_of(want) : 0;
	return r;
}

int
tls_start(struct tls_side *t, const struct tls_api *api, void *ctx,
    struct io *io, const char *name)
{
	long deadline = io_deadline(io->timeout_ms);
	int want, r;

	t->api = api;
	t->active = false;
	t->conn = api->conn_new(ctx, io->rfd, io->wfd, name, t->why);
	if (t->conn == NULL)
		return IO_TLS;
	/* One deadline for the whole handshake: a peer that trickles its
	 * records cannot stretch it. */
	while ((want = api->handshake(t->conn, t->why)) != TLS_DONE) {
		if (want == TLS_FAILED)
			return IO_TLS;
		r = want == TLS_WANT_READ ?
		    io_wait_until(io->rfd, POLLIN, deadline) :
		    io_wait_until(io->wfd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	api->info(t->conn, &t->info);
	t->stream = (struct io_stream){ stream_read, stream_write, t };
	io_set_stream(io, &t->stream);
	t->active = true;
	return IO_OK;
}

void
tls_close(struct tls_side *t)
{
	if (t->active)
		t->api->shutdown(t->conn);
}
