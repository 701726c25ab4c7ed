/* The packet helpers, with the semantics of the kernel's net/core/filter.c:
 * XDP head / tail / metadata adjustment (moving the run's packet region in
 * both engines), bpf_redirect and bpf_redirect_map (recorded in the run for
 * a hook layer), and the tc helpers that write the packet: skb_store_bytes,
 * l3/l4 checksum replacement, skb_pull_data, csum_update.
 *
 * Every helper trusts only the context the run was started with
 * (run->ctx) and the run's packet region: a program cannot point a helper at
 * memory outside the packet buffer by forging a context. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <visor/maps.h>

#include "helpers.h"
#include "jit.h"

#define ETH_HLEN 14

/* ---- the context and the packet region ------------------------------------ */

static bool prog_is(const struct visor_vm_run *run, uint32_t type)
{
	return run->vm->rt && run->vm->rt->prog_type == type;
}

static struct visor_xdp_buff *xdp_ctx(struct visor_vm_run *run, uint64_t r1, const char *h)
{
	if (!prog_is(run, VISOR_VM_PROG_XDP) || !run->ctx || r1 != (uintptr_t)run->ctx) {
		visor_vm_run_fail(run, -EINVAL, "%s: argument 1 is not the xdp_md the XDP program was given", h);
		return NULL;
	}
	return run->ctx;
}

static struct visor_skb *tc_ctx(struct visor_vm_run *run, uint64_t r1, const char *h)
{
	if (!prog_is(run, VISOR_VM_PROG_SCHED_CLS) || !run->ctx || r1 != (uintptr_t)run->ctx) {
		visor_vm_run_fail(run, -EINVAL, "%s: argument 1 is not the __sk_buff the tc program was given", h);
		return NULL;
	}
	return run->ctx;
}

/* The packet [data_meta, data_end) is the run's input memory: after a move
 * both engines must check accesses against the new bounds. Pointers the
 * program derived before stay inside the frame buffer at worst (the kernel's
 * verifier invalidates them; visor's access checks catch them). */
static void xdp_packet_moved(struct visor_vm_run *run, const struct visor_xdp_buff *x)
{
	run->mem.base = x->data_meta;
	run->mem.len = x->data_end - x->data_meta;
	if (run->jit_ctx)
		visor_jit_ctx_set_mem(run->jit_ctx, &run->mem);
}

/* ---- XDP ------------------------------------------------------------------- */

/* bpf_xdp_adjust_head(xdp, offset): data moves by offset; the metadata moves
 * with it. The head may not enter the xdp_frame reserve, and at least an
 * Ethernet header must remain. */
static uint64_t h_xdp_adjust_head(HELPER_ARGS)
{
	struct visor_xdp_buff *x = xdp_ctx(run, r1, "bpf_xdp_adjust_head");
	if (!x)
		return 0;
	int64_t off = (int32_t)r2;
	uint64_t metalen = x->data - x->data_meta;
	uint64_t data_start = (uintptr_t)x->buf + VISOR_XDP_FRAME_RESERVE + metalen;
	uint64_t data = x->data + (uint64_t)off;
	if (data < data_start || data > x->data_end - ETH_HLEN)
		return (uint64_t)-EINVAL;
	if (metalen)
		memmove((void *)(uintptr_t)(x->data_meta + (uint64_t)off),
			(void *)(uintptr_t)x->data_meta, metalen);
	x->data_meta += (uint64_t)off;
	x->data = data;
	xdp_packet_moved(run, x);
	return 0;
}

/* bpf_xdp_adjust_tail(xdp, offset): data_end moves by offset, up to the
 * frame's end less the skb_shared_info room; grown bytes are zeroed. */
static uint64_t h_xdp_adjust_tail(HELPER_ARGS)
{
	struct visor_xdp_buff *x = xdp_ctx(run, r1, "bpf_xdp_adjust_tail");
	if (!x)
		return 0;
	int64_t off = (int32_t)r2;
	uint64_t data_end = x->data_end + (uint64_t)off;
	if (data_end > (uintptr_t)x->buf + x->buf_len || data_end < x->data + ETH_HLEN)
		return (uint64_t)-EINVAL;
	if (off > 0)
		memset((void *)(uintptr_t)x->data_end, 0, (size_t)off);
	x->data_end = data_end;
	xdp_packet_moved(run, x);
	return 0;
}

