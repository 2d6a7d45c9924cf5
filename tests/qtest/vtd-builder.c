/*
 * VT-d table builder and register toolkit for qtests (see vtd-builder.h).
 * Only qtest memory/MMIO/PIO commands are used: this is what a guest driver
 * would do, nothing reaches into the emulator.
 */
#include "vtd-builder.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- basics ------------------------------------------------------------- */

void vtb_init(VtdBuilder *b, QTestState *qts, uint64_t alloc_base,
              uint64_t alloc_size)
{
    memset(b, 0, sizeof(*b));
    b->qts = qts;
    b->base = VTB_REG_BASE;
    b->mem_next = alloc_base;
    b->mem_end = alloc_base + alloc_size;
    b->cap = vtb_rq(b, VTB_CAP);
    b->ecap = vtb_rq(b, VTB_ECAP);
}

uint64_t vtb_alloc(VtdBuilder *b, uint64_t size)
{
    uint64_t align = size < VTB_PAGE_4K ? VTB_PAGE_4K : size;
    uint64_t addr;

    /* Sizes here are powers of two; align to the size so tables can be
     * used by fields that need natural alignment (queues, directories). */
    while (align & (align - 1)) {
        align &= align - 1;
    }
    addr = (b->mem_next + align - 1) & ~(align - 1);
    assert_true(addr + size <= b->mem_end);
    b->mem_next = addr + size;
    qtest_memset(b->qts, addr, 0, size);
    return addr;
}

uint64_t vtb_alloc_page(VtdBuilder *b)
{
    return vtb_alloc(b, VTB_PAGE_4K);
}

uint32_t vtb_rl(VtdBuilder *b, uint32_t off)
{
    return qtest_readl(b->qts, b->base + off);
}

uint64_t vtb_rq(VtdBuilder *b, uint32_t off)
{
    return qtest_readq(b->qts, b->base + off);
}

void vtb_wl(VtdBuilder *b, uint32_t off, uint32_t v)
{
    qtest_writel(b->qts, b->base + off, v);
}

void vtb_wq(VtdBuilder *b, uint32_t off, uint64_t v)
{
    qtest_writeq(b->qts, b->base + off, v);
}

uint64_t vtb_mem_rq(VtdBuilder *b, uint64_t gpa)
{
    return qtest_readq(b->qts, gpa);
}

void vtb_mem_wq(VtdBuilder *b, uint64_t gpa, uint64_t v)
{
    qtest_writeq(b->qts, gpa, v);
}

/* ---- structure encoders ------------------------------------------------- */

void vtb_encode_legacy_root(const VtbLegacyRoot *e, uint64_t out[2])
{
    out[0] = (e->p ? 1 : 0) | (e->ctp & ~0xfffULL) | e->rsvd[0];
    out[1] = e->rsvd[1];
}

void vtb_encode_sm_root(const VtbSmRoot *e, uint64_t out[2])
{
    out[0] = (e->lp ? 1 : 0) | (e->lctp & ~0xfffULL) | e->rsvd[0];
    out[1] = (e->up ? 1 : 0) | (e->uctp & ~0xfffULL) | e->rsvd[1];
}

void vtb_encode_legacy_ctx(const VtbLegacyCtx *e, uint64_t out[2])
{
    out[0] = (e->p ? 1 : 0) | (e->fpd ? 2 : 0) | ((uint64_t)(e->tt & 3) << 2) |
             (e->ssptptr & ~0xfffULL) | e->rsvd[0];
    out[1] = (uint64_t)(e->aw & 7) | ((uint64_t)e->did << 8) | e->rsvd[1];
}

void vtb_encode_sm_ctx(const VtbSmCtx *e, uint64_t out[4])
{
    out[0] = (e->p ? 1 : 0) | (e->fpd ? 2 : 0) | (e->dte ? 4 : 0) |
             (e->paside ? 8 : 0) | (e->pre ? 0x10 : 0) |
             ((uint64_t)(e->pdts & 7) << 9) | (e->pasid_dir & ~0xfffULL) |
             e->rsvd[0];
    out[1] = (uint64_t)(e->rid_pasid & 0xfffff) |
             (e->rid_priv ? VTB_BIT(20) : 0) | e->rsvd[1];
    out[2] = e->rsvd[2];
    out[3] = e->rsvd[3];
}

