/*
 * The fault-reason table against the spec's lists (vtd-spec-facts.md §6.1,
 * §9.4), typed here independently of vtd-fault-reasons.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "hw/intel-iommu/vtd-fault-reasons.h"

/* Every code Rev 5.10 defines that we implement (HPT and SPT.9 are out of
 * scope), and the ones FPD cannot hide. */
static const unsigned spec_codes[] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
    0x0d, 0x0e,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x38, 0x39, 0x3a,
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x50, 0x51, 0x52, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
    0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d,
    0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x89, 0x90, 0x91,
};
static const unsigned spec_unqualified[] = {
    0x01, 0x08, 0x09, 0x0a,                         /* legacy root/context */
    0x20, 0x21, 0x23, 0x25, 0x29, 0x2a, 0x2b,       /* interrupt remapping */
    0x30, 0x31, 0x32, 0x33, 0x34,                   /* RTADDR / mode */
    0x38, 0x39, 0x3a, 0x40, 0x50, 0x58,             /* table fetches */
};

static bool in_list(const unsigned *list, size_t n, unsigned code)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == code) {
            return true;
        }
    }
    return false;
}

static void test_every_spec_code_has_a_name(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(spec_codes); i++) {
        const char *name = vtd_fault_reason_name(spec_codes[i]);

        assert_non_null(name);
        assert_true(strlen(name) > 4);
    }
    assert_int_equal(vtd_fault_reason_count(), G_N_ELEMENTS(spec_codes));
}

static void test_unknown_codes(void **state)
{
    unsigned named = 0;

    for (unsigned code = 0; code < 0x200; code++) {
        bool known = in_list(spec_codes, G_N_ELEMENTS(spec_codes), code);

        assert_int_equal(vtd_fault_reason_name(code) != NULL, known);
        if (!known) {
            assert_false(vtd_fault_reason_qualified(code));
        }
        named += known;
    }
    assert_int_equal(named, vtd_fault_reason_count());
}

static void test_qualified_matches_spec(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(spec_codes); i++) {
        unsigned code = spec_codes[i];
        bool unq = in_list(spec_unqualified, G_N_ELEMENTS(spec_unqualified),
                           code);

        if (vtd_fault_reason_qualified(code) == unq) {
            fail_msg("code 0x%02x: qualified should be %d", code, !unq);
        }
    }
}

/* The spec marks LCT.3 qualified although QEMU does not (facts §12). */
static void test_lct3_is_qualified(void **state)
{
    assert_int_equal(VTD_FR_LCT_3, 0x0b);
    assert_true(vtd_fault_reason_qualified(VTD_FR_LCT_3));
    assert_non_null(strstr(vtd_fault_reason_name(0x0b), "LCT.3"));
}

static void test_names_carry_condition_ids(void **state)
{
    assert_non_null(strstr(vtd_fault_reason_name(VTD_FR_SCT_4), "SCT.4"));
    assert_non_null(strstr(vtd_fault_reason_name(VTD_FR_SGN_10), "SGN.10"));
    assert_non_null(strstr(vtd_fault_reason_name(VTD_FR_LRT_2), "LRT.2"));
    assert_int_equal(VTD_FR_SFS_10, 0x91);
    assert_int_equal(VTD_FR_IR_SID, 0x26);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_spec_code_has_a_name),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_qualified_matches_spec),
        cmocka_unit_test(test_lct3_is_qualified),
        cmocka_unit_test(test_names_carry_condition_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
