/* registry: parsing response headers: WWW-Authenticate challenges (RFC 7235), Content-Range,
 * Retry-After, Content-Type, and the message of a registry's JSON error body. Pure functions on
 * untrusted text (fuzzed by tests/fuzz/fuzz_www_authenticate.c). */
#include "registry_i.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ---- WWW-Authenticate ------------------------------------------------------------------------ */

struct lexer {
    const char *p;
    const char *start;
    lzs_error **err;
};

static int lex_fail(struct lexer *lx, const char *what)
{
    return lzs_error_set(lx->err, EINVAL, "invalid WWW-Authenticate at byte %zu: %s",
                         (size_t)(lx->p - lx->start), what);
}

static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(struct lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t')
        lx->p++;
}

static size_t token_len(const char *p)
{
    size_t n = 0;
    while (is_tchar(p[n]))
        n++;
    return n;
}

/* At the opening quote: the unescaped quoted-string into *out. */
static int quoted(struct lexer *lx, char **out)
{
    struct lzs_buf b = LZS_BUF_INIT(REG_HEADER_VALUE_MAX + 1);
    int rc = 0;
    for (lx->p++; rc == 0; lx->p++) {
        char c = *lx->p;
        if (c == '"') {
            lx->p++;
            *out = lzs_buf_steal(&b, NULL);
            return *out ? 0 : lzs_error_set(lx->err, ENOMEM, "out of memory");
        }
        if (c == '\\' && lx->p[1] != '\0')
            c = *++lx->p;
        else if (c == '\0' || ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
            rc = lex_fail(lx, c ? "control character in a quoted string" : "unterminated string");
        if (rc == 0)
            rc = lzs_buf_append(&b, &c, 1, lx->err);
    }
    lzs_buf_dispose(&b);
    return rc;
}

/* A parameter value: a token or a quoted string. */
static int param_value(struct lexer *lx, char **out)
{
    if (*lx->p == '"')
        return quoted(lx, out);
    size_t n = token_len(lx->p);
    if (n == 0)
        return lex_fail(lx, "expected a value");
    *out = strndup(lx->p, n);
    lx->p += n;
    return *out ? 0 : lzs_error_set(lx->err, ENOMEM, "out of memory");
}

static char **param_slot(struct reg_challenge *c, const char *name, size_t n)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {"realm", offsetof(struct reg_challenge, realm)},
        {"service", offsetof(struct reg_challenge, service)},
        {"scope", offsetof(struct reg_challenge, scope)},
        {"error", offsetof(struct reg_challenge, error)},
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(known); i++)
        if (strlen(known[i].name) == n && strncasecmp(known[i].name, name, n) == 0)
            return (char **)((char *)c + known[i].off);
    return NULL;
}

/* "name = value" at lx->p (the name is known to be followed by '='). */
static int param(struct lexer *lx, struct reg_challenge *c)
{
    const char *name = lx->p;
    size_t n = token_len(name);
    lx->p += n;
    skip_ows(lx);
    lx->p++; /* '=' */
    skip_ows(lx);
    char *v = NULL;
    int rc = param_value(lx, &v);
    if (rc < 0)
        return rc;
    char **slot = param_slot(c, name, n);
    if (slot) {
        free(*slot); /* a repeated parameter: the last one wins */
        *slot = v;
    } else {
        free(v);
    }
    return 0;
}

/* Is lx->p at "token BWS =" (a parameter) rather than the next challenge's scheme? */
static bool at_param(const char *p)
{
    size_t n = token_len(p);
    if (n == 0)
        return false;
    p += n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p != '=' && *p != ',' && *p != '\0'; /* else the end of a token68 */
}

/* A token68 ("Basic dXNlcg==" style credentials-like data) right after a scheme. */
static bool skip_token68(struct lexer *lx)
{
    const char *p = lx->p;
    while (isalnum((unsigned char)*p) || (*p && strchr("-._~+/", *p)))
        p++;
    if (p == lx->p)
        return false;
    while (*p == '=')
        p++;
    const char *q = p;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q != ',' && *q != '\0')
        return false;
    lx->p = p;
    return true;
}

static enum reg_auth_scheme scheme_of(const char *s, size_t n)
{
    if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
        return REG_AUTH_BEARER;
    if (n == 5 && strncasecmp(s, "basic", 5) == 0)
        return REG_AUTH_BASIC;
    return REG_AUTH_OTHER;
}

/* The parameters of challenge c, up to the next scheme or the end. */
static int params(struct lexer *lx, struct reg_challenge *c)
{
    size_t count = 0;
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == ',')
            lx->p++;
        if (*lx->p == '\0' || !at_param(lx->p))
            return 0;
        if (++count > REG_CHALLENGE_PARAMS_MAX)
            return lex_fail(lx, "too many parameters");
        int rc = param(lx, c);
        if (rc < 0)
            return rc;
        skip_ows(lx);
        if (*lx->p != ',' && *lx->p != '\0')
            return lex_fail(lx, "expected ',' after a parameter");
    }
}

