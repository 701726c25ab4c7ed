/* bpf_trace_printk("fmt", ...) and bpf_printk: the format must be a string
 * literal the kernel takes (printk_format.c); a bad one is an error that
 * points into the string. Phase 2 needs no edit: bcc/helpers.h's macro
 * turns the call into the helper with a static format and its size. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

/* Decodes the literal(s) in [from, to) of the text; pos[i] is the source
 * offset of decoded byte i. Returns the decoded length, or -1. */
static long decode_literal(struct rw *rw, unsigned from, unsigned to, char *out, unsigned *pos,
			   size_t cap)
{
	const char *t = rw->text;
	size_t n = 0;
	unsigned p = from;
	while ((p = rw_skip_space(rw, p)) < to) {
		if (t[p] != '"')
			return -1;
		p++;
		while (p < to && t[p] != '"') {
			unsigned at = p;
			int c = (unsigned char)t[p++];
			if (c == '\\' && p < to) {
				char e = t[p++];
				switch (e) {
				case 'n': c = '\n'; break;
				case 't': c = '\t'; break;
				case 'r': c = '\r'; break;
				case 'a': c = '\a'; break;
				case 'b': c = '\b'; break;
				case 'f': c = '\f'; break;
				case 'v': c = '\v'; break;
				case 'x':
					c = 0;
					while (p < to && visor_hex_digit(t[p]) >= 0)
						c = c * 16 + visor_hex_digit(t[p++]);
					break;
				default:
					if (e >= '0' && e <= '7') {
						c = e - '0';
						for (int k = 0; k < 2 && p < to && t[p] >= '0' && t[p] <= '7'; k++)
							c = c * 8 + (t[p++] - '0');
					} else {
						c = e; /* \\ \" \' \? */
					}
				}
			}
			if (n + 1 >= cap)
				return -1;
			out[n] = (char)c;
			pos[n++] = at;
		}
		if (p >= to)
			return -1;
		p++; /* the closing quote */
	}
	out[n] = 0;
	pos[n] = to ? to - 1 : 0;
	return (long)n;
}

static void check_call(struct rw *rw, struct rw_node *call)
{
	int nargs = rw->lc->clang_Cursor_getNumArguments(call->cur);
	struct rw_node *fmt = rw_strip(rw_child(call, 1));
	unsigned call_off = 0;
	rw_is_main_file(rw, rw->lc->clang_getCursorLocation(call->cur), &call_off);
	if (nargs < 1 || !fmt) {
		rw_error(rw, call_off, "bpf_trace_printk needs a format string");
		return;
	}
	if (fmt->kind != CXCursor_StringLiteral) {
		rw_error(rw, fmt->editable ? fmt->start : call_off,
			 "bpf_trace_printk: the format must be a string literal");
		return;
	}
	if (!fmt->editable)
		return; /* a literal from a macro: the kernel will judge it */
	size_t cap = fmt->end - fmt->start + 2;
	char *buf = malloc(cap);
	unsigned *pos = malloc(cap * sizeof(unsigned));
	if (!buf || !pos) {
		rw->oom = true;
		goto out;
	}
	long n = decode_literal(rw, fmt->start, fmt->end, buf, pos, cap);
	if (n < 0)
		goto out;
	char msg[256];
	size_t at = 0;
	if (fe_printk_check(buf, (size_t)n, nargs - 1, msg, sizeof(msg), &at))
		rw_error(rw, at <= (size_t)n ? pos[at] : fmt->start, "%s", msg);
out:
	free(buf);
	free(pos);
}

void rw_printk(struct rw *rw)
{
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		if (n->kind != CXCursor_CallExpr)
			continue;
		char *name = rw_spelling(rw, n->cur);
		if (name && !strcmp(name, "__visor_trace_printk"))
			check_call(rw, n);
		free(name);
	}
}
