/* The AST of the user's file as a tree of nodes with byte offsets: libclang
 * gives cursors and source ranges; the passes want parents, children and
 * "is this text the node's own" (not a macro body's tokens). Only the
 * user's file is walked: function definitions, tables, macro expansions. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *rw_spelling(struct rw *rw, CXCursor c)
{
	return visor_clang_string(rw->lc, rw->lc->clang_getCursorSpelling(c));
}

CXType rw_type(struct rw *rw, struct rw_node *n)
{
	return rw->lc->clang_getCanonicalType(rw->lc->clang_getCursorType(n->cur));
}

bool rw_is_main_file(struct rw *rw, CXSourceLocation loc, unsigned *offset)
{
	CXFile file = NULL;
	unsigned off = 0;
	rw->lc->clang_getFileLocation(loc, &file, NULL, NULL, &off);
	if (offset)
		*offset = off;
	return file && rw->main_file && rw->lc->clang_File_isEqual(file, rw->main_file);
}

/* A location is in a macro's body when its file location is a macro
 * expansion's own start (or end): libclang maps body tokens there, while a
 * macro argument's tokens keep their own place in the text. */
static bool in_sorted(const unsigned *v, size_t n, unsigned x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

struct build {
	struct rw *rw;
	struct rw_node *parent, *last;
	struct rw_func *func;
	unsigned *mstarts, *mends;
	size_t nm;
};

static bool loc_offsets(struct build *b, CXSourceLocation loc, unsigned *off, bool is_end)
{
	struct rw *rw = b->rw;
	unsigned eoff = 0;
	CXFile efile = NULL;
	if (!rw_is_main_file(rw, loc, off))
		return false;
	rw->lc->clang_getExpansionLocation(loc, &efile, NULL, NULL, &eoff);
	if (eoff == *off && in_sorted(is_end ? b->mends : b->mstarts, b->nm, *off))
		return false;
	return true;
}

/* Does the text at [start, end) look like the node? Macros defined in a
 * PCH made without a detailed preprocessing record leave no trace of their
 * expansions, and their body's nodes then span the macro's invocation: the
 * text ends with the invocation's ')' instead of the member's name. */
static bool text_matches(struct rw *rw, struct rw_node *n)
{
	const char *t = rw->text;
	unsigned e = n->end;
	switch (n->kind) {
	case CXCursor_MemberRefExpr:
	case CXCursor_DeclRefExpr: {
		char *name = rw_spelling(rw, n->cur);
		size_t l = name ? strlen(name) : 0;
		bool ok = name && l && e >= n->start + l && !memcmp(t + e - l, name, l);
		free(name);
		return ok;
	}
	case CXCursor_ArraySubscriptExpr:
		return e > n->start && t[e - 1] == ']';
	case CXCursor_CallExpr:
		return e > n->start && t[e - 1] == ')';
	case CXCursor_UnaryOperator:
		return rw->lc->clang_getCursorUnaryOperatorKind(n->cur) != CXUnaryOperator_Deref ||
		       (n->start < e && t[n->start] == '*');
	default:
		return true;
	}
}

/* `sk->sk_dport`: a member named by an object-like macro (the kernel's
 * struct sock names, #define sk_dport __sk_common.skc_dport) that the user
 * wrote right after -> or '.': the expression is still the user's text
 * from start to end, and can be wrapped as a whole. */
static bool member_by_macro(struct rw *rw, unsigned start, unsigned end)
{
	const char *t = rw->text;
	for (size_t i = 0; i < rw->nmacros; i++) {
		const struct rw_macro *m = &rw->macros[i];
		if (m->end != end || m->start <= start || end > rw->len)
			continue;
		for (unsigned k = m->start; k < m->end; k++)
			if (!((t[k] >= 'a' && t[k] <= 'z') || (t[k] >= 'A' && t[k] <= 'Z') ||
			      (t[k] >= '0' && t[k] <= '9') || t[k] == '_'))
				return false; /* a function-like macro's arguments */
		unsigned k = m->start;
		while (k > start && (t[k - 1] == ' ' || t[k - 1] == '\t'))
			k--;
		return (k > start && t[k - 1] == '.') ||
		       (k > start + 1 && t[k - 1] == '>' && t[k - 2] == '-');
	}
	return false;
}

static struct rw_node *node_new(struct build *b, CXCursor c)
{
	struct rw *rw = b->rw;
	struct rw_node *n = calloc(1, sizeof(*n));
	if (!n) {
		rw->oom = true;
		return NULL;
	}
	if (rw->nnodes == rw->nodes_cap) {
		size_t cap = rw->nodes_cap ? 2 * rw->nodes_cap : 1024;
		struct rw_node **v = realloc(rw->nodes, cap * sizeof(*v));
		if (!v) {
			free(n);
			rw->oom = true;
			return NULL;
		}
		rw->nodes = v;
		rw->nodes_cap = cap;
	}
	rw->nodes[rw->nnodes++] = n;
	n->cur = c;
	n->kind = rw->lc->clang_getCursorKind(c);
	n->func = b->func;
	n->parent = b->parent;
	n->depth = b->parent ? b->parent->depth + 1 : 0;
	CXSourceRange r = rw->lc->clang_getCursorExtent(c);
	bool s_ok = loc_offsets(b, rw->lc->clang_getRangeStart(r), &n->start, false);
	bool e_ok = loc_offsets(b, rw->lc->clang_getRangeEnd(r), &n->end, true);
	n->editable = s_ok && e_ok && n->start <= n->end && n->end <= rw->len &&
		      text_matches(rw, n);
	if (!n->editable && s_ok && n->kind == CXCursor_MemberRefExpr)
		n->editable = n->member_macro = member_by_macro(rw, n->start, n->end);
	if (b->parent) {
		if (b->last)
			b->last->next = n;
		else
			b->parent->child = n;
		b->parent->nchild++;
	}
	b->last = n;
	return n;
}

static enum CXChildVisitResult visit_tree(CXCursor c, CXCursor parent, CXClientData data)
{
	struct build *b = data;
	struct rw_node *n = node_new(b, c);
	if (!n)
		return CXChildVisit_Break;
	struct build sub = *b;
	sub.parent = n;
	sub.last = NULL;
	b->rw->lc->clang_visitChildren(c, visit_tree, &sub);
	return CXChildVisit_Continue;
}

static enum CXChildVisitResult visit_macros(CXCursor c, CXCursor parent, CXClientData data)
{
	struct rw *rw = data;
	if (rw->lc->clang_getCursorKind(c) != CXCursor_MacroExpansion)
		return CXChildVisit_Continue;
	CXSourceRange r = rw->lc->clang_getCursorExtent(c);
	unsigned s, e;
	if (!rw_is_main_file(rw, rw->lc->clang_getRangeStart(r), &s) ||
	    !rw_is_main_file(rw, rw->lc->clang_getRangeEnd(r), &e))
		return CXChildVisit_Continue;
	struct rw_macro *v = realloc(rw->macros, (rw->nmacros + 1) * sizeof(*v));
	if (!v) {
		rw->oom = true;
		return CXChildVisit_Break;
	}
	rw->macros = v;
	v[rw->nmacros].start = s;
	v[rw->nmacros].end = e;
	v[rw->nmacros].name = rw_spelling(rw, c);
	rw->nmacros++;
	return CXChildVisit_Continue;
}

static struct rw_func *func_new(struct rw *rw, CXCursor c)
{
	struct rw_func *f = calloc(1, sizeof(*f));
	struct rw_func **v = realloc(rw->funcs, (rw->nfuncs + 1) * sizeof(*v));
	if (!f || !v) {
		free(f);
		if (v)
			rw->funcs = v;
		rw->oom = true;
		return NULL;
	}
	rw->funcs = v;
	rw->funcs[rw->nfuncs++] = f;
	f->name = rw_spelling(rw, c);
	f->is_static = rw->lc->clang_Cursor_getStorageClass(c) == CX_SC_Static;
	return f;
}

struct find_lit {
	struct rw *rw;
	CXCursor *lit;
	bool *found;
};

static enum CXChildVisitResult find_string_literal(CXCursor c, CXCursor parent, CXClientData data)
{
	struct find_lit *f = data;
	if (f->rw->lc->clang_getCursorKind(c) == CXCursor_StringLiteral) {
		*f->lit = c;
		*f->found = true;
		return CXChildVisit_Break;
	}
	return CXChildVisit_Recurse;
}

static void table_note(struct rw *rw, CXCursor c)
{
	char *name = rw_spelling(rw, c);
	char *type = visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(
							rw->lc->clang_getCursorType(c)));
	if (!name || !type)
		goto out;
	const char *table = NULL;
	if (!strncmp(type, "struct __visor_table_", 21))
		table = name;
	else if (!strncmp(name, "__visor_kind_", 13))
		table = name + 13;
	if (!table)
		goto out;
	struct rw_table *t = (struct rw_table *)rw_table_find(rw, table);
	if (!t) {
		struct rw_table *v = realloc(rw->tables, (rw->ntables + 1) * sizeof(*v));
		if (!v) {
			rw->oom = true;
			goto out;
		}
		rw->tables = v;
		t = &v[rw->ntables++];
		t->name = strdup(table);
		t->kind = NULL;
	}
	if (table != name) {
		/* static const char __visor_kind_t[] = "hash": the literal's spelling */
		CXCursor lit = c;
		bool found = false;
		rw->lc->clang_visitChildren(c, find_string_literal, &(struct find_lit){rw, &lit, &found});
		if (found) {
			char *s = rw_spelling(rw, lit);
			size_t n = s ? strlen(s) : 0;
			if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
				free(t->kind);
				t->kind = strndup(s + 1, n - 2);
			}
			free(s);
		}
	}
