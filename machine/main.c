/*
 * vtdnest: the reference machine's command line.
 *
 * QEMU's syntax is single-dash long options ("-device intel-iommu,..."). GLib's
 * option parser wants "--device", so each argv element that names one of our
 * options is rewritten first; option values are copied untouched. Every step
 * returns false with a GError whose message names the offending option; main
 * prints it as one line, "vtdnest: <option>: <why>", frees everything and
 * exits with status 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtdnest/machine.h"
#include "vtdnest/opts.h"
#include "vtdnest/pci.h"
#include "vtdnest/servers.h"

#define DEFAULT_RAM_SIZE (128ULL << 20) /* QEMU's default for -m */

typedef struct CmdLine {
    char **machine;
    char *mem;
    char **devices;
    char **objects;
    char *qtest;
    char *qtest_log;
    char **qmp;
    char **chardevs;
    char **mons;
    char *display;
    char *accel;
    char *smp;
    char *net;
    char *audio;
    char *serial;
    char *parallel;
    char *vga;
    char *monitor;
    gboolean nographic;
    gboolean nodefaults;
    gboolean stopped;
    char *icount;
    char *bios;
    gboolean no_shutdown;
    gboolean version;
} CmdLine;

static CmdLine cl;
static bool icount_warp;   /* -icount sleep=off */

static const GOptionEntry option_entries[] = {
    { "machine", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.machine,
      "Machine type and properties (q35 only)", "q35[,accel=qtest]" },
    { "m", 0, 0, G_OPTION_ARG_STRING, &cl.mem,
      "RAM size; a bare number means MiB (default 128M)", "SIZE" },
    { "device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.devices,
      "Add a device (repeatable; 'help' lists them)", "DRIVER[,PROP=VALUE...]" },
    { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.objects,
      "Add an object (repeatable)", "TYPE,id=ID[,PROP=VALUE...]" },
    { "qtest", 0, 0, G_OPTION_ARG_STRING, &cl.qtest,
      "qtest protocol endpoint", "stdio|unix:PATH[,server=on,wait=off]|chardev:ID" },
    { "qtest-log", 0, 0, G_OPTION_ARG_STRING, &cl.qtest_log,
      "Copy qtest traffic to a file", "PATH" },
    { "qmp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.qmp,
      "QMP monitor endpoint (repeatable)", "unix:PATH,server=on,wait=off|stdio" },
    { "chardev", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.chardevs,
      "Character backend (repeatable)", "socket|stdio,id=ID,..." },
    { "mon", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cl.mons,
      "Monitor on a chardev (repeatable)", "chardev=ID[,mode=control]" },
    { "display", 0, 0, G_OPTION_ARG_STRING, &cl.display,
      "Display backend (only 'none')", "none" },
    { "nographic", 0, 0, G_OPTION_ARG_NONE, &cl.nographic,
      "No graphical output (always the case)", NULL },
    { "nodefaults", 0, 0, G_OPTION_ARG_NONE, &cl.nodefaults,
      "Create no default devices (there are none)", NULL },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &cl.accel,
      "Accelerator (only 'qtest')", "qtest" },
    { "smp", 0, 0, G_OPTION_ARG_STRING, &cl.smp,
      "CPU topology (accepted; no CPU is emulated)", "N" },
    { "net", 0, 0, G_OPTION_ARG_STRING, &cl.net, "Only 'none'", "none" },
    { "audio", 0, 0, G_OPTION_ARG_STRING, &cl.audio, "Only 'none'", "none" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &cl.serial, "Only 'none'", "none" },
    { "parallel", 0, 0, G_OPTION_ARG_STRING, &cl.parallel, "Only 'none'", "none" },
    { "vga", 0, 0, G_OPTION_ARG_STRING, &cl.vga, "Only 'none'", "none" },
    { "monitor", 0, 0, G_OPTION_ARG_STRING, &cl.monitor, "Only 'none'", "none" },
    { "icount", 0, 0, G_OPTION_ARG_STRING, &cl.icount,
      "Warp virtual time to the next timer when idle, as QEMU's icount with "
      "a halted CPU (only sleep=off)", "shift=N,sleep=off" },
    { "bios", 0, 0, G_OPTION_ARG_STRING, &cl.bios,
      "Accepted and ignored: vtdnest runs no guest code", "FILE" },
    { "S", 0, 0, G_OPTION_ARG_NONE, &cl.stopped,
      "Start stopped (QMP 'cont' resumes)", NULL },
    { "no-shutdown", 0, 0, G_OPTION_ARG_NONE, &cl.no_shutdown,
      "Accepted for compatibility", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &cl.version, "Print the version", NULL },
    { NULL }
};

