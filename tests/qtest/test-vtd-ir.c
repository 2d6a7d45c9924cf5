/*
 * Interrupt remapping end to end: a guest programs IRTA/SIRTP/IRE and IRTEs,
 * edu or iommu-testdev raises an MSI in remappable format, and the message
 * the CPU side receives (x-vtdnest-msi-log) is the one the IRTE describes.
 * Blocked interrupts leave IR fault records; a DMA read of the interrupt
 * window records fault 29h; an IEC invalidation through the queue makes a
 * changed IRTE take effect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define MACHINE      "-machine q35 -m 512M "
#define DEVICES      "-device edu -device iommu-testdev "
#define ALLOC_BASE   0x10000000ULL
#define ALLOC_SIZE   0x04000000ULL
#define EDU_BAR      0xe0000000ULL
#define TESTDEV_BAR  0xe1000000ULL

/* Bits of the spec written out here on purpose (see vtd-builder.h). */
#define IR_FORMAT    VTB_BIT(4)      /* MSI address: remappable format */
#define IR_SHV       VTB_BIT(3)
#define IRTE_P       VTB_BIT(0)
#define IRTE_FPD     VTB_BIT(1)
#define IRTE_DM      VTB_BIT(2)
#define IRTE_RH      VTB_BIT(3)
#define IRTE_TM      VTB_BIT(4)
#define SVT_SID      1ULL

enum {
    FR_IR_INDEX = 0x21, FR_IR_P = 0x22, FR_IR_RSVD = 0x24,
    FR_IR_COMPAT = 0x25, FR_IR_SID = 0x26, FR_IR_NOT_INTR = 0x29,
};

typedef struct Ctx {
    QTestState *qts;
    VtdBuilder b;
    VtbDev edu, td;
    uint64_t irt;
    uint8_t edu_msi;        /* MSI capability offsets */
    uint8_t td_msi;
} Ctx;

/* ---- Guest-side helpers -------------------------------------------------- */

/* 64-bit MSI capability: address lo/hi at +4/+8, data at +12. */
static void msi_program(VtbDev *d, uint8_t cap, uint64_t addr, uint16_t data)
{
    uint16_t flags = qtest_pci_cfg_read(d->qts, d->bus, d->devfn, cap + 2, 2);

    qtest_pci_cfg_write(d->qts, d->bus, d->devfn, cap + 4, (uint32_t)addr, 4);
    qtest_pci_cfg_write(d->qts, d->bus, d->devfn, cap + 8, addr >> 32, 4);
    qtest_pci_cfg_write(d->qts, d->bus, d->devfn, cap + 12, data, 2);
    qtest_pci_cfg_write(d->qts, d->bus, d->devfn, cap + 2, flags | 1, 2);
}

static uint64_t ir_addr(uint32_t handle, bool shv)
{
    return 0xfee00000ULL | ((uint64_t)(handle & 0x7fff) << 5) |
           ((handle & 0x8000) ? VTB_BIT(2) : 0) | IR_FORMAT |
           (shv ? IR_SHV : 0);
}

static void irte_write(Ctx *c, uint32_t index, uint64_t lo, uint64_t hi)
{
    vtb_mem_wq(&c->b, c->irt + 16ULL * index, lo);
    vtb_mem_wq(&c->b, c->irt + 16ULL * index + 8, hi);
}

static uint64_t irte_lo(unsigned vector, uint32_t dst, unsigned dlm)
{
    return IRTE_P | ((uint64_t)vector << 16) | ((uint64_t)dst << 32) |
           ((uint64_t)dlm << 5);
}

/* The machine's MSI log, expecting exactly one message; cleared after. */
static bool one_msi(Ctx *c, VtbMsi *out)
{
    VtbMsi log[8];
    int n = vtb_msi_log(c->qts, log, 8);

    vtb_msi_clear(c->qts);
    assert_true(n >= 0);
    if (n == 0) {
        return false;
    }
    assert_int_equal(n, 1);
    *out = log[0];
    return true;
}

/* edu raises its interrupt (status register 0x60) -> one MSI if enabled. */
static void edu_raise(Ctx *c)
{
    qtest_writel(c->qts, c->edu.bar + 0x60, 1);
    qtest_writel(c->qts, c->edu.bar + 0x64, 1);     /* ack for the next */
}

/* The pending fault: reason (0 if none), index from FI 63:48, SID; cleared. */
static unsigned take_fault(Ctx *c, uint32_t *index, uint16_t *sid)
{
    uint32_t fsts = vtb_fsts(&c->b);
    VtbFault f;

    if (!(fsts & VTB_FSTS_PPF)) {
        return 0;
    }
    vtb_fault_read(&c->b, VTB_FSTS_FRI(fsts), &f);
    vtb_fault_clear(&c->b, VTB_FSTS_FRI(fsts));
    if (index) {
        *index = (uint32_t)(f.raw_lo >> 48);
    }
    if (sid) {
        *sid = f.sid;
    }
    return f.reason;
}

