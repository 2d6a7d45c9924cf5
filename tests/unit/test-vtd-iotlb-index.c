/*
 * The IOTLB's invalidation indexes (per-domain lists, page chains): every
 * invalidation must drop exactly the entries facts §8.2 names, whichever
 * path (page probes or domain walk) the table takes, across evictions,
 * re-inserts of a tag, large pages and AM 0..63. The randomized tests check
 * the table against a model written from the spec rules, not from the
 * table's code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"

#define SID_BASE    0x20
#define RID_PASID   1   /* eff_pasid of the model's no-PASID entries */

static unsigned iotlb_size_tweak;

static void tweak_size(VtdConfig *cfg)
{
    cfg->iotlb_size = iotlb_size_tweak;
}

static int setup_size(void **state, unsigned size)
{
    iotlb_size_tweak = size;
    *state = tctx_new(tweak_size);
    return 0;
}

static int setup_8(void **state)   { return setup_size(state, 8); }
static int setup_16(void **state)  { return setup_size(state, 16); }
static int setup_512(void **state) { return setup_size(state, 512); }

static unsigned shift_of(unsigned level)
{
    return 12 + 9 * (level - 1);
}

static VtdIotlbEntry mk(uint16_t sid, uint32_t pasid, uint32_t eff,
                        uint16_t did, uint64_t addr, unsigned level,
                        unsigned pgtt)
{
    unsigned shift = shift_of(level);
    VtdIotlbEntry e = {
        .vpn = addr >> shift, .out_base = 0x100000000ULL + (addr >> shift << shift),
        .pasid = pasid, .eff_pasid = eff, .sid = sid, .did = did,
        .level = (uint8_t)level, .pgtt = (uint8_t)pgtt, .perm = { 3, 3 },
        .dirty_ok = true,
    };
    return e;
}

static void add(VtdState *s, uint16_t sid, uint32_t pasid, uint32_t eff,
                uint16_t did, uint64_t addr, unsigned level, unsigned pgtt)
{
    VtdIotlbEntry e = mk(sid, pasid, eff, did, addr, level, pgtt);

    vtd_iotlb_insert(s, &e);
}

static bool has(VtdState *s, uint16_t sid, uint32_t pasid, uint64_t addr)
{
    return vtd_iotlb_lookup(s, sid, pasid, addr) != NULL;
}

/* ---- The model: spec rules, computed in 128 bits --------------------- */

static bool is_fs(unsigned pgtt)
{
    return pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_NESTED;
}

/* Does the entry's page meet the 2^AM pages named by addr/am? */
static bool in_range(const VtdIotlbEntry *e, uint64_t addr, unsigned am)
{
    unsigned __int128 size = (unsigned __int128)1 << (12 + am);
    unsigned __int128 start = addr & ~(size - 1);
    unsigned __int128 end = start + size;                  /* exclusive */
    unsigned __int128 base = (unsigned __int128)e->vpn << shift_of(e->level);
    unsigned __int128 ebase_end = base + ((unsigned __int128)1 << shift_of(e->level));

    return base < end && ebase_end > start;
}

typedef enum { OP_ALL, OP_DOMAIN, OP_PAGE, OP_PASID, OP_PASID_PAGE } OpKind;

typedef struct Op {
    OpKind kind;
    uint16_t did;
    uint32_t pasid;
    uint64_t addr;
    unsigned am;
} Op;

static bool op_selects(const Op *op, const VtdIotlbEntry *e)
{
    switch (op->kind) {
    case OP_ALL:
        return true;
    case OP_DOMAIN:
        return e->did == op->did;
    case OP_PAGE:
        return e->did == op->did &&
               (is_fs(e->pgtt) || in_range(e, op->addr, op->am));
    case OP_PASID:
        return e->did == op->did && e->eff_pasid == op->pasid;
    case OP_PASID_PAGE:
        return e->did == op->did && e->eff_pasid == op->pasid &&
               is_fs(e->pgtt) && in_range(e, op->addr, op->am);
    }
    return false;
}

