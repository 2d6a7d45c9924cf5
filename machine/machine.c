/*
 * The reference machine: RAM and MMIO in one physical address space, x86 port
 * I/O, a virtual clock that only qtest advances, a reset chain and the MSI
 * sink. Everything the guest (qtest) can reach is bounds-checked here, so the
 * device models behind the callbacks only ever see in-range, naturally
 * aligned accesses of a size they declared.
 */
#include "vtdnest/machine.h"

#include <string.h>
#include <sys/mman.h>

/* The MSI log keeps the newest entries once it reaches this many. */
#define MSI_LOG_CAP 65536
/* Timer callbacks that keep re-arming in the past cannot stall the clock. */
#define TIMER_FIRE_BUDGET 1000000
/* Largest RAM we agree to reserve address space for. */
#define MACHINE_RAM_MAX (1ULL << 40)

typedef struct RamBlock {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
} RamBlock;

typedef struct RamRange {
    uint64_t start, last; /* inclusive, so a range may end at 2^64 - 1 */
} RamRange;

struct MmioRegion {
    char *name;
    uint64_t base;
    uint64_t last;   /* inclusive; clamped to the top of the address space */
    uint64_t seq;    /* later mappings win where regions overlap */
    const MemoryRegionOps *ops;
    void *opaque;
    unsigned busy;   /* callbacks in flight */
    bool dead;       /* unmapped while busy: free when the callback returns */
};

typedef struct PioRange {
    uint32_t base;
    uint32_t size;
    const PortIoOps *ops;
    void *opaque;
} PioRange;

struct Timer {
    Machine *m;
    TimerCb cb;
    void *opaque;
    int64_t deadline;
    uint64_t armed_seq; /* equal deadlines fire in the order they were armed */
    bool pending;
};

typedef struct HookEntry {
    ResetFn fn;
    void *opaque;
} HookEntry;

typedef struct ObjectEntry {
    char *id;
    char *type;
    void *obj;
} ObjectEntry;

struct Machine {
    uint64_t ram_size;
    uint8_t *ram_host;
    RamBlock ram[2];
    unsigned nr_ram;
    GArray *ram_readonly;      /* of RamRange */

    GPtrArray *mmio;           /* of MmioRegion*, sorted by base */
    uint64_t mmio_max_span;    /* largest (last - base) ever mapped */
    uint64_t mmio_seq;

    GArray *pio;               /* of PioRange, later registrations win */

    int64_t clock_ns;
    bool idle_warp;            /* -icount sleep=off: warp when idle */
    GPtrArray *timers;         /* of Timer*, all existing timers */
    uint64_t timer_seq;

    GArray *reset_chain;       /* of HookEntry */
    GArray *cleanup_chain;     /* of HookEntry */

    MsiRemapFn msi_remap;
    void *msi_remap_opaque;
    GArray *msi_log;           /* of MsiRecord */
    uint64_t msi_dropped;

    bool running;
    bool quit;

    GPtrArray *objects;        /* of ObjectEntry* */

    const struct IommuOps *iommu_ops;
    void *iommu_opaque;
    struct PCIBus *pci_root;
};

/* ---- Construction ---- */

static bool machine_alloc_ram(Machine *m, uint64_t ram_size, GError **errp)
{
    uint64_t low;

    /* Reserve without committing: untouched guest pages cost nothing. */
    m->ram_host = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m->ram_host == MAP_FAILED) {
        m->ram_host = NULL;
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                    "cannot allocate %" G_GUINT64_FORMAT " bytes of guest RAM",
                    ram_size);
        return false;
    }
    m->ram_size = ram_size;

    /* q35: RAM stays below the PCI hole unless it would not fit there. */
    low = ram_size >= Q35_LOWMEM_SPLIT ? Q35_LOWMEM_SPLIT_BIG : ram_size;
    m->ram[0] = (RamBlock){ .gpa = 0, .size = low, .host = m->ram_host };
    m->nr_ram = 1;
    if (ram_size > low) {
        m->ram[1] = (RamBlock){ .gpa = Q35_HIGHMEM_BASE, .size = ram_size - low,
                                .host = m->ram_host + low };
        m->nr_ram = 2;
    }
    return true;
}

