/* Fuzz target: containerd's List filters (they come over the snapshots API). Input: filter
 * strings separated by newlines. A parse either fails cleanly or gives a filter that matches a
 * record without crashing; parsing is deterministic. */
#include "rpc/rpc_i.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *filters[16];
    size_t n = 0;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = text, *nl; n < 16 && p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        filters[n++] = p;
    }
    struct lzs_snap_label labels[] = {{(char *)"containerd.io/snapshot.ref", (char *)"sha256:a"},
                                      {(char *)"x.y", (char *)""}};
    struct lzs_snap_info info = {.id = 1,
                                 .key = (char *)"default/1/k",
                                 .parent = (char *)"sha256:p",
                                 .kind = LZS_SNAP_COMMITTED,
                                 .labels = labels,
                                 .n_labels = 2};
    rpc_filter *f = NULL, *g = NULL;
    int a = rpc_filter_parse(&f, filters, n, NULL), b = rpc_filter_parse(&g, filters, n, NULL);
    if (a != b)
        abort();
    if (a == 0 && rpc_filter_match(f, &info) != rpc_filter_match(g, &info))
        abort();
    rpc_filter_free(f);
    rpc_filter_free(g);
    free(text);
    return 0;
}
