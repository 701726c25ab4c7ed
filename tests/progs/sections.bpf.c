// SPDX-License-Identifier: GPL-2.0
/* Parse-only: one trivial program per section-name convention the loader
 * maps to a program type, expected attach type and attach target, and map
 * definitions with pinning, flags, NUMA node and map_extra. Not meant to
 * be run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u32);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(numa_node, 0);
} pinned_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(value_size, 8);
	__uint(max_entries, 1000);
	__uint(map_extra, 3);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(value_size, 4);
	__uint(max_entries, 16);
} queue SEC(".maps");

#define P(sec, name) SEC(sec) int name(void *ctx) { return 0; }

P("socket", s_socket)
P("kprobe/do_sys_openat2", s_kprobe)
P("kretprobe/do_sys_openat2+0x10", s_kretprobe)
P("uprobe//usr/lib/libc.so.6:malloc+16", s_uprobe)
P("uretprobe/libc.so.6:0x1234", s_uretprobe)
P("uprobe", s_uprobe_manual)
P("tracepoint/sched/sched_switch", s_tracepoint)
P("tp/syscalls/sys_enter_write", s_tp)
P("raw_tracepoint/sched_wakeup", s_raw_tracepoint)
P("raw_tp.w/bpf_test_finish", s_raw_tp_w)
P("tp_btf/sched_switch", s_tp_btf)
P("fentry/do_unlinkat", s_fentry)
P("fexit/do_unlinkat", s_fexit)
P("fentry.s/do_unlinkat", s_fentry_s)
P("lsm/file_open", s_lsm)
P("iter/task", s_iter)
P("perf_event", s_perf_event)
P("cgroup_skb/ingress", s_cgroup_skb_in)
P("cgroup_skb/egress", s_cgroup_skb_eg)
P("cgroup/connect4", s_connect4)
P("cgroup/sock_create", s_sock_create)
P("sockops", s_sockops)
P("sk_skb/stream_verdict", s_sk_skb)
P("sk_msg", s_sk_msg)
P("flow_dissector", s_flow)
P("classifier", s_classifier)
P("action", s_action)
P("tcx/egress", s_tcx_egress)
P("xdp/devmap", s_xdp_devmap)
P("xdp.frags/cpumap", s_xdp_frags_cpumap)
P("syscall", s_syscall)
P("sk_lookup", s_sk_lookup)
P("lwt_xmit", s_lwt_xmit)
P("netfilter", s_netfilter)
P("struct_ops/test_1", s_struct_ops)
P("not_a_known_type", s_unknown)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
