/*
 * iommufd simulator core: fake fds, the iommufd ioctl dispatcher with the
 * kernel's extensible-struct rules (fact sheet §1.2), the object table,
 * DESTROY / OPTION / GET_HW_INFO, fail-nth and the host hardware declared by
 * option strings.
 */
#include <stdio.h>

#include "iommufd-sim-internal.h"
#include "vtdnest/iommufd-backend.h"   /* iommufd_errno_name */

#define SIM_FIRST_FD 1000   /* far from real fds, so mix-ups are visible */

/* ---- object table ---- */

void sim_obj_add(SimCtx *ctx, SimObj *obj, SimObjType type)
{
    uint32_t id = 1;

    /* Lowest free id, as the kernel's xarray allocation. */
    while (g_hash_table_contains(ctx->objs, GUINT_TO_POINTER(id))) {
        id++;
    }
    obj->id = id;
    obj->type = type;
    obj->users = 0;
    g_hash_table_insert(ctx->objs, GUINT_TO_POINTER(id), obj);
}

void sim_obj_remove(SimCtx *ctx, SimObj *obj)
{
    g_hash_table_remove(ctx->objs, GUINT_TO_POINTER(obj->id));
}

SimObj *sim_obj_get(SimCtx *ctx, uint32_t id)
{
    return g_hash_table_lookup(ctx->objs, GUINT_TO_POINTER(id));
}

static void sim_obj_free(SimObj *obj)
{
    switch (obj->type) {
    case SIM_OBJ_IOAS:
        sim_ioas_free((SimIoas *)obj);
        break;
    case SIM_OBJ_HWPT_PAGING:
    case SIM_OBJ_HWPT_NESTED:
        sim_hwpt_free((SimHwpt *)obj);
        break;
    case SIM_OBJ_FAULT:
        sim_fault_free((SimFault *)obj);
        break;
    case SIM_OBJ_DEVICE:
        g_assert_not_reached();   /* devices leave only through unbind */
    }
}

/* ---- fds ---- */

int sim_fd_new(IommufdSim *sim, SimFdKind kind, void *ptr)
{
    SimFd *f = g_new0(SimFd, 1);
    int fd = sim->next_fd++;

    f->kind = kind;
    f->ptr = ptr;
    g_hash_table_insert(sim->fds, GINT_TO_POINTER(fd), f);
    return fd;
}

void sim_fd_remove(IommufdSim *sim, int fd)
{
    g_hash_table_remove(sim->fds, GINT_TO_POINTER(fd));
}

static SimFd *sim_fd_get(IommufdSim *sim, int fd)
{
    return g_hash_table_lookup(sim->fds, GINT_TO_POINTER(fd));
}

SimCtx *sim_ctx_from_fd(IommufdSim *sim, int fd)
{
    SimFd *f = sim_fd_get(sim, fd);

    return f && f->kind == SIM_FD_CTX ? f->ptr : NULL;
}

static IommufdSim *to_sim(IommufdTransport *t)
{
    return (IommufdSim *)t;
}

/* Consumes one call of the fail-nth budget; true when this call must fail. */
static bool sim_injected_failure(IommufdSim *sim, int *err)
{
    if (sim->fail_countdown == 0) {
        return false;
    }
    if (--sim->fail_countdown == 0) {
        *err = sim->fail_errno;
        return true;
    }
    return false;
}

void iommufd_sim_fail_nth(IommufdSim *sim, unsigned n, int err)
{
    sim->fail_countdown = n;
    sim->fail_errno = err > 0 ? err : EIO;
}

/* ---- contexts ---- */

static void sim_ctx_destroy_objects(SimCtx *ctx)
{
    /* Dependency order: nested HWPTs, paging HWPTs, IOAS and faults. */
    static const SimObjType order[] = {
        SIM_OBJ_HWPT_NESTED, SIM_OBJ_HWPT_PAGING, SIM_OBJ_IOAS, SIM_OBJ_FAULT,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        GList *objs = g_hash_table_get_values(ctx->objs);

        for (GList *l = objs; l; l = l->next) {
            SimObj *obj = l->data;

            if (obj->type == order[i]) {
                sim_obj_remove(ctx, obj);
                sim_obj_free(obj);
            }
        }
        g_list_free(objs);
    }
}

static void sim_ctx_free(SimCtx *ctx)
{
    sim_ctx_destroy_objects(ctx);
    g_hash_table_destroy(ctx->objs);
    g_free(ctx);
}

/* Called when the fd is closed or the last bound device leaves. */
static void sim_ctx_maybe_free(SimCtx *ctx)
{
    if (!ctx->fd_open && ctx->bound_devices == 0) {
        sim_ctx_free(ctx);
    }
}

