/* The kernel as reference: loads raw instructions with bpf(BPF_PROG_LOAD)
 * and runs them with BPF_PROG_TEST_RUN, through libbpf's thin wrappers. */
#include "kernel_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "testutil.h"

#ifndef BPF_F_SLEEPABLE
#define BPF_F_SLEEPABLE (1U << 4)
#endif

/* struct visor_insn is laid out as struct bpf_insn; the kernel reads ours. */
_Static_assert(sizeof(struct visor_insn) == sizeof(struct bpf_insn), "insn layout");

/* Copies the end of the verifier log: its last lines say why it refused. */
static void copy_log_tail(char *dst, size_t dst_len, const char *log)
{
	size_t n = strlen(log), room;
	const char *start = log;

	if (!dst || !dst_len)
		return;
	room = dst_len - 1;
	if (n > room) {
		start = log + (n - room);
		/* Begin on a whole line when one starts in the kept part. */
		const char *nl = memchr(start, '\n', n - (size_t)(start - log));
		if (nl && nl[1])
			start = nl + 1;
	}
	memcpy(dst, start, strlen(start) + 1);
}

int kernel_prog_load(int prog_type, uint32_t prog_flags, const struct visor_insn *insns,
		     size_t n, char *log, size_t log_len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = prog_flags);
	int fd, err;
	char *vlog;

	if (log && log_len)
		log[0] = 0;
	/* First without a log: logging every verified instruction is slow. */
	fd = bpf_prog_load(prog_type, "visor_test", "GPL", (const struct bpf_insn *)insns, n,
			   &opts);
	if (fd >= 0)
		return fd;
	err = -errno;
	if (!log || !log_len)
		return err;

	vlog = malloc(KERNEL_LOG_SIZE);
	if (!vlog) {
		test_format(log, log_len, "load failed (%s); no memory for the verifier log",
		    strerror(-err));
		return err;
	}
	vlog[0] = 0;
	opts.log_level = 1;
	opts.log_buf = vlog;
	opts.log_size = KERNEL_LOG_SIZE;
	fd = bpf_prog_load(prog_type, "visor_test", "GPL", (const struct bpf_insn *)insns, n,
			   &opts);
	if (fd >= 0) {
		/* Accepted the second time: not expected, but not our error to invent. */
		close(fd);
		test_format(log, log_len, "load failed (%s) without log, succeeded with it",
		    strerror(-err));
	} else if (vlog[0]) {
		/* The kernel keeps the log's tail when it overflows (rotating log),
		 * which is the part that names the refused instruction. */
		vlog[KERNEL_LOG_SIZE - 1] = 0;
		copy_log_tail(log, log_len, vlog);
	} else {
		test_format(log, log_len, "load failed (%s), empty verifier log", strerror(-err));
	}
	free(vlog);
	return err;
}

int kernel_test_run_out(int fd, const void *data, size_t len, void *out, size_t *out_len,
			uint32_t repeat, uint32_t *retval, uint32_t *duration_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (uint32_t)len,
		    .repeat = (int)repeat);

	if (len > UINT32_MAX || repeat > INT32_MAX)
		return -EINVAL;
	if (out && out_len) {
		opts.data_out = out;
		opts.data_size_out = (uint32_t)*out_len;
	}
	if (bpf_prog_test_run_opts(fd, &opts) < 0)
		return -errno;
	if (out && out_len)
		*out_len = opts.data_size_out;
	if (retval)
		*retval = opts.retval;
	if (duration_ns)
		*duration_ns = opts.duration;
	return 0;
}

int kernel_test_run(int fd, const void *data, size_t len, uint32_t repeat, uint32_t *retval,
		    uint32_t *duration_ns)
{
	return kernel_test_run_out(fd, data, len, NULL, NULL, repeat, retval, duration_ns);
}

int kernel_run_xdp_repeat(const struct visor_insn *insns, size_t n, const void *pkt,
			  size_t pkt_len, uint32_t repeat, uint32_t *retval,
			  uint32_t *duration_ns, char *log, size_t log_len)
{
	int fd, err;

	fd = kernel_prog_load(KERNEL_PROG_XDP, 0, insns, n, log, log_len);
	if (fd < 0)
		return fd;
	err = kernel_test_run(fd, pkt, pkt_len, repeat, retval, duration_ns);
	if (err)
		test_format(log, log_len, "BPF_PROG_TEST_RUN (xdp): %s", strerror(-err));
	close(fd);
	return err;
}

