/*
 * The invalidation queue (vtd-qi.c) and the invalidation dispatcher
 * (vtd-inval.c), driven through the register window against the real
 * caches, with fake guest memory, a recording MSI sink, recording device
 * sinks (device-TLB, page responses) and a recording listener.
 *
 * Descriptor bit positions are written out here from the spec
 * (vtd-spec-facts.md §5.1) rather than shared with the implementation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-inval.h"
#include "hw/intel-iommu/vtd-ir.h"

#define QBASE       0x100000ULL     /* queue: up to 16 pages mapped */
#define QPAGES      16
#define STATUS      0x200000ULL     /* wait status word */
#define NO_RAM      0x7000000ULL    /* never mapped */
#define ROOT        0x300000ULL
#define IE_ADDR     0xfee00000u
#define IE_DATA     0x41u
#define FE_ADDR     0xfee01000u
#define FE_DATA     0x42u

#define B(n)        (1ULL << (n))

/* ---- Test bed ----------------------------------------------------------- */

typedef struct DevTlbCall {
    uint16_t sid;
    uint32_t pasid;
    bool global;
    uint64_t addr, size;
} DevTlbCall;

typedef struct RespCall {
    uint16_t sid;
    uint32_t pasid;
    bool pp;
    uint16_t prgi;
    uint8_t rc;
} RespCall;

typedef struct Bed {
    FakeMem *m;
    VtdState *s;
    unsigned qs;
    bool dw;
    uint64_t tail;          /* byte offset where the next descriptor goes */

    unsigned nmsi;
    uint64_t msi_addr[32];
    uint32_t msi_data[32];

    unsigned ndevtlb;
    DevTlbCall devtlb[32];
    int timeout_sid;        /* -1: every device answers */

    unsigned nresp;
    RespCall resp[8];

    GString *log;           /* listener: "I<kind>" per invalidate, "S" */
    VtdInvalidation last;   /* last invalidation a listener saw */
    unsigned ninv, nsync;
    bool sync_fails;
    int64_t iqt_from_listener;  /* >= 0: the listener writes this to IQT */
    uint32_t status_seen_at_sync;   /* at the first sync */
} Bed;

static void msi_cb(void *opaque, uint64_t addr, uint32_t data)
{
    Bed *b = opaque;

    if (b->nmsi < G_N_ELEMENTS(b->msi_addr)) {
        b->msi_addr[b->nmsi] = addr;
        b->msi_data[b->nmsi] = data;
    }
    b->nmsi++;
}

static bool devtlb_cb(void *opaque, uint16_t sid, uint32_t pasid, bool global,
                      uint64_t addr, uint64_t size)
{
    Bed *b = opaque;

    if (b->ndevtlb < G_N_ELEMENTS(b->devtlb)) {
        b->devtlb[b->ndevtlb] = (DevTlbCall){ sid, pasid, global, addr, size };
    }
    b->ndevtlb++;
    return b->timeout_sid != sid;
}

static void resp_cb(void *opaque, uint16_t sid, uint32_t pasid, bool pp,
                    uint16_t prgi, uint8_t rc)
{
    Bed *b = opaque;

    if (b->nresp < G_N_ELEMENTS(b->resp)) {
        b->resp[b->nresp] = (RespCall){ sid, pasid, pp, prgi, rc };
    }
    b->nresp++;
}

static void l_invalidate(void *opaque, VtdState *s, const VtdInvalidation *inv)
{
    Bed *b = opaque;

    g_string_append_printf(b->log, "I%d%s ", (int)inv->kind,
                           inv->from_register ? "r" : "");
    b->last = *inv;
    b->ninv++;
    if (b->iqt_from_listener >= 0) {
        uint64_t t = (uint64_t)b->iqt_from_listener;

        b->iqt_from_listener = -1;
        vtd_mmio_write(s, 0x88, t, 8);
    }
}

static bool l_sync(void *opaque, VtdState *s, GError **errp)
{
    Bed *b = opaque;

    g_string_append(b->log, "S ");
    b->nsync++;
    if (b->nsync == 1) {
        b->status_seen_at_sync = (uint32_t)fm_r64(b->m, STATUS);
    }
    if (b->sync_fails) {
        g_set_error(errp, VTD_INVAL_ERROR, VTD_INVAL_ERROR_SYNC, "host said no");
        return false;
    }
    return true;
}

static const VtdInvalListener listener = {
    .invalidate = l_invalidate,
    .sync = l_sync,
};

static uint64_t rd64(Bed *b, unsigned off)
{
    return vtd_mmio_read(b->s, off, 8);
}
static uint32_t rd32(Bed *b, unsigned off)
{
    return (uint32_t)vtd_mmio_read(b->s, off, 4);
}
static void wr64(Bed *b, unsigned off, uint64_t v)
{
    vtd_mmio_write(b->s, off, v, 8);
}
static void wr32(Bed *b, unsigned off, uint32_t v)
{
    vtd_mmio_write(b->s, off, v, 4);
}

static void gcmd(Bed *b, uint32_t bit, bool on)
{
    uint32_t cmd = rd32(b, 0x1c) & 0x96ffffffu;

    wr32(b, 0x18, on ? (cmd | bit) : (cmd & ~bit));
}

static Bed *bed_new_cfg(const VtdConfig *cfg_in)
{
    Bed *b = g_new0(Bed, 1);
    VtdConfig cfg = *cfg_in;
    VtdGuestMem mem;
    VtdMsiSink msi = { b, msi_cb };
    VtdDevTlbSink dt = { b, devtlb_cb };
    VtdPrqSink pr = { b, resp_cb };
    GError *err = NULL;

    if (!vtd_config_validate(&cfg, &err)) {
        fail_msg("config rejected: %s", err->message);
    }
    b->m = fm_new();
    for (unsigned i = 0; i < QPAGES; i++) {
        fm_map(b->m, QBASE + 4096ULL * i);
    }
    fm_map(b->m, STATUS);
    mem = (VtdGuestMem){ b->m, fm_read, fm_write };
    b->s = vtd_new(&cfg, &mem, &msi);
    assert_non_null(b->s);
    vtd_set_devtlb_sink(b->s, &dt);
    vtd_set_prq_sink(b->s, &pr);
    b->timeout_sid = -1;
    b->iqt_from_listener = -1;
    b->log = g_string_new("");
    assert_true(vtd_inval_add_listener(b->s, &listener, b, &err));
    /* Event interrupts unmasked, to distinct targets. */
    wr32(b, 0xa8, IE_ADDR);
    wr32(b, 0xa4, IE_DATA);
    wr32(b, 0xa0, 0);
    wr32(b, 0x40, FE_ADDR);
    wr32(b, 0x3c, FE_DATA);
    wr32(b, 0x38, 0);
    return b;
}

typedef void (*Tweak)(VtdConfig *cfg);

static Bed *bed_new(Tweak tweak)
{
    VtdConfig cfg;

    vtd_config_defaults(&cfg);
    if (tweak) {
        tweak(&cfg);
    }
    return bed_new_cfg(&cfg);
}

static void bed_free(Bed *b)
{
    vtd_free(b->s);
    fm_free(b->m);
    g_string_free(b->log, true);
    g_free(b);
}

