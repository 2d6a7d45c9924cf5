/*
 * iommu-testdev's DMA engine (see testdev-engine.h). Semantics follow QEMU's
 * iommu-testdev: arm with DMA_DBELL, a 32-bit read of DMA_TRIGGERING runs the
 * transfer, DMA_RESULT reports 0 or an error code; only 32-bit accesses count.
 */
#include "testdev-engine.h"

#include <string.h>

#define ATTRS_SECURE          0x1u
#define ATTRS_SPACE_SHIFT     1
#define ATTRS_SPACE_MASK      0x3u
#define ATTRS_SPACE_VALID     0x8u
#define ATTRS_SPACE_SECURE    0
#define ATTRS_SPACE_NONSECURE 1
#define ATTRS_RESET           (ATTRS_SPACE_NONSECURE << ATTRS_SPACE_SHIFT)

#define DBELL_ARM             0x1u
#define FLAGS_MASK            (TESTDEV_FLAG_PRIV | TESTDEV_FLAG_READ | \
                               TESTDEV_FLAG_MSI)

#define DMA_PATTERN           0x12345678u
/* DMA_LEN may be up to 4 GiB: move it in pieces, never all at once. */
#define CHUNK                 (64 * 1024)

static uint8_t pattern_byte(uint64_t offset)
{
    return (DMA_PATTERN >> ((offset % 4) * 8)) & 0xff;
}

/* QEMU's check: an explicit secure/non-secure space must agree with bit 0. */
static bool attrs_inconsistent(uint32_t attrs)
{
    uint32_t space = (attrs >> ATTRS_SPACE_SHIFT) & ATTRS_SPACE_MASK;
    bool secure = attrs & ATTRS_SECURE;

    if (!(attrs & ATTRS_SPACE_VALID)) {
        return false;
    }
    if (space == ATTRS_SPACE_SECURE || space == ATTRS_SPACE_NONSECURE) {
        return secure != (space == ATTRS_SPACE_SECURE);
    }
    return false;
}

static bool dma_request(TestdevEngine *e, TestdevDmaReq *out)
{
    bool pasid_valid = e->pasid_reg & TESTDEV_PASID_VALID;

    if (attrs_inconsistent(e->attrs)) {
        return false;
    }
    /* A privileged request only exists with a PASID prefix. */
    if ((e->flags & TESTDEV_FLAG_PRIV) && !pasid_valid) {
        return false;
    }
    if (e->ops->attrs_ok && !e->ops->attrs_ok(e->opaque)) {
        return false;
    }
    out->has_pasid = pasid_valid;
    out->attrs = PCI_DMA_ATTRS_DEFAULT;
    if (pasid_valid) {
        out->attrs.pasid = e->pasid_reg & TESTDEV_PASID_MASK;
        out->attrs.priv = e->flags & TESTDEV_FLAG_PRIV;
    }
    return true;
}

/* RAM at the GPA matching offset off of the transfer, bypassing any IOMMU. */
static const uint8_t *gpa_ram(TestdevEngine *e, uint64_t off, uint32_t n)
{
    uint64_t gpa = e->gpa + off;

    return gpa >= e->gpa ? machine_ram_ptr(e->pci->machine, gpa, n) : NULL;
}

/*
 * QEMU's order: the whole pattern goes out first, then the GPA range is read
 * back and compared (so aliasing within one run shows).
 */
static uint32_t run_write(TestdevEngine *e, const TestdevDmaReq *req,
                          uint8_t *buf)
{
    uint32_t chunk = MIN(e->len, CHUNK);

    /* Chunks are multiples of 4, so the pattern repeats from each start. */
    for (uint32_t i = 0; i < chunk; i++) {
        buf[i] = pattern_byte(i);
    }
    for (uint64_t off = 0; off < e->len; off += chunk) {
        uint32_t n = MIN(e->len - off, chunk);
        uint32_t rc = e->ops->dma(e->opaque, e->gva + off, buf, n, true, req);

        if (rc) {
            return rc;
        }
    }
    for (uint64_t off = 0; off < e->len; off += chunk) {
        uint32_t n = MIN(e->len - off, chunk);
        const uint8_t *ram = gpa_ram(e, off, n);

        if (!ram) {
            return TESTDEV_ERR_RD_FAIL;
        }
        if (memcmp(ram, buf, n)) {
            return TESTDEV_ERR_MISMATCH;
        }
    }
    return 0;
}

/* vtdnest extension: DMA-read the IOVA and compare with RAM at the GPA. */
static uint32_t run_read(TestdevEngine *e, const TestdevDmaReq *req,
                         uint8_t *buf)
{
    uint32_t chunk = MIN(e->len, CHUNK);

    for (uint64_t off = 0; off < e->len; off += chunk) {
        uint32_t n = MIN(e->len - off, chunk);
        const uint8_t *ram;
        uint32_t rc = e->ops->dma(e->opaque, e->gva + off, buf, n, false, req);

        if (rc) {
            return rc;
        }
        ram = gpa_ram(e, off, n);
        if (!ram) {
            return TESTDEV_ERR_RD_FAIL;
        }
        if (memcmp(ram, buf, n)) {
            return TESTDEV_ERR_MISMATCH;
        }
    }
    return 0;
}

