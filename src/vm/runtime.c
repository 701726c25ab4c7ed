/* The VM runtime: the map table a program's lddw instructions index, the
 * record of memory helpers hand out during a run, the program type (context
 * rewrite at load) and BPF_PROG_TEST_RUN for XDP, socket filter and tc. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "jit.h"
#include "runtime_internal.h"

static int rt_fail(struct visor_vm *vm, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rt_fail(struct visor_vm *vm, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->errmsg, sizeof(vm->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

struct visor_vm_rt *visor_vm_rt_get(struct visor_vm *vm)
{
	if (!vm->rt)
		vm->rt = calloc(1, sizeof(*vm->rt));
	return vm->rt;
}

static void drop_maps(struct visor_vm_rt *rt)
{
	for (size_t i = 0; i < rt->nmaps; i++)
		visor_map_put(rt->maps[i]);
	free(rt->maps);
	free(rt->value_region);
	rt->maps = NULL;
	rt->value_region = NULL;
	rt->nmaps = 0;
}

void visor_vm_rt_free(struct visor_vm *vm)
{
	if (!vm->rt)
		return;
	drop_maps(vm->rt);
	free(vm->rt);
	vm->rt = NULL;
}

int visor_vm_set_maps(struct visor_vm *vm, struct visor_map *const *maps, size_t n)
{
	if (!vm)
		return -EINVAL;
	if (vm->slots)
		return rt_fail(vm, -EBUSY, "set_maps: a program is loaded (unload it first)");
	if (n > VISOR_VM_MAX_MAPS)
		return rt_fail(vm, -EINVAL, "set_maps: %zu maps; at most %d per program", n,
			       VISOR_VM_MAX_MAPS);
	for (size_t i = 0; i < n; i++)
		if (!maps || !maps[i])
			return rt_fail(vm, -EINVAL, "set_maps: map %zu is NULL", i);
	struct visor_vm_rt *rt = visor_vm_rt_get(vm);
	struct visor_map **copy = n ? calloc(n, sizeof(*copy)) : NULL;
	bool *vr = n ? calloc(n, sizeof(*vr)) : NULL;
	if (!rt || (n && (!copy || !vr))) {
		free(copy);
		free(vr);
		return rt_fail(vm, -ENOMEM, "set_maps: out of memory");
	}
	drop_maps(rt);
	for (size_t i = 0; i < n; i++)
		copy[i] = visor_map_get(maps[i]);
	rt->maps = copy;
	rt->value_region = vr;
	rt->nmaps = n;
	return 0;
}

bool visor_vm_prog_type_supported(uint32_t type)
{
	return type == VISOR_VM_PROG_XDP || type == VISOR_VM_PROG_SOCKET_FILTER ||
	       type == VISOR_VM_PROG_SCHED_CLS || visor_vm_ctx_is_buffer(type);
}

int visor_vm_set_prog_type(struct visor_vm *vm, uint32_t type)
{
	if (!vm)
		return -EINVAL;
	if (vm->slots)
		return rt_fail(vm, -EBUSY, "set_prog_type: a program is loaded (unload it first)");
	if (type != 0 && !visor_vm_prog_type_supported(type))
		return rt_fail(vm, -EINVAL, "set_prog_type: program type %u has no context in the visor VM yet",
			       type);
	struct visor_vm_rt *rt = visor_vm_rt_get(vm);
	if (!rt)
		return rt_fail(vm, -ENOMEM, "set_prog_type: out of memory");
	rt->prog_type = type;
	return 0;
}

int visor_vm_set_printk(struct visor_vm *vm, visor_printk_fn fn, void *ctx)
{
	struct visor_vm_rt *rt = vm ? visor_vm_rt_get(vm) : NULL;
	if (!rt)
		return -ENOMEM;
	rt->printk = fn;
	rt->printk_ctx = ctx;
	return 0;
}

int visor_vm_rt_prepare(struct visor_vm *vm)
{
	if (vm->rt->prog_type)
		return visor_vm_rewrite_ctx(vm);
	return 0;
}

/* lddw with a map source: the handle, or the address inside the value of an
 * array's key 0 (global data), which becomes an accessible region. */
