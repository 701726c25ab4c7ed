/* The kernel's verifier as a reference: raw instructions with their maps
 * (through kernel_prog_load) and single programs of compiled objects
 * (through libbpf). */
#include "kverify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel_run.h"
#include "testutil.h"

static int create_map(const struct kverify_map *m, char *log, size_t log_len)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = m->flags);
	int fd, err;

	fd = bpf_map_create(m->type, m->name, m->key_size, m->value_size, m->max_entries, &opts);
	if (fd < 0) {
		err = -errno;
		test_format(log, log_len, "map %s: bpf_map_create: %s", m->name, strerror(-err));
		return err;
	}
	if (m->freeze && bpf_map_freeze(fd) < 0) {
		err = -errno;
		close(fd);
		test_format(log, log_len, "map %s: bpf_map_freeze: %s", m->name, strerror(-err));
		return err;
	}
	return fd;
}

int kverify_insns(int prog_type, const struct visor_insn *insns, size_t n,
		  const struct kverify_map *maps, size_t nmaps, char *log, size_t log_len)
{
	struct visor_insn *copy;
	int *fds, err = 0;
	size_t created = 0;

	copy = malloc((n ? n : 1) * sizeof(*copy));
	fds = malloc((nmaps ? nmaps : 1) * sizeof(*fds));
	if (!copy || !fds) {
		free(copy);
		free(fds);
		test_format(log, log_len, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, insns, n * sizeof(*copy));
	for (; created < nmaps; created++) {
		fds[created] = create_map(&maps[created], log, log_len);
		if (fds[created] < 0) {
			err = fds[created];
			goto out;
		}
	}
	/* Map references by index become fds, as a loader would patch them;
	 * an index past the maps is left for the kernel to refuse. */
	for (size_t i = 0; i + 1 < n; i++) {
		if (copy[i].code != VISOR_OPCODE_LDDW)
			continue;
		if ((copy[i].src == VISOR_LDDW_MAP_FD || copy[i].src == VISOR_LDDW_MAP_VALUE) &&
		    copy[i].imm >= 0 && (size_t)copy[i].imm < nmaps)
			copy[i].imm = fds[copy[i].imm];
		i++;
	}
	err = kernel_prog_load(prog_type, 0, copy, n, log, log_len);
	if (err >= 0) {
		close(err);
		err = 0;
	}
out:
	while (created)
		close(fds[--created]);
	free(copy);
	free(fds);
	return err;
}

/* libbpf's messages during a load: the last one, and whether libbpf said
 * the kernel refused the program itself (rather than a later step). */
static char libbpf_last[512];
static bool libbpf_prog_failed;

static int libbpf_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[sizeof(libbpf_last)];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	if (strstr(line, "BPF program load failed"))
		libbpf_prog_failed = true;
	/* The verifier log libbpf echoes is not a message of its own. */
	if (line[0] && !strstr(line, "-- BEGIN PROG LOAD LOG") && !strstr(line, "-- END PROG LOAD LOG"))
		memcpy(libbpf_last, line, sizeof(line));
	return 0;
}

/* Opens path with only prog to be loaded; NULL with the reason in log. */
static struct bpf_object *open_one(const char *path, const char *prog, char *log,
				   size_t log_len, struct bpf_program **out)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	*out = NULL;
	if (!obj) {
		test_format(log, log_len, "not verified: open: %s", strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(p, obj) {
		bool mine = !strcmp(bpf_program__name(p), prog);

		bpf_program__set_autoload(p, mine);
		if (mine)
			*out = p;
	}
	if (!*out) {
		test_format(log, log_len, "not verified: no program %s", prog);
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* Loads every program of the object that libbpf would load: the way to load
 * a program whose object fills a prog array statically with its siblings. */
static int load_whole(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err;

	if (!obj)
		return -errno;
	err = bpf_object__load(obj) ? -errno : 0;
	bpf_object__close(obj);
	return err;
}

int kverify_object(const char *path, const char *prog, char *log, size_t log_len)
{
	libbpf_print_fn_t old = libbpf_set_print(libbpf_capture);
	struct bpf_program *p;
	struct bpf_object *obj;
	int err;

	if (log && log_len)
		log[0] = 0;
	libbpf_prog_failed = false;
	libbpf_last[0] = 0;
	/* First without a log (fast); on refusal again with one, for the reason. */
	obj = open_one(path, prog, log, log_len, &p);
	if (!obj) {
		err = KVERIFY_NOT_VERIFIED;
		goto out;
	}
	err = bpf_object__load(obj) ? -errno : 0;
	bpf_object__close(obj);
	if (!err)
		goto out;
	if (!libbpf_prog_failed) {
		/* The verifier was not what failed: a map, a relocation, or a prog
		 * array slot naming a sibling that was not loaded. */
		char why[sizeof(libbpf_last)];

		memcpy(why, libbpf_last, sizeof(why));
		if (!load_whole(path)) {
			err = 0;
		} else {
			test_format(log, log_len, "not verified: %s", why[0] ? why : strerror(-err));
			err = KVERIFY_NOT_VERIFIED;
		}
		goto out;
	}
	if (!log || log_len < 128)
		goto out;
	obj = open_one(path, prog, log, log_len, &p);
	if (!obj)
		goto out;
	/* The kernel's rotating log keeps the tail: the lines naming the refusal. */
	bpf_program__set_log_buf(p, log, log_len);
	bpf_program__set_log_level(p, 1);
	if (!bpf_object__load(obj)) {
		test_format(log, log_len, "load failed (%s) without log, succeeded with it",
		    strerror(-err));
	} else if (!log[0]) {
		/* Refused before the verifier ran: the program type or attach
		 * point is not available here. */
		test_format(log, log_len, "not verified: load failed (%s) with an empty verifier log",
		    strerror(-err));
		err = KVERIFY_NOT_VERIFIED;
	}
	bpf_object__close(obj);
out:
	libbpf_set_print(old);
	return err;
}
