/*
 * The unit's cache of second-stage translations of first-stage table pages
 * (vtd-nest-cache.c), seen through nested translations: a cached entry is
 * used on the next IOTLB miss (a guest change it did not invalidate is not
 * seen yet), every invalidation that names the SS mapping drops it, others
 * keep it, and faults are never cached.
 *
 * Layout: 4 KiB SS pages, so each FS table page has its own SS leaf. The
 * FS tables FT4..FT1 are GPAs 0x400000..0x403000; REMAP moves FT1's page to
 * another host page whose entry for VA points at OUT2 instead of OUT1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-inval.h"
#include "hw/intel-iommu/vtd-nest-cache.h"
#include "hw/intel-iommu/vtd-tables.h"
#include "hw/intel-iommu/vtd-translate.h"

#define ROOT    0x100000ULL
#define CTXT    0x101000ULL
#define PDIR    0x102000ULL
#define PTBL    0x103000ULL
#define ST4     0x110000ULL
#define ST3     0x111000ULL
#define ST2     0x112000ULL
#define ST1     0x113000ULL
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)

#define FT(n)       (0x400000ULL + 0x1000ULL * (4 - (n)))  /* FT(4) first */
#define FT_HPA(n)   (0x800000ULL + 0x1000ULL * (4 - (n)))
#define FT1_HPA2    0x810000ULL     /* where REMAP moves FT1 */
#define OUT1        0x480000ULL
#define OUT1_HPA    0x900000ULL
#define OUT2        0x481000ULL
#define OUT2_HPA    0x901000ULL
#define FAR_GPA     0x1000000ULL    /* a range no table lives in */

#define SID     0x0010
#define DID     7
#define VA      0x40000000ULL

#define SS_RW   3ULL
#define SS_A    (1ULL << 8)
#define SS_D    (1ULL << 9)

typedef struct Ctx {
    FakeMem *m;
    VtdState *s;
    bool snooped;       /* PWSNP=1 (unit has SMPWCS): A/D updates allowed */
    bool ssade;
} Ctx;

static void tweak_nested_snooped(VtdConfig *cfg)
{
    tweak_nested_unit(cfg);
    cfg->x_smpwcs = true;
}

static void tweak_nested_ssad(VtdConfig *cfg)
{
    tweak_nested_snooped(cfg);
    cfg->x_ssads = true;
}

/* SS leaf for gpa: every GPA used lies in one 2 MiB region, whose upper
 * SS levels build() writes once. */
static void ss_map(Ctx *c, uint64_t gpa, uint64_t hpa, uint64_t perm)
{
    fm_w64(c->m, ST1 + 8 * IDX(gpa, 1), hpa | perm);
}

static uint64_t ss_pte(Ctx *c, uint64_t gpa)
{
    return fm_r64(c->m, ST1 + 8 * IDX(gpa, 1));
}

static void build(Ctx *c)
{
    FakeMem *m = c->m;
    uint64_t pe0 = ST4 | 1 | (VTD_PGTT_NESTED << 6) | (2 << 2);

    fm_w64(m, ROOT, CTXT | 1);
    fm_w64(m, CTXT + 32 * (SID & 0x7f), PDIR | 1);
    fm_w64(m, PDIR, PTBL | 1);
    fm_w64(m, PTBL, pe0 | (c->ssade ? 1ULL << 9 : 0));
    fm_w64(m, PTBL + 8, DID | (c->snooped ? 1ULL << 23 : 0));  /* PWSNP */
    fm_w64(m, PTBL + 16, FT(4));

    fm_w64(m, ST4 + 8 * IDX(FT(4), 4), ST3 | SS_RW);
    fm_w64(m, ST3 + 8 * IDX(FT(4), 3), ST2 | SS_RW);
    fm_w64(m, ST2 + 8 * IDX(FT(4), 2), ST1 | SS_RW);

    for (unsigned l = 4; l >= 1; l--) {
        ss_map(c, FT(l), FT_HPA(l), SS_RW);
    }
    ss_map(c, OUT1, OUT1_HPA, SS_RW);
    ss_map(c, OUT2, OUT2_HPA, SS_RW);
    fm_w64(m, OUT1_HPA, 0);
    fm_w64(m, OUT2_HPA, 0);

    /* FS entries (A/D preset) live at their tables' HPAs. */
    for (unsigned l = 4; l > 1; l--) {
        fm_w64(m, FT_HPA(l) + 8 * IDX(VA, l), FT(l - 1) | 0x27);
    }
    fm_w64(m, FT_HPA(1) + 8 * IDX(VA, 1), OUT1 | 0x67);
    fm_w64(m, FT1_HPA2 + 8 * IDX(VA, 1), OUT2 | 0x67);
}