static void tw_dt(VtdConfig *c)
{
    c->device_iotlb = true;
}
static void tw_sm(VtdConfig *c)
{
    c->scalable_mode = true;
    c->device_iotlb = true;
    c->x_prs = true;
}
static void tw_sm_pds(VtdConfig *c)
{
    tw_sm(c);
    c->x_pds = true;
}
static void tw_sm_dit(VtdConfig *c)
{
    tw_sm(c);
    c->x_dit = true;
}
static void tw_sm_adms(VtdConfig *c)
{
    tw_sm(c);
    c->x_adms = true;
}

/* RTADDR with TTM, then SRTP. */
static void set_ttm(Bed *b, unsigned ttm)
{
    wr64(b, 0x20, ROOT | ((uint64_t)ttm << 10));
    gcmd(b, 1u << 30, true);
}

/* IQT=0, IQA, QIE. */
static void qi_on(Bed *b, unsigned qs, bool dw)
{
    b->qs = qs;
    b->dw = dw;
    b->tail = 0;
    wr64(b, 0x88, 0);
    wr64(b, 0x90, QBASE | (dw ? B(11) : 0) | qs);
    gcmd(b, 1u << 26, true);
    assert_true(rd32(b, 0x1c) & (1u << 26));
}

static Bed *legacy_bed(Tweak tweak)
{
    Bed *b = bed_new(tweak);

    qi_on(b, 0, false);
    return b;
}

static Bed *sm_bed(Tweak tweak)
{
    Bed *b = bed_new(tweak ? tweak : tw_sm);

    set_ttm(b, 1);
    qi_on(b, 0, true);
    return b;
}

static unsigned dsz(const Bed *b)
{
    return b->dw ? 32 : 16;
}

static uint64_t qbytes(const Bed *b)
{
    return 4096ULL << b->qs;
}

/* Write a descriptor at the tail without telling the unit. */
static void put(Bed *b, const uint64_t d[4])
{
    for (unsigned i = 0; i < dsz(b) / 8; i++) {
        fm_w64(b->m, QBASE + b->tail + 8 * i, d[i]);
    }
    b->tail = (b->tail + dsz(b)) % qbytes(b);
}

static void kick(Bed *b)
{
    wr64(b, 0x88, b->tail);
}

static void submit(Bed *b, const uint64_t d[4])
{
    put(b, d);
    kick(b);
}

static uint64_t head(Bed *b)
{
    return rd64(b, 0x80);
}
static uint32_t fsts(Bed *b)
{
    return rd32(b, 0x34);
}
static unsigned iqei(Bed *b)
{
    return (unsigned)(rd64(b, 0xb0) & 0xf);
}

/* ---- Descriptors (spec §5.1) ------------------------------------------ */

typedef struct D {
    uint64_t q[4];
} D;

static D d_cc(unsigned g, uint16_t did, uint16_t sid, unsigned fm)
{
    return (D){ { 1 | (uint64_t)g << 4 | (uint64_t)did << 16 |
                  (uint64_t)sid << 32 | (uint64_t)fm << 48, 0, 0, 0 } };
}

static D d_iotlb(unsigned g, uint16_t did, uint64_t addr, unsigned am, bool ih)
{
    return (D){ { 2 | (uint64_t)g << 4 | (uint64_t)did << 16,
                  addr | (ih ? B(6) : 0) | am, 0, 0 } };
}

static D d_devtlb(uint16_t sid, uint64_t addr, bool s)
{
    return (D){ { 3 | (uint64_t)sid << 32, addr | (s ? 1 : 0), 0, 0 } };
}

static D d_iec(bool index_sel, unsigned im, uint16_t iidx)
{
    return (D){ { 4 | (index_sel ? B(4) : 0) | (uint64_t)im << 27 |
                  (uint64_t)iidx << 32, 0, 0, 0 } };
}

static D d_wait(bool iflag, bool sw, bool fn, uint32_t data, uint64_t addr)
{
    return (D){ { 5 | (iflag ? B(4) : 0) | (sw ? B(5) : 0) | (fn ? B(6) : 0) |
                  (uint64_t)data << 32, addr, 0, 0 } };
}

static D d_piotlb(unsigned g, uint16_t did, uint32_t pasid, uint64_t addr,
                  unsigned am, bool ih)
{
    return (D){ { 6 | (uint64_t)g << 4 | (uint64_t)did << 16 |
                  (uint64_t)pasid << 32, addr | (ih ? B(6) : 0) | am, 0, 0 } };
}

static D d_pc(unsigned g, uint16_t did, uint32_t pasid)
{
    return (D){ { 7 | (uint64_t)g << 4 | (uint64_t)did << 16 |
                  (uint64_t)pasid << 32, 0, 0, 0 } };
}

static D d_pdevtlb(uint16_t sid, uint32_t pasid, bool gi, uint64_t addr, bool s)
{
    return (D){ { 8 | (uint64_t)sid << 16 | (uint64_t)pasid << 32,
                  addr | (gi ? 1 : 0) | (s ? B(11) : 0), 0, 0 } };
}

static D d_pgrp(uint16_t rid, uint32_t pasid, bool pp, unsigned rc, bool lpig,
                unsigned prgi)
{
    return (D){ { 9 | (pp ? B(4) : 0) | (uint64_t)rc << 12 |
                  (uint64_t)rid << 16 | (uint64_t)pasid << 32,
                  (lpig ? B(2) : 0) | (uint64_t)prgi << 3, 0, 0 } };
}

static void sub(Bed *b, D d)
{
    submit(b, d.q);
}

static void putd(Bed *b, D d)
{
    put(b, d.q);
}

/* A wait with a status write of `data`; true once it landed. */
static bool wait_done(Bed *b, uint32_t data)
{
    fm_w64(b->m, STATUS, 0);
    sub(b, d_wait(false, true, false, data, STATUS));
    return (uint32_t)fm_r64(b->m, STATUS) == data;
}

/* ---- Cache contents ----------------------------------------------------- */

static void tlb_add(VtdState *s, uint16_t sid, uint32_t pasid, uint32_t eff,
                    uint16_t did, uint64_t addr, unsigned pgtt)
{
    VtdIotlbEntry e = {
        .vpn = addr >> 12, .out_base = 0x80000000ULL + (addr & ~0xfffULL),
        .pasid = pasid, .eff_pasid = eff, .sid = sid, .did = did,
        .level = 1, .pgtt = (uint8_t)pgtt, .perm = { 3, 3 }, .dirty_ok = true,
    };
    vtd_iotlb_insert(s, &e);
}

static bool tlb_has(VtdState *s, uint16_t sid, uint32_t pasid, uint64_t addr)
{
    return vtd_iotlb_lookup(s, sid, pasid, addr) != NULL;
}

static void ctx_add(VtdState *s, uint16_t sid, uint16_t did, bool scalable)
{
    VtdCtxCacheEntry e = { .scalable = scalable };

    e.legacy.present = true;
    e.legacy.did = did;
    vtd_ctx_cache_insert(s, sid, &e);
}

static bool ctx_has(VtdState *s, uint16_t sid)
{
    return vtd_ctx_cache_lookup(s, sid) != NULL;
}

static void pc_add(VtdState *s, uint16_t sid, uint32_t pasid, uint16_t did)
{
    VtdPasidCacheEntry e = { 0 };

    e.pe.did = did;
    vtd_pasid_cache_insert(s, sid, pasid, &e);
}

static bool pc_has(VtdState *s, uint16_t sid, uint32_t pasid)
{
    return vtd_pasid_cache_lookup(s, sid, pasid) != NULL;
}

/* ---- Type 1: context cache ---------------------------------------------- */

