/* Which Linux helpers each program type may call: the kernel's func_proto
 * tables (sk_filter_func_proto, tc_cls_act_func_proto, xdp_func_proto,
 * kprobe_, tp_, raw_tp_, tracing_ and syscall_prog_func_proto and
 * bpf_base_func_proto behind them) for the types the VM has a context for.
 * Measured on Linux 6.18 as root (every capability, GPL license): each id was
 * loaded as "call id; r0 = 0; exit" and counted as refused when the
 * verifier said "unknown func". The tracing-family columns (KP .. SYS) are
 * re-measured by tests/test_runtime_tracing.c, which compares every id with
 * the kernel; it loads kprobe and syscall programs sleepable (the larger
 * set), tracing as tp_btf on sys_enter (fentry loads are refused on these
 * machines), and also counts as refused what no program of the type can
 * call ("cannot use helper", "might sleep in a non-sleepable prog", "not
 * allowed in probe", "supported only for"). A program with a type set may call only the
 * helpers allowed here; visor_vm_load refuses the others, naming helper and
 * type. Ids past the table, or listed with no type, are refused the same
 * way for typed programs. */
#include <errno.h>
#include <stdio.h>

#include "runtime_internal.h"

enum {
	SF = 1, TC = 2, XDP = 4,
	KP = 8,    /* kprobe (and uprobe) */
	TP = 16,   /* tracepoint */
	RAW = 32,  /* raw tracepoint */
	TR = 64,   /* tracing (measured as tp_btf) */
	SYS = 128, /* syscall */
	ALL_TRACE = KP | TP | RAW | TR | SYS,
};

