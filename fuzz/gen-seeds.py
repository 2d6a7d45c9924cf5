#!/usr/bin/env python3
"""Write the hand-made seed inputs of fuzz/corpus/<target>/seed-*.

Each seed is a small, meaningful setup in the target's input format (see the
comment at the top of each fuzz-*.c and docs/fuzzing.md): valid legacy and
scalable translations, a wrapped queue, known-bad descriptors, interrupt
remapping, page requests. Regression inputs (crash-*, found by fuzzing) sit
next to them and are not touched here.

Usage: fuzz/gen-seeds.py [CORPUS_DIR]   (default: the corpus/ beside this file)
"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus")


def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- VT-d register offsets and bits (VT-d spec, as the fuzz targets) ----
GCMD, GSTS, RTADDR, CCMD, FSTS, FECTL = 0x18, 0x1c, 0x20, 0x28, 0x34, 0x38
FEDATA, FEADDR = 0x3c, 0x40
IQH, IQT, IQA, ICS, IECTL, IRTA = 0x80, 0x88, 0x90, 0x9c, 0xa0, 0xb8
PQH, PQT, PQA, PRS, PECTL = 0xc0, 0xc8, 0xd0, 0xdc, 0xe0
IVA, IOTLB, FRCD = 0xf0, 0xf8, 0x220
# Index into fuzz-vtd-unit.c's gcmd_bits[].
TE, SRTP, SFL, EAFL, WBF, QIE, IRE, SIRTP, CFI = range(9)


# ---- fuzz-vtd-unit operations ----
class Unit:
    def __init__(self, cfg=(0, 1, 0, 0), harness=0):
        self.b = bytes(cfg) + u8(harness)

    def w(self, off, val, size=8):      # raw-offset MMIO write
        code = {4: 0, 8: 1, 1: 4, 2: 5}[size]
        self.b += u8(0) + u16(0x8000 | off) + u8(code) + u64(val)
        return self

    def gcmd(self, bit, clear=False):
        self.b += u8(2) + u8(bit | (0x80 if clear else 0))
        return self

    def r(self, off, size=4):
        self.b += u8(3) + u16(off) + u8({1: 0, 2: 1, 4: 2, 8: 3}[size])
        return self

    def xlate(self, sid, addr, access=1, pasid=None, priv=False, at=0,
              nw=False, zlr=False):
        p = 0 if pasid is None else (0x80000000 | pasid)
        fl = access | (8 if priv else 0) | (at << 4) | (0x40 if nw else 0) | \
            (0x80 if zlr else 0)
        self.b += u8(4) + u16(sid) + u32(p) + u64(addr) + u8(fl)
        return self

    def intr(self, sid, addr, data, raw=False):
        self.b += u8(6) + u16(sid) + u8(1 if raw else 0) + u64(addr) + u32(data)
        return self

    def ram(self, off, data):
        for i in range(0, len(data), 64):
            chunk = data[i:i + 64]
            self.b += u8(7) + u32(off + i) + u8(len(chunk)) + chunk
        return self

    def q(self, off, *qwords):
        return self.ram(off, b"".join(u64(v) for v in qwords))

    def desc(self, *qwords, fold=False, no_tail=False, width=16):
        data = b"".join(u64(v) for v in qwords).ljust(width, b"\0")
        self.b += u8(11) + u8((1 if fold else 0) | (2 if no_tail else 0)) + data
        return self

    def iqt(self, k):
        self.b += u8(15) + u8(k)
        return self

    def prq(self, sid, addr, pasid=None, r=True, w=False, lpig=True, prgi=1):
        fl = (1 if pasid is not None else 0) | (2 if r else 0) | \
            (4 if w else 0) | (32 if lpig else 0)
        self.b += u8(12) + u16(sid) + u32(pasid or 0) + u64(addr) + u8(fl) + \
            u16(prgi)
        return self

    def save_load(self, flip=0, pos=0):
        self.b += u8(13) + u8(flip) + u16(pos)
        return self

    def reset(self):
        self.b += u8(0xfe)
        return self


SID = 0x0010            # 00:02.0
ROOT, CTX, PT = 0x10000, 0x11000, 0x12000
TARGET = 0x80000


def legacy_tables(u, levels=3, tt=0, fpd=False):
    """Root -> context (sid 00:02.0, DID 1) -> SS table mapping 0x1000."""
    aw = {3: 1, 4: 2}[levels]
    u.q(ROOT, CTX | 1, 0)
    u.q(CTX + 16 * (SID & 0xff), PT | (tt << 2) | (2 if fpd else 0) | 1,
        aw | (1 << 8))
    for lvl in range(levels, 1, -1):
        table = PT + 0x1000 * (levels - lvl)
        u.q(table, (table + 0x1000) | 3)
    leaf = PT + 0x1000 * (levels - 1)
    u.q(leaf + 8, TARGET | 3)               # IOVA 0x1000 -> TARGET, R/W
    u.q(leaf + 16, (TARGET + 0x1000) | 1)   # IOVA 0x2000 read-only
    return u


def enable_legacy(u, ttm=0):
    u.w(RTADDR, ROOT | (ttm << 10)).gcmd(SRTP).gcmd(TE)
    return u


def unit_seeds():
    # Legacy, 3- and 4-level, hits, misses, a write to a read-only page.
    u = legacy_tables(Unit())
    enable_legacy(u).xlate(SID, 0x1234).xlate(SID, 0x1234, 3) \
        .xlate(SID, 0x2000, 2).xlate(SID, 0x5000).xlate(0x0018, 0x1000) \
        .r(FSTS).r(FRCD + 8, 8).r(FRCD + 12).w(FSTS, 0xffffffff, 4)
    write("vtd-unit", "legacy-3level", u.b)

    u = legacy_tables(Unit(), levels=4)
    enable_legacy(u).xlate(SID, 0x1000, 3).xlate(SID, 0x1ff000)
    write("vtd-unit", "legacy-4level", u.b)

    # Pass-through (TT=10b) and translation requests (ATS).
    u = legacy_tables(Unit((0x40, 1, 0, 0)), tt=2)
    enable_legacy(u).xlate(SID, 0x123456).xlate(SID, 0x1000, at=1)
    write("vtd-unit", "legacy-passthrough", u.b)

    u = legacy_tables(Unit((0x40, 1, 0, 0)), tt=1)
    enable_legacy(u).xlate(SID, 0x1000, at=1).xlate(SID, TARGET, at=2) \
        .xlate(SID, 0x2000, at=1, nw=True)
    write("vtd-unit", "legacy-ats", u.b)

    # Register invalidation: CCMD global, IOTLB domain, PSI.
    u = legacy_tables(Unit())
    enable_legacy(u).xlate(SID, 0x1000) \
        .q(PT + 0x2000 + 8, (TARGET + 0x3000) | 3) \
        .w(CCMD, (1 << 63) | (1 << 61)) \
        .w(IOTLB, (1 << 63) | (2 << 60) | (1 << 32)) \
        .xlate(SID, 0x1000) \
        .w(IVA, 0x1000).w(IOTLB, (1 << 63) | (3 << 60) | (1 << 32)) \
        .xlate(SID, 0x1000).r(IOTLB, 8)
    write("vtd-unit", "legacy-reg-inval", u.b)

    # Faults: not-present root, reserved bits, fault event with FECTL unmasked.
    u = Unit((0, 1, 0, 0xe0))   # nfr 256
    u.q(ROOT, CTX | 1 | 0x10, 0)
    u.w(FECTL, 0, 4).w(FEDATA, 0x41, 4).w(FEADDR, 0xfee00000, 4)
    enable_legacy(u)
    for sid in range(0, 0x40, 8):
        u.xlate(sid, 0x1000 * sid)
    u.r(FSTS).w(FRCD + 12, 0x80000000, 4).r(FSTS)
    write("vtd-unit", "legacy-faults", u.b)

    # FPD: faults suppressed.
    u = legacy_tables(Unit(), fpd=True)
    enable_legacy(u).xlate(SID, 0x9000).r(FSTS)
    write("vtd-unit", "legacy-fpd", u.b)

    # Abort-DMA and reserved TTM.
    u = Unit((0x01, 0x81, 0, 0))
    enable_legacy(u, ttm=3).xlate(SID, 0x1000)
    u.w(RTADDR, ROOT | (2 << 10)).gcmd(SRTP).xlate(SID, 0x1000)
    write("vtd-unit", "ttm-abort-reserved", u.b)

    # Scalable: FS-only, SS-only, nested and PT PASID entries.
    cfg = (0x0f, 0x51, 0x33, 0)  # scalable, flts, ssts, nest; 48-bit; pasid 20
    for name, pgtt in (("fs", 1), ("ss", 2), ("nested", 3), ("pt", 4)):
        u = Unit(cfg)
        pdir, ptab, fs, ss = 0x13000, 0x14000, 0x20000, 0x30000
        u.q(ROOT, CTX | 1, 0)
        u.q(CTX + 32 * (SID & 0x7f), pdir | (1 << 3) | 1, 0, 0, 0)
        u.q(pdir, ptab | 1)
        # PASID 0 (requests without PASID) and PASID 1.
        for p in (0, 1):
            qw0 = 1 | (2 << 2) | (pgtt << 6) | ss
            qw2 = fs | 1            # SRE
            qw1 = 5 + p | ((1 << 23) if p else 0)   # PASID 1: PWSNP
            u.q(ptab + 64 * p, qw0, qw1, qw2, 0, 0, 0, 0, 0)
        # FS 4-level: 0x1000 -> TARGET (user, RW, A/D already set).
        for i in range(3):
            u.q(fs + 0x1000 * i, (fs + 0x1000 * (i + 1)) | 0x27)
        u.q(fs + 0x3000 + 8, TARGET | 0x67)
        u.q(fs + 0x3000 + 16, (TARGET + 0x1000) | 7)  # A/D left to the walk
        for i in range(3):
            u.q(ss + 0x1000 * i, (ss + 0x1000 * (i + 1)) | 3)
        u.q(ss + 0x3000 + 8, TARGET | 3)
        for i in range(4):      # nested: FS tables' GPAs mapped 1:1 by SS
            u.q(ss + 0x3000 + 8 * ((fs >> 12) + i), (fs + 0x1000 * i) | 3)
        if pgtt == 3:           # and the FS leaves' GPAs too
            for a in (TARGET, TARGET + 0x1000):
                u.q(ss + 0x3000 + 8 * (a >> 12), a | 3)
        enable_legacy(u, ttm=1)
        u.xlate(SID, 0x1000).xlate(SID, 0x1000, 3, pasid=1) \
            .xlate(SID, 0x1000, 1, pasid=1, priv=True) \
            .xlate(SID, 0x1000, 5, pasid=2).xlate(SID, 0x7000, pasid=1) \
            .xlate(SID, 0x2000, 3, pasid=1).xlate(SID, 0x2000, 3)
        write("vtd-unit", "scalable-" + name, u.b)

    # Queued invalidation, 128-bit: every legacy type plus a wait with IF.
    u = legacy_tables(Unit((0x40, 1, 0, 0)))
    enable_legacy(u)
    u.w(IQA, 0x40000, 8).gcmd(QIE).w(IECTL, 0, 4)
    u.desc(1 | (1 << 4)).desc(2 | (1 << 4)).desc(2 | (3 << 4) | (1 << 16),
                                                0x1000)
    u.desc(3 | (SID << 32), 0x1000).desc(4).desc(4 | (1 << 4) | (5 << 32))
    u.desc(5 | (1 << 4) | (1 << 5) | (0x1234 << 32), 0x50000)
    u.desc(0x7 | 0xe00).r(FSTS).r(0xb0, 8).w(FSTS, 0xffffffff, 4)
    u.xlate(SID, 0x1000)
    write("vtd-unit", "qi-legacy", u.b)

    # Wrapped queue: head near the end, then descriptors that wrap.
    u = Unit()
    u.w(IQA, 0x40000, 8).gcmd(QIE)
    for _ in range(250):
        u.desc(5 | (1 << 5), 0x50000)
    for _ in range(10):
        u.desc(2 | (1 << 4))
    u.desc(5 | (1 << 5) | (7 << 32), 0x50000).gcmd(QIE, clear=True)
    write("vtd-unit", "qi-wrap", u.b)

    # Queue errors: bad tail, bad type, reserved bits, then recovery.
    u = Unit()
    u.w(IQA, 0x40000, 8).gcmd(QIE)
    u.w(IQT, 0x1008, 8).r(FSTS).w(FSTS, 0x10, 4)
    u.w(IQT, 0, 8).desc(0x0f).r(0xb0, 8).w(FSTS, 0x10, 4)
    u.desc(2 | (1 << 4) | (1 << 40)).w(FSTS, 0x10, 4).iqt(1)
    write("vtd-unit", "qi-errors", u.b)

    # Scalable 256-bit queue with PASID types and a device-TLB time-out.
    u = Unit((0x47, 0x51, 0x03, 0), harness=0x08)
    enable_legacy(u, ttm=1)
    u.w(IQA, 0x40000 | (1 << 11), 8).gcmd(QIE)
    for qw0, qw1 in ((6 | (2 << 4) | (1 << 16) | (1 << 32), 0),
                     (6 | (3 << 4) | (1 << 16) | (1 << 32), 0x1000),
                     (7 | (1 << 4) | (1 << 16), 0),
                     (7 | (3 << 4) | (1 << 16) | (5 << 32), 0),
                     (8 | (0x11 << 16) | (1 << 32), 0x1000),
                     (3 | (0x11 << 32), 0x1000),
                     (5 | (1 << 5), 0x50000),
                     (9 | (SID << 16) | (1 << 32), 0x1 << 32)):
        u.desc(qw0, qw1, width=32)
    u.r(FSTS).r(0xb0, 8).w(FSTS, 0x70, 4).iqt(1)
    write("vtd-unit", "qi-scalable", u.b)

    # Interrupt remapping: IRT with a few entries, remappable and compat.
    u = Unit((0, 0x09, 0, 0))   # 48-bit, eim
    irt = 0x60000
    u.q(irt + 16 * 0, 1 | (0x30 << 16) | (1 << 32), SID | (1 << 18))
    u.q(irt + 16 * 1, 1 | (1 << 15) | (0x31 << 16), 0)   # posted
    u.q(irt + 16 * 2, 0, 0)
    u.w(IRTA, irt | (1 << 11) | 3, 8).gcmd(SIRTP).gcmd(IRE)
    u.intr(SID, 0xfee00010, 0).intr(SID, 0xfee00000 | (1 << 4) | (1 << 3), 0)
    u.intr(SID, 0xfee00010 | (2 << 5), 0).intr(SID, 0xfee00000, 0x41)
    u.intr(SID, 0xfee00010 | (200 << 5), 0).gcmd(CFI).intr(SID, 0xfee00000, 0x41)
    u.intr(SID, 0x1234, 0, raw=True).r(FSTS)
    write("vtd-unit", "ir", u.b)

    # Page requests into a page request queue; overflow; responses.
    u = Unit((0xc7, 0x51, 0x03, 0))
    enable_legacy(u, ttm=1)
    u.w(PQA, 0x70000, 8).w(PECTL, 0, 4)
    for i in range(12):
        u.prq(SID, 0x1000 * i, pasid=1 if i & 1 else None, prgi=i)
    u.r(PQT, 8).w(PQH, 0x40, 8).r(PRS).w(PRS, 3, 4)
    u.prq(SID, 0x5000, pasid=3)
    write("vtd-unit", "prq", u.b)

    # Save/load round trips and corrupt blobs, after some state exists.
    u = legacy_tables(Unit())
    enable_legacy(u).w(IQA, 0x40000, 8).gcmd(QIE).desc(5 | (1 << 5), 0x50000)
    u.save_load().save_load(0x01, 3).save_load(0x80, 40).save_load()
    u.reset().save_load()
    write("vtd-unit", "save-load", u.b)

    # Odd register accesses: sizes, misaligned, out of window, RO registers.
    u = Unit((0, 1, 0, 0x20))   # nfr 1
    for off in (0, 8, 0x10, 0x1c, 0x21, 0x7fe, 0x1ffc, 0x2000, 0x3ff8):
        u.w(off, 0xffffffffffffffff, 8).w(off, 0xffffffff, 4).r(off, 8)
    u.w(GCMD, 0xffffffff, 4).w(GCMD, 0, 4).w(PQT, 0xffffffff, 8)
    u.w(FRCD + 8, 0xffffffffffffffff, 8).w(FRCD + 16, 1, 4)
    write("vtd-unit", "odd-registers", u.b)

    # Caching mode with a small IOTLB: evictions and not-present caching.
    u = legacy_tables(Unit((0x10, 1, 0, 0x10)))
    enable_legacy(u)
    for a in range(0, 0x20000, 0x1000):
        u.xlate(SID, a)
    write("vtd-unit", "caching-mode-small-iotlb", u.b)


# ---- fuzz-qi ----
def qi(b0, k, batches):
    b = u8(b0) + u8(k)
    width = 32 if b0 & 2 else 16
    for ctl, descs, raw_tail in batches:
        b += u8(ctl | len(descs) | (0x80 if raw_tail is not None else 0))
        for d in descs:
            b += b"".join(u64(v) for v in d).ljust(width, b"\0")
        if raw_tail is not None:
            b += u32(raw_tail)
    return b


WAIT = (5 | (1 << 5), 0x3000)
WAIT_IF = (5 | (1 << 4) | (1 << 5) | (0x99 << 32), 0x3008)


def qi_seeds():
    legacy = [(1 | (1 << 4), 0), (1 | (3 << 4) | (1 << 16) | (SID << 32), 0),
              (2 | (1 << 4), 0), (2 | (2 << 4) | (1 << 16), 0),
              (2 | (3 << 4) | (1 << 16), 0x1000 | 4), (4, 0),
              (4 | (1 << 4) | (3 << 27) | (8 << 32), 0), WAIT_IF]
    write("qi", "legacy", qi(0x80, 0, [(0, legacy, None)]))
    write("qi", "legacy-wrap", qi(0x00, 250, [(0, legacy, None),
                                              (0, [WAIT] * 20, None)]))
    write("qi", "bad-type", qi(0x00, 3, [(0, [(0xf, 0), WAIT], None),
                                         (0x40, [WAIT], None)]))
    write("qi", "reserved-bits", qi(0x00, 0, [(0, [(2 | (1 << 4) | (1 << 40),
                                                    0)], None),
                                              (0x40, [], None)]))
    write("qi", "bad-tail", qi(0x00, 0, [(0, [WAIT], 0x1008),
                                         (0x40, [WAIT], None)]))
    write("qi", "width-legacy-dw", qi(0x02, 0, [(0, [WAIT], None)]))
    write("qi", "wait-status-fold", qi(0x20, 0, [(0, [(5 | (1 << 5),
                                                       0x1234567f)], None)]))
    devtlb = [(3 | (SID << 32), 0x1000), (3 | (0x11 << 32), 0x1000 | (1 << 11)),
              (3 | (0x11 << 32), 0xfffffffffffff800), WAIT, WAIT]
    write("qi", "devtlb-timeout", qi(0x50, 0, [(0, devtlb, None),
                                               (0x40, [WAIT], None)]))
    pasid = [(6 | (2 << 4) | (1 << 16) | (1 << 32), 0),
             (6 | (3 << 4) | (1 << 16) | (1 << 32), 0x1000 | 2),
             (7 | (0 << 4) | (1 << 16), 0), (7 | (1 << 4) | (1 << 16), 0),
             (7 | (3 << 4) | (1 << 16), 0),
             (8 | (0x11 << 16) | (1 << 32), 0x1000),
             (8 | (0x11 << 16) | (1 << 32) | 1, 0),
             (9 | (SID << 16) | (1 << 32) | (1 << 4), 0x1 << 32),
             WAIT_IF]
    write("qi", "scalable-256", qi(0x43, 0, [(0, pasid, None)]))
    write("qi", "scalable-256-wrap", qi(0x43 | 0x04, 200, [(0, pasid * 7, None)]))
    write("qi", "scalable-128-width", qi(0x41, 0, [(0, pasid[:2], None)]))
    write("qi", "big-queue", qi(0x0c, 255, [(0, [WAIT] * 63, None)] * 4))


# ---- fuzz-qtest-line ----
def qtest_seeds():
    ecam = 0xb0000000
    td = ecam + (2 << 15)       # 00:02.0
    edu = ecam + (3 << 15)      # 00:03.0
    bar_td, bar_edu = 0xc0000000, 0xc0100000
    base = 0xfed90000

    def pci_setup():
        return [f"readl 0x{td:x}", f"writel 0x{td + 0x10:x} 0x{bar_td:x}",
                f"writew 0x{td + 4:x} 0x6", f"writel 0x{edu + 0x10:x} "
                f"0x{bar_edu:x}", f"writew 0x{edu + 4:x} 0x6"]

    basic = ["endianness", "readb 0x0", "writeb 0x10 0xff", "readw 0x10",
             "writel 0x20 0xdeadbeef", "readl 0x20", "writeq 0x28 -1",
             "readq 0x28", "read 0x20 0x10", "write 0x40 4 0x01020304",
             "b64read 0x40 4", "b64write 0x50 4 AQIDBA==", "memset 0x60 16 0xab",
             "inb 0xcfc", "outl 0xcf8 0x80000000", "inl 0xcfc", "outw 0x80 1",
             "clock_step 1000", "clock_set 5000", "clock_step",
             "x-vtdnest-help", "x-vtdnest-msi-log", "x-vtdnest-msi-clear"]
    write("qtest-line", "basic", ("\n".join(basic) + "\n").encode())

    bad = ["", "   ", "nosuch", "readb", "readb 0x0 0x1", "readb zz",
           "writeb 0x0", "read 0x0 0", "read 0xffffffffffffffff 2",
           "write 0x0 4 1234", "write 0x0 4 0x123", "write 0x0 4 0xzz",
           "b64write 0x0 4 !!!", "b64write 0x0 4 A", "memset 0x0 -1 0",
           "inb 0x10000", "outb -1 0", "clock_step -5", "clock_set -1",
           "clock_step 9223372036854775807", "x-vtdnest-msi-log extra",
           "readl\t0x0", "readl  0x0\r", "x-vtdnest-", "READB 0x0"]
    write("qtest-line", "bad", ("\n".join(bad) + "\n").encode())
    write("qtest-line", "nul", b"readb 0x0\0junk\nreadb 0x0\n\0\n")

    # Legacy tables in RAM, IOMMU on, iommu-testdev DMA through it.
    root, ctx, pt = 0x10000, 0x11000, 0x12000
    t = pci_setup()
    t += [f"writeq 0x{root:x} 0x{ctx | 1:x}",
          f"writeq 0x{ctx + 16 * 0x10:x} 0x{pt | 1:x}",
          f"writeq 0x{ctx + 16 * 0x10 + 8:x} 0x102",
          f"writeq 0x{pt:x} 0x{(pt + 0x1000) | 3:x}",
          f"writeq 0x{pt + 0x1000:x} 0x{(pt + 0x2000) | 3:x}",
          f"writeq 0x{pt + 0x2000:x} 0x{(pt + 0x3000) | 3:x}",
          f"writeq 0x{pt + 0x3000 + 8:x} 0x80003",
          f"readq 0x{base + 8:x}", f"readq 0x{base + 0x10:x}",
          f"writeq 0x{base + 0x20:x} 0x{root:x}",
          f"writel 0x{base + 0x18:x} 0x40000000", f"readl 0x{base + 0x1c:x}",
          f"writel 0x{base + 0x18:x} 0x80000000", f"readl 0x{base + 0x1c:x}",
          f"writel 0x{bar_td + 4:x} 0x1000", f"writel 0x{bar_td + 8:x} 0",
          f"writel 0x{bar_td + 0x1c:x} 0x80000", f"writel 0x{bar_td + 0x20:x} 0",
          f"writel 0x{bar_td + 0xc:x} 4", f"writel 0x{bar_td + 0x14:x} 1",
          f"readl 0x{bar_td:x}", f"readl 0x{bar_td + 0x10:x}",
          "readl 0x80000",
          f"writel 0x{bar_td + 4:x} 0x9000", f"writel 0x{bar_td + 0x14:x} 1",
          f"readl 0x{bar_td:x}", f"readl 0x{bar_td + 0x10:x}",
          f"readl 0x{base + 0x34:x}", f"readq 0x{base + 0x228:x}",
          # edu DMA from RAM into its buffer through the IOMMU
          f"writeq 0x{bar_edu + 0x80:x} 0x1000",
          f"writeq 0x{bar_edu + 0x88:x} 0x40000",
          f"writeq 0x{bar_edu + 0x90:x} 0x8", f"writeq 0x{bar_edu + 0x98:x} 1",
          "clock_step", f"readl 0x{bar_edu + 0x98:x}",
          f"writel 0x{bar_edu + 0x4:x} 0x12345678", f"readl 0x{bar_edu + 0x4:x}",
          f"writel 0x{bar_edu + 0x8:x} 10", "clock_step",
          f"readl 0x{bar_edu + 0x8:x}", "x-vtdnest-msi-log"]
    write("qtest-line", "legacy-dma", ("\n".join(t) + "\n").encode())

    # Queued invalidation and interrupt remapping over MMIO.
    q = [f"writeq 0x{base + 0x90:x} 0x40000",
         f"writel 0x{base + 0x18:x} 0x04000000",
         "writeq 0x40000 0x15", "writeq 0x40008 0", "writeq 0x40010 0x20000025",
         "writeq 0x40018 0x50000",
         f"writeq 0x{base + 0x88:x} 0x20", f"readq 0x{base + 0x80:x}",
         "readl 0x50000", f"writeq 0x{base + 0x88:x} 0x30",
         f"readl 0x{base + 0x34:x}", f"readq 0x{base + 0xb0:x}",
         "writeq 0x60000 0x300001", "writeq 0x60008 0x40010",
         f"writeq 0x{base + 0xb8:x} 0x60003",
         f"writel 0x{base + 0x18:x} 0x05000000",
         f"writel 0x{base + 0x18:x} 0x06000000",
         f"readl 0x{base + 0x1c:x}", "writel 0xfee00010 0x0",
         "x-vtdnest-msi-log"]
    write("qtest-line", "qi-ir", ("\n".join(pci_setup() + q) + "\n").encode())

    # Scalable mode on the same machine (TTM=01b) with a PASID-tagged DMA.
    s = pci_setup()
    s += [f"writeq 0x{root:x} 0x{ctx | 1:x}",
          f"writeq 0x{ctx + 32 * 0x10:x} 0x{0x13000 | 9:x}",
          "writeq 0x13000 0x14001",
          "writeq 0x14000 0x30089", "writeq 0x14008 0x1",
          "writeq 0x14010 0x20001",
          "writeq 0x20000 0x21027", "writeq 0x21000 0x22027",
          "writeq 0x22000 0x23027", "writeq 0x23008 0x80067",
          f"writeq 0x{base + 0x20:x} 0x{root | 0x400:x}",
          f"writel 0x{base + 0x18:x} 0x40000000",
          f"writel 0x{base + 0x18:x} 0x80000000",
          f"writel 0x{bar_td + 4:x} 0x1000", f"writel 0x{bar_td + 0x1c:x} 0x80000",
          f"writel 0x{bar_td + 0xc:x} 4", f"writel 0x{bar_td + 0x24:x} 0x80000000",
          f"writel 0x{bar_td + 0x14:x} 1", f"readl 0x{bar_td:x}",
          f"readl 0x{bar_td + 0x10:x}", f"readl 0x{base + 0x34:x}"]
    write("qtest-line", "scalable-dma", ("\n".join(s) + "\n").encode())


# ---- fuzz-nesting operations (fuzz/fuzz-nesting.c) ----
G_PT, G_DATA, G_STATUS = 0x23000, 0x80000, 0x50000


class Nest:
    def __init__(self, b0=0, b1=0, devs=(0,)):
        self.b = u8(b0) + u8(b1) + bytes(devs)

    def op(self, code, *parts):
        self.b += u8(code) + b"".join(parts)
        return self

    def w64(self, off, v): return self.op(0, struct.pack("<I", off)[:3], u64(v))
    def template(self, v=0): return self.op(9, u8(v))
    def enable(self, v=0x0b): return self.op(10, u8(v))
    def desc(self, qw0, qw1=0): return self.op(5, u8(0x0f), u64(qw0), u64(qw1))
    def wait(self): return self.op(5, u8(5), u64((1 << 5) | (1 << 32)), u64(G_STATUS))
    def unset(self, d): return self.op(11, u8(d))
    def set(self, d): return self.op(12, u8(d))
    def fail(self, n, err=0): return self.op(13, u8(n | err << 5))
    def save_load(self, flip=0, pos=0): return self.op(14, u8(flip), u16(pos))
    def reset(self): return self.op(0xff)

    def dma(self, dev=0, pasid=0, page=0, write=False, n=8):
        psel = {0: 0, 5: 1, 6: 2}.get(pasid, 3)
        fl = dev | psel << 2 | (0x10 if write else 0) | page << 5
        extra = struct.pack("<I", pasid)[:3] if psel == 3 else b""
        return self.op(7, u8(fl), extra, u8(n - 1))

    # Descriptors (qw0 type bits are set by the harness from the selector).
    def pc(self, g, did, pasid=0):      # PASID-cache: G 0 domain, 1 PASID, 3 all
        return self.desc(7 | g << 4 | did << 16 | pasid << 32)

    def piotlb(self, g, did, pasid, addr=0, am=0):   # G 2 PASID, 3 page
        return self.desc(6 | g << 4 | did << 16 | pasid << 32, addr | am)

    def iotlb(self, g, did=0, addr=0, am=0):        # G 1 global, 2 domain, 3 page
        return self.desc(2 | g << 4 | did << 16, addr | am)

    def ctxc(self, g, did=0, sid=0):
        return self.desc(1 | g << 4 | did << 16 | sid << 32)


def nest_seeds():
    n = Nest().template(0).enable()
    n.dma(write=True).dma(page=1).dma(page=1, write=True)
    n.w64(G_PT, (G_DATA + 0x2000) | 0x67).piotlb(3, 7, 0, 0x40000000).wait()
    n.dma(write=True).pc(3, 0).wait().dma()
    write("nesting", "fs-basic", n.b)

    n = Nest().template(0x0c | 0x20).enable()
    n.pc(1, 9, 5).pc(1, 7, 6).wait().dma(pasid=5, write=True).dma(pasid=6)
    n.piotlb(2, 9, 5).iotlb(2, 7).wait().dma(pasid=5).pc(0, 7).wait()
    n.w64(0x14000 + 64 * 5, 0).pc(1, 9, 5).wait().dma(pasid=5)
    write("nesting", "pasid-attach", n.b)

    n = Nest(0, 0x02, (0x00, 0x25, 0x42)).template(0).enable()
    n.dma(0).dma(1).dma(2).unset(1).dma(1).set(1).dma(1, write=True)
    n.unset(0).unset(1).unset(2).set(2).set(0)
    write("nesting", "three-devices", n.b)

    n = Nest(0x01).template(0x01 | 0x04).enable()
    n.iotlb(2, 7).wait().dma(write=True).dma(pasid=6)
    n.w64(0x33000, (G_DATA + 0x3000) | 3).iotlb(3, 7, 0x40000000).wait().dma()
    write("nesting", "shadow-ss", n.b)

    n = Nest(0x03, 0x01, (0x00, 0x20)).template(0x40).enable(0x1f)
    n.iotlb(1).wait().dma(0, write=True).dma(1).ctxc(1).wait().dma(1)
    write("nesting", "shadow-legacy", n.b)

    n = Nest(0, 0x01, (0x00, 0x24)).template(0x0c).enable()
    n.fail(1).pc(3, 0).wait().dma().fail(2, 1).piotlb(3, 7, 0, 0x40000000).wait()
    n.fail(1, 3).unset(0).set(0).fail(3).unset(1).fail(0).set(1)
    write("nesting", "fail-inject", n.b)

    n = Nest(0x08, 0x00, (0x08,)).template(0x10).enable(0x8b)
    n.dma(page=2).dma(page=2, write=True)
    n.desc(9 | (1 << 4) | (0x100 << 32), 0).wait()
    write("nesting", "prs-faults", n.b)

    n = Nest().template(0x0c).enable().dma().save_load().dma(pasid=6)
    n.save_load(0x40, 3).reset().enable().dma().template(1).enable().pc(3, 0).wait()
    write("nesting", "save-load-reset", n.b)

    n = Nest(0x00, 0x0c | 0x01, (0x01, 0x12)).template(0).enable().dma().dma(1)
    write("nesting", "errata-ro-block", n.b)

    n = Nest(0x80).template(0x80 | 0x0c).enable().dma().dma(pasid=5).dma(pasid=0)
    write("nesting", "rid-pasid", n.b)


if __name__ == "__main__":
    unit_seeds()
    qi_seeds()
    qtest_seeds()
    nest_seeds()
