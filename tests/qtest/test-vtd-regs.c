/*
 * VT-d register foundation checks over qtest: capability composition for a
 * scalable first-stage unit, register access semantics (RO, RW, RW1C, WO,
 * split 32-bit halves) and a byte-identical register image after
 * system_reset, also after the guest dirtied everything it can.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <inttypes.h>
#include <string.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define MACHINE      "-machine q35 -m 512M "
#define IOMMU_SM_FS  "-device intel-iommu,scalable-mode=on,flts=on "
#define ALLOC_BASE   0x10000000ULL
#define ALLOC_SIZE   0x04000000ULL
#define TESTDEV_BAR  0xe0000000ULL

typedef struct Ctx {
    QTestState *qts;
    VtdBuilder b;
} Ctx;

static void start(Ctx *c, const char *args)
{
    c->qts = qtest_init(args);
    vtb_init(&c->b, c->qts, ALLOC_BASE, ALLOC_SIZE);
}

static void stop(Ctx *c)
{
    qtest_quit(c->qts);
}

/* ---- capabilities ------------------------------------------------------- */

static void test_caps_scalable_fs(void **state)
{
    Ctx c;
    uint64_t cap, ecap;

    start(&c, MACHINE IOMMU_SM_FS);
    cap = c.b.cap;
    ecap = c.b.ecap;

    assert_int_equal(vtb_rl(&c.b, VTB_VER), 0x10);
    /* Fault recording registers right after the fixed registers, as QEMU. */
    assert_int_equal(VTB_CAP_FRO(cap), 0x220);
    assert_true(VTB_CAP_NFR(cap) >= 1);
    assert_int_equal(VTB_CAP_ND(cap), 6);               /* 16-bit DIDs */
    assert_int_equal(VTB_CAP_MAMV(cap), 18);
    assert_true(cap & VTB_CAP_PSI);
    assert_int_equal(VTB_CAP_SSLPS(cap), 3);            /* 2M and 1G */
    assert_int_equal(VTB_CAP_SAGAW(cap), VTB_SAGAW_39 | VTB_SAGAW_48);
    assert_int_equal(VTB_CAP_MGAW(cap), 47);
    assert_true(cap & VTB_CAP_FS1GP);                    /* fs1gp default on */
    assert_false(cap & VTB_CAP_FS5LP);                   /* opt-in only */

    assert_true(ecap & VTB_ECAP_QI);
    assert_true(ecap & VTB_ECAP_IR);
    assert_int_equal(VTB_ECAP_IRO(ecap), 0xf0);
    assert_int_equal(VTB_ECAP_MHMV(ecap), 15);
    assert_true(ecap & VTB_ECAP_SMTS);
    assert_true(ecap & VTB_ECAP_FSTS);
    /* QEMU: first stage replaces second stage unless opted in (x-ssts). */
    assert_false(ecap & VTB_ECAP_SSTS);
    assert_false(ecap & VTB_ECAP_NEST);
    stop(&c);
}

static void test_caps_opt_ins(void **state)
{
    Ctx c;

    start(&c, MACHINE "-device intel-iommu,scalable-mode=on,flts=on,x-ssts=on,"
          "x-nest=on,x-fs5lp=on,x-nfr=16 ");
    assert_true(c.b.ecap & VTB_ECAP_SSTS);
    assert_true(c.b.ecap & VTB_ECAP_NEST);
    assert_true(c.b.cap & VTB_CAP_FS5LP);
    assert_int_equal(VTB_CAP_NFR(c.b.cap), 16);
    stop(&c);

    start(&c, MACHINE "-device intel-iommu,aw-bits=57,x-aw57=on ");
    assert_int_equal(VTB_CAP_SAGAW(c.b.cap),
                     VTB_SAGAW_39 | VTB_SAGAW_48 | VTB_SAGAW_57);
    assert_int_equal(VTB_CAP_MGAW(c.b.cap), 56);
    stop(&c);
}

static void test_caps_legacy_default(void **state)
{
    Ctx c;

    start(&c, MACHINE "-device intel-iommu ");
    assert_int_equal(VTB_CAP_MGAW(c.b.cap), 47);        /* aw-bits 48 */
    assert_int_equal(VTB_CAP_SAGAW(c.b.cap), VTB_SAGAW_39 | VTB_SAGAW_48);
    assert_false(c.b.ecap & VTB_ECAP_SMTS);
    assert_false(c.b.ecap & VTB_ECAP_FSTS);
    assert_false(c.b.ecap & VTB_ECAP_SSTS);
    assert_true(c.b.ecap & VTB_ECAP_PT);                /* pt default on */
    stop(&c);
}

