/*
 * -device iommu-testdev: QEMU's IOMMU test device (1b36:0005). The guest arms
 * a DMA, a read of DMA_TRIGGERING writes a known pattern to an IOVA through
 * the IOMMU, and the device checks that it arrived at the expected GPA by
 * reading RAM directly. Register layout and result codes are QEMU's; the
 * vtdnest extension (PASID, privilege, direction, completion MSI) lives at
 * offsets QEMU leaves unused. See docs/devices.md.
 */
#include "vtdnest/pci.h"

#include <string.h>

#define ITD_VENDOR_ID           0x1b36
#define ITD_DEVICE_ID           0x0005
#define ITD_CLASS_OTHERS        0x00ff
#define ITD_BAR0_SIZE           0x1000

/* QEMU's registers. */
#define ITD_REG_DMA_TRIGGERING  0x00
#define ITD_REG_DMA_GVA_LO      0x04
#define ITD_REG_DMA_GVA_HI      0x08
#define ITD_REG_DMA_LEN         0x0c
#define ITD_REG_DMA_RESULT      0x10
#define ITD_REG_DMA_DBELL       0x14
#define ITD_REG_DMA_ATTRS       0x18
#define ITD_REG_DMA_GPA_LO      0x1c
#define ITD_REG_DMA_GPA_HI      0x20
/* vtdnest extension. */
#define ITD_REG_DMA_PASID       0x24
#define ITD_REG_DMA_FLAGS       0x28

#define ITD_DMA_DBELL_ARM       0x1u
#define ITD_ATTRS_SECURE        0x1u
#define ITD_ATTRS_SPACE_SHIFT   1
#define ITD_ATTRS_SPACE_MASK    0x3u
#define ITD_ATTRS_SPACE_VALID   0x8u
#define ITD_ATTRS_SPACE_SECURE  0
#define ITD_ATTRS_SPACE_NONSECURE 1
#define ITD_ATTRS_RESET         (ITD_ATTRS_SPACE_NONSECURE << ITD_ATTRS_SPACE_SHIFT)

#define ITD_PASID_VALID         0x80000000u
#define ITD_PASID_MASK          0x000fffffu
#define ITD_FLAG_PRIV           0x1u
#define ITD_FLAG_READ           0x2u
#define ITD_FLAG_MSI            0x4u
#define ITD_FLAGS_MASK          0x7u

#define ITD_DMA_RESULT_IDLE     0xffffffffu
#define ITD_DMA_RESULT_BUSY     0xfffffffeu
#define ITD_DMA_ERR_BAD_LEN     0xdead0001u
#define ITD_DMA_ERR_TX_FAIL     0xdead0002u
#define ITD_DMA_ERR_RD_FAIL     0xdead0003u
#define ITD_DMA_ERR_MISMATCH    0xdead0004u
#define ITD_DMA_ERR_NOT_ARMED   0xdead0005u
#define ITD_DMA_ERR_BAD_ATTRS   0xdead0006u

#define ITD_DMA_PATTERN         0x12345678u
/* DMA_LEN may be up to 4 GiB: move it in pieces, never all at once. */
#define ITD_CHUNK               (64 * 1024)

typedef struct IommuTestDev {
    PCIDevice *pci;
    uint64_t gva;
    uint64_t gpa;
    uint32_t len;
    uint32_t result;
    uint32_t attrs;
    uint32_t pasid_reg;
    uint32_t flags;
    bool armed;
} IommuTestDev;

static uint8_t pattern_byte(uint64_t offset)
{
    return (ITD_DMA_PATTERN >> ((offset % 4) * 8)) & 0xff;
}

/* QEMU's check: an explicit secure/non-secure space must agree with bit 0. */
static bool attrs_inconsistent(uint32_t attrs)
{
    uint32_t space = (attrs >> ITD_ATTRS_SPACE_SHIFT) & ITD_ATTRS_SPACE_MASK;
    bool secure = attrs & ITD_ATTRS_SECURE;

    if (!(attrs & ITD_ATTRS_SPACE_VALID)) {
        return false;
    }
    if (space == ITD_ATTRS_SPACE_SECURE || space == ITD_ATTRS_SPACE_NONSECURE) {
        return secure != (space == ITD_ATTRS_SPACE_SECURE);
    }
    return false;
}

