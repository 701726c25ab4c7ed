/* The compile pipeline (src/frontend/frontend.c and friends): the cache
 * (hits run no child process; source, flags and kernel BTF each change the
 * key), kernel include stubs, diagnostics at the user's file:line:col,
 * tracepoint structs at their format offsets (and from BTF without
 * tracefs), a crashing rewriter as an error, missing clang, and objects
 * that libbpf loads into the kernel (when root); robustness: damaged cache
 * entries (an object cut in half, a truncated PCH) compiled again, binary
 * sources, BTF that is not BTF, a compiler that exits 0 without output,
 * nothing cached by failed compiles, swept temporaries, and the BCC-like
 * API on bad arguments (ASan-clean). Runs in a temporary VISOR_CACHE_DIR. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <visor/bpf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>
#include <visor/object.h>

#include "../src/frontend/frontend_internal.h"
#include "../src/frontend/pipeline.h" /* internal: tests have no src/ include path */
#include "testutil.h"

/* printf's %s of a string that may be NULL. */
#define STR(s) ((s) ? (s) : "(null)")

static char tmpdir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		fprintf(stderr, "cannot write %s\n", path);
}

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, 512, "%s/%s", tmpdir, name);
	return b;
}

/* Compiles (text or file) with diagnostics into *diag (malloc'd). */
static int compile(const char *path, const char *text, const char *const *cflags, size_t ncflags,
		   const char *btf, bool plain, bool no_cache, char **obj,
		   struct visor_compile_stats *st, char **diag, char *err, size_t err_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *d = open_memstream(&buf, &len);
	struct visor_compile_opts o = {
		.sz = sizeof(o),
		.path = path,
		.text = text,
		.cflags = cflags,
		.ncflags = ncflags,
		.diag = d,
		.btf_path = btf,
		.no_cache = no_cache,
		.dialect_off = plain,
		.stats = st,
	};
	*obj = NULL;
	int rc = visor_compile_cached(&o, obj, err, err_len);
	fclose(d);
	if (diag)
		*diag = buf;
	else
		free(buf);
	return rc;
}

static const char plain_src[] =
	"#include <linux/visor_test_no_such_header.h>\n"
	"#include <uapi/linux/ptrace.h>\n"
	"SEC(\"tracepoint/syscalls/sys_enter_getpid\")\n"
	"int on_getpid(void *ctx)\n"
	"{\n"
	"\tstruct task_struct *t = (void *)bpf_get_current_task();\n"
	"\treturn t ? VALUE : 1;\n"
	"}\n"
	"char _license[] SEC(\"license\") = \"GPL\";\n";

static const char hello_src[] = "int kprobe__sys_clone(void *ctx) {\n"
				"    bpf_trace_printk(\"Hello, World!\\n\");\n"
				"    return 0;\n"
				"}\n";

static bool has_prog(const char *obj_path, const char *name, char *section, size_t len)
{
	struct visor_obj *obj = visor_obj_open_file(obj_path, NULL, NULL, 0);
	if (!obj)
		return false;
	bool found = false;
	for (size_t i = 0; i < visor_obj_prog_count(obj); i++) {
		struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
		if (!strcmp(visor_obj_prog_name(p), name)) {
			found = true;
			snprintf(section, len, "%s", visor_obj_prog_section(p));
		}
	}
	visor_obj_close(obj);
	return found;
}

