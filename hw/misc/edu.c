/*
 * -device edu: QEMU's educational PCI device (1234:11e8), register compatible
 * (docs/specs/edu.rst): liveness, factorial, interrupt raise/ack, and a DMA
 * engine between guest memory and a 4 KiB buffer at 0x40000 that completes
 * 100 ms of virtual time after it is started.
 */
#include "vtdnest/pci.h"

#include <string.h>

#define EDU_VENDOR_ID        0x1234
#define EDU_DEVICE_ID        0x11e8
#define EDU_REVISION         0x10
#define EDU_CLASS_OTHERS     0x00ff
#define EDU_BAR0_SIZE        (1u << 20)

#define EDU_REG_IDENT        0x00
#define EDU_REG_LIVENESS     0x04
#define EDU_REG_FACTORIAL    0x08
#define EDU_REG_STATUS       0x20
#define EDU_REG_IRQ_STATUS   0x24
#define EDU_REG_IRQ_RAISE    0x60
#define EDU_REG_IRQ_ACK      0x64
#define EDU_REG_DMA_SRC      0x80
#define EDU_REG_DMA_DST      0x88
#define EDU_REG_DMA_COUNT    0x90
#define EDU_REG_DMA_CMD      0x98

#define EDU_IDENT            0x010000edu
#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQFACT   0x80
#define EDU_FACT_IRQ         0x00000001u
#define EDU_DMA_IRQ          0x00000100u

#define EDU_DMA_RUN          0x1
#define EDU_DMA_TO_RAM       0x2     /* direction: 0 RAM -> EDU, 1 EDU -> RAM */
#define EDU_DMA_RAISE_IRQ    0x4
#define EDU_DMA_BUF_START    0x40000
#define EDU_DMA_BUF_SIZE     4096
#define EDU_DMA_DELAY_MS     100
#define EDU_DEFAULT_DMA_MASK ((1ULL << 28) - 1)

typedef struct EduState {
    PCIDevice *pci;
    Timer *dma_timer;
    uint64_t dma_mask;
    uint32_t liveness;
    uint32_t fact;
    uint32_t status;
    uint32_t irq_status;
    uint64_t dma_src;
    uint64_t dma_dst;
    uint64_t dma_count;
    uint64_t dma_cmd;
    uint8_t dma_buf[EDU_DMA_BUF_SIZE];
} EduState;

/* ---- Interrupts: MSI when the guest enabled it, else the INTx level ---- */

static void edu_raise_irq(EduState *s, uint32_t val)
{
    s->irq_status |= val;
    if (!s->irq_status) {
        return;
    }
    if (pci_msi_enabled(s->pci)) {
        pci_msi_notify(s->pci, 0);
    } else {
        pci_set_irq(s->pci, true);
    }
}

static void edu_lower_irq(EduState *s, uint32_t val)
{
    s->irq_status &= ~val;
    if (!s->irq_status && !pci_msi_enabled(s->pci)) {
        pci_set_irq(s->pci, false);
    }
}

/* ---- Factorial ---- */

static uint32_t factorial32(uint32_t n)
{
    uint32_t r = 1;

    /* 34! has 2^32 as a factor, so every larger n gives 0 mod 2^32 too;
     * stopping there keeps a guest-chosen n from taking forever. */
    if (n >= 34) {
        return 0;
    }
    while (n > 0) {
        r *= n--;
    }
    return r;
}

static void edu_start_factorial(EduState *s, uint32_t n)
{
    /* QEMU computes in a thread; here it is done before the guest can look,
     * so COMPUTING is never observed set. */
    s->fact = factorial32(n);
    s->status &= ~EDU_STATUS_COMPUTING;
    if (s->status & EDU_STATUS_IRQFACT) {
        edu_raise_irq(s, EDU_FACT_IRQ);
    }
}

/* ---- DMA ---- */

/* The [start, start+count) range lies inside the device buffer. */
static bool edu_buf_range_ok(uint64_t start, uint64_t count)
{
    return start >= EDU_DMA_BUF_START &&
           count <= EDU_DMA_BUF_SIZE &&
           start - EDU_DMA_BUF_START <= EDU_DMA_BUF_SIZE - count;
}

static void edu_dma_complete(void *opaque)
{
    EduState *s = opaque;

    if (!(s->dma_cmd & EDU_DMA_RUN)) {
        return;
    }
    /*
     * QEMU only logs a buffer range that does not fit and goes ahead; here
     * such a transfer moves nothing (it would overrun the buffer) and the
     * command still completes.
     */
    if (!(s->dma_cmd & EDU_DMA_TO_RAM)) {
        if (edu_buf_range_ok(s->dma_dst, s->dma_count)) {
            pci_dma_read(s->pci, s->dma_src & s->dma_mask,
                         s->dma_buf + (s->dma_dst - EDU_DMA_BUF_START),
                         s->dma_count);
        }
    } else if (edu_buf_range_ok(s->dma_src, s->dma_count)) {
        pci_dma_write(s->pci, s->dma_dst & s->dma_mask,
                      s->dma_buf + (s->dma_src - EDU_DMA_BUF_START),
                      s->dma_count);
    }
    s->dma_cmd &= ~EDU_DMA_RUN;
    if (s->dma_cmd & EDU_DMA_RAISE_IRQ) {
        edu_raise_irq(s, EDU_DMA_IRQ);
    }
}

