/*
 * Queued invalidation over qtest, as a guest driver uses it: descriptors in
 * guest RAM, IQT writes, wait descriptors polled in memory, errors read back
 * from FSTS/IQERCD/IQH, the completion interrupt seen in the MSI log.
 *
 * Stale translations are shown the way test-vtd-cache.c does it (which
 * covers type 2 per granularity, type 6 and type 7 one descriptor at a
 * time): after a DMA the guest moves a mapping, iommu-testdev still writes
 * to the old page (MISMATCH at the new one) until the right invalidation.
 * Here: context-entry changes (type 1), the multi-descriptor batches Linux
 * issues, the error paths, the completion event and wrap-around.
 */
#include "vtd-scenario.h"

#include <stdio.h>
#include <stdlib.h>

#define IE_ADDR     0xfee00000u
#define IE_DATA     0x00000051u
#define FE_ADDR     0xfee00000u
#define FE_DATA     0x00000052u
#define EVENT_SID   0xffff       /* the IOMMU's own interrupts in the log */

#define IQE         VTB_BIT(4)
#define ICS_IWC     VTB_BIT(0)
#define IECTL_IM    VTB_BIT(31)
#define IECTL_IP    VTB_BIT(30)

typedef struct QiT {
    Scn s;
    VtbQueue q;
    uint64_t old_pa, new_pa;
} QiT;

static unsigned iqei(QiT *t)
{
    return (unsigned)(vtb_rq(&t->s.b, VTB_IQERCD) & 0xf);
}

static uint64_t iqh(QiT *t)
{
    return vtb_rq(&t->s.b, VTB_IQH);
}

/* DMA at the scenario IOVA, the device comparing at pa. */
static uint32_t dma_to(QiT *t, uint64_t pa)
{
    qtest_memset(t->s.qts, t->old_pa, 0, VTB_PAGE_4K);
    qtest_memset(t->s.qts, t->new_pa, 0, VTB_PAGE_4K);
    return scn_dma_at(&t->s, t->s.iova, pa | (t->s.iova & 0xfff), 16);
}

static void assert_stale(QiT *t)
{
    assert_int_equal(dma_to(t, t->new_pa), VTB_TD_MISMATCH);
    assert_int_equal(vtb_fsts(&t->s.b), 0);
}

static void assert_fresh(QiT *t)
{
    assert_int_equal(dma_to(t, t->new_pa), VTB_TD_OK);
    assert_int_equal(vtb_fsts(&t->s.b), 0);
}

/* Commit the scenario, turn the queue on, and fill the caches with one DMA. */
static void start_primed(QiT *t, bool dw)
{
    t->old_pa = t->s.target;
    t->new_pa = vtb_alloc_page(&t->s.b);
    scn_commit(&t->s);
    assert_true(vtb_qi_enable(&t->q, &t->s.b, 0, dw));
    assert_int_equal(dma_to(t, t->old_pa), VTB_TD_OK);
}

static void legacy_start(QiT *t)
{
    scn_start(&t->s, "");
    scn_legacy(&t->s, 4);
    start_primed(t, false);
}

/* Scalable mode, PGTT=SS with 4 levels: the scalable twin of legacy_start. */
static void scalable_ss_start(QiT *t, bool dw)
{
    scn_start(&t->s, "scalable-mode=on");
    scn_scalable(&t->s, VTB_PGTT_SS, 4, 0);
    start_primed(t, dw);
}

/* Several descriptors, then a wait, all behind one IQT write. */
static bool submit_batch(QiT *t, uint64_t (*descs)[4], unsigned n)
{
    VtbQueue *q = &t->q;
    unsigned size = q->dw ? 32 : 16;
    uint64_t bytes = VTB_PAGE_4K << q->qs;
    uint64_t wait[4];
    uint32_t want = ++q->seq;

    qtest_writel(t->s.qts, q->status_addr, 0);
    for (unsigned i = 0; i <= n; i++) {
        const uint64_t *d = descs[i];

        if (i == n) {
            vtb_desc_wait(wait, true, false, false, want, q->status_addr);
            d = wait;
        }
        for (unsigned w = 0; w < size / 8; w++) {
            qtest_writeq(t->s.qts, q->base + q->tail + 8 * w, d[w]);
        }
        q->tail = (q->tail + size) % bytes;
    }
    vtb_wq(&t->s.b, VTB_IQT, q->tail);
    return qtest_readl(t->s.qts, q->status_addr) == want;
}

/* ---- Type 1: context-cache after a context change ------------------------ */

