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

/* A walk's state on reaching the last level (a 4 KiB-page
 * table), so a later walk of the same 2 MiB region may start there. */
typedef struct VtdSsLast {
    uint64_t table;     /* HPA of the level-1 table */
    unsigned perm;      /* cumulative R/W of the entries above it */
    bool valid;
} VtdSsLast;

typedef struct VtdSsWalk {
    VtdSsMode mode;
    uint64_t root;      /* SSPTPTR */
    unsigned aw;        /* AW encoding (1..3): levels = aw + 2 */
    unsigned access;    /* IommuAccess bits the request needs */
    bool check_perm;    /* fault when access is not granted (false: ATS
                           translation request, the caller reports perms) */
    bool ssade;         /* scalable: set A on every entry, D on leaf writes */
    bool snooped;       /* scalable: walk is snooped (SMPWCS && PWSNP) */
    /* Both NULL unless set: start at level 1 from resume (the
     * entries above were valid when recorded and, with SSADE, have A set);
     * record: filled when this walk reaches level 1 through a table. */
    const VtdSsLast *resume;
    VtdSsLast *record;
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
 * On a fault in the tables themselves (fetch error, entry not present,
 * reserved bits), out->level and out->page_mask give the region that entry
 * covers, so a range walker (vtd-nest-shadow.c) can skip it whole; the
 * other fields stay 0.
 */
VtdFaultReason vtd_ss_walk(VtdState *s, const VtdSsWalk *w, uint64_t addr,
                           VtdSsResult *out);

/* Input width of an SS table with AW encoding aw: min(MGAW, AGAW). */
unsigned vtd_ss_input_width(const VtdState *s, unsigned aw);

/* Set bits in the 8-byte entry at gpa if any is clear (read-modify-write).
 * Shared by both walkers; false when guest memory refuses the access. */
bool vtd_pte_set_bits(VtdState *s, uint64_t gpa, uint64_t bits);

#endif