/* bpf_xdp_adjust_meta(xdp, offset): data_meta moves by offset, between the
 * xdp_frame reserve and data; the metadata length must be a multiple of 4
 * and at most 252 (-EACCES otherwise, as the kernel). */
static uint64_t h_xdp_adjust_meta(HELPER_ARGS)
{
	struct visor_xdp_buff *x = xdp_ctx(run, r1, "bpf_xdp_adjust_meta");
	if (!x)
		return 0;
	int64_t off = (int32_t)r2;
	uint64_t meta = x->data_meta + (uint64_t)off;
	if (meta < (uintptr_t)x->buf + VISOR_XDP_FRAME_RESERVE || meta > x->data)
		return (uint64_t)-EINVAL;
	uint64_t metalen = x->data - meta;
	if ((metalen & 3) || metalen > VISOR_XDP_META_MAX)
		return (uint64_t)-EACCES;
	x->data_meta = meta;
	xdp_packet_moved(run, x);
	return 0;
}

/* ---- redirect -------------------------------------------------------------- */

/* bpf_redirect(ifindex, flags). XDP: no flags allowed (XDP_ABORTED
 * otherwise); tc: only BPF_F_INGRESS (TC_ACT_SHOT otherwise). */
static uint64_t h_redirect(HELPER_ARGS)
{
	bool xdp = prog_is(run, VISOR_VM_PROG_XDP);
	if (!xdp && !prog_is(run, VISOR_VM_PROG_SCHED_CLS)) {
		visor_vm_run_fail(run, -EINVAL, "bpf_redirect: only XDP and tc programs redirect");
		return 0;
	}
	if (xdp ? r2 != 0 : (r2 & ~VISOR_F_INGRESS) != 0)
		return xdp ? VISOR_XDP_ABORTED : VISOR_TC_ACT_SHOT;
	run->redirect = (struct visor_redirect){
		.kind = VISOR_REDIRECT_IFINDEX,
		.ifindex = (uint32_t)r1,
		.flags = r2,
	};
	return xdp ? VISOR_XDP_REDIRECT : VISOR_TC_ACT_REDIRECT;
}

/* bpf_redirect_map(map, key, flags): the low two bits of flags are the
 * action when key is not in the map; devmaps also take BPF_F_BROADCAST and
 * BPF_F_EXCLUDE_INGRESS. Other bits: XDP_ABORTED. A failed lookup clears
 * what an earlier call recorded (the last call wins). */
static uint64_t h_redirect_map(HELPER_ARGS)
{
	const char *h = "bpf_redirect_map";
	const uint64_t action_mask = VISOR_XDP_ABORTED | VISOR_XDP_DROP | VISOR_XDP_PASS | VISOR_XDP_TX;
	struct visor_map *m = visor_vm_rt_map(run, r1);
	if (!m) {
		visor_vm_run_fail(run, -EINVAL, "%s: 0x%llx is not a map bound to the program", h,
				  (unsigned long long)r1);
		return 0;
	}
	uint32_t type = visor_map_type(m);
	if (type != VISOR_MAP_TYPE_DEVMAP && type != VISOR_MAP_TYPE_DEVMAP_HASH) {
		visor_vm_run_fail(run, -EINVAL, "%s: map '%s' is a %s map; visor redirects through devmap and devmap_hash",
				  h, visor_map_name(m), visor_map_type_name(type));
		return 0;
	}
	if (r3 & ~(action_mask | VISOR_F_BROADCAST | VISOR_F_EXCLUDE_INGRESS))
		return VISOR_XDP_ABORTED;
	uint32_t key = (uint32_t)r2; /* the kernel's lookup takes a u32 */
	if (!visor_map_lookup_ptr(m, &key) && !(r3 & VISOR_F_BROADCAST)) {
		run->redirect = (struct visor_redirect){0};
		return r3 & action_mask;
	}
	run->redirect = (struct visor_redirect){
		.kind = VISOR_REDIRECT_MAP,
		.map = m,
		.key = key,
		.flags = r3 & VISOR_F_BROADCAST ? r3 : 0,
	};
	return VISOR_XDP_REDIRECT;
}

