/* The request pipeline (vtd-translate.c): every mode, the fault each check
 * produces, FPD accumulation, fault recording and caching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-tables.h"
#include "hw/intel-iommu/vtd-translate.h"

#define ROOT    0x100000ULL
#define CTXT    0x101000ULL
#define PDIR    0x102000ULL
#define PTBL    0x103000ULL
#define ST(n)   (0x110000ULL + 0x1000ULL * (n))     /* SS tables */
#define FT(n)   (0x120000ULL + 0x1000ULL * (n))     /* FS tables */
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)

#define SID     0x0318      /* bus 3, devfn 0x18 */
#define IOVA    0x40201000ULL
#define TARGET  0x7000000ULL

static void tweak_all(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->flts = true;
    cfg->x_ssts = true;
    cfg->x_nest = true;
    cfg->x_srs = true;
    cfg->pasid_bits = 20;
}

static VtdTestCtx *ctx_new(void (*tweak)(VtdConfig *), unsigned ttm)
{
    VtdTestCtx *c = tctx_new(tweak);

    c->s->root_addr = ROOT;
    c->s->ttm = ttm;
    c->s->dmar_enabled = true;
    return c;
}

static int setup_legacy(void **state)
{
    *state = ctx_new(NULL, VTD_TTM_LEGACY);
    return 0;
}

static int setup_scalable(void **state)
{
    *state = ctx_new(tweak_all, VTD_TTM_SCALABLE);
    return 0;
}

/* SS 4-level 4K map va -> pa with leaf flags. */
static void ss_map(FakeMem *m, uint64_t va, uint64_t pa, uint64_t leaf_flags)
{
    fm_w64(m, ST(4) + 8 * IDX(va, 4), ST(3) | 3);
    fm_w64(m, ST(3) + 8 * IDX(va, 3), ST(2) | 3);
    fm_w64(m, ST(2) + 8 * IDX(va, 2), ST(1) | 3);
    fm_w64(m, ST(1) + 8 * IDX(va, 1), pa | leaf_flags);
}

/* FS 4-level 4K map, user RW, with A/D preset (no updates needed). */
static void fs_map(FakeMem *m, uint64_t va, uint64_t pa)
{
    fm_w64(m, FT(4) + 8 * IDX(va, 4), FT(3) | 0x27);
    fm_w64(m, FT(3) + 8 * IDX(va, 3), FT(2) | 0x27);
    fm_w64(m, FT(2) + 8 * IDX(va, 2), FT(1) | 0x27);
    fm_w64(m, FT(1) + 8 * IDX(va, 1), pa | 0x67);
}

/* Table writers model software: each change is followed by invalidation. */
static void legacy_ctx(VtdTestCtx *c, uint64_t lo, uint64_t hi)
{
    FakeMem *m = c->m;

    vtd_caches_flush_all(c->s);
    fm_w64(m, ROOT + 16 * (SID >> 8), CTXT | 1);
    fm_w64(m, CTXT + 16 * (SID & 0xff), lo);
    fm_w64(m, CTXT + 16 * (SID & 0xff) + 8, hi);
}

static void sm_ctx(VtdTestCtx *c, uint64_t qw0, uint64_t qw1)
{
    FakeMem *m = c->m;

    vtd_caches_flush_all(c->s);
    fm_w64(m, ROOT + 16 * (SID >> 8), CTXT | 1);
    fm_w64(m, CTXT + 32 * (SID & 0x7f), qw0);
    fm_w64(m, CTXT + 32 * (SID & 0x7f) + 8, qw1);
}

static void pasid_entry(VtdTestCtx *c, uint32_t pasid, uint64_t q0, uint64_t q1,
                        uint64_t q2)
{
    FakeMem *m = c->m;

    vtd_pasid_cache_invalidate_all(c->s);
    uint64_t e = PTBL + 64 * (pasid & 0x3f);
    fm_w64(m, PDIR + 8 * (pasid >> 6), PTBL | 1);
    fm_w64(m, e, q0);
    fm_w64(m, e + 8, q1);
    fm_w64(m, e + 16, q2);
}

static IommuRequest rq(uint64_t addr, unsigned access, uint32_t pasid)
{
    IommuRequest r = { .sid = SID, .pasid = pasid, .addr = addr,
                       .access = access, .at = IOMMU_AT_UNTRANSLATED };
    return r;
}

