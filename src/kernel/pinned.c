/* Pinned maps: open a map pinned on bpffs, describe it, walk its keys and
 * read its values through bpf() (libbpf's thin wrappers). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel_internal.h"

const char *visor_kernel_map_type_name(uint32_t type)
{
	return libbpf_bpf_map_type_str((enum bpf_map_type)type);
}

bool visor_kernel_map_type_keyless(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
	case BPF_MAP_TYPE_RINGBUF:
	case BPF_MAP_TYPE_BLOOM_FILTER:
	case BPF_MAP_TYPE_USER_RINGBUF:
		return true;
	default:
		return false;
	}
}

static bool type_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/* What kind of bpf object an fd is: the kernel names its anon inodes
 * "bpf-map", "bpf-prog", "bpf-link", "btf" (bpftool's get_fd_type reads the
 * same link). NULL when /proc cannot tell. */
static const char *fd_kind(int fd, char *buf, size_t len)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, len - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	const char *p = strchr(buf, ':');
	return p ? p + 1 : buf;
}

static int open_error(const char *path, int e, char *err, size_t err_len)
{
	switch (e) {
	case EPERM:
	case EACCES:
		return visor_errf(err, err_len, -e,
				  "%s: permission denied: reading kernel maps needs root (or CAP_BPF)",
				  path);
	case ENOSYS:
		return visor_errf(err, err_len, -e,
				  "%s: bpf() is not available on this kernel", path);
	default:
		return visor_errf(err, err_len, -e, "%s: %s", path, strerror(e));
	}
}

/* The pin is missing: say so, and whether bpffs is mounted where the
 * caller looked for it. */
static int missing(const char *path, char *err, size_t err_len)
{
	char parent[4096];
	const char *slash = strrchr(path, '/');
	size_t pl = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	if (pl >= sizeof(parent))
		pl = sizeof(parent) - 1;
	memcpy(parent, slash ? path : ".", pl);
	parent[pl] = 0;
	if (visor_kernel_is_bpffs(parent, NULL, 0) == 1)
		return visor_errf(err, err_len, -ENOENT, "%s: no such pinned object", path);
	size_t dl = strlen(VISOR_KERNEL_BPFFS_DIR);
	if (!strncmp(path, VISOR_KERNEL_BPFFS_DIR, dl) && (!path[dl] || path[dl] == '/') &&
	    visor_kernel_is_bpffs(VISOR_KERNEL_BPFFS_DIR, NULL, 0) == 0)
		return visor_errf(err, err_len, -ENOENT,
				  "%s: no such pinned object (no bpf filesystem is mounted at "
				  "%s)", path, VISOR_KERNEL_BPFFS_DIR);
	return visor_errf(err, err_len, -ENOENT, "%s: %s", path, strerror(ENOENT));
}

int visor_kernel_map_open_pinned(const char *path, struct visor_kernel_map **mapp,
				 char *err, size_t err_len)
{
	*mapp = NULL;
	int r = visor_kernel_is_bpffs(path, NULL, 0);
	if (r == -ENOENT)
		return missing(path, err, err_len);
	const char *base = strrchr(path, '/');
	if (r == -EPERM && strchr(base ? base + 1 : path, '.'))
		/* bpffs refuses lookups of names with a dot (reserved). */
		return visor_errf(err, err_len, -ENOENT,
				  "%s: no such pinned object (bpffs names have no '.'; bpftool "
				  "pins map .data as _data)", path);
	if (r < 0)
		return open_error(path, -r, err, err_len);
	if (!r)
		return visor_errf(err, err_len, -EINVAL,
				  "%s: not on a bpf filesystem (pinned maps live under %s)", path,
				  VISOR_KERNEL_BPFFS_DIR);
	struct stat st;
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return visor_errf(err, err_len, -EISDIR,
				  "%s: a directory of the bpf filesystem, not a pinned map", path);
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		int e = errno;
		/* Root gets EACCES for a bpffs file that holds no bpf object. */
		if (e == EACCES && geteuid() == 0)
			return visor_errf(err, err_len, -EBADF, "%s: not a pinned bpf object", path);
		return open_error(path, e, err, err_len);
	}

	char kb[64];
	const char *kind = fd_kind(fd, kb, sizeof(kb));
	if (kind && strcmp(kind, "bpf-map")) {
		close(fd);
		const char *what = !strcmp(kind, "bpf-prog") ? "program"
				   : !strcmp(kind, "bpf-link") ? "link"
				   : !strcmp(kind, "btf")      ? "BTF object"
							       : kind;
		return visor_errf(err, err_len, -EBADF, "%s: a pinned %s, not a map", path, what);
	}
	return kernel_map_from_fd(fd, path, mapp, err, err_len);
}