/* Legacy: the context entry moves to a new second-stage table. An IOTLB
 * flush alone is not enough while the context cache holds the old entry;
 * Linux's cc(device) + iotlb(domain) + wait batch is. */
static void test_type1_legacy_context_change(void **state)
{
    QiT t;
    VtbPgtable ss2;
    uint64_t d[2][4];

    legacy_start(&t);
    vtb_pgt_init(&ss2, &t.s.b, false, 4);
    vtb_pgt_map(&ss2, t.s.iova, t.new_pa, VTB_PAGE_4K, VTB_SS_RW);
    t.s.lctx.ssptptr = ss2.root;
    vtb_write_legacy_ctx(&t.s.b, t.s.ctx_table, t.s.td.devfn, &t.s.lctx);

    vtb_desc_iotlb(d[0], VTB_GRAN_DOMAIN, SCN_DID, 0, 0, false);
    assert_true(submit_batch(&t, d, 1));
    assert_stale(&t);

    /* Device-selective for another function does not cover ours... */
    vtb_desc_cc(d[0], VTB_GRAN_PAGE, SCN_DID, scn_sid(&t.s) ^ 1, 0);
    vtb_desc_iotlb(d[1], VTB_GRAN_DOMAIN, SCN_DID, 0, 0, false);
    assert_true(submit_batch(&t, d, 2));
    assert_stale(&t);
    /* ...with FM=11b (function bits ignored) it does. */
    vtb_desc_cc(d[0], VTB_GRAN_PAGE, SCN_DID, scn_sid(&t.s) ^ 1, 3);
    assert_true(submit_batch(&t, d, 2));
    assert_fresh(&t);
    assert_int_equal(iqh(&t), t.q.tail);
    scn_stop(&t.s);
}

/* Legacy domain- and global context invalidations. */
static void test_type1_legacy_domain_global(void **state)
{
    for (unsigned g = VTB_GRAN_GLOBAL; g <= VTB_GRAN_DOMAIN; g++) {
        QiT t;
        VtbPgtable ss2;
        uint64_t d[2][4];

        legacy_start(&t);
        vtb_pgt_init(&ss2, &t.s.b, false, 4);
        vtb_pgt_map(&ss2, t.s.iova, t.new_pa, VTB_PAGE_4K, VTB_SS_RW);
        t.s.lctx.ssptptr = ss2.root;
        vtb_write_legacy_ctx(&t.s.b, t.s.ctx_table, t.s.td.devfn, &t.s.lctx);
        if (g == VTB_GRAN_DOMAIN) {
            /* Another domain first: ours stays cached. */
            vtb_desc_cc(d[0], g, SCN_DID + 1, 0, 0);
            vtb_desc_iotlb(d[1], VTB_GRAN_GLOBAL, 0, 0, 0, false);
            assert_true(submit_batch(&t, d, 2));
            assert_stale(&t);
        }
        vtb_desc_cc(d[0], g, SCN_DID, 0, 0);
        vtb_desc_iotlb(d[1], VTB_GRAN_GLOBAL, 0, 0, 0, false);
        assert_true(submit_batch(&t, d, 2));
        assert_fresh(&t);
        scn_stop(&t.s);
    }
}

/* Scalable: the context entry gets a new PASID directory. The spec's
 * sequence (facts §8.4): device cc -> domain pc -> domain IOTLB -> wait,
 * as one batch in a 256-bit queue. */
static void test_type1_scalable_context_change(void **state)
{
    QiT t;
    VtbPgtable ss2;
    VtbPasidEntry pe;
    uint64_t dir2, table2, ctx;
    uint64_t d[3][4];

    scalable_ss_start(&t, true);

    vtb_pgt_init(&ss2, &t.s.b, false, 4);
    vtb_pgt_map(&ss2, t.s.iova, t.new_pa, VTB_PAGE_4K, VTB_SS_RW);
    dir2 = vtb_alloc_page(&t.s.b);
    table2 = vtb_alloc_page(&t.s.b);
    vtb_write_pasid_dir(&t.s.b, dir2, 0,
                        &(VtbPasidDirEntry){ .p = true, .table = table2 });
    pe = t.s.pe;
    pe.ssptptr = ss2.root;
    vtb_write_pasid_entry(&t.s.b, table2, 0, &pe);
    t.s.sctx.pasid_dir = dir2;
    ctx = t.s.td.devfn < 0x80 ? t.s.ctx_table : t.s.ctx_table + VTB_PAGE_4K;
    vtb_write_sm_ctx(&t.s.b, ctx, t.s.td.devfn, &t.s.sctx);

    /* IOTLB alone: the cached context/PASID entries still lead to the old
     * table. */
    vtb_desc_iotlb(d[0], VTB_GRAN_DOMAIN, SCN_DID, 0, 0, false);
    assert_true(submit_batch(&t, d, 1));
    assert_stale(&t);

    /* Scalable cc ignores the DID: any DID will do for device-selective. */
    vtb_desc_cc(d[0], VTB_GRAN_PAGE, 0x7777, scn_sid(&t.s), 0);
    vtb_desc_pc(d[1], 0, SCN_DID, 0);
    vtb_desc_iotlb(d[2], VTB_GRAN_DOMAIN, SCN_DID, 0, 0, false);
    assert_true(submit_batch(&t, d, 3));
    assert_fresh(&t);
    scn_stop(&t.s);
}

