/* The edit list: (offset, bytes deleted, text inserted). Edits are applied
 * in offset order; several at one offset keep a defined order (`order`,
 * then the order they were made), so an outer construct's opening comes
 * before an inner one's. No edit changes the number of newlines: the
 * rewritten text keeps the user's line numbers. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void edit_add(struct rw *rw, size_t off, size_t del, int order, char *text)
{
	if (!text) {
		rw->oom = true;
		return;
	}
	if (rw->nedits == rw->edits_cap) {
		size_t cap = rw->edits_cap ? 2 * rw->edits_cap : 64;
		struct rw_edit *v = realloc(rw->edits, cap * sizeof(*v));
		if (!v) {
			free(text);
			rw->oom = true;
			return;
		}
		rw->edits = v;
		rw->edits_cap = cap;
	}
	rw->edits[rw->nedits++] = (struct rw_edit){off, del, text, order, rw->edit_seq++};
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void rw_insert(struct rw *rw, size_t off, int order, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	/* an insert never brings its own newline */
	for (char *p = s; p && *p; p++)
		if (*p == '\n')
			*p = ' ';
	edit_add(rw, off, 0, order, s);
}

void rw_replace(struct rw *rw, size_t off, size_t del, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	if (!s) {
		rw->oom = true;
		return;
	}
	for (char *p = s; *p; p++)
		if (*p == '\n')
			*p = ' ';
	/* the newlines of the deleted text stay, after the replacement */
	size_t nl = 0;
	for (size_t i = off; i < off + del && i < rw->len; i++)
		nl += rw->text[i] == '\n';
	if (nl) {
		size_t n = strlen(s);
		char *t = realloc(s, n + nl + 1);
		if (!t) {
			free(s);
			rw->oom = true;
			return;
		}
		memset(t + n, '\n', nl);
		t[n + nl] = 0;
		s = t;
	}
	edit_add(rw, off, del, 0, s);
}

void rw_blank(struct rw *rw, size_t off, size_t del)
{
	char *s = malloc(del + 1);
	if (!s) {
		rw->oom = true;
		return;
	}
	for (size_t i = 0; i < del; i++)
		s[i] = off + i < rw->len && rw->text[off + i] == '\n' ? '\n' : ' ';
	s[del] = 0;
	edit_add(rw, off, del, 0, s);
}

static int edit_cmp(const void *a, const void *b)
{
	const struct rw_edit *x = a, *y = b;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int rw_edits_apply(struct rw *rw, char **out, size_t *out_len)
{
	if (rw->nedits)
		qsort(rw->edits, rw->nedits, sizeof(*rw->edits), edit_cmp);
	size_t cap = rw->len + 1;
	for (size_t i = 0; i < rw->nedits; i++)
		cap += strlen(rw->edits[i].text);
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t pos = 0, n = 0;
	for (size_t i = 0; i < rw->nedits; i++) {
		const struct rw_edit *e = &rw->edits[i];
		if (e->off < pos || e->off + e->del > rw->len) {
			/* overlapping edits: a bug in a pass, never silently wrong text */
			free(buf);
			return -EINVAL;
		}
		memcpy(buf + n, rw->text + pos, e->off - pos);
		n += e->off - pos;
		size_t tl = strlen(e->text);
		memcpy(buf + n, e->text, tl);
		n += tl;
		pos = e->off + e->del;
	}
	memcpy(buf + n, rw->text + pos, rw->len - pos);
	n += rw->len - pos;
	buf[n] = 0;
	*out = buf;
	*out_len = n;
	return 0;
}

void rw_edits_free(struct rw *rw)
{
	for (size_t i = 0; i < rw->nedits; i++)
		free(rw->edits[i].text);
	free(rw->edits);
	rw->edits = NULL;
	rw->nedits = rw->edits_cap = 0;
}
