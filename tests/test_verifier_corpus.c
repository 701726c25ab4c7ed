/* The verifier corpus (tests/verifier/README.md): small programs, each with
 * the verdict and reason visor's verifier must give, verified by visor and
 * by the kernel's verifier (the reference). Every object the project
 * compiles (tests/progs) is verified by both as well. Prints the agreement
 * table and fails on an unexpected verdict, a missing reason, or a
 * disagreement with the kernel that is not a documented stricter case. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/isa.h>
#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>
#include <visor/verifier.h>

#include "kernel_run.h"
#include "kverify.h"
#include "testutil.h"

#define CORPUS_DIR VISOR_SOURCE_DIR "/tests/verifier"
#define OBJ_DIR VISOR_BINARY_DIR "/tests/verifier"
#define PROGS_DIR VISOR_BINARY_DIR "/tests/progs"
#define MAX_MAPS 8
#define TEXT 256

/* What a corpus file (or an objects.txt line) says about one program. */
struct expect {
	char name[96];
	uint32_t prog_type; /* asm only; C objects carry theirs */
	bool accept;        /* visor's verdict */
	char reason[TEXT];  /* substring of visor's errmsg ("" = any) */
	bool kernel_given;  /* "kernel:" present; else the kernel agrees with expect */
	bool kernel_accept;
	char kernel_reason[TEXT]; /* substring of the kernel's log */
	char stricter[TEXT];      /* why visor refuses what the kernel accepts */
	struct kverify_map maps[MAX_MAPS];
	char map_names[MAX_MAPS][16];
	size_t nmaps;
	bool has_expect;
};

enum verdict { V_NA = 0, V_ACCEPT, V_REJECT };

static const char *verdict_name(enum verdict v)
{
	return v == V_ACCEPT ? "accept" : v == V_REJECT ? "reject" : "-";
}

static bool have_kernel;
static char kernel_why[512];

/* ---- Header parsing ------------------------------------------------------ */

static const struct {
	const char *name;
	uint32_t type;
} prog_types[] = {
	{"socket_filter", VISOR_VM_PROG_SOCKET_FILTER}, {"kprobe", VISOR_VM_PROG_KPROBE},
	{"sched_cls", VISOR_VM_PROG_SCHED_CLS},         {"tracepoint", VISOR_VM_PROG_TRACEPOINT},
	{"xdp", VISOR_VM_PROG_XDP},                     {"raw_tracepoint", VISOR_VM_PROG_RAW_TRACEPOINT},
	{"syscall", VISOR_VM_PROG_SYSCALL},
};

static const struct {
	const char *name;
	uint32_t type;
} map_types[] = {
	{"hash", VISOR_MAP_TYPE_HASH},
	{"array", VISOR_MAP_TYPE_ARRAY},
	{"prog_array", VISOR_MAP_TYPE_PROG_ARRAY},
	{"percpu_array", VISOR_MAP_TYPE_PERCPU_ARRAY},
	{"lru_hash", VISOR_MAP_TYPE_LRU_HASH},
	{"ringbuf", VISOR_MAP_TYPE_RINGBUF},
};

/* Copies the first "quoted" string of s into out ("" if none). */
static void quoted(const char *s, char *out, size_t len)
{
	const char *a = strchr(s, '"'), *b = a ? strchr(a + 1, '"') : NULL;
	size_t n;

	out[0] = 0;
	if (!a || !b)
		return;
	n = (size_t)(b - a - 1);
	if (n >= len)
		n = len - 1;
	memcpy(out, a + 1, n);
	out[n] = 0;
}

static bool verdict_word(const char *s, bool *accept)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (!strncmp(s, "accept", 6))
		*accept = true;
	else if (!strncmp(s, "reject", 6))
		*accept = false;
	else
		return false;
	return true;
}

