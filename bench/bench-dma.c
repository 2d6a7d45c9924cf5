/*
 * End-to-end 4 KiB DMA through the in-process reference machine: a Machine
 * with its PCI root bus, "-device intel-iommu" and "-device iommu-testdev"
 * created from option strings, everything else done the way a guest does it
 * through the physical address space (machine_mem_rw): find the test device
 * in ECAM, place its BAR, enable memory decoding and bus mastering, write
 * VT-d tables into RAM, program RTADDR/GCMD, then loop "arm, trigger, read
 * result". No qtest socket is involved.
 *
 * The same device DMAs untranslated (GCMD.TE=0, GVA = GPA) and translated
 * (TE=1, legacy second-stage 4-level, GVA = an IOVA outside RAM, so a
 * successful result proves the IOMMU translated it), batch by batch in
 * alternation so that machine noise hits both alike. The ratio reported is
 * the median of the per-pair throughput ratios.
 */
#include "bench-parts.h"
#include "bench-pgtable.h"
#include "bench-util.h"

#include "vtdnest/machine.h"
#include "vtdnest/opts.h"
#include "vtdnest/pci.h"
#include "hw/intel-iommu/vtd-regs.h"

#define RAM_SIZE        (256ULL << 20)
#define TABLES_BASE     (16ULL << 20)
#define TABLES_LIMIT    (32ULL << 20)
#define TARGET_GPA      (64ULL << 20)
#define DMA_IOVA        0x40000000ULL       /* above RAM: must be translated */
#define DMA_LEN         4096
#define BAR0_ADDR       Q35_PCI_HOLE_BASE
#define DID             1

#define PAIRS           101
#define WARMUP_PAIRS    5
#define DMAS_PER_BATCH  256

#define RATIO_TARGET    0.9

/* iommu-testdev registers (QEMU's layout, docs/devices.md). */
#define ITD_VENDOR_DEVICE       0x00051b36u
#define ITD_DMA_TRIGGERING      0x00
#define ITD_DMA_GVA_LO          0x04
#define ITD_DMA_GVA_HI          0x08
#define ITD_DMA_LEN             0x0c
#define ITD_DMA_RESULT          0x10
#define ITD_DMA_DBELL           0x14
#define ITD_DMA_GPA_LO          0x1c
#define ITD_DMA_GPA_HI          0x20

typedef struct DmaBench {
    Machine *m;
    BenchGuestRam g;
    uint8_t devfn;
    unsigned failed_dmas;
} DmaBench;

/* ---- Guest-side accessors ------------------------------------------------ */

static uint32_t rd32(Machine *m, uint64_t addr)
{
    uint32_t v = 0;

    if (machine_mem_rw(m, addr, &v, 4, false) != MEMTX_OK) {
        return UINT32_MAX;
    }
    return GUINT32_FROM_LE(v);
}

static void wr32(Machine *m, uint64_t addr, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    machine_mem_rw(m, addr, &v, 4, true);
}

static void wr16(Machine *m, uint64_t addr, uint16_t v)
{
    v = GUINT16_TO_LE(v);
    machine_mem_rw(m, addr, &v, 2, true);
}

static uint64_t ecam(uint8_t devfn, unsigned reg)
{
    return Q35_ECAM_BASE + ((uint64_t)devfn << 12) + reg;
}

static uint8_t *ram_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
    return machine_ram_ptr(opaque, gpa, len);
}

/* ---- Machine construction ------------------------------------------------ */

/* Returns 1 on success, 0 when the device type is missing, -1 on error. */
static int add_device(Machine *m, const char *spec)
{
    g_autoptr(GError) err = NULL;
    DeviceOpts *o = opts_parse(spec, "driver", &err);
    int ret;

    if (!o) {
        fprintf(stderr, "bench dma: %s: %s\n", spec, err->message);
        return -1;
    }
    if (!device_type_find(opts_driver(o))) {
        opts_free(o);
        return 0;
    }
    ret = machine_create_device(m, o, &err) ? 1 : -1;
    if (ret < 0) {
        fprintf(stderr, "bench dma: -device %s: %s\n", spec, err->message);
    }
    opts_free(o);
    return ret;
}

static bool find_testdev(DmaBench *d)
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (rd32(d->m, ecam((uint8_t)devfn, PCI_VENDOR_ID)) == ITD_VENDOR_DEVICE) {
            d->devfn = (uint8_t)devfn;
            return true;
        }
    }
    return false;
}

