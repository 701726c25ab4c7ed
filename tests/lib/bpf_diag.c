/* BCC source that must not compile: the API's diagnostics captured as text
 * for the test to search (line:col, the words). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include <visor/bpf.h>
#include <visor/kernel.h>

#include "testutil.h"

int test_bpf_compile_diag(const char *text, char **diag, char *err, size_t err_len)
{
	size_t len = 0;
	*diag = NULL;
	FILE *df = open_memstream(diag, &len);
	LIBVISOR_OPTS(visor_bpf_opts, o, .text = text, .backend = VISOR_BACKEND_VM, .diag = df);
	struct visor_bpf *b = NULL;
	int rc = visor_bpf_new(&o, &b, err, err_len);
	/* A failure that still hands out an object breaks the API's contract:
	 * reported as a success, which the caller's check refuses. */
	if (rc < 0 && b)
		rc = 0;
	visor_bpf_free(b); /* before its diagnostics stream closes */
	if (df)
		fclose(df);
	return rc;
}
