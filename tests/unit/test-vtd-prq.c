/*
 * Page requests (vtd-prq.c): the 256-bit page request descriptor in the
 * queue, PQT/PRS/PECTL, the full queue and PRO, automatic responses, faults
 * on the remapping tables, the implicit invalidation, and page group
 * responses reaching the device side.
 *
 * Structures are written into fake RAM with bit positions taken from the
 * spec (vtd-spec-facts.md §4.3-4.6, §4.10), not from the implementation.
 */
#include "vtd-test-fakes.h"
#include "hw/intel-iommu/vtd-inval.h"

#define RTA         0x1000ULL
#define CTX         0x2000ULL
#define PDIR        0x3000ULL
#define PTBL        0x4000ULL
#define PQ_BASE     0x8000ULL       /* PQS=0: 128 entries, one page */
#define PQ_ENTRIES  128
#define PEDATA      0x4099
#define PEADDR      0xfee02000u

#define DEVFN       0x10
#define SID         ((uint16_t)(0x00 << 8 | DEVFN))
#define TEST_PASID  0x45
#define DID         0x33

/* What the prq sink received. */
typedef struct Responses {
    unsigned n;
    uint16_t sid;
    uint32_t pasid;
    bool pp;
    uint16_t prgi;
    uint8_t rc;
} Responses;

static Responses resp;

static void record_response(void *opaque, uint16_t sid, uint32_t pasid,
                            bool pasid_present, uint16_t prgi, uint8_t rc)
{
    resp.n++;
    resp.sid = sid;
    resp.pasid = pasid;
    resp.pp = pasid_present;
    resp.prgi = prgi;
    resp.rc = rc;
}

static void put64(VtdTestBed *tb, uint64_t gpa, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(&tb->ram[gpa], &v, 8);
}

static uint64_t get64(VtdTestBed *tb, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, &tb->ram[gpa], 8);
    return GUINT64_FROM_LE(v);
}

/*
 * A scalable-mode unit with page requests. PASID support and device-TLB
 * together are refused by QEMU's option rules, so the config is built by
 * hand (the unit itself has no such restriction) to cover requests with
 * PASID as well.
 */
static VtdTestBed *prq_bed(bool prs, bool fs)
{
    VtdTestBed *tb = g_new0(VtdTestBed, 1);
    VtdGuestMem mem = { tb, fake_read, fake_write };
    VtdMsiSink msi = { tb, fake_deliver };
    VtdPrqSink sink = { NULL, record_response };
    VtdConfig cfg;

    vtd_config_defaults(&cfg);
    cfg.aw_bits = 48;
    cfg.scalable_mode = true;
    cfg.device_iotlb = true;
    cfg.pasid_bits = 20;
    cfg.x_prs = prs;
    cfg.x_ssts = true;
    cfg.flts = fs;
    cfg.x_nest = fs;
    cfg.x_srs = true;
    memset(&mock, 0, sizeof(mock));
    memset(&resp, 0, sizeof(resp));
    tb->s = vtd_new(&cfg, &mem, &msi);
    assert_non_null(tb->s);
    vtd_set_prq_sink(tb->s, &sink);
    return tb;
}

typedef struct CtxOpts {
    bool pre, fpd, paside;
} CtxOpts;

/* Root -> context (devfn DEVFN) -> PASID dir -> PASID table, one entry for
 * PASID 0 (requests without PASID) and one for TEST_PASID. */