/* The guest moves FT1's GPA page to other host memory (no invalidation). */
static void remap_ft1(Ctx *c)
{
    ss_map(c, FT(1), FT1_HPA2, SS_RW);
}

static int setup_with(void **state, void (*tweak)(VtdConfig *), bool snooped,
                      bool ssade)
{
    Ctx *c = g_new0(Ctx, 1);

    c->m = fm_new();
    c->s = tvtd_new(c->m, tweak);
    assert_non_null(c->s);
    c->snooped = snooped;
    c->ssade = ssade;
    c->s->root_addr = ROOT;
    c->s->ttm = VTD_TTM_SCALABLE;
    c->s->dmar_enabled = true;
    build(c);
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, tweak_nested_unit, false, false);
}

static int setup_snooped(void **state)
{
    return setup_with(state, tweak_nested_snooped, true, false);
}

static int setup_ssad(void **state)
{
    return setup_with(state, tweak_nested_ssad, true, true);
}

static int teardown(void **state)
{
    Ctx *c = *state;

    vtd_free(c->s);
    fm_free(c->m);
    g_free(c);
    return 0;
}

/* Translate VA; returns the output address, or 0 with *fr set on a fault. */
static uint64_t xl(Ctx *c, unsigned access, unsigned *fr)
{
    IommuRequest r = { .sid = SID, .pasid = IOMMU_NO_PASID, .addr = VA,
                       .access = access, .at = IOMMU_AT_UNTRANSLATED };
    IommuResult res;
    VtdFault f;
    bool faulted = vtd_translate_request(c->s, &r, &res, &f);

    assert_int_equal(faulted, !res.ok);
    if (fr) {
        *fr = res.ok ? 0 : res.fault_reason;
    }
    return res.ok ? res.out_addr : 0;
}

static uint64_t xl_read(Ctx *c)
{
    return xl(c, IOMMU_ACCESS_READ, NULL);
}

static uint64_t ps_hits(Ctx *c)
{
    VtdStats st;

    vtd_get_stats(c->s, &st);
    return st.nest_ps_hits;
}

static uint64_t ps_misses(Ctx *c)
{
    VtdStats st;

    vtd_get_stats(c->s, &st);
    return st.nest_ps_misses;
}

static void dispatch(Ctx *c, VtdInvalidation inv)
{
    if (!inv.pasid && inv.kind != VTD_INVAL_PASID_IOTLB &&
        inv.kind != VTD_INVAL_PASID_CACHE) {
        inv.pasid = IOMMU_NO_PASID;
    }
    assert_true(vtd_inval_dispatch(c->s, &inv));
}

/* Type-6 PASID-selective for the requests' RID_PASID (0): drops the
 * nested IOTLB entry, names no SS change, so the cache keeps its entries. */
static void drop_iotlb_entry(Ctx *c)
{
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_PASID_IOTLB,
                                   .gran = VTD_INVAL_GRAN_PASID,
                                   .did = DID, .pasid = 0 });
}

static void type2_page(Ctx *c, uint16_t did, uint64_t addr, unsigned am,
                       bool ih)
{
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_IOTLB,
                                   .gran = VTD_INVAL_GRAN_PAGE, .did = did,
                                   .addr = addr, .am = (uint8_t)am, .ih = ih });
}

/* Fill the cache with FT4..FT1, then move FT1 without telling the unit:
 * the next miss still uses the cached (old) FT1 translation. */
static void fill_then_remap(Ctx *c)
{
    uint64_t hits;

    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(ps_misses(c), 4);
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    remap_ft1(c);
    drop_iotlb_entry(c);
    hits = ps_hits(c);
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(ps_hits(c) - hits, 4);
}

/* After an invalidation that must drop FT1: the new mapping is used, and
 * `kept` of the other three table pages still came from the cache. */