static void op_apply(VtdState *s, const Op *op)
{
    switch (op->kind) {
    case OP_ALL:
        vtd_iotlb_invalidate_all(s);
        break;
    case OP_DOMAIN:
        vtd_iotlb_invalidate_domain(s, op->did);
        break;
    case OP_PAGE:
        vtd_iotlb_invalidate_page(s, op->did, op->addr, op->am, op->am & 1);
        break;
    case OP_PASID:
        vtd_iotlb_invalidate_pasid(s, op->did, op->pasid);
        break;
    case OP_PASID_PAGE:
        vtd_iotlb_invalidate_pasid_page(s, op->did, op->pasid, op->addr,
                                        op->am, op->am & 1);
        break;
    }
}

/* Every tag the test ever inserted; SIDs encode the level, so a lookup at
 * the tag's address with its SID and PASID can only find that tag. */
typedef struct Model {
    VtdIotlbEntry *e;
    bool *live;
    unsigned n, cap;
} Model;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* DIDs chosen to collide in small domain-bucket tables (1, 17, 513, 1025
 * share a bucket at 16 and 512 buckets) next to ones that do not. */
static const uint16_t dids[] = { 1, 2, 17, 513, 1025, 65535 };

static uint64_t rnd_addr(unsigned level)
{
    switch (rnd_below(16)) {
    case 0:
        return UINT64_MAX << shift_of(level);       /* top of the space */
    case 1:
        return 0x7ffffffff000ULL >> shift_of(level) << shift_of(level);
    default:
        break;
    }
    switch (level) {
    case 1:
        return (uint64_t)rnd_below(2048) << 12;
    case 2:
        return (uint64_t)rnd_below(8) << 21;
    default:
        return (uint64_t)rnd_below(4) << 30;
    }
}

static VtdIotlbEntry rnd_entry(void)
{
    static const unsigned pgtts[] = { VTD_PGTT_FS, VTD_PGTT_SS,
                                      VTD_PGTT_NESTED, VTD_PGTT_PT };
    unsigned r = rnd_below(100);
    unsigned level = r < 60 ? 1 : r < 85 ? 2 : 3;
    uint32_t pasid = rnd_below(3) == 0 ? IOMMU_NO_PASID : 1 + rnd_below(3);
    uint32_t eff = pasid == IOMMU_NO_PASID ? RID_PASID : pasid;
    uint16_t sid = (uint16_t)(SID_BASE + 4 * rnd_below(2) + level);

    return mk(sid, pasid, eff, dids[rnd_below(G_N_ELEMENTS(dids))],
              rnd_addr(level), level, pgtts[rnd_below(4)]);
}

static Op rnd_op(void)
{
    static const OpKind kinds[] = {
        OP_PAGE, OP_PAGE, OP_PAGE, OP_PAGE, OP_PASID_PAGE, OP_PASID_PAGE,
        OP_PASID_PAGE, OP_PASID, OP_DOMAIN, OP_ALL,
    };
    Op op = {
        .kind = kinds[rnd_below(G_N_ELEMENTS(kinds))],
        .did = dids[rnd_below(G_N_ELEMENTS(dids))],
        .pasid = 1 + rnd_below(3),
        /* Mostly small ranges (page probes), sometimes any AM (walks). */
        .am = rnd_below(4) ? rnd_below(12) : rnd_below(64),
    };

    if (op.kind == OP_ALL && rnd_below(4)) {
        op.kind = OP_PAGE;      /* keep the table populated */
    }
    op.addr = rnd_below(8) ? (uint64_t)rnd_below(4096) << 12
                           : rnd_addr(1 + rnd_below(3)) | (rnd() & 0xfff000);
    return op;
}

