/*
 * From what the host exposes to "can a VMM run VT-d nested translation here,
 * and how should it configure the guest's intel-iommu". Rules come from the
 * kernel's checks (../shared/docs/iommufd-uapi.md §3.3, §3.4, §3.6, §3.8) and
 * QEMU's host checks for flts=on (qemu-anchor.md §7.2, §7.3).
 */
#include "host-probe.h"
#include "vtd-cap-decode.h"

#include <string.h>

/* QEMU (and vtdnest by default) only offer a 4-level guest first stage. */
#define GUEST_FS_AW_BITS 48

/* How to get the ERRATA flag: it is only visible through IOMMU_GET_HW_INFO
 * on an open device, which the probe deliberately does not do. */
/* Used inside `...`: vtdnest needs a monitor; the QMP query prints the
 * HostIommuDevice fields (docs/iommufd.md). No vIOMMU, so a host unit
 * without nesting support still answers. */
#define HW_INFO_COMMAND \
    "vtdnest -machine q35 -object iommufd,id=iommufd0 " \
    "-device vfio-pci,host=%s,iommufd=iommufd0 -qmp stdio` then send " \
    "`{\"execute\": \"qmp_capabilities\"}` and " \
    "`{\"execute\": \"x-vtdnest-query-host-iommu\"}`"

static void add(GPtrArray *list, char *line)
{
    g_ptr_array_add(list, line);
}

/* Why a VT-d unit cannot back nesting, or NULL when it can. */
static char *unit_problem(const ProbeUnit *u)
{
    const char *missing[VTD_NESTING_PREREQS];
    unsigned n;
    VtdCapInfo cap;

    if (!u->regs_ok) {
        return g_strdup_printf("%s: capabilities unreadable (%s)", u->name,
                               u->regs_error ? u->regs_error : "unknown");
    }
    n = vtd_nesting_missing(u->ecap, missing);
    if (n) {
        GString *list = g_string_new(NULL);
        for (unsigned i = 0; i < n; i++) {
            g_string_append_printf(list, "%s%s", i ? ", " : "", missing[i]);
        }
        char *why = g_strdup_printf("%s: ECAP lacks %s — the unit cannot nest "
                                    "(nesting needs SMTS, NEST, FSTS and SSTS)",
                                    u->name, list->str);
        g_string_free(list, true);
        return why;
    }
    vtd_cap_decode(u->cap, &cap);
    if (cap.mgaw_bits < GUEST_FS_AW_BITS) {
        return g_strdup_printf("%s: MGAW is %u bits — flts=on needs aw-bits=%u, "
                               "and aw-bits may not exceed the host's width",
                               u->name, cap.mgaw_bits, GUEST_FS_AW_BITS);
    }
    return NULL;
}

/* Drivers that leave a group usable by VFIO (they do not own DMA). */
static bool driver_vfio_compatible(const char *driver)
{
    static const char *const ok[] = { "vfio-pci", "pci-stub", "pcieport" };

    if (!driver) {
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        if (strcmp(driver, ok[i]) == 0) {
            return true;
        }
    }
    return g_str_has_suffix(driver, "vfio_pci") || g_str_has_suffix(driver, "vfio-pci");
}

/* Members of d's IOMMU group whose driver keeps VFIO from using it. */
static char *group_blockers(const ProbeHost *h, const ProbeDevice *d)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < h->devices->len; i++) {
        const ProbeDevice *o = g_ptr_array_index(h->devices, i);
        if (o == d || !o->iommu_group || strcmp(o->iommu_group, d->iommu_group) ||
            driver_vfio_compatible(o->driver)) {
            continue;
        }
        g_string_append_printf(s, "%s%s (%s)", s->len ? ", " : "", o->bdf, o->driver);
    }
    if (!s->len) {
        g_string_free(s, true);
        return NULL;
    }
    return g_string_free(s, false);
}

