/* registry: credentials from docker's config.json, as the docker CLI stores them: credHelpers
 * and credsStore (docker-credential-NAME get), then auths ("auth": base64 user:pass, or
 * username/password, and identitytoken). */
#include "registry_i.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

#define DOCKER_HUB_KEY "https://index.docker.io/v1/"

void reg_creds_dispose(struct reg_creds *c)
{
    free(c->username), free(c->password), free(c->identity_token);
    memset(c, 0, sizeof(*c));
}

bool reg_creds_is_empty(const struct reg_creds *c)
{
    return !c->username && !c->password && !c->identity_token;
}

static bool is_docker_hub(const char *host)
{
    return strcmp(host, "registry-1.docker.io") == 0 || strcmp(host, "docker.io") == 0 ||
           strcmp(host, "index.docker.io") == 0;
}

/* An auths key as docker's ConvertToHostname: scheme and path dropped. */
static bool key_matches(const char *key, const char *host)
{
    if (is_docker_hub(host) && strcmp(key, DOCKER_HUB_KEY) == 0)
        return true;
    const char *k = key;
    if (strncmp(k, "http://", 7) == 0)
        k += 7;
    else if (strncmp(k, "https://", 8) == 0)
        k += 8;
    size_t n = strcspn(k, "/");
    if (is_docker_hub(host))
        return (n == 9 && strncmp(k, "docker.io", n) == 0) ||
               (n == 15 && strncmp(k, "index.docker.io", n) == 0) ||
               (n == 20 && strncmp(k, "registry-1.docker.io", n) == 0);
    return strlen(host) == n && strncmp(k, host, n) == 0;
}

static const struct reg_json *auths_entry(const struct reg_json *auths, const char *host)
{
    if (!auths || auths->type != REG_JSON_OBJ)
        return NULL;
    for (size_t i = 0; i < auths->n; i++) /* an exact key first */
        if (strcmp(auths->keys[i], host) == 0)
            return &auths->items[i];
    for (size_t i = 0; i < auths->n; i++)
        if (key_matches(auths->keys[i], host))
            return &auths->items[i];
    return NULL;
}

