/* The bpf filesystem: is a path on it, and mounting it at /sys/fs/bpf
 * (what bpftool does before pinning) so pins have somewhere to live. */
#include <errno.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "kernel_internal.h"

const char *kernel_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == 524) /* ENOTSUPP: kernel-internal, no libc name */
		return "Operation not supported by this map type (ENOTSUPP)";
	return strerror(err);
}

int visor_kernel_is_bpffs(const char *path, char *err, size_t err_len)
{
	struct statfs st;
	if (statfs(path, &st)) {
		int e = errno;
		return visor_errf(err, err_len, -e, "%s: %s", path, strerror(e));
	}
	return st.f_type == BPF_FS_MAGIC;
}

int visor_kernel_bpffs_mount(const char *dir, char *err, size_t err_len)
{
	if (!dir)
		dir = VISOR_KERNEL_BPFFS_DIR;
	struct stat st;
	if (stat(dir, &st)) {
		int e = errno;
		if (e == ENOENT)
			return visor_errf(err, err_len, -e,
					  "%s does not exist: no place to mount the bpf filesystem",
					  dir);
		return visor_errf(err, err_len, -e, "%s: %s", dir, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return visor_errf(err, err_len, -ENOTDIR, "%s is not a directory", dir);
	int r = visor_kernel_is_bpffs(dir, err, err_len);
	if (r)
		return r < 0 ? r : 0;
	/* mode=0700 as bpftool and systemd mount it: pins are root's. */
	if (mount("bpf", dir, "bpf", 0, "mode=0700")) {
		int e = errno;
		if (e == EPERM)
			return visor_errf(err, err_len, -e,
					  "no bpf filesystem at %s and mounting one needs root "
					  "(mount -t bpf bpf %s)", dir, dir);
		if (e == ENODEV)
			return visor_errf(err, err_len, -e,
					  "this kernel has no bpf filesystem (CONFIG_BPF_SYSCALL off)");
		return visor_errf(err, err_len, -e, "mount -t bpf bpf %s: %s", dir, strerror(e));
	}
	return 1;
}
