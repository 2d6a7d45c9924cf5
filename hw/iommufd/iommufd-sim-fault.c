/*
 * Simulated fault queues (IOMMU_FAULT_QUEUE_ALLOC): first-stage faults of a
 * HWPT with a fault_id become iommu_hwpt_pgfault records that user space
 * reads from the fault fd and answers with iommu_hwpt_page_response writes.
 * Each simulated fault is a one-page group with LAST_PAGE set.
 */
#include "iommufd-sim-internal.h"

/* Records queued beyond this are dropped, as a bounded kernel queue would. */
#define SIM_FAULT_QUEUE_MAX 256

int sim_fault_alloc(SimCtx *ctx, void *cmd)
{
    struct iommu_fault_alloc *a = cmd;
    SimFault *f;

    if (a->flags) {
        return -EOPNOTSUPP;
    }
    f = g_new0(SimFault, 1);
    f->ctx = ctx;
    f->pending = g_queue_new();
    f->waiting = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    f->next_cookie = 1;
    f->fd = sim_fd_new(ctx->sim, SIM_FD_FAULT, f);
    sim_obj_add(ctx, &f->obj, SIM_OBJ_FAULT);
    a->out_fault_id = f->obj.id;
    a->out_fault_fd = f->fd;
    return 0;
}

void sim_fault_free(SimFault *f)
{
    if (f->fd >= 0) {
        sim_fd_remove(f->ctx->sim, f->fd);
    }
    g_queue_free_full(f->pending, g_free);
    g_hash_table_destroy(f->waiting);
    g_free(f);
}

bool sim_fault_report(SimFault *f, uint32_t dev_id, uint32_t pasid, uint64_t addr,
                      bool is_write)
{
    struct iommu_hwpt_pgfault *r;

    if (g_queue_get_length(f->pending) + g_hash_table_size(f->waiting) >=
        SIM_FAULT_QUEUE_MAX) {
        return false;
    }
    r = g_new0(struct iommu_hwpt_pgfault, 1);
    r->flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE |
               (pasid != IOMMUFD_NO_PASID ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
    r->dev_id = dev_id;
    r->pasid = pasid;
    r->grpid = f->next_grpid++ & 0x1ff;   /* PRG index is 9 bits */
    r->perm = IOMMU_PGFAULT_PERM_READ | (is_write ? IOMMU_PGFAULT_PERM_WRITE : 0);
    r->addr = addr & ~(SIM_PAGE_SIZE - 1);
    r->cookie = f->next_cookie++;
    g_queue_push_tail(f->pending, r);
    return true;
}

ssize_t sim_fault_read(SimFault *f, void *buf, size_t len)
{
    const size_t rec = sizeof(struct iommu_hwpt_pgfault);
    size_t done = 0;

    if (len % rec) {
        return -EINVAL;
    }
    while (done + rec <= len && !g_queue_is_empty(f->pending)) {
        struct iommu_hwpt_pgfault *r = g_queue_pop_head(f->pending);

        memcpy((uint8_t *)buf + done, r, rec);
        g_hash_table_insert(f->waiting, GUINT_TO_POINTER(r->cookie), r);
        done += rec;
    }
    return done;
}

ssize_t sim_fault_write(SimFault *f, const void *buf, size_t len)
{
    const size_t rec = sizeof(struct iommu_hwpt_page_response);
    size_t done = 0;

    if (len % rec) {
        return -EINVAL;
    }
    while (done < len) {
        struct iommu_hwpt_page_response resp;

        memcpy(&resp, (const uint8_t *)buf + done, rec);
        if (resp.code > IOMMUFD_PAGE_RESP_INVALID ||
            !g_hash_table_remove(f->waiting, GUINT_TO_POINTER(resp.cookie))) {
            return done ? (ssize_t)done : -EINVAL;
        }
        done += rec;
    }
    return done;
}
