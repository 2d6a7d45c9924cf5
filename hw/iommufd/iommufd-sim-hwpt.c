/*
 * Simulated HWPTs: paging and nest-parent domains over an IOAS, nested VT-d
 * stage-1 domains (allocation §3.3, attach checks §3.4), the guest
 * first-stage walk done THROUGH the parent IOAS, and the host IOTLB /
 * paging-structure cache that only IOMMU_HWPT_INVALIDATE (§3.5) or a parent
 * unmap clears.
 */
#include "iommufd-sim-internal.h"

#define FS_P         SIM_BIT(0)
#define FS_RW        SIM_BIT(1)
#define FS_US        SIM_BIT(2)
#define FS_A         SIM_BIT(5)
#define FS_D         SIM_BIT(6)
#define FS_PS        SIM_BIT(7)
#define FS_EA        SIM_BIT(10)

static uint64_t bits(unsigned hi, unsigned lo)
{
    return ((hi == 63 ? ~0ull : (SIM_BIT(hi + 1) - 1))) & ~(SIM_BIT(lo) - 1);
}

static SimHwpt *hwpt_new(SimCtx *ctx, SimUnit *unit, uint32_t flags, SimFault *fault)
{
    SimHwpt *h = g_new0(SimHwpt, 1);

    h->ctx = ctx;
    h->unit = unit;
    h->flags = flags;
    h->fault = fault;
    if (fault) {
        fault->obj.users++;
    }
    return h;
}

