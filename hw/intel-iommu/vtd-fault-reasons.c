/*
 * Names and the "qualified" property of every fault reason, generated from
 * the one list in vtd-fault-reasons.h. The switch statements make a duplicated
 * code a compile error; the static assertions below check that every code
 * fits FRCD.FR and that the table has one row per enum value.
 *
 * LCT.3 (0Bh) is qualified as the spec says; QEMU leaves it unqualified
 * (vtd-spec-facts.md §12 item 5).
 */
#include "hw/intel-iommu/vtd-fault-reasons.h"

#include <stddef.h>

/* Every code is a non-zero 8-bit FRCD.FR value. */
#define VTD_FR_CHECK(name, code, desc, qual)                                  \
    _Static_assert((code) > 0 && (code) <= 0xff,                              \
                   "fault reason " #name " does not fit FRCD.FR");
VTD_FAULT_REASON_LIST(VTD_FR_CHECK)
#undef VTD_FR_CHECK

/* The number of enum values, counted independently of the table. */
enum {
#define VTD_FR_COUNT_ONE(name, code, desc, qual) VTD_FR_SLOT_##name,
    VTD_FAULT_REASON_LIST(VTD_FR_COUNT_ONE)
#undef VTD_FR_COUNT_ONE
    VTD_FR_DEFINED
};

typedef struct VtdFaultReasonInfo {
    VtdFaultReason code;
    const char *name;
    bool qualified;
} VtdFaultReasonInfo;

static const VtdFaultReasonInfo vtd_fault_reasons[] = {
#define VTD_FR_ROW(name, code, desc, qual) { VTD_FR_##name, desc, qual },
    VTD_FAULT_REASON_LIST(VTD_FR_ROW)
#undef VTD_FR_ROW
};

_Static_assert(sizeof(vtd_fault_reasons) / sizeof(vtd_fault_reasons[0]) ==
               VTD_FR_DEFINED, "fault reason table does not cover the enum");

/* Row of a code, or NULL. A switch, so duplicated codes do not compile. */
static const VtdFaultReasonInfo *vtd_fault_reason_find(unsigned code)
{
    switch (code) {
#define VTD_FR_CASE(name, code, desc, qual)                                   \
    case (code):                                                              \
        return &vtd_fault_reasons[VTD_FR_SLOT_##name];
    VTD_FAULT_REASON_LIST(VTD_FR_CASE)
#undef VTD_FR_CASE
    default:
        return NULL;
    }
}

const char *vtd_fault_reason_name(unsigned code)
{
    const VtdFaultReasonInfo *info = vtd_fault_reason_find(code);

    return info ? info->name : NULL;
}

bool vtd_fault_reason_qualified(unsigned code)
{
    const VtdFaultReasonInfo *info = vtd_fault_reason_find(code);

    /* An unknown code is never hidden by FPD. */
    return info && info->qualified;
}

unsigned vtd_fault_reason_count(void)
{
    return VTD_FR_DEFINED;
}
