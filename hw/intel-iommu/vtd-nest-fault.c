/*
 * Host stage-1 faults of passthrough devices, delivered to the guest.
 *
 * A nested HWPT translates with the guest's first-stage tables, so a fault
 * there is the guest's business. Devices whose host side can deliver I/O
 * page faults (PCIe PRI: HostIommuDevice.iopf) get their nested HWPTs
 * allocated with the fault queue of their iommufd (IOMMU_FAULT_QUEUE_ALLOC,
 * one queue per iommufd object, shared by its devices). Each record read
 * from it becomes, for the guest:
 *   - a page request (vtd_page_request) when the guest can take one:
 *     ECAP.PRS, translation on, scalable mode and PRE in the device's context
 *     entry. The guest's page group response (type 9 descriptor) is relayed
 *     to the host as an iommufd page response;
 *   - otherwise a fault record (vtd_fault_report), and the host group is
 *     answered "Invalid" at once so the device never waits.
 *
 * Fault reason: the host record says only address, PASID and access
 * (iommu_hwpt_pgfault.perm), not why. The unit therefore re-runs the request
 * through its own pipeline (vtd_translate_request) on the guest's tables,
 * which gives the spec's reason and honours FPD: a non-present first-stage
 * entry -> SFS.2 (0x71), a write to a read-only page -> SGN.6 (0x85), a user
 * request to a supervisor page -> SGN.2 (0x81), a reserved bit -> SFS.3, a
 * non-canonical address -> SGN.1, and so on. When the guest's tables allow
 * the access the host faulted on a view the guest has not invalidated yet
 * (caching mode allows caching not-present entries); that is recorded as
 * SFS.2. Source-id is the guest requester id (the bridge alias for devices
 * behind one); the PASID is present exactly when the host request carried
 * one; the address is the page.
 *
 * Page requests still waiting for the guest's answer are dropped (the host
 * group answered "Invalid") when the guest can no longer answer them: at
 * system reset, and when it stops taking page requests from the device
 * (TE off, a new root table, PRE cleared in the context entry and the
 * context cache invalidated). Otherwise the host device would wait for a
 * response that never comes.
 *
 * When the queue is read: after every passthrough DMA the host faulted
 * (host_iommu_device_drain_faults from the device model; the simulator
 * queues synchronously) and, for a real iommufd, whenever the fault fd is
 * readable (a GLib watch on the main loop).
 */
#include <errno.h>
#include <glib-unix.h>

#include "hw/intel-iommu/vtd-nesting.h"
#include "hw/intel-iommu/vtd-translate.h"

#define FAULT_READ_BATCH 16
#define PRGI_MASK 0x1ff

typedef struct VtdNestFaultQueue {
    VtdNesting *n;
    IommufdBackend *be;
    uint32_t id;            /* the fault object */
    int fd;                 /* its fd (transport's numbering) */
    unsigned users;         /* devices sharing it */
    guint watch;            /* main-loop source for a real fd, else 0 */
    GList *groups;          /* PendingGroup: page requests the guest owes */
} VtdNestFaultQueue;

/* A host fault group forwarded as a page request, awaiting the guest. */
typedef struct PendingGroup {
    VtdNestDev *d;
    uint16_t sid;
    bool pp;
    uint32_t pasid;
    uint16_t prgi;
    uint32_t cookie;        /* host group's cookie (its last record's) */
} PendingGroup;

/* One host record, in the guest's terms. */
typedef struct HostFault {
    uint16_t sid;
    bool pp;
    uint32_t pasid;
    uint64_t addr;
    bool read, write, exec, priv;
    bool last;
    uint16_t grpid;
    uint32_t cookie;
} HostFault;

static const VtdInvalListener fault_listener;

uint32_t vtd_nest_fault_hwpt_flags(const VtdNestDev *d)
{
    return d->fq ? IOMMU_HWPT_FAULT_ID_VALID : 0;
}

uint32_t vtd_nest_fault_id(const VtdNestDev *d)
{
    return d->fq ? d->fq->id : 0;
}

/* ---- Answering the host ------------------------------------------------- */

/* False with errp set when the host refused the response. */
static bool respond(VtdNestFaultQueue *q, uint32_t cookie, uint32_t code,
                    GError **errp)
{
    if (!iommufd_backend_page_response(q->be, q->fd, cookie, code, errp)) {
        g_prefix_error(errp, "answering host fault group (cookie %u) on fault "
                       "queue %u: ", cookie, q->id);
        return false;
    }
    return true;
}

