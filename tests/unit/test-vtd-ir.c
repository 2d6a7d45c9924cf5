/*
 * Interrupt remapping (vtd-ir.c): every IR fault reason, source-id
 * verification variants, xAPIC and x2APIC destinations, the compatibility
 * format rules, the interrupt entry cache and fault 29h on the DMA path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-ir.h"
#include "hw/intel-iommu/vtd-translate.h"

#define IRT       0x10000ULL
#define IRTA_S7   (IRT | 7)             /* 256 entries */
#define SID       0x0310                /* 03:02.0 */

typedef struct Msg {
    uint64_t addr;
    uint32_t data;
    bool remapped;
} Msg;

static void tweak_eim(VtdConfig *cfg)
{
    cfg->intremap = 1;
    cfg->eim = 1;
}

static int setup_eim(void **state)
{
    *state = tctx_new(tweak_eim);
    return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static void gcmd(VtdTestCtx *c, uint32_t bit, bool on)
{
    uint32_t cmd = (uint32_t)vtd_mmio_read(c->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;

    vtd_mmio_write(c->s, DMAR_GCMD_REG, on ? (cmd | bit) : (cmd & ~bit), 4);
}

/* Latch irta and turn IR on. */
static void ir_on(VtdTestCtx *c, uint64_t irta)
{
    vtd_mmio_write(c->s, DMAR_IRTA_REG, irta, 8);
    gcmd(c, VTD_GCMD_SIRTP, true);
    gcmd(c, VTD_GCMD_IRE, true);
    assert_true(vtd_mmio_read(c->s, DMAR_GSTS_REG, 4) & VTD_GSTS_IRES);
}

static void irte_set(VtdTestCtx *c, uint32_t index, uint64_t lo, uint64_t hi)
{
    fm_w64(c->m, IRT + 16ULL * index, lo);
    fm_w64(c->m, IRT + 16ULL * index + 8, hi);
}

/* Remapped-format IRTE lo qword. */
static uint64_t irte_lo(unsigned vector, uint32_t dst, unsigned dlm, bool tm,
                        bool rh, bool dm)
{
    return VTD_IRTE_P | ((uint64_t)vector << 16) | ((uint64_t)dst << 32) |
           ((uint64_t)dlm << 5) | (tm ? VTD_IRTE_TM : 0) |
           (rh ? VTD_IRTE_RH : 0) | (dm ? VTD_IRTE_DM : 0);
}

static uint64_t irte_hi(unsigned svt, unsigned sq, uint16_t sid)
{
    return ((uint64_t)svt << 18) | ((uint64_t)sq << 16) | sid;
}

/* A remappable-format request address for handle. */
static uint64_t ir_addr(uint32_t handle, bool shv)
{
    return 0xfee00000ULL | ((uint64_t)(handle & 0x7fff) << 5) |
           ((handle & 0x8000) ? VTD_IR_ADDR_HANDLE_HI : 0) |
           VTD_IR_ADDR_FORMAT | (shv ? VTD_IR_ADDR_SHV : 0);
}

static bool irq(VtdTestCtx *c, uint16_t sid, uint64_t addr, uint32_t data, Msg *out)
{
    Msg dummy;

    out = out ? out : &dummy;
    memset(out, 0, sizeof(*out));
    return vtd_interrupt_ex(c->s, sid, addr, data, &out->addr, &out->data,
                            &out->remapped);
}

/* The pending fault (reason, 0 if none); clears it. */
static unsigned take_fault(VtdTestCtx *c, uint32_t *index, uint16_t *sid)
{
    uint32_t fsts = (uint32_t)vtd_mmio_read(c->s, DMAR_FSTS_REG, 4);
    unsigned n = (fsts >> VTD_FSTS_FRI_SHIFT) & 0xff;
    uint64_t lo, hi;

    if (!(fsts & VTD_FSTS_PPF)) {
        return 0;
    }
    lo = vtd_mmio_read(c->s, VTD_FRCD_OFFSET + 16 * n, 8);
    hi = vtd_mmio_read(c->s, VTD_FRCD_OFFSET + 16 * n + 8, 8);
    assert_true(hi & VTD_FRCD_HI_F);
    if (index) {
        *index = (uint32_t)(lo >> 48);
    }
    if (sid) {
        *sid = (uint16_t)hi;
    }
    vtd_mmio_write(c->s, VTD_FRCD_OFFSET + 16 * n + 12, 0x80000000u, 4);
    return (unsigned)((hi >> 32) & 0xff);
}

static void assert_blocked(VtdTestCtx *c, uint16_t sid, uint64_t addr, uint32_t data,
                           unsigned reason)
{
    uint16_t fsid = 0;

    assert_false(irq(c, sid, addr, data, NULL));
    assert_int_equal(take_fault(c, NULL, &fsid), reason);
    assert_int_equal(fsid, sid);
}

/* ---- IR off and compatibility format ------------------------------------ */

static void test_ir_off_passes_everything(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    /* Remappable format with IR off: treated as compatibility, unchanged. */
    assert_true(irq(c, SID, ir_addr(5, false), 0x1234, &m));
    assert_int_equal(m.addr, ir_addr(5, false));
    assert_int_equal(m.data, 0x1234);
    assert_false(m.remapped);
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_compat_blocked_without_cfi(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    ir_on(c, IRTA_S7);
    assert_blocked(c, SID, 0xfee01000, 0x41, VTD_FR_IR_COMPAT);
    gcmd(c, VTD_GCMD_CFI, true);
    assert_true(vtd_mmio_read(c->s, DMAR_GSTS_REG, 4) & VTD_GSTS_CFIS);
    assert_true(irq(c, SID, 0xfee01000, 0x41, &m));
    assert_int_equal(m.addr, 0xfee01000);
    assert_int_equal(m.data, 0x41);
    assert_false(m.remapped);
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_compat_blocked_with_eime(void **state)
{
    VtdTestCtx *c = *state;

    /* EIME=1 blocks compatibility format even with CFI set. */
    ir_on(c, IRTA_S7 | VTD_IRTA_EIME);
    gcmd(c, VTD_GCMD_CFI, true);
    assert_blocked(c, SID, 0xfee01000, 0x41, VTD_FR_IR_COMPAT);
    /* Back to EIME=0: allowed again. */
    vtd_mmio_write(c->s, DMAR_IRTA_REG, IRTA_S7, 8);
    gcmd(c, VTD_GCMD_SIRTP, true);
    assert_true(irq(c, SID, 0xfee01000, 0x41, NULL));
}

static void test_eime_ignored_without_eim(void **state)
{
    VtdTestCtx *c = *state;

    /* Without ECAP.EIM the EIME bit does not latch: xAPIC mode. */
    ir_on(c, IRTA_S7 | VTD_IRTA_EIME);
    gcmd(c, VTD_GCMD_CFI, true);
    assert_true(irq(c, SID, 0xfee01000, 0x41, NULL));
}

/* ---- Remappable format: faults in processing order ---------------------- */

static void test_request_reserved(void **state)
{
    VtdTestCtx *c = *state;

    ir_on(c, IRTA_S7);
    irte_set(c, 1, irte_lo(0x30, 0x100, 0, 0, 0, 0), 0);
    /* SHV=1: data bits 31:16 are reserved. */
    assert_blocked(c, SID, ir_addr(0, true), 0x10001, VTD_FR_IR_REQ_RSVD);
    /* Outside FEEx_xxxx the request cannot be decoded. */
    assert_blocked(c, SID, ir_addr(1, false) | (1ULL << 32), 0,
                   VTD_FR_IR_REQ_RSVD);
    /* Without SHV the data is ignored entirely. */
    assert_true(irq(c, SID, ir_addr(1, false), 0xffff0000u, NULL));
    /* Address bits 1:0 are don't-care. */
    assert_true(irq(c, SID, ir_addr(1, false) | 3, 0, NULL));
}

static void test_index_bound(void **state)
{
    VtdTestCtx *c = *state;
    uint32_t index = 0;

    ir_on(c, IRT | 0);      /* S=0: two entries */
    irte_set(c, 1, irte_lo(0x30, 0x100, 0, 0, 0, 0), 0);
    assert_true(irq(c, SID, ir_addr(1, false), 0, NULL));
    assert_false(irq(c, SID, ir_addr(2, false), 0, NULL));
    assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_INDEX);
    assert_int_equal(index, 2);
    /* handle + subhandle counts. */
    assert_false(irq(c, SID, ir_addr(1, true), 1, NULL));
    assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_INDEX);
    assert_int_equal(index, 2);
    /* handle[15] lives in address bit 2. */
    assert_blocked(c, SID, ir_addr(0x8000, false), 0, VTD_FR_IR_INDEX);
    /* 64K entries: handle 0xffff + subhandle 0xffff overflows the table. */
    vtd_mmio_write(c->s, DMAR_IRTA_REG, IRT | 15, 8);
    gcmd(c, VTD_GCMD_SIRTP, true);
    assert_blocked(c, SID, ir_addr(0xffff, true), 0xffff, VTD_FR_IR_INDEX);
}

static void test_irte_beyond_haw(void **state)
{
    VtdTestCtx *c = *state;

    /* The last entries of a 64K table at the top of the 39-bit space. */
    ir_on(c, (c->s->haw_mask & ~0xfffULL & ~0xfffffULL) | 15);
    assert_blocked(c, SID, ir_addr(0xffff, false), 0, VTD_FR_IR_IRT_FETCH);
    vtd_mmio_write(c->s, DMAR_IRTA_REG,
                   ((c->s->haw_mask + 1) - 0x1000) | 15, 8);
    gcmd(c, VTD_GCMD_SIRTP, true);
    /* Entry 255 ends exactly at the HAW limit; entry 256 is above it. */
    assert_blocked(c, SID, ir_addr(255, false), 0, VTD_FR_IR_IRT_FETCH);
    assert_blocked(c, SID, ir_addr(256, false), 0, VTD_FR_IR_INDEX);
}

static void test_irt_fetch_error(void **state)
{
    VtdTestCtx *c = *state;
    uint32_t index = 0;

    ir_on(c, 0x7000000 | 7);     /* nothing mapped there */
    assert_false(irq(c, SID, ir_addr(9, false), 0, NULL));
    assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_IRT_FETCH);
    assert_int_equal(index, 9);
}

static void test_not_present_and_fpd(void **state)
{
    VtdTestCtx *c = *state;
    uint32_t index = 0;
    VtdStats st;

    ir_on(c, IRTA_S7);
    irte_set(c, 4, 0, 0);
    assert_false(irq(c, SID, ir_addr(4, false), 0, NULL));
    assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_IRTE_P);
    assert_int_equal(index, 4);
    /* FPD counts even when P=0: blocked, nothing recorded. */
    irte_set(c, 4, VTD_IRTE_FPD, 0);
    assert_false(irq(c, SID, ir_addr(4, false), 0, NULL));
    assert_int_equal(take_fault(c, NULL, NULL), 0);
    vtd_get_stats(c->s, &st);
    assert_int_equal(st.faults_suppressed, 1);
    /* Non-present entries are not cached. */
    assert_int_equal(vtd_iec_count(c->s), 0);
}

