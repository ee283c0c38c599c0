/*
 * spool.h - private temp files that hold a message while it is filtered.
 *
 * Files are created 0600 and exclusively in TempDirectory. A file nobody
 * else needs by name is unlinked at once (O_TMPFILE where the file system
 * has it), so not even SIGKILL can leave it behind; a named one (file mode,
 * where the filter gets the path) is removed on every path out.
 */
#ifndef PROXSMTPD_SPOOL_H
#define PROXSMTPD_SPOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPOOL_BUFSIZE 16384

/* The scalars first: spool_init() then touches one page, not two. */
struct spool {
	int	fd;		/* -1: none */
	bool	named;		/* path exists on disk and must be removed */
	int	werrno;		/* first write error, 0 if none */
	off_t	size;
	size_t	blen;
	char	path[PATH_MAX];
	unsigned char buf[SPOOL_BUFSIZE];
};

void	spool_init(struct spool *);
/*
 * Checks that dir is a directory we can use safely: not world-writable
 * unless sticky. Returns 0, or -1 with why.
 */
int	spool_dir_check(const char *dir, char *why, size_t whylen);
/* Returns 0, or -1 with errno set. */
int	spool_create(struct spool *, const char *dir, const char *sid,
	    bool named);
/* Buffered append; errors are kept in werrno and reported by flush. */
void	spool_put(struct spool *, const void *, size_t);
/* Returns 0, or -1 with errno = the first write error. */
int	spool_flush(struct spool *);
/* Closes the file, removing it if it has a name. */
void	spool_remove(struct spool *);

#endif
