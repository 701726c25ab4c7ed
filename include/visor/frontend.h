/* visor — front end: restricted C (the BCC dialect, or libbpf style) to a
 * BPF ELF object, with kernel types from BTF instead of kernel headers.
 * See docs/FRONTEND.md.
 *
 * The pipeline (src/frontend/): the source is parsed with libclang-19 (loaded
 * with dlopen, in a child process, so neither the caller's memory nor its
 * start-up pays for it) against a precompiled vmlinux.h made from the
 * kernel's BTF, rewritten (BCC's maps, table methods, bpf_trace_printk,
 * implicit probe reads, auto-attach sections, packet sugar), and compiled by
 * clang-19 -target bpf. vmlinux.h, its PCH and compiled objects are cached
 * (keyed by the BTF checksum; objects by source + flags + BTF) under
 * $VISOR_CACHE_DIR, else $XDG_CACHE_HOME/visor, else ~/.cache/visor.
 *
 * Errors are negative errno values with one line in the caller's err
 * buffer; the compiler's and the rewriter's diagnostics (at the user's
 * file:line:col, never the rewritten text's) go to opts->diag (default
 * stderr). Nothing here exits or aborts. */
#ifndef VISOR_FRONTEND_H
#define VISOR_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct visor_compile_opts {
	size_t sz;                 /* sizeof(struct visor_compile_opts) */
	/* Source: text (with path only naming it in diagnostics; NULL: "<text>")
	 * or, when text is NULL, the file at path. */
	const char *path;
	const char *text;
	/* Extra compiler flags (-DNAME=V, -I DIR, -Wno-...), as clang takes them. */
	const char *const *cflags;
	size_t ncflags;
	/* Where diagnostics are written (NULL: stderr). */
	FILE *diag;
	/* Kernel BTF to take types from (NULL: $VISOR_BTF, else
	 * /sys/kernel/btf/vmlinux). */
	const char *btf_path;
	bool no_cache;             /* compile even if a cached object matches */
	bool dialect_off;          /* plain libbpf-style C: no BCC rewriting */
	/* Filled in: timings (seconds) and what was reused, for benchmarks. */
	struct visor_compile_stats {
		bool object_cached;    /* the object came from the cache */
		bool header_cached;    /* vmlinux.h + PCH came from the cache */
		double header_s;       /* making vmlinux.h and its PCH (0 when cached) */
		double rewrite_s;      /* libclang parse + rewrite (child process) */
		double compile_s;      /* clang-19 */
		long rewriter_maxrss_kb, compiler_maxrss_kb; /* peak RSS of the children */
		bool server_used;      /* a compile server did the rewrite and compile */
	} *stats;
	/* Never use a compile server (see visor_compile_server_start), as with
	 * VISOR_COMPILE_SERVER=0 in the environment. */
	bool no_server;
};

/* Compiles to the object file out_path (written atomically). Returns 0, or
 * a negative errno: -EINVAL the source has errors (already printed to diag;
 * err says how many), or a compiler flag is refused (-E, -M*, -o, -S,
 * -emit-*, -x ...: they would break the pipeline; -D -U -I -include -W are
 * fine), NULL in cflags, or flags that conflict with the PCH; -ENOENT no such
 * source file / no kernel BTF (err names the path); -EBADMSG the BTF file is
 * not BTF; -ENOEXEC clang-19 or libclang-19 missing (err names the Debian
 * package); -EIO the compiler exited 0 without writing an object; -EINTR
 * interrupted; others with a message. A damaged cached object or PCH is
 * detected (ELF checks) and made again. */
int visor_compile(const struct visor_compile_opts *opts, const char *out_path, char *err,
		  size_t err_len);

/* As visor_compile, but returns the path of the object in the cache (owned
 * by the caller, free()) — what `visor run FILE.c` loads. */
int visor_compile_cached(const struct visor_compile_opts *opts, char **obj_path, char *err,
			 size_t err_len);

/* The vmlinux.h made from btf_path (NULL: as above), generating and caching
 * it (and its PCH) when needed; *header_path is owned by the caller. */
int visor_btf_header(const char *btf_path, char **header_path, char *err, size_t err_len);

/* Writes vmlinux.h made from btf_path to out (`visor btf dump`). */
int visor_btf_dump(const char *btf_path, FILE *out, char *err, size_t err_len);

/* The compile server: a process keeping libclang-19 and clang (the module
 * libvisor-clang.so) loaded, serving the compiles of this user's cache
 * directory for this visor build (<cache>/compile-server-ID.sock) in warm
 * child processes, so that a compile whose object is not cached costs
 * clang's own work instead of starting libclang and clang-19 (~0.25 s).
 * visor_compile uses a running server of the same build when there is one
 * (unless no_server or VISOR_COMPILE_SERVER=0) and compiles by itself
 * otherwise: same objects, same diagnostics. `visor run` and `visor
 * compile` start one after a compile that had none. It exits when idle for
 * idle_s seconds, when visor is rebuilt or reinstalled, or when its cache
 * directory goes.
 *
 * Starts `visor_exe compile-server run` (NULL: this program) detached,
 * with nothing of the caller's open; its log is <cache>/compile-server-ID.log.
 * Returns once it is started (a second server exits at once). */
int visor_compile_server_start(const char *visor_exe, double idle_s, char *err, size_t err_len);
/* Serves in this process until idle for idle_s seconds, stopped (SIGTERM,
 * visor_compile_server_stop) or replaced; -EEXIST when one already runs. */
int visor_compile_server_run(double idle_s, char *err, size_t err_len);
/* A line about the running server (pid, uptime, compiles served), or
 * -ECONNREFUSED/-ENOENT when none runs. */
int visor_compile_server_status(char *info, size_t info_len, char *err, size_t err_len);
/* Stops it and waits (at most 10 s) until it is gone. */
int visor_compile_server_stop(char *err, size_t err_len);
/* Whether compiles may use (and `visor run`/`compile` start) a server: not
 * with VISOR_COMPILE_SERVER=0, nor with a substitute clang ($VISOR_CLANG,
 * which is not the clang in the module). */
bool visor_compile_server_wanted(void);

/* The directory of the BPF-side headers visor ships (bcc/proto.h,
 * bcc/helpers.h, the kernel include stubs): $VISOR_BPF_INCLUDE, else
 * PREFIX/share/visor/include next to the binary holding libvisor
 * (PREFIX/lib/libvisor.so, or PREFIX/bin/visor when linked statically), so
 * an install moved to any prefix finds its own copy; else the copy at the
 * configured install prefix; else the source tree's (build directories). */
const char *visor_frontend_include_dir(void);

#ifdef __cplusplus
}
#endif
#endif