static bool same_tag(const VtdIotlbEntry *a, const VtdIotlbEntry *b)
{
    return a->sid == b->sid && a->pasid == b->pasid && a->vpn == b->vpn &&
           a->level == b->level;
}

static unsigned model_add(Model *m, const VtdIotlbEntry *e)
{
    for (unsigned i = 0; i < m->n; i++) {
        if (same_tag(&m->e[i], e)) {
            m->e[i] = *e;
            m->live[i] = true;
            return i;
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->e = g_renew(VtdIotlbEntry, m->e, m->cap);
        m->live = g_renew(bool, m->live, m->cap);
    }
    m->e[m->n] = *e;
    m->live[m->n] = true;
    return m->n++;
}

static void model_free(Model *m)
{
    g_free(m->e);
    g_free(m->live);
}

static const VtdIotlbEntry *find_tag(VtdState *s, const VtdIotlbEntry *e)
{
    return vtd_iotlb_lookup(s, e->sid, e->pasid, e->vpn << shift_of(e->level));
}

/* Present entries must match the model's content. When nothing can have
 * been evicted, presence must match liveness exactly; else live entries
 * that vanished count as evicted (returned) and become dead. */
static unsigned check_table(VtdState *s, Model *m, bool exact)
{
    unsigned present = 0, evicted = 0;

    for (unsigned i = 0; i < m->n; i++) {
        const VtdIotlbEntry *e = find_tag(s, &m->e[i]);

        if (exact) {
            assert_int_equal(e != NULL, m->live[i]);
        } else if (!e && m->live[i]) {
            m->live[i] = false;
            evicted++;
        }
        if (e) {
            assert_true(m->live[i]);
            assert_int_equal(e->did, m->e[i].did);
            assert_int_equal(e->pgtt, m->e[i].pgtt);
            assert_int_equal(e->eff_pasid, m->e[i].eff_pasid);
            present++;
        }
    }
    assert_int_equal(vtd_iotlb_count(s), present);
    return evicted;
}

static void run_random(VtdState *s, unsigned steps, unsigned max_live,
                       bool evicting, uint64_t seed)
{
    Model m = { 0 };

    rng_state = seed;
    vtd_iotlb_invalidate_all(s);        /* the model starts empty */
    for (unsigned step = 0; step < steps; step++) {
        unsigned live = vtd_iotlb_count(s);

        if (rnd_below(100) < 60 && (evicting || live < max_live)) {
            VtdIotlbEntry e = rnd_entry();
            unsigned i = model_add(&m, &e);

            vtd_iotlb_insert(s, &e);
            assert_non_null(find_tag(s, &m.e[i]));
            /* An insert evicts at most one entry, and only when full. */
            assert_true(check_table(s, &m, !evicting) <=
                        (live == iotlb_size_tweak ? 1u : 0u));
        } else {
            Op op = rnd_op();

            op_apply(s, &op);
            for (unsigned i = 0; i < m.n; i++) {
                if (m.live[i] && op_selects(&op, &m.e[i])) {
                    m.live[i] = false;
                }
            }
            /* Invalidations never evict: exactly the model is left. */
            check_table(s, &m, true);
        }
    }
    model_free(&m);
}

/* A table that never fills: every invalidation leaves exactly the model. */
static void test_random_no_eviction(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    run_random(s, 6000, 400, false, 0x1234567u);
}

/* A table that keeps evicting: evicted entries must leave every index (a
 * stale link would drop or miss a live entry later, or trip ASan). */
static void test_random_with_eviction(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    run_random(s, 6000, 0, true, 0xfeedbeefu);
    run_random(s, 6000, 0, true, 0x5eed5u);
}

static void test_eviction_leaves_indexes(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    for (unsigned i = 0; i < 8; i++) {
        add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x1000ULL * i, 1, VTD_PGTT_SS);
    }
    /* Eight more pages of the same domain evict all of the first eight. */
    for (unsigned i = 0; i < 8; i++) {
        add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x100000 + 0x1000ULL * i, 1,
            VTD_PGTT_SS);
    }
    assert_int_equal(s->stats.iotlb_evictions, 8);
    assert_int_equal(vtd_iotlb_count(s), 8);
    /* Invalidating evicted pages finds nothing (probe path)... */
    vtd_iotlb_invalidate_page(s, 1, 0x0, 3, false);
    assert_int_equal(vtd_iotlb_count(s), 8);
    /* ... a live page still goes, and only it. */
    vtd_iotlb_invalidate_page(s, 1, 0x100000, 0, false);
    assert_int_equal(vtd_iotlb_count(s), 7);
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x100000));
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x101000));

    /* Reused slots of another domain and class at the old pages: the old
     * domain's invalidations must not reach them. */
    vtd_iotlb_invalidate_domain(s, 1);
    assert_int_equal(vtd_iotlb_count(s), 0);
    for (unsigned i = 0; i < 8; i++) {
        add(s, 2, 5, 5, 2, 0x1000ULL * i, 1, VTD_PGTT_FS);
    }
    assert_int_equal(vtd_iotlb_count(s), 8);
    vtd_iotlb_invalidate_page(s, 1, 0x0, 3, false);
    vtd_iotlb_invalidate_domain(s, 1);
    vtd_iotlb_invalidate_pasid(s, 1, 5);
    assert_int_equal(vtd_iotlb_count(s), 8);
    vtd_iotlb_invalidate_pasid_page(s, 2, 5, 0x2000, 1, false);
    assert_int_equal(vtd_iotlb_count(s), 6);
    assert_false(has(s, 2, 5, 0x2000));
    assert_false(has(s, 2, 5, 0x3000));
    vtd_iotlb_invalidate_domain(s, 2);
    assert_int_equal(vtd_iotlb_count(s), 0);
}

