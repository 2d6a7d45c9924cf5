/*
 * Machine glue for nesting: the RAM source (machine_foreach_ram) and the
 * state report over QMP and qtest. The work is in hw/intel-iommu.
 */
#include <json-glib/json-glib.h>

#include "machine/intel-iommu-nesting.h"
#include "vtdnest/servers.h"

#define NEST_ID   "intel-iommu"
#define NEST_TYPE "x-vtdnest-nesting"

typedef struct RamWalk {
    VtdRamBlockFn fn;
    void *ctx;
    GError **errp;
    bool ok;
} RamWalk;

static void ram_block(void *opaque, uint64_t gpa, uint64_t size, uint8_t *host,
                      bool readonly)
{
    RamWalk *w = opaque;

    /* machine_foreach_ram cannot stop: skip the rest after a failure. */
    if (w->ok) {
        w->ok = w->fn(w->ctx, gpa, size, host, readonly, w->errp);
    }
}

static bool ram_foreach(void *opaque, VtdRamBlockFn fn, void *ctx, GError **errp)
{
    RamWalk w = { .fn = fn, .ctx = ctx, .errp = errp, .ok = true };

    machine_foreach_ram(opaque, ram_block, &w);
    return w.ok;
}

static JsonNode *report_json(Machine *m, GError **errp)
{
    VtdState *s = machine_find_object(m, NEST_ID, NEST_TYPE);
    GVariant *v;
    JsonNode *node;

    if (!s) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "No intel-iommu device is present");
        return NULL;
    }
    v = g_variant_ref_sink(vtd_nesting_report(s));
    node = json_gvariant_serialize(v);
    g_variant_unref(v);
    return node;
}

static JsonNode *cmd_query_nesting(Machine *m, JsonNode *args, void *opaque,
                                   GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(json_node_get_object(args));

    /* No parameters: a misspelt one is an error, as for QEMU's commands. */
    if (members) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter '%s' is unexpected", (const char *)members->data);
        return NULL;
    }
    return report_json(m, errp);
}

static char *qtest_nesting_state(Machine *m, char **words, void *opaque)
{
    GError *err = NULL;
    JsonNode *node;
    char *json, *reply;

    if (words[1]) {
        return g_strdup_printf("FAIL %s takes no arguments", words[0]);
    }
    node = report_json(m, &err);
    if (!node) {
        reply = g_strdup_printf("FAIL %s", err->message);
        g_error_free(err);
        return reply;
    }
    json = json_to_string(node, false);
    json_node_unref(node);
    reply = g_strdup_printf("OK %s", json);
    g_free(json);
    return reply;
}

static void nesting_disconnect(void *opaque)
{
    Machine *m = opaque;

    if (machine_find_object(m, NEST_ID, NEST_TYPE)) {
        machine_add_object(m, NEST_ID, NEST_TYPE, NULL);
    }
}

void intel_iommu_nesting_connect(Machine *m, VtdState *vtd)
{
    static bool registered;
    VtdRamSource ram = { .opaque = m, .foreach = ram_foreach };

    if (!registered) {
        qmp_register_command("x-vtdnest-query-nesting", cmd_query_nesting, NULL);
        qtest_register_command("x-vtdnest-nesting-state", qtest_nesting_state,
                               NULL);
        registered = true;
    }
    vtd_nesting_set_ram_source(vtd, &ram);
    machine_add_object(m, NEST_ID, NEST_TYPE, vtd);
    machine_register_cleanup(m, nesting_disconnect, m);
}