/* An answer the unit gives on its own: nobody to report a failure to. */
static void respond_auto(VtdNestFaultQueue *q, uint32_t cookie, uint32_t code)
{
    GError *err = NULL;

    if (!respond(q, cookie, code, &err)) {
        g_warning("nesting: %s", err->message);
        g_error_free(err);
    }
}

/* ---- Guest fault records ------------------------------------------------ */

static void report_fault(VtdState *s, const HostFault *hf)
{
    IommuRequest req = {
        .sid = hf->sid,
        .pasid = hf->pp ? hf->pasid : IOMMU_NO_PASID,
        .priv = hf->priv,
        .addr = hf->addr,
        .access = (hf->write ? IOMMU_ACCESS_WRITE : IOMMU_ACCESS_READ) |
                  (hf->exec ? IOMMU_ACCESS_EXEC : 0),
        .at = IOMMU_AT_UNTRANSLATED,
    };
    IommuResult res = { 0 };
    VtdFault f = { 0 };

    /* The guest's own tables say why (and whether FPD hides it). */
    if (vtd_translate_request(s, &req, &res, &f)) {
        vtd_fault_report(s, &f);
        return;
    }
    if (!res.ok) {
        return;     /* blocked without a record */
    }
    /* The guest's tables allow it: the host used a view the guest has not
     * invalidated. Caching mode permits caching not-present entries. */
    f = (VtdFault) {
        .reason = VTD_FR_SFS_2, .sid = hf->sid, .addr = hf->addr,
        .is_write = hf->write, .is_read = !hf->write,
        .pasid_present = hf->pp, .pasid = hf->pasid,
        .priv = hf->priv, .exec = hf->exec, .at = IOMMU_AT_UNTRANSLATED,
    };
    vtd_fault_report(s, &f);
}

/* ---- Page requests ------------------------------------------------------ */

/* Would the guest take a page request from sid (PRS, TE, scalable, PRE)? */
static bool guest_takes_page_requests(VtdState *s, uint16_t sid)
{
    VtdSmContext ctx;

    if (!(s->ecap & VTD_ECAP_PRS) || !s->dmar_enabled ||
        s->ttm != VTD_TTM_SCALABLE) {
        return false;
    }
    return vtd_read_sm_device_context(s, sid, &ctx) == VTD_FR_NONE && ctx.pre;
}

static PendingGroup *group_find(VtdNesting *n, uint16_t sid, bool pp,
                                uint32_t pasid, uint16_t prgi,
                                VtdNestFaultQueue **qp)
{
    for (GList *l = n->fault_queues; l; l = l->next) {
        VtdNestFaultQueue *q = l->data;

        for (GList *g = q->groups; g; g = g->next) {
            PendingGroup *pg = g->data;

            if (pg->sid == sid && pg->prgi == prgi && pg->pp == pp &&
                (!pp || pg->pasid == pasid)) {
                if (qp) {
                    *qp = q;
                }
                return pg;
            }
        }
    }
    return NULL;
}

/* The host's group index, or the next one free for this requester: two host
 * devices behind one bridge alias share the guest's PRGI space. */
static uint16_t pick_prgi(VtdNesting *n, const HostFault *hf)
{
    for (unsigned i = 0; i <= PRGI_MASK; i++) {
        uint16_t prgi = (hf->grpid + i) & PRGI_MASK;

        if (!group_find(n, hf->sid, hf->pp, hf->pasid, prgi, NULL)) {
            return prgi;
        }
    }
    return hf->grpid & PRGI_MASK;
}

static void forward_page_request(VtdNestFaultQueue *q, VtdNestDev *d,
                                 const HostFault *hf)
{
    VtdState *s = q->n->s;
    uint16_t prgi = pick_prgi(q->n, hf);
    PendingGroup *pg;

    if (!vtd_page_request(s, hf->sid, hf->pasid, hf->pp, hf->addr, hf->read,
                          hf->write, hf->exec, hf->priv, hf->last, prgi)) {
        /* Not queued: the unit answered the guest side itself. The host gets
         * "retry" after an overflow, as the unit answers the device. */
        if (hf->last) {
            bool overflow = vtd_get32(s, DMAR_PRS_REG) & VTD_PRS_PRO;

            respond_auto(q, hf->cookie, overflow ? IOMMUFD_PAGE_RESP_SUCCESS
                                                 : IOMMUFD_PAGE_RESP_INVALID);
        }
        return;
    }
    if (!hf->last) {
        return;     /* the group is answered through its last request */
    }
    pg = g_new0(PendingGroup, 1);
    *pg = (PendingGroup) {
        .d = d, .sid = hf->sid, .pp = hf->pp, .pasid = hf->pasid,
        .prgi = prgi, .cookie = hf->cookie,
    };
    q->groups = g_list_append(q->groups, pg);
}

