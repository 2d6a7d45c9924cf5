/*
 * IOTLB hit and miss costs of vtd_translate() on a bare remapping unit.
 *
 * Each scenario builds a unit from a -device intel-iommu option string, lays
 * out root/context/PASID/page tables in a flat guest RAM buffer, and turns
 * translation on through the unit's registers (RTADDR, GCMD.SRTP, GCMD.TE),
 * as a guest driver would. Then:
 *   hit:  cycles over HIT_PAGES mapped pages (all fit in the IOTLB);
 *   miss: cycles over MISS_PAGES = 2 x IOTLB capacity pages in order, so
 *         CLOCK eviction has always dropped a page before it comes round
 *         again: every call walks (checked through the unit's counters)
 *         and pays for the fill and eviction as a real miss does. The
 *         context and PASID caches stay warm: this is the page walk.
 * Flat RAM (not the unit tests' hash-table memory) keeps the fetch cost
 * close to what the machine's RAM costs.
 */
#include "bench-parts.h"
#include "bench-pgtable.h"
#include "bench-util.h"

#include "vtdnest/intel-iommu.h"
#include "vtdnest/opts.h"
#include "hw/intel-iommu/vtd-regs.h"
#include "hw/intel-iommu/vtd-tables.h"

#define RAM_SIZE        (64ULL << 20)
#define TABLES_BASE     (1ULL << 20)        /* allocator region */
#define TABLES_LIMIT    (16ULL << 20)
#define TARGET_BASE     (16ULL << 20)       /* mapped pages land here */
#define IOVA_BASE       0x40000000ULL
#define NESTED_SS_SPAN  (32ULL << 20)       /* GPA range the SS identity maps */

#define SID             0x0010              /* 00:02.0 */
#define DID             1

#define BATCHES         101
#define WARMUP_BATCHES  5
#define HIT_PAGES       256
/* Overridable at compile time for profiling one path (e.g. -DHIT_CALLS=1). */
#ifndef HIT_CALLS
#define HIT_CALLS       20000
#endif
#ifndef MISS_CALLS
#define MISS_CALLS      2048
#endif

#define HIT_TARGET_NS   25.0
#define MISS_TARGET_NS  150.0

typedef enum BenchMode {
    MODE_LEGACY_SS,     /* legacy root/context, SS 4-level */
    MODE_SCALABLE_FS,   /* scalable, PASID entry PGTT=FS, 4-level */
    MODE_SCALABLE_NESTED, /* PGTT=nested: FS 4-level over SS 4-level */
} BenchMode;

typedef struct Scenario {
    const char *name;       /* output name stem */
    const char *device;     /* -device option string */
    BenchMode mode;
    unsigned nest_ss_level; /* nested: SS leaf level (1: 4 KiB, 2: 2 MiB) */
} Scenario;

typedef struct FlatRam {
    uint8_t *base;
    uint64_t size;
} FlatRam;

typedef struct Bench {
    FlatRam ram;
    BenchGuestRam g;
    VtdState *s;
    unsigned iotlb_cap;
    unsigned npages;        /* pages mapped from IOVA_BASE */
} Bench;

static volatile uint64_t sink;

/* ---- Flat guest RAM ------------------------------------------------------ */

static bool flat_in_range(const FlatRam *r, uint64_t gpa, uint64_t len)
{
    return gpa < r->size && len <= r->size - gpa;
}

static bool flat_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    FlatRam *r = opaque;

    if (!flat_in_range(r, gpa, len)) {
        return false;
    }
    memcpy(buf, r->base + gpa, len);
    return true;
}

static bool flat_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
    FlatRam *r = opaque;

    if (!flat_in_range(r, gpa, len)) {
        return false;
    }
    memcpy(r->base + gpa, buf, len);
    return true;
}

static uint8_t *flat_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
    FlatRam *r = opaque;

    return flat_in_range(r, gpa, len) ? r->base + gpa : NULL;
}

/* ---- Unit construction --------------------------------------------------- */