/* ---- reset image ---------------------------------------------------------- */

static unsigned image_len(Ctx *c)
{
    return VTB_REGS_END + 16 * vtb_nfr(&c->b);
}

static uint32_t *read_image(Ctx *c)
{
    unsigned n = image_len(c) / 4;
    uint32_t *img = g_new(uint32_t, n);

    for (unsigned i = 0; i < n; i++) {
        img[i] = vtb_rl(&c->b, 4 * i);
    }
    return img;
}

static void assert_same_image(const uint32_t *a, const uint32_t *b, unsigned len)
{
    for (unsigned i = 0; i < len / 4; i++) {
        if (a[i] != b[i]) {
            print_error("register 0x%03x: 0x%08x before, 0x%08x after reset\n",
                        4 * i, a[i], b[i]);
        }
    }
    assert_memory_equal(a, b, len);
}

static void system_reset(Ctx *c)
{
    g_autofree char *err = NULL;
    g_autofree char *ret = qtest_qmp(c->qts, "{\"execute\": \"system_reset\"}",
                                     &err);
    g_autofree char *ev = NULL;

    assert_non_null(ret);
    ev = qtest_qmp_eventwait(c->qts, "RESET");
    assert_non_null(ev);
}

static void test_reset_pristine(void **state)
{
    Ctx c;
    g_autofree uint32_t *before = NULL, *after = NULL;

    start(&c, MACHINE IOMMU_SM_FS);
    before = read_image(&c);
    system_reset(&c);
    after = read_image(&c);
    assert_same_image(before, after, image_len(&c));
    stop(&c);
}

/* Program every register a guest can, enable everything, then reset. */
static void dirty_registers(Ctx *c, bool scalable)
{
    VtdBuilder *b = &c->b;
    uint64_t root = vtb_alloc_page(b);
    uint64_t irt = vtb_alloc_page(b);
    VtbQueue q;

    vtb_fault_event_setup(b, 0xfee00000, 0x4321, false);
    vtb_wl(b, VTB_IEDATA, 0x55);
    vtb_wl(b, VTB_IEADDR, 0xfee01000);
    vtb_wl(b, VTB_IECTL, 0);
    assert_true(vtb_set_root(b, root, scalable ? VTB_TTM_SCALABLE
                                               : VTB_TTM_LEGACY, 0));
    assert_true(vtb_qi_enable(&q, b, 0, scalable));
    assert_true(vtb_qi_wait(&q));
    vtb_wq(b, VTB_IRTA, irt | 7);
    assert_true(vtb_gcmd(b, VTB_GCMD_SIRTP, true));
    assert_true(vtb_gcmd(b, VTB_GCMD_IRE, true));
    assert_true(vtb_enable_te(b, true));
}

static void test_reset_dirty(void **state)
{
    Ctx c;
    g_autofree uint32_t *before = NULL, *mid = NULL, *after = NULL;

    start(&c, MACHINE IOMMU_SM_FS);
    before = read_image(&c);
    dirty_registers(&c, true);
    mid = read_image(&c);
    /* The dirtying must actually have changed something visible. */
    assert_memory_not_equal(before, mid, image_len(&c));
    system_reset(&c);
    after = read_image(&c);
    assert_same_image(before, after, image_len(&c));
    stop(&c);
}

/* With a recorded fault (FRCD, FSTS) and a delivered fault event. */
static void test_reset_after_fault(void **state)
{
    Ctx c;
    VtbDev td;
    g_autofree uint32_t *before = NULL, *after = NULL;
    uint64_t root;

    start(&c, MACHINE "-device intel-iommu -device iommu-testdev ");
    assert_true(vtb_testdev_find(&td, c.qts, TESTDEV_BAR));
    before = read_image(&c);

    root = vtb_alloc_page(&c.b);            /* all root entries not present */
    vtb_fault_event_setup(&c.b, 0xfee00000, 0x99, false);
    assert_true(vtb_set_root(&c.b, root, VTB_TTM_LEGACY, 0));
    assert_true(vtb_enable_te(&c.b, true));
    assert_int_not_equal(vtb_testdev_dma(&td, 0x1000, 0x1000, 4), VTB_TD_OK);
    assert_true(vtb_fsts(&c.b) & VTB_FSTS_PPF);

    system_reset(&c);
    after = read_image(&c);
    assert_same_image(before, after, image_len(&c));
    stop(&c);
}

