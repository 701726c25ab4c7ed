/* The helpers of the bpf_conformance suite. Each checks the memory it is
 * handed through the run, as any helper must: a program may pass any number
 * as a pointer. */
#include <errno.h>
#include <stdint.h>

#include <visor/conformance.h>

static uint64_t gather_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			     struct visor_vm_run *run)
{
	return (a & 0xff) << 32 | (b & 0xff) << 24 | (c & 0xff) << 16 | (d & 0xff) << 8 |
	       (e & 0xff);
}

static uint64_t memfrob(uint64_t ptr, uint64_t len, uint64_t r3, uint64_t r4, uint64_t r5,
			struct visor_vm_run *run)
{
	if (len == 0)
		return 0;
	if (!visor_vm_run_mem_ok(run, ptr, len, true)) {
		visor_vm_run_fail(run, -EFAULT, "memfrob: %llu bytes at 0x%llx are not writable memory",
				  (unsigned long long)len, (unsigned long long)ptr);
		return 0;
	}
	uint8_t *p = (uint8_t *)(uintptr_t)ptr;
	for (uint64_t i = 0; i < len; i++)
		p[i] ^= 42;
	return 0;
}

static uint64_t no_op(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		      struct visor_vm_run *run)
{
	return 0;
}

/* floor(sqrt(a)), exact for all 64-bit values (a double would round). */
static uint64_t sqrti(uint64_t a, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		      struct visor_vm_run *run)
{
	uint64_t res = 0, bit = 1ull << 62;

	while (bit > a)
		bit >>= 2;
	while (bit) {
		if (a >= res + bit) {
			a -= res + bit;
			res = (res >> 1) + bit;
		} else {
			res >>= 1;
		}
		bit >>= 2;
	}
	return res;
}

/* Reads one byte of a string, checking each byte: the terminator may lie
 * anywhere, so the length is unknown up front. Returns -1 if not readable. */
static int str_byte(struct visor_vm_run *run, uint64_t addr)
{
	if (!visor_vm_run_mem_ok(run, addr, 1, false))
		return -1;
	return *(const uint8_t *)(uintptr_t)addr;
}

static uint64_t strcmp_ext(uint64_t a, uint64_t b, uint64_t r3, uint64_t r4, uint64_t r5,
			   struct visor_vm_run *run)
{
	for (uint64_t i = 0;; i++) {
		int ca = str_byte(run, a + i), cb = str_byte(run, b + i);
		if (ca < 0 || cb < 0) {
			visor_vm_run_fail(run, -EFAULT,
					  "strcmp_ext: string at 0x%llx runs outside readable memory",
					  (unsigned long long)(ca < 0 ? a : b));
			return 0;
		}
		if (ca != cb)
			return (uint64_t)(int64_t)(ca - cb);
		if (ca == 0)
			return 0;
	}
}

static uint64_t unwind(uint64_t a, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		       struct visor_vm_run *run)
{
	if (a == 0)
		visor_vm_run_stop(run, 0);
	return a;
}

int visor_conformance_register_helpers(struct visor_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		visor_helper_fn fn;
	} helpers[] = {
		{VISOR_CONFORMANCE_GATHER_BYTES, "gather_bytes", gather_bytes},
		{VISOR_CONFORMANCE_MEMFROB, "memfrob", memfrob},
		{VISOR_CONFORMANCE_NO_OP, "no_op", no_op},
		{VISOR_CONFORMANCE_SQRTI, "sqrti", sqrti},
		{VISOR_CONFORMANCE_STRCMP_EXT, "strcmp_ext", strcmp_ext},
		{VISOR_CONFORMANCE_UNWIND, "unwind", unwind},
	};

	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		int err = visor_vm_register_helper(vm, helpers[i].id, helpers[i].name, helpers[i].fn);
		if (err)
			return err;
	}
	return 0;
}