void vtd_nest_fault_drop_stale(VtdNesting *n, bool all)
{
    for (GList *l = n ? n->fault_queues : NULL; l; l = l->next) {
        VtdNestFaultQueue *q = l->data;

        for (GList *g = q->groups; g;) {
            GList *next = g->next;
            PendingGroup *pg = g->data;

            if (all || !guest_takes_page_requests(n->s, pg->sid)) {
                /* The guest will not answer: release the device now. */
                q->groups = g_list_delete_link(q->groups, g);
                respond_auto(q, pg->cookie, IOMMUFD_PAGE_RESP_INVALID);
                g_free(pg);
            }
            g = next;
        }
    }
}

/* The guest's page group response: relay it to the host group it answers. */
static void fault_invalidate(void *opaque, VtdState *s, const VtdInvalidation *inv)
{
    VtdNesting *n = opaque;
    bool pp = inv->pp && inv->pasid != IOMMU_NO_PASID;
    VtdNestFaultQueue *q = NULL;
    PendingGroup *pg;
    GError *err = NULL;

    if (inv->kind == VTD_INVAL_CONTEXT) {
        /* A context entry may have lost PRE (or its presence). */
        vtd_nest_fault_drop_stale(n, false);
        return;
    }
    if (inv->kind != VTD_INVAL_PAGE_RESPONSE) {
        return;
    }
    pg = group_find(n, inv->sid, pp, pp ? inv->pasid & 0xfffff : 0,
                    inv->prgi & PRGI_MASK, &q);
    if (!pg) {
        return;     /* an emulated device's group, or already answered */
    }
    q->groups = g_list_remove(q->groups, pg);
    if (!respond(q, pg->cookie, inv->rc == VTD_PRG_RC_SUCCESS ?
                 IOMMUFD_PAGE_RESP_SUCCESS : IOMMUFD_PAGE_RESP_INVALID, &err)) {
        /* The descriptor did not complete: the next wait reports it. */
        vtd_nest_defer_error(n, err);
    }
    g_free(pg);
}

static const VtdInvalListener fault_listener = {
    .invalidate = fault_invalidate,
};

/* ---- Reading the queue -------------------------------------------------- */

static VtdNestDev *dev_by_host_id(VtdNestFaultQueue *q, uint32_t dev_id)
{
    for (GList *l = q->n->devs; l; l = l->next) {
        VtdNestDev *d = l->data;

        if (d->fq == q && d->hd->dev_id == dev_id) {
            return d;
        }
    }
    return NULL;
}

static void handle_record(VtdNestFaultQueue *q,
                          const struct iommu_hwpt_pgfault *r)
{
    VtdNestDev *d = dev_by_host_id(q, r->dev_id);
    HostFault hf = {
        .pp = r->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID,
        .pasid = r->pasid & 0xfffff,
        .addr = r->addr & ~0xfffULL,
        .read = r->perm & IOMMU_PGFAULT_PERM_READ,
        .write = r->perm & IOMMU_PGFAULT_PERM_WRITE,
        .exec = r->perm & IOMMU_PGFAULT_PERM_EXEC,
        .priv = r->perm & IOMMU_PGFAULT_PERM_PRIV,
        .last = r->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE,
        .grpid = r->grpid & PRGI_MASK,
        .cookie = r->cookie,
    };

    if (!hf.pp) {
        hf.pasid = 0;
    }
    if (!d) {
        /* A device that left meanwhile: nobody to tell. */
        if (hf.last) {
            respond_auto(q, hf.cookie, IOMMUFD_PAGE_RESP_INVALID);
        }
        return;
    }
    hf.sid = d->hd->guest_sid;
    if (guest_takes_page_requests(q->n->s, hf.sid)) {
        forward_page_request(q, d, &hf);
        return;
    }
    report_fault(q->n->s, &hf);
    if (hf.last) {
        respond_auto(q, hf.cookie, IOMMUFD_PAGE_RESP_INVALID);
    }
}