static void start(Ctx *c, const char *iommu)
{
    g_autofree char *args = g_strconcat(MACHINE, iommu, " ", DEVICES, NULL);

    memset(c, 0, sizeof(*c));
    c->qts = qtest_init(args);
    vtb_init(&c->b, c->qts, ALLOC_BASE, ALLOC_SIZE);
    assert_true(c->b.ecap & VTB_ECAP_IR);
    assert_true(vtb_edu_find(&c->edu, c->qts, EDU_BAR));
    assert_true(vtb_testdev_find(&c->td, c->qts, TESTDEV_BAR));
    c->edu_msi = vtb_dev_msi_cap(&c->edu);
    c->td_msi = vtb_dev_msi_cap(&c->td);
    c->irt = vtb_alloc(&c->b, 0x1000);      /* 256 entries */
}

/* IRTA = irt, 2^(s+1) entries, optional EIME; SIRTP; IRE. */
static void ir_enable(Ctx *c, unsigned s, bool eime)
{
    vtb_wq(&c->b, VTB_IRTA, c->irt | (eime ? VTB_BIT(11) : 0) | s);
    vtb_gcmd(&c->b, VTB_GCMD_SIRTP, true);
    assert_true(vtb_gcmd(&c->b, VTB_GCMD_IRE, true));
}

/* ---- Tests --------------------------------------------------------------- */

static void test_edu_msi_remapped(void **state)
{
    Ctx c;
    VtbMsi m;
    uint16_t sid;

    start(&c, "-device intel-iommu");
    sid = vtb_dev_sid(&c.edu);

    /* IR off: the remappable-format message reaches the CPU unchanged. */
    msi_program(&c.edu, c.edu_msi, ir_addr(3, false), 0);
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.addr, ir_addr(3, false));
    assert_false(m.remapped);

    /* IRTE 3: vector 0x42, APIC 5, fixed, edge; only edu may use it. */
    irte_write(&c, 3, irte_lo(0x42, 5 << 8, 0), (SVT_SID << 18) | sid);
    ir_enable(&c, 7, false);
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_true(m.remapped);
    assert_int_equal(m.addr, 0xfee05000ULL);
    assert_int_equal(m.data, 0x42);
    assert_int_equal(m.sid, sid);
    assert_int_equal(take_fault(&c, NULL, NULL), 0);

    /* SHV: handle 8 + subhandle 2 = index 10; logical, RH, level, lowest. */
    irte_write(&c, 10, irte_lo(0x77, 0x0f << 8, 1) | IRTE_DM | IRTE_RH |
               IRTE_TM, 0);
    msi_program(&c.edu, c.edu_msi, ir_addr(8, true), 2);
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.addr, 0xfee0f000ULL | VTB_BIT(3) | VTB_BIT(2));
    assert_int_equal(m.data, 0x77 | (1 << 8) | (1 << 15));

    qtest_quit(c.qts);
}

static void test_testdev_msi_remapped(void **state)
{
    Ctx c;
    VtbMsi m;
    uint64_t buf;

    start(&c, "-device intel-iommu");
    irte_write(&c, 0x80, irte_lo(0x61, 2 << 8, 0), 0);
    ir_enable(&c, 7, false);
    msi_program(&c.td, c.td_msi, ir_addr(0x80, false), 0);
    /* An untranslated DMA (TE off) that ends with the device's MSI. */
    buf = vtb_alloc_page(&c.b);
    vtb_testdev_set_request(&c.td, VTB_NO_PASID, false, false);
    c.td.flags |= VTB_TD_FLAG_MSI;
    assert_int_equal(vtb_testdev_dma(&c.td, buf, buf, 64), VTB_TD_OK);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.addr, 0xfee02000ULL);
    assert_int_equal(m.data, 0x61);
    assert_int_equal(m.sid, vtb_dev_sid(&c.td));
    qtest_quit(c.qts);
}

