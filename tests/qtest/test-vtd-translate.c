/*
 * DMA remapping through iommu-testdev, as a guest would set it up: QEMU's
 * five iommu-testdev modes, nested and 5-level translation, large pages,
 * fault-processing-disable, the fault log with overflow, the fault event
 * interrupt, and a table of programming mistakes that each must produce its
 * own fault reason in the fault recording registers (spec §6.1).
 */
#include "vtd-scenario.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The device's pattern must have landed in the target page. */
static void assert_pattern_at(Scn *s, uint64_t gpa, uint32_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    qtest_memread(s->qts, gpa, buf, len);
    for (uint32_t i = 0; i < len; i++) {
        assert_int_equal(buf[i], (VTB_TD_PATTERN >> (8 * (i % 4))) & 0xff);
    }
}

static void assert_no_fault(Scn *s)
{
    uint32_t fsts = vtb_fsts(&s->b);

    if (fsts & VTB_FSTS_PPF) {
        VtbFault f;

        vtb_first_fault(&s->b, &f);
        print_error("unexpected fault: %s\n", vtb_fault_describe(&f));
    }
    assert_int_equal(fsts, 0);
}

static void run_ok(Scn *s)
{
    scn_commit(s);
    assert_int_equal(scn_dma(s, 64), VTB_TD_OK);
    assert_pattern_at(s, s->target | (s->iova & 0xfff), 64);
    assert_no_fault(s);
}

#define OPTS_SM     "scalable-mode=on"
#define OPTS_FS     "scalable-mode=on,flts=on"
#define OPTS_NEST   "scalable-mode=on,flts=on,x-ssts=on,x-nest=on"
#define IOVA_5L     0x0012345678901567ULL   /* bit 52 set: needs a 5th level */

/* ---- mappings that must translate: QEMU's five modes, nested, 5-level --- */

typedef enum OkMode {
    OK_LEGACY,          /* legacy TTM, ss_levels-level second stage */
    OK_LEGACY_PT,       /* legacy TTM, context TT = pass-through */
    OK_SCALABLE,        /* scalable TTM, PASID entry with pgtt */
} OkMode;

typedef struct OkCase {
    const char *name;
    const char *opts;           /* intel-iommu properties */
    OkMode mode;
    unsigned pgtt;              /* OK_SCALABLE: VTB_PGTT_* */
    unsigned ss_levels, fs_levels;
    uint64_t iova;              /* 0: the scenario's default */
} OkCase;

static const OkCase ok_cases[] = {
    { "test_legacy_pt", "", OK_LEGACY_PT },
    { "test_legacy_translated", "", OK_LEGACY, 0, 4 },
    { "test_legacy_translated_3level", "", OK_LEGACY, 0, 3 },
    { "test_scalable_pt", OPTS_SM, OK_SCALABLE, VTB_PGTT_PT, 0, 0 },
    { "test_scalable_ss", OPTS_SM, OK_SCALABLE, VTB_PGTT_SS, 4, 0 },
    { "test_scalable_fs", OPTS_FS, OK_SCALABLE, VTB_PGTT_FS, 0, 4 },
    { "test_nested", OPTS_NEST, OK_SCALABLE, VTB_PGTT_NESTED, 4, 4 },
    { "test_fs_5level", OPTS_FS ",x-fs5lp=on", OK_SCALABLE, VTB_PGTT_FS, 0, 5,
      IOVA_5L },
    { "test_ss_5level_scalable", OPTS_SM ",aw-bits=57,x-aw57=on", OK_SCALABLE,
      VTB_PGTT_SS, 5, 0, IOVA_5L },
    { "test_ss_5level_legacy", "aw-bits=57,x-aw57=on", OK_LEGACY, 0, 5, 0,
      IOVA_5L },
};

static void run_ok_case(void **state)
{
    const OkCase *oc = *state;
    Scn s;

    scn_start(&s, oc->opts);
    if (oc->iova) {
        s.iova = oc->iova;
    }
    switch (oc->mode) {
    case OK_LEGACY:
        scn_legacy(&s, oc->ss_levels);
        break;
    case OK_LEGACY_PT:
        scn_legacy_pt(&s);
        break;
    case OK_SCALABLE:
        scn_scalable(&s, oc->pgtt, oc->ss_levels, oc->fs_levels);
        break;
    }
    run_ok(&s);
    scn_stop(&s);
}

/* Without the opt-in, PGTT=011b is unsupported: SPT.4. */
static void test_nested_needs_opt_in(void **state)
{
    Scn s;
    VtbFault f;

    scn_start(&s, "scalable-mode=on,flts=on");
    scn_scalable(&s, VTB_PGTT_NESTED, 4, 4);
    scn_commit(&s);
    assert_int_equal(scn_dma(&s, 4), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s.b, &f));
    assert_int_equal(f.reason, VTB_FR_SPT_4);
    scn_stop(&s);
}

/* ---- 5-level ------------------------------------------------------------------ */

/* FSPM=01b without FS5LP: SPT.4.3. */
static void test_fs_5level_unsupported(void **state)
{
    Scn s;
    VtbFault f;

    scn_start(&s, "scalable-mode=on,flts=on");
    s.iova = IOVA_5L;
    scn_scalable(&s, VTB_PGTT_FS, 0, 5);
    scn_commit(&s);
    assert_int_equal(scn_dma(&s, 4), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s.b, &f));
    assert_int_equal(f.reason, VTB_FR_SPT_4);
    scn_stop(&s);
}

/* ---- large pages ---------------------------------------------------------------- */

/* Map iova with one leaf of `size`; DMA at an offset deep inside the page. */
static void large_page_case(Scn *s, VtbPgtable *pt, uint64_t size,
                            uint64_t leaf_bits)
{
    uint64_t iova_base = 0x80000000ULL;  /* 1G aligned */
    uint64_t hpa_base, off;

    if (size == VTB_PAGE_1G) {
        hpa_base = 0;                    /* the only 1G frame with RAM */
        off = vtb_alloc_page(&s->b);     /* a page somewhere in that RAM */
    } else {
        hpa_base = vtb_alloc(&s->b, size);
        off = size - 2 * VTB_PAGE_4K;
    }
    vtb_pgt_map(pt, iova_base, hpa_base, size, leaf_bits);
    scn_commit(s);
    assert_int_equal(scn_dma_at(s, iova_base + off + 0x123, hpa_base + off + 0x123,
                                32), VTB_TD_OK);
    assert_no_fault(s);
}

static void test_ss_2m(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    large_page_case(&s, &s.ss, VTB_PAGE_2M, VTB_SS_RW);
    scn_stop(&s);
}