/* Re-inserting a tag with another DID or PGTT moves it between indexes. */
static void test_reinsert_same_tag(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x5000, 1, VTD_PGTT_SS);
    add(s, 1, IOMMU_NO_PASID, RID_PASID, 2, 0x5000, 1, VTD_PGTT_FS);
    assert_int_equal(vtd_iotlb_count(s), 1);
    vtd_iotlb_invalidate_domain(s, 1);
    vtd_iotlb_invalidate_page(s, 1, 0x5000, 0, false);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x5000));
    /* Now an FS entry of DID 2: type-2 PSI anywhere in DID 2 drops it. */
    vtd_iotlb_invalidate_page(s, 2, 0x900000, 0, false);
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x5000));

    /* Back and forth many times on a tiny table: nothing leaks or sticks. */
    for (unsigned i = 0; i < 1000; i++) {
        add(s, 1, IOMMU_NO_PASID, RID_PASID, (uint16_t)(1 + i % 2), 0x5000, 1,
            i % 3 ? VTD_PGTT_SS : VTD_PGTT_NESTED);
    }
    assert_int_equal(vtd_iotlb_count(s), 1);
    assert_int_equal(s->stats.iotlb_evictions, 0);
    /* The last insert (i = 999) was DID 2, nested. */
    vtd_iotlb_invalidate_pasid_page(s, 2, RID_PASID, 0x5000, 0, false);
    assert_int_equal(vtd_iotlb_count(s), 0);
}

