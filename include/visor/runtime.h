/* visor — the VM runtime: maps bound to a program, the Linux helpers, program
 * contexts (XDP) and a BPF_PROG_TEST_RUN-like entry point, so that objects
 * compiled for the kernel run on visor's engine. See docs/RUNTIME.md. */
#ifndef VISOR_RUNTIME_H
#define VISOR_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <visor/maps.h>
#include <visor/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VISOR_VM_MAX_MAPS 64 /* the kernel's per-program limit is 64 too */

/* Binds the program's map table: a lddw with src MAP_FD (1) or MAP_IDX (5)
 * and imm i loads maps[i] (an opaque handle for the map helpers); src
 * MAP_VALUE (2) / MAP_IDX_VALUE (6) loads the address of the value of key 0
 * of maps[i] (an array) plus the next slot's imm, which becomes a region the
 * program may access (read-only with VISOR_F_RDONLY_PROG). Takes a reference
 * on each map, dropping those of a previous table. Call before
 * visor_vm_load; n == 0 unbinds. Returns 0, -EINVAL (n too large, NULL
 * map), -EBUSY (a program is loaded) or -ENOMEM. */
int visor_vm_set_maps(struct visor_vm *vm, struct visor_map *const *maps, size_t n);

/* The program type (enum visor_prog_type of <visor/object.h>; Linux
 * numbers). 0 (the default) is a plain program: r1 = input memory. XDP (6),
 * SOCKET_FILTER (1) and SCHED_CLS (3, tc) make visor_vm_load rewrite
 * context accesses the way the kernel does (struct visor_xdp_md, struct
 * visor_sk_buff) and refuse helpers the type may not call. Call before visor_vm_load. Returns 0 or -EINVAL
 * (a type without a context visor implements), -EBUSY (program loaded). */
#define VISOR_VM_PROG_SOCKET_FILTER 1
#define VISOR_VM_PROG_SCHED_CLS 3
#define VISOR_VM_PROG_XDP 6
/* Tracing-family types (docs/RUNTIME.md): their context is a buffer the
 * test run's ctx_in fills. KPROBE: struct visor_pt_regs, read-only.
 * TRACEPOINT: the tracepoint's record, read-only, offsets 8 .. 8191.
 * RAW_TRACEPOINT and TRACING: u64 args[12], read-only. SYSCALL: the
 * caller's buffer (up to 65535 bytes), read / write. Accesses must be
 * aligned to their size; atomics and stores into read-only contexts are
 * refused at load. */
#define VISOR_VM_PROG_KPROBE 2
#define VISOR_VM_PROG_TRACEPOINT 5
#define VISOR_VM_PROG_RAW_TRACEPOINT 17
#define VISOR_VM_PROG_TRACING 26
#define VISOR_VM_PROG_SYSCALL 31
int visor_vm_set_prog_type(struct visor_vm *vm, uint32_t type);
/* Does the visor VM have a context for this program type (the ones above)? */
bool visor_vm_prog_type_supported(uint32_t type);

/* What a program of type prog_type may do with its context, the kernel's
 * *_is_valid_access for the type (the rules visor_vm_load applies, usable
 * without a VM, e.g. by the verifier): a load (VISOR_CTX_READ), sign-
 * extending load (VISOR_CTX_READ_SX), store (VISOR_CTX_WRITE) or atomic
 * (VISOR_CTX_ATOMIC) of size bytes at off. Returns 0 and what the field
 * holds in *kind (enum visor_ctx_kind; kind may be NULL): a scalar, or
 * xdp_md's / __sk_buff's data, data_end or data_meta, which programs use as
 * packet pointers. Returns -EACCES when the type may not make that access,
 * -EINVAL for a size other than 1, 2, 4, 8, an unknown access or a type
 * without a context (visor_vm_prog_type_supported); either way a one-line
 * reason in why, naming the context ("tc programs may not access this
 * field: store of struct __sk_buff"); why may be NULL. Offsets and sizes
 * are as programs see the context (struct visor_xdp_md, struct
 * visor_sk_buff, struct visor_pt_regs ...), before any rewrite. */
enum visor_ctx_access { VISOR_CTX_READ, VISOR_CTX_READ_SX, VISOR_CTX_WRITE, VISOR_CTX_ATOMIC };
enum visor_ctx_kind { VISOR_CTX_SCALAR, VISOR_CTX_PKT_DATA, VISOR_CTX_PKT_END, VISOR_CTX_PKT_META };
int visor_vm_ctx_access(uint32_t prog_type, int off, int size, int access, int *kind, char *why,
			size_t why_len);
