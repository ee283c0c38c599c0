/*
 * sandbox.c - the session confines itself once its files are open.
 *
 * What the shipped systemd unit got from a mount namespace per connection
 * (ProtectSystem=strict: everything read-only but the spool), at ~20 ms a
 * connection, Landlock gives for microseconds: the process and its filter
 * may read and execute anything their user may, but write, create, remove
 * or rename only beneath the spool directory (and write /dev/null). Reads
 * are left alone: a filter reads its own configuration and databases.
 */
#include "sandbox.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Newer than some kernel headers; the values are the kernel's ABI. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

/* Every right that changes the file system (Landlock ABI 1). */
#define FS_CHANGE (LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
	LANDLOCK_ACCESS_FS_MAKE_SYM)

static int
ll_add(int ruleset, const char *path, uint64_t access, uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	int fd, r, err;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	r = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

int
sandbox_apply(const char *spool_dir, const char *pidfile, char *why,
    size_t whylen)
{
	struct landlock_ruleset_attr ra;
	char piddir[4096];
	const char *slash;
	uint64_t handled = FS_CHANGE;
	int abi, ruleset, r;

	/* Also what lets an unprivileged process call landlock_restrict_self. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fmt(why, whylen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		fmt(why, whylen, "Landlock not available (%s): the file "
		    "system stays writable", strerror(errno));
		return 1;
	}
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (ruleset < 0) {
		fmt(why, whylen, "Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	/* A spool directory that cannot be opened gets no rule: spooling then
	 * fails at DATA with the reason, as without the sandbox. */
	(void)ll_add(ruleset, spool_dir, handled, handled);
	/* Shells and filters send output there; a missing /dev/null is not ours
	 * to report. */
	(void)ll_add(ruleset, "/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_TRUNCATE, handled);
	/* The pid file is removed at exit: its directory must allow that. */
	if (pidfile != NULL && (slash = strrchr(pidfile, '/')) != NULL &&
	    (size_t)(slash - pidfile) < sizeof(piddir)) {
		fmt(piddir, sizeof(piddir), "%.*s",
		    slash == pidfile ? 1 : (int)(slash - pidfile), pidfile);
		(void)ll_add(ruleset, piddir, LANDLOCK_ACCESS_FS_REMOVE_FILE,
		    handled);
	} else if (pidfile != NULL) {
		(void)ll_add(ruleset, ".", LANDLOCK_ACCESS_FS_REMOVE_FILE,
		    handled);
	}
	r = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
	if (r < 0)
		fmt(why, whylen, "Landlock restrict: %s", strerror(errno));
	close(ruleset);
	return r < 0 ? -1 : 0;
}
