/* Kernel memory in tracing programs, as BCC reads it:
 *  - implicit probe reads: `prev->pid`, `task->real_parent->tgid` read
 *    kernel memory, which a kprobe may not dereference; each such read
 *    becomes __visor_probe(expr) (bpf_probe_read_kernel of a CO-RE address),
 *    nested along a pointer chain;
 *  - a kprobe function's extra parameters are the probed function's
 *    arguments: taken from the registers (or, for a syscall on a kernel
 *    without kprobes, from the syscalls/sys_enter_X tracepoint's record). */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdlib.h>
#include <string.h>

/* ---- kprobe arguments ------------------------------------------------------- */

/* PT_REGS_RC / PT_REGS_PARMn in a syscall kprobe that runs on the syscall
 * tracepoint: the record's fields instead of registers. */
static void rename_syscall_macros(struct rw *rw, struct rw_func *f)
{
	const char *t = rw->text;
	unsigned p = f->body->start, s;
	while (rw_next_identifier(rw, &p, f->body->end, &s)) {
		size_t n = p - s;
		if (f->prog == RW_PROG_KRETPROBE && n == 10 && !memcmp(t + s, "PT_REGS_RC", 10))
			rw_replace(rw, s, n, "__VISOR_SYSEXIT_RC");
		else if (f->prog == RW_PROG_KPROBE && n == 13 && !memcmp(t + s, "PT_REGS_PARM", 12) &&
			 t[s + 12] >= '1' && t[s + 12] <= '6')
			rw_replace(rw, s, n, "__VISOR_SYSENTER_PARM%c", t[s + 12]);
	}
}

/* `ctx->di` in a syscall kprobe that runs on the syscall tracepoint: the
 * record is not a pt_regs, the read would be silently wrong. */
static void registers_on_tracepoint(struct rw *rw, struct rw_func *f)
{
	if (!f->nparams)
		return;
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		if (n->func != f || n->kind != CXCursor_MemberRefExpr || !n->child || !n->editable)
			continue;
		struct rw_node *base = rw_strip(n->child);
		if (!base || base->kind != CXCursor_DeclRefExpr ||
		    !rw->lc->clang_equalCursors(rw->lc->clang_getCursorReferenced(base->cur),
						f->params[0]->cur))
			continue;
		const char *name = f->name + (f->prog == RW_PROG_KRETPROBE ? 11 : 8);
		if (!strncmp(f->name, "syscall__", 9))
			name = f->name + 9;
		else if (!strncmp(name, "sys_", 4))
			name += 4;
		bool ret = f->prog == RW_PROG_KRETPROBE;
		rw_error(rw, n->start,
			 "this kernel has no kprobes: '%s' runs on the syscalls/sys_%s_%s tracepoint, "
			 "whose record is not a struct pt_regs: %s",
			 f->name, ret ? "exit" : "enter", name,
			 ret ? "the return value is PT_REGS_RC(ctx)"
			     : "take the syscall's arguments as parameters after ctx, or "
			       "PT_REGS_PARM1(ctx) ...");
	}
}

/* Programs of other kinds get their context alone. */
static bool one_parameter(enum rw_prog p)
{
	return p == RW_PROG_TRACEPOINT || p == RW_PROG_RAW_TRACEPOINT || p == RW_PROG_PERF_EVENT ||
	       p == RW_PROG_SOCKET || p == RW_PROG_XDP;
}

