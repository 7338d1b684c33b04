/* pathlist: the "; "-separated list of field paths that messages name
 * ("status.conditions; status.a.b"), built into a caller's buffer and cut
 * with "..." when it is full, while still counting every path. */
#ifndef COXSWAIN_PATHLIST_H
#define COXSWAIN_PATHLIST_H

#include <stddef.h>

struct pathlist {
	char *buf;   /* borrowed; may be NULL (count only) */
	size_t len;  /* its size */
	size_t used; /* bytes written, without the NUL */
	size_t n;    /* paths added, shown or not */
};

/* An empty list writing into buf (len bytes; buf may be NULL). */
void pathlist_init(struct pathlist *l, char *buf, size_t len);

/* Appends path, or "..." once the buffer is full; counts it either way. */
void pathlist_add(struct pathlist *l, const char *path);

#endif
