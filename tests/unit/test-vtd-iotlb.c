/* IOTLB, context cache and PASID cache: lookup by size, each invalidation
 * granularity dropping exactly what facts §8.2 says, CLOCK eviction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"

static void tweak_small(VtdConfig *cfg)
{
    cfg->iotlb_size = 8;
}

static int setup_small(void **state)
{
    *state = tctx_new(tweak_small);
    return 0;
}

static void add(VtdState *s, uint16_t sid, uint32_t pasid, uint32_t eff,
                uint16_t did, uint64_t addr, unsigned level, unsigned pgtt)
{
    unsigned shift = 12 + 9 * (level - 1);
    VtdIotlbEntry e = {
        .vpn = addr >> shift, .out_base = 0x100000000ULL + (addr >> shift << shift),
        .pasid = pasid, .eff_pasid = eff, .sid = sid, .did = did,
        .level = (uint8_t)level, .pgtt = (uint8_t)pgtt, .perm = { 3, 3 },
        .dirty_ok = true,
    };
    vtd_iotlb_insert(s, &e);
}

static bool has(VtdState *s, uint16_t sid, uint32_t pasid, uint64_t addr)
{
    return vtd_iotlb_lookup(s, sid, pasid, addr) != NULL;
}

static void test_lookup_sizes_and_tags(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;
    const VtdIotlbEntry *e;

    add(s, 1, IOMMU_NO_PASID, IOMMU_NO_PASID, 1, 0x40000000, 3, VTD_PGTT_SS);
    add(s, 1, IOMMU_NO_PASID, IOMMU_NO_PASID, 1, 0x200000, 2, VTD_PGTT_SS);
    add(s, 1, IOMMU_NO_PASID, IOMMU_NO_PASID, 1, 0x5000, 1, VTD_PGTT_SS);
    assert_int_equal(vtd_iotlb_count(s), 3);
    e = vtd_iotlb_lookup(s, 1, IOMMU_NO_PASID, 0x7fffffff);
    assert_non_null(e);
    assert_int_equal(e->level, 3);
    e = vtd_iotlb_lookup(s, 1, IOMMU_NO_PASID, 0x3fffff);
    assert_non_null(e);
    assert_int_equal(e->level, 2);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x5fff));
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x6000));
    /* SID and PASID are part of the tag. */
    assert_false(has(s, 2, IOMMU_NO_PASID, 0x5000));
    assert_false(has(s, 1, 0, 0x5000));
    /* Re-inserting the same tag replaces, never duplicates. */
    add(s, 1, IOMMU_NO_PASID, IOMMU_NO_PASID, 1, 0x5000, 1, VTD_PGTT_SS);
    assert_int_equal(vtd_iotlb_count(s), 3);
}

static void test_global_and_domain(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    add(s, 1, IOMMU_NO_PASID, 0, 1, 0x1000, 1, VTD_PGTT_SS);
    add(s, 1, 3, 3, 1, 0x2000, 1, VTD_PGTT_FS);
    add(s, 2, IOMMU_NO_PASID, 0, 2, 0x1000, 1, VTD_PGTT_PT);
    vtd_iotlb_invalidate_domain(s, 1);
    assert_int_equal(vtd_iotlb_count(s), 1);
    assert_true(has(s, 2, IOMMU_NO_PASID, 0x1000));
    vtd_iotlb_invalidate_all(s);
    assert_int_equal(vtd_iotlb_count(s), 0);
}

static void test_page_selective_type2(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    add(s, 1, IOMMU_NO_PASID, 0, 1, 0x10000, 1, VTD_PGTT_SS);   /* in range */
    add(s, 1, IOMMU_NO_PASID, 0, 1, 0x20000, 1, VTD_PGTT_SS);   /* outside */
    add(s, 1, 4, 4, 1, 0x20000, 1, VTD_PGTT_PT);                /* outside */
    add(s, 1, 5, 5, 1, 0x90000000, 1, VTD_PGTT_FS);             /* any addr */
    add(s, 1, 6, 6, 1, 0x90000000, 1, VTD_PGTT_NESTED);         /* any addr */
    add(s, 1, 7, 7, 2, 0x10000, 1, VTD_PGTT_FS);                /* other DID */
    add(s, 1, 8, 8, 1, 0x0, 3, VTD_PGTT_SS);                    /* 1G covers */
    /* AM=2: 4 pages from 0x10000 (low AM bits of the address ignored). */
    vtd_iotlb_invalidate_page(s, 1, 0x12000, 2, false);
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x10000));
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x20000));
    assert_true(has(s, 1, 4, 0x20000));
    assert_false(has(s, 1, 5, 0x90000000));
    assert_false(has(s, 1, 6, 0x90000000));
    assert_true(has(s, 1, 7, 0x10000));
    assert_false(has(s, 1, 8, 0x0));
    assert_int_equal(vtd_iotlb_count(s), 3);
    /* IH changes nothing for leaf entries. */
    vtd_iotlb_invalidate_page(s, 1, 0x20000, 0, true);
    assert_int_equal(vtd_iotlb_count(s), 1);
}