static void test_ir_faults(void **state)
{
    Ctx c;
    VtbMsi m;
    uint32_t index = 0;
    uint16_t sid = 0, edu_sid;

    start(&c, "-device intel-iommu");
    edu_sid = vtb_dev_sid(&c.edu);
    ir_enable(&c, 7, false);

    /* Index beyond the 256-entry table: 21h, FI = index. */
    msi_program(&c.edu, c.edu_msi, ir_addr(300, false), 0);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, &index, &sid), FR_IR_INDEX);
    assert_int_equal(index, 300);
    assert_int_equal(sid, edu_sid);

    /* Not present: 22h. With FPD: blocked silently. */
    msi_program(&c.edu, c.edu_msi, ir_addr(4, false), 0);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, &index, NULL), FR_IR_P);
    assert_int_equal(index, 4);
    irte_write(&c, 4, IRTE_FPD, 0);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, NULL, NULL), 0);

    /* Source-id verification against another function: 26h. */
    irte_write(&c, 5, irte_lo(0x30, 1 << 8, 0), (SVT_SID << 18) |
               (uint16_t)(edu_sid + 1));
    msi_program(&c.edu, c.edu_msi, ir_addr(5, false), 0);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, &index, NULL), FR_IR_SID);
    assert_int_equal(index, 5);

    /* Posted format without CAP.PI: 24h. */
    irte_write(&c, 6, irte_lo(0x30, 1 << 8, 0) | VTB_BIT(15), 0);
    msi_program(&c.edu, c.edu_msi, ir_addr(6, false), 0);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, NULL, NULL), FR_IR_RSVD);

    /* Compatibility format: blocked (25h) until CFI, then passed through. */
    msi_program(&c.edu, c.edu_msi, 0xfee01000, 0x31);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, NULL, NULL), FR_IR_COMPAT);
    assert_true(vtb_gcmd(&c.b, VTB_GCMD_CFI, true));
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.addr, 0xfee01000);
    assert_int_equal(m.data, 0x31);
    qtest_quit(c.qts);
}

static void test_x2apic_destination(void **state)
{
    Ctx c;
    VtbMsi m;

    start(&c, "-device intel-iommu,intremap=on,eim=on");
    irte_write(&c, 1, irte_lo(0x50, 0x12345678, 0), 0);
    ir_enable(&c, 7, true);
    msi_program(&c.edu, c.edu_msi, ir_addr(1, false), 0);
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    /* ID 7:0 in address 19:12, ID 31:8 in the upper address dword. */
    assert_int_equal(m.addr, (0x12345600ULL << 32) | 0xfee78000ULL);
    assert_int_equal(m.data, 0x50);
    /* EIME=1 blocks compatibility format even with CFI. */
    assert_true(vtb_gcmd(&c.b, VTB_GCMD_CFI, true));
    msi_program(&c.edu, c.edu_msi, 0xfee01000, 0x31);
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, NULL, NULL), FR_IR_COMPAT);
    qtest_quit(c.qts);
}

static void test_window_read_faults_29(void **state)
{
    Ctx c;
    uint16_t sid = 0;

    start(&c, "-device intel-iommu");
    ir_enable(&c, 7, false);
    /* The device reads 0xfee00000: not an interrupt, refused, 29h. */
    vtb_testdev_set_request(&c.td, VTB_NO_PASID, false, true);
    assert_int_equal(vtb_testdev_dma(&c.td, 0xfee00000, ALLOC_BASE, 4),
                     VTB_TD_TX_FAIL);
    assert_int_equal(take_fault(&c, NULL, &sid), FR_IR_NOT_INTR);
    assert_int_equal(sid, vtb_dev_sid(&c.td));
    qtest_quit(c.qts);
}

/* IEC descriptor (type 4): G bit 4 (1 = index-selective), IM 31:27,
 * IIDX 47:32. */
static void desc_iec(uint64_t out[4], bool index_sel, uint16_t iidx,
                     unsigned im)
{
    memset(out, 0, 4 * sizeof(out[0]));
    out[0] = 0x4 | (index_sel ? VTB_BIT(4) : 0) | ((uint64_t)im << 27) |
             ((uint64_t)iidx << 32);
}

static void test_iec_invalidation_through_queue(void **state)
{
    Ctx c;
    VtbQueue q;
    VtbMsi m;
    uint64_t d[4];

    start(&c, "-device intel-iommu");
    assert_true(vtb_qi_enable(&q, &c.b, 0, false));
    irte_write(&c, 9, irte_lo(0x21, 1 << 8, 0), 0);
    ir_enable(&c, 7, false);
    msi_program(&c.edu, c.edu_msi, ir_addr(9, false), 0);
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.data, 0x21);

    /* The guest changes the IRTE; after an index-selective IEC invalidation
     * and a wait, the new entry is in effect. */
    irte_write(&c, 9, irte_lo(0x22, 3 << 8, 0), 0);
    desc_iec(d, true, 9, 0);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    edu_raise(&c);
    assert_true(one_msi(&c, &m));
    assert_int_equal(m.data, 0x22);
    assert_int_equal(m.addr, 0xfee03000ULL);

    /* Global invalidation after the entry went away. */
    irte_write(&c, 9, 0, 0);
    desc_iec(d, false, 0, 0);
    vtb_qi_submit(&q, d);
    assert_true(vtb_qi_wait(&q));
    edu_raise(&c);
    assert_false(one_msi(&c, &m));
    assert_int_equal(take_fault(&c, NULL, NULL), FR_IR_P);
    qtest_quit(c.qts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edu_msi_remapped),
        cmocka_unit_test(test_testdev_msi_remapped),
        cmocka_unit_test(test_ir_faults),
        cmocka_unit_test(test_x2apic_destination),
        cmocka_unit_test(test_window_read_faults_29),
        cmocka_unit_test(test_iec_invalidation_through_queue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
