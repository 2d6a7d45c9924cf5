/*
 * Command-line errors: each bad option must stop vtdnest with exit status 1
 * and one clear line on stderr ("vtdnest: <option>: <reason>"), before any
 * client could talk to a half-built machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "libqtest.h"

static char *tmpdir;

static int make_tmpdir(void **state)
{
    tmpdir = g_dir_make_tmp("vtdnest-cmdline-XXXXXX", NULL);
    return tmpdir ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

/* vtdnest must refuse args: status 1, one line naming the problem. The
 * mention is chosen so that the echoed option alone does not contain it. */
static void expect_rejected(const char *args, const char *must_mention)
{
    g_autofree char *err = NULL;
    int status = -2;
    QTestState *s = qtest_try_init_with_status(args, &err, &status);

    if (s) {
        qtest_quit(s);
        print_error("vtdnest accepted '%s'\n", args);
        fail();
    }
    assert_non_null(err);
    if (status != 1 || strchr(err, '\n') || !g_str_has_prefix(err, "vtdnest: ") ||
        (must_mention && !strstr(err, must_mention))) {
        print_error("'%s': status %d, stderr:\n%s\n(expected status 1 and one "
                    "line mentioning '%s')\n", args, status, err,
                    must_mention ? must_mention : "");
        fail();
    }
}

static void test_unknown_driver(void **state)
{
    expect_rejected("-device no-such-device", "'no-such-device'");
    expect_rejected("-device ''", NULL);
}

static void test_unknown_property(void **state)
{
    /* edu is one of the machine's own devices. */
    expect_rejected("-device edu,no-such-prop=1", "'edu.no-such-prop' not found");
    /* Whatever the state of intel-iommu, a bogus property never passes. */
    expect_rejected("-device intel-iommu,no-such-prop=on", "no-such-prop");
}

static void test_malformed_device_options(void **state)
{
    expect_rejected("-device edu,=1", NULL);
    expect_rejected("-device edu,id=", NULL);
    expect_rejected("-device", NULL);
}

static void test_bad_memory_size(void **state)
{
    static const char *const bad[] = {
        "-m foo", "-m 0", "-m -5", "-m 1Q", "-m 99999999999999T", "-m ''",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        expect_rejected(bad[i], "-m");
    }
}

static void test_bad_machine_and_options(void **state)
{
    expect_rejected("-machine pc", NULL);
    expect_rejected("-no-such-option", "-no-such-option");
}

static void test_bad_chardev(void **state)
{
    g_autofree char *sock = g_build_filename(tmpdir, "c.sock", NULL);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    g_autofree char *c = NULL;

    expect_rejected("-chardev socket,id=c0", "path=PATH");
    expect_rejected("-chardev bogus,id=c0", "'bogus'");
    expect_rejected("-chardev socket,path=/tmp/x.sock", "'id'");
    a = g_strdup_printf("-chardev socket,id=c0,path=%s,server=maybe", sock);
    expect_rejected(a, "'maybe'");
    a = (g_free(a), g_strdup_printf("-chardev socket,id=c0,path=%s,server=on,"
                                    "wait=off,colour=blue", sock));
    expect_rejected(a, "'colour'");
    /* libqtest's own QMP chardev is called qtest-qmp. */
    b = g_strdup_printf("-chardev socket,id=qtest-qmp,path=%s,server=on,wait=off",
                        sock);
    expect_rejected(b, "Duplicate ID");
    c = g_strdup_printf("-chardev socket,id=c1,path=%s,server=on,wait=off "
                        "-mon chardev=c1,mode=control -mon chardev=c1,mode=control",
                        sock);
    expect_rejected(c, "already in use");
    /* A server that failed on a later option leaves no socket behind. */
    assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
}

static void test_bad_monitor_and_endpoints(void **state)
{
    g_autofree char *sock = g_build_filename(tmpdir, "m.sock", NULL);
    g_autofree char *readline = g_strdup_printf(
        "-chardev socket,id=c2,path=%s,server=on,wait=off -mon chardev=c2", sock);

    expect_rejected("-mon chardev=missing,mode=control", "'missing'");
    expect_rejected(readline, "mode=control");
    expect_rejected("-qmp bogus:foo", "'bogus:foo'");
    expect_rejected("-qmp unix:/nonexistent-dir/q.sock", "No such file");
    expect_rejected("-qtest-log /nonexistent-dir/log", "cannot open");
}

static void test_good_options_start(void **state)
{
    static const char *const good[] = {
        "-machine q35 -m 256M",
        "-machine q35,accel=qtest -m 1G",
        "-m 64",
        "-device edu",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *err = NULL;
        QTestState *s = qtest_try_init(good[i], &err);

        if (!s) {
            print_error("'%s' failed: %s\n", good[i], err);
            fail();
        }
        assert_int_equal(qtest_readb(s, 0x1000), 0);
        qtest_quit(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_driver),
        cmocka_unit_test(test_unknown_property),
        cmocka_unit_test(test_malformed_device_options),
        cmocka_unit_test(test_bad_memory_size),
        cmocka_unit_test(test_bad_machine_and_options),
        cmocka_unit_test(test_bad_chardev),
        cmocka_unit_test(test_bad_monitor_and_endpoints),
        cmocka_unit_test(test_good_options_start),
    };

    return cmocka_run_group_tests_name("command line", tests, make_tmpdir,
                                       remove_tmpdir);
}