int visor_vm_rt_lddw(struct visor_vm *vm, size_t pc, uint64_t *imm)
{
	static const char *names[] = {"imm", "map_fd", "map_value", "btf_id",
				      "func", "map_idx", "map_idx_value"};
	const struct visor_insn *in = &vm->insns[pc];
	struct visor_vm_rt *rt = vm->rt;
	uint32_t idx = (uint32_t)in->imm;

	if (!rt->nmaps)
		return rt_fail(vm, -EOPNOTSUPP,
			       "insn %zu: lddw %s needs maps or kernel symbols, which the "
			       "visor engine does not resolve yet",
			       pc, names[in->src]);
	if (idx >= rt->nmaps)
		return rt_fail(vm, -EINVAL, "insn %zu: lddw %s: map %u, but %zu maps are bound", pc,
			       names[in->src], idx, rt->nmaps);
	struct visor_map *map = rt->maps[idx];
	if (in->src == VISOR_LDDW_MAP_FD || in->src == VISOR_LDDW_MAP_IDX) {
		*imm = (uint64_t)(uintptr_t)map;
		return 0;
	}
	uint32_t off = (uint32_t)vm->insns[pc + 1].imm;
	if (visor_map_type(map) != VISOR_MAP_TYPE_ARRAY)
		return rt_fail(vm, -EINVAL, "insn %zu: lddw %s: map %u ('%s') is a %s map; direct value access needs an array",
			       pc, names[in->src], idx, visor_map_name(map),
			       visor_map_type_name(visor_map_type(map)));
	if (off >= visor_map_value_size(map))
		return rt_fail(vm, -EINVAL, "insn %zu: lddw %s: offset %u is past the value of map %u ('%s', %u bytes)",
			       pc, names[in->src], off, idx, visor_map_name(map),
			       visor_map_value_size(map));
	uint32_t key = 0;
	uint8_t *value = visor_map_lookup_ptr(map, &key);
	if (!value)
		return rt_fail(vm, -EINVAL, "insn %zu: lddw %s: map %u has no key 0", pc,
			       names[in->src], idx);
	if (!rt->value_region[idx]) {
		bool writable = !(visor_map_flags(map) & VISOR_F_RDONLY_PROG);
		if (visor_vm_add_region(vm, value, visor_map_value_size(map), writable))
			return rt_fail(vm, -ENOMEM, "insn %zu: out of memory", pc);
		rt->value_region[idx] = true;
	}
	*imm = (uint64_t)(uintptr_t)(value + off);
	return 0;
}

/* ---- memory handed out during a run --------------------------------------- */

static bool is_handle(struct visor_map *m, const void *p)
{
	return (const void *)m == p;
}

struct visor_map *visor_vm_rt_map(const struct visor_vm_run *run, uint64_t p)
{
	/* The bound table first, without the generic search's indirect calls:
	 * what lddw loads, on every map helper call. */
	const struct visor_vm_rt *rt = run->vm->rt;
	if (rt)
		for (size_t i = 0; i < rt->nmaps; i++)
			if ((uintptr_t)rt->maps[i] == p)
				return rt->maps[i];
	return visor_helper_find_map(run, is_handle, (const void *)(uintptr_t)p);
}

void visor_vm_run_hand_out(struct visor_vm_run *run, const void *p, uint64_t len, bool writable)
{
	uintptr_t base = (uintptr_t)p;
	uint32_t n = run->nhanded;
	if (n > VISOR_RUN_HANDED)
		return; /* overflowed: the bound maps answer */
	for (uint32_t i = 0; i < n; i++)
		if (run->handed[i].base == base && run->handed[i].len == len &&
		    run->handed[i].writable == writable)
			return; /* the same value looked up again */
	if (n == VISOR_RUN_HANDED) {
		run->nhanded = VISOR_RUN_HANDED + 1;
		return;
	}
	run->handed[n] = (struct visor_vm_region){.base = base, .len = len, .writable = writable};
	run->nhanded = n + 1;
}

void visor_vm_run_hand_out_value(struct visor_vm_run *run, const void *p, uint64_t len,
				 bool writable)
{
	visor_vm_run_hand_out(run, p, len, writable);
	if (run->nhanded > VISOR_RUN_HANDED)
		run->handed[VISOR_RUN_HANDED] =
			(struct visor_vm_region){.base = (uintptr_t)p, .len = len, .writable = writable};
}

void visor_vm_run_take_back(struct visor_vm_run *run, const void *p)
{
	uint32_t n = run->nhanded < VISOR_RUN_HANDED ? run->nhanded : VISOR_RUN_HANDED;
	for (uint32_t i = 0; i < n; i++)
		if (run->handed[i].base == (uintptr_t)p)
			run->handed[i].len = 0;
}