static bool config_from_string(const char *str, VtdConfig *cfg, GError **errp)
{
    DeviceOpts *o = opts_parse(str, "driver", errp);
    bool ok;

    if (!o) {
        return false;
    }
    vtd_config_defaults(cfg);
    ok = vtd_config_from_opts(cfg, o, errp) &&
         opts_check_all_used(o, "intel-iommu", errp) &&
         vtd_config_validate(cfg, errp);
    opts_free(o);
    return ok;
}

static uint64_t target_of(unsigned page)
{
    return TARGET_BASE + 4096ULL * page;
}

static uint64_t iova_of(unsigned page)
{
    return IOVA_BASE + 4096ULL * page;
}

/* Legacy: root entry -> context entry (TT=SS, AW=48-bit) -> SS tables. */
static bool build_legacy(Bench *b, uint64_t root)
{
    uint64_t ctx = bench_alloc_page(&b->g), ss = bench_alloc_page(&b->g);

    if (!ctx || !ss) {
        return false;
    }
    bench_w64(&b->g, root + 16 * (SID >> 8), ctx | 1);
    bench_w64(&b->g, ctx + 16 * (SID & 0xff), ss | 1);
    bench_w64(&b->g, ctx + 16 * (SID & 0xff) + 8, 2 | (DID << 8));
    for (unsigned i = 0; i < b->npages; i++) {
        if (!bench_map_4k(&b->g, ss, iova_of(i), target_of(i), BENCH_SS_TABLE,
                          BENCH_SS_LEAF)) {
            return false;
        }
    }
    return true;
}

/* Scalable: root (lower half) -> context -> PASID dir -> PASID entry 0
 * (RID_PASID of requests without PASID) -> FS, or FS nested over SS. */
static bool build_scalable(Bench *b, uint64_t root, bool nested,
                           unsigned ss_level)
{
    uint64_t ss_page = 1ULL << (12 + 9 * (ss_level - 1));
    uint64_t ctx = bench_alloc_page(&b->g), pdir = bench_alloc_page(&b->g);
    uint64_t ptbl = bench_alloc_page(&b->g), fs = bench_alloc_page(&b->g);
    uint64_t ss = nested ? bench_alloc_page(&b->g) : 0;
    uint64_t pe = ptbl;     /* entry 0 */

    if (!ctx || !pdir || !ptbl || !fs || (nested && !ss)) {
        return false;
    }
    bench_w64(&b->g, root + 16 * (SID >> 8), ctx | 1);
    bench_w64(&b->g, ctx + 32 * (SID & 0x7f), pdir | 1);
    bench_w64(&b->g, pdir, ptbl | 1);
    if (nested) {
        bench_w64(&b->g, pe, ss | 1 | (VTD_PGTT_NESTED << 6) | (2 << 2));
    } else {
        bench_w64(&b->g, pe, 1 | (VTD_PGTT_FS << 6));
    }
    bench_w64(&b->g, pe + 8, DID);
    bench_w64(&b->g, pe + 16, fs);      /* FSPM=0: 4-level */
    for (unsigned i = 0; i < b->npages; i++) {
        if (!bench_map_4k(&b->g, fs, iova_of(i), target_of(i), BENCH_FS_TABLE,
                          BENCH_FS_LEAF)) {
            return false;
        }
    }
    if (nested) {
        /* The FS tables and targets are GPAs: identity-map them with 4 KiB
         * SS pages (the slowest nesting a VMM can choose) or 2 MiB ones
         * (hugepage-backed guests). */
        for (uint64_t gpa = 0; gpa < NESTED_SS_SPAN; gpa += ss_page) {
            if (!bench_map(&b->g, ss, gpa, gpa, ss_level, BENCH_SS_TABLE,
                           BENCH_SS_LEAF | (ss_level > 1 ? BENCH_SS_PS : 0))) {
                return false;
            }
        }
    }
    return true;
}