static void test_cc_legacy(void **state)
{
    Bed *b = legacy_bed(NULL);
    VtdState *s = b->s;

    for (uint16_t sid = 0x10; sid < 0x20; sid++) {
        ctx_add(s, sid, sid < 0x18 ? 1 : 2, false);
    }
    /* Device, FM=3: the whole function range of 0x12 (0x10-0x17). */
    sub(b, d_cc(3, 1, 0x12, 3));
    for (uint16_t sid = 0x10; sid < 0x20; sid++) {
        assert_int_equal(ctx_has(s, sid), sid >= 0x18);
    }
    /* Device, FM=0: only that SID. */
    sub(b, d_cc(3, 2, 0x19, 0));
    assert_false(ctx_has(s, 0x19));
    assert_true(ctx_has(s, 0x18));
    /* Domain: DID 2 only. */
    ctx_add(s, 0x40, 3, false);
    sub(b, d_cc(2, 2, 0, 0));
    assert_int_equal(vtd_ctx_cache_count(s), 1);
    assert_true(ctx_has(s, 0x40));
    /* Global. */
    sub(b, d_cc(1, 0, 0, 0));
    assert_int_equal(vtd_ctx_cache_count(s), 0);
    assert_int_equal(b->ninv, 4);
    assert_int_equal(b->last.kind, VTD_INVAL_CONTEXT);
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_GLOBAL);
    assert_int_equal(fsts(b), 0);
    assert_int_equal(head(b), 4 * 16);
    bed_free(b);
}

/* Scalable: not DID-tagged, a domain-selective one acts as global. */
static void test_cc_scalable_domain_is_global(void **state)
{
    Bed *b = sm_bed(NULL);

    ctx_add(b->s, 0x10, 1, true);
    ctx_add(b->s, 0x20, 2, true);
    sub(b, d_cc(2, 7, 0, 0));
    assert_int_equal(vtd_ctx_cache_count(b->s), 0);
    assert_int_equal(b->last.did, 7);
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_DOMAIN);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* ---- Type 2: IOTLB ------------------------------------------------------ */

static void test_iotlb_legacy(void **state)
{
    Bed *b = legacy_bed(NULL);
    VtdState *s = b->s;
    const uint32_t np = IOMMU_NO_PASID;

    tlb_add(s, 1, np, np, 1, 0x4000, VTD_PGTT_SS);
    tlb_add(s, 1, np, np, 1, 0x5000, VTD_PGTT_SS);
    tlb_add(s, 1, np, np, 1, 0x6000, VTD_PGTT_SS);
    tlb_add(s, 2, np, np, 2, 0x5000, VTD_PGTT_SS);

    /* Page, AM=0: exactly one page of DID 1. */
    sub(b, d_iotlb(3, 1, 0x5000, 0, false));
    assert_false(tlb_has(s, 1, np, 0x5000));
    assert_true(tlb_has(s, 1, np, 0x4000));
    assert_true(tlb_has(s, 2, np, 0x5000));
    assert_int_equal(b->last.kind, VTD_INVAL_IOTLB);
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_PAGE);
    assert_int_equal(b->last.addr, 0x5000);

    /* Page, AM=1 with ADDR 0x5000: the low AM bit is ignored -> 0x4000-0x5fff. */
    tlb_add(s, 1, np, np, 1, 0x5000, VTD_PGTT_SS);
    sub(b, d_iotlb(3, 1, 0x5000, 1, true));
    assert_false(tlb_has(s, 1, np, 0x4000));
    assert_false(tlb_has(s, 1, np, 0x5000));
    assert_true(tlb_has(s, 1, np, 0x6000));
    assert_int_equal(b->last.addr, 0x4000);
    assert_int_equal(b->last.am, 1);
    assert_true(b->last.ih);

    /* Domain: DID 1 only. */
    tlb_add(s, 1, np, np, 1, 0x9000, VTD_PGTT_SS);
    sub(b, d_iotlb(2, 1, 0, 0, false));
    assert_int_equal(vtd_iotlb_count(s), 1);
    assert_true(tlb_has(s, 2, np, 0x5000));

    /* Global. */
    tlb_add(s, 1, np, np, 1, 0x9000, VTD_PGTT_SS);
    sub(b, d_iotlb(1, 0, 0, 0, false));
    assert_int_equal(vtd_iotlb_count(s), 0);

    /* DR/DW (bits 7:6) are ignored, not reserved. */
    sub(b, (D){ { 0x2 | 1 << 4 | B(6) | B(7), 0, 0, 0 } });
    assert_int_equal(fsts(b), 0);
    assert_int_equal(head(b), 5 * 16);
    bed_free(b);
}

/* Scalable type 2 page: FS/nested entries of the DID go whatever their
 * address; SS entries only in range. */
