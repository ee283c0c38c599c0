/*
 * filter.c - spawn, feed, collect, wait, kill.
 */
#include "filter.h"
#include "fmt.h"
#include "sig.h"
#include "span.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_BUFSIZE 16384
#define DEFAULT_REJECT "550 5.7.1 Content rejected"

struct run {
	pid_t	pid;
	int	pidfd;
	int	in_w, out_r, err_r;
	bool	exited;
	int	status;
	off_t	in_off;	/* how much of the message the filter has got */
	int	feed_errno;	/* the spool could not be read: no verdict */
	char	err_cur[REPLY_LINE_MAX];
	size_t	err_cur_len;
	char	err_last[REPLY_LINE_MAX];
};

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
filter_kill(pid_t *running)
{
	if (*running > 0) {
		kill(-*running, SIGKILL);
		while (waitpid(*running, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*running = 0;
}

/*
 * A command of plain words (no quoting, expansion, redirection or other
 * shell syntax) whose program is found runs directly: one process per
 * message instead of a shell and then the program, with the same
 * arguments, environment and exit status. Anything else, or a program
 * that cannot be exec'ed (a script without #!), goes to /bin/sh -c.
 */
#define PLAIN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789_./:,+@%=- "
#define DIRECT_ARGS_MAX 32

struct direct {
	char	words[CONFIG_VALUE_MAX];
	char	path[CONFIG_VALUE_MAX + 256];
	char	*argv[DIRECT_ARGS_MAX + 1];
};

static bool
find_program(const char *name, char *const envp[], char *out, size_t outlen)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *dir, *end;
	struct stat st;
	size_t i;

	for (i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	for (dir = path; *dir != '\0'; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		/* An empty PATH entry means the current directory. */
		if ((size_t)fmt(out, outlen, "%.*s%s%s", (int)(end - dir),
		    dir, end > dir ? "/" : "", name) >= outlen)
			continue;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static bool
direct_command(const char *cmd, char *const envp[], struct direct *d)
{
	size_t n = 0;
	char *save = NULL, *w;

	if (cmd[span(cmd, PLAIN_CHARS)] != '\0' ||
	    strlen(cmd) >= sizeof(d->words))
		return false;
	strcpy(d->words, cmd);
	for (w = strtok_r(d->words, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (n == DIRECT_ARGS_MAX)
			return false;
		d->argv[n++] = w;
	}
	d->argv[n] = NULL;
	/* "VAR=value cmd" is an assignment: the shell's business. */
	if (n == 0 || strchr(d->argv[0], '=') != NULL)
		return false;
	if (strchr(d->argv[0], '/') != NULL) {
		fmt(d->path, sizeof(d->path), "%s", d->argv[0]);
		return access(d->path, X_OK) == 0;
	}
	/* Not found: perhaps a shell builtin ("exit 1"); the shell knows. */
	return find_program(d->argv[0], envp, d->path, sizeof(d->path));
}

/* The filter's stdin and stdout: the pipes, or /dev/null (file mode). */
static void
spawn_actions(posix_spawn_file_actions_t *fa, bool pipe_mode, const int in[2],
    const int out[2], const int err[2])
{
	posix_spawn_file_actions_init(fa);
	if (pipe_mode) {
		posix_spawn_file_actions_adddup2(fa, in[0], 0);
		posix_spawn_file_actions_adddup2(fa, out[1], 1);
	} else {
		posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY,
		    0);
		posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY,
		    0);
	}
	posix_spawn_file_actions_adddup2(fa, err[1], 2);
	/* Nothing of ours but 0, 1, 2 reaches the filter. */
	posix_spawn_file_actions_addclosefrom_np(fa, 3);
}

/* A process group of its own, default signal dispositions and mask. */
static void
spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t mask, defaults;

	posix_spawnattr_init(attr);
	sig_child_defaults(&mask, &defaults);
	posix_spawnattr_setsigmask(attr, &mask);
	posix_spawnattr_setsigdefault(attr, &defaults);
	posix_spawnattr_setpgroup(attr, 0);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

static int
spawn(const struct config *cfg, char *const envp[], struct run *run,
    bool pipe_mode, char *why, size_t whylen)
{
	struct direct direct;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[] = { "sh", "-c", (char *)cfg->filter_command, NULL };
	int rc;

	if (pipe2(err, O_CLOEXEC) < 0 ||
	    (pipe_mode && (pipe2(in, O_CLOEXEC) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0))) {
		fmt(why, whylen, "pipe: %s", strerror(errno));
		goto fail;
	}
	spawn_actions(&fa, pipe_mode, in, out, err);
	spawn_attr(&attr);
	rc = -1;
	if (direct_command(cfg->filter_command, envp, &direct))
		rc = posix_spawn(&run->pid, direct.path, &fa, &attr,
		    direct.argv, envp);
	if (rc != 0)
		rc = posix_spawn(&run->pid, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		fmt(why, whylen, "cannot start /bin/sh: %s", strerror(rc));
		goto fail;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	run->in_w = in[1];
	run->out_r = out[0];
	run->err_r = err[0];
	if (run->in_w >= 0)
		fcntl(run->in_w, F_SETFL, O_NONBLOCK);
	run->pidfd = (int)syscall(SYS_pidfd_open, run->pid, 0);
	return 0;
fail:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return -1;
}

/* Keeps the last non-empty line the filter wrote to stderr. */
static void
take_stderr(struct run *run, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			size_t len = run->err_cur_len;

			while (len > 0 && (run->err_cur[len - 1] == '\r' ||
			    run->err_cur[len - 1] == ' '))
				len--;
			if (len > 0) {
				memcpy(run->err_last, run->err_cur, len);
				run->err_last[len] = '\0';
			}
			run->err_cur_len = 0;
		} else if (run->err_cur_len + 1 < sizeof(run->err_cur)) {
			run->err_cur[run->err_cur_len++] = buf[i];
		}
	}
}

/* sendfile() moves up to this much from the spool to the filter's pipe
 * a call, in the kernel: no copy through a buffer of ours. */
#define FEED_CHUNK (1024 * 1024)

static void
feed(struct run *run, int in_fd)
{
	ssize_t n;

	for (;;) {
		n = sendfile(run->in_w, in_fd, &run->in_off, FEED_CHUNK);
		if (n > 0)
			continue;
		if (n == 0) {
			close_fd(&run->in_w);	/* end of message */
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return;
		/* EPIPE: the filter does not read its input; its exit
		 * status still decides. Anything else (a read error, or a
		 * TempDirectory whose file system sendfile() cannot read):
		 * the filter saw part of the message, so its verdict counts
		 * for nothing. */
		if (errno != EPIPE)
			run->feed_errno = errno;
		close_fd(&run->in_w);
		return;
	}
}

/* Drains fd into out (or stderr handling); closes it at end of file. */
static void
drain(struct run *run, int *fd, struct spool *out)
{
	char buf[DRAIN_BUFSIZE];
	ssize_t n;

	n = read(*fd, buf, sizeof(buf));
	if (n > 0) {
		if (out != NULL)
			spool_put(out, buf, (size_t)n);
		else
			take_stderr(run, buf, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close_fd(fd);
	}
}

static void
reap(struct run *run, pid_t *running)
{
	/* The shell is a zombie, so its group id is still ours to kill:
	 * nothing it started outlives it. */
	kill(-run->pid, SIGKILL);
	while (waitpid(run->pid, &run->status, 0) < 0 && errno == EINTR)
		;
	run->exited = true;
	*running = 0;
	close_fd(&run->pidfd);
	close_fd(&run->in_w);
}

static void
judge(const struct config *cfg, struct run *run, struct filter_result *res)
{
	int st = run->status;

	if (run->feed_errno != 0) {
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why), "reading the spooled "
		    "message for the filter: %s", strerror(run->feed_errno));
		return;
	}
	if (WIFSIGNALED(st)) {
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why), "filter killed by signal %d",
		    WTERMSIG(st));
		return;
	}
	if (!WIFEXITED(st)) {
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why), "filter ended oddly");
		return;
	}
	st = WEXITSTATUS(st);
	if (st == 0) {
		res->outcome = VERDICT_FORWARD;
		return;
	}
	/* The shell's own conventions: these are broken filters, not
	 * verdicts on the mail. */
	if (st == 126 || st == 127) {
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why),
		    "filter could not be run (exit %d): %.150s", st,
		    run->err_last);
		return;
	}
	if (st > 128) {
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why),
		    "a filter process was killed by signal %d (exit %d)",
		    st - 128, st);
		return;
	}
	(void)cfg;
	if (reply_parse_verdict(run->err_last, DEFAULT_REJECT, res->reply,
	    sizeof(res->reply)) == 250)
		res->outcome = VERDICT_DROP;
	else
		res->outcome = VERDICT_REJECT;
	fmt(res->why, sizeof(res->why), "filter exit %d", st);
}