uint64_t vtb_encode_pasid_dir(const VtbPasidDirEntry *e)
{
    return (e->p ? 1 : 0) | (e->fpd ? 2 : 0) | (e->table & ~0xfffULL) |
           e->rsvd;
}

void vtb_encode_pasid_entry(const VtbPasidEntry *e, uint64_t out[8])
{
    out[0] = (e->p ? 1 : 0) | (e->fpd ? 2 : 0) | ((uint64_t)(e->aw & 7) << 2) |
             ((uint64_t)(e->pgtt & 7) << 6) | (e->ssade ? VTB_BIT(9) : 0) |
             (e->ssptptr & ~0xfffULL);
    out[1] = (uint64_t)e->did | (e->pwsnp ? VTB_BIT(87 - 64) : 0) |
             (e->pgsnp ? VTB_BIT(88 - 64) : 0);
    out[2] = (e->sre ? 1 : 0) | ((uint64_t)(e->fspm & 3) << 2) |
             (e->wpe ? VTB_BIT(4) : 0) | (e->eafe ? VTB_BIT(7) : 0) |
             (e->fsptptr & ~0xfffULL);
    for (int i = 3; i < 8; i++) {
        out[i] = 0;
    }
    for (int i = 0; i < 8; i++) {
        out[i] |= e->rsvd[i];
    }
}

static void write_qwords(VtdBuilder *b, uint64_t addr, const uint64_t *q,
                         unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        qtest_writeq(b->qts, addr + 8 * i, q[i]);
    }
}

void vtb_write_legacy_root(VtdBuilder *b, uint64_t table, uint8_t bus,
                           const VtbLegacyRoot *e)
{
    uint64_t q[2];

    vtb_encode_legacy_root(e, q);
    write_qwords(b, table + 16 * bus, q, 2);
}

void vtb_write_sm_root(VtdBuilder *b, uint64_t table, uint8_t bus,
                       const VtbSmRoot *e)
{
    uint64_t q[2];

    vtb_encode_sm_root(e, q);
    write_qwords(b, table + 16 * bus, q, 2);
}

void vtb_write_legacy_ctx(VtdBuilder *b, uint64_t table, uint8_t devfn,
                          const VtbLegacyCtx *e)
{
    uint64_t q[2];

    vtb_encode_legacy_ctx(e, q);
    write_qwords(b, table + 16 * devfn, q, 2);
}

uint64_t vtb_sm_ctx_addr(uint64_t table, uint8_t devfn)
{
    return table + 32 * (devfn & 0x7f);
}

void vtb_write_sm_ctx(VtdBuilder *b, uint64_t table, uint8_t devfn,
                      const VtbSmCtx *e)
{
    uint64_t q[4];

    vtb_encode_sm_ctx(e, q);
    write_qwords(b, vtb_sm_ctx_addr(table, devfn), q, 4);
}

void vtb_write_pasid_dir(VtdBuilder *b, uint64_t dir, uint32_t pasid,
                         const VtbPasidDirEntry *e)
{
    qtest_writeq(b->qts, dir + 8 * ((pasid >> 6) & 0x3fff),
                 vtb_encode_pasid_dir(e));
}

uint64_t vtb_pasid_entry_addr(uint64_t table, uint32_t pasid)
{
    return table + 64 * (pasid & 0x3f);
}

void vtb_write_pasid_entry(VtdBuilder *b, uint64_t table, uint32_t pasid,
                           const VtbPasidEntry *e)
{
    uint64_t q[8];

    vtb_encode_pasid_entry(e, q);
    write_qwords(b, vtb_pasid_entry_addr(table, pasid), q, 8);
}

/* ---- page tables -------------------------------------------------------- */

static uint64_t pgt_new_table(VtbPgtable *pt)
{
    uint64_t page = vtb_alloc_page(pt->b);

    assert_true(pt->npages < VTB_PGT_MAX_PAGES);
    pt->pages[pt->npages++] = page;
    return page;
}

void vtb_pgt_init(VtbPgtable *pt, VtdBuilder *b, bool first_stage,
                  unsigned levels)
{
    memset(pt, 0, sizeof(*pt));
    pt->b = b;
    pt->first_stage = first_stage;
    pt->levels = levels;
    pt->nonleaf = first_stage ? VTB_FS_NONLEAF_DEFAULT : VTB_SS_RW;
    pt->root = pgt_new_table(pt);
}

