/* visor prog list: every eBPF program loaded in the kernel, as
 * `bpftool prog list` shows them (id, type, name, tag, instructions). */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

#include <visor/kernel.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor prog list\n"
		"Lists the programs loaded in the kernel (needs root): id, type, name, tag\n"
		"(the kernel's hash of the program) and the number of instructions after the\n"
		"kernel's rewriting; with kernel.bpf_stats_enabled=1, also how often each ran\n"
		"and for how long.\n\n"
		"  -h, --help          this text\n");
}

struct listing {
	struct cli_table t;
};

static int list_one(void *ctx, const struct visor_kernel_prog_info *in)
{
	struct listing *l = ctx;
	const char *tn = libbpf_bpf_prog_type_str((enum bpf_prog_type)in->type);
	cli_table_row(&l->t);
	cli_table_cell(&l->t, "%u", in->id);
	if (tn)
		cli_table_cell(&l->t, "%s", tn);
	else
		cli_table_cell(&l->t, "type %u", in->type);
	cli_table_cell(&l->t, "%s", in->name[0] ? in->name : "-");
	cli_table_cell(&l->t, "%s", in->tag);
	cli_table_cell(&l->t, "%u", in->insns);
	if (in->run_cnt)
		cli_table_cell(&l->t, "%llu runs, %llu ns", (unsigned long long)in->run_cnt,
			       (unsigned long long)in->run_time_ns);
	else
		cli_table_cell(&l->t, "-");
	return 0;
}

int cmd_prog(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "list")) {
		cli_error("prog: expected 'visor prog list' (try 'visor prog --help')");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		cli_error("prog list: unexpected argument '%s' (try 'visor prog --help')", argv[i]);
		return 2;
	}
	static const char *const headers[] = {">ID", "TYPE", "NAME", "TAG", ">INSNS", "STATS"};
	struct listing l = {0};
	cli_table_init(&l.t, 6, headers);
	char err[512];
	int rc = visor_kernel_prog_list(list_one, &l, err, sizeof(err));
	if (rc) {
		cli_table_free(&l.t);
		cli_error("%s", err);
		return 1;
	}
	cli_table_print(&l.t, stdout);
	cli_table_free(&l.t);
	return 0;
}
