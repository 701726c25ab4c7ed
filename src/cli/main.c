/* visor: the command-line front door. Each subcommand lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define VISOR_VERSION "0.1.0"


static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"asm", cmd_asm, "assemble eBPF text into bytecode"},
	{"disasm", cmd_disasm, "disassemble bytecode (uBPF or kernel syntax)"},
	{"exec", cmd_exec, "run a program in the visor engine and print r0"},
	{"conformance-plugin", cmd_conformance_plugin, "run one program for the bpf_conformance suite"},
	{"jit", cmd_jit, "compile a program to x86-64 and dump the machine code"},
	{"obj", cmd_obj, "describe a compiled eBPF object: programs, maps, sections"},
	{"test-run", cmd_test_run, "run an object's XDP program on packets (like BPF_PROG_TEST_RUN)"},
	{"map", cmd_map, "dump the maps of an object, a pin or the kernel; list kernel maps"},
	{"prog", cmd_prog, "list the programs loaded in the kernel"},
	{"run", cmd_run, "load an object into the kernel, attach it, print its output"},
	{"compile", cmd_compile, "compile C (BCC dialect or libbpf style) to a BPF object"},
	{"btf", cmd_btf, "dump the vmlinux.h made from the kernel's BTF"},
	{"compile-server", cmd_compile_server, "start, stop or ask the resident compile server"},
	{"verify", cmd_verify, "prove an object's programs safe for the visor engine, or say why not"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: visor <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'visor <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version")) {
		printf("visor %s\n", VISOR_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%s' (try 'visor --help')", name);
	return 2;
}
