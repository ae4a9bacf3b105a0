/* The images the remote has opened lately: manifest and indexes found once per image. Entries
 * are reference counted: a layer being mounted keeps its image while the table moves on. Only
 * the table is under r->lock; registry work is done outside it. */
#include "remote_i.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ref with its digest replaced by manifest's (when given): what containerd resolved. */
static int resolve_ref(const char *ref, const char *manifest, struct lzs_oci_ref *out,
                       lzs_error **err)
{
    int rc = lzs_oci_ref_parse(out, ref, err);
    if (rc == 0 && manifest) {
        rc = lzs_digest_parse(&out->digest, manifest, err);
        out->has_digest = rc == 0;
    }
    if (rc < 0)
        return lzs_error_wrap(err, "image %s", ref);
    return 0;
}

static time_t now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

static void entry_free(struct remote_image *e)
{
    free(e->name);
    free(e->fetching);
    lzs_image_free(e->img);
    free(e);
}

/* A new entry for ref, opened and its indexes found (no lock held). */
static int open_entry(lzs_remote *r, const struct lzs_oci_ref *ref, const char *name,
                      struct remote_image **out, lzs_error **err)
{
    struct remote_image *e = calloc(1, sizeof(*e));
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    lzs_cleanup(lzs_repo_unrefp) lzs_repo *repo = NULL;
    int rc = lzs_repo_open(&repo, r->reg, ref, err);
    if (rc == 0)
        rc = lzs_image_open(&e->img, repo, ref, NULL, err);
    if (rc == 0)
        rc = lzs_image_find_indexes(e->img, r->local_dir, err);
    if (rc == 0 &&
        !(e->fetching = lzs_calloc_array(lzs_image_layer_count(e->img), sizeof(*e->fetching))))
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    if (rc < 0) {
        entry_free(e);
        return rc;
    }
    e->opened = now_s();
    *out = e;
    return 0;
}

/* Under r->lock: drop the table's reference of entry i. */
static void forget(lzs_remote *r, size_t i)
{
    struct remote_image *e = r->images[i];
    if (--e->refs == 0)
        entry_free(e);
    memmove(&r->images[i], &r->images[i + 1], (REMOTE_IMAGES_MAX - 1 - i) * sizeof(r->images[0]));
    r->images[REMOTE_IMAGES_MAX - 1] = NULL;
}

/* Under r->lock: the fresh entry of name, moved first and referenced, or NULL. */
static struct remote_image *lookup(lzs_remote *r, const char *name)
{
    for (size_t i = 0; i < REMOTE_IMAGES_MAX && r->images[i]; i++) {
        struct remote_image *e = r->images[i];
        if (strcmp(e->name, name) != 0)
            continue;
        if (now_s() - e->opened > REMOTE_IMAGE_TTL_S) { /* indexes may have been published */
            forget(r, i);
            return NULL;
        }
        memmove(&r->images[1], &r->images[0], i * sizeof(r->images[0]));
        r->images[0] = e;
        e->refs++;
        return e;
    }
    return NULL;
}

/* Under r->lock: e first in the table (which takes a reference), the least recent dropped. */
static void remember(lzs_remote *r, struct remote_image *e)
{
    if (r->images[REMOTE_IMAGES_MAX - 1])
        forget(r, REMOTE_IMAGES_MAX - 1);
    memmove(&r->images[1], &r->images[0], (REMOTE_IMAGES_MAX - 1) * sizeof(r->images[0]));
    r->images[0] = e;
    e->refs++;
}

int remote_image_get(lzs_remote *r, const char *ref, const char *manifest,
                     struct remote_image **out, lzs_error **err)
{
    struct lzs_oci_ref parsed;
    char name[LZS_OCI_REF_STR_MAX];
    int rc = resolve_ref(ref, manifest, &parsed, err);
    if (rc < 0)
        return rc;
    lzs_oci_ref_string(&parsed, name);
    pthread_mutex_lock(&r->lock);
    *out = lookup(r, name);
    pthread_mutex_unlock(&r->lock);
    if (*out)
        return 0;
    struct remote_image *e = NULL;
    if ((rc = open_entry(r, &parsed, name, &e, err)) < 0)
        return rc;
    size_t ahead = 0;
    pthread_mutex_lock(&r->lock);
    if ((*out = lookup(r, name))) { /* opened meanwhile by another call: use that one */
        entry_free(e);
        e = NULL;
    } else {
        e->refs = 1;
        ahead = remote_prefetch_mark(r, e);
        remember(r, e);
        *out = e;
    }
    pthread_mutex_unlock(&r->lock);
    if (e)
        remote_prefetch_start(r, e, ahead);
    return 0;
}

void remote_image_put(lzs_remote *r, struct remote_image *e)
{
    pthread_mutex_lock(&r->lock);
    bool last = --e->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last)
        entry_free(e);
}

void remote_images_dispose(lzs_remote *r)
{
    while (r->images[0])
        forget(r, 0);
}
