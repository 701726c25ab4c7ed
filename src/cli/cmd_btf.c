/* visor btf dump: the vmlinux.h visor compiles against, made from the
 * kernel's BTF (cached per kernel). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <visor/frontend.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor btf dump [--btf FILE] [-o FILE]\n"
		"Writes the vmlinux.h that visor compiles programs against: every type of\n"
		"the kernel's BTF as C, made with libbpf's btf_dump (cached per kernel).\n\n"
		"  --btf FILE          the BTF to read (default $VISOR_BTF, else\n"
		"                      /sys/kernel/btf/vmlinux)\n"
		"  -o FILE             write here instead of standard output\n"
		"  -h, --help          this text\n");
}

int cmd_btf(int argc, char **argv)
{
	static const struct option opts[] = {
		{"btf", required_argument, 0, 'b'},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "dump")) {
		if (argc >= 2)
			cli_error("btf: unknown subcommand '%s' (try 'visor btf --help')", argv[1]);
		else
			usage(stderr);
		return 2;
	}
	const char *btf = NULL, *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': btf = optarg; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	FILE *f = out ? fopen(out, "we") : stdout;
	if (!f) {
		cli_error("btf dump: %s: %m", out);
		return 1;
	}
	char err[512];
	int rc = visor_btf_dump(btf, f, err, sizeof(err));
	if (out && fclose(f) && !rc) {
		cli_error("btf dump: %s: %m", out);
		return 1;
	}
	if (rc) {
		cli_error("btf dump: %s", err);
		return 1;
	}
	return 0;
}
