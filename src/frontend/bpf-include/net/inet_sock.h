/* visor: stub for <net/inet_sock.h>. The kernel types come from vmlinux.h (made from
 * the kernel's BTF), the #define constants BCC programs use from
 * bcc/helpers.h. */

/* struct inet_sock's short names (#defines in the kernel's header). */
#include <net/sock.h>
#ifndef inet_daddr
#define inet_daddr sk.__sk_common.skc_daddr
#define inet_rcv_saddr sk.__sk_common.skc_rcv_saddr
#define inet_dport sk.__sk_common.skc_dport
#define inet_num sk.__sk_common.skc_num
#endif
