/*
 * Fuzz target: one VT-d unit driven the way a guest and its devices can
 * drive it. The input picks the unit's configuration and the size of a
 * fake guest RAM, then a sequence of operations: register writes and reads
 * (biased to real registers, with pointers folded into RAM), GCMD commands,
 * raw RAM writes that build or corrupt root/context/PASID tables, page
 * tables and queue descriptors, DMA translation requests, interrupt
 * requests, page requests, saved-state round trips and resets.
 *
 * Input layout (docs/fuzzing.md): 4 config bytes (fuzz-vtd-common.h),
 * 1 harness byte, then operations, each an opcode byte and its operands.
 *
 * Invariants, checked after every operation (abort on violation):
 *   - VER, CAP and ECAP never change;
 *   - one operation completes at most one queue's worth of descriptors, and
 *     IQH stays a slot of the queue;
 *   - a successful translation while remapping is on maps the request's
 *     page offset unchanged to an address below the host address width,
 *     grants the requested access, and a repeat of the request (an IOTLB
 *     hit when cached) gives the same answer;
 *   - a saved state loads back and saves to the same bytes.
 */
#include "fuzz-vtd-common.h"

#define MAX_OPS 1024

typedef struct Fuzz {
    FuzzIn in;
    FuzzRam ram;
    FuzzSinks sinks;
    VtdState *s;
    FuzzIdent ident;
    bool trace;             /* FUZZ_TRACE set: print what translations did */
} Fuzz;

enum {
    OP_MMIO_WRITE,
    OP_MMIO_WRITE2,
    OP_GCMD,
    OP_MMIO_READ,
    OP_TRANSLATE,
    OP_TRANSLATE2,
    OP_INTERRUPT,
    OP_RAM_BYTES,
    OP_RAM_BYTES2,
    OP_RAM_POINTER,
    OP_RAM_POINTER2,
    OP_QUEUE_DESC,
    OP_PAGE_REQUEST,
    OP_SAVE_LOAD,
    OP_RESET_OR_RAW,
    OP_IQT,
};

/* Registers a guest programs; FRCDs are added by index. */
static const uint16_t reg_table[] = {
    DMAR_VER_REG, DMAR_CAP_REG, DMAR_ECAP_REG, DMAR_GCMD_REG, DMAR_GSTS_REG,
    DMAR_RTADDR_REG, DMAR_CCMD_REG, DMAR_CCMD_REG + 4, DMAR_FSTS_REG,
    DMAR_FECTL_REG, DMAR_FEDATA_REG, DMAR_FEADDR_REG, DMAR_FEUADDR_REG,
    DMAR_PMEN_REG, DMAR_PLMBASE_REG, DMAR_PLMLIMIT_REG, DMAR_PHMBASE_REG,
    DMAR_PHMLIMIT_REG, DMAR_IQH_REG, DMAR_IQT_REG, DMAR_IQA_REG, DMAR_ICS_REG,
    DMAR_IECTL_REG, DMAR_IEDATA_REG, DMAR_IEADDR_REG, DMAR_IEUADDR_REG,
    DMAR_IQERCD_REG, DMAR_IRTA_REG, DMAR_PQH_REG, DMAR_PQT_REG, DMAR_PQA_REG,
    DMAR_PRS_REG, DMAR_PECTL_REG, DMAR_PEDATA_REG, DMAR_PEADDR_REG,
    DMAR_PEUADDR_REG, VTD_IVA_OFFSET, VTD_IOTLB_OFFSET, VTD_IOTLB_OFFSET + 4,
    VTD_FRCD_OFFSET, VTD_FRCD_OFFSET + 8, VTD_FRCD_OFFSET + 12,
};

static const uint32_t gcmd_bits[] = {
    VTD_GCMD_TE, VTD_GCMD_SRTP, VTD_GCMD_SFL, VTD_GCMD_EAFL, VTD_GCMD_WBF,
    VTD_GCMD_QIE, VTD_GCMD_IRE, VTD_GCMD_SIRTP, VTD_GCMD_CFI,
};

