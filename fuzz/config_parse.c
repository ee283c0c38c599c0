/*
 * fuzz/config_parse.c - proxsmtpd.conf parsing (src/config.c).
 *
 * The input is written to a memfd and loaded as /proc/self/fd/N with
 * config_load(), then config_validate() and config_format(). Never a crash;
 * error strings are NUL-terminated within whatever length they are given
 * and name the file; a loaded config holds only values in range; and a
 * config that loads and validates prints as a file that loads again to
 * the same effective settings (what `proxsmtpd -t` shows is a config).
 */
#include "common.h"

#include "../src/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int conf_fd = -1, again_fd = -1;
static char conf_path[64], again_path[64];
static char text[CONFIG_TEXT_MAX];
static struct config cfg, cfg2;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	conf_fd = fz_memfd("fuzz-conf");
	again_fd = fz_memfd("fuzz-conf-printed");
	snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
	snprintf(again_path, sizeof(again_path), "/proc/self/fd/%d",
	    again_fd);
	return 0;
}

#define TERMINATED(field) \
	FZ_CHECK(strnlen((field), sizeof(field)) < sizeof(field), \
	    #field " not terminated")

static void
check_config(const struct config *c, bool loaded)
{
	const char *p;

	TERMINATED(c->path);
	TERMINATED(c->filter_command);
	TERMINATED(c->filter_reject);
	TERMINATED(c->header);
	TERMINATED(c->out_address);
	TERMINATED(c->temp_directory);
	TERMINATED(c->user);
	TERMINATED(c->ignored);
	if (!loaded)
		return;	/* half-applied, and thrown away by the caller */
	FZ_CHECK(c->filter_type <= FILTER_REJECT, "filter_type");
	FZ_CHECK(c->transparent <= TRANSPARENT_FULL, "transparent");
	FZ_CHECK(c->bare_newline <= BARE_NEWLINE_REJECT, "bare_newline");
	FZ_CHECK(c->proxy_protocol <= PROXY_ANY, "proxy_protocol");
	FZ_CHECK(c->filter_timeout >= 1 && c->filter_timeout <= 86400,
	    "FilterTimeout %d", c->filter_timeout);
	FZ_CHECK(c->timeout >= 1 && c->timeout <= 86400, "TimeOut %d",
	    c->timeout);
	FZ_CHECK(c->keepalives >= 0 && c->keepalives <= 86400,
	    "KeepAlives %d", c->keepalives);
	FZ_CHECK(c->temp_directory[0] == '/', "TempDirectory not absolute");
	FZ_CHECK(c->filter_reject[0] != '\0', "empty FilterReject");
	/* A Header is empty or starts "Field-Name:" (RFC 5322 2.2). */
	if (c->header[0] != '\0') {
		for (p = c->header; *p > 32 && *p < 127 && *p != ':'; p++)
			;
		FZ_CHECK(p != c->header && *p == ':', "Header without a name");
	}
}

static void
check_error(const char *err, size_t errlen, const char *path)
{
	size_t plen = strlen(path);

	FZ_CHECK(memchr(err, '\0', errlen) != NULL,
	    "error not NUL-terminated within %zu", errlen);
	/* It names the file (as far as it fits). */
	if (errlen > plen + 1)
		FZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':',
		    "error does not start with the file name: %s", err);
}

/* What -t prints for c, in text: it always fits CONFIG_TEXT_MAX. */
static size_t
format_checked(const struct config *c)
{
	size_t n = config_format(c, text, sizeof(text));

	FZ_CHECK(n < sizeof(text), "config_format: %zu bytes do not fit", n);
	FZ_CHECK(strlen(text) == n, "config_format: length %zu, text %zu", n,
	    strlen(text));
	return n;
}

/* Prints c, with its first line (which names the file) left out. */
static char *
print_body(const struct config *c, size_t *len)
{
	char *buf, *nl;
	size_t n = format_checked(c);

	buf = malloc(n + 1);
	if (buf == NULL)
		abort();
	memcpy(buf, text, n + 1);
	FZ_CHECK(n > 0 && buf[n - 1] == '\n', "config_format: no final LF");
	nl = strchr(buf, '\n');
	FZ_CHECK(buf[0] == '#' && nl != NULL, "config_format: no comment line");
	*len = n - (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *len + 1);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = fz_hash(data, size);
	size_t errlen = 1 + (size_t)(fz_rand(&seed) % 600);
	char err[1024], *printed, *reprinted;
	size_t plen, rlen;
	int rc;

	fz_memfd_set(conf_fd, data, size);
	config_defaults(&cfg);
	memset(err, 'Z', sizeof(err));
	rc = config_load(&cfg, conf_path, err, errlen);
	FZ_CHECK(rc == 0 || rc == -1, "config_load returned %d", rc);
	if (rc != 0) {
		check_error(err, errlen, conf_path);
		/* The full message once more, with room to spare. */
		config_defaults(&cfg);
		memset(err, 'Z', sizeof(err));
		rc = config_load(&cfg, conf_path, err, sizeof(err));
		FZ_CHECK(rc == -1, "config_load changed its mind");
		check_error(err, sizeof(err), conf_path);
		FZ_CHECK(strstr(err, conf_path) == err &&
		    (err[strlen(conf_path) + 1] != '\0'),
		    "error says nothing: %s", err);
	}
	check_config(&cfg, rc == 0);
	memset(err, 'Z', sizeof(err));
	if (config_validate(&cfg, err, errlen) != 0) {
		check_error(err, errlen, conf_path);
		(void)format_checked(&cfg);
		return 0;
	}
	(void)format_checked(&cfg);
	if (rc != 0)
		return 0;

	/* What -t prints is a config that means the same. */
	printed = print_body(&cfg, &plen);
	fz_memfd_set(again_fd, printed, plen);
	config_defaults(&cfg2);
	rc = config_load(&cfg2, again_path, err, sizeof(err));
	if (rc != 0) {
		fz_dump("printed", printed, plen);
		FZ_CHECK(0, "printed config does not load: %s", err);
	}
	FZ_CHECK(config_validate(&cfg2, err, sizeof(err)) == 0,
	    "printed config does not validate: %s", err);
	reprinted = print_body(&cfg2, &rlen);
	if (rlen != plen || memcmp(printed, reprinted, plen) != 0) {
		fz_dump("printed", printed, plen);
		fz_dump("reprinted", reprinted, rlen);
		FZ_CHECK(0, "printed config means something else");
	}
	free(printed);
	free(reprinted);
	return 0;
}