/* A first-stage PTE change: page-selective type 6 for the RID_PASID entry,
 * batched with an unrelated descriptor, one wait. */
static void test_type6_batch(void **state)
{
    QiT t;
    uint64_t d[3][4];
    uint64_t page;

    scn_start(&t.s, "scalable-mode=on,flts=on");
    scn_scalable(&t.s, VTB_PGTT_FS, 0, 4);
    start_primed(&t, true);
    vtb_pgt_modify(&t.s.fs, t.s.iova, 1, t.new_pa, VTB_ADDR_MASK);
    assert_stale(&t);
    page = t.s.iova & ~0xfffULL;
    vtb_desc_piotlb(d[0], 3, SCN_DID, 0, page + VTB_PAGE_4K, 0, false);
    vtb_desc_pc(d[1], 1, SCN_DID + 3, 9);
    assert_true(submit_batch(&t, d, 2));
    assert_stale(&t);
    vtb_desc_piotlb(d[2], 3, SCN_DID, 0, page, 0, true);
    assert_true(submit_batch(&t, d, 3));
    assert_fresh(&t);
    scn_stop(&t.s);
}

/* ---- Errors: FSTS.IQE, IQERCD.IQEI, IQH ----------------------------------- */

static void test_iqe_invalid_type_and_recovery(void **state)
{
    QiT t;
    VtbMsi msi[4];
    uint64_t bad[4] = { 0xf, 0, 0, 0 };
    uint64_t good[4], at;

    legacy_start(&t);
    vtb_fault_event_setup(&t.s.b, FE_ADDR, FE_DATA, false);
    vtb_msi_clear(t.s.qts);
    assert_true(vtb_qi_wait(&t.q));
    at = t.q.tail;
    vtb_qi_submit(&t.q, bad);
    assert_true(vtb_fsts(&t.s.b) & IQE);
    assert_int_equal(iqei(&t), 3);
    assert_int_equal(iqh(&t), at);
    /* The fault event, from the IOMMU itself. */
    assert_int_equal(vtb_msi_log(t.s.qts, msi, 4), 1);
    assert_int_equal(msi[0].data, FE_DATA);
    assert_int_equal(msi[0].sid, EVENT_SID);
    /* Further IQT writes fetch nothing. */
    assert_false(vtb_qi_wait(&t.q));
    assert_int_equal(iqh(&t), at);

    /* Linux's recovery: put a wait over the bad descriptor, clear IQE. */
    vtb_desc_wait(good, false, false, false, 0, 0);  /* SW=IF=0: legal */
    qtest_writeq(t.s.qts, t.q.base + at, good[0]);
    qtest_writeq(t.s.qts, t.q.base + at + 8, good[1]);
    vtb_wl(&t.s.b, VTB_FSTS, IQE);
    assert_int_equal(vtb_fsts(&t.s.b), 0);
    assert_int_equal(iqh(&t), t.q.tail);
    /* The wait queued while stuck has completed too. */
    assert_int_equal(qtest_readl(t.s.qts, t.q.status_addr), t.q.seq);
    scn_stop(&t.s);
}

