/* The front end's cache: where it lives, content hashes that name its
 * entries, and atomic writes so that concurrent compiles (two `visor run`s
 * of the same file, parallel tests) never see a half-written file. */
#include <dirent.h>
#include <elf.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline.h"

double fe_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Hash ---------------------------------------------------------------- */

#define P1 0x9e3779b97f4a7c15ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static inline void mix_word(struct fe_hash *h, uint64_t w)
{
	h->a = rotl((h->a ^ w) * P1, 31) + P3;
	h->b = rotl((h->b + w) * P2, 27) ^ P1;
}

void fe_hash_init(struct fe_hash *h)
{
	memset(h, 0, sizeof(*h));
	h->a = 0x243f6a8885a308d3ull;
	h->b = 0x13198a2e03707344ull;
}

void fe_hash_update(struct fe_hash *h, const void *data, size_t len)
{
	const uint8_t *p = data;
	h->len += len;
	while (h->nbuf && len) {
		h->buf[h->nbuf++] = *p++;
		len--;
		if (h->nbuf == 8) {
			uint64_t w;
			memcpy(&w, h->buf, 8);
			mix_word(h, w);
			h->nbuf = 0;
		}
	}
	if (h->nbuf)
		return; /* data ran out before the buffered word was complete */
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		mix_word(h, w);
	}
	memcpy(h->buf, p, len);
	h->nbuf = len;
}

void fe_hash_str(struct fe_hash *h, const char *s)
{
	fe_hash_update(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

void fe_hash_file(struct fe_hash *h, const char *path)
{
	struct stat st;
	fe_hash_str(h, path);
	if (path && !stat(path, &st)) {
		fe_hash_update(h, &st.st_size, sizeof(st.st_size));
		fe_hash_update(h, &st.st_mtim, sizeof(st.st_mtim));
	}
}

void fe_hash_final(struct fe_hash *h, char hex[FE_HASH_HEX])
{
	uint64_t tail = 0;
	memcpy(&tail, h->buf, h->nbuf);
	mix_word(h, tail ^ ((uint64_t)h->nbuf << 56));
	uint64_t a = fmix(h->a ^ h->len), b = fmix(h->b ^ rotl(h->len, 17));
	a += b;
	b += a;
	snprintf(hex, FE_HASH_HEX, "%016llx%016llx", (unsigned long long)fmix(a),
		 (unsigned long long)fmix(b));
}

/* ---- Files ----------------------------------------------------------------- */

int fe_mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* /tmp/visor-cache-<uid>, only when it is a real directory of this user
 * (anyone can make names in /tmp: another user's directory, or a symlink,
 * would let them hand us objects). */
static int tmp_cache_dir(char *buf, size_t len)
{
	int n = snprintf(buf, len, "/tmp/visor-cache-%u", (unsigned)getuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(buf, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int fe_cache_dir(char *buf, size_t len, char *err, size_t err_len)
{
	const char *env = getenv("VISOR_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	int n = 0, rc;
	bool chosen = true; /* named by the user: its failure is an error */
	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/visor", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.cache/visor", home), chosen = false;
	else
		chosen = false, buf[0] = '\0';
	if (n < 0 || (size_t)n >= len)
		return visor_errf(err, err_len, -ENAMETOOLONG, "cache directory path too long");
	rc = buf[0] ? fe_mkdirs(buf) : -ENOENT;
	if (rc && !chosen) {
		/* A HOME that is not ours to write (nobody's /nonexistent, root's
		 * HOME kept by setpriv or sudo): the per-user /tmp directory. */
		char home_dir[1024];
		snprintf(home_dir, sizeof(home_dir), "%s", buf);
		rc = tmp_cache_dir(buf, len);
		if (rc)
			return visor_errf(err, err_len, rc,
				      "cache directory: %s, and %s: %s (set VISOR_CACHE_DIR)",
				      home_dir[0] ? "$HOME/.cache/visor unusable" : "no $HOME", buf,
				      rc == -EPERM ? "not a directory of this user only"
						   : strerror(-rc));
		return 0;
	}
	if (rc)
		return visor_errf(err, err_len, rc, "cache directory %s: %s (set VISOR_CACHE_DIR)", buf,
			      strerror(-rc));
	/* Absolute: the paths made from it are handed to other processes (a
	 * compile server runs in another directory) and to API callers. */
	char real[PATH_MAX];
	if (buf[0] != '/' && realpath(buf, real)) {
		if (strlen(real) >= len)
			return visor_errf(err, err_len, -ENAMETOOLONG, "cache directory path too long");
		memcpy(buf, real, strlen(real) + 1);
	}
	return 0;
}

void fe_tmp_name(const char *path, char *buf, size_t len)
{
	static unsigned long counter;
	unsigned long n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	snprintf(buf, len, "%s.tmp.%ld.%lu", path, (long)getpid(), n);
}

void fe_cache_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp.");
		char *end;
		long pid = t ? strtol(t + 5, &end, 10) : 0;
		if (pid <= 0 || *end != '.')
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) || !S_ISREG(st.st_mode) || st.st_uid != getuid())
			continue;
		bool gone = kill((pid_t)pid, 0) && errno == ESRCH;
		if (gone || now - st.st_mtime > 3600)
			unlink(path);
	}
	closedir(d);
}

int fe_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_len)
{
	char tmp[4200];
	fe_tmp_name(path, tmp, sizeof(tmp));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) /* the destination's name: the temporary one means nothing to the user */
		return visor_errf(err, err_len, -errno, "%s: %s", path, strerror(errno));
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = w < 0 ? -errno : -EIO;
			close(fd);
			unlink(tmp);
			return visor_errf(err, err_len, rc, "%s: %s", path, strerror(-rc));
		}
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) || rename(tmp, path)) {
		int rc = -errno;
		unlink(tmp);
		return visor_errf(err, err_len, rc, "%s: %s", path, strerror(-rc));
	}
	return 0;
}

char *fe_read_fd(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	struct stat st;
	/* sysfs files (the kernel's BTF) report their real size; procfs-like
	 * ones and pipes report 0 and are read in chunks. */
	if (!fstat(fd, &st) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	char *buf = malloc(cap);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *fe_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = fe_read_fd(fd, len);
	int e = errno;
	close(fd);
	if (!buf)
		errno = e;
	return buf;
}

bool fe_file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int fe_object_check(const char *path, char *err, size_t err_len)
{
	size_t len;
	char *data = fe_read_file(path, &len);
	if (!data)
		return visor_errf(err, err_len, -errno, "%s: %s", path, strerror(errno));
	const char *why = NULL;
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		why = "shorter than an ELF header";
	} else {
		memcpy(&eh, data, sizeof(eh));
		if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
			why = "not a 64-bit ELF file";
		else if (eh.e_machine != EM_BPF)
			why = "not a BPF object";
		else if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 ||
			 eh.e_shoff > len || (len - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
			why = "section headers missing or cut short";
	}
	for (size_t i = 0; !why && i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, data + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset))
			why = "a section lies past the end of the file";
	}
	free(data);
	return why ? visor_errf(err, err_len, -ENOEXEC, "%s: %s", path, why) : 0;
}