/* A guest-physical pointer into RAM keeping v's low 12 bits (flags). */
static uint64_t ram_pointer(const Fuzz *f, uint64_t v)
{
    uint64_t pages = f->ram.size >> 12;

    return (((v >> 12) % pages) << 12) | (v & 0xfff);
}

/* Run one register write and check the work it did. */
static void mmio_write(Fuzz *f, uint64_t off, uint64_t val, unsigned size)
{
    uint64_t before = fuzz_descriptors(f->s);
    uint32_t entries = f->s->iq_entries;

    vtd_mmio_write(f->s, off, val, size);
    fuzz_check_queue_work(f->s, before, entries, "a register write");
}

/*
 * Operands: u16 selector, u8 size/flags, u64 value. Selector bit 15: a raw
 * offset (any alignment, possibly outside the window); otherwise a table
 * register, FRCDs indexed by bits 14:8. Flags bit 3: fold the value into a
 * RAM pointer (RTADDR, IQA, IRTA, PQA, status addresses...).
 */
static void op_mmio_write(Fuzz *f)
{
    static const unsigned sizes[8] = { 4, 8, 4, 8, 1, 2, 4, 8 };
    uint16_t sel = fin_u16(&f->in);
    uint8_t flags = fin_u8(&f->in);
    uint64_t val = fin_u64(&f->in);
    uint64_t off;

    if (sel & 0x8000) {
        off = sel & 0x3fff;
    } else {
        off = reg_table[(sel & 0xff) % G_N_ELEMENTS(reg_table)];
        if (off >= VTD_FRCD_OFFSET) {
            off += 16 * ((sel >> 8) & 0x7f);
        }
    }
    if (flags & 0x08) {
        val = ram_pointer(f, val);
    }
    mmio_write(f, off, val, sizes[flags & 7]);
}

/* A command issued as a driver does (GSTS & 0x96FFFFFF | bit), or raw. */
static void op_gcmd(Fuzz *f)
{
    uint8_t b = fin_u8(&f->in);
    uint32_t cmd;

    if (b & 0x40) {
        cmd = fin_u32(&f->in);
    } else {
        uint32_t bit = (uint32_t)gcmd_bits[(b & 0x3f) % G_N_ELEMENTS(gcmd_bits)];

        cmd = (uint32_t)vtd_mmio_read(f->s, DMAR_GSTS_REG, 4) & 0x96ffffffu;
        cmd = (b & 0x80) ? (cmd & ~bit) : (cmd | bit);
    }
    mmio_write(f, DMAR_GCMD_REG, cmd, 4);
}

static void op_mmio_read(Fuzz *f)
{
    uint16_t off = fin_u16(&f->in) & 0x3fff;
    uint8_t size = fin_u8(&f->in);

    (void)vtd_mmio_read(f->s, off, 1u << (size & 3));
}

static bool same_result(const IommuResult *a, const IommuResult *b)
{
    return a->ok == b->ok && (!a->ok ||
           (a->out_addr == b->out_addr && a->page_mask == b->page_mask &&
            a->perm == b->perm && a->is_interrupt == b->is_interrupt));
}

static void check_translation(Fuzz *f, const IommuRequest *req,
                              const IommuResult *res)
{
    uint64_t haw = f->s->haw_mask;
    unsigned want = req->access & (IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE);

    if (!res->ok || res->is_interrupt) {
        return;
    }
    /* An ATS completion with R=W=0 succeeds without a translation. */
    if (req->at == IOMMU_AT_TRANSLATION_REQ && !res->perm) {
        return;
    }
    if (res->page_mask < 0xfff || (res->page_mask & (res->page_mask + 1))) {
        fuzz_fail("translation of %#" G_GINT64_MODIFIER "x: page mask %#"
                  G_GINT64_MODIFIER "x is not a page size", req->addr,
                  res->page_mask);
    }
    /* With remapping off DMA goes through untouched, whatever its address. */
    if (!f->s->dmar_enabled) {
        return;
    }
    if ((res->out_addr & 0xfff) != (req->addr & 0xfff)) {
        fuzz_fail("translation of %#" G_GINT64_MODIFIER "x changed the page "
                  "offset: %#" G_GINT64_MODIFIER "x", req->addr, res->out_addr);
    }
    if ((res->out_addr | res->page_mask) > haw) {
        fuzz_fail("sid %#x pasid %#x addr %#" G_GINT64_MODIFIER "x at %d "
                  "translated to %#" G_GINT64_MODIFIER "x (page mask %#"
                  G_GINT64_MODIFIER "x), beyond the host address width",
                  req->sid, req->pasid, req->addr, req->at, res->out_addr,
                  res->page_mask);
    }
    if (req->at == IOMMU_AT_UNTRANSLATED && !req->zlr &&
        (res->perm & want) != want) {
        fuzz_fail("sid %#x addr %#" G_GINT64_MODIFIER "x: access %#x "
                  "succeeded with permissions %#x", req->sid, req->addr,
                  req->access, res->perm);
    }
}

