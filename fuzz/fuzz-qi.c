/*
 * Fuzz target: the invalidation queue. A unit with QI enabled whose queue
 * descriptors (128- or 256-bit) are input bytes, submitted in batches by
 * IQT writes, with the queue's start moved by a few filler descriptors so
 * that batches wrap around its end.
 *
 * Input layout (docs/fuzzing.md):
 *   byte 0  bit 0 scalable mode (TTM=01b latched), bit 1 256-bit
 *           descriptors (IQA.DW), bits 3:2 IQA.QS, bit 4 device-TLB
 *           invalidations of odd sids time out, bit 5 fold wait status
 *           addresses into RAM, bit 6 device-TLB + page requests, bit 7
 *           interrupt remapping on (IEC invalidations hit a live cache)
 *   byte 1  filler descriptors before the first batch (wraps the queue)
 *   then batches: a control byte (bits 5:0 descriptor count, bit 6 write
 *   FSTS all-ones first to clear IQE/ITE/ICE, bit 7 then a raw u32 IQT
 *   instead of the tail after the batch) and the descriptors.
 *
 * Invariants: an IQT write completes at most one queue's worth of
 * descriptors; IQH stays a slot of the queue; without IQE or ITE the queue
 * is drained (IQH == IQT); VER/CAP/ECAP never change.
 */
#include "fuzz-vtd-common.h"

#define RAM_SIZE    (1 * FUZZ_MiB)
#define ROOT        0x1000ULL
#define STATUS      0x2000ULL       /* filler wait descriptors write here */
#define IRT         0x8000ULL
#define QUEUE       0x10000ULL      /* up to 8 pages (QS 3) */
#define MAX_BATCHES 64

typedef struct Qi {
    FuzzIn in;
    FuzzRam ram;
    FuzzSinks sinks;
    VtdState *s;
    FuzzIdent ident;
    unsigned dsz;
    uint64_t bytes;
    bool fold;
} Qi;

static void gcmd(VtdState *s, uint32_t bit)
{
    uint32_t sts = (uint32_t)vtd_mmio_read(s, DMAR_GSTS_REG, 4) & 0x96ffffffu;

    vtd_mmio_write(s, DMAR_GCMD_REG, sts | bit, 4);
}

static void check_after_tail_write(Qi *q, uint64_t before, const char *what)
{
    uint32_t fsts = (uint32_t)vtd_mmio_read(q->s, DMAR_FSTS_REG, 4);
    uint64_t iqh = vtd_mmio_read(q->s, DMAR_IQH_REG, 8);
    uint64_t iqt = vtd_mmio_read(q->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK;

    fuzz_check_queue_work(q->s, before, q->s->iq_entries, what);
    fuzz_check_iqh(q->s);
    fuzz_check_ident(q->s, &q->ident, what);
    if (q->s->qi_enabled && !(fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)) &&
        iqh != iqt) {
        fuzz_fail("%s left IQH %#" G_GINT64_MODIFIER "x short of IQT %#"
                  G_GINT64_MODIFIER "x with no IQE/ITE (FSTS %#x)", what, iqh,
                  iqt, fsts);
    }
}

static void write_iqt(Qi *q, uint64_t tail, const char *what)
{
    uint64_t before = fuzz_descriptors(q->s);

    vtd_mmio_write(q->s, DMAR_IQT_REG, tail, 8);
    check_after_tail_write(q, before, what);
}

