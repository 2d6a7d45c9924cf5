/*
 * Device-TLB (ATS) and page requests (PRI) end to end: an iommu-testdev with
 * ats=on,pri=on behind a scalable-mode unit with device-iotlb and x-prs.
 *   - ATS translation request fills the device's ATC, translated DMA uses it;
 *   - type 3 / type 8 descriptors drop ATC entries; a device that does not
 *     answer makes FSTS.ITE;
 *   - a DMA that hits a non-present first-stage entry turns into a page
 *     request in the PRQ plus the page request event; software fixes the
 *     entry and answers with a page group response; the retry succeeds.
 * Register offsets and bit positions come from the spec and docs/devices.md,
 * not from the implementation.
 */
#include "vtd-scenario.h"

/* iommu-testdev ATS/PRI extension (docs/devices.md). */
#define TD_ATS_CTRL         0x2c
#define TD_ATC_COUNT        0x30
#define TD_ATS_XLATES       0x34
#define TD_ATS_INVALS       0x38
#define TD_PRI_REQ          0x3c
#define TD_PRI_RESP         0x40
#define TD_ATS_USE          0x1u
#define TD_ATS_TIMEOUT_NEXT 0x2u
#define TD_PRI_PENDING      0x80000000u
#define TD_PRI_REFUSED      0x40000000u
#define TD_RESP_VALID       0x80000000u
#define TD_PAGE_REQ         0xdead0007u

/* PCIe extended capabilities. */
#define ECAM_BASE           0xb0000000ULL
#define EXT_CAP_ATS         0x0f
#define EXT_CAP_PRI         0x13
#define EXT_CAP_PASID       0x1b

/* VT-d registers not in vtd-builder.h. */
#define REG_PQH             0x0c0
#define REG_PQT             0x0c8
#define REG_PQA             0x0d0
#define REG_PRS             0x0dc
#define REG_PECTL           0x0e0
#define REG_PEDATA          0x0e4
#define REG_PEADDR          0x0e8
#define REG_PEUADDR         0x0ec
#define PRS_PPR             VTB_BIT(0)
#define PRS_PRO             VTB_BIT(1)
#define FSTS_ITE            VTB_BIT(6)
#define PE_ADDR             0xfee03000u
#define PE_DATA             0x4077u

#define IOMMU_OPTS  "scalable-mode=on,flts=on,device-iotlb=on,x-prs=on"
#define DEV_OPTS    "ats=on,pri=on"

static void ats_start(Scn *s, const char *iommu_opts, const char *dev_opts)
{
    g_autofree char *args = g_strdup_printf(
        "-machine q35 -m 512M -device intel-iommu,%s -device iommu-testdev,%s",
        iommu_opts, dev_opts);

    memset(s, 0, sizeof(*s));
    s->qts = qtest_init(args);
    vtb_init(&s->b, s->qts, SCN_ALLOC_BASE, SCN_ALLOC_SIZE);
    assert_true(vtb_testdev_find(&s->td, s->qts, SCN_TESTDEV_BAR));
    s->iova = SCN_IOVA;
}

static uint64_t ecam(const Scn *s, unsigned off)
{
    return ECAM_BASE + ((uint64_t)s->td.bus << 20) +
           ((uint64_t)s->td.devfn << 12) + off;
}

/* Offset of extended capability id, or 0. */
static unsigned find_ext_cap(Scn *s, unsigned id)
{
    unsigned off = 0x100;

    for (int i = 0; off && i < 64; i++) {
        uint32_t hdr = qtest_readl(s->qts, ecam(s, off));
        if (hdr == 0xffffffffu || hdr == 0) {
            return 0;
        }
        if ((hdr & 0xffff) == id) {
            return off;
        }
        off = hdr >> 20;
    }
    return 0;
}

/* Set the enable bit of a capability's 16-bit control register. */
static void cap_enable(Scn *s, unsigned id, unsigned ctrl_off, uint16_t bit)
{
    unsigned off = find_ext_cap(s, id);

    assert_int_not_equal(off, 0);
    qtest_writew(s->qts, ecam(s, off + ctrl_off),
                 qtest_readw(s->qts, ecam(s, off + ctrl_off)) | bit);
}

