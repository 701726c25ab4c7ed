/* visor front end — the compile pipeline's private interfaces (not
 * installed): the cache (cache.c), clang-19 as a subprocess (clang_run.c),
 * vmlinux.h + PCH (btf_header.c) and tracepoint structs
 * (tracepoint_format.c), all used by frontend.c. */
#ifndef VISOR_FRONTEND_PIPELINE_H
#define VISOR_FRONTEND_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/errf.h"
#include "frontend_internal.h"

/* ---- Content hashes (cache.c) ---------------------------------------------
 * A fast 128-bit non-cryptographic hash (two independent 64-bit lanes).
 * It names cache entries: what matters is that different inputs (kernel
 * BTF, sources, flags) practically never share a name, not resistance to
 * someone crafting collisions — whoever can write the cache directory can
 * replace its objects anyway. */
struct fe_hash {
	uint64_t a, b, len;
	uint8_t buf[8];
	size_t nbuf;
};
#define FE_HASH_HEX 33 /* 32 hex digits + NUL */
void fe_hash_init(struct fe_hash *h);
void fe_hash_update(struct fe_hash *h, const void *data, size_t len);
/* A string including its terminating NUL, so "ab"+"c" != "a"+"bc". */
void fe_hash_str(struct fe_hash *h, const char *s);
/* A file's identity: its path, and its size and modification time when it
 * exists (a rebuilt binary, an upgraded compiler). */
void fe_hash_file(struct fe_hash *h, const char *path);
void fe_hash_final(struct fe_hash *h, char hex[FE_HASH_HEX]);

/* ---- The cache directory (cache.c) ---------------------------------------
 * $VISOR_CACHE_DIR, else $XDG_CACHE_HOME/visor, else $HOME/.cache/visor,
 * else /tmp/visor-cache-<uid>; created (mode 0700) on demand. */
int fe_cache_dir(char *buf, size_t len, char *err, size_t err_len);
/* mkdir -p with mode 0700; 0 or -errno. */
int fe_mkdirs(const char *path);
/* Writes data to path through a temporary file in the same directory and
 * rename(), so readers see the old file or the whole new one. */
int fe_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len);
/* A unique temporary name beside path ("path.tmp.<pid>.<n>"). */
void fe_tmp_name(const char *path, char *buf, size_t len);
/* Removes the temporary files in dir that a killed compile left (their
 * process is gone, or they are over an hour old). */
void fe_cache_sweep(const char *dir);
/* Reads fd to its end (NUL-terminated, malloc'd; fd stays open); NULL
 * with errno set. len may be NULL. */
char *fe_read_fd(int fd, size_t *len);
/* Reads a whole file (NUL-terminated, malloc'd); NULL with errno set. */
char *fe_read_file(const char *path, size_t *len);
bool fe_file_exists(const char *path);
/* Whether path holds a whole BPF ELF object: header, machine, and every
 * section inside the file. A cache entry cut short (disk full, a crash
 * mid-copy, a hand edit) fails this and is compiled again rather than
 * loaded as garbage. 0, or -errno with the reason in err. */
int fe_object_check(const char *path, char *err, size_t err_len);
double fe_now(void);

/* The front end's lookups cached in static buffers (include directory,
 * prelude version, clang's path, the clang module) are made under this one
 * lock (recursive: a lookup may use another), as visor_compile may be
 * called from several threads: FE_LOCKED(expression). */
extern pthread_mutex_t fe_lookup_lock;
#define FE_LOCKED(expr)                                                                      \
	({                                                                                   \
		pthread_mutex_lock(&fe_lookup_lock);                                         \
		__typeof__(expr) locked_result_ = (expr);                                    \
		pthread_mutex_unlock(&fe_lookup_lock);                                       \
		locked_result_;                                                              \
	})

/* ---- clang-19 as a subprocess (clang_run.c) ------------------------------ */