/*
 * Operands: u16 sid, u32 pasid (bit 31: present; bit 30: keep all bits),
 * u64 addr, u8 flags (access 2:0, priv 3, AT 5:4, no-write 6, zlr 7).
 */
static void op_translate(Fuzz *f)
{
    IommuRequest req = { 0 };
    IommuResult r1 = { 0 }, r2 = { 0 };
    uint32_t pasid;
    uint8_t flags;

    req.sid = fin_u16(&f->in);
    pasid = fin_u32(&f->in);
    req.addr = fin_u64(&f->in);
    flags = fin_u8(&f->in);
    if (!(pasid & 0x80000000u)) {
        req.pasid = IOMMU_NO_PASID;
    } else {
        req.pasid = (pasid & 0x40000000u) ? (pasid & 0x3fffffffu)
                                          : (pasid & 0xfffffu);
    }
    req.access = flags & 7;
    req.priv = flags & 0x08;
    req.at = (IommuAddrType)(((flags >> 4) & 3) % 3);
    req.no_write = flags & 0x40;
    req.zlr = flags & 0x80;

    vtd_translate(f->s, &req, &r1);
    if (f->trace) {
        fprintf(stderr, "translate sid %#x pasid %#x addr %#" G_GINT64_MODIFIER
                "x access %#x at %d -> ok %d out %#" G_GINT64_MODIFIER "x "
                "mask %#" G_GINT64_MODIFIER "x perm %#x fault %#x\n", req.sid,
                req.pasid, req.addr, req.access, req.at, r1.ok, r1.out_addr,
                r1.page_mask, r1.perm, r1.fault_reason);
    }
    check_translation(f, &req, &r1);
    /* Nothing changed in between: a cached answer must equal a walked one. */
    vtd_translate(f->s, &req, &r2);
    check_translation(f, &req, &r2);
    if (!same_result(&r1, &r2)) {
        fuzz_fail("sid %#x pasid %#x addr %#" G_GINT64_MODIFIER "x: repeat "
                  "gave ok=%d out=%#" G_GINT64_MODIFIER "x mask=%#"
                  G_GINT64_MODIFIER "x perm=%#x, first ok=%d out=%#"
                  G_GINT64_MODIFIER "x mask=%#" G_GINT64_MODIFIER "x perm=%#x",
                  req.sid, req.pasid, req.addr, r2.ok, r2.out_addr,
                  r2.page_mask, r2.perm, r1.ok, r1.out_addr, r1.page_mask,
                  r1.perm);
    }
}

/* Operands: u16 sid, u8 flags (bit 0: raw 64-bit address), u64 addr, u32 data. */
static void op_interrupt(Fuzz *f)
{
    uint16_t sid = fin_u16(&f->in);
    uint8_t flags = fin_u8(&f->in);
    uint64_t addr = fin_u64(&f->in);
    uint32_t data = fin_u32(&f->in);
    uint64_t out_addr;
    uint32_t out_data;
    bool remapped;

    if (!(flags & 1)) {
        addr = 0xfee00000ULL | (addr & 0xfffff);
    }
    vtd_interrupt_ex(f->s, sid, addr, data, &out_addr, &out_data, &remapped);
}

