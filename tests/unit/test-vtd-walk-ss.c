/* Second-stage walker (vtd-walk-ss.c): levels, large pages, permissions,
 * reserved bits, fetch errors and SSADE A/D updates, in both modes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-walk-ss.h"

#define R   1ULL
#define W   2ULL
#define RW  3ULL
#define PS  VTD_BIT(7)
#define A   VTD_BIT(8)
#define D   VTD_BIT(9)

/* Table pages: level n lives at T(n). */
#define T(n)    (0x10000ULL + 0x1000ULL * (n))
#define IOVA    0x12345678000ULL        /* below 2^48 */
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)

/* Entry at level l of the walk for addr; tables chained T(levels)..T(1). */
static uint64_t ent_addr(uint64_t addr, unsigned l)
{
    return T(l) + 8 * IDX(addr, l);
}

static void map_chain(FakeMem *m, uint64_t addr, unsigned levels,
                      unsigned leaf_level, uint64_t leaf, const uint64_t *flags)
{
    for (unsigned l = levels; l > leaf_level; l--) {
        fm_w64(m, ent_addr(addr, l), T(l - 1) | flags[l]);
    }
    fm_w64(m, ent_addr(addr, leaf_level), leaf | flags[leaf_level]);
}

static VtdSsWalk walk(VtdSsMode mode, unsigned aw, unsigned access)
{
    VtdSsWalk w = {
        .mode = mode, .root = T(aw + 2), .aw = aw, .access = access,
        .check_perm = true,
    };
    return w;
}

static void test_4k_levels(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW, RW, RW, RW };
    VtdSsResult r;

    for (unsigned aw = 1; aw <= 2; aw++) {
        uint64_t addr = aw == 1 ? 0x7654321000ULL : IOVA;
        map_chain(c->m, addr, aw + 2, 1, 0xabcd000, flags);
        VtdSsWalk w = walk(VTD_SS_SCALABLE, aw, IOMMU_ACCESS_WRITE);
        assert_int_equal(vtd_ss_walk(c->s, &w, addr | 0x123, &r), VTD_FR_NONE);
        assert_int_equal(r.addr, 0xabcd123);
        assert_int_equal(r.page_mask, 0xfff);
        assert_int_equal(r.level, 1);
        assert_int_equal(r.perm, IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE);
        assert_true(r.dirty_ok);
    }
}

static void test_5level(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW, RW, RW, RW };
    uint64_t addr = 0x1f2345678000ULL | (1ULL << 52);
    VtdSsResult r;

    c->s->cap |= VTD_CAP_SAGAW_57 | VTD_CAP_MGAW(57);
    c->s->cap = (c->s->cap & ~VTD_MASK(21, 16)) | VTD_CAP_MGAW(57);
    c->s->cfg.aw_bits = 57;
    map_chain(c->m, addr, 5, 1, 0x5000, flags);
    VtdSsWalk w = walk(VTD_SS_SCALABLE, 3, IOMMU_ACCESS_READ);
    assert_int_equal(vtd_ss_walk(c->s, &w, addr, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0x5000);
}

static void test_large_pages(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW | PS, RW, RW, RW };
    const uint64_t flags1g[] = { 0, RW, RW, RW | PS, RW, RW };
    VtdSsResult r;
    VtdSsWalk w = walk(VTD_SS_LEGACY, 2, IOMMU_ACCESS_READ);

    /* 2 MB leaf at level 2. */
    map_chain(c->m, IOVA, 4, 2, 0x40000000ULL, flags);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA + 0x1234, &r), VTD_FR_NONE);
    assert_int_equal(r.level, 2);
    assert_int_equal(r.page_mask, 0x1fffff);
    assert_int_equal(r.addr, 0x40000000ULL + ((IOVA + 0x1234) & 0x1fffff));
    /* Reserved bits 20:12 of a 2 MB leaf. */
    fm_w64(c->m, ent_addr(IOVA, 2), 0x40000000ULL | RW | PS | 0x1000);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LSS_2);
    /* Unsupported size: PS reserved. */
    fm_w64(c->m, ent_addr(IOVA, 2), 0x40000000ULL | RW | PS);
    c->s->cap &= ~VTD_CAP_SSLPS_2M;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LSS_2);
    w.mode = VTD_SS_SCALABLE;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_3);

    /* 1 GB leaf at level 3. */
    map_chain(c->m, IOVA, 4, 3, 0x80000000ULL, flags1g);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    assert_int_equal(r.level, 3);
    assert_int_equal(r.page_mask, 0x3fffffff);
    fm_w64(c->m, ent_addr(IOVA, 3), 0x80000000ULL | RW | PS | 0x200000);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_3);
    fm_w64(c->m, ent_addr(IOVA, 3), 0x80000000ULL | RW | PS);
    c->s->cap &= ~VTD_CAP_SSLPS_1G;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_3);

    /* PS is reserved in a PML4E. */
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    fm_w64(c->m, ent_addr(IOVA, 4), T(3) | RW | PS);
    c->s->cap |= VTD_CAP_SSLPS_1G | VTD_CAP_SSLPS_2M;
    fm_w64(c->m, ent_addr(IOVA, 3), T(2) | RW);
    fm_w64(c->m, ent_addr(IOVA, 2), T(1) | RW);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_3);
}

