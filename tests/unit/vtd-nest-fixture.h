/*
 * Shared set-up for the nesting tests: a simulated host (iommufd simulator),
 * guest RAM as ONE host buffer that both the VT-d unit (VtdGuestMem) and the
 * host IOAS (through the RAM source) see, a first-stage-capable VT-d unit,
 * and HostIommuDevices built directly on the simulator (open, bind,
 * GET_HW_INFO), without the vfio-pci device model.
 */
#ifndef VTD_NEST_FIXTURE_H
#define VTD_NEST_FIXTURE_H

#include <string.h>

#include "hw/intel-iommu/vtd-nesting.h"
#include "hw/intel-iommu/vtd-regs.h"
#include "vtdnest/iommufd-sim.h"

#define NF_RAM_SIZE (8u << 20)

typedef struct NestFixture {
    IommufdSim *sim;
    IommufdTransport *rec;   /* recording wrapper around the simulator */
    uint8_t *ram;            /* guest RAM at GPA 0 */
    uint64_t ro_gpa, ro_size; /* an optional read-only block */
    uint8_t *ro;
    VtdState *s;
} NestFixture;

static inline bool nf_mem_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    NestFixture *f = opaque;

    if (gpa >= NF_RAM_SIZE || len > NF_RAM_SIZE - gpa) {
        return false;
    }
    memcpy(buf, f->ram + gpa, len);
    return true;
}

static inline bool nf_mem_write(void *opaque, uint64_t gpa, const void *buf,
                                uint64_t len)
{
    NestFixture *f = opaque;

    if (gpa >= NF_RAM_SIZE || len > NF_RAM_SIZE - gpa) {
        return false;
    }
    memcpy(f->ram + gpa, buf, len);
    return true;
}

static inline bool nf_ram_foreach(void *opaque, VtdRamBlockFn fn, void *ctx,
                                  GError **errp)
{
    NestFixture *f = opaque;

    if (!fn(ctx, 0, NF_RAM_SIZE, f->ram, false, errp)) {
        return false;
    }
    if (f->ro_size && !fn(ctx, f->ro_gpa, f->ro_size, f->ro, true, errp)) {
        return false;
    }
    return true;
}

static inline void nf_cfg_flts(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->flts = true;
    cfg->aw_bits = 48;
    cfg->pasid_bits = 20;
    cfg->fs1gp = true;
}

static inline NestFixture *nf_new(const char *const *units,
                                  const char *const *devices)
{
    NestFixture *f = g_new0(NestFixture, 1);
    VtdConfig cfg;
    VtdGuestMem mem = { .opaque = f, .read = nf_mem_read, .write = nf_mem_write };
    VtdRamSource ram = { .opaque = f, .foreach = nf_ram_foreach };
    GError *err = NULL;

    f->sim = iommufd_sim_new();
    for (unsigned i = 0; units[i]; i++) {
        g_assert_true(iommufd_sim_add_unit(f->sim, units[i], &err));
    }
    for (unsigned i = 0; devices[i]; i++) {
        g_assert_true(iommufd_sim_add_device(f->sim, devices[i], &err));
    }
    g_assert_no_error(err);
    f->rec = iommufd_recorder_new(iommufd_sim_transport(f->sim));
    f->ram = g_aligned_alloc0(NF_RAM_SIZE, 1, 4096);
    vtd_config_defaults(&cfg);
    nf_cfg_flts(&cfg);
    f->s = vtd_new(&cfg, &mem, NULL);
    vtd_nesting_set_ram_source(f->s, &ram);
    return f;
}

static inline IommufdBackend *nf_backend(NestFixture *f)
{
    GError *err = NULL;
    IommufdBackend *be = iommufd_backend_open(f->rec, &err);

    g_assert_no_error(err);
    return be;
}

/* A bound host device as the vfio-pci model would hand it to the unit. */
static inline HostIommuDevice *nf_hd(NestFixture *f, IommufdBackend *be,
                                     const char *iommufd_id, const char *bdf,
                                     const char *unit, uint16_t guest_sid)
{
    GError *err = NULL;
    int cdev = vfio_cdev_open(be, iommufd_sim_cdev_path(f->sim, bdf), &err);
    uint32_t dev_id = 0;
    HostIommuDevice *hd;

    g_assert_no_error(err);
    g_assert_true(vfio_cdev_bind(be, cdev, &dev_id, &err));
    hd = host_iommu_device_new(be, iommufd_id, cdev, dev_id, bdf, bdf, unit, &err);
    g_assert_no_error(err);
    hd->guest_sid = guest_sid;
    return hd;
}

static inline void nf_free(NestFixture *f)
{
    vtd_free(f->s);
    g_free(f->ro);
    g_aligned_free(f->ram);
    iommufd_transport_free(f->rec);
    iommufd_sim_free(f->sim);
    g_free(f);
}

static inline unsigned nf_count_requests(NestFixture *f, unsigned long req)
{
    const GArray *log = iommufd_recorder_log(f->rec);
    unsigned n = 0;

    for (guint i = 0; i < log->len; i++) {
        n += g_array_index(log, IommufdRecord, i).request == req;
    }
    return n;
}

#endif
