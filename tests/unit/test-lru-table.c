/*
 * The bounded LRU hash table (net/lru-table.c): insert, find, touch,
 * remove, least-recently-used order, eviction when full, stable indices,
 * sizes, and a randomized check against a plain reference model.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "lru-table.h"

typedef struct Val {
    uint64_t tag;
    uint32_t extra;
} Val;

/* What the evict callback saw. */
typedef struct Evictions {
    LruTable *t;
    unsigned n;
    uint32_t idx[64];
    uint8_t key[64][LRU_MAX_KEY];
    uint64_t tag[64];
    uint32_t count_then[64];
} Evictions;

static void on_evict(void *opaque, uint32_t idx)
{
    Evictions *ev = opaque;
    unsigned n = ev->n++;

    g_assert_cmpuint(n, <, G_N_ELEMENTS(ev->idx));
    ev->idx[n] = idx;
    memcpy(ev->key[n], lru_key(ev->t, idx), 4);
    ev->tag[n] = ((Val *)lru_val(ev->t, idx))->tag;
    ev->count_then[n] = lru_count(ev->t);
}

static void key32(uint8_t *k, uint32_t v)
{
    memcpy(k, &v, 4);
}

static uint32_t ins32(LruTable *t, uint32_t k, bool want_created)
{
    uint8_t key[4];
    bool created = !want_created;
    uint32_t idx;

    key32(key, k);
    idx = lru_insert(t, key, &created);
    g_assert_cmpuint(idx, <, lru_capacity(t));
    g_assert_cmpint(created, ==, want_created);
    return idx;
}

static uint32_t find32(const LruTable *t, uint32_t k)
{
    uint8_t key[4];

    key32(key, k);
    return lru_find(t, key);
}

/* The entries from least to most recently used, as their keys. */
static unsigned order32(const LruTable *t, uint32_t *keys, unsigned max)
{
    unsigned n = 0;
    uint32_t idx;

    for (idx = lru_oldest(t); idx != LRU_NONE; idx = lru_newer(t, idx)) {
        g_assert_cmpuint(n, <, max);
        memcpy(&keys[n++], lru_key(t, idx), 4);
    }
    g_assert_cmpuint(n, ==, lru_count(t));
    return n;
}

static void assert_order(const LruTable *t, const uint32_t *want,
                         unsigned n)
{
    uint32_t got[64];

    g_assert_cmpuint(order32(t, got, G_N_ELEMENTS(got)), ==, n);
    g_assert_cmpmem(got, n * sizeof(got[0]), want, n * sizeof(want[0]));
}

static void test_basic(void)
{
    LruTable *t = lru_new(8, 4, sizeof(Val), 1, NULL, NULL);
    uint32_t a, b, c;
    Val *v;

    g_assert_nonnull(t);
    g_assert_cmpuint(lru_capacity(t), ==, 8);
    g_assert_cmpuint(lru_count(t), ==, 0);
    g_assert_cmpuint(lru_oldest(t), ==, LRU_NONE);
    g_assert_cmpuint(find32(t, 1), ==, LRU_NONE);

    a = ins32(t, 1, true);
    v = lru_val(t, a);
    g_assert_cmpuint(v->tag, ==, 0);
    g_assert_cmpuint(v->extra, ==, 0);
    v->tag = 111;
    b = ins32(t, 2, true);
    ((Val *)lru_val(t, b))->tag = 222;
    c = ins32(t, 3, true);
    g_assert_cmpuint(a, !=, b);
    g_assert_cmpuint(b, !=, c);
    g_assert_cmpuint(a, !=, c);
    g_assert_cmpuint(lru_count(t), ==, 3);

    g_assert_cmpuint(find32(t, 1), ==, a);
    g_assert_cmpuint(find32(t, 2), ==, b);
    g_assert_cmpuint(find32(t, 3), ==, c);
    g_assert_cmpuint(find32(t, 4), ==, LRU_NONE);
    g_assert_cmpmem(lru_key(t, b), 4, &(uint32_t){ 2 }, 4);

    /* Inserting an existing key finds it: same index, value kept. */
    g_assert_cmpuint(ins32(t, 1, false), ==, a);
    g_assert_cmpuint(((Val *)lru_val(t, a))->tag, ==, 111);
    g_assert_cmpuint(lru_count(t), ==, 3);

    lru_remove(t, b);
    g_assert_cmpuint(lru_count(t), ==, 2);
    g_assert_cmpuint(find32(t, 2), ==, LRU_NONE);
    g_assert_cmpuint(find32(t, 1), ==, a);
    g_assert_cmpuint(find32(t, 3), ==, c);
    /* Removing a free entry or an index out of range does nothing. */
    lru_remove(t, b);
    lru_remove(t, 8);
    lru_remove(t, LRU_NONE);
    g_assert_cmpuint(lru_count(t), ==, 2);

    /* Back again: a new entry, its value zeroed. */
    b = ins32(t, 2, true);
    g_assert_cmpuint(((Val *)lru_val(t, b))->tag, ==, 0);
    g_assert_cmpuint(lru_count(t), ==, 3);
    g_assert_cmpuint(lru_memory(t), >=, 8 * (4 + sizeof(Val)));
    lru_free(t);
    lru_free(NULL);
}

