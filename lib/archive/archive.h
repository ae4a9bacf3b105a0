/* archive: libarchive over an uncompressed tar stream. Walks it into index entries with the exact
 * offset of each entry's data, and the sha256 of every regular file's content. */
#ifndef LZS_ARCHIVE_H
#define LZS_ARCHIVE_H

#include "base/base.h"
#include "index/index.h"

/* Pull up to n bytes of the uncompressed tar stream; 0 at its end; < 0 on error (err set). */
typedef ssize_t (*lzs_archive_read_fn)(void *data, void *buf, size_t n, lzs_error **err);

struct lzs_archive_stats {
    uint64_t entries;    /* tar entries walked */
    uint64_t file_bytes; /* regular file content hashed */
};

/* Add every entry of the tar stream to w, in order. Rejects, with a message naming the entry:
 * paths that escape the layer (".."), sizes past the end of the stream, unsupported entry types.
 * Reads the stream to its end (so the caller's decoder can verify its trailer). */
int lzs_archive_walk(lzs_archive_read_fn read, void *data, lzs_index_writer *w,
                     struct lzs_archive_stats *stats, lzs_error **err);

#endif
