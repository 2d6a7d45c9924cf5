/*
 * Queued-invalidation throughput: page-selective IOTLB descriptors (type 2,
 * G=11b) processed per second by a bare libvtd unit in legacy mode.
 *
 * The queue (QS=0: 256 entries of 128 bits) holds one PSI per slot; a batch
 * is one IQT write that hands the unit a full queue (255 descriptors, tail
 * one behind head), as a guest unmapping many pages does. Every PSI names a
 * page that is in the IOTLB, and the IOTLB is refilled to its 1024 entries
 * between batches (not timed): each descriptor works against a warm, full
 * cache. Flat guest RAM, no listeners, no MSI.
 *
 * Output (median over batches): qi_psi_descriptors_per_sec: N desc/s
 */
#include "bench-util.h"

#include "vtdnest/intel-iommu.h"
#include "hw/intel-iommu/vtd-cache.h"

#define RAM_SIZE        (4ULL << 20)
#define QUEUE_BASE      0x100000ULL
#define QUEUE_ENTRIES   256                 /* QS=0, 128-bit */
#define BATCH           (QUEUE_ENTRIES - 1) /* a full queue */
#define IOTLB_ENTRIES   1024
#define DID_HOT         1                   /* the domain being unmapped */
#define DID_OTHER       2                   /* the rest of the warm IOTLB */
#define SID             0x0010
#define IOVA_HOT        0x40000000ULL
#define IOVA_OTHER      0x80000000ULL
#define BATCHES         101
#define WARMUP_BATCHES  5

typedef struct QiBench {
    uint8_t *ram;
    VtdState *s;
    uint64_t tail;
} QiBench;

static bool ram_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    QiBench *b = opaque;

    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa) {
        return false;
    }
    memcpy(buf, b->ram + gpa, len);
    return true;
}

static bool ram_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
    QiBench *b = opaque;

    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa) {
        return false;
    }
    memcpy(b->ram + gpa, buf, len);
    return true;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static void tlb_insert(VtdState *s, uint16_t did, uint64_t iova)
{
    VtdIotlbEntry e = {
        .vpn = iova >> 12, .out_base = 0x10000000ULL + (iova & 0xfffffff000ULL),
        .pasid = IOMMU_NO_PASID, .eff_pasid = IOMMU_NO_PASID, .sid = SID,
        .did = did, .level = 1, .pgtt = VTD_PGTT_SS, .perm = { 3, 3 },
        .dirty_ok = true,
    };

    vtd_iotlb_insert(s, &e);
}

/* The queue's slot i invalidates hot page i; the IOTLB holds all of them
 * plus enough pages of another domain to be full. */
static void refill_iotlb(QiBench *b)
{
    for (unsigned i = 0; i < QUEUE_ENTRIES; i++) {
        tlb_insert(b->s, DID_HOT, IOVA_HOT + 0x1000ULL * i);
    }
}

static bool setup(QiBench *b)
{
    VtdConfig cfg;
    VtdGuestMem mem = { b, ram_read, ram_write };
    GError *err = NULL;

    vtd_config_defaults(&cfg);
    cfg.iotlb_size = IOTLB_ENTRIES;
    if (!vtd_config_validate(&cfg, &err)) {
        fprintf(stderr, "bench-qi: config: %s\n", err->message);
        return false;
    }
    b->ram = g_malloc0(RAM_SIZE);
    b->s = vtd_new(&cfg, &mem, NULL);
    if (!b->s) {
        return false;
    }
    for (unsigned i = 0; i < QUEUE_ENTRIES; i++) {
        uint8_t *d = b->ram + QUEUE_BASE + 16ULL * i;

        put_le64(d, 0x2 | (3ULL << 4) | ((uint64_t)DID_HOT << 16));
        put_le64(d + 8, IOVA_HOT + 0x1000ULL * i);     /* AM=0, IH=0 */
    }
    vtd_mmio_write(b->s, DMAR_IQT_REG, 0, 8);
    vtd_mmio_write(b->s, DMAR_IQA_REG, QUEUE_BASE, 8);   /* QS=0, DW=0 */
    vtd_mmio_write(b->s, DMAR_GCMD_REG, VTD_GCMD_QIE, 4);
    if (!(vtd_mmio_read(b->s, DMAR_GSTS_REG, 4) & VTD_GSTS_QIES)) {
        fprintf(stderr, "bench-qi: QIE did not latch\n");
        return false;
    }
    for (unsigned i = 0; i < IOTLB_ENTRIES - QUEUE_ENTRIES; i++) {
        tlb_insert(b->s, DID_OTHER, IOVA_OTHER + 0x1000ULL * i);
    }
    refill_iotlb(b);
    if (vtd_iotlb_count(b->s) != IOTLB_ENTRIES) {
        fprintf(stderr, "bench-qi: IOTLB holds %u entries, not %u\n",
                vtd_iotlb_count(b->s), IOTLB_ENTRIES);
        return false;
    }
    return true;
}

/* One full queue; returns the elapsed ns, 0 on a check failure. */
static uint64_t run_batch(QiBench *b)
{
    uint64_t t0, t1, head;
    VtdStats before, after;

    refill_iotlb(b);
    if (vtd_iotlb_count(b->s) != IOTLB_ENTRIES) {
        fprintf(stderr, "bench-qi: IOTLB not warm before a batch\n");
        return 0;
    }
    vtd_get_stats(b->s, &before);
    b->tail = (b->tail + 16ULL * BATCH) % (16ULL * QUEUE_ENTRIES);
    t0 = bench_now_ns();
    vtd_mmio_write(b->s, DMAR_IQT_REG, b->tail, 8);
    t1 = bench_now_ns();
    vtd_get_stats(b->s, &after);
    head = vtd_mmio_read(b->s, DMAR_IQH_REG, 8);
    if (head != b->tail || after.descriptors - before.descriptors != BATCH ||
        (vtd_mmio_read(b->s, DMAR_FSTS_REG, 4) & VTD_FSTS_IQE) ||
        vtd_iotlb_count(b->s) != IOTLB_ENTRIES - BATCH) {
        fprintf(stderr, "bench-qi: batch not processed as expected "
                "(IQH %#" G_GINT64_MODIFIER "x, IOTLB %u)\n", head,
                vtd_iotlb_count(b->s));
        return 0;
    }
    return t1 > t0 ? t1 - t0 : 1;
}

int main(void)
{
    QiBench b = { 0 };
    double rate[BATCHES];
    BenchSummary sum;

    if (!setup(&b)) {
        return 1;
    }
    for (unsigned i = 0; i < WARMUP_BATCHES; i++) {
        if (!run_batch(&b)) {
            return 1;
        }
    }
    for (unsigned i = 0; i < BATCHES; i++) {
        uint64_t ns = run_batch(&b);

        if (!ns) {
            return 1;
        }
        rate[i] = BATCH * 1e9 / (double)ns;
    }
    sum = bench_summarize(rate, BATCHES);
    bench_print("qi_psi_descriptors_per_sec", sum.median, "desc/s");
    bench_print("qi_psi_ns_per_desc", 1e9 / sum.median, "ns");
    vtd_free(b.s);
    g_free(b.ram);
    return 0;
}
