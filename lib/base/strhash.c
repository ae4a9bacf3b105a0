/* A small open-addressing hash table of strings (paths, string-table entries), so that the index
 * writer deduplicates 100k+ entries in linear time. Keys live outside the table. */
#include "base/base.h"

#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

void lzs_strhash_init(struct lzs_strhash *h, lzs_strhash_key_fn key, const void *ctx)
{
    *h = (struct lzs_strhash){.key = key, .ctx = ctx};
}

void lzs_strhash_dispose(struct lzs_strhash *h)
{
    free(h->slots);
    h->slots = NULL;
    h->cap = h->n = 0;
}

static bool key_equal(const char *stored, const char *key, size_t len)
{
    return strncmp(stored, key, len) == 0 && stored[len] == '\0';
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const struct lzs_strhash *h, const char *key, size_t len)
{
    size_t mask = h->cap - 1, i = (size_t)hash_bytes(key, len) & mask;
    while (h->slots[i] != 0 && !key_equal(h->key(h->ctx, h->slots[i] - 1), key, len))
        i = (i + 1) & mask;
    return i;
}

int lzs_strhash_reserve(struct lzs_strhash *h, lzs_error **err)
{
    if ((h->n + 1) * 4 <= h->cap * 3)
        return 0;
    size_t cap = h->cap ? h->cap * 2 : 64;
    uint32_t *old = h->slots;
    size_t old_cap = h->cap;
    h->slots = lzs_calloc_array(cap, sizeof(*h->slots));
    if (!h->slots) {
        h->slots = old;
        return lzs_error_set(err, ENOMEM, "out of memory growing a hash table");
    }
    h->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] != 0) {
            const char *k = h->key(h->ctx, old[i] - 1);
            h->slots[find_slot(h, k, strlen(k))] = old[i];
        }
    }
    free(old);
    return 0;
}

bool lzs_strhash_get(const struct lzs_strhash *h, const char *key, size_t len, uint32_t *value)
{
    if (h->cap == 0)
        return false;
    size_t i = find_slot(h, key, len);
    if (h->slots[i] == 0)
        return false;
    *value = h->slots[i] - 1;
    return true;
}

void lzs_strhash_put(struct lzs_strhash *h, uint32_t value)
{
    const char *k = h->key(h->ctx, value);
    size_t i = find_slot(h, k, strlen(k));
    h->slots[i] = value + 1;
    h->n++;
}
