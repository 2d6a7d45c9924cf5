/*
 * The VT-d unit's state, shared by its modules:
 *   vtd-regs.c     register image, access semantics, reset values
 *   vtd-config.c   properties, validation, CAP/ECAP composition
 *   vtd-core.c     GCMD commands, MMIO dispatch, lifetime
 *   vtd-fault.c    fault recording registers and the fault event
 *   vtd-tables.c   root/context/PASID-directory/PASID-entry readers
 *   vtd-walk-ss.c  second-stage walk      vtd-walk-fs.c first-stage walk
 *   vtd-translate.c  the request pipeline (legacy, scalable, nested, PT)
 *   vtd-iotlb.c / vtd-ctx-cache.c / vtd-pasid-cache.c   caches
 *   vtd-reg-inval.c  CCMD and IOTLB-register invalidation
 *   vtd-qi.c       invalidation queue      vtd-ir.c interrupt remapping
 * Register values the guest programmed live in regs[]; values that take effect
 * only on a command (RTADDR, IQA, IRTA) are latched in the fields below.
 */
#ifndef VTD_INTERNAL_H
#define VTD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vtdnest/intel-iommu.h"
#include "hw/intel-iommu/vtd-regs.h"
#include "hw/intel-iommu/vtd-fault-reasons.h"

typedef struct VtdIotlb VtdIotlb;
typedef struct VtdContextCache VtdContextCache;
typedef struct VtdPasidCache VtdPasidCache;

/* A fault as the translation pipeline sees it, before recording. */
typedef struct VtdFault {
    VtdFaultReason reason;
    uint16_t sid;
    uint64_t addr;          /* request address (page bits are recorded) */
    bool is_write;          /* T1/T2 encoding: write */
    bool is_read;           /*               read   (both: AtomicOp) */
    bool page_request;
    bool pasid_present;
    uint32_t pasid;
    bool priv;
    bool exec;
    uint8_t at;             /* address type */
    bool fpd;               /* an entry on the way had FPD=1 */
    bool is_ir;             /* interrupt-remapping fault: addr = index << 48 */
} VtdFault;

/* ---- The interrupt entry cache (vtd-ir.c). A small
 * direct-mapped cache of present IRTEs, indexed by interrupt index; kept in
 * VtdState so it needs no allocation and resets with the unit. ---- */
#define VTD_IEC_SLOTS 256
typedef struct VtdIecSlot {
    uint64_t irte[2];       /* the IRTE as fetched (host order) */
    uint32_t index;         /* interrupt index it belongs to */
    bool valid;
} VtdIecSlot;
typedef struct VtdIec {
    VtdIecSlot slot[VTD_IEC_SLOTS];
    uint64_t hits, misses;
} VtdIec;

/* ---- Invalidation listeners (vtd-inval.h) live in the unit,
 * in a few fixed slots, so registering needs no allocation or teardown. ---- */
#define VTD_INVAL_LISTENER_SLOTS 4
struct VtdInvalListener;
typedef struct VtdInvalListenerSlot {
    const struct VtdInvalListener *l;
    void *opaque;
} VtdInvalListenerSlot;

/* ---- Second-stage translations of first-stage table
 * pages used by nested walks (vtd-nest-cache.c, vtd-nest-cache.h). A small
 * set-associative table inside the unit: no allocation, cleared on reset. */
#define VTD_NEST_PS_SETS 64
#define VTD_NEST_PS_WAYS 4
typedef struct VtdNestPsEntry {
    uint64_t gpa_page;      /* tag: GPA >> 12 of the FS table page (nest_pde:
                               of the 2 MiB region's first page) */
    uint64_t ss_root;       /* tag: SSPTPTR the walk started from */
    uint64_t hpa;           /* SS output of the page's base (nest_pde: HPA of
                               the region's SS level-1 table) */
    uint64_t ss_mask;       /* size - 1 of the GPA range the entry depends on:
                               SS leaf page (nest_pde: 2 MiB) */
    uint32_t tag;           /* tag: DID, AW, SSADE (vtd_nest_ps_key); 0 = free */
    uint8_t perm;           /* cumulative SS R/W (nest_pde: above level 1) */
    uint8_t level;          /* SS leaf level */
    bool dirty_ok;          /* leaf D already set (or no A/D maintenance) */
} VtdNestPsEntry;
typedef struct VtdNestPs {
    VtdNestPsEntry set[VTD_NEST_PS_SETS][VTD_NEST_PS_WAYS];
    uint8_t victim[VTD_NEST_PS_SETS];   /* round-robin replacement */
    unsigned count;                     /* live entries: skip empty scans */
} VtdNestPs;

