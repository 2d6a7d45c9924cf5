/*
 * One DMA-remapping scenario as a guest driver sets it up: a machine with an
 * intel-iommu and an iommu-testdev, the root/context (and in scalable mode
 * PASID directory/table) entries for that device, page tables mapping one
 * IOVA to a target page, then RTADDR/SRTP/TE. Tests fill the defaults, change
 * what they want to break, commit, and run DMAs.
 * Shared by test-vtd-translate.c and test-vtd-cache.c (header-only helpers).
 */
#ifndef VTD_SCENARIO_H
#define VTD_SCENARIO_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define SCN_ALLOC_BASE   0x10000000ULL
#define SCN_ALLOC_SIZE   0x08000000ULL
#define SCN_TESTDEV_BAR  0xe0000000ULL
/* Nothing lives here in a 512 MiB machine: table fetches from it fail. */
#define SCN_NO_RAM       0x30000000ULL
/* Nested: first-stage tables are seen by the device at host + this. */
#define SCN_NEST_GPA_OFF 0x40000000ULL
#define SCN_IOVA         0x0000000010200567ULL
#define SCN_DID          5

typedef enum ScnMode {
    SCN_LEGACY,          /* TTM legacy, context TT from lctx.tt */
    SCN_SCALABLE,        /* TTM scalable, PASID entry PGTT from pe.pgtt */
} ScnMode;

typedef struct Scn {
    QTestState *qts;
    VtdBuilder b;
    VtbDev td;
    ScnMode mode;

    /* Register programming. */
    uint64_t root_table;
    unsigned ttm;
    uint64_t rtaddr_extra;

    /* Entries as they will be written (tests modify before scn_commit). */
    VtbLegacyRoot lroot;
    VtbLegacyCtx lctx;
    VtbSmRoot sroot;
    VtbSmCtx sctx;
    VtbPasidDirEntry pde;
    VtbPasidEntry pe;
    uint64_t ctx_table, pasid_dir, pasid_table;
    uint32_t pasid;      /* PASID whose directory/table entries we write */

    /* Page tables and the mapping under test. */
    VtbPgtable ss, fs;
    bool has_ss, has_fs;
    uint64_t iova;       /* DMA input address (offset within page kept) */
    uint64_t target;     /* host page the IOVA maps to */
    uint64_t fs_out;     /* nested: guest address the FS leaf points to */
} Scn;

static inline void scn_start(Scn *s, const char *iommu_opts)
{
    g_autofree char *args = g_strdup_printf(
        "-machine q35 -m 512M -device intel-iommu%s%s -device iommu-testdev",
        iommu_opts && *iommu_opts ? "," : "", iommu_opts ? iommu_opts : "");

    memset(s, 0, sizeof(*s));
    s->qts = qtest_init(args);
    vtb_init(&s->b, s->qts, SCN_ALLOC_BASE, SCN_ALLOC_SIZE);
    assert_true(vtb_testdev_find(&s->td, s->qts, SCN_TESTDEV_BAR));
    s->iova = SCN_IOVA;
}

static inline void scn_stop(Scn *s)
{
    qtest_quit(s->qts);
}

static inline uint16_t scn_sid(const Scn *s)
{
    return vtb_dev_sid(&s->td);
}

/* Legacy mode, second-stage tables with `levels` (AW = levels - 2). */
static inline void scn_legacy(Scn *s, unsigned levels)
{
    s->mode = SCN_LEGACY;
    s->ttm = VTB_TTM_LEGACY;
    s->root_table = vtb_alloc_page(&s->b);
    s->ctx_table = vtb_alloc_page(&s->b);
    s->target = vtb_alloc_page(&s->b);
    vtb_pgt_init(&s->ss, &s->b, false, levels);
    s->has_ss = true;
    vtb_pgt_map(&s->ss, s->iova, s->target, VTB_PAGE_4K, VTB_SS_RW);
    s->lroot = (VtbLegacyRoot){ .p = true, .ctp = s->ctx_table };
    s->lctx = (VtbLegacyCtx){ .p = true, .tt = VTB_TT_MULTI,
                              .ssptptr = s->ss.root, .aw = levels - 2,
                              .did = SCN_DID };
}

/* Legacy pass-through (TT=10b, AW = the largest supported: 48-bit). */
static inline void scn_legacy_pt(Scn *s)
{
    s->mode = SCN_LEGACY;
    s->ttm = VTB_TTM_LEGACY;
    s->root_table = vtb_alloc_page(&s->b);
    s->ctx_table = vtb_alloc_page(&s->b);
    s->target = vtb_alloc_page(&s->b);
    s->iova = s->target | (SCN_IOVA & 0xfff);
    s->lroot = (VtbLegacyRoot){ .p = true, .ctp = s->ctx_table };
    s->lctx = (VtbLegacyCtx){ .p = true, .tt = VTB_TT_PT, .aw = VTB_AW_48,
                              .did = SCN_DID };
}

/* Scalable mode, PASID 0 (RID_PASID) entry with `pgtt`. Tables: SS with
 * ss_levels, FS with fs_levels (nested: FS tables behind SCN_NEST_GPA_OFF). */
