# proxsmtpd - per-connection SMTP content filter
VERSION    = 2.0.0
PREFIX    ?= /usr/local
sbindir   ?= $(PREFIX)/sbin
libdir    ?= $(PREFIX)/lib
# The TLS module (proxsmtpd-tls.so) lives here.
pkglibdir ?= $(libdir)/proxsmtpd
sysconfdir ?= $(PREFIX)/etc
mandir    ?= $(PREFIX)/share/man
datadir   ?= $(PREFIX)/share
unitdir   ?= $(PREFIX)/lib/systemd/system
sysusersdir ?= $(PREFIX)/lib/sysusers.d
xinetddir ?= /etc/xinetd.d
DESTDIR   ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
# Truncation is how every bounded buffer here is filled, on purpose (fmt()
# in the program, snprintf() in the TLS module).
WARN       = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
GCC_WARN   = -Wno-format-truncation
CPPFLAGS  += -D_GNU_SOURCE -DVERSION='"$(VERSION)"' \
             -DDEFAULT_CONFIG='"$(sysconfdir)/proxsmtpd.conf"' \
             -DTLS_MODULE='"$(pkglibdir)/proxsmtpd-tls.so"'

# The journal and LISTEN_FDS: our own code (src/sysd.c), or with
# LIBSYSTEMD=1 libsystemd's sd_journal_sendv() and sd_listen_fds()
# (src/sysd-libsystemd.c; needs libsystemd-dev: scripts/deps libsystemd).
# The rest of the program is the same.
CORE = src/main.c src/args.c src/ascii.c src/fmt.c src/inet.c src/config.c src/log.c src/sig.c src/io.c src/reply.c \
       src/upstream.c src/spool.c src/data.c src/filter.c src/session.c \
       src/esmtp.c src/netlist.c src/sandbox.c src/outaddr.c src/xtext.c \
       src/header.c src/filterenv.c src/proxyproto.c src/pipeline.c src/bdat.c \
       src/tlsmod.c
