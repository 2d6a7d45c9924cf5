/*
 * -device iommu-testdev: QEMU's IOMMU test device (1b36:0005). The guest arms
 * a DMA, a read of DMA_TRIGGERING writes a known pattern to an IOVA through
 * the IOMMU, and the device checks that it arrived at the expected GPA by
 * reading RAM directly. Register layout and result codes are QEMU's; the
 * vtdnest extension (PASID, privilege, direction, completion MSI) lives at
 * offsets QEMU leaves unused. See docs/devices.md.
 *
 * The registers and the run logic are the shared testdev engine
 * (testdev-engine.c, also behind simulated vfio-pci devices); this file adds
 * the DMA step through the vIOMMU and the ATS/PRI extension below.
 */
#include "vtdnest/pci.h"
#include "testdev-engine.h"

#include <string.h>

#define ITD_DMA_ERR_TX_FAIL     TESTDEV_ERR_TX_FAIL
#define ITD_DMA_ERR_PAGE_REQ    0xdead0007u   /* ATS/PRI extension */

typedef struct IommuTestDev {
    PCIDevice *pci;
    TestdevEngine engine;   /* BAR0 registers */
    struct ItdAts *ats;     /* ATS/PRI extension, NULL unless ats/pri on */
} IommuTestDev;

/* ATS/PRI extension (below), used by the QEMU-compatible core. */
static uint32_t itd_dma(IommuTestDev *s, uint64_t addr, uint8_t *buf,
                        uint32_t len, bool is_write, PCIDmaAttrs attrs);
static bool itd_ats_attrs_ok(IommuTestDev *s);
static bool itd_ats_read(IommuTestDev *s, uint64_t addr, uint32_t *val);
static void itd_ats_write(IommuTestDev *s, uint64_t addr, uint32_t val);
static void itd_ats_reset(IommuTestDev *s);
static void itd_ats_realize(IommuTestDev *s, bool ats, bool pri, bool pasid_cap);
static bool itd_ats_parse(DeviceOpts *opts, bool *ats, bool *pri, bool *pasid,
                          GError **errp);

/* ---- engine hooks: the emulated device DMAs through the vIOMMU ---------- */

static uint32_t itd_engine_dma(void *opaque, uint64_t addr, uint8_t *buf,
                               uint32_t len, bool is_write,
                               const TestdevDmaReq *req)
{
    return itd_dma(opaque, addr, buf, len, is_write, req->attrs);
}

static bool itd_engine_attrs_ok(void *opaque)
{
    return itd_ats_attrs_ok(opaque);
}

static bool itd_engine_reg_read(void *opaque, uint64_t addr, uint32_t *val)
{
    return itd_ats_read(opaque, addr, val);
}

static void itd_engine_reg_write(void *opaque, uint64_t addr, uint32_t val)
{
    itd_ats_write(opaque, addr, val);
}

static const TestdevEngineOps itd_engine_ops = {
    .dma = itd_engine_dma,
    .attrs_ok = itd_engine_attrs_ok,
    .reg_read = itd_engine_reg_read,
    .reg_write = itd_engine_reg_write,
};

static void itd_reset(PCIDevice *d)
{
    IommuTestDev *s = d->opaque;

    testdev_engine_reset(&s->engine);
    itd_ats_reset(s);
}

static void itd_unrealize(PCIDevice *d)
{
    IommuTestDev *s = d->opaque;

    g_free(s->ats);
    g_free(d->opaque);
    d->opaque = NULL;
}

static const PCIDeviceClass itd_class = {
    .reset = itd_reset,
    .unrealize = itd_unrealize,
};

static bool itd_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    bool ats, pri, pasid_cap;
    PCIDevice *d;
    IommuTestDev *s;

    /* Malformed properties fail before anything is plugged. */
    if (!itd_ats_parse(opts, &ats, &pri, &pasid_cap, errp)) {
        return false;
    }
    d = pci_device_new_from_opts(m, opts, "iommu-testdev", TESTDEV_VENDOR_ID,
                                 TESTDEV_DEVICE_ID, TESTDEV_CLASS, errp);
    if (!d) {
        return false;
    }
    s = g_new0(IommuTestDev, 1);
    s->pci = d;
    d->opaque = s;
    d->klass = &itd_class;
    testdev_engine_init(&s->engine, d, &itd_engine_ops, s);
    itd_reset(d);
    pci_register_bar(d, 0, PCI_BAR_MEM32, TESTDEV_BAR0_SIZE,
                     &testdev_engine_mmio_ops, NULL, &s->engine);
    pci_msi_init(d, 1);
    itd_ats_realize(s, ats, pri, pasid_cap);
    return true;
}

