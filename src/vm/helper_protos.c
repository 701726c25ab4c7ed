/* Which Linux helpers each program type may call: the kernel's func_proto
 * tables (sk_filter_func_proto, tc_cls_act_func_proto, xdp_func_proto and
 * bpf_base_func_proto behind them) for the types the VM has a context for.
 * Measured on Linux 6.18 as root (every capability, GPL license): each id was
 * loaded as "call id; r0 = 0; exit" and counted as refused when the
 * verifier said "unknown func". A program with a type set may call only the
 * helpers allowed here; visor_vm_load refuses the others, naming helper and
 * type. Ids past the table, or listed with no type, are refused the same
 * way for typed programs. */
#include <errno.h>
#include <stdio.h>

#include "runtime_internal.h"

enum { SF = 1, TC = 2, XDP = 4 };

static const struct {
	uint16_t id;
	const char *name;
	uint8_t types;
} protos[] = {
	{1, "bpf_map_lookup_elem", SF | TC | XDP},
	{2, "bpf_map_update_elem", SF | TC | XDP},
	{3, "bpf_map_delete_elem", SF | TC | XDP},
	{4, "bpf_probe_read", 0},
	{5, "bpf_ktime_get_ns", SF | TC | XDP},
	{6, "bpf_trace_printk", SF | TC | XDP},
	{7, "bpf_get_prandom_u32", SF | TC | XDP},
	{8, "bpf_get_smp_processor_id", SF | TC | XDP},
	{9, "bpf_skb_store_bytes", TC},
	{10, "bpf_l3_csum_replace", TC},
	{11, "bpf_l4_csum_replace", TC},
	{12, "bpf_tail_call", SF | TC | XDP},
	{13, "bpf_clone_redirect", TC},
	{14, "bpf_get_current_pid_tgid", SF | TC | XDP},
	{15, "bpf_get_current_uid_gid", SF | TC | XDP},
	{16, "bpf_get_current_comm", SF | TC | XDP},
	{17, "bpf_get_cgroup_classid", SF | TC | XDP},
	{18, "bpf_skb_vlan_push", TC},
	{19, "bpf_skb_vlan_pop", TC},
	{20, "bpf_skb_get_tunnel_key", TC},
	{21, "bpf_skb_set_tunnel_key", TC},
	{22, "bpf_perf_event_read", SF | TC | XDP},
	{23, "bpf_redirect", TC | XDP},
	{24, "bpf_get_route_realm", TC},
	{25, "bpf_perf_event_output", SF | TC | XDP},
	{26, "bpf_skb_load_bytes", SF | TC},
	{27, "bpf_get_stackid", 0},
	{28, "bpf_csum_diff", TC | XDP},
	{29, "bpf_skb_get_tunnel_opt", TC},
	{30, "bpf_skb_set_tunnel_opt", TC},
	{31, "bpf_skb_change_proto", TC},
	{32, "bpf_skb_change_type", TC},
	{33, "bpf_skb_under_cgroup", TC},
	{34, "bpf_get_hash_recalc", TC},
	{35, "bpf_get_current_task", SF | TC | XDP},
	{36, "bpf_probe_write_user", 0},
	{37, "bpf_current_task_under_cgroup", SF | TC | XDP},
	{38, "bpf_skb_change_tail", TC},
	{39, "bpf_skb_pull_data", TC},
	{40, "bpf_csum_update", TC},
	{41, "bpf_set_hash_invalid", TC},
	{42, "bpf_get_numa_node_id", SF | TC | XDP},
	{43, "bpf_skb_change_head", TC},
	{44, "bpf_xdp_adjust_head", XDP},
	{45, "bpf_probe_read_str", 0},
	{46, "bpf_get_socket_cookie", SF | TC},
	{47, "bpf_get_socket_uid", SF | TC},
	{48, "bpf_set_hash", TC},
	{49, "bpf_setsockopt", 0},
	{50, "bpf_skb_adjust_room", TC},
	{51, "bpf_redirect_map", XDP},
	{52, "bpf_sk_redirect_map", 0},
	{53, "bpf_sock_map_update", 0},
	{54, "bpf_xdp_adjust_meta", XDP},
	{55, "bpf_perf_event_read_value", SF | TC | XDP},
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
	{67, "bpf_get_stack", 0},
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
	{80, "bpf_get_current_cgroup_id", SF | TC | XDP},
	{81, "bpf_get_local_storage", 0},
	{82, "bpf_sk_select_reuseport", 0},
	{83, "bpf_skb_ancestor_cgroup_id", TC},
	{84, "bpf_sk_lookup_tcp", TC | XDP},
	{85, "bpf_sk_lookup_udp", TC | XDP},
	{86, "bpf_sk_release", TC | XDP},
	{87, "bpf_map_push_elem", SF | TC | XDP},
	{88, "bpf_map_pop_elem", SF | TC | XDP},
	{89, "bpf_map_peek_elem", SF | TC | XDP},
	{90, "bpf_msg_push_data", 0},
	{91, "bpf_msg_pop_data", 0},
	{92, "bpf_rc_pointer_rel", 0},
	{93, "bpf_spin_lock", SF | TC | XDP},
	{94, "bpf_spin_unlock", SF | TC | XDP},
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
	{105, "bpf_strtol", SF | TC | XDP},
	{106, "bpf_strtoul", SF | TC | XDP},
	{107, "bpf_sk_storage_get", TC},
	{108, "bpf_sk_storage_delete", TC},
	{109, "bpf_send_signal", SF | TC | XDP},
	{110, "bpf_tcp_gen_syncookie", TC | XDP},
	{111, "bpf_skb_output", 0},
	{112, "bpf_probe_read_user", SF | TC | XDP},
	{113, "bpf_probe_read_kernel", SF | TC | XDP},
	{114, "bpf_probe_read_user_str", SF | TC | XDP},
	{115, "bpf_probe_read_kernel_str", SF | TC | XDP},
	{116, "bpf_tcp_send_ack", 0},
	{117, "bpf_send_signal_thread", SF | TC | XDP},
	{118, "bpf_jiffies64", SF | TC | XDP},
	{119, "bpf_read_branch_records", 0},
	{120, "bpf_get_ns_current_pid_tgid", SF | TC | XDP},
	{121, "bpf_xdp_output", 0},
	{122, "bpf_get_netns_cookie", SF | TC},
	{123, "bpf_get_current_ancestor_cgroup_id", SF | TC | XDP},
	{124, "bpf_sk_assign", TC},
	{125, "bpf_ktime_get_boot_ns", SF | TC | XDP},
	{126, "bpf_seq_printf", 0},
	{127, "bpf_seq_write", 0},
	{128, "bpf_sk_cgroup_id", 0},
	{129, "bpf_sk_ancestor_cgroup_id", 0},
	{130, "bpf_ringbuf_output", SF | TC | XDP},
	{131, "bpf_ringbuf_reserve", SF | TC | XDP},
	{132, "bpf_ringbuf_submit", SF | TC | XDP},
	{133, "bpf_ringbuf_discard", SF | TC | XDP},
	{134, "bpf_ringbuf_query", SF | TC | XDP},
	{135, "bpf_csum_level", TC},
	{136, "bpf_skc_to_tcp6_sock", SF | TC | XDP},
	{137, "bpf_skc_to_tcp_sock", SF | TC | XDP},
	{138, "bpf_skc_to_tcp_timewait_sock", SF | TC | XDP},
	{139, "bpf_skc_to_tcp_request_sock", SF | TC | XDP},
	{140, "bpf_skc_to_udp6_sock", SF | TC | XDP},
	{141, "bpf_get_task_stack", SF | TC | XDP},
	{142, "bpf_load_hdr_opt", 0},
	{143, "bpf_store_hdr_opt", 0},
	{144, "bpf_reserve_hdr_opt", 0},
	{145, "bpf_inode_storage_get", 0},
	{146, "bpf_inode_storage_delete", 0},
	{147, "bpf_d_path", 0},
	{148, "bpf_copy_from_user", SF | TC | XDP},
	{149, "bpf_snprintf_btf", SF | TC | XDP},
	{150, "bpf_seq_printf_btf", 0},
	{151, "bpf_skb_cgroup_classid", TC},
	{152, "bpf_redirect_neigh", TC},
	{153, "bpf_per_cpu_ptr", SF | TC | XDP},
	{154, "bpf_this_cpu_ptr", SF | TC | XDP},
	{155, "bpf_redirect_peer", TC},
	{156, "bpf_task_storage_get", SF | TC | XDP},
	{157, "bpf_task_storage_delete", SF | TC | XDP},
	{158, "bpf_get_current_task_btf", SF | TC | XDP},
	{159, "bpf_bprm_opts_set", 0},
	{160, "bpf_ktime_get_coarse_ns", SF | TC | XDP},
	{161, "bpf_ima_inode_hash", 0},
	{162, "bpf_sock_from_file", 0},
	{163, "bpf_check_mtu", TC | XDP},
	{164, "bpf_for_each_map_elem", SF | TC | XDP},
	{165, "bpf_snprintf", SF | TC | XDP},
	{166, "bpf_sys_bpf", 0},
	{167, "bpf_btf_find_by_name_kind", 0},
	{168, "bpf_sys_close", 0},
	{169, "bpf_timer_init", SF | TC | XDP},
	{170, "bpf_timer_set_callback", SF | TC | XDP},
	{171, "bpf_timer_start", SF | TC | XDP},
	{172, "bpf_timer_cancel", SF | TC | XDP},
	{173, "bpf_get_func_ip", 0},
	{174, "bpf_get_attach_cookie", 0},
	{175, "bpf_task_pt_regs", SF | TC | XDP},
	{176, "bpf_get_branch_snapshot", SF | TC | XDP},
	{177, "bpf_trace_vprintk", SF | TC | XDP},
	{178, "bpf_skc_to_unix_sock", SF | TC | XDP},
	{179, "bpf_kallsyms_lookup_name", 0},
	{180, "bpf_find_vma", SF | TC | XDP},
	{181, "bpf_loop", SF | TC | XDP},
	{182, "bpf_strncmp", SF | TC | XDP},
	{183, "bpf_get_func_arg", 0},
	{184, "bpf_get_func_ret", 0},
	{185, "bpf_get_func_arg_cnt", 0},
	{186, "bpf_get_retval", 0},
	{187, "bpf_set_retval", 0},
	{188, "bpf_xdp_get_buff_len", XDP},
	{189, "bpf_xdp_load_bytes", XDP},
	{190, "bpf_xdp_store_bytes", XDP},
	{191, "bpf_copy_from_user_task", SF | TC | XDP},
	{192, "bpf_skb_set_tstamp", TC},
	{193, "bpf_ima_file_hash", 0},
	{194, "bpf_kptr_xchg", SF | TC | XDP},
	{195, "bpf_map_lookup_percpu_elem", SF | TC | XDP},
	{196, "bpf_skc_to_mptcp_sock", SF | TC | XDP},
	{197, "bpf_dynptr_from_mem", SF | TC | XDP},
	{198, "bpf_ringbuf_reserve_dynptr", SF | TC | XDP},
	{199, "bpf_ringbuf_submit_dynptr", SF | TC | XDP},
	{200, "bpf_ringbuf_discard_dynptr", SF | TC | XDP},
	{201, "bpf_dynptr_read", SF | TC | XDP},
	{202, "bpf_dynptr_write", SF | TC | XDP},
	{203, "bpf_dynptr_data", SF | TC | XDP},
	{204, "bpf_tcp_raw_gen_syncookie_ipv4", TC | XDP},
	{205, "bpf_tcp_raw_gen_syncookie_ipv6", TC | XDP},
	{206, "bpf_tcp_raw_check_syncookie_ipv4", TC | XDP},
	{207, "bpf_tcp_raw_check_syncookie_ipv6", TC | XDP},
	{208, "bpf_ktime_get_tai_ns", SF | TC | XDP},
	{209, "bpf_user_ringbuf_drain", SF | TC | XDP},
};

const char *visor_linux_helper_name(uint32_t id)
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
	}
	return "this type of";
}

int visor_vm_rt_check_helper(struct visor_vm *vm, size_t pc, int32_t imm)
{
	uint32_t type = vm->rt->prog_type, id = (uint32_t)imm;
	uint8_t bit = type == VISOR_VM_PROG_SOCKET_FILTER ? SF
		      : type == VISOR_VM_PROG_SCHED_CLS	  ? TC
		      : type == VISOR_VM_PROG_XDP	  ? XDP
							  : 0;
	if (!bit)
		return 0; /* untyped: any registered helper */
	const char *name = visor_linux_helper_name(id);
	if (name && (protos[id - 1].types & bit))
		return 0;
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
