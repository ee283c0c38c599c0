/*
 * session.c - the SMTP relay state machine and its command table.
 *
 * Commands go to the upstream one at a time and its replies come back,
 * checked and made printable. The proxy speaks for itself only where it must:
 * the greeting and HELO/EHLO reply carry our name, extensions we cannot
 * carry are removed, and DATA is answered here so the body can be spooled
 * and filtered before the upstream sees any of it.
 */
#include "session.h"
#include "ascii.h"
#include "fmt.h"
#include "data.h"
#include "esmtp.h"
#include "filter.h"
#include "filterenv.h"
#include "outaddr.h"
#include "header.h"
#include "proxyproto.h"
#include "sig.h"
#include "span.h"
#include "xtext.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const state_names[] = {
	[ST_CONNECT] = "CONNECT",
	[ST_GREETING] = "GREETING",
	[ST_HELO] = "HELO",
	[ST_MAIL] = "MAIL",
	[ST_RCPT] = "RCPT",
	[ST_DATA] = "DATA",
	[ST_BDAT] = "BDAT",
	[ST_FILTER] = "END-OF-DATA",
	[ST_FORWARD] = "END-OF-DATA",
	[ST_COMMAND] = "COMMAND",
	[ST_QUIT] = "QUIT",
};

/*
 * What moves the session from state to state. The state says where a
 * session is for its log lines ("... after MAIL"); it does not decide what
 * a client may send: every command is legal in every state as far as the
 * proxy is concerned, and one out of order is relayed for the upstream to
 * refuse (503). DATA, which the proxy answers itself, checks the
 * transaction instead (MAIL and RCPT accepted) and moves only once it is
 * accepted; so does BDAT, at its first chunk of a message. Commands
 * answered here and never relayed (XCLIENT, STARTTLS, XEXCH50) do not move
 * it (EV_NONE). A session starts in
 * ST_CONNECT (session_init()).
 */
enum session_event {
	EV_NONE,
	EV_GREETING,	/* waiting for the upstream's greeting */
	EV_HELO,	/* HELO, EHLO */
	EV_MAIL,
	EV_RCPT,
	EV_DATA,	/* DATA accepted: 354 given */
	EV_BDAT,	/* the first chunk of a message taken */
	EV_FILTER,	/* the filter runs */
	EV_FORWARD,	/* the message goes upstream */
	EV_DONE,	/* a message refused here: RSET upstream */
	EV_RSET,
	EV_QUIT,
	EV_COMMAND,	/* AUTH, XFORWARD */
	EV_RELAY,	/* NOOP, VRFY, EXPN, HELP, any unknown verb */
};

#define IN(st) (1u << (st))
_Static_assert(ST_QUIT < 32, "a state set is one unsigned");
_Static_assert(PIPELINE_ADDR_MAX == PATH_ADDR_MAX, "a queued address fits");

/* The one table of state changes: session_move() applies it. */
static const struct transition {
	enum session_state to;
	unsigned stay;		/* IN(states) where the event moves nothing */
} transitions[] = {
	[EV_NONE]	= { ST_CONNECT, ~0u },	/* moves nothing */
	[EV_GREETING]	= { ST_GREETING, 0 },
	[EV_HELO]	= { ST_HELO, 0 },
	[EV_MAIL]	= { ST_MAIL, 0 },
	[EV_RCPT]	= { ST_RCPT, 0 },
	[EV_DATA]	= { ST_DATA, 0 },
	[EV_BDAT]	= { ST_BDAT, 0 },
	[EV_FILTER]	= { ST_FILTER, 0 },
	[EV_FORWARD]	= { ST_FORWARD, 0 },
	[EV_DONE]	= { ST_COMMAND, 0 },
	[EV_RSET]	= { ST_COMMAND, 0 },
	[EV_QUIT]	= { ST_QUIT, 0 },
	[EV_COMMAND]	= { ST_COMMAND, 0 },
	/* Inside a transaction a NOOP or VRFY is still part of it. */
	[EV_RELAY]	= { ST_COMMAND, IN(ST_MAIL) | IN(ST_RCPT) },
};

/* The only place s->state changes. */
static void
session_move(struct session *s, enum session_event ev)
{
	const struct transition *t = &transitions[ev];

	if (!(t->stay & IN(s->state)))
		s->state = t->to;
}

/*
 * Extensions we cannot carry through; removed from the EHLO reply.
 * PIPELINING is carried when the upstream offers it (cmd_helo()), CHUNKING
 * and BINARYMIME are ours to offer (advertise_chunking()).
 */
static const char *const stripped_extensions[] = {
	"STARTTLS", "CHUNKING", "BINARYMIME", "CHECKPOINT",
	"XCLIENT", "XEXCH50",
};

/* ---- exits ---------------------------------------------------------- */

static void
cleanup(struct session *s)
{
	filter_kill(&s->filter_pgid);
	spool_remove(&s->msg);
	spool_remove(&s->out);
	if (s->pidfile != NULL)
		unlink(s->pidfile);
}

/*
 * The one way out of a session that failed: logs why and where, tells the
 * client (if reply is given), stops the filter, removes the temp files.
 */