/* Translate; return the fault reason (0 if ok). */
static unsigned xl(VtdTestCtx *c, const IommuRequest *r, IommuResult *res, VtdFault *f)
{
    IommuResult lres;
    VtdFault lf;
    bool faulted = vtd_translate_request(c->s, r, res ? res : &lres, f ? f : &lf);
    IommuResult *out = res ? res : &lres;

    assert_int_equal(faulted, !out->ok);
    return out->ok ? 0 : out->fault_reason;
}

/* ---- TE off, interrupt window, TTM -------------------------------------- */

static void test_te_off(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(0x12345678, IOMMU_ACCESS_WRITE, IOMMU_NO_PASID);
    IommuResult res;
    VtdFault f;

    c->s->dmar_enabled = false;
    assert_false(vtd_translate_request(c->s, &r, &res, &f));
    assert_true(res.ok);
    assert_int_equal(res.out_addr, 0x12345678);
    r.at = IOMMU_AT_TRANSLATED;
    assert_false(vtd_translate_request(c->s, &r, &res, &f));
    assert_false(res.ok);
    assert_int_equal(res.fault_reason, 0);
}

static void test_interrupt_window(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(0xfee01000, IOMMU_ACCESS_WRITE, IOMMU_NO_PASID);
    IommuResult res;

    /* Even with no tables at all: never DMA-remapped. */
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_true(res.is_interrupt);
    c->s->ecap |= VTD_ECAP_DT;
    r.at = IOMMU_AT_TRANSLATION_REQ;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.perm, IOMMU_ACCESS_WRITE);
    assert_true(res.user);
    /* ECAP.NWFS=0: NW is ignored, the unit behaves as if NW were 0. */
    r.no_write = true;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.perm, IOMMU_ACCESS_WRITE);
    c->s->ecap |= VTD_ECAP_NWFS;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.perm, 0);
}

static void test_ttm(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA, IOMMU_ACCESS_READ, IOMMU_NO_PASID);
    VtdFault f;

    c->s->ttm = VTD_TTM_RESERVED;
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_RTA_1);
    c->s->ttm = VTD_TTM_ABORT_DMA;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_RTA_1);
    c->s->ecap |= VTD_ECAP_ADMS;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_RTA_4);
    c->s->ttm = VTD_TTM_SCALABLE;       /* default config: no SMTS */
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_RTA_1);
    c->s->ttm = VTD_TTM_LEGACY;
    c->s->ssirwe = true;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_RTA_1);
}

/* ---- Legacy ------------------------------------------------------------- */

static void test_legacy_ss_and_cache(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA | 0x34, IOMMU_ACCESS_WRITE, IOMMU_NO_PASID);
    IommuResult res;

    legacy_ctx(c, ST(4) | 1, 2 | (5 << 8));
    ss_map(c->m, IOVA, TARGET, 3);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET | 0x34);
    assert_int_equal(res.page_mask, 0xfff);
    assert_int_equal(c->s->stats.iotlb_hits, 0);
    assert_int_equal(vtd_iotlb_count(c->s), 1);

    /* Stale until invalidated. */
    ss_map(c->m, IOVA, TARGET + 0x1000, 3);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET | 0x34);
    assert_int_equal(c->s->stats.iotlb_hits, 1);
    vtd_iotlb_invalidate_page(c->s, 4, IOVA, 0, false);     /* other DID */
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET | 0x34);
    vtd_iotlb_invalidate_page(c->s, 5, IOVA, 0, false);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, (TARGET + 0x1000) | 0x34);
    /* The context came from the context cache. */
    assert_true(c->s->stats.ctx_hits >= 1);

    /* A cached read-only mapping does not satisfy a write: re-walk, LGN.2,
     * recorded through the real fault unit. */
    ss_map(c->m, IOVA + 0x1000, TARGET, 1);
    r.addr = IOVA + 0x1000;
    r.access = IOMMU_ACCESS_READ;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    r.access = IOMMU_ACCESS_WRITE;
    uint64_t rec = c->s->stats.faults_recorded;
    vtd_translate(c->s, &r, &res);
    assert_false(res.ok);
    assert_int_equal(res.fault_reason, VTD_FR_LGN_2);
    assert_int_equal(c->s->stats.faults_recorded, rec + 1);
}