static void test_order(void)
{
    LruTable *t = lru_new(8, 4, sizeof(Val), 2, NULL, NULL);
    uint32_t idx[5];
    unsigned i;

    for (i = 0; i < 5; i++) {
        idx[i] = ins32(t, 10 + i, true);
    }
    assert_order(t, (uint32_t[]){ 10, 11, 12, 13, 14 }, 5);
    g_assert_cmpuint(lru_oldest(t), ==, idx[0]);
    g_assert_cmpuint(lru_newer(t, idx[4]), ==, LRU_NONE);

    /* find does not change the order; touch and insert do. */
    g_assert_cmpuint(find32(t, 10), ==, idx[0]);
    assert_order(t, (uint32_t[]){ 10, 11, 12, 13, 14 }, 5);
    lru_touch(t, idx[0]);
    assert_order(t, (uint32_t[]){ 11, 12, 13, 14, 10 }, 5);
    lru_touch(t, idx[2]);
    assert_order(t, (uint32_t[]){ 11, 13, 14, 10, 12 }, 5);
    lru_touch(t, idx[2]);   /* already the newest */
    assert_order(t, (uint32_t[]){ 11, 13, 14, 10, 12 }, 5);
    ins32(t, 13, false);
    assert_order(t, (uint32_t[]){ 11, 14, 10, 12, 13 }, 5);

    /* Removing the oldest, the newest and one in the middle. */
    lru_remove(t, idx[1]);
    assert_order(t, (uint32_t[]){ 14, 10, 12, 13 }, 4);
    lru_remove(t, idx[3]);
    assert_order(t, (uint32_t[]){ 14, 10, 12 }, 3);
    lru_remove(t, idx[0]);
    assert_order(t, (uint32_t[]){ 14, 12 }, 2);
    lru_remove(t, idx[4]);
    lru_remove(t, idx[2]);
    g_assert_cmpuint(lru_oldest(t), ==, LRU_NONE);
    g_assert_cmpuint(lru_count(t), ==, 0);
    ins32(t, 99, true);
    assert_order(t, (uint32_t[]){ 99 }, 1);
    lru_free(t);
}

