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

struct visor_vm_rt *visor_vm_rt_get(struct visor_vm *vm); /* allocates; NULL: no memory */
/* Is p one of the maps bound to the run's program? */
struct visor_map *visor_vm_rt_map(const struct visor_vm_run *run, uint64_t p);
/* Records [p, p + len) as accessible for the rest of the run. */
void visor_vm_run_hand_out(struct visor_vm_run *run, const void *p, uint64_t len, bool writable);
void visor_vm_run_take_back(struct visor_vm_run *run, const void *p);

/* ctx_rewrite.c: rewrites context accesses of vm->insns for the program
 * type; 0 or -EINVAL / -EOPNOTSUPP / -ENOMEM with vm->errmsg set. */
int visor_vm_rewrite_xdp_ctx(struct visor_vm *vm);

#endif
