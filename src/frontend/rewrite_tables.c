/* Tables: BPF_TABLE("kind", ...) takes its kind as a string, as BCC's; for
 * clang-19 (phase 2) the string becomes the identifier bcc/helpers.h pastes
 * into its map definition. Method calls `t.m(args)` become
 * `__visor_m(&t, args)`; a method the table's kind lacks is an error at
 * the method's name. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdlib.h>
#include <string.h>

#define HASH_METHODS                                                                        \
	"lookup, lookup_or_try_init, update, insert, delete, increment, atomic_increment"

static const struct {
	const char *kind, *methods;
} kinds[] = {
	{"hash", HASH_METHODS},
	{"lru_hash", HASH_METHODS},
	{"percpu_hash", HASH_METHODS},
	{"lru_percpu_hash", HASH_METHODS},
	{"histogram", HASH_METHODS},
	{"array", "lookup, lookup_or_try_init, update, increment, atomic_increment"},
	{"percpu_array", "lookup, lookup_or_try_init, update, increment, atomic_increment"},
	{"lpm_trie", "lookup, lookup_or_try_init, update, insert, delete"},
	{"perf_output", "perf_submit, perf_submit_skb"},
	{"devmap", "redirect_map"},
	{"cpumap", "redirect_map"},
	{"xskmap", "redirect_map"},
	{"ringbuf", "ringbuf_output, ringbuf_reserve, ringbuf_submit, ringbuf_discard"},
	{"stacktrace", "get_stackid, lookup"},
	{"prog", "call"},
	{"queue", "push, pop, peek"},
	{"stack", "push, pop, peek"},
};

/* How each method is called, for messages about its arguments. */
static const struct rw_method_sig sigs[] = {
	{"lookup", "(&key)", 1, 1, "key"},
	{"lookup_or_try_init", "(&key, &zero)", 2, 2, "key value"},
	{"lookup_or_init", "(&key, &zero)", 2, 2, "key value"},
	{"update", "(&key, &value)", 2, 2, "key value"},
	{"insert", "(&key, &value)", 2, 2, "key value"},
	{"delete", "(&key)", 1, 1, "key"},
	{"increment", "(key[, n])", 1, 2, ""},
	{"atomic_increment", "(key[, n])", 1, 2, ""},
	{"perf_submit", "(ctx, data, size)", 3, 3, ""},
	{"perf_submit_skb", "(skb, skb_len, data, size)", 4, 4, ""},
	{"redirect_map", "(index, flags)", 2, 2, ""},
	{"ringbuf_output", "(data, size, flags)", 3, 3, ""},
	{"ringbuf_reserve", "(size)", 1, 1, ""},
	{"ringbuf_submit", "(data, flags)", 2, 2, ""},
	{"ringbuf_discard", "(data, flags)", 2, 2, ""},
	{"get_stackid", "(ctx, flags)", 2, 2, ""},
	{"call", "(ctx, index)", 2, 2, ""},
	{"push", "(&value, flags)", 2, 2, "value"},
	{"pop", "(&value)", 1, 1, "value"},
	{"peek", "(&value)", 1, 1, "value"},
};

const struct rw_method_sig *rw_table_method_sig(const char *method)
{
	for (size_t i = 0; method && i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(sigs[i].method, method))
			return &sigs[i];
	return NULL;
}

const char *rw_table_methods(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].kind, kind))
			return kinds[i].methods;
	return NULL;
}

static bool method_allowed(const char *methods, const char *m)
{
	size_t n = strlen(m);
	for (const char *p = methods; (p = strstr(p, m)); p += n)
		if ((p == methods || p[-1] == ' ') && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

/* BPF_TABLE("hash", ...) -> BPF_TABLE(hash, ...) for phase 2. */
static void table_kind_strings(struct rw *rw)
{
	unsigned pos = 0, s;
	while (rw_next_identifier(rw, &pos, (unsigned)rw->len, &s)) {
		const char *name = pos - s == 9 && !memcmp(rw->text + s, "BPF_TABLE", 9) ? "BPF_TABLE"
				   : pos - s == 11 && !memcmp(rw->text + s, "BPF_F_TABLE", 11)
					   ? "BPF_F_TABLE"
					   : NULL;
		if (!name)
			continue;
		unsigned p = rw_skip_space(rw, pos);
		if (p >= rw->len || rw->text[p] != '(')
			continue;
		p = rw_skip_space(rw, p + 1);
		if (p >= rw->len || rw->text[p] != '"') {
			rw_error(rw, p, "%s: the table type must be a string such as \"hash\"", name);
			continue;
		}
		const char *q = memchr(rw->text + p + 1, '"', rw->len - p - 1);
		if (!q || memchr(rw->text + p, '\n', (size_t)(q - rw->text) - p)) {
			rw_error(rw, p, "%s: unterminated table type", name);
			continue;
		}
		char *kind = strndup(rw->text + p + 1, (size_t)(q - rw->text) - p - 1);
		if (kind && !rw_table_methods(kind)) {
			char list[512] = "";
			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				if (!strcmp(kinds[k].kind, "histogram"))
					continue;
				strncat(list, k ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, kinds[k].kind, sizeof(list) - strlen(list) - 1);
			}
			rw_error(rw, p, "unknown table type \"%s\"; types: %s", kind, list);
		} else if (kind) {
			rw_replace(rw, p, (size_t)(q - rw->text) - p + 1, "%s", kind);
		}
		free(kind);
	}
}

/* The table a call's callee names: `t.m` with t a table variable. */
static const struct rw_table *callee_table(struct rw *rw, struct rw_node *call,
					   struct rw_node **member)
{
	struct rw_node *callee = rw_strip(call->child);
	if (!callee || callee->kind != CXCursor_MemberRefExpr)
		return NULL;
	struct rw_node *base = rw_strip(callee->child);
	if (!base || base->kind != CXCursor_DeclRefExpr)
		return NULL;
	CXType t = rw_type(rw, base);
	char *ts = visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(t));
	bool is_table = ts && !strncmp(ts, "struct __visor_table_", 21);
	free(ts);
	if (!is_table)
		return NULL;
	char *name = rw_spelling(rw, base->cur);
	const struct rw_table *tab = name ? rw_table_find(rw, name) : NULL;
	free(name);
	*member = callee;
	return tab;
}