uint64_t vtb_pgt_root_ptr(const VtbPgtable *pt)
{
    return pt->root + pt->gpa_offset;
}

static unsigned pgt_index(uint64_t iova, unsigned level)
{
    return (iova >> (12 + 9 * (level - 1))) & 0x1ff;
}

/* Host address of the table the entry points to (0 if none yet). */
static uint64_t pgt_next_table(const VtbPgtable *pt, uint64_t entry)
{
    uint64_t a = entry & VTB_ADDR_MASK;

    return a ? a - pt->gpa_offset : 0;
}

uint64_t vtb_pgt_map(VtbPgtable *pt, uint64_t iova, uint64_t pa,
                     uint64_t size, uint64_t leaf_bits)
{
    unsigned leaf_level = size == VTB_PAGE_1G ? 3 : size == VTB_PAGE_2M ? 2 : 1;
    uint64_t table = pt->root;
    uint64_t ea;

    assert_true(size == VTB_PAGE_4K || size == VTB_PAGE_2M || size == VTB_PAGE_1G);
    assert_true(leaf_level <= pt->levels);
    for (unsigned level = pt->levels; level > leaf_level; level--) {
        uint64_t e;

        ea = table + 8 * pgt_index(iova, level);
        e = qtest_readq(pt->b->qts, ea);
        table = pgt_next_table(pt, e);
        if (!table) {
            table = pgt_new_table(pt);
            qtest_writeq(pt->b->qts, ea, (table + pt->gpa_offset) | pt->nonleaf);
        }
    }
    ea = table + 8 * pgt_index(iova, leaf_level);
    qtest_writeq(pt->b->qts, ea, (pa & ~(size - 1) & VTB_ADDR_MASK) |
                 leaf_bits | (leaf_level > 1 ? VTB_FS_PS : 0));
    return ea;
}

uint64_t vtb_pgt_entry(VtbPgtable *pt, uint64_t iova, unsigned level)
{
    uint64_t table = pt->root;

    assert_true(level >= 1 && level <= pt->levels);
    for (unsigned l = pt->levels; l > level; l--) {
        uint64_t e = qtest_readq(pt->b->qts, table + 8 * pgt_index(iova, l));

        table = pgt_next_table(pt, e);
        assert_true(table != 0);
    }
    return table + 8 * pgt_index(iova, level);
}

void vtb_pgt_modify(VtbPgtable *pt, uint64_t iova, unsigned level,
                    uint64_t set, uint64_t clear)
{
    uint64_t ea = vtb_pgt_entry(pt, iova, level);
    uint64_t e = qtest_readq(pt->b->qts, ea);

    qtest_writeq(pt->b->qts, ea, (e & ~clear) | set);
}

void vtb_pgt_map_tables(VtbPgtable *ss, const VtbPgtable *fs, uint64_t perm)
{
    for (unsigned i = 0; i < fs->npages; i++) {
        vtb_pgt_map(ss, fs->pages[i] + fs->gpa_offset, fs->pages[i],
                    VTB_PAGE_4K, perm);
    }
}

/* ---- register programming ----------------------------------------------- */

bool vtb_gcmd(VtdBuilder *b, uint32_t bit, bool on)
{
    uint32_t sts = vtb_rl(b, VTB_GSTS) & VTB_GSTS_ONESHOT_MASK;
    uint32_t cmd = on ? (sts | bit) : (sts & ~bit);
    bool one_shot = bit == VTB_GCMD_SRTP || bit == VTB_GCMD_SIRTP;

    vtb_wl(b, VTB_GCMD, cmd);
    sts = vtb_rl(b, VTB_GSTS);
    if (one_shot) {
        return (sts & bit) != 0;
    }
    return (sts & bit) == (on ? bit : 0);
}

bool vtb_set_root(VtdBuilder *b, uint64_t rta, unsigned ttm, uint64_t extra)
{
    vtb_wq(b, VTB_RTADDR, (rta & ~0xfffULL) | ((uint64_t)(ttm & 3) << 10) |
           extra);
    return vtb_gcmd(b, VTB_GCMD_SRTP, true);
}

bool vtb_enable_te(VtdBuilder *b, bool on)
{
    return vtb_gcmd(b, VTB_GCMD_TE, on);
}