/* $VISOR_CLANG, else clang-19 on PATH, else /usr/lib/llvm-19/bin/clang;
 * NULL when none is executable. */
const char *fe_clang_path(void);

struct fe_clang_result {
	int status;        /* exit status, or 128 + signal */
	char *stderr_text; /* malloc'd, NUL-terminated (may be "") */
	long maxrss_kb;    /* the child's peak RSS */
	double seconds;    /* from start to exit */
	double after_input_s; /* from the end of its input to exit */
};
/* Runs clang with args (args[0] is ignored: the clang path is put there),
 * its stdout and stdin on /dev/null, its stderr captured. Returns 0 when it
 * ran (whatever its status), -ENOEXEC when clang is missing ("clang-19 not
 * found: apt-get install clang-19"), other -errno with err. */
int fe_clang_run(const char *const *args, size_t nargs, struct fe_clang_result *res, char *err,
		 size_t err_len);
void fe_clang_result_free(struct fe_clang_result *res);

/* The same in two steps: start clang (with_stdin: its standard input is
 * fed by fe_clang_finish, e.g. for "-x c -"), then give it its input, wait
 * for it and collect the result; or kill it (fe_clang_abort). */
struct fe_clang_proc {
	int pid, in_fd, err_fd;
	double t0;
};
int fe_clang_start(const char *const *args, size_t nargs, bool with_stdin,
		   struct fe_clang_proc *p, char *err, size_t err_len);
int fe_clang_finish(struct fe_clang_proc *p, const char *input, size_t len,
		    struct fe_clang_result *res, char *err, size_t err_len);
void fe_clang_abort(struct fe_clang_proc *p);

/* ---- vmlinux.h and its PCH (btf_header.c) -------------------------------- */

/* The BTF file to use: explicit (non-NULL), else $VISOR_BTF, else
 * /sys/kernel/btf/vmlinux. */
const char *fe_btf_path(const char *explicit_path);
/* The checksum of the BTF file's bytes (hex). -ENOENT with err when it
 * cannot be read. */
int fe_btf_checksum(const char *btf_path, char sum[FE_HASH_HEX], char *err, size_t err_len);

struct fe_btf_entry {
	char sum[FE_HASH_HEX];
	char dir[3200];       /* <cache>/btf-<sum> */
	char header[4096];    /* .../vmlinux.h */
	char pch_header[4096];/* .../visor_pch.h */
	char pch[4096];       /* .../visor_pch-<what it is made of>.h.pch */
	bool cached;          /* everything asked for was there already */
	double seconds;       /* time spent making them */
};
/* The clang flags both phases use before -include-pch (target, -O2 -g,
 * __TARGET_ARCH_x86); the PCH is built with exactly these. */
extern const char *const fe_base_cflags[];
extern const size_t fe_base_ncflags;
/* Makes (or finds in the cache) vmlinux.h and its PCH for btf_path. With
 * need_pch false only the header is ensured. Progress goes to diag (may be
 * NULL) on a cold start. */
int fe_btf_prepare(const char *btf_path, bool need_pch, FILE *diag, struct fe_btf_entry *e,
		   char *err, size_t err_len);

/* ---- Tracepoint structs (tracepoint_format.c) ----------------------------- */

struct fe_tracepoint_ref {
	char category[64], event[128];
	unsigned line, col;   /* where the source names it first (1-based) */
};
/* The tracepoints a source names: TRACEPOINT_PROBE(cat, event) and
 * tracepoint__cat__event (comments and literals aside). Returns the count
 * (malloc'd array in *refs, may be NULL when 0) or -ENOMEM. */
int fe_tracepoints_scan(const char *text, struct fe_tracepoint_ref **refs);
/* Writes "struct tracepoint__CAT__EVENT { ... };" for the tracepoint into
 * the file out_path (atomically), from tracefs_dir/events/CAT/EVENT/format
 * (tracefs_dir NULL: /sys/kernel/tracing, mounted when missing and
 * possible, or /sys/kernel/debug/tracing), else from the BTF struct
 * trace_event_raw_EVENT in btf_path. -ENOENT with err naming the
 * tracepoint and where it was looked for when neither has it. */
