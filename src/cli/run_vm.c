/* visor run --backend vm: an object on visor's engine through the BCC-like
 * API (every program verified as it loads), its packet program run on
 * every packet of a capture, then the maps dumped as the kernel backend
 * dumps them (the library's visor_bpf_dump: log2 histograms through the
 * same printer, other maps as "  KEY -> VALUE" formatted through the
 * object's BTF, hex lines without BTF). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/bpf.h>
#include <visor/kernel.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

struct vm_run {
	struct visor_bpf *b;
	const char *prog;
	struct cli_retval_counts counts;
	uint64_t seen;
	char first_err[512];
};

static int run_packet(void *ctx, const uint8_t *data, uint32_t len)
{
	struct vm_run *r = ctx;
	uint32_t retval;
	r->seen++;
	if (visor_bpf_test_run(r->b, r->prog, data, len, &retval)) {
		if (!r->counts.failed++)
			snprintf(r->first_err, sizeof(r->first_err), "packet %llu: %s",
				 (unsigned long long)(r->counts.runts + r->seen),
				 visor_bpf_errmsg(r->b));
		return 0;
	}
	cli_retval_count(&r->counts, retval);
	return 0;
}

/* The program to run, by visor's reading of the object (before loading,
 * so the wrong kind of object is said as such). */
static int pick(const char *path, const char *name, char *out, size_t len, uint32_t *type)
{
	struct visor_obj_prog *prog;
	struct visor_obj *obj = cli_open_obj(path);
	if (!obj)
		return -1;
	int rc = cli_pick_prog(path, obj, name, &prog);
	if (!rc) {
		snprintf(out, len, "%s", visor_obj_prog_name(prog));
		*type = visor_obj_prog_type(prog);
	}
	visor_obj_close(obj);
	return rc;
}

int cli_run_vm(const char *path, const char *source, const char *prog_name, const char *pcap)
{
	char err[1024], name[128];
	uint32_t type;
	if (pick(path, prog_name, name, sizeof(name), &type))
		return 1;
	if (type != VISOR_VM_PROG_XDP && type != VISOR_VM_PROG_SCHED_CLS &&
	    type != VISOR_VM_PROG_SOCKET_FILTER) {
		cli_error("%s: %s is not a packet program (XDP, tc, socket filter): --backend vm runs those on --pcap",
			  path, name);
		return 1;
	}
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, bo, .obj_file = path, .backend = VISOR_BACKEND_VM,
		      .no_autoattach = true, .source_name = source);
	if (visor_bpf_new(&bo, &b, err, sizeof(err))) {
		cli_error("%s", err);
		return 1;
	}
	int status = 1;
	struct vm_run r = {.b = b, .prog = name, .counts = {.prog_type = type}};
	long long packets = cli_pcap_each(pcap, "run", run_packet, &r, &r.counts.runts);
	if (packets < 0)
		goto out;
	r.counts.packets = (uint64_t)packets;
	cli_retval_print(stdout, pcap, &r.counts);
	if (r.counts.failed) {
		cli_error("%s: %s%s", pcap, r.first_err, r.counts.failed > 1 ? " (and more)" : "");
		goto out;
	}
	status = 0;
	if (visor_bpf_dump(b, stdout)) {
		cli_error("%s", visor_bpf_errmsg(b));
		status = 1;
	}
out:
	fflush(stdout);
	visor_bpf_free(b);
	return status;
}