/* The fds a run still waits on, and which slot of pfd is which. */
struct waitset {
	struct pollfd pfd[4];
	int	n, in, out, err, pid;
};

static int
waitset_add(struct waitset *w, int fd, short events)
{
	w->pfd[w->n] = (struct pollfd){ .fd = fd, .events = events };
	return w->n++;
}

static void
waitset_fill(const struct run *rp, struct waitset *w)
{
	w->n = 0;
	w->in = w->out = w->err = w->pid = -1;
	if (rp->in_w >= 0)
		w->in = waitset_add(w, rp->in_w, POLLOUT);
	if (rp->out_r >= 0)
		w->out = waitset_add(w, rp->out_r, POLLIN);
	if (rp->err_r >= 0)
		w->err = waitset_add(w, rp->err_r, POLLIN);
	if (!rp->exited && rp->pidfd >= 0)
		w->pid = waitset_add(w, rp->pidfd, POLLIN);
}

/* How long one wait may last: to the deadline or the next keepalive. */
static struct timespec
wait_time(const struct run *rp, long deadline, long next_tick)
{
	long wait = deadline - io_now_ms();

	if (next_tick >= 0 && next_tick - io_now_ms() < wait)
		wait = next_tick - io_now_ms();
	if (!rp->exited && rp->pidfd < 0 && wait > 20)
		wait = 20;	/* no pidfd (old kernel): check often */
	if (wait < 0)
		wait = 0;
	return (struct timespec){ .tv_sec = wait / 1000,
	    .tv_nsec = (wait % 1000) * 1000000L };
}