static void test_ss_1g(void **state)
{
    Scn s;

    scn_start(&s, "");
    scn_legacy(&s, 4);
    large_page_case(&s, &s.ss, VTB_PAGE_1G, VTB_SS_RW);
    scn_stop(&s);
}

static void test_fs_2m(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,flts=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    large_page_case(&s, &s.fs, VTB_PAGE_2M, VTB_FS_LEAF_DEFAULT);
    scn_stop(&s);
}

static void test_fs_1g(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,flts=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    large_page_case(&s, &s.fs, VTB_PAGE_1G, VTB_FS_LEAF_DEFAULT);
    scn_stop(&s);
}

/* fs1gp=off: a 1G FS leaf has a reserved PS bit: SFS.3. */
static void test_fs_1g_unsupported(void **state)
{
    Scn s;
    VtbFault f;
    uint64_t off;

    scn_start(&s, "scalable-mode=on,flts=on,fs1gp=off");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    off = vtb_alloc_page(&s.b);
    vtb_pgt_map(&s.fs, 0x80000000ULL, 0, VTB_PAGE_1G, VTB_FS_LEAF_DEFAULT);
    scn_commit(&s);
    assert_int_equal(scn_dma_at(&s, 0x80000000ULL + off, off, 4), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s.b, &f));
    assert_int_equal(f.reason, VTB_FR_SFS_3);
    scn_stop(&s);
}

/* First stage sets A in every entry used and D in the leaf of a write when
 * the walk is snooped (SMPWCS and PWSNP). */
static void test_fs_accessed_dirty(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,flts=on,x-smpwcs=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    s.pe.pwsnp = true;
    for (unsigned l = 1; l <= 4; l++) {
        vtb_pgt_modify(&s.fs, s.iova, l, 0, VTB_FS_A | VTB_FS_D);
    }
    run_ok(&s);
    for (unsigned l = 1; l <= 4; l++) {
        uint64_t e = vtb_mem_rq(&s.b, vtb_pgt_entry(&s.fs, s.iova, l));

        assert_true(e & VTB_FS_A);
        assert_int_equal(!!(e & VTB_FS_D), l == 1);
    }
    scn_stop(&s);
}

/* ---- fault-processing disable -------------------------------------------------- */

static void expect_blocked_silently(Scn *s)
{
    assert_int_equal(scn_dma(s, 4), VTB_TD_TX_FAIL);
    assert_int_equal(vtb_fsts(&s->b), 0);
    assert_int_equal(vtb_fault_count(&s->b), 0);
}

static void expect_reported(Scn *s, uint8_t reason)
{
    VtbFault f;

    assert_int_equal(scn_dma(s, 4), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s->b, &f));
    assert_int_equal(f.reason, reason);
}

static void test_fpd_legacy_qualified(void **state)
{
    Scn s;

    /* Context not present, FPD evaluated even so. */
    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lctx.p = false;
    s.lctx.fpd = true;
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);

    /* A permission fault deep in the walk is hidden by the context's FPD. */
    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lctx.fpd = true;
    vtb_pgt_modify(&s.ss, s.iova, 1, 0, VTB_SS_W);
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);

    /* LCT.3 (reserved bit in the context) is qualified per the spec
     * (QEMU deviates: it always reports it). */
    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lctx.fpd = true;
    s.lctx.rsvd[1] = VTB_BIT(7);
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);
}

