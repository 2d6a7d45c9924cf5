/* First-stage walker (vtd-walk-fs.c): levels, canonical check, reserved
 * bits, U/S and R/W rules, A/EA/D write-back, and nested walks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-walk-fs.h"

#define P   VTD_BIT(0)
#define RW  VTD_BIT(1)
#define US  VTD_BIT(2)
#define A   VTD_BIT(5)
#define D   VTD_BIT(6)
#define PS  VTD_BIT(7)
#define EA  VTD_BIT(10)
#define ALL (P | RW | US)

#define T(n)    (0x20000ULL + 0x1000ULL * (n))
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)
#define VA      0x00007f1234567000ULL

static void tweak(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->flts = true;
    cfg->x_smpwcs = true;
}

static int setup(void **state)
{
    *state = tctx_new(tweak);
    return 0;
}

/* Location (GPA) of the level-l entry for va; tables at base + T(l). */
static uint64_t ent(uint64_t base, uint64_t va, unsigned l)
{
    return base + T(l) + 8 * IDX(va, l);
}

/* Build the chain at host address hbase whose pointers say gbase. */
static void map_chain(FakeMem *m, uint64_t hbase, uint64_t gbase, uint64_t va,
                      unsigned levels, unsigned leaf_level, uint64_t leaf,
                      const uint64_t *flags)
{
    for (unsigned l = levels; l > leaf_level; l--) {
        fm_w64(m, ent(hbase, va, l), (gbase + T(l - 1)) | flags[l]);
    }
    fm_w64(m, ent(hbase, va, leaf_level), leaf | flags[leaf_level]);
}

static VtdFsWalk walk(unsigned access, bool priv)
{
    VtdFsWalk w = {
        .root = T(4), .levels = 4, .priv = priv, .access = access,
        .check_perm = true, .snooped = true,
    };
    return w;
}

static void test_basic_4k_and_ad(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f[] = { 0, ALL, ALL, ALL, ALL, ALL };
    VtdFsResult r;

    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA | 0x42, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0x9042);
    assert_int_equal(r.page_mask, 0xfff);
    assert_int_equal(r.perm_user, IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE);
    assert_true(r.user);
    for (unsigned l = 1; l <= 4; l++) {
        uint64_t e = fm_r64(c->m, ent(0, VA, l));
        assert_true(e & A);
        assert_false(e & D);
        assert_false(e & EA);
    }
    assert_false(r.dirty_ok);
    w.access = IOMMU_ACCESS_WRITE;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_true(fm_r64(c->m, ent(0, VA, 1)) & D);
    assert_false(fm_r64(c->m, ent(0, VA, 2)) & D);
    assert_true(r.dirty_ok);

    /* EA with EAFE. */
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    w.eafe = true;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    for (unsigned l = 1; l <= 4; l++) {
        assert_true(fm_r64(c->m, ent(0, VA, l)) & EA);
    }
}

static void test_5level_and_canonical(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f[] = { 0, ALL, ALL, ALL, ALL, ALL };
    uint64_t va5 = 0x00ff123456789000ULL;
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);

    assert_int_equal(vtd_fs_walk(c->s, &w, 0x0000800000000000ULL, &r),
                     VTD_FR_SGN_1);
    assert_int_equal(vtd_fs_walk(c->s, &w, 0xffff7fffffffffffULL, &r),
                     VTD_FR_SGN_1);
    /* Upper-half canonical addresses walk normally (here: not present). */
    assert_int_equal(vtd_fs_walk(c->s, &w, 0xffff800000000000ULL, &r),
                     VTD_FR_SFS_4);
    map_chain(c->m, 0, 0, va5, 5, 1, 0xa000, f);
    w.root = T(5);
    w.levels = 5;
    assert_int_equal(vtd_fs_walk(c->s, &w, va5, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0xa000);
    assert_int_equal(vtd_fs_walk(c->s, &w, 0x0100000000000000ULL, &r),
                     VTD_FR_SGN_1);
}