static void test_ranges_straddling_large_pages(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    /* 4K invalidation inside a 2M page drops it. */
    add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x200000, 2, VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, 0x3ff000, 0, false);
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x200000));

    /* Ranges ending just below a 2M page leave it; AM=10 covers it. */
    add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x200000, 2, VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, 0x1ff000, 1, false);
    vtd_iotlb_invalidate_page(s, 1, 0x0, 9, false);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x200000));
    vtd_iotlb_invalidate_page(s, 1, 0x1ff000, 10, false);   /* 0..4M */
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x200000));

    /* A 4M range over four 2M pages takes the middle two. */
    for (unsigned i = 1; i <= 4; i++) {
        add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x200000ULL * i, 2,
            VTD_PGTT_PT);
    }
    vtd_iotlb_invalidate_page(s, 1, 0x400000, 10, false);
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x200000));
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x400000));
    assert_false(has(s, 1, IOMMU_NO_PASID, 0x600000));
    assert_true(has(s, 1, IOMMU_NO_PASID, 0x800000));

    /* 1G pages: the last 4K page reaches it, AM=18 below it does not,
     * AM=19 from 0 covers it. */
    add(s, 2, IOMMU_NO_PASID, RID_PASID, 1, 0x40000000, 3, VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, 0x7ffff000, 0, false);
    assert_false(has(s, 2, IOMMU_NO_PASID, 0x40000000));
    add(s, 2, IOMMU_NO_PASID, RID_PASID, 1, 0x40000000, 3, VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, 0x3ffff000, 18, false);
    assert_true(has(s, 2, IOMMU_NO_PASID, 0x40000000));
    vtd_iotlb_invalidate_page(s, 1, 0x0, 19, false);
    assert_false(has(s, 2, IOMMU_NO_PASID, 0x40000000));

    /* Type 6 on FS large pages, same rules, PASID must match. */
    add(s, 3, 7, 7, 1, 0x200000, 2, VTD_PGTT_FS);
    add(s, 3, 7, 7, 1, 0xc0000000, 3, VTD_PGTT_NESTED);
    add(s, 3, 8, 8, 1, 0x200000, 2, VTD_PGTT_FS);
    vtd_iotlb_invalidate_pasid_page(s, 1, 7, 0x3ff000, 0, false);
    vtd_iotlb_invalidate_pasid_page(s, 1, 7, 0xffe00000, 9, false);
    assert_false(has(s, 3, 7, 0x200000));
    assert_false(has(s, 3, 7, 0xc0000000));
    assert_true(has(s, 3, 8, 0x200000));

    /* The very top of the space: the last page of each size (with enough
     * other pages in the domain that the range is probed, not walked). */
    for (unsigned i = 0; i < 8; i++) {
        add(s, 6, IOMMU_NO_PASID, RID_PASID, 1, 0x10000000 + 0x1000ULL * i, 1,
            VTD_PGTT_SS);
    }
    add(s, 4, IOMMU_NO_PASID, RID_PASID, 1, UINT64_MAX << 12, 1, VTD_PGTT_SS);
    add(s, 5, IOMMU_NO_PASID, RID_PASID, 1, UINT64_MAX << 30, 3, VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, UINT64_MAX, 0, false);
    assert_false(has(s, 4, IOMMU_NO_PASID, UINT64_MAX));
    assert_false(has(s, 5, IOMMU_NO_PASID, UINT64_MAX));
    assert_true(has(s, 6, IOMMU_NO_PASID, 0x10000000));
    add(s, 4, IOMMU_NO_PASID, RID_PASID, 1, UINT64_MAX << 12, 1, VTD_PGTT_SS);
    add(s, 4, IOMMU_NO_PASID, RID_PASID, 1, (UINT64_MAX << 12) - 0x8000, 1,
        VTD_PGTT_SS);
    vtd_iotlb_invalidate_page(s, 1, UINT64_MAX, 3, false);  /* last 8 pages */
    assert_false(has(s, 4, IOMMU_NO_PASID, UINT64_MAX));
    assert_true(has(s, 4, IOMMU_NO_PASID, (UINT64_MAX << 12) - 0x8000));
}

/* Type 2 with every AM: SS/PT entries go iff their page meets the range,
 * FS/nested entries of the DID always, other DIDs never. */
