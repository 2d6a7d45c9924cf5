/*
 * PCI-to-PCI bridge (-device pci-bridge, QEMU's 1b36:0001): a type 1 header
 * whose bus number registers the guest programs, and a conventional secondary
 * bus. Configuration cycles reach the secondary bus through the routing in
 * pci.c (secondary <= bus <= subordinate); upstream DMA from devices below
 * carries the bridge's requester id (pci_requester_id).
 */
#include "pci-internal.h"

#define PCI_VENDOR_ID_REDHAT          0x1b36
#define PCI_DEVICE_ID_REDHAT_BRIDGE   0x0001
#define PCI_CLASS_BRIDGE_PCI          0x0604

#define PCI_BRIDGE_CTL_BUS_RESET      0x40
/* Bridge control bits a guest may set: parity, SERR, ISA, VGA, VGA16,
 * master abort, secondary bus reset, fast back-to-back, discard timers. */
#define PCI_BRIDGE_CTL_WRITABLE       0x0fff
#define PCI_SEC_STATUS_W1C            0xf900

/* Slot identification capability (chassis number for firmware). */
#define PCI_SID_ESR                   2
#define  PCI_SID_ESR_FIC              0x20
#define PCI_SID_CHASSIS_NR            3
#define PCI_SID_SIZEOF                4

typedef struct PCIBridgeState {
    PCIDevice *dev;
    bool bus_reset_asserted;
} PCIBridgeState;

static void reset_one(PCIDevice *d, void *opaque)
{
    pci_device_reset(d);
}

static void bridge_reset_secondary(PCIBus *bus)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        if (d) {
            reset_one(d, NULL);
            if (d->secondary) {
                bridge_reset_secondary(d->secondary);
            }
        }
    }
}

static void bridge_config_write(PCIDevice *d, uint32_t addr, uint32_t val,
                                unsigned len)
{
    PCIBridgeState *s = d->opaque;
    bool asserted;

    if (addr + len <= PCI_BRIDGE_CONTROL || addr >= PCI_BRIDGE_CONTROL + 2) {
        return;
    }
    /* The secondary bus is reset on the 0 -> 1 edge of the reset bit. */
    asserted = pci_get_word(d->config + PCI_BRIDGE_CONTROL) & PCI_BRIDGE_CTL_BUS_RESET;
    if (asserted && !s->bus_reset_asserted) {
        bridge_reset_secondary(d->secondary);
    }
    s->bus_reset_asserted = asserted;
}

static void bridge_reset(PCIDevice *d)
{
    PCIBridgeState *s = d->opaque;

    s->bus_reset_asserted = false;
}

static void bridge_unrealize(PCIDevice *d)
{
    g_free(d->opaque);
    d->opaque = NULL;
}

static const PCIDeviceClass pci_bridge_class = {
    .config_write = bridge_config_write,
    .reset = bridge_reset,
    .unrealize = bridge_unrealize,
};

void pci_bridge_setup(PCIDevice *d, const char *bus_name)
{
    uint8_t *w = d->wmask;

    d->config[PCI_HEADER_TYPE] = (d->config[PCI_HEADER_TYPE] &
                                  PCI_HEADER_TYPE_MULTI_FUNCTION) |
                                 PCI_HEADER_TYPE_BRIDGE;
    /* 0x2c-0x2f are the prefetchable window's upper base here, not ids. */
    pci_set_long(d->config + PCI_PREF_LIMIT_UPPER32 - 4, 0);
    pci_set_long(d->config + PCI_PREF_LIMIT_UPPER32, 0);

    w[PCI_PRIMARY_BUS] = 0xff;
    w[PCI_SECONDARY_BUS] = 0xff;
    w[PCI_SUBORDINATE_BUS] = 0xff;
    w[PCI_SEC_LATENCY_TIMER] = 0xff;
    /* Windows: 16-bit I/O, 32-bit memory, 64-bit prefetchable memory. */
    w[PCI_IO_BASE] = 0xf0;
    w[PCI_IO_LIMIT] = 0xf0;
    pci_set_word(w + PCI_MEMORY_BASE, 0xfff0);
    pci_set_word(w + PCI_MEMORY_LIMIT, 0xfff0);
    pci_set_word(w + PCI_PREF_MEMORY_BASE, 0xfff0);
    pci_set_word(w + PCI_PREF_MEMORY_LIMIT, 0xfff0);
    pci_set_word(d->config + PCI_PREF_MEMORY_BASE, 0x1);   /* 64-bit capable */
    pci_set_word(d->config + PCI_PREF_MEMORY_LIMIT, 0x1);
    pci_set_long(w + PCI_PREF_BASE_UPPER32, UINT32_MAX);
    pci_set_long(w + PCI_PREF_LIMIT_UPPER32, UINT32_MAX);
    pci_set_word(w + PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_WRITABLE);
    pci_set_word(d->w1cmask + PCI_SEC_STATUS, PCI_SEC_STATUS_W1C);

    d->secondary = pci_bus_new(d->machine, d, bus_name);
}

static bool pci_bridge_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    PCIBridgeState *s;
    PCIDevice *d;
    uint64_t chassis;
    uint8_t cap;
    int msi;

    if (!opts_get_uint(opts, OPT_NAMES("chassis_nr"), 0, UINT8_MAX, &chassis,
                       errp) ||
        !opts_get_on_off_auto(opts, OPT_NAMES("msi"), -1, &msi, errp)) {
        return false;
    }
    if (chassis == 0) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Bridge chassis not specified. Each bridge is required to "
                    "be assigned a unique chassis id > 0 (chassis_nr=N).");
        return false;
    }
    d = pci_device_new_from_opts(m, opts, "pci-bridge", PCI_VENDOR_ID_REDHAT,
                                 PCI_DEVICE_ID_REDHAT_BRIDGE,
                                 PCI_CLASS_BRIDGE_PCI, errp);
    if (!d) {
        return false;
    }
    s = g_new0(PCIBridgeState, 1);
    s->dev = d;
    d->opaque = s;
    d->klass = &pci_bridge_class;
    d->config[PCI_INTERRUPT_PIN] = 1;
    pci_bridge_setup(d, d->id);

    cap = pci_add_capability(d, PCI_CAP_ID_SLOTID, PCI_SID_SIZEOF);
    if (cap) {
        d->config[cap + PCI_SID_ESR] = PCI_SID_ESR_FIC;  /* no slots */
        d->config[cap + PCI_SID_CHASSIS_NR] = (uint8_t)chassis;
    }
    if (msi != 0) {
        pci_msi_init(d, 1);
    }
    return true;
}

static const DeviceType pci_bridge_type = {
    .name = "pci-bridge",
    .desc = "Standard PCI Bridge (1b36:0001), secondary bus named by id=",
    .create = pci_bridge_create,
    .hotpluggable = false,
};
DEVICE_TYPE_REGISTER(pci_bridge_type)