static const DeviceType iommu_testdev_type = {
    .name = "iommu-testdev",
    .desc = "A test device for IOMMU (1b36:0005), DMA on a register read",
    .create = itd_create,
    .hotpluggable = true,
    .destroy = pci_device_destroy_by_id,
};
DEVICE_TYPE_REGISTER(iommu_testdev_type)

/* ==== ATS / PRI / PASID extension ===========================================
 * Opt-in with ats=on, pri=on (needs ats=on) and pasid-cap=on; with all off
 * the device is exactly the QEMU-compatible one above (conventional config
 * space, these registers read 0). ats=on adds a 16-entry address
 * translation cache (ATC) filled by ATS translation requests; runs with
 * ATS_CTRL.USE_ATS then DMA with translated addresses. pri=on makes a run
 * that finds a page not present issue a page request instead of failing.
 * docs/devices.md has the register table.
 */
#define ITD_REG_ATS_CTRL        0x2c
#define ITD_REG_ATC_COUNT       0x30
#define ITD_REG_ATS_XLATES      0x34
#define ITD_REG_ATS_INVALS      0x38
#define ITD_REG_PRI_REQ         0x3c
#define ITD_REG_PRI_RESP        0x40

#define ITD_ATS_USE             0x1u    /* runs go through the ATC */
#define ITD_ATS_TIMEOUT_NEXT    0x2u    /* don't complete the next invalidation */
#define ITD_ATS_FLUSH           0x4u    /* write-only: drop every ATC entry */
#define ITD_ATS_CTRL_MASK       (ITD_ATS_USE | ITD_ATS_TIMEOUT_NEXT)

#define ITD_PRI_REQ_PENDING     0x80000000u /* queued, no response yet */
#define ITD_PRI_REQ_REFUSED     0x40000000u /* the IOMMU did not queue it */
#define ITD_PRI_RESP_VALID      0x80000000u
#define ITD_PRGI_MASK           0x1ffu

#define ITD_ATC_ENTRIES         16
#define ITD_PRI_CAPACITY        32
#define ITD_PASID_WIDTH         20

/* Fault reasons meaning "not present": a page request can fix them. */
#define ITD_FR_SFS_2            0x71    /* first-stage entry not present */
#define ITD_FR_SSS_2            0x79    /* second-stage entry R=W=0 */

typedef struct ItdAtcEntry {
    bool valid;
    uint32_t pasid;         /* IOMMU_NO_PASID for requests without PASID */
    bool priv;
    uint64_t base;          /* untranslated page base */
    uint64_t mask;          /* page size - 1 */
    uint64_t out;           /* translated page base */
    unsigned perm;          /* IommuAccess bits */
} ItdAtcEntry;

typedef struct ItdAts {
    bool ats, pri, pasid;
    uint16_t ats_off, pri_off, pasid_off;   /* extended capabilities */
    ItdAtcEntry atc[ITD_ATC_ENTRIES];
    unsigned victim;
    uint32_t ctrl;
    uint32_t xlates;        /* translation requests sent */
    uint32_t invals;        /* invalidation requests received */
    uint32_t pri_req;       /* ITD_PRI_REQ_* | PRGI of the last request */
    uint32_t pri_resp;      /* VALID | PRGI << 16 | response code */
    uint16_t next_prgi;
} ItdAts;

static bool itd_ats_parse(DeviceOpts *opts, bool *ats, bool *pri, bool *pasid,
                          GError **errp)
{
    if (!opts_get_bool(opts, OPT_NAMES("ats"), false, ats, errp) ||
        !opts_get_bool(opts, OPT_NAMES("pri"), false, pri, errp) ||
        !opts_get_bool(opts, OPT_NAMES("pasid-cap"), false, pasid, errp)) {
        return false;
    }
    if (*pri && !*ats) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "iommu-testdev: pri=on needs ats=on (PRI works on top of "
                    "ATS)");
        return false;
    }
    return true;
}

static bool itd_cap_enabled(IommuTestDev *s, uint16_t off, unsigned ctrl,
                            uint16_t bit)
{
    return off && (pci_get_word(s->pci->config + off + ctrl) & bit);
}