static void edu_dma_start(EduState *s, uint64_t cmd)
{
    Machine *m = s->pci->machine;
    int64_t now_ms = machine_clock_ns(m) / 1000000;
    int64_t due_ms = now_ms + EDU_DMA_DELAY_MS;

    s->dma_cmd = cmd;
    /* QEMU arms a millisecond timer: now (in whole ms) + 100 ms. A clock
     * a client moved near INT64_MAX saturates instead of overflowing. */
    machine_timer_mod(s->dma_timer, due_ms > INT64_MAX / 1000000
                                    ? INT64_MAX : due_ms * 1000000);
}

/* ---- MMIO ---- */

/* QEMU: 4-byte accesses below 0x80, 4 or 8 from there on. */
static bool edu_access_ok(uint64_t addr, unsigned size)
{
    return addr < 0x80 ? size == 4 : size == 4 || size == 8;
}

static uint64_t edu_read(void *opaque, uint64_t addr, unsigned size)
{
    EduState *s = opaque;
    uint64_t val = UINT64_MAX;

    if (size != 4 && size != 8) {
        return 0; /* rejected by QEMU's access rules: reads as 0 */
    }
    if (!edu_access_ok(addr, size)) {
        return val;
    }
    switch (addr) {
    case EDU_REG_IDENT:
        val = EDU_IDENT;
        break;
    case EDU_REG_LIVENESS:
        val = s->liveness;
        break;
    case EDU_REG_FACTORIAL:
        val = s->fact;
        break;
    case EDU_REG_STATUS:
        val = s->status;
        break;
    case EDU_REG_IRQ_STATUS:
        val = s->irq_status;
        break;
    case EDU_REG_DMA_SRC:
        val = s->dma_src;
        break;
    case EDU_REG_DMA_DST:
        val = s->dma_dst;
        break;
    case EDU_REG_DMA_COUNT:
        val = s->dma_count;
        break;
    case EDU_REG_DMA_CMD:
        val = s->dma_cmd;
        break;
    default:
        break;
    }
    return size == 4 ? (uint32_t)val : val;
}

static void edu_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    EduState *s = opaque;
    bool dma_busy = s->dma_cmd & EDU_DMA_RUN;

    if (!edu_access_ok(addr, size)) {
        return;
    }
    if (size == 4) {
        val = (uint32_t)val;
    }
    switch (addr) {
    case EDU_REG_LIVENESS:
        s->liveness = ~(uint32_t)val;
        break;
    case EDU_REG_FACTORIAL:
        if (!(s->status & EDU_STATUS_COMPUTING)) {
            edu_start_factorial(s, (uint32_t)val);
        }
        break;
    case EDU_REG_STATUS:
        /* Only the interrupt-enable bit is writable; COMPUTING is RO. */
        if (val & EDU_STATUS_IRQFACT) {
            s->status |= EDU_STATUS_IRQFACT;
        } else {
            s->status &= ~EDU_STATUS_IRQFACT;
        }
        break;
    case EDU_REG_IRQ_RAISE:
        edu_raise_irq(s, (uint32_t)val);
        break;
    case EDU_REG_IRQ_ACK:
        edu_lower_irq(s, (uint32_t)val);
        break;
    /* The DMA registers are frozen while a transfer runs. */
    case EDU_REG_DMA_SRC:
        if (!dma_busy) {
            s->dma_src = val;
        }
        break;
    case EDU_REG_DMA_DST:
        if (!dma_busy) {
            s->dma_dst = val;
        }
        break;
    case EDU_REG_DMA_COUNT:
        if (!dma_busy) {
            s->dma_count = val;
        }
        break;
    case EDU_REG_DMA_CMD:
        /* A command without the start bit is ignored altogether. */
        if ((val & EDU_DMA_RUN) && !dma_busy) {
            edu_dma_start(s, val);
        }
        break;
    default:
        break;
    }
}

static const MemoryRegionOps edu_mmio_ops = {
    .read = edu_read,
    .write = edu_write,
    .min_access = 1,
    .max_access = 8,
};

/* ---- Device ---- */

static void edu_unrealize(PCIDevice *d)
{
    EduState *s = d->opaque;

    machine_timer_free(s->dma_timer);
    g_free(s);
    d->opaque = NULL;
}

/* Like QEMU's edu there is no model reset: registers survive a system reset
 * (the PCI side - BAR, command, MSI enable - is reset by the core). */
static const PCIDeviceClass edu_class = {
    .unrealize = edu_unrealize,
};

static bool edu_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    PCIDevice *d;
    EduState *s;
    uint64_t dma_mask;

    if (!opts_get_uint(opts, OPT_NAMES("dma_mask"), EDU_DEFAULT_DMA_MASK,
                       UINT64_MAX, &dma_mask, errp)) {
        return false;
    }
    d = pci_device_new_from_opts(m, opts, "edu", EDU_VENDOR_ID, EDU_DEVICE_ID,
                                 EDU_CLASS_OTHERS, errp);
    if (!d) {
        return false;
    }
    s = g_new0(EduState, 1);
    s->pci = d;
    s->dma_mask = dma_mask;
    s->dma_timer = machine_timer_new(m, edu_dma_complete, s);
    d->opaque = s;
    d->klass = &edu_class;
    d->config[PCI_REVISION_ID] = EDU_REVISION;
    d->config[PCI_INTERRUPT_PIN] = 1;
    pci_msi_init(d, 1);
    pci_register_bar(d, 0, PCI_BAR_MEM32, EDU_BAR0_SIZE, &edu_mmio_ops, NULL, s);
    return true;
}

static const DeviceType edu_type = {
    .name = "edu",
    .desc = "QEMU's educational PCI device (1234:11e8), dma_mask=N",
    .create = edu_create,
    .hotpluggable = true,
    .destroy = pci_device_destroy_by_id,
};
DEVICE_TYPE_REGISTER(edu_type)
