/* vmlinux.h from the kernel's BTF, and its precompiled header: the kernel
 * types every compile needs, made once per kernel.
 *
 * The header is libbpf's btf_dump of every type, as `bpftool btf dump
 * format c` writes it but WITHOUT bpftool's preserve_access_index pragma:
 * with it, every access to a context struct (__sk_buff, xdp_md) would
 * carry a CO-RE relocation, which visor's own loader refuses; the implicit
 * probe reads ask for CO-RE explicitly where it matters
 * (__builtin_preserve_access_index). Both files live in
 * <cache>/btf-<checksum of the BTF bytes>/, so a new kernel gets its own. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "pipeline.h"

#define DEFAULT_BTF "/sys/kernel/btf/vmlinux"

const char *const fe_base_cflags[] = {"-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86"};
const size_t fe_base_ncflags = sizeof(fe_base_cflags) / sizeof(fe_base_cflags[0]);

/* The headers the PCH is made of besides vmlinux.h. */
static const char *const pch_includes[] = {"bpf/bpf_helpers.h", "bpf/bpf_endian.h",
					   "bpf/bpf_core_read.h", "bpf/bpf_tracing.h"};

const char *fe_btf_path(const char *explicit_path)
{
	if (explicit_path && *explicit_path)
		return explicit_path;
	const char *env = getenv("VISOR_BTF");
	if (env && *env)
		return env;
	return DEFAULT_BTF;
}

/* Hashing the kernel's 5 MB of BTF costs more than the whole cached-object
 * path may, so the sum is remembered under the file's identity (path,
 * device, inode, size, and mtime/ctime to the nanosecond): a new kernel
 * means a reboot, whose sysfs node gets new timestamps; a rewritten BTF
 * file gets a new mtime/ctime. At worst a changed identity costs one more
 * hash, never a wrong sum. */
static void memo_path(const char *btf_path, const struct stat *st, char *buf, size_t len,
		      char *dir, size_t dir_len)
{
	char cache[3072];
	buf[0] = dir[0] = '\0';
	if (fe_cache_dir(cache, sizeof(cache), NULL, 0))
		return;
	struct fe_hash h;
	char hex[FE_HASH_HEX];
	fe_hash_init(&h);
	fe_hash_str(&h, btf_path);
	fe_hash_update(&h, &st->st_dev, sizeof(st->st_dev));
	fe_hash_update(&h, &st->st_ino, sizeof(st->st_ino));
	fe_hash_update(&h, &st->st_size, sizeof(st->st_size));
	fe_hash_update(&h, &st->st_mtim, sizeof(st->st_mtim));
	fe_hash_update(&h, &st->st_ctim, sizeof(st->st_ctim));
	fe_hash_final(&h, hex);
	snprintf(dir, dir_len, "%s/btf-sums", cache);
	snprintf(buf, len, "%s/btf-sums/%s", cache, hex);
}

int fe_btf_checksum(const char *btf_path, char sum[FE_HASH_HEX], char *err, size_t err_len)
{
	struct stat st;
	char memo[3200], memo_dir[3100];
	memo[0] = '\0';
	if (!stat(btf_path, &st)) {
		memo_path(btf_path, &st, memo, sizeof(memo), memo_dir, sizeof(memo_dir));
		FILE *f = memo[0] ? fopen(memo, "re") : NULL;
		if (f) {
			char line[FE_HASH_HEX + 2] = "";
			bool ok = fgets(line, sizeof(line), f) && strlen(line) == FE_HASH_HEX - 1;
			fclose(f);
			if (ok) {
				memcpy(sum, line, FE_HASH_HEX);
				return 0;
			}
		}
	}
	size_t len;
	char *data = fe_read_file(btf_path, &len);
	if (!data) {
		int e = errno;
		if (e == ENOENT)
			return visor_errf(err, err_len, -ENOENT,
				      "no kernel BTF at %s (a kernel built with CONFIG_DEBUG_INFO_BTF, or set VISOR_BTF)",
				      btf_path);
		return visor_errf(err, err_len, -e, "%s: %s", btf_path, strerror(e));
	}
	struct fe_hash h;
	fe_hash_init(&h);
	fe_hash_update(&h, data, len);
	fe_hash_final(&h, sum);
	free(data);
	if (memo[0] && !fe_mkdirs(memo_dir))
		fe_write_atomic(memo, sum, FE_HASH_HEX - 1, NULL, 0);
	return 0;
}

static void dump_printf(void *ctx, const char *fmt, va_list args)
{
	vfprintf(ctx, fmt, args);
}

