/*
 * The reference machine: RAM layout, the physical address space (RAM, MMIO
 * splitting, holes), port I/O, timers, reset, MSIs, objects and the device
 * registry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vtdnest/iommu.h"
#include "vtdnest/machine.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static Machine *new_machine(uint64_t ram)
{
    GError *err = NULL;
    Machine *m = machine_new(ram, &err);

    if (!m) {
        fail_msg("machine_new(%" G_GUINT64_FORMAT "): %s", ram, err->message);
    }
    return m;
}

/* ---- RAM layout ---- */

typedef struct RamSeen {
    int n;
    uint64_t gpa[8], size[8];
    bool ro[8];
} RamSeen;

static void record_ram(void *opaque, uint64_t gpa, uint64_t size, uint8_t *host,
                       bool readonly)
{
    RamSeen *s = opaque;

    assert_true(s->n < 8);
    assert_non_null(host);
    s->gpa[s->n] = gpa;
    s->size[s->n] = size;
    s->ro[s->n] = readonly;
    s->n++;
}

static void test_ram_small_is_all_low(void **state)
{
    Machine *m = new_machine(512 * MiB);
    RamSeen seen = { 0 };

    assert_true(machine_ram_size(m) == 512 * MiB);
    machine_foreach_ram(m, record_ram, &seen);
    assert_int_equal(seen.n, 1);
    assert_true(seen.gpa[0] == 0 && seen.size[0] == 512 * MiB);
    assert_non_null(machine_ram_ptr(m, 512 * MiB - 1, 1));
    assert_null(machine_ram_ptr(m, 512 * MiB, 1));
    assert_null(machine_ram_ptr(m, Q35_HIGHMEM_BASE, 1));
    machine_free(m);
}

static void test_ram_just_below_split(void **state)
{
    /* 2.75 GiB minus 4 KiB still fits below the PCI hole. */
    Machine *m = new_machine(Q35_LOWMEM_SPLIT - 4096);
    RamSeen seen = { 0 };

    machine_foreach_ram(m, record_ram, &seen);
    assert_int_equal(seen.n, 1);
    assert_true(seen.size[0] == Q35_LOWMEM_SPLIT - 4096);
    machine_free(m);
}

static void test_ram_split_at_2_75g(void **state)
{
    /* Exactly 2.75 GiB: low RAM stops at 2 GiB, the rest moves above 4 GiB. */
    Machine *m = new_machine(Q35_LOWMEM_SPLIT);
    RamSeen seen = { 0 };
    uint8_t *low_end, *high;

    machine_foreach_ram(m, record_ram, &seen);
    assert_int_equal(seen.n, 2);
    assert_true(seen.gpa[0] == 0 && seen.size[0] == Q35_LOWMEM_SPLIT_BIG);
    assert_true(seen.gpa[1] == Q35_HIGHMEM_BASE);
    assert_true(seen.size[1] == Q35_LOWMEM_SPLIT - Q35_LOWMEM_SPLIT_BIG);

    low_end = machine_ram_ptr(m, Q35_LOWMEM_SPLIT_BIG - 1, 1);
    assert_non_null(low_end);
    assert_null(machine_ram_ptr(m, Q35_LOWMEM_SPLIT_BIG, 1));
    high = machine_ram_ptr(m, Q35_HIGHMEM_BASE, 1);
    assert_non_null(high);
    /* A range spanning the gap between blocks is not RAM. */
    assert_null(machine_ram_ptr(m, Q35_LOWMEM_SPLIT_BIG - 1, 2));
    assert_non_null(machine_ram_ptr(m, Q35_HIGHMEM_BASE + seen.size[1] - 8, 8));
    assert_null(machine_ram_ptr(m, Q35_HIGHMEM_BASE + seen.size[1] - 8, 9));
    machine_free(m);
}

static void test_ram_size_errors(void **state)
{
    static const uint64_t bad[] = { 0, 4096, MiB + 1, (1ULL << 40) + 4096,
                                    UINT64_MAX };
    GError *err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_null(machine_new(bad[i], &err));
        assert_non_null(err);
        assert_non_null(strstr(err->message, "RAM size"));
        g_clear_error(&err);
    }
}

static void test_ram_ptr_overflow(void **state)
{
    Machine *m = new_machine(64 * MiB);

    assert_non_null(machine_ram_ptr(m, 0, 64 * MiB));
    assert_null(machine_ram_ptr(m, 0, 64 * MiB + 1));
    assert_null(machine_ram_ptr(m, 4096, UINT64_MAX));
    assert_null(machine_ram_ptr(m, UINT64_MAX, 2));
    assert_null(machine_ram_ptr(m, UINT64_MAX - 4095, 4096));
    assert_non_null(machine_ram_ptr(m, 4096, 0));
    assert_null(machine_ram_ptr(m, 64 * MiB, 0));
    machine_free(m);
}

