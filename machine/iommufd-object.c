/*
 * -object iommufd (the VMM's iommufd), -object iommufd-sim-unit and
 * -object iommufd-sim-device (simulated host hardware behind a sim=on
 * iommufd), and the x-vtdnest-iommufd-fail-nth qtest command.
 *
 * Lifetime: the machine holds one reference, dropped by its cleanup hook;
 * each passthrough device holds another, so a device torn down after the
 * machine's cleanup hooks (unit tests free the PCI tree last) still finds its
 * backend and simulator alive.
 */
#include "vtdnest/iommufd-object.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vtdnest/servers.h"

struct IommufdObject {
    int refcount;
    char *id;
    IommufdSim *sim;              /* sim=on; owns its transport */
    IommufdTransport *real;       /* the kernel transport otherwise */
    int inherited_fd;             /* fd=N (not owned), or -1 */
    IommufdBackend *be;           /* NULL until first use */
};

static void iommufd_object_free(IommufdObject *o)
{
    iommufd_backend_close(o->be);
    iommufd_transport_free(o->real);
    iommufd_sim_free(o->sim);
    g_free(o->id);
    g_free(o);
}

IommufdObject *iommufd_object_ref(IommufdObject *o)
{
    o->refcount++;
    return o;
}

void iommufd_object_unref(IommufdObject *o)
{
    if (o && --o->refcount == 0) {
        iommufd_object_free(o);
    }
}

const char *iommufd_object_id(const IommufdObject *o)
{
    return o->id;
}

IommufdSim *iommufd_object_sim(IommufdObject *o)
{
    return o->sim;
}

IommufdObject *iommufd_object_find(Machine *m, const char *id, GError **errp)
{
    IommufdObject *o = id ? machine_find_object(m, id, IOMMUFD_OBJECT_TYPE) : NULL;

    if (!o) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "No iommufd object with id '%s' (declare it first with "
                    "-object iommufd,id=%s)", id ? id : "", id ? id : "ID");
    }
    return o;
}

IommufdBackend *iommufd_object_backend(IommufdObject *o, GError **errp)
{
    IommufdTransport *t = o->sim ? iommufd_sim_transport(o->sim) : o->real;

    if (o->be) {
        return o->be;
    }
    if (o->inherited_fd >= 0) {
        /* The backend closes what it holds: give it a private duplicate. */
        int fd = fcntl(o->inherited_fd, F_DUPFD_CLOEXEC, 0);

        if (fd < 0) {
            int err = errno;
            g_set_error(errp, IOMMUFD_ERROR, err,
                        "iommufd '%s': cannot duplicate fd %d: %s", o->id,
                        o->inherited_fd, g_strerror(err));
            return NULL;
        }
        o->be = iommufd_backend_new_from_fd(t, fd);
        return o->be;
    }
    o->be = iommufd_backend_open(t, errp);
    if (!o->be) {
        g_prefix_error(errp, "iommufd '%s': ", o->id);
    }
    return o->be;
}

static void iommufd_object_cleanup(void *opaque)
{
    iommufd_object_unref(opaque);
}

/* ---- -object iommufd ---------------------------------------------------- */

static bool iommufd_object_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    const char *id = opts_get(opts, "id");
    bool sim;
    uint64_t fd = 0;
    bool has_fd = opts_has(opts, "fd");
    IommufdObject *o;

    if (!opts_get_bool(opts, OPT_NAMES("sim"), false, &sim, errp) ||
        !opts_get_uint(opts, OPT_NAMES("fd"), 0, INT32_MAX, &fd, errp)) {
        return false;
    }
    if (sim && has_fd) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "iommufd '%s': fd= and sim=on cannot be combined (the "
                    "simulator has no kernel file descriptor)", id);
        return false;
    }
    if (has_fd && fcntl((int)fd, F_GETFD) < 0) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "iommufd '%s': fd=%d is not an open file descriptor (the "
                    "parent process must pass an open /dev/iommu to vtdnest)",
                    id, (int)fd);
        return false;
    }
    o = g_new0(IommufdObject, 1);
    o->refcount = 1;
    o->id = g_strdup(id);
    o->inherited_fd = has_fd ? (int)fd : -1;
    if (sim) {
        o->sim = iommufd_sim_new();
    } else {
        o->real = iommufd_real_transport_new(NULL);
    }
    machine_add_object(m, id, IOMMUFD_OBJECT_TYPE, o);
    machine_register_cleanup(m, iommufd_object_cleanup, o);
    return true;
}

static const DeviceType iommufd_object_type = {
    .name = "object:iommufd",
    .desc = "An iommufd for passthrough devices (sim=on: simulated host)",
    .create = iommufd_object_create,
};
DEVICE_TYPE_REGISTER(iommufd_object_type)

/* ---- simulated host hardware -------------------------------------------- */

/* The sim=on iommufd named by iommufd=. */
static IommufdSim *sim_of(Machine *m, DeviceOpts *opts, const char *what,
                          GError **errp)
{
    const char *fd_id = opts_get(opts, "iommufd");
    IommufdObject *o;

    if (!fd_id) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: Parameter 'iommufd' is missing (the id of an "
                    "-object iommufd,sim=on)", what);
        return NULL;
    }
    o = iommufd_object_find(m, fd_id, errp);
    if (!o) {
        return NULL;
    }
    if (!o->sim) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: iommufd '%s' talks to the real kernel; simulated "
                    "hardware needs -object iommufd,id=%s,sim=on", what, fd_id,
                    fd_id);
        return NULL;
    }
    return o->sim;
}

