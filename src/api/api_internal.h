/* The BCC-like API (include/visor/bpf.h): what its files share. One
 * concept per file: bpf.c (the object: compile, load, programs), attach.c,
 * table.c (maps, typed through BTF), hist.c (BCC's histograms), trace.c
 * (bpf_trace_printk output), events.c (ring and perf buffers). */
#ifndef VISOR_API_INTERNAL_H
#define VISOR_API_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <visor/bpf.h>

struct visor_loaded;
struct visor_obj;
struct visor_kernel_trace;
struct visor_btf_text;

/* bpf_trace_printk lines not yet handed out (trace.c): the kernel's trace
 * pipe delivers several per read, trace_fields takes one at a time; on the
 * VM the engine's printk target appends here. */
struct api_lines {
	char **line;
	size_t head, count, cap;
};

struct api_channel; /* events.c */

struct visor_bpf {
	unsigned backend;            /* VISOR_BACKEND_KERNEL or VISOR_BACKEND_VM */
	struct visor_loaded *loaded;
	/* VM backend: the object file as visor's loader reads it: BTF (VM
	 * tables are formatted through it), map definitions, program types
	 * and sections. NULL on the kernel, which answers those itself. */
	struct visor_obj *obj;
	char *obj_path;
	FILE *diag;
	char errmsg[1024];
	char notes[2048];            /* notes already printed, one per line */

	struct visor_bpf_table **tables;
	size_t ntables;
	struct visor_btf_text *btf_text; /* VM: over obj's BTF, made on first use */

	/* Functions loaded again as another program type (tc needs SCHED_CLS
	 * where the front end chose a socket filter), sharing the maps. */
	struct visor_kernel_obj **siblings;
	size_t nsiblings;

	struct visor_kernel_trace *trace;
	struct api_lines lines;

	struct api_channel *channels;
	size_t nchannels;
};

struct visor_map;
struct visor_kernel_map;

struct visor_bpf_table {
	struct visor_bpf *b;
	char *name;
	struct visor_map *map;          /* both backends (a proxy on the kernel) */
	struct visor_kernel_map *kmap;  /* kernel: its BTF formats elements */
	uint32_t btf_key_id, btf_value_id; /* VM: type ids in obj's BTF */
	uint32_t type, key_size, value_size, max_entries, flags, nr_cpus;
	size_t stride;                  /* between CPUs' values */
	size_t user_value_size;         /* bytes a lookup writes */
	bool global_data;
	char key_type[128], value_type[128];
};

/* Sets b's message (one line) and returns rc. */
int api_err(struct visor_bpf *b, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints each line of note to b's diag as "visor: LINE", once per line per b. */
void api_note(struct visor_bpf *b, const char *note);

/* attach.c: BCC's auto-attach of kprobe__X ... functions. */
int api_autoattach(struct visor_bpf *b);
void api_forget_links(struct visor_bpf *b);

/* table.c */
void api_tables_free(struct visor_bpf *b);

/* trace.c: the VM engine's printk target, and cleanup. */
void api_vm_printk(void *ctx, const char *line, size_t len);
void api_trace_free(struct visor_bpf *b);

/* events.c */
void api_channels_free(struct visor_bpf *b);

#endif
