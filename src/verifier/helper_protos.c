/* The prototypes of the helpers visor implements (visor_vm_register_linux_helpers),
 * as the kernel's struct bpf_func_proto for each (kernel/bpf/helpers.c,
 * kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, net/core/filter.c, Linux
 * 6.18). A helper visor does not implement has no entry, so the verifier
 * refuses a call to it, as the VM would. tests/test_verifier_tables.c checks
 * that the table and the registered helpers are the same set.
 *
 * Where the kernel's prototype and this table differ:
 *   - bpf_snprintf (165) str: the kernel's ARG_PTR_TO_MEM_OR_NULL | MEM_WRITE
 *     (writable memory or NULL) has no kind here; VARG_UNINIT_MEM is the
 *     closest sound one (the helper only writes it). Stricter: NULL, the
 *     kernel's way to only measure, is refused.
 *   - bpf_trace_printk (6) r3..r5: the kernel declares only fmt and
 *     fmt_size (ARG_DONTCARE after them), so the three values the format
 *     may print are not checked, and neither are they here (VARG_NONE).
 * changes_packet is the kernel's bpf_helper_changes_pkt_data() for these
 * ids, bpf_tail_call included (Linux 6.13+: the program tail-called may
 * move the packet). */
#include <stddef.h>

#include "helper_protos.h"

#define A(...) .args = {__VA_ARGS__}
#define P(id_, name_, ret_, ...) [id_] = {.id = id_, .name = name_, .ret = ret_, __VA_ARGS__}