static void build_tables(VtdTestBed *tb, CtxOpts c, unsigned pgtt, bool sre)
{
    uint64_t pe0 = 1 | (2ULL << 2) | ((uint64_t)pgtt << 6) | 0x9000;
    uint64_t ctx0 = 1 | VTD_BIT(2) | PDIR;      /* P, DTE, PDTS 0 */

    ctx0 |= c.pre ? VTD_BIT(4) : 0;
    ctx0 |= c.fpd ? VTD_BIT(1) : 0;
    ctx0 |= c.paside ? VTD_BIT(3) : 0;
    put64(tb, RTA + 0 * 16, CTX | 1);                       /* LP */
    put64(tb, CTX + (DEVFN & 0x7f) * 32, ctx0);
    for (unsigned i = 0; i < 2; i++) {
        uint32_t pasid = i ? TEST_PASID : 0;
        uint64_t e = PTBL + (pasid & 0x3f) * 64;

        put64(tb, PDIR + (pasid >> 6) * 8, PTBL | 1);
        put64(tb, e, pe0);
        put64(tb, e + 8, DID);
        /* FS pointer (also valid as a nested GPA), SRE. */
        put64(tb, e + 16, 0xa000 | (sre ? 1 : 0));
    }
}

static void enable(VtdTestBed *tb, unsigned ttm)
{
    wr64(tb, DMAR_RTADDR_REG, RTA | ((uint64_t)ttm << 10));
    gcmd_set(tb, VTD_GCMD_SRTP, true);
    gcmd_set(tb, VTD_GCMD_TE, true);
    assert_true(rd32(tb, DMAR_GSTS_REG) & VTD_GSTS_TES);
}

static void program_queue(VtdTestBed *tb, bool masked)
{
    wr64(tb, DMAR_PQA_REG, PQ_BASE);
    wr64(tb, DMAR_PQH_REG, 0);
    wr64(tb, DMAR_PQT_REG, 0);
    wr32(tb, DMAR_PEDATA_REG, PEDATA);
    wr32(tb, DMAR_PEADDR_REG, PEADDR);
    wr32(tb, DMAR_PECTL_REG, masked ? VTD_XECTL_IM : 0);
}

/* A ready unit: scalable, tables built (PRE, PASIDE), queue programmed. */
static VtdTestBed *ready_bed(unsigned pgtt)
{
    VtdTestBed *tb = prq_bed(true, pgtt == 1 || pgtt == 3);

    build_tables(tb, (CtxOpts){ .pre = true, .paside = true }, pgtt, true);
    enable(tb, 1);
    program_queue(tb, false);
    memset(&mock, 0, sizeof(mock));
    tb->nmsgs = 0;
    return tb;
}

static uint32_t prs(VtdTestBed *tb)
{
    return rd32(tb, DMAR_PRS_REG);
}

static uint64_t frcd_hi(VtdTestBed *tb)
{
    return rd64(tb, 0x220 + 8);
}

static bool request_nopasid(VtdTestBed *tb, uint64_t addr, bool lpig,
                            uint16_t prgi)
{
    return vtd_page_request(tb->s, SID, 0, false, addr, true, false, false,
                            false, lpig, prgi);
}

/* ---- Descriptor and queue ----------------------------------------------- */

static void test_descriptor_with_pasid(void **state)
{
    VtdTestBed *tb = ready_bed(2);
    uint64_t addr = 0x7654321abcdeULL;

    assert_true(vtd_page_request(tb->s, SID, TEST_PASID, true, addr, true, true,
                                 true, true, true, 0x155));
    /* qw0: type 1, PP bit 8, RID 31:16, PASID 51:32, EXR 52, PMR 53. */
    assert_int_equal(get64(tb, PQ_BASE),
                     0x1 | (1ULL << 8) | ((uint64_t)SID << 16) |
                     ((uint64_t)TEST_PASID << 32) | (1ULL << 52) | (1ULL << 53));
    /* qw1: RDR 0, WRR 1, LPIG 2, PRGI 11:3, ADDR 63:12. */
    assert_int_equal(get64(tb, PQ_BASE + 8),
                     0x7 | (0x155ULL << 3) | (addr & ~0xfffULL));
    assert_int_equal(get64(tb, PQ_BASE + 16), 0);
    assert_int_equal(get64(tb, PQ_BASE + 24), 0);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 32);
    assert_int_equal(prs(tb), VTD_PRS_PPR);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].addr, PEADDR);
    assert_int_equal(tb->msgs[0].data, PEDATA);
    assert_int_equal(resp.n, 0);            /* software answers, not the unit */
    testbed_free(tb);
}

