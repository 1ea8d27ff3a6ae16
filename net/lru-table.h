/*
 * A bounded hash table with least-recently-used order, for the switch's
 * MAC table and flow table.
 *
 * All memory is allocated once, at lru_new(): a table never grows, so a
 * flood of new addresses or flows costs evictions, never memory.  Keys
 * are fixed-size byte strings hashed with a caller-given seed (pick it at
 * random, so that nobody on the wire can aim for one hash chain).
 * Entries are addressed by a stable index 0..capacity-1 for their life.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_LRU_TABLE_H
#define BLADEPLANE_NET_LRU_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define LRU_NONE UINT32_MAX
#define LRU_MAX_CAPACITY (1u << 24)
#define LRU_MAX_KEY 32

typedef struct LruTable LruTable;

/*
 * Called when lru_insert() evicts the least recently used entry to make
 * room: the entry's key and value are still readable.
 */
typedef void LruEvictFn(void *opaque, uint32_t idx);

/*
 * @capacity entries (1..LRU_MAX_CAPACITY) of @key_len (1..LRU_MAX_KEY)
 * and @val_len bytes.  NULL if the sizes are out of range.
 */
LruTable *lru_new(uint32_t capacity, size_t key_len, size_t val_len,
                  uint64_t seed, LruEvictFn *evict, void *opaque);
void lru_free(LruTable *t);

/* The entry with @key, or LRU_NONE.  Does not change the order. */
uint32_t lru_find(const LruTable *t, const void *key);
/*
 * The entry with @key, created (value zeroed) if missing; *created says
 * which.  When the table is full the least recently used entry is
 * evicted first.  The entry becomes the most recently used.
 */
uint32_t lru_insert(LruTable *t, const void *key, bool *created);
/* Make @idx the most recently used entry. */
void lru_touch(LruTable *t, uint32_t idx);
void lru_remove(LruTable *t, uint32_t idx);
void lru_clear(LruTable *t);

const void *lru_key(const LruTable *t, uint32_t idx);
void *lru_val(LruTable *t, uint32_t idx);

/* Least recently used entry, or LRU_NONE if empty. */
uint32_t lru_oldest(const LruTable *t);
/* From least to most recently used: the next entry, or LRU_NONE. */
uint32_t lru_newer(const LruTable *t, uint32_t idx);

uint32_t lru_count(const LruTable *t);
uint32_t lru_capacity(const LruTable *t);
/* Bytes lru_new() allocated for this table. */
size_t lru_memory(const LruTable *t);

#endif