static void test_fpd_unqualified(void **state)
{
    Scn s;

    /* Legacy root entry reserved bit: unqualified, the context FPD does
     * not matter (it is never reached). */
    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lctx.fpd = true;
    s.lroot.rsvd[1] = 1;
    scn_commit(&s);
    expect_reported(&s, VTB_FR_LRT_3);
    scn_stop(&s);

    /* Scalable: context FPD=1, then the PASID directory cannot be read:
     * SPD.1 is unqualified and still reported. */
    scn_start(&s, "scalable-mode=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.sctx.fpd = true;
    s.sctx.pasid_dir = SCN_NO_RAM;
    scn_commit(&s);
    expect_reported(&s, VTB_FR_SPD_1);
    scn_stop(&s);

    /* Same with PASID-directory FPD=1 and an unreadable PASID table. */
    scn_start(&s, "scalable-mode=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.pde.fpd = true;
    s.pde.table = SCN_NO_RAM;
    scn_commit(&s);
    expect_reported(&s, VTB_FR_SPT_1);
    scn_stop(&s);
}

static void test_fpd_scalable_levels(void **state)
{
    Scn s;

    /* PASID-directory entry not present with its own FPD. */
    scn_start(&s, "scalable-mode=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.pde.p = false;
    s.pde.fpd = true;
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);

    /* PASID entry not present with its own FPD. */
    scn_start(&s, "scalable-mode=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.pe.p = false;
    s.pe.fpd = true;
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);

    /* FS not-present leaf, FPD only in the PASID entry. */
    scn_start(&s, "scalable-mode=on,flts=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    s.pe.fpd = true;
    vtb_pgt_modify(&s.fs, s.iova, 1, 0, VTB_FS_P);
    scn_commit(&s);
    expect_blocked_silently(&s);
    scn_stop(&s);

    /* Without any FPD the same mistake is reported. */
    scn_start(&s, "scalable-mode=on,flts=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    vtb_pgt_modify(&s.fs, s.iova, 1, 0, VTB_FS_P);
    scn_commit(&s);
    expect_reported(&s, VTB_FR_SFS_2);
    scn_stop(&s);
}

/* ---- fault log ------------------------------------------------------------------ */

/* Each fault at a different page of a non-present legacy root: LRT.2. */
static void fault_at_page(Scn *s, unsigned n)
{
    uint64_t iova = 0x100000ULL * (n + 1);

    assert_int_equal(scn_dma_at(s, iova, iova, 4), VTB_TD_TX_FAIL);
}

static void test_fault_log_overflow(void **state)
{
    Scn s;
    unsigned nfr;
    uint32_t fsts;
    VtbFault f;

    /* vtdnest does not compress faults by source-id (a spec option), so the
     * same device can fill every record. */
    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lroot.p = false;
    scn_commit(&s);
    nfr = vtb_nfr(&s.b);
    assert_true(nfr >= 2);

    for (unsigned i = 0; i < nfr; i++) {
        fault_at_page(&s, i);
        fsts = vtb_fsts(&s.b);
        assert_int_equal(fsts & (VTB_FSTS_PPF | VTB_FSTS_PFO), VTB_FSTS_PPF);
        assert_int_equal(VTB_FSTS_FRI(fsts), 0);     /* first pending */
    }
    for (unsigned i = 0; i < nfr; i++) {
        vtb_fault_read(&s.b, i, &f);
        assert_true(f.f);
        assert_int_equal(f.reason, VTB_FR_LRT_2);
        assert_int_equal(f.sid, scn_sid(&s));
        assert_int_equal(f.addr, 0x100000ULL * (i + 1));
        assert_false(f.t1);                          /* write */
    }

    /* One more: no free record, PFO, nothing overwritten. */
    fault_at_page(&s, nfr);
    fsts = vtb_fsts(&s.b);
    assert_int_equal(fsts & (VTB_FSTS_PPF | VTB_FSTS_PFO),
                     VTB_FSTS_PPF | VTB_FSTS_PFO);
    vtb_fault_read(&s.b, 0, &f);
    assert_int_equal(f.addr, 0x100000ULL);

    /* Clear every F: PPF drops, PFO stays and still blocks recording. */
    for (unsigned i = 0; i < nfr; i++) {
        vtb_fault_clear(&s.b, i);
    }
    assert_int_equal(vtb_fsts(&s.b) & (VTB_FSTS_PPF | VTB_FSTS_PFO),
                     VTB_FSTS_PFO);
    fault_at_page(&s, nfr + 1);
    assert_int_equal(vtb_fault_count(&s.b), 0);

    /* Clear PFO: recording resumes at the internal index (wrapped to 0). */
    vtb_wl(&s.b, VTB_FSTS, VTB_FSTS_PFO);
    assert_int_equal(vtb_fsts(&s.b), 0);
    fault_at_page(&s, nfr + 2);
    fsts = vtb_fsts(&s.b);
    assert_int_equal(fsts & (VTB_FSTS_PPF | VTB_FSTS_PFO), VTB_FSTS_PPF);
    assert_int_equal(VTB_FSTS_FRI(fsts), 0);
    vtb_fault_read(&s.b, 0, &f);
    assert_true(f.f);
    assert_int_equal(f.addr, 0x100000ULL * (nfr + 3));
    assert_int_equal(vtb_fault_count(&s.b), 1);

    /* The next one goes to record 1; FRI keeps pointing at record 0. */
    fault_at_page(&s, nfr + 3);
    vtb_fault_read(&s.b, 1, &f);
    assert_true(f.f);
    assert_int_equal(f.addr, 0x100000ULL * (nfr + 4));
    assert_int_equal(VTB_FSTS_FRI(vtb_fsts(&s.b)), 0);
    scn_stop(&s);
}

/* FRI names the first pending record, after older ones were cleared. */
static void test_fault_log_fri_moves(void **state)
{
    Scn s;
    uint32_t fsts;

    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lroot.p = false;
    scn_commit(&s);
    fault_at_page(&s, 0);      /* record 0 */
    vtb_fault_clear(&s.b, 0);  /* PPF 0 again */
    assert_int_equal(vtb_fsts(&s.b), 0);
    fault_at_page(&s, 1);      /* record 1, becomes the first pending */
    fsts = vtb_fsts(&s.b);
    assert_true(fsts & VTB_FSTS_PPF);
    assert_int_equal(VTB_FSTS_FRI(fsts), 1);
    scn_stop(&s);
}

/* ---- fault event interrupt ------------------------------------------------------ */

#define FE_ADDR  0xfee0100cu
#define FE_DATA  0x00004041u

static int msi_log(Scn *s, VtbMsi *out, int max)
{
    int n = vtb_msi_log(s->qts, out, max);

    assert_true(n >= 0);   /* the x-vtdnest-msi-log extension answers */
    return n;
}

static void test_fault_event_msi(void **state)
{
    Scn s;
    VtbMsi m[8];

    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lroot.p = false;
    scn_commit(&s);
    vtb_msi_clear(s.qts);
    vtb_fault_event_setup(&s.b, FE_ADDR, FE_DATA, false);

    fault_at_page(&s, 0);
    assert_int_equal(msi_log(&s, m, 8), 1);
    assert_int_equal(m[0].addr, FE_ADDR & ~3u);
    assert_int_equal(m[0].data, FE_DATA);
    assert_false(vtb_rl(&s.b, VTB_FECTL) & VTB_FECTL_IP);

    /* PPF already set: no new event. */
    fault_at_page(&s, 1);
    assert_int_equal(msi_log(&s, m, 8), 1);

    /* All cleared: the next fault raises a new event. */
    vtb_faults_clear_all(&s.b);
    fault_at_page(&s, 2);
    assert_int_equal(msi_log(&s, m, 8), 2);
    scn_stop(&s);
}

static void test_fault_event_masked(void **state)
{
    Scn s;
    VtbMsi m[8];

    scn_start(&s, "");
    scn_legacy(&s, 4);
    s.lroot.p = false;
    scn_commit(&s);
    vtb_msi_clear(s.qts);
    vtb_fault_event_setup(&s.b, FE_ADDR, FE_DATA, true);

    /* Masked: IP set, no message. */
    fault_at_page(&s, 0);
    assert_int_equal(vtb_rl(&s.b, VTB_FECTL), VTB_FECTL_IM | VTB_FECTL_IP);
    assert_int_equal(msi_log(&s, m, 8), 0);

    /* Unmasking sends the pending message and clears IP. */
    vtb_wl(&s.b, VTB_FECTL, 0);
    assert_int_equal(vtb_rl(&s.b, VTB_FECTL), 0);
    assert_int_equal(msi_log(&s, m, 8), 1);
    assert_int_equal(m[0].data, FE_DATA);

    /* Masked again; software clears the status before unmasking: IP is
     * cleared with it and no message follows. */
    vtb_faults_clear_all(&s.b);
    vtb_wl(&s.b, VTB_FECTL, VTB_FECTL_IM);
    fault_at_page(&s, 1);
    assert_true(vtb_rl(&s.b, VTB_FECTL) & VTB_FECTL_IP);
    vtb_faults_clear_all(&s.b);
    assert_false(vtb_rl(&s.b, VTB_FECTL) & VTB_FECTL_IP);
    vtb_wl(&s.b, VTB_FECTL, 0);
    assert_int_equal(msi_log(&s, m, 8), 1);
    scn_stop(&s);
}

/* ---- PASID, privilege and the PASID-entry controls ------------------------ */

#define OPTS_PASID_FS "scalable-mode=on,flts=on,pasid-bits=20,x-srs=on"

/* Requests with PASID 0x41 (directory index 1, table index 1). */
static void pasid_fs_setup(Scn *s, const char *opts)
{
    scn_start(s, opts);
    s->pasid = 0x41;
    scn_scalable(s, VTB_PGTT_FS, 0, 4);
    s->sctx.paside = true;
}

static uint32_t pasid_dma(Scn *s, bool priv, bool read)
{
    vtb_testdev_set_request(&s->td, s->pasid, priv, read);
    return scn_dma(s, 16);
}

static void test_pasid_request(void **state)
{
    Scn s;

    pasid_fs_setup(&s, OPTS_PASID_FS);
    scn_commit(&s);
    assert_int_equal(pasid_dma(&s, false, false), VTB_TD_OK);
    assert_int_equal(pasid_dma(&s, false, true), VTB_TD_OK);
    assert_no_fault(&s);
    scn_stop(&s);
}

/* Supervisor requests ignore U/S; with SRE=1 they read and write. */
static void test_supervisor_sre(void **state)
{
    Scn s;

    pasid_fs_setup(&s, OPTS_PASID_FS);
    s.pe.sre = true;
    vtb_pgt_modify(&s.fs, s.iova, 1, 0, VTB_FS_US);
    scn_commit(&s);
    assert_int_equal(pasid_dma(&s, true, false), VTB_TD_OK);
    assert_int_equal(pasid_dma(&s, true, true), VTB_TD_OK);
    assert_no_fault(&s);
    /* The same page is off limits to a user request: SGN.2. */
    assert_int_equal(pasid_dma(&s, false, true), VTB_TD_TX_FAIL);
    {
        VtbFault f;

        assert_true(vtb_first_fault(&s.b, &f));
        assert_int_equal(f.reason, VTB_FR_SGN_2);
        assert_true(f.pp);
        assert_int_equal(f.pasid, 0x41);
        assert_false(f.priv);
    }
    scn_stop(&s);
}

/* WPE: supervisor writes honour R/W=0 only when WPE=1. */
static void test_supervisor_wpe(void **state)
{
    Scn s;
    VtbFault f;

    pasid_fs_setup(&s, OPTS_PASID_FS);
    s.pe.sre = true;
    vtb_pgt_modify(&s.fs, s.iova, 1, 0, VTB_FS_RW);
    scn_commit(&s);
    assert_int_equal(pasid_dma(&s, true, false), VTB_TD_OK);
    assert_no_fault(&s);
    scn_stop(&s);

    pasid_fs_setup(&s, OPTS_PASID_FS);
    s.pe.sre = true;
    s.pe.wpe = true;
    vtb_pgt_modify(&s.fs, s.iova, 1, 0, VTB_FS_RW);
    scn_commit(&s);
    assert_int_equal(pasid_dma(&s, true, true), VTB_TD_OK);    /* reads fine */
    assert_int_equal(pasid_dma(&s, true, false), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&s.b, &f));
    assert_int_equal(f.reason, VTB_FR_SGN_6);
    assert_true(f.priv);
    assert_true(f.pp);
    scn_stop(&s);
}

/* EAFE: the walk sets EA together with A. */
static void test_fs_eafe(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,flts=on,x-smpwcs=on,x-eafs=on");
    scn_scalable(&s, VTB_PGTT_FS, 0, 4);
    s.pe.pwsnp = true;
    s.pe.eafe = true;
    for (unsigned l = 1; l <= 4; l++) {
        vtb_pgt_modify(&s.fs, s.iova, l, 0, VTB_FS_A | VTB_FS_EA);
    }
    run_ok(&s);
    for (unsigned l = 1; l <= 4; l++) {
        uint64_t e = vtb_mem_rq(&s.b, vtb_pgt_entry(&s.fs, s.iova, l));

        assert_true(e & VTB_FS_A);
        assert_true(e & VTB_FS_EA);
    }
    scn_stop(&s);
}

/* SSADE: second-stage A on every level, D on the leaf of a write. */
static void test_ss_accessed_dirty(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,x-smpwcs=on,x-ssads=on");
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.pe.ssade = true;
    s.pe.pwsnp = true;
    run_ok(&s);
    for (unsigned l = 1; l <= 4; l++) {
        uint64_t e = vtb_mem_rq(&s.b, vtb_pgt_entry(&s.ss, s.iova, l));

        assert_true(e & VTB_SS_A);
        assert_int_equal(!!(e & VTB_SS_D), l == 1);
    }
    scn_stop(&s);
}

/* RPS: requests without PASID use the context's RID_PASID entry. */
static void test_rid_pasid(void **state)
{
    Scn s;

    scn_start(&s, "scalable-mode=on,x-rps=on");
    s.pasid = 0x85;
    scn_scalable(&s, VTB_PGTT_SS, 4, 0);
    s.sctx.rid_pasid = 0x85;
    run_ok(&s);
    scn_stop(&s);
}

/* ---- table-driven fault reasons ----------------------------------------------- */

typedef enum FcMode {
    FC_LEGACY,       /* 4-level legacy SS */
    FC_SS,           /* scalable, PGTT=SS */
    FC_FS,           /* scalable, PGTT=FS */
    FC_PT,           /* scalable, PGTT=PT */
    FC_NEST,         /* scalable, PGTT=nested */
} FcMode;

typedef struct FaultCase {
    const char *name;
    const char *opts;          /* intel-iommu properties */
    FcMode mode;
    unsigned ss_levels;        /* 0: default 4 */
    void (*mutate)(Scn *s);
    uint32_t pasid;            /* request PASID or VTB_NO_PASID */
    bool priv, read;
    uint8_t reason;
} FaultCase;

/* Mutations. Page-table ones act on the tables already built. */
static void m_none(Scn *s) { }
static void m_lroot_np(Scn *s) { s->lroot.p = false; }
static void m_lctx_np(Scn *s) { s->lctx.p = false; }
static void m_lctx_aw57(Scn *s) { s->lctx.aw = VTB_AW_57; }
static void m_lctx_tt3(Scn *s) { s->lctx.tt = 3; }
static void m_lctx_tt_devtlb(Scn *s) { s->lctx.tt = VTB_TT_DEVTLB; }
static void m_lctx_sspt_noram(Scn *s) { s->lctx.ssptptr = SCN_NO_RAM; }
static void m_lctx_aw39_far(Scn *s)
{
    s->lctx.aw = VTB_AW_39;
    s->iova = (1ULL << 40) | 0x567;
}
static void m_ss_leaf_ro(Scn *s) { vtb_pgt_modify(&s->ss, s->iova, 1, 0, VTB_SS_W); }
static void m_ss_leaf_wo(Scn *s) { vtb_pgt_modify(&s->ss, s->iova, 1, 0, VTB_SS_R); }
static void m_ss_leaf_np(Scn *s) { vtb_pgt_modify(&s->ss, s->iova, 1, 0, VTB_SS_RW); }
static void m_ss_l4_noram(Scn *s)
{
    vtb_pgt_modify(&s->ss, s->iova, 4, SCN_NO_RAM, VTB_ADDR_MASK);
}
static void m_ss_leaf_rsvd(Scn *s) { vtb_pgt_modify(&s->ss, s->iova, 1, VTB_BIT(50), 0); }
static void m_ss_l4_ps(Scn *s) { vtb_pgt_modify(&s->ss, s->iova, 4, VTB_SS_PS, 0); }
static void m_ss_leaf_intr(Scn *s)
{
    vtb_pgt_modify(&s->ss, s->iova, 1, 0xfee00000ULL, VTB_ADDR_MASK);
}
static void m_rta_noram(Scn *s) { s->root_table = SCN_NO_RAM; }
static void m_lroot_ctp_noram(Scn *s) { s->lroot.ctp = SCN_NO_RAM; }
static void m_lroot_rsvd(Scn *s) { s->lroot.rsvd[1] = 1; }
static void m_lroot_rsvd_lo(Scn *s) { s->lroot.rsvd[0] = VTB_BIT(4); }
static void m_lctx_rsvd(Scn *s) { s->lctx.rsvd[1] = VTB_BIT(7); }
static void m_ttm_reserved(Scn *s) { s->ttm = VTB_TTM_RESERVED; }
static void m_ttm_scalable_no_smts(Scn *s) { s->ttm = VTB_TTM_SCALABLE; }
static void m_ttm_abort(Scn *s) { s->ttm = VTB_TTM_ABORT; }
static void m_sroot_np(Scn *s) { s->sroot.lp = false; }
static void m_sroot_rsvd(Scn *s) { s->sroot.rsvd[0] = VTB_BIT(1); }
static void m_sroot_ctp_noram(Scn *s) { s->sroot.lctp = SCN_NO_RAM; }
static void m_sctx_np(Scn *s) { s->sctx.p = false; }
static void m_sctx_rsvd(Scn *s) { s->sctx.rsvd[2] = 1; }
static void m_sctx_rid_pasid_big(Scn *s) { s->sctx.rid_pasid = 0x10000; }
static void m_sctx_paside(Scn *s) { s->sctx.paside = true; }
static void m_sctx_pdir_noram(Scn *s) { s->sctx.pasid_dir = SCN_NO_RAM; }
static void m_pde_np(Scn *s) { s->pde.p = false; }
static void m_pde_rsvd(Scn *s) { s->pde.rsvd = VTB_BIT(2); }
static void m_pde_table_noram(Scn *s) { s->pde.table = SCN_NO_RAM; }
static void m_pe_np(Scn *s) { s->pe.p = false; }
static void m_pe_rsvd(Scn *s) { s->pe.rsvd[1] = VTB_BIT(80 - 64); }
static void m_pe_rsvd_hi(Scn *s) { s->pe.rsvd[3] = 1; }
static void m_pe_pgtt0(Scn *s) { s->pe.pgtt = 0; }
static void m_pe_pgtt_fs_unsupported(Scn *s) { s->pe.pgtt = VTB_PGTT_FS; }
static void m_pe_aw_bad(Scn *s) { s->pe.aw = 5; }
static void m_pe_sspt_noram(Scn *s) { s->pe.ssptptr = SCN_NO_RAM; }
static void m_pe_fspt_noram(Scn *s) { s->pe.fsptptr = SCN_NO_RAM; }
static void m_pe_ssade_unsnooped(Scn *s)
{
    s->pe.ssade = true;    /* A must be set in every SS entry: not snooped */
    s->pe.pwsnp = false;
}
static void m_pe_aw39_far(Scn *s)
{
    /* 3-level SS built for this case; input beyond 2^39. */
    s->iova = (1ULL << 40) | 0x567;
}
static void m_fs_l4_noram(Scn *s)
{
    vtb_pgt_modify(&s->fs, s->iova, 4, SCN_NO_RAM, VTB_ADDR_MASK);
}
static void m_fs_leaf_np(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 1, 0, VTB_FS_P); }
static void m_fs_l4_ps(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 4, VTB_FS_PS, 0); }
static void m_fs_leaf_rsvd(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 1, VTB_BIT(50), 0); }
static void m_fs_noncanon(Scn *s) { s->iova = 0x0000800000000567ULL; }
static void m_fs_leaf_user0(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 1, 0, VTB_FS_US); }
static void m_fs_l3_ro(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 3, 0, VTB_FS_RW); }
static void m_fs_leaf_intr(Scn *s)
{
    vtb_pgt_modify(&s->fs, s->iova, 1, 0xfee00000ULL, VTB_ADDR_MASK);
}
static void m_fs_leaf_no_a(Scn *s) { vtb_pgt_modify(&s->fs, s->iova, 1, 0, VTB_FS_A); }
static void m_pt_beyond_haw(Scn *s) { s->iova = (1ULL << 49) | 0x567; }
static void m_pt_intr(Scn *s) { s->iova = 0xfee00000ULL; }
/* Nested: FS leaf output beyond the SS AGAW (SS is 3-level, 39-bit). */
static void m_nest_fs_addr_far(Scn *s)
{
    vtb_pgt_modify(&s->fs, s->iova, 2, 1ULL << 40, 0);
}
/* Nested: SS mapping of an FS table page readable no more (W only). */
static void m_nest_fs_root_unreadable(Scn *s)
{
    vtb_pgt_modify(&s->ss, s->fs.pages[0] + s->fs.gpa_offset, 1, 0, VTB_SS_R);
}
static void m_nest_fs_l3_unreadable(Scn *s)
{
    vtb_pgt_modify(&s->ss, s->fs.pages[1] + s->fs.gpa_offset, 1, 0, VTB_SS_R);
}
/* Nested: FS leaf needs A, its table page is read-only in SS. */
static void m_nest_fs_ad_blocked(Scn *s)
{
    uint64_t leaf_table = vtb_pgt_entry(&s->fs, s->iova, 1) & ~0xfffULL;

    s->pe.pwsnp = true;
    vtb_pgt_modify(&s->fs, s->iova, 1, 0, VTB_FS_A);
    vtb_pgt_modify(&s->ss, leaf_table + s->fs.gpa_offset, 1, 0, VTB_SS_W);
}
static void m_nest_fsptptr_far(Scn *s) { s->pe.fsptptr = 1ULL << 40; }
/* Nested: the final output is denied by SS (read-only) for a write. */
static void m_nest_ss_out_ro(Scn *s)
{
    vtb_pgt_modify(&s->ss, s->fs_out, 1, 0, VTB_SS_W);
}

