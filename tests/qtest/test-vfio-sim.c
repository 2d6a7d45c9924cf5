/*
 * vfio-pci on a simulated host, driven like a guest would: the passthrough
 * device enumerates as an iommu-testdev-compatible function (1b36:0005), its
 * DMA (executed by the simulated host device through the host IOMMU) lands at
 * the GPA when there is no vIOMMU, and the command-line errors are clear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "libqtest.h"

#define BAR0          0xfe000000ull
#define RAM_A         0x01000000ull
#define RAM_B         0x01100000ull
#define BEYOND_RAM    0x800000000ull

#define ITD_TRIGGER   0x00
#define ITD_GVA_LO    0x04
#define ITD_GVA_HI    0x08
#define ITD_LEN       0x0c
#define ITD_RESULT    0x10
#define ITD_DBELL     0x14
#define ITD_GPA_LO    0x1c
#define ITD_GPA_HI    0x20
#define ITD_FLAGS     0x28
#define ITD_FLAG_READ 0x2
#define ITD_BUSY      0xfffffffeu
#define ITD_TX_FAIL   0xdead0002u
#define ITD_MISMATCH  0xdead0004u

#define SIM_HOST \
    "-object iommufd,id=fd0,sim=on " \
    "-object iommufd-sim-unit,iommufd=fd0,id=u0,nesting=on " \
    "-object iommufd-sim-device,iommufd=fd0,id=hd0,host=0000:03:00.0,unit=u0," \
    "group=5,coherent=on,pasid=on,ats=on "

static QTestState *qts;
static uint8_t devfn;

static int start_machine(void **state)
{
    uint8_t bus;

    qts = qtest_init("-machine q35 -m 512M " SIM_HOST
                     "-device vfio-pci,host=0000:03:00.0,iommufd=fd0,id=v0");
    if (!qts) {
        return -1;
    }
    assert_true(qtest_pci_find(qts, 0x1b36, 0x0005, &bus, &devfn) >= 0);
    assert_int_equal(bus, 0);
    qtest_pci_map_bar(qts, 0, devfn, 0, BAR0);
    return 0;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    qts = NULL;
    return 0;
}

static void itd_w(uint32_t reg, uint32_t v)
{
    qtest_writel(qts, BAR0 + reg, v);
}

static uint32_t itd_r(uint32_t reg)
{
    return qtest_readl(qts, BAR0 + reg);
}

static uint32_t itd_dma(uint64_t gva, uint64_t gpa, uint32_t len, uint32_t flags)
{
    itd_w(ITD_GVA_LO, (uint32_t)gva);
    itd_w(ITD_GVA_HI, gva >> 32);
    itd_w(ITD_GPA_LO, (uint32_t)gpa);
    itd_w(ITD_GPA_HI, gpa >> 32);
    itd_w(ITD_LEN, len);
    itd_w(ITD_FLAGS, flags);
    itd_w(ITD_DBELL, 1);
    assert_int_equal(itd_r(ITD_RESULT), ITD_BUSY);
    assert_int_equal(itd_r(ITD_TRIGGER), 0);
    return itd_r(ITD_RESULT);
}

static void set_master(bool on)
{
    uint16_t cmd = qtest_pci_cfg_read(qts, 0, devfn, 0x04, 2);

    cmd = on ? cmd | 0x4 : cmd & ~0x4;
    qtest_pci_cfg_write(qts, 0, devfn, 0x04, cmd, 2);
}

static void test_enumerates_like_testdev(void **state)
{
    /* Class 00ff ("other"), header type 0, BAR0 a 4 KiB memory BAR. */
    assert_int_equal(qtest_pci_cfg_read(qts, 0, devfn, 0x0a, 2), 0x00ff);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, devfn, 0x0e, 1) & 0x7f, 0);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, devfn, 0x10, 4) & ~0xfu,
                     (uint32_t)BAR0);
}

static void test_dma_write_lands_at_gpa(void **state)
{
    uint8_t buf[4096 + 100];

    qtest_memset(qts, RAM_A, 0, sizeof(buf));
    assert_int_equal(itd_dma(RAM_A, RAM_A, sizeof(buf), 0), 0);
    qtest_memread(qts, RAM_A, buf, sizeof(buf));
    for (unsigned i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], (0x12345678u >> (8 * (i % 4))) & 0xff);
    }
    /* IOVA = GPA: writing at one address and checking another mismatches. */
    qtest_memset(qts, RAM_B, 0xaa, 64);
    assert_int_equal(itd_dma(RAM_A, RAM_B, 64, 0), ITD_MISMATCH);
}

