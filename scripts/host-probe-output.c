/*
 * The probe's two output formats. Text is for a person at a terminal (the
 * verdict lines are meant to be grepped); JSON carries the same facts for
 * scripts (field list: docs/host-probe.md).
 */
#include "host-probe.h"
#include "vtd-cap-decode.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define WRAP_COLUMN 96

/* Append tokens separated by two spaces, wrapping lines at WRAP_COLUMN. */
static void append_wrapped(GString *out, const char *indent, GPtrArray *tokens)
{
    size_t col = 0;

    for (guint i = 0; i < tokens->len; i++) {
        const char *t = g_ptr_array_index(tokens, i);
        if (col && col + 2 + strlen(t) > WRAP_COLUMN) {
            g_string_append_c(out, '\n');
            col = 0;
        }
        if (!col) {
            g_string_append(out, indent);
            col = strlen(indent);
        } else {
            g_string_append(out, "  ");
            col += 2;
        }
        g_string_append(out, t);
        col += strlen(t);
    }
    if (col) {
        g_string_append_c(out, '\n');
    }
}

/* Multi-bit fields with their meaning, then the flags that are set and clear. */
static void append_register(GString *out, const char *label, uint64_t reg,
                            const VtdRegField *fields, size_t count)
{
    g_autoptr(GPtrArray) numbers = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) set = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) clear = g_ptr_array_new_with_free_func(g_free);
    const char *indent = "         ";

    g_string_append_printf(out, "    %-4s 0x%016" G_GINT64_MODIFIER "x\n", label, reg);
    for (size_t i = 0; i < count; i++) {
        const VtdRegField *f = &fields[i];
        if (f->kind != VTD_FIELD_FLAG) {
            g_ptr_array_add(numbers, vtd_field_format(reg, f));
        } else {
            g_ptr_array_add(vtd_field_get(reg, f) ? set : clear, g_strdup(f->name));
        }
    }
    append_wrapped(out, indent, numbers);
    g_ptr_array_insert(set, 0, g_strdup("set:"));
    g_ptr_array_insert(clear, 0, g_strdup("clear:"));
    append_wrapped(out, indent, set);
    append_wrapped(out, indent, clear);
}

