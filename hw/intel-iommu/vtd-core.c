/*
 * The unit's lifetime, its MMIO window and the global command register.
 *
 * MMIO accesses are 4 or 8 bytes, naturally aligned, inside the window
 * (registers up to 0x220, then NFR fault records); anything else that
 * reaches the unit reads as all ones and is ignored on write. (The reference
 * machine rejects narrower accesses before they get here and reads them as
 * zeros, as QEMU's memory core does.) A write first goes through
 * the register masks (vtd-regs.c), then the side effects of the 32-bit
 * registers it covered fire in address order: a 64-bit register acts on its
 * high dword (CCMD, IOTLB_REG, FRCD), except IQT which acts on its low dword.
 *
 * GCMD completes every command synchronously: level commands (TE, QIE, IRE,
 * CFI) act when they differ from GSTS, one-shot commands (SRTP, SIRTP, WBF)
 * whenever written as 1 (vtd-spec-facts.md §3.1, qemu-anchor.md §2.4).
 */
#include "hw/intel-iommu/vtd-cache.h"

/* ---- Lifetime ----------------------------------------------------------- */

VtdState *vtd_new(const VtdConfig *cfg, const VtdGuestMem *mem,
                  const VtdMsiSink *msi)
{
    VtdState *s = g_new0(VtdState, 1);

    s->cfg = *cfg;
    /* Resolve "auto" the way validation does, for unvalidated callers. */
    if (s->cfg.intremap < 0) {
        s->cfg.intremap = 1;
    }
    if (s->cfg.eim < 0) {
        s->cfg.eim = 0;
    }
    s->nfr = CLAMP(s->cfg.nfr, 1, VTD_NFR_MAX);
    s->cfg.nfr = s->nfr;
    s->cap = vtd_config_cap(&s->cfg);
    s->ecap = vtd_config_ecap(&s->cfg);
    s->haw_mask = s->cfg.aw_bits >= 64 ? ~0ULL : VTD_MASK(s->cfg.aw_bits - 1, 0);
    s->mem = *mem;
    if (msi) {
        s->msi = *msi;
    }
    if (!vtd_caches_init(s)) {
        g_free(s);
        return NULL;
    }
    vtd_reset(s);
    return s;
}

void vtd_free(VtdState *s)
{
    if (!s) {
        return;
    }
    VTD_NEST_HOOK(s, destroy);  /* nesting: release host objects */
    vtd_caches_destroy(s);
    g_free(s);
}

void vtd_caches_flush_all(VtdState *s)
{
    vtd_ctx_cache_invalidate_all(s);
    vtd_pasid_cache_invalidate_all(s);
    vtd_iotlb_invalidate_all(s);
}

void vtd_reset(VtdState *s)
{
    vtd_regs_init(s);
    s->root_addr = 0;
    s->ttm = VTD_TTM_LEGACY;
    s->ssirwe = false;
    s->dmar_enabled = false;
    s->qi_enabled = false;
    s->ir_enabled = false;
    s->cfi_enabled = false;
    s->iq_base = 0;
    s->iq_entries = 0;
    s->iq_dw = false;
    s->iq_last_was_wait = false;
    s->irt_base = 0;
    s->irt_entries = 0;
    s->irt_eime = false;
    s->fault_index = 0;
    vtd_caches_flush_all(s);
    vtd_ir_reset(s);        /* empty interrupt entry cache */
    VTD_NEST_HOOK(s, reset);    /* nesting: TE is off, back to stage 2 */
}

uint64_t vtd_mmio_size(const VtdState *s)
{
    return VTD_FRCD_OFFSET + 16ULL * s->nfr;
}

void vtd_get_stats(const VtdState *s, VtdStats *out)
{
    *out = s->stats;
}

/* ---- GCMD --------------------------------------------------------------- */

static void vtd_gsts_update(VtdState *s, uint32_t bit, bool set)
{
    vtd_set_clear32(s, DMAR_GSTS_REG, bit, set ? bit : 0);
}