Machine *machine_new(uint64_t ram_size, GError **errp)
{
    Machine *m;

    if (ram_size < (1ULL << 20)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "RAM size %" G_GUINT64_FORMAT " is too small (minimum 1M)",
                    ram_size);
        return NULL;
    }
    if (ram_size > MACHINE_RAM_MAX) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "RAM size %" G_GUINT64_FORMAT " is too large (maximum 1T)",
                    ram_size);
        return NULL;
    }
    if (ram_size & 0xfff) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "RAM size %" G_GUINT64_FORMAT " is not a multiple of 4K",
                    ram_size);
        return NULL;
    }

    m = g_new0(Machine, 1);
    if (!machine_alloc_ram(m, ram_size, errp)) {
        g_free(m);
        return NULL;
    }
    m->ram_readonly = g_array_new(false, false, sizeof(RamRange));
    m->mmio = g_ptr_array_new();
    m->pio = g_array_new(false, false, sizeof(PioRange));
    m->timers = g_ptr_array_new();
    m->reset_chain = g_array_new(false, false, sizeof(HookEntry));
    m->cleanup_chain = g_array_new(false, false, sizeof(HookEntry));
    m->msi_log = g_array_new(false, false, sizeof(MsiRecord));
    m->objects = g_ptr_array_new();
    m->running = true;
    return m;
}

static void object_entry_free(ObjectEntry *e)
{
    g_free(e->id);
    g_free(e->type);
    g_free(e);
}

void machine_free(Machine *m)
{
    if (!m) {
        return;
    }
    /* Devices tear down first, newest first, while the machine still works. */
    for (guint i = m->cleanup_chain->len; i > 0; i--) {
        HookEntry *h = &g_array_index(m->cleanup_chain, HookEntry, i - 1);
        h->fn(h->opaque);
    }
    g_array_free(m->cleanup_chain, true);

    for (guint i = 0; i < m->mmio->len; i++) {
        MmioRegion *r = g_ptr_array_index(m->mmio, i);
        g_free(r->name);
        g_free(r);
    }
    g_ptr_array_free(m->mmio, true);
    /* Timers still alive belong to devices that had no cleanup hook. */
    for (guint i = 0; i < m->timers->len; i++) {
        g_free(g_ptr_array_index(m->timers, i));
    }
    g_ptr_array_free(m->timers, true);
    for (guint i = 0; i < m->objects->len; i++) {
        object_entry_free(g_ptr_array_index(m->objects, i));
    }
    g_ptr_array_free(m->objects, true);
    g_array_free(m->pio, true);
    g_array_free(m->reset_chain, true);
    g_array_free(m->msi_log, true);
    g_array_free(m->ram_readonly, true);
    munmap(m->ram_host, m->ram_size);
    g_free(m);
}

uint64_t machine_ram_size(const Machine *m)
{
    return m->ram_size;
}

/* ---- RAM ---- */

static const RamBlock *ram_block_at(const Machine *m, uint64_t gpa)
{
    for (unsigned i = 0; i < m->nr_ram; i++) {
        const RamBlock *b = &m->ram[i];
        if (gpa >= b->gpa && gpa - b->gpa < b->size) {
            return b;
        }
    }
    return NULL;
}

uint8_t *machine_ram_ptr(Machine *m, uint64_t gpa, uint64_t len)
{
    const RamBlock *b = ram_block_at(m, gpa);
    uint64_t off;

    if (!b) {
        return NULL;
    }
    off = gpa - b->gpa;
    /* Written as a subtraction so that gpa + len can never wrap. */
    if (len > b->size - off) {
        return NULL;
    }
    return b->host + off;
}

bool machine_ram_set_readonly(Machine *m, uint64_t gpa, uint64_t len)
{
    RamRange r;

    if (len == 0 || !machine_ram_ptr(m, gpa, len)) {
        return false;
    }
    r = (RamRange){ .start = gpa, .last = gpa + len - 1 };
    g_array_append_val(m->ram_readonly, r);
    return true;
}

bool machine_ram_is_readonly(Machine *m, uint64_t gpa)
{
    for (guint i = 0; i < m->ram_readonly->len; i++) {
        RamRange *r = &g_array_index(m->ram_readonly, RamRange, i);
        if (gpa >= r->start && gpa <= r->last) {
            return true;
        }
    }
    return false;
}

