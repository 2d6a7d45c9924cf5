/*
 * First-stage page walk. Entries: P 0, R/W 1, U/S 2, A 5, D 6 (leaf), PS 7,
 * EA 10 (with EAFE), ADDR (HAW-1):12, 51:HAW reserved, 63:52 ignored.
 * Access rights follow the spec's "Access rights" rules (facts §7.4): user
 * requests need U/S everywhere (+R/W for writes); supervisor requests may
 * always read and may write unless WPE=1 and some R/W=0.
 */
#include "hw/intel-iommu/vtd-walk-fs.h"

#define FS_P        VTD_BIT(0)
#define FS_RW       VTD_BIT(1)
#define FS_US       VTD_BIT(2)
#define FS_A        VTD_BIT(5)
#define FS_D        VTD_BIT(6)
#define FS_PS       VTD_BIT(7)
#define FS_EA       VTD_BIT(10)
#define FS_ADDR     VTD_MASK(51, 12)

#define FS_MAX_LEVELS 5

static unsigned vtd_haw(const VtdState *s)
{
    return s->cfg.aw_bits ? s->cfg.aw_bits : VTD_CAP_MGAW_GET(s->cap);
}

/* A hook permission denial on an FS structure access becomes SFS.6/7/8. */
static VtdFaultReason vtd_fs_nest_fault(VtdFaultReason r, VtdFaultReason perm)
{
    return (r == VTD_FR_SGN_6 || r == VTD_FR_SGN_7) ? perm : r;
}

/* SS translation of a GPA inside an FS table (always permission-checked). */
static VtdFaultReason vtd_fs_nest_table(const VtdFsNest *nest, uint64_t gpa,
                                        unsigned access, VtdSsResult *ss)
{
    if (nest->translate_table) {
        return nest->translate_table(nest->opaque, gpa, access, ss);
    }
    return nest->translate(nest->opaque, gpa, access, true, ss);
}

/* Where the FS structure at gpa lives in host memory. */
static VtdFaultReason vtd_fs_table_hpa(const VtdFsWalk *w, uint64_t gpa,
                                       bool root, uint64_t *hpa)
{
    VtdSsResult ss;
    VtdFaultReason r;
    unsigned access = IOMMU_ACCESS_READ;

    if (!w->nest) {
        *hpa = gpa;
        return VTD_FR_NONE;
    }
    if (w->nest->ssade) {
        /* With SS A/D, FS structure accesses count as SS writes. */
        access |= IOMMU_ACCESS_WRITE;
    }
    r = vtd_fs_nest_table(w->nest, gpa, access, &ss);
    if (r != VTD_FR_NONE) {
        return vtd_fs_nest_fault(r, root ? VTD_FR_SFS_6 : VTD_FR_SFS_7);
    }
    *hpa = ss.addr;
    return VTD_FR_NONE;
}

/* Set A/EA/D bits of an FS entry (gpa of the entry itself). */
static VtdFaultReason vtd_fs_update(VtdState *s, const VtdFsWalk *w,
                                    uint64_t entry_gpa, uint64_t entry_hpa,
                                    uint64_t bits)
{
    if (!w->snooped) {
        return VTD_FR_SFS_9;
    }
    if (w->nest) {
        VtdSsResult ss;
        VtdFaultReason r = vtd_fs_nest_table(w->nest, entry_gpa,
                                             IOMMU_ACCESS_READ |
                                             IOMMU_ACCESS_WRITE, &ss);
        if (r != VTD_FR_NONE) {
            return vtd_fs_nest_fault(r, VTD_FR_SFS_8);
        }
        entry_hpa = ss.addr;
    }
    return vtd_pte_set_bits(s, entry_hpa, bits) ? VTD_FR_NONE : VTD_FR_SFS_10;
}