static int parse_map(struct expect *e, const char *s, const char *file)
{
	struct kverify_map *m;
	char type[32] = "", name[16] = "";
	unsigned k = 0, v = 0, n = 0;
	size_t i;

	if (e->nmaps == MAX_MAPS || sscanf(s, "%15s %31s key=%u value=%u entries=%u", name, type,
					    &k, &v, &n) != 5) {
		fprintf(stderr, "%s: bad map line: %s\n", file, s);
		return -1;
	}
	m = &e->maps[e->nmaps];
	memcpy(e->map_names[e->nmaps], name, sizeof(name));
	m->name = e->map_names[e->nmaps];
	for (i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (!strcmp(type, map_types[i].name))
			m->type = map_types[i].type;
	if (!m->type) {
		fprintf(stderr, "%s: unknown map type %s\n", file, type);
		return -1;
	}
	m->key_size = k;
	m->value_size = v;
	m->max_entries = n;
	if (strstr(s, " rdonly_prog"))
		m->flags |= VISOR_F_RDONLY_PROG; /* same bit as BPF_F_RDONLY_PROG */
	m->freeze = strstr(s, " freeze") != NULL;
	e->nmaps++;
	return 0;
}

/* The verdict word after a key and the quoted reason that may follow it.
 * Returns 0 or -1 (reported, naming the line). */
static int parse_verdict(const char *rest, bool *accept, char *reason, size_t reason_len,
			 const char *line, const char *file)
{
	if (!verdict_word(rest, accept)) {
		fprintf(stderr, "%s: bad verdict line: %s\n", file, line);
		return -1;
	}
	quoted(rest, reason, reason_len);
	return 0;
}

/* Reads the "key: value" lines of one comment block (any line whose text,
 * after comment markers, starts with a key). Returns 0 or -1 (reported). */
static int parse_line(struct expect *e, const char *line, const char *file)
{
	while (*line == ' ' || *line == '\t' || *line == '#' || *line == ';' || *line == '/' ||
	       *line == '*')
		line++;
	if (!strncmp(line, "expect:", 7)) {
		if (parse_verdict(line + 7, &e->accept, e->reason, sizeof(e->reason), line, file))
			return -1;
		e->has_expect = true;
	} else if (!strncmp(line, "kernel:", 7)) {
		if (parse_verdict(line + 7, &e->kernel_accept, e->kernel_reason,
				  sizeof(e->kernel_reason), line, file))
			return -1;
		e->kernel_given = true;
	} else if (!strncmp(line, "stricter:", 9)) {
		snprintf(e->stricter, sizeof(e->stricter), "%s", line + 9 + (line[9] == ' '));
	} else if (!strncmp(line, "type:", 5)) {
		const char *t = line + 5 + strspn(line + 5, " \t");
		for (size_t i = 0; i < sizeof(prog_types) / sizeof(prog_types[0]); i++)
			if (!strncmp(t, prog_types[i].name, strlen(prog_types[i].name)) &&
			    (t[strlen(prog_types[i].name)] <= ' '))
				e->prog_type = prog_types[i].type;
		if (!e->prog_type) {
			fprintf(stderr, "%s: unknown program type: %s\n", file, t);
			return -1;
		}
	} else if (!strncmp(line, "map:", 4)) {
		return parse_map(e, line + 4 + strspn(line + 4, " \t"), file);
	}
	return 0;
}

static int parse_header(struct expect *e, const char *text, const char *file)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		if (parse_line(e, line, file))
			return -1;
		p += n + (nl != NULL);
	}
	if (!e->has_expect) {
		fprintf(stderr, "%s: no 'expect:' line\n", file);
		return -1;
	}
	if (!e->kernel_given)
		e->kernel_accept = e->accept;
	return 0;
}

/* ---- The visor side ------------------------------------------------------ */

static enum verdict visor_verify_asm(const struct expect *e, const struct visor_insn *insns,
				     size_t n, char *msg, size_t len)
{
	struct visor_map *maps[MAX_MAPS] = {0};
	VISOR_OPTS(visor_verify_opts, opts, .prog_type = e->prog_type, .maps = maps,
		   .nmaps = e->nmaps);
	enum verdict v = V_NA;
	size_t i;
	int rc;

	for (i = 0; i < e->nmaps; i++) {
		const struct kverify_map *m = &e->maps[i];
		VISOR_OPTS(visor_map_create_opts, mo, .type = m->type, .key_size = m->key_size,
			   .value_size = m->value_size, .max_entries = m->max_entries,
			   .map_flags = m->flags, .name = m->name, .errbuf = msg, .errbuf_len = len);
		if (visor_map_create(&mo, &maps[i])) {
			CHECK(0, "map %s: %s", m->name, msg);
			goto out;
		}
	}
	rc = visor_verify(insns, n, &opts);
	v = rc ? V_REJECT : V_ACCEPT;
	snprintf(msg, len, "%s", rc ? opts.errmsg : "");
	if (rc && rc != -EACCES && rc != -EINVAL && rc != -E2BIG)
		snprintf(msg, len, "unexpected return %d (%s): %s", rc, strerror(-rc), opts.errmsg);
out:
	for (i = 0; i < e->nmaps; i++)
		visor_map_destroy(maps[i]);
	return v;
}

