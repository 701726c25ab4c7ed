/* visor — kernel backend: the Linux kernel's own eBPF, through libbpf.
 * The bpf filesystem (bpffs), maps (pinned, by id, of a loaded object),
 * objects loaded and attached through libbpf, ring/perf buffers and the
 * trace pipe. See docs/KERNEL.md.
 *
 * Errors are negative errno values with a one-line message in a caller
 * buffer (err, err_len; err may be NULL) or, for calls on an open map, in
 * visor_kernel_map_errmsg(). Nothing here exits or aborts. */
#ifndef VISOR_KERNEL_H
#define VISOR_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where pins live by convention (bpftool, systemd, Cilium). */
#define VISOR_KERNEL_BPFFS_DIR "/sys/fs/bpf"

/* ---- bpf filesystem ----------------------------------------------------- */

/* Is path on a bpf filesystem (statfs f_type == BPF_FS_MAGIC)? Returns 1 or
 * 0, or a negative errno (-ENOENT: no such path; -EACCES ...) with a message. */
int visor_kernel_is_bpffs(const char *path, char *err, size_t err_len);

/* Makes sure a bpf filesystem is mounted at dir (NULL: /sys/fs/bpf), as
 * bpftool does before pinning: returns 0 if it already was, 1 if this call
 * mounted it (mode 0700; the caller may umount it when done), or a negative
 * errno with a message saying what is missing (-EPERM: not mounted and not
 * root; -ENOENT: dir does not exist; -ENOTDIR). */
int visor_kernel_bpffs_mount(const char *dir, char *err, size_t err_len);

/* ---- tracefs (src/kernel/tracefs.c) ------------------------------------- */

#define VISOR_KERNEL_TRACEFS_DIR "/sys/kernel/tracing"

/* Where tracefs is (*dir: /sys/kernel/tracing, or the old debugfs place when
 * only that is there), mounting it at /sys/kernel/tracing when missing and
 * root (*mounted = true; left mounted, as bpftool does). -EACCES when it is
 * missing and mounting needs root; other -errno with the mount's error. */
int visor_kernel_tracefs(const char **dir, bool *mounted, char *err, size_t err_len);

/* ---- Pinned maps -------------------------------------------------------- */

/* What the kernel says about a map (struct bpf_map_info), plus the value
 * layout user space exchanges with it. */
struct visor_kernel_map_info {
	uint32_t id;
	uint32_t type;          /* enum bpf_map_type (= enum visor_map_type numbers) */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;
	char name[16];          /* "" when created without a name */
	uint32_t btf_id;        /* 0: no BTF */
	uint32_t btf_key_type_id;
	uint32_t btf_value_type_id;
	/* Values per lookup: libbpf_num_possible_cpus() for per-CPU types, else 1. */
	uint32_t nr_cpus;
	/* Distance between two CPUs' values: value_size rounded up to 8 for
	 * per-CPU types, else value_size. */
	uint32_t value_stride;
	/* Bytes a lookup writes: nr_cpus * value_stride. */
	size_t value_buf_size;
};

struct visor_kernel_map;

/* Opens the map pinned at path (bpf_obj_get) and reads its description.
 * Returns 0 and *map, or a negative errno with one line naming path:
 * -ENOENT no such pin (and whether bpffs is mounted), -EINVAL path is not on
 * a bpf filesystem, -EBADF the pin is a program/link/BTF, not a map, -EACCES
 * / -EPERM not allowed (needs root or CAP_BPF), -ENOSYS bpf() unavailable. */
int visor_kernel_map_open_pinned(const char *path, struct visor_kernel_map **map,
				 char *err, size_t err_len);
/* Closes the fd and frees the map; NULL is ignored. The pin stays. */
void visor_kernel_map_close(struct visor_kernel_map *map);

const struct visor_kernel_map_info *visor_kernel_map_info(const struct visor_kernel_map *map);
int visor_kernel_map_fd(const struct visor_kernel_map *map); /* owned by map */
/* The message of the last failed call on this map ("" if none). */
const char *visor_kernel_map_errmsg(const struct visor_kernel_map *map);

/* libbpf's name of a map type ("hash", "percpu_array" ...) or NULL. */
const char *visor_kernel_map_type_name(uint32_t type);
/* Types whose elements have no keys to walk (queue, stack, ring buffers,
 * bloom filter): get_next_key does not apply. */
bool visor_kernel_map_type_keyless(uint32_t type);

/* bpf_map_get_next_key: key NULL gives the first key; -ENOENT after the
 * last. next_key holds key_size bytes. */
int visor_kernel_map_get_next_key(struct visor_kernel_map *map, const void *key, void *next_key);
/* bpf_map_lookup_elem: value holds info->value_buf_size bytes (one value per
 * CPU, value_stride apart, for per-CPU maps). -ENOENT when missing;
 * -EOPNOTSUPP or -524 (ENOTSUPP) for types user space cannot read
 * (perf event arrays ...). */
