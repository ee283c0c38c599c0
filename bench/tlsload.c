/*
 * bench/tlsload.c - what loading the TLS module costs a process, for
 * bench/starttls: "tlsload" does nothing; "tlsload MODULE" dlopen()s it
 * (and with it libssl and libcrypto); "tlsload MODULE CERT KEY" also makes
 * the server context with that certificate and key, as the first STARTTLS
 * of a session does. Timed per exec with perf stat.
 */
#include "../src/tls.h"

#include <dlfcn.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
	struct tls_settings ts = { .protocols = "", .ciphers = "",
	    .ca_file = "" };
	const struct tls_api *api;
	char why[TLS_WHY_MAX];
	void *h;

	if (argc < 2)
		return 0;
	if ((h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (api = dlsym(h, TLS_API_SYMBOL)) == NULL) {
		fprintf(stderr, "tlsload: %s\n", dlerror());
		return 1;
	}
	if (argc < 4)
		return 0;
	ts.cert_file = argv[2];
	ts.key_file = argv[3];
	if (api->ctx_new(true, &ts, why) == NULL) {
		fprintf(stderr, "tlsload: %s\n", why);
		return 1;
	}
	return 0;
}
