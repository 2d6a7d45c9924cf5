/*
 * Fuzz target: the nesting manager (hw/intel-iommu/vtd-nest*.c,
 * vtd-nesting.c) on the in-process iommufd simulator. One scalable VT-d
 * unit (first stage on, or off for the second-stage shadow path) owns 1-3
 * simulated passthrough devices; guest RAM is ONE buffer that is both the
 * unit's VtdGuestMem and the RAM source mapped into the host IOAS, so the
 * devices' host DMA walks the very tables the input writes.
 *
 * Input layout (docs/fuzzing.md): 2 config bytes, one byte per host device,
 * then operations, each an opcode byte (low nibble) and its operands.
 *
 * Invariants, checked after every operation (abort on violation):
 *   - the nesting report agrees with the simulator: every attachment it
 *     lists is what the host has attached on that (device, PASID), a device
 *     not owned by the unit has nothing on its RID, every device's stage-2
 *     HWPT is listed in its container with the device as a user, and the
 *     counts match the report;
 *   - once every device is unset (and no injected host failure could have
 *     left objects behind) the iommufd holds exactly the objects it held
 *     before the first vtd_set_host_device();
 *   - one operation completes at most one queue's worth of descriptors and
 *     sends a bounded number of requests to the host;
 *   - a saved state loads back.
 */
#include <errno.h>

#include "fuzz-vtd-common.h"
#include "hw/intel-iommu/vtd-nesting.h"
#include "hw/intel-iommu/vtd-regs.h"
#include "vtdnest/iommufd-sim.h"

#define MAX_OPS       512
#define MAX_DEVS      3
#define RO_SIZE       (64 * 1024)
/* Requests one operation may send to the host: far above what a sane
 * operation needs (the shadow path caps a domain at 64 Ki mappings) and far
 * below what an unbounded walk would send. */
#define MAX_REQ_PER_OP (4u << 20)

/* Fixed guest layout the template operation writes (all below 1 MiB). */
#define G_ROOT   0x10000
#define G_CTX1   0x11000   /* bus 1 context table */
#define G_CTX2   0x12000   /* bus 2 context table */
#define G_PDIR   0x13000
#define G_PTBL   0x14000
#define G_PML4   0x20000   /* first stage: PML4[0] PDPT[1] PD[0] PT[0,1] */
#define G_PDPT   0x21000
#define G_PD     0x22000
#define G_PT     0x23000
#define G_SL4    0x30000   /* second stage, same shape */
#define G_SL3    0x31000
#define G_SL2    0x32000
#define G_SL1    0x33000
#define G_QUEUE  0x40000
#define G_PRQ    0x48000
#define G_DATA   0x80000
#define G_IOVA   0x40000000ULL

typedef struct FDev {
    char bdf[16];
    HostIommuDevice *hd;
    int cdev;
    bool set;               /* the unit owns it */
} FDev;

typedef struct Fuzz {
    FuzzIn in;
    FuzzRam ram;            /* [0, size): the one guest RAM buffer */
    uint8_t *ro;            /* optional read-only block at GPA ram.size */
    IommufdSim *sim;
    IommufdTransport *rec;
    IommufdBackend *be;
    VtdState *s;
    FDev dev[MAX_DEVS];
    unsigned ndev;
    int base_objects;
    bool fail_armed;        /* an injected failure may still be pending */
    bool maybe_leaked;      /* an unset ran with a failure pending */
    bool trace;
} Fuzz;

/* ---- guest memory: RAM plus the read-only block ------------------------ */

static bool mem_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    Fuzz *f = opaque;

    if (fuzz_ram_ok(&f->ram, gpa, len)) {
        memcpy(buf, f->ram.buf + gpa, len);
        return true;
    }
    if (f->ro && gpa >= f->ram.size && len <= RO_SIZE &&
        gpa - f->ram.size <= RO_SIZE - len) {
        memcpy(buf, f->ro + (gpa - f->ram.size), len);
        return true;
    }
    return false;
}

static bool mem_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
    Fuzz *f = opaque;

    if (!fuzz_ram_ok(&f->ram, gpa, len)) {
        return false;
    }
    memcpy(f->ram.buf + gpa, buf, len);
    return true;
}

static bool ram_foreach(void *opaque, VtdRamBlockFn fn, void *ctx, GError **errp)
{
    Fuzz *f = opaque;

    if (!fn(ctx, 0, f->ram.size, f->ram.buf, false, errp)) {
        return false;
    }
    return !f->ro || fn(ctx, f->ram.size, RO_SIZE, f->ro, true, errp);
}

/* ---- invariants ---------------------------------------------------------- */

static FDev *dev_by_bdf(Fuzz *f, const char *bdf)
{
    for (unsigned i = 0; i < f->ndev; i++) {
        if (!strcmp(f->dev[i].bdf, bdf)) {
            return &f->dev[i];
        }
    }
    return NULL;
}

