/*
 * proxyproto.h - the PROXY protocol header (haproxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before the client's first
 * byte, naming the client it relays.
 *
 * proxy_parse() is pure (the fuzz target calls it); proxy_read() takes the
 * header off the connection byte-exact: it never reads a byte past the
 * header's end, so what follows is left for the SMTP session.
 */
#ifndef PROXSMTPD_PROXYPROTO_H
#define PROXSMTPD_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107	/* the longest v1 line, CRLF included */
#define PROXY_V2_HEAD 16	/* signature, version/command, family, length */
/* The longest v2 address block and TLVs we take (the format allows 65535):
 * addresses are 216 bytes at most, the rest TLVs that we skip. */
#define PROXY_V2_LEN_MAX 2048
#define PROXY_HEADER_MAX (PROXY_V2_HEAD + PROXY_V2_LEN_MAX)

enum proxy_mode {
	PROXY_OFF,
	PROXY_V1,
	PROXY_V2,
	PROXY_ANY,	/* either, told apart by the first bytes */
};

struct proxy_header {
	int	version;	/* 1 or 2 */
	/* No addresses to use (v1 UNKNOWN, v2 LOCAL or AF_UNSPEC): the
	 * connection's own addresses stand. */
	bool	local;
	struct sockaddr_storage src;	/* the client; valid unless local */
	struct sockaddr_storage dst;	/* where it connected to */
	socklen_t addr_len;		/* of src and of dst */
};

/*
 * Parses a whole header at the start of buf (len bytes; modes: which
 * versions are accepted). Returns its length in bytes (what follows is not
 * looked at), 0 when buf holds only the beginning of a header that may
 * still be valid, or -1 with why filled in.
 */
int	proxy_parse(const unsigned char *buf, size_t len, enum proxy_mode,
	    struct proxy_header *, char *why, size_t whylen);

/*
 * Reads one header from fd until deadline (io_now_ms() time) and parses it.
 * Returns 0, or -1 with why filled in (a malformed header, EOF, the
 * deadline, a signal). is_socket: fd can be peeked (MSG_PEEK), else the
 * v1 line is read a byte at a time.
 */
int	proxy_read(int fd, bool is_socket, enum proxy_mode, long deadline,
	    struct proxy_header *, char *why, size_t whylen);

#endif