static void test_legacy_faults(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA, IOMMU_ACCESS_READ, IOMMU_NO_PASID);
    VtdFault f;

    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LRT_1);
    fm_w64(c->m, ROOT + 16 * 3, CTXT);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LRT_2);
    fm_w64(c->m, ROOT + 16 * 3, CTXT | 1 | 2);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LRT_3);
    fm_w64(c->m, ROOT + 16 * 3, 0x990000 | 1);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LCT_1);

    legacy_ctx(c, 2, 0);             /* FPD, not present */
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_LCT_2);
    assert_true(f.fpd);
    assert_false(f.pasid_present);
    assert_int_equal(f.sid, SID);
    assert_true(f.is_read);
    uint64_t sup = c->s->stats.faults_suppressed;
    IommuResult res;
    vtd_translate(c->s, &r, &res);
    assert_int_equal(c->s->stats.faults_suppressed, sup + 1);

    legacy_ctx(c, ST(4) | 1 | 0x100, 2);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LCT_3);
    legacy_ctx(c, ST(4) | 1, 3);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LCT_4);

    /* Requests with PASID: RTA.2, PASID reported. */
    r.pasid = 5;
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_RTA_2);
    assert_true(f.pasid_present);
    assert_int_equal(f.pasid, 5);
    r.pasid = IOMMU_NO_PASID;

    /* TT=00: ATS requests blocked. */
    legacy_ctx(c, ST(4) | 1, 2);
    c->s->ecap |= VTD_ECAP_DT;
    r.at = IOMMU_AT_TRANSLATION_REQ;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LCT_5);
    /* TT=01: translated requests pass, checked against HAW/interrupts. */
    legacy_ctx(c, ST(4) | 1 | 4, 2);
    r.at = IOMMU_AT_TRANSLATED;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, IOVA);
    r.addr = 1ULL << 50;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LGN_1);
    r.addr = 0xfee00000;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LGN_4);
    /* ATS translation request to a not-present page: R=W=0, no fault. */
    fm_map(c->m, ST(4));
    r.at = IOMMU_AT_TRANSLATION_REQ;
    r.addr = IOVA;
    assert_false(vtd_translate_request(c->s, &r, &res, &f));
    assert_true(res.ok);
    assert_int_equal(res.perm, 0);

    /* Pass-through: identity, LGN.1 beyond HAW, LGN.4 in the window. */
    legacy_ctx(c, 1 | 8, 0);
    r = rq(IOVA, IOMMU_ACCESS_WRITE, IOMMU_NO_PASID);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, IOVA);
    r.addr = 1ULL << 48;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LGN_1);

    /* SS output in the interrupt range: LGN.4. */
    vtd_ctx_cache_invalidate_all(c->s);
    legacy_ctx(c, ST(4) | 1, 2 | (5 << 8));
    ss_map(c->m, IOVA, 0xfee00000, 3);
    r.addr = IOVA;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LGN_4);
    assert_int_equal(vtd_iotlb_count(c->s), 0);
    /* Beyond the AGAW: LGN.1. */
    r.addr = 1ULL << 47;
    legacy_ctx(c, ST(4) | 1, 1 | (5 << 8));
    vtd_ctx_cache_invalidate_all(c->s);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_LGN_1);
}

/* ---- Scalable ----------------------------------------------------------- */

#define PE_SS(did)  ((uint64_t)(ST(4) | 1 | (VTD_PGTT_SS << 6) | (2 << 2)))

static void test_scalable_pgtts(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA | 0x8, IOMMU_ACCESS_WRITE, IOMMU_NO_PASID);
    IommuResult res;
    VtdFault f;

    sm_ctx(c, PDIR | 1 | VTD_BIT(3), 0);
    /* PASID 0 (requests without PASID): SS. */
    pasid_entry(c, 0, PE_SS(0), 9, 0);
    ss_map(c->m, IOVA, TARGET, 3);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET | 8);

    /* PASID 7: first stage. */
    pasid_entry(c, 7, 1 | (VTD_PGTT_FS << 6), 10, FT(4));
    fs_map(c->m, IOVA, TARGET + 0x2000);
    r.pasid = 7;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, (TARGET + 0x2000) | 8);
    assert_true(res.user);

    /* PASID 8: pass-through; SGN.4 beyond HAW; SGN.8 in the window. */
    pasid_entry(c, 8, 1 | (VTD_PGTT_PT << 6), 11, 0);
    r.pasid = 8;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, IOVA | 8);
    r.addr = 1ULL << 48;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SGN_4);
    r.addr = 0xfee00000;        /* with PASID: translated, so blocked */
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SGN_8);
    assert_true(f.pasid_present);
    assert_int_equal(f.pasid, 8);

    /* PASID 9: nested; FS tables and output are GPAs mapped by SS. */
    pasid_entry(c, 9, ST(4) | 1 | (VTD_PGTT_NESTED << 6) | (2 << 2), 12,
                FT(4));
    for (unsigned l = 1; l <= 4; l++) {
        ss_map(c->m, FT(l), FT(l), 3);
    }
    fs_map(c->m, 0x600000, 0x333000);
    ss_map(c->m, 0x333000, 0x444000, 3);
    r = rq(0x600010, IOMMU_ACCESS_READ, 9);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, 0x444010);

    /* Output of an SS walk in the window: SGN.8. */
    r = rq(IOVA + 0x1000, IOMMU_ACCESS_READ, IOMMU_NO_PASID);
    ss_map(c->m, IOVA + 0x1000, 0xfee00000, 3);
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SGN_8);
    /* Requests without PASID report no PASID (unlike QEMU's PP=1 PV=0). */
    assert_false(f.pasid_present);
}