int visor_kernel_map_lookup(struct visor_kernel_map *map, const void *key, void *value);

/* ---- BTF-formatted keys and values -------------------------------------- */

/* Formats one key, or one value (one CPU's for per-CPU maps: value_size
 * bytes), through the map's BTF with libbpf's btf_dump__dump_type_data, on
 * one line: "(struct pkt_stats){.packets = (__u64)5,.bytes = (__u64)210,}".
 * Writes at most buf_len bytes including the NUL and returns the length of
 * the whole text (as snprintf: >= buf_len means truncated), or a negative
 * errno: -ENODATA the map has no BTF for it; others with a message. The
 * map's BTF is fetched from the kernel on first use. */
int visor_kernel_map_format_key(struct visor_kernel_map *map, const void *key, char *buf,
				size_t buf_len);
int visor_kernel_map_format_value(struct visor_kernel_map *map, const void *value, char *buf,
				  size_t buf_len);


/* ---- Objects loaded into the kernel (libbpf) ------------------------------
 * src/kernel/kobj.c. An object file compiled with clang -target bpf, opened
 * and loaded by libbpf (relocations, maps, BTF, CO-RE against the running
 * kernel's BTF), with every attachment made through it kept as a bpf_link
 * that visor_kernel_obj_close (or the process's death) detaches. */

struct visor_kernel_obj;
struct visor_kernel_link;

struct visor_kernel_obj_opts {
	size_t sz;
	const char *const *progs;  /* load only these programs (NULL: all) */
	size_t nprogs;
	unsigned log_level;        /* the kernel verifier's log, on failure (default 1) */
	/* Program types (BPF_PROG_TYPE_*) for progs[i], overriding what the
	 * section says (0: the section's), as BCC's load_func(fn, type): a
	 * struct __sk_buff * function loaded as SCHED_CLS for tc. Needs progs. */
	const uint32_t *prog_types;
	/* An object loaded from the same file whose maps this one uses (by
	 * name, bpf_map__reuse_fd): both load the same programs' tables. */
	struct visor_kernel_obj *share_maps;
};

/* Opens and loads path. Returns 0 and *obj, or a negative errno with one
 * line: the file (-ENOENT, -EINVAL not an eBPF object), the kernel's
 * verifier refusal (-EACCES, with its last log line and the program), a
 * privilege problem (-EPERM: "loading programs needs root or CAP_BPF +
 * CAP_PERFMON (+ CAP_NET_ADMIN for XDP/tc)"; RLIMIT_MEMLOCK named when it is
 * the limit). */
int visor_kernel_obj_load(const char *path, const struct visor_kernel_obj_opts *opts,
			  struct visor_kernel_obj **obj, char *err, size_t err_len);
/* Detaches every link made through obj, then unloads; NULL is ignored. */
void visor_kernel_obj_close(struct visor_kernel_obj *obj);

size_t visor_kernel_obj_prog_count(const struct visor_kernel_obj *obj);
const char *visor_kernel_obj_prog_name(const struct visor_kernel_obj *obj, size_t i);
const char *visor_kernel_obj_prog_section(const struct visor_kernel_obj *obj, size_t i);
int visor_kernel_obj_prog_fd(const struct visor_kernel_obj *obj, const char *name); /* -ENOENT */
size_t visor_kernel_obj_map_count(const struct visor_kernel_obj *obj);
const char *visor_kernel_obj_map_name(const struct visor_kernel_obj *obj, size_t i);
/* The object's map as an open kernel map (the pinned-map API above works
 * on it: walk, look up, format). Owned by obj. NULL: no such map. */
struct visor_kernel_map *visor_kernel_obj_map(struct visor_kernel_obj *obj, const char *name);

/* ---- Attaching (src/kernel/attach.c, attach_net.c) ------------------------ */

/* (VISOR_KERNEL_ATTACH_*: object.h's VISOR_ATTACH_* are the Linux attach types.) */
enum visor_kernel_attach_kind {
	VISOR_KERNEL_ATTACH_AUTO = 0,      /* from the program's section name */
	VISOR_KERNEL_ATTACH_TRACEPOINT,    /* target "category/name" */
	VISOR_KERNEL_ATTACH_RAW_TRACEPOINT,/* target "name" */
	VISOR_KERNEL_ATTACH_UPROBE,        /* target binary path, func symbol, pid (-1: all), retprobe */
	VISOR_KERNEL_ATTACH_XDP,           /* target interface name */
	VISOR_KERNEL_ATTACH_TC,            /* target interface name, egress */
	VISOR_KERNEL_ATTACH_SOCKET,        /* sock_fd, or target interface name: visor opens a raw socket */
	VISOR_KERNEL_ATTACH_PERF_EVENT,    /* software cpu-clock, freq samples/s, on every CPU */
	VISOR_KERNEL_ATTACH_KPROBE,        /* target function; falls back to the syscall tracepoint */
	/* target a cgroup v2 directory, egress = direction (by section:
	 * cgroup_skb/ingress or /egress, the directory from opts->target);
	 * src/kernel/attach_cgroup.c. */
	VISOR_KERNEL_ATTACH_CGROUP_SKB,
};

