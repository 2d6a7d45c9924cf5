/*
 * Shared pieces of the VT-d unit fuzz targets (fuzz-vtd-unit.c, fuzz-qi.c):
 * an input reader, a unit configuration decoded from input bytes, a flat
 * fake guest RAM at GPA 0, recording sinks, and the invariants every target
 * checks after each step. A violated invariant calls fuzz_fail(), which
 * aborts so that libFuzzer (or the replay test) reports the input.
 *
 * Header-only: each target includes it once.
 */
#ifndef FUZZ_VTD_COMMON_H
#define FUZZ_VTD_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/intel-iommu/vtd-internal.h"

#define FUZZ_MiB (1ULL << 20)

/* ---- invariant failures ----------------------------------------------- */

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant violated: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* ---- input reader: past the end every field reads as zero -------------- */

typedef struct FuzzIn {
    const uint8_t *p;
    size_t n, pos;
} FuzzIn;

static inline bool fin_more(const FuzzIn *in)
{
    return in->pos < in->n;
}

static inline uint8_t fin_u8(FuzzIn *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

static inline uint64_t fin_bytes_le(FuzzIn *in, unsigned nbytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < nbytes; i++) {
        v |= (uint64_t)fin_u8(in) << (8 * i);
    }
    return v;
}

static inline uint16_t fin_u16(FuzzIn *in) { return (uint16_t)fin_bytes_le(in, 2); }
static inline uint32_t fin_u32(FuzzIn *in) { return (uint32_t)fin_bytes_le(in, 4); }
static inline uint64_t fin_u64(FuzzIn *in) { return fin_bytes_le(in, 8); }

/* Copy up to len input bytes into buf; the rest of buf is zeroed. */
static inline void fin_copy(FuzzIn *in, void *buf, size_t len)
{
    size_t avail = in->n - in->pos;
    size_t take = len < avail ? len : avail;

    memcpy(buf, in->p + in->pos, take);
    memset((uint8_t *)buf + take, 0, len - take);
    in->pos += take;
}

/* ---- the unit's configuration, from four input bytes ------------------- */

/*
 * Byte 0: scalable, flts, x-ssts, x-nest, caching-mode, pt=off,
 *         device-iotlb, x-prs                               (bits 0..7)
 * Byte 1: aw-bits (2 bits: 39/48/57/48), intremap=off, eim, snoop-control,
 *         fs1gp=off, x-srs, x-adms
 * Byte 2: pasid-bits (2 bits: 0/8/16/20), x-rps, x-eafs, x-ssads, x-smpwcs,
 *         x-pds, x-dit
 * Byte 3: x-nwfs, x-fs5lp, stale-tm, dma-translation=off, x-iotlb-size=4,
 *         x-nfr (3 bits: 8/1/2/3/4/16/64/256)
 * Dependencies the options have on each other are then switched on rather
 * than rejected, so that most inputs give the unit they ask for.
 */