static const struct {
	uint16_t id;
	const char *name;
	uint8_t types;
} protos[] = {
	{1, "bpf_map_lookup_elem", SF | TC | XDP | ALL_TRACE},
	{2, "bpf_map_update_elem", SF | TC | XDP | ALL_TRACE},
	{3, "bpf_map_delete_elem", SF | TC | XDP | ALL_TRACE},
	{4, "bpf_probe_read", ALL_TRACE},
	{5, "bpf_ktime_get_ns", SF | TC | XDP | ALL_TRACE},
	{6, "bpf_trace_printk", SF | TC | XDP | ALL_TRACE},
	{7, "bpf_get_prandom_u32", SF | TC | XDP | ALL_TRACE},
	{8, "bpf_get_smp_processor_id", SF | TC | XDP | ALL_TRACE},
	{9, "bpf_skb_store_bytes", TC},
	{10, "bpf_l3_csum_replace", TC},
	{11, "bpf_l4_csum_replace", TC},
	{12, "bpf_tail_call", SF | TC | XDP | ALL_TRACE},
	{13, "bpf_clone_redirect", TC},
	{14, "bpf_get_current_pid_tgid", SF | TC | XDP | ALL_TRACE},
	{15, "bpf_get_current_uid_gid", SF | TC | XDP | ALL_TRACE},
	{16, "bpf_get_current_comm", SF | TC | XDP | ALL_TRACE},
	{17, "bpf_get_cgroup_classid", SF | TC | XDP | ALL_TRACE},
	{18, "bpf_skb_vlan_push", TC},
	{19, "bpf_skb_vlan_pop", TC},
	{20, "bpf_skb_get_tunnel_key", TC},
	{21, "bpf_skb_set_tunnel_key", TC},
	{22, "bpf_perf_event_read", SF | TC | XDP | ALL_TRACE},
	{23, "bpf_redirect", TC | XDP},
	{24, "bpf_get_route_realm", TC},
	{25, "bpf_perf_event_output", SF | TC | XDP | ALL_TRACE},
	{26, "bpf_skb_load_bytes", SF | TC},
	{27, "bpf_get_stackid", ALL_TRACE},
	{28, "bpf_csum_diff", TC | XDP},
	{29, "bpf_skb_get_tunnel_opt", TC},
	{30, "bpf_skb_set_tunnel_opt", TC},
	{31, "bpf_skb_change_proto", TC},
	{32, "bpf_skb_change_type", TC},
	{33, "bpf_skb_under_cgroup", TC},
	{34, "bpf_get_hash_recalc", TC},
	{35, "bpf_get_current_task", SF | TC | XDP | ALL_TRACE},
	{36, "bpf_probe_write_user", 0},
	{37, "bpf_current_task_under_cgroup", SF | TC | XDP | ALL_TRACE},
	{38, "bpf_skb_change_tail", TC},
	{39, "bpf_skb_pull_data", TC},
	{40, "bpf_csum_update", TC},
	{41, "bpf_set_hash_invalid", TC},
	{42, "bpf_get_numa_node_id", SF | TC | XDP | ALL_TRACE},
	{43, "bpf_skb_change_head", TC},
	{44, "bpf_xdp_adjust_head", XDP},
	{45, "bpf_probe_read_str", ALL_TRACE},
	{46, "bpf_get_socket_cookie", SF | TC | TR | SYS},
	{47, "bpf_get_socket_uid", SF | TC},
	{48, "bpf_set_hash", TC},
	{49, "bpf_setsockopt", 0},
	{50, "bpf_skb_adjust_room", TC},
	{51, "bpf_redirect_map", XDP},
	{52, "bpf_sk_redirect_map", 0},
	{53, "bpf_sock_map_update", 0},
	{54, "bpf_xdp_adjust_meta", XDP},
	{55, "bpf_perf_event_read_value", SF | TC | XDP | ALL_TRACE},
	{56, "bpf_perf_prog_read_value", 0},
	{57, "bpf_getsockopt", 0},
	{58, "bpf_override_return", 0},
	{59, "bpf_sock_ops_cb_flags_set", 0},
	{60, "bpf_msg_redirect_map", 0},
	{61, "bpf_msg_apply_bytes", 0},
	{62, "bpf_msg_cork_bytes", 0},
	{63, "bpf_msg_pull_data", 0},
	{64, "bpf_bind", 0},
	{65, "bpf_xdp_adjust_tail", XDP},
	{66, "bpf_skb_get_xfrm_state", TC},
	{67, "bpf_get_stack", ALL_TRACE},
	{68, "bpf_skb_load_bytes_relative", SF | TC},
	{69, "bpf_fib_lookup", TC | XDP},
	{70, "bpf_sock_hash_update", 0},
	{71, "bpf_msg_redirect_hash", 0},
	{72, "bpf_sk_redirect_hash", 0},
	{73, "bpf_lwt_push_encap", 0},
	{74, "bpf_lwt_seg6_store_bytes", 0},
	{75, "bpf_lwt_seg6_adjust_srh", 0},
	{76, "bpf_lwt_seg6_action", 0},
	{77, "bpf_rc_repeat", 0},
	{78, "bpf_rc_keydown", 0},
	{79, "bpf_skb_cgroup_id", TC},
	{80, "bpf_get_current_cgroup_id", SF | TC | XDP | ALL_TRACE},
	{81, "bpf_get_local_storage", 0},
	{82, "bpf_sk_select_reuseport", 0},
	{83, "bpf_skb_ancestor_cgroup_id", TC},
	{84, "bpf_sk_lookup_tcp", TC | XDP},
	{85, "bpf_sk_lookup_udp", TC | XDP},
	{86, "bpf_sk_release", TC | XDP},
	{87, "bpf_map_push_elem", SF | TC | XDP | ALL_TRACE},
	{88, "bpf_map_pop_elem", SF | TC | XDP | ALL_TRACE},
	{89, "bpf_map_peek_elem", SF | TC | XDP | ALL_TRACE},
	{90, "bpf_msg_push_data", 0},
	{91, "bpf_msg_pop_data", 0},
	{92, "bpf_rc_pointer_rel", 0},
	{93, "bpf_spin_lock", SF | TC | XDP | ALL_TRACE},
	{94, "bpf_spin_unlock", SF | TC | XDP | ALL_TRACE},
	{95, "bpf_sk_fullsock", TC},
	{96, "bpf_tcp_sock", TC},
	{97, "bpf_skb_ecn_set_ce", TC},
	{98, "bpf_get_listener_sock", TC},
	{99, "bpf_skc_lookup_tcp", TC | XDP},
	{100, "bpf_tcp_check_syncookie", TC | XDP},
	{101, "bpf_sysctl_get_name", 0},
	{102, "bpf_sysctl_get_current_value", 0},
	{103, "bpf_sysctl_get_new_value", 0},
	{104, "bpf_sysctl_set_new_value", 0},
	{105, "bpf_strtol", SF | TC | XDP | ALL_TRACE},
	{106, "bpf_strtoul", SF | TC | XDP | ALL_TRACE},
	{107, "bpf_sk_storage_get", TC | TR},
	{108, "bpf_sk_storage_delete", TC | TR},
	{109, "bpf_send_signal", SF | TC | XDP | ALL_TRACE},
	{110, "bpf_tcp_gen_syncookie", TC | XDP},
	{111, "bpf_skb_output", TR | SYS},
	{112, "bpf_probe_read_user", SF | TC | XDP | ALL_TRACE},
	{113, "bpf_probe_read_kernel", SF | TC | XDP | ALL_TRACE},
	{114, "bpf_probe_read_user_str", SF | TC | XDP | ALL_TRACE},
	{115, "bpf_probe_read_kernel_str", SF | TC | XDP | ALL_TRACE},
	{116, "bpf_tcp_send_ack", 0},
	{117, "bpf_send_signal_thread", SF | TC | XDP | ALL_TRACE},
	{118, "bpf_jiffies64", SF | TC | XDP | ALL_TRACE},
	{119, "bpf_read_branch_records", 0},
	{120, "bpf_get_ns_current_pid_tgid", SF | TC | XDP | ALL_TRACE},
	{121, "bpf_xdp_output", TR | SYS},
	{122, "bpf_get_netns_cookie", SF | TC},
	{123, "bpf_get_current_ancestor_cgroup_id", SF | TC | XDP | ALL_TRACE},
	{124, "bpf_sk_assign", TC},
	{125, "bpf_ktime_get_boot_ns", SF | TC | XDP | ALL_TRACE},
	{126, "bpf_seq_printf", 0},
	{127, "bpf_seq_write", 0},
	{128, "bpf_sk_cgroup_id", 0},
	{129, "bpf_sk_ancestor_cgroup_id", 0},
	{130, "bpf_ringbuf_output", SF | TC | XDP | ALL_TRACE},
	{131, "bpf_ringbuf_reserve", SF | TC | XDP | ALL_TRACE},
	{132, "bpf_ringbuf_submit", SF | TC | XDP | ALL_TRACE},
	{133, "bpf_ringbuf_discard", SF | TC | XDP | ALL_TRACE},
	{134, "bpf_ringbuf_query", SF | TC | XDP | ALL_TRACE},
	{135, "bpf_csum_level", TC},
	{136, "bpf_skc_to_tcp6_sock", SF | TC | XDP | TR | SYS},
	{137, "bpf_skc_to_tcp_sock", SF | TC | XDP | TR | SYS},
	{138, "bpf_skc_to_tcp_timewait_sock", SF | TC | XDP | TR | SYS},
	{139, "bpf_skc_to_tcp_request_sock", SF | TC | XDP | TR | SYS},
	{140, "bpf_skc_to_udp6_sock", SF | TC | XDP | TR | SYS},
	{141, "bpf_get_task_stack", SF | TC | XDP | ALL_TRACE},
	{142, "bpf_load_hdr_opt", 0},
	{143, "bpf_store_hdr_opt", 0},
	{144, "bpf_reserve_hdr_opt", 0},
	{145, "bpf_inode_storage_get", 0},
	{146, "bpf_inode_storage_delete", 0},
	{147, "bpf_d_path", 0},
	{148, "bpf_copy_from_user", SF | TC | XDP | KP | SYS},
	{149, "bpf_snprintf_btf", SF | TC | XDP | ALL_TRACE},
	{150, "bpf_seq_printf_btf", 0},
	{151, "bpf_skb_cgroup_classid", TC},
	{152, "bpf_redirect_neigh", TC},
	{153, "bpf_per_cpu_ptr", SF | TC | XDP | ALL_TRACE},
	{154, "bpf_this_cpu_ptr", SF | TC | XDP | ALL_TRACE},
	{155, "bpf_redirect_peer", TC},
	{156, "bpf_task_storage_get", SF | TC | XDP | ALL_TRACE},
	{157, "bpf_task_storage_delete", SF | TC | XDP | ALL_TRACE},
	{158, "bpf_get_current_task_btf", SF | TC | XDP | ALL_TRACE},
	{159, "bpf_bprm_opts_set", 0},
	{160, "bpf_ktime_get_coarse_ns", SF | TC | XDP},
	{161, "bpf_ima_inode_hash", 0},
	{162, "bpf_sock_from_file", TR | SYS},
	{163, "bpf_check_mtu", TC | XDP},
	{164, "bpf_for_each_map_elem", SF | TC | XDP | ALL_TRACE},
	{165, "bpf_snprintf", SF | TC | XDP | ALL_TRACE},
	{166, "bpf_sys_bpf", SYS},
	{167, "bpf_btf_find_by_name_kind", SYS},
	{168, "bpf_sys_close", SYS},
	{169, "bpf_timer_init", SF | TC | XDP | ALL_TRACE},
	{170, "bpf_timer_set_callback", SF | TC | XDP | ALL_TRACE},
	{171, "bpf_timer_start", SF | TC | XDP | ALL_TRACE},
	{172, "bpf_timer_cancel", SF | TC | XDP | ALL_TRACE},
	{173, "bpf_get_func_ip", KP | TP | RAW | SYS},
	{174, "bpf_get_attach_cookie", KP | TP | RAW | TR},
	{175, "bpf_task_pt_regs", SF | TC | XDP | ALL_TRACE},
	{176, "bpf_get_branch_snapshot", SF | TC | XDP | ALL_TRACE},
	{177, "bpf_trace_vprintk", SF | TC | XDP | ALL_TRACE},
	{178, "bpf_skc_to_unix_sock", SF | TC | XDP | TR | SYS},
	{179, "bpf_kallsyms_lookup_name", SYS},
	{180, "bpf_find_vma", SF | TC | XDP | ALL_TRACE},
	{181, "bpf_loop", SF | TC | XDP | ALL_TRACE},
	{182, "bpf_strncmp", SF | TC | XDP | ALL_TRACE},
	{183, "bpf_get_func_arg", 0},
	{184, "bpf_get_func_ret", 0},
	{185, "bpf_get_func_arg_cnt", 0},
	{186, "bpf_get_retval", 0},
	{187, "bpf_set_retval", 0},
	{188, "bpf_xdp_get_buff_len", XDP | TR | SYS},
	{189, "bpf_xdp_load_bytes", XDP},
	{190, "bpf_xdp_store_bytes", XDP},
	{191, "bpf_copy_from_user_task", SF | TC | XDP | KP | SYS},
	{192, "bpf_skb_set_tstamp", TC},
	{193, "bpf_ima_file_hash", 0},
	{194, "bpf_kptr_xchg", SF | TC | XDP | ALL_TRACE},
	{195, "bpf_map_lookup_percpu_elem", SF | TC | XDP | ALL_TRACE},
	{196, "bpf_skc_to_mptcp_sock", SF | TC | XDP | TR | SYS},
	{197, "bpf_dynptr_from_mem", SF | TC | XDP | ALL_TRACE},
	{198, "bpf_ringbuf_reserve_dynptr", SF | TC | XDP | ALL_TRACE},
	{199, "bpf_ringbuf_submit_dynptr", SF | TC | XDP | ALL_TRACE},
	{200, "bpf_ringbuf_discard_dynptr", SF | TC | XDP | ALL_TRACE},
	{201, "bpf_dynptr_read", SF | TC | XDP | ALL_TRACE},
	{202, "bpf_dynptr_write", SF | TC | XDP | ALL_TRACE},
	{203, "bpf_dynptr_data", SF | TC | XDP | ALL_TRACE},
	{204, "bpf_tcp_raw_gen_syncookie_ipv4", TC | XDP},
	{205, "bpf_tcp_raw_gen_syncookie_ipv6", TC | XDP},
	{206, "bpf_tcp_raw_check_syncookie_ipv4", TC | XDP},
	{207, "bpf_tcp_raw_check_syncookie_ipv6", TC | XDP},
	{208, "bpf_ktime_get_tai_ns", SF | TC | XDP | ALL_TRACE},
	{209, "bpf_user_ringbuf_drain", SF | TC | XDP | ALL_TRACE},
	{210, "bpf_cgrp_storage_get", SF | TC | XDP | ALL_TRACE},
	{211, "bpf_cgrp_storage_delete", SF | TC | XDP | ALL_TRACE},
};