static uint32_t td_rd(Scn *s, unsigned reg)
{
    return qtest_readl(s->qts, s->td.bar + reg);
}

static void td_wr(Scn *s, unsigned reg, uint32_t v)
{
    qtest_writel(s->qts, s->td.bar + reg, v);
}

/* Scalable mode, first stage, DTE and PRE set, ATS (and PRI) enabled. */
static void ats_setup(Scn *s, const char *dev_opts)
{
    ats_start(s, IOMMU_OPTS, dev_opts);
    scn_scalable(s, VTB_PGTT_FS, 0, 4);
    s->sctx.dte = true;
    s->sctx.pre = true;
    scn_commit(s);
    cap_enable(s, EXT_CAP_ATS, 6, 0x8000);
}

/* Descriptors (spec §5.1). */
static void desc_devtlb(uint64_t d[4], uint16_t sid, uint64_t addr, bool size)
{
    d[0] = 0x3 | ((uint64_t)sid << 32);
    d[1] = (addr & ~0xfffULL) | (size ? 1 : 0);
    d[2] = d[3] = 0;
}

static void desc_pdevtlb(uint64_t d[4], uint16_t sid, uint32_t pasid, bool gi,
                         uint64_t addr, bool size)
{
    d[0] = 0x8 | ((uint64_t)sid << 16) | ((uint64_t)pasid << 32);
    d[1] = (addr & ~0xfffULL) | (gi ? 1 : 0) | (size ? VTB_BIT(11) : 0);
    d[2] = d[3] = 0;
}

static void desc_prg_response(uint64_t d[4], uint16_t rid, unsigned rc,
                              uint16_t prgi)
{
    d[0] = 0x9 | ((uint64_t)(rc & 0xf) << 12) | ((uint64_t)rid << 16);
    d[1] = VTB_BIT(2) | ((uint64_t)(prgi & 0x1ff) << 3);
    d[2] = d[3] = 0;
}

static bool queue_or_skip(VtbQueue *q, Scn *s)
{
    if (!vtb_qi_enable(q, &s->b, 0, true)) {
        print_message("skipped: QIE does not latch yet\n");
        return false;
    }
    return true;
}

/* ---- ATS ------------------------------------------------------------------ */

static void test_ats_translated_dma(void **state)
{
    Scn s;

    ats_setup(&s, DEV_OPTS);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    assert_int_equal(scn_dma(&s, 0x100), VTB_TD_OK);
    assert_int_equal(td_rd(&s, TD_ATS_XLATES), 1);
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 1);
    /* Second run: the ATC answers, no new translation request. */
    assert_int_equal(scn_dma(&s, 0x100), VTB_TD_OK);
    assert_int_equal(td_rd(&s, TD_ATS_XLATES), 1);
    scn_stop(&s);
}

static void test_ats_needs_enable(void **state)
{
    Scn s;

    ats_start(&s, IOMMU_OPTS, DEV_OPTS);
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    s.sctx.dte = true;
    scn_commit(&s);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);     /* ATS capability not enabled */
    assert_int_equal(scn_dma(&s, 4), VTB_TD_BAD_ATTRS);
    scn_stop(&s);
}

static void test_ats_dte_clear_fails(void **state)
{
    Scn s;
    VtbFault f;

    ats_start(&s, IOMMU_OPTS, DEV_OPTS);
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    scn_commit(&s);                          /* DTE=0 */
    cap_enable(&s, EXT_CAP_ATS, 6, 0x8000);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    assert_int_equal(scn_dma(&s, 4), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s.b, &f));
    assert_int_equal(f.reason, VTB_FR_SCT_5);
    assert_int_equal(f.at, 1);               /* translation request */
    scn_stop(&s);
}

