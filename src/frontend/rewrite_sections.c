/* Program sections (the program type and attach point) from BCC's naming:
 * kprobe__X, kretprobe__X, syscall__X (a kprobe on sys_X), tracepoint__CAT__EVENT,
 * raw_tracepoint__X, kfunc__X, kretfunc__X; else from the first parameter's type (struct
 * pt_regs * is a kprobe, struct __sk_buff * a socket filter ...). A section
 * the user (or a program macro) gave wins. Also decides which functions
 * read kernel memory through implicit probe reads (tracing programs and the
 * static functions they call). */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdlib.h>
#include <string.h>

#include <visor/kernel.h>

static const struct {
	const char *prefix, *section;
	enum rw_prog prog;
	const char *target_prefix; /* put before the rest of the name */
} name_rules[] = {
	{"kprobe__", "kprobe/", RW_PROG_KPROBE, NULL},
	/* BCC's syscall__X, attached by the user to the syscall
	 * (attach_kprobe(get_syscall_fnname("X"), "syscall__X")): its extra
	 * parameters are the syscall's arguments, as kprobe__sys_X's */
	{"syscall__", "kprobe/", RW_PROG_KPROBE, "sys_"},
	{"kretprobe__", "kretprobe/", RW_PROG_KRETPROBE, NULL},
	{"tracepoint__", "tracepoint/", RW_PROG_TRACEPOINT, NULL},
	{"raw_tracepoint__", "raw_tracepoint/", RW_PROG_RAW_TRACEPOINT, NULL},
	{"kfunc__", "fentry/", RW_PROG_FENTRY, NULL},
	{"kretfunc__", "fexit/", RW_PROG_FEXIT, NULL},
};

static const struct {
	const char *type, *section;
	enum rw_prog prog;
} ctx_rules[] = {
	{"struct pt_regs", "kprobe", RW_PROG_KPROBE},
	{"struct __sk_buff", "socket", RW_PROG_SOCKET},
	{"struct xdp_md", "xdp", RW_PROG_XDP},
	{"struct bpf_perf_event_data", "perf_event", RW_PROG_PERF_EVENT},
	{"struct bpf_raw_tracepoint_args", "raw_tracepoint", RW_PROG_RAW_TRACEPOINT},
};

/* A section string's program kind ("kprobe/x" -> kprobe ...). */
static enum rw_prog prog_of_section(const char *s)
{
	static const struct {
		const char *prefix;
		enum rw_prog prog;
	} rules[] = {
		{"kprobe", RW_PROG_KPROBE},        {"kretprobe", RW_PROG_KRETPROBE},
		{"uprobe", RW_PROG_KPROBE},        {"uretprobe", RW_PROG_KRETPROBE},
		{"tracepoint", RW_PROG_TRACEPOINT}, {"tp/", RW_PROG_TRACEPOINT},
		{"raw_tracepoint", RW_PROG_RAW_TRACEPOINT}, {"raw_tp", RW_PROG_RAW_TRACEPOINT},
		{"perf_event", RW_PROG_PERF_EVENT}, {"fentry", RW_PROG_FENTRY},
		{"fexit", RW_PROG_FEXIT},          {"tp_btf", RW_PROG_FENTRY},
		{"socket", RW_PROG_SOCKET},        {"tc", RW_PROG_SOCKET},
		{"classifier", RW_PROG_SOCKET},    {"xdp", RW_PROG_XDP},
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!strncmp(s, rules[i].prefix, strlen(rules[i].prefix)))
			return rules[i].prog;
	return RW_PROG_OTHER;
}

/* tracepoint__CAT__EVENT -> CAT/EVENT; kfunc__vmlinux__X -> X (BCC's
 * newer spelling); others keep the rest of the name. */
