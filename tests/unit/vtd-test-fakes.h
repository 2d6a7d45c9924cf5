/*
 * Test doubles for the VT-d core unit tests: guest memory over a small array,
 * an MSI sink that records messages, and a recording mock of the cache API
 * (vtd-cache.h) and of the invalidation-queue hooks.
 *
 * The mocks are weak definitions: they keep the translate-side and queue
 * modules out of these test programs (the linker does not pull an archive
 * member for a symbol that is already defined), and should one of those
 * modules be linked in anyway, its real definitions win without a clash.
 *
 * Include this header from exactly one source file per test program.
 */
#ifndef VTD_TEST_FAKES_H
#define VTD_TEST_FAKES_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/intel-iommu/vtd-cache.h"

#define FAKE_RAM_SIZE  0x10000
#define FAKE_MSI_MAX   64

typedef struct FakeMsg {
    uint64_t addr;
    uint32_t data;
} FakeMsg;

typedef struct VtdTestBed {
    uint8_t ram[FAKE_RAM_SIZE];
    FakeMsg msgs[FAKE_MSI_MAX];
    unsigned nmsgs;
    VtdState *s;
} VtdTestBed;

/* What the unit asked of the caches and the queue. */
typedef struct VtdMockLog {
    unsigned init, destroy;
    unsigned ctx_all, ctx_domain, ctx_device;
    unsigned pasid_all, pasid_domain, pasid_pasid;
    unsigned iotlb_all, iotlb_domain, iotlb_page, iotlb_pasid, iotlb_pasid_page;
    unsigned qi_process, qi_enabled;
    /* Arguments of the last call of each selective kind. */
    uint16_t did, sid;
    unsigned fm, am;
    uint64_t addr;
    bool ih;
} VtdMockLog;

static VtdMockLog mock;

__attribute__((weak)) bool vtd_caches_init(VtdState *s) { mock.init++; return true; }
__attribute__((weak)) void vtd_caches_destroy(VtdState *s) { mock.destroy++; }
__attribute__((weak)) void vtd_ctx_cache_invalidate_all(VtdState *s) { mock.ctx_all++; }
__attribute__((weak)) void vtd_ctx_cache_invalidate_domain(VtdState *s, uint16_t did)
{
    mock.ctx_domain++;
    mock.did = did;
}
__attribute__((weak)) void vtd_ctx_cache_invalidate_device(VtdState *s, uint16_t sid,
                                                           unsigned fm)
{
    mock.ctx_device++;
    mock.sid = sid;
    mock.fm = fm;
}
__attribute__((weak)) void vtd_pasid_cache_invalidate_all(VtdState *s) { mock.pasid_all++; }
__attribute__((weak)) void vtd_pasid_cache_invalidate_domain(VtdState *s, uint16_t did)
{
    mock.pasid_domain++;
}
__attribute__((weak)) void vtd_pasid_cache_invalidate_pasid(VtdState *s, uint16_t did,
                                                            uint32_t pasid)
{
    mock.pasid_pasid++;
}
__attribute__((weak)) void vtd_iotlb_invalidate_all(VtdState *s) { mock.iotlb_all++; }
__attribute__((weak)) void vtd_iotlb_invalidate_domain(VtdState *s, uint16_t did)
{
    mock.iotlb_domain++;
    mock.did = did;
}
__attribute__((weak)) void vtd_iotlb_invalidate_page(VtdState *s, uint16_t did,
                                                     uint64_t addr, unsigned am,
                                                     bool ih)
{
    mock.iotlb_page++;
    mock.did = did;
    mock.addr = addr;
    mock.am = am;
    mock.ih = ih;
}
__attribute__((weak)) void vtd_iotlb_invalidate_pasid(VtdState *s, uint16_t did,
                                                      uint32_t pasid)
{
    mock.iotlb_pasid++;
}
__attribute__((weak)) void vtd_iotlb_invalidate_pasid_page(VtdState *s, uint16_t did,
                                                           uint32_t pasid,
                                                           uint64_t addr,
                                                           unsigned am, bool ih)
{
    mock.iotlb_pasid_page++;
}
__attribute__((weak)) unsigned vtd_iotlb_count(const VtdState *s) { return 0; }
__attribute__((weak)) void vtd_qi_process(VtdState *s) { mock.qi_process++; }
__attribute__((weak)) void vtd_qi_enabled(VtdState *s) { mock.qi_enabled++; }

