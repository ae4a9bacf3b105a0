/* containerd's List filters (its filters package): alternatives of comma-joined selectors
 * "fieldpath[op value]", ops ==, != and ~= (POSIX extended regex), matched as containerd does:
 * present-only, == needs the field present, != and ~= compare "" for an absent field. */
#include "rpc_i.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

enum op { OP_PRESENT, OP_EQ, OP_NE, OP_MATCH };

/* Bounds that keep a regular expression's compiled size small: glibc's regcomp copies the
 * operand of every + and {m,n}, so nested ones multiply. Its length, and a budget for the
 * copies (every '+' counted, escaped or bracketed ones too: a conservative count). */
#define REGEX_MAX_LEN 1024
#define REGEX_BUDGET 256

struct selector {
    char *field; /* name, parent, kind, labels */
    char *key;   /* labels: the label's name (the rest of the field path, joined by ".") */
    enum op op;
    char *value;
    regex_t re;
    bool has_re;
};

struct alternative {
    struct selector *v;
    size_t n;
};

struct rpc_filter {
    struct alternative *v;
    size_t n;
};

static void selector_free(struct selector *s)
{
    free(s->field);
    free(s->key);
    free(s->value);
    if (s->has_re)
        regfree(&s->re);
}

void rpc_filter_free(rpc_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        for (size_t k = 0; k < f->v[i].n; k++)
            selector_free(&f->v[i].v[k]);
        free(f->v[i].v);
    }
    free(f->v);
    free(f);
}

/* A quoted ("..." with \-escapes) or bare token at *p (bare: up to one of stop); advances *p. */
static char *token(const char **p, const char *stop, const char *filter, lzs_error **err)
{
    struct lzs_buf b = LZS_BUF_INIT(64 << 10);
    const char *s = *p;
    int rc = 0;
    if (*s == '"') {
        for (s++; rc == 0 && *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            rc = lzs_buf_append(&b, s, 1, err);
        }
        if (rc == 0 && *s != '"')
            rc = lzs_error_set(err, EINVAL, "filter '%s': an unterminated quote", filter);
        s += *s == '"';
    } else {
        for (; rc == 0 && *s && !strchr(stop, *s); s++)
            rc = lzs_buf_append(&b, s, 1, err);
    }
    if (rc == 0 && b.len == 0 && (**p != '"'))
        rc = lzs_error_set(err, EINVAL, "filter '%s': expected a field or value at '%s'", filter,
                           *p);
    *p = s;
    if (rc < 0) {
        lzs_buf_dispose(&b);
        return NULL;
    }
    char *out = strdup(lzs_buf_cstr(&b));
    lzs_buf_dispose(&b);
    if (!out)
        lzs_error_set(err, ENOMEM, "out of memory");
    return out;
}

/* The field path: a field, then for labels the rest joined by "." into key. */
static int fieldpath(struct selector *sel, const char **p, const char *filter, lzs_error **err)
{
    if (!(sel->field = token(p, ".,=!~ ", filter, err)))
        return -EINVAL;
    struct lzs_buf key = LZS_BUF_INIT(64 << 10);
    int rc = 0;
    while (rc == 0 && **p == '.') {
        (*p)++;
        char *part = token(p, ".,=!~ ", filter, err);
        rc = part ? lzs_buf_printf(&key, err, "%s%s", key.len ? "." : "", part) : -EINVAL;
        free(part);
    }
    if (rc == 0 && key.len && !(sel->key = strdup(lzs_buf_cstr(&key))))
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    lzs_buf_dispose(&key);
    return rc;
}

/* The largest count inside the first {m,n} of re (0 without one); -1 when there are several. */
static long largest_count(const char *re)
{
    const char *brace = strchr(re, '{');
    if (!brace)
        return 0;
    if (strchr(brace + 1, '{'))
        return -1;
    long most = 1;
    for (const char *p = brace; *p && *p != '}'; p++)
        if (isdigit((unsigned char)*p) && (p == brace || !isdigit((unsigned char)p[-1]))) {
            long n = strtol(p, NULL, 10);
            most = n > most ? n : most;
        }
    return most;
}

/* Refuse what could make regcomp's copies blow up: the product of 2 per '+' and the largest
 * {m,n} count must stay within REGEX_BUDGET. */