/*
 * Rebuild "key=value,..." for the simulator from the keys it understands.
 * Keys not listed stay unread, so the machine rejects them as unknown. A
 * -object option cannot repeat a key, so several RMRRs are joined with ':'.
 */
static char *sim_option_text(DeviceOpts *opts, const char *const *keys)
{
    GString *s = g_string_new(NULL);

    for (const char *const *k = keys; *k; k++) {
        const char *v = opts_has(opts, *k) ? opts_get(opts, *k) : NULL;

        if (!v) {
            continue;
        }
        if (!strcmp(*k, "rmrr")) {
            g_auto(GStrv) ranges = g_strsplit(v, ":", -1);
            for (char **r = ranges; *r; r++) {
                g_string_append_printf(s, "%srmrr=%s", s->len ? "," : "", *r);
            }
            continue;
        }
        g_string_append_printf(s, "%s%s=%s", s->len ? "," : "", *k, v);
    }
    return g_string_free(s, false);
}

static bool sim_unit_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    static const char *const keys[] = {
        "id", "aw", "nesting", "fs5lp", "fs1gp", "srs", "eafs", "sc", "dirty",
        "pasid", "pasid-bits", "errata", "prs", "mamv", NULL,
    };
    IommufdSim *sim = sim_of(m, opts, "iommufd-sim-unit", errp);
    g_autofree char *text = NULL;

    if (!sim) {
        return false;
    }
    text = sim_option_text(opts, keys);
    /* Unknown keys are errors before the simulator changes. */
    if (!opts_check_all_used(opts, "iommufd-sim-unit", errp)) {
        return false;
    }
    return iommufd_sim_add_unit(sim, text, errp);
}

static bool sim_device_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    static const char *const keys[] = {
        "host", "unit", "group", "coherent", "pasid", "ats", "pri", "rmrr", NULL,
    };
    IommufdSim *sim = sim_of(m, opts, "iommufd-sim-device", errp);
    g_autofree char *text = NULL;

    if (!sim) {
        return false;
    }
    text = sim_option_text(opts, keys);
    /* Unknown keys are errors before the simulator changes. */
    if (!opts_check_all_used(opts, "iommufd-sim-device", errp)) {
        return false;
    }
    return iommufd_sim_add_device(sim, text, errp);
}

static const DeviceType sim_unit_type = {
    .name = "object:iommufd-sim-unit",
    .desc = "A simulated host VT-d unit behind an iommufd,sim=on",
    .create = sim_unit_create,
};
DEVICE_TYPE_REGISTER(sim_unit_type)

static const DeviceType sim_device_type = {
    .name = "object:iommufd-sim-device",
    .desc = "A simulated host PCI device (bound to vfio-pci) behind a unit",
    .create = sim_device_create,
};
DEVICE_TYPE_REGISTER(sim_device_type)

/* ---- x-vtdnest-iommufd-fail-nth ID N ERRNO ------------------------------ */

/* "EBUSY", "16" or "-16" -> 16; 0 when not an errno. */
static int parse_errno(const char *s)
{
    char *end;
    long v;

    if (g_ascii_isalpha(s[0])) {
        for (int e = 1; e < 256; e++) {
            if (!g_ascii_strcasecmp(iommufd_errno_name(e), s)) {
                return e;
            }
        }
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno || *end || v == 0 || v < -4095 || v > 4095) {
        return 0;
    }
    return v < 0 ? -v : v;
}

static char *qtest_fail_nth(Machine *m, char **words, void *opaque)
{
    g_autoptr(GError) err = NULL;
    IommufdObject *o;
    guint64 n;
    int e;

    if (g_strv_length(words) != 4) {
        return g_strdup("FAIL usage: x-vtdnest-iommufd-fail-nth ID N ERRNO");
    }
    o = iommufd_object_find(m, words[1], &err);
    if (!o) {
        return g_strdup_printf("FAIL %s", err->message);
    }
    if (!o->sim) {
        return g_strdup_printf("FAIL iommufd '%s' is not simulated (sim=on): "
                               "only the simulator can inject failures",
                               words[1]);
    }
    if (!g_ascii_string_to_unsigned(words[2], 10, 0, G_MAXUINT, &n, NULL)) {
        return g_strdup_printf("FAIL N must be a decimal count (0 cancels), "
                               "not '%s'", words[2]);
    }
    e = parse_errno(words[3]);
    if (!e) {
        return g_strdup_printf("FAIL ERRNO must be an errno number or name "
                               "such as EBUSY, not '%s'", words[3]);
    }
    iommufd_sim_fail_nth(o->sim, (unsigned)n, e);
    return g_strdup("OK");
}

static void __attribute__((constructor)) iommufd_object_register_commands(void)
{
    qtest_register_command("x-vtdnest-iommufd-fail-nth", qtest_fail_nth, NULL);
}
