/* The `visor` command: one file per subcommand, sharing these utilities. */
#ifndef VISOR_CLI_H
#define VISOR_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <visor/visor.h>

/* Subcommands: argv[0] is the subcommand name. Return the exit status. */
int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_conformance_plugin(int argc, char **argv);
int cmd_jit(int argc, char **argv);

/* Prints "visor: <message>" on stderr (one line). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a program from path ("-" = stdin): assembly text, or raw bytecode
 * (a file whose size is a multiple of 8 and that is not text). Returns 0 and
 * a malloc'd array, or -1 after printing the reason. */
int cli_read_program(const char *path, struct visor_insn **insns, size_t *count);

/* Reads a whole file ("-" = stdin) into a malloc'd NUL-terminated buffer. */
char *cli_read_file(const char *path, size_t *len);

/* Parses "00 01 ff" (spaces optional between pairs, "0x" prefixes allowed)
 * into a malloc'd buffer. Returns 0, or -1 with a message in err. */
int cli_parse_hex(const char *text, uint8_t **out, size_t *len, char *err, size_t err_len);

#endif