/* ---- tc: writing the packet ------------------------------------------------ */

/* Test-run skbs are linear, not cloned and CHECKSUM_NONE: making bytes
 * writable (bpf_try_make_writable) succeeds exactly when they are inside
 * the packet, and checksum offload state never needs an update. */
static uint8_t *tc_bytes(struct visor_vm_run *run, uint64_t offset, uint64_t len)
{
	if (offset + len > run->mem.len)
		return NULL;
	return (uint8_t *)(uintptr_t)(run->mem.base + offset);
}

#define F_RECOMPUTE_CSUM (1ULL << 0)
#define F_INVALIDATE_HASH (1ULL << 1)
#define F_HDR_FIELD_MASK 0xfULL
#define F_PSEUDO_HDR (1ULL << 4)
#define F_MARK_MANGLED_0 (1ULL << 5)
#define F_MARK_ENFORCE (1ULL << 6)
#define F_IPV6 (1ULL << 7)
#define CSUM_MANGLED_0 0xffff

/* bpf_skb_store_bytes(skb, offset, from, len, flags) */
static uint64_t h_skb_store_bytes(HELPER_ARGS)
{
	const char *h = "bpf_skb_store_bytes";
	struct visor_skb *skb = tc_ctx(run, r1, h);
	if (!skb || !visor_helper_mem(run, r3, r4, false, h, "from"))
		return 0;
	if (r5 & ~(F_RECOMPUTE_CSUM | F_INVALIDATE_HASH))
		return (uint64_t)-EINVAL;
	if ((uint32_t)r2 > INT32_MAX)
		return (uint64_t)-EFAULT;
	uint8_t *p = tc_bytes(run, (uint32_t)r2, (uint32_t)r4);
	if (!p)
		return (uint64_t)-EFAULT;
	memmove(p, (const void *)(uintptr_t)r3, (uint32_t)r4); /* from may be the packet */
	if (r5 & F_INVALIDATE_HASH)
		skb->md.hash = 0; /* skb_clear_hash */
	return 0;
}

/* The kernel's one's complement arithmetic (include/net/checksum.h), on
 * 16-bit fields as they lie in memory. */
static uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t r = a + b;
	return r + (r < b);
}

static uint32_t csum_sub(uint32_t a, uint32_t b) { return csum_add(a, ~b); }

static uint16_t csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t csum16_add(uint16_t c, uint16_t a)
{
	uint16_t r = (uint16_t)(c + a);
	return (uint16_t)(r + (r < a));
}

static uint16_t csum_replace4(uint16_t sum, uint32_t from, uint32_t to)
{
	return csum_fold(csum_add(csum_sub(~(uint32_t)sum, from), to));
}

static uint16_t csum_replace2(uint16_t sum, uint16_t from, uint16_t to)
{
	return (uint16_t)~csum16_add(csum16_add((uint16_t)~sum, (uint16_t)~from), to);
}

static uint16_t csum_replace_by_diff(uint16_t sum, uint32_t diff)
{
	return csum_fold(csum_add(diff, ~(uint32_t)sum));
}

/* The checksum field at offset for l3/l4_csum_replace: even, <= 0xffff,
 * inside the packet; NULL means -EFAULT. */
static uint8_t *csum_field(struct visor_vm_run *run, uint64_t offset)
{
	uint32_t off = (uint32_t)offset;
	if (off > 0xffff || (off & 1))
		return NULL;
	return tc_bytes(run, off, 2);
}

/* Replaces the checksum at p by flags' field size: 0 (to is a csum_diff
 * result, from must be 0), 2 or 4 bytes. */