/* Whether the run ends before the filter does: a signal, the timeout. */
static bool
run_stopped(const struct config *cfg, long deadline, pid_t *running,
    struct filter_result *res)
{
	if (sig_caught()) {
		filter_kill(running);
		res->outcome = VERDICT_SIGNALLED;
		fmt(res->why, sizeof(res->why), "signal %d",
		    sig_caught());
		return true;
	}
	if (io_now_ms() >= deadline) {
		filter_kill(running);
		res->outcome = VERDICT_TEMPFAIL;
		fmt(res->why, sizeof(res->why),
		    "filter timed out after %d s", cfg->filter_timeout);
		return true;
	}
	return false;
}

/* Feeds, drains and reaps what the wait found ready (ready of them). */
static void
serve(struct run *rp, const struct waitset *w, int ready, int in_fd,
    struct spool *out, pid_t *running)
{
	if (ready > 0) {
		if (w->in >= 0 && w->pfd[w->in].revents)
			feed(rp, in_fd);
		if (w->out >= 0 && w->pfd[w->out].revents)
			drain(rp, &rp->out_r, out);
		if (w->err >= 0 && w->pfd[w->err].revents)
			drain(rp, &rp->err_r, NULL);
		if (w->pid >= 0 && w->pfd[w->pid].revents)
			reap(rp, running);
	}
	if (!rp->exited && rp->pidfd < 0 &&
	    waitpid(rp->pid, &rp->status, WNOHANG) == rp->pid) {
		/* Without a pidfd it is reaped here; kill the rest of its
		 * group by the same reasoning as reap(). */
		kill(-rp->pid, SIGKILL);
		rp->exited = true;
		*running = 0;
		close_fd(&rp->in_w);
	}
}

void
filter_run(const struct config *cfg, char *const envp[], int in_fd,
    struct spool *out, pid_t *running, filter_tick_fn tick, void *arg,
    struct filter_result *res)
{
	struct run run, *rp = &run;
	long start = io_now_ms(), deadline, next_tick = -1;
	struct waitset w;
	struct timespec ts;
	int ready;

	memset(res, 0, sizeof(*res));
	memset(rp, 0, sizeof(*rp));
	rp->pid = -1;
	rp->in_w = rp->out_r = rp->err_r = rp->pidfd = -1;
	if (spawn(cfg, envp, rp, in_fd >= 0, res->why, sizeof(res->why))) {
		res->outcome = VERDICT_TEMPFAIL;
		return;
	}
	*running = rp->pid;
	deadline = start + (long)cfg->filter_timeout * 1000L;
	if (cfg->keepalives > 0 && tick != NULL)
		next_tick = start + (long)cfg->keepalives * 1000L;
	if (rp->in_w >= 0)
		feed(rp, in_fd);
	while (!rp->exited || rp->out_r >= 0 || rp->err_r >= 0) {
		waitset_fill(rp, &w);
		ts = wait_time(rp, deadline, next_tick);
		ready = ppoll(w.pfd, (nfds_t)w.n, &ts, sig_waitmask());
		/* Not only after EINTR: a signal may also have ended a wait
		 * inside the keepalive tick. */
		if (run_stopped(cfg, deadline, running, res))
			goto done;
		if (next_tick >= 0 && io_now_ms() >= next_tick) {
			tick(arg);
			next_tick = io_now_ms() + (long)cfg->keepalives * 1000L;
		}
		serve(rp, &w, ready, in_fd, out, running);
	}
	take_stderr(rp, "\n", 1);	/* a last line without its newline */
	judge(cfg, rp, res);
done:
	close_fd(&rp->in_w);
	close_fd(&rp->out_r);
	close_fd(&rp->err_r);
	close_fd(&rp->pidfd);
	if (out != NULL)
		res->output_size = out->size;
	res->ms = io_now_ms() - start;
}
