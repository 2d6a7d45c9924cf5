/*
 * QEMU-style option strings: "driver,key=value,key2=value2".
 *
 * Parsing only splits the string; values stay text until a typed getter reads
 * them. Every getter marks the key it consumed, so after a device has read all
 * the properties it understands, whatever is left unmarked was a typo and is
 * rejected the way QEMU rejects it ("Property 'DRIVER.KEY' not found").
 */
#include "vtdnest/opts.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

typedef struct OptEntry {
    char *key;
    char *value;
    bool used;
} OptEntry;

struct DeviceOpts {
    char *implied_key;  /* the key a bare first element is stored under */
    GPtrArray *entries; /* of OptEntry, in the order given */
};

static void opt_entry_free(gpointer p)
{
    OptEntry *e = p;

    g_free(e->key);
    g_free(e->value);
    g_free(e);
}

static DeviceOpts *opts_alloc(const char *implied_key)
{
    DeviceOpts *o = g_new0(DeviceOpts, 1);

    o->implied_key = g_strdup(implied_key);
    o->entries = g_ptr_array_new_with_free_func(opt_entry_free);
    return o;
}

static OptEntry *opts_find(const DeviceOpts *o, const char *key)
{
    for (guint i = 0; i < o->entries->len; i++) {
        OptEntry *e = g_ptr_array_index(o->entries, i);
        if (strcmp(e->key, key) == 0) {
            return e;
        }
    }
    return NULL;
}

static void opts_append(DeviceOpts *o, const char *key, const char *value)
{
    OptEntry *e = g_new0(OptEntry, 1);

    e->key = g_strdup(key);
    e->value = g_strdup(value);
    g_ptr_array_add(o->entries, e);
}

/* Keys are identifiers; anything else is almost certainly a quoting mistake. */
static bool key_is_valid(const char *key)
{
    if (!*key) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.') {
            return false;
        }
    }
    return true;
}

/*
 * Copy one comma-terminated element starting at *pp into a new string,
 * turning ",," into ",". Leaves *pp on the terminating ',' or NUL.
 */
static char *take_element(const char **pp)
{
    GString *s = g_string_new(NULL);
    const char *p = *pp;

    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++; /* ",," is a literal comma */
        }
        g_string_append_c(s, *p);
        p++;
    }
    *pp = p;
    return g_string_free(s, false);
}

DeviceOpts *opts_parse(const char *str, const char *implied_key, GError **errp)
{
    DeviceOpts *o = opts_alloc(implied_key);
    const char *p = str ? str : "";
    bool first = true;

    while (*p) {
        char *elem = take_element(&p);
        char *eq = strchr(elem, '=');
        const char *key;
        const char *value;

        if (*p == ',') {
            p++;
        }
        if (!*elem) {
            /* Tolerate "a,b=1," like QEMU: an empty element means nothing. */
            g_free(elem);
            first = false;
            continue;
        }
        if (eq) {
            *eq = '\0';
            key = elem;
            value = eq + 1;
        } else if (first && implied_key) {
            key = implied_key;
            value = elem;
        } else {
            /* A bare "flag" means flag=on, as in QEMU. */
            key = elem;
            value = "on";
        }
        first = false;

        if (!key_is_valid(key)) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Invalid parameter '%s'", key);
            g_free(elem);
            opts_free(o);
            return NULL;
        }
        if (opts_find(o, key)) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Parameter '%s' given more than once", key);
            g_free(elem);
            opts_free(o);
            return NULL;
        }
        opts_append(o, key, value);
        g_free(elem);
    }
    return o;
}

void opts_free(DeviceOpts *o)
{
    if (!o) {
        return;
    }
    g_ptr_array_free(o->entries, true);
    g_free(o->implied_key);
    g_free(o);
}

DeviceOpts *opts_new(const char *driver)
{
    DeviceOpts *o = opts_alloc("driver");

    if (driver) {
        opts_append(o, "driver", driver);
    }
    return o;
}

void opts_set(DeviceOpts *o, const char *key, const char *value)
{
    OptEntry *e = opts_find(o, key);

    if (e) {
        g_free(e->value);
        e->value = g_strdup(value);
        e->used = false;
        return;
    }
    opts_append(o, key, value);
}

const char *opts_driver(const DeviceOpts *o)
{
    OptEntry *e;

    if (!o->implied_key) {
        return NULL;
    }
    e = opts_find(o, o->implied_key);
    return e ? e->value : NULL;
}

const char *opts_get(DeviceOpts *o, const char *key)
{
    OptEntry *e = opts_find(o, key);

    if (!e) {
        return NULL;
    }
    e->used = true;
    return e->value;
}

bool opts_has(const DeviceOpts *o, const char *key)
{
    return opts_find(o, key) != NULL;
}

/* Driver name for messages: "intel-iommu", or a neutral word. */
static const char *opts_owner(const DeviceOpts *o)
{
    const char *d = opts_driver(o);

    return d ? d : "option";
}

/*
 * Find the one alias that was given. Returns false (error set) when two
 * spellings of the same property were both given; *out is NULL when none was.
 */
static bool opts_lookup_alias(DeviceOpts *o, const char *const *names,
                              OptEntry **out, const char **out_name,
                              GError **errp)
{
    *out = NULL;
    *out_name = names[0];
    for (const char *const *n = names; *n; n++) {
        OptEntry *e = opts_find(o, *n);
        if (!e) {
            continue;
        }
        if (*out) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Properties '%s' and '%s' of '%s' are the same "
                        "property; give only one",
                        *out_name, *n, opts_owner(o));
            return false;
        }
        *out = e;
        *out_name = *n;
    }
    if (*out) {
        (*out)->used = true;
    }
    return true;
}

