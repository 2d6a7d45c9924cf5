/*
 * GCMD: every command and the GSTS bit it reports, the values latched into
 * the unit's state, cache flushes, the queue hooks and the fault index reset.
 */
#include "vtd-test-fakes.h"

static uint32_t gsts(VtdTestBed *tb)
{
    return rd32(tb, DMAR_GSTS_REG);
}

static unsigned flushes(void)
{
    return mock.ctx_all + mock.pasid_all + mock.iotlb_all;
}

static void test_srtp_latches_root(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,scalable-mode=on");

    wr64(tb, DMAR_RTADDR_REG, 0x123456000ULL | (1 << 10));
    assert_int_equal(tb->s->root_addr, 0);  /* not before the command */
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    assert_true(gsts(tb) & VTD_GSTS_RTPS);
    assert_int_equal(tb->s->root_addr, 0x123456000ULL);
    assert_int_equal(tb->s->ttm, VTD_TTM_SCALABLE);
    assert_false(tb->s->ssirwe);
    /* ESRTPS: context, PASID and IOTLB caches all dropped. */
    assert_int_equal(mock.ctx_all, 1);
    assert_int_equal(mock.pasid_all, 1);
    assert_int_equal(mock.iotlb_all, 1);

    /* A new value takes effect only on the next SRTP. */
    wr64(tb, DMAR_RTADDR_REG, 0x8000 | (3 << 10));
    assert_int_equal(tb->s->root_addr, 0x123456000ULL);
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    assert_int_equal(tb->s->root_addr, 0x8000);
    assert_int_equal(tb->s->ttm, VTD_TTM_ABORT_DMA);   /* faults later */
    assert_int_equal(mock.iotlb_all, 2);

    /* Written together with persistent level bits (QEMU's libqos). */
    wr64(tb, DMAR_RTADDR_REG, 0x9000);
    wr32(tb, DMAR_GCMD_REG, VTD_GCMD_SRTP | VTD_GCMD_TE);
    assert_int_equal(tb->s->root_addr, 0x9000);
    assert_true(gsts(tb) & VTD_GSTS_TES);
    testbed_free(tb);
}

static void test_srtp_masks_to_address_width(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,aw-bits=39");

    wr64(tb, DMAR_RTADDR_REG, (1ULL << 45) | 0x5000);
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    assert_int_equal(tb->s->root_addr, 0x5000);
    testbed_free(tb);
}

static void test_translation_enable(void **state)
{
    VtdTestBed *tb = testbed_default();
    unsigned before;

    gcmd_set(tb, VTD_GCMD_TE, true);
    assert_true(gsts(tb) & VTD_GSTS_TES);
    assert_true(tb->s->dmar_enabled);
    /* Re-writing the same level is no command. */
    before = flushes();
    gcmd_set(tb, VTD_GCMD_TE, true);
    assert_int_equal(flushes(), before);
    gcmd_set(tb, VTD_GCMD_TE, false);
    assert_false(gsts(tb) & VTD_GSTS_TES);
    assert_false(tb->s->dmar_enabled);
    assert_int_equal(mock.iotlb_all, 1);
    assert_int_equal(mock.ctx_all, 1);
    assert_int_equal(mock.pasid_all, 1);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,dma-translation=off");
    gcmd_set(tb, VTD_GCMD_TE, true);
    assert_false(gsts(tb) & VTD_GSTS_TES);
    assert_false(tb->s->dmar_enabled);
    testbed_free(tb);
}

static void test_qie_enable_latches_queue(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, DMAR_IQA_REG, 0x45000 | 2);
    gcmd_set(tb, VTD_GCMD_QIE, true);
    assert_true(gsts(tb) & VTD_GSTS_QIES);
    assert_true(tb->s->qi_enabled);
    assert_int_equal(tb->s->iq_base, 0x45000);
    assert_false(tb->s->iq_dw);
    assert_int_equal(tb->s->iq_entries, 1024);  /* 2^(QS+8) */
    assert_int_equal(mock.qi_enabled, 1);
    /* IQA changes later do not move the live queue. */
    wr64(tb, DMAR_IQA_REG, 0x99000);
    assert_int_equal(tb->s->iq_base, 0x45000);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,scalable-mode=on");
    wr64(tb, DMAR_IQA_REG, 0x46000 | VTD_IQA_DW | 7);
    gcmd_set(tb, VTD_GCMD_QIE, true);
    assert_true(tb->s->iq_dw);
    assert_int_equal(tb->s->iq_entries, 1u << 14);  /* 2^(QS+7) */
    testbed_free(tb);
}

static void test_qie_disable_needs_quiesced_queue(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, DMAR_IQA_REG, 0x45000);
    gcmd_set(tb, VTD_GCMD_QIE, true);
    vtd_set64(tb->s, DMAR_IQH_REG, 0x40);
    wr64(tb, DMAR_IQT_REG, 0x40);

    /* Head at tail, but the last descriptor was not a wait: ignored. */
    gcmd_set(tb, VTD_GCMD_QIE, false);
    assert_true(gsts(tb) & VTD_GSTS_QIES);
    assert_true(tb->s->qi_enabled);

    /* Last was a wait but descriptors are pending: ignored. */
    tb->s->iq_last_was_wait = true;
    wr64(tb, DMAR_IQT_REG, 0x60);
    gcmd_set(tb, VTD_GCMD_QIE, false);
    assert_true(gsts(tb) & VTD_GSTS_QIES);

    wr64(tb, DMAR_IQT_REG, 0x40);
    gcmd_set(tb, VTD_GCMD_QIE, false);
    assert_false(gsts(tb) & VTD_GSTS_QIES);
    assert_false(tb->s->qi_enabled);
    assert_int_equal(rd64(tb, DMAR_IQH_REG), 0);
    testbed_free(tb);
}

