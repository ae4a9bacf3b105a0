/* config (private): a TOML document as a plain C tree, built by the tomlplusplus shim.
 *
 * toml_shim.cc is the only file that sees toml++; it parses, then copies the document into this
 * tree with every table's members in SOURCE order (toml++ keeps them sorted by key), each node
 * carrying its line:column. The rest of the module is C and interprets the tree.
 * This header is included by C and by the C++ shim: it uses neither base.h nor C++. */
#ifndef LZS_CONFIG_TOML_I_H
#define LZS_CONFIG_TOML_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lzs_toml_type {
    LZS_TOML_TABLE,
    LZS_TOML_ARRAY,
    LZS_TOML_STRING,
    LZS_TOML_INTEGER,
    LZS_TOML_FLOAT,
    LZS_TOML_BOOLEAN,
    LZS_TOML_DATETIME, /* date, time or date-time; the value itself is not kept */
};

struct lzs_toml {
    enum lzs_toml_type type;
    uint32_t line;     /* 1-based position where the node is defined; 0 when unknown */
    uint32_t column;   /* 1-based */
    char *key;         /* a table member's key; NULL for array elements and the root */
    uint32_t key_line; /* where that key is written (0 when unknown) */
    uint32_t key_column;
    char *str;              /* STRING: NUL-terminated; may hold NULs inside (see len) */
    size_t len;             /* STRING: length in bytes */
    int64_t i;              /* INTEGER */
    double f;               /* FLOAT */
    bool b;                 /* BOOLEAN */
    struct lzs_toml *items; /* TABLE: members in source order; ARRAY: elements */
    size_t n;
};

/* What went wrong when lzs_toml_parse_raw fails. code: positive errno (EINVAL for bad TOML,
 * ENOMEM); line/column: 1-based, 0 when not about a position; msg: one line, lower case. */
struct lzs_toml_diag {
    int code;
    uint32_t line;
    uint32_t column;
    char msg[256];
};

/* Parse len bytes of TOML (no NUL needed) into a new tree. 0, or -code with *diag filled.
 * Never throws: every exception is caught inside. */
int lzs_toml_parse_raw(struct lzs_toml **out, const char *data, size_t len,
                       struct lzs_toml_diag *diag);
/* Free a tree from lzs_toml_parse_raw; NULL-safe. */
void lzs_toml_free(struct lzs_toml *root);

#ifdef __cplusplus
}
#endif

#endif
