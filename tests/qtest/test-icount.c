/*
 * QEMU command lines that use -icount shift=0,sleep=off (with -bios, since
 * QEMU needs firmware) run unchanged: time warps to the next timer whenever
 * the machine is idle, so a script can poll edu's DMA command register
 * instead of stepping the clock. Without -icount the clock only moves on
 * clock_step, and the same poll keeps seeing the transfer running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "libqtest.h"

#define EDU_DEVFN   0x10            /* addr=2 */
#define EDU_BAR     0xe0000000ULL
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_BUF     0x40000
#define CMD_START   0x1
#define CMD_TO_RAM  0x2

static const char *const icount_args =
    "-machine q35 -m 128M -bios /dev/null -icount shift=0,sleep=off "
    "-display none -nodefaults -device edu,addr=2";

static void edu_start_copy_in(QTestState *qts, uint64_t ram)
{
    qtest_pci_map_bar(qts, 0, EDU_DEVFN, 0, EDU_BAR);
    qtest_writel(qts, EDU_BAR + EDU_DMA_SRC, (uint32_t)ram);
    qtest_writel(qts, EDU_BAR + EDU_DMA_DST, EDU_BUF);
    qtest_writel(qts, EDU_BAR + EDU_DMA_CNT, 16);
    qtest_writel(qts, EDU_BAR + EDU_DMA_CMD, CMD_START);
}

static void test_poll_completes_with_icount(void **state)
{
    QTestState *qts = qtest_init(icount_args);
    int polls = 0;

    edu_start_copy_in(qts, 0x100000);
    while (qtest_readl(qts, EDU_BAR + EDU_DMA_CMD) & CMD_START) {
        assert_true(++polls < 10);
    }
    /* The 100 ms edu delay has passed in virtual time. */
    assert_true(qtest_clock_step(qts, 1) > 100 * 1000 * 1000);
    qtest_quit(qts);
}

static void test_no_icount_needs_clock_step(void **state)
{
    QTestState *qts = qtest_init("-machine q35 -m 128M -device edu,addr=2");

    edu_start_copy_in(qts, 0x100000);
    for (int i = 0; i < 10; i++) {
        assert_true(qtest_readl(qts, EDU_BAR + EDU_DMA_CMD) & CMD_START);
    }
    qtest_clock_step(qts, 100 * 1000 * 1000);
    assert_false(qtest_readl(qts, EDU_BAR + EDU_DMA_CMD) & CMD_START);
    qtest_quit(qts);
}

static void test_icount_sleep_on_refused(void **state)
{
    char *err = NULL;
    QTestState *qts = qtest_try_init("-machine q35 -icount shift=0", &err);

    assert_null(qts);
    assert_non_null(err);
    assert_non_null(strstr(err, "only sleep=off is supported"));
    g_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_completes_with_icount),
        cmocka_unit_test(test_no_icount_needs_clock_step),
        cmocka_unit_test(test_icount_sleep_on_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