static void test_page_all_am(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;
    const uint64_t addr = 0x7fff12345000ULL;
    VtdIotlbEntry es[] = {
        mk(1, IOMMU_NO_PASID, RID_PASID, 1, 0x1000, 1, VTD_PGTT_SS),
        mk(2, IOMMU_NO_PASID, RID_PASID, 1, addr, 1, VTD_PGTT_SS),
        mk(3, IOMMU_NO_PASID, RID_PASID, 1, addr + 0x1000, 1, VTD_PGTT_PT),
        mk(4, IOMMU_NO_PASID, RID_PASID, 1, addr, 2, VTD_PGTT_SS),
        mk(5, IOMMU_NO_PASID, RID_PASID, 1, addr + (1ULL << 21), 2, VTD_PGTT_SS),
        mk(6, IOMMU_NO_PASID, RID_PASID, 1, addr, 3, VTD_PGTT_SS),
        mk(7, IOMMU_NO_PASID, RID_PASID, 1, UINT64_MAX << 30, 3, VTD_PGTT_SS),
        mk(8, 3, 3, 1, 0x5000, 1, VTD_PGTT_FS),
        mk(9, 3, 3, 1, 0x5000, 2, VTD_PGTT_NESTED),
        mk(10, IOMMU_NO_PASID, RID_PASID, 2, addr, 1, VTD_PGTT_SS),
        mk(11, IOMMU_NO_PASID, RID_PASID, 17, addr, 1, VTD_PGTT_SS),
    };
    Op op = { .kind = OP_PAGE, .did = 1, .addr = addr };

    for (op.am = 0; op.am < 64; op.am++) {
        unsigned expect = 0;

        for (unsigned i = 0; i < G_N_ELEMENTS(es); i++) {
            vtd_iotlb_insert(s, &es[i]);
        }
        op_apply(s, &op);
        for (unsigned i = 0; i < G_N_ELEMENTS(es); i++) {
            bool gone = op_selects(&op, &es[i]);

            assert_int_equal(find_tag(s, &es[i]) == NULL, gone);
            expect += !gone;
        }
        assert_int_equal(vtd_iotlb_count(s), expect);
        vtd_iotlb_invalidate_all(s);
    }
}

/* The same domain with many entries: small ranges probe pages, large ones
 * walk the domain list; both must agree with the rules. */
static void test_probe_and_walk_agree(void **state)
{
    VtdState *s = ((VtdTestCtx *)*state)->s;

    for (unsigned am = 0; am < 16; am++) {
        unsigned expect = 0;

        for (unsigned i = 0; i < 300; i++) {
            add(s, 1, IOMMU_NO_PASID, RID_PASID, 1, 0x3000ULL * i, 1,
                VTD_PGTT_SS);
            add(s, 2, 4, 4, 1, 0x3000ULL * i, 1, VTD_PGTT_FS);
        }
        vtd_iotlb_invalidate_page(s, 1, 0x123000, am, false);
        vtd_iotlb_invalidate_pasid_page(s, 1, 4, 0x123000, am, false);
        for (unsigned i = 0; i < 300; i++) {
            VtdIotlbEntry e = mk(1, IOMMU_NO_PASID, RID_PASID, 1,
                                 0x3000ULL * i, 1, VTD_PGTT_SS);
            bool gone = in_range(&e, 0x123000, am);

            assert_int_equal(has(s, 1, IOMMU_NO_PASID, 0x3000ULL * i), !gone);
            /* The type-2 PSI already took every FS entry of DID 1. */
            assert_false(has(s, 2, 4, 0x3000ULL * i));
            expect += !gone;
        }
        assert_int_equal(vtd_iotlb_count(s), expect);
        vtd_iotlb_invalidate_all(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_no_eviction, setup_512, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_random_with_eviction, setup_16, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_leaves_indexes, setup_8, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_reinsert_same_tag, setup_8, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_ranges_straddling_large_pages, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_page_all_am, tctx_setup, tctx_teardown),
        cmocka_unit_test_setup_teardown(test_probe_and_walk_agree, tctx_setup, tctx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