static void test_cache(void)
{
	const char *src = path_in("plain.c");
	write_text(src, plain_src);
	const char *one[] = {"-DVALUE=0"}, *two[] = {"-DVALUE=2"};
	struct visor_compile_stats st;
	char err[512], *obj1, *obj2, *diag;

	/* Cold: the header and its PCH are made. */
	int rc = compile(src, NULL, one, 1, NULL, true, false, &obj1, &st, &diag, err, sizeof(err));
	CHECK(rc == 0, "cold compile: %d %s\n%s", rc, err, STR(diag));
	CHECK(!st.object_cached && !st.header_cached, "cold: nothing was cached");
	CHECK(st.compile_s > 0 && st.compiler_maxrss_kb > 0, "compiler stats filled");
	free(diag);

	/* The stub for the include visor does not ship. */
	char stub[600];
	snprintf(stub, sizeof(stub), "%s/cache/stubs/linux/visor_test_no_such_header.h", tmpdir);
	CHECK(access(stub, F_OK) == 0, "stub %s made", stub);

	/* Warm hit: no child process, no clang. */
	unsigned long children = fe_rewriter_children, runs = fe_clang_runs;
	rc = compile(src, NULL, one, 1, NULL, true, false, &obj2, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && st.object_cached, "second compile is a hit: %d %s", rc, err);
	CHECK(obj1 && obj2 && !strcmp(obj1, obj2), "same object");
	CHECK(fe_clang_runs == runs && fe_rewriter_children == children, "a hit runs nothing");
	free(obj2);

	/* Other flags: a miss with its own object; the header is reused. */
	rc = compile(src, NULL, two, 1, NULL, true, false, &obj2, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && !st.object_cached && st.header_cached, "new flags: miss, header hit: %s",
	      err);
	CHECK(obj2 && strcmp(obj1, obj2), "new flags: another object");
	CHECK(fe_clang_runs == runs + 1, "one clang run for a miss with the PCH cached");
	free(obj2);

	/* Other source text (same path): a miss. */
	char *text = strdup(plain_src);
	text[strlen(text) - 4] = 'X'; /* "GPL" -> "GPX": still valid C */
	rc = compile(src, text, one, 1, NULL, true, false, &obj2, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && !st.object_cached, "new source: miss: %d %s", rc, rc ? err : "");
	CHECK(obj2 && strcmp(obj1, obj2), "new source: another object");
	free(obj2);
	free(text);

	/* no_cache compiles again into the same entry. */
	runs = fe_clang_runs;
	rc = compile(src, NULL, one, 1, NULL, true, true, &obj2, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && !st.object_cached && fe_clang_runs == runs + 1, "no_cache compiles: %s",
	      err);
	CHECK(obj2 && !strcmp(obj1, obj2), "no_cache: same entry");
	free(obj2);

	/* vmlinux.h changed under its PCH (clang would refuse that PCH): a
	 * new PCH is made and the compile goes through. */
	char *hdr;
	rc = visor_btf_header(NULL, &hdr, err, sizeof(err));
	CHECK(rc == 0, "visor_btf_header: %s", err);
	if (!rc) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_NOW}, {.tv_sec = time(NULL) + 100}};
		CHECK(utimensat(AT_FDCWD, hdr, ts, 0) == 0, "touch %s", hdr);
		free(hdr);
		runs = fe_clang_runs;
		rc = compile(src, NULL, one, 1, NULL, true, true, &obj2, &st, &diag, err,
			     sizeof(err));
		CHECK(rc == 0 && !st.header_cached && fe_clang_runs == runs + 2,
		      "stale PCH made again (%lu clang runs): %s\n%s", fe_clang_runs - runs, err,
		      STR(diag));
		free(diag);
		free(obj2);
	}

	/* visor_compile writes the object where asked. */
	struct visor_compile_opts o = {.sz = sizeof(o), .path = src, .cflags = one, .ncflags = 1,
				       .dialect_off = true};
	const char *out = path_in("out.o");
	rc = visor_compile(&o, out, err, sizeof(err));
	char sec[128] = "";
	CHECK(rc == 0 && has_prog(out, "on_getpid", sec, sizeof(sec)), "visor_compile -> %s: %s",
	      out, err);
	CHECK(!strcmp(sec, "tracepoint/syscalls/sys_enter_getpid"), "section %s", sec);

	/* Loads into the kernel with libbpf. */
	if (geteuid() != 0) {
		printf("kernel load skipped: not root\n");
	} else {
		struct visor_kernel_obj *ko = NULL;
		rc = visor_kernel_obj_load(out, NULL, &ko, err, sizeof(err));
		if (rc == -EPERM)
			printf("kernel load skipped: %s\n", err);
		else
			CHECK(rc == 0, "kernel load of the compiled object: %s", err);
		visor_kernel_obj_close(ko);
	}
	free(obj1);
}

/* A second kernel BTF (the real one with trailing bytes, which libbpf
 * ignores) has another checksum: its own header, PCH and objects. */
