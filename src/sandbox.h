/*
 * sandbox.h - the session confines itself (-S): no_new_privs, and with
 * Landlock a read-only file system but for the spool directory.
 */
#ifndef PROXSMTPD_SANDBOX_H
#define PROXSMTPD_SANDBOX_H

#include <stddef.h>

/*
 * Applies to this process and everything it starts later (the filter).
 * Writable afterwards: spool_dir and what is beneath it, /dev/null, and
 * the removal of files in pidfile's directory (pidfile may be NULL).
 * Returns 0 when applied in full; 1 when only no_new_privs could be set
 * (this kernel has no Landlock: why says so); -1 on error (why says it).
 */
int	sandbox_apply(const char *spool_dir, const char *pidfile, char *why,
	    size_t whylen);

#endif
