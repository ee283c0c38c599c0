/*
 * filterenv.c - the filter's environment, built once per message.
 */
#include "filterenv.h"
#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>

void
build_env(struct filter_env *fe, const struct filter_env_values *v)
{
	const char *path = getenv("PATH");
	size_t used = 0, room;
	int n = 0, w;

	/* Each value is cut at 4 KiB, as the slots it replaces were. */
#define ENV(...) do { \
		room = sizeof(fe->vars) - used; \
		if (room > 4096) \
			room = 4096; \
		fe->vars[used] = '\0'; \
		w = fmt(fe->vars + used, room, __VA_ARGS__); \
		fe->envp[n++] = fe->vars + used; \
		used += (w < 0 ? 0 : (size_t)w >= room ? room - 1 : \
		    (size_t)w) + 1; \
	} while (0)
	ENV("PATH=%s", path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	ENV("CLIENT=%s", v->client);
	ENV("SENDER=%s", v->sender);
	ENV("SERVER=%s", v->server);
	ENV("TMPDIR=%s", v->tmpdir);
	if (v->remote[0] != '\0')
		ENV("REMOTE=%s", v->remote);
	if (v->remote_helo[0] != '\0')
		ENV("REMOTE_HELO=%s", v->remote_helo);
	if (v->tls_protocol[0] != '\0') {
		ENV("TLS_PROTOCOL=%s", v->tls_protocol);
		ENV("TLS_CIPHER=%s", v->tls_cipher);
	}
	if (v->email != NULL)
		ENV("EMAIL=%s", v->email);
#undef ENV
	fe->envp[n++] = v->recipients;
	fe->envp[n] = NULL;
}