static void test_source_id_full(void **state)
{
    VtdTestCtx *c = *state;
    /* Requester 03:02.5 against the IRTE's 03:02.0 under each SQ. */
    uint16_t req = 0x0315;
    static const struct { unsigned sq; uint16_t ok_sid; uint16_t bad_sid; } t[] = {
        { 0, 0x0310, 0x0311 },      /* exact */
        { 1, 0x0314, 0x0311 },      /* ignore bit 2 */
        { 2, 0x0316, 0x0311 },      /* ignore bits 2:1 */
        { 3, 0x0317, 0x0318 },      /* ignore bits 2:0 */
    };

    ir_on(c, IRTA_S7);
    for (unsigned i = 0; i < G_N_ELEMENTS(t); i++) {
        irte_set(c, i, irte_lo(0x40 + i, 0x100, 0, 0, 0, 0),
                 irte_hi(VTD_SVT_SID, t[i].sq, 0x0310));
        assert_true(irq(c, 0x0310, ir_addr(i, false), 0, NULL));
        assert_true(irq(c, t[i].ok_sid, ir_addr(i, false), 0, NULL));
        assert_blocked(c, t[i].bad_sid, ir_addr(i, false), 0, VTD_FR_IR_SID);
    }
    /* SQ=0 and a different function: 26h with the index recorded. */
    {
        uint32_t index = 0;

        assert_false(irq(c, req, ir_addr(0, false), 0, NULL));
        assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_SID);
        assert_int_equal(index, 0);
    }
    /* FPD suppresses the source-id fault too. */
    irte_set(c, 5, irte_lo(0x40, 0x100, 0, 0, 0, 0) | VTD_IRTE_FPD,
             irte_hi(VTD_SVT_SID, 0, 0x0310));
    assert_false(irq(c, req, ir_addr(5, false), 0, NULL));
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_source_id_bus_range_and_none(void **state)
{
    VtdTestCtx *c = *state;

    ir_on(c, IRTA_S7);
    /* Buses 2..4 allowed. */
    irte_set(c, 7, irte_lo(0x50, 0x100, 0, 0, 0, 0),
             irte_hi(VTD_SVT_BUS_RANGE, 0, 0x0204));
    assert_true(irq(c, 0x0200, ir_addr(7, false), 0, NULL));
    assert_true(irq(c, 0x04ff, ir_addr(7, false), 0, NULL));
    assert_blocked(c, 0x01ff, ir_addr(7, false), 0, VTD_FR_IR_SID);
    assert_blocked(c, 0x0500, ir_addr(7, false), 0, VTD_FR_IR_SID);
    /* SVT=0: any requester; SID/SQ are not checked. */
    irte_set(c, 8, irte_lo(0x50, 0x100, 0, 0, 0, 0),
             irte_hi(VTD_SVT_NONE, 3, 0x1234));
    assert_true(irq(c, 0xabcd, ir_addr(8, false), 0, NULL));
}

