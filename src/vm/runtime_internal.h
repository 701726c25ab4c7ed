/* Internals of the VM runtime (runtime.c, ctx_*.c, helpers_*.c). */
#ifndef VISOR_RUNTIME_INTERNAL_H
#define VISOR_RUNTIME_INTERNAL_H

#include <visor/runtime.h>

#include "vm_internal.h"

struct visor_vm_rt {
	struct visor_map **maps; /* the bound table; one reference each */
	size_t nmaps;
	bool *value_region;      /* a region was added for maps[i]'s value */
	uint32_t prog_type;
	uint32_t max_ctx_offset; /* end of the furthest context access (ctx_tracing.c) */
	visor_printk_fn printk;
	void *printk_ctx;
};

/* What r1 points to in an XDP program after the load-time rewrite: the
 * pointer fields widened to 64 bits. Programs may read the first
 * VISOR_XDP_CTX_VISIBLE bytes; the rest is for helpers (adjust_head ...). */
struct visor_xdp_buff {
	uint64_t data;      /* xdp_md.data (offset 0) */
	uint64_t data_end;  /* xdp_md.data_end (4) */
	uint64_t data_meta; /* xdp_md.data_meta (8) */
	uint32_t ingress_ifindex; /* xdp_md offsets 12, 16, 20 */
	uint32_t rx_queue_index;
	uint32_t egress_ifindex;
	uint32_t pad;
	uint8_t *buf;       /* headroom + packet + tailroom */
	size_t buf_len;
};
#define VISOR_XDP_CTX_VISIBLE 40

/* XDP frame geometry of test runs, as the kernel's bpf_prog_test_run_xdp:
 * a page per frame, the packet 256 bytes in (XDP_PACKET_HEADROOM), the
 * first 40 bytes reserved for struct xdp_frame, the last 320 for struct
 * skb_shared_info. buf is data_hard_start, buf + buf_len the end adjust_tail
 * may grow to (xdp_data_hard_end). Metadata: multiples of 4 up to 252
 * bytes (skb_shared_info.meta_len is a u8). */
#define VISOR_XDP_HEADROOM 256
#define VISOR_XDP_FRAME_SIZE 4096
#define VISOR_XDP_SHINFO_SIZE 320
#define VISOR_XDP_FRAME_RESERVE 40
#define VISOR_XDP_META_MAX 252

/* What r1 points to in socket filter and tc programs: struct __sk_buff
 * with every field at its own offset, then the three pointer fields as
 * 64-bit pointers, which the load-time rewrite makes data (76), data_end
 * (80) and data_meta (140) read. The whole of it is handed out writable;
 * the rewrite refuses the stores the kernel refuses. */
struct visor_skb {
	struct visor_sk_buff md;
	uint64_t data;      /* offset 192 */
	uint64_t data_end;  /* 200 */
	uint64_t data_meta; /* 208 */
};
#define VISOR_SKB_CTX_VISIBLE 216

struct visor_vm_rt *visor_vm_rt_get(struct visor_vm *vm); /* allocates; NULL: no memory */
/* Is p a map the run may use: one bound to its program, or an inner map of
 * a bound map of maps (visor_helper_find_map)? */
struct visor_map *visor_vm_rt_map(const struct visor_vm_run *run, uint64_t p);
/* helpers_maps.c: the first map the run may use for which match(m, arg)
 * holds: the bound maps, the inner maps its map-in-map lookups returned
 * (run->inner), then every inner map a bound map of maps holds now. Exact:
 * only maps reached through the bound table are ever dereferenced. */
typedef bool (*visor_map_match_fn)(struct visor_map *m, const void *arg);
struct visor_map *visor_helper_find_map(const struct visor_vm_run *run, visor_map_match_fn match,
					const void *arg);
/* Records [p, p + len) as accessible for the rest of the run. */
void visor_vm_run_hand_out(struct visor_vm_run *run, const void *p, uint64_t len, bool writable);
/* The same for a value of a map the run may use (the fallback of an
 * overflowed record vouches for it): never lost, only moved to the
 * overflow slot. */
void visor_vm_run_hand_out_value(struct visor_vm_run *run, const void *p, uint64_t len,
				 bool writable);
void visor_vm_run_take_back(struct visor_vm_run *run, const void *p);

/* ctx_rewrite.c: rewrites context accesses of vm->insns for the program
 * type (XDP, socket filter, tc); 0 or -EINVAL / -EOPNOTSUPP / -ENOMEM with
 * vm->errmsg set. */
int visor_vm_rewrite_ctx(struct visor_vm *vm);

/* ctx_tracing.c: is the program type one whose context is a plain buffer
 * (kprobe, tracepoint, raw tracepoint, tracing, syscall)? And the check of
 * one access through such a context (visor_vm_check_ctx_insn), which also
 * records its end in rt->max_ctx_offset: 0 or -EINVAL with vm->errmsg set. */
bool visor_vm_ctx_is_buffer(uint32_t prog_type);
int visor_vm_check_ctx_buffer(struct visor_vm *vm, size_t pc, const struct visor_insn *in);

/* ctx_access.c: visor_vm_ctx_access for one load, store or atomic through
 * the context of vm's program type: 0 and what the field holds in *kind
 * (enum visor_ctx_kind; kind may be NULL), or -EINVAL with vm->errmsg
 * "insn <pc>: <why> at offset <off>, size <size>". And how messages name
 * the type's context ("struct xdp_md", "the tracepoint record" ...). */
int visor_vm_check_ctx_insn(struct visor_vm *vm, size_t pc, const struct visor_insn *in, int *kind);
const char *visor_vm_ctx_name(uint32_t prog_type);

/* runtime.c: one test run of the loaded program (tail calls followed, a
 * spin lock left held released, the redirect recorded in o): r1 = ctx,
 * handed out as [ctx, ctx + ctx_len) unless ctx_len is 0, and
 * [base, base + len) the input memory (the packet, or the context itself). */
int visor_vm_test_run_once(struct visor_vm *vm, struct visor_prog_test_run_opts *o, void *ctx,
			   size_t ctx_len, bool ctx_writable, uintptr_t base, size_t len,
			   bool pkt_writable, uint64_t *r0);

/* runtime.c: a refused test run: "test_run: <why>" in o's errbuf (or the
 * VM's errmsg); returns err. */
int visor_vm_test_run_fail(struct visor_vm *vm, const struct visor_prog_test_run_opts *o,
			   int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* test_run_tracing.c: visor_prog_test_run for those types; opts is the
 * caller's struct (outputs), o the copy sized to this library's. */
int visor_vm_test_run_buffer(struct visor_vm *vm, struct visor_prog_test_run_opts *opts,
			     struct visor_prog_test_run_opts *o);

#endif
