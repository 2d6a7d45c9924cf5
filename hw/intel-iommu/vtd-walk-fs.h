/*
 * First-stage (IA-32e compatible) page walk, 4 or 5 levels (vtd-spec-facts.md
 * §4.7, §7.4 "PGTT=001b" and "PGTT=011b"). In nested mode every table
 * pointer and the final output are GPAs that a hook translates through the
 * second stage.
 */
#ifndef VTD_WALK_FS_H
#define VTD_WALK_FS_H

#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-walk-ss.h"

/*
 * Nested translation of a GPA through the second stage. The hook returns
 * the SS walk's fault (SSS.x, SGN.5, SGN.6/SGN.7 for a missing permission
 * when check_perm) or VTD_FR_NONE with out filled. The FS walker turns
 * permission faults on its own structure accesses into SFS.6/7/8.
 */
typedef struct VtdFsNest {
    VtdFaultReason (*translate)(void *opaque, uint64_t gpa, unsigned access,
                                bool check_perm, VtdSsResult *out);
    void *opaque;
    /* The same for GPAs inside FS tables (table reads, A/D
     * updates), which may answer from a cache of them; NULL: translate. */
    VtdFaultReason (*translate_table)(void *opaque, uint64_t gpa,
                                      unsigned access, VtdSsResult *out);
    unsigned gpa_width;  /* min(MGAW, SS AGAW): FS ADDR beyond -> SFS.5 */
    bool ssade;          /* reading FS structures needs SS R and W */
} VtdFsNest;

typedef struct VtdFsWalk {
    uint64_t root;       /* FSPTPTR (GPA when nested) */
    unsigned levels;     /* 4 or 5 (FSPM) */
    bool priv;           /* supervisor request (PR=1) */
    unsigned access;     /* IommuAccess bits the request needs */
    bool check_perm;     /* fault on missing rights (false: ATS translation) */
    bool wpe;            /* supervisor writes honour R/W */
    bool eafe;           /* maintain EA (bit 10) with A */
    bool snooped;        /* SMPWCS && PWSNP: A/D updates allowed */
    const VtdFsNest *nest; /* NULL: pointers are HPAs */
} VtdFsWalk;

typedef struct VtdFsResult {
    uint64_t addr;       /* output (HPA) of the input address */
    uint64_t page_mask;  /* size - 1: min(FS, SS) page when nested */
    unsigned perm_user;  /* rights for PR=0 requests */
    unsigned perm_super; /* rights for PR=1 requests */
    bool user;           /* U/S=1 at every level (ATS U bit) */
    bool dirty_ok;       /* a write needs no further A/D update */
} VtdFsResult;

VtdFaultReason vtd_fs_walk(VtdState *s, const VtdFsWalk *w, uint64_t addr,
                           VtdFsResult *out);

/* Canonical for an N-bit first stage (N = 48 or 57)? */
static inline bool vtd_fs_canonical(uint64_t addr, unsigned levels)
{
    unsigned n = levels == 5 ? 57 : 48;
    int64_t sext = (int64_t)(addr << (64 - n)) >> (64 - n);
    return (uint64_t)sext == addr;
}

#endif
