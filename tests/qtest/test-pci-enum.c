/*
 * PCI enumeration as a guest does it: configuration mechanism #1 and ECAM,
 * both test devices on the root bus and one behind a pci-bridge the test
 * numbers itself, BAR sizing and programming.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>

#include "libqtest.h"

#define ECAM_BASE      0xb0000000ull
#define BAR_WINDOW     0xfe000000ull
#define EDU_ID         0x11e81234u
#define TESTDEV_ID     0x00051b36u
#define BRIDGE_ID      0x00011b36u
#define HOST_ID        0x29c08086u
#define BRIDGE_DEVFN   (5 << 3)
#define BEHIND_DEVFN   (3 << 3)

static QTestState *qts;

static int start_machine(void **state)
{
    qts = qtest_init("-machine q35 -m 512M "
                     "-device edu,id=e0 -device iommu-testdev,id=t0 "
                     "-device pci-bridge,id=br0,chassis_nr=1,addr=0x5 "
                     "-device edu,id=e1,bus=br0,addr=3");
    return qts ? 0 : -1;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    qts = NULL;
    return 0;
}

static uint64_t ecam_addr(uint8_t bus, uint8_t devfn, uint16_t reg)
{
    return ECAM_BASE + ((uint64_t)bus << 20) + ((uint64_t)devfn << 12) + reg;
}

/* Vendor/device ids of every function on a bus, as mechanism #1 sees them. */
static void scan_bus_cf8(uint8_t bus, uint32_t ids[256])
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        ids[devfn] = qtest_pci_cfg_read(qts, bus, devfn, 0, 4);
    }
}

static int count_id(const uint32_t ids[256], uint32_t id)
{
    int n = 0;

    for (unsigned i = 0; i < 256; i++) {
        n += ids[i] == id;
    }
    return n;
}

static void number_bridge(uint8_t secondary)
{
    /* primary 0, secondary, subordinate = secondary */
    qtest_pci_cfg_write(qts, 0, BRIDGE_DEVFN, 0x18,
                        (secondary << 8) | (secondary << 16), 4);
}

static void test_root_bus_cf8(void **state)
{
    uint32_t ids[256];

    scan_bus_cf8(0, ids);
    assert_int_equal(ids[0], HOST_ID);
    assert_int_equal(count_id(ids, EDU_ID), 1);
    assert_int_equal(count_id(ids, TESTDEV_ID), 1);
    assert_int_equal(ids[BRIDGE_DEVFN], BRIDGE_ID);
    /* The edu behind the bridge is not on bus 0. */
    assert_int_equal(ids[BEHIND_DEVFN], 0xffffffff);

    /* Class codes and header types. */
    assert_int_equal(qtest_pci_cfg_read(qts, 0, 0, 0x0a, 2), 0x0600);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, BRIDGE_DEVFN, 0x0a, 2), 0x0604);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, BRIDGE_DEVFN, 0x0e, 1), 1);
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (ids[devfn] == EDU_ID || ids[devfn] == TESTDEV_ID) {
            assert_int_equal(qtest_pci_cfg_read(qts, 0, devfn, 0x0a, 2), 0x00ff);
            assert_int_equal(qtest_pci_cfg_read(qts, 0, devfn, 0x0e, 1), 0);
        }
    }
    /* Sub-dword data port accesses. */
    assert_int_equal(qtest_pci_cfg_read(qts, 0, 0, 2, 2), HOST_ID >> 16);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, 0, 1, 1), (HOST_ID >> 8) & 0xff);
}

static void test_root_bus_ecam_matches_cf8(void **state)
{
    uint32_t ids[256];

    scan_bus_cf8(0, ids);
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        assert_int_equal(qtest_readl(qts, ecam_addr(0, devfn, 0)), ids[devfn]);
    }
    assert_int_equal(qtest_readw(qts, ecam_addr(0, 0, 2)), HOST_ID >> 16);
    assert_int_equal(qtest_readb(qts, ecam_addr(0, BRIDGE_DEVFN, 0x0e)), 1);
}

