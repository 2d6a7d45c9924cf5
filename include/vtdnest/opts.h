/*
 * QEMU-style "driver,key=value,..." option strings (-device, -object, -machine,
 * -qmp, -chardev). Values are kept as strings; typed getters validate them and
 * mark the key as used, so that unknown keys can be rejected afterwards.
 */
#ifndef VTDNEST_OPTS_H
#define VTDNEST_OPTS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct DeviceOpts DeviceOpts;

/*
 * Parse "driver,k=v,k2=v2". A doubled comma ",," is a literal comma.
 * If implied_key is non-NULL, a first element without '=' is stored under it
 * (QEMU's "-device foo": implied key "driver"; "-machine q35": "type").
 */
DeviceOpts *opts_parse(const char *str, const char *implied_key, GError **errp);
void opts_free(DeviceOpts *o);
DeviceOpts *opts_new(const char *driver);
void opts_set(DeviceOpts *o, const char *key, const char *value);

/* The value of the implied key (e.g. the driver name), or NULL. */
const char *opts_driver(const DeviceOpts *o);
/* Raw string, marking the key used; NULL when absent. */
const char *opts_get(DeviceOpts *o, const char *key);
bool opts_has(const DeviceOpts *o, const char *key);

/*
 * Typed getters. Each looks up every name in the NULL-terminated list of
 * aliases ("scalable-mode", "x-scalable-mode", NULL); giving two aliases at
 * once is an error. They return false and set errp on a malformed value.
 */
bool opts_get_bool(DeviceOpts *o, const char *const *names, bool def,
                   bool *out, GError **errp);
bool opts_get_uint(DeviceOpts *o, const char *const *names, uint64_t def,
                   uint64_t max, uint64_t *out, GError **errp);
/* OnOffAuto: -1 auto, 0 off, 1 on. */
bool opts_get_on_off_auto(DeviceOpts *o, const char *const *names, int def,
                          int *out, GError **errp);
/* Size with K/M/G/T suffix (QEMU -m style: a bare number means MiB when
 * default_unit is 1<<20). */
bool opts_parse_size(const char *s, uint64_t default_unit, uint64_t *out,
                     GError **errp);

/* Fails with "Property 'DRIVER.KEY' not found" for the first unused key. */
bool opts_check_all_used(DeviceOpts *o, const char *what, GError **errp);

/* Convenience for single names. */
#define OPT_NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

#endif
