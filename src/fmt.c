/*
 * fmt.c - a small bounded formatter in place of the printf family: see
 * fmt.h for why and for exactly what it supports.
 */
#include "fmt.h"

#include <stdbool.h>
#include <unistd.h>

/* The text so far: written up to size - 1, counted in full. */
struct out {
	char	*buf;
	size_t	 size, len;
};

static void
put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
put_n(struct out *o, const char *s, size_t n)
{
	while (n-- > 0)
		put(o, *s++);
}

static void
pad(struct out *o, char c, size_t n)
{
	while (n-- > 0)
		put(o, c);
}

/* One conversion's flags, width and precision. */
struct spec {
	bool	zero, left;
	size_t	width;
	int	prec;		/* -1: none */
};

/* s (n bytes) in the field: padded to the width, left or right. */
static void
put_field(struct out *o, const struct spec *sp, const char *s, size_t n)
{
	size_t fill = sp->width > n ? sp->width - n : 0;

	if (!sp->left)
		pad(o, ' ', fill);
	put_n(o, s, n);
	if (sp->left)
		pad(o, ' ', fill);
}

/* An integer: its magnitude v, a sign if neg, in base 10 or 16. */
static void
put_int(struct out *o, const struct spec *sp, unsigned long long v, bool neg,
    unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];		/* 2^64 is 20 digits in base 10 */
	size_t n = 0, len, fill;

	do {
		tmp[sizeof(tmp) - ++n] = digits[v % base];
		v /= base;
	} while (v != 0);
	len = n + (neg ? 1 : 0);
	fill = sp->width > len ? sp->width - len : 0;
	if (!sp->left && !sp->zero)
		pad(o, ' ', fill);
	if (neg)
		put(o, '-');
	if (!sp->left && sp->zero)
		pad(o, '0', fill);
	put_n(o, tmp + sizeof(tmp) - n, n);
	if (sp->left)
		pad(o, ' ', fill);
}

static size_t
number(const char **f)
{
	size_t n = 0;

	while (**f >= '0' && **f <= '9')
		n = n * 10 + (size_t)(*(*f)++ - '0');
	return n;
}

/* The flags, width and precision after a %; false if not supported. */
static bool
parse_spec(const char **f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){ .prec = -1 };
	for (;; (*f)++) {
		if (**f == '0')
			sp->zero = true;
		else if (**f == '-')
			sp->left = true;
		else
			break;
	}
	sp->width = number(f);
	if (**f != '.')
		return true;
	(*f)++;
	if (**f == '*') {
		(*f)++;
		sp->prec = va_arg(*ap, int);
		if (sp->prec < 0)
			sp->prec = -1;	/* as printf: as if none */
	} else if (**f >= '0' && **f <= '9') {
		size_t p = number(f);

		sp->prec = p > 65535 ? 65535 : (int)p;
	} else {
		sp->prec = 0;
	}
	return **f == 's';	/* precision on strings only */
}

/* The text of %s: printf's "(null)" for NULL, cut at the precision. */
static void
put_str(struct out *o, const struct spec *sp, const char *s)
{
	size_t n = 0;

	if (s == NULL)
		s = sp->prec < 0 || sp->prec >= 6 ? "(null)" : "";
	while (s[n] != '\0' && (sp->prec < 0 || n < (size_t)sp->prec))
		n++;
	put_field(o, sp, s, n);
}

/* One conversion from *f (just past the %); false if not supported. */
static bool
convert(struct out *o, const char **f, va_list *ap)
{
	struct spec sp;
	unsigned long long u;
	long long d;
	int len = 0;		/* 1 l, 2 ll, 3 z */
	char c;

	if (!parse_spec(f, &sp, ap))
		return false;
	if (**f == 'l')
		len = (*++*f == 'l') ? (++*f, 2) : 1;
	else if (**f == 'z')
		len = (++*f, 3);
	c = *(*f)++;
	switch (c) {
	case 'd':
	case 'i':
		d = len == 0 ? va_arg(*ap, int) : len == 1 ? va_arg(*ap, long) :
		    len == 2 ? va_arg(*ap, long long) : (long long)va_arg(*ap, size_t);
		/* The magnitude, INT_MIN and LLONG_MIN included. */
		u = d < 0 ? 0ULL - (unsigned long long)d : (unsigned long long)d;
		put_int(o, &sp, u, d < 0, 10, false);
		return true;
	case 'u':
	case 'x':
	case 'X':
		u = len == 0 ? va_arg(*ap, unsigned) :
		    len == 1 ? va_arg(*ap, unsigned long) :
		    len == 2 ? va_arg(*ap, unsigned long long) : va_arg(*ap, size_t);
		put_int(o, &sp, u, false, c == 'u' ? 10 : 16, c == 'X');
		return true;
	case 's':
		if (len != 0)
			return false;
		put_str(o, &sp, va_arg(*ap, const char *));
		return true;
	case 'c':
		if (len != 0)
			return false;
		c = (char)va_arg(*ap, int);
		put_field(o, &sp, &c, 1);
		return true;
	case '%':
		put(o, '%');
		return len == 0;
	default:
		return false;
	}
}

int
vfmt(char *buf, size_t size, const char *format, va_list ap)
{
	struct out o = { .buf = buf, .size = size };
	const char *f = format;
	va_list aq;

	va_copy(aq, ap);
	while (*f != '\0') {
		if (*f != '%') {
			put(&o, *f++);
			continue;
		}
		f++;
		if (!convert(&o, &f, &aq)) {
			put_n(&o, "%?", 2);	/* visible, and no guessing on */
			break;
		}
	}
	va_end(aq);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > 0x7fffffff ? 0x7fffffff : (int)o.len;
}

int
fmt(char *buf, size_t size, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = vfmt(buf, size, format, ap);
	va_end(ap);
	return n;
}

int
fmt_write(int fd, const char *format, ...)
{
	char buf[8192];		/* a log line of 4 KiB and its prefix */
	va_list ap;
	int n;

	va_start(ap, format);
	n = vfmt(buf, sizeof(buf), format, ap);
	va_end(ap);
	if ((size_t)n >= sizeof(buf)) {	/* what fits, and say so */
		(void)!write(fd, buf, sizeof(buf) - 1);
		return -1;
	}
	return write(fd, buf, (size_t)n) == n ? 0 : -1;
}