static void expect_new_mapping(Ctx *c, unsigned kept)
{
    uint64_t hits = ps_hits(c);

    drop_iotlb_entry(c);
    assert_int_equal(xl_read(c), OUT2_HPA);
    assert_int_equal(ps_hits(c) - hits, kept);
}

/* After an invalidation that may keep FT1: still the old mapping, all four
 * table pages from the cache. */
static void expect_kept(Ctx *c)
{
    uint64_t hits = ps_hits(c);

    drop_iotlb_entry(c);
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(ps_hits(c) - hits, 4);
}

/* ---- Use ------------------------------------------------------------------ */

static void test_cached_translation_used(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    /* Another VA under the same tables is an IOTLB miss served by it too. */
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
}

/* ---- Invalidations that drop ------------------------------------------- */

static void test_type2_page_ih0_drops(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    type2_page(c, DID, FT(1), 0, false);
    assert_int_equal(vtd_nest_ps_count(c->s), 3);
    expect_new_mapping(c, 3);
}

static void test_type2_page_ih1_drops(void **state)
{
    Ctx *c = *state;

    /* IH=1 may keep paging-structure entries, but these are SS leaves. */
    fill_then_remap(c);
    type2_page(c, DID, FT(1), 0, true);
    expect_new_mapping(c, 3);
}

static void test_type2_page_am_covers(void **state)
{
    Ctx *c = *state;

    /* AM=9 from an unaligned address: the low bits are ignored and the
     * whole 2 MiB with all four table pages goes. */
    fill_then_remap(c);
    type2_page(c, DID, FT(2) + 0x5000, 9, false);
    assert_int_equal(vtd_nest_ps_count(c->s), 0);
    expect_new_mapping(c, 0);
}

static void test_type2_domain_drops(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_IOTLB,
                                   .gran = VTD_INVAL_GRAN_DOMAIN, .did = DID });
    expect_new_mapping(c, 0);
}

static void test_type2_global_drops(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_IOTLB,
                                   .gran = VTD_INVAL_GRAN_GLOBAL, .did = 99 });
    expect_new_mapping(c, 0);
}

/* Register-based IOTLB invalidation is a legacy-mode command (facts §3.4):
 * the unit is switched to legacy to issue it, as a guest could after an
 * SRTP on a unit without ESRTPS, then back. */
static void reg_iotlb(Ctx *c, unsigned iirg, uint64_t iva)
{
    uint64_t cmd = VTD_IOTLB_IVT | ((uint64_t)iirg << 60) |
                   ((uint64_t)DID << 32);

    c->s->ttm = VTD_TTM_LEGACY;
    vtd_mmio_write(c->s, VTD_IVA_OFFSET, iva, 8);
    vtd_mmio_write(c->s, VTD_IOTLB_OFFSET, cmd, 8);
    assert_false(vtd_mmio_read(c->s, VTD_IOTLB_OFFSET, 8) & VTD_IOTLB_IVT);
    assert_int_not_equal((vtd_mmio_read(c->s, VTD_IOTLB_OFFSET, 8) >> 57) & 3,
                         0);
    c->s->ttm = VTD_TTM_SCALABLE;
}

static void test_register_page_drops(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    reg_iotlb(c, 3, FT(1) | VTD_IVA_IH);
    assert_int_equal(vtd_nest_ps_count(c->s), 3);
    expect_new_mapping(c, 3);
}

static void test_register_domain_drops(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    reg_iotlb(c, 2, 0);
    assert_int_equal(vtd_nest_ps_count(c->s), 0);
    expect_new_mapping(c, 0);
}

static void test_commands_drop(void **state)
{
    Ctx *c = *state;

    /* TE off (scalable mode requires the caches flushed). */
    fill_then_remap(c);
    vtd_mmio_write(c->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    vtd_mmio_write(c->s, DMAR_GCMD_REG, 0, 4);
    assert_int_equal(vtd_nest_ps_count(c->s), 0);
    /* Reset. */
    c->s->dmar_enabled = true;
    assert_int_equal(xl_read(c), OUT2_HPA);
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    vtd_reset(c->s);
    assert_int_equal(vtd_nest_ps_count(c->s), 0);
}

/* ---- Invalidations that keep ------------------------------------------- */

static void test_other_did_keeps(void **state)
{
    Ctx *c = *state;

    fill_then_remap(c);
    type2_page(c, DID + 1, FT(1), 0, false);
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_IOTLB,
                                   .gran = VTD_INVAL_GRAN_DOMAIN,
                                   .did = DID + 1 });
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    expect_kept(c);
}