static bool itd_ats_enabled(IommuTestDev *s)
{
    return s->ats && itd_cap_enabled(s, s->ats->ats_off, PCI_ATS_CTRL,
                                     PCI_ATS_CTRL_ENABLE);
}

static bool itd_pri_enabled(IommuTestDev *s)
{
    return s->ats && itd_cap_enabled(s, s->ats->pri_off, PCI_PRI_CTRL,
                                     PCI_PRI_CTRL_ENABLE);
}

/* A run through the ATC needs ATS enabled in config space. */
static bool itd_ats_attrs_ok(IommuTestDev *s)
{
    return !s->ats || !(s->ats->ctrl & ITD_ATS_USE) || itd_ats_enabled(s);
}

/* ---- Address translation cache ---------------------------------------- */

static unsigned itd_atc_count(const ItdAts *a)
{
    unsigned n = 0;

    for (unsigned i = 0; i < ITD_ATC_ENTRIES; i++) {
        n += a->atc[i].valid;
    }
    return n;
}

static ItdAtcEntry *itd_atc_lookup(ItdAts *a, uint32_t pasid, bool priv,
                                   uint64_t addr)
{
    for (unsigned i = 0; i < ITD_ATC_ENTRIES; i++) {
        ItdAtcEntry *e = &a->atc[i];
        if (e->valid && e->pasid == pasid && e->priv == priv &&
            (addr & ~e->mask) == e->base) {
            return e;
        }
    }
    return NULL;
}

static ItdAtcEntry *itd_atc_insert(ItdAts *a, const ItdAtcEntry *tmpl)
{
    ItdAtcEntry *e = NULL;

    for (unsigned i = 0; i < ITD_ATC_ENTRIES && !e; i++) {
        if (!a->atc[i].valid) {
            e = &a->atc[i];
        }
    }
    if (!e) {
        e = &a->atc[a->victim];     /* round robin once full */
        a->victim = (a->victim + 1) % ITD_ATC_ENTRIES;
    }
    *e = *tmpl;
    e->valid = true;
    return e;
}

/* ---- Page requests ------------------------------------------------------ */

/* One-page group for the page at addr; the run reports PAGE_REQ. */
static uint32_t itd_page_request(IommuTestDev *s, uint64_t addr, bool is_write,
                                 PCIDmaAttrs attrs)
{
    ItdAts *a = s->ats;
    uint16_t prgi = a->next_prgi;
    PCIPriResult r;

    a->next_prgi = (prgi + 1) & ITD_PRGI_MASK;
    a->pri_resp = 0;
    /* Pending first: an automatic response may arrive before we return. */
    a->pri_req = ITD_PRI_REQ_PENDING | prgi;
    r = pci_page_request(s->pci, attrs.pasid, addr & ~0xfffULL, !is_write,
                         is_write, false, attrs.priv, true, prgi);
    if (r == PCI_PRI_NO_IOMMU) {
        a->pri_req = prgi;
        return ITD_DMA_ERR_TX_FAIL;
    }
    if (r == PCI_PRI_NOT_QUEUED) {
        a->pri_req = (a->pri_req & ~ITD_PRI_REQ_PENDING) | ITD_PRI_REQ_REFUSED;
    }
    return ITD_DMA_ERR_PAGE_REQ;
}

static void itd_page_response(PCIDevice *d, uint32_t pasid, bool pasid_present,
                              uint16_t prgi, uint8_t rc)
{
    IommuTestDev *s = d->opaque;
    ItdAts *a = s->ats;
    uint16_t status_bits = 0;

    if (!a || !a->pri) {
        return;
    }
    a->pri_resp = ITD_PRI_RESP_VALID | ((uint32_t)(prgi & ITD_PRGI_MASK) << 16) |
                  (rc & 0xf);
    if ((a->pri_req & ITD_PRI_REQ_PENDING) &&
        (a->pri_req & ITD_PRGI_MASK) == (prgi & ITD_PRGI_MASK)) {
        a->pri_req &= ~ITD_PRI_REQ_PENDING;
    } else {
        status_bits |= PCI_PRI_STATUS_UPRGI;
    }
    if (rc == 0xf) {
        status_bits |= PCI_PRI_STATUS_RF;
    }
    if (status_bits) {
        uint8_t *st = d->config + a->pri_off + PCI_PRI_STATUS;
        pci_set_word(st, pci_get_word(st) | status_bits);
    }
}

/* ---- DMA ---------------------------------------------------------------- */

/* The cached translation for addr with the rights the access needs, asking
 * the IOMMU when the ATC has none. NULL with *err set otherwise. */