static int64_t csum_replace(uint8_t *p, uint64_t from, uint64_t to, uint64_t flags)
{
	uint16_t sum;
	memcpy(&sum, p, 2);
	switch (flags & F_HDR_FIELD_MASK) {
	case 0:
		if (from)
			return -EINVAL;
		sum = csum_replace_by_diff(sum, (uint32_t)to);
		break;
	case 2:
		sum = csum_replace2(sum, (uint16_t)from, (uint16_t)to);
		break;
	case 4:
		sum = csum_replace4(sum, (uint32_t)from, (uint32_t)to);
		break;
	default:
		return -EINVAL;
	}
	memcpy(p, &sum, 2);
	return 0;
}

/* bpf_l3_csum_replace(skb, offset, from, to, flags) */
static uint64_t h_l3_csum_replace(HELPER_ARGS)
{
	if (!tc_ctx(run, r1, "bpf_l3_csum_replace"))
		return 0;
	if (r5 & ~F_HDR_FIELD_MASK)
		return (uint64_t)-EINVAL;
	uint8_t *p = csum_field(run, r2);
	if (!p)
		return (uint64_t)-EFAULT;
	return (uint64_t)csum_replace(p, r3, r4, r5);
}

/* bpf_l4_csum_replace(skb, offset, from, to, flags). BPF_F_PSEUDO_HDR and
 * BPF_F_IPV6 only matter for CHECKSUM_COMPLETE / PARTIAL skbs; MARK_MANGLED_0
 * leaves a zero (UDP: none) checksum alone and never writes one. */
static uint64_t h_l4_csum_replace(HELPER_ARGS)
{
	if (!tc_ctx(run, r1, "bpf_l4_csum_replace"))
		return 0;
	if (r5 & ~(F_MARK_MANGLED_0 | F_MARK_ENFORCE | F_PSEUDO_HDR | F_HDR_FIELD_MASK | F_IPV6))
		return (uint64_t)-EINVAL;
	uint8_t *p = csum_field(run, r2);
	if (!p)
		return (uint64_t)-EFAULT;
	bool mmzero = r5 & F_MARK_MANGLED_0;
	uint16_t sum;
	memcpy(&sum, p, 2);
	if (mmzero && !(r5 & F_MARK_ENFORCE) && !sum)
		return 0;
	int64_t err = csum_replace(p, r3, r4, r5);
	memcpy(&sum, p, 2);
	if (!err && mmzero && !sum) {
		sum = CSUM_MANGLED_0;
		memcpy(p, &sum, 2);
	}
	return (uint64_t)err;
}

/* bpf_skb_pull_data(skb, len): the first len bytes (0: the linear part)
 * made readable and writable; -ENOMEM past the packet. */
static uint64_t h_skb_pull_data(HELPER_ARGS)
{
	if (!tc_ctx(run, r1, "bpf_skb_pull_data"))
		return 0;
	return tc_bytes(run, 0, (uint32_t)r2) ? 0 : (uint64_t)-ENOMEM;
}

/* bpf_csum_update(skb, diff): only CHECKSUM_COMPLETE skbs carry a checksum
 * to update; test-run skbs are CHECKSUM_NONE, so -ENOTSUPP as the kernel. */
static uint64_t h_csum_update(HELPER_ARGS)
{
	if (!tc_ctx(run, r1, "bpf_csum_update"))
		return 0;
	return (uint64_t)-VISOR_ENOTSUPP;
}

int visor_register_packet_helpers(struct visor_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		visor_helper_fn fn;
	} tab[] = {
		{9, "bpf_skb_store_bytes", h_skb_store_bytes},
		{10, "bpf_l3_csum_replace", h_l3_csum_replace},
		{11, "bpf_l4_csum_replace", h_l4_csum_replace},
		{23, "bpf_redirect", h_redirect},
		{39, "bpf_skb_pull_data", h_skb_pull_data},
		{40, "bpf_csum_update", h_csum_update},
		{44, "bpf_xdp_adjust_head", h_xdp_adjust_head},
		{51, "bpf_redirect_map", h_redirect_map},
		{54, "bpf_xdp_adjust_meta", h_xdp_adjust_meta},
		{65, "bpf_xdp_adjust_tail", h_xdp_adjust_tail},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int err = visor_vm_register_helper(vm, tab[i].id, tab[i].name, tab[i].fn);
		if (err)
			return err;
	}
	return 0;
}
