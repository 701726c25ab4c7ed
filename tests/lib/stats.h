/* Small statistics over timing samples, for the benchmarks. */
#ifndef VISOR_TEST_STATS_H
#define VISOR_TEST_STATS_H

#include <stddef.h>

/* Sorts v[0..n) in ascending order. */
void stats_sort(double *v, size_t n);
/* The median of v[0..n) (n > 0); sorts v. */
double stats_median(double *v, size_t n);

#endif
