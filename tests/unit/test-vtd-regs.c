/*
 * The register window: power-on values, RO/RW/RW1C/WO semantics per
 * register, 32- and 64-bit accesses including split halves, out-of-range
 * and malformed accesses, and reset restoring the exact power-on image.
 */
#include "vtd-test-fakes.h"

#include <string.h>

/* RW bits of a register: write all ones, see what sticks, restore 0. */
static uint64_t rw_bits(VtdTestBed *tb, unsigned off, unsigned size)
{
    uint64_t v;

    vtd_mmio_write(tb->s, off, ~0ULL, size);
    v = vtd_mmio_read(tb->s, off, size);
    vtd_mmio_write(tb->s, off, 0, size);
    return v;
}

static void snapshot(VtdTestBed *tb, uint32_t *img, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        img[i] = rd32(tb, i * 4);
    }
}

static void test_power_on_values(void **state)
{
    VtdTestBed *tb = testbed_default();
    unsigned size = vtd_mmio_size(tb->s);

    assert_int_equal(size, 0x220 + 16 * 8);
    assert_int_equal(rd32(tb, DMAR_VER_REG), 0x10);
    assert_int_equal(rd64(tb, DMAR_CAP_REG), tb->s->cap);
    assert_int_equal(rd64(tb, DMAR_ECAP_REG), tb->s->ecap);
    assert_int_equal(tb->s->cap, vtd_config_cap(&tb->s->cfg));
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), VTD_XECTL_IM);
    assert_int_equal(rd32(tb, DMAR_IECTL_REG), VTD_XECTL_IM);
    for (unsigned off = 0; off < size; off += 4) {
        bool nonzero = off == DMAR_VER_REG || off == DMAR_FECTL_REG ||
                       off == DMAR_IECTL_REG ||
                       (off >= DMAR_CAP_REG && off < DMAR_GCMD_REG);

        if (!nonzero && rd32(tb, off) != 0) {
            fail_msg("register at 0x%x reads 0x%x after power-on", off,
                     rd32(tb, off));
        }
    }
    testbed_free(tb);
}

static void test_read_only_registers(void **state)
{
    VtdTestBed *tb = testbed_default();
    static const unsigned ro[] = {
        DMAR_VER_REG, DMAR_CAP_REG, DMAR_CAP_REG + 4, DMAR_ECAP_REG,
        DMAR_ECAP_REG + 4, DMAR_GSTS_REG, DMAR_IQH_REG, DMAR_IQH_REG + 4,
        DMAR_IQERCD_REG, DMAR_IQERCD_REG + 4, DMAR_PMEN_REG,
        DMAR_PLMBASE_REG, DMAR_PLMLIMIT_REG, DMAR_PHMBASE_REG,
        DMAR_PHMLIMIT_REG, 0x220, 0x224, 0x228,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ro); i++) {
        uint32_t before = rd32(tb, ro[i]);

        wr32(tb, ro[i], 0xa5a5a5a5);
        assert_int_equal(rd32(tb, ro[i]), before);
    }
    wr64(tb, DMAR_CAP_REG, 0);
    assert_int_equal(rd64(tb, DMAR_CAP_REG), tb->s->cap);
    testbed_free(tb);
}