struct visor_kernel_attach_opts {
	size_t sz;
	int kind;              /* enum visor_kernel_attach_kind */
	const char *target;
	const char *func;      /* uprobes: symbol in target's ELF symbol table */
	int pid;               /* uprobes / perf events: -1 (0 also means all) */
	bool retprobe;         /* uretprobe / kretprobe */
	bool egress;           /* tc, cgroup skb: the egress hook (default ingress) */
	bool generic;          /* XDP: skb (generic) mode from the start */
	int sock_fd;           /* socket filters: an existing socket (else target) */
	uint64_t freq;         /* perf events: samples per second (default 99) */
};

/* Attaches program prog of obj (opts NULL: by its section name, as libbpf's
 * auto-attach, with visor's fallbacks: kprobe__<syscall> or
 * SEC("kprobe/__x64_sys_X") to the syscalls/sys_enter_X tracepoint on a
 * kernel without kprobes, said once on stderr-like note in *note; XDP native
 * falling back to generic with a note; tc through tcx links where the
 * kernel has them, else a clsact qdisc). The link is kept by obj and also
 * returned in *link (may be NULL). Errors: one line naming what is missing:
 * "no tracepoint syscalls/sys_enter_foo (see /sys/kernel/tracing/events)",
 * "/bin/nope: no such binary", "symbol 'f' not found in /bin/ls",
 * "no interface 'veth9'", "kprobes are not available in this kernel: use
 * tracepoint/syscalls/sys_enter_clone", privileges. */
int visor_kernel_attach(struct visor_kernel_obj *obj, const char *prog,
			const struct visor_kernel_attach_opts *opts, struct visor_kernel_link **link,
			char *note, size_t note_len, char *err, size_t err_len);
/* Does this kernel have kprobes (the kprobe PMU)? Without them visor loads
 * syscall kprobes as programs of the syscall tracepoints (see above). */
bool visor_kernel_has_kprobes(void);
/* The syscall a kernel function name stands for ("__x64_sys_getpid",
 * "sys_getpid" -> "getpid"), or NULL: the names visor's fallback maps. */
const char *visor_kernel_syscall_of(const char *func);
/* Every program of obj by its section (programs with no attach point, e.g.
 * SEC("xdp") without a target, are skipped and listed in note). On error
 * the links made so far are destroyed: nothing is left half-attached. */
int visor_kernel_attach_all(struct visor_kernel_obj *obj, char *note, size_t note_len, char *err,
			    size_t err_len);
/* Detaches now (obj forgets it). */
void visor_kernel_link_destroy(struct visor_kernel_link *link);
/* Detaches every link made through obj; its maps stay readable. */
void visor_kernel_obj_detach_all(struct visor_kernel_obj *obj);
/* The i-th link made through obj (newest first), NULL past the end. */
struct visor_kernel_link *visor_kernel_obj_link_at(const struct visor_kernel_obj *obj, size_t i);
/* An fd the link owns (the link's, or the raw socket visor opened for a
 * socket filter), or -1. */
int visor_kernel_link_fd(const struct visor_kernel_link *link);
/* "tracepoint syscalls/sys_enter_openat", "xdp on veth0 (generic)" ... */
const char *visor_kernel_link_describe(const struct visor_kernel_link *link);

/* ---- Output channels (src/kernel/ringbuf.c, perfbuf.c, trace_pipe.c) ------ */

/* A record from a ring buffer or perf buffer map; return non-zero to stop
 * polling (the value is returned by poll). */
typedef int (*visor_kernel_sample_fn)(void *ctx, const void *data, size_t size);
/* Perf buffers may drop records when user space is slow: lost_fn is told. */
typedef void (*visor_kernel_lost_fn)(void *ctx, int cpu, uint64_t count);

struct visor_kernel_ringbuf;
int visor_kernel_ringbuf_open(struct visor_kernel_obj *obj, const char *map,
			      visor_kernel_sample_fn fn, void *ctx,
			      struct visor_kernel_ringbuf **rb, char *err, size_t err_len);
/* Waits up to timeout_ms (-1: forever) and calls fn for each record, in
 * order. Returns the number of records, a callback's non-zero value, or a
 * negative errno (-EINTR when a signal arrived). */
int visor_kernel_ringbuf_poll(struct visor_kernel_ringbuf *rb, int timeout_ms);
void visor_kernel_ringbuf_free(struct visor_kernel_ringbuf *rb);