VtdFaultReason vtd_fs_walk(VtdState *s, const VtdFsWalk *w, uint64_t addr,
                           VtdFsResult *out)
{
    unsigned haw = vtd_haw(s);
    uint64_t rsvd_common = haw < 52 ? VTD_MASK(51, haw) : 0;
    uint64_t entry_gpa[FS_MAX_LEVELS], entry_hpa[FS_MAX_LEVELS];
    uint64_t entry_val[FS_MAX_LEVELS];
    uint64_t table_gpa = w->root;
    bool all_us = true, all_rw = true, write_ok;
    unsigned level, n = 0, perm;
    uint64_t pte = 0;
    VtdFaultReason r;

    memset(out, 0, sizeof(*out));
    if (w->levels != 4 && w->levels != 5) {
        return VTD_FR_SPT_4;    /* decoder rejects this: caller bug */
    }
    if (!vtd_fs_canonical(addr, w->levels)) {
        return VTD_FR_SGN_1;
    }

    for (level = w->levels; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t rsvd = rsvd_common, table_hpa, le;
        bool leaf = level == 1;

        r = vtd_fs_table_hpa(w, table_gpa, level == w->levels, &table_hpa);
        if (r != VTD_FR_NONE) {
            return r;
        }
        entry_gpa[n] = table_gpa + 8 * ((addr >> shift) & 0x1ff);
        entry_hpa[n] = table_hpa + 8 * ((addr >> shift) & 0x1ff);
        if (!vtd_dma_read(s, entry_hpa[n], &le, 8)) {
            return level == w->levels ? VTD_FR_SFS_4 : VTD_FR_SFS_1;
        }
        pte = GUINT64_FROM_LE(le);
        if (!(pte & FS_P)) {
            return VTD_FR_SFS_2;
        }
        if (level >= 4) {
            rsvd |= FS_PS;
        } else if (level > 1 && (pte & FS_PS)) {
            if (level == 3 && !(s->cap & VTD_CAP_FS1GP)) {
                return VTD_FR_SFS_3;
            }
            leaf = true;
            rsvd |= VTD_MASK(shift - 1, 13);  /* bit 12 is PAT */
        }
        if (pte & rsvd) {
            return VTD_FR_SFS_3;
        }
        if (w->nest && ((pte & FS_ADDR) >> w->nest->gpa_width)) {
            return VTD_FR_SFS_5;
        }
        all_us &= !!(pte & FS_US);
        all_rw &= !!(pte & FS_RW);
        entry_val[n++] = pte;
        if (leaf) {
            break;
        }
        table_gpa = pte & FS_ADDR;
    }

    out->page_mask = (1ULL << (12 + 9 * (level - 1))) - 1;
    out->addr = (pte & FS_ADDR & ~out->page_mask) | (addr & out->page_mask);
    out->user = all_us;
    out->perm_user = all_us ? IOMMU_ACCESS_READ |
                              (all_rw ? IOMMU_ACCESS_WRITE : 0) : 0;
    out->perm_super = IOMMU_ACCESS_READ |
                      ((!w->wpe || all_rw) ? IOMMU_ACCESS_WRITE : 0);
    perm = w->priv ? out->perm_super : out->perm_user;
    write_ok = perm & IOMMU_ACCESS_WRITE;

    if (w->check_perm) {
        if (!w->priv && !all_us) {
            return VTD_FR_SGN_2;
        }
        if ((w->access & IOMMU_ACCESS_WRITE) && !write_ok) {
            return VTD_FR_SGN_6;
        }
    }

    /* A (and EA) in every entry used, D in the leaf of a permitted write. */
    for (unsigned i = 0; i < n; i++) {
        uint64_t need = FS_A | (w->eafe ? FS_EA : 0);
        if (i == n - 1 && (w->access & IOMMU_ACCESS_WRITE) && write_ok) {
            need |= FS_D;
        }
        if ((entry_val[i] & need) != need) {
            r = vtd_fs_update(s, w, entry_gpa[i], entry_hpa[i], need);
            if (r != VTD_FR_NONE) {
                return r;
            }
            entry_val[i] |= need;
        }
    }
    out->dirty_ok = entry_val[n - 1] & FS_D;

    if (w->nest) {
        /* The FS output is a GPA: translate it with the request's access. */
        VtdSsResult ss;
        unsigned access = w->access;
        if (!write_ok) {
            access &= ~IOMMU_ACCESS_WRITE;
        }
        r = w->nest->translate(w->nest->opaque, out->addr, access,
                               w->check_perm, &ss);
        if (r != VTD_FR_NONE) {
            return r;
        }
        out->addr = ss.addr;
        out->page_mask = MIN(out->page_mask, ss.page_mask);
        out->perm_user &= ss.perm;
        out->perm_super &= ss.perm;
        out->dirty_ok = out->dirty_ok && ss.dirty_ok;
    }
    return VTD_FR_NONE;
}