static void test_scalable_faults(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA, IOMMU_ACCESS_READ, 64);
    IommuResult res;
    VtdFault f;

    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SRT_1);
    fm_w64(c->m, ROOT + 16 * 3, CTXT);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SRT_2);
    sm_ctx(c, PDIR | 2, 0);
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SCT_2);
    assert_true(f.fpd);
    sm_ctx(c, PDIR | 1, 0);          /* PASIDE=0 */
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SCT_6);
    vtd_ctx_cache_invalidate_device(c->s, SID, 0);
    sm_ctx(c, PDIR | 1 | VTD_BIT(3), 0);
    r.pasid = 1u << 20;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SGN_10);
    r.pasid = 8192;                     /* PDTS=0: 8192 PASIDs */
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SCT_7);
    r.pasid = 0;                        /* PASID 0 is RID_PASID */
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SCT_9);
    r.pasid = 64;

    /* PASID directory entry not present, FPD accumulated. */
    fm_w64(c->m, PDIR + 8, 2);
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SPD_2);
    assert_true(f.fpd);
    fm_w64(c->m, PDIR + 8, 1 | 0x900000);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SPT_1);
    fm_w64(c->m, PDIR + 8, 1 | PTBL);
    fm_map(c->m, PTBL);
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SPT_2);
    assert_false(f.fpd);
    fm_w64(c->m, PTBL, 2);
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SPT_2);
    assert_true(f.fpd);
    fm_w64(c->m, PTBL, 1 | (6 << 6));
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SPT_4);
    fm_w64(c->m, PTBL + 24, 1);
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SPT_3);
    fm_w64(c->m, PTBL + 24, 0);

    /* Supervisor request with SRE=0: SPT.6; PR reported. */
    pasid_entry(c, 64, 1 | (VTD_PGTT_FS << 6), 10, FT(4));
    fs_map(c->m, IOVA, TARGET);
    r.priv = true;
    assert_int_equal(xl(c, &r, NULL, &f), VTD_FR_SPT_6);
    assert_true(f.priv);
    vtd_pasid_cache_invalidate_pasid(c->s, 10, 64);
    pasid_entry(c, 64, 1 | (VTD_PGTT_FS << 6), 10, FT(4) | 1);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    /* A user request hitting that cached entry still checks U/S rules. */
    r.priv = false;
    assert_int_equal(xl(c, &r, &res, NULL), 0);

    /* ATS: DTE=0 blocks translation requests (SCT.5); translated requests
     * with PASID need EPTR (SCT.10). */
    c->s->ecap |= VTD_ECAP_DT;
    r.at = IOMMU_AT_TRANSLATION_REQ;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SCT_5);
    vtd_ctx_cache_invalidate_all(c->s);
    sm_ctx(c, PDIR | 1 | VTD_BIT(3) | VTD_BIT(2), 0);
    r.at = IOMMU_AT_TRANSLATED;
    assert_int_equal(xl(c, &r, NULL, NULL), VTD_FR_SCT_10);
    r.pasid = IOMMU_NO_PASID;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, IOVA);
}

