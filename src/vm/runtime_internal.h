/* Internals of the VM runtime (runtime.c, ctx_rewrite.c, helpers_*.c). */
#ifndef VISOR_RUNTIME_INTERNAL_H
#define VISOR_RUNTIME_INTERNAL_H

#include <visor/runtime.h>

#include "vm_internal.h"

struct visor_vm_rt {
	struct visor_map **maps; /* the bound table; one reference each */
	size_t nmaps;
	bool *value_region;      /* a region was added for maps[i]'s value */
	uint32_t prog_type;
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
/* Is p one of the maps bound to the run's program? */
struct visor_map *visor_vm_rt_map(const struct visor_vm_run *run, uint64_t p);
/* Records [p, p + len) as accessible for the rest of the run. */
void visor_vm_run_hand_out(struct visor_vm_run *run, const void *p, uint64_t len, bool writable);
void visor_vm_run_take_back(struct visor_vm_run *run, const void *p);

/* ctx_rewrite.c: rewrites context accesses of vm->insns for the program
 * type (XDP, socket filter, tc); 0 or -EINVAL / -EOPNOTSUPP / -ENOMEM with
 * vm->errmsg set. */
int visor_vm_rewrite_ctx(struct visor_vm *vm);

/* The Linux name of helper id ("bpf_map_lookup_elem"), or NULL. */
const char *visor_linux_helper_name(uint32_t id);

#endif