int fe_tracepoint_header(const char *tracefs_dir, const char *btf_path, const char *category,
			 const char *event, const char *out_path, char *err, size_t err_len);
/* The struct text only (malloc'd) — for tests. */
int fe_tracepoint_struct(const char *tracefs_dir, const char *btf_path, const char *category,
			 const char *event, char **text, char *err, size_t err_len);

/* ---- The pipeline's pieces the compile server shares (frontend.c) ------- */

/* The binary holding this code (libvisor.so, or the program it is linked
 * into), resolved; false when unknown. */
bool fe_self_binary(char bin[PATH_MAX]);
/* What decides the objects this code makes: visor's binary, its BPF-side
 * headers, the pipeline version and clang's path. A compile server serves
 * only clients of its own identity. */
void fe_pipeline_identity(char hex[FE_HASH_HEX]);
/* clang's input: a #line directive naming path (diagnostics and line info
 * are the user's), then text. malloc'd; NULL when out of memory. */
char *fe_compiler_input(const char *path, const char *text, size_t len, size_t *out_len);

/* The flags a compile of a small source uses with the default kernel BTF
 * (its PCH made when missing), for the compile server's warm-up: argv[0] is
 * the compiler's name, as in a compile. */
int fe_warm_up_args(char ***argv, size_t *argc, char *err, size_t err_len);
void fe_warm_up_args_free(char **argv, size_t argc);

/* ---- The compile server (compile_server.c) ------------------------------- */

/* <cache>/compile-server-<identity>.sock */
int fe_server_sock_path(char *buf, size_t len, char *err, size_t err_len);
/* libvisor-clang.so: $VISOR_CLANG_MODULE, else beside visor's binary (build
 * tree) or PREFIX/lib/visor/; NULL when absent. */
const char *fe_clang_module_path(void);

/* One compile: the rewrite (ro; NULL: text is compiled as it is) and clang
 * with cc_args (cc_args[0], the compiler's name, is replaced). */
struct fe_server_job {
	const struct fe_rewrite_opts *ro;
	const char *path;         /* for clang's #line */
	const char *text;         /* when ro is NULL */
	size_t len;
	const char *const *cc_args;
	size_t cc_nargs;
	size_t rewrite_nargs;     /* cc_args[1..rewrite_nargs] are the rewriter's */
};
struct fe_server_answer {
	int rewrite_rc;                 /* fe_rewrite's return in the server */
	char *rewrite_err;              /* its err text */
	struct fe_rewrite_result rw;    /* text: the rewritten source */
	bool compiled;                  /* clang ran (the rewrite succeeded) */
	struct fe_clang_result cc;      /* its status and diagnostics */
	double rewrite_s;
};
/* 0 with ans filled (whatever the compile's outcome), or -errno when no
 * server answered (none running, another identity (-ESTALE), died): the
 * caller then compiles by itself. */
int fe_server_compile(const char *sock_path, const struct fe_server_job *job,
		      struct fe_server_answer *ans, char *err, size_t err_len);
void fe_server_answer_free(struct fe_server_answer *a);

/* ---- For tests and the bench (frontend.c) --------------------------------- */

/* How many rewriter child processes this process has started. */
extern unsigned long fe_rewriter_children;
/* The rewriter the child runs (fe_rewrite; tests put a crashing one). */
struct fe_rewrite_opts;
struct fe_rewrite_result;
extern int (*fe_rewrite_fn)(const struct fe_rewrite_opts *, struct fe_rewrite_result *, char *,
			    size_t);
/* How many times clang-19 ran (any purpose). */
extern unsigned long fe_clang_runs;

#endif