static void test_iotlb_scalable_page(void **state)
{
    Bed *b = sm_bed(NULL);
    VtdState *s = b->s;

    tlb_add(s, 1, 5, 5, 1, 0x7000, VTD_PGTT_FS);
    tlb_add(s, 1, IOMMU_NO_PASID, 0, 1, 0x1000, VTD_PGTT_SS);
    tlb_add(s, 1, IOMMU_NO_PASID, 0, 1, 0x2000, VTD_PGTT_SS);
    sub(b, d_iotlb(3, 1, 0x1000, 0, false));
    assert_false(tlb_has(s, 1, 5, 0x7000));
    assert_false(tlb_has(s, 1, IOMMU_NO_PASID, 0x1000));
    assert_true(tlb_has(s, 1, IOMMU_NO_PASID, 0x2000));
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

static void test_iotlb_am_beyond_mamv(void **state)
{
    Bed *b = legacy_bed(NULL);
    unsigned mamv = (unsigned)((rd64(b, 0x8) >> 48) & 0x3f);

    sub(b, d_iotlb(3, 1, 0, mamv, false));
    assert_int_equal(fsts(b), 0);
    sub(b, d_iotlb(3, 1, 0, mamv + 1, false));
    assert_true(fsts(b) & B(4));
    assert_int_equal(iqei(b), 4);
    assert_int_equal(head(b), 16);
    bed_free(b);
}

/* ---- Type 3 / 8: device-TLB --------------------------------------------- */

static void test_devtlb(void **state)
{
    Bed *b = legacy_bed(tw_dt);

    /* S=0: one 4 KiB page. */
    sub(b, d_devtlb(0x0123, 0x12345000, false));
    assert_int_equal(b->ndevtlb, 1);
    assert_int_equal(b->devtlb[0].sid, 0x0123);
    assert_int_equal(b->devtlb[0].pasid, IOMMU_NO_PASID);
    assert_false(b->devtlb[0].global);
    assert_int_equal(b->devtlb[0].addr, 0x12345000);
    assert_int_equal(b->devtlb[0].size, 0x1000);
    /* S=1, ADDR[15:12] = 0111b: lowest clear bit 15 -> 64 KiB at 0. */
    sub(b, d_devtlb(0x0123, 0x7000, true));
    assert_int_equal(b->devtlb[1].addr, 0);
    assert_int_equal(b->devtlb[1].size, 0x10000);
    /* S=1, ADDR[63:12] all ones: everything. */
    sub(b, d_devtlb(0x0123, ~0xfffULL, true));
    assert_int_equal(b->devtlb[2].addr, 0);
    assert_int_equal(b->devtlb[2].size, UINT64_MAX);
    assert_int_equal(b->last.kind, VTD_INVAL_DEVTLB);
    assert_true(b->last.s);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

static void test_devtlb_needs_dt(void **state)
{
    Bed *b = legacy_bed(NULL);

    sub(b, d_devtlb(0x0123, 0, false));
    assert_true(fsts(b) & B(4));
    assert_int_equal(iqei(b), 3);
    assert_int_equal(b->ndevtlb, 0);
    bed_free(b);
}

static void test_pasid_devtlb(void **state)
{
    Bed *b = sm_bed(NULL);

    sub(b, d_pdevtlb(0x0208, 0x1234, false, 0x40000, false));
    assert_int_equal(b->ndevtlb, 1);
    assert_int_equal(b->devtlb[0].sid, 0x0208);
    assert_int_equal(b->devtlb[0].pasid, 0x1234);
    assert_false(b->devtlb[0].global);
    assert_int_equal(b->devtlb[0].addr, 0x40000);
    assert_int_equal(b->devtlb[0].size, 0x1000);
    /* GI and S=1 with ADDR[12] = 0: 8 KiB. */
    sub(b, d_pdevtlb(0x0208, 0x1234, true, 0x42000, true));
    assert_true(b->devtlb[1].global);
    assert_int_equal(b->devtlb[1].addr, 0x42000);
    assert_int_equal(b->devtlb[1].size, 0x2000);
    assert_int_equal(b->last.kind, VTD_INVAL_PASID_DEVTLB);
    assert_true(b->last.gi);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* PFSID is reserved without DIT, a field with it. */
static void test_devtlb_pfsid(void **state)
{
    Bed *b = sm_bed(tw_sm_dit);
    D d = d_devtlb(0x0300, 0, false);

    d.q[0] |= (0xaULL << 12) | (0x123ULL << 52);
    sub(b, d);
    assert_int_equal(fsts(b), 0);
    assert_int_equal(b->last.pfsid, 0x123a);
    bed_free(b);

    b = sm_bed(NULL);
    sub(b, d);
    assert_int_equal(iqei(b), 4);
    bed_free(b);
}

/* ---- Type 4: interrupt entry cache -------------------------------------- */

static void iec_fill(VtdState *s)
{
    for (unsigned i = 0; i < 16; i++) {
        s->iec.slot[i].valid = true;
        s->iec.slot[i].index = i;
    }
}

static void test_iec(void **state)
{
    Bed *b = legacy_bed(NULL);

    iec_fill(b->s);
    /* Index-selective: 2^2 indexes from 4 (IIDX 6: low IM bits ignored). */
    sub(b, d_iec(true, 2, 6));
    assert_int_equal(vtd_iec_count(b->s), 12);
    for (unsigned i = 4; i < 8; i++) {
        assert_false(b->s->iec.slot[i].valid);
    }
    assert_int_equal(b->last.kind, VTD_INVAL_IEC);
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_INDEX);
    assert_int_equal(b->last.iidx, 4);
    /* G=0: global. */
    sub(b, d_iec(false, 0, 0));
    assert_int_equal(vtd_iec_count(b->s), 0);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* ---- Type 6: PASID-based IOTLB ------------------------------------------ */

static void test_piotlb(void **state)
{
    Bed *b = sm_bed(NULL);
    VtdState *s = b->s;

    tlb_add(s, 1, 5, 5, 1, 0x7000, VTD_PGTT_FS);
    tlb_add(s, 1, 5, 5, 1, 0x8000, VTD_PGTT_FS);
    tlb_add(s, 1, 6, 6, 1, 0x7000, VTD_PGTT_FS);
    tlb_add(s, 1, IOMMU_NO_PASID, 0, 1, 0x7000, VTD_PGTT_SS);

    /* Page within PASID 5. */
    sub(b, d_piotlb(3, 1, 5, 0x7000, 0, false));
    assert_false(tlb_has(s, 1, 5, 0x7000));
    assert_true(tlb_has(s, 1, 5, 0x8000));
    assert_true(tlb_has(s, 1, 6, 0x7000));
    assert_int_equal(b->last.kind, VTD_INVAL_PASID_IOTLB);
    assert_int_equal(b->last.pasid, 5);

    /* Page-selective leaves second-stage entries alone (PGTT 010b). */
    sub(b, d_piotlb(3, 1, 0, 0x7000, 0, false));
    assert_true(tlb_has(s, 1, IOMMU_NO_PASID, 0x7000));

    /* Any AM is accepted (MAMV does not apply). */
    sub(b, d_piotlb(3, 1, 5, 0, 30, false));
    assert_false(tlb_has(s, 1, 5, 0x8000));
    assert_int_equal(fsts(b), 0);

    /* PASID-selective: every PGTT of DID+PASID (RID_PASID 0 here). */
    sub(b, d_piotlb(2, 1, 0, 0, 0, false));
    assert_false(tlb_has(s, 1, IOMMU_NO_PASID, 0x7000));
    assert_true(tlb_has(s, 1, 6, 0x7000));
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_PASID);

    /* G=00 and 01 are reserved. */
    sub(b, d_piotlb(1, 1, 6, 0, 0, false));
    assert_int_equal(iqei(b), 4);
    assert_true(tlb_has(s, 1, 6, 0x7000));
    bed_free(b);
}

/* ---- Type 7: PASID cache ------------------------------------------------ */

static void test_pc(void **state)
{
    Bed *b = sm_bed(NULL);
    VtdState *s = b->s;

    pc_add(s, 1, 5, 1);
    pc_add(s, 1, 6, 1);
    pc_add(s, 2, 5, 2);
    pc_add(s, 3, 7, 3);
    sub(b, d_pc(1, 1, 5));                 /* PASID-selective */
    assert_false(pc_has(s, 1, 5));
    assert_true(pc_has(s, 1, 6));
    assert_true(pc_has(s, 2, 5));
    sub(b, d_pc(0, 1, 0x999));             /* domain: PASID ignored */
    assert_false(pc_has(s, 1, 6));
    assert_true(pc_has(s, 2, 5));
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_DOMAIN);
    sub(b, d_pc(3, 0, 0));                 /* global */
    assert_int_equal(vtd_pasid_cache_count(s), 0);
    assert_int_equal(fsts(b), 0);
    pc_add(s, 3, 7, 3);
    sub(b, d_pc(2, 3, 7));                 /* G=10 reserved */
    assert_int_equal(iqei(b), 4);
    assert_true(pc_has(s, 3, 7));
    bed_free(b);
}

/* ---- Type 9: page group response ---------------------------------------- */

static void test_page_group_response(void **state)
{
    Bed *b = sm_bed(NULL);

    sub(b, d_pgrp(0x0310, 0x77, true, 0xf, true, 0x155));
    assert_int_equal(b->nresp, 1);
    assert_int_equal(b->resp[0].sid, 0x0310);
    assert_true(b->resp[0].pp);
    assert_int_equal(b->resp[0].pasid, 0x77);
    assert_int_equal(b->resp[0].prgi, 0x155);
    assert_int_equal(b->resp[0].rc, 0xf);
    assert_int_equal(b->last.kind, VTD_INVAL_PAGE_RESPONSE);
    assert_true(b->last.lpig);
    sub(b, d_pgrp(0x0310, 0, false, 0, false, 3));
    assert_int_equal(b->nresp, 2);
    assert_false(b->resp[1].pp);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* ---- Type 5: wait ------------------------------------------------------- */

/* Every SW/IF/FN combination: SW writes the data, IF sets IWC and sends the
 * completion interrupt, FN changes nothing visible; all are legal (SW=IF=0
 * included, although QEMU rejects it). */
static void test_wait_combinations(void **state)
{
    for (unsigned bits = 0; bits < 8; bits++) {
        bool iflag = bits & 1, sw = bits & 2, fn = bits & 4;
        Bed *b = legacy_bed(NULL);

        fm_w64(b->m, STATUS, 0xdeadbeef);
        sub(b, d_wait(iflag, sw, fn, 0x600d0000 + bits, STATUS));
        assert_int_equal(fsts(b), 0);
        assert_int_equal(head(b), 16);
        assert_int_equal((uint32_t)fm_r64(b->m, STATUS),
                         sw ? 0x600d0000 + bits : 0xdeadbeef);
        assert_int_equal(rd32(b, 0x9c) & 1, iflag);
        assert_int_equal(b->nmsi, iflag ? 1 : 0);
        if (iflag) {
            assert_int_equal(b->msi_addr[0], IE_ADDR);
            assert_int_equal(b->msi_data[0], IE_DATA);
        }
        assert_true(b->s->iq_last_was_wait);
        assert_int_equal(b->nsync, 1);
        bed_free(b);
    }
}

static void test_wait_interrupt_rules(void **state)
{
    Bed *b = legacy_bed(NULL);

    /* Masked: IP set, no message; unmasking sends it. */
    wr32(b, 0xa0, 1u << 31);
    sub(b, d_wait(true, false, false, 0, 0));
    assert_int_equal(b->nmsi, 0);
    assert_true(rd32(b, 0xa0) & (1u << 30));
    wr32(b, 0xa0, 0);
    assert_int_equal(b->nmsi, 1);
    assert_false(rd32(b, 0xa0) & (1u << 30));
    /* IWC still set: no new event. */
    sub(b, d_wait(true, false, false, 0, 0));
    assert_int_equal(b->nmsi, 1);
    /* Software clears IWC (RW1C): the next one interrupts again. */
    wr32(b, 0x9c, 1);
    assert_int_equal(rd32(b, 0x9c) & 1, 0);
    sub(b, d_wait(true, false, false, 0, 0));
    assert_int_equal(b->nmsi, 2);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* Regression guard (QEMU #3028): a wait with IF never takes the process
 * down, even without anyone to deliver the interrupt to. */
static void test_wait_if_without_msi_sink(void **state)
{
    FakeMem *m = fm_new();
    VtdState *s = tvtd_new(m, NULL);
    uint64_t d[2] = { 5 | B(4) | B(5) | (0x1234ULL << 32), STATUS };

    for (unsigned i = 0; i < QPAGES; i++) {
        fm_map(m, QBASE + 4096ULL * i);
    }
    fm_map(m, STATUS);
    vtd_mmio_write(s, 0xa0, 0, 4);         /* IECTL unmasked */
    vtd_mmio_write(s, 0x90, QBASE, 8);
    vtd_mmio_write(s, 0x18, 1u << 26, 4);
    fm_w64(m, QBASE, d[0]);
    fm_w64(m, QBASE + 8, d[1]);
    vtd_mmio_write(s, 0x88, 16, 8);
    assert_int_equal(vtd_mmio_read(s, 0x80, 8), 16);
    assert_int_equal((uint32_t)fm_r64(m, STATUS), 0x1234);
    assert_int_equal(vtd_mmio_read(s, 0x9c, 4) & 1, 1);
    vtd_free(s);
    fm_free(m);
}

/* Status address: bits above HAW are ignored; bits 1:0 are reserved. */
static void test_wait_status_address(void **state)
{
    Bed *b = legacy_bed(NULL);
    unsigned haw = (unsigned)((rd64(b, 0x8) >> 16) & 0x3f) + 1;

    sub(b, d_wait(false, true, false, 0xabcd, STATUS | B(haw) | B(62)));
    assert_int_equal(fsts(b), 0);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0xabcd);
    sub(b, d_wait(false, true, false, 0xabcd, STATUS | 2));
    assert_int_equal(iqei(b), 4);
    bed_free(b);
}

/* A status write that reaches no memory is not a queue error: the wait
 * completes, its interrupt included. */
static void test_wait_status_outside_ram(void **state)
{
    Bed *b = legacy_bed(NULL);

    sub(b, d_wait(true, true, false, 1, NO_RAM));
    assert_int_equal(fsts(b), 0);
    assert_int_equal(head(b), 16);
    assert_int_equal(b->nmsi, 1);
    bed_free(b);
}

static void test_wait_pd(void **state)
{
    D d = d_wait(false, true, false, 7, STATUS);
    Bed *b;

    d.q[0] |= B(7);
    b = legacy_bed(NULL);
    sub(b, d);
    assert_int_equal(iqei(b), 4);
    bed_free(b);

    b = sm_bed(tw_sm_pds);
    sub(b, d);
    assert_int_equal(fsts(b), 0);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 7);
    bed_free(b);
}

/* ---- Queue errors (IQERCD.IQEI) ----------------------------------------- */

static void assert_iqe(Bed *b, unsigned code, uint64_t at)
{
    assert_true(fsts(b) & B(4));
    assert_int_equal(iqei(b), code);
    assert_int_equal(head(b), at);
}

static void test_iqe_tail_beyond_queue(void **state)
{
    Bed *b = legacy_bed(NULL);

    wr64(b, 0x88, 0x1000);                  /* QS=0: 4 KiB */
    assert_iqe(b, 1, 0);
    /* The fault event went out once. */
    assert_int_equal(b->nmsi, 1);
    assert_int_equal(b->msi_data[0], FE_DATA);
    bed_free(b);

    b = legacy_bed(NULL);
    wr64(b, 0x88, 0x7fff0);                 /* hostile maximum */
    assert_iqe(b, 1, 0);
    bed_free(b);
}

static void test_iqe_fetch(void **state)
{
    Bed *b = bed_new(NULL);

    /* QS=5: 32 pages, only 16 mapped. Jump straight past them. */
    wr64(b, 0x88, 0);
    wr64(b, 0x90, QBASE | 5);
    gcmd(b, 1u << 26, true);
    vtd_set64(b->s, DMAR_IQH_REG, 16 * 4096);
    wr64(b, 0x88, 16 * 4096 + 16);
    assert_iqe(b, 2, 16 * 4096);
    bed_free(b);

    /* A queue wholly outside RAM. */
    b = bed_new(NULL);
    wr64(b, 0x90, NO_RAM);
    gcmd(b, 1u << 26, true);
    wr64(b, 0x88, 16);
    assert_iqe(b, 2, 0);
    bed_free(b);
}

static void test_iqe_type(void **state)
{
    static const uint64_t bad_qw0[] = {
        0x0,                    /* type 0 */
        0xa,                    /* HPT cache, no HPTS */
        0xf,
        0x1 | B(9),             /* Type[6:4] != 0: type 11h */
        0x5 | B(11),            /* type 45h */
        0x6, 0x7, 0x9,          /* PASID types in legacy mode */
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_qw0); i++) {
        Bed *b = legacy_bed(tw_dt);
        uint64_t d[4] = { bad_qw0[i] };

        assert_true(wait_done(b, 1));
        submit(b, d);
        assert_iqe(b, 3, 16);
        assert_int_equal(b->ninv, 0);
        bed_free(b);
    }
}

/* Type 8 without device-TLB support is an invalid type even in scalable
 * mode. */
static void test_iqe_type8_needs_dt(void **state)
{
    Bed *b;
    VtdConfig cfg;

    vtd_config_defaults(&cfg);
    cfg.scalable_mode = true;
    b = bed_new_cfg(&cfg);
    set_ttm(b, 1);
    qi_on(b, 0, true);
    sub(b, d_pdevtlb(1, 1, false, 0, false));
    assert_iqe(b, 3, 0);
    bed_free(b);
}

/* One bad bit per type: IQEI=4, nothing dropped, nothing notified. */
static void test_iqe_reserved(void **state)
{
    struct {
        D d;
        unsigned qw, bit;
        bool scalable;
    } cases[] = {
        { d_cc(1, 0, 0, 0), 0, 7 },  { d_cc(1, 0, 0, 0), 0, 13 },
        { d_cc(1, 0, 0, 0), 0, 55 }, { d_cc(1, 0, 0, 0), 1, 3 },
        { d_iotlb(1, 0, 0, 0, 0), 0, 8 }, { d_iotlb(1, 0, 0, 0, 0), 0, 40 },
        { d_iotlb(3, 0, 0, 0, 0), 1, 8 },
        { d_devtlb(1, 0, 0), 0, 5 }, { d_devtlb(1, 0, 0), 0, 25 },
        { d_devtlb(1, 0, 0), 0, 49 }, { d_devtlb(1, 0, 0), 0, 60 },
        { d_devtlb(1, 0, 0), 1, 4 },
        { d_iec(true, 0, 0), 0, 6 }, { d_iec(true, 0, 0), 0, 20 },
        { d_iec(true, 0, 0), 0, 50 }, { d_iec(true, 0, 0), 1, 0 },
        { d_wait(0, 1, 0, 0, STATUS), 0, 8 },
        { d_wait(0, 1, 0, 0, STATUS), 0, 20 },
        { d_wait(0, 1, 0, 0, STATUS), 1, 0 },
        /* 128-bit types in a 256-bit queue: qw2/qw3 are zero padding. */
        { d_iotlb(1, 0, 0, 0, 0), 2, 0, true },
        { d_wait(0, 1, 0, 0, STATUS), 3, 63, true },
        { d_piotlb(2, 1, 1, 0, 0, 0), 0, 7, true },
        { d_piotlb(2, 1, 1, 0, 0, 0), 0, 60, true },
        { d_piotlb(3, 1, 1, 0, 0, 0), 1, 9, true },
        { d_piotlb(2, 1, 1, 0, 0, 0), 2, 1, true },
        { d_pc(0, 1, 1), 0, 14, true }, { d_pc(0, 1, 1), 1, 0, true },
        { d_pc(0, 1, 1), 3, 5, true },
        { d_pdevtlb(1, 1, 0, 0, 0), 1, 5, true },
        { d_pdevtlb(1, 1, 0, 0, 0), 2, 0, true },
        { d_pgrp(1, 1, 1, 0, 1, 0), 0, 5, true },
        { d_pgrp(1, 1, 1, 0, 1, 0), 0, 55, true },
        { d_pgrp(1, 1, 1, 0, 1, 0), 1, 0, true },
        { d_pgrp(1, 1, 1, 0, 1, 0), 1, 20, true },
        { d_pgrp(1, 1, 1, 0, 1, 0), 2, 0, true },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Bed *b = cases[i].scalable ? sm_bed(NULL) : legacy_bed(tw_dt);
        D d = cases[i].d;

        /* The descriptor as built is fine... */
        sub(b, d);
        if (fsts(b)) {
            print_error("case %u: baseline rejected, IQEI %u\n", i, iqei(b));
        }
        assert_int_equal(fsts(b) & B(4), 0);
        bed_free(b);
        /* ...and one reserved bit more makes it invalid. */
        b = cases[i].scalable ? sm_bed(NULL) : legacy_bed(tw_dt);
        d.q[cases[i].qw] ^= B(cases[i].bit);
        b->ninv = 0;
        sub(b, d);
        if (iqei(b) != 4) {
            print_error("case %u: IQEI %u\n", i, iqei(b));
        }
        assert_iqe(b, 4, 0);
        assert_int_equal(b->ninv, 0);
        bed_free(b);
    }
}

/* Granularity 00 is reserved for types 1 and 2. */
static void test_iqe_reserved_granularity(void **state)
{
    D cases[] = { d_cc(0, 0, 0, 0), d_iotlb(0, 0, 0, 0, false) };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Bed *b = legacy_bed(NULL);

        sub(b, cases[i]);
        assert_iqe(b, 4, 0);
        bed_free(b);
    }
}