void sim_device_unbind(SimDevice *dev)
{
    SimCtx *ctx = dev->ctx;

    if (!ctx) {
        return;
    }
    /* Detach everything (may free auto HWPTs), then drop the device object. */
    GList *pasids = g_hash_table_get_keys(dev->attached);
    for (GList *l = pasids; l; l = l->next) {
        struct vfio_device_detach_iommufd_pt d = {
            .argsz = sizeof(d),
            .flags = GPOINTER_TO_UINT(l->data) ? VFIO_DEVICE_DETACH_PASID : 0,
            .pasid = GPOINTER_TO_UINT(l->data),
        };
        sim_cdev_ioctl(dev->sim, dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
    }
    g_list_free(pasids);
    sim_obj_remove(ctx, &dev->obj);
    dev->ctx = NULL;
    ctx->bound_devices--;
    sim_ctx_maybe_free(ctx);
}

/* ---- simple commands ---- */

static int sim_destroy(SimCtx *ctx, void *cmd, bool *copy_out)
{
    struct iommu_destroy *d = cmd;
    SimObj *obj = sim_obj_get(ctx, d->id);

    if (!obj) {
        return -ENOENT;
    }
    /* Device objects belong to VFIO: only closing the cdev releases them. */
    if (obj->type == SIM_OBJ_DEVICE || obj->users > 0) {
        return -EBUSY;
    }
    sim_obj_remove(ctx, obj);
    sim_obj_free(obj);
    return 0;
}

static int sim_option(SimCtx *ctx, void *cmd, bool *copy_out)
{
    struct iommu_option *o = cmd;

    if (o->__reserved) {
        return -EOPNOTSUPP;
    }
    if (o->op != IOMMU_OPTION_OP_SET && o->op != IOMMU_OPTION_OP_GET) {
        return -EOPNOTSUPP;
    }
    switch (o->option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
        if (o->object_id) {
            return -EINVAL;
        }
        if (o->op == IOMMU_OPTION_OP_GET) {
            o->val64 = ctx->rlimit_user;
            return 0;
        }
        if (o->val64 > 1) {
            return -EINVAL;
        }
        /* The accounting mode can only change on an empty context. */
        if (g_hash_table_size(ctx->objs) > ctx->bound_devices) {
            return -EBUSY;
        }
        ctx->rlimit_user = o->val64;
        return 0;
    case IOMMU_OPTION_HUGE_PAGES: {
        SimObj *obj = sim_obj_get(ctx, o->object_id);

        if (!obj || obj->type != SIM_OBJ_IOAS) {
            return -ENOENT;
        }
        SimIoas *ioas = (SimIoas *)obj;
        if (o->op == IOMMU_OPTION_OP_GET) {
            o->val64 = ioas->huge_pages;
            return 0;
        }
        if (o->val64 > 1) {
            return -EINVAL;
        }
        ioas->huge_pages = o->val64;
        return 0;
    }
    default:
        return -EOPNOTSUPP;
    }
}

static int sim_get_hw_info(SimCtx *ctx, void *cmd, bool *copy_out)
{
    struct iommu_hw_info *h = cmd;
    SimObj *obj;
    SimDevice *dev;
    struct iommu_hw_info_vtd vtd = { 0 };

    if (h->flags & ~(uint32_t)IOMMU_HW_INFO_FLAG_INPUT_TYPE) {
        return -EOPNOTSUPP;
    }
    if (h->__reserved[0] || h->__reserved[1] || h->__reserved[2]) {
        return -EOPNOTSUPP;
    }
    if ((h->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) &&
        h->in_data_type != IOMMU_HW_INFO_TYPE_DEFAULT &&
        h->in_data_type != IOMMU_HW_INFO_TYPE_INTEL_VTD) {
        return -EOPNOTSUPP;
    }
    obj = sim_obj_get(ctx, h->dev_id);
    if (!obj || obj->type != SIM_OBJ_DEVICE) {
        return -ENOENT;
    }
    dev = (SimDevice *)obj;
    if (h->data_len && !h->data_uptr) {
        return -EFAULT;
    }

    /* Intel reports the errata flag on every unit; errata=off models a fixed kernel. */
    vtd.flags = dev->unit->errata ? IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 : 0;
    vtd.cap_reg = dev->unit->cap;
    vtd.ecap_reg = dev->unit->ecap;
    if (h->data_len) {
        uint8_t *user = (uint8_t *)(uintptr_t)h->data_uptr;
        size_t n = MIN((size_t)h->data_len, sizeof(vtd));

        memcpy(user, &vtd, n);
        memset(user + n, 0, h->data_len - n);
    }
    h->data_len = sizeof(vtd);
    h->out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    h->out_max_pasid_log2 = sim_device_max_pasid_log2(dev);
    h->out_capabilities = 0;
    if (sim_unit_dirty(dev->unit)) {
        h->out_capabilities |= IOMMU_HW_CAP_DIRTY_TRACKING;
    }
    if (!dev->ats) {
        h->out_capabilities |= IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
    }
    return 0;
}

static int sim_ioas_alloc_h(SimCtx *c, void *cmd, bool *o) { return sim_ioas_alloc(c, cmd); }
static int sim_ioas_map_h(SimCtx *c, void *cmd, bool *o) { return sim_ioas_map(c, cmd); }
static int sim_ioas_unmap_h(SimCtx *c, void *cmd, bool *o) { return sim_ioas_unmap(c, cmd); }
static int sim_ioas_allow_h(SimCtx *c, void *cmd, bool *o) { return sim_ioas_allow_iovas(c, cmd); }
static int sim_hwpt_alloc_h(SimCtx *c, void *cmd, bool *o) { return sim_hwpt_alloc_cmd(c, cmd); }
static int sim_fault_alloc_h(SimCtx *c, void *cmd, bool *o) { return sim_fault_alloc(c, cmd); }

typedef int (*SimHandler)(SimCtx *ctx, void *cmd, bool *copy_out);

typedef struct SimCmd {
    unsigned nr;
    uint32_t min_size;   /* end of the last field of the first version */
    uint32_t full_size;
    SimHandler fn;       /* NULL: known to the kernel but not modelled */
} SimCmd;

static const SimCmd sim_cmds[] = {
    { IOMMUFD_CMD_DESTROY, 8, sizeof(struct iommu_destroy), sim_destroy },
    { IOMMUFD_CMD_IOAS_ALLOC, 12, sizeof(struct iommu_ioas_alloc), sim_ioas_alloc_h },
    { IOMMUFD_CMD_IOAS_ALLOW_IOVAS, 24, sizeof(struct iommu_ioas_allow_iovas), sim_ioas_allow_h },
    { IOMMUFD_CMD_IOAS_COPY, 40, sizeof(struct iommu_ioas_copy), NULL },
    { IOMMUFD_CMD_IOAS_IOVA_RANGES, 32, sizeof(struct iommu_ioas_iova_ranges), sim_ioas_iova_ranges },
    { IOMMUFD_CMD_IOAS_MAP, 40, sizeof(struct iommu_ioas_map), sim_ioas_map_h },
    { IOMMUFD_CMD_IOAS_UNMAP, 24, sizeof(struct iommu_ioas_unmap), sim_ioas_unmap_h },
    { IOMMUFD_CMD_OPTION, 24, sizeof(struct iommu_option), sim_option },
    { IOMMUFD_CMD_VFIO_IOAS, 12, 12, NULL },
    { IOMMUFD_CMD_HWPT_ALLOC, 24, sizeof(struct iommu_hwpt_alloc), sim_hwpt_alloc_h },
    { IOMMUFD_CMD_GET_HW_INFO, 32, sizeof(struct iommu_hw_info), sim_get_hw_info },
    { IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING, 16, 16, NULL },
    { IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP, 48, 48, NULL },
    { IOMMUFD_CMD_HWPT_INVALIDATE, 32, sizeof(struct iommu_hwpt_invalidate), sim_hwpt_invalidate_cmd },
    { IOMMUFD_CMD_FAULT_QUEUE_ALLOC, 16, sizeof(struct iommu_fault_alloc), sim_fault_alloc_h },
    { IOMMUFD_CMD_IOAS_MAP_FILE, 40, 40, NULL },
    { IOMMUFD_CMD_VIOMMU_ALLOC, 24, 40, NULL },
    { IOMMUFD_CMD_VDEVICE_ALLOC, 24, 24, NULL },
    { IOMMUFD_CMD_IOAS_CHANGE_PROCESS, 8, 8, NULL },
    { IOMMUFD_CMD_VEVENTQ_ALLOC, 28, 32, NULL },
};

#define SIM_MAX_CMD_SIZE 64

static int sim_iommufd_ioctl(SimCtx *ctx, unsigned long request, void *arg)
{
    unsigned nr = IOMMUFD_IOC_NR(request);
    const SimCmd *c = NULL;
    uint8_t buf[SIM_MAX_CMD_SIZE] = { 0 };
    uint32_t size;
    bool copy_out = false;
    int rc;

    for (size_t i = 0; i < G_N_ELEMENTS(sim_cmds); i++) {
        if (sim_cmds[i].nr == nr) {
            c = &sim_cmds[i];
        }
    }
    /* Below the base would go to the VFIO type1 compat layer: not modelled. */
    if (!c || request != IOMMUFD_IO(nr)) {
        return -ENOTTY;
    }
    if (!arg) {
        return -EFAULT;
    }
    memcpy(&size, arg, sizeof(size));
    if (size < c->min_size) {
        return -EINVAL;
    }
    /* Extensible struct: a longer user struct must be zero past our end. */
    for (uint64_t i = c->full_size; i < size; i++) {
        if (((const uint8_t *)arg)[i]) {
            return -E2BIG;
        }
    }
    if (!c->fn) {
        /* Valid for the kernel, but this simulator models a kernel without it. */
        return -EOPNOTSUPP;
    }
    memcpy(buf, arg, MIN(size, c->full_size));
    rc = c->fn(ctx, buf, &copy_out);
    if (rc == 0 || copy_out) {
        memcpy(arg, buf, MIN(size, c->full_size));
    }
    return rc;
}

/* ---- transport ---- */

static int sim_open_iommufd(IommufdTransport *t, GError **errp)
{
    IommufdSim *sim = to_sim(t);
    SimCtx *ctx;
    int err;

    if (sim_injected_failure(sim, &err)) {
        g_set_error(errp, IOMMUFD_ERROR, err, "cannot open /dev/iommu (simulated): "
                    "%s (%s)", g_strerror(err), iommufd_errno_name(err));
        return -1;
    }
    ctx = g_new0(SimCtx, 1);
    ctx->sim = sim;
    ctx->objs = g_hash_table_new(NULL, NULL);
    ctx->fd_open = true;
    ctx->fd = sim_fd_new(sim, SIM_FD_CTX, ctx);
    return ctx->fd;
}

SimDevice *sim_find_device(IommufdSim *sim, const char *bdf)
{
    for (unsigned i = 0; i < sim->devices->len; i++) {
        SimDevice *d = g_ptr_array_index(sim->devices, i);

        if (!g_ascii_strcasecmp(d->bdf, bdf)) {
            return d;
        }
    }
    return NULL;
}

static int sim_open_cdev(IommufdTransport *t, const char *path, GError **errp)
{
    IommufdSim *sim = to_sim(t);
    SimDevice *dev = NULL;
    int err;

    if (sim_injected_failure(sim, &err)) {
        g_set_error(errp, IOMMUFD_ERROR, err, "cannot open %s (simulated): %s (%s)",
                    path, g_strerror(err), iommufd_errno_name(err));
        return -1;
    }
    for (unsigned i = 0; i < sim->devices->len; i++) {
        SimDevice *d = g_ptr_array_index(sim->devices, i);

        if (!strcmp(d->cdev_path, path)) {
            dev = d;
        }
    }
    if (!dev) {
        g_set_error(errp, IOMMUFD_ERROR, ENOENT,
                    "cannot open %s (simulated): no such device: no simulated "
                    "host device has this VFIO cdev", path);
        return -1;
    }
    if (dev->cdev_fd >= 0) {
        /* The simulator allows one open per cdev, so ownership stays simple. */
        g_set_error(errp, IOMMUFD_ERROR, EBUSY,
                    "cannot open %s (simulated): device busy: already open", path);
        return -1;
    }
    dev->cdev_fd = sim_fd_new(sim, SIM_FD_CDEV, dev);
    return dev->cdev_fd;
}

/*
 * The open fd an ioctl/read/write names, after it has spent its fail-nth
 * turn; NULL with *err (a positive errno) when the call fails first.
 */
static SimFd *sim_syscall_fd(IommufdSim *sim, int fd, int *err)
{
    SimFd *f = sim_fd_get(sim, fd);

    if (!f) {
        *err = EBADF;
        return NULL;
    }
    return sim_injected_failure(sim, err) ? NULL : f;
}

static int sim_ioctl(IommufdTransport *t, int fd, unsigned long request, void *arg)
{
    IommufdSim *sim = to_sim(t);
    int err;
    SimFd *f = sim_syscall_fd(sim, fd, &err);

    if (!f) {
        return -err;
    }
    switch (f->kind) {
    case SIM_FD_CTX:
        return sim_iommufd_ioctl(f->ptr, request, arg);
    case SIM_FD_CDEV:
        return sim_cdev_ioctl(sim, f->ptr, request, arg);
    case SIM_FD_FAULT:
        return -ENOTTY;
    }
    return -EBADF;
}

static ssize_t sim_read(IommufdTransport *t, int fd, void *buf, size_t len)
{
    IommufdSim *sim = to_sim(t);
    int err;
    SimFd *f = sim_syscall_fd(sim, fd, &err);

    if (!f) {
        return -err;
    }
    return f->kind == SIM_FD_FAULT ? sim_fault_read(f->ptr, buf, len) : -EINVAL;
}

static ssize_t sim_write(IommufdTransport *t, int fd, const void *buf, size_t len)
{
    IommufdSim *sim = to_sim(t);
    int err;
    SimFd *f = sim_syscall_fd(sim, fd, &err);

    if (!f) {
        return -err;
    }
    return f->kind == SIM_FD_FAULT ? sim_fault_write(f->ptr, buf, len) : -EINVAL;
}

static int sim_close(IommufdTransport *t, int fd)
{
    IommufdSim *sim = to_sim(t);
    SimFd *f = sim_fd_get(sim, fd);
    SimFdKind kind;
    void *ptr;

    if (!f) {
        return -EBADF;
    }
    kind = f->kind;
    ptr = f->ptr;
    sim_fd_remove(sim, fd);
    switch (kind) {
    case SIM_FD_CTX: {
        SimCtx *ctx = ptr;

        ctx->fd_open = false;
        sim_ctx_maybe_free(ctx);
        break;
    }
    case SIM_FD_CDEV: {
        SimDevice *dev = ptr;

        dev->cdev_fd = -1;
        sim_device_unbind(dev);
        break;
    }
    case SIM_FD_FAULT:
        ((SimFault *)ptr)->fd = -1;
        break;
    }
    return 0;
}

static void sim_transport_destroy(IommufdTransport *t)
{
    /* The transport is part of the simulator: iommufd_sim_free() releases it. */
}

IommufdTransport *iommufd_sim_transport(IommufdSim *sim)
{
    return &sim->transport;
}

/* ---- host hardware ---- */

bool sim_unit_nesting(const SimUnit *u)
{
    return (u->ecap & SIM_ECAP_SMTS) && (u->ecap & SIM_ECAP_NEST);
}

bool sim_unit_dirty(const SimUnit *u)
{
    return (u->ecap & SIM_ECAP_SMTS) && (u->ecap & SIM_ECAP_SLADS) &&
           (u->ecap & SIM_ECAP_SMPWC);
}

bool sim_unit_pasid(const SimUnit *u)
{
    return (u->ecap & SIM_ECAP_SMTS) && (u->ecap & SIM_ECAP_PASID);
}

bool sim_device_enforce_cc(const SimDevice *d)
{
    return d->coherent && (d->unit->ecap & SIM_ECAP_SC);
}

unsigned sim_device_max_pasid_log2(const SimDevice *d)
{
    return d->pasid && sim_unit_pasid(d->unit) ? d->unit->pasid_bits : 0;
}

static void sim_unit_free(gpointer p)
{
    SimUnit *u = p;

    g_free(u->id);
    g_free(u);
}

static void sim_device_free(gpointer p)
{
    SimDevice *d = p;

    g_free(d->bdf);
    g_free(d->cdev_path);
    g_array_free(d->resv, true);
    g_hash_table_destroy(d->attached);
    g_free(d);
}

/* Minimal "k=v,k=v" parsing: keeps libiommufd free of machine code. */
typedef struct SimOpts {
    GPtrArray *keys;
    GPtrArray *values;
    GArray *used;   /* gboolean per key */
} SimOpts;

static void sim_opts_free(SimOpts *o)
{
    g_ptr_array_free(o->keys, true);
    g_ptr_array_free(o->values, true);
    g_array_free(o->used, true);
    g_free(o);
}

static SimOpts *sim_opts_parse(const char *str, const char *what, GError **errp)
{
    SimOpts *o = g_new0(SimOpts, 1);
    g_auto(GStrv) items = g_strsplit(str ? str : "", ",", -1);

    o->keys = g_ptr_array_new_with_free_func(g_free);
    o->values = g_ptr_array_new_with_free_func(g_free);
    o->used = g_array_new(false, true, sizeof(gboolean));
    for (char **it = items; *it; it++) {
        const char *eq = strchr(*it, '=');

        if (!**it) {
            continue;
        }
        if (!eq || eq == *it) {
            g_set_error(errp, IOMMUFD_ERROR, EINVAL,
                        "%s: '%s' is not of the form key=value", what, *it);
            sim_opts_free(o);
            return NULL;
        }
        g_ptr_array_add(o->keys, g_strndup(*it, eq - *it));
        g_ptr_array_add(o->values, g_strdup(eq + 1));
        g_array_set_size(o->used, o->keys->len);
    }
    return o;
}

/* Next value of key starting at *pos (for repeatable keys); marks it used. */
static const char *sim_opts_next(SimOpts *o, const char *key, unsigned *pos)
{
    for (unsigned i = *pos; i < o->keys->len; i++) {
        if (!strcmp(g_ptr_array_index(o->keys, i), key)) {
            g_array_index(o->used, gboolean, i) = true;
            *pos = i + 1;
            return g_ptr_array_index(o->values, i);
        }
    }
    return NULL;
}

static const char *sim_opts_get(SimOpts *o, const char *key)
{
    unsigned pos = 0;

    return sim_opts_next(o, key, &pos);
}

static bool sim_opts_bool(SimOpts *o, const char *what, const char *key, bool def,
                          bool *out, GError **errp)
{
    const char *v = sim_opts_get(o, key);

    if (!v) {
        *out = def;
        return true;
    }
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) {
        *out = false;
        return true;
    }
    g_set_error(errp, IOMMUFD_ERROR, EINVAL,
                "%s: '%s' must be on or off, not '%s'", what, key, v);
    return false;
}