/* A map wrapper around fd (which it owns from now on: closed on error
 * too), described by bpf_obj_get_info_by_fd: pinned maps, maps by id and
 * an object's maps (kobj.c, list.c). what names it in messages. */
int kernel_map_from_fd(int fd, const char *what, struct visor_kernel_map **mapp, char *err,
		       size_t err_len)
{
	*mapp = NULL;
	struct bpf_map_info mi;
	memset(&mi, 0, sizeof(mi));
	uint32_t len = sizeof(mi);
	if (bpf_obj_get_info_by_fd(fd, &mi, &len)) {
		int e = errno;
		close(fd);
		return visor_errf(err, err_len, -e, "%s: map info: %s", what, strerror(e));
	}
	struct visor_kernel_map *m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		return visor_errf(err, err_len, -ENOMEM, "%s: out of memory", what);
	}
	m->fd = fd;
	struct visor_kernel_map_info *in = &m->info;
	in->id = mi.id;
	in->type = mi.type;
	in->key_size = mi.key_size;
	in->value_size = mi.value_size;
	in->max_entries = mi.max_entries;
	in->map_flags = mi.map_flags;
	memcpy(in->name, mi.name, sizeof(in->name) - 1);
	in->btf_id = mi.btf_id;
	in->btf_key_type_id = mi.btf_key_type_id;
	in->btf_value_type_id = mi.btf_value_type_id;
	in->nr_cpus = 1;
	in->value_stride = mi.value_size;
	if (type_percpu(mi.type)) {
		/* The kernel copies one value per possible CPU, 8-byte aligned. */
		int n = libbpf_num_possible_cpus();
		if (n <= 0) {
			visor_kernel_map_close(m);
			return visor_errf(err, err_len, n < 0 ? n : -EINVAL,
					  "%s: cannot count the possible CPUs: %s", what,
					  strerror(n < 0 ? -n : EINVAL));
		}
		in->nr_cpus = (uint32_t)n;
		in->value_stride = (mi.value_size + 7) / 8 * 8;
	}
	in->value_buf_size = (size_t)in->nr_cpus * in->value_stride;
	*mapp = m;
	return 0;
}

void visor_kernel_map_close(struct visor_kernel_map *map)
{
	if (!map)
		return;
	kernel_map_btf_free(map);
	if (map->fd >= 0)
		close(map->fd);
	free(map);
}

const struct visor_kernel_map_info *visor_kernel_map_info(const struct visor_kernel_map *map)
{
	return &map->info;
}

int visor_kernel_map_fd(const struct visor_kernel_map *map)
{
	return map->fd;
}

const char *visor_kernel_map_errmsg(const struct visor_kernel_map *map)
{
	return map->errmsg;
}

int visor_kernel_map_get_next_key(struct visor_kernel_map *map, const void *key, void *next_key)
{
	if (!bpf_map_get_next_key(map->fd, key, next_key))
		return 0;
	int e = errno;
	if (e != ENOENT)
		snprintf(map->errmsg, sizeof(map->errmsg), "get_next_key: %s", kernel_strerror(e));
	return -e;
}

int visor_kernel_map_lookup(struct visor_kernel_map *map, const void *key, void *value)
{
	if (!bpf_map_lookup_elem(map->fd, key, value))
		return 0;
	int e = errno;
	snprintf(map->errmsg, sizeof(map->errmsg), "lookup: %s", kernel_strerror(e));
	return -e;
}