static bool fake_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    VtdTestBed *tb = opaque;

    if (gpa >= FAKE_RAM_SIZE || len > FAKE_RAM_SIZE - gpa) {
        return false;
    }
    memcpy(buf, &tb->ram[gpa], len);
    return true;
}

static bool fake_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
    VtdTestBed *tb = opaque;

    if (gpa >= FAKE_RAM_SIZE || len > FAKE_RAM_SIZE - gpa) {
        return false;
    }
    memcpy(&tb->ram[gpa], buf, len);
    return true;
}

static void fake_deliver(void *opaque, uint64_t addr, uint32_t data)
{
    VtdTestBed *tb = opaque;

    if (tb->nmsgs < FAKE_MSI_MAX) {
        tb->msgs[tb->nmsgs].addr = addr;
        tb->msgs[tb->nmsgs].data = data;
    }
    tb->nmsgs++;
}

/* A unit built from cfg (validated first; the test fails if invalid). */
G_GNUC_UNUSED static VtdTestBed *testbed_new(VtdConfig *cfg)
{
    VtdTestBed *tb = g_new0(VtdTestBed, 1);
    VtdGuestMem mem = { tb, fake_read, fake_write };
    VtdMsiSink msi = { tb, fake_deliver };
    GError *err = NULL;
    bool ok = vtd_config_validate(cfg, &err);

    if (!ok) {
        fail_msg("config rejected: %s", err->message);
    }
    memset(&mock, 0, sizeof(mock));
    tb->s = vtd_new(cfg, &mem, &msi);
    assert_non_null(tb->s);
    assert_int_equal(mock.init, 1);
    /* Start each test with a clean log (vtd_new's reset flushed caches). */
    memset(&mock, 0, sizeof(mock));
    return tb;
}

/* A unit built from a -device option string over the default config. */
G_GNUC_UNUSED static VtdTestBed *testbed_from_opts(const char *str)
{
    GError *err = NULL;
    DeviceOpts *opts = opts_parse(str, "driver", &err);
    VtdConfig cfg;

    if (!opts) {
        fail_msg("%s: %s", str, err->message);
    }
    vtd_config_defaults(&cfg);
    if (!vtd_config_from_opts(&cfg, opts, &err)) {
        fail_msg("%s: %s", str, err->message);
    }
    opts_free(opts);
    return testbed_new(&cfg);
}

G_GNUC_UNUSED static VtdTestBed *testbed_default(void)
{
    VtdConfig cfg;

    vtd_config_defaults(&cfg);
    return testbed_new(&cfg);
}

G_GNUC_UNUSED static void testbed_free(VtdTestBed *tb)
{
    vtd_free(tb->s);
    g_free(tb);
}

static inline uint32_t rd32(VtdTestBed *tb, uint64_t off)
{
    return (uint32_t)vtd_mmio_read(tb->s, off, 4);
}
static inline uint64_t rd64(VtdTestBed *tb, uint64_t off)
{
    return vtd_mmio_read(tb->s, off, 8);
}
static inline void wr32(VtdTestBed *tb, uint64_t off, uint32_t v)
{
    vtd_mmio_write(tb->s, off, v, 4);
}
static inline void wr64(VtdTestBed *tb, uint64_t off, uint64_t v)
{
    vtd_mmio_write(tb->s, off, v, 8);
}

/* Issue one GCMD command the way a driver does: GSTS & 0x96FFFFFF | bit. */
static inline void gcmd_set(VtdTestBed *tb, uint32_t bit, bool on)
{
    uint32_t cmd = rd32(tb, DMAR_GSTS_REG) & 0x96ffffffu;

    wr32(tb, DMAR_GCMD_REG, on ? (cmd | bit) : (cmd & ~bit));
}

#endif
