/* Fuzz target: what registries send back that lib/registry parses by hand: WWW-Authenticate
 * challenges, Content-Range, Retry-After, Content-Type, and JSON (token answers, error bodies,
 * docker's config.json). Must never crash; parsed values keep their invariants; failures carry a
 * one-line message. */
#include "registry/registry_i.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool one_line(const lzs_error *err)
{
    return err && err->msg && !strchr(err->msg, '\n');
}

static void check_challenges(const char *s)
{
    struct reg_challenges cs;
    lzs_error *err = NULL;
    if (reg_challenges_parse(&cs, s, &err) == 0) {
        if (cs.n == 0 || cs.n > REG_CHALLENGES_MAX)
            abort();
        const struct reg_challenge *c = reg_challenges_pick(&cs);
        if (c && c->scheme == REG_AUTH_BEARER && (!c->realm || !c->realm[0]))
            abort(); /* a Bearer challenge is only answered with a realm to ask */
        if (c && c->scheme != REG_AUTH_BEARER && c->scheme != REG_AUTH_BASIC)
            abort();
        reg_challenges_dispose(&cs);
    } else if (!one_line(err) || cs.n != 0) {
        abort();
    }
    lzs_error_free(&err);
}

static void check_ranges(const char *s)
{
    struct reg_content_range cr;
    if (reg_content_range_parse(&cr, s) == 0 &&
        (cr.start > cr.end || (cr.total != UINT64_MAX && cr.end >= cr.total)))
        abort();
    uint64_t ms;
    (void)reg_retry_after_parse(s, 1700000000, &ms);
    free(reg_media_type(s));
}

static void check_json(const char *p, size_t n)
{
    struct reg_json *v = NULL;
    lzs_error *err = NULL;
    if (reg_json_parse(&v, p, n, &err) == 0) {
        uint64_t u;
        (void)reg_json_u64(reg_json_get(v, "expires_in"), &u);
        (void)reg_json_str(reg_json_get(v, "token"));
        reg_json_free(v);
    } else if (!one_line(err) || v) {
        abort();
    }
    lzs_error_free(&err);
    char msg[128];
    if (reg_error_body_message(p, n, msg, sizeof(msg)) && (!msg[0] || strchr(msg, '\n')))
        abort();
    struct reg_creds c;
    char *helper = NULL, *server = NULL;
    if (reg_creds_from_config(p, n, "127.0.0.1:5000", &c, &helper, &server, NULL) == 0) {
        if ((helper == NULL) != (server == NULL))
            abort();
        reg_creds_dispose(&c);
        free(helper), free(server);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_challenges(s);
    check_ranges(s);
    check_json((const char *)data, size);
    free(s);
    return 0;
}