static void test_ram_readonly(void **state)
{
    Machine *m = new_machine(16 * MiB);
    RamSeen seen = { 0 };

    assert_false(machine_ram_set_readonly(m, 16 * MiB - 4096, 8192));
    assert_false(machine_ram_set_readonly(m, 0, 0));
    assert_true(machine_ram_set_readonly(m, 0x10000, 0x2000));
    assert_true(machine_ram_is_readonly(m, 0x10000));
    assert_true(machine_ram_is_readonly(m, 0x11fff));
    assert_false(machine_ram_is_readonly(m, 0x12000));
    assert_false(machine_ram_is_readonly(m, 0xffff));

    assert_true(machine_ram_range_writable(m, 0, 0x10000));
    assert_false(machine_ram_range_writable(m, 0xfff8, 16));
    assert_false(machine_ram_range_writable(m, 0x11ff8, 16));
    assert_true(machine_ram_range_writable(m, 0x12000, 16));
    assert_false(machine_ram_range_writable(m, 16 * MiB - 8, 16));
    assert_false(machine_ram_range_writable(m, 8, UINT64_MAX));

    machine_foreach_ram(m, record_ram, &seen);
    assert_int_equal(seen.n, 3);
    assert_true(seen.gpa[0] == 0 && seen.size[0] == 0x10000 && !seen.ro[0]);
    assert_true(seen.gpa[1] == 0x10000 && seen.size[1] == 0x2000 && seen.ro[1]);
    assert_true(seen.gpa[2] == 0x12000 && !seen.ro[2]);
    assert_true(seen.gpa[2] + seen.size[2] == 16 * MiB);
    machine_free(m);
}

/* ---- MMIO ---- */

typedef struct Access {
    char dir;
    uint64_t off;
    unsigned size;
    uint64_t val;
} Access;

typedef struct FakeDev {
    Access log[64];
    int n;
    uint8_t regs[64];
    Machine *m;
    MmioRegion *self;
    bool unmap_self_on_write;
} FakeDev;

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
    FakeDev *d = opaque;
    uint64_t v = 0;

    assert_true(d->n < 64);
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)d->regs[(off + i) % 64] << (8 * i);
    }
    d->log[d->n++] = (Access){ 'r', off, size, v };
    return v;
}

static void fake_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    FakeDev *d = opaque;

    assert_true(d->n < 64);
    d->log[d->n++] = (Access){ 'w', off, size, val };
    for (unsigned i = 0; i < size; i++) {
        d->regs[(off + i) % 64] = (uint8_t)(val >> (8 * i));
    }
    if (d->unmap_self_on_write) {
        machine_unmap_mmio(d->m, d->self);
        d->self = NULL;
    }
}

static const MemoryRegionOps ops_4_8 = {
    .read = fake_read, .write = fake_write, .min_access = 4, .max_access = 8,
};
static const MemoryRegionOps ops_4_4 = {
    .read = fake_read, .write = fake_write, .min_access = 4, .max_access = 4,
};
static const MemoryRegionOps ops_any = {
    .read = fake_read, .write = fake_write,
};

static void assert_access(const Access *a, char dir, uint64_t off, unsigned size)
{
    assert_int_equal(a->dir, dir);
    assert_true(a->off == off);
    assert_int_equal(a->size, size);
}

static void test_mmio_split_by_max_access(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint8_t buf[16];

    machine_map_mmio(m, "dev", 0xfed00000, 0x1000, &ops_4_4, &d);
    for (int i = 0; i < 16; i++) {
        buf[i] = (uint8_t)(0x10 + i);
    }
    assert_int_equal(machine_mem_rw(m, 0xfed00000, buf, 8, true), MEMTX_OK);
    assert_int_equal(d.n, 2);
    assert_access(&d.log[0], 'w', 0, 4);
    assert_true(d.log[0].val == 0x13121110);
    assert_access(&d.log[1], 'w', 4, 4);
    assert_true(d.log[1].val == 0x17161514);

    memset(buf, 0, sizeof(buf));
    assert_int_equal(machine_mem_rw(m, 0xfed00000, buf, 8, false), MEMTX_OK);
    assert_int_equal(buf[0], 0x10);
    assert_int_equal(buf[7], 0x17);
    machine_free(m);
}