static void test_iqe_width(void **state)
{
    Bed *b;

    /* 256-bit descriptors without SMTS (or ADMS). */
    b = bed_new(NULL);
    qi_on(b, 0, true);
    sub(b, d_wait(false, true, false, 1, STATUS));
    assert_iqe(b, 5, 0);
    bed_free(b);

    /* 128-bit descriptors in scalable mode. */
    b = bed_new(tw_sm);
    set_ttm(b, 1);
    qi_on(b, 0, false);
    sub(b, d_wait(false, true, false, 1, STATUS));
    assert_iqe(b, 5, 0);
    bed_free(b);

    /* 256-bit in legacy mode is fine with SMTS: types 1-5 only. */
    b = bed_new(tw_sm);
    qi_on(b, 0, true);
    assert_true(wait_done(b, 9));
    sub(b, d_pc(3, 0, 0));
    assert_iqe(b, 3, 32);
    bed_free(b);
}

static void test_iqe_tail_alignment(void **state)
{
    Bed *b = sm_bed(NULL);

    wr64(b, 0x88, 0x10);                    /* bit 4 with DW=1 */
    assert_iqe(b, 6, 0);
    bed_free(b);
}

static void test_iqe_ttm(void **state)
{
    Bed *b;

    b = bed_new(tw_sm);
    set_ttm(b, 2);                          /* reserved */
    qi_on(b, 0, true);
    sub(b, d_wait(false, true, false, 1, STATUS));
    assert_iqe(b, 7, 0);
    bed_free(b);

    b = bed_new(tw_sm);
    set_ttm(b, 3);                          /* abort-DMA without ADMS */
    qi_on(b, 0, true);
    sub(b, d_wait(false, true, false, 1, STATUS));
    assert_iqe(b, 7, 0);
    bed_free(b);

    /* With ADMS, abort-DMA mode takes 256-bit descriptors of every type. */
    b = bed_new(tw_sm_adms);
    set_ttm(b, 3);
    qi_on(b, 0, true);
    sub(b, d_pc(3, 0, 0));
    assert_true(wait_done(b, 3));
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* IQH stays on the bad descriptor; IQT writes do nothing until software
 * fixes it and clears IQE, then fetching resumes there. */
static void test_iqe_recovery(void **state)
{
    Bed *b = legacy_bed(NULL);
    uint64_t bad[4] = { 0xf, 0, 0, 0 };
    D w = d_wait(false, true, false, 0x51, STATUS);

    sub(b, d_iotlb(1, 0, 0, 0, false));
    put(b, bad);
    putd(b, w);
    kick(b);
    assert_iqe(b, 3, 16);
    assert_int_equal(b->ninv, 1);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0);
    /* Still stuck. */
    kick(b);
    assert_int_equal(head(b), 16);
    assert_int_equal(b->ninv, 1);
    /* What Linux does: overwrite the bad one with its wait, clear IQE. */
    fm_w64(b->m, QBASE + 16, w.q[0]);
    fm_w64(b->m, QBASE + 24, w.q[1]);
    wr32(b, 0x34, 1u << 4);
    assert_int_equal(fsts(b), 0);
    assert_int_equal(head(b), 48);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0x51);
    bed_free(b);
}