/* Operands: u32 offset (folded into RAM), u8 length (0..64), the bytes. */
static void op_ram_bytes(Fuzz *f)
{
    uint64_t off = fin_u32(&f->in) % f->ram.size;
    size_t len = fin_u8(&f->in) % 65;

    len = MIN(len, f->ram.size - off);
    fin_copy(&f->in, f->ram.buf + off, len);
}

/*
 * A table entry pointing into RAM. Operands: u32 entry offset (folded into
 * RAM, 8-byte aligned), u64 value: bits 63:52 and 11:0 kept as flags, the
 * address folded into RAM.
 */
static void op_ram_pointer(Fuzz *f)
{
    uint64_t off = (fin_u32(&f->in) % f->ram.size) & ~7ULL;
    uint64_t v = fin_u64(&f->in);
    uint64_t ptr = ram_pointer(f, v) & ~0xfffULL;

    fuzz_ram_w64(&f->ram, off, (v & 0xfff0000000000fffULL) | ptr);
}

/*
 * Write a descriptor at the tail of the queue IQA describes and advance
 * IQT past it. Operands: u8 flags (bit 0: fold the wait descriptor's status
 * address into RAM; bit 1: leave IQT alone), then 16 or 32 descriptor bytes.
 */
static void op_queue_desc(Fuzz *f)
{
    uint8_t flags = fin_u8(&f->in);
    uint64_t iqa = vtd_mmio_read(f->s, DMAR_IQA_REG, 8);
    bool dw = iqa & VTD_IQA_DW;
    unsigned dsz = dw ? 32 : 16;
    uint64_t bytes = (uint64_t)(dw ? 128 : 256) * dsz << VTD_IQA_QS(iqa);
    uint64_t base = iqa & VTD_IQA_BASE_MASK;
    uint64_t tail = vtd_mmio_read(f->s, DMAR_IQT_REG, 8) & VTD_IQ_PTR_MASK;
    uint64_t desc[4];

    fin_copy(&f->in, desc, dsz);
    if (flags & 1) {
        desc[1] = GUINT64_TO_LE(ram_pointer(f, GUINT64_FROM_LE(desc[1])) & ~3ULL);
    }
    tail %= bytes;
    if (fuzz_ram_ok(&f->ram, base + tail, dsz)) {
        memcpy(f->ram.buf + base + tail, desc, dsz);
    }
    if (!(flags & 2)) {
        mmio_write(f, DMAR_IQT_REG, (tail + dsz) % bytes, 8);
    }
}

/* IQT = IQH + k descriptors: submit what is already in the queue. */
static void op_iqt(Fuzz *f)
{
    uint8_t k = fin_u8(&f->in);
    uint64_t iqa = vtd_mmio_read(f->s, DMAR_IQA_REG, 8);
    bool dw = iqa & VTD_IQA_DW;
    unsigned dsz = dw ? 32 : 16;
    uint64_t bytes = (uint64_t)(dw ? 128 : 256) * dsz << VTD_IQA_QS(iqa);
    uint64_t head = vtd_mmio_read(f->s, DMAR_IQH_REG, 8) & VTD_IQ_PTR_MASK;

    mmio_write(f, DMAR_IQT_REG, (head + (uint64_t)k * dsz) % bytes, 8);
}

/*
 * Operands: u16 sid, u32 pasid, u64 addr, u8 flags (pasid present, read,
 * write, exec, priv, last-in-group), u16 group index.
 */
static void op_page_request(Fuzz *f)
{
    uint16_t sid = fin_u16(&f->in);
    uint32_t pasid = fin_u32(&f->in) & 0xfffff;
    uint64_t addr = fin_u64(&f->in);
    uint8_t fl = fin_u8(&f->in);
    uint16_t prgi = fin_u16(&f->in) & 0x1ff;

    vtd_page_request(f->s, sid, pasid, fl & 1, addr, fl & 2, fl & 4, fl & 8,
                     fl & 16, fl & 32, prgi);
}

/*
 * Save the state and load it back: unchanged it must load and save to the
 * same bytes; with a byte flipped it must load cleanly or be refused.
 * Operands: u8 flip (0: none), u16 position.
 */
