/* Running raw eBPF instructions in the Linux kernel (the reference
 * implementation) through BPF_PROG_LOAD and BPF_PROG_TEST_RUN, for the
 * differential tests and the benchmarks. All functions return 0 (or a file
 * descriptor) on success and a negative errno on failure. */
#ifndef VISOR_TESTS_KERNEL_RUN_H
#define VISOR_TESTS_KERNEL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

/* Linux program type numbers (enum bpf_prog_type); spelled out here because
 * the distribution's UAPI header may predate some of them. */
#define KERNEL_PROG_SOCKET_FILTER 1
#define KERNEL_PROG_XDP 6
#define KERNEL_PROG_SYSCALL 31

#define KERNEL_LOG_SIZE (4u << 20) /* verifier log buffer used on rejection */

/* Can this process load and test-run BPF_PROG_TYPE_SYSCALL programs? Returns
 * 1 if so; otherwise 0 with the reason in why ("not root (euid 1000) ...",
 * "bpf() not permitted (EPERM) ...", "kernel has no bpf() (ENOSYS)" ...).
 * The probe runs once; later calls return the cached answer. */
int kernel_available(char *why, size_t len);

/* Loads insns as a program of the given type (license "GPL") with extra
 * prog_flags. Returns the program fd (close it), or a negative errno with
 * the verifier's reason in log: the load is retried with log_level 1 so the
 * tail of the verifier log ends up in log (truncated at the front if it does
 * not fit, keeping the lines that explain the rejection). */
int kernel_prog_load(int prog_type, uint32_t prog_flags, const struct visor_insn *insns,
		     size_t n, char *log, size_t log_len);

/* BPF_PROG_TEST_RUN with data_in (packet programs: XDP, socket filters) run
 * repeat times (0 means 1). Reports the program's return value and the
 * kernel's average duration of one run in ns (either pointer may be NULL). */
int kernel_test_run(int fd, const void *data, size_t len, uint32_t repeat, uint32_t *retval,
		    uint32_t *duration_ns);

/* Same, also returning the packet after the run in out (*out_len: capacity in,
 * length out). */
int kernel_test_run_out(int fd, const void *data, size_t len, void *out, size_t *out_len,
			uint32_t repeat, uint32_t *retval, uint32_t *duration_ns);

/* Loads insns as an XDP program, runs it repeat times on the packet and
 * closes it. On load failure the verifier log is in log. */
int kernel_run_xdp_repeat(const struct visor_insn *insns, size_t n, const void *pkt,
			  size_t pkt_len, uint32_t repeat, uint32_t *retval,
			  uint32_t *duration_ns, char *log, size_t log_len);

/* Loads insns as a sleepable BPF_PROG_TYPE_SYSCALL program and runs it once
 * with r1 = a kernel copy of ctx (ctx_len bytes, at most 65535), copying the
 * buffer back into ctx afterwards. Only r1 is set at entry (no r2). The
 * kernel reports r0 truncated to 32 bits: *r0 holds the zero-extended low
 * half; programs that need all 64 bits compared store r0 into ctx.
 * On verifier rejection returns the load error with the log in log; a
 * failure of the run itself is returned with a one-line message in log. */
int kernel_run_syscall(const struct visor_insn *insns, size_t n, void *ctx, size_t ctx_len,
		       uint64_t *r0, char *log, size_t log_len);

#endif
