/* Fuzz target: OCI digest strings (they arrive from manifests, labels and index files). */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct lzs_digest d;
    lzs_error *err = NULL;
    if (lzs_digest_parse(&d, s, &err) == 0) {
        char out[LZS_DIGEST_STR_MAX];
        if (strcmp(lzs_digest_format(&d, out), s) != 0)
            abort(); /* a parsed digest must format back to the same text */
    } else if (!err || !err->msg) {
        abort(); /* every failure names what was wrong */
    }
    lzs_error_free(&err);
    uint64_t v;
    (void)lzs_parse_size(s, &v, NULL);
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    (void)lzs_buf_append_json_str(&b, s, size, NULL);
    lzs_buf_dispose(&b);
    free(s);
    return 0;
}