struct value_access {
	uint64_t addr, size;
	bool write;
};

static bool holds_value(struct visor_map *m, const void *arg)
{
	const struct value_access *a = arg;
	if (a->write && (visor_map_flags(m) & VISOR_F_RDONLY_PROG))
		return false;
	return visor_map_value_ok(m, (const void *)(uintptr_t)a->addr, a->size);
}

bool visor_vm_run_handed_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t size,
			    bool write)
{
	bool overflowed = run->nhanded > VISOR_RUN_HANDED;
	/* Overflowed: the newest value first (the slot is set only then). */
	for (uint32_t i = overflowed ? VISOR_RUN_HANDED + 1 : run->nhanded; i-- > 0;) {
		const struct visor_vm_region *r = &run->handed[i];
		if (r->len >= size && addr - r->base <= r->len - size && (r->writable || !write))
			return true;
	}
	if (!overflowed || !run->vm->rt)
		return false;
	/* More pointers than the record holds: any value of a map the run may
	 * use is memory that lives as long as the map (docs/MAPS.md). */
	struct value_access a = {addr, size, write};
	return visor_helper_find_map(run, holds_value, &a) != NULL;
}

/* ---- BPF_PROG_TEST_RUN ------------------------------------------------------ */

int visor_vm_test_run_fail(struct visor_vm *vm, const struct visor_prog_test_run_opts *o,
			   int err, const char *fmt, ...)
{
	char msg[VISOR_ERRMSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->errbuf && o->errbuf_len)
		snprintf(o->errbuf, o->errbuf_len, "test_run: %s", msg);
	else
		snprintf(vm->errmsg, sizeof(vm->errmsg), "test_run: %.*s",
			 (int)sizeof(vm->errmsg) - 16, msg);
	return err;
}

/* One run with r1 = the context (handed out, read-only for XDP) and the
 * packet [base, base + len) as the input memory (the fast path of the
 * access checks, and what LD_ABS / LD_IND read). */
int visor_vm_test_run_once(struct visor_vm *vm, struct visor_prog_test_run_opts *o, void *ctx,
			   size_t ctx_len, bool ctx_writable, uintptr_t base, size_t len,
			   bool pkt_writable, uint64_t *r0)
{
	struct visor_vm_run run;
	visor_vm_run_init(&run, vm);
	run.mem = (struct visor_vm_region){.base = base, .len = len, .writable = pkt_writable};
	run.errbuf = o->errbuf;
	run.errbuf_len = o->errbuf_len;
	run.ctx = ctx;
	uint64_t args[5] = {(uintptr_t)ctx, 0, 0, 0, 0};
	uint64_t executed;
	if (vm->rt->prog_type != VISOR_VM_PROG_XDP) {
		/* skb programs: LD_ABS / LD_IND read from skb->data. */
		run.packet = (const uint8_t *)base;
		run.packet_len = len;
	}
	if (ctx_len) /* else the context is the input memory itself */
		visor_vm_run_hand_out(&run, ctx, ctx_len, ctx_writable);
	visor_map_read_lock();
	int err = visor_vm_run_chain(&run, o->engine, args, o->budget, r0, &executed);
	visor_map_read_unlock();
	/* A hook layer acts on a redirect only when the program returns it. */
	uint32_t redirect_act = vm->rt->prog_type == VISOR_VM_PROG_XDP ? VISOR_XDP_REDIRECT
								       : VISOR_TC_ACT_REDIRECT;
	bool redirected = !err && run.redirect.kind && (uint32_t)*r0 == redirect_act;
	o->redirect = redirected ? run.redirect : (struct visor_redirect){0};
	return err;
}

/* The redirect of the last run, for callers whose opts have the field. */
static void copy_redirect(struct visor_prog_test_run_opts *opts,
			  const struct visor_prog_test_run_opts *o)
{
	if (opts->sz >= offsetof(struct visor_prog_test_run_opts, redirect) + sizeof(o->redirect))
		opts->redirect = o->redirect;
}

static bool all_zero(const void *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (((const uint8_t *)p)[i])
			return false;
	return true;
}

#define SKB_HEADROOM 64 /* NET_SKB_PAD */
#define SKB_OFF(f) offsetof(struct visor_sk_buff, f)
#define SKB_END(f) (SKB_OFF(f) + sizeof(((struct visor_sk_buff *)0)->f))