static void test_btf_key(const char *btf)
{
	size_t len;
	char *data = fe_read_file(btf, &len);
	CHECK(data != NULL, "read %s", btf);
	if (!data)
		return;
	const char *copy = path_in("btf-copy");
	FILE *f = fopen(copy, "w");
	fwrite(data, 1, len, f);
	fputs("visor test", f);
	fclose(f);
	free(data);

	char s1[FE_HASH_HEX], s2[FE_HASH_HEX], err[512];
	CHECK(fe_btf_checksum(btf, s1, err, sizeof(err)) == 0, "checksum: %s", err);
	CHECK(fe_btf_checksum(copy, s2, err, sizeof(err)) == 0, "checksum: %s", err);
	CHECK(strcmp(s1, s2), "different BTF bytes, different checksums");
	char again[FE_HASH_HEX];
	CHECK(fe_btf_checksum(copy, again, err, sizeof(err)) == 0 && !strcmp(again, s2),
	      "the remembered checksum is the same");

	const char *src = path_in("plain.c");
	const char *one[] = {"-DVALUE=0"};
	struct visor_compile_stats st;
	char *obj1, *obj2;
	int rc = compile(src, NULL, one, 1, NULL, true, false, &obj1, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && st.object_cached, "first BTF: cached: %s", err);
	rc = compile(src, NULL, one, 1, copy, true, false, &obj2, &st, NULL, err, sizeof(err));
	CHECK(rc == 0 && !st.object_cached && !st.header_cached, "other BTF: all made again: %s",
	      err);
	CHECK(obj1 && obj2 && strcmp(obj1, obj2), "other BTF: another object");
	free(obj1);
	free(obj2);

	char *hdr;
	CHECK(visor_btf_header(copy, &hdr, err, sizeof(err)) == 0 && strstr(hdr, s2),
	      "the header lives under the BTF's checksum: %s", err);
	free(hdr);

	/* A file that is not BTF (libbpf would say so on stderr too). */
	const char *junk = path_in("junk.btf");
	write_text(junk, "not BTF at all");
	f = fopen("/dev/null", "w");
	libbpf_print_fn_t old_print = libbpf_set_print(NULL);
	rc = visor_btf_dump(junk, f, err, sizeof(err));
	libbpf_set_print(old_print);
	fclose(f);
	CHECK(rc < 0 && strstr(err, "junk.btf"), "junk BTF refused naming it: %s", err);
	rc = visor_btf_dump("/nonexistent/vmlinux", stdout, err, sizeof(err));
	CHECK(rc == -ENOENT && strstr(err, "/nonexistent/vmlinux"), "missing BTF: %s", err);
}

static void test_diagnostics(void)
{
	const char *src = path_in("broken.c");
	write_text(src, "SEC(\"xdp\")\nint prog(struct xdp_md *ctx)\n{\n\treturn 1 +;\n}\n");
	char err[512], *obj, *diag;
	for (int plain = 1; plain >= 0; plain--) {
		int rc = compile(src, NULL, NULL, 0, NULL, plain, false, &obj, NULL, &diag, err,
				 sizeof(err));
		char want[600];
		snprintf(want, sizeof(want), "%s:4:12: error:", src);
		CHECK(rc == -EINVAL && strstr(err, "1 error"), "syntax error (plain %d): %d %s", plain,
		      rc, err);
		CHECK(diag && strstr(diag, want), "diagnostic at the user's line:col (plain %d): %s",
		      plain, STR(diag));
		CHECK(diag && !strstr(diag, ".tmp."), "no temporary file named: %s", STR(diag));
		free(diag);
		free(obj);
	}

	/* Missing source file. */
	int rc = compile(path_in("nope.c"), NULL, NULL, 0, NULL, true, false, &obj, NULL, NULL, err,
			 sizeof(err));
	CHECK(rc == -ENOENT && strstr(err, "nope.c"), "missing source: %d %s", rc, err);

	/* No clang: a miss says which package to install. */
	setenv("VISOR_CLANG", "/nonexistent/clang-19", 1);
	rc = compile(NULL, "int x;\n", NULL, 0, NULL, true, true, &obj, NULL, NULL, err,
		     sizeof(err));
	unsetenv("VISOR_CLANG");
	CHECK(rc == -ENOEXEC && strstr(err, "apt-get install clang-19"), "no clang: %d %s", rc, err);
}

static int crash_rewrite(const struct fe_rewrite_opts *o, struct fe_rewrite_result *r, char *err,
			 size_t len)
{
	/* SIGABRT: the sanitizers catch SIGSEGV themselves and exit. */
	abort();
}