static bool sim_parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (!s || !*s || *s == '-') {
        return false;
    }
    errno = 0;
    *out = g_ascii_strtoull(s, &end, 0);
    return errno == 0 && *end == '\0';
}

static bool sim_opts_uint(SimOpts *o, const char *what, const char *key, uint64_t def,
                          uint64_t min, uint64_t max, uint64_t *out, GError **errp)
{
    const char *v = sim_opts_get(o, key);

    if (!v) {
        *out = def;
        return true;
    }
    if (!sim_parse_u64(v, out) || *out < min || *out > max) {
        g_set_error(errp, IOMMUFD_ERROR, EINVAL,
                    "%s: '%s' must be a number in [%" G_GUINT64_FORMAT ", %"
                    G_GUINT64_FORMAT "], not '%s'", what, key, min, max, v);
        return false;
    }
    return true;
}

static bool sim_opts_check_used(SimOpts *o, const char *what, GError **errp)
{
    for (unsigned i = 0; i < o->keys->len; i++) {
        if (!g_array_index(o->used, gboolean, i)) {
            g_set_error(errp, IOMMUFD_ERROR, EINVAL, "%s: unknown key '%s'", what,
                        (const char *)g_ptr_array_index(o->keys, i));
            return false;
        }
    }
    return true;
}

