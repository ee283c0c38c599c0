/*
 * main.c - proxsmtpd: arguments, configuration, the client's connection,
 * privileges, and the hand-off to the session.
 *
 * One process is one SMTP session. The launcher (systemd with Accept=yes,
 * xinetd, tcpserver) listens and accepts; we get the connection on stdin and
 * stdout, or as the one fd of sd_listen_fds().
 */
#include "args.h"
#include "ascii.h"
#include "config.h"
#include "fmt.h"
#include "log.h"
#include "sandbox.h"
#include "session.h"
#include "sig.h"
#include "sysd.h"
#include "tlsmod.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "0.0"
#endif
#ifndef DEFAULT_CONFIG
#define DEFAULT_CONFIG "/usr/local/etc/proxsmtpd.conf"
#endif

#define USAGE "usage: proxsmtpd [-d level] [-f configfile] [-p pidfile] [-S] [-t] [-v]\n" \
	"       proxsmtpd -h | --help | -V | --version\n"

/* Asked for (-h): the usage and the options on stdout, exit 0. */
static void
help(void)
{
	int rc = fmt_write(STDOUT_FILENO, USAGE
	    "One SMTP session on stdin/stdout (or the socket of LISTEN_FDS),\n"
	    "its messages through FilterCommand, to OutAddress.\n"
	    "  -d level       log to stderr up to level: 0 errors, 1 warnings,\n"
	    "                 2 notices, 3 info, 4 debug\n"
	    "  -f configfile  the configuration (default %s)\n"
	    "  -p pidfile     write this session's pid there\n"
	    "  -S             sandbox: no_new_privs, and (Landlock) nothing\n"
	    "                 writable but TempDirectory\n"
	    "  -t             check the configuration, print the settings, exit\n"
	    "  -V, -v, --version  print the version and exit\n"
	    "  -h, --help     print this help and exit\n"
	    "See proxsmtpd(8) and proxsmtpd.conf(5).\n", DEFAULT_CONFIG);

	exit(rc == 0 ? 0 : EXIT_USAGE);
}

/* A bad command line: the usage on stderr, exit 100. */
__attribute__((noreturn)) static void
usage(void)
{
	(void)fmt_write(STDERR_FILENO, "%s", USAGE);
	exit(EXIT_USAGE);
}

/* fds 0-2 must exist, so that no file we open lands on them. */
static void
reserve_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

static void
prepare_socket(int fd)
{
	int one = 1;
	int fl;

	/* Writes need timeouts too, so the socket must not block. */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static bool
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int
drop_privileges(const char *user, char *why, size_t whylen)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	if (geteuid() != 0)
		return 1;	/* nothing to drop */
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		fmt(why, whylen, "User %s: %s", user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		fmt(why, whylen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		fmt(why, whylen, "could regain root after becoming %s",
		    user);
		return -1;
	}
	return 0;
}

static void
write_pidfile(struct logger *lg, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	char pid[32];
	int n;

	if (fd < 0) {
		log_msg(lg, L_WARNING, "pid file %s: %s", path,
		    strerror(errno));
		return;
	}
	n = fmt(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, (size_t)n) != n)
		log_msg(lg, L_WARNING, "pid file %s: %s", path,
		    strerror(errno));
	close(fd);
}

/* What the command line asks for. */
struct options {
	const char *config_path, *pidfile;
	bool	config_given, check_only, sandbox;
	int	level;		/* -d, or -1 */
};

/* -d's level, or the usage and exit 100. */
static int
parse_level(const char *arg)
{
	char *end;
	long l;

	errno = 0;
	l = dec_strtol(arg, &end);
	if (arg[0] == '\0' || *end != '\0' || errno != 0 || l < L_ERR ||
	    l > L_DEBUG) {
		(void)fmt_write(STDERR_FILENO, "proxsmtpd: -d %s: the level is "
		    "a number from %d to %d\n", arg, L_ERR, L_DEBUG);
		usage();
	}
	return (int)l;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct args_long long_options[] = {
		{ "help", 'h' },
		{ "version", 'V' },
		{ NULL, 0 },
	};
	struct args a;
	int ch;

	*o = (struct options){ .config_path = DEFAULT_CONFIG, .level = -1 };
	args_init(&a, argc, argv);
	while ((ch = args_next(&a, "d:f:hp:StvV", long_options)) != -1) {
		switch (ch) {
		case 'd':
			o->level = parse_level(a.arg);
			break;
		case 'h':
			help();
			break;
		case 'f':
			o->config_path = a.arg;
			o->config_given = true;
			break;
		case 'p':
			o->pidfile = a.arg;
			break;
		case 'S':
			o->sandbox = true;
			break;
		case 't':
			o->check_only = true;
			break;
		case 'v':
		case 'V':
			exit(fmt_write(STDOUT_FILENO, "proxsmtpd %s\n",
			    VERSION) == 0 ? 0 : EXIT_USAGE);
		default:
			usage();
		}
	}
	if (a.operands != 0)
		usage();
}

