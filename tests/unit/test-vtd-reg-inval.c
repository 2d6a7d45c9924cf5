/*
 * Register-based invalidation: CCMD and IVA/IOTLB_REG drive the cache API
 * (recorded by the mock), report the actual granularity, clear the request
 * bit, and are refused while QI is on or outside legacy mode.
 */
#include "vtd-test-fakes.h"

#define CCMD(cirg)   (VTD_CCMD_ICC | ((uint64_t)(cirg) << 61))
#define IOTLB(iirg)  (VTD_IOTLB_IVT | ((uint64_t)(iirg) << 60))

static unsigned caig(VtdTestBed *tb)
{
    return VTD_FIELD(rd64(tb, DMAR_CCMD_REG), 60, 59);
}

static unsigned iaig(VtdTestBed *tb)
{
    return VTD_FIELD(rd64(tb, VTD_IOTLB_OFFSET), 58, 57);
}

static unsigned ctx_calls(void)
{
    return mock.ctx_all + mock.ctx_domain + mock.ctx_device;
}

static unsigned iotlb_calls(void)
{
    return mock.iotlb_all + mock.iotlb_domain + mock.iotlb_page;
}

static void test_ccmd_granularities(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, DMAR_CCMD_REG, CCMD(1));
    assert_int_equal(mock.ctx_all, 1);
    assert_int_equal(caig(tb), 1);
    assert_false(rd64(tb, DMAR_CCMD_REG) & VTD_CCMD_ICC);

    wr64(tb, DMAR_CCMD_REG, CCMD(2) | 0x1234);
    assert_int_equal(mock.ctx_domain, 1);
    assert_int_equal(mock.did, 0x1234);
    assert_int_equal(caig(tb), 2);

    wr64(tb, DMAR_CCMD_REG, CCMD(3) | (2ULL << 32) | (0x0108ULL << 16) | 7);
    assert_int_equal(mock.ctx_device, 1);
    assert_int_equal(mock.sid, 0x0108);
    assert_int_equal(mock.fm, 2);
    assert_int_equal(caig(tb), 3);
    assert_int_equal(rd64(tb, DMAR_CCMD_REG) & 0xffff, 7);

    /* CIRG 00 is reserved: refused. */
    wr64(tb, DMAR_CCMD_REG, CCMD(0));
    assert_int_equal(caig(tb), 0);
    assert_false(rd64(tb, DMAR_CCMD_REG) & VTD_CCMD_ICC);
    assert_int_equal(ctx_calls(), 3);
    assert_int_equal(iotlb_calls(), 0);
    testbed_free(tb);
}

static void test_ccmd_split_write(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, DMAR_CCMD_REG, (0x00faU << 16) | 9);   /* SID, DID: no action */
    assert_int_equal(ctx_calls(), 0);
    wr32(tb, DMAR_CCMD_REG + 4, (uint32_t)(CCMD(3) >> 32) | 1);
    assert_int_equal(mock.ctx_device, 1);
    assert_int_equal(mock.sid, 0x00fa);
    assert_int_equal(mock.fm, 1);
    assert_int_equal(caig(tb), 3);
    /* Without ICC nothing happens. */
    wr32(tb, DMAR_CCMD_REG + 4, (uint32_t)((1ULL << 61) >> 32));
    assert_int_equal(ctx_calls(), 1);
    testbed_free(tb);
}

