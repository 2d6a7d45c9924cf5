/*
 * Second-stage (EPT-compatible) page walk (vtd-spec-facts.md §4.8, §7.3 step
 * 6-7, §7.4 "PGTT=010b"). One walker serves legacy mode (LSS/LGN fault codes)
 * and scalable mode (SSS/SGN codes, optional SSADE A/D maintenance), and is
 * the GPA->HPA hook of nested first-stage walks.
 */
#ifndef VTD_WALK_SS_H
#define VTD_WALK_SS_H

#include "hw/intel-iommu/vtd-internal.h"

typedef enum VtdSsMode {
    VTD_SS_LEGACY,      /* LCT.4 / LSS.1 / LSS.2 / LGN.1-3 */
    VTD_SS_SCALABLE,    /* SSS.1-6 / SGN.5-7 */
} VtdSsMode;

typedef struct VtdSsWalk {
    VtdSsMode mode;
    uint64_t root;      /* SSPTPTR */
    unsigned aw;        /* AW encoding (1..3): levels = aw + 2 */
    unsigned access;    /* IommuAccess bits the request needs */
    bool check_perm;    /* fault when access is not granted (false: ATS
                           translation request, the caller reports perms) */
    bool ssade;         /* scalable: set A on every entry, D on leaf writes */
    bool snooped;       /* scalable: walk is snooped (SMPWCS && PWSNP) */
} VtdSsWalk;

typedef struct VtdSsResult {
    uint64_t addr;      /* output address of the input address */
    uint64_t page_mask; /* size - 1 of the leaf page */
    unsigned perm;      /* cumulative IOMMU_ACCESS_READ/WRITE */
    unsigned level;     /* leaf level: 1 = 4K, 2 = 2M, 3 = 1G */
    bool dirty_ok;      /* a write through this mapping needs no A/D update */
} VtdSsResult;

/*
 * Walk addr. Returns VTD_FR_NONE and fills out, or the fault reason. With
 * check_perm, a missing permission is a fault (LGN.2/3, SGN.6/7, SSS.2 when
 * both cumulative R and W are 0).
 */
VtdFaultReason vtd_ss_walk(VtdState *s, const VtdSsWalk *w, uint64_t addr,
                           VtdSsResult *out);

/* Input width of an SS table with AW encoding aw: min(MGAW, AGAW). */
unsigned vtd_ss_input_width(const VtdState *s, unsigned aw);

/* Set bits in the 8-byte entry at gpa if any is clear (read-modify-write).
 * Shared by both walkers; false when guest memory refuses the access. */
bool vtd_pte_set_bits(VtdState *s, uint64_t gpa, uint64_t bits);

#endif