static inline void fuzz_config_decode(VtdConfig *cfg, const uint8_t b[4])
{
    static const unsigned aw[4] = { 39, 48, 57, 48 };
    static const unsigned pasid[4] = { 0, 8, 16, 20 };
    static const unsigned nfr[8] = { 8, 1, 2, 3, 4, 16, 64, 256 };

    vtd_config_defaults(cfg);
    cfg->scalable_mode = b[0] & 0x01;
    cfg->flts = b[0] & 0x02;
    cfg->x_ssts = b[0] & 0x04;
    cfg->x_nest = b[0] & 0x08;
    cfg->caching_mode = b[0] & 0x10;
    cfg->pt = !(b[0] & 0x20);
    cfg->device_iotlb = b[0] & 0x40;
    cfg->x_prs = b[0] & 0x80;

    cfg->aw_bits = aw[b[1] & 3];
    cfg->intremap = (b[1] & 0x04) ? 0 : 1;
    cfg->eim = (b[1] & 0x08) ? 1 : 0;
    cfg->snoop_control = b[1] & 0x10;
    cfg->fs1gp = !(b[1] & 0x20);
    cfg->x_srs = b[1] & 0x40;
    cfg->x_adms = b[1] & 0x80;

    cfg->pasid_bits = pasid[b[2] & 3];
    cfg->x_rps = b[2] & 0x04;
    cfg->x_eafs = b[2] & 0x08;
    cfg->x_ssads = b[2] & 0x10;
    cfg->x_smpwcs = b[2] & 0x20;
    cfg->x_pds = b[2] & 0x40;
    cfg->x_dit = b[2] & 0x80;

    cfg->x_nwfs = b[3] & 0x01;
    cfg->x_fs5lp = b[3] & 0x02;
    cfg->stale_tm = b[3] & 0x04;
    cfg->dma_translation = !(b[3] & 0x08);
    if (b[3] & 0x10) {
        cfg->iotlb_size = 4;    /* small: evictions happen */
    }
    cfg->nfr = nfr[(b[3] >> 5) & 7];

    /* Switch on what the chosen options depend on. */
    if (cfg->x_nest) {
        cfg->flts = cfg->x_ssts = true;
    }
    if (cfg->x_eafs) {
        cfg->flts = cfg->x_smpwcs = true;
    }
    if (cfg->x_fs5lp) {
        cfg->flts = true;
    }
    if (cfg->x_ssads) {
        cfg->x_smpwcs = true;
        if (cfg->flts) {
            cfg->x_ssts = true;
        }
    }
    if (cfg->x_pds || cfg->x_dit || cfg->x_nwfs) {
        cfg->device_iotlb = true;
    }
    if (cfg->x_prs) {
        cfg->device_iotlb = true;
    }
    if (cfg->pasid_bits && cfg->device_iotlb) {
        cfg->x_prs = true;
    }
    if (cfg->flts || cfg->x_ssts || cfg->x_srs || cfg->x_smpwcs ||
        cfg->x_rps || cfg->x_prs || cfg->pasid_bits) {
        cfg->scalable_mode = true;
    }
    if (cfg->flts && cfg->aw_bits == 39) {
        cfg->aw_bits = 48;
    }
    cfg->x_aw57 = cfg->aw_bits == 57;
    if (cfg->eim) {
        cfg->intremap = 1;
    }
}

/* A valid configuration: the decoded one, or the defaults if it is not. */
static inline void fuzz_config(VtdConfig *cfg, const uint8_t b[4])
{
    GError *err = NULL;

    fuzz_config_decode(cfg, b);
    if (!vtd_config_validate(cfg, &err)) {
        g_clear_error(&err);
        vtd_config_defaults(cfg);
        if (!vtd_config_validate(cfg, &err)) {
            fuzz_fail("default config rejected: %s", err->message);
        }
    }
}

/* ---- fake guest RAM at [0, size), optionally with a read-only top ------ */

typedef struct FuzzRam {
    uint8_t *buf;
    uint64_t size;
    uint64_t ro_start;      /* writes at or above this fail (== size: none) */
} FuzzRam;

static inline bool fuzz_ram_ok(const FuzzRam *r, uint64_t gpa, uint64_t len)
{
    return gpa <= r->size && len <= r->size - gpa;
}

static bool fuzz_ram_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    FuzzRam *r = opaque;

    if (!fuzz_ram_ok(r, gpa, len)) {
        return false;
    }
    memcpy(buf, r->buf + gpa, len);
    return true;
}

static bool fuzz_ram_write(void *opaque, uint64_t gpa, const void *buf,
                           uint64_t len)
{
    FuzzRam *r = opaque;

    if (!fuzz_ram_ok(r, gpa, len) || gpa + len > r->ro_start) {
        return false;
    }
    memcpy(r->buf + gpa, buf, len);
    return true;
}

static inline void fuzz_ram_init(FuzzRam *r, uint64_t size, bool ro_top)
{
    r->buf = g_malloc0(size);
    r->size = size;
    r->ro_start = ro_top ? size - 64 * 1024 : size;
}

static inline void fuzz_ram_w64(FuzzRam *r, uint64_t gpa, uint64_t v)
{
    if (fuzz_ram_ok(r, gpa, 8)) {
        v = GUINT64_TO_LE(v);
        memcpy(r->buf + gpa, &v, 8);
    }
}

/* ---- sinks --------------------------------------------------------------- */

typedef struct FuzzSinks {
    uint64_t msis;
    uint64_t devtlb_invals;
    uint64_t page_responses;
    bool devtlb_times_out;  /* odd sids never complete (FSTS.ITE path) */
} FuzzSinks;

static void fuzz_msi(void *opaque, uint64_t addr, uint32_t data)
{
    ((FuzzSinks *)opaque)->msis++;
}