/* GCMD the way drivers write it: current status minus one-shot bits. */
static void vtd_gcmd(Machine *m, uint32_t set, uint32_t clear)
{
    uint32_t sts = rd32(m, Q35_IOMMU_BASE + DMAR_GSTS_REG);

    wr32(m, Q35_IOMMU_BASE + DMAR_GCMD_REG,
         (sts & ~(uint32_t)VTD_GCMD_ONE_SHOT & ~clear) | set);
}

static bool set_translation(Machine *m, bool on)
{
    uint32_t sts;

    vtd_gcmd(m, on ? (uint32_t)VTD_GCMD_TE : 0, on ? 0 : (uint32_t)VTD_GCMD_TE);
    sts = rd32(m, Q35_IOMMU_BASE + DMAR_GSTS_REG);
    return !!(sts & VTD_GSTS_TES) == on;
}

/* Legacy root -> context (TT=SS, AW=48-bit, DID) -> SS map IOVA -> target. */
static bool program_iommu(DmaBench *d)
{
    uint16_t sid = PCI_BDF(0, d->devfn);
    uint64_t root = bench_alloc_page(&d->g), ctx = bench_alloc_page(&d->g);
    uint64_t ss = bench_alloc_page(&d->g);
    uint64_t base = Q35_IOMMU_BASE;

    if (!root || !ctx || !ss) {
        return false;
    }
    bench_w64(&d->g, root + 16 * (sid >> 8), ctx | 1);
    bench_w64(&d->g, ctx + 16 * (sid & 0xff), ss | 1);
    bench_w64(&d->g, ctx + 16 * (sid & 0xff) + 8, 2 | (DID << 8));
    if (!bench_map_4k(&d->g, ss, DMA_IOVA, TARGET_GPA, BENCH_SS_TABLE,
                      BENCH_SS_LEAF)) {
        return false;
    }
    wr32(d->m, base + DMAR_RTADDR_REG, (uint32_t)root);
    wr32(d->m, base + DMAR_RTADDR_REG + 4, (uint32_t)(root >> 32));
    vtd_gcmd(d->m, (uint32_t)VTD_GCMD_SRTP, 0);
    return rd32(d->m, base + DMAR_GSTS_REG) & VTD_GSTS_RTPS;
}