static bool itd_dma_attrs(IommuTestDev *s, PCIDmaAttrs *out)
{
    bool pasid_valid = s->pasid_reg & ITD_PASID_VALID;

    if (attrs_inconsistent(s->attrs)) {
        return false;
    }
    /* A privileged request only exists with a PASID prefix. */
    if ((s->flags & ITD_FLAG_PRIV) && !pasid_valid) {
        return false;
    }
    *out = PCI_DMA_ATTRS_DEFAULT;
    if (pasid_valid) {
        out->pasid = s->pasid_reg & ITD_PASID_MASK;
        out->priv = s->flags & ITD_FLAG_PRIV;
    }
    return true;
}

/* RAM at the GPA matching offset off of the transfer, bypassing the IOMMU. */
static const uint8_t *itd_gpa_ram(IommuTestDev *s, uint64_t off, uint32_t n)
{
    uint64_t gpa = s->gpa + off;

    return gpa >= s->gpa ? machine_ram_ptr(s->pci->machine, gpa, n) : NULL;
}

/*
 * QEMU's order: the whole pattern goes out through the IOMMU first, then the
 * GPA range is read back and compared (so aliasing within one run shows).
 * Returns 0 or the error code for the result register.
 */
static uint32_t itd_run_write(IommuTestDev *s, PCIDmaAttrs attrs, uint8_t *buf)
{
    uint32_t chunk = MIN(s->len, ITD_CHUNK);

    /* Chunks are multiples of 4, so the pattern repeats from each start. */
    for (uint32_t i = 0; i < chunk; i++) {
        buf[i] = pattern_byte(i);
    }
    for (uint64_t off = 0; off < s->len; off += chunk) {
        uint32_t n = MIN(s->len - off, chunk);
        if (pci_dma_rw(s->pci, s->gva + off, buf, n, true, attrs) != MEMTX_OK) {
            return ITD_DMA_ERR_TX_FAIL;
        }
    }
    for (uint64_t off = 0; off < s->len; off += chunk) {
        uint32_t n = MIN(s->len - off, chunk);
        const uint8_t *ram = itd_gpa_ram(s, off, n);
        if (!ram) {
            return ITD_DMA_ERR_RD_FAIL;
        }
        if (memcmp(ram, buf, n)) {
            return ITD_DMA_ERR_MISMATCH;
        }
    }
    return 0;
}

/* vtdnest extension: DMA-read the IOVA and compare with RAM at the GPA. */
static uint32_t itd_run_read(IommuTestDev *s, PCIDmaAttrs attrs, uint8_t *buf)
{
    uint32_t chunk = MIN(s->len, ITD_CHUNK);

    for (uint64_t off = 0; off < s->len; off += chunk) {
        uint32_t n = MIN(s->len - off, chunk);
        const uint8_t *ram;

        if (pci_dma_rw(s->pci, s->gva + off, buf, n, false, attrs) != MEMTX_OK) {
            return ITD_DMA_ERR_TX_FAIL;
        }
        ram = itd_gpa_ram(s, off, n);
        if (!ram) {
            return ITD_DMA_ERR_RD_FAIL;
        }
        if (memcmp(ram, buf, n)) {
            return ITD_DMA_ERR_MISMATCH;
        }
    }
    return 0;
}

static void itd_run_dma(IommuTestDev *s)
{
    g_autofree uint8_t *buf = NULL;
    PCIDmaAttrs attrs;
    uint32_t result = 0;

    if (!s->armed) {
        s->result = ITD_DMA_ERR_NOT_ARMED;
        return;
    }
    if (!s->len) {
        result = ITD_DMA_ERR_BAD_LEN;
    } else if (!itd_dma_attrs(s, &attrs)) {
        result = ITD_DMA_ERR_BAD_ATTRS;
    } else {
        buf = g_malloc(MIN(s->len, ITD_CHUNK));
        result = s->flags & ITD_FLAG_READ ? itd_run_read(s, attrs, buf)
                                          : itd_run_write(s, attrs, buf);
    }
    s->result = result;
    s->armed = false;
    if (s->flags & ITD_FLAG_MSI) {
        pci_msi_notify(s->pci, 0);
    }
}