void vtb_fault_event_setup(VtdBuilder *b, uint32_t addr, uint32_t data,
                           bool masked)
{
    vtb_wl(b, VTB_FEDATA, data);
    vtb_wl(b, VTB_FEADDR, addr);
    vtb_wl(b, VTB_FEUADDR, 0);
    vtb_wl(b, VTB_FECTL, masked ? VTB_FECTL_IM : 0);
}

unsigned vtb_ccmd(VtdBuilder *b, unsigned gran, uint16_t did, uint16_t sid,
                  unsigned fm)
{
    uint64_t v = VTB_CCMD_ICC | VTB_CCMD_CIRG(gran) | ((uint64_t)(fm & 3) << 32) |
                 ((uint64_t)sid << 16) | did;

    vtb_wq(b, VTB_CCMD, v);
    v = vtb_rq(b, VTB_CCMD);
    assert_false(v & VTB_CCMD_ICC); /* completes synchronously */
    return VTB_CCMD_CAIG(v);
}

unsigned vtb_iotlb_inv(VtdBuilder *b, unsigned gran, uint16_t did,
                       uint64_t addr, unsigned am, bool ih)
{
    unsigned iro = VTB_ECAP_IRO(b->ecap);
    uint64_t v;

    if (gran == VTB_GRAN_PAGE) {
        vtb_wq(b, iro, (addr & ~0xfffULL) | (ih ? VTB_BIT(6) : 0) | (am & 0x3f));
    }
    vtb_wq(b, iro + 8, VTB_IOTLB_IVT | VTB_IOTLB_IIRG(gran) | VTB_IOTLB_DID(did));
    v = vtb_rq(b, iro + 8);
    assert_false(v & VTB_IOTLB_IVT);
    return VTB_IOTLB_IAIG(v);
}

/* ---- queued invalidation ------------------------------------------------ */

bool vtb_qi_enable(VtbQueue *q, VtdBuilder *b, unsigned qs, bool dw)
{
    memset(q, 0, sizeof(*q));
    q->b = b;
    q->qs = qs;
    q->dw = dw;
    q->base = vtb_alloc(b, VTB_PAGE_4K << qs);
    q->status_addr = vtb_alloc_page(b);
    vtb_wq(b, VTB_IQT, 0);
    vtb_wq(b, VTB_IQA, q->base | (dw ? VTB_BIT(11) : 0) | (qs & 7));
    return vtb_gcmd(b, VTB_GCMD_QIE, true);
}

void vtb_qi_submit(VtbQueue *q, const uint64_t *desc)
{
    unsigned n = q->dw ? 4 : 2;
    uint64_t size = VTB_PAGE_4K << q->qs;

    write_qwords(q->b, q->base + q->tail, desc, n);
    q->tail = (q->tail + 8 * n) % size;
    vtb_wq(q->b, VTB_IQT, q->tail);
}

bool vtb_qi_wait(VtbQueue *q)
{
    uint64_t d[4];
    uint32_t want = ++q->seq;

    qtest_writel(q->b->qts, q->status_addr, 0);
    vtb_desc_wait(d, true, false, false, want, q->status_addr);
    vtb_qi_submit(q, d);
    for (int i = 0; i < 100; i++) {
        if (qtest_readl(q->b->qts, q->status_addr) == want) {
            return true;
        }
        if (vtb_fsts(q->b) & VTB_FSTS_IQE) {
            return false;
        }
        qtest_clock_step(q->b->qts, 1000);
    }
    return false;
}

void vtb_desc_cc(uint64_t out[4], unsigned g, uint16_t did, uint16_t sid,
                 unsigned fm)
{
    out[0] = 0x1 | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
             ((uint64_t)sid << 32) | ((uint64_t)(fm & 3) << 48);
    out[1] = out[2] = out[3] = 0;
}

void vtb_desc_iotlb(uint64_t out[4], unsigned g, uint16_t did, uint64_t addr,
                    unsigned am, bool ih)
{
    out[0] = 0x2 | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16);
    out[1] = (addr & ~0xfffULL) | (ih ? VTB_BIT(6) : 0) | (am & 0x3f);
    out[2] = out[3] = 0;
}

void vtb_desc_piotlb(uint64_t out[4], unsigned g, uint16_t did,
                     uint32_t pasid, uint64_t addr, unsigned am, bool ih)
{
    out[0] = 0x6 | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
             ((uint64_t)(pasid & 0xfffff) << 32);
    out[1] = (addr & ~0xfffULL) | (ih ? VTB_BIT(6) : 0) | (am & 0x3f);
    out[2] = out[3] = 0;
}

