/*
 * Shared helpers for the VT-d translation unit tests: a sparse fake guest
 * memory (4 KiB pages in a GHashTable; reads or writes of unmapped pages
 * fail, read-only pages refuse writes) and a VtdState built through the real
 * vtd_new() from a tweaked default config, and the fixture pairing the two.
 */
#ifndef VTD_TEST_MEM_H
#define VTD_TEST_MEM_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-cache.h"

typedef struct FakeMem {
    GHashTable *pages;      /* page number -> 4 KiB buffer */
    GHashTable *ro;         /* page numbers that refuse writes */
    unsigned writes;
} FakeMem;

static inline bool fm_access(FakeMem *m, uint64_t gpa, void *buf, uint64_t len,
                      bool write)
{
    uint8_t *p = buf;

    while (len) {
        uint64_t pn = gpa >> 12, off = gpa & 0xfff;
        uint64_t n = MIN(len, 4096 - off);
        uint8_t *page = g_hash_table_lookup(m->pages, &pn);

        if (!page) {
            return false;
        }
        if (write) {
            if (g_hash_table_contains(m->ro, &pn)) {
                return false;
            }
            memcpy(page + off, p, n);
        } else {
            memcpy(p, page + off, n);
        }
        gpa += n;
        p += n;
        len -= n;
    }
    if (write) {
        m->writes++;
    }
    return true;
}

static inline bool fm_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    return fm_access(opaque, gpa, buf, len, false);
}

static inline bool fm_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
    return fm_access(opaque, gpa, (void *)buf, len, true);
}

static inline FakeMem *fm_new(void)
{
    FakeMem *m = g_new0(FakeMem, 1);
    m->pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    m->ro = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    return m;
}

static inline void fm_free(FakeMem *m)
{
    g_hash_table_destroy(m->pages);
    g_hash_table_destroy(m->ro);
    g_free(m);
}

static inline void fm_map(FakeMem *m, uint64_t gpa)
{
    uint64_t pn = gpa >> 12;
    if (!g_hash_table_contains(m->pages, &pn)) {
        g_hash_table_insert(m->pages, g_memdup2(&pn, sizeof(pn)),
                            g_malloc0(4096));
    }
}

static inline void fm_set_ro(FakeMem *m, uint64_t gpa)
{
    uint64_t pn = gpa >> 12;
    g_hash_table_add(m->ro, g_memdup2(&pn, sizeof(pn)));
}

static inline void fm_w64(FakeMem *m, uint64_t gpa, uint64_t v)
{
    uint64_t pn = gpa >> 12;
    uint8_t *page;

    fm_map(m, gpa);
    page = g_hash_table_lookup(m->pages, &pn);
    v = GUINT64_TO_LE(v);
    memcpy(page + (gpa & 0xfff), &v, 8);
}

static inline uint64_t fm_r64(FakeMem *m, uint64_t gpa)
{
    uint64_t pn = gpa >> 12, v = 0;
    uint8_t *page = g_hash_table_lookup(m->pages, &pn);

    if (page) {
        memcpy(&v, page + (gpa & 0xfff), 8);
    }
    return GUINT64_FROM_LE(v);
}

/* Scalable mode with first and second stage and nesting (PGTT=011b). */
static inline void tweak_nested_unit(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->flts = true;
    cfg->x_ssts = true;
    cfg->x_nest = true;
}

/* A unit with the default (QEMU-like) config, adjusted by tweak. */
static inline VtdState *tvtd_new(FakeMem *m, void (*tweak)(VtdConfig *cfg))
{
    VtdConfig cfg;
    VtdGuestMem mem = { .opaque = m, .read = fm_read, .write = fm_write };

    vtd_config_defaults(&cfg);
    if (tweak) {
        tweak(&cfg);
    }
    return vtd_new(&cfg, &mem, NULL);
}

/*
 * The fixture most of these tests share: one fake memory and one unit over
 * it. Use tctx_setup/tctx_teardown directly as cmocka fixtures, or wrap
 * tctx_new(tweak) in a setup of your own for a tweaked config.
 */
typedef struct VtdTestCtx {
    FakeMem *m;
    VtdState *s;
} VtdTestCtx;

static inline VtdTestCtx *tctx_new(void (*tweak)(VtdConfig *cfg))
{
    VtdTestCtx *c = g_new0(VtdTestCtx, 1);

    c->m = fm_new();
    c->s = tvtd_new(c->m, tweak);
    assert_non_null(c->s);  /* a config the unit refuses is a test bug */
    return c;
}

static inline void tctx_free(VtdTestCtx *c)
{
    vtd_free(c->s);
    fm_free(c->m);
    g_free(c);
}

static inline int tctx_setup(void **state)
{
    *state = tctx_new(NULL);
    return 0;
}

static inline int tctx_teardown(void **state)
{
    tctx_free(*state);
    return 0;
}

#endif
