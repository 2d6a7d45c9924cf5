/*
 * PCI core: buses, device placement, configuration space semantics (write
 * masks, write-1-to-clear bits), BARs and their decoding, capability lists,
 * and the requester id the IOMMU sees.
 */
#include "pci-internal.h"

#include <string.h>

/* QEMU's default subsystem ids for devices that bring none of their own. */
#define PCI_SUBVENDOR_ID_REDHAT_QUMRANET 0x1af4
#define PCI_SUBDEVICE_ID_QEMU            0x1100

#define PCI_COMMAND_WRITABLE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY |           \
                              PCI_COMMAND_MASTER | PCI_COMMAND_SERR |         \
                              PCI_COMMAND_INTX_DISABLE)
/* Error bits of the status register: RW1C (parity, target/master aborts,
 * SERR, detected parity). */
#define PCI_STATUS_W1C 0xf900

/* ---- Little-endian helpers ---- */

void pci_set_word(uint8_t *p, uint16_t v)
{
    p[0] = v & 0xff;
    p[1] = v >> 8;
}

uint16_t pci_get_word(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void pci_set_long(uint8_t *p, uint32_t v)
{
    pci_set_word(p, v & 0xffff);
    pci_set_word(p + 2, v >> 16);
}

uint32_t pci_get_long(const uint8_t *p)
{
    return pci_get_word(p) | ((uint32_t)pci_get_word(p + 2) << 16);
}

/* ---- Buses ---- */

PCIBus *pci_bus_new(Machine *m, PCIDevice *parent, const char *name)
{
    PCIBus *bus = g_new0(PCIBus, 1);

    bus->machine = m;
    bus->parent = parent;
    bus->name = g_strdup(name);
    return bus;
}

void pci_bus_free(PCIBus *bus)
{
    if (!bus) {
        return;
    }
    /* Newest first, so a function 0 outlives the other functions. */
    for (int devfn = PCI_DEVFN_MAX - 1; devfn >= 0; devfn--) {
        if (bus->devices[devfn]) {
            pci_device_unplug(bus->devices[devfn]);
        }
    }
    g_free(bus->name);
    g_free(bus);
}

static void pci_root_cleanup(void *opaque)
{
    Machine *m = opaque;
    PCIBus *root = machine_pci_root(m);

    if (root) {
        pci_root_bus_free(root);
    }
}

PCIBus *pci_root_bus_new(Machine *m)
{
    PCIBus *root = pci_bus_new(m, NULL, PCI_ROOT_BUS_NAME);
    GError *err = NULL;

    if (!pci_host_init(m, root, &err)) {
        /* Only a programming error gets here (the host bridge owns 00:00.0). */
        g_critical("PCI host bridge: %s", err->message);
        g_error_free(err);
    }
    machine_set_pci_root(m, root);
    /* Devices must release their MMIO and timers before the machine does. */
    machine_register_cleanup(m, pci_root_cleanup, m);
    return root;
}

void pci_root_bus_free(PCIBus *bus)
{
    Machine *m;

    if (!bus) {
        return;
    }
    m = bus->machine;
    pci_host_fini(bus);
    pci_bus_free(bus);
    if (machine_pci_root(m) == bus) {
        machine_set_pci_root(m, NULL);
    }
}

uint8_t pci_bus_num(const PCIBus *bus)
{
    return bus->parent ? bus->parent->config[PCI_SECONDARY_BUS] : 0;
}

uint8_t pci_dev_bus_num(PCIDevice *d)
{
    return pci_bus_num(d->bus);
}

PCIDevice *pci_bus_find_device(PCIBus *bus, uint8_t devfn)
{
    return bus ? bus->devices[devfn] : NULL;
}

static PCIBus *pci_bus_root(PCIBus *bus)
{
    while (bus->parent) {
        bus = bus->parent->bus;
    }
    return bus;
}

/* The bridge on bus that claims configuration cycles for bus number nr. */
static PCIDevice *pci_bus_bridge_for(PCIBus *bus, uint8_t nr)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        if (d && d->secondary &&
            d->config[PCI_SECONDARY_BUS] <= nr &&
            nr <= d->config[PCI_SUBORDINATE_BUS]) {
            return d;
        }
    }
    return NULL;
}

