/*
 * Device DMA without an IOMMU: iommu-testdev's result codes (QEMU's, plus the
 * vtdnest read-direction extension) and edu's DMA engine in both directions,
 * completed by stepping the virtual clock or by polling the command register.
 * Bus mastering off makes both devices' DMA fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define TDEV_BAR      0xfe000000ull
#define EDU_BAR       0xfe100000ull
#define RAM_A         0x01000000ull
#define RAM_B         0x01100000ull
#define BEYOND_RAM    0x800000000ull

/* iommu-testdev registers and results (QEMU's). */
#define ITD_TRIGGER   0x00
#define ITD_RESULT    0x10
#define ITD_DBELL     0x14
#define ITD_ATTRS     0x18
#define ITD_FLAGS     0x28      /* vtdnest: bit 1 = read instead of write */
#define ITD_IDLE      0xffffffffu
#define ITD_BUSY      0xfffffffeu
#define ITD_BAD_LEN   0xdead0001u
#define ITD_TX_FAIL   0xdead0002u
#define ITD_RD_FAIL   0xdead0003u
#define ITD_MISMATCH  0xdead0004u
#define ITD_NOT_ARMED 0xdead0005u
#define ITD_BAD_ATTRS 0xdead0006u

/* edu registers. */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_CNT    0x90
#define EDU_DMA_CMD    0x98
#define EDU_BUF        0x40000
#define EDU_CMD_START  0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_CMD_IRQ    0x4

#define MS 1000000LL

static QTestState *qts;
static VtbDev tdev, edu;

static int start_machine(void **state)
{
    qts = qtest_init("-machine q35 -m 512M -device iommu-testdev -device edu");
    if (!qts) {
        return -1;
    }
    assert_true(vtb_testdev_find(&tdev, qts, TDEV_BAR));
    assert_true(vtb_edu_find(&edu, qts, EDU_BAR));
    return 0;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    qts = NULL;
    return 0;
}

/* ---- iommu-testdev ---- */

static void itd_w(uint32_t reg, uint32_t v)
{
    qtest_writel(qts, TDEV_BAR + reg, v);
}

static uint32_t itd_r(uint32_t reg)
{
    return qtest_readl(qts, TDEV_BAR + reg);
}

/* QEMU's qos helper sequence: program, arm, trigger, read the result. */
static uint32_t itd_dma(uint64_t gva, uint64_t gpa, uint32_t len, bool arm)
{
    return vtb_testdev_dma_checked(&tdev, gva, gpa, len, arm);
}

static void test_itd_reset_state(void **state)
{
    assert_int_equal(itd_r(ITD_RESULT), ITD_IDLE);
    assert_int_equal(itd_r(ITD_ATTRS), 0x2); /* non-secure space */
    itd_w(ITD_DBELL, 1);
    assert_int_equal(itd_r(ITD_RESULT), ITD_BUSY);
    itd_w(ITD_DBELL, 0);
    assert_int_equal(itd_r(ITD_RESULT), ITD_IDLE);
}

static void test_itd_dma_ok(void **state)
{
    uint8_t buf[100];

    qtest_memset(qts, RAM_A, 0, sizeof(buf));
    assert_int_equal(itd_dma(RAM_A, RAM_A, sizeof(buf), true), 0);
    qtest_memread(qts, RAM_A, buf, sizeof(buf));
    for (unsigned i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], (0x12345678u >> (8 * (i % 4))) & 0xff);
    }
    /* One shot: the next trigger without arming is refused. */
    assert_int_equal(itd_r(ITD_TRIGGER), 0);
    assert_int_equal(itd_r(ITD_RESULT), ITD_NOT_ARMED);
}

static void test_itd_error_codes(void **state)
{
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, false), ITD_NOT_ARMED);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 0, true), ITD_BAD_LEN);
    /* Written at GVA, checked at another GPA that holds something else. */
    qtest_memset(qts, RAM_B, 0xaa, 64);
    assert_int_equal(itd_dma(RAM_A, RAM_B, 64, true), ITD_MISMATCH);
    /* Read-back address that is not RAM. */
    assert_int_equal(itd_dma(RAM_A, BEYOND_RAM, 64, true), ITD_RD_FAIL);
    /* Write to a GVA that is not RAM. */
    assert_int_equal(itd_dma(BEYOND_RAM, RAM_A, 64, true), ITD_TX_FAIL);
    /* Secure bit against an explicit non-secure space. */
    itd_w(ITD_ATTRS, 0x1 | (1 << 1) | 0x8);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, true), ITD_BAD_ATTRS);
    itd_w(ITD_ATTRS, 0x2);
    /* The result register is writable. */
    itd_w(ITD_RESULT, 0x1234);
    assert_int_equal(itd_r(ITD_RESULT), 0x1234);
}