static void test_scalable_caches(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA, IOMMU_ACCESS_READ, 5);
    IommuResult res;

    sm_ctx(c, PDIR | 1 | VTD_BIT(3), 0);
    pasid_entry(c, 5, 1 | (VTD_PGTT_FS << 6), 10, FT(4));
    fs_map(c->m, IOVA, TARGET);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    r.addr = IOVA + 0x1000;
    fs_map(c->m, IOVA + 0x1000, TARGET + 0x1000);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(c->s->stats.pasid_hits, 1);
    assert_int_equal(c->s->stats.ctx_hits, 1);
    assert_int_equal(vtd_iotlb_count(c->s), 2);

    /* FS change: type-2 page-selective drops all FS entries of the DID. */
    fs_map(c->m, IOVA, TARGET + 0x5000);
    r.addr = IOVA;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET);
    vtd_iotlb_invalidate_page(c->s, 10, 0x99999000, 0, false);
    assert_int_equal(vtd_iotlb_count(c->s), 0);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.out_addr, TARGET + 0x5000);

    /* A FS walk that needed no D leaves writes to the cache only when D
     * is set; clear D and a write re-walks to set it. */
    fm_w64(c->m, FT(1) + 8 * IDX(IOVA, 1), (TARGET + 0x5000) | 0x27);
    vtd_iotlb_invalidate_pasid(c->s, 10, 5);
    assert_int_equal(xl(c, &r, &res, NULL), 0);     /* read fills */
    r.access = IOMMU_ACCESS_WRITE;
    c->s->ecap |= VTD_ECAP_SMPWCS;                  /* let the walk update */
    vtd_pasid_cache_invalidate_all(c->s);
    fm_w64(c->m, PTBL + 64 * 5 + 8, 10 | VTD_BIT(23));  /* PWSNP */
    uint64_t misses = c->s->stats.iotlb_misses;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(c->s->stats.iotlb_misses, misses + 1);
    assert_true(fm_r64(c->m, FT(1) + 8 * IDX(IOVA, 1)) & VTD_BIT(6));
    /* Not snooped and D clear: SFS.9. */
    fm_w64(c->m, FT(1) + 8 * IDX(IOVA, 1), (TARGET + 0x5000) | 0x27);
    vtd_pasid_cache_invalidate_all(c->s);
    vtd_iotlb_invalidate_all(c->s);
    fm_w64(c->m, PTBL + 64 * 5 + 8, 10);
    assert_int_equal(xl(c, &r, &res, NULL), VTD_FR_SFS_9);
    assert_int_equal(vtd_iotlb_count(c->s), 0);
}

/*
 * ATS NW flag (review-xlate): with ECAP.NWFS=0 the unit ignores NW and acts
 * as if it were 0 (spec ECAP.NWFS), so a writable page gets D set and W=1;
 * with NWFS=1 an NW=1 request sets no D, so it must not be granted W either
 * (else the device could write through a translation whose D is clear).
 */
static void test_ats_no_write(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = rq(IOVA, IOMMU_ACCESS_READ, 5);
    IommuResult res;
    uint64_t leaf = FT(1) + 8 * IDX(IOVA, 1);

    c->s->ecap |= VTD_ECAP_DT | VTD_ECAP_SMPWCS;
    sm_ctx(c, PDIR | 1 | VTD_BIT(2) | VTD_BIT(3), 0);           /* DTE PASIDE */
    pasid_entry(c, 5, 1 | (VTD_PGTT_FS << 6), 10 | VTD_BIT(23), FT(4));
    fs_map(c->m, IOVA, TARGET);
    fm_w64(c->m, leaf, TARGET | 0x27);                          /* D clear */
    r.at = IOMMU_AT_TRANSLATION_REQ;
    r.no_write = true;

    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.perm, IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE);
    assert_true(fm_r64(c->m, leaf) & VTD_BIT(6));

    fm_w64(c->m, leaf, TARGET | 0x27);
    vtd_iotlb_invalidate_all(c->s);
    c->s->ecap |= VTD_ECAP_NWFS;
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_int_equal(res.perm, IOMMU_ACCESS_READ);
    assert_false(fm_r64(c->m, leaf) & VTD_BIT(6));
    /* The entry it cached still makes a later untranslated write set D. */
    r = rq(IOVA, IOMMU_ACCESS_WRITE, 5);
    assert_int_equal(xl(c, &r, &res, NULL), 0);
    assert_true(fm_r64(c->m, leaf) & VTD_BIT(6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_te_off, setup_legacy, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_window, setup_legacy, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ttm, setup_legacy, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_ss_and_cache, setup_legacy, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_faults, setup_legacy, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_scalable_pgtts, setup_scalable, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_scalable_faults, setup_scalable, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_scalable_caches, setup_scalable, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ats_no_write, setup_scalable, tctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
