/* The kernel's verifier as a reference for visor's: loads raw instructions
 * (with the maps they use) or one program of a compiled object into the
 * kernel and reports the verdict and the verifier's reason. Loading goes
 * through kernel_prog_load (kernel_run.h); this adds the maps and objects. */
#ifndef VISOR_TESTS_KVERIFY_H
#define VISOR_TESTS_KVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

/* A map an assembled program refers to with lddw src=1 (map_fd N) or src=2
 * (map_value N + off), N being its index in the array given to
 * kverify_insns. Linux numbering for type and flags. */
struct kverify_map {
	const char *name;
	uint32_t type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t flags;
	int freeze; /* freeze after creation (read-only data: BPF_F_RDONLY_PROG) */
};

/* Creates maps in the kernel, copies insns with each lddw map index
 * replaced by the map's fd, and loads them as a program of prog_type.
 * Returns 0 if the kernel's verifier accepts, the negative errno of the
 * load if it refuses (the tail of the verifier log in log), or -ENOMEM /
 * the map creation error (log says so: "map NAME: ..."). */
int kverify_insns(int prog_type, const struct visor_insn *insns, size_t n,
		  const struct kverify_map *maps, size_t nmaps, char *log, size_t log_len);

/* Returned when the kernel could not be asked: the object does not open in
 * libbpf, the program type or attach point is not available on this
 * kernel, or a load step other than the verifier failed. */
#define KVERIFY_NOT_VERIFIED 1

/* Loads only the program prog of the object at path (libbpf: maps,
 * relocations, global data) and reports as kverify_insns, or returns
 * KVERIFY_NOT_VERIFIED with "not verified: <why>" in log. A program that
 * only loads together with its siblings (a prog array filled statically
 * with them) is retried within its whole object. */
int kverify_object(const char *path, const char *prog, char *log, size_t log_len);

#endif