static void test_mmio_natural_alignment(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint8_t buf[16] = { 0 };

    machine_map_mmio(m, "dev", 0xfed00000, 0x1000, &ops_any, &d);
    /* 7 bytes at offset 1: 1 + 2 + 4 bytes, each naturally aligned. */
    assert_int_equal(machine_mem_rw(m, 0xfed00001, buf, 7, true), MEMTX_OK);
    assert_int_equal(d.n, 3);
    assert_access(&d.log[0], 'w', 1, 1);
    assert_access(&d.log[1], 'w', 2, 2);
    assert_access(&d.log[2], 'w', 4, 4);

    /* 16 aligned bytes with max 8: two 8-byte accesses. */
    d.n = 0;
    assert_int_equal(machine_mem_rw(m, 0xfed00010, buf, 16, false), MEMTX_OK);
    assert_int_equal(d.n, 2);
    assert_access(&d.log[0], 'r', 0x10, 8);
    assert_access(&d.log[1], 'r', 0x18, 8);
    machine_free(m);
}

static void test_mmio_below_min_access_rejected(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint8_t buf[8] = { 0 };

    memset(d.regs, 0x5a, sizeof(d.regs));
    machine_map_mmio(m, "vtd", 0xfed90000, 0x1000, &ops_4_8, &d);
    /* Byte and word accesses never reach a device with min_access 4; reads
     * see zeros, as QEMU's rejected accesses do. */
    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(machine_mem_rw(m, 0xfed90000, buf, 1, false), MEMTX_ERROR);
    assert_int_equal(buf[0], 0);
    assert_int_equal(machine_mem_rw(m, 0xfed90002, buf, 2, true), MEMTX_ERROR);
    assert_int_equal(d.n, 0);
    /* A misaligned dword is split into pieces that are all too small. */
    assert_int_equal(machine_mem_rw(m, 0xfed90002, buf, 4, false), MEMTX_ERROR);
    assert_int_equal(d.n, 0);
    /* Aligned 4 and 8 go through whole. */
    assert_int_equal(machine_mem_rw(m, 0xfed90008, buf, 8, false), MEMTX_OK);
    assert_int_equal(d.n, 1);
    assert_access(&d.log[0], 'r', 8, 8);
    assert_int_equal(buf[0], 0x5a);
    machine_free(m);
}