static const ItdAtcEntry *itd_atc_get(IommuTestDev *s, uint64_t addr,
                                      bool is_write, PCIDmaAttrs attrs,
                                      uint32_t *err)
{
    ItdAts *a = s->ats;
    unsigned need = is_write ? IOMMU_ACCESS_WRITE : IOMMU_ACCESS_READ;
    ItdAtcEntry *e = itd_atc_lookup(a, attrs.pasid, attrs.priv, addr);
    IommuResult res;

    if (e && (e->perm & need) == need) {
        return e;
    }
    if (e) {
        e->valid = false;   /* stale rights: ask again */
    }
    a->xlates++;
    if (!pci_ats_translate(s->pci, addr, attrs.pasid, attrs.priv, false, &res) ||
        res.is_interrupt) {
        *err = ITD_DMA_ERR_TX_FAIL;
        return NULL;
    }
    if ((res.perm & need) != need) {
        *err = itd_pri_enabled(s) ? itd_page_request(s, addr, is_write, attrs)
                                  : ITD_DMA_ERR_TX_FAIL;
        return NULL;
    }
    return itd_atc_insert(a, &(ItdAtcEntry){
        .pasid = attrs.pasid, .priv = attrs.priv,
        .base = addr & ~res.page_mask, .mask = res.page_mask,
        .out = res.out_addr & ~res.page_mask, .perm = res.perm,
    });
}

/* Translated requests carry no PASID (EPTR is not supported). */
static uint32_t itd_ats_dma(IommuTestDev *s, uint64_t addr, uint8_t *buf,
                            uint32_t len, bool is_write, PCIDmaAttrs attrs)
{
    PCIDmaAttrs translated = { .pasid = IOMMU_NO_PASID,
                               .at = IOMMU_AT_TRANSLATED };
    uint64_t done = 0;

    while (done < len) {
        uint64_t cur = addr + done, n;
        uint32_t err = 0;
        const ItdAtcEntry *e;

        if (cur < addr) {
            return ITD_DMA_ERR_TX_FAIL;     /* wrapped */
        }
        e = itd_atc_get(s, cur, is_write, attrs, &err);
        if (!e) {
            return err;
        }
        n = MIN(len - done, e->mask - (cur & e->mask) + 1);
        if (pci_dma_rw(s->pci, e->out | (cur & e->mask), buf + done, n,
                       is_write, translated) != MEMTX_OK) {
            return ITD_DMA_ERR_TX_FAIL;
        }
        done += n;
    }
    return 0;
}

/* One piece of a run: 0 or the result code. */
static uint32_t itd_dma(IommuTestDev *s, uint64_t addr, uint8_t *buf,
                        uint32_t len, bool is_write, PCIDmaAttrs attrs)
{
    PCIDmaFault fault;

    if (s->ats && (s->ats->ctrl & ITD_ATS_USE)) {
        return itd_ats_dma(s, addr, buf, len, is_write, attrs);
    }
    if (pci_dma_rw_fault(s->pci, addr, buf, len, is_write, attrs, &fault) ==
        MEMTX_OK) {
        return 0;
    }
    if (fault.iommu && itd_pri_enabled(s) &&
        (fault.reason == ITD_FR_SFS_2 || fault.reason == ITD_FR_SSS_2)) {
        return itd_page_request(s, fault.addr, is_write, attrs);
    }
    return ITD_DMA_ERR_TX_FAIL;
}

/* ---- Invalidation ------------------------------------------------------- */

static bool itd_ats_invalidate(PCIDevice *d, uint32_t pasid, bool global,
                               uint64_t addr, uint64_t size)
{
    IommuTestDev *s = d->opaque;
    ItdAts *a = s->ats;
    uint64_t last = size ? addr + (size - 1) : addr;

    if (!a) {
        return true;
    }
    if (last < addr) {
        last = UINT64_MAX;
    }
    a->invals++;
    for (unsigned i = 0; i < ITD_ATC_ENTRIES; i++) {
        ItdAtcEntry *e = &a->atc[i];
        /* A global invalidation may drop more than it must: all of them. */
        if (e->valid && (global || e->pasid == pasid) &&
            e->base <= last && addr <= e->base + e->mask) {
            e->valid = false;
        }
    }
    if (a->ctrl & ITD_ATS_TIMEOUT_NEXT) {
        a->ctrl &= ~ITD_ATS_TIMEOUT_NEXT;
        return false;
    }
    return true;
}