/* The device keeps using its ATC until the device-TLB is invalidated. */
static void test_devtlb_invalidation(void **state)
{
    Scn s;
    VtbQueue q;
    uint64_t d[4], other = 0;

    ats_setup(&s, DEV_OPTS);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    assert_int_equal(scn_dma(&s, 0x40), VTB_TD_OK);
    if (!queue_or_skip(&q, &s)) {
        scn_stop(&s);
        return;
    }
    /* Remap the IOVA elsewhere: stale ATC entry still writes the old page. */
    other = vtb_alloc_page(&s.b);
    vtb_pgt_map(&s.fs, s.iova, other, VTB_PAGE_4K, VTB_FS_LEAF_DEFAULT);
    assert_int_equal(scn_dma(&s, 0x40), VTB_TD_OK);
    assert_int_equal(td_rd(&s, TD_ATS_XLATES), 1);

    desc_devtlb(d, scn_sid(&s), s.iova, false);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    assert_int_equal(td_rd(&s, TD_ATS_INVALS), 1);
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 0);
    assert_int_equal(scn_dma_at(&s, s.iova, other | (s.iova & 0xfff), 0x40),
                     VTB_TD_OK);
    assert_int_equal(td_rd(&s, TD_ATS_XLATES), 2);

    /* Another SID: not this device's business. */
    desc_devtlb(d, scn_sid(&s) ^ 0x8, s.iova, false);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 1);

    /* A range that does not cover the page keeps the entry. */
    desc_devtlb(d, scn_sid(&s), (s.iova & ~0x1fffULL) ^ 0x100000, true);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 1);
    scn_stop(&s);
}

/* Type 8, global (all PASIDs), whole address space. */
static void test_pasid_devtlb_global(void **state)
{
    Scn s;
    VtbQueue q;
    uint64_t d[4];

    ats_setup(&s, DEV_OPTS);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    assert_int_equal(scn_dma(&s, 0x40), VTB_TD_OK);
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 1);
    if (!queue_or_skip(&q, &s)) {
        scn_stop(&s);
        return;
    }
    desc_pdevtlb(d, scn_sid(&s), 0, true, 0xfffffffffffff000ULL, true);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    assert_int_equal(td_rd(&s, TD_ATC_COUNT), 0);
    assert_int_equal(vtb_fsts(&s.b) & (VTB_FSTS_IQE | FSTS_ITE), 0);
    scn_stop(&s);
}

/* A device that does not complete the invalidation: ITE, wait aborted. */
static void test_devtlb_timeout_ite(void **state)
{
    Scn s;
    VtbQueue q;
    uint64_t d[4];

    ats_setup(&s, DEV_OPTS);
    if (!queue_or_skip(&q, &s)) {
        scn_stop(&s);
        return;
    }
    td_wr(&s, TD_ATS_CTRL, TD_ATS_TIMEOUT_NEXT);
    desc_devtlb(d, scn_sid(&s), s.iova, false);
    vtb_qi_submit(&q, d);
    assert_false(vtb_qi_wait(&q));
    assert_true(vtb_fsts(&s.b) & FSTS_ITE);
    assert_int_equal((vtb_rq(&s.b, VTB_IQERCD) >> 32) & 0xffff, scn_sid(&s));
    /* The device consumed its one time-out. */
    assert_int_equal(td_rd(&s, TD_ATS_CTRL) & TD_ATS_TIMEOUT_NEXT, 0);
    scn_stop(&s);
}

/* ---- Page requests --------------------------------------------------------- */

static uint64_t prq_setup(Scn *s, bool masked)
{
    uint64_t pq = vtb_alloc_page(&s->b);

    vtb_wq(&s->b, REG_PQA, pq);             /* PQS 0: 128 entries */
    vtb_wq(&s->b, REG_PQH, 0);
    vtb_wq(&s->b, REG_PQT, 0);
    vtb_wl(&s->b, REG_PEDATA, PE_DATA);
    vtb_wl(&s->b, REG_PEADDR, PE_ADDR);
    vtb_wl(&s->b, REG_PEUADDR, 0);
    vtb_wl(&s->b, REG_PECTL, masked ? 0x80000000u : 0);
    return pq;
}