out:
	free(name);
	free(type);
}

const struct rw_table *rw_table_find(struct rw *rw, const char *name)
{
	for (size_t i = 0; i < rw->ntables; i++)
		if (!strcmp(rw->tables[i].name, name))
			return &rw->tables[i];
	return NULL;
}

static enum CXChildVisitResult visit_top(CXCursor c, CXCursor parent, CXClientData data)
{
	struct build *b = data;
	struct rw *rw = b->rw;
	enum CXCursorKind kind = rw->lc->clang_getCursorKind(c);
	CXFile file = NULL;
	rw->lc->clang_getExpansionLocation(rw->lc->clang_getCursorLocation(c), &file, NULL, NULL,
					   NULL);
	if (!file || !rw->lc->clang_File_isEqual(file, rw->main_file))
		return CXChildVisit_Continue;
	if (kind == CXCursor_VarDecl)
		table_note(rw, c);
	if (kind != CXCursor_FunctionDecl || !rw->lc->clang_isCursorDefinition(c))
		return CXChildVisit_Continue;
	struct rw_func *f = func_new(rw, c);
	if (!f)
		return CXChildVisit_Break;
	struct build fb = *b;
	fb.func = f;
	fb.parent = NULL;
	fb.last = NULL;
	struct rw_node *n = node_new(&fb, c);
	if (!n)
		return CXChildVisit_Break;
	n->func = f;
	f->node = n;
	fb.parent = n;
	fb.last = NULL;
	rw->lc->clang_visitChildren(c, visit_tree, &fb);
	for (struct rw_node *k = n->child; k; k = k->next) {
		if (k->kind == CXCursor_ParmDecl && f->nparams < 16)
			f->params[f->nparams++] = k;
		else if (k->kind == CXCursor_CompoundStmt)
			f->body = k;
	}
	return rw->oom ? CXChildVisit_Break : CXChildVisit_Continue;
}

