/* The value of a hexadecimal digit, or -1: shared by the assembler, the
 * front end's string literals and the command line's hex bytes. */
#ifndef VISOR_COMMON_HEX_H
#define VISOR_COMMON_HEX_H

static inline int visor_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