static void test_other_range_keeps(void **state)
{
    Ctx *c = *state;

    /* In scalable mode this drops every nested IOTLB entry of the DID, but
     * it names no table page's SS mapping. */
    fill_then_remap(c);
    type2_page(c, DID, FAR_GPA, 4, false);
    type2_page(c, DID, FT(1) + 0x1000, 0, false);  /* the next page */
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    expect_kept(c);
}

static void test_first_stage_kinds_keep(void **state)
{
    Ctx *c = *state;

    /* PASID-based IOTLB and PASID-cache invalidations speak of FS tables
     * and PASID entries; the FS entries are re-read anyway. */
    fill_then_remap(c);
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_PASID_IOTLB,
                                   .gran = VTD_INVAL_GRAN_PAGE, .did = DID,
                                   .pasid = 0, .addr = VA });
    dispatch(c, (VtdInvalidation){ .kind = VTD_INVAL_PASID_CACHE,
                                   .gran = VTD_INVAL_GRAN_PASID, .did = DID,
                                   .pasid = 0 });
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    expect_kept(c);
}

/* ---- SS last-level tables (nest_pde) ----------------------------------- */

static void test_pde_cached_until_range_invalidated(void **state)
{
    Ctx *c = *state;
    const uint64_t st1_new = 0x114000ULL;
    uint64_t hits;

    /* One walk records the region's SS level-1 table. */
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(vtd_nest_pde_count(c->s), 1);
    /* The guest swaps in another level-1 table in which OUT1 maps to
     * OUT2's host page, without invalidating: the recorded table is used. */
    for (unsigned i = 0; i < 512; i++) {
        fm_w64(c->m, st1_new + 8 * i, fm_r64(c->m, ST1 + 8 * i));
    }
    fm_w64(c->m, st1_new + 8 * IDX(OUT1, 1), OUT2_HPA | SS_RW);
    fm_w64(c->m, ST2 + 8 * IDX(OUT1, 2), st1_new | SS_RW);
    drop_iotlb_entry(c);
    assert_int_equal(xl_read(c), OUT1_HPA);
    /* Another DID, another region: kept. */
    type2_page(c, DID + 1, OUT1, 0, false);
    type2_page(c, DID, FAR_GPA, 0, false);
    assert_int_equal(vtd_nest_pde_count(c->s), 1);
    assert_int_equal(xl_read(c), OUT1_HPA);
    /* Any page of the region, even with IH=1: the new table is walked,
     * while the FS table pages' own SS translations stay cached. */
    type2_page(c, DID, OUT1, 0, true);
    assert_int_equal(vtd_nest_pde_count(c->s), 0);
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
    hits = ps_hits(c);
    assert_int_equal(xl_read(c), OUT2_HPA);
    assert_int_equal(ps_hits(c) - hits, 4);
}

static void test_pde_keeps_rights_above(void **state)
{
    Ctx *c = *state;
    unsigned fr;

    /* The region's SS level-2 entry is read-only: a walk resumed at level
     * 1 must still deny writes. */
    fm_w64(c->m, ST2 + 8 * IDX(OUT1, 2), ST1 | 1);
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(vtd_nest_pde_count(c->s), 1);
    assert_int_equal(xl(c, IOMMU_ACCESS_WRITE, &fr), 0);
    assert_int_equal(fr, VTD_FR_SGN_6);
}

/* ---- Faults ------------------------------------------------------------- */

static void test_faults_not_cached(void **state)
{
    Ctx *c = *state;
    unsigned fr;

    /* FT3's page not present in the SS: the walk stops there. */
    fm_w64(c->m, ST1 + 8 * IDX(FT(3), 1), 0);
    assert_int_equal(xl(c, IOMMU_ACCESS_READ, &fr), 0);
    assert_int_equal(fr, VTD_FR_SSS_2);
    assert_int_equal(vtd_nest_ps_count(c->s), 1);   /* FT4 only */
    assert_int_equal(vtd_nest_pde_count(c->s), 1);  /* from FT4's walk */
    /* Not-present to present needs no invalidation: seen at once. */
    ss_map(c, FT(3), FT_HPA(3), SS_RW);
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(vtd_nest_ps_count(c->s), 4);
}