int rw_ast_build(struct rw *rw)
{
	CXCursor tu = rw->lc->clang_getTranslationUnitCursor(rw->tu);
	rw->lc->clang_visitChildren(tu, visit_macros, rw);
	struct build b = {.rw = rw, .nm = rw->nmacros};
	b.mstarts = malloc((rw->nmacros + 1) * sizeof(unsigned));
	b.mends = malloc((rw->nmacros + 1) * sizeof(unsigned));
	if (!b.mstarts || !b.mends) {
		free(b.mstarts);
		free(b.mends);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rw->nmacros; i++) {
		b.mstarts[i] = rw->macros[i].start;
		b.mends[i] = rw->macros[i].end;
	}
	qsort(b.mstarts, b.nm, sizeof(unsigned), cmp_unsigned);
	qsort(b.mends, b.nm, sizeof(unsigned), cmp_unsigned);
	rw->lc->clang_visitChildren(tu, visit_top, &b);
	free(b.mstarts);
	free(b.mends);
	return rw->oom ? -ENOMEM : 0;
}

void rw_ast_free(struct rw *rw)
{
	for (size_t i = 0; i < rw->nnodes; i++)
		free(rw->nodes[i]);
	free(rw->nodes);
	for (size_t i = 0; i < rw->nfuncs; i++) {
		struct rw_func *f = rw->funcs[i];
		free(f->name);
		free(f->section);
		for (size_t j = 0; j < f->ncallees; j++)
			free(f->callees[j]);
		free(f->callees);
		free(f);
	}
	free(rw->funcs);
	for (size_t i = 0; i < rw->nmacros; i++)
		free(rw->macros[i].name);
	free(rw->macros);
	for (size_t i = 0; i < rw->ntables; i++) {
		free(rw->tables[i].name);
		free(rw->tables[i].kind);
	}
	free(rw->tables);
}