static void test_iqt_write_runs_queue(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, DMAR_IQT_REG, 0x10);
    assert_int_equal(mock.qi_process, 1);
    wr64(tb, DMAR_IQT_REG, 0x20);
    assert_int_equal(mock.qi_process, 2);
    wr32(tb, DMAR_IQT_REG + 4, 0);      /* high half: nothing to do */
    assert_int_equal(mock.qi_process, 2);
    wr64(tb, DMAR_IQA_REG, 0x1000);     /* neighbours do not trigger it */
    wr64(tb, DMAR_IQH_REG, 0);
    assert_int_equal(mock.qi_process, 2);
    assert_int_equal(rd64(tb, DMAR_IQT_REG), 0x20);
    testbed_free(tb);
}

static void test_sirtp_latches_irt(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr64(tb, DMAR_IRTA_REG, 0x77000 | VTD_IRTA_EIME | 3);
    gcmd_set(tb, VTD_GCMD_SIRTP, true);
    assert_true(gsts(tb) & VTD_GSTS_IRTPS);
    assert_int_equal(tb->s->irt_base, 0x77000);
    assert_int_equal(tb->s->irt_entries, 16);   /* 2^(S+1) */
    assert_false(tb->s->irt_eime);              /* no EIM: RsvdZ */
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,eim=on");
    wr64(tb, DMAR_IRTA_REG, 0x78000 | VTD_IRTA_EIME | 15);
    gcmd_set(tb, VTD_GCMD_SIRTP, true);
    assert_true(tb->s->irt_eime);
    assert_int_equal(tb->s->irt_entries, 65536);
    testbed_free(tb);
}

static void test_ire_and_cfi(void **state)
{
    VtdTestBed *tb = testbed_default();

    gcmd_set(tb, VTD_GCMD_IRE, true);
    assert_true(gsts(tb) & VTD_GSTS_IRES);
    assert_true(tb->s->ir_enabled);
    gcmd_set(tb, VTD_GCMD_CFI, true);
    assert_true(gsts(tb) & VTD_GSTS_CFIS);
    assert_true(tb->s->cfi_enabled);
    assert_true(gsts(tb) & VTD_GSTS_IRES);      /* untouched by CFI */
    gcmd_set(tb, VTD_GCMD_CFI, false);
    assert_false(tb->s->cfi_enabled);
    gcmd_set(tb, VTD_GCMD_IRE, false);
    assert_false(gsts(tb) & VTD_GSTS_IRES);
    assert_false(tb->s->ir_enabled);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,intremap=off");
    gcmd_set(tb, VTD_GCMD_IRE, true);
    gcmd_set(tb, VTD_GCMD_CFI, true);
    gcmd_set(tb, VTD_GCMD_SIRTP, true);
    assert_int_equal(gsts(tb), 0);
    assert_false(tb->s->ir_enabled);
    testbed_free(tb);
}

static void test_obsolete_and_unsupported_commands(void **state)
{
    VtdTestBed *tb = testbed_default();

    /* WBF needs CAP.RWBF; SFL/EAFL are reserved in Rev 5.10. */
    wr32(tb, DMAR_GCMD_REG, VTD_GCMD_WBF | VTD_GCMD_SFL | VTD_GCMD_EAFL);
    assert_int_equal(gsts(tb), 0);
    assert_int_equal(flushes(), 0);
    wr32(tb, DMAR_GCMD_REG, 0);
    assert_int_equal(gsts(tb), 0);
    testbed_free(tb);
}

static void test_fault_index_reset(void **state)
{
    VtdTestBed *tb = testbed_default();

    gcmd_set(tb, VTD_GCMD_TE, true);
    gcmd_set(tb, VTD_GCMD_IRE, true);
    tb->s->fault_index = 3;
    gcmd_set(tb, VTD_GCMD_TE, false);
    assert_int_equal(tb->s->fault_index, 3);    /* IR still on */
    gcmd_set(tb, VTD_GCMD_IRE, false);
    assert_int_equal(tb->s->fault_index, 0);

    gcmd_set(tb, VTD_GCMD_TE, true);
    tb->s->fault_index = 5;
    gcmd_set(tb, VTD_GCMD_TE, false);
    assert_int_equal(tb->s->fault_index, 0);
    testbed_free(tb);
}

static void test_one_command_protocol(void **state)
{
    VtdTestBed *tb = testbed_default();
    unsigned before;

    gcmd_set(tb, VTD_GCMD_TE, true);
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    before = flushes();
    /* The next driver command carries TE along: TE must not toggle. */
    gcmd_set(tb, VTD_GCMD_SIRTP, true);
    assert_int_equal(flushes(), before);
    assert_true(gsts(tb) & VTD_GSTS_TES);
    assert_true(gsts(tb) & VTD_GSTS_RTPS);
    assert_true(gsts(tb) & VTD_GSTS_IRTPS);
    testbed_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srtp_latches_root),
        cmocka_unit_test(test_srtp_masks_to_address_width),
        cmocka_unit_test(test_translation_enable),
        cmocka_unit_test(test_qie_enable_latches_queue),
        cmocka_unit_test(test_qie_disable_needs_quiesced_queue),
        cmocka_unit_test(test_iqt_write_runs_queue),
        cmocka_unit_test(test_sirtp_latches_irt),
        cmocka_unit_test(test_ire_and_cfi),
        cmocka_unit_test(test_obsolete_and_unsupported_commands),
        cmocka_unit_test(test_fault_index_reset),
        cmocka_unit_test(test_one_command_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
