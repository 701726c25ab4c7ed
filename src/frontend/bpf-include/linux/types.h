/* visor: stub for <linux/types.h>. The kernel types come from vmlinux.h (made from
 * the kernel's BTF), the #define constants BCC programs use from
 * bcc/helpers.h. */
