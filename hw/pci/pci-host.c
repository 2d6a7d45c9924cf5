/*
 * The q35 host bridge: function 00:00.0 (the MCH's identity) and the two ways
 * the CPU reaches configuration space: mechanism #1 (an address latch at
 * 0xcf8 and a data window at 0xcfc-0xcff) and the ECAM window.
 */
#include "pci-internal.h"

#define PCI_VENDOR_ID_INTEL        0x8086
#define PCI_DEVICE_ID_INTEL_Q35_MCH 0x29c0
#define PCI_CLASS_BRIDGE_HOST      0x0600

#define PCI_CONFIG_ADDR_PORT   0xcf8
#define PCI_CONFIG_DATA_PORT   0xcfc
#define PCI_CONFIG_ADDR_ENABLE 0x80000000u

typedef struct PCIHost {
    Machine *machine;
    PCIBus *root;
    uint32_t config_addr;   /* the 0xcf8 latch, exactly as written */
    MmioRegion *ecam;
} PCIHost;

static uint32_t all_ones(unsigned size)
{
    return size >= 4 ? UINT32_MAX : (1u << (8 * size)) - 1;
}

/* Configuration cycle to (bus, devfn, reg); absent functions read all-ones. */
static uint32_t host_cfg_read(PCIHost *h, uint8_t bus, uint8_t devfn,
                              uint32_t reg, unsigned size)
{
    PCIDevice *d = pci_route_config(h->root, bus, devfn);

    return d ? pci_config_read(d, reg, size) : all_ones(size);
}

static void host_cfg_write(PCIHost *h, uint8_t bus, uint8_t devfn, uint32_t reg,
                           uint32_t val, unsigned size)
{
    PCIDevice *d = pci_route_config(h->root, bus, devfn);

    if (d) {
        pci_config_write(d, reg, val, size);
    }
}

/* ---- Mechanism #1 ---- */

static uint32_t cf8_read(void *opaque, uint16_t offset, unsigned size)
{
    PCIHost *h = opaque;

    /* Only a full dword at 0xcf8 is the address latch. */
    return offset == 0 && size == 4 ? h->config_addr : all_ones(size);
}

static void cf8_write(void *opaque, uint16_t offset, uint32_t value, unsigned size)
{
    PCIHost *h = opaque;

    if (offset == 0 && size == 4) {
        h->config_addr = value;
    }
}

static const PortIoOps cf8_ops = { .read = cf8_read, .write = cf8_write };

/* Decode the latch for a data access at 0xcfc + offset; false if disabled. */
static bool cfc_target(PCIHost *h, uint16_t offset, unsigned size,
                       uint8_t *bus, uint8_t *devfn, uint32_t *reg)
{
    if (!(h->config_addr & PCI_CONFIG_ADDR_ENABLE) || offset + size > 4) {
        return false;
    }
    *bus = (h->config_addr >> 16) & 0xff;
    *devfn = (h->config_addr >> 8) & 0xff;
    *reg = (h->config_addr & 0xfc) | offset;
    return true;
}

static uint32_t cfc_read(void *opaque, uint16_t offset, unsigned size)
{
    PCIHost *h = opaque;
    uint8_t bus, devfn;
    uint32_t reg;

    if (!cfc_target(h, offset, size, &bus, &devfn, &reg)) {
        return all_ones(size);
    }
    return host_cfg_read(h, bus, devfn, reg, size);
}

static void cfc_write(void *opaque, uint16_t offset, uint32_t value, unsigned size)
{
    PCIHost *h = opaque;
    uint8_t bus, devfn;
    uint32_t reg;

    if (cfc_target(h, offset, size, &bus, &devfn, &reg)) {
        host_cfg_write(h, bus, devfn, reg, value, size);
    }
}

static const PortIoOps cfc_ops = { .read = cfc_read, .write = cfc_write };

/* ---- ECAM: bus << 20 | devfn << 12 | register ---- */

static uint64_t ecam_read(void *opaque, uint64_t offset, unsigned size)
{
    PCIHost *h = opaque;

    return host_cfg_read(h, (offset >> 20) & 0xff, (offset >> 12) & 0xff,
                         offset & 0xfff, size);
}

static void ecam_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    PCIHost *h = opaque;

    host_cfg_write(h, (offset >> 20) & 0xff, (offset >> 12) & 0xff,
                   offset & 0xfff, (uint32_t)value, size);
}

static const MemoryRegionOps ecam_ops = {
    .read = ecam_read,
    .write = ecam_write,
    .min_access = 1,
    .max_access = 4,
};

bool pci_host_init(Machine *m, PCIBus *root, GError **errp)
{
    PCIHost *h = g_new0(PCIHost, 1);
    PCIDevice *d;

    h->machine = m;
    h->root = root;
    root->host = h;
    d = pci_device_new(m, root, PCI_DEVFN(0, 0), "q35-mch", NULL,
                       PCI_VENDOR_ID_INTEL, PCI_DEVICE_ID_INTEL_Q35_MCH,
                       PCI_CLASS_BRIDGE_HOST, errp);
    if (!d) {
        return false;
    }
    machine_register_pio(m, PCI_CONFIG_ADDR_PORT, 4, &cf8_ops, h);
    machine_register_pio(m, PCI_CONFIG_DATA_PORT, 4, &cfc_ops, h);
    h->ecam = machine_map_mmio(m, "pcie-ecam", Q35_ECAM_BASE, Q35_ECAM_SIZE,
                               &ecam_ops, h);
    return true;
}

void pci_host_fini(PCIBus *root)
{
    PCIHost *h = root->host;

    if (!h) {
        return;
    }
    machine_unregister_pio(h->machine, PCI_CONFIG_ADDR_PORT, h);
    machine_unregister_pio(h->machine, PCI_CONFIG_DATA_PORT, h);
    machine_unmap_mmio(h->machine, h->ecam);
    root->host = NULL;
    g_free(h);
}