/* The size of the context of prog_type as programs see it: xdp_md 24,
 * __sk_buff 192, pt_regs 168, a tracepoint record at most 8192, raw
 * tracepoint and tracing args 96, a syscall program's buffer at most 65535;
 * 0 for a type without a context. */
uint32_t visor_vm_ctx_size(uint32_t prog_type);
/* May a program of prog_type call helper id? The VM's allowlist, which
 * visor_vm_load applies: the kernel's func_proto tables for the type
 * (helper_protos.c). A plain program (type 0) may call any helper the VM
 * has registered: true for every id; a type without a context: false. */
bool visor_vm_helper_allowed(uint32_t prog_type, uint32_t id);
/* The Linux name of helper id ("bpf_map_lookup_elem" for 1), or NULL when
 * id is not a Linux helper (0, past the last one visor knows). */
const char *visor_vm_helper_linux_name(uint32_t id);

/* Registers the helpers visor implements under their Linux ids
 * (bpf_map_lookup_elem = 1 ...; the list is in docs/RUNTIME.md). Returns 0
 * or -ENOMEM. */
int visor_vm_register_linux_helpers(struct visor_vm *vm);

/* Where bpf_trace_printk output goes: fn(ctx, line, len), line formatted
 * and NUL-terminated (without the kernel's task/CPU prefix). Default
 * (fn NULL): the line on stdout. */
typedef void (*visor_printk_fn)(void *ctx, const char *line, size_t len);
int visor_vm_set_printk(struct visor_vm *vm, visor_printk_fn fn, void *ctx);

/* struct xdp_md as programs see it (the Linux UAPI layout). The 32-bit
 * data, data_end and data_meta become real pointers: loads of them are
 * rewritten at load time into 64-bit loads from visor's own context. */
struct visor_xdp_md {
	uint32_t data;
	uint32_t data_end;
	uint32_t data_meta;
	uint32_t ingress_ifindex;
	uint32_t rx_queue_index;
	uint32_t egress_ifindex;
};

/* XDP return codes. */
enum visor_xdp_action {
	VISOR_XDP_ABORTED = 0,
	VISOR_XDP_DROP = 1,
	VISOR_XDP_PASS = 2,
	VISOR_XDP_TX = 3,
	VISOR_XDP_REDIRECT = 4,
};

/* struct __sk_buff as socket filter and tc programs see it (the Linux UAPI
 * layout, 192 bytes). data, data_end and data_meta become real pointers
 * the same way as xdp_md's; the other fields keep their offsets. */
struct visor_sk_buff {
	uint32_t len;
	uint32_t pkt_type;
	uint32_t mark;
	uint32_t queue_mapping;
	uint32_t protocol;
	uint32_t vlan_present;
	uint32_t vlan_tci;
	uint32_t vlan_proto;
	uint32_t priority;
	uint32_t ingress_ifindex;
	uint32_t ifindex;
	uint32_t tc_index;
	uint32_t cb[5];
	uint32_t hash;
	uint32_t tc_classid;
	uint32_t data;
	uint32_t data_end;
	uint32_t napi_id;
	uint32_t family;
	uint32_t remote_ip4;
	uint32_t local_ip4;
	uint32_t remote_ip6[4];
	uint32_t local_ip6[4];
	uint32_t remote_port;
	uint32_t local_port;
	uint32_t data_meta;
	uint64_t flow_keys;
	uint64_t tstamp;
	uint32_t wire_len;
	uint32_t gso_segs;
	uint64_t sk;
	uint32_t gso_size;
	uint8_t tstamp_type;
	uint8_t pad[3];
	uint64_t hwtstamp;
};

/* struct pt_regs of x86-64, what kprobe and uprobe programs see (168
 * bytes; PT_REGS_PARM1 is di, PT_REGS_RC ax). */
struct visor_pt_regs {
	uint64_t r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	uint64_t ax, cx, dx, si, di, orig_ax;
	uint64_t ip, cs, flags, sp, ss;
};

/* tc return codes (TC_ACT_*). */
enum visor_tc_action {
	VISOR_TC_ACT_UNSPEC = -1,
	VISOR_TC_ACT_OK = 0,
	VISOR_TC_ACT_RECLASSIFY = 1,
	VISOR_TC_ACT_SHOT = 2,
	VISOR_TC_ACT_PIPE = 3,
	VISOR_TC_ACT_STOLEN = 4,
	VISOR_TC_ACT_QUEUED = 5,
	VISOR_TC_ACT_REPEAT = 6,
	VISOR_TC_ACT_REDIRECT = 7,
};