static bool msi_logged(Scn *s, uint64_t addr, uint32_t data)
{
    VtbMsi log[32];
    int n = vtb_msi_log(s->qts, log, 32);

    for (int i = 0; i < n; i++) {
        if (log[i].addr == addr && log[i].data == data) {
            return true;
        }
    }
    return false;
}

/* Leaf of the IOVA not present: the device gets SFS.2 and asks for it. */
static void make_not_present(Scn *s)
{
    vtb_pgt_modify(&s->fs, s->iova, 1, 0, VTB_FS_P);
}

static void check_descriptor(Scn *s, uint64_t pq, unsigned idx, bool write,
                             uint16_t prgi)
{
    uint64_t qw0 = vtb_mem_rq(&s->b, pq + 32 * idx);
    uint64_t qw1 = vtb_mem_rq(&s->b, pq + 32 * idx + 8);

    assert_int_equal(qw0 & 0xff, 0x01);                 /* type */
    assert_int_equal((qw0 >> 8) & 1, 0);                /* no PASID */
    assert_int_equal((qw0 >> 16) & 0xffff, scn_sid(s)); /* RID */
    assert_int_equal(qw1 & 1, !write);                  /* RDR */
    assert_int_equal((qw1 >> 1) & 1, write);            /* WRR */
    assert_int_equal((qw1 >> 2) & 1, 1);                /* LPIG */
    assert_int_equal((qw1 >> 3) & 0x1ff, prgi);
    assert_int_equal(qw1 & ~0xfffULL, s->iova & ~0xfffULL);
}

static void page_request_round_trip(bool use_ats)
{
    Scn s;
    VtbQueue q;
    uint64_t pq, d[4];
    VtbFault f;

    ats_setup(&s, DEV_OPTS);
    cap_enable(&s, EXT_CAP_PRI, 4, 0x1);
    pq = prq_setup(&s, false);
    if (use_ats) {
        td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    }
    make_not_present(&s);
    vtb_msi_clear(s.qts);

    assert_int_equal(scn_dma(&s, 0x80), TD_PAGE_REQ);
    assert_int_equal(td_rd(&s, TD_PRI_REQ), TD_PRI_PENDING | 0);
    assert_int_equal(vtb_rq(&s.b, REG_PQT), 32);
    assert_int_equal(vtb_rl(&s.b, REG_PRS), PRS_PPR);
    check_descriptor(&s, pq, 0, true, 0);
    assert_true(msi_logged(&s, PE_ADDR, PE_DATA));
    /* Untranslated DMA records the non-present fault; an ATS translation
     * request only returns no rights. */
    if (use_ats) {
        assert_false(vtb_first_fault(&s.b, &f));
    } else {
        assert_true(vtb_first_fault(&s.b, &f));
        assert_int_equal(f.reason, VTB_FR_SFS_2);
    }

    /* Software: consume the request, map the page, answer. */
    vtb_wq(&s.b, REG_PQH, 32);
    vtb_wl(&s.b, REG_PRS, PRS_PPR);
    vtb_pgt_modify(&s.fs, s.iova, 1, VTB_FS_P, 0);
    if (!queue_or_skip(&q, &s)) {
        scn_stop(&s);
        return;
    }
    desc_prg_response(d, scn_sid(&s), 0, 0);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    assert_int_equal(td_rd(&s, TD_PRI_RESP), TD_RESP_VALID | (0 << 16) | 0);
    assert_int_equal(td_rd(&s, TD_PRI_REQ) & TD_PRI_PENDING, 0);

    assert_int_equal(scn_dma(&s, 0x80), VTB_TD_OK);
    scn_stop(&s);
}

static void test_page_request_untranslated(void **state)
{
    page_request_round_trip(false);
}

static void test_page_request_ats(void **state)
{
    page_request_round_trip(true);
}