static char *target_of(const char *rest, enum rw_prog prog)
{
	if (prog == RW_PROG_TRACEPOINT) {
		const char *sep = strstr(rest, "__");
		if (!sep || sep == rest || !sep[2])
			return NULL;
		char *t = NULL;
		if (asprintf(&t, "%.*s/%s", (int)(sep - rest), rest, sep + 2) < 0)
			return NULL;
		return t;
	}
	if ((prog == RW_PROG_FENTRY || prog == RW_PROG_FEXIT) && !strncmp(rest, "vmlinux__", 9))
		rest += 9;
	return strdup(rest);
}

static char *ctx_type_name(struct rw *rw, struct rw_func *f)
{
	if (!f->nparams)
		return NULL;
	CXType t = rw_type(rw, f->params[0]);
	if (t.kind != CXType_Pointer)
		return NULL;
	return visor_clang_string(rw->lc, rw->lc->clang_getTypeSpelling(rw->lc->clang_getCanonicalType(
						  rw->lc->clang_getPointeeType(t))));
}

/* The user's own section: SEC("...") or __attribute__((section("..."))) in
 * the text before the body. Returns the section string (malloc) or NULL. */
static char *own_section(struct rw *rw, struct rw_func *f)
{
	unsigned from = f->node->start, to = f->body ? f->body->start : f->node->end;
	if (to > rw->len || from >= to)
		return NULL;
	const char *head = rw->text + from;
	size_t n = to - from;
	const char *keys[] = {"SEC(", "section("};
	for (size_t k = 0; k < 2; k++) {
		const char *p = memmem(head, n, keys[k], strlen(keys[k]));
		if (!p)
			continue;
		const char *q = memchr(p, '"', n - (size_t)(p - head));
		if (!q)
			return strdup("");
		const char *e = memchr(q + 1, '"', n - (size_t)(q + 1 - head));
		return e ? strndup(q + 1, (size_t)(e - q - 1)) : strdup("");
	}
	return NULL;
}

static bool called_in_file(struct rw *rw, const char *name)
{
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		if (n->kind != CXCursor_CallExpr && n->kind != CXCursor_DeclRefExpr)
			continue;
		if (n->kind == CXCursor_DeclRefExpr && n->parent && n->parent->kind == CXCursor_CallExpr)
			continue; /* counted as the call */
		char *s = rw_spelling(rw, n->cur);
		bool hit = s && !strcmp(s, name);
		free(s);
		if (hit)
			return true;
	}
	return false;
}

static void classify(struct rw *rw, struct rw_func *f)
{
	if (!f->name) {
		rw->oom = true;
		return;
	}
	if (!f->node->editable) {
		/* defined by a macro (TRACEPOINT_PROBE ...), which gives the section */
		f->has_section = true;
	} else {
		char *own = own_section(rw, f);
		if (own) {
			f->has_section = true;
			f->prog = prog_of_section(own);
			free(own);
		}
	}
	if (f->is_static)
		return;
	for (size_t i = 0; i < sizeof(name_rules) / sizeof(name_rules[0]); i++) {
		size_t pl = strlen(name_rules[i].prefix);
		if (strncmp(f->name, name_rules[i].prefix, pl) || !f->name[pl])
			continue;
		char *target = target_of(f->name + pl, name_rules[i].prog);
		if (target && name_rules[i].target_prefix) {
			char *t = NULL;
			if (asprintf(&t, "%s%s", name_rules[i].target_prefix, target) < 0)
				t = NULL;
			free(target);
			target = t;
		}
		if (!target)
			continue;
		if (!f->prog)
			f->prog = name_rules[i].prog;
		if ((f->prog == RW_PROG_KPROBE || f->prog == RW_PROG_KRETPROBE) &&
		    visor_kernel_syscall_of(target))
			f->syscall = true;
		if (!f->has_section && asprintf(&f->section, "%s%s", name_rules[i].section, target) < 0)
			rw->oom = true;
		free(target);
		break;
	}
	if (!f->prog) {
		char *ctx = ctx_type_name(rw, f);
		/* BCC's `int hello(void *ctx)`, attached by name (attach_kprobe): a
		 * program unless another function calls it (then a subprogram) */
		if (ctx && !strcmp(ctx, "void") && !called_in_file(rw, f->name)) {
			free(ctx);
			ctx = strdup("struct pt_regs");
		}
		for (size_t i = 0; ctx && i < sizeof(ctx_rules) / sizeof(ctx_rules[0]); i++) {
			if (strcmp(ctx, ctx_rules[i].type))
				continue;
			f->prog = ctx_rules[i].prog;
			if (!f->has_section && !(f->section = strdup(ctx_rules[i].section)))
				rw->oom = true;
			break;
		}
		free(ctx);
	}
}