void rw_kprobe_args(struct rw *rw)
{
	for (size_t i = 0; i < rw->nfuncs; i++) {
		struct rw_func *f = rw->funcs[i];
		if (one_parameter(f->prog) && f->nparams > 1 && f->node->editable) {
			rw_error(rw, f->params[1]->start,
				 "'%s' is a program: it takes one parameter, its context", f->name);
			continue;
		}
		if ((f->prog != RW_PROG_KPROBE && f->prog != RW_PROG_KRETPROBE) || !f->body)
			continue;
		if (f->syscall && rw->opts->kprobe_fallback) {
			rename_syscall_macros(rw, f);
			registers_on_tracepoint(rw, f);
		}
		if (f->nparams <= 1 || !f->node->editable || !f->body->editable)
			continue;
		struct rw_node *first = f->params[0], *last = f->params[f->nparams - 1];
		if (f->prog == RW_PROG_KRETPROBE) {
			rw_error(rw, f->params[1]->start,
				 "a kretprobe function takes only its context (struct pt_regs *ctx): "
				 "the probed function's arguments are gone when it returns");
			continue;
		}
		if (f->nparams - 1 > 6) {
			rw_error(rw, f->params[7]->start,
				 "a kprobe function takes at most 6 arguments after its context");
			continue;
		}
		char *ctx = rw_spelling(rw, first->cur);
		if (!ctx || !*ctx || !first->editable || !last->editable) {
			rw_error(rw, first->start, "the context parameter needs a name (ctx)");
			free(ctx);
			continue;
		}
		/* the parameters go (their newlines stay); locals take their place */
		rw_blank(rw, first->end, last->end - first->end);
		for (unsigned k = 1; k < f->nparams; k++) {
			struct rw_node *p = f->params[k];
			char *type = visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(
								rw->lc->clang_getCursorType(p->cur)));
			char value[128];
			if (f->syscall && rw->opts->kprobe_fallback)
				snprintf(value, sizeof(value), "__VISOR_SYSENTER_ARG(%s, %u)", ctx, k - 1);
			else if (f->syscall)
				snprintf(value, sizeof(value), "__VISOR_SYSWRAP_ARG%u(%s)", k, ctx);
			else
				snprintf(value, sizeof(value), "PT_REGS_PARM%u((struct pt_regs *)(%s))", k,
					 ctx);
			rw_insert(rw, f->body->start + 1, (int)k, " %.*s = (%s)%s;",
				  (int)(p->end - p->start), rw->text + p->start, type ? type : "long",
				  value);
			free(type);
		}
		free(ctx);
	}
}

/* ---- implicit probe reads ------------------------------------------------ */

static bool is_pointer(CXType t)
{
	return t.kind == CXType_Pointer;
}

static bool is_array(CXType t)
{
	return t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray ||
	       t.kind == CXType_VariableArray || t.kind == CXType_DependentSizedArray;
}

/* The context parameter itself. */
static bool is_ctx_param(struct rw *rw, struct rw_node *e)
{
	if (!e || e->kind != CXCursor_DeclRefExpr || !e->func || !e->func->nparams)
		return false;
	CXCursor ref = rw->lc->clang_getCursorReferenced(e->cur);
	if (!rw->lc->clang_equalCursors(ref, e->func->params[0]->cur))
		return false;
	if (e->func->prog != RW_PROG_NONE)
		return true;
	/* a function the program calls: its first parameter is the context
	 * only when it has a context's type */
	CXType t = rw_type(rw, e->func->params[0]);
	if (!is_pointer(t))
		return false;
	char *ts = visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(rw->lc->clang_getCanonicalType(
						  rw->lc->clang_getPointeeType(t))));
	static const char *const ctx_types[] = {"struct pt_regs", "struct bpf_raw_tracepoint_args",
						"struct bpf_perf_event_data", "struct tracepoint__",
						"struct trace_event_raw_"};
	bool ctx = false;
	for (size_t i = 0; ts && i < sizeof(ctx_types) / sizeof(ctx_types[0]); i++) {
		size_t n = strlen(ctx_types[i]);
		bool prefix = ctx_types[i][n - 1] == '_'; /* struct tracepoint__cat__event ... */
		ctx |= prefix ? !strncmp(ts, ctx_types[i], n) : !strcmp(ts, ctx_types[i]);
	}
	free(ts);
	return ctx;
}

/* A pointer into the context: the context parameter, a cast of it, or the
 * address of one of its fields (&ctx->regs). Read directly, never probed. */
static bool is_ctx_ref(struct rw *rw, struct rw_node *e)
{
	e = rw_strip(e);
	if (e && e->kind == CXCursor_CStyleCastExpr)
		return is_ctx_ref(rw, e->child ? rw_child(e, e->nchild - 1) : NULL);
	if (e && e->kind == CXCursor_UnaryOperator &&
	    rw->lc->clang_getCursorUnaryOperatorKind(e->cur) == CXUnaryOperator_AddrOf) {
		struct rw_node *m = rw_strip(e->child);
		while (m && (m->kind == CXCursor_MemberRefExpr || m->kind == CXCursor_ArraySubscriptExpr)) {
			struct rw_node *base = m->child;
			if (base && is_pointer(rw_type(rw, base)))
				return is_ctx_ref(rw, base);
			m = rw_strip(base);
		}
		return false;
	}
	return is_ctx_param(rw, e);
}