static void test_read_write_masks(void **state)
{
    VtdTestBed *tb = testbed_default();

    assert_int_equal(rw_bits(tb, DMAR_RTADDR_REG, 8), VTD_MASK(63, 10));
    assert_int_equal(rw_bits(tb, DMAR_FEDATA_REG, 4), 0xffff);
    assert_int_equal(rw_bits(tb, DMAR_FEADDR_REG, 4), 0xfffffffc);
    assert_int_equal(rw_bits(tb, DMAR_IQT_REG, 8), 0x7fff0);
    assert_int_equal(rw_bits(tb, DMAR_IQA_REG, 8), 0xfffffffffffff807ULL);
    assert_int_equal(rw_bits(tb, DMAR_IEDATA_REG, 4), 0xffffffff);
    assert_int_equal(rw_bits(tb, DMAR_IEADDR_REG, 4), 0xfffffffc);
    assert_int_equal(rw_bits(tb, DMAR_IRTA_REG, 8), 0xfffffffffffff00fULL);
    /* Only IM is writable; IP is hardware's. */
    wr32(tb, DMAR_FECTL_REG, 0x7fffffff);
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), 0);
    wr32(tb, DMAR_FECTL_REG, 0xffffffff);
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), VTD_XECTL_IM);
    wr32(tb, DMAR_IECTL_REG, 0);
    assert_int_equal(rd32(tb, DMAR_IECTL_REG), 0);
    /* IOTLB_REG without IVT: plain storage of IIRG, DR/DW and DID. */
    wr64(tb, VTD_IOTLB_OFFSET, 0x7fffffffffffffffULL);
    assert_int_equal(rd64(tb, VTD_IOTLB_OFFSET), 0x3003ffff00000000ULL);
    assert_int_equal(mock.iotlb_all + mock.iotlb_domain + mock.iotlb_page, 0);
    testbed_free(tb);
}

static void test_write_one_to_clear(void **state)
{
    VtdTestBed *tb = testbed_default();
    uint32_t all = VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE |
                   VTD_FSTS_ITE | (3u << VTD_FSTS_FRI_SHIFT);

    vtd_set32(tb->s, DMAR_FSTS_REG, all);
    wr32(tb, DMAR_FSTS_REG, 0);
    assert_int_equal(rd32(tb, DMAR_FSTS_REG), all);
    wr32(tb, DMAR_FSTS_REG, VTD_FSTS_PFO);
    assert_int_equal(rd32(tb, DMAR_FSTS_REG), all & ~VTD_FSTS_PFO);
    wr32(tb, DMAR_FSTS_REG, 0xffffffff);
    /* PPF and FRI are status, not RW1C. */
    assert_int_equal(rd32(tb, DMAR_FSTS_REG),
                     VTD_FSTS_PPF | (3u << VTD_FSTS_FRI_SHIFT));

    vtd_set32(tb->s, DMAR_ICS_REG, VTD_ICS_IWC);
    wr32(tb, DMAR_ICS_REG, 0);
    assert_int_equal(rd32(tb, DMAR_ICS_REG), VTD_ICS_IWC);
    wr32(tb, DMAR_ICS_REG, 1);
    assert_int_equal(rd32(tb, DMAR_ICS_REG), 0);

    /* FRCD: F is RW1C, the rest of the record is read-only. */
    vtd_set64(tb->s, 0x228, VTD_FRCD_HI_F | 0x1234);
    wr64(tb, 0x228, 0x1234);
    assert_int_equal(rd64(tb, 0x228), VTD_FRCD_HI_F | 0x1234);
    wr32(tb, 0x22c, VTD_FRCD_HI_F >> 32);
    assert_int_equal(rd64(tb, 0x228), 0x1234);
    testbed_free(tb);
}

static void test_write_only_fields(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, DMAR_GCMD_REG, VTD_GCMD_SFL);
    assert_int_equal(rd32(tb, DMAR_GCMD_REG), 0);
    /* CCMD: SID and FM read as 0, DID and CIRG read back (ICC not set). */
    wr64(tb, DMAR_CCMD_REG, (3ULL << 61) | (3ULL << 32) | (0xabcdULL << 16) |
         0x42);
    assert_int_equal(rd64(tb, DMAR_CCMD_REG), (3ULL << 61) | 0x42);
    assert_int_equal(VTD_CCMD_SID(vtd_get64(tb->s, DMAR_CCMD_REG)), 0xabcd);
    wr64(tb, VTD_IVA_OFFSET, 0x12345000 | VTD_IVA_IH | 5);
    assert_int_equal(rd64(tb, VTD_IVA_OFFSET), 0);
    assert_int_equal(vtd_get64(tb->s, VTD_IVA_OFFSET),
                     0x12345000 | VTD_IVA_IH | 5);
    testbed_free(tb);
}