struct visor_kernel_perfbuf;
int visor_kernel_perfbuf_open(struct visor_kernel_obj *obj, const char *map,
			      visor_kernel_sample_fn fn, visor_kernel_lost_fn lost, void *ctx,
			      struct visor_kernel_perfbuf **pb, char *err, size_t err_len);
int visor_kernel_perfbuf_poll(struct visor_kernel_perfbuf *pb, int timeout_ms);
void visor_kernel_perfbuf_free(struct visor_kernel_perfbuf *pb);

/* The trace pipe (bpf_trace_printk output), mounting tracefs at
 * /sys/kernel/tracing when root and it is missing. */
struct visor_kernel_trace;
int visor_kernel_trace_open(struct visor_kernel_trace **tr, char *err, size_t err_len);
/* Calls fn for each complete line read within timeout_ms ("comm-pid [cpu]
 * flags timestamp: bpf_trace_printk: text"); returns lines read or -errno. */
int visor_kernel_trace_poll(struct visor_kernel_trace *tr, int timeout_ms,
			    void (*fn)(void *ctx, const char *line), void *ctx);
void visor_kernel_trace_close(struct visor_kernel_trace *tr);
/* One call: prints every trace line to out until timeout_ms passes (BCC's
 * trace_print). */
int visor_trace_print(FILE *out, int timeout_ms, char *err, size_t err_len);

/* ---- What is loaded in the kernel (src/kernel/list.c) --------------------- */

struct visor_kernel_prog_info {
	uint32_t id, type;
	char name[16];
	char tag[17];          /* hex */
	uint32_t insns;        /* translated instructions */
	uint64_t run_cnt, run_time_ns; /* when kernel.bpf_stats_enabled */
};
/* Calls fn for every program (BPF_PROG_GET_NEXT_ID); 0 or -errno. */
int visor_kernel_prog_list(int (*fn)(void *ctx, const struct visor_kernel_prog_info *info),
			   void *ctx, char *err, size_t err_len);
/* Calls fn for every map with its info; 0 or -errno. */
int visor_kernel_map_list(int (*fn)(void *ctx, const struct visor_kernel_map_info *info),
			  void *ctx, char *err, size_t err_len);
/* Opens the map with this id (BPF_MAP_GET_FD_BY_ID), as open_pinned. */
int visor_kernel_map_open_id(uint32_t id, struct visor_kernel_map **map, char *err,
			     size_t err_len);

/* ---- One load call over both backends (src/kernel/backend.c) -------------
 * The same object file loaded on visor's engine or into the kernel; maps
 * and global data are reached through visor_map_* and programs are
 * test-run through one call either way. */
#define VISOR_BACKEND_VM 1u     /* visor's engine: the verifier checks every program */
#define VISOR_BACKEND_KERNEL 2u /* the kernel, through libbpf */

struct visor_loaded;
struct visor_map;
struct visor_prog_test_run_opts;
struct visor_obj_vm;

/* Loads path on exactly one backend (else -EINVAL). VM: visor_obj_open_file
 * + visor_obj_vm_load with every program required to load; KERNEL:
 * visor_kernel_obj_load. Returns 0 and *out, or a negative errno with one
 * line in err (the backend's message). */
int visor_obj_load(const char *path, unsigned backend, struct visor_loaded **out, char *err,
		   size_t err_len);
unsigned visor_loaded_backend(const struct visor_loaded *l);
/* The object's map, owned by l (NULL: no such map). Global data by its
 * section name (".bss", ".data", ".rodata", ".data.stats") on both
 * backends; libbpf's "obj.bss" form works on both too. On the kernel the
 * map is a proxy (visor_map_create_proxy) over the map's fd: user-space
 * calls only; it must not outlive l. */
struct visor_map *visor_loaded_map(struct visor_loaded *l, const char *name);
/* One test run of program prog: VM, visor_prog_test_run on its VM; KERNEL,
 * BPF_PROG_TEST_RUN with data_in/out, ctx_in/out, repeat, giving retval,
 * duration and the out sizes (ctx layouts are each backend's own; engine,
 * cpu, budget and redirect are VM-only). 0 or a negative errno with one
 * line in opts->errbuf. */
int visor_loaded_test_run(struct visor_loaded *l, const char *prog,
			  struct visor_prog_test_run_opts *opts);
/* The backend's own object (NULL on the other backend), for attaching. */
struct visor_kernel_obj *visor_loaded_kernel_obj(struct visor_loaded *l);
struct visor_obj_vm *visor_loaded_vm(struct visor_loaded *l);
/* Proxies, programs and maps go; NULL is ignored. */
void visor_loaded_close(struct visor_loaded *l);

#ifdef __cplusplus
}
#endif
#endif