static void test_iqe_codes(void **state)
{
    QiT t;
    uint64_t d[4];

    /* 1: tail beyond the queue (QS=0 is 4 KiB). */
    legacy_start(&t);
    vtb_wq(&t.s.b, VTB_IQT, 0x1000);
    assert_true(vtb_fsts(&t.s.b) & IQE);
    assert_int_equal(iqei(&t), 1);
    assert_int_equal(iqh(&t), 0);
    scn_stop(&t.s);

    /* 3: a PASID-based type in a legacy-mode queue. */
    legacy_start(&t);
    vtb_desc_pc(d, 3, 0, 0);
    vtb_qi_submit(&t.q, d);
    assert_int_equal(iqei(&t), 3);
    scn_stop(&t.s);

    /* 4: a reserved bit (IOTLB descriptor bit 8). */
    legacy_start(&t);
    vtb_desc_iotlb(d, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    d[0] |= VTB_BIT(8);
    vtb_qi_submit(&t.q, d);
    assert_int_equal(iqei(&t), 4);
    assert_int_equal(iqh(&t), 0);
    scn_stop(&t.s);

    /* 5: 128-bit descriptors in scalable mode. */
    scalable_ss_start(&t, false);
    vtb_desc_iotlb(d, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    vtb_qi_submit(&t.q, d);
    assert_int_equal(iqei(&t), 5);
    scn_stop(&t.s);

    /* 6: IQT bit 4 with 256-bit descriptors. */
    scalable_ss_start(&t, true);
    vtb_wq(&t.s.b, VTB_IQT, 0x10);
    assert_int_equal(iqei(&t), 6);
    scn_stop(&t.s);

    /* 7: reserved TTM latched in RTADDR. */
    scn_start(&t.s, "scalable-mode=on");
    assert_true(vtb_set_root(&t.s.b, vtb_alloc_page(&t.s.b), VTB_TTM_RESERVED,
                             0));
    assert_true(vtb_qi_enable(&t.q, &t.s.b, 0, true));
    vtb_desc_iotlb(d, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    vtb_qi_submit(&t.q, d);
    assert_int_equal(iqei(&t), 7);
    scn_stop(&t.s);
}

/* 2: the queue's memory is not RAM. */
static void test_iqe_fetch_error(void **state)
{
    Scn s;

    scn_start(&s, "");
    vtb_wq(&s.b, VTB_IQT, 0);
    vtb_wq(&s.b, VTB_IQA, SCN_NO_RAM);
    assert_true(vtb_gcmd(&s.b, VTB_GCMD_QIE, true));
    vtb_wq(&s.b, VTB_IQT, 0x20);
    assert_true(vtb_fsts(&s.b) & IQE);
    assert_int_equal(vtb_rq(&s.b, VTB_IQERCD) & 0xf, 2);
    assert_int_equal(vtb_rq(&s.b, VTB_IQH), 0);
    scn_stop(&s);
}

/* ---- Completion interrupt ---------------------------------------------- */

static void submit_if_wait(QiT *t)
{
    uint64_t d[4];

    vtb_desc_wait(d, true, true, false, ++t->q.seq, t->q.status_addr);
    vtb_qi_submit(&t->q, d);
    assert_int_equal(qtest_readl(t->s.qts, t->q.status_addr), t->q.seq);
}

static void test_completion_interrupt(void **state)
{
    QiT t;
    VtbMsi msi[4];

    legacy_start(&t);
    vtb_wl(&t.s.b, VTB_IEDATA, IE_DATA);
    vtb_wl(&t.s.b, VTB_IEADDR, IE_ADDR);
    vtb_wl(&t.s.b, VTB_IEUADDR, 0);
    vtb_wl(&t.s.b, VTB_IECTL, 0);
    vtb_msi_clear(t.s.qts);

    submit_if_wait(&t);
    assert_int_equal(vtb_msi_log(t.s.qts, msi, 4), 1);
    assert_int_equal(msi[0].addr, IE_ADDR);
    assert_int_equal(msi[0].data, IE_DATA);
    assert_int_equal(msi[0].sid, EVENT_SID);
    assert_true(vtb_rl(&t.s.b, VTB_ICS) & ICS_IWC);

    /* IWC still set: no new interrupt. */
    submit_if_wait(&t);
    assert_int_equal(vtb_msi_log(t.s.qts, msi, 4), 1);

    /* Masked after clearing IWC: IP is set, the message waits for IM=0. */
    vtb_wl(&t.s.b, VTB_ICS, ICS_IWC);
    vtb_wl(&t.s.b, VTB_IECTL, IECTL_IM);
    submit_if_wait(&t);
    assert_int_equal(vtb_msi_log(t.s.qts, msi, 4), 1);
    assert_true(vtb_rl(&t.s.b, VTB_IECTL) & IECTL_IP);
    vtb_wl(&t.s.b, VTB_IECTL, 0);
    assert_int_equal(vtb_msi_log(t.s.qts, msi, 4), 2);
    assert_int_equal(msi[1].data, IE_DATA);
    assert_false(vtb_rl(&t.s.b, VTB_IECTL) & IECTL_IP);
    assert_int_equal(vtb_fsts(&t.s.b), 0);
    scn_stop(&t.s);
}

/* ---- Wrap-around -------------------------------------------------------- */

/* Walk the queue to `left` entries before its end with ordering-only waits
 * (SW=IF=0, legal), then clear a stale translation with a batch that
 * straddles the end. */
static void wrap_case(QiT *t, unsigned left, const uint64_t d[4])
{
    VtbQueue *q = &t->q;
    unsigned size = q->dw ? 32 : 16;
    unsigned entries = (unsigned)((VTB_PAGE_4K << q->qs) / size);
    uint64_t nop[4], batch[4][4];

    vtb_desc_wait(nop, false, false, false, 0, 0);
    for (unsigned i = 0; i < entries - left; i++) {
        vtb_qi_submit(q, nop);
    }
    assert_int_equal(iqh(t), (uint64_t)(entries - left) * size);
    assert_int_equal(vtb_fsts(&t->s.b), 0);
    assert_stale(t);
    for (unsigned i = 0; i < 3; i++) {
        memcpy(batch[i], nop, sizeof(nop));
    }
    memcpy(batch[3], d, sizeof(batch[3]));
    /* Three fillers, the invalidation, the wait: crosses the end. */
    assert_true(submit_batch(t, batch, 4));
    assert_int_equal(iqh(t), (uint64_t)(5 - left) * size);
    assert_fresh(t);
}

/* Regression guard (QEMU #3338 on AMD): IQH wraps to 0 and processing
 * continues at the start of the ring. */
static void test_wrap_128(void **state)
{
    QiT t;
    uint64_t d[4];

    legacy_start(&t);
    vtb_pgt_modify(&t.s.ss, t.s.iova, 1, t.new_pa, VTB_ADDR_MASK);
    vtb_desc_iotlb(d, VTB_GRAN_PAGE, SCN_DID, t.s.iova & ~0xfffULL, 0, false);
    wrap_case(&t, 4, d);    /* the invalidation lands on entry 255 */
    scn_stop(&t.s);
}

static void test_wrap_256(void **state)
{
    QiT t;
    uint64_t d[4];

    scalable_ss_start(&t, true);
    vtb_pgt_modify(&t.s.ss, t.s.iova, 1, t.new_pa, VTB_ADDR_MASK);
    vtb_desc_iotlb(d, VTB_GRAN_PAGE, SCN_DID, t.s.iova & ~0xfffULL, 0, false);
    wrap_case(&t, 3, d);    /* the invalidation lands on entry 0 */
    scn_stop(&t.s);
}

/* ---- Queue enable/disable --------------------------------------------- */

static void test_qie_disable_needs_quiesced_queue(void **state)
{
    QiT t;
    uint64_t d[4];

    legacy_start(&t);
    vtb_desc_iotlb(d, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    vtb_qi_submit(&t.q, d);
    /* Last descriptor was not a wait: QIE stays on. */
    assert_false(vtb_gcmd(&t.s.b, VTB_GCMD_QIE, false));
    assert_true(vtb_qi_wait(&t.q));
    assert_true(vtb_gcmd(&t.s.b, VTB_GCMD_QIE, false));
    assert_int_equal(iqh(&t), 0);
    /* Register-based invalidation works again (legacy mode, QI off). */
    assert_int_equal(vtb_iotlb_inv(&t.s.b, VTB_GRAN_GLOBAL, 0, 0, 0, false),
                     VTB_GRAN_GLOBAL);
    assert_int_equal(dma_to(&t, t.old_pa), VTB_TD_OK);
    scn_stop(&t.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type1_legacy_context_change),
        cmocka_unit_test(test_type1_legacy_domain_global),
        cmocka_unit_test(test_type1_scalable_context_change),
        cmocka_unit_test(test_type6_batch),
        cmocka_unit_test(test_iqe_invalid_type_and_recovery),
        cmocka_unit_test(test_iqe_codes),
        cmocka_unit_test(test_iqe_fetch_error),
        cmocka_unit_test(test_completion_interrupt),
        cmocka_unit_test(test_wrap_128),
        cmocka_unit_test(test_wrap_256),
        cmocka_unit_test(test_qie_disable_needs_quiesced_queue),
    };

    if (getenv("VTD_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("VTD_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("vtd-qi", tests, NULL, NULL);
}