static void test_behind_bridge(void **state)
{
    uint8_t bus, devfn;
    uint32_t ids[256];

    /* Unnumbered bridge: nothing answers on bus 1. */
    assert_int_equal(qtest_pci_cfg_read(qts, 1, BEHIND_DEVFN, 0, 4), 0xffffffff);

    number_bridge(1);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, BRIDGE_DEVFN, 0x19, 1), 1);
    scan_bus_cf8(1, ids);
    assert_int_equal(ids[BEHIND_DEVFN], EDU_ID);
    assert_int_equal(count_id(ids, 0xffffffff), 255);
    assert_int_equal(qtest_readl(qts, ecam_addr(1, BEHIND_DEVFN, 0)), EDU_ID);
    assert_int_equal(qtest_readl(qts, ecam_addr(2, BEHIND_DEVFN, 0)), 0xffffffff);

    /* The library's scan finds the testdev (only on bus 0). */
    assert_true(qtest_pci_find(qts, 0x1b36, 0x0005, &bus, &devfn) >= 0);
    assert_int_equal(bus, 0);
    number_bridge(9);
    assert_int_equal(qtest_pci_cfg_read(qts, 1, BEHIND_DEVFN, 0, 4), 0xffffffff);
    assert_int_equal(qtest_readl(qts, ecam_addr(9, BEHIND_DEVFN, 0)), EDU_ID);
}

static int find_on_root(uint32_t id)
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (qtest_pci_cfg_read(qts, 0, devfn, 0, 4) == id) {
            return devfn;
        }
    }
    return -1;
}

static void test_bar_sizing(void **state)
{
    int edu = find_on_root(EDU_ID), tdev = find_on_root(TESTDEV_ID);

    assert_true(edu > 0 && tdev > 0);
    qtest_pci_cfg_write(qts, 0, tdev, 0x10, 0xffffffff, 4);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, tdev, 0x10, 4), 0xfffff000);
    qtest_pci_cfg_write(qts, 0, edu, 0x10, 0xffffffff, 4);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, edu, 0x10, 4), 0xfff00000);
    /* No second BAR on either. */
    qtest_pci_cfg_write(qts, 0, edu, 0x14, 0xffffffff, 4);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, edu, 0x14, 4), 0);
    qtest_pci_cfg_write(qts, 0, edu, 0x10, 0, 4);
    qtest_pci_cfg_write(qts, 0, tdev, 0x10, 0, 4);
}

static void test_bar_programming(void **state)
{
    int edu = find_on_root(EDU_ID), tdev = find_on_root(TESTDEV_ID);

    /* Nothing decodes there yet: reads see zeros, as on QEMU. */
    assert_int_equal(qtest_readl(qts, BAR_WINDOW), 0);
    qtest_pci_map_bar(qts, 0, edu, 0, BAR_WINDOW);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW), 0x010000ed);
    qtest_writel(qts, BAR_WINDOW + 4, 0x12345678);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW + 4), ~0x12345678u);

    /* The testdev's 4 KiB BAR right after edu's 1 MiB. */
    qtest_pci_map_bar(qts, 0, tdev, 0, BAR_WINDOW + 0x100000);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW + 0x100000 + 0x10), 0xffffffff);

    /* Memory decode off: both gone; back on: back. */
    qtest_pci_cfg_write(qts, 0, edu, 0x04, 0, 2);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW), 0);
    qtest_pci_cfg_write(qts, 0, edu, 0x04, 0x2, 2);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW), 0x010000ed);

    /* Move it: the old address stops decoding. */
    qtest_pci_cfg_write(qts, 0, edu, 0x10, (uint32_t)(BAR_WINDOW + 0x200000), 4);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW), 0);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW + 0x200000), 0x010000ed);

    /* The device behind the bridge decodes its BAR too. */
    number_bridge(1);
    qtest_pci_map_bar(qts, 1, BEHIND_DEVFN, 0, BAR_WINDOW + 0x400000);
    assert_int_equal(qtest_readl(qts, BAR_WINDOW + 0x400000), 0x010000ed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, start_machine, stop_machine)
        T(test_root_bus_cf8),
        T(test_root_bus_ecam_matches_cf8),
        T(test_behind_bridge),
        T(test_bar_sizing),
        T(test_bar_programming),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