/* ---- Wrap, hostile tails, bounds ----------------------------------------- */

static void wrap_case(Bed *b)
{
    unsigned entries = (unsigned)(qbytes(b) / dsz(b));
    const uint32_t np = IOMMU_NO_PASID;

    /* Walk the head to four entries before the end. */
    for (unsigned i = 0; i < entries - 4; i++) {
        putd(b, d_wait(false, false, false, 0, 0));
    }
    kick(b);
    assert_int_equal(head(b), (entries - 4) * dsz(b));
    /* Eight page invalidations straddling the end, then a wait. */
    for (unsigned i = 0; i < 8; i++) {
        tlb_add(b->s, 1, np, b->dw ? 0 : np, 1, 0x10000 + 0x1000ULL * i,
                VTD_PGTT_SS);
    }
    tlb_add(b->s, 1, np, b->dw ? 0 : np, 1, 0x90000, VTD_PGTT_SS);
    b->ninv = 0;
    for (unsigned i = 0; i < 8; i++) {
        putd(b, d_iotlb(3, 1, 0x10000 + 0x1000ULL * i, 0, false));
    }
    assert_true(wait_done(b, 0x3338));
    assert_int_equal(head(b), 5 * dsz(b));
    assert_int_equal(b->ninv, 8);
    assert_int_equal(vtd_iotlb_count(b->s), 1);
    assert_true(tlb_has(b->s, 1, np, 0x90000));
    assert_int_equal(fsts(b), 0);
}