/* SRTP: latch RTADDR; with ESRTPS every DMA-remapping cache is dropped. */
static void vtd_cmd_set_root(VtdState *s)
{
    uint64_t rtaddr = vtd_get64(s, DMAR_RTADDR_REG);

    s->root_addr = rtaddr & VTD_RTADDR_RTA_MASK & s->haw_mask;
    /* Reserved or unsupported TTM values fault at request time (RTA.1). */
    s->ttm = VTD_RTADDR_TTM(rtaddr);
    s->ssirwe = rtaddr & VTD_RTADDR_SSIRWE;
    if (s->cap & VTD_CAP_ESRTPS) {
        vtd_caches_flush_all(s);
    }
    vtd_gsts_update(s, VTD_GSTS_RTPS, true);
    VTD_NEST_HOOK(s, root_table);   /* nesting: old shadows are stale */
}

/* SIRTP: latch IRTA (entries = 2^(S+1); EIME only with EIM). */
static void vtd_cmd_set_irt(VtdState *s)
{
    uint64_t irta = vtd_get64(s, DMAR_IRTA_REG);

    s->irt_base = irta & VTD_IRTA_BASE_MASK & s->haw_mask;
    s->irt_entries = 1u << (VTD_IRTA_S(irta) + 1);
    s->irt_eime = (s->ecap & VTD_ECAP_EIM) && (irta & VTD_IRTA_EIME);
    vtd_ir_irt_latched(s);  /* the new table takes effect */
    vtd_gsts_update(s, VTD_GSTS_IRTPS, true);
}

static void vtd_cmd_qi_enable(VtdState *s)
{
    uint64_t iqa = vtd_get64(s, DMAR_IQA_REG);
    unsigned qs = VTD_IQA_QS(iqa);

    s->iq_base = iqa & VTD_IQA_BASE_MASK & s->haw_mask;
    /* DW=1 without scalable mode is the queue's IQE to report (IQEI=5). */
    s->iq_dw = iqa & VTD_IQA_DW;
    s->iq_entries = s->iq_dw ? 1u << (qs + 7) : 1u << (qs + 8);
    s->qi_enabled = true;
    vtd_gsts_update(s, VTD_GSTS_QIES, true);
    vtd_qi_enabled(s);
}

/* Disabling needs a quiesced queue: IQH == IQT after a wait descriptor. */
static void vtd_cmd_qi_disable(VtdState *s)
{
    uint64_t head = vtd_get64(s, DMAR_IQH_REG) & VTD_IQ_PTR_MASK;
    uint64_t tail = vtd_get64(s, DMAR_IQT_REG) & VTD_IQ_PTR_MASK;

    if (head != tail || !s->iq_last_was_wait) {
        return;     /* not quiesced: the command is ignored, QIES stays 1 */
    }
    s->qi_enabled = false;
    vtd_set64(s, DMAR_IQH_REG, 0);
    vtd_gsts_update(s, VTD_GSTS_QIES, false);
}

static void vtd_cmd_translation(VtdState *s, bool enable)
{
    s->dmar_enabled = enable;
    vtd_gsts_update(s, VTD_GSTS_TES, enable);
    if (!enable) {
        /* Required in scalable mode; harmless in legacy mode. */
        vtd_caches_flush_all(s);
    }
    VTD_NEST_HOOK(s, translation);  /* nesting: re-shadow or stage 2 */
}

static void vtd_gcmd_write(VtdState *s, uint32_t cmd)
{
    uint32_t sts = vtd_get32(s, DMAR_GSTS_REG);
    uint32_t changed = cmd ^ sts;
    bool ir_supported = s->ecap & VTD_ECAP_IR;

    /* Latch pointers before the level commands that use them. */
    if (cmd & VTD_GCMD_SRTP) {
        vtd_cmd_set_root(s);
    }
    if ((cmd & VTD_GCMD_SIRTP) && ir_supported) {
        vtd_cmd_set_irt(s);
    }
    if (changed & VTD_GCMD_QIE) {
        if (cmd & VTD_GCMD_QIE) {
            vtd_cmd_qi_enable(s);
        } else {
            vtd_cmd_qi_disable(s);
        }
    }
    if ((changed & VTD_GCMD_IRE) && ir_supported) {
        s->ir_enabled = cmd & VTD_GCMD_IRE;
        vtd_gsts_update(s, VTD_GSTS_IRES, s->ir_enabled);
    }
    if ((changed & VTD_GCMD_CFI) && ir_supported) {
        s->cfi_enabled = cmd & VTD_GCMD_CFI;
        vtd_gsts_update(s, VTD_GSTS_CFIS, s->cfi_enabled);
    }
    /* An IR-only unit (dma-translation=off) ignores TE. */
    if ((changed & VTD_GCMD_TE) && s->cfg.dma_translation) {
        vtd_cmd_translation(s, cmd & VTD_GCMD_TE);
    }
    /* WBF: only meaningful with CAP.RWBF; the flush completes at once, so
     * WBFS never reads 1. SFL/EAFL are reserved in Rev 5.10. */

    /* The record index restarts once both remapping functions are off. */
    if ((sts & (VTD_GSTS_TES | VTD_GSTS_IRES)) &&
        !(vtd_get32(s, DMAR_GSTS_REG) & (VTD_GSTS_TES | VTD_GSTS_IRES))) {
        vtd_fault_reset_index(s);
    }
}

