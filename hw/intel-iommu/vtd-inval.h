/*
 * One decoded invalidation request, and the single place where every
 * invalidation takes effect (vtd-inval.c).
 *
 * Both sources of invalidations go through vtd_inval_dispatch():
 *   - the invalidation queue (vtd-qi.c): one VtdInvalidation per descriptor
 *     of types 1-4 and 6-9 (the wait descriptor, type 5, is the batch
 *     boundary and becomes a vtd_inval_sync() call instead);
 *   - register-based invalidation (vtd-reg-inval.c): CCMD and IOTLB_REG, each
 *     its own batch (dispatch, then sync).
 *
 * The dispatcher first drops what the spec requires from the unit's own
 * caches (vtd-spec-facts.md §8.2, via vtd-cache.h), forwards device-TLB
 * invalidations and page group responses to the device side, then tells
 * every registered listener. Listeners are how code outside the queue (the
 * nesting work: forwarding to the host's caches) sees invalidations without
 * knowing where they came from.
 */
#ifndef VTD_INVAL_H
#define VTD_INVAL_H

#include <glib.h>

#include "hw/intel-iommu/vtd-internal.h"

typedef enum VtdInvalKind {
    VTD_INVAL_CONTEXT,         /* type 1 descriptor, CCMD register */
    VTD_INVAL_IOTLB,           /* type 2 descriptor, IOTLB register */
    VTD_INVAL_DEVTLB,          /* type 3: device-TLB (no PASID) */
    VTD_INVAL_IEC,             /* type 4: interrupt entry cache */
    VTD_INVAL_PASID_IOTLB,     /* type 6: PASID-based IOTLB */
    VTD_INVAL_PASID_CACHE,     /* type 7: PASID cache */
    VTD_INVAL_PASID_DEVTLB,    /* type 8: PASID-based device-TLB */
    VTD_INVAL_PAGE_RESPONSE,   /* type 9: page group response */
} VtdInvalKind;

/*
 * Granularity, named after what selects the entries. Which ones a kind uses:
 *   CONTEXT       GLOBAL, DOMAIN (did), DEVICE (sid, fm; did in legacy)
 *   IOTLB         GLOBAL, DOMAIN (did), PAGE (did, addr, am, ih)
 *   PASID_IOTLB   PASID (did, pasid), PAGE (did, pasid, addr, am, ih)
 *   PASID_CACHE   GLOBAL, DOMAIN (did), PASID (did, pasid)
 *   IEC           GLOBAL, INDEX (iidx, im)
 *   DEVTLB        DEVICE (sid, addr, s; range in devtlb_base/devtlb_size)
 *   PASID_DEVTLB  DEVICE (sid, pasid unless gi, addr, s, range as above)
 *   PAGE_RESPONSE DEVICE (sid = RID, pasid if pp, rc, lpig, prgi)
 * The granularity is what software asked for; the caches apply the mode's
 * rules (e.g. a domain-selective context invalidation acts as global in
 * scalable mode).
 */
typedef enum VtdInvalGran {
    VTD_INVAL_GRAN_GLOBAL,
    VTD_INVAL_GRAN_DOMAIN,
    VTD_INVAL_GRAN_DEVICE,
    VTD_INVAL_GRAN_PAGE,
    VTD_INVAL_GRAN_PASID,
    VTD_INVAL_GRAN_INDEX,
} VtdInvalGran;

typedef struct VtdInvalidation {
    VtdInvalKind kind;
    VtdInvalGran gran;
    bool from_register;     /* CCMD / IOTLB_REG rather than a descriptor */

    uint16_t did;
    uint16_t sid;           /* context: SID; device-TLB: SID; response: RID */
    uint8_t fm;             /* context: function mask 0..3 */
    uint32_t pasid;         /* PASID kinds; IOMMU_NO_PASID where none */

    /* IOTLB kinds: ADDR with its low AM page bits cleared, AM and IH.
     * Device-TLB kinds: ADDR[63:12] as written (the S encoding lives in
     * its low bits) and S. */
    uint64_t addr;
    uint8_t am;
    bool ih;
    bool s;                 /* device-TLB size bit */
    bool gi;                /* PASID device-TLB: all PASIDs of the function */
    uint8_t mip;            /* device-TLB: max invalidations pending */
    uint16_t pfsid;         /* device-TLB: physical function SID (DIT) */
    uint64_t devtlb_base;   /* device-TLB range decoded from addr/s */
    uint64_t devtlb_size;   /* UINT64_MAX: the whole address space */

    uint32_t iidx;          /* IEC: first interrupt index */
    uint8_t im;             /* IEC: 2^im indexes */

    bool pp;                /* page group response: PASID present */
    uint8_t rc;             /* response code (VTD_PRG_RC_*) */
    bool lpig;              /* last page in group */
    uint16_t prgi;          /* page request group index */

    uint64_t raw[4];        /* the descriptor as fetched (0 for registers) */
} VtdInvalidation;

