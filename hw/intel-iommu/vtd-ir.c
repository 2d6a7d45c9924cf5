/*
 * Interrupt remapping: placeholder until the interrupt-remapping module
 * lands. With IR off every MSI is compatibility format and passes through
 * unchanged, which is all this placeholder does (also with IR on, for now).
 */
#include "hw/intel-iommu/vtd-internal.h"

bool vtd_interrupt(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                   uint64_t *out_addr, uint32_t *out_data)
{
    (void)s;
    (void)sid;
    *out_addr = addr;
    *out_data = data;
    return true;
}