static void test_permissions(void **state)
{
    VtdTestCtx *c = *state;
    uint64_t flags[] = { 0, RW, RW, RW, R, RW };
    VtdSsResult r;

    /* R/W is the AND across levels. */
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    VtdSsWalk w = walk(VTD_SS_SCALABLE, 2, IOMMU_ACCESS_READ);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    assert_int_equal(r.perm, IOMMU_ACCESS_READ);
    w.access = IOMMU_ACCESS_WRITE;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SGN_6);
    w.access = IOMMU_ACCESS_ATOMIC;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SGN_6);
    w.mode = VTD_SS_LEGACY;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LGN_2);
    /* Without check_perm the walker only reports the rights. */
    w.check_perm = false;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    assert_int_equal(r.perm, IOMMU_ACCESS_READ);

    /* Write-only leaf: reads denied. */
    flags[4] = RW;
    flags[1] = W;
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    w = walk(VTD_SS_LEGACY, 2, IOMMU_ACCESS_READ);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LGN_3);
    w.mode = VTD_SS_SCALABLE;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SGN_7);

    /* R at one level, W at another: cumulative none -> SSS.2. */
    flags[4] = R;
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_2);
}

static void test_not_present_and_fetch(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW, RW, RW, RW };
    VtdSsResult r;
    VtdSsWalk w = walk(VTD_SS_SCALABLE, 2, IOMMU_ACCESS_WRITE);

    /* Root table not in RAM. */
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_4);
    w.mode = VTD_SS_LEGACY;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LCT_4);

    /* Lower table not in RAM. */
    fm_w64(c->m, ent_addr(IOVA, 4), 0x7770000ULL | RW);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LSS_1);
    w.mode = VTD_SS_SCALABLE;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_1);

    /* Not present (R=W=0) at level 2, even with other bits set. */
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    fm_w64(c->m, ent_addr(IOVA, 2), T(1) | VTD_BIT(62) | VTD_BIT(11));
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_2);
    w.mode = VTD_SS_LEGACY;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LGN_2);
    w.access = IOMMU_ACCESS_READ;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_LGN_3);
}

static void test_address_width(void **state)
{
    VtdTestCtx *c = *state;
    VtdSsResult r;
    VtdSsWalk w = walk(VTD_SS_LEGACY, 1, IOMMU_ACCESS_READ);

    assert_int_equal(vtd_ss_walk(c->s, &w, 1ULL << 39, &r), VTD_FR_LGN_1);
    w.mode = VTD_SS_SCALABLE;
    assert_int_equal(vtd_ss_walk(c->s, &w, 1ULL << 39, &r), VTD_FR_SGN_5);
    w.aw = 2;
    assert_int_equal(vtd_ss_walk(c->s, &w, 1ULL << 48, &r), VTD_FR_SGN_5);
    /* MGAW smaller than the AGAW limits the input too. */
    c->s->cap = (c->s->cap & ~VTD_MASK(21, 16)) | VTD_CAP_MGAW(39);
    assert_int_equal(vtd_ss_walk(c->s, &w, 1ULL << 40, &r), VTD_FR_SGN_5);
}

