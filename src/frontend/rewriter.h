/* The BCC-dialect rewriter's internals (rewriter*.c, rewrite_*.c).
 *
 * rewriter.c       fe_rewrite: parse with libclang, run the passes, apply edits
 * rewrite_ast.c    the AST of the user's file as a tree of nodes with offsets
 * rewrite_edits.c  the edit list: (offset, delete, insert), applied back to front
 * rewrite_diag.c   diagnostics in clang's style at the user's line:col
 * rewrite_sections.c  program sections from function names / context types
 * rewrite_tables.c    BPF_TABLE kinds and `t.method(` calls
 * rewrite_printk.c    bpf_trace_printk format checks
 * rewrite_probe.c     implicit probe reads, kprobe arguments from registers
 * rewrite_packet.c    bcc/proto.h field reads */
#ifndef VISOR_FRONTEND_REWRITER_H
#define VISOR_FRONTEND_REWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "frontend/clang_api.h"
#include "frontend/frontend_internal.h"

/* A node of the user's file's AST. Offsets are bytes in the user's text;
 * `editable` says [start, end) is the node's own text there (not tokens of
 * a macro's body), so it can be rewritten. */
struct rw_node {
	CXCursor cur;
	enum CXCursorKind kind;
	unsigned start, end;
	bool editable;
	bool member_macro;       /* a member named by an object-like macro (sk->sk_dport) */
	unsigned depth;
	struct rw_node *parent, *child, *next; /* first child, next sibling */
	unsigned nchild;
	struct rw_func *func;                  /* the enclosing function definition */
};

/* What a function is as a program (from its name or its context type). */
enum rw_prog {
	RW_PROG_NONE,      /* not a program: a static function or subprogram */
	RW_PROG_KPROBE,
	RW_PROG_KRETPROBE,
	RW_PROG_TRACEPOINT,
	RW_PROG_RAW_TRACEPOINT,
	RW_PROG_PERF_EVENT,
	RW_PROG_FENTRY,
	RW_PROG_FEXIT,
	RW_PROG_SOCKET,
	RW_PROG_XDP,
	RW_PROG_OTHER,     /* the user's own section */
};

struct rw_func {
	struct rw_node *node;    /* the FunctionDecl */
	struct rw_node *body;    /* its CompoundStmt */
	char *name;
	char *section;           /* to insert (malloc), NULL when none or the user's own */
	enum rw_prog prog;
	bool is_static;
	bool has_section;        /* the user (or a macro) gave one */
	bool tracing;            /* implicit probe reads apply */
	bool syscall;            /* kprobe__sys_X / kretprobe__sys_X */
	struct rw_node *params[16];
	unsigned nparams;
	char **callees;          /* names of the functions it calls */
	size_t ncallees;
};

struct rw_macro {
	unsigned start, end;
	char *name;
};

struct rw_table {
	char *name;
	char *kind;              /* "hash", "array", ... (from __visor_kind_NAME) */
};

struct rw_edit {
	size_t off, del;
	char *text;
	int order;               /* among edits at one offset: lower first */
	unsigned seq;
};

struct rw {
	const struct visor_clang *lc;
	const struct fe_rewrite_opts *opts;
	const char *text;
	size_t len;
	CXTranslationUnit tu;
	CXFile main_file;

	struct rw_macro *macros;
	size_t nmacros;
	struct rw_table *tables;
	size_t ntables;
	struct rw_func **funcs;
	size_t nfuncs;
	struct rw_node **nodes;  /* every node, in pre-order */
	size_t nnodes, nodes_cap;

	struct rw_edit *edits;
	size_t nedits, edits_cap;
	unsigned edit_seq;

	FILE *diag;              /* open_memstream over diag_buf */
	char *diag_buf;
	size_t diag_len;
	int nerrors, nwarnings;
	bool oom;
};

/* rewrite_ast.c */
int rw_ast_build(struct rw *rw);
void rw_ast_free(struct rw *rw);
struct rw_node *rw_strip(struct rw_node *n);              /* through parens, implicit casts */
struct rw_node *rw_parent(struct rw_node *n, struct rw_node **via); /* the same, upwards */
struct rw_node *rw_child(struct rw_node *n, unsigned i);
char *rw_spelling(struct rw *rw, CXCursor c);
CXType rw_type(struct rw *rw, struct rw_node *n);         /* canonical */
bool rw_is_main_file(struct rw *rw, CXSourceLocation loc, unsigned *offset);
bool rw_record_has_annotation(struct rw *rw, CXType record, const char *what);
bool rw_record_is_kernel(struct rw *rw, CXType record);
unsigned rw_skip_space(struct rw *rw, unsigned off);      /* past blanks and comments */
/* The next identifier token in [*pos, to) outside comments and literals, as
 * a lexer sees the text (macros from a PCH leave no expansion records):
 * true with its start in *start and *pos just past it. */
bool rw_next_identifier(struct rw *rw, unsigned *pos, unsigned to, unsigned *start);

/* rewrite_edits.c */
void rw_insert(struct rw *rw, size_t off, int order, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void rw_replace(struct rw *rw, size_t off, size_t del, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void rw_blank(struct rw *rw, size_t off, size_t del);     /* spaces, newlines kept */
int rw_edits_apply(struct rw *rw, char **out, size_t *out_len);
void rw_edits_free(struct rw *rw);

/* rewrite_diag.c */
void rw_error(struct rw *rw, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rw_warning(struct rw *rw, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rw_clang_diagnostics(struct rw *rw);

/* The passes */
void rw_sections(struct rw *rw);
void rw_tables(struct rw *rw);
const char *rw_table_methods(const char *kind);        /* "lookup, update, ..." or NULL */
struct rw_method_sig {
	const char *method;
	const char *args;        /* "(&key, &value)" */
	int min_args, max_args;
	const char *roles;       /* what the pointer arguments are, in order: "key value" */
};
const struct rw_method_sig *rw_table_method_sig(const char *method); /* NULL: unknown */
const struct rw_table *rw_table_find(struct rw *rw, const char *name);
void rw_printk(struct rw *rw);
void rw_kprobe_args(struct rw *rw);
void rw_probe_reads(struct rw *rw);
void rw_packet(struct rw *rw);

#endif