/* Writes the header text for btf_path to out. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* The BTF at btf_path, or NULL with one line in err: raw BTF (sysfs) or an
 * ELF file with a .BTF section (vmlinux), checked by magic first so that
 * a wrong file gets a sentence rather than libbpf's chatter and codes. */
static struct btf *parse_btf(const char *btf_path, const char *data, size_t len, char *err,
			     size_t err_len)
{
	bool raw = len >= 2 && (((uint8_t)data[0] == 0x9f && (uint8_t)data[1] == 0xeb) ||
				((uint8_t)data[0] == 0xeb && (uint8_t)data[1] == 0x9f));
	bool elf = len >= 4 && !memcmp(data, "\177ELF", 4);
	if (!raw && !elf) {
		visor_errf(err, err_len, -EBADMSG,
		       "%s: not a BTF file (no BTF magic; want /sys/kernel/btf/vmlinux or a vmlinux ELF)",
		       btf_path);
		errno = EBADMSG;
		return NULL;
	}
	/* libbpf's messages would be a second line on stderr; its error
	 * becomes ours. The print hook is global: restored at once. */
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);
	struct btf *btf = raw ? btf__new(data, (uint32_t)len) : btf__parse_elf(btf_path, NULL);
	int e = btf ? 0 : errno;
	libbpf_set_print(old);
	if (!btf) {
		char why[128];
		if (!raw && e == ENOENT)
			snprintf(why, sizeof(why), "it has no .BTF section");
		else if (libbpf_strerror(-e, why, sizeof(why)))
			snprintf(why, sizeof(why), "%s", strerror(e));
		/* -EBADMSG: never -EINVAL, which means errors in the user's source */
		visor_errf(err, err_len, -EBADMSG, "%s: not a valid %s (%s)", btf_path,
		       raw ? "BTF file" : "ELF file with a .BTF section", why);
		errno = EBADMSG;
	}
	return btf;
}

/* diag (may be NULL): where the cold-start note goes once the BTF parsed. */
static int dump_header(const char *btf_path, const char *sum, FILE *out, FILE *diag, char *err,
		       size_t err_len)
{
	size_t len;
	char *data = fe_read_file(btf_path, &len);
	if (!data)
		return visor_errf(err, err_len, -errno, "%s: %s", btf_path, strerror(errno));
	struct btf *btf = parse_btf(btf_path, data, len, err, err_len);
	free(data);
	if (!btf)
		return -EBADMSG;
	if (diag)
		fprintf(diag, "visor: generating vmlinux.h from %s (once per kernel)...\n", btf_path);
	struct btf_dump *d = btf_dump__new(btf, dump_printf, out, NULL);
	if (!d) {
		int rc = errno ? -errno : -ENOMEM;
		btf__free(btf);
		return visor_errf(err, err_len, rc, "btf_dump: %s", strerror(-rc));
	}
	fprintf(out,
		"/* vmlinux.h: the types of the kernel whose BTF is %s\n"
		" * (checksum %s), written by visor with libbpf's btf_dump. No\n"
		" * preserve_access_index pragma: context structs get no CO-RE relocations. */\n"
		"#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n",
		btf_path, sum);
	int rc = 0;
	uint32_t n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n && !rc; id++)
		rc = btf_dump__dump_type(d, id);
	fprintf(out, "\n#endif /* __VMLINUX_H__ */\n");
	btf_dump__free(d);
	btf__free(btf);
	if (rc)
		return visor_errf(err, err_len, rc, "%s: dumping type failed: %s", btf_path, strerror(-rc));
	return 0;
}

/* Puts data at path unless a file is already there (a concurrent compile
 * made it first: keep that one, the PCH may already refer to it). */
static int write_new(const char *path, const void *data, size_t len, char *err, size_t err_len)
{
	char tmp[4200];
	fe_tmp_name(path, tmp, sizeof(tmp));
	FILE *f = fopen(tmp, "wxe");
	if (!f)
		return visor_errf(err, err_len, -errno, "%s: %s", tmp, strerror(errno));
	size_t w = fwrite(data, 1, len, f);
	if (fclose(f) || w != len) {
		unlink(tmp);
		return visor_errf(err, err_len, -EIO, "%s: write failed", tmp);
	}
	int rc = link(tmp, path) && errno != EEXIST ? -errno : 0;
	unlink(tmp);
	if (rc)
		return visor_errf(err, err_len, rc, "%s: %s", path, strerror(-rc));
	return 0;
}

