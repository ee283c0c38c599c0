/*
 * inet.h - an address as text, as inet_ntop() writes it.
 *
 * Why not inet_ntop(): glibc's formats with sprintf(), whose code is a
 * 64 KiB window of libc that nothing else a session runs needs; the kernel
 * maps libc's code 64 KiB at a time (bench/libc-windows).
 */
#ifndef PROXSMTPD_INET_H
#define PROXSMTPD_INET_H

#include <stddef.h>

/* family AF_INET (addr: 4 bytes) or AF_INET6 (16 bytes) into buf, byte for
 * byte what inet_ntop() writes (cut to fit, as fmt() cuts). */
void	inet_text(int family, const void *addr, char *buf, size_t len);

#endif
