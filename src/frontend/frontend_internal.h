/* visor front end — the interfaces between its parts (not installed).
 *
 *   frontend.c        visor_compile: cache lookup, header, rewrite (in a
 *                     child process), clang-19, cache store
 *   btf_header.c      vmlinux.h from the kernel's BTF (libbpf btf_dump) + PCH
 *   cache.c           the cache directory, content hashes, atomic writes
 *   clang_run.c       running clang-19 as a subprocess
 *   tracepoint_format.c  struct tracepoint__CAT__EVENT from tracefs formats
 *   clang_api.c       libclang-19 through dlopen
 *   rewriter*.c       the BCC dialect: AST walk -> text edits
 *   printk_format.c   bpf_trace_printk format checks
 */
#ifndef VISOR_FRONTEND_INTERNAL_H
#define VISOR_FRONTEND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/frontend.h>

/* ---- The rewriter (rewriter*.c) -------------------------------------------
 * Parses the user's source with libclang-19 (the same flags clang-19 gets
 * to compile it, plus -D__VISOR_PARSE__, which bcc/helpers.h uses to declare
 * tables as structs whose members are the table methods, so that
 * `t.lookup(&k)` type-checks at the user's line and column) and rewrites
 * it into libbpf-style C that clang-19 compiles with bcc/helpers.h without
 * __VISOR_PARSE__ (tables are then libbpf BTF map definitions).
 *
 * The output has exactly the user's lines: edits never add or remove a
 * newline, so clang-19's line numbers on it are the user's (the caller
 * prefixes a #line directive naming the user's file). */
struct fe_rewrite_opts {
	const char *path;                 /* the user's file name, for diagnostics */
	const char *text;                 /* the source (NUL-terminated) */
	size_t len;
	const char *const *clang_args;    /* -target bpf, -I..., -include-pch ..., -D... */
	size_t nargs;
	/* The kernel has no kprobes: kprobe__<syscall> functions run as programs
	 * of the syscalls/sys_enter_X (kretprobe: sys_exit_X) tracepoint, so
	 * their arguments come from the tracepoint record, not pt_regs. */
	bool kprobe_fallback;
};

struct fe_rewrite_result {
	char *text;        /* rewritten source (malloc), NULL on errors */
	size_t len;
	/* Diagnostics for the user (malloc, may be ""): clang's style,
	 * "path:line:col: error: message", the source line and a caret. */
	char *diags;
	int nerrors, nwarnings;
};

/* 0 (result filled; nerrors == 0), -EINVAL the source has errors (diags
 * says which), -ENOEXEC libclang-19 cannot be loaded, other -errno with
 * err. In-process: the caller isolates it in a child (frontend.c). */
int fe_rewrite(const struct fe_rewrite_opts *opts, struct fe_rewrite_result *res, char *err,
	       size_t err_len);
void fe_rewrite_result_free(struct fe_rewrite_result *res);

/* fe_rewrite in a forked child (frontend.c): libclang, and with it LLVM's
 * threads, signal handlers and thread-local storage, never enter the
 * caller's process, and a crash there is an error here. Returns what
 * fe_rewrite returned in the child, res and err filled as it filled them,
 * or -errno with err when the child could not run or answer. close_fd
 * (>= 0): a descriptor the child must not keep open. use may be NULL. */
struct fe_rewrite_usage {
	double seconds;  /* fork to answer */
	long maxrss_kb;  /* the child's peak memory */
};
int fe_rewrite_isolated(const struct fe_rewrite_opts *opts, int close_fd,
			struct fe_rewrite_result *res, struct fe_rewrite_usage *use, char *err,
			size_t err_len);

/* ---- bpf_trace_printk formats (printk_format.c) ---------------------------
 * Checks a literal format as the kernel's bpf_trace_printk takes it: at most
 * three conversions, the specifiers it supports, one %s. Returns 0, or -1
 * with a sentence in msg and the byte offset of the offending '%' in *at. */
int fe_printk_check(const char *fmt, size_t len, int nargs, char *msg, size_t msg_len,
		    size_t *at);

#endif