static uint32_t vu32(GVariant *dict, const char *key)
{
    uint32_t v = 0;

    g_variant_lookup(dict, key, "u", &v);
    return v;
}

/* Is hwpt listed in a container with user name? */
static bool container_has(GVariant *containers, uint32_t hwpt, const char *name)
{
    GVariantIter ci;
    GVariant *c;

    g_variant_iter_init(&ci, containers);
    while ((c = g_variant_iter_next_value(&ci))) {
        g_autoptr(GVariant) hwpts = g_variant_lookup_value(c, "hwpts",
                                                           G_VARIANT_TYPE("aa{sv}"));
        GVariantIter hi;
        GVariant *h;

        g_variant_unref(c);
        if (!hwpts) {
            continue;
        }
        g_variant_iter_init(&hi, hwpts);
        while ((h = g_variant_iter_next_value(&hi))) {
            g_autoptr(GVariant) users = g_variant_lookup_value(h, "users",
                                                               G_VARIANT_TYPE("as"));
            bool hit = false;

            if (vu32(h, "id") == hwpt && users) {
                for (gsize i = 0; i < g_variant_n_children(users); i++) {
                    const char *u;

                    g_variant_get_child(users, i, "&s", &u);
                    hit |= !strcmp(u, name);
                }
            }
            g_variant_unref(h);
            if (hit) {
                return true;
            }
        }
    }
    return false;
}

static void check_attachment(Fuzz *f, const char *bdf, uint32_t s2, GVariant *a,
                             unsigned *nested)
{
    const char *kind = "?";
    uint32_t pasid = vu32(a, "pasid"), want, have;
    gboolean rid = false;

    g_variant_lookup(a, "kind", "&s", &kind);
    g_variant_lookup(a, "rid", "b", &rid);
    if (!strcmp(kind, "stage2")) {
        want = s2;
    } else if (!strcmp(kind, "nested") || !strcmp(kind, "shadow")) {
        want = vu32(a, "hwpt");
        *nested += !strcmp(kind, "nested");
    } else {
        want = 0;
    }
    have = iommufd_sim_attached_hwpt(f->sim, bdf, rid ? 0 : pasid);
    if (have != want) {
        fuzz_fail("device %s %s %u: report says %s (hwpt %u), the host has "
                  "hwpt %u attached", bdf, rid ? "RID, RID_PASID" : "PASID",
                  pasid, kind, want, have);
    }
    if (want == 0 && strcmp(kind, "blocked")) {
        fuzz_fail("device %s pasid %u: %s attachment with no HWPT", bdf, pasid,
                  kind);
    }
}

static void check_consistency(Fuzz *f, const char *after)
{
    g_autoptr(GVariant) rep = g_variant_ref_sink(vtd_nesting_report(f->s));
    g_autoptr(GVariant) devs = g_variant_lookup_value(rep, "devices",
                                                      G_VARIANT_TYPE("aa{sv}"));
    g_autoptr(GVariant) conts = g_variant_lookup_value(rep, "containers",
                                                       G_VARIANT_TYPE("aa{sv}"));
    VtdNestingCounts cnt;
    unsigned nested = 0, ndevs = 0, owned = 0, s2_hwpts = 0;
    bool seen[MAX_DEVS] = { false };
    GVariantIter it;
    GVariant *d;

    vtd_nesting_counts(f->s, &cnt);
    if (devs) {
        g_variant_iter_init(&it, devs);
        while ((d = g_variant_iter_next_value(&it))) {
            g_autoptr(GVariant) att = g_variant_lookup_value(d, "attachments",
                                                             G_VARIANT_TYPE("aa{sv}"));
            const char *host = "", *name = "";
            uint32_t s2 = vu32(d, "s2-hwpt");
            FDev *fd;

            g_variant_lookup(d, "host", "&s", &host);
            g_variant_lookup(d, "name", "&s", &name);
            fd = dev_by_bdf(f, host);
            if (!fd || !fd->set || seen[fd - f->dev]) {
                fuzz_fail("after %s: the report lists device %s, which the "
                          "unit does not own (or twice)", after, host);
            }
            seen[fd - f->dev] = true;
            ndevs++;
            if (!s2 || !conts || !container_has(conts, s2, name)) {
                fuzz_fail("after %s: device %s's stage-2 HWPT %u is not in a "
                          "container with it as a user", after, host, s2);
            }
            for (gsize i = 0; att && i < g_variant_n_children(att); i++) {
                g_autoptr(GVariant) a = g_variant_get_child_value(att, i);

                check_attachment(f, host, s2, a, &nested);
            }
            g_variant_unref(d);
        }
    }
    if (conts) {
        g_variant_iter_init(&it, conts);
        while ((d = g_variant_iter_next_value(&it))) {
            g_autoptr(GVariant) h = g_variant_lookup_value(d, "hwpts",
                                                           G_VARIANT_TYPE("aa{sv}"));

            s2_hwpts += h ? g_variant_n_children(h) : 0;
            g_variant_unref(d);
        }
    }
    for (unsigned i = 0; i < f->ndev; i++) {
        owned += f->dev[i].set;
        if (f->dev[i].set && !seen[i]) {
            fuzz_fail("after %s: device %s is owned but not reported", after,
                      f->dev[i].bdf);
        }
        /* Unplugged: nothing left on its RID (unless the host refused the
         * detach, which an injected failure can make it do). */
        if (!f->dev[i].set && !f->maybe_leaked &&
            iommufd_sim_attached_hwpt(f->sim, f->dev[i].bdf, 0)) {
            fuzz_fail("after %s: unset device %s still has hwpt %u on its RID",
                      after, f->dev[i].bdf,
                      iommufd_sim_attached_hwpt(f->sim, f->dev[i].bdf, 0));
        }
    }
    if (cnt.devices != ndevs || ndevs != owned || cnt.nested_hwpts != nested ||
        cnt.s2_hwpts != s2_hwpts) {
        fuzz_fail("after %s: counts (devices %u nested %u s2 %u) disagree with "
                  "the report (devices %u nested %u s2 %u, owned %u)", after,
                  cnt.devices, cnt.nested_hwpts, cnt.s2_hwpts, ndevs, nested,
                  s2_hwpts, owned);
    }
    if (!owned && !f->maybe_leaked &&
        iommufd_sim_object_count(f->sim, f->be->fd) != f->base_objects) {
        fuzz_fail("after %s: no device is owned, but the iommufd holds %d "
                  "objects, not the %d it held before", after,
                  iommufd_sim_object_count(f->sim, f->be->fd), f->base_objects);
    }
}