static const FaultCase fault_cases[] = {
    /* legacy */
    { "LRT.2 root not present", "", FC_LEGACY, 0, m_lroot_np, VTB_NO_PASID, 0, 0, VTB_FR_LRT_2 },
    { "LCT.2 context not present", "", FC_LEGACY, 0, m_lctx_np, VTB_NO_PASID, 0, 0, VTB_FR_LCT_2 },
    { "LCT.4.1 AW not in SAGAW", "", FC_LEGACY, 0, m_lctx_aw57, VTB_NO_PASID, 0, 0, VTB_FR_LCT_4 },
    { "LCT.4.2 TT reserved", "", FC_LEGACY, 0, m_lctx_tt3, VTB_NO_PASID, 0, 0, VTB_FR_LCT_4 },
    { "LCT.4.2 TT=01b without DT", "", FC_LEGACY, 0, m_lctx_tt_devtlb, VTB_NO_PASID, 0, 0, VTB_FR_LCT_4 },
    { "LCT.4.3 SSPTPTR outside RAM", "", FC_LEGACY, 0, m_lctx_sspt_noram, VTB_NO_PASID, 0, 0, VTB_FR_LCT_4 },
    { "LGN.1.1 address beyond AGAW", "", FC_LEGACY, 3, m_lctx_aw39_far, VTB_NO_PASID, 0, 0, VTB_FR_LGN_1 },
    { "LGN.2 write to read-only", "", FC_LEGACY, 0, m_ss_leaf_ro, VTB_NO_PASID, 0, 0, VTB_FR_LGN_2 },
    { "LGN.2 write to not-present", "", FC_LEGACY, 0, m_ss_leaf_np, VTB_NO_PASID, 0, 0, VTB_FR_LGN_2 },
    { "LGN.3 read of write-only", "", FC_LEGACY, 0, m_ss_leaf_wo, VTB_NO_PASID, 0, 1, VTB_FR_LGN_3 },
    { "LSS.1 SS table outside RAM", "", FC_LEGACY, 0, m_ss_l4_noram, VTB_NO_PASID, 0, 0, VTB_FR_LSS_1 },
    { "LRT.1 root table outside RAM", "", FC_LEGACY, 0, m_rta_noram, VTB_NO_PASID, 0, 0, VTB_FR_LRT_1 },
    { "LCT.1 context table outside RAM", "", FC_LEGACY, 0, m_lroot_ctp_noram, VTB_NO_PASID, 0, 0, VTB_FR_LCT_1 },
    { "LRT.3 root reserved (hi)", "", FC_LEGACY, 0, m_lroot_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_LRT_3 },
    { "LRT.3 root reserved (lo)", "", FC_LEGACY, 0, m_lroot_rsvd_lo, VTB_NO_PASID, 0, 0, VTB_FR_LRT_3 },
    { "LCT.3 context reserved", "", FC_LEGACY, 0, m_lctx_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_LCT_3 },
    { "LSS.2 SS leaf reserved", "", FC_LEGACY, 0, m_ss_leaf_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_LSS_2 },
    { "LSS.2 PS in PML4E", "", FC_LEGACY, 0, m_ss_l4_ps, VTB_NO_PASID, 0, 0, VTB_FR_LSS_2 },
    { "LGN.4 output in interrupt range", "", FC_LEGACY, 0, m_ss_leaf_intr, VTB_NO_PASID, 0, 0, VTB_FR_LGN_4 },
    { "RTA.1.2 TTM reserved", "", FC_LEGACY, 0, m_ttm_reserved, VTB_NO_PASID, 0, 0, VTB_FR_RTA_1 },
    { "RTA.1.3 TTM scalable without SMTS", "", FC_LEGACY, 0, m_ttm_scalable_no_smts, VTB_NO_PASID, 0, 0, VTB_FR_RTA_1 },
    { "RTA.1.1 TTM abort without ADMS", "", FC_LEGACY, 0, m_ttm_abort, VTB_NO_PASID, 0, 0, VTB_FR_RTA_1 },
    { "RTA.2 legacy with PASID", "", FC_LEGACY, 0, m_none, 7, 0, 0, VTB_FR_RTA_2 },
    { "RTA.4 abort-DMA mode", "x-adms=on", FC_LEGACY, 0, m_ttm_abort, VTB_NO_PASID, 0, 0, VTB_FR_RTA_4 },
    /* scalable: root / context */
    { "SRT.1 SM root table outside RAM", OPTS_SM, FC_SS, 0, m_rta_noram, VTB_NO_PASID, 0, 0, VTB_FR_SRT_1 },
    { "SRT.2 SM root half not present", OPTS_SM, FC_SS, 0, m_sroot_np, VTB_NO_PASID, 0, 0, VTB_FR_SRT_2 },
    { "SRT.3 SM root reserved", OPTS_SM, FC_SS, 0, m_sroot_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SRT_3 },
    { "SCT.1 SM context outside RAM", OPTS_SM, FC_SS, 0, m_sroot_ctp_noram, VTB_NO_PASID, 0, 0, VTB_FR_SCT_1 },
    { "SCT.2 SM context not present", OPTS_SM, FC_SS, 0, m_sctx_np, VTB_NO_PASID, 0, 0, VTB_FR_SCT_2 },
    { "SCT.3 SM context reserved", OPTS_SM, FC_SS, 0, m_sctx_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SCT_3 },
    { "SCT.4.2 RID_PASID beyond PDTS", OPTS_SM ",x-rps=on", FC_SS, 0, m_sctx_rid_pasid_big, VTB_NO_PASID, 0, 0, VTB_FR_SCT_4 },
    { "SCT.6 PASIDE=0 with PASID", OPTS_SM ",pasid-bits=20", FC_SS, 0, m_none, 7, 0, 0, VTB_FR_SCT_6 },
    { "SCT.7 PASID beyond PDTS", OPTS_SM ",pasid-bits=20", FC_SS, 0, m_sctx_paside, 0x2000, 0, 0, VTB_FR_SCT_7 },
    { "SCT.9 PASID equals RID_PASID", OPTS_SM ",pasid-bits=20", FC_SS, 0, m_sctx_paside, 0, 0, 0, VTB_FR_SCT_9 },
    { "SGN.10 PASID beyond PSS", OPTS_SM ",pasid-bits=8", FC_SS, 0, m_sctx_paside, 0x100, 0, 0, VTB_FR_SGN_10 },
    /* scalable: PASID directory / table */
    { "SPD.1 PASID directory outside RAM", OPTS_SM, FC_SS, 0, m_sctx_pdir_noram, VTB_NO_PASID, 0, 0, VTB_FR_SPD_1 },
    { "SPD.2 PASID directory not present", OPTS_SM, FC_SS, 0, m_pde_np, VTB_NO_PASID, 0, 0, VTB_FR_SPD_2 },
    { "SPD.3 PASID directory reserved", OPTS_SM, FC_SS, 0, m_pde_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SPD_3 },
    { "SPT.1 PASID table outside RAM", OPTS_SM, FC_SS, 0, m_pde_table_noram, VTB_NO_PASID, 0, 0, VTB_FR_SPT_1 },
    { "SPT.2 PASID entry not present", OPTS_SM, FC_SS, 0, m_pe_np, VTB_NO_PASID, 0, 0, VTB_FR_SPT_2 },
    { "SPT.3 PASID entry reserved", OPTS_SM, FC_SS, 0, m_pe_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SPT_3 },
    { "SPT.3 PASID entry reserved qword 3", OPTS_SM, FC_SS, 0, m_pe_rsvd_hi, VTB_NO_PASID, 0, 0, VTB_FR_SPT_3 },
    { "SPT.4.2 PGTT reserved", OPTS_SM, FC_SS, 0, m_pe_pgtt0, VTB_NO_PASID, 0, 0, VTB_FR_SPT_4 },
    { "SPT.4.2 PGTT FS without FSTS", OPTS_SM, FC_SS, 0, m_pe_pgtt_fs_unsupported, VTB_NO_PASID, 0, 0, VTB_FR_SPT_4 },
    { "SPT.4.1 AW unsupported", OPTS_SM, FC_SS, 0, m_pe_aw_bad, VTB_NO_PASID, 0, 0, VTB_FR_SPT_4 },
    { "SPT.6 supervisor request, SRE=0", OPTS_FS ",pasid-bits=20,x-srs=on", FC_FS, 0, m_sctx_paside, 7, 1, 0, VTB_FR_SPT_6 },
    /* scalable second stage */
    { "SSS.1 SS table outside RAM", OPTS_SM, FC_SS, 0, m_ss_l4_noram, VTB_NO_PASID, 0, 0, VTB_FR_SSS_1 },
    { "SSS.2 SS leaf not present", OPTS_SM, FC_SS, 0, m_ss_leaf_np, VTB_NO_PASID, 0, 0, VTB_FR_SSS_2 },
    { "SSS.3 SS leaf reserved", OPTS_SM, FC_SS, 0, m_ss_leaf_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SSS_3 },
    { "SSS.4 SS root outside RAM", OPTS_SM, FC_SS, 0, m_pe_sspt_noram, VTB_NO_PASID, 0, 0, VTB_FR_SSS_4 },
    { "SSS.5 SS A/D without snooping", OPTS_SM ",x-smpwcs=on,x-ssads=on", FC_SS, 0, m_pe_ssade_unsnooped, VTB_NO_PASID, 0, 0, VTB_FR_SSS_5 },
    { "SGN.5 SS input beyond AGAW", OPTS_SM, FC_SS, 3, m_pe_aw39_far, VTB_NO_PASID, 0, 0, VTB_FR_SGN_5 },
    { "SGN.6 SS write to read-only", OPTS_SM, FC_SS, 0, m_ss_leaf_ro, VTB_NO_PASID, 0, 0, VTB_FR_SGN_6 },
    { "SGN.7 SS read of write-only", OPTS_SM, FC_SS, 0, m_ss_leaf_wo, VTB_NO_PASID, 0, 1, VTB_FR_SGN_7 },
    { "SGN.8.1 SS output in interrupt range", OPTS_SM, FC_SS, 0, m_ss_leaf_intr, VTB_NO_PASID, 0, 0, VTB_FR_SGN_8 },
    /* scalable first stage */
    { "SFS.1 FS table outside RAM", OPTS_FS, FC_FS, 0, m_fs_l4_noram, VTB_NO_PASID, 0, 0, VTB_FR_SFS_1 },
    { "SFS.2 FS leaf not present", OPTS_FS, FC_FS, 0, m_fs_leaf_np, VTB_NO_PASID, 0, 0, VTB_FR_SFS_2 },
    { "SFS.3 PS in PML4E", OPTS_FS, FC_FS, 0, m_fs_l4_ps, VTB_NO_PASID, 0, 0, VTB_FR_SFS_3 },
    { "SFS.3 FS leaf bits above HAW", OPTS_FS, FC_FS, 0, m_fs_leaf_rsvd, VTB_NO_PASID, 0, 0, VTB_FR_SFS_3 },
    { "SFS.4 FS root outside RAM", OPTS_FS, FC_FS, 0, m_pe_fspt_noram, VTB_NO_PASID, 0, 0, VTB_FR_SFS_4 },
    { "SFS.9 FS A update without snooping", OPTS_FS, FC_FS, 0, m_fs_leaf_no_a, VTB_NO_PASID, 0, 0, VTB_FR_SFS_9 },
    { "SGN.1 non-canonical input", OPTS_FS, FC_FS, 0, m_fs_noncanon, VTB_NO_PASID, 0, 0, VTB_FR_SGN_1 },
    { "SGN.2 user request, U/S=0", OPTS_FS, FC_FS, 0, m_fs_leaf_user0, VTB_NO_PASID, 0, 0, VTB_FR_SGN_2 },
    { "SGN.6 FS write, R/W=0 above leaf", OPTS_FS, FC_FS, 0, m_fs_l3_ro, VTB_NO_PASID, 0, 0, VTB_FR_SGN_6 },
    { "SGN.8.1 FS output in interrupt range", OPTS_FS, FC_FS, 0, m_fs_leaf_intr, VTB_NO_PASID, 0, 0, VTB_FR_SGN_8 },
    /* scalable pass-through */
    { "SGN.4.2 PT input beyond HAW", OPTS_SM, FC_PT, 0, m_pt_beyond_haw, VTB_NO_PASID, 0, 0, VTB_FR_SGN_4 },
    { "SGN.8 PT with PASID into interrupt range", OPTS_SM ",pasid-bits=20", FC_PT, 0, m_sctx_paside, 9, 0, 0, VTB_FR_SGN_8 },
    { "IR 29h read of the interrupt window", OPTS_SM, FC_PT, 0, m_pt_intr, VTB_NO_PASID, 0, 1, VTB_FR_IR_NOT_INTR },
    /* nested */
    { "SFS.5 nested FS address beyond AGAW", OPTS_NEST, FC_NEST, 3, m_nest_fs_addr_far, VTB_NO_PASID, 0, 0, VTB_FR_SFS_5 },
    { "SFS.6 nested FS root unreadable", OPTS_NEST, FC_NEST, 0, m_nest_fs_root_unreadable, VTB_NO_PASID, 0, 0, VTB_FR_SFS_6 },
    { "SFS.7 nested FS table unreadable", OPTS_NEST, FC_NEST, 0, m_nest_fs_l3_unreadable, VTB_NO_PASID, 0, 0, VTB_FR_SFS_7 },
    { "SFS.8 nested FS A update blocked", OPTS_NEST ",x-smpwcs=on", FC_NEST, 0, m_nest_fs_ad_blocked, VTB_NO_PASID, 0, 0, VTB_FR_SFS_8 },
    { "SPT.4.4 nested FSPTPTR beyond AGAW", OPTS_NEST, FC_NEST, 3, m_nest_fsptptr_far, VTB_NO_PASID, 0, 0, VTB_FR_SPT_4 },
    { "SGN.6 nested output read-only in SS", OPTS_NEST, FC_NEST, 0, m_nest_ss_out_ro, VTB_NO_PASID, 0, 0, VTB_FR_SGN_6 },
};