static void test_descriptor_without_pasid(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    /* exec/priv only exist with a PASID: not reported. */
    assert_true(vtd_page_request(tb->s, SID, 0x99, false, 0x5000, false, true,
                                 true, true, false, 0x1ff));
    assert_int_equal(get64(tb, PQ_BASE), 0x1 | ((uint64_t)SID << 16));
    assert_int_equal(get64(tb, PQ_BASE + 8), 0x2 | (0x1ffULL << 3) | 0x5000);
    testbed_free(tb);
}

static void test_tail_advances_and_wraps(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    wr64(tb, DMAR_PQH_REG, 5 * 32);
    wr64(tb, DMAR_PQT_REG, (PQ_ENTRIES - 1) * 32);
    assert_true(request_nopasid(tb, 0x1000, false, 1));
    assert_int_equal(get64(tb, PQ_BASE + (PQ_ENTRIES - 1) * 32) & 0xff, 1);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 0);
    assert_true(request_nopasid(tb, 0x2000, false, 2));
    assert_int_equal(get64(tb, PQ_BASE + 8) & ~0xfffULL, 0x2000);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 32);
    testbed_free(tb);
}

/* ---- Events --------------------------------------------------------------- */

static void test_event_only_when_nothing_pending(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    assert_true(request_nopasid(tb, 0x1000, false, 0));
    assert_true(request_nopasid(tb, 0x2000, false, 0));
    assert_int_equal(tb->nmsgs, 1);         /* PPR was already set */
    wr32(tb, DMAR_PRS_REG, VTD_PRS_PPR);    /* RW1C */
    assert_int_equal(prs(tb), 0);
    assert_true(request_nopasid(tb, 0x3000, false, 0));
    assert_int_equal(tb->nmsgs, 2);
    testbed_free(tb);
}

static void test_masked_event_sent_on_unmask(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    wr32(tb, DMAR_PECTL_REG, VTD_XECTL_IM);
    assert_true(request_nopasid(tb, 0x1000, false, 0));
    assert_int_equal(tb->nmsgs, 0);
    assert_int_equal(rd32(tb, DMAR_PECTL_REG), VTD_XECTL_IM | VTD_XECTL_IP);
    wr32(tb, DMAR_PECTL_REG, 0);
    assert_int_equal(tb->nmsgs, 1);
    assert_int_equal(tb->msgs[0].data, PEDATA);
    assert_int_equal(rd32(tb, DMAR_PECTL_REG), 0);
    testbed_free(tb);
}

/*
 * review-regs: PECTL.IP is cleared by "software servicing the PPR field"
 * (VT-d PECTL_REG IP description): once PPR is cleared, a masked event is
 * no longer pending even if PRO is still set, so unmasking sends nothing.
 */
static void test_ip_cleared_by_servicing_ppr(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    wr32(tb, DMAR_PECTL_REG, VTD_XECTL_IM);
    assert_true(request_nopasid(tb, 0x1000, false, 0));     /* PPR, IP */
    wr64(tb, DMAR_PQH_REG, 2 * 32);                         /* now full */
    assert_false(request_nopasid(tb, 0x2000, false, 0));    /* PRO */
    assert_int_equal(prs(tb), VTD_PRS_PPR | VTD_PRS_PRO);
    assert_int_equal(rd32(tb, DMAR_PECTL_REG), VTD_XECTL_IM | VTD_XECTL_IP);
    wr32(tb, DMAR_PRS_REG, VTD_PRS_PPR);
    assert_int_equal(prs(tb), VTD_PRS_PRO);
    assert_int_equal(rd32(tb, DMAR_PECTL_REG), VTD_XECTL_IM);
    wr32(tb, DMAR_PECTL_REG, 0);
    assert_int_equal(tb->nmsgs, 0);
    testbed_free(tb);
}