/* QEMU options people commonly pass that make no sense without a CPU. */
static const struct {
    const char *name;
    const char *why;
} unsupported_options[] = {
    { "kernel", "vtdnest runs no guest code; drive it with -qtest" },
    { "initrd", "vtdnest runs no guest code; drive it with -qtest" },
    { "append", "vtdnest runs no guest code; drive it with -qtest" },
    { "drive", "vtdnest has no block devices" },
    { "hda", "vtdnest has no block devices" },
    { "cdrom", "vtdnest has no block devices" },
    { "netdev", "vtdnest has no network devices" },
    { "enable-kvm", "vtdnest only supports -accel qtest" },
    { "cpu", "vtdnest emulates no CPU" },
};

static bool fail(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(GError **errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_propagate_error(errp, g_error_new_valist(G_OPTION_ERROR,
                                               G_OPTION_ERROR_BAD_VALUE, fmt, ap));
    va_end(ap);
    return false;
}

static const GOptionEntry *find_entry(const char *name)
{
    for (const GOptionEntry *e = option_entries; e->long_name; e++) {
        if (strcmp(e->long_name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Maps one option word to GLib's long name, or fails with why not. */
static const GOptionEntry *lookup_option(const char *word, GError **errp)
{
    const GOptionEntry *e;

    for (size_t k = 0; k < G_N_ELEMENTS(unsupported_options); k++) {
        if (strcmp(word, unsupported_options[k].name) == 0) {
            fail(errp, "-%s: not supported: %s", word,
                 unsupported_options[k].why);
            return NULL;
        }
    }
    e = find_entry(word);
    if (!e) {
        fail(errp, "-%s: invalid option (see vtdnest -help)", word);
    }
    return e;
}

/*
 * Turn QEMU-style "-word" (and "--word", "-word=value") into GLib's
 * "--word", leaving option values alone even when they start with '-'.
 * "-M" is -machine; "-h"/"-help" is --help. Returns a new NULL-terminated
 * vector in *out.
 */
static bool rewrite_argv(int argc, char **argv, char ***out, GError **errp)
{
    g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(v, g_strdup(argv[0]));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *name, *eq;
        g_autofree char *word = NULL;
        const GOptionEntry *e;

        if (arg[0] != '-' || arg[1] == '\0') {
            return fail(errp, "%s: unexpected argument (options start with '-')",
                        arg);
        }
        name = arg + (arg[1] == '-' ? 2 : 1);
        eq = strchr(name, '=');
        word = eq ? g_strndup(name, eq - name) : g_strdup(name);
        if (strcmp(word, "M") == 0) {
            g_free(word);
            word = g_strdup("machine");
        }
        if (strcmp(word, "h") == 0 || strcmp(word, "help") == 0) {
            g_ptr_array_add(v, g_strdup("--help"));
            continue;
        }
        e = lookup_option(word, errp);
        if (!e) {
            return false;
        }
        g_ptr_array_add(v, g_strdup_printf("--%s%s", word, eq ? eq : ""));
        if (e->arg != G_OPTION_ARG_NONE && !eq) {
            if (i + 1 >= argc) {
                return fail(errp, "-%s: requires an argument", word);
            }
            /* Copied verbatim: a value may itself start with '-'. */
            g_ptr_array_add(v, g_strdup(argv[++i]));
        }
    }
    g_ptr_array_add(v, NULL);
    g_ptr_array_set_free_func(v, NULL);
    *out = (char **)g_ptr_array_free(g_steal_pointer(&v), false);
    return true;
}

static bool parse_command_line(int argc, char **argv, GError **errp)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_auto(GStrv) owned = NULL;
    g_autofree char **args = NULL;
    int nargs;

    if (!rewrite_argv(argc, argv, &owned, errp)) {
        return false;
    }
    /* GOption drops consumed elements from the vector without freeing them,
     * so it gets a shallow copy and the strings are freed from "owned". */
    nargs = (int)g_strv_length(owned);
    args = g_memdup2(owned, (nargs + 1) * sizeof(char *));
    ctx = g_option_context_new("- Intel VT-d reference machine "
                               "(QEMU-style single-dash options)");
    g_option_context_add_main_entries(ctx, option_entries, NULL);
    return g_option_context_parse(ctx, &nargs, &args, errp);
}

static void cmdline_free(void)
{
    char ***arrays[] = { &cl.machine, &cl.devices, &cl.objects, &cl.qmp,
                         &cl.chardevs, &cl.mons };
    char **strings[] = { &cl.mem, &cl.qtest, &cl.qtest_log, &cl.display,
                         &cl.accel, &cl.smp, &cl.net, &cl.audio, &cl.serial,
                         &cl.parallel, &cl.vga, &cl.monitor, &cl.icount,
                         &cl.bios };

    for (size_t i = 0; i < G_N_ELEMENTS(arrays); i++) {
        g_clear_pointer(arrays[i], g_strfreev);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        g_clear_pointer(strings[i], g_free);
    }
}

/* Parse "-OPT ARG" with an implied key, prefixing errors with the option. */
static DeviceOpts *parse_option(const char *opt, const char *arg,
                                const char *implied_key, GError **errp)
{
    DeviceOpts *o = opts_parse(arg, implied_key, errp);

    if (!o) {
        g_prefix_error(errp, "-%s %s: ", opt, arg);
    }
    return o;
}

static bool check_none(const char *opt, const char *value, GError **errp)
{
    if (value && strcmp(value, "none") != 0) {
        return fail(errp, "-%s %s: only '-%s none' is supported", opt, value,
                    opt);
    }
    return true;
}

static bool check_accel(const char *opt, const char *arg, const char *accel,
                        GError **errp)
{
    if (strcmp(accel, "qtest") != 0) {
        return fail(errp, "-%s %s: accelerator '%s' is not supported "
                    "(only 'qtest': vtdnest emulates no CPU)", opt, arg, accel);
    }
    return true;
}

static bool is_help(const char *s)
{
    return s && (strcmp(s, "help") == 0 || strcmp(s, "?") == 0);
}

static bool machine_type_ok(const char *type)
{
    return strcmp(type, "q35") == 0 || g_str_has_prefix(type, "pc-q35-");
}

/* One -machine argument: TYPE[,accel=qtest][,kernel-irqchip=on|off|split]. */
static bool check_machine_arg(const char *arg, bool *help, GError **errp)
{
    g_autoptr(GError) err = NULL;
    DeviceOpts *o = parse_option("machine", arg, "type", errp);
    const char *type, *accel, *irqchip;
    bool ok = false;

    if (!o) {
        return false;
    }
    type = opts_get(o, "type");
    accel = opts_get(o, "accel");
    /* No KVM here: accepted so common VT-d command lines run unchanged. */
    irqchip = opts_get(o, "kernel-irqchip");
    if (is_help(type)) {
        *help = true;
        ok = true;
    } else if (type && !machine_type_ok(type)) {
        fail(errp, "-machine %s: unsupported machine type '%s' "
             "(vtdnest models q35 only; see -machine help)", arg, type);
    } else if (accel && !check_accel("machine", arg, accel, errp)) {
        /* error set */
    } else if (irqchip && strcmp(irqchip, "on") != 0 &&
               strcmp(irqchip, "off") != 0 && strcmp(irqchip, "split") != 0) {
        fail(errp, "-machine %s: Parameter 'kernel-irqchip' expects 'on', "
             "'off' or 'split'", arg);
    } else if (!opts_check_all_used(o, "q35-machine", &err)) {
        fail(errp, "-machine %s: %s", arg, err->message);
    } else {
        ok = true;
    }
    opts_free(o);
    return ok;
}

/* -m SIZE or -m size=SIZE; a bare number means MiB, as in QEMU. */
static bool parse_ram_size(const char *arg, uint64_t *bytes, GError **errp)
{
    g_autoptr(GError) err = NULL;
    DeviceOpts *o;
    const char *size;
    bool ok = false;

    if (!arg) {
        *bytes = DEFAULT_RAM_SIZE;
        return true;
    }
    o = parse_option("m", arg, "size", errp);
    if (!o) {
        return false;
    }
    size = opts_get(o, "size");
    if (!size) {
        fail(errp, "-m %s: missing 'size' value", arg);
    } else if (!opts_check_all_used(o, "memory", &err)) {
        fail(errp, "-m %s: %s (only the RAM size is supported)", arg,
             err->message);
    } else if (!opts_parse_size(size, 1ULL << 20, bytes, &err)) {
        fail(errp, "-m %s: %s", arg, err->message);
    } else {
        ok = true;
    }
    opts_free(o);
    return ok;
}

/* -smp N or -smp cpus=N,...: accepted for compatibility, every count >= 1. */
static bool check_smp(const char *arg, GError **errp)
{
    static const char *const keys[] = { "cpus", "maxcpus", "sockets", "dies",
                                        "clusters", "cores", "threads", NULL };
    g_autoptr(GError) err = NULL;
    DeviceOpts *o;
    bool ok = true;

    if (!arg) {
        return true;
    }
    o = parse_option("smp", arg, "cpus", errp);
    if (!o) {
        return false;
    }
    for (const char *const *k = keys; *k && ok; k++) {
        uint64_t n;
        if (!opts_get_uint(o, OPT_NAMES(*k), 1, 4096, &n, &err)) {
            ok = fail(errp, "-smp %s: %s", arg, err->message);
        } else if (n == 0) {
            ok = fail(errp, "-smp %s: '%s' must be at least 1", arg, *k);
        }
    }
    if (ok && !opts_check_all_used(o, "smp-opts", &err)) {
        ok = fail(errp, "-smp %s: %s", arg, err->message);
    }
    opts_free(o);
    return ok;
}

/*
 * -icount shift=N[,sleep=off][,align=off]: QEMU's instruction counting. With
 * no CPU running, the only observable effect QEMU has with sleep=off is that
 * virtual time warps to the next timer deadline whenever the machine is
 * idle; vtdnest models exactly that. sleep=on (pace virtual time to real
 * time) is refused: the clock here never runs on its own.
 */
static bool check_icount(const char *arg, bool *warp, GError **errp)
{
    g_autoptr(GError) err = NULL;
    const char *shift, *sleep_str;
    DeviceOpts *o;
    bool sleep_on = true, align = false, ok = true;
    uint64_t n;

    *warp = false;
    if (!arg) {
        return true;
    }
    o = parse_option("icount", arg, "shift", errp);
    if (!o) {
        return false;
    }
    shift = opts_get(o, "shift");
    sleep_str = opts_has(o, "sleep") ? opts_get(o, "sleep") : NULL;
    if (shift && strcmp(shift, "auto") != 0 &&
        (!opts_parse_size(shift, 1, &n, &err) || n > 10)) {
        ok = fail(errp, "-icount %s: shift must be 0..10 or auto", arg);
    } else if (sleep_str && !opts_get_bool(o, OPT_NAMES("sleep"), true,
                                           &sleep_on, &err)) {
        ok = fail(errp, "-icount %s: %s", arg, err->message);
    } else if (!opts_get_bool(o, OPT_NAMES("align"), false, &align, &err)) {
        ok = fail(errp, "-icount %s: %s", arg, err->message);
    } else if (!opts_check_all_used(o, "icount", &err)) {
        ok = fail(errp, "-icount %s: %s", arg, err->message);
    } else if (sleep_on) {
        ok = fail(errp, "-icount %s: only sleep=off is supported (the "
                  "virtual clock never runs in real time here)", arg);
    }
    opts_free(o);
    *warp = ok;
    return ok;
}

static void print_machine_help(void)
{
    printf("Supported machines are:\n");
    printf("q35                  Standard PC (Q35 + ICH9) with an Intel VT-d "
           "remapping unit (vtdnest reference machine) (default)\n");
}

/*
 * Everything that can be decided before building the machine. *exit_now is
 * set for "help" requests that were answered.
 */
static bool check_options(bool *exit_now, GError **errp)
{
    bool help = false;

    for (char **p = cl.machine; p && *p; p++) {
        if (!check_machine_arg(*p, &help, errp)) {
            return false;
        }
    }
    if (help) {
        print_machine_help();
        *exit_now = true;
        return true;
    }
    if (cl.accel && !check_accel("accel", cl.accel, cl.accel, errp)) {
        return false;
    }
    if (!check_none("display", cl.display, errp) ||
        !check_none("net", cl.net, errp) ||
        !check_none("audio", cl.audio, errp) ||
        !check_none("serial", cl.serial, errp) ||
        !check_none("parallel", cl.parallel, errp) ||
        !check_none("vga", cl.vga, errp) ||
        !check_none("monitor", cl.monitor, errp) ||
        !check_smp(cl.smp, errp) ||
        !check_icount(cl.icount, &icount_warp, errp)) {
        return false;
    }
    if (cl.qtest_log && !cl.qtest) {
        return fail(errp, "-qtest-log %s: needs -qtest", cl.qtest_log);
    }
    return true;
}

/* "-device help" and "-device DRIVER,help" are answered before building. */
static bool handle_device_help(bool *exit_now, GError **errp)
{
    for (char **p = cl.devices; p && *p && !*exit_now; p++) {
        DeviceOpts *o = opts_parse(*p, "driver", NULL);
        const char *driver;

        if (!o) {
            continue; /* reported when the device is created */
        }
        driver = opts_driver(o);
        if (is_help(driver)) {
            machine_print_device_help();
            *exit_now = true;
        } else if (opts_has(o, "help")) {
            if (!device_type_find(driver)) {
                opts_free(o);
                return fail(errp, "-device %s: '%s' is not a valid device "
                            "model name", *p, driver ? driver : "");
            }
            const DeviceType *t = device_type_find(driver);

            if (t->print_help) {
                t->print_help();
            } else {
                printf("%s: see docs/options.md for its properties\n", driver);
            }
            *exit_now = true;
        }
        opts_free(o);
    }
    return true;
}

static bool create_chardevs(GError **errp)
{
    for (char **p = cl.chardevs; p && *p; p++) {
        if (!chardev_create(*p, errp)) {
            g_prefix_error(errp, "-chardev %s: ", *p);
            return false;
        }
    }
    return true;
}

/* -object and -device share the flow: parse, create, reject leftovers. */
static bool create_all(Machine *m, char **list, const char *opt,
                       const char *implied_key,
                       bool (*create)(Machine *, DeviceOpts *, GError **),
                       GError **errp)
{
    for (char **p = list; p && *p; p++) {
        DeviceOpts *o = parse_option(opt, *p, implied_key, errp);
        bool ok;

        if (!o) {
            return false;
        }
        ok = create(m, o, errp);
        opts_free(o);
        if (!ok) {
            g_prefix_error(errp, "-%s %s: ", opt, *p);
            return false;
        }
    }
    return true;
}

/* Last, so that a client never connects to a machine that failed to build. */
static bool start_servers(Machine *m, GError **errp)
{
    if (cl.qtest && !qtest_server_init(m, cl.qtest, cl.qtest_log, errp)) {
        g_prefix_error(errp, "-qtest %s: ", cl.qtest);
        return false;
    }
    for (char **p = cl.qmp; p && *p; p++) {
        if (!qmp_server_init(m, *p, errp)) {
            g_prefix_error(errp, "-qmp %s: ", *p);
            return false;
        }
    }
    for (char **p = cl.mons; p && *p; p++) {
        if (!qmp_monitor_init(m, *p, errp)) {
            g_prefix_error(errp, "-mon %s: ", *p);
            return false;
        }
    }
    return true;
}

/* Build the machine and its devices, in QEMU's order. */
static bool build_machine(Machine **out, GError **errp)
{
    uint64_t ram_size;
    Machine *m;

    if (!parse_ram_size(cl.mem, &ram_size, errp)) {
        return false;
    }
    m = machine_new(ram_size, errp);
    if (!m) {
        g_prefix_error(errp, "-m %s: ", cl.mem ? cl.mem : "128M");
        return false;
    }
    *out = m;
    machine_set_idle_warp(m, icount_warp);
    pci_root_bus_new(m);    /* becomes machine_pci_root(m) */

    /* Chardevs first (-mon and -qtest refer to them), -object before -device. */
    if (!create_chardevs(errp) ||
        !create_all(m, cl.objects, "object", "qom-type", machine_create_object,
                    errp) ||
        !create_all(m, cl.devices, "device", "driver", machine_create_device,
                    errp)) {
        return false;
    }
    /* Power-on reset once everything is plugged, as QEMU does at startup. */
    machine_system_reset(m);
    if (cl.stopped) {
        machine_set_running(m, false);
    }
    return start_servers(m, errp);
}

static void machine_teardown(Machine *m)
{
    struct PCIBus *root;

    if (!m) {
        return;
    }
    /*
     * Devices go first, while the IOMMU and iommufd objects they point at
     * still exist: machine_free's cleanup hooks run newest first, which
     * would free the PCI tree (registered before any device) last.
     * pci_root_bus_free also clears the machine's root, so its hook is then
     * a no-op.
     */
    root = machine_pci_root(m);
    if (root) {
        pci_root_bus_free(root);
    }
    machine_free(m);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    Machine *m = NULL;
    bool exit_now = false;
    int status = 1;

    if (!parse_command_line(argc, argv, &err) ||
        !check_options(&exit_now, &err)) {
        goto out;
    }
    if (cl.version) {
        printf("vtdnest version 0.1.0\n");
        exit_now = true;
    }
    if (!exit_now && !handle_device_help(&exit_now, &err)) {
        goto out;
    }
    if (exit_now) {
        status = 0;
        goto out;
    }
    if (!cl.qtest && !cl.qmp && !cl.mons) {
        fail(&err, "nothing to drive the machine: give -qtest and/or -qmp "
             "(vtdnest runs no guest code)");
        goto out;
    }
    if (!build_machine(&m, &err)) {
        goto out;
    }
    servers_run(m);
    status = 0;

out:
    if (err) {
        fprintf(stderr, "vtdnest: %s\n", err->message);
    }
    machine_teardown(m);
    cmdline_free();
    return status;
}