static SimUnit *sim_find_unit(IommufdSim *sim, const char *id)
{
    for (unsigned i = 0; i < sim->units->len; i++) {
        SimUnit *u = g_ptr_array_index(sim->units, i);

        if (!strcmp(u->id, id)) {
            return u;
        }
    }
    return NULL;
}

bool iommufd_sim_add_unit(IommufdSim *sim, const char *opts, GError **errp)
{
    const char *what = "iommufd-sim unit";
    SimOpts *o = sim_opts_parse(opts, what, errp);
    bool nesting, fs5lp, fs1gp, srs, eafs, sc, dirty, pasid, errata, prs;
    uint64_t aw, pasid_bits, mamv;
    const char *id;
    bool ok = false;

    if (!o) {
        return false;
    }
    id = sim_opts_get(o, "id");
    if (!id || !*id) {
        g_set_error(errp, IOMMUFD_ERROR, EINVAL, "%s: 'id' is required", what);
        goto out;
    }
    if (sim_find_unit(sim, id)) {
        g_set_error(errp, IOMMUFD_ERROR, EEXIST, "%s: duplicate id '%s'", what, id);
        goto out;
    }
    if (!sim_opts_bool(o, what, "nesting", true, &nesting, errp) ||
        !sim_opts_bool(o, what, "fs5lp", false, &fs5lp, errp) ||
        !sim_opts_bool(o, what, "fs1gp", true, &fs1gp, errp) ||
        !sim_opts_bool(o, what, "srs", false, &srs, errp) ||
        !sim_opts_bool(o, what, "eafs", false, &eafs, errp) ||
        !sim_opts_bool(o, what, "sc", true, &sc, errp) ||
        !sim_opts_bool(o, what, "dirty", true, &dirty, errp) ||
        !sim_opts_bool(o, what, "pasid", true, &pasid, errp) ||
        !sim_opts_bool(o, what, "errata", true, &errata, errp) ||
        !sim_opts_bool(o, what, "prs", false, &prs, errp) ||
        !sim_opts_uint(o, what, "aw", 48, 39, 57, &aw, errp) ||
        !sim_opts_uint(o, what, "pasid-bits", 20, 1, 20, &pasid_bits, errp) ||
        !sim_opts_uint(o, what, "mamv", 9, 0, 63, &mamv, errp) ||
        !sim_opts_check_used(o, what, errp)) {
        goto out;
    }
    if (aw != 39 && aw != 48 && aw != 57) {
        g_set_error(errp, IOMMUFD_ERROR, EINVAL, "%s: 'aw' must be 39, 48 or 57", what);
        goto out;
    }

    SimUnit *u = g_new0(SimUnit, 1);
    u->id = g_strdup(id);
    u->aw = aw;
    u->pasid_bits = pasid_bits;
    u->errata = errata;
    u->cap = 2 /* ND: 64K domains */ | SIM_CAP_SAGAW_48 | SIM_CAP_MGAW(aw) |
             SIM_CAP_SSLPS_2M | SIM_CAP_SSLPS_1G | SIM_CAP_PSI | SIM_CAP_MAMV(mamv);
    if (aw == 57) {
        u->cap |= SIM_CAP_SAGAW_57;
    }
    u->cap |= (fs1gp ? SIM_CAP_FS1GP : 0) | (fs5lp ? SIM_CAP_FS5LP : 0);
    u->ecap = SIM_ECAP_QI | SIM_ECAP_DT | SIM_ECAP_IR | SIM_ECAP_EIM | SIM_ECAP_PT |
              SIM_ECAP_SMTS | SIM_ECAP_SLTS | SIM_ECAP_FLTS | SIM_ECAP_SMPWC;
    u->ecap |= (sc ? SIM_ECAP_SC : 0) | (nesting ? SIM_ECAP_NEST : 0) |
               (prs ? SIM_ECAP_PRS : 0) | (srs ? SIM_ECAP_SRS : 0) |
               (eafs ? SIM_ECAP_EAFS : 0) | (dirty ? SIM_ECAP_SLADS : 0);
    if (pasid) {
        u->ecap |= SIM_ECAP_PASID | SIM_ECAP_PSS(pasid_bits);
    }
    g_ptr_array_add(sim->units, u);
    ok = true;
out:
    sim_opts_free(o);
    return ok;
}

