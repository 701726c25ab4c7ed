/* A program built out of tree against an installed visor (tests/cli/
 * test_install.sh): cc $(pkg-config --cflags visor) hello_api.c
 * $(pkg-config --libs visor). It compiles a BCC-dialect socket filter,
 * runs it on visor's engine (no privileges needed) over a few generated
 * IPv4 frames and prints the table it filled, then where the library found
 * its BPF-side headers. Exit status 0 when the counts are right. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <visor/bpf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>

static const char source[] =
	"#include <bcc/proto.h>\n"
	"struct IPKey { u32 dip; u32 sip; };\n"
	"BPF_TABLE(\"hash\", struct IPKey, int, mytable, 1024);\n"
	"int recv_packet(struct __sk_buff *skb) {\n"
	"    struct IPKey key;\n"
	"    u8 *cursor = 0;\n"
	"    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));\n"
	"    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));\n"
	"    key.dip = ip->dst;\n"
	"    key.sip = ip->src;\n"
	"    int *leaf = mytable.lookup(&key);\n"
	"    if (leaf) {\n"
	"        (*leaf)++;\n"
	"    } else {\n"
	"        int one = 1;\n"
	"        mytable.insert(&key, &one);\n"
	"    }\n"
	"    return 0;\n"
	"}\n";

/* An Ethernet + IPv4 frame from src to dst (dotted quads). */
static void frame(unsigned char *f, const char *src, const char *dst)
{
	memset(f, 0, 60);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	unsigned char *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 46; /* total length */
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
}

struct key { unsigned dip, sip; };

int main(void)
{
	char err[1024];
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, o, .text = source, .backend = VISOR_BACKEND_VM);
	if (visor_bpf_new(&o, &b, err, sizeof(err))) {
		fprintf(stderr, "hello_api: %s\n", err);
		return 1;
	}
	unsigned char f[60];
	static const char *const pairs[][2] = {{"192.0.2.1", "198.51.100.7"},
					       {"192.0.2.1", "198.51.100.7"},
					       {"192.0.2.1", "198.51.100.7"},
					       {"203.0.113.5", "192.0.2.9"}};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		frame(f, pairs[i][0], pairs[i][1]);
		uint32_t ret;
		if (visor_bpf_test_run(b, "recv_packet", f, sizeof(f), &ret)) {
			fprintf(stderr, "hello_api: %s\n", visor_bpf_errmsg(b));
			return 1;
		}
	}
	struct visor_bpf_table *t = visor_bpf_table(b, "mytable");
	if (!t) {
		fprintf(stderr, "hello_api: %s\n", visor_bpf_errmsg(b));
		return 1;
	}
	printf("mytable: %s -> %s\n", visor_bpf_table_key_type(t), visor_bpf_table_value_type(t));
	visor_bpf_table_print(t, stdout, 0);
	struct in_addr a, s;
	inet_pton(AF_INET, "198.51.100.7", &a);
	inet_pton(AF_INET, "192.0.2.1", &s);
	struct key k = {ntohl(a.s_addr), ntohl(s.s_addr)};
	int count = 0, status = 0;
	if (visor_bpf_table_lookup(t, &k, &count) || count != 3) {
		fprintf(stderr, "hello_api: 192.0.2.1 -> 198.51.100.7 counted %d times, not 3\n",
			count);
		status = 1;
	}
	printf("bpf include: %s\n", visor_frontend_include_dir());
	visor_bpf_free(b);
	return status;
}