static void test_split_halves(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, DMAR_RTADDR_REG, 0x12345c00);
    wr32(tb, DMAR_RTADDR_REG + 4, 0xfedc);
    assert_int_equal(rd64(tb, DMAR_RTADDR_REG), 0x0000fedc12345c00ULL);
    assert_int_equal(rd32(tb, DMAR_RTADDR_REG), 0x12345c00);
    assert_int_equal(rd32(tb, DMAR_RTADDR_REG + 4), 0xfedc);
    wr32(tb, DMAR_RTADDR_REG + 4, 0);
    assert_int_equal(rd64(tb, DMAR_RTADDR_REG), 0x12345c00);
    /* One qword access over two dword registers. */
    wr64(tb, DMAR_FECTL_REG, 0x0000abcd00000000ULL);
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), 0);
    assert_int_equal(rd32(tb, DMAR_FEDATA_REG), 0xabcd);
    assert_int_equal(rd64(tb, DMAR_FECTL_REG), 0x0000abcd00000000ULL);
    testbed_free(tb);
}

static void test_upper_address_registers(void **state)
{
    VtdTestBed *tb = testbed_default();

    /* Without EIM: RO 0, like QEMU; the 8-byte FEADDR write is accepted. */
    wr64(tb, DMAR_FEADDR_REG, 0x12345678fee00004ULL);
    assert_int_equal(rd32(tb, DMAR_FEADDR_REG), 0xfee00004);
    assert_int_equal(rd32(tb, DMAR_FEUADDR_REG), 0);
    wr32(tb, DMAR_IEUADDR_REG, 0xffffffff);
    assert_int_equal(rd32(tb, DMAR_IEUADDR_REG), 0);
    assert_int_equal(rw_bits(tb, DMAR_IRTA_REG, 8) & VTD_IRTA_EIME, 0);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,eim=on");
    wr64(tb, DMAR_FEADDR_REG, 0x12345678fee00004ULL);
    assert_int_equal(rd32(tb, DMAR_FEUADDR_REG), 0x12345678);
    assert_int_equal(rw_bits(tb, DMAR_IEUADDR_REG, 4), 0xffffffff);
    assert_true(rw_bits(tb, DMAR_IRTA_REG, 8) & VTD_IRTA_EIME);
    testbed_free(tb);
}

/*
 * review-regs: IRTA_REG "is treated as RsvdZ by implementations reporting
 * Interrupt Remapping (IR) as not supported" (VT-d IRTA_REG): with
 * intremap=off it reads 0 whatever is written.
 */
static void test_irta_reserved_without_ir(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,intremap=off");

    assert_false(tb->s->ecap & VTD_ECAP_IR);
    assert_int_equal(rw_bits(tb, DMAR_IRTA_REG, 8), 0);
    wr32(tb, DMAR_IRTA_REG + 4, 0xffffffff);
    assert_int_equal(rd64(tb, DMAR_IRTA_REG), 0);
    testbed_free(tb);
}

