/* The per-program-type helper allowlist (src/vm/helper_protos.c): a typed
 * program calling a helper its type may not use is refused at load, naming
 * helper and type; untyped programs keep any registered helper. As root,
 * the same one-call programs are loaded into the kernel as each type and
 * the kernel must accept and refuse the same helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <visor/visor.h>

#include "kernel_run.h"
#include "testutil.h"

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

static const uint32_t types[] = {VISOR_VM_PROG_SOCKET_FILTER, VISOR_VM_PROG_SCHED_CLS,
				 VISOR_VM_PROG_XDP};

/* Loads "call id; r0 = 0; exit" as the type (0: untyped) with the Linux
 * helpers registered; returns visor_vm_load's result, message in msg. */
static int load_call(uint32_t type, int32_t id, char *msg, size_t len)
{
	struct visor_insn p[] = {INSN(0x85, 0, 0, 0, id), INSN(0xb7, 0, 0, 0, 0),
				 INSN(0x95, 0, 0, 0, 0)};
	struct visor_vm *vm = visor_vm_create();
	int rc = visor_vm_register_linux_helpers(vm);
	if (!rc && type)
		rc = visor_vm_set_prog_type(vm, type);
	if (!rc)
		rc = visor_vm_load(vm, p, 3);
	snprintf(msg, len, "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
	return rc;
}

static void test_messages(void)
{
	char msg[512];
	/* Allowed in tc and socket filters, not in XDP. */
	CHECK(load_call(VISOR_VM_PROG_XDP, 26, msg, sizeof(msg)) == -EINVAL &&
		      !strcmp(msg, "insn 0: helper bpf_skb_load_bytes (26) is not allowed in xdp programs"),
	      "xdp skb_load_bytes: %s", msg);
	CHECK(load_call(VISOR_VM_PROG_SCHED_CLS, 26, msg, sizeof(msg)) == 0, "tc skb_load_bytes: %s", msg);
	CHECK(load_call(VISOR_VM_PROG_SOCKET_FILTER, 26, msg, sizeof(msg)) == 0, "sf skb_load_bytes: %s",
	      msg);
	/* csum_diff: tc and XDP, not socket filters. */
	CHECK(load_call(VISOR_VM_PROG_SOCKET_FILTER, 28, msg, sizeof(msg)) == -EINVAL &&
		      strstr(msg, "helper bpf_csum_diff (28) is not allowed in socket filter programs"),
	      "sf csum_diff: %s", msg);
	CHECK(load_call(VISOR_VM_PROG_XDP, 28, msg, sizeof(msg)) == 0, "xdp csum_diff: %s", msg);
	/* Tracing-only helpers, and ids that are no Linux helper. */
	CHECK(load_call(VISOR_VM_PROG_XDP, 4, msg, sizeof(msg)) == -EINVAL &&
		      strstr(msg, "bpf_probe_read (4)"), "xdp probe_read: %s", msg);
	CHECK(load_call(VISOR_VM_PROG_SCHED_CLS, 100000, msg, sizeof(msg)) == -EINVAL &&
		      strstr(msg, "helper 100000 is not a Linux helper"), "tc id 100000: %s", msg);
	CHECK(load_call(VISOR_VM_PROG_XDP, -1, msg, sizeof(msg)) == -EINVAL, "xdp id -1: %s", msg);
	/* Untyped programs: any id loads, as before (an unregistered one
	 * fails when called). */
	CHECK(load_call(0, 26, msg, sizeof(msg)) == 0, "untyped 26: %s", msg);
	CHECK(load_call(0, 4, msg, sizeof(msg)) == 0, "untyped 4: %s", msg);
	/* The check names the first offending call, deep in a program. */
	struct visor_insn p[] = {INSN(0xb7, 0, 0, 0, 0), INSN(0x85, 0, 0, 0, 5),
				 INSN(0x85, 0, 0, 0, 44), INSN(0x95, 0, 0, 0, 0)};
	struct visor_vm *vm = visor_vm_create();
	visor_vm_register_linux_helpers(vm);
	visor_vm_set_prog_type(vm, VISOR_VM_PROG_SCHED_CLS);
	CHECK(visor_vm_load(vm, p, 4) == -EINVAL &&
		      !strcmp(visor_vm_errmsg(vm),
			      "insn 2: helper bpf_xdp_adjust_head (44) is not allowed in tc (sched_cls) programs"),
	      "deep: %s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
}

/* Helpers visor implements, plus type-specific ones whose verdict differs
 * between the types (stable across kernel versions). */
static const int32_t ids[] = {1,  2,  3,  5,  6,  7,  8,  9,  14, 15, 16,  23,  26,  28,  34,
			      42, 44, 51, 54, 65, 87, 88, 89, 112, 114, 118, 125, 130, 131, 132,
			      133, 134, 182};

static void test_kernel(void)
{
	char why[256];
	if (!kernel_available(why, sizeof(why))) {
		printf("SKIP kernel cross-check: %s\n", why);
		return;
	}
	char *log = malloc(KERNEL_LOG_SIZE);
	if (!log)
		return;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			struct visor_insn p[] = {INSN(0x85, 0, 0, 0, ids[i]), INSN(0xb7, 0, 0, 0, 0),
						 INSN(0x95, 0, 0, 0, 0)};
			log[0] = 0;
			int fd = kernel_prog_load((int)types[t], 0, p, 3, log, KERNEL_LOG_SIZE);
			if (fd >= 0)
				close(fd);
			/* Refused for the helper itself, not for its arguments. */
			bool kernel_ok = fd >= 0 || (!strstr(log, "unknown func") &&
						     !strstr(log, "cannot use helper"));
			char msg[512];
			bool visor_ok = load_call(types[t], ids[i], msg, sizeof(msg)) == 0;
			CHECK(kernel_ok == visor_ok, "type %u helper %d: kernel %s, visor %s (%s)",
			      types[t], ids[i], kernel_ok ? "allows" : "refuses",
			      visor_ok ? "allows" : "refuses", msg);
		}
	}
	free(log);
}

int main(void)
{
	test_messages();
	test_kernel();
	return test_summary("test_runtime_helpers");
}
