/*
 * Nested translation for passthrough devices (docs/nesting.md).
 *
 * A passthrough device's DMA never reaches vtd_translate(): the host IOMMU
 * translates it. This module makes the host do what the guest programmed:
 *   vtd-nest-s2.c     stage 2 (GPA -> host): IOAS containers holding all
 *                     guest RAM, each with nest-parent HWPTs shared by
 *                     compatible devices;
 *   vtd-nest-pasid.c  stage 1: a guest PASID entry with PGTT=first-stage
 *                     becomes a nested HWPT on the device's stage-2 HWPT,
 *                     attached on the RID (RID_PASID) or on the PASID;
 *   vtd-nest-inval.c  guest IOTLB invalidations, batched per nested HWPT
 *                     and sent to the host at each wait descriptor;
 *   vtd-nesting.c     the public entry points, realize-time checks, the
 *                     hooks from vtd-core and the state report.
 */
#ifndef VTD_NESTING_H
#define VTD_NESTING_H

#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-inval.h"
#include "hw/intel-iommu/vtd-tables.h"

#include "vtdnest/host-iommu-device.h"

typedef struct VtdNesting VtdNesting;
typedef struct VtdNestContainer VtdNestContainer;
typedef struct VtdS2Hwpt VtdS2Hwpt;
typedef struct VtdNestDev VtdNestDev;
typedef struct VtdNestShadow VtdNestShadow;

/* One IOAS with all guest RAM (design: VTDIOASContainer). */
struct VtdNestContainer {
    VtdNesting *n;
    IommufdBackend *be;
    char *iommufd_id;
    bool ro_free;           /* ERRATA_772415 variant: read-only RAM left out */
    uint32_t ioas_id;
    bool mapped;            /* guest RAM is in the IOAS */
    GList *hwpts;           /* VtdS2Hwpt, in creation order */
    unsigned seq;           /* report order */
};

/* A nest-parent stage-2 HWPT in a container (design: VTDS2Hwpt). */
struct VtdS2Hwpt {
    VtdNestContainer *c;
    uint32_t hwpt_id;
    bool coherent;          /* allocated by a device that enforces coherency */
    GList *users;           /* VtdNestDev */
};

typedef enum VtdShadowKind {
    VTD_SHADOW_BLOCKED,     /* nothing attached: DMA blocked */
    VTD_SHADOW_S2,          /* the stage-2 HWPT: output = GPA */
    VTD_SHADOW_NESTED,      /* a nested HWPT over the guest's first stage */
} VtdShadowKind;

/* What one (device, PASID) is attached to on the host. */
struct VtdNestShadow {
    VtdNestDev *dev;
    uint32_t pasid;         /* guest PASID (RID_PASID for the RID shadow) */
    bool on_rid;            /* attached on the RID, not on a PASID */
    VtdShadowKind kind;
    uint16_t did;           /* guest DID of the entry (NESTED) */
    uint32_t nested_id;     /* NESTED: the HWPT id */
    struct iommu_hwpt_vtd_s1 s1;  /* NESTED: what it was built from */
    const char *why;        /* BLOCKED: reason, for the report (static) */
    GArray *pending;        /* struct iommu_hwpt_vtd_s1_invalidate, this batch */
    bool pending_all;       /* a whole-space flush is queued */
};

/* A host IOMMU device the unit owns. */
struct VtdNestDev {
    VtdNesting *n;
    HostIommuDevice *hd;
    VtdS2Hwpt *s2;
    bool use_pasid;         /* HWPTs carry IOMMU_HWPT_ALLOC_PASID */
    VtdNestShadow *rid;     /* requests without PASID */
    GHashTable *pasids;     /* guest PASID -> VtdNestShadow (PASID attach) */
    GArray *orphans;        /* uint32 HWPT ids the host failed to destroy */
};

struct VtdNesting {
    VtdState *s;
    VtdRamSource ram;
    bool has_ram;
    GList *containers;      /* VtdNestContainer */
    GList *devs;            /* VtdNestDev */
    unsigned next_seq;
    GError *deferred;       /* host error during re-evaluation: next sync */
    /* Counters for the report and tests. */
    uint64_t host_inval_calls, host_inval_entries, syncs;
};

/* vtd-nest-s2.c */
bool vtd_nest_s2_join(VtdNesting *n, VtdNestDev *d, GError **errp);
void vtd_nest_s2_leave(VtdNesting *n, VtdNestDev *d);
uint32_t vtd_nest_s2_hwpt_flags(const VtdNestDev *d);

/* vtd-nest-pasid.c */
VtdNestShadow *vtd_nest_shadow_new(VtdNestDev *d, uint32_t pasid, bool on_rid);
/* Re-read everything for d (RID and PASIDs); scan: also look for PASID
 * entries not shadowed yet. */
void vtd_nest_dev_refresh(VtdNestDev *d, bool scan);
/* Re-read one PASID of d (RID_PASID goes to the RID shadow). */
void vtd_nest_dev_refresh_pasid(VtdNestDev *d, uint32_t pasid);
/* Point everything of d at nothing (unplug): PASIDs detached, RID blocked. */
void vtd_nest_dev_release(VtdNestDev *d);
/* Destroy HWPTs a failed IOMMU_DESTROY left behind; false if some remain. */
bool vtd_nest_dev_retry_orphans(VtdNestDev *d);
/* Record a host failure for the next sync (first one wins). */
void vtd_nest_defer_error(VtdNesting *n, GError *err);

/* vtd-nest-inval.c */
extern const VtdInvalListener vtd_nest_inval_listener;
void vtd_nest_shadow_drop_pending(VtdNestShadow *sh);

/* Every shadow of every device (RID first, then PASIDs in any order). */
typedef void (*VtdNestShadowFn)(VtdNestShadow *sh, void *opaque);
void vtd_nest_foreach_shadow(VtdNesting *n, VtdNestShadowFn fn, void *opaque);

#endif