static int challenge(struct lexer *lx, struct reg_challenge *c)
{
    size_t n = token_len(lx->p);
    if (n == 0)
        return lex_fail(lx, "expected an auth scheme");
    c->scheme = scheme_of(lx->p, n);
    lx->p += n;
    if (*lx->p != ' ' && *lx->p != '\t' && *lx->p != ',' && *lx->p != '\0')
        return lex_fail(lx, "bad auth scheme");
    skip_ows(lx);
    if (!at_param(lx->p) && skip_token68(lx))
        return 0;
    return params(lx, c);
}

int reg_challenges_parse(struct reg_challenges *out, const char *s, lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    struct lexer lx = {.p = s, .start = s, .err = err};
    if (strlen(s) > REG_HEADER_VALUE_MAX)
        return lzs_error_set(err, EINVAL, "WWW-Authenticate longer than %u bytes",
                             REG_HEADER_VALUE_MAX);
    for (;;) {
        while (*lx.p == ' ' || *lx.p == '\t' || *lx.p == ',')
            lx.p++;
        if (*lx.p == '\0')
            break;
        if (out->n == REG_CHALLENGES_MAX) {
            reg_challenges_dispose(out);
            return lex_fail(&lx, "too many challenges");
        }
        int rc = challenge(&lx, &out->v[out->n++]);
        if (rc < 0) {
            reg_challenges_dispose(out);
            return rc;
        }
    }
    if (out->n == 0)
        return lex_fail(&lx, "no challenge");
    return 0;
}

void reg_challenges_dispose(struct reg_challenges *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].realm), free(c->v[i].service);
        free(c->v[i].scope), free(c->v[i].error);
    }
    memset(c, 0, sizeof(*c));
}

const struct reg_challenge *reg_challenges_pick(const struct reg_challenges *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].scheme == REG_AUTH_BEARER && c->v[i].realm && c->v[i].realm[0])
            return &c->v[i];
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].scheme == REG_AUTH_BASIC)
            return &c->v[i];
    return NULL;
}

/* ---- Content-Range, Retry-After, Content-Type ------------------------------------------------ */

/* Decimal digits at *p (at least one, no overflow), advancing *p. */
static bool digits(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    for (; *s >= '0' && *s <= '9'; s++)
        if (lzs_mul_overflow(v, 10, &v) || lzs_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

int reg_content_range_parse(struct reg_content_range *out, const char *s)
{
    struct reg_content_range cr;
    if (strncasecmp(s, "bytes ", 6) != 0)
        return -EINVAL;
    s += 6;
    while (*s == ' ')
        s++;
    if (!digits(&s, &cr.start) || *s++ != '-' || !digits(&s, &cr.end) || *s++ != '/')
        return -EINVAL;
    if (s[0] == '*' && s[1] == '\0')
        cr.total = UINT64_MAX, s++;
    else if (!digits(&s, &cr.total))
        return -EINVAL;
    if (*s != '\0' || cr.start > cr.end || (cr.total != UINT64_MAX && cr.end >= cr.total))
        return -EINVAL;
    *out = cr;
    return 0;
}

int reg_retry_after_parse(const char *s, int64_t now_s, uint64_t *ms)
{
    uint64_t secs;
    const char *p = s;
    if (digits(&p, &secs) && *p == '\0') {
        *ms = secs > UINT64_MAX / 1000 ? UINT64_MAX : secs * 1000;
        return 0;
    }
    if (!isalpha((unsigned char)s[0]))
        return -EINVAL;
    time_t when = curl_getdate(s, NULL);
    if (when == (time_t)-1)
        return -EINVAL;
    *ms = (int64_t)when <= now_s ? 0 : (uint64_t)((int64_t)when - now_s) * 1000;
    return 0;
}

char *reg_media_type(const char *content_type)
{
    const char *s = content_type;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, ";");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = strndup(s, n);
    for (char *c = out; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return out;
}

/* ---- registry error bodies ------------------------------------------------------------------- */

bool reg_error_body_message(const char *body, size_t n, char *out, size_t len)
{
    struct reg_json *doc = NULL;
    if (len == 0 || n == 0 || body[0] != '{' || reg_json_parse(&doc, body, n, NULL) < 0)
        return false;
    const struct reg_json *errors = reg_json_get(doc, "errors");
    const struct reg_json *first =
        errors && errors->type == REG_JSON_ARR && errors->n > 0 ? &errors->items[0] : NULL;
    const char *msg = reg_json_str(reg_json_get(first, "message"));
    if (!msg || !msg[0])
        msg = reg_json_str(reg_json_get(first, "code"));
    bool found = msg && msg[0];
    if (found) {
        size_t i = 0;
        for (; msg[i] && i + 1 < len; i++)
            out[i] = (unsigned char)msg[i] < 0x20 ? ' ' : msg[i];
        out[i] = '\0';
    }
    reg_json_free(doc);
    return found;
}