void vtb_desc_pc(uint64_t out[4], unsigned g, uint16_t did, uint32_t pasid)
{
    out[0] = 0x7 | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
             ((uint64_t)(pasid & 0xfffff) << 32);
    out[1] = out[2] = out[3] = 0;
}

void vtb_desc_wait(uint64_t out[4], bool sw, bool iflag, bool fn,
                   uint32_t data, uint64_t addr)
{
    out[0] = 0x5 | (iflag ? VTB_BIT(4) : 0) | (sw ? VTB_BIT(5) : 0) |
             (fn ? VTB_BIT(6) : 0) | ((uint64_t)data << 32);
    out[1] = addr & ~3ULL;
    out[2] = out[3] = 0;
}

/* ---- fault records ------------------------------------------------------ */

unsigned vtb_nfr(VtdBuilder *b)
{
    return VTB_CAP_NFR(b->cap);
}

uint32_t vtb_fsts(VtdBuilder *b)
{
    return vtb_rl(b, VTB_FSTS);
}

static uint32_t frcd_off(VtdBuilder *b, unsigned idx)
{
    return VTB_CAP_FRO(b->cap) + 16 * idx;
}

void vtb_fault_read(VtdBuilder *b, unsigned idx, VtbFault *out)
{
    uint32_t off = frcd_off(b, idx);
    /* Top dword first, as software does (F lives there). */
    uint64_t hi_hi = vtb_rl(b, off + 12);
    uint64_t hi = (hi_hi << 32) | vtb_rl(b, off + 8);
    uint64_t lo = vtb_rq(b, off);

    memset(out, 0, sizeof(*out));
    out->raw_lo = lo;
    out->raw_hi = hi;
    out->addr = lo & ~0xfffULL;
    out->sid = hi & 0xffff;
    out->t2 = (hi >> 28) & 1;
    out->priv = (hi >> 29) & 1;
    out->exe = (hi >> 30) & 1;
    out->pp = (hi >> 31) & 1;
    out->reason = (hi >> 32) & 0xff;
    out->pasid = (hi >> 40) & 0xfffff;
    out->at = (hi >> 60) & 3;
    out->t1 = (hi >> 62) & 1;
    out->f = (hi >> 63) & 1;
}

void vtb_fault_clear(VtdBuilder *b, unsigned idx)
{
    vtb_wl(b, frcd_off(b, idx) + 12, 0x80000000u);
}

void vtb_faults_clear_all(VtdBuilder *b)
{
    unsigned n = vtb_nfr(b);

    for (unsigned i = 0; i < n; i++) {
        if (vtb_rl(b, frcd_off(b, i) + 12) & 0x80000000u) {
            vtb_fault_clear(b, i);
        }
    }
    vtb_wl(b, VTB_FSTS, VTB_FSTS_PFO);
}

unsigned vtb_fault_count(VtdBuilder *b)
{
    unsigned n = vtb_nfr(b), c = 0;

    for (unsigned i = 0; i < n; i++) {
        c += !!(vtb_rl(b, frcd_off(b, i) + 12) & 0x80000000u);
    }
    return c;
}

bool vtb_first_fault(VtdBuilder *b, VtbFault *out)
{
    uint32_t fsts = vtb_fsts(b);

    memset(out, 0, sizeof(*out));
    if (!(fsts & VTB_FSTS_PPF)) {
        return false;
    }
    vtb_fault_read(b, VTB_FSTS_FRI(fsts), out);
    return true;
}

const char *vtb_fault_describe(const VtbFault *f)
{
    static char buf[160];

    snprintf(buf, sizeof(buf),
             "F=%d reason=0x%02x sid=0x%04x addr=0x%" PRIx64
             " T1=%d T2=%d PP=%d PV=0x%x PRIV=%d AT=%u",
             f->f, f->reason, f->sid, f->addr, f->t1, f->t2, f->pp,
             f->pasid, f->priv, f->at);
    return buf;
}

/* ---- test devices -------------------------------------------------------- */

