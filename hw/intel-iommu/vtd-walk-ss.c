/*
 * Second-stage page walk. Entries: R 0, W 1, PS 7, A 8, D 9, SNP 11, ADDR
 * (HAW-1):12, 51:HAW reserved, 62 TM/IW, 63:52 otherwise ignored.
 */
#include "hw/intel-iommu/vtd-walk-ss.h"

#define SS_R        VTD_BIT(0)
#define SS_W        VTD_BIT(1)
#define SS_PS       VTD_BIT(7)
#define SS_A        VTD_BIT(8)
#define SS_D        VTD_BIT(9)
#define SS_SNP      VTD_BIT(11)
#define SS_TM_IW    VTD_BIT(62)

static unsigned vtd_haw(const VtdState *s)
{
    return s->cfg.aw_bits ? s->cfg.aw_bits : VTD_CAP_MGAW_GET(s->cap);
}

unsigned vtd_ss_input_width(const VtdState *s, unsigned aw)
{
    return MIN(VTD_CAP_MGAW_GET(s->cap), 30 + 9 * aw);
}

bool vtd_pte_set_bits(VtdState *s, uint64_t gpa, uint64_t bits)
{
    uint64_t le, v;

    /* Re-read so bits another agent set meanwhile are kept. */
    if (!vtd_dma_read(s, gpa, &le, 8)) {
        return false;
    }
    v = GUINT64_FROM_LE(le);
    if ((v & bits) == bits) {
        return true;
    }
    le = GUINT64_TO_LE(v | bits);
    return vtd_dma_write(s, gpa, &le, 8);
}

/* Reserved bits every present SS entry shares. */
static uint64_t vtd_ss_rsvd_common(const VtdState *s)
{
    unsigned haw = vtd_haw(s);
    uint64_t rsvd = haw < 52 ? VTD_MASK(51, haw) : 0;

    /*
     * Bit 62 is IW with SSIRWE; otherwise reserved, except that like QEMU we
     * accept the legacy TM bit when stale-tm and device-iotlb are both on.
     */
    bool tm_ok = s->cfg.stale_tm && (s->ecap & VTD_ECAP_DT);
    if (!s->ssirwe && !tm_ok) {
        rsvd |= SS_TM_IW;
    }
    return rsvd;
}

/* Is a PS=1 entry at this level a supported large page? */
static bool vtd_ss_large_ok(const VtdState *s, unsigned level)
{
    return (level == 2 && (s->cap & VTD_CAP_SSLPS_2M)) ||
           (level == 3 && (s->cap & VTD_CAP_SSLPS_1G));
}

static VtdFaultReason vtd_ss_perm_fault(const VtdSsWalk *w, unsigned perm)
{
    bool legacy = w->mode == VTD_SS_LEGACY;

    if (!perm && !legacy) {
        return VTD_FR_SSS_2;
    }
    if ((w->access & IOMMU_ACCESS_WRITE) && !(perm & IOMMU_ACCESS_WRITE)) {
        return legacy ? VTD_FR_LGN_2 : VTD_FR_SGN_6;
    }
    if ((w->access & IOMMU_ACCESS_READ) && !(perm & IOMMU_ACCESS_READ)) {
        return legacy ? VTD_FR_LGN_3 : VTD_FR_SGN_7;
    }
    return VTD_FR_NONE;
}

VtdFaultReason vtd_ss_walk(VtdState *s, const VtdSsWalk *w, uint64_t addr,
                           VtdSsResult *out)
{
    bool legacy = w->mode == VTD_SS_LEGACY;
    unsigned levels = w->aw + 2;
    uint64_t rsvd_common = vtd_ss_rsvd_common(s);
    uint64_t table = w->root;
    unsigned perm = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE;
    uint64_t pte = 0, pte_addr = 0;
    unsigned level;
    bool leaf = false;

    memset(out, 0, sizeof(*out));
    if (w->aw < 1 || w->aw > 3) {
        /* Decoders reject this; a caller bug, not guest input. */
        return legacy ? VTD_FR_LCT_4 : VTD_FR_SPT_4;
    }
    if (addr >> vtd_ss_input_width(s, w->aw)) {
        return legacy ? VTD_FR_LGN_1 : VTD_FR_SGN_5;
    }
    level = levels;
    if (w->resume) {
        level = 1;
        table = w->resume->table;
        perm = w->resume->perm;
    }

    for (; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t rsvd = rsvd_common;
        uint64_t le;

        if (level == 1 && w->record) {
            *w->record = (VtdSsLast){ .table = table, .perm = perm,
                                      .valid = true };
        }
        pte_addr = table + 8 * ((addr >> shift) & 0x1ff);
        /* On a fault below, say which region the failing entry covers. */
        out->level = level;
        out->page_mask = (1ULL << shift) - 1;
        if (!vtd_dma_read(s, pte_addr, &le, 8)) {
            if (level == levels) {
                return legacy ? VTD_FR_LCT_4 : VTD_FR_SSS_4;
            }
            return legacy ? VTD_FR_LSS_1 : VTD_FR_SSS_1;
        }
        pte = GUINT64_FROM_LE(le);

        if (!(pte & (SS_R | SS_W))) {
            /* Not present. Legacy reports it as a permission failure. */
            if (!legacy) {
                return VTD_FR_SSS_2;
            }
            return (w->access & IOMMU_ACCESS_WRITE) ? VTD_FR_LGN_2
                                                    : VTD_FR_LGN_3;
        }

        leaf = level == 1;
        if (level >= 4) {
            rsvd |= SS_PS;
        } else if (level > 1 && (pte & SS_PS)) {
            if (!vtd_ss_large_ok(s, level)) {
                return legacy ? VTD_FR_LSS_2 : VTD_FR_SSS_3;
            }
            leaf = true;
            rsvd |= VTD_MASK(shift - 1, 12);
        }
        if (!leaf || !(s->ecap & VTD_ECAP_SC)) {
            rsvd |= SS_SNP;
        }
        if (pte & rsvd) {
            return legacy ? VTD_FR_LSS_2 : VTD_FR_SSS_3;
        }

        perm &= (unsigned)(pte & (SS_R | SS_W));

        if (!legacy && w->ssade) {
            uint64_t need = (pte & SS_A) ? 0 : SS_A;
            if (leaf && (w->access & IOMMU_ACCESS_WRITE) &&
                (perm & IOMMU_ACCESS_WRITE) && !(pte & SS_D)) {
                need |= SS_A | SS_D;
            }
            if (need) {
                if (!w->snooped) {
                    return VTD_FR_SSS_5;
                }
                if (!vtd_pte_set_bits(s, pte_addr, need)) {
                    return VTD_FR_SSS_6;
                }
                pte |= need;
            }
        }
        if (leaf) {
            break;
        }
        table = pte & VTD_MASK(51, 12);
    }

    out->level = level;
    out->page_mask = (1ULL << (12 + 9 * (level - 1))) - 1;
    out->addr = (pte & VTD_MASK(51, 12) & ~out->page_mask) |
                (addr & out->page_mask);
    out->perm = perm;
    out->dirty_ok = legacy || !w->ssade || (pte & SS_D);

    if (w->check_perm) {
        return vtd_ss_perm_fault(w, perm);
    }
    return VTD_FR_NONE;
}