static bool fuzz_devtlb(void *opaque, uint16_t sid, uint32_t pasid, bool global,
                        uint64_t addr, uint64_t size)
{
    FuzzSinks *k = opaque;

    k->devtlb_invals++;
    return !(k->devtlb_times_out && (sid & 1));
}

static void fuzz_page_response(void *opaque, uint16_t sid, uint32_t pasid,
                               bool pasid_present, uint16_t prgi, uint8_t rc)
{
    ((FuzzSinks *)opaque)->page_responses++;
}

static inline VtdState *fuzz_unit_new(const VtdConfig *cfg, FuzzRam *ram,
                                      FuzzSinks *sinks, bool with_msi,
                                      bool with_device_sinks)
{
    VtdGuestMem mem = { ram, fuzz_ram_read, fuzz_ram_write };
    VtdMsiSink msi = { sinks, fuzz_msi };
    VtdState *s = vtd_new(cfg, &mem, with_msi ? &msi : NULL);

    if (!s) {
        fuzz_fail("vtd_new failed for a validated config");
    }
    if (with_device_sinks) {
        VtdDevTlbSink dt = { sinks, fuzz_devtlb };
        VtdPrqSink pr = { sinks, fuzz_page_response };

        vtd_set_devtlb_sink(s, &dt);
        vtd_set_prq_sink(s, &pr);
    }
    return s;
}

/* ---- invariants ----------------------------------------------------------- */

/* The identification registers as the guest first saw them. */
typedef struct FuzzIdent {
    uint32_t ver;
    uint64_t cap, ecap;
} FuzzIdent;

static inline void fuzz_ident_read(VtdState *s, FuzzIdent *id)
{
    id->ver = (uint32_t)vtd_mmio_read(s, DMAR_VER_REG, 4);
    id->cap = vtd_mmio_read(s, DMAR_CAP_REG, 8);
    id->ecap = vtd_mmio_read(s, DMAR_ECAP_REG, 8);
}

/* VER, CAP and ECAP are read-only: no write, command or reset moves them. */
static inline void fuzz_check_ident(VtdState *s, const FuzzIdent *want,
                                    const char *after)
{
    FuzzIdent now;

    fuzz_ident_read(s, &now);
    if (now.ver != want->ver || now.cap != want->cap || now.ecap != want->ecap) {
        fuzz_fail("identification registers changed after %s: VER %#x->%#x "
                  "CAP %#" G_GINT64_MODIFIER "x->%#" G_GINT64_MODIFIER "x "
                  "ECAP %#" G_GINT64_MODIFIER "x->%#" G_GINT64_MODIFIER "x",
                  after, want->ver, now.ver, want->cap, now.cap, want->ecap,
                  now.ecap);
    }
}

static inline uint64_t fuzz_descriptors(const VtdState *s)
{
    VtdStats st;

    vtd_get_stats(s, &st);
    return st.descriptors;
}

/*
 * Bounded work: one register write runs the queue at most once around, so
 * it completes at most one queue's worth of descriptors (the queue size may
 * have been latched by that very write).
 */
static inline void fuzz_check_queue_work(const VtdState *s, uint64_t before,
                                         uint32_t entries_before,
                                         const char *after)
{
    uint64_t done = fuzz_descriptors(s) - before;
    uint64_t limit = MAX(entries_before, s->iq_entries);

    if (done > limit) {
        fuzz_fail("%s completed %" G_GUINT64_FORMAT " descriptors, more than "
                  "the %" G_GUINT64_FORMAT "-entry queue", after, done, limit);
    }
}

/* IQH is a descriptor slot of the latched queue while QI is on. */
static inline void fuzz_check_iqh(VtdState *s)
{
    uint64_t iqh, bytes;
    unsigned dsz;

    if (!s->qi_enabled || !s->iq_entries) {
        return;
    }
    dsz = s->iq_dw ? 32 : 16;
    bytes = (uint64_t)s->iq_entries * dsz;
    iqh = vtd_mmio_read(s, DMAR_IQH_REG, 8);
    if ((iqh & ~VTD_IQ_PTR_MASK) || iqh >= bytes || (iqh % dsz)) {
        fuzz_fail("IQH %#" G_GINT64_MODIFIER "x is not a slot of the "
                  "%" G_GUINT64_FORMAT "-byte queue", iqh, bytes);
    }
}

#endif
