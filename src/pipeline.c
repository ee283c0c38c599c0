/*
 * pipeline.c - the queue of commands sent upstream ahead of their replies
 * (RFC 2920).
 */
#include "pipeline.h"

#include <string.h>

void
pipeline_init(struct pipeline *pl)
{
	pl->n = 0;
}

bool
pipeline_push(struct pipeline *pl, enum pending_kind kind, unsigned flags,
    const char *addr, size_t len)
{
	struct pending *p = &pl->q[pl->n++];

	p->kind = kind;
	p->flags = flags;
	p->len = len < sizeof(p->addr) ? len : sizeof(p->addr) - 1;
	memcpy(p->addr, addr, p->len);
	p->addr[p->len] = '\0';
	return pl->n == PIPELINE_MAX;
}

unsigned
pipeline_owed(const struct pipeline *pl)
{
	return pl->n;
}

bool
pipeline_has(const struct pipeline *pl, enum pending_kind kind)
{
	unsigned i;

	for (i = 0; i < pl->n; i++)
		if (pl->q[i].kind == kind)
			return true;
	return false;
}

bool
pipeline_has_flag(const struct pipeline *pl, unsigned flag)
{
	unsigned i;

	for (i = 0; i < pl->n; i++)
		if (pl->q[i].flags & flag)
			return true;
	return false;
}

void
pipeline_owed_rcpts(const struct pipeline *pl, unsigned *n, size_t *bytes)
{
	unsigned i;

	*n = 0;
	*bytes = 0;
	for (i = 0; i < pl->n; i++)
		if (pl->q[i].kind == PEND_RCPT) {
			(*n)++;
			*bytes += pl->q[i].len + 1;
		}
}

void
pipeline_drain(struct pipeline *pl, pipeline_complete_fn complete, void *arg)
{
	unsigned i, n = pl->n;

	/* Nothing is queued while the replies are read: the entries stay
	 * where they are until the next push. */
	pl->n = 0;
	for (i = 0; i < n; i++)
		complete(arg, &pl->q[i]);
}