static void test_evict(void)
{
    Evictions ev = { 0 };
    LruTable *t = lru_new(4, 4, sizeof(Val), 3, on_evict, &ev);
    uint32_t idx[4], n;
    unsigned i;

    ev.t = t;
    for (i = 0; i < 4; i++) {
        idx[i] = ins32(t, 100 + i, true);
        ((Val *)lru_val(t, idx[i]))->tag = 1000 + i;
    }
    g_assert_cmpuint(ev.n, ==, 0);
    g_assert_cmpuint(lru_count(t), ==, 4);
    /* An existing key never evicts, even when full. */
    ins32(t, 102, false);
    g_assert_cmpuint(ev.n, ==, 0);

    /* Full: the least recently used (100) goes, seen by the callback. */
    n = ins32(t, 200, true);
    g_assert_cmpuint(ev.n, ==, 1);
    g_assert_cmpuint(ev.idx[0], ==, idx[0]);
    g_assert_cmpmem(ev.key[0], 4, &(uint32_t){ 100 }, 4);
    g_assert_cmpuint(ev.tag[0], ==, 1000);
    g_assert_cmpuint(ev.count_then[0], ==, 4);
    g_assert_cmpuint(lru_count(t), ==, 4);
    g_assert_cmpuint(find32(t, 100), ==, LRU_NONE);
    /* The victim's slot is reused, zeroed. */
    g_assert_cmpuint(n, ==, idx[0]);
    g_assert_cmpuint(((Val *)lru_val(t, n))->tag, ==, 0);
    assert_order(t, (uint32_t[]){ 101, 103, 102, 200 }, 4);

    /* A touch saves 101: 103 goes next. */
    lru_touch(t, idx[1]);
    ins32(t, 201, true);
    g_assert_cmpuint(ev.n, ==, 2);
    g_assert_cmpmem(ev.key[1], 4, &(uint32_t){ 103 }, 4);
    g_assert_cmpuint(ev.tag[1], ==, 1003);
    assert_order(t, (uint32_t[]){ 102, 200, 101, 201 }, 4);

    /* After a remove there is a free entry: no eviction. */
    lru_remove(t, idx[2]);
    ins32(t, 202, true);
    g_assert_cmpuint(ev.n, ==, 2);
    g_assert_cmpuint(lru_count(t), ==, 4);

    /* Many more: the count never goes over the capacity. */
    for (i = 0; i < 40; i++) {
        static const uint32_t first[4] = { 200, 101, 201, 202 };
        uint32_t want = i < 4 ? first[i] : 300 + i - 4;

        ins32(t, 300 + i, true);
        g_assert_cmpuint(lru_count(t), ==, 4);
        g_assert_cmpuint(ev.n, ==, 3 + i);
        g_assert_cmpmem(ev.key[ev.n - 1], 4, &want, 4);
    }
    g_assert_cmpuint(ev.n, ==, 42);
    assert_order(t, (uint32_t[]){ 336, 337, 338, 339 }, 4);
    lru_free(t);
}

/* Without a callback the eviction happens all the same. */
static void test_evict_no_callback(void)
{
    LruTable *t = lru_new(1, 4, 0, 4, NULL, NULL);

    ins32(t, 1, true);
    ins32(t, 2, true);
    g_assert_cmpuint(lru_count(t), ==, 1);
    g_assert_cmpuint(find32(t, 1), ==, LRU_NONE);
    g_assert_cmpuint(find32(t, 2), !=, LRU_NONE);
    lru_free(t);
}

static void test_clear(void)
{
    Evictions ev = { 0 };
    LruTable *t = lru_new(16, 4, sizeof(Val), 5, on_evict, &ev);
    unsigned i;

    ev.t = t;
    for (i = 0; i < 16; i++) {
        ins32(t, i, true);
    }
    lru_clear(t);
    g_assert_cmpuint(lru_count(t), ==, 0);
    g_assert_cmpuint(lru_oldest(t), ==, LRU_NONE);
    for (i = 0; i < 16; i++) {
        g_assert_cmpuint(find32(t, i), ==, LRU_NONE);
    }
    /* The whole capacity is free again, with no evictions. */
    for (i = 0; i < 16; i++) {
        ins32(t, 1000 + i, true);
    }
    g_assert_cmpuint(ev.n, ==, 0);
    g_assert_cmpuint(lru_count(t), ==, 16);
    ins32(t, 5000, true);
    g_assert_cmpuint(ev.n, ==, 1);
    g_assert_cmpmem(ev.key[0], 4, &(uint32_t){ 1000 }, 4);
    lru_free(t);
}