bool sim_parse_bdf(const char *s, char **canon)
{
    unsigned dom = 0, bus, slot, fn;
    char tail;

    if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &slot, &fn, &tail) != 4) {
        dom = 0;
        if (sscanf(s, "%x:%x.%x%c", &bus, &slot, &fn, &tail) != 3) {
            return false;
        }
    }
    if (dom > 0xffff || bus > 0xff || slot > 0x1f || fn > 7) {
        return false;
    }
    *canon = g_strdup_printf("%04x:%02x:%02x.%x", dom, bus, slot, fn);
    return true;
}

static bool sim_parse_range(const char *s, uint64_t *start, uint64_t *last)
{
    g_auto(GStrv) parts = g_strsplit(s, "-", 2);

    return g_strv_length(parts) == 2 && sim_parse_u64(parts[0], start) &&
           sim_parse_u64(parts[1], last) && *start <= *last;
}

bool iommufd_sim_add_device(IommufdSim *sim, const char *opts, GError **errp)
{
    const char *what = "iommufd-sim device";
    SimOpts *o = sim_opts_parse(opts, what, errp);
    const char *host, *unit_id, *rmrr;
    g_autofree char *bdf = NULL;
    SimUnit *unit;
    bool coherent, pasid, ats, pri;
    uint64_t group;
    unsigned pos = 0;
    GArray *resv;
    bool ok = false;

    if (!o) {
        return false;
    }
    host = sim_opts_get(o, "host");
    unit_id = sim_opts_get(o, "unit");
    if (!host || !sim_parse_bdf(host, &bdf)) {
        g_set_error(errp, IOMMUFD_ERROR, EINVAL,
                    "%s: 'host' must be a PCI address like 0000:03:00.0", what);
        goto out;
    }
    if (sim_find_device(sim, bdf)) {
        g_set_error(errp, IOMMUFD_ERROR, EEXIST, "%s: duplicate host %s", what, bdf);
        goto out;
    }
    if (!unit_id || !(unit = sim_find_unit(sim, unit_id))) {
        g_set_error(errp, IOMMUFD_ERROR, ENOENT,
                    "%s: 'unit' must name a unit added before (got '%s')", what,
                    unit_id ? unit_id : "");
        goto out;
    }
    if (!sim_opts_bool(o, what, "coherent", true, &coherent, errp) ||
        !sim_opts_bool(o, what, "pasid", true, &pasid, errp) ||
        !sim_opts_bool(o, what, "ats", true, &ats, errp) ||
        !sim_opts_bool(o, what, "pri", false, &pri, errp) ||
        !sim_opts_uint(o, what, "group", sim->next_group, 0, INT32_MAX, &group, errp)) {
        goto out;
    }
    resv = g_array_new(false, true, sizeof(struct iommu_iova_range));
    g_array_append_val(resv, ((struct iommu_iova_range){ SIM_MSI_START, SIM_MSI_LAST }));
    while ((rmrr = sim_opts_next(o, "rmrr", &pos))) {
        struct iommu_iova_range r;

        if (!sim_parse_range(rmrr, &r.start, &r.last)) {
            g_set_error(errp, IOMMUFD_ERROR, EINVAL,
                        "%s: 'rmrr' must be START-LAST, not '%s'", what, rmrr);
            g_array_free(resv, true);
            goto out;
        }
        g_array_append_val(resv, r);
    }
    if (!sim_opts_check_used(o, what, errp)) {
        g_array_free(resv, true);
        goto out;
    }

    SimDevice *d = g_new0(SimDevice, 1);
    d->sim = sim;
    d->bdf = g_steal_pointer(&bdf);
    d->cdev_path = g_strdup_printf("/dev/vfio/devices/vfio%u", sim->devices->len);
    d->unit = unit;
    d->group = group;
    if (group >= (uint64_t)sim->next_group) {
        sim->next_group = group + 1;
    }
    d->coherent = coherent;
    d->pasid = pasid;
    d->ats = ats;
    d->pri = pri;
    d->resv = resv;
    d->cdev_fd = -1;
    d->attached = g_hash_table_new(NULL, NULL);
    g_ptr_array_add(sim->devices, d);
    ok = true;
out:
    sim_opts_free(o);
    return ok;
}