static void test_irte_reserved(void **state)
{
    VtdTestCtx *c = *state;
    uint64_t lo = irte_lo(0x60, 0x100, 0, 0, 0, 0);
    static const uint64_t bad_lo[] = {
        VTD_IRTE_IM,            /* posted format without CAP.PI */
        VTD_BIT(12), VTD_BIT(14), VTD_BIT(24), VTD_BIT(31),
        VTD_BIT(32), VTD_BIT(39),   /* xAPIC: DST bits 7:0 */
        VTD_BIT(48), VTD_BIT(63),   /* xAPIC: DST bits 31:16 */
    };
    static const uint64_t bad_hi[] = {
        VTD_BIT(20), VTD_BIT(63), 3ULL << 18 /* SVT=11b */,
    };
    uint32_t index = 0;

    ir_on(c, IRTA_S7);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad_lo); i++) {
        irte_set(c, 10 + i, lo | bad_lo[i], 0);
        assert_false(irq(c, SID, ir_addr(10 + i, false), 0, NULL));
        assert_int_equal(take_fault(c, &index, NULL), VTD_FR_IR_IRTE_RSVD);
        assert_int_equal(index, 10 + i);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(bad_hi); i++) {
        irte_set(c, 30 + i, lo, bad_hi[i]);
        assert_blocked(c, SID, ir_addr(30 + i, false), 0, VTD_FR_IR_IRTE_RSVD);
    }
    /* AVAIL (11:8) is software's. */
    irte_set(c, 40, lo | VTD_MASK(11, 8), 0);
    assert_true(irq(c, SID, ir_addr(40, false), 0, NULL));
    /* Qualified: FPD hides it. */
    irte_set(c, 41, lo | VTD_IRTE_IM | VTD_IRTE_FPD, 0);
    assert_false(irq(c, SID, ir_addr(41, false), 0, NULL));
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_source_check_precedes_reserved(void **state)
{
    VtdTestCtx *c = *state;

    ir_on(c, IRTA_S7);
    irte_set(c, 2, irte_lo(0x60, 0x100, 0, 0, 0, 0) | VTD_BIT(13),
             irte_hi(VTD_SVT_SID, 0, 0x0100));
    assert_blocked(c, SID, ir_addr(2, false), 0, VTD_FR_IR_SID);
    assert_blocked(c, 0x0100, ir_addr(2, false), 0, VTD_FR_IR_IRTE_RSVD);
}