/* An entry keeps its index and value whatever happens to the others. */
static void test_stable_index(void)
{
    LruTable *t = lru_new(32, 4, sizeof(Val), 6, NULL, NULL);
    uint32_t keep[8];
    unsigned i, round;

    for (i = 0; i < 8; i++) {
        keep[i] = ins32(t, 7000 + i, true);
        ((Val *)lru_val(t, keep[i]))->tag = 7000 + i;
    }
    for (round = 0; round < 20; round++) {
        for (i = 0; i < 20; i++) {
            ins32(t, round * 100 + i, true);
        }
        for (i = 0; i < 20; i += 2) {
            lru_remove(t, find32(t, round * 100 + i));
        }
        for (i = 0; i < 8; i++) {
            /* Touched, so never the least recently used. */
            lru_touch(t, keep[i]);
        }
        for (i = 1; i < 20; i += 2) {
            lru_remove(t, find32(t, round * 100 + i));
        }
        for (i = 0; i < 8; i++) {
            g_assert_cmpuint(find32(t, 7000 + i), ==, keep[i]);
            g_assert_cmpuint(((Val *)lru_val(t, keep[i]))->tag, ==,
                             7000 + i);
        }
    }
    g_assert_cmpuint(lru_count(t), ==, 8);
    lru_free(t);
}

static void test_bad_sizes(void)
{
    LruTable *t;

    g_assert_null(lru_new(0, 4, 8, 1, NULL, NULL));
    g_assert_null(lru_new(LRU_MAX_CAPACITY + 1, 4, 8, 1, NULL, NULL));
    g_assert_null(lru_new(UINT32_MAX, 4, 8, 1, NULL, NULL));
    g_assert_null(lru_new(8, 0, 8, 1, NULL, NULL));
    g_assert_null(lru_new(8, LRU_MAX_KEY + 1, 8, 1, NULL, NULL));
    g_assert_null(lru_new(8, SIZE_MAX, 8, 1, NULL, NULL));
    g_assert_null(lru_new(8, 4, SIZE_MAX, 1, NULL, NULL));
    g_assert_null(lru_new(8, 4, 4097, 1, NULL, NULL));

    /* The limits themselves are fine. */
    t = lru_new(1, 1, 0, 1, NULL, NULL);
    g_assert_nonnull(t);
    lru_free(t);
    t = lru_new(3, LRU_MAX_KEY, 4096, 1, NULL, NULL);
    g_assert_nonnull(t);
    g_assert_cmpuint(lru_memory(t), >=, 3 * (LRU_MAX_KEY + 4096));
    lru_free(t);
}

/*
 * Every key length: keys that differ in a single octet (first, last, or
 * any other) are distinct, and only key_len octets of a key are read.
 */
static void test_key_lengths(void)
{
    size_t len;

    for (len = 1; len <= LRU_MAX_KEY; len++) {
        LruTable *t = lru_new(64, len, sizeof(Val), len, NULL, NULL);
        uint8_t key[LRU_MAX_KEY + 8];
        uint32_t idx[64];
        unsigned i, n = 0;
        bool created;

        g_assert_nonnull(t);
        /* Keys that are zero but for octet @pos, set to @v. */
        for (i = 0; i < 64; i++) {
            size_t pos = i % len;
            uint8_t v = (uint8_t)(1 + i / len);

            memset(key, 0, sizeof(key));
            key[pos] = v;
            idx[n] = lru_insert(t, key, &created);
            g_assert_true(created);
            ((Val *)lru_val(t, idx[n]))->tag = i;
            n++;
        }
        g_assert_cmpuint(lru_count(t), ==, n);
        for (i = 0; i < n; i++) {
            memset(key, 0, sizeof(key));
            key[i % len] = (uint8_t)(1 + i / len);
            /* Octets past the key must not matter. */
            memset(key + len, 0xa5 ^ i, sizeof(key) - len);
            g_assert_cmpuint(lru_find(t, key), ==, idx[i]);
            g_assert_cmpmem(lru_key(t, idx[i]), len, key, len);
            g_assert_cmpuint(((Val *)lru_val(t, idx[i]))->tag, ==, i);
        }
        memset(key, 0, sizeof(key));
        g_assert_cmpuint(lru_find(t, key), ==, LRU_NONE);
        memset(key, 0xff, sizeof(key));
        g_assert_cmpuint(lru_find(t, key), ==, LRU_NONE);
        lru_free(t);
    }
}

