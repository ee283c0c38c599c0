/*
 * io.c - bounded, buffered line I/O with timeouts.
 */
#include "io.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

void
io_init(struct io *io, int rfd, int wfd, int timeout_ms)
{
	int fl;

	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout_ms = timeout_ms;
	io->rpos = io->rlen = io->wlen = 0;
	io->eof = false;
	io->stream = NULL;
	io->unwaited = 0;
	/* A launcher's pipe may block: it is waited for first, always. */
	fl = fcntl(rfd, F_GETFL);
	io->rnonblock = rfd >= 0 && fl >= 0 && (fl & O_NONBLOCK) != 0;
}

void
io_set_stream(struct io *io, const struct io_stream *stream)
{
	io->stream = stream;
}

size_t
io_discard(struct io *io)
{
	size_t n = io->rlen - io->rpos;

	io->rpos = io->rlen = 0;
	return n;
}

/*
 * One write to the peer: > 0 bytes written, or an IO_* status; *events
 * is set when it is worth waiting for them and trying again.
 */
static long
io_write_some(struct io *io, const unsigned char *p, size_t n, short *events)
{
	long w;

	*events = 0;
	/* Parenthesised: a fuzz target defines read() and write() as
	 * macros around this file. */
	if (io->stream != NULL) {
		w = (io->stream->write)(io->stream->arg, p, n, events);
		return w > 0 ? w : *events != 0 ? 0 : IO_TLS;
	}
	w = (long)write(io->wfd, p, n);
	if (w > 0)
		return w;
	if (w < 0 && errno == EINTR)
		return 0;
	if (w < 0 && errno == EAGAIN) {
		*events = POLLOUT;
		return 0;
	}
	return IO_ERROR;
}

/*
 * The system call, not glibc's clock_gettime() (which asks the vDSO, a few
 * tens of ns faster): that wrapper sits alone in a 64 KiB window of libc's
 * code, and the kernel maps libc 64 KiB at a time, so calling it cost every
 * session up to 64 KiB of RSS; syscall() sits beside socket() and connect(),
 * which every session runs anyway (bench/libc-windows). A session reads
 * the clock a few dozen times.
 */
long
io_now_ms(void)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long
io_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
}

/*
 * The one place the program waits on a peer: ppoll() with the terminating
 * signals unblocked, until deadline. fd -1 waits for the signal or the
 * deadline alone.
 */
int
io_wait_until(int fd, short events, long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts, *tsp = NULL;
	long left;
	int n;

	for (;;) {
		if (sig_caught())
			return IO_SIGNAL;
		if (deadline >= 0) {
			left = deadline - io_now_ms();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			tsp = &ts;
		}
		n = ppoll(&pfd, fd >= 0 ? 1 : 0, tsp, sig_waitmask());
		if (n > 0)
			return 1;
		if (n == 0)
			return IO_TIMEOUT;
		if (errno != EINTR)
			return IO_ERROR;
	}
}

int
io_wait(int fd, short events, int timeout_ms)
{
	return io_wait_until(fd, events, io_deadline(timeout_ms));
}

/*
 * Writes what is queued, within one TimeOut for the whole of it (a peer
 * that reads a byte at a time cannot stretch it). On failure the bytes
 * already written are dropped from the queue, so that a later flush (the
 * exit path's) never sends them twice.
 */
int
io_flush(struct io *io)
{
	long deadline = io_deadline(io->timeout_ms);
	size_t off = 0;
	short ev;
	long n;
	int r = IO_OK;

	while (off < io->wlen) {
		n = io_write_some(io, io->wbuf + off, io->wlen - off, &ev);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0) {
			r = (int)n;
			break;
		}
		if (ev != 0) {
			/* TLS may need to read before it can write. */
			r = io_wait_until(ev == POLLIN ? io->rfd : io->wfd, ev,
			    deadline);
			if (r < 0)
				break;
			r = IO_OK;
		}
	}
	memmove(io->wbuf, io->wbuf + off, io->wlen - off);
	io->wlen -= off;
	return r;
}

/*
 * Through the stream: it is asked first, as it may hold input already
 * decrypted, which poll() cannot see.
 */
static int
io_fill_stream(struct io *io, long deadline)
{
	short ev;
	long n;
	int r;

	for (;;) {
		n = (io->stream->read)(io->stream->arg, io->rbuf + io->rlen,
		    sizeof(io->rbuf) - io->rlen, &ev);
		if (n > 0) {
			io->rlen += (size_t)n;
			return IO_OK;
		}
		if (n == 0) {
			io->eof = true;
			return IO_EOF;
		}
		if (ev == 0)
			return IO_TLS;
		r = io_wait_until(ev == POLLOUT ? io->wfd : io->rfd, ev,
		    deadline);
		if (r < 0)
			return r;
	}
}

/* Reads more input by deadline, after sending what is queued for the
 * same peer. */