/* ---- operations ----------------------------------------------------------- */

enum {
    OP_RAM_W64,
    OP_RAM_POINTER,
    OP_RAM_BYTES,
    OP_MMIO_WRITE,
    OP_GCMD,
    OP_DESC,
    OP_DESC2,
    OP_DMA,
    OP_DMA2,
    OP_TEMPLATE,
    OP_ENABLE,
    OP_UNSET,
    OP_SET,
    OP_FAIL_NTH,
    OP_SAVE_LOAD,
    OP_RESET_OR_IQT,
};

static uint64_t ram_pointer(const Fuzz *f, uint64_t v)
{
    uint64_t pages = f->ram.size >> 12;

    return (((v >> 12) % pages) << 12) | (v & 0xfff);
}

/* Operands: u24 offset (8-byte aligned, folded into RAM), u64 value. */
static void op_ram_w64(Fuzz *f)
{
    uint64_t off = ((uint64_t)fin_bytes_le(&f->in, 3) % f->ram.size) & ~7ULL;

    fuzz_ram_w64(&f->ram, off, fin_u64(&f->in));
}

/* Operands: u24 offset, u64 value whose address bits are folded into RAM
 * (flags in 63:52 and 11:0 kept): a table entry pointing at a table. */
static void op_ram_pointer(Fuzz *f)
{
    uint64_t off = ((uint64_t)fin_bytes_le(&f->in, 3) % f->ram.size) & ~7ULL;
    uint64_t v = fin_u64(&f->in);

    fuzz_ram_w64(&f->ram, off, (v & 0xfff0000000000fffULL) |
                               (ram_pointer(f, v) & ~0xfffULL));
}

/* Operands: u24 offset, u8 length (0..64), the bytes. */
static void op_ram_bytes(Fuzz *f)
{
    uint64_t off = (uint64_t)fin_bytes_le(&f->in, 3) % f->ram.size;
    size_t want = fin_u8(&f->in) % 65;     /* not inside MIN(): evaluated twice */
    size_t len = MIN(want, f->ram.size - off);

    fin_copy(&f->in, f->ram.buf + off, len);
}

static const uint16_t reg_table[] = {
    DMAR_GCMD_REG, DMAR_RTADDR_REG, DMAR_CCMD_REG + 4, DMAR_FSTS_REG,
    DMAR_FECTL_REG, DMAR_IQH_REG, DMAR_IQT_REG, DMAR_IQA_REG, DMAR_ICS_REG,
    DMAR_IECTL_REG, DMAR_PQH_REG, DMAR_PQT_REG, DMAR_PQA_REG, DMAR_PRS_REG,
    DMAR_PECTL_REG, VTD_IOTLB_OFFSET + 4, VTD_IVA_OFFSET, VTD_FRCD_OFFSET + 12,
};

/* Operands: u8 selector (bit 7: fold the value into a RAM pointer; bit 6:
 * 4-byte access), u64 value. */
