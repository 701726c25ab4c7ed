/* visor verify: run the verifier on an object's programs (or on one
 * assembly / bytecode program) and say, per program, whether the visor
 * engine would run it, and if not, why. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/object.h>
#include <visor/verifier.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor verify [options] FILE\n"
		"Verifies the programs of FILE (a compiled eBPF object, or one program as\n"
		"assembly text or raw bytecode) as the visor engine does before running them,\n"
		"and prints a verdict per program: accepted, or the instruction, its source\n"
		"line and the reason it was refused. Exit status 1 if any is refused.\n\n"
		"  --prog NAME         only this program (objects)\n"
		"  --type TYPE         verify as this program type: xdp, socket_filter, tc,\n"
		"                      kprobe, tracepoint, raw_tracepoint, tracing, syscall, or\n"
		"                      none (untyped: r1 points to --ctx-size bytes). Objects\n"
		"                      default to each program's section type; assembly to none\n"
		"  --ctx-size N        untyped programs: bytes r1 points to (default 0)\n"
		"  --log               print the instructions and register states along the\n"
		"                      failing path (or the last path, when accepted)\n"
		"  --log-level N       1: instructions only; 2: with states (--log)\n"
		"  --stats             also print instructions processed, states and time\n"
		"  -h, --help          this text\n");
}

/* "xdp" -> 6 ...; -1 if unknown. */
static int parse_type(const char *s)
{
	static const struct {
		const char *name;
		int type;
	} alias[] = {{"none", 0}, {"untyped", 0}, {"tc", 3}, {"socket", 1}, {"classifier", 3}};
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (!strcmp(s, alias[i].name))
			return alias[i].type;
	for (uint32_t t = 1; t < 64; t++) {
		const char *n = visor_obj_prog_type_name(t);
		if (n && !strcmp(n, s))
			return (int)t;
	}
	return -1;
}

static void report(const char *name, int err, const struct visor_verify_opts *o, size_t count,
		   bool stats, bool log)
{
	if (log && o->log_buf && o->log_buf[0])
		fputs(o->log_buf, stdout);
	if (!err)
		printf("%s: accepted (%zu insns", name, count);
	else
		printf("%s: REFUSED (%zu insns", name, count);
	if (stats)
		printf(", %llu processed, %u states stored, %u pruned, stack %u bytes, %.1f us",
		       (unsigned long long)o->insns_processed, o->states_stored, o->states_pruned,
		       o->max_stack, (double)o->verify_ns / 1000.0);
	printf(")\n");
	if (err)
		printf("  %s\n", o->errmsg);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"prog", required_argument, 0, 'p'},	  {"type", required_argument, 0, 't'},
		{"ctx-size", required_argument, 0, 'c'},  {"log", no_argument, 0, 'l'},
		{"log-level", required_argument, 0, 'L'}, {"stats", no_argument, 0, 's'},
		{"help", no_argument, 0, 'h'},		  {0, 0, 0, 0},
	};
	const char *only = NULL;
	int type = -1, c;
	unsigned log_level = 0;
	unsigned long ctx_size = 0;
	bool stats = false;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': only = optarg; break;
		case 't':
			if ((type = parse_type(optarg)) < 0) {
				cli_error("verify: unknown program type '%s' (try --help)", optarg);
				return 2;
			}
			break;
		case 'c':
			ctx_size = strtoul(optarg, &end, 0);
			if (*end || ctx_size > 65536) {
				cli_error("verify: --ctx-size wants a number of bytes up to 65536, not '%s'", optarg);
				return 2;
			}
			break;
		case 'l': log_level = 2; break;
		case 'L':
			log_level = (unsigned)strtoul(optarg, &end, 0);
			if (*end || log_level > 2) {
				cli_error("verify: --log-level is 0, 1 or 2, not '%s'", optarg);
				return 2;
			}
			break;
		case 's': stats = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	size_t log_size = log_level ? (8u << 20) : 0;
	char *log_buf = log_size ? malloc(log_size) : NULL;
	if (log_size && !log_buf) {
		cli_error("verify: out of memory");
		return 1;
	}

	/* An ELF object, or a single program? */
	FILE *f = fopen(path, "rb");
	unsigned char magic[4] = {0};
	bool elf = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "\177ELF", 4);
	if (f)
		fclose(f);
	int status = 0;
	if (!elf) {
		struct visor_insn *insns;
		size_t count;
		if (cli_read_program(path, &insns, &count)) {
			free(log_buf);
			return 1;
		}
		VISOR_OPTS(visor_verify_opts, o, .prog_type = type < 0 ? 0 : (uint32_t)type,
			   .ctx_size = (uint32_t)ctx_size, .log_level = log_level, .log_buf = log_buf,
			   .log_size = log_size);
		int err = visor_verify(insns, count, &o);
		report(path, err, &o, count, stats, log_level > 0);
		free(insns);
		free(log_buf);
		return err ? 1 : 0;
	}

	struct visor_obj *obj = cli_open_obj(path);
	if (!obj) {
		free(log_buf);
		return 1;
	}
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	char err_line[256];
	if (visor_obj_maps_create(obj, &maps, &nmaps, err_line, sizeof(err_line))) {
		cli_error("verify: %s: %s", path, err_line);
		visor_obj_close(obj);
		free(log_buf);
		return 1;
	}
	size_t seen = 0;
	for (size_t i = 0; i < visor_obj_prog_count(obj); i++) {
		const struct visor_obj_prog *prog = visor_obj_prog_at(obj, i);
		const char *name = visor_obj_prog_name(prog);
		if (only && strcmp(only, name))
			continue;
		seen++;
		char why[256];
		if (visor_obj_prog_unsupported(prog, why, sizeof(why))) {
			printf("%s: REFUSED\n  %s\n", name, why);
			status = 1;
			continue;
		}
		VISOR_OPTS(visor_verify_opts, o, .log_level = log_level, .log_buf = log_buf,
			   .log_size = log_size);
		size_t count = visor_obj_prog_insn_count(prog);
		int err = cli_verify_obj_prog(prog, maps, nmaps, type, (uint32_t)ctx_size, &o);
		report(name, err, &o, count, stats, log_level > 0);
		if (err)
			status = 1;
	}
	if (only && !seen) {
		cli_error("verify: %s has no program named '%s'", path, only);
		status = 1;
	}
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
	free(log_buf);
	return status;
}