static void test_dma_read_direction(void **state)
{
    uint8_t pat[64];

    for (unsigned i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 7;
    }
    qtest_memwrite(qts, RAM_B, pat, sizeof(pat));
    assert_int_equal(itd_dma(RAM_B, RAM_B, sizeof(pat), ITD_FLAG_READ), 0);
}

static void test_dma_outside_guest_ram_faults(void **state)
{
    assert_int_equal(itd_dma(BEYOND_RAM, RAM_A, 64, 0), ITD_TX_FAIL);
}

static void test_bus_master_off_blocks_dma(void **state)
{
    uint8_t b;

    qtest_memset(qts, RAM_A, 0, 16);
    set_master(false);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, 0), ITD_TX_FAIL);
    qtest_memread(qts, RAM_A, &b, 1);
    assert_int_equal(b, 0);
    set_master(true);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, 0), 0);
}

static void expect_reply(const char *cmd, const char *prefix)
{
    g_autofree char *r = qtest_command(qts, "%s", cmd);

    if (!g_str_has_prefix(r, prefix)) {
        fail_msg("%s: got '%s', want '%s...'", cmd, r, prefix);
    }
}

static void test_fail_nth_command(void **state)
{
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 0 EIO", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 3 16", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 0 EBUSY", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth nope 1 EIO",
                 "FAIL No iommufd object with id 'nope'");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 x EIO", "FAIL N must be");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 1 ENOTANERRNO", "FAIL ERRNO must be");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 1", "FAIL usage");
}

/* The host capabilities the device read with IOMMU_GET_HW_INFO. */
static void test_query_host_iommu(void **state)
{
    g_autofree char *r = qtest_qmp(qts, "{\"execute\": "
                                   "\"x-vtdnest-query-host-iommu\"}", NULL);

    assert_non_null(r);
    if (!strstr(r, "\"host\":\"0000:03:00.0\"") ||
        !strstr(r, "\"errata-772415-spr17\":true") ||
        !strstr(r, "\"max-pasid-log2\":20") ||
        !strstr(r, "\"aw-bits\":48") ||
        !strstr(r, "\"translation\":\"flat-ioas\"")) {
        fail_msg("unexpected reply %s", r);
    }
}

/* ---- start-up errors ---- */

static void expect_start_error(const char *args, const char *msg)
{
    g_autofree char *err = NULL;
    QTestState *s = qtest_try_init(args, &err);

    if (s) {
        qtest_quit(s);
        fail_msg("'%s' started", args);
    }
    if (!err || !strstr(err, msg)) {
        fail_msg("'%s': got '%s', want '%s'", args, err ? err : "", msg);
    }
}

static void test_real_iommufd_fails_at_first_use(void **state)
{
    if (access("/dev/iommu", F_OK) == 0) {
        skip();   /* this host has iommufd: the open would succeed */
    }
    /* Declaring it is fine; the device that uses it reports the cause. */
    expect_start_error("-object iommufd,id=x "
                       "-device vfio-pci,host=0000:03:00.0,iommufd=x",
                       "iommufd 'x': cannot open /dev/iommu");
}

static void test_cmdline_errors(void **state)
{
    expect_start_error(SIM_HOST "-device vfio-pci,host=0000:04:00.0,iommufd=fd0",
                       "host device 0000:04:00.0 is not declared");
    expect_start_error(SIM_HOST "-device vfio-pci,host=0000:03:00.0",
                       "Parameter 'iommufd' is missing");
    expect_start_error("-object iommufd,id=fd0 "
                       "-object iommufd-sim-unit,iommufd=fd0,id=u0",
                       "needs -object iommufd,id=fd0,sim=on");
    expect_start_error("-object iommufd,id=fd0,sim=on "
                       "-object iommufd-sim-unit,iommufd=fd0,id=u0,wibble=on",
                       "Property 'iommufd-sim-unit.wibble' not found");
}

int main(void)
{
    const struct CMUnitTest running[] = {
        cmocka_unit_test(test_enumerates_like_testdev),
        cmocka_unit_test(test_dma_write_lands_at_gpa),
        cmocka_unit_test(test_dma_read_direction),
        cmocka_unit_test(test_dma_outside_guest_ram_faults),
        cmocka_unit_test(test_bus_master_off_blocks_dma),
        cmocka_unit_test(test_fail_nth_command),
        cmocka_unit_test(test_query_host_iommu),
    };
    const struct CMUnitTest startup[] = {
        cmocka_unit_test(test_real_iommufd_fails_at_first_use),
        cmocka_unit_test(test_cmdline_errors),
    };
    int failed;

    failed = cmocka_run_group_tests_name("vfio-sim", running, start_machine,
                                         stop_machine);
    failed += cmocka_run_group_tests_name("vfio-sim-startup", startup, NULL, NULL);
    return failed;
}
