/*
 * session.h - one SMTP session relayed between a client and the upstream.
 *
 * The process is the session: session_run() never returns, every way out
 * goes through one exit path that replies once, logs once, stops the filter
 * and removes the temp files.
 */
#ifndef PROXSMTPD_SESSION_H
#define PROXSMTPD_SESSION_H

#include <stdbool.h>
#include <sys/types.h>

#include "bdat.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "pipeline.h"
#include "reply.h"
#include "spool.h"
#include "tlsmod.h"
#include "upstream.h"

/* The line buffer: room for the longest MaxLineLength. */
#define CMD_LINE_MAX LINE_LENGTH_MAX
#define PATH_ADDR_MAX 1024	/* an address as the client gave it */
/* RECIPIENTS must fit one environment string (MAX_ARG_STRLEN is 128 KiB). */
#define RCPT_BYTES_MAX (100 * 1024)
#define RCPT_ENV_PREFIX "RECIPIENTS="

/* Exit statuses, documented in proxsmtpd(8). */
#define EXIT_SESSION_OK 0
#define EXIT_SESSION_FAILED 1
#define EXIT_USAGE 100
#define EXIT_TEMPORARY 111

enum session_state {
	ST_CONNECT,
	ST_GREETING,
	ST_HELO,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_BDAT,	/* chunks of a message coming (RFC 3030) */
	ST_FILTER,
	ST_FORWARD,
	ST_COMMAND,	/* any other command, between transactions */
	ST_QUIT,
};

/* One mail transaction: reset on MAIL, RSET, HELO/EHLO and end of data. */
struct transaction {
	bool	mail_accepted;
	bool	binarymime;	/* MAIL said BODY=BINARYMIME */
	bool	bdat;		/* a BDAT chunk came: the message is spooling */
	char	sender[PATH_ADDR_MAX];
	unsigned nrcpt;
	unsigned rcpt_refused;	/* RCPTs refused: the list was full */
	size_t	rcpt_len;
	/* "RECIPIENTS=" then the accepted recipients, one a line. */
	char	rcpt_env[sizeof(RCPT_ENV_PREFIX) + RCPT_BYTES_MAX];
};

struct session {
	const struct config *cfg;
	struct logger *log;
	char	id[16];
	char	hostname[256];
	struct endpoints ep;
	int	client_rfd, client_wfd;
	int	upstream_fd;
	char	server[512];
	enum session_state state;
	bool	authenticated;
	bool	xclient_done;
	bool	pipelining;	/* the upstream offered PIPELINING */
	bool	chunking;	/* we offered CHUNKING (RFC 3030) */
	bool	up_chunking;	/* the upstream offered CHUNKING */
	bool	binarymime;	/* we offered BINARYMIME */
	bool	data_ahead;	/* DATA went upstream with them, reply unread */
	bool	upstream_lost;	/* a keepalive found it gone */
	/* The upstream was dropped after the client had its reply: the
	 * next command gets gone_reply (QUIT gets 221). */
	bool	upstream_gone;
	char	gone_reply[256];
	bool	xforward_ok;	/* the client may send XFORWARD */
	/* STARTTLS: the module once loaded, its contexts once made. */
	const struct tls_api *tls_api;
	void	*tls_server_ctx, *tls_client_ctx;
	struct tls_side client_tls, upstream_tls;
	bool	upstream_tls_done;	/* OutTLS was applied (or not needed) */
	bool	helo_needed;	/* after STARTTLS: a new EHLO before MAIL */
	bool	message_open;	/* DATA accepted, outcome not yet logged */
	long	filter_ms;	/* the open message's filter time; -1: none ran */
	char	remote[PATH_ADDR_MAX];		/* XFORWARD ADDR */
	char	remote_helo[PATH_ADDR_MAX];	/* XFORWARD HELO */
	char	helo[PATH_ADDR_MAX];
	unsigned messages;
	char	verb[16];	/* the command being answered */
	unsigned errors;	/* 4xx/5xx replies given (MaxErrors) */
	unsigned junk;		/* commands since the last delivery */
	unsigned logged;	/* own refusals logged (rate limit) */
	const char *pidfile;
	pid_t	filter_pgid;	/* running filter's group, 0 if none */
	struct transaction tx;
	/* After the small fields (33 KiB, its head used): they share pages. */
	struct pipeline pipe;	/* MAIL, RCPT owed a reply (RFC 2920) */
	struct spool msg;	/* the message as received */
	struct bdat_body bdat;	/* the chunks of a BDAT message so far */
	struct spool out;	/* a pipe filter's output */
	struct reply reply;	/* scratch for upstream replies */
	char	line[CMD_LINE_MAX + 8];
	struct io client;
	struct io upstream;
};

void	session_init(struct session *, const struct config *, struct logger *,
	    int client_rfd, int client_wfd);
/* Connects upstream; on failure tells the client 421 and exits 111. */
void	session_connect(struct session *);
/* Ends the session before it began (e.g. privileges could not be dropped). */
__attribute__((noreturn)) void session_abort(struct session *,
	    const char *why);
__attribute__((noreturn)) void session_run(struct session *);

#endif