static void test_faults(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f[] = { 0, ALL, ALL, ALL, ALL, ALL };
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);

    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_4);
    fm_w64(c->m, ent(0, VA, 4), 0x8880000ULL | ALL);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_1);
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    fm_w64(c->m, ent(0, VA, 2), T(1) | RW | US);        /* P=0 */
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_2);
    /* PS reserved in a PML4E. */
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    fm_w64(c->m, ent(0, VA, 4), T(3) | ALL | PS);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_3);
    /* Bits 51:HAW. */
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000 | (1ULL << 49), f);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_3);
    /* 63:52 ignored (bit 63 was XD), G ignored. */
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000 | VTD_BIT(63) | VTD_BIT(55) |
              VTD_BIT(8), f);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0x9000);
}

static void test_large_pages(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f2m[] = { 0, ALL, ALL | PS, ALL, ALL, ALL };
    const uint64_t f1g[] = { 0, ALL, ALL, ALL | PS, ALL, ALL };
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);

    map_chain(c->m, 0, 0, VA, 4, 2, 0x40000000ULL | VTD_BIT(12), f2m);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.page_mask, 0x1fffff);
    assert_int_equal(r.addr, 0x40000000ULL + (VA & 0x1fffff));
    map_chain(c->m, 0, 0, VA, 4, 2, 0x40000000ULL | VTD_BIT(13), f2m);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_3);

    map_chain(c->m, 0, 0, VA, 4, 3, 0x80000000ULL, f1g);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.page_mask, 0x3fffffff);
    map_chain(c->m, 0, 0, VA, 4, 3, 0x80000000ULL | VTD_BIT(29), f1g);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_3);
    map_chain(c->m, 0, 0, VA, 4, 3, 0x80000000ULL, f1g);
    c->s->cap &= ~VTD_CAP_FS1GP;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_3);
}

static void test_access_rights(void **state)
{
    VtdTestCtx *c = *state;
    uint64_t f[] = { 0, ALL, ALL, P | RW, ALL, ALL };   /* level 3 U/S=0 */
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);

    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SGN_2);
    w.priv = true;      /* supervisor: U/S not checked */
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.perm_user, 0);
    assert_false(r.user);

    f[3] = ALL;
    f[2] = P | US;      /* read-only at level 2 */
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    w = walk(IOMMU_ACCESS_WRITE, false);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SGN_6);
    assert_false(fm_r64(c->m, ent(0, VA, 1)) & D);
    w.access = IOMMU_ACCESS_READ;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.perm_user, IOMMU_ACCESS_READ);
    /* Supervisor writes: allowed with WPE=0, honour R/W with WPE=1. */
    w = walk(IOMMU_ACCESS_WRITE, true);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_true(fm_r64(c->m, ent(0, VA, 1)) & D);
    w.wpe = true;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SGN_6);
    assert_int_equal(r.perm_super, IOMMU_ACCESS_READ);
    /* Without check_perm: rights only. */
    w.check_perm = false;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
}

static void test_ad_faults(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f[] = { 0, ALL, ALL, ALL, ALL, ALL };
    const uint64_t fad[] = { 0, ALL | A | D, ALL | A, ALL | A, ALL | A, ALL };
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_READ, false);

    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    w.snooped = false;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_9);
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, fad);
    w.access = IOMMU_ACCESS_WRITE;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    map_chain(c->m, 0, 0, VA, 4, 1, 0x9000, f);
    w.snooped = true;
    fm_set_ro(c->m, T(3));
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_10);
}

/* ---- Nested: FS tables at GPA g live at HPA g + NEST_OFF ----------------- */

#define NEST_OFF    0x1000000ULL
#define SS(n)       (0x500000ULL + 0x1000ULL * (n))

/* SS identity+offset map of GPAs [0, 2M) with 4K pages and per-page flags. */
static void ss_map(FakeMem *m, uint64_t gpa, uint64_t hpa, uint64_t flags)
{
    fm_w64(m, SS(4) + 8 * IDX(gpa, 4), SS(3) | 3);
    fm_w64(m, SS(3) + 8 * IDX(gpa, 3), SS(2) | 3);
    fm_w64(m, SS(2) + 8 * IDX(gpa, 2), SS(1) | 3);
    fm_w64(m, SS(1) + 8 * IDX(gpa, 1), hpa | flags);
}