struct VtdState {
    VtdConfig cfg;
    uint64_t cap, ecap;
    unsigned nfr;           /* number of fault recording registers */
    uint64_t haw_mask;      /* host address width mask (aw_bits) */

    /* Register image and per-byte access masks. */
    uint8_t regs[VTD_MMIO_SIZE];
    uint8_t wmask[VTD_MMIO_SIZE];   /* RW bits */
    uint8_t w1cmask[VTD_MMIO_SIZE]; /* RW1C bits */
    uint8_t womask[VTD_MMIO_SIZE];  /* write-only bits: read as 0 */

    VtdGuestMem mem;
    VtdMsiSink msi;

    /* Latched by SRTP. */
    uint64_t root_addr;
    unsigned ttm;
    bool ssirwe;
    /* Level commands in effect. */
    bool dmar_enabled;
    bool qi_enabled;
    bool ir_enabled;
    bool cfi_enabled;
    /* Latched by QIE enable. */
    uint64_t iq_base;
    uint32_t iq_entries;
    bool iq_dw;             /* 256-bit descriptors */
    bool iq_last_was_wait;
    /* Latched by SIRTP. */
    uint64_t irt_base;
    uint32_t irt_entries;
    bool irt_eime;

    unsigned fault_index;   /* next FRCD to write */

    VtdIotlb *iotlb;
    VtdContextCache *ctx_cache;
    VtdPasidCache *pasid_cache;

    VtdStats stats;

    /* ---- Where device-TLB invalidations and page group
     * responses go (vtd-devtlb.c, vtd-prq.c); zero = no device side. ---- */
    VtdDevTlbSink devtlb_sink;
    VtdPrqSink prq_sink;

    /* ---- Interrupt entry cache (vtd-ir.c). ---- */
    VtdIec iec;
    /* ---- Invalidation queue and listeners: vtd-inval.c / vtd-qi.c. ---- */
    VtdInvalListenerSlot inval_listeners[VTD_INVAL_LISTENER_SLOTS];
    /* A device-TLB invalidation timed out (FSTS.ITE): the next wait
     * descriptor, the one closing that batch, is aborted, not completed. */
    bool iq_abort_next_wait;
    bool iq_busy;           /* vtd_qi_process is running (no re-entry) */
    /* ---- Passthrough-device nesting (vtd-nesting.h);
     * NULL until the first vtd_set_host_device(). ---- */
    const struct VtdNestHooks *nest_hooks;
    struct VtdNesting *nesting;
    /* ---- SS translations of FS table pages, and the
     * SS last-level tables of 2 MiB GPA regions (vtd-nest-cache.h). ---- */
    VtdNestPs nest_ps;
    VtdNestPs nest_pde;
};

/* ---- What vtd-core tells the nesting code. Called after
 * the command took effect; all may be NULL. ---- */
typedef struct VtdNestHooks {
    void (*root_table)(VtdState *s);    /* SRTP latched a root table */
    void (*translation)(VtdState *s);   /* TE changed (see dmar_enabled) */
    void (*reset)(VtdState *s);         /* vtd_reset() finished */
    void (*destroy)(VtdState *s);       /* vtd_free(), before the caches go */
} VtdNestHooks;
#define VTD_NEST_HOOK(s, fn)                                            \
    do {                                                                \
        if ((s)->nest_hooks && (s)->nest_hooks->fn) {                   \
            (s)->nest_hooks->fn(s);                                     \
        }                                                               \
    } while (0)