/* Where bpf_redirect / bpf_redirect_map asked the packet to go (the
 * kernel's bpf_redirect_info): recorded during a run for a hook layer to
 * act on; test runs deliver nothing. */
enum visor_redirect_kind {
	VISOR_REDIRECT_NONE = 0,
	VISOR_REDIRECT_IFINDEX = 1, /* bpf_redirect: ifindex is the device */
	VISOR_REDIRECT_MAP = 2,     /* bpf_redirect_map: key into map */
};
struct visor_redirect {
	uint32_t kind;          /* enum visor_redirect_kind */
	uint32_t ifindex;       /* IFINDEX: the device */
	struct visor_map *map;  /* MAP: a devmap / devmap_hash (not referenced) */
	uint32_t key;           /* MAP: the key the lookup found */
	uint64_t flags;         /* BPF_F_INGRESS (tc); BPF_F_BROADCAST / EXCLUDE_INGRESS (maps) */
};
#define VISOR_F_INGRESS (1ULL << 0)         /* bpf_redirect in tc: to the device's ingress */
#define VISOR_F_BROADCAST (1ULL << 3)       /* redirect_map: every device of the map */
#define VISOR_F_EXCLUDE_INGRESS (1ULL << 4) /* ... but the one the packet came in on */

/* BPF_PROG_TEST_RUN for the loaded program. Zero-initialise with .sz
 * (VISOR_OPTS). XDP: data_in is the packet (>= 14 bytes, as the kernel),
 * copied once into a page-sized frame with the kernel's 256 bytes of
 * headroom (repeated runs see what the previous ones left, as the kernel's);
 * data_out receives metadata and packet after the last run (data_size_out:
 * room in, length out; -ENOSPC and the length if it does not fit, as the
 * kernel). ctx_in / ctx_out, if given, are a struct visor_xdp_md: in,
 * data_meta 0, data_end the size of data_in and data the length of the
 * metadata data_in starts with; ingress_ifindex / rx_queue_index passed
 * through; out, data / data_end relative to the metadata.
 * Socket filter and tc (as the kernel's bpf_prog_test_run_skb): data_in is
 * an Ethernet frame (>= 14 bytes); protocol and pkt_type come from its
 * header as eth_type_trans sets them on the loopback device (ifindex 1).
 * tc programs see the frame from the Ethernet header, socket filters from
 * the network header (len is 14 less, and data_out gets 14 zero bytes in
 * front, as the kernel's). ctx_in, if given, is a struct visor_sk_buff (at
 * most 192 bytes, zero-padded) where only mark, priority, ingress_ifindex,
 * ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp may be
 * set; ctx_out receives the same fields after the last run (ctx_size_out:
 * room in, bytes out; -ENOSPC if it is smaller than the struct).
 * Raw tracepoint and syscall (as bpf_prog_test_run_raw_tp / _syscall):
 * ctx_in is the context (args; at most 96 / 65535 bytes, and at least as
 * far as the program reads: -EINVAL otherwise, as the kernel), no data_in
 * or data_out, repeat 0 or 1 (one run); ctx_out gets a syscall program's
 * buffer after the run (the kernel writes it back into ctx_in) and 0 bytes
 * for the others. Kprobe (ctx_in: struct visor_pt_regs, zero-padded),
 * tracepoint (the record, <= 8192 bytes) and tracing (args, <= 96 bytes):
 * the kernel refuses to test-run them; visor runs them the same way,
 * repeat allowed.
 * Returns 0 with retval and duration set, or the first failing run's
 * negative errno with its message in errbuf (or the VM's errmsg). */
struct visor_prog_test_run_opts {
	size_t sz;
	const void *data_in;
	uint32_t data_size_in;
	void *data_out;
	uint32_t data_size_out; /* in: room; out: bytes */
	const void *ctx_in;
	uint32_t ctx_size_in;
	uint32_t repeat;        /* 0 means 1 */
	int engine;             /* enum visor_vm_engine */
	uint32_t cpu;           /* CPU slot the runs use (visor_map_set_cpu) */
	uint64_t budget;        /* per run; 0 = unlimited */
	/* out */
	uint32_t retval;
	uint32_t duration;      /* mean ns per run, as the kernel */
	char *errbuf;
	size_t errbuf_len;
	void *ctx_out;          /* socket filter / tc: struct visor_sk_buff */
	uint32_t ctx_size_out;  /* in: room; out: bytes */
	/* out: the redirect target when the last run returned XDP_REDIRECT
	 * or TC_ACT_REDIRECT after a successful bpf_redirect*, else kind NONE */
	struct visor_redirect redirect;
};
int visor_prog_test_run(struct visor_vm *vm, struct visor_prog_test_run_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