/* Append to problems every reason why VFIO device d cannot use nesting. */
static void device_problems(const ProbeHost *h, const ProbeDevice *d,
                            GPtrArray *problems)
{
    const ProbeUnit *u = probe_find_unit(h, d->iommu_unit);
    g_autofree char *blockers = NULL;
    g_autofree char *unit_why = NULL;

    if (!d->vfio_cdev) {
        add(problems, g_strdup_printf(
            "%s: bound to %s but has no vfio cdev (no vfio-dev/ in sysfs: "
            "kernel without CONFIG_VFIO_DEVICE_CDEV?) — iommufd needs "
            "/dev/vfio/devices/vfioN", d->bdf, d->driver ? d->driver : "VFIO"));
    } else if (!d->vfio_cdev_present) {
        add(problems, g_strdup_printf(
            "%s: vfio cdev %s not found although sysfs lists it "
            "(devtmpfs/udev not populating %s?)", d->bdf, d->vfio_cdev, h->dev_root));
    }

    if (!d->iommu_unit) {
        add(problems, g_strdup_printf("%s: not behind any IOMMU unit "
                                      "(no iommu link in sysfs)", d->bdf));
    } else if (!u) {
        add(problems, g_strdup_printf("%s: behind %s, which is not listed "
                                      "under %s/class/iommu", d->bdf,
                                      d->iommu_unit, h->sysfs_root));
    } else if (!u->is_vtd) {
        add(problems, g_strdup_printf("%s: behind %s, which is not an Intel "
                                      "VT-d unit", d->bdf, u->name));
    } else if ((unit_why = unit_problem(u))) {
        add(problems, g_strdup_printf("%s: behind %s, which cannot back "
                                      "nesting (see %s above)", d->bdf,
                                      u->name, u->name));
    }

    if (!d->iommu_group) {
        add(problems, g_strdup_printf("%s: no IOMMU group", d->bdf));
    } else if ((blockers = group_blockers(h, d))) {
        add(problems, g_strdup_printf(
            "%s: IOMMU group %s also holds %s — VFIO needs every member on "
            "vfio-pci, pci-stub, pcieport or no driver", d->bdf,
            d->iommu_group, blockers));
    }
}

/* The last intel_iommu= on the kernel command line decides; -1 = unknown. */
static void parse_cmdline(const char *cmdline, int *enabled, int *scalable)
{
    g_auto(GStrv) words = NULL;

    *enabled = -1;
    *scalable = -1;
    if (!cmdline) {
        return;
    }
    words = g_strsplit_set(cmdline, " \t\n", -1);
    for (char **w = words; *w; w++) {
        g_auto(GStrv) opts = NULL;

        if (!g_str_has_prefix(*w, "intel_iommu=")) {
            continue;
        }
        opts = g_strsplit(*w + strlen("intel_iommu="), ",", -1);
        for (char **o = opts; *o; o++) {
            if (!strcmp(*o, "on")) {
                *enabled = 1;
            } else if (!strcmp(*o, "off")) {
                *enabled = 0;
            } else if (!strcmp(*o, "sm_on")) {
                *scalable = 1;
            } else if (!strcmp(*o, "sm_off")) {
                *scalable = 0;
            }
        }
    }
}

static void host_reasons(const ProbeHost *h, unsigned vtd_units,
                         int enabled, int scalable, GPtrArray *out)
{

    if (!h->dev_iommu_present) {
        if (h->iommufd_module) {
            add(out, g_strdup_printf("%s not found although the iommufd module "
                                     "is loaded (devtmpfs/udev?)", h->dev_iommu));
        } else {
            add(out, g_strdup_printf("%s not found (kernel without CONFIG_IOMMUFD, "
                                     "or the iommufd module is not loaded: "
                                     "modprobe iommufd)", h->dev_iommu));
        }
    }

    if (enabled == 0) {
        add(out, g_strdup("kernel command line has intel_iommu=off — the "
                          "host does not use VT-d"));
    }
    if (scalable == 0) {
        add(out, g_strdup("kernel command line has intel_iommu=sm_off — "
                          "nesting needs scalable mode (boot with sm_on)"));
    }

    if (!h->units->len) {
        add(out, g_strdup_printf("no IOMMU unit under %s/class/iommu (VT-d "
                                 "disabled in firmware, or the kernel does "
                                 "not use it: boot with intel_iommu=on)",
                                 h->sysfs_root));
    } else if (!vtd_units) {
        GString *names = g_string_new(NULL);
        for (guint i = 0; i < h->units->len; i++) {
            const ProbeUnit *u = g_ptr_array_index(h->units, i);
            g_string_append_printf(names, "%s%s", i ? ", " : "", u->name);
        }
        add(out, g_strdup_printf("no Intel VT-d unit (IOMMU units found: %s) — "
                                 "VT-d nesting needs Intel VT-d",
                                 names->str));
        g_string_free(names, true);
    }
}

static void add_unit_once(GPtrArray *units, const ProbeUnit *u)
{
    if (u && u->is_vtd && u->regs_ok && !g_ptr_array_find(units, u, NULL)) {
        g_ptr_array_add(units, (gpointer)u);
    }
}