/* ---- Full queue and overflow --------------------------------------------- */

static void fill_queue(VtdTestBed *tb)
{
    /* Tail one behind head: full. */
    wr64(tb, DMAR_PQH_REG, 10 * 32);
    wr64(tb, DMAR_PQT_REG, 9 * 32);
}

static void test_full_queue_sets_pro(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    fill_queue(tb);
    assert_false(request_nopasid(tb, 0x1000, true, 0x42));
    assert_int_equal(prs(tb), VTD_PRS_PRO);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 9 * 32);
    assert_int_equal(get64(tb, PQ_BASE + 9 * 32), 0);   /* nothing written */
    assert_int_equal(tb->nmsgs, 1);
    /* The last request of the group gets an automatic "Success". */
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_SUCCESS);
    assert_int_equal(resp.prgi, 0x42);
    assert_int_equal(resp.sid, SID);
    assert_false(resp.pp);
    /* No implicit invalidation for a request that was not queued. */
    assert_int_equal(mock.iotlb_page, 0);
    testbed_free(tb);
}

static void test_full_queue_not_last_no_response(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    fill_queue(tb);
    assert_false(request_nopasid(tb, 0x1000, false, 3));
    assert_int_equal(prs(tb), VTD_PRS_PRO);
    assert_int_equal(resp.n, 0);
    testbed_free(tb);
}

static void test_pro_drops_until_cleared(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    fill_queue(tb);
    assert_false(request_nopasid(tb, 0x1000, false, 0));
    /* Room again, but PRO still set: dropped, with a response if last. */
    wr64(tb, DMAR_PQH_REG, 9 * 32);
    assert_false(request_nopasid(tb, 0x2000, true, 7));
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_SUCCESS);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 9 * 32);
    assert_int_equal(tb->nmsgs, 1);
    wr32(tb, DMAR_PRS_REG, VTD_PRS_PRO);
    assert_int_equal(prs(tb), 0);
    assert_true(request_nopasid(tb, 0x3000, true, 8));
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 10 * 32);
    assert_int_equal(tb->nmsgs, 2);
    testbed_free(tb);
}

static void test_pointer_outside_queue_is_overflow(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    /* PQS=0: 128 entries; a tail at entry 200 lies past the queue. */
    wr64(tb, DMAR_PQT_REG, 200 * 32);
    assert_false(request_nopasid(tb, 0x1000, true, 1));
    assert_int_equal(prs(tb), VTD_PRS_PRO);
    assert_int_equal(get64(tb, PQ_BASE + (200 * 32 % 0x1000)), 0);
    testbed_free(tb);
}

static void test_queue_not_in_ram_is_overflow(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    wr64(tb, DMAR_PQA_REG, 0x40000000);
    assert_false(request_nopasid(tb, 0x1000, true, 1));
    assert_int_equal(prs(tb), VTD_PRS_PRO);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 0);
    testbed_free(tb);
}

/* ---- Faults and automatic responses -------------------------------------- */

static void test_legacy_mode_rta3(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    enable(tb, 0);
    program_queue(tb, false);
    assert_false(vtd_page_request(tb->s, SID, 0, false, 0x1234000, true,
                                  false, false, false, true, 5));
    /* Recorded as a page request: (T1,T2) = 01, reason 32h. */
    assert_int_equal(frcd_hi(tb),
                     VTD_FRCD_HI_F | VTD_FRCD_HI_FR(0x32) | VTD_FRCD_HI_T2 | SID);
    assert_int_equal(rd64(tb, 0x220), 0x1234000);
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_INVALID_REQUEST);
    assert_int_equal(resp.prgi, 5);
    assert_int_equal(prs(tb), 0);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 0);
    testbed_free(tb);
}

