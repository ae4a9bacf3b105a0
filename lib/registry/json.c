/* registry: a small, strict JSON reader for the few documents this module reads itself (token
 * answers, registry error bodies, docker's config.json, credential helper output). json-c is
 * owned by lib/oci, which parses manifests. */
#include "registry_i.h"

#include <string.h>

struct parser {
    const char *p, *end, *start;
    unsigned depth;
    lzs_error **err;
};

static int fail(struct parser *ps, const char *what)
{
    return lzs_error_set(ps->err, EINVAL, "invalid json at byte %zu: %s",
                         (size_t)(ps->p - ps->start), what);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex4(struct parser *ps, unsigned *out)
{
    unsigned v = 0;
    if (ps->end - ps->p < 4)
        return fail(ps, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return fail(ps, "bad \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static int put_utf8(struct lzs_buf *b, unsigned cp, lzs_error **err)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return lzs_buf_append(b, u, n, err);
}

/* After the backslash of a \u escape: one code point, or a surrogate pair. */
static int unicode_escape(struct parser *ps, struct lzs_buf *b)
{
    unsigned cp, lo;
    int rc = hex4(ps, &cp);
    if (rc < 0)
        return rc;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(ps, "lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (!literal(ps, "\\u") || (rc = hex4(ps, &lo)) < 0 || lo < 0xdc00 || lo > 0xdfff)
            return rc < 0 ? rc : fail(ps, "unpaired surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0)
        return fail(ps, "\\u0000 in a string");
    return put_utf8(b, cp, ps->err);
}

static int escape(struct parser *ps, struct lzs_buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    char c = *ps->p++;
    if (c == 'u')
        return unicode_escape(ps, b);
    const char *at = memchr(from, c, sizeof(from) - 1);
    if (!at)
        return fail(ps, "bad escape");
    return lzs_buf_append(b, &to[at - from], 1, ps->err);
}

/* At the opening quote: the unescaped string into *out. */
static int string(struct parser *ps, char **out)
{
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    int rc = 0;
    ps->p++;
    while (rc == 0) {
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
            ps->p++;
        if ((rc = lzs_buf_append(&b, run, (size_t)(ps->p - run), ps->err)) < 0)
            break;
        if (ps->p >= ps->end || (unsigned char)*ps->p < 0x20) {
            rc = fail(ps, ps->p >= ps->end ? "unterminated string" : "control character");
        } else if (*ps->p++ == '"') {
            *out = lzs_buf_steal(&b, NULL);
            return *out ? 0 : lzs_error_set(ps->err, ENOMEM, "out of memory");
        } else {
            rc = escape(ps, &b);
        }
    }
    lzs_buf_dispose(&b);
    return rc;
}

/* Skip skip characters, then one or more digits. */
static bool digit_run(struct parser *ps, size_t skip)
{
    ps->p += skip;
    const char *d = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return ps->p > d;
}

static int number(struct parser *ps, struct reg_json *v)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    const char *digits = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    if (ps->p == digits || (*digits == '0' && ps->p - digits > 1))
        return fail(ps, "bad number");
    if (ps->p < ps->end && *ps->p == '.' && !digit_run(ps, 1))
        return fail(ps, "bad fraction");
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E') &&
        !digit_run(ps, ps->p + 1 < ps->end && (ps->p[1] == '+' || ps->p[1] == '-') ? 2 : 1))
        return fail(ps, "bad exponent");
    v->type = REG_JSON_NUM;
    v->s = strndup(s, (size_t)(ps->p - s));
    return v->s ? 0 : lzs_error_set(ps->err, ENOMEM, "out of memory");
}

static int value(struct parser *ps, struct reg_json *v);

static struct reg_json *add_item(struct parser *ps, struct reg_json *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        struct reg_json *items = lzs_realloc_array(v->items, cap, sizeof(*items));
        if (items)
            v->items = items;
        char **keys =
            v->type == REG_JSON_OBJ ? lzs_realloc_array(v->keys, cap, sizeof(*keys)) : NULL;
        if (keys)
            v->keys = keys;
        if (!items || (v->type == REG_JSON_OBJ && !keys)) {
            lzs_error_set(ps->err, ENOMEM, "out of memory");
            return NULL;
        }
        v->cap = cap;
    }
    struct reg_json *it = &v->items[v->n];
    memset(it, 0, sizeof(*it));
    if (v->type == REG_JSON_OBJ)
        v->keys[v->n] = NULL;
    v->n++;
    return it;
}

/* After '[' or '{': members until the closing bracket. */
static int members(struct parser *ps, struct reg_json *v, char close)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        struct reg_json *it = add_item(ps, v);
        if (!it)
            return -ENOMEM;
        int rc;
        if (v->type == REG_JSON_OBJ) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a key");
            if ((rc = string(ps, &v->keys[v->n - 1])) < 0)
                return rc;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':')
                return fail(ps, "expected ':'");
        }
        if ((rc = value(ps, it)) < 0)
            return rc;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p++ == close)
            return 0;
        return fail(ps, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static int value(struct parser *ps, struct reg_json *v)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > REG_JSON_DEPTH_MAX)
            return fail(ps, "nested too deeply");
        ps->p++;
        v->type = c == '{' ? REG_JSON_OBJ : REG_JSON_ARR;
        int rc = members(ps, v, c == '{' ? '}' : ']');
        ps->depth--;
        return rc;
    }
    if (c == '"') {
        v->type = REG_JSON_STR;
        return string(ps, &v->s);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return number(ps, v);
    if (literal(ps, "true") || literal(ps, "false")) {
        v->type = REG_JSON_BOOL;
        v->b = c == 't';
        return 0;
    }
    if (literal(ps, "null"))
        return 0;
    return fail(ps, "unexpected character");
}

int reg_json_parse(struct reg_json **out, const char *p, size_t n, lzs_error **err)
{
    struct parser ps = {.p = p, .end = p + n, .start = p, .err = err};
    struct reg_json *v = calloc(1, sizeof(*v));
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = value(&ps, v);
    skip_ws(&ps);
    if (rc == 0 && ps.p != ps.end)
        rc = fail(&ps, "trailing characters");
    if (rc < 0) {
        reg_json_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static void json_dispose(struct reg_json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        json_dispose(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
}

void reg_json_free(struct reg_json *v)
{
    if (!v)
        return;
    json_dispose(v);
    free(v);
}

const struct reg_json *reg_json_get(const struct reg_json *obj, const char *key)
{
    if (!obj || obj->type != REG_JSON_OBJ)
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (obj->keys[i] && strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

const char *reg_json_str(const struct reg_json *v)
{
    return v && v->type == REG_JSON_STR ? v->s : NULL;
}

bool reg_json_u64(const struct reg_json *v, uint64_t *out)
{
    if (!v || v->type != REG_JSON_NUM || v->s[0] == '-')
        return false;
    return lzs_parse_u64(v->s, out, NULL) == 0;
}