SimHwpt *sim_hwpt_new_paging(SimCtx *ctx, SimDevice *dev, SimIoas *ioas,
                             uint32_t flags, bool auto_domain, SimFault *fault,
                             int *err)
{
    SimHwpt *h;
    int rc;

    /* Filling the new domain with the existing maps trips the errata rule. */
    if ((flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && dev->unit->errata &&
        sim_ioas_has_readonly_area(ioas)) {
        *err = -EINVAL;
        return NULL;
    }
    for (unsigned i = 0; i < ioas->areas->len; i++) {
        const SimArea *a = &g_array_index(ioas->areas, SimArea, i);

        if ((a->iova | a->length) % SIM_PAGE_SIZE) {
            *err = -EADDRINUSE;   /* existing maps too fine for a 4K domain */
            return NULL;
        }
    }
    h = hwpt_new(ctx, dev->unit, flags, NULL);
    /* Everything above the domain's address width is outside its aperture. */
    rc = sim_ioas_add_resv(ioas, SIM_BIT(dev->unit->aw), UINT64_MAX, h);
    if (rc) {
        g_free(h);
        *err = rc;
        return NULL;
    }
    if (fault) {
        h->fault = fault;
        fault->obj.users++;
    }
    h->auto_domain = auto_domain;
    h->enforce_cc = sim_device_enforce_cc(dev);
    h->ioas = ioas;
    h->children = g_ptr_array_new();
    g_ptr_array_add(ioas->hwpts, h);
    ioas->obj.users++;
    sim_obj_add(ctx, &h->obj, SIM_OBJ_HWPT_PAGING);
    return h;
}

void sim_hwpt_free(SimHwpt *h)
{
    if (h->parent) {
        g_ptr_array_remove(h->parent->children, h);
        h->parent->obj.users--;
    } else {
        g_assert(h->children->len == 0);   /* children hold a reference */
        sim_ioas_remove_resv(h->ioas, h);
        g_ptr_array_remove(h->ioas->hwpts, h);
        h->ioas->obj.users--;
        g_ptr_array_free(h->children, true);
    }
    if (h->fault) {
        h->fault->obj.users--;
    }
    if (h->iotlb) {
        g_array_free(h->iotlb, true);
        g_array_free(h->pwc, true);
    }
    g_free(h);
}

static int hwpt_alloc_nested(SimCtx *ctx, struct iommu_hwpt_alloc *cmd, SimDevice *dev,
                             SimHwpt *parent, SimFault *fault, SimHwpt **out)
{
    SimHwpt *h;

    if (cmd->flags & (IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING)) {
        return -EOPNOTSUPP;
    }
    if (parent->auto_domain || !(parent->flags & IOMMU_HWPT_ALLOC_NEST_PARENT)) {
        return -EINVAL;
    }
    if (cmd->data_type == IOMMU_HWPT_DATA_NONE) {
        return -EOPNOTSUPP;   /* a nested domain needs driver data */
    }
    if (!sim_unit_nesting(dev->unit) || cmd->data_type != IOMMU_HWPT_DATA_VTD_S1) {
        return -EOPNOTSUPP;
    }
    if (cmd->data_len != sizeof(struct iommu_hwpt_vtd_s1)) {
        return -EINVAL;
    }
    if (!cmd->data_uptr) {
        return -EFAULT;
    }
    /*
     * Like the kernel, flags/addr_width/__reserved are not validated here but
     * when the domain is attached (sim_hwpt_check_attach).
     */
    h = hwpt_new(ctx, dev->unit, cmd->flags, fault);
    memcpy(&h->s1, (const void *)(uintptr_t)cmd->data_uptr, sizeof(h->s1));
    h->parent = parent;
    h->ioas = parent->ioas;
    h->enforce_cc = parent->enforce_cc;
    h->iotlb = g_array_new(false, true, sizeof(SimTlbEntry));
    h->pwc = g_array_new(false, true, sizeof(SimPwcEntry));
    parent->obj.users++;
    g_ptr_array_add(parent->children, h);
    sim_obj_add(ctx, &h->obj, SIM_OBJ_HWPT_NESTED);
    *out = h;
    return 0;
}

int sim_hwpt_alloc_cmd(SimCtx *ctx, void *cmd_buf)
{
    struct iommu_hwpt_alloc *cmd = cmd_buf;
    const uint32_t known = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
                           IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;
    SimObj *dev_obj, *pt, *fault_obj;
    SimFault *fault = NULL;
    SimDevice *dev;
    SimHwpt *h = NULL;
    int rc;

    if (cmd->__reserved || cmd->__reserved2 || (cmd->flags & ~known)) {
        return -EOPNOTSUPP;
    }
    if ((cmd->data_type == IOMMU_HWPT_DATA_NONE) != (cmd->data_len == 0)) {
        return -EINVAL;
    }
    dev_obj = sim_obj_get(ctx, cmd->dev_id);
    if (!dev_obj || dev_obj->type != SIM_OBJ_DEVICE) {
        return -ENOENT;
    }
    dev = (SimDevice *)dev_obj;
    pt = sim_obj_get(ctx, cmd->pt_id);
    if (!pt) {
        return -EINVAL;   /* the kernel reports a missing pt_id as EINVAL */
    }
    if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
        fault_obj = sim_obj_get(ctx, cmd->fault_id);
        if (!fault_obj || fault_obj->type != SIM_OBJ_FAULT) {
            return -ENOENT;
        }
        fault = (SimFault *)fault_obj;
    }

    switch (pt->type) {
    case SIM_OBJ_IOAS:
        if (cmd->data_type != IOMMU_HWPT_DATA_NONE) {
            return -EOPNOTSUPP;   /* Intel paging domains take no user data */
        }
        if ((cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) &&
            (cmd->flags & IOMMU_HWPT_ALLOC_NEST_PARENT)) {
            return -EOPNOTSUPP;
        }
        if ((cmd->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && !sim_unit_nesting(dev->unit)) {
            return -EOPNOTSUPP;
        }
        if ((cmd->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) && !sim_unit_dirty(dev->unit)) {
            return -EOPNOTSUPP;
        }
        h = sim_hwpt_new_paging(ctx, dev, (SimIoas *)pt, cmd->flags, false, fault, &rc);
        if (!h) {
            return rc;
        }
        break;
    case SIM_OBJ_HWPT_PAGING:
        rc = hwpt_alloc_nested(ctx, cmd, dev, (SimHwpt *)pt, fault, &h);
        if (rc) {
            return rc;
        }
        break;
    default:
        return -EINVAL;   /* device, nested HWPT (nested-on-nested), fault */
    }
    cmd->out_hwpt_id = h->obj.id;
    return 0;
}

static SimHwpt *paging_of(SimHwpt *h)
{
    return h->parent ? h->parent : h;
}

int sim_hwpt_check_attach(SimHwpt *h, SimDevice *dev, uint32_t pasid)
{
    SimHwpt *paging = paging_of(h);
    SimUnit *u = dev->unit;

    if (paging->enforce_cc && !sim_device_enforce_cc(dev)) {
        return -EINVAL;   /* force-snoop domain behind a unit that cannot snoop */
    }
    if (sim_device_enforce_cc(dev) && !paging->enforce_cc) {
        /* iommufd switches the domain to force-snoop; VT-d refuses once mapped. */
        if (paging->ioas->areas->len) {
            return -EINVAL;
        }
        paging->enforce_cc = true;
    }
    if ((paging->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) && !sim_unit_dirty(u)) {
        return -EINVAL;
    }
    if ((paging->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && !sim_unit_nesting(u)) {
        return -EINVAL;
    }
    if (paging->unit->aw > u->aw) {
        return h->parent ? -ENODEV : -EINVAL;
    }
    if (!h->parent) {
        return 0;
    }
    if (pasid != IOMMUFD_NO_PASID) {
        if (!sim_unit_pasid(u)) {
            return -EOPNOTSUPP;
        }
        if (paging->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) {
            return -EINVAL;
        }
    }
    /* PASID-entry programming checks (§3.4). */
    if (h->s1.addr_width != 48 && h->s1.addr_width != 57) {
        return -EINVAL;
    }
    if (h->s1.addr_width == 57 && !(u->cap & SIM_CAP_FS5LP)) {
        return -EINVAL;
    }
    if ((h->s1.flags & IOMMU_VTD_S1_SRE) && !(u->ecap & SIM_ECAP_SRS)) {
        return -EINVAL;
    }
    if ((h->s1.flags & IOMMU_VTD_S1_EAFE) && !(u->ecap & SIM_ECAP_EAFS)) {
        return -EINVAL;
    }
    if (!sim_unit_nesting(u)) {
        return -EINVAL;
    }
    return 0;
}

/* ---- host IOTLB and paging-structure cache ---- */

static void cache_drop_range(GArray *arr, size_t elem, uint64_t start, uint64_t last,
                             bool is_tlb)
{
    for (unsigned i = arr->len; i-- > 0;) {
        uint64_t va, size;

        if (is_tlb) {
            SimTlbEntry *e = &g_array_index(arr, SimTlbEntry, i);
            va = e->iova;
            size = e->size;
        } else {
            SimPwcEntry *e = &g_array_index(arr, SimPwcEntry, i);
            va = e->va;
            size = e->span;
        }
        if (va <= last && start <= va + (size - 1)) {
            g_array_remove_index(arr, i);
        }
    }
}

static void hwpt_flush_all(SimHwpt *h)
{
    g_array_set_size(h->iotlb, 0);
    g_array_set_size(h->pwc, 0);
}

void sim_hwpt_flush(SimHwpt *h)
{
    if (h->iotlb) {
        hwpt_flush_all(h);
    }
}

void sim_ioas_flush_nested(SimIoas *ioas)
{
    for (unsigned i = 0; i < ioas->hwpts->len; i++) {
        SimHwpt *p = g_ptr_array_index(ioas->hwpts, i);

        for (unsigned j = 0; j < p->children->len; j++) {
            hwpt_flush_all(g_ptr_array_index(p->children, j));
        }
    }
}

/*
 * Page-selective flush as the VT-d driver issues it: the range grows to the
 * naturally aligned power-of-two block holding it; beyond CAP.MAMV (or for
 * npages = U64_MAX) it becomes a whole-PASID flush. LEAF (the IH hint) keeps
 * the paging-structure cache, so a changed non-leaf entry stays stale.
 */
static void hwpt_flush_range(SimHwpt *h, uint64_t addr, uint64_t npages, bool leaf)
{
    uint64_t last, start;
    unsigned order = 0;

    if (npages == 0) {
        return;
    }
    if (npages == UINT64_MAX || npages > ((UINT64_MAX - addr) >> 12)) {
        hwpt_flush_all(h);
        return;
    }
    last = addr + npages * SIM_PAGE_SIZE - 1;
    while (order < 52 && (addr >> (12 + order)) != (last >> (12 + order))) {
        order++;
    }
    if (order > SIM_CAP_MAMV_GET(h->unit->cap)) {
        hwpt_flush_all(h);
        return;
    }
    start = addr & ~(SIM_BIT(12 + order) - 1);
    last = start + SIM_BIT(12 + order) - 1;
    cache_drop_range(h->iotlb, sizeof(SimTlbEntry), start, last, true);
    if (!leaf) {
        cache_drop_range(h->pwc, sizeof(SimPwcEntry), start, last, false);
    }
}

int sim_hwpt_invalidate_cmd(SimCtx *ctx, void *cmd_buf, bool *copy_out)
{
    struct iommu_hwpt_invalidate *inv = cmd_buf;
    uint32_t requested = inv->entry_num;
    const uint8_t *entries = (const uint8_t *)(uintptr_t)inv->data_uptr;
    SimObj *obj;
    SimHwpt *h;
    int rc = 0;

    /* entry_num is always written back: 0 unless the driver got to work. */
    *copy_out = true;
    inv->entry_num = 0;
    if (inv->__reserved) {
        return -EOPNOTSUPP;
    }
    if (requested && (!entries || !inv->entry_len)) {
        return -EINVAL;
    }
    obj = sim_obj_get(ctx, inv->hwpt_id);
    if (!obj) {
        return -ENOENT;
    }
    if (obj->type != SIM_OBJ_HWPT_NESTED) {
        return -EINVAL;   /* paging HWPTs are flushed by the kernel on unmap */
    }
    h = (SimHwpt *)obj;
    if (inv->data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) {
        return -EINVAL;
    }
    for (uint32_t i = 0; i < requested; i++) {
        struct iommu_hwpt_vtd_s1_invalidate e;

        if (inv->entry_len != sizeof(e)) {
            rc = -EINVAL;
            break;
        }
        memcpy(&e, entries + (size_t)i * sizeof(e), sizeof(e));
        if ((e.flags & ~(uint32_t)IOMMU_VTD_INV_FLAGS_LEAF) || e.__reserved) {
            rc = -EOPNOTSUPP;
            break;
        }
        if ((e.addr & (SIM_PAGE_SIZE - 1)) || (e.npages == UINT64_MAX && e.addr)) {
            rc = -EINVAL;
            break;
        }
        hwpt_flush_range(h, e.addr, e.npages, e.flags & IOMMU_VTD_INV_FLAGS_LEAF);
        inv->entry_num = i + 1;
    }
    return rc;
}

/* ---- first-stage walk ---- */

static bool read_table_entry(SimHwpt *h, uint64_t gpa, uint64_t *val, uint8_t **host)
{
    IommufdSimFaultReason why;

    *host = sim_ioas_host_ptr(h->ioas, gpa, 8, false, &why);
    if (!*host) {
        return false;
    }
    memcpy(val, *host, 8);
    return true;
}

/* Sets A (and EA, and D on a leaf write); the table must be writable via S2. */
static bool update_flags(SimHwpt *h, uint64_t gpa, uint64_t pte, uint64_t set)
{
    IommufdSimFaultReason why;
    uint8_t *host;

    if ((pte & set) == set) {
        return true;
    }
    host = sim_ioas_host_ptr(h->ioas, gpa, 8, true, &why);
    if (!host) {
        return false;
    }
    pte |= set;
    memcpy(host, &pte, 8);
    return true;
}

static void pwc_insert(SimHwpt *h, int level, uint64_t iova, uint64_t table,
                       bool w, bool u)
{
    uint64_t span = SIM_BIT(12 + 9 * level);
    SimPwcEntry e = {
        .level = level, .va = iova & ~(span - 1), .span = span,
        .table_gpa = table, .writable = w, .user = u,
    };

    for (unsigned i = h->pwc->len; i-- > 0;) {
        const SimPwcEntry *o = &g_array_index(h->pwc, SimPwcEntry, i);

        if (o->level == level && o->va == e.va) {
            g_array_remove_index(h->pwc, i);
        }
    }
    g_array_append_val(h->pwc, e);
}

static const SimPwcEntry *pwc_lookup(SimHwpt *h, uint64_t iova)
{
    const SimPwcEntry *best = NULL;

    for (unsigned i = 0; i < h->pwc->len; i++) {
        const SimPwcEntry *e = &g_array_index(h->pwc, SimPwcEntry, i);

        if (iova - e->va < e->span && (!best || e->level < best->level)) {
            best = e;
        }
    }
    return best;
}

static bool tlb_allows(bool w, bool u, bool is_write)
{
    return u && (!is_write || w);
}

bool sim_hwpt_translate(SimHwpt *h, uint64_t iova, bool is_write,
                        uint64_t *gpa, uint64_t *page_size,
                        IommufdSimFaultReason *why)
{
    const int levels = h->s1.addr_width == 57 ? 5 : 4;
    const unsigned in_bits = levels == 5 ? 57 : 48;
    const unsigned haw = h->parent->unit->aw;
    const uint64_t addr_mask = bits(haw - 1, 12);
    const uint64_t rsvd = haw < 52 ? bits(51, haw) : 0;
    const bool eafe = h->s1.flags & IOMMU_VTD_S1_EAFE;
    uint64_t top = (int64_t)(iova << (64 - in_bits)) >> (64 - in_bits);
    const SimPwcEntry *pwc;
    uint64_t table;
    bool w = true, u = true;
    int level;

    if (top != iova) {
        *why = IOMMUFD_SIM_FAULT_S1_NON_CANONICAL;
        return false;
    }
    for (unsigned i = 0; i < h->iotlb->len; i++) {
        const SimTlbEntry *e = &g_array_index(h->iotlb, SimTlbEntry, i);

        if (iova - e->iova < e->size && tlb_allows(e->writable, e->user, is_write)) {
            *gpa = e->gpa + (iova - e->iova);
            *page_size = e->size - (iova - e->iova);
            return true;
        }
    }

    pwc = pwc_lookup(h, iova);
    if (pwc) {
        level = pwc->level;
        table = pwc->table_gpa;
        w = pwc->writable;
        u = pwc->user;
    } else {
        level = levels;
        table = h->s1.pgtbl_addr & addr_mask;
    }
    for (;; level--) {
        uint64_t idx = (iova >> (12 + 9 * (level - 1))) & 0x1ff;
        uint64_t egpa = table + idx * 8;
        uint64_t pte, set;
        uint8_t *host;
        bool leaf;

        if (!read_table_entry(h, egpa, &pte, &host)) {
            *why = IOMMUFD_SIM_FAULT_S1_TABLE;
            return false;
        }
        if (!(pte & FS_P)) {
            *why = IOMMUFD_SIM_FAULT_S1_NOT_PRESENT;
            return false;
        }
        leaf = level == 1 || (pte & FS_PS);
        if ((pte & rsvd) ||
            ((pte & FS_PS) && level >= 4) ||
            ((pte & FS_PS) && level == 3 &&
             (!(h->unit->cap & SIM_CAP_FS1GP) || (pte & bits(29, 13)))) ||
            ((pte & FS_PS) && level == 2 && (pte & bits(20, 13)))) {
            *why = IOMMUFD_SIM_FAULT_S1_RESERVED;
            return false;
        }
        w = w && (pte & FS_RW);
        u = u && (pte & FS_US);
        set = FS_A | (eafe ? FS_EA : 0) | (leaf && is_write && w && u ? FS_D : 0);
        if (!tlb_allows(w, u, is_write)) {
            *why = IOMMUFD_SIM_FAULT_S1_PERM;
            return false;
        }
        if (!update_flags(h, egpa, pte, set)) {
            *why = IOMMUFD_SIM_FAULT_S1_TABLE;
            return false;
        }
        if (leaf) {
            uint64_t size = SIM_BIT(12 + 9 * (level - 1));
            SimTlbEntry e = {
                .iova = iova & ~(size - 1), .size = size,
                .gpa = pte & addr_mask & ~(size - 1), .writable = w, .user = u,
            };

            cache_drop_range(h->iotlb, sizeof(e), e.iova, e.iova + size - 1, true);
            g_array_append_val(h->iotlb, e);
            *gpa = e.gpa + (iova - e.iova);
            *page_size = size - (iova - e.iova);
            return true;
        }
        table = pte & addr_mask;
        pwc_insert(h, level - 1, iova, table, w, u);
    }
}
