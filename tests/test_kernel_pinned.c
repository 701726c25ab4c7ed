/* The kernel backend's pinned-map API (include/visor/kernel.h): maps created
 * with bpf_map_create and pinned with bpf_obj_pin on a private bpffs mount
 * (a temporary directory, so /sys/fs/bpf and other tests are untouched) are
 * read back through visor: description, keys, values, per-CPU layout, BTF
 * formatting, and the errors for what is not a pinned map. Needs root and
 * bpf(); skips with one line otherwise. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "testutil.h"

static char dir[64];
static char paths[8][128];
static int npaths;

/* A path in the private bpffs, removed at the end. */
static const char *pin_path(const char *name)
{
	char *p = paths[npaths++];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static int pin(int fd, const char *name, const char **path)
{
	*path = pin_path(name);
	int r = bpf_obj_pin(fd, *path);
	CHECK(r == 0, "pin %s: %s", *path, strerror(errno));
	return r;
}

static void test_bpffs(void)
{
	char err[256] = "";
	CHECK(visor_kernel_is_bpffs(dir, err, sizeof(err)) == 1, "%s is bpffs", dir);
	CHECK(visor_kernel_is_bpffs("/proc", err, sizeof(err)) == 0, "/proc is not bpffs");
	int r = visor_kernel_is_bpffs("/nonexistent/visor", err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "/nonexistent/visor"), "missing: %d %s", r, err);
	CHECK(visor_kernel_bpffs_mount(dir, err, sizeof(err)) == 0, "already mounted: %s", err);
	r = visor_kernel_bpffs_mount("/nonexistent/visor", err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "does not exist"), "mount on missing dir: %d %s", r, err);
	r = visor_kernel_bpffs_mount("/proc/self/status", err, sizeof(err));
	CHECK(r == -ENOTDIR, "mount on a file: %d %s", r, err);
}

static void test_hash(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "visor_c_hash", 4, 12, 32, &o);
	CHECK(fd >= 0, "create hash: %s", strerror(errno));
	if (fd < 0)
		return;
	uint32_t want = 0;
	for (uint32_t k = 10; k < 15; k++) {
		uint32_t v[3] = {k, k * 100, ~k};
		CHECK(bpf_map_update_elem(fd, &k, v, BPF_ANY) == 0, "update %u", k);
		want |= 1u << (k - 10);
	}
	const char *path;
	if (pin(fd, "hash", &path)) {
		close(fd);
		return;
	}
	struct bpf_map_info ki = {0};
	uint32_t kl = sizeof(ki);
	CHECK(bpf_obj_get_info_by_fd(fd, &ki, &kl) == 0, "own info");
	close(fd);

	struct visor_kernel_map *m;
	char err[256] = "";
	int r = visor_kernel_map_open_pinned(path, &m, err, sizeof(err));
	CHECK(r == 0, "open %s: %s", path, err);
	if (r)
		return;
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	CHECK_EQ_U64(in->id, ki.id, "id");
	CHECK_EQ_U64(in->type, BPF_MAP_TYPE_HASH, "type");
	CHECK_EQ_U64(in->key_size, 4, "key_size");
	CHECK_EQ_U64(in->value_size, 12, "value_size");
	CHECK_EQ_U64(in->max_entries, 32, "max_entries");
	CHECK_EQ_U64(in->map_flags, BPF_F_NO_PREALLOC, "map_flags");
	CHECK(!strcmp(in->name, "visor_c_hash"), "name '%s'", in->name);
	CHECK_EQ_U64(in->btf_id, 0, "btf_id");
	CHECK_EQ_U64(in->nr_cpus, 1, "nr_cpus");
	CHECK_EQ_U64(in->value_stride, 12, "value_stride");
	CHECK_EQ_U64(in->value_buf_size, 12, "value_buf_size");
	CHECK(visor_kernel_map_fd(m) >= 0, "fd");
	CHECK(!strcmp(visor_kernel_map_type_name(in->type), "hash"), "type name");
	CHECK(!visor_kernel_map_type_keyless(in->type), "hash has keys");

	uint32_t key, prev, seen = 0, n = 0;
	for (r = visor_kernel_map_get_next_key(m, NULL, &key); r == 0;
	     r = visor_kernel_map_get_next_key(m, &prev, &key)) {
		prev = key;
		uint32_t v[3];
		CHECK(visor_kernel_map_lookup(m, &key, v) == 0, "lookup %u: %s", key,
		      visor_kernel_map_errmsg(m));
		CHECK(v[0] == key && v[1] == key * 100 && v[2] == ~key, "value of %u", key);
		if (key >= 10 && key < 15)
			seen |= 1u << (key - 10);
		n++;
	}
	CHECK(r == -ENOENT, "walk ends with -ENOENT, got %d", r);
	CHECK(n == 5 && seen == want, "walk: %u keys, mask 0x%x", n, seen);
	key = 99;
	uint32_t v[3];
	CHECK(visor_kernel_map_lookup(m, &key, v) == -ENOENT, "missing key");
	char buf[64];
	CHECK(visor_kernel_map_format_value(m, v, buf, sizeof(buf)) == -ENODATA, "no BTF");
	visor_kernel_map_close(m);
}