static void test_rewriter_crash(void)
{
	int (*saved)(const struct fe_rewrite_opts *, struct fe_rewrite_result *, char *, size_t) =
		fe_rewrite_fn;
	fe_rewrite_fn = crash_rewrite;
	char err[512], *obj;
	int rc = compile(NULL, "int x;\n", NULL, 0, NULL, false, true, &obj, NULL, NULL, err,
			 sizeof(err));
	fe_rewrite_fn = saved;
	CHECK(rc < 0 && strstr(err, "the rewriter crashed (signal 6"), "crash reported: %d %s", rc,
	      err);
}

/* A rewriter that lengthens the middle of line 2, as table methods do. */
static int widening_rewrite(const struct fe_rewrite_opts *o, struct fe_rewrite_result *r,
			    char *err, size_t len)
{
	memset(r, 0, sizeof(*r));
	const char *at = strstr(o->text, "a + zz");
	if (!at)
		return -EINVAL;
	size_t pre = (size_t)(at - o->text);
	r->text = malloc(o->len + 16);
	sprintf(r->text, "%.*sa + a + a + %s", (int)pre, o->text, at + 4);
	r->len = strlen(r->text);
	r->diags = strdup("");
	return 0;
}

/* Errors clang-19 finds in the rewritten text are shown at the user's
 * column, with the user's line. */
static void test_compiler_columns(void)
{
	int (*saved)(const struct fe_rewrite_opts *, struct fe_rewrite_result *, char *, size_t) =
		fe_rewrite_fn;
	fe_rewrite_fn = widening_rewrite;
	char err[512], *obj, *diag;
	int rc = compile("cols.c", "\nint f(int a) { return a + zz; }\n", NULL, 0, NULL, false, true,
			 &obj, NULL, &diag, err, sizeof(err));
	fe_rewrite_fn = saved;
	CHECK(rc == -EINVAL && diag &&
		      strstr(diag, "cols.c:2:27: error: use of undeclared identifier 'zz'") &&
		      strstr(diag, "int f(int a) { return a + zz; }") && !strstr(diag, "a + a + a"),
	      "phase-2 error at the user's column, with the user's line: %s", STR(diag));
	free(diag);
}

/* The offset the format file gives a field, or -1. */
static int format_offset(const char *event_dir, const char *field)
{
	char path[512], line[512], want[128];
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/format", event_dir);
	snprintf(want, sizeof(want), " %s;", field);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int off = -1;
	while (fgets(line, sizeof(line), f)) {
		char *o = strstr(line, "offset:");
		if (strstr(line, want) && o)
			off = atoi(o + 7);
	}
	fclose(f);
	return off;
}

