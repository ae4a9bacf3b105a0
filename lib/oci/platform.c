/* oci: platforms: parsing, the host's, and matching as containerd 1.6's platforms.Only does. */
#include "oci_i.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void set(char *field, const char *v)
{
    snprintf(field, LZS_OCI_PLATFORM_FIELD_MAX, "%s", v);
}

/* containerd's normalizeArch. */
static void normalize_arch(char *arch, char *variant)
{
    if (strcmp(arch, "i386") == 0) {
        set(arch, "386");
        set(variant, "");
    } else if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64") || !strcmp(arch, "amd64")) {
        set(arch, "amd64");
        if (strcmp(variant, "v1") == 0)
            set(variant, "");
    } else if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")) {
        set(arch, "arm64");
        if (!strcmp(variant, "8") || !strcmp(variant, "v8"))
            set(variant, "");
    } else if (strcmp(arch, "armhf") == 0) {
        set(arch, "arm");
        set(variant, "v7");
    } else if (strcmp(arch, "armel") == 0) {
        set(arch, "arm");
        set(variant, "v6");
    } else if (strcmp(arch, "arm") == 0) {
        if (!variant[0] || !strcmp(variant, "7"))
            set(variant, "v7");
        else if (!strcmp(variant, "5") || !strcmp(variant, "6") || !strcmp(variant, "8"))
            snprintf(variant, LZS_OCI_PLATFORM_FIELD_MAX, "v%c", variant[0]);
    }
}

void oci_platform_normalize(struct lzs_oci_platform *p)
{
    lower(p->os);
    if (strcmp(p->os, "macos") == 0)
        set(p->os, "darwin");
    lower(p->architecture);
    lower(p->variant);
    normalize_arch(p->architecture, p->variant);
}

static bool is_specifier(const char *s, size_t n)
{
    if (n == 0 || n >= LZS_OCI_PLATFORM_FIELD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!ok && c != '_' && c != '-')
            return false;
    }
    return true;
}

static bool is_known_os(const char *s)
{
    static const char *const oses[] = {"linux",   "windows", "darwin",  "freebsd", "netbsd",
                                       "openbsd", "solaris", "illumos", "aix",     "macos"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(oses); i++)
        if (strcasecmp(s, oses[i]) == 0)
            return true;
    return false;
}

/* "linux" alone takes the host's architecture; "arm64" alone the OS linux. */
static int parse_one(struct lzs_oci_platform *out, const char *s, lzs_error **err)
{
    if (!is_known_os(s)) {
        set(out->os, "linux");
        set(out->architecture, s);
        return 0;
    }
    int rc = lzs_oci_platform_host(out, err);
    set(out->os, s);
    return rc;
}

int lzs_oci_platform_parse(struct lzs_oci_platform *out, const char *s, lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    char *fields[3] = {out->os, out->architecture, out->variant};
    size_t nf = 0;
    for (const char *p = s ? s : "";; nf++) {
        size_t n = strcspn(p, "/");
        if (nf == 3 || !is_specifier(p, n))
            return lzs_error_set(err, EINVAL, "invalid platform '%.100s': want os/arch[/variant]",
                                 s ? s : "");
        snprintf(fields[nf], LZS_OCI_PLATFORM_FIELD_MAX, "%.*s", (int)n, p);
        if (!p[n])
            break;
        p += n + 1;
    }
    if (nf == 0) {
        char one[LZS_OCI_PLATFORM_FIELD_MAX];
        set(one, out->os);
        memset(out, 0, sizeof(*out));
        int rc = parse_one(out, one, err);
        if (rc < 0)
            return rc;
    }
    oci_platform_normalize(out);
    return 0;
}

int lzs_oci_platform_from_machine(struct lzs_oci_platform *out, const char *machine,
                                  lzs_error **err)
{
    static const struct {
        const char *machine, *arch, *variant;
    } map[] = {
        {"x86_64", "amd64", ""},    {"amd64", "amd64", ""},
        {"aarch64", "arm64", "v8"}, {"arm64", "arm64", "v8"},
        {"armv8l", "arm", "v8"},    {"armv7l", "arm", "v7"},
        {"armv7", "arm", "v7"},     {"armv6l", "arm", "v6"},
        {"armv5tel", "arm", "v5"},  {"armv5l", "arm", "v5"},
        {"i386", "386", ""},        {"i486", "386", ""},
        {"i586", "386", ""},        {"i686", "386", ""},
        {"ppc64le", "ppc64le", ""}, {"ppc64", "ppc64", ""},
        {"s390x", "s390x", ""},     {"riscv64", "riscv64", ""},
        {"mips64", "mips64", ""},   {"loongarch64", "loong64", ""},
    };
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < LZS_ARRAY_SIZE(map); i++) {
        if (strcmp(machine, map[i].machine) == 0) {
            set(out->os, "linux");
            set(out->architecture, map[i].arch);
            set(out->variant, map[i].variant);
            return 0;
        }
    }
    return lzs_error_set(err, ENOTSUP, "unsupported machine '%.64s'", machine);
}

int lzs_oci_platform_host(struct lzs_oci_platform *out, lzs_error **err)
{
    struct utsname u;
    if (uname(&u) < 0)
        return lzs_error_set_sys(err, errno, "uname");
    return lzs_oci_platform_from_machine(out, u.machine, err);
}

const char *lzs_oci_platform_format(const struct lzs_oci_platform *p,
                                    char buf[LZS_OCI_PLATFORM_STR_MAX])
{
    snprintf(buf, LZS_OCI_PLATFORM_STR_MAX, "%.63s/%.63s%s%.63s", p->os, p->architecture,
             p->variant[0] ? "/" : "", p->variant);
    return buf;
}