/* bpf_prog_test_run_skb: the frame as an skb on the loopback device. */
static int test_run_skb(struct visor_vm *vm, struct visor_prog_test_run_opts *opts,
			struct visor_prog_test_run_opts *o)
{
	bool tc = vm->rt->prog_type == VISOR_VM_PROG_SCHED_CLS;
	struct visor_sk_buff in = {0};
	if (!o->data_in || o->data_size_in < 14)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "skb programs need data_in of at least 14 bytes (an Ethernet header)");
	/* As the kernel: an IPv4 or IPv6 frame must hold the IP header. */
	const uint8_t *f = o->data_in;
	if ((f[12] == 0x08 && f[13] == 0x00 && o->data_size_in < 14 + 20) ||
	    (f[12] == 0x86 && f[13] == 0xdd && o->data_size_in < 14 + 40))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "an IPv4 / IPv6 frame shorter than its IP header");
	if (o->data_size_in > 65536 - SKB_HEADROOM)
		return visor_vm_test_run_fail(vm, o, -E2BIG, "data_in larger than 64 KiB");
	if (o->ctx_in) {
		if (o->ctx_size_in > sizeof(in))
			return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in is larger than struct __sk_buff (192 bytes)");
		memcpy(&in, o->ctx_in, o->ctx_size_in);
		/* convert___skb_to_skb: only these fields may be set. */
		if (!all_zero(&in, 0, SKB_OFF(mark)) ||
		    !all_zero(&in, SKB_END(mark), SKB_OFF(priority)) ||
		    !all_zero(&in, SKB_END(ifindex), SKB_OFF(cb)) ||
		    !all_zero(&in, SKB_END(cb), SKB_OFF(tstamp)) ||
		    !all_zero(&in, SKB_END(gso_segs), SKB_OFF(gso_size)) ||
		    !all_zero(&in, SKB_END(gso_size), SKB_OFF(hwtstamp)))
			return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in: only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp may be set");
	}
	uint32_t hh = tc ? 0 : 14; /* socket filters start at the network header */
	uint32_t len = o->data_size_in - hh;
	if (in.wire_len && (in.wire_len < len || in.wire_len > 65536))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in: wire_len smaller than the packet or too large");
	if (visor_map_set_cpu(o->cpu))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "cpu slot out of range (visor_map_possible_cpus)");
	/* eth_type_trans on the loopback device: its address and broadcast
	 * address are both 00:00:00:00:00:00, so ff:ff:ff:ff:ff:ff is just
	 * multicast there. */
	static const uint8_t zero_mac[6];
	uint32_t pkt_type = 0; /* PACKET_HOST */
	if (memcmp(f, zero_mac, 6))
		pkt_type = f[0] & 1 ? 2 /* MULTICAST */ : 3 /* OTHERHOST */;
	uint16_t proto; /* network byte order, as skb->protocol */
	memcpy(&proto, f + 12, 2);
	if (f[12] < 0x06) /* an 802.3 length: raw 802.3 (IPX) or 802.2 LLC */
		proto = o->data_size_in >= 16 && f[14] == 0xff && f[15] == 0xff ? htons(0x0001)
										 : htons(0x0004);

	size_t buf_len = SKB_HEADROOM + o->data_size_in;
	uint8_t *buf = malloc(buf_len);
	if (!buf)
		return visor_vm_test_run_fail(vm, o, -ENOMEM, "out of memory");
	uint32_t repeat = o->repeat ? o->repeat : 1;
	uint64_t r0 = 0, t0 = visor_vm_now_ns();
	int err = 0;
	struct visor_skb skb;
	for (uint32_t i = 0; i < repeat && !err; i++) {
		memset(buf, 0, SKB_HEADROOM);
		memcpy(buf + SKB_HEADROOM, f, o->data_size_in);
		uintptr_t data = (uintptr_t)buf + SKB_HEADROOM + hh;
		skb = (struct visor_skb){
			.md = {
				.len = len,
				.pkt_type = pkt_type,
				.mark = in.mark,
				.protocol = proto,
				.priority = in.priority,
				.ingress_ifindex = in.ingress_ifindex,
				.ifindex = in.ifindex > 1 ? in.ifindex : 1,
				.tstamp = in.tstamp,
				.wire_len = in.wire_len ? in.wire_len : len,
				.gso_segs = in.gso_segs,
				.gso_size = in.gso_size,
				.hwtstamp = in.hwtstamp,
			},
			.data = data,
			.data_end = data + len,
			.data_meta = data,
		};
		memcpy(skb.md.cb, in.cb, sizeof(in.cb));
		err = visor_vm_test_run_once(vm, o, &skb, VISOR_SKB_CTX_VISIBLE, true, data, len, tc, &r0);
	}
	uint64_t dt = visor_vm_now_ns() - t0;
	if (!err) {
		opts->retval = (uint32_t)r0;
		opts->duration = (uint32_t)(dt / repeat);
		copy_redirect(opts, o);
		/* The frame after the run; socket filters get the link-layer
		 * header back as zeros, as the kernel pushes it. */
		size_t out_len = hh + len;
		if (!tc)
			memset(buf + SKB_HEADROOM, 0, hh);
		if (o->data_out) {
			memcpy(o->data_out, buf + SKB_HEADROOM,
			       out_len < o->data_size_out ? out_len : o->data_size_out);
			if (out_len > o->data_size_out)
				err = -ENOSPC;
		}
		opts->data_size_out = (uint32_t)out_len;
		if (o->ctx_out && opts->sz >= offsetof(struct visor_prog_test_run_opts, ctx_size_out) +
						      sizeof(o->ctx_size_out)) {
			/* convert_skb_to___skb: the fields ctx_in may set. */
			struct visor_sk_buff out = {
				.mark = skb.md.mark,
				.priority = skb.md.priority,
				.ingress_ifindex = skb.md.ingress_ifindex,
				.ifindex = skb.md.ifindex,
				.tstamp = skb.md.tstamp,
				.wire_len = skb.md.wire_len,
				.gso_segs = skb.md.gso_segs,
				.gso_size = skb.md.gso_size,
				.hwtstamp = skb.md.hwtstamp,
			};
			memcpy(out.cb, skb.md.cb, sizeof(out.cb));
			size_t n = o->ctx_size_out < sizeof(out) ? o->ctx_size_out : sizeof(out);
			memcpy(o->ctx_out, &out, n);
			if (n < sizeof(out) && !err)
				err = -ENOSPC;
			opts->ctx_size_out = sizeof(out);
		}
	}
	free(buf);
	return err;
}

