/*
 * spool.c - private temp files.
 */
#include "spool.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void
spool_init(struct spool *sp)
{
	sp->fd = -1;
	sp->named = false;
	sp->path[0] = '\0';
	sp->werrno = 0;
	sp->size = 0;
	sp->blen = 0;
}

int
spool_dir_check(const char *dir, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		fmt(why, whylen, "TempDirectory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fmt(why, whylen, "TempDirectory %s: not a directory", dir);
		return -1;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		fmt(why, whylen, "TempDirectory %s is world-writable "
		    "without the sticky bit: refusing to spool there", dir);
		return -1;
	}
	return 0;
}

int
spool_create(struct spool *sp, const char *dir, const char *sid, bool named)
{
	unsigned char rnd[6];
	int tries;

	spool_init(sp);
	if (!named) {
		sp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (sp->fd >= 0)
			return 0;
		/* Not every file system has O_TMPFILE: name it, unlink it. */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -1;
	}
	for (tries = 0; tries < 100; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		fmt(sp->path, sizeof(sp->path),
		    "%s/proxsmtpd.%s.%02x%02x%02x%02x%02x%02x", dir, sid,
		    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		sp->fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (sp->fd >= 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (sp->fd < 0)
		return -1;
	if (!named) {
		unlink(sp->path);
		sp->path[0] = '\0';
	} else {
		sp->named = true;
	}
	return 0;
}

static void
spool_write_out(struct spool *sp, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && sp->werrno == 0) {
		w = write(sp->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			sp->werrno = errno;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
spool_put(struct spool *sp, const void *data, size_t n)
{
	const unsigned char *p = data;

	sp->size += (off_t)n;
	if (sp->werrno != 0)
		return;
	if (sp->blen + n > sizeof(sp->buf)) {
		spool_write_out(sp, sp->buf, sp->blen);
		sp->blen = 0;
		if (n >= sizeof(sp->buf)) {
			spool_write_out(sp, p, n);
			return;
		}
	}
	memcpy(sp->buf + sp->blen, p, n);
	sp->blen += n;
}

int
spool_flush(struct spool *sp)
{
	spool_write_out(sp, sp->buf, sp->blen);
	sp->blen = 0;
	if (sp->werrno != 0) {
		errno = sp->werrno;
		return -1;
	}
	return 0;
}

void
spool_remove(struct spool *sp)
{
	if (sp->named && sp->path[0] != '\0')
		unlink(sp->path);
	if (sp->fd >= 0)
		close(sp->fd);
	spool_init(sp);
}
