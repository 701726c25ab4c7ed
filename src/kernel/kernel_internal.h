/* Shared inside src/kernel/: the open pinned map and the message helper. */
#ifndef VISOR_KERNEL_INTERNAL_H
#define VISOR_KERNEL_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include <visor/kernel.h>

#include "../common/errf.h"

struct btf;
struct visor_btf_text;

struct visor_kernel_map {
	int fd;
	struct visor_kernel_map_info info;
	char errmsg[256];
	/* BTF-formatted output (btf_format.c): fetched on first use. */
	struct btf *btf;
	struct visor_btf_text *text; /* over btf */
};


/* A map wrapper around fd, which it owns from now on (closed on error
 * too); what names it in messages (pinned.c). */
int kernel_map_from_fd(int fd, const char *what, struct visor_kernel_map **map, char *err,
		       size_t err_len);

/* Releases what btf_format.c fetched (visor_kernel_map_close). */
void kernel_map_btf_free(struct visor_kernel_map *map);

/* A number from a /proc/sys file (src/kernel/kobj.c); dflt when it cannot
 * be read. */
long kernel_sysctl_long(const char *path, long dflt);

/* strerror, plus the kernel's internal ENOTSUPP (524) that bpf() leaks. */
const char *kernel_strerror(int err);

#endif