static int set_str(char **dst, const char *s, lzs_error **err)
{
    if (!s || !s[0])
        return 0;
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

/* "auth": base64 of "user:password". */
static int decode_auth(const char *auth, struct reg_creds *out, const char *host, lzs_error **err)
{
    char *plain = NULL;
    size_t n;
    int rc = reg_base64_decode(auth, &plain, &n);
    if (rc == -ENOMEM)
        return lzs_error_set(err, ENOMEM, "out of memory");
    char *colon = rc == 0 ? memchr(plain, ':', n) : NULL;
    if (!colon || memchr(plain, '\0', n)) {
        free(plain);
        return lzs_error_set(err, EINVAL, "auths[\"%s\"].auth is not base64 of user:password",
                             host);
    }
    *colon = '\0';
    if ((rc = set_str(&out->username, plain, err)) == 0)
        rc = set_str(&out->password, colon + 1, err);
    free(plain);
    return rc;
}

static int creds_from_entry(const struct reg_json *e, const char *host, struct reg_creds *out,
                            lzs_error **err)
{
    const char *auth = reg_json_str(reg_json_get(e, "auth"));
    int rc = auth && auth[0] ? decode_auth(auth, out, host, err) : 0;
    if (rc == 0)
        rc = set_str(&out->username, reg_json_str(reg_json_get(e, "username")), err);
    if (rc == 0)
        rc = set_str(&out->password, reg_json_str(reg_json_get(e, "password")), err);
    if (rc == 0)
        rc = set_str(&out->identity_token, reg_json_str(reg_json_get(e, "identitytoken")), err);
    if (rc < 0)
        reg_creds_dispose(out);
    return rc;
}

/* The helper for host: credHelpers[host or hub alias], else credsStore; NULL when none. */
static const char *helper_for(const struct reg_json *doc, const char *host, const char **server)
{
    const struct reg_json *helpers = reg_json_get(doc, "credHelpers");
    *server = is_docker_hub(host) ? DOCKER_HUB_KEY : host;
    for (size_t i = 0; helpers && helpers->type == REG_JSON_OBJ && i < helpers->n; i++) {
        const char *name = reg_json_str(&helpers->items[i]);
        if (name && name[0] &&
            (strcmp(helpers->keys[i], host) == 0 || key_matches(helpers->keys[i], host))) {
            *server = helpers->keys[i];
            return name;
        }
    }
    const char *store = reg_json_str(reg_json_get(doc, "credsStore"));
    return store && store[0] ? store : NULL;
}

int reg_creds_from_config(const char *json, size_t n, const char *host, struct reg_creds *out,
                          char **helper, char **server, lzs_error **err)
{
    struct reg_json *doc = NULL;
    memset(out, 0, sizeof(*out));
    *helper = *server = NULL;
    int rc = reg_json_parse(&doc, json, n, err);
    if (rc < 0)
        return rc;
    const char *srv;
    const char *name = helper_for(doc, host, &srv);
    if (name) {
        *helper = strdup(name);
        *server = strdup(srv);
        if (!*helper || !*server) {
            free(*helper), free(*server);
            *helper = *server = NULL;
            rc = lzs_error_set(err, ENOMEM, "out of memory");
        }
    } else {
        rc = creds_from_entry(auths_entry(reg_json_get(doc, "auths"), host), host, out, err);
    }
    reg_json_free(doc);
    return rc;
}

int reg_creds_from_helper(const char *json, size_t n, struct reg_creds *out, lzs_error **err)
{
    struct reg_json *doc = NULL;
    memset(out, 0, sizeof(*out));
    int rc = reg_json_parse(&doc, json, n, err);
    if (rc < 0)
        return rc;
    const char *user = reg_json_str(reg_json_get(doc, "Username"));
    const char *secret = reg_json_str(reg_json_get(doc, "Secret"));
    if (user && strcmp(user, "<token>") == 0)
        rc = set_str(&out->identity_token, secret, err);
    else if ((rc = set_str(&out->username, user, err)) == 0)
        rc = set_str(&out->password, secret, err);
    reg_json_free(doc);
    if (rc < 0)
        reg_creds_dispose(out);
    return rc;
}

/* ---- docker-credential-NAME get -------------------------------------------------------------- */

struct child {
    pid_t pid;
    int in;  /* our end of its stdin (a socket: send never raises SIGPIPE) */
    int out; /* our end of its stdout */
};

static int spawn_helper(const char *prog, struct child *c, lzs_error **err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 ? errno : 0;
    if (rc == 0 && pipe2(out, O_CLOEXEC) < 0)
        rc = errno;
    if (rc == 0 && (rc = posix_spawn_file_actions_init(&fa)) == 0) {
        posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        char *argv[] = {(char *)prog, (char *)"get", NULL};
        rc = posix_spawnp(&c->pid, prog, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    if (in[1] >= 0)
        close(in[1]);
    if (out[1] >= 0)
        close(out[1]);
    c->in = in[0], c->out = out[0];
    if (rc != 0) {
        lzs_closep(&c->in), lzs_closep(&c->out);
        c->in = c->out = -1;
        return lzs_error_set_sys(err, rc, "%s get", prog);
    }
    return 0;
}

/* Read the child's stdout until it closes, the limit, or the deadline. */
static int read_output(struct child *c, struct lzs_buf *b, uint64_t deadline, lzs_error **err)
{
    for (;;) {
        uint64_t now = reg_now_ms();
        if (now >= deadline)
            return lzs_error_set(err, ETIMEDOUT, "no answer within %u ms", REG_HELPER_TIMEOUT_MS);
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lzs_error_set_sys(err, errno, "poll");
        if (n == 0)
            continue;
        char chunk[4096];
        ssize_t r = read(c->out, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? lzs_error_set_sys(err, errno, "read") : 0;
        int rc = lzs_buf_append(b, chunk, (size_t)r, err);
        if (rc < 0)
            return rc;
    }
}

static int reap(pid_t pid, bool kill_it)
{
    int status = 0;
    if (kill_it)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* The first line of a helper's output, for messages. */
static void first_line(const struct lzs_buf *b, char *out, size_t len)
{
    const char *s = lzs_buf_cstr(b);
    size_t n = strcspn(s, "\r\n");
    snprintf(out, len, "%.*s", (int)(n < 200 ? n : 200), s);
}

static int helper_result(const char *prog, int status, const struct lzs_buf *b,
                         struct reg_creds *out, lzs_error **err)
{
    char line[256];
    first_line(b, line, sizeof(line));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        int rc = reg_creds_from_helper(b->data ? b->data : "", b->len, out, err);
        return rc < 0 ? lzs_error_wrap(err, "%s get", prog) : 0;
    }
    if (strstr(line, "credentials not found"))
        return 0; /* the helper knows nothing about this host: anonymous */
    if (WIFEXITED(status))
        return lzs_error_set(err, EACCES, "%s get: exit status %d%s%s", prog, WEXITSTATUS(status),
                             line[0] ? ": " : "", line);
    return lzs_error_set(err, EACCES, "%s get: killed by signal %d", prog, WTERMSIG(status));
}

int reg_creds_run_helper(const char *name, const char *server, uint64_t timeout_ms,
                         struct reg_creds *out, lzs_error **err)
{
    char prog[256];
    memset(out, 0, sizeof(*out));
    if (strchr(name, '/') ||
        snprintf(prog, sizeof(prog), "docker-credential-%s", name) >= (int)sizeof(prog))
        return lzs_error_set(err, EINVAL, "bad credential helper name \"%.100s\"", name);
    struct child c;
    int rc = spawn_helper(prog, &c, err);
    if (rc < 0)
        return rc;
    if (send(c.in, server, strlen(server), MSG_NOSIGNAL) < 0)
        LZS_DEBUG("%s get: writing its input: %m", prog); /* it may not read it: its answer says */
    close(c.in);
    struct lzs_buf b = LZS_BUF_INIT(REG_HELPER_OUTPUT_MAX);
    rc = read_output(&c, &b, reg_now_ms() + timeout_ms, err);
    close(c.out);
    int status = reap(c.pid, rc < 0);
    if (rc < 0)
        rc = lzs_error_wrap(err, "%s get", prog);
    else
        rc = helper_result(prog, status, &b, out, err);
    lzs_buf_dispose(&b);
    return rc;
}

/* ---- config.json ----------------------------------------------------------------------------- */

static char *config_path(const char *dir)
{
    const char *home = getenv("HOME");
    const char *env = getenv("DOCKER_CONFIG");
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    int rc;
    if (dir && dir[0])
        rc = lzs_buf_printf(&b, NULL, "%s/config.json", dir);
    else if (env && env[0])
        rc = lzs_buf_printf(&b, NULL, "%s/config.json", env);
    else
        rc = lzs_buf_printf(&b, NULL, "%s/.docker/config.json", home && home[0] ? home : "/root");
    if (rc < 0) {
        lzs_buf_dispose(&b);
        return NULL;
    }
    return lzs_buf_steal(&b, NULL);
}

/* *source: "PATH", or "docker-credential-HELPER (PATH)". */
static int source_set(char **source, const char *path, const char *helper, lzs_error **err)
{
    free(*source);
    int n = helper ? asprintf(source, "docker-credential-%s (%s)", helper, path)
                   : asprintf(source, "%s", path);
    if (n < 0) {
        *source = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

static int lookup_in(const char *path, const struct lzs_buf *json, const char *host,
                     struct reg_creds *out, char **source, lzs_error **err)
{
    lzs_autofree char *helper = NULL;
    lzs_autofree char *server = NULL;
    int rc = reg_creds_from_config(lzs_buf_cstr(json), json->len, host, out, &helper, &server, err);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", path);
    if (!helper)
        return source_set(source, path, NULL, err);
    rc = reg_creds_run_helper(helper, server, REG_HELPER_TIMEOUT_MS, out, err);
    if (rc < 0)
        return lzs_error_wrap(err, "credentials for %s (%s)", host, path);
    return source_set(source, path, helper, err);
}

int reg_creds_lookup(const char *dir, const char *host, struct reg_creds *out, char **source,
                     lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    *source = NULL;
    lzs_autofree char *path = config_path(dir);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct lzs_buf json = LZS_BUF_INIT(REG_DOCKER_CONFIG_MAX);
    lzs_error *ferr = NULL;
    int rc = lzs_file_read_all(path, &json, &ferr);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        lzs_error_free(&ferr); /* no config.json: no credentials */
        rc = source_set(source, path, NULL, err);
    } else if (rc < 0 && err) {
        *err = ferr;
    } else if (rc < 0) {
        lzs_error_free(&ferr);
    } else {
        rc = lookup_in(path, &json, host, out, source, err);
    }
    lzs_buf_dispose(&json);
    if (rc < 0)
        reg_creds_dispose(out);
    return rc;
}
