/* The images the remote has opened lately: manifest and indexes found once per image. */
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

static int open_image(lzs_remote *r, const struct lzs_oci_ref *ref, lzs_image **out,
                      lzs_error **err)
{
    lzs_cleanup(lzs_repo_unrefp) lzs_repo *repo = NULL;
    int rc = lzs_repo_open(&repo, r->reg, ref, err);
    if (rc == 0)
        rc = lzs_image_open(out, repo, ref, NULL, err);
    if (rc == 0 && (rc = lzs_image_find_indexes(*out, r->local_dir, err)) < 0) {
        lzs_image_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Put (name, img) first in the table, the least recent entry dropped. */
static void remember(lzs_remote *r, char *name, lzs_image *img)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct remote_image *last = &r->images[REMOTE_IMAGES_MAX - 1];
    free(last->name);
    lzs_image_free(last->img);
    memmove(&r->images[1], &r->images[0], (REMOTE_IMAGES_MAX - 1) * sizeof(r->images[0]));
    r->images[0] = (struct remote_image){name, img, now.tv_sec};
}

static void forget(lzs_remote *r, size_t i)
{
    free(r->images[i].name);
    lzs_image_free(r->images[i].img);
    memmove(&r->images[i], &r->images[i + 1], (REMOTE_IMAGES_MAX - 1 - i) * sizeof(r->images[0]));
    memset(&r->images[REMOTE_IMAGES_MAX - 1], 0, sizeof(r->images[0]));
}

static lzs_image *lookup(lzs_remote *r, const char *name)
{
    for (size_t i = 0; i < REMOTE_IMAGES_MAX && r->images[i].name; i++) {
        if (strcmp(r->images[i].name, name) != 0)
            continue;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - r->images[i].opened > REMOTE_IMAGE_TTL_S) { /* indexes may be new */
            forget(r, i);
            return NULL;
        }
        struct remote_image hit = r->images[i];
        memmove(&r->images[1], &r->images[0], i * sizeof(r->images[0]));
        r->images[0] = hit;
        return hit.img;
    }
    return NULL;
}

int remote_image_get(lzs_remote *r, const char *ref, const char *manifest, lzs_image **out,
                     lzs_error **err)
{
    struct lzs_oci_ref parsed;
    char name[LZS_OCI_REF_STR_MAX];
    int rc = resolve_ref(ref, manifest, &parsed, err);
    if (rc < 0)
        return rc;
    lzs_oci_ref_string(&parsed, name);
    if ((*out = lookup(r, name)))
        return 0;
    char *copy = strdup(name);
    if (!copy)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_image *img = NULL;
    if ((rc = open_image(r, &parsed, &img, err)) < 0) {
        free(copy);
        return rc;
    }
    remember(r, copy, img);
    *out = img;
    return 0;
}

void remote_images_dispose(lzs_remote *r)
{
    for (size_t i = 0; i < REMOTE_IMAGES_MAX; i++) {
        free(r->images[i].name);
        lzs_image_free(r->images[i].img);
    }
    memset(r->images, 0, sizeof(r->images));
}