static void test_pasid_selective_type6(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    add(s, 1, 5, 5, 1, 0x10000, 1, VTD_PGTT_FS);
    add(s, 1, 5, 5, 1, 0x30000, 1, VTD_PGTT_FS);
    add(s, 1, 5, 5, 1, 0x10000 + 0x1000, 1, VTD_PGTT_NESTED);
    add(s, 2, 5, 5, 1, 0x11000, 1, VTD_PGTT_SS);            /* SS untouched */
    add(s, 1, 6, 6, 1, 0x10000, 1, VTD_PGTT_FS);            /* other PASID */
    add(s, 1, IOMMU_NO_PASID, 5, 1, 0x10000, 1, VTD_PGTT_PT); /* RID_PASID 5 */
    vtd_iotlb_invalidate_pasid_page(s, 1, 5, 0x10000, 1, false);
    assert_false(has(s, 1, 5, 0x10000));
    assert_false(has(s, 1, 5, 0x11000));
    assert_true(has(s, 1, 5, 0x30000));
    assert_true(has(s, 2, 5, 0x11000));
    assert_true(has(s, 1, 6, 0x10000));
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x10000));
    /* PASID-selective: every PGTT of DID+PASID, incl. no-PASID entries
     * tagged with RID_PASID. */
    vtd_iotlb_invalidate_pasid(s, 1, 5);
    assert_false(has(s, 1, 5, 0x30000));
    assert_false(has(s, 2, 5, 0x11000));
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x10000));
    assert_true(has(s, 1, 6, 0x10000));
    assert_int_equal(vtd_iotlb_count(s), 1);
}

static void test_eviction(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    for (unsigned i = 0; i < 8; i++) {
        add(s, 1, IOMMU_NO_PASID, 0, 1, 0x1000ULL * i, 1, VTD_PGTT_SS);
    }
    assert_int_equal(vtd_iotlb_count(s), 8);
    assert_int_equal(s->stats.iotlb_evictions, 0);
    add(s, 1, IOMMU_NO_PASID, 0, 1, 0x100000, 1, VTD_PGTT_SS);
    /* Full: exactly one entry goes, the rest stay (no flush-all). */
    assert_int_equal(vtd_iotlb_count(s), 8);
    assert_int_equal(s->stats.iotlb_evictions, 1);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x100000));
    /* Entries used since the last sweep survive the next eviction. */
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x7000));
    for (unsigned i = 0; i < 4; i++) {
        add(s, 1, IOMMU_NO_PASID, 0, 1, 0x200000 + 0x1000ULL * i, 1,
            VTD_PGTT_SS);
    }
    assert_int_equal(vtd_iotlb_count(s), 8);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x7000));
    /* Many more inserts than capacity keep the table consistent. */
    for (unsigned i = 0; i < 1000; i++) {
        add(s, (uint16_t)i, i, i, (uint16_t)(i % 3), 0x1000ULL * i,
            1 + i % 3, VTD_PGTT_FS);
    }
    assert_int_equal(vtd_iotlb_count(s), 8);
    vtd_iotlb_invalidate_domain(s, 0);
    vtd_iotlb_invalidate_domain(s, 1);
    vtd_iotlb_invalidate_domain(s, 2);
    assert_int_equal(vtd_iotlb_count(s), 0);
}

