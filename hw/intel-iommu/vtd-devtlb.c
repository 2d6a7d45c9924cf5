/*
 * Device-TLB (ATS) invalidation: the unit forwards type 3 and type 8
 * descriptors to the device that caches translations (vtd-spec-facts.md
 * §5.1). The unit does not know devices, so the VMM registers a sink that
 * reaches them; a device that does not answer in time makes the queue
 * report an invalidation time-out (FSTS.ITE).
 */
#include "hw/intel-iommu/vtd-inval.h"

/* ADDR[63:12] holds 52 bits; 51 or more trailing ones reach 2^64 bytes. */
#define VTD_ATS_ADDR_BITS   52

void vtd_set_devtlb_sink(VtdState *s, const VtdDevTlbSink *sink)
{
    s->devtlb_sink = sink ? *sink : (VtdDevTlbSink){ 0 };
}

void vtd_ats_decode_range(uint64_t addr, bool size_bit, uint64_t *base,
                          uint64_t *size)
{
    uint64_t page = addr >> 12;
    unsigned ones;

    if (!size_bit) {
        *base = addr & ~0xfffULL;
        *size = 0x1000;
        return;
    }
    /* The lowest clear bit of ADDR[63:12] ends the run of ones. */
    ones = page == (~0ULL >> 12) ? VTD_ATS_ADDR_BITS
                                 : (unsigned)__builtin_ctzll(~page);
    if (ones + 13 >= 64) {
        *base = 0;
        *size = UINT64_MAX;     /* the whole address space */
        return;
    }
    *size = 1ULL << (ones + 13);
    *base = addr & ~(*size - 1);
}

/*
 * Called by the invalidation dispatcher (vtd-inval.c) for type 3 (pasid =
 * IOMMU_NO_PASID) and type 8 descriptors. Without a device side nothing
 * caches translations, so the invalidation completes at once (as QEMU does
 * for an SID it has no address space for).
 */
bool vtd_devtlb_invalidate(VtdState *s, uint16_t sid, uint32_t pasid,
                           bool global, uint64_t addr, uint64_t size)
{
    if (!s->devtlb_sink.invalidate) {
        return true;
    }
    return s->devtlb_sink.invalidate(s->devtlb_sink.opaque, sid, pasid, global,
                                     addr, size);
}
