/*
 * Nested translation for passthrough devices (docs/nesting.md).
 *
 * A passthrough device's DMA never reaches vtd_translate(): the host IOMMU
 * translates it. This module makes the host do what the guest programmed:
 *   vtd-nest-s2.c     stage 2 (GPA -> host): IOAS containers holding all
 *                     guest RAM, each with stage-2 HWPTs shared by
 *                     compatible devices (nest parents with flts=on);
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
    bool nest_parent;       /* its HWPTs are nest parents (guest flts=on) */
    bool ro_free;           /* ERRATA_772415 variant of a nest-parent
                               container: read-only RAM left out */
    uint32_t ioas_id;
    bool mapped;            /* guest RAM is in the IOAS */
    GList *hwpts;           /* VtdS2Hwpt, in creation order */
    unsigned seq;           /* report order */
};

/* A stage-2 HWPT in a container (design: VTDS2Hwpt): a nest parent when the
 * guest can program first-stage tables, else a plain paging HWPT. */
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
    VTD_SHADOW_SS,          /* a shadow IOAS mirroring the
                               guest's second stage (vtd-nest-shadow.c) */
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
    struct VtdSsHwpt *ss;   /* SS: the shadow-domain HWPT attached */
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
    struct VtdNestFaultQueue *fq;   /* host fault queue (iopf devices), or NULL */
};

struct VtdNesting {
    VtdState *s;
    VtdRamSource ram;
    bool has_ram;
    GList *containers;      /* VtdNestContainer */
    GList *devs;            /* VtdNestDev */
    unsigned next_seq;
    GError *deferred;       /* host error during re-evaluation: next sync */
    GList *ss_domains;      /* VtdSsDomain (vtd-nest-shadow.c) */
    GArray *ss_ram;         /* RAM blocks cached for lookups */
    GList *fault_queues;    /* VtdNestFaultQueue, one per iommufd (nest-fault) */
    /* Counters for the report and tests. */
    uint64_t host_inval_calls, host_inval_entries, syncs;
};

/* vtd-nest-s2.c */
bool vtd_nest_s2_join(VtdNesting *n, VtdNestDev *d, GError **errp);
void vtd_nest_s2_leave(VtdNesting *n, VtdNestDev *d);
uint32_t vtd_nest_s2_hwpt_flags(const VtdNestDev *d);
/* Are stage-2 HWPTs nest parents? Only when the guest can hand out
 * first-stage tables (flts=on); the host's nesting checks follow this. */
bool vtd_nest_s2_nest_parent(const VtdNesting *n);

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

/* vtd-nest-fault.c: host stage-1 faults -> guest fault records / page
 * requests. join: share (or allocate) the fault queue of d's iommufd when the
 * host device can deliver I/O page faults; leave: after d's HWPTs are gone. */
bool vtd_nest_fault_join(VtdNesting *n, VtdNestDev *d, GError **errp);
void vtd_nest_fault_leave(VtdNesting *n, VtdNestDev *d);
/* What a nested HWPT allocation for d adds: IOMMU_HWPT_FAULT_ID_VALID and
 * the queue's id, or 0 and 0 without a queue. */
uint32_t vtd_nest_fault_hwpt_flags(const VtdNestDev *d);
uint32_t vtd_nest_fault_id(const VtdNestDev *d);
/* Answer "Invalid" to the host for forwarded page requests the guest will
 * not answer: all of them (reset), or those of requesters that no longer
 * take page requests (TE off, new root table, PRE cleared). */
void vtd_nest_fault_drop_stale(VtdNesting *n, bool all);

/* ---- The caching-mode shadow path (vtd-nest-shadow.c) -------------------
 * A guest second-stage table (legacy context entry TT=00b/01b, or a PASID
 * entry with PGTT=010b) cannot be nested: the host walks first stages only.
 * It is mirrored instead into a plain paging IOAS per guest domain (DID + SS
 * root), updated from the guest's tables at every IOTLB invalidation that
 * names the domain (caching mode makes the guest invalidate new mappings).
 */
typedef struct VtdSsDomain VtdSsDomain;

/* Which guest second-stage table a shadow domain mirrors. */
typedef struct VtdSsKey {
    bool legacy;            /* from a legacy context entry (fault codes) */
    uint16_t did;
    uint64_t root;          /* SSPTPTR (GPA) */
    unsigned aw;            /* AW encoding 1..3 */
} VtdSsKey;

/* A paging (not nest-parent) HWPT on a shadow domain's IOAS. */
typedef struct VtdSsHwpt {
    VtdSsDomain *dom;
    uint32_t hwpt_id;
    uint32_t flags;         /* IOMMU_HWPT_ALLOC_PASID or 0 */
    unsigned users;         /* shadows attached to it */
} VtdSsHwpt;

struct VtdSsDomain {
    VtdNesting *n;
    IommufdBackend *be;
    VtdSsKey key;
    uint32_t ioas_id;
    GList *hwpts;           /* VtdSsHwpt */
    GTree *maps;            /* iova -> one IOAS area, exactly as mapped */
    /* Counters for the report, tests and benchmarks. */
    uint64_t syncs, host_maps, host_unmaps, unchanged, unbacked;
};

/* What a second-stage shadow needs, or why it cannot be used (kind BLOCKED
 * with *why; S2 for a legacy pass-through context entry). */
VtdShadowKind vtd_nest_ss_want_legacy(VtdNestDev *d, VtdSsKey *key,
                                      const char **why);
VtdShadowKind vtd_nest_ss_want_pasid(VtdNestDev *d, const VtdPasidEntry *pe,
                                     VtdSsKey *key, const char **why);
/* Is sh attached to the shadow of exactly this table? */
bool vtd_nest_ss_same(const VtdNestShadow *sh, const VtdSsKey *key);
/* Attach sh (RID or PASID) to the shadow domain of key, creating and filling
 * it first if needed; replaces sh's old attachment on the host. On failure
 * the host and sh are unchanged. */
bool vtd_nest_ss_attach(VtdNestShadow *sh, const VtdSsKey *key, GError **errp);
/* sh no longer uses its shadow domain (the host attachment is already gone
 * or replaced); frees the domain with its last user. No-op without one. */
void vtd_nest_ss_release(VtdNestShadow *sh);
/* A type-2 IOTLB invalidation: re-walk what it names into the shadows. */
void vtd_nest_ss_invalidate(VtdNesting *n, const VtdInvalidation *inv);
/* Unit teardown: cached RAM layout. */
void vtd_nest_ss_fini(VtdNesting *n);

/* Every shadow of every device (RID first, then PASIDs in any order). */
typedef void (*VtdNestShadowFn)(VtdNestShadow *sh, void *opaque);
void vtd_nest_foreach_shadow(VtdNesting *n, VtdNestShadowFn fn, void *opaque);

#endif