/* Units that the advice should be based on: those behind usable devices,
 * else those behind any VFIO device, else every readable VT-d unit. */
static GPtrArray *relevant_units(const ProbeHost *h, GPtrArray *usable)
{
    GPtrArray *units = g_ptr_array_new();

    for (guint i = 0; i < h->devices->len; i++) {
        const ProbeDevice *d = g_ptr_array_index(h->devices, i);
        if (g_ptr_array_find_with_equal_func(usable, d->bdf, g_str_equal, NULL)) {
            add_unit_once(units, probe_find_unit(h, d->iommu_unit));
        }
    }
    if (!units->len) {
        for (guint i = 0; i < h->devices->len; i++) {
            const ProbeDevice *d = g_ptr_array_index(h->devices, i);
            if (probe_device_is_vfio(d)) {
                add_unit_once(units, probe_find_unit(h, d->iommu_unit));
            }
        }
    }
    if (!units->len) {
        for (guint i = 0; i < h->units->len; i++) {
            add_unit_once(units, g_ptr_array_index(h->units, i));
        }
    }
    return units;
}

/* Guest configuration advice from the capabilities all relevant units share. */
static void advise(const ProbeHost *h, ProbeVerdict *v, const char *example_bdf,
                   int cmdline_scalable)
{
    g_autoptr(GPtrArray) units = relevant_units(h, v->usable);
    bool fs1gp = true, fs5lp = true, srs = true, eafs = true, pasid = true;
    bool dirty = true;
    unsigned pasid_bits = 20, mgaw = 64;
    GString *opts;

    if (!units->len) {
        return;
    }
    for (guint i = 0; i < units->len; i++) {
        const ProbeUnit *u = g_ptr_array_index(units, i);
        VtdCapInfo c;
        VtdEcapInfo e;

        vtd_cap_decode(u->cap, &c);
        vtd_ecap_decode(u->ecap, &e);
        fs1gp &= c.fs1gp;
        fs5lp &= c.fs5lp;
        srs &= e.srs;
        eafs &= e.eafs;
        pasid &= e.pasid;
        pasid_bits = MIN(pasid_bits, e.pasid_bits);
        mgaw = MIN(mgaw, c.mgaw_bits);
        /* iommufd DIRTY_TRACKING on the nest parent: SSADS (+ SMPWCS on
         * recent kernels). */
        dirty &= e.ssads && e.smpwcs;
    }

    opts = g_string_new("-device intel-iommu,scalable-mode=on,flts=on");
    if (!fs1gp) {
        g_string_append(opts, ",fs1gp=off");
    }
    if (mgaw >= GUEST_FS_AW_BITS) {
        g_string_append_printf(opts, ",aw-bits=%u", GUEST_FS_AW_BITS);
    }
    g_string_append(opts, ",caching-mode=on");
    v->guest_options = g_string_free(opts, false);

    if (!fs1gp) {
        add(v->notes, g_strdup("host lacks CAP.FS1GP: keep fs1gp=off (QEMU refuses "
                               "fs1gp=on for a passthrough device on this host)"));
    }
    add(v->notes, g_strdup_printf(
        "aw-bits=%u: the guest first stage is 4-level; host MGAW is %u bits%s%s",
        GUEST_FS_AW_BITS, mgaw,
        mgaw < GUEST_FS_AW_BITS ? " (too narrow: aw-bits may not exceed it)" : "",
        fs5lp ? " and CAP.FS5LP=1, so vtdnest's x-fs5lp=on (57-bit first stage) "
                "is backed too"
              : "; keep x-fs5lp off (host lacks CAP.FS5LP: a 57-bit guest first "
                "stage fails the nested attach with EINVAL)"));
    if (!srs) {
        add(v->notes, g_strdup("host lacks ECAP.SRS: keep x-srs off (a guest PASID "
                               "entry with SRE=1 fails the nested attach with EINVAL)"));
    }
    if (!eafs) {
        add(v->notes, g_strdup("host lacks ECAP.EAFS: keep x-eafs off (a guest PASID "
                               "entry with EAFE=1 fails the nested attach with EINVAL)"));
    }
    if (pasid) {
        add(v->notes, g_strdup_printf("host PASID width is %u bits: keep the "
                                      "guest's pasid-bits at or below it",
                                      pasid_bits));
    } else {
        add(v->notes, g_strdup("host lacks ECAP.PASID: keep pasid-bits=0 "
                               "(RID-only nesting)"));
    }
    add(v->notes, g_strdup_printf("dirty tracking on the nest parent (live "
                                  "migration): %s", dirty ? "supported (SSADS, SMPWCS)"
                                  : "not supported (host lacks ECAP.SSADS or SMPWCS)"));
    if (cmdline_scalable < 0) {
        add(v->notes, g_strdup("scalable mode must also be enabled by the host "
                               "kernel (intel_iommu=sm_on, or the "
                               "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON "
                               "default); sysfs does not show that policy"));
    }
    add(v->notes, g_strdup_printf(
        "ERRATA_772415_SPR17 is reported only through IOMMU_GET_HW_INFO; run `"
        HW_INFO_COMMAND "` to query it", example_bdf));
    add(v->notes, g_strdup(
        "ERRATA_772415_SPR17 (current kernels set it on every VT-d unit): a nest "
        "parent refuses read-only mappings (IOMMU_IOAS_MAP without WRITEABLE, or "
        "a NEST_PARENT HWPT on an IOAS already holding one, fails with EINVAL); "
        "map guest RAM read+write and keep read-only regions (ROM, RO memslots) "
        "out of that IOAS — the device then cannot DMA to them"));
}