#define TD_TRIGGER   0x00
#define TD_GVA_LO    0x04
#define TD_GVA_HI    0x08
#define TD_LEN       0x0c
#define TD_RESULT    0x10
#define TD_DBELL     0x14
#define TD_GPA_LO    0x1c
#define TD_GPA_HI    0x20
#define TD_PASID     0x24
#define TD_FLAGS     0x28

#define EDU_DMA_SRC  0x80
#define EDU_DMA_DST  0x88
#define EDU_DMA_CNT  0x90
#define EDU_DMA_CMD  0x98
#define EDU_BUF      0x40000ULL

uint16_t vtb_dev_sid(const VtbDev *d)
{
    return (uint16_t)((d->bus << 8) | d->devfn);
}

/* The test devices sit on bus 0; scanning it alone keeps setup quick. */
static bool scan_bus0(QTestState *qts, uint16_t vendor, uint16_t device,
                      uint8_t *devfn)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        unsigned nfn = 1;

        for (unsigned fn = 0; fn < nfn; fn++) {
            uint8_t df = (uint8_t)(slot << 3 | fn);
            uint32_t id = qtest_pci_cfg_read(qts, 0, df, 0, 4);

            if ((id & 0xffff) == 0xffff) {
                continue;
            }
            if (fn == 0 && (qtest_pci_cfg_read(qts, 0, df, 0x0e, 1) & 0x80)) {
                nfn = 8;   /* functions 1-7 only behind a multi-function 0 */
            }
            if ((id & 0xffff) == vendor && (id >> 16) == device) {
                *devfn = df;
                return true;
            }
        }
    }
    return false;
}

static bool dev_find(VtbDev *d, QTestState *qts, uint16_t vendor,
                     uint16_t device, uint64_t bar_addr)
{
    memset(d, 0, sizeof(*d));
    d->qts = qts;
    d->can_clock_step = true;
    if (!scan_bus0(qts, vendor, device, &d->devfn)) {
        /* Not on the root bus: let libqtest walk every bus. */
        if (qtest_pci_find(qts, vendor, device, &d->bus, &d->devfn) < 0) {
            return false;
        }
    }
    d->bar = bar_addr;
    qtest_pci_map_bar(qts, d->bus, d->devfn, 0, bar_addr);
    return true;
}

bool vtb_testdev_find(VtbDev *d, QTestState *qts, uint64_t bar_addr)
{
    return dev_find(d, qts, VTB_TESTDEV_VENDOR, VTB_TESTDEV_DEVICE, bar_addr);
}

/* Addresses, length and (once set) the request extension of the next run. */
static void testdev_program(VtbDev *d, uint64_t gva, uint64_t gpa, uint32_t len)
{
    qtest_writel(d->qts, d->bar + TD_GVA_LO, (uint32_t)gva);
    qtest_writel(d->qts, d->bar + TD_GVA_HI, (uint32_t)(gva >> 32));
    qtest_writel(d->qts, d->bar + TD_GPA_LO, (uint32_t)gpa);
    qtest_writel(d->qts, d->bar + TD_GPA_HI, (uint32_t)(gpa >> 32));
    qtest_writel(d->qts, d->bar + TD_LEN, len);
    if (d->ext) {
        qtest_writel(d->qts, d->bar + TD_PASID, d->pasid_reg);
        qtest_writel(d->qts, d->bar + TD_FLAGS, d->flags);
    }
}

uint32_t vtb_testdev_dma(VtbDev *d, uint64_t gva, uint64_t gpa, uint32_t len)
{
    uint32_t r;

    testdev_program(d, gva, gpa, len);
    qtest_writel(d->qts, d->bar + TD_DBELL, 1);
    (void)qtest_readl(d->qts, d->bar + TD_TRIGGER);
    r = qtest_readl(d->qts, d->bar + TD_RESULT);
    for (int i = 0; r == VTB_TD_BUSY && i < 1000; i++) {
        if (d->can_clock_step) {
            qtest_clock_step(d->qts, 1000000);
        }
        r = qtest_readl(d->qts, d->bar + TD_RESULT);
    }
    return r;
}

uint32_t vtb_testdev_dma_checked(VtbDev *d, uint64_t gva, uint64_t gpa,
                                 uint32_t len, bool arm)
{
    testdev_program(d, gva, gpa, len);
    if (arm) {
        qtest_writel(d->qts, d->bar + TD_DBELL, 1);
        assert_int_equal(qtest_readl(d->qts, d->bar + TD_RESULT), VTB_TD_BUSY);
    }
    assert_int_equal(qtest_readl(d->qts, d->bar + TD_TRIGGER), 0);
    return qtest_readl(d->qts, d->bar + TD_RESULT);
}