/* ---- randomized check against a reference model ------------------------- */

#define MODEL_MAX 64

/*
 * The reference: entries in an array from least to most recently used,
 * each with the index the table gave it and a tag in its value.
 */
typedef struct Model {
    unsigned n, cap;
    size_t key_len;
    uint8_t key[MODEL_MAX][LRU_MAX_KEY];
    uint32_t idx[MODEL_MAX];
    uint64_t tag[MODEL_MAX];
} Model;

static int model_find(const Model *m, const uint8_t *key)
{
    unsigned i;

    for (i = 0; i < m->n; i++) {
        if (!memcmp(m->key[i], key, m->key_len)) {
            return i;
        }
    }
    return -1;
}

/* Make entry @i the most recently used. */
static void model_touch(Model *m, unsigned i)
{
    uint8_t key[LRU_MAX_KEY];
    uint32_t idx = m->idx[i];
    uint64_t tag = m->tag[i];
    unsigned n = m->n - i - 1;

    memcpy(key, m->key[i], LRU_MAX_KEY);
    memmove(m->key[i], m->key[i + 1], n * sizeof(m->key[0]));
    memmove(&m->idx[i], &m->idx[i + 1], n * sizeof(m->idx[0]));
    memmove(&m->tag[i], &m->tag[i + 1], n * sizeof(m->tag[0]));
    memcpy(m->key[m->n - 1], key, LRU_MAX_KEY);
    m->idx[m->n - 1] = idx;
    m->tag[m->n - 1] = tag;
}

static void model_remove(Model *m, unsigned i)
{
    model_touch(m, i);
    m->n--;
}

/* A random key from a space about three times the capacity. */
static void random_key(GRand *r, size_t len, unsigned cap, uint8_t *key)
{
    uint32_t v = g_rand_int_range(r, 0, cap * 3 + 1);
    size_t i;

    memset(key, 0, LRU_MAX_KEY);
    /* Spread the value's bits over the key, the rest fixed noise. */
    for (i = 0; i < len; i++) {
        key[i] = (uint8_t)(i < 4 ? v >> (8 * i) : i * 37);
    }
    if (len > 4) {
        key[len - 1] ^= (uint8_t)v;
    }
}

static void model_check(const Model *m, LruTable *t)
{
    uint32_t idx = lru_oldest(t);
    unsigned i;

    g_assert_cmpuint(lru_count(t), ==, m->n);
    g_assert_cmpuint(lru_count(t), <=, lru_capacity(t));
    for (i = 0; i < m->n; i++) {
        g_assert_cmpuint(idx, ==, m->idx[i]);
        g_assert_cmpmem(lru_key(t, idx), m->key_len, m->key[i], m->key_len);
        g_assert_cmpuint(((Val *)lru_val(t, idx))->tag, ==, m->tag[i]);
        g_assert_cmpuint(lru_find(t, m->key[i]), ==, m->idx[i]);
        idx = lru_newer(t, idx);
    }
    g_assert_cmpuint(idx, ==, LRU_NONE);
}

typedef struct ModelEvict {
    LruTable *t;
    unsigned n;
    uint32_t idx;
    uint8_t key[LRU_MAX_KEY];
    uint64_t tag;
} ModelEvict;

static void model_on_evict(void *opaque, uint32_t idx)
{
    ModelEvict *ev = opaque;

    ev->n++;
    ev->idx = idx;
    memcpy(ev->key, lru_key(ev->t, idx), LRU_MAX_KEY);
    ev->tag = ((Val *)lru_val(ev->t, idx))->tag;
}