static bool parse_bool_word(const char *s, bool *out)
{
    static const char *const yes[] = { "on", "true", "yes", NULL };
    static const char *const no[] = { "off", "false", "no", NULL };

    for (int i = 0; yes[i]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool opts_get_bool(DeviceOpts *o, const char *const *names, bool def,
                   bool *out, GError **errp)
{
    OptEntry *e;
    const char *name;

    if (!opts_lookup_alias(o, names, &e, &name, errp)) {
        return false;
    }
    if (!e) {
        *out = def;
        return true;
    }
    if (!parse_bool_word(e->value, out)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter '%s' expects 'on' or 'off' (got '%s')",
                    name, e->value);
        return false;
    }
    return true;
}

/* Decimal or 0x-hex, no sign, no trailing junk, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    guint64 v;

    if (!g_ascii_isdigit(s[0])) {
        return false;
    }
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!g_ascii_isxdigit(s[2])) {
            return false;
        }
        v = g_ascii_strtoull(s + 2, &end, 16);
    } else {
        v = g_ascii_strtoull(s, &end, 10);
    }
    if (errno || *end) {
        return false;
    }
    *out = v;
    return true;
}

bool opts_get_uint(DeviceOpts *o, const char *const *names, uint64_t def,
                   uint64_t max, uint64_t *out, GError **errp)
{
    OptEntry *e;
    const char *name;
    uint64_t v;

    if (!opts_lookup_alias(o, names, &e, &name, errp)) {
        return false;
    }
    if (!e) {
        *out = def;
        return true;
    }
    if (!parse_u64(e->value, &v)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter '%s' expects a non-negative number (got '%s')",
                    name, e->value);
        return false;
    }
    if (v > max) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Property '%s.%s' doesn't take value %s (maximum: %" PRIu64 ")",
                    opts_owner(o), name, e->value, max);
        return false;
    }
    *out = v;
    return true;
}

bool opts_get_on_off_auto(DeviceOpts *o, const char *const *names, int def,
                          int *out, GError **errp)
{
    OptEntry *e;
    const char *name;

    if (!opts_lookup_alias(o, names, &e, &name, errp)) {
        return false;
    }
    if (!e) {
        *out = def;
        return true;
    }
    if (strcmp(e->value, "on") == 0) {
        *out = 1;
    } else if (strcmp(e->value, "off") == 0) {
        *out = 0;
    } else if (strcmp(e->value, "auto") == 0) {
        *out = -1;
    } else {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter '%s' expects 'on', 'off' or 'auto' (got '%s')",
                    name, e->value);
        return false;
    }
    return true;
}

/* Multiplier for a size suffix; 0 when the suffix is not one. */
static uint64_t size_suffix_unit(char c)
{
    switch (g_ascii_toupper(c)) {
    case 'B': return 1;
    case 'K': return 1ULL << 10;
    case 'M': return 1ULL << 20;
    case 'G': return 1ULL << 30;
    case 'T': return 1ULL << 40;
    default: return 0;
    }
}

bool opts_parse_size(const char *s, uint64_t default_unit, uint64_t *out,
                     GError **errp)
{
    const char *p = s ? s : "";
    /* 128-bit so that "digits * unit" cannot wrap before the range check. */
    unsigned __int128 whole = 0, frac = 0, frac_scale = 1, unit, v;
    bool digits = false;

    for (; g_ascii_isdigit(*p); p++) {
        whole = whole * 10 + (unsigned)(*p - '0');
        if (whole > UINT64_MAX) {
            goto too_big;
        }
        digits = true;
    }
    /* A fraction ("1.5G"), kept exact as frac / frac_scale. */
    if (*p == '.') {
        p++;
        for (; g_ascii_isdigit(*p); p++) {
            if (frac_scale >= 1000000000000000000ULL) {
                goto bad; /* more precision than any byte count needs */
            }
            frac = frac * 10 + (unsigned)(*p - '0');
            frac_scale *= 10;
            digits = true;
        }
    }
    if (!digits) {
        goto bad;
    }
    if (*p) {
        unit = size_suffix_unit(*p);
        if (!unit || p[1]) {
            goto bad;
        }
    } else {
        unit = default_unit ? default_unit : 1;
    }
    if (frac * unit % frac_scale) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "invalid size '%s': not a whole number of bytes", s);
        return false;
    }
    v = whole * unit + frac * unit / frac_scale;
    if (v > UINT64_MAX) {
        goto too_big;
    }
    *out = (uint64_t)v;
    return true;

bad:
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "invalid size '%s': expected a number with an optional "
                "B, K, M, G or T suffix", s ? s : "");
    return false;
too_big:
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "invalid size '%s': too large", s);
    return false;
}

bool opts_check_all_used(DeviceOpts *o, const char *what, GError **errp)
{
    const char *owner = what ? what : opts_owner(o);

    for (guint i = 0; i < o->entries->len; i++) {
        OptEntry *e = g_ptr_array_index(o->entries, i);
        if (e->used) {
            continue;
        }
        if (o->implied_key && strcmp(e->key, o->implied_key) == 0) {
            continue;
        }
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                    "Property '%s.%s' not found", owner, e->key);
        return false;
    }
    return true;
}