static void test_tracepoints(void)
{
	char err[512], *obj, *diag, *text;
	int off = format_offset("syscalls/sys_enter_openat", "filename");
	if (off < 0) {
		printf("tracepoint format test skipped: /sys/kernel/tracing not readable\n");
	} else {
		/* The struct's field sits where the format says, checked by the
		 * compiler itself. */
		char src[1024];
		snprintf(src, sizeof(src),
			 "_Static_assert(__builtin_offsetof(struct tracepoint__syscalls__sys_enter_openat,"
			 " filename) == %d, \"offset\");\n"
			 "SEC(\"tracepoint/syscalls/sys_enter_openat\")\n"
			 "int tracepoint__syscalls__sys_enter_openat(struct "
			 "tracepoint__syscalls__sys_enter_openat *args)\n"
			 "{ return args->filename != 0 && args->dfd != 0; }\n"
			 "char _license[] SEC(\"license\") = \"GPL\";\n",
			 off);
		int rc = compile("openat.c", src, NULL, 0, NULL, true, false, &obj, NULL, &diag, err,
				 sizeof(err));
		CHECK(rc == 0, "openat struct: %s\n%s", err, STR(diag));
		free(diag);
		free(obj);
		rc = fe_tracepoint_struct(NULL, NULL, "sched", "sched_process_exec", &text, err,
					  sizeof(err));
		CHECK(rc == 0 && strstr(text, "int data_loc_filename;") &&
			      strstr(text, "__u64 __do_not_use__;"),
		      "__data_loc and common fields as BCC: %s", rc ? err : text);
		if (!rc)
			free(text);
	}
	/* Without tracefs: BTF's trace_event_raw_<event>. */
	int rc = fe_tracepoint_struct("/nonexistent", NULL, "sched", "sched_switch", &text, err,
				      sizeof(err));
	CHECK(rc == 0 && strstr(text, "struct tracepoint__sched__sched_switch {") &&
		      strstr(text, "next_pid;"),
	      "BTF fallback: %s", rc ? err : text);
	if (!rc)
		free(text);

	/* An unknown tracepoint: at the user's line and column, naming it. */
	rc = compile("tp.c", "\nint x; int tracepoint__nosuchcat__nosuchevent(void *args) { return 0; }\n",
		     NULL, 0, NULL, true, false, &obj, NULL, &diag, err, sizeof(err));
	CHECK(rc == -EINVAL && diag && strstr(diag, "tp.c:2:12: error: no tracepoint nosuchcat/nosuchevent"),
	      "unknown tracepoint: %d %s\n%s", rc, err, STR(diag));
	free(diag);

	/* The scan: macro and name forms, comments and strings ignored. */
	struct fe_tracepoint_ref *refs;
	int n = fe_tracepoints_scan("// tracepoint__a__b\nTRACEPOINT_PROBE(sched, sched_switch) {}\n"
				    "char *s = \"tracepoint__c__d\";\nint tracepoint__net__xmit(void);\n"
				    "int tracepoint__net__xmit(void) { return 0; }\n",
				    &refs);
	CHECK(n == 2, "2 tracepoints found, not %d", n);
	if (n == 2) {
		CHECK(!strcmp(refs[0].category, "sched") && !strcmp(refs[0].event, "sched_switch") &&
			      refs[0].line == 2 && refs[0].col == 1,
		      "TRACEPOINT_PROBE: %s/%s %u:%u", refs[0].category, refs[0].event, refs[0].line,
		      refs[0].col);
		CHECK(!strcmp(refs[1].category, "net") && !strcmp(refs[1].event, "xmit") &&
			      refs[1].line == 4 && refs[1].col == 5,
		      "tracepoint__: %s/%s %u:%u", refs[1].category, refs[1].event, refs[1].line,
		      refs[1].col);
	}
	free(refs);
}

/* Damaged cache entries: an object cut in half is compiled again, not
 * handed out; a truncated PCH is made again (libclang and clang both
 * refuse it). */
static void test_damaged_cache(void)
{
	char err[512], *obj, *obj2, *diag;
	const char *flags[] = {"-DVISOR_DAMAGE_TEST=1"};
	int rc = compile("hello.c", hello_src, flags, 1, NULL, false, false, &obj, NULL, &diag, err,
			 sizeof(err));
	CHECK(rc == 0, "compile: %s\n%s", err, STR(diag));
	free(diag);
	if (rc)
		return;
	struct stat st;
	CHECK(!stat(obj, &st) && st.st_size > 128, "object written");
	CHECK(fe_object_check(obj, err, sizeof(err)) == 0, "a whole object passes: %s", err);
	CHECK(truncate(obj, st.st_size / 2) == 0, "truncate");
	CHECK(fe_object_check(obj, err, sizeof(err)) == -ENOEXEC &&
		      (strstr(err, "past the end") || strstr(err, "cut short")),
	      "half an object fails the check: %s", err);
	struct visor_compile_stats cs;
	rc = compile("hello.c", hello_src, flags, 1, NULL, false, false, &obj2, &cs, &diag, err,
		     sizeof(err));
	CHECK(rc == 0 && !cs.object_cached, "the damaged entry is compiled again: %d %s\n%s", rc, err,
	      STR(diag));
	CHECK(obj2 && !stat(obj2, &st) && fe_object_check(obj2, NULL, 0) == 0,
	      "the new entry is whole");
	free(diag);
	free(obj2);
	free(obj);

	/* The PCH cut short. */
	struct fe_btf_entry *e = malloc(sizeof(*e));
	rc = e ? fe_btf_prepare(NULL, true, NULL, e, err, sizeof(err)) : -ENOMEM;
	CHECK(rc == 0, "btf prepare: %s", err);
	if (!rc) {
		CHECK(!stat(e->pch, &st) && truncate(e->pch, st.st_size / 3) == 0, "truncate pch");
		rc = compile("hello.c", hello_src, flags, 1, NULL, false, true, &obj, &cs, &diag, err,
			     sizeof(err));
		CHECK(rc == 0, "a truncated PCH is made again: %d %s\n%s", rc, err, STR(diag));
		CHECK(!stat(e->pch, &st) && st.st_size > 1000000, "the PCH is whole again");
		free(diag);
		free(obj);
	}
	free(e);
}

