/* Programs: every function in an executable section other than .text is an
 * entry program; its section name says its type, expected attach type and
 * attach target, following libbpf's conventions (SEC("xdp"),
 * SEC("tracepoint/syscalls/sys_enter_openat"), SEC("uprobe//bin/sh:main")). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "object_internal.h"

enum sec_match {
	M_EXACT,  /* the name itself */
	M_PLUS,   /* the name, or the name followed by "/target" */
};

enum attach_fmt {
	A_NONE,
	A_NAME,   /* raw_tp/<name>, fentry/<func>, ... */
	A_TP,     /* tracepoint/<category>/<name> */
	A_KPROBE, /* kprobe/<func>[+offset] */
	A_UPROBE, /* uprobe/<binary>:<func>[+offset] */
};

#define RET 1 /* retprobe */

static const struct sec_def {
	const char *name;
	uint8_t match;
	uint8_t fmt;
	uint8_t ret;
	uint32_t type;
	uint32_t attach;
	uint32_t flags;
} sec_defs[] = {
#define D(n, m, f, r, t, a, fl) {n, m, f, r, VISOR_PROG_TYPE_##t, a, fl}
#define SLEEP VISOR_PROG_F_SLEEPABLE
#define FRAGS VISOR_PROG_F_XDP_HAS_FRAGS
	D("socket", M_EXACT, A_NONE, 0, SOCKET_FILTER, 0, 0),
	D("sk_reuseport/migrate", M_EXACT, A_NONE, 0, SK_REUSEPORT,
	  VISOR_ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE, 0),
	D("sk_reuseport", M_EXACT, A_NONE, 0, SK_REUSEPORT, VISOR_ATTACH_SK_REUSEPORT_SELECT, 0),
	D("kprobe", M_PLUS, A_KPROBE, 0, KPROBE, 0, 0),
	D("uprobe", M_PLUS, A_UPROBE, 0, KPROBE, 0, 0),
	D("uprobe.s", M_PLUS, A_UPROBE, 0, KPROBE, 0, SLEEP),
	D("kretprobe", M_PLUS, A_KPROBE, RET, KPROBE, 0, 0),
	D("uretprobe", M_PLUS, A_UPROBE, RET, KPROBE, 0, 0),
	D("uretprobe.s", M_PLUS, A_UPROBE, RET, KPROBE, 0, SLEEP),
	D("kprobe.multi", M_PLUS, A_NAME, 0, KPROBE, VISOR_ATTACH_TRACE_KPROBE_MULTI, 0),
	D("kretprobe.multi", M_PLUS, A_NAME, RET, KPROBE, VISOR_ATTACH_TRACE_KPROBE_MULTI, 0),
	D("uprobe.multi", M_PLUS, A_UPROBE, 0, KPROBE, VISOR_ATTACH_TRACE_UPROBE_MULTI, 0),
	D("uretprobe.multi", M_PLUS, A_UPROBE, RET, KPROBE, VISOR_ATTACH_TRACE_UPROBE_MULTI, 0),
	D("uprobe.multi.s", M_PLUS, A_UPROBE, 0, KPROBE, VISOR_ATTACH_TRACE_UPROBE_MULTI, SLEEP),
	D("uretprobe.multi.s", M_PLUS, A_UPROBE, RET, KPROBE, VISOR_ATTACH_TRACE_UPROBE_MULTI,
	  SLEEP),
	D("ksyscall", M_PLUS, A_NAME, 0, KPROBE, 0, 0),
	D("kretsyscall", M_PLUS, A_NAME, RET, KPROBE, 0, 0),
	D("usdt", M_PLUS, A_NAME, 0, KPROBE, 0, 0),
	D("usdt.s", M_PLUS, A_NAME, 0, KPROBE, 0, SLEEP),
	D("tc/ingress", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_TCX_INGRESS, 0),
	D("tc/egress", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_TCX_EGRESS, 0),
	D("tcx/ingress", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_TCX_INGRESS, 0),
	D("tcx/egress", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_TCX_EGRESS, 0),
	D("netkit/primary", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_NETKIT_PRIMARY, 0),
	D("netkit/peer", M_EXACT, A_NONE, 0, SCHED_CLS, VISOR_ATTACH_NETKIT_PEER, 0),
	D("tc", M_EXACT, A_NONE, 0, SCHED_CLS, 0, 0),
	D("classifier", M_EXACT, A_NONE, 0, SCHED_CLS, 0, 0),
	D("action", M_EXACT, A_NONE, 0, SCHED_ACT, 0, 0),
	D("tracepoint", M_PLUS, A_TP, 0, TRACEPOINT, 0, 0),
	D("tp", M_PLUS, A_TP, 0, TRACEPOINT, 0, 0),
	D("raw_tracepoint", M_PLUS, A_NAME, 0, RAW_TRACEPOINT, 0, 0),
	D("raw_tp", M_PLUS, A_NAME, 0, RAW_TRACEPOINT, 0, 0),
	D("raw_tracepoint.w", M_PLUS, A_NAME, 0, RAW_TRACEPOINT_WRITABLE, 0, 0),
	D("raw_tp.w", M_PLUS, A_NAME, 0, RAW_TRACEPOINT_WRITABLE, 0, 0),
	D("tp_btf", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_RAW_TP, 0),
	D("fentry", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_FENTRY, 0),
	D("fmod_ret", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_MODIFY_RETURN, 0),
	D("fexit", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_FEXIT, 0),
	D("fentry.s", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_FENTRY, SLEEP),
	D("fmod_ret.s", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_MODIFY_RETURN, SLEEP),
	D("fexit.s", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_FEXIT, SLEEP),
	D("freplace", M_PLUS, A_NAME, 0, EXT, 0, 0),
	D("lsm", M_PLUS, A_NAME, 0, LSM, VISOR_ATTACH_LSM_MAC, 0),
	D("lsm.s", M_PLUS, A_NAME, 0, LSM, VISOR_ATTACH_LSM_MAC, SLEEP),
	D("lsm_cgroup", M_PLUS, A_NAME, 0, LSM, VISOR_ATTACH_LSM_CGROUP, 0),
	D("iter", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_ITER, 0),
	D("iter.s", M_PLUS, A_NAME, 0, TRACING, VISOR_ATTACH_TRACE_ITER, SLEEP),
	D("syscall", M_EXACT, A_NONE, 0, SYSCALL, 0, SLEEP),
	D("xdp.frags/devmap", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP_DEVMAP, FRAGS),
	D("xdp/devmap", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP_DEVMAP, 0),
	D("xdp.frags/cpumap", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP_CPUMAP, FRAGS),
	D("xdp/cpumap", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP_CPUMAP, 0),
	D("xdp.frags", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP, FRAGS),
	D("xdp", M_EXACT, A_NONE, 0, XDP, VISOR_ATTACH_XDP, 0),
	D("perf_event", M_EXACT, A_NONE, 0, PERF_EVENT, 0, 0),
	D("lwt_in", M_EXACT, A_NONE, 0, LWT_IN, 0, 0),
	D("lwt_out", M_EXACT, A_NONE, 0, LWT_OUT, 0, 0),
	D("lwt_xmit", M_EXACT, A_NONE, 0, LWT_XMIT, 0, 0),
	D("lwt_seg6local", M_EXACT, A_NONE, 0, LWT_SEG6LOCAL, 0, 0),
	D("sockops", M_EXACT, A_NONE, 0, SOCK_OPS, VISOR_ATTACH_CGROUP_SOCK_OPS, 0),
	D("sk_skb/stream_parser", M_EXACT, A_NONE, 0, SK_SKB, VISOR_ATTACH_SK_SKB_STREAM_PARSER, 0),
	D("sk_skb/stream_verdict", M_EXACT, A_NONE, 0, SK_SKB, VISOR_ATTACH_SK_SKB_STREAM_VERDICT,
	  0),
	D("sk_skb/verdict", M_EXACT, A_NONE, 0, SK_SKB, VISOR_ATTACH_SK_SKB_VERDICT, 0),
	D("sk_skb", M_EXACT, A_NONE, 0, SK_SKB, 0, 0),
	D("sk_msg", M_EXACT, A_NONE, 0, SK_MSG, VISOR_ATTACH_SK_MSG_VERDICT, 0),
	D("lirc_mode2", M_EXACT, A_NONE, 0, LIRC_MODE2, VISOR_ATTACH_LIRC_MODE2, 0),
	D("flow_dissector", M_EXACT, A_NONE, 0, FLOW_DISSECTOR, VISOR_ATTACH_FLOW_DISSECTOR, 0),
	D("cgroup_skb/ingress", M_EXACT, A_NONE, 0, CGROUP_SKB, VISOR_ATTACH_CGROUP_INET_INGRESS, 0),
	D("cgroup_skb/egress", M_EXACT, A_NONE, 0, CGROUP_SKB, VISOR_ATTACH_CGROUP_INET_EGRESS, 0),
	D("cgroup/skb", M_EXACT, A_NONE, 0, CGROUP_SKB, 0, 0),
	D("cgroup/sock_create", M_EXACT, A_NONE, 0, CGROUP_SOCK,
	  VISOR_ATTACH_CGROUP_INET_SOCK_CREATE, 0),
	D("cgroup/sock_release", M_EXACT, A_NONE, 0, CGROUP_SOCK,
	  VISOR_ATTACH_CGROUP_INET_SOCK_RELEASE, 0),
	D("cgroup/sock", M_EXACT, A_NONE, 0, CGROUP_SOCK, VISOR_ATTACH_CGROUP_INET_SOCK_CREATE, 0),
	D("cgroup/post_bind4", M_EXACT, A_NONE, 0, CGROUP_SOCK, VISOR_ATTACH_CGROUP_INET4_POST_BIND,
	  0),
	D("cgroup/post_bind6", M_EXACT, A_NONE, 0, CGROUP_SOCK, VISOR_ATTACH_CGROUP_INET6_POST_BIND,
	  0),
	D("cgroup/bind4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_INET4_BIND, 0),
	D("cgroup/bind6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_INET6_BIND, 0),
	D("cgroup/connect4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_INET4_CONNECT,
	  0),
	D("cgroup/connect6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_INET6_CONNECT,
	  0),
	D("cgroup/connect_unix", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_UNIX_CONNECT, 0),
	D("cgroup/sendmsg4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_UDP4_SENDMSG,
	  0),
	D("cgroup/sendmsg6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_UDP6_SENDMSG,
	  0),
	D("cgroup/sendmsg_unix", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_UNIX_SENDMSG, 0),
	D("cgroup/recvmsg4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_UDP4_RECVMSG,
	  0),
	D("cgroup/recvmsg6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR, VISOR_ATTACH_CGROUP_UDP6_RECVMSG,
	  0),
	D("cgroup/recvmsg_unix", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_UNIX_RECVMSG, 0),
	D("cgroup/getpeername4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_INET4_GETPEERNAME, 0),
	D("cgroup/getpeername6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_INET6_GETPEERNAME, 0),
	D("cgroup/getpeername_unix", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_UNIX_GETPEERNAME, 0),
	D("cgroup/getsockname4", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_INET4_GETSOCKNAME, 0),
	D("cgroup/getsockname6", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_INET6_GETSOCKNAME, 0),
	D("cgroup/getsockname_unix", M_EXACT, A_NONE, 0, CGROUP_SOCK_ADDR,
	  VISOR_ATTACH_CGROUP_UNIX_GETSOCKNAME, 0),
	D("cgroup/sysctl", M_EXACT, A_NONE, 0, CGROUP_SYSCTL, VISOR_ATTACH_CGROUP_SYSCTL, 0),
	D("cgroup/getsockopt", M_EXACT, A_NONE, 0, CGROUP_SOCKOPT, VISOR_ATTACH_CGROUP_GETSOCKOPT,
	  0),
	D("cgroup/setsockopt", M_EXACT, A_NONE, 0, CGROUP_SOCKOPT, VISOR_ATTACH_CGROUP_SETSOCKOPT,
	  0),
	D("cgroup/dev", M_EXACT, A_NONE, 0, CGROUP_DEVICE, VISOR_ATTACH_CGROUP_DEVICE, 0),
	D("struct_ops", M_PLUS, A_NAME, 0, STRUCT_OPS, 0, 0),
	D("struct_ops.s", M_PLUS, A_NAME, 0, STRUCT_OPS, 0, SLEEP),
	D("sk_lookup", M_EXACT, A_NONE, 0, SK_LOOKUP, VISOR_ATTACH_SK_LOOKUP, 0),
	D("netfilter", M_EXACT, A_NONE, 0, NETFILTER, VISOR_ATTACH_NETFILTER, 0),
#undef D
#undef SLEEP
#undef FRAGS
};

static const struct sec_def *find_sec_def(const char *sec)
{
	for (size_t i = 0; i < sizeof(sec_defs) / sizeof(sec_defs[0]); i++) {
		const struct sec_def *d = &sec_defs[i];
		size_t n = strlen(d->name);
		if (d->match == M_EXACT && strcmp(sec, d->name) == 0)
			return d;
		if (d->match == M_PLUS && strncmp(sec, d->name, n) == 0 &&
		    (sec[n] == 0 || sec[n] == '/'))
			return d;
	}
	return NULL;
}

/* "func+0x10" or "0x1234": function and offset. */
static int parse_func_off(struct visor_obj *obj, struct visor_obj_attach *a, const char *s)
{
	if (!*s)
		return 0;
	if (isdigit((unsigned char)*s)) {
		a->offset = strtoull(s, NULL, 0);
		return 0;
	}
	const char *plus = strchr(s, '+');
	a->func = plus ? obj_strndup(obj, s, (size_t)(plus - s)) : obj_strdup(obj, s);
	if (!a->func)
		return -ENOMEM;
	if (plus)
		a->offset = strtoull(plus + 1, NULL, 0);
	return 0;
}

int obj_parse_sec_name(struct visor_obj *obj, struct visor_obj_prog *prog, const char *sec)
{
	struct visor_obj_attach *a = &prog->attach;

	prog->autoload = true;
	if (sec[0] == '?') { /* libbpf: "do not load by default" */
		prog->autoload = false;
		sec++;
	}
	prog->sec_name = (char *)obj_strdup(obj, sec);
	if (!prog->sec_name)
		return -ENOMEM;
	const struct sec_def *d = find_sec_def(sec);
	if (!d)
		return 0; /* unknown: type UNSPEC, as libbpf */
	prog->known_sec = true;
	/* only "type/target" conventions have a target: in cgroup_skb/ingress
	 * the part after '/' is the attach type, already decoded */
	const char *slash = strchr(sec, '/');
	if (d->match == M_PLUS && slash && slash[1]) {
		a->target = obj_strdup(obj, slash + 1);
		if (!a->target)
			return -ENOMEM;
	}
	prog->type = d->type;
	prog->attach_type = d->attach;
	prog->flags = d->flags;
	a->retprobe = d->ret;
	if (!a->target)
		return 0;

	const char *t = a->target;
	switch (d->fmt) {
	case A_NAME:
		a->name = t;
		break;
	case A_TP: {
		const char *sl = strchr(t, '/');
		if (sl) {
			a->category = obj_strndup(obj, t, (size_t)(sl - t));
			a->name = obj_strdup(obj, sl + 1);
			if (!a->category || !a->name)
				return -ENOMEM;
		} else {
			a->name = t;
		}
		break;
	}
	case A_KPROBE:
		return parse_func_off(obj, a, t);
	case A_UPROBE: {
		const char *colon = strchr(t, ':');
		if (!colon) {
			a->binary = t;
			break;
		}
		a->binary = obj_strndup(obj, t, (size_t)(colon - t));
		if (!a->binary)
			return -ENOMEM;
		return parse_func_off(obj, a, colon + 1);
	}
	default:
		break;
	}
	return 0;
}

struct prog_order {
	uint32_t sec, sym, func;
};

static int cmp_prog_order(const void *a, const void *b)
{
	const struct prog_order *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->sym < y->sym ? -1 : x->sym > y->sym;
}

/* Programs in libbpf's order: by section, then by symbol table position. */
int obj_collect_programs(struct visor_obj *obj, struct obj_elf *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nfuncs; i++)
		if (e->secs[e->funcs[i].sec].kind == SEC_PROG)
			n++;
	obj->progs = calloc(n ? n : 1, sizeof(*obj->progs));
	struct prog_order *order = calloc(n ? n : 1, sizeof(*order));
	if (!obj->progs || !order) {
		free(order);
		return obj_err(obj, ENOMEM, "out of memory");
	}
	n = 0;
	for (size_t i = 0; i < e->nfuncs; i++)
		if (e->secs[e->funcs[i].sec].kind == SEC_PROG)
			order[n++] = (struct prog_order){e->funcs[i].sec, e->funcs[i].sym, (uint32_t)i};
	obj_sort(order, n, sizeof(*order), cmp_prog_order);
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k].func;
		struct obj_func *f = &e->funcs[i];
		struct visor_obj_prog *p = &obj->progs[obj->nprogs];
		p->obj = obj;
		p->func_idx = (uint32_t)i;
		p->name = (char *)obj_strdup(obj, f->name);
		if (!p->name || obj_parse_sec_name(obj, p, e->secs[f->sec].name)) {
			free(order);
			return obj_err(obj, ENOMEM, "out of memory");
		}
		f->prog_idx = (int)obj->nprogs++;
	}
	free(order);
	return 0;
}

/* ---- Names -------------------------------------------------------------- */

static const char *const prog_type_names[] = {
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
	"sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
	"lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl",
	"raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm",
	"sk_lookup", "syscall", "netfilter",
};

static const char *const attach_type_names[] = {
	"cgroup_inet_ingress", "cgroup_inet_egress", "cgroup_inet_sock_create", "cgroup_sock_ops",
	"sk_skb_stream_parser", "sk_skb_stream_verdict", "cgroup_device", "sk_msg_verdict",
	"cgroup_inet4_bind", "cgroup_inet6_bind", "cgroup_inet4_connect", "cgroup_inet6_connect",
	"cgroup_inet4_post_bind", "cgroup_inet6_post_bind", "cgroup_udp4_sendmsg",
	"cgroup_udp6_sendmsg", "lirc_mode2", "flow_dissector", "cgroup_sysctl",
	"cgroup_udp4_recvmsg", "cgroup_udp6_recvmsg", "cgroup_getsockopt", "cgroup_setsockopt",
	"trace_raw_tp", "trace_fentry", "trace_fexit", "modify_return", "lsm_mac", "trace_iter",
	"cgroup_inet4_getpeername", "cgroup_inet6_getpeername", "cgroup_inet4_getsockname",
	"cgroup_inet6_getsockname", "xdp_devmap", "cgroup_inet_sock_release", "xdp_cpumap",
	"sk_lookup", "xdp", "sk_skb_verdict", "sk_reuseport_select",
	"sk_reuseport_select_or_migrate", "perf_event", "trace_kprobe_multi", "lsm_cgroup",
	"struct_ops", "netfilter", "tcx_ingress", "tcx_egress", "trace_uprobe_multi",
	"cgroup_unix_connect", "cgroup_unix_sendmsg", "cgroup_unix_recvmsg",
	"cgroup_unix_getpeername", "cgroup_unix_getsockname", "netkit_primary", "netkit_peer",
};

static const char *const map_type_names[] = {
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
	"percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie",
	"array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash",
	"cgroup_storage", "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack",
	"sk_storage", "devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage",
	"bloom_filter", "user_ringbuf", "cgrp_storage", "arena",
};

#define NAME_AT(tab, i) ((i) < sizeof(tab) / sizeof(tab[0]) ? tab[i] : NULL)

const char *visor_obj_prog_type_name(uint32_t type)
{
	return NAME_AT(prog_type_names, type);
}

const char *visor_obj_attach_type_name(uint32_t type)
{
	return NAME_AT(attach_type_names, type);
}

const char *visor_obj_map_type_name(uint32_t type)
{
	return NAME_AT(map_type_names, type);
}