/*
 * Someone who must see every invalidation the guest issues. Both callbacks
 * run synchronously on the vCPU's MMIO write that caused them.
 *   invalidate  once per invalidation, after the unit's own caches dropped
 *               what it names (may be NULL);
 *   sync        at every batch boundary: a wait descriptor, or the end of a
 *               register-based invalidation. The wait completes (status
 *               write, interrupt) only after every listener's sync returned.
 *               Returning false with errp set makes the unit report an
 *               invalidation completion error to the guest (FSTS.ICE; see
 *               vtd-inval.c). May be NULL.
 */
typedef struct VtdInvalListener {
    void (*invalidate)(void *opaque, VtdState *s, const VtdInvalidation *inv);
    bool (*sync)(void *opaque, VtdState *s, GError **errp);
} VtdInvalListener;

#define VTD_INVAL_MAX_LISTENERS  VTD_INVAL_LISTENER_SLOTS

/* Errors of this module (listener registration, sync without a message). */
#define VTD_INVAL_ERROR (vtd_inval_error_quark())
GQuark vtd_inval_error_quark(void);
typedef enum VtdInvalError {
    VTD_INVAL_ERROR_EXISTS,
    VTD_INVAL_ERROR_FULL,
    VTD_INVAL_ERROR_SYNC,
} VtdInvalError;

/* Register l (with its opaque). The pair must not be registered already;
 * fails when all VTD_INVAL_MAX_LISTENERS slots are taken. */
bool vtd_inval_add_listener(VtdState *s, const VtdInvalListener *l,
                            void *opaque, GError **errp);
/* Unregister the pair added with the same l and opaque (no-op if absent). */
void vtd_inval_remove_listener(VtdState *s, const VtdInvalListener *l,
                               void *opaque);

/*
 * Carry out one invalidation: the unit's caches, then the device side for
 * device-TLB kinds and page group responses, then every listener's
 * invalidate. Returns false only when a device-TLB invalidation timed out
 * (the caller reports FSTS.ITE with inv->sid as ITESID); everything else
 * has already happened by then.
 */
bool vtd_inval_dispatch(VtdState *s, const VtdInvalidation *inv);

/*
 * A batch boundary: call every listener's sync (all of them, even after a
 * failure). Returns false with the first error.
 */
bool vtd_inval_sync(VtdState *s, GError **errp);

/*
 * Close a batch (a wait descriptor, or the end of a register-based
 * invalidation): vtd_inval_sync(), a failure reported as FSTS.ICE. The
 * error is logged, not returned: the wait or register command completes.
 */
void vtd_inval_sync_or_report(VtdState *s);

/* Report an invalidation completion error (FSTS.ICE, IQERCD.ICESID). */
void vtd_inval_report_ice(VtdState *s, uint16_t sid);

/* ---- Implemented elsewhere; declared here so both sides agree. ---------- */

/*
 * vtd-devtlb.c: forward an ATS invalidation for sid.
 * pasid: IOMMU_NO_PASID for type 3; global: every PASID (type 8 GI).
 * [addr, addr + size); size UINT64_MAX = whole space. False = time-out.
 */
bool vtd_devtlb_invalidate(VtdState *s, uint16_t sid, uint32_t pasid,
                           bool global, uint64_t addr, uint64_t size);
/* vtd-prq.c: deliver a page group response (type 9). */
void vtd_prq_page_group_response(VtdState *s, const VtdInvalidation *inv);
/* vtd-ir.c: drop IEC entries (global, or 2^im from index). */
void vtd_iec_invalidate(VtdState *s, bool global, uint32_t index, unsigned im);

#endif