/* The configuration, checked; -1 (logged) if it cannot be used. */
static int
load_config(struct config *cfg, struct logger *lg, const struct options *o)
{
	char err[1024];
	int rc;

	config_defaults(cfg);
	rc = config_load(cfg, o->config_path, err, sizeof(err));
	if (rc == -2 && !o->config_given) {
		log_msg(lg, L_WARNING, "%s; using the defaults", err);
		rc = 0;
	}
	if (rc == 0)
		rc = config_validate(cfg, err, sizeof(err));
	if (rc != 0) {
		log_msg(lg, L_ERR, "%s", err);
		return -1;
	}
	if (cfg->ignored[0] != '\0')
		log_msg(lg, L_DEBUG, "%s: ignored (the launcher does that job)",
		    cfg->ignored);
	return 0;
}

/* -t: the settings on stdout; 0, or EXIT_USAGE if they could not go. */
static int
print_config(const struct config *cfg)
{
	static char text[CONFIG_TEXT_MAX];
	size_t len = config_format(cfg, text, sizeof(text)), o = 0;
	ssize_t n;

	if (len >= sizeof(text))
		return EXIT_USAGE;
	while (o < len) {
		n = write(STDOUT_FILENO, text + o, len - o);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return EXIT_USAGE;
		o += (size_t)n;
	}
	return 0;
}

/* The client's connection: stdin/stdout, or systemd's one socket. */
static int
client_fds(struct logger *lg, int *rfd, int *wfd)
{
	/* systemd without StandardInput=socket: the connection is fd 3. */
	int r = sysd_listen_fds();

	if (r > 1) {
		log_msg(lg, L_ERR, "got %d sockets from systemd, expected one "
		    "connection (Accept=yes)", r);
		return -1;
	}
	*rfd = 0;
	*wfd = 1;
	if (r == 1)
		*rfd = *wfd = SYSD_LISTEN_FDS_START;
	if (is_socket(*rfd))
		prepare_socket(*rfd);
	if (*wfd != *rfd && is_socket(*wfd))
		prepare_socket(*wfd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct config cfg;
	struct logger lg;
	/* Static, not on the stack and not memset: its 560 KiB of buffers are
	 * zero pages until used, so a short session touches (and the kernel
	 * faults in) only the few it needs. Clearing it cost ~140 page faults
	 * per connection and 0.6 MiB of RSS. It lives until exit(). */
	static struct session session;
	struct session *s = &session;
	char err[1024];
	int rfd, wfd, r;

	parse_options(argc, argv, &o);
	reserve_std_fds();
	/* -t reports to the terminal whatever the log target would be. */
	log_open(&lg, o.check_only && o.level < 0 ? L_WARNING : o.level);
	if (load_config(&cfg, &lg, &o) < 0)
		return EXIT_USAGE;
	if (o.check_only) {
		if (tlsmod_check(&cfg, err, sizeof(err)) < 0) {
			log_msg(&lg, L_ERR, "TLS: %s", err);
			return EXIT_USAGE;
		}
		return print_config(&cfg);
	}
	sig_init();
	if (client_fds(&lg, &rfd, &wfd) < 0)
		return EXIT_USAGE;
	session_init(s, &cfg, &lg, rfd, wfd);
	/* Connect first: TransparentProxy full needs our privileges for it. */
	session_connect(s);
	r = drop_privileges(cfg.user, err, sizeof(err));
	if (r < 0)
		session_abort(s, err);
	if (r > 0)
		log_msg(&lg, L_DEBUG, "not root: User %s not applied", cfg.user);
	/* Written as the user we run as, so that we can remove it at exit. */
	if (o.pidfile != NULL) {
		write_pidfile(&lg, o.pidfile);
		s->pidfile = o.pidfile;
	}
	/* Last: the connection, the log and the pid file are open by now. */
	if (o.sandbox) {
		r = sandbox_apply(cfg.temp_directory, o.pidfile, err,
		    sizeof(err));
		if (r < 0)
			session_abort(s, err);
		if (r > 0)
			log_msg(&lg, L_WARNING, "%s", err);
	}
	session_run(s);
}