static void test_page_request_registers(void **state)
{
    VtdTestBed *tb = testbed_default();

    for (unsigned off = DMAR_PQH_REG; off < VTD_IVA_OFFSET; off += 4) {
        wr32(tb, off, 0xffffffff);
        assert_int_equal(rd32(tb, off), 0);
    }
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,scalable-mode=on,device-iotlb=on,x-prs=on");
    assert_int_equal(rd32(tb, DMAR_PECTL_REG), VTD_XECTL_IM);
    assert_int_equal(rw_bits(tb, DMAR_PQH_REG, 8), 0x7ffe0);
    assert_int_equal(rw_bits(tb, DMAR_PQT_REG, 8), 0x7ffe0);
    assert_int_equal(rw_bits(tb, DMAR_PQA_REG, 8), 0xfffffffffffff007ULL);
    assert_int_equal(rw_bits(tb, DMAR_PEDATA_REG, 4), 0xffff);
    assert_int_equal(rw_bits(tb, DMAR_PEADDR_REG, 4), 0xfffffffc);
    vtd_set32(tb->s, DMAR_PRS_REG, VTD_PRS_PPR | VTD_PRS_PRO);
    wr32(tb, DMAR_PRS_REG, VTD_PRS_PRO);
    assert_int_equal(rd32(tb, DMAR_PRS_REG), VTD_PRS_PPR);
    testbed_free(tb);
}

static void test_bad_accesses(void **state)
{
    VtdTestBed *tb = testbed_default();
    uint64_t end = vtd_mmio_size(tb->s);

    assert_int_equal(rd32(tb, end), 0xffffffff);
    assert_int_equal(rd64(tb, end), ~0ULL);
    assert_int_equal(rd64(tb, end - 4), ~0ULL);   /* crosses the end */
    assert_int_equal(rd32(tb, 0x100000), 0xffffffff);
    assert_int_equal(rd32(tb, ~0ULL - 3), 0xffffffff);
    assert_int_equal(vtd_mmio_read(tb->s, DMAR_VER_REG, 1), 0xff);
    assert_int_equal(vtd_mmio_read(tb->s, DMAR_VER_REG, 2), 0xffff);
    assert_int_equal(rd64(tb, DMAR_RTADDR_REG + 4), ~0ULL);  /* misaligned */
    assert_int_equal(rd32(tb, DMAR_FEDATA_REG + 2), 0xffffffff);

    wr32(tb, DMAR_FEDATA_REG + 2, 0xffffffff);
    vtd_mmio_write(tb->s, DMAR_FEDATA_REG, 0xffff, 2);
    vtd_mmio_write(tb->s, DMAR_FEDATA_REG, 0xffff, 16);
    wr64(tb, DMAR_RTADDR_REG + 4, ~0ULL);
    wr32(tb, end, 0xffffffff);
    assert_int_equal(rd32(tb, DMAR_FEDATA_REG), 0);
    assert_int_equal(rd64(tb, DMAR_RTADDR_REG), 0);
    /* The last record is inside the window. */
    assert_int_equal(rd64(tb, end - 8), 0);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,x-nfr=256");
    assert_int_equal(vtd_mmio_size(tb->s), 0x220 + 16 * 256);
    vtd_set64(tb->s, vtd_frcd_offset(tb->s, 255) + 8, VTD_FRCD_HI_F);
    assert_int_equal(rd64(tb, 0x220 + 16 * 255 + 8), VTD_FRCD_HI_F);
    testbed_free(tb);
}