uint8_t vtb_dev_msi_cap(VtbDev *d)
{
    uint8_t p = qtest_pci_cfg_read(d->qts, d->bus, d->devfn, 0x34, 1);

    /* Bounded: a looping capability list must not hang the test. */
    for (int n = 0; p && n < 48; n++) {
        if (qtest_pci_cfg_read(d->qts, d->bus, d->devfn, p, 1) == 0x05) {
            return p;
        }
        p = qtest_pci_cfg_read(d->qts, d->bus, d->devfn, p + 1, 1);
    }
    fail_msg("device %02x:%02x.%x has no MSI capability", d->bus,
             d->devfn >> 3, d->devfn & 7);
    return 0;
}

void vtb_dev_set_bus_master(VtbDev *d, bool on)
{
    uint16_t cmd = qtest_pci_cfg_read(d->qts, d->bus, d->devfn, 0x04, 2);

    cmd = on ? cmd | 0x4 : cmd & ~0x4;
    qtest_pci_cfg_write(d->qts, d->bus, d->devfn, 0x04, cmd, 2);
}

void vtb_testdev_set_request(VtbDev *d, uint32_t pasid, bool priv, bool read)
{
    d->ext = true;
    d->pasid_reg = pasid == VTB_NO_PASID ? 0 : (VTB_TD_PASID_VALID | (pasid & 0xfffff));
    d->flags = (priv ? VTB_TD_FLAG_PRIV : 0) | (read ? VTB_TD_FLAG_READ : 0);
}

bool vtb_edu_find(VtbDev *d, QTestState *qts, uint64_t bar_addr)
{
    return dev_find(d, qts, VTB_EDU_VENDOR, VTB_EDU_DEVICE, bar_addr);
}

bool vtb_edu_dma(VtbDev *d, uint64_t iova, bool to_ram, uint32_t len)
{
    /* cmd bit 0 starts, bit 1 = direction device -> RAM. */
    qtest_writeq(d->qts, d->bar + EDU_DMA_SRC, to_ram ? EDU_BUF : iova);
    qtest_writeq(d->qts, d->bar + EDU_DMA_DST, to_ram ? iova : EDU_BUF);
    qtest_writeq(d->qts, d->bar + EDU_DMA_CNT, len);
    qtest_writeq(d->qts, d->bar + EDU_DMA_CMD, to_ram ? 3 : 1);
    /* QEMU's edu runs the copy from a 100 ms timer. With the qtest clock we
     * step to it; without (icount, sleep=off) the clock warps while the CPU
     * halts, so polling is enough. */
    for (int i = 0; i < 20000; i++) {
        if (!(qtest_readl(d->qts, d->bar + EDU_DMA_CMD) & 1)) {
            return true;
        }
        if (d->can_clock_step) {
            qtest_clock_step(d->qts, 10000000);
        } else if (i > 100) {
            g_usleep(1000);
        }
    }
    return false;
}

/* ---- MSI log --------------------------------------------------------------- */

int vtb_msi_log(QTestState *qts, VtbMsi *out, int max)
{
    g_autofree char *resp = qtest_command(qts, "x-vtdnest-msi-log");
    g_auto(GStrv) words = NULL;
    int n, got = 0;

    if (!resp || !g_str_has_prefix(resp, "OK")) {
        return -1;
    }
    words = g_strsplit(g_strstrip(resp), " ", -1);
    if (!words[1]) {
        return -1;
    }
    n = atoi(words[1]);
    for (int i = 0; i < n && words[2 + i]; i++) {
        unsigned long long a;
        unsigned dat, sid, remapped;

        if (sscanf(words[2 + i], "%llx:%x:%x:%u", &a, &dat, &sid,
                   &remapped) != 4) {
            return -1;
        }
        if (got < max) {
            out[got].addr = a;
            out[got].data = dat;
            out[got].sid = sid;
            out[got].remapped = remapped;
        }
        got++;
    }
    return got;
}

void vtb_msi_clear(QTestState *qts)
{
    g_autofree char *resp = qtest_command(qts, "x-vtdnest-msi-clear");

    g_assert(resp && g_str_has_prefix(resp, "OK"));
}