static void test_iotlb_granularities(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(1));
    assert_int_equal(mock.iotlb_all, 1);
    assert_int_equal(iaig(tb), 1);
    assert_false(rd64(tb, VTD_IOTLB_OFFSET) & VTD_IOTLB_IVT);

    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(2) | VTD_IOTLB_DR | VTD_IOTLB_DW |
         (0x77ULL << 32));
    assert_int_equal(mock.iotlb_domain, 1);
    assert_int_equal(mock.did, 0x77);
    assert_int_equal(iaig(tb), 2);
    assert_true(rd64(tb, VTD_IOTLB_OFFSET) & VTD_IOTLB_DR);

    wr64(tb, VTD_IVA_OFFSET, 0x12345000 | VTD_IVA_IH);
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(3) | (0x5ULL << 32));
    assert_int_equal(mock.iotlb_page, 1);
    assert_int_equal(mock.did, 5);
    assert_int_equal(mock.addr, 0x12345000);
    assert_int_equal(mock.am, 0);
    assert_true(mock.ih);
    assert_int_equal(iaig(tb), 3);

    /* The low address bits covered by AM are ignored. */
    wr64(tb, VTD_IVA_OFFSET, 0x12345000 | 2);
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(3));
    assert_int_equal(mock.addr, 0x12344000);
    assert_int_equal(mock.am, 2);
    assert_false(mock.ih);

    /* AM up to MAMV (18) is fine, beyond it the request fails. */
    wr64(tb, VTD_IVA_OFFSET, 18);
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(3));
    assert_int_equal(mock.iotlb_page, 3);
    assert_int_equal(iaig(tb), 3);
    wr64(tb, VTD_IVA_OFFSET, 19);
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(3));
    assert_int_equal(mock.iotlb_page, 3);
    assert_int_equal(iaig(tb), 0);
    assert_false(rd64(tb, VTD_IOTLB_OFFSET) & VTD_IOTLB_IVT);

    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(0));
    assert_int_equal(iaig(tb), 0);
    assert_int_equal(iotlb_calls(), 5);
    assert_int_equal(ctx_calls(), 0);
    testbed_free(tb);
}

/*
 * review-regs: IVA.ADDR is a second-stage input address; bits at and above
 * MGAW are ignored (VT-d spec 11.4.8.1, vtd-spec-facts.md §3.4), exactly as
 * for the ADDR of a type-2 descriptor. A guest leaving junk there must still
 * invalidate the page below MGAW.
 */
static void test_iva_ignores_bits_above_mgaw(void **state)
{
    VtdTestBed *tb = testbed_default();     /* aw-bits=48: MGAW = 48 */

    wr64(tb, VTD_IVA_OFFSET, (1ULL << 63) | (1ULL << 48) | 0x12345000);
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(3) | (0x5ULL << 32));
    assert_int_equal(iaig(tb), 3);
    assert_int_equal(mock.iotlb_page, 1);
    assert_int_equal(mock.addr, 0x12345000);
    testbed_free(tb);
}

static void test_iotlb_split_write(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, VTD_IOTLB_OFFSET, 0xffffffff);     /* RsvdP low half */
    assert_int_equal(iotlb_calls(), 0);
    wr32(tb, VTD_IOTLB_OFFSET + 4, (uint32_t)(IOTLB(2) >> 32) | 0x42);
    assert_int_equal(mock.iotlb_domain, 1);
    assert_int_equal(mock.did, 0x42);
    assert_int_equal(iaig(tb), 2);
    testbed_free(tb);
}

static void test_refused_while_qi_enabled(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, DMAR_IQA_REG, 0x4000);
    gcmd_set(tb, VTD_GCMD_QIE, true);
    wr64(tb, DMAR_CCMD_REG, CCMD(1));
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(1));
    assert_int_equal(ctx_calls() + iotlb_calls(), 0);
    assert_int_equal(caig(tb), 0);
    assert_int_equal(iaig(tb), 0);
    assert_false(rd64(tb, DMAR_CCMD_REG) & VTD_CCMD_ICC);
    assert_false(rd64(tb, VTD_IOTLB_OFFSET) & VTD_IOTLB_IVT);
    testbed_free(tb);
}

static void test_refused_in_scalable_mode(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,scalable-mode=on");

    /* Legacy TTM (the power-on value) is accepted even on such a unit. */
    wr64(tb, DMAR_CCMD_REG, CCMD(1));
    assert_int_equal(caig(tb), 1);
    wr64(tb, DMAR_RTADDR_REG, 0x1000 | (1 << 10));
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    memset(&mock, 0, sizeof(mock));
    wr64(tb, DMAR_CCMD_REG, CCMD(1));
    wr64(tb, VTD_IOTLB_OFFSET, IOTLB(2));
    assert_int_equal(ctx_calls() + iotlb_calls(), 0);
    assert_int_equal(caig(tb), 0);
    assert_int_equal(iaig(tb), 0);
    testbed_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ccmd_granularities),
        cmocka_unit_test(test_ccmd_split_write),
        cmocka_unit_test(test_iotlb_granularities),
        cmocka_unit_test(test_iotlb_split_write),
        cmocka_unit_test(test_iva_ignores_bits_above_mgaw),
        cmocka_unit_test(test_refused_while_qi_enabled),
        cmocka_unit_test(test_refused_in_scalable_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