/* A short hash of what a PCH depends on: vmlinux.h, the libbpf headers and
 * the clang binary (stat identity), so a change to any makes a new PCH
 * instead of clang refusing the old one. */
static void pch_dependency_hash(const char *header, char out[17])
{
	static const char *const dirs[] = {"/usr/include", "/usr/local/include"};
	struct fe_hash h;
	fe_hash_init(&h);
	for (size_t i = 0; i < sizeof(pch_includes) / sizeof(pch_includes[0]); i++) {
		for (size_t j = 0; j < sizeof(dirs) / sizeof(dirs[0]); j++) {
			char p[512];
			struct stat st;
			snprintf(p, sizeof(p), "%s/%s", dirs[j], pch_includes[i]);
			if (stat(p, &st))
				continue;
			fe_hash_str(&h, p);
			fe_hash_update(&h, &st.st_size, sizeof(st.st_size));
			fe_hash_update(&h, &st.st_mtim, sizeof(st.st_mtim));
			break;
		}
	}
	struct stat st;
	if (!stat(header, &st)) {
		fe_hash_update(&h, &st.st_ino, sizeof(st.st_ino));
		fe_hash_update(&h, &st.st_size, sizeof(st.st_size));
		fe_hash_update(&h, &st.st_mtim, sizeof(st.st_mtim));
	}
	const char *clang = fe_clang_path();
	if (clang)
		fe_hash_file(&h, clang);
	char hex[FE_HASH_HEX];
	fe_hash_final(&h, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

static int make_pch(struct fe_btf_entry *e, char *err, size_t err_len)
{
	char text[1024];
	int n = snprintf(text, sizeof(text),
			 "/* The precompiled part of every visor compile. */\n#include \"vmlinux.h\"\n");
	for (size_t i = 0; i < sizeof(pch_includes) / sizeof(pch_includes[0]); i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "#include <%s>\n", pch_includes[i]);
	int rc = write_new(e->pch_header, text, (size_t)n, err, err_len);
	if (rc)
		return rc;

	char tmp[4200];
	fe_tmp_name(e->pch, tmp, sizeof(tmp));
	const char *args[32];
	size_t na = 0;
	args[na++] = "clang";
	for (size_t i = 0; i < fe_base_ncflags; i++)
		args[na++] = fe_base_cflags[i];
	args[na++] = "-x";
	args[na++] = "c-header";
	args[na++] = e->pch_header;
	args[na++] = "-o";
	args[na++] = tmp;
	struct fe_clang_result r;
	rc = fe_clang_run(args, na, &r, err, err_len);
	if (rc)
		return rc;
	if (r.status) {
		/* First line of clang's complaint: the header is ours, so this is
		 * an environment problem (libbpf-dev missing, odd BTF). */
		char *nl = strchr(r.stderr_text, '\n');
		if (nl)
			*nl = '\0';
		char said[4200];
		snprintf(said, sizeof(said), "%s exited with status %d and said nothing",
			 fe_clang_path(), r.status);
		rc = visor_errf(err, err_len, -EIO, "precompiling %s failed: %s", e->pch_header,
			    r.stderr_text[0] ? r.stderr_text : said);
		fe_clang_result_free(&r);
		unlink(tmp);
		return rc;
	}
	fe_clang_result_free(&r);
	if (rename(tmp, e->pch)) {
		rc = -errno;
		unlink(tmp);
		if (rc == -ENOENT) /* a compiler that "succeeds" without output */
			return visor_errf(err, err_len, -EIO, "%s exited 0 but wrote no precompiled header",
				      fe_clang_path());
		return visor_errf(err, err_len, rc, "%s: %s", e->pch, strerror(-rc));
	}
	/* PCHs made from what is no longer there are dead weight (15 MB each). */
	DIR *d = opendir(e->dir);
	struct dirent *de;
	const char *mine = strrchr(e->pch, '/') + 1;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (!strncmp(de->d_name, "visor_pch-", 10) && n > 6 &&
		    !strcmp(de->d_name + n - 6, ".h.pch") && strcmp(de->d_name, mine)) {
			char old[4400];
			snprintf(old, sizeof(old), "%s/%s", e->dir, de->d_name);
			unlink(old);
		}
	}
	if (d)
		closedir(d);
	return 0;
}

static int prepare_locked(const char *btf_path, bool need_pch, FILE *diag,
			  struct fe_btf_entry *e, bool *made, char *err, size_t err_len)
{
	int rc = 0;
	if (!fe_file_exists(e->header)) {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		if (!mem)
			return visor_errf(err, err_len, -ENOMEM, "out of memory");
		rc = dump_header(btf_path, e->sum, mem, diag, err, err_len);
		if (fclose(mem) && !rc)
			rc = visor_errf(err, err_len, -ENOMEM, "out of memory");
		if (!rc)
			rc = write_new(e->header, text, len, err, err_len);
		free(text);
		if (rc) {
			rmdir(e->dir); /* only when empty: nothing half-made stays */
			return rc;
		}
		*made = true;
	}
	/* The PCH's name says what it was made from, so a PCH clang would
	 * refuse (its vmlinux.h, libbpf headers or clang changed) is never
	 * picked up: another is made beside it. */
	char deps[17];
	pch_dependency_hash(e->header, deps);
	snprintf(e->pch, sizeof(e->pch), "%s/visor_pch-%s.h.pch", e->dir, deps);
	if (need_pch && !(fe_file_exists(e->pch) && fe_file_exists(e->pch_header))) {
		rc = make_pch(e, err, err_len);
		*made = true;
	}
	return rc;
}

int fe_btf_prepare(const char *btf_path, bool need_pch, FILE *diag, struct fe_btf_entry *e,
		   char *err, size_t err_len)
{
	memset(e, 0, sizeof(*e));
	btf_path = fe_btf_path(btf_path);
	int rc = fe_btf_checksum(btf_path, e->sum, err, err_len);
	if (rc)
		return rc;
	char cache[3072]; /* leaves room in e's paths for the names below */
	if ((rc = fe_cache_dir(cache, sizeof(cache), err, err_len)))
		return rc;
	snprintf(e->dir, sizeof(e->dir), "%s/btf-%s", cache, e->sum);
	snprintf(e->header, sizeof(e->header), "%s/vmlinux.h", e->dir);
	snprintf(e->pch_header, sizeof(e->pch_header), "%s/visor_pch.h", e->dir);

	double t0 = fe_now();
	bool made = false;
	char deps[17];
	if (fe_file_exists(e->header)) {
		pch_dependency_hash(e->header, deps);
		snprintf(e->pch, sizeof(e->pch), "%s/visor_pch-%s.h.pch", e->dir, deps);
		if (!need_pch || (fe_file_exists(e->pch) && fe_file_exists(e->pch_header))) {
			e->cached = true; /* the common case: all there, no lock */
			return 0;
		}
	}
	/* Something is to be made: one process makes it while concurrent
	 * compiles (ten `visor run`s after boot) wait for it instead of each
	 * spending seconds making their own copy. The lock is the directory's
	 * and goes with the process, however it ends. */
	if ((rc = fe_mkdirs(e->dir)))
		return visor_errf(err, err_len, rc, "%s: %s", e->dir, strerror(-rc));
	int lock = open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock >= 0 && flock(lock, LOCK_EX)) {
		rc = -errno; /* EINTR: a signal; the caller is stopping */
		close(lock);
		return visor_errf(err, err_len, rc, "waiting for %s: %s", e->dir, strerror(-rc));
	}
	rc = prepare_locked(btf_path, need_pch, diag, e, &made, err, err_len);
	if (lock >= 0)
		close(lock);
	e->cached = !made;
	e->seconds = made ? fe_now() - t0 : 0;
	return rc;
}

int visor_btf_header(const char *btf_path, char **header_path, char *err, size_t err_len)
{
	struct fe_btf_entry *e = malloc(sizeof(*e));
	if (!e)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	int rc = fe_btf_prepare(btf_path, true, NULL, e, err, err_len);
	if (!rc) {
		*header_path = strdup(e->header);
		if (!*header_path)
			rc = visor_errf(err, err_len, -ENOMEM, "out of memory");
	}
	free(e);
	return rc;
}

int visor_btf_dump(const char *btf_path, FILE *out, char *err, size_t err_len)
{
	struct fe_btf_entry *e = malloc(sizeof(*e));
	if (!e)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	int rc = fe_btf_prepare(btf_path, false, NULL, e, err, err_len);
	if (rc) {
		free(e);
		return rc;
	}
	size_t len;
	char *text = fe_read_file(e->header, &len);
	if (!text) {
		rc = visor_errf(err, err_len, -errno, "%s: %s", e->header, strerror(errno));
		free(e);
		return rc;
	}
	free(e);
	if (fwrite(text, 1, len, out) != len || fflush(out))
		rc = visor_errf(err, err_len, -EIO, "writing vmlinux.h failed: %s", strerror(errno));
	free(text);
	return rc;
}