/* Loads the object in visor's engine and verifies program prog. A refusal
 * of visor's loader (other than an unsupported program type) counts as a
 * rejection: the program cannot run. */
static enum verdict visor_verify_obj(const char *path, const char *prog, char *msg, size_t len)
{
	struct visor_obj *obj = visor_obj_open_file(path, NULL, msg, len);
	struct visor_obj_vm *ovm;
	enum verdict v = V_NA;
	const char *why = NULL;
	int rc;

	if (!obj)
		return V_NA;
	ovm = visor_obj_vm_load(obj, NULL, msg, len);
	visor_obj_close(obj);
	if (!ovm)
		return V_NA;
	rc = visor_obj_vm_prog_status(ovm, prog, &why);
	if (rc == -EOPNOTSUPP) {
		snprintf(msg, len, "%s", why ? why : "not supported by the visor VM");
	} else if (rc) {
		snprintf(msg, len, "load: %s", why ? why : strerror(-rc));
		v = V_REJECT;
	} else {
		VISOR_OPTS(visor_verify_opts, opts);
		rc = visor_verify_vm(visor_obj_vm_prog(ovm, prog), &opts);
		v = rc ? V_REJECT : V_ACCEPT;
		snprintf(msg, len, "%s", rc ? opts.errmsg : "");
	}
	visor_obj_vm_destroy(ovm);
	return v;
}

/* ---- Comparison and the table ------------------------------------------- */

struct row {
	char name[96];
	const char *type;
	enum verdict kernel, visor;
	const char *result;
	char note[120]; /* why a side was not compared */
};

static struct row *rows;
static size_t nrows, cap_rows;

static void add_row(const char *name, const char *type, enum verdict k, enum verdict v,
		    const char *result, const char *note)
{
	if (nrows == cap_rows) {
		cap_rows = cap_rows ? cap_rows * 2 : 128;
		rows = realloc(rows, cap_rows * sizeof(*rows));
		if (!rows) {
			perror("realloc");
			exit(1);
		}
	}
	snprintf(rows[nrows].name, sizeof(rows[nrows].name), "%s", name);
	rows[nrows].type = type;
	rows[nrows].kernel = k;
	rows[nrows].visor = v;
	rows[nrows].result = result;
	snprintf(rows[nrows].note, sizeof(rows[nrows].note), "%.*s",
		 (int)sizeof(rows[nrows].note) - 1, note);
	nrows++;
}

static const char *type_name(uint32_t t)
{
	const char *n = visor_obj_prog_type_name(t);
	return n ? n : "?";
}

static const char *last_line(const char *log)
{
	static char line[TEXT];
	size_t n = strlen(log);
	const char *s;

	while (n && (log[n - 1] == '\n' || log[n - 1] == ' '))
		n--;
	s = log + n;
	while (s > log && s[-1] != '\n')
		s--;
	/* Skip the "processed N insns" statistics line and the verification time. */
	while (s > log && (!strncmp(s, "processed ", 10) || !strncmp(s, "verification time", 17))) {
		n = (size_t)(s - log) - 1;
		while (n && log[n - 1] == '\n')
			n--;
		s = log + n;
		while (s > log && s[-1] != '\n')
			s--;
	}
	snprintf(line, sizeof(line), "%.*s", (int)(log + n - s), s);
	return line;
}

/* Checks one program's verdicts against its expectations and the kernel,
 * and adds its table row. */
static void judge(const struct expect *e, const char *type, enum verdict k, const char *klog,
		  enum verdict v, const char *vmsg)
{
	const char *result = "agree";
	enum verdict want_v = e->accept ? V_ACCEPT : V_REJECT;
	enum verdict want_k = e->kernel_accept ? V_ACCEPT : V_REJECT;