static void test_ctx_cache(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;
    VtdCtxCacheEntry l = { .scalable = false, .legacy = { .present = true, .did = 4 } };
    VtdCtxCacheEntry sm = { .scalable = true };

    vtd_ctx_cache_insert(s, 0x0100, &l);       /* 01:00.0 */
    vtd_ctx_cache_insert(s, 0x0105, &l);       /* 01:00.5 */
    vtd_ctx_cache_insert(s, 0x0108, &l);       /* 01:01.0 */
    l.legacy.did = 5;
    vtd_ctx_cache_insert(s, 0x0200, &l);
    vtd_ctx_cache_insert(s, 0x0300, &sm);
    assert_int_equal(vtd_ctx_cache_count(s), 5);
    assert_non_null(vtd_ctx_cache_lookup(s, 0x0105));
    assert_null(vtd_ctx_cache_lookup(s, 0x0106));

    /* Device, FM=0: that function only. */
    vtd_ctx_cache_invalidate_device(s, 0x0100, 0);
    assert_null(vtd_ctx_cache_lookup(s, 0x0100));
    assert_non_null(vtd_ctx_cache_lookup(s, 0x0105));
    /* FM=3: every function of the device. */
    vtd_ctx_cache_insert(s, 0x0100, &l);
    vtd_ctx_cache_invalidate_device(s, 0x0101, 3);
    assert_null(vtd_ctx_cache_lookup(s, 0x0100));
    assert_null(vtd_ctx_cache_lookup(s, 0x0105));
    assert_non_null(vtd_ctx_cache_lookup(s, 0x0108));
    /* FM=1 ignores bit 2 only: 0x0108 vs 0x010c match, 0x0109 not. */
    vtd_ctx_cache_insert(s, 0x0109, &l);
    vtd_ctx_cache_invalidate_device(s, 0x010c, 1);
    assert_null(vtd_ctx_cache_lookup(s, 0x0108));
    assert_non_null(vtd_ctx_cache_lookup(s, 0x0109));

    /* Domain: legacy entries of that DID; scalable entries always. */
    vtd_ctx_cache_invalidate_domain(s, 5);
    assert_null(vtd_ctx_cache_lookup(s, 0x0200));
    assert_null(vtd_ctx_cache_lookup(s, 0x0109));
    assert_null(vtd_ctx_cache_lookup(s, 0x0300));
    vtd_ctx_cache_insert(s, 0x0400, &l);
    l.legacy.did = 6;
    vtd_ctx_cache_insert(s, 0x0500, &l);
    vtd_ctx_cache_invalidate_domain(s, 6);
    assert_non_null(vtd_ctx_cache_lookup(s, 0x0400));
    vtd_ctx_cache_invalidate_all(s);
    assert_int_equal(vtd_ctx_cache_count(s), 0);
}

static void test_pasid_cache(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;
    VtdPasidCacheEntry e = { .pe = { .present = true, .did = 1 } };

    vtd_pasid_cache_insert(s, 0x10, 5, &e);
    vtd_pasid_cache_insert(s, 0x11, 5, &e);
    vtd_pasid_cache_insert(s, 0x10, 6, &e);
    e.pe.did = 2;
    vtd_pasid_cache_insert(s, 0x10, 7, &e);
    assert_int_equal(vtd_pasid_cache_count(s), 4);
    assert_null(vtd_pasid_cache_lookup(s, 0x12, 5));

    vtd_pasid_cache_invalidate_pasid(s, 1, 5);     /* both SIDs */
    assert_null(vtd_pasid_cache_lookup(s, 0x10, 5));
    assert_null(vtd_pasid_cache_lookup(s, 0x11, 5));
    assert_non_null(vtd_pasid_cache_lookup(s, 0x10, 6));
    vtd_pasid_cache_invalidate_pasid(s, 2, 6);     /* DID must match */
    assert_non_null(vtd_pasid_cache_lookup(s, 0x10, 6));
    vtd_pasid_cache_invalidate_domain(s, 1);
    assert_null(vtd_pasid_cache_lookup(s, 0x10, 6));
    assert_non_null(vtd_pasid_cache_lookup(s, 0x10, 7));
    /* A context (device) invalidation also drops that SID's PASID entries. */
    vtd_ctx_cache_invalidate_device(s, 0x10, 0);
    assert_int_equal(vtd_pasid_cache_count(s), 0);
    vtd_pasid_cache_insert(s, 0x10, 7, &e);
    vtd_pasid_cache_invalidate_all(s);
    assert_int_equal(vtd_pasid_cache_count(s), 0);
}

/* Type 6 accepts any AM (facts §5.1): AM 52..63 cover the whole space, with
 * no shift past 63 bits (UBSan guards this in CI). */
static void test_pasid_page_huge_am(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    for (unsigned am = 30; am < 64; am++) {
        add(s, 1, 3, 3, 1, 0x7ffffffff000ULL, 1, VTD_PGTT_FS);
        add(s, 1, 3, 3, 1, 0x1000, 1, VTD_PGTT_FS);
        add(s, 1, 4, 4, 1, 0x1000, 1, VTD_PGTT_FS);     /* other PASID */
        vtd_iotlb_invalidate_pasid_page(s, 1, 3, 0, am, false);
        assert_false(has(s, 1, 3, 0x1000));
        assert_int_equal(has(s, 1, 3, 0x7ffffffff000ULL), am < 35);
        assert_true(has(s, 1, 4, 0x1000));
        vtd_iotlb_invalidate_all(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup_sizes_and_tags, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_global_and_domain, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_page_selective_type2, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_pasid_selective_type6, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_pasid_page_huge_am, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup_small, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ctx_cache, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_pasid_cache, tctx_setup, tctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
