/* Packets from a capture file (libpcap) and the per-return-code summary of
 * a packet program run on them: shared by `visor test-run --pcap` and
 * `visor run --backend vm --pcap`. */
#include <pcap/pcap.h>
#include <string.h>

#include <visor/runtime.h>

#include "cli.h"

long long cli_pcap_each(const char *file, const char *cmd,
			int (*fn)(void *ctx, const uint8_t *data, uint32_t len), void *ctx,
			uint64_t *runts)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_offline(file, ebuf);
	if (!pc) {
		cli_error("%s: %s", file, ebuf);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		const char *dl = pcap_datalink_val_to_name(pcap_datalink(pc));
		cli_error("%s: link type %s, %s needs Ethernet (EN10MB)", file, dl ? dl : "unknown",
			  cmd);
		pcap_close(pc);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	long long packets = 0;
	int r;
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		packets++;
		if (h->caplen < 14) {
			(*runts)++;
			continue;
		}
		if (fn(ctx, data, h->caplen)) {
			pcap_close(pc);
			return -1;
		}
	}
	if (r == PCAP_ERROR) {
		cli_error("%s: %s", file, pcap_geterr(pc));
		pcap_close(pc);
		return -1;
	}
	pcap_close(pc);
	return packets;
}

const char *cli_retval_name(uint32_t type, uint32_t r)
{
	static const char *const xdp[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					  "XDP_REDIRECT"};
	static const char *const tc[] = {"TC_ACT_OK",     "TC_ACT_RECLASSIFY", "TC_ACT_SHOT",
					 "TC_ACT_PIPE",   "TC_ACT_STOLEN",     "TC_ACT_QUEUED",
					 "TC_ACT_REPEAT", "TC_ACT_REDIRECT"};
	if (type == VISOR_VM_PROG_XDP)
		return r < 5 ? xdp[r] : NULL;
	if (type == VISOR_VM_PROG_SCHED_CLS)
		return r < 8 ? tc[r] : r == UINT32_MAX ? "TC_ACT_UNSPEC" : NULL;
	if (type != VISOR_VM_PROG_SOCKET_FILTER)
		return NULL; /* tracing-family programs: a plain number */
	return r ? "keep that many bytes" : "drop";
}

void cli_retval_count(struct cli_retval_counts *c, uint32_t r)
{
	if (c->prog_type == VISOR_VM_PROG_SOCKET_FILTER)
		c->counts[r ? 5 : 0]++;
	else
		c->counts[r < 5 ? r : 5]++;
}

void cli_retval_print(FILE *out, const char *file, const struct cli_retval_counts *c)
{
	struct cli_table t;
	static const char *const hd[] = {"RETVAL", ">PACKETS", ">PERCENT"};
	uint64_t packets = c->packets;
	cli_table_init(&t, 3, hd);
	for (int i = 0; i < 6; i++) {
		if (!c->counts[i])
			continue;
		cli_table_row(&t);
		if (c->prog_type == VISOR_VM_PROG_SOCKET_FILTER)
			cli_table_cell(&t, "%s", i ? "kept (> 0)" : "0 (drop)");
		else
			cli_table_cell(&t, "%s",
				       i < 5 ? cli_retval_name(c->prog_type, (uint32_t)i) : "other");
		cli_table_cell(&t, "%llu", (unsigned long long)c->counts[i]);
		cli_table_cell(&t, "%.1f%%", 100.0 * c->counts[i] / packets);
	}
	if (c->runts) {
		cli_table_row(&t);
		cli_table_cell(&t, "runt (< 14 bytes, not run)");
		cli_table_cell(&t, "%llu", (unsigned long long)c->runts);
		cli_table_cell(&t, "%.1f%%", 100.0 * c->runts / packets);
	}
	if (c->failed) {
		cli_table_row(&t);
		cli_table_cell(&t, "(run failed)");
		cli_table_cell(&t, "%llu", (unsigned long long)c->failed);
		cli_table_cell(&t, "%.1f%%", 100.0 * c->failed / packets);
	}
	fprintf(out, "%s: %llu packet%s\n", file, (unsigned long long)packets,
		packets == 1 ? "" : "s");
	if (packets)
		cli_table_print(&t, out);
	cli_table_free(&t);
}
