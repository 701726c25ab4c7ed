/* visor compile: C in the BCC dialect (or plain libbpf C with --plain) to a
 * BPF ELF object that libbpf, bpftool and visor load. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <visor/frontend.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor compile [options] FILE.c|- [-o FILE.o] [-- CFLAGS...]\n"
		"Compiles FILE.c (the BCC dialect: BPF_HASH, table.lookup(), bpf_trace_printk,\n"
		"implicit probe reads, kprobe__NAME sections ...) to a BPF ELF object. Kernel\n"
		"types come from the kernel's BTF, no kernel headers are needed. Objects,\n"
		"vmlinux.h and its precompiled header are cached ($VISOR_CACHE_DIR, else\n"
		"$XDG_CACHE_HOME/visor, else ~/.cache/visor).\n\n"
		"  -o FILE             the object to write (default: FILE.c's name with .o,\n"
		"                      in the current directory)\n"
		"  --plain             plain libbpf-style C: no BCC rewriting (vmlinux.h and\n"
		"                      the kernel include stubs are still there)\n"
		"  --no-cache          compile even if a cached object matches\n"
		"  --btf FILE          take kernel types from this BTF (default $VISOR_BTF,\n"
		"                      else /sys/kernel/btf/vmlinux)\n"
		"  -v, --verbose       say what was reused and how long each step took\n"
		"  -h, --help          this text\n"
		"FILE '-' reads the source from standard input (-o is then required).\n"
		"Arguments after -- go to clang (-DNAME=VALUE, -I DIR ...).\n"
		"A compile that is not cached starts a compile server (see `visor compile-server\n"
		"--help`) for the next ones, unless VISOR_COMPILE_SERVER=0.\n");
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Whether a and b name the same existing file. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* "dir/prog.c" -> "prog.o" */
static char *default_output(const char *src)
{
	const char *base = strrchr(src, '/');
	base = base ? base + 1 : src;
	size_t n = strlen(base);
	if (n > 2 && !strcmp(base + n - 2, ".c"))
		n -= 2;
	char *out = malloc(n + 3);
	if (out)
		snprintf(out, n + 3, "%.*s.o", (int)n, base);
	return out;
}

int cmd_compile(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"plain", no_argument, 0, 'p'},
		{"no-cache", no_argument, 0, 'n'},     {"btf", required_argument, 0, 'b'},
		{"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	/* Everything after "--" is for clang, whatever it looks like. */
	int nopt = argc;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			nopt = i;
			break;
		}
	const char *out = NULL, *btf = NULL;
	bool plain = false, no_cache = false, verbose = false;
	int c;
	optind = 1;
	while ((c = getopt_long(nopt, argv, "o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': plain = true; break;
		case 'n': no_cache = true; break;
		case 'b': btf = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != nopt - 1) {
		usage(stderr);
		return 2;
	}
	const char *src = argv[optind];
	char *text = NULL;
	if (!strcmp(src, "-")) {
		if (!out) {
			cli_error("compile: a source on standard input needs -o FILE.o");
			return 2;
		}
		size_t len;
		if (!(text = cli_read_file("-", &len)))
			return 1;
		if (strlen(text) != len) {
			cli_error("compile: <stdin>: a NUL byte: this is not C source text");
			free(text);
			return 1;
		}
		src = "<stdin>";
	}
	if (out && !text && same_file(src, out)) {
		cli_error("compile: -o %s would overwrite the source", out);
		return 2;
	}
	char *def = out ? NULL : default_output(src);
	if (!out && !def) {
		cli_error("compile: out of memory");
		return 1;
	}
	struct visor_compile_stats st;
	memset(&st, 0, sizeof(st));
	struct visor_compile_opts o = {
		.sz = sizeof(o),
		.path = src,
		.text = text,
		.cflags = nopt < argc ? (const char *const *)argv + nopt + 1 : NULL,
		.ncflags = nopt < argc ? (size_t)(argc - nopt - 1) : 0,
		.btf_path = btf,
		.no_cache = no_cache,
		.dialect_off = plain,
		.stats = &st,
	};
	char err[512];
	/* Ctrl-C: clang and the rewriter (same process group) stop at once;
	 * visor finishes its step so that no half-written file stays. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = visor_compile(&o, out ? out : def, err, sizeof(err));
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (!stop_signal)
		cli_compile_server_autostart(&st);
	if (stop_signal) {
		cli_error("compile: interrupted");
		free(def);
		free(text);
		return 128 + stop_signal;
	}
	if (rc) {
		cli_error("compile: %s%s%s", rc == -EINVAL ? src : "", rc == -EINVAL ? ": " : "", err);
		free(def);
		free(text);
		return 1;
	}
	if (verbose) {
		if (st.object_cached)
			fprintf(stderr, "visor: %s: cached object\n", out ? out : def);
		else
			fprintf(stderr,
				"visor: %s: header %s %.3f s, rewrite %.3f s (%ld KB), "
				"clang-19 %.3f s (%ld KB)%s\n",
				out ? out : def, st.header_cached ? "cached" : "made", st.header_s,
				st.rewrite_s, st.rewriter_maxrss_kb, st.compile_s, st.compiler_maxrss_kb,
				st.server_used ? ", by the compile server" : "");
	}
	free(def);
	free(text);
	return 0;
}