static void test_itd_bus_master_off(void **state)
{
    qtest_memset(qts, RAM_A, 0, 64);
    vtb_dev_set_bus_master(&tdev, false);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 64, true), ITD_TX_FAIL);
    assert_int_equal(qtest_readl(qts, RAM_A), 0);
    vtb_dev_set_bus_master(&tdev, true);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 64, true), 0);
}

static void test_itd_read_direction(void **state)
{
    uint8_t pattern[32];

    for (unsigned i = 0; i < sizeof(pattern); i++) {
        pattern[i] = i * 3 + 1;
    }
    qtest_memwrite(qts, RAM_B, pattern, sizeof(pattern));
    itd_w(ITD_FLAGS, 0x2);
    assert_int_equal(itd_dma(RAM_B, RAM_B, sizeof(pattern), true), 0);
    /* The device read what was there and wrote nothing. */
    qtest_memread(qts, RAM_B, pattern, sizeof(pattern));
    assert_int_equal(pattern[1], 4);
    qtest_memset(qts, RAM_A, 0x55, sizeof(pattern));
    assert_int_equal(itd_dma(RAM_A, RAM_B, sizeof(pattern), true), ITD_MISMATCH);
    itd_w(ITD_FLAGS, 0);
}

/* ---- edu ---- */

static void edu_w64(uint32_t reg, uint64_t v)
{
    qtest_writeq(qts, EDU_BAR + reg, v);
}

static uint32_t edu_r(uint32_t reg)
{
    return qtest_readl(qts, EDU_BAR + reg);
}

static void edu_start(uint64_t src, uint64_t dst, uint64_t cnt, uint32_t cmd)
{
    edu_w64(EDU_DMA_SRC, src);
    edu_w64(EDU_DMA_DST, dst);
    edu_w64(EDU_DMA_CNT, cnt);
    qtest_writel(qts, EDU_BAR + EDU_DMA_CMD, cmd);
}

/* Poll as a driver would; the clock only moves when we step it. */
static void edu_wait_polling(void)
{
    for (int i = 0; i < 100 && (edu_r(EDU_DMA_CMD) & EDU_CMD_START); i++) {
        qtest_clock_step(qts, 10 * MS);
    }
    assert_int_equal(edu_r(EDU_DMA_CMD) & EDU_CMD_START, 0);
}

static void test_edu_basics(void **state)
{
    assert_int_equal(edu_r(0x00), 0x010000ed);
    qtest_writel(qts, EDU_BAR + 0x04, 0x0f0f0f0f);
    assert_int_equal(edu_r(0x04), 0xf0f0f0f0);
    qtest_writel(qts, EDU_BAR + 0x08, 5);
    assert_int_equal(edu_r(0x20) & 1, 0);
    assert_int_equal(edu_r(0x08), 120);
    qtest_writel(qts, EDU_BAR + 0x60, 0x30);
    assert_int_equal(edu_r(EDU_IRQ_STATUS), 0x30);
    qtest_writel(qts, EDU_BAR + EDU_IRQ_ACK, 0x10);
    assert_int_equal(edu_r(EDU_IRQ_STATUS), 0x20);
    qtest_writel(qts, EDU_BAR + EDU_IRQ_ACK, 0x20);
    assert_int_equal(edu_r(EDU_IRQ_STATUS), 0);
}