static bool program_testdev(DmaBench *d)
{
    wr32(d->m, ecam(d->devfn, PCI_BASE_ADDRESS_0), (uint32_t)BAR0_ADDR);
    wr16(d->m, ecam(d->devfn, PCI_COMMAND),
         PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    wr32(d->m, BAR0_ADDR + ITD_DMA_GPA_LO, (uint32_t)TARGET_GPA);
    wr32(d->m, BAR0_ADDR + ITD_DMA_GPA_HI, (uint32_t)(TARGET_GPA >> 32));
    wr32(d->m, BAR0_ADDR + ITD_DMA_LEN, DMA_LEN);
    /* Idle after reset: the BAR decodes. */
    return rd32(d->m, BAR0_ADDR + ITD_DMA_RESULT) == 0xffffffffu;
}

/* Arm, trigger and collect one DMA to gva; returns DMA_RESULT. */
static uint32_t dma_once(Machine *m)
{
    wr32(m, BAR0_ADDR + ITD_DMA_DBELL, 1);
    (void)rd32(m, BAR0_ADDR + ITD_DMA_TRIGGERING);
    return rd32(m, BAR0_ADDR + ITD_DMA_RESULT);
}

static void dma_set_gva(Machine *m, uint64_t gva)
{
    wr32(m, BAR0_ADDR + ITD_DMA_GVA_LO, (uint32_t)gva);
    wr32(m, BAR0_ADDR + ITD_DMA_GVA_HI, (uint32_t)(gva >> 32));
}

/* Control: with TE=1 the mapped IOVA works and its unmapped neighbour
 * faults, so the measured path really goes through the page tables. */
static bool translation_is_live(DmaBench *d)
{
    bool ok;

    if (!set_translation(d->m, true)) {
        return false;
    }
    dma_set_gva(d->m, DMA_IOVA + DMA_LEN);
    ok = dma_once(d->m) != 0;
    dma_set_gva(d->m, DMA_IOVA);
    return ok && dma_once(d->m) == 0;
}

/* Returns 1 ready, 0 skipped (device type missing), -1 error. */
static int dma_setup(DmaBench *d)
{
    g_autoptr(GError) err = NULL;
    int r;

    memset(d, 0, sizeof(*d));
    d->m = machine_new(RAM_SIZE, &err);
    if (!d->m) {
        fprintf(stderr, "bench dma: machine_new: %s\n", err->message);
        return -1;
    }
    machine_set_pci_root(d->m, pci_root_bus_new(d->m));
    r = add_device(d->m, "intel-iommu");
    if (r <= 0) {
        return r;
    }
    r = add_device(d->m, "iommu-testdev");
    if (r <= 0) {
        return r;
    }
    machine_system_reset(d->m);
    d->g = (BenchGuestRam){ .ptr = ram_ptr, .opaque = d->m,
                            .next = TABLES_BASE, .limit = TABLES_LIMIT };
    if (!find_testdev(d)) {
        fprintf(stderr, "bench dma: iommu-testdev not found in ECAM\n");
        return -1;
    }
    if (!program_testdev(d)) {
        fprintf(stderr, "bench dma: iommu-testdev BAR0 does not decode\n");
        return -1;
    }
    if (!program_iommu(d)) {
        fprintf(stderr, "bench dma: SRTP did not take effect\n");
        return -1;
    }
    if (!translation_is_live(d)) {
        fprintf(stderr, "bench dma: translated DMA control failed (mapped "
                "IOVA must work, unmapped IOVA must fault)\n");
        return -1;
    }
    return 1;
}

/* ---- Measurement --------------------------------------------------------- */

/* MB/s of one batch of 4 KiB DMAs to gva; counts failed DMAs. */
static double dma_batch(DmaBench *d, uint64_t gva)
{
    uint64_t t0, t1;

    dma_set_gva(d->m, gva);
    t0 = bench_now_ns();
    for (unsigned i = 0; i < DMAS_PER_BATCH; i++) {
        if (dma_once(d->m) != 0) {
            d->failed_dmas++;
        }
    }
    t1 = bench_now_ns();
    return (double)DMA_LEN * DMAS_PER_BATCH * 1e3 / (double)(t1 - t0);
}

/* One untranslated then one translated batch. */
static bool dma_pair(DmaBench *d, double *plain, double *xlated)
{
    if (!set_translation(d->m, false)) {
        return false;
    }
    *plain = dma_batch(d, TARGET_GPA);
    if (!set_translation(d->m, true)) {
        return false;
    }
    *xlated = dma_batch(d, DMA_IOVA);
    return true;
}

bool bench_dma_run(void)
{
    double plain[PAIRS], xlated[PAIRS], ratio[PAIRS], p, x;
    BenchSummary sp, sx, sr;
    DmaBench d;
    bool ok = false;
    int r;

    if (!bench_selected("dma_4k")) {
        return true;
    }
    bench_print("dma_ratio_target", RATIO_TARGET, "ratio");
    r = dma_setup(&d);
    if (r == 0) {
        printf("dma_4k_skipped: 1 flag\n");
        fprintf(stderr, "bench dma: skipped: the machine has no intel-iommu "
                "or iommu-testdev device type\n");
        ok = true;
        goto out;
    }
    if (r < 0) {
        goto out;
    }
    for (unsigned i = 0; i < WARMUP_PAIRS; i++) {
        if (!dma_pair(&d, &p, &x)) {
            fprintf(stderr, "bench dma: GCMD.TE did not take effect\n");
            goto out;
        }
    }
    d.failed_dmas = 0;
    for (unsigned i = 0; i < PAIRS; i++) {
        if (!dma_pair(&d, &plain[i], &xlated[i])) {
            fprintf(stderr, "bench dma: GCMD.TE did not take effect\n");
            goto out;
        }
        ratio[i] = xlated[i] / plain[i];
    }
    if (d.failed_dmas) {
        fprintf(stderr, "bench dma: %u DMAs did not complete with result 0\n",
                d.failed_dmas);
        goto out;
    }
    sp = bench_summarize(plain, PAIRS);
    sx = bench_summarize(xlated, PAIRS);
    sr = bench_summarize(ratio, PAIRS);
    bench_print("dma_4k_untranslated_median", sp.median, "MB/s");
    bench_print("dma_4k_translated_median", sx.median, "MB/s");
    bench_print("dma_4k_translated_vs_untranslated_ratio", sr.median, "ratio");
    bench_verdict("dma_4k_translated_vs_untranslated_ratio", sr.median,
                  RATIO_TARGET, true);
    ok = true;
out:
    if (d.m) {
        machine_free(d.m);
    }
    return ok;
}