static void build_case(Scn *s, const FaultCase *fc)
{
    unsigned ssl = fc->ss_levels ? fc->ss_levels : 4;

    scn_start(s, fc->opts);
    if (fc->pasid != VTB_NO_PASID) {
        s->pasid = fc->pasid;        /* entries for the PASID we send */
    }
    switch (fc->mode) {
    case FC_LEGACY:
        scn_legacy(s, ssl);
        break;
    case FC_SS:
        scn_scalable(s, VTB_PGTT_SS, ssl, 0);
        break;
    case FC_FS:
        scn_scalable(s, VTB_PGTT_FS, 0, 4);
        break;
    case FC_PT:
        scn_scalable(s, VTB_PGTT_PT, 0, 0);
        break;
    case FC_NEST:
        scn_scalable(s, VTB_PGTT_NESTED, ssl, 4);
        break;
    }
}

static void run_fault_case(void **state)
{
    const FaultCase *fc = *state;
    Scn s;
    VtbFault f;
    uint32_t r;
    uint64_t iova;

    build_case(&s, fc);
    fc->mutate(&s);
    if (fc->mode == FC_PT && fc->pasid != VTB_NO_PASID) {
        /* With PASID the interrupt window is translated, and PT lands in it. */
        s.iova = 0xfee00000ULL;
    }
    iova = s.iova;
    scn_commit(&s);
    vtb_testdev_set_request(&s.td, fc->pasid, fc->priv, fc->read);
    r = scn_dma_at(&s, iova, s.target | (iova & 0xfff), 4);

    if (fc->reason == VTB_FR_IR_NOT_INTR) {
        /* Without PASID the interrupt window is not DMA: a read there is
         * blocked as an interrupt-remapping fault (29h, FI/T/PP undefined). */
        assert_int_not_equal(r, VTB_TD_OK);
        assert_true(vtb_first_fault(&s.b, &f));
        assert_int_equal(f.reason, VTB_FR_IR_NOT_INTR);
        assert_int_equal(f.sid, scn_sid(&s));
        scn_stop(&s);
        return;
    }
    assert_int_equal(r, VTB_TD_TX_FAIL);
    if (!vtb_first_fault(&s.b, &f)) {
        fail_msg("%s: no fault recorded (FSTS=0x%x)", fc->name, vtb_fsts(&s.b));
    }
    if (f.reason != fc->reason) {
        fail_msg("%s: reason 0x%02x, expected 0x%02x (%s)", fc->name, f.reason,
                 fc->reason, vtb_fault_describe(&f));
    }
    assert_true(f.f);
    assert_int_equal(f.sid, scn_sid(&s));
    /* FI bits 63:MGAW are reserved (0) (spec FRCD_REG FI, facts §4.9). */
    assert_int_equal(f.addr, iova & ~0xfffULL &
                     ((2ULL << VTB_CAP_MGAW(vtb_rq(&s.b, VTB_CAP))) - 1));
    /* (T1,T2) = 10b read, 00b write. */
    assert_int_equal(f.t1, fc->read);
    assert_false(f.t2);
    assert_int_equal(f.pp, fc->pasid != VTB_NO_PASID);
    if (fc->pasid != VTB_NO_PASID) {
        assert_int_equal(f.pasid, fc->pasid);
        assert_int_equal(f.priv, fc->priv);
    }
    assert_int_equal(f.at, 0);                   /* untranslated */
    assert_int_equal(vtb_fault_count(&s.b), 1);  /* exactly one record */
    scn_stop(&s);
}

