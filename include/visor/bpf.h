/* visor — a C API shaped like BCC's Python BPF class (src/api/).
 *
 *     struct visor_bpf *b;
 *     LIBVISOR_OPTS(visor_bpf_opts, o, .text = "int kprobe__sys_clone(void *ctx) {"
 *                   " bpf_trace_printk(\"Hello, World!\\n\"); return 0; }");
 *     if (visor_bpf_new(&o, &b, err, sizeof(err)))  ...
 *     visor_bpf_trace_print(b, stdout, 5000);
 *     visor_bpf_free(b);
 *
 * visor_bpf_new compiles the source (BCC dialect, see visor/frontend.h; or
 * loads a .o), loads it on a backend and, as BCC does, attaches every
 * function named kprobe__X, kretprobe__X, tracepoint__CAT__EVENT
 * (TRACEPOINT_PROBE), raw_tracepoint__X (RAW_TRACEPOINT_PROBE) and
 * kfunc__X/kretfunc__X (KFUNC_PROBE). Other functions are attached through
 * visor_bpf_attach_*. visor_bpf_free detaches everything.
 *
 * Errors: calls return 0 or a negative errno; the one-line message is in
 * visor_bpf_errmsg(b) (visor_bpf_new: in err). Nothing exits or aborts. */
#ifndef VISOR_BPF_H
#define VISOR_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Declares a zeroed options struct with .sz set (libbpf's LIBBPF_OPTS). */
#define LIBVISOR_OPTS(TYPE, NAME, ...)                                                    \
	struct TYPE NAME = {.sz = sizeof(struct TYPE), __VA_ARGS__}

struct visor_bpf;
struct visor_bpf_table;

struct visor_bpf_opts {
	size_t sz;
	/* One of: source text, a source file (.c), an object file (.o). */
	const char *text;
	const char *src_file;
	const char *obj_file;
	const char *const *cflags;  /* extra compiler flags (-DX=1 ...) */
	size_t ncflags;
	unsigned backend;           /* VISOR_BACKEND_KERNEL (0 too) or VISOR_BACKEND_VM */
	bool no_autoattach;         /* do not attach kprobe__ ... functions */
	FILE *diag;                 /* compiler diagnostics and notes (NULL: stderr); kept
	                             * until visor_bpf_free: it must stay open */
	/* The name load errors give the object (NULL: the source file, "<text>",
	 * or obj_file): a caller that compiled a source itself names it here. */
	const char *source_name;
};

int visor_bpf_new(const struct visor_bpf_opts *opts, struct visor_bpf **b, char *err,
		  size_t err_len);
/* Detaches everything, unloads, frees; NULL is ignored. */
void visor_bpf_free(struct visor_bpf *b);
const char *visor_bpf_errmsg(const struct visor_bpf *b);
unsigned visor_bpf_backend(const struct visor_bpf *b);
/* The compiled object's path (in the cache), for `visor compile`-like uses. */
const char *visor_bpf_object_path(const struct visor_bpf *b);
/* The underlying loaded object (visor/kernel.h), for everything else. */
struct visor_loaded *visor_bpf_loaded(struct visor_bpf *b);

/* The object's programs (C function names), their sections (the program
 * type the front end chose: "kprobe/sys_clone", "socket" ...) and types
 * (BPF_PROG_TYPE_*: the kernel's answer on the kernel backend; -ENOENT). */
size_t visor_bpf_prog_count(const struct visor_bpf *b);
const char *visor_bpf_prog_name(const struct visor_bpf *b, size_t i);
const char *visor_bpf_prog_section(const struct visor_bpf *b, const char *fn);
int visor_bpf_prog_type(struct visor_bpf *b, const char *fn);

/* ---- Attaching (kernel backend; -EOPNOTSUPP on the VM) --------------------
 * fn is the C function's name. Each returns 0 or -errno, the message naming
 * what is missing ("no tracepoint syscalls/sys_enter_nope", "kprobes are not
 * available in this kernel: use tracepoint syscalls/sys_enter_clone"). */
int visor_bpf_attach_kprobe(struct visor_bpf *b, const char *event, const char *fn);
int visor_bpf_attach_kretprobe(struct visor_bpf *b, const char *event, const char *fn);
/* tp: "category:event" (BCC) or "category/event". */
int visor_bpf_attach_tracepoint(struct visor_bpf *b, const char *tp, const char *fn);
int visor_bpf_attach_raw_tracepoint(struct visor_bpf *b, const char *tp, const char *fn);
/* name: a binary path (or a library name libbpf resolves), sym: its symbol;
 * pid -1: every process. */
int visor_bpf_attach_uprobe(struct visor_bpf *b, const char *name, const char *sym,
			    const char *fn, int pid);