/* ---- access semantics ------------------------------------------------------ */

static void test_access_ro(void **state)
{
    Ctx c;
    uint64_t cap, ecap;

    start(&c, MACHINE IOMMU_SM_FS);
    cap = c.b.cap;
    ecap = c.b.ecap;
    vtb_wl(&c.b, VTB_VER, 0xffffffff);
    vtb_wq(&c.b, VTB_CAP, ~cap);
    vtb_wq(&c.b, VTB_ECAP, 0);
    vtb_wl(&c.b, VTB_GSTS, 0xffffffff);
    vtb_wq(&c.b, VTB_IQH, 0x7fff0);
    vtb_wl(&c.b, VTB_PMEN, 0xffffffff);   /* PLMR = PHMR = 0: RO */
    assert_int_equal(vtb_rl(&c.b, VTB_VER), 0x10);
    assert_int_equal(vtb_rq(&c.b, VTB_CAP), cap);
    assert_int_equal(vtb_rq(&c.b, VTB_ECAP), ecap);
    assert_int_equal(vtb_rl(&c.b, VTB_GSTS), 0);
    assert_int_equal(vtb_rq(&c.b, VTB_IQH), 0);
    assert_int_equal(vtb_rl(&c.b, VTB_PMEN), 0);
    /* Fault-record low qwords are hardware's. */
    vtb_wq(&c.b, VTB_CAP_FRO(cap), ~0ULL);
    assert_int_equal(vtb_rq(&c.b, VTB_CAP_FRO(cap)), 0);
    /* Reserved offsets read 0 and ignore writes. */
    vtb_wl(&c.b, 0x004, 0xffffffff);
    vtb_wl(&c.b, 0x030, 0xffffffff);
    vtb_wl(&c.b, 0x098, 0xffffffff);
    assert_int_equal(vtb_rl(&c.b, 0x004), 0);
    assert_int_equal(vtb_rl(&c.b, 0x030), 0);
    assert_int_equal(vtb_rl(&c.b, 0x098), 0);
    stop(&c);
}

static void test_access_rw(void **state)
{
    Ctx c;

    start(&c, MACHINE IOMMU_SM_FS);
    /* Reset values: IM=1 in every event control register. */
    assert_int_equal(vtb_rl(&c.b, VTB_FECTL), VTB_FECTL_IM);
    assert_int_equal(vtb_rl(&c.b, VTB_IECTL), VTB_FECTL_IM);

    /* Only the implemented bits stick. */
    vtb_wl(&c.b, VTB_FEDATA, 0xffffffff);
    assert_int_equal(vtb_rl(&c.b, VTB_FEDATA), 0xffff);
    vtb_wl(&c.b, VTB_FEADDR, 0xffffffff);
    assert_int_equal(vtb_rl(&c.b, VTB_FEADDR), 0xfffffffc);
    vtb_wl(&c.b, VTB_FECTL, 0xffffffff);       /* IP is RO, 29:0 RsvdP */
    assert_int_equal(vtb_rl(&c.b, VTB_FECTL), VTB_FECTL_IM);
    vtb_wl(&c.b, VTB_FECTL, 0);
    assert_int_equal(vtb_rl(&c.b, VTB_FECTL), 0);
    vtb_wl(&c.b, VTB_IEADDR, 0xfee00003);
    assert_int_equal(vtb_rl(&c.b, VTB_IEADDR), 0xfee00000);

    /* RTADDR holds RTA and TTM until SRTP; low reserved bits stay 0. */
    vtb_wq(&c.b, VTB_RTADDR, 0x123456789000ULL | (1 << 10) | 0x3ff);
    assert_int_equal(vtb_rq(&c.b, VTB_RTADDR), 0x123456789000ULL | (1 << 10));
    /* IQA: base, DW, QS; reserved 10:3 stay 0. */
    vtb_wq(&c.b, VTB_IQA, 0x1000ULL << 12 | 0xfff);
    assert_int_equal(vtb_rq(&c.b, VTB_IQA), (0x1000ULL << 12) | VTB_BIT(11) | 7);
    /* IQT: 18:4 only. */
    vtb_wq(&c.b, VTB_IQT, 0xfffff);
    assert_int_equal(vtb_rq(&c.b, VTB_IQT), 0x7fff0);
    vtb_wq(&c.b, VTB_IQT, 0);
    /* IOTLB register: DID and granularity read back, IAIG is hardware's. */
    vtb_wq(&c.b, VTB_ECAP_IRO(c.b.ecap) + 8,
           VTB_IOTLB_IIRG(VTB_GRAN_DOMAIN) | VTB_IOTLB_DID(0x1234));
    assert_int_equal(vtb_rq(&c.b, VTB_ECAP_IRO(c.b.ecap) + 8),
                     VTB_IOTLB_IIRG(VTB_GRAN_DOMAIN) | VTB_IOTLB_DID(0x1234));
    stop(&c);
}