static void test_pre_clear_sct8(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    build_tables(tb, (CtxOpts){ .pre = false, .paside = true }, 2, true);
    enable(tb, 1);
    program_queue(tb, false);
    assert_false(vtd_page_request(tb->s, SID, TEST_PASID, true, 0x5000, true,
                                  false, false, false, true, 9));
    assert_int_equal(frcd_hi(tb),
                     VTD_FRCD_HI_F | VTD_FRCD_HI_FR(0x47) | VTD_FRCD_HI_T2 |
                     VTD_FRCD_HI_PP | VTD_FRCD_HI_PV(TEST_PASID) | SID);
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_INVALID_REQUEST);
    assert_true(resp.pp);
    assert_int_equal(resp.pasid, TEST_PASID);
    testbed_free(tb);
}

static void test_fpd_hides_record_not_response(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    build_tables(tb, (CtxOpts){ .pre = false, .fpd = true }, 2, true);
    enable(tb, 1);
    program_queue(tb, false);
    assert_false(request_nopasid(tb, 0x5000, true, 9));
    assert_int_equal(frcd_hi(tb), 0);
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_INVALID_REQUEST);
    testbed_free(tb);
}

static void test_paside_clear_sct6(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    build_tables(tb, (CtxOpts){ .pre = true, .paside = false }, 2, true);
    enable(tb, 1);
    program_queue(tb, false);
    assert_false(vtd_page_request(tb->s, SID, TEST_PASID, true, 0x5000, true,
                                  false, false, false, false, 9));
    assert_int_equal(VTD_FIELD(frcd_hi(tb), 103 - 64, 96 - 64), 0x45);
    assert_int_equal(resp.n, 0);            /* not the last of its group */
    testbed_free(tb);
}

static void test_pasid_entry_missing_spt2(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    put64(tb, PTBL + (TEST_PASID & 0x3f) * 64, 0);
    assert_false(vtd_page_request(tb->s, SID, TEST_PASID, true, 0x5000, true,
                                  false, false, false, true, 9));
    assert_int_equal(VTD_FIELD(frcd_hi(tb), 103 - 64, 96 - 64), 0x59);
    assert_int_equal(resp.rc, VTD_PRG_RC_INVALID_REQUEST);
    testbed_free(tb);
}

static void test_priv_without_sre_spt6(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    build_tables(tb, (CtxOpts){ .pre = true, .paside = true }, 2, false);
    enable(tb, 1);
    program_queue(tb, false);
    assert_false(vtd_page_request(tb->s, SID, TEST_PASID, true, 0x5000, true,
                                  false, false, true, true, 9));
    assert_int_equal(VTD_FIELD(frcd_hi(tb), 103 - 64, 96 - 64), 0x5d);
    testbed_free(tb);
}

static void test_prs_unsupported(void **state)
{
    VtdTestBed *tb = prq_bed(false, false);

    assert_false(request_nopasid(tb, 0x1000, true, 4));
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.rc, VTD_PRG_RC_FAILURE);
    assert_int_equal(frcd_hi(tb), 0);
    testbed_free(tb);
}

static void test_translation_disabled(void **state)
{
    VtdTestBed *tb = prq_bed(true, false);

    program_queue(tb, false);
    assert_false(request_nopasid(tb, 0x1000, true, 4));
    assert_int_equal(resp.rc, VTD_PRG_RC_INVALID_REQUEST);
    assert_int_equal(rd64(tb, DMAR_PQT_REG), 0);
    testbed_free(tb);
}

/* ---- Implicit invalidation (§8.5) ----------------------------------------- */

static void test_implicit_inval_second_stage(void **state)
{
    VtdTestBed *tb = ready_bed(2);

    assert_true(request_nopasid(tb, 0x12345678, false, 0));
    assert_int_equal(mock.iotlb_page, 1);
    assert_int_equal(mock.did, DID);
    assert_int_equal(mock.addr, 0x12345000);
    assert_int_equal(mock.am, 0);
    assert_false(mock.ih);
    testbed_free(tb);
}