static const struct visor_helper_proto protos[] = {
	/* maps */
	P(1, "bpf_map_lookup_elem", VRET_MAP_VALUE_OR_NULL, A(VARG_MAP_PTR, VARG_MAP_KEY)),
	P(2, "bpf_map_update_elem", VRET_INTEGER,
	  A(VARG_MAP_PTR, VARG_MAP_KEY, VARG_MAP_VALUE, VARG_ANYTHING)),
	P(3, "bpf_map_delete_elem", VRET_INTEGER, A(VARG_MAP_PTR, VARG_MAP_KEY)),
	P(87, "bpf_map_push_elem", VRET_INTEGER, A(VARG_MAP_PTR, VARG_MAP_VALUE, VARG_ANYTHING)),
	P(88, "bpf_map_pop_elem", VRET_INTEGER, A(VARG_MAP_PTR, VARG_MAP_VALUE_UNINIT)),
	P(89, "bpf_map_peek_elem", VRET_INTEGER, A(VARG_MAP_PTR, VARG_MAP_VALUE_UNINIT)),

	/* time, identity, randomness */
	P(5, "bpf_ktime_get_ns", VRET_INTEGER, A(0)),
	P(7, "bpf_get_prandom_u32", VRET_INTEGER, A(0)),
	P(8, "bpf_get_smp_processor_id", VRET_INTEGER, A(0)),
	P(14, "bpf_get_current_pid_tgid", VRET_INTEGER, A(0)),
	P(15, "bpf_get_current_uid_gid", VRET_INTEGER, A(0)),
	P(16, "bpf_get_current_comm", VRET_INTEGER, A(VARG_UNINIT_MEM, VARG_SIZE)),
	P(42, "bpf_get_numa_node_id", VRET_INTEGER, A(0)),
	P(118, "bpf_jiffies64", VRET_INTEGER, A(0)),
	P(125, "bpf_ktime_get_boot_ns", VRET_INTEGER, A(0)),

	/* memory of the process, strings, printing */
	P(6, "bpf_trace_printk", VRET_INTEGER, A(VARG_MEM, VARG_SIZE)),
	P(112, "bpf_probe_read_user", VRET_INTEGER,
	  A(VARG_UNINIT_MEM, VARG_SIZE_OR_ZERO, VARG_ANYTHING)),
	P(114, "bpf_probe_read_user_str", VRET_INTEGER,
	  A(VARG_UNINIT_MEM, VARG_SIZE_OR_ZERO, VARG_ANYTHING)),
	P(165, "bpf_snprintf", VRET_INTEGER,
	  A(VARG_UNINIT_MEM, VARG_SIZE_OR_ZERO, VARG_CONST_STR, VARG_MEM_OR_NULL,
	    VARG_SIZE_OR_ZERO)),
	P(177, "bpf_trace_vprintk", VRET_INTEGER,
	  A(VARG_MEM, VARG_SIZE, VARG_MEM_OR_NULL, VARG_SIZE_OR_ZERO)),
	P(182, "bpf_strncmp", VRET_INTEGER, A(VARG_MEM, VARG_SIZE, VARG_CONST_STR)),

	/* packets */
	P(9, "bpf_skb_store_bytes", VRET_INTEGER,
	  A(VARG_CTX, VARG_ANYTHING, VARG_MEM, VARG_SIZE, VARG_ANYTHING), .changes_packet = true),
	P(10, "bpf_l3_csum_replace", VRET_INTEGER,
	  A(VARG_CTX, VARG_ANYTHING, VARG_ANYTHING, VARG_ANYTHING, VARG_ANYTHING),
	  .changes_packet = true),
	P(11, "bpf_l4_csum_replace", VRET_INTEGER,
	  A(VARG_CTX, VARG_ANYTHING, VARG_ANYTHING, VARG_ANYTHING, VARG_ANYTHING),
	  .changes_packet = true),
	P(23, "bpf_redirect", VRET_INTEGER, A(VARG_ANYTHING, VARG_ANYTHING)),
	P(26, "bpf_skb_load_bytes", VRET_INTEGER,
	  A(VARG_CTX, VARG_ANYTHING, VARG_UNINIT_MEM, VARG_SIZE)),
	P(28, "bpf_csum_diff", VRET_INTEGER,
	  A(VARG_MEM_OR_NULL, VARG_SIZE_OR_ZERO, VARG_MEM_OR_NULL, VARG_SIZE_OR_ZERO,
	    VARG_ANYTHING)),
	P(39, "bpf_skb_pull_data", VRET_INTEGER, A(VARG_CTX, VARG_ANYTHING), .changes_packet = true),
	P(40, "bpf_csum_update", VRET_INTEGER, A(VARG_CTX, VARG_ANYTHING)),
	P(44, "bpf_xdp_adjust_head", VRET_INTEGER, A(VARG_CTX, VARG_ANYTHING), .changes_packet = true),
	P(51, "bpf_redirect_map", VRET_INTEGER, A(VARG_MAP_PTR, VARG_ANYTHING, VARG_ANYTHING)),
	P(54, "bpf_xdp_adjust_meta", VRET_INTEGER, A(VARG_CTX, VARG_ANYTHING), .changes_packet = true),
	P(65, "bpf_xdp_adjust_tail", VRET_INTEGER, A(VARG_CTX, VARG_ANYTHING), .changes_packet = true),

	/* control flow */
	P(12, "bpf_tail_call", VRET_VOID, A(VARG_CTX, VARG_MAP_PTR, VARG_ANYTHING),
	  .changes_packet = true),
	P(164, "bpf_for_each_map_elem", VRET_INTEGER,
	  A(VARG_MAP_PTR, VARG_FUNC, VARG_STACK_OR_NULL, VARG_ANYTHING),
	  .callback_args = 4), /* map, key, value, ctx */
	P(181, "bpf_loop", VRET_INTEGER, A(VARG_ANYTHING, VARG_FUNC, VARG_STACK_OR_NULL, VARG_ANYTHING),
	  .callback_args = 2), /* index, ctx */
	P(93, "bpf_spin_lock", VRET_VOID, A(VARG_SPIN_LOCK)),
	P(94, "bpf_spin_unlock", VRET_VOID, A(VARG_SPIN_LOCK)),

	/* output */
	P(25, "bpf_perf_event_output", VRET_INTEGER,
	  A(VARG_CTX, VARG_MAP_PTR, VARG_ANYTHING, VARG_MEM, VARG_SIZE_OR_ZERO)),
	P(130, "bpf_ringbuf_output", VRET_INTEGER,
	  A(VARG_MAP_PTR, VARG_MEM, VARG_SIZE_OR_ZERO, VARG_ANYTHING)),
	P(131, "bpf_ringbuf_reserve", VRET_RINGBUF_RECORD_OR_NULL,
	  A(VARG_MAP_PTR, VARG_ALLOC_SIZE, VARG_ANYTHING)),
	P(132, "bpf_ringbuf_submit", VRET_VOID, A(VARG_RINGBUF_RECORD, VARG_ANYTHING)),
	P(133, "bpf_ringbuf_discard", VRET_VOID, A(VARG_RINGBUF_RECORD, VARG_ANYTHING)),
	P(134, "bpf_ringbuf_query", VRET_INTEGER, A(VARG_MAP_PTR, VARG_ANYTHING)),
};

const struct visor_helper_proto *visor_verifier_helper(uint32_t id)
{
	if (id < sizeof(protos) / sizeof(protos[0]) && protos[id].name)
		return &protos[id];
	return NULL;
}
