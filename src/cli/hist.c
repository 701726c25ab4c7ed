/* BCC-style log2 histograms of maps, shared by `visor run`'s kernel and VM
 * backends so that equal contents print as equal text. */
#define _GNU_SOURCE /* strcasestr */
#include <string.h>
#include <strings.h>

#include "cli.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

bool cli_hist_candidate(const char *type_name, uint32_t key_size, uint32_t value_size,
			const char *name, const char *key_type, const char *value_type)
{
	static const char *const kinds[] = {"array",       "hash",    "percpu_array",
					    "percpu_hash", "lru_hash", "lru_percpu_hash"};
	bool kind = false;
	for (size_t i = 0; type_name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		kind |= !strcmp(type_name, kinds[i]);
	if (!kind || (key_size != 4 && key_size != 8) || value_size != 8)
		return false;
	return ends_with(name, "hist") || (key_type && strcasestr(key_type, "hist")) ||
	       (value_type && strcasestr(value_type, "hist"));
}

int cli_hist_add(uint64_t *slots, const void *key, uint32_t key_size, const void *val,
		 uint32_t nr_cpus, size_t stride)
{
	uint64_t slot = 0;
	if (key_size == 4) {
		uint32_t k;
		memcpy(&k, key, 4);
		slot = k;
	} else {
		memcpy(&slot, key, 8);
	}
	if (slot >= CLI_HIST_SLOTS)
		return -1;
	for (uint32_t c = 0; c < nr_cpus; c++) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)val + (size_t)c * stride, 8);
		slots[slot] += v;
	}
	return 0;
}

/* BCC's _stars: width * val / max stars, '+' when val exceeds max. */
static void stars(char *buf, uint64_t val, uint64_t max, int width)
{
	int i = 0;
	while (i < width && (double)i <= (double)width * (double)val / (double)max - 1)
		buf[i++] = '*';
	if (val > max && i > 0)
		buf[i - 1] = '+';
	buf[i] = '\0';
}

/* BCC's print_log2_hist: slot i counts values in [2^(i-1), 2^i - 1]. */
void cli_print_log2_hist(FILE *out, const uint64_t *vals, const char *val_type)
{
	int idx_max = -1;
	uint64_t val_max = 0;
	for (int i = 0; i < CLI_HIST_SLOTS; i++) {
		if (vals[i] > 0)
			idx_max = i;
		if (vals[i] > val_max)
			val_max = vals[i];
	}
	int wide = idx_max > 32, width = wide ? 20 : 40;
	if (idx_max <= 0) {
		fprintf(out, "  (empty histogram)\n");
		return;
	}
	if (wide)
		fprintf(out, "               %-29s : count     distribution\n", val_type);
	else
		fprintf(out, "     %-19s : count     distribution\n", val_type);
	for (int i = 1; i <= idx_max; i++) {
		uint64_t low = i == 64 ? 1ull << 63 : (1ull << i) >> 1;
		uint64_t high = i == 64 ? UINT64_MAX : (1ull << i) - 1;
		if (low == high)
			low--;
		char bar[41];
		stars(bar, vals[i], val_max, width);
		if (wide)
			fprintf(out, "%20llu -> %-20llu : %-8llu |%-*s|\n", (unsigned long long)low,
				(unsigned long long)high, (unsigned long long)vals[i], width, bar);
		else
			fprintf(out, "%10llu -> %-10llu : %-8llu |%-*s|\n", (unsigned long long)low,
				(unsigned long long)high, (unsigned long long)vals[i], width, bar);
	}
}