static uint64_t itd_read(void *opaque, uint64_t addr, unsigned size)
{
    IommuTestDev *s = opaque;

    /* QEMU accepts only 32-bit accesses; others read as 0. */
    if (size != 4) {
        return 0;
    }
    switch (addr) {
    case ITD_REG_DMA_TRIGGERING:
        itd_run_dma(s);
        return 0;
    case ITD_REG_DMA_GVA_LO:
        return (uint32_t)s->gva;
    case ITD_REG_DMA_GVA_HI:
        return s->gva >> 32;
    case ITD_REG_DMA_GPA_LO:
        return (uint32_t)s->gpa;
    case ITD_REG_DMA_GPA_HI:
        return s->gpa >> 32;
    case ITD_REG_DMA_LEN:
        return s->len;
    case ITD_REG_DMA_RESULT:
        return s->result;
    case ITD_REG_DMA_ATTRS:
        return s->attrs;
    case ITD_REG_DMA_PASID:
        return s->pasid_reg;
    case ITD_REG_DMA_FLAGS:
        return s->flags;
    default:
        return 0;
    }
}

static void itd_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    IommuTestDev *s = opaque;
    uint32_t data = (uint32_t)val;

    if (size != 4) {
        return;
    }
    switch (addr) {
    case ITD_REG_DMA_GVA_LO:
        s->gva = (s->gva & ~0xffffffffULL) | data;
        break;
    case ITD_REG_DMA_GVA_HI:
        s->gva = (s->gva & 0xffffffffULL) | ((uint64_t)data << 32);
        break;
    case ITD_REG_DMA_GPA_LO:
        s->gpa = (s->gpa & ~0xffffffffULL) | data;
        break;
    case ITD_REG_DMA_GPA_HI:
        s->gpa = (s->gpa & 0xffffffffULL) | ((uint64_t)data << 32);
        break;
    case ITD_REG_DMA_LEN:
        s->len = data;
        break;
    case ITD_REG_DMA_RESULT:
        s->result = data;
        break;
    case ITD_REG_DMA_DBELL:
        s->armed = data & ITD_DMA_DBELL_ARM;
        s->result = s->armed ? ITD_DMA_RESULT_BUSY : ITD_DMA_RESULT_IDLE;
        break;
    case ITD_REG_DMA_ATTRS:
        s->attrs = data;
        break;
    case ITD_REG_DMA_PASID:
        s->pasid_reg = data & (ITD_PASID_VALID | ITD_PASID_MASK);
        break;
    case ITD_REG_DMA_FLAGS:
        s->flags = data & ITD_FLAGS_MASK;
        break;
    default:
        break;
    }
}

static const MemoryRegionOps itd_mmio_ops = {
    .read = itd_read,
    .write = itd_write,
    .min_access = 1,
    .max_access = 8,
};

static void itd_reset(PCIDevice *d)
{
    IommuTestDev *s = d->opaque;

    s->gva = 0;
    s->gpa = 0;
    s->len = 0;
    s->result = ITD_DMA_RESULT_IDLE;
    s->attrs = ITD_ATTRS_RESET;
    s->pasid_reg = 0;
    s->flags = 0;
    s->armed = false;
}

static void itd_unrealize(PCIDevice *d)
{
    g_free(d->opaque);
    d->opaque = NULL;
}

static const PCIDeviceClass itd_class = {
    .reset = itd_reset,
    .unrealize = itd_unrealize,
};

static bool itd_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    PCIDevice *d = pci_device_new_from_opts(m, opts, "iommu-testdev",
                                            ITD_VENDOR_ID, ITD_DEVICE_ID,
                                            ITD_CLASS_OTHERS, errp);
    IommuTestDev *s;

    if (!d) {
        return false;
    }
    s = g_new0(IommuTestDev, 1);
    s->pci = d;
    d->opaque = s;
    d->klass = &itd_class;
    itd_reset(d);
    pci_register_bar(d, 0, PCI_BAR_MEM32, ITD_BAR0_SIZE, &itd_mmio_ops, NULL, s);
    pci_msi_init(d, 1);
    return true;
}

static bool itd_destroy(Machine *m, const char *id, GError **errp)
{
    PCIDevice *d = pci_find_device_by_id(m, id);

    if (!d) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s' not found", id);
        return false;
    }
    pci_device_unplug(d);
    return true;
}

static const DeviceType iommu_testdev_type = {
    .name = "iommu-testdev",
    .desc = "A test device for IOMMU (1b36:0005), DMA on a register read",
    .create = itd_create,
    .hotpluggable = true,
    .destroy = itd_destroy,
};
DEVICE_TYPE_REGISTER(iommu_testdev_type)
