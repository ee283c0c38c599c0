/*
 * fuzz/proxy_header.c - the PROXY protocol header (src/proxyproto.c).
 *
 * The input is what a peer sends first. For each mode (v1, v2, any):
 *
 *   - proxy_parse() returns -1 (with a NUL-terminated, non-empty reason),
 *     0, or a length within the input and within the version's limit
 *     (107 bytes for v1, 16 + PROXY_V2_LEN_MAX for v2); a header it takes
 *     has the version its first byte says and the mode allows, and unless
 *     it is LOCAL/UNKNOWN two addresses of one family, IPv4 or IPv6, with
 *     the length of that family;
 *   - it never looks past the header: the header alone, and the header
 *     followed by other bytes, parse the same; every proper prefix of a
 *     header it takes is "need more" (0), never refused, so a reader that
 *     feeds it byte by byte takes the same header;
 *   - proxy_read() from a socket (peeking) and from a pipe (a byte at a
 *     time) agrees with proxy_parse(), and leaves exactly the bytes after
 *     the header unread.
 */
#include "common.h"

#include "../src/proxyproto.h"
#include "../src/io.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool
same_header(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->version == b->version && a->local == b->local &&
	    (a->local || (a->addr_len == b->addr_len &&
	    memcmp(&a->src, &b->src, a->addr_len) == 0 &&
	    memcmp(&a->dst, &b->dst, a->addr_len) == 0));
}

static int
parse(const uint8_t *p, size_t n, enum proxy_mode mode,
    struct proxy_header *h)
{
	char why[256];
	int r;

	memset(why, 'Z', sizeof(why));
	r = proxy_parse(p, n, mode, h, why, sizeof(why));
	if (r < 0) {
		FZ_CHECK(r == -1, "proxy_parse returned %d", r);
		FZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0] != 'Z' &&
		    why[0] != '\0', "no reason given");
	}
	return r;
}

static void
check_fields(const uint8_t *data, int r, enum proxy_mode mode,
    const struct proxy_header *h)
{
	size_t len;

	FZ_CHECK(h->version == (data[0] == 'P' ? 1 : 2), "version %d",
	    h->version);
	FZ_CHECK(mode == PROXY_ANY || (mode == PROXY_V1) == (h->version == 1),
	    "v%d header taken in mode %d", h->version, mode);
	FZ_CHECK(h->version == 1 ? r <= PROXY_V1_MAX : r <= PROXY_HEADER_MAX,
	    "v%d header of %d bytes", h->version, r);
	if (h->version == 1)
		FZ_CHECK(data[r - 2] == '\r' && data[r - 1] == '\n',
		    "v1 header does not end in CRLF");
	if (h->local)
		return;
	FZ_CHECK(h->src.ss_family == h->dst.ss_family, "mixed families");
	FZ_CHECK(h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6,
	    "family %d", h->src.ss_family);
	len = h->src.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	FZ_CHECK(h->addr_len == len, "addr_len %u", (unsigned)h->addr_len);
}

/*
 * Sends the input through a socket pair or a pipe, reads the header off
 * the other end with proxy_read(), and checks what is left.
 */
static void
check_read(const uint8_t *data, size_t size, enum proxy_mode mode, int r,
    const struct proxy_header *want, bool sock)
{
	struct proxy_header h;
	char why[256];
	unsigned char rest[8192];
	int fds[2], got;
	ssize_t n;
	size_t left = 0;

	if (size > sizeof(rest) || size > 60000)
		return;
	if (sock)
		FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0,
		    "socketpair");
	else
		FZ_CHECK(pipe(fds) == 0, "pipe");
	FZ_CHECK(write(fds[1], data, size) == (ssize_t)size, "write");
	close(fds[1]);	/* EOF after the input: a short one ends there */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	memset(why, 'Z', sizeof(why));
	got = proxy_read(fds[0], sock, mode, io_now_ms() + 5000, &h, why,
	    sizeof(why));
	if (r > 0) {
		FZ_CHECK(got == 0, "proxy_read refused a header proxy_parse "
		    "takes (%s): %.200s", sock ? "socket" : "pipe", why);
		FZ_CHECK(same_header(&h, want), "proxy_read read another "
		    "header");
		while ((n = read(fds[0], rest + left, sizeof(rest) - left)) > 0)
			left += (size_t)n;
		FZ_CHECK(left == size - (size_t)r &&
		    memcmp(rest, data + r, left) == 0, "proxy_read left %zu "
		    "bytes, not the %zu after the header (%s)", left,
		    size - (size_t)r, sock ? "socket" : "pipe");
	} else {
		FZ_CHECK(got == -1, "proxy_read took what proxy_parse does "
		    "not (%d)", r);
		FZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL &&
		    why[0] != 'Z', "proxy_read: no reason");
	}
	close(fds[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum proxy_mode modes[] = { PROXY_V1, PROXY_V2,
	    PROXY_ANY };
	struct proxy_header h, h2;
	size_t m, k;
	int r, r2;

	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		r = parse(data, size, modes[m], &h);
		FZ_CHECK(r <= (int)size, "length %d past the input", r);
		if (r > 0) {
			check_fields(data, r, modes[m], &h);
			/* The header alone reads the same. */
			r2 = parse(data, (size_t)r, modes[m], &h2);
			FZ_CHECK(r2 == r && same_header(&h, &h2),
			    "the header alone parses differently");
			/* Each proper prefix is incomplete, not wrong. */
			for (k = 0; k < (size_t)r; k++)
				FZ_CHECK(parse(data, k, modes[m], &h2) == 0,
				    "prefix of %zu of a %d-byte header refused "
				    "or taken", k, r);
		}
		check_read(data, size, modes[m], r, &h, true);
		check_read(data, size, modes[m], r, &h, false);
	}
	return 0;
}