static int
io_fill(struct io *io, long deadline)
{
	ssize_t n;
	int r;

	if (io->eof)
		return IO_EOF;
	if (io->wlen > 0 && (r = io_flush(io)) != IO_OK)
		return r;
	if (io->rpos > 0) {
		memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
		io->rlen -= io->rpos;
		io->rpos = 0;
	}
	if (io->rlen == sizeof(io->rbuf))
		return IO_OK;
	if (io->stream != NULL)
		return io_fill_stream(io, deadline);
	/* Read first when the fd does not block: the wait is only for
	 * when nothing is there (or a signal may be pending). */
	for (;;) {
		if (!io->rnonblock || io->unwaited >= IO_READS_UNWAITED) {
			r = io_wait_until(io->rfd, POLLIN, deadline);
			if (r < 0)
				return r;
			io->unwaited = 0;
		}
		n = read(io->rfd, io->rbuf + io->rlen,
		    sizeof(io->rbuf) - io->rlen);
		if (n > 0) {
			io->rlen += (size_t)n;
			io->unwaited++;
			return IO_OK;
		}
		if (n == 0) {
			io->eof = true;
			return IO_EOF;
		}
		if (errno == EAGAIN)
			io->unwaited = IO_READS_UNWAITED;	/* wait now */
		else if (errno != EINTR)
			return IO_ERROR;
	}
}

int
io_getline(struct io *io, char *line, size_t max, size_t *len, bool *bare)
{
	/* One TimeOut for the whole line: a client that sends a byte at a
	 * time cannot hold the session longer than that. */
	long deadline = io_deadline(io->timeout_ms);
	bool skipping = false;
	unsigned char *lf;
	size_t n;
	int r;

	for (;;) {
		lf = memchr(io->rbuf + io->rpos, '\n', io->rlen - io->rpos);
		if (lf != NULL)
			break;
		/* A full buffer is a too-long line only if the line starts at
		 * its front; otherwise io_fill moves it there first. */
		if (io->rlen - io->rpos >= max ||
		    (io->rpos == 0 && io->rlen == sizeof(io->rbuf))) {
			/* Too long for the caller: drop what we have, then
			 * everything up to the next LF. */
			skipping = true;
			io->rpos = io->rlen;
		}
		r = io_fill(io, deadline);
		if (r != IO_OK)
			return r;
	}
	n = (size_t)(lf - (io->rbuf + io->rpos));
	if (skipping || n >= max) {
		io->rpos += n + 1;
		return IO_TOOLONG;
	}
	*bare = !(n > 0 && lf[-1] == '\r');
	*len = *bare ? n : n - 1;
	memcpy(line, io->rbuf + io->rpos, *len);
	line[*len] = '\0';
	io->rpos += n + 1;
	return IO_OK;
}

int
io_peek(struct io *io, const unsigned char **p, size_t *n)
{
	int r;

	if (io->rpos == io->rlen &&
	    (r = io_fill(io, io_deadline(io->timeout_ms))) != IO_OK)
		return r;
	*p = io->rbuf + io->rpos;
	*n = io->rlen - io->rpos;
	return IO_OK;
}

void
io_consume(struct io *io, size_t n)
{
	io->rpos += n;
}

bool
io_pending(const struct io *io)
{
	return io->rpos < io->rlen;
}

bool
io_line_pending(const struct io *io)
{
	return memchr(io->rbuf + io->rpos, '\n', io->rlen - io->rpos) != NULL;
}

int
io_write(struct io *io, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t room;
	int r;

	while (n > 0) {
		if (io->wlen == sizeof(io->wbuf) && (r = io_flush(io)) != IO_OK)
			return r;
		room = sizeof(io->wbuf) - io->wlen;
		if (room > n)
			room = n;
		memcpy(io->wbuf + io->wlen, p, room);
		io->wlen += room;
		p += room;
		n -= room;
	}
	return IO_OK;
}

int
io_room(struct io *io, size_t need, unsigned char **p, size_t *room)
{
	int r;

	/* A flush that succeeds has written all of the queue. */
	if (sizeof(io->wbuf) - io->wlen < need && (r = io_flush(io)) != IO_OK)
		return r;
	*p = io->wbuf + io->wlen;
	*room = sizeof(io->wbuf) - io->wlen;
	return IO_OK;
}

void
io_commit(struct io *io, size_t n)
{
	io->wlen += n;
}

void
io_drop_output(struct io *io)
{
	io->wlen = 0;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

const char *
io_strstatus(int status)
{
	switch (status) {
	case IO_OK: return "ok";
	case IO_EOF: return "connection closed";
	case IO_TIMEOUT: return "timeout";
	case IO_ERROR: return strerror(errno);
	case IO_SIGNAL: return "terminated by signal";
	case IO_TOOLONG: return "line too long";
	case IO_TLS: return "TLS error";
	default: return "unknown error";
	}
}