/* Wait descriptors that complete cleanly: they move IQH past k slots. */
static void fill(Qi *q, unsigned k)
{
    uint64_t tail = vtd_mmio_read(q->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK;
    uint64_t wait[4] = { GUINT64_TO_LE(5 | VTD_BIT(5)), GUINT64_TO_LE(STATUS),
                         0, 0 };

    for (unsigned i = 0; i < k; i++) {
        memcpy(q->ram.buf + QUEUE + tail, wait, q->dsz);
        tail = (tail + q->dsz) % q->bytes;
    }
    write_iqt(q, tail, "the filler batch");
}

static void batch(Qi *q)
{
    uint8_t c = fin_u8(&q->in);
    unsigned n = c & 0x3f;
    uint64_t tail = vtd_mmio_read(q->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK;

    if (c & 0x40) {
        uint64_t before = fuzz_descriptors(q->s);

        /* Clearing IQE/ITE lets the queue resume: that runs it too. */
        vtd_mmio_write(q->s, DMAR_FSTS_REG, 0xffffffffu, 4);
        check_after_tail_write(q, before, "an FSTS write");
        tail = vtd_mmio_read(q->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK;
    }
    tail %= q->bytes;
    n = MIN(n, q->s->iq_entries - 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t d[4];

        fin_copy(&q->in, d, q->dsz);
        if (q->fold && (GUINT64_FROM_LE(d[0]) & 0xf) == 5) {
            uint64_t a = GUINT64_FROM_LE(d[1]) % RAM_SIZE;

            d[1] = GUINT64_TO_LE(a & ~3ULL);
        }
        memcpy(q->ram.buf + QUEUE + tail, d, q->dsz);
        tail = (tail + q->dsz) % q->bytes;
    }
    if (c & 0x80) {
        tail = fin_u32(&q->in);
    }
    write_iqt(q, tail, "an IQT write");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Qi q = { .in = { data, size, 0 } };
    uint8_t b0 = fin_u8(&q.in), k = fin_u8(&q.in);
    unsigned qs = (b0 >> 2) & 3;
    VtdConfig cfg;
    GError *err = NULL;

    vtd_config_defaults(&cfg);
    cfg.scalable_mode = b0 & 1;
    if (cfg.scalable_mode) {
        cfg.flts = cfg.x_ssts = true;
        cfg.pasid_bits = 20;
    }
    if (b0 & 0x40) {
        cfg.device_iotlb = true;
        cfg.x_prs = cfg.scalable_mode;
        cfg.x_pds = cfg.x_dit = true;
    }
    if (!vtd_config_validate(&cfg, &err)) {
        fuzz_fail("fuzz-qi config rejected: %s", err->message);
    }
    fuzz_ram_init(&q.ram, RAM_SIZE, false);
    q.sinks.devtlb_times_out = b0 & 0x10;
    q.fold = b0 & 0x20;
    q.s = fuzz_unit_new(&cfg, &q.ram, &q.sinks, true, true);
    fuzz_ident_read(q.s, &q.ident);

    /* Root table (empty) with the right TTM: descriptor width rules use it. */
    vtd_mmio_write(q.s, DMAR_RTADDR_REG,
                   ROOT | (cfg.scalable_mode ? 1ULL << 10 : 0), 8);
    gcmd(q.s, VTD_GCMD_SRTP);
    if (b0 & 0x80) {
        vtd_mmio_write(q.s, DMAR_IRTA_REG, IRT | 7, 8);   /* 256 entries */
        gcmd(q.s, VTD_GCMD_SIRTP);
        gcmd(q.s, VTD_GCMD_IRE);
    }
    vtd_mmio_write(q.s, DMAR_IQA_REG,
                   QUEUE | ((b0 & 2) ? VTD_IQA_DW : 0) | qs, 8);
    gcmd(q.s, VTD_GCMD_QIE);
    if (!q.s->qi_enabled) {
        fuzz_fail("GCMD.QIE did not enable the queue");
    }
    q.dsz = q.s->iq_dw ? 32 : 16;
    q.bytes = (uint64_t)q.s->iq_entries * q.dsz;

    fill(&q, k % q.s->iq_entries);
    for (unsigned i = 0; i < MAX_BATCHES && fin_more(&q.in); i++) {
        batch(&q);
    }

    vtd_free(q.s);
    g_free(q.ram.buf);
    return 0;
}