typedef struct NestCtx {
    VtdState *s;
    VtdSsWalk ss;
} NestCtx;

static VtdFaultReason nest_xlate(void *opaque, uint64_t gpa, unsigned access,
                                 bool check_perm, VtdSsResult *out)
{
    NestCtx *n = opaque;
    VtdSsWalk w = n->ss;
    w.access = access;
    w.check_perm = check_perm;
    return vtd_ss_walk(n->s, &w, gpa, out);
}

static void test_nested(void **state)
{
    VtdTestCtx *c = *state;
    const uint64_t f[] = { 0, ALL, ALL, ALL, ALL, ALL };
    NestCtx nc = {
        .s = c->s,
        .ss = { .mode = VTD_SS_SCALABLE, .root = SS(4), .aw = 2 },
    };
    VtdFsNest nest = { .translate = nest_xlate, .opaque = &nc, .gpa_width = 48 };
    VtdFsResult r;
    VtdFsWalk w = walk(IOMMU_ACCESS_WRITE, false);

    w.nest = &nest;
    map_chain(c->m, NEST_OFF, 0, VA, 4, 1, 0x9000, f);
    for (unsigned l = 1; l <= 4; l++) {
        ss_map(c->m, T(l), NEST_OFF + T(l), 3);
    }
    ss_map(c->m, 0x9000, 0x77000, 3);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA | 0x10, &r), VTD_FR_NONE);
    assert_int_equal(r.addr, 0x77010);
    assert_int_equal(r.page_mask, 0xfff);
    /* A/D landed in the host copy of the FS tables. */
    assert_true(fm_r64(c->m, ent(NEST_OFF, VA, 4)) & A);
    assert_true(fm_r64(c->m, ent(NEST_OFF, VA, 1)) & D);

    /* Final output write denied by SS: SGN.6. */
    ss_map(c->m, 0x9000, 0x77000, 1);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SGN_6);
    ss_map(c->m, 0x9000, 0x77000, 3);

    /* A/D update needs SS write: SFS.8. */
    map_chain(c->m, NEST_OFF, 0, VA, 4, 1, 0x9000, f);
    ss_map(c->m, T(2), NEST_OFF + T(2), 1);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_8);
    /* With SSADE, even reading FS tables needs SS write: SFS.7. */
    nest.ssade = true;
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_7);
    nest.ssade = false;
    ss_map(c->m, T(2), NEST_OFF + T(2), 3);

    /* SS read denied on the FS root: SFS.6; on a lower table: SFS.7. */
    ss_map(c->m, T(4), NEST_OFF + T(4), 2);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_6);
    ss_map(c->m, T(4), NEST_OFF + T(4), 3);
    ss_map(c->m, T(3), NEST_OFF + T(3), 2);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_7);
    ss_map(c->m, T(3), NEST_OFF + T(3), 3);
    /* SS not present for an FS table: SSS.2 passes through. */
    ss_map(c->m, T(2), 0, 0);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SSS_2);
    ss_map(c->m, T(2), NEST_OFF + T(2), 3);

    /* FS entry ADDR beyond the SS input width: SFS.5. */
    nest.gpa_width = 39;
    map_chain(c->m, NEST_OFF, 0, VA, 4, 1, 1ULL << 40, f);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_SFS_5);

    /* Page size is the smaller of the two stages. */
    const uint64_t f2m[] = { 0, ALL, ALL | PS, ALL, ALL, ALL };
    nest.gpa_width = 48;
    map_chain(c->m, NEST_OFF, 0, VA, 4, 2, 0x200000, f2m);
    ss_map(c->m, 0x200000 + (VA & 0x1ff000), 0x88000, 3);
    assert_int_equal(vtd_fs_walk(c->s, &w, VA, &r), VTD_FR_NONE);
    assert_int_equal(r.page_mask, 0xfff);
    assert_int_equal(r.addr, 0x88000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic_4k_and_ad, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_5level_and_canonical, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_large_pages, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_access_rights, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ad_faults, setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_nested, setup, tctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