static void queue_drain(void *opaque)
{
    VtdNestFaultQueue *q = opaque;
    struct iommu_hwpt_pgfault recs[FAULT_READ_BATCH];
    unsigned got;

    do {
        GError *err = NULL;

        if (!iommufd_backend_read_faults(q->be, q->fd, recs, FAULT_READ_BATCH,
                                         &got, &err)) {
            /* The records stay queued on the host: read at the next drain. */
            g_warning("nesting: reading host fault queue %u: %s", q->id,
                      err->message);
            g_error_free(err);
            return;
        }
        for (unsigned i = 0; i < got; i++) {
            handle_record(q, &recs[i]);
        }
    } while (got == FAULT_READ_BATCH);
}

static gboolean queue_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    queue_drain(opaque);
    return G_SOURCE_CONTINUE;
}

/* ---- Lifetime ----------------------------------------------------------- */

static VtdNestFaultQueue *queue_find(VtdNesting *n, const IommufdBackend *be)
{
    for (GList *l = n->fault_queues; l; l = l->next) {
        VtdNestFaultQueue *q = l->data;

        if (q->be == be) {
            return q;
        }
    }
    return NULL;
}

static VtdNestFaultQueue *queue_new(VtdNesting *n, const HostIommuDevice *hd,
                                    GError **errp)
{
    VtdNestFaultQueue *q = g_new0(VtdNestFaultQueue, 1);

    q->n = n;
    q->be = hd->be;
    q->fd = -1;
    if (!n->fault_queues &&
        !vtd_inval_add_listener(n->s, &fault_listener, n, errp)) {
        g_prefix_error(errp, "intel-iommu: passthrough device %s: host fault "
                       "delivery: ", hd->name);
        g_free(q);
        return NULL;
    }
    if (!iommufd_backend_alloc_fault_queue(hd->be, &q->id, &q->fd, errp)) {
        g_prefix_error(errp, "intel-iommu: passthrough device %s: allocating "
                       "the host fault queue: ", hd->name);
        if (!n->fault_queues) {
            vtd_inval_remove_listener(n->s, &fault_listener, n);
        }
        g_free(q);
        return NULL;
    }
    /* A kernel fd wakes the main loop; the simulator's is drained by DMA. */
    if (hd->be->t->name && strcmp(hd->be->t->name, "real") == 0) {
        q->watch = g_unix_fd_add(q->fd, G_IO_IN, queue_readable, q);
    }
    n->fault_queues = g_list_append(n->fault_queues, q);
    return q;
}

static void queue_free(VtdNesting *n, VtdNestFaultQueue *q)
{
    GError *err = NULL;

    if (q->watch) {
        g_source_remove(q->watch);
    }
    /* Groups still pending are answered by the host when HWPTs go away. */
    g_list_free_full(q->groups, g_free);
    iommufd_transport_close(q->be->t, q->fd);
    if (!iommufd_backend_destroy(q->be, q->id, &err)) {
        g_warning("nesting: cannot destroy host fault queue %u (freed with the "
                  "iommufd): %s", q->id, err->message);
        g_error_free(err);
    }
    n->fault_queues = g_list_remove(n->fault_queues, q);
    if (!n->fault_queues) {
        vtd_inval_remove_listener(n->s, &fault_listener, n);
    }
    g_free(q);
}

bool vtd_nest_fault_join(VtdNesting *n, VtdNestDev *d, GError **errp)
{
    VtdNestFaultQueue *q;

    if (!d->hd->iopf) {
        return true;    /* no PRI: host faults stay on the host */
    }
    if (!vtd_nest_s2_nest_parent(n)) {
        return true;    /* no nested HWPT will ever report into a queue */
    }
    q = queue_find(n, d->hd->be);
    if (!q && !(q = queue_new(n, d->hd, errp))) {
        return false;
    }
    q->users++;
    d->fq = q;
    d->hd->drain_faults = queue_drain;
    d->hd->drain_opaque = q;
    return true;
}

void vtd_nest_fault_leave(VtdNesting *n, VtdNestDev *d)
{
    VtdNestFaultQueue *q = d->fq;

    if (!q) {
        return;
    }
    d->fq = NULL;
    d->hd->drain_faults = NULL;
    d->hd->drain_opaque = NULL;
    for (GList *l = q->groups; l;) {
        GList *next = l->next;
        PendingGroup *pg = l->data;

        if (pg->d == d) {
            q->groups = g_list_delete_link(q->groups, l);
            g_free(pg);
        }
        l = next;
    }
    if (--q->users == 0) {
        queue_free(n, q);
    }
}