/* Inputs that are not C, BTF that is not BTF, a compiler that lies. */
static void test_bad_inputs(void)
{
	char err[512], *obj, *diag;
	const char *bin = path_in("binary.c");
	FILE *f = fopen(bin, "w");
	if (f) {
		fwrite("int x;\n\x7f" "ELF\0\0\0junk", 1, 16, f);
		fclose(f);
	}
	int rc = compile(bin, NULL, NULL, 0, NULL, false, false, &obj, NULL, &diag, err, sizeof(err));
	CHECK(rc == -EINVAL && diag && strstr(diag, "binary.c:2:5: error: a NUL byte") &&
		      !strchr(strchr(diag, '\n') + 1, '\n'),
	      "a binary file: one error at the NUL: %d %s\n%s", rc, err, STR(diag));
	free(diag);

	const char *garbage = path_in("garbage.btf");
	write_text(garbage, "this is not BTF at all, just some text long enough\n");
	rc = compile("hello.c", hello_src, NULL, 0, garbage, false, false, &obj, NULL, &diag, err,
		     sizeof(err));
	CHECK(rc == -EBADMSG && strstr(err, "not a BTF file") && diag && !diag[0],
	      "garbage BTF: %d %s / %s", rc, err, STR(diag));
	free(diag);
	rc = compile("hello.c", hello_src, NULL, 0, "/bin/sh", false, false, &obj, NULL, &diag, err,
		     sizeof(err));
	CHECK(rc == -EBADMSG && strstr(err, "no .BTF section") && diag && !diag[0],
	      "an ELF without BTF: %d %s / %s", rc, err, STR(diag));
	free(diag);

	/* A "compiler" that exits 0 and writes nothing: no cache entry. */
	setenv("VISOR_CLANG", "/bin/true", 1);
	rc = compile("hello.c", hello_src, NULL, 0, NULL, false, true, &obj, NULL, &diag, err,
		     sizeof(err));
	CHECK(rc == -EIO && strstr(err, "/bin/true exited 0 but wrote no"),
	      "a silent compiler: %d %s", rc, err);
	free(diag);
	setenv("VISOR_CLANG", "/nonexistent/clang", 1);
	rc = compile("hello.c", hello_src, NULL, 0, NULL, false, true, &obj, NULL, &diag, err,
		     sizeof(err));
	CHECK(rc == -ENOEXEC && strstr(err, "clang-19 not found"), "no compiler: %d %s", rc, err);
	free(diag);
	unsetenv("VISOR_CLANG");

	/* Compile errors leave nothing in the cache. */
	char objdir[600];
	snprintf(objdir, sizeof(objdir), "%s/obj", path_in("cache"));
	size_t before = 0, after = 0;
	DIR *d = opendir(objdir);
	for (struct dirent *de; d && (de = readdir(d));)
		before++;
	if (d)
		closedir(d);
	rc = compile("bad.c", "int kprobe__sys_clone(void *ctx) { return 1 +; }\n", NULL, 0, NULL,
		     false, false, &obj, NULL, &diag, err, sizeof(err));
	CHECK(rc == -EINVAL, "syntax error: %d %s", rc, err);
	free(diag);
	d = opendir(objdir);
	for (struct dirent *de; d && (de = readdir(d));)
		after++;
	if (d)
		closedir(d);
	CHECK(before == after, "a failed compile adds nothing to the cache (%zu -> %zu)", before,
	      after);

	/* A temporary file a killed compile left is swept by the next miss. */
	char stale[700];
	snprintf(stale, sizeof(stale), "%s/deadbeef.o.tmp.999999999.0", objdir);
	write_text(stale, "half");
	rc = compile("hello.c", hello_src, NULL, 0, NULL, false, true, &obj, NULL, &diag, err,
		     sizeof(err));
	CHECK(rc == 0, "compile: %s", err);
	CHECK(access(stale, F_OK) != 0, "a dead process's temporary file is swept");
	free(diag);
	free(obj);
}