static inline void scn_scalable(Scn *s, unsigned pgtt, unsigned ss_levels,
                                unsigned fs_levels)
{
    VtdBuilder *b = &s->b;

    s->mode = SCN_SCALABLE;
    s->ttm = VTB_TTM_SCALABLE;
    s->root_table = vtb_alloc_page(b);
    s->ctx_table = vtb_alloc(b, 2 * VTB_PAGE_4K);
    s->pasid_dir = vtb_alloc_page(b);
    s->pasid_table = vtb_alloc_page(b);
    s->target = vtb_alloc_page(b);
    s->sroot = (VtbSmRoot){ .lp = true, .lctp = s->ctx_table,
                            .up = true, .uctp = s->ctx_table + VTB_PAGE_4K };
    s->sctx = (VtbSmCtx){ .p = true, .pasid_dir = s->pasid_dir, .pdts = 0 };
    s->pde = (VtbPasidDirEntry){ .p = true, .table = s->pasid_table };
    s->pe = (VtbPasidEntry){ .p = true, .pgtt = pgtt, .did = SCN_DID };

    switch (pgtt) {
    case VTB_PGTT_PT:
        s->iova = s->target | (SCN_IOVA & 0xfff);
        break;
    case VTB_PGTT_SS:
        vtb_pgt_init(&s->ss, b, false, ss_levels);
        s->has_ss = true;
        vtb_pgt_map(&s->ss, s->iova, s->target, VTB_PAGE_4K, VTB_SS_RW);
        s->pe.aw = ss_levels - 2;
        s->pe.ssptptr = s->ss.root;
        break;
    case VTB_PGTT_FS:
        vtb_pgt_init(&s->fs, b, true, fs_levels);
        s->has_fs = true;
        vtb_pgt_map(&s->fs, s->iova, s->target, VTB_PAGE_4K,
                    VTB_FS_LEAF_DEFAULT);
        s->pe.fspm = fs_levels == 5 ? 1 : 0;
        s->pe.fsptptr = s->fs.root;
        break;
    case VTB_PGTT_NESTED:
        vtb_pgt_init(&s->ss, b, false, ss_levels);
        s->has_ss = true;
        vtb_pgt_init(&s->fs, b, true, fs_levels);
        s->has_fs = true;
        s->fs.gpa_offset = SCN_NEST_GPA_OFF;
        /* The FS output is a guest address, one more hop through SS. */
        s->fs_out = s->target + SCN_NEST_GPA_OFF;
        vtb_pgt_map(&s->fs, s->iova, s->fs_out, VTB_PAGE_4K,
                    VTB_FS_LEAF_DEFAULT);
        vtb_pgt_map(&s->ss, s->fs_out, s->target, VTB_PAGE_4K, VTB_SS_RW);
        vtb_pgt_map_tables(&s->ss, &s->fs, VTB_SS_RW);
        s->pe.aw = ss_levels - 2;
        s->pe.ssptptr = s->ss.root;
        s->pe.fspm = fs_levels == 5 ? 1 : 0;
        s->pe.fsptptr = vtb_pgt_root_ptr(&s->fs);
        break;
    default:
        break;
    }
}

/* Write the PASID directory/table entries for another PASID too. */
static inline void scn_add_pasid(Scn *s, uint32_t pasid)
{
    vtb_write_pasid_dir(&s->b, s->pasid_dir, pasid, &s->pde);
    vtb_write_pasid_entry(&s->b, s->pasid_table, pasid, &s->pe);
}

static inline void scn_write_entries(Scn *s)
{
    uint8_t bus = s->td.bus, devfn = s->td.devfn;

    if (s->mode == SCN_LEGACY) {
        vtb_write_legacy_root(&s->b, s->root_table, bus, &s->lroot);
        vtb_write_legacy_ctx(&s->b, s->ctx_table, devfn, &s->lctx);
    } else {
        vtb_write_sm_root(&s->b, s->root_table, bus, &s->sroot);
        vtb_write_sm_ctx(&s->b, devfn < 0x80 ? s->ctx_table
                                             : s->ctx_table + VTB_PAGE_4K,
                         devfn, &s->sctx);
        vtb_write_pasid_dir(&s->b, s->pasid_dir, s->pasid, &s->pde);
        vtb_write_pasid_entry(&s->b, s->pasid_table, s->pasid, &s->pe);
    }
}

/* Write the entries, point RTADDR at the root table, enable translation. */
static inline void scn_commit(Scn *s)
{
    scn_write_entries(s);
    assert_true(vtb_set_root(&s->b, s->root_table, s->ttm, s->rtaddr_extra));
    assert_true(vtb_enable_te(&s->b, true));
}

/* DMA-write (or read) len bytes at the scenario's IOVA; the device compares
 * with the target page. */
static inline uint32_t scn_dma(Scn *s, uint32_t len)
{
    return vtb_testdev_dma(&s->td, s->iova,
                           s->target | (s->iova & 0xfff), len);
}

static inline uint32_t scn_dma_at(Scn *s, uint64_t iova, uint64_t gpa,
                                  uint32_t len)
{
    return vtb_testdev_dma(&s->td, iova, gpa, len);
}

#endif
