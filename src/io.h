/*
 * io.h - bounded, buffered line I/O with timeouts, for one peer.
 *
 * Output is queued and written in one go just before the next read from the
 * same peer (or when the queue is full), so a reply never leaves in pieces
 * and a batch of replies leaves in one write. Reads are bounded by the
 * buffer; a line longer than the caller's limit is discarded, not grown.
 *
 * The waiting rule of the whole program: every wait is io_wait_until(),
 * ppoll() with the terminating signals unblocked and a deadline. Each step
 * gets TimeOut from its start as its deadline: a whole line, a whole
 * reply line, a whole flush, a connect with its name lookup. So no step
 * blocks past its deadline, and every one hears SIGTERM/SIGHUP/SIGINT.
 */
#ifndef PROXSMTPD_IO_H
#define PROXSMTPD_IO_H

#include <stdbool.h>
#include <stddef.h>

#define IO_BUFSIZE 16384
#define IO_READS_UNWAITED 16

enum io_status {
	IO_OK = 0,
	IO_EOF = -1,		/* peer closed */
	IO_TIMEOUT = -2,	/* TimeOut passed */
	IO_ERROR = -3,		/* errno says why */
	IO_SIGNAL = -4,		/* a terminating signal arrived */
	IO_TOOLONG = -5,	/* line longer than allowed; it was skipped */
	IO_TLS = -6,		/* the TLS layer failed; its stream says why */
};

/*
 * A byte stream laid over the fds, TLS (src/tlsmod.c): read and write
 * return the bytes moved (> 0), 0 at the end of the stream, or -1 with
 * *events the poll events to wait for before trying again (POLLIN on rfd,
 * POLLOUT on wfd), or -1 with *events 0 when the stream failed.
 */
struct io_stream {
	long	(*read)(void *arg, void *buf, size_t n, short *events);
	long	(*write)(void *arg, const void *buf, size_t n, short *events);
	void	*arg;
};

struct io {
	int	rfd;
	int	wfd;
	int	timeout_ms;
	size_t	rpos;
	size_t	rlen;
	size_t	wlen;
	bool	eof;
	/* rfd does not block: a read may come before the wait, which is
	 * needed only when it finds nothing (one syscall fewer a read). */
	bool	rnonblock;
	/* Reads in a row that did not wait: every IO_READS_UNWAITED-th
	 * waits anyway, as only a wait lets a terminating signal in. */
	unsigned unwaited;
	const struct io_stream *stream;	/* NULL: the fds themselves */
	unsigned char rbuf[IO_BUFSIZE];
	unsigned char wbuf[IO_BUFSIZE];
};

void	io_init(struct io *, int rfd, int wfd, int timeout_ms);
/* Monotonic milliseconds; the deadline timeout_ms from now (-1: none). */
long	io_now_ms(void);
long	io_deadline(int timeout_ms);
/*
 * Waits for events on fd (-1: none, a signal or the deadline only) until
 * deadline (io_now_ms() time, -1: none). Returns 1 when ready, or
 * IO_TIMEOUT, IO_SIGNAL, IO_ERROR.
 */
int	io_wait_until(int fd, short events, long deadline);
/* io_wait_until(fd, events, io_deadline(timeout_ms)). */
int	io_wait(int fd, short events, int timeout_ms);
/*
 * Reads one line ending in LF (a CR before it is dropped) into line, NUL
 * terminated, without the line end. *bare is set when it ended in LF alone.
 */
int	io_getline(struct io *, char *line, size_t max, size_t *len, bool *bare);
/* Makes buffered input available: p and n point into the read buffer. */
int	io_peek(struct io *, const unsigned char **p, size_t *n);
void	io_consume(struct io *, size_t n);
/* True when input is already buffered (the peer pipelined). */
bool	io_pending(const struct io *);
/* True when a whole line is already buffered: reading it will not wait. */
bool	io_line_pending(const struct io *);
int	io_write(struct io *, const void *, size_t);
/*
 * The queue's free room, to write into in place: at least need bytes
 * (<= IO_BUFSIZE; what is queued is flushed first if there is less).
 * *p and *room say where and how much; io_commit() queues n of them.
 */
int	io_room(struct io *, size_t need, unsigned char **p, size_t *room);
void	io_commit(struct io *, size_t n);
/* Drops what is queued and not yet written (the peer is being dropped). */
void	io_drop_output(struct io *);
int	io_puts(struct io *, const char *);
int	io_flush(struct io *);
/*
 * From now on the bytes go through stream (NULL: the fds again). Input
 * still buffered is the caller's to keep or drop (io_discard()).
 */
void	io_set_stream(struct io *, const struct io_stream *);
/* Drops the input buffered and not yet read; returns how many bytes. */
size_t	io_discard(struct io *);
const char *io_strstatus(int status);

#endif