const char *visor_vm_helper_linux_name(uint32_t id)
{
	if (id && id <= sizeof(protos) / sizeof(protos[0]))
		return protos[id - 1].name;
	return NULL;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case VISOR_VM_PROG_SOCKET_FILTER:
		return "socket filter";
	case VISOR_VM_PROG_SCHED_CLS:
		return "tc (sched_cls)";
	case VISOR_VM_PROG_XDP:
		return "xdp";
	case VISOR_VM_PROG_KPROBE:
		return "kprobe";
	case VISOR_VM_PROG_TRACEPOINT:
		return "tracepoint";
	case VISOR_VM_PROG_RAW_TRACEPOINT:
		return "raw tracepoint";
	case VISOR_VM_PROG_TRACING:
		return "tracing";
	case VISOR_VM_PROG_SYSCALL:
		return "syscall";
	}
	return "this type of";
}

/* The type's column of the table; 0 for a plain program or a type without
 * a context. */
static uint8_t type_bit(uint32_t type)
{
	switch (type) {
	case VISOR_VM_PROG_SOCKET_FILTER: return SF;
	case VISOR_VM_PROG_SCHED_CLS: return TC;
	case VISOR_VM_PROG_XDP: return XDP;
	case VISOR_VM_PROG_KPROBE: return KP;
	case VISOR_VM_PROG_TRACEPOINT: return TP;
	case VISOR_VM_PROG_RAW_TRACEPOINT: return RAW;
	case VISOR_VM_PROG_TRACING: return TR;
	case VISOR_VM_PROG_SYSCALL: return SYS;
	}
	return 0;
}

bool visor_vm_helper_allowed(uint32_t type, uint32_t id)
{
	uint8_t bit = type_bit(type);
	if (!bit)
		return type == 0; /* untyped: any registered helper */
	return visor_vm_helper_linux_name(id) && (protos[id - 1].types & bit);
}

int visor_vm_rt_check_helper(struct visor_vm *vm, size_t pc, int32_t imm)
{
	uint32_t type = vm->rt->prog_type, id = (uint32_t)imm;
	if (!type_bit(type) || visor_vm_helper_allowed(type, id))
		return 0; /* untyped: any registered helper */
	const char *name = visor_vm_helper_linux_name(id);
	if (name)
		snprintf(vm->errmsg, sizeof(vm->errmsg),
			 "insn %zu: helper %s (%u) is not allowed in %s programs", pc, name, id,
			 type_name(type));
	else
		snprintf(vm->errmsg, sizeof(vm->errmsg),
			 "insn %zu: helper %d is not a Linux helper, so %s programs may not call it",
			 pc, imm, type_name(type));
	return -EINVAL;
}