const char *iommufd_sim_cdev_path(IommufdSim *sim, const char *host_bdf)
{
    g_autofree char *bdf = NULL;
    SimDevice *d;

    if (!sim_parse_bdf(host_bdf, &bdf) || !(d = sim_find_device(sim, bdf))) {
        return NULL;
    }
    return d->cdev_path;
}

const char *iommufd_sim_device_unit(IommufdSim *sim, const char *host_bdf)
{
    g_autofree char *bdf = NULL;
    SimDevice *d;

    if (!sim_parse_bdf(host_bdf, &bdf) || !(d = sim_find_device(sim, bdf))) {
        return NULL;
    }
    return d->unit ? d->unit->id : NULL;
}

bool iommufd_sim_device_pri(IommufdSim *sim, const char *host_bdf)
{
    g_autofree char *bdf = NULL;
    SimDevice *d;

    return sim_parse_bdf(host_bdf, &bdf) && (d = sim_find_device(sim, bdf)) &&
           d->pri;
}

/* ---- lifetime ---- */

IommufdSim *iommufd_sim_new(void)
{
    IommufdSim *sim = g_new0(IommufdSim, 1);

    sim->transport = (IommufdTransport) {
        .name = "sim",
        .open_iommufd = sim_open_iommufd,
        .open_cdev = sim_open_cdev,
        .ioctl = sim_ioctl,
        .read = sim_read,
        .write = sim_write,
        .close = sim_close,
        .destroy = sim_transport_destroy,
    };
    sim->units = g_ptr_array_new_with_free_func(sim_unit_free);
    sim->devices = g_ptr_array_new_with_free_func(sim_device_free);
    sim->fds = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    sim->next_fd = SIM_FIRST_FD;
    sim->next_group = 1000;
    return sim;
}

