/*
 * Option-string parser: splitting, escaping, typed getters, aliases, sizes
 * and the unknown-property check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vtdnest/opts.h"

static DeviceOpts *parse_ok(const char *s, const char *implied)
{
    GError *err = NULL;
    DeviceOpts *o = opts_parse(s, implied, &err);

    if (!o) {
        fail_msg("opts_parse(\"%s\") failed: %s", s, err->message);
    }
    return o;
}

/* Parse must fail; returns the message (caller frees). */
static char *parse_fails(const char *s, const char *implied)
{
    GError *err = NULL;
    DeviceOpts *o = opts_parse(s, implied, &err);
    char *msg;

    assert_null(o);
    assert_non_null(err);
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

static void test_driver_and_values(void **state)
{
    DeviceOpts *o = parse_ok("intel-iommu,aw-bits=39,caching-mode=on", "driver");

    assert_string_equal(opts_driver(o), "intel-iommu");
    assert_true(opts_has(o, "aw-bits"));
    assert_false(opts_has(o, "pt"));
    assert_string_equal(opts_get(o, "aw-bits"), "39");
    assert_string_equal(opts_get(o, "caching-mode"), "on");
    assert_null(opts_get(o, "pt"));
    opts_free(o);
}

static void test_explicit_driver_key(void **state)
{
    DeviceOpts *o = parse_ok("driver=edu,id=e0", "driver");

    assert_string_equal(opts_driver(o), "edu");
    assert_string_equal(opts_get(o, "id"), "e0");
    opts_free(o);
}

static void test_no_implied_key(void **state)
{
    DeviceOpts *o = parse_ok("server,path=/tmp/s", NULL);

    /* A bare word without an implied key is a flag set to "on". */
    assert_null(opts_driver(o));
    assert_string_equal(opts_get(o, "server"), "on");
    assert_string_equal(opts_get(o, "path"), "/tmp/s");
    opts_free(o);
}

static void test_comma_escape(void **state)
{
    DeviceOpts *o = parse_ok("socket,path=/tmp/a,,b,,,id=c", "backend");

    assert_string_equal(opts_driver(o), "socket");
    assert_string_equal(opts_get(o, "path"), "/tmp/a,b,");
    assert_string_equal(opts_get(o, "id"), "c");
    opts_free(o);

    /* Also in the implied first element. */
    o = parse_ok("a,,b,k=v", "type");
    assert_string_equal(opts_driver(o), "a,b");
    opts_free(o);
}

static void test_empty_value_and_elements(void **state)
{
    DeviceOpts *o = parse_ok("dev,,", "driver");

    /* ",," is an escaped comma, so the driver name contains it. */
    assert_string_equal(opts_driver(o), "dev,");
    opts_free(o);

    o = parse_ok("dev,k=,", "driver");
    assert_string_equal(opts_get(o, "k"), "");
    opts_free(o);

    o = parse_ok("", "driver");
    assert_null(opts_driver(o));
    opts_free(o);
}

static void test_value_may_contain_equals(void **state)
{
    DeviceOpts *o = parse_ok("x,a=b=c", "driver");

    assert_string_equal(opts_get(o, "a"), "b=c");
    opts_free(o);
}

static void test_parse_errors(void **state)
{
    char *msg;

    msg = parse_fails("dev,=v", "driver");
    assert_non_null(strstr(msg, "Invalid parameter ''"));
    g_free(msg);

    msg = parse_fails("dev,a b=1", "driver");
    assert_non_null(strstr(msg, "Invalid parameter 'a b'"));
    g_free(msg);

    msg = parse_fails("dev,pt=on,pt=off", "driver");
    assert_non_null(strstr(msg, "'pt'"));
    g_free(msg);
}

static void test_bool(void **state)
{
    static const char *const yes[] = { "on", "true", "yes" };
    static const char *const no[] = { "off", "false", "no" };
    GError *err = NULL;
    bool v;

    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        DeviceOpts *o = opts_new("d");
        opts_set(o, "x", yes[i]);
        v = false;
        assert_true(opts_get_bool(o, OPT_NAMES("x"), false, &v, &err));
        assert_true(v);
        opts_set(o, "x", no[i]);
        assert_true(opts_get_bool(o, OPT_NAMES("x"), true, &v, &err));
        assert_false(v);
        opts_free(o);
    }

    DeviceOpts *o = opts_new("d");
    assert_true(opts_get_bool(o, OPT_NAMES("absent"), true, &v, &err));
    assert_true(v);
    assert_true(opts_get_bool(o, OPT_NAMES("absent"), false, &v, &err));
    assert_false(v);

    opts_set(o, "x", "maybe");
    assert_false(opts_get_bool(o, OPT_NAMES("x"), false, &v, &err));
    assert_non_null(strstr(err->message, "Parameter 'x' expects 'on' or 'off'"));
    g_clear_error(&err);
    opts_set(o, "x", "ON");
    assert_false(opts_get_bool(o, OPT_NAMES("x"), false, &v, &err));
    g_clear_error(&err);
    opts_free(o);
}