static void test_permission_fault_walks_again(void **state)
{
    Ctx *c = *state;
    uint64_t misses;
    unsigned fr;

    /* FT1's page read-only in the SS and FT1's entry without A: the table
     * read is cached, the A update needs SS write and faults (SFS.8), and
     * keeps faulting: the cached read-only entry never answers a write. */
    fm_w64(c->m, FT_HPA(1) + 8 * IDX(VA, 1), OUT1 | 0x47);     /* A=0 */
    ss_map(c, FT(1), FT_HPA(1), 1);
    assert_int_equal(xl(c, IOMMU_ACCESS_READ, &fr), 0);
    assert_int_equal(fr, VTD_FR_SFS_8);
    misses = ps_misses(c);
    assert_int_equal(xl(c, IOMMU_ACCESS_READ, &fr), 0);
    assert_int_equal(fr, VTD_FR_SFS_8);
    assert_true(ps_misses(c) > misses);
    assert_int_equal(fm_r64(c->m, FT_HPA(1) + 8 * IDX(VA, 1)) & 0x20, 0);
    /* Granting W (an SS change: invalidate) lets the update through. */
    ss_map(c, FT(1), FT_HPA(1), SS_RW);
    type2_page(c, DID, FT(1), 0, false);
    assert_int_equal(xl_read(c), OUT1_HPA);
    assert_int_equal(fm_r64(c->m, FT_HPA(1) + 8 * IDX(VA, 1)) & 0x20, 0x20);
}

/* ---- SSADE ------------------------------------------------------------- */

static void test_ssade_cached_after_ad_set(void **state)
{
    Ctx *c = *state;

    /* With SSADE, FS table reads are SS writes: the filling walk sets A
     * and D on each table page's SS leaf, so a hit needs no update. */
    fill_then_remap(c);
    for (unsigned l = 4; l >= 2; l--) {
        assert_int_equal(ss_pte(c, FT(l)) & (SS_A | SS_D), SS_A | SS_D);
    }
    /* FT1's new leaf has not been walked yet: no A/D. */
    assert_int_equal(ss_pte(c, FT(1)) & (SS_A | SS_D), 0);
    type2_page(c, DID, FT(1), 0, false);
    expect_new_mapping(c, 3);
    assert_int_equal(ss_pte(c, FT(1)) & (SS_A | SS_D), SS_A | SS_D);
}

static void test_ssade_read_only_table_faults(void **state)
{
    Ctx *c = *state;
    unsigned fr;

    /* SSADE: reading an FS table needs SS R and W; a read-only table page
     * faults (SFS.7) on every attempt, nothing cached for it. */
    ss_map(c, FT(2), FT_HPA(2), 1);
    assert_int_equal(xl(c, IOMMU_ACCESS_READ, &fr), 0);
    assert_int_equal(fr, VTD_FR_SFS_7);
    assert_int_equal(vtd_nest_ps_count(c->s), 2);   /* FT4, FT3 */
    assert_int_equal(xl(c, IOMMU_ACCESS_READ, &fr), 0);
    assert_int_equal(fr, VTD_FR_SFS_7);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TA(fn) cmocka_unit_test_setup_teardown(fn, setup_ssad, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cached_translation_used),
        T(test_type2_page_ih0_drops),
        T(test_type2_page_ih1_drops),
        T(test_type2_page_am_covers),
        T(test_type2_domain_drops),
        T(test_type2_global_drops),
        T(test_register_page_drops),
        T(test_register_domain_drops),
        T(test_commands_drop),
        T(test_other_did_keeps),
        T(test_other_range_keeps),
        T(test_first_stage_kinds_keep),
        T(test_pde_cached_until_range_invalidated),
        T(test_pde_keeps_rights_above),
        T(test_faults_not_cached),
        cmocka_unit_test_setup_teardown(test_permission_fault_walks_again,
                                        setup_snooped, teardown),
        TA(test_ssade_cached_after_ad_set),
        TA(test_ssade_read_only_table_faults),
    };
#undef T
#undef TA
    return cmocka_run_group_tests(tests, NULL, NULL);
}