static void test_implicit_inval_first_stage(void **state)
{
    VtdTestBed *tb = ready_bed(1);

    assert_true(vtd_page_request(tb->s, SID, TEST_PASID, true, 0x5000, true,
                                 false, false, false, true, 1));
    assert_int_equal(mock.iotlb_pasid_page, 1);
    assert_int_equal(mock.iotlb_page, 0);
    testbed_free(tb);
}

static void test_implicit_inval_nested(void **state)
{
    VtdTestBed *tb = ready_bed(3);

    assert_true(request_nopasid(tb, 0x5000, true, 1));
    assert_int_equal(mock.iotlb_domain, 1);
    assert_int_equal(mock.did, DID);
    testbed_free(tb);
}

/* ---- Page group response --------------------------------------------------- */

static void test_page_group_response_forwarded(void **state)
{
    VtdTestBed *tb = ready_bed(2);
    VtdInvalidation inv = {
        .kind = VTD_INVAL_PAGE_RESPONSE, .gran = VTD_INVAL_GRAN_DEVICE,
        .sid = 0x0310, .pasid = 0x1234, .pp = true, .rc = 0xf,
        .lpig = true, .prgi = 0x1aa,
    };

    vtd_prq_page_group_response(tb->s, &inv);
    assert_int_equal(resp.n, 1);
    assert_int_equal(resp.sid, 0x0310);
    assert_int_equal(resp.pasid, 0x1234);
    assert_true(resp.pp);
    assert_int_equal(resp.prgi, 0x1aa);
    assert_int_equal(resp.rc, 0xf);

    inv.pp = false;
    inv.pasid = IOMMU_NO_PASID;
    vtd_prq_page_group_response(tb->s, &inv);
    assert_int_equal(resp.n, 2);
    assert_false(resp.pp);
    assert_int_equal(resp.pasid, 0);
    testbed_free(tb);
}

static void test_no_sink_is_harmless(void **state)
{
    VtdTestBed *tb = ready_bed(2);
    VtdInvalidation inv = { .kind = VTD_INVAL_PAGE_RESPONSE, .sid = 1 };

    vtd_set_prq_sink(tb->s, NULL);
    vtd_prq_page_group_response(tb->s, &inv);
    fill_queue(tb);
    assert_false(request_nopasid(tb, 0x1000, true, 0));
    assert_int_equal(resp.n, 0);
    testbed_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_with_pasid),
        cmocka_unit_test(test_descriptor_without_pasid),
        cmocka_unit_test(test_tail_advances_and_wraps),
        cmocka_unit_test(test_event_only_when_nothing_pending),
        cmocka_unit_test(test_masked_event_sent_on_unmask),
        cmocka_unit_test(test_ip_cleared_by_servicing_ppr),
        cmocka_unit_test(test_full_queue_sets_pro),
        cmocka_unit_test(test_full_queue_not_last_no_response),
        cmocka_unit_test(test_pro_drops_until_cleared),
        cmocka_unit_test(test_pointer_outside_queue_is_overflow),
        cmocka_unit_test(test_queue_not_in_ram_is_overflow),
        cmocka_unit_test(test_legacy_mode_rta3),
        cmocka_unit_test(test_pre_clear_sct8),
        cmocka_unit_test(test_fpd_hides_record_not_response),
        cmocka_unit_test(test_paside_clear_sct6),
        cmocka_unit_test(test_pasid_entry_missing_spt2),
        cmocka_unit_test(test_priv_without_sre_spt6),
        cmocka_unit_test(test_prs_unsupported),
        cmocka_unit_test(test_translation_disabled),
        cmocka_unit_test(test_implicit_inval_second_stage),
        cmocka_unit_test(test_implicit_inval_first_stage),
        cmocka_unit_test(test_implicit_inval_nested),
        cmocka_unit_test(test_page_group_response_forwarded),
        cmocka_unit_test(test_no_sink_is_harmless),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