ProbeVerdict *probe_verdict(const ProbeHost *h)
{
    ProbeVerdict *v = g_new0(ProbeVerdict, 1);
    g_autoptr(GPtrArray) host = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) local = g_ptr_array_new_with_free_func(g_free);
    const char *example_bdf = "BDF";
    unsigned vtd_units = 0, vfio_devices = 0;
    int cmdline_enabled, cmdline_scalable;

    v->reasons = g_ptr_array_new_with_free_func(g_free);
    v->warnings = g_ptr_array_new_with_free_func(g_free);
    v->notes = g_ptr_array_new_with_free_func(g_free);
    v->usable = g_ptr_array_new_with_free_func(g_free);

    /* Problems of single units and devices ("local") block nesting only when
     * no device is left that can use it. */
    for (guint i = 0; i < h->units->len; i++) {
        const ProbeUnit *u = g_ptr_array_index(h->units, i);
        char *why;

        if (!u->is_vtd) {
            continue;
        }
        vtd_units++;
        if ((why = unit_problem(u))) {
            add(local, why);
        }
    }
    for (guint i = 0; i < h->devices->len; i++) {
        const ProbeDevice *d = g_ptr_array_index(h->devices, i);
        guint before = local->len;

        if (!probe_device_is_vfio(d)) {
            continue;
        }
        if (!vfio_devices++) {
            example_bdf = d->bdf;
        }
        device_problems(h, d, local);
        if (local->len == before) {
            if (!v->usable->len) {
                example_bdf = d->bdf;
            }
            g_ptr_array_add(v->usable, g_strdup(d->bdf));
        }
    }

    parse_cmdline(h->cmdline, &cmdline_enabled, &cmdline_scalable);
    host_reasons(h, vtd_units, cmdline_enabled, cmdline_scalable, host);
    if (!vfio_devices) {
        add(host, g_strdup("no PCI device is bound to vfio-pci (bind one via "
                           "driver_override, see docs/host-probe.md)"));
    }
    v->available = !host->len && v->usable->len;

    for (guint i = 0; i < host->len; i++) {
        add(v->reasons, g_strdup(g_ptr_array_index(host, i)));
    }
    for (guint i = 0; i < local->len; i++) {
        add(v->usable->len ? v->warnings : v->reasons,
            g_strdup(g_ptr_array_index(local, i)));
    }
    for (guint i = 0; i < h->scan_notes->len; i++) {
        add(v->warnings, g_strdup(g_ptr_array_index(h->scan_notes, i)));
    }
    if (h->dev_iommu_present && !h->dev_iommu_usable) {
        add(v->warnings, g_strdup_printf("%s is not readable and writable by "
                                         "this user (the VMM needs both)",
                                         h->dev_iommu));
    }

    advise(h, v, example_bdf, cmdline_scalable);
    return v;
}

void probe_verdict_free(ProbeVerdict *v)
{
    if (!v) {
        return;
    }
    g_ptr_array_unref(v->reasons);
    g_ptr_array_unref(v->warnings);
    g_ptr_array_unref(v->notes);
    g_ptr_array_unref(v->usable);
    g_free(v->guest_options);
    g_free(v);
}