PCIDevice *pci_route_config(PCIBus *root, uint8_t bus_nr, uint8_t devfn)
{
    PCIBus *bus = root;

    if (!root) {
        return NULL;
    }
    /* Each step goes one level down the tree, so this ends. */
    while (bus) {
        PCIDevice *bridge;

        if (pci_bus_num(bus) == bus_nr) {
            return bus->devices[devfn];
        }
        bridge = pci_bus_bridge_for(bus, bus_nr);
        bus = bridge ? bridge->secondary : NULL;
    }
    return NULL;
}

PCIDevice *pci_find_device(Machine *m, uint8_t bus, uint8_t devfn)
{
    return pci_route_config(machine_pci_root(m), bus, devfn);
}

static PCIDevice *pci_bus_find_by_id(PCIBus *bus, const char *id)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        PCIDevice *found;

        if (!d) {
            continue;
        }
        if (d->id && strcmp(d->id, id) == 0) {
            return d;
        }
        if (d->secondary && (found = pci_bus_find_by_id(d->secondary, id))) {
            return found;
        }
    }
    return NULL;
}

PCIDevice *pci_find_device_by_id(Machine *m, const char *id)
{
    PCIBus *root = machine_pci_root(m);

    return root && id ? pci_bus_find_by_id(root, id) : NULL;
}

PCIBus *pci_find_bus_by_id(Machine *m, const char *bus_id)
{
    PCIBus *root = machine_pci_root(m);
    PCIDevice *d;

    if (!root || !bus_id) {
        return NULL;
    }
    if (strcmp(bus_id, PCI_ROOT_BUS_NAME) == 0) {
        return root;
    }
    d = pci_bus_find_by_id(root, bus_id);
    return d ? d->secondary : NULL;
}

static void pci_bus_foreach(PCIBus *bus, void (*fn)(PCIDevice *d, void *opaque),
                            void *opaque)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        if (!d) {
            continue;
        }
        fn(d, opaque);
        /* fn may not unplug d; bridges are visited before their children. */
        if (d->secondary) {
            pci_bus_foreach(d->secondary, fn, opaque);
        }
    }
}

void pci_foreach_device(Machine *m, void (*fn)(PCIDevice *d, void *opaque),
                        void *opaque)
{
    PCIBus *root = machine_pci_root(m);

    if (root) {
        pci_bus_foreach(root, fn, opaque);
    }
}

/* ---- Requester id ---- */

uint16_t pci_requester_id(PCIDevice *d)
{
    uint16_t rid = PCI_BDF(pci_bus_num(d->bus), d->devfn);

    /*
     * Conventional PCI has no requester ids: a PCI-PCI bridge issues the
     * upstream transaction under its own id, so every device below the
     * topmost bridge is seen with that bridge's id (as QEMU and Linux do
     * for bridges that are not PCIe-to-PCI).
     */
    for (PCIBus *bus = d->bus; bus->parent; bus = bus->parent->bus) {
        PCIDevice *bridge = bus->parent;
        rid = PCI_BDF(pci_bus_num(bridge->bus), bridge->devfn);
    }
    return rid;
}

bool pci_bus_master_enabled(PCIDevice *d)
{
    return pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* ---- Device placement ---- */

bool pci_parse_devfn(const char *str, uint8_t *devfn, GError **errp)
{
    const char *p = str;
    char *end;
    unsigned long slot, fn = 0;

    if (!str || !g_ascii_isxdigit(*p)) {
        goto bad;
    }
    slot = strtoul(p, &end, 16);
    if (*end == '.') {
        p = end + 1;
        if (!g_ascii_isxdigit(*p)) {
            goto bad;
        }
        fn = strtoul(p, &end, 16);
    }
    if (*end != '\0' || slot > 0x1f || fn > 7) {
        goto bad;
    }
    *devfn = PCI_DEVFN(slot, fn);
    return true;

bad:
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Property 'addr' doesn't take value '%s' "
                "(expected SLOT[.FN] in hex, slot <= 1f, function <= 7)",
                str ? str : "");
    return false;
}

static const char *pci_dev_name(PCIDevice *d)
{
    return d->id ? d->id : d->type_name;
}