static void test_access_rw1c(void **state)
{
    Ctx c;
    VtbDev td;
    uint64_t root;
    uint32_t fro;

    start(&c, MACHINE "-device intel-iommu,x-nfr=1 -device iommu-testdev ");
    assert_true(vtb_testdev_find(&td, c.qts, TESTDEV_BAR));
    fro = VTB_CAP_FRO(c.b.cap);
    /* Writing 1s where nothing is set changes nothing. */
    vtb_wl(&c.b, VTB_FSTS, 0xffffffff);
    vtb_wl(&c.b, VTB_ICS, 0xffffffff);
    assert_int_equal(vtb_fsts(&c.b), 0);
    assert_int_equal(vtb_rl(&c.b, VTB_ICS), 0);

    /* Two faults with one record: F set, then PFO. */
    root = vtb_alloc_page(&c.b);
    assert_true(vtb_set_root(&c.b, root, VTB_TTM_LEGACY, 0));
    assert_true(vtb_enable_te(&c.b, true));
    vtb_testdev_dma(&td, 0x1000, 0x1000, 4);
    vtb_testdev_dma(&td, 0x2000, 0x2000, 4);
    assert_int_equal(vtb_fsts(&c.b), VTB_FSTS_PFO | VTB_FSTS_PPF);
    assert_true(vtb_rl(&c.b, fro + 12) & 0x80000000u);

    /* Writing 0 to F or PFO keeps them; PPF is not writable. */
    vtb_wl(&c.b, fro + 12, 0x7fffffff);
    vtb_wl(&c.b, VTB_FSTS, VTB_FSTS_PPF);
    assert_true(vtb_rl(&c.b, fro + 12) & 0x80000000u);
    assert_int_equal(vtb_fsts(&c.b), VTB_FSTS_PFO | VTB_FSTS_PPF);

    /* The other FRCD fields are RO: they survive clearing F. */
    {
        VtbFault f;
        uint64_t lo_before = vtb_rq(&c.b, fro);

        vtb_wl(&c.b, fro + 12, 0x80000000u);     /* RW1C on the top dword */
        vtb_fault_read(&c.b, 0, &f);
        assert_false(f.f);
        assert_int_equal(f.reason, VTB_FR_LRT_2);
        assert_int_equal(f.raw_lo, lo_before);
    }
    assert_int_equal(vtb_fsts(&c.b), VTB_FSTS_PFO);   /* PPF follows F */
    vtb_wl(&c.b, VTB_FSTS, VTB_FSTS_PFO);
    assert_int_equal(vtb_fsts(&c.b), 0);
    stop(&c);
}