static void run_dma(TestdevEngine *e)
{
    g_autofree uint8_t *buf = NULL;
    TestdevDmaReq req;
    uint32_t result;

    if (!e->armed) {
        e->result = TESTDEV_ERR_NOT_ARMED;
        return;
    }
    if (!e->len) {
        result = TESTDEV_ERR_BAD_LEN;
    } else if (!dma_request(e, &req)) {
        result = TESTDEV_ERR_BAD_ATTRS;
    } else {
        buf = g_malloc(MIN(e->len, CHUNK));
        result = e->flags & TESTDEV_FLAG_READ ? run_read(e, &req, buf)
                                              : run_write(e, &req, buf);
    }
    e->result = result;
    e->armed = false;
    if (e->flags & TESTDEV_FLAG_MSI) {
        pci_msi_notify(e->pci, 0);
    }
}

static uint64_t engine_read(void *opaque, uint64_t addr, unsigned size)
{
    TestdevEngine *e = opaque;
    uint32_t val;

    /* QEMU accepts only 32-bit accesses; others read as 0. */
    if (size != 4) {
        return 0;
    }
    switch (addr) {
    case TESTDEV_REG_DMA_TRIGGERING:
        run_dma(e);
        return 0;
    case TESTDEV_REG_DMA_GVA_LO:
        return (uint32_t)e->gva;
    case TESTDEV_REG_DMA_GVA_HI:
        return e->gva >> 32;
    case TESTDEV_REG_DMA_GPA_LO:
        return (uint32_t)e->gpa;
    case TESTDEV_REG_DMA_GPA_HI:
        return e->gpa >> 32;
    case TESTDEV_REG_DMA_LEN:
        return e->len;
    case TESTDEV_REG_DMA_RESULT:
        return e->result;
    case TESTDEV_REG_DMA_ATTRS:
        return e->attrs;
    case TESTDEV_REG_DMA_PASID:
        return e->pasid_reg;
    case TESTDEV_REG_DMA_FLAGS:
        return e->flags;
    default:
        if (e->ops->reg_read && e->ops->reg_read(e->opaque, addr, &val)) {
            return val;
        }
        return 0;
    }
}

static void engine_write(void *opaque, uint64_t addr, uint64_t val,
                         unsigned size)
{
    TestdevEngine *e = opaque;
    uint32_t data = (uint32_t)val;

    if (size != 4) {
        return;
    }
    switch (addr) {
    case TESTDEV_REG_DMA_GVA_LO:
        e->gva = (e->gva & ~0xffffffffULL) | data;
        break;
    case TESTDEV_REG_DMA_GVA_HI:
        e->gva = (e->gva & 0xffffffffULL) | ((uint64_t)data << 32);
        break;
    case TESTDEV_REG_DMA_GPA_LO:
        e->gpa = (e->gpa & ~0xffffffffULL) | data;
        break;
    case TESTDEV_REG_DMA_GPA_HI:
        e->gpa = (e->gpa & 0xffffffffULL) | ((uint64_t)data << 32);
        break;
    case TESTDEV_REG_DMA_LEN:
        e->len = data;
        break;
    case TESTDEV_REG_DMA_RESULT:
        e->result = data;
        break;
    case TESTDEV_REG_DMA_DBELL:
        e->armed = data & DBELL_ARM;
        e->result = e->armed ? TESTDEV_RESULT_BUSY : TESTDEV_RESULT_IDLE;
        break;
    case TESTDEV_REG_DMA_ATTRS:
        e->attrs = data;
        break;
    case TESTDEV_REG_DMA_PASID:
        e->pasid_reg = data & (TESTDEV_PASID_VALID | TESTDEV_PASID_MASK);
        break;
    case TESTDEV_REG_DMA_FLAGS:
        e->flags = data & FLAGS_MASK;
        break;
    default:
        if (e->ops->reg_write) {
            e->ops->reg_write(e->opaque, addr, data);
        }
        break;
    }
}

const MemoryRegionOps testdev_engine_mmio_ops = {
    .read = engine_read,
    .write = engine_write,
    .min_access = 1,
    .max_access = 8,
};

void testdev_engine_reset(TestdevEngine *e)
{
    e->gva = 0;
    e->gpa = 0;
    e->len = 0;
    e->result = TESTDEV_RESULT_IDLE;
    e->attrs = ATTRS_RESET;
    e->pasid_reg = 0;
    e->flags = 0;
    e->armed = false;
}

void testdev_engine_init(TestdevEngine *e, PCIDevice *pci,
                         const TestdevEngineOps *ops, void *opaque)
{
    e->pci = pci;
    e->ops = ops;
    e->opaque = opaque;
    testdev_engine_reset(e);
}