static void append_unit(GString *out, const ProbeUnit *u)
{
    const char *missing[VTD_NESTING_PREREQS];
    unsigned n;

    if (!u->is_vtd) {
        g_string_append_printf(out, "  %s: not an Intel VT-d unit\n", u->name);
        return;
    }
    g_string_append_printf(out, "  %s: Intel VT-d", u->name);
    if (u->version_ok) {
        g_string_append_printf(out, " %u.%u", u->ver_major, u->ver_minor);
    }
    if (u->address_ok) {
        g_string_append_printf(out, ", registers at 0x%" G_GINT64_MODIFIER "x",
                               u->address);
    }
    g_string_append_c(out, '\n');
    if (!u->regs_ok) {
        g_string_append_printf(out, "    capabilities unreadable: %s\n", u->regs_error);
        return;
    }
    append_register(out, "CAP", u->cap, vtd_cap_fields, vtd_cap_field_count);
    append_register(out, "ECAP", u->ecap, vtd_ecap_fields, vtd_ecap_field_count);
    n = vtd_nesting_missing(u->ecap, missing);
    if (!n) {
        g_string_append(out, "    nesting prerequisites (SMTS NEST FSTS SSTS): present\n");
    } else {
        g_string_append(out, "    nesting prerequisites (SMTS NEST FSTS SSTS): missing");
        for (unsigned i = 0; i < n; i++) {
            g_string_append_printf(out, " %s", missing[i]);
        }
        g_string_append_c(out, '\n');
    }
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static void append_device(GString *out, const ProbeDevice *d)
{
    g_autofree char *ids = d->ids_ok ? g_strdup_printf("%04x:%04x", d->vendor, d->device)
                                     : g_strdup("?");
    g_autofree char *cls = d->ids_ok ? g_strdup_printf("%06x", d->class_code)
                                     : g_strdup("?");
    g_autofree char *cdev = NULL;

    if (d->vfio_cdev) {
        cdev = g_strdup_printf("%s%s", d->vfio_cdev,
                               d->vfio_cdev_present ? "" : " (missing)");
    }
    g_string_append_printf(out, "  %-13s %-10s %-7s %-6s %-15s %-7s %s\n", d->bdf, ids,
                           cls, or_dash(d->iommu_group), or_dash(d->driver),
                           or_dash(d->iommu_unit), or_dash(cdev));
    if (d->vendor_name || d->device_name || d->class_name) {
        GString *names = g_string_new("               ");
        if (d->class_name) {
            g_string_append_printf(names, " %s:", d->class_name);
        }
        if (d->vendor_name) {
            g_string_append_printf(names, " %s", d->vendor_name);
        }
        if (d->device_name) {
            g_string_append_printf(names, " %s", d->device_name);
        }
        g_string_append_printf(out, "%s\n", names->str);
        g_string_free(names, true);
    }
}

char *probe_format_text(const ProbeHost *h, const ProbeVerdict *v)
{
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "vtdnest host probe: sysfs %s, dev %s, PCI devices via %s\n\n",
                           h->sysfs_root, h->dev_root, h->enumerator);

    g_string_append_printf(out, "IOMMU units (%s/class/iommu):\n", h->sysfs_root);
    if (!h->units->len) {
        g_string_append(out, "  none\n");
    }
    for (guint i = 0; i < h->units->len; i++) {
        append_unit(out, g_ptr_array_index(h->units, i));
    }

    g_string_append_printf(out, "\nPCI devices (%u):\n", h->devices->len);
    if (h->devices->len) {
        g_string_append_printf(out, "  %-13s %-10s %-7s %-6s %-15s %-7s %s\n", "BDF",
                               "ID", "class", "group", "driver", "IOMMU", "vfio cdev");
    }
    for (guint i = 0; i < h->devices->len; i++) {
        append_device(out, g_ptr_array_index(h->devices, i));
    }

    g_string_append_printf(out, "\n%s: %s\n", h->dev_iommu,
                           !h->dev_iommu_present ? "missing"
                           : h->dev_iommu_usable ? "present" : "present, not accessible");
    if (v->available) {
        g_string_append(out, "nested translation: available for");
        for (guint i = 0; i < v->usable->len; i++) {
            g_string_append_printf(out, " %s", (char *)g_ptr_array_index(v->usable, i));
        }
        g_string_append_c(out, '\n');
    }
    for (guint i = 0; i < v->reasons->len; i++) {
        g_string_append_printf(out, "nested translation: NOT available — %s\n",
                               (char *)g_ptr_array_index(v->reasons, i));
    }
    for (guint i = 0; i < v->warnings->len; i++) {
        g_string_append_printf(out, "warning: %s\n", (char *)g_ptr_array_index(v->warnings, i));
    }
    if (v->guest_options) {
        g_string_append_printf(out, "recommend: use %s\n", v->guest_options);
    }
    for (guint i = 0; i < v->notes->len; i++) {
        g_string_append_printf(out, "note: %s\n", (char *)g_ptr_array_index(v->notes, i));
    }
    return g_string_free(out, false);
}

/* JSON helpers: a member whose value may be absent (null). */
static void member_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value) {
        json_builder_add_string_value(b, value);
    } else {
        json_builder_add_null_value(b);
    }
}

static void member_bool(JsonBuilder *b, const char *name, bool value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

static void member_int(JsonBuilder *b, const char *name, int64_t value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

static void member_strings(JsonBuilder *b, const char *name, GPtrArray *list)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (guint i = 0; i < list->len; i++) {
        json_builder_add_string_value(b, g_ptr_array_index(list, i));
    }
    json_builder_end_array(b);
}

static void member_hex(JsonBuilder *b, const char *name, bool ok, uint64_t value)
{
    g_autofree char *s = ok ? g_strdup_printf("0x%016" G_GINT64_MODIFIER "x", value) : NULL;

    member_string(b, name, s);
}

/* Raw value of every field, keyed by mnemonic. */
static void member_fields(JsonBuilder *b, const char *name, uint64_t reg,
                          const VtdRegField *fields, size_t count)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    for (size_t i = 0; i < count; i++) {
        member_int(b, fields[i].name, (int64_t)vtd_field_get(reg, &fields[i]));
    }
    json_builder_end_object(b);
}

