/* BCC's histograms, character for character: print_log2_hist (slot i counts
 * values in [2^(i-1), 2^i - 1]) and print_linear_hist (one row per bucket),
 * with _stars' bars of width 40 (20 when the log2 slots go past 32). The
 * table calls and `visor run` print through these. */
#include <errno.h>
#include <string.h>

#include <visor/bpf.h>

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

static void extremes(const uint64_t *vals, size_t n, long *idx_max, uint64_t *val_max)
{
	*idx_max = -1;
	*val_max = 0;
	for (size_t i = 0; i < n; i++) {
		if (vals[i] > 0)
			*idx_max = (long)i;
		if (vals[i] > *val_max)
			*val_max = vals[i];
	}
}

void visor_print_log2_hist(FILE *out, const uint64_t *vals, size_t n, const char *val_type)
{
	long idx_max;
	uint64_t val_max;
	if (n > VISOR_BPF_LOG2_SLOTS)
		n = VISOR_BPF_LOG2_SLOTS;
	extremes(vals, n, &idx_max, &val_max);
	int wide = idx_max > 32, width = wide ? 20 : 40;
	if (idx_max <= 0)
		return; /* BCC prints nothing for an empty histogram */
	if (wide)
		fprintf(out, "               %-29s : count     distribution\n", val_type);
	else
		fprintf(out, "     %-19s : count     distribution\n", val_type);
	for (long i = 1; i <= idx_max; i++) {
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

void visor_print_linear_hist(FILE *out, const uint64_t *vals, size_t n, const char *val_type)
{
	long idx_max;
	uint64_t val_max;
	extremes(vals, n, &idx_max, &val_max);
	if (idx_max < 0)
		return;
	fprintf(out, "     %-13s : count     distribution\n", val_type);
	for (long i = 0; i <= idx_max; i++) {
		char bar[41];
		stars(bar, vals[i], val_max, 40);
		fprintf(out, "        %-10ld : %-8llu |%-*s|\n", i, (unsigned long long)vals[i], 40,
			bar);
	}
}