static void test_reserved_bits(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW, RW, RW, RW };
    VtdSsResult r;
    VtdSsWalk w = walk(VTD_SS_SCALABLE, 2, IOMMU_ACCESS_READ);
    const uint64_t iova = 0x7654321000ULL;

    map_chain(c->m, iova, 4, 1, 0x5000, flags);
    /* Ignored bits: 10, 52-60, 61, 63, and 2-6 / PS in the PTE. */
    fm_w64(c->m, ent_addr(iova, 1), 0x5000 | RW | VTD_BIT(10) | VTD_MASK(60, 52) |
           VTD_BIT(61) | VTD_BIT(63) | 0x7c | PS);
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0x5000);

    /* SNP (bit 11): reserved on a leaf unless SC, always on a non-leaf. */
    fm_w64(c->m, ent_addr(iova, 1), 0x5000 | RW | VTD_BIT(11));
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_SSS_3);
    c->s->ecap |= VTD_ECAP_SC;
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_NONE);
    fm_w64(c->m, ent_addr(iova, 1), 0x5000 | RW);
    fm_w64(c->m, ent_addr(iova, 2), T(1) | RW | VTD_BIT(11));
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_SSS_3);
    fm_w64(c->m, ent_addr(iova, 2), T(1) | RW);

    /* Bit 62 (TM): reserved unless stale-tm with device-iotlb. */
    fm_w64(c->m, ent_addr(iova, 1), 0x5000 | RW | VTD_BIT(62));
    w.mode = VTD_SS_LEGACY;
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_LSS_2);
    c->s->cfg.stale_tm = true;
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_LSS_2);
    c->s->ecap |= VTD_ECAP_DT;
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_NONE);

    /* Address bits 51:HAW. */
    fm_w64(c->m, ent_addr(iova, 1), 0x5000 | RW | (1ULL << 47));
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r), VTD_FR_NONE);
    c->s->cfg.aw_bits = 39;
    assert_int_equal(vtd_ss_walk(c->s, &w, iova, &r),
                     VTD_FR_LSS_2);
}

static void tweak_ssads(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->x_smpwcs = true;
    cfg->x_ssads = true;
}

static void test_ssade(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t flags[] = { 0, RW, RW, RW, RW, RW };
    VtdSsResult r;
    VtdSsWalk w = walk(VTD_SS_SCALABLE, 2, IOMMU_ACCESS_READ);

    vtd_free(c->s);
    c->s = tvtd_new(c->m, tweak_ssads);
    w.ssade = true;
    w.snooped = true;

    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    for (unsigned l = 1; l <= 4; l++) {
        assert_true(fm_r64(c->m, ent_addr(IOVA, l)) & A);
    }
    assert_false(fm_r64(c->m, ent_addr(IOVA, 1)) & D);
    assert_false(r.dirty_ok);
    w.access = IOMMU_ACCESS_WRITE;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    assert_true(fm_r64(c->m, ent_addr(IOVA, 1)) & D);
    assert_false(fm_r64(c->m, ent_addr(IOVA, 2)) & D);
    assert_true(r.dirty_ok);

    /* Everything already set: no update, so no snoop needed. */
    unsigned writes = c->m->writes;
    w.snooped = false;
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_NONE);
    assert_int_equal(c->m->writes, writes);

    /* A clear and walk not snooped: SSS.5. */
    map_chain(c->m, IOVA, 4, 1, 0x5000, flags);
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_5);

    /* Update refused by memory: SSS.6. */
    w.snooped = true;
    fm_set_ro(c->m, T(2));
    assert_int_equal(vtd_ss_walk(c->s, &w, IOVA, &r), VTD_FR_SSS_6);

    /* No D for a write the tables refuse. */
    const uint64_t ro[] = { 0, R | A, RW | A, RW | A, RW | A, RW };
    map_chain(c->m, 0x200000, 4, 1, 0x5000, ro);
    assert_int_equal(vtd_ss_walk(c->s, &w, 0x200000, &r), VTD_FR_SGN_6);
    assert_false(fm_r64(c->m, ent_addr(0x200000, 1)) & D);

    /* Legacy walks never touch A/D. */
    map_chain(c->m, 0x400000, 4, 1, 0x5000, flags);
    w.mode = VTD_SS_LEGACY;
    w.access = IOMMU_ACCESS_WRITE;
    writes = c->m->writes;
    assert_int_equal(vtd_ss_walk(c->s, &w, 0x400000, &r), VTD_FR_NONE);
    assert_int_equal(c->m->writes, writes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_4k_levels, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_5level, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_large_pages, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_permissions, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_not_present_and_fetch, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_address_width, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_reserved_bits, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ssade, tctx_setup, tctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
