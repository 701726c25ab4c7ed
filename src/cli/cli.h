/* The `visor` command: one file per subcommand, sharing these utilities. */
#ifndef VISOR_CLI_H
#define VISOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <visor/visor.h>

/* Subcommands: argv[0] is the subcommand name. Return the exit status. */
int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_conformance_plugin(int argc, char **argv);
int cmd_jit(int argc, char **argv);
int cmd_obj(int argc, char **argv);       /* obj info */
int cmd_test_run(int argc, char **argv);
int cmd_map(int argc, char **argv);       /* map dump, map list */
int cmd_prog(int argc, char **argv);      /* prog list */
int cmd_run(int argc, char **argv);       /* run an object in the kernel */
int cmd_verify(int argc, char **argv);
int cmd_compile(int argc, char **argv);   /* C (BCC dialect) -> BPF object */
int cmd_btf(int argc, char **argv);       /* btf dump: vmlinux.h from BTF */
int cmd_compile_server(int argc, char **argv);

/* The compile server (cmd_compile_server.c): its idle time (seconds;
 * $VISOR_COMPILE_SERVER_IDLE, else this), and starting one after a compile
 * that had none (not with VISOR_COMPILE_SERVER=0; silent: without one,
 * visor compiles as before). */
#define CLI_COMPILE_SERVER_IDLE 600
struct visor_compile_stats;
double cli_compile_server_idle(void);
void cli_compile_server_autostart(const struct visor_compile_stats *st);

/* Prints "visor: <message>" on stderr (one line). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a program from path ("-" = stdin): assembly text, or raw bytecode
 * (a file whose size is a multiple of 8 and that is not text). Returns 0 and
 * a malloc'd array, or -1 after printing the reason. */
int cli_read_program(const char *path, struct visor_insn **insns, size_t *count);

/* Reads the program at path into a new VM (registering the bpf_conformance
 * helpers when asked), loads it, verifies it as an untyped program whose r1
 * points to ctx_size bytes (or, with unsafe, puts the VM in unsafe mode:
 * run-time checks only) and, when jit_flags >= 0, JIT-compiles it with
 * those flags. Returns the VM (visor_vm_destroy it), or NULL after printing
 * the reason (a refusal: the verifier's message); *count receives the
 * number of instruction slots. */
struct visor_vm *cli_load_vm(const char *cmd, const char *path, int conformance_helpers,
			     bool unsafe, uint32_t ctx_size, int jit_flags, size_t *count);

/* Verifies an object's program against maps (from visor_obj_maps_create) as
 * prog_type (its own type when prog_type < 0; ctx_size for untyped), with
 * source lines in messages. opts: zero-initialised with .sz set; the log
 * fields are used as given. Returns visor_verify's result. */
struct visor_obj_prog;
int cli_verify_obj_prog(const struct visor_obj_prog *prog, struct visor_map *const *maps,
			size_t nmaps, int prog_type, uint32_t ctx_size,
			struct visor_verify_opts *opts);

/* Reads a whole file ("-" = stdin) into a malloc'd NUL-terminated buffer. */
char *cli_read_file(const char *path, size_t *len);

/* Parses "00 01 ff" (spaces optional between pairs, "0x" prefixes allowed)
 * into a malloc'd buffer. Returns 0, or -1 with a message in err. */
int cli_parse_hex(const char *text, uint8_t **out, size_t *len, char *err, size_t err_len);

/* Aligned tables (src/cli/table.c): init with the headers (">NAME" for a
 * right-aligned column), then per row cli_table_row and one cli_table_cell
 * per column. */
#define CLI_TABLE_MAX_COLS 8
struct cli_table {
	size_t ncols, nrows, cap, col;
	char **cells;
	int right[CLI_TABLE_MAX_COLS];
	int oom;
};
void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers);
void cli_table_row(struct cli_table *t);
void cli_table_cell(struct cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* hexdump -C style lines (offset, 16 bytes, ASCII), each after indent. */
void cli_hexdump(FILE *out, const void *data, size_t len, const char *indent);
/* "01 02 03" on one line, no newline. */
void cli_hex_bytes(FILE *out, const void *data, size_t len);

/* visor_obj_open_file, or NULL after one error line naming the path. */
struct visor_obj *cli_open_obj(const char *path);

/* The program named name of obj (NULL: its only one), or -1 after one
 * error line (no such program, none, or several: lists them). */
struct visor_obj_prog;
int cli_pick_prog(const char *path, struct visor_obj *obj, const char *name,
		  struct visor_obj_prog **out);

struct visor_map;
struct visor_obj_map_def;
/* Prints a map's contents like `bpftool map dump` (src/cli/cmd_map.c):
 * key -> value in hex, per-CPU values one line per CPU, global data as
 * hexdump with ASCII. def may be NULL. Returns 0, or -1 after an error line. */
int cli_map_dump(FILE *out, struct visor_map *map, const struct visor_obj_map_def *def);

struct visor_kernel_map;
/* Prints a kernel map's contents (src/cli/cmd_map.c): a header line, then
 * each element in hex and, when the map has BTF, formatted through it.
 * label names the map when it has no name. Returns 0, or -1 after an error
 * line. */
int cli_kernel_map_dump(FILE *out, struct visor_kernel_map *map, const char *label);

/* Packet captures (src/cli/pcap_input.c): calls fn on every packet of an
 * Ethernet capture; packets shorter than an Ethernet header are counted in
 * *runts and not passed. fn returns 0, or -1 to stop (its error printed).
 * Returns the number of packets, or -1 after one error line naming file
 * (cmd names the command in the link-type message). */
long long cli_pcap_each(const char *file, const char *cmd,
			int (*fn)(void *ctx, const uint8_t *data, uint32_t len), void *ctx,
			uint64_t *runts);
/* Per-return-code counts of packet programs (XDP, tc, socket filter). */
struct cli_retval_counts {
	uint32_t prog_type;
	uint64_t counts[6]; /* 0..4, 5: the rest (socket filters: 0 drop, 5 kept) */
	uint64_t packets, runts, failed;
};
void cli_retval_count(struct cli_retval_counts *c, uint32_t retval);
/* The name of return code r for the program type, or NULL. */
const char *cli_retval_name(uint32_t prog_type, uint32_t r);
/* "FILE: N packets" and a table RETVAL / PACKETS / PERCENT. */
void cli_retval_print(FILE *out, const char *file, const struct cli_retval_counts *c);

/* visor run --backend vm (src/cli/run_vm.c): OBJ's program prog (NULL: the
 * only one) on visor's engine, once per packet of pcap (source: the file OBJ
 * was compiled from, for messages, or NULL); prints the
 * return-code summary, then the maps as the kernel backend does. Returns
 * the exit status. */
int cli_run_vm(const char *path, const char *source, const char *prog, const char *pcap);

#endif