static int check_regex(const char *re, const char *filter, lzs_error **err)
{
    if (strlen(re) > REGEX_MAX_LEN)
        return lzs_error_set(err, EINVAL, "filter '%.64s...': a regular expression over %d bytes",
                             filter, REGEX_MAX_LEN);
    long count = largest_count(re), budget = 1;
    for (const char *p = re; *p && budget <= REGEX_BUDGET; p++)
        budget *= *p == '+' ? 2 : 1;
    if (count < 0 || count > REGEX_BUDGET || budget * (count ? count : 1) > REGEX_BUDGET)
        return lzs_error_set(
            err, EINVAL, "filter '%.64s': a regular expression with too many repetitions", filter);
    return 0;
}

static void skip_blanks(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

static int selector(struct selector *sel, const char **p, const char *filter, lzs_error **err)
{
    int rc = fieldpath(sel, p, filter, err);
    if (rc < 0)
        return rc;
    skip_blanks(p);
    static const struct {
        const char *s;
        enum op op;
    } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"~=", OP_MATCH}};
    sel->op = OP_PRESENT;
    for (size_t i = 0; i < LZS_ARRAY_SIZE(ops); i++)
        if (strncmp(*p, ops[i].s, 2) == 0) {
            sel->op = ops[i].op;
            *p += 2;
        }
    if (sel->op == OP_PRESENT)
        return 0;
    skip_blanks(p);
    if (!(sel->value = token(p, ", \t", filter, err)))
        return -EINVAL;
    if (sel->op == OP_MATCH) {
        rc = check_regex(sel->value, filter, err);
        if (rc < 0)
            return rc;
        if (regcomp(&sel->re, sel->value, REG_EXTENDED | REG_NOSUB) != 0)
            return lzs_error_set(err, EINVAL, "filter '%s': bad regular expression '%s'", filter,
                                 sel->value);
        sel->has_re = true;
    }
    return 0;
}

static int alternative(struct alternative *a, const char *filter, lzs_error **err)
{
    for (const char *p = filter; *p;) {
        skip_blanks(&p);
        struct selector *v = lzs_realloc_array(a->v, a->n + 1, sizeof(*v));
        if (!v)
            return lzs_error_set(err, ENOMEM, "out of memory");
        a->v = v;
        memset(&v[a->n], 0, sizeof(*v));
        int rc = selector(&v[a->n++], &p, filter, err);
        if (rc < 0)
            return rc;
        skip_blanks(&p);
        if (*p && *p != ',')
            return lzs_error_set(err, EINVAL, "filter '%s': unexpected '%s'", filter, p);
        p += *p == ',';
    }
    return 0;
}

int rpc_filter_parse(rpc_filter **out, char *const *filters, size_t n, lzs_error **err)
{
    rpc_filter *f = calloc(1, sizeof(*f));
    if (!f || !(f->v = lzs_calloc_array(n ? n : 1, sizeof(*f->v)))) {
        free(f);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int rc = alternative(&f->v[f->n++], filters[i], err);
        if (rc < 0) {
            rpc_filter_free(f);
            return rc;
        }
    }
    *out = f;
    return 0;
}

/* The value of the selector's field in i; NULL when absent. */
static const char *field_of(const struct selector *s, const struct lzs_snap_info *i)
{
    if (strcmp(s->field, "labels") == 0) {
        for (size_t k = 0; s->key && k < i->n_labels; k++)
            if (strcmp(i->labels[k].name, s->key) == 0)
                return i->labels[k].value;
        return NULL;
    }
    /* the rest of a path after name, parent or kind is ignored, as containerd does */
    if (strcmp(s->field, "name") == 0)
        return i->key;
    if (strcmp(s->field, "parent") == 0)
        return i->parent;
    if (strcmp(s->field, "kind") == 0)
        return lzs_snap_kind_name(i->kind);
    return NULL;
}

static bool selector_match(const struct selector *s, const struct lzs_snap_info *i)
{
    const char *v = field_of(s, i);
    switch (s->op) {
    case OP_PRESENT:
        return v != NULL;
    case OP_EQ:
        return v && strcmp(v, s->value) == 0;
    case OP_NE:
        return strcmp(v ? v : "", s->value) != 0;
    case OP_MATCH:
        return regexec(&s->re, v ? v : "", 0, NULL, 0) == 0;
    }
    return false;
}

bool rpc_filter_match(const rpc_filter *f, const struct lzs_snap_info *i)
{
    if (f->n == 0)
        return true;
    for (size_t a = 0; a < f->n; a++) {
        bool all = true;
        for (size_t k = 0; all && k < f->v[a].n; k++)
            all = selector_match(&f->v[a].v[k], i);
        if (all)
            return true;
    }
    return false;
}