static void model_run(unsigned cap, size_t key_len, uint32_t seed,
                      unsigned steps)
{
    GRand *r = g_rand_new_with_seed(seed);
    ModelEvict ev = { 0 };
    LruTable *t = lru_new(cap, key_len, sizeof(Val), seed, model_on_evict,
                          &ev);
    Model *m = g_new0(Model, 1);
    uint64_t next_tag = 1;
    unsigned step, evictions = 0;

    g_assert_nonnull(t);
    g_assert_cmpuint(cap, <=, MODEL_MAX);
    ev.t = t;
    m->cap = cap;
    m->key_len = key_len;
    for (step = 0; step < steps; step++) {
        uint8_t key[LRU_MAX_KEY];
        unsigned op = g_rand_int_range(r, 0, 100);
        int i;

        random_key(r, key_len, cap, key);
        i = model_find(m, key);
        if (op < 50) {
            /* insert */
            bool created;
            unsigned before = ev.n;
            uint32_t idx = lru_insert(t, key, &created);

            g_assert_cmpint(created, ==, i < 0);
            if (i >= 0) {
                g_assert_cmpuint(idx, ==, m->idx[i]);
                g_assert_cmpuint(ev.n, ==, before);
                model_touch(m, i);
            } else {
                if (m->n == cap) {
                    /* The model's least recently used entry goes. */
                    g_assert_cmpuint(ev.n, ==, before + 1);
                    g_assert_cmpuint(ev.idx, ==, m->idx[0]);
                    g_assert_cmpmem(ev.key, key_len, m->key[0], key_len);
                    g_assert_cmpuint(ev.tag, ==, m->tag[0]);
                    model_remove(m, 0);
                    evictions++;
                } else {
                    g_assert_cmpuint(ev.n, ==, before);
                }
                memcpy(m->key[m->n], key, LRU_MAX_KEY);
                m->idx[m->n] = idx;
                m->tag[m->n] = next_tag;
                ((Val *)lru_val(t, idx))->tag = next_tag++;
                m->n++;
            }
        } else if (op < 70) {
            /* find */
            g_assert_cmpuint(lru_find(t, key), ==,
                             i < 0 ? LRU_NONE : m->idx[i]);
        } else if (op < 85) {
            /* touch a random present entry */
            if (m->n) {
                unsigned j = g_rand_int_range(r, 0, m->n);

                lru_touch(t, m->idx[j]);
                model_touch(m, j);
            }
        } else if (op < 99) {
            /* remove: the key's entry if present, else a random one */
            if (i < 0 && m->n) {
                i = g_rand_int_range(r, 0, m->n);
            }
            if (i >= 0) {
                lru_remove(t, m->idx[i]);
                model_remove(m, i);
            }
        } else if (g_rand_int_range(r, 0, 4) == 0) {
            lru_clear(t);
            m->n = 0;
        }
        model_check(m, t);
    }
    /* The key space is larger than the table: it was full often. */
    g_assert_cmpuint(evictions, >, 0);
    g_assert_cmpuint(evictions, ==, ev.n);
    lru_free(t);
    g_free(m);
    g_rand_free(r);
}

static void test_model(void)
{
    static const struct {
        unsigned cap;
        size_t key_len;
    } cases[] = {
        { 1, 4 }, { 2, 1 }, { 3, 6 }, { 7, 13 }, { 16, 8 }, { 33, 32 },
        { 64, 12 }, { 64, 2 },
    };
    unsigned i, seed;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        for (seed = 1; seed <= 3; seed++) {
            model_run(cases[i].cap, cases[i].key_len, seed * 7919 + i, 4000);
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lru/basic", test_basic);
    g_test_add_func("/lru/order", test_order);
    g_test_add_func("/lru/evict", test_evict);
    g_test_add_func("/lru/evict-no-callback", test_evict_no_callback);
    g_test_add_func("/lru/clear", test_clear);
    g_test_add_func("/lru/stable-index", test_stable_index);
    g_test_add_func("/lru/bad-sizes", test_bad_sizes);
    g_test_add_func("/lru/key-lengths", test_key_lengths);
    g_test_add_func("/lru/model", test_model);
    return g_test_run();
}
