/* tracefs: where the kernel's tracing events and trace_pipe live. A fresh
 * machine has it unmounted; like bpftool, visor mounts it when root. One
 * place for this so that attaching, the trace pipe and the front end (which
 * reads tracepoint formats) agree. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "kernel_internal.h"

#define TRACEFS_MAGIC_NUM 0x74726163
#define TRACEFS_DEBUGFS_DIR "/sys/kernel/debug/tracing"

static bool is_tracefs(const char *dir)
{
	struct statfs sf;
	return !statfs(dir, &sf) && (unsigned long)sf.f_type == TRACEFS_MAGIC_NUM;
}

int visor_kernel_tracefs(const char **dir, bool *mounted, char *err, size_t err_len)
{
	if (mounted)
		*mounted = false;
	*dir = VISOR_KERNEL_TRACEFS_DIR;
	if (is_tracefs(VISOR_KERNEL_TRACEFS_DIR))
		return 0;
	if (!access(TRACEFS_DEBUGFS_DIR "/events", F_OK)) {
		*dir = TRACEFS_DEBUGFS_DIR;
		return 0;
	}
	if (geteuid() != 0)
		return visor_errf(err, err_len, -EACCES,
				  "tracefs is not mounted at " VISOR_KERNEL_TRACEFS_DIR
				  " (mounting it needs root)");
	if (mount("tracefs", VISOR_KERNEL_TRACEFS_DIR, "tracefs", 0, NULL)) {
		int e = errno;
		return visor_errf(err, err_len, -e,
				  "tracefs is not mounted and mounting it at " VISOR_KERNEL_TRACEFS_DIR
				  " failed: %s",
				  kernel_strerror(e));
	}
	/* Left mounted, as `mount -t tracefs` would: other readers use it. */
	if (mounted)
		*mounted = true;
	return 0;
}
