/* Nested translation when FS structures and output share a large SS page:
 * vtd-translate.c reuses the request's last SS walk for the same page and
 * access, which must give exactly what fresh walks give. */
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
#define ST4     0x110000ULL
#define ST3     0x111000ULL
#define ST2     0x112000ULL
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)

/* GPA 2 MiB page holding the FS tables, and where the SS puts it. */
#define TBL_GPA 0x400000ULL
#define TBL_HPA 0x800000ULL
#define FT(n)   (TBL_GPA + 0x1000ULL * (4 - (n)))   /* FT(4) at TBL_GPA */
/* A second GPA 2 MiB page for outputs elsewhere. */
#define OUT_GPA 0xa00000ULL
#define OUT_HPA 0xc00000ULL

#define SID     0x0010
#define VA_SAME 0x40000000ULL   /* output in the tables' SS page */
#define VA_FAR  0x40001000ULL   /* output in OUT_GPA's SS page */

typedef struct Ctx {
    FakeMem *m;
    VtdState *s;
} Ctx;

static uint64_t tbl_hpa(uint64_t gpa)
{
    return gpa - TBL_GPA + TBL_HPA;
}

/* SS: two 2 MiB leaves; tbl_perm are the R/W bits of the tables' page. */
static void build(Ctx *c, uint64_t tbl_perm)
{
    FakeMem *m = c->m;

    fm_w64(m, ROOT, CTXT | 1);
    fm_w64(m, CTXT + 32 * (SID & 0x7f), PDIR | 1);
    fm_w64(m, PDIR, PTBL | 1);
    fm_w64(m, PTBL, ST4 | 1 | (VTD_PGTT_NESTED << 6) | (2 << 2));
    fm_w64(m, PTBL + 8, 7);
    fm_w64(m, PTBL + 16, FT(4));

    fm_w64(m, ST4 + 8 * IDX(TBL_GPA, 4), ST3 | 3);
    fm_w64(m, ST3 + 8 * IDX(TBL_GPA, 3), ST2 | 3);
    fm_w64(m, ST2 + 8 * IDX(TBL_GPA, 2), TBL_HPA | 0x80 | tbl_perm);
    fm_w64(m, ST2 + 8 * IDX(OUT_GPA, 2), OUT_HPA | 0x80 | 3);

    /* FS entries live at their HPAs and point at GPAs; A/D preset. */
    for (unsigned l = 4; l > 1; l--) {
        fm_w64(m, tbl_hpa(FT(l)) + 8 * IDX(VA_SAME, l), FT(l - 1) | 0x27);
    }
    fm_w64(m, tbl_hpa(FT(1)) + 8 * IDX(VA_SAME, 1), (TBL_GPA + 0x5000) | 0x67);
    fm_w64(m, tbl_hpa(FT(1)) + 8 * IDX(VA_FAR, 1), (OUT_GPA + 0x3000) | 0x67);
}

static int setup(void **state)
{
    Ctx *c = g_new0(Ctx, 1);

    c->m = fm_new();
    c->s = tvtd_new(c->m, tweak_nested_unit);
    c->s->root_addr = ROOT;
    c->s->ttm = VTD_TTM_SCALABLE;
    c->s->dmar_enabled = true;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Ctx *c = *state;

    vtd_free(c->s);
    fm_free(c->m);
    g_free(c);
    return 0;
}

static unsigned xl(Ctx *c, uint64_t va, unsigned access, IommuResult *res)
{
    IommuRequest r = { .sid = SID, .pasid = IOMMU_NO_PASID, .addr = va,
                       .access = access, .at = IOMMU_AT_UNTRANSLATED };
    VtdFault f;
    bool faulted = vtd_translate_request(c->s, &r, res, &f);

    assert_int_equal(faulted, !res->ok);
    return res->ok ? 0 : res->fault_reason;
}

static void test_shared_ss_page(void **state)
{
    Ctx *c = *state;
    IommuResult res;

    build(c, 3);
    /* Tables and output in one SS page: offsets kept within it. */
    assert_int_equal(xl(c, VA_SAME | 0x10, IOMMU_ACCESS_READ, &res), 0);
    assert_int_equal(res.out_addr, TBL_HPA + 0x5010);
    assert_int_equal(res.page_mask, 0xfff);
    /* Output in another SS page: walked on its own. */
    assert_int_equal(xl(c, VA_FAR | 0x20, IOMMU_ACCESS_WRITE, &res), 0);
    assert_int_equal(res.out_addr, OUT_HPA + 0x3020);
    assert_int_equal(res.perm, IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE);
}

static void test_access_is_part_of_the_match(void **state)
{
    Ctx *c = *state;
    IommuResult res;

    /* The tables' SS page is read-only: table reads succeed, a write to an
     * output in that page must still fail even though a read walk of the
     * same page just succeeded in the same request. */
    build(c, 1);
    assert_int_equal(xl(c, VA_SAME, IOMMU_ACCESS_WRITE, &res), VTD_FR_SGN_6);
    assert_int_equal(xl(c, VA_SAME, IOMMU_ACCESS_READ, &res), 0);
    assert_int_equal(res.out_addr, TBL_HPA + 0x5000);
    assert_int_equal(res.perm, IOMMU_ACCESS_READ);
    assert_int_equal(xl(c, VA_FAR, IOMMU_ACCESS_WRITE, &res), 0);
}

static void test_ss_fault_on_tables(void **state)
{
    Ctx *c = *state;
    IommuResult res;

    /* Tables' SS page not present: the root read is blocked (SFS.6 family
     * mapping of an SS fault), nothing is remembered from a failed walk. */
    build(c, 0);
    assert_int_not_equal(xl(c, VA_FAR, IOMMU_ACCESS_READ, &res), 0);
    fm_w64(c->m, ST2 + 8 * IDX(TBL_GPA, 2), TBL_HPA | 0x80 | 1);
    assert_int_equal(xl(c, VA_FAR, IOMMU_ACCESS_READ, &res), 0);
    assert_int_equal(res.out_addr, OUT_HPA + 0x3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_ss_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_is_part_of_the_match,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ss_fault_on_tables, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