int visor_bpf_attach_uretprobe(struct visor_bpf *b, const char *name, const char *sym,
			       const char *fn, int pid);
/* XDP on dev (native, falling back to generic with a note); flags:
 * VISOR_BPF_XDP_GENERIC to ask for generic mode. */
#define VISOR_BPF_XDP_GENERIC 1u
int visor_bpf_attach_xdp(struct visor_bpf *b, const char *dev, const char *fn, unsigned flags);
int visor_bpf_remove_xdp(struct visor_bpf *b, const char *dev);
/* tc (tcx where the kernel has it, else a clsact qdisc); the program is
 * loaded as SCHED_CLS: a function the front end made a socket filter (a
 * struct __sk_buff * parameter) is loaded once more as SCHED_CLS for it,
 * sharing the object's tables (BCC's load_func(fn, BPF.SCHED_CLS)). */
int visor_bpf_attach_tc(struct visor_bpf *b, const char *dev, const char *fn, bool egress);
/* A socket filter on a raw socket bound to dev (BCC's attach_raw_socket):
 * returns the socket fd (owned by b; read packets from it), or -errno. */
int visor_bpf_attach_raw_socket(struct visor_bpf *b, const char *fn, const char *dev);
/* Software cpu-clock sampling at freq samples/s on every CPU. */
int visor_bpf_attach_perf_event(struct visor_bpf *b, const char *fn, uint64_t freq);
/* fn by its section, as libbpf's auto-attach with visor's fallbacks (the
 * kprobe -> syscall tracepoint note once on diag); fn NULL: every program
 * whose section names its attach point (`visor run`; the others are listed
 * in a note). */
int visor_bpf_attach_auto(struct visor_bpf *b, const char *fn);
/* Detaches every attachment made so far (maps stay readable). */
void visor_bpf_detach_all(struct visor_bpf *b);
/* A program's fd in the kernel (-ENOENT, -EOPNOTSUPP on the VM). */
int visor_bpf_prog_fd(struct visor_bpf *b, const char *fn);
/* One run of fn on data (BPF_PROG_TEST_RUN on the kernel, the engine on the
 * VM): *retval its return value. data is a packet from its Ethernet header;
 * a socket filter sees it whole, as on the raw socket attach_raw_socket
 * makes (a bare BPF_PROG_TEST_RUN would start it at the network header). */
int visor_bpf_test_run(struct visor_bpf *b, const char *fn, const void *data, size_t len,
		       uint32_t *retval);

/* ---- Output ------------------------------------------------------------ */

/* Prints trace pipe lines (bpf_trace_printk) as BCC's trace_print does,
 * "comm-pid [cpu] flags ts: text", until timeout_ms passes (-1: until
 * SIGINT/SIGTERM) or max_lines lines (0: no limit). Returns lines printed. */
int visor_bpf_trace_print(struct visor_bpf *b, FILE *out, int timeout_ms, int max_lines);
/* One trace line split as BCC's trace_fields: task, pid, cpu, flags, ts,
 * msg. Waits up to timeout_ms; 1 with fields, 0 on timeout, -errno. */
struct visor_bpf_trace_fields {
	char task[64];
	int pid, cpu;
	char flags[8];
	double ts;
	char msg[512];
};
int visor_bpf_trace_fields(struct visor_bpf *b, struct visor_bpf_trace_fields *f,
			   int timeout_ms);

/* Ring buffer (BPF_RINGBUF_OUTPUT) and perf buffer (BPF_PERF_OUTPUT) maps:
 * open once, then poll; fn gets each record, in order; lost counts dropped
 * perf records. */
typedef int (*visor_bpf_event_fn)(void *ctx, const void *data, size_t size);
typedef void (*visor_bpf_lost_fn)(void *ctx, int cpu, uint64_t count);
int visor_bpf_open_ring_buffer(struct visor_bpf *b, const char *map, visor_bpf_event_fn fn,
			       void *ctx);
int visor_bpf_open_perf_buffer(struct visor_bpf *b, const char *map, visor_bpf_event_fn fn,
			       visor_bpf_lost_fn lost, void *ctx);
/* Polls every open ring and perf buffer up to timeout_ms: records handled,
 * or -errno (-EINTR on a signal). */
int visor_bpf_poll(struct visor_bpf *b, int timeout_ms);

/* ---- Tables (maps), typed through BTF ------------------------------------ */

/* The map named name (BPF_HASH(name ...)), owned by b; NULL: no such map
 * (errmsg says so). */