bool machine_ram_range_writable(Machine *m, uint64_t gpa, uint64_t len)
{
    if (!machine_ram_ptr(m, gpa, len)) {
        return false;
    }
    if (len == 0) {
        return true;
    }
    for (guint i = 0; i < m->ram_readonly->len; i++) {
        RamRange *r = &g_array_index(m->ram_readonly, RamRange, i);
        /* ram_ptr succeeded, so gpa + len - 1 cannot wrap. */
        if (r->start <= gpa + len - 1 && gpa <= r->last) {
            return false;
        }
    }
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Report one block as runs of equal read-only state, in address order. */
static void ram_block_foreach_run(Machine *m, const RamBlock *b, RamBlockFn fn,
                                  void *opaque)
{
    uint64_t block_end = b->gpa + b->size; /* < 2^41: cannot wrap */
    GArray *cuts = g_array_new(false, false, sizeof(uint64_t));

    g_array_append_val(cuts, b->gpa);
    g_array_append_val(cuts, block_end);
    for (guint i = 0; i < m->ram_readonly->len; i++) {
        RamRange *r = &g_array_index(m->ram_readonly, RamRange, i);
        uint64_t after = r->last + 1;
        if (r->start > b->gpa && r->start < block_end) {
            g_array_append_val(cuts, r->start);
        }
        if (after > b->gpa && after < block_end) {
            g_array_append_val(cuts, after);
        }
    }
    g_array_sort(cuts, cmp_u64);

    for (guint i = 0; i + 1 < cuts->len; i++) {
        uint64_t start = g_array_index(cuts, uint64_t, i);
        uint64_t end = g_array_index(cuts, uint64_t, i + 1);
        if (end == start) {
            continue;
        }
        fn(opaque, start, end - start, b->host + (start - b->gpa),
           machine_ram_is_readonly(m, start));
    }
    g_array_free(cuts, true);
}

void machine_foreach_ram(Machine *m, RamBlockFn fn, void *opaque)
{
    for (unsigned i = 0; i < m->nr_ram; i++) {
        ram_block_foreach_run(m, &m->ram[i], fn, opaque);
    }
}

/* ---- MMIO ---- */

static int mmio_cmp_base(gconstpointer a, gconstpointer b)
{
    const MmioRegion *x = *(MmioRegion *const *)a;
    const MmioRegion *y = *(MmioRegion *const *)b;

    if (x->base != y->base) {
        return x->base < y->base ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Index of the last region whose base is <= addr, or -1. */
static int mmio_last_at_or_below(const Machine *m, uint64_t addr)
{
    int lo = 0, hi = (int)m->mmio->len - 1, found = -1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        MmioRegion *r = g_ptr_array_index(m->mmio, mid);
        if (r->base <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/*
 * The region visible at addr (the newest mapping among overlapping ones), and
 * the first address above addr where the picture may change (another region
 * starts): *boundary is UINT64_MAX when none does.
 */
static MmioRegion *mmio_lookup(const Machine *m, uint64_t addr,
                               uint64_t *boundary)
{
    int i = mmio_last_at_or_below(m, addr);
    MmioRegion *best = NULL;

    *boundary = UINT64_MAX;
    if (i + 1 < (int)m->mmio->len) {
        MmioRegion *next = g_ptr_array_index(m->mmio, i + 1);
        *boundary = next->base;
    }
    /* Walk down only as far as a region could still reach addr. */
    for (; i >= 0; i--) {
        MmioRegion *r = g_ptr_array_index(m->mmio, i);
        if (addr - r->base > m->mmio_max_span) {
            break;
        }
        if (r->last >= addr && (!best || r->seq > best->seq)) {
            best = r;
        }
    }
    return best;
}

MmioRegion *machine_map_mmio(Machine *m, const char *name, uint64_t base,
                             uint64_t size, const MemoryRegionOps *ops,
                             void *opaque)
{
    MmioRegion *r;

    g_assert(size > 0 && ops);
    r = g_new0(MmioRegion, 1);
    r->name = g_strdup(name);
    r->ops = ops;
    r->opaque = opaque;
    r->base = base;
    /* A guest may program a BAR that runs off the top: clamp, don't wrap. */
    r->last = size - 1 > UINT64_MAX - base ? UINT64_MAX : base + size - 1;
    r->seq = ++m->mmio_seq;
    m->mmio_max_span = MAX(m->mmio_max_span, r->last - r->base);
    g_ptr_array_add(m->mmio, r);
    g_ptr_array_sort(m->mmio, mmio_cmp_base);
    return r;
}

static void mmio_region_release(MmioRegion *r)
{
    if (r->busy) {
        r->dead = true; /* the running callback still holds it */
        return;
    }
    g_free(r->name);
    g_free(r);
}

void machine_unmap_mmio(Machine *m, MmioRegion *r)
{
    if (!r) {
        return;
    }
    g_ptr_array_remove(m->mmio, r);
    mmio_region_release(r);
}

void machine_move_mmio(Machine *m, MmioRegion *r, uint64_t new_base)
{
    uint64_t span = r->last - r->base;

    r->base = new_base;
    r->last = span > UINT64_MAX - new_base ? UINT64_MAX : new_base + span;
    /* Moving makes it the newest mapping, as a remap would. */
    r->seq = ++m->mmio_seq;
    g_ptr_array_sort(m->mmio, mmio_cmp_base);
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/*
 * The largest naturally aligned access at region offset off, no larger than
 * max_access or the len bytes available.
 */
static unsigned mmio_piece_size(uint64_t off, uint64_t len, unsigned max_access)
{
    unsigned s = max_access;

    while (s > 1 && (s > len || (off & (s - 1)))) {
        s >>= 1;
    }
    return s;
}

/* Sanitise a region's declared sizes to powers of two in [1, 8]. */
static void mmio_access_limits(const MemoryRegionOps *ops, unsigned *min,
                               unsigned *max)
{
    unsigned lo = ops->min_access ? ops->min_access : 1;
    unsigned hi = ops->max_access ? ops->max_access : 8;

    hi = MIN(hi, 8u);
    while (hi & (hi - 1)) {
        hi &= hi - 1;
    }
    lo = MIN(lo, hi);
    *min = lo;
    *max = hi;
}

/*
 * One MMIO access of at most avail bytes at addr inside r. Returns the bytes
 * handled; *res is MEMTX_ERROR when the piece is narrower than the region
 * accepts (reads then see zeros, as in QEMU, and writes are dropped).
 */
static uint64_t mmio_access_piece(MmioRegion *r, uint64_t addr, uint8_t *buf,
                                  uint64_t avail, bool is_write,
                                  MemTxResult *res)
{
    uint64_t off = addr - r->base;
    unsigned min, max, size;

    mmio_access_limits(r->ops, &min, &max);
    size = mmio_piece_size(off, avail, max);
    *res = MEMTX_OK;
    if (size < min) {
        if (!is_write) {
            memset(buf, 0, size);
        }
        *res = MEMTX_ERROR;
        return size;
    }

    r->busy++;
    if (is_write) {
        if (r->ops->write) {
            r->ops->write(r->opaque, off, load_le(buf, size), size);
        }
    } else if (r->ops->read) {
        store_le(buf, r->ops->read(r->opaque, off, size), size);
    } else {
        memset(buf, 0xff, size);
    }
    r->busy--;
    if (r->dead && !r->busy) {
        mmio_region_release(r);
    }
    return size;
}

/* Bytes from addr up to and including last, capped at want (no overflow). */
static uint64_t bytes_until(uint64_t addr, uint64_t last, uint64_t want)
{
    return want - 1 <= last - addr ? want : last - addr + 1;
}

/* First RAM block start above addr, or UINT64_MAX. */
static uint64_t next_ram_start(const Machine *m, uint64_t addr)
{
    uint64_t best = UINT64_MAX;

    for (unsigned i = 0; i < m->nr_ram; i++) {
        if (m->ram[i].gpa > addr) {
            best = MIN(best, m->ram[i].gpa);
        }
    }
    return best;
}

MemTxResult machine_mem_rw(Machine *m, uint64_t addr, void *buf, uint64_t len,
                           bool is_write)
{
    uint8_t *p = buf;
    MemTxResult result = MEMTX_OK;

    while (len) {
        const RamBlock *b = ram_block_at(m, addr);
        uint64_t n, boundary;
        MmioRegion *r;

        if (b) {
            /* RAM has priority over any MMIO mapped on top of it. */
            n = bytes_until(addr, b->gpa + b->size - 1, len);
            if (is_write) {
                memcpy(b->host + (addr - b->gpa), p, n);
            } else {
                memcpy(p, b->host + (addr - b->gpa), n);
            }
        } else {
            uint64_t stop;
            MemTxResult piece_res;

            r = mmio_lookup(m, addr, &boundary);
            stop = MIN(boundary, next_ram_start(m, addr));
            if (r) {
                uint64_t last = stop != UINT64_MAX ? MIN(r->last, stop - 1)
                                                   : r->last;
                n = mmio_access_piece(r, addr, p, bytes_until(addr, last, len),
                                      is_write, &piece_res);
                result = MAX(result, piece_res);
            } else {
                /*
                 * A hole: writes vanish and reads return zeros, as QEMU's
                 * unassigned memory does, so qtest scripts written against
                 * QEMU see the same values. (Port I/O holes read all-ones,
                 * again as in QEMU.)
                 */
                n = stop != UINT64_MAX ? bytes_until(addr, stop - 1, len)
                                       : bytes_until(addr, UINT64_MAX, len);
                if (!is_write) {
                    memset(p, 0, n);
                }
                result = MEMTX_DECODE_ERROR;
            }
        }
        p += n;
        len -= n;
        if (len && addr + n < addr) {
            /* Ran off the top of the address space: nothing is there. */
            if (!is_write) {
                memset(p, 0, len);
            }
            return MEMTX_DECODE_ERROR;
        }
        addr += n;
    }
    return result;
}

/* ---- Port I/O ---- */

void machine_register_pio(Machine *m, uint16_t base, uint16_t size,
                          const PortIoOps *ops, void *opaque)
{
    PioRange r = { .base = base, .size = size, .ops = ops, .opaque = opaque };

    if (size == 0) {
        return;
    }
    /* The port space ends at 0xffff; a range past it is cut there. */
    r.size = MIN((uint32_t)size, 0x10000u - base);
    g_array_append_val(m->pio, r);
}

void machine_unregister_pio(Machine *m, uint16_t base, void *opaque)
{
    for (guint i = m->pio->len; i > 0; i--) {
        PioRange *r = &g_array_index(m->pio, PioRange, i - 1);
        if (r->base == base && r->opaque == opaque) {
            g_array_remove_index(m->pio, i - 1);
            return;
        }
    }
}

/* The newest range holding all of [port, port+size), or NULL. */
static const PioRange *pio_lookup(const Machine *m, uint32_t port, unsigned size)
{
    for (guint i = m->pio->len; i > 0; i--) {
        const PioRange *r = &g_array_index(m->pio, PioRange, i - 1);
        if (port >= r->base && port + size <= r->base + r->size) {
            return r;
        }
    }
    return NULL;
}

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? UINT32_MAX : (1u << (8 * size)) - 1;
}

uint32_t machine_pio_read(Machine *m, uint16_t port, unsigned size)
{
    const PioRange *r;
    uint32_t v = 0;

    if (size != 1 && size != 2 && size != 4) {
        return size_mask(size);
    }
    r = pio_lookup(m, port, size);
    if (r) {
        return r->ops->read ? r->ops->read(r->opaque, port - r->base, size) &
                              size_mask(size)
                            : size_mask(size);
    }
    /* No single owner: assemble the value byte by byte. */
    for (unsigned i = 0; i < size; i++) {
        uint32_t p = (uint32_t)port + i;
        uint32_t byte = 0xff;
        if (p <= 0xffff && (r = pio_lookup(m, p, 1)) && r->ops->read) {
            byte = r->ops->read(r->opaque, p - r->base, 1) & 0xff;
        }
        v |= byte << (8 * i);
    }
    return v;
}

void machine_pio_write(Machine *m, uint16_t port, uint32_t value, unsigned size)
{
    const PioRange *r;

    if (size != 1 && size != 2 && size != 4) {
        return;
    }
    value &= size_mask(size);
    r = pio_lookup(m, port, size);
    if (r) {
        if (r->ops->write) {
            r->ops->write(r->opaque, port - r->base, value, size);
        }
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint32_t p = (uint32_t)port + i;
        if (p <= 0xffff && (r = pio_lookup(m, p, 1)) && r->ops->write) {
            r->ops->write(r->opaque, p - r->base, (value >> (8 * i)) & 0xff, 1);
        }
    }
}

/* ---- Clock and timers ---- */

int64_t machine_clock_ns(const Machine *m)
{
    return m->clock_ns;
}

/* The pending timer that fires first: earliest deadline, then armed first. */
static Timer *timer_earliest(const Machine *m)
{
    Timer *best = NULL;

    for (guint i = 0; i < m->timers->len; i++) {
        Timer *t = g_ptr_array_index(m->timers, i);
        if (!t->pending) {
            continue;
        }
        if (!best || t->deadline < best->deadline ||
            (t->deadline == best->deadline && t->armed_seq < best->armed_seq)) {
            best = t;
        }
    }
    return best;
}

int64_t machine_clock_advance_to(Machine *m, int64_t target_ns)
{
    unsigned budget = TIMER_FIRE_BUDGET;
    Timer *t;

    if (target_ns < m->clock_ns) {
        target_ns = m->clock_ns; /* virtual time never runs backwards */
    }
    while (budget-- && (t = timer_earliest(m)) && t->deadline <= target_ns) {
        if (t->deadline > m->clock_ns) {
            m->clock_ns = t->deadline;
        }
        t->pending = false;
        /* The callback may re-arm or free t; do not touch it afterwards. */
        t->cb(t->opaque);
    }
    m->clock_ns = target_ns;
    return m->clock_ns;
}

/* Deadlines one idle point may warp through (a periodic timer re-arms). */
#define IDLE_WARP_BUDGET 64

void machine_set_idle_warp(Machine *m, bool on)
{
    m->idle_warp = on;
}

bool machine_idle_warp(const Machine *m)
{
    return m->idle_warp;
}

void machine_idle(Machine *m)
{
    int64_t deadline;

    if (!m->idle_warp) {
        return;
    }
    for (unsigned i = 0; i < IDLE_WARP_BUDGET; i++) {
        deadline = machine_clock_next_deadline(m);
        if (deadline < 0) {
            return;
        }
        machine_clock_advance_to(m, deadline);
    }
}

int64_t machine_clock_next_deadline(const Machine *m)
{
    Timer *t = timer_earliest(m);

    return t ? t->deadline : -1;
}

Timer *machine_timer_new(Machine *m, TimerCb cb, void *opaque)
{
    Timer *t = g_new0(Timer, 1);

    t->m = m;
    t->cb = cb;
    t->opaque = opaque;
    g_ptr_array_add(m->timers, t);
    return t;
}

void machine_timer_mod(Timer *t, int64_t deadline_ns)
{
    t->deadline = deadline_ns;
    t->armed_seq = ++t->m->timer_seq;
    t->pending = true;
}

void machine_timer_del(Timer *t)
{
    if (t) {
        t->pending = false;
    }
}

void machine_timer_free(Timer *t)
{
    if (!t) {
        return;
    }
    g_ptr_array_remove(t->m->timers, t);
    g_free(t);
}

/* ---- Reset and teardown ---- */

void machine_register_reset(Machine *m, ResetFn fn, void *opaque)
{
    HookEntry h = { .fn = fn, .opaque = opaque };

    g_array_append_val(m->reset_chain, h);
}

void machine_unregister_reset(Machine *m, ResetFn fn, void *opaque)
{
    for (guint i = 0; i < m->reset_chain->len; i++) {
        HookEntry *h = &g_array_index(m->reset_chain, HookEntry, i);
        if (h->fn == fn && h->opaque == opaque) {
            g_array_remove_index(m->reset_chain, i);
            return;
        }
    }
}

void machine_system_reset(Machine *m)
{
    /* A copy, so handlers may (un)register while the chain runs. */
    GArray *chain = g_array_copy(m->reset_chain);

    for (guint i = 0; i < chain->len; i++) {
        HookEntry *h = &g_array_index(chain, HookEntry, i);
        h->fn(h->opaque);
    }
    g_array_free(chain, true);
}

void machine_register_cleanup(Machine *m, ResetFn fn, void *opaque)
{
    HookEntry h = { .fn = fn, .opaque = opaque };

    g_array_append_val(m->cleanup_chain, h);
}

/* ---- Interrupt messages ---- */

void machine_set_msi_remap(Machine *m, MsiRemapFn fn, void *opaque)
{
    m->msi_remap = fn;
    m->msi_remap_opaque = opaque;
}

void machine_send_msi(Machine *m, uint16_t sid, uint64_t addr, uint32_t data)
{
    MsiRecord rec = { .addr = addr, .data = data, .sid = sid };

    if (m->msi_remap) {
        MsiRecord out = rec;
        if (!m->msi_remap(m->msi_remap_opaque, sid, addr, data, &out)) {
            return; /* blocked: the remapping unit recorded the fault */
        }
        rec = out;
        rec.sid = sid;
    }
    machine_deliver_msi(m, &rec);
}

void machine_deliver_msi(Machine *m, const MsiRecord *rec)
{
    MsiRecord r = *rec;

    if (m->msi_log->len >= MSI_LOG_CAP) {
        /* Drop the older half at once so appends stay amortised O(1). */
        guint drop = MSI_LOG_CAP / 2;
        g_array_remove_range(m->msi_log, 0, drop);
        m->msi_dropped += drop;
    }
    r.clock_ns = m->clock_ns;
    g_array_append_val(m->msi_log, r);
}

const GArray *machine_msi_log(const Machine *m)
{
    return m->msi_log;
}

void machine_msi_log_clear(Machine *m)
{
    g_array_set_size(m->msi_log, 0);
}

uint64_t machine_msi_log_dropped(const Machine *m)
{
    return m->msi_dropped;
}

/* ---- Run state ---- */

bool machine_is_running(const Machine *m)
{
    return m->running;
}

void machine_set_running(Machine *m, bool running)
{
    m->running = running;
}

void machine_request_quit(Machine *m)
{
    m->quit = true;
}

bool machine_quit_requested(const Machine *m)
{
    return m->quit;
}

/* ---- Objects by id ---- */

/*
 * One id may be registered under several types (a -device id is recorded as
 * "device" by devices.c and may also be registered by the device model under
 * its own type); lookups with type NULL return the first match.
 */
static ObjectEntry *object_find(Machine *m, const char *id, const char *type,
                                guint *index)
{
    for (guint i = 0; i < m->objects->len; i++) {
        ObjectEntry *e = g_ptr_array_index(m->objects, i);
        if (strcmp(e->id, id) == 0 && (!type || strcmp(e->type, type) == 0)) {
            if (index) {
                *index = i;
            }
            return e;
        }
    }
    return NULL;
}

void machine_add_object(Machine *m, const char *id, const char *type, void *obj)
{
    ObjectEntry *e = object_find(m, id, type, NULL);

    if (e) {
        e->obj = obj; /* re-registering the same (id, type) replaces it */
        return;
    }
    e = g_new0(ObjectEntry, 1);
    e->id = g_strdup(id);
    e->type = g_strdup(type);
    e->obj = obj;
    g_ptr_array_add(m->objects, e);
}

void *machine_find_object(Machine *m, const char *id, const char *type)
{
    ObjectEntry *e;

    if (!id) {
        return NULL;
    }
    e = object_find(m, id, type, NULL);
    return e ? e->obj : NULL;
}

void machine_remove_object_of_type(Machine *m, const char *id, const char *type)
{
    guint i;
    ObjectEntry *e;

    while ((e = object_find(m, id, type, &i))) {
        g_ptr_array_remove_index(m->objects, i);
        object_entry_free(e);
    }
}

void machine_remove_object(Machine *m, const char *id)
{
    machine_remove_object_of_type(m, id, NULL);
}

/* ---- IOMMU and PCI root ---- */

void machine_set_iommu(Machine *m, const struct IommuOps *ops, void *opaque)
{
    m->iommu_ops = ops;
    m->iommu_opaque = opaque;
}

const struct IommuOps *machine_iommu(const Machine *m, void **opaque)
{
    if (opaque) {
        *opaque = m->iommu_opaque;
    }
    return m->iommu_ops;
}

void machine_set_pci_root(Machine *m, struct PCIBus *bus)
{
    m->pci_root = bus;
}

struct PCIBus *machine_pci_root(Machine *m)
{
    return m->pci_root;
}