static void test_uint(void **state)
{
    GError *err = NULL;
    uint64_t v;
    DeviceOpts *o = parse_ok("intel-iommu,aw-bits=48,h=0x1F,big=18446744073709551615",
                             "driver");

    assert_true(opts_get_uint(o, OPT_NAMES("aw-bits"), 39, 255, &v, &err));
    assert_int_equal(v, 48);
    assert_true(opts_get_uint(o, OPT_NAMES("h"), 0, 255, &v, &err));
    assert_int_equal(v, 31);
    assert_true(opts_get_uint(o, OPT_NAMES("big"), 0, UINT64_MAX, &v, &err));
    assert_true(v == UINT64_MAX);
    assert_true(opts_get_uint(o, OPT_NAMES("none"), 7, 255, &v, &err));
    assert_int_equal(v, 7);
    opts_free(o);

    static const char *const bad[] = { "", "-1", "+1", "12x", "0x", "x1",
                                       "18446744073709551616", " 1" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        o = opts_new("d");
        opts_set(o, "n", bad[i]);
        assert_false(opts_get_uint(o, OPT_NAMES("n"), 0, UINT64_MAX, &v, &err));
        assert_non_null(strstr(err->message, "Parameter 'n'"));
        g_clear_error(&err);
        opts_free(o);
    }

    o = parse_ok("intel-iommu,aw-bits=300", "driver");
    assert_false(opts_get_uint(o, OPT_NAMES("aw-bits"), 0, 255, &v, &err));
    assert_string_equal(err->message,
        "Property 'intel-iommu.aw-bits' doesn't take value 300 (maximum: 255)");
    g_clear_error(&err);
    opts_free(o);
}

static void test_on_off_auto(void **state)
{
    GError *err = NULL;
    int v = 99;
    DeviceOpts *o = opts_new("intel-iommu");

    assert_true(opts_get_on_off_auto(o, OPT_NAMES("eim"), -1, &v, &err));
    assert_int_equal(v, -1);
    opts_set(o, "eim", "on");
    assert_true(opts_get_on_off_auto(o, OPT_NAMES("eim"), -1, &v, &err));
    assert_int_equal(v, 1);
    opts_set(o, "eim", "off");
    assert_true(opts_get_on_off_auto(o, OPT_NAMES("eim"), -1, &v, &err));
    assert_int_equal(v, 0);
    opts_set(o, "eim", "auto");
    assert_true(opts_get_on_off_auto(o, OPT_NAMES("eim"), 1, &v, &err));
    assert_int_equal(v, -1);
    opts_set(o, "eim", "yes");
    assert_false(opts_get_on_off_auto(o, OPT_NAMES("eim"), 1, &v, &err));
    assert_non_null(strstr(err->message, "'auto'"));
    g_clear_error(&err);
    opts_free(o);
}