/* Guard: the table covers at least 30 distinct reasons. */
static void test_fault_table_coverage(void **state)
{
    bool seen[256] = { 0 };
    unsigned n = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(fault_cases); i++) {
        uint8_t r = fault_cases[i].reason;

        if (r && !seen[r]) {
            seen[r] = true;
            n++;
        }
    }
    print_message("fault table: %u distinct reasons in %zu cases\n", n,
                  G_N_ELEMENTS(fault_cases));
    assert_true(n >= 30);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_nested_needs_opt_in),
        cmocka_unit_test(test_fs_5level_unsupported),
        cmocka_unit_test(test_ss_2m),
        cmocka_unit_test(test_ss_1g),
        cmocka_unit_test(test_fs_2m),
        cmocka_unit_test(test_fs_1g),
        cmocka_unit_test(test_fs_1g_unsupported),
        cmocka_unit_test(test_fs_accessed_dirty),
        cmocka_unit_test(test_fpd_legacy_qualified),
        cmocka_unit_test(test_fpd_unqualified),
        cmocka_unit_test(test_fpd_scalable_levels),
        cmocka_unit_test(test_fault_log_overflow),
        cmocka_unit_test(test_fault_log_fri_moves),
        cmocka_unit_test(test_fault_event_msi),
        cmocka_unit_test(test_fault_event_masked),
        cmocka_unit_test(test_pasid_request),
        cmocka_unit_test(test_supervisor_sre),
        cmocka_unit_test(test_supervisor_wpe),
        cmocka_unit_test(test_fs_eafe),
        cmocka_unit_test(test_ss_accessed_dirty),
        cmocka_unit_test(test_rid_pasid),
        cmocka_unit_test(test_fault_table_coverage),
    };
    size_t nok = G_N_ELEMENTS(ok_cases), nfixed = G_N_ELEMENTS(fixed);
    size_t nfault = G_N_ELEMENTS(fault_cases), n = 0;
    struct CMUnitTest *tests = g_new0(struct CMUnitTest, nok + nfixed + nfault);
    int rc;

    for (size_t i = 0; i < nok; i++, n++) {
        tests[n].name = ok_cases[i].name;
        tests[n].test_func = run_ok_case;
        tests[n].initial_state = (void *)&ok_cases[i];
    }
    memcpy(&tests[n], fixed, sizeof(fixed));
    n += nfixed;
    for (size_t i = 0; i < nfault; i++, n++) {
        tests[n].name = fault_cases[i].name;
        tests[n].test_func = run_fault_case;
        tests[n].initial_state = (void *)&fault_cases[i];
    }
    if (getenv("VTD_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("VTD_TEST_FILTER"));
    }
    rc = _cmocka_run_group_tests("vtd-translate", tests, n, NULL, NULL);
    g_free(tests);
    return rc;
}
