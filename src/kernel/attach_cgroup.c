/* cgroup skb attachments for attach.c's dispatcher: a cgroup_skb program on
 * the ingress or egress path of every socket made by the processes of one
 * cgroup v2 directory (and its descendants). A bpf_link (BPF_LINK_CREATE on
 * the directory's fd), so closing it, or the process dying, detaches. The
 * direction is o->egress, not the section's: an explicit
 * VISOR_KERNEL_ATTACH_CGROUP_SKB says it; by section attach.c has already
 * set it from "cgroup_skb/egress". */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kernel_internal.h"
#include "kobj.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return !statfs(path, &sf) && (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Where cgroup2 is mounted (the unified layout, the hybrid one's
 * /sys/fs/cgroup/unified, else the first cgroup2 line of the mount table),
 * into buf; false when it is not mounted anywhere. */
static bool cgroup2_mount(char *buf, size_t len)
{
	static const char *const usual[] = {CGROUP_ROOT, CGROUP_ROOT "/unified"};
	for (size_t i = 0; i < sizeof(usual) / sizeof(usual[0]); i++)
		if (is_cgroup2(usual[i])) {
			snprintf(buf, len, "%s", usual[i]);
			return true;
		}
	FILE *f = fopen("/proc/self/mounts", "r");
	if (!f)
		return false;
	char line[1024], dir[512], type[64];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %511s %63s", dir, type) == 2 && !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			found = true;
		}
	fclose(f);
	return found;
}

static int cgroup_privilege_err(int rc, const char *dir, char *err, size_t err_len)
{
	return visor_errf(err, err_len, rc,
			  "attaching cgroup_skb to %s: %s: needs root, or CAP_NET_ADMIN + CAP_BPF "
			  "(and CAP_SYS_ADMIN to manage the cgroup)",
			  dir, kernel_strerror(-rc));
}

/* The directory checked and opened: fd, or -errno with the reason. */
static int open_cgroup_dir(const char *dir, char *err, size_t err_len)
{
	struct stat st;
	if (stat(dir, &st)) {
		int e = errno;
		if (e == EACCES)
			return cgroup_privilege_err(-e, dir, err, err_len);
		return visor_errf(err, err_len, -e, "no cgroup directory '%s': %s", dir,
				  kernel_strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return visor_errf(err, err_len, -ENOTDIR, "'%s' is not a directory (a cgroup v2 "
				  "directory is needed)", dir);
	if (!is_cgroup2(dir)) {
		char mnt[512];
		if (!cgroup2_mount(mnt, sizeof(mnt)))
			return visor_errf(err, err_len, -ENODEV,
					  "'%s' is not a cgroup v2 directory, and cgroup2 is not "
					  "mounted (looked at %s, %s/unified and /proc/self/mounts; "
					  "mount -t cgroup2 none DIR)",
					  dir, CGROUP_ROOT, CGROUP_ROOT);
		return visor_errf(err, err_len, -EINVAL,
				  "'%s' is not a cgroup v2 directory (cgroup2 is mounted at %s)", dir,
				  mnt);
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == EACCES || e == EPERM)
			return cgroup_privilege_err(-e, dir, err, err_len);
		return visor_errf(err, err_len, -e, "cgroup %s: %s", dir, kernel_strerror(e));
	}
	return fd;
}

int kernel_attach_cgroup_skb(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
			     struct visor_kernel_link *l, char *err, size_t err_len)
{
	const char *dir = o ? o->target : NULL;
	const char *name = bpf_program__name(prog);
	if (!dir || !*dir)
		return visor_errf(err, err_len, -EINVAL,
				  "prog '%s': cgroup_skb needs a cgroup v2 directory as target "
				  "(e.g. %s/unified/mygroup or %s/mygroup)",
				  name, CGROUP_ROOT, CGROUP_ROOT);
	if (bpf_program__type(prog) != BPF_PROG_TYPE_CGROUP_SKB)
		return visor_errf(err, err_len, -EINVAL,
				  "prog '%s' (section '%s') is not a cgroup_skb program", name,
				  bpf_program__section_name(prog));
	int prog_fd = bpf_program__fd(prog);
	if (prog_fd < 0)
		return visor_errf(err, err_len, -EINVAL, "program %s is not loaded", name);
	const char *dirn = o->egress ? "egress" : "ingress";

	int cg = open_cgroup_dir(dir, err, err_len);
	if (cg < 0)
		return cg;
	int fd = bpf_link_create(prog_fd, cg,
				 o->egress ? BPF_CGROUP_INET_EGRESS : BPF_CGROUP_INET_INGRESS, NULL);
	int rc = fd < 0 ? -errno : 0;
	close(cg); /* the link holds the cgroup */
	if (rc == -EPERM || rc == -EACCES)
		return cgroup_privilege_err(rc, dir, err, err_len);
	if (rc == -EINVAL)
		/* A program loaded for the other direction is refused. */
		return visor_errf(err, err_len, rc,
				  "attaching cgroup_skb %s to %s: %s (prog '%s' was loaded for "
				  "section '%s': is that the direction?)",
				  dirn, dir, kernel_strerror(-rc), name, bpf_program__section_name(prog));
	if (rc)
		return visor_errf(err, err_len, rc, "attaching cgroup_skb %s to %s: %s", dirn, dir,
				  kernel_strerror(-rc));
	l->link = NULL;
	l->fd = fd; /* closing the link fd detaches */
	snprintf(l->desc, sizeof(l->desc), "cgroup_skb %s on %.120s", dirn, dir);
	return 0;
}
