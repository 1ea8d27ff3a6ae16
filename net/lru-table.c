/*
 * Bounded hash table with LRU order (see lru-table.h).
 *
 * Layout: one array of entries (links, key, value), a bucket array of
 * twice the capacity rounded up to a power of two, each bucket the head
 * of a singly linked chain through the entries, and a doubly linked LRU
 * list.  Free entries sit on a free list threaded through @next.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "lru-table.h"

typedef struct LruLinks {
    uint32_t next;      /* hash chain, or free list */
    uint32_t older;     /* LRU list */
    uint32_t newer;
    uint32_t bucket;    /* LRU_NONE while free */
} LruLinks;

struct LruTable {
    uint32_t capacity;
    uint32_t count;
    uint32_t nbuckets;  /* power of two */
    uint32_t free_head;
    uint32_t oldest;
    uint32_t newest;
    size_t key_len;
    size_t val_len;
    size_t stride;      /* bytes per entry: links, key, value */
    uint64_t seed;
    LruEvictFn *evict;
    void *opaque;
    uint32_t *buckets;
    uint8_t *entries;
    size_t memory;
};

static LruLinks *links(const LruTable *t, uint32_t idx)
{
    return (LruLinks *)(t->entries + (size_t)idx * t->stride);
}

static uint8_t *key_of(const LruTable *t, uint32_t idx)
{
    return (uint8_t *)links(t, idx) + sizeof(LruLinks);
}

/*
 * The @n (at most 8) octets at @p as one word, in host order: fixed-size
 * loads, each one move.  A memcpy() or memcmp() of a variable length is a
 * call, and lookups run twice a frame: those calls were 8 % of a switch's
 * time at 5 Mpps (docs/performance.md, "Issue 15's targets on a Zen 4
 * host").  The bucket a key hashes to only matters within this process.
 */
static inline uint64_t load_tail(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    uint32_t w32;
    uint16_t w16;
    size_t at = 0;

    if (n == 8) {
        memcpy(&w, p, 8);
        return w;
    }
    if (n >= 4) {
        memcpy(&w32, p, 4);
        w = w32;
        at = 4;
    }
    if (n - at >= 2) {
        memcpy(&w16, p + at, 2);
        w |= (uint64_t)w16 << (8 * at);
        at += 2;
    }
    if (n > at) {
        w |= (uint64_t)p[at] << (8 * at);
    }
    return w;
}

static inline __attribute__((always_inline))
bool key_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        size_t n = len - i < 8 ? len - i : 8;

        if (load_tail(a + i, n) != load_tail(b + i, n)) {
            return false;
        }
    }
    return true;
}

/*
 * A seeded multiply-xorshift hash over the key, 8 bytes at a time.
 * @key_len is t->key_len, passed so that a caller with a constant one
 * gets the loads of that length inlined.
 */
