/*
 * Helpers shared by the translation benchmark's parts: a monotonic clock,
 * batch statistics (median and nearest-rank p90 over many batches, which a
 * noisy machine disturbs far less than a mean), and the output format
 * "name: value unit" that scripts parse.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

typedef struct BenchSummary {
    double median;
    double p90;
} BenchSummary;

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts v in place. p90 is the nearest-rank 90th percentile. */
static inline BenchSummary bench_summarize(double *v, unsigned n)
{
    BenchSummary s = { 0, 0 };
    unsigned rank;

    if (!n) {
        return s;
    }
    qsort(v, n, sizeof(*v), bench_cmp_double);
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    rank = (unsigned)ceil(0.9 * n);
    s.p90 = v[rank ? rank - 1 : 0];
    return s;
}

/* BENCH_TRANSLATE_ONLY=substring runs only the parts whose name contains
 * it (for profiling one path under callgrind or perf). */
static inline bool bench_selected(const char *name)
{
    const char *only = getenv("BENCH_TRANSLATE_ONLY");

    return !only || !*only || strstr(name, only);
}

static inline void bench_print(const char *name, double value, const char *unit)
{
    printf("%s: %.2f %s\n", name, value, unit);
}

/* Verdict line for a target: lower is better unless higher_is_better. */
static inline void bench_verdict(const char *name, double value, double target,
                                 bool higher_is_better)
{
    bool met = higher_is_better ? value >= target : value <= target;

    printf("%s_verdict: %s\n", name, met ? "met" : "not met");
}

#endif