static void test_aliases(void **state)
{
    GError *err = NULL;
    bool v;
    DeviceOpts *o = parse_ok("intel-iommu,x-scalable-mode=on", "driver");

    assert_true(opts_get_bool(o, OPT_NAMES("scalable-mode", "x-scalable-mode"),
                              false, &v, &err));
    assert_true(v);
    /* The alias that was used counts as used. */
    assert_true(opts_check_all_used(o, NULL, &err));
    opts_free(o);

    o = parse_ok("intel-iommu,x-flts=on,flts=off", "driver");
    assert_false(opts_get_bool(o, OPT_NAMES("flts", "x-flts"), false, &v, &err));
    assert_non_null(strstr(err->message, "'flts'"));
    assert_non_null(strstr(err->message, "'x-flts'"));
    g_clear_error(&err);
    opts_free(o);
}

static void test_check_all_used(void **state)
{
    GError *err = NULL;
    bool v;
    DeviceOpts *o = parse_ok("intel-iommu,pt=on,foo=1,bar=2", "driver");

    assert_true(opts_get_bool(o, OPT_NAMES("pt"), true, &v, &err));
    assert_false(opts_check_all_used(o, NULL, &err));
    /* QEMU's wording, and the first unknown key in command-line order. */
    assert_string_equal(err->message, "Property 'intel-iommu.foo' not found");
    g_clear_error(&err);

    assert_non_null(opts_get(o, "foo"));
    assert_false(opts_check_all_used(o, "other-name", &err));
    assert_string_equal(err->message, "Property 'other-name.bar' not found");
    g_clear_error(&err);

    opts_get(o, "bar");
    assert_true(opts_check_all_used(o, NULL, &err));
    opts_free(o);

    /* opts_has does not count as a use. */
    o = parse_ok("edu,id=x", "driver");
    assert_true(opts_has(o, "id"));
    assert_false(opts_check_all_used(o, NULL, &err));
    g_clear_error(&err);
    opts_free(o);
}

static void test_opts_set_replaces(void **state)
{
    DeviceOpts *o = opts_new("edu");

    opts_set(o, "k", "1");
    opts_set(o, "k", "2");
    assert_string_equal(opts_get(o, "k"), "2");
    assert_string_equal(opts_driver(o), "edu");
    opts_free(o);
    opts_free(NULL);
}

typedef struct SizeCase {
    const char *in;
    uint64_t unit;
    uint64_t want;
} SizeCase;

static void test_sizes(void **state)
{
    static const SizeCase ok[] = {
        { "512", 1ULL << 20, 512ULL << 20 },
        { "512M", 1ULL << 20, 512ULL << 20 },
        { "512m", 1, 512ULL << 20 },
        { "2816M", 1, 0xb0000000ULL },
        { "2.75G", 1, 0xb0000000ULL },
        { "1.5k", 1, 1536 },
        { "4096", 1, 4096 },
        { "4096B", 1ULL << 20, 4096 },
        { "1T", 1, 1ULL << 40 },
        { "1G", 0, 1ULL << 30 },
        { "0", 1, 0 },
        { "16777215T", 1, 16777215ULL << 40 },
    };
    static const char *const bad[] = {
        "", "M", "12Q", "1MM", "-1", "1 M", "0x10", ".", "16777216T",
        "18446744073709551616", "1.5", "1.0000000000000000001G",
    };
    GError *err = NULL;
    uint64_t v;

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        if (!opts_parse_size(ok[i].in, ok[i].unit, &v, &err)) {
            fail_msg("'%s': %s", ok[i].in, err->message);
        }
        assert_true(v == ok[i].want);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (opts_parse_size(bad[i], 1, &v, &err)) {
            fail_msg("'%s' accepted as %" G_GUINT64_FORMAT, bad[i], v);
        }
        assert_non_null(err);
        assert_non_null(strstr(err->message, "invalid size"));
        g_clear_error(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_and_values),
        cmocka_unit_test(test_explicit_driver_key),
        cmocka_unit_test(test_no_implied_key),
        cmocka_unit_test(test_comma_escape),
        cmocka_unit_test(test_empty_value_and_elements),
        cmocka_unit_test(test_value_may_contain_equals),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_on_off_auto),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_check_all_used),
        cmocka_unit_test(test_opts_set_replaces),
        cmocka_unit_test(test_sizes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
