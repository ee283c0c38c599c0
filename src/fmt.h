/*
 * fmt.h - a small bounded formatter, in place of the printf family.
 *
 * Why: a session that calls snprintf() runs glibc's vfprintf, which lives
 * in its own 64 KiB of libc; the kernel maps libc's code 64 KiB at a time
 * around each page touched, so that one call costs up to 64 KiB of RSS in
 * every session (bench/libc-windows, bench/results.md "Peak RSS").
 *
 * The contract is snprintf's: at most size - 1 characters and a NUL when
 * size > 0; the return value is the length the whole text would have had.
 * The format attribute lets the compiler check every call's arguments.
 *
 * Supported, and nothing else (no locale, no floating point):
 *   conversions  d i u x X s c %
 *   length       l ll z (on d i u x X)
 *   flags        0 (zero padding, integers), - (left-justify)
 *   width        a number, e.g. %03d %02x %-8s
 *   precision    on s only: a number or *, e.g. %.150s %.*s
 * Anything else writes the visible marker "%?" and ends the text there
 * (t/86-fmt.bats checks that no format string in src/ needs it).
 */
#ifndef PROXSMTPD_FMT_H
#define PROXSMTPD_FMT_H

#include <stdarg.h>
#include <stddef.h>

int	fmt(char *buf, size_t size, const char *format, ...)
	    __attribute__((format(printf, 3, 4)));
int	vfmt(char *buf, size_t size, const char *format, va_list ap)
	    __attribute__((format(printf, 3, 0)));
/* Formats into an 8 KiB buffer and writes it with one write(2) (to stdout,
 * stderr: usage, -t, -V, errors before logging starts); -1 if the write
 * failed or was short, or the text did not fit. */
int	fmt_write(int fd, const char *format, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
