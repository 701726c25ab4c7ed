/* visor compile-server: the resident process that makes compiles of
 * sources whose object is not cached fast (see visor/frontend.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <visor/frontend.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor compile-server start|stop|status|run [--idle SECONDS]\n"
		"A process that keeps libclang-19 and clang loaded and compiles for `visor run`,\n"
		"`visor compile` and the library, each compile in a warm child process: a source\n"
		"whose object is not cached compiles in clang's own time instead of paying\n"
		"clang's start-up. One per user, cache directory and visor build\n"
		"(<cache>/compile-server-ID.sock); its objects and messages are those of a\n"
		"compile without it. `visor run` and `visor compile` start one after a compile\n"
		"that had none, unless VISOR_COMPILE_SERVER=0 (which also keeps them from\n"
		"using one). It exits when idle, when visor is rebuilt, or with its cache.\n\n"
		"  start            start one in the background (log:\n"
		"                   <cache>/compile-server-ID.log)\n"
		"  stop             stop the running one and wait until it is gone\n"
		"  status           say whether one runs (exit 1 when none)\n"
		"  run              serve in the foreground until idle, stopped or replaced\n"
		"  --idle SECONDS   exit after this long without compiles (default\n"
		"                   $VISOR_COMPILE_SERVER_IDLE, else %d)\n"
		"  -h, --help       this text\n",
		CLI_COMPILE_SERVER_IDLE);
}

double cli_compile_server_idle(void)
{
	const char *env = getenv("VISOR_COMPILE_SERVER_IDLE");
	char *end;
	double v = env ? strtod(env, &end) : 0;
	return env && end != env && !*end && v > 0 ? v : CLI_COMPILE_SERVER_IDLE;
}

void cli_compile_server_autostart(const struct visor_compile_stats *st)
{
	if (st->object_cached || st->server_used || !visor_compile_server_wanted())
		return;
	char err[256];
	/* Without the module (a build without llvm-19-dev) visor simply
	 * compiles as before; nothing to say. */
	visor_compile_server_start(NULL, cli_compile_server_idle(), err, sizeof(err));
}

int cmd_compile_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{"idle", required_argument, 0, 'i'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	double idle = cli_compile_server_idle();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': {
			char *end;
			idle = strtod(optarg, &end);
			if (end == optarg || *end || !(idle > 0)) {
				cli_error("compile-server: --idle %s: want a number of seconds > 0", optarg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *what = argv[optind];
	char err[512], info[512];
	int rc;
	if (!strcmp(what, "run")) {
		rc = visor_compile_server_run(idle, err, sizeof(err));
		if (rc)
			cli_error("compile-server: %s", err);
		/* Not exit(): LLVM, loaded by the server, must not run its static
		 * destructors (nor a leak checker scan its memory) on the way out. */
		fflush(NULL);
		_exit(rc ? 1 : 0);
	} else if (!strcmp(what, "start")) {
		if (!visor_compile_server_status(info, sizeof(info), err, sizeof(err))) {
			printf("a compile server runs already: %s\n", info);
			return 0;
		}
		rc = visor_compile_server_start(NULL, idle, err, sizeof(err));
		/* Ready when it answers (bounded: 10 s; loading clang takes ~0.3 s). */
		for (int i = 0; !rc && i < 200; i++) {
			if (!visor_compile_server_status(info, sizeof(info), err, sizeof(err))) {
				printf("compile server started: %s\n", info);
				return 0;
			}
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (!rc)
			rc = -ETIMEDOUT, snprintf(err, sizeof(err),
						  "the compile server did not come up (see <cache>/compile-server-ID.log)");
	} else if (!strcmp(what, "stop")) {
		rc = visor_compile_server_stop(err, sizeof(err));
		if (!rc)
			printf("compile server stopped\n");
	} else if (!strcmp(what, "status")) {
		rc = visor_compile_server_status(info, sizeof(info), err, sizeof(err));
		if (!rc) {
			printf("compile server: %s\n", info);
			return 0;
		}
		printf("no compile server runs\n");
		return 1;
	} else {
		cli_error("compile-server: unknown action '%s' (start, stop, status, run)", what);
		return 2;
	}
	if (rc) {
		cli_error("compile-server: %s", err);
		return 1;
	}
	return 0;
}