static inline __attribute__((always_inline))
uint32_t hash_len(const LruTable *t, const uint8_t *key, size_t key_len)
{
    uint64_t h = t->seed ^ (key_len * 0x9e3779b97f4a7c15ull);
    size_t i;

    for (i = 0; i < key_len; i += 8) {
        size_t n = key_len - i < 8 ? key_len - i : 8;

        h ^= load_tail(key + i, n);
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return (uint32_t)h & (t->nbuckets - 1);
}

static uint32_t lru_hash(const LruTable *t, const uint8_t *key)
{
    return hash_len(t, key, t->key_len);
}

LruTable *lru_new(uint32_t capacity, size_t key_len, size_t val_len,
                  uint64_t seed, LruEvictFn *evict, void *opaque)
{
    LruTable *t;
    uint32_t nb = 1;

    if (capacity == 0 || capacity > LRU_MAX_CAPACITY || key_len == 0 ||
        key_len > LRU_MAX_KEY || val_len > 4096) {
        return NULL;
    }
    while (nb < capacity * 2) {
        nb <<= 1;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->capacity = capacity;
    t->nbuckets = nb;
    t->key_len = key_len;
    t->val_len = val_len;
    /* Keep values 8-byte aligned. */
    t->stride = (sizeof(LruLinks) + key_len + 7) / 8 * 8 +
                (val_len + 7) / 8 * 8;
    t->seed = seed;
    t->evict = evict;
    t->opaque = opaque;
    t->buckets = malloc(nb * sizeof(uint32_t));
    t->entries = malloc((size_t)capacity * t->stride);
    if (!t->buckets || !t->entries) {
        lru_free(t);
        return NULL;
    }
    t->memory = sizeof(*t) + nb * sizeof(uint32_t) +
                (size_t)capacity * t->stride;
    lru_clear(t);
    return t;
}

void lru_free(LruTable *t)
{
    if (t) {
        free(t->buckets);
        free(t->entries);
        free(t);
    }
}

void lru_clear(LruTable *t)
{
    uint32_t i;

    for (i = 0; i < t->nbuckets; i++) {
        t->buckets[i] = LRU_NONE;
    }
    for (i = 0; i < t->capacity; i++) {
        LruLinks *l = links(t, i);

        l->next = i + 1 < t->capacity ? i + 1 : LRU_NONE;
        l->older = l->newer = LRU_NONE;
        l->bucket = LRU_NONE;
    }
    t->free_head = 0;
    t->count = 0;
    t->oldest = t->newest = LRU_NONE;
}

const void *lru_key(const LruTable *t, uint32_t idx)
{
    return key_of(t, idx);
}

void *lru_val(LruTable *t, uint32_t idx)
{
    return (uint8_t *)links(t, idx) + (sizeof(LruLinks) + t->key_len + 7) /
           8 * 8;
}

static inline __attribute__((always_inline))
uint32_t find_len(const LruTable *t, const uint8_t *key, size_t key_len)
{
    uint32_t idx = t->buckets[hash_len(t, key, key_len)];

    while (idx != LRU_NONE) {
        if (key_equal(key_of(t, idx), key, key_len)) {
            return idx;
        }
        idx = links(t, idx)->next;
    }
    return LRU_NONE;
}

uint32_t lru_find(const LruTable *t, const void *key)
{
    /* MAC addresses: twice a frame in a switch, worth a loop of their own */
    if (t->key_len == 6) {
        return find_len(t, key, 6);
    }
    return find_len(t, key, t->key_len);
}

static void list_unlink(LruTable *t, uint32_t idx)
{
    LruLinks *l = links(t, idx);

    if (l->older != LRU_NONE) {
        links(t, l->older)->newer = l->newer;
    } else {
        t->oldest = l->newer;
    }
    if (l->newer != LRU_NONE) {
        links(t, l->newer)->older = l->older;
    } else {
        t->newest = l->older;
    }
    l->older = l->newer = LRU_NONE;
}

static void list_push_newest(LruTable *t, uint32_t idx)
{
    LruLinks *l = links(t, idx);

    l->older = t->newest;
    l->newer = LRU_NONE;
    if (t->newest != LRU_NONE) {
        links(t, t->newest)->newer = idx;
    } else {
        t->oldest = idx;
    }
    t->newest = idx;
}

void lru_touch(LruTable *t, uint32_t idx)
{
    if (t->newest != idx) {
        list_unlink(t, idx);
        list_push_newest(t, idx);
    }
}

void lru_remove(LruTable *t, uint32_t idx)
{
    LruLinks *l = links(t, idx);
    uint32_t *pp;

    if (idx >= t->capacity || l->bucket == LRU_NONE) {
        return;
    }
    for (pp = &t->buckets[l->bucket]; *pp != idx; pp = &links(t, *pp)->next) {
        /* the entry is on its bucket's chain */
    }
    *pp = l->next;
    list_unlink(t, idx);
    l->bucket = LRU_NONE;
    l->next = t->free_head;
    t->free_head = idx;
    t->count--;
}

uint32_t lru_insert(LruTable *t, const void *key, bool *created)
{
    uint32_t idx = lru_find(t, key);
    uint32_t b;
    LruLinks *l;

    if (idx != LRU_NONE) {
        lru_touch(t, idx);
        *created = false;
        return idx;
    }
    if (t->free_head == LRU_NONE) {
        uint32_t victim = t->oldest;

        if (t->evict) {
            t->evict(t->opaque, victim);
        }
        lru_remove(t, victim);
    }
    idx = t->free_head;
    l = links(t, idx);
    t->free_head = l->next;
    b = lru_hash(t, key);
    l->bucket = b;
    l->next = t->buckets[b];
    t->buckets[b] = idx;
    memcpy(key_of(t, idx), key, t->key_len);
    memset(lru_val(t, idx), 0, t->val_len);
    list_push_newest(t, idx);
    t->count++;
    *created = true;
    return idx;
}

uint32_t lru_oldest(const LruTable *t)
{
    return t->oldest;
}

uint32_t lru_newer(const LruTable *t, uint32_t idx)
{
    return links(t, idx)->newer;
}

uint32_t lru_count(const LruTable *t)
{
    return t->count;
}

uint32_t lru_capacity(const LruTable *t)
{
    return t->capacity;
}

size_t lru_memory(const LruTable *t)
{
    return t->memory;
}