static void op_mmio_write(Fuzz *f)
{
    uint8_t sel = fin_u8(&f->in);
    uint64_t val = fin_u64(&f->in);
    uint64_t off = reg_table[(sel & 0x3f) % G_N_ELEMENTS(reg_table)];

    if (sel & 0x80) {
        val = ram_pointer(f, val);
    }
    vtd_mmio_write(f->s, off, val, (sel & 0x40) ? 4 : 8);
}

/* Operand: u8: bits 3:0 which command, bit 7 clear it instead of set. */
static void op_gcmd(Fuzz *f)
{
    static const uint32_t bits[] = {
        VTD_GCMD_TE, VTD_GCMD_SRTP, VTD_GCMD_QIE, VTD_GCMD_WBF, VTD_GCMD_IRE,
        VTD_GCMD_SIRTP, VTD_GCMD_CFI,
    };
    uint8_t b = fin_u8(&f->in);
    uint32_t bit = bits[(b & 0x0f) % G_N_ELEMENTS(bits)];
    uint32_t cmd = (uint32_t)vtd_mmio_read(f->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;

    vtd_mmio_write(f->s, DMAR_GCMD_REG, (b & 0x80) ? (cmd & ~bit) : (cmd | bit), 4);
}

/*
 * A descriptor at the queue tail, then IQT past it. Operands: u8 type
 * selector (bits 3:0: 1 context, 2 IOTLB, 3 device-TLB, 4 IEC, 5 wait,
 * 6 PASID-IOTLB, 7 PASID-cache, 8 PASID device-TLB, 9 page group response,
 * others: raw type bits from qw0; bit 4: leave IQT alone), u64 qw0 (type
 * bits replaced), u64 qw1 (a wait's status address folded into RAM).
 */
static void op_desc(Fuzz *f)
{
    uint8_t t = fin_u8(&f->in);
    uint64_t qw[4] = { fin_u64(&f->in), fin_u64(&f->in), 0, 0 };
    uint64_t iqa = vtd_mmio_read(f->s, DMAR_IQA_REG, 8);
    bool dw = iqa & VTD_IQA_DW;
    unsigned dsz = dw ? 32 : 16, type = t & 0x0f;
    uint64_t bytes = (uint64_t)(dw ? 128 : 256) * dsz << VTD_IQA_QS(iqa);
    uint64_t base = iqa & VTD_IQA_BASE_MASK;
    uint64_t tail = (vtd_mmio_read(f->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK) % bytes;

    if (type >= 1 && type <= 9) {
        qw[0] = (qw[0] & ~0xe0fULL) | type;
    }
    if (type == 5) {
        qw[1] = ram_pointer(f, qw[1]) & ~3ULL;
    }
    for (unsigned i = 0; i < 4; i++) {
        fuzz_ram_w64(&f->ram, base + tail + 8 * i, i < dsz / 8 ? qw[i] : 0);
    }
    if (!(t & 0x10)) {
        vtd_mmio_write(f->s, DMAR_IQT_REG, (tail + dsz) % bytes, 8);
    }
}

/*
 * Device DMA through the host (iommufd_sim_dma), then the fault drain the
 * device model does after a faulted DMA. Operands: u8 flags (bits 1:0
 * device, bits 3:2 PASID: RID / 5 / 6 / u24 operand, bit 4 write, bits
 * 6:5 address: template page 0/1/2 or u64 operand), [u24 pasid],
 * [u64 iova], u8 length - 1.
 */
static void op_dma(Fuzz *f)
{
    uint8_t fl = fin_u8(&f->in);
    FDev *d = &f->dev[(fl & 3) % f->ndev];
    uint32_t pasid = 0;
    uint64_t iova;
    uint8_t buf[256];
    size_t len;
    IommufdSimFault fault = { 0 };

    switch ((fl >> 2) & 3) {
    case 1: pasid = 5; break;
    case 2: pasid = 6; break;
    case 3: pasid = (uint32_t)fin_bytes_le(&f->in, 3) & 0xfffff; break;
    }
    if (((fl >> 5) & 3) == 3) {
        iova = fin_u64(&f->in);
    } else {
        iova = G_IOVA + 0x1000 * ((fl >> 5) & 3) + 0x10;
    }
    len = (size_t)fin_u8(&f->in) + 1;
    memset(buf, 0xa5, sizeof(buf));
    if (!iommufd_sim_dma(f->sim, d->bdf, pasid, iova, buf, len, fl & 0x10, &fault)) {
        host_iommu_device_drain_faults(d->hd);
    }
    if (f->trace) {
        fprintf(stderr, "dma %s pasid %u %#" G_GINT64_MODIFIER "x %s: fault %d "
                "queued %d\n", d->bdf, pasid, iova, (fl & 0x10) ? "W" : "R",
                fault.reason, fault.queued);
    }
}

static void w64(Fuzz *f, uint64_t gpa, uint64_t v)
{
    fuzz_ram_w64(&f->ram, gpa, v);
}

/*
 * Write a complete guest layout: scalable (or legacy, bit 6) root and
 * context entries for buses 1 and 2 (devfns 0, 8), a PASID directory and
 * table with entries for PASIDs 0, 5 and 6, first- and second-stage tables
 * mapping G_IOVA -> G_DATA (page 1 read-only). Operand: u8 variant: bits 1:0
 * PGTT of PASIDs 0/5 (FS, SS, PT, nested), bits 3:2 PGTT of PASID 6,
 * bit 4 PRE+DTE, bit 5 PASID 5 gets another DID, bit 6 legacy context
 * entries (TT from bits 1:0), bit 7 RID_PASID 5.
 */
static void op_template(Fuzz *f)
{
    static const unsigned pgtts[4] = { VTD_PGTT_FS, VTD_PGTT_SS, VTD_PGTT_PT,
                                       VTD_PGTT_NESTED };
    uint8_t v = fin_u8(&f->in);
    const uint64_t fs_tab = 0x27, fs_leaf = 0x67;   /* P RW US A (+D) */
    const uint64_t ss_rw = 3;

    w64(f, G_ROOT + 16 * 1, G_CTX1 | 1);
    w64(f, G_ROOT + 16 * 2, G_CTX2 | 1);
    for (unsigned b = 0; b < 2; b++) {
        uint64_t ctx = b ? G_CTX2 : G_CTX1;

        for (unsigned devfn = 0; devfn <= 8; devfn += 8) {
            if (v & 0x40) {
                /* legacy: TT 0 (SS), 1 (SS + ATS), 2 (PT); AW 2 (48-bit) */
                uint64_t tt = (v & 3) == 2 ? 2 : (v & 1);

                w64(f, ctx + 16 * devfn, G_SL4 | (tt << 2) | 1);
                w64(f, ctx + 16 * devfn + 8, 2 | (uint64_t)(3 + devfn) << 8);
            } else {
                w64(f, ctx + 32 * devfn, G_PDIR | 1 | 8 |
                    ((v & 0x10) ? 0x14 : 0));
                w64(f, ctx + 32 * devfn + 8, (v & 0x80) ? 5 : 0);
            }
        }
    }
    w64(f, G_PDIR, G_PTBL | 1);
    for (unsigned i = 0; i < 3; i++) {
        static const uint32_t pasids[3] = { 0, 5, 6 };
        uint64_t e = G_PTBL + 64ULL * pasids[i];
        unsigned pgtt = pgtts[i == 2 ? (v >> 2) & 3 : v & 3];
        uint16_t did = (i == 1 && (v & 0x20)) ? 9 : 7;

        w64(f, e, 1 | (uint64_t)pgtt << 6 | 2 << 2 | G_SL4);
        w64(f, e + 8, did);
        w64(f, e + 16, G_PML4);
        w64(f, e + 24, 0);
    }
    w64(f, G_PML4, G_PDPT | fs_tab);
    w64(f, G_PDPT + 8, G_PD | fs_tab);
    w64(f, G_PD, G_PT | fs_tab);
    w64(f, G_PT, G_DATA | fs_leaf);
    w64(f, G_PT + 8, (G_DATA + 0x1000) | 0x25);     /* read-only */
    w64(f, G_SL4, G_SL3 | ss_rw);
    w64(f, G_SL3 + 8, G_SL2 | ss_rw);
    w64(f, G_SL2, G_SL1 | ss_rw);
    w64(f, G_SL1, G_DATA | ss_rw);
    w64(f, G_SL1 + 8, (G_DATA + 0x1000) | 1);
    /* Identity for GPA 0..2 MiB through SL3[0] too, for nested walks. */
    w64(f, G_SL3, 0x80 | 3);                        /* 1 GiB page at 0 */
}

/*
 * Driver-style enable. Operand: u8: bit 0 root table (+ SMT unless bit 4),
 * bit 1 queue (bit 2: 128-bit descriptors; QS from bits 6:5), bit 3 TE,
 * bit 7 page request queue.
 */
static void op_enable(Fuzz *f)
{
    uint8_t v = fin_u8(&f->in);
    uint32_t gsts;

    if (v & 1) {
        vtd_mmio_write(f->s, DMAR_RTADDR_REG, G_ROOT | ((v & 0x10) ? 0 : 1u << 10), 8);
        gsts = (uint32_t)vtd_mmio_read(f->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;
        vtd_mmio_write(f->s, DMAR_GCMD_REG, gsts | VTD_GCMD_SRTP, 4);
    }
    if (v & 2) {
        vtd_mmio_write(f->s, DMAR_IQT_REG, 0, 8);
        vtd_mmio_write(f->s, DMAR_IQA_REG, G_QUEUE | ((v & 4) ? 0 : VTD_IQA_DW) |
                       ((v >> 5) & 3), 8);
        gsts = (uint32_t)vtd_mmio_read(f->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;
        vtd_mmio_write(f->s, DMAR_GCMD_REG, gsts | VTD_GCMD_QIE, 4);
    }
    if (v & 0x80) {
        vtd_mmio_write(f->s, DMAR_PQA_REG, G_PRQ, 8);
    }
    if (v & 8) {
        gsts = (uint32_t)vtd_mmio_read(f->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;
        vtd_mmio_write(f->s, DMAR_GCMD_REG, gsts | VTD_GCMD_TE, 4);
    }
}

/* Operand: u8 device. Hot unplug as the vfio-pci model does it. */
static void op_unset(Fuzz *f)
{
    FDev *d = &f->dev[fin_u8(&f->in) % f->ndev];

    if (!d->set) {
        return;
    }
    if (f->fail_armed) {
        f->maybe_leaked = true;     /* a refused detach/destroy leaves objects */
    }
    vtd_unset_host_device(f->s, d->hd);
    d->set = false;
}

/* Operand: u8 device. Plug (again); may be refused. */
static void op_set(Fuzz *f)
{
    FDev *d = &f->dev[fin_u8(&f->in) % f->ndev];
    GError *err = NULL;

    if (d->set) {
        /* Registering twice must be refused without side effects. */
        if (vtd_set_host_device(f->s, d->hd, &err)) {
            fuzz_fail("device %s registered twice", d->bdf);
        }
        g_clear_error(&err);
        return;
    }
    d->set = vtd_set_host_device(f->s, d->hd, &err);
    if (!d->set && f->fail_armed) {
        /* A refused plug is an unplug of what it built: a refused destroy
         * there leaves objects to the iommufd's close, as at unplug
         * (regress-set-failed-under-injection). */
        f->maybe_leaked = true;
    }
    if (f->trace && err) {
        fprintf(stderr, "set %s: %s\n", d->bdf, err->message);
    }
    g_clear_error(&err);
}

/* Operand: u8: bits 4:0 n (0 cancels), bits 7:5 errno. */
static void op_fail_nth(Fuzz *f)
{
    static const int errs[8] = { ENOMEM, EINVAL, EBUSY, EIO, ENOSPC, EFAULT,
                                 EOPNOTSUPP, ENODEV };
    uint8_t b = fin_u8(&f->in);

    iommufd_sim_fail_nth(f->sim, b & 0x1f, errs[b >> 5]);
    f->fail_armed = (b & 0x1f) != 0;
}

/* Operands: u8 flip (0: none), u16 position. Save, load (possibly a
 * corrupted copy) and resync the nesting state as the machine does. */
static void op_save_load(Fuzz *f)
{
    uint8_t flip = fin_u8(&f->in);
    uint16_t pos = fin_u16(&f->in);
    g_autoptr(GByteArray) a = g_byte_array_new();
    GError *err = NULL;

    if (!vtd_state_save(f->s, a)) {
        fuzz_fail("vtd_state_save failed");
    }
    if (flip && a->len) {
        a->data[pos % a->len] ^= flip;
    }
    if (!vtd_state_load(f->s, a->data, a->len, &err)) {
        if (!flip) {
            fuzz_fail("a state just saved does not load: %s", err->message);
        }
        g_clear_error(&err);
        return;
    }
    vtd_nesting_resync(f->s);
}

/* IQT = IQH + k descriptors (operand u8 k), or (op 0xff) a reset. */
static void op_reset_or_iqt(Fuzz *f, uint8_t op)
{
    uint64_t iqa, head, bytes;
    unsigned dsz;

    if ((op >> 4) == 0xf) {
        vtd_reset(f->s);
        return;
    }
    iqa = vtd_mmio_read(f->s, DMAR_IQA_REG, 8);
    dsz = (iqa & VTD_IQA_DW) ? 32 : 16;
    bytes = (uint64_t)((iqa & VTD_IQA_DW) ? 128 : 256) * dsz << VTD_IQA_QS(iqa);
    head = vtd_mmio_read(f->s, DMAR_IQH_REG, 8) & VTD_IQ_PTR_MASK;
    vtd_mmio_write(f->s, DMAR_IQT_REG, (head + (uint64_t)fin_u8(&f->in) * dsz) % bytes, 8);
}

static void run_op(Fuzz *f, uint8_t op)
{
    uint64_t before = fuzz_descriptors(f->s);
    uint32_t entries = f->s->iq_entries;
    const GArray *log;

    iommufd_recorder_clear(f->rec);
    switch (op & 0x0f) {
    case OP_RAM_W64: op_ram_w64(f); break;
    case OP_RAM_POINTER: op_ram_pointer(f); break;
    case OP_RAM_BYTES: op_ram_bytes(f); break;
    case OP_MMIO_WRITE: op_mmio_write(f); break;
    case OP_GCMD: op_gcmd(f); break;
    case OP_DESC:
    case OP_DESC2: op_desc(f); break;
    case OP_DMA:
    case OP_DMA2: op_dma(f); break;
    case OP_TEMPLATE: op_template(f); break;
    case OP_ENABLE: op_enable(f); break;
    case OP_UNSET: op_unset(f); break;
    case OP_SET: op_set(f); break;
    case OP_FAIL_NTH: op_fail_nth(f); break;
    case OP_SAVE_LOAD: op_save_load(f); break;
    case OP_RESET_OR_IQT: op_reset_or_iqt(f, op); break;
    }
    fuzz_check_queue_work(f->s, before, entries, "an operation");
    fuzz_check_iqh(f->s);
    log = iommufd_recorder_log(f->rec);
    if (log->len > MAX_REQ_PER_OP) {
        fuzz_fail("operation %#x sent %u requests to the host", op, log->len);
    }
    if (f->trace) {
        fprintf(stderr, "op %#04x: %u host requests\n", op, log->len);
        for (guint i = 0; i < log->len && i < 64; i++) {
            const IommufdRecord *r = &g_array_index(log, IommufdRecord, i);

            fprintf(stderr, "  %s -> %d\n", iommufd_request_name(r->request),
                    r->result);
        }
    }
    check_consistency(f, "an operation");
}

/* ---- set-up ------------------------------------------------------------- */

/*
 * Config byte 0: bit 0 flts=off (the shadow path), bit 1 legacy mode (with
 * flts=off), bit 2 device-iotlb, bit 3 x-prs, bits 5:4 pasid-bits
 * (20/8/0/16), bit 6 fs1gp=off, bit 7 x-rps.
 * Config byte 1: bits 1:0 host devices - 1 (3 for 3), bit 2 a read-only RAM
 * block, bit 3 2 MiB RAM, bit 4 x-nest, bit 5 a 4-entry IOTLB, bit 6
 * caching-mode=off, bit 7 x-fs5lp.
 */
static bool unit_config(VtdConfig *cfg, const uint8_t b[2])
{
    static const unsigned pasid[4] = { 20, 8, 0, 16 };
    GError *err = NULL;

    vtd_config_defaults(cfg);
    cfg->flts = !(b[0] & 1);
    cfg->scalable_mode = cfg->flts || !(b[0] & 2);
    cfg->caching_mode = !(b[1] & 0x40);
    cfg->aw_bits = 48;
    cfg->device_iotlb = b[0] & 0x0c;
    cfg->x_prs = b[0] & 0x08;
    cfg->pasid_bits = cfg->scalable_mode ? pasid[(b[0] >> 4) & 3] : 0;
    cfg->fs1gp = cfg->flts && !(b[0] & 0x40);
    cfg->x_rps = cfg->scalable_mode && (b[0] & 0x80);
    cfg->x_nest = cfg->x_ssts = cfg->flts && (b[1] & 0x10);
    cfg->x_fs5lp = cfg->flts && (b[1] & 0x80);
    if (b[1] & 0x20) {
        cfg->iotlb_size = 4;
    }
    if (cfg->pasid_bits && cfg->device_iotlb) {
        cfg->x_prs = true;
    }
    if (!cfg->scalable_mode) {
        cfg->x_prs = false;
    }
    if (!vtd_config_validate(cfg, &err)) {
        g_clear_error(&err);
        return false;
    }
    return true;
}

/*
 * Device byte: bits 1:0 host unit (u0: nesting, no errata, PRS, FS5LP;
 * u1: errata, 8 PASID bits; u2: no nesting; 3: u0), bit 2 non-coherent,
 * bit 3 PRI, bit 4 no PASID, bits 6:5 guest sid (01:00.0, 01:01.0,
 * 02:00.0, 01:00.0 again: an alias), bit 7 shares device 0's group.
 */
static bool add_device(Fuzz *f, unsigned i, uint8_t b)
{
    static const char *const units[4] = { "u0", "u1", "u2", "u0" };
    static const uint16_t sids[4] = { 0x0100, 0x0108, 0x0200, 0x0100 };
    g_autofree char *opts = NULL;
    FDev *d = &f->dev[i];
    GError *err = NULL;
    uint32_t dev_id = 0;
    int cdev;

    g_snprintf(d->bdf, sizeof(d->bdf), "0000:0%u:00.0", i + 3);
    opts = g_strdup_printf("host=%s,unit=%s,coherent=%s,pri=%s,pasid=%s,group=%u",
                           d->bdf, units[b & 3], (b & 4) ? "off" : "on",
                           (b & 8) ? "on" : "off", (b & 0x10) ? "off" : "on",
                           (b & 0x80) ? 100 : 100 + i);
    if (!iommufd_sim_add_device(f->sim, opts, &err)) {
        fuzz_fail("simulator refused %s: %s", opts, err->message);
    }
    cdev = vfio_cdev_open(f->be, iommufd_sim_cdev_path(f->sim, d->bdf), &err);
    if (cdev < 0 || !vfio_cdev_bind(f->be, cdev, &dev_id, &err)) {
        fuzz_fail("cannot bind %s: %s", d->bdf, err->message);
    }
    d->cdev = cdev;
    d->hd = host_iommu_device_new(f->be, "fd0", cdev, dev_id, d->bdf, d->bdf,
                                  units[b & 3], &err);
    if (!d->hd) {
        fuzz_fail("host_iommu_device_new(%s): %s", d->bdf, err->message);
    }
    d->hd->guest_sid = sids[(b >> 5) & 3];
    d->hd->iopf = iommufd_sim_device_pri(f->sim, d->bdf);
    return true;
}

/* Warnings are expected (host refusals); criticals are bugs. */
static void quiet_log(const gchar *domain, GLogLevelFlags level,
                      const gchar *msg, gpointer data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        fprintf(stderr, "%s: %s\n", domain ? domain : "", msg);
        abort();
    }
    if (getenv("FUZZ_TRACE")) {
        fprintf(stderr, "log: %s\n", msg);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const unit_opts[] = {
        "id=u0,errata=off,prs=on,fs5lp=on,srs=on,eafs=on",
        "id=u1,errata=on,pasid-bits=8",
        "id=u2,nesting=off",
    };
    Fuzz f = { .in = { data, size, 0 }, .trace = getenv("FUZZ_TRACE") };
    VtdGuestMem mem = { &f, mem_read, mem_write };
    VtdRamSource src = { &f, ram_foreach };
    uint8_t cfgb[2];
    VtdConfig cfg;
    GError *err = NULL;

    g_log_set_default_handler(quiet_log, NULL);
    fin_copy(&f.in, cfgb, sizeof(cfgb));
    if (!unit_config(&cfg, cfgb)) {
        return 0;
    }
    f.ndev = MIN((cfgb[1] & 3) + 1, MAX_DEVS);
    f.ram.size = (cfgb[1] & 8) ? 2 * FUZZ_MiB : FUZZ_MiB;
    f.ram.ro_start = f.ram.size;
    f.ram.buf = g_aligned_alloc0(f.ram.size, 1, 4096);
    if (cfgb[1] & 4) {
        f.ro = g_aligned_alloc0(RO_SIZE, 1, 4096);
    }

    f.sim = iommufd_sim_new();
    for (unsigned i = 0; i < G_N_ELEMENTS(unit_opts); i++) {
        if (!iommufd_sim_add_unit(f.sim, unit_opts[i], &err)) {
            fuzz_fail("simulator refused %s: %s", unit_opts[i], err->message);
        }
    }
    f.rec = iommufd_recorder_new(iommufd_sim_transport(f.sim));
    f.be = iommufd_backend_open(f.rec, &err);
    if (!f.be) {
        fuzz_fail("iommufd_backend_open: %s", err->message);
    }
    for (unsigned i = 0; i < f.ndev; i++) {
        add_device(&f, i, fin_u8(&f.in));
    }
    f.base_objects = iommufd_sim_object_count(f.sim, f.be->fd);

    f.s = vtd_new(&cfg, &mem, NULL);
    if (!f.s) {
        fuzz_fail("vtd_new failed for a validated config");
    }
    vtd_nesting_set_ram_source(f.s, &src);
    for (unsigned i = 0; i < f.ndev; i++) {
        f.dev[i].set = vtd_set_host_device(f.s, f.dev[i].hd, &err);
        g_clear_error(&err);
    }
    check_consistency(&f, "set-up");

    for (unsigned n = 0; n < MAX_OPS && fin_more(&f.in); n++) {
        run_op(&f, fin_u8(&f.in));
    }

    if (f.trace) {
        g_autofree char *text = vtd_nesting_report_text(f.s);

        fprintf(stderr, "%s", text);
    }
    /* Teardown as an unplug of everything, with no failure pending. */
    iommufd_sim_fail_nth(f.sim, 0, 0);
    f.fail_armed = false;
    for (unsigned i = 0; i < f.ndev; i++) {
        if (f.dev[i].set) {
            vtd_unset_host_device(f.s, f.dev[i].hd);
            f.dev[i].set = false;
        }
    }
    check_consistency(&f, "unplugging every device");
    vtd_free(f.s);
    for (unsigned i = 0; i < f.ndev; i++) {
        host_iommu_device_free(f.dev[i].hd);
        vfio_cdev_close(f.be, f.dev[i].cdev);
    }
    iommufd_backend_close(f.be);
    iommufd_transport_free(f.rec);
    iommufd_sim_free(f.sim);
    g_aligned_free(f.ram.buf);
    g_aligned_free(f.ro);
    return 0;
}