static bool kernel_pointer(struct rw *rw, struct rw_node *e)
{
	CXType t = rw_type(rw, e);
	return is_pointer(t) && rw_record_is_kernel(rw, rw->lc->clang_getCanonicalType(
								  rw->lc->clang_getPointeeType(t)));
}

/* Is n an lvalue in kernel memory (a read of it needs a probe read)? */
static bool kernel_lvalue(struct rw *rw, struct rw_node *n)
{
	struct rw_node *base = n->child;
	switch (n->kind) {
	case CXCursor_ParenExpr:
		return base && kernel_lvalue(rw, base);
	case CXCursor_MemberRefExpr:
		if (!base)
			return false;
		if (is_pointer(rw_type(rw, base)))
			return kernel_pointer(rw, base) && !is_ctx_ref(rw, base);
		return kernel_lvalue(rw, rw_strip(base));
	case CXCursor_UnaryOperator:
		return base && rw->lc->clang_getCursorUnaryOperatorKind(n->cur) == CXUnaryOperator_Deref &&
		       kernel_pointer(rw, base) && !is_ctx_ref(rw, base);
	case CXCursor_ArraySubscriptExpr: {
		struct rw_node *b = rw_strip(base);
		if (b && is_array(rw_type(rw, b)))
			return kernel_lvalue(rw, b);
		return base && kernel_pointer(rw, base) && !is_ctx_ref(rw, base);
	}
	default:
		return false;
	}
}

/* Inside sizeof, or a CO-RE read (clang takes no probe read, itself a
 * __builtin_preserve_access_index, nested in one): left alone. The
 * arguments of an explicit bpf_probe_read*() are not: in
 * `bpf_probe_read_kernel(&c, sizeof(c), task->real_parent->comm)` the
 * load of real_parent is the program's own and needs its probe read (the
 * array comm decays to the address the helper reads). */
static bool in_excluded(struct rw *rw, struct rw_node *n)
{
	for (struct rw_node *p = n->parent; p; p = p->parent) {
		if (p->kind == CXCursor_UnaryExpr)
			return true;
		if (p->kind == CXCursor_CallExpr) {
			char *name = rw_spelling(rw, p->cur);
			bool core_read = name && (!strncmp(name, "bpf_core_read", 13) ||
						  !strncmp(name, "__builtin_preserve", 18));
			free(name);
			if (core_read)
				return true;
		}
	}
	return false;
}

/* Is the value of n read (as opposed to its address taken, or the chain
 * going on with `.`, or n being written)? */
static bool value_is_read(struct rw *rw, struct rw_node *n)
{
	if (is_array(rw_type(rw, n)))
		return false; /* an array decays to its address: BCC keeps it */
	struct rw_node *via = NULL, *p = rw_parent(n, &via);
	if (!p)
		return true;
	switch (p->kind) {
	case CXCursor_MemberRefExpr:
		return !(p->child == via && !is_pointer(rw_type(rw, via)));
	case CXCursor_UnaryOperator:
		switch (rw->lc->clang_getCursorUnaryOperatorKind(p->cur)) {
		case CXUnaryOperator_AddrOf:
		case CXUnaryOperator_PreInc:
		case CXUnaryOperator_PreDec:
		case CXUnaryOperator_PostInc:
		case CXUnaryOperator_PostDec:
			return false;
		default:
			return true;
		}
	case CXCursor_BinaryOperator:
		return !(p->child == via &&
			 rw->lc->clang_getCursorBinaryOperatorKind(p->cur) == CXBinaryOperator_Assign);
	case CXCursor_CompoundAssignOperator:
		return p->child != via;
	default:
		return true;
	}
}

/* A bit-field has no address: libbpf's CO-RE bit-field read takes the
 * struct's address and the field's name. */
static void wrap_bitfield(struct rw *rw, struct rw_node *n, const char *field, bool arrow)
{
	struct rw_node *base = n->child;
	rw_insert(rw, n->start, (int)n->depth, "__visor_probe_bitfield(%s", arrow ? "" : "&(");
	rw_replace(rw, base->end, n->end - base->end, "%s, %s)", arrow ? "" : ")", field);
}

/* A bit-field named by a macro (sk->sk_reuse, #define sk_reuse
 * __sk_common.skc_reuse): the text has no struct to take the address of,
 * so the members between the pointer and the bit-field are spelt out from
 * the AST: __visor_probe_bitfield(&(sk->__sk_common), skc_reuse). */
