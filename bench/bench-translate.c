/*
 * The translation performance benchmark (meson benchmark "translate"):
 * IOTLB hit and miss costs of vtd_translate() on a bare unit, then 4 KiB
 * test-device DMA translated versus untranslated through the in-process
 * machine. Prints "name: value unit" lines, the targets and a verdict per
 * target (docs/testing.md, "Benchmarks"). Timings never fail the run: the
 * exit status is non-zero only when a setup check found a functional bug.
 */
#include "bench-parts.h"
#include "bench-util.h"

int main(void)
{
    uint64_t t0 = bench_now_ns();
    bool ok;

    setvbuf(stdout, NULL, _IOLBF, 0);
    ok = bench_vtd_run();
    ok = bench_dma_run() && ok;
    bench_print("bench_runtime", (double)(bench_now_ns() - t0) / 1e9, "s");
    return ok ? 0 : 1;
}