static bool pci_pick_devfn(PCIBus *bus, int addr, const char *type_name,
                           uint8_t *devfn, GError **errp)
{
    if (addr >= 0) {
        PCIDevice *other;

        if (addr >= PCI_DEVFN_MAX) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "PCI: devfn %d out of range for %s", addr, type_name);
            return false;
        }
        other = bus->devices[addr];
        if (other) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "PCI: slot %d function %d not available for %s, "
                        "in use by %s", PCI_SLOT(addr), PCI_FUNC(addr),
                        type_name, pci_dev_name(other));
            return false;
        }
        *devfn = addr;
        return true;
    }
    for (int slot = 0; slot < 32; slot++) {
        if (!bus->devices[PCI_DEVFN(slot, 0)]) {
            *devfn = PCI_DEVFN(slot, 0);
            return true;
        }
    }
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "PCI: no slot/function available for %s on bus '%s', all in use",
                type_name, bus->name ? bus->name : "?");
    return false;
}

/* QEMU's multifunction rules: function 0 must say so before others appear. */
static bool pci_check_multifunction(PCIBus *bus, uint8_t devfn, bool multifunction,
                                    GError **errp)
{
    uint8_t slot = PCI_SLOT(devfn);
    PCIDevice *fn0 = bus->devices[PCI_DEVFN(slot, 0)];

    if (PCI_FUNC(devfn) != 0) {
        if (fn0 && !fn0->multifunction) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "PCI: single function device can't be populated in "
                        "function %x.%x", slot, PCI_FUNC(devfn));
            return false;
        }
        return true;
    }
    if (multifunction) {
        return true;
    }
    for (int fn = 1; fn < 8; fn++) {
        if (bus->devices[PCI_DEVFN(slot, fn)]) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "PCI: %x.0 indicates single function, but %x.%x is "
                        "already populated (use multifunction=on)",
                        slot, slot, fn);
            return false;
        }
    }
    return true;
}

static void pci_init_config(PCIDevice *d, uint16_t vendor, uint16_t device,
                            uint16_t class_code)
{
    pci_set_word(d->config + PCI_VENDOR_ID, vendor);
    pci_set_word(d->config + PCI_DEVICE_ID, device);
    pci_set_word(d->config + PCI_CLASS_DEVICE, class_code);
    d->config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL |
        (d->multifunction ? PCI_HEADER_TYPE_MULTI_FUNCTION : 0);
    pci_set_word(d->config + PCI_SUBSYSTEM_VENDOR_ID,
                 PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    pci_set_word(d->config + PCI_SUBSYSTEM_ID, PCI_SUBDEVICE_ID_QEMU);

    pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_WRITABLE);
    pci_set_word(d->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    /* Device-specific space past the header behaves like scratch registers
     * until a capability claims it (as in QEMU). */
    memset(d->wmask + PCI_STD_HEADER_SIZE, 0xff,
           PCIE_CONFIG_SPACE_SIZE - PCI_STD_HEADER_SIZE);
}

static void pci_device_reset_hook(void *opaque)
{
    pci_device_reset(opaque);
}

static PCIDevice *pci_device_create(Machine *m, PCIBus *bus, int addr,
                                    const char *type_name, const char *id,
                                    bool multifunction, uint16_t vendor,
                                    uint16_t device, uint16_t class_code,
                                    GError **errp)
{
    PCIDevice *d;
    uint8_t devfn;

    if (!bus) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "No PCI bus for %s", type_name);
        return NULL;
    }
    if (id && pci_bus_find_by_id(pci_bus_root(bus), id)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Duplicate ID '%s' for device", id);
        return NULL;
    }
    if (!pci_pick_devfn(bus, addr, type_name, &devfn, errp) ||
        !pci_check_multifunction(bus, devfn, multifunction, errp)) {
        return NULL;
    }

    d = g_new0(PCIDevice, 1);
    d->id = g_strdup(id);
    d->type_name = type_name;
    d->machine = m;
    d->bus = bus;
    d->devfn = devfn;
    d->multifunction = multifunction;
    pci_init_config(d, vendor, device, class_code);
    bus->devices[devfn] = d;
    machine_register_reset(m, pci_device_reset_hook, d);
    return d;
}

PCIDevice *pci_device_new(Machine *m, PCIBus *bus, int addr, const char *type_name,
                          const char *id, uint16_t vendor, uint16_t device,
                          uint16_t class_code, GError **errp)
{
    return pci_device_create(m, bus, addr, type_name, id, false, vendor, device,
                             class_code, errp);
}

