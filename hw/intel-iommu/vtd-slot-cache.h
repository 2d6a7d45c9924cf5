/*
 * A bounded key -> fixed-size payload cache with CLOCK eviction, used by the
 * context and PASID caches (the IOTLB has its own, faster table). Keys are
 * 64-bit values; the index is a GHashTable of key -> slot + 1. When full, the
 * clock hand evicts the first slot not referenced since its last pass, so a
 * full cache never flushes everything.
 */
#ifndef VTD_SLOT_CACHE_H
#define VTD_SLOT_CACHE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct VtdSlotCache {
    GHashTable *index;      /* key -> slot + 1 */
    uint64_t *keys;
    bool *valid;
    bool *ref;              /* CLOCK reference bit */
    uint8_t *payload;
    size_t psize;
    unsigned cap, hand, count;
    unsigned *free_slots;   /* stack of unused slots */
    unsigned nfree;
    /* Slot + 1 of the last hit or insert (0: none). Requests
     * come in runs from one device, so checking it first skips the hash;
     * it is only trusted while that slot is valid and holds the same key. */
    unsigned last;
} VtdSlotCache;

static inline VtdSlotCache *vtd_slot_cache_new(unsigned cap, size_t psize)
{
    VtdSlotCache *c = g_new0(VtdSlotCache, 1);

    c->cap = cap ? cap : 1;
    c->psize = psize;
    c->index = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->keys = g_new0(uint64_t, c->cap);
    c->valid = g_new0(bool, c->cap);
    c->ref = g_new0(bool, c->cap);
    c->payload = g_malloc0(psize * c->cap);
    c->free_slots = g_new(unsigned, c->cap);
    for (unsigned i = 0; i < c->cap; i++) {
        c->free_slots[i] = c->cap - 1 - i;
    }
    c->nfree = c->cap;
    return c;
}

static inline void vtd_slot_cache_free(VtdSlotCache *c)
{
    if (!c) {
        return;
    }
    g_hash_table_destroy(c->index);
    g_free(c->keys);
    g_free(c->valid);
    g_free(c->ref);
    g_free(c->payload);
    g_free(c->free_slots);
    g_free(c);
}

static inline void *vtd_slot_cache_payload(VtdSlotCache *c, unsigned slot)
{
    return c->payload + c->psize * slot;
}

/* Payload for key (marked recently used), or NULL. */
static inline void *vtd_slot_cache_lookup(VtdSlotCache *c, uint64_t key)
{
    unsigned slot = c->last;

    if (!slot || !c->valid[slot - 1] || c->keys[slot - 1] != key) {
        slot = GPOINTER_TO_UINT(g_hash_table_lookup(c->index,
                                                    (gpointer)(uintptr_t)key));
    }
    if (!slot) {
        return NULL;
    }
    c->last = slot;
    c->ref[slot - 1] = true;
    return vtd_slot_cache_payload(c, slot - 1);
}

static inline void vtd_slot_cache_remove_slot(VtdSlotCache *c, unsigned slot)
{
    if (!c->valid[slot]) {
        return;
    }
    g_hash_table_remove(c->index, (gpointer)(uintptr_t)c->keys[slot]);
    c->valid[slot] = false;
    c->ref[slot] = false;
    c->free_slots[c->nfree++] = slot;
    c->count--;
}

/* Store payload under key; returns true when a live entry was evicted. */
static inline bool vtd_slot_cache_insert(VtdSlotCache *c, uint64_t key,
                                         const void *payload)
{
    unsigned slot = GPOINTER_TO_UINT(g_hash_table_lookup(c->index,
                                                         (gpointer)(uintptr_t)key));
    bool evicted = false;

    if (slot) {
        slot--;
    } else {
        if (!c->nfree) {
            /* CLOCK: give referenced slots a second chance. */
            while (c->ref[c->hand]) {
                c->ref[c->hand] = false;
                c->hand = (c->hand + 1) % c->cap;
            }
            vtd_slot_cache_remove_slot(c, c->hand);
            c->hand = (c->hand + 1) % c->cap;
            evicted = true;
        }
        slot = c->free_slots[--c->nfree];
        c->keys[slot] = key;
        c->valid[slot] = true;
        c->count++;
        g_hash_table_insert(c->index, (gpointer)(uintptr_t)key,
                            GUINT_TO_POINTER(slot + 1));
    }
    c->ref[slot] = true;
    c->last = slot + 1;
    memcpy(vtd_slot_cache_payload(c, slot), payload, c->psize);
    return evicted;
}

typedef bool (*VtdSlotMatch)(uint64_t key, const void *payload, const void *arg);

/* Drop every entry match() accepts (match NULL: all). */
static inline void vtd_slot_cache_remove_if(VtdSlotCache *c, VtdSlotMatch match,
                                            const void *arg)
{
    for (unsigned i = 0; i < c->cap; i++) {
        if (c->valid[i] &&
            (!match || match(c->keys[i], vtd_slot_cache_payload(c, i), arg))) {
            vtd_slot_cache_remove_slot(c, i);
        }
    }
}

#endif