static bool transparent(enum CXCursorKind k)
{
	return k == CXCursor_UnexposedExpr || k == CXCursor_ParenExpr;
}

struct rw_node *rw_strip(struct rw_node *n)
{
	while (n && transparent(n->kind) && n->nchild == 1)
		n = n->child;
	return n;
}

struct rw_node *rw_parent(struct rw_node *n, struct rw_node **via)
{
	struct rw_node *p = n ? n->parent : NULL;
	while (p && transparent(p->kind) && p->nchild == 1) {
		n = p;
		p = p->parent;
	}
	if (via)
		*via = n;
	return p;
}

struct rw_node *rw_child(struct rw_node *n, unsigned i)
{
	struct rw_node *c = n ? n->child : NULL;
	while (c && i--)
		c = c->next;
	return c;
}

struct find_annot {
	struct rw *rw;
	const char *what;
	bool found;
};

static enum CXChildVisitResult visit_annot(CXCursor c, CXCursor parent, CXClientData data)
{
	struct find_annot *f = data;
	if (f->rw->lc->clang_getCursorKind(c) == CXCursor_AnnotateAttr) {
		char *s = rw_spelling(f->rw, c);
		if (s && !strcmp(s, f->what))
			f->found = true;
		free(s);
	}
	return f->found ? CXChildVisit_Break : CXChildVisit_Continue;
}

bool rw_record_has_annotation(struct rw *rw, CXType record, const char *what)
{
	CXCursor decl = rw->lc->clang_getTypeDeclaration(record);
	if (rw->lc->clang_Cursor_isNull(decl))
		return false;
	struct find_annot f = {rw, what, false};
	rw->lc->clang_visitChildren(decl, visit_annot, &f);
	return f.found;
}

/* A kernel struct or union: declared outside the user's file and outside
 * visor's own headers (in vmlinux.h, made from the kernel's BTF). */
bool rw_record_is_kernel(struct rw *rw, CXType record)
{
	if (record.kind != CXType_Record)
		return false;
	CXCursor decl = rw->lc->clang_getTypeDeclaration(record);
	if (rw->lc->clang_Cursor_isNull(decl))
		return false;
	CXFile file = NULL;
	rw->lc->clang_getFileLocation(rw->lc->clang_getCursorLocation(decl), &file, NULL, NULL, NULL);
	if (!file || rw->lc->clang_File_isEqual(file, rw->main_file))
		return false;
	char *path = visor_clang_string(rw->lc, rw->lc->clang_getFileName(file));
	bool visor_own = path && strstr(path, "/bcc/");
	free(path);
	return !visor_own && !rw_record_has_annotation(rw, record, "visor_packet");
}

unsigned rw_skip_space(struct rw *rw, unsigned off)
{
	const char *t = rw->text;
	while (off < rw->len) {
		if (t[off] == ' ' || t[off] == '\t' || t[off] == '\n' || t[off] == '\r' ||
		    t[off] == '\f' || t[off] == '\v') {
			off++;
		} else if (t[off] == '/' && off + 1 < rw->len && t[off + 1] == '*') {
			const char *e = strstr(t + off + 2, "*/");
			off = e ? (unsigned)(e - t) + 2 : rw->len;
		} else if (t[off] == '/' && off + 1 < rw->len && t[off + 1] == '/') {
			while (off < rw->len && t[off] != '\n')
				off++;
		} else {
			break;
		}
	}
	return off;
}

static bool ident_char(char c, bool first)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

bool rw_next_identifier(struct rw *rw, unsigned *pos, unsigned to, unsigned *start)
{
	const char *t = rw->text;
	unsigned p = *pos;
	if (to > rw->len)
		to = (unsigned)rw->len;
	while (p < to) {
		char c = t[p];
		if (c == '/' && p + 1 < to && (t[p + 1] == '*' || t[p + 1] == '/')) {
			p = rw_skip_space(rw, p);
		} else if (c == '"' || c == '\'') {
			for (p++; p < to && t[p] != c && t[p] != '\n'; p++)
				if (t[p] == '\\')
					p++;
			p++;
		} else if (ident_char(c, true)) {
			unsigned s = p;
			while (p < to && ident_char(t[p], false))
				p++;
			/* a number's suffix (10ULL) is not an identifier */
			if (s > 0 && ident_char(t[s - 1], false) && !ident_char(t[s - 1], true))
				continue;
			*start = s;
			*pos = p;
			return true;
		} else {
			p++;
		}
	}
	*pos = p;
	return false;
}