PCIDevice *pci_device_new_from_opts(Machine *m, DeviceOpts *opts, const char *type_name,
                                    uint16_t vendor, uint16_t device,
                                    uint16_t class_code, GError **errp)
{
    const char *bus_id = opts_get(opts, "bus");
    const char *addr_str = opts_get(opts, "addr");
    const char *id = opts_get(opts, "id");
    bool multifunction;
    PCIBus *bus;
    int addr = -1;

    if (!opts_get_bool(opts, OPT_NAMES("multifunction"), false, &multifunction,
                       errp)) {
        return NULL;
    }
    if (bus_id) {
        bus = pci_find_bus_by_id(m, bus_id);
        if (!bus) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Bus '%s' not found", bus_id);
            return NULL;
        }
    } else {
        bus = machine_pci_root(m);
    }
    if (addr_str) {
        uint8_t devfn;
        if (!pci_parse_devfn(addr_str, &devfn, errp)) {
            return NULL;
        }
        addr = devfn;
    }
    return pci_device_create(m, bus, addr, type_name, id, multifunction, vendor,
                             device, class_code, errp);
}

static void pci_unmap_bars(PCIDevice *d);

void pci_device_unplug(PCIDevice *d)
{
    if (!d) {
        return;
    }
    if (d->secondary) {
        pci_bus_free(d->secondary);
        d->secondary = NULL;
    }
    pci_unmap_bars(d);
    machine_unregister_reset(d->machine, pci_device_reset_hook, d);
    if (d->klass && d->klass->unrealize) {
        d->klass->unrealize(d);
    }
    if (d->bus->devices[d->devfn] == d) {
        d->bus->devices[d->devfn] = NULL;
    }
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        g_free(d->bar_names[i]);
    }
    g_free(d->id);
    g_free(d);
}

bool pci_device_destroy_by_id(Machine *m, const char *id, GError **errp)
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

/* ---- BARs ---- */

static uint32_t pci_pio_bar_read(void *opaque, uint16_t offset, unsigned size)
{
    PCIBar *bar = opaque;

    return bar->pio_ops && bar->pio_ops->read
           ? bar->pio_ops->read(bar->opaque, offset, size) : UINT32_MAX;
}

static void pci_pio_bar_write(void *opaque, uint16_t offset, uint32_t value,
                              unsigned size)
{
    PCIBar *bar = opaque;

    if (bar->pio_ops && bar->pio_ops->write) {
        bar->pio_ops->write(bar->opaque, offset, value, size);
    }
}

static const PortIoOps pci_pio_bar_ops = {
    .read = pci_pio_bar_read,
    .write = pci_pio_bar_write,
};

void pci_register_bar(PCIDevice *d, int bar, PCIBarType type, uint64_t size,
                      const MemoryRegionOps *ops, const PortIoOps *pio_ops,
                      void *opaque)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint64_t mask;
    uint32_t flags;

    /* Device models are fixed code: these are programming errors. */
    g_assert(bar >= 0 && bar < PCI_NUM_BARS);
    g_assert(type != PCI_BAR_MEM64 || bar < PCI_NUM_BARS - 1);
    g_assert(size && !(size & (size - 1)));
    g_assert(type == PCI_BAR_IO ? size >= 4 && size <= 256 : size >= 16);
    g_assert(type == PCI_BAR_MEM64 || size <= (1ULL << 31));

    d->bars[bar] = (PCIBar){ .type = type, .size = size, .ops = ops,
                             .pio_ops = pio_ops, .opaque = opaque };
    d->bar_names[bar] = g_strdup_printf("%s.bar%d", pci_dev_name(d), bar);

    switch (type) {
    case PCI_BAR_IO:
        flags = PCI_BASE_ADDRESS_SPACE_IO;
        mask = ~(size - 1) & 0xfffc;
        break;
    case PCI_BAR_MEM64:
        flags = PCI_BASE_ADDRESS_MEM_TYPE_64;
        mask = ~(size - 1) & ~0xfULL;
        pci_set_long(d->wmask + off + 4, mask >> 32);
        pci_set_long(d->config + off + 4, 0);
        break;
    default:
        flags = 0;
        mask = ~(size - 1) & 0xfffffff0ULL;
        break;
    }
    pci_set_long(d->config + off, flags);
    pci_set_long(d->wmask + off, (uint32_t)mask);
}

