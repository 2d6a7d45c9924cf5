/*
 * Primary fault logging and the event interrupts: record encoding, FRI/PPF,
 * a full log and PFO, index wrap, FPD suppression, IQE/ICE/ITE status, and
 * the IM/IP logic of FECTL and IECTL.
 */
#include "vtd-test-fakes.h"

#define FEDATA  0x4021
#define FEADDR  0xfee01000u

static VtdFault write_fault(uint16_t sid, uint64_t addr, VtdFaultReason r)
{
    VtdFault f = { .reason = r, .sid = sid, .addr = addr, .is_write = true };

    return f;
}

static void report(VtdTestBed *tb, uint16_t sid, uint64_t addr)
{
    VtdFault f = write_fault(sid, addr, VTD_FR_LCT_2);

    vtd_fault_report(tb->s, &f);
}

static uint64_t frcd_lo(VtdTestBed *tb, unsigned n)
{
    return rd64(tb, 0x220 + 16 * n);
}

static uint64_t frcd_hi(VtdTestBed *tb, unsigned n)
{
    return rd64(tb, 0x220 + 16 * n + 8);
}

static void clear_frcd(VtdTestBed *tb, unsigned n)
{
    wr32(tb, 0x220 + 16 * n + 12, 0x80000000u);
}

static uint32_t fsts(VtdTestBed *tb)
{
    return rd32(tb, DMAR_FSTS_REG);
}

static unsigned fri(VtdTestBed *tb)
{
    return VTD_FIELD(fsts(tb), 15, 8);
}

static void program_fault_msi(VtdTestBed *tb, bool masked)
{
    wr32(tb, DMAR_FEDATA_REG, FEDATA);
    wr32(tb, DMAR_FEADDR_REG, FEADDR);
    wr32(tb, DMAR_FECTL_REG, masked ? VTD_XECTL_IM : 0);
}

static void test_first_fault_recorded(void **state)
{
    VtdTestBed *tb = testbed_default();
    VtdStats st;

    report(tb, 0x0108, 0x12345678);
    assert_int_equal(frcd_lo(tb, 0), 0x12345000);
    assert_int_equal(frcd_hi(tb, 0), VTD_FRCD_HI_F | VTD_FRCD_HI_FR(0x02) |
                     0x0108);
    assert_int_equal(fsts(tb), VTD_FSTS_PPF);   /* FRI = 0 */
    /* Power-on IM=1: the event is held pending. */
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), VTD_XECTL_IM | VTD_XECTL_IP);
    assert_int_equal(tb->nmsgs, 0);
    vtd_get_stats(tb->s, &st);
    assert_int_equal(st.faults_recorded, 1);
    testbed_free(tb);
}

/*
 * review-regs: for DMA-remapping faults, FRCD.FI bits 63:N are reserved (0),
 * N = MGAW (VT-d spec FRCD_REG FI; vtd-spec-facts.md §4.9): a request
 * beyond the address width (LGN.1) records only its page bits below MGAW.
 */
static void test_fault_info_limited_to_mgaw(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,aw-bits=39");
    VtdFault f = write_fault(0x0010, (1ULL << 63) | (1ULL << 45) | 0x7654321,
                             VTD_FR_LGN_1);

    vtd_fault_report(tb->s, &f);
    assert_int_equal(frcd_lo(tb, 0), 0x7654000);
    assert_int_equal(VTD_FIELD(frcd_hi(tb, 0), 39, 32), 0x04);
    testbed_free(tb);
}

static void test_event_unmasked_sends_msi(void **state)
{
    VtdTestBed *tb = testbed_default();

    program_fault_msi(tb, false);
    report(tb, 1, 0x1000);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].addr, FEADDR);
    assert_int_equal(tb->msgs[0].data, FEDATA);
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), 0);  /* IP stays clear */
    /* A second fault while PPF is pending: logged, no event. */
    report(tb, 2, 0x2000);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(frcd_hi(tb, 1) & 0xffff, 2);
    assert_int_equal(fri(tb), 0);
    testbed_free(tb);
}

static void test_unmask_sends_pending_event(void **state)
{
    VtdTestBed *tb = testbed_default();

    program_fault_msi(tb, true);
    report(tb, 1, 0x1000);
    assert_int_equal(tb->nmsgs, 0);
    assert_true(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    wr32(tb, DMAR_FECTL_REG, VTD_XECTL_IM);     /* still masked */
    assert_int_equal(tb->nmsgs, 0);
    wr32(tb, DMAR_FECTL_REG, 0);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].data, FEDATA);
    assert_int_equal(rd32(tb, DMAR_FECTL_REG), 0);
    wr32(tb, DMAR_FECTL_REG, 0);                /* nothing pending now */
    assert_int_equal(tb->nmsgs, 1);
    testbed_free(tb);
}

