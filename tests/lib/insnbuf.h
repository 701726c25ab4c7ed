/* A growing array of instructions, as the program generators (jitgen, vgen)
 * write them. Header-only, like rng.h, for the fuzz targets. */
#ifndef VISOR_TEST_INSNBUF_H
#define VISOR_TEST_INSNBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <visor/isa.h>

struct insn_buf {
	struct visor_insn *code;
	size_t n, cap;
	bool oom; /* an append failed: the buffer was emptied and stays unusable */
};

/* Appends one instruction; returns its index (0 once out of memory). */
static inline size_t insn_buf_emit(struct insn_buf *b, uint8_t code, int dst, int src, int off,
				   int32_t imm)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct visor_insn *c = realloc(b->code, cap * sizeof(*c));
		if (!c) {
			b->oom = true;
			b->n = 0;
			return 0;
		}
		b->code = c;
		b->cap = cap;
	}
	b->code[b->n] = (struct visor_insn){.code = code, .dst = (uint8_t)dst, .src = (uint8_t)src,
					    .off = (int16_t)off, .imm = imm};
	return b->n++;
}

#endif