static void test_edu_dma_round_trip_clock_step(void **state)
{
    uint8_t in[100], out[100];

    for (unsigned i = 0; i < sizeof(in); i++) {
        in[i] = 0xc0 ^ i;
    }
    qtest_memwrite(qts, RAM_A, in, sizeof(in));
    qtest_memset(qts, RAM_B, 0, sizeof(out));

    /* RAM -> device buffer, with a completion interrupt. */
    edu_start(RAM_A, EDU_BUF, sizeof(in), EDU_CMD_START | EDU_CMD_IRQ);
    assert_true(edu_r(EDU_DMA_CMD) & EDU_CMD_START);
    /* Registers are frozen while it runs. */
    edu_w64(EDU_DMA_SRC, 0x1234);
    assert_int_equal(edu_r(EDU_DMA_SRC), (uint32_t)RAM_A);
    qtest_clock_step(qts, 50 * MS);
    assert_true(edu_r(EDU_DMA_CMD) & EDU_CMD_START);
    qtest_clock_step(qts, 60 * MS);
    assert_int_equal(edu_r(EDU_DMA_CMD) & EDU_CMD_START, 0);
    assert_int_equal(edu_r(EDU_IRQ_STATUS), 0x100);
    qtest_writel(qts, EDU_BAR + EDU_IRQ_ACK, 0x100);

    /* Device buffer -> RAM, completed by jumping to the next deadline. */
    edu_start(EDU_BUF, RAM_B, sizeof(out), EDU_CMD_START | EDU_CMD_TO_RAM);
    qtest_clock_step(qts, -1);
    assert_int_equal(edu_r(EDU_DMA_CMD) & EDU_CMD_START, 0);
    qtest_memread(qts, RAM_B, out, sizeof(out));
    assert_memory_equal(in, out, sizeof(in));
    assert_int_equal(edu_r(EDU_IRQ_STATUS), 0);
}

static void test_edu_dma_polling_and_mask(void **state)
{
    uint8_t in[64], out[64];

    for (unsigned i = 0; i < sizeof(in); i++) {
        in[i] = 0x3c + i;
    }
    qtest_memwrite(qts, RAM_A + 0x200, in, sizeof(in));
    qtest_memset(qts, RAM_B + 0x200, 0, sizeof(out));

    /* The default 28-bit dma_mask drops bit 28 of the address. */
    edu_start((1ull << 28) | (RAM_A + 0x200), EDU_BUF + 0x100, sizeof(in),
              EDU_CMD_START);
    edu_wait_polling();
    edu_start(EDU_BUF + 0x100, RAM_B + 0x200, sizeof(out),
              EDU_CMD_START | EDU_CMD_TO_RAM);
    edu_wait_polling();
    qtest_memread(qts, RAM_B + 0x200, out, sizeof(out));
    assert_memory_equal(in, out, sizeof(in));
}

static void test_edu_dma_bus_master_off(void **state)
{
    uint8_t in[32], out[32];

    memset(in, 0x99, sizeof(in));
    qtest_memwrite(qts, RAM_A, in, sizeof(in));
    /* Fill the device buffer with known data first. */
    edu_start(RAM_A, EDU_BUF, sizeof(in), EDU_CMD_START);
    edu_wait_polling();

    vtb_dev_set_bus_master(&edu, false);
    /* To RAM: nothing arrives. */
    qtest_memset(qts, RAM_B, 0x11, sizeof(out));
    edu_start(EDU_BUF, RAM_B, sizeof(out), EDU_CMD_START | EDU_CMD_TO_RAM);
    edu_wait_polling();
    qtest_memread(qts, RAM_B, out, sizeof(out));
    assert_int_equal(out[0], 0x11);
    assert_int_equal(out[31], 0x11);
    /* From RAM: the failed read leaves zeros in the device buffer. */
    edu_start(RAM_A, EDU_BUF, sizeof(in), EDU_CMD_START);
    edu_wait_polling();

    vtb_dev_set_bus_master(&edu, true);
    edu_start(EDU_BUF, RAM_B, sizeof(out), EDU_CMD_START | EDU_CMD_TO_RAM);
    edu_wait_polling();
    qtest_memread(qts, RAM_B, out, sizeof(out));
    assert_int_equal(out[0], 0);
    assert_int_equal(out[31], 0);
}

static void test_edu_dma_out_of_buffer_is_harmless(void **state)
{
    /* Count runs past the 4 KiB buffer: the command completes, no transfer. */
    qtest_memset(qts, RAM_B, 0x22, 16);
    edu_start(EDU_BUF + 0xff0, RAM_B, 0x20, EDU_CMD_START | EDU_CMD_TO_RAM);
    edu_wait_polling();
    assert_int_equal(qtest_readb(qts, RAM_B), 0x22);
    edu_start(RAM_A, EDU_BUF, UINT64_MAX, EDU_CMD_START);
    edu_wait_polling();
    assert_int_equal(edu_r(0x00), 0x010000ed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, start_machine, stop_machine)
        T(test_itd_reset_state),
        T(test_itd_dma_ok),
        T(test_itd_error_codes),
        T(test_itd_bus_master_off),
        T(test_itd_read_direction),
        T(test_edu_basics),
        T(test_edu_dma_round_trip_clock_step),
        T(test_edu_dma_polling_and_mask),
        T(test_edu_dma_bus_master_off),
        T(test_edu_dma_out_of_buffer_is_harmless),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