__attribute__((noreturn, format(printf, 4, 5))) static void
die(struct session *s, int status, const char *reply, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vfmt(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_msg(s->log, L_WARNING, "%s after %s from %s (%u messages)", why,
	    state_names[s->state], s->ep.client_ip, s->messages);
	if (s->message_open) {
		/* Every message gets its line, also one the session took
		 * down with it: the client got no 2xx for it. */
		struct log_message m = {
			.client = s->ep.client_ip,
			.sender = s->tx.sender,
			.recipients = s->tx.rcpt_env + strlen(RCPT_ENV_PREFIX),
			.size = (unsigned long long)s->msg.size,
			.outcome = "tempfail",
			.reply = reply != NULL ? reply : "none, client gone",
			.detail = why,
			.filter_ms = s->filter_ms,
		};

		log_message(s->log, &m);
		s->message_open = false;
	}
	cleanup(s);
	s->client.timeout_ms = 5000;	/* do not linger for a gone peer */
	if (reply != NULL) {
		io_puts(&s->client, reply);
		io_puts(&s->client, "\r\n");
	}
	io_flush(&s->client);
	tls_close(&s->client_tls);
	exit(status);
}

__attribute__((noreturn)) static void
finish(struct session *s)
{
	log_msg(s->log, L_DEBUG, "session closed after %s from %s "
	    "(%u messages)", state_names[s->state], s->ep.client_ip,
	    s->messages);
	cleanup(s);
	io_flush(&s->client);
	tls_close(&s->client_tls);
	tls_close(&s->upstream_tls);
	exit(EXIT_SESSION_OK);
}

/* The reply a terminating condition gets, with our name in it. */
static void
fatal_reply(struct session *s, char *buf, size_t len, int status)
{
	if (status == IO_SIGNAL)
		fmt(buf, len, "421 4.3.2 %s Service shutting down, "
		    "closing connection", s->hostname);
	else if (status == IO_TIMEOUT)
		fmt(buf, len, "421 4.4.2 %s Error: timeout exceeded",
		    s->hostname);
	else
		fmt(buf, len, "421 4.4.0 %s Error: connection to "
		    "upstream server lost", s->hostname);
}

__attribute__((noreturn)) static void
die_upstream(struct session *s, int status)
{
	char reply[256];

	fatal_reply(s, reply, sizeof(reply), status);
	if (status == IO_SIGNAL)
		die(s, EXIT_SESSION_FAILED, reply, "terminated by signal %d",
		    sig_caught());
	die(s, EXIT_SESSION_FAILED, reply, "upstream %s: %s", s->server,
	    status == REPLY_BAD ? "malformed reply" : status == IO_TLS ?
	    s->upstream_tls.why : io_strstatus(status));
}

__attribute__((noreturn)) static void
die_client(struct session *s, int status)
{
	char reply[256];

	if (status == IO_EOF || status == IO_ERROR)
		die(s, EXIT_SESSION_FAILED, NULL, "lost connection (%s)",
		    io_strstatus(status));
	if (status == IO_TLS)
		die(s, EXIT_SESSION_FAILED, NULL, "lost connection (TLS: %s)",
		    s->client_tls.why);
	fatal_reply(s, reply, sizeof(reply), status);
	if (status == IO_SIGNAL)
		die(s, EXIT_SESSION_FAILED, reply, "terminated by signal %d",
		    sig_caught());
	die(s, EXIT_SESSION_FAILED, reply, "client %s", io_strstatus(status));
}

void
session_abort(struct session *s, const char *why)
{
	char reply[256];

	fmt(reply, sizeof(reply), "421 4.3.0 %s Service not available",
	    s->hostname);
	die(s, EXIT_TEMPORARY, reply, "%s", why);
}

/* ---- replies to the client, commands to the upstream ---------------- */

static void drain_replies(struct session *);

/*
 * Own refusals are logged with why, the first few of a session: a client
 * sending nothing else must not be able to flood the log.
 */
#define REFUSALS_LOGGED 10

static void
log_refusal(struct session *s, const char *why, const char *line, int n)
{
	if (++s->logged > REFUSALS_LOGGED)
		return;
	log_msg(s->log, L_NOTICE, "refused %s from %s: %.*s%s", why,
	    s->ep.client_ip, n, line, s->logged == REFUSALS_LOGGED ?
	    " (further refusals of this session are not logged)" : "");
}

/*
 * Every reply to the client leaves through say_line() or say_reply(). A
 * 4xx or 5xx of our own is logged (why, else the command it answers) and
 * counts towards MaxErrors unless counted is false.
 */
static void
say_line(struct session *s, const char *why, bool counted, const char *text)
{
	char line[REPLY_LINE_MAX + 16], what[64];
	int n, r;

	drain_replies(s);	/* earlier commands' replies come first */
	n = fmt(line, sizeof(line) - 2, "%s", text);
	if (n < 0 || n >= (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	if (line[0] == '4' || line[0] == '5') {
		if (why == NULL) {
			fmt(what, sizeof(what), "%s", s->verb[0] ?
			    s->verb : "session");
			why = what;
		}
		log_refusal(s, why, line, n);
		s->errors += counted;
	}
	line[n++] = '\r';
	line[n++] = '\n';
	if ((r = io_write(&s->client, line, (size_t)n)) != IO_OK)
		die_client(s, r);
}

static void __attribute__((format(printf, 2, 3)))
say(struct session *s, const char *fmt, ...)
{
	char line[REPLY_LINE_MAX + 16];
	va_list ap;

	va_start(ap, fmt);
	vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	say_line(s, NULL, true, line);
}

/* A refusal that is not the client's error (not counted for MaxErrors). */
static void
say_uncounted(struct session *s, const char *line)
{
	say_line(s, NULL, false, line);
}

/* A refusal whose log line says why (a short phrase). */
static void
refuse(struct session *s, const char *why, const char *line)
{
	say_line(s, why, true, line);
}

static void
say_reply(struct session *s, const struct reply *rp)
{
	int r = reply_write(&s->client, rp);

	if (rp->code >= 400)
		s->errors++;
	if (r != IO_OK)
		die_client(s, r);
}

/*
 * The text of an upstream's reply line (after the code) as we say it: its
 * enhanced status code and words, our name in place of its own, so that
 * the upstream's host name never reaches the client.
 */
static void
own_name_text(const struct session *s, const char *text, char *out,
    size_t outlen)
{
	char esc[16] = "";
	size_t n;

	n = span(text, "0123456789.");
	if (n >= 5 && text[0] >= '2' && text[0] <= '5' && text[1] == '.' &&
	    (text[n] == ' ' || text[n] == '\0')) {
		fmt(esc, sizeof(esc), "%.*s ", (int)n, text);
		text += n + (text[n] == ' ');
	}
	n = cspan(text, " ");
	if (n > 0 && memchr(text, '.', n) != NULL && span(text,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
	    == n)
		text += n;	/* a host name: the upstream's */
	fmt(out, outlen, "%s%s%s%s", esc, s->hostname,
	    text[0] == ' ' || text[0] == '\0' ? "" : " ", text);
}

/*
 * The upstream said 421 (RFC 5321 3.8: it is closing the session): the
 * client gets that 421, once, with our name, as the reply to its command,
 * and the session ends.
 */
__attribute__((noreturn)) static void
upstream_closing(struct session *s, const struct reply *rp)
{
	char text[REPLY_LINE_MAX], line[REPLY_LINE_MAX + 8];

	own_name_text(s, rp->text[0], text, sizeof(text));
	fmt(line, sizeof(line), "421 %s", text);
	die(s, EXIT_SESSION_FAILED, line, "upstream %s is closing the session: "
	    "421 %s", s->server, rp->text[0]);
}

/*
 * The upstream is unusable, but the client already has its reply: it
 * learns at its next command (421; QUIT gets 221), never in between, so
 * that every command gets one reply.
 */
static void
upstream_drop(struct session *s, const char *reply, const char *why)
{
	log_msg(s->log, L_WARNING, "upstream %s dropped: %s", s->server, why);
	if (s->upstream_fd >= 0)
		close(s->upstream_fd);
	s->upstream_fd = -1;
	s->upstream.rfd = s->upstream.wfd = -1;
	s->upstream.wlen = 0;
	/* Its fd is closed: no close_notify may go to whatever reuses it. */
	s->upstream_tls.active = false;
	s->upstream_gone = true;
	fmt(s->gone_reply, sizeof(s->gone_reply), "%s", reply);
}

static void
upstream_send(struct session *s, const char *line)
{
	int r;

	if ((r = io_puts(&s->upstream, line)) != IO_OK ||
	    (r = io_puts(&s->upstream, "\r\n")) != IO_OK)
		die_upstream(s, r);
}

/* Reads the upstream's next reply into s->reply; a 421 ends the session. */
static struct reply *
upstream_reply(struct session *s)
{
	int r;

	if ((r = reply_read(&s->upstream, &s->reply)) != IO_OK)
		die_upstream(s, r);
	if (s->reply.code == 421)
		upstream_closing(s, &s->reply);
	return &s->reply;
}

/* Sends line upstream and reads its reply into s->reply. */
static struct reply *
upstream_command(struct session *s, const char *line)
{
	upstream_send(s, line);
	return upstream_reply(s);
}

/*
 * A 3xx reply to a relayed command (what: its line) means the upstream now
 * waits for input (data?) that we would not recognise as such, so the two
 * sides could disagree about what is a command: stop instead. allow is the
 * one 3xx the command may get (334 for AUTH), or 0.
 */
static void
no_surprise_3xx(struct session *s, const struct reply *rp, int allow,
    const char *what)
{
	char reply[256];

	if (rp->code / 100 == 3 && rp->code != allow) {
		fmt(reply, sizeof(reply), "421 4.3.0 %s Error: upstream "
		    "server misbehaved", s->hostname);
		die(s, EXIT_SESSION_FAILED, reply, "upstream %s answered %.*s "
		    "with %d", s->server, (int)cspan(what, " \t"), what,
		    rp->code);
	}
}

/* Relays the client's command line and reads the reply. */
static struct reply *
relay_command(struct session *s, int allow)
{
	struct reply *rp = upstream_command(s, s->line);

	no_surprise_3xx(s, rp, allow, s->line);
	return rp;
}

/* ---- transaction state ---------------------------------------------- */

static void
tx_reset(struct transaction *tx)
{
	tx->mail_accepted = false;
	tx->binarymime = false;
	tx->bdat = false;
	tx->sender[0] = '\0';
	tx->nrcpt = 0;
	tx->rcpt_refused = 0;
	tx->rcpt_len = 0;
	memcpy(tx->rcpt_env, RCPT_ENV_PREFIX, sizeof(RCPT_ENV_PREFIX));
}

/*
 * The transaction is over (RSET, HELO/EHLO, a new MAIL): so is a message
 * whose chunks were coming, and its spool goes.
 */
static void
transaction_reset(struct session *s)
{
	tx_reset(&s->tx);
	spool_remove(&s->msg);
}

static void
forward_info_reset(struct session *s)
{
	s->remote[0] = '\0';
	s->remote_helo[0] = '\0';
}

/* ---- commands ------------------------------------------------------- */

/* Control bytes other than TAB have no place in a command. */
static bool
line_is_clean(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 32 && c != '\t') || c == 127)
			return false;
	}
	return true;
}

static void
cmd_relay(struct session *s, const char *verb, const char *args)
{
	(void)verb;
	(void)args;
	say_reply(s, relay_command(s, 0));
}

/* Our name instead of the upstream's in the first line of a reply. */
static void
rewrite_name(struct session *s, struct reply *rp)
{
	char rest[REPLY_LINE_MAX];
	const char *sp = strchr(rp->text[0], ' ');

	fmt(rest, sizeof(rest), "%s", sp != NULL ? sp : "");
	fmt(rp->text[0], REPLY_LINE_MAX, "%s%s", s->hostname, rest);
}

/* Whether the space-separated list has word (case-insensitive). */
static bool
has_word(const char *list, const char *word)
{
	size_t len = strlen(word), n;

	while (*list != '\0') {
		list += span(list, " ");
		n = cspan(list, " ");
		if (n == len && ascii_ncasecmp(list, word, len) == 0)
			return true;
		list += n;
	}
	return false;
}

/*
 * XClient: once per session, before the first client command that goes
 * upstream, whichever it is, tell the upstream who the real client is; it
 * answers with a new greeting, and the client's command follows. The
 * upstream trusts our address, so if it cannot be told, nothing is
 * relayed at all (an open relay otherwise): 421 and the log says why.
 */
static void
xclient_handshake(struct session *s, const char *helo, bool esmtp)
{
	char cmd[CMD_LINE_MAX], enc[PATH_ADDR_MAX * 3], unavailable[256];
	const char *attrs;
	struct reply *rp;
	int i;
	size_t o;

	fmt(unavailable, sizeof(unavailable), "421 4.3.0 %s Service not "
	    "available, try again later", s->hostname);
	s->xclient_done = true;
	fmt(cmd, sizeof(cmd), "EHLO %s", s->hostname);
	rp = upstream_command(s, cmd);
	if (rp->code != 250 || (i = reply_find_keyword(rp, "XCLIENT")) < 0)
		die(s, EXIT_TEMPORARY, unavailable, "XClient is on but upstream "
		    "%s does not offer XCLIENT (EHLO: %d): nothing relayed",
		    s->server, rp->code);
	attrs = rp->text[i] + strlen("XCLIENT");
	o = (size_t)fmt(cmd, sizeof(cmd), "XCLIENT ADDR=%s%s",
	    strchr(s->ep.client_ip, ':') ? "IPV6:" : "", s->ep.client_ip);
	/* Attributes left out keep the values of our own connection: the
	 * client would be judged by the proxy's host name. We look up no
	 * names, so say there is none. */
	if (has_word(attrs, "NAME"))
		o += (size_t)fmt(cmd + o, sizeof(cmd) - o,
		    " NAME=[UNAVAILABLE]");
	if (has_word(attrs, "REVERSE_NAME") && o < sizeof(cmd))
		o += (size_t)fmt(cmd + o, sizeof(cmd) - o,
		    " REVERSE_NAME=[UNAVAILABLE]");
	/* No HELO yet: the upstream must not judge the client by ours. */
	if (has_word(attrs, "HELO") && o < sizeof(cmd)) {
		xtext_encode(helo, enc, sizeof(enc));
		o += (size_t)fmt(cmd + o, sizeof(cmd) - o, " HELO=%s",
		    helo[0] != '\0' ? enc : "[UNAVAILABLE]");
	}
	if (has_word(attrs, "PROTO") && o < sizeof(cmd))
		fmt(cmd + o, sizeof(cmd) - o, " PROTO=%s",
		    esmtp ? "ESMTP" : "SMTP");
	rp = upstream_command(s, cmd);
	/* Postfix answers with a new greeting (220); before 2.3 it said
	 * 250, as smtp-sink still does. */
	if (rp->code / 100 != 2)
		die(s, EXIT_TEMPORARY, unavailable, "upstream %s refused "
		    "XCLIENT: %d %s: nothing relayed", s->server, rp->code,
		    rp->text[0]);
}

/*
 * RFC 1870: the SIZE we offer is the smaller of ours and the upstream's.
 * An upstream "SIZE" with no number or "SIZE 0" (no fixed limit), or none
 * at all, leaves ours; without a limit of our own its line stands as it is.
 */
static void
advertise_size(const struct session *s, struct reply *rp)
{
	unsigned long long ours = s->cfg->max_message_size, theirs = 0;
	const char *v;
	int k;

	if (ours == 0)
		return;
	if ((k = reply_find_keyword(rp, "SIZE")) > 0) {
		v = rp->text[k] + strlen("SIZE");
		v += span(v, " ");
		if (*v >= '0' && *v <= '9')
			theirs = dec_strtoull(v, NULL);	/* ERANGE: huge */
		if (theirs != 0 && theirs <= ours)
			return;
	} else if (rp->nlines < REPLY_LINES_MAX) {
		k = rp->nlines++;
	} else {
		return;	/* no room: unadvertised, the limit still holds */
	}
	fmt(rp->text[k], REPLY_LINE_MAX, "SIZE %llu", ours);
}

/* Adds an EHLO keyword line; false when the reply has no room. */
static bool
add_keyword(struct reply *rp, const char *keyword)
{
	if (rp->nlines >= REPLY_LINES_MAX)
		return false;
	fmt(rp->text[rp->nlines++], REPLY_LINE_MAX, "%s", keyword);
	return true;
}

/*
 * RFC 3030. CHUNKING is ours to offer, whatever the upstream says: BDAT is
 * answered here like DATA, and the message goes on by BDAT if the upstream
 * offered CHUNKING (s->up_chunking), else by DATA. BINARYMIME cannot be
 * sent by DATA nor given to a filter, whose output is made CRLF text: it
 * is offered only where the message goes on byte for byte, the upstream
 * offering both and no FilterCommand configured. (FilterType reject and
 * the Header do not touch the body; Skip authenticated is not known yet
 * at EHLO.) Called with the upstream's keywords already removed.
 */
static void
advertise_chunking(struct session *s, struct reply *rp, bool up_binarymime)
{
	s->chunking = add_keyword(rp, "CHUNKING");
	s->binarymime = s->chunking && s->up_chunking && up_binarymime &&
	    s->cfg->filter_command[0] == '\0' && add_keyword(rp, "BINARYMIME");
}

/*
 * STARTTLS is ours to offer (the upstream's was removed: TLS is hop by
 * hop), until the client uses it; with TLSRequire, AUTH only after it.
 */
static void
advertise_tls(const struct session *s, struct reply *rp)
{
	int k;

	if (s->cfg->tls_cert[0] == '\0' || s->client_tls.active)
		return;
	while (s->cfg->tls_require && (k = reply_find_keyword(rp, "AUTH")) > 0)
		reply_remove_line(rp, k);
	if (rp->nlines < REPLY_LINES_MAX)
		fmt(rp->text[rp->nlines++], REPLY_LINE_MAX, "STARTTLS");
}

static void
cmd_helo(struct session *s, const char *verb, const char *args)
{
	bool esmtp = ascii_casecmp(verb, "EHLO") == 0, up_binarymime;
	struct reply *rp;
	size_t i;
	int k;

	rp = relay_command(s, 0);
	if (rp->code == 250) {
		/* Carried through only when the upstream offers it. */
		s->pipelining = esmtp && reply_find_keyword(rp, "PIPELINING") >
		    0;
		s->up_chunking = esmtp && reply_find_keyword(rp, "CHUNKING") > 0;
		up_binarymime = esmtp && reply_find_keyword(rp, "BINARYMIME") > 0;
		s->chunking = s->binarymime = false;
		fmt(s->helo, sizeof(s->helo), "%s", args);
		transaction_reset(s);
		forward_info_reset(s);
		rewrite_name(s, rp);
		for (i = 0; esmtp && i < sizeof(stripped_extensions) /
		    sizeof(stripped_extensions[0]); i++)
			while ((k = reply_find_keyword(rp,
			    stripped_extensions[i])) > 0)
				reply_remove_line(rp, k);
		/* Offered only to whom it is allowed. */
		while (esmtp && !s->xforward_ok &&
		    (k = reply_find_keyword(rp, "XFORWARD")) > 0)
			reply_remove_line(rp, k);
		/* An empty keyword line says nothing (smtp-sink sends one). */
		for (k = rp->nlines - 1; esmtp && k > 0; k--)
			if (rp->text[k][0] == '\0')
				reply_remove_line(rp, k);
		if (esmtp) {
			advertise_chunking(s, rp, up_binarymime);
			advertise_size(s, rp);
			advertise_tls(s, rp);
		}
		s->helo_needed = false;
	}
	say_reply(s, rp);
}

/*
 * MAIL's SIZE=n (RFC 1870 6: 1*20DIGIT): 0 if absent or within the
 * limit, else the refusal has been said.
 */
static int
declared_size_refused(struct session *s, const struct esmtp_args *a)
{
	const struct esmtp_param *p = esmtp_param(a, "SIZE");
	unsigned long long n = 0, limit = s->cfg->max_message_size;
	size_t i;

	if (p == NULL)
		return 0;
	if (p->value == NULL || p->vlen == 0 || p->vlen > 20) {
		refuse(s, "a malformed SIZE", "501 5.5.4 Bad message size "
		    "syntax");
		return -1;
	}
	for (i = 0; i < p->vlen; i++) {
		unsigned d = (unsigned)(p->value[i] - '0');

		if (d > 9) {
			refuse(s, "a malformed SIZE", "501 5.5.4 Bad message "
			    "size syntax");
			return -1;
		}
		/* 20 digits may not fit: saturate, it is over any limit. */
		n = n > (~0ULL - d) / 10 ? ~0ULL : n * 10 + d;
	}
	if (limit != 0 && n > limit) {
		refuse(s, "a SIZE over MaxMessageSize", "552 5.3.4 Error: "
		    "message size exceeds fixed limit");
		return -1;
	}
	return 0;
}

/* ---- pipelining (RFC 2920) ------------------------------------------- */

/* MAIL's reply: a 2xx starts the transaction. */
static void
mail_done(struct session *s, const struct pending *p, const struct reply *rp)
{
	if (rp->code / 100 == 2) {
		transaction_reset(s);
		s->tx.mail_accepted = true;
		s->tx.binarymime = p->flags & PEND_BINARYMIME;
		fmt(s->tx.sender, sizeof(s->tx.sender), "%s", p->addr);
	}
	say_reply(s, rp);
}

/* RCPT's reply: a 2xx adds the recipient (len bytes) to the list. */
static void
rcpt_done(struct session *s, const char *rcpt, size_t len,
    const struct reply *rp)
{
	struct transaction *tx = &s->tx;

	if (rp->code / 100 == 2 && tx->mail_accepted) {
		char *dst = tx->rcpt_env + strlen(RCPT_ENV_PREFIX) + tx->rcpt_len;

		if (tx->nrcpt > 0) {
			*dst++ = '\n';
			tx->rcpt_len++;
		}
		memcpy(dst, rcpt, len + 1);
		tx->rcpt_len += len;
		tx->nrcpt++;
	}
	say_reply(s, rp);
}

/* Reads the reply owed to one command sent ahead and completes it. */
static void
complete_pending(void *arg, const struct pending *p)
{
	struct session *s = arg;
	struct reply *rp = upstream_reply(s);

	no_surprise_3xx(s, rp, 0, p->kind == PEND_MAIL ? "MAIL" : "RCPT");
	if (p->kind == PEND_MAIL)
		mail_done(s, p, rp);
	else
		rcpt_done(s, p->addr, p->len, rp);
}

/*
 * Reads the replies owed to the MAIL and RCPT sent ahead, in order, and
 * completes each: one reply per command, relayed as it comes. A 421 ends
 * the session there (upstream_reply()); the later commands get no reply.
 */
static void
drain_replies(struct session *s)
{
	pipeline_drain(&s->pipe, complete_pending, s);
}

/*
 * Sends the client's MAIL or RCPT (s->line) upstream. Its reply is read at
 * once unless the upstream offered PIPELINING and the client's next command
 * is already here (RFC 2920 3.1): then it waits its turn, and the batch
 * leaves in one write when the replies are read.
 */
static void
send_ahead(struct session *s, enum pending_kind kind, unsigned flags,
    const char *addr, size_t len)
{
	bool full = pipeline_push(&s->pipe, kind, flags, addr, len);

	upstream_send(s, s->line);
	if (!s->pipelining || !io_line_pending(&s->client) || full)
		drain_replies(s);
}

/* TLSRequire: MAIL and AUTH wait for STARTTLS; false when refused. */
static bool
tls_allows(struct session *s)
{
	if (!s->cfg->tls_require || s->client_tls.active)
		return true;
	refuse(s, "a command before STARTTLS (TLSRequire)",
	    "530 5.7.0 Must issue a STARTTLS command first");
	return false;
}

static void
cmd_mail(struct session *s, const char *verb, const char *args)
{
	char sender[PATH_ADDR_MAX];
	struct esmtp_args a;
	const char *bad;
	bool binary;

	(void)verb;
	if (!tls_allows(s))
		return;
	if (s->helo_needed) {
		/* RFC 3207 4.2: the session starts over after TLS. */
		say(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if ((bad = esmtp_parse(args, "FROM:", true, sender, sizeof(sender),
	    &a)) != NULL) {
		refuse(s, bad, "501 5.5.4 Syntax: MAIL FROM:<address> "
		    "[parameters]");
		return;
	}
	binary = esmtp_value_is(esmtp_param(&a, "BODY"), "BINARYMIME");
	if (binary && !s->binarymime) {
		say(s, "504 5.5.4 BINARYMIME is not supported");
		return;
	}
	if (declared_size_refused(s, &a) < 0)
		return;
	send_ahead(s, PEND_MAIL, binary ? PEND_BINARYMIME : 0, sender,
	    strlen(sender));
}

static void
cmd_rcpt(struct session *s, const char *verb, const char *args)
{
	char rcpt[PATH_ADDR_MAX];
	struct transaction *tx = &s->tx;
	struct esmtp_args a;
	const char *bad;
	size_t len, owed_len;
	unsigned owed;

	(void)verb;
	if ((bad = esmtp_parse(args, "TO:", false, rcpt, sizeof(rcpt), &a)) !=
	    NULL) {
		refuse(s, bad, "501 5.5.4 Syntax: RCPT TO:<address> "
		    "[parameters]");
		return;
	}
	len = a.addrlen;
	/* The limits count what the upstream accepted: when one could
	 * apply to the RCPTs still owed a reply, those replies are read
	 * first, so a RCPT refused here never goes upstream. */
	pipeline_owed_rcpts(&s->pipe, &owed, &owed_len);
	if (tx->nrcpt + owed >= s->cfg->max_recipients ||
	    tx->rcpt_len + owed_len + len + 1 > RCPT_BYTES_MAX)
		drain_replies(s);
	if (tx->mail_accepted && tx->nrcpt >= s->cfg->max_recipients) {
		/* RFC 5321 4.5.3.1.10; like Postfix's recipient overshoot,
		 * not counted as an error: the client may go on trying. */
		if (tx->rcpt_refused++ == 0)
			log_msg(s->log, L_NOTICE, "%s reached MaxRecipients (%u):"
			    " further RCPTs get 452", s->ep.client_ip,
			    s->cfg->max_recipients);
		say_uncounted(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (tx->rcpt_len + len + 1 > RCPT_BYTES_MAX) {
		/* Logged once a transaction: the client may go on trying. */
		if (tx->rcpt_refused++ == 0)
			log_msg(s->log, L_NOTICE, "recipient list of %s full at "
			    "%u recipients (%d bytes): further RCPTs get 452",
			    s->ep.client_ip, tx->nrcpt, RCPT_BYTES_MAX);
		say_uncounted(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	send_ahead(s, PEND_RCPT, 0, rcpt, len);
}

static void
cmd_rset(struct session *s, const char *verb, const char *args)
{
	(void)verb;
	(void)args;
	transaction_reset(s);
	forward_info_reset(s);
	say_reply(s, relay_command(s, 0));
}

__attribute__((noreturn)) static void
cmd_quit(struct session *s, const char *verb, const char *args)
{
	(void)verb;
	(void)args;
	say_reply(s, relay_command(s, 0));
	finish(s);
}

static void
cmd_xforward(struct session *s, const char *verb, const char *args)
{
	char remote[PATH_ADDR_MAX], helo[PATH_ADDR_MAX];
	struct reply *rp;

	(void)verb;
	if (!s->xforward_ok) {
		/* It would let any client forge REMOTE for the filter and the
		 * upstream's idea of the original client. */
		refuse(s, "XFORWARD from a host not in AuthorizedXForwardHosts",
		    "550 5.7.0 Error: XFORWARD not allowed");
		return;
	}
	xforward_parse(args, remote, helo, sizeof(remote));
	rp = relay_command(s, 0);
	if (rp->code / 100 == 2) {
		/* "[UNAVAILABLE]" and the like carry no information. */
		if (remote[0] != '\0' && remote[0] != '[')
			fmt(s->remote, sizeof(s->remote), "%s", remote);
		if (helo[0] != '\0' && helo[0] != '[')
			fmt(s->remote_helo, sizeof(s->remote_helo), "%s",
			    helo);
	}
	say_reply(s, rp);
}

static void
cmd_auth(struct session *s, const char *verb, const char *args)
{
	struct reply *rp;
	size_t len;
	bool bare;
	int r;

	(void)verb;
	(void)args;
	if (!tls_allows(s))
		return;
	rp = relay_command(s, 334);
	/* 334 challenges go on until the server decides; the client's
	 * answers are credentials and are never logged. */
	while (rp->code == 334) {
		say_reply(s, rp);
		r = io_getline(&s->client, s->line, s->cfg->max_line_length,
		    &len, &bare);
		if (r == IO_TOOLONG) {
			/* The exchange is broken; cancel it upstream. */
			rp = upstream_command(s, "*");
			refuse(s, "an authentication answer over MaxLineLength",
			    "500 5.5.2 Error: line too long");
			return;
		}
		if (r != IO_OK)
			die_client(s, r);
		if (!line_is_clean(s->line, len)) {
			/* A bare CR could end the line early at the upstream
			 * and start commands we never saw. */
			rp = upstream_command(s, "*");
			refuse(s, "an authentication answer with a control "
			    "character", "501 5.5.2 Error: invalid character in "
			    "authentication exchange");
			return;
		}
		rp = relay_command(s, 334);
	}
	if (rp->code == 235)
		s->authenticated = true;
	say_reply(s, rp);
}

static void
cmd_xclient(struct session *s, const char *verb, const char *args)
{
	(void)verb;
	(void)args;
	/* It would let a client forge its address through our trusted
	 * connection to the upstream. */
	refuse(s, "XCLIENT", "554 5.7.1 Error: XCLIENT not allowed");
}

static void
cmd_unsupported(struct session *s, const char *verb, const char *args)
{
	(void)args;
	say(s, "502 5.5.1 Error: %s not implemented", verb);
}

/* ---- STARTTLS (RFC 3207), both legs ------------------------------------ */

/* The TLS module's functions, loaded at the first use; NULL with why. */
static const struct tls_api *
tls_module(struct session *s, char *why, size_t whylen)
{
	if (s->tls_api == NULL)
		s->tls_api = tlsmod_load(s->cfg->tls_module, why, whylen);
	return s->tls_api;
}

/* The context of one side (server: inbound), made at its first use;
 * -1 with why. */
static int
tls_context(struct session *s, bool server, char *why, size_t whylen)
{
	void **ctx = server ? &s->tls_server_ctx : &s->tls_client_ctx;

	if (*ctx != NULL)
		return 0;
	if (tls_module(s, why, whylen) == NULL)
		return -1;
	return tlsmod_context(s->tls_api, s->cfg, server, ctx, why, whylen);
}

/* %t of the Header: the client's TLS, or "none". */
static const char *
tls_text(const struct session *s, char *buf, size_t len)
{
	if (!s->client_tls.active)
		return "none";
	fmt(buf, len, "%s %s", s->client_tls.info.protocol,
	    s->client_tls.info.cipher);
	return buf;
}

/*
 * After the handshake the session starts over (RFC 3207 4.2): what the
 * client said before is forgotten, and it must say EHLO again. The
 * upstream keeps its session: no transaction is open (STARTTLS is refused
 * in one), and the client's next EHLO is relayed to it.
 */
static void
client_tls_started(struct session *s)
{
	const struct tls_info *ti = &s->client_tls.info;

	log_msg(s->log, L_INFO, "STARTTLS from %s: %s with cipher %s (%d "
	    "bits)", s->ep.client_ip, ti->protocol, ti->cipher, ti->bits);
	transaction_reset(s);
	forward_info_reset(s);
	s->helo[0] = '\0';
	s->helo_needed = true;
}

/* Whether STARTTLS may start now; if not, the client has been told. */
static bool
starttls_acceptable(struct session *s, const char *args)
{
	if (args[0] != '\0')
		say(s, "501 5.5.4 Syntax: STARTTLS");
	else if (s->client_tls.active)
		say(s, "503 5.5.1 Error: TLS already active");
	else if (s->tx.mail_accepted)
		say(s, "503 5.5.1 Error: MAIL transaction in progress");
	else if (s->authenticated)
		/* The upstream would keep the AUTH we would have to forget. */
		say(s, "503 5.5.1 Error: already authenticated");
	else
		return true;
	return false;
}

static void
cmd_starttls(struct session *s, const char *verb, const char *args)
{
	char why[TLS_WHY_MAX + 64];
	size_t left;
	int r;

	if (s->cfg->tls_cert[0] == '\0') {
		cmd_unsupported(s, verb, args);
		return;
	}
	if (!starttls_acceptable(s, args))
		return;
	if (tls_context(s, true, why, sizeof(why)) < 0) {
		log_msg(s->log, L_ERR, "STARTTLS: %s", why);
		say_uncounted(s, "454 4.7.0 TLS not available due to local "
		    "problem");
		return;
	}
	say(s, "220 2.0.0 Ready to start TLS");
	if ((r = io_flush(&s->client)) != IO_OK)
		die_client(s, r);
	/* CVE-2011-0411: what came with STARTTLS in plaintext is never read
	 * as commands inside TLS, where they would pass as the client's. */
	if ((left = io_discard(&s->client)) > 0)
		log_msg(s->log, L_NOTICE, "discarded %zu bytes %s sent after "
		    "STARTTLS before the handshake", left, s->ep.client_ip);
	r = tls_start(&s->client_tls, s->tls_api, s->tls_server_ctx,
	    &s->client, NULL);
	if (r == IO_SIGNAL)
		die_client(s, r);
	if (r != IO_OK)
		die(s, EXIT_SESSION_FAILED, NULL, "STARTTLS: handshake with %s "
		    "failed: %s", s->ep.client_ip, r == IO_TLS ?
		    s->client_tls.why : io_strstatus(r));
	client_tls_started(s);
}

/* The name OutTLS sends and checks: OutTLSName, else OutAddress's host. */
static const char *
upstream_tls_name(const struct session *s, struct out_address *oa)
{
	if (s->cfg->out_tls_name[0] != '\0')
		return s->cfg->out_tls_name;
	if (s->cfg->out_address[0] != '\0' &&
	    out_address_parse(s->cfg->out_address, oa) == NULL &&
	    oa->kind == OUT_HOST)
		return oa->host;
	return "";
}

/*
 * OutTLS: STARTTLS upstream before the first client command goes there.
 * With "may" the session goes on in plaintext when the upstream does not
 * offer it (or TLS cannot be set up here); with "encrypt" and "verify"
 * nothing is relayed in the clear: 421 and exit. A failed handshake ends
 * the session whatever the level: the connection is no longer usable.
 */
static void
upstream_starttls(struct session *s)
{
	static const char *const levels[] = { "none", "may", "encrypt",
	    "verify" };
	const char *level = levels[s->cfg->out_tls];
	bool may = s->cfg->out_tls == OUT_TLS_MAY;
	char cmd[CMD_LINE_MAX], why[TLS_WHY_MAX + 64], fail[256];
	struct out_address oa;
	struct reply *rp;
	int r;

	s->upstream_tls_done = true;
	fmt(fail, sizeof(fail), "421 4.7.0 %s Error: no TLS to the "
	    "upstream server, try again later", s->hostname);
	fmt(cmd, sizeof(cmd), "EHLO %s", s->hostname);
	rp = upstream_command(s, cmd);
	if (rp->code != 250 || reply_find_keyword(rp, "STARTTLS") <= 0)
		fmt(why, sizeof(why), "upstream %s does not offer STARTTLS "
		    "(EHLO: %d)", s->server, rp->code);
	else if (tls_context(s, false, why, sizeof(why)) < 0)
		;	/* why says it */
	else if ((rp = upstream_command(s, "STARTTLS"))->code != 220)
		fmt(why, sizeof(why), "upstream %s refused STARTTLS: %d "
		    "%s", s->server, rp->code, rp->text[0]);
	else
		why[0] = '\0';
	if (why[0] != '\0' && may) {
		log_msg(s->log, L_INFO, "OutTLS may: plaintext: %s", why);
		return;
	}
	if (why[0] != '\0')
		die(s, EXIT_TEMPORARY, fail, "OutTLS %s: %s: nothing relayed",
		    level, why);
	r = tls_start(&s->upstream_tls, s->tls_api, s->tls_client_ctx,
	    &s->upstream, upstream_tls_name(s, &oa));
	if (r == IO_SIGNAL)
		die_client(s, r);
	if (r != IO_OK)
		die(s, EXIT_TEMPORARY, fail, "OutTLS %s: handshake with upstream "
		    "%s failed: %s: nothing relayed", level, s->server,
		    r == IO_TLS ? s->upstream_tls.why : io_strstatus(r));
	log_msg(s->log, L_INFO, "TLS to upstream %s (OutTLS %s): %s with "
	    "cipher %s (%d bits)", s->server, level,
	    s->upstream_tls.info.protocol, s->upstream_tls.info.cipher,
	    s->upstream_tls.info.bits);
}

/* ---- DATA ------------------------------------------------------------ */

/* Whether a message of size bytes is over MaxMessageSize. */
static bool
oversized(const struct session *s, unsigned long long size)
{
	return s->cfg->max_message_size != 0 &&
	    size > s->cfg->max_message_size;
}

/*
 * Reads the body into s->msg until CRLF.CRLF; returns its size. Past
 * MaxMessageSize the rest is read to its end and counted, not spooled.
 * Dies if the client goes.
 */
static unsigned long long
receive_body(struct session *s, struct data_decoder *dec)
{
	unsigned char out[DATA_DECODE_ROOM(IO_BUFSIZE / 4)];
	unsigned long long got = 0, limit = s->cfg->max_message_size;
	const unsigned char *p;
	size_t n, used, olen, keep;
	int r;

	data_decoder_init(dec);
	while (!data_done(dec)) {
		if ((r = io_peek(&s->client, &p, &n)) != IO_OK)
			die_client(s, r);
		if (n > IO_BUFSIZE / 4)
			n = IO_BUFSIZE / 4;
		used = data_decode(dec, p, n, out, &olen);
		io_consume(&s->client, used);
		keep = olen;
		if (oversized(s, got + olen))
			keep = got >= limit ? 0 : (size_t)(limit - got);
		spool_put(&s->msg, out, keep);
		got += olen;
	}
	return got;
}

/* RSET after the client has had its reply: a failure is for later. */
static void
upstream_rset(struct session *s)
{
	char reply[256], why[REPLY_LINE_MAX + 32];
	int r;

	if ((r = io_puts(&s->upstream, "RSET\r\n")) != IO_OK ||
	    (r = reply_read(&s->upstream, &s->reply)) != IO_OK) {
		fatal_reply(s, reply, sizeof(reply), r);
		if (r == IO_SIGNAL)
			die_client(s, r);
		upstream_drop(s, reply, r == REPLY_BAD ? "malformed reply to "
		    "RSET" : io_strstatus(r));
	} else if (s->reply.code == 421) {
		own_name_text(s, s->reply.text[0], why, sizeof(why));
		fmt(reply, sizeof(reply), "421 %s", why);
		fmt(why, sizeof(why), "421 %s", s->reply.text[0]);
		upstream_drop(s, reply, why);
	}
}

/*
 * Ends the message: client reply (all of full when given, else the line
 * reply), the log line, upstream RSET if asked.
 */
static void
message_done_full(struct session *s, const char *outcome, const char *reply,
    const struct reply *full, const char *detail, long filter_ms, bool rset)
{
	struct log_message m = {
		.client = s->ep.client_ip,
		.sender = s->tx.sender,
		.recipients = s->tx.rcpt_env + strlen(RCPT_ENV_PREFIX),
		.size = (unsigned long long)s->msg.size,
		.outcome = outcome,
		.reply = reply,
		.detail = detail,
		.filter_ms = filter_ms,
	};
	int r;

	if (full != NULL)
		say_reply(s, full);
	else
		say(s, "%s", reply);
	log_message(s->log, &m);
	s->messages++;
	s->message_open = false;
	spool_remove(&s->msg);
	spool_remove(&s->out);
	tx_reset(&s->tx);
	forward_info_reset(s);
	if (rset) {
		/* So that both sides agree the transaction is over. */
		if ((r = io_flush(&s->client)) != IO_OK)
			die_client(s, r);
		session_move(s, EV_DONE);
		upstream_rset(s);
	}
}

static void
message_done(struct session *s, const char *outcome, const char *reply,
    const char *detail, long filter_ms, bool rset)
{
	message_done_full(s, outcome, reply, NULL, detail, filter_ms, rset);
}

/* The reply and log line of a message over MaxMessageSize. */
static void
message_too_big(struct session *s, unsigned long long size, bool rset)
{
	char detail[128];

	s->msg.size = (off_t)size;	/* the log says what was sent */
	fmt(detail, sizeof(detail), "message size %llu exceeds "
	    "MaxMessageSize %llu", size, s->cfg->max_message_size);
	message_done(s, "rejected", "552 5.3.4 Error: message size exceeds "
	    "fixed limit", detail, -1, rset);
}

static const char *
outcome_of(int code)
{
	return code / 100 == 2 ? "forwarded" : code / 100 == 4 ? "tempfail" :
	    "rejected";
}

static void end_of_data(struct session *, long filter_ms);

/*
 * DATA upstream; true when it answered 354. Otherwise the message is over:
 * a refusal is the client's reply (RSET if rset), anything else ends the
 * session.
 */
static bool
upstream_data(struct session *s, long filter_ms, bool rset)
{
	char summary[REPLY_LINE_MAX + 8];
	struct reply *rp = s->data_ahead ? upstream_reply(s) :
	    upstream_command(s, "DATA");

	s->data_ahead = false;
	if (rp->code == 354)
		return true;
	reply_summary(rp, summary, sizeof(summary));
	if (rp->code / 100 == 2 || rp->code / 100 == 3)
		die(s, EXIT_SESSION_FAILED, "451 4.3.0 Error: upstream "
		    "server misbehaved", "upstream %s answered DATA with %s",
		    s->server, summary);
	if (s->message_open)
		message_done_full(s, outcome_of(rp->code), summary, rp,
		    "upstream refused DATA", filter_ms, rset);
	else
		say_reply(s, rp);
	return false;
}

/*
 * Only 2xx, 4xx and 5xx end a message (RFC 5321 4.3.2): after another
 * reply (r, s->reply) the two sides no longer agree where the session is.
 * The client is told the message failed, the upstream is dropped.
 */
static void
end_of_data_misread(struct session *s, int r, long filter_ms)
{
	char why[REPLY_LINE_MAX + 64], summary[REPLY_LINE_MAX + 8];

	if (r == REPLY_BAD)
		fmt(why, sizeof(why), "upstream answered the end "
		    "of data with a malformed reply");
	else
		fmt(why, sizeof(why), "upstream answered the end "
		    "of data with %d %s", s->reply.code,
		    s->reply.text[0]);
	fmt(summary, sizeof(summary), "421 4.3.0 %s Error: "
	    "upstream server misbehaved, closing connection",
	    s->hostname);
	message_done(s, "tempfail", "451 4.3.0 Error: upstream server "
	    "misbehaved, try again later", why, filter_ms, false);
	upstream_drop(s, summary, why);
}

static void temp_failure(struct session *, const char *detail,
    long filter_ms);

/*
 * A message that came by BDAT goes on by BDAT when the upstream offered
 * CHUNKING: one chunk, "BDAT n LAST", n measured by a first pass over the
 * file. Its bytes are CRLF text (a filter may have written bare LFs), or
 * for BODY=BINARYMIME the bytes as they came, with the Header in both. The
 * second pass can write no more than n bytes and completes the chunk only
 * with exactly n (struct data_encoder's cap): a file that changed between
 * the passes ends the session, the chunk incomplete, so the upstream
 * discards it.
 */
static void
forward_chunked(struct session *s, int fd, const char *header, long filter_ms)
{
	enum enc_mode mode = s->tx.binarymime ? ENC_BINARY : ENC_CHUNK;
	unsigned long long n, sent;
	char cmd[64], why[256];
	int r;

	if (data_encode_as(fd, NULL, header, mode, 0, &n) != IO_OK) {
		fmt(why, sizeof(why), "reading spooled message: %s",
		    strerror(errno));
		temp_failure(s, why, filter_ms);
		return;
	}
	fmt(cmd, sizeof(cmd), "BDAT %llu LAST", n);
	upstream_send(s, cmd);
	r = data_encode_as(fd, &s->upstream, header, mode, n, &sent);
	if (r == IO_ERROR && errno == EOVERFLOW)
		log_msg(s->log, L_ERR, "the message changed while it was sent "
		    "(%llu bytes measured, more or fewer sent)", n);
	if (r != IO_OK)
		die_upstream(s, r);
	end_of_data(s, filter_ms);
}

/*
 * Sends the file fd upstream as this transaction's message: after DATA,
 * or by BDAT (forward_chunked()) if it came by BDAT and the upstream
 * offered CHUNKING.
 */
static void
forward(struct session *s, int fd, long filter_ms)
{
	char header[CONFIG_VALUE_MAX * 2], tls[128];
	off_t sent;
	int r;

	session_move(s, EV_FORWARD);
	header_expand(s->cfg->header, s->ep.client_ip, s->ep.local_ip,
	    tls_text(s, tls, sizeof(tls)), header, sizeof(header));
	if (s->tx.bdat && s->up_chunking) {
		forward_chunked(s, fd, header, filter_ms);
		return;
	}
	if (!upstream_data(s, filter_ms, true))
		return;
	r = data_encode(fd, &s->upstream, header, &sent);
	if (r == IO_ERROR && errno != 0 && fcntl(fd, F_GETFD) >= 0 &&
	    errno != EPIPE && errno != ECONNRESET)
		log_msg(s->log, L_ERR, "reading spooled message: %s",
		    strerror(errno));
	/* Anything short of the whole message: no terminator was sent, the
	 * upstream discards the partial message when we go. */
	if (r != IO_OK)
		die_upstream(s, r);
	end_of_data(s, filter_ms);
}

/* The upstream's reply to the end of data, relayed; the message is done. */
static void
end_of_data(struct session *s, long filter_ms)
{
	char summary[REPLY_LINE_MAX + 8];
	int r;

	r = reply_read(&s->upstream, &s->reply);
	if (r == IO_OK && s->reply.code == 421)
		upstream_closing(s, &s->reply);
	if (r == REPLY_BAD || (r == IO_OK && s->reply.code / 100 == 3)) {
		end_of_data_misread(s, r, filter_ms);
		return;
	}
	if (r != IO_OK)
		die_upstream(s, r);
	reply_summary(&s->reply, summary, sizeof(summary));
	message_done_full(s, outcome_of(s->reply.code), summary, &s->reply,
	    NULL, filter_ms, false);
	if (s->reply.code / 100 == 2)
		s->junk = 0;	/* a delivery: the client is doing its job */
}

static void
session_env(struct session *s, struct filter_env *fe)
{
	struct filter_env_values v = {
		.client = s->ep.client_ip,
		.sender = s->tx.sender,
		.server = s->server,
		.tmpdir = s->cfg->temp_directory,
		.remote = s->remote,
		.remote_helo = s->remote_helo,
		.tls_protocol = s->client_tls.active ?
		    s->client_tls.info.protocol : "",
		.tls_cipher = s->client_tls.info.cipher,
		.email = s->msg.named ? s->msg.path : NULL,
		.recipients = s->tx.rcpt_env,
	};

	build_env(fe, &v);
}

static void
keepalive(void *arg)
{
	struct session *s = arg;
	int r;

	if (s->upstream_lost)
		return;
	if ((r = io_puts(&s->upstream, "NOOP\r\n")) == IO_OK)
		r = reply_read(&s->upstream, &s->reply);
	/* A signal ends the filter's wait, which reports it as one; the
	 * upstream is not lost for it. */
	if (r == IO_SIGNAL || (r == IO_OK && s->reply.code != 421))
		return;
	log_msg(s->log, L_WARNING, "keepalive to %s failed: %s", s->server,
	    r == IO_OK ? "421 (closing)" : r == REPLY_BAD ? "malformed reply" :
	    io_strstatus(r));
	s->upstream_lost = true;
}

static void
temp_failure(struct session *s, const char *detail, long filter_ms)
{
	log_msg(s->log, L_ERR, "%s", detail);
	message_done(s, "tempfail", "451 4.3.0 Error: temporary failure "
	    "processing message, try again later", detail, filter_ms, true);
}

/*
 * What the filter's verdict means for the message: true if it goes on
 * upstream, else the message is done (the client told).
 */
static bool
filter_passed(struct session *s, const struct filter_result *res)
{
	/* For the log line of a message the session ends with. */
	s->filter_ms = res->ms;
	if (res->outcome == VERDICT_SIGNALLED)
		die_client(s, IO_SIGNAL);
	if (s->upstream_lost)
		die_upstream(s, IO_EOF);
	switch (res->outcome) {
	case VERDICT_REJECT:
		/* A filter's 4xx defers the message, as an upstream's does. */
		message_done(s, res->reply[0] == '4' ? "tempfail" : "rejected",
		    res->reply, res->why, res->ms, true);
		return false;
	case VERDICT_DROP:
		message_done(s, "dropped", res->reply, res->why, res->ms, true);
		return false;
	case VERDICT_TEMPFAIL:
	case VERDICT_SIGNALLED:
		temp_failure(s, res->why, res->ms);
		return false;
	case VERDICT_FORWARD:
		break;
	}
	return true;
}

/* A pipe filter's output, in s->out, as the message. */
static void
forward_output(struct session *s, long filter_ms)
{
	if (spool_flush(&s->out) < 0) {
		temp_failure(s, errno == ENOSPC ?
		    "disk full writing filter output" :
		    "cannot write filter output", filter_ms);
		return;
	}
	if (s->out.size == 0) {
		temp_failure(s, "filter exited 0 with no output", filter_ms);
		return;
	}
	forward(s, s->out.fd, filter_ms);
}

/*
 * A file filter's $EMAIL as the message. The filter may have replaced the
 * file: open it by name again, without blocking (a FIFO left there would
 * wait for a writer for ever) and without following a link; only a
 * regular file is a message.
 */
static void
forward_file(struct session *s, long filter_ms)
{
	const char *why = NULL;
	struct stat st;
	int fd;

	fd = open(s->msg.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		why = errno == ELOOP ? "filter left a symbolic link at $EMAIL" :
		    "filter left no message in $EMAIL";
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		why = "filter left something other than a regular file at "
		    "$EMAIL";
	else if (st.st_size == 0)
		why = "filter left no message in $EMAIL";
	if (why != NULL) {
		if (fd >= 0)
			close(fd);
		temp_failure(s, why, filter_ms);
		return;
	}
	forward(s, fd, filter_ms);
	close(fd);
}

/*
 * No filter to run: the message goes upstream as it arrives, decoded and
 * encoded again on the way (canonical CRLF, dot-stuffing, the Header), with
 * nothing on disk and no second pass. The upstream's DATA reply answers the
 * client's DATA, and its end-of-data reply the client's end of data, so the
 * client gets 250 only when the upstream took the whole message. If either
 * side fails mid-message no terminator is sent: the upstream discards it.
 * So it is with a message that grows past MaxMessageSize: forwarding
 * stops, the rest is read, the client gets 552 and the upstream, which
 * can be told to discard a message only by losing it, is dropped: the
 * next command gets 421.
 */
static void
stream_message(struct session *s)
{
	char header[CONFIG_VALUE_MAX * 2], gone[256], tls[128];
	unsigned long long got = 0;
	struct data_decoder dec;
	const unsigned char *p;
	unsigned char *q;
	size_t n, room, used, olen, mlen;
	int r;

	session_move(s, EV_FORWARD);
	if (!upstream_data(s, -1, false))
		return;
	say(s, "354 End data with <CR><LF>.<CR><LF>");
	s->message_open = true;
	s->filter_ms = -1;
	s->msg.size = 0;
	header_expand(s->cfg->header, s->ep.client_ip, s->ep.local_ip,
	    tls_text(s, tls, sizeof(tls)), header, sizeof(header));
	/* Decoded and stuffed again in one pass, from the client's read
	 * buffer straight into the upstream's write queue. */
	data_relay_init(&dec, header);
	while (!data_done(&dec)) {
		if ((r = io_peek(&s->client, &p, &n)) != IO_OK)
			die_client(s, r);
		/* Oversized: nothing more goes upstream, the queue is only
		 * scratch for finding the end. */
		if (oversized(s, got))
			io_drop_output(&s->upstream);
		if ((r = io_room(&s->upstream, data_relay_room(&dec), &q,
		    &room)) != IO_OK)
			die_upstream(s, r);
		used = data_relay(&dec, p, n, q, room, &olen, &mlen);
		io_consume(&s->client, used);
		got += mlen;
		if (oversized(s, got))
			continue;	/* read to its end, never forwarded */
		s->msg.size = (off_t)got;
		io_commit(&s->upstream, olen);
	}
	if (oversized(s, got)) {
		fmt(gone, sizeof(gone), "421 4.3.0 %s Error: upstream "
		    "connection closed after an oversized message, closing "
		    "connection", s->hostname);
		message_too_big(s, got, false);
		upstream_drop(s, gone, "a message over MaxMessageSize was cut "
		    "off mid-DATA");
		return;
	}
	end_of_data(s, -1);
}

static void
run_filter(struct session *s)
{
	const struct config *cfg = s->cfg;
	/* On the stack: packed, its strings touch a page or two of it. */
	struct filter_env fe;
	struct filter_result res;
	bool file_mode = cfg->filter_type == FILTER_FILE;

	if (!file_mode && spool_create(&s->out, cfg->temp_directory, s->id,
	    false) < 0) {
		char detail[256];

		fmt(detail, sizeof(detail), "cannot create temp file in "
		    "%s: %s", cfg->temp_directory, strerror(errno));
		temp_failure(s, detail, -1);
		return;
	}
	session_env(s, &fe);
	session_move(s, EV_FILTER);
	filter_run(cfg, fe.envp, file_mode ? -1 : s->msg.fd,
	    file_mode ? NULL : &s->out, &s->filter_pgid, keepalive, s, &res);
	if (!filter_passed(s, &res))
		return;
	if (file_mode)
		forward_file(s, res.ms);
	else
		forward_output(s, res.ms);
}

/* Nothing to filter and nothing to judge after the end: stream. */
static bool
streamed(const struct session *s)
{
	const struct config *cfg = s->cfg;

	return cfg->filter_type != FILTER_REJECT &&
	    cfg->bare_newline == BARE_NEWLINE_NORMALIZE &&
	    (cfg->filter_command[0] == '\0' ||
	    (cfg->skip_authenticated && s->authenticated));
}

/* Whether DATA may start: refused (and told) without MAIL and RCPT. */
static bool
data_acceptable(struct session *s, const char *args)
{
	if (args[0] != '\0') {
		say(s, "501 5.5.4 Syntax: DATA");
		return false;
	}
	if (!s->tx.mail_accepted) {
		say(s, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	if (s->tx.nrcpt == 0) {
		say(s, "503 5.5.1 Error: need RCPT command");
		return false;
	}
	if (s->tx.binarymime) {
		/* RFC 3030 3: a binary body has no DATA form. */
		say(s, "503 5.5.1 Error: BODY=BINARYMIME needs BDAT");
		return false;
	}
	if (s->tx.bdat) {
		/* RFC 3030 2: 503, and the state is indeterminate; ours is
		 * none, so that no half message can go on. */
		message_done(s, "rejected", "503 5.5.1 Error: DATA after BDAT, "
		    "the message is discarded", "DATA after BDAT", -1, true);
		return false;
	}
	return true;
}

/*
 * Opens the temp file the message is spooled to: NULL, or the reply that
 * says why not (logged here).
 */
static const char *
message_spool_open(struct session *s)
{
	const struct config *cfg = s->cfg;
	char why[512];
	bool named;
	int err;

	named = cfg->filter_type == FILTER_FILE &&
	    cfg->filter_command[0] != '\0' &&
	    !(cfg->skip_authenticated && s->authenticated);
	if (spool_dir_check(cfg->temp_directory, why, sizeof(why)) < 0) {
		log_msg(s->log, L_ERR, "%s", why);
		return "451 4.3.0 Error: cannot spool message, try again later";
	}
	if (spool_create(&s->msg, cfg->temp_directory, s->id, named) < 0) {
		err = errno;
		log_msg(s->log, L_ERR, "cannot create temp file in %s: %s",
		    cfg->temp_directory, strerror(err));
		return err == ENOSPC || err == EDQUOT ?
		    "452 4.3.1 Error: insufficient system storage" :
		    "451 4.3.0 Error: cannot spool message, try again later";
	}
	return NULL;
}

/*
 * Whether the received message (size bytes) is whole on disk and
 * acceptable.
 */
static bool
message_spooled(struct session *s, bool bare_newline, unsigned long long size)
{
	int err;

	if (oversized(s, size)) {
		message_too_big(s, size, true);
		return false;
	}
	if (spool_flush(&s->msg) < 0) {
		err = errno;
		log_msg(s->log, L_ERR, "writing temp file in %s: %s",
		    s->cfg->temp_directory, strerror(err));
		message_done(s, "tempfail", err == ENOSPC || err == EDQUOT ?
		    "452 4.3.1 Error: insufficient system storage" :
		    "451 4.3.0 Error: cannot spool message, try again later",
		    strerror(err), -1, true);
		return false;
	}
	if (bare_newline && s->cfg->bare_newline == BARE_NEWLINE_REJECT) {
		message_done(s, "rejected", "550 5.6.0 Error: bare CR or LF "
		    "in message; lines must end in CRLF", "bare newline", -1,
		    true);
		return false;
	}
	return true;
}

/* The spooled message: forwarded as it is, refused, or filtered. */
static void
deliver(struct session *s)
{
	const struct config *cfg = s->cfg;
	char reply[REPLY_LINE_MAX];

	if (cfg->skip_authenticated && s->authenticated) {
		forward(s, s->msg.fd, -1);
		return;
	}
	if (cfg->filter_type == FILTER_REJECT) {
		int code = reply_parse_verdict(cfg->filter_reject,
		    "530 Email Rejected", reply, sizeof(reply));

		message_done(s, code == 250 ? "dropped" : code / 100 == 4 ?
		    "tempfail" : "rejected", reply, "FilterType reject", -1,
		    true);
		return;
	}
	if (cfg->filter_command[0] == '\0') {
		forward(s, s->msg.fd, -1);
		return;
	}
	run_filter(s);
}

/*
 * A DATA that ends a pipelined group (RFC 2920 3.1) goes upstream in the
 * group's write when the message will be streamed and a MAIL and a RCPT
 * went upstream before it: one round trip to the upstream for the group,
 * not two. upstream_data() reads its reply.
 */
static void
send_data_ahead(struct session *s, const char *args)
{
	bool mail = s->tx.mail_accepted || pipeline_has(&s->pipe, PEND_MAIL);
	bool rcpt = s->tx.nrcpt > 0 || pipeline_has(&s->pipe, PEND_RCPT);

	if (pipeline_owed(&s->pipe) == 0 || args[0] != '\0' || !streamed(s))
		return;
	if (!mail || !rcpt)
		return;
	/* Nor a DATA that data_acceptable() refuses after BDAT or
	 * BODY=BINARYMIME (RFC 3030): the upstream would wait for a body. */
	if (s->tx.bdat || s->tx.binarymime ||
	    pipeline_has_flag(&s->pipe, PEND_BINARYMIME))
		return;
	upstream_send(s, "DATA");
	s->data_ahead = true;
}

/*
 * The upstream's reply to a DATA sent ahead that we refuse (no MAIL or
 * RCPT accepted): not relayed, the client gets ours. An upstream that
 * accepts it now waits for a message: it is dropped.
 */
static void
data_ahead_refused(struct session *s)
{
	char why[REPLY_LINE_MAX + 64], gone[256];
	struct reply *rp = upstream_reply(s);

	s->data_ahead = false;
	if (rp->code / 100 != 2 && rp->code / 100 != 3)
		return;
	fmt(why, sizeof(why), "upstream answered DATA with %d %s "
	    "without a recipient", rp->code, rp->text[0]);
	fmt(gone, sizeof(gone), "421 4.3.0 %s Error: upstream server "
	    "misbehaved, closing connection", s->hostname);
	upstream_drop(s, gone, why);
}

static void
cmd_data(struct session *s, const char *verb, const char *args)
{
	struct data_decoder dec;
	unsigned long long size;
	const char *refusal;

	(void)verb;
	if (s->data_ahead && !(s->tx.mail_accepted && s->tx.nrcpt > 0))
		data_ahead_refused(s);
	if (!data_acceptable(s, args))
		return;
	session_move(s, EV_DATA);
	if (streamed(s)) {
		stream_message(s);
		return;
	}
	if ((refusal = message_spool_open(s)) != NULL) {
		say(s, "%s", refusal);
		return;
	}
	say(s, "354 End data with <CR><LF>.<CR><LF>");
	s->message_open = true;
	s->filter_ms = -1;
	size = receive_body(s, &dec);
	if (message_spooled(s, dec.bare_newline, size))
		deliver(s);
}

/* ---- BDAT (RFC 3030) ------------------------------------------------- */

/* A command that moves no mail forward: MaxJunkCommands ends the session. */
static void
count_junk(struct session *s)
{
	char reply[256];

	if (++s->junk <= s->cfg->max_junk_commands)
		return;
	fmt(reply, sizeof(reply), "421 4.7.0 %s Error: too many commands "
	    "without a delivery", s->hostname);
	die(s, EXIT_SESSION_FAILED, reply, "MaxJunkCommands (%u) reached",
	    s->cfg->max_junk_commands);
}

/*
 * BDAT without CHUNKING offered (HELO, or no EHLO yet): its byte count
 * cannot be trusted to skip the chunk (a client that was never offered
 * CHUNKING may mean anything), so the session ends, as Postfix ends it.
 */
__attribute__((noreturn)) static void
bdat_unoffered(struct session *s)
{
	char reply[256];

	fmt(reply, sizeof(reply), "554 5.5.1 %s Error: BDAT without "
	    "CHUNKING, closing connection", s->hostname);
	die(s, EXIT_SESSION_FAILED, reply, "BDAT from %s: CHUNKING is not "
	    "offered, its chunk cannot be skipped", s->ep.client_ip);
}

/* Reads the chunk's n bytes into the message, or throws them away. */
static void
bdat_take(struct session *s, unsigned long long n, bool keep)
{
	int r = bdat_receive(&s->client, n, &s->bdat, keep ? &s->msg : NULL,
	    s->cfg->max_message_size);

	if (r != IO_OK)
		die_client(s, r);
}

/*
 * The first chunk of a message: true when it can be spooled. Otherwise
 * the chunk is read and thrown away and the client told why; a refusal
 * that ends the transaction leaves later chunks without one, so that they
 * too are thrown away (RFC 3030 2: after a failed BDAT the client sends
 * no more, but those pipelined already must be read).
 */
static bool
bdat_start(struct session *s, unsigned long long n)
{
	const char *refusal = !s->tx.mail_accepted ? "503 5.5.1 Error: need "
	    "MAIL command" : s->tx.nrcpt == 0 ? "503 5.5.1 Error: need RCPT "
	    "command" : NULL;

	if (refusal != NULL) {
		bdat_take(s, n, false);
		say(s, "%s", refusal);
		return false;
	}
	if ((refusal = message_spool_open(s)) != NULL) {
		bdat_take(s, n, false);
		message_done(s, "tempfail", refusal, "cannot spool", -1, true);
		return false;
	}
	session_move(s, EV_BDAT);
	bdat_body_init(&s->bdat, s->tx.binarymime);
	s->tx.bdat = true;
	return true;
}

/*
 * The LAST chunk is in: the message is judged as after DATA. An empty
 * one (BDAT 0 LAST and nothing before) has none of the header fields
 * RFC 5322 requires and is refused rather than passed on.
 */
static void
bdat_last(struct session *s)
{
	bdat_body_end(&s->bdat, &s->msg, s->cfg->max_message_size);
	s->message_open = true;
	s->filter_ms = -1;
	s->msg.size = (off_t)s->bdat.size;
	if (s->bdat.size == 0) {
		message_done(s, "rejected", "554 5.6.0 Error: empty message",
		    "BDAT 0 LAST with no chunk before it", -1, true);
		return;
	}
	if (message_spooled(s, s->bdat.bare_newline, s->bdat.size))
		deliver(s);
}

/*
 * BDAT n [LAST]: the chunk is read by its count, never as lines, so
 * nothing in it (a "\r\n.\r\n", a "MAIL FROM") is a command or ends
 * anything. Each chunk but the LAST gets 250 (it arrived: no promise about
 * the message); the LAST gets the message's reply, as the end of data
 * does, and a message over MaxMessageSize gets its 552 there, its chunks
 * read to the end and spooled no further than the limit, so that the two
 * sides stay in step.
 *
 * The message is spooled even when no filter runs, where DATA would be
 * streamed: a BDAT count goes before its bytes, and the Header and line
 * end repairs change the count, so a chunk could be passed on only whole,
 * and a whole chunk of any size can only be held on disk. (Passing chunks
 * on by their own counts would keep the upstream in step too, the counts
 * leave nothing to smuggle, but not the Header nor the CRLF text the
 * upstream is owed.)
 */
static void
cmd_bdat(struct session *s, const char *verb, const char *args)
{
	unsigned long long n;
	bool last;
	char reply[256];

	(void)verb;
	if (!s->chunking)
		bdat_unoffered(s);
	if (bdat_parse(args, &n, &last) < 0) {
		/* Where the chunk ends is unknown: nothing after it can be
		 * read as a command. */
		fmt(reply, sizeof(reply), "501 5.5.4 %s Syntax: BDAT "
		    "count [LAST], closing connection", s->hostname);
		die(s, EXIT_SESSION_FAILED, reply, "BDAT from %s with no "
		    "count of at most %d digits: its chunk cannot be found",
		    s->ep.client_ip, BDAT_SIZE_DIGITS);
	}
	if (n == 0 && !last)
		count_junk(s);	/* an empty chunk moves nothing: like NOOP */
	if (!s->tx.bdat && !bdat_start(s, n))
		return;
	bdat_take(s, n, true);
	if (!last) {
		say(s, "250 2.0.0 Ok: %llu bytes", n);
		return;
	}
	bdat_last(s);
}

/* ---- the session loop ----------------------------------------------- */

typedef void (*command_fn)(struct session *, const char *verb,
    const char *args);

/* Answered here, the upstream never asked: no XCLIENT needed first. */
#define C_LOCAL	0x1
/* Counted towards MaxJunkCommands: moves no mail forward. */
#define C_JUNK	0x2
/* May be sent upstream before the replies owed are read (RFC 2920);
 * any other command is a synchronisation point. */
#define C_PIPE	0x4

static const struct command {
	const char *verb;
	command_fn fn;
	unsigned flags;
	enum session_event on;	/* applied before fn runs */
} commands[] = {
	{ "HELO", cmd_helo, C_JUNK, EV_HELO },
	{ "EHLO", cmd_helo, C_JUNK, EV_HELO },
	{ "MAIL", cmd_mail, C_PIPE, EV_MAIL },
	{ "RCPT", cmd_rcpt, C_PIPE, EV_RCPT },
	{ "DATA", cmd_data, 0, EV_NONE },	/* EV_DATA once accepted */
	{ "RSET", cmd_rset, C_JUNK, EV_RSET },
	{ "QUIT", cmd_quit, C_LOCAL, EV_QUIT },	/* carries no trust */
	{ "NOOP", cmd_relay, C_JUNK, EV_RELAY },
	{ "VRFY", cmd_relay, C_JUNK, EV_RELAY },
	{ "EXPN", cmd_relay, C_JUNK, EV_RELAY },
	{ "HELP", cmd_relay, C_JUNK, EV_RELAY },
	{ "AUTH", cmd_auth, 0, EV_COMMAND },
	{ "XFORWARD", cmd_xforward, 0, EV_COMMAND },
	{ "XCLIENT", cmd_xclient, C_LOCAL, EV_NONE },
	{ "STARTTLS", cmd_starttls, C_LOCAL, EV_NONE },
	{ "BDAT", cmd_bdat, C_LOCAL, EV_NONE },
	{ "XEXCH50", cmd_unsupported, C_LOCAL, EV_NONE },
	{ NULL, cmd_relay, C_JUNK, EV_RELAY },
};

static void
handle_command(struct session *s, size_t len)
{
	char *verb = s->verb, reply[256];
	const char *args;
	const struct command *c;
	size_t vlen;

	verb[0] = '\0';
	/* Replies owed could reach MaxErrors: count them first. */
	if (s->errors + pipeline_owed(&s->pipe) >= s->cfg->max_errors)
		drain_replies(s);
	if (s->errors >= s->cfg->max_errors) {
		/* Postfix's smtpd_hard_error_limit. */
		fmt(reply, sizeof(reply), "421 4.7.0 %s Error: too many "
		    "errors", s->hostname);
		die(s, EXIT_SESSION_FAILED, reply, "MaxErrors (%u) reached",
		    s->cfg->max_errors);
	}
	if (!line_is_clean(s->line, len)) {
		refuse(s, "a command with a control character",
		    "500 5.5.2 Error: invalid character in command");
		return;
	}
	/* Split at any blank, as the upstream (Postfix) does: "DATA\t" is
	 * DATA, and must not slip past us as an unknown command. */
	vlen = cspan(s->line, " \t");
	if (vlen == 0 || vlen >= sizeof(s->verb)) {
		refuse(s, vlen == 0 ? "a command starting with a blank" :
		    "a command with an overlong verb",
		    "500 5.5.2 Error: bad syntax");
		return;
	}
	memcpy(verb, s->line, vlen);
	verb[vlen] = '\0';
	args = s->line + vlen;
	args += span(args, " \t");
	for (c = commands; c->verb != NULL; c++)
		if (ascii_casecmp(c->verb, verb) == 0)
			break;
	if (c->fn == cmd_data)
		send_data_ahead(s, args);
	if (!(c->flags & C_PIPE))
		drain_replies(s);
	if (s->upstream_gone) {
		if (c->fn == cmd_quit) {
			say(s, "221 2.0.0 Bye");
			finish(s);
		}
		die(s, EXIT_SESSION_FAILED, s->gone_reply, "client sent %s "
		    "after the upstream was dropped", verb);
	}
	if (c->flags & C_JUNK)
		count_junk(s);
	/* TLS first: what the upstream hears about the client (XCLIENT) it
	 * would forget at STARTTLS, and should not hear in the clear. */
	if (s->cfg->out_tls != OUT_TLS_NONE && !s->upstream_tls_done &&
	    !(c->flags & C_LOCAL))
		upstream_starttls(s);
	if (s->cfg->xclient && !s->xclient_done && !(c->flags & C_LOCAL))
		xclient_handshake(s, c->fn == cmd_helo ? args : "",
		    ascii_casecmp(verb, "EHLO") == 0);
	session_move(s, c->on);
	c->fn(s, verb, args);
}

static void
greet(struct session *s)
{
	struct reply *rp = &s->reply;
	char first[REPLY_LINE_MAX];
	int r;

	session_move(s, EV_GREETING);
	if ((r = reply_read(&s->upstream, rp)) != IO_OK)
		die_upstream(s, r);
	if (rp->code == 220) {
		say(s, "220 %s ESMTP proxsmtpd", s->hostname);
		return;
	}
	if (rp->code / 100 != 4 && rp->code / 100 != 5) {
		char reply[256];

		fmt(reply, sizeof(reply), "421 4.3.0 %s Error: upstream "
		    "server misbehaved", s->hostname);
		die(s, EXIT_SESSION_FAILED, reply, "upstream %s greeted with "
		    "%d", s->server, rp->code);
	}
	/* A refusing upstream: all of its lines (a refusal often explains
	 * itself after the first), with our name in the first. */
	own_name_text(s, rp->text[0], first, sizeof(first));
	memcpy(rp->text[0], first, sizeof(first));
	say_reply(s, rp);
	if (rp->code == 421)
		die(s, EXIT_TEMPORARY, NULL, "upstream %s refused the session "
		    "with 421", s->server);
}

/* ---- the PROXY protocol header ---------------------------------------- */

/*
 * Takes the header a load balancer sends before anything else, and from
 * then on names the client it gives (CLIENT, XCLIENT/XFORWARD, logs,
 * Header). Only the text addresses change: ep.peer and ep.local stay the
 * socket's, for the loopback OutAddress and TransparentProxy. Anything
 * wrong ends the session before the greeting, with nothing sent.
 */
static void
proxy_header(struct session *s)
{
	struct proxy_header h;
	char why[256], conn[ADDR_TEXT_MAX];

	if (!netlist_match(&s->cfg->proxy_hosts, s->ep.client_ip))
		die(s, EXIT_SESSION_FAILED, NULL, "PROXY protocol: %s is not "
		    "in ProxyProtocolHosts", s->ep.client_ip);
	if (proxy_read(s->client_rfd, s->ep.is_socket, s->cfg->proxy_protocol,
	    io_deadline(s->cfg->timeout * 1000), &h, why, sizeof(why)) < 0)
		die(s, EXIT_SESSION_FAILED, NULL, "PROXY protocol: %s", why);
	fmt(conn, sizeof(conn), "%s", s->ep.client_ip);
	if (!h.local) {
		addr_to_text((struct sockaddr *)&h.src, s->ep.client_ip,
		    sizeof(s->ep.client_ip));
		addr_to_text((struct sockaddr *)&h.dst, s->ep.local_ip,
		    sizeof(s->ep.local_ip));
	}
	log_msg(s->log, L_DEBUG, "PROXY v%d header from %s: client %s%s",
	    h.version, conn, s->ep.client_ip, h.local ? " (the connection's "
	    "own address: LOCAL/UNKNOWN)" : "");
}

void
session_init(struct session *s, const struct config *cfg, struct logger *lg,
    int client_rfd, int client_wfd)
{
	unsigned char rnd[6];

	s->cfg = cfg;
	s->log = lg;
	s->client_rfd = client_rfd;
	s->client_wfd = client_wfd;
	s->upstream_fd = -1;
	s->pipelining = false;
	s->chunking = s->up_chunking = s->binarymime = false;
	pipeline_init(&s->pipe);
	s->data_ahead = false;
	/* From here on only session_move() changes it. */
	s->state = ST_CONNECT;
	s->filter_pgid = 0;
	spool_init(&s->msg);
	spool_init(&s->out);
	tx_reset(&s->tx);
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	fmt(s->id, sizeof(s->id), "%02x%02x%02x%02x%02x%02x", rnd[0],
	    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	log_set_session(lg, s->id);
	if (gethostname(s->hostname, sizeof(s->hostname)) < 0 ||
	    s->hostname[0] == '\0')
		fmt(s->hostname, sizeof(s->hostname), "localhost");
	s->hostname[sizeof(s->hostname) - 1] = '\0';
	endpoints_get(&s->ep, client_rfd);
	io_init(&s->client, client_rfd, client_wfd, cfg->timeout * 1000);
	if (cfg->proxy_protocol != PROXY_OFF)
		proxy_header(s);
	s->xforward_ok = netlist_match(&cfg->xforward_hosts, s->ep.client_ip);
}

void
session_connect(struct session *s)
{
	char why[512], reply[256];

	s->upstream_fd = upstream_connect(s->cfg, &s->ep, s->client_rfd,
	    s->cfg->timeout * 1000, s->server, sizeof(s->server), why,
	    sizeof(why));
	if (s->upstream_fd < 0) {
		if (sig_caught())
			die_client(s, IO_SIGNAL);
		fmt(reply, sizeof(reply), "421 4.4.0 %s Upstream server "
		    "unavailable, try again later", s->hostname);
		log_msg(s->log, L_ERR, "cannot connect to upstream %s: %s",
		    s->server[0] ? s->server : s->cfg->out_address, why);
		die(s, EXIT_TEMPORARY, reply, "no upstream");
	}
	io_init(&s->upstream, s->upstream_fd, s->upstream_fd,
	    s->cfg->timeout * 1000);
	log_msg(s->log, L_DEBUG, "connection from %s to %s, upstream %s",
	    s->ep.client_ip, s->ep.local_ip, s->server);
}

void
session_run(struct session *s)
{
	size_t len;
	bool bare;
	int r;

	greet(s);
	for (;;) {
		/* Never wait for the client while it is owed replies. */
		if (!io_line_pending(&s->client))
			drain_replies(s);
		r = io_getline(&s->client, s->line, s->cfg->max_line_length,
		    &len, &bare);
		if (r == IO_TOOLONG) {
			s->verb[0] = '\0';
			refuse(s, "a command line over MaxLineLength",
			    "500 5.5.2 Error: line too long");
			continue;
		}
		if (r == IO_EOF && !s->tx.mail_accepted &&
		    !io_pending(&s->client)) {
			/* A client that just hangs up between messages; one
			 * that leaves half a command behind is lost. */
			if (!s->upstream_gone) {
				upstream_send(s, "QUIT");
				io_flush(&s->upstream);
			}
			finish(s);
		}
		if (r != IO_OK)
			die_client(s, r);
		handle_command(s, len);
	}
}