static void test_reset_restores_power_on_image(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,scalable-mode=on,eim=on");
    unsigned n = vtd_mmio_size(tb->s) / 4;
    uint32_t *before = g_new(uint32_t, n), *after = g_new(uint32_t, n);

    snapshot(tb, before, n);
    wr64(tb, DMAR_RTADDR_REG, 0x1000 | (1 << 10));
    wr32(tb, DMAR_GCMD_REG, VTD_GCMD_SRTP);
    wr64(tb, DMAR_IQA_REG, 0x2000);
    gcmd_set(tb, VTD_GCMD_QIE, true);
    wr64(tb, DMAR_IRTA_REG, 0x3000 | 7);
    gcmd_set(tb, VTD_GCMD_SIRTP, true);
    gcmd_set(tb, VTD_GCMD_IRE, true);
    gcmd_set(tb, VTD_GCMD_TE, true);
    wr32(tb, DMAR_FECTL_REG, 0);
    wr32(tb, DMAR_FEDATA_REG, 0x55);
    wr32(tb, DMAR_FEADDR_REG, 0xfee00000);
    wr32(tb, DMAR_FEUADDR_REG, 0x1);
    wr32(tb, DMAR_IEDATA_REG, 0x66);
    wr64(tb, DMAR_IQT_REG, 0x40);
    vtd_set32(tb->s, DMAR_FSTS_REG, VTD_FSTS_PPF | VTD_FSTS_IQE);
    vtd_set64(tb->s, 0x228, VTD_FRCD_HI_F);
    assert_int_not_equal(rd32(tb, DMAR_GSTS_REG), 0);

    mock.ctx_all = mock.iotlb_all = mock.pasid_all = 0;
    vtd_reset(tb->s);
    snapshot(tb, after, n);
    for (unsigned i = 0; i < n; i++) {
        if (before[i] != after[i]) {
            fail_msg("offset 0x%x: 0x%x before, 0x%x after reset", i * 4,
                     before[i], after[i]);
        }
    }
    assert_false(tb->s->dmar_enabled || tb->s->qi_enabled ||
                 tb->s->ir_enabled);
    assert_int_equal(tb->s->root_addr, 0);
    assert_int_equal(tb->s->iq_base, 0);
    assert_int_equal(tb->s->irt_base, 0);
    assert_int_equal(tb->s->ttm, 0);
    assert_int_equal(tb->s->fault_index, 0);
    assert_true(mock.ctx_all >= 1 && mock.iotlb_all >= 1 && mock.pasid_all >= 1);
    g_free(before);
    g_free(after);
    testbed_free(tb);
}

/* Arbitrary guest writes never disturb the identification registers and
 * never reach outside the image (run under ASan to catch the latter). */
static void test_random_accesses_are_contained(void **state)
{
    static const char *const cfgs[] = {
        "intel-iommu",
        "intel-iommu,eim=on,x-nfr=1",
        ("intel-iommu,scalable-mode=on,flts=on,device-iotlb=on,x-prs=on,"
         "x-nfr=256"),
    };
    GRand *rng = g_rand_new_with_seed(0x5eed);

    for (size_t c = 0; c < G_N_ELEMENTS(cfgs); c++) {
        VtdTestBed *tb = testbed_from_opts(cfgs[c]);
        uint64_t cap = tb->s->cap, ecap = tb->s->ecap;
        uint64_t span = vtd_mmio_size(tb->s) + 64;

        for (unsigned i = 0; i < 200000; i++) {
            unsigned size = 1u << g_rand_int_range(rng, 0, 5);
            uint64_t off = (uint64_t)g_rand_int_range(rng, 0, (gint32)span);
            uint64_t val = ((uint64_t)g_rand_int(rng) << 32) | g_rand_int(rng);

            if (g_rand_boolean(rng)) {
                vtd_mmio_write(tb->s, off, val, size);
            } else {
                (void)vtd_mmio_read(tb->s, off, size);
            }
        }
        assert_int_equal(rd32(tb, DMAR_VER_REG), VTD_VERSION);
        assert_int_equal(rd64(tb, DMAR_CAP_REG), cap);
        assert_int_equal(rd64(tb, DMAR_ECAP_REG), ecap);
        assert_true(tb->s->fault_index < tb->s->nfr);
        testbed_free(tb);
    }
    g_rand_free(rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_on_values),
        cmocka_unit_test(test_read_only_registers),
        cmocka_unit_test(test_read_write_masks),
        cmocka_unit_test(test_write_one_to_clear),
        cmocka_unit_test(test_write_only_fields),
        cmocka_unit_test(test_split_halves),
        cmocka_unit_test(test_upper_address_registers),
        cmocka_unit_test(test_page_request_registers),
        cmocka_unit_test(test_irta_reserved_without_ir),
        cmocka_unit_test(test_bad_accesses),
        cmocka_unit_test(test_reset_restores_power_on_image),
        cmocka_unit_test(test_random_accesses_are_contained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
