/* visor — the ELF object loader: reads what `clang -target bpf -c` makes of
 * libbpf-style sources into a self-contained model (programs with their
 * subprograms appended and relocations recorded, map definitions, global
 * data, license, BTF line info). It never executes and never creates maps:
 * the VM runtime and the kernel backend build on this model.
 *
 * Errors: a NULL object with errno set (positive, as libbpf 1.x) and one line
 * in the caller's buffer; queries return 0 or a negative errno. */
#ifndef VISOR_OBJECT_H
#define VISOR_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

#ifdef __cplusplus
extern "C" {
#endif

struct btf; /* libbpf's <bpf/btf.h> */
struct visor_obj;
struct visor_obj_prog;

/* ---- Linux numbering (spelled out: Debian's UAPI header is older) ------- */

enum visor_prog_type { /* enum bpf_prog_type */
	VISOR_PROG_TYPE_UNSPEC = 0,
	VISOR_PROG_TYPE_SOCKET_FILTER = 1,
	VISOR_PROG_TYPE_KPROBE = 2,
	VISOR_PROG_TYPE_SCHED_CLS = 3,
	VISOR_PROG_TYPE_SCHED_ACT = 4,
	VISOR_PROG_TYPE_TRACEPOINT = 5,
	VISOR_PROG_TYPE_XDP = 6,
	VISOR_PROG_TYPE_PERF_EVENT = 7,
	VISOR_PROG_TYPE_CGROUP_SKB = 8,
	VISOR_PROG_TYPE_CGROUP_SOCK = 9,
	VISOR_PROG_TYPE_LWT_IN = 10,
	VISOR_PROG_TYPE_LWT_OUT = 11,
	VISOR_PROG_TYPE_LWT_XMIT = 12,
	VISOR_PROG_TYPE_SOCK_OPS = 13,
	VISOR_PROG_TYPE_SK_SKB = 14,
	VISOR_PROG_TYPE_CGROUP_DEVICE = 15,
	VISOR_PROG_TYPE_SK_MSG = 16,
	VISOR_PROG_TYPE_RAW_TRACEPOINT = 17,
	VISOR_PROG_TYPE_CGROUP_SOCK_ADDR = 18,
	VISOR_PROG_TYPE_LWT_SEG6LOCAL = 19,
	VISOR_PROG_TYPE_LIRC_MODE2 = 20,
	VISOR_PROG_TYPE_SK_REUSEPORT = 21,
	VISOR_PROG_TYPE_FLOW_DISSECTOR = 22,
	VISOR_PROG_TYPE_CGROUP_SYSCTL = 23,
	VISOR_PROG_TYPE_RAW_TRACEPOINT_WRITABLE = 24,
	VISOR_PROG_TYPE_CGROUP_SOCKOPT = 25,
	VISOR_PROG_TYPE_TRACING = 26,
	VISOR_PROG_TYPE_STRUCT_OPS = 27,
	VISOR_PROG_TYPE_EXT = 28,
	VISOR_PROG_TYPE_LSM = 29,
	VISOR_PROG_TYPE_SK_LOOKUP = 30,
	VISOR_PROG_TYPE_SYSCALL = 31,
	VISOR_PROG_TYPE_NETFILTER = 32,
};

enum visor_attach_type { /* enum bpf_attach_type */
	VISOR_ATTACH_CGROUP_INET_INGRESS = 0,
	VISOR_ATTACH_CGROUP_INET_EGRESS = 1,
	VISOR_ATTACH_CGROUP_INET_SOCK_CREATE = 2,
	VISOR_ATTACH_CGROUP_SOCK_OPS = 3,
	VISOR_ATTACH_SK_SKB_STREAM_PARSER = 4,
	VISOR_ATTACH_SK_SKB_STREAM_VERDICT = 5,
	VISOR_ATTACH_CGROUP_DEVICE = 6,
	VISOR_ATTACH_SK_MSG_VERDICT = 7,
	VISOR_ATTACH_CGROUP_INET4_BIND = 8,
	VISOR_ATTACH_CGROUP_INET6_BIND = 9,
	VISOR_ATTACH_CGROUP_INET4_CONNECT = 10,
	VISOR_ATTACH_CGROUP_INET6_CONNECT = 11,
	VISOR_ATTACH_CGROUP_INET4_POST_BIND = 12,
	VISOR_ATTACH_CGROUP_INET6_POST_BIND = 13,
	VISOR_ATTACH_CGROUP_UDP4_SENDMSG = 14,
	VISOR_ATTACH_CGROUP_UDP6_SENDMSG = 15,
	VISOR_ATTACH_LIRC_MODE2 = 16,
	VISOR_ATTACH_FLOW_DISSECTOR = 17,
	VISOR_ATTACH_CGROUP_SYSCTL = 18,
	VISOR_ATTACH_CGROUP_UDP4_RECVMSG = 19,
	VISOR_ATTACH_CGROUP_UDP6_RECVMSG = 20,
	VISOR_ATTACH_CGROUP_GETSOCKOPT = 21,
	VISOR_ATTACH_CGROUP_SETSOCKOPT = 22,
	VISOR_ATTACH_TRACE_RAW_TP = 23,
	VISOR_ATTACH_TRACE_FENTRY = 24,
	VISOR_ATTACH_TRACE_FEXIT = 25,
	VISOR_ATTACH_MODIFY_RETURN = 26,
	VISOR_ATTACH_LSM_MAC = 27,
	VISOR_ATTACH_TRACE_ITER = 28,
	VISOR_ATTACH_CGROUP_INET4_GETPEERNAME = 29,
	VISOR_ATTACH_CGROUP_INET6_GETPEERNAME = 30,
	VISOR_ATTACH_CGROUP_INET4_GETSOCKNAME = 31,
	VISOR_ATTACH_CGROUP_INET6_GETSOCKNAME = 32,
	VISOR_ATTACH_XDP_DEVMAP = 33,
	VISOR_ATTACH_CGROUP_INET_SOCK_RELEASE = 34,
	VISOR_ATTACH_XDP_CPUMAP = 35,
	VISOR_ATTACH_SK_LOOKUP = 36,
	VISOR_ATTACH_XDP = 37,
	VISOR_ATTACH_SK_SKB_VERDICT = 38,
	VISOR_ATTACH_SK_REUSEPORT_SELECT = 39,
	VISOR_ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE = 40,
	VISOR_ATTACH_PERF_EVENT = 41,
	VISOR_ATTACH_TRACE_KPROBE_MULTI = 42,
	VISOR_ATTACH_LSM_CGROUP = 43,
	VISOR_ATTACH_STRUCT_OPS = 44,
	VISOR_ATTACH_NETFILTER = 45,
	VISOR_ATTACH_TCX_INGRESS = 46,
	VISOR_ATTACH_TCX_EGRESS = 47,
	VISOR_ATTACH_TRACE_UPROBE_MULTI = 48,
	VISOR_ATTACH_CGROUP_UNIX_CONNECT = 49,
	VISOR_ATTACH_CGROUP_UNIX_SENDMSG = 50,
	VISOR_ATTACH_CGROUP_UNIX_RECVMSG = 51,
	VISOR_ATTACH_CGROUP_UNIX_GETPEERNAME = 52,
	VISOR_ATTACH_CGROUP_UNIX_GETSOCKNAME = 53,
	VISOR_ATTACH_NETKIT_PRIMARY = 54,
	VISOR_ATTACH_NETKIT_PEER = 55,
};

/* prog_flags a section name implies (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
#define VISOR_PROG_F_SLEEPABLE (1U << 4)
#define VISOR_PROG_F_XDP_HAS_FRAGS (1U << 5)

/* Pseudo sources the loader writes into instructions (the kernel's values). */
#define VISOR_PSEUDO_MAP_FD 1       /* lddw: imm = map index (an fd for the kernel) */
#define VISOR_PSEUDO_MAP_VALUE 2    /* lddw: imm = map index, next imm = offset */
#define VISOR_PSEUDO_FUNC 4         /* lddw: imm = relative insn offset of a subprogram */
#define VISOR_PSEUDO_CALL 1         /* call: imm = relative insn offset of a subprogram */
#define VISOR_PSEUDO_KFUNC_CALL 2   /* call: an extern kernel function (imm 0) */

/* ---- Opening ------------------------------------------------------------ */

/* Zero-initialise and set .sz = sizeof (VISOR_OPTS) so the struct can grow. */
struct visor_obj_open_opts {
	size_t sz;
	const char *name;  /* object name; default: the file name up to its first '.', or "mem" */
	size_t max_size;   /* refuse larger inputs (-EFBIG); 0 = 64 MiB */
};

#ifndef VISOR_OPTS
#define VISOR_OPTS(type, name, ...) \
	struct type name = {.sz = sizeof(struct type), __VA_ARGS__}
#endif

/* Parse an object. opts may be NULL. On failure: NULL, errno = the reason
 * (EINVAL malformed, ENOTSUP valid ELF but not an eBPF object visor reads,
 * E2BIG limits, ENOMEM, or the open()/read() error) and one line in err.
 * Objects using features visor's VM cannot run (CO-RE against kernel types,
 * kfuncs, externs) still open: see visor_obj_prog_unsupported(). */
struct visor_obj *visor_obj_open_file(const char *path, const struct visor_obj_open_opts *opts,
				      char *err, size_t errlen);
/* Same from memory; the bytes are copied, nothing refers to them later. */
struct visor_obj *visor_obj_open_mem(const void *data, size_t size,
				     const struct visor_obj_open_opts *opts, char *err, size_t errlen);
void visor_obj_close(struct visor_obj *obj); /* NULL is ignored */

const char *visor_obj_name(const struct visor_obj *obj);
const char *visor_obj_license(const struct visor_obj *obj); /* "" without a license section */
uint32_t visor_obj_kern_version(const struct visor_obj *obj); /* "version" section, else 0 */
/* The object's BTF (libbpf's type, read with <bpf/btf.h>); NULL without .BTF. */
const struct btf *visor_obj_btf(const struct visor_obj *obj);

/* ---- Programs ----------------------------------------------------------- */

/* One function of a program's instruction stream: the entry function first
 * (start 0), then each subprogram it calls, transitively, once. */
struct visor_obj_subprog {
	const char *name;
	uint32_t start;       /* first instruction in the program's stream */
	uint32_t insn_count;
	uint32_t btf_func_id; /* BTF FUNC type from .BTF.ext func info, 0 if none */
	bool global;          /* STB_GLOBAL: the kernel verifies it on its own */
};

enum visor_obj_reloc_kind {
	VISOR_OBJ_RELO_MAP_FD = 1,    /* lddw rX, map: src VISOR_PSEUDO_MAP_FD */
	VISOR_OBJ_RELO_MAP_VALUE = 2, /* lddw rX, &global + offset: src VISOR_PSEUDO_MAP_VALUE */
	VISOR_OBJ_RELO_FUNC = 3,      /* lddw rX, subprogram (bpf_loop callbacks): VISOR_PSEUDO_FUNC */
	VISOR_OBJ_RELO_CALL = 4,      /* bpf-to-bpf call, already resolved (informational) */
	VISOR_OBJ_RELO_KFUNC = 5,     /* call of an extern (__ksym) kernel function */
	VISOR_OBJ_RELO_EXTERN = 6,    /* lddw of an extern variable (__kconfig, __ksym) */
};

/* One relocated instruction in a program's stream. */
struct visor_obj_reloc {
	uint32_t insn_idx;  /* the instruction (the first slot of an lddw) */
	uint32_t kind;      /* enum visor_obj_reloc_kind */
	int32_t map_idx;    /* MAP_FD, MAP_VALUE: index of the map definition, else -1 */
	uint32_t offset;    /* MAP_VALUE: byte offset in the value; FUNC, CALL: target insn */
	int32_t extern_idx; /* KFUNC, EXTERN: index into visor_obj_externs(), else -1 */
	const char *sym;    /* the symbol the compiler referenced (for messages) */
};

/* A CO-RE relocation (.BTF.ext core_relo) kept for the instruction it patches. */
struct visor_obj_core_relo {
	uint32_t insn_idx;
	uint32_t kind;        /* enum bpf_core_relo_kind: 0 field byte offset ... */
	uint32_t type_id;     /* root type in the object's BTF */
	const char *access;   /* access string, "0:1:2" */
};

/* Parsed attach target of the section name (all strings owned by the object). */
struct visor_obj_attach {
	const char *target;   /* text after the first '/', NULL if none */
	const char *category; /* tracepoint/<category>/<name> */
	const char *name;     /* tracepoint name, raw_tp / tp_btf / fentry target, kprobe function */
	const char *binary;   /* uprobe/<binary>:<function>[+offset] */
	const char *func;     /* uprobe / kprobe function, NULL for a bare address */
	uint64_t offset;      /* +offset (or the address when func is NULL) */
	bool retprobe;        /* kretprobe, uretprobe */
};

size_t visor_obj_prog_count(const struct visor_obj *obj);
struct visor_obj_prog *visor_obj_prog_at(const struct visor_obj *obj, size_t i);
struct visor_obj_prog *visor_obj_find_prog(const struct visor_obj *obj, const char *name);

const char *visor_obj_prog_name(const struct visor_obj_prog *prog);
const char *visor_obj_prog_section(const struct visor_obj_prog *prog); /* without a leading '?' */
uint32_t visor_obj_prog_type(const struct visor_obj_prog *prog);       /* enum visor_prog_type */
uint32_t visor_obj_prog_expected_attach_type(const struct visor_obj_prog *prog);
uint32_t visor_obj_prog_flags(const struct visor_obj_prog *prog);      /* VISOR_PROG_F_* */
bool visor_obj_prog_autoload(const struct visor_obj_prog *prog);       /* false for SEC("?...") */
const struct visor_obj_attach *visor_obj_prog_attach(const struct visor_obj_prog *prog);
/* The relocated instruction stream: the program, then its subprograms. */
const struct visor_insn *visor_obj_prog_insns(const struct visor_obj_prog *prog);
size_t visor_obj_prog_insn_count(const struct visor_obj_prog *prog);
const struct visor_obj_reloc *visor_obj_prog_relocs(const struct visor_obj_prog *prog, size_t *count);
const struct visor_obj_subprog *visor_obj_prog_subprogs(const struct visor_obj_prog *prog,
							size_t *count);
const struct visor_obj_core_relo *visor_obj_prog_core_relos(const struct visor_obj_prog *prog,
							    size_t *count);

/* Source position of an instruction from BTF line info: the nearest line
 * record at or before insn_idx within the same function. Any out pointer may
 * be NULL. 0, or -ENOENT without line info, -ERANGE past the end. */
int visor_obj_prog_line(const struct visor_obj_prog *prog, size_t insn_idx, const char **file,
			unsigned *line, const char **text);
/* The same, shaped as the verifier's visor_verify_line_fn (ctx = prog). */
int visor_obj_prog_line_cb(void *prog, size_t insn_idx, const char **file, unsigned *line,
			   const char **text);

/* Can visor's own engine run this program? 0 if nothing stands in the way
 * that the object shows; else -EOPNOTSUPP and one line naming the feature,
 * the program and the source line, e.g.
 *   prog 'trace': kfunc call to 'bpf_task_acquire' (c.bpf.c:15: `a = ...`)
 * Kernel loading (libbpf) does not need to ask: CO-RE and externs are fine. */
int visor_obj_prog_unsupported(const struct visor_obj_prog *prog, char *msg, size_t len);

/* ---- Map definitions ---------------------------------------------------- */

enum visor_obj_map_origin {
	VISOR_OBJ_MAP_BTF = 1,    /* BTF-defined, SEC(".maps") */
	VISOR_OBJ_MAP_LEGACY = 2, /* struct bpf_map_def in SEC("maps") */
	VISOR_OBJ_MAP_DATA = 3,   /* a global data section as a one-entry array */
	VISOR_OBJ_MAP_INNER = 4,  /* the template of a map-in-map's inner maps */
};

/* A statically initialised slot of a prog array or map-in-map
 * (`.values = { [2] = &prog }`): either prog_idx or map_idx is >= 0. */
struct visor_obj_map_slot {
	uint32_t slot;
	int32_t prog_idx;
	int32_t map_idx;
};

struct visor_obj_map_def {
	const char *name;      /* variable name; global data: the section (".rodata") */
	uint32_t origin;       /* enum visor_obj_map_origin */
	uint32_t type;         /* Linux enum bpf_map_type (enum visor_map_type) */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;    /* Linux BPF_F_*: .rodata gets BPF_F_RDONLY_PROG */
	uint32_t numa_node;
	uint32_t pinning;      /* 0 none, 1 by name (LIBBPF_PIN_BY_NAME) */
	uint64_t map_extra;
	uint32_t btf_key_type_id;   /* from __type(key, ...), else 0 */
	uint32_t btf_value_type_id;
	bool read_only;        /* .rodata*: programs may not write */
	const void *init_data; /* global data: value_size bytes; NULL = zeros (.bss) */
	const struct visor_obj_map_def *inner; /* map-in-map: inner map template */
	const struct visor_obj_map_slot *slots; /* static initialisers */
	size_t slot_count;
	bool has_spin_lock;     /* the value's BTF holds a struct bpf_spin_lock ... */
	uint32_t spin_lock_off; /* ... at this offset */
};

size_t visor_obj_map_count(const struct visor_obj *obj);
const struct visor_obj_map_def *visor_obj_map_def_at(const struct visor_obj *obj, size_t i);
int visor_obj_find_map(const struct visor_obj *obj, const char *name); /* index or -ENOENT */

/* ---- Externs ------------------------------------------------------------ */

enum visor_obj_extern_kind {
	VISOR_OBJ_EXTERN_UNKNOWN = 0,
	VISOR_OBJ_EXTERN_KCONFIG = 1, /* extern ... __kconfig (CONFIG_*, LINUX_KERNEL_VERSION) */
	VISOR_OBJ_EXTERN_KSYM = 2,    /* extern variable __ksym */
	VISOR_OBJ_EXTERN_KFUNC = 3,   /* extern function __ksym */
};

struct visor_obj_extern {
	const char *name;
	uint32_t kind; /* enum visor_obj_extern_kind */
	bool weak;
};
const struct visor_obj_extern *visor_obj_externs(const struct visor_obj *obj, size_t *count);

/* ---- Names -------------------------------------------------------------- */

/* "xdp", "hash", "xdp" ...; NULL for numbers visor does not know. */
const char *visor_obj_prog_type_name(uint32_t type);
const char *visor_obj_attach_type_name(uint32_t type);
const char *visor_obj_map_type_name(uint32_t type);

/* ---- Typed data as text through BTF (src/object/btf_text.c) ------------
 * One formatter for both backends' formatted map dumps: libbpf's btf_dump
 * over a BTF, made once, printing data C-like on one line with zeroed
 * fields named (bpftool's formatted dump). */

struct visor_btf_text;

/* A formatter over btf, which must outlive it; NULL with errno set. */
struct visor_btf_text *visor_btf_text_new(const struct btf *btf);
/* data (size bytes) as type_id of the BTF into buf, NUL-terminated when len
 * is non-zero: the whole length, as snprintf, or a negative errno. */
int visor_btf_text_format(struct visor_btf_text *t, uint32_t type_id, const void *data,
			  size_t size, char *buf, size_t len);
void visor_btf_text_free(struct visor_btf_text *t); /* NULL is ignored */

/* ---- From the model to the visor engine (src/object/vm_load.c) ---------- */

struct visor_vm;
struct visor_map;

/* Creates one map per definition of obj, in the order of
 * visor_obj_map_def_at() (the table the object's relocations index): global
 * data initialised, map-in-map static slots filled. Prog arrays made here
 * store bare ids (no program behind them: their slots stay empty for tail
 * calls); visor_obj_vm_load wires them. Returns 0 with a malloc'd array, or
 * a negative errno and one line in err naming the map. */
int visor_obj_maps_create(const struct visor_obj *obj, struct visor_map ***maps, size_t *count,
			     char *err, size_t errlen);
void visor_obj_maps_destroy(struct visor_map **maps, size_t count); /* NULL is ignored */

/* Binds maps (from visor_obj_maps_create), sets the program type,
 * registers the Linux helpers, loads prog into a fresh vm and verifies it
 * (visor_verify_vm, messages with source lines): a program the verifier
 * refuses is unloaded and refused with -EACCES (-E2BIG, -EINVAL) and the
 * verifier's reason, unless vm is in unsafe mode (visor_vm_set_unsafe),
 * where it stays loaded to run with run-time checks. Refuses what
 * the VM cannot run with -EOPNOTSUPP and one line: the loader's reason
 * (visor_obj_prog_unsupported) or a program type other than XDP. Other
 * errors: those of visor_vm_load, with the VM's message in err. */
int visor_obj_prog_load_vm(struct visor_vm *vm, const struct visor_obj_prog *prog,
			   struct visor_map *const *maps, size_t count, char *err, size_t errlen);

/* ---- A whole object on the visor engine (src/object/vm_load.c) ----------
 * One call: the maps created once, every program the VM can run loaded
 * into a VM of its own (all bound to the same maps), prog arrays wired to
 * those VMs for bpf_tail_call. The VM backend's half of a later
 * visor_obj_load(obj, backends). */

struct visor_obj_vm;

/* Zero-initialise with .sz set (VISOR_OPTS); NULL means all defaults. */
struct visor_obj_vm_opts {
	size_t sz;
	bool jit;            /* JIT-compile every loaded program (a failure fails the load) */
	unsigned jit_flags;  /* VISOR_JIT_* for those compiles */
	bool require_all;    /* fail the load if any program cannot be loaded;
			      * default: keep its reason, load the rest */
	bool unsafe;         /* load programs the verifier refuses too, in unsafe mode
			      * (run-time checks only; visor_vm_set_unsafe) */
};

/* Creates obj's maps, loads every program (SEC("?...") ones too: nothing
 * attaches on the VM) and fills prog arrays' static slots
 * (`.values = { [0] = &prog }`). Each loaded program gets a process-unique
 * id: visor_map_update(prog_array, &idx, &id) stores it, as a prog fd in
 * the kernel. A prog array accepts programs of this object only (another
 * id: -EBADF, the kernel's bad fd) and of its owner's type (-EINVAL, as the
 * kernel): the owner is the first loaded program that uses the array, else
 * the first program stored. A program using a prog array owned by another
 * type is refused (-EINVAL), as the kernel refuses to load it. obj may be
 * closed afterwards. Returns NULL with errno set (positive) and one line in
 * err: a map that could not be created, a static slot naming a program
 * that did not load, a JIT failure, or with require_all the first refusal. */
struct visor_obj_vm *visor_obj_vm_load(const struct visor_obj *obj,
				       const struct visor_obj_vm_opts *opts, char *err,
				       size_t errlen);
/* Empties the object's prog arrays (the kernel clears a prog array when its
 * last user reference goes), waits for runs that may still see their old
 * slots, then frees the VMs and drops the object's map references; a map
 * still referenced elsewhere outlives it, empty of programs. No program of
 * the object may be started during or after the call. NULL is ignored. */
void visor_obj_vm_destroy(struct visor_obj_vm *ovm);

/* The program's VM, ready for visor_vm_exec / visor_prog_test_run; NULL
 * (errno ENOENT, or the reason it was not loaded) if it is not loaded. */
struct visor_vm *visor_obj_vm_prog(const struct visor_obj_vm *ovm, const char *name);
/* 0 if loaded; -ENOENT if the object has no such program; else the load's
 * negative errno, with its one-line reason in *why (if why is non-NULL). */
int visor_obj_vm_prog_status(const struct visor_obj_vm *ovm, const char *name,
			     const char **why);
uint32_t visor_obj_vm_prog_id(const struct visor_obj_vm *ovm, const char *name); /* 0: none */
/* The map table, in visor_obj_map_def_at() order (what relocations index). */
struct visor_map *const *visor_obj_vm_maps(const struct visor_obj_vm *ovm, size_t *count);
struct visor_map *visor_obj_vm_map(const struct visor_obj_vm *ovm, const char *name); /* NULL: none */

#ifdef __cplusplus
}
#endif
#endif
