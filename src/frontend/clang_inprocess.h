/* The in-process clang module (clang_inprocess.cpp, built as
 * libvisor-clang.so and loaded with dlopen by the compile server). */
#ifndef VISOR_FRONTEND_CLANG_INPROCESS_H
#define VISOR_FRONTEND_CLANG_INPROCESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Bump when the two functions below change meaning. */
#define VISOR_CLANG_INPROCESS_ABI 1

/* Registers the BPF back end; returns VISOR_CLANG_INPROCESS_ABI. */
int visor_clang_inprocess_init(void);

/* Runs `clang argv[1..]` as clang-19 would (argv[0]: the real clang
 * binary's path, from which the driver finds its resource directory),
 * reading stdin for "-" and writing diagnostics to stderr. Returns 0,
 * 1 when the compile failed (diagnostics say why), 2 when the command
 * line is not one compile job. */
int visor_clang_inprocess_compile(int argc, const char *const *argv);

typedef int (*visor_clang_inprocess_init_fn)(void);
typedef int (*visor_clang_inprocess_compile_fn)(int, const char *const *);

#ifdef __cplusplus
}
#endif

#endif