/* ---- MMIO --------------------------------------------------------------- */

static bool vtd_mmio_access_ok(const VtdState *s, uint64_t offset,
                               unsigned size)
{
    return (size == 4 || size == 8) && (offset % size) == 0 &&
           offset < vtd_mmio_size(s) && size <= vtd_mmio_size(s) - offset;
}

uint64_t vtd_mmio_read(VtdState *s, uint64_t offset, unsigned size)
{
    if (!vtd_mmio_access_ok(s, offset, size)) {
        return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
    }
    return vtd_regs_read(s, (unsigned)offset, size);
}

/* Side effects of a write that covered the 32-bit register at off. */
static void vtd_dword_written(VtdState *s, unsigned off)
{
    unsigned frcd_end = vtd_frcd_offset(s, s->nfr);

    switch (off) {
    case DMAR_GCMD_REG:
        vtd_gcmd_write(s, vtd_get32(s, DMAR_GCMD_REG));
        return;
    case DMAR_CCMD_REG + 4:
        vtd_reg_inval_ccmd(s);
        return;
    case DMAR_FSTS_REG:
        vtd_fault_fsts_written(s);
        /* Clearing IQE/ITE resumes fetching at IQH (§5.2). */
        vtd_qi_process(s);
        return;
    case DMAR_FECTL_REG:
        vtd_fault_fectl_written(s);
        return;
    case DMAR_IQT_REG:
        vtd_qi_process(s);
        return;
    case DMAR_ICS_REG:
        if (!(vtd_get32(s, DMAR_ICS_REG) & VTD_ICS_IWC)) {
            vtd_event_clear_pending(s, DMAR_IECTL_REG);
        }
        return;
    case DMAR_IECTL_REG:
        vtd_event_ctl_written(s, DMAR_IECTL_REG, DMAR_IEDATA_REG,
                              DMAR_IEADDR_REG, DMAR_IEUADDR_REG);
        return;
    case VTD_IOTLB_OFFSET + 4:
        vtd_reg_inval_iotlb(s);
        return;
    default:
        break;
    }
    if (s->ecap & VTD_ECAP_PRS) {
        /* PECTL.IP clears when software services PPR (spec PECTL_REG IP);
         * a PRO still set does not keep the event pending. */
        if (off == DMAR_PRS_REG &&
            !(vtd_get32(s, DMAR_PRS_REG) & VTD_PRS_PPR)) {
            vtd_event_clear_pending(s, DMAR_PECTL_REG);
        } else if (off == DMAR_PECTL_REG) {
            vtd_event_ctl_written(s, DMAR_PECTL_REG, DMAR_PEDATA_REG,
                                  DMAR_PEADDR_REG, DMAR_PEUADDR_REG);
        }
    }
    /* F of a fault record lives in the top dword of its 128 bits. */
    if (off >= VTD_FRCD_OFFSET && off < frcd_end &&
        (off - VTD_FRCD_OFFSET) % 16 == 12) {
        vtd_fault_frcd_written(s, (off - VTD_FRCD_OFFSET) / 16);
    }
}

void vtd_mmio_write(VtdState *s, uint64_t offset, uint64_t value, unsigned size)
{
    if (!vtd_mmio_access_ok(s, offset, size)) {
        return;
    }
    if (size == 4) {
        value &= 0xffffffffULL;
    }
    vtd_regs_write(s, (unsigned)offset, value, size);
    for (unsigned off = (unsigned)offset; off < offset + size; off += 4) {
        vtd_dword_written(s, off);
    }
}