static const PCIAtsOps itd_ats_ops = {
    .invalidate = itd_ats_invalidate,
    .page_response = itd_page_response,
};

/* ---- Registers, reset, realize ----------------------------------------- */

static bool itd_ats_read(IommuTestDev *s, uint64_t addr, uint32_t *val)
{
    ItdAts *a = s->ats;

    if (!a) {
        return false;
    }
    switch (addr) {
    case ITD_REG_ATS_CTRL:
        *val = a->ctrl;
        return true;
    case ITD_REG_ATC_COUNT:
        *val = itd_atc_count(a);
        return true;
    case ITD_REG_ATS_XLATES:
        *val = a->xlates;
        return true;
    case ITD_REG_ATS_INVALS:
        *val = a->invals;
        return true;
    case ITD_REG_PRI_REQ:
        *val = a->pri_req;
        return true;
    case ITD_REG_PRI_RESP:
        *val = a->pri_resp;
        return true;
    default:
        return false;
    }
}

static void itd_ats_write(IommuTestDev *s, uint64_t addr, uint32_t val)
{
    ItdAts *a = s->ats;

    if (!a) {
        return;
    }
    switch (addr) {
    case ITD_REG_ATS_CTRL:
        a->ctrl = val & ITD_ATS_CTRL_MASK;
        if (val & ITD_ATS_FLUSH) {
            memset(a->atc, 0, sizeof(a->atc));
        }
        break;
    case ITD_REG_PRI_RESP:
        a->pri_resp = 0;
        break;
    default:
        break;
    }
}

static void itd_ats_reset(IommuTestDev *s)
{
    ItdAts *a = s->ats;

    if (!a) {
        return;
    }
    memset(a->atc, 0, sizeof(a->atc));
    a->victim = 0;
    a->ctrl = 0;
    a->xlates = a->invals = 0;
    a->pri_req = a->pri_resp = 0;
    a->next_prgi = 0;
}

static void itd_ats_realize(IommuTestDev *s, bool ats, bool pri, bool pasid_cap)
{
    PCIDevice *d = s->pci;
    ItdAts *a;
    uint16_t off;

    if (!ats && !pasid_cap) {
        return;     /* pri implies ats */
    }
    a = s->ats = g_new0(ItdAts, 1);
    a->ats = ats;
    a->pri = pri;
    a->pasid = pasid_cap;
    pci_express_init(d);
    if (ats && (off = pci_add_ext_capability(d, PCI_EXT_CAP_ID_ATS, 1,
                                             PCI_ATS_CAP_SIZE))) {
        a->ats_off = off;
        /* Invalidate queue depth 0 (= 32), page-aligned requests. */
        pci_set_word(d->config + off + PCI_ATS_CAP, 0x0020);
        pci_set_word(d->wmask + off + PCI_ATS_CTRL,
                     PCI_ATS_CTRL_ENABLE | PCI_ATS_CTRL_STU_MASK);
    }
    if (pasid_cap && (off = pci_add_ext_capability(d, PCI_EXT_CAP_ID_PASID, 1,
                                                   PCI_PASID_CAP_SIZE))) {
        a->pasid_off = off;
        pci_set_word(d->config + off + PCI_PASID_CAP,
                     PCI_PASID_CAP_EXEC | PCI_PASID_CAP_PRIV |
                     (ITD_PASID_WIDTH << PCI_PASID_CAP_WIDTH_SHIFT));
        pci_set_word(d->wmask + off + PCI_PASID_CTRL,
                     PCI_PASID_CTRL_ENABLE | PCI_PASID_CTRL_EXEC |
                     PCI_PASID_CTRL_PRIV);
    }
    if (pri && (off = pci_add_ext_capability(d, PCI_EXT_CAP_ID_PRI, 1,
                                             PCI_PRI_CAP_SIZE))) {
        a->pri_off = off;
        pci_set_word(d->wmask + off + PCI_PRI_CTRL, PCI_PRI_CTRL_ENABLE);
        pci_set_word(d->w1cmask + off + PCI_PRI_STATUS,
                     PCI_PRI_STATUS_RF | PCI_PRI_STATUS_UPRGI);
        pci_set_long(d->config + off + PCI_PRI_MAX_REQ, ITD_PRI_CAPACITY);
        pci_set_long(d->wmask + off + PCI_PRI_ALLOC_REQ, UINT32_MAX);
    }
    d->ats_ops = &itd_ats_ops;
}