uint64_t pci_bar_address(PCIDevice *d, int bar)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint64_t lo;

    if (bar < 0 || bar >= PCI_NUM_BARS) {
        return 0;
    }
    lo = pci_get_long(d->config + off);
    switch (d->bars[bar].type) {
    case PCI_BAR_IO:
        return lo & ~0x3ULL;
    case PCI_BAR_MEM64:
        return (lo & ~0xfULL) | ((uint64_t)pci_get_long(d->config + off + 4) << 32);
    default:
        return lo & ~0xfULL;
    }
}

/* Where the BAR decodes right now, or false when it does not decode. */
static bool pci_bar_decode_addr(PCIDevice *d, int i, uint64_t *addr)
{
    PCIBar *bar = &d->bars[i];
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    uint64_t base = pci_bar_address(d, i);
    uint64_t last = base + bar->size - 1;

    if (bar->type == PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO) || base == 0 || last > 0xffff) {
            return false;
        }
    } else {
        if (!(cmd & PCI_COMMAND_MEMORY) || base == 0 || last < base) {
            return false;
        }
        /* A 32-bit BAR still holding the sizing pattern ends at 4G - 1:
         * treat it as unprogrammed, like QEMU. */
        if (bar->type == PCI_BAR_MEM32 && last >= 0xffffffffULL) {
            return false;
        }
    }
    *addr = base;
    return true;
}

static void pci_update_bar(PCIDevice *d, int i)
{
    PCIBar *bar = &d->bars[i];
    Machine *m = d->machine;
    uint64_t addr = 0;
    bool decode = pci_bar_decode_addr(d, i, &addr);

    if (bar->type == PCI_BAR_IO) {
        bool same = bar->io_mapped && bar->addr == addr;
        if (bar->io_mapped && !same) {
            machine_unregister_pio(m, (uint16_t)bar->addr, bar);
            bar->io_mapped = false;
        }
        if (decode && !same) {
            machine_register_pio(m, (uint16_t)addr, (uint16_t)bar->size,
                                 &pci_pio_bar_ops, bar);
            bar->io_mapped = true;
        }
    } else if (!decode) {
        if (bar->region) {
            machine_unmap_mmio(m, bar->region);
            bar->region = NULL;
        }
    } else if (!bar->region) {
        if (bar->ops) {
            bar->region = machine_map_mmio(m, d->bar_names[i], addr, bar->size,
                                           bar->ops, bar->opaque);
        }
    } else if (bar->addr != addr) {
        machine_move_mmio(m, bar->region, addr);
    }
    bar->addr = decode ? addr : 0;
}

static void pci_update_mappings(PCIDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (d->bars[i].type != PCI_BAR_NONE) {
            pci_update_bar(d, i);
        }
    }
}

static void pci_unmap_bars(PCIDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *bar = &d->bars[i];
        if (bar->region) {
            machine_unmap_mmio(d->machine, bar->region);
            bar->region = NULL;
        }
        if (bar->io_mapped) {
            machine_unregister_pio(d->machine, (uint16_t)bar->addr, bar);
            bar->io_mapped = false;
        }
    }
}

/* ---- Configuration space ---- */

static uint32_t pci_config_limit(PCIDevice *d)
{
    return d->is_express ? PCIE_CONFIG_SPACE_SIZE : PCI_CONFIG_SPACE_SIZE;
}

static uint32_t pci_all_ones(unsigned len)
{
    return len >= 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
}

static bool pci_config_access_ok(PCIDevice *d, uint32_t addr, unsigned len)
{
    return (len == 1 || len == 2 || len == 4) &&
           addr < pci_config_limit(d) && len <= pci_config_limit(d) - addr;
}

uint32_t pci_config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    uint32_t val = 0;

    if (!pci_config_access_ok(d, addr, len)) {
        return pci_all_ones(len);
    }
    if (d->klass && d->klass->config_read &&
        d->klass->config_read(d, addr, len, &val)) {
        return val & pci_all_ones(len);
    }
    for (unsigned i = 0; i < len; i++) {
        val |= (uint32_t)d->config[addr + i] << (8 * i);
    }
    return val;
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    uint32_t bar_bytes;

    if (!pci_config_access_ok(d, addr, len)) {
        return;
    }
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = addr + i;
        uint8_t byte = (val >> (8 * i)) & 0xff;
        uint8_t w = d->wmask[a], w1c = d->w1cmask[a];

        d->config[a] = (d->config[a] & ~w) | (byte & w);
        d->config[a] &= ~(byte & w1c);
    }
    /* Type 1 headers have two BARs, type 0 six. */
    bar_bytes = d->secondary ? 8 : 4 * PCI_NUM_BARS;
    if (ranges_overlap(addr, len, PCI_COMMAND, 2) ||
        ranges_overlap(addr, len, PCI_BASE_ADDRESS_0, bar_bytes)) {
        pci_update_mappings(d);
    }
    if (d->klass && d->klass->config_write) {
        d->klass->config_write(d, addr, val, len);
    }
}

void pci_set_irq(PCIDevice *d, bool level)
{
    uint16_t status = pci_get_word(d->config + PCI_STATUS);

    d->intx_level = level;
    status = level ? status | PCI_STATUS_INTERRUPT
                   : status & ~PCI_STATUS_INTERRUPT;
    pci_set_word(d->config + PCI_STATUS, status);
}

void pci_device_reset(PCIDevice *d)
{
    /*
     * Everything the guest could program goes back to zero: the header's
     * writable bits (command, BARs, bus numbers, windows), the error bits
     * of the status registers, and capability registers (MSI enable,
     * address, data). Scratch space outside capabilities keeps its value.
     */
    for (uint32_t a = 0; a < PCIE_CONFIG_SPACE_SIZE; a++) {
        bool in_cap = a < PCI_CONFIG_SPACE_SIZE ? d->cap_used[a]
                                                : a < d->next_ext_cap_free;
        if (a < PCI_STD_HEADER_SIZE || in_cap) {
            d->config[a] &= ~d->wmask[a];
        }
        d->config[a] &= ~d->w1cmask[a];
    }
    pci_set_irq(d, false);
    pci_update_mappings(d);
    if (d->klass && d->klass->reset) {
        d->klass->reset(d);
    }
}

/* ---- Capabilities ---- */

static uint8_t pci_find_cap_space(PCIDevice *d, uint8_t size)
{
    uint32_t need = (size + 3u) & ~3u;

    for (uint32_t off = PCI_STD_HEADER_SIZE; off + need <= PCI_CONFIG_SPACE_SIZE;
         off += 4) {
        bool free = true;
        for (uint32_t i = 0; i < need && free; i++) {
            free = !d->cap_used[off + i];
        }
        if (free) {
            return off;
        }
    }
    return 0;
}

uint8_t pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t size)
{
    uint8_t off;
    uint16_t status;

    if (size < 2 || !(off = pci_find_cap_space(d, size))) {
        return 0;
    }
    memset(d->cap_used + off, 1, (size + 3u) & ~3u);
    memset(d->config + off, 0, size);
    memset(d->wmask + off, 0, size);
    /* New capabilities go to the head of the list, as QEMU puts them. */
    d->config[off + PCI_CAP_LIST_ID] = cap_id;
    d->config[off + PCI_CAP_LIST_NEXT] = d->config[PCI_CAPABILITY_LIST];
    d->config[PCI_CAPABILITY_LIST] = off;
    status = pci_get_word(d->config + PCI_STATUS) | PCI_STATUS_CAP_LIST;
    pci_set_word(d->config + PCI_STATUS, status);
    return off;
}

uint16_t pci_add_ext_capability(PCIDevice *d, uint16_t cap_id, uint8_t version,
                                uint16_t size)
{
    uint32_t off, need = (size + 3u) & ~3u;

    if (!d->is_express || size < 4) {
        return 0;
    }
    off = d->next_ext_cap_free ? d->next_ext_cap_free : PCI_CONFIG_SPACE_SIZE;
    if (off + need > PCIE_CONFIG_SPACE_SIZE) {
        return 0;
    }
    memset(d->config + off, 0, need);
    memset(d->wmask + off, 0, need);
    pci_set_long(d->config + off, cap_id | ((uint32_t)(version & 0xf) << 16));
    if (d->last_ext_cap) {
        uint32_t prev = pci_get_long(d->config + d->last_ext_cap);
        pci_set_long(d->config + d->last_ext_cap, (prev & 0xfffff) | (off << 20));
    }
    d->last_ext_cap = off;
    d->next_ext_cap_free = off + need;
    return off;
}