int kernel_run_syscall(const struct visor_insn *insns, size_t n, void *ctx, size_t ctx_len,
		       uint64_t *r0, char *log, size_t log_len)
{
	/* Syscall programs take their context through ctx_in only; the kernel
	 * copies the buffer back into ctx_in after the run (ctx_out, data and
	 * repeat are refused with EINVAL). */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = (uint32_t)ctx_len);
	int fd, err = 0;

	if (ctx_len > 65535)
		return -EINVAL;
	fd = kernel_prog_load(KERNEL_PROG_SYSCALL, BPF_F_SLEEPABLE, insns, n, log, log_len);
	if (fd < 0)
		return fd;
	if (bpf_prog_test_run_opts(fd, &opts) < 0) {
		err = -errno;
		test_format(log, log_len, "BPF_PROG_TEST_RUN (syscall): %s", strerror(-err));
	} else if (r0) {
		*r0 = opts.retval;
	}
	close(fd);
	return err;
}

/* Reduces a multi-line verifier log, in place, to its last line that is not
 * the "processed N insns" statistics: the one giving the reason. */
static void last_line(char *log)
{
	for (;;) {
		size_t n = strlen(log);
		char *start;

		while (n && (log[n - 1] == '\n' || log[n - 1] == ' '))
			log[--n] = 0;
		start = strrchr(log, '\n');
		if (!start)
			return;
		if (strncmp(start + 1, "processed ", 10)) {
			memmove(log, start + 1, strlen(start + 1) + 1);
			return;
		}
		*start = 0;
	}
}

/* The probe: a syscall program that writes a marker into its context and
 * returns it, which exercises load, sleepable flag, test run and copy-back. */
static int probe(char *why, size_t len)
{
	static const struct visor_insn prog[] = {
		{.code = VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, .dst = 0, .imm = 0x5a17},
		{.code = VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_W, .dst = 1, .src = 0},
		{.code = VISOR_OPCODE_EXIT},
	};
	uint32_t ctx[2] = {0, 0};
	uint64_t r0 = 0;
	char log[512];
	int err;

	err = kernel_run_syscall(prog, 3, ctx, sizeof(ctx), &r0, log, sizeof(log));
	if (err == -EPERM || err == -EACCES) {
		if (geteuid() != 0)
			test_format(why, len, "not root (euid %u) and bpf() refused: %s",
			    (unsigned)geteuid(), strerror(-err));
		else
			test_format(why, len,
			    "bpf() not permitted (%s) although root: missing CAP_BPF/"
			    "CAP_SYS_ADMIN or a seccomp/LSM policy",
			    strerror(-err));
		return 0;
	}
	if (err == -ENOSYS) {
		test_format(why, len, "kernel has no bpf() system call (ENOSYS)");
		return 0;
	}
	/* The skip reason is one line: keep the log's last line only. */
	last_line(log);
	if (err == -EINVAL) {
		test_format(why, len,
		    "kernel refused a sleepable BPF_PROG_TYPE_SYSCALL program (EINVAL, "
		    "needs Linux 5.14+): %s",
		    log);
		return 0;
	}
	if (err) {
		test_format(why, len, "probe program failed: %s (%s)", strerror(-err), log);
		return 0;
	}
	if (r0 != 0x5a17 || ctx[0] != 0x5a17) {
		test_format(why, len, "BPF_PROG_TEST_RUN gave r0=0x%llx ctx=0x%x, expected 0x5a17",
		    (unsigned long long)r0, ctx[0]);
		return 0;
	}
	return 1;
}

int kernel_available(char *why, size_t len)
{
	static int state = -1; /* -1: not probed yet */
	static char reason[512];

	if (state < 0)
		state = probe(reason, sizeof(reason));
	if (!state)
		test_format(why, len, "%s", reason);
	else if (why && len)
		why[0] = 0;
	return state;
}