/* bpf_prog_test_run_xdp: the packet in a page-sized frame (see
 * runtime_internal.h), set up once: like the kernel, repeated runs see what
 * the previous ones left (moved head, tail, metadata, writes). */
static int test_run_xdp(struct visor_vm *vm, struct visor_prog_test_run_opts *opts,
			struct visor_prog_test_run_opts *o)
{
	if (!o->data_in || o->data_size_in < 14)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "XDP needs data_in of at least 14 bytes (an Ethernet header)");
	if (o->data_size_in > 65536 - VISOR_XDP_HEADROOM)
		return visor_vm_test_run_fail(vm, o, -E2BIG, "data_in larger than 64 KiB");
	/* The kernel makes a context when either ctx_in or ctx_out is given;
	 * its data_end must then be the size of data_in. */
	bool has_ctx = o->ctx_in || o->ctx_out;
	struct visor_xdp_md md = {0};
	if (o->ctx_in) {
		if (o->ctx_size_in != sizeof(md))
			return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in must be a struct xdp_md (24 bytes)");
		memcpy(&md, o->ctx_in, sizeof(md));
	}
	/* xdp_convert_md_to_buff: the first md.data bytes of data_in are
	 * metadata (data_meta .. data). */
	if (has_ctx && (md.data_meta || md.data_end != o->data_size_in || md.data > md.data_end ||
			(md.data & 3) || md.data > VISOR_XDP_META_MAX))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in: data_meta must be 0, data_end the size of data_in and data the metadata length (a multiple of 4, at most 252)");
	if (md.egress_ifindex || (!md.ingress_ifindex && md.rx_queue_index))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in: egress_ifindex must be 0, rx_queue_index needs ingress_ifindex");
	if (visor_map_set_cpu(o->cpu))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "cpu slot out of range (visor_map_possible_cpus)");

	uint32_t metalen = md.data, size = o->data_size_in - metalen;
	/* Frames larger than a page become fragments in the kernel; visor keeps
	 * them linear, with no room to grow. */
	size_t hard_end = VISOR_XDP_FRAME_SIZE - VISOR_XDP_SHINFO_SIZE;
	if (VISOR_XDP_HEADROOM + (size_t)size > hard_end)
		hard_end = VISOR_XDP_HEADROOM + (size_t)size;
	uint8_t *buf = calloc(1, hard_end);
	if (!buf)
		return visor_vm_test_run_fail(vm, o, -ENOMEM, "out of memory");
	memcpy(buf + VISOR_XDP_HEADROOM - metalen, o->data_in, o->data_size_in);
	struct visor_xdp_buff x = {
		.data = (uintptr_t)buf + VISOR_XDP_HEADROOM,
		.data_end = (uintptr_t)buf + VISOR_XDP_HEADROOM + size,
		.data_meta = (uintptr_t)buf + VISOR_XDP_HEADROOM - metalen,
		/* The kernel's test runs receive on the loopback device (1). */
		.ingress_ifindex = md.ingress_ifindex ? md.ingress_ifindex : 1,
		.rx_queue_index = md.rx_queue_index,
		.buf = buf,
		.buf_len = hard_end,
	};
	uint32_t repeat = o->repeat ? o->repeat : 1;
	uint64_t r0 = 0, t0 = visor_vm_now_ns();
	int err = 0;
	for (uint32_t i = 0; i < repeat && !err; i++)
		err = visor_vm_test_run_once(vm, o, &x, VISOR_XDP_CTX_VISIBLE, false, x.data_meta,
			       x.data_end - x.data_meta, true, &r0);
	uint64_t dt = visor_vm_now_ns() - t0;
	if (!err) {
		opts->retval = (uint32_t)r0;
		opts->duration = (uint32_t)(dt / repeat);
		copy_redirect(opts, o);
		/* As the kernel: data_out is the metadata and the packet. */
		size_t len = x.data_end - x.data_meta;
		if (o->data_out) {
			memcpy(o->data_out, (void *)(uintptr_t)x.data_meta,
			       len < o->data_size_out ? len : o->data_size_out);
			if (len > o->data_size_out)
				err = -ENOSPC;
		}
		opts->data_size_out = (uint32_t)len;
		if (o->ctx_out && opts->sz >= offsetof(struct visor_prog_test_run_opts, ctx_size_out) +
						      sizeof(o->ctx_size_out)) {
			/* xdp_convert_buff_to_md: data and data_end relative to data_meta. */
			md.data = (uint32_t)(x.data - x.data_meta);
			md.data_end = (uint32_t)len;
			size_t n = o->ctx_size_out < sizeof(md) ? o->ctx_size_out : sizeof(md);
			memcpy(o->ctx_out, &md, n);
			if (n < sizeof(md) && !err)
				err = -ENOSPC;
			opts->ctx_size_out = sizeof(md);
		}
	}
	free(buf);
	return err;
}