void iommufd_sim_free(IommufdSim *sim)
{
    GList *fds;

    if (!sim) {
        return;
    }
    sim->fail_countdown = 0;
    /* Close device fds first (unbind), then contexts, then the rest. */
    for (int pass = 0; pass < 3; pass++) {
        static const SimFdKind order[] = { SIM_FD_CDEV, SIM_FD_CTX, SIM_FD_FAULT };

        fds = g_hash_table_get_keys(sim->fds);
        for (GList *l = fds; l; l = l->next) {
            SimFd *f = sim_fd_get(sim, GPOINTER_TO_INT(l->data));

            if (f && f->kind == order[pass]) {
                sim_close(&sim->transport, GPOINTER_TO_INT(l->data));
            }
        }
        g_list_free(fds);
    }
    g_hash_table_destroy(sim->fds);
    g_ptr_array_free(sim->devices, true);
    g_ptr_array_free(sim->units, true);
    g_free(sim);
}

/* ---- introspection ---- */

static SimHwpt *sim_lookup_hwpt(IommufdSim *sim, int iommufd, uint32_t id)
{
    SimCtx *ctx = sim_ctx_from_fd(sim, iommufd);
    SimObj *obj = ctx ? sim_obj_get(ctx, id) : NULL;

    if (!obj || (obj->type != SIM_OBJ_HWPT_NESTED && obj->type != SIM_OBJ_HWPT_PAGING)) {
        return NULL;
    }
    return (SimHwpt *)obj;
}

