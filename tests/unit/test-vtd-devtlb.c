/*
 * Device-TLB invalidation (vtd-devtlb.c): the ATS range encoding of type 3 /
 * type 8 descriptors, and forwarding to the device side with its time-out.
 */
#include "vtd-test-fakes.h"
#include "hw/intel-iommu/vtd-inval.h"

typedef struct SinkLog {
    unsigned n;
    uint16_t sid;
    uint32_t pasid;
    bool global;
    uint64_t addr, size;
    bool answer;            /* what the device says: completed in time */
} SinkLog;

static SinkLog sink_log;

static bool record_invalidate(void *opaque, uint16_t sid, uint32_t pasid,
                              bool global, uint64_t addr, uint64_t size)
{
    SinkLog *l = opaque;

    l->n++;
    l->sid = sid;
    l->pasid = pasid;
    l->global = global;
    l->addr = addr;
    l->size = size;
    return l->answer;
}

static void expect_range(uint64_t addr, bool s, uint64_t base, uint64_t size)
{
    uint64_t b = 1, sz = 1;

    vtd_ats_decode_range(addr, s, &b, &sz);
    assert_int_equal(b, base);
    assert_int_equal(sz, size);
}

static void test_range_one_page(void **state)
{
    /* S=0: the 4 KiB page; low bits ignored. */
    expect_range(0x12345fffULL, false, 0x12345000ULL, 0x1000);
    expect_range(0xfffffffffffff000ULL, false, 0xfffffffffffff000ULL, 0x1000);
}

static void test_range_sizes(void **state)
{
    /* bit 12 clear: 8 KiB */
    expect_range(0x12344000ULL, true, 0x12344000ULL, 0x2000);
    /* bit 12 set, 13 clear: 16 KiB, aligned down */
    expect_range(0x12349000ULL, true, 0x12348000ULL, 0x4000);
    /* bits 12..19 set, 20 clear: 2 MiB */
    expect_range(0x400ff000ULL, true, 0x40000000ULL, 0x200000);
    /* bits 12..28 set, 29 clear: 1 GiB */
    expect_range(0x9ffff000ULL, true, 0x80000000ULL, 0x40000000ULL);
}

static void test_range_whole_space(void **state)
{
    expect_range(0xfffffffffffff000ULL, true, 0, UINT64_MAX);
    /* 51 ones then a clear bit 63: 2^64 bytes, also everything. */
    expect_range(0x7ffffffffffff000ULL, true, 0, UINT64_MAX);
    /* 50 ones: 2^63 bytes, the lower half. */
    expect_range(0x3ffffffffffff000ULL, true, 0, 1ULL << 63);
}

static void test_no_sink_completes(void **state)
{
    VtdTestBed *tb = testbed_default();

    assert_true(vtd_devtlb_invalidate(tb->s, 0x100, IOMMU_NO_PASID, false,
                                      0x1000, 0x1000));
    testbed_free(tb);
}

static void test_forwarded_with_answer(void **state)
{
    VtdTestBed *tb = testbed_default();
    VtdDevTlbSink sink = { &sink_log, record_invalidate };

    memset(&sink_log, 0, sizeof(sink_log));
    vtd_set_devtlb_sink(tb->s, &sink);
    sink_log.answer = true;
    assert_true(vtd_devtlb_invalidate(tb->s, 0x0218, 7, true, 0x40000000ULL,
                                      0x200000));
    assert_int_equal(sink_log.n, 1);
    assert_int_equal(sink_log.sid, 0x0218);
    assert_int_equal(sink_log.pasid, 7);
    assert_true(sink_log.global);
    assert_int_equal(sink_log.addr, 0x40000000ULL);
    assert_int_equal(sink_log.size, 0x200000);

    sink_log.answer = false;    /* the device times out */
    assert_false(vtd_devtlb_invalidate(tb->s, 0x0218, IOMMU_NO_PASID, false,
                                       0, UINT64_MAX));
    assert_int_equal(sink_log.n, 2);
    assert_int_equal(sink_log.pasid, IOMMU_NO_PASID);

    vtd_set_devtlb_sink(tb->s, NULL);
    assert_true(vtd_devtlb_invalidate(tb->s, 0x0218, 1, false, 0, 0x1000));
    assert_int_equal(sink_log.n, 2);
    testbed_free(tb);
}

/* The dispatcher's device-TLB kinds reach the sink (type 3: no PASID). */
static void test_dispatch_reaches_sink(void **state)
{
    VtdTestBed *tb = testbed_default();
    VtdDevTlbSink sink = { &sink_log, record_invalidate };
    VtdInvalidation inv = {
        .kind = VTD_INVAL_DEVTLB, .gran = VTD_INVAL_GRAN_DEVICE,
        .sid = 0x0108, .pasid = 99, .addr = 0x5000, .s = false,
        .devtlb_base = 0x5000, .devtlb_size = 0x1000,
    };

    memset(&sink_log, 0, sizeof(sink_log));
    vtd_set_devtlb_sink(tb->s, &sink);
    sink_log.answer = true;
    assert_true(vtd_inval_dispatch(tb->s, &inv));
    assert_int_equal(sink_log.n, 1);
    assert_int_equal(sink_log.sid, 0x0108);
    assert_int_equal(sink_log.pasid, IOMMU_NO_PASID);
    assert_int_equal(sink_log.addr, 0x5000);

    inv.kind = VTD_INVAL_PASID_DEVTLB;
    sink_log.answer = false;
    assert_false(vtd_inval_dispatch(tb->s, &inv));
    assert_int_equal(sink_log.pasid, 99);
    testbed_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_one_page),
        cmocka_unit_test(test_range_sizes),
        cmocka_unit_test(test_range_whole_space),
        cmocka_unit_test(test_no_sink_completes),
        cmocka_unit_test(test_forwarded_with_answer),
        cmocka_unit_test(test_dispatch_reaches_sink),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