	if (getenv("VERIFIER_CORPUS_DEBUG") && k == V_REJECT)
		printf("KLOG %s: %s\n", e->name, last_line(klog));
	if (getenv("VERIFIER_CORPUS_DEBUG") && v == V_REJECT)
		printf("VMSG %s: %s\n", e->name, vmsg);
	if (k != V_NA) {
		CHECK(k == want_k, "%s: kernel %s, corpus says %s (corpus wrong or kernel changed): %s",
		      e->name, verdict_name(k), verdict_name(want_k), last_line(klog));
		if (k == V_REJECT && e->kernel_reason[0])
			CHECK(strstr(klog, e->kernel_reason), "%s: kernel log lacks \"%s\": %s",
			      e->name, e->kernel_reason, last_line(klog));
	}
	if (v != V_NA) {
		CHECK(v == want_v, "%s: visor %s, expected %s%s%s", e->name, verdict_name(v),
		      verdict_name(want_v), v == V_REJECT ? ": " : "", vmsg);
		if (v == V_REJECT && want_v == V_REJECT && e->reason[0])
			CHECK(strstr(vmsg, e->reason), "%s: visor's reason lacks \"%s\": %s", e->name,
			      e->reason, vmsg);
	}
	if (k == V_NA || v == V_NA) {
		result = "n/a";
	} else if (k == V_ACCEPT && v == V_REJECT) {
		result = e->stricter[0] ? "stricter" : "BUG";
		CHECK(e->stricter[0], "%s: visor refuses (%s), the kernel accepts, not listed as stricter",
		      e->name, vmsg);
	} else if (k == V_REJECT && v == V_ACCEPT) {
		result = "BUG";
		CHECK(0, "%s: visor accepts, the kernel refuses: %s", e->name, last_line(klog));
	} else {
		CHECK(!e->stricter[0], "%s: listed as stricter but visor and the kernel agree (%s)",
		      e->name, verdict_name(v));
	}
	add_row(e->name, type, k, v, result,
		k == V_NA && have_kernel ? last_line(klog) : v == V_NA ? vmsg : "");
}

/* ---- Corpus walkers ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending in suffix (malloc'd; free each and the array). */
static char **list_dir(const char *dir, const char *suffix, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, sl = strlen(suffix);

	*count = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				break;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), cmp_str);
	*count = names ? n : 0;
	return names;
}

static void free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static char klog[64 << 10];
static char vmsg[1024];

static void run_asm(const char *file)
{
	char path[512];
	struct expect e = {0};
	struct visor_insn *insns = NULL;
	size_t n = 0;
	char err[256];
	enum verdict k = V_NA, v = V_NA;
	char *text;

	snprintf(path, sizeof(path), "%s/asm/%s", CORPUS_DIR, file);
	snprintf(e.name, sizeof(e.name), "asm/%.*s", (int)(strlen(file) - 2), file);
	text = test_read_file(path, NULL);
	CHECK(text, "%s: cannot read", path);
	if (!text)
		return;
	if (parse_header(&e, text, path) || !e.prog_type) {
		CHECK(0, "%s: bad header (a type: line is required)", path);
		free(text);
		return;
	}
	if (visor_asm(text, &insns, &n, err, sizeof(err))) {
		CHECK(0, "%s: %s", path, err);
		free(text);
		return;
	}
	free(text);
	klog[0] = vmsg[0] = 0;
	if (have_kernel)
		k = kverify_insns((int)e.prog_type, insns, n, e.maps, e.nmaps, klog, sizeof(klog)) ?
			    V_REJECT : V_ACCEPT;
	v = visor_verify_asm(&e, insns, n, vmsg, sizeof(vmsg));
	judge(&e, type_name(e.prog_type), k, klog, v, vmsg);
	free(insns);
}

/* The program names of an object, via visor's object model (the same
 * programs libbpf sees). */
static size_t object_progs(const char *path, const char **names, uint32_t *types, size_t max,
			   struct visor_obj **keep)
{
	char err[256];
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	size_t n = 0;

	*keep = obj;
	CHECK(obj, "%s: %s", path, err);
	if (!obj)
		return 0;
	for (size_t i = 0; i < visor_obj_prog_count(obj) && n < max; i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
		names[n] = visor_obj_prog_name(p);
		types[n++] = visor_obj_prog_type(p);
	}
	return n;
}