static void test_ip_cleared_when_status_cleared(void **state)
{
    VtdTestBed *tb = testbed_default();

    report(tb, 1, 0x1000);
    report(tb, 2, 0x2000);
    clear_frcd(tb, 0);
    assert_true(fsts(tb) & VTD_FSTS_PPF);        /* record 1 still pending */
    assert_true(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    clear_frcd(tb, 1);
    assert_false(fsts(tb) & VTD_FSTS_PPF);
    assert_false(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    /* The next fault raises a new event, with FRI on its record. */
    report(tb, 3, 0x3000);
    assert_int_equal(fri(tb), 2);
    assert_true(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    testbed_free(tb);
}

static void test_full_log_overflows(void **state)
{
    VtdTestBed *tb = testbed_default();
    unsigned nfr = VTD_CAP_NFR_GET(rd64(tb, DMAR_CAP_REG));

    assert_int_equal(nfr, 8);
    program_fault_msi(tb, false);
    for (unsigned i = 0; i < nfr; i++) {
        report(tb, 0x100 + i, 0x1000 * (i + 1));
    }
    assert_int_equal(fsts(tb), VTD_FSTS_PPF);
    assert_int_equal(tb->nmsgs, 1);
    for (unsigned i = 0; i < nfr; i++) {
        assert_int_equal(frcd_hi(tb, i) & 0xffff, 0x100 + i);
    }

    /* The next record slot (index wrapped to 0) is busy: overflow. */
    report(tb, 0x200, 0x9000);
    assert_int_equal(fsts(tb), VTD_FSTS_PPF | VTD_FSTS_PFO);
    assert_int_equal(frcd_hi(tb, 0) & 0xffff, 0x100);
    assert_int_equal(tb->nmsgs, 1);             /* PPF was outstanding */

    /* With PFO set nothing is logged, even into a free record. */
    clear_frcd(tb, 0);
    report(tb, 0x201, 0xa000);
    assert_false(frcd_hi(tb, 0) & VTD_FRCD_HI_F);

    /* Clear PFO: logging resumes at the internal index (0). */
    wr32(tb, DMAR_FSTS_REG, VTD_FSTS_PFO);
    report(tb, 0x202, 0xb000);
    assert_int_equal(frcd_hi(tb, 0) & 0xffff, 0x202);
    assert_int_equal(fri(tb), 0);   /* PPF stayed set, FRI unchanged */
    report(tb, 0x203, 0xc000);      /* slot 1 still holds a fault */
    assert_true(fsts(tb) & VTD_FSTS_PFO);
    testbed_free(tb);
}

static void test_index_wraps_and_fri_follows(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,x-nfr=3");

    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 3; i++) {
            report(tb, (uint16_t)(round * 16 + i), 0x1000);
            assert_int_equal(frcd_hi(tb, i) & 0xffff, round * 16 + i);
            assert_int_equal(fri(tb), i);
            clear_frcd(tb, i);
            assert_int_equal(fsts(tb) & VTD_FSTS_PPF, 0);
        }
    }
    /* Records land at 0, 1 then, after clearing only record 0, at 2, 0. */
    report(tb, 0xa0, 0x1000);
    report(tb, 0xa1, 0x1000);
    clear_frcd(tb, 0);
    report(tb, 0xa2, 0x1000);
    report(tb, 0xa3, 0x1000);
    assert_int_equal(frcd_hi(tb, 0) & 0xffff, 0xa3);
    assert_int_equal(frcd_hi(tb, 1) & 0xffff, 0xa1);
    assert_int_equal(frcd_hi(tb, 2) & 0xffff, 0xa2);
    assert_int_equal(fri(tb), 0);   /* first pending was record 0 */
    assert_false(fsts(tb) & VTD_FSTS_PFO);
    report(tb, 0xa4, 0x1000);
    assert_true(fsts(tb) & VTD_FSTS_PFO);
    testbed_free(tb);
}

static void test_single_record_like_qemu(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,x-nfr=1");

    report(tb, 1, 0x1000);
    report(tb, 2, 0x2000);
    assert_true(fsts(tb) & VTD_FSTS_PFO);
    assert_int_equal(frcd_hi(tb, 0) & 0xffff, 1);
    testbed_free(tb);
}

static void test_index_restarts_when_remapping_off(void **state)
{
    VtdTestBed *tb = testbed_default();

    gcmd_set(tb, VTD_GCMD_TE, true);
    report(tb, 1, 0x1000);
    report(tb, 2, 0x2000);
    clear_frcd(tb, 0);
    clear_frcd(tb, 1);
    gcmd_set(tb, VTD_GCMD_TE, false);
    report(tb, 3, 0x3000);
    assert_int_equal(frcd_hi(tb, 0) & 0xffff, 3);
    assert_int_equal(fri(tb), 0);
    testbed_free(tb);
}

static void test_fpd_suppresses_qualified_only(void **state)
{
    VtdTestBed *tb = testbed_default();
    VtdFault f = write_fault(5, 0x1000, VTD_FR_LCT_2);
    VtdStats st;

    f.fpd = true;
    vtd_fault_report(tb->s, &f);
    f.reason = VTD_FR_LCT_3;        /* qualified per the spec */
    vtd_fault_report(tb->s, &f);
    assert_int_equal(fsts(tb), 0);
    assert_false(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    f.reason = VTD_FR_LRT_2;        /* unqualified: always reported */
    vtd_fault_report(tb->s, &f);
    assert_int_equal(VTD_FIELD(frcd_hi(tb, 0), 103 - 64, 96 - 64), 0x01);
    vtd_get_stats(tb->s, &st);
    assert_int_equal(st.faults_suppressed, 2);
    assert_int_equal(st.faults_recorded, 1);
    testbed_free(tb);
}

static uint64_t record_of(VtdTestBed *tb, const VtdFault *f)
{
    vtd_fault_report(tb->s, f);
    return frcd_hi(tb, (tb->s->fault_index + tb->s->nfr - 1) % tb->s->nfr);
}

static void test_request_type_encoding(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,x-nfr=16");
    VtdFault f = { .reason = VTD_FR_SGN_6, .sid = 9, .addr = 0x5000 };
    uint64_t t_bits = VTD_FRCD_HI_T1 | VTD_FRCD_HI_T2, hi;

    f.is_write = true;
    assert_int_equal(record_of(tb, &f) & t_bits, 0);
    f.is_write = false;
    f.is_read = true;
    assert_int_equal(record_of(tb, &f) & t_bits, VTD_FRCD_HI_T1);
    f.is_write = true;
    assert_int_equal(record_of(tb, &f) & t_bits, t_bits);  /* AtomicOp */
    f.is_read = f.is_write = false;
    f.page_request = true;
    assert_int_equal(record_of(tb, &f) & t_bits, VTD_FRCD_HI_T2);

    /* Without PASID, PRIV and EXE are not reported. */
    f = (VtdFault){ .reason = VTD_FR_SGN_7, .sid = 9, .addr = 0x5000,
                    .is_read = true, .priv = true, .exec = true, .at = 2 };
    hi = record_of(tb, &f);
    assert_false(hi & (VTD_FRCD_HI_PP | VTD_FRCD_HI_PRIV | VTD_FRCD_HI_EXE));
    assert_int_equal(VTD_FIELD(hi, 125 - 64, 124 - 64), 0);  /* no DT */

    f.pasid_present = true;
    f.pasid = 0xabcde;
    hi = record_of(tb, &f);
    assert_true(hi & VTD_FRCD_HI_PP);
    assert_true(hi & VTD_FRCD_HI_PRIV);
    assert_true(hi & VTD_FRCD_HI_EXE);
    assert_int_equal(VTD_FIELD(hi, 123 - 64, 104 - 64), 0xabcde);
    assert_int_equal(VTD_FIELD(hi, 103 - 64, 96 - 64), VTD_FR_SGN_7);
    assert_int_equal(hi & 0xffff, 9);
    assert_true(hi & VTD_FRCD_HI_F);
    testbed_free(tb);

    tb = testbed_from_opts("intel-iommu,device-iotlb=on");
    f = (VtdFault){ .reason = VTD_FR_LCT_5, .sid = 1, .addr = 0x5000,
                    .is_read = true, .at = 1 };
    assert_int_equal(VTD_FIELD(record_of(tb, &f), 125 - 64, 124 - 64), 1);
    testbed_free(tb);
}

static void test_interrupt_remapping_fault(void **state)
{
    VtdTestBed *tb = testbed_default();
    VtdFault f = { .reason = VTD_FR_IR_IRTE_P, .sid = 0x00f8, .addr = 0x1234,
                   .is_ir = true, .is_write = true };
    uint64_t hi;

    vtd_fault_report(tb->s, &f);
    assert_int_equal(frcd_lo(tb, 0), 0x1234ULL << 48);
    hi = frcd_hi(tb, 0);
    assert_int_equal(hi, VTD_FRCD_HI_F | VTD_FRCD_HI_FR(0x22) | 0x00f8);
    f.addr = 0xfffeULL << 48;       /* already shifted into place */
    vtd_fault_report(tb->s, &f);
    assert_int_equal(frcd_lo(tb, 1), 0xfffeULL << 48);
    f.fpd = true;                   /* the IRTE's FPD hides qualified ones */
    vtd_fault_report(tb->s, &f);
    assert_false(frcd_hi(tb, 2) & VTD_FRCD_HI_F);
    testbed_free(tb);
}

static void test_queue_error_status(void **state)
{
    VtdTestBed *tb = testbed_default();

    program_fault_msi(tb, false);
    vtd_fault_set_status(tb->s, VTD_FSTS_IQE);
    assert_int_equal(fsts(tb), VTD_FSTS_IQE);
    assert_int_equal(tb->nmsgs, 1);
    vtd_fault_set_status(tb->s, VTD_FSTS_ITE);  /* IQE outstanding */
    assert_int_equal(tb->nmsgs, 1);
    report(tb, 1, 0x1000);                      /* also no new event */
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(fsts(tb), VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_PPF);
    vtd_fault_set_status(tb->s, VTD_FSTS_PPF | VTD_FSTS_PFO);  /* not its job */
    assert_false(fsts(tb) & VTD_FSTS_PFO);
    testbed_free(tb);

    tb = testbed_default();
    vtd_fault_set_status(tb->s, VTD_FSTS_ICE);
    assert_true(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    wr32(tb, DMAR_FSTS_REG, VTD_FSTS_ICE);
    assert_int_equal(fsts(tb), 0);
    assert_false(rd32(tb, DMAR_FECTL_REG) & VTD_XECTL_IP);
    testbed_free(tb);
}

static void test_extended_destination_address(void **state)
{
    VtdTestBed *tb = testbed_from_opts("intel-iommu,eim=on");

    wr32(tb, DMAR_FEUADDR_REG, 0x00000123);
    program_fault_msi(tb, false);
    report(tb, 1, 0x1000);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].addr, (0x123ULL << 32) | FEADDR);
    testbed_free(tb);
}

static void test_completion_event(void **state)
{
    VtdTestBed *tb = testbed_default();

    wr32(tb, DMAR_IEDATA_REG, 0x77);
    wr32(tb, DMAR_IEADDR_REG, 0xfee02000);
    /* Masked (power-on): pending until IM is cleared. */
    vtd_set32(tb->s, DMAR_ICS_REG, VTD_ICS_IWC);
    vtd_event_raise(tb->s, DMAR_IECTL_REG, DMAR_IEDATA_REG, DMAR_IEADDR_REG,
                    DMAR_IEUADDR_REG);
    assert_int_equal(tb->nmsgs, 0);
    assert_true(rd32(tb, DMAR_IECTL_REG) & VTD_XECTL_IP);
    wr32(tb, DMAR_IECTL_REG, 0);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].data, 0x77);
    assert_int_equal(tb->msgs[0].addr, 0xfee02000);
    assert_false(rd32(tb, DMAR_IECTL_REG) & VTD_XECTL_IP);

    /* Masked again; clearing IWC drops the pending event. */
    wr32(tb, DMAR_IECTL_REG, VTD_XECTL_IM);
    vtd_event_raise(tb->s, DMAR_IECTL_REG, DMAR_IEDATA_REG, DMAR_IEADDR_REG,
                    DMAR_IEUADDR_REG);
    assert_true(rd32(tb, DMAR_IECTL_REG) & VTD_XECTL_IP);
    wr32(tb, DMAR_ICS_REG, VTD_ICS_IWC);
    assert_false(rd32(tb, DMAR_IECTL_REG) & VTD_XECTL_IP);
    wr32(tb, DMAR_IECTL_REG, 0);
    assert_int_equal(tb->nmsgs, 1);
    testbed_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_fault_recorded),
        cmocka_unit_test(test_fault_info_limited_to_mgaw),
        cmocka_unit_test(test_event_unmasked_sends_msi),
        cmocka_unit_test(test_unmask_sends_pending_event),
        cmocka_unit_test(test_ip_cleared_when_status_cleared),
        cmocka_unit_test(test_full_log_overflows),
        cmocka_unit_test(test_index_wraps_and_fri_follows),
        cmocka_unit_test(test_single_record_like_qemu),
        cmocka_unit_test(test_index_restarts_when_remapping_off),
        cmocka_unit_test(test_fpd_suppresses_qualified_only),
        cmocka_unit_test(test_request_type_encoding),
        cmocka_unit_test(test_interrupt_remapping_fault),
        cmocka_unit_test(test_queue_error_status),
        cmocka_unit_test(test_extended_destination_address),
        cmocka_unit_test(test_completion_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