int visor_prog_test_run(struct visor_vm *vm, struct visor_prog_test_run_opts *opts)
{
	/* Every field up to the outputs must be there; errbuf may be missing. */
	if (!vm || !opts || opts->sz < offsetof(struct visor_prog_test_run_opts, errbuf))
		return -EINVAL;
	struct visor_prog_test_run_opts o = {0};
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (o.errbuf && o.errbuf_len)
		o.errbuf[0] = 0;
	vm->errmsg[0] = 0;
	if (!vm->slots)
		return visor_vm_test_run_fail(vm, &o, -EINVAL, "no program loaded");
	if (!vm->rt || !vm->rt->prog_type)
		return visor_vm_test_run_fail(vm, &o, -ENOTSUP, "only programs with a type can be test-run (visor_vm_set_prog_type)");
	if (!visor_vm_may_run(vm))
		return visor_vm_test_run_fail(vm, &o, -EACCES, VISOR_VM_UNVERIFIED_MSG);
	bool jit = o.engine == VISOR_ENGINE_JIT || (o.engine == VISOR_ENGINE_AUTO && vm->jit);
	if (jit && !vm->jit)
		return visor_vm_test_run_fail(vm, &o, -EINVAL, "the program is not JIT-compiled (visor_vm_jit_compile)");
	if (visor_vm_ctx_is_buffer(vm->rt->prog_type)) /* test_run_tracing.c */
		return visor_vm_test_run_buffer(vm, opts, &o);
	if (vm->rt->prog_type != VISOR_VM_PROG_XDP)
		return test_run_skb(vm, opts, &o);
	return test_run_xdp(vm, opts, &o);
}