/* Regression guard (QEMU #3338 on AMD): the queue wraps. */
static void test_wrap_128(void **state)
{
    Bed *b = legacy_bed(NULL);

    wrap_case(b);
    bed_free(b);
}

static void test_wrap_256(void **state)
{
    Bed *b = sm_bed(NULL);

    wrap_case(b);
    bed_free(b);
}

/* A full ring (tail one behind head) is processed in one go, and more than
 * one queue's worth never is. */
static void test_full_ring(void **state)
{
    Bed *b = legacy_bed(NULL);
    unsigned entries = 256;

    for (unsigned i = 0; i < entries - 1; i++) {
        putd(b, d_iotlb(1, 0, 0, 0, false));
    }
    kick(b);
    assert_int_equal(b->ninv, entries - 1);
    assert_int_equal(head(b), (entries - 1) * 16);
    assert_int_equal(b->s->stats.descriptors, entries - 1);
    /* The same tail again: nothing new. */
    kick(b);
    assert_int_equal(b->ninv, entries - 1);
    bed_free(b);
}

static void test_bigger_queue_sizes(void **state)
{
    /* QS=3, 128-bit: 2048 entries over 8 pages; QS=3, 256-bit: 1024. */
    for (unsigned dw = 0; dw < 2; dw++) {
        Bed *b = dw ? bed_new(tw_sm) : bed_new(NULL);

        if (dw) {
            set_ttm(b, 1);
        }
        qi_on(b, 3, dw);
        assert_int_equal(b->s->iq_entries, dw ? 1024 : 2048);
        b->tail = qbytes(b) - dsz(b);
        vtd_set64(b->s, DMAR_IQH_REG, b->tail);
        putd(b, d_iotlb(1, 0, 0, 0, false));
        assert_true(wait_done(b, 5));
        assert_int_equal(head(b), dsz(b));
        assert_int_equal(b->ninv, 1);
        bed_free(b);
    }
}

/* Queue off: IQT writes fetch nothing; descriptors already queued run when
 * QIE latches. */
static void test_disabled_then_enabled(void **state)
{
    Bed *b = bed_new(NULL);
    D w = d_wait(false, true, false, 0x77, STATUS);

    fm_w64(b->m, QBASE, w.q[0]);
    fm_w64(b->m, QBASE + 8, w.q[1]);
    wr64(b, 0x90, QBASE);
    wr64(b, 0x88, 16);
    assert_int_equal(head(b), 0);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0);
    gcmd(b, 1u << 26, true);
    assert_int_equal(head(b), 16);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0x77);
    bed_free(b);
}

/* QIE can be turned off only once quiesced after a wait (vtd-core reads
 * iq_last_was_wait, which the queue maintains). */
static void test_qie_disable_quiesced(void **state)
{
    Bed *b = legacy_bed(NULL);

    sub(b, d_iotlb(1, 0, 0, 0, false));
    gcmd(b, 1u << 26, false);
    assert_true(rd32(b, 0x1c) & (1u << 26));
    assert_true(wait_done(b, 1));
    gcmd(b, 1u << 26, false);
    assert_false(rd32(b, 0x1c) & (1u << 26));
    assert_int_equal(head(b), 0);
    bed_free(b);
}

/* A tail moved while the queue runs (here by a listener) is picked up by
 * the running loop, without recursion. */