/* The BCC-like API on bad arguments: errors, never crashes or leaks. */
static void test_api_misuse(void)
{
	char err[512];
	struct visor_bpf *b = (struct visor_bpf *)1;
	CHECK(visor_bpf_new(NULL, &b, err, sizeof(err)) == -EINVAL && !b &&
		      strstr(err, "exactly one"),
	      "no opts: %s", err);
	LIBVISOR_OPTS(visor_bpf_opts, none);
	CHECK(visor_bpf_new(&none, &b, err, sizeof(err)) == -EINVAL, "no source: %s", err);
	LIBVISOR_OPTS(visor_bpf_opts, two, .text = hello_src, .obj_file = "/nonexistent.o");
	CHECK(visor_bpf_new(&two, &b, err, sizeof(err)) == -EINVAL, "two sources: %s", err);
	const char *null_flag[] = {"-DX=1", NULL};
	LIBVISOR_OPTS(visor_bpf_opts, nullf, .text = hello_src, .cflags = null_flag, .ncflags = 2);
	CHECK(visor_bpf_new(&nullf, &b, err, sizeof(err)) == -EINVAL && strstr(err, "cflags[1]"),
	      "a NULL flag: %s", err);
	LIBVISOR_OPTS(visor_bpf_opts, nullv, .text = hello_src, .ncflags = 1);
	CHECK(visor_bpf_new(&nullv, &b, err, sizeof(err)) == -EINVAL, "ncflags without cflags");
	LIBVISOR_OPTS(visor_bpf_opts, one, .text = hello_src);
	CHECK(visor_bpf_new(&one, NULL, err, sizeof(err)) == -EINVAL, "NULL out");
	CHECK(visor_bpf_new(&one, &b, NULL, 0) != 0 || b, "NULL err buffer is allowed");
	visor_bpf_free(b);
	b = NULL;
	visor_bpf_free(NULL);
	LIBVISOR_OPTS(visor_bpf_opts, missing, .src_file = path_in("nope.c"));
	CHECK(visor_bpf_new(&missing, &b, err, sizeof(err)) == -ENOENT && strstr(err, "nope.c"),
	      "missing file: %s", err);
	LIBVISOR_OPTS(visor_bpf_opts, badobj, .obj_file = path_in("plain.c"));
	CHECK(visor_bpf_new(&badobj, &b, err, sizeof(err)) < 0 && err[0], "not an object: %s", err);

	/* NULL handles */
	CHECK(visor_bpf_table(NULL, "x") == NULL, "table of NULL");
	CHECK(visor_bpf_attach_kprobe(NULL, "sys_clone", "f") == -EINVAL, "attach on NULL");
	CHECK(visor_bpf_prog_fd(NULL, "f") == -EINVAL, "prog fd of NULL");
	CHECK(strlen(visor_bpf_errmsg(NULL)) > 0, "errmsg of NULL");

	/* A loaded object (the VM backend: no privileges needed). */
	LIBVISOR_OPTS(visor_bpf_opts, vm, .backend = VISOR_BACKEND_VM,
		      .text = "BPF_HASH(counts, u32, u64);\n"
			      "int on_packet(struct __sk_buff *skb) {\n"
			      "  u32 k = 1; u64 one = 1;\n"
			      "  counts.update(&k, &one);\n"
			      "  return 0;\n}\n");
	int rc = visor_bpf_new(&vm, &b, err, sizeof(err));
	CHECK(rc == 0, "VM object: %s", err);
	if (rc)
		return;
	CHECK(visor_bpf_table(b, "counts") != NULL, "table counts");
	CHECK(visor_bpf_table(b, "nope") == NULL && strstr(visor_bpf_errmsg(b), "nope"),
	      "missing table: %s", visor_bpf_errmsg(b));
	CHECK(visor_bpf_table(b, NULL) == NULL, "NULL table name");
	CHECK(visor_bpf_attach_kprobe(b, "sys_clone", "on_packet") == -EOPNOTSUPP,
	      "attach on the VM: %s", visor_bpf_errmsg(b));
	CHECK(visor_bpf_attach_kprobe(b, "sys_clone", NULL) == -EINVAL, "attach NULL fn");
	CHECK(visor_bpf_prog_type(b, "nope") == -ENOENT, "type of a missing program");
	uint32_t ret = 7;
	uint8_t pkt[64] = {0};
	CHECK(visor_bpf_test_run(b, "nope", pkt, sizeof(pkt), &ret) < 0, "run a missing program");
	CHECK(visor_bpf_test_run(b, "on_packet", NULL, 10, &ret) == -EINVAL, "NULL data");
	visor_bpf_free(b);

	/* The kernel: attach to what does not exist, and twice. */
	if (geteuid() != 0) {
		printf("kernel API checks skipped: not root\n");
		return;
	}
	LIBVISOR_OPTS(visor_bpf_opts, k, .text = hello_src, .no_autoattach = true);
	rc = visor_bpf_new(&k, &b, err, sizeof(err));
	CHECK(rc == 0, "kernel object: %s", err);
	if (rc)
		return;
	CHECK(visor_bpf_attach_kprobe(b, "sys_clone", "no_such_fn") < 0 &&
		      strstr(visor_bpf_errmsg(b), "no_such_fn"),
	      "attach a missing function: %s", visor_bpf_errmsg(b));
	CHECK(visor_bpf_attach_tracepoint(b, "syscalls:sys_enter_nope", "kprobe__sys_clone") < 0 &&
		      strstr(visor_bpf_errmsg(b), "sys_enter_nope"),
	      "attach to a missing tracepoint: %s", visor_bpf_errmsg(b));
	rc = visor_bpf_attach_auto(b, NULL);
	CHECK(rc == 0, "auto attach: %s", visor_bpf_errmsg(b));
	rc = visor_bpf_attach_auto(b, NULL);
	CHECK(rc == -EEXIST && strstr(visor_bpf_errmsg(b), "already attached"),
	      "attach twice: %d %s", rc, visor_bpf_errmsg(b));
	visor_bpf_detach_all(b);
	CHECK(visor_bpf_attach_auto(b, NULL) == 0, "attach again after detaching: %s",
	      visor_bpf_errmsg(b));
	visor_bpf_free(b);
}

