/* libclang-19 through dlopen (see clang_api.h). Loading it costs tens of
 * milliseconds and megabytes of mappings, so it happens only when a source
 * is rewritten, in the child process the pipeline forks for that. */
#define _GNU_SOURCE
#include "frontend/clang_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct visor_clang clang_table;
static const struct visor_clang *clang_loaded;
static char clang_error[256];
static pthread_once_t clang_once = PTHREAD_ONCE_INIT;

static void clang_load_once(void)
{
	static const char *const names[] = {"libclang-19.so.1", "libclang.so.19",
					    "/usr/lib/llvm-19/lib/libclang.so.1",
					    "/usr/lib/llvm-19/lib/libclang-19.so.1"};
	void *lib = NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !lib; i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(clang_error, sizeof(clang_error),
			 "libclang-19 not found: apt-get install libclang1-19");
		return;
	}
#define VISOR_CLANG_RESOLVE(name)                                                            \
	clang_table.name = (typeof(&name))dlsym(lib, #name);                                 \
	if (!clang_table.name) {                                                             \
		snprintf(clang_error, sizeof(clang_error),                                   \
			 "libclang-19 lacks %s: apt-get install libclang1-19", #name);       \
		dlclose(lib);                                                                \
		return;                                                                      \
	}
	VISOR_CLANG_FUNCS(VISOR_CLANG_RESOLVE)
#undef VISOR_CLANG_RESOLVE
	clang_loaded = &clang_table;
}

const struct visor_clang *visor_clang_load(char *err, size_t err_len)
{
	pthread_once(&clang_once, clang_load_once);
	if (!clang_loaded && err && err_len)
		snprintf(err, err_len, "%s", clang_error);
	return clang_loaded;
}

char *visor_clang_string(const struct visor_clang *lc, CXString s)
{
	const char *c = lc->clang_getCString(s);
	char *copy = strdup(c ? c : "");
	lc->clang_disposeString(s);
	return copy;
}