/* `t.m(` spelt in the body of the user's own #define (BCC tools keep such
 * macros: #define STORE(k) dist.increment(k)): the body's text is
 * rewritten once, whatever the number of expansions (t may be a macro
 * parameter: `__visor_m(&t, ` works for any table the argument names). */
static bool rewrite_in_macro_body(struct rw *rw, struct rw_node *member, const char *method,
				  int nargs)
{
	CXFile file = NULL;
	unsigned off = 0;
	rw->lc->clang_getSpellingLocation(rw->lc->clang_getCursorLocation(member->cur), &file, NULL,
					   NULL, &off);
	if (!file || !rw->lc->clang_File_isEqual(file, rw->main_file))
		return false;
	const char *t = rw->text;
	size_t n = strlen(method);
	if (off + n > rw->len || memcmp(t + off, method, n))
		return false;
	unsigned lp = rw_skip_space(rw, off + (unsigned)n), dot = off;
	while (dot > 0 && (t[dot - 1] == ' ' || t[dot - 1] == '\t'))
		dot--;
	if (lp >= rw->len || t[lp] != '(' || !dot || t[dot - 1] != '.')
		return false;
	unsigned ne = dot - 1, ns;
	while (ne > 0 && (t[ne - 1] == ' ' || t[ne - 1] == '\t'))
		ne--;
	for (ns = ne; ns > 0; ns--) {
		char c = t[ns - 1];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			break;
	}
	if (ns == ne)
		return false;
	/* the body is the same text at each expansion: one edit */
	for (size_t i = 0; i < rw->nedits; i++)
		if (rw->edits[i].off == ns && rw->edits[i].del == lp + 1 - ns)
			return true;
	rw_replace(rw, ns, lp + 1 - ns, "__visor_%s(&%.*s%s", method, (int)(ne - ns), t + ns,
		   nargs > 0 ? ", " : "");
	return true;
}

void rw_tables(struct rw *rw)
{
	table_kind_strings(rw);
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *call = rw->nodes[i], *member = NULL;
		if (call->kind != CXCursor_CallExpr)
			continue;
		const struct rw_table *tab = callee_table(rw, call, &member);
		if (!tab)
			continue;
		char *method = rw_spelling(rw, member->cur);
		unsigned name_off = 0;
		rw_is_main_file(rw, rw->lc->clang_getCursorLocation(member->cur), &name_off);
		const char *methods = rw_table_methods(tab->kind);
		if (method && !strcmp(method, "lookup_or_init")) {
			/* BCC's older name, kept for old tools */
			free(method);
			method = strdup("lookup_or_try_init");
		}
		if (!method) {
			rw->oom = true;
		} else if (!methods || !method_allowed(methods, method)) {
			rw_error(rw, name_off, "table '%s' (%s) has no method '%s'; its methods: %s",
				 tab->name, tab->kind ? tab->kind : "?", method, methods ? methods : "none");
		} else if (!member->editable || !call->editable) {
			if (!rewrite_in_macro_body(rw, member, method,
						   rw->lc->clang_Cursor_getNumArguments(call->cur)))
				rw_error(rw, name_off,
					 "table method '%s' inside a macro defined outside this file: "
					 "call it in the code",
					 method);
		} else {
			/* replace `t.m(` and keep the arguments' text */
			unsigned lp = rw_skip_space(rw, member->end);
			int nargs = rw->lc->clang_Cursor_getNumArguments(call->cur);
			const struct rw_method_sig *sig = rw_table_method_sig(method);
			if (sig && nargs > sig->max_args)
				/* increment's member is variadic: clang takes any count */
				rw_error(rw, name_off, "%s.%s%s takes at most %d arguments, not %d",
					 tab->name, method, sig->args, sig->max_args, nargs);
			else if (lp >= rw->len || rw->text[lp] != '(')
				rw_error(rw, name_off, "table method '%s': expected '('", method);
			else
				rw_replace(rw, member->start, lp + 1 - member->start, "__visor_%s(&%s%s",
					   method, tab->name, nargs > 0 ? ", " : "");
		}
		free(method);
	}
}