/* ---- Output messages ---------------------------------------------------- */

static void test_remap_xapic(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    ir_on(c, IRTA_S7);
    /* APIC ID 0x25 in DST bits 15:8; lowest priority, level, RH, logical. */
    irte_set(c, 0x21, irte_lo(0x9a, 0x25 << 8, 1, true, true, true), 0);
    assert_true(irq(c, SID, ir_addr(0x20, true), 1, &m));
    assert_true(m.remapped);
    assert_int_equal(m.addr, 0xfee00000ULL | (0x25 << 12) | VTD_MSI_ADDR_RH |
                             VTD_MSI_ADDR_DM);
    assert_int_equal(m.data, 0x9a | (1 << 8) | (1 << 15));
    /* Physical, edge, fixed, no RH. */
    irte_set(c, 0x22, irte_lo(0x31, 0x07 << 8, 0, false, false, false), 0);
    assert_true(irq(c, SID, ir_addr(0x22, false), 0xdeadbeef, &m));
    assert_int_equal(m.addr, 0xfee07000ULL);
    assert_int_equal(m.data, 0x31);
    /* NMI delivery mode (100b). */
    irte_set(c, 0x23, irte_lo(0x02, 0, 4, false, false, false), 0);
    assert_true(irq(c, SID, ir_addr(0x23, false), 0, &m));
    assert_int_equal(m.data, 0x02 | (4 << 8));
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_remap_x2apic(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    ir_on(c, IRTA_S7 | VTD_IRTA_EIME);
    irte_set(c, 3, irte_lo(0x44, 0x12345678, 0, false, false, false), 0);
    assert_true(irq(c, SID, ir_addr(3, false), 0, &m));
    assert_true(m.remapped);
    assert_int_equal(m.addr, (0x12345600ULL << 32) | 0xfee00000ULL |
                             (0x78 << 12));
    assert_int_equal(m.data, 0x44);
    /* An ID below 256 keeps the upper dword zero. */
    irte_set(c, 4, irte_lo(0x45, 0xff, 0, true, false, true), 0);
    assert_true(irq(c, SID, ir_addr(4, false), 0, &m));
    assert_int_equal(m.addr, 0xfeeff000ULL | VTD_MSI_ADDR_DM);
    assert_int_equal(m.data, 0x45 | (1 << 15));
    /* With EIME the whole DST is valid: not reserved. */
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

static void test_eim_without_eime_is_xapic(void **state)
{
    VtdTestCtx *c = *state;

    /* EIM supported but EIME=0: DST 31:16 and 7:0 are reserved. */
    ir_on(c, IRTA_S7);
    irte_set(c, 3, irte_lo(0x44, 0x12345678, 0, false, false, false), 0);
    assert_blocked(c, SID, ir_addr(3, false), 0, VTD_FR_IR_IRTE_RSVD);
}

/* ---- Interrupt entry cache ---------------------------------------------- */

static void test_iec_hit_then_invalidate(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    ir_on(c, IRTA_S7);
    irte_set(c, 6, irte_lo(0x70, 0x01 << 8, 0, 0, 0, 0), 0);
    irte_set(c, 7, irte_lo(0x71, 0x01 << 8, 0, 0, 0, 0), 0);
    assert_true(irq(c, SID, ir_addr(6, false), 0, &m));
    assert_true(irq(c, SID, ir_addr(7, false), 0, &m));
    assert_int_equal(vtd_iec_count(c->s), 2);
    /* Software changes the entries without invalidating: cached ones win. */
    irte_set(c, 6, irte_lo(0x80, 0x02 << 8, 0, 0, 0, 0), 0);
    irte_set(c, 7, irte_lo(0x81, 0x02 << 8, 0, 0, 0, 0), 0);
    assert_true(irq(c, SID, ir_addr(6, false), 0, &m));
    assert_int_equal(m.data, 0x70);
    /* Index-selective, IM=0: only entry 6. */
    vtd_iec_invalidate(c->s, false, 6, 0);
    assert_true(irq(c, SID, ir_addr(6, false), 0, &m));
    assert_int_equal(m.data, 0x80);
    assert_int_equal(m.addr, 0xfee02000ULL);
    assert_true(irq(c, SID, ir_addr(7, false), 0, &m));
    assert_int_equal(m.data, 0x71);
    /* IM=1 at index 6 covers 6 and 7. */
    vtd_iec_invalidate(c->s, false, 6, 1);
    assert_int_equal(vtd_iec_count(c->s), 0);
    assert_true(irq(c, SID, ir_addr(7, false), 0, &m));
    assert_int_equal(m.data, 0x81);
    /* Global. */
    irte_set(c, 7, 0, 0);
    vtd_iec_invalidate(c->s, true, 0, 0);
    assert_blocked(c, SID, ir_addr(7, false), 0, VTD_FR_IR_IRTE_P);
}

static void test_iec_cached_entry_still_checked(void **state)
{
    VtdTestCtx *c = *state;

    ir_on(c, IRTA_S7);
    irte_set(c, 9, irte_lo(0x70, 0x100, 0, 0, 0, 0),
             irte_hi(VTD_SVT_SID, 0, SID));
    assert_true(irq(c, SID, ir_addr(9, false), 0, NULL));
    /* A cached entry still verifies the requester. */
    assert_blocked(c, SID + 1, ir_addr(9, false), 0, VTD_FR_IR_SID);
}

static void test_iec_dropped_by_sirtp_and_reset(void **state)
{
    VtdTestCtx *c = *state;
    Msg m;

    ir_on(c, IRTA_S7);
    irte_set(c, 1, irte_lo(0x70, 0x100, 0, 0, 0, 0), 0);
    assert_true(irq(c, SID, ir_addr(1, false), 0, NULL));
    /* A new table at another address takes effect at once. */
    fm_w64(c->m, 0x20000 + 16, irte_lo(0x90, 0x100, 0, 0, 0, 0));
    fm_w64(c->m, 0x20000 + 24, 0);
    vtd_mmio_write(c->s, DMAR_IRTA_REG, 0x20000 | 7, 8);
    gcmd(c, VTD_GCMD_SIRTP, true);
    assert_true(irq(c, SID, ir_addr(1, false), 0, &m));
    assert_int_equal(m.data, 0x90);
    assert_int_equal(vtd_iec_count(c->s), 1);
    vtd_reset(c->s);
    assert_int_equal(vtd_iec_count(c->s), 0);
}

static void test_iec_large_mask(void **state)
{
    VtdTestCtx *c = *state;

    ir_on(c, IRTA_S7);
    for (unsigned i = 0; i < 4; i++) {
        irte_set(c, 100 + i, irte_lo(0x70, 0x100, 0, 0, 0, 0), 0);
        assert_true(irq(c, SID, ir_addr(100 + i, false), 0, NULL));
    }
    vtd_iec_invalidate(c->s, false, 0, 6);      /* 0..63: none of ours */
    assert_int_equal(vtd_iec_count(c->s), 4);
    vtd_iec_invalidate(c->s, false, 102, 1);    /* 102, 103 */
    assert_int_equal(vtd_iec_count(c->s), 2);
    vtd_iec_invalidate(c->s, false, 0, 31);     /* huge masks are global */
    assert_int_equal(vtd_iec_count(c->s), 0);
}

/* ---- Fault 29h on the DMA path ------------------------------------------ */

static void test_window_read_faults_29(void **state)
{
    VtdTestCtx *c = *state;
    IommuRequest r = {
        .sid = SID, .pasid = IOMMU_NO_PASID, .addr = 0xfee00000,
        .access = IOMMU_ACCESS_READ, .at = IOMMU_AT_UNTRANSLATED,
    };
    IommuResult res;
    uint16_t fsid = 0;

    /* With both remapping functions off the unit is not in the path. */
    vtd_translate(c->s, &r, &res);
    assert_true(res.is_interrupt);
    assert_int_equal(take_fault(c, NULL, NULL), 0);

    ir_on(c, IRTA_S7);
    vtd_translate(c->s, &r, &res);
    assert_false(res.ok);
    assert_true(res.is_interrupt);
    assert_int_equal(res.fault_reason, VTD_FR_IR_NOT_INTR);
    assert_int_equal(take_fault(c, NULL, &fsid), VTD_FR_IR_NOT_INTR);
    assert_int_equal(fsid, SID);
    /* AtomicOp too. */
    r.access = IOMMU_ACCESS_ATOMIC;
    vtd_translate(c->s, &r, &res);
    assert_int_equal(take_fault(c, NULL, NULL), VTD_FR_IR_NOT_INTR);
    /* A zero-length read completes; writes are interrupts, not faults. */
    r.access = IOMMU_ACCESS_READ;
    r.zlr = true;
    vtd_translate(c->s, &r, &res);
    assert_int_equal(take_fault(c, NULL, NULL), 0);
    r.zlr = false;
    r.access = IOMMU_ACCESS_WRITE;
    vtd_translate(c->s, &r, &res);
    assert_true(res.ok);
    assert_int_equal(take_fault(c, NULL, NULL), 0);
    /* ATS translation requests there complete without a fault. */
    r.access = IOMMU_ACCESS_READ;
    r.at = IOMMU_AT_TRANSLATION_REQ;
    vtd_translate(c->s, &r, &res);
    assert_true(res.ok);
    assert_int_equal(take_fault(c, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ir_off_passes_everything, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_compat_blocked_without_cfi, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_compat_blocked_with_eime, setup_eim, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_eime_ignored_without_eim, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_request_reserved, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_index_bound, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_irte_beyond_haw, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_irt_fetch_error, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_not_present_and_fpd, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_source_id_full, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_source_id_bus_range_and_none,
                                        tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_irte_reserved, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_source_check_precedes_reserved,
                                        tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_remap_xapic, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_remap_x2apic, setup_eim, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_eim_without_eime_is_xapic, setup_eim, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_iec_hit_then_invalidate, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_iec_cached_entry_still_checked,
                                        tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_iec_dropped_by_sirtp_and_reset,
                                        tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_iec_large_mask, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_window_read_faults_29, tctx_setup, tctx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