/* Queue full: PRO, and the unit answers "Success" for the last request. */
static void test_page_request_overflow(void **state)
{
    Scn s;

    ats_setup(&s, DEV_OPTS);
    cap_enable(&s, EXT_CAP_PRI, 4, 0x1);
    prq_setup(&s, true);
    vtb_wq(&s.b, REG_PQH, 32);              /* tail 0 is one behind head */
    make_not_present(&s);
    assert_int_equal(scn_dma(&s, 4), TD_PAGE_REQ);
    assert_int_equal(vtb_rl(&s.b, REG_PRS), PRS_PRO);
    assert_int_equal(vtb_rq(&s.b, REG_PQT), 0);
    assert_int_equal(td_rd(&s, TD_PRI_REQ) & (TD_PRI_PENDING | TD_PRI_REFUSED),
                     TD_PRI_REFUSED);
    assert_int_equal(td_rd(&s, TD_PRI_RESP), TD_RESP_VALID | 0);
    /* Masked: the event waits in PECTL.IP. */
    assert_int_equal(vtb_rl(&s.b, REG_PECTL), 0xc0000000u);
    scn_stop(&s);
}

/* Without PRI enabled the device just fails, as before. */
static void test_pri_disabled_fails(void **state)
{
    Scn s;

    ats_setup(&s, DEV_OPTS);
    prq_setup(&s, false);
    make_not_present(&s);
    assert_int_equal(scn_dma(&s, 4), VTB_TD_TX_FAIL);
    assert_int_equal(vtb_rq(&s.b, REG_PQT), 0);
    scn_stop(&s);
}

/* ---- Properties ------------------------------------------------------------ */

static void test_defaults_stay_conventional(void **state)
{
    Scn s;

    ats_start(&s, "scalable-mode=on", "id=td0");
    assert_int_equal(qtest_readl(s.qts, ecam(&s, 0x100)), 0xffffffffu);
    assert_int_equal(td_rd(&s, TD_ATS_CTRL), 0);
    td_wr(&s, TD_ATS_CTRL, TD_ATS_USE);
    assert_int_equal(td_rd(&s, TD_ATS_CTRL), 0);
    scn_stop(&s);
}

static void test_capabilities_present(void **state)
{
    Scn s;
    unsigned pri, pasid;

    ats_start(&s, IOMMU_OPTS, "ats=on,pri=on,pasid-cap=on");
    assert_int_not_equal(find_ext_cap(&s, EXT_CAP_ATS), 0);
    pri = find_ext_cap(&s, EXT_CAP_PRI);
    pasid = find_ext_cap(&s, EXT_CAP_PASID);
    assert_int_not_equal(pri, 0);
    assert_int_not_equal(pasid, 0);
    assert_int_not_equal(qtest_readl(s.qts, ecam(&s, pri + 8)), 0);
    assert_int_equal((qtest_readw(s.qts, ecam(&s, pasid + 4)) >> 8) & 0x1f, 20);
    scn_stop(&s);
}

static void test_pri_needs_ats(void **state)
{
    g_autofree char *err = NULL;
    QTestState *qts = qtest_try_init(
        "-machine q35 -m 512M -device iommu-testdev,pri=on", &err);

    assert_null(qts);
    assert_non_null(err);
    assert_non_null(strstr(err, "pri=on needs ats=on"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ats_translated_dma),
        cmocka_unit_test(test_ats_needs_enable),
        cmocka_unit_test(test_ats_dte_clear_fails),
        cmocka_unit_test(test_devtlb_invalidation),
        cmocka_unit_test(test_pasid_devtlb_global),
        cmocka_unit_test(test_devtlb_timeout_ite),
        cmocka_unit_test(test_page_request_untranslated),
        cmocka_unit_test(test_page_request_ats),
        cmocka_unit_test(test_page_request_overflow),
        cmocka_unit_test(test_pri_disabled_fails),
        cmocka_unit_test(test_defaults_stay_conventional),
        cmocka_unit_test(test_capabilities_present),
        cmocka_unit_test(test_pri_needs_ats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
