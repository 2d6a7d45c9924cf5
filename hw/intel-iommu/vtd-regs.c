/*
 * The register image: power-on values and, per byte, which bits software may
 * write (RW), clear by writing 1 (RW1C) or only write (WO, read as 0).
 * Everything else is read-only to software; hardware-side code updates the
 * image directly with vtd_set32/vtd_set64. Masks follow vtd-spec-facts.md §1,
 * §3 and QEMU's (qemu-anchor.md §2.2); registers of capabilities we do not
 * report read as 0 and ignore writes.
 */
#include "hw/intel-iommu/vtd-internal.h"

#define ALL32   0xffffffffULL
#define ALL64   (~0ULL)

static void put_bytes(uint8_t *array, unsigned off, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++) {
        array[off + i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_bytes(const uint8_t *array, unsigned off, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)array[off + i] << (8 * i);
    }
    return v;
}

/* One register: reset value, RW bits, RW1C bits, write-only bits. */
static void define_reg(VtdState *s, unsigned off, unsigned size, uint64_t reset,
                       uint64_t rw, uint64_t w1c, uint64_t wo)
{
    put_bytes(s->regs, off, size, reset);
    put_bytes(s->wmask, off, size, rw);
    put_bytes(s->w1cmask, off, size, w1c);
    put_bytes(s->womask, off, size, wo);
}

static void define_rw(VtdState *s, unsigned off, unsigned size, uint64_t reset,
                      uint64_t rw)
{
    define_reg(s, off, size, reset, rw, 0, 0);
}

/* Page-request registers exist only when ECAP.PRS is reported. */
static void define_page_request_regs(VtdState *s, uint64_t upper_addr_rw)
{
    define_rw(s, DMAR_PQH_REG, 8, 0, VTD_PQ_PTR_MASK);
    define_rw(s, DMAR_PQT_REG, 8, 0, VTD_PQ_PTR_MASK);
    define_rw(s, DMAR_PQA_REG, 8, 0, VTD_PQA_BASE_MASK | VTD_MASK(2, 0));
    define_reg(s, DMAR_PRS_REG, 4, 0, 0, VTD_PRS_PPR | VTD_PRS_PRO, 0);
    define_rw(s, DMAR_PECTL_REG, 4, VTD_XECTL_IM, VTD_XECTL_IM);
    define_rw(s, DMAR_PEDATA_REG, 4, 0, 0xffff);
    define_rw(s, DMAR_PEADDR_REG, 4, 0, VTD_MASK(31, 2));
    define_rw(s, DMAR_PEUADDR_REG, 4, 0, upper_addr_rw);
}

void vtd_regs_init(VtdState *s)
{
    /* Upper halves of event addresses are only needed for x2APIC (EIM). */
    bool eim = s->ecap & VTD_ECAP_EIM;
    uint64_t upper_addr_rw = eim ? ALL32 : 0;

    memset(s->regs, 0, sizeof(s->regs));
    memset(s->wmask, 0, sizeof(s->wmask));
    memset(s->w1cmask, 0, sizeof(s->w1cmask));
    memset(s->womask, 0, sizeof(s->womask));

    define_rw(s, DMAR_VER_REG, 4, VTD_VERSION, 0);
    define_rw(s, DMAR_CAP_REG, 8, s->cap, 0);
    define_rw(s, DMAR_ECAP_REG, 8, s->ecap, 0);
    define_reg(s, DMAR_GCMD_REG, 4, 0, VTD_MASK(31, 23), 0, ALL32);
    /* RTA and TTM; SSIRWE stays RsvdZ (ECAP.SSIRWS is never reported). */
    define_rw(s, DMAR_RTADDR_REG, 8, 0, VTD_MASK(63, 10));
    /* ICC, CIRG, FM, SID, DID; CAIG is hardware's; FM and SID read as 0. */
    define_reg(s, DMAR_CCMD_REG, 8, 0, VTD_CCMD_ICC | VTD_MASK(62, 61) |
               VTD_MASK(33, 0), 0, VTD_MASK(33, 16));
    define_reg(s, DMAR_FSTS_REG, 4, 0, 0,
               VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE, 0);
    define_rw(s, DMAR_FECTL_REG, 4, VTD_XECTL_IM, VTD_XECTL_IM);
    define_rw(s, DMAR_FEDATA_REG, 4, 0, 0xffff);
    define_rw(s, DMAR_FEADDR_REG, 4, 0, VTD_MASK(31, 2));
    define_rw(s, DMAR_FEUADDR_REG, 4, 0, upper_addr_rw);
    /* PMEN and the protected-memory registers: PLMR = PHMR = 0, so RO 0. */
    define_rw(s, DMAR_IQH_REG, 8, 0, 0);
    define_rw(s, DMAR_IQT_REG, 8, 0, VTD_IQ_PTR_MASK);
    define_rw(s, DMAR_IQA_REG, 8, 0,
              VTD_IQA_BASE_MASK | VTD_IQA_DW | VTD_MASK(2, 0));
    define_reg(s, DMAR_ICS_REG, 4, 0, 0, VTD_ICS_IWC, 0);
    define_rw(s, DMAR_IECTL_REG, 4, VTD_XECTL_IM, VTD_XECTL_IM);
    define_rw(s, DMAR_IEDATA_REG, 4, 0, ALL32);
    define_rw(s, DMAR_IEADDR_REG, 4, 0, VTD_MASK(31, 2));
    define_rw(s, DMAR_IEUADDR_REG, 4, 0, upper_addr_rw);
    /* IQERCD is hardware's (RO). EIME is RsvdZ without EIM; the whole of
     * IRTA is RsvdZ without ECAP.IR (spec IRTA_REG). */
    if (s->ecap & VTD_ECAP_IR) {
        define_rw(s, DMAR_IRTA_REG, 8, 0, VTD_IRTA_BASE_MASK |
                  VTD_MASK(3, 0) | (eim ? VTD_IRTA_EIME : 0));
    }
    if (s->ecap & VTD_ECAP_PRS) {
        define_page_request_regs(s, upper_addr_rw);
    }
    define_reg(s, VTD_IVA_OFFSET, 8, 0, VTD_IVA_ADDR(ALL64) | VTD_IVA_IH |
               VTD_MASK(5, 0), 0, ALL64);
    define_rw(s, VTD_IOTLB_OFFSET, 8, 0, VTD_IOTLB_IVT | VTD_MASK(61, 60) |
              VTD_IOTLB_DR | VTD_IOTLB_DW | VTD_MASK(47, 32));
    for (unsigned n = 0; n < s->nfr; n++) {
        define_reg(s, vtd_frcd_offset(s, n) + 8, 8, 0, 0, VTD_FRCD_HI_F, 0);
    }
}

uint64_t vtd_regs_read(VtdState *s, unsigned off, unsigned size)
{
    if (size > 8 || off >= VTD_MMIO_SIZE || size > VTD_MMIO_SIZE - off) {
        return ALL64;
    }
    return get_bytes(s->regs, off, size) & ~get_bytes(s->womask, off, size);
}

uint64_t vtd_regs_write(VtdState *s, unsigned off, uint64_t val, unsigned size)
{
    uint64_t old;

    if (size > 8 || off >= VTD_MMIO_SIZE || size > VTD_MMIO_SIZE - off) {
        return 0;
    }
    old = get_bytes(s->regs, off, size);
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t rw = s->wmask[off + i], w1c = s->w1cmask[off + i];

        s->regs[off + i] = ((s->regs[off + i] & ~rw) | (b & rw)) & ~(b & w1c);
    }
    return old;
}
