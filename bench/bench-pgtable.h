/*
 * A guest-side table builder for the benchmarks: hands out zeroed 4 KiB
 * pages of guest RAM from a bump allocator and writes 4-level page tables
 * (second-stage or first-stage format) the way a guest driver would. Guest
 * RAM is reached through a callback so the same code serves the flat RAM of
 * the libvtd benches and the machine's RAM (machine_ram_ptr).
 */
#ifndef BENCH_PGTABLE_H
#define BENCH_PGTABLE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct BenchGuestRam {
    /* Host pointer for len bytes at gpa, or NULL. */
    uint8_t *(*ptr)(void *opaque, uint64_t gpa, uint64_t len);
    void *opaque;
    uint64_t next;      /* next free page (bump allocator) */
    uint64_t limit;     /* first byte the allocator may not use */
} BenchGuestRam;

/* Entry flags. SS: R|W at every level. FS: P|RW|US|A above the leaf and
 * P|RW|US|A|D at the leaf, so no walk ever needs an A/D update. */
#define BENCH_SS_TABLE      0x3ULL
#define BENCH_SS_LEAF       0x3ULL
#define BENCH_FS_TABLE      0x27ULL
#define BENCH_FS_LEAF       0x67ULL
#define BENCH_SS_PS         0x80ULL
#define BENCH_ADDR_MASK     0x000ffffffffff000ULL

/* A zeroed page, or 0 when the region is exhausted (a bench bug). */
static inline uint64_t bench_alloc_page(BenchGuestRam *r)
{
    uint64_t gpa = r->next;
    uint8_t *p;

    if (gpa + 4096 > r->limit) {
        return 0;
    }
    p = r->ptr(r->opaque, gpa, 4096);
    if (!p) {
        return 0;
    }
    memset(p, 0, 4096);
    r->next += 4096;
    return gpa;
}

static inline bool bench_w64(BenchGuestRam *r, uint64_t gpa, uint64_t v)
{
    uint8_t *p = r->ptr(r->opaque, gpa, 8);

    if (!p) {
        return false;
    }
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
    return true;
}

static inline uint64_t bench_r64(BenchGuestRam *r, uint64_t gpa)
{
    uint8_t *p = r->ptr(r->opaque, gpa, 8);
    uint64_t v = 0;

    if (p) {
        memcpy(&v, p, 8);
    }
    return GUINT64_FROM_LE(v);
}

/* Map one page va -> pa in the 4-level table at root, with its leaf at
 * leaf_level (1: 4 KiB, 2: 2 MiB; leaf_flags then carry PS), allocating
 * intermediate tables as needed. */
static inline bool bench_map(BenchGuestRam *r, uint64_t root, uint64_t va,
                             uint64_t pa, unsigned leaf_level,
                             uint64_t table_flags, uint64_t leaf_flags)
{
    uint64_t table = root;

    for (unsigned level = 4; level > leaf_level; level--) {
        uint64_t slot = table + 8 * ((va >> (12 + 9 * (level - 1))) & 0x1ff);
        uint64_t e = bench_r64(r, slot);

        if (!(e & 1) && !(e & 2)) {
            uint64_t next = bench_alloc_page(r);
            if (!next) {
                return false;
            }
            e = next | table_flags;
            if (!bench_w64(r, slot, e)) {
                return false;
            }
        }
        table = e & BENCH_ADDR_MASK;
    }
    return bench_w64(r, table +
                     8 * ((va >> (12 + 9 * (leaf_level - 1))) & 0x1ff),
                     pa | leaf_flags);
}

static inline bool bench_map_4k(BenchGuestRam *r, uint64_t root, uint64_t va,
                                uint64_t pa, uint64_t table_flags,
                                uint64_t leaf_flags)
{
    return bench_map(r, root, va, pa, 1, table_flags, leaf_flags);
}

#endif