/* Per-CPU: one value per possible CPU, each rounded up to 8 bytes. */
static void test_percpu(void)
{
	int ncpu = libbpf_num_possible_cpus();
	CHECK(ncpu > 0, "possible CPUs");
	if (ncpu <= 0)
		return;
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "visor_c_pcpu", 4, 4, 8, NULL);
	CHECK(fd >= 0, "create percpu hash: %s", strerror(errno));
	if (fd < 0)
		return;
	uint64_t *vals = calloc((size_t)ncpu, 8); /* 4-byte value in 8-byte slots */
	for (int c = 0; c < ncpu; c++)
		vals[c] = 0xdead000000000000ull | (uint32_t)(c * 3 + 1);
	uint32_t key = 7;
	CHECK(bpf_map_update_elem(fd, &key, vals, BPF_ANY) == 0, "percpu update");
	const char *path;
	int pr = pin(fd, "percpu", &path);
	close(fd);
	struct visor_kernel_map *m;
	char err[256] = "";
	if (pr || visor_kernel_map_open_pinned(path, &m, err, sizeof(err))) {
		CHECK(pr, "open %s: %s", path, err);
		free(vals);
		return;
	}
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	CHECK_EQ_U64(in->nr_cpus, ncpu, "nr_cpus");
	CHECK_EQ_U64(in->value_stride, 8, "value_stride");
	CHECK_EQ_U64(in->value_buf_size, (size_t)ncpu * 8, "value_buf_size");
	uint8_t *got = malloc(in->value_buf_size);
	CHECK(visor_kernel_map_lookup(m, &key, got) == 0, "percpu lookup: %s",
	      visor_kernel_map_errmsg(m));
	for (int c = 0; c < ncpu; c++) {
		uint32_t v;
		memcpy(&v, got + (size_t)c * in->value_stride, 4);
		CHECK_EQ_U64(v, (uint32_t)(c * 3 + 1), "CPU value");
	}
	free(got);
	free(vals);
	visor_kernel_map_close(m);
}