/* Every call in the file, appended to its enclosing function's callees:
 * one pass over the nodes (a pass per function was quadratic in big files). */
static void note_callees(struct rw *rw)
{
	for (size_t i = 0; i < rw->nnodes; i++) {
		struct rw_node *n = rw->nodes[i];
		struct rw_func *f = n->func;
		if (!f || n->kind != CXCursor_CallExpr)
			continue;
		char **v = realloc(f->callees, (f->ncallees + 1) * sizeof(*v));
		if (!v) {
			rw->oom = true;
			return;
		}
		f->callees = v;
		if ((v[f->ncallees] = rw_spelling(rw, n->cur)))
			f->ncallees++;
	}
}

static const char *name_of(const struct rw_func *f)
{
	return f->name ? f->name : ""; /* NULL when out of memory */
}

static int func_by_name(const void *a, const void *b)
{
	return strcmp(name_of(*(struct rw_func *const *)a), name_of(*(struct rw_func *const *)b));
}

static bool is_tracing(enum rw_prog p)
{
	return p == RW_PROG_KPROBE || p == RW_PROG_KRETPROBE || p == RW_PROG_TRACEPOINT ||
	       p == RW_PROG_RAW_TRACEPOINT || p == RW_PROG_PERF_EVENT;
}

void rw_sections(struct rw *rw)
{
	for (size_t i = 0; i < rw->nfuncs; i++) {
		struct rw_func *f = rw->funcs[i];
		classify(rw, f);
		f->tracing = is_tracing(f->prog);
		if (f->section && f->node->editable)
			rw_insert(rw, f->node->start, -100, "__attribute__((section(\"%s\"), used)) ",
				  f->section);
	}
	note_callees(rw);
	/* The functions tracing programs call (transitively) read kernel memory
	 * the same way: a worklist over the call graph, names found by bsearch. */
	size_t n = rw->nfuncs;
	struct rw_func **byname = malloc(n * sizeof(*byname) + 1);
	struct rw_func **work = malloc(n * sizeof(*work) + 1);
	if (!byname || !work) {
		free(byname);
		free(work);
		rw->oom = true;
		return;
	}
	size_t nwork = 0;
	for (size_t i = 0; i < n; i++) {
		byname[i] = rw->funcs[i];
		if (rw->funcs[i]->tracing)
			work[nwork++] = rw->funcs[i];
	}
	qsort(byname, n, sizeof(*byname), func_by_name);
	while (nwork) {
		struct rw_func *f = work[--nwork];
		for (size_t j = 0; j < f->ncallees; j++) {
			struct rw_func key = {.name = f->callees[j]}, *kp = &key;
			struct rw_func **hit = bsearch(&kp, byname, n, sizeof(*byname), func_by_name);
			/* equal names (a declaration and a definition): look at all */
			while (hit && hit > byname && !strcmp(name_of(hit[-1]), key.name))
				hit--;
			for (; hit && hit < byname + n && !strcmp(name_of(*hit), key.name); hit++) {
				struct rw_func *g = *hit;
				if (!g->tracing && g->prog == RW_PROG_NONE) {
					g->tracing = true;
					work[nwork++] = g; /* each function enters once */
				}
			}
		}
	}
	free(byname);
	free(work);
}