static void json_unit(JsonBuilder *b, const ProbeUnit *u)
{
    json_builder_begin_object(b);
    member_string(b, "name", u->name);
    member_bool(b, "vtd", u->is_vtd);
    if (u->is_vtd) {
        g_autofree char *ver = u->version_ok
            ? g_strdup_printf("%u.%u", u->ver_major, u->ver_minor) : NULL;
        member_string(b, "version", ver);
        member_hex(b, "address", u->address_ok, u->address);
        member_hex(b, "cap", u->regs_ok, u->cap);
        member_hex(b, "ecap", u->regs_ok, u->ecap);
        member_string(b, "error", u->regs_error);
    }
    if (u->is_vtd && u->regs_ok) {
        const char *missing[VTD_NESTING_PREREQS];
        unsigned n = vtd_nesting_missing(u->ecap, missing);
        VtdCapInfo c;
        VtdEcapInfo e;

        vtd_cap_decode(u->cap, &c);
        vtd_ecap_decode(u->ecap, &e);
        member_fields(b, "cap_fields", u->cap, vtd_cap_fields, vtd_cap_field_count);
        member_fields(b, "ecap_fields", u->ecap, vtd_ecap_fields, vtd_ecap_field_count);
        json_builder_set_member_name(b, "decoded");
        json_builder_begin_object(b);
        member_int(b, "domains", c.num_domains);
        member_int(b, "mgaw_bits", c.mgaw_bits);
        json_builder_set_member_name(b, "sagaw_bits");
        json_builder_begin_array(b);
        if (c.sagaw_39) {
            json_builder_add_int_value(b, 39);
        }
        if (c.sagaw_48) {
            json_builder_add_int_value(b, 48);
        }
        if (c.sagaw_57) {
            json_builder_add_int_value(b, 57);
        }
        json_builder_end_array(b);
        member_int(b, "fault_recording_offset", c.fro_offset);
        member_int(b, "fault_records", c.nfr);
        member_int(b, "iotlb_offset", e.iro_offset);
        member_int(b, "pasid_bits", e.pasid_bits);
        json_builder_end_object(b);
        member_bool(b, "nesting_capable", n == 0);
        json_builder_set_member_name(b, "nesting_missing");
        json_builder_begin_array(b);
        for (unsigned i = 0; i < n; i++) {
            json_builder_add_string_value(b, missing[i]);
        }
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
}

static void json_device(JsonBuilder *b, const ProbeDevice *d, const ProbeVerdict *v)
{
    g_autofree char *vendor = d->ids_ok ? g_strdup_printf("%04x", d->vendor) : NULL;
    g_autofree char *device = d->ids_ok ? g_strdup_printf("%04x", d->device) : NULL;
    g_autofree char *cls = d->ids_ok ? g_strdup_printf("%06x", d->class_code) : NULL;

    json_builder_begin_object(b);
    member_string(b, "bdf", d->bdf);
    member_string(b, "vendor", vendor);
    member_string(b, "device", device);
    member_string(b, "class", cls);
    member_string(b, "vendor_name", d->vendor_name);
    member_string(b, "device_name", d->device_name);
    member_string(b, "class_name", d->class_name);
    member_string(b, "iommu_group", d->iommu_group);
    member_string(b, "driver", d->driver);
    member_string(b, "iommu_unit", d->iommu_unit);
    member_string(b, "vfio_cdev", d->vfio_cdev);
    member_bool(b, "vfio_cdev_present", d->vfio_cdev_present);
    member_bool(b, "vfio", probe_device_is_vfio(d));
    member_bool(b, "nesting_usable",
                g_ptr_array_find_with_equal_func(v->usable, d->bdf, g_str_equal, NULL));
    json_builder_end_object(b);
}

char *probe_format_json(const ProbeHost *h, const ProbeVerdict *v)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    char *text;

    json_builder_begin_object(b);
    member_string(b, "sysfs_root", h->sysfs_root);
    member_string(b, "dev_root", h->dev_root);
    member_string(b, "proc_root", h->proc_root);
    member_string(b, "enumerator", h->enumerator);
    json_builder_set_member_name(b, "dev_iommu");
    json_builder_begin_object(b);
    member_string(b, "path", h->dev_iommu);
    member_bool(b, "present", h->dev_iommu_present);
    member_bool(b, "usable", h->dev_iommu_usable);
    json_builder_end_object(b);
    member_bool(b, "iommufd_module", h->iommufd_module);

    json_builder_set_member_name(b, "units");
    json_builder_begin_array(b);
    for (guint i = 0; i < h->units->len; i++) {
        json_unit(b, g_ptr_array_index(h->units, i));
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (guint i = 0; i < h->devices->len; i++) {
        json_device(b, g_ptr_array_index(h->devices, i), v);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "verdict");
    json_builder_begin_object(b);
    member_string(b, "nested_translation", v->available ? "available" : "not available");
    member_bool(b, "available", v->available);
    member_strings(b, "reasons", v->reasons);
    member_strings(b, "warnings", v->warnings);
    member_strings(b, "notes", v->notes);
    member_strings(b, "usable_devices", v->usable);
    member_string(b, "guest_options", v->guest_options);
    json_builder_end_object(b);
    json_builder_end_object(b);

    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, true);
    text = json_generator_to_data(gen, NULL);
    return text;
}
