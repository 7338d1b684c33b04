#include "config.h"

#include "jqcompile.h"
#include "subprocess.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct messages {
	char *text;
	size_t cap, len;
};

/* libjq's error callback: msg is ours to free. */
static void collect(void *data, jv msg)
{
	struct messages *m = data;
	if (jv_get_kind(msg) != JV_KIND_STRING)
		msg = jv_dump_string(msg, 0);
	const char *t = jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "?";
	int count;
	if (!strncmp(t, "jq: error: ", 11))
		t += 11;
	else if (sscanf(t, "jq: %d compile error", &count) == 1)
		t = NULL; /* the closing count says nothing the messages do not */
	if (t && m->len + 1 < m->cap) {
		int n = snprintf(m->text + m->len, m->cap - m->len, "%s%s", m->len ? "; " : "", t);
		if (n > 0)
			m->len = m->len + (size_t)n < m->cap ? m->len + (size_t)n : m->cap - 1;
	}
	jv_free(msg);
}

bool jqcompile(jq_state *jq, const char *program, char *why, size_t cap)
{
	char text[512] = "";
	struct messages m = { .text = text, .cap = sizeof(text) };
	jq_set_error_cb(jq, collect, &m);
	int ok = jq_compile(jq, program);
	/* Runtime errors come later, from jq_next: nothing may reach this
	 * stack buffer after we return. */
	jq_set_error_cb(jq, NULL, NULL);
	if (why && cap) {
		if (ok)
			why[0] = '\0';
		else if (m.len)
			subprocess_one_line(text, m.len, why, cap);
		else
			snprintf(why, cap, "no message from jq");
	}
	return ok != 0;
}