int iommufd_sim_iotlb_count(IommufdSim *sim, int iommufd, uint32_t hwpt_id)
{
    SimHwpt *h = sim_lookup_hwpt(sim, iommufd, hwpt_id);

    return h ? (int)(h->iotlb ? h->iotlb->len : 0) : -1;
}

int iommufd_sim_pwc_count(IommufdSim *sim, int iommufd, uint32_t hwpt_id)
{
    SimHwpt *h = sim_lookup_hwpt(sim, iommufd, hwpt_id);

    return h ? (int)(h->pwc ? h->pwc->len : 0) : -1;
}

bool iommufd_sim_iotlb_lookup(IommufdSim *sim, int iommufd, uint32_t hwpt_id,
                              uint64_t iova, IommufdSimIotlbEntry *out)
{
    SimHwpt *h = sim_lookup_hwpt(sim, iommufd, hwpt_id);

    if (!h || !h->iotlb) {
        return false;
    }
    for (unsigned i = 0; i < h->iotlb->len; i++) {
        SimTlbEntry *e = &g_array_index(h->iotlb, SimTlbEntry, i);

        if (iova - e->iova < e->size) {
            *out = (IommufdSimIotlbEntry) {
                .iova = e->iova, .size = e->size, .gpa = e->gpa,
                .writable = e->writable, .user = e->user,
            };
            return true;
        }
    }
    return false;
}

int iommufd_sim_object_count(IommufdSim *sim, int iommufd)
{
    SimCtx *ctx = sim_ctx_from_fd(sim, iommufd);

    return ctx ? (int)g_hash_table_size(ctx->objs) : -1;
}

uint32_t iommufd_sim_attached_hwpt(IommufdSim *sim, const char *host_bdf, uint32_t pasid)
{
    g_autofree char *bdf = NULL;
    SimDevice *d;
    SimHwpt *h;

    if (!sim_parse_bdf(host_bdf, &bdf) || !(d = sim_find_device(sim, bdf))) {
        return 0;
    }
    h = g_hash_table_lookup(d->attached, GUINT_TO_POINTER(pasid));
    return h ? h->obj.id : 0;
}
