/* visor: stub for <uapi/linux/udp.h>. The kernel types come from vmlinux.h (made from
 * the kernel's BTF), the #define constants BCC programs use from
 * bcc/helpers.h. */