static void test_mmio_unmapped(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint8_t buf[8];

    /* Holes read as zeros (QEMU's unassigned memory). */
    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(machine_mem_rw(m, 0xe0000000, buf, 8, false),
                     MEMTX_DECODE_ERROR);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(buf[i], 0);
    }
    assert_int_equal(machine_mem_rw(m, 0xe0000000, buf, 8, true),
                     MEMTX_DECODE_ERROR);

    /* Straddling the end of a region: the region part lands, the rest floats. */
    machine_map_mmio(m, "dev", 0xfed00000, 0x10, &ops_any, &d);
    memset(buf, 0xa5, sizeof(buf));
    d.regs[0xc] = 0xab;
    assert_int_equal(machine_mem_rw(m, 0xfed0000c, buf, 8, false),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(d.n, 1);
    assert_access(&d.log[0], 'r', 0xc, 4);
    assert_int_equal(buf[0], 0xab);
    assert_int_equal(buf[4], 0);

    /* Running off the top of the address space does not wrap to 0. */
    d.n = 0;
    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(machine_mem_rw(m, UINT64_MAX - 3, buf, 8, false),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(buf[7], 0);
    assert_int_equal(machine_mem_rw(m, UINT64_MAX - 3, buf, 8, true),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(*machine_ram_ptr(m, 0, 1), 0);
    machine_free(m);
}

static void test_mem_rw_ram_and_boundaries(void **state)
{
    Machine *m = new_machine(16 * MiB);
    uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t out[8];

    assert_int_equal(machine_mem_rw(m, 0x1000, buf, 8, true), MEMTX_OK);
    assert_memory_equal(machine_ram_ptr(m, 0x1000, 8), buf, 8);
    /* The last 4 bytes of RAM plus 4 bytes of nothing. */
    assert_int_equal(machine_mem_rw(m, 16 * MiB - 4, buf, 8, true),
                     MEMTX_DECODE_ERROR);
    memset(out, 0xa5, sizeof(out));
    assert_int_equal(machine_mem_rw(m, 16 * MiB - 4, out, 8, false),
                     MEMTX_DECODE_ERROR);
    assert_memory_equal(out, buf, 4);
    assert_int_equal(out[4], 0);
    assert_int_equal(machine_mem_rw(m, 0, out, 0, false), MEMTX_OK);
    machine_free(m);
}

static void test_mmio_overlap_and_move(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev a = { 0 }, b = { 0 };
    uint32_t v = 0;
    MmioRegion *ra, *rb;

    ra = machine_map_mmio(m, "a", 0xc0000000, 0x2000, &ops_any, &a);
    rb = machine_map_mmio(m, "b", 0xc0001000, 0x1000, &ops_any, &b);
    /* The newer mapping wins where they overlap. */
    machine_mem_rw(m, 0xc0001000, &v, 4, false);
    assert_int_equal(b.n, 1);
    assert_int_equal(a.n, 0);
    /* An access across the start of b is split at b's base. */
    machine_mem_rw(m, 0xc0000ffe, &v, 4, false);
    assert_int_equal(a.n, 1);
    assert_access(&a.log[0], 'r', 0xffe, 2);
    assert_access(&b.log[1], 'r', 0, 2);

    /* Moving a makes it the newest: it now shadows b. */
    machine_move_mmio(m, ra, 0xc0001000);
    machine_mem_rw(m, 0xc0001000, &v, 4, false);
    assert_int_equal(a.n, 2);
    assert_access(&a.log[1], 'r', 0, 4);
    machine_unmap_mmio(m, ra);
    machine_mem_rw(m, 0xc0001000, &v, 4, false);
    assert_int_equal(b.n, 3);
    machine_unmap_mmio(m, rb);
    assert_int_equal(machine_mem_rw(m, 0xc0001000, &v, 4, false),
                     MEMTX_DECODE_ERROR);

    /* RAM takes priority over MMIO mapped on top of it. */
    machine_map_mmio(m, "over-ram", 0x1000, 0x1000, &ops_any, &a);
    a.n = 0;
    v = 0x12345678;
    assert_int_equal(machine_mem_rw(m, 0x1000, &v, 4, true), MEMTX_OK);
    assert_int_equal(a.n, 0);
    machine_free(m);
}

static void test_mmio_region_at_top(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint32_t v = 0;

    /* A BAR programmed to run past 2^64 is clamped, not wrapped. */
    machine_map_mmio(m, "top", UINT64_MAX - 0xfff, 0x2000, &ops_any, &d);
    assert_int_equal(machine_mem_rw(m, UINT64_MAX - 3, &v, 4, false), MEMTX_OK);
    assert_int_equal(d.n, 1);
    assert_access(&d.log[0], 'r', 0xffc, 4);
    assert_int_equal(machine_mem_rw(m, 0, &v, 4, false), MEMTX_OK); /* RAM */
    assert_int_equal(d.n, 1);
    machine_free(m);
}

static void test_mmio_unmap_in_callback(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakeDev d = { 0 };
    uint8_t buf[8] = { 0 };

    d.m = m;
    d.unmap_self_on_write = true;
    d.self = machine_map_mmio(m, "self", 0xfe000000, 0x1000, &ops_4_4, &d);
    /* The first piece unmaps the region; the second finds a hole. */
    assert_int_equal(machine_mem_rw(m, 0xfe000000, buf, 8, true),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(d.n, 1);
    assert_null(d.self);
    machine_free(m);
}

/* ---- Port I/O ---- */

typedef struct FakePorts {
    uint16_t last_off;
    unsigned last_size;
    uint32_t last_val;
    int reads, writes;
} FakePorts;

static uint32_t ports_read(void *opaque, uint16_t off, unsigned size)
{
    FakePorts *p = opaque;

    p->reads++;
    p->last_off = off;
    p->last_size = size;
    return 0xa0a1a2a3u + off;
}

static void ports_write(void *opaque, uint16_t off, uint32_t val, unsigned size)
{
    FakePorts *p = opaque;

    p->writes++;
    p->last_off = off;
    p->last_size = size;
    p->last_val = val;
}

static const PortIoOps port_ops = { .read = ports_read, .write = ports_write };

static void test_pio(void **state)
{
    Machine *m = new_machine(16 * MiB);
    FakePorts cfg = { 0 }, data = { 0 };

    machine_register_pio(m, 0xcf8, 4, &port_ops, &cfg);
    machine_register_pio(m, 0xcfc, 4, &port_ops, &data);

    machine_pio_write(m, 0xcf8, 0x80000000, 4);
    assert_int_equal(cfg.writes, 1);
    assert_int_equal(cfg.last_val, 0x80000000);
    assert_int_equal(machine_pio_read(m, 0xcfe, 2), (0xa0a1a2a3u + 2) & 0xffff);
    assert_int_equal(data.last_off, 2);
    assert_int_equal(data.last_size, 2);
    machine_pio_write(m, 0xcfd, 0x1ff, 1);
    assert_int_equal(data.last_val, 0xff); /* masked to the access size */

    /* Unclaimed ports float high. */
    assert_int_equal(machine_pio_read(m, 0x80, 1), 0xff);
    assert_int_equal(machine_pio_read(m, 0x80, 2), 0xffff);
    assert_int_equal(machine_pio_read(m, 0x80, 4), 0xffffffff);
    assert_int_equal(machine_pio_read(m, 0xffff, 4), 0xffffffff);
    machine_pio_write(m, 0xffff, 1, 4);
    /* Invalid sizes never reach a device. */
    assert_int_equal(machine_pio_read(m, 0xcf8, 3), 0xffffff);
    machine_pio_write(m, 0xcf8, 1, 8);
    assert_int_equal(cfg.writes, 1);

    /* Straddling two ranges goes byte by byte. */
    data.reads = cfg.reads = 0;
    uint32_t v = machine_pio_read(m, 0xcfa, 4);
    assert_int_equal(cfg.reads, 2);
    assert_int_equal(data.reads, 2);
    assert_int_equal(v & 0xff, (0xa0a1a2a3u + 2) & 0xff);

    machine_unregister_pio(m, 0xcfc, &data);
    assert_int_equal(machine_pio_read(m, 0xcfc, 4), 0xffffffff);
    machine_free(m);
}

/* ---- Clock and timers ---- */

typedef struct TimerLog {
    Machine *m;
    int order[16];
    int64_t when[16];
    int n;
} TimerLog;

typedef struct TimerCtx {
    TimerLog *log;
    int tag;
    Timer *t;
    int64_t rearm_period; /* > 0: re-arm that far after firing */
    int rearms_left;
} TimerCtx;

static void timer_fired(void *opaque)
{
    TimerCtx *c = opaque;
    TimerLog *l = c->log;

    assert_true(l->n < 16);
    l->order[l->n] = c->tag;
    l->when[l->n] = machine_clock_ns(l->m);
    l->n++;
    if (c->rearm_period && c->rearms_left-- > 0) {
        machine_timer_mod(c->t, machine_clock_ns(l->m) + c->rearm_period);
    }
}

static void test_timers_fire_in_deadline_order(void **state)
{
    Machine *m = new_machine(16 * MiB);
    TimerLog log = { .m = m };
    TimerCtx c[4];
    static const int64_t deadlines[4] = { 300, 100, 200, 100 };

    for (int i = 0; i < 4; i++) {
        c[i] = (TimerCtx){ .log = &log, .tag = i };
        c[i].t = machine_timer_new(m, timer_fired, &c[i]);
    }
    /* Armed in reverse creation order, so ties show arming order. */
    for (int i = 3; i >= 0; i--) {
        machine_timer_mod(c[i].t, deadlines[i]);
    }
    assert_int_equal(machine_clock_next_deadline(m), 100);
    assert_int_equal(machine_clock_advance_to(m, 250), 250);
    assert_int_equal(machine_clock_ns(m), 250);
    assert_int_equal(log.n, 3);
    /* Equal deadlines fire in arming order; time is the deadline. */
    assert_int_equal(log.order[0], 3);
    assert_int_equal(log.order[1], 1);
    assert_int_equal(log.order[2], 2);
    assert_int_equal(log.when[0], 100);
    assert_int_equal(log.when[2], 200);
    assert_int_equal(machine_clock_next_deadline(m), 300);

    /* Deleted timers do not fire; time never goes backwards. */
    machine_timer_del(c[0].t);
    assert_int_equal(machine_clock_next_deadline(m), -1);
    assert_int_equal(machine_clock_advance_to(m, 10), 250);
    assert_int_equal(machine_clock_advance_to(m, 1000), 1000);
    assert_int_equal(log.n, 3);
    for (int i = 0; i < 4; i++) {
        machine_timer_free(c[i].t);
    }
    machine_free(m);
}

static void test_timer_rearm_and_past_deadline(void **state)
{
    Machine *m = new_machine(16 * MiB);
    TimerLog log = { .m = m };
    TimerCtx c = { .log = &log, .tag = 7, .rearm_period = 50, .rearms_left = 3 };

    c.t = machine_timer_new(m, timer_fired, &c);
    machine_timer_mod(c.t, 100);
    machine_clock_advance_to(m, 180);
    /* Fires at 100 and at 150, re-armed for 200. */
    assert_int_equal(log.n, 2);
    assert_int_equal(log.when[1], 150);
    assert_int_equal(machine_clock_next_deadline(m), 200);

    /* A deadline already in the past fires on the next advance, at "now". */
    c.rearm_period = 0;
    machine_timer_mod(c.t, 10);
    machine_clock_advance_to(m, 180);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.when[2], 180);
    /* A pending timer freed before its deadline never fires. */
    machine_timer_mod(c.t, 500);
    machine_timer_free(c.t);
    machine_clock_advance_to(m, 1000);
    assert_int_equal(log.n, 3);
    machine_free(m);
}

/* ---- Reset ---- */

typedef struct ResetLog {
    char seq[16];
    int n;
} ResetLog;

static ResetLog reset_log;

static void reset_a(void *opaque) { reset_log.seq[reset_log.n++] = 'a'; }
static void reset_b(void *opaque) { reset_log.seq[reset_log.n++] = 'b'; }
static void reset_c(void *opaque) { reset_log.seq[reset_log.n++] = 'c'; }

static void test_reset_order(void **state)
{
    Machine *m = new_machine(16 * MiB);
    int x, y;

    memset(&reset_log, 0, sizeof(reset_log));
    machine_register_reset(m, reset_a, NULL);
    machine_register_reset(m, reset_b, &x);
    machine_register_reset(m, reset_c, NULL);
    machine_register_reset(m, reset_b, &y);
    machine_system_reset(m);
    assert_string_equal(reset_log.seq, "abcb");

    /* Unregistering matches both the function and its opaque. */
    machine_unregister_reset(m, reset_b, &x);
    machine_unregister_reset(m, reset_a, &x); /* not registered: no-op */
    memset(&reset_log, 0, sizeof(reset_log));
    machine_system_reset(m);
    assert_string_equal(reset_log.seq, "acb");
    machine_free(m);
}

static void cleanup_hook(void *opaque)
{
    reset_log.seq[reset_log.n++] = *(char *)opaque;
}

static void test_cleanup_reverse_order(void **state)
{
    Machine *m = new_machine(16 * MiB);
    static char one = '1', two = '2';

    memset(&reset_log, 0, sizeof(reset_log));
    machine_register_cleanup(m, cleanup_hook, &one);
    machine_register_cleanup(m, cleanup_hook, &two);
    machine_free(m);
    assert_string_equal(reset_log.seq, "21");
}

/* ---- MSIs ---- */

typedef struct RemapCtx {
    int calls;
    bool block;
} RemapCtx;

static bool fake_remap(void *opaque, uint16_t sid, uint64_t addr, uint32_t data,
                       MsiRecord *out)
{
    RemapCtx *c = opaque;

    c->calls++;
    if (c->block) {
        return false;
    }
    out->addr = 0xfee01000;
    out->data = data + 1;
    out->remapped = true;
    return true;
}

static void test_msi_log_and_remap(void **state)
{
    Machine *m = new_machine(16 * MiB);
    RemapCtx ctx = { 0 };
    const GArray *log;
    MsiRecord own = { .addr = 0xfee00000, .data = 0x41, .sid = 0xffff };
    const MsiRecord *r;

    machine_clock_advance_to(m, 77);
    machine_send_msi(m, 0x0010, 0xfee00000, 0x30);
    log = machine_msi_log(m);
    assert_int_equal(log->len, 1);
    r = &g_array_index(log, MsiRecord, 0);
    assert_true(r->addr == 0xfee00000 && r->data == 0x30 && r->sid == 0x10);
    assert_false(r->remapped);
    assert_int_equal(r->clock_ns, 77);

    machine_set_msi_remap(m, fake_remap, &ctx);
    machine_send_msi(m, 0x0018, 0xfee00010, 0x30);
    assert_int_equal(ctx.calls, 1);
    assert_int_equal(log->len, 2);
    r = &g_array_index(log, MsiRecord, 1);
    assert_true(r->addr == 0xfee01000 && r->data == 0x31 && r->sid == 0x18);
    assert_true(r->remapped);

    ctx.block = true;
    machine_send_msi(m, 0x0018, 0xfee00010, 0x30);
    assert_int_equal(ctx.calls, 2);
    assert_int_equal(log->len, 2);

    /* The unit's own events bypass remapping. */
    machine_deliver_msi(m, &own);
    assert_int_equal(ctx.calls, 2);
    assert_int_equal(log->len, 3);
    r = &g_array_index(log, MsiRecord, 2);
    assert_true(r->sid == 0xffff && r->data == 0x41 && !r->remapped);

    machine_msi_log_clear(m);
    assert_int_equal(machine_msi_log(m)->len, 0);
    machine_free(m);
}

static void test_msi_log_cap(void **state)
{
    Machine *m = new_machine(16 * MiB);
    MsiRecord rec = { .addr = 0xfee00000 };
    const GArray *log = machine_msi_log(m);
    const uint32_t total = 200000;

    for (uint32_t i = 0; i < total; i++) {
        rec.data = i;
        machine_deliver_msi(m, &rec);
    }
    /* Bounded, newest kept, and the loss is accounted for. */
    assert_true(log->len < total);
    assert_true(log->len + machine_msi_log_dropped(m) == total);
    assert_int_equal(g_array_index(log, MsiRecord, log->len - 1).data, total - 1);
    assert_int_equal(g_array_index(log, MsiRecord, 0).data,
                     machine_msi_log_dropped(m));
    machine_free(m);
}

/* ---- Objects, IOMMU hook, run state ---- */

static void fake_translate(void *opaque, const IommuRequest *req, IommuResult *res)
{
    res->ok = true;
}

static const IommuOps fake_iommu = { .translate = fake_translate };

static void test_objects_and_hooks(void **state)
{
    Machine *m = new_machine(16 * MiB);
    int a, b, c;
    void *opaque = NULL;

    machine_add_object(m, "x", "iommufd", &a);
    machine_add_object(m, "x", "device", &b);
    assert_ptr_equal(machine_find_object(m, "x", "iommufd"), &a);
    assert_ptr_equal(machine_find_object(m, "x", "device"), &b);
    assert_null(machine_find_object(m, "x", "other"));
    assert_non_null(machine_find_object(m, "x", NULL));
    assert_null(machine_find_object(m, "y", NULL));
    assert_null(machine_find_object(m, NULL, NULL));
    machine_add_object(m, "x", "iommufd", &c);
    assert_ptr_equal(machine_find_object(m, "x", "iommufd"), &c);
    machine_remove_object(m, "x");
    assert_null(machine_find_object(m, "x", NULL));

    assert_null(machine_iommu(m, &opaque));
    machine_set_iommu(m, &fake_iommu, &a);
    assert_ptr_equal(machine_iommu(m, &opaque), &fake_iommu);
    assert_ptr_equal(opaque, &a);

    assert_null(machine_pci_root(m));
    machine_set_pci_root(m, (struct PCIBus *)&b);
    assert_ptr_equal(machine_pci_root(m), &b);

    assert_true(machine_is_running(m));
    machine_set_running(m, false);
    assert_false(machine_is_running(m));
    assert_false(machine_quit_requested(m));
    machine_request_quit(m);
    assert_true(machine_quit_requested(m));
    machine_free(m);
}

/* ---- Device registry ---- */

static int fake_created, fake_destroyed;

static bool fake_dev_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    bool fail;

    if (!opts_get_bool(opts, OPT_NAMES("fail"), false, &fail, errp)) {
        return false;
    }
    if (fail) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "asked to fail");
        return false;
    }
    fake_created++;
    return true;
}