static void run_object(const char *path, const char *label, const struct expect *defaults,
		       const char *overrides)
{
	const char *names[64];
	uint32_t types[64];
	struct visor_obj *obj;
	size_t n = object_progs(path, names, types, 64, &obj);

	CHECK(n > 0 || !obj, "%s: no programs", path);
	for (size_t i = 0; i < n; i++) {
		struct expect e = *defaults;
		enum verdict k = V_NA, v = V_NA;

		snprintf(e.name, sizeof(e.name), "%s/%s", label, names[i]);
		/* objects.txt lines: "<object>/<prog> key: value ..." */
		if (overrides) {
			size_t nl = strlen(e.name);
			for (const char *p = overrides; (p = strstr(p, e.name)); p += nl) {
				if ((p == overrides || p[-1] == '\n') && p[nl] == ' ') {
					const char *end = strchr(p, '\n');
					char line[512];
					int len = end ? (int)(end - p - nl) : (int)strlen(p + nl);
					snprintf(line, sizeof(line), "%.*s", len, p + nl);
					/* several keys on one line, separated by " | " */
					for (char *s = line, *bar; s; s = bar) {
						bar = strstr(s, " | ");
						if (bar) {
							*bar = 0;
							bar += 3;
						}
						if (parse_line(&e, s, "objects.txt"))
							CHECK(0, "objects.txt: bad line for %s", e.name);
					}
					if (!e.kernel_given)
						e.kernel_accept = e.accept;
				}
			}
		}
		klog[0] = vmsg[0] = 0;
		if (have_kernel) {
			int rc = kverify_object(path, names[i], klog, sizeof(klog));
			k = rc == KVERIFY_NOT_VERIFIED ? V_NA : rc ? V_REJECT : V_ACCEPT;
		}
		v = visor_verify_obj(path, names[i], vmsg, sizeof(vmsg));
		judge(&e, type_name(types[i]), k, klog, v, vmsg);
	}
	visor_obj_close(obj);
}

static void run_c(const char *src)
{
	char spath[512], opath[512];
	struct expect e = {0};
	char *text;
	size_t base = strlen(src) - strlen(".bpf.c");

	snprintf(spath, sizeof(spath), "%s/c/%s", CORPUS_DIR, src);
	snprintf(opath, sizeof(opath), "%s/%.*s.bpf.o", OBJ_DIR, (int)base, src);
	text = test_read_file(spath, NULL);
	CHECK(text, "%s: cannot read", spath);
	if (!text)
		return;
	if (parse_header(&e, text, spath)) {
		CHECK(0, "%s: bad header", spath);
		free(text);
		return;
	}
	free(text);
	char label[96];
	snprintf(label, sizeof(label), "c/%.*s", (int)base, src);
	run_object(opath, label, &e, NULL);
}

static void print_table(void)
{
	size_t agree = 0, stricter = 0, bug = 0, na = 0;

	printf("%-44s %-14s %-7s %-7s %s\n", "program", "type", "kernel", "visor", "result");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		printf("%-44s %-14s %-7s %-7s %-8s %s\n", r->name, r->type, verdict_name(r->kernel),
		       verdict_name(r->visor), r->result, r->note);
		if (!strcmp(r->result, "agree"))
			agree++;
		else if (!strcmp(r->result, "stricter"))
			stricter++;
		else if (!strcmp(r->result, "BUG"))
			bug++;
		else
			na++;
	}
	printf("%zu programs: %zu agree, %zu stricter (listed), %zu BUG, %zu not compared\n", nrows,
	       agree, stricter, bug, na);
}

int main(void)
{
	char **files;
	size_t n;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	have_kernel = kernel_available(kernel_why, sizeof(kernel_why));
	if (!have_kernel)
		printf("kernel verifier not available (visor side only): %s\n", kernel_why);

	files = list_dir(CORPUS_DIR "/asm", ".s", &n);
	CHECK(n >= 1, "no assembly corpus in %s/asm", CORPUS_DIR);
	for (size_t i = 0; i < n; i++)
		run_asm(files[i]);
	free_list(files, n);

	files = list_dir(CORPUS_DIR "/c", ".bpf.c", &n);
	CHECK(n >= 1, "no C corpus in %s/c", CORPUS_DIR);
	for (size_t i = 0; i < n; i++)
		run_c(files[i]);
	free_list(files, n);

	/* Every object the project compiles: accepted by both unless
	 * tests/verifier/objects.txt says otherwise. */
	char *overrides = test_read_file(CORPUS_DIR "/objects.txt", NULL);
	struct expect accept_all = {.accept = true, .kernel_accept = true, .has_expect = true};
	files = list_dir(PROGS_DIR, ".bpf.o", &n);
	CHECK(n >= 1, "no compiled objects in %s", PROGS_DIR);
	for (size_t i = 0; i < n; i++) {
		char path[512], label[96];
		snprintf(path, sizeof(path), "%s/%s", PROGS_DIR, files[i]);
		snprintf(label, sizeof(label), "progs/%.*s", (int)(strlen(files[i]) - 6), files[i]);
		run_object(path, label, &accept_all, overrides);
	}
	free_list(files, n);
	free(overrides);

	print_table();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("time: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(rows);
	return test_summary("test_verifier_corpus");
}