static bool wrap_macro_bitfield(struct rw *rw, struct rw_node *n, const char *field)
{
	char path[256] = "";
	struct rw_node *p = NULL;
	if (is_pointer(rw_type(rw, n->child))) {
		p = n->child;
	} else {
		for (struct rw_node *m = rw_strip(n->child); m && m->kind == CXCursor_MemberRefExpr;
		     m = rw_strip(m->child)) {
			char *name = rw_spelling(rw, m->cur), tmp[256];
			if (!name)
				return false;
			snprintf(tmp, sizeof(tmp), "%s%s%s", name, path[0] ? "." : "", path);
			free(name);
			snprintf(path, sizeof(path), "%s", tmp);
			if (m->child && is_pointer(rw_type(rw, m->child))) {
				p = m->child;
				break;
			}
		}
	}
	if (!p || !p->editable || p->start != n->start || p->end > n->end)
		return false;
	if (!path[0]) {
		rw_insert(rw, n->start, (int)n->depth, "__visor_probe_bitfield(");
		rw_replace(rw, p->end, n->end - p->end, ", %s)", field);
	} else {
		rw_insert(rw, n->start, (int)n->depth, "__visor_probe_bitfield(&(");
		rw_replace(rw, p->end, n->end - p->end, "->%s), %s)", path, field);
	}
	return true;
}

/* The pointer a kernel lvalue is read through: `p` of p->a.b, p[i], *p. */
static struct rw_node *root_pointer(struct rw *rw, struct rw_node *n, bool *deref)
{
	*deref = false;
	while (n) {
		struct rw_node *base = n->child;
		switch (n->kind) {
		case CXCursor_ParenExpr:
			n = base;
			continue;
		case CXCursor_MemberRefExpr:
			if (base && is_pointer(rw_type(rw, base)))
				return base;
			n = rw_strip(base);
			continue;
		case CXCursor_ArraySubscriptExpr:
			if (rw_strip(base) && is_array(rw_type(rw, rw_strip(base)))) {
				n = rw_strip(base);
				continue;
			}
			return base;
		case CXCursor_UnaryOperator:
			*deref = true;
			return base;
		default:
			return NULL;
		}
	}
	return NULL;
}

/* __visor_probe_from(P, REST): the openings of outer reads come first, the
 * closings of inner ones (P's own) before the ", " after P. */
static void wrap_read(struct rw *rw, struct rw_node *n)
{
	bool deref;
	struct rw_node *p = root_pointer(rw, n, &deref);
	if (!p || !p->editable || p->start < n->start || p->end > n->end)
		return;
	if (deref) {
		rw_replace(rw, n->start, p->start - n->start, "__visor_probe_deref(");
		rw_insert(rw, n->end, -(int)n->depth, ")");
		return;
	}
	rw_insert(rw, n->start, (int)n->depth, "__visor_probe_from(");
	rw_insert(rw, p->end, -(int)n->depth, ", ");
	rw_insert(rw, n->end, -(int)n->depth, ")");
}

void rw_probe_reads(struct rw *rw)
{
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		if (!n->func || !n->func->tracing || n->kind == CXCursor_ParenExpr)
			continue;
		if (!kernel_lvalue(rw, n) || !value_is_read(rw, n) || in_excluded(rw, n))
			continue;
		if (!n->editable) {
			/* a macro's own text: nothing to rewrite there */
			unsigned at = 0;
			if (rw_is_main_file(rw, rw->lc->clang_getRangeStart(
							  rw->lc->clang_getCursorExtent(n->cur)),
					    &at))
				rw_warning(rw, at, "a kernel memory read inside a macro is not made a "
						   "probe read: use bpf_probe_read_kernel() or "
						   "BPF_CORE_READ()");
			continue;
		}
		if (n->kind == CXCursor_MemberRefExpr) {
			CXCursor field = rw->lc->clang_getCursorReferenced(n->cur);
			if (rw->lc->clang_getFieldDeclBitWidth(field) >= 0 &&
			    (n->child->editable || n->member_macro)) {
				char *name = rw_spelling(rw, n->cur);
				if (name && !n->member_macro)
					wrap_bitfield(rw, n, name, is_pointer(rw_type(rw, n->child)));
				else if (name && !wrap_macro_bitfield(rw, n, name))
					rw_warning(rw, n->start,
						   "a bit-field read through a macro is not made a probe "
						   "read: use BPF_CORE_READ_BITFIELD_PROBED()");
				free(name);
				continue;
			}
		}
		wrap_read(rw, n);
	}
}
