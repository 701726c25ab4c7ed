/* visor — kernel backend: the Linux kernel's own eBPF, through libbpf.
 * First piece: the bpf filesystem (bpffs) and reading pinned maps. Loading,
 * attaching, ring/perf buffers and the trace pipe come later and grow this
 * header. See docs/KERNEL.md.
 *
 * Errors are negative errno values with a one-line message in a caller
 * buffer (err, err_len; err may be NULL) or, for calls on an open map, in
 * visor_kernel_map_errmsg(). Nothing here exits or aborts. */
#ifndef VISOR_KERNEL_H
#define VISOR_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where pins live by convention (bpftool, systemd, Cilium). */
#define VISOR_KERNEL_BPFFS_DIR "/sys/fs/bpf"

/* ---- bpf filesystem ----------------------------------------------------- */

/* Is path on a bpf filesystem (statfs f_type == BPF_FS_MAGIC)? Returns 1 or
 * 0, or a negative errno (-ENOENT: no such path; -EACCES ...) with a message. */
int visor_kernel_is_bpffs(const char *path, char *err, size_t err_len);

/* Makes sure a bpf filesystem is mounted at dir (NULL: /sys/fs/bpf), as
 * bpftool does before pinning: returns 0 if it already was, 1 if this call
 * mounted it (mode 0700; the caller may umount it when done), or a negative
 * errno with a message saying what is missing (-EPERM: not mounted and not
 * root; -ENOENT: dir does not exist; -ENOTDIR). */
int visor_kernel_bpffs_mount(const char *dir, char *err, size_t err_len);

/* ---- Pinned maps -------------------------------------------------------- */

/* What the kernel says about a map (struct bpf_map_info), plus the value
 * layout user space exchanges with it. */
struct visor_kernel_map_info {
	uint32_t id;
	uint32_t type;          /* enum bpf_map_type (= enum visor_map_type numbers) */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;
	char name[16];          /* "" when created without a name */
	uint32_t btf_id;        /* 0: no BTF */
	uint32_t btf_key_type_id;
	uint32_t btf_value_type_id;
	/* Values per lookup: libbpf_num_possible_cpus() for per-CPU types, else 1. */
	uint32_t nr_cpus;
	/* Distance between two CPUs' values: value_size rounded up to 8 for
	 * per-CPU types, else value_size. */
	uint32_t value_stride;
	/* Bytes a lookup writes: nr_cpus * value_stride. */
	size_t value_buf_size;
};

struct visor_kernel_map;

/* Opens the map pinned at path (bpf_obj_get) and reads its description.
 * Returns 0 and *map, or a negative errno with one line naming path:
 * -ENOENT no such pin (and whether bpffs is mounted), -EINVAL path is not on
 * a bpf filesystem, -EBADF the pin is a program/link/BTF, not a map, -EACCES
 * / -EPERM not allowed (needs root or CAP_BPF), -ENOSYS bpf() unavailable. */
int visor_kernel_map_open_pinned(const char *path, struct visor_kernel_map **map,
				 char *err, size_t err_len);
/* Closes the fd and frees the map; NULL is ignored. The pin stays. */
void visor_kernel_map_close(struct visor_kernel_map *map);

const struct visor_kernel_map_info *visor_kernel_map_info(const struct visor_kernel_map *map);
int visor_kernel_map_fd(const struct visor_kernel_map *map); /* owned by map */
/* The message of the last failed call on this map ("" if none). */
const char *visor_kernel_map_errmsg(const struct visor_kernel_map *map);

/* libbpf's name of a map type ("hash", "percpu_array" ...) or NULL. */
const char *visor_kernel_map_type_name(uint32_t type);
/* Types whose elements have no keys to walk (queue, stack, ring buffers,
 * bloom filter): get_next_key does not apply. */
bool visor_kernel_map_type_keyless(uint32_t type);

/* bpf_map_get_next_key: key NULL gives the first key; -ENOENT after the
 * last. next_key holds key_size bytes. */
int visor_kernel_map_get_next_key(struct visor_kernel_map *map, const void *key, void *next_key);
/* bpf_map_lookup_elem: value holds info->value_buf_size bytes (one value per
 * CPU, value_stride apart, for per-CPU maps). -ENOENT when missing;
 * -EOPNOTSUPP or -524 (ENOTSUPP) for types user space cannot read
 * (perf event arrays ...). */
int visor_kernel_map_lookup(struct visor_kernel_map *map, const void *key, void *value);

/* ---- BTF-formatted keys and values -------------------------------------- */

/* Formats one key, or one value (one CPU's for per-CPU maps: value_size
 * bytes), through the map's BTF with libbpf's btf_dump__dump_type_data, on
 * one line: "(struct pkt_stats){.packets = (__u64)5,.bytes = (__u64)210,}".
 * Writes at most buf_len bytes including the NUL and returns the length of
 * the whole text (as snprintf: >= buf_len means truncated), or a negative
 * errno: -ENODATA the map has no BTF for it; others with a message. The
 * map's BTF is fetched from the kernel on first use. */
int visor_kernel_map_format_key(struct visor_kernel_map *map, const void *key, char *buf,
				size_t buf_len);
int visor_kernel_map_format_value(struct visor_kernel_map *map, const void *value, char *buf,
				  size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif
