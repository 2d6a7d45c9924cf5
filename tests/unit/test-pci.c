/*
 * PCI core: config space semantics, BAR sizing and decoding, mechanism #1 and
 * ECAM, bridges and requester-id aliasing, placement errors, reset, DMA (bus
 * master gate, IOMMU page splitting and faults, interrupt window) and MSI.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vtdnest/machine.h"
#include "vtdnest/pci.h"

#define MiB (1ULL << 20)
#define TEST_VENDOR 0x1af4
#define TEST_DEVICE 0x10ff
#define BAR_BASE    0xc0000000ULL

/* ---- Fixture: a machine with a root bus and one device with an MMIO BAR ---- */

typedef struct Fixture {
    Machine *m;
    PCIBus *root;
    PCIDevice *dev;
    unsigned mmio_reads, mmio_writes;
    uint64_t last_offset;
} Fixture;

static uint64_t count_read(void *opaque, uint64_t offset, unsigned size)
{
    Fixture *f = opaque;

    f->mmio_reads++;
    f->last_offset = offset;
    return 0x11223344;
}

static void count_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    Fixture *f = opaque;

    f->mmio_writes++;
    f->last_offset = offset;
}

static const MemoryRegionOps count_ops = {
    .read = count_read, .write = count_write, .min_access = 1, .max_access = 8,
};

static int setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    GError *err = NULL;

    f->m = machine_new(64 * MiB, &err);
    assert_non_null(f->m);
    f->root = pci_root_bus_new(f->m);
    assert_ptr_equal(machine_pci_root(f->m), f->root);
    f->dev = pci_device_new(f->m, f->root, PCI_DEVFN(3, 0), "test-dev", "td",
                            TEST_VENDOR, TEST_DEVICE, 0x0200, &err);
    assert_non_null(f->dev);
    pci_register_bar(f->dev, 0, PCI_BAR_MEM32, 0x1000, &count_ops, NULL, f);
    pci_register_bar(f->dev, 2, PCI_BAR_MEM64, 1 * MiB, &count_ops, NULL, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;

    machine_free(f->m); /* frees the PCI tree through the cleanup hook */
    g_free(f);
    return 0;
}

static uint32_t cfg_read(PCIDevice *d, uint32_t off, unsigned len)
{
    return pci_config_read(d, off, len);
}

static uint32_t mmio_read32(Machine *m, uint64_t addr, MemTxResult *res)
{
    uint8_t b[4];
    MemTxResult r = machine_mem_rw(m, addr, b, 4, false);

    if (res) {
        *res = r;
    }
    return pci_get_long(b);
}

/* Mechanism #1 through the machine's port space. */
static uint32_t cf8_read(Machine *m, uint8_t bus, uint8_t devfn, uint16_t reg,
                         unsigned len)
{
    machine_pio_write(m, 0xcf8, 0x80000000u | (bus << 16) | (devfn << 8) |
                      (reg & 0xfc), 4);
    return machine_pio_read(m, 0xcfc + (reg & 3), len);
}

static void cf8_write(Machine *m, uint8_t bus, uint8_t devfn, uint16_t reg,
                      uint32_t val, unsigned len)
{
    machine_pio_write(m, 0xcf8, 0x80000000u | (bus << 16) | (devfn << 8) |
                      (reg & 0xfc), 4);
    machine_pio_write(m, 0xcfc + (reg & 3), val, len);
}

/* ---- Config space ---- */

static void test_ids_read_only(void **state)
{
    Fixture *f = *state;

    assert_int_equal(cfg_read(f->dev, PCI_VENDOR_ID, 2), TEST_VENDOR);
    assert_int_equal(cfg_read(f->dev, PCI_DEVICE_ID, 2), TEST_DEVICE);
    pci_config_write(f->dev, PCI_VENDOR_ID, 0xdeadbeef, 4);
    assert_int_equal(cfg_read(f->dev, PCI_VENDOR_ID, 4),
                     (TEST_DEVICE << 16) | TEST_VENDOR);
    assert_int_equal(cfg_read(f->dev, PCI_CLASS_DEVICE, 2), 0x0200);
    pci_config_write(f->dev, PCI_CLASS_DEVICE, 0x1234, 2);
    assert_int_equal(cfg_read(f->dev, PCI_CLASS_DEVICE, 2), 0x0200);
}

static void test_command_writable_bits(void **state)
{
    Fixture *f = *state;

    pci_config_write(f->dev, PCI_COMMAND, 0xffff, 2);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                     PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    pci_config_write(f->dev, PCI_COMMAND, 0, 2);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2), 0);
}

static void test_status_rw1c(void **state)
{
    Fixture *f = *state;
    uint16_t errors = 0x8000 | 0x2000; /* detected parity, master abort */

    /* The device model raises error bits; the guest clears them with 1s. */
    pci_set_word(f->dev->config + PCI_STATUS, errors | PCI_STATUS_CAP_LIST);
    pci_config_write(f->dev, PCI_STATUS, 0, 2);
    assert_int_equal(cfg_read(f->dev, PCI_STATUS, 2), errors | PCI_STATUS_CAP_LIST);
    pci_config_write(f->dev, PCI_STATUS, 0x2000 | PCI_STATUS_CAP_LIST, 2);
    assert_int_equal(cfg_read(f->dev, PCI_STATUS, 2), 0x8000 | PCI_STATUS_CAP_LIST);
    /* A dword write at COMMAND reaches STATUS too. */
    pci_config_write(f->dev, PCI_COMMAND, 0x80000000u, 4);
    assert_int_equal(cfg_read(f->dev, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}

static void test_config_bounds(void **state)
{
    Fixture *f = *state;

    /* Conventional device: nothing past 256 bytes. */
    assert_int_equal(cfg_read(f->dev, 0x100, 4), 0xffffffff);
    assert_int_equal(cfg_read(f->dev, 0xff, 2), 0xffff);
    assert_int_equal(cfg_read(f->dev, 0x40, 3), 0xffffff);
    pci_config_write(f->dev, 0xfe, 0x12345678, 4); /* ignored, no crash */
    /* Device-specific space outside capabilities is scratch, as in QEMU. */
    pci_config_write(f->dev, 0x80, 0xa5a5a5a5, 4);
    assert_int_equal(cfg_read(f->dev, 0x80, 4), 0xa5a5a5a5);
}

static void test_capabilities_list(void **state)
{
    Fixture *f = *state;
    uint8_t a = pci_add_capability(f->dev, 0x09, 8);
    uint8_t b = pci_add_capability(f->dev, PCI_CAP_ID_MSI, 14);

    assert_true(a >= 0x40 && b >= 0x40 && a != b);
    assert_true(cfg_read(f->dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    /* Newest first, then the older one, then the end. */
    assert_int_equal(cfg_read(f->dev, PCI_CAPABILITY_LIST, 1), b);
    assert_int_equal(cfg_read(f->dev, b, 1), PCI_CAP_ID_MSI);
    assert_int_equal(cfg_read(f->dev, b + 1, 1), a);
    assert_int_equal(cfg_read(f->dev, a + 1, 1), 0);
    /* Capability bytes are read-only unless their owner says otherwise. */
    pci_config_write(f->dev, a, 0xffffffff, 4);
    assert_int_equal(cfg_read(f->dev, a, 1), 0x09);
    /* Non-overlapping. */
    assert_true(b >= a + 8 || a >= b + 16);
}

static void test_ext_capabilities(void **state)
{
    Fixture *f = *state;
    uint16_t a, b;

    assert_int_equal(pci_add_ext_capability(f->dev, PCI_EXT_CAP_ID_ATS, 1, 8), 0);
    f->dev->is_express = true;
    a = pci_add_ext_capability(f->dev, PCI_EXT_CAP_ID_ATS, 1, 8);
    b = pci_add_ext_capability(f->dev, PCI_EXT_CAP_ID_PASID, 1, 8);
    assert_int_equal(a, 0x100);
    assert_true(b > a);
    assert_int_equal(cfg_read(f->dev, a, 4),
                     PCI_EXT_CAP_ID_ATS | (1u << 16) | ((uint32_t)b << 20));
    assert_int_equal(cfg_read(f->dev, b, 4), PCI_EXT_CAP_ID_PASID | (1u << 16));
}

/* ---- BARs ---- */

static void test_bar_sizing(void **state)
{
    Fixture *f = *state;

    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0, 4), 0);
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
    /* 64-bit BAR 2/3, 1 MiB. */
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0 + 8, 4),
                     PCI_BASE_ADDRESS_MEM_TYPE_64);
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0 + 8, 0xffffffff, 4);
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0 + 12, 0xffffffff, 4);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0 + 8, 4),
                     0xfff00000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0 + 12, 4), 0xffffffff);
    /* Unused BARs stay zero. */
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0 + 4, 0xffffffff, 4);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0 + 4, 4), 0);
}

static void test_bar_mapping_follows_command(void **state)
{
    Fixture *f = *state;
    MemTxResult res;

    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, BAR_BASE, 4);
    mmio_read32(f->m, BAR_BASE + 0x10, &res);
    assert_int_equal(f->mmio_reads, 0);
    assert_int_not_equal(res, MEMTX_OK);

    pci_config_write(f->dev, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_int_equal(mmio_read32(f->m, BAR_BASE + 0x10, &res), 0x11223344);
    assert_int_equal(res, MEMTX_OK);
    assert_int_equal(f->mmio_reads, 1);
    assert_int_equal(f->last_offset, 0x10);

    /* Moving the BAR moves the decode. */
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, BAR_BASE + 0x10000, 4);
    mmio_read32(f->m, BAR_BASE + 0x10, NULL);
    assert_int_equal(f->mmio_reads, 1);
    mmio_read32(f->m, BAR_BASE + 0x10004, NULL);
    assert_int_equal(f->mmio_reads, 2);
    assert_int_equal(f->last_offset, 4);

    /* MEMORY off: gone. */
    pci_config_write(f->dev, PCI_COMMAND, 0, 2);
    mmio_read32(f->m, BAR_BASE + 0x10004, NULL);
    assert_int_equal(f->mmio_reads, 2);
}

static void test_bar_invalid_addresses_do_not_decode(void **state)
{
    Fixture *f = *state;
    uint8_t b[4] = { 0 };

    pci_config_write(f->dev, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    /* Address 0 and the sizing pattern are not decoded. */
    machine_mem_rw(f->m, 0xfffff000, b, 4, true);
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    machine_mem_rw(f->m, 0xfffff000, b, 4, true);
    assert_int_equal(f->mmio_writes, 0);

    /* 64-bit BAR above 4G. */
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0 + 8, 0x00000000, 4);
    pci_config_write(f->dev, PCI_BASE_ADDRESS_0 + 12, 0x80, 4);
    assert_true(pci_bar_address(f->dev, 2) == 0x8000000000ULL);
    machine_mem_rw(f->m, 0x8000000000ULL + 0x100, b, 4, true);
    assert_int_equal(f->mmio_writes, 1);
    assert_int_equal(f->last_offset, 0x100);
}

/* ---- Mechanism #1 and ECAM ---- */

static void test_cf8_host_bridge_identity(void **state)
{
    Fixture *f = *state;

    assert_int_equal(cf8_read(f->m, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
    assert_int_equal(cf8_read(f->m, 0, 0, PCI_VENDOR_ID, 2), 0x8086);
    assert_int_equal(cf8_read(f->m, 0, 0, PCI_DEVICE_ID, 2), 0x29c0);
    assert_int_equal(cf8_read(f->m, 0, 0, 3, 1), 0x29);
    assert_int_equal(cf8_read(f->m, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600);
    /* The latch reads back. */
    machine_pio_write(f->m, 0xcf8, 0x80000010, 4);
    assert_int_equal(machine_pio_read(f->m, 0xcf8, 4), 0x80000010);
}

static void test_cf8_absent_and_disabled(void **state)
{
    Fixture *f = *state;

    assert_int_equal(cf8_read(f->m, 0, PCI_DEVFN(9, 0), 0, 4), 0xffffffff);
    assert_int_equal(cf8_read(f->m, 7, 0, 0, 2), 0xffff);
    machine_pio_write(f->m, 0xcf8, PCI_DEVFN(3, 0) << 8, 4); /* enable clear */
    assert_int_equal(machine_pio_read(f->m, 0xcfc, 4), 0xffffffff);
    machine_pio_write(f->m, 0xcfc, 0x7, 2);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2), 0);
}

static void test_cf8_sub_dword_access(void **state)
{
    Fixture *f = *state;

    assert_int_equal(cf8_read(f->m, 0, PCI_DEVFN(3, 0), 2, 2), TEST_DEVICE);
    assert_int_equal(cf8_read(f->m, 0, PCI_DEVFN(3, 0), 1, 1), TEST_VENDOR >> 8);
    cf8_write(f->m, 0, PCI_DEVFN(3, 0), PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
    cf8_write(f->m, 0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 0x0b, 1);
    assert_int_equal(cfg_read(f->dev, PCI_INTERRUPT_LINE, 1), 0x0b);
    /* A byte at 0xcff lands on register + 3. */
    cf8_write(f->m, 0, PCI_DEVFN(3, 0), PCI_BASE_ADDRESS_0 + 3, 0xc1, 1);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0, 4), 0xc1000000);
}

static void test_ecam(void **state)
{
    Fixture *f = *state;
    uint64_t dev_cfg = Q35_ECAM_BASE + (PCI_DEVFN(3, 0) << 12);
    uint8_t b[4];

    assert_int_equal(mmio_read32(f->m, Q35_ECAM_BASE, NULL), 0x29c08086);
    assert_int_equal(mmio_read32(f->m, dev_cfg, NULL),
                     (TEST_DEVICE << 16) | TEST_VENDOR);
    assert_int_equal(mmio_read32(f->m, dev_cfg + (PCI_DEVFN(1, 0) << 12), NULL),
                     0xffffffff);
    pci_set_word(b, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    machine_mem_rw(f->m, dev_cfg + PCI_COMMAND, b, 2, true);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2),
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    /* Extended space of a conventional device reads all-ones. */
    assert_int_equal(mmio_read32(f->m, dev_cfg + 0x100, NULL), 0xffffffff);
    f->dev->is_express = true;
    assert_int_equal(mmio_read32(f->m, dev_cfg + 0x100, NULL), 0);
}

/* ---- Bridges ---- */

static void make_device(Fixture *f, const char *spec)
{
    GError *err = NULL;
    DeviceOpts *o = opts_parse(spec, "driver", &err);
    bool ok;

    assert_non_null(o);
    ok = machine_create_device(f->m, o, &err);
    if (!ok) {
        fail_msg("%s: %s", spec, err->message);
    }
    opts_free(o);
}

static bool try_device(Fixture *f, const char *spec, char **msg)
{
    GError *err = NULL;
    DeviceOpts *o = opts_parse(spec, "driver", &err);
    bool ok;

    assert_non_null(o);
    ok = machine_create_device(f->m, o, &err);
    if (!ok && msg) {
        *msg = g_strdup(err->message);
    }
    g_clear_error(&err);
    opts_free(o);
    return ok;
}

static void program_bridge(PCIDevice *br, uint8_t pri, uint8_t sec, uint8_t sub)
{
    pci_config_write(br, PCI_PRIMARY_BUS, pri | (sec << 8) | (sub << 16), 4);
}

static void test_bridge_forwarding_and_alias(void **state)
{
    Fixture *f = *state;
    PCIDevice *br0, *br1, *e0, *e1;

    make_device(f, "pci-bridge,id=br0,chassis_nr=1,addr=0x5");
    make_device(f, "edu,id=e0,bus=br0,addr=2");
    make_device(f, "pci-bridge,id=br1,chassis_nr=2,bus=br0,addr=4");
    make_device(f, "edu,id=e1,bus=br1");
    br0 = pci_find_device_by_id(f->m, "br0");
    br1 = pci_find_device_by_id(f->m, "br1");
    e0 = pci_find_device_by_id(f->m, "e0");
    e1 = pci_find_device_by_id(f->m, "e1");
    assert_non_null(br0);
    assert_non_null(e1);
    assert_int_equal(cfg_read(br0, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_BRIDGE);
    assert_int_equal(cfg_read(br0, PCI_CLASS_DEVICE, 2), 0x0604);
    assert_int_equal(cfg_read(br0, PCI_VENDOR_ID, 4), 0x00011b36);
    assert_int_equal(e1->devfn, PCI_DEVFN(0, 0));

    /* Unnumbered: nothing behind the bridge answers. */
    assert_null(pci_find_device(f->m, 1, PCI_DEVFN(2, 0)));
    assert_int_equal(cf8_read(f->m, 1, PCI_DEVFN(2, 0), 0, 4), 0xffffffff);

    program_bridge(br0, 0, 1, 2);
    assert_int_equal(cfg_read(br0, PCI_SECONDARY_BUS, 1), 1);
    assert_ptr_equal(pci_find_device(f->m, 1, PCI_DEVFN(2, 0)), e0);
    assert_int_equal(cf8_read(f->m, 1, PCI_DEVFN(2, 0), 0, 4), 0x11e81234);
    /* Bus 2 lies in br0's range but br1 is not numbered yet. */
    assert_null(pci_find_device(f->m, 2, 0));
    program_bridge(br1, 1, 2, 2);
    assert_ptr_equal(pci_find_device(f->m, 2, 0), e1);
    assert_int_equal(mmio_read32(f->m, Q35_ECAM_BASE + (2 << 20), NULL),
                     0x11e81234);
    assert_int_equal(pci_dev_bus_num(e1), 2);

    /* Everything below br0 is seen as br0 (00:05.0); root devices as
     * themselves. */
    assert_int_equal(pci_requester_id(e0), PCI_BDF(0, PCI_DEVFN(5, 0)));
    assert_int_equal(pci_requester_id(e1), PCI_BDF(0, PCI_DEVFN(5, 0)));
    assert_int_equal(pci_requester_id(br1), PCI_BDF(0, PCI_DEVFN(5, 0)));
    assert_int_equal(pci_requester_id(f->dev), PCI_BDF(0, PCI_DEVFN(3, 0)));

    /* Renumbering moves the config decode. */
    program_bridge(br0, 0, 7, 9);
    assert_null(pci_find_device(f->m, 1, PCI_DEVFN(2, 0)));
    assert_ptr_equal(pci_find_device(f->m, 7, PCI_DEVFN(2, 0)), e0);
    assert_null(pci_find_device(f->m, 2, 0)); /* br1 says 2, outside 7..9 */

    /* Bridge reset clears the bus numbers. */
    machine_system_reset(f->m);
    assert_int_equal(cfg_read(br0, PCI_SECONDARY_BUS, 1), 0);
    assert_null(pci_find_device(f->m, 7, PCI_DEVFN(2, 0)));
}

static void test_bridge_needs_chassis(void **state)
{
    Fixture *f = *state;
    g_autofree char *msg = NULL;

    assert_false(try_device(f, "pci-bridge,id=b", &msg));
    assert_non_null(strstr(msg, "chassis"));
}

/* ---- Placement ---- */

static void test_placement(void **state)
{
    Fixture *f = *state;
    g_autofree char *dup = NULL, *badaddr = NULL, *nobus = NULL, *mf = NULL;
    uint8_t devfn;

    /* First free slot: 00:00.0 is the host bridge, 03.0 the fixture. */
    make_device(f, "edu,id=a");
    assert_int_equal(pci_find_device_by_id(f->m, "a")->devfn, PCI_DEVFN(1, 0));
    assert_false(try_device(f, "edu,id=b,addr=3", &dup));
    assert_non_null(strstr(dup, "in use"));
    assert_false(try_device(f, "edu,id=c,addr=0x20", &badaddr));
    assert_non_null(strstr(badaddr, "addr"));
    assert_false(try_device(f, "edu,id=d,bus=nope", &nobus));
    assert_non_null(strstr(nobus, "nope"));
    /* A function next to a single-function device is refused... */
    assert_false(try_device(f, "edu,id=e,addr=3.1", &mf));
    /* ...but a multifunction slot takes it. */
    make_device(f, "edu,id=f,addr=0x6.0,multifunction=on");
    make_device(f, "iommu-testdev,id=g,addr=6.7");
    assert_int_equal(pci_find_device_by_id(f->m, "g")->devfn, PCI_DEVFN(6, 7));
    assert_true(cfg_read(pci_find_device_by_id(f->m, "f"), PCI_HEADER_TYPE, 1) &
                PCI_HEADER_TYPE_MULTI_FUNCTION);

    assert_true(pci_parse_devfn("1f.7", &devfn, NULL));
    assert_int_equal(devfn, 0xff);
    assert_true(pci_parse_devfn("0x3", &devfn, NULL));
    assert_int_equal(devfn, 0x18);
    assert_false(pci_parse_devfn("3.8", &devfn, NULL));
    assert_false(pci_parse_devfn("", &devfn, NULL));
    assert_false(pci_parse_devfn("3.", &devfn, NULL));
    assert_false(pci_parse_devfn("zz", &devfn, NULL));
}

static void test_reset_unmaps(void **state)
{
    Fixture *f = *state;

    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, BAR_BASE, 4);
    pci_config_write(f->dev, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    mmio_read32(f->m, BAR_BASE, NULL);
    assert_int_equal(f->mmio_reads, 1);
    machine_system_reset(f->m);
    assert_int_equal(cfg_read(f->dev, PCI_COMMAND, 2), 0);
    assert_int_equal(cfg_read(f->dev, PCI_BASE_ADDRESS_0, 4), 0);
    assert_int_equal(cfg_read(f->dev, PCI_VENDOR_ID, 2), TEST_VENDOR);
    mmio_read32(f->m, BAR_BASE, NULL);
    assert_int_equal(f->mmio_reads, 1);
}

static void test_unplug_unmaps(void **state)
{
    Fixture *f = *state;

    pci_config_write(f->dev, PCI_BASE_ADDRESS_0, BAR_BASE, 4);
    pci_config_write(f->dev, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    pci_device_unplug(f->dev);
    f->dev = NULL;
    mmio_read32(f->m, BAR_BASE, NULL);
    assert_int_equal(f->mmio_reads, 0);
    assert_null(pci_find_device(f->m, 0, PCI_DEVFN(3, 0)));
    assert_int_equal(cf8_read(f->m, 0, PCI_DEVFN(3, 0), 0, 4), 0xffffffff);
}

/* ---- DMA ---- */

#define FAKE_MAX_REQ 32
#define IOVA_OFFSET  0x100000ULL   /* fake IOMMU: gpa = iova + 1 MiB */

typedef struct FakeIommu {
    IommuRequest req[FAKE_MAX_REQ];
    unsigned nreq;
    uint64_t page_mask;
    uint64_t fault_page;   /* iova page that faults (0 = none) */
    unsigned perm;
} FakeIommu;

static void fake_translate(void *opaque, const IommuRequest *req, IommuResult *res)
{
    FakeIommu *io = opaque;

    if (io->nreq < FAKE_MAX_REQ) {
        io->req[io->nreq] = *req;
    }
    io->nreq++;
    if (io->fault_page && (req->addr & ~io->page_mask) == io->fault_page) {
        res->ok = false;
        res->fault_reason = 0x5;
        return;
    }
    res->ok = true;
    res->out_addr = req->addr + IOVA_OFFSET;
    res->page_mask = io->page_mask;
    res->perm = io->perm;
}

static const IommuOps fake_iommu_ops = { .translate = fake_translate };

static void enable_master(PCIDevice *d)
{
    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
}

static void test_dma_bus_master_off(void **state)
{
    Fixture *f = *state;
    uint8_t *ram = machine_ram_ptr(f->m, 0x2000, 16);
    uint8_t buf[16];

    memset(ram, 0x5a, 16);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(pci_dma_write(f->dev, 0x2000, buf, 16), MEMTX_ERROR);
    assert_int_equal(ram[0], 0x5a);
    assert_int_equal(pci_dma_read(f->dev, 0x2000, buf, 16), MEMTX_ERROR);
    assert_int_equal(buf[0], 0); /* device sees zeros, RAM untouched */
    assert_int_equal(ram[15], 0x5a);
}

static void test_dma_passthrough(void **state)
{
    Fixture *f = *state;
    uint8_t *ram = machine_ram_ptr(f->m, 0x3000, 8192);
    uint8_t buf[8192];

    enable_master(f->dev);
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 7;
    }
    assert_int_equal(pci_dma_write(f->dev, 0x3000, buf, sizeof(buf)), MEMTX_OK);
    assert_memory_equal(ram, buf, sizeof(buf));
    memset(buf, 0, sizeof(buf));
    assert_int_equal(pci_dma_read(f->dev, 0x3000, buf, sizeof(buf)), MEMTX_OK);
    assert_memory_equal(ram, buf, sizeof(buf));
    /* Off the end of RAM: the RAM part moves, the rest fails. */
    assert_int_equal(pci_dma_write(f->dev, 64 * MiB - 4, buf, 8),
                     MEMTX_DECODE_ERROR);
    assert_memory_equal(machine_ram_ptr(f->m, 64 * MiB - 4, 4), buf, 4);
    /* MMIO is not a DMA target. */
    assert_int_not_equal(pci_dma_read(f->dev, Q35_ECAM_BASE, buf, 4), MEMTX_OK);
}

static void test_dma_iommu_page_split(void **state)
{
    Fixture *f = *state;
    FakeIommu io = { .page_mask = 0xfff, .perm = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE };
    uint8_t buf[0x2100];
    PCIDmaAttrs attrs = { .pasid = 5, .priv = true };

    machine_set_iommu(f->m, &fake_iommu_ops, &io);
    enable_master(f->dev);
    memset(buf, 0xab, sizeof(buf));
    /* 0x2100 bytes from 0x10f80: pages 0x10000, 0x11000, 0x12000, 0x13000. */
    assert_int_equal(pci_dma_rw(f->dev, 0x10f80, buf, sizeof(buf), true, attrs),
                     MEMTX_OK);
    assert_int_equal(io.nreq, 4);
    assert_true(io.req[0].addr == 0x10f80);
    assert_true(io.req[1].addr == 0x11000);
    assert_true(io.req[3].addr == 0x13000);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(io.req[i].sid, PCI_BDF(0, PCI_DEVFN(3, 0)));
        assert_int_equal(io.req[i].pasid, 5);
        assert_true(io.req[i].priv);
        assert_int_equal(io.req[i].access, IOMMU_ACCESS_WRITE);
        assert_int_equal(io.req[i].at, IOMMU_AT_UNTRANSLATED);
    }
    assert_memory_equal(machine_ram_ptr(f->m, 0x10f80 + IOVA_OFFSET, sizeof(buf)),
                        buf, sizeof(buf));
    /* Untouched at the identity address. */
    assert_int_equal(*machine_ram_ptr(f->m, 0x10f80, 1), 0);

    /* A 2 MiB page: one request covers it. */
    io.nreq = 0;
    io.page_mask = 0x1fffff;
    assert_int_equal(pci_dma_read(f->dev, 0x10f80, buf, sizeof(buf)), MEMTX_OK);
    assert_int_equal(io.nreq, 1);
    assert_int_equal(io.req[0].access, IOMMU_ACCESS_READ);
    assert_int_equal(io.req[0].pasid, IOMMU_NO_PASID);
    machine_set_iommu(f->m, NULL, NULL);
}

static void test_dma_iommu_fault_stops(void **state)
{
    Fixture *f = *state;
    FakeIommu io = { .page_mask = 0xfff, .fault_page = 0x21000,
                     .perm = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE };
    uint8_t buf[0x3000];
    uint8_t *dst = machine_ram_ptr(f->m, 0x20000 + IOVA_OFFSET, sizeof(buf));

    machine_set_iommu(f->m, &fake_iommu_ops, &io);
    enable_master(f->dev);
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(pci_dma_write(f->dev, 0x20000, buf, sizeof(buf)), MEMTX_ERROR);
    assert_int_equal(io.nreq, 2); /* stopped at the faulting page */
    assert_int_equal(dst[0xfff], 0x77);
    assert_int_equal(dst[0x1000], 0);
    assert_int_equal(dst[0x2000], 0);

    /* Reads: the part before the fault arrives, the rest reads as zero. */
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(pci_dma_read(f->dev, 0x20000, buf, sizeof(buf)), MEMTX_ERROR);
    assert_int_equal(buf[0], 0x77);
    assert_int_equal(buf[0x1000], 0);

    /* A mapping without the needed permission fails too. */
    io.fault_page = 0;
    io.perm = IOMMU_ACCESS_READ;
    assert_int_equal(pci_dma_write(f->dev, 0x20000, buf, 4), MEMTX_ERROR);
    machine_set_iommu(f->m, NULL, NULL);
}

static void test_dma_msi_window(void **state)
{
    Fixture *f = *state;
    FakeIommu io = { .page_mask = 0xfff, .perm = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE };
    uint8_t msg[8] = { 0x21, 0x43, 0x65, 0x87, 1, 2, 3, 4 };
    PCIDmaAttrs with_pasid = { .pasid = 1 };
    const GArray *log;
    const MsiRecord *rec;

    enable_master(f->dev);
    machine_msi_log_clear(f->m);
    assert_int_equal(pci_dma_write(f->dev, 0xfee01004, msg, 4), MEMTX_OK);
    log = machine_msi_log(f->m);
    assert_int_equal(log->len, 1);
    rec = &g_array_index(log, MsiRecord, 0);
    assert_true(rec->addr == 0xfee01004);
    assert_int_equal(rec->data, 0x87654321);
    assert_int_equal(rec->sid, PCI_BDF(0, PCI_DEVFN(3, 0)));

    /* Anything but a DWORD write there is blocked. */
    assert_int_equal(pci_dma_write(f->dev, 0xfee00000, msg, 8), MEMTX_ERROR);
    assert_int_equal(pci_dma_read(f->dev, 0xfee00000, msg, 4), MEMTX_ERROR);
    assert_int_equal(machine_msi_log(f->m)->len, 1);

    /* With an IOMMU: interrupt writes bypass translation; the blocked ones
     * are shown to it; PASID requests are translated like any address. */
    machine_set_iommu(f->m, &fake_iommu_ops, &io);
    assert_int_equal(pci_dma_write(f->dev, 0xfee00000, msg, 4), MEMTX_OK);
    assert_int_equal(io.nreq, 0);
    assert_int_equal(machine_msi_log(f->m)->len, 2);
    assert_int_equal(pci_dma_read(f->dev, 0xfee00000, msg, 4), MEMTX_ERROR);
    assert_int_equal(io.nreq, 1);
    assert_int_equal(pci_dma_rw(f->dev, 0xfee00000, msg, 4, true, with_pasid),
                     MEMTX_DECODE_ERROR); /* 0xfef00000 is not RAM */
    assert_int_equal(io.nreq, 2);
    assert_int_equal(machine_msi_log(f->m)->len, 2);
    machine_set_iommu(f->m, NULL, NULL);
}

static void test_msi_capability(void **state)
{
    Fixture *f = *state;
    uint8_t cap = pci_msi_init(f->dev, 4);
    const MsiRecord *rec;

    assert_int_not_equal(cap, 0);
    assert_int_equal(cfg_read(f->dev, cap, 1), PCI_CAP_ID_MSI);
    assert_int_equal(cfg_read(f->dev, cap + PCI_MSI_FLAGS, 2),
                     PCI_MSI_FLAGS_64BIT | (2 << 1));
    pci_config_write(f->dev, cap + PCI_MSI_ADDRESS_LO, 0xfee00abf, 4);
    assert_int_equal(cfg_read(f->dev, cap + PCI_MSI_ADDRESS_LO, 4), 0xfee00abc);
    pci_config_write(f->dev, cap + PCI_MSI_ADDRESS_HI, 0, 4);
    pci_config_write(f->dev, cap + PCI_MSI_DATA_64, 0x4041, 2);
    enable_master(f->dev);
    machine_msi_log_clear(f->m);

    pci_msi_notify(f->dev, 0);              /* not enabled yet */
    assert_int_equal(machine_msi_log(f->m)->len, 0);
    /* Enable with 4 vectors (QSIZE = 2). */
    pci_config_write(f->dev, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | (2 << 4), 2);
    assert_true(pci_msi_enabled(f->dev));
    pci_msi_notify(f->dev, 2);
    assert_int_equal(machine_msi_log(f->m)->len, 1);
    rec = &g_array_index(machine_msi_log(f->m), MsiRecord, 0);
    assert_true(rec->addr == 0xfee00abc);
    assert_int_equal(rec->data, 0x4042);
    assert_int_equal(rec->sid, PCI_BDF(0, PCI_DEVFN(3, 0)));
    pci_msi_notify(f->dev, 4);              /* beyond the enabled vectors */
    assert_int_equal(machine_msi_log(f->m)->len, 1);

    /* An MSI is a memory write: no bus mastering, no message. */
    pci_config_write(f->dev, PCI_COMMAND, 0, 2);
    pci_msi_notify(f->dev, 0);
    assert_int_equal(machine_msi_log(f->m)->len, 1);

    /* Reset disables it and clears the address. */
    machine_system_reset(f->m);
    assert_false(pci_msi_enabled(f->dev));
    assert_int_equal(cfg_read(f->dev, cap + PCI_MSI_ADDRESS_LO, 4), 0);
    assert_int_equal(cfg_read(f->dev, cap, 1), PCI_CAP_ID_MSI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_ids_read_only),
        T(test_command_writable_bits),
        T(test_status_rw1c),
        T(test_config_bounds),
        T(test_capabilities_list),
        T(test_ext_capabilities),
        T(test_bar_sizing),
        T(test_bar_mapping_follows_command),
        T(test_bar_invalid_addresses_do_not_decode),
        T(test_cf8_host_bridge_identity),
        T(test_cf8_absent_and_disabled),
        T(test_cf8_sub_dword_access),
        T(test_ecam),
        T(test_bridge_forwarding_and_alias),
        T(test_bridge_needs_chassis),
        T(test_placement),
        T(test_reset_unmaps),
        T(test_unplug_unmaps),
        T(test_dma_bus_master_off),
        T(test_dma_passthrough),
        T(test_dma_iommu_page_split),
        T(test_dma_iommu_fault_stops),
        T(test_dma_msi_window),
        T(test_msi_capability),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