static bool fake_dev_destroy(Machine *m, const char *id, GError **errp)
{
    fake_destroyed++;
    return true;
}

static const DeviceType fake_dev_type = {
    .name = "test-fake-dev",
    .desc = "unit-test device",
    .create = fake_dev_create,
    .hotpluggable = true,
    .destroy = fake_dev_destroy,
};
DEVICE_TYPE_REGISTER(fake_dev_type)

static const DeviceType fake_fixed_type = {
    .name = "test-fixed-dev",
    .create = fake_dev_create,
};
DEVICE_TYPE_REGISTER(fake_fixed_type)

static const DeviceType fake_obj_type = {
    .name = "object:test-obj",
    .create = fake_dev_create,
};
DEVICE_TYPE_REGISTER(fake_obj_type)

static bool create_from(Machine *m, const char *str, bool object, GError **errp)
{
    DeviceOpts *o = opts_parse(str, object ? "qom-type" : "driver", errp);
    bool ok;

    if (!o) {
        return false;
    }
    ok = object ? machine_create_object(m, o, errp)
                : machine_create_device(m, o, errp);
    opts_free(o);
    return ok;
}

static void expect_error(Machine *m, const char *str, bool object,
                         const char *msg)
{
    GError *err = NULL;

    if (create_from(m, str, object, &err)) {
        fail_msg("'%s' was accepted", str);
    }
    if (!strstr(err->message, msg)) {
        fail_msg("'%s': got '%s', want '%s'", str, err->message, msg);
    }
    g_error_free(err);
}