static void test_access_wo(void **state)
{
    Ctx c;
    unsigned iro;

    start(&c, MACHINE IOMMU_SM_FS);
    iro = VTB_ECAP_IRO(c.b.ecap);
    /* GCMD reads 0 whatever was written (here a no-op: TE off stays off). */
    vtb_wl(&c.b, VTB_GCMD, VTB_GCMD_CFI);
    assert_int_equal(vtb_rl(&c.b, VTB_GCMD), 0);
    vtb_wl(&c.b, VTB_GCMD, 0);
    /* IVA is write-only. */
    vtb_wq(&c.b, iro, 0xabcdef000ULL | 0x45);
    assert_int_equal(vtb_rq(&c.b, iro), 0);
    /* CCMD: SID and FM are write-only, DID is RW; low-dword write only, so
     * no invalidation starts. */
    vtb_wl(&c.b, VTB_CCMD, 0x12340005);
    assert_int_equal(vtb_rl(&c.b, VTB_CCMD), 0x00000005);
    vtb_wl(&c.b, VTB_CCMD + 4, 0x3);                 /* FM, bits 33:32 */
    assert_int_equal(vtb_rl(&c.b, VTB_CCMD + 4), 0);
    stop(&c);
}

static void test_access_split_halves(void **state)
{
    Ctx c;

    start(&c, MACHINE IOMMU_SM_FS);
    /* 64-bit registers as two 32-bit halves, in either order. */
    vtb_wl(&c.b, VTB_RTADDR + 4, 0x00000012);
    vtb_wl(&c.b, VTB_RTADDR, 0x34567400);
    assert_int_equal(vtb_rq(&c.b, VTB_RTADDR), 0x0000001234567400ULL);
    assert_int_equal(vtb_rl(&c.b, VTB_RTADDR), 0x34567400);
    assert_int_equal(vtb_rl(&c.b, VTB_RTADDR + 4), 0x00000012);
    vtb_wl(&c.b, VTB_IRTA, 0xabcde00f);
    vtb_wl(&c.b, VTB_IRTA + 4, 0x1);
    assert_int_equal(vtb_rq(&c.b, VTB_IRTA), 0x1abcde00fULL);
    /* 64-bit CAP read as halves matches the 64-bit read. */
    assert_int_equal(((uint64_t)vtb_rl(&c.b, VTB_CAP + 4) << 32) |
                     vtb_rl(&c.b, VTB_CAP), c.b.cap);
    assert_int_equal(((uint64_t)vtb_rl(&c.b, VTB_ECAP + 4) << 32) |
                     vtb_rl(&c.b, VTB_ECAP), c.b.ecap);

    /* SRTP latches what the two halves built. */
    {
        uint64_t root = vtb_alloc_page(&c.b);

        vtb_wl(&c.b, VTB_RTADDR, (uint32_t)root);
        vtb_wl(&c.b, VTB_RTADDR + 4, (uint32_t)(root >> 32));
        assert_true(vtb_gcmd(&c.b, VTB_GCMD_SRTP, true));
        assert_int_equal(vtb_rq(&c.b, VTB_RTADDR), root);
    }
    stop(&c);
}

/* The spec's one-command-at-a-time protocol with one-shot bits masked. */
static void test_gcmd_protocol(void **state)
{
    Ctx c;
    uint64_t root;
    uint32_t gsts;

    start(&c, MACHINE IOMMU_SM_FS);
    root = vtb_alloc_page(&c.b);
    assert_int_equal(vtb_rl(&c.b, VTB_GSTS), 0);
    assert_true(vtb_set_root(&c.b, root, VTB_TTM_SCALABLE, 0));
    gsts = vtb_rl(&c.b, VTB_GSTS);
    assert_int_equal(gsts, VTB_GCMD_SRTP);             /* RTPS only */
    assert_true(vtb_enable_te(&c.b, true));
    assert_int_equal(vtb_rl(&c.b, VTB_GSTS), VTB_GCMD_TE | VTB_GCMD_SRTP);
    assert_true(vtb_enable_te(&c.b, false));
    assert_int_equal(vtb_rl(&c.b, VTB_GSTS), VTB_GCMD_SRTP);
    stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps_scalable_fs),
        cmocka_unit_test(test_caps_opt_ins),
        cmocka_unit_test(test_caps_legacy_default),
        cmocka_unit_test(test_reset_pristine),
        cmocka_unit_test(test_reset_dirty),
        cmocka_unit_test(test_reset_after_fault),
        cmocka_unit_test(test_access_ro),
        cmocka_unit_test(test_access_rw),
        cmocka_unit_test(test_access_rw1c),
        cmocka_unit_test(test_access_wo),
        cmocka_unit_test(test_access_split_halves),
        cmocka_unit_test(test_gcmd_protocol),
    };

    return cmocka_run_group_tests_name("vtd-regs", tests, NULL, NULL);
}