SRCS = $(CORE) $(if $(LIBSYSTEMD),src/sysd-libsystemd.c,src/sysd.c)
SYSD_LIBS = $(if $(LIBSYSTEMD),-lsystemd)
HDRS = $(wildcard src/*.h)
# What ./proxsmtpd was built as: which of the two (LIBSYSTEMD) and the
# paths compiled into it. A change of either rebuilds it, so that
# `make && make install PREFIX=/usr` installs a program that looks for its
# configuration and TLS module where they were installed.
BUILD_KIND = $(if $(LIBSYSTEMD),libsystemd,native) $(sysconfdir) $(pkglibdir)

all: proxsmtpd proxsmtpd-tls.so

# STARTTLS: src/tls.c with OpenSSL, a module the program loads with
# dlopen() only when a session uses TLS (TLSModule in proxsmtpd.conf(5)):
# the program itself does not link libssl, so that a session without TLS
# does not pay for loading it (bench/results.md, STARTTLS).
# Needs libssl-dev (scripts/deps build).
TLS_CFLAGS = -fPIC -shared -fvisibility=hidden
TLS_LIBS = -lssl -lcrypto
proxsmtpd-tls.so: src/tls.c src/tls.h Makefile
	$(CC) -std=c17 $(WARN) $(if $(findstring clang,$(CC)),,$(GCC_WARN)) $(CPPFLAGS) $(CFLAGS) $(TLS_CFLAGS) -o $@ src/tls.c $(LDFLAGS) $(TLS_LIBS)

# The module under the sanitizers, for proxsmtpd-asan (TLSModule names it
# in the tests): its symbols resolve to the program's ASan runtime.
proxsmtpd-tls-asan.so: src/tls.c src/tls.h Makefile
	clang -std=c17 $(WARN) $(CPPFLAGS) -O1 -g -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -fno-omit-frame-pointer $(TLS_CFLAGS) \
	  -o $@ src/tls.c $(TLS_LIBS)

.build-kind: FORCE
	@[ "$$(cat $@ 2>/dev/null)" = '$(BUILD_KIND)' ] || echo '$(BUILD_KIND)' >$@

proxsmtpd: $(SRCS) $(HDRS) Makefile .build-kind
	$(CC) -std=c17 $(WARN) $(if $(findstring clang,$(CC)),,$(GCC_WARN)) $(CPPFLAGS) $(CFLAGS) -o $@ $(SRCS) $(LDFLAGS) $(SYSD_LIBS)

# The LIBSYSTEMD=1 program beside the default one, for the tests in CI.
proxsmtpd-libsystemd: $(CORE) src/sysd-libsystemd.c $(HDRS) Makefile
	$(CC) -std=c17 $(WARN) $(if $(findstring clang,$(CC)),,$(GCC_WARN)) $(CPPFLAGS) $(CFLAGS) -o $@ $(CORE) src/sysd-libsystemd.c $(LDFLAGS) -lsystemd

# The same program under AddressSanitizer and UndefinedBehaviorSanitizer.
proxsmtpd-asan: $(SRCS) $(HDRS) Makefile proxsmtpd-tls-asan.so
	clang -std=c17 $(WARN) $(CPPFLAGS) -O1 -g \
	  -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fno-omit-frame-pointer -o $@ $(SRCS)

# The unit test of src/fmt.c, src/inet.c and src/ascii.c against the C
# library's snprintf, inet_ntop, strcasecmp and strtol (t/86-fmt.bats).
UNIT_SRCS = src/fmt.c src/inet.c src/ascii.c
t/fmt-test: t/fmt-test.c $(UNIT_SRCS) src/fmt.h src/inet.h src/ascii.h Makefile
	$(CC) -std=c17 $(WARN) $(if $(findstring clang,$(CC)),,$(GCC_WARN)) $(CPPFLAGS) $(CFLAGS) -o $@ t/fmt-test.c $(UNIT_SRCS)

# A clang build with the same warnings, to keep both compilers clean.
proxsmtpd-clang: $(SRCS) $(HDRS) Makefile
	clang -std=c17 $(WARN) $(CPPFLAGS) -O2 -g -o $@ $(SRCS)
	clang -std=c17 $(WARN) $(CPPFLAGS) -O2 -g $(TLS_CFLAGS) -o proxsmtpd-tls-clang.so src/tls.c $(TLS_LIBS)

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --std=c11 --inline-suppr -D_GNU_SOURCE -Isrc $(CORE) src/sysd.c src/sysd-libsystemd.c \
	  src/tls.c

# The whole suite. In CI (CI=true) also the clang build, cppcheck, the fuzz
# targets for 10 s each, their regression inputs, the logging and launcher
# tests (the journal, LISTEN_FDS) against the LIBSYSTEMD=1 build, the
# suite again under ASan+UBSan, and check-systemd; the last line is the
# total for all runs.
# A fuzz run that reports no target at all (they did not build) is a failure.
TESTS ?= t/*.bats
SYSD_TESTS = $(filter t/40-launchers.bats t/50-logging.bats,$(wildcard $(TESTS)))
check:
	@scripts/deps check
	@$(MAKE) --no-print-directory proxsmtpd proxsmtpd-tls.so t/fmt-test
	@rm -f t/.counts
	@t/run --label gcc --counts t/.counts $(TESTS) || true
	@if [ "$$CI" = true ] || [ -n "$$CHECK_FULL" ]; then \
	  $(MAKE) --no-print-directory proxsmtpd-clang cppcheck proxsmtpd-asan \
	    proxsmtpd-libsystemd && \
	  { fuzz/run --smoke | tee t/.fuzz.log; \
	    awk '$$1 != "total" && / crashes [0-9]+$$/ { if ($$NF == 0) p++; else f++ } \
	      END { if (p + f == 0) f = 1; print "fuzz", p + 0, f + 0 }' t/.fuzz.log >>t/.counts; } && \
	  { fuzz/run --regress | tee t/.regress.log; \
	    awk '/: fixed: / { p++ } /: FAILS/ { f++ } \
	      END { if (p + f == 0) f = 1; print "fuzz-regress", p + 0, f + 0 }' t/.regress.log >>t/.counts; } && \
	  { [ -z "$(SYSD_TESTS)" ] || PROXSMTPD=$(CURDIR)/proxsmtpd-libsystemd \
	    t/run --label libsystemd --counts t/.counts $(SYSD_TESTS) || true; } && \
	  PROXSMTPD=$(CURDIR)/proxsmtpd-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    t/run --label asan --counts t/.counts $(TESTS) || true; \
	  t/systemd/run --counts t/.counts || true; \
	fi
	@t/run --sum t/.counts

# The shipped units under a real systemd: a Debian 12 root (built once with
# debootstrap, cached in /var/cache/proxsmtpd-nspawn) booted with
# systemd-nspawn, `make install DESTDIR=` into it, sessions through
# proxsmtpd.socket's Accept=yes. Needs root; where nspawn cannot run, the
# tests are skipped and the summary line says so.
check-systemd: proxsmtpd
	@rm -f t/.counts-systemd
	@t/systemd/run --counts t/.counts-systemd || true
	@t/run --sum t/.counts-systemd

# libFuzzer targets under ASan+UBSan: FUZZ_SECONDS per target (default
# 60); fuzz-smoke runs each for 10 s, as CI does.
fuzz:
	@scripts/deps fuzz
	@fuzz/run

fuzz-smoke:
	@scripts/deps fuzz
	@fuzz/run --smoke

# The packages first (the compiler among them), then the build: a fresh
# machine needs nothing else typed.
demo:
	@scripts/deps demo
	@$(MAKE) --no-print-directory proxsmtpd
	@scripts/demo

# bench/run reads its settings from the environment (BENCH_ROUNDS,
# BENCH_BASE=REV to compare with an earlier commit, ...: its header); make
# passes them on, from the environment or the command line.
bench:
	@scripts/deps bench
	@$(MAKE) --no-print-directory proxsmtpd proxsmtpd-tls.so
	@bench/run

# The installed man pages, units and xinetd entry name the real paths.
SUBST = sed -e 's|@sysconfdir@|$(sysconfdir)|g' -e 's|@sbindir@|$(sbindir)|g' \
	    -e 's|@datadir@|$(datadir)|g' -e 's|@unitdir@|$(unitdir)|g' \
	    -e 's|@xinetddir@|$(xinetddir)|g' -e 's|@sysusersdir@|$(sysusersdir)|g' \
	    -e 's|@pkglibdir@|$(pkglibdir)|g'

# What LIBSYSTEMD=1 costs each session, against the default build: its
# section of bench/results.md.
bench-libsystemd:
	@scripts/deps bench-libsystemd
	@bench/libsystemd

# What STARTTLS costs: the module loaded on demand against linking libssl,
# and a STARTTLS W1 against plain W1; its section of bench/results.md.
bench-starttls:
	@scripts/deps bench
	@$(MAKE) --no-print-directory proxsmtpd proxsmtpd-tls.so
	@bench/starttls

install: proxsmtpd proxsmtpd-tls.so
	install -d $(DESTDIR)$(pkglibdir)
	install -m 644 proxsmtpd-tls.so $(DESTDIR)$(pkglibdir)/proxsmtpd-tls.so
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5 \
	  $(DESTDIR)$(sysconfdir) $(DESTDIR)$(unitdir) $(DESTDIR)$(xinetddir) \
	  $(DESTDIR)$(datadir)/proxsmtpd/filters $(DESTDIR)$(sysusersdir)
	install -m 755 proxsmtpd $(DESTDIR)$(sbindir)/proxsmtpd
	$(SUBST) man/proxsmtpd.8 > $(DESTDIR)$(mandir)/man8/proxsmtpd.8
	$(SUBST) man/proxsmtpd.conf.5 > $(DESTDIR)$(mandir)/man5/proxsmtpd.conf.5
	for f in proxsmtpd.socket proxsmtpd@.service; do \
	  $(SUBST) systemd/$$f > $(DESTDIR)$(unitdir)/$$f; done
	install -d $(DESTDIR)$(datadir)/proxsmtpd/systemd
	install -m 644 systemd/proxsmtpd-transparent.conf systemd/proxsmtpd-strict.conf \
	  $(DESTDIR)$(datadir)/proxsmtpd/systemd/
	install -m 644 systemd/proxsmtpd.sysusers $(DESTDIR)$(sysusersdir)/proxsmtpd.conf
	@# The unit's user: made now on this system, at the next boot otherwise.
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null && \
	    [ "$$(id -u)" = 0 ]; then \
	  echo "systemd-sysusers $(sysusersdir)/proxsmtpd.conf"; \
	  systemd-sysusers $(sysusersdir)/proxsmtpd.conf; fi
	$(SUBST) xinetd.d/proxsmtpd > $(DESTDIR)$(xinetddir)/proxsmtpd
	install -m 644 proxsmtpd.conf.sample $(DESTDIR)$(sysconfdir)/proxsmtpd.conf.sample
	[ -e $(DESTDIR)$(sysconfdir)/proxsmtpd.conf ] || \
	  install -m 644 proxsmtpd.conf.sample $(DESTDIR)$(sysconfdir)/proxsmtpd.conf
	install -m 755 filters/*.sh $(DESTDIR)$(datadir)/proxsmtpd/filters/

# The configuration file is the operator's: left in place.
uninstall:
	rm -f $(DESTDIR)$(pkglibdir)/proxsmtpd-tls.so
	-rmdir $(DESTDIR)$(pkglibdir)
	rm -f $(DESTDIR)$(sbindir)/proxsmtpd $(DESTDIR)$(mandir)/man8/proxsmtpd.8 \
	  $(DESTDIR)$(mandir)/man5/proxsmtpd.conf.5 \
	  $(DESTDIR)$(unitdir)/proxsmtpd.socket $(DESTDIR)$(unitdir)/proxsmtpd@.service \
	  $(DESTDIR)$(xinetddir)/proxsmtpd $(DESTDIR)$(sysconfdir)/proxsmtpd.conf.sample \
	  $(DESTDIR)$(sysusersdir)/proxsmtpd.conf
	rm -rf $(DESTDIR)$(datadir)/proxsmtpd

clean:
	rm -f proxsmtpd proxsmtpd-asan proxsmtpd-clang proxsmtpd-libsystemd .build-kind \
	  proxsmtpd-tls.so proxsmtpd-tls-asan.so proxsmtpd-tls-clang.so t/.counts t/.counts-systemd \
	  t/fmt-test \
	  t/.fuzz.log t/.regress.log
	rm -rf fuzz/build

.PHONY: FORCE all check check-systemd demo bench bench-libsystemd bench-starttls install uninstall clean cppcheck fuzz fuzz-smoke