static void op_save_load(Fuzz *f)
{
    uint8_t flip = fin_u8(&f->in);
    uint16_t pos = fin_u16(&f->in);
    g_autoptr(GByteArray) a = g_byte_array_new();
    g_autoptr(GByteArray) b = g_byte_array_new();
    GError *err = NULL;

    if (!vtd_state_save(f->s, a)) {
        fuzz_fail("vtd_state_save failed");
    }
    if (flip && a->len) {
        a->data[pos % a->len] ^= flip;
        if (!vtd_state_load(f->s, a->data, a->len, &err)) {
            g_clear_error(&err);
        }
        return;
    }
    if (!vtd_state_load(f->s, a->data, a->len, &err)) {
        fuzz_fail("a state just saved does not load: %s", err->message);
    }
    if (!vtd_state_save(f->s, b)) {
        fuzz_fail("vtd_state_save failed after a load");
    }
    if (a->len != b->len || memcmp(a->data, b->data, a->len)) {
        fuzz_fail("save/load/save is not stable (%u vs %u bytes)", a->len,
                  b->len);
    }
}

static void run_op(Fuzz *f, uint8_t op)
{
    uint64_t before = fuzz_descriptors(f->s);
    uint32_t entries = f->s->iq_entries;

    switch (op & 0x0f) {
    case OP_MMIO_WRITE:
    case OP_MMIO_WRITE2:
        op_mmio_write(f);
        break;
    case OP_GCMD:
        op_gcmd(f);
        break;
    case OP_MMIO_READ:
        op_mmio_read(f);
        break;
    case OP_TRANSLATE:
    case OP_TRANSLATE2:
        op_translate(f);
        break;
    case OP_INTERRUPT:
        op_interrupt(f);
        break;
    case OP_RAM_BYTES:
    case OP_RAM_BYTES2:
        op_ram_bytes(f);
        break;
    case OP_RAM_POINTER:
    case OP_RAM_POINTER2:
        op_ram_pointer(f);
        break;
    case OP_QUEUE_DESC:
        op_queue_desc(f);
        break;
    case OP_PAGE_REQUEST:
        op_page_request(f);
        break;
    case OP_SAVE_LOAD:
        op_save_load(f);
        break;
    case OP_RESET_OR_RAW:
        /* Rare on purpose: a reset throws away everything built so far. */
        if ((op >> 4) == 0xf) {
            vtd_reset(f->s);
        } else {
            mmio_write(f, fin_u16(&f->in) & 0x3fff, fin_u64(&f->in),
                       1u << (op >> 4 & 3));
        }
        break;
    case OP_IQT:
        op_iqt(f);
        break;
    }
    fuzz_check_ident(f->s, &f->ident, "an operation");
    fuzz_check_queue_work(f->s, before, entries, "an operation");
    fuzz_check_iqh(f->s);
}

/*
 * Harness byte: bits 1:0 RAM size - 1 in MiB; bit 2: the top 64 KiB of
 * RAM refuse writes; bit 3: device-TLB invalidations of odd sids time out;
 * bit 4: no MSI sink; bit 5: no device-TLB / page-response sinks.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fuzz f = { .in = { data, size, 0 }, .trace = getenv("FUZZ_TRACE") };
    uint8_t cfgb[4], h;
    VtdConfig cfg;

    fin_copy(&f.in, cfgb, sizeof(cfgb));
    h = fin_u8(&f.in);
    fuzz_config(&cfg, cfgb);
    fuzz_ram_init(&f.ram, ((h & 3) + 1) * FUZZ_MiB, h & 4);
    f.sinks.devtlb_times_out = h & 8;
    f.s = fuzz_unit_new(&cfg, &f.ram, &f.sinks, !(h & 0x10), !(h & 0x20));
    fuzz_ident_read(f.s, &f.ident);
    if (f.ident.cap != f.s->cap || f.ident.ecap != f.s->ecap) {
        fuzz_fail("CAP/ECAP read back differ from the composed values");
    }

    for (unsigned n = 0; n < MAX_OPS && fin_more(&f.in); n++) {
        run_op(&f, fin_u8(&f.in));
    }

    vtd_free(f.s);
    g_free(f.ram.buf);
    return 0;
}