/* BTF: struct pair { u32 a; u32 b; } values of an array keyed by u32. */
static void test_btf(void)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "u32", 4, 0);
	int pair = btf__add_struct(btf, "pair", 8);
	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "b", u32, 32, 0);
	int r = btf__load_into_kernel(btf);
	CHECK(r == 0, "BTF load: %d", r);
	if (r) {
		btf__free(btf);
		return;
	}
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = btf__fd(btf), .btf_key_type_id = u32,
		    .btf_value_type_id = pair);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "visor_c_btf", 4, 8, 2, &o);
	CHECK(fd >= 0, "create array with BTF: %s", strerror(errno));
	btf__free(btf);
	if (fd < 0)
		return;
	uint32_t key = 1, val[2] = {1, 2};
	CHECK(bpf_map_update_elem(fd, &key, val, BPF_ANY) == 0, "update");
	const char *path;
	int pr = pin(fd, "btf", &path);
	close(fd);
	struct visor_kernel_map *m;
	char err[256] = "";
	if (pr || visor_kernel_map_open_pinned(path, &m, err, sizeof(err))) {
		CHECK(pr, "open %s: %s", path, err);
		return;
	}
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	CHECK(in->btf_id && in->btf_key_type_id == (uint32_t)u32 &&
	      in->btf_value_type_id == (uint32_t)pair, "BTF ids %u %u %u", in->btf_id,
	      in->btf_key_type_id, in->btf_value_type_id);
	uint32_t got[2];
	CHECK(visor_kernel_map_lookup(m, &key, got) == 0, "lookup");
	char buf[128];
	const char *want = "(struct pair){.a = (u32)1,.b = (u32)2,}";
	r = visor_kernel_map_format_value(m, got, buf, sizeof(buf));
	CHECK(r == (int)strlen(want) && !strcmp(buf, want), "value: %d '%s'", r, buf);
	r = visor_kernel_map_format_key(m, &key, buf, sizeof(buf));
	CHECK(r > 0 && !strcmp(buf, "(u32)1"), "key: %d '%s'", r, buf);
	/* Too small: truncated, NUL-terminated, full length returned. */
	char small[8];
	r = visor_kernel_map_format_value(m, got, small, sizeof(small));
	CHECK(r == (int)strlen(want) && strlen(small) == 7 && !strncmp(small, want, 7),
	      "truncated: %d '%s'", r, small);
	/* Zeros still name their fields. */
	memset(got, 0, sizeof(got));
	r = visor_kernel_map_format_value(m, got, buf, sizeof(buf));
	CHECK(r > 0 && strstr(buf, ".a = (u32)0"), "zero value: '%s'", buf);
	visor_kernel_map_close(m);
}

/* What is not a pinned map, one message each. */
static void test_errors(void)
{
	struct visor_kernel_map *m = (void *)1;
	char err[256] = "";
	const char *missing = pin_path("nope");
	int r = visor_kernel_map_open_pinned(missing, &m, err, sizeof(err));
	CHECK(r == -ENOENT && !m && strstr(err, "no such pinned object"), "missing: %d %s", r, err);
	r = visor_kernel_map_open_pinned("/proc/self/status", &m, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "not on a bpf filesystem"), "not bpffs: %d %s", r, err);
	r = visor_kernel_map_open_pinned(dir, &m, err, sizeof(err));
	CHECK(r == -EISDIR && strstr(err, "directory"), "directory: %d %s", r, err);

	/* A program: r0 = 0; exit. */
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "visor_c_prog", "GPL", insns, 2, NULL);
	CHECK(fd >= 0, "load program: %s", strerror(errno));
	if (fd >= 0) {
		const char *path;
		if (!pin(fd, "prog", &path)) {
			r = visor_kernel_map_open_pinned(path, &m, err, sizeof(err));
			CHECK(r == -EBADF && strstr(err, "a pinned program, not a map"),
			      "program: %d %s", r, err);
		}
		close(fd);
	}
	/* A queue: keyless. */
	CHECK(visor_kernel_map_type_keyless(BPF_MAP_TYPE_QUEUE) &&
	      visor_kernel_map_type_keyless(BPF_MAP_TYPE_RINGBUF), "keyless types");
	visor_kernel_map_close(NULL);
}

int main(void)
{
	const char *name = "test_kernel_pinned";
	if (geteuid() != 0)
		return test_skip(name, "needs root (bpf() and mounting a bpf filesystem)");
	strcpy(dir, "/tmp/visor_bpffs_XXXXXX");
	if (!mkdtemp(dir))
		return test_skip(name, "mkdtemp failed");
	char err[256] = "";
	int r = visor_kernel_bpffs_mount(dir, err, sizeof(err));
	if (r != 1) {
		rmdir(dir);
		return r < 0 ? test_skip(name, err) : test_skip(name, "a fresh directory was bpffs?");
	}
	int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (probe < 0) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		return test_skip(name, "bpf() map creation is refused on this kernel");
	}
	close(probe);

	test_bpffs();
	test_hash();
	test_percpu();
	test_btf();
	test_errors();

	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	CHECK(umount2(dir, 0) == 0, "umount %s: %s", dir, strerror(errno));
	rmdir(dir);
	return test_summary(name);
}