static void test_tail_moved_while_running(void **state)
{
    Bed *b = legacy_bed(NULL);

    putd(b, d_iotlb(1, 0, 0, 0, false));
    kick(b);
    assert_int_equal(b->ninv, 1);
    putd(b, d_iotlb(2, 1, 0, 0, false));
    putd(b, d_iotlb(2, 2, 0, 0, false));
    putd(b, d_iotlb(2, 3, 0, 0, false));
    b->iqt_from_listener = (int64_t)b->tail;
    b->tail -= 2 * 16;
    kick(b);            /* hands over one; the listener adds two more */
    assert_int_equal(b->ninv, 4);
    assert_int_equal(head(b), 4 * 16);
    assert_int_equal(b->last.did, 3);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* ---- Listeners ---------------------------------------------------------- */

static void test_listener_batching(void **state)
{
    Bed *b = sm_bed(NULL);

    putd(b, d_cc(1, 0, 0, 0));
    putd(b, d_pc(3, 0, 0));
    putd(b, d_iotlb(2, 3, 0, 0, false));
    putd(b, d_piotlb(2, 3, 9, 0, 0, false));
    fm_w64(b->m, STATUS, 0);
    putd(b, d_wait(false, true, false, 0xc0de, STATUS));
    putd(b, d_iotlb(1, 0, 0, 0, false));
    putd(b, d_wait(false, false, false, 0, 0));
    kick(b);
    assert_string_equal(b->log->str, "I0 I5 I1 I4 S I1 S ");
    /* The listeners synced before the status write. */
    assert_int_equal(b->status_seen_at_sync, 0);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0xc0de);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

/* A failing sync: ICE (ICESID 0 = not provided), the fault event, and the
 * queue keeps going: the wait still completes. */
static void test_listener_sync_failure(void **state)
{
    Bed *b = legacy_bed(NULL);

    b->sync_fails = true;
    putd(b, d_iotlb(1, 0, 0, 0, false));
    assert_true(wait_done(b, 0x1ce));
    assert_int_equal(fsts(b), 1u << 5);
    assert_int_equal(rd64(b, 0xb0) >> 48, 0);
    assert_int_equal(b->nmsi, 1);
    assert_int_equal(b->msi_data[0], FE_DATA);
    assert_int_equal(head(b), 32);
    /* ICE does not stop the queue. */
    b->sync_fails = false;
    assert_true(wait_done(b, 2));
    /* Software clears it. */
    wr32(b, 0x34, 1u << 5);
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

static void test_register_based_goes_through_dispatch(void **state)
{
    Bed *b = bed_new(NULL);

    tlb_add(b->s, 1, IOMMU_NO_PASID, IOMMU_NO_PASID, 4, 0x3000, VTD_PGTT_SS);
    /* CCMD global, then IOTLB page (IVA at 0xf0, IOTLB_REG at 0xf8). */
    wr64(b, 0x28, B(63) | 1ULL << 61);
    wr64(b, 0xf0, 0x3000);
    wr64(b, 0xf8, B(63) | 3ULL << 60 | 4ULL << 32);
    assert_string_equal(b->log->str, "I0r S I1r S ");
    assert_int_equal(b->last.gran, VTD_INVAL_GRAN_PAGE);
    assert_int_equal(b->last.did, 4);
    assert_int_equal(b->last.addr, 0x3000);
    assert_false(tlb_has(b->s, 1, IOMMU_NO_PASID, 0x3000));
    /* A failing sync there is reported as ICE too. */
    b->sync_fails = true;
    wr64(b, 0xf8, B(63) | 1ULL << 60);
    assert_int_equal(fsts(b), 1u << 5);
    assert_int_equal((rd64(b, 0xf8) >> 57) & 3, 1);
    bed_free(b);
}

static void other_inv(void *opaque, VtdState *s, const VtdInvalidation *inv)
{
    (*(unsigned *)opaque)++;
}

static void test_listener_registry(void **state)
{
    Bed *b = legacy_bed(NULL);
    static const VtdInvalListener other = { .invalidate = other_inv };
    unsigned counts[8] = { 0 };
    GError *err = NULL;

    /* Same pair twice: refused. */
    assert_false(vtd_inval_add_listener(b->s, &listener, b, &err));
    assert_non_null(err);
    g_clear_error(&err);
    /* Fill every slot (one is taken by the bed). */
    for (unsigned i = 0; i < VTD_INVAL_MAX_LISTENERS - 1; i++) {
        assert_true(vtd_inval_add_listener(b->s, &other, &counts[i], &err));
    }
    assert_false(vtd_inval_add_listener(b->s, &other, &counts[7], &err));
    assert_non_null(err);
    g_clear_error(&err);
    sub(b, d_cc(1, 0, 0, 0));
    for (unsigned i = 0; i < VTD_INVAL_MAX_LISTENERS - 1; i++) {
        assert_int_equal(counts[i], 1);
    }
    /* Removed ones hear nothing more; their slot is free again. */
    vtd_inval_remove_listener(b->s, &other, &counts[0]);
    vtd_inval_remove_listener(b->s, &listener, b);
    sub(b, d_cc(1, 0, 0, 0));
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 2);
    assert_int_equal(b->ninv, 1);
    assert_true(vtd_inval_add_listener(b->s, &other, &counts[7], &err));
    bed_free(b);
}

/* ---- Device-TLB time-out (ITE) ------------------------------------------ */

static void test_ite_aborts_batch_wait(void **state)
{
    Bed *b = legacy_bed(tw_dt);

    b->timeout_sid = 0x0123;
    fm_w64(b->m, STATUS, 0);
    putd(b, d_devtlb(0x0123, 0, false));
    putd(b, d_iotlb(1, 0, 0, 0, false));
    putd(b, d_wait(true, true, false, 1, STATUS));   /* closes the batch */
    putd(b, d_wait(false, true, false, 2, STATUS));
    kick(b);
    assert_true(fsts(b) & B(6));
    assert_int_equal((rd64(b, 0xb0) >> 32) & 0xffff, 0x0123);
    assert_int_equal(b->nsync, 1);      /* the aborted wait still syncs */
    /* The rest of the batch ran; its wait was consumed but aborted. */
    assert_int_equal(b->ninv, 2);
    assert_int_equal(head(b), 48);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0);
    assert_int_equal(rd32(b, 0x9c) & 1, 0);
    /* Fault event only. */
    assert_int_equal(b->nmsi, 1);
    assert_int_equal(b->msi_data[0], FE_DATA);
    /* Nothing is fetched while ITE is set... */
    kick(b);
    assert_int_equal(head(b), 48);
    /* ...and clearing it resumes at IQH. */
    wr32(b, 0x34, 1u << 6);
    assert_int_equal(head(b), 64);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 2);
    bed_free(b);
}

/* The tail comes before the batch's wait: that wait, fetched after ITE is
 * cleared, is the one aborted. */
static void test_ite_wait_after_clear(void **state)
{
    Bed *b = legacy_bed(tw_dt);

    b->timeout_sid = 0x0200;
    sub(b, d_devtlb(0x0200, 0, false));
    assert_true(fsts(b) & B(6));
    assert_int_equal(head(b), 16);
    fm_w64(b->m, STATUS, 0);
    sub(b, d_wait(false, true, false, 5, STATUS));
    assert_int_equal(head(b), 16);
    wr32(b, 0x34, 1u << 6);
    assert_int_equal(head(b), 32);
    assert_int_equal((uint32_t)fm_r64(b->m, STATUS), 0);
    /* The next batch completes normally. */
    assert_true(wait_done(b, 6));
    assert_int_equal(fsts(b), 0);
    bed_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cc_legacy),
        cmocka_unit_test(test_cc_scalable_domain_is_global),
        cmocka_unit_test(test_iotlb_legacy),
        cmocka_unit_test(test_iotlb_scalable_page),
        cmocka_unit_test(test_iotlb_am_beyond_mamv),
        cmocka_unit_test(test_devtlb),
        cmocka_unit_test(test_devtlb_needs_dt),
        cmocka_unit_test(test_pasid_devtlb),
        cmocka_unit_test(test_devtlb_pfsid),
        cmocka_unit_test(test_iec),
        cmocka_unit_test(test_piotlb),
        cmocka_unit_test(test_pc),
        cmocka_unit_test(test_page_group_response),
        cmocka_unit_test(test_wait_combinations),
        cmocka_unit_test(test_wait_interrupt_rules),
        cmocka_unit_test(test_wait_if_without_msi_sink),
        cmocka_unit_test(test_wait_status_address),
        cmocka_unit_test(test_wait_status_outside_ram),
        cmocka_unit_test(test_wait_pd),
        cmocka_unit_test(test_iqe_tail_beyond_queue),
        cmocka_unit_test(test_iqe_fetch),
        cmocka_unit_test(test_iqe_type),
        cmocka_unit_test(test_iqe_type8_needs_dt),
        cmocka_unit_test(test_iqe_reserved),
        cmocka_unit_test(test_iqe_reserved_granularity),
        cmocka_unit_test(test_iqe_width),
        cmocka_unit_test(test_iqe_tail_alignment),
        cmocka_unit_test(test_iqe_ttm),
        cmocka_unit_test(test_iqe_recovery),
        cmocka_unit_test(test_wrap_128),
        cmocka_unit_test(test_wrap_256),
        cmocka_unit_test(test_full_ring),
        cmocka_unit_test(test_bigger_queue_sizes),
        cmocka_unit_test(test_disabled_then_enabled),
        cmocka_unit_test(test_qie_disable_quiesced),
        cmocka_unit_test(test_tail_moved_while_running),
        cmocka_unit_test(test_listener_batching),
        cmocka_unit_test(test_listener_sync_failure),
        cmocka_unit_test(test_register_based_goes_through_dispatch),
        cmocka_unit_test(test_listener_registry),
        cmocka_unit_test(test_ite_aborts_batch_wait),
        cmocka_unit_test(test_ite_wait_after_clear),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
