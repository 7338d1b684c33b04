#include "config.h"

#include "pathlist.h"

#include <stdio.h>
#include <string.h>

void pathlist_init(struct pathlist *l, char *buf, size_t len)
{
	*l = (struct pathlist){ .buf = buf, .len = buf ? len : 0 };
	if (l->len)
		buf[0] = '\0';
}

void pathlist_add(struct pathlist *l, const char *path)
{
	l->n++;
	if (l->len < 4 || l->used + 4 >= l->len)
		return;
	int k = snprintf(l->buf + l->used, l->len - l->used, "%s%s", l->n > 1 ? "; " : "", path);
	if (k < 0 || (size_t)k >= l->len - l->used) {
		memcpy(l->buf + l->len - 4, "...", 4);
		l->used = l->len;
	} else {
		l->used += (size_t)k;
	}
}