struct visor_bpf_table *visor_bpf_table(struct visor_bpf *b, const char *name);
/* Every map of the object, by index (global data too: ".bss" ...). */
size_t visor_bpf_table_count(const struct visor_bpf *b);
const char *visor_bpf_table_name_at(const struct visor_bpf *b, size_t i);
const char *visor_bpf_table_name(const struct visor_bpf_table *t);
uint32_t visor_bpf_table_type(const struct visor_bpf_table *t);   /* BPF_MAP_TYPE_* */
uint32_t visor_bpf_table_key_size(const struct visor_bpf_table *t);
uint32_t visor_bpf_table_value_size(const struct visor_bpf_table *t); /* one CPU's */
uint32_t visor_bpf_table_nr_cpus(const struct visor_bpf_table *t);    /* 1 unless per-CPU */
/* The key and value type names from BTF ("struct IPKey", "u64"; "" unknown). */
const char *visor_bpf_table_key_type(const struct visor_bpf_table *t);
const char *visor_bpf_table_value_type(const struct visor_bpf_table *t);

/* Element calls (value: value_size bytes, nr_cpus x round_up(value_size, 8)
 * for per-CPU tables). 0, -ENOENT, or -errno. */
int visor_bpf_table_lookup(struct visor_bpf_table *t, const void *key, void *value);
int visor_bpf_table_update(struct visor_bpf_table *t, const void *key, const void *value);
int visor_bpf_table_delete(struct visor_bpf_table *t, const void *key);
/* Iteration: key NULL gives the first key; -ENOENT after the last. */
int visor_bpf_table_next_key(struct visor_bpf_table *t, const void *key, void *next_key);
/* Removes every element (hash family) or zeroes every value (arrays). */
int visor_bpf_table_clear(struct visor_bpf_table *t);
/* Calls fn for each element (per-CPU values summed when they are integers
 * of 1, 2, 4 or 8 bytes, else the first CPU's); fn returns non-zero to
 * stop. Returns the number visited or -errno. */
typedef int (*visor_bpf_table_fn)(void *ctx, const void *key, const void *value);
int visor_bpf_table_each(struct visor_bpf_table *t, visor_bpf_table_fn fn, void *ctx);
/* A key or value as text through BTF: "(struct IPKey){.dip = (u32)..., }",
 * plain integers as decimal; hex bytes without BTF. Returns the length as
 * snprintf does. */
int visor_bpf_table_format_key(struct visor_bpf_table *t, const void *key, char *buf,
			       size_t len);
int visor_bpf_table_format_value(struct visor_bpf_table *t, const void *value, char *buf,
				 size_t len);
/* Prints every element, one "key -> value" per line, sorted by value when
 * the values are integers (BCC's items() sorted), at most max lines (0: all). */
int visor_bpf_table_print(struct visor_bpf_table *t, FILE *out, size_t max);
/* BCC's print_log2_hist / print_linear_hist over a table whose keys are
 * slots (4 or 8 bytes) and values counts (8 bytes): val_type labels the
 * value column ("usecs", "bytes"). */
int visor_bpf_table_print_log2_hist(struct visor_bpf_table *t, const char *val_type,
				    FILE *out);
int visor_bpf_table_print_linear_hist(struct visor_bpf_table *t, const char *val_type,
				      FILE *out);
/* Is t a log2 histogram by visor's rule (an array or hash, per-CPU and LRU
 * too, with 4- or 8-byte keys and 8-byte values whose name ends with "hist"
 * or whose key or value type name contains "hist")? */
bool visor_bpf_table_is_log2_hist(const struct visor_bpf_table *t);
/* What `visor run` prints for a map when it stops: a log2 histogram as
 * "map NAME: TYPE, log2 histogram" and the bars, else a header line
 * ("map NAME: hash, key 4, value 8, max_entries 1024, btf"), each element
 * as "  KEY -> VALUE" through BTF (per-CPU: a line per CPU; hex lines
 * without BTF) and "Found N elements". 0 or -errno. */
int visor_bpf_table_dump(struct visor_bpf_table *t, FILE *out);

/* Every table as visor_bpf_table_dump, a blank line before each (perf
 * event arrays skipped: their records are read as they come; so are
 * .rodata and .kconfig, constants). 0 or the
 * first error (the other tables are still printed). */
int visor_bpf_dump(struct visor_bpf *b, FILE *out);

/* The histogram printers themselves, over counts in memory: vals[i] is
 * slot i (log2: at most VISOR_BPF_LOG2_SLOTS; linear: bucket i). Nothing
 * is printed when every count is zero, as BCC. */
#define VISOR_BPF_LOG2_SLOTS 65
#define VISOR_BPF_LINEAR_SLOTS 1025
void visor_print_log2_hist(FILE *out, const uint64_t *vals, size_t n, const char *val_type);
void visor_print_linear_hist(FILE *out, const uint64_t *vals, size_t n, const char *val_type);

#ifdef __cplusplus
}
#endif
#endif
