/*
 * The DMA-remapping request pipeline behind vtd_translate(). Exposed in two
 * layers so tests (and the nesting work) can see the fault a request
 * produced before it is recorded.
 */
#ifndef VTD_TRANSLATE_H
#define VTD_TRANSLATE_H

#include "hw/intel-iommu/vtd-internal.h"

/*
 * Translate req into res without recording anything. Returns true when a
 * fault must be reported, with *fault filled (reason, request attributes and
 * the FPD accumulated from every entry encountered); vtd_translate() passes
 * it to vtd_fault_report().
 */
bool vtd_translate_request(VtdState *s, const IommuRequest *req,
                           IommuResult *res, VtdFault *fault);

/* Interrupt address range FEE0_0000h-FEEF_FFFFh. */
static inline bool vtd_addr_in_intr_range(uint64_t addr)
{
    return (addr >> 20) == 0xfee;
}

/* Does the page [base, base + page_mask] reach into that range? */
static inline bool vtd_page_overlaps_intr_range(uint64_t base,
                                                uint64_t page_mask)
{
    return base <= 0xfeefffffULL && base + page_mask >= 0xfee00000ULL;
}

#endif