/* The hello world, in the BCC dialect (through the rewriter). */
static void test_hello(void)
{
	char err[512], *obj, *diag;
	int rc = compile("hello.c", hello_src, NULL, 0, NULL, false, false, &obj, NULL, &diag, err,
			 sizeof(err));
	CHECK(rc == 0, "hello world compiles: %s\n%s", err, STR(diag));
	free(diag);
	if (rc)
		return;
	char sec[128] = "";
	CHECK(has_prog(obj, "kprobe__sys_clone", sec, sizeof(sec)) &&
		      (!strncmp(sec, "kprobe/", 7) || !strncmp(sec, "tracepoint/", 11)),
	      "kprobe__sys_clone in section %s", sec);
	if (geteuid() == 0) {
		struct visor_kernel_obj *ko = NULL;
		char note[512] = "";
		rc = visor_kernel_obj_load(obj, NULL, &ko, err, sizeof(err));
		CHECK(rc == 0 || rc == -EPERM, "hello world loads: %s", err);
		if (!rc) {
			rc = visor_kernel_attach_all(ko, note, sizeof(note), err, sizeof(err));
			CHECK(rc == 0, "hello world attaches: %s", err);
		}
		visor_kernel_obj_close(ko);
	}
	free(obj);
}

int main(void)
{
	const char *btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK))
		return test_skip("test_frontend_compile", "no readable /sys/kernel/btf/vmlinux");
	if (!fe_clang_path())
		return test_skip("test_frontend_compile", "clang-19 not installed");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/visor-fe-test-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("VISOR_CACHE_DIR", path_in("cache"), 1);
	unsetenv("VISOR_BTF");

	test_cache();
	test_btf_key(btf);
	test_diagnostics();
	test_rewriter_crash();
	test_compiler_columns();
	test_tracepoints();
	test_hello();
	test_damaged_cache();
	test_bad_inputs();
	test_api_misuse();

	/* libclang is loaded by the rewriter child only: never in here. */
	size_t mlen;
	char *maps = test_read_file("/proc/self/maps", &mlen);
	CHECK(maps && strstr(maps, "libc") && !strstr(maps, "libclang"),
	      "libclang mapped in the compiling process");
	free(maps);

	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_summary("test_frontend_compile");
}
