/*
 * Interrupt remapping (vtd-spec-facts.md §9): request decoding, IRTE layout,
 * and the interrupt entry cache (IEC) that the invalidation queue drops.
 */
#ifndef VTD_IR_H
#define VTD_IR_H

#include "hw/intel-iommu/vtd-internal.h"

/* Interrupt request address (remappable format, §9.2). */
#define VTD_IR_ADDR_WINDOW      0xfeeULL      /* bits 31:20 */
#define VTD_IR_ADDR_HANDLE_LO(a) ((uint32_t)VTD_FIELD(a, 19, 5))
#define VTD_IR_ADDR_FORMAT      VTD_BIT(4)    /* 1 = remappable */
#define VTD_IR_ADDR_SHV         VTD_BIT(3)
#define VTD_IR_ADDR_HANDLE_HI   VTD_BIT(2)    /* handle[15] */

/* Output (compatibility-format) MSI address and data. */
#define VTD_MSI_ADDR_BASE       0xfee00000ULL
#define VTD_MSI_ADDR_DEST(d)    (((uint64_t)(d) & 0xff) << 12)
#define VTD_MSI_ADDR_RH         VTD_BIT(3)
#define VTD_MSI_ADDR_DM         VTD_BIT(2)
#define VTD_MSI_DATA_DLM_SHIFT  8
#define VTD_MSI_DATA_TM         (1u << 15)

/* IRTE, remapped format: qword 0 ... */
#define VTD_IRTE_P              VTD_BIT(0)
#define VTD_IRTE_FPD            VTD_BIT(1)
#define VTD_IRTE_DM             VTD_BIT(2)
#define VTD_IRTE_RH             VTD_BIT(3)
#define VTD_IRTE_TM             VTD_BIT(4)
#define VTD_IRTE_DLM(lo)        ((unsigned)VTD_FIELD(lo, 7, 5))
#define VTD_IRTE_IM             VTD_BIT(15)   /* 1 = posted format */
#define VTD_IRTE_VECTOR(lo)     ((unsigned)VTD_FIELD(lo, 23, 16))
#define VTD_IRTE_DST(lo)        ((uint32_t)VTD_FIELD(lo, 63, 32))
#define VTD_IRTE_LO_RSVD        (VTD_MASK(14, 12) | VTD_MASK(31, 24))
/* xAPIC mode (EIME=0): only DST bits 15:8 (IRTE 47:40) name the APIC. */
#define VTD_IRTE_LO_RSVD_XAPIC  (VTD_MASK(39, 32) | VTD_MASK(63, 48))
/* ... and qword 1. */
#define VTD_IRTE_SID(hi)        ((uint16_t)VTD_FIELD(hi, 15, 0))
#define VTD_IRTE_SQ(hi)         ((unsigned)VTD_FIELD(hi, 17, 16))
#define VTD_IRTE_SVT(hi)        ((unsigned)VTD_FIELD(hi, 19, 18))
#define VTD_IRTE_HI_RSVD        VTD_MASK(63, 20)

#define VTD_SVT_NONE            0
#define VTD_SVT_SID             1   /* SID with the SQ mask */
#define VTD_SVT_BUS_RANGE       2   /* SID[15:8] <= bus <= SID[7:0] */

/*
 * The remapping decision for one interrupt request. Returns false when the
 * request is blocked (the fault, if any, is already recorded or suppressed
 * by FPD); true with the message to deliver. *remapped tells a remapped
 * message from one passed through in compatibility format.
 */
bool vtd_ir_process(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                    uint64_t *out_addr, uint32_t *out_data, bool *remapped);

/*
 * Interrupt entry cache invalidation (IEC descriptor, type 4): global, or
 * the 2^im entries aligned on index. Signature agreed with vtd-inval.c.
 */
void vtd_iec_invalidate(VtdState *s, bool global, uint32_t index, unsigned im);
/* Live IEC entries (tests). */
unsigned vtd_iec_count(const VtdState *s);

/*
 * Requests without PASID to FEEx_xxxx that reach the DMA path and are not
 * interrupts (reads, AtomicOps, execute; ZLR reads complete): true when
 * fault 29h applies. Used by vtd-translate.c.
 */
bool vtd_ir_window_access_faults(const VtdState *s, const IommuRequest *req);

#endif