/* Point the unit at the root table and enable translation, via MMIO. */
static bool enable_translation(VtdState *s, uint64_t root, unsigned ttm)
{
    vtd_mmio_write(s, DMAR_RTADDR_REG, root | ((uint64_t)ttm << 10), 8);
    vtd_mmio_write(s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    if (!(vtd_mmio_read(s, DMAR_GSTS_REG, 4) & VTD_GSTS_RTPS)) {
        return false;
    }
    vtd_mmio_write(s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    return vtd_mmio_read(s, DMAR_GSTS_REG, 4) & VTD_GSTS_TES;
}

static IommuRequest request(uint64_t iova)
{
    return (IommuRequest){
        .sid = SID,
        .pasid = IOMMU_NO_PASID,
        .addr = iova,
        .access = IOMMU_ACCESS_WRITE,
        .at = IOMMU_AT_UNTRANSLATED,
    };
}

/* Every mapped page translates to its target. */
static bool check_mappings(Bench *b, const char *name)
{
    for (unsigned i = 0; i < b->npages; i++) {
        IommuRequest req = request(iova_of(i) + 0x123);
        IommuResult res;

        vtd_translate(b->s, &req, &res);
        if (!res.ok || res.out_addr != target_of(i) + 0x123) {
            fprintf(stderr, "bench %s: page %u: ok=%d out=0x%" G_GINT64_MODIFIER
                    "x fault=0x%x, expected 0x%" G_GINT64_MODIFIER "x\n", name,
                    i, res.ok, res.out_addr, res.fault_reason,
                    target_of(i) + 0x123);
            return false;
        }
    }
    return true;
}

static bool bench_setup(Bench *b, const Scenario *sc)
{
    g_autoptr(GError) err = NULL;
    VtdConfig cfg;
    VtdGuestMem mem;
    uint64_t root;

    memset(b, 0, sizeof(*b));
    if (!config_from_string(sc->device, &cfg, &err)) {
        fprintf(stderr, "bench %s: %s: %s\n", sc->name, sc->device, err->message);
        return false;
    }
    b->ram.size = RAM_SIZE;
    b->ram.base = g_malloc0(RAM_SIZE);
    b->g = (BenchGuestRam){ .ptr = flat_ptr, .opaque = &b->ram,
                            .next = TABLES_BASE, .limit = TABLES_LIMIT };
    mem = (VtdGuestMem){ .opaque = &b->ram, .read = flat_read,
                         .write = flat_write };
    b->s = vtd_new(&cfg, &mem, NULL);
    if (!b->s) {
        fprintf(stderr, "bench %s: vtd_new failed\n", sc->name);
        return false;
    }
    b->iotlb_cap = cfg.iotlb_size;
    b->npages = MAX(HIT_PAGES, 2 * b->iotlb_cap);

    root = bench_alloc_page(&b->g);
    if (!root ||
        !(sc->mode == MODE_LEGACY_SS ? build_legacy(b, root)
                                     : build_scalable(b, root,
                                             sc->mode == MODE_SCALABLE_NESTED,
                                             MAX(sc->nest_ss_level, 1)))) {
        fprintf(stderr, "bench %s: table region exhausted\n", sc->name);
        return false;
    }
    if (!enable_translation(b->s, root, sc->mode == MODE_LEGACY_SS
                                            ? VTD_TTM_LEGACY
                                            : VTD_TTM_SCALABLE)) {
        fprintf(stderr, "bench %s: SRTP/TE did not take effect\n", sc->name);
        return false;
    }
    return check_mappings(b, sc->name);
}

static void bench_teardown(Bench *b)
{
    if (b->s) {
        vtd_free(b->s);
    }
    g_free(b->ram.base);
    memset(b, 0, sizeof(*b));
}

/* ---- Measurement --------------------------------------------------------- */

/* ns per call of one batch: calls translations cycling over npages pages
 * starting at *cursor (which advances, so miss batches keep evicting). */
static double run_batch(Bench *b, unsigned npages, unsigned calls,
                        unsigned *cursor)
{
    uint64_t acc = 0, t0, t1;
    unsigned page = *cursor;
    IommuRequest req = request(0);
    IommuResult res;

    t0 = bench_now_ns();
    for (unsigned i = 0; i < calls; i++) {
        req.addr = iova_of(page);
        vtd_translate(b->s, &req, &res);
        acc += res.out_addr;
        if (++page == npages) {
            page = 0;
        }
    }
    t1 = bench_now_ns();
    *cursor = page;
    sink += acc;
    return (double)(t1 - t0) / calls;
}

static const Scenario scenarios[] = {
    { "legacy_ss4", "intel-iommu", MODE_LEGACY_SS },
    { "scalable_fs4", "intel-iommu,scalable-mode=on,flts=on",
      MODE_SCALABLE_FS },
    { "nested_fs4_ss4",
      "intel-iommu,scalable-mode=on,flts=on,x-ssts=on,x-nest=on",
      MODE_SCALABLE_NESTED, 1 },
    { "nested_fs4_ss2m",
      "intel-iommu,scalable-mode=on,flts=on,x-ssts=on,x-nest=on",
      MODE_SCALABLE_NESTED, 2 },
};

/*
 * One measured series: a scenario's hit or miss loop on its own unit (so a
 * miss series never evicts a hit series' pages).
 */
typedef struct Series {
    const Scenario *sc;
    const char *kind;       /* "iotlb_hit" or "iotlb_miss" */
    double target;
    Bench b;
    unsigned npages, calls, cursor;
    double v[BATCHES];
    VtdStats before;
} Series;

static void report(Series *se)
{
    g_autofree char *stem = g_strdup_printf("%s_%s", se->kind, se->sc->name);
    g_autofree char *med = g_strdup_printf("%s_median", stem);
    g_autofree char *p90 = g_strdup_printf("%s_p90", stem);
    g_autofree char *mf = g_strdup_printf("%s_miss_fraction", stem);
    bool hit = se->npages == HIT_PAGES;
    VtdStats after;
    BenchSummary sum;
    double miss_fraction;

    vtd_get_stats(se->b.s, &after);
    miss_fraction = (double)(after.iotlb_misses - se->before.iotlb_misses) /
                    ((double)BATCHES * se->calls);
    sum = bench_summarize(se->v, BATCHES);
    bench_print(med, sum.median, "ns");
    bench_print(p90, sum.p90, "ns");
    bench_print(mf, miss_fraction, "ratio");
    bench_verdict(stem, sum.median, se->target, false);
    if (hit ? miss_fraction > 0.001 : miss_fraction < 0.999) {
        fprintf(stderr, "bench %s: unexpected IOTLB miss fraction %.3f\n",
                stem, miss_fraction);
    }
}

/*
 * Rounds: each round runs one batch of every series, so a burst of load
 * from elsewhere on the host lands on all series alike instead of skewing
 * whichever one happened to be running.
 */
bool bench_vtd_run(void)
{
    Series *series = g_new0(Series, 2 * G_N_ELEMENTS(scenarios));
    unsigned n = 0;
    bool ok = true;

    bench_print("iotlb_hit_target", HIT_TARGET_NS, "ns");
    bench_print("iotlb_miss_target", MISS_TARGET_NS, "ns");
    for (unsigned i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        const Scenario *sc = &scenarios[i];

        if (!bench_selected(sc->name)) {
            continue;
        }
        for (unsigned k = 0; k < 2; k++) {
            Series *se = &series[n];
            bool hit = k == 0;

            if (!bench_setup(&se->b, sc)) {
                bench_teardown(&se->b);
                ok = false;
                break;
            }
            se->sc = sc;
            se->kind = hit ? "iotlb_hit" : "iotlb_miss";
            se->target = hit ? HIT_TARGET_NS : MISS_TARGET_NS;
            /* Misses: twice the IOTLB in order, so each page is evicted
             * before it comes round again. */
            se->npages = hit ? HIT_PAGES : 2 * se->b.iotlb_cap;
            se->calls = hit ? HIT_CALLS : MISS_CALLS;
            n++;
        }
    }
    for (unsigned r = 0; r < WARMUP_BATCHES; r++) {
        for (unsigned i = 0; i < n; i++) {
            run_batch(&series[i].b, series[i].npages, series[i].calls,
                      &series[i].cursor);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        vtd_get_stats(series[i].b.s, &series[i].before);
    }
    for (unsigned r = 0; r < BATCHES; r++) {
        for (unsigned i = 0; i < n; i++) {
            Series *se = &series[i];
            se->v[r] = run_batch(&se->b, se->npages, se->calls, &se->cursor);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        report(&series[i]);
        bench_teardown(&series[i].b);
    }
    g_free(series);
    return ok;
}