/* Register image helpers (hardware-side: no masks applied). */
static inline uint32_t vtd_get32(const VtdState *s, unsigned off)
{
    uint32_t v;
    memcpy(&v, &s->regs[off], 4);
    return v;
}
static inline uint64_t vtd_get64(const VtdState *s, unsigned off)
{
    uint64_t v;
    memcpy(&v, &s->regs[off], 8);
    return v;
}
static inline void vtd_set32(VtdState *s, unsigned off, uint32_t v)
{
    memcpy(&s->regs[off], &v, 4);
}
static inline void vtd_set64(VtdState *s, unsigned off, uint64_t v)
{
    memcpy(&s->regs[off], &v, 8);
}
static inline void vtd_set_clear32(VtdState *s, unsigned off, uint32_t clr,
                                   uint32_t set)
{
    vtd_set32(s, off, (vtd_get32(s, off) & ~clr) | set);
}
static inline void vtd_set_clear64(VtdState *s, unsigned off, uint64_t clr,
                                   uint64_t set)
{
    vtd_set64(s, off, (vtd_get64(s, off) & ~clr) | set);
}
static inline unsigned vtd_frcd_offset(const VtdState *s, unsigned n)
{
    return VTD_FRCD_OFFSET + 16 * n;
}

/* Guest memory (RAM only). */
static inline bool vtd_dma_read(VtdState *s, uint64_t gpa, void *buf, uint64_t len)
{
    return s->mem.read(s->mem.opaque, gpa, buf, len);
}
static inline bool vtd_dma_write(VtdState *s, uint64_t gpa, const void *buf,
                                 uint64_t len)
{
    return s->mem.write(s->mem.opaque, gpa, buf, len);
}

/* vtd-regs.c: build masks and power-on values. */
void vtd_regs_init(VtdState *s);
uint64_t vtd_regs_read(VtdState *s, unsigned off, unsigned size);
/* Applies RW/RW1C masks; returns the register's previous value. */
uint64_t vtd_regs_write(VtdState *s, unsigned off, uint64_t val, unsigned size);

/* vtd-fault.c */
/* Record (or suppress, for qualified faults under FPD) a fault. */
void vtd_fault_report(VtdState *s, const VtdFault *f);
/* Status bits IQE/ICE/ITE set by the queue: raise the event when first. */
void vtd_fault_set_status(VtdState *s, uint32_t fsts_bits);
/* After a guest write to FSTS, FECTL or an FRCD high half. */
void vtd_fault_fsts_written(VtdState *s);
void vtd_fault_fectl_written(VtdState *s);
void vtd_fault_frcd_written(VtdState *s, unsigned n);
void vtd_fault_reset_index(VtdState *s);
/* Event interrupts for IECTL / PECTL share the IM/IP logic. */
void vtd_event_raise(VtdState *s, unsigned ctl_off, unsigned data_off,
                     unsigned addr_off, unsigned uaddr_off);
void vtd_event_ctl_written(VtdState *s, unsigned ctl_off, unsigned data_off,
                           unsigned addr_off, unsigned uaddr_off);

/* Cache-wide invalidations used by commands (SRTP, TE off, reset). */
void vtd_caches_flush_all(VtdState *s);


/* ---- Fault events and register-based invalidation --------------------- */

/*
 * vtd-fault.c: VtdFault.addr for an interrupt-remapping fault (is_ir) is the
 * interrupt index; a value already shifted to index << 48 is accepted too.
 */
/* Clear IP of an event control register (status cleared by software). */
void vtd_event_clear_pending(VtdState *s, unsigned ctl_off);

/* vtd-reg-inval.c: run the command in CCMD / IOTLB_REG (ICC / IVT set). */
void vtd_reg_inval_ccmd(VtdState *s);
void vtd_reg_inval_iotlb(VtdState *s);

/* ---- queued invalidation (vtd-qi.c) ----------------------------------- */
/*
 * Called by vtd-core.c after every guest write to IQT (low dword or the full
 * qword), whether or not QI is enabled: the queue checks QIES, FSTS.IQE/ITE
 * and the tail itself. It updates IQH, iq_last_was_wait and the status.
 */
void vtd_qi_process(VtdState *s);
/* Called once GCMD.QIE has latched IQA (iq_base/iq_dw/iq_entries) and set
 * QIES; descriptors already queued (IQT != IQH) may be processed here. */
void vtd_qi_enabled(VtdState *s);

/* ---- interrupt remapping (vtd-ir.c) ----------------------------------- */
/* Power-on / restore: the interrupt entry cache starts empty. */
void vtd_ir_reset(VtdState *s);
/* GCMD.SIRTP has latched IRTA: the new table takes effect at once. */
void vtd_ir_irt_latched(VtdState *s);

#endif
