/*
 * Device and object types, and creating them from -device / -object options.
 *
 * Types register themselves from constructors (DEVICE_TYPE_REGISTER), so the
 * registry is a process-wide list that exists before main() runs. Object types
 * share it under the name prefix "object:" so that "-device iommufd" and
 * "-object iommufd" cannot be confused.
 */
#include "vtdnest/machine.h"

#include <stdio.h>
#include <string.h>

#define OBJECT_PREFIX "object:"

/* The type string under which -device ids are recorded in the machine. */
#define DEVICE_ID_TYPE "device"
#define OBJECT_ID_TYPE "object"

static GPtrArray *device_types; /* of const DeviceType* */

void device_type_register(const DeviceType *type)
{
    if (!device_types) {
        device_types = g_ptr_array_new();
    }
    /* Two types with one name is a build mistake, not a user error. */
    g_assert(!device_type_find(type->name));
    g_ptr_array_add(device_types, (gpointer)type);
}

const DeviceType *device_type_find(const char *name)
{
    if (!device_types || !name) {
        return NULL;
    }
    for (guint i = 0; i < device_types->len; i++) {
        const DeviceType *t = g_ptr_array_index(device_types, i);
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

static gint type_cmp_name(gconstpointer a, gconstpointer b)
{
    const DeviceType *x = *(const DeviceType *const *)a;
    const DeviceType *y = *(const DeviceType *const *)b;

    return strcmp(x->name, y->name);
}

void device_type_foreach(void (*fn)(const DeviceType *t, void *opaque),
                         void *opaque)
{
    GPtrArray *sorted;

    if (!device_types) {
        return;
    }
    /* Name order, so "-device help" output is stable across link orders. */
    sorted = g_ptr_array_copy(device_types, NULL, NULL);
    g_ptr_array_sort(sorted, type_cmp_name);
    for (guint i = 0; i < sorted->len; i++) {
        fn(g_ptr_array_index(sorted, i), opaque);
    }
    g_ptr_array_free(sorted, true);
}

static bool is_object_type(const DeviceType *t)
{
    return g_str_has_prefix(t->name, OBJECT_PREFIX);
}

static void print_one_type(const DeviceType *t, void *opaque)
{
    bool want_objects = GPOINTER_TO_INT(opaque);

    if (is_object_type(t) != want_objects) {
        return;
    }
    printf("name \"%s\"%s%s%s\n",
           want_objects ? t->name + strlen(OBJECT_PREFIX) : t->name,
           t->desc ? ", desc \"" : "", t->desc ? t->desc : "",
           t->desc ? "\"" : "");
}

void machine_print_device_help(void)
{
    device_type_foreach(print_one_type, GINT_TO_POINTER(false));
}

/* QEMU ids: a letter first, then letters, digits, '-', '.', '_'. */
static bool id_is_valid(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return false;
        }
    }
    return true;
}

/* Validate an id= and check it is free in its namespace. */
static bool check_new_id(Machine *m, const char *id, const char *ns,
                         GError **errp)
{
    if (!id_is_valid(id)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'id' expects an identifier (got '%s'): "
                    "a letter, then letters, digits, '-', '.' or '_'", id);
        return false;
    }
    if (machine_find_object(m, id, ns)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Duplicate ID '%s' for %s", id, ns);
        return false;
    }
    return true;
}

bool machine_create_device(Machine *m, DeviceOpts *opts, GError **errp)
{
    const char *driver = opts_driver(opts);
    const DeviceType *t;
    const char *id;

    if (!driver || !*driver) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'driver' is missing");
        return false;
    }
    t = device_type_find(driver);
    if (!t || is_object_type(t)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a valid device model name "
                    "(try -device help)", driver);
        return false;
    }
    /* Consumed here; the device model may read id= again (pci does). */
    id = opts_has(opts, "id") ? opts_get(opts, "id") : NULL;
    if (id && !check_new_id(m, id, DEVICE_ID_TYPE, errp)) {
        return false;
    }
    if (!t->create(m, opts, errp)) {
        return false;
    }
    /*
     * A property the model never read is a typo. The model has already been
     * built at this point; like QEMU, startup then fails as a whole.
     */
    if (!opts_check_all_used(opts, t->name, errp)) {
        /* Undo what we can, so a failed device_add leaves nothing behind.
         * The id is not recorded yet, so the registry needs no undo. */
        if (id && t->destroy) {
            t->destroy(m, id, NULL);
        }
        return false;
    }
    if (id) {
        machine_add_object(m, id, DEVICE_ID_TYPE, (void *)t);
    }
    return true;
}

bool machine_create_object(Machine *m, DeviceOpts *opts, GError **errp)
{
    const char *type_name = opts_driver(opts);
    g_autofree char *full = NULL;
    const DeviceType *t;
    const char *id;

    if (!type_name || !*type_name) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'qom-type' is missing");
        return false;
    }
    full = g_strconcat(OBJECT_PREFIX, type_name, NULL);
    t = device_type_find(full);
    if (!t) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Invalid object type '%s'", type_name);
        return false;
    }
    id = opts_get(opts, "id");
    if (!id) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'id' is missing");
        return false;
    }
    if (!check_new_id(m, id, OBJECT_ID_TYPE, errp)) {
        return false;
    }
    if (!t->create(m, opts, errp)) {
        return false;
    }
    if (!opts_check_all_used(opts, type_name, errp)) {
        return false;
    }
    machine_add_object(m, id, OBJECT_ID_TYPE, (void *)t);
    return true;
}

const char *machine_device_driver(Machine *m, const char *id)
{
    const DeviceType *t = machine_find_object(m, id, DEVICE_ID_TYPE);

    return t ? t->name : NULL;
}

bool machine_destroy_device(Machine *m, const char *id, GError **errp)
{
    const DeviceType *t = machine_find_object(m, id, DEVICE_ID_TYPE);

    if (!t) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s' not found", id);
        return false;
    }
    if (!t->hotpluggable || !t->destroy) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s' (%s) does not support hot-unplug", id, t->name);
        return false;
    }
    if (!t->destroy(m, id, errp)) {
        return false;
    }
    /* Only the device's entry: an -object may use the same id. */
    machine_remove_object_of_type(m, id, DEVICE_ID_TYPE);
    return true;
}
