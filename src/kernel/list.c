/* What is loaded in the kernel: every program and map by id
 * (BPF_PROG_GET_NEXT_ID / BPF_MAP_GET_NEXT_ID), as bpftool lists them. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel_internal.h"
#include "kobj.h"


static int list_error(int e, const char *what, char *err, size_t err_len)
{
	char hint[256];
	if (e == EPERM || e == EACCES)
		return visor_errf(err, err_len, -e, "%s",
				  kernel_privilege_hint(-e, what, hint, sizeof(hint)));
	return visor_errf(err, err_len, -e, "%s: %s", what, kernel_strerror(e));
}

int visor_kernel_prog_list(int (*fn)(void *ctx, const struct visor_kernel_prog_info *info),
			   void *ctx, char *err, size_t err_len)
{
	uint32_t id = 0;
	for (;;) {
		if (bpf_prog_get_next_id(id, &id)) {
			if (errno == ENOENT)
				return 0;
			return list_error(errno, "listing programs", err, err_len);
		}
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* unloaded meanwhile */
			return list_error(errno, "listing programs", err, err_len);
		}
		struct bpf_prog_info pi;
		memset(&pi, 0, sizeof(pi));
		uint32_t len = sizeof(pi);
		int r = bpf_obj_get_info_by_fd(fd, &pi, &len);
		int e = errno;
		close(fd);
		if (r)
			return list_error(e, "program info", err, err_len);
		struct visor_kernel_prog_info in;
		memset(&in, 0, sizeof(in));
		in.id = pi.id;
		in.type = pi.type;
		memcpy(in.name, pi.name, sizeof(in.name) - 1);
		for (int i = 0; i < 8; i++)
			snprintf(in.tag + 2 * i, 3, "%02x", pi.tag[i]);
		in.insns = pi.xlated_prog_len / 8;
		in.run_cnt = pi.run_cnt;
		in.run_time_ns = pi.run_time_ns;
		r = fn(ctx, &in);
		if (r)
			return r;
	}
}

int visor_kernel_map_list(int (*fn)(void *ctx, const struct visor_kernel_map_info *info),
			  void *ctx, char *err, size_t err_len)
{
	uint32_t id = 0;
	for (;;) {
		if (bpf_map_get_next_id(id, &id)) {
			if (errno == ENOENT)
				return 0;
			return list_error(errno, "listing maps", err, err_len);
		}
		struct visor_kernel_map *m;
		int r = visor_kernel_map_open_id(id, &m, err, err_len);
		if (r == -ENOENT)
			continue;
		if (r)
			return r;
		r = fn(ctx, visor_kernel_map_info(m));
		visor_kernel_map_close(m);
		if (r)
			return r;
	}
}

int visor_kernel_map_open_id(uint32_t id, struct visor_kernel_map **map, char *err,
			     size_t err_len)
{
	*map = NULL;
	char what[48];
	snprintf(what, sizeof(what), "map id %u", id);
	int fd = bpf_map_get_fd_by_id(id);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return visor_errf(err, err_len, -ENOENT, "%s: no such map", what);
		return list_error(e, what, err, err_len);
	}
	return kernel_map_from_fd(fd, what, map, err, err_len);
}