static void collect_name(const DeviceType *t, void *opaque)
{
    g_string_append_printf(opaque, "%s;", t->name);
}

static void test_device_registry(void **state)
{
    Machine *m = new_machine(16 * MiB);
    GError *err = NULL;
    GString *names = g_string_new(NULL);

    assert_non_null(device_type_find("test-fake-dev"));
    assert_null(device_type_find("no-such"));
    assert_null(device_type_find(NULL));
    device_type_foreach(collect_name, names);
    assert_non_null(strstr(names->str, "test-fake-dev;test-fixed-dev;"));
    g_string_free(names, true);

    fake_created = fake_destroyed = 0;
    assert_true(create_from(m, "test-fake-dev,id=d0", false, &err));
    assert_int_equal(fake_created, 1);
    assert_string_equal(machine_device_driver(m, "d0"), "test-fake-dev");
    assert_true(create_from(m, "test-fake-dev", false, &err)); /* no id */

    expect_error(m, "test-fake-dev,id=d0", false, "Duplicate ID 'd0'");
    expect_error(m, "test-fake-dev,id=0bad", false, "Parameter 'id'");
    expect_error(m, "test-fake-dev,foo=1", false,
                 "Property 'test-fake-dev.foo' not found");
    expect_error(m, "test-fake-dev,fail=on", false, "asked to fail");
    expect_error(m, "test-fake-dev,fail=perhaps", false, "Parameter 'fail'");
    expect_error(m, "nope", false, "'nope' is not a valid device model name");
    expect_error(m, "id=x", false, "Parameter 'driver' is missing");
    /* Object types are not devices, and the reverse. */
    expect_error(m, "object:test-obj,id=o", false, "not a valid device model");
    expect_error(m, "test-fake-dev,id=o", true, "Invalid object type");

    assert_true(create_from(m, "test-obj,id=o1", true, &err));
    expect_error(m, "test-obj", true, "Parameter 'id' is missing");
    expect_error(m, "test-obj,id=o1", true, "Duplicate ID 'o1'");
    expect_error(m, "test-obj,id=o2,zap=1", true, "Property 'test-obj.zap' not found");

    /* A typo after a successful create rolls the device back. */
    assert_int_equal(fake_destroyed, 0);
    expect_error(m, "test-fake-dev,id=d9,foo=1", false,
                 "Property 'test-fake-dev.foo' not found");
    assert_int_equal(fake_destroyed, 1);
    assert_null(machine_device_driver(m, "d9"));

    /* Unplug: only hotpluggable types, and only ids that exist. */
    assert_true(machine_destroy_device(m, "d0", &err));
    assert_int_equal(fake_destroyed, 2);
    assert_null(machine_device_driver(m, "d0"));
    assert_false(machine_destroy_device(m, "d0", &err));
    assert_non_null(strstr(err->message, "not found"));
    g_clear_error(&err);
    /* -object and -device ids are separate namespaces: unplugging (or
     * rolling back) a device leaves an object of the same id in place. */
    assert_true(create_from(m, "test-obj,id=s1", true, &err));
    expect_error(m, "test-fake-dev,id=s1,foo=1", false,
                 "Property 'test-fake-dev.foo' not found");
    assert_non_null(machine_find_object(m, "s1", "object"));
    assert_true(create_from(m, "test-fake-dev,id=s1", false, &err));
    assert_true(machine_destroy_device(m, "s1", &err));
    assert_null(machine_device_driver(m, "s1"));
    assert_non_null(machine_find_object(m, "s1", "object"));
    assert_true(create_from(m, "test-fixed-dev,id=f0", false, &err));
    assert_false(machine_destroy_device(m, "f0", &err));
    assert_non_null(strstr(err->message, "hot-unplug"));
    g_clear_error(&err);
    machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ram_small_is_all_low),
        cmocka_unit_test(test_ram_just_below_split),
        cmocka_unit_test(test_ram_split_at_2_75g),
        cmocka_unit_test(test_ram_size_errors),
        cmocka_unit_test(test_ram_ptr_overflow),
        cmocka_unit_test(test_ram_readonly),
        cmocka_unit_test(test_mmio_split_by_max_access),
        cmocka_unit_test(test_mmio_natural_alignment),
        cmocka_unit_test(test_mmio_below_min_access_rejected),
        cmocka_unit_test(test_mmio_unmapped),
        cmocka_unit_test(test_mem_rw_ram_and_boundaries),
        cmocka_unit_test(test_mmio_overlap_and_move),
        cmocka_unit_test(test_mmio_region_at_top),
        cmocka_unit_test(test_mmio_unmap_in_callback),
        cmocka_unit_test(test_pio),
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_timer_rearm_and_past_deadline),
        cmocka_unit_test(test_reset_order),
        cmocka_unit_test(test_cleanup_reverse_order),
        cmocka_unit_test(test_msi_log_and_remap),
        cmocka_unit_test(test_msi_log_cap),
        cmocka_unit_test(test_objects_and_hooks),
        cmocka_unit_test(test_device_registry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
